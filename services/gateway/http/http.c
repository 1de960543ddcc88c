/* http.c - the civetweb server, request dispatch and JSON answers (see http.h). */
#include "http.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <civetweb.h>
#include "endpoints.h"
#include "enrol_csv.h"
#include "inflight.h"
#include "json_limits.h"
#include "metrics.h"
#include "openapi.h"
#include "routes.h"
#include "web_serve.h"

#define SP_GW_LISTEN_TEXT_MAX 96
#define SP_GW_ALLOW_TEXT_MAX 32
#define SP_GW_HTTP_HEAD_BYTES_MAX 16384 /* request line and headers (civetweb's buffer) */
#define SP_GW_JSON_CONTENT_TYPE "application/json"
#define SP_GW_PROBLEM_CONTENT_TYPE "application/problem+json"

struct sp_gw_http {
    sp_gw_app *app;
    struct mg_context *ctx;
    /* Per route, the query parameter names its table entry lists. */
    char query_names[SP_GW_ROUTE_COUNT][SP_GW_QUERY_NAMES_LEN_MAX + 1];
};

/* ------------------------------------------------------------------ answers */

const char *sp_gw_request_address(const sp_gw_request *req) {
    assert(req != NULL);
    return req->client_address;
}

const char *sp_gw_request_header(const sp_gw_request *req, const char *name) {
    assert(req != NULL && name != NULL);
    return mg_get_header(req->conn, name);
}

static int answer_raw(sp_gw_request *req, int status, const char *content_type, const char *body,
                      size_t body_len, bool replayed, const char *allow) {
    assert(req->status == 0 && status >= 200 && status <= 599);
    char length[24];
    snprintf(length, sizeof length, "%zu", body_len);
    mg_response_header_start(req->conn, status);
    if (content_type != NULL) mg_response_header_add(req->conn, "Content-Type", content_type, -1);
    if (status != 204) mg_response_header_add(req->conn, "Content-Length", length, -1);
    mg_response_header_add(req->conn, "Cache-Control", "no-store", -1);
    if (content_type != NULL && strncmp(content_type, "text/html", 9) == 0) {
        sp_gw_web_add_security_headers(req->conn);
    } else {
        mg_response_header_add(req->conn, "X-Content-Type-Options", "nosniff", -1);
    }
    if (req->set_cookie[0] != '\0')
        mg_response_header_add(req->conn, "Set-Cookie", req->set_cookie, -1);
    if (replayed) mg_response_header_add(req->conn, "Idempotent-Replayed", "true", -1);
    if (allow != NULL) mg_response_header_add(req->conn, "Allow", allow, -1);
    if (req->retry_after_s > 0) {
        char retry_after[24];
        snprintf(retry_after, sizeof retry_after, "%" PRId64, req->retry_after_s);
        mg_response_header_add(req->conn, "Retry-After", retry_after, -1);
    }
    mg_response_header_send(req->conn);
    if (body_len > 0) mg_write(req->conn, body, body_len);
    req->status = status;
    return 0;
}

int sp_gw_answer_text(sp_gw_request *req, int status, const char *content_type, const char *body,
                      size_t body_len, bool replayed) {
    assert(req != NULL && (body != NULL || body_len == 0));
    return answer_raw(req, status, content_type ? content_type : SP_GW_JSON_CONTENT_TYPE, body,
                      body_len, replayed, NULL);
}

/* Content named by its own hash never changes: caches may keep it for ever. */
int sp_gw_answer_immutable(sp_gw_request *req, const char *content_type, const void *body,
                           size_t body_len, const char *etag) {
    assert(req != NULL && req->status == 0 && content_type != NULL && etag != NULL);
    char length[24], quoted[80];
    snprintf(length, sizeof length, "%zu", body_len);
    snprintf(quoted, sizeof quoted, "\"%.64s\"", etag);
    mg_response_header_start(req->conn, 200);
    mg_response_header_add(req->conn, "Content-Type", content_type, -1);
    mg_response_header_add(req->conn, "Content-Length", length, -1);
    mg_response_header_add(req->conn, "Cache-Control", "public, max-age=31536000, immutable", -1);
    mg_response_header_add(req->conn, "ETag", quoted, -1);
    mg_response_header_add(req->conn, "X-Content-Type-Options", "nosniff", -1);
    mg_response_header_send(req->conn);
    if (body_len > 0) mg_write(req->conn, body, body_len);
    req->status = 200;
    return 0;
}

/* Content that may change with the gateway: caches keep it but ask again,
 * and an unchanged one costs a 304. */
