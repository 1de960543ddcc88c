/* main.c - solipass-projection: builds the PostgreSQL read models from the
 * accounts and ledger event topics (services/projection/projection.c), or
 * with --checksum prints their checksum, or with --replay [--tables a,b]
 * rebuilds them into shadow tables and swaps them in
 * (projection_replay.c). Its settings and modes; the start and stop are
 * sp_service's. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "projection.h"
#include "projection_replay.h"
#include "sp_service.h"

/* What the command line asks for. */
typedef struct modes {
    bool rebuild, checksum, exit_when_caught_up, replay;
    const char *tables; /* NULL: every read model */
    bool tables_bad;    /* --tables without a value */
} modes;

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

/* The modes exclude each other; --tables goes with --replay only. A
 * checksum is printed and the process exits: it serves no metrics. */
static int check_modes(void *ctx, sp_service *svc, sp_error *err) {
    const modes *m = ctx;
    bool running = m->rebuild || m->exit_when_caught_up;
    if (m->checksum && (running || m->replay))
        return sp_error_set(err, 500, "invalid_config", "", "--checksum goes alone");
    if (m->replay && running)
        return sp_error_set(err, 500, "invalid_config", "", "--replay goes alone (with --tables)");
    if (m->tables_bad || (m->tables != NULL && !m->replay))
        return sp_error_set(err, 500, "invalid_config", "--tables",
                            "--tables takes a comma-separated list of read models, with --replay");
    if (m->checksum) svc->metrics_config.port = 0;
    return 0;
}

static int start(sp_service *svc, const char **brokers, const char **pg_dsn,
                 const char **migrations_dir, int64_t *chunk_events, modes *m, int argc,
                 char **argv) {
    m->tables_bad = take_tables_option(&argc, argv, &m->tables) != 0;
    const sp_config_item items[] = {
        {"SP_KAFKA_BROKERS", SP_CONFIG_STRING, NULL, 0, 0,
         "Kafka bootstrap servers (host:port,...)", brokers},
        {"SP_PG_DSN", SP_CONFIG_STRING, NULL, 0, 0,
         "PostgreSQL connection string of the read models", pg_dsn},
        {"SP_MIGRATIONS_DIR", SP_CONFIG_STRING, NULL, 0, 0,
         "directory of the NNNN_name.sql read-model migrations", migrations_dir},
        {"SP_LOG_LEVEL", SP_CONFIG_STRING, "info", 0, 0, "debug | info | warn | error",
         &svc->log_level},
        {"SP_CLOCK_OFFSET_FILE", SP_CONFIG_STRING, "", 0, 0,
         "file holding a clock offset in ms (tests); empty: system time", &svc->clock_offset_file},
        {"SP_REPLAY_CHUNK_EVENTS", SP_CONFIG_INT, "100000", SP_REPLAY_CHUNK_EVENTS_MIN,
         SP_REPLAY_CHUNK_EVENTS_MAX,
         "--replay: events folded in memory and written at once "
         "(about 2.5 KiB each); a longer log is written in chunks of this size",
         chunk_events},
        SP_METRICS_HTTP_CONFIG_ITEMS(&svc->metrics_config),
        SP_KAFKA_SECURITY_CONFIG_ITEMS(&svc->kafka_security),
    };
    const sp_config_flag flags[] = {
        {"--rebuild",
         "empty every read model and the stored offsets in one transaction, then "
         "replay the log from offset zero and keep running",
         &m->rebuild},
        {"--checksum",
         "print \"table=<md5 of its rows in primary-key order>\" for every read "
         "model, then \"all=<md5>\", and exit",
         &m->checksum},
        {"--exit-when-caught-up", "exit 0 once the log's ends seen at start are applied",
         &m->exit_when_caught_up},
        {"--replay",
         "rebuild the read models from offset zero into shadow tables while the "
         "live projection runs, print each table's checksum beside the live one's, "
         "swap them in and exit (--tables a,b: only those read models, and the "
         "ones that reference them)",
         &m->replay},
    };
    const sp_service_spec spec = {
        .name = "projection",
        .program = "solipass-projection",
        .summary = "Builds the PostgreSQL read models from the solipass event log.",
        .items = items,
        .item_count = sizeof items / sizeof items[0],
        .flags = flags,
        .flag_count = sizeof flags / sizeof flags[0],
        .check = check_modes,
        .check_ctx = m,
        .refused_exit_code = 2};
    return sp_service_start(svc, &spec, argc, argv);
}

int main(int argc, char **argv) {
    sp_service svc;
    const char *brokers = NULL, *pg_dsn = NULL, *migrations_dir = NULL;
    int64_t chunk_events = SP_REPLAY_CHUNK_EVENTS_DEFAULT;
    modes m = {0};
    if (start(&svc, &brokers, &pg_dsn, &migrations_dir, &chunk_events, &m, argc, argv) != 0)
        return svc.exit_code;
    sp_projection_options options = {.brokers = brokers,
                                     .pg_dsn = pg_dsn,
                                     .migrations_dir = migrations_dir,
                                     .rebuild = m.rebuild,
                                     .exit_when_caught_up = m.exit_when_caught_up};
    sp_replay_options replay_options = {.brokers = brokers,
                                        .pg_dsn = pg_dsn,
                                        .migrations_dir = migrations_dir,
                                        .tables = m.tables ? m.tables : "",
                                        .chunk_events = (size_t)chunk_events};
    sp_error *err = &svc.err;
    int rc = m.checksum ? sp_projection_checksum(pg_dsn, stdout, &svc.log, err)
             : m.replay ? sp_projection_replay(&replay_options, &svc.clock, &svc.log, svc.stop,
                                               stdout, err)
                        : sp_projection_run(&options, &svc.clock, &svc.log, svc.stop, err);
    if (rc != 0)
        sp_log_error(&svc.log, m.replay ? "replay failed" : "projection stopped", "code", err->code,
                     "error", err->message, NULL);
    else if (!m.checksum && !m.replay) sp_log_info(&svc.log, "stopped", NULL);
    sp_service_close(&svc);
    /* A replay refused before changing anything (bad --tables, truncated log) exits 2. */
    if (rc != 0 && m.replay &&
        (strcmp(err->code, "unknown_table") == 0 || strcmp(err->code, "log_truncated") == 0))
        return 2;
    return rc == 0 ? 0 : 1;
}
