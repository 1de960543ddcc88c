/* main.c - solipass-gateway: its settings and their checks, the app's
 * modules built, HTTP served until SIGINT/SIGTERM, then everything stopped in
 * reverse order; the start and stop common to every service are sp_service's. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <civetweb.h>

#include "auth.h"
#include "commands.h"
#include "gateway.h"
#include "http.h"
#include "imports.h"
#include "inflight.h"
#include "metrics.h"
#include "partner_space.h"
#include "pgpool.h"
#include "directory_feed.h"
#include "projwait.h"
#include "proxies.h"
#include "sp_receipt.h"
#include "ratelimit.h"
#include "session_cookie.h"
#include "sp_config.h"
#include "sp_link.h"
#include "sp_secret.h"
#include "sp_log.h"
#include "sp_metrics.h"
#include "sp_money.h"
#include "sp_sepa.h"
#include "sp_service.h"

#define SP_GW_PG_START_WAIT_MS 30000
#define SP_GW_STOP_POLL_MS 100
#define SP_GW_ADDRESS_LEN_MAX 64
#define SP_GW_SESSION_TTL_S_MAX (31 * 24 * 3600)
#define SP_GW_SESSIONS_PER_USER_LIMIT 64 /* the accounts service's own limit */

/* The settings main checks once read, and where the checked forms go. */
typedef struct gw_settings {
    sp_gw_config *config;
    sp_gw_contact *contact;
    sp_sepa_debtor *sepa_debtor;
    bool sepa_configured;
    char public_url[SP_GW_PUBLIC_URL_LEN_MAX + 1];
    sp_gw_proxies *proxies;
    sp_receipt_keyring *receipt_keys;
} gw_settings;

static int check_settings(void *ctx, sp_service *svc, sp_error *err);

/* The gateway's settings, in --help's order: the table is built from the
 * groups below, each about one concern. */
#define GW_CONFIG_ITEMS_MAX 64

static void append_items(sp_config_item *items, size_t *count, const sp_config_item *group,
                         size_t group_count) {
    assert(*count <= GW_CONFIG_ITEMS_MAX);
    assert(group_count <= GW_CONFIG_ITEMS_MAX - *count);
    memcpy(items + *count, group, group_count * sizeof group[0]);
    *count += group_count;
}

/* The services' common settings, then the HTTP server's and the command path's. */
static void add_service_items(sp_service *svc, sp_gw_config *c, sp_config_item *items,
                              size_t *count) {
    const sp_config_item group[] = {
        {"SP_KAFKA_BROKERS", SP_CONFIG_STRING, NULL, 0, 0,
         "Kafka bootstrap servers, host:port[,...]", &c->kafka_brokers},
        {"SP_PG_DSN", SP_CONFIG_STRING, NULL, 0, 0,
         "PostgreSQL connection string of the read models", &c->pg_dsn},
        {"SP_LOG_LEVEL", SP_CONFIG_STRING, "info", 0, 0,
         "debug | info | warn | error (debug logs every request)", &svc->log_level},
        {"SP_CLOCK_OFFSET_FILE", SP_CONFIG_STRING, "", 0, 0,
         "file holding a clock offset in ms (tests); empty: system time", &svc->clock_offset_file},
        /* Not on the API port, which faces the clients. */
        SP_METRICS_HTTP_CONFIG_ITEMS(&svc->metrics_config),
        SP_KAFKA_SECURITY_CONFIG_ITEMS(&svc->kafka_security),
        {"SP_HTTP_ADDRESS", SP_CONFIG_STRING, "127.0.0.1", 0, 0, "IP address to listen on",
         &c->http_address},
        {"SP_HTTP_PORT", SP_CONFIG_INT, "8080", 1, 65535, "TCP port to listen on", &c->http_port},
        {"SP_HTTP_THREADS", SP_CONFIG_INT, "512", 1, 1024,
         "HTTP worker threads; a connection holds one from its accept (a keep-alive or a "
         "slow one too), so this bounds the connections served at once: 200 slow clients "
         "leave 64 threads no room for anyone else",
         &c->http_threads},
        {"SP_HTTP_REQUEST_TIMEOUT_MS", SP_CONFIG_INT, "5000", 500, 60000,
         "a client must send its request line and headers within this, and may not stay "
         "longer silent while its body is read or its answer written; a slower one is "
         "disconnected (civetweb's request_timeout_ms)",
         &c->http_request_timeout_ms},
        {"SP_HTTP_REQUESTS_PER_ADDRESS_MAX", SP_CONFIG_INT, "32", 1, 1024,
         "requests in progress of one client address (once its headers are read; live "
         "streams included); one more is 429 too_many_requests",
         &c->http_requests_per_address_max},
        {"SP_PG_POOL_SIZE", SP_CONFIG_INT, "8", 1, SP_GW_PGPOOL_SIZE_MAX,
         "PostgreSQL connections of the pool", &c->pg_pool_size},
        {"SP_COMMAND_TIMEOUT_MS", SP_CONFIG_INT, "5000", 100, 600000,
         "wait for a command's outcome (and its projection) before answering 503 timeout",
         &c->command_timeout_ms},
    };
    append_items(items, count, group, sizeof group / sizeof group[0]);
}

