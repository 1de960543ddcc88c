/* sim_steps.c - a seed's plan, each step's meaning, a run, and the shrink
 * of a failing plan.
 *
 * A step carries its own randomness (arg) and names what it acts on by
 * position among what exists when it runs ("the k-th voucher of the log"),
 * so that removing a step leaves the others meaningful: that is what lets
 * a failing plan shrink. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sim_internal.h"
#include "sp_clock.h"

/* clang-format off */
static const char *const step_names[SIM_STEP_KIND_COUNT] = {
    "open-pass", "credit", "pay", "issue-voucher", "redeem-voucher", "cancel-voucher",
    "cancel-operation", "open-refund-request", "cancel-refund-request", "mark-paid",
    "close-pass", "duplicate", "conflict", "writer", "sweep", "fold", "driver", "tick", "clock-jump",
    "redeliver", "writer-crash", "driver-restart", "lag"};

static const unsigned step_weights[SIM_STEP_KIND_COUNT] = {
    3, 12, 22, 5, 5, 2, 4, 4, 3, 4, 1, 5, 2, 24, 3, 22, 10, 10, 2, 3, 3, 1, 2};
/* clang-format on */

static uint64_t pick(uint64_t *arg, uint64_t n) {
    uint64_t v = *arg % n;
    *arg /= n;
    return v;
}

