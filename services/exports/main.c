/* main.c - solipass-exports: its settings; the start and stop are
 * sp_service's, everything else is in service.c and build.c. */
#include <string.h>

#include "sp_service.h"

#include "build.h"
#include "service.h"

#define RETENTION_S_MAX (366 * 24 * 3600)

static int check(void *ctx, sp_service *svc, sp_error *err) {
    (void)svc;
    const sp_exports_config *c = ctx;
    size_t len = strlen(c->dir);
    /* room for "/<uuid>.csv.tmp" */
    if (len == 0 || c->dir[0] != '/' || len + SP_ID_LEN + 10 >= SP_EXPORT_PATH_MAX)
        return sp_error_set(err, 500, "invalid_config", "SP_EXPORTS_DIR",
                            "SP_EXPORTS_DIR must be an absolute path");
    return 0;
}

static int start(sp_service *svc, sp_exports_config *c, int argc, char **argv) {
    const sp_config_item items[] = {
        {"SP_KAFKA_BROKERS", SP_CONFIG_STRING, NULL, 0, 0,
         "Kafka bootstrap servers, host:port[,host:port...]", &c->brokers},
        SP_SERVICE_CONFIG_ITEMS(svc),
        {"SP_PG_DSN", SP_CONFIG_STRING, NULL, 0, 0,
         "PostgreSQL connection string (the read models and the exports table)", &c->pg_dsn},
        {"SP_MIGRATIONS_DIR", SP_CONFIG_STRING, NULL, 0, 0,
         "folder of the numbered SQL migrations (applied at start when missing)",
         &c->migrations_dir},
        {"SP_EXPORTS_DIR", SP_CONFIG_STRING, NULL, 0, 0,
         "folder of the export files (the gateway serves them from the same folder)", &c->dir},
        {"SP_EXPORTS_RETENTION_S", SP_CONFIG_INT, "604800", 60, RETENTION_S_MAX,
         "how long an export is kept after it was asked for, then purged", &c->retention_s},
        {"SP_EXPORTS_PURGE_MS", SP_CONFIG_INT, "1000", 10, 3600000,
         "how often expired exports are looked for", &c->purge_ms},
        {"SP_EXPORTS_ROWS_MAX", SP_CONFIG_INT, "2000000", 1, 100000000,
         "largest export, in rows: a larger one fails and asks for narrower filters", &c->rows_max},
        {"SP_EXPORTS_BATCH_ROWS", SP_CONFIG_INT, "2000", 1, 100000,
         "rows read from the database at a time (commands are answered between batches)",
         &c->batch_rows},
        {"SP_EXPORTS_PER_PARTNER_MAX", SP_CONFIG_INT, "10", 1, 1000,
         "exports one partner may have pending or ready at once; one more is refused with "
         "429 too_many_exports until one is deleted or expires",
         &c->per_partner_max},
    };
    const sp_service_spec spec = {
        .name = SP_EXPORTS_SERVICE_NAME,
        .program = "solipass-exports",
        .summary = "The exports service: partners' CSV exports of their operations and "
                   "refund requests, built from the read models.",
        .items = items,
        .item_count = sizeof items / sizeof items[0],
        .check = check,
        .check_ctx = c};
    return sp_service_start(svc, &spec, argc, argv);
}

int main(int argc, char **argv) {
    sp_service svc;
    sp_exports_config config = {0};
    if (start(&svc, &config, argc, argv) != 0) return svc.exit_code;
    int rc = sp_exports_service_run(&config, &svc.log, &svc.clock, svc.stop, &svc.err);
    return sp_service_finish(&svc, rc);
}
