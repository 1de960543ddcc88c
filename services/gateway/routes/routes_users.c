/* routes_users.c - a partner administrator's users: list, add (the new
 * user gets an activation e-mail), change the profile (role), remove. The
 * partner is always the session's; the accounts service decides (the last
 * administrator stays, another partner's user is unknown).
 *
 * The back-office's staff users (roles backoffice and finance) are the same
 * commands sent with no partner: the accounts service tells the two apart
 * by the actor's role, keeps one activated back-office user, and disables
 * a staff user with the removal (UserRemoved; the row stays, listed as
 * disabled). The back-office also sends new activation links to a
 * partner's users who have not activated their account. */
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
#define SP_GW_STAFF_USERS_MAX 1000
/* Links one resend request sends at most: a partner's users who never
 * activated, oldest first (a partner rarely has more than a handful). */
#define SP_GW_ACTIVATION_RESEND_MAX 50

/* clang-format off */
static const char users_sql[] =
    "SELECT user_id, email, full_name, role, password_hash <> '',"
    " floor(extract(epoch FROM created_at) * 1000)::bigint"
    " FROM users WHERE partner_id = $1::uuid AND removed_at IS NULL"
    " ORDER BY created_at, user_id LIMIT $2::integer";

static const char user_sql[] =
    "SELECT user_id, email, full_name, role, password_hash <> '',"
    " floor(extract(epoch FROM created_at) * 1000)::bigint"
    " FROM users WHERE user_id = $1::uuid AND partner_id = $2::uuid AND removed_at IS NULL";

/* Staff users, disabled ones included: they stay in the history. */
#define STAFF_USERS_SELECT                                                                  \
    "SELECT user_id, email, full_name, role, password_hash <> '',"                          \
    " floor(extract(epoch FROM created_at) * 1000)::bigint, disabled_at IS NOT NULL"        \
    " FROM users WHERE role IN ('backoffice', 'finance')"
static const char staff_users_sql[] =
    STAFF_USERS_SELECT " ORDER BY created_at, user_id LIMIT $1::integer";
static const char staff_user_sql[] = STAFF_USERS_SELECT " AND user_id = $1::uuid";
/* clang-format on */

/* Columns user_id, email, full_name, role, activated, created_at (ms) and,
 * for a staff user (staff), disabled. */
static json_t *user_json_of(const PGresult *res, int row, bool staff, sp_error *err) {
    int64_t created_ms = 0;
    if (sp_gw_int64_of(PQgetvalue(res, row, 5), &created_ms, err) != 0) return NULL;
    char created_at[SP_GW_INSTANT_LEN + 1];
    sp_gw_instant_format(created_ms, created_at);
    json_t *user = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "user_id", PQgetvalue(res, row, 0),
                             "email", PQgetvalue(res, row, 1), "full_name", PQgetvalue(res, row, 2),
                             "role", PQgetvalue(res, row, 3), "activated",
                             strcmp(PQgetvalue(res, row, 4), "t") == 0, "created_at", created_at);
    if (user != NULL && staff &&
        json_object_set_new(user, "disabled",
                            json_boolean(strcmp(PQgetvalue(res, row, 6), "t") == 0)) != 0) {
        json_decref(user);
        user = NULL;
    }
    if (user == NULL) sp_error_set(err, 500, "internal", "", "a user could not be shown");
    return user;
}

static json_t *user_json(const PGresult *res, int row, sp_error *err) {
    return user_json_of(res, row, false, err);
}

/* The users of every row of res (freed here); NULL when one cannot be shown. */
static json_t *users_array(PGresult *res, bool staff, sp_error *err) {
    json_t *users = json_array();
    for (int row = 0; users != NULL && row < PQntuples(res); row++) {
        json_t *user = user_json_of(res, row, staff, err);
        if (user == NULL || json_array_append_new(users, user) != 0) {
            json_decref(users);
            users = NULL;
        }
    }
    PQclear(res);
    if (users == NULL && err->code[0] == '\0')
        sp_error_set(err, 500, "internal", "", "the users could not be shown");
    return users;
}

/* {users: [...]} of every row of res (freed here). */
static int answer_users(sp_gw_request *req, PGresult *res, bool staff, sp_error *err) {
    json_t *users = users_array(res, staff, err);
    if (users == NULL) return -1;
    return sp_gw_answer_json(req, 200, json_pack("{s:o}", "users", users), false);
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
    return users_array(res, false, err);
}

int sp_gw_route_partner_users_list(sp_gw_request *req, sp_error *err) {
    if (own_partner(req, err) != 0) return -1;
    json_t *users = sp_gw_partner_users_of(req, req->user.partner_id, err);
    if (users == NULL) return -1;
    return sp_gw_answer_json(req, 200, json_pack("{s:o}", "users", users), false);
}

