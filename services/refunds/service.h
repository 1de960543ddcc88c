/* service.h - the refunds service at its edges: PostgreSQL (the read
 * models, read only) and Kafka (commands to solipass.ledger.commands.v1).
 *
 * Every SP_REFUNDS_POLL_MS it reads what the refund requests need next and
 * sends it, keyed by the aggregate that decides it (see refunds.h); once a
 * second it also looks for the monthly run's due period and opens the
 * automatic requests that the read model does not show yet. It writes no
 * table and consumes no topic: a restart, a second instance or a lost
 * command only means a step sent again, which its command id makes
 * harmless.
 *
 * Memory: the config strings are borrowed for the whole run; the service
 * owns its connection, producer and buffers and frees them on return. */
#ifndef SP_REFUNDS_SERVICE_H
#define SP_REFUNDS_SERVICE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include "sp_clock.h"
#include "sp_error.h"
#include "sp_log.h"

#define SP_REFUNDS_SERVICE_NAME "refunds"

typedef struct sp_refunds_config {
    const char *brokers;
    const char *pg_dsn;
    int64_t poll_ms;          /* SP_REFUNDS_POLL_MS */
    int64_t resend_ms;        /* SP_REFUNDS_RESEND_MS */
    bool monthly_run;         /* SP_REFUNDS_MONTHLY_RUN */
} sp_refunds_config;

/* Runs until *stop becomes non-zero (0) or a fatal error (-1, err). */
int sp_refunds_service_run(const sp_refunds_config *config, sp_log *log, sp_clock *clock,
                           volatile sig_atomic_t *stop, sp_error *err);

#endif
