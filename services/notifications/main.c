/* main.c - solipass-notifications: its settings and libcurl; the start and
 * stop are sp_service's, everything else is in service.c. */
#include <stdbool.h>
#include <string.h>

#include <curl/curl.h>

#include "sp_link.h"
#include "sp_secret.h"
#include "sp_service.h"

#include "service.h"

#define BASE_URL_MAX 512

static int check(void *ctx, sp_service *svc, sp_error *err) {
    (void)svc;
    const sp_notify_config *c = ctx;
    if (sp_secret_check(c->link_secret, "SP_LINK_SECRET", SP_SECRET_KEY_LEN_MIN,
                        SP_SECRET_KEY_DISTINCT_MIN, err) != 0)
        return -1;
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
    if (c->retry_ms_max < c->retry_base_ms)
        return sp_error_set(err, 500, "invalid_config", "SP_MAIL_RETRY_MAX_MS",
                            "SP_MAIL_RETRY_MAX_MS must be at least SP_MAIL_RETRY_BASE_MS");
    return 0;
}

static int start(sp_service *svc, sp_notify_config *c, int argc, char **argv) {
    const sp_config_item items[] = {
        {"SP_KAFKA_BROKERS", SP_CONFIG_STRING, NULL, 0, 0,
         "Kafka bootstrap servers, host:port[,host:port...]", &c->brokers},
        SP_SERVICE_CONFIG_ITEMS(svc),
        {"SP_PG_DSN", SP_CONFIG_STRING, NULL, 0, 0,
         "PostgreSQL connection string (the read models and the e-mail outbox)", &c->pg_dsn},
        {"SP_MIGRATIONS_DIR", SP_CONFIG_STRING, NULL, 0, 0,
         "folder of the numbered SQL migrations (applied at start when missing)",
         &c->migrations_dir},
        {"SP_SMTP_URL", SP_CONFIG_STRING, NULL, 0, 0,
         "SMTP server: smtp://host:port or smtps://host:port", &c->smtp.url},
        {"SP_SMTP_TLS", SP_CONFIG_STRING, "starttls", 0, 0,
         "starttls (smtp://, STARTTLS required), tls (smtps://) or off (smtp:// in clear: "
         "a server on this machine only)",
         &c->smtp.tls},
        {"SP_SMTP_USER", SP_CONFIG_STRING, "", 0, 0, "SMTP user name; empty: no authentication",
         &c->smtp.user},
        {"SP_SMTP_PASSWORD", SP_CONFIG_STRING, "", 0, 0, "SMTP password", &c->smtp.password},
        {"SP_SMTP_FROM", SP_CONFIG_STRING, NULL, 0, 0,
         "sender address (MAIL FROM and From:), e.g. pass@ville.example", &c->smtp.from_address},
        {"SP_SMTP_FROM_NAME", SP_CONFIG_STRING, "Pass solidarité", 0, 0, "sender display name",
         &c->from_name},
        {"SP_SMTP_TIMEOUT_MS", SP_CONFIG_INT, "15000", 100, 300000,
         "longest SMTP exchange of one e-mail", &c->smtp.timeout_ms},
        {"SP_PUBLIC_BASE_URL", SP_CONFIG_STRING, NULL, 0, 0,
         "base of the links in e-mails (the partner space), e.g. https://pass.ville.example",
         &c->public_base_url},
        {"SP_LINK_SECRET", SP_CONFIG_STRING, NULL, 0, 0,
         "secret (32 to 1024 bytes, random: openssl rand -base64 48) shared with the gateway "
         "that authenticates the links; a placeholder (change-me...) stops the start",
         &c->link_secret},
        {"SP_MAIL_RETRIES_MAX", SP_CONFIG_INT, "10", 1, 1000,
         "attempts of one e-mail before it goes to the dead-letter topic", &c->retries_max},
        {"SP_MAIL_RETRY_BASE_MS", SP_CONFIG_INT, "2000", 10, 3600000,
         "delay after a first failed attempt; doubled after each next one", &c->retry_base_ms},
        {"SP_MAIL_RETRY_MAX_MS", SP_CONFIG_INT, "600000", 10, 86400000,
         "longest delay between two attempts", &c->retry_ms_max},
        {"SP_MAIL_MAX_AGE_S", SP_CONFIG_INT, "172800", 60, 31 * 24 * 3600,
         "events older than this when read are not mailed (a first start on an old log)",
         &c->max_age_s},
    };
    const sp_service_spec spec = {
        .name = SP_NOTIFY_SERVICE_NAME,
        .program = "solipass-notifications",
        .summary = "The notifications service: e-mails (activation, password reset, "
                   "payment received) sent over SMTP from the event log.",
        .items = items,
        .item_count = sizeof items / sizeof items[0],
        .check = check,
        .check_ctx = c};
    return sp_service_start(svc, &spec, argc, argv);
}

int main(int argc, char **argv) {
    sp_service svc;
    sp_notify_config config = {0};
    if (start(&svc, &config, argc, argv) != 0) return svc.exit_code;
    int rc = -1;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        sp_error_set(&svc.err, 500, "startup_failed", NULL, "cannot initialise libcurl");
    } else {
        rc = sp_notify_service_run(&config, &svc.log, &svc.clock, svc.stop, &svc.err);
        curl_global_cleanup();
    }
    return sp_service_finish(&svc, rc);
}
