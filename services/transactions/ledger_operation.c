/* ledger_operation.c - a partner's payments in the ledger: the memory a pass
 * keeps of them (partner, envelope, voucher, amount, status), the rules that
 * cancel one or set its internal reference (deciding, never changing the
 * state), and the function that applies those events, live and at rebuild.
 * A payment belongs to its pass's aggregate: one writer decides all of a
 * pass's payments in order, so a payment cannot be cancelled twice.
 * Money moves only through sp_ledger_post. Pure: no I/O. */
#include "ledger.h"

#include <assert.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_internal.h"

#define OPERATIONS_INITIAL_CAPACITY 4

static const char *text_or_empty(const char *text) {
    return text != NULL ? text : "";
}

const char *sp_ledger_operation_status_name(sp_ledger_operation_status status) {
    switch (status) {
    case SP_LEDGER_OPERATION_ACCEPTED: return "accepted";
    case SP_LEDGER_OPERATION_CANCELLED: return "cancelled";
    case SP_LEDGER_OPERATION_REQUESTED: return "requested";
    case SP_LEDGER_OPERATION_PAID: return "paid";
    }
    return "unknown";
}

void sp_ledger_hash_cancel_operation(uint8_t out[SP_KEY_LEN], const char *pass_id,
                                     const char *operation_id, const char *partner_id) {
    sp_key_of(out, SP_LEDGER_TYPE_CANCEL_OPERATION, text_or_empty(pass_id),
              text_or_empty(operation_id), text_or_empty(partner_id));
}

void sp_ledger_hash_set_reference(uint8_t out[SP_KEY_LEN], const char *pass_id,
                                  const char *operation_id, const char *partner_id,
                                  const char *reference) {
    uint8_t head[SP_KEY_LEN];
    sp_key_of(head, SP_LEDGER_TYPE_SET_OPERATION_REFERENCE, text_or_empty(pass_id),
              text_or_empty(operation_id), NULL);
    char head_hex[2 * SP_KEY_LEN + 1];
    static const char hex[] = "0123456789abcdef";
    for (size_t b = 0; b < SP_KEY_LEN; b++) {
        head_hex[2 * b] = hex[head[b] >> 4];
        head_hex[2 * b + 1] = hex[head[b] & 0x0F];
    }
    head_hex[2 * SP_KEY_LEN] = '\0';
    sp_key_of(out, head_hex, text_or_empty(partner_id), text_or_empty(reference), NULL);
}

/* ------------------------------------------------------------ memory */

static sp_ledger_operation *operation_of(sp_ledger_pass *pass, const char *operation_id) {
    for (size_t i = 0; i < pass->operation_count; i++) {
        if (strcmp(pass->operations[i].operation_id, operation_id) == 0) {
            return &pass->operations[i];
        }
    }
    return NULL;
}

sp_ledger_operation *sp_ledger_operation_of(sp_ledger_pass *pass, const char *operation_id) {
    return operation_of(pass, operation_id);
}

const sp_ledger_operation *sp_ledger_operation_find(const sp_ledger_pass *pass,
                                                    const char *operation_id) {
    assert(pass != NULL);
    if (operation_id == NULL || !sp_id_valid(operation_id)) return NULL;
    /* Only reads: the cast lets one lookup serve both sides. */
    return operation_of((sp_ledger_pass *)pass, operation_id);
}

int sp_ledger_operation_reserve(sp_ledger_pass *pass, sp_error *err) {
    if (pass->operation_count < pass->operation_capacity) return 0;
    if (pass->operation_capacity >= SP_LEDGER_PASS_OPERATIONS_MAX) return 0; /* the oldest goes */
    size_t capacity = pass->operation_capacity == 0 ? OPERATIONS_INITIAL_CAPACITY
                                                    : 2 * pass->operation_capacity;
    if (capacity > SP_LEDGER_PASS_OPERATIONS_MAX) capacity = SP_LEDGER_PASS_OPERATIONS_MAX;
    sp_ledger_operation *grown = realloc(pass->operations, capacity * sizeof *grown);
    if (grown == NULL) return sp_error_set(err, 503, "unavailable", NULL, "out of memory");
    pass->operations = grown;
    pass->operation_capacity = capacity;
    return 0;
}

