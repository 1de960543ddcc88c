/* service.c - the refunds service's loop (see service.h): read the refund
 * read models, send the next step of each request, open the monthly
 * automatic requests (a batch of them per partner and period when one
 * request cannot hold the month). The decisions are refunds.c's. */
#include "service.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libpq-fe.h>
#include "ledger.pb-c.h"
#include "sp_clock.h"
#include "sp_envelope.h"
#include "sp_kafka.h"
#include "sp_pg.h"
#include "refunds.h"

#define PG_CONNECT_WAIT_MS 30000
#define FLUSH_TIMEOUT_MS 10000
#define SCAN_ROWS_MAX 256          /* rows of each query per tick */
#define RUN_PARTNERS_MAX 64        /* automatic requests opened per run check */
#define RUN_CHECK_INTERVAL_MS 1000 /* the monthly run is looked at once a second */
#define SLEEP_SLICE_MS 50          /* a stop is noticed within this */
#define NUMBER_TEXT_MAX 24
/* "uuid,uuid,...": SP_LEDGER_REFUND_PART_OPERATIONS_MAX ids of one part */
#define PART_OPERATIONS_MAX 1024
#define PART_IDS_TEXT_MAX (PART_OPERATIONS_MAX * (SP_ID_LEN + 1))

typedef struct refunds_service {
    const sp_refunds_config *config;
    sp_log *log;
    sp_clock *clock;
    PGconn *conn;
    sp_kafka_producer *producer;
    sp_refunds_sent *sent;
    size_t sent_this_tick;
    int64_t next_run_check_ms;
    char *ids_text;               /* PART_IDS_TEXT_MAX + 1 */
    char **ids;                   /* PART_OPERATIONS_MAX */
    sp_refunds_auto_op *auto_ops; /* SP_REFUND_REQUEST_OPERATIONS_MAX */
    sp_refunds_grouping *grouping;
    Solipass__Ledger__RefundPart *parts; /* SP_REFUNDS_PARTS_MAX */
    Solipass__Ledger__RefundPart **part_ptrs;
    char **auto_ids;             /* SP_REFUND_REQUEST_OPERATIONS_MAX */
    sp_refunds_batch_row *batch; /* SP_REFUNDS_BATCH_REQUESTS_MAX */
} refunds_service;

/* ------------------------------------------------------------ SQL */

/* clang-format off */
static const char asked_parts_sql[] =
    "SELECT p.request_id, p.pass_id, r.partner_id, r.kind, array_to_string(p.operation_ids, ',')"
    " FROM refund_request_parts p JOIN refund_requests r ON r.request_id = p.request_id"
    " WHERE p.status = 'asked' AND r.status = 'opening'"
    " ORDER BY r.created_at, p.request_id, p.pass_id LIMIT $1::integer";

/* The first refusal (in time) names why the request is aborted. */
#define FIRST_REFUSAL(column)                                                                \
    " coalesce((array_agg(" column " ORDER BY p.updated_at, p.pass_id)"                      \
    " FILTER (WHERE p.status = 'refused'))[1], '')"
static const char opening_requests_sql[] =
    "SELECT r.request_id, r.part_count, count(p.pass_id),"
    " count(*) FILTER (WHERE p.status = 'reserved'), count(*) FILTER (WHERE p.status = 'refused'),"
    " coalesce(sum(p.amount_cents) FILTER (WHERE p.status = 'reserved'), 0),"
    " coalesce(sum(p.operation_count) FILTER (WHERE p.status = 'reserved'), 0),"
    FIRST_REFUSAL("p.refusal_code") "," FIRST_REFUSAL("p.refusal_message") ","
    FIRST_REFUSAL("coalesce(p.refusal_operation_id::text, '')")
    " FROM refund_requests r LEFT JOIN refund_request_parts p ON p.request_id = r.request_id"
    " WHERE r.status = 'opening' GROUP BY r.request_id, r.part_count, r.created_at"
    " ORDER BY r.created_at LIMIT $1::integer";

/* $1: 'cancelled' (release) or 'paid' (settle): the partial index
 * refund_request_parts_to_finish holds exactly these rows. */
