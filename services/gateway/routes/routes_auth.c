/* routes_auth.c - login, logout and "who am I". A login is checked here
 * against the users read model; the session itself is a StartSession
 * command to the accounts service, answered once the projection stores it,
 * so the token works on the very next request. Failed logins are counted
 * per e-mail and per client address, in this gateway (ratelimit.h) and in
 * the count every gateway shares (login_limits.h): past the limit a login
 * is refused with 429 before its password is even checked.
 *
 * A browser logs in with "session": "cookie" from the service's own pages
 * (Origin SP_PUBLIC_URL): the token then goes into an HttpOnly cookie and
 * never into the body, out of reach of the pages' scripts. */
#include "routes.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "accounts.pb-c.h"
#include "commands.h"
#include "login_limits.h"
#include "pgpool.h"
#include "ratelimit.h"
#include "session_cookie.h"
#include "sp_kafka.h"

/* clang-format off */
static const char login_sql[] =
    "SELECT user_id, email, full_name, role, coalesce(partner_id::text, ''),"
    " coalesce(pass_id::text, ''), password_hash FROM users WHERE email = $1"
    " AND removed_at IS NULL";
/* clang-format on */

/* The user row of email and its password hash (hash "" when unknown). */
static int find_user(sp_gw_request *req, const char *email, sp_gw_user *user, bool *found,
                     char *hash, sp_error *err) {
    const char *params[1] = {email};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, login_sql, 1, params, &res, err) != 0) return -1;
    int rc = 0;
    *found = PQntuples(res) == 1;
    hash[0] = '\0';
    if (*found) {
        const char *values[6];
        for (int i = 0; i < 6; i++) values[i] = PQgetvalue(res, 0, i);
        rc = sp_gw_user_from_row(values, user, err);
        /* A value too long for an Argon2id string can only fail to verify. */
        snprintf(hash, SP_GW_PASSWORD_HASH_MAX, "%s", PQgetvalue(res, 0, 6));
    }
    PQclear(res);
    return rc;
}

/* The count shared by every gateway (login_limits.h) of e-mails or of
 * client addresses; the same limits as the gateway's own tables. */
static sp_gw_login_limit shared_limit(sp_gw_request *req, bool by_account) {
    const sp_gw_config *c = req->app->config;
    sp_gw_login_limit limit = {.pool = req->app->pool,
                               .secret = c->link_secret,
                               .kind = by_account ? "account" : "address",
                               .failures_max = by_account ? c->login_failures_per_account_max
                                                          : c->login_failures_per_address_max,
                               .window_ms = c->login_window_s * 1000,
                               .purges = by_account};
    return limit;
}

/* Gives back a reserved attempt (its check could not be made, or another
 * count refused it); the account's count is cleared instead when
 * clear_account (the password matched). */
static int release_attempt(sp_gw_request *req, const char *email, bool clear_account,
                           sp_error *err) {
    int64_t now_ms = sp_clock_now_ms(req->app->clock);
    const char *address = sp_gw_request_address(req);
    sp_gw_ratelimit_give_back(req->app->login_by_address, address, now_ms);
    if (clear_account) sp_gw_ratelimit_clear(req->app->login_by_account, email);
    else sp_gw_ratelimit_give_back(req->app->login_by_account, email, now_ms);
    sp_gw_login_limit by_account = shared_limit(req, true);
    sp_gw_login_limit by_address = shared_limit(req, false);
    sp_error ignored;
    int rc = sp_gw_login_limit_give_back(&by_address, address, now_ms, err);
    int rc_account = clear_account
                         ? sp_gw_login_limit_clear(&by_account, email, rc == 0 ? err : &ignored)
                         : sp_gw_login_limit_give_back(&by_account, email, now_ms,
                                                       rc == 0 ? err : &ignored);
    return rc == 0 ? rc_account : rc;
}

/* Reserves the attempt of the shared counts, account then address; on a
 * refusal or an error nothing stays taken there. */
