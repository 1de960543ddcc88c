/* ledger_voucher.c - exchange vouchers in the ledger: the rules that issue,
 * redeem and cancel one (deciding, never changing the state), the function
 * that applies their events (live and at rebuild, through sp_ledger_post
 * only), and the sweep that expires them. A voucher belongs to its pass's
 * aggregate: one writer decides all of a pass's vouchers in order, so two
 * redemptions of the same voucher cannot both succeed. Pure: no I/O. */
#include "ledger.h"

#include <assert.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_internal.h"
#include "sp_money.h"

#define VOUCHER_EXPIRY_PREFIX "voucher-expiry:"

const char *sp_ledger_voucher_status_name(sp_ledger_voucher_status status) {
    switch (status) {
    case SP_LEDGER_VOUCHER_ACTIVE: return "active";
    case SP_LEDGER_VOUCHER_REDEEMED: return "redeemed";
    case SP_LEDGER_VOUCHER_CANCELLED: return "cancelled";
    case SP_LEDGER_VOUCHER_EXPIRED: return "expired";
    }
    return "unknown";
}

static const char *text_or_empty(const char *text) {
    return text != NULL ? text : "";
}

/* ------------------------------------------------------------ result JSON */

static char *dump(json_t *obj, int failed) {
    char *text = (obj != NULL && failed == 0) ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    return text;
}

static json_t *id_or_null(const char *id) {
    return id[0] != '\0' ? json_string(id) : json_null();
}

/* The voucher as its beneficiary sees it after issuing or cancelling it. */
static char *voucher_json(const sp_ledger_voucher *voucher, const sp_ledger_event *event) {
    assert(voucher != NULL);
    assert(event != NULL);
    char occurred_at[25], valid_until[SP_LEDGER_DATE_LEN + 1];
    sp_ledger_format_instant(event->occurred_at_ms, occurred_at);
    sp_date_format(voucher->valid_until, valid_until);
    json_t *obj = json_object();
    int failed = obj == NULL;
    failed |= json_object_set_new(obj, "voucher_id", json_string(voucher->voucher_id));
    failed |= json_object_set_new(obj, "number", json_string(voucher->number));
    failed |= json_object_set_new(obj, "status",
                                  json_string(sp_ledger_voucher_status_name(voucher->status)));
    failed |= json_object_set_new(obj, "pass_id", json_string(voucher->pass_id));
    failed |= json_object_set_new(obj, "amount_cents", json_integer(voucher->amount_cents));
    failed |= json_object_set_new(obj, "category", json_string(voucher->category));
    failed |= json_object_set_new(obj, "partner_id", id_or_null(voucher->partner_id));
    failed |= json_object_set_new(obj, "valid_until", json_string(valid_until));
    failed |= json_object_set_new(obj, "pass_balance_after_cents",
                                  json_integer(event->pass_balance_after_cents));
    failed |= json_object_set_new(obj, "occurred_at", json_string(occurred_at));
    return dump(obj, failed);
}

/* The payment a redemption becomes, as the partner sees it: the pass only
 * as pass_ref (the last 4 characters of its id), no balance. */
static char *redeemed_json(const sp_ledger_event *event, const char *partner_name) {
    assert(event != NULL);
    char occurred_at[25];
    sp_ledger_format_instant(event->occurred_at_ms, occurred_at);
    json_t *obj = json_object();
    int failed = obj == NULL;
    failed |= json_object_set_new(obj, "operation_id", json_string(event->operation_id));
    failed |= json_object_set_new(obj, "kind", json_string("payment"));
    failed |= json_object_set_new(obj, "channel", json_string("voucher"));
    failed |= json_object_set_new(obj, "status", json_string("accepted"));
    failed |= json_object_set_new(obj, "voucher_id", json_string(event->voucher_id));
    failed |= json_object_set_new(obj, "partner_id", json_string(event->partner_id));
    failed |= json_object_set_new(obj, "partner_code", json_string(event->partner_code));
    failed |= json_object_set_new(obj, "partner_name", json_string(partner_name));
    failed |= json_object_set_new(obj, "category", json_string(event->category));
    failed |= json_object_set_new(obj, "amount_cents", json_integer(event->amount_cents));
    failed |= json_object_set_new(obj, "occurred_at", json_string(occurred_at));
    failed |= json_object_set_new(obj, "pass_ref", json_string(event->pass_id + SP_ID_LEN - 4));
    return dump(obj, failed);
}

