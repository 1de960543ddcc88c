/* projection_rows_vouchers.c - the rows of exchange vouchers (issued,
 * redeemed, cancelled or expired) and of what a partner does to its own
 * payments afterwards (cancels one, sets its reference).
 *
 * They are pass events like the ledger's (version-checked on the pass), in
 * a parameter layout of their own, $1..$9 (projection_rows.h): a cancelled
 * payment takes that layout too, the operation in the voucher's place, so it
 * lives here with them. Pure: no I/O. */
#include "projection_rows_internal.h"

#include <stdio.h>
#include <string.h>
#include "ledger.pb-c.h"
#include "sp_clock.h"
#include "sp_voucher_number.h"

/* ------------------------------------------------------------ SQL */

/* clang-format off */
/* Voucher events: the same version-checked pass update, in their own
 * parameter layout (projection_rows.h). */
#define VOUCHER_PASS_CTE                                                                 \
    "WITH p AS (UPDATE passes SET version = $2::bigint, balance_cents = $7::bigint, "    \
    "updated_at = $3::timestamptz WHERE pass_id = $1::uuid AND version = $2::bigint - 1 " \
    "RETURNING pass_id), "
#define VOUCHER_LEDGER_CTE                                                               \
    "l AS (INSERT INTO ledger_balances (account, balance_cents) SELECT u.account, u.delta " \
    "FROM unnest($8::text[], $9::bigint[]) AS u(account, delta) "                        \
    "WHERE EXISTS (SELECT 1 FROM p) ON CONFLICT (account) DO UPDATE "                    \
    "SET balance_cents = ledger_balances.balance_cents + EXCLUDED.balance_cents) "

const char voucher_issued_sql[] =
    VOUCHER_PASS_CTE
    "e AS (UPDATE envelopes SET balance_cents = $6::bigint WHERE pass_id = $1::uuid "
    "AND category = $5::text AND EXISTS (SELECT 1 FROM p)), "
    "v AS (INSERT INTO vouchers (voucher_id, pass_id, number, category, amount_cents, "
    "partner_id, status, valid_until, issued_at) SELECT $4::uuid, p.pass_id, $11::text, "
    "$5::text, $10::bigint, $13::uuid, 'active', $12::date, $3::timestamptz FROM p "
    "ON CONFLICT DO NOTHING), "
    VOUCHER_LEDGER_CTE
    "SELECT count(*) FROM p";

const char voucher_redeemed_sql[] =
    VOUCHER_PASS_CTE
    "v AS (UPDATE vouchers SET status = 'redeemed', closed_at = $3::timestamptz, "
    "redeemed_partner_id = $11::uuid, operation_id = $10::uuid WHERE voucher_id = $4::uuid "
    "AND status = 'active' AND EXISTS (SELECT 1 FROM p)), "
    "o AS (INSERT INTO operations (operation_id, kind, channel, pass_id, partner_id, category, "
    "amount_cents, pass_balance_after_cents, command_id, occurred_at, event_topic, "
    "event_partition, event_offset) SELECT $10::uuid, 'payment', 'voucher', p.pass_id, "
    "$11::uuid, $5::text, $6::bigint, $7::bigint, $12::text, $3::timestamptz, $13::text, "
    "$14::integer, $15::bigint FROM p ON CONFLICT DO NOTHING), "
    "w AS (UPDATE partners SET owed_cents = owed_cents + $6::bigint "
    "WHERE partner_id = $11::uuid AND EXISTS (SELECT 1 FROM p)), "
    VOUCHER_LEDGER_CTE
    "SELECT count(*) FROM p";

const char voucher_released_sql[] =
    VOUCHER_PASS_CTE
    "e AS (UPDATE envelopes SET balance_cents = $6::bigint WHERE pass_id = $1::uuid "
    "AND category = $5::text AND $11::boolean AND EXISTS (SELECT 1 FROM p)), "
    "v AS (UPDATE vouchers SET status = $10::text, closed_at = $3::timestamptz "
    "WHERE voucher_id = $4::uuid AND status = 'active' AND EXISTS (SELECT 1 FROM p)), "
    VOUCHER_LEDGER_CTE
    "SELECT count(*) FROM p";

/* A cancelled payment: its money back from the partner to the envelope (or
 * to the budget when the envelope expired since), never changed again. */
const char operation_cancelled_sql[] =
    VOUCHER_PASS_CTE
    "e AS (UPDATE envelopes SET balance_cents = $6::bigint WHERE pass_id = $1::uuid "
    "AND category = $5::text AND $12::boolean AND EXISTS (SELECT 1 FROM p)), "
    "o AS (UPDATE operations SET status = 'cancelled', cancelled_at = $3::timestamptz "
    "WHERE operation_id = $4::uuid AND status = 'accepted' AND EXISTS (SELECT 1 FROM p)), "
    "w AS (UPDATE partners SET owed_cents = owed_cents - $11::bigint "
    "WHERE partner_id = $10::uuid AND EXISTS (SELECT 1 FROM p)), "
    VOUCHER_LEDGER_CTE
    "SELECT count(*) FROM p";

