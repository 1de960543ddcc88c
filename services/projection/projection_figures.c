/* projection_figures.c - the figures and the history each applied event
 * adds (see projection_figures.h). Pure: no I/O.
 *
 * Every statement starts from a one-row (or empty) CTE "c" that holds when
 * the event's own statement, sent right after, will apply; the figures and
 * the history line hang on it. The event's parameters keep their order
 * from $6 on (its $k is $(k+5) here, projection_rows.h lists them). */
#include "projection_figures.h"

#include <assert.h>
#include <string.h>
#include "sp_id.h"

/* ------------------------------------------------------------------ SQL */

#define META_PARAMS SP_PROJECTION_FIGURES_META_PARAMS

/* clang-format off */
/* The history line: the event's meta ($1..$5) then partner, pass, details. */
#define HISTORY(action, partner, pass, details, from)                                    \
    "h AS (INSERT INTO history (event_id, occurred_at, action, actor_id, actor_role, "    \
    "partner_id, pass_id, details) SELECT $1::uuid, $2::timestamptz, " action ", "        \
    "$3::uuid, $4::text, " partner ", " pass ", " details " " from                        \
    " ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*) FROM h"
#define ACTION "$5::text"

/* Where the credited money of a category is: every column moves by a delta
 * (credited = spent + expired + reserved + available holds after each),
 * appended to this transaction's pending deltas and folded into
 * figures_budget once per batch (sp_projection_figures_fold): one row
 * a category updated by every event of a batch would make PostgreSQL walk
 * a chain of that row's versions as long as the batch at each update. */
#define BUDGET(category, credited, spent, expired, reserved, available)                  \
    "b AS (INSERT INTO figures_budget_pending (category, credited_cents, spent_cents, "   \
    "expired_cents, reserved_cents, available_cents) SELECT " category ", " credited ", " \
    spent ", " expired ", " reserved ", " available " FROM c), "

/* A payment on its Europe/Paris day (+1), or one cancelled (-1). */
#define DAILY(at, category, count, amount)                                               \
    "d AS (INSERT INTO figures_daily_pending (day, category, payment_count, amount_cents) " \
    "SELECT (" at " AT TIME ZONE 'Europe/Paris')::date, " category ", " count ", " amount  \
    " FROM c), "
#define DAILY_PAYMENT(at, category, amount) DAILY(at, category, "1", amount)

/* The pass's next version ($1 pass_id, $2 aggregate_version of the event). */
#define PASS_NEXT "EXISTS (SELECT 1 FROM passes WHERE pass_id = $6::uuid " \
                  "AND version = $7::bigint - 1)"
#define PASS_C "WITH c AS (SELECT 1 WHERE " PASS_NEXT "), "

#define ALWAYS_FROM "FROM (SELECT 1) AS one"
#define USER_JOIN(user) ALWAYS_FROM " LEFT JOIN users u ON u.user_id = " user

/* accounts: $1 partner_id $2 partner_code $3 name $4 category */
static const char partner_created_sql[] =
    "WITH " HISTORY(ACTION, "$6::uuid", "NULL::uuid",
                    "jsonb_build_object('name', $8::text, 'partner_code', $7::text, "
                    "'category', $9::text)", ALWAYS_FROM);

/* $1 user_id $2 email $4 full_name $5 role $6 partner_id $7 pass_id */
static const char user_registered_sql[] =
    "WITH " HISTORY(ACTION, "$11::uuid", "$12::uuid",
                    "jsonb_build_object('user_id', $6::text, 'email', $7::text, "
                    "'full_name', $9::text, 'role', $10::text)", ALWAYS_FROM);

#define USER_DETAILS "'user_id', $6::text, 'email', u.email, 'full_name', u.full_name"

/* $1 user_id */
static const char password_set_sql[] =
    "WITH " HISTORY(ACTION, "u.partner_id", "u.pass_id",
                    "jsonb_build_object(" USER_DETAILS ")", USER_JOIN("$6::uuid"));

/* $1 user_id $2 role $3 partner_id: the role it had is still in users. */
static const char user_role_changed_sql[] =
    "WITH " HISTORY(ACTION, "$8::uuid", "NULL::uuid",
                    "jsonb_build_object(" USER_DETAILS ", 'role', $7::text, "
                    "'previous_role', u.role)", USER_JOIN("$6::uuid"));