/* ------------------------------------------------------------ shared rules */

static const sp_ledger_partner *partner_of(const sp_ledger_state *state, const char *typed,
                                           sp_error *err) {
    char code[SP_PARTNER_CODE_LEN + 1];
    if (!sp_partner_code_normalize(typed, code) || code[0] == '0' || !sp_luhn_valid(code)) {
        sp_error_set(err, 422, "invalid_partner_code", "partner_code",
                     "a partner code is 8 digits with a valid check digit");
        return NULL;
    }
    const sp_ledger_partner *partner = sp_ledger_directory_find(state->directory, code);
    if (partner == NULL) {
        sp_error_set(err, 404, "partner_not_found", "partner_code", "no partner has the code %s",
                     code);
    }
    return partner;
}

/* The voucher of this pass named by the command, in a state that allows a
 * change at now_ms; -1 with the precise refusal otherwise. */
static int active_voucher(const sp_ledger_state *state, const sp_ledger_pass *pass,
                          const char *voucher_id, int64_t now_ms, const sp_ledger_voucher **out,
                          sp_error *err) {
    *out = sp_ledger_voucher_find(state, text_or_empty(voucher_id));
    if (*out == NULL || strcmp((*out)->pass_id, pass->pass_id) != 0) {
        *out = NULL;
        return sp_error_set(err, 404, "voucher_not_found", "number", "no such voucher");
    }
    switch ((*out)->status) {
    case SP_LEDGER_VOUCHER_REDEEMED:
        return sp_error_set(err, 409, "voucher_used", "number",
                            "this voucher has already been used");
    case SP_LEDGER_VOUCHER_CANCELLED:
        return sp_error_set(err, 409, "voucher_cancelled", "number", "this voucher was cancelled");
    case SP_LEDGER_VOUCHER_EXPIRED:
        return sp_error_set(err, 409, "voucher_expired", "number", "this voucher has expired");
    case SP_LEDGER_VOUCHER_ACTIVE: break;
    }
    if (sp_paris_date_of(now_ms) > (*out)->valid_until) {
        return sp_error_set(err, 409, "voucher_expired", "number", "this voucher has expired");
    }
    return 0;
}

/* ------------------------------------------------------------ issue */

/* The envelope a new voucher reserves from: the one named, else the one that
 * pays the named partner, else "general". */
static int issue_envelope(const sp_ledger_pass *pass, const char *category,
                          const sp_ledger_partner *partner, sp_error *err) {
    if (category[0] != '\0') {
        int index = sp_ledger_category_valid(category) ? sp_ledger_envelope_index(pass, category)
                                                       : -1;
        if (index < 0) {
            return sp_error_set(err, 422, "no_envelope_for_category", "category",
                                "the pass has no envelope '%.32s'", category);
        }
        if (partner != NULL) {
            sp_error ignored;
            int paying = sp_ledger_pay_envelope(pass, partner, &ignored);
            if (paying != index) {
                return sp_error_set(err, 422, "invalid_category", "category",
                                    "the partner is not paid from the envelope '%s'", category);
            }
        }
        return index;
    }
    if (partner != NULL) return sp_ledger_pay_envelope(pass, partner, err);
    int index = sp_ledger_envelope_index(pass, SP_LEDGER_GENERAL_CATEGORY);
    if (index < 0) {
        return sp_error_set(err, 422, "no_envelope_for_category", "category",
                            "the pass has no general envelope: name a category or a partner");
    }
    return index;
}

