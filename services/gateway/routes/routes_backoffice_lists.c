/* routes_backoffice_lists.c - what the back-office console reads of the
 * read models: the beneficiaries (searched, filtered, paged) and one
 * beneficiary's page, the partners with their states and one partner's
 * page, and who accepted a convention and who has not. Queries only: the
 * query strings are checked by backoffice_lists.c, every value reaches
 * PostgreSQL as a parameter. */
#include "routes.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include "backoffice_lists.h"
#include "pgpool.h"

#define DETAIL_ROWS_SHOWN 20       /* latest operations, refund requests of a detail */
#define ACCEPTANCES_ROWS_MAX 10000 /* partners listed on either side of a convention */
#define NUMBER_TEXT_MAX 24
/* clang-format off */
#define MS_OF(column) "floor(extract(epoch FROM " column ") * 1000)::bigint"

/* ------------------------------------------------------------------ SQL */

/* $1 q (ILIKE pattern), $2 'open' | 'closed', $3 category; NULL: any.
 * Names are compared without their accents (sp_unaccent, migration 0023),
 * as the trigram index on them is built. */
#define BENEFICIARIES_FILTER                                                                 \
    " FROM users u JOIN passes p ON p.pass_id = u.pass_id WHERE u.role = 'beneficiary'"       \
    " AND ($1::text IS NULL OR sp_unaccent(u.full_name) ILIKE '%' || sp_unaccent($1::text)"   \
    " || '%' ESCAPE '\\'"                                                                       \
    " OR u.email ILIKE '%' || $1::text || '%' ESCAPE '\\')"                                   \
    " AND ($2::text IS NULL OR (p.closed_at IS NULL) = ($2::text = 'open'))"                  \
    " AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM envelopes e"                              \
    " WHERE e.pass_id = p.pass_id AND e.category = $3::text))"
#define BENEFICIARY_COLUMNS                                                                  \
    "SELECT u.user_id, p.pass_id, u.full_name, u.email, u.password_hash <> '',"              \
    " p.closed_at IS NOT NULL, p.balance_cents, " MS_OF("u.created_at") ","                  \
    " coalesce((SELECT array_to_json(array_agg(e.category ORDER BY e.category))"              \
    " FROM envelopes e WHERE e.pass_id = p.pass_id)::text, '[]')"
enum { B_USER, B_PASS, B_NAME, B_EMAIL, B_ACTIVATED, B_CLOSED, B_BALANCE, B_CREATED_MS,
       B_CATEGORIES };

/* By name then id; after the cursor's row ($4), whose name is read back. */
static const char beneficiaries_page_sql[] =
    BENEFICIARY_COLUMNS BENEFICIARIES_FILTER
    " AND ($4::uuid IS NULL OR (u.full_name, u.user_id) >"
    " (SELECT c.full_name, c.user_id FROM users c WHERE c.user_id = $4::uuid))"
    " ORDER BY u.full_name, u.user_id LIMIT $5::integer";
static const char beneficiaries_total_sql[] = "SELECT count(*)" BENEFICIARIES_FILTER;
static const char beneficiary_sql[] =
    BENEFICIARY_COLUMNS " FROM users u JOIN passes p ON p.pass_id = u.pass_id"
    " WHERE u.user_id = $1::uuid AND u.role = 'beneficiary'";
static const char beneficiary_cursor_sql[] =
    "SELECT 1 FROM users WHERE user_id = $1::uuid AND role = 'beneficiary'";

/* The convention every partner must have accepted: the latest in force
 * on Paris day $1 (none: every partner counts as having accepted). */
#define LATEST_IN_FORCE                                                                      \
    "(SELECT c.convention_id FROM conventions c WHERE c.effective_date <= $1::date"           \
    " ORDER BY c.effective_date DESC, c.published_at DESC, c.convention_id LIMIT 1)"
