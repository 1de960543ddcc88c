/* routes_links.c - activation and password-reset links, without a session.
 *
 * A link's token is "<activation id>.<MAC>" (sp_link.h): its MAC is checked
 * here with SP_LINK_SECRET before anything reaches the log, so a forged or
 * mistyped token writes nothing. The accounts service then decides whether
 * the link is known, unused and not expired (single writer), and a
 * PasswordSet event spends it: any later use of the link is 410 token_used.
 * A refusal of an anonymous request is answered, never recorded: a bad link
 * writes nothing. */
#include "routes.h"

#include <assert.h>
#include <string.h>
#include "accounts.pb-c.h"
#include "commands.h"
#include "ratelimit.h"
#include "sp_kafka.h"
#include "sp_link.h"

static int require_links(const sp_gw_request *req, sp_error *err) {
    if (req->app->config->link_secret[0] != '\0') return 0;
    return sp_error_set(err, 503, "unavailable", "",
                        "activation links are not configured on this server (SP_LINK_SECRET)");
}

static int send_set_password(sp_gw_request *req, const char *activation_id, const char *purpose,
                             const char *command_id, char *hash, sp_error *err) {
    Solipass__Accounts__SetPassword set = SOLIPASS__ACCOUNTS__SET_PASSWORD__INIT;
    set.activation_id = (char *)activation_id;
    set.password_hash = hash;
    set.purpose = (char *)purpose;
    sp_envelope_meta meta = sp_gw_command_meta(req, "accounts.SetPassword.v1", activation_id,
                                               command_id);
    /* Answered once the projection stores the new hash: the next login works. */
    return sp_gw_run_and_answer(req, SP_TOPIC_ACCOUNTS_COMMANDS, &meta, &set.base, err);
}

static int set_password(sp_gw_request *req, const char *purpose, sp_error *err) {
    if (require_links(req, err) != 0) return -1;
    sp_gw_set_password_req body;
    int rc = sp_gw_parse_set_password(req->body, req->body_len, &body, err);
    char activation_id[SP_ID_LEN + 1];
    if (rc == 0)
        rc = sp_link_token_check(req->app->config->link_secret, body.token, purpose, activation_id,
                                 err);
    char command_id[SP_ID_LEN + 1];
    char hash[SP_GW_PASSWORD_HASH_MAX];
    if (rc == 0) {
        sp_id_new(command_id);
        rc = sp_gw_auth_hash(req->app->auth, body.password, "", command_id, activation_id, hash,
                             err);
    }
    sodium_memzero(body.password, sizeof body.password);
    if (rc != 0) return -1;
    return send_set_password(req, activation_id, purpose, command_id, hash, err);
}

int sp_gw_route_activate(sp_gw_request *req, sp_error *err) {
    return set_password(req, "activation", err);
}

int sp_gw_route_reset_confirm(sp_gw_request *req, sp_error *err) {
    return set_password(req, "reset", err);
}

/* Always 202 for a well-formed e-mail, known or not: the answer never says
 * whether an account exists. Requests count against the client's address
 * like failed logins, so that nobody floods mailboxes from one place. */
int sp_gw_route_reset_request(sp_gw_request *req, sp_error *err) {
    if (require_links(req, err) != 0) return -1;
    sp_gw_reset_request_req body;
    if (sp_gw_parse_reset_request(req->body, req->body_len, &body, err) != 0) return -1;
    const char *address = sp_gw_request_address(req);
    int64_t now_ms = sp_clock_now_ms(req->app->clock);
    /* Checked and counted in one step: concurrent requests cannot all pass. */
    int64_t wait_ms = sp_gw_ratelimit_take(req->app->login_by_address, address, now_ms);
    if (wait_ms > 0) {
        req->retry_after_s = (wait_ms + 999) / 1000;
        return sp_error_set(err, 429, "too_many_attempts", "",
                            "too many attempts from this address: try again later");
    }
    Solipass__Accounts__RequestPasswordReset reset =
        SOLIPASS__ACCOUNTS__REQUEST_PASSWORD_RESET__INIT;
    reset.email = body.email;
    char command_id[SP_ID_LEN + 1];
    sp_id_new(command_id);
    sp_envelope_meta meta = sp_gw_command_meta(req, "accounts.RequestPasswordReset.v1", command_id,
                                               command_id);
    Solipass__Reply *reply = NULL;
    if (sp_gw_commands_send(req->app->commands, SP_TOPIC_ACCOUNTS_COMMANDS, &meta, &reset.base,
                            req->deadline_ms, &reply, err) != 0)
        return -1;
    bool unavailable = !reply->ok && reply->http_status >= 500;
    if (unavailable) sp_gw_reply_error(reply, err);
    solipass__reply__free_unpacked(reply, NULL);
    if (unavailable) return -1;
    return sp_gw_answer_json(req, 202, json_pack("{s:s}", "status", "accepted"), false);
}
