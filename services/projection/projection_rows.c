/* projection_rows.c - from one log message to one parameterized statement
 * over the read models (see projection_rows.h). Pure: no I/O, no clock.
 *
 * Ledger statements apply an event only when its aggregate version is the
 * pass's stored version + 1: one statement of data-modifying CTEs whose every
 * part hangs on the version-checked update of the pass (CTE "p"). Accounts
 * statements are inserts that ignore a row already there. */
#include "projection_rows.h"
#include "sp_receipt.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "accounts.pb-c.h"
#include "ledger.pb-c.h"
#include "sp_clock.h"
#include "sp_id.h"
#include "sp_money.h"
#include "sp_profile.h"
#include "sp_voucher_number.h"

/* ------------------------------------------------------------------ SQL */

/* clang-format off */
static const char partner_created_sql[] =
    "WITH i AS (INSERT INTO partners (partner_id, partner_code, name, category, owed_cents, "
    "created_at) SELECT $1::uuid, $2::text, $3::text, $4::text, "
    /* payments to the partner may have been applied first (another topic) */
    "COALESCE((SELECT balance_cents FROM ledger_balances "
    "WHERE account = 'partner:' || ($1::uuid)::text || ':owed'), 0) "
    /* reserved by a refund request: moved to refund:<id>, still owed */
    "+ COALESCE((SELECT sum(amount_cents) FROM operations WHERE partner_id = $1::uuid "
    "AND status = 'requested'), 0), $5::timestamptz "
    "ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*) FROM i";

static const char user_registered_sql[] =
    "WITH i AS (INSERT INTO users (user_id, email, password_hash, full_name, role, partner_id, "
    "pass_id, created_at) VALUES ($1::uuid, $2::text, $3::text, $4::text, $5::text, $6::uuid, "
    "$7::uuid, $8::timestamptz) ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*) FROM i";

static const char session_started_sql[] =
    "WITH i AS (INSERT INTO sessions (token_hash, user_id, expires_at) "
    "VALUES ($1::bytea, $2::uuid, $3::timestamptz) ON CONFLICT DO NOTHING RETURNING 1) "
    "SELECT count(*) FROM i";

static const char session_ended_sql[] =
    "WITH u AS (UPDATE sessions SET ended_at = $3::timestamptz WHERE token_hash = $1::bytea "
    "AND user_id = $2::uuid AND ended_at IS NULL RETURNING 1) SELECT count(*) FROM u";

static const char convention_published_sql[] =
    "WITH i AS (INSERT INTO conventions (convention_id, title, version, body, effective_date, "
    "mandatory, published_by, published_at) VALUES ($1::uuid, $2::text, $3::text, $4::text, "
    "$5::date, $6::boolean, $7::uuid, $8::timestamptz) ON CONFLICT DO NOTHING RETURNING 1) "
    "SELECT count(*) FROM i";

static const char convention_accepted_sql[] =
    "WITH i AS (INSERT INTO convention_acceptances (partner_id, convention_id, version, "
    "accepted_by, accepted_at) VALUES ($1::uuid, $2::uuid, $3::text, $4::uuid, "
    "$5::timestamptz) ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*) FROM i";

/* Partner-space events take the partner's aggregate version: applied once,
 * in order, even when the log is read again. A change of bank details also
 * keeps the new ones with the event's time in partner_bank_details: a refund
 * request is paid to the details its partner had when it was made. */
static const char partner_profile_updated_sql[] =
    "WITH old AS (SELECT iban, bic, bank_holder FROM partners "
    "WHERE partner_id = $1::uuid AND profile_version < $2::bigint), "
    "u AS (UPDATE partners SET profile_version = $2::bigint, legal_name = $3::text, "
    "name = $4::text, description = $5::text, website = $6::text, social_links = $7::text[], "
    "hq_address = $8::text, activity_address = $9::text, contact_phone = $10::text, "
    "contact_email = $11::text, iban = $12::text, bic = $13::text, bank_holder = $14::text "
    "WHERE partner_id = $1::uuid AND profile_version < $2::bigint RETURNING 1), "
    "b AS (INSERT INTO partner_bank_details (partner_id, profile_version, valid_from, iban, bic, "
    "bank_holder) SELECT $1::uuid, $2::bigint, $15::timestamptz, $12::text, $13::text, $14::text "
    "FROM old WHERE (old.iban, old.bic, old.bank_holder) IS DISTINCT FROM "
    "($12::text, $13::text, $14::text) RETURNING 1) "
    "SELECT count(*) FROM u";

static const char partner_image_set_sql[] =
    "WITH u AS (UPDATE partners SET profile_version = $2::bigint, "
    "logo_sha256 = CASE WHEN $3::text = 'logo' THEN $4::text ELSE logo_sha256 END, "
    "logo_type = CASE WHEN $3::text = 'logo' THEN $5::text ELSE logo_type END, "
    "cover_sha256 = CASE WHEN $3::text = 'cover' THEN $4::text ELSE cover_sha256 END, "
    "cover_type = CASE WHEN $3::text = 'cover' THEN $5::text ELSE cover_type END "
    "WHERE partner_id = $1::uuid AND profile_version < $2::bigint RETURNING 1) "
    "SELECT count(*) FROM u";

/* A partner's user (partner_id its partner) or a staff user (NULL: no partner). */
static const char user_role_changed_sql[] =
    "WITH u AS (UPDATE users SET role = $2::text WHERE user_id = $1::uuid "
    "AND partner_id IS NOT DISTINCT FROM $3::uuid AND removed_at IS NULL AND role <> $2::text "
    "RETURNING 1) SELECT count(*) FROM u";

/* The removal (a staff user's: its disabling) ends every session of the
 * user in the same statement. */
static const char user_removed_sql[] =
    "WITH u AS (UPDATE users SET removed_at = $3::timestamptz, disabled_at = CASE WHEN role IN "
    "('backoffice', 'finance') THEN $3::timestamptz END WHERE user_id = $1::uuid "
    "AND partner_id IS NOT DISTINCT FROM $2::uuid AND removed_at IS NULL RETURNING 1), "
    "s AS (UPDATE sessions SET ended_at = $3::timestamptz WHERE user_id = $1::uuid "
    "AND ended_at IS NULL AND EXISTS (SELECT 1 FROM u)) "
    "SELECT count(*) FROM u";

/* A new password ends every session of the user in the same statement (a
 * stolen token stops with the reset). Argon2id hashes are salted: the same
 * event read again finds its hash already set and ends nothing more. */
static const char password_set_sql[] =
    "WITH u AS (UPDATE users SET password_hash = $2::text WHERE user_id = $1::uuid "
    "AND password_hash IS DISTINCT FROM $2::text RETURNING 1), "
    "s AS (UPDATE sessions SET ended_at = $3::timestamptz WHERE user_id = $1::uuid "
    "AND ended_at IS NULL AND EXISTS (SELECT 1 FROM u)) "
    "SELECT count(*) FROM u";

static const char pass_opened_sql[] =
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
static const char pass_credited_sql[] =
    MOVEMENT_PASS_CTE
    "e AS (INSERT INTO envelopes (pass_id, category, balance_cents, end_date, expired) "
    "SELECT p.pass_id, $4::text, $5::bigint, $17::date, false FROM p "
    "ON CONFLICT (pass_id, category) DO UPDATE SET balance_cents = EXCLUDED.balance_cents, "
    "end_date = COALESCE(EXCLUDED.end_date, envelopes.end_date), expired = false), "
    MOVEMENT_OPERATION_CTE("credit", "true")
    MOVEMENT_LEDGER_CTE
    "SELECT count(*) FROM p";