/* Sessions, amounts, links and the login limits. */
static void add_session_items(sp_gw_config *c, sp_config_item *items, size_t *count) {
    const sp_config_item group[] = {
        {"SP_SESSION_TTL_S", SP_CONFIG_INT, "43200", 60, SP_GW_SESSION_TTL_S_MAX,
         "lifetime of a login session, in seconds", &c->session_ttl_s},
        {"SP_USERS_MAX", SP_CONFIG_INT, "1000000", 1, 100000000,
         "most users (and partners) the gateway's session directory holds: the accounts "
         "service's own setting (sessions at SP_SESSIONS_PER_USER_MAX times that)",
         &c->users_max},
        {"SP_SESSIONS_PER_USER_MAX", SP_CONFIG_INT, "8", 1, SP_GW_SESSIONS_PER_USER_LIMIT,
         "live sessions a user may hold at once: the accounts service's own setting",
         &c->sessions_per_user_max},
        {"SP_DIRECTORY_START_MS", SP_CONFIG_INT, "120000", 1000, 3600000,
         "longest the start may take to read the accounts events into the session directory "
         "(the gateway answers nothing before)",
         &c->directory_start_ms},
        {"SP_PAYMENT_MAX_CENTS", SP_CONFIG_INT, "100000", 1, SP_MONEY_BALANCE_ABS_CENTS_MAX,
         "largest payment, in euro cents", &c->payment_cents_max},
        {"SP_CREDIT_MAX_CENTS", SP_CONFIG_INT, "1000000", 1, SP_MONEY_BALANCE_ABS_CENTS_MAX,
         "largest credit of a pass, in euro cents", &c->credit_cents_max},
        {"SP_LINK_SECRET", SP_CONFIG_STRING, "", 0, 0,
         "secret (32 to 1024 bytes, random: openssl rand -base64 48) shared with the "
         "notifications service that authenticates activation and password-reset links; a "
         "placeholder (change-me...) or one of few different characters stops the start; "
         "empty: those endpoints answer 503",
         &c->link_secret},
        {"SP_LOGIN_FAILURES_PER_ACCOUNT_MAX", SP_CONFIG_INT, "5", 1, 1000,
         "failed logins of one e-mail within SP_LOGIN_WINDOW_S before 429 too_many_attempts",
         &c->login_failures_per_account_max},
        {"SP_LOGIN_FAILURES_PER_ADDRESS_MAX", SP_CONFIG_INT, "20", 1, 100000,
         "failed logins (and password-reset requests) of one client address within "
         "SP_LOGIN_WINDOW_S before 429 too_many_attempts",
         &c->login_failures_per_address_max},
        {"SP_LOGIN_WINDOW_S", SP_CONFIG_INT, "900", 1, 86400,
         "the window of those counts, in seconds, from a key's first failure", &c->login_window_s},
    };
    append_items(items, count, group, sizeof group / sizeof group[0]);
}

