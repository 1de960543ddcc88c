/* service.h - the finance service at its edges (D4).
 *
 * A consumer group (solipass-finance) reads solipass.ledger.events.v1; each
 * event finance staff see (finance_map.h) is published twice, keyed by its
 * partner id: as a solipass.finance.FinanceEvent in an envelope of type
 * "finance.FinanceEvent.v1" on solipass.finance.v1, and as its JSON
 * rendering on solipass.finance.json.v1. The batch's offsets are committed
 * only once both copies of every event of the batch are flushed (durable on
 * the broker): a crash in between publishes them again, never loses one.
 * Delivery is therefore at least once; readers dedupe by event_id (the
 * ledger event's envelope id, the same on every copy).
 *
 * On each partition assignment the service first reads the assigned ledger
 * partitions from their start to remember every refund request's opening
 * (kind, period, bank_account_missing): a confirmation carries none of it.
 *
 * Memory: the config strings are borrowed for the whole run; the service
 * owns its handles and buffers and frees them on return. */
#ifndef SP_FINANCE_SERVICE_H
#define SP_FINANCE_SERVICE_H

#include <signal.h>
#include <stdint.h>
#include "sp_clock.h"
#include "sp_error.h"
#include "sp_log.h"

#define SP_FINANCE_SERVICE_NAME "finance"
#define SP_FINANCE_GROUP_ID "solipass-finance"

typedef struct sp_finance_config {
    const char *brokers;
    int64_t requests_max;      /* refund requests remembered (SP_FINANCE_REQUESTS_MAX) */
    int64_t publish_tries_max; /* flush attempts of one batch before giving up */
} sp_finance_config;

/* Runs until *stop becomes non-zero (0) or a fatal error (-1, err). */
int sp_finance_service_run(const sp_finance_config *config, sp_log *log, sp_clock *clock,
                           volatile sig_atomic_t *stop, sp_error *err);

#endif
