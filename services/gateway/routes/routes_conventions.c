/* routes_conventions.c - conventions between the city and its partners:
 * the back-office publishes them and lists them; a partner sees the ones it
 * accepted (who, when) and the ones waiting, and its administrator accepts
 * one. The accounts service decides (single writer); the lists come from
 * the conventions read models. */
#include "routes.h"
#include "json_limits.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "accounts.pb-c.h"
#include "pgpool.h"

#define CONVENTIONS_LIST_MAX 256 /* as many as the accounts service keeps */

/* clang-format off */
static const char conventions_sql[] =
    "SELECT convention_id, title, version, body, effective_date::text, mandatory,"
    " published_by, floor(extract(epoch FROM published_at) * 1000)::bigint,"
    " effective_date <= $1::date"
    " FROM conventions ORDER BY published_at DESC, convention_id LIMIT 256";

/* Every convention with this partner's acceptance, if any. */
static const char partner_conventions_sql[] =
    "SELECT c.convention_id, c.title, c.version, c.body, c.effective_date::text, c.mandatory,"
    " c.published_by, floor(extract(epoch FROM c.published_at) * 1000)::bigint,"
    " c.effective_date <= $2::date, a.version,"
    " floor(extract(epoch FROM a.accepted_at) * 1000)::bigint, a.accepted_by, u.full_name"
    " FROM conventions c"
    " LEFT JOIN convention_acceptances a ON a.convention_id = c.convention_id"
    " AND a.partner_id = $1::uuid"
    " LEFT JOIN users u ON u.user_id = a.accepted_by"
    " ORDER BY c.published_at DESC, c.convention_id LIMIT 256";

enum { C_ID, C_TITLE, C_VERSION, C_BODY, C_DATE, C_MANDATORY, C_BY, C_AT_MS, C_IN_FORCE,
       A_VERSION, A_AT_MS, A_BY, A_BY_NAME };
/* clang-format on */

static void paris_today(const sp_gw_request *req, char out[11]) {
    sp_date_format(sp_paris_date_of(sp_clock_now_ms(req->app->clock)), out);
}

static json_t *instant_of(const PGresult *res, int row, int column, sp_error *err) {
    int64_t ms = 0;
    if (sp_gw_int64_of(PQgetvalue(res, row, column), &ms, err) != 0) return NULL;
    char text[SP_GW_INSTANT_LEN + 1];
    sp_gw_instant_format(ms, text);
    return json_string(text);
}

static json_t *convention_json(const PGresult *res, int row, sp_error *err) {
    json_t *published_at = instant_of(res, row, C_AT_MS, err);
    if (published_at == NULL) return NULL;
    json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:s, s:o}", "convention_id",
                          PQgetvalue(res, row, C_ID), "title", PQgetvalue(res, row, C_TITLE),
                          "version", PQgetvalue(res, row, C_VERSION), "text",
                          PQgetvalue(res, row, C_BODY), "effective_date",
                          PQgetvalue(res, row, C_DATE), "mandatory",
                          strcmp(PQgetvalue(res, row, C_MANDATORY), "t") == 0, "in_force",
                          strcmp(PQgetvalue(res, row, C_IN_FORCE), "t") == 0, "published_by",
                          PQgetvalue(res, row, C_BY), "published_at", published_at);
    if (c == NULL) sp_error_set(err, 500, "internal", "", "a convention could not be shown");
    return c;
}

