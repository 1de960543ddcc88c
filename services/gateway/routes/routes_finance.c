/* routes_finance.c - finance staff's transfer file: POST /api/v1/finance/sepa
 * turns pending refund requests into one SEPA credit transfer file
 * (pain.001.001.03, written by sepa.c) from the city's account. It reads the
 * read models only and changes nothing: the requests are marked paid once
 * the bank made the transfers (routes of the refund requests). */
#include "routes.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pgpool.h"
#include "sp_sepa.h"

#define SEPA_IDS_TEXT_MAX (SP_SEPA_TRANSFERS_MAX * (SP_ID_LEN + 1) + 3)
#define SEPA_FILENAME_MAX 64

static const sp_gw_field sepa_fields[] = {
    /* Empty and too long lists are refused by the route itself, as 422. */
    {"request_ids", SP_GW_FIELD_ARRAY, true, 0, SIZE_MAX},
    {"execution_date", SP_GW_FIELD_STRING, true, 10, 10},
};
static const sp_gw_schema sepa_schema = {sepa_fields, sizeof sepa_fields / sizeof sepa_fields[0]};

/* clang-format off */
/* The requests with the bank details their partner had when each was made
 * (the latest partner_bank_details row at or before the request's time), in
 * one query; when that row has no IBAN or no BIC (the request was flagged
 * bank_account_missing) or predates the table, the partner's current ones.
 * The creditor is the account's holder, else the partner's name. */
static const char sepa_requests_sql[] =
    "SELECT r.request_id, r.status, r.total_cents, r.kind, r.period,"
    " coalesce(nullif(CASE WHEN d.usable THEN d.bank_holder ELSE p.bank_holder END, ''), p.name),"
    " CASE WHEN d.usable THEN d.iban ELSE p.iban END,"
    " CASE WHEN d.usable THEN d.bic ELSE p.bic END"
    " FROM refund_requests r JOIN partners p ON p.partner_id = r.partner_id"
    " LEFT JOIN LATERAL (SELECT b.iban, b.bic, b.bank_holder, (b.iban <> '' AND b.bic <> '') AS usable"
    "  FROM partner_bank_details b WHERE b.partner_id = r.partner_id AND b.valid_from <= r.created_at"
    "  ORDER BY b.valid_from DESC, b.profile_version DESC LIMIT 1) d ON true"
    " WHERE r.request_id = ANY($1::uuid[])";
/* clang-format on */

typedef struct sepa_ask {
    char ids[SP_SEPA_TRANSFERS_MAX][SP_ID_LEN + 1];
    size_t count;
    sp_date execution_date;
} sepa_ask;

/* request_ids: 1..SP_SEPA_TRANSFERS_MAX canonical ids, each once. */
static int ids_of(const json_t *list, sepa_ask *ask, sp_error *err) {
    size_t count = json_array_size(list);
    if (count == 0)
        return sp_error_set(err, 422, "no_requests", "request_ids",
                            "request_ids must name at least one refund request");
    if (count > SP_SEPA_TRANSFERS_MAX)
        return sp_error_set(err, 422, "too_many_requests", "request_ids",
                            "at most %d refund requests per transfer file, %zu given",
                            SP_SEPA_TRANSFERS_MAX, count);
    for (size_t i = 0; i < count; i++) {
        const char *id = json_string_value(json_array_get(list, i));
        if (id == NULL || !sp_id_valid(id))
            return sp_error_set(err, 400, "invalid_value", "request_ids",
                                "request_ids[%zu] must be a refund request id (a lower-case uuid)",
                                i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(ask->ids[j], id) == 0)
                return sp_error_set(err, 400, "invalid_value", "request_ids",
                                    "request_ids[%zu] repeats refund request %s", i, id);
        snprintf(ask->ids[i], sizeof ask->ids[i], "%s", id);
    }
    ask->count = count;
    return 0;
}

static int ask_of(const sp_gw_request *req, sepa_ask *ask, sp_error *err) {
    json_t *root = sp_gw_body_parse(req->body, req->body_len, &sepa_schema, err);
    if (root == NULL) return -1;
    int rc = ids_of(json_object_get(root, "request_ids"), ask, err);
    const char *date = json_string_value(json_object_get(root, "execution_date"));
    if (rc == 0 && sp_date_parse(date, &ask->execution_date, err) != 0) {
        snprintf(err->field, sizeof err->field, "execution_date");
        rc = -1;
    }
    json_decref(root);
    if (rc != 0) return -1;
    sp_date today = sp_paris_date_of(sp_clock_now_ms(req->app->clock));
    if (ask->execution_date < today)
        return sp_error_set(err, 422, "invalid_date", "execution_date",
                            "execution_date must be today (Europe/Paris) or later");
    return 0;
}

/* '{id,id,...}' for the uuid[] parameter. */
static void ids_text(const sepa_ask *ask, char *out, size_t size) {
    size_t len = (size_t)snprintf(out, size, "{");
    for (size_t i = 0; i < ask->count && len < size; i++)
        len += (size_t)snprintf(out + len, size - len, "%s%s", i > 0 ? "," : "", ask->ids[i]);
    if (len < size) snprintf(out + len, size - len, "}");
}

