/* routes_receipts.c - payment receipts (docs/api.md, Receipts): the public
 * keys that verify them, the verification of a receipt's text (for anyone:
 * a partner who is not the payee, a controller), and its QR code. The
 * signature is checked with the published keys only; the read model then
 * says whether that operation is known and what became of it. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "pgpool.h"
#include "qr.h"
#include "routes.h"
#include "sp_receipt.h"
#include "validate.h"

#define RECEIPT_FIELD_BYTES_MAX 1024 /* longer bodies are not receipts: 400 before any work */

/* clang-format off */
static const char operation_sql[] =
    "SELECT o.status, p.name, p.partner_code FROM operations o"
    " LEFT JOIN partners p ON p.partner_id = o.partner_id"
    " WHERE o.operation_id = $1::uuid AND o.kind = 'payment'";
static const char partner_sql[] =
    "SELECT name, partner_code FROM partners WHERE partner_id = $1::uuid";
/* clang-format on */

static const sp_gw_field verify_fields[] = {
    {"receipt", SP_GW_FIELD_STRING, true, 1, RECEIPT_FIELD_BYTES_MAX},
};
static const sp_gw_schema verify_schema = {verify_fields, 1};

int sp_gw_route_receipt_keys(sp_gw_request *req, sp_error *err) {
    if (req->query != NULL && req->query[0] != '\0')
        return sp_error_set(err, 400, "unknown_field", "", "this endpoint takes no parameters");
    const sp_receipt_keyring *ring = req->app->receipt_keys;
    json_t *keys = json_array();
    for (size_t i = 0; keys != NULL && ring != NULL && i < ring->count; i++) {
        char key_id[SP_RECEIPT_KEY_ID_TEXT_LEN + 1];
        char public_key[sodium_base64_ENCODED_LEN(SP_RECEIPT_PUBLIC_KEY_LEN,
                                                  sodium_base64_VARIANT_ORIGINAL)];
        sp_receipt_key_id_text(ring->keys[i].key_id, key_id);
        sodium_bin2base64(public_key, sizeof public_key, ring->keys[i].public_key,
                          SP_RECEIPT_PUBLIC_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
        json_t *key = json_pack("{s:s, s:s, s:s, s:b}", "key_id", key_id, "algorithm", "Ed25519",
                                "public_key", public_key, "current", i == 0);
        if (key == NULL || json_array_append_new(keys, key) != 0) {
            json_decref(keys);
            keys = NULL;
        }
    }
    if (keys == NULL) return sp_error_set(err, 500, "internal", "", "the keys could not be shown");
    return sp_gw_answer_json(req, 200, json_pack("{s:o}", "keys", keys), false);
}

/* What the read model says of a verified receipt: status and partner. */
static int known_facts(sp_gw_request *req, const sp_receipt *receipt, json_t *answer,
                       sp_error *err) {
    const char *params[1] = {receipt->operation_id};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, operation_sql, 1, params, &res, err) != 0) return -1;
    bool known = PQntuples(res) == 1;
    int failed = json_object_set_new(answer, "known", json_boolean(known));
    failed |= json_object_set_new(answer, "status",
                                  known ? json_string(PQgetvalue(res, 0, 0)) : json_null());
    PQclear(res);
    params[0] = receipt->partner_id;
    if (sp_gw_pgpool_query(req->app->pool, partner_sql, 1, params, &res, err) != 0) return -1;
    bool partner = PQntuples(res) == 1;
    failed |= json_object_set_new(answer, "partner_name",
                                  partner ? json_string(PQgetvalue(res, 0, 0)) : json_null());
    failed |= json_object_set_new(answer, "partner_code",
                                  partner ? json_string(PQgetvalue(res, 0, 1)) : json_null());
    PQclear(res);
    return failed != 0 ? sp_error_set(err, 500, "internal", "", "out of memory") : 0;
}

int sp_gw_route_receipt_verify(sp_gw_request *req, sp_error *err) {
    json_t *root = sp_gw_body_parse(req->body, req->body_len, &verify_schema, err);
    if (root == NULL) return -1;
    sp_receipt receipt;
    sp_error why;
    sp_error_clear(&why);
    int verified = sp_receipt_verify(json_string_value(json_object_get(root, "receipt")),
                                     req->app->receipt_keys, &receipt, &why);
    json_decref(root);
    if (verified != 0) {
        return sp_gw_answer_json(req, 200,
                                 json_pack("{s:b, s:s, s:s}", "valid", 0, "reason", why.code,
                                           "message", why.message),
                                 false);
    }
    char key_id[SP_RECEIPT_KEY_ID_TEXT_LEN + 1], occurred_at[SP_GW_INSTANT_LEN + 1];
    sp_receipt_key_id_text(receipt.key_id, key_id);
    sp_gw_instant_format(receipt.occurred_at_ms, occurred_at);
    json_t *answer = json_pack("{s:b, s:s, s:s, s:I, s:s, s:s, s:s}", "valid", 1, "key_id", key_id,
                               "operation_id", receipt.operation_id, "amount_cents",
                               (json_int_t)receipt.amount_cents, "partner_id", receipt.partner_id,
                               "occurred_at", occurred_at, "pass_ref", receipt.pass_ref);
    if (answer == NULL) return sp_error_set(err, 500, "internal", "", "out of memory");
    if (known_facts(req, &receipt, answer, err) != 0) {
        json_decref(answer);
        return -1;
    }
    return sp_gw_answer_json(req, 200, answer, false);
}

typedef struct qr_query {
    char receipt[SP_RECEIPT_TEXT_MAX + 1];
    bool seen;
} qr_query;

static int take_qr_param(void *ctx, const char *name, size_t name_len, const char *value,
                         size_t value_len, sp_error *err) {
    qr_query *q = ctx;
    if (name_len != 1 || name[0] != 'r')
        return sp_error_set(err, 400, "unknown_field", "", "the only parameter is r");
    if (value_len == 0 || value_len > SP_RECEIPT_TEXT_MAX)
        return sp_error_set(err, 400, "invalid_value", "r",
                            "r is a receipt's text (at most %d "
                            "characters)",
                            SP_RECEIPT_TEXT_MAX);
    memcpy(q->receipt, value, value_len);
    q->receipt[value_len] = '\0';
    q->seen = true;
    return 0;
}

/* Only a receipt this gateway verifies is drawn: the QR code route cannot be
 * used to draw anything else with the service's name on it. */
int sp_gw_route_receipt_qr_svg(sp_gw_request *req, sp_error *err) {
    qr_query q = {.seen = false};
    if (sp_gw_query_foreach(req->query, 1, take_qr_param, &q, err) != 0) return -1;
    if (!q.seen) return sp_error_set(err, 400, "missing_field", "r", "r (the receipt) is needed");
    sp_receipt receipt;
    sp_error why;
    sp_error_clear(&why);
    if (sp_receipt_verify(q.receipt, req->app->receipt_keys, &receipt, &why) != 0)
        return sp_error_set(err, 422, "invalid_receipt", "r", "%s", why.message);
    char *svg = NULL;
    size_t len = 0;
    if (sp_gw_qr_svg(q.receipt, &svg, &len, err) != 0) return -1;
    sp_gw_answer_text(req, 200, "image/svg+xml", svg, len, false);
    free(svg);
    return 0;
}