static int answer_list(sp_gw_request *req, PGresult *res, sp_error *err) {
    json_t *list = json_array();
    for (int row = 0; list != NULL && row < PQntuples(res); row++) {
        json_t *c = convention_json(res, row, err);
        if (c == NULL || json_array_append_new(list, c) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    PQclear(res);
    json_t *body = list != NULL ? json_pack("{s:o}", "conventions", list) : NULL;
    if (body == NULL) return sp_error_set(err, 500, "internal", "", "conventions not shown");
    return sp_gw_answer_json(req, 200, body, false);
}

int sp_gw_route_conventions_list(sp_gw_request *req, sp_error *err) {
    if (req->query != NULL && req->query[0] != '\0') {
        return sp_error_set(err, 400, "unknown_field", "", "this list takes no parameter");
    }
    char today[11];
    paris_today(req, today);
    const char *params[1] = {today};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, conventions_sql, 1, params, &res, err) != 0) return -1;
    return answer_list(req, res, err);
}

/* ------------------------------------------------------------------ publish */

typedef struct convention_body {
    json_t *root; /* owns the strings below */
    const char *title, *version, *text, *effective_date;
    bool mandatory;
} convention_body;

static int body_string(json_t *root, const char *name, const char **out, sp_error *err) {
    json_t *value = json_object_get(root, name);
    if (value == NULL || json_is_null(value)) {
        return sp_error_set(err, 400, "missing_field", name, "%s is required", name);
    }
    if (!json_is_string(value)) {
        return sp_error_set(err, 400, "invalid_type", name, "%s must be a string", name);
    }
    *out = json_string_value(value);
    if ((*out)[0] == '\0') {
        return sp_error_set(err, 400, "invalid_value", name, "%s is empty", name);
    }
    return 0;
}

/* {title, version, text, effective_date, mandatory}: types and presence
 * here; the accounts service checks the values (lengths, date, text). */
static int parse_convention(const sp_gw_request *req, convention_body *out, sp_error *err) {
    memset(out, 0, sizeof *out);
    if (sp_gw_json_depth_check(req->body, req->body_len, SP_GW_JSON_DEPTH_MAX, err) != 0) return -1;
    json_error_t jerr;
    out->root = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(out->root)) {
        return sp_error_set(err, 400, "malformed_json", "", "the body must be a JSON object");
    }
    static const char *const known[] = {"title", "version", "text", "effective_date", "mandatory"};
    const char *name = NULL;
    json_t *value = NULL;
    json_object_foreach(out->root, name, value) {
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
            ok |= strcmp(name, known[i]) == 0;
        }
        if (!ok) return sp_error_set(err, 400, "unknown_field", name, "unknown member");
    }
    if (body_string(out->root, "title", &out->title, err) != 0 ||
        body_string(out->root, "version", &out->version, err) != 0 ||
        body_string(out->root, "text", &out->text, err) != 0 ||
        body_string(out->root, "effective_date", &out->effective_date, err) != 0) {
        return -1;
    }
    json_t *mandatory = json_object_get(out->root, "mandatory");
    if (mandatory == NULL || json_is_null(mandatory)) {
        return sp_error_set(err, 400, "missing_field", "mandatory", "mandatory is required");
    }
    if (!json_is_boolean(mandatory)) {
        return sp_error_set(err, 400, "invalid_type", "mandatory", "mandatory must be a boolean");
    }
    out->mandatory = json_is_true(mandatory);
    return 0;
}

int sp_gw_route_conventions_publish(sp_gw_request *req, sp_error *err) {
    const char *key = NULL;
    if (sp_gw_idempotency_key(req, &key, err) != 0) return -1;
    convention_body body;
    int rc = parse_convention(req, &body, err);
    if (rc == 0) {
        Solipass__Accounts__PublishConvention publish =
            SOLIPASS__ACCOUNTS__PUBLISH_CONVENTION__INIT;
        publish.title = (char *)body.title;
        publish.version = (char *)body.version;
        publish.text = (char *)body.text;
        publish.effective_date = (char *)body.effective_date;
        publish.mandatory = body.mandatory;
        /* The convention's id is chosen by the accounts service: keyed by who asks. */
        sp_envelope_meta meta = sp_gw_command_meta(req, "accounts.PublishConvention.v1",
                                                   req->user.user_id, key);
        rc = sp_gw_run_and_answer(req, SP_TOPIC_ACCOUNTS_COMMANDS, &meta, &publish.base, err);
    }
    json_decref(body.root);
    return rc;
}

