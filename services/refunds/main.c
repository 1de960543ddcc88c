/* main.c - solipass-refunds: its settings and its one option (the monthly
 * run of a period, now); the start and stop are sp_service's, everything
 * else is in service.c. */
#include <string.h>

#include "sp_service.h"

#include "service.h"

#define RUN_NOW_OPTION "--monthly-run-now"
#define EXIT_REFUSED 2

/* --monthly-run-now YYYY-MM (or =YYYY-MM), taken out of argv before the
 * settings are read (sp_config knows switches only). *text stays NULL
 * without it; -1 when it lacks its value. */
static int take_run_now_option(int *argc, char **argv, const char **text) {
    int kept = 1, rc = 0;
    size_t len = strlen(RUN_NOW_OPTION);
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], RUN_NOW_OPTION) == 0) {
            if (i + 1 < *argc) *text = argv[++i];
            else rc = -1;
        } else if (strncmp(argv[i], RUN_NOW_OPTION "=", len + 1) == 0) {
            *text = argv[i] + len + 1;
        } else {
            argv[kept++] = argv[i];
        }
    }
    *argc = kept;
    return rc;
}

typedef struct run_now_option {
    const char *text;
    bool missing_value;
    sp_refund_period period;
} run_now_option;

/* A one-off run serves no metrics: the service beside it holds the port. */
static int check_run_now(void *ctx, sp_service *svc, sp_error *err) {
    run_now_option *option = ctx;
    if (option->missing_value) option->text = "";
    if (option->text == NULL) return 0;
    if (sp_refunds_period_parse(option->text, RUN_NOW_OPTION, &option->period, err) != 0) return -1;
    svc->metrics_config.port = 0;
    return 0;
}

static int start(sp_service *svc, sp_refunds_config *c, run_now_option *option, int argc,
                 char **argv) {
    option->missing_value = take_run_now_option(&argc, argv, &option->text) != 0;
    const sp_config_item items[] = {
        {"SP_KAFKA_BROKERS", SP_CONFIG_STRING, NULL, 0, 0,
         "Kafka bootstrap servers, host:port[,host:port...]", &c->brokers},
        SP_SERVICE_CONFIG_ITEMS(svc),
        {"SP_PG_DSN", SP_CONFIG_STRING, NULL, 0, 0,
         "PostgreSQL connection string (the read models, read only)", &c->pg_dsn},
        {"SP_REFUNDS_POLL_MS", SP_CONFIG_INT, "100", 10, 60000,
         "how often the read models are looked at for the next step of each request", &c->poll_ms},
        {"SP_REFUNDS_RESEND_MS", SP_CONFIG_INT, "5000", 100, 3600000,
         "a step the read model does not show done after this long is sent again", &c->resend_ms},
        {"SP_REFUNDS_MONTHLY_RUN", SP_CONFIG_BOOL, "true", 0, 0,
         "open the automatic requests of each month (false: refunds on request only)",
         &c->monthly_run},
    };
    const sp_service_spec spec = {
        .name = SP_REFUNDS_SERVICE_NAME,
        .program = "solipass-refunds",
        .summary = "The refunds service: drives each refund request across its passes "
                   "(reserve, confirm or abort, release, settle) and opens the monthly "
                   "automatic requests (the 30th, or a shorter month's last day, 00:00 "
                   "Europe/Paris). With --monthly-run-now YYYY-MM: makes that period's "
                   "monthly run once (the same requests as the automatic one: safe to "
                   "repeat), drives them until none is opening, prints one line and exits 0; "
                   "exit 2 for a bad or future period, 1 on failure.",
        .items = items,
        .item_count = sizeof items / sizeof items[0],
        .check = check_run_now,
        .check_ctx = option,
        .refused_exit_code = option->text != NULL || option->missing_value ? EXIT_REFUSED : 0};
    return sp_service_start(svc, &spec, argc, argv);
}

int main(int argc, char **argv) {
    sp_service svc;
    sp_refunds_config config = {0};
    run_now_option option = {0};
    if (start(&svc, &config, &option, argc, argv) != 0) return svc.exit_code;
    if (option.text == NULL) {
        int rc = sp_refunds_service_run(&config, &svc.log, &svc.clock, svc.stop, &svc.err);
        return sp_service_finish(&svc, rc);
    }
    config.run_now = &option.period;
    int rc = sp_refunds_run_now(&config, &svc.log, &svc.clock, svc.stop, &svc.err);
    if (rc != 0 && strcmp(svc.err.code, "period_not_due") == 0) {
        sp_log_error(&svc.log, "cannot start", "code", svc.err.code, "field", svc.err.field,
                     "detail", svc.err.message, NULL);
        sp_service_close(&svc);
        return EXIT_REFUSED;
    }
    return sp_service_finish(&svc, rc);
}
