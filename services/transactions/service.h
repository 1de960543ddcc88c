/* service.h - the transactions service at its edges: the single writer of
 * each ledger partition it is assigned. It rebuilds a partition's state from
 * its snapshot (SP_SNAPSHOT_DIR, service_snapshot.c) and the events of
 * solipass.ledger.events.v1 after it, or from all of them, when the
 * partition is assigned, keeps the partner
 * directory from solipass.accounts.events.v1, turns commands into events
 * (flushed before any reply or commit), and sweeps expired envelopes.
 *
 * Memory: the config strings are borrowed for the whole run; the service
 * owns its states, directory, Kafka handles and batch buffers and frees them
 * on return. */
#ifndef SP_TRANSACTIONS_SERVICE_H
#define SP_TRANSACTIONS_SERVICE_H

#include <signal.h>
#include <stdint.h>

#include "sp_clock.h"
#include "sp_error.h"
#include "sp_log.h"

#define SP_TRANSACTIONS_SERVICE_NAME "transactions"
#define SP_TRANSACTIONS_GROUP_ID "solipass-transactions"

typedef struct sp_transactions_config {
    const char *brokers;
    int64_t passes_max;   /* per partition */
    int64_t commands_max; /* command outcomes kept, per partition */
    int64_t payment_cents_max;
    int64_t credit_cents_max;
    int64_t expiry_check_ms;
    int64_t vouchers_max; /* vouchers kept, per partition */
    int64_t voucher_validity_days;
    int64_t refund_requests_max;    /* refund requests (and refund accounts) kept, per partition */
    const char *receipt_secret_key; /* base64 Ed25519 secret key or seed; "" = no receipts */
    const char *snapshot_dir;       /* folder of the partitions' snapshots; "" = none */
    int64_t snapshot_every_events;  /* events applied to a partition between two snapshots */
} sp_transactions_config;

/* Runs until *stop becomes non-zero (returns 0 after a clean stop) or a
 * fatal error (returns -1 with err filled: nothing unflushed was answered or
 * committed, so a restart rebuilds from the log and carries on). */
int sp_transactions_service_run(const sp_transactions_config *config, sp_log *log, sp_clock *clock,
                                volatile sig_atomic_t *stop, sp_error *err);

#endif
