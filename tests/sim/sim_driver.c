/* sim_driver.c - the refunds service's tick (services/refunds/service.c)
 * over the live fold instead of PostgreSQL: its queries are mirrored in C
 * (the rows it reads, in the order it reads them), its decisions are the
 * real ones of refunds.c (sp_refunds_decide_opening, sp_refunds_decide_batch,
 * sp_refunds_group, the command ids, the resend cache). The driver reads a
 * fold that may lag behind the log, as the service reads read models that
 * may lag behind the ledger. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sim_internal.h"

static int send_step(sim_world *w, sim_cmd *c, sp_refunds_step step, const char *request_id,
                     const char *aggregate, sp_error *err) {
    if (!sp_refunds_sent_due(w->driver_sent, step, request_id, aggregate, w->now_ms, SIM_RESEND_MS))
        return 0;
    if (sim_send(w, c, false, err) != 0) return -1;
    sp_refunds_sent_mark(w->driver_sent, step, request_id, aggregate, w->now_ms);
    return 0;
}

/* ORDER BY r.created_at, p.request_id, p.pass_id: the fold keeps rows in
 * insertion order, so the scan below visits requests by creation. */
static int reserve_asked_parts(sim_world *w, sp_error *err) {
    for (size_t i = 0; i < w->fold.part_count; i++) {
        const sim_fold_part *pt = &w->fold.parts[i];
        const sim_fold_request *r = &w->fold.requests[pt->request];
        if (pt->status != PT_ASKED || !r->exists || r->status != RQ_OPENING) continue;
        sim_cmd *c = &w->scratch_cmd;
        memset(c, 0, sizeof *c);
        c->kind = SP_LEDGER_COMMAND_RESERVE_OPERATIONS;
        snprintf(c->aggregate, sizeof c->aggregate, "%s", w->pass_ids[pt->pass]);
        snprintf(c->request_id, sizeof c->request_id, "%s", w->requests[pt->request]);
        snprintf(c->partner_id, sizeof c->partner_id, "%s", w->partner_ids[r->partner]);
        c->part_count = 1;
        c->part_op_count[0] = (uint16_t)pt->asked_count;
        memcpy(c->part_ops[0], pt->asked, pt->asked_count * sizeof pt->asked[0]);
        c->skip_unavailable = strcmp(r->kind, "automatic") == 0;
        sp_refunds_command_id(SP_REFUNDS_STEP_RESERVE, c->request_id, (sp_refund_period){0, 0},
                              c->command_id);
        if (send_step(w, c, SP_REFUNDS_STEP_RESERVE, c->request_id, c->aggregate, err) != 0)
            return -1;
    }
    return 0;
}

/* The first refusal in time (then by pass) names why a request is aborted. */
static const sim_fold_part *first_refusal(const sim_world *w, int request) {
    const sim_fold_part *first = NULL;
    for (size_t i = 0; i < w->fold.part_count; i++) {
        const sim_fold_part *pt = &w->fold.parts[i];
        if (pt->request != request || pt->status != PT_REFUSED) continue;
        if (first == NULL || pt->updated_at_ms < first->updated_at_ms ||
            (pt->updated_at_ms == first->updated_at_ms &&
             strcmp(w->pass_ids[pt->pass], w->pass_ids[first->pass]) < 0))
            first = pt;
    }
    return first;
}

static int decide_opening(sim_world *w, int request, sp_error *err) {
    const sim_fold_request *r = &w->fold.requests[request];
    sp_refunds_opening o = {.part_count = r->part_count};
    for (size_t i = 0; i < w->fold.part_count; i++) {
        const sim_fold_part *pt = &w->fold.parts[i];
        if (pt->request != request) continue;
        o.parts_seen++;
        if (pt->status == PT_RESERVED) {
            o.parts_reserved++;
            o.reserved_cents += pt->amount_cents;
            o.reserved_operations += pt->operation_count;
        }
        if (pt->status == PT_REFUSED) o.parts_refused++;
    }
    sp_refunds_decision decision = sp_refunds_decide_opening(&o);
    if (decision == SP_REFUNDS_WAIT) return 0;
    sim_cmd *c = &w->scratch_cmd;
    memset(c, 0, sizeof *c);
    snprintf(c->aggregate, sizeof c->aggregate, "%s", w->requests[request]);
    snprintf(c->request_id, sizeof c->request_id, "%s", w->requests[request]);
    if (decision == SP_REFUNDS_CONFIRM) {
        c->kind = SP_LEDGER_COMMAND_CONFIRM_REFUND_REQUEST;
        snprintf(c->command_id, sizeof c->command_id, "confirm");
        c->total_cents = o.reserved_cents;
        c->operation_count = o.reserved_operations;
    } else {
        const sim_fold_part *refused = first_refusal(w, request);
        c->kind = SP_LEDGER_COMMAND_ABORT_REFUND_REQUEST;
        snprintf(c->command_id, sizeof c->command_id, "abort");
        snprintf(c->code, sizeof c->code, "%s", refused != NULL ? refused->refusal_code : "");
        snprintf(c->message, sizeof c->message, "a part was refused");
        if (refused != NULL && refused->refusal_op >= 0)
            snprintf(c->operation_id, sizeof c->operation_id, "%s", w->ops[refused->refusal_op].id);
    }
    sp_refunds_step step = decision == SP_REFUNDS_CONFIRM ? SP_REFUNDS_STEP_CONFIRM
                                                          : SP_REFUNDS_STEP_ABORT;
    return send_step(w, c, step, c->request_id, c->request_id, err);
}

