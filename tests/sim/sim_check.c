/* sim_check.c - the invariants, checked after every step of a run:
 *   - every partition's books sum to zero; no envelope, partner, refund
 *     account or bank below zero;
 *   - the live state equals the state rebuilt from the log (the shadow,
 *     which applied every logged event decoded, as a restart would);
 *   - every operation is in one state and moved only along the allowed
 *     transitions (accepted -> cancelled | requested; requested -> paid |
 *     accepted), requested and paid ones naming their request;
 *   - a pending or paid refund request equals the sum of its operations,
 *     and the refund accounts hold exactly the requested operations;
 *   - the read models equal a fold of the log from nothing (replay
 *     equality), and once caught up, what the writers hold.
 * "No command applied twice" is checked as events reach the log
 * (sim_world.c), and "a retry gets the first answer" as commands are
 * answered. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "sim_internal.h"

__attribute__((format(printf, 2, 3))) static int fail(sim_failure *f, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof f->message, fmt, ap);
    va_end(ap);
    return 1;
}

/* ------------------------------------------------------------ one state */

typedef struct pass_walk {
    const sp_ledger_state *other; /* NULL: only the signs are checked */
    int broken;
    char why[256];
} pass_walk;

static bool same_envelope(const sp_ledger_envelope *a, const sp_ledger_envelope *b) {
    return strcmp(a->category, b->category) == 0 && a->balance_cents == b->balance_cents &&
           a->has_end_date == b->has_end_date && a->closed == b->closed &&
           (!a->has_end_date || a->end_date == b->end_date);
}

static bool same_operation(const sp_ledger_operation *a, const sp_ledger_operation *b) {
    return strcmp(a->operation_id, b->operation_id) == 0 && a->status == b->status &&
           a->amount_cents == b->amount_cents && strcmp(a->request_id, b->request_id) == 0 &&
           strcmp(a->partner_id, b->partner_id) == 0 && strcmp(a->category, b->category) == 0;
}

static void walk_pass(void *ctx, const sp_ledger_pass *pass) {
    pass_walk *walk = ctx;
    if (walk->broken) return;
    for (size_t i = 0; i < pass->envelope_count; i++) {
        if (pass->envelopes[i].balance_cents < 0) {
            walk->broken = 1;
            snprintf(walk->why, sizeof walk->why, "envelope %s of pass %s below zero",
                     pass->envelopes[i].category, pass->pass_id);
            return;
        }
    }
    if (walk->other == NULL) return;
    const sp_ledger_pass *twin = sp_ledger_pass_find(walk->other, pass->pass_id);
    bool same = twin != NULL && twin->version == pass->version && twin->closed == pass->closed &&
                twin->closed_at_ms == pass->closed_at_ms &&
                twin->active_voucher_count == pass->active_voucher_count &&
                twin->envelope_count == pass->envelope_count &&
                twin->operation_count == pass->operation_count;
    for (size_t i = 0; same && i < pass->envelope_count; i++)
        same = same_envelope(&pass->envelopes[i], &twin->envelopes[i]);
    for (size_t i = 0; same && i < pass->operation_count; i++)
        same = same_operation(&pass->operations[i], &twin->operations[i]);
    if (!same) {
        walk->broken = 1;
        snprintf(walk->why, sizeof walk->why, "pass %s differs from its rebuild from the log",
                 pass->pass_id);
    }
}

static int check_state(const sim_world *w, int32_t p, const sp_ledger_state *s, sim_failure *f) {
    int64_t sum = sp_ledger_balance_sum_cents(s);
    if (sum != 0)
        return fail(f, "partition %d: the books sum to %lld cents, not 0", (int)p, (long long)sum);
    if (s->bank_cents < 0)
        return fail(f, "the bank is below zero (%lld)", (long long)s->bank_cents);
    for (int i = 0; i < SIM_PARTNERS; i++) {
        int64_t owed = sp_ledger_partner_owed_cents(s, w->partner_ids[i]);
        if (owed < 0)
            return fail(f, "partner %s owed below zero (%lld)", w->partner_ids[i], (long long)owed);
    }
    for (size_t i = 0; i < w->request_count; i++) {
        int64_t held = sp_ledger_refund_account_cents(s, w->requests[i]);
        if (held < 0)
            return fail(f, "refund account of %s below zero (%lld)", w->requests[i],
                        (long long)held);
    }
    pass_walk walk = {.other = NULL, .broken = 0};
    sp_ledger_foreach_pass(s, walk_pass, &walk);
    if (walk.broken) return fail(f, "%s", walk.why);
    return 0;
}

