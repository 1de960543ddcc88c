/* ledger_decide.c - the ledger's rules: what OpenPass, CreditPass and Pay do
 * to a pass (an event, a recorded rejection, or a reply without event), and
 * which envelopes expire. Deciding never changes the state; the caller
 * applies the decided event with sp_ledger_apply, like a rebuild would. */
#include "ledger.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_internal.h"
#include "sp_money.h"

#define COMMAND_ID_CLIENT_MAX 64 /* an Idempotency-Key: 1 to 64 of [A-Za-z0-9_-] */

/* ------------------------------------------------------------ request hashes */

static const char *text_or_empty(const char *text) {
    return text != NULL ? text : "";
}

void sp_ledger_hash_open(uint8_t out[SP_KEY_LEN], const char *pass_id, const char *beneficiary_id,
                         size_t envelope_count, const char *const *categories,
                         const char *const *end_dates) {
    char count_text[24];
    snprintf(count_text, sizeof count_text, "%zu", envelope_count);
    sp_key_of(out, SP_LEDGER_TYPE_OPEN_PASS, text_or_empty(pass_id), text_or_empty(beneficiary_id),
              count_text);
    size_t hashed_count = envelope_count < SP_LEDGER_ENVELOPES_MAX ? envelope_count
                                                                   : SP_LEDGER_ENVELOPES_MAX;
    /* Chained so that any length of field fits: key = H(hex(previous key), category, date). */
    for (size_t i = 0; i < hashed_count; i++) {
        char previous[2 * SP_KEY_LEN + 1];
        for (size_t b = 0; b < SP_KEY_LEN; b++) snprintf(previous + 2 * b, 3, "%02x", out[b]);
        sp_key_of(out, previous, text_or_empty(categories[i]), text_or_empty(end_dates[i]), NULL);
    }
}

void sp_ledger_hash_credit(uint8_t out[SP_KEY_LEN], const char *pass_id, const char *category,
                           int64_t amount_cents, const char *end_date) {
    char amount_text[24];
    snprintf(amount_text, sizeof amount_text, "%" PRId64, amount_cents);
    sp_key_of(out, SP_LEDGER_TYPE_CREDIT_PASS, text_or_empty(pass_id), text_or_empty(category),
              amount_text);
    /* Without an end date the key is the one credits had before end dates
     * existed, so a retry of such a credit still finds its outcome. */
    if (end_date == NULL || end_date[0] == '\0') return;
    char previous[2 * SP_KEY_LEN + 1];
    for (size_t b = 0; b < SP_KEY_LEN; b++) snprintf(previous + 2 * b, 3, "%02x", out[b]);
    sp_key_of(out, previous, "end_date", end_date, NULL);
}

void sp_ledger_hash_pay(uint8_t out[SP_KEY_LEN], const char *pass_id, const char *partner_code,
                        int64_t amount_cents) {
    char amount_text[24];
    snprintf(amount_text, sizeof amount_text, "%" PRId64, amount_cents);
    sp_key_of(out, SP_LEDGER_TYPE_PAY, text_or_empty(pass_id), text_or_empty(partner_code),
              amount_text);
}

void sp_ledger_hash_issue(uint8_t out[SP_KEY_LEN], const char *pass_id, int64_t amount_cents,
                          const char *category, const char *partner_code) {
    char amount_text[24];
    snprintf(amount_text, sizeof amount_text, "%" PRId64, amount_cents);
    uint8_t head[SP_KEY_LEN];
    sp_key_of(head, SP_LEDGER_TYPE_ISSUE_VOUCHER, text_or_empty(pass_id), amount_text, NULL);
    char head_hex[2 * SP_KEY_LEN + 1];
    for (size_t b = 0; b < SP_KEY_LEN; b++) snprintf(head_hex + 2 * b, 3, "%02x", head[b]);
    sp_key_of(out, head_hex, text_or_empty(category), text_or_empty(partner_code), NULL);
}

void sp_ledger_hash_redeem(uint8_t out[SP_KEY_LEN], const char *pass_id, const char *voucher_id,
                           const char *voucher_number, const char *partner_code) {
    uint8_t head[SP_KEY_LEN];
    sp_key_of(head, SP_LEDGER_TYPE_REDEEM_VOUCHER, text_or_empty(pass_id),
              text_or_empty(voucher_id), NULL);
    char head_hex[2 * SP_KEY_LEN + 1];
    for (size_t b = 0; b < SP_KEY_LEN; b++) snprintf(head_hex + 2 * b, 3, "%02x", head[b]);
    sp_key_of(out, head_hex, text_or_empty(voucher_number), text_or_empty(partner_code), NULL);
}

