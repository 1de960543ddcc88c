/* routes_refunds.c - refund requests (P18-P20): a partner administrator
 * asks for the refund of a selection of its accepted payments, follows and
 * cancels its requests; finance (or the back-office) lists them and marks
 * them paid.
 *
 * The gateway checks the selection against the read model (precise 4xx,
 * nothing sent), then sends one command to the request's own aggregate and
 * waits - bounded by the request's deadline - until the read model shows
 * where the refunds service and the passes took it: pending (201) or
 * aborted (409 naming the operation), cancelled and released, paid and
 * settled; still on its way at the deadline: 202 with what it shows. */
#include "routes.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "commands.h"
#include "ledger.pb-c.h"
#include "pgpool.h"
#include "refund_request.h"
#include "sp_kafka.h"
#include "sp_money.h"

#define WAIT_SLICE_MS 25
#define NUMBER_TEXT_MAX 24
#define REQUEST_OPERATIONS_SHOWN_MAX SP_REFUND_REQUEST_OPERATIONS_MAX

/* ------------------------------------------------------------------ SQL */

/* clang-format off */
#define MS_OF(column) "floor(extract(epoch FROM " column ") * 1000)::bigint"
#define MS_OR_EMPTY(column) "coalesce(" MS_OF(column) "::text, '')"
#define REQUEST_COLUMNS                                                                      \
    "r.request_id, r.partner_id, r.kind, r.period, r.status, r.expected_total_cents,"        \
    " r.total_cents, r.operation_count, r.part_count, r.bank_account_missing, "              \
    MS_OF("r.created_at") ", " MS_OR_EMPTY("r.confirmed_at") ", "                            \
    MS_OR_EMPTY("r.cancelled_at") ", " MS_OR_EMPTY("r.paid_at") ", r.cancel_reason,"         \
    " r.cancel_code, r.cancel_message, coalesce(r.cancel_operation_id::text, ''),"           \
    " r.transfer_reference, coalesce(r.paid_on::text, ''),"                                  \
    " (SELECT count(*) FROM refund_request_parts p WHERE p.request_id = r.request_id"        \
    " AND p.status = 'reserved'),"                                                          \
    " coalesce((SELECT n.name FROM partners n WHERE n.partner_id = r.partner_id), '')"
enum { RQ_ID, RQ_PARTNER, RQ_KIND, RQ_PERIOD, RQ_STATUS, RQ_EXPECTED, RQ_TOTAL, RQ_COUNT,
       RQ_PARTS, RQ_BANK_MISSING, RQ_CREATED, RQ_CONFIRMED, RQ_CANCELLED, RQ_PAID,
       RQ_CANCEL_REASON, RQ_CANCEL_CODE, RQ_CANCEL_MESSAGE, RQ_CANCEL_OPERATION, RQ_TRANSFER,
       RQ_PAID_ON, RQ_RESERVED_PARTS, RQ_PARTNER_NAME, RQ_COLUMNS };

/* $2: the partner, or NULL for finance (every partner). */
static const char request_sql[] =
    "SELECT " REQUEST_COLUMNS " FROM refund_requests r WHERE r.request_id = $1::uuid"
    " AND ($2::uuid IS NULL OR r.partner_id = $2::uuid)";

/* Every operation asked, with where it stands now. */
static const char request_operations_sql[] =
    "SELECT o.operation_id, o.pass_id, o.amount_cents, o.status, " MS_OF("o.occurred_at") ","
    " o.reference, coalesce(o.channel, ''), coalesce(o.refund_request_id::text, '')"
    " FROM refund_request_parts p CROSS JOIN LATERAL unnest(p.operation_ids) AS u(id)"
    " JOIN operations o ON o.operation_id = u.id WHERE p.request_id = $1::uuid"
    " ORDER BY o.occurred_at DESC, o.operation_id LIMIT $2::integer";

/* Newest first, keyset-paged by (created_at, request_id) like the operations. */
#define REQUESTS_FILTER                                                                      \
    " WHERE ($1::uuid IS NULL OR r.partner_id = $1::uuid)"                                   \
    " AND ($2::text IS NULL OR r.status = $2::text)"
static const char requests_page_sql[] =
    "SELECT " REQUEST_COLUMNS " FROM refund_requests r" REQUESTS_FILTER
    " AND ($3::bigint IS NULL"
    " OR r.created_at < timestamptz 'epoch' + $3::bigint * interval '1 millisecond'"
    " OR (r.created_at = timestamptz 'epoch' + $3::bigint * interval '1 millisecond'"
    " AND r.request_id > $4::uuid))"
    " ORDER BY r.created_at DESC, r.request_id ASC LIMIT $5::integer";
