/* sim_run.c - one run of a plan (every step, then a bounded settling where
 * every writer, the fold and the driver catch up, then a full rebuild of
 * every partition compared with the live writers), and the shrink of a
 * failing plan. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sim_internal.h"

#define SETTLE_ROUNDS_MAX 12

static void add_stats(sim_stats *to, const sim_stats *from) {
    to->commands += from->commands;
    to->events += from->events;
    to->replays += from->replays;
    to->rejections += from->rejections;
    to->crashes += from->crashes;
    to->snapshots += from->snapshots;
    to->snapshot_restarts += from->snapshot_restarts;
    to->redeliveries += from->redeliveries;
    to->refund_requests += from->refund_requests;
    to->payments += from->payments;
    to->closes += from->closes;
    to->closed_vouchers += from->closed_vouchers;
}

/* The mutation that breaks a writer's state behind the ledger's back:
 * an envelope loses a cent that no posting moved. Once. */
static void corrupt(sim_world *w, bool *done) {
    for (int i = 0; !*done && i < SIM_PASSES; i++) {
        const sp_ledger_state *s = w->partitions[sim_partition_of(w->pass_ids[i])].state;
        sp_ledger_pass *pass = (sp_ledger_pass *)sp_ledger_pass_find(s, w->pass_ids[i]);
        for (size_t e = 0; pass != NULL && !*done && e < pass->envelope_count; e++) {
            if (pass->envelopes[e].balance_cents <= 0) continue;
            pass->envelopes[e].balance_cents -= 1;
            *done = true;
            memset(w->dirty, 1, sizeof w->dirty);
        }
    }
}

static void lags_tick(sim_world *w) {
    for (int p = 0; p < SIM_PARTITIONS; p++)
        if (w->partitions[p].lag_steps > 0) w->partitions[p].lag_steps--;
}

/* Everything catches up: what the plan left in flight is decided, folded
 * and driven to its end (bounded), checked after each round. */
static int settle(sim_world *w, sim_failure *f, sp_error *err) {
    for (int p = 0; p < SIM_PARTITIONS; p++) w->partitions[p].lag_steps = 0;
    for (int round = 0; round < SETTLE_ROUNDS_MAX; round++) {
        for (int32_t p = 0; p < SIM_PARTITIONS; p++) {
            int rc = sim_writer_turn(w, p, SIM_LOG_MAX, f, err);
            if (rc == 0) rc = sim_fold_turn(w, p, SIM_LOG_MAX, err);
            if (rc != 0) return rc;
        }
        int rc = sim_check(w, f, err);
        if (rc != 0) return rc;
        w->now_ms += SIM_RESEND_MS; /* what was not answered is sent again */
        if (sim_driver_tick(w, err) != 0) return -1;
        if (round == SETTLE_ROUNDS_MAX / 2 && sim_back_office(w, err) != 0) return -1;
    }
    return sim_check_rebuild(w, f, err);
}

int sim_run(sim_world *w, uint64_t seed, const sim_step *steps, size_t step_count,
            sim_mutation mutation, sim_stats *stats, sim_failure *failure, sp_error *err) {
    memset(failure, 0, sizeof *failure);
    if (sim_world_start(w, seed, mutation, err) != 0) return -1;
    bool corrupted = false;
    int rc = 0;
    size_t i = 0;
    for (; rc == 0 && i < step_count; i++) {
        rc = sim_step_run(w, &steps[i], failure, err);
        if (rc == 0 && mutation == SIM_MUTATION_CORRUPT_PASS && i >= step_count / 2)
            corrupt(w, &corrupted);
        if (rc == 0) rc = sim_check(w, failure, err);
        lags_tick(w);
    }
    if (rc == 0) rc = settle(w, failure, err);
    failure->step_index = i == 0 ? 0 : i - 1;
    if (rc == 1 && i == step_count) failure->step_index = step_count; /* while settling */
    if (stats != NULL) add_stats(stats, &w->stats);
    return rc;
}

void sim_shrink(sim_world *w, uint64_t seed, sim_step *steps, size_t *step_count,
                sim_mutation mutation, size_t runs_max, sim_failure *failure) {
    sim_step *candidate = malloc(*step_count * sizeof *candidate);
    if (candidate == NULL) return;
    size_t runs = 0, chunk = *step_count / 2;
    while (chunk >= 1 && runs < runs_max) {
        bool progress = false;
        for (size_t start = 0; start < *step_count && runs < runs_max;) {
            size_t end = start + chunk < *step_count ? start + chunk : *step_count;
            size_t n = 0;
            for (size_t k = 0; k < *step_count; k++)
                if (k < start || k >= end) candidate[n++] = steps[k];
            sim_failure f;
            sp_error err;
            sp_error_clear(&err);
            runs++;
            if (sim_run(w, seed, candidate, n, mutation, NULL, &f, &err) == 1) {
                memcpy(steps, candidate, n * sizeof *steps);
                *step_count = n;
                *failure = f;
                progress = true;
            } else {
                start = end;
            }
        }
        if (!progress) chunk /= 2;
    }
    free(candidate);
}
