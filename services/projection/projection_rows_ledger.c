/* projection_rows_ledger.c - the rows of a pass's life on the ledger events
 * topic: opened, credited, a payment accepted, an envelope expired, a
 * command refused, the pass closed; and the ledger accounts every money
 * event's postings are checked against (shared with the vouchers and refund
 * builders through projection_rows_internal.h).
 *
 * Each statement applies its event only when the event's aggregate version
 * is the pass's stored version + 1 (CTE "p"); its postings must move exactly
 * what the event says, and their net per account is added to
 * ledger_balances in the same statement. Pure: no I/O. */
#include "projection_rows_internal.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "ledger.pb-c.h"
#include "sp_clock.h"
#include "sp_id.h"
#include "sp_money.h"
#include "sp_receipt.h"

/* ------------------------------------------------------------ SQL */

/* clang-format off */
const char pass_opened_sql[] =
    "WITH p AS (INSERT INTO passes (pass_id, beneficiary_id, balance_cents, version, opened_at, "
    "updated_at) VALUES ($1::uuid, $2::uuid, 0, 1, $3::timestamptz, $3::timestamptz) "
    "ON CONFLICT (pass_id) DO NOTHING RETURNING pass_id), "
    "e AS (INSERT INTO envelopes (pass_id, category, balance_cents, end_date, expired) "
    "SELECT p.pass_id, u.category, 0, u.end_date, false "
    "FROM p, unnest($4::text[], $5::date[]) AS u(category, end_date)) "
    "SELECT count(*) FROM p";

/* The parts every movement shares: the version-checked pass update, the
 * operation row, and the ledger balances (one multi-row upsert: the accounts
 * of one event are distinct, so no row is touched twice). */
#define MOVEMENT_PASS_CTE                                                                \
    "WITH p AS (UPDATE passes SET version = $2::bigint, balance_cents = $6::bigint, "    \
    "updated_at = $3::timestamptz WHERE pass_id = $1::uuid AND version = $2::bigint - 1 " \
    "RETURNING pass_id), "
#define MOVEMENT_OPERATION_CTE(kind, condition)                                          \
    "o AS (INSERT INTO operations (operation_id, kind, pass_id, partner_id, category, "   \
    "amount_cents, pass_balance_after_cents, command_id, occurred_at, event_topic, "     \
    "event_partition, event_offset, channel, receipt) SELECT $7::uuid, '" kind "', "     \
    "p.pass_id, $15::uuid, $4::text, $8::bigint, $6::bigint, $9::text, $3::timestamptz, " \
    "$10::text, $11::integer, $12::bigint, (CASE '" kind "' WHEN 'payment' THEN 'code' END), " \
    "$16::text "                                                                         \
    "FROM p WHERE " condition " ON CONFLICT DO NOTHING), "
#define MOVEMENT_LEDGER_CTE                                                              \
    "l AS (INSERT INTO ledger_balances (account, balance_cents) SELECT u.account, u.delta " \
    "FROM unnest($13::text[], $14::bigint[]) AS u(account, delta) "                      \
    "WHERE EXISTS (SELECT 1 FROM p) ON CONFLICT (account) DO UPDATE "                    \
    "SET balance_cents = ledger_balances.balance_cents + EXCLUDED.balance_cents) "

/* A credit may open its envelope and sets or extends its end date (never
 * shortens it: the ledger refuses that); a credited envelope is usable,
 * also one that had expired and is given a later end date. */
const char pass_credited_sql[] =
    MOVEMENT_PASS_CTE
    "e AS (INSERT INTO envelopes (pass_id, category, balance_cents, end_date, expired) "
    "SELECT p.pass_id, $4::text, $5::bigint, $17::date, false FROM p "
    "ON CONFLICT (pass_id, category) DO UPDATE SET balance_cents = EXCLUDED.balance_cents, "
    "end_date = COALESCE(EXCLUDED.end_date, envelopes.end_date), expired = false), "
    MOVEMENT_OPERATION_CTE("credit", "true")
    MOVEMENT_LEDGER_CTE
    "SELECT count(*) FROM p";

const char payment_accepted_sql[] =
    MOVEMENT_PASS_CTE
    "e AS (UPDATE envelopes SET balance_cents = $5::bigint WHERE pass_id = $1::uuid "
    "AND category = $4::text AND EXISTS (SELECT 1 FROM p)), "
    MOVEMENT_OPERATION_CTE("payment", "true")
    "w AS (UPDATE partners SET owed_cents = owed_cents + $8::bigint "
    "WHERE partner_id = $15::uuid AND EXISTS (SELECT 1 FROM p)), "
    MOVEMENT_LEDGER_CTE
    "SELECT count(*) FROM p";