static const char reserved_parts_sql[] =
    "SELECT p.request_id, p.pass_id FROM refund_request_parts p"
    " WHERE p.status = 'reserved' AND p.request_status = $1::text"
    " ORDER BY p.request_status, p.request_id, p.pass_id LIMIT $2::integer";

#define BEFORE_RUN " o.occurred_at < timestamptz 'epoch' + $1::bigint * interval '1 millisecond'"
/* The operations a request's parts asked for (what "full" is measured on:
 * with skip_unavailable, fewer may have been reserved). */
#define ASKED(request) \
    " (SELECT coalesce(sum(cardinality(p.operation_ids)), 0) FROM refund_request_parts p" \
    " WHERE p.request_id = " request ")"
#define AUTOMATIC_OF_PERIOD \
    " r.partner_id = pa.partner_id AND r.kind = 'automatic' AND r.period = $2::text"
/* Partners with accepted payments before the run instant ($1 ms) whose
 * batch for the period ($2) may take another request: none yet, or every
 * one full ($4 operations asked), none opening or cancelled, fewer than $5.
 * sp_refunds_decide_batch decides; this only keeps the partners it would
 * leave alone from hiding the others behind the LIMIT. */
static const char run_partners_sql[] =
    "SELECT pa.partner_id, (pa.iban = '' OR pa.bic = '') FROM partners pa"
    " WHERE EXISTS (SELECT 1 FROM operations o WHERE o.partner_id = pa.partner_id"
    " AND o.kind = 'payment' AND o.status = 'accepted' AND" BEFORE_RUN ")"
    " AND NOT EXISTS (SELECT 1 FROM refund_requests r WHERE" AUTOMATIC_OF_PERIOD
    " AND (r.status IN ('opening', 'cancelled') OR" ASKED("r.request_id") " <> $4::bigint))"
    " AND (SELECT count(*) FROM refund_requests r WHERE" AUTOMATIC_OF_PERIOD ") < $5::bigint"
    " ORDER BY pa.partner_id LIMIT $3::integer";

/* The partner's ($1) automatic requests of the period ($2). */
static const char run_batch_sql[] =
    "SELECT r.request_id, r.status = 'opening', r.status = 'cancelled'," ASKED("r.request_id")
    " FROM refund_requests r WHERE r.partner_id = $1::uuid AND r.kind = 'automatic'"
    " AND r.period = $2::text ORDER BY r.created_at, r.request_id LIMIT $3::integer";

/* The oldest of them ($3: at most), grouped by pass. */
static const char run_operations_sql[] =
    "SELECT s.pass_id, s.operation_id, s.amount_cents FROM (SELECT o.pass_id, o.operation_id,"
    " o.amount_cents, o.occurred_at FROM operations o WHERE o.partner_id = $2::uuid"
    " AND o.kind = 'payment' AND o.status = 'accepted' AND" BEFORE_RUN
    " ORDER BY o.occurred_at, o.operation_id LIMIT $3::integer) s"
    " ORDER BY s.pass_id, s.occurred_at, s.operation_id";
/* clang-format on */

/* ------------------------------------------------------------ edges */

static int query(refunds_service *s, const char *sql, int count, const char *const *params,
                 PGresult **res, sp_error *err) {
    if (sp_pg_exec(s->conn, sql, count, params, res, err) == 0) return 0;
    /* A lost connection is tried again at the next tick. */
    if (PQstatus(s->conn) != CONNECTION_OK) PQreset(s->conn);
    return -1;
}

/* Commands of the system: no actor, no reply wanted (the read model is the answer). */
static int send_command(refunds_service *s, const char *type, const char *aggregate_id,
                        const char *command_id, const ProtobufCMessage *payload, sp_error *err) {
    sp_envelope_meta meta = {.type = type,
                             .aggregate_id = aggregate_id,
                             .aggregate_version = 0,
                             .occurred_at_ms = sp_clock_now_ms(s->clock),
                             .command_id = command_id,
                             .causation_id = "",
                             .reply_to = "",
                             .actor_id = ""};
    if (sp_envelope_produce(s->producer, SP_TOPIC_LEDGER_COMMANDS, RD_KAFKA_PARTITION_UA, &meta,
                            payload, NULL, NULL, err) != 0)
        return -1;
    s->sent_this_tick++;
    sp_log_info(s->log, "sent", "type", type, "aggregate_id", aggregate_id, "command_id",
                command_id, NULL);
    return 0;
}