/* Columns 0-4 as sp_gw_partner_json() reads them, then the states. A
 * partner is activated once its first user - the administrator created
 * with it - has set a password. */
#define PARTNER_COLUMNS                                                                      \
    "SELECT p.partner_id, p.partner_code, p.name, p.category, p.owed_cents,"                 \
    " coalesce((SELECT u.password_hash <> '' FROM users u WHERE u.partner_id = p.partner_id"  \
    " ORDER BY u.created_at, u.user_id LIMIT 1), false) AS activated,"                       \
    " l.id IS NULL OR EXISTS (SELECT 1 FROM convention_acceptances a"                          \
    " WHERE a.partner_id = p.partner_id AND a.convention_id = l.id) AS convention_accepted,"  \
    " p.iban = '' AS bank_details_missing, " MS_OF("p.created_at") " AS created_ms"          \
    " FROM partners p CROSS JOIN (SELECT " LATEST_IN_FORCE " AS id) l"
/* clang-format on */
enum { P_ACTIVATED = 5, P_CONVENTION_ACCEPTED, P_BANK_MISSING, P_CREATED_MS, P_COLUMNS };

/* clang-format off */
/* $1 Paris day, $2 q (ILIKE pattern on the name without its accents, or
 * the start of the partner code), $3 state, $4 the cursor's partner, $5 the
 * most rows. */
#define PARTNERS_FILTER                                                                      \
    " WHERE ($2::text IS NULL OR sp_unaccent(p.name) ILIKE '%' || sp_unaccent($2::text)"      \
    " || '%' ESCAPE '\\'"                                                                       \
    " OR p.partner_code LIKE $2::text || '%' ESCAPE '\\')) s"                                 \
    " WHERE ($3::text IS NULL OR ($3::text = 'not_activated' AND NOT s.activated)"            \
    " OR ($3::text = 'convention_pending' AND NOT s.convention_accepted)"                    \
    " OR ($3::text = 'bank_details_missing' AND s.bank_details_missing)"                     \
    " OR ($3::text = 'owed' AND s.owed_cents > 0))"
static const char partners_page_sql[] =
    "SELECT * FROM (" PARTNER_COLUMNS PARTNERS_FILTER
    " AND ($4::uuid IS NULL OR (s.name, s.partner_id) >"
    " (SELECT c.name, c.partner_id FROM partners c WHERE c.partner_id = $4::uuid))"
    " ORDER BY s.name, s.partner_id LIMIT $5::integer";
static const char partner_cursor_sql[] = "SELECT 1 FROM partners WHERE partner_id = $1::uuid";
static const char partner_detail_sql[] = PARTNER_COLUMNS " WHERE p.partner_id = $2::uuid";

static const char convention_known_sql[] =
    "SELECT 1 FROM conventions WHERE convention_id = $1::uuid";
static const char convention_accepted_sql[] =
    "SELECT a.partner_id, p.name, " MS_OF("a.accepted_at") ", a.accepted_by,"
    " coalesce(u.full_name, '') FROM convention_acceptances a"
    " JOIN partners p ON p.partner_id = a.partner_id"
    " LEFT JOIN users u ON u.user_id = a.accepted_by WHERE a.convention_id = $1::uuid"
    " ORDER BY p.name, p.partner_id LIMIT $2::integer";
static const char convention_pending_sql[] =
    "SELECT p.partner_id, p.name FROM partners p WHERE NOT EXISTS (SELECT 1"
    " FROM convention_acceptances a WHERE a.partner_id = p.partner_id"
    " AND a.convention_id = $1::uuid) ORDER BY p.name, p.partner_id LIMIT $2::integer";
/* clang-format on */

/* ------------------------------------------------------------------ helpers */

static json_t *instant_of(const char *ms_text, sp_error *err) {
    int64_t ms = 0;
    if (sp_gw_int64_of(ms_text, &ms, err) != 0) return NULL;
    char text[SP_GW_INSTANT_LEN + 1];
    sp_gw_instant_format(ms, text);
    return json_string(text);
}

