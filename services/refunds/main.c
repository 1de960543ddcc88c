/* main.c - solipass-refunds: its settings; the start and stop are
 * sp_service's, everything else is in service.c. */
#include "sp_service.h"

#include "service.h"

static int start(sp_service *svc, sp_refunds_config *c, int argc, char **argv) {
    const sp_config_item items[] = {
        {"SP_KAFKA_BROKERS", SP_CONFIG_STRING, NULL, 0, 0,
         "Kafka bootstrap servers, host:port[,host:port...]", &c->brokers},
        SP_SERVICE_CONFIG_ITEMS(svc),
        {"SP_PG_DSN", SP_CONFIG_STRING, NULL, 0, 0,
         "PostgreSQL connection string (the read models, read only)", &c->pg_dsn},
        {"SP_REFUNDS_POLL_MS", SP_CONFIG_INT, "100", 10, 60000,
         "how often the read models are looked at for the next step of each request",
         &c->poll_ms},
        {"SP_REFUNDS_RESEND_MS", SP_CONFIG_INT, "5000", 100, 3600000,
         "a step the read model does not show done after this long is sent again",
         &c->resend_ms},
        {"SP_REFUNDS_MONTHLY_RUN", SP_CONFIG_BOOL, "true", 0, 0,
         "open the automatic requests of each month (false: refunds on request only)",
         &c->monthly_run},
    };
    const sp_service_spec spec = {
        .name = SP_REFUNDS_SERVICE_NAME, .program = "solipass-refunds",
        .summary = "The refunds service: drives each refund request across its passes "
            "(reserve, confirm or abort, release, settle) and opens the monthly "
            "automatic requests (the 30th, or a shorter month's last day, 00:00 "
            "Europe/Paris).",
        .items = items, .item_count = sizeof items / sizeof items[0]};
    return sp_service_start(svc, &spec, argc, argv);
}

int main(int argc, char **argv) {
    sp_service svc;
    sp_refunds_config config = {0};
    if (start(&svc, &config, argc, argv) != 0) return svc.exit_code;
    int rc = sp_refunds_service_run(&config, &svc.log, &svc.clock, svc.stop, &svc.err);
    return sp_service_finish(&svc, rc);
}
