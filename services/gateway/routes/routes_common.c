/* routes_common.c - what several endpoints share: command metadata, the
 * send-wait-answer sequence, and the pass and operations read models. */
#include "routes.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "commands.h"
#include "pgpool.h"

/* clang-format off */
static const char pass_sql[] =
    "SELECT p.balance_cents, e.category, e.balance_cents, coalesce(e.end_date::text, ''),"
    " e.expired, coalesce(floor(extract(epoch FROM p.closed_at) * 1000)::bigint::text, '')"
    " FROM passes p LEFT JOIN envelopes e ON e.pass_id = p.pass_id"
    " WHERE p.pass_id = $1::uuid ORDER BY e.category";

static const char pass_exists_sql[] = "SELECT 1 FROM passes WHERE pass_id = $1::uuid";

/* Newest first; the order matches the (…, occurred_at DESC, operation_id)
 * indexes, and the cursor is the last row of the previous page. */
#define OPERATIONS_SELECT \
    "SELECT o.operation_id, o.kind, o.status, o.pass_id, coalesce(o.partner_id::text, ''),"  \
    " coalesce(p.partner_code, ''), o.category, o.amount_cents, o.pass_balance_after_cents," \
    " floor(extract(epoch FROM o.occurred_at) * 1000)::bigint, coalesce(o.channel, ''),"     \
    " o.reference, coalesce(o.refund_request_id::text, ''), coalesce(o.receipt, '')"        \
    " FROM operations o LEFT JOIN partners p ON p.partner_id = o.partner_id"
#define OPERATIONS_AFTER_CURSOR                                                              \
    " AND ($2::bigint IS NULL"                                                               \
    " OR o.occurred_at < timestamptz 'epoch' + $2::bigint * interval '1 millisecond'"        \
    " OR (o.occurred_at = timestamptz 'epoch' + $2::bigint * interval '1 millisecond'"       \
    " AND o.operation_id > $3::uuid))"                                                       \
    " ORDER BY o.occurred_at DESC, o.operation_id ASC LIMIT $4::integer"

static const char pass_operations_sql[] =
    OPERATIONS_SELECT " WHERE o.pass_id = $1::uuid" OPERATIONS_AFTER_CURSOR;
/* A partner's filters (validate.h), shared with the exports service. */
#define OPERATIONS_FILTER SP_OPERATIONS_FILTER_SQL
static const char partner_operations_sql[] =
    OPERATIONS_SELECT " WHERE o.partner_id = $1::uuid AND o.kind = 'payment'"
    OPERATIONS_FILTER("5", "6", "7", "8", "9", "10", "11", "12") OPERATIONS_AFTER_CURSOR;
/* The totals of the whole filter, whatever the page. */
static const char partner_operations_totals_sql[] =
    "SELECT count(*), coalesce(sum(o.amount_cents), 0)::bigint FROM operations o"
    " WHERE o.partner_id = $1::uuid AND o.kind = 'payment'"
    OPERATIONS_FILTER("2", "3", "4", "5", "6", "7", "8", "9");
#define FILTER_PARAMS SP_OPERATIONS_FILTER_PARAMS

/* A refund of "all" (routes_refunds.c): the accepted payments the filter
 * matches, grouped by pass, at most $10 of them. */
const char sp_gw_partner_accepted_operations_sql[] =
    "SELECT o.operation_id, o.pass_id, o.amount_cents FROM operations o"
    " WHERE o.partner_id = $1::uuid AND o.kind = 'payment' AND o.status = 'accepted'"
    OPERATIONS_FILTER("2", "3", "4", "5", "6", "7", "8", "9")
    " ORDER BY o.pass_id, o.occurred_at, o.operation_id LIMIT $10::integer";

/* Oldest first, for the live stream: after the position ($2, $3), not
 * before $4 (rows that became visible late are looked for again) and not
 * among the ids already sent ($6). */
const char sp_gw_partner_operations_stream_sql[] =
    OPERATIONS_SELECT " WHERE o.partner_id = $1::uuid AND o.kind = 'payment'"
    " AND (o.occurred_at, o.operation_id) >"
    " (timestamptz 'epoch' + $2::bigint * interval '1 millisecond', $3::uuid)"
    " AND o.occurred_at >= timestamptz 'epoch' + $4::bigint * interval '1 millisecond'"
    " AND NOT (o.operation_id = ANY ($6::uuid[]))"
    " ORDER BY o.occurred_at ASC, o.operation_id ASC LIMIT $5::integer";