static bool is_true(const PGresult *res, int row, int column) {
    return strcmp(PQgetvalue(res, row, column), "t") == 0;
}

static int out_of_memory(sp_error *err) {
    return sp_error_set(err, 500, "internal", "", "out of memory");
}

/* A query whose single row must exist: 0 with *found, or -1 with err. */
static int row_exists(sp_gw_request *req, const char *sql, const char *id, bool *found,
                      sp_error *err) {
    const char *params[1] = {id};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, sql, 1, params, &res, err) != 0) return -1;
    *found = PQntuples(res) == 1;
    PQclear(res);
    return 0;
}

/* A cursor names a row of its list; one that names none was not ours. */
static int cursor_row_check(sp_gw_request *req, const char *sql, const sp_gw_list_page *page,
                            sp_error *err) {
    bool found = true;
    if (page->has_cursor && row_exists(req, sql, page->after_id, &found, err) != 0) return -1;
    if (found) return 0;
    return sp_error_set(err, 400, "invalid_value", "cursor",
                        "cursor is not valid: use next_cursor as returned");
}

static void paris_today(const sp_gw_request *req, char out[11]) {
    sp_date_format(sp_paris_date_of(sp_clock_now_ms(req->app->clock)), out);
}

/* Sets "next_cursor" of body: the last row's when there was one more. */
static int put_next_cursor(json_t *body, sp_gw_list list, const PGresult *res, int limit,
                           int id_column) {
    json_t *next = json_null();
    if (PQntuples(res) > limit) {
        char cursor[SP_GW_CURSOR_LEN_MAX + 1];
        sp_gw_list_cursor_encode(list, PQgetvalue(res, limit - 1, id_column), cursor);
        next = json_string(cursor);
    }
    return json_object_set_new(body, "next_cursor", next);
}

/* One page of a list: {member: [row_fn of each row up to limit], next_cursor}. */
static json_t *list_page(const PGresult *res, int limit, const char *member, sp_gw_list list,
                         int id_column, json_t *(*row_fn)(const PGresult *, int, sp_error *),
                         sp_error *err) {
    json_t *rows = json_array();
    for (int row = 0; rows != NULL && row < PQntuples(res) && row < limit; row++) {
        json_t *item = row_fn(res, row, err);
        if (item == NULL || json_array_append_new(rows, item) != 0) {
            json_decref(rows);
            return NULL;
        }
    }
    json_t *body = rows != NULL ? json_pack("{s:o}", member, rows) : NULL;
    if (body != NULL && put_next_cursor(body, list, res, limit, id_column) != 0) {
        json_decref(body);
        body = NULL;
    }
    if (body == NULL && err->code[0] == '\0') out_of_memory(err);
    return body;
}

/* A detail's parts, fetched one after the other (a failure stops the
 * rest: their values stay NULL). */
typedef struct detail_part {
    const char *name;
    json_t *value; /* owned until put into the detail */
} detail_part;

/* Puts every part into detail, which it then owns; on the first part
 * missing (err already set) or a failure, frees detail and every part. */
static int put_parts(json_t *detail, detail_part *parts, size_t count, sp_error *err) {
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        if (rc == 0 && parts[i].value == NULL) rc = -1;
        else if (rc == 0 && json_object_set_new(detail, parts[i].name, parts[i].value) != 0)
            rc = out_of_memory(err);
        else if (rc != 0) json_decref(parts[i].value);
    }
    if (rc != 0) json_decref(detail);
    return rc;
}

/* ------------------------------------------------------------------ beneficiaries */