static int issue_rules(const sp_ledger_state *state, const sp_ledger_pass *pass,
                       const sp_ledger_command *command, int64_t now_ms,
                       const sp_ledger_partner **partner, int *index, sp_error *err) {
    if (sp_money_validate_amount(command->amount_cents, state->limits.payment_cents_max,
                                 "amount_cents", err) != 0) {
        return -1;
    }
    *partner = NULL;
    if (text_or_empty(command->partner_code)[0] != '\0') {
        *partner = partner_of(state, command->partner_code, err);
        if (*partner == NULL) return -1;
    }
    *index = issue_envelope(pass, text_or_empty(command->category), *partner, err);
    if (*index < 0) return -1;
    const sp_ledger_envelope *envelope = &pass->envelopes[*index];
    if (sp_ledger_envelope_expired_at(envelope, now_ms)) {
        return sp_error_set(err, 422, "envelope_expired", "category",
                            "the envelope '%s' has expired", envelope->category);
    }
    if (envelope->balance_cents < command->amount_cents) {
        char available[SP_MONEY_FORMAT_MAX];
        sp_money_format_eur(envelope->balance_cents, available, sizeof available);
        return sp_error_set(err, 422, "insufficient_funds", "amount_cents",
                            "insufficient funds: the available balance is %s", available);
    }
    if (state->vouchers.entry_count >= state->limits.vouchers_max) {
        return sp_error_set(err, 503, "unavailable", NULL, "no room for another voucher");
    }
    return 0;
}

/* Validity: SP_VOUCHER_VALIDITY_DAYS from today, never past its envelope's end. */
static sp_date valid_until_of(const sp_ledger_state *state, const sp_ledger_envelope *envelope,
                              int64_t now_ms) {
    assert(state != NULL);
    sp_date until = sp_paris_date_of(now_ms) + (sp_date)state->limits.voucher_validity_days;
    if (envelope->has_end_date && envelope->end_date < until) until = envelope->end_date;
    return until;
}

void sp_ledger_decide_issue(const sp_ledger_state *state, const sp_ledger_pass *pass,
                            const sp_ledger_command *command, const uint8_t hash[SP_KEY_LEN],
                            int64_t now_ms, sp_ledger_decision *out) {
    assert(out != NULL);
    sp_error why;
    sp_error_clear(&why);
    const sp_ledger_partner *partner = NULL;
    int index = -1;
    sp_ledger_event *event = &out->event;
    int rc = issue_rules(state, pass, command, now_ms, &partner, &index, &why);
    if (rc == 0) {
        sp_id_new(event->voucher_id);
        event->posting_count = 1;
        event->postings[0].amount_cents = command->amount_cents;
        sp_ledger_envelope_account(event->postings[0].debit_account, pass->pass_id,
                                   pass->envelopes[index].category);
        sp_ledger_voucher_account(event->postings[0].credit_account, event->voucher_id);
        rc = sp_ledger_post_check(state, event->postings, 1, &why);
    }
    if (rc != 0) {
        sp_ledger_event_clear(event);
        sp_ledger_decided_reject(out, pass, command, hash, now_ms, &why);
        return;
    }
    out->kind = SP_LEDGER_DECIDED_EVENT;
    const sp_ledger_envelope *envelope = &pass->envelopes[index];
    sp_ledger_decided_header(event, SP_LEDGER_EVENT_VOUCHER_ISSUED, pass, command, now_ms);
    memcpy(event->request_hash, hash, SP_KEY_LEN);
    sp_voucher_number_new(event->voucher_number);
    sp_date_format(valid_until_of(state, envelope, now_ms), event->valid_until);
    sp_ledger_copy(event->category, sizeof event->category, envelope->category);
    sp_ledger_copy(event->beneficiary_id, sizeof event->beneficiary_id, pass->beneficiary_id);
    if (partner != NULL) {
        sp_ledger_copy(event->partner_id, sizeof event->partner_id, partner->partner_id);
        sp_ledger_copy(event->partner_code, sizeof event->partner_code, partner->partner_code);
    }
    event->amount_cents = command->amount_cents;
    /* sp_ledger_post_check proved these stay within the limits. */
    event->envelope_balance_after_cents = envelope->balance_cents - command->amount_cents;
    event->pass_balance_after_cents = sp_ledger_pass_balance_cents(pass) - command->amount_cents;
}