const char envelope_expired_sql[] =
    MOVEMENT_PASS_CTE
    "e AS (UPDATE envelopes SET balance_cents = $5::bigint, expired = true "
    "WHERE pass_id = $1::uuid AND category = $4::text AND EXISTS (SELECT 1 FROM p)), "
    MOVEMENT_OPERATION_CTE("expiry", "$8::bigint > 0")
    MOVEMENT_LEDGER_CTE
    "SELECT count(*) FROM p";

/* The aggregate of a refusal is a pass, or a refund request for its own
 * commands: whichever it is takes the version. */
const char ledger_rejected_sql[] =
    "WITH p AS (UPDATE passes SET version = $2::bigint, updated_at = $3::timestamptz "
    "WHERE pass_id = $1::uuid AND version = $2::bigint - 1 RETURNING 1), "
    "r AS (UPDATE refund_requests SET version = $2::bigint "
    "WHERE request_id = $1::uuid AND version = $2::bigint - 1 RETURNING 1) "
    "SELECT (SELECT count(*) FROM p) + (SELECT count(*) FROM r)";

/* a closed pass. Its envelopes are empty (their remainders went
 * to the budget), its active vouchers cancelled, its balances moved by the
 * postings; no operation row (the operations model has no kind for it: the
 * pass's closed_at tells). $1 pass_id $2 aggregate_version $3 occurred_at
 * $4 ledger accounts $5 net deltas $6 cancelled voucher ids (uuid[]) */
const char pass_closed_sql[] =
    "WITH p AS (UPDATE passes SET version = $2::bigint, balance_cents = 0, "
    "closed_at = $3::timestamptz, updated_at = $3::timestamptz "
    "WHERE pass_id = $1::uuid AND version = $2::bigint - 1 "
    "RETURNING pass_id), "
    "e AS (UPDATE envelopes SET balance_cents = 0 WHERE pass_id = $1::uuid "
    "AND EXISTS (SELECT 1 FROM p)), "
    "v AS (UPDATE vouchers SET status = 'cancelled', closed_at = $3::timestamptz "
    "WHERE voucher_id = ANY ($6::uuid[]) AND pass_id = $1::uuid AND status = 'active' "
    "AND EXISTS (SELECT 1 FROM p)), "
    "l AS (INSERT INTO ledger_balances (account, balance_cents) SELECT u.account, u.delta "
    "FROM unnest($4::text[], $5::bigint[]) AS u(account, delta) "
    "WHERE EXISTS (SELECT 1 FROM p) ON CONFLICT (account) DO UPDATE "
    "SET balance_cents = ledger_balances.balance_cents + EXCLUDED.balance_cents) "
    "SELECT count(*) FROM p";
/* clang-format on */

/* ------------------------------------------------------------ ledger accounts */

/* "budget" | "bank" | "pass:<uuid>:<category>" | "partner:<uuid>:owed" |
 * "voucher:<uuid>" | "refund:<uuid>" */
static bool account_valid(const char *account) {
    char id[SP_ID_LEN + 1];
    if (strcmp(account, "budget") == 0 || strcmp(account, "bank") == 0) return true;
    if (strncmp(account, "voucher:", 8) == 0) return sp_id_valid(account + 8);
    if (strncmp(account, "refund:", 7) == 0) return sp_id_valid(account + 7);
    if (strncmp(account, "pass:", 5) == 0 && strlen(account) > 5 + SP_ID_LEN + 1) {
        memcpy(id, account + 5, SP_ID_LEN);
        id[SP_ID_LEN] = '\0';
        return sp_id_valid(id) && account[5 + SP_ID_LEN] == ':' &&
               sp_projection_category_valid(account + 5 + SP_ID_LEN + 1);
    }
    if (strncmp(account, "partner:", 8) == 0 && strlen(account) == 8 + SP_ID_LEN + 5) {
        memcpy(id, account + 8, SP_ID_LEN);
        id[SP_ID_LEN] = '\0';
        return sp_id_valid(id) && strcmp(account + 8 + SP_ID_LEN, ":owed") == 0;
    }
    return false;
}