static const char requests_totals_sql[] =
    "SELECT count(*), coalesce(sum(r.total_cents), 0)::bigint FROM refund_requests r"
    REQUESTS_FILTER;

static const char selected_operations_sql[] =
    "SELECT o.operation_id, o.pass_id, o.amount_cents, o.status,"
    " coalesce(o.refund_request_id::text, '') FROM operations o"
    " WHERE o.partner_id = $1::uuid AND o.kind = 'payment' AND o.operation_id = ANY ($2::uuid[])"
    " ORDER BY o.pass_id, o.occurred_at, o.operation_id";
/* clang-format on */

/* ------------------------------------------------------------------ small helpers */

static json_t *text_or_null(const char *text) {
    return text[0] != '\0' ? json_string(text) : json_null();
}

static json_t *instant_or_null(const char *ms_text, sp_error *err) {
    int64_t ms = 0;
    if (ms_text[0] == '\0') return json_null();
    if (sp_gw_int64_of(ms_text, &ms, err) != 0) return NULL;
    char text[SP_GW_INSTANT_LEN + 1];
    sp_gw_instant_format(ms, text);
    return json_string(text);
}

static int own_partner(const sp_gw_request *req, sp_error *err) {
    if (sp_id_valid(req->user.partner_id)) return 0;
    return sp_error_set(err, 403, "forbidden", "", "this account belongs to no partner");
}

static int not_found(sp_error *err) {
    return sp_error_set(err, 404, "refund_request_not_found", "request_id",
                        "no refund request has this id");
}

/* A command endpoint's body: none, or an empty object. */
static int no_body(const sp_gw_request *req, sp_error *err) {
    if (req->body_len == 0 || strspn(req->body, " \t\r\n") == req->body_len ||
        strcmp(req->body, "{}") == 0)
        return 0;
    return sp_error_set(err, 400, "unknown_field", "", "this endpoint takes no body");
}

/* ------------------------------------------------------------------ a request as JSON */

static int put_amounts(json_t *r, const PGresult *res, int row, sp_error *err) {
    static const struct {
        int column;
        const char *name;
    } amounts[] = {{RQ_EXPECTED, "expected_total_cents"},
                   {RQ_TOTAL, "total_cents"},
                   {RQ_COUNT, "operation_count"},
                   {RQ_PARTS, "part_count"}};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof amounts / sizeof amounts[0]; i++) {
        int64_t value = 0;
        if (sp_gw_int64_of(PQgetvalue(res, row, amounts[i].column), &value, err) != 0) return -1;
        rc = json_object_set_new(r, amounts[i].name, json_integer(value));
    }
    return rc;
}

static int put_instants(json_t *r, const PGresult *res, int row, sp_error *err) {
    static const struct {
        int column;
        const char *name;
    } instants[] = {{RQ_CREATED, "created_at"},
                    {RQ_CONFIRMED, "confirmed_at"},
                    {RQ_CANCELLED, "cancelled_at"},
                    {RQ_PAID, "paid_at"}};
    for (size_t i = 0; i < sizeof instants / sizeof instants[0]; i++) {
        json_t *value = instant_or_null(PQgetvalue(res, row, instants[i].column), err);
        if (value == NULL || json_object_set_new(r, instants[i].name, value) != 0) return -1;
    }
    return 0;
}

static json_t *request_json(const PGresult *res, int row, sp_error *err) {
    assert(PQnfields(res) == RQ_COLUMNS);
    json_t *r = json_pack(
        "{s:s, s:s, s:s, s:s, s:o, s:s, s:b, s:o, s:o, s:o, s:o, s:o, s:o}", "request_id",
        PQgetvalue(res, row, RQ_ID), "partner_id", PQgetvalue(res, row, RQ_PARTNER), "partner_name",
        PQgetvalue(res, row, RQ_PARTNER_NAME), "kind", PQgetvalue(res, row, RQ_KIND), "period",
        text_or_null(PQgetvalue(res, row, RQ_PERIOD)), "status", PQgetvalue(res, row, RQ_STATUS),
        "bank_account_missing", strcmp(PQgetvalue(res, row, RQ_BANK_MISSING), "t") == 0,
        "cancel_reason", text_or_null(PQgetvalue(res, row, RQ_CANCEL_REASON)), "cancel_code",
        text_or_null(PQgetvalue(res, row, RQ_CANCEL_CODE)), "cancel_message",
        text_or_null(PQgetvalue(res, row, RQ_CANCEL_MESSAGE)), "cancel_operation_id",
        text_or_null(PQgetvalue(res, row, RQ_CANCEL_OPERATION)), "transfer_reference",
        text_or_null(PQgetvalue(res, row, RQ_TRANSFER)), "paid_on",
        text_or_null(PQgetvalue(res, row, RQ_PAID_ON)));
    if (r == NULL || put_amounts(r, res, row, err) != 0 || put_instants(r, res, row, err) != 0) {
        json_decref(r);
        if (err->code[0] == '\0')
            sp_error_set(err, 500, "internal", "", "a request could not be shown");
        return NULL;
    }
    return r;
}