/* ------------------------------------------------------------ redeem */

static int redeem_rules(const sp_ledger_state *state, const sp_ledger_pass *pass,
                        const sp_ledger_command *command, int64_t now_ms,
                        const sp_ledger_voucher **voucher, const sp_ledger_partner **partner,
                        sp_error *err) {
    if (active_voucher(state, pass, command->voucher_id, now_ms, voucher, err) != 0) {
        /* A wrong number must not tell a used voucher from an unknown one. */
        if (*voucher != NULL &&
            strcmp((*voucher)->number, text_or_empty(command->voucher_number)) != 0) {
            return sp_error_set(err, 404, "voucher_not_found", "number", "no such voucher");
        }
        return -1;
    }
    if (strcmp((*voucher)->number, text_or_empty(command->voucher_number)) != 0) {
        return sp_error_set(err, 404, "voucher_not_found", "number", "no such voucher");
    }
    *partner = partner_of(state, text_or_empty(command->partner_code), err);
    if (*partner == NULL) return -1;
    if ((*voucher)->partner_id[0] != '\0' &&
        strcmp((*voucher)->partner_id, (*partner)->partner_id) != 0) {
        return sp_error_set(err, 422, "voucher_restricted", "number",
                            "this voucher can only be used at another partner");
    }
    if (sp_ledger_convention_check(state->directory, (*partner)->partner_id, now_ms, err) != 0) {
        return -1;
    }
    sp_error ignored;
    int index = sp_ledger_pay_envelope(pass, *partner, &ignored);
    if (index < 0 || strcmp(pass->envelopes[index].category, (*voucher)->category) != 0) {
        return sp_error_set(err, 422, "voucher_restricted", "number",
                            "this voucher (envelope '%s') cannot be used at a partner of "
                            "category '%s'",
                            (*voucher)->category, (*partner)->category);
    }
    return 0;
}

void sp_ledger_decide_redeem(const sp_ledger_state *state, const sp_ledger_pass *pass,
                             const sp_ledger_command *command, const uint8_t hash[SP_KEY_LEN],
                             int64_t now_ms, sp_ledger_decision *out) {
    assert(out != NULL);
    sp_error why;
    sp_error_clear(&why);
    const sp_ledger_voucher *voucher = NULL;
    const sp_ledger_partner *partner = NULL;
    sp_ledger_event *event = &out->event;
    int rc = redeem_rules(state, pass, command, now_ms, &voucher, &partner, &why);
    if (rc == 0) {
        event->posting_count = 1;
        event->postings[0].amount_cents = voucher->amount_cents;
        sp_ledger_voucher_account(event->postings[0].debit_account, voucher->voucher_id);
        sp_ledger_partner_account(event->postings[0].credit_account, partner->partner_id);
        rc = sp_ledger_post_check(state, event->postings, 1, &why);
    }
    if (rc != 0) {
        sp_ledger_event_clear(event);
        sp_ledger_decided_reject(out, pass, command, hash, now_ms, &why);
        return;
    }
    out->kind = SP_LEDGER_DECIDED_EVENT;
    sp_ledger_decided_header(event, SP_LEDGER_EVENT_VOUCHER_REDEEMED, pass, command, now_ms);
    memcpy(event->request_hash, hash, SP_KEY_LEN);
    sp_id_new(event->operation_id);
    sp_ledger_copy(event->voucher_id, sizeof event->voucher_id, voucher->voucher_id);
    sp_ledger_copy(event->partner_id, sizeof event->partner_id, partner->partner_id);
    sp_ledger_copy(event->partner_code, sizeof event->partner_code, partner->partner_code);
    sp_ledger_copy(event->category, sizeof event->category, voucher->category);
    sp_ledger_copy(event->beneficiary_id, sizeof event->beneficiary_id, pass->beneficiary_id);
    event->amount_cents = voucher->amount_cents;
    /* The amount left the pass when the voucher was issued. */
    event->pass_balance_after_cents = sp_ledger_pass_balance_cents(pass);
}