int sp_gw_answer_revalidated(sp_gw_request *req, const char *content_type, const void *body,
                             size_t body_len, const char *etag) {
    assert(req != NULL && req->status == 0 && content_type != NULL && etag != NULL);
    char length[24], quoted[80];
    snprintf(quoted, sizeof quoted, "\"%.64s\"", etag);
    const char *if_none_match = mg_get_header(req->conn, "If-None-Match");
    bool unchanged = if_none_match != NULL && strstr(if_none_match, quoted) != NULL;
    int status = unchanged ? 304 : 200;
    size_t sent_len = unchanged ? 0 : body_len;
    snprintf(length, sizeof length, "%zu", sent_len);
    mg_response_header_start(req->conn, status);
    mg_response_header_add(req->conn, "Content-Type", content_type, -1);
    if (!unchanged) mg_response_header_add(req->conn, "Content-Length", length, -1);
    mg_response_header_add(req->conn, "Cache-Control", "no-cache", -1);
    mg_response_header_add(req->conn, "ETag", quoted, -1);
    mg_response_header_add(req->conn, "X-Content-Type-Options", "nosniff", -1);
    mg_response_header_send(req->conn);
    if (sent_len > 0) mg_write(req->conn, body, sent_len);
    req->status = status;
    return 0;
}

/* A download: the browser saves it under filename instead of showing it. */
int sp_gw_answer_attachment(sp_gw_request *req, const char *content_type, const char *filename,
                            const void *body, size_t body_len) {
    assert(req != NULL && req->status == 0 && content_type != NULL && filename != NULL);
    assert(strpbrk(filename, "\"\\\r\n/") == NULL);
    char length[24], disposition[160];
    snprintf(length, sizeof length, "%zu", body_len);
    snprintf(disposition, sizeof disposition, "attachment; filename=\"%.120s\"", filename);
    mg_response_header_start(req->conn, 200);
    mg_response_header_add(req->conn, "Content-Type", content_type, -1);
    mg_response_header_add(req->conn, "Content-Length", length, -1);
    mg_response_header_add(req->conn, "Content-Disposition", disposition, -1);
    mg_response_header_add(req->conn, "Cache-Control", "no-store", -1);
    mg_response_header_add(req->conn, "X-Content-Type-Options", "nosniff", -1);
    mg_response_header_send(req->conn);
    if (body_len > 0) mg_write(req->conn, body, body_len);
    req->status = 200;
    return 0;
}

int sp_gw_answer_no_content(sp_gw_request *req) {
    return answer_raw(req, 204, NULL, NULL, 0, false, NULL);
}

int sp_gw_answer_json(sp_gw_request *req, int status, json_t *value, bool replayed) {
    assert(req != NULL);
    char *text = value != NULL ? json_dumps(value, JSON_COMPACT) : NULL;
    json_decref(value);
    if (text == NULL) {
        sp_error err;
        sp_error_set(&err, 500, "internal", "", "the answer could not be built");
        return sp_gw_answer_error(req, &err);
    }
    sp_gw_answer_text(req, status, NULL, text, strlen(text), replayed);
    free(text);
    return 0;
}

static bool is_public_5xx(const sp_error *err) {
    return (err->http_status == 503 &&
            (strcmp(err->code, "timeout") == 0 || strcmp(err->code, "unavailable") == 0)) ||
           (err->http_status == 500 && strcmp(err->code, "internal") == 0);
}

/* What the client is told: 4xx as is; 5xx only with the public codes,
 * the detail going to the log. */
static sp_error shown_error(sp_gw_request *req, const sp_error *err) {
    sp_error shown = *err;
    if (err->http_status < 400 || err->http_status > 599) {
        sp_error_set(&shown, 500, "internal", "", "the request could not be completed");
    } else if (err->http_status >= 500 && !is_public_5xx(err)) {
        if (err->http_status == 503) {
            sp_error_set(&shown, 503, "unavailable", "", "a service is unavailable: try again");
        } else {
            sp_error_set(&shown, 500, "internal", "", "the request could not be completed");
        }
    }
    if (err->http_status >= 500 || shown.http_status >= 500) {
        char status[16];
        snprintf(status, sizeof status, "%d", err->http_status);
        sp_log_warn(req->app->log, "request failed", "route", sp_gw_route_name(req->match.route),
                    "status", status, "code", err->code, "error", err->message, NULL);
    }
    return shown;
}

