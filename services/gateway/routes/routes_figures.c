/* routes_figures.c - the city's dashboard (GET /api/v1/dashboard) and the
 * history of a partner or a pass (GET .../history), what the city owes each
 * partner (GET /api/v1/finance/owed): reads of the tables the
 * projection keeps (projection_figures.h), never a scan of the operations.
 * PostgreSQL renders each answer's JSON from those rows in one query; this
 * file checks the query string, the tenant, and pages. */
#include "routes.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "pgpool.h"

#define DASHBOARD_DAYS_DEFAULT 90
#define DASHBOARD_DAYS_MAX 366
#define DASHBOARD_PARTNERS_MAX 10
#define DASHBOARD_MONTHS 12
#define HISTORY_LIMIT_MAX 100
#define NUMBER_TEXT_MAX 24
#define DATE_TEXT_LEN 10

/* ------------------------------------------------------------ dashboard */

/* clang-format off */
/* $1 first day, $2 today (Europe/Paris), $3 first day of the oldest month,
 * $4 now (the instant of as_of). Days without a payment left (all
 * cancelled) are not listed; the twelve months are, even when empty. */
static const char dashboard_sql[] =
    "SELECT json_build_object("
    "'as_of', to_char($4::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
    "'payments_by_day', coalesce((SELECT json_agg(json_build_object('day', "
    "to_char(d.day, 'YYYY-MM-DD'), 'category', d.category, 'count', d.payment_count, "
    "'amount_cents', d.amount_cents) ORDER BY d.day, d.category) FROM figures_daily d "
    "WHERE d.day BETWEEN $1::date AND $2::date AND d.payment_count > 0), '[]'::json), "
    "'budget', coalesce((SELECT json_agg(json_build_object('category', b.category, "
    "'credited_cents', b.credited_cents, 'spent_cents', b.spent_cents, 'expired_cents', "
    "b.expired_cents, 'reserved_cents', b.reserved_cents, 'available_cents', "
    "b.available_cents) ORDER BY b.category) FROM figures_budget b), '[]'::json), "
    "'partners_owed_most', coalesce((SELECT json_agg(json_build_object('partner_id', "
    "p.partner_id, 'name', p.name, 'owed_cents', p.owed_cents) ORDER BY p.owed_cents DESC, "
    "p.partner_id) FROM (SELECT partner_id, name, owed_cents FROM partners WHERE owed_cents > 0 "
    "ORDER BY owed_cents DESC, partner_id LIMIT 10) p), '[]'::json), "
    "'refunds_by_month', (SELECT json_agg(json_build_object('month', to_char(x.month, "
    "'YYYY-MM'), 'pending_count', x.pending_count, 'pending_cents', x.pending_cents, "
    "'paid_count', x.paid_count, 'paid_cents', x.paid_cents) ORDER BY x.month) FROM ("
    "SELECT m.month, "
    "count(r.request_id) FILTER (WHERE r.status IN ('opening', 'pending')) AS pending_count, "
    "coalesce(sum(CASE WHEN r.status = 'opening' THEN r.expected_total_cents "
    "ELSE r.total_cents END) FILTER (WHERE r.status IN ('opening', 'pending')), 0) "
    "AS pending_cents, "
    "count(r.request_id) FILTER (WHERE r.status = 'paid') AS paid_count, "
    "coalesce(sum(r.total_cents) FILTER (WHERE r.status = 'paid'), 0) AS paid_cents "
    "FROM (SELECT month::date FROM generate_series($3::date, $2::date, "
    "interval '1 month') AS month) m LEFT JOIN refund_requests r ON "
    "date_trunc('month', r.created_at AT TIME ZONE 'Europe/Paris')::date = m.month "
    "GROUP BY m.month) x)"
    ")::text";
/* clang-format on */
_Static_assert(DASHBOARD_PARTNERS_MAX == 10, "the LIMIT of dashboard_sql");

typedef struct days_parse {
    int days;
    bool seen;
} days_parse;