static int deltas_add(ledger_deltas *deltas, const char *account, int64_t delta_cents,
                      sp_error *err) {
    assert(strlen(account) < ACCOUNT_BYTES_MAX);
    for (size_t i = 0; i < deltas->count; i++) {
        ledger_delta *d = &deltas->items[i];
        if (strcmp(d->account, account) != 0) continue;
        if (!sp_money_add(d->delta_cents, delta_cents, &d->delta_cents))
            return invalid(err, "postings", "%s overflow on account %.80s", account);
        return 0;
    }
    assert(deltas->count < DELTAS_MAX);
    ledger_delta *d = &deltas->items[deltas->count++];
    snprintf(d->account, sizeof d->account, "%s", account);
    d->delta_cents = delta_cents;
    return 0;
}

/* The net effect of the postings on each account they name. */
int postings_net(Solipass__Ledger__Posting *const *postings, size_t count, ledger_deltas *net,
                 sp_error *err) {
    net->count = 0;
    if (count > SP_PROJECTION_POSTINGS_MAX)
        return sp_error_set(err, 422, "invalid_event", "postings", "postings: %zu, more than %d",
                            count, SP_PROJECTION_POSTINGS_MAX);
    for (size_t i = 0; i < count; i++) {
        const Solipass__Ledger__Posting *p = postings[i];
        if (!account_valid(p->debit_account))
            return invalid(err, "postings", "%s: unknown debit account \"%.80s\"",
                           p->debit_account);
        if (!account_valid(p->credit_account))
            return invalid(err, "postings", "%s: unknown credit account \"%.80s\"",
                           p->credit_account);
        if (strcmp(p->debit_account, p->credit_account) == 0)
            return invalid(err, "postings", "%s: debit and credit are both \"%.80s\"",
                           p->debit_account);
        if (need_cents("postings.amount_cents", p->amount_cents, 1, err) != 0) return -1;
        if (deltas_add(net, p->debit_account, -p->amount_cents, err) != 0) return -1;
        if (deltas_add(net, p->credit_account, p->amount_cents, err) != 0) return -1;
    }
    return 0;
}

/* The postings must move exactly what the event says, nothing else. */
int postings_match(const ledger_deltas *net, const ledger_deltas *expected, sp_error *err) {
    size_t nonzero = 0;
    for (size_t i = 0; i < net->count; i++) {
        const ledger_delta *d = &net->items[i];
        if (d->delta_cents == 0) continue;
        nonzero++;
        bool found = false;
        for (size_t j = 0; j < expected->count && !found; j++)
            found = strcmp(expected->items[j].account, d->account) == 0 &&
                    expected->items[j].delta_cents == d->delta_cents;
        if (!found)
            return invalid(err, "postings", "%s do not match the event's amount on \"%.80s\"",
                           d->account);
    }
    if (nonzero != expected->count)
        return invalid(err, "postings", "%s miss a movement the event describes%s", "");
    return 0;
}

void put_accounts(row_writer *w, const ledger_deltas *deltas) {
    writer_begin(w);
    writer_add(w, "{", 1);
    for (size_t i = 0; i < deltas->count; i++) {
        if (i > 0) writer_add(w, ",", 1);
        writer_add(w, "\"", 1);
        writer_add(w, deltas->items[i].account, strlen(deltas->items[i].account));
        writer_add(w, "\"", 1);
    }
    writer_add(w, "}", 1);
    writer_end(w);
}

void put_deltas(row_writer *w, const ledger_deltas *deltas) {
    writer_begin(w);
    writer_add(w, "{", 1);
    for (size_t i = 0; i < deltas->count; i++) {
        if (i > 0) writer_add(w, ",", 1);
        writer_add_int(w, deltas->items[i].delta_cents);
    }
    writer_add(w, "}", 1);
    writer_end(w);
}

void expect_move(ledger_deltas *deltas, const char *from, const char *to, int64_t cents) {
    assert(deltas->count + 2 <= DELTAS_MAX);
    snprintf(deltas->items[deltas->count].account, ACCOUNT_BYTES_MAX, "%s", from);
    deltas->items[deltas->count++].delta_cents = -cents;
    snprintf(deltas->items[deltas->count].account, ACCOUNT_BYTES_MAX, "%s", to);
    deltas->items[deltas->count++].delta_cents = cents;
}

/* ------------------------------------------------------------ pass events */