static size_t pass_count(const sp_ledger_state *s) {
    return s->passes.entry_count;
}

/* live against its rebuild (`twin`): the same passes, vouchers, requests,
 * accounts. */
static int check_twin(const sim_world *w, const sp_ledger_state *live, const sp_ledger_state *twin,
                      sim_failure *f) {
    if (live->budget_cents != twin->budget_cents || live->bank_cents != twin->bank_cents)
        return fail(f, "budget or bank differs from the rebuild (budget off by %lld)",
                    (long long)(live->budget_cents - twin->budget_cents));
    if (pass_count(live) != pass_count(twin))
        return fail(f, "%lld passes more than the rebuild",
                    (long long)pass_count(live) - (long long)pass_count(twin));
    pass_walk walk = {.other = twin, .broken = 0};
    sp_ledger_foreach_pass(live, walk_pass, &walk);
    if (walk.broken) return fail(f, "%s", walk.why);
    for (size_t i = 0; i < w->voucher_count; i++) {
        const sp_ledger_voucher *a = sp_ledger_voucher_find(live, w->vouchers[i].id);
        const sp_ledger_voucher *b = sp_ledger_voucher_find(twin, w->vouchers[i].id);
        if ((a == NULL) != (b == NULL) ||
            (a != NULL && (a->status != b->status || a->balance_cents != b->balance_cents)))
            return fail(f, "voucher %s differs from its rebuild", w->vouchers[i].id);
    }
    for (size_t i = 0; i < w->request_count; i++) {
        const sp_ledger_refund_request *a = sp_ledger_refund_request_find(live, w->requests[i]);
        const sp_ledger_refund_request *b = sp_ledger_refund_request_find(twin, w->requests[i]);
        if ((a == NULL) != (b == NULL) ||
            (a != NULL &&
             (a->status != b->status || a->version != b->version ||
              a->total_cents != b->total_cents || a->operation_count != b->operation_count)))
            return fail(f, "refund request %s differs from its rebuild", w->requests[i]);
        if (sp_ledger_refund_account_cents(live, w->requests[i]) !=
            sp_ledger_refund_account_cents(twin, w->requests[i]))
            return fail(f, "refund account of %s differs from its rebuild", w->requests[i]);
    }
    for (int i = 0; i < SIM_PARTNERS; i++)
        if (sp_ledger_partner_owed_cents(live, w->partner_ids[i]) !=
            sp_ledger_partner_owed_cents(twin, w->partner_ids[i]))
            return fail(f, "partner %s owed differs from its rebuild", w->partner_ids[i]);
    return 0;
}

/* ------------------------------------------------------------ operations */

static const sp_ledger_operation *live_op(const sim_world *w, const sim_op_entry *o) {
    const char *pass_id = w->pass_ids[o->pass];
    const sp_ledger_state *s = w->partitions[sim_partition_of(pass_id)].state;
    const sp_ledger_pass *pass = sp_ledger_pass_find(s, pass_id);
    return pass != NULL ? sp_ledger_operation_find(pass, o->id) : NULL;
}

/* Between two checks a writer may have taken several commands (a release
 * then a cancellation): each event's own move is checked as it reaches the
 * log (sim_world.c); here, that cancelled and paid are final. */
static bool allowed(sp_ledger_operation_status from, sp_ledger_operation_status to) {
    return from == 0 || from == to ||
           (from != SP_LEDGER_OPERATION_CANCELLED && from != SP_LEDGER_OPERATION_PAID);
}

static int check_operations(sim_world *w, const sp_ledger_operation **live, sim_failure *f) {
    for (size_t i = 0; i < w->op_count; i++) {
        sim_op_entry *o = &w->ops[i];
        live[i] = NULL;
        if (o->partner < 0 || o->pass < 0) continue; /* credits and expiries: not remembered */
        const sp_ledger_operation *op = live_op(w, o);
        if (op == NULL) return fail(f, "payment %s on the log is unknown to its writer", o->id);
        if (!allowed(o->last_status, op->status))
            return fail(f, "operation %s moved from status %d to %d, a forbidden transition", o->id,
                        (int)o->last_status, (int)op->status);
        bool names_request = op->status == SP_LEDGER_OPERATION_REQUESTED ||
                             op->status == SP_LEDGER_OPERATION_PAID;
        if (names_request != (op->request_id[0] != '\0'))
            return fail(f, "operation %s in status %d and its request disagree", o->id,
                        (int)op->status);
        o->last_status = op->status;
        live[i] = op;
    }
    return 0;
}

