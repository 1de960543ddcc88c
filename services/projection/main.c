/* main.c - solipass-projection: builds the PostgreSQL read models from the
 * accounts and ledger event topics (services/projection/projection.c), or
 * with --checksum prints their checksum, or with --replay [--tables a,b]
 * rebuilds them into shadow tables and swaps them in
 * (projection_replay.c). Wiring only. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>
#include "projection.h"
#include "projection_replay.h"
#include "sp_clock.h"
#include "sp_config.h"
#include "sp_error.h"
#include "sp_log.h"
#include "sp_metrics_http.h"
#include "sp_signal.h"

static volatile sig_atomic_t stop_requested = 0;

static void on_stop_signal(int signo) {
    (void)signo;
    stop_requested = 1;
}

/* --tables LIST / --tables=LIST is taken out of argv (sp_config knows only
 * switches); *tables stays NULL when absent. -1 when it has no value. */
static int take_tables_option(int *argc, char **argv, const char **tables) {
    int kept = 1, rc = 0;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--tables") == 0) {
            if (i + 1 < *argc) *tables = argv[++i];
            else rc = -1;
        } else if (strncmp(argv[i], "--tables=", 9) == 0) {
            *tables = argv[i] + 9;
        } else {
            argv[kept++] = argv[i];
        }
    }
    *argc = kept;
    return rc;
}

/* The modes exclude each other; --tables goes with --replay only. */
static void check_modes(bool checksum, bool replay, bool running, bool tables_misplaced,
                        sp_error *err) {
    if (checksum && (running || replay))
        sp_error_set(err, 500, "invalid_config", "", "--checksum goes alone");
    else if (replay && running)
        sp_error_set(err, 500, "invalid_config", "", "--replay goes alone (with --tables)");
    else if (tables_misplaced)
        sp_error_set(err, 500, "invalid_config", "--tables",
                     "--tables takes a comma-separated list of read models, with --replay");
}

int main(int argc, char **argv) {
    const char *brokers = NULL, *pg_dsn = NULL, *migrations_dir = NULL, *log_level = NULL;
    const char *clock_offset_file = NULL;
    bool rebuild = false, checksum = false, exit_when_caught_up = false, replay = false;
    sp_metrics_http_config metrics_config = {0};
    const char *tables = NULL;
    int tables_bad = take_tables_option(&argc, argv, &tables);
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
        {"--replay", "rebuild the read models from offset zero into shadow tables while the "
                     "live projection runs, print each table's checksum beside the live one's, "
                     "swap them in and exit (--tables a,b: only those read models, and the "
                     "ones that reference them)", &replay},
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
    if (loaded == SP_CONFIG_OK)
        check_modes(checksum, replay, rebuild || exit_when_caught_up,
                    tables_bad != 0 || (tables != NULL && !replay), &err);
    if (loaded != SP_CONFIG_OK || err.code[0] != '\0' || sodium_init() < 0 ||
        sp_signal_install_stop(on_stop_signal) != 0) {
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
    sp_replay_options replay_options = {.brokers = brokers, .pg_dsn = pg_dsn,
                                        .migrations_dir = migrations_dir,
                                        .tables = tables ? tables : ""};
    int rc = checksum ? sp_projection_checksum(pg_dsn, stdout, &log, &err)
             : replay ? sp_projection_replay(&replay_options, &clock, &log, &stop_requested,
                                             stdout, &err)
                      : sp_projection_run(&options, &clock, &log, &stop_requested, &err);
    if (rc != 0)
        sp_log_error(&log, replay ? "replay failed" : "projection stopped", "code", err.code,
                     "error", err.message, NULL);
    else if (!checksum && !replay) sp_log_info(&log, "stopped", NULL);
    sp_clock_destroy(&clock);
    sp_metrics_http_stop(metrics, &log);
    sp_log_destroy(&log);
    /* A replay refused before changing anything (bad --tables, truncated log) exits 2. */
    if (rc != 0 && replay && (strcmp(err.code, "unknown_table") == 0 ||
                              strcmp(err.code, "log_truncated") == 0))
        return 2;
    return rc == 0 ? 0 : 1;
}
