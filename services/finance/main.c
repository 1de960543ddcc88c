/* main.c - solipass-finance: its settings; the start and stop are
 * sp_service's, everything else is in service.c. */
#include "sp_service.h"

#include "service.h"

static int start(sp_service *svc, sp_finance_config *c, int argc, char **argv) {
    const sp_config_item items[] = {
        {"SP_KAFKA_BROKERS", SP_CONFIG_STRING, NULL, 0, 0,
         "Kafka bootstrap servers, host:port[,host:port...]", &c->brokers},
        SP_SERVICE_CONFIG_ITEMS(svc),
        {"SP_FINANCE_REQUESTS_MAX", SP_CONFIG_INT, "1000000", 1, 100000000,
         "refund requests whose opening (kind, period, bank details missing) is remembered",
         &c->requests_max},
        {"SP_FINANCE_PUBLISH_TRIES_MAX", SP_CONFIG_INT, "60", 1, 100000,
         "attempts to publish one batch (one a second) before the service gives up",
         &c->publish_tries_max},
    };
    const sp_service_spec spec = {
        .name = SP_FINANCE_SERVICE_NAME,
        .program = "solipass-finance",
        .summary = "The finance service: publishes the ledger events finance staff "
                   "need (payments, cancellations, refund requests pending, cancelled, "
                   "paid) to solipass.finance.v1 (protobuf) and solipass.finance.json.v1 "
                   "(JSON), keyed by partner id.",
        .items = items,
        .item_count = sizeof items / sizeof items[0]};
    return sp_service_start(svc, &spec, argc, argv);
}

int main(int argc, char **argv) {
    sp_service svc;
    sp_finance_config config = {0};
    if (start(&svc, &config, argc, argv) != 0) return svc.exit_code;
    int rc = sp_finance_service_run(&config, &svc.log, &svc.clock, svc.stop, &svc.err);
    return sp_service_finish(&svc, rc);
}
