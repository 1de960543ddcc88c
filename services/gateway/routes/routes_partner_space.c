/* routes_partner_space.c - the partner space beyond its record: the
 * partner's QR code (PNG, SVG) and printable A4 poster, the service's
 * contact block, and the live stream of the payments made at its place
 * (Server-Sent Events). The partner is always the session's.
 *
 * The QR code encodes the link "<SP_PUBLIC_URL>/payer/<partner code>": a
 * phone's camera opens the beneficiary app's payment screen for this
 * partner, where the same checks (Luhn digit, lookup) apply to the code as
 * when a person types it. The poster still shows the 8 digits to type. */
#include "routes.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <civetweb.h>
#include "partner_space.h"
#include "pgpool.h"
#include "html_page.h"
#include "web_files.h"
#include "qr.h"

#define POSTER_BYTES_MAX (128 * 1024)
#define STREAM_POLL_MS 200 /* a payment shows within this (plus the query) */
/* A comment line every second: proxies keep the stream, and a client that
 * left (a page changed, a tab closed) is noticed by the second write after
 * it, so its thread and its partner's stream slot are free within ~2 s. */
#define STREAM_HEARTBEAT_MS 1000
#define STREAM_LOOKBACK_MS 5000 /* rows made visible this late are still sent */
#define STREAM_ROWS_PER_POLL_MAX 100
#define STREAM_RETRY_MS 1000 /* the client's reconnection delay */
#define STREAM_BUSY_RETRY_AFTER_S 5
#define STREAM_SESSION_CHECK_MS 500 /* a logged-out or removed user's stream ends within 1 s */
#define ZERO_ID "00000000-0000-0000-0000-000000000000"

/* clang-format off */
static const char partner_sql[] =
    "SELECT partner_code, name FROM partners WHERE partner_id = $1::uuid";
/* clang-format on */

/* The session's partner's code and name (a result the caller PQclear()s). */
static int own_partner(sp_gw_request *req, PGresult **res, sp_error *err) {
    *res = NULL;
    if (!sp_id_valid(req->user.partner_id)) {
        return sp_error_set(err, 403, "forbidden", "", "this account belongs to no partner");
    }
    const char *params[1] = {req->user.partner_id};
    if (sp_gw_pgpool_query(req->app->pool, partner_sql, 1, params, res, err) != 0) return -1;
    const char *code = PQntuples(*res) == 1 ? PQgetvalue(*res, 0, 0) : "";
    if (strlen(code) == SP_PARTNER_CODE_LEN && sp_luhn_valid(code)) return 0;
    bool unknown = PQntuples(*res) == 0;
    PQclear(*res);
    *res = NULL;
    if (unknown) {
        return sp_error_set(err, 404, "partner_not_found", "",
                            "this account's partner is not known yet");
    }
    return sp_error_set(err, 500, "internal", "", "a stored partner code breaks the schema");
}

/* ------------------------------------------------------------------ QR code */

/* The payment link of the partner whose code is in res. */
static int payer_url_of(const sp_gw_request *req, const PGresult *res,
                        char url[SP_GW_PAYER_URL_LEN_MAX + 1], sp_error *err) {
    if (sp_gw_payer_url(req->app->config->public_url, PQgetvalue(res, 0, 0), url) == 0) return 0;
    return sp_error_set(err, 500, "internal", "", "the payment link is too long");
}

int sp_gw_route_partner_qr_svg(sp_gw_request *req, sp_error *err) {
    PGresult *res = NULL;
    if (own_partner(req, &res, err) != 0) return -1;
    char *svg = NULL;
    size_t len = 0;
    char url[SP_GW_PAYER_URL_LEN_MAX + 1];
    int rc = payer_url_of(req, res, url, err);
    if (rc == 0) rc = sp_gw_qr_svg(url, &svg, &len, err);
    PQclear(res);
    if (rc != 0) return -1;
    sp_gw_answer_text(req, 200, "image/svg+xml", svg, len, false);
    free(svg);
    return 0;
}

