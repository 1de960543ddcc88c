/* main.c - solipass-notifications: configuration, logging, clock, libcurl
 * and signals; everything else is in service.c. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <sodium.h>

#include "sp_clock.h"
#include "sp_config.h"
#include "sp_error.h"
#include "sp_link.h"
#include "sp_log.h"
#include "sp_metrics_http.h"
#include "sp_signal.h"

#include "service.h"

#define BASE_URL_MAX 512

static volatile sig_atomic_t stop_requested = 0;

static void on_stop_signal(int signal_number) {
    (void)signal_number;
    stop_requested = 1;
}

static sp_config_result load(sp_notify_config *c, const char **log_level, const char **clock_file,
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
         "PostgreSQL connection string (the read models and the e-mail outbox)", &c->pg_dsn},
        {"SP_MIGRATIONS_DIR", SP_CONFIG_STRING, NULL, 0, 0,
         "folder of the numbered SQL migrations (applied at start when missing)",
         &c->migrations_dir},
        {"SP_SMTP_URL", SP_CONFIG_STRING, NULL, 0, 0,
         "SMTP server: smtp://host:port or smtps://host:port", &c->smtp.url},
        {"SP_SMTP_TLS", SP_CONFIG_STRING, "starttls", 0, 0,
         "starttls (smtp://, STARTTLS required), tls (smtps://) or off (smtp:// in clear: "
         "a server on this machine only)", &c->smtp.tls},
        {"SP_SMTP_USER", SP_CONFIG_STRING, "", 0, 0, "SMTP user name; empty: no authentication",
         &c->smtp.user},
        {"SP_SMTP_PASSWORD", SP_CONFIG_STRING, "", 0, 0, "SMTP password", &c->smtp.password},
        {"SP_SMTP_FROM", SP_CONFIG_STRING, NULL, 0, 0,
         "sender address (MAIL FROM and From:), e.g. pass@ville.example", &c->smtp.from_address},
        {"SP_SMTP_FROM_NAME", SP_CONFIG_STRING, "Pass solidarité", 0, 0,
         "sender display name", &c->from_name},
        {"SP_SMTP_TIMEOUT_MS", SP_CONFIG_INT, "15000", 100, 300000,
         "longest SMTP exchange of one e-mail", &c->smtp.timeout_ms},
        {"SP_PUBLIC_BASE_URL", SP_CONFIG_STRING, NULL, 0, 0,
         "base of the links in e-mails (the partner space), e.g. https://pass.ville.example",
         &c->public_base_url},
        {"SP_LINK_SECRET", SP_CONFIG_STRING, NULL, 0, 0,
         "secret (32 to 1024 bytes) shared with the gateway that authenticates the links",
         &c->link_secret},
        {"SP_MAIL_RETRIES_MAX", SP_CONFIG_INT, "10", 1, 1000,
         "attempts of one e-mail before it goes to the dead-letter topic", &c->retries_max},
        {"SP_MAIL_RETRY_BASE_MS", SP_CONFIG_INT, "2000", 10, 3600000,
         "delay after a first failed attempt; doubled after each next one", &c->retry_base_ms},
        {"SP_MAIL_RETRY_MAX_MS", SP_CONFIG_INT, "600000", 10, 86400000,
         "longest delay between two attempts", &c->retry_max_ms},
        {"SP_MAIL_MAX_AGE_S", SP_CONFIG_INT, "172800", 60, 31 * 24 * 3600,
         "events older than this when read are not mailed (a first start on an old log)",
         &c->max_age_s},
    };
    return sp_config_load(items, sizeof items / sizeof items[0], argc, argv,
                          "solipass-notifications",
                          "The notifications service: e-mails (activation, password reset, "
                          "payment received) sent over SMTP from the event log.", err);
}

static int check(const sp_notify_config *c, const char *log_level, sp_error *err) {
    if (sp_log_level_parse(log_level) < 0)
        return sp_error_set(err, 500, "invalid_config", "SP_LOG_LEVEL",
                            "SP_LOG_LEVEL must be debug, info, warn or error");
    if (!sp_link_secret_valid(c->link_secret))
        return sp_error_set(err, 500, "invalid_config", "SP_LINK_SECRET",
                            "SP_LINK_SECRET must be %d to %d bytes", SP_LINK_SECRET_LEN_MIN,
                            SP_LINK_SECRET_LEN_MAX);
    size_t len = strlen(c->public_base_url);
    bool url_ok = (strncmp(c->public_base_url, "http://", 7) == 0 ||
                   strncmp(c->public_base_url, "https://", 8) == 0) &&
                  len < BASE_URL_MAX && c->public_base_url[len - 1] != '/' &&
                  strpbrk(c->public_base_url, " \"<>\r\n\t?#") == NULL;
    if (!url_ok)
        return sp_error_set(err, 500, "invalid_config", "SP_PUBLIC_BASE_URL",
                            "SP_PUBLIC_BASE_URL must be an http(s) URL without a final /, a query "
                            "or spaces");
    if (c->retry_max_ms < c->retry_base_ms)
        return sp_error_set(err, 500, "invalid_config", "SP_MAIL_RETRY_MAX_MS",
                            "SP_MAIL_RETRY_MAX_MS must be at least SP_MAIL_RETRY_BASE_MS");
    return 0;
}

int main(int argc, char **argv) {
    const char *log_level = NULL, *clock_file = NULL;
    sp_notify_config config;
    memset(&config, 0, sizeof config);
    sp_log log;
    sp_log_init(&log, SP_NOTIFY_SERVICE_NAME, SP_LOG_INFO, stderr);
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
    if (loaded != SP_CONFIG_OK || check(&config, log_level, &err) != 0) {
        sp_log_error(&log, "invalid configuration", "field", err.field, "detail", err.message, NULL);
        goto done;
    }
    log.level_min = (sp_log_level)sp_log_level_parse(log_level);
    if (sodium_init() < 0 || sp_signal_install_stop(on_stop_signal) != 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        sp_log_error(&log, "cannot initialise libsodium, libcurl or signal handlers", NULL);
        goto done;
    }
    sp_metrics_http *metrics = NULL;
    if (sp_metrics_http_start(&metrics_config, &log, &metrics, &err) != 0) {
        sp_log_error(&log, "invalid configuration", "field", err.field, "detail", err.message, NULL);
        curl_global_cleanup();
        goto done;
    }
    sp_clock clock;
    sp_clock_init(&clock, clock_file[0] != '\0' ? clock_file : NULL);
    int rc = sp_notify_service_run(&config, &log, &clock, &stop_requested, &err);
    sp_clock_destroy(&clock);
    sp_metrics_http_stop(metrics, &log);
    curl_global_cleanup();
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