static json_t *request_operation_json(const PGresult *res, int row, sp_error *err) {
    int64_t amount_cents = 0, at_ms = 0;
    if (sp_gw_int64_of(PQgetvalue(res, row, 2), &amount_cents, err) != 0 ||
        sp_gw_int64_of(PQgetvalue(res, row, 4), &at_ms, err) != 0)
        return NULL;
    char occurred_at[SP_GW_INSTANT_LEN + 1], pass_ref[SP_GW_PASS_REF_LEN + 1];
    sp_gw_instant_format(at_ms, occurred_at);
    sp_gw_pass_ref(PQgetvalue(res, row, 1), pass_ref);
    json_t *op = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:o, s:o}", "operation_id",
                           PQgetvalue(res, row, 0), "pass_ref", pass_ref, "amount_cents",
                           (json_int_t)amount_cents, "status", PQgetvalue(res, row, 3),
                           "occurred_at", occurred_at, "reference", PQgetvalue(res, row, 5),
                           "channel", text_or_null(PQgetvalue(res, row, 6)), "refund_request_id",
                           text_or_null(PQgetvalue(res, row, 7)));
    if (op == NULL) sp_error_set(err, 500, "internal", "", "an operation could not be shown");
    return op;
}

/* The request's operations into r (as "operations"). */
static int put_operations(sp_gw_request *req, json_t *r, const char *request_id, sp_error *err) {
    char limit[NUMBER_TEXT_MAX];
    snprintf(limit, sizeof limit, "%d", REQUEST_OPERATIONS_SHOWN_MAX);
    const char *params[2] = {request_id, limit};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, request_operations_sql, 2, params, &res, err) != 0)
        return -1;
    json_t *ops = json_array();
    for (int row = 0; ops != NULL && row < PQntuples(res); row++) {
        json_t *op = request_operation_json(res, row, err);
        if (op == NULL || json_array_append_new(ops, op) != 0) {
            json_decref(ops);
            ops = NULL;
        }
    }
    PQclear(res);
    if (ops == NULL || json_object_set_new(r, "operations", ops) != 0) {
        if (err->code[0] == '\0') sp_error_set(err, 500, "internal", "", "out of memory");
        return -1;
    }
    return 0;
}

/* One request as the read model shows it (partner_id NULL: any partner's):
 * no row when there is none. */
static int load_request(sp_gw_request *req, const char *request_id, const char *partner_id,
                        PGresult **res, sp_error *err) {
    const char *params[2] = {request_id, partner_id};
    return sp_gw_pgpool_query(req->app->pool, request_sql, 2, params, res, err);
}

static json_t *request_with_operations(sp_gw_request *req, const char *request_id,
                                       const char *partner_id, sp_error *err) {
    PGresult *res = NULL;
    if (load_request(req, request_id, partner_id, &res, err) != 0) return NULL;
    json_t *r = NULL;
    if (PQntuples(res) == 1) r = request_json(res, 0, err);
    else not_found(err);
    PQclear(res);
    if (r != NULL && put_operations(req, r, request_id, err) != 0) {
        json_decref(r);
        return NULL;
    }
    return r;
}

/* ------------------------------------------------------------------ waiting */

typedef enum {
    GOAL_LEFT_OPENING, /* pending, or cancelled (aborted) */
    GOAL_RELEASED,     /* cancelled, no part reserved any more */
    GOAL_SETTLED,      /* paid, no part reserved any more */
} wait_goal;

static bool goal_reached(wait_goal goal, const char *status, const char *reserved_parts) {
    bool none_reserved = strcmp(reserved_parts, "0") == 0;
    switch (goal) {
    case GOAL_LEFT_OPENING: return strcmp(status, "opening") != 0;
    case GOAL_RELEASED: return strcmp(status, "cancelled") == 0 && none_reserved;
    case GOAL_SETTLED: return strcmp(status, "paid") == 0 && none_reserved;
    }
    return false;
}

