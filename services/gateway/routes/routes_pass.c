/* routes_pass.c - the beneficiary's own pass: balance, paying a partner,
 * operations. The pass is always the session's: a beneficiary cannot name
 * another one. */
#include "routes.h"

#include <assert.h>
#include <string.h>
#include "ledger.pb-c.h"
#include "directory_feed.h"
#include "sp_kafka.h"

static int own_pass(const sp_gw_request *req, sp_error *err) {
    if (sp_id_valid(req->user.pass_id)) return 0;
    return sp_error_set(err, 404, "pass_not_found", "", "this account has no pass");
}

int sp_gw_route_pass_get(sp_gw_request *req, sp_error *err) {
    if (own_pass(req, err) != 0) return -1;
    return sp_gw_answer_pass(req, req->user.pass_id, err);
}

int sp_gw_route_pass_operations(sp_gw_request *req, sp_error *err) {
    if (own_pass(req, err) != 0) return -1;
    return sp_gw_answer_operations(req, SP_GW_OPERATIONS_OF_PASS, req->user.pass_id, err);
}

/* A Luhn-valid code nobody holds is refused here, so that it never
 * reaches the log. The directory (directory.h) knows every partner code
 * it has read: no database round trip, but for a code it does not know. */
static int partner_code_known(sp_gw_request *req, const char *code, sp_error *err) {
    bool known = false;
    sp_gw_directory_feed *directory = req->app->directory;
    if (sp_gw_directory_feed_partner_code(directory, code, &known, err) != 0) return -1;
    if (!known && (sp_gw_directory_catch_up(req->app, err) != 0 ||
                   sp_gw_directory_feed_partner_code(directory, code, &known, err) != 0))
        return -1;
    if (known) return 0;
    return sp_error_set(err, 404, "partner_not_found", "partner_code", "no partner has this code");
}

int sp_gw_route_pass_pay(sp_gw_request *req, sp_error *err) {
    const char *key = NULL;
    if (sp_gw_idempotency_key(req, &key, err) != 0) return -1;
    if (own_pass(req, err) != 0) return -1;
    sp_gw_payment_req body;
    if (sp_gw_parse_payment(req->body, req->body_len, req->app->config->payment_cents_max, &body,
                            err) != 0) {
        return -1;
    }
    if (partner_code_known(req, body.partner_code, err) != 0) return -1;
    Solipass__Ledger__Pay pay = SOLIPASS__LEDGER__PAY__INIT;
    pay.pass_id = req->user.pass_id;
    pay.partner_code = body.partner_code;
    pay.amount_cents = body.amount_cents;
    sp_envelope_meta meta = sp_gw_command_meta(req, "ledger.Pay.v1", req->user.pass_id, key);
    return sp_gw_run_and_answer(req, SP_TOPIC_LEDGER_COMMANDS, &meta, &pay.base, err);
}
