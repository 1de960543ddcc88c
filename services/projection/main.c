/* main.c - solipass-projection: builds the PostgreSQL read models from the
 * accounts and ledger event topics (services/projection/projection.c), or
 * with --checksum prints their checksum. Wiring only. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>
#include "projection.h"
#include "sp_clock.h"
#include "sp_config.h"
#include "sp_error.h"
#include "sp_log.h"
#include "sp_metrics_http.h"

static volatile sig_atomic_t stop_requested = 0;

static void on_stop_signal(int signo) {
    (void)signo;
    stop_requested = 1;
}

static int install_signal_handlers(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGINT, &action, NULL) != 0 || sigaction(SIGTERM, &action, NULL) != 0) return -1;
    return 0;
}

int main(int argc, char **argv) {
    const char *brokers = NULL, *pg_dsn = NULL, *migrations_dir = NULL, *log_level = NULL;
    const char *clock_offset_file = NULL;
    bool rebuild = false, checksum = false, exit_when_caught_up = false;
    sp_metrics_http_config metrics_config = {0};
    const sp_config_item items[] = {
        {"SP_KAFKA_BROKERS", SP_CONFIG_STRING, NULL, 0, 0, "Kafka bootstrap servers (host:port,...)",
         &brokers},
        {"SP_PG_DSN", SP_CONFIG_STRING, NULL, 0, 0, "PostgreSQL connection string of the read models",
         &pg_dsn},
        {"SP_MIGRATIONS_DIR", SP_CONFIG_STRING, NULL, 0, 0,
         "directory of the NNNN_name.sql read-model migrations", &migrations_dir},
        {"SP_LOG_LEVEL", SP_CONFIG_STRING, "info", 0, 0, "debug | info | warn | error", &log_level},
        {"SP_CLOCK_OFFSET_FILE", SP_CONFIG_STRING, "", 0, 0,
         "file holding a clock offset in ms (tests); empty: system time", &clock_offset_file},
        SP_METRICS_HTTP_CONFIG_ITEMS(&metrics_config),
    };
    const sp_config_flag flags[] = {
        {"--rebuild", "empty every read model and the stored offsets in one transaction, then "
                      "replay the log from offset zero and keep running", &rebuild},
        {"--checksum", "print \"table=<md5 of its rows in primary-key order>\" for every read "
                       "model, then \"all=<md5>\", and exit", &checksum},
        {"--exit-when-caught-up", "exit 0 once the log's ends seen at start are applied",
         &exit_when_caught_up},
    };
    sp_log log;
    sp_error err;
    sp_error_clear(&err);
    sp_log_init(&log, "projection", SP_LOG_INFO, stderr);
    sp_config_result loaded = sp_config_load_with_flags(
        items, sizeof items / sizeof items[0], flags, sizeof flags / sizeof flags[0], argc, argv,
        "solipass-projection", "Builds the PostgreSQL read models from the solipass event log.",
        &err);
    if (loaded == SP_CONFIG_HELP_SHOWN) {
        sp_log_destroy(&log);
        return 0;
    }
    int level = sp_log_level_parse(log_level ? log_level : "");
    if (loaded == SP_CONFIG_OK && level < 0)
        sp_error_set(&err, 500, "invalid_config", "SP_LOG_LEVEL", "SP_LOG_LEVEL: unknown level");
    if (loaded == SP_CONFIG_OK && checksum && (rebuild || exit_when_caught_up))
        sp_error_set(&err, 500, "invalid_config", "", "--checksum goes alone");
    if (loaded != SP_CONFIG_OK || err.code[0] != '\0' || sodium_init() < 0 ||
        install_signal_handlers() != 0) {
        sp_log_error(&log, "cannot start", "code", err.code[0] ? err.code : "startup_failed",
                     "error", err.message, NULL);
        sp_log_destroy(&log);
        return 2;
    }
    sp_log_destroy(&log);
    sp_log_init(&log, "projection", (sp_log_level)level, stderr);
    sp_metrics_http *metrics = NULL;
    if (!checksum && sp_metrics_http_start(&metrics_config, &log, &metrics, &err) != 0) {
        sp_log_error(&log, "cannot start", "code", err.code, "error", err.message, NULL);
        sp_log_destroy(&log);
        return 2;
    }

    sp_clock clock;
    sp_clock_init(&clock, clock_offset_file[0] != '\0' ? clock_offset_file : NULL);
    sp_projection_options options = {.brokers = brokers, .pg_dsn = pg_dsn,
                                     .migrations_dir = migrations_dir, .rebuild = rebuild,
                                     .exit_when_caught_up = exit_when_caught_up};
    int rc = checksum ? sp_projection_checksum(pg_dsn, stdout, &log, &err)
                      : sp_projection_run(&options, &clock, &log, &stop_requested, &err);
    if (rc != 0) sp_log_error(&log, "projection stopped", "code", err.code, "error", err.message, NULL);
    else if (!checksum) sp_log_info(&log, "stopped", NULL);
    sp_clock_destroy(&clock);
    sp_metrics_http_stop(metrics, &log);
    sp_log_destroy(&log);
    return rc == 0 ? 0 : 1;
}