void sp_ledger_hash_cancel(uint8_t out[SP_KEY_LEN], const char *pass_id, const char *voucher_id) {
    sp_key_of(out, SP_LEDGER_TYPE_CANCEL_VOUCHER, text_or_empty(pass_id), text_or_empty(voucher_id),
              NULL);
}

/* A code as typed ("1234 5678") is compared in its normalized form. */
static bool partner_code_of(const char *typed, char code[SP_PARTNER_CODE_LEN + 1]) {
    if (typed == NULL || !sp_partner_code_normalize(typed, code)) return false;
    return code[0] != '0' && sp_luhn_valid(code);
}

static void command_hash(const sp_ledger_command *command, uint8_t out[SP_KEY_LEN]) {
    switch (command->kind) {
    case SP_LEDGER_COMMAND_OPEN_PASS:
        sp_ledger_hash_open(out, command->pass_id, command->beneficiary_id, command->envelope_count,
                            command->envelope_categories, command->envelope_end_dates);
        return;
    case SP_LEDGER_COMMAND_CREDIT_PASS:
        sp_ledger_hash_credit(out, command->pass_id, command->category, command->amount_cents,
                              command->end_date);
        return;
    case SP_LEDGER_COMMAND_PAY: {
        char code[SP_PARTNER_CODE_LEN + 1];
        bool normal = partner_code_of(command->partner_code, code);
        sp_ledger_hash_pay(out, command->pass_id, normal ? code : command->partner_code,
                           command->amount_cents);
        return;
    }
    case SP_LEDGER_COMMAND_ISSUE_VOUCHER:
        sp_ledger_hash_issue(out, command->pass_id, command->amount_cents, command->category,
                             command->partner_code);
        return;
    case SP_LEDGER_COMMAND_REDEEM_VOUCHER:
        sp_ledger_hash_redeem(out, command->pass_id, command->voucher_id, command->voucher_number,
                              command->partner_code);
        return;
    case SP_LEDGER_COMMAND_CANCEL_VOUCHER:
        sp_ledger_hash_cancel(out, command->pass_id, command->voucher_id);
        return;
    case SP_LEDGER_COMMAND_CANCEL_OPERATION:
        sp_ledger_hash_cancel_operation(out, command->pass_id, command->operation_id,
                                        command->partner_id);
        return;
    case SP_LEDGER_COMMAND_SET_OPERATION_REFERENCE:
        sp_ledger_hash_set_reference(out, command->pass_id, command->operation_id,
                                     command->partner_id, command->reference);
        return;
    case SP_LEDGER_COMMAND_OPEN_REFUND_REQUEST:
    case SP_LEDGER_COMMAND_CONFIRM_REFUND_REQUEST:
    case SP_LEDGER_COMMAND_ABORT_REFUND_REQUEST:
    case SP_LEDGER_COMMAND_CANCEL_REFUND_REQUEST:
    case SP_LEDGER_COMMAND_MARK_REFUND_REQUEST_PAID:
    case SP_LEDGER_COMMAND_RESERVE_OPERATIONS:
    case SP_LEDGER_COMMAND_RELEASE_OPERATIONS:
    case SP_LEDGER_COMMAND_SETTLE_OPERATIONS: sp_ledger_hash_refund(command, out); return;
    case SP_LEDGER_COMMAND_CLOSE_PASS:
        sp_ledger_hash_close(out, command->pass_id, command->reason);
        return;
    }
    assert(!"unknown ledger command kind");
}

const char *sp_ledger_command_type(sp_ledger_command_kind kind) {
    switch (kind) {
    case SP_LEDGER_COMMAND_OPEN_PASS: return SP_LEDGER_TYPE_OPEN_PASS;
    case SP_LEDGER_COMMAND_CREDIT_PASS: return SP_LEDGER_TYPE_CREDIT_PASS;
    case SP_LEDGER_COMMAND_PAY: return SP_LEDGER_TYPE_PAY;
    case SP_LEDGER_COMMAND_ISSUE_VOUCHER: return SP_LEDGER_TYPE_ISSUE_VOUCHER;
    case SP_LEDGER_COMMAND_REDEEM_VOUCHER: return SP_LEDGER_TYPE_REDEEM_VOUCHER;
    case SP_LEDGER_COMMAND_CANCEL_VOUCHER: return SP_LEDGER_TYPE_CANCEL_VOUCHER;
    case SP_LEDGER_COMMAND_CANCEL_OPERATION: return SP_LEDGER_TYPE_CANCEL_OPERATION;
    case SP_LEDGER_COMMAND_SET_OPERATION_REFERENCE: return SP_LEDGER_TYPE_SET_OPERATION_REFERENCE;
    case SP_LEDGER_COMMAND_OPEN_REFUND_REQUEST: return SP_LEDGER_TYPE_OPEN_REFUND_REQUEST;
    case SP_LEDGER_COMMAND_CONFIRM_REFUND_REQUEST: return SP_LEDGER_TYPE_CONFIRM_REFUND_REQUEST;
    case SP_LEDGER_COMMAND_ABORT_REFUND_REQUEST: return SP_LEDGER_TYPE_ABORT_REFUND_REQUEST;
    case SP_LEDGER_COMMAND_CANCEL_REFUND_REQUEST: return SP_LEDGER_TYPE_CANCEL_REFUND_REQUEST;
    case SP_LEDGER_COMMAND_MARK_REFUND_REQUEST_PAID: return SP_LEDGER_TYPE_MARK_REFUND_REQUEST_PAID;
    case SP_LEDGER_COMMAND_RESERVE_OPERATIONS: return SP_LEDGER_TYPE_RESERVE_OPERATIONS;
    case SP_LEDGER_COMMAND_RELEASE_OPERATIONS: return SP_LEDGER_TYPE_RELEASE_OPERATIONS;
    case SP_LEDGER_COMMAND_SETTLE_OPERATIONS: return SP_LEDGER_TYPE_SETTLE_OPERATIONS;
    case SP_LEDGER_COMMAND_CLOSE_PASS: return SP_LEDGER_TYPE_CLOSE_PASS;
    }
    return "";
}