int sp_gw_route_partner_qr_png(sp_gw_request *req, sp_error *err) {
    PGresult *res = NULL;
    if (own_partner(req, &res, err) != 0) return -1;
    unsigned char *png = NULL;
    size_t len = 0;
    char url[SP_GW_PAYER_URL_LEN_MAX + 1];
    int rc = payer_url_of(req, res, url, err);
    if (rc == 0) rc = sp_gw_qr_png(url, &png, &len, err);
    PQclear(res);
    if (rc != 0) return -1;
    sp_gw_answer_text(req, 200, "image/png", (const char *)png, len, false);
    free(png);
    return 0;
}

/* ------------------------------------------------------------------ poster */

/* The style is a stylesheet of the gateway's (web_files.h): the page's
 * Content-Security-Policy allows no inline style. */
static void poster_head(sp_gw_html *p, const char *name) {
    sp_gw_html_add(p, "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>");
    sp_gw_html_add_escaped(p, name);
    sp_gw_html_add(p, " — Pass solidarité</title>"
                      "<link rel=\"stylesheet\" href=\"" SP_GW_STYLE_PATH_PREFIX "poster.css\">"
                      "</head><body><main class=\"affiche\">");
}

static int build_poster(const char *name, const char *code, const char *svg,
                        const sp_gw_contact *contact, sp_gw_html *p, sp_error *err) {
    poster_head(p, name);
    sp_gw_html_add(p, "<h1>");
    sp_gw_html_add_escaped(p, name);
    sp_gw_html_add(p,
                   "</h1><p class=\"accepte\">Ici, payez avec votre <strong>Pass solidarité"
                   "</strong></p><div class=\"qr\">%s</div><p>Code partenaire :</p>"
                   "<p class=\"code\">%.4s %.4s</p>",
                   svg, code, code + 4);
    sp_gw_html_add(
        p, "<ol><li>Scannez ce QR code avec l'appareil photo de votre téléphone : "
           "la page de paiement du Pass solidarité s'ouvre pour ce lieu.</li>"
           "<li>Ou bien ouvrez l'application Pass solidarité, touchez « Utiliser » et tapez "
           "le code partenaire ci-dessus.</li>"
           "<li>Saisissez le montant, puis validez : le paiement est immédiat et le solde "
           "de votre pass est mis à jour.</li>"
           "<li>Montrez l'écran de confirmation au guichet.</li></ol>"
           "<p>Pas de téléphone ? Demandez un bon d'échange au CCAS et remettez-le ici.</p>"
           "<p class=\"contact\">Pass solidarité — ");
    sp_gw_html_add_escaped(p, contact->hours);
    sp_gw_html_add(p, " — ");
    sp_gw_html_add_escaped(p, contact->email);
    for (size_t i = 0; i < contact->phone_count; i++) {
        sp_gw_html_add(p, " — ");
        sp_gw_html_add_escaped(p, contact->phones[i]);
    }
    sp_gw_html_add(p, "</p></main></body></html>\n");
    if (p->overflow) {
        return sp_error_set(err, 500, "internal", "", "the poster is larger than %d bytes",
                            POSTER_BYTES_MAX);
    }
    return 0;
}

int sp_gw_route_partner_poster(sp_gw_request *req, sp_error *err) {
    if (req->query != NULL && req->query[0] != '\0') {
        return sp_error_set(err, 400, "unknown_field", "", "this page takes no parameter");
    }
    PGresult *res = NULL;
    if (own_partner(req, &res, err) != 0) return -1;
    char *svg = NULL;
    size_t svg_len = 0;
    sp_gw_html p = {.data = malloc(POSTER_BYTES_MAX), .size = POSTER_BYTES_MAX};
    int rc = p.data != NULL ? 0 : sp_error_set(err, 503, "unavailable", "", "out of memory");
    char url[SP_GW_PAYER_URL_LEN_MAX + 1];
    if (rc == 0) rc = payer_url_of(req, res, url, err);
    if (rc == 0) rc = sp_gw_qr_svg(url, &svg, &svg_len, err);
    if (rc == 0) {
        rc = build_poster(PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 0), svg, req->app->contact, &p,
                          err);
    }
    if (rc == 0) sp_gw_answer_text(req, 200, "text/html; charset=utf-8", p.data, p.len, false);
    PQclear(res);
    free(svg);
    free(p.data);
    return rc;
}

/* ------------------------------------------------------------------ contact */