static int64_t int64_of(const char *text) {
    return strtoll(text, NULL, 10);
}

static const char *limit_text(char out[NUMBER_TEXT_MAX], int64_t value) {
    snprintf(out, NUMBER_TEXT_MAX, "%" PRId64, value);
    return out;
}

static const sp_refund_period NO_PERIOD = {.year = 2000, .month = 1};

/* ------------------------------------------------------------ reserve */

/* "id,id,..." split in place into s->ids; -1 when a value is not an id. */
static int split_ids(refunds_service *s, const char *text, size_t *count, sp_error *err) {
    size_t len = strlen(text);
    if (len > PART_IDS_TEXT_MAX)
        return sp_error_set(err, 500, "invalid_row", "operation_ids", "too many operations");
    memcpy(s->ids_text, text, len + 1);
    *count = 0;
    for (char *id = s->ids_text; id != NULL && *id != '\0';) {
        char *comma = strchr(id, ',');
        if (comma != NULL) *comma = '\0';
        if (!sp_id_valid(id) || *count == PART_OPERATIONS_MAX)
            return sp_error_set(err, 500, "invalid_row", "operation_ids",
                                "a part's operation ids are not uuids");
        s->ids[(*count)++] = id;
        id = comma != NULL ? comma + 1 : NULL;
    }
    return 0;
}

static int reserve_row(refunds_service *s, const PGresult *res, int row, int64_t now_ms,
                       sp_error *err) {
    const char *request_id = PQgetvalue(res, row, 0), *pass_id = PQgetvalue(res, row, 1);
    if (!sp_refunds_sent_due(s->sent, SP_REFUNDS_STEP_RESERVE, request_id, pass_id, now_ms,
                             s->config->resend_ms))
        return 0;
    size_t count = 0;
    if (split_ids(s, PQgetvalue(res, row, 4), &count, err) != 0) return -1;
    Solipass__Ledger__ReserveOperations command = SOLIPASS__LEDGER__RESERVE_OPERATIONS__INIT;
    command.pass_id = (char *)pass_id;
    command.request_id = (char *)request_id;
    command.partner_id = PQgetvalue(res, row, 2);
    command.n_operation_ids = count;
    command.operation_ids = s->ids;
    /* The monthly run takes what is still there; a partner's choice is all or nothing. */
    command.skip_unavailable = strcmp(PQgetvalue(res, row, 3), "automatic") == 0;
    char command_id[SP_REFUNDS_COMMAND_ID_MAX + 1];
    sp_refunds_command_id(SP_REFUNDS_STEP_RESERVE, request_id, NO_PERIOD, command_id);
    if (send_command(s, "ledger.ReserveOperations.v1", pass_id, command_id, &command.base, err) !=
        0)
        return -1;
    sp_refunds_sent_mark(s->sent, SP_REFUNDS_STEP_RESERVE, request_id, pass_id, now_ms);
    return 0;
}

static int reserve_asked_parts(refunds_service *s, int64_t now_ms, sp_error *err) {
    char limit[NUMBER_TEXT_MAX];
    const char *params[1] = {limit_text(limit, SCAN_ROWS_MAX)};
    PGresult *res = NULL;
    if (query(s, asked_parts_sql, 1, params, &res, err) != 0) return -1;
    int rc = 0;
    for (int row = 0; rc == 0 && row < PQntuples(res); row++)
        rc = reserve_row(s, res, row, now_ms, err);
    PQclear(res);
    return rc;
}

/* ------------------------------------------------------------ confirm or abort */

static int confirm(refunds_service *s, const char *request_id, const sp_refunds_opening *o,
                   sp_error *err) {
    Solipass__Ledger__ConfirmRefundRequest command = SOLIPASS__LEDGER__CONFIRM_REFUND_REQUEST__INIT;
    command.request_id = (char *)request_id;
    command.total_cents = o->reserved_cents;
    command.operation_count = o->reserved_operations;
    return send_command(s, "ledger.ConfirmRefundRequest.v1", request_id, "confirm", &command.base,
                        err);
}