/* ------------------------------------------------------------ cancel and expire */

/* The release of an active voucher: back to its envelope, or to the budget
 * when that envelope has expired meanwhile (its remainder went there). */
static void release_event(const sp_ledger_pass *pass, const sp_ledger_voucher *voucher,
                          sp_ledger_event *event) {
    assert(pass != NULL);
    assert(voucher != NULL);
    assert(event != NULL);
    int index = sp_ledger_envelope_index(pass, voucher->category);
    assert(index >= 0); /* issued from it, and envelopes are never removed */
    const sp_ledger_envelope *envelope = &pass->envelopes[index];
    sp_ledger_copy(event->voucher_id, sizeof event->voucher_id, voucher->voucher_id);
    sp_ledger_copy(event->category, sizeof event->category, voucher->category);
    event->amount_cents = voucher->amount_cents;
    event->posting_count = 1;
    event->postings[0].amount_cents = voucher->amount_cents;
    sp_ledger_voucher_account(event->postings[0].debit_account, voucher->voucher_id);
    int64_t pass_balance_cents = sp_ledger_pass_balance_cents(pass);
    if (envelope->closed) {
        sp_ledger_copy(event->postings[0].credit_account, sizeof event->postings[0].credit_account,
                       SP_LEDGER_BUDGET_ACCOUNT);
        event->envelope_balance_after_cents = envelope->balance_cents;
        event->pass_balance_after_cents = pass_balance_cents;
    } else {
        sp_ledger_envelope_account(event->postings[0].credit_account, pass->pass_id,
                                   voucher->category);
        /* Both were within the limit with the amount outside: back in, they still are. */
        event->envelope_balance_after_cents = envelope->balance_cents + voucher->amount_cents;
        event->pass_balance_after_cents = pass_balance_cents + voucher->amount_cents;
    }
}

void sp_ledger_decide_cancel(const sp_ledger_state *state, const sp_ledger_pass *pass,
                             const sp_ledger_command *command, const uint8_t hash[SP_KEY_LEN],
                             int64_t now_ms, sp_ledger_decision *out) {
    assert(command != NULL);
    assert(out != NULL);
    sp_error why;
    sp_error_clear(&why);
    const sp_ledger_voucher *voucher = NULL;
    sp_ledger_event *event = &out->event;
    int rc = active_voucher(state, pass, command->voucher_id, now_ms, &voucher, &why);
    if (rc == 0) {
        release_event(pass, voucher, event);
        rc = sp_ledger_post_check(state, event->postings, 1, &why);
    }
    if (rc != 0) {
        sp_ledger_event_clear(event);
        if (strcmp(why.field, "number") == 0)
            sp_ledger_copy(why.field, sizeof why.field, "voucher_id");
        sp_ledger_decided_reject(out, pass, command, hash, now_ms, &why);
        return;
    }
    out->kind = SP_LEDGER_DECIDED_EVENT;
    sp_ledger_decided_header(event, SP_LEDGER_EVENT_VOUCHER_CANCELLED, pass, command, now_ms);
    memcpy(event->request_hash, hash, SP_KEY_LEN);
}

/* ------------------------------------------------------------ apply */