/* ------------------------------------------------------------ refund requests */

typedef struct request_sums {
    int64_t requested_cents;
    int64_t cents;
    int64_t count;
} request_sums;

static int check_requests(const sim_world *w, const sp_ledger_operation *const *live,
                          sim_failure *f) {
    request_sums sums[SIM_REQUESTS_MAX];
    memset(sums, 0, sizeof sums);
    for (size_t i = 0; i < w->op_count; i++) {
        if (live[i] == NULL || live[i]->request_id[0] == '\0') continue;
        int r = sim_find_request(w, live[i]->request_id);
        if (r < 0) return fail(f, "operation %s names a request not on the log", w->ops[i].id);
        sums[r].cents += live[i]->amount_cents;
        sums[r].count++;
        if (live[i]->status == SP_LEDGER_OPERATION_REQUESTED)
            sums[r].requested_cents += live[i]->amount_cents;
    }
    for (size_t r = 0; r < w->request_count; r++) {
        const char *id = w->requests[r];
        int64_t held_cents = 0;
        for (int p = 0; p < SIM_PARTITIONS; p++)
            held_cents += sp_ledger_refund_account_cents(w->partitions[p].state, id);
        if (held_cents != sums[r].requested_cents)
            return fail(f,
                        "refund request %s: its accounts hold %lld cents more than its "
                        "requested operations",
                        id, (long long)(held_cents - sums[r].requested_cents));
        const sp_ledger_refund_request *req = sp_ledger_refund_request_find(
            w->partitions[sim_partition_of(id)].state, id);
        if (req == NULL) return fail(f, "refund request %s on the log unknown to its writer", id);
        bool settled = req->status == SP_LEDGER_REFUND_PENDING ||
                       req->status == SP_LEDGER_REFUND_PAID;
        if (settled && (req->total_cents != sums[r].cents || req->operation_count != sums[r].count))
            return fail(f, "refund request %s: total differs from its operations by %lld cents", id,
                        (long long)(req->total_cents - sums[r].cents));
    }
    return 0;
}

/* ------------------------------------------------------------ the read models */

static bool fold_caught_up(const sim_world *w) {
    for (int p = 0; p < SIM_PARTITIONS; p++)
        if (w->fold.next[p] != w->partitions[p].event_count) return false;
    return true;
}