static int abort_request(refunds_service *s, const PGresult *res, int row, sp_error *err) {
    Solipass__Ledger__AbortRefundRequest command = SOLIPASS__LEDGER__ABORT_REFUND_REQUEST__INIT;
    command.request_id = PQgetvalue(res, row, 0);
    command.code = PQgetvalue(res, row, 7);
    command.message = PQgetvalue(res, row, 8);
    command.operation_id = PQgetvalue(res, row, 9);
    return send_command(s, "ledger.AbortRefundRequest.v1", command.request_id, "abort",
                        &command.base, err);
}

static int decide_row(refunds_service *s, const PGresult *res, int row, int64_t now_ms,
                      sp_error *err) {
    const char *request_id = PQgetvalue(res, row, 0);
    sp_refunds_opening o = {.part_count = int64_of(PQgetvalue(res, row, 1)),
                            .parts_seen = int64_of(PQgetvalue(res, row, 2)),
                            .parts_reserved = int64_of(PQgetvalue(res, row, 3)),
                            .parts_refused = int64_of(PQgetvalue(res, row, 4)),
                            .reserved_cents = int64_of(PQgetvalue(res, row, 5)),
                            .reserved_operations = int64_of(PQgetvalue(res, row, 6))};
    if (o.part_count < 1 || o.parts_reserved + o.parts_refused > o.parts_seen)
        return sp_error_set(err, 500, "invalid_row", "part_count",
                            "a request's parts do not add up");
    sp_refunds_decision decision = sp_refunds_decide_opening(&o);
    if (decision == SP_REFUNDS_WAIT) return 0;
    sp_refunds_step step = decision == SP_REFUNDS_CONFIRM ? SP_REFUNDS_STEP_CONFIRM
                                                          : SP_REFUNDS_STEP_ABORT;
    if (!sp_refunds_sent_due(s->sent, step, request_id, request_id, now_ms, s->config->resend_ms))
        return 0;
    int rc = decision == SP_REFUNDS_CONFIRM ? confirm(s, request_id, &o, err)
                                            : abort_request(s, res, row, err);
    if (rc == 0) sp_refunds_sent_mark(s->sent, step, request_id, request_id, now_ms);
    return rc;
}

static int decide_opening_requests(refunds_service *s, int64_t now_ms, sp_error *err) {
    char limit[NUMBER_TEXT_MAX];
    const char *params[1] = {limit_text(limit, SCAN_ROWS_MAX)};
    PGresult *res = NULL;
    if (query(s, opening_requests_sql, 1, params, &res, err) != 0) return -1;
    int rc = 0;
    for (int row = 0; rc == 0 && row < PQntuples(res); row++)
        rc = decide_row(s, res, row, now_ms, err);
    PQclear(res);
    return rc;
}

/* ------------------------------------------------------------ release and settle */

static int release_or_settle(refunds_service *s, sp_refunds_step step, int64_t now_ms,
                             sp_error *err) {
    assert(step == SP_REFUNDS_STEP_RELEASE || step == SP_REFUNDS_STEP_SETTLE);
    bool release = step == SP_REFUNDS_STEP_RELEASE;
    char limit[NUMBER_TEXT_MAX];
    const char *params[2] = {release ? "cancelled" : "paid", limit_text(limit, SCAN_ROWS_MAX)};
    PGresult *res = NULL;
    if (query(s, reserved_parts_sql, 2, params, &res, err) != 0) return -1;
    int rc = 0;
    for (int row = 0; rc == 0 && row < PQntuples(res); row++) {
        char *request_id = PQgetvalue(res, row, 0), *pass_id = PQgetvalue(res, row, 1);
        if (!sp_refunds_sent_due(s->sent, step, request_id, pass_id, now_ms, s->config->resend_ms))
            continue;
        char command_id[SP_REFUNDS_COMMAND_ID_MAX + 1];
        sp_refunds_command_id(step, request_id, NO_PERIOD, command_id);
        /* The two commands have the same fields. */
        Solipass__Ledger__ReleaseOperations released = SOLIPASS__LEDGER__RELEASE_OPERATIONS__INIT;
        Solipass__Ledger__SettleOperations settled = SOLIPASS__LEDGER__SETTLE_OPERATIONS__INIT;
        released.pass_id = settled.pass_id = pass_id;
        released.request_id = settled.request_id = request_id;
        rc = release ? send_command(s, "ledger.ReleaseOperations.v1", pass_id, command_id,
                                    &released.base, err)
                     : send_command(s, "ledger.SettleOperations.v1", pass_id, command_id,
                                    &settled.base, err);
        if (rc == 0) sp_refunds_sent_mark(s->sent, step, request_id, pass_id, now_ms);
    }
    PQclear(res);
    return rc;
}