/* The row of one asked request, checked: 404 unknown, 409 not pending. */
static int row_of(const PGresult *res, const char *request_id, int *row, sp_error *err) {
    for (int i = 0; i < PQntuples(res); i++) {
        if (strcmp(PQgetvalue(res, i, 0), request_id) != 0) continue;
        const char *status = PQgetvalue(res, i, 1);
        if (strcmp(status, "pending") != 0)
            return sp_error_set(err, 409, "refund_request_not_pending", "request_ids",
                                "refund request %s is %s, not pending: it cannot be paid",
                                request_id, status);
        *row = i;
        return 0;
    }
    return sp_error_set(err, 404, "refund_request_not_found", "request_ids", "no refund request %s",
                        request_id);
}

/* The transfers, in the order asked; strings point into res. */
static int transfers_of(const PGresult *res, const sepa_ask *ask, sp_sepa_transfer *out,
                        sp_error *err) {
    for (size_t i = 0; i < ask->count; i++) {
        int row = -1;
        if (row_of(res, ask->ids[i], &row, err) != 0) return -1;
        int64_t total_cents = 0;
        if (sp_gw_int64_of(PQgetvalue(res, row, 2), &total_cents, err) != 0) return -1;
        out[i] = (sp_sepa_transfer){.request_id = ask->ids[i],
                                    .partner_name = PQgetvalue(res, row, 5),
                                    .iban = PQgetvalue(res, row, 6),
                                    .bic = PQgetvalue(res, row, 7),
                                    .amount_cents = total_cents,
                                    .kind = PQgetvalue(res, row, 3),
                                    .period = PQgetvalue(res, row, 4)};
    }
    return 0;
}

static int answer_file(sp_gw_request *req, const sepa_ask *ask, const sp_sepa_transfer *transfers,
                       sp_error *err) {
    char id[SP_ID_LEN + 1], hex[SP_SEPA_ID_MAX + 1], message_id[SP_SEPA_ID_MAX + 1];
    char payment_info_id[SP_SEPA_ID_MAX + 1], filename[SEPA_FILENAME_MAX];
    sp_id_new(id);
    sp_sepa_end_to_end_id(id, hex); /* 32 hex digits: unique per file */
    snprintf(message_id, sizeof message_id, "SP-%.32s", hex);
    snprintf(payment_info_id, sizeof payment_info_id, "PI-%.32s", hex);
    snprintf(filename, sizeof filename, "sepa-%s.xml", message_id);
    sp_sepa_file file = {.message_id = message_id,
                         .payment_info_id = payment_info_id,
                         .created_at_ms = sp_clock_now_ms(req->app->clock),
                         .execution_date = ask->execution_date,
                         .debtor = req->app->sepa_debtor,
                         .transfers = transfers,
                         .transfer_count = ask->count};
    size_t size = sp_sepa_bytes_max(ask->count), len = 0;
    char *xml = malloc(size);
    if (xml == NULL) return sp_error_set(err, 500, "out_of_memory", "", "transfer file");
    int rc = sp_sepa_build(&file, xml, size, &len, err);
    if (rc == 0) {
        sp_log_info(req->app->log, "sepa file made", "message_id", message_id, "user_id",
                    req->user.user_id, NULL);
        rc = sp_gw_answer_attachment(req, "application/xml; charset=utf-8", filename, xml, len);
    }
    free(xml);
    return rc;
}

int sp_gw_route_finance_sepa(sp_gw_request *req, sp_error *err) {
    if (req->app->sepa_debtor == NULL)
        return sp_error_set(err, 503, "unavailable", "",
                            "SEPA files need SP_SEPA_DEBTOR_NAME, "
                            "SP_SEPA_DEBTOR_IBAN and SP_SEPA_DEBTOR_BIC");
    sepa_ask *ask = calloc(1, sizeof *ask);
    sp_sepa_transfer *transfers = calloc(SP_SEPA_TRANSFERS_MAX, sizeof *transfers);
    char *ids = malloc(SEPA_IDS_TEXT_MAX);
    PGresult *res = NULL;
    int rc = -1;
    if (ask == NULL || transfers == NULL || ids == NULL) {
        sp_error_set(err, 500, "out_of_memory", "", "transfer file request");
        goto done;
    }
    if (ask_of(req, ask, err) != 0) goto done;
    ids_text(ask, ids, SEPA_IDS_TEXT_MAX);
    const char *params[1] = {ids};
    if (sp_gw_pgpool_query(req->app->pool, sepa_requests_sql, 1, params, &res, err) != 0) goto done;
    if (transfers_of(res, ask, transfers, err) != 0) goto done;
    rc = answer_file(req, ask, transfers, err);
done:
    PQclear(res);
    free(ids);
    free(transfers);
    free(ask);
    return rc;
}
