/* routes_users.c - a partner administrator's users: list, add (the new
 * user gets an activation e-mail), change the profile (role), remove. The
 * partner is always the session's; the accounts service decides (the last
 * administrator stays, another partner's user is unknown). */
#include "routes.h"
#include "json_limits.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include "accounts.pb-c.h"
#include "commands.h"
#include "pgpool.h"
#include "sp_kafka.h"
#include "structure.h"

#define SP_GW_PARTNER_USERS_MAX 1000

static const char users_sql[] =
    "SELECT user_id, email, full_name, role, password_hash <> '',"
    " floor(extract(epoch FROM created_at) * 1000)::bigint"
    " FROM users WHERE partner_id = $1::uuid AND removed_at IS NULL"
    " ORDER BY created_at, user_id LIMIT $2::integer";

static const char user_sql[] =
    "SELECT user_id, email, full_name, role, password_hash <> '',"
    " floor(extract(epoch FROM created_at) * 1000)::bigint"
    " FROM users WHERE user_id = $1::uuid AND partner_id = $2::uuid AND removed_at IS NULL";

static json_t *user_json(const PGresult *res, int row, sp_error *err) {
    int64_t created_ms = 0;
    if (sp_gw_int64_of(PQgetvalue(res, row, 5), &created_ms, err) != 0) return NULL;
    char created_at[SP_GW_INSTANT_LEN + 1];
    sp_gw_instant_format(created_ms, created_at);
    json_t *user = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "user_id", PQgetvalue(res, row, 0),
                             "email", PQgetvalue(res, row, 1), "full_name",
                             PQgetvalue(res, row, 2), "role", PQgetvalue(res, row, 3),
                             "activated", strcmp(PQgetvalue(res, row, 4), "t") == 0,
                             "created_at", created_at);
    if (user == NULL) sp_error_set(err, 500, "internal", "", "a user could not be shown");
    return user;
}

static int own_partner(const sp_gw_request *req, sp_error *err) {
    if (sp_id_valid(req->user.partner_id)) return 0;
    return sp_error_set(err, 403, "forbidden", "", "this account belongs to no partner");
}

/* One user of the session's partner, as listed. */
static int answer_user(sp_gw_request *req, const char *user_id, int status, bool replayed,
                       sp_error *err) {
    const char *params[2] = {user_id, req->user.partner_id};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, user_sql, 2, params, &res, err) != 0) return -1;
    json_t *user = NULL;
    if (PQntuples(res) == 1) {
        user = user_json(res, 0, err);
    } else {
        sp_error_set(err, 404, "user_not_found", "user_id", "no such user in this partner");
    }
    PQclear(res);
    if (user == NULL) return -1;
    return sp_gw_answer_json(req, status, user, replayed);
}

json_t *sp_gw_partner_users_of(sp_gw_request *req, const char *partner_id, sp_error *err) {
    char limit[16];
    snprintf(limit, sizeof limit, "%d", SP_GW_PARTNER_USERS_MAX);
    const char *params[2] = {partner_id, limit};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, users_sql, 2, params, &res, err) != 0) return NULL;
    json_t *users = json_array();
    for (int row = 0; users != NULL && row < PQntuples(res); row++) {
        json_t *user = user_json(res, row, err);
        if (user == NULL || json_array_append_new(users, user) != 0) {
            json_decref(users);
            users = NULL;
        }
    }
    PQclear(res);
    return users;
}

int sp_gw_route_partner_users_list(sp_gw_request *req, sp_error *err) {
    if (own_partner(req, err) != 0) return -1;
    json_t *users = sp_gw_partner_users_of(req, req->user.partner_id, err);
    if (users == NULL) return -1;
    return sp_gw_answer_json(req, 200, json_pack("{s:o}", "users", users), false);
}

static Solipass__Accounts__Role role_of(const char *name) {
    return strcmp(name, "partner_admin") == 0 ? SOLIPASS__ACCOUNTS__ROLE__ROLE_PARTNER_ADMIN
                                              : SOLIPASS__ACCOUNTS__ROLE__ROLE_PARTNER_USER;
}