static json_t *beneficiary_json(const PGresult *res, int row, sp_error *err) {
    int64_t balance_cents = 0;
    if (sp_gw_int64_of(PQgetvalue(res, row, B_BALANCE), &balance_cents, err) != 0) return NULL;
    json_error_t jerr;
    json_t *categories = json_loads(PQgetvalue(res, row, B_CATEGORIES), 0, &jerr);
    if (!json_is_array(categories)) {
        json_decref(categories);
        sp_error_set(err, 500, "internal", "", "a pass's categories could not be read");
        return NULL;
    }
    json_t *b = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:I, s:o}", "user_id",
                          PQgetvalue(res, row, B_USER), "pass_id", PQgetvalue(res, row, B_PASS),
                          "full_name", PQgetvalue(res, row, B_NAME), "email",
                          PQgetvalue(res, row, B_EMAIL), "activated",
                          is_true(res, row, B_ACTIVATED), "pass_status",
                          is_true(res, row, B_CLOSED) ? "closed" : "open", "balance_cents",
                          (json_int_t)balance_cents, "categories", categories);
    if (b == NULL) sp_error_set(err, 500, "internal", "", "a beneficiary could not be shown");
    return b;
}

static int put_total(sp_gw_request *req, json_t *body, const char *sql, int param_count,
                     const char *const *params, sp_error *err) {
    PGresult *res = NULL;
    if (sp_gw_pgpool_query_replanned(req->app->pool, sql, param_count, params, &res, err) != 0)
        return -1;
    int64_t total = 0;
    int rc = PQntuples(res) == 1 ? sp_gw_int64_of(PQgetvalue(res, 0, 0), &total, err) : -1;
    PQclear(res);
    if (rc == 0 && json_object_set_new(body, "total", json_integer(total)) != 0)
        rc = out_of_memory(err);
    if (rc != 0 && err->code[0] == '\0') sp_error_set(err, 500, "internal", "", "no total");
    return rc;
}

int sp_gw_route_beneficiaries_list(sp_gw_request *req, sp_error *err) {
    sp_gw_beneficiaries_query q;
    if (sp_gw_beneficiaries_query_parse(req->query, &q, err) != 0 ||
        cursor_row_check(req, beneficiary_cursor_sql, &q.page, err) != 0)
        return -1;
    char limit_plus_one[NUMBER_TEXT_MAX];
    /* One row more than asked tells whether there is a next page. */
    snprintf(limit_plus_one, sizeof limit_plus_one, "%d", q.page.limit + 1);
    const char *params[5] = {q.search.q[0] ? q.search.q_pattern : NULL,
                             q.status[0] ? q.status : NULL, q.category[0] ? q.category : NULL,
                             q.page.has_cursor ? q.page.after_id : NULL, limit_plus_one};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query_replanned(req->app->pool, beneficiaries_page_sql, 5, params, &res,
                                     err) != 0)
        return -1;
    json_t *body = list_page(res, q.page.limit, "beneficiaries", SP_GW_LIST_BENEFICIARIES, B_USER,
                             beneficiary_json, err);
    PQclear(res);
    if (body == NULL || put_total(req, body, beneficiaries_total_sql, 3, params, err) != 0) {
        json_decref(body);
        return -1;
    }
    return sp_gw_answer_json(req, 200, body, false);
}

/* {user_id, full_name, email, activated, created_at} of the row, and its pass id. */
static json_t *beneficiary_head(sp_gw_request *req, char pass_id[SP_ID_LEN + 1], sp_error *err) {
    const char *params[1] = {req->match.path_id};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, beneficiary_sql, 1, params, &res, err) != 0) return NULL;
    json_t *head = NULL;
    if (PQntuples(res) != 1) {
        sp_error_set(err, 404, "beneficiary_not_found", "user_id", "no beneficiary has this id");
    } else {
        json_t *created_at = instant_of(PQgetvalue(res, 0, B_CREATED_MS), err);
        head = created_at == NULL
                   ? NULL
                   : json_pack("{s:s, s:s, s:s, s:b, s:o}", "user_id", PQgetvalue(res, 0, B_USER),
                               "full_name", PQgetvalue(res, 0, B_NAME), "email",
                               PQgetvalue(res, 0, B_EMAIL), "activated",
                               is_true(res, 0, B_ACTIVATED), "created_at", created_at);
        snprintf(pass_id, SP_ID_LEN + 1, "%s", PQgetvalue(res, 0, B_PASS));
        if (head == NULL && err->code[0] == '\0') out_of_memory(err);
    }
    PQclear(res);
    return head;
}