void sp_ledger_operation_remember(sp_ledger_pass *pass, const char *operation_id,
                                  const char *partner_id, const char *category,
                                  const char *voucher_id, int64_t amount_cents) {
    assert(pass != NULL);
    assert(pass->operation_capacity > 0); /* sp_ledger_operation_reserve first */
    assert(amount_cents > 0); /* its posting moved it, and a posting moves 1 cent or more */
    if (pass->operation_count == pass->operation_capacity) {
        assert(pass->operation_count == SP_LEDGER_PASS_OPERATIONS_MAX);
        /* A requested payment holds money in its request's account until it is
         * released or settled: the oldest other one is forgotten first. */
        size_t gone = 0;
        while (gone < pass->operation_count &&
               pass->operations[gone].status == SP_LEDGER_OPERATION_REQUESTED) {
            gone++;
        }
        if (gone == pass->operation_count) gone = 0;
        memmove(&pass->operations[gone], &pass->operations[gone + 1],
                (pass->operation_count - 1 - gone) * sizeof pass->operations[0]);
        pass->operation_count--;
    }
    sp_ledger_operation *op = &pass->operations[pass->operation_count++];
    memset(op, 0, sizeof *op);
    sp_ledger_copy(op->operation_id, sizeof op->operation_id, operation_id);
    sp_ledger_copy(op->partner_id, sizeof op->partner_id, partner_id);
    sp_ledger_copy(op->category, sizeof op->category, category);
    sp_ledger_copy(op->voucher_id, sizeof op->voucher_id, voucher_id);
    op->amount_cents = amount_cents;
    op->status = SP_LEDGER_OPERATION_ACCEPTED;
}

/* ------------------------------------------------------------ result JSON */

static char *dump(json_t *obj, int failed) {
    char *text = (obj != NULL && failed == 0) ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    return text;
}

/* The cancelled payment as its partner sees it: no balance, the pass only
 * as pass_ref; returned_to says where the money went. */
static char *cancelled_json(const sp_ledger_operation *op, const sp_ledger_event *event,
                            bool to_budget) {
    assert(op != NULL);
    assert(event != NULL);
    char occurred_at[25];
    sp_ledger_format_instant(event->occurred_at_ms, occurred_at);
    json_t *obj = json_object();
    int failed = obj == NULL;
    failed |= json_object_set_new(obj, "operation_id", json_string(op->operation_id));
    failed |= json_object_set_new(obj, "kind", json_string("payment"));
    failed |= json_object_set_new(obj, "channel",
                                  json_string(op->voucher_id[0] != '\0' ? "voucher" : "code"));
    failed |= json_object_set_new(obj, "status", json_string("cancelled"));
    failed |= json_object_set_new(obj, "partner_id", json_string(op->partner_id));
    failed |= json_object_set_new(obj, "category", json_string(op->category));
    failed |= json_object_set_new(obj, "amount_cents", json_integer(op->amount_cents));
    failed |= json_object_set_new(obj, "returned_to",
                                  json_string(to_budget ? "budget" : "envelope"));
    failed |= json_object_set_new(obj, "cancelled_at", json_string(occurred_at));
    failed |= json_object_set_new(obj, "pass_ref", json_string(event->pass_id + SP_ID_LEN - 4));
    return dump(obj, failed);
}

static char *reference_json(const sp_ledger_event *event) {
    assert(event != NULL);
    char occurred_at[25];
    sp_ledger_format_instant(event->occurred_at_ms, occurred_at);
    json_t *obj = json_object();
    int failed = obj == NULL;
    failed |= json_object_set_new(obj, "operation_id", json_string(event->operation_id));
    failed |= json_object_set_new(obj, "reference", json_string(event->reference));
    failed |= json_object_set_new(obj, "updated_at", json_string(occurred_at));
    return dump(obj, failed);
}

/* ------------------------------------------------------------ rules */

/* The payment named by the command, of the acting partner and still
 * accepted; another partner's is not found (nothing is revealed). */
static int partner_operation(const sp_ledger_pass *pass, const sp_ledger_command *command,
                             const sp_ledger_operation **out, sp_error *err) {
    assert(command != NULL);
    const char *partner_id = text_or_empty(command->partner_id);
    *out = sp_ledger_operation_find(pass, command->operation_id);
    if (*out == NULL || !sp_id_valid(partner_id) || strcmp((*out)->partner_id, partner_id) != 0) {
        *out = NULL;
        return sp_error_set(err, 404, "operation_not_found", "operation_id", "no such operation");
    }
    if ((*out)->status == SP_LEDGER_OPERATION_CANCELLED) {
        return sp_error_set(err, 409, "operation_cancelled", "operation_id",
                            "this operation was cancelled");
    }
    return 0;
}

/* Refunded or about to be: its money is no longer the partner's to give back. */
static int cancellable(const sp_ledger_operation *op, sp_error *err) {
    if (op->status == SP_LEDGER_OPERATION_REQUESTED) {
        return sp_error_set(err, 409, "operation_in_refund_request", "operation_id",
                            "this operation is in the refund request %s", op->request_id);
    }
    if (op->status == SP_LEDGER_OPERATION_PAID) {
        return sp_error_set(err, 409, "operation_paid", "operation_id",
                            "this operation was refunded by the request %s", op->request_id);
    }
    return 0;
}