/* Looks at the request until it reaches goal or the request's deadline;
 * *res is its last row (the caller PQclear()s it). */
static int wait_for(sp_gw_request *req, const char *request_id, wait_goal goal, PGresult **res,
                    bool *reached, sp_error *err) {
    *reached = false;
    *res = NULL;
    /* Bounded by the deadline: each pass sleeps WAIT_SLICE_MS. */
    for (;;) {
        if (load_request(req, request_id, NULL, res, err) != 0) return -1;
        if (PQntuples(*res) != 1) return not_found(err);
        *reached = goal_reached(goal, PQgetvalue(*res, 0, RQ_STATUS),
                                PQgetvalue(*res, 0, RQ_RESERVED_PARTS));
        if (*reached || sp_gw_monotonic_ms() + WAIT_SLICE_MS >= req->deadline_ms) return 0;
        PQclear(*res);
        *res = NULL;
        sp_clock_sleep_ms(WAIT_SLICE_MS);
    }
}

/* The request once it got where it was going (200/201), or as it stands
 * at the deadline (202). An aborted opening is the refusal that aborted it. */
static int answer_after_wait(sp_gw_request *req, const char *request_id, wait_goal goal,
                             int done_status, sp_error *err) {
    PGresult *res = NULL;
    bool reached = false;
    if (wait_for(req, request_id, goal, &res, &reached, err) != 0) {
        PQclear(res);
        return -1;
    }
    bool aborted = reached && goal == GOAL_LEFT_OPENING &&
                   strcmp(PQgetvalue(res, 0, RQ_STATUS), "cancelled") == 0 &&
                   strcmp(PQgetvalue(res, 0, RQ_CANCEL_REASON), "aborted") == 0;
    if (aborted) {
        sp_error aborted_err;
        sp_error_set(&aborted_err, 409, PQgetvalue(res, 0, RQ_CANCEL_CODE), "operation_ids", "%s",
                     PQgetvalue(res, 0, RQ_CANCEL_MESSAGE));
        json_t *body = sp_gw_problem_new(&aborted_err);
        if (body != NULL &&
            (json_object_set_new(body, "operation_id",
                                 text_or_null(PQgetvalue(res, 0, RQ_CANCEL_OPERATION))) != 0 ||
             json_object_set_new(body, "request_id", json_string(request_id)) != 0)) {
            json_decref(body);
            body = NULL;
        }
        PQclear(res);
        if (body == NULL) return sp_error_set(err, 500, "internal", "", "out of memory");
        return sp_gw_answer_problem(req, body, false);
    }
    PQclear(res);
    json_t *r = request_with_operations(req, request_id, NULL, err);
    if (r == NULL) return -1;
    return sp_gw_answer_json(req, reached ? done_status : 202, r, false);
}

/* Sends a command to the request's aggregate; a refusal is answered here
 * (*answered true). */
static int run_request_command(sp_gw_request *req, const char *type, const char *request_id,
                               const char *key, const ProtobufCMessage *payload, bool *answered,
                               sp_error *err) {
    *answered = false;
    sp_envelope_meta meta = sp_gw_command_meta(req, type, request_id, key);
    Solipass__Reply *reply = NULL;
    if (sp_gw_commands_run(req->app->commands, req->app->projwait, SP_TOPIC_LEDGER_COMMANDS, &meta,
                           payload, req->deadline_ms, &reply, err) != 0)
        return -1;
    int rc = 0;
    if (!reply->ok) {
        *answered = true;
        rc = sp_gw_answer_reply(req, reply, err);
    }
    solipass__reply__free_unpacked(reply, NULL);
    return rc;
}

/* ------------------------------------------------------------------ the selection */

typedef struct selected_op {
    char operation_id[SP_ID_LEN + 1];
    char pass_id[SP_ID_LEN + 1];
    int64_t amount_cents;
} selected_op;

/* What a request asks: accepted payments of the partner, ordered by pass. */
typedef struct selection {
    sp_gw_refund_selection asked; /* the body, checked */
    selected_op ops[SP_REFUND_REQUEST_OPERATIONS_MAX];
    size_t count;
    int64_t total_cents;
    /* a refusal naming one operation, answered by the route */
    int refusal_status;
    char refusal_operation_id[SP_ID_LEN + 1];
} selection;

