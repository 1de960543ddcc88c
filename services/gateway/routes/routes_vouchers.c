/* routes_vouchers.c - exchange vouchers (bons d'échange): a beneficiary (or
 * the back-office for one) issues a voucher, which reserves its amount on
 * the pass at once; lists, prints (HTML for A4 or A6 paper, the QR code
 * inline as SVG) and downloads its QR code; cancels it. A partner user
 * redeems it by number: the gateway finds the voucher's pass in the read
 * model and sends RedeemVoucher to that pass's ledger partition, whose
 * single writer lets exactly one redemption through. Wrong numbers count
 * against the user (SP_GW_VOUCHER_FAILURES_MAX per SP_GW_VOUCHER_WINDOW_MS). */
#include "routes.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ledger.pb-c.h"
#include "pgpool.h"
#include "ratelimit.h"
#include "sp_kafka.h"
#include "sp_money.h"
#include "html_page.h"
#include "web_files.h"
#include "qr.h"

#define VOUCHERS_LIST_MAX 500
#define PRINT_PAGE_BYTES_MAX (128 * 1024)

/* clang-format off */
#define VOUCHER_SELECT                                                                        \
    "SELECT v.voucher_id, v.number, v.status, v.pass_id, v.amount_cents, v.category,"         \
    " coalesce(v.partner_id::text, ''), coalesce(p.partner_code, ''), coalesce(p.name, ''),"  \
    " v.valid_until::text, floor(extract(epoch FROM v.issued_at) * 1000)::bigint,"            \
    " coalesce(floor(extract(epoch FROM v.closed_at) * 1000)::bigint::text, ''),"             \
    " coalesce(v.redeemed_partner_id::text, ''), coalesce(u.full_name, '')"                   \
    " FROM vouchers v LEFT JOIN partners p ON p.partner_id = v.partner_id"                    \
    " LEFT JOIN passes s ON s.pass_id = v.pass_id LEFT JOIN users u ON u.user_id = s.beneficiary_id"

static const char voucher_sql[] = VOUCHER_SELECT " WHERE v.voucher_id = $1::uuid";
static const char pass_vouchers_sql[] =
    VOUCHER_SELECT " WHERE v.pass_id = $1::uuid ORDER BY v.issued_at DESC, v.voucher_id"
    " LIMIT $2::integer";
/* Numbers are not unique (random): the active voucher wins, then the newest. */
static const char by_number_sql[] =
    "SELECT voucher_id, pass_id, status, valid_until < $2::date,"
    " coalesce(redeemed_partner_id = $3::uuid, false) FROM vouchers"
    " WHERE number = $1 ORDER BY (status = 'active') DESC, issued_at DESC LIMIT 1";
static const char partner_code_of_sql[] =
    "SELECT partner_code FROM partners WHERE partner_id = $1::uuid";
static const char partner_known_sql[] = "SELECT 1 FROM partners WHERE partner_code = $1";

enum { V_ID, V_NUMBER, V_STATUS, V_PASS, V_AMOUNT, V_CATEGORY, V_PARTNER, V_CODE,
       V_PARTNER_NAME, V_UNTIL, V_ISSUED_MS, V_CLOSED_MS, V_REDEEMED_BY, V_HOLDER };
/* clang-format on */

/* ------------------------------------------------------------------ read model */

static json_t *id_or_null(const char *text) {
    return text[0] != '\0' ? json_string(text) : json_null();
}