static int answer_error_full(sp_gw_request *req, const sp_error *err, bool replayed) {
    sp_error shown = shown_error(req, err);
    char allow[SP_GW_ALLOW_TEXT_MAX] = "";
    if (shown.http_status == 405) sp_gw_route_allowed(req->path, allow, sizeof allow);
    char *text = sp_gw_error_json(&shown);
    static const char fallback[] =
        "{\"type\":\"about:blank\",\"title\":\"Internal Server Error\",\"status\":500,"
        "\"detail\":\"\",\"code\":\"internal\",\"message\":\"\",\"field\":\"\"}";
    const char *body = text != NULL ? text : fallback;
    int rc = answer_raw(req, text != NULL ? shown.http_status : 500, SP_GW_PROBLEM_CONTENT_TYPE,
                        body, strlen(body), replayed, allow[0] != '\0' ? allow : NULL);
    free(text);
    return rc;
}

int sp_gw_answer_problem(sp_gw_request *req, json_t *problem, bool replayed) {
    assert(req != NULL);
    json_t *status = json_object_get(problem, "status");
    char *text = json_is_integer(status) ? json_dumps(problem, JSON_COMPACT) : NULL;
    int status_code = text != NULL ? (int)json_integer_value(status) : 0;
    json_decref(problem);
    if (text == NULL || status_code < 400 || status_code > 599) {
        free(text);
        sp_error err;
        sp_error_set(&err, 500, "internal", "", "the answer could not be built");
        return sp_gw_answer_error(req, &err);
    }
    int rc = answer_raw(req, status_code, SP_GW_PROBLEM_CONTENT_TYPE, text, strlen(text), replayed,
                        NULL);
    free(text);
    return rc;
}

int sp_gw_answer_error(sp_gw_request *req, const sp_error *err) {
    assert(req != NULL && err != NULL);
    return answer_error_full(req, err, false);
}

void sp_gw_reply_error(const Solipass__Reply *reply, sp_error *err) {
    assert(reply != NULL);
    int status = reply->http_status >= 400 && reply->http_status <= 599 ? reply->http_status : 500;
    const char *code = reply->code != NULL && reply->code[0] != '\0' ? reply->code : "rejected";
    sp_error_set(err, status, code, reply->field != NULL ? reply->field : "", "%s",
                 reply->message != NULL ? reply->message : "");
}

int sp_gw_answer_reply(sp_gw_request *req, const Solipass__Reply *reply, sp_error *err) {
    assert(req != NULL && reply != NULL);
    if (!reply->ok) {
        sp_error refused;
        sp_gw_reply_error(reply, &refused);
        return answer_error_full(req, &refused, reply->replayed);
    }
    const char *body = reply->result_json != NULL && reply->result_json[0] != '\0'
                           ? reply->result_json
                           : "{}";
    json_error_t jerr;
    json_t *parsed = sp_gw_json_loads(body, JSON_REJECT_DUPLICATES, &jerr);
    bool valid = json_is_object(parsed) && reply->http_status >= 200 && reply->http_status <= 299;
    json_decref(parsed);
    if (!valid) {
        return sp_error_set(err, 500, "internal_reply", "",
                            "a reply with status %d is not a JSON object", reply->http_status);
    }
    return sp_gw_answer_text(req, reply->http_status, NULL, body, strlen(body), reply->replayed);
}

/* ------------------------------------------------------------------ requests */

/* The body, at most bytes_max (16 KiB for JSON, SP_IMAGE_BYTES_MAX for an
 * uploaded image); each read gives at least one byte, so bytes_max + 1 reads
 * bound the loop. */
static int read_body(sp_gw_request *req, const struct mg_request_info *info, char **buffer,
                     size_t bytes_max, const char *too_large_code, sp_error *err) {
    if (info->content_length > (long long)bytes_max) {
        return sp_error_set(err, 413, too_large_code, "", "the body is larger than %zu bytes",
                            bytes_max);
    }
    char *buf = malloc(bytes_max + 2);
    if (buf == NULL) return sp_error_set(err, 503, "unavailable", "", "out of memory");
    size_t total = 0;
    for (size_t reads = 0; reads < bytes_max + 1 && total <= bytes_max; reads++) {
        int n = mg_read(req->conn, buf + total, bytes_max + 1 - total);
        if (n <= 0) break;
        total += (size_t)n;
    }
    buf[total] = '\0';
    *buffer = buf;
    if (total > bytes_max) {
        return sp_error_set(err, 413, too_large_code, "", "the body is larger than %zu bytes",
                            bytes_max);
    }
    req->body = buf;
    req->body_len = total;
    return 0;
}