const char operation_reference_set_sql[] =
    "WITH p AS (UPDATE passes SET version = $2::bigint, updated_at = $3::timestamptz "
    "WHERE pass_id = $1::uuid AND version = $2::bigint - 1 RETURNING 1), "
    "o AS (UPDATE operations SET reference = $6::text WHERE operation_id = $4::uuid "
    "AND partner_id = $5::uuid AND EXISTS (SELECT 1 FROM p)) "
    "SELECT count(*) FROM p";
/* clang-format on */

/* ------------------------------------------------------------ vouchers */

/* The parameters every voucher event starts with ($1..$9), once its
 * postings are checked against what the event describes. */
static int put_voucher_head(const build_ctx *c, const char *pass_id, const char *voucher_id,
                            const char *category, int64_t envelope_after_cents,
                            int64_t pass_after_cents, Solipass__Ledger__Posting *const *postings,
                            size_t posting_count, const ledger_deltas *expected, row_writer *w,
                            sp_error *err) {
    ledger_deltas net;
    if (need_ledger_event(c, pass_id, err) != 0 || need_uuid("voucher_id", voucher_id, err) != 0 ||
        need_category("category", category, err) != 0 ||
        need_cents("envelope_balance_after_cents", envelope_after_cents, 0, err) != 0 ||
        need_cents("pass_balance_after_cents", pass_after_cents, 0, err) != 0 ||
        postings_net(postings, posting_count, &net, err) != 0 ||
        postings_match(&net, expected, err) != 0)
        return -1;
    put_text(w, pass_id);
    put_int(w, (int64_t)c->env->aggregate_version);
    put_time(w, c->env->occurred_at_ms);
    put_text(w, voucher_id);
    put_text(w, category);
    put_int(w, envelope_after_cents);
    put_int(w, pass_after_cents);
    put_accounts(w, expected);
    put_deltas(w, expected);
    return 0;
}

static int need_voucher_number(const char *number, sp_error *err) {
    if (sp_voucher_number_valid(number)) return 0;
    return invalid(err, "voucher_number", "%s is not 16 digits with a Damm check digit: \"%.40s\"",
                   number);
}