/* $1 user_id $2 partner_id */
static const char user_removed_sql[] =
    "WITH " HISTORY(ACTION, "$7::uuid", "NULL::uuid",
                    "jsonb_build_object(" USER_DETAILS ")", USER_JOIN("$6::uuid"));

/* $1 convention_id $2 title $3 version */
static const char convention_published_sql[] =
    "WITH " HISTORY(ACTION, "NULL::uuid", "NULL::uuid",
                    "jsonb_build_object('convention_id', $6::text, 'title', $7::text, "
                    "'version', $8::text)", ALWAYS_FROM);

/* $1 partner_id $2 convention_id $3 version */
static const char convention_accepted_sql[] =
    "WITH " HISTORY(ACTION, "$6::uuid", "NULL::uuid",
                    "jsonb_build_object('convention_id', $7::text, 'version', $8::text, "
                    "'title', (SELECT title FROM conventions WHERE convention_id = $7::uuid))",
                    ALWAYS_FROM);

/* $1 partner_id $2 aggregate_version $3 legal_name $4 public_name
 * $5 description $6 website $7 social_links $8 hq_address $9 activity_address
 * $10 contact_phone $11 contact_email $12 iban $13 bic $14 bank_holder
 * ($15 occurred_at, for partner_bank_details): compared with the row the
 * update replaces. */
#define CHANGED(column, param, label) \
    "CASE WHEN p." column " IS DISTINCT FROM " param " THEN '" label "'::text END"
#define BANK_CHANGED                                                                     \
    "(p.iban IS DISTINCT FROM $17::text OR p.bic IS DISTINCT FROM $18::text OR "          \
    "p.bank_holder IS DISTINCT FROM $19::text)"
static const char partner_profile_updated_sql[] =
    "WITH " HISTORY("CASE WHEN " BANK_CHANGED " THEN 'bank_details_changed' ELSE " ACTION
                    " END", "p.partner_id", "NULL::uuid",
                    "jsonb_build_object('changed', to_jsonb(array_remove(ARRAY["
                    CHANGED("legal_name", "$8::text", "legal_name") ", "
                    CHANGED("name", "$9::text", "public_name") ", "
                    CHANGED("description", "$10::text", "description") ", "
                    CHANGED("website", "$11::text", "website") ", "
                    CHANGED("social_links", "$12::text[]", "social_links") ", "
                    CHANGED("hq_address", "$13::text", "hq_address") ", "
                    CHANGED("activity_address", "$14::text", "activity_address") ", "
                    CHANGED("contact_phone", "$15::text", "contact_phone") ", "
                    CHANGED("contact_email", "$16::text", "contact_email") ", "
                    CHANGED("iban", "$17::text", "iban") ", "
                    CHANGED("bic", "$18::text", "bic") ", "
                    CHANGED("bank_holder", "$19::text", "bank_holder") "], NULL)), "
                    "'iban_last4', CASE WHEN " BANK_CHANGED " AND $17::text <> '' "
                    "THEN right($17::text, 4) END)",
                    "FROM partners p WHERE p.partner_id = $6::uuid "
                    "AND p.profile_version < $7::bigint");

/* $1 partner_id $2 aggregate_version $3 slot */
static const char partner_image_set_sql[] =
    "WITH " HISTORY(ACTION, "p.partner_id", "NULL::uuid", "jsonb_build_object('slot', $8::text)",
                    "FROM partners p WHERE p.partner_id = $6::uuid "
                    "AND p.profile_version < $7::bigint");

/* $1 pass_id $2 beneficiary_id $3 opened_at $4 categories */
static const char pass_opened_sql[] =
    "WITH c AS (SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM passes WHERE pass_id = $6::uuid)), "
    HISTORY(ACTION, "NULL::uuid", "$6::uuid",
            "jsonb_build_object('beneficiary_id', $7::text, 'categories', to_jsonb($9::text[]))",
            "FROM c");

/* Movements: $1 pass_id $2 version $3 occurred_at $4 category $7 operation_id
 * $8 amount $15 partner_id (projection_rows.h). */
#define MOVEMENT_DETAILS(extra)                                                          \
    "jsonb_build_object('operation_id', $12::text, 'category', $9::text, "                \
    "'amount_cents', $13::bigint" extra ")"

/* A credit's details name the envelope's end date after it ($17 + 5), when
 * it has one: the history shows who set or extended it. */