static json_t *voucher_json(const PGresult *res, int row, sp_error *err) {
    int64_t amount_cents = 0, issued_ms = 0, closed_ms = 0;
    const char *closed_text = PQgetvalue(res, row, V_CLOSED_MS);
    if (sp_gw_int64_of(PQgetvalue(res, row, V_AMOUNT), &amount_cents, err) != 0 ||
        sp_gw_int64_of(PQgetvalue(res, row, V_ISSUED_MS), &issued_ms, err) != 0 ||
        (closed_text[0] != '\0' && sp_gw_int64_of(closed_text, &closed_ms, err) != 0)) {
        return NULL;
    }
    char issued_at[SP_GW_INSTANT_LEN + 1], closed_at[SP_GW_INSTANT_LEN + 1] = "";
    sp_gw_instant_format(issued_ms, issued_at);
    if (closed_text[0] != '\0') sp_gw_instant_format(closed_ms, closed_at);
    json_t *voucher = json_pack(
        "{s:s, s:s, s:s, s:s, s:I, s:s, s:o, s:o, s:s, s:s, s:o, s:o}", "voucher_id",
        PQgetvalue(res, row, V_ID), "number", PQgetvalue(res, row, V_NUMBER), "status",
        PQgetvalue(res, row, V_STATUS), "pass_id", PQgetvalue(res, row, V_PASS), "amount_cents",
        (json_int_t)amount_cents, "category", PQgetvalue(res, row, V_CATEGORY), "partner_id",
        id_or_null(PQgetvalue(res, row, V_PARTNER)), "partner_code",
        id_or_null(PQgetvalue(res, row, V_CODE)), "valid_until", PQgetvalue(res, row, V_UNTIL),
        "issued_at", issued_at, "closed_at", id_or_null(closed_at), "redeemed_partner_id",
        id_or_null(PQgetvalue(res, row, V_REDEEMED_BY)));
    if (voucher == NULL) sp_error_set(err, 500, "internal", "", "a voucher could not be shown");
    return voucher;
}

/* The voucher of the path, if the session may see it: its own pass's for a
 * beneficiary (another's is "not found", never "forbidden"), any for the
 * back-office. *res holds one row on success; the caller PQclear()s it. */
static int voucher_of_request(sp_gw_request *req, PGresult **res, sp_error *err) {
    const char *params[1] = {req->match.path_id};
    if (sp_gw_pgpool_query(req->app->pool, voucher_sql, 1, params, res, err) != 0) return -1;
    bool visible = PQntuples(*res) == 1 &&
                   (req->user.role_bit == SP_GW_ROLE_BACKOFFICE ||
                    strcmp(PQgetvalue(*res, 0, V_PASS), req->user.pass_id) == 0);
    if (visible) return 0;
    PQclear(*res);
    *res = NULL;
    return sp_error_set(err, 404, "voucher_not_found", "voucher_id", "no voucher has this id");
}

json_t *sp_gw_pass_vouchers_of(sp_gw_request *req, const char *pass_id, sp_error *err) {
    char limit[16];
    snprintf(limit, sizeof limit, "%d", VOUCHERS_LIST_MAX);
    const char *params[2] = {pass_id, limit};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, pass_vouchers_sql, 2, params, &res, err) != 0)
        return NULL;
    json_t *vouchers = json_array();
    for (int row = 0; vouchers != NULL && row < PQntuples(res); row++) {
        json_t *voucher = voucher_json(res, row, err);
        if (voucher == NULL || json_array_append_new(vouchers, voucher) != 0) {
            json_decref(vouchers);
            vouchers = NULL;
        }
    }
    PQclear(res);
    return vouchers;
}

static int answer_vouchers_of(sp_gw_request *req, const char *pass_id, sp_error *err) {
    if (req->query != NULL && req->query[0] != '\0') {
        return sp_error_set(err, 400, "unknown_field", "", "this endpoint takes no parameter");
    }
    json_t *vouchers = sp_gw_pass_vouchers_of(req, pass_id, err);
    if (vouchers == NULL) return -1;
    return sp_gw_answer_json(req, 200, json_pack("{s:o}", "vouchers", vouchers), false);
}

/* ------------------------------------------------------------------ issue */