static int selection_add(selection *sel, const char *operation_id, const char *pass_id,
                         const char *amount_text, sp_error *err) {
    assert(sel->count < SP_REFUND_REQUEST_OPERATIONS_MAX);
    selected_op *op = &sel->ops[sel->count++];
    snprintf(op->operation_id, sizeof op->operation_id, "%s", operation_id);
    snprintf(op->pass_id, sizeof op->pass_id, "%s", pass_id);
    if (sp_gw_int64_of(amount_text, &op->amount_cents, err) != 0) return -1;
    if (!sp_money_add(sel->total_cents, op->amount_cents, &sel->total_cents))
        return sp_error_set(err, 422, "selection_too_large", "operation_ids",
                            "the total overflows");
    return 0;
}

/* Why one asked operation cannot be requested, or 0 when it can. */
static int check_operation(const PGresult *res, const char *id, selection *sel, sp_error *err) {
    int row = 0;
    while (row < PQntuples(res) && strcmp(PQgetvalue(res, row, 0), id) != 0) row++;
    snprintf(sel->refusal_operation_id, sizeof sel->refusal_operation_id, "%s", id);
    if (row == PQntuples(res)) {
        sel->refusal_status = 404;
        return sp_error_set(err, 404, "operation_not_found", "operation_ids",
                            "operation %s is not one of this partner's payments", id);
    }
    const char *status = PQgetvalue(res, row, 3);
    if (strcmp(status, "accepted") == 0) return 0;
    sel->refusal_status = 409;
    if (strcmp(status, "requested") == 0)
        return sp_error_set(err, 409, "operation_in_refund_request", "operation_ids",
                            "operation %s is already in refund request %s", id,
                            PQgetvalue(res, row, 4));
    if (strcmp(status, "paid") == 0)
        return sp_error_set(err, 409, "operation_paid", "operation_ids",
                            "operation %s is already refunded", id);
    return sp_error_set(err, 409, "operation_cancelled", "operation_ids",
                        "operation %s was cancelled", id);
}

static int select_ids(sp_gw_request *req, selection *sel, sp_error *err) {
    char *array = malloc(SP_GW_REFUND_IDS_ARRAY_BYTES);
    if (array == NULL) return sp_error_set(err, 503, "unavailable", "", "out of memory");
    sp_gw_refund_ids_array(&sel->asked, array);
    const char *params[2] = {req->user.partner_id, array};
    PGresult *res = NULL;
    int rc = sp_gw_pgpool_query(req->app->pool, selected_operations_sql, 2, params, &res, err);
    free(array);
    /* In the body's order: the first operation that cannot be requested is named. */
    for (size_t i = 0; rc == 0 && i < sel->asked.id_count; i++)
        rc = check_operation(res, sel->asked.ids[i], sel, err);
    for (int row = 0; rc == 0 && row < PQntuples(res); row++)
        rc = selection_add(sel, PQgetvalue(res, row, 0), PQgetvalue(res, row, 1),
                           PQgetvalue(res, row, 2), err);
    PQclear(res);
    return rc;
}

static int select_all(sp_gw_request *req, selection *sel, sp_error *err) {
    char amounts[2][SP_OPERATIONS_FILTER_AMOUNT_TEXT_MAX], limit[NUMBER_TEXT_MAX];
    const char *params[2 + SP_GW_FILTER_PARAMS] = {req->user.partner_id};
    sp_operations_filter_params(&sel->asked.filter.filters, amounts, params + 1);
    /* One row more than allowed tells a selection that is too large. */
    snprintf(limit, sizeof limit, "%d", SP_REFUND_REQUEST_OPERATIONS_MAX + 1);
    params[1 + SP_GW_FILTER_PARAMS] = limit;
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, sp_gw_partner_accepted_operations_sql,
                           2 + SP_GW_FILTER_PARAMS, params, &res, err) != 0)
        return -1;
    int rc = 0;
    if (PQntuples(res) == 0)
        rc = sp_error_set(err, 422, "empty_selection", "operation_ids",
                          "no accepted operation matches the filters");
    else if (PQntuples(res) > SP_REFUND_REQUEST_OPERATIONS_MAX)
        rc = sp_error_set(err, 422, "selection_too_large", "operation_ids",
                          "more than %d operations match the filters: narrow them",
                          SP_REFUND_REQUEST_OPERATIONS_MAX);
    for (int row = 0; rc == 0 && row < PQntuples(res); row++)
        rc = selection_add(sel, PQgetvalue(res, row, 0), PQgetvalue(res, row, 1),
                           PQgetvalue(res, row, 2), err);
    PQclear(res);
    return rc;
}

/* ------------------------------------------------------------------ opening a request */