static const char pass_credited_sql[] =
    PASS_C BUDGET("$9::text", "$13::bigint", "0", "0", "0", "$13::bigint")
    HISTORY(ACTION, "NULL::uuid", "$6::uuid",
            "(" MOVEMENT_DETAILS("") " || CASE WHEN $22::text IS NULL THEN '{}'::jsonb "
            "ELSE jsonb_build_object('end_date', $22::text) END)", "FROM c");

static const char payment_accepted_sql[] =
    PASS_C BUDGET("$9::text", "0", "$13::bigint", "0", "0", "0 - $13::bigint")
    DAILY_PAYMENT("$8::timestamptz", "$9::text", "$13::bigint")
    HISTORY(ACTION, "$20::uuid", "$6::uuid", MOVEMENT_DETAILS(", 'channel', 'code'"), "FROM c");

static const char envelope_expired_sql[] =
    PASS_C BUDGET("$9::text", "0", "0", "$13::bigint", "0", "0 - $13::bigint")
    HISTORY(ACTION, "NULL::uuid", "$6::uuid",
            "jsonb_build_object('category', $9::text, 'amount_cents', $13::bigint)", "FROM c");

/* Vouchers: $1 pass_id $2 version $3 occurred_at $4 voucher_id $5 category
 * $6 envelope balance after (redeemed: the amount), then
 *   issued: $10 amount $12 valid_until $13 partner_id
 *   redeemed: $10 operation_id $11 partner_id
 *   released: $11 returned to the envelope (the amount is the voucher's) */
static const char voucher_issued_sql[] =
    PASS_C BUDGET("$10::text", "0", "0", "0", "$15::bigint", "0 - $15::bigint")
    HISTORY(ACTION, "$18::uuid", "$6::uuid",
            "jsonb_build_object('voucher_id', $9::text, 'category', $10::text, "
            "'amount_cents', $15::bigint, 'valid_until', $17::text)", "FROM c");

static const char voucher_redeemed_sql[] =
    PASS_C BUDGET("$10::text", "0", "$11::bigint", "0", "0 - $11::bigint", "0")
    DAILY_PAYMENT("$8::timestamptz", "$10::text", "$11::bigint")
    HISTORY(ACTION, "$16::uuid", "$6::uuid",
            "jsonb_build_object('voucher_id', $9::text, 'operation_id', $15::text, "
            "'category', $10::text, 'amount_cents', $11::bigint, 'channel', 'voucher')",
            "FROM c");

#define RETURNED_OR_ZERO(returned, amount) \
    "CASE WHEN " returned " THEN " amount " ELSE 0 END"
#define ZERO_OR_RETURNED(returned, amount) \
    "CASE WHEN " returned " THEN 0 ELSE " amount " END"

static const char voucher_released_sql[] =
    "WITH c AS (SELECT v.amount_cents AS amount, v.partner_id FROM vouchers v "
    "WHERE v.voucher_id = $9::uuid AND " PASS_NEXT "), "
    BUDGET("$10::text", "0", "0", ZERO_OR_RETURNED("$16::boolean", "c.amount"), "0 - c.amount",
           RETURNED_OR_ZERO("$16::boolean", "c.amount"))
    HISTORY(ACTION, "c.partner_id", "$6::uuid",
            "jsonb_build_object('voucher_id', $9::text, 'category', $10::text, "
            "'amount_cents', c.amount, 'returned_to_envelope', $16::boolean)", "FROM c");

/* $1 pass_id $2 version $4 operation_id $5 category $10 partner_id $11 amount
 * $12 returned to the envelope: the payment leaves the day it was made. */
static const char operation_cancelled_sql[] =
    "WITH c AS (SELECT (SELECT o.occurred_at FROM operations o WHERE o.operation_id = $9::uuid) "
    "AS paid_at WHERE " PASS_NEXT "), "
    DAILY("c.paid_at", "$10::text", "-1", "0 - $16::bigint")
    BUDGET("$10::text", "0", "0 - $16::bigint", ZERO_OR_RETURNED("$17::boolean", "$16::bigint"),
           "0", RETURNED_OR_ZERO("$17::boolean", "$16::bigint"))
    HISTORY(ACTION, "$15::uuid", "$6::uuid",
            "jsonb_build_object('operation_id', $9::text, 'category', $10::text, "
            "'amount_cents', $16::bigint, 'returned_to_envelope', $17::boolean)", "FROM c");

