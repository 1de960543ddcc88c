/* refunds.c - what the refunds service sends next, decided from read-model
 * rows (see refunds.h). Pure: no I/O, no clock. */
#include "refunds.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include "sp_money.h"

static const char *step_name(sp_refunds_step step) {
    switch (step) {
    case SP_REFUNDS_STEP_RESERVE: return "reserve";
    case SP_REFUNDS_STEP_RELEASE: return "release";
    case SP_REFUNDS_STEP_SETTLE: return "settle";
    case SP_REFUNDS_STEP_CONFIRM: return "confirm";
    case SP_REFUNDS_STEP_ABORT: return "abort";
    case SP_REFUNDS_STEP_OPEN: return "auto";
    }
    assert(!"unknown refund step");
    return "";
}

void sp_refunds_command_id(sp_refunds_step step, const char *request_id, sp_refund_period period,
                           char *out) {
    assert(out != NULL);
    assert(sp_id_valid(request_id));
    int n;
    if (step == SP_REFUNDS_STEP_CONFIRM || step == SP_REFUNDS_STEP_ABORT) {
        /* Scoped by the request's own aggregate: the step's name is enough. */
        n = snprintf(out, SP_REFUNDS_COMMAND_ID_MAX + 1, "%s", step_name(step));
    } else if (step == SP_REFUNDS_STEP_OPEN) {
        char text[SP_REFUND_PERIOD_TEXT_LEN + 1];
        sp_clock_refund_period_format(period, text);
        n = snprintf(out, SP_REFUNDS_COMMAND_ID_MAX + 1, "auto-%s", text);
    } else {
        n = snprintf(out, SP_REFUNDS_COMMAND_ID_MAX + 1, "%s-%s", step_name(step), request_id);
    }
    assert(n > 0);
    assert(n <= SP_REFUNDS_COMMAND_ID_MAX);
    (void)n;
}

void sp_refunds_auto_request_id(const char *partner_id, sp_refund_period period, char *out) {
    assert(sp_id_valid(partner_id));
    assert(out != NULL);
    char text[SP_REFUND_PERIOD_TEXT_LEN + 1];
    sp_clock_refund_period_format(period, text);
    uint8_t key[SP_KEY_LEN];
    sp_key_of(key, "refund-request", partner_id, text, NULL);
    sp_id_from_key(key, out);
}

void sp_refunds_batch_request_id(const char *partner_id, sp_refund_period period, size_t index,
                                 char *out) {
    assert(sp_id_valid(partner_id));
    assert(out != NULL);
    assert(index < SP_REFUNDS_BATCH_REQUESTS_MAX);
    if (index == 0) {
        sp_refunds_auto_request_id(partner_id, period, out);
        return;
    }
    char text[SP_REFUND_PERIOD_TEXT_LEN + 1], index_text[24];
    sp_clock_refund_period_format(period, text);
    snprintf(index_text, sizeof index_text, "%zu", index);
    uint8_t key[SP_KEY_LEN];
    sp_key_of(key, "refund-request", partner_id, text, index_text);
    sp_id_from_key(key, out);
}

static const sp_refunds_batch_row *batch_row_of(const sp_refunds_batch_row *rows, size_t count,
                                                const char *request_id) {
    assert(rows != NULL || count == 0);
    assert(request_id != NULL);
    for (size_t i = 0; i < count; i++)
        if (strcmp(rows[i].request_id, request_id) == 0) return &rows[i];
    return NULL;
}

sp_refunds_batch_decision sp_refunds_decide_batch(const char *partner_id, sp_refund_period period,
                                                  const sp_refunds_batch_row *rows,
                                                  size_t row_count, size_t *index,
                                                  char *request_id) {
    assert(sp_id_valid(partner_id));
    assert(index != NULL);
    assert(request_id != NULL);
    assert(rows != NULL || row_count == 0);
    const sp_refunds_batch_row *last = NULL;
    /* Rows that are no request of the batch are not counted: at most
     * row_count + 1 derivations find the first missing request. */
    for (size_t k = 0; k <= row_count && k < SP_REFUNDS_BATCH_REQUESTS_MAX; k++) {
        sp_refunds_batch_request_id(partner_id, period, k, request_id);
        const sp_refunds_batch_row *row = batch_row_of(rows, row_count, request_id);
        if (row == NULL) {
            if (last != NULL && last->operations_asked != SP_REFUND_REQUEST_OPERATIONS_MAX)
                return SP_REFUNDS_BATCH_DONE;
            *index = k;
            return SP_REFUNDS_BATCH_OPEN;
        }
        if (row->opening) return SP_REFUNDS_BATCH_WAIT;
        if (row->cancelled) return SP_REFUNDS_BATCH_DONE;
        last = row;
    }
    return SP_REFUNDS_BATCH_DONE; /* SP_REFUNDS_BATCH_REQUESTS_MAX reached */
}

sp_refunds_decision sp_refunds_decide_opening(const sp_refunds_opening *o) {
    assert(o != NULL);
    assert(o->part_count >= 1);
    assert(o->parts_reserved + o->parts_refused <= o->parts_seen);
    /* One refusal is enough: the request cannot be whole any more. */
    if (o->parts_refused > 0) return SP_REFUNDS_ABORT;
    if (o->parts_seen == o->part_count && o->parts_reserved == o->part_count)
        return SP_REFUNDS_CONFIRM;
    return SP_REFUNDS_WAIT;
}

