/* projection_rows_refunds.c - the rows of refund requests: the request's
 * own events (opened, confirmed, cancelled, paid; on the request's version)
 * and what each pass does for it (reserves, releases or settles its
 * operations, or refuses; on the pass's version), both writing the same part
 * row so that any interleaving of the two partitions gives the same result.
 * Pure: no I/O. */
#include "projection_rows_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "ledger.pb-c.h"
#include "sp_clock.h"

/* ------------------------------------------------------------ SQL */

/* clang-format off */
/* The request's own events take refund_requests.version. A part row is
 * upserted by both sides (migration 0010): the request writes what was
 * asked (operation_ids), the pass what it did (status, amounts), so that
 * any interleaving of the two partitions gives the same row. */
const char refund_request_opened_sql[] =
    "WITH r AS (INSERT INTO refund_requests (request_id, partner_id, kind, period, status, "
    "expected_total_cents, part_count, bank_account_missing, requested_by, created_at, version) "
    "VALUES ($1::uuid, $2::uuid, $3::text, $4::text, 'opening', $5::bigint, $6::integer, "
    "$7::boolean, $8::uuid, $9::timestamptz, 1) ON CONFLICT DO NOTHING RETURNING request_id), "
    "pt AS (INSERT INTO refund_request_parts (request_id, pass_id, operation_ids, status, "
    "updated_at, request_status) SELECT r.request_id, x.pass_id, "
    "ARRAY(SELECT jsonb_array_elements_text(x.operation_ids)::uuid), 'asked', $9::timestamptz, "
    "'opening' FROM r, jsonb_to_recordset($10::jsonb) AS x(pass_id uuid, operation_ids jsonb) "
    "ON CONFLICT (request_id, pass_id) DO UPDATE SET operation_ids = EXCLUDED.operation_ids, "
    "request_status = EXCLUDED.request_status) "
    "SELECT count(*) FROM r";

/* The new status is copied onto the request's parts (what the refunds
 * service looks for). */
#define REFUND_REQUEST_NEXT_VERSION(status)                                               \
    "WHERE request_id = $1::uuid AND version = $2::bigint - 1 RETURNING 1), "            \
    "pt AS (UPDATE refund_request_parts SET request_status = '" status "' "               \
    "WHERE request_id = $1::uuid AND EXISTS (SELECT 1 FROM r)) SELECT count(*) FROM r"

const char refund_request_confirmed_sql[] =
    "WITH r AS (UPDATE refund_requests SET version = $2::bigint, status = 'pending', "
    "confirmed_at = $3::timestamptz, total_cents = $4::bigint, operation_count = $5::bigint "
    REFUND_REQUEST_NEXT_VERSION("pending");

const char refund_request_cancelled_sql[] =
    "WITH r AS (UPDATE refund_requests SET version = $2::bigint, status = 'cancelled', "
    "cancelled_at = $3::timestamptz, cancel_reason = $4::text, cancel_code = $5::text, "
    "cancel_message = $6::text, cancel_operation_id = $7::uuid "
    REFUND_REQUEST_NEXT_VERSION("cancelled");

const char refund_request_paid_sql[] =
    "WITH r AS (UPDATE refund_requests SET version = $2::bigint, status = 'paid', "
    "paid_at = $3::timestamptz, transfer_reference = $4::text, paid_on = $5::date "
    REFUND_REQUEST_NEXT_VERSION("paid");

/* Per pass, version-checked like every pass event:
 *   $1 pass_id $2 aggregate_version $3 occurred_at $4 request_id $5 partner_id
 *   $6 operation_ids (uuid[]) $7 amount_cents $8 ledger accounts $9 net deltas */
#define PART_PASS_CTE                                                                    \
    "WITH p AS (UPDATE passes SET version = $2::bigint, updated_at = $3::timestamptz "   \
    "WHERE pass_id = $1::uuid AND version = $2::bigint - 1 RETURNING pass_id), "
/* A part row the request has not written yet takes the request's status if
 * the request is known (else NULL: its RefundRequestOpened sets it). */