int build_voucher_issued(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Ledger__VoucherIssued *m = UNPACK(solipass__ledger__voucher_issued__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    ledger_deltas expected = {.count = 0};
    char from[ACCOUNT_BYTES_MAX], to[ACCOUNT_BYTES_MAX];
    sp_date date;
    if (need_uuid("pass_id", m->pass_id, err) != 0 ||
        need_uuid("voucher_id", m->voucher_id, err) != 0 ||
        need_category("category", m->category, err) != 0 ||
        need_cents("amount_cents", m->amount_cents, 1, err) != 0 ||
        need_voucher_number(m->voucher_number, err) != 0 ||
        need_uuid_or_empty("partner_id", m->partner_id, err) != 0)
        goto done;
    if (sp_date_parse(m->valid_until, &date, err) != 0) {
        invalid(err, "valid_until", "%s is not a YYYY-MM-DD date: \"%.40s\"", m->valid_until);
        goto done;
    }
    snprintf(from, sizeof from, "pass:%s:%s", m->pass_id, m->category);
    snprintf(to, sizeof to, "voucher:%s", m->voucher_id);
    expect_move(&expected, from, to, m->amount_cents);
    if (put_voucher_head(c, m->pass_id, m->voucher_id, m->category, m->envelope_balance_after_cents,
                         m->pass_balance_after_cents, m->postings, m->n_postings, &expected, w,
                         err) != 0)
        goto done;
    put_int(w, m->amount_cents);
    put_text(w, m->voucher_number);
    put_text(w, m->valid_until);
    put_id_or_null(w, m->partner_id);
    rc = 0;
done:
    solipass__ledger__voucher_issued__free_unpacked(m, NULL);
    return rc;
}

int build_voucher_redeemed(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Ledger__VoucherRedeemed *m = UNPACK(solipass__ledger__voucher_redeemed__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    ledger_deltas expected = {.count = 0};
    char from[ACCOUNT_BYTES_MAX], to[ACCOUNT_BYTES_MAX];
    if (need_uuid("pass_id", m->pass_id, err) != 0 ||
        need_uuid("voucher_id", m->voucher_id, err) != 0 ||
        need_uuid("operation_id", m->operation_id, err) != 0 ||
        need_uuid("partner_id", m->partner_id, err) != 0 ||
        need_partner_code("partner_code", m->partner_code, err) != 0 ||
        need_cents("amount_cents", m->amount_cents, 1, err) != 0)
        goto done;
    snprintf(from, sizeof from, "voucher:%s", m->voucher_id);
    snprintf(to, sizeof to, "partner:%s:owed", m->partner_id);
    expect_move(&expected, from, to, m->amount_cents);
    /* No envelope changes: $6 carries the amount paid to the partner. */
    if (put_voucher_head(c, m->pass_id, m->voucher_id, m->category, m->amount_cents,
                         m->pass_balance_after_cents, m->postings, m->n_postings, &expected, w,
                         err) != 0)
        goto done;
    put_text(w, m->operation_id);
    put_text(w, m->partner_id);
    put_text(w, c->env->command_id);
    put_text(w, c->msg->topic);
    put_int(w, c->msg->partition);
    put_int(w, c->msg->offset);
    rc = 0;
done:
    solipass__ledger__voucher_redeemed__free_unpacked(m, NULL);
    return rc;
}

int build_voucher_released(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Ledger__VoucherReleased *m = UNPACK(solipass__ledger__voucher_released__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    ledger_deltas expected = {.count = 0};
    char from[ACCOUNT_BYTES_MAX], to[ACCOUNT_BYTES_MAX];
    if (need_uuid("pass_id", m->pass_id, err) != 0 ||
        need_uuid("voucher_id", m->voucher_id, err) != 0 ||
        need_category("category", m->category, err) != 0 ||
        need_cents("amount_cents", m->amount_cents, 1, err) != 0)
        goto done;
    /* Back to its envelope, or to the budget when the envelope expired meanwhile. */
    bool to_budget = m->n_postings == 1 && strcmp(m->postings[0]->credit_account, "budget") == 0;
    snprintf(from, sizeof from, "voucher:%s", m->voucher_id);
    if (to_budget) snprintf(to, sizeof to, "budget");
    else snprintf(to, sizeof to, "pass:%s:%s", m->pass_id, m->category);
    expect_move(&expected, from, to, m->amount_cents);
    if (put_voucher_head(c, m->pass_id, m->voucher_id, m->category, m->envelope_balance_after_cents,
                         m->pass_balance_after_cents, m->postings, m->n_postings, &expected, w,
                         err) != 0)
        goto done;
    put_text(w, strcmp(c->env->type, "ledger.VoucherExpired.v1") == 0 ? "expired" : "cancelled");
    put_text(w, to_budget ? "false" : "true");
    rc = 0;
done:
    solipass__ledger__voucher_released__free_unpacked(m, NULL);
    return rc;
}

/* ------------------------------------------------------------ partner operations */

int build_operation_cancelled(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Ledger__OperationCancelled *m = UNPACK(solipass__ledger__operation_cancelled__unpack,
                                                     c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    ledger_deltas expected = {.count = 0};
    char from[ACCOUNT_BYTES_MAX], to[ACCOUNT_BYTES_MAX];
    if (need_uuid("pass_id", m->pass_id, err) != 0 ||
        need_uuid("operation_id", m->operation_id, err) != 0 ||
        need_uuid("partner_id", m->partner_id, err) != 0 ||
        need_uuid_or_empty("voucher_id", m->voucher_id, err) != 0 ||
        need_category("category", m->category, err) != 0 ||
        need_cents("amount_cents", m->amount_cents, 1, err) != 0)
        goto done;
    /* Back to its envelope, or to the budget when the envelope expired since. */
    bool to_budget = m->n_postings == 1 && strcmp(m->postings[0]->credit_account, "budget") == 0;
    snprintf(from, sizeof from, "partner:%s:owed", m->partner_id);
    if (to_budget) snprintf(to, sizeof to, "budget");
    else snprintf(to, sizeof to, "pass:%s:%s", m->pass_id, m->category);
    expect_move(&expected, from, to, m->amount_cents);
    /* put_voucher_head's layout, with the operation in the voucher's place. */
    if (put_voucher_head(c, m->pass_id, m->operation_id, m->category,
                         m->envelope_balance_after_cents, m->pass_balance_after_cents, m->postings,
                         m->n_postings, &expected, w, err) != 0)
        goto done;
    put_text(w, m->partner_id);
    put_int(w, m->amount_cents);
    put_text(w, to_budget ? "false" : "true");
    rc = 0;
done:
    solipass__ledger__operation_cancelled__free_unpacked(m, NULL);
    return rc;
}

#define REFERENCE_BYTES_MAX 400 /* 100 characters of UTF-8 */
#define REFERENCE_CHARS_MAX 100

static int need_reference(const char *reference, sp_error *err) {
    if (need_text("reference", reference, true, REFERENCE_BYTES_MAX, err) != 0) return -1;
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)reference; *p != '\0'; p++) {
        if ((*p & 0xC0) != 0x80) chars++;
    }
    if (chars <= REFERENCE_CHARS_MAX) return 0;
    return invalid(err, "reference", "%s is longer than 100 characters%s", "");
}

int build_operation_reference_set(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Ledger__OperationReferenceSet *m = UNPACK(
        solipass__ledger__operation_reference_set__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    if (need_uuid("pass_id", m->pass_id, err) != 0 ||
        need_uuid("operation_id", m->operation_id, err) != 0 ||
        need_uuid("partner_id", m->partner_id, err) != 0 ||
        need_reference(m->reference, err) != 0 || need_ledger_event(c, m->pass_id, err) != 0)
        goto done;
    put_text(w, m->pass_id);
    put_int(w, (int64_t)c->env->aggregate_version);
    put_time(w, c->env->occurred_at_ms);
    put_text(w, m->operation_id);
    put_text(w, m->partner_id);
    put_text(w, m->reference);
    rc = 0;
done:
    solipass__ledger__operation_reference_set__free_unpacked(m, NULL);
    return rc;
}