/* What every ledger event must satisfy: its pass is its aggregate. */
int need_ledger_event(const build_ctx *c, const char *pass_id, sp_error *err) {
    if (need_uuid("pass_id", pass_id, err) != 0 ||
        need_same_id("pass_id", pass_id, c->env->aggregate_id, err) != 0)
        return -1;
    if (c->env->aggregate_version < 1 || c->env->aggregate_version > (uint64_t)INT64_MAX)
        return sp_error_set(err, 422, "invalid_event", "aggregate_version",
                            "aggregate_version %" PRIu64 " of a ledger event is out of range",
                            c->env->aggregate_version);
    return 0;
}

static int need_envelope_specs(Solipass__Ledger__EnvelopeSpec *const *specs, size_t count,
                               sp_error *err) {
    if (count > SP_PROJECTION_ENVELOPES_MAX)
        return sp_error_set(err, 422, "invalid_event", "envelopes", "envelopes: %zu, more than %d",
                            count, SP_PROJECTION_ENVELOPES_MAX);
    for (size_t i = 0; i < count; i++) {
        sp_date date;
        sp_error date_err;
        if (need_category("envelopes.category", specs[i]->category, err) != 0) return -1;
        if (specs[i]->end_date[0] != '\0' &&
            sp_date_parse(specs[i]->end_date, &date, &date_err) != 0)
            return invalid(err, "envelopes.end_date", "%s is not a YYYY-MM-DD date: \"%.40s\"",
                           specs[i]->end_date);
        for (size_t j = 0; j < i; j++)
            if (strcmp(specs[i]->category, specs[j]->category) == 0)
                return invalid(err, "envelopes.category", "%s \"%.40s\" appears twice",
                               specs[i]->category);
    }
    return 0;
}

static void put_envelope_arrays(row_writer *w, Solipass__Ledger__EnvelopeSpec *const *specs,
                                size_t count) {
    writer_begin(w);
    writer_append(w, "{");
    for (size_t i = 0; i < count; i++)
        writer_append(w, "%s\"%s\"", i ? "," : "", specs[i]->category);
    writer_append(w, "}");
    writer_end(w);
    writer_begin(w);
    writer_append(w, "{");
    for (size_t i = 0; i < count; i++)
        writer_append(w, "%s%s", i ? "," : "", specs[i]->end_date[0] ? specs[i]->end_date : "NULL");
    writer_append(w, "}");
    writer_end(w);
}