enum { OP_ID, OP_KIND, OP_STATUS, OP_PASS, OP_PARTNER, OP_CODE, OP_CATEGORY, OP_AMOUNT,
       OP_BALANCE, OP_AT_MS, OP_CHANNEL, OP_REFERENCE, OP_REFUND, OP_RECEIPT, OP_COLUMNS };
/* clang-format on */

/* ------------------------------------------------------------------ commands */

int sp_gw_idempotency_key(const sp_gw_request *req, const char **key, sp_error *err) {
    assert(req != NULL && key != NULL);
    *key = sp_gw_request_header(req, "Idempotency-Key");
    return sp_gw_idempotency_key_check(*key, err);
}

sp_envelope_meta sp_gw_command_meta(const sp_gw_request *req, const char *type,
                                    const char *aggregate_id, const char *command_id) {
    assert(req != NULL && type != NULL && aggregate_id != NULL && command_id != NULL);
    return (sp_envelope_meta){.type = type,
                              .aggregate_id = aggregate_id,
                              .aggregate_version = 0,
                              .occurred_at_ms = sp_clock_now_ms(req->app->clock),
                              .command_id = command_id,
                              .causation_id = "",
                              .reply_to = "",
                              .actor_id = req->user.user_id,
                              .actor_role = req->user.role};
}

int sp_gw_run_and_answer(sp_gw_request *req, const char *topic, const sp_envelope_meta *meta,
                         const ProtobufCMessage *payload, sp_error *err) {
    Solipass__Reply *reply = NULL;
    if (sp_gw_commands_run(req->app->commands, req->app->projwait, topic, meta, payload,
                           req->deadline_ms, &reply, err) != 0) {
        return -1;
    }
    int rc = sp_gw_answer_reply(req, reply, err);
    solipass__reply__free_unpacked(reply, NULL);
    return rc;
}

/* ------------------------------------------------------------------ values */

int sp_gw_int64_of(const char *text, int64_t *out, sp_error *err) {
    assert(text != NULL && out != NULL);
    errno = 0;
    char *end = NULL;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0') {
        return sp_error_set(err, 500, "internal", "", "a stored number is not valid");
    }
    *out = (int64_t)value;
    return 0;
}

static json_t *text_or_null(const char *text) {
    return text[0] != '\0' ? json_string(text) : json_null();
}

json_t *sp_gw_partner_json(const PGresult *res, int row, int first, sp_error *err) {
    int64_t owed_cents = 0;
    if (sp_gw_int64_of(PQgetvalue(res, row, first + 4), &owed_cents, err) != 0) return NULL;
    json_t *partner = json_pack(
        "{s:s, s:s, s:s, s:s, s:I}", "partner_id", PQgetvalue(res, row, first), "partner_code",
        PQgetvalue(res, row, first + 1), "name", PQgetvalue(res, row, first + 2), "category",
        PQgetvalue(res, row, first + 3), "owed_cents", (json_int_t)owed_cents);
    if (partner == NULL) sp_error_set(err, 500, "internal", "", "a partner could not be shown");
    return partner;
}

/* ------------------------------------------------------------------ passes */

int sp_gw_pass_exists(sp_gw_request *req, const char *pass_id, bool *exists, sp_error *err) {
    assert(sp_id_valid(pass_id) && exists != NULL);
    const char *params[1] = {pass_id};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, pass_exists_sql, 1, params, &res, err) != 0) return -1;
    *exists = PQntuples(res) == 1;
    PQclear(res);
    return 0;
}

static json_t *envelope_json(const PGresult *res, int row, sp_error *err) {
    int64_t balance_cents = 0;
    if (sp_gw_int64_of(PQgetvalue(res, row, 2), &balance_cents, err) != 0) return NULL;
    json_t *envelope = json_pack("{s:s, s:I, s:o, s:b}", "category", PQgetvalue(res, row, 1),
                                 "balance_cents", (json_int_t)balance_cents, "end_date",
                                 text_or_null(PQgetvalue(res, row, 3)), "expired",
                                 strcmp(PQgetvalue(res, row, 4), "t") == 0);
    if (envelope == NULL) sp_error_set(err, 500, "internal", "", "an envelope could not be shown");
    return envelope;
}