static int take_shared(sp_gw_request *req, const char *email, int64_t now_ms, int64_t *wait_ms,
                       sp_error *err) {
    sp_gw_login_limit by_account = shared_limit(req, true);
    sp_gw_login_limit by_address = shared_limit(req, false);
    if (sp_gw_login_limit_take(&by_account, email, now_ms, wait_ms, err) != 0) return -1;
    if (*wait_ms > 0) return 0;
    sp_error ignored;
    if (sp_gw_login_limit_take(&by_address, sp_gw_request_address(req), now_ms, wait_ms, err) !=
        0) {
        sp_gw_login_limit_give_back(&by_account, email, now_ms, &ignored);
        return -1;
    }
    if (*wait_ms > 0) sp_gw_login_limit_give_back(&by_account, email, now_ms, &ignored);
    return 0;
}

/* Reserves the attempt for the e-mail and the client's address, counted as
 * failed until it succeeds: concurrent logins cannot all pass a check made
 * before the slow hash. Counted in this gateway's tables (which also count
 * reset requests per address) and in the count shared by every gateway
 * (login_limits.h). 429 "too_many_attempts" (with Retry-After) while any is
 * over its limit; then nothing is counted. */
static int check_attempts(sp_gw_request *req, const char *email, int64_t now_ms, sp_error *err) {
    const char *address = sp_gw_request_address(req);
    int64_t wait_ms = sp_gw_ratelimit_take(req->app->login_by_account, email, now_ms);
    if (wait_ms == 0) {
        wait_ms = sp_gw_ratelimit_take(req->app->login_by_address, address, now_ms);
        if (wait_ms > 0) sp_gw_ratelimit_give_back(req->app->login_by_account, email, now_ms);
    }
    if (wait_ms == 0) {
        int rc = take_shared(req, email, now_ms, &wait_ms, err);
        if (rc != 0 || wait_ms > 0) {
            sp_gw_ratelimit_give_back(req->app->login_by_address, address, now_ms);
            sp_gw_ratelimit_give_back(req->app->login_by_account, email, now_ms);
        }
        if (rc != 0) return -1;
    }
    if (wait_ms <= 0) return 0;
    req->retry_after_s = (wait_ms + 999) / 1000;
    return sp_error_set(err, 429, "too_many_attempts", "",
                        "too many failed attempts: try again in %" PRId64 " s", req->retry_after_s);
}

static int check_credentials(sp_gw_request *req, sp_gw_login_req *body, sp_gw_user *user,
                             sp_error *err) {
    bool found = false;
    char hash[SP_GW_PASSWORD_HASH_MAX];
    int rc = find_user(req, body->email, user, &found, hash, err);
    /* An account without a usable hash (none set yet) costs the same time
     * as an unknown e-mail. */
    bool usable = found && strncmp(hash, crypto_pwhash_argon2id_STRPREFIX,
                                   strlen(crypto_pwhash_argon2id_STRPREFIX)) == 0;
    bool matches = false;
    if (rc == 0) {
        rc = sp_gw_auth_verify(req->app->auth, usable ? hash : NULL, body->password, &matches, err);
    }
    /* The reserved attempt stays counted only when the password was wrong. */
    if (rc != 0) {
        sp_error ignored;
        release_attempt(req, body->email, false, &ignored);
        return -1;
    }
    if (!matches) {
        return sp_error_set(err, 401, "invalid_credentials", "",
                            "the e-mail or the password is not right");
    }
    /* When the database fails here the login is answered 503: a count may
     * stay one too high (refused sooner), never too low. */
    return release_attempt(req, body->email, true, err);
}

static int answer_login(sp_gw_request *req, const char *token, int64_t expires_at_ms, bool cookie) {
    char expires_at[SP_GW_INSTANT_LEN + 1];
    sp_gw_instant_format(expires_at_ms, expires_at);
    json_t *body;
    if (cookie) {
        sp_gw_set_cookie_format(token, req->app->config->session_ttl_s,
                                sp_gw_public_url_secure(req->app->config->public_url),
                                req->set_cookie);
        body = json_pack("{s:s, s:o}", "expires_at", expires_at, "user",
                         sp_gw_user_json(&req->user));
    } else {
        body = json_pack("{s:s, s:s, s:o}", "token", token, "expires_at", expires_at, "user",
                         sp_gw_user_json(&req->user));
    }
    int rc = sp_gw_answer_json(req, 200, body, false);
    sodium_memzero(req->set_cookie, sizeof req->set_cookie);
    return rc;
}