static int dispatch(const sp_gw_http *http, sp_gw_request *req, const struct mg_request_info *info,
                    char **body, sp_error *err) {
    if (sp_gw_route_find(req->method, req->path, &req->match, err) != 0) return -1;
    const sp_gw_endpoint *endpoint = sp_gw_endpoint_of(req->match.route);
    /* An image upload (up to SP_IMAGE_BYTES_MAX) is read only once its
     * session and role are known: no one else makes the gateway hold a
     * megabyte. */
    bool image = endpoint->body_media == SP_GW_MEDIA_IMAGE;
    /* so is a CSV file of beneficiaries (up to SP_GW_ENROL_CSV_BYTES_MAX). */
    bool large = image || endpoint->body_media == SP_GW_MEDIA_CSV;
    bool has_body = strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0 ||
                    strcmp(req->method, "PATCH") == 0;
    /* A cookie is sent by the browser whatever page asks: another site's
     * request is refused before its body is even read. */
    if (endpoint->session &&
        sp_gw_auth_origin(req->app, req->method, sp_gw_request_header(req, "Authorization"),
                          sp_gw_request_header(req, "Cookie"), sp_gw_request_header(req, "Origin"),
                          err) != 0)
        return -1;
    if (has_body && !large &&
        read_body(req, info, body, SP_GW_BODY_BYTES_MAX, "body_too_large", err) != 0)
        return -1;
    if (endpoint->session) {
        const char *authorization = sp_gw_request_header(req, "Authorization");
        const char *cookie = sp_gw_request_header(req, "Cookie");
        if (sp_gw_auth_session(req->app, authorization, cookie, &req->user, err) != 0) return -1;
        if (sp_gw_auth_require(&req->user, endpoint->roles, err) != 0) return -1;
    }
    if (sp_gw_endpoint_query_check(http->query_names[req->match.route], req->query, err) != 0)
        return -1;
    if (has_body && large &&
        read_body(req, info, body,
                  image ? (size_t)req->app->config->image_bytes_max : SP_GW_ENROL_CSV_BYTES_MAX,
                  image ? "image_too_large" : "body_too_large", err) != 0)
        return -1;
    return endpoint->handler(req, err);
}

static void log_request(const sp_gw_request *req) {
    int64_t duration_ms = sp_gw_monotonic_ms() - req->started_ms;
    sp_gw_metrics_request(req->app->metrics, req->match.route, req->status, duration_ms);
    char status[16], duration[24];
    snprintf(status, sizeof status, "%d", req->status);
    snprintf(duration, sizeof duration, "%" PRId64, duration_ms);
    sp_log_debug(req->app->log, "request", "method", req->method, "route",
                 sp_gw_route_name(req->match.route), "status", status, "duration_ms", duration,
                 NULL);
}

/* The request once its address may have one more in progress. */
static int serve(const sp_gw_http *http, sp_gw_request *req, const struct mg_request_info *info) {
    if (sp_gw_web_serve(req, info->local_uri_raw != NULL ? info->local_uri_raw : req->path,
                        info->request_uri != NULL ? info->request_uri : req->path)) {
        log_request(req);
        return req->status;
    }
    char *body = NULL;
    sp_error err;
    sp_error_clear(&err);
    int rc = dispatch(http, req, info, &body, &err);
    if (req->status == 0) {
        if (rc == 0) sp_error_set(&err, 500, "internal", "", "the request got no answer");
        sp_gw_answer_error(req, &err);
    }
    free(body);
    log_request(req);
    return req->status;
}

static int on_request(struct mg_connection *conn) {
    sp_gw_http *http = mg_get_user_data(mg_get_context(conn));
    const struct mg_request_info *info = mg_get_request_info(conn);
    assert(http != NULL && info != NULL);
    sp_gw_request req;
    memset(&req, 0, sizeof req);
    req.conn = conn;
    req.app = http->app;
    req.method = info->request_method != NULL ? info->request_method : "";
    req.path = info->local_uri != NULL ? info->local_uri : "";
    req.query = info->query_string;
    req.body = "";
    sp_gw_client_address(http->app->proxies, info->remote_addr,
                         mg_get_header(conn, "X-Forwarded-For"), req.client_address);
    req.started_ms = sp_gw_monotonic_ms();
    req.deadline_ms = req.started_ms + http->app->config->command_timeout_ms;
    /* One address's slow bodies, streams and slow readers cannot take every
     * thread; refused before anything is read. */
    if (!sp_gw_inflight_enter(http->app->inflight, req.client_address)) {
        sp_error busy;
        sp_error_set(&busy, 429, "too_many_requests", "",
                     "this address already has %" PRId64 " requests in progress: wait for one "
                     "to end",
                     http->app->config->http_requests_per_address_max);
        req.retry_after_s = 1;
        sp_gw_answer_error(&req, &busy);
        log_request(&req);
        return req.status;
    }
    int status = serve(http, &req, info);
    sp_gw_inflight_leave(http->app->inflight, req.client_address);
    return status;
}