/* $1 pass_id $2 version $4 operation_id $5 partner_id $6 reference */
static const char operation_reference_set_sql[] =
    PASS_C HISTORY(ACTION, "$10::uuid", "$6::uuid",
                   "jsonb_build_object('operation_id', $9::text, 'reference', $11::text)",
                   "FROM c");

/* $1 request_id $2 partner_id $3 kind $4 period $5 expected_total_cents */
static const char refund_request_opened_sql[] =
    "WITH c AS (SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM refund_requests "
    "WHERE request_id = $6::uuid)), "
    HISTORY(ACTION, "$7::uuid", "NULL::uuid",
            "jsonb_build_object('request_id', $6::text, 'kind', $8::text, 'period', $9::text, "
            "'expected_total_cents', $10::bigint)", "FROM c");

/* The request's next version: $1 request_id $2 aggregate_version. */
#define REQUEST_C                                                                        \
    "WITH c AS (SELECT r.partner_id, r.total_cents FROM refund_requests r "               \
    "WHERE r.request_id = $6::uuid AND r.version = $7::bigint - 1), "

/* $4 total_cents $5 operation_count */
static const char refund_request_confirmed_sql[] =
    REQUEST_C HISTORY(ACTION, "c.partner_id", "NULL::uuid",
                      "jsonb_build_object('request_id', $6::text, 'total_cents', $9::bigint, "
                      "'operation_count', $10::bigint)", "FROM c");

/* $4 reason $5 code $6 message */
static const char refund_request_cancelled_sql[] =
    REQUEST_C HISTORY(ACTION, "c.partner_id", "NULL::uuid",
                      "jsonb_build_object('request_id', $6::text, 'reason', $9::text, "
                      "'code', $10::text, 'message', $11::text)", "FROM c");

/* $4 transfer_reference $5 paid_on */
static const char refund_request_paid_sql[] =
    REQUEST_C HISTORY(ACTION, "c.partner_id", "NULL::uuid",
                      "jsonb_build_object('request_id', $6::text, 'total_cents', c.total_cents, "
                      "'transfer_reference', $9::text, 'paid_on', $10::text)", "FROM c");

/* $1 pass_id $2 version $3 occurred_at $4 accounts $5 deltas $6 voucher_ids:
 * each envelope's remainder (account pass:P:C, delta minus its amount) and
 * each open voucher's reservation go back to the budget, as "expired" money
 * (available or reserved before). Read before the close applies: the
 * vouchers are still active and name their category. */
static const char pass_closed_sql[] =
    PASS_C
    "r AS (SELECT u.account, 0 - u.delta AS amount FROM c, "
    "unnest($9::text[], $10::bigint[]) AS u(account, delta) WHERE u.account <> 'budget'), "
    "b AS (INSERT INTO figures_budget_pending (category, credited_cents, spent_cents, "
    "expired_cents, reserved_cents, available_cents) "
    "SELECT split_part(r.account, ':', 3), 0, 0, r.amount, 0, 0 - r.amount FROM r "
    "WHERE r.account LIKE 'pass:%' UNION ALL "
    "SELECT v.category, 0, 0, r.amount, 0 - r.amount, 0 FROM r JOIN vouchers v "
    "ON r.account = 'voucher:' || v.voucher_id::text), "
    HISTORY(ACTION, "NULL::uuid", "$6::uuid",
            "jsonb_build_object('returned_cents', (SELECT coalesce(sum(r.amount), 0) FROM r), "
            "'vouchers_cancelled', cardinality($11::uuid[]))", "FROM c");

/* Per connection, before the statements are prepared: the batch's pending
 * deltas, emptied by the fold (and by any commit or rollback). */
const char *const sp_projection_figures_pending_sql[SP_PROJECTION_FIGURES_PENDING_TABLES] = {
    "CREATE TEMP TABLE IF NOT EXISTS figures_budget_pending (category text NOT NULL, "
    "credited_cents bigint NOT NULL, spent_cents bigint NOT NULL, expired_cents bigint NOT NULL, "
    "reserved_cents bigint NOT NULL, available_cents bigint NOT NULL) ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE IF NOT EXISTS figures_daily_pending (day date NOT NULL, "
    "category text NOT NULL, payment_count bigint NOT NULL, amount_cents bigint NOT NULL) "
    "ON COMMIT DELETE ROWS",
};