/* ------------------------------------------------------------ the monthly run */

/* The protobuf parts of a grouping, pointing into res (valid until PQclear). */
static void auto_parts(refunds_service *s, const PGresult *res, size_t count) {
    for (size_t i = 0; i < count; i++) {
        s->auto_ops[i] = (sp_refunds_auto_op){.pass_id = PQgetvalue(res, (int)i, 0),
                                              .operation_id = PQgetvalue(res, (int)i, 1),
                                              .amount_cents = int64_of(PQgetvalue(res, (int)i, 2))};
        s->auto_ids[i] = PQgetvalue(res, (int)i, 1);
    }
}

/* Which request of the partner's batch is to be opened: 1 with request_id
 * filled, 0 when none (yet), -1 on error. */
static int batch_next(refunds_service *s, const char *partner_id, sp_refund_period period,
                      char *request_id, sp_error *err) {
    char period_text[SP_REFUND_PERIOD_TEXT_LEN + 1], limit[NUMBER_TEXT_MAX];
    sp_clock_refund_period_format(period, period_text);
    const char *params[3] = {partner_id, period_text,
                             limit_text(limit, SP_REFUNDS_BATCH_REQUESTS_MAX)};
    PGresult *res = NULL;
    if (query(s, run_batch_sql, 3, params, &res, err) != 0) return -1;
    size_t count = (size_t)PQntuples(res);
    assert(count <= SP_REFUNDS_BATCH_REQUESTS_MAX);
    for (size_t i = 0; i < count; i++)
        s->batch[i] = (sp_refunds_batch_row){
            .request_id = PQgetvalue(res, (int)i, 0),
            .opening = strcmp(PQgetvalue(res, (int)i, 1), "t") == 0,
            .cancelled = strcmp(PQgetvalue(res, (int)i, 2), "t") == 0,
            .operations_asked = int64_of(PQgetvalue(res, (int)i, 3))};
    size_t index = 0;
    sp_refunds_batch_decision decision = sp_refunds_decide_batch(partner_id, period, s->batch,
                                                                 count, &index, request_id);
    PQclear(res);
    return decision == SP_REFUNDS_BATCH_OPEN ? 1 : 0;
}