#define PART_REQUEST_STATUS \
    "(SELECT rr.status FROM refund_requests rr WHERE rr.request_id = $4::uuid)"
#define PART_UPSERT_CTE(status)                                                          \
    "pt AS (INSERT INTO refund_request_parts (request_id, pass_id, operation_ids, status, " \
    "amount_cents, operation_count, updated_at, request_status) SELECT $4::uuid, p.pass_id, " \
    "$6::uuid[], '" status "', $7::bigint, cardinality($6::uuid[]), $3::timestamptz, "    \
    PART_REQUEST_STATUS " FROM p "                                                        \
    "ON CONFLICT (request_id, pass_id) DO UPDATE SET status = '" status "', "            \
    "updated_at = EXCLUDED.updated_at" 
#define PART_LEDGER_CTE                                                                  \
    "l AS (INSERT INTO ledger_balances (account, balance_cents) SELECT u.account, u.delta " \
    "FROM unnest($8::text[], $9::bigint[]) AS u(account, delta) "                        \
    "WHERE EXISTS (SELECT 1 FROM p) ON CONFLICT (account) DO UPDATE "                    \
    "SET balance_cents = ledger_balances.balance_cents + EXCLUDED.balance_cents) "

const char operations_reserved_sql[] =
    PART_PASS_CTE
    "o AS (UPDATE operations SET status = 'requested', refund_request_id = $4::uuid "
    "WHERE operation_id = ANY ($6::uuid[]) AND pass_id = $1::uuid AND status = 'accepted' "
    "AND partner_id = $5::uuid AND EXISTS (SELECT 1 FROM p)), "
    PART_UPSERT_CTE("reserved") ", amount_cents = EXCLUDED.amount_cents, "
    "operation_count = EXCLUDED.operation_count), "
    PART_LEDGER_CTE
    "SELECT count(*) FROM p";

const char operations_released_sql[] =
    PART_PASS_CTE
    "o AS (UPDATE operations SET status = 'accepted', refund_request_id = NULL "
    "WHERE operation_id = ANY ($6::uuid[]) AND pass_id = $1::uuid AND status = 'requested' "
    "AND refund_request_id = $4::uuid AND partner_id IS NOT DISTINCT FROM $5::uuid "
    "AND EXISTS (SELECT 1 FROM p)), "
    PART_UPSERT_CTE("released") "), "
    PART_LEDGER_CTE
    "SELECT count(*) FROM p";

/* Only a settlement lowers what the partner is owed. */
const char operations_settled_sql[] =
    PART_PASS_CTE
    "o AS (UPDATE operations SET status = 'paid', paid_at = $3::timestamptz "
    "WHERE operation_id = ANY ($6::uuid[]) AND pass_id = $1::uuid AND status = 'requested' "
    "AND refund_request_id = $4::uuid AND EXISTS (SELECT 1 FROM p)), "
    PART_UPSERT_CTE("settled") "), "
    "w AS (UPDATE partners SET owed_cents = owed_cents - $7::bigint "
    "WHERE partner_id = $5::uuid AND EXISTS (SELECT 1 FROM p)), "
    PART_LEDGER_CTE
    "SELECT count(*) FROM p";

/* A refused ReserveOperations: $1 pass_id $2 aggregate_version $3 occurred_at
 * $4 request_id $5 code $6 message $7 operation_id|NULL */
const char reserve_rejected_sql[] =
    PART_PASS_CTE
    "pt AS (INSERT INTO refund_request_parts (request_id, pass_id, operation_ids, status, "
    "refusal_code, refusal_message, refusal_operation_id, updated_at, request_status) "
    "SELECT $4::uuid, p.pass_id, '{}', 'refused', $5::text, $6::text, $7::uuid, "
    "$3::timestamptz, " PART_REQUEST_STATUS " FROM p "
    "ON CONFLICT (request_id, pass_id) DO UPDATE SET status = 'refused', "
    "refusal_code = EXCLUDED.refusal_code, refusal_message = EXCLUDED.refusal_message, "
    "refusal_operation_id = EXCLUDED.refusal_operation_id, updated_at = EXCLUDED.updated_at) "
    "SELECT count(*) FROM p";