/* Once per batch, after its events: one upsert per touched row. Any key a
 * batch touched gets its row (even at zero), so a replay's other batch
 * boundaries give the same rows. */
const sp_projection_statement sp_projection_figures_fold = {
    "spf_fold",
    "WITH pb AS (DELETE FROM figures_budget_pending RETURNING *), "
    "pd AS (DELETE FROM figures_daily_pending RETURNING *), "
    "b AS (INSERT INTO figures_budget AS f (category, credited_cents, spent_cents, "
    "expired_cents, reserved_cents, available_cents) SELECT category, sum(credited_cents), "
    "sum(spent_cents), sum(expired_cents), sum(reserved_cents), sum(available_cents) FROM pb "
    "GROUP BY category " SP_PROJECTION_FIGURES_BUDGET_ADD "), "
    "d AS (INSERT INTO figures_daily AS f (day, category, payment_count, amount_cents) "
    "SELECT day, category, sum(payment_count), sum(amount_cents) FROM pd GROUP BY day, category "
    SP_PROJECTION_FIGURES_DAILY_ADD ") "
    "SELECT 1",
    0};
/* clang-format on */

/* Prepared with every parameter typed text: 5 of the meta plus the event's. */
#define STATEMENT(name, sql, event_params) \
    { name, sql, META_PARAMS + (event_params) }
const sp_projection_statement sp_projection_figures_statements[] = {
    STATEMENT("spf_partner_created", partner_created_sql, 5),
    STATEMENT("spf_user_registered", user_registered_sql, 8),
    STATEMENT("spf_password_set", password_set_sql, 3),
    STATEMENT("spf_user_role_changed", user_role_changed_sql, 3),
    STATEMENT("spf_user_removed", user_removed_sql, 3),
    STATEMENT("spf_convention_published", convention_published_sql, 8),
    STATEMENT("spf_convention_accepted", convention_accepted_sql, 5),
    STATEMENT("spf_partner_profile_updated", partner_profile_updated_sql, 15),
    STATEMENT("spf_partner_image_set", partner_image_set_sql, 5),
    STATEMENT("spf_pass_opened", pass_opened_sql, 5),
    STATEMENT("spf_pass_credited", pass_credited_sql, SP_PROJECTION_CREDIT_PARAM_COUNT),
    STATEMENT("spf_payment_accepted", payment_accepted_sql, SP_PROJECTION_MOVEMENT_PARAM_COUNT),
    STATEMENT("spf_envelope_expired", envelope_expired_sql, SP_PROJECTION_MOVEMENT_PARAM_COUNT),
    STATEMENT("spf_voucher_issued", voucher_issued_sql, 13),
    STATEMENT("spf_voucher_redeemed", voucher_redeemed_sql, 15),
    STATEMENT("spf_voucher_released", voucher_released_sql, 11),
    STATEMENT("spf_operation_cancelled", operation_cancelled_sql, 12),
    STATEMENT("spf_operation_reference_set", operation_reference_set_sql, 6),
    STATEMENT("spf_refund_request_opened", refund_request_opened_sql, 10),
    STATEMENT("spf_refund_request_confirmed", refund_request_confirmed_sql, 5),
    STATEMENT("spf_refund_request_cancelled", refund_request_cancelled_sql, 7),
    STATEMENT("spf_refund_request_paid", refund_request_paid_sql, 5),
    STATEMENT("spf_pass_closed", pass_closed_sql, 6),
};
const size_t sp_projection_figures_statement_count = sizeof sp_projection_figures_statements /
                                                     sizeof sp_projection_figures_statements[0];

/* ------------------------------------------------------------ the one table
 *
 * Event type -> history action (and its statement). The action codes are
 * the API's (docs/api.md, HistoryEntry.action): a new event type is one
 * line here, its action in the schema's enum, and its statement above.
 * Not listed, on purpose: sessions (logins would drown the trail; the
 * sessions table keeps them), activation links and refusals (they change
 * nothing), and the per-pass steps of a refund request (the request's own
 * events tell it on the partner's history). */