static int issue(sp_gw_request *req, const char *pass_id, sp_error *err) {
    const char *key = NULL;
    if (sp_gw_idempotency_key(req, &key, err) != 0) return -1;
    sp_gw_voucher_issue_req body;
    if (sp_gw_parse_voucher_issue(req->body, req->body_len, req->app->config->payment_cents_max,
                                  &body, err) != 0) {
        return -1;
    }
    if (body.partner_code[0] != '\0') {
        const char *params[1] = {body.partner_code};
        PGresult *res = NULL;
        if (sp_gw_pgpool_query(req->app->pool, partner_known_sql, 1, params, &res, err) != 0)
            return -1;
        bool known = PQntuples(res) == 1;
        PQclear(res);
        if (!known) {
            return sp_error_set(err, 404, "partner_not_found", "partner_code",
                                "no partner has this code");
        }
    }
    Solipass__Ledger__IssueVoucher command = SOLIPASS__LEDGER__ISSUE_VOUCHER__INIT;
    command.pass_id = (char *)pass_id;
    command.amount_cents = body.amount_cents;
    command.category = body.category;
    command.partner_code = body.partner_code;
    sp_envelope_meta meta = sp_gw_command_meta(req, "ledger.IssueVoucher.v1", pass_id, key);
    return sp_gw_run_and_answer(req, SP_TOPIC_LEDGER_COMMANDS, &meta, &command.base, err);
}

int sp_gw_route_pass_vouchers_issue(sp_gw_request *req, sp_error *err) {
    if (!sp_id_valid(req->user.pass_id)) {
        return sp_error_set(err, 404, "pass_not_found", "", "this account has no pass");
    }
    return issue(req, req->user.pass_id, err);
}

int sp_gw_route_passes_vouchers_issue(sp_gw_request *req, sp_error *err) {
    bool exists = false;
    if (sp_gw_pass_exists(req, req->match.path_id, &exists, err) != 0) return -1;
    if (!exists) return sp_error_set(err, 404, "pass_not_found", "pass_id", "no pass has this id");
    return issue(req, req->match.path_id, err);
}

/* ------------------------------------------------------------------ lists and one */

int sp_gw_route_pass_vouchers_list(sp_gw_request *req, sp_error *err) {
    if (!sp_id_valid(req->user.pass_id)) {
        return sp_error_set(err, 404, "pass_not_found", "", "this account has no pass");
    }
    return answer_vouchers_of(req, req->user.pass_id, err);
}

int sp_gw_route_passes_vouchers_list(sp_gw_request *req, sp_error *err) {
    bool exists = false;
    if (sp_gw_pass_exists(req, req->match.path_id, &exists, err) != 0) return -1;
    if (!exists) return sp_error_set(err, 404, "pass_not_found", "pass_id", "no pass has this id");
    return answer_vouchers_of(req, req->match.path_id, err);
}

int sp_gw_route_voucher_get(sp_gw_request *req, sp_error *err) {
    PGresult *res = NULL;
    if (voucher_of_request(req, &res, err) != 0) return -1;
    json_t *voucher = voucher_json(res, 0, err);
    PQclear(res);
    if (voucher == NULL) return -1;
    return sp_gw_answer_json(req, 200, voucher, false);
}

/* ------------------------------------------------------------------ QR codes */

int sp_gw_route_voucher_qr_svg(sp_gw_request *req, sp_error *err) {
    PGresult *res = NULL;
    if (voucher_of_request(req, &res, err) != 0) return -1;
    char *svg = NULL;
    size_t len = 0;
    int rc = sp_gw_qr_svg(PQgetvalue(res, 0, V_NUMBER), &svg, &len, err);
    PQclear(res);
    if (rc != 0) return -1;
    sp_gw_answer_text(req, 200, "image/svg+xml", svg, len, false);
    free(svg);
    return 0;
}

int sp_gw_route_voucher_qr_png(sp_gw_request *req, sp_error *err) {
    PGresult *res = NULL;
    if (voucher_of_request(req, &res, err) != 0) return -1;
    unsigned char *png = NULL;
    size_t len = 0;
    int rc = sp_gw_qr_png(PQgetvalue(res, 0, V_NUMBER), &png, &len, err);
    PQclear(res);
    if (rc != 0) return -1;
    sp_gw_answer_text(req, 200, "image/png", (const char *)png, len, false);
    free(png);
    return 0;
}

/* ------------------------------------------------------------------ print page */