static json_t *pass_json(const PGresult *res, const char *pass_id, sp_error *err) {
    int64_t balance_cents = 0;
    if (sp_gw_int64_of(PQgetvalue(res, 0, 0), &balance_cents, err) != 0) return NULL;
    json_t *envelopes = json_array();
    for (int row = 0; envelopes != NULL && row < PQntuples(res); row++) {
        if (PQgetisnull(res, row, 1)) continue; /* a pass without envelopes */
        json_t *envelope = envelope_json(res, row, err);
        if (envelope == NULL || json_array_append_new(envelopes, envelope) != 0) {
            json_decref(envelopes);
            return NULL;
        }
    }
    /* A closed pass (its beneficiary left) says when. */
    const char *closed_ms_text = PQgetvalue(res, 0, 5);
    int64_t closed_ms = 0;
    char closed_at[SP_GW_INSTANT_LEN + 1] = "";
    if (closed_ms_text[0] != '\0') {
        if (sp_gw_int64_of(closed_ms_text, &closed_ms, err) != 0) {
            json_decref(envelopes);
            return NULL;
        }
        sp_gw_instant_format(closed_ms, closed_at);
    }
    json_t *pass = json_pack("{s:s, s:I, s:o, s:s, s:o}", "pass_id", pass_id, "balance_cents",
                             (json_int_t)balance_cents, "envelopes", envelopes, "status",
                             closed_at[0] != '\0' ? "closed" : "open", "closed_at",
                             text_or_null(closed_at));
    if (pass == NULL) sp_error_set(err, 500, "internal", "", "a pass could not be shown");
    return pass;
}

json_t *sp_gw_pass_of(sp_gw_request *req, const char *pass_id, sp_error *err) {
    assert(req != NULL && pass_id != NULL);
    if (!sp_id_valid(pass_id)) {
        sp_error_set(err, 404, "pass_not_found", "pass_id", "no pass has this id");
        return NULL;
    }
    const char *params[1] = {pass_id};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, pass_sql, 1, params, &res, err) != 0) return NULL;
    json_t *pass = NULL;
    if (PQntuples(res) == 0) {
        sp_error_set(err, 404, "pass_not_found", "pass_id", "no pass has this id");
    } else {
        pass = pass_json(res, pass_id, err);
    }
    PQclear(res);
    return pass;
}

int sp_gw_answer_pass(sp_gw_request *req, const char *pass_id, sp_error *err) {
    json_t *pass = sp_gw_pass_of(req, pass_id, err);
    if (pass == NULL) return -1;
    return sp_gw_answer_json(req, 200, pass, false);
}

/* ------------------------------------------------------------------ operations */

/* Why a payment cannot be cancelled: the code its cancel would be refused
 * with (an accepted one can). */
static const char *not_cancellable_reason(const char *status) {
    if (strcmp(status, "requested") == 0) return "operation_in_refund_request";
    if (strcmp(status, "paid") == 0) return "operation_paid";
    return "operation_cancelled";
}

/* What only the partner sees: its internal reference, its refund request,
 * and whether the payment can still be cancelled (only an accepted one:
 * a requested one once its request is cancelled). */
static int partner_fields(json_t *op, const PGresult *res, int row) {
    const char *status = PQgetvalue(res, row, OP_STATUS);
    bool cancellable = strcmp(status, "accepted") == 0;
    int rc = json_object_set_new(op, "reference", json_string(PQgetvalue(res, row, OP_REFERENCE)));
    rc |= json_object_set_new(op, "refund_request_id",
                              text_or_null(PQgetvalue(res, row, OP_REFUND)));
    rc |= json_object_set_new(op, "cancellable", json_boolean(cancellable));
    if (!cancellable) {
        rc |= json_object_set_new(op, "cancellable_reason",
                                  json_string(not_cancellable_reason(status)));
    }
    return rc;
}

