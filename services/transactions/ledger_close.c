/* ledger_close.c - closing a pass when its beneficiary leaves the program:
 * the rule that decides ClosePass (never changing the state) and the
 * function that applies PassClosed, live and at rebuild. Every envelope's
 * remainder and every active voucher's reservation go back to the budget
 * through sp_ledger_post, each envelope is then closed (a payment cancelled
 * later sends its money to the budget, as after an expiry) and the pass
 * refuses payments, credits and vouchers for good. Pure: no I/O. */
#include "ledger.h"

#include <assert.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_internal.h"
#include "sp_text.h"

static const char *text_or_empty(const char *text) {
    return text != NULL ? text : "";
}

void sp_ledger_hash_close(uint8_t out[SP_KEY_LEN], const char *pass_id, const char *reason) {
    sp_key_of(out, SP_LEDGER_TYPE_CLOSE_PASS, text_or_empty(pass_id), text_or_empty(reason), NULL);
}

/* 0..200 characters of UTF-8 in at most 800 bytes, no control character. */
static bool reason_valid(const char *reason) {
    size_t len = strnlen(reason, SP_LEDGER_CLOSE_REASON_MAX + 1);
    return len <= SP_LEDGER_CLOSE_REASON_MAX && sp_text_utf8_valid(reason, len) &&
           !sp_text_has_control_char(reason, len) &&
           sp_text_utf8_char_count(reason, len) <= SP_LEDGER_CLOSE_REASON_CHARS_MAX;
}

/* ------------------------------------------------------------ decide */

typedef struct open_vouchers {
    const char *pass_id;
    sp_ledger_event *event; /* ids into operation_ids, amounts into close_voucher_cents */
    size_t count;           /* found, may pass SP_LEDGER_CLOSE_VOUCHERS_MAX */
} open_vouchers;

static void collect_voucher(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    (void)key;
    open_vouchers *found = ctx;
    const sp_ledger_voucher *voucher = value;
    if (voucher->status != SP_LEDGER_VOUCHER_ACTIVE ||
        strcmp(voucher->pass_id, found->pass_id) != 0)
        return;
    if (found->count < SP_LEDGER_CLOSE_VOUCHERS_MAX) {
        sp_ledger_copy(found->event->operation_ids[found->count], SP_ID_LEN + 1,
                       voucher->voucher_id);
        found->event->close_voucher_cents[found->count] = voucher->balance_cents;
    }
    found->count++;
}

/* The map's order is its hash's: sorted by id, the event is the same
 * whichever writer decides it. */
