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
#include "refunds.h"

#define SP_REFUNDS_SERVICE_NAME "refunds"

typedef struct sp_refunds_config {
    const char *brokers;
    const char *pg_dsn;
    int64_t poll_ms;   /* SP_REFUNDS_POLL_MS */
    int64_t resend_ms; /* SP_REFUNDS_RESEND_MS */
    bool monthly_run;  /* SP_REFUNDS_MONTHLY_RUN */
    /* --monthly-run-now YYYY-MM: NULL for the service; else the period whose
     * run is made once, then the process exits (sp_refunds_run_now). */
    const sp_refund_period *run_now;
} sp_refunds_config;

#define SP_REFUNDS_RUN_NOW_TIMEOUT_MS 300000 /* the whole --monthly-run-now */

/* Runs until *stop becomes non-zero (0) or a fatal error (-1, err). */
int sp_refunds_service_run(const sp_refunds_config *config, sp_log *log, sp_clock *clock,
                           volatile sig_atomic_t *stop, sp_error *err);

/* The monthly run of config->run_now, once, for recovery after an outage: the
 * same decisions as the automatic run of that period (the same request ids,
 * derived from partner and period, and command ids), so running it twice, or
 * beside the service, or before the service's own run, opens each request
 * once. Drives the requests it opened until none is opening (as the service
 * would), then prints one line on stdout and returns 0; -1 with err on
 * failure or after SP_REFUNDS_RUN_NOW_TIMEOUT_MS. The period's run instant
 * must be past (err code period_not_due). */
int sp_refunds_run_now(const sp_refunds_config *config, sp_log *log, sp_clock *clock,
                       volatile sig_atomic_t *stop, sp_error *err);

#endif