static int days_param_of(void *ctx, const char *name, size_t name_len, const char *value,
                         size_t value_len, sp_error *err) {
    days_parse *parse = ctx;
    if (name_len != 4 || strncmp(name, "days", 4) != 0)
        return sp_error_set(err, 400, "unknown_field", "",
                            "unknown query parameter: this "
                            "endpoint takes days");
    if (parse->seen) return sp_error_set(err, 400, "invalid_value", "days", "days is given twice");
    parse->seen = true;
    int days = 0;
    bool digits = value_len >= 1 && value_len <= 3;
    for (size_t i = 0; digits && i < value_len; i++) {
        digits = value[i] >= '0' && value[i] <= '9';
        days = days * 10 + (value[i] - '0');
    }
    if (!digits || days < 1 || days > DASHBOARD_DAYS_MAX)
        return sp_error_set(err, 400, "invalid_value", "days",
                            "days must be a whole number of days from 1 to %d", DASHBOARD_DAYS_MAX);
    parse->days = days;
    return 0;
}

/* The answer PostgreSQL rendered, checked to be a JSON object. */
static int answer_rendered(sp_gw_request *req, PGresult *res, sp_error *err) {
    json_error_t json_err;
    json_t *body = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)
                       ? json_loads(PQgetvalue(res, 0, 0), 0, &json_err)
                       : NULL;
    if (body == NULL || !json_is_object(body)) {
        json_decref(body);
        return sp_error_set(err, 500, "internal", "", "the figures could not be shown");
    }
    return sp_gw_answer_json(req, 200, body, false);
}

int sp_gw_route_dashboard(sp_gw_request *req, sp_error *err) {
    days_parse parse = {.days = DASHBOARD_DAYS_DEFAULT};
    if (sp_gw_query_foreach(req->query, 2, days_param_of, &parse, err) != 0) return -1;
    int64_t now_ms = sp_clock_now_ms(req->app->clock);
    sp_date today = sp_paris_date_of(now_ms);
    int year, month, day;
    sp_date_to_ymd(today, &year, &month, &day);
    int oldest = year * 12 + (month - 1) - (DASHBOARD_MONTHS - 1); /* months since year 0 */
    char first[DATE_TEXT_LEN + 1], last[DATE_TEXT_LEN + 1], oldest_month[DATE_TEXT_LEN + 1];
    char now_text[SP_GW_INSTANT_LEN + 1];
    sp_date_format(today - (parse.days - 1), first);
    sp_date_format(today, last);
    sp_date_format(sp_date_from_ymd(oldest / 12, oldest % 12 + 1, 1), oldest_month);
    sp_gw_instant_format(now_ms, now_text);
    const char *params[4] = {first, last, oldest_month, now_text};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, dashboard_sql, 4, params, &res, err) != 0) return -1;
    int rc = answer_rendered(req, res, err);
    PQclear(res);
    return rc;
}

/* ------------------------------------------------------------ history */

/* clang-format off */
/* $1 the partner or pass, $2 after this instant (ms, NULL: from the newest)
 * $3 and event id, $4 rows. Each row: occurred_at ms, event_id, the entry.
 * The actor's name is read from users now (a renamed person shows by
 * today's name); its role is the one the event carried, else the user's. */
#define HISTORY_SQL(actor, details, column)                                              \
    "SELECT (extract(epoch FROM h.occurred_at) * 1000)::bigint, h.event_id, "             \
    "json_build_object('event_id', h.event_id, 'occurred_at', to_char(h.occurred_at AT "  \
    "TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), 'action', h.action, "        \
    "'actor', " actor ", 'details', " details ")::text "                                  \
    "FROM history h LEFT JOIN users u ON u.user_id = h.actor_id "                         \
    "WHERE h." column " = $1::uuid AND ($2::bigint IS NULL OR (h.occurred_at, h.event_id) < " \
    "(timestamptz 'epoch' + $2::bigint * interval '1 millisecond', $3::uuid)) "           \
    "ORDER BY h.occurred_at DESC, h.event_id DESC LIMIT $4::integer"
#define ACTOR_ROLE "coalesce(h.actor_role, u.role)"
#define ACTOR_NAMED                                                                      \
    "json_build_object('user_id', h.actor_id, 'full_name', u.full_name, 'role', " ACTOR_ROLE ")"
#define ACTOR_STAFF_VIEW "CASE WHEN h.actor_id IS NULL THEN NULL ELSE " ACTOR_NAMED " END"
/* A partner sees its beneficiaries as it does in its operations: no name,
 * no id, the pass by the last characters of its id (pass_ref). */
