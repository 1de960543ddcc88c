/* sp_metrics_http.c - GET /metrics over civetweb for the services that have
 * no HTTP server of their own. */
#include "sp_metrics_http.h"

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <civetweb.h>

#define SP_METRICS_HTTP_THREADS "2"
#define SP_METRICS_HTTP_REQUEST_TIMEOUT_MS "10000"
#define SP_METRICS_HTTP_ERROR_MAX 256

struct sp_metrics_http {
    struct mg_context *ctx;
    sp_metrics *registry;
    sp_log *log;
    pthread_mutex_t extra_lock; /* held while extra is called or changed */
    sp_metrics_http_extra_fn extra;
    void *extra_ctx;
};

/* The page: the extra text (when set) then the registry's. */
static char *render_page(sp_metrics_http *endpoint, size_t *len) {
    char *text = sp_metrics_render(endpoint->registry, len);
    pthread_mutex_lock(&endpoint->extra_lock);
    if (text != NULL && endpoint->extra != NULL) {
        char *page = endpoint->extra(endpoint->extra_ctx, text);
        free(text);
        text = page;
        *len = page != NULL ? strlen(page) : 0;
    }
    pthread_mutex_unlock(&endpoint->extra_lock);
    return text;
}

void sp_metrics_http_set_extra(sp_metrics_http *endpoint, sp_metrics_http_extra_fn fn, void *ctx) {
    if (endpoint == NULL) return;
    pthread_mutex_lock(&endpoint->extra_lock);
    endpoint->extra = fn;
    endpoint->extra_ctx = ctx;
    pthread_mutex_unlock(&endpoint->extra_lock);
}

/* An IPv4 or IPv6 literal: civetweb is never handed a host name to resolve. */
static int check_address(const char *address, sp_error *err) {
    size_t len = strlen(address);
    bool ok = len >= 2 && len <= SP_METRICS_ADDRESS_LEN_MAX;
    for (size_t i = 0; ok && i < len; i++)
        ok = strchr("0123456789abcdefABCDEF.:", address[i]) != NULL;
    if (ok) return 0;
    return sp_error_set(err, 500, "invalid_config", "SP_METRICS_ADDRESS",
                        "SP_METRICS_ADDRESS must be an IP address, got '%s'", address);
}

static int serve_metrics(struct mg_connection *conn, void *cbdata) {
    sp_metrics_http *endpoint = cbdata;
    const struct mg_request_info *request = mg_get_request_info(conn);
    if (strcmp(request->request_method, "GET") != 0) {
        mg_printf(conn, "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\nContent-Length: 0\r\n"
                        "Connection: close\r\n\r\n");
        return 405;
    }
    size_t len = 0;
    char *text = render_page(endpoint, &len);
    if (text == NULL) {
        mg_printf(conn, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
                        "Connection: close\r\n\r\n");
        return 500;
    }
    mg_printf(conn,
              "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
              "Content-Length: %zu\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
              len);
    mg_write(conn, text, len);
    free(text);
    return 200;
}

/* civetweb's own messages become JSON log lines. */
static int on_civetweb_log(const struct mg_connection *conn, const char *message) {
    const struct mg_context *ctx = mg_get_context(conn);
    sp_metrics_http *endpoint = ctx != NULL ? mg_get_user_data(ctx) : NULL;
    if (endpoint != NULL) sp_log_warn(endpoint->log, "metrics endpoint", "detail", message, NULL);
    return 1;
}

static int listen_on(sp_metrics_http *endpoint, const sp_metrics_http_config *config,
                     sp_error *err) {
    char ports[SP_METRICS_ADDRESS_LEN_MAX + 16];
    bool v6 = strchr(config->address, ':') != NULL;
    snprintf(ports, sizeof ports, v6 ? "[%s]:%" PRId64 : "%s:%" PRId64, config->address,
             config->port);
    const char *options[] = {"listening_ports",
                             ports,
                             "num_threads",
                             SP_METRICS_HTTP_THREADS,
                             "request_timeout_ms",
                             SP_METRICS_HTTP_REQUEST_TIMEOUT_MS,
                             "enable_keep_alive",
                             "no",
                             NULL};
    struct mg_callbacks callbacks;
    memset(&callbacks, 0, sizeof callbacks);
    callbacks.log_message = on_civetweb_log;
    struct mg_init_data init = {.callbacks = &callbacks,
                                .user_data = endpoint,
                                .configuration_options = options};
    char text[SP_METRICS_HTTP_ERROR_MAX] = "";
    unsigned code = 0;
    struct mg_error_data error = {.code = &code, .text = text, .text_buffer_size = sizeof text};
    endpoint->ctx = mg_start2(&init, &error);
    if (endpoint->ctx == NULL)
        return sp_error_set(err, 500, "metrics_listen_failed", "SP_METRICS_PORT",
                            "cannot serve metrics on %s: %s", ports, text);
    mg_set_request_handler(endpoint->ctx, "/metrics$", serve_metrics, endpoint);
    return 0;
}

int sp_metrics_http_start(const sp_metrics_http_config *config, sp_log *log, sp_metrics_http **out,
                          sp_error *err) {
    assert(config != NULL && config->address != NULL && log != NULL && out != NULL);
    assert(log->metrics == NULL);
    *out = NULL;
    if (check_address(config->address, err) != 0) return -1;
    if (config->port == 0) return 0;
    assert(config->port > 0 && config->port <= 65535);
    sp_metrics_http *endpoint = calloc(1, sizeof *endpoint);
    if (endpoint == NULL) return sp_error_set(err, 500, "out_of_memory", NULL, "metrics endpoint");
    endpoint->log = log;
    endpoint->registry = sp_metrics_new();
    if (endpoint->registry == NULL || pthread_mutex_init(&endpoint->extra_lock, NULL) != 0) {
        sp_metrics_free(endpoint->registry);
        free(endpoint);
        return sp_error_set(err, 500, "out_of_memory", NULL, "metrics registry");
    }
    mg_init_library(0);
    if (listen_on(endpoint, config, err) != 0) {
        mg_exit_library();
        pthread_mutex_destroy(&endpoint->extra_lock);
        sp_metrics_free(endpoint->registry);
        free(endpoint);
        return -1;
    }
    log->metrics = endpoint->registry;
    char port[16];
    snprintf(port, sizeof port, "%" PRId64, config->port);
    sp_log_info(log, "metrics endpoint listening", "address", config->address, "port", port, NULL);
    *out = endpoint;
    return 0;
}

void sp_metrics_http_stop(sp_metrics_http *endpoint, sp_log *log) {
    if (endpoint == NULL) return;
    assert(log != NULL && log->metrics == endpoint->registry);
    mg_stop(endpoint->ctx);
    mg_exit_library();
    log->metrics = NULL;
    pthread_mutex_destroy(&endpoint->extra_lock);
    sp_metrics_free(endpoint->registry);
    free(endpoint);
}