static int open_automatic(refunds_service *s, const char *partner_id, bool bank_missing,
                          sp_refund_period period, const char *run_ms_text, int64_t now_ms,
                          sp_error *err) {
    char request_id[SP_ID_LEN + 1], period_text[SP_REFUND_PERIOD_TEXT_LEN + 1];
    char limit[NUMBER_TEXT_MAX], command_id[SP_REFUNDS_COMMAND_ID_MAX + 1];
    int next = batch_next(s, partner_id, period, request_id, err);
    if (next <= 0) return next;
    if (!sp_refunds_sent_due(s->sent, SP_REFUNDS_STEP_OPEN, request_id, request_id, now_ms,
                             s->config->resend_ms))
        return 0;
    const char *params[3] = {run_ms_text, partner_id,
                             limit_text(limit, SP_REFUND_REQUEST_OPERATIONS_MAX)};
    PGresult *res = NULL;
    if (query(s, run_operations_sql, 3, params, &res, err) != 0) return -1;
    size_t count = (size_t)PQntuples(res);
    assert(count <= SP_REFUND_REQUEST_OPERATIONS_MAX);
    auto_parts(s, res, count);
    int rc = -1;
    if (count == 0) {
        rc = 0; /* cancelled since the partners were read */
        goto done;
    }
    if (sp_refunds_group(s->auto_ops, count, s->grouping, err) != 0) goto done;
    for (size_t p = 0; p < s->grouping->part_count; p++) {
        const sp_refunds_part_range *range = &s->grouping->parts[p];
        Solipass__Ledger__RefundPart init = SOLIPASS__LEDGER__REFUND_PART__INIT;
        s->parts[p] = init;
        s->parts[p].pass_id = (char *)s->auto_ops[range->first].pass_id;
        s->parts[p].n_operation_ids = range->count;
        s->parts[p].operation_ids = s->auto_ids + range->first;
        s->part_ptrs[p] = &s->parts[p];
    }
    sp_clock_refund_period_format(period, period_text);
    Solipass__Ledger__OpenRefundRequest command = SOLIPASS__LEDGER__OPEN_REFUND_REQUEST__INIT;
    command.request_id = request_id;
    command.partner_id = (char *)partner_id;
    command.kind = "automatic";
    command.period = period_text;
    command.n_parts = s->grouping->part_count;
    command.parts = s->part_ptrs;
    command.expected_total_cents = s->grouping->total_cents;
    command.bank_account_missing = bank_missing;
    sp_refunds_command_id(SP_REFUNDS_STEP_OPEN, request_id, period, command_id);
    rc = send_command(s, "ledger.OpenRefundRequest.v1", request_id, command_id, &command.base, err);
    if (rc == 0)
        sp_refunds_sent_mark(s->sent, SP_REFUNDS_STEP_OPEN, request_id, request_id, now_ms);
done:
    PQclear(res);
    return rc;
}

static int monthly_run(refunds_service *s, sp_refund_period period, int64_t now_ms, sp_error *err) {
    char run_ms[NUMBER_TEXT_MAX], period_text[SP_REFUND_PERIOD_TEXT_LEN + 1];
    char limit[NUMBER_TEXT_MAX];
    limit_text(run_ms, sp_clock_refund_run_ms(period));
    sp_clock_refund_period_format(period, period_text);
    char full[NUMBER_TEXT_MAX], batch_max[NUMBER_TEXT_MAX];
    const char *params[5] = {run_ms, period_text, limit_text(limit, RUN_PARTNERS_MAX),
                             limit_text(full, SP_REFUND_REQUEST_OPERATIONS_MAX),
                             limit_text(batch_max, SP_REFUNDS_BATCH_REQUESTS_MAX)};
    PGresult *res = NULL;
    if (query(s, run_partners_sql, 5, params, &res, err) != 0) return -1;
    int rc = 0;
    for (int row = 0; rc == 0 && row < PQntuples(res); row++) {
        const char *partner_id = PQgetvalue(res, row, 0);
        bool bank_missing = strcmp(PQgetvalue(res, row, 1), "t") == 0;
        rc = open_automatic(s, partner_id, bank_missing, period, run_ms, now_ms, err);
    }
    PQclear(res);
    return rc;
}

/* ------------------------------------------------------------ the loop */

/* clang-format off */
/* The run of period is over when no partner is left for it and none of its
 * requests is still opening: 1 with *requests (the period's automatic
 * requests), 0 not yet, -1 on error. */
static const char period_requests_sql[] =
    "SELECT count(*) FILTER (WHERE status = 'opening'), count(*) FROM refund_requests"
    " WHERE kind = 'automatic' AND period = $1::text";
/* clang-format on */

static int period_requests(refunds_service *s, sp_refund_period period, int64_t *opening,
                           int64_t *requests, sp_error *err) {
    char period_text[SP_REFUND_PERIOD_TEXT_LEN + 1];
    sp_clock_refund_period_format(period, period_text);
    const char *params[1] = {period_text};
    PGresult *res = NULL;
    if (query(s, period_requests_sql, 1, params, &res, err) != 0) return -1;
    *opening = int64_of(PQgetvalue(res, 0, 0));
    *requests = int64_of(PQgetvalue(res, 0, 1));
    PQclear(res);
    return 0;
}