int sp_gw_route_beneficiary_get(sp_gw_request *req, sp_error *err) {
    char pass_id[SP_ID_LEN + 1] = "";
    json_t *detail = beneficiary_head(req, pass_id, err);
    if (detail == NULL) return -1;
    detail_part parts[3] = {{"pass", sp_gw_pass_of(req, pass_id, err)},
                            {"operations", NULL},
                            {"vouchers", NULL}};
    if (parts[0].value != NULL)
        parts[1].value = sp_gw_operations_latest(req, SP_GW_OPERATIONS_OF_PASS, pass_id,
                                                 DETAIL_ROWS_SHOWN, err);
    if (parts[1].value != NULL) parts[2].value = sp_gw_pass_vouchers_of(req, pass_id, err);
    if (put_parts(detail, parts, 3, err) != 0) return -1;
    return sp_gw_answer_json(req, 200, detail, false);
}

/* ------------------------------------------------------------------ partners */

/* Partner (sp_gw_partner_json) and its states. */
static json_t *partner_listed_json(const PGresult *res, int row, sp_error *err) {
    assert(PQnfields(res) == P_COLUMNS);
    json_t *partner = sp_gw_partner_json(res, row, 0, err);
    json_t *created_at = partner != NULL ? instant_of(PQgetvalue(res, row, P_CREATED_MS), err)
                                         : NULL;
    if (created_at == NULL) {
        json_decref(partner);
        return NULL;
    }
    int rc = json_object_set_new(partner, "activated",
                                 json_boolean(is_true(res, row, P_ACTIVATED)));
    rc |= json_object_set_new(partner, "convention_accepted",
                              json_boolean(is_true(res, row, P_CONVENTION_ACCEPTED)));
    rc |= json_object_set_new(partner, "bank_details_missing",
                              json_boolean(is_true(res, row, P_BANK_MISSING)));
    rc |= json_object_set_new(partner, "created_at", created_at);
    if (rc != 0) {
        json_decref(partner);
        out_of_memory(err);
        return NULL;
    }
    return partner;
}

int sp_gw_route_partners_list(sp_gw_request *req, sp_error *err) {
    sp_gw_partners_query q;
    if (sp_gw_partners_query_parse(req->query, &q, err) != 0 ||
        cursor_row_check(req, partner_cursor_sql, &q.page, err) != 0)
        return -1;
    char today[11], limit_plus_one[NUMBER_TEXT_MAX];
    paris_today(req, today);
    snprintf(limit_plus_one, sizeof limit_plus_one, "%d", q.page.limit + 1);
    const char *params[5] = {today, q.search.q[0] ? q.search.q_pattern : NULL,
                             q.state[0] ? q.state : NULL,
                             q.page.has_cursor ? q.page.after_id : NULL, limit_plus_one};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query_replanned(req->app->pool, partners_page_sql, 5, params, &res, err) != 0)
        return -1;
    json_t *body = list_page(res, q.page.limit, "partners", SP_GW_LIST_PARTNERS, 0,
                             partner_listed_json, err);
    PQclear(res);
    if (body == NULL) return -1;
    return sp_gw_answer_json(req, 200, body, false);
}

static json_t *partner_of_path(sp_gw_request *req, sp_error *err) {
    char today[11];
    paris_today(req, today);
    const char *params[2] = {today, req->match.path_id};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, partner_detail_sql, 2, params, &res, err) != 0)
        return NULL;
    json_t *partner = NULL;
    if (PQntuples(res) == 1) partner = partner_listed_json(res, 0, err);
    else sp_error_set(err, 404, "partner_not_found", "partner_id", "no partner has this id");
    PQclear(res);
    return partner;
}