static json_t *operation_json(const PGresult *res, int row, sp_gw_operations_scope scope,
                              int64_t *at_ms, sp_error *err) {
    int64_t amount_cents = 0, balance_cents = 0;
    if (sp_gw_int64_of(PQgetvalue(res, row, OP_AMOUNT), &amount_cents, err) != 0 ||
        sp_gw_int64_of(PQgetvalue(res, row, OP_BALANCE), &balance_cents, err) != 0 ||
        sp_gw_int64_of(PQgetvalue(res, row, OP_AT_MS), at_ms, err) != 0) {
        return NULL;
    }
    char occurred_at[SP_GW_INSTANT_LEN + 1];
    sp_gw_instant_format(*at_ms, occurred_at);
    json_t *op = json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:I, s:s}", "operation_id",
                           PQgetvalue(res, row, OP_ID), "kind", PQgetvalue(res, row, OP_KIND),
                           "status", PQgetvalue(res, row, OP_STATUS), "partner_id",
                           text_or_null(PQgetvalue(res, row, OP_PARTNER)), "partner_code",
                           text_or_null(PQgetvalue(res, row, OP_CODE)), "category",
                           PQgetvalue(res, row, OP_CATEGORY), "amount_cents",
                           (json_int_t)amount_cents, "occurred_at", occurred_at);
    int set_rc = op == NULL ? -1 : 0;
    /* How a payment was made: "code" or "voucher"; null for other kinds. */
    if (op != NULL) {
        set_rc |= json_object_set_new(op, "channel",
                                      text_or_null(PQgetvalue(res, row, OP_CHANNEL)));
    }
    if (op != NULL && scope == SP_GW_OPERATIONS_OF_PASS) {
        set_rc |= json_object_set_new(op, "pass_id", json_string(PQgetvalue(res, row, OP_PASS)));
        set_rc |= json_object_set_new(op, "pass_balance_after_cents", json_integer(balance_cents));
        /* The payment's signed receipt, for the proof reopened from the history. */
        set_rc |= json_object_set_new(op, "receipt",
                                      text_or_null(PQgetvalue(res, row, OP_RECEIPT)));
    } else if (op != NULL) {
        /* A partner learns neither who paid nor what is left on the pass. */
        char pass_ref[SP_GW_PASS_REF_LEN + 1];
        sp_gw_pass_ref(PQgetvalue(res, row, OP_PASS), pass_ref);
        set_rc |= json_object_set_new(op, "pass_ref", json_string(pass_ref));
        set_rc |= partner_fields(op, res, row);
    }
    if (set_rc != 0) {
        json_decref(op);
        sp_error_set(err, 500, "internal", "", "an operation could not be shown");
        return NULL;
    }
    return op;
}

json_t *sp_gw_operation_json(const PGresult *res, int row, sp_gw_operations_scope scope,
                             int64_t *at_ms, sp_error *err) {
    assert(res != NULL && at_ms != NULL && PQnfields(res) == OP_COLUMNS);
    return operation_json(res, row, scope, at_ms, err);
}

static json_t *operations_page_json(const PGresult *res, sp_gw_operations_scope scope, int limit,
                                    sp_error *err) {
    int rows = PQntuples(res);
    json_t *ops = json_array();
    json_t *next_cursor = json_null();
    for (int row = 0; ops != NULL && row < rows && row < limit; row++) {
        int64_t at_ms = 0;
        json_t *op = operation_json(res, row, scope, &at_ms, err);
        if (op == NULL || json_array_append_new(ops, op) != 0) {
            json_decref(ops);
            return NULL;
        }
        if (row == limit - 1 && rows > limit) {
            char cursor[SP_GW_CURSOR_LEN_MAX + 1];
            sp_gw_cursor_encode(at_ms, PQgetvalue(res, row, OP_ID), cursor);
            next_cursor = json_string(cursor);
        }
    }
    json_t *page = json_pack("{s:o, s:o}", "operations", ops, "next_cursor", next_cursor);
    if (page == NULL) sp_error_set(err, 500, "internal", "", "the operations could not be shown");
    return page;
}

static int answer_pass_operations(sp_gw_request *req, const char *pass_id, sp_error *err) {
    sp_gw_page page;
    if (sp_gw_page_parse(req->query, &page, err) != 0) return -1;
    char after_ms[24], limit_plus_one[16];
    snprintf(after_ms, sizeof after_ms, "%" PRId64, page.after_occurred_at_ms);
    /* One row more than asked tells whether there is a next page. */
    snprintf(limit_plus_one, sizeof limit_plus_one, "%d", page.limit + 1);
    const char *params[4] = {pass_id, page.has_cursor ? after_ms : NULL,
                             page.has_cursor ? page.after_operation_id : NULL, limit_plus_one};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, pass_operations_sql, 4, params, &res, err) != 0) {
        return -1;
    }
    json_t *body = operations_page_json(res, SP_GW_OPERATIONS_OF_PASS, page.limit, err);
    PQclear(res);
    if (body == NULL) return -1;
    return sp_gw_answer_json(req, 200, body, false);
}