/* The code of an error civetweb answers itself, before any handler runs: a
 * request line or headers it cannot parse, or too large for its buffer. */
static const char *civetweb_error_code(int status) {
    if (status == 413 || status == 431) return "headers_too_large";
    if (status == 408) return "request_timeout";
    if (status == 505) return "http_version_not_supported";
    if (status >= 500) return "internal";
    return "malformed_request";
}

/* civetweb's own error answers (plain text) become problems like every
 * other; the connection is closed after them, as civetweb would. */
static int on_http_error(struct mg_connection *conn, int status, const char *errmsg) {
    sp_error err;
    const char *why = errmsg != NULL && errmsg[0] != '\0' ? errmsg : "malformed request";
    /* civetweb reads at most SP_GW_HTTP_HEAD_BYTES_MAX of request line and
     * headers; beyond, it calls the request malformed. */
    if (status == 400)
        sp_error_set(&err, 400, "malformed_request", "",
                     "the request line or headers are malformed or larger than %d bytes (%.80s)",
                     SP_GW_HTTP_HEAD_BYTES_MAX, why);
    else
        sp_error_set(&err, status >= 400 && status <= 599 ? status : 400,
                     civetweb_error_code(status), "", "%.120s", why);
    char *text = sp_gw_error_json(&err);
    if (text == NULL) return 1; /* civetweb's own text, then */
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: " SP_GW_PROBLEM_CONTENT_TYPE "\r\n"
              "Content-Length: %zu\r\nCache-Control: no-store\r\n"
              "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n%s",
              err.http_status, mg_get_response_code_text(conn, err.http_status), strlen(text),
              text);
    free(text);
    return 0;
}

static int on_log_message(const struct mg_connection *conn, const char *message) {
    const struct mg_context *ctx = conn != NULL ? mg_get_context(conn) : NULL;
    sp_gw_http *http = ctx != NULL ? mg_get_user_data(ctx) : NULL;
    if (http == NULL) return 0;
    sp_log_warn(http->app->log, "civetweb", "detail", message, NULL);
    return 1;
}

/* ------------------------------------------------------------------ server */

sp_gw_http *sp_gw_http_start(sp_gw_app *app, sp_error *err) {
    assert(app != NULL && app->config != NULL);
    const sp_gw_config *config = app->config;
    sp_gw_http *http = calloc(1, sizeof *http);
    if (http == NULL) {
        sp_error_set(err, 500, "out_of_memory", NULL, "http");
        return NULL;
    }
    http->app = app;
    if (sp_gw_openapi_query_names(http->query_names, SP_GW_ROUTE_COUNT, err) != 0) {
        free(http);
        return NULL;
    }
    char listen[SP_GW_LISTEN_TEXT_MAX], threads[16], timeout[16], keep_alive[16];
    bool ipv6 = strchr(config->http_address, ':') != NULL;
    snprintf(listen, sizeof listen, ipv6 ? "[%s]:%" PRId64 : "%s:%" PRId64, config->http_address,
             config->http_port);
    snprintf(threads, sizeof threads, "%" PRId64, config->http_threads);
    snprintf(timeout, sizeof timeout, "%" PRId64, config->http_request_timeout_ms);
    snprintf(keep_alive, sizeof keep_alive, "%d", SP_GW_HTTP_KEEP_ALIVE_MS);
    char head_bytes[16];
    snprintf(head_bytes, sizeof head_bytes, "%d", SP_GW_HTTP_HEAD_BYTES_MAX);
    const char *options[] = {"listening_ports", listen, "num_threads", threads,
                             "request_timeout_ms", timeout, "enable_keep_alive", "yes",
                             "keep_alive_timeout_ms", keep_alive,
                             /* Headers and body go out in separate writes: without
                              * TCP_NODELAY the second waits for the client's delayed
                              * ACK, 40 ms per answer. */
                             "tcp_nodelay", "1", "max_request_size", head_bytes, NULL};
    struct mg_callbacks callbacks;
    memset(&callbacks, 0, sizeof callbacks);
    callbacks.begin_request = on_request;
    callbacks.log_message = on_log_message;
    callbacks.http_error = on_http_error;
    http->ctx = mg_start(&callbacks, http, options);
    if (http->ctx == NULL) {
        sp_error_set(err, 500, "http_listen_failed", "SP_HTTP_PORT",
                     "cannot serve HTTP on %s (address in use or not local?)", listen);
        free(http);
        return NULL;
    }
    return http;
}

void sp_gw_http_stop(sp_gw_http *http) {
    if (http == NULL) return;
    mg_stop(http->ctx);
    free(http);
}
