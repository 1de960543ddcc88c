/* main.c - solipass-refunds: configuration, logging, clock and signals;
 * everything else is in service.c. */
#include <signal.h>
#include <string.h>

#include <sodium.h>

#include "sp_clock.h"
#include "sp_config.h"
#include "sp_error.h"
#include "sp_log.h"
#include "sp_metrics_http.h"
#include "sp_signal.h"

#include "service.h"

static volatile sig_atomic_t stop_requested = 0;

static void on_stop_signal(int signal_number) {
    (void)signal_number;
    stop_requested = 1;
}

static sp_config_result load(sp_refunds_config *c, const char **log_level, const char **clock_file,
                             sp_metrics_http_config *metrics, int argc, char **argv,
                             sp_error *err) {
    const sp_config_item items[] = {
        {"SP_KAFKA_BROKERS", SP_CONFIG_STRING, NULL, 0, 0,
         "Kafka bootstrap servers, host:port[,host:port...]", &c->brokers},
        {"SP_LOG_LEVEL", SP_CONFIG_STRING, "info", 0, 0, "debug, info, warn or error", log_level},
        SP_METRICS_HTTP_CONFIG_ITEMS(metrics),
        {"SP_CLOCK_OFFSET_FILE", SP_CONFIG_STRING, "", 0, 0,
         "file holding a clock offset in milliseconds (tests); empty: system time", clock_file},
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
    return sp_config_load(items, sizeof items / sizeof items[0], argc, argv, "solipass-refunds",
                          "The refunds service: drives each refund request across its passes "
                          "(reserve, confirm or abort, release, settle) and opens the monthly "
                          "automatic requests (the 30th, or a shorter month's last day, 00:00 "
                          "Europe/Paris).",
                          err);
}

int main(int argc, char **argv) {
    const char *log_level = NULL, *clock_file = NULL;
    sp_refunds_config config;
    memset(&config, 0, sizeof config);
    sp_log log;
    sp_log_init(&log, SP_REFUNDS_SERVICE_NAME, SP_LOG_INFO, stderr);
    sp_error err;
    sp_error_clear(&err);
    int exit_code = 1;
    sp_metrics_http_config metrics_config = {0};
    sp_config_result loaded = load(&config, &log_level, &clock_file, &metrics_config, argc, argv,
                                   &err);
    if (loaded == SP_CONFIG_HELP_SHOWN) {
        exit_code = 0;
        goto done;
    }
    if (loaded == SP_CONFIG_OK && sp_log_level_parse(log_level) < 0)
        sp_error_set(&err, 500, "invalid_config", "SP_LOG_LEVEL",
                     "SP_LOG_LEVEL must be debug, info, warn or error");
    if (loaded != SP_CONFIG_OK || err.code[0] != '\0') {
        sp_log_error(&log, "invalid configuration", "field", err.field, "detail", err.message, NULL);
        goto done;
    }
    log.level_min = (sp_log_level)sp_log_level_parse(log_level);
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
    sp_clock_init(&clock, clock_file);
    int rc = sp_refunds_service_run(&config, &log, &clock, &stop_requested, &err);
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