/* "format=a4" (the default) or "format=a6". */
static int print_format(const char *query, bool *a6, sp_error *err) {
    *a6 = false;
    if (query == NULL || query[0] == '\0' || strcmp(query, "format=a4") == 0) return 0;
    if (strcmp(query, "format=a6") == 0) {
        *a6 = true;
        return 0;
    }
    if (strncmp(query, "format=", 7) == 0 && strchr(query, '&') == NULL) {
        return sp_error_set(err, 400, "invalid_value", "format", "format must be a4 or a6");
    }
    return sp_error_set(err, 400, "unknown_field", "", "the only parameter is format");
}

static const char *status_notice(const char *status) {
    if (strcmp(status, "redeemed") == 0)
        return "Ce bon a déjà été utilisé : il n'est plus valable.";
    if (strcmp(status, "cancelled") == 0) return "Ce bon a été annulé : il n'est plus valable.";
    if (strcmp(status, "expired") == 0) return "Ce bon a expiré : il n'est plus valable.";
    return NULL;
}

/* The style is a stylesheet of the gateway's (web_files.h): the pages'
 * Content-Security-Policy allows no inline style. */
static void page_head(sp_gw_html *p, bool a6, const char *grouped) {
    sp_gw_html_add(p,
                   "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\">"
                   "<title>Bon d'échange %s</title>"
                   "<link rel=\"stylesheet\" href=\"" SP_GW_STYLE_PATH_PREFIX "voucher-%s.css\">"
                   "</head><body><main class=\"bon\">",
                   grouped, a6 ? "a6" : "a4");
}

static int build_print_page(const PGresult *res, bool a6, const char *svg, sp_gw_html *p,
                            sp_error *err) {
    int64_t amount_cents = 0;
    if (sp_gw_int64_of(PQgetvalue(res, 0, V_AMOUNT), &amount_cents, err) != 0) return -1;
    const char *number = PQgetvalue(res, 0, V_NUMBER);
    const char *until = PQgetvalue(res, 0, V_UNTIL);
    char grouped[SP_VOUCHER_NUMBER_GROUPED_LEN + 1], amount[SP_MONEY_FORMAT_MAX];
    if (!sp_voucher_number_valid(number) || strlen(until) != 10) {
        return sp_error_set(err, 500, "internal", "", "a stored voucher breaks the schema");
    }
    sp_voucher_number_group(number, grouped);
    sp_money_format_eur(amount_cents, amount, sizeof amount);
    page_head(p, a6, grouped);
    sp_gw_html_add(p, "<h1>Bon d'échange — Pass solidarité</h1><p class=\"nom\">Bénéficiaire : ");
    sp_gw_html_add_escaped(p, PQgetvalue(res, 0, V_HOLDER));
    sp_gw_html_add(p,
                   "</p><p class=\"montant\">%s</p><p>Numéro du bon :</p>"
                   "<p class=\"numero\">%s</p><div class=\"qr\">%s</div>"
                   "<p>Valable jusqu'au <strong>%.2s/%.2s/%.4s</strong> inclus.</p>",
                   amount, grouped, svg, until + 8, until + 5, until);
    if (PQgetvalue(res, 0, V_CODE)[0] != '\0') {
        sp_gw_html_add(p, "<p>Utilisable uniquement chez : <strong>");
        sp_gw_html_add_escaped(p, PQgetvalue(res, 0, V_PARTNER_NAME));
        sp_gw_html_add(p, "</strong> (code partenaire %s).</p>", PQgetvalue(res, 0, V_CODE));
    }
    const char *notice = status_notice(PQgetvalue(res, 0, V_STATUS));
    if (notice != NULL) sp_gw_html_add(p, "<p class=\"avis\">%s</p>", notice);
    sp_gw_html_add(p,
                   "<ol><li>Remettez ce bon à un partenaire du Pass solidarité.</li>"
                   "<li>Le partenaire scanne le QR code ou saisit le numéro dans son espace "
                   "partenaire : il est crédité du montant, en une seule fois.</li>"
                   "<li>Un bon ne sert qu'une fois. Gardez-le comme un billet : qui a le numéro "
                   "peut l'utiliser.</li>"
                   "<li>Non utilisé à la date limite, le montant revient sur votre pass.</li></ol>"
                   "</main></body></html>\n");
    if (p->overflow) {
        return sp_error_set(err, 500, "internal", "", "the print page is larger than %d bytes",
                            PRINT_PAGE_BYTES_MAX);
    }
    return 0;
}

