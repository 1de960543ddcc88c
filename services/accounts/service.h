/* service.h - the accounts service at its edges: rebuilds the state from
 * its snapshot (SP_SNAPSHOT_DIR, service_snapshot.c) and the events of
 * solipass.accounts.events.v1 after it - or from the whole topic when there
 * is none or it is refused -, creates the start-up back-office account,
 * then turns commands into events and replies (one writer, one partition).
 *
 * Memory: the config strings are borrowed for the whole run; the service
 * owns its state, Kafka handles and batch buffers and frees them on return. */
#ifndef SP_ACCOUNTS_SERVICE_H
#define SP_ACCOUNTS_SERVICE_H

#include <signal.h>
#include <stdint.h>

#include "sp_clock.h"
#include "sp_error.h"
#include "sp_log.h"

#define SP_ACCOUNTS_SERVICE_NAME "accounts"
#define SP_ACCOUNTS_GROUP_ID "solipass-accounts"
/* Bounds derived from SP_USERS_MAX (maps grow only as they fill); sessions:
 * SP_SESSIONS_PER_USER_MAX times it. */
#define SP_ACCOUNTS_RECORDS_PER_USER_MAX 16
#define SP_ACCOUNTS_BOOTSTRAP_PASSWORD_MAX 1024 /* bytes */

typedef struct sp_accounts_config {
    const char *brokers;
    const char *bootstrap_email; /* "" with the password "": no start-up account */
    const char *bootstrap_password;
    const char *bootstrap_full_name;
    int64_t users_max;
    int64_t activation_ttl_s;      /* life of an activation or reset link */
    int64_t sessions_per_user_max; /* live sessions per user; one more ends the oldest */
    int64_t outcome_ttl_s;         /* how long a command's outcome answers its key */
    const char *snapshot_dir;      /* folder of the state's snapshot; "" = none */
    int64_t snapshot_every_events; /* events applied between two snapshots */
} sp_accounts_config;

/* Runs until *stop becomes non-zero (returns 0 after a clean stop) or a
 * fatal error (returns -1 with err filled: nothing unflushed was answered or
 * committed, so a restart carries on safely). */
int sp_accounts_service_run(const sp_accounts_config *config, sp_log *log, sp_clock *clock,
                            volatile sig_atomic_t *stop, sp_error *err);

#endif