static int release_or_settle(sim_world *w, sp_refunds_step step, sp_error *err) {
    bool release = step == SP_REFUNDS_STEP_RELEASE;
    for (size_t i = 0; i < w->fold.part_count; i++) {
        const sim_fold_part *pt = &w->fold.parts[i];
        if (pt->status != PT_RESERVED || pt->request_status != (release ? RQ_CANCELLED : RQ_PAID))
            continue;
        sim_cmd *c = &w->scratch_cmd;
        memset(c, 0, sizeof *c);
        c->kind = release ? SP_LEDGER_COMMAND_RELEASE_OPERATIONS
                          : SP_LEDGER_COMMAND_SETTLE_OPERATIONS;
        snprintf(c->aggregate, sizeof c->aggregate, "%s", w->pass_ids[pt->pass]);
        snprintf(c->request_id, sizeof c->request_id, "%s", w->requests[pt->request]);
        sp_refunds_command_id(step, c->request_id, (sp_refund_period){0, 0}, c->command_id);
        if (send_step(w, c, step, c->request_id, c->aggregate, err) != 0) return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ the monthly run */

static int64_t asked_of(const sim_world *w, int request) {
    int64_t asked = 0;
    for (size_t i = 0; i < w->fold.part_count; i++)
        if (w->fold.parts[i].request == request) asked += (int64_t)w->fold.parts[i].asked_count;
    return asked;
}

/* The partner's automatic requests of the period, as run_batch_sql. */
static size_t batch_rows(const sim_world *w, int partner, const char *period,
                         sp_refunds_batch_row *rows, size_t rows_max) {
    size_t count = 0;
    for (size_t i = 0; i < w->request_count && count < rows_max; i++) {
        const sim_fold_request *r = &w->fold.requests[i];
        if (!r->exists || r->partner != partner || strcmp(r->kind, "automatic") != 0 ||
            strcmp(r->period, period) != 0)
            continue;
        rows[count++] = (sp_refunds_batch_row){.request_id = w->requests[i],
                                               .opening = r->status == RQ_OPENING,
                                               .cancelled = r->status == RQ_CANCELLED,
                                               .operations_asked = asked_of(w, (int)i)};
    }
    return count;
}

typedef struct run_op {
    int op;
    int pass;
    const char *op_id; /* borrowed from the world */
    const char *pass_id;
    int64_t at_ms;
} run_op;

static int by_time(const void *a, const void *b) {
    const run_op *x = a, *y = b;
    if (x->at_ms != y->at_ms) return x->at_ms < y->at_ms ? -1 : 1;
    return strcmp(x->op_id, y->op_id);
}

static int by_pass(const void *a, const void *b) {
    const run_op *x = a, *y = b;
    int c = strcmp(x->pass_id, y->pass_id);
    return c != 0 ? c : by_time(a, b);
}

/* run_operations_sql: the partner's accepted payments before the run. */
static size_t run_operations(const sim_world *w, int partner, int64_t run_ms, run_op *out) {
    size_t count = 0;
    for (size_t i = 0; i < w->fold.ops_used && count < SIM_OPS_MAX; i++) {
        const sim_fold_op *o = &w->fold.ops[i];
        if (!o->exists || o->kind != OPK_PAYMENT || o->status != OP_ACCEPTED ||
            o->occurred_at_ms >= run_ms || strcmp(o->partner_id, w->partner_ids[partner]) != 0)
            continue;
        out[count++] = (run_op){.op = (int)i,
                                .pass = o->pass,
                                .op_id = w->ops[i].id,
                                .pass_id = w->pass_ids[o->pass],
                                .at_ms = o->occurred_at_ms};
    }
    /* ORDER BY occurred_at, operation_id LIMIT max; then by pass. */
    qsort(out, count, sizeof *out, by_time);
    if (count > SP_REFUND_REQUEST_OPERATIONS_MAX) count = SP_REFUND_REQUEST_OPERATIONS_MAX;
    qsort(out, count, sizeof *out, by_pass);
    return count;
}

static int open_automatic(sim_world *w, int partner, sp_refund_period period,
                          const char *period_text, int64_t run_ms, sp_error *err) {
    sp_refunds_batch_row rows[SIM_REQUESTS_MAX];
    size_t row_count = batch_rows(w, partner, period_text, rows, SIM_REQUESTS_MAX);
    size_t index = 0;
    char request_id[SIM_ID_SIZE];
    if (sp_refunds_decide_batch(w->partner_ids[partner], period, rows, row_count, &index,
                                request_id) != SP_REFUNDS_BATCH_OPEN)
        return 0;
    if (!sp_refunds_sent_due(w->driver_sent, SP_REFUNDS_STEP_OPEN, request_id, request_id,
                             w->now_ms, SIM_RESEND_MS))
        return 0;
    run_op ops[SIM_OPS_MAX];
    sp_refunds_auto_op auto_ops[SIM_OPS_MAX];
    sp_refunds_grouping grouping;
    size_t count = run_operations(w, partner, run_ms, ops);
    if (count == 0) return 0;
    for (size_t i = 0; i < count; i++)
        auto_ops[i] = (sp_refunds_auto_op){.pass_id = w->pass_ids[ops[i].pass],
                                           .operation_id = w->ops[ops[i].op].id,
                                           .amount_cents = w->fold.ops[ops[i].op].amount_cents};
    if (sp_refunds_group(auto_ops, count, &grouping, err) != 0) return -1;
    sim_cmd *c = &w->scratch_cmd;
    memset(c, 0, sizeof *c);
    c->kind = SP_LEDGER_COMMAND_OPEN_REFUND_REQUEST;
    snprintf(c->aggregate, sizeof c->aggregate, "%s", request_id);
    snprintf(c->request_id, sizeof c->request_id, "%s", request_id);
    snprintf(c->partner_id, sizeof c->partner_id, "%s", w->partner_ids[partner]);
    snprintf(c->refund_kind, sizeof c->refund_kind, "automatic");
    snprintf(c->period, sizeof c->period, "%s", period_text);
    if (grouping.part_count > SIM_PARTS_MAX)
        return sp_error_set(err, 507, "parts_full", NULL,
                            "a request of more passes than the simulation holds");
    c->part_count = grouping.part_count;
    for (size_t p = 0; p < c->part_count; p++) {
        const sp_refunds_part_range *range = &grouping.parts[p];
        if (range->count > SIM_PART_OPS_MAX)
            return sp_error_set(err, 507, "part_full", NULL,
                                "a part of more operations than the simulation holds");
        c->part_pass[p] = (uint16_t)ops[range->first].pass;
        c->part_op_count[p] = (uint16_t)range->count;
        for (size_t i = 0; i < c->part_op_count[p]; i++)
            c->part_ops[p][i] = (uint16_t)ops[range->first + i].op;
    }
    c->expected_total_cents = grouping.total_cents;
    sp_refunds_command_id(SP_REFUNDS_STEP_OPEN, request_id, period, c->command_id);
    return send_step(w, c, SP_REFUNDS_STEP_OPEN, request_id, request_id, err);
}

/* run_partners_sql's conditions, then open_automatic. */
static int monthly_run(sim_world *w, sp_error *err) {
    sp_refund_period period = sp_clock_refund_period_due(w->now_ms);
    int64_t run_ms = sp_clock_refund_run_ms(period);
    char period_text[SP_REFUND_PERIOD_TEXT_LEN + 1];
    sp_clock_refund_period_format(period, period_text);
    run_op ops[SIM_OPS_MAX];
    for (int partner = 0; partner < SIM_PARTNERS; partner++) {
        if (run_operations(w, partner, run_ms, ops) == 0) continue;
        bool blocked = false;
        size_t batch = 0;
        for (size_t i = 0; i < w->request_count; i++) {
            const sim_fold_request *r = &w->fold.requests[i];
            if (!r->exists || r->partner != partner || strcmp(r->kind, "automatic") != 0 ||
                strcmp(r->period, period_text) != 0)
                continue;
            batch++;
            if (r->status == RQ_OPENING || r->status == RQ_CANCELLED ||
                asked_of(w, (int)i) != SP_REFUND_REQUEST_OPERATIONS_MAX)
                blocked = true;
        }
        if (blocked || batch >= SP_REFUNDS_BATCH_REQUESTS_MAX) continue;
        if (open_automatic(w, partner, period, period_text, run_ms, err) != 0) return -1;
    }
    return 0;
}

int sim_driver_tick(sim_world *w, sp_error *err) {
    if (reserve_asked_parts(w, err) != 0) return -1;
    for (size_t r = 0; r < w->request_count; r++) {
        if (!w->fold.requests[r].exists || w->fold.requests[r].status != RQ_OPENING) continue;
        if (decide_opening(w, (int)r, err) != 0) return -1;
    }
    if (release_or_settle(w, SP_REFUNDS_STEP_RELEASE, err) != 0) return -1;
    if (release_or_settle(w, SP_REFUNDS_STEP_SETTLE, err) != 0) return -1;
    return monthly_run(w, err);
}