/* Once the fold has read everything, it shows what the writers hold. */
static int check_fold_against_writers(const sim_world *w, sim_failure *f) {
    for (int i = 0; i < SIM_PASSES; i++) {
        const sp_ledger_state *s = w->partitions[sim_partition_of(w->pass_ids[i])].state;
        const sp_ledger_pass *pass = sp_ledger_pass_find(s, w->pass_ids[i]);
        const sim_fold_pass *row = &w->fold.passes[i];
        if ((pass != NULL) != row->exists)
            return fail(f, "pass %s: read model and ledger disagree on its existence",
                        w->pass_ids[i]);
        if (pass == NULL) continue;
        if (row->balance_cents != sp_ledger_pass_balance_cents(pass) ||
            row->version != pass->version)
            return fail(f, "pass %s: read model balance off by %lld cents", w->pass_ids[i],
                        (long long)(row->balance_cents - sp_ledger_pass_balance_cents(pass)));
        if ((row->closed_at_ms != 0) != pass->closed ||
            (pass->closed && row->closed_at_ms != pass->closed_at_ms))
            return fail(f, "pass %s: read model and ledger disagree on its close", w->pass_ids[i]);
        if (row->envelope_count != pass->envelope_count)
            return fail(f, "pass %s: read model has %zu envelopes, the ledger %zu", w->pass_ids[i],
                        row->envelope_count, pass->envelope_count);
        for (size_t e = 0; e < pass->envelope_count && e < SIM_CATEGORIES; e++) {
            const sp_ledger_envelope *env = &pass->envelopes[e];
            char end_date[SP_LEDGER_DATE_LEN + 1] = "";
            if (env->has_end_date) sp_date_format(env->end_date, end_date);
            if (row->envelope_cents[e] != env->balance_cents ||
                strcmp(row->categories[e], env->category) != 0 ||
                strcmp(row->end_dates[e], end_date) != 0 ||
                (!pass->closed && row->expired[e] != env->closed))
                return fail(f, "pass %s: read model envelope %lld differs", w->pass_ids[i],
                            (long long)e);
        }
    }
    for (size_t i = 0; i < w->op_count; i++) {
        if (w->ops[i].partner < 0) continue;
        const sp_ledger_operation *op = live_op(w, &w->ops[i]);
        if (op == NULL || (int)op->status != (int)w->fold.ops[i].status)
            return fail(f, "operation %s: read model status %lld differs from the ledger's",
                        w->ops[i].id, (long long)w->fold.ops[i].status);
    }
    for (int i = 0; i < SIM_PARTNERS; i++) {
        /* partners.owed_cents drops at settlement only: the ledger's owed
         * account plus what its requests hold. */
        int64_t owed = 0;
        for (int p = 0; p < SIM_PARTITIONS; p++) {
            owed += sp_ledger_partner_owed_cents(w->partitions[p].state, w->partner_ids[i]);
            for (size_t r = 0; r < w->request_count; r++)
                if (w->fold.requests[r].partner == i)
                    owed += sp_ledger_refund_account_cents(w->partitions[p].state, w->requests[r]);
        }
        if (owed != w->fold.owed_cents[i])
            return fail(f, "partner %s: read model owed off by %lld cents", w->partner_ids[i],
                        (long long)(w->fold.owed_cents[i] - owed));
    }
    for (size_t r = 0; r < w->request_count; r++) {
        const sp_ledger_refund_request *req = sp_ledger_refund_request_find(
            w->partitions[sim_partition_of(w->requests[r])].state, w->requests[r]);
        if (req == NULL || (int)req->status != (int)w->fold.requests[r].status)
            return fail(f, "refund request %s: read model status %lld differs", w->requests[r],
                        (long long)w->fold.requests[r].status);
    }
    return 0;
}

static int check_fold(sim_world *w, sim_failure *f) {
    int64_t sum = 0;
    for (size_t i = 0; i < w->fold.balance_count; i++) sum += w->fold.balances[i].balance_cents;
    if (sum != 0) return fail(f, "the read model's ledger balances sum to %lld", (long long)sum);
    sim_fold_fresh(w);
    char why[256];
    if (sim_fold_compare(&w->fold, w->fresh, why, sizeof why) != 0)
        return fail(f, "replay: %s from a fold of the log from nothing", why);
    return fold_caught_up(w) ? check_fold_against_writers(w, f) : 0;
}

/* ------------------------------------------------------------ all */

/* A state no step touched since the last check still holds what it held:
 * only what changed is checked again (a step that only puts a command on
 * the log, or moves the clock, changes no state). */
int sim_check(sim_world *w, sim_failure *f, sp_error *err) {
    (void)err;
    bool any = false;
    for (int32_t p = 0; p < SIM_PARTITIONS; p++) {
        if (!w->dirty[p]) continue;
        any = true;
        const sim_partition *part = &w->partitions[p];
        if (check_state(w, p, part->state, f) != 0) return 1;
        if (check_twin(w, part->state, part->shadow, f) != 0) return 1;
    }
    if (any) {
        const sp_ledger_operation *live[SIM_OPS_MAX];
        if (check_operations(w, live, f) != 0) return 1;
        if (check_requests(w, live, f) != 0) return 1;
    }
    if ((any || w->fold_dirty) && check_fold(w, f) != 0) return 1;
    memset(w->dirty, 0, sizeof w->dirty);
    w->fold_dirty = false;
    return 0;
}

int sim_check_rebuild(sim_world *w, sim_failure *f, sp_error *err) {
    for (int32_t p = 0; p < SIM_PARTITIONS; p++) {
        sp_ledger_state *rebuilt = NULL;
        int rc = sim_rebuild(w, p, &rebuilt, f, err);
        if (rc != 0) return rc;
        rc = check_twin(w, w->partitions[p].state, rebuilt, f);
        sp_ledger_state_free(rebuilt);
        if (rc != 0) return rc;
    }
    return 0;
}