int build_pass_opened(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Ledger__PassOpened *m = UNPACK(solipass__ledger__pass_opened__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    if (need_ledger_event(c, m->pass_id, err) != 0 ||
        need_uuid("beneficiary_id", m->beneficiary_id, err) != 0 ||
        need_envelope_specs(m->envelopes, m->n_envelopes, err) != 0)
        goto done;
    if (c->env->aggregate_version != 1) {
        sp_error_set(err, 422, "invalid_event", "aggregate_version",
                     "a PassOpened has aggregate_version %" PRIu64 ", not 1",
                     c->env->aggregate_version);
        goto done;
    }
    put_text(w, m->pass_id);
    put_text(w, m->beneficiary_id);
    put_time(w, c->env->occurred_at_ms);
    put_envelope_arrays(w, m->envelopes, m->n_envelopes);
    rc = 0;
done:
    solipass__ledger__pass_opened__free_unpacked(m, NULL);
    return rc;
}

/* A movement of money on one envelope, in the shared parameter layout. */
typedef struct movement {
    const char *pass_id;
    const char *category;
    const char *operation_id;
    const char *partner_id; /* NULL except for a payment */
    const char *receipt;    /* NULL except for a signed payment */
    int64_t amount_cents;   /* >= 1, or >= 0 for an expiry */
    int64_t envelope_balance_after_cents;
    int64_t pass_balance_after_cents;
    Solipass__Ledger__Posting *const *postings;
    size_t posting_count;
    ledger_deltas expected; /* what the postings must add up to */
} movement;

static void expect(movement *mv, const char *account, int64_t delta_cents) {
    assert(mv->expected.count < DELTAS_MAX);
    ledger_delta *d = &mv->expected.items[mv->expected.count++];
    int n = snprintf(d->account, sizeof d->account, "%s", account);
    assert(n > 0);
    assert((size_t)n < sizeof d->account);
    (void)n;
    d->delta_cents = delta_cents;
}

static void envelope_account(const movement *mv, char out[ACCOUNT_BYTES_MAX]) {
    int n = snprintf(out, ACCOUNT_BYTES_MAX, "pass:%s:%s", mv->pass_id, mv->category);
    assert(n > 0);
    assert(n < ACCOUNT_BYTES_MAX);
    (void)n;
}

static int put_movement(const build_ctx *c, const movement *mv, row_writer *w, sp_error *err) {
    ledger_deltas net;
    if (need_ledger_event(c, mv->pass_id, err) != 0 ||
        need_uuid("operation_id", mv->operation_id, err) != 0 ||
        need_category("category", mv->category, err) != 0 ||
        need_cents("envelope_balance_after_cents", mv->envelope_balance_after_cents, 0, err) != 0 ||
        need_cents("pass_balance_after_cents", mv->pass_balance_after_cents, 0, err) != 0 ||
        postings_net(mv->postings, mv->posting_count, &net, err) != 0 ||
        postings_match(&net, &mv->expected, err) != 0)
        return -1;
    put_text(w, mv->pass_id);
    put_int(w, (int64_t)c->env->aggregate_version);
    put_time(w, c->env->occurred_at_ms);
    put_text(w, mv->category);
    put_int(w, mv->envelope_balance_after_cents);
    put_int(w, mv->pass_balance_after_cents);
    put_text(w, mv->operation_id);
    put_int(w, mv->amount_cents);
    put_text(w, c->env->command_id);
    put_text(w, c->msg->topic);
    put_int(w, c->msg->partition);
    put_int(w, c->msg->offset);
    put_accounts(w, &mv->expected);
    put_deltas(w, &mv->expected);
    if (mv->partner_id != NULL) put_text(w, mv->partner_id);
    else put_null(w);
    if (mv->receipt != NULL) put_text(w, mv->receipt);
    else put_null(w);
    assert(w->row->param_count == SP_PROJECTION_MOVEMENT_PARAM_COUNT);
    return 0;
}

int build_pass_credited(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Ledger__PassCredited *m = UNPACK(solipass__ledger__pass_credited__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    movement mv = {.pass_id = m->pass_id,
                   .category = m->category,
                   .operation_id = m->operation_id,
                   .amount_cents = m->amount_cents,
                   .envelope_balance_after_cents = m->envelope_balance_after_cents,
                   .pass_balance_after_cents = m->pass_balance_after_cents,
                   .postings = m->postings,
                   .posting_count = m->n_postings};
    char account[ACCOUNT_BYTES_MAX];
    sp_date end_date;
    sp_error date_err;
    if (need_cents("amount_cents", m->amount_cents, 1, err) != 0 ||
        need_uuid("pass_id", m->pass_id, err) != 0 ||
        need_category("category", m->category, err) != 0)
        goto done;
    envelope_account(&mv, account);
    expect(&mv, "budget", -m->amount_cents);
    expect(&mv, account, m->amount_cents);
    if (m->end_date[0] != '\0' && sp_date_parse(m->end_date, &end_date, &date_err) != 0) {
        rc = invalid(err, "end_date", "%s is not a YYYY-MM-DD date: \"%.40s\"", m->end_date);
        goto done;
    }
    rc = put_movement(c, &mv, w, err);
    if (rc != 0) goto done;
    if (m->end_date[0] != '\0') put_text(w, m->end_date);
    else put_null(w);
    assert(w->row->param_count == SP_PROJECTION_CREDIT_PARAM_COUNT);
done:
    solipass__ledger__pass_credited__free_unpacked(m, NULL);
    return rc;
}

/* The receipt text of a signed payment (sp_receipt.h), as the ledger
 * answered it: from the event alone, so a rebuild gives the same text. */
static int payment_receipt(const build_ctx *c, const Solipass__Ledger__PaymentAccepted *m,
                           char out[SP_RECEIPT_TEXT_MAX + 1], sp_error *err) {
    if (m->receipt_signature.len != SP_RECEIPT_SIGNATURE_LEN) {
        return invalid(err, "receipt_signature", "%s is not %s bytes long", "64");
    }
    sp_receipt receipt = {.key_id = m->receipt_key_id,
                          .amount_cents = m->amount_cents,
                          .occurred_at_ms = c->env->occurred_at_ms};
    snprintf(receipt.operation_id, sizeof receipt.operation_id, "%s", m->operation_id);
    snprintf(receipt.partner_id, sizeof receipt.partner_id, "%s", m->partner_id);
    sp_receipt_pass_ref(m->pass_id, receipt.pass_ref);
    return sp_receipt_encode(&receipt, m->receipt_signature.data, out, err);
}

int build_payment_accepted(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Ledger__PaymentAccepted *m = UNPACK(solipass__ledger__payment_accepted__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    movement mv = {.pass_id = m->pass_id,
                   .category = m->category,
                   .operation_id = m->operation_id,
                   .partner_id = m->partner_id,
                   .amount_cents = m->amount_cents,
                   .envelope_balance_after_cents = m->envelope_balance_after_cents,
                   .pass_balance_after_cents = m->pass_balance_after_cents,
                   .postings = m->postings,
                   .posting_count = m->n_postings};
    char account[ACCOUNT_BYTES_MAX], owed[ACCOUNT_BYTES_MAX];
    if (need_cents("amount_cents", m->amount_cents, 1, err) != 0 ||
        need_uuid("pass_id", m->pass_id, err) != 0 ||
        need_category("category", m->category, err) != 0 ||
        need_uuid("partner_id", m->partner_id, err) != 0 ||
        need_partner_code("partner_code", m->partner_code, err) != 0 ||
        need_uuid_or_empty("beneficiary_id", m->beneficiary_id, err) != 0)
        goto done;
    char receipt[SP_RECEIPT_TEXT_MAX + 1];
    if (m->receipt_signature.len != 0) {
        if (payment_receipt(c, m, receipt, err) != 0) goto done;
        mv.receipt = receipt;
    }
    envelope_account(&mv, account);
    snprintf(owed, sizeof owed, "partner:%s:owed", m->partner_id);
    expect(&mv, account, -m->amount_cents);
    expect(&mv, owed, m->amount_cents);
    rc = put_movement(c, &mv, w, err);
done:
    solipass__ledger__payment_accepted__free_unpacked(m, NULL);
    return rc;
}

int build_envelope_expired(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Ledger__EnvelopeExpired *m = UNPACK(solipass__ledger__envelope_expired__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    sp_date date;
    movement mv = {.pass_id = m->pass_id,
                   .category = m->category,
                   .operation_id = m->operation_id,
                   .amount_cents = m->returned_cents,
                   .envelope_balance_after_cents = 0,
                   .pass_balance_after_cents = m->pass_balance_after_cents,
                   .postings = m->postings,
                   .posting_count = m->n_postings};
    char account[ACCOUNT_BYTES_MAX];
    if (need_cents("returned_cents", m->returned_cents, 0, err) != 0 ||
        need_uuid("pass_id", m->pass_id, err) != 0 ||
        need_category("category", m->category, err) != 0)
        goto done;
    if (sp_date_parse(m->end_date, &date, err) != 0) {
        invalid(err, "end_date", "%s is not a YYYY-MM-DD date: \"%.40s\"", m->end_date);
        goto done;
    }
    envelope_account(&mv, account);
    if (m->returned_cents > 0) {
        expect(&mv, account, -m->returned_cents);
        expect(&mv, "budget", m->returned_cents);
    }
    rc = put_movement(c, &mv, w, err);
done:
    solipass__ledger__envelope_expired__free_unpacked(m, NULL);
    return rc;
}

#define RESERVE_OPERATIONS_TYPE "ledger.ReserveOperations.v1"

/* A refused ReserveOperations also tells its request why (the part's row). */
static int put_reserve_refusal(const build_ctx *c, const Solipass__Ledger__CommandRejected *m,
                               row_writer *w, sp_error *err) {
    if (need_uuid("request_id", m->request_id, err) != 0 ||
        need_text("code", m->code, false, SP_PROJECTION_TEXT_BYTES_MAX, err) != 0 ||
        need_text("message", m->message, true, SP_PROJECTION_TEXT_BYTES_MAX, err) != 0 ||
        need_uuid_or_empty("operation_id", m->operation_id, err) != 0)
        return -1;
    *c->statement_override = &sp_projection_statements[STATEMENT_RESERVE_REJECTED];
    put_text(w, m->request_id);
    put_text(w, m->code);
    put_text(w, m->message);
    put_id_or_null(w, m->operation_id);
    return 0;
}

int build_ledger_rejected(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Ledger__CommandRejected *m = UNPACK(solipass__ledger__command_rejected__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    if (need_ledger_event(c, m->pass_id, err) != 0) goto done;
    put_text(w, m->pass_id);
    put_int(w, (int64_t)c->env->aggregate_version);
    put_time(w, c->env->occurred_at_ms);
    if (strcmp(m->command_type, RESERVE_OPERATIONS_TYPE) == 0 && m->request_id[0] != '\0' &&
        put_reserve_refusal(c, m, w, err) != 0)
        goto done;
    rc = 0;
done:
    solipass__ledger__command_rejected__free_unpacked(m, NULL);
    return rc;
}

/* ------------------------------------------------------------ a closed pass */

/* As the ledger writes them: at most 8 envelopes and 120 vouchers. */
#define PASS_CLOSE_POSTINGS_MAX 128

/* Every posting credits the budget, from a distinct envelope of this pass or
 * voucher; the accounts are the debits then "budget", the deltas minus each
 * amount then their sum. Voucher ids go to $6. */
static int put_close_postings(const Solipass__Ledger__PassClosed *m, row_writer *w, sp_error *err) {
    char envelope_prefix[ACCOUNT_BYTES_MAX];
    snprintf(envelope_prefix, sizeof envelope_prefix, "pass:%s:", m->pass_id);
    int64_t total_cents = 0, vouchers = 0;
    for (size_t i = 0; i < m->n_postings; i++) {
        const Solipass__Ledger__Posting *p = m->postings[i];
        if (!account_valid(p->debit_account) || strcmp(p->credit_account, "budget") != 0 ||
            (strncmp(p->debit_account, envelope_prefix, strlen(envelope_prefix)) != 0 &&
             strncmp(p->debit_account, "voucher:", 8) != 0))
            return invalid(err, "postings",
                           "%s: a close moves an envelope of the pass or a "
                           "voucher to the budget, not \"%.80s\"",
                           p->debit_account);
        for (size_t j = 0; j < i; j++)
            if (strcmp(m->postings[j]->debit_account, p->debit_account) == 0)
                return invalid(err, "postings", "%s: \"%.80s\" returned twice", p->debit_account);
        if (need_cents("postings.amount_cents", p->amount_cents, 1, err) != 0 ||
            !sp_money_add(total_cents, p->amount_cents, &total_cents))
            return invalid(err, "postings", "%s: the returns overflow%s", "");
        vouchers += strncmp(p->debit_account, "voucher:", 8) == 0;
    }
    if (total_cents != m->returned_cents || vouchers != m->vouchers_cancelled)
        return invalid(err, "returned_cents",
                       "%s or vouchers_cancelled is not what the postings "
                       "move%s",
                       "");
    /* Nothing held, nothing moved: no row of ledger_balances is touched. */
    const char *budget = m->n_postings > 0 ? "\"budget\"" : "";
    writer_begin(w);
    writer_append(w, "{");
    for (size_t i = 0; i < m->n_postings; i++)
        writer_append(w, "\"%s\",", m->postings[i]->debit_account);
    writer_append(w, "%s}", budget);
    writer_end(w);
    writer_begin(w);
    writer_append(w, "{");
    for (size_t i = 0; i < m->n_postings; i++)
        writer_append(w, "%" PRId64 ",", -m->postings[i]->amount_cents);
    if (m->n_postings > 0) writer_append(w, "%" PRId64, total_cents);
    writer_append(w, "}");
    writer_end(w);
    writer_begin(w);
    writer_append(w, "{");
    for (size_t i = 0, n = 0; i < m->n_postings; i++)
        if (strncmp(m->postings[i]->debit_account, "voucher:", 8) == 0)
            writer_append(w, "%s%s", n++ ? "," : "", m->postings[i]->debit_account + 8);
    writer_append(w, "}");
    writer_end(w);
    return 0;
}

int build_pass_closed(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Ledger__PassClosed *m = UNPACK(solipass__ledger__pass_closed__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    if (need_ledger_event(c, m->pass_id, err) != 0) goto done;
    if (m->n_postings > PASS_CLOSE_POSTINGS_MAX) {
        sp_error_set(err, 422, "invalid_event", "postings", "postings: %zu, more than %d",
                     m->n_postings, PASS_CLOSE_POSTINGS_MAX);
        goto done;
    }
    put_text(w, m->pass_id);
    put_int(w, (int64_t)c->env->aggregate_version);
    put_time(w, c->env->occurred_at_ms);
    if (put_close_postings(m, w, err) != 0) goto done;
    rc = 0;
done:
    solipass__ledger__pass_closed__free_unpacked(m, NULL);
    return rc;
}