#define ACTOR_PARTNER_VIEW                                                               \
    "CASE WHEN h.actor_id IS NULL THEN NULL WHEN " ACTOR_ROLE " = 'beneficiary' THEN "    \
    "json_build_object('user_id', NULL, 'full_name', NULL, 'role', 'beneficiary') ELSE "  \
    ACTOR_NAMED " END"
#define DETAILS_WITH(member, value)                                                      \
    "h.details || CASE WHEN h.pass_id IS NULL THEN '{}'::jsonb ELSE "                     \
    "jsonb_build_object('" member "', " value ") END"
static const char partners_history_sql[] =
    HISTORY_SQL(ACTOR_STAFF_VIEW, DETAILS_WITH("pass_id", "h.pass_id"), "partner_id");
static const char partner_own_history_sql[] =
    HISTORY_SQL(ACTOR_PARTNER_VIEW, DETAILS_WITH("pass_ref", "right(h.pass_id::text, 4)"),
                "partner_id");
/* A pass's lines about a partner (a payment, a voucher redeemed) name it,
 * by its name of today, as the actor is. */
static const char pass_history_sql[] = HISTORY_SQL(
    ACTOR_STAFF_VIEW,
    "h.details || CASE WHEN h.partner_id IS NULL THEN '{}'::jsonb ELSE jsonb_build_object("
    "'partner_id', h.partner_id, 'partner_name', (SELECT p.name FROM partners p "
    "WHERE p.partner_id = h.partner_id)) END",
    "pass_id");
/* clang-format on */
_Static_assert(SP_GW_PASS_REF_LEN == 4, "the pass_ref of partner_own_history_sql");

/* clang-format off */
static const char partner_exists_sql[] = "SELECT 1 FROM partners WHERE partner_id = $1::uuid";
/* clang-format on */

/* A keyset page whose rows are (sort key, id, the line as JSON text) and
 * one row more than asked: {<member>: [lines], next_cursor}. */
static json_t *rendered_page_json(const PGresult *res, int limit, const char *member,
                                  sp_error *err) {
    json_t *entries = json_array();
    json_t *body = json_pack("{s:o}", member, entries);
    int rows = PQntuples(res);
    int shown = rows < limit ? rows : limit;
    for (int row = 0; body != NULL && row < shown; row++) {
        json_error_t json_err;
        json_t *entry = json_loads(PQgetvalue(res, row, 2), 0, &json_err);
        if (entry == NULL || json_array_append_new(entries, entry) != 0) {
            json_decref(body);
            body = NULL;
        }
    }
    json_t *cursor = json_null();
    if (body != NULL && rows > limit) {
        int64_t at_ms = 0;
        char text[SP_GW_CURSOR_LEN_MAX + 1];
        if (sp_gw_int64_of(PQgetvalue(res, shown - 1, 0), &at_ms, err) != 0 || at_ms < 0) {
            json_decref(body);
            return NULL;
        }
        sp_gw_cursor_encode(at_ms, PQgetvalue(res, shown - 1, 1), text);
        cursor = json_string(text);
    }
    if (body == NULL || json_object_set_new(body, "next_cursor", cursor) != 0) {
        json_decref(body);
        sp_error_set(err, 500, "internal", "", "the %s could not be shown", member);
        return NULL;
    }
    return body;
}

static int answer_history(sp_gw_request *req, const char *sql, const char *id, sp_error *err) {
    assert(sp_id_valid(id));
    sp_gw_page page;
    if (sp_gw_page_parse(req->query, &page, err) != 0) return -1;
    if (page.limit > HISTORY_LIMIT_MAX)
        return sp_error_set(err, 400, "invalid_value", "limit", "limit must be from 1 to %d",
                            HISTORY_LIMIT_MAX);
    char after_ms[NUMBER_TEXT_MAX], limit_plus_one[NUMBER_TEXT_MAX];
    snprintf(after_ms, sizeof after_ms, "%" PRId64, page.after_occurred_at_ms);
    /* One row more than asked tells whether there is a next page. */
    snprintf(limit_plus_one, sizeof limit_plus_one, "%d", page.limit + 1);
    const char *params[4] = {id, page.has_cursor ? after_ms : NULL,
                             page.has_cursor ? page.after_operation_id : NULL, limit_plus_one};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, sql, 4, params, &res, err) != 0) return -1;
    json_t *body = rendered_page_json(res, page.limit, "entries", err);
    PQclear(res);
    if (body == NULL) return -1;
    return sp_gw_answer_json(req, 200, body, false);
}