/* ------------------------------------------------------------ resends */

static size_t sent_key(sp_refunds_step step, const char *request_id, const char *aggregate_id,
                       uint8_t key[SP_KEY_LEN]) {
    assert(request_id != NULL);
    assert(aggregate_id != NULL);
    sp_key_of(key, step_name(step), request_id, aggregate_id, NULL);
    uint32_t h = (uint32_t)key[0] | (uint32_t)key[1] << 8 | (uint32_t)key[2] << 16 |
                 (uint32_t)key[3] << 24;
    return h % SP_REFUNDS_SENT_SLOTS;
}

void sp_refunds_sent_init(sp_refunds_sent *sent) {
    assert(sent != NULL);
    memset(sent, 0, sizeof *sent);
}

bool sp_refunds_sent_due(const sp_refunds_sent *sent, sp_refunds_step step, const char *request_id,
                         const char *aggregate_id, int64_t now_ms, int64_t resend_ms) {
    assert(now_ms >= 0);
    assert(sent != NULL);
    assert(resend_ms > 0);
    uint8_t key[SP_KEY_LEN];
    const sp_refunds_sent_slot *slot = &sent->slots[sent_key(step, request_id, aggregate_id, key)];
    if (!slot->used || memcmp(slot->key, key, SP_KEY_LEN) != 0) return true;
    /* A clock moved backwards counts as "long ago": better a resend than silence. */
    return now_ms - slot->sent_ms >= resend_ms || now_ms < slot->sent_ms;
}

void sp_refunds_sent_mark(sp_refunds_sent *sent, sp_refunds_step step, const char *request_id,
                          const char *aggregate_id, int64_t now_ms) {
    assert(now_ms >= 0);
    assert(sent != NULL);
    uint8_t key[SP_KEY_LEN];
    sp_refunds_sent_slot *slot = &sent->slots[sent_key(step, request_id, aggregate_id, key)];
    memcpy(slot->key, key, SP_KEY_LEN);
    slot->sent_ms = now_ms;
    slot->used = true;
}

/* ------------------------------------------------------------ the monthly run */

int sp_refunds_group(const sp_refunds_auto_op *ops, size_t op_count, sp_refunds_grouping *out,
                     sp_error *err) {
    assert(out != NULL);
    assert(ops != NULL || op_count == 0);
    memset(out, 0, sizeof *out);
    size_t taken = op_count < SP_REFUND_REQUEST_OPERATIONS_MAX ? op_count
                                                               : SP_REFUND_REQUEST_OPERATIONS_MAX;
    for (size_t i = 0; i < taken; i++) {
        if (ops[i].amount_cents <= 0 || !sp_id_valid(ops[i].pass_id))
            return sp_error_set(err, 500, "invalid_row", "operations",
                                "operation %zu has no pass or no positive amount", i);
        bool same_pass = out->part_count > 0 &&
                         strcmp(ops[out->parts[out->part_count - 1].first].pass_id,
                                ops[i].pass_id) == 0;
        if (!same_pass) {
            for (size_t p = 0; p < out->part_count; p++)
                if (strcmp(ops[out->parts[p].first].pass_id, ops[i].pass_id) == 0)
                    return sp_error_set(err, 500, "invalid_row", "operations",
                                        "the operations are not grouped by pass");
            assert(out->part_count < SP_REFUNDS_PARTS_MAX);
            out->parts[out->part_count++] = (sp_refunds_part_range){.first = i, .count = 0};
        }
        out->parts[out->part_count - 1].count++;
        if (!sp_money_add(out->total_cents, ops[i].amount_cents, &out->total_cents))
            return sp_error_set(err, 500, "invalid_row", "operations", "the total overflows");
    }
    out->operation_count = taken;
    /* Every operation taken is in exactly one part, and the total is their sum. */
    assert(out->part_count <= out->operation_count);
    assert(out->total_cents >= 0);
    assert(taken == 0 || out->total_cents > 0);
    return 0;
}

int sp_refunds_period_parse(const char *text, const char *field, sp_refund_period *out,
                            sp_error *err) {
    assert(out != NULL);
    assert(field != NULL);
    bool shaped = text != NULL && strlen(text) == SP_REFUND_PERIOD_TEXT_LEN && text[4] == '-';
    for (size_t i = 0; shaped && i < SP_REFUND_PERIOD_TEXT_LEN; i++)
        if (i != 4 && (text[i] < '0' || text[i] > '9')) shaped = false;
    int year = 0, month = 0;
    if (shaped) {
        year = (text[0] - '0') * 1000 + (text[1] - '0') * 100 + (text[2] - '0') * 10 +
               (text[3] - '0');
        month = (text[5] - '0') * 10 + (text[6] - '0');
    }
    if (!shaped || year < 2000 || year > 2199 || month < 1 || month > 12)
        return sp_error_set(err, 400, "invalid_period", field,
                            "a period is a month written YYYY-MM (2000-01 to 2199-12)");
    *out = (sp_refund_period){.year = year, .month = month};
    return 0;
}