static int voucher_from_event(const sp_ledger_pass *pass, const sp_ledger_event *event,
                              sp_ledger_voucher *voucher, sp_error *err) {
    memset(voucher, 0, sizeof *voucher);
    if (!sp_id_valid(event->voucher_id)) return sp_ledger_invalid_event(err, "voucher id");
    if (!sp_voucher_number_valid(event->voucher_number)) {
        return sp_ledger_invalid_event(err, "voucher number");
    }
    if (sp_ledger_envelope_index(pass, event->category) < 0) {
        return sp_ledger_invalid_event(err, "no such envelope");
    }
    if (event->partner_id[0] != '\0' && !sp_id_valid(event->partner_id)) {
        return sp_ledger_invalid_event(err, "partner id");
    }
    sp_error date_err;
    if (sp_date_parse(event->valid_until, &voucher->valid_until, &date_err) != 0) {
        return sp_ledger_invalid_event(err, "valid_until");
    }
    sp_ledger_copy(voucher->voucher_id, sizeof voucher->voucher_id, event->voucher_id);
    sp_ledger_copy(voucher->pass_id, sizeof voucher->pass_id, pass->pass_id);
    sp_ledger_copy(voucher->number, sizeof voucher->number, event->voucher_number);
    sp_ledger_copy(voucher->category, sizeof voucher->category, event->category);
    sp_ledger_copy(voucher->partner_id, sizeof voucher->partner_id, event->partner_id);
    voucher->amount_cents = event->amount_cents;
    voucher->status = SP_LEDGER_VOUCHER_ACTIVE;
    return 0;
}

static int apply_issued(sp_ledger_state *state, sp_ledger_pass *pass, const sp_ledger_event *event,
                        sp_ledger_applied *out, sp_error *err) {
    sp_ledger_voucher parsed;
    if (voucher_from_event(pass, event, &parsed, err) != 0) return -1;
    if (sp_ledger_voucher_find(state, parsed.voucher_id) != NULL) {
        return sp_ledger_invalid_event(err, "voucher already issued");
    }
    sp_ledger_posting posting = {.amount_cents = event->amount_cents};
    sp_ledger_envelope_account(posting.debit_account, pass->pass_id, event->category);
    sp_ledger_voucher_account(posting.credit_account, parsed.voucher_id);
    if (event->posting_count != 1 || !sp_ledger_postings_match(event, &posting, 1)) {
        return sp_ledger_invalid_event(err, "postings");
    }
    if (state->vouchers.entry_count >= state->limits.vouchers_max) {
        return sp_error_set(err, 503, "unavailable", NULL,
                            "vouchers limit reached (SP_VOUCHERS_MAX=%zu)",
                            state->limits.vouchers_max);
    }
    if (sp_ledger_records_room(state, err) != 0) return -1;
    if (sp_ledger_post_check(state, &posting, 1, err) != 0) return sp_ledger_post_refused(err);
    sp_ledger_voucher *voucher = malloc(sizeof *voucher);
    if (voucher == NULL) return sp_error_set(err, 503, "unavailable", NULL, "out of memory");
    *voucher = parsed;
    if (sp_ledger_voucher_insert(state, voucher, err) != 0) return -1;
    int rc = sp_ledger_post(state, &posting, 1, err);
    assert(rc == 0); /* checked just now; the voucher account exists */
    if (rc != 0) return -1;
    pass->active_voucher_count++;
    return sp_ledger_record_keep(state, event, event->request_hash, 201,
                                 voucher_json(voucher, event), out, err);
}

/* The event's voucher, of this pass and still active: only those change. */
static sp_ledger_voucher *changing_voucher(sp_ledger_state *state, const sp_ledger_pass *pass,
                                           const sp_ledger_event *event, sp_error *err) {
    assert(event != NULL);
    sp_ledger_voucher *voucher = sp_id_valid(event->voucher_id)
                                     ? sp_ledger_voucher_of(state, event->voucher_id)
                                     : NULL;
    if (voucher == NULL || strcmp(voucher->pass_id, pass->pass_id) != 0) {
        sp_ledger_invalid_event(err, "no such voucher on this pass");
        return NULL;
    }
    if (voucher->status != SP_LEDGER_VOUCHER_ACTIVE) {
        sp_ledger_invalid_event(err, "the voucher is no longer active");
        return NULL;
    }
    if (event->amount_cents != voucher->amount_cents ||
        strcmp(event->category, voucher->category) != 0) {
        sp_ledger_invalid_event(err, "amount or category is not the voucher's");
        return NULL;
    }
    return voucher;
}