/* clang-format off */
static const char bank_missing_sql[] =
    "SELECT (iban = '' OR bic = '') FROM partners WHERE partner_id = $1::uuid";
/* clang-format on */

static int bank_account_missing(sp_gw_request *req, bool *missing, sp_error *err) {
    const char *params[1] = {req->user.partner_id};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, bank_missing_sql, 1, params, &res, err) != 0) return -1;
    int rc = 0;
    if (PQntuples(res) == 1) *missing = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    else
        rc = sp_error_set(err, 404, "partner_not_found", "",
                          "this account's partner is not known yet");
    PQclear(res);
    return rc;
}

/* The same partner, user and Idempotency-Key always name the same request:
 * a retry reaches the same aggregate, whose writer replays its outcome. */
static void manual_request_id(const sp_gw_request *req, const char *key, char *out) {
    uint8_t digest[SP_KEY_LEN];
    sp_key_of(digest, "refund-request-manual", req->user.partner_id, req->user.user_id, key);
    sp_id_from_key(digest, out);
}

/* One part per pass of the selection (ordered by pass); the parts point
 * into sel, the caller frees parts, part_ptrs and ids. */
static size_t build_parts(const selection *sel, Solipass__Ledger__RefundPart *parts,
                          Solipass__Ledger__RefundPart **part_ptrs, char **ids) {
    size_t part_count = 0;
    for (size_t i = 0; i < sel->count; i++) {
        ids[i] = (char *)sel->ops[i].operation_id;
        if (i > 0 && strcmp(sel->ops[i].pass_id, sel->ops[i - 1].pass_id) == 0) {
            parts[part_count - 1].n_operation_ids++;
            continue;
        }
        Solipass__Ledger__RefundPart init = SOLIPASS__LEDGER__REFUND_PART__INIT;
        parts[part_count] = init;
        parts[part_count].pass_id = (char *)sel->ops[i].pass_id;
        parts[part_count].n_operation_ids = 1;
        parts[part_count].operation_ids = ids + i;
        part_ptrs[part_count] = &parts[part_count];
        part_count++;
    }
    return part_count;
}

static int send_open(sp_gw_request *req, const selection *sel, const char *request_id,
                     const char *key, bool *answered, sp_error *err) {
    bool missing = false;
    if (bank_account_missing(req, &missing, err) != 0) return -1;
    Solipass__Ledger__RefundPart *parts = calloc(sel->count, sizeof *parts);
    Solipass__Ledger__RefundPart **part_ptrs = calloc(sel->count, sizeof *part_ptrs);
    char **ids = calloc(sel->count, sizeof *ids);
    int rc = -1;
    if (parts == NULL || part_ptrs == NULL || ids == NULL) {
        sp_error_set(err, 503, "unavailable", "", "out of memory");
        goto done;
    }
    Solipass__Ledger__OpenRefundRequest command = SOLIPASS__LEDGER__OPEN_REFUND_REQUEST__INIT;
    command.request_id = (char *)request_id;
    command.partner_id = req->user.partner_id;
    command.kind = "manual";
    command.period = "";
    command.n_parts = build_parts(sel, parts, part_ptrs, ids);
    command.parts = part_ptrs;
    command.expected_total_cents = sel->total_cents;
    command.bank_account_missing = missing;
    rc = run_request_command(req, "ledger.OpenRefundRequest.v1", request_id, key, &command.base,
                             answered, err);
done:
    free(parts);
    free(part_ptrs);
    free(ids);
    return rc;
}

/* A refusal naming one operation also carries its id. */
static int answer_refusal(sp_gw_request *req, const selection *sel, const sp_error *refused) {
    json_t *body = sp_gw_problem_new(refused);
    if (body == NULL ||
        json_object_set_new(body, "operation_id", json_string(sel->refusal_operation_id)) != 0) {
        json_decref(body);
        return sp_gw_answer_error(req, refused);
    }
    return sp_gw_answer_problem(req, body, false);
}