/* The user id the accounts service chose, from its reply. */
static int added_user_id(const Solipass__Reply *reply, char *user_id, sp_error *err) {
    json_error_t jerr;
    json_t *result = sp_gw_json_loads(reply->result_json, 0, &jerr);
    const char *id = json_string_value(json_object_get(result, "user_id"));
    int rc = 0;
    if (!sp_id_valid(id)) {
        rc = sp_error_set(err, 500, "internal_reply", "", "AddPartnerUser reply without user_id");
    } else {
        snprintf(user_id, SP_ID_LEN + 1, "%s", id);
    }
    json_decref(result);
    return rc;
}

int sp_gw_route_partner_users_add(sp_gw_request *req, sp_error *err) {
    if (own_partner(req, err) != 0) return -1;
    const char *key = NULL;
    if (sp_gw_idempotency_key(req, &key, err) != 0) return -1;
    sp_gw_user_add_req body;
    if (sp_gw_parse_user_add(req->body, req->body_len, &body, err) != 0) return -1;
    Solipass__Accounts__AddPartnerUser add = SOLIPASS__ACCOUNTS__ADD_PARTNER_USER__INIT;
    add.partner_id = req->user.partner_id;
    add.email = body.email;
    add.full_name = body.full_name;
    add.role = role_of(body.role);
    sp_envelope_meta meta = sp_gw_command_meta(req, "accounts.AddPartnerUser.v1",
                                               req->user.partner_id, key);
    Solipass__Reply *reply = NULL;
    if (sp_gw_commands_run(req->app->commands, req->app->projwait, SP_TOPIC_ACCOUNTS_COMMANDS,
                           &meta, &add.base, req->deadline_ms, &reply, err) != 0)
        return -1;
    char user_id[SP_ID_LEN + 1];
    int rc = !reply->ok ? sp_gw_answer_reply(req, reply, err)
             : added_user_id(reply, user_id, err) != 0
                 ? -1
                 : answer_user(req, user_id, 201, reply->replayed, err);
    solipass__reply__free_unpacked(reply, NULL);
    return rc;
}

int sp_gw_route_partner_users_patch(sp_gw_request *req, sp_error *err) {
    if (own_partner(req, err) != 0) return -1;
    char fresh[SP_ID_LEN + 1];
    const char *key = sp_gw_optional_key(req, fresh, err);
    if (key == NULL) return -1;
    char role[16];
    if (sp_gw_parse_user_role(req->body, req->body_len, role, err) != 0) return -1;
    Solipass__Accounts__ChangeUserRole change = SOLIPASS__ACCOUNTS__CHANGE_USER_ROLE__INIT;
    change.user_id = req->match.path_id;
    change.role = role_of(role);
    bool ok = false, replayed = false;
    if (sp_gw_run_accounts(req, "accounts.ChangeUserRole.v1", req->match.path_id, key,
                           &change.base, &ok, &replayed, err) != 0)
        return -1;
    if (!ok) return 0;
    return answer_user(req, req->match.path_id, 200, replayed, err);
}

int sp_gw_route_partner_users_delete(sp_gw_request *req, sp_error *err) {
    if (own_partner(req, err) != 0) return -1;
    char fresh[SP_ID_LEN + 1];
    const char *key = sp_gw_optional_key(req, fresh, err);
    if (key == NULL) return -1;
    Solipass__Accounts__RemoveUser removal = SOLIPASS__ACCOUNTS__REMOVE_USER__INIT;
    removal.user_id = req->match.path_id;
    bool ok = false, replayed = false;
    if (sp_gw_run_accounts(req, "accounts.RemoveUser.v1", req->match.path_id, key, &removal.base,
                           &ok, &replayed, err) != 0)
        return -1;
    if (!ok) return 0;
    return sp_gw_answer_no_content(req);
}