int sp_gw_route_voucher_print(sp_gw_request *req, sp_error *err) {
    bool a6 = false;
    if (print_format(req->query, &a6, err) != 0) return -1;
    PGresult *res = NULL;
    if (voucher_of_request(req, &res, err) != 0) return -1;
    char *svg = NULL;
    size_t svg_len = 0;
    sp_gw_html p = {.data = malloc(PRINT_PAGE_BYTES_MAX), .size = PRINT_PAGE_BYTES_MAX};
    int rc = p.data != NULL ? 0 : sp_error_set(err, 503, "unavailable", "", "out of memory");
    if (rc == 0) rc = sp_gw_qr_svg(PQgetvalue(res, 0, V_NUMBER), &svg, &svg_len, err);
    if (rc == 0) rc = build_print_page(res, a6, svg, &p, err);
    if (rc == 0) sp_gw_answer_text(req, 200, "text/html; charset=utf-8", p.data, p.len, false);
    PQclear(res);
    free(svg);
    free(p.data);
    return rc;
}

/* ------------------------------------------------------------------ cancel */

int sp_gw_route_voucher_cancel(sp_gw_request *req, sp_error *err) {
    const char *key = NULL;
    if (sp_gw_idempotency_key(req, &key, err) != 0) return -1;
    if (req->body_len > 0 && strspn(req->body, " \t\r\n") != req->body_len &&
        strcmp(req->body, "{}") != 0) {
        return sp_error_set(err, 400, "unknown_field", "", "this endpoint takes no body");
    }
    PGresult *res = NULL;
    if (voucher_of_request(req, &res, err) != 0) return -1;
    char pass_id[SP_ID_LEN + 1];
    snprintf(pass_id, sizeof pass_id, "%s", PQgetvalue(res, 0, V_PASS));
    PQclear(res);
    Solipass__Ledger__CancelVoucher command = SOLIPASS__LEDGER__CANCEL_VOUCHER__INIT;
    command.pass_id = pass_id;
    command.voucher_id = req->match.path_id;
    sp_envelope_meta meta = sp_gw_command_meta(req, "ledger.CancelVoucher.v1", pass_id, key);
    return sp_gw_run_and_answer(req, SP_TOPIC_LEDGER_COMMANDS, &meta, &command.base, err);
}

/* ------------------------------------------------------------------ redeem */

static int too_many_attempts(sp_gw_request *req, int64_t wait_ms, sp_error *err) {
    req->retry_after_s = (wait_ms + 999) / 1000;
    return sp_error_set(err, 429, "too_many_attempts", "number",
                        "too many wrong voucher numbers: try again in %" PRId64 " s",
                        req->retry_after_s);
}

/* A mistyped or unknown number counts against the user; err is already
 * the refusal to answer. */
static int wrong_number(sp_gw_request *req, const sp_error *err) {
    assert(err->http_status >= 400 && err->http_status < 500);
    sp_gw_ratelimit_fail(req->app->voucher_by_user, req->user.user_id,
                         sp_clock_now_ms(req->app->clock));
    return -1;
}

typedef struct found_voucher {
    char voucher_id[SP_ID_LEN + 1];
    char pass_id[SP_ID_LEN + 1];
} found_voucher;

/* The voucher a number names; a final one (or one past its last day) is
 * refused here without reaching the log. */