int sp_gw_route_partner_refunds_create(sp_gw_request *req, sp_error *err) {
    const char *key = NULL;
    if (own_partner(req, err) != 0 || sp_gw_idempotency_key(req, &key, err) != 0) return -1;
    selection *sel = calloc(1, sizeof *sel);
    if (sel == NULL) return sp_error_set(err, 503, "unavailable", "", "out of memory");
    int rc = sp_gw_refund_selection_parse(req->body, req->body_len, &sel->asked, err);
    if (rc == 0) rc = sel->asked.all ? select_all(req, sel, err) : select_ids(req, sel, err);
    char request_id[SP_ID_LEN + 1];
    bool answered = false;
    if (rc != 0 && sel->refusal_status != 0) {
        rc = answer_refusal(req, sel, err);
        answered = true;
    }
    if (rc == 0 && !answered) {
        manual_request_id(req, key, request_id);
        rc = send_open(req, sel, request_id, key, &answered, err);
    }
    free(sel);
    if (rc != 0 || answered) return rc;
    return answer_after_wait(req, request_id, GOAL_LEFT_OPENING, 201, err);
}

/* ------------------------------------------------------------------ listing */

static json_t *list_totals(sp_gw_request *req, const char *const *filter, sp_error *err) {
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, requests_totals_sql, 2, filter, &res, err) != 0)
        return NULL;
    int64_t count = 0, total_cents = 0;
    json_t *totals = NULL;
    if (PQntuples(res) == 1 && sp_gw_int64_of(PQgetvalue(res, 0, 0), &count, err) == 0 &&
        sp_gw_int64_of(PQgetvalue(res, 0, 1), &total_cents, err) == 0)
        totals = json_pack("{s:I, s:I}", "count", (json_int_t)count, "total_cents",
                           (json_int_t)total_cents);
    PQclear(res);
    if (totals == NULL && err->code[0] == '\0')
        sp_error_set(err, 500, "internal", "", "the totals could not be shown");
    return totals;
}

static json_t *list_page(const PGresult *res, int limit, sp_error *err) {
    json_t *requests = json_array();
    json_t *next_cursor = json_null();
    for (int row = 0; requests != NULL && row < PQntuples(res) && row < limit; row++) {
        json_t *r = request_json(res, row, err);
        int64_t created_ms = 0;
        if (r == NULL || json_array_append_new(requests, r) != 0 ||
            sp_gw_int64_of(PQgetvalue(res, row, RQ_CREATED), &created_ms, err) != 0) {
            json_decref(requests);
            json_decref(next_cursor);
            return NULL;
        }
        if (row == limit - 1 && PQntuples(res) > limit) {
            char cursor[SP_GW_CURSOR_LEN_MAX + 1];
            sp_gw_cursor_encode(created_ms, PQgetvalue(res, row, RQ_ID), cursor);
            next_cursor = json_string(cursor);
        }
    }
    json_t *page = json_pack("{s:o, s:o}", "refund_requests", requests, "next_cursor", next_cursor);
    if (page == NULL) sp_error_set(err, 500, "internal", "", "the requests could not be shown");
    return page;
}

static int answer_list(sp_gw_request *req, bool finance, sp_error *err) {
    sp_gw_refunds_filter q;
    if (sp_gw_refunds_filter_parse(req->query, finance, &q, err) != 0) return -1;
    const char *partner = finance ? (q.partner_id[0] ? q.partner_id : NULL) : req->user.partner_id;
    char after_ms[NUMBER_TEXT_MAX], limit[NUMBER_TEXT_MAX];
    snprintf(after_ms, sizeof after_ms, "%" PRId64, q.page.after_occurred_at_ms);
    snprintf(limit, sizeof limit, "%d", q.page.limit + 1);
    const char *params[5] = {partner, q.status[0] ? q.status : NULL,
                             q.page.has_cursor ? after_ms : NULL,
                             q.page.has_cursor ? q.page.after_operation_id : NULL, limit};
    json_t *totals = list_totals(req, params, err);
    if (totals == NULL) return -1;
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, requests_page_sql, 5, params, &res, err) != 0) {
        json_decref(totals);
        return -1;
    }
    json_t *body = list_page(res, q.page.limit, err);
    PQclear(res);
    return sp_gw_answer_page_with_totals(req, body, totals, err);
}

json_t *sp_gw_refund_requests_latest(sp_gw_request *req, const char *partner_id, int limit,
                                     sp_error *err) {
    assert(sp_id_valid(partner_id) && limit >= 1);
    char limit_text[NUMBER_TEXT_MAX];
    snprintf(limit_text, sizeof limit_text, "%d", limit);
    const char *params[5] = {partner_id, NULL, NULL, NULL, limit_text};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, requests_page_sql, 5, params, &res, err) != 0)
        return NULL;
    json_t *page = list_page(res, limit, err);
    PQclear(res);
    json_t *requests = json_incref(json_object_get(page, "refund_requests"));
    json_decref(page);
    return requests;
}