int sp_gw_route_partner_detail(sp_gw_request *req, sp_error *err) {
    const char *id = req->match.path_id;
    json_t *partner = partner_of_path(req, err);
    if (partner == NULL) return -1;
    json_t *detail = json_pack("{s:o}", "partner", partner);
    if (detail == NULL) return out_of_memory(err);
    detail_part parts[4] = {{"structure", sp_gw_structure_of(req, id, err)},
                            {"users", NULL},
                            {"operations", NULL},
                            {"refund_requests", NULL}};
    if (parts[0].value != NULL) parts[1].value = sp_gw_partner_users_of(req, id, err);
    if (parts[1].value != NULL)
        parts[2].value = sp_gw_operations_latest(req, SP_GW_OPERATIONS_OF_PARTNER, id,
                                                 DETAIL_ROWS_SHOWN, err);
    if (parts[2].value != NULL)
        parts[3].value = sp_gw_refund_requests_latest(req, id, DETAIL_ROWS_SHOWN, err);
    if (put_parts(detail, parts, 4, err) != 0) return -1;
    return sp_gw_answer_json(req, 200, detail, false);
}

/* ------------------------------------------------------------------ acceptances */

static json_t *accepted_json(const PGresult *res, int row, sp_error *err) {
    json_t *at = instant_of(PQgetvalue(res, row, 2), err);
    if (at == NULL) return NULL;
    return json_pack("{s:s, s:s, s:o, s:{s:s, s:s}}", "partner_id", PQgetvalue(res, row, 0), "name",
                     PQgetvalue(res, row, 1), "accepted_at", at, "accepted_by", "user_id",
                     PQgetvalue(res, row, 3), "full_name", PQgetvalue(res, row, 4));
}

static json_t *pending_json(const PGresult *res, int row, sp_error *err) {
    (void)err;
    return json_pack("{s:s, s:s}", "partner_id", PQgetvalue(res, row, 0), "name",
                     PQgetvalue(res, row, 1));
}

/* The rows of sql for the path's convention, each shown by row_fn. */
static json_t *acceptance_rows(sp_gw_request *req, const char *sql,
                               json_t *(*row_fn)(const PGresult *, int, sp_error *),
                               sp_error *err) {
    char limit[NUMBER_TEXT_MAX];
    snprintf(limit, sizeof limit, "%d", ACCEPTANCES_ROWS_MAX);
    const char *params[2] = {req->match.path_id, limit};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, sql, 2, params, &res, err) != 0) return NULL;
    json_t *rows = json_array();
    for (int row = 0; rows != NULL && row < PQntuples(res); row++) {
        json_t *item = row_fn(res, row, err);
        if (item == NULL || json_array_append_new(rows, item) != 0) {
            json_decref(rows);
            rows = NULL;
        }
    }
    PQclear(res);
    if (rows == NULL && err->code[0] == '\0') out_of_memory(err);
    return rows;
}

int sp_gw_route_convention_acceptances(sp_gw_request *req, sp_error *err) {
    bool known = false;
    if (row_exists(req, convention_known_sql, req->match.path_id, &known, err) != 0) return -1;
    if (!known)
        return sp_error_set(err, 404, "convention_not_found", "convention_id",
                            "no convention has this id");
    json_t *accepted = acceptance_rows(req, convention_accepted_sql, accepted_json, err);
    json_t *pending = accepted != NULL
                          ? acceptance_rows(req, convention_pending_sql, pending_json, err)
                          : NULL;
    if (pending == NULL) {
        json_decref(accepted);
        return -1;
    }
    json_t *body = json_pack("{s:s, s:o, s:o}", "convention_id", req->match.path_id, "accepted",
                             accepted, "pending", pending);
    if (body == NULL) return out_of_memory(err);
    return sp_gw_answer_json(req, 200, body, false);
}