static const char payment_accepted_sql[] =
    MOVEMENT_PASS_CTE
    "e AS (UPDATE envelopes SET balance_cents = $5::bigint WHERE pass_id = $1::uuid "
    "AND category = $4::text AND EXISTS (SELECT 1 FROM p)), "
    MOVEMENT_OPERATION_CTE("payment", "true")
    "w AS (UPDATE partners SET owed_cents = owed_cents + $8::bigint "
    "WHERE partner_id = $15::uuid AND EXISTS (SELECT 1 FROM p)), "
    MOVEMENT_LEDGER_CTE
    "SELECT count(*) FROM p";

static const char envelope_expired_sql[] =
    MOVEMENT_PASS_CTE
    "e AS (UPDATE envelopes SET balance_cents = $5::bigint, expired = true "
    "WHERE pass_id = $1::uuid AND category = $4::text AND EXISTS (SELECT 1 FROM p)), "
    MOVEMENT_OPERATION_CTE("expiry", "$8::bigint > 0")
    MOVEMENT_LEDGER_CTE
    "SELECT count(*) FROM p";

/* The aggregate of a refusal is a pass, or a refund request for its own
 * commands: whichever it is takes the version. */
static const char ledger_rejected_sql[] =
    "WITH p AS (UPDATE passes SET version = $2::bigint, updated_at = $3::timestamptz "
    "WHERE pass_id = $1::uuid AND version = $2::bigint - 1 RETURNING 1), "
    "r AS (UPDATE refund_requests SET version = $2::bigint "
    "WHERE request_id = $1::uuid AND version = $2::bigint - 1 RETURNING 1) "
    "SELECT (SELECT count(*) FROM p) + (SELECT count(*) FROM r)";

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

static const char voucher_issued_sql[] =
    VOUCHER_PASS_CTE
    "e AS (UPDATE envelopes SET balance_cents = $6::bigint WHERE pass_id = $1::uuid "
    "AND category = $5::text AND EXISTS (SELECT 1 FROM p)), "
    "v AS (INSERT INTO vouchers (voucher_id, pass_id, number, category, amount_cents, "
    "partner_id, status, valid_until, issued_at) SELECT $4::uuid, p.pass_id, $11::text, "
    "$5::text, $10::bigint, $13::uuid, 'active', $12::date, $3::timestamptz FROM p "
    "ON CONFLICT DO NOTHING), "
    VOUCHER_LEDGER_CTE
    "SELECT count(*) FROM p";

static const char voucher_redeemed_sql[] =
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

static const char voucher_released_sql[] =
    VOUCHER_PASS_CTE
    "e AS (UPDATE envelopes SET balance_cents = $6::bigint WHERE pass_id = $1::uuid "
    "AND category = $5::text AND $11::boolean AND EXISTS (SELECT 1 FROM p)), "
    "v AS (UPDATE vouchers SET status = $10::text, closed_at = $3::timestamptz "
    "WHERE voucher_id = $4::uuid AND status = 'active' AND EXISTS (SELECT 1 FROM p)), "
    VOUCHER_LEDGER_CTE
    "SELECT count(*) FROM p";

/* A cancelled payment: its money back from the partner to the envelope (or
 * to the budget when the envelope expired since), never changed again. */
static const char operation_cancelled_sql[] =
    VOUCHER_PASS_CTE
    "e AS (UPDATE envelopes SET balance_cents = $6::bigint WHERE pass_id = $1::uuid "
    "AND category = $5::text AND $12::boolean AND EXISTS (SELECT 1 FROM p)), "
    "o AS (UPDATE operations SET status = 'cancelled', cancelled_at = $3::timestamptz "
    "WHERE operation_id = $4::uuid AND status = 'accepted' AND EXISTS (SELECT 1 FROM p)), "
    "w AS (UPDATE partners SET owed_cents = owed_cents - $11::bigint "
    "WHERE partner_id = $10::uuid AND EXISTS (SELECT 1 FROM p)), "
    VOUCHER_LEDGER_CTE
    "SELECT count(*) FROM p";

/* a closed pass. Its envelopes are empty (their remainders went
 * to the budget), its active vouchers cancelled, its balances moved by the
 * postings; no operation row (the operations model has no kind for it: the
 * pass's closed_at tells). $1 pass_id $2 aggregate_version $3 occurred_at
 * $4 ledger accounts $5 net deltas $6 cancelled voucher ids (uuid[]) */
static const char pass_closed_sql[] =
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

static const char operation_reference_set_sql[] =
    "WITH p AS (UPDATE passes SET version = $2::bigint, updated_at = $3::timestamptz "
    "WHERE pass_id = $1::uuid AND version = $2::bigint - 1 RETURNING 1), "
    "o AS (UPDATE operations SET reference = $6::text WHERE operation_id = $4::uuid "
    "AND partner_id = $5::uuid AND EXISTS (SELECT 1 FROM p)) "
    "SELECT count(*) FROM p";

/* ------------------------------------------------------------ refund requests
 *
 * The request's own events take refund_requests.version. A part row is
 * upserted by both sides (migration 0010): the request writes what was
 * asked (operation_ids), the pass what it did (status, amounts), so that
 * any interleaving of the two partitions gives the same row. */
static const char refund_request_opened_sql[] =
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

static const char refund_request_confirmed_sql[] =
    "WITH r AS (UPDATE refund_requests SET version = $2::bigint, status = 'pending', "
    "confirmed_at = $3::timestamptz, total_cents = $4::bigint, operation_count = $5::bigint "
    REFUND_REQUEST_NEXT_VERSION("pending");

static const char refund_request_cancelled_sql[] =
    "WITH r AS (UPDATE refund_requests SET version = $2::bigint, status = 'cancelled', "
    "cancelled_at = $3::timestamptz, cancel_reason = $4::text, cancel_code = $5::text, "
    "cancel_message = $6::text, cancel_operation_id = $7::uuid "
    REFUND_REQUEST_NEXT_VERSION("cancelled");

static const char refund_request_paid_sql[] =
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

static const char operations_reserved_sql[] =
    PART_PASS_CTE
    "o AS (UPDATE operations SET status = 'requested', refund_request_id = $4::uuid "
    "WHERE operation_id = ANY ($6::uuid[]) AND pass_id = $1::uuid AND status = 'accepted' "
    "AND partner_id = $5::uuid AND EXISTS (SELECT 1 FROM p)), "
    PART_UPSERT_CTE("reserved") ", amount_cents = EXCLUDED.amount_cents, "
    "operation_count = EXCLUDED.operation_count), "
    PART_LEDGER_CTE
    "SELECT count(*) FROM p";

static const char operations_released_sql[] =
    PART_PASS_CTE
    "o AS (UPDATE operations SET status = 'accepted', refund_request_id = NULL "
    "WHERE operation_id = ANY ($6::uuid[]) AND pass_id = $1::uuid AND status = 'requested' "
    "AND refund_request_id = $4::uuid AND partner_id IS NOT DISTINCT FROM $5::uuid "
    "AND EXISTS (SELECT 1 FROM p)), "
    PART_UPSERT_CTE("released") "), "
    PART_LEDGER_CTE
    "SELECT count(*) FROM p";