int sp_gw_route_contact(sp_gw_request *req, sp_error *err) {
    json_t *contact = sp_gw_contact_json(req->app->contact);
    if (contact == NULL) return sp_error_set(err, 503, "unavailable", "", "out of memory");
    return sp_gw_answer_json(req, 200, contact, false);
}

/* ------------------------------------------------------------------ live operations */

typedef struct stream {
    sp_gw_request *req;
    char partner_id[SP_ID_LEN + 1];
    int64_t floor_ms; /* nothing at or before (floor_ms, floor_id) is sent */
    char floor_id[SP_ID_LEN + 1];
    int64_t last_ms; /* occurred_at of the newest row sent */
    sp_gw_sse_sent sent;
    int64_t last_write_ms;      /* monotonic */
    int64_t session_checked_ms; /* monotonic */
} stream;

static int stream_write(stream *s, const char *data, size_t len) {
    int n = mg_send_chunk(s->req->conn, data, (unsigned int)len);
    if (n <= 0) return -1;
    s->last_write_ms = sp_gw_monotonic_ms();
    return 0;
}

/* Sends one row; -1 when the client is gone. */
static int stream_send_row(stream *s, const PGresult *res, int row, sp_error *err) {
    int64_t at_ms = 0;
    json_t *op = sp_gw_operation_json(res, row, SP_GW_OPERATIONS_OF_PARTNER, &at_ms, err);
    char *data = op != NULL ? json_dumps(op, JSON_COMPACT) : NULL;
    json_decref(op);
    if (data == NULL) return -1;
    const char *operation_id = PQgetvalue(res, row, 0);
    char id[SP_GW_SSE_ID_LEN_MAX + 1];
    sp_gw_sse_id_format(at_ms, operation_id, id);
    size_t len = 0;
    char *event = sp_gw_sse_event_format(id, "operation", data, &len);
    free(data);
    int rc = event != NULL ? stream_write(s, event, len) : -1;
    free(event);
    if (rc != 0) return -1;
    sp_gw_sse_sent_add(&s->sent, operation_id);
    if (at_ms > s->last_ms) s->last_ms = at_ms;
    return 0;
}

/* One look at the read model; -1 when the client is gone or the database fails. */
static int stream_poll(stream *s, sp_error *err) {
    char floor_ms[24], since_ms[24], limit[16];
    char *sent_ids = malloc(SP_GW_SSE_SENT_ARRAY_MAX + 1);
    if (sent_ids == NULL) return sp_error_set(err, 503, "unavailable", "", "out of memory");
    int64_t since = s->last_ms - STREAM_LOOKBACK_MS;
    snprintf(floor_ms, sizeof floor_ms, "%" PRId64, s->floor_ms);
    snprintf(since_ms, sizeof since_ms, "%" PRId64, since > s->floor_ms ? since : s->floor_ms);
    snprintf(limit, sizeof limit, "%d", STREAM_ROWS_PER_POLL_MAX);
    sp_gw_sse_sent_array(&s->sent, sent_ids);
    const char *params[6] = {s->partner_id, floor_ms, s->floor_id, since_ms, limit, sent_ids};
    PGresult *res = NULL;
    int rc = sp_gw_pgpool_query(s->req->app->pool, sp_gw_partner_operations_stream_sql, 6, params,
                                &res, err);
    free(sent_ids);
    for (int row = 0; rc == 0 && row < PQntuples(res); row++) {
        rc = stream_send_row(s, res, row, err);
    }
    PQclear(res);
    return rc;
}

/* Where the stream starts: after the Last-Event-ID a reconnecting client
 * sends, else now (what happened before is in GET /partner/operations). */
static int stream_start_position(stream *s, sp_error *err) {
    const char *last = sp_gw_request_header(s->req, "Last-Event-ID");
    if (last != NULL && last[0] != '\0') {
        if (sp_gw_sse_id_parse(last, &s->floor_ms, s->floor_id, err) != 0) return -1;
    } else {
        s->floor_ms = sp_clock_now_ms(s->req->app->clock);
        snprintf(s->floor_id, sizeof s->floor_id, "%s", ZERO_ID);
    }
    s->last_ms = s->floor_ms;
    return 0;
}