static int run_over(refunds_service *s, sp_refund_period period, int64_t *requests, sp_error *err) {
    char run_ms[NUMBER_TEXT_MAX], period_text[SP_REFUND_PERIOD_TEXT_LEN + 1];
    char limit[NUMBER_TEXT_MAX], full[NUMBER_TEXT_MAX], batch_max[NUMBER_TEXT_MAX];
    limit_text(run_ms, sp_clock_refund_run_ms(period));
    sp_clock_refund_period_format(period, period_text);
    const char *params[5] = {run_ms, period_text, limit_text(limit, 1),
                             limit_text(full, SP_REFUND_REQUEST_OPERATIONS_MAX),
                             limit_text(batch_max, SP_REFUNDS_BATCH_REQUESTS_MAX)};
    PGresult *res = NULL;
    if (query(s, run_partners_sql, 5, params, &res, err) != 0) return -1;
    int partners_left = PQntuples(res);
    PQclear(res);
    int64_t opening = 0;
    if (period_requests(s, period, &opening, requests, err) != 0) return -1;
    return partners_left == 0 && opening == 0 ? 1 : 0;
}

/* One look at everything; run_now: the period to run instead of the due one. */
static void tick(refunds_service *s, const sp_refund_period *run_now) {
    int64_t now_ms = sp_clock_now_ms(s->clock);
    sp_error err;
    sp_error_clear(&err);
    s->sent_this_tick = 0;
    int rc = reserve_asked_parts(s, now_ms, &err);
    if (rc == 0) rc = decide_opening_requests(s, now_ms, &err);
    if (rc == 0) rc = release_or_settle(s, SP_REFUNDS_STEP_RELEASE, now_ms, &err);
    if (rc == 0) rc = release_or_settle(s, SP_REFUNDS_STEP_SETTLE, now_ms, &err);
    bool run = run_now != NULL || s->config->monthly_run;
    if (rc == 0 && run && sp_clock_monotonic_ms() >= s->next_run_check_ms) {
        s->next_run_check_ms = sp_clock_monotonic_ms() + RUN_CHECK_INTERVAL_MS;
        rc = monthly_run(s, run_now != NULL ? *run_now : sp_clock_refund_period_due(now_ms), now_ms,
                         &err);
    }
    if (rc != 0)
        sp_log_warn(s->log, "tick failed, tried again at the next one", "code", err.code, "detail",
                    err.message, NULL);
    /* What was sent is on the broker before the next look at the read models. */
    if (s->sent_this_tick > 0 && sp_kafka_producer_flush(s->producer, FLUSH_TIMEOUT_MS, &err) != 0)
        sp_log_warn(s->log, "commands not flushed, sent again later", "detail", err.message, NULL);
    sp_kafka_producer_poll(s->producer);
}

static int buffers_new(refunds_service *s, sp_error *err) {
    s->sent = malloc(sizeof *s->sent);
    s->ids_text = malloc(PART_IDS_TEXT_MAX + 1);
    s->ids = calloc(PART_OPERATIONS_MAX, sizeof *s->ids);
    s->auto_ops = calloc(SP_REFUND_REQUEST_OPERATIONS_MAX, sizeof *s->auto_ops);
    s->grouping = malloc(sizeof *s->grouping);
    s->parts = calloc(SP_REFUNDS_PARTS_MAX, sizeof *s->parts);
    s->part_ptrs = calloc(SP_REFUNDS_PARTS_MAX, sizeof *s->part_ptrs);
    s->auto_ids = calloc(SP_REFUND_REQUEST_OPERATIONS_MAX, sizeof *s->auto_ids);
    s->batch = calloc(SP_REFUNDS_BATCH_REQUESTS_MAX, sizeof *s->batch);
    if (!s->sent || !s->ids_text || !s->ids || !s->auto_ops || !s->grouping || !s->parts ||
        !s->part_ptrs || !s->auto_ids || !s->batch)
        return sp_error_set(err, 500, "out_of_memory", "", "cannot allocate the buffers");
    sp_refunds_sent_init(s->sent);
    return 0;
}

static void buffers_free(refunds_service *s) {
    free(s->sent);
    free(s->ids_text);
    free(s->ids);
    free(s->auto_ops);
    free(s->grouping);
    free(s->parts);
    free(s->part_ptrs);
    free(s->auto_ids);
    free(s->batch);
}