/* Only a settlement lowers what the partner is owed. */
static const char operations_settled_sql[] =
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
static const char reserve_rejected_sql[] =
    PART_PASS_CTE
    "pt AS (INSERT INTO refund_request_parts (request_id, pass_id, operation_ids, status, "
    "refusal_code, refusal_message, refusal_operation_id, updated_at, request_status) "
    "SELECT $4::uuid, p.pass_id, '{}', 'refused', $5::text, $6::text, $7::uuid, "
    "$3::timestamptz, " PART_REQUEST_STATUS " FROM p "
    "ON CONFLICT (request_id, pass_id) DO UPDATE SET status = 'refused', "
    "refusal_code = EXCLUDED.refusal_code, refusal_message = EXCLUDED.refusal_message, "
    "refusal_operation_id = EXCLUDED.refusal_operation_id, updated_at = EXCLUDED.updated_at) "
    "SELECT count(*) FROM p";

static const char offset_upsert_sql[] =
    "INSERT INTO projection_offsets (consumer, topic, partition, next_offset) "
    "VALUES ('projection', $1::text, $2::integer, $3::bigint) "
    "ON CONFLICT (consumer, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset";

const char *const sp_projection_offset_upsert_sql = offset_upsert_sql;

const char *const sp_projection_offsets_select_sql =
    "SELECT topic, partition, next_offset FROM projection_offsets WHERE consumer = 'projection'";

const char *const sp_projection_truncate_sql =
    "TRUNCATE partners, users, sessions, passes, envelopes, operations, ledger_balances, "
    "vouchers, conventions, convention_acceptances, refund_requests, refund_request_parts, "
    "partner_bank_details, figures_daily, figures_budget, history";

const char *const sp_projection_offsets_delete_sql =
    "DELETE FROM projection_offsets WHERE consumer = 'projection'";
/* clang-format on */

const sp_projection_table sp_projection_tables[] = {
    {"partners", "partner_id"},
    {"users", "user_id"},
    {"sessions", "token_hash"},
    {"passes", "pass_id"},
    {"envelopes", "pass_id, category"},
    {"operations", "operation_id"},
    {"ledger_balances", "account"},
    {"vouchers", "voucher_id"},
    {"conventions", "convention_id"},
    {"convention_acceptances", "partner_id, convention_id"},
    {"refund_requests", "request_id"},
    {"refund_request_parts", "request_id, pass_id"},
    {"partner_bank_details", "partner_id, profile_version"},
    /* figures and history (projection_figures.c) */
    {"figures_daily", "day, category"},
    {"figures_budget", "category"},
    {"history", "event_id"},
};
const size_t sp_projection_table_count = sizeof sp_projection_tables /
                                         sizeof sp_projection_tables[0];

void sp_projection_checksum_sql(const sp_projection_table *table, char *out, size_t out_size) {
    assert(table != NULL && out != NULL);
    int n = snprintf(out, out_size,
                     "SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY %s)), md5('')) "
                     "FROM %s AS t",
                     table->order_by, table->name);
    assert(n > 0 && (size_t)n < out_size);
    (void)n;
}

/* ------------------------------------------------------------ pure helpers */

#define TIME_MIN_MS INT64_C(946684800000)  /* 2000-01-01T00:00:00Z */
#define TIME_END_MS INT64_C(7258118400000) /* 2200-01-01T00:00:00Z */
#define MS_PER_DAY INT64_C(86400000)

bool sp_projection_time_valid(int64_t utc_ms) {
    return utc_ms >= TIME_MIN_MS && utc_ms < TIME_END_MS;
}

void sp_projection_time_format(int64_t utc_ms, char *out) {
    assert(sp_projection_time_valid(utc_ms));
    int year, month, day;
    sp_date_to_ymd((sp_date)(utc_ms / MS_PER_DAY), &year, &month, &day);
    int64_t ms_of_day = utc_ms % MS_PER_DAY;
    int n = snprintf(out, SP_PROJECTION_TIME_LEN + 1, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year,
                     month, day, (int)(ms_of_day / 3600000), (int)(ms_of_day / 60000 % 60),
                     (int)(ms_of_day / 1000 % 60), (int)(ms_of_day % 1000));
    assert(n == SP_PROJECTION_TIME_LEN);
    (void)n;
}

/* Length of the UTF-8 sequence starting at s, 0 when it is not well formed
 * (overlong forms, surrogates and code points above U+10FFFF included). */
static size_t utf8_sequence_length(const unsigned char *s) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    uint32_t cp;
    /* clang-format off */
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1Fu; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0Fu; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07u; }
    else return 0;
    /* clang-format on */
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0u) != 0x80u) return 0; /* also stops at the NUL */
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
    if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
    return len;
}

bool sp_projection_text_valid(const char *s, size_t bytes_max) {
    assert(s != NULL);
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (p[i] != '\0') {
        if (p[i] < 0x20 || p[i] == 0x7F) return false;
        size_t len = utf8_sequence_length(p + i);
        if (len == 0) return false;
        i += len;
        if (i > bytes_max) return false;
    }
    return true;
}

