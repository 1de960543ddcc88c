/* routes_backoffice.c - the city's back-office: onboarding partners and
 * beneficiaries, looking at and crediting passes. */
#include "routes.h"
#include "json_limits.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "accounts.pb-c.h"
#include "commands.h"
#include "ledger.pb-c.h"
#include "pgpool.h"
#include "sp_kafka.h"
#include "sp_text.h"

/* ------------------------------------------------------------------ partners */

int sp_gw_route_partners_create(sp_gw_request *req, sp_error *err) {
    const char *key = NULL;
    if (sp_gw_idempotency_key(req, &key, err) != 0) return -1;
    sp_gw_partner_req body;
    if (sp_gw_parse_partner(req->body, req->body_len, &body, err) != 0) return -1;
    /* Without a password the accounts service issues an activation link,
     * which the notifications service mails to the administrator. */
    char hash[SP_GW_PASSWORD_HASH_MAX] = "";
    int rc = body.admin_password[0] == '\0'
                 ? 0
                 : sp_gw_auth_hash(req->app->auth, body.admin_password, req->user.user_id, key,
                                   body.admin_email, hash, err);
    sodium_memzero(body.admin_password, sizeof body.admin_password);
    if (rc != 0) return -1;
    Solipass__Accounts__CreatePartner create = SOLIPASS__ACCOUNTS__CREATE_PARTNER__INIT;
    create.name = body.name;
    create.category = body.category;
    create.admin_email = body.admin_email;
    create.admin_password_hash = hash;
    create.admin_full_name = body.admin_full_name;
    /* The partner's id is chosen by the accounts service: keyed by who asks. */
    sp_envelope_meta meta = sp_gw_command_meta(req, "accounts.CreatePartner.v1", req->user.user_id,
                                               key);
    return sp_gw_run_and_answer(req, SP_TOPIC_ACCOUNTS_COMMANDS, &meta, &create.base, err);
}

/* ------------------------------------------------------------------ beneficiaries */

/* The user and pass ids the accounts service chose, from its reply. */
static json_t *created_user(const Solipass__Reply *reply, const char **user_id,
                            const char **pass_id, sp_error *err) {
    json_error_t jerr;
    json_t *result = sp_gw_json_loads(reply->result_json, JSON_REJECT_DUPLICATES, &jerr);
    *user_id = json_string_value(json_object_get(result, "user_id"));
    *pass_id = json_string_value(json_object_get(result, "pass_id"));
    if (!json_is_object(result) || !sp_id_valid(*user_id) || !sp_id_valid(*pass_id)) {
        json_decref(result);
        sp_error_set(err, 500, "internal_reply", "",
                     "CreateBeneficiary reply without user_id and pass_id");
        return NULL;
    }
    return result;
}

static int open_pass(sp_gw_request *req, const sp_gw_beneficiary_req *body, const char *key,
                     const char *user_id, const char *pass_id, Solipass__Reply **reply,
                     sp_error *err) {
    Solipass__Ledger__EnvelopeSpec specs[SP_GW_ENVELOPES_MAX];
    Solipass__Ledger__EnvelopeSpec *spec_ptrs[SP_GW_ENVELOPES_MAX];
    assert(body->envelope_count <= SP_GW_ENVELOPES_MAX);
    for (size_t i = 0; i < body->envelope_count; i++) {
        solipass__ledger__envelope_spec__init(&specs[i]);
        specs[i].category = (char *)body->envelopes[i].category;
        specs[i].end_date = (char *)body->envelopes[i].end_date;
        spec_ptrs[i] = &specs[i];
    }
    Solipass__Ledger__OpenPass open = SOLIPASS__LEDGER__OPEN_PASS__INIT;
    open.pass_id = (char *)pass_id;
    open.beneficiary_id = (char *)user_id;
    open.n_envelopes = body->envelope_count;
    open.envelopes = spec_ptrs;
    sp_envelope_meta meta = sp_gw_command_meta(req, "ledger.OpenPass.v1", pass_id, key);
    return sp_gw_commands_run(req->app->commands, req->app->projwait, SP_TOPIC_LEDGER_COMMANDS,
                              &meta, &open.base, req->deadline_ms, reply, err);
}

/* The answer joins both steps: the user from accounts, the pass from the ledger. */
static int answer_beneficiary(sp_gw_request *req, json_t *user, const Solipass__Reply *opened,
                              bool replayed, sp_error *err) {
    json_error_t jerr;
    json_t *pass = sp_gw_json_loads(opened->result_json != NULL ? opened->result_json : "{}",
                                    JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(pass) || json_object_update_missing(user, pass) != 0) {
        json_decref(pass);
        return sp_error_set(err, 500, "internal_reply", "", "OpenPass reply is not a JSON object");
    }
    json_decref(pass);
    return sp_gw_answer_json(req, 201, json_incref(user), replayed);
}