int sp_gw_route_login(sp_gw_request *req, sp_error *err) {
    sp_gw_login_req body;
    if (sp_gw_parse_login(req->body, req->body_len, &body, err) != 0) return -1;
    /* Another site's page could otherwise log a browser in to an account
     * of its choosing (login CSRF). */
    if (body.session_cookie && sp_gw_origin_check(sp_gw_request_header(req, "Origin"),
                                                  req->app->config->public_url, err) != 0) {
        sodium_memzero(body.password, sizeof body.password);
        return -1;
    }
    int checked = check_attempts(req, body.email, sp_clock_now_ms(req->app->clock), err);
    if (checked == 0) checked = check_credentials(req, &body, &req->user, err);
    sodium_memzero(body.password, sizeof body.password);
    if (checked != 0) return -1;
    char token[SP_TOKEN_LEN + 1];
    uint8_t token_hash[SP_TOKEN_HASH_LEN];
    sp_token_new(token);
    sp_token_hash(token, token_hash);
    int64_t expires_at_ms = sp_clock_now_ms(req->app->clock) +
                            req->app->config->session_ttl_s * 1000;
    Solipass__Accounts__StartSession start = SOLIPASS__ACCOUNTS__START_SESSION__INIT;
    start.user_id = req->user.user_id;
    start.token_hash.data = token_hash;
    start.token_hash.len = sizeof token_hash;
    start.expires_at_ms = expires_at_ms;
    char command_id[SP_ID_LEN + 1];
    sp_id_new(command_id); /* every login is a new session */
    sp_envelope_meta meta = sp_gw_command_meta(req, "accounts.StartSession.v1", req->user.user_id,
                                               command_id);
    Solipass__Reply *reply = NULL;
    int rc = sp_gw_commands_run(req->app->commands, req->app->projwait, SP_TOPIC_ACCOUNTS_COMMANDS,
                                &meta, &start.base, req->deadline_ms, &reply, err);
    if (rc == 0 && !reply->ok) {
        rc = sp_gw_answer_reply(req, reply, err);
    } else if (rc == 0) {
        rc = answer_login(req, token, expires_at_ms, body.session_cookie);
    }
    if (reply != NULL) solipass__reply__free_unpacked(reply, NULL);
    sodium_memzero(token, sizeof token);
    return rc;
}

int sp_gw_route_logout(sp_gw_request *req, sp_error *err) {
    Solipass__Accounts__EndSession end = SOLIPASS__ACCOUNTS__END_SESSION__INIT;
    end.token_hash.data = req->user.token_hash;
    end.token_hash.len = sizeof req->user.token_hash;
    char command_id[SP_ID_LEN + 1];
    sp_id_new(command_id);
    sp_envelope_meta meta = sp_gw_command_meta(req, "accounts.EndSession.v1", req->user.user_id,
                                               command_id);
    Solipass__Reply *reply = NULL;
    if (sp_gw_commands_run(req->app->commands, req->app->projwait, SP_TOPIC_ACCOUNTS_COMMANDS,
                           &meta, &end.base, req->deadline_ms, &reply, err) != 0) {
        return -1;
    }
    if (reply->ok && req->user.by_cookie) {
        sp_gw_set_cookie_format("", 0, sp_gw_public_url_secure(req->app->config->public_url),
                                req->set_cookie);
    }
    int rc = reply->ok ? sp_gw_answer_no_content(req) : sp_gw_answer_reply(req, reply, err);
    solipass__reply__free_unpacked(reply, NULL);
    return rc;
}

int sp_gw_route_me(sp_gw_request *req, sp_error *err) {
    json_t *user = sp_gw_user_json(&req->user);
    if (user == NULL) return sp_error_set(err, 500, "internal", "", "the user could not be shown");
    return sp_gw_answer_json(req, 200, user, false);
}