/* clang-format on */

/* ------------------------------------------------------------ refund requests */

#define REFUND_PARTS_MAX 10000          /* SP_LEDGER_REFUND_PARTS_MAX */
#define REFUND_PART_OPERATIONS_MAX 1024 /* SP_LEDGER_REFUND_PART_OPERATIONS_MAX */
#define TRANSFER_REFERENCE_CHARS_MAX 35

/* What every event of a request's own aggregate must satisfy. */
static int need_request_event(const build_ctx *c, const char *request_id, sp_error *err) {
    if (need_uuid("request_id", request_id, err) != 0 ||
        need_same_id("request_id", request_id, c->env->aggregate_id, err) != 0)
        return -1;
    if (c->env->aggregate_version < 1 || c->env->aggregate_version > (uint64_t)INT64_MAX)
        return sp_error_set(err, 422, "invalid_event", "aggregate_version",
                            "aggregate_version %" PRIu64 " of a refund request is out of range",
                            c->env->aggregate_version);
    return 0;
}

static int need_uuid_list(const char *field, char *const *ids, size_t count, size_t min,
                          sp_error *err) {
    if (count < min || count > REFUND_PART_OPERATIONS_MAX)
        return sp_error_set(err, 422, "invalid_event", field, "%s: %zu ids, not %zu..%d", field,
                            count, min, REFUND_PART_OPERATIONS_MAX);
    for (size_t i = 0; i < count; i++)
        if (need_uuid(field, ids[i], err) != 0) return -1;
    return 0;
}

static int need_period(const char *kind, const char *period, sp_error *err) {
    bool automatic = strcmp(kind, "automatic") == 0;
    if (!automatic && strcmp(kind, "manual") != 0)
        return invalid(err, "kind", "%s is \"%.16s\", not manual or automatic", kind);
    if (!automatic) {
        if (period[0] == '\0') return 0;
        return invalid(err, "period", "%s of a manual request must be empty: \"%.16s\"", period);
    }
    char day[11];
    sp_date date;
    sp_error ignored;
    int n = snprintf(day, sizeof day, "%.7s-01", period);
    if (strlen(period) == 7 && n == 10 && sp_date_parse(day, &date, &ignored) == 0) return 0;
    return invalid(err, "period", "%s is not YYYY-MM: \"%.16s\"", period);
}

static int need_parts(Solipass__Ledger__RefundPart *const *parts, size_t count, sp_error *err) {
    if (count < 1 || count > REFUND_PARTS_MAX)
        return sp_error_set(err, 422, "invalid_event", "parts", "parts: %zu, not 1..%d", count,
                            REFUND_PARTS_MAX);
    for (size_t i = 0; i < count; i++) {
        if (need_uuid("parts.pass_id", parts[i]->pass_id, err) != 0 ||
            need_uuid_list("parts.operation_ids", parts[i]->operation_ids,
                           parts[i]->n_operation_ids, 1, err) != 0)
            return -1;
    }
    return 0;
}

/* [{"pass_id": ..., "operation_ids": [...]}, ...]: ids are checked UUIDs. */
static void put_parts_json(row_writer *w, Solipass__Ledger__RefundPart *const *parts,
                           size_t count) {
    writer_begin(w);
    writer_append(w, "[");
    for (size_t i = 0; i < count; i++) {
        writer_append(w, "%s{\"pass_id\":\"%s\",\"operation_ids\":[", i ? "," : "",
                      parts[i]->pass_id);
        for (size_t j = 0; j < parts[i]->n_operation_ids; j++)
            writer_append(w, "%s\"%s\"", j ? "," : "", parts[i]->operation_ids[j]);
        writer_append(w, "]}");
    }
    writer_append(w, "]");
    writer_end(w);
}

