/* main.c - solipass-accounts: configuration, logging, clock and signals;
 * everything else is in service.c. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "sp_clock.h"
#include "sp_config.h"
#include "sp_error.h"
#include "sp_log.h"
#include "sp_metrics_http.h"
#include "sp_signal.h"

#include "accounts_state.h"
#include "service.h"

static volatile sig_atomic_t stop_requested = 0;

static void on_stop_signal(int signal_number) {
    (void)signal_number;
    stop_requested = 1;
}

int main(int argc, char **argv) {
    const char *log_level = NULL, *clock_offset_file = NULL;
    sp_metrics_http_config metrics_config = {0};
    sp_accounts_config config = {0};
    const sp_config_item items[] = {
        {"SP_KAFKA_BROKERS", SP_CONFIG_STRING, NULL, 0, 0,
         "Kafka bootstrap servers, host:port[,host:port...]", &config.brokers},
        {"SP_LOG_LEVEL", SP_CONFIG_STRING, "info", 0, 0, "debug, info, warn or error", &log_level},
        SP_METRICS_HTTP_CONFIG_ITEMS(&metrics_config),
        {"SP_CLOCK_OFFSET_FILE", SP_CONFIG_STRING, "", 0, 0,
         "file holding a clock offset in milliseconds (tests); empty: system time",
         &clock_offset_file},
        {"SP_BOOTSTRAP_EMAIL", SP_CONFIG_STRING, "", 0, 0,
         "e-mail of the back-office account created at start when no user has it (with "
         "SP_BOOTSTRAP_PASSWORD); an existing account is never changed",
         &config.bootstrap_email},
        {"SP_BOOTSTRAP_PASSWORD", SP_CONFIG_STRING, "", 0, 0,
         "password of that account (hashed with Argon2id before it is stored)",
         &config.bootstrap_password},
        {"SP_BOOTSTRAP_FULL_NAME", SP_CONFIG_STRING, "Back-office", 0, 0,
         "full name of that account", &config.bootstrap_full_name},
        {"SP_USERS_MAX", SP_CONFIG_INT, "1000000", 1, 100000000,
         "most users (and partners) held in memory; stored command outcomes are bounded at 16 "
         "times that, sessions at SP_SESSIONS_PER_USER_MAX times that", &config.users_max},
        {"SP_SESSIONS_PER_USER_MAX", SP_CONFIG_INT, "8", 1, SP_ACCOUNTS_SESSIONS_PER_USER_LIMIT,
         "live sessions a user may hold at once; a login beyond it ends the user's oldest "
         "session (ended and expired sessions are freed)", &config.sessions_per_user_max},
        {"SP_OUTCOME_TTL_S", SP_CONFIG_INT, "86400", 60, 31 * 24 * 3600,
         "how long, in seconds, the outcome of an accounts command answers its Idempotency-Key "
         "again (then it is freed)", &config.outcome_ttl_s},
        {"SP_ACTIVATION_TTL_S", SP_CONFIG_INT, "259200", 60, 31 * 24 * 3600,
         "life of an account activation or password reset link, in seconds (single use)",
         &config.activation_ttl_s},
    };
    sp_log log;
    sp_log_init(&log, SP_ACCOUNTS_SERVICE_NAME, SP_LOG_INFO, stderr);
    sp_error err;
    sp_error_clear(&err);
    int exit_code = 1;
    sp_config_result loaded = sp_config_load(
        items, sizeof items / sizeof items[0], argc, argv, "solipass-accounts",
        "The accounts service: single writer of users, partners and sessions.", &err);
    if (loaded == SP_CONFIG_HELP_SHOWN) {
        exit_code = 0;
        goto done;
    }
    if (loaded != SP_CONFIG_OK) {
        sp_log_error(&log, "invalid configuration", "field", err.field, "detail", err.message, NULL);
        goto done;
    }
    int level = sp_log_level_parse(log_level);
    if (level < 0) {
        sp_log_error(&log, "invalid configuration", "field", "SP_LOG_LEVEL", "detail",
                     "SP_LOG_LEVEL must be debug, info, warn or error", NULL);
        goto done;
    }
    log.level_min = (sp_log_level)level;
    if (sodium_init() < 0 || sp_signal_install_stop(on_stop_signal) != 0) {
        sp_log_error(&log, "cannot initialise libsodium or signal handlers", NULL);
        goto done;
    }
    sp_metrics_http *metrics = NULL;
    if (sp_metrics_http_start(&metrics_config, &log, &metrics, &err) != 0) {
        sp_log_error(&log, "invalid configuration", "field", err.field, "detail", err.message, NULL);
        goto done;
    }
    sp_clock clock;
    sp_clock_init(&clock, clock_offset_file);
    int rc = sp_accounts_service_run(&config, &log, &clock, &stop_requested, &err);
    sp_clock_destroy(&clock);
    sp_metrics_http_stop(metrics, &log);
    if (rc != 0) {
        sp_log_error(&log, "fatal", "code", err.code, "detail", err.message, NULL);
        goto done;
    }
    sp_log_info(&log, "stopped", NULL);
    exit_code = 0;
done:
    sp_log_destroy(&log);
    return exit_code;
}