/* The partner space: images, the desk's contact, live streams. */
static void add_partner_space_items(sp_gw_config *c, sp_config_item *items, size_t *count) {
    const sp_config_item group[] = {
        {"SP_IMAGE_BYTES_MAX", SP_CONFIG_INT, "1048576", 1024, 8388608,
         "largest logo or cover photo a partner may upload, in bytes (PNG or JPEG)",
         &c->image_bytes_max},
        {"SP_CONTACT_HOURS", SP_CONFIG_STRING,
         "Du lundi au vendredi, de 9 h à 12 h et de 14 h à 17 h", 0, 0,
         "desk hours shown in the partner space (1 to 200 characters)", &c->contact_hours},
        {"SP_CONTACT_EMAIL", SP_CONFIG_STRING, "pass.solidarite@ville.example.fr", 0, 0,
         "the service's e-mail address shown in the partner space", &c->contact_email},
        {"SP_CONTACT_PHONES", SP_CONFIG_STRING, "01 23 45 67 89", 0, 0,
         "the service's phone numbers shown in the partner space, 1 to 4 separated by ';'",
         &c->contact_phones},
        {"SP_SSE_STREAMS_MAX", SP_CONFIG_INT, "16", 0, 512,
         "live operation streams (Server-Sent Events) open at once; each holds an HTTP "
         "thread, so never more than half of SP_HTTP_THREADS (lowered to that)",
         &c->sse_streams_max},
        {"SP_SSE_MAX_S", SP_CONFIG_INT, "300", 5, 3600,
         "a live operation stream ends after this many seconds (the client reconnects with "
         "Last-Event-ID)",
         &c->sse_s_max},
    };
    append_items(items, count, group, sizeof group / sizeof group[0]);
}

/* Files, the web apps, the public URL, proxies and receipt keys. */
static void add_edge_items(sp_gw_config *c, sp_config_item *items, size_t *count) {
    const sp_config_item group[] = {
        {"SP_SEPA_DEBTOR_NAME", SP_CONFIG_STRING, "", 0, 0,
         "the city's account holder that SEPA transfer files pay refunds from; empty (with "
         "the two below): POST /api/v1/finance/sepa answers 503",
         &c->sepa_debtor_name},
        {"SP_SEPA_DEBTOR_IBAN", SP_CONFIG_STRING, "", 0, 0, "that account's IBAN",
         &c->sepa_debtor_iban},
        {"SP_SEPA_DEBTOR_BIC", SP_CONFIG_STRING, "", 0, 0, "that account's bank's BIC",
         &c->sepa_debtor_bic},
        {"SP_EXPORTS_DIR", SP_CONFIG_STRING, "", 0, 0,
         "folder of the exports service's files, served by the downloads; empty: no downloads",
         &c->exports_dir},
        {"SP_WEB_DIR", SP_CONFIG_STRING, "", 0, 0,
         "folder of the built web apps (web/dist) served outside /api/; empty: the API only, "
         "every other path answers 404",
         &c->web_dir},
        {"SP_PUBLIC_URL", SP_CONFIG_STRING, "", 0, 0,
         "the origin browsers reach the service at, http(s)://host[:port] with no path: the "
         "Origin cookie sessions must come from, the QR codes' links, Secure cookies when "
         "https; empty: http://SP_HTTP_ADDRESS:SP_HTTP_PORT",
         &c->public_url},
        {"SP_TRUSTED_PROXIES", SP_CONFIG_STRING, "", 0, 0,
         "reverse proxies in front of the gateway: IP addresses and CIDR networks separated "
         "by commas; only from them is X-Forwarded-For read (its right-most address that is "
         "not one of them is the client's, for the limits per address); empty: none",
         &c->trusted_proxies},
        {"SP_RECEIPT_PUBLIC_KEYS", SP_CONFIG_STRING, "", 0, 0,
         "base64 Ed25519 public keys that verify payment receipts, comma-separated, the "
         "current one (of the transactions service's SP_RECEIPT_SECRET_KEY) first, older ones "
         "after it; empty: every receipt is refused as signed by an unknown key",
         &c->receipt_public_keys},
    };
    append_items(items, count, group, sizeof group / sizeof group[0]);
}

static int start(sp_service *svc, gw_settings *settings, int argc, char **argv) {
    sp_gw_config *c = settings->config;
    sp_config_item items[GW_CONFIG_ITEMS_MAX];
    size_t count = 0;
    add_service_items(svc, c, items, &count);
    add_session_items(c, items, &count);
    add_partner_space_items(c, items, &count);
    add_edge_items(c, items, &count);
    const sp_service_spec spec = {
        .name = "gateway",
        .program = "solipass-gateway",
        .summary = "The HTTP JSON API of solipass: validates requests, sends commands to the "
                   "event log, waits for their outcome, reads the read models.",
        .items = items,
        .item_count = count,
        .check = check_settings,
        .check_ctx = settings};
    return sp_service_start(svc, &spec, argc, argv);
}

