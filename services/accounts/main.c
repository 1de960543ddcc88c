/* main.c - solipass-accounts: its settings; the start and stop are
 * sp_service's, everything else is in service.c. */
#include "sp_service.h"

#include "accounts_state.h"
#include "service.h"

int main(int argc, char **argv) {
    sp_service svc;
    sp_accounts_config config = {0};
    const sp_config_item items[] = {
        {"SP_KAFKA_BROKERS", SP_CONFIG_STRING, NULL, 0, 0,
         "Kafka bootstrap servers, host:port[,host:port...]", &config.brokers},
        SP_SERVICE_CONFIG_ITEMS(&svc),
        {"SP_BOOTSTRAP_EMAIL", SP_CONFIG_STRING, "", 0, 0,
         "e-mail of the back-office account created at start when no user has it (with "
         "SP_BOOTSTRAP_PASSWORD); an existing account is never changed",
         &config.bootstrap_email},
        {"SP_BOOTSTRAP_PASSWORD", SP_CONFIG_STRING, "", 0, 0,
         "password of that account (hashed with Argon2id before it is stored): at least 12 "
         "bytes, no placeholder (change-me...), else the service does not start",
         &config.bootstrap_password},
        {"SP_BOOTSTRAP_FULL_NAME", SP_CONFIG_STRING, "Administrateur", 0, 0,
         "full name of that account, shown beside its role (Back-office) in the console",
         &config.bootstrap_full_name},
        {"SP_USERS_MAX", SP_CONFIG_INT, "1000000", 1, 100000000,
         "most users (and partners) held in memory; stored command outcomes are bounded at 16 "
         "times that, sessions at SP_SESSIONS_PER_USER_MAX times that",
         &config.users_max},
        {"SP_SESSIONS_PER_USER_MAX", SP_CONFIG_INT, "8", 1, SP_ACCOUNTS_SESSIONS_PER_USER_LIMIT,
         "live sessions a user may hold at once; a login beyond it ends the user's oldest "
         "session (ended and expired sessions are freed)",
         &config.sessions_per_user_max},
        {"SP_OUTCOME_TTL_S", SP_CONFIG_INT, "86400", 60, 31 * 24 * 3600,
         "how long, in seconds, the outcome of an accounts command answers its Idempotency-Key "
         "again (then it is freed)",
         &config.outcome_ttl_s},
        {"SP_ACTIVATION_TTL_S", SP_CONFIG_INT, "259200", 60, 31 * 24 * 3600,
         "life of an account activation or password reset link, in seconds (single use)",
         &config.activation_ttl_s},
        {"SP_SNAPSHOT_DIR", SP_CONFIG_STRING, "", 0, 0,
         "folder of the accounts state's snapshot (one file, accounts-0.snap, written every "
         "SP_SNAPSHOT_EVERY_EVENTS events and at a clean stop, read at start and at each "
         "assignment so that only the events after it are replayed). Empty: every start "
         "replays the whole log",
         &config.snapshot_dir},
        {"SP_SNAPSHOT_EVERY_EVENTS", SP_CONFIG_INT, "10000", 1, 1000000000,
         "accounts events applied between two snapshots", &config.snapshot_every_events},
    };
    const sp_service_spec spec = {
        .name = SP_ACCOUNTS_SERVICE_NAME,
        .program = "solipass-accounts",
        .summary = "The accounts service: single writer of users, partners and sessions.",
        .items = items,
        .item_count = sizeof items / sizeof items[0]};
    if (sp_service_start(&svc, &spec, argc, argv) != 0) return svc.exit_code;
    int rc = sp_accounts_service_run(&config, &svc.log, &svc.clock, svc.stop, &svc.err);
    return sp_service_finish(&svc, rc);
}