/* ------------------------------------------------------------------ partner side */

static int own_partner(const sp_gw_request *req, sp_error *err) {
    if (sp_id_valid(req->user.partner_id)) return 0;
    return sp_error_set(err, 403, "forbidden", "", "this account belongs to no partner");
}

/* The acceptance of a row: {version, accepted_at, accepted_by: {user_id, full_name}}. */
static int add_acceptance(json_t *c, const PGresult *res, int row, sp_error *err) {
    json_t *at = instant_of(res, row, A_AT_MS, err);
    if (at == NULL) return -1;
    json_t *by = json_pack("{s:s, s:s}", "user_id", PQgetvalue(res, row, A_BY), "full_name",
                           PQgetvalue(res, row, A_BY_NAME));
    json_t *acceptance = by != NULL ? json_pack("{s:s, s:o, s:o}", "version",
                                                PQgetvalue(res, row, A_VERSION), "accepted_at", at,
                                                "accepted_by", by)
                                    : NULL;
    if (by == NULL) json_decref(at);
    if (acceptance == NULL || json_object_set_new(c, "acceptance", acceptance) != 0) {
        return sp_error_set(err, 500, "internal", "", "an acceptance could not be shown");
    }
    return 0;
}

int sp_gw_route_partner_conventions(sp_gw_request *req, sp_error *err) {
    if (own_partner(req, err) != 0) return -1;
    if (req->query != NULL && req->query[0] != '\0') {
        return sp_error_set(err, 400, "unknown_field", "", "this list takes no parameter");
    }
    char today[11];
    paris_today(req, today);
    const char *params[2] = {req->user.partner_id, today};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, partner_conventions_sql, 2, params, &res, err) != 0) {
        return -1;
    }
    json_t *accepted = json_array(), *waiting = json_array();
    int rc = accepted != NULL && waiting != NULL ? 0 : -1;
    for (int row = 0; rc == 0 && row < PQntuples(res); row++) {
        json_t *c = convention_json(res, row, err);
        bool was_accepted = !PQgetisnull(res, row, A_VERSION);
        if (c == NULL || (was_accepted && add_acceptance(c, res, row, err) != 0)) {
            json_decref(c);
            rc = -1;
            break;
        }
        rc = json_array_append_new(was_accepted ? accepted : waiting, c) == 0 ? 0 : -1;
    }
    PQclear(res);
    json_t *body = rc == 0 ? json_pack("{s:O, s:O}", "accepted", accepted, "waiting", waiting)
                           : NULL;
    json_decref(accepted);
    json_decref(waiting);
    if (body == NULL) {
        return err->http_status != 0
                   ? -1
                   : sp_error_set(err, 500, "internal", "", "the conventions could not be shown");
    }
    return sp_gw_answer_json(req, 200, body, false);
}

int sp_gw_route_partner_convention_accept(sp_gw_request *req, sp_error *err) {
    if (own_partner(req, err) != 0) return -1;
    const char *key = NULL;
    if (sp_gw_idempotency_key(req, &key, err) != 0) return -1;
    if (req->body_len > 0 && strcmp(req->body, "{}") != 0) {
        return sp_error_set(err, 400, "unknown_field", "", "this request takes no body");
    }
    assert(sp_id_valid(req->match.path_id));
    Solipass__Accounts__AcceptConvention accept = SOLIPASS__ACCOUNTS__ACCEPT_CONVENTION__INIT;
    accept.convention_id = req->match.path_id;
    sp_envelope_meta meta = sp_gw_command_meta(req, "accounts.AcceptConvention.v1",
                                               req->user.partner_id, key);
    return sp_gw_run_and_answer(req, SP_TOPIC_ACCOUNTS_COMMANDS, &meta, &accept.base, err);
}