static int apply_redeemed(sp_ledger_state *state, sp_ledger_pass *pass,
                          const sp_ledger_event *event, sp_ledger_applied *out, sp_error *err) {
    sp_ledger_voucher *voucher = changing_voucher(state, pass, event, err);
    if (voucher == NULL) return -1;
    if (!sp_id_valid(event->partner_id) || !sp_id_valid(event->operation_id)) {
        return sp_ledger_invalid_event(err, "partner or operation id");
    }
    sp_ledger_posting posting = {.amount_cents = voucher->amount_cents};
    sp_ledger_voucher_account(posting.debit_account, voucher->voucher_id);
    sp_ledger_partner_account(posting.credit_account, event->partner_id);
    if (event->posting_count != 1 || !sp_ledger_postings_match(event, &posting, 1)) {
        return sp_ledger_invalid_event(err, "postings");
    }
    if (sp_ledger_records_room(state, err) != 0) return -1;
    if (sp_ledger_post_check(state, &posting, 1, err) != 0) return sp_ledger_post_refused(err);
    if (sp_ledger_operation_reserve(pass, err) != 0) return -1;
    const sp_ledger_partner *partner = sp_ledger_directory_find(state->directory,
                                                                event->partner_code);
    if (sp_ledger_record_keep(state, event, event->request_hash, 201,
                              redeemed_json(event, partner != NULL ? partner->name : ""), out,
                              err) != 0) {
        return -1;
    }
    int rc = sp_ledger_post(state, &posting, 1, err);
    assert(rc == 0); /* sp_ledger_post_check accepted it just now */
    if (rc != 0) return -1;
    voucher->status = SP_LEDGER_VOUCHER_REDEEMED;
    assert(pass->active_voucher_count > 0);
    pass->active_voucher_count--;
    /* Cancelling the payment later returns the amount to the pass, not to
     * the voucher: the voucher stays redeemed. */
    sp_ledger_operation_remember(pass, event->operation_id, event->partner_id, voucher->category,
                                 voucher->voucher_id, voucher->amount_cents);
    return 0;
}

static int apply_released(sp_ledger_state *state, sp_ledger_pass *pass,
                          const sp_ledger_event *event, sp_ledger_applied *out, sp_error *err) {
    sp_ledger_voucher *voucher = changing_voucher(state, pass, event, err);
    if (voucher == NULL) return -1;
    sp_ledger_event derived;
    memset(&derived, 0, sizeof derived);
    release_event(pass, voucher, &derived);
    if (event->posting_count != 1 || !sp_ledger_postings_match(event, derived.postings, 1)) {
        return sp_ledger_invalid_event(err, "postings");
    }
    bool cancelled = event->kind == SP_LEDGER_EVENT_VOUCHER_CANCELLED;
    if (cancelled && sp_ledger_records_room(state, err) != 0) return -1;
    if (sp_ledger_post_check(state, derived.postings, 1, err) != 0)
        return sp_ledger_post_refused(err);
    voucher->status = cancelled ? SP_LEDGER_VOUCHER_CANCELLED : SP_LEDGER_VOUCHER_EXPIRED;
    /* An expiry is the ledger's own decision: no command outcome to keep. */
    if (cancelled && sp_ledger_record_keep(state, event, event->request_hash, 201,
                                           voucher_json(voucher, event), out, err) != 0) {
        voucher->status = SP_LEDGER_VOUCHER_ACTIVE;
        return -1;
    }
    int rc = sp_ledger_post(state, derived.postings, 1, err);
    assert(rc == 0); /* sp_ledger_post_check accepted it just now */
    if (rc != 0) return -1;
    assert(pass->active_voucher_count > 0);
    pass->active_voucher_count--;
    return 0;
}