bool sp_ledger_command_is_refund_request(sp_ledger_command_kind kind) {
    return kind == SP_LEDGER_COMMAND_OPEN_REFUND_REQUEST ||
           kind == SP_LEDGER_COMMAND_CONFIRM_REFUND_REQUEST ||
           kind == SP_LEDGER_COMMAND_ABORT_REFUND_REQUEST ||
           kind == SP_LEDGER_COMMAND_CANCEL_REFUND_REQUEST ||
           kind == SP_LEDGER_COMMAND_MARK_REFUND_REQUEST_PAID;
}

/* ------------------------------------------------------------ validation */

int sp_ledger_command_identity_valid(const char *pass_id, const char *actor_id,
                                     const char *command_id, sp_error *err) {
    if (pass_id == NULL || !sp_id_valid(pass_id)) {
        return sp_error_set(err, 400, "invalid_value", "pass_id", "pass id is not a uuid");
    }
    if (actor_id == NULL || (actor_id[0] != '\0' && !sp_id_valid(actor_id))) {
        return sp_error_set(err, 400, "invalid_value", "actor_id", "actor id is not a uuid");
    }
    size_t len = command_id != NULL ? strnlen(command_id, COMMAND_ID_CLIENT_MAX + 1) : 0;
    bool ok = len >= 1 && len <= COMMAND_ID_CLIENT_MAX;
    for (size_t i = 0; ok && i < len; i++) {
        char c = command_id[i];
        ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
             c == '-' || c == '_';
    }
    if (!ok) {
        return sp_error_set(err, 400, "invalid_value", "command_id",
                            "command id must be 1 to 64 of A-Z a-z 0-9 - _");
    }
    return 0;
}