int build_refund_request_opened(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Ledger__RefundRequestOpened *m = UNPACK(
        solipass__ledger__refund_request_opened__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    if (need_request_event(c, m->request_id, err) != 0 ||
        need_uuid("partner_id", m->partner_id, err) != 0 ||
        need_period(m->kind, m->period, err) != 0 || need_parts(m->parts, m->n_parts, err) != 0 ||
        need_cents("expected_total_cents", m->expected_total_cents, 0, err) != 0 ||
        need_uuid_or_empty("actor_id", c->env->actor_id, err) != 0)
        goto done;
    if (c->env->aggregate_version != 1) {
        sp_error_set(err, 422, "invalid_event", "aggregate_version",
                     "a RefundRequestOpened has aggregate_version %" PRIu64 ", not 1",
                     c->env->aggregate_version);
        goto done;
    }
    put_text(w, m->request_id);
    put_text(w, m->partner_id);
    put_text(w, m->kind);
    put_text(w, m->period);
    put_int(w, m->expected_total_cents);
    put_int(w, (int64_t)m->n_parts);
    put_text(w, m->bank_account_missing ? "true" : "false");
    put_id_or_null(w, c->env->actor_id);
    put_time(w, c->env->occurred_at_ms);
    put_parts_json(w, m->parts, m->n_parts);
    rc = 0;
done:
    solipass__ledger__refund_request_opened__free_unpacked(m, NULL);
    return rc;
}

/* $1 request_id $2 aggregate_version $3 occurred_at: what every later
 * event of the request starts with. */
static void put_request_head(const build_ctx *c, const char *request_id, row_writer *w) {
    put_text(w, request_id);
    put_int(w, (int64_t)c->env->aggregate_version);
    put_time(w, c->env->occurred_at_ms);
}

int build_refund_request_confirmed(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Ledger__RefundRequestConfirmed *m = UNPACK(
        solipass__ledger__refund_request_confirmed__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    if (need_request_event(c, m->request_id, err) != 0 ||
        need_uuid("partner_id", m->partner_id, err) != 0 ||
        need_cents("total_cents", m->total_cents, 0, err) != 0 ||
        need_cents("operation_count", m->operation_count, 0, err) != 0)
        goto done;
    put_request_head(c, m->request_id, w);
    put_int(w, m->total_cents);
    put_int(w, m->operation_count);
    rc = 0;
done:
    solipass__ledger__refund_request_confirmed__free_unpacked(m, NULL);
    return rc;
}

int build_refund_request_cancelled(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Ledger__RefundRequestCancelled *m = UNPACK(
        solipass__ledger__refund_request_cancelled__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    if (need_request_event(c, m->request_id, err) != 0 ||
        need_uuid("partner_id", m->partner_id, err) != 0 ||
        need_text("code", m->code, true, SP_PROJECTION_TEXT_BYTES_MAX, err) != 0 ||
        need_text("message", m->message, true, SP_PROJECTION_TEXT_BYTES_MAX, err) != 0 ||
        need_uuid_or_empty("operation_id", m->operation_id, err) != 0)
        goto done;
    if (strcmp(m->reason, "partner") != 0 && strcmp(m->reason, "aborted") != 0) {
        invalid(err, "reason", "%s is \"%.16s\", not partner or aborted", m->reason);
        goto done;
    }
    put_request_head(c, m->request_id, w);
    put_text(w, m->reason);
    put_text(w, m->code);
    put_text(w, m->message);
    put_id_or_null(w, m->operation_id);
    rc = 0;
done:
    solipass__ledger__refund_request_cancelled__free_unpacked(m, NULL);
    return rc;
}

int build_refund_request_paid(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Ledger__RefundRequestPaid *m = UNPACK(solipass__ledger__refund_request_paid__unpack,
                                                    c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    if (need_request_event(c, m->request_id, err) != 0 ||
        need_uuid("partner_id", m->partner_id, err) != 0 ||
        need_text("transfer_reference", m->transfer_reference, false, TRANSFER_REFERENCE_CHARS_MAX,
                  err) != 0 ||
        need_date("paid_on", m->paid_on, err) != 0)
        goto done;
    put_request_head(c, m->request_id, w);
    put_text(w, m->transfer_reference);
    put_text(w, m->paid_on);
    rc = 0;
done:
    solipass__ledger__refund_request_paid__free_unpacked(m, NULL);
    return rc;
}

typedef enum { PART_RESERVED, PART_RELEASED, PART_SETTLED } part_change;

static void put_uuid_array(row_writer *w, char *const *ids, size_t count) {
    writer_begin(w);
    writer_append(w, "{");
    for (size_t i = 0; i < count; i++) writer_append(w, "%s%s", i ? "," : "", ids[i]);
    writer_append(w, "}");
    writer_end(w);
}

/* The one posting a part change may carry, from the event's own amount. */
static void part_expected(part_change change, const Solipass__Ledger__RefundPartChanged *m,
                          ledger_deltas *expected) {
    char owed[ACCOUNT_BYTES_MAX], refund[ACCOUNT_BYTES_MAX];
    expected->count = 0;
    if (m->amount_cents == 0) return;
    snprintf(owed, sizeof owed, "partner:%s:owed", m->partner_id);
    snprintf(refund, sizeof refund, "refund:%s", m->request_id);
    if (change == PART_RESERVED) expect_move(expected, owed, refund, m->amount_cents);
    else if (change == PART_RELEASED) expect_move(expected, refund, owed, m->amount_cents);
    else expect_move(expected, refund, "bank", m->amount_cents);
}

static int build_part_changed(const build_ctx *c, row_writer *w, part_change change,
                              sp_error *err) {
    Solipass__Ledger__RefundPartChanged *m = UNPACK(solipass__ledger__refund_part_changed__unpack,
                                                    c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    ledger_deltas expected, net;
    /* Nothing to release or settle on this pass: no operation names a partner. */
    if (need_ledger_event(c, m->pass_id, err) != 0 ||
        need_uuid("request_id", m->request_id, err) != 0 ||
        (m->n_operation_ids > 0 ? need_uuid("partner_id", m->partner_id, err)
                                : need_uuid_or_empty("partner_id", m->partner_id, err)) != 0 ||
        need_uuid_list("operation_ids", m->operation_ids, m->n_operation_ids, 0, err) != 0 ||
        need_uuid_list("skipped_operation_ids", m->skipped_operation_ids,
                       m->n_skipped_operation_ids, 0, err) != 0 ||
        need_cents("amount_cents", m->amount_cents, 0, err) != 0)
        goto done;
    if ((m->amount_cents == 0) != (m->n_operation_ids == 0)) {
        invalid(err, "amount_cents", "%s must be 0 exactly when no operation changed%s", "");
        goto done;
    }
    part_expected(change, m, &expected);
    if (postings_net(m->postings, m->n_postings, &net, err) != 0 ||
        postings_match(&net, &expected, err) != 0)
        goto done;
    put_text(w, m->pass_id);
    put_int(w, (int64_t)c->env->aggregate_version);
    put_time(w, c->env->occurred_at_ms);
    put_text(w, m->request_id);
    put_id_or_null(w, m->partner_id);
    put_uuid_array(w, m->operation_ids, m->n_operation_ids);
    put_int(w, m->amount_cents);
    put_accounts(w, &expected);
    put_deltas(w, &expected);
    rc = 0;
done:
    solipass__ledger__refund_part_changed__free_unpacked(m, NULL);
    return rc;
}

int build_operations_reserved(const build_ctx *c, row_writer *w, sp_error *err) {
    return build_part_changed(c, w, PART_RESERVED, err);
}

int build_operations_released(const build_ctx *c, row_writer *w, sp_error *err) {
    return build_part_changed(c, w, PART_RELEASED, err);
}

int build_operations_settled(const build_ctx *c, row_writer *w, sp_error *err) {
    return build_part_changed(c, w, PART_SETTLED, err);
}