int sp_ledger_apply_voucher(sp_ledger_state *state, sp_ledger_pass *pass,
                            const sp_ledger_event *event, sp_ledger_applied *out, sp_error *err) {
    assert(state != NULL);
    assert(pass != NULL);
    assert(event != NULL);
    assert(out != NULL);
    switch (event->kind) {
    case SP_LEDGER_EVENT_VOUCHER_ISSUED: return apply_issued(state, pass, event, out, err);
    case SP_LEDGER_EVENT_VOUCHER_REDEEMED: return apply_redeemed(state, pass, event, out, err);
    case SP_LEDGER_EVENT_VOUCHER_CANCELLED:
    case SP_LEDGER_EVENT_VOUCHER_EXPIRED: return apply_released(state, pass, event, out, err);
    default: break;
    }
    return sp_ledger_invalid_event(err, "not a voucher event");
}

/* ------------------------------------------------------------ expiry */

typedef struct due_ctx {
    sp_date today;
    const sp_ledger_voucher **due;
    size_t due_max;
    size_t due_count;
} due_ctx;

static void collect_due(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    (void)key;
    due_ctx *dc = ctx;
    const sp_ledger_voucher *voucher = value;
    if (dc->due_count < dc->due_max && voucher->status == SP_LEDGER_VOUCHER_ACTIVE &&
        voucher->valid_until < dc->today) {
        dc->due[dc->due_count++] = voucher;
    }
}

static void expiry_event(const sp_ledger_pass *pass, const sp_ledger_voucher *voucher,
                         int64_t now_ms, sp_ledger_event *event) {
    assert(pass != NULL);
    assert(voucher != NULL);
    assert(event != NULL);
    _Static_assert(SP_LEDGER_COMMAND_ID_MAX >= sizeof VOUCHER_EXPIRY_PREFIX - 1 + SP_ID_LEN,
                   "a voucher expiry command id holds the voucher id");
    sp_ledger_event_clear(event);
    event->kind = SP_LEDGER_EVENT_VOUCHER_EXPIRED;
    sp_ledger_copy(event->pass_id, sizeof event->pass_id, pass->pass_id);
    event->version = pass->version + 1;
    event->occurred_at_ms = now_ms;
    /* One expiry per voucher: it names itself in the log. */
    snprintf(event->command_id, sizeof event->command_id, VOUCHER_EXPIRY_PREFIX "%s",
             voucher->voucher_id);
    release_event(pass, voucher, event);
}

int sp_ledger_sweep_vouchers(sp_ledger_state *state, int64_t now_ms, sp_ledger_event *events,
                             size_t events_max, size_t *event_count, sp_error *err) {
    assert(state != NULL);
    assert(event_count != NULL);
    assert(events != NULL || events_max == 0);
    *event_count = 0;
    if (events_max == 0) return 0;
    due_ctx ctx = {.today = sp_paris_date_of(now_ms), .due_max = events_max};
    ctx.due = calloc(events_max, sizeof *ctx.due);
    if (ctx.due == NULL) return sp_error_set(err, 503, "unavailable", NULL, "out of memory");
    sp_map_foreach(&state->vouchers, collect_due, &ctx);
    int rc = 0;
    for (size_t i = 0; i < ctx.due_count; i++) {
        const sp_ledger_pass *pass = sp_ledger_pass_find(state, ctx.due[i]->pass_id);
        assert(pass != NULL); /* a voucher is issued on an open pass */
        sp_ledger_event *event = &events[*event_count];
        expiry_event(pass, ctx.due[i], now_ms, event);
        sp_ledger_applied applied;
        rc = sp_ledger_apply(state, event, &applied, err);
        if (rc != 0) break;
        assert(!applied.skipped);
        (*event_count)++;
    }
    free(ctx.due);
    return rc;
}