static uint64_t splitmix(uint64_t *state) {
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

void sim_plan(uint64_t seed, size_t step_count, sim_step *steps) {
    uint64_t state = seed;
    unsigned total = 0;
    for (int k = 0; k < SIM_STEP_KIND_COUNT; k++) total += step_weights[k];
    for (size_t i = 0; i < step_count && i < SIM_PLAN_STEPS_MAX; i++) {
        if (i < SIM_PASSES) { /* every pass is asked for first, so that work has a subject */
            steps[i] = (sim_step){.kind = SIM_OPEN_PASS, .arg = i};
            continue;
        }
        unsigned roll = (unsigned)(splitmix(&state) % total);
        int kind = 0;
        while (roll >= step_weights[kind]) roll -= step_weights[kind++];
        steps[i] = (sim_step){.kind = (sim_step_kind)kind, .arg = splitmix(&state)};
    }
}

void sim_step_describe(const sim_step *step, char *out, size_t out_size) {
    uint64_t a = step->arg;
    switch (step->kind) {
    case SIM_WRITER:
    case SIM_FOLD:
    case SIM_WRITER_CRASH:
    case SIM_REDELIVER:
    case SIM_LAG: {
        uint64_t p = pick(&a, SIM_PARTITIONS), n = 1 + pick(&a, 32) % 8;
        snprintf(out, out_size, "%s partition=%llu n=%llu%s", step_names[step->kind],
                 (unsigned long long)p, (unsigned long long)n,
                 step->kind == SIM_WRITER_CRASH && pick(&a, 2) ? " (last event lost)" : "");
        return;
    }
    case SIM_SWEEP:
        snprintf(out, out_size, "sweep partition=%llu",
                 (unsigned long long)pick(&a, SIM_PARTITIONS));
        return;
    default:
        snprintf(out, out_size, "%s arg=%016llx", step_names[step->kind],
                 (unsigned long long)step->arg);
        return;
    }
}

/* ------------------------------------------------------------ client commands */

static void cmd_begin(sim_world *w, sim_cmd *c, sp_ledger_command_kind kind, const char *aggregate,
                      const char *actor, const char *prefix) {
    memset(c, 0, sizeof *c);
    c->kind = kind;
    snprintf(c->aggregate, sizeof c->aggregate, "%s", aggregate);
    snprintf(c->actor, sizeof c->actor, "%s", actor);
    snprintf(c->command_id, sizeof c->command_id, "%s-%zu", prefix, w->sent_count);
}

static void date_in_days(int64_t from_ms, int days, char out[SP_LEDGER_DATE_LEN + 1]) {
    sp_date_format(sp_paris_date_of(from_ms + (int64_t)days * 86400000), out);
}

static int payment_ops(const sim_world *w, int *out) {
    int count = 0;
    for (size_t i = 0; i < w->op_count; i++)
        if (w->ops[i].partner >= 0) out[count++] = (int)i;
    return count;
}

static bool client_pass(sim_world *w, sim_step_kind kind, uint64_t a, sim_cmd *c) {
    int pass = (int)pick(&a, SIM_PASSES);
    const char *pass_id = w->pass_ids[pass];
    int partner = (int)pick(&a, SIM_PARTNERS);
    switch (kind) {
    case SIM_OPEN_PASS:
        cmd_begin(w, c, SP_LEDGER_COMMAND_OPEN_PASS, pass_id, w->admin, "open");
        snprintf(c->command_id, sizeof c->command_id, "open"); /* one per pass: a retry */
        snprintf(c->beneficiary, sizeof c->beneficiary, "%s", w->beneficiaries[pass]);
        date_in_days(SIM_T0_MS, 30 + 8 * pass, c->end_date);
        return true;
    case SIM_CREDIT:
        cmd_begin(w, c, SP_LEDGER_COMMAND_CREDIT_PASS, pass_id, w->admin, "credit");
        {
            /* "lecture" (one credit in five) opens an envelope the pass does not
             * have; one credit in three asks for an end date (a few already past). */
            static const char *const categories[] = {"sport", "general", "sport", "general",
                                                     "lecture"};
            snprintf(c->category, sizeof c->category, "%s", categories[pick(&a, 5)]);
            c->amount_cents = 5000 + (int64_t)pick(&a, 45000);
            if (pick(&a, 3) == 0) date_in_days(w->now_ms, (int)pick(&a, 90) - 5, c->end_date);
            return true;
        }
    case SIM_PAY:
        cmd_begin(w, c, SP_LEDGER_COMMAND_PAY, pass_id, w->partner_actors[partner], "pay");
        snprintf(c->partner_code, sizeof c->partner_code, "%s", w->partner_codes[partner]);
        c->amount_cents = 100 + (int64_t)pick(&a, 3000);
        return true;
    default: /* SIM_ISSUE_VOUCHER */
        cmd_begin(w, c, SP_LEDGER_COMMAND_ISSUE_VOUCHER, pass_id, w->admin, "issue");
        snprintf(c->category, sizeof c->category, "%s", pick(&a, 2) ? "sport" : "");
        if (pick(&a, 2))
            snprintf(c->partner_code, sizeof c->partner_code, "%s", w->partner_codes[partner]);
        c->amount_cents = 100 + (int64_t)pick(&a, 3000);
        return true;
    }
}

static bool client_voucher(sim_world *w, sim_step_kind kind, uint64_t a, sim_cmd *c) {
    if (w->voucher_count == 0) return false;
    const sim_voucher_entry *v = &w->vouchers[pick(&a, w->voucher_count)];
    int partner = (int)pick(&a, SIM_PARTNERS);
    if (kind == SIM_REDEEM_VOUCHER) {
        cmd_begin(w, c, SP_LEDGER_COMMAND_REDEEM_VOUCHER, w->pass_ids[v->pass],
                  w->partner_actors[partner], "redeem");
        snprintf(c->partner_code, sizeof c->partner_code, "%s", w->partner_codes[partner]);
        snprintf(c->voucher_number, sizeof c->voucher_number, "%s", v->number);
    } else {
        cmd_begin(w, c, SP_LEDGER_COMMAND_CANCEL_VOUCHER, w->pass_ids[v->pass], w->admin,
                  "cancelv");
    }
    snprintf(c->voucher_id, sizeof c->voucher_id, "%s", v->id);
    return true;
}

static bool client_cancel_operation(sim_world *w, uint64_t a, sim_cmd *c) {
    int ops[SIM_OPS_MAX];
    int count = payment_ops(w, ops);
    if (count == 0) return false;
    const sim_op_entry *o = &w->ops[ops[pick(&a, (uint64_t)count)]];
    /* Half the time, a payment in a refund request or refunded: the race
     * of a cancellation with its refund. */
    int busy[SIM_OPS_MAX], busy_count = 0;
    for (int i = 0; i < count; i++)
        if (w->ops[ops[i]].last_status == SP_LEDGER_OPERATION_REQUESTED ||
            w->ops[ops[i]].last_status == SP_LEDGER_OPERATION_PAID)
            busy[busy_count++] = ops[i];
    if (busy_count > 0 && pick(&a, 2) == 0) o = &w->ops[busy[pick(&a, (uint64_t)busy_count)]];
    /* Now and then another partner tries: it must be refused. */
    int partner = pick(&a, 8) == 0 ? (int)pick(&a, SIM_PARTNERS) : o->partner;
    cmd_begin(w, c, SP_LEDGER_COMMAND_CANCEL_OPERATION, w->pass_ids[o->pass],
              w->partner_actors[partner], "cancelop");
    snprintf(c->operation_id, sizeof c->operation_id, "%s", o->id);
    snprintf(c->partner_id, sizeof c->partner_id, "%s", w->partner_ids[partner]);
    return true;
}

/* A partner's manual request: some of its accepted payments as the read
 * model shows them (the gateway reads the same rows). */
static bool client_open_refund(sim_world *w, uint64_t a, sim_cmd *c) {
    int partner = (int)pick(&a, SIM_PARTNERS);
    int per_pass = 1 + (int)pick(&a, 4);
    char request_id[SIM_ID_SIZE];
    sp_id_new(request_id);
    cmd_begin(w, c, SP_LEDGER_COMMAND_OPEN_REFUND_REQUEST, request_id, w->partner_actors[partner],
              "openr");
    snprintf(c->request_id, sizeof c->request_id, "%s", request_id);
    snprintf(c->partner_id, sizeof c->partner_id, "%s", w->partner_ids[partner]);
    snprintf(c->refund_kind, sizeof c->refund_kind, "manual");
    for (int pass = 0; pass < SIM_PASSES; pass++) {
        size_t n = 0;
        for (size_t i = 0; i < w->fold.ops_used && (int)n < per_pass; i++) {
            const sim_fold_op *o = &w->fold.ops[i];
            if (!o->exists || o->kind != OPK_PAYMENT || o->status != OP_ACCEPTED ||
                o->pass != pass || strcmp(o->partner_id, w->partner_ids[partner]) != 0)
                continue;
            c->part_ops[c->part_count][n++] = (uint16_t)i;
            c->expected_total_cents += o->amount_cents;
        }
        if (n == 0) continue;
        c->part_pass[c->part_count] = (uint16_t)pass;
        c->part_op_count[c->part_count++] = (uint16_t)n;
    }
    return c->part_count > 0;
}

static bool client_request(sim_world *w, sim_step_kind kind, uint64_t a, sim_cmd *c) {
    if (w->request_count == 0) return false;
    size_t r = pick(&a, w->request_count);
    /* Mostly a request the read model shows pending: the back office pays
     * or the partner cancels what it sees. */
    size_t pending[SIM_REQUESTS_MAX], count = 0;
    for (size_t i = 0; i < w->request_count; i++)
        if (w->fold.requests[i].exists && w->fold.requests[i].status == RQ_PENDING)
            pending[count++] = i;
    if (count > 0 && pick(&a, 4) != 0) r = pending[pick(&a, count)];
    const char *id = w->requests[r];
    int partner = w->fold.requests[r].exists ? w->fold.requests[r].partner : 0;
    if (kind == SIM_CANCEL_REFUND) {
        cmd_begin(w, c, SP_LEDGER_COMMAND_CANCEL_REFUND_REQUEST, id, w->partner_actors[partner],
                  "cancelr");
        snprintf(c->partner_id, sizeof c->partner_id, "%s", w->partner_ids[partner]);
    } else {
        cmd_begin(w, c, SP_LEDGER_COMMAND_MARK_REFUND_REQUEST_PAID, id, w->admin, "paid");
        snprintf(c->transfer_reference, sizeof c->transfer_reference, "VIR-%zu", w->sent_count);
        date_in_days(w->now_ms, 0, c->paid_on);
    }
    snprintf(c->request_id, sizeof c->request_id, "%s", id);
    return true;
}

/* The back office closes a pass; now and then with a reason. */
static bool client_close_pass(sim_world *w, uint64_t a, sim_cmd *c) {
    int pass = (int)pick(&a, SIM_PASSES);
    cmd_begin(w, c, SP_LEDGER_COMMAND_CLOSE_PASS, w->pass_ids[pass], w->admin, "close");
    if (pick(&a, 2)) snprintf(c->reason, sizeof c->reason, "départ %zu", w->sent_count);
    return true;
}

static bool client_again(sim_world *w, sim_step_kind kind, uint64_t a, sim_cmd *c) {
    if (w->sent_count == 0) return false;
    *c = w->sent[pick(&a, w->sent_count)];
    if (kind == SIM_DUPLICATE) return true;
    if (c->kind != SP_LEDGER_COMMAND_PAY && c->kind != SP_LEDGER_COMMAND_CREDIT_PASS) return false;
    c->amount_cents += 1;
    c->conflict_probe = true;
    return true;
}

static int client_step(sim_world *w, const sim_step *step, sp_error *err) {
    sim_cmd *c = &w->scratch_cmd;
    bool send = false;
    switch (step->kind) {
    case SIM_OPEN_PASS:
    case SIM_CREDIT:
    case SIM_PAY:
    case SIM_ISSUE_VOUCHER: send = client_pass(w, step->kind, step->arg, c); break;
    case SIM_REDEEM_VOUCHER:
    case SIM_CANCEL_VOUCHER: send = client_voucher(w, step->kind, step->arg, c); break;
    case SIM_CANCEL_OPERATION: send = client_cancel_operation(w, step->arg, c); break;
    case SIM_OPEN_REFUND: send = client_open_refund(w, step->arg, c); break;
    case SIM_CANCEL_REFUND:
    case SIM_MARK_PAID: send = client_request(w, step->kind, step->arg, c); break;
    case SIM_CLOSE_PASS: send = client_close_pass(w, step->arg, c); break;
    default: send = client_again(w, step->kind, step->arg, c); break;
    }
    return send ? sim_send(w, c, step->kind != SIM_CONFLICT, err) : 0;
}

/* ------------------------------------------------------------ one step */

int sim_step_run(sim_world *w, const sim_step *step, sim_failure *f, sp_error *err) {
    if (step->kind <= SIM_CONFLICT) return client_step(w, step, err);
    uint64_t a = step->arg;
    int32_t p = (int32_t)pick(&a, SIM_PARTITIONS);
    size_t n = 1 + (size_t)pick(&a, 32) % 8;
    sim_partition *part = &w->partitions[p];
    switch (step->kind) {
    case SIM_WRITER: {
        if (part->lag_steps > 0) return 0;
        int rc = sim_writer_turn(w, p, n, f, err);
        /* A quarter of the turns end with a snapshot, as the service's
         * periodic one after a flushed batch. */
        return rc == 0 && pick(&a, 4) == 0 ? sim_writer_snapshot(w, p, err) : rc;
    }
    case SIM_SWEEP: return part->lag_steps > 0 ? 0 : sim_sweep_turn(w, p, f, err);
    case SIM_FOLD: return part->lag_steps > 0 ? 0 : sim_fold_turn(w, p, n, err);
    case SIM_DRIVER: return sim_driver_tick(w, err);
    case SIM_TICK: w->now_ms += (int64_t)(1 + pick(&a, 120)) * 60000; return 0;
    case SIM_CLOCK_JUMP: w->now_ms += (int64_t)(1 + pick(&a, 20)) * 86400000; return 0;
    case SIM_REDELIVER: {
        size_t back = n < w->fold.next[p] ? n : w->fold.next[p];
        w->fold.next[p] -= back;
        w->fold_dirty = true;
        w->stats.redeliveries++;
        return 0;
    }
    case SIM_WRITER_CRASH: {
        bool lose_last = pick(&a, 2) == 1;
        return sim_writer_crash(w, p, n, lose_last, pick(&a, 2) == 1, f, err);
    }
    case SIM_DRIVER_RESTART: sp_refunds_sent_init(w->driver_sent); return 0;
    default: /* SIM_LAG */ part->lag_steps = 5 + n * 3; return 0;
    }
}

/* What the back office and the partners do with the requests left pending
 * at the end of a plan, so that every run also pays and cancels: about a
 * third cancelled by their partner, the rest marked paid. */
int sim_back_office(sim_world *w, sp_error *err) {
    for (size_t r = 0; r < w->request_count; r++) {
        const sim_fold_request *row = &w->fold.requests[r];
        if (!row->exists || row->status != RQ_PENDING) continue;
        uint64_t state = w->seed ^ (uint64_t)r;
        sim_step step = {.kind = splitmix(&state) % 3 == 0 ? SIM_CANCEL_REFUND : SIM_MARK_PAID};
        sim_cmd *c = &w->scratch_cmd;
        if (client_request(w, step.kind, 0, c)) {
            /* client_request picked request 0 or a pending one: name this one. */
            snprintf(c->aggregate, sizeof c->aggregate, "%s", w->requests[r]);
            snprintf(c->request_id, sizeof c->request_id, "%s", w->requests[r]);
            if (step.kind == SIM_CANCEL_REFUND)
                snprintf(c->partner_id, sizeof c->partner_id, "%s", w->partner_ids[row->partner]);
            if (sim_send(w, c, true, err) != 0) return -1;
        }
    }
    return 0;
}