/* The money goes back where it came from: its envelope, or the budget when
 * that envelope has expired since (its remainder went there). */
static void cancel_posting(const sp_ledger_pass *pass, const sp_ledger_operation *op,
                           bool to_budget, sp_ledger_posting *posting) {
    assert(op != NULL);
    assert(posting != NULL);
    memset(posting, 0, sizeof *posting);
    posting->amount_cents = op->amount_cents;
    sp_ledger_partner_account(posting->debit_account, op->partner_id);
    if (to_budget) {
        sp_ledger_copy(posting->credit_account, sizeof posting->credit_account,
                       SP_LEDGER_BUDGET_ACCOUNT);
    } else {
        sp_ledger_envelope_account(posting->credit_account, pass->pass_id, op->category);
    }
}

static void cancelled_event(const sp_ledger_pass *pass, const sp_ledger_operation *op,
                            int64_t now_ms, sp_ledger_event *event) {
    assert(pass != NULL);
    assert(op != NULL);
    assert(event != NULL);
    int index = sp_ledger_envelope_index(pass, op->category);
    assert(index >= 0); /* paid from it, and envelopes are never removed */
    const sp_ledger_envelope *envelope = &pass->envelopes[index];
    bool to_budget = sp_ledger_envelope_expired_at(envelope, now_ms);
    sp_ledger_copy(event->operation_id, sizeof event->operation_id, op->operation_id);
    sp_ledger_copy(event->partner_id, sizeof event->partner_id, op->partner_id);
    sp_ledger_copy(event->category, sizeof event->category, op->category);
    sp_ledger_copy(event->voucher_id, sizeof event->voucher_id, op->voucher_id);
    sp_ledger_copy(event->beneficiary_id, sizeof event->beneficiary_id, pass->beneficiary_id);
    event->amount_cents = op->amount_cents;
    event->posting_count = 1;
    cancel_posting(pass, op, to_budget, &event->postings[0]);
    int64_t back_cents = to_budget ? 0 : op->amount_cents;
    /* sp_ledger_post_check proves these stay within the balance limit. */
    event->envelope_balance_after_cents = envelope->balance_cents + back_cents;
    event->pass_balance_after_cents = sp_ledger_pass_balance_cents(pass) + back_cents;
}

void sp_ledger_decide_cancel_operation(const sp_ledger_state *state, const sp_ledger_pass *pass,
                                       const sp_ledger_command *command,
                                       const uint8_t hash[SP_KEY_LEN], int64_t now_ms,
                                       sp_ledger_decision *out) {
    assert(out != NULL);
    sp_error why;
    sp_error_clear(&why);
    const sp_ledger_operation *op = NULL;
    sp_ledger_event *event = &out->event;
    int rc = partner_operation(pass, command, &op, &why);
    if (rc == 0) rc = cancellable(op, &why);
    if (rc == 0) {
        cancelled_event(pass, op, now_ms, event);
        rc = sp_ledger_post_check(state, event->postings, 1, &why);
    }
    if (rc != 0) {
        sp_ledger_event_clear(event);
        sp_ledger_decided_reject(out, pass, command, hash, now_ms, &why);
        return;
    }
    out->kind = SP_LEDGER_DECIDED_EVENT;
    sp_ledger_decided_header(event, SP_LEDGER_EVENT_OPERATION_CANCELLED, pass, command, now_ms);
    memcpy(event->request_hash, hash, SP_KEY_LEN);
}

/* At most SP_LEDGER_REFERENCE_CHARS_MAX characters (the log's strings are
 * UTF-8: every byte that is not a continuation byte starts one) in
 * SP_LEDGER_REFERENCE_MAX bytes, no control character. */
static bool reference_valid(const char *reference) {
    size_t len = strnlen(reference, SP_LEDGER_REFERENCE_MAX + 1);
    if (len > SP_LEDGER_REFERENCE_MAX) return false;
    size_t chars = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)reference[i];
        if (c < 0x20 || c == 0x7F) return false;
        if ((c & 0xC0) != 0x80) chars++;
    }
    return chars <= SP_LEDGER_REFERENCE_CHARS_MAX;
}