/* A role name the body parser accepted. */
static Solipass__Accounts__Role role_of(const char *name) {
    return strcmp(name, "partner_admin") == 0 ? SOLIPASS__ACCOUNTS__ROLE__ROLE_PARTNER_ADMIN
           : strcmp(name, "backoffice") == 0  ? SOLIPASS__ACCOUNTS__ROLE__ROLE_BACKOFFICE
           : strcmp(name, "finance") == 0     ? SOLIPASS__ACCOUNTS__ROLE__ROLE_FINANCE
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

static int answer_staff_user(sp_gw_request *req, const char *user_id, int status, bool replayed,
                             sp_error *err);

/* AddPartnerUser for partner_id ("" for a staff user), answered as the
 * user it added (201). */
static int add_user(sp_gw_request *req, const char *partner_id, bool staff, sp_error *err) {
    const char *key = NULL;
    if (sp_gw_idempotency_key(req, &key, err) != 0) return -1;
    sp_gw_user_add_req body;
    if ((staff ? sp_gw_parse_staff_add : sp_gw_parse_user_add)(req->body, req->body_len, &body,
                                                               err) != 0)
        return -1;
    Solipass__Accounts__AddPartnerUser add = SOLIPASS__ACCOUNTS__ADD_PARTNER_USER__INIT;
    add.partner_id = (char *)partner_id;
    add.email = body.email;
    add.full_name = body.full_name;
    add.role = role_of(body.role);
    /* A staff user has no partner: its command is keyed by the actor. */
    sp_envelope_meta meta = sp_gw_command_meta(req, "accounts.AddPartnerUser.v1",
                                               staff ? req->user.user_id : partner_id, key);
    Solipass__Reply *reply = NULL;
    if (sp_gw_commands_run(req->app->commands, req->app->projwait, SP_TOPIC_ACCOUNTS_COMMANDS,
                           &meta, &add.base, req->deadline_ms, &reply, err) != 0)
        return -1;
    char user_id[SP_ID_LEN + 1];
    int rc = !reply->ok                                ? sp_gw_answer_reply(req, reply, err)
             : added_user_id(reply, user_id, err) != 0 ? -1
             : staff ? answer_staff_user(req, user_id, 201, reply->replayed, err)
                     : answer_user(req, user_id, 201, reply->replayed, err);
    solipass__reply__free_unpacked(reply, NULL);
    return rc;
}

int sp_gw_route_partner_users_add(sp_gw_request *req, sp_error *err) {
    if (own_partner(req, err) != 0) return -1;
    return add_user(req, req->user.partner_id, false, err);
}

/* ChangeUserRole of the path's user; *ok when accepted (a refusal is answered). */
static int change_role(sp_gw_request *req, bool staff, bool *ok, bool *replayed, sp_error *err) {
    char fresh[SP_ID_LEN + 1];
    const char *key = sp_gw_optional_key(req, fresh, err);
    if (key == NULL) return -1;
    char role[16];
    if ((staff ? sp_gw_parse_staff_role : sp_gw_parse_user_role)(req->body, req->body_len, role,
                                                                 err) != 0)
        return -1;
    Solipass__Accounts__ChangeUserRole change = SOLIPASS__ACCOUNTS__CHANGE_USER_ROLE__INIT;
    change.user_id = req->match.path_id;
    change.role = role_of(role);
    return sp_gw_run_accounts(req, "accounts.ChangeUserRole.v1", req->match.path_id, key,
                              &change.base, ok, replayed, err);
}

int sp_gw_route_partner_users_patch(sp_gw_request *req, sp_error *err) {
    if (own_partner(req, err) != 0) return -1;
    bool ok = false, replayed = false;
    if (change_role(req, false, &ok, &replayed, err) != 0) return -1;
    if (!ok) return 0;
    return answer_user(req, req->match.path_id, 200, replayed, err);
}

/* RemoveUser of the path's user, answered 204 once the projection ended its sessions. */
static int remove_user(sp_gw_request *req, sp_error *err) {
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

int sp_gw_route_partner_users_delete(sp_gw_request *req, sp_error *err) {
    if (own_partner(req, err) != 0) return -1;
    return remove_user(req, err);
}

/* ------------------------------------------------------------------ staff users */

/* A statement of one parameter. */
static int staff_query(sp_gw_request *req, const char *sql, const char *param, PGresult **res,
                       sp_error *err) {
    const char *params[1] = {param};
    return sp_gw_pgpool_query(req->app->pool, sql, 1, params, res, err);
}

static int answer_staff_user(sp_gw_request *req, const char *user_id, int status, bool replayed,
                             sp_error *err) {
    PGresult *res = NULL;
    if (staff_query(req, staff_user_sql, user_id, &res, err) != 0) return -1;
    json_t *user = PQntuples(res) == 1
                       ? user_json_of(res, 0, true, err)
                       : (sp_error_set(err, 404, "user_not_found", "user_id", "no such staff user"),
                          NULL);
    PQclear(res);
    if (user == NULL) return -1;
    return sp_gw_answer_json(req, status, user, replayed);
}

int sp_gw_route_staff_users_list(sp_gw_request *req, sp_error *err) {
    char limit[16];
    snprintf(limit, sizeof limit, "%d", SP_GW_STAFF_USERS_MAX);
    PGresult *res = NULL;
    if (staff_query(req, staff_users_sql, limit, &res, err) != 0) return -1;
    return answer_users(req, res, true, err);
}

int sp_gw_route_staff_users_add(sp_gw_request *req, sp_error *err) {
    return add_user(req, "", true, err);
}

int sp_gw_route_staff_users_patch(sp_gw_request *req, sp_error *err) {
    bool ok = false, replayed = false;
    if (change_role(req, true, &ok, &replayed, err) != 0) return -1;
    if (!ok) return 0;
    return answer_staff_user(req, req->match.path_id, 200, replayed, err);
}

int sp_gw_route_staff_users_delete(sp_gw_request *req, sp_error *err) {
    return remove_user(req, err);
}

/* ------------------------------------------------------------------ activation links */

/* clang-format off */
static const char partner_known_sql[] = "SELECT 1 FROM partners WHERE partner_id = $1::uuid";

static const char not_activated_sql[] =
    "SELECT user_id, email FROM users WHERE partner_id = $1::uuid AND removed_at IS NULL"
    " AND password_hash = '' ORDER BY created_at, user_id LIMIT $2::integer";
/* clang-format on */

/* One IssueActivation for user_id: *sent when a link went out; a user who
 * activated meanwhile (409 already_activated) is skipped. The command id is
 * fresh: every request sends new links (the earlier ones stay valid). */
static int issue_activation(sp_gw_request *req, const char *user_id, bool *sent, sp_error *err) {
    Solipass__Accounts__IssueActivation issue = SOLIPASS__ACCOUNTS__ISSUE_ACTIVATION__INIT;
    issue.user_id = (char *)user_id;
    char command_id[SP_ID_LEN + 1];
    sp_id_new(command_id);
    sp_envelope_meta meta = sp_gw_command_meta(req, "accounts.IssueActivation.v1", user_id,
                                               command_id);
    Solipass__Reply *reply = NULL;
    if (sp_gw_commands_send(req->app->commands, SP_TOPIC_ACCOUNTS_COMMANDS, &meta, &issue.base,
                            req->deadline_ms, &reply, err) != 0)
        return -1;
    *sent = reply->ok;
    bool skipped = !reply->ok && strcmp(reply->code, "already_activated") == 0;
    if (!reply->ok && !skipped) sp_gw_reply_error(reply, err);
    solipass__reply__free_unpacked(reply, NULL);
    return *sent || skipped ? 0 : -1;
}

/* The partner's users who never set a password, or 404 / 409. */
static int not_activated_users(sp_gw_request *req, PGresult **res, sp_error *err) {
    const char *partner_id = req->match.path_id;
    PGresult *known = NULL;
    const char *params[2] = {partner_id, NULL};
    if (sp_gw_pgpool_query(req->app->pool, partner_known_sql, 1, params, &known, err) != 0)
        return -1;
    bool exists = PQntuples(known) == 1;
    PQclear(known);
    if (!exists)
        return sp_error_set(err, 404, "partner_not_found", "partner_id", "no such partner");
    char limit[16];
    snprintf(limit, sizeof limit, "%d", SP_GW_ACTIVATION_RESEND_MAX);
    params[1] = limit;
    if (sp_gw_pgpool_query(req->app->pool, not_activated_sql, 2, params, res, err) != 0) return -1;
    if (PQntuples(*res) > 0) return 0;
    PQclear(*res);
    *res = NULL;
    return sp_error_set(err, 409, "already_activated", "partner_id",
                        "every user of this partner has already activated its account");
}

int sp_gw_route_partner_activation_email(sp_gw_request *req, sp_error *err) {
    PGresult *res = NULL;
    if (not_activated_users(req, &res, err) != 0) return -1;
    json_t *users = json_array();
    int rc = users != NULL ? 0 : sp_error_set(err, 503, "unavailable", "", "out of memory");
    for (int row = 0; rc == 0 && row < PQntuples(res); row++) {
        bool sent = false;
        rc = issue_activation(req, PQgetvalue(res, row, 0), &sent, err);
        if (rc == 0 && sent &&
            json_array_append_new(users, json_pack("{s:s, s:s}", "user_id", PQgetvalue(res, row, 0),
                                                   "email", PQgetvalue(res, row, 1))) != 0)
            rc = sp_error_set(err, 503, "unavailable", "", "out of memory");
    }
    PQclear(res);
    if (rc == 0 && json_array_size(users) == 0)
        rc = sp_error_set(err, 409, "already_activated", "partner_id",
                          "every user of this partner has already activated its account");
    if (rc != 0) {
        json_decref(users);
        return -1;
    }
    return sp_gw_answer_json(req, 202, json_pack("{s:o}", "users", users), false);
}