/* An IPv4 or IPv6 literal: civetweb is never handed a host name to resolve. */
static int check_address(const char *address, sp_error *err) {
    size_t len = strlen(address);
    bool ok = len >= 2 && len <= SP_GW_ADDRESS_LEN_MAX;
    for (size_t i = 0; ok && i < len; i++) {
        ok = strchr("0123456789abcdefABCDEF.:", address[i]) != NULL;
    }
    if (ok) return 0;
    return sp_error_set(err, 500, "invalid_config", "SP_HTTP_ADDRESS",
                        "SP_HTTP_ADDRESS must be an IP address, got '%s'", address);
}

static int check_link_secret(const char *secret, sp_error *err) {
    if (secret[0] == '\0') return 0;
    if (sp_secret_check(secret, "SP_LINK_SECRET", SP_SECRET_KEY_LEN_MIN, SP_SECRET_KEY_DISTINCT_MIN,
                        err) != 0)
        return -1;
    if (sp_link_secret_valid(secret)) return 0;
    return sp_error_set(err, 500, "invalid_config", "SP_LINK_SECRET",
                        "SP_LINK_SECRET must be %d to %d bytes", SP_LINK_SECRET_LEN_MIN,
                        SP_LINK_SECRET_LEN_MAX);
}

/* SP_PUBLIC_URL, or the URL of the listening address when empty. */
static int check_public_url(sp_gw_config *c, char url[SP_GW_PUBLIC_URL_LEN_MAX + 1],
                            sp_error *err) {
    if (c->public_url[0] == '\0') {
        bool ipv6 = strchr(c->http_address, ':') != NULL;
        char port[16] = "";
        if (c->http_port != 80) snprintf(port, sizeof port, ":%" PRId64, c->http_port);
        snprintf(url, SP_GW_PUBLIC_URL_LEN_MAX + 1, ipv6 ? "http://[%s]%s" : "http://%s%s",
                 c->http_address, port);
    } else {
        snprintf(url, SP_GW_PUBLIC_URL_LEN_MAX + 1, "%s", c->public_url);
        if (strlen(c->public_url) > SP_GW_PUBLIC_URL_LEN_MAX) url[0] = '\0';
    }
    c->public_url = url;
    return sp_gw_public_url_check(url, err);
}

/* SP_WEB_DIR: a folder, or not there yet (an API-only deployment, or the
 * apps not built yet: pages answer 404 until it appears); a file there
 * is a mistake. */
static int check_web_dir(const char *dir, sp_log *log, sp_error *err) {
    if (dir[0] == '\0') return 0;
    struct stat st;
    if (stat(dir, &st) != 0 && errno == ENOENT) {
        sp_log_warn(log, "SP_WEB_DIR does not exist (yet): pages answer 404", "dir", dir, NULL);
        return 0;
    }
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    return sp_error_set(err, 500, "invalid_config", "SP_WEB_DIR",
                        "SP_WEB_DIR must be a folder, got '%.200s'", dir);
}

/* The SEPA debtor: all three settings or none. */
static int check_sepa(const sp_gw_config *c, sp_sepa_debtor *debtor, bool *configured,
                      sp_error *err) {
    *configured = c->sepa_debtor_name[0] != '\0' || c->sepa_debtor_iban[0] != '\0' ||
                  c->sepa_debtor_bic[0] != '\0';
    if (!*configured) return 0;
    return sp_sepa_debtor_parse(c->sepa_debtor_name, c->sepa_debtor_iban, c->sepa_debtor_bic,
                                debtor, err);
}

/* A stream holds a worker thread for its whole life: streams must leave
 * at least half the threads to ordinary requests, whatever was asked. */
static void clamp_streams(sp_gw_config *c, sp_log *log) {
    if (c->sse_streams_max <= c->http_threads / 2) return;
    c->sse_streams_max = c->http_threads / 2;
    char max[24];
    snprintf(max, sizeof max, "%" PRId64, c->sse_streams_max);
    sp_log_info(log, "SP_SSE_STREAMS_MAX lowered to half of SP_HTTP_THREADS", "streams_max", max,
                NULL);
}