void sp_ledger_decide_set_reference(const sp_ledger_state *state, const sp_ledger_pass *pass,
                                    const sp_ledger_command *command,
                                    const uint8_t hash[SP_KEY_LEN], int64_t now_ms,
                                    sp_ledger_decision *out) {
    assert(command != NULL);
    (void)state;
    sp_error why;
    sp_error_clear(&why);
    const sp_ledger_operation *op = NULL;
    const char *reference = text_or_empty(command->reference);
    int rc = 0;
    if (!reference_valid(reference)) {
        rc = sp_error_set(&why, 400, "invalid_value", "reference",
                          "a reference is at most 100 characters, without control characters");
    }
    if (rc == 0) rc = partner_operation(pass, command, &op, &why);
    if (rc != 0) {
        sp_ledger_decided_reject(out, pass, command, hash, now_ms, &why);
        return;
    }
    out->kind = SP_LEDGER_DECIDED_EVENT;
    sp_ledger_event *event = &out->event;
    sp_ledger_decided_header(event, SP_LEDGER_EVENT_OPERATION_REFERENCE_SET, pass, command, now_ms);
    memcpy(event->request_hash, hash, SP_KEY_LEN);
    sp_ledger_copy(event->operation_id, sizeof event->operation_id, op->operation_id);
    sp_ledger_copy(event->partner_id, sizeof event->partner_id, op->partner_id);
    sp_ledger_copy(event->reference, sizeof event->reference, reference);
}

/* ------------------------------------------------------------ apply */

/* The event's payment, of this pass and its partner, still accepted (or,
 * when !accepted_only, anything but cancelled). */
static sp_ledger_operation *changing_operation(sp_ledger_pass *pass, const sp_ledger_event *event,
                                               bool accepted_only, sp_error *err) {
    assert(event != NULL);
    sp_ledger_operation *op = sp_id_valid(event->operation_id)
                                  ? operation_of(pass, event->operation_id)
                                  : NULL;
    if (op == NULL || strcmp(op->partner_id, event->partner_id) != 0) {
        sp_ledger_invalid_event(err, "no such payment of this partner on this pass");
        return NULL;
    }
    if (op->status == SP_LEDGER_OPERATION_CANCELLED ||
        (accepted_only && op->status != SP_LEDGER_OPERATION_ACCEPTED)) {
        sp_ledger_invalid_event(err, "the payment was cancelled, or is refunded");
        return NULL;
    }
    return op;
}

static int apply_cancelled(sp_ledger_state *state, sp_ledger_pass *pass,
                           const sp_ledger_event *event, sp_ledger_applied *out, sp_error *err) {
    sp_ledger_operation *op = changing_operation(pass, event, true, err);
    if (op == NULL) return -1;
    if (event->amount_cents != op->amount_cents || strcmp(event->category, op->category) != 0) {
        return sp_ledger_invalid_event(err, "amount or category is not the payment's");
    }
    int index = sp_ledger_envelope_index(pass, op->category);
    if (index < 0) return sp_ledger_invalid_event(err, "no such envelope");
    /* Where the money went was decided at the time: the budget is always
     * right, the envelope only while it is open. */
    bool to_budget = event->posting_count == 1 &&
                     strcmp(event->postings[0].credit_account, SP_LEDGER_BUDGET_ACCOUNT) == 0;
    if (pass->envelopes[index].closed) to_budget = true;
    sp_ledger_posting posting;
    cancel_posting(pass, op, to_budget, &posting);
    if (event->posting_count != 1 || !sp_ledger_postings_match(event, &posting, 1)) {
        return sp_ledger_invalid_event(err, "postings");
    }
    if (sp_ledger_records_room(state, err) != 0) return -1;
    if (sp_ledger_post_check(state, &posting, 1, err) != 0) return sp_ledger_post_refused(err);
    if (sp_ledger_record_keep(state, event, event->request_hash, 200,
                              cancelled_json(op, event, to_budget), out, err) != 0) {
        return -1;
    }
    int rc = sp_ledger_post(state, &posting, 1, err);
    assert(rc == 0); /* sp_ledger_post_check accepted it just now */
    if (rc != 0) return -1;
    op->status = SP_LEDGER_OPERATION_CANCELLED;
    return 0;
}

static int apply_reference_set(sp_ledger_state *state, sp_ledger_pass *pass,
                               const sp_ledger_event *event, sp_ledger_applied *out,
                               sp_error *err) {
    if (changing_operation(pass, event, false, err) == NULL) return -1;
    if (!reference_valid(event->reference)) return sp_ledger_invalid_event(err, "reference");
    if (sp_ledger_records_room(state, err) != 0) return -1;
    return sp_ledger_record_keep(state, event, event->request_hash, 200, reference_json(event), out,
                                 err);
}

int sp_ledger_apply_operation(sp_ledger_state *state, sp_ledger_pass *pass,
                              const sp_ledger_event *event, sp_ledger_applied *out, sp_error *err) {
    assert(state != NULL);
    assert(pass != NULL);
    assert(event != NULL);
    assert(out != NULL);
    switch (event->kind) {
    case SP_LEDGER_EVENT_OPERATION_CANCELLED: return apply_cancelled(state, pass, event, out, err);
    case SP_LEDGER_EVENT_OPERATION_REFERENCE_SET:
        return apply_reference_set(state, pass, event, out, err);
    default: break;
    }
    return sp_ledger_invalid_event(err, "not an operation event");
}