static int voucher_by_number(sp_gw_request *req, const char *number, found_voucher *out,
                             sp_error *err) {
    char today[11];
    sp_date_format(sp_paris_date_of(sp_clock_now_ms(req->app->clock)), today);
    const char *params[3] = {number, today, req->user.partner_id};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, by_number_sql, 3, params, &res, err) != 0) return -1;
    int rc = 0;
    if (PQntuples(res) != 1) {
        sp_error_set(err, 404, "voucher_not_found", "number", "no voucher has this number");
        rc = wrong_number(req, err);
    } else {
        const char *status = PQgetvalue(res, 0, 2);
        bool past = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
        bool redeemed_here = strcmp(PQgetvalue(res, 0, 4), "t") == 0;
        /* Redeemed here: the answer may have been lost, and the retry carries
         * the same Idempotency-Key. The pass's writer remembers that command
         * and replays its outcome (or refuses another key with voucher_used),
         * so the decision is left to it. */
        if (strcmp(status, "redeemed") == 0 && redeemed_here) {
            rc = 0;
        } else if (strcmp(status, "redeemed") == 0) {
            rc = sp_error_set(err, 409, "voucher_used", "number",
                              "this voucher has already been used");
        } else if (strcmp(status, "cancelled") == 0) {
            rc = sp_error_set(err, 409, "voucher_cancelled", "number",
                              "this voucher was cancelled");
        } else if (strcmp(status, "expired") == 0 || past) {
            rc = sp_error_set(err, 409, "voucher_expired", "number", "this voucher has expired");
        }
        snprintf(out->voucher_id, sizeof out->voucher_id, "%s", PQgetvalue(res, 0, 0));
        snprintf(out->pass_id, sizeof out->pass_id, "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return rc;
}

static int own_partner_code(sp_gw_request *req, char code[SP_PARTNER_CODE_LEN + 1], sp_error *err) {
    if (!sp_id_valid(req->user.partner_id)) {
        return sp_error_set(err, 403, "forbidden", "", "this account belongs to no partner");
    }
    const char *params[1] = {req->user.partner_id};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, partner_code_of_sql, 1, params, &res, err) != 0)
        return -1;
    int rc = 0;
    if (PQntuples(res) == 1 && strlen(PQgetvalue(res, 0, 0)) == SP_PARTNER_CODE_LEN) {
        snprintf(code, SP_PARTNER_CODE_LEN + 1, "%s", PQgetvalue(res, 0, 0));
    } else {
        rc = sp_error_set(err, 404, "partner_not_found", "",
                          "this account's partner is not known yet");
    }
    PQclear(res);
    return rc;
}

int sp_gw_route_partner_vouchers_redeem(sp_gw_request *req, sp_error *err) {
    const char *key = NULL;
    if (sp_gw_idempotency_key(req, &key, err) != 0) return -1;
    char partner_code[SP_PARTNER_CODE_LEN + 1];
    if (own_partner_code(req, partner_code, err) != 0) return -1;
    int64_t wait_ms = sp_gw_ratelimit_wait_ms(req->app->voucher_by_user, req->user.user_id,
                                              sp_clock_now_ms(req->app->clock));
    if (wait_ms > 0) return too_many_attempts(req, wait_ms, err);
    sp_gw_voucher_redeem_req body;
    if (sp_gw_parse_voucher_redeem(req->body, req->body_len, &body, err) != 0) {
        return strcmp(err->code, "invalid_voucher_number") == 0 ? wrong_number(req, err) : -1;
    }
    found_voucher found;
    if (voucher_by_number(req, body.number, &found, err) != 0) return -1;
    Solipass__Ledger__RedeemVoucher command = SOLIPASS__LEDGER__REDEEM_VOUCHER__INIT;
    command.pass_id = found.pass_id;
    command.voucher_id = found.voucher_id;
    command.voucher_number = body.number;
    command.partner_code = partner_code;
    /* Keyed by the voucher's pass: every redemption of it goes to one writer. */
    sp_envelope_meta meta = sp_gw_command_meta(req, "ledger.RedeemVoucher.v1", found.pass_id, key);
    return sp_gw_run_and_answer(req, SP_TOPIC_LEDGER_COMMANDS, &meta, &command.base, err);
}