static int open_edges(refunds_service *s, sp_error *err) {
    if (buffers_new(s, err) != 0) return -1;
    s->conn = sp_pg_connect(s->config->pg_dsn, PG_CONNECT_WAIT_MS, s->log, err);
    if (s->conn == NULL) return -1;
    s->producer = sp_kafka_producer_new(s->config->brokers, "solipass-refunds", s->log, err);
    return s->producer == NULL ? -1 : 0;
}

static void close_edges(refunds_service *s) {
    if (s->producer != NULL) sp_kafka_producer_free(s->producer);
    if (s->conn != NULL) PQfinish(s->conn);
    buffers_free(s);
}

static void wait_poll(const sp_refunds_config *config, int64_t started_ms,
                      volatile sig_atomic_t *stop) {
    while (!*stop && sp_clock_monotonic_ms() - started_ms < config->poll_ms)
        sp_clock_sleep_ms(SLEEP_SLICE_MS < config->poll_ms ? SLEEP_SLICE_MS : config->poll_ms);
}

int sp_refunds_service_run(const sp_refunds_config *config, sp_log *log, sp_clock *clock,
                           volatile sig_atomic_t *stop, sp_error *err) {
    assert(config != NULL && log != NULL && clock != NULL && stop != NULL);
    refunds_service s = {.config = config, .log = log, .clock = clock};
    int rc = -1;
    if (open_edges(&s, err) != 0) goto done;
    sp_log_info(log, "ready", "monthly_run", config->monthly_run ? "true" : "false", NULL);
    while (!*stop) {
        int64_t started_ms = sp_clock_monotonic_ms();
        tick(&s, NULL);
        wait_poll(config, started_ms, stop);
    }
    rc = 0;
done:
    close_edges(&s);
    return rc;
}

int sp_refunds_run_now(const sp_refunds_config *config, sp_log *log, sp_clock *clock,
                       volatile sig_atomic_t *stop, sp_error *err) {
    assert(config != NULL && config->run_now != NULL && log != NULL && clock != NULL);
    sp_refund_period period = *config->run_now;
    char period_text[SP_REFUND_PERIOD_TEXT_LEN + 1];
    sp_clock_refund_period_format(period, period_text);
    if (sp_clock_now_ms(clock) < sp_clock_refund_run_ms(period))
        return sp_error_set(err, 400, "period_not_due", "--monthly-run-now",
                            "the run of %s is not due yet: its instant is still to come",
                            period_text);
    refunds_service s = {.config = config, .log = log, .clock = clock};
    int rc = -1;
    int64_t before = 0, after = 0, opening = 0;
    if (open_edges(&s, err) != 0) goto done;
    if (period_requests(&s, period, &opening, &before, err) != 0) goto done;
    sp_log_info(log, "monthly run now", "period", period_text, NULL);
    int64_t deadline_ms = sp_clock_monotonic_ms() + SP_REFUNDS_RUN_NOW_TIMEOUT_MS;
    int over = 0;
    bool sent_last_tick = true; /* the first tick makes the run */
    while (!*stop) {
        if (sp_clock_monotonic_ms() > deadline_ms) {
            sp_error_set(err, 503, "timeout", "--monthly-run-now",
                         "the run of %s did not end within %d ms: run it again", period_text,
                         SP_REFUNDS_RUN_NOW_TIMEOUT_MS);
            goto done;
        }
        /* Over only when the run, due again, would find nothing, and the last
         * tick sent nothing that the read models may not show yet. */
        if (!sent_last_tick && sp_clock_monotonic_ms() >= s.next_run_check_ms)
            over = run_over(&s, period, &after, err);
        if (over != 0) break;
        int64_t started_ms = sp_clock_monotonic_ms();
        tick(&s, &period);
        sent_last_tick = s.sent_this_tick > 0;
        wait_poll(config, started_ms, stop);
    }
    if (over < 0) goto done;
    if (over != 1) {
        sp_error_set(err, 503, "stopped", "", "stopped before the run of %s ended", period_text);
        goto done;
    }
    printf("monthly run %s: %" PRId64 " automatic requests (%" PRId64 " opened now)\n", period_text,
           after, after - before);
    fflush(stdout);
    rc = 0;
done:
    close_edges(&s);
    return rc;
}
