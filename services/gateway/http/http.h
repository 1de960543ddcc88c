/* http.h - the civetweb server: one handler for every path, which reads the
 * body (at most 16 KiB), finds the route, checks the session and role the
 * route needs (all from the endpoint table, endpoints.h), calls the route's
 * function, and answers JSON - errors as application/problem+json (RFC 9457,
 * with the members code, message and field) - then logs and counts the
 * request.
 *
 * A session is a bearer token or the browser's sp_session cookie
 * (session_cookie.h): a cookie-authenticated request that may change
 * something is refused with 403 bad_origin before its body is read unless
 * its Origin is SP_PUBLIC_URL. Paths outside the API are the web apps'
 * files (web_serve.h). Every text/html answer carries the security headers.
 *
 * A route function answers through sp_gw_answer_*() and returns 0, or
 * returns -1 with err filled and lets this module answer the error. Errors
 * of status 500 and above are logged here with their detail and answered
 * with a generic message.
 * Ownership: a sp_gw_request lives on the worker thread's stack for one
 * request; its body buffer is owned by this module. */
#ifndef SP_GW_HTTP_H
#define SP_GW_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "auth.h"
#include "gateway.h"
#include "proxies.h"
#include "reply.pb-c.h"
#include "session_cookie.h"
#include "sp_error.h"
#include "validate.h"

#define SP_GW_HTTP_KEEP_ALIVE_MS 5000

struct mg_connection;
typedef struct sp_gw_http sp_gw_http;

typedef struct sp_gw_request {
    struct mg_connection *conn;
    sp_gw_app *app;
    const char *method;
    const char *path;
    const char *query; /* raw query string, NULL when none */
    sp_gw_route_match match;
    const char *body; /* NUL-terminated; "" when none */
    size_t body_len;
    sp_gw_user user;       /* filled when the route needs a session */
    int64_t started_ms;    /* monotonic */
    int64_t deadline_ms;   /* started_ms + SP_COMMAND_TIMEOUT_MS */
    int status;            /* what was answered, 0 until then */
    int64_t retry_after_s; /* > 0: a Retry-After header goes with the answer */
    char set_cookie[SP_GW_SET_COOKIE_LEN_MAX + 1]; /* "" or a Set-Cookie for the answer */
    char client_address[SP_GW_CLIENT_ADDRESS_MAX]; /* see sp_gw_request_address */
} sp_gw_request;

/* Starts listening; NULL + err when the address cannot be bound. */
sp_gw_http *sp_gw_http_start(sp_gw_app *app, sp_error *err);
/* Stops accepting, waits for the requests in progress, frees. */
void sp_gw_http_stop(sp_gw_http *http);

/* The client's IP address as text: civetweb's remote_addr, or behind a
 * trusted proxy the address it forwarded for (proxies.h). */
const char *sp_gw_request_address(const sp_gw_request *req);

/* A request header (case-insensitive name), NULL when absent. */
const char *sp_gw_request_header(const sp_gw_request *req, const char *name);

/* Body text (content_type NULL: application/json). */
int sp_gw_answer_text(sp_gw_request *req, int status, const char *content_type, const char *body,
                      size_t body_len, bool replayed);
/* Dumps and answers value, then drops the reference (the value is stolen). */
int sp_gw_answer_json(sp_gw_request *req, int status, json_t *value, bool replayed);
int sp_gw_answer_no_content(sp_gw_request *req);
/* 200 with a file to save (Content-Disposition: attachment) under filename,
 * which holds no quote, backslash, slash or line break. */
int sp_gw_answer_attachment(sp_gw_request *req, const char *content_type, const char *filename,
                            const void *body, size_t body_len);
/* 200 with content that never changes under its name (images by SHA-256):
 * Cache-Control public and immutable, ETag "<etag>". */
int sp_gw_answer_immutable(sp_gw_request *req, const char *content_type, const void *body,
                           size_t body_len, const char *etag);
/* 200 with content that may change (Cache-Control: no-cache, ETag
 * "<etag>"), or 304 without it when If-None-Match names that ETag. */
int sp_gw_answer_revalidated(sp_gw_request *req, const char *content_type, const void *body,
                             size_t body_len, const char *etag);
int sp_gw_answer_error(sp_gw_request *req, const sp_error *err);
/* A problem object (sp_gw_problem_new(), maybe with more members) as
 * application/problem+json with its "status"; takes the reference. */
int sp_gw_answer_problem(sp_gw_request *req, json_t *problem, bool replayed);
/* A command's reply as the answer: its http_status with result_json, or its
 * error; Idempotent-Replayed: true when it was replayed. */
int sp_gw_answer_reply(sp_gw_request *req, const Solipass__Reply *reply, sp_error *err);
/* The error a refused command's reply carries. */
void sp_gw_reply_error(const Solipass__Reply *reply, sp_error *err);

#endif