bool sp_projection_category_valid(const char *s) {
    assert(s != NULL);
    size_t len = strlen(s);
    if (len < 2 || len > 32 || s[0] < 'a' || s[0] > 'z') return false;
    for (size_t i = 1; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
    return true;
}

/* ------------------------------------------------------------ parameter writer */

typedef struct row_writer {
    char *buf;
    size_t size;
    size_t used;
    size_t param_start;
    bool overflow;
    sp_projection_row *row;
} row_writer;

static void writer_begin(row_writer *w) {
    assert(w->row->param_count < SP_PROJECTION_PARAMS_MAX);
    w->param_start = w->used;
}

static void writer_append(row_writer *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void writer_append(row_writer *w, const char *fmt, ...) {
    if (w->overflow) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(w->buf + w->used, w->size - w->used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= w->size - w->used) {
        w->overflow = true;
        return;
    }
    w->used += (size_t)n;
}

static void writer_end(row_writer *w) {
    sp_projection_row *row = w->row;
    if (w->overflow || w->used >= w->size) {
        w->overflow = true;
        row->params[row->param_count++] = NULL;
        return;
    }
    w->buf[w->used++] = '\0'; /* vsnprintf already wrote it; claim its byte */
    row->params[row->param_count++] = w->buf + w->param_start;
}

static void put_text(row_writer *w, const char *text) {
    writer_begin(w);
    writer_append(w, "%s", text);
    writer_end(w);
}

static void put_int(row_writer *w, int64_t value) {
    writer_begin(w);
    writer_append(w, "%" PRId64, value);
    writer_end(w);
}

static void put_null(row_writer *w) {
    assert(w->row->param_count < SP_PROJECTION_PARAMS_MAX);
    w->row->params[w->row->param_count++] = NULL;
}

/* An id that may be absent: "" becomes SQL NULL. */
static void put_id_or_null(row_writer *w, const char *id) {
    if (id[0] == '\0') put_null(w);
    else put_text(w, id);
}

static void put_time(row_writer *w, int64_t utc_ms) {
    char text[SP_PROJECTION_TIME_LEN + 1];
    sp_projection_time_format(utc_ms, text);
    put_text(w, text);
}

/* bytea in PostgreSQL's hex input format. */
static void put_bytes(row_writer *w, const uint8_t *data, size_t len) {
    writer_begin(w);
    writer_append(w, "\\x");
    for (size_t i = 0; i < len; i++) writer_append(w, "%02x", data[i]);
    writer_end(w);
}

/* ------------------------------------------------------------ validation */

static int invalid(sp_error *err, const char *field, const char *fmt, const char *value) {
    return sp_error_set(err, 422, "invalid_event", field, fmt, field, value);
}

static int need_uuid(const char *field, const char *value, sp_error *err) {
    if (sp_id_valid(value)) return 0;
    return invalid(err, field, "%s is not a canonical UUID: \"%.40s\"", value);
}

static int need_uuid_or_empty(const char *field, const char *value, sp_error *err) {
    return value[0] == '\0' ? 0 : need_uuid(field, value, err);
}

static int need_category(const char *field, const char *value, sp_error *err) {
    if (sp_projection_category_valid(value)) return 0;
    return invalid(err, field, "%s is not a category (^[a-z][a-z0-9_]{1,31}$): \"%.40s\"", value);
}

static int need_text(const char *field, const char *value, bool empty_ok, size_t bytes_max,
                     sp_error *err) {
    if (!empty_ok && value[0] == '\0') return invalid(err, field, "%s is empty%s", "");
    if (sp_projection_text_valid(value, bytes_max)) return 0;
    return sp_error_set(err, 422, "invalid_event", field,
                        "%s is not UTF-8 text without control characters of at most %zu bytes",
                        field, bytes_max);
}

static int need_cents(const char *field, int64_t cents, int64_t min_cents, sp_error *err) {
    if (cents >= min_cents && cents <= SP_MONEY_BALANCE_ABS_MAX_CENTS) return 0;
    return sp_error_set(err, 422, "invalid_event", field,
                        "%s is %" PRId64 ", outside %" PRId64 "..%" PRId64, field, cents, min_cents,
                        SP_MONEY_BALANCE_ABS_MAX_CENTS);
}

static int need_time(const char *field, int64_t utc_ms, sp_error *err) {
    if (sp_projection_time_valid(utc_ms)) return 0;
    return sp_error_set(err, 422, "invalid_event", field,
                        "%s is %" PRId64 " ms, outside years 2000..2199", field, utc_ms);
}

static int need_same_id(const char *field, const char *payload_id, const char *aggregate_id,
                        sp_error *err) {
    if (strcmp(payload_id, aggregate_id) == 0) return 0;
    return invalid(err, field, "%s differs from the envelope's aggregate_id \"%.40s\"",
                   aggregate_id);
}

static int need_partner_code(const char *field, const char *code, sp_error *err) {
    bool ok = strlen(code) == SP_PARTNER_CODE_LEN && code[0] >= '1' && code[0] <= '9';
    for (size_t i = 1; ok && i < SP_PARTNER_CODE_LEN; i++) ok = code[i] >= '0' && code[i] <= '9';
    if (ok && sp_luhn_valid(code)) return 0;
    return invalid(err, field,
                   "%s is not an 8-digit partner code with a Luhn check digit: "
                   "\"%.40s\"",
                   code);
}

/* ------------------------------------------------------------ ledger accounts */

#define ACCOUNT_BYTES_MAX 96
#define DELTAS_MAX (2 * SP_PROJECTION_POSTINGS_MAX)

typedef struct ledger_delta {
    char account[ACCOUNT_BYTES_MAX];
    int64_t delta_cents;
} ledger_delta;

typedef struct ledger_deltas {
    ledger_delta items[DELTAS_MAX];
    size_t count;
} ledger_deltas;

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
static int postings_net(Solipass__Ledger__Posting *const *postings, size_t count,
                        ledger_deltas *net, sp_error *err) {
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
static int postings_match(const ledger_deltas *net, const ledger_deltas *expected, sp_error *err) {
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

static void put_accounts(row_writer *w, const ledger_deltas *deltas) {
    writer_begin(w);
    writer_append(w, "{");
    for (size_t i = 0; i < deltas->count; i++)
        writer_append(w, "%s\"%s\"", i ? "," : "", deltas->items[i].account);
    writer_append(w, "}");
    writer_end(w);
}

static void put_deltas(row_writer *w, const ledger_deltas *deltas) {
    writer_begin(w);
    writer_append(w, "{");
    for (size_t i = 0; i < deltas->count; i++)
        writer_append(w, "%s%" PRId64, i ? "," : "", deltas->items[i].delta_cents);
    writer_append(w, "}");
    writer_end(w);
}

/* ------------------------------------------------------------ events */

typedef struct build_ctx {
    const Solipass__Envelope *env;
    const sp_kafka_msg *msg;
    /* set by a builder whose event takes another statement than its type's
     * (a refused ReserveOperations); points into the caller's frame */
    const struct sp_projection_statement **statement_override;
} build_ctx;

static int undecodable_payload(sp_error *err, const char *type) {
    return sp_error_set(err, 422, "undecodable", "payload",
                        "the payload of a %s is not valid "
                        "protobuf",
                        type);
}

#define UNPACK(fn, ctx) fn(NULL, (ctx)->env->payload.len, (ctx)->env->payload.data)

static int build_partner_created(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Accounts__PartnerCreated *m = UNPACK(solipass__accounts__partner_created__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    if (need_uuid("partner_id", m->partner_id, err) != 0 ||
        need_same_id("partner_id", m->partner_id, c->env->aggregate_id, err) != 0 ||
        need_partner_code("partner_code", m->partner_code, err) != 0 ||
        need_text("name", m->name, false, SP_PROJECTION_TEXT_BYTES_MAX, err) != 0 ||
        need_category("category", m->category, err) != 0)
        goto done;
    if (strcmp(m->category, "general") == 0) {
        invalid(err, "category", "%s of a partner is never \"%s\"", "general");
        goto done;
    }
    put_text(w, m->partner_id);
    put_text(w, m->partner_code);
    put_text(w, m->name);
    put_text(w, m->category);
    put_time(w, c->env->occurred_at_ms);
    rc = 0;
done:
    solipass__accounts__partner_created__free_unpacked(m, NULL);
    return rc;
}

static const char *role_name(Solipass__Accounts__Role role) {
    switch (role) {
    case SOLIPASS__ACCOUNTS__ROLE__ROLE_BACKOFFICE: return "backoffice";
    case SOLIPASS__ACCOUNTS__ROLE__ROLE_PARTNER_ADMIN: return "partner_admin";
    case SOLIPASS__ACCOUNTS__ROLE__ROLE_PARTNER_USER: return "partner_user";
    case SOLIPASS__ACCOUNTS__ROLE__ROLE_BENEFICIARY: return "beneficiary";
    case SOLIPASS__ACCOUNTS__ROLE__ROLE_FINANCE: return "finance";
    default: return NULL;
    }
}

/* Partner roles name their partner; only a beneficiary may name a pass. */
static int need_user_links(const Solipass__Accounts__UserRegistered *m, sp_error *err) {
    bool partner_role = m->role == SOLIPASS__ACCOUNTS__ROLE__ROLE_PARTNER_ADMIN ||
                        m->role == SOLIPASS__ACCOUNTS__ROLE__ROLE_PARTNER_USER;
    bool beneficiary = m->role == SOLIPASS__ACCOUNTS__ROLE__ROLE_BENEFICIARY;
    if (partner_role) {
        if (need_uuid("partner_id", m->partner_id, err) != 0) return -1;
    } else if (m->partner_id[0] != '\0') {
        return invalid(err, "partner_id", "%s is set for a %s", role_name(m->role));
    }
    if (beneficiary) {
        if (need_uuid_or_empty("pass_id", m->pass_id, err) != 0) return -1;
    } else if (m->pass_id[0] != '\0') {
        return invalid(err, "pass_id", "%s is set for a %s", role_name(m->role));
    }
    return 0;
}

static int build_user_registered(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Accounts__UserRegistered *m = UNPACK(solipass__accounts__user_registered__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    const char *role = role_name(m->role);
    if (need_uuid("user_id", m->user_id, err) != 0 ||
        need_same_id("user_id", m->user_id, c->env->aggregate_id, err) != 0 ||
        need_text("email", m->email, false, SP_PROJECTION_TEXT_BYTES_MAX, err) != 0 ||
        need_text("password_hash", m->password_hash, true, SP_PROJECTION_TEXT_BYTES_MAX, err) !=
            0 ||
        need_text("full_name", m->full_name, true, SP_PROJECTION_TEXT_BYTES_MAX, err) != 0)
        goto done;
    if (role == NULL) {
        sp_error_set(err, 422, "invalid_event", "role", "role %d is not a known role",
                     (int)m->role);
        goto done;
    }
    if (need_user_links(m, err) != 0) goto done;
    put_text(w, m->user_id);
    put_text(w, m->email);
    put_text(w, m->password_hash);
    put_text(w, m->full_name);
    put_text(w, role);
    put_id_or_null(w, m->partner_id);
    put_id_or_null(w, m->pass_id);
    put_time(w, c->env->occurred_at_ms);
    rc = 0;
done:
    solipass__accounts__user_registered__free_unpacked(m, NULL);
    return rc;
}

static int need_token_hash(const ProtobufCBinaryData *hash, sp_error *err) {
    if (hash->len == SP_TOKEN_HASH_LEN) return 0;
    return sp_error_set(err, 422, "invalid_event", "token_hash", "token_hash has %zu bytes, not %d",
                        hash->len, SP_TOKEN_HASH_LEN);
}

static int build_session_started(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Accounts__SessionStarted *m = UNPACK(solipass__accounts__session_started__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    if (need_uuid("user_id", m->user_id, err) != 0 ||
        need_same_id("user_id", m->user_id, c->env->aggregate_id, err) != 0 ||
        need_token_hash(&m->token_hash, err) != 0 ||
        need_time("expires_at_ms", m->expires_at_ms, err) != 0)
        goto done;
    put_bytes(w, m->token_hash.data, m->token_hash.len);
    put_text(w, m->user_id);
    put_time(w, m->expires_at_ms);
    rc = 0;
done:
    solipass__accounts__session_started__free_unpacked(m, NULL);
    return rc;
}

static int build_session_ended(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Accounts__SessionEnded *m = UNPACK(solipass__accounts__session_ended__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    if (need_uuid("user_id", m->user_id, err) != 0 ||
        need_same_id("user_id", m->user_id, c->env->aggregate_id, err) != 0 ||
        need_token_hash(&m->token_hash, err) != 0)
        goto done;
    put_bytes(w, m->token_hash.data, m->token_hash.len);
    put_text(w, m->user_id);
    put_time(w, c->env->occurred_at_ms);
    rc = 0;
done:
    solipass__accounts__session_ended__free_unpacked(m, NULL);
    return rc;
}

/* Recorded for the accounts service's own idempotence; no read model shows it. */
static int build_accounts_rejected(const build_ctx *c, row_writer *w, sp_error *err) {
    (void)w;
    Solipass__Accounts__CommandRejected *m = UNPACK(solipass__accounts__command_rejected__unpack,
                                                    c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    solipass__accounts__command_rejected__free_unpacked(m, NULL);
    return 0;
}

static int need_purpose(const char *purpose, sp_error *err) {
    if (strcmp(purpose, "activation") == 0 || strcmp(purpose, "reset") == 0) return 0;
    return invalid(err, "purpose", "%s is \"%.16s\", not activation or reset", purpose);
}

/* A link was issued: the notifications service mails it; no read model shows it. */
static int build_activation_issued(const build_ctx *c, row_writer *w, sp_error *err) {
    (void)w;
    Solipass__Accounts__ActivationIssued *m = UNPACK(solipass__accounts__activation_issued__unpack,
                                                     c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    if (need_uuid("activation_id", m->activation_id, err) != 0 ||
        need_uuid("user_id", m->user_id, err) != 0 ||
        need_same_id("user_id", m->user_id, c->env->aggregate_id, err) != 0 ||
        need_text("email", m->email, false, SP_PROJECTION_TEXT_BYTES_MAX, err) != 0 ||
        need_purpose(m->purpose, err) != 0 ||
        need_time("expires_at_ms", m->expires_at_ms, err) != 0)
        goto done;
    rc = 0;
done:
    solipass__accounts__activation_issued__free_unpacked(m, NULL);
    return rc;
}

static int build_password_set(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Accounts__PasswordSet *m = UNPACK(solipass__accounts__password_set__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    if (need_uuid("user_id", m->user_id, err) != 0 ||
        need_same_id("user_id", m->user_id, c->env->aggregate_id, err) != 0 ||
        need_uuid("activation_id", m->activation_id, err) != 0 ||
        need_text("password_hash", m->password_hash, false, SP_PROJECTION_TEXT_BYTES_MAX, err) !=
            0 ||
        need_purpose(m->purpose, err) != 0)
        goto done;
    put_text(w, m->user_id);
    put_text(w, m->password_hash);
    put_time(w, c->env->occurred_at_ms);
    rc = 0;
done:
    solipass__accounts__password_set__free_unpacked(m, NULL);
    return rc;
}

/* What every ledger event must satisfy: its pass is its aggregate. */
static int need_ledger_event(const build_ctx *c, const char *pass_id, sp_error *err) {
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

static int build_pass_opened(const build_ctx *c, row_writer *w, sp_error *err) {
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
    assert(n > 0 && (size_t)n < sizeof d->account);
    (void)n;
    d->delta_cents = delta_cents;
}

static void envelope_account(const movement *mv, char out[ACCOUNT_BYTES_MAX]) {
    int n = snprintf(out, ACCOUNT_BYTES_MAX, "pass:%s:%s", mv->pass_id, mv->category);
    assert(n > 0 && n < ACCOUNT_BYTES_MAX);
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

static int build_pass_credited(const build_ctx *c, row_writer *w, sp_error *err) {
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

static int build_payment_accepted(const build_ctx *c, row_writer *w, sp_error *err) {
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

static int build_envelope_expired(const build_ctx *c, row_writer *w, sp_error *err) {
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

#define STATEMENT_RESERVE_REJECTED 29
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

static int build_ledger_rejected(const build_ctx *c, row_writer *w, sp_error *err) {
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

static void expect_move(ledger_deltas *deltas, const char *from, const char *to, int64_t cents) {
    assert(deltas->count + 2 <= DELTAS_MAX);
    snprintf(deltas->items[deltas->count].account, ACCOUNT_BYTES_MAX, "%s", from);
    deltas->items[deltas->count++].delta_cents = -cents;
    snprintf(deltas->items[deltas->count].account, ACCOUNT_BYTES_MAX, "%s", to);
    deltas->items[deltas->count++].delta_cents = cents;
}

static int need_voucher_number(const char *number, sp_error *err) {
    if (sp_voucher_number_valid(number)) return 0;
    return invalid(err, "voucher_number", "%s is not 16 digits with a Damm check digit: \"%.40s\"",
                   number);
}

static int build_voucher_issued(const build_ctx *c, row_writer *w, sp_error *err) {
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

static int build_voucher_redeemed(const build_ctx *c, row_writer *w, sp_error *err) {
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

static int build_voucher_released(const build_ctx *c, row_writer *w, sp_error *err) {
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

static int build_operation_cancelled(const build_ctx *c, row_writer *w, sp_error *err) {
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

static int build_pass_closed(const build_ctx *c, row_writer *w, sp_error *err) {
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

static int build_operation_reference_set(const build_ctx *c, row_writer *w, sp_error *err) {
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

/* ------------------------------------------------------------ partner space */

/* A text[] literal; elements quoted, '"' and '\' escaped. */
static void put_text_array(row_writer *w, char *const *items, size_t count) {
    writer_begin(w);
    writer_append(w, "{");
    for (size_t i = 0; i < count; i++) {
        writer_append(w, "%s\"", i ? "," : "");
        for (const char *p = items[i]; *p != '\0'; p++) {
            if (*p == '"' || *p == '\\') writer_append(w, "\\%c", *p);
            else writer_append(w, "%c", *p);
        }
        writer_append(w, "\"");
    }
    writer_append(w, "}");
    writer_end(w);
}

static int need_profile(const Solipass__Accounts__PartnerProfile *p, sp_error *err) {
    if (p == NULL) return invalid(err, "profile", "%s is missing%s", "");
    const char *texts[] = {
        p->legal_name,    p->description,   p->website, p->hq_address, p->activity_address,
        p->contact_phone, p->contact_email, p->iban,    p->bic,        p->bank_holder};
    if (need_text("public_name", p->public_name, false, SP_PROJECTION_TEXT_BYTES_MAX, err) != 0)
        return -1;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        if (need_text("profile", texts[i], true, 4 * SP_PROFILE_DESCRIPTION_CHARS_MAX, err) != 0)
            return -1;
    }
    if (p->n_social_links > SP_PROFILE_SOCIAL_LINKS_MAX)
        return invalid(err, "social_links", "%s: more than %s links", "8");
    for (size_t i = 0; i < p->n_social_links; i++) {
        if (!sp_profile_url_valid(p->social_links[i]))
            return invalid(err, "social_links", "%s: not an http(s) URL: \"%.80s\"",
                           p->social_links[i]);
    }
    return 0;
}

static int build_partner_profile_updated(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Accounts__PartnerProfileUpdated *m = UNPACK(
        solipass__accounts__partner_profile_updated__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    if (need_uuid("partner_id", m->partner_id, err) != 0 ||
        need_same_id("partner_id", m->partner_id, c->env->aggregate_id, err) != 0 ||
        need_profile(m->profile, err) != 0)
        goto done;
    const Solipass__Accounts__PartnerProfile *p = m->profile;
    put_text(w, m->partner_id);
    put_int(w, (int64_t)c->env->aggregate_version);
    put_text(w, p->legal_name);
    put_text(w, p->public_name);
    put_text(w, p->description);
    put_text(w, p->website);
    put_text_array(w, p->social_links, p->n_social_links);
    put_text(w, p->hq_address);
    put_text(w, p->activity_address);
    put_text(w, p->contact_phone);
    put_text(w, p->contact_email);
    put_text(w, p->iban);
    put_text(w, p->bic);
    put_text(w, p->bank_holder);
    put_time(w, c->env->occurred_at_ms);
    rc = 0;
done:
    solipass__accounts__partner_profile_updated__free_unpacked(m, NULL);
    return rc;
}

static bool sha256_hex(const char *s) {
    size_t len = strlen(s);
    for (size_t i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    }
    return len == 64;
}

static int build_partner_image_set(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Accounts__PartnerImageSet *m = UNPACK(solipass__accounts__partner_image_set__unpack,
                                                    c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    if (need_uuid("partner_id", m->partner_id, err) != 0 ||
        need_same_id("partner_id", m->partner_id, c->env->aggregate_id, err) != 0)
        goto done;
    if (strcmp(m->slot, "logo") != 0 && strcmp(m->slot, "cover") != 0) {
        invalid(err, "slot", "%s is \"%.16s\", not logo or cover", m->slot);
        goto done;
    }
    if (!sha256_hex(m->sha256)) {
        invalid(err, "sha256", "%s is not 64 hex digits: \"%.70s\"", m->sha256);
        goto done;
    }
    if (strcmp(m->content_type, "image/png") != 0 && strcmp(m->content_type, "image/jpeg") != 0) {
        invalid(err, "content_type", "%s is \"%.40s\", not image/png or image/jpeg",
                m->content_type);
        goto done;
    }
    put_text(w, m->partner_id);
    put_int(w, (int64_t)c->env->aggregate_version);
    put_text(w, m->slot);
    put_text(w, m->sha256);
    put_text(w, m->content_type);
    rc = 0;
done:
    solipass__accounts__partner_image_set__free_unpacked(m, NULL);
    return rc;
}

static int build_user_role_changed(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Accounts__UserRoleChanged *m = UNPACK(solipass__accounts__user_role_changed__unpack,
                                                    c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    bool partner_role = m->role == SOLIPASS__ACCOUNTS__ROLE__ROLE_PARTNER_ADMIN ||
                        m->role == SOLIPASS__ACCOUNTS__ROLE__ROLE_PARTNER_USER;
    bool staff_role = m->role == SOLIPASS__ACCOUNTS__ROLE__ROLE_BACKOFFICE ||
                      m->role == SOLIPASS__ACCOUNTS__ROLE__ROLE_FINANCE;
    if (need_uuid("user_id", m->user_id, err) != 0 ||
        need_same_id("user_id", m->user_id, c->env->aggregate_id, err) != 0 ||
        need_uuid_or_empty("partner_id", m->partner_id, err) != 0)
        goto done;
    /* A partner's user keeps a partner role, a staff user (no partner) a staff one. */
    if (m->partner_id[0] != '\0' ? !partner_role : !staff_role) {
        sp_error_set(err, 422, "invalid_event", "role", "role %d does not fit the user's partner",
                     (int)m->role);
        goto done;
    }
    put_text(w, m->user_id);
    put_text(w, role_name(m->role));
    put_id_or_null(w, m->partner_id);
    rc = 0;
done:
    solipass__accounts__user_role_changed__free_unpacked(m, NULL);
    return rc;
}

static int build_user_removed(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Accounts__UserRemoved *m = UNPACK(solipass__accounts__user_removed__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    if (need_uuid("user_id", m->user_id, err) != 0 ||
        need_same_id("user_id", m->user_id, c->env->aggregate_id, err) != 0 ||
        need_uuid_or_empty("partner_id", m->partner_id, err) != 0)
        goto done;
    put_text(w, m->user_id);
    put_id_or_null(w, m->partner_id);
    put_time(w, c->env->occurred_at_ms);
    rc = 0;
done:
    solipass__accounts__user_removed__free_unpacked(m, NULL);
    return rc;
}

#define CONVENTION_TITLE_BYTES_MAX 800 /* 200 characters of UTF-8 */
#define CONVENTION_VERSION_BYTES_MAX 32
#define CONVENTION_TEXT_BYTES_MAX (32 * 1024)

static int need_date(const char *field, const char *value, sp_error *err) {
    sp_date date = 0;
    sp_error ignored;
    if (strlen(value) == 10 && sp_date_parse(value, &date, &ignored) == 0) return 0;
    return invalid(err, field, "%s is not a YYYY-MM-DD date: \"%.16s\"", value);
}

/* A convention's text: UTF-8, line breaks and tabs allowed, bounded. */
static int need_body(const char *field, const char *value, sp_error *err) {
    const unsigned char *p = (const unsigned char *)value;
    size_t i = 0;
    while (p[i] != '\0' && i <= CONVENTION_TEXT_BYTES_MAX) {
        bool spacing = p[i] == '\n' || p[i] == '\r' || p[i] == '\t';
        size_t len = utf8_sequence_length(p + i);
        if (len == 0 || ((p[i] < 0x20 || p[i] == 0x7F) && !spacing)) break;
        i += len;
    }
    if (p[i] == '\0' && i <= CONVENTION_TEXT_BYTES_MAX) return 0;
    return sp_error_set(err, 422, "invalid_event", field,
                        "%s is not UTF-8 text of at most %d bytes", field,
                        CONVENTION_TEXT_BYTES_MAX);
}

static int build_convention_published(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Accounts__ConventionPublished *m = UNPACK(
        solipass__accounts__convention_published__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    if (need_uuid("convention_id", m->convention_id, err) != 0 ||
        need_same_id("convention_id", m->convention_id, c->env->aggregate_id, err) != 0 ||
        need_text("title", m->title, false, CONVENTION_TITLE_BYTES_MAX, err) != 0 ||
        need_text("version", m->version, false, CONVENTION_VERSION_BYTES_MAX, err) != 0 ||
        need_body("text", m->text, err) != 0 ||
        need_date("effective_date", m->effective_date, err) != 0 ||
        need_uuid("published_by", m->published_by, err) != 0)
        goto done;
    put_text(w, m->convention_id);
    put_text(w, m->title);
    put_text(w, m->version);
    put_text(w, m->text);
    put_text(w, m->effective_date);
    put_text(w, m->mandatory ? "true" : "false");
    put_text(w, m->published_by);
    put_time(w, c->env->occurred_at_ms);
    rc = 0;
done:
    solipass__accounts__convention_published__free_unpacked(m, NULL);
    return rc;
}

static int build_convention_accepted(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Accounts__ConventionAccepted *m = UNPACK(
        solipass__accounts__convention_accepted__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    if (need_uuid("partner_id", m->partner_id, err) != 0 ||
        need_same_id("partner_id", m->partner_id, c->env->aggregate_id, err) != 0 ||
        need_uuid("convention_id", m->convention_id, err) != 0 ||
        need_text("version", m->version, false, CONVENTION_VERSION_BYTES_MAX, err) != 0 ||
        need_uuid("user_id", m->user_id, err) != 0 ||
        need_time("accepted_at_ms", m->accepted_at_ms, err) != 0)
        goto done;
    put_text(w, m->partner_id);
    put_text(w, m->convention_id);
    put_text(w, m->version);
    put_text(w, m->user_id);
    put_time(w, m->accepted_at_ms);
    rc = 0;
done:
    solipass__accounts__convention_accepted__free_unpacked(m, NULL);
    return rc;
}

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

static int build_refund_request_opened(const build_ctx *c, row_writer *w, sp_error *err) {
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

static int build_refund_request_confirmed(const build_ctx *c, row_writer *w, sp_error *err) {
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

static int build_refund_request_cancelled(const build_ctx *c, row_writer *w, sp_error *err) {
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

static int build_refund_request_paid(const build_ctx *c, row_writer *w, sp_error *err) {
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

static int build_operations_reserved(const build_ctx *c, row_writer *w, sp_error *err) {
    return build_part_changed(c, w, PART_RESERVED, err);
}

static int build_operations_released(const build_ctx *c, row_writer *w, sp_error *err) {
    return build_part_changed(c, w, PART_RELEASED, err);
}

static int build_operations_settled(const build_ctx *c, row_writer *w, sp_error *err) {
    return build_part_changed(c, w, PART_SETTLED, err);
}

/* ------------------------------------------------------------ dispatch */

typedef int (*build_fn)(const build_ctx *c, row_writer *w, sp_error *err);

typedef struct event_type {
    const char *type;
    const char *topic;
    sp_projection_event_kind kind;
    bool versioned;
    const sp_projection_statement *statement; /* NULL: changes no read model */
    build_fn build;
} event_type;

/* Statement names are the prepared statements' names on every connection. */
const sp_projection_statement sp_projection_statements[] = {
    {"sp_partner_created", partner_created_sql, 5},
    {"sp_user_registered", user_registered_sql, 8},
    {"sp_session_started", session_started_sql, 3},
    {"sp_session_ended", session_ended_sql, 3},
    {"sp_pass_opened", pass_opened_sql, 5},
    {"sp_pass_credited", pass_credited_sql, SP_PROJECTION_CREDIT_PARAM_COUNT},
    {"sp_payment_accepted", payment_accepted_sql, SP_PROJECTION_MOVEMENT_PARAM_COUNT},
    {"sp_envelope_expired", envelope_expired_sql, SP_PROJECTION_MOVEMENT_PARAM_COUNT},
    {"sp_ledger_rejected", ledger_rejected_sql, 3},
    {SP_PROJECTION_OFFSET_UPSERT_STATEMENT, offset_upsert_sql, 3},
    {"sp_password_set", password_set_sql, 3},
    {"sp_voucher_issued", voucher_issued_sql, 13},
    {"sp_voucher_redeemed", voucher_redeemed_sql, 15},
    {"sp_voucher_released", voucher_released_sql, 11},
    {"sp_partner_profile_updated", partner_profile_updated_sql, 15},
    {"sp_partner_image_set", partner_image_set_sql, 5},
    {"sp_user_role_changed", user_role_changed_sql, 3},
    {"sp_user_removed", user_removed_sql, 3},
    {"sp_convention_published", convention_published_sql, 8},
    {"sp_convention_accepted", convention_accepted_sql, 5},
    {"sp_operation_cancelled", operation_cancelled_sql, 12},
    {"sp_operation_reference_set", operation_reference_set_sql, 6},
    {"sp_refund_request_opened", refund_request_opened_sql, 10},
    {"sp_refund_request_confirmed", refund_request_confirmed_sql, 5},
    {"sp_refund_request_cancelled", refund_request_cancelled_sql, 7},
    {"sp_refund_request_paid", refund_request_paid_sql, 5},
    {"sp_operations_reserved", operations_reserved_sql, 9},
    {"sp_operations_released", operations_released_sql, 9},
    {"sp_operations_settled", operations_settled_sql, 9},
    {"sp_reserve_rejected", reserve_rejected_sql, 7}, /* STATEMENT_RESERVE_REJECTED */
    {"sp_pass_closed", pass_closed_sql, 6},
};
const size_t sp_projection_statement_count = sizeof sp_projection_statements /
                                             sizeof sp_projection_statements[0];

#define STATEMENT(i) (&sp_projection_statements[i])

static const event_type event_types[] = {
    {"accounts.PartnerCreated.v1", SP_TOPIC_ACCOUNTS_EVENTS, SP_PROJECTION_PARTNER_CREATED, false,
     STATEMENT(0), build_partner_created},
    {"accounts.UserRegistered.v1", SP_TOPIC_ACCOUNTS_EVENTS, SP_PROJECTION_USER_REGISTERED, false,
     STATEMENT(1), build_user_registered},
    {"accounts.SessionStarted.v1", SP_TOPIC_ACCOUNTS_EVENTS, SP_PROJECTION_SESSION_STARTED, false,
     STATEMENT(2), build_session_started},
    {"accounts.SessionEnded.v1", SP_TOPIC_ACCOUNTS_EVENTS, SP_PROJECTION_SESSION_ENDED, false,
     STATEMENT(3), build_session_ended},
    {"accounts.CommandRejected.v1", SP_TOPIC_ACCOUNTS_EVENTS, SP_PROJECTION_ACCOUNTS_REJECTED,
     false, NULL, build_accounts_rejected},
    {"accounts.ActivationIssued.v1", SP_TOPIC_ACCOUNTS_EVENTS, SP_PROJECTION_ACTIVATION_ISSUED,
     false, NULL, build_activation_issued},
    {"accounts.PasswordSet.v1", SP_TOPIC_ACCOUNTS_EVENTS, SP_PROJECTION_PASSWORD_SET, false,
     STATEMENT(10), build_password_set},
    {"ledger.PassOpened.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_PASS_OPENED, true, STATEMENT(4),
     build_pass_opened},
    {"ledger.PassCredited.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_PASS_CREDITED, true,
     STATEMENT(5), build_pass_credited},
    {"ledger.PaymentAccepted.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_PAYMENT_ACCEPTED, true,
     STATEMENT(6), build_payment_accepted},
    {"ledger.EnvelopeExpired.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_ENVELOPE_EXPIRED, true,
     STATEMENT(7), build_envelope_expired},
    {"ledger.CommandRejected.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_LEDGER_REJECTED, true,
     STATEMENT(8), build_ledger_rejected},
    {"ledger.VoucherIssued.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_VOUCHER_ISSUED, true,
     STATEMENT(11), build_voucher_issued},
    {"ledger.VoucherRedeemed.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_VOUCHER_REDEEMED, true,
     STATEMENT(12), build_voucher_redeemed},
    {"ledger.VoucherCancelled.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_VOUCHER_RELEASED, true,
     STATEMENT(13), build_voucher_released},
    {"ledger.VoucherExpired.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_VOUCHER_RELEASED, true,
     STATEMENT(13), build_voucher_released},
    {"accounts.PartnerProfileUpdated.v1", SP_TOPIC_ACCOUNTS_EVENTS,
     SP_PROJECTION_PARTNER_PROFILE_UPDATED, false, STATEMENT(14), build_partner_profile_updated},
    {"accounts.PartnerImageSet.v1", SP_TOPIC_ACCOUNTS_EVENTS, SP_PROJECTION_PARTNER_IMAGE_SET,
     false, STATEMENT(15), build_partner_image_set},
    {"accounts.UserRoleChanged.v1", SP_TOPIC_ACCOUNTS_EVENTS, SP_PROJECTION_USER_ROLE_CHANGED,
     false, STATEMENT(16), build_user_role_changed},
    {"accounts.UserRemoved.v1", SP_TOPIC_ACCOUNTS_EVENTS, SP_PROJECTION_USER_REMOVED, false,
     STATEMENT(17), build_user_removed},
    {"accounts.ConventionPublished.v1", SP_TOPIC_ACCOUNTS_EVENTS,
     SP_PROJECTION_CONVENTION_PUBLISHED, false, STATEMENT(18), build_convention_published},
    {"accounts.ConventionAccepted.v1", SP_TOPIC_ACCOUNTS_EVENTS, SP_PROJECTION_CONVENTION_ACCEPTED,
     false, STATEMENT(19), build_convention_accepted},
    {"ledger.OperationCancelled.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_OPERATION_CANCELLED,
     true, STATEMENT(20), build_operation_cancelled},
    {"ledger.OperationReferenceSet.v1", SP_TOPIC_LEDGER_EVENTS,
     SP_PROJECTION_OPERATION_REFERENCE_SET, true, STATEMENT(21), build_operation_reference_set},
    {"ledger.RefundRequestOpened.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_REFUND_REQUEST_OPENED,
     true, STATEMENT(22), build_refund_request_opened},
    {"ledger.RefundRequestConfirmed.v1", SP_TOPIC_LEDGER_EVENTS,
     SP_PROJECTION_REFUND_REQUEST_CONFIRMED, true, STATEMENT(23), build_refund_request_confirmed},
    {"ledger.RefundRequestCancelled.v1", SP_TOPIC_LEDGER_EVENTS,
     SP_PROJECTION_REFUND_REQUEST_CANCELLED, true, STATEMENT(24), build_refund_request_cancelled},
    {"ledger.RefundRequestPaid.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_REFUND_REQUEST_PAID, true,
     STATEMENT(25), build_refund_request_paid},
    {"ledger.OperationsReserved.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_OPERATIONS_RESERVED,
     true, STATEMENT(26), build_operations_reserved},
    {"ledger.OperationsReleased.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_OPERATIONS_RELEASED,
     true, STATEMENT(27), build_operations_released},
    {"ledger.OperationsSettled.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_OPERATIONS_SETTLED, true,
     STATEMENT(28), build_operations_settled},
    {"ledger.PassClosed.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_PASS_CLOSED, true, STATEMENT(30),
     build_pass_closed},
};

static const event_type *event_type_find(const char *type) {
    for (size_t i = 0; i < sizeof event_types / sizeof event_types[0]; i++)
        if (strcmp(event_types[i].type, type) == 0) return &event_types[i];
    return NULL;
}

/* The envelope checks that do not depend on the type. */
static int need_envelope(const Solipass__Envelope *env, const sp_kafka_msg *msg,
                         const event_type **type_out, sp_error *err) {
    const event_type *type = event_type_find(env->type);
    if (type == NULL)
        return sp_error_set(err, 422, "unknown_type", "type", "unknown event type \"%.60s\"",
                            env->type);
    if (strcmp(type->topic, msg->topic) != 0)
        return sp_error_set(err, 422, "wrong_topic", "type", "a %s does not belong on %.60s",
                            type->type, msg->topic);
    if (need_time("occurred_at_ms", env->occurred_at_ms, err) != 0 ||
        need_text("command_id", env->command_id, true, SP_PROJECTION_COMMAND_ID_BYTES_MAX, err) !=
            0)
        return -1;
    *type_out = type;
    return 0;
}

/* What the history needs of the envelope (unpack checked the id). */
static void row_take_meta(const Solipass__Envelope *env, sp_projection_row *row) {
    snprintf(row->event_id, sizeof row->event_id, "%s", env->id);
    row->occurred_at_ms = env->occurred_at_ms;
    const char *actor = env->actor_id != NULL && sp_id_valid(env->actor_id) ? env->actor_id : "";
    snprintf(row->actor_id, sizeof row->actor_id, "%s", actor);
    const char *role = env->actor_role != NULL && actor[0] != '\0' &&
                               sp_projection_text_valid(env->actor_role, SP_ENVELOPE_ROLE_MAX)
                           ? env->actor_role
                           : "";
    snprintf(row->actor_role, sizeof row->actor_role, "%s", role);
}

int sp_projection_row_build(const sp_kafka_msg *msg, char *buf, size_t buf_size,
                            sp_projection_row *row, sp_error *err) {
    assert(msg != NULL && msg->topic != NULL && buf != NULL && buf_size > 0 && row != NULL);
    memset(row, 0, sizeof *row);
    if (msg->value == NULL || msg->value_len == 0)
        return sp_error_set(err, 422, "undecodable", "", "empty message (no envelope)");
    sp_error unpack_err;
    Solipass__Envelope *env = sp_envelope_unpack(msg->value, msg->value_len, &unpack_err);
    if (env == NULL)
        return sp_error_set(err, 422, "undecodable", unpack_err.field, "envelope: %s",
                            unpack_err.message);
    int rc = -1;
    const event_type *type = NULL;
    if (need_envelope(env, msg, &type, err) != 0) goto done;
    row_writer w = {.buf = buf, .size = buf_size, .row = row};
    const sp_projection_statement *statement = type->statement;
    build_ctx c = {.env = env, .msg = msg, .statement_override = &statement};
    if (type->build(&c, &w, err) != 0) goto done;
    if (w.overflow) {
        sp_error_set(err, 422, "too_large", "", "the parameters of this %s exceed %zu bytes",
                     type->type, buf_size);
        goto done;
    }
    assert(row->param_count == (statement ? statement->param_count : 0));
    row->kind = type->kind;
    row->type = type->type;
    row->versioned = type->versioned;
    row->sql = statement ? statement->sql : NULL;
    row->statement = statement ? statement->name : NULL;
    row_take_meta(env, row);
    rc = 0;
done:
    if (rc != 0) memset(row, 0, sizeof *row);
    solipass__envelope__free_unpacked(env, NULL);
    return rc;
}