static int create_beneficiary(sp_gw_request *req, const sp_gw_beneficiary_req *body,
                              const char *key, const char *hash, sp_error *err) {
    Solipass__Accounts__CreateBeneficiary create = SOLIPASS__ACCOUNTS__CREATE_BENEFICIARY__INIT;
    create.email = (char *)body->email;
    create.password_hash = (char *)hash;
    create.full_name = (char *)body->full_name;
    sp_envelope_meta meta = sp_gw_command_meta(req, "accounts.CreateBeneficiary.v1",
                                               req->user.user_id, key);
    Solipass__Reply *created = NULL, *opened = NULL;
    json_t *user = NULL;
    const char *user_id = NULL, *pass_id = NULL;
    int rc = sp_gw_commands_run(req->app->commands, req->app->projwait, SP_TOPIC_ACCOUNTS_COMMANDS,
                                &meta, &create.base, req->deadline_ms, &created, err);
    if (rc != 0) goto done;
    if (!created->ok) {
        rc = sp_gw_answer_reply(req, created, err);
        goto done;
    }
    user = created_user(created, &user_id, &pass_id, err);
    if (user == NULL) {
        rc = -1;
        goto done;
    }
    /* Same Idempotency-Key: a retry after a failure here replays step one
     * and carries out (or replays) step two. */
    rc = open_pass(req, body, key, user_id, pass_id, &opened, err);
    if (rc != 0) goto done;
    if (!opened->ok) {
        rc = sp_gw_answer_reply(req, opened, err);
        goto done;
    }
    rc = answer_beneficiary(req, user, opened, created->replayed && opened->replayed, err);
done:
    json_decref(user);
    if (created != NULL) solipass__reply__free_unpacked(created, NULL);
    if (opened != NULL) solipass__reply__free_unpacked(opened, NULL);
    return rc;
}

int sp_gw_route_beneficiaries_create(sp_gw_request *req, sp_error *err) {
    const char *key = NULL;
    if (sp_gw_idempotency_key(req, &key, err) != 0) return -1;
    sp_date today = sp_paris_date_of(sp_clock_now_ms(req->app->clock));
    sp_gw_beneficiary_req *body = malloc(sizeof *body);
    if (body == NULL) return sp_error_set(err, 503, "unavailable", "", "out of memory");
    int rc = sp_gw_parse_beneficiary(req->body, req->body_len, today, body, err);
    /* Without a password the accounts service issues an activation link. */
    char hash[SP_GW_PASSWORD_HASH_MAX] = "";
    if (rc == 0 && body->password[0] != '\0') {
        rc = sp_gw_auth_hash(req->app->auth, body->password, req->user.user_id, key, body->email,
                             hash, err);
    }
    sodium_memzero(body->password, sizeof body->password);
    if (rc == 0) rc = create_beneficiary(req, body, key, hash, err);
    free(body);
    return rc;
}

/* ------------------------------------------------------------------ passes */

int sp_gw_route_passes_get(sp_gw_request *req, sp_error *err) {
    return sp_gw_answer_pass(req, req->match.path_id, err);
}

/* ------------------------------------------------------------------ closing a pass */

static const sp_gw_field pass_close_fields[] = {
    {"reason", SP_GW_FIELD_STRING, false, 0, SP_GW_PASS_CLOSE_REASON_LEN_MAX},
};
static const sp_gw_schema pass_close_schema = {pass_close_fields, 1};

/* The body is optional: none, or {"reason": "..."}. */
static int parse_close(const sp_gw_request *req, char *reason, size_t reason_size, sp_error *err) {
    reason[0] = '\0';
    if (req->body_len == 0 || strspn(req->body, " \t\r\n") == req->body_len) return 0;
    json_t *root = sp_gw_body_parse(req->body, req->body_len, &pass_close_schema, err);
    if (root == NULL) return -1;
    const char *given = json_string_value(json_object_get(root, "reason"));
    snprintf(reason, reason_size, "%s", given != NULL ? given : "");
    json_decref(root);
    size_t len = strlen(reason);
    if (sp_text_has_control_char(reason, len)) {
        return sp_error_set(err, 400, "invalid_value", "reason",
                            "a reason has no control characters");
    }
    return 0;
}

int sp_gw_route_passes_close(sp_gw_request *req, sp_error *err) {
    const char *key = NULL;
    if (sp_gw_idempotency_key(req, &key, err) != 0) return -1;
    char reason[SP_GW_TEXT_BYTES(SP_GW_PASS_CLOSE_REASON_LEN_MAX)];
    if (parse_close(req, reason, sizeof reason, err) != 0) return -1;
    const char *pass_id = req->match.path_id;
    bool exists = false;
    if (sp_gw_pass_exists(req, pass_id, &exists, err) != 0) return -1;
    if (!exists) return sp_error_set(err, 404, "pass_not_found", "pass_id", "no pass has this id");
    Solipass__Ledger__ClosePass close = SOLIPASS__LEDGER__CLOSE_PASS__INIT;
    close.pass_id = (char *)pass_id;
    close.reason = reason;
    sp_envelope_meta meta = sp_gw_command_meta(req, "ledger.ClosePass.v1", pass_id, key);
    return sp_gw_run_and_answer(req, SP_TOPIC_LEDGER_COMMANDS, &meta, &close.base, err);
}

int sp_gw_route_passes_credit(sp_gw_request *req, sp_error *err) {
    const char *key = NULL;
    if (sp_gw_idempotency_key(req, &key, err) != 0) return -1;
    sp_gw_credit_req body;
    sp_date today = sp_paris_date_of(sp_clock_now_ms(req->app->clock));
    if (sp_gw_parse_credit(req->body, req->body_len, req->app->config->credit_cents_max, today,
                           &body, err) != 0) {
        return -1;
    }
    const char *pass_id = req->match.path_id;
    bool exists = false;
    if (sp_gw_pass_exists(req, pass_id, &exists, err) != 0) return -1;
    if (!exists) return sp_error_set(err, 404, "pass_not_found", "pass_id", "no pass has this id");
    Solipass__Ledger__CreditPass credit = SOLIPASS__LEDGER__CREDIT_PASS__INIT;
    credit.pass_id = (char *)pass_id;
    credit.category = body.category;
    credit.amount_cents = body.amount_cents;
    credit.end_date = body.end_date;
    sp_envelope_meta meta = sp_gw_command_meta(req, "ledger.CreditPass.v1", pass_id, key);
    return sp_gw_run_and_answer(req, SP_TOPIC_LEDGER_COMMANDS, &meta, &credit.base, err);
}