const sp_projection_figures_entry sp_projection_figures_entries[] = {
    {"accounts.PartnerCreated.v1", "partner_created", "spf_partner_created"},
    {"accounts.UserRegistered.v1", "user_added", "spf_user_registered"},
    {"accounts.PasswordSet.v1", "password_set", "spf_password_set"},
    {"accounts.UserRoleChanged.v1", "role_changed", "spf_user_role_changed"},
    {"accounts.UserRemoved.v1", "user_removed", "spf_user_removed"},
    {"accounts.ConventionPublished.v1", "convention_published", "spf_convention_published"},
    {"accounts.ConventionAccepted.v1", "convention_accepted", "spf_convention_accepted"},
    /* bank_details_changed instead when the IBAN, BIC or holder changed */
    {"accounts.PartnerProfileUpdated.v1", "structure_updated", "spf_partner_profile_updated"},
    {"accounts.PartnerImageSet.v1", "structure_image_set", "spf_partner_image_set"},
    {"ledger.PassOpened.v1", "pass_opened", "spf_pass_opened"},
    {"ledger.PassCredited.v1", "credit", "spf_pass_credited"},
    {"ledger.PaymentAccepted.v1", "payment_accepted", "spf_payment_accepted"},
    {"ledger.EnvelopeExpired.v1", "envelope_expired", "spf_envelope_expired"},
    {"ledger.VoucherIssued.v1", "voucher_issued", "spf_voucher_issued"},
    {"ledger.VoucherRedeemed.v1", "voucher_redeemed", "spf_voucher_redeemed"},
    {"ledger.VoucherCancelled.v1", "voucher_cancelled", "spf_voucher_released"},
    {"ledger.VoucherExpired.v1", "voucher_expired", "spf_voucher_released"},
    {"ledger.OperationCancelled.v1", "payment_cancelled", "spf_operation_cancelled"},
    {"ledger.OperationReferenceSet.v1", "operation_reference_set", "spf_operation_reference_set"},
    {"ledger.RefundRequestOpened.v1", "refund_requested", "spf_refund_request_opened"},
    {"ledger.RefundRequestConfirmed.v1", "refund_confirmed", "spf_refund_request_confirmed"},
    {"ledger.RefundRequestCancelled.v1", "refund_cancelled", "spf_refund_request_cancelled"},
    {"ledger.RefundRequestPaid.v1", "refund_paid", "spf_refund_request_paid"},
    {"ledger.PassClosed.v1", "pass_closed", "spf_pass_closed"},
};
const size_t sp_projection_figures_entry_count = sizeof sp_projection_figures_entries /
                                                 sizeof sp_projection_figures_entries[0];

/* ------------------------------------------------------------ building */

static const sp_projection_figures_entry *entry_of(const char *type) {
    assert(type != NULL);
    for (size_t i = 0; i < sp_projection_figures_entry_count; i++)
        if (strcmp(sp_projection_figures_entries[i].type, type) == 0)
            return &sp_projection_figures_entries[i];
    return NULL;
}

const sp_projection_statement *sp_projection_figures_statement(const char *name) {
    assert(name != NULL);
    for (size_t i = 0; i < sp_projection_figures_statement_count; i++)
        if (strcmp(sp_projection_figures_statements[i].name, name) == 0)
            return &sp_projection_figures_statements[i];
    return NULL;
}

const char *sp_projection_figures_action(const char *type) {
    assert(type != NULL);
    const sp_projection_figures_entry *entry = entry_of(type);
    return entry != NULL ? entry->action : NULL;
}

void sp_projection_figures_build(const sp_projection_row *row, sp_projection_figures_row *out) {
    assert(row != NULL);
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    const sp_projection_figures_entry *entry = row->type != NULL ? entry_of(row->type) : NULL;
    if (entry == NULL || row->sql == NULL) return;
    const sp_projection_statement *statement = sp_projection_figures_statement(entry->statement);
    assert(statement != NULL);
    assert(sp_id_valid(row->event_id));
    /* The statement reads the event's parameters by position: same layout. */
    assert(statement->param_count == META_PARAMS + row->param_count);
    sp_projection_time_format(row->occurred_at_ms, out->occurred_at);
    out->statement = statement->name;
    out->action = entry->action;
    out->params[0] = row->event_id;
    out->params[1] = out->occurred_at;
    out->params[2] = row->actor_id[0] != '\0' ? row->actor_id : NULL;
    out->params[3] = row->actor_id[0] != '\0' && row->actor_role[0] != '\0' ? row->actor_role
                                                                            : NULL;
    out->params[4] = entry->action;
    for (int i = 0; i < row->param_count; i++) out->params[META_PARAMS + i] = row->params[i];
    out->param_count = META_PARAMS + row->param_count;
}