int sp_gw_route_partner_refunds_list(sp_gw_request *req, sp_error *err) {
    if (own_partner(req, err) != 0) return -1;
    return answer_list(req, false, err);
}

int sp_gw_route_finance_refunds_list(sp_gw_request *req, sp_error *err) {
    return answer_list(req, true, err);
}

int sp_gw_route_partner_refund_get(sp_gw_request *req, sp_error *err) {
    if (own_partner(req, err) != 0) return -1;
    json_t *r = request_with_operations(req, req->match.path_id, req->user.partner_id, err);
    return r == NULL ? -1 : sp_gw_answer_json(req, 200, r, false);
}

int sp_gw_route_finance_refund_get(sp_gw_request *req, sp_error *err) {
    json_t *r = request_with_operations(req, req->match.path_id, NULL, err);
    return r == NULL ? -1 : sp_gw_answer_json(req, 200, r, false);
}

/* ------------------------------------------------------------------ cancel and paid */

/* The request exists (and, for a partner, is its own): another partner's is not found. */
static int request_exists(sp_gw_request *req, const char *partner_id, sp_error *err) {
    PGresult *res = NULL;
    if (load_request(req, req->match.path_id, partner_id, &res, err) != 0) return -1;
    int rc = PQntuples(res) == 1 ? 0 : not_found(err);
    PQclear(res);
    return rc;
}

int sp_gw_route_partner_refund_cancel(sp_gw_request *req, sp_error *err) {
    const char *key = NULL;
    if (own_partner(req, err) != 0 || sp_gw_idempotency_key(req, &key, err) != 0 ||
        no_body(req, err) != 0 || request_exists(req, req->user.partner_id, err) != 0)
        return -1;
    Solipass__Ledger__CancelRefundRequest command = SOLIPASS__LEDGER__CANCEL_REFUND_REQUEST__INIT;
    command.request_id = req->match.path_id;
    command.partner_id = req->user.partner_id;
    bool answered = false;
    if (run_request_command(req, "ledger.CancelRefundRequest.v1", req->match.path_id, key,
                            &command.base, &answered, err) != 0)
        return -1;
    if (answered) return 0;
    return answer_after_wait(req, req->match.path_id, GOAL_RELEASED, 200, err);
}

static const sp_gw_field paid_fields[] = {
    {"transfer_reference", SP_GW_FIELD_STRING, true, 1, SP_GW_TRANSFER_REFERENCE_CHARS_MAX},
    {"paid_on", SP_GW_FIELD_STRING, true, 10, 10},
};
static const sp_gw_schema paid_schema = {paid_fields, sizeof paid_fields / sizeof paid_fields[0]};

static int paid_on_check(sp_gw_request *req, const char *text, sp_error *err) {
    sp_date date;
    if (sp_date_parse(text, &date, err) != 0) {
        snprintf(err->field, sizeof err->field, "paid_on");
        return -1;
    }
    if (date > sp_paris_date_of(sp_clock_now_ms(req->app->clock)))
        return sp_error_set(err, 422, "invalid_date", "paid_on", "paid_on is in the future");
    return 0;
}

int sp_gw_route_finance_refund_paid(sp_gw_request *req, sp_error *err) {
    const char *key = NULL;
    if (sp_gw_idempotency_key(req, &key, err) != 0) return -1;
    json_t *root = sp_gw_body_parse(req->body, req->body_len, &paid_schema, err);
    if (root == NULL) return -1;
    char reference[SP_GW_TEXT_BYTES(SP_GW_TRANSFER_REFERENCE_CHARS_MAX)], paid_on[11];
    snprintf(reference, sizeof reference, "%s",
             json_string_value(json_object_get(root, "transfer_reference")));
    snprintf(paid_on, sizeof paid_on, "%s", json_string_value(json_object_get(root, "paid_on")));
    json_decref(root);
    if (sp_gw_transfer_reference_check(reference, err) != 0 ||
        paid_on_check(req, paid_on, err) != 0 || request_exists(req, NULL, err) != 0)
        return -1;
    Solipass__Ledger__MarkRefundRequestPaid command =
        SOLIPASS__LEDGER__MARK_REFUND_REQUEST_PAID__INIT;
    command.request_id = req->match.path_id;
    command.transfer_reference = reference;
    command.paid_on = paid_on;
    bool answered = false;
    if (run_request_command(req, "ledger.MarkRefundRequestPaid.v1", req->match.path_id, key,
                            &command.base, &answered, err) != 0)
        return -1;
    if (answered) return 0;
    return answer_after_wait(req, req->match.path_id, GOAL_SETTLED, 200, err);
}
