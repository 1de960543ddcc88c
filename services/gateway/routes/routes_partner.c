/* routes_partner.c - a partner's own space: its record, the payments made
 * at its place (filtered, with totals), a payment's internal reference and
 * its cancellation. The partner is always the session's. */
#include "routes.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include "ledger.pb-c.h"
#include "pgpool.h"
#include "sp_kafka.h"

/* clang-format off */
static const char partner_sql[] =
    "SELECT partner_id, partner_code, name, category, owed_cents FROM partners"
    " WHERE partner_id = $1::uuid";
/* clang-format on */

static int own_partner(const sp_gw_request *req, sp_error *err) {
    if (sp_id_valid(req->user.partner_id)) return 0;
    return sp_error_set(err, 403, "forbidden", "", "this account belongs to no partner");
}

int sp_gw_route_partner_get(sp_gw_request *req, sp_error *err) {
    if (own_partner(req, err) != 0) return -1;
    const char *params[1] = {req->user.partner_id};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, partner_sql, 1, params, &res, err) != 0) return -1;
    json_t *partner = NULL;
    if (PQntuples(res) == 1) {
        partner = sp_gw_partner_json(res, 0, 0, err);
    } else {
        sp_error_set(err, 404, "partner_not_found", "", "this account's partner is not known yet");
    }
    PQclear(res);
    if (partner == NULL) return -1;
    return sp_gw_answer_json(req, 200, partner, false);
}

int sp_gw_route_partner_operations(sp_gw_request *req, sp_error *err) {
    if (own_partner(req, err) != 0) return -1;
    return sp_gw_answer_operations(req, SP_GW_OPERATIONS_OF_PARTNER, req->user.partner_id, err);
}

/* ------------------------------------------------------------------ one operation */

/* clang-format off */
/* A payment at the session's partner, found in the read model: its pass is
 * the aggregate the command goes to. Another partner's is not found. */
static const char partner_operation_sql[] =
    "SELECT pass_id FROM operations WHERE operation_id = $1::uuid AND partner_id = $2::uuid"
    " AND kind = 'payment'";
/* clang-format on */

static int operation_pass(sp_gw_request *req, char pass_id[SP_ID_LEN + 1], sp_error *err) {
    const char *params[2] = {req->match.path_id, req->user.partner_id};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, partner_operation_sql, 2, params, &res, err) != 0) {
        return -1;
    }
    int rc = 0;
    if (PQntuples(res) == 1 && sp_id_valid(PQgetvalue(res, 0, 0))) {
        snprintf(pass_id, SP_ID_LEN + 1, "%s", PQgetvalue(res, 0, 0));
    } else {
        rc = sp_error_set(err, 404, "operation_not_found", "operation_id",
                          "no operation has this id");
    }
    PQclear(res);
    return rc;
}

int sp_gw_route_partner_operation_reference(sp_gw_request *req, sp_error *err) {
    if (own_partner(req, err) != 0) return -1;
    char fresh[SP_ID_LEN + 1];
    const char *key = sp_gw_optional_key(req, fresh, err);
    if (key == NULL) return -1;
    json_t *root = sp_gw_body_parse(req->body, req->body_len, &sp_gw_schema_operation_reference,
                                    err);
    if (root == NULL) return -1;
    char reference[SP_OPERATIONS_FILTER_TEXT_BYTES];
    snprintf(reference, sizeof reference, "%s",
             json_string_value(json_object_get(root, "reference")));
    json_decref(root);
    char pass_id[SP_ID_LEN + 1];
    if (sp_operations_reference_check(reference, strlen(reference), err) != 0 ||
        operation_pass(req, pass_id, err) != 0) {
        return -1;
    }
    Solipass__Ledger__SetOperationReference command =
        SOLIPASS__LEDGER__SET_OPERATION_REFERENCE__INIT;
    command.pass_id = pass_id;
    command.operation_id = req->match.path_id;
    command.partner_id = req->user.partner_id;
    command.reference = reference;
    sp_envelope_meta meta = sp_gw_command_meta(req, "ledger.SetOperationReference.v1", pass_id,
                                               key);
    return sp_gw_run_and_answer(req, SP_TOPIC_LEDGER_COMMANDS, &meta, &command.base, err);
}

int sp_gw_route_partner_operation_cancel(sp_gw_request *req, sp_error *err) {
    if (own_partner(req, err) != 0) return -1;
    const char *key = NULL;
    if (sp_gw_idempotency_key(req, &key, err) != 0) return -1;
    if (req->body_len > 0 && strspn(req->body, " \t\r\n") != req->body_len &&
        strcmp(req->body, "{}") != 0) {
        return sp_error_set(err, 400, "unknown_field", "", "this endpoint takes no body");
    }
    char pass_id[SP_ID_LEN + 1];
    if (operation_pass(req, pass_id, err) != 0) return -1;
    Solipass__Ledger__CancelOperation command = SOLIPASS__LEDGER__CANCEL_OPERATION__INIT;
    command.pass_id = pass_id;
    command.operation_id = req->match.path_id;
    command.partner_id = req->user.partner_id;
    /* Keyed by the operation's pass: one writer decides its cancellation. */
    sp_envelope_meta meta = sp_gw_command_meta(req, "ledger.CancelOperation.v1", pass_id, key);
    return sp_gw_run_and_answer(req, SP_TOPIC_LEDGER_COMMANDS, &meta, &command.base, err);
}