static int validate_envelope_specs(const sp_ledger_command *command, sp_error *err) {
    if (command->envelope_count < 1 || command->envelope_count > SP_LEDGER_ENVELOPES_MAX) {
        return sp_error_set(err, 400, "invalid_value", "envelopes",
                            "a pass has 1 to %d envelopes, got %zu", SP_LEDGER_ENVELOPES_MAX,
                            command->envelope_count);
    }
    for (size_t i = 0; i < command->envelope_count; i++) {
        const char *category = command->envelope_categories[i];
        if (!sp_ledger_category_valid(category)) {
            return sp_error_set(err, 422, "invalid_category", "envelopes",
                                "envelope %zu: a category is 2 to 32 of a-z 0-9 _ starting "
                                "with a letter",
                                i + 1);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(category, command->envelope_categories[j]) == 0) {
                return sp_error_set(err, 422, "invalid_category", "envelopes",
                                    "category '%s' appears twice", category);
            }
        }
        const char *end_date = text_or_empty(command->envelope_end_dates[i]);
        sp_date parsed;
        if (end_date[0] != '\0' && sp_date_parse(end_date, &parsed, err) != 0) {
            snprintf(err->field, sizeof err->field, "envelopes");
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ decisions */

static void refuse(sp_ledger_decision *out, const sp_error *why) {
    assert(out != NULL);
    out->kind = SP_LEDGER_DECIDED_REFUSED;
    out->error = *why;
}

static void replay(sp_ledger_decision *out, const sp_ledger_record *record) {
    assert(out != NULL);
    out->kind = SP_LEDGER_DECIDED_REPLAY;
    out->record = record;
}

static void event_header(sp_ledger_event *event, sp_ledger_event_kind kind,
                         const sp_ledger_pass *pass, const char *pass_id, const char *actor_id,
                         const char *command_id, int64_t now_ms) {
    assert(event != NULL);
    event->kind = kind;
    sp_ledger_copy(event->pass_id, sizeof event->pass_id, pass_id);
    event->version = pass != NULL ? pass->version + 1 : 1;
    event->occurred_at_ms = now_ms;
    bool fits = sp_ledger_copy(event->command_id, sizeof event->command_id, command_id) &&
                sp_ledger_copy(event->actor_id, sizeof event->actor_id, actor_id);
    assert(fits); /* identities are validated before deciding */
    (void)fits;
}

/* A rule refused a command on an existing pass: the refusal is an event, so
 * the command id keeps this outcome across restarts. */
static void reject(sp_ledger_decision *out, const sp_ledger_pass *pass,
                   const sp_ledger_command *command, const uint8_t hash[SP_KEY_LEN], int64_t now_ms,
                   const sp_error *why) {
    if (why->http_status == 503) {
        refuse(out, why); /* a full bound is not the command's fault: ask again later */
        return;
    }
    out->kind = SP_LEDGER_DECIDED_EVENT;
    out->error = *why;
    sp_ledger_event *event = &out->event;
    event_header(event, SP_LEDGER_EVENT_COMMAND_REJECTED, pass, pass->pass_id, command->actor_id,
                 command->command_id, now_ms);
    sp_ledger_copy(event->command_type, sizeof event->command_type,
                   sp_ledger_command_type(command->kind));
    sp_ledger_copy(event->code, sizeof event->code, why->code);
    sp_ledger_copy(event->message, sizeof event->message, why->message);
    sp_ledger_copy(event->field, sizeof event->field, why->field);
    memcpy(event->request_hash, hash, SP_KEY_LEN);
}

static void decide_open(const sp_ledger_state *state, const sp_ledger_pass *pass,
                        const sp_ledger_command *command, const uint8_t hash[SP_KEY_LEN],
                        int64_t now_ms, sp_ledger_decision *out) {
    sp_error why;
    sp_error_clear(&why);
    if (pass != NULL) {
        /* The same opening under another command id is still the same opening. */
        if (memcmp(hash, pass->open_request_hash, SP_KEY_LEN) == 0 && pass->open_record != NULL) {
            replay(out, pass->open_record);
            return;
        }
        sp_error_set(&why, 409, "conflict", "pass_id", "the pass %s already exists", pass->pass_id);
        reject(out, pass, command, hash, now_ms, &why);
        return;
    }
    if (state->passes.entry_count >= state->limits.passes_max) {
        sp_error_set(&why, 503, "unavailable", NULL, "no room for another pass");
        refuse(out, &why);
        return;
    }
    if (command->beneficiary_id == NULL || !sp_id_valid(command->beneficiary_id)) {
        sp_error_set(&why, 400, "invalid_value", "beneficiary_id", "beneficiary id is not a uuid");
        refuse(out, &why);
        return;
    }
    if (validate_envelope_specs(command, &why) != 0) {
        refuse(out, &why);
        return;
    }
    out->kind = SP_LEDGER_DECIDED_EVENT;
    sp_ledger_event *event = &out->event;
    event_header(event, SP_LEDGER_EVENT_PASS_OPENED, NULL, command->pass_id, command->actor_id,
                 command->command_id, now_ms);
    sp_ledger_copy(event->beneficiary_id, sizeof event->beneficiary_id, command->beneficiary_id);
    event->envelope_count = command->envelope_count;
    for (size_t i = 0; i < command->envelope_count; i++) {
        sp_ledger_copy(event->envelopes[i].category, sizeof event->envelopes[i].category,
                       command->envelope_categories[i]);
        sp_ledger_copy(event->envelopes[i].end_date, sizeof event->envelopes[i].end_date,
                       text_or_empty(command->envelope_end_dates[i]));
    }
}

/* What a credit does to its envelope's end date. */
typedef struct credit_plan {
    int index;         /* the envelope credited, -1: the credit opens it */
    bool has_end_date; /* after the credit */
    sp_date end_date;
} credit_plan;

/* The end date after the credit: the requested one sets a missing date or
 * extends the current one; it is never in the past nor earlier than the
 * current one (money promised until a date stays promised until then). */
static int credit_end_date(const sp_ledger_envelope *envelope, const char *requested,
                           int64_t now_ms, credit_plan *plan, sp_error *err) {
    assert(plan != NULL);
    plan->has_end_date = envelope != NULL && envelope->has_end_date;
    plan->end_date = plan->has_end_date ? envelope->end_date : 0;
    if (requested[0] == '\0') {
        if (envelope != NULL && sp_ledger_envelope_expired_at(envelope, now_ms)) {
            return sp_error_set(err, 422, "envelope_expired", "category",
                                "the envelope '%s' has expired: give a new end_date to use it "
                                "again",
                                envelope->category);
        }
        return 0;
    }
    sp_date wanted;
    if (sp_date_parse(requested, &wanted, err) != 0) {
        snprintf(err->field, sizeof err->field, "end_date");
        return -1;
    }
    if (wanted < sp_paris_date_of(now_ms)) {
        return sp_error_set(err, 422, "invalid_date", "end_date", "end_date is in the past");
    }
    if (plan->has_end_date && wanted < plan->end_date) {
        char current[SP_LEDGER_DATE_LEN + 1];
        sp_date_format(plan->end_date, current);
        return sp_error_set(err, 422, "end_date_earlier", "end_date",
                            "end_date is before the envelope's end date %s: an end date can "
                            "only be set or extended",
                            current);
    }
    plan->has_end_date = true;
    plan->end_date = wanted;
    return 0;
}

/* A credit pays into the envelope of its category, opening it when the pass
 * has none (at most SP_LEDGER_ENVELOPES_MAX); an expired envelope is used
 * again only with a new end date (which is then today or later). */
static int credit_rules(const sp_ledger_state *state, const sp_ledger_pass *pass,
                        const sp_ledger_command *command, int64_t now_ms, credit_plan *plan,
                        sp_ledger_posting *posting, sp_error *err) {
    assert(command != NULL);
    const char *category = text_or_empty(command->category);
    if (!sp_ledger_category_valid(category)) {
        return sp_error_set(err, 422, "invalid_category", "category",
                            "a category is 2 to 32 of a-z 0-9 _ starting with a letter");
    }
    plan->index = sp_ledger_envelope_index(pass, category);
    if (plan->index < 0 && pass->envelope_count >= SP_LEDGER_ENVELOPES_MAX) {
        return sp_error_set(err, 422, "too_many_envelopes", "category",
                            "the pass already has %d envelopes, the most a pass can hold",
                            SP_LEDGER_ENVELOPES_MAX);
    }
    const sp_ledger_envelope *envelope = plan->index >= 0 ? &pass->envelopes[plan->index] : NULL;
    if (credit_end_date(envelope, text_or_empty(command->end_date), now_ms, plan, err) != 0) {
        return -1;
    }
    if (sp_money_validate_amount(command->amount_cents, state->limits.credit_cents_max,
                                 "amount_cents", err) != 0) {
        return -1;
    }
    memset(posting, 0, sizeof *posting);
    sp_ledger_copy(posting->debit_account, sizeof posting->debit_account, SP_LEDGER_BUDGET_ACCOUNT);
    sp_ledger_envelope_account(posting->credit_account, pass->pass_id, category);
    posting->amount_cents = command->amount_cents;
    /* An envelope to open counts from zero here; applying opens it first. */
    return sp_ledger_post_check(state, posting, 1, err);
}

static void decide_credit(const sp_ledger_state *state, const sp_ledger_pass *pass,
                          const sp_ledger_command *command, const uint8_t hash[SP_KEY_LEN],
                          int64_t now_ms, sp_ledger_decision *out) {
    sp_error why;
    sp_error_clear(&why);
    credit_plan plan = {.index = -1, .has_end_date = false, .end_date = 0};
    sp_ledger_posting posting;
    if (credit_rules(state, pass, command, now_ms, &plan, &posting, &why) != 0) {
        reject(out, pass, command, hash, now_ms, &why);
        return;
    }
    out->kind = SP_LEDGER_DECIDED_EVENT;
    sp_ledger_event *event = &out->event;
    event_header(event, SP_LEDGER_EVENT_PASS_CREDITED, pass, pass->pass_id, command->actor_id,
                 command->command_id, now_ms);
    sp_id_new(event->operation_id);
    sp_ledger_copy(event->category, sizeof event->category, command->category);
    event->amount_cents = command->amount_cents;
    event->envelope_opened = plan.index < 0;
    if (plan.has_end_date) sp_date_format(plan.end_date, event->end_date);
    /* Validated by credit_end_date: a real date of 10 characters, or "". */
    sp_ledger_copy(event->requested_end_date, sizeof event->requested_end_date,
                   text_or_empty(command->end_date));
    int64_t before_cents = plan.index >= 0 ? pass->envelopes[plan.index].balance_cents : 0;
    /* sp_ledger_post_check proved these stay within the balance limit. */
    event->envelope_balance_after_cents = before_cents + command->amount_cents;
    event->pass_balance_after_cents = sp_ledger_pass_balance_cents(pass) + command->amount_cents;
    /* credit_rules accepted a positive amount the posting carries whole. */
    assert(event->amount_cents > 0);
    assert(posting.amount_cents == event->amount_cents);
    assert(event->envelope_balance_after_cents <= event->pass_balance_after_cents);
    event->posting_count = 1;
    event->postings[0] = posting;
}

/* The envelope a partner's payment comes from: its category's, else "general". */
static int pay_envelope(const sp_ledger_pass *pass, const sp_ledger_partner *partner,
                        sp_error *err) {
    assert(partner != NULL);
    int index = sp_ledger_envelope_index(pass, partner->category);
    if (index < 0) index = sp_ledger_envelope_index(pass, SP_LEDGER_GENERAL_CATEGORY);
    if (index < 0) {
        return sp_error_set(err, 422, "no_envelope_for_category", "partner_code",
                            "the pass has no '%s' envelope and no general envelope",
                            partner->category);
    }
    assert((size_t)index < pass->envelope_count);
    return index;
}

static int pay_rules(const sp_ledger_state *state, const sp_ledger_pass *pass,
                     const sp_ledger_command *command, int64_t now_ms,
                     const sp_ledger_partner **partner, int *index, sp_error *err) {
    char code[SP_PARTNER_CODE_LEN + 1];
    if (!partner_code_of(command->partner_code, code)) {
        return sp_error_set(err, 422, "invalid_partner_code", "partner_code",
                            "a partner code is 8 digits with a valid check digit");
    }
    *partner = sp_ledger_directory_find(state->directory, code);
    if (*partner == NULL) {
        return sp_error_set(err, 404, "partner_not_found", "partner_code",
                            "no partner has the code %s", code);
    }
    if (sp_ledger_convention_check(state->directory, (*partner)->partner_id, now_ms, err) != 0) {
        return -1;
    }
    *index = pay_envelope(pass, *partner, err);
    if (*index < 0) return -1;
    const sp_ledger_envelope *envelope = &pass->envelopes[*index];
    if (sp_ledger_envelope_expired_at(envelope, now_ms)) {
        return sp_error_set(err, 422, "envelope_expired", "", "the envelope '%s' has expired",
                            envelope->category);
    }
    if (sp_money_validate_amount(command->amount_cents, state->limits.payment_cents_max,
                                 "amount_cents", err) != 0) {
        return -1;
    }
    if (envelope->balance_cents < command->amount_cents) {
        char available[SP_MONEY_FORMAT_MAX];
        sp_money_format_eur(envelope->balance_cents, available, sizeof available);
        return sp_error_set(err, 422, "insufficient_funds", "amount_cents",
                            "insufficient funds: the available balance is %s", available);
    }
    return 0;
}

static void decide_pay(const sp_ledger_state *state, const sp_ledger_pass *pass,
                       const sp_ledger_command *command, const uint8_t hash[SP_KEY_LEN],
                       int64_t now_ms, sp_ledger_decision *out) {
    assert(command != NULL);
    sp_error why;
    sp_error_clear(&why);
    const sp_ledger_partner *partner = NULL;
    int index = -1;
    sp_ledger_posting posting = {.amount_cents = command->amount_cents};
    int rc = pay_rules(state, pass, command, now_ms, &partner, &index, &why);
    if (rc == 0) {
        sp_ledger_envelope_account(posting.debit_account, pass->pass_id,
                                   pass->envelopes[index].category);
        sp_ledger_partner_account(posting.credit_account, partner->partner_id);
        rc = sp_ledger_post_check(state, &posting, 1, &why);
    }
    if (rc != 0) {
        reject(out, pass, command, hash, now_ms, &why);
        return;
    }
    out->kind = SP_LEDGER_DECIDED_EVENT;
    sp_ledger_event *event = &out->event;
    event_header(event, SP_LEDGER_EVENT_PAYMENT_ACCEPTED, pass, pass->pass_id, command->actor_id,
                 command->command_id, now_ms);
    sp_id_new(event->operation_id);
    sp_ledger_copy(event->beneficiary_id, sizeof event->beneficiary_id, pass->beneficiary_id);
    sp_ledger_copy(event->category, sizeof event->category, pass->envelopes[index].category);
    sp_ledger_copy(event->partner_id, sizeof event->partner_id, partner->partner_id);
    sp_ledger_copy(event->partner_code, sizeof event->partner_code, partner->partner_code);
    event->amount_cents = command->amount_cents;
    event->envelope_balance_after_cents = pass->envelopes[index].balance_cents -
                                          command->amount_cents;
    event->pass_balance_after_cents = sp_ledger_pass_balance_cents(pass) - command->amount_cents;
    /* pay_rules refused what the envelope cannot pay: no balance goes below zero. */
    assert(event->amount_cents > 0);
    assert(posting.amount_cents == event->amount_cents);
    assert(event->envelope_balance_after_cents >= 0);
    assert(event->pass_balance_after_cents >= event->envelope_balance_after_cents);
    event->posting_count = 1;
    event->postings[0] = posting;
}

/* What a closed pass no longer does (closing it again: decide_close says
 * so). Cancelling a voucher or a payment, its references and its refunds
 * still go on: they concern the past. */
static bool closed_refuses(sp_ledger_command_kind kind) {
    return kind == SP_LEDGER_COMMAND_CREDIT_PASS || kind == SP_LEDGER_COMMAND_PAY ||
           kind == SP_LEDGER_COMMAND_ISSUE_VOUCHER || kind == SP_LEDGER_COMMAND_REDEEM_VOUCHER;
}

void sp_ledger_decide(const sp_ledger_state *state, const sp_ledger_command *command,
                      int64_t now_ms, sp_ledger_decision *out) {
    assert(state != NULL);
    assert(command != NULL);
    assert(out != NULL);
    assert(sp_ledger_command_identity_valid(command->pass_id, command->actor_id,
                                            command->command_id, NULL) == 0);
    out->kind = 0;
    out->record = NULL;
    sp_error_clear(&out->error);
    sp_ledger_event_clear(&out->event);
    uint8_t hash[SP_KEY_LEN];
    command_hash(command, hash);
    const sp_ledger_record *seen = sp_ledger_record_find(state, command->pass_id, command->actor_id,
                                                         command->command_id);
    if (seen != NULL) {
        if (memcmp(seen->request_hash, hash, SP_KEY_LEN) == 0) {
            replay(out, seen);
        } else {
            sp_error_set(&out->error, 409, "idempotency_conflict", "",
                         "this Idempotency-Key was already used with another request");
            out->kind = SP_LEDGER_DECIDED_REFUSED;
        }
        return;
    }
    if (state->records.entry_count >= state->limits.commands_max) {
        sp_error_set(&out->error, 503, "unavailable", "", "no room for another command outcome");
        out->kind = SP_LEDGER_DECIDED_REFUSED;
        return;
    }
    /* The aggregate id names a refund request for its own commands, a pass otherwise. */
    if (sp_ledger_command_is_refund_request(command->kind)) {
        sp_ledger_decide_refund_request(state, command, hash, now_ms, out);
        return;
    }
    const sp_ledger_pass *pass = sp_ledger_pass_find(state, command->pass_id);
    if (command->kind == SP_LEDGER_COMMAND_OPEN_PASS) {
        decide_open(state, pass, command, hash, now_ms, out);
    } else if (pass == NULL) {
        sp_error_set(&out->error, 404, "pass_not_found", "pass_id", "no pass %s", command->pass_id);
        out->kind = SP_LEDGER_DECIDED_REFUSED;
    } else if (pass->closed && closed_refuses(command->kind)) {
        sp_error why;
        sp_error_set(&why, 409, "pass_closed", "pass_id", "the pass is closed");
        reject(out, pass, command, hash, now_ms, &why);
    } else if (command->kind == SP_LEDGER_COMMAND_CLOSE_PASS) {
        sp_ledger_decide_close(state, pass, command, hash, now_ms, out);
    } else if (command->kind == SP_LEDGER_COMMAND_CREDIT_PASS) {
        decide_credit(state, pass, command, hash, now_ms, out);
    } else if (command->kind == SP_LEDGER_COMMAND_ISSUE_VOUCHER) {
        sp_ledger_decide_issue(state, pass, command, hash, now_ms, out);
    } else if (command->kind == SP_LEDGER_COMMAND_REDEEM_VOUCHER) {
        sp_ledger_decide_redeem(state, pass, command, hash, now_ms, out);
    } else if (command->kind == SP_LEDGER_COMMAND_CANCEL_VOUCHER) {
        sp_ledger_decide_cancel(state, pass, command, hash, now_ms, out);
    } else if (command->kind == SP_LEDGER_COMMAND_CANCEL_OPERATION) {
        sp_ledger_decide_cancel_operation(state, pass, command, hash, now_ms, out);
    } else if (command->kind == SP_LEDGER_COMMAND_SET_OPERATION_REFERENCE) {
        sp_ledger_decide_set_reference(state, pass, command, hash, now_ms, out);
    } else if (command->kind == SP_LEDGER_COMMAND_RESERVE_OPERATIONS ||
               command->kind == SP_LEDGER_COMMAND_RELEASE_OPERATIONS ||
               command->kind == SP_LEDGER_COMMAND_SETTLE_OPERATIONS) {
        sp_ledger_decide_refund_part(state, pass, command, hash, now_ms, out);
    } else {
        decide_pay(state, pass, command, hash, now_ms, out);
    }
}

/* ------------------------------------------------------------ for ledger_voucher.c */

void sp_ledger_decided_header(sp_ledger_event *event, sp_ledger_event_kind kind,
                              const sp_ledger_pass *pass, const sp_ledger_command *command,
                              int64_t now_ms) {
    assert(pass != NULL);
    assert(command != NULL);
    event_header(event, kind, pass, pass->pass_id, command->actor_id, command->command_id, now_ms);
}

void sp_ledger_decided_reject(sp_ledger_decision *out, const sp_ledger_pass *pass,
                              const sp_ledger_command *command, const uint8_t hash[SP_KEY_LEN],
                              int64_t now_ms, const sp_error *why) {
    reject(out, pass, command, hash, now_ms, why);
}

int sp_ledger_pay_envelope(const sp_ledger_pass *pass, const sp_ledger_partner *partner,
                           sp_error *err) {
    return pay_envelope(pass, partner, err);
}

/* ------------------------------------------------------------ expiry */

typedef struct due_envelope {
    sp_ledger_pass *pass;
    size_t index;
} due_envelope;

typedef struct due_ctx {
    sp_date today;
    due_envelope *due;
    size_t due_max;
    size_t due_count;
} due_ctx;

static void collect_due(void *ctx, const sp_ledger_pass *pass) {
    due_ctx *dc = ctx;
    for (size_t i = 0; i < pass->envelope_count && dc->due_count < dc->due_max; i++) {
        const sp_ledger_envelope *envelope = &pass->envelopes[i];
        if (!envelope->closed && envelope->has_end_date && envelope->end_date < dc->today) {
            /* The state owns its passes; the sweep is allowed to change them. */
            dc->due[dc->due_count++] = (due_envelope){(sp_ledger_pass *)pass, i};
        }
    }
}

static void expiry_event(const sp_ledger_pass *pass, size_t index, int64_t now_ms,
                         sp_ledger_event *event) {
    assert(pass != NULL);
    assert(event != NULL);
    const sp_ledger_envelope *envelope = &pass->envelopes[index];
    /* Names the expiry in the log. An envelope can expire more than once (a
     * credit with a later end date brings it back), each time at another end
     * date: the date makes each expiry its own command id. */
    _Static_assert(SP_LEDGER_COMMAND_ID_MAX >=
                       sizeof "expiry:::" - 1 + SP_ID_LEN + 32 + SP_LEDGER_DATE_LEN,
                   "an expiry command id holds a pass id, a whole category and a date");
    char end_date[SP_LEDGER_DATE_LEN + 1];
    sp_date_format(envelope->end_date, end_date);
    char command_id[SP_LEDGER_COMMAND_ID_MAX + 1];
    snprintf(command_id, sizeof command_id, "expiry:%s:%s:%s", pass->pass_id, envelope->category,
             end_date);
    sp_ledger_event_clear(event);
    event_header(event, SP_LEDGER_EVENT_ENVELOPE_EXPIRED, pass, pass->pass_id, "", command_id,
                 now_ms);
    sp_id_new(event->operation_id);
    sp_ledger_copy(event->category, sizeof event->category, envelope->category);
    sp_date_format(envelope->end_date, event->end_date);
    event->amount_cents = envelope->balance_cents;
    event->pass_balance_after_cents = sp_ledger_pass_balance_cents(pass) - envelope->balance_cents;
    if (envelope->balance_cents > 0) {
        event->posting_count = 1;
        sp_ledger_envelope_account(event->postings[0].debit_account, pass->pass_id,
                                   envelope->category);
        sp_ledger_copy(event->postings[0].credit_account, sizeof event->postings[0].credit_account,
                       SP_LEDGER_BUDGET_ACCOUNT);
        event->postings[0].amount_cents = envelope->balance_cents;
    }
}

int sp_ledger_sweep_expiries(sp_ledger_state *state, int64_t now_ms, sp_ledger_event *events,
                             size_t events_max, size_t *event_count, sp_error *err) {
    assert(state != NULL);
    assert(event_count != NULL);
    assert(events != NULL || events_max == 0);
    *event_count = 0;
    if (events_max == 0) return 0;
    due_ctx ctx = {.today = sp_paris_date_of(now_ms), .due_max = events_max};
    ctx.due = calloc(events_max, sizeof *ctx.due);
    if (ctx.due == NULL) return sp_error_set(err, 503, "unavailable", NULL, "out of memory");
    sp_ledger_foreach_pass(state, collect_due, &ctx);
    int rc = 0;
    for (size_t i = 0; i < ctx.due_count; i++) {
        sp_ledger_event *event = &events[*event_count];
        expiry_event(ctx.due[i].pass, ctx.due[i].index, now_ms, event);
        sp_ledger_applied applied;
        rc = sp_ledger_apply(state, event, &applied, err);
        if (rc != 0) break;
        assert(!applied.skipped);
        (*event_count)++;
    }
    free(ctx.due);
    return rc;
}