int sp_gw_route_partners_history(sp_gw_request *req, sp_error *err) {
    const char *params[1] = {req->match.path_id};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, partner_exists_sql, 1, params, &res, err) != 0)
        return -1;
    bool exists = PQntuples(res) == 1;
    PQclear(res);
    if (!exists)
        return sp_error_set(err, 404, "partner_not_found", "partner_id", "no partner has this id");
    return answer_history(req, partners_history_sql, req->match.path_id, err);
}

int sp_gw_route_passes_history(sp_gw_request *req, sp_error *err) {
    bool exists = false;
    if (sp_gw_pass_exists(req, req->match.path_id, &exists, err) != 0) return -1;
    if (!exists) return sp_error_set(err, 404, "pass_not_found", "pass_id", "no pass has this id");
    return answer_history(req, pass_history_sql, req->match.path_id, err);
}

/* A partner's own users: their structure's history, never another's. */
int sp_gw_route_partner_history(sp_gw_request *req, sp_error *err) {
    if (!sp_id_valid(req->user.partner_id))
        return sp_error_set(err, 403, "forbidden", "", "this session belongs to no partner");
    return answer_history(req, partner_own_history_sql, req->user.partner_id, err);
}

/* ------------------------------------------------------------ owed */

/* clang-format off */
/* What the city owes each partner (its `partner:X:owed` account), most
 * first, for finance as for the back-office: $1 after this amount (cents,
 * NULL: from the most owed) $2 and partner, $3 rows. `requested_cents` is
 * the part of it already in an opening or pending refund request. */
static const char owed_page_sql[] =
    "SELECT p.owed_cents, p.partner_id, json_build_object('partner_id', p.partner_id, "
    "'name', p.name, 'owed_cents', p.owed_cents, 'requested_cents', coalesce((SELECT "
    "sum(CASE WHEN r.status = 'opening' THEN r.expected_total_cents ELSE r.total_cents END) "
    "FROM refund_requests r WHERE r.partner_id = p.partner_id AND r.status IN ('opening', "
    "'pending')), 0)::bigint, 'bank_details_missing', p.iban = '' OR p.bic = '')::text "
    "FROM partners p WHERE p.owed_cents > 0 AND ($1::bigint IS NULL OR p.owed_cents < "
    "$1::bigint OR (p.owed_cents = $1::bigint AND p.partner_id > $2::uuid)) "
    "ORDER BY p.owed_cents DESC, p.partner_id LIMIT $3::integer";
static const char owed_totals_sql[] =
    "SELECT json_build_object('partner_count', count(*), 'owed_cents', "
    "coalesce(sum(owed_cents), 0)::bigint)::text FROM partners WHERE owed_cents > 0";
/* clang-format on */

static json_t *owed_totals(sp_gw_request *req, sp_error *err) {
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, owed_totals_sql, 0, NULL, &res, err) != 0) return NULL;
    json_error_t json_err;
    json_t *totals = PQntuples(res) == 1 ? json_loads(PQgetvalue(res, 0, 0), 0, &json_err) : NULL;
    PQclear(res);
    if (totals == NULL) sp_error_set(err, 500, "internal", "", "the totals could not be shown");
    return totals;
}

int sp_gw_route_finance_owed(sp_gw_request *req, sp_error *err) {
    sp_gw_page page;
    if (sp_gw_page_parse(req->query, &page, err) != 0) return -1;
    char after_cents[NUMBER_TEXT_MAX], limit_plus_one[NUMBER_TEXT_MAX];
    snprintf(after_cents, sizeof after_cents, "%" PRId64, page.after_occurred_at_ms);
    snprintf(limit_plus_one, sizeof limit_plus_one, "%d", page.limit + 1);
    const char *params[3] = {page.has_cursor ? after_cents : NULL,
                             page.has_cursor ? page.after_operation_id : NULL, limit_plus_one};
    json_t *totals = owed_totals(req, err);
    if (totals == NULL) return -1;
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, owed_page_sql, 3, params, &res, err) != 0) {
        json_decref(totals);
        return -1;
    }
    json_t *body = rendered_page_json(res, page.limit, "partners", err);
    PQclear(res);
    return sp_gw_answer_page_with_totals(req, body, totals, err);
}