static int stream_headers(stream *s) {
    struct mg_connection *conn = s->req->conn;
    mg_response_header_start(conn, 200);
    mg_response_header_add(conn, "Content-Type", "text/event-stream; charset=utf-8", -1);
    mg_response_header_add(conn, "Cache-Control", "no-store", -1);
    mg_response_header_add(conn, "X-Content-Type-Options", "nosniff", -1);
    mg_response_header_add(conn, "X-Accel-Buffering", "no", -1);
    mg_response_header_add(conn, "Transfer-Encoding", "chunked", -1);
    mg_response_header_send(conn);
    s->req->status = 200;
    char retry[32];
    int n = snprintf(retry, sizeof retry, "retry: %d\n\n", STREAM_RETRY_MS);
    return stream_write(s, retry, (size_t)n);
}

/* Polls until the client leaves, the stream's time is up or the gateway stops. */
static void stream_run(stream *s) {
    static const char heartbeat[] = ": keep-alive\n\n";
    int64_t end_ms = sp_gw_monotonic_ms() + s->req->app->config->sse_s_max * 1000;
    struct timespec pause = {.tv_sec = 0, .tv_nsec = STREAM_POLL_MS * 1000000L};
    s->session_checked_ms = sp_gw_monotonic_ms();
    while (!sp_gw_streams_stopping(s->req->app->streams) && sp_gw_monotonic_ms() < end_ms) {
        sp_error poll_err;
        sp_error_clear(&poll_err);
        /* Authorised at every look, not only when it opened: a logout, a
         * removal or a new role ends the stream (the client's reconnection
         * then gets its 401 or 403). */
        if (sp_gw_monotonic_ms() - s->session_checked_ms >= STREAM_SESSION_CHECK_MS) {
            if (sp_gw_auth_still_valid(s->req->app, &s->req->user, &poll_err) != 0) break;
            s->session_checked_ms = sp_gw_monotonic_ms();
        }
        if (stream_poll(s, &poll_err) != 0) {
            if (poll_err.code[0] != '\0') {
                sp_log_warn(s->req->app->log, "operations stream ends", "code", poll_err.code,
                            "error", poll_err.message, NULL);
            }
            return;
        }
        if (sp_gw_monotonic_ms() - s->last_write_ms >= STREAM_HEARTBEAT_MS &&
            stream_write(s, heartbeat, sizeof heartbeat - 1) != 0) {
            return;
        }
        nanosleep(&pause, NULL);
    }
    mg_send_chunk(s->req->conn, "", 0); /* the last chunk: the response is complete */
}

int sp_gw_route_partner_operations_stream(sp_gw_request *req, sp_error *err) {
    if (req->query != NULL && req->query[0] != '\0') {
        return sp_error_set(err, 400, "unknown_field", "", "this stream takes no parameter");
    }
    if (!sp_id_valid(req->user.partner_id)) {
        return sp_error_set(err, 403, "forbidden", "", "this account belongs to no partner");
    }
    stream *s = calloc(1, sizeof *s);
    if (s == NULL) return sp_error_set(err, 503, "unavailable", "", "out of memory");
    s->req = req;
    snprintf(s->partner_id, sizeof s->partner_id, "%s", req->user.partner_id);
    sp_gw_sse_sent_init(&s->sent);
    int rc = stream_start_position(s, err);
    sp_gw_streams_entry entry = SP_GW_STREAMS_FULL;
    if (rc == 0) entry = sp_gw_streams_enter_partner(req->app->streams, s->partner_id);
    if (rc == 0 && entry == SP_GW_STREAMS_PARTNER_FULL) {
        req->retry_after_s = STREAM_BUSY_RETRY_AFTER_S;
        rc = sp_error_set(err, 429, "too_many_streams", "",
                          "this partner already has %d live streams open",
                          SP_GW_SSE_STREAMS_PER_PARTNER_MAX);
    } else if (rc == 0 && entry == SP_GW_STREAMS_FULL) {
        req->retry_after_s = STREAM_BUSY_RETRY_AFTER_S;
        rc = sp_error_set(err, 503, "unavailable", "",
                          "too many live streams are open: retry later");
    } else if (rc == 0) {
        if (stream_headers(s) == 0) stream_run(s);
        sp_gw_streams_leave_partner(req->app->streams, s->partner_id);
    }
    free(s);
    return rc;
}