static int check_receipt_keys(const char *list, sp_receipt_keyring *keys, sp_error *err) {
    sp_error why;
    sp_error_clear(&why);
    if (sp_receipt_keyring_parse(list, keys, &why) == 0) return 0;
    return sp_error_set(err, 400, "invalid_setting", "SP_RECEIPT_PUBLIC_KEYS", "%s", why.message);
}

static int check_settings(void *ctx, sp_service *svc, sp_error *err) {
    gw_settings *s = ctx;
    sp_gw_config *c = s->config;
    if (check_address(c->http_address, err) != 0 || check_link_secret(c->link_secret, err) != 0 ||
        sp_gw_contact_parse(c->contact_hours, c->contact_email, c->contact_phones, s->contact,
                            err) != 0 ||
        check_sepa(c, s->sepa_debtor, &s->sepa_configured, err) != 0 ||
        check_public_url(c, s->public_url, err) != 0 ||
        check_web_dir(c->web_dir, &svc->log, err) != 0 ||
        sp_gw_proxies_parse(c->trusted_proxies, s->proxies, err) != 0 ||
        check_receipt_keys(c->receipt_public_keys, s->receipt_keys, err) != 0)
        return -1;
    clamp_streams(c, &svc->log);
    return 0;
}

/* Reads the accounts events into the session directory before anything is
 * served, and says how long it took. */
static int directory_start(sp_gw_app *app, sp_error *err) {
    const sp_gw_config *c = app->config;
    int64_t started_ms = sp_gw_monotonic_ms();
    app->directory = sp_gw_directory_feed_new(c->kafka_brokers, (size_t)c->users_max,
                                              (size_t)c->sessions_per_user_max,
                                              c->directory_start_ms, app->log, err);
    if (app->directory == NULL) return -1;
    sp_gw_projwait_set_directory(app->projwait, app->directory);
    size_t users = 0, sessions = 0;
    int64_t next_offset = 0;
    sp_gw_directory_feed_counts(app->directory, &users, &sessions, &next_offset);
    char users_text[24], sessions_text[24], events_text[24], elapsed_text[24];
    snprintf(users_text, sizeof users_text, "%zu", users);
    snprintf(sessions_text, sizeof sessions_text, "%zu", sessions);
    snprintf(events_text, sizeof events_text, "%" PRId64, next_offset);
    snprintf(elapsed_text, sizeof elapsed_text, "%" PRId64, sp_gw_monotonic_ms() - started_ms);
    sp_log_info(app->log, "session directory read", "users", users_text, "sessions", sessions_text,
                "events", events_text, "elapsed_ms", elapsed_text, NULL);
    return 0;
}

/* Builds every module the requests use; on failure err says which. */
static int app_start(sp_gw_app *app, sp_error *err) {
    app->auth = sp_gw_auth_new(err);
    if (app->auth == NULL) return -1;
    const sp_gw_config *c = app->config;
    app->login_by_account = sp_gw_ratelimit_new(SP_GW_RATELIMIT_SLOTS_DEFAULT,
                                                c->login_failures_per_account_max,
                                                c->login_window_s * 1000);
    app->login_by_address = sp_gw_ratelimit_new(SP_GW_RATELIMIT_SLOTS_DEFAULT,
                                                c->login_failures_per_address_max,
                                                c->login_window_s * 1000);
    app->voucher_by_user = sp_gw_ratelimit_new(SP_GW_VOUCHER_RATELIMIT_SLOTS,
                                               SP_GW_VOUCHER_FAILURES_MAX, SP_GW_VOUCHER_WINDOW_MS);
    app->streams = sp_gw_streams_new(c->sse_streams_max);
    app->inflight = sp_gw_inflight_new((size_t)c->http_threads,
                                       (size_t)c->http_requests_per_address_max);
    if (app->login_by_account == NULL || app->login_by_address == NULL ||
        app->voucher_by_user == NULL || app->streams == NULL || app->inflight == NULL)
        return sp_error_set(err, 500, "out_of_memory", NULL, "rate limits");
    app->pool = sp_gw_pgpool_new(app->config->pg_dsn, (size_t)app->config->pg_pool_size,
                                 SP_GW_PG_START_WAIT_MS, app->log, err);
    if (app->pool == NULL) return -1;
    app->projwait = sp_gw_projwait_new(app->config->pg_dsn, app->metrics, app->log, err);
    if (app->projwait == NULL) return -1;
    if (directory_start(app, err) != 0) return -1;
    /* Returns once the replies consumer has its position: no reply to a
     * command sent from now on can be missed. */
    app->commands = sp_gw_commands_new(app->config->kafka_brokers, app->metrics, app->log, err);
    if (app->commands == NULL) return -1;
    app->imports = sp_gw_imports_new(app, err);
    if (app->imports == NULL) return -1;
    return 0;
}