static json_t *totals_json(sp_gw_request *req, const char *partner_id,
                           const char *const filter[FILTER_PARAMS], sp_error *err) {
    const char *params[1 + FILTER_PARAMS] = {partner_id};
    memcpy(params + 1, filter, FILTER_PARAMS * sizeof params[0]);
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, partner_operations_totals_sql, 1 + FILTER_PARAMS, params,
                           &res, err) != 0) {
        return NULL;
    }
    int64_t count = 0, amount_cents = 0;
    json_t *totals = NULL;
    if (PQntuples(res) == 1 && sp_gw_int64_of(PQgetvalue(res, 0, 0), &count, err) == 0 &&
        sp_gw_int64_of(PQgetvalue(res, 0, 1), &amount_cents, err) == 0) {
        totals = json_pack("{s:I, s:I}", "count", (json_int_t)count, "amount_cents",
                           (json_int_t)amount_cents);
    }
    PQclear(res);
    if (totals == NULL) sp_error_set(err, 500, "internal", "", "the totals could not be shown");
    return totals;
}

static int answer_partner_operations(sp_gw_request *req, const char *partner_id, sp_error *err) {
    sp_gw_operations_filter filter;
    if (sp_gw_operations_filter_parse(req->query, &filter, err) != 0) return -1;
    char after_ms[24], limit_plus_one[16], amounts[2][SP_OPERATIONS_FILTER_AMOUNT_TEXT_MAX];
    snprintf(after_ms, sizeof after_ms, "%" PRId64, filter.page.after_occurred_at_ms);
    snprintf(limit_plus_one, sizeof limit_plus_one, "%d", filter.page.limit + 1);
    const char *params[4 + FILTER_PARAMS] = {partner_id, filter.page.has_cursor ? after_ms : NULL,
                                             filter.page.has_cursor ? filter.page.after_operation_id
                                                                    : NULL,
                                             limit_plus_one};
    sp_operations_filter_params(&filter.filters, amounts, params + 4);
    json_t *totals = totals_json(req, partner_id, params + 4, err);
    if (totals == NULL) return -1;
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, partner_operations_sql, 4 + FILTER_PARAMS, params, &res,
                           err) != 0) {
        json_decref(totals);
        return -1;
    }
    json_t *body = operations_page_json(res, SP_GW_OPERATIONS_OF_PARTNER, filter.page.limit, err);
    PQclear(res);
    return sp_gw_answer_page_with_totals(req, body, totals, err);
}

int sp_gw_answer_page_with_totals(sp_gw_request *req, json_t *body, json_t *totals, sp_error *err) {
    if (body == NULL || json_object_set_new(body, "totals", totals) != 0) {
        if (body == NULL) json_decref(totals);
        json_decref(body);
        return body == NULL ? -1 : sp_error_set(err, 500, "internal", "", "out of memory");
    }
    return sp_gw_answer_json(req, 200, body, false);
}

int sp_gw_answer_operations(sp_gw_request *req, sp_gw_operations_scope scope, const char *id,
                            sp_error *err) {
    assert(req != NULL && sp_id_valid(id));
    return scope == SP_GW_OPERATIONS_OF_PASS ? answer_pass_operations(req, id, err)
                                             : answer_partner_operations(req, id, err);
}

/* ------------------------------------------------------------------ latest operations */

json_t *sp_gw_operations_latest(sp_gw_request *req, sp_gw_operations_scope scope, const char *id,
                                int limit, sp_error *err) {
    assert(req != NULL && sp_id_valid(id) && limit >= 1 && limit <= SP_GW_PAGE_LIMIT_MAX);
    char limit_text[16];
    snprintf(limit_text, sizeof limit_text, "%d", limit);
    /* No cursor and, for a partner, no filter: the newest rows. */
    const char *params[4 + FILTER_PARAMS] = {id, NULL, NULL, limit_text};
    bool of_pass = scope == SP_GW_OPERATIONS_OF_PASS;
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, of_pass ? pass_operations_sql : partner_operations_sql,
                           of_pass ? 4 : 4 + FILTER_PARAMS, params, &res, err) != 0)
        return NULL;
    json_t *page = operations_page_json(res, scope, limit, err);
    PQclear(res);
    json_t *ops = json_incref(json_object_get(page, "operations"));
    json_decref(page);
    return ops;
}