static int voucher_order(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void sort_vouchers(sp_ledger_event *event) {
    assert(event != NULL);
    size_t n = event->changed_count;
    if (n < 2) return;
    const char *ids[SP_LEDGER_CLOSE_VOUCHERS_MAX];
    for (size_t i = 0; i < n; i++) ids[i] = event->operation_ids[i];
    qsort(ids, n, sizeof ids[0], voucher_order);
    char sorted_ids[SP_LEDGER_CLOSE_VOUCHERS_MAX][SP_ID_LEN + 1];
    int64_t sorted_cents[SP_LEDGER_CLOSE_VOUCHERS_MAX];
    for (size_t i = 0; i < n; i++) {
        size_t from = (size_t)((ids[i] - event->operation_ids[0]) / (SP_ID_LEN + 1));
        memcpy(sorted_ids[i], event->operation_ids[from], SP_ID_LEN + 1);
        sorted_cents[i] = event->close_voucher_cents[from];
    }
    memcpy(event->operation_ids, sorted_ids, n * (SP_ID_LEN + 1));
    memcpy(event->close_voucher_cents, sorted_cents, n * sizeof sorted_cents[0]);
}

/* Fills the returns of the close; -1 when the pass holds too many vouchers. */
static int close_returns(const sp_ledger_state *state, const sp_ledger_pass *pass,
                         sp_ledger_event *event, sp_error *err) {
    assert(state != NULL);
    assert(pass != NULL);
    open_vouchers found = {.pass_id = pass->pass_id, .event = event};
    sp_map_foreach(&state->vouchers, collect_voucher, &found);
    assert(found.count == pass->active_voucher_count);
    if (found.count > SP_LEDGER_CLOSE_VOUCHERS_MAX) {
        return sp_error_set(err, 409, "too_many_vouchers", "pass_id",
                            "the pass holds %zu open vouchers, a close cancels at most %d: "
                            "cancel some first",
                            found.count, SP_LEDGER_CLOSE_VOUCHERS_MAX);
    }
    event->changed_count = found.count;
    sort_vouchers(event);
    int64_t total_cents = 0;
    for (size_t i = 0; i < found.count; i++) total_cents += event->close_voucher_cents[i];
    for (size_t i = 0; i < pass->envelope_count; i++) {
        const sp_ledger_envelope *envelope = &pass->envelopes[i];
        if (envelope->balance_cents == 0) continue;
        size_t k = event->envelope_count++;
        sp_ledger_copy(event->envelopes[k].category, sizeof event->envelopes[k].category,
                       envelope->category);
        event->close_envelope_cents[k] = envelope->balance_cents;
        total_cents += envelope->balance_cents;
    }
    /* Each balance is within SP_MONEY_BALANCE_ABS_CENTS_MAX and the budget
     * holds minus their sum: the total is within it too. */
    event->amount_cents = total_cents;
    return 0;
}

void sp_ledger_decide_close(const sp_ledger_state *state, const sp_ledger_pass *pass,
                            const sp_ledger_command *command, const uint8_t hash[SP_KEY_LEN],
                            int64_t now_ms, sp_ledger_decision *out) {
    assert(command != NULL);
    assert(out != NULL);
    sp_error why;
    sp_error_clear(&why);
    sp_ledger_event *event = &out->event;
    const char *reason = text_or_empty(command->reason);
    int rc = 0;
    if (pass->closed) {
        rc = sp_error_set(&why, 409, "pass_closed", "pass_id", "the pass is already closed");
    } else if (!reason_valid(reason)) {
        rc = sp_error_set(&why, 400, "invalid_value", "reason",
                          "a reason is at most 200 characters, without control characters");
    } else {
        rc = close_returns(state, pass, event, &why);
    }
    if (rc != 0) {
        sp_ledger_event_clear(event);
        sp_ledger_decided_reject(out, pass, command, hash, now_ms, &why);
        return;
    }
    out->kind = SP_LEDGER_DECIDED_EVENT;
    sp_ledger_decided_header(event, SP_LEDGER_EVENT_PASS_CLOSED, pass, command, now_ms);
    memcpy(event->request_hash, hash, SP_KEY_LEN);
    sp_ledger_copy(event->beneficiary_id, sizeof event->beneficiary_id, pass->beneficiary_id);
    sp_ledger_copy(event->close_reason, sizeof event->close_reason, reason);
}

/* ------------------------------------------------------------ postings */

size_t sp_ledger_close_postings(const sp_ledger_event *event,
                                sp_ledger_posting postings[SP_LEDGER_CLOSE_POSTINGS_MAX]) {
    assert(event != NULL);
    assert(event->kind == SP_LEDGER_EVENT_PASS_CLOSED);
    assert(event->envelope_count <= SP_LEDGER_ENVELOPES_MAX);
    assert(event->changed_count <= SP_LEDGER_CLOSE_VOUCHERS_MAX);
    size_t n = 0;
    for (size_t i = 0; i < event->envelope_count; i++, n++) {
        memset(&postings[n], 0, sizeof postings[n]);
        sp_ledger_envelope_account(postings[n].debit_account, event->pass_id,
                                   event->envelopes[i].category);
        sp_ledger_copy(postings[n].credit_account, sizeof postings[n].credit_account,
                       SP_LEDGER_BUDGET_ACCOUNT);
        postings[n].amount_cents = event->close_envelope_cents[i];
    }
    for (size_t i = 0; i < event->changed_count; i++, n++) {
        memset(&postings[n], 0, sizeof postings[n]);
        sp_ledger_voucher_account(postings[n].debit_account, event->operation_ids[i]);
        sp_ledger_copy(postings[n].credit_account, sizeof postings[n].credit_account,
                       SP_LEDGER_BUDGET_ACCOUNT);
        postings[n].amount_cents = event->close_voucher_cents[i];
    }
    return n;
}

/* ------------------------------------------------------------ apply */

static char *closed_json(const sp_ledger_event *event) {
    assert(event != NULL);
    char closed_at[25];
    sp_ledger_format_instant(event->occurred_at_ms, closed_at);
    json_t *obj = json_object();
    int failed = obj == NULL;
    failed |= json_object_set_new(obj, "pass_id", json_string(event->pass_id));
    failed |= json_object_set_new(obj, "closed_at", json_string(closed_at));
    failed |= json_object_set_new(obj, "returned_cents", json_integer(event->amount_cents));
    failed |= json_object_set_new(obj, "vouchers_cancelled",
                                  json_integer((json_int_t)event->changed_count));
    char *text = (obj != NULL && failed == 0) ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    return text;
}

/* The event returns exactly what the pass holds: every envelope with money
 * (once), every active voucher of the pass (once), the sum. */
static int close_matches(sp_ledger_state *state, const sp_ledger_pass *pass,
                         const sp_ledger_event *event, sp_error *err) {
    if (event->envelope_count > SP_LEDGER_ENVELOPES_MAX ||
        event->changed_count > SP_LEDGER_CLOSE_VOUCHERS_MAX) {
        return sp_ledger_invalid_event(err, "too many returns");
    }
    size_t holding = 0;
    for (size_t i = 0; i < pass->envelope_count; i++)
        holding += pass->envelopes[i].balance_cents > 0;
    if (holding != event->envelope_count) return sp_ledger_invalid_event(err, "envelope returns");
    int64_t total_cents = 0;
    for (size_t i = 0; i < event->envelope_count; i++) {
        int index = sp_ledger_envelope_index(pass, event->envelopes[i].category);
        if (index < 0 || pass->envelopes[index].balance_cents != event->close_envelope_cents[i])
            return sp_ledger_invalid_event(err, "an envelope return is not its balance");
        for (size_t j = 0; j < i; j++)
            if (strcmp(event->envelopes[j].category, event->envelopes[i].category) == 0)
                return sp_ledger_invalid_event(err, "an envelope returned twice");
        total_cents += event->close_envelope_cents[i];
    }
    if (event->changed_count != pass->active_voucher_count)
        return sp_ledger_invalid_event(err, "the active vouchers of the pass");
    for (size_t i = 0; i < event->changed_count; i++) {
        const char *id = event->operation_ids[i];
        const sp_ledger_voucher *voucher = sp_id_valid(id) ? sp_ledger_voucher_of(state, id) : NULL;
        if (voucher == NULL || strcmp(voucher->pass_id, pass->pass_id) != 0 ||
            voucher->status != SP_LEDGER_VOUCHER_ACTIVE ||
            voucher->balance_cents != event->close_voucher_cents[i])
            return sp_ledger_invalid_event(err, "a voucher return is not an active voucher's");
        for (size_t j = 0; j < i; j++)
            if (strcmp(event->operation_ids[j], id) == 0)
                return sp_ledger_invalid_event(err, "a voucher returned twice");
        total_cents += event->close_voucher_cents[i];
    }
    if (total_cents != event->amount_cents) return sp_ledger_invalid_event(err, "returned total");
    return 0;
}

/* sp_ledger_post takes SP_LEDGER_POSTINGS_MAX at a time: every chunk is
 * checked before the first moves money. The chunks touch distinct accounts
 * but the budget, which they only credit: a budget is minus what its
 * partition handed out, so it stays within its limit. */
static int post_in_chunks(sp_ledger_state *state, const sp_ledger_posting *postings, size_t count,
                          bool apply, sp_error *err) {
    for (size_t at = 0; at < count; at += SP_LEDGER_POSTINGS_MAX) {
        size_t n = count - at < SP_LEDGER_POSTINGS_MAX ? count - at : SP_LEDGER_POSTINGS_MAX;
        int rc = apply ? sp_ledger_post(state, postings + at, n, err)
                       : sp_ledger_post_check(state, postings + at, n, err);
        if (rc != 0) return -1;
    }
    return 0;
}

int sp_ledger_apply_closed(sp_ledger_state *state, sp_ledger_pass *pass,
                           const sp_ledger_event *event, sp_ledger_applied *out, sp_error *err) {
    if (pass->closed) return sp_ledger_invalid_event(err, "the pass is already closed");
    if (event->posting_count != 0) return sp_ledger_invalid_event(err, "postings");
    if (!reason_valid(event->close_reason)) return sp_ledger_invalid_event(err, "reason");
    if (close_matches(state, pass, event, err) != 0) return -1;
    sp_ledger_posting postings[SP_LEDGER_CLOSE_POSTINGS_MAX];
    size_t count = sp_ledger_close_postings(event, postings);
    if (sp_ledger_records_room(state, err) != 0) return -1;
    if (post_in_chunks(state, postings, count, false, err) != 0) return sp_ledger_post_refused(err);
    uint8_t hash[SP_KEY_LEN];
    sp_ledger_hash_close(hash, pass->pass_id, event->close_reason);
    if (sp_ledger_record_keep(state, event, hash, 200, closed_json(event), out, err) != 0)
        return -1;
    int rc = post_in_chunks(state, postings, count, true, err);
    assert(rc == 0); /* checked just now */
    if (rc != 0) return -1;
    for (size_t i = 0; i < event->changed_count; i++) {
        sp_ledger_voucher *voucher = sp_ledger_voucher_of(state, event->operation_ids[i]);
        voucher->status = SP_LEDGER_VOUCHER_CANCELLED;
    }
    pass->active_voucher_count = 0;
    for (size_t i = 0; i < pass->envelope_count; i++) pass->envelopes[i].closed = true;
    pass->closed = true;
    pass->closed_at_ms = event->occurred_at_ms;
    return 0;
}