static char *metrics_page(void *ctx, const char *registry_text) {
    sp_gw_app *app = ctx;
    sp_gw_gauges gauges = {.pending_commands = sp_gw_commands_pending(app->commands),
                           .pending_commands_max = SP_GW_WAITERS_MAX,
                           .projection_waiters = sp_gw_projwait_waiters(app->projwait)};
    return sp_gw_metrics_render(app->metrics, &gauges, registry_text);
}

static void app_stop(sp_gw_app *app) {
    /* Its runs send commands: stopped (between two lines) before the commands go. */
    sp_gw_imports_free(app->imports);
    sp_gw_commands_free(app->commands);
    if (app->projwait != NULL) sp_gw_projwait_set_directory(app->projwait, NULL);
    sp_gw_directory_feed_free(app->directory);
    sp_gw_projwait_free(app->projwait);
    sp_gw_pgpool_free(app->pool);
    sp_gw_auth_free(app->auth);
    sp_gw_ratelimit_free(app->login_by_account);
    sp_gw_ratelimit_free(app->login_by_address);
    sp_gw_ratelimit_free(app->voucher_by_user);
    sp_gw_streams_free(app->streams);
    sp_gw_inflight_free(app->inflight);
}

static void serve_until_stopped(sp_gw_app *app, sp_gw_http *http, const sp_service *svc) {
    char port[16];
    snprintf(port, sizeof port, "%" PRId64, app->config->http_port);
    sp_log_info(app->log, "ready", "address", app->config->http_address, "port", port, "reply_to",
                sp_gw_commands_reply_to(app->commands), NULL);
    struct timespec pause = {.tv_sec = 0, .tv_nsec = SP_GW_STOP_POLL_MS * 1000000L};
    while (!sp_service_stopping(svc)) nanosleep(&pause, NULL);
    sp_log_info(app->log, "stopping", NULL);
    /* Live streams would keep their threads until they time out. */
    sp_gw_streams_stop(app->streams);
    sp_gw_http_stop(http);
}

int main(int argc, char **argv) {
    sp_service svc;
    sp_gw_config config;
    memset(&config, 0, sizeof config);
    sp_gw_contact contact;
    memset(&contact, 0, sizeof contact);
    sp_sepa_debtor sepa_debtor;
    sp_gw_proxies proxies;
    memset(&proxies, 0, sizeof proxies);
    sp_receipt_keyring receipt_keys;
    memset(&receipt_keys, 0, sizeof receipt_keys);
    gw_settings settings = {.config = &config,
                            .contact = &contact,
                            .sepa_debtor = &sepa_debtor,
                            .proxies = &proxies,
                            .receipt_keys = &receipt_keys};
    if (start(&svc, &settings, argc, argv) != 0) return svc.exit_code;
    sp_gw_metrics metrics;
    sp_gw_metrics_init(&metrics);
    sp_gw_app app = {.config = &config,
                     .log = &svc.log,
                     .clock = &svc.clock,
                     .metrics = &metrics,
                     .contact = &contact,
                     .sepa_debtor = settings.sepa_configured ? &sepa_debtor : NULL,
                     .proxies = &proxies,
                     .receipt_keys = &receipt_keys};
    mg_init_library(0);
    int rc = -1;
    sp_gw_http *http = NULL;
    if (app_start(&app, &svc.err) == 0 && (http = sp_gw_http_start(&app, &svc.err)) != NULL) {
        /* The requests, commands and waits before what the Kafka handles
         * count (messages, replies lag) on SP_METRICS_PORT's /metrics. */
        sp_metrics_http_set_extra(svc.metrics, metrics_page, &app);
        serve_until_stopped(&app, http, &svc);
        sp_metrics_http_set_extra(svc.metrics, NULL, NULL);
        rc = 0;
    }
    app_stop(&app);
    mg_exit_library();
    return sp_service_finish(&svc, rc);
}
