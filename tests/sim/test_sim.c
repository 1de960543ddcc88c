/* test_sim.c - the ledger simulation in the unit suite: a few hundred seeds
 * hold every invariant, a seed replays the same run, and the checks do
 * fail when the simulation is broken on purpose (a fold that applies a
 * redelivered event again, a writer state that loses a cent behind the
 * ledger's back), with a shrunk plan no longer than the original. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "sim.h"

#define UNIT_SEEDS 300
#define STEPS 200

typedef struct fixture {
    sim_world *world;
    sim_step steps[STEPS];
} fixture;

static int setup(void **state) {
    fixture *fx = calloc(1, sizeof *fx);
    if (fx == NULL) return -1;
    sp_error err;
    fx->world = sim_world_new(&err);
    if (fx->world == NULL) return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    sim_world_free(fx->world);
    free(fx);
    return 0;
}

static int run(fixture *fx, uint64_t seed, sim_mutation mutation, sim_stats *stats,
               sim_failure *failure) {
    sp_error err;
    sp_error_clear(&err);
    sim_plan(seed, STEPS, fx->steps);
    int rc = sim_run(fx->world, seed, fx->steps, STEPS, mutation, stats, failure, &err);
    if (rc < 0) print_error("seed %llu: %s: %s\n", (unsigned long long)seed, err.code, err.message);
    return rc;
}

static void test_seeds_hold_every_invariant(void **state) {
    fixture *fx = *state;
    sim_stats stats = {0};
    for (uint64_t seed = 1; seed <= UNIT_SEEDS; seed++) {
        sim_failure failure;
        int rc = run(fx, seed, SIM_MUTATION_NONE, &stats, &failure);
        if (rc != 0)
            print_error("seed %llu: %s (step %zu)\n", (unsigned long long)seed, failure.message,
                        failure.step_index);
        assert_int_equal(rc, 0);
    }
    print_message("%d seeds: %llu commands, %llu events, %llu payments, %llu refund requests, "
                  "%llu writer crashes (%llu restarted from a snapshot), %llu redeliveries\n",
                  UNIT_SEEDS, (unsigned long long)stats.commands, (unsigned long long)stats.events,
                  (unsigned long long)stats.payments, (unsigned long long)stats.refund_requests,
                  (unsigned long long)stats.crashes, (unsigned long long)stats.snapshot_restarts,
                  (unsigned long long)stats.redeliveries);
    /* The runs did work: money moved, requests went through (fewer payments
     * since credits also open "lecture" envelopes: its partner no longer
     * falls back on the better-funded general envelope once it has one). */
    assert_true(stats.payments > UNIT_SEEDS * 8);
    assert_true(stats.refund_requests > UNIT_SEEDS / 2);
    assert_true(stats.crashes > 0 && stats.redeliveries > 0 && stats.replays > 0);
    /* Writers came back from their snapshots, equal to the whole log's rebuild. */
    assert_true(stats.snapshots > 0 && stats.snapshot_restarts > 0);
    /* Passes were closed, some holding vouchers. */
    assert_true(stats.closes > UNIT_SEEDS / 2 && stats.closed_vouchers > 0);
}

static void test_a_seed_replays_the_same_run(void **state) {
    fixture *fx = *state;
    sim_stats a = {0}, b = {0};
    sim_failure failure;
    assert_int_equal(run(fx, 77, SIM_MUTATION_NONE, &a, &failure), 0);
    assert_int_equal(run(fx, 78, SIM_MUTATION_NONE, NULL, &failure), 0);
    assert_int_equal(run(fx, 77, SIM_MUTATION_NONE, &b, &failure), 0);
    assert_memory_equal(&a, &b, sizeof a);
}

/* The first failing seed among the first 40, shrunk. */
static void assert_caught(fixture *fx, sim_mutation mutation, const char *expected) {
    for (uint64_t seed = 1; seed <= 40; seed++) {
        sim_failure failure;
        if (run(fx, seed, mutation, NULL, &failure) != 1) continue;
        print_message("seed %llu caught: %s\n", (unsigned long long)seed, failure.message);
        assert_non_null(strstr(failure.message, expected));
        size_t count = STEPS;
        sim_shrink(fx->world, seed, fx->steps, &count, mutation, 500, &failure);
        print_message("shrunk to %zu steps: %s\n", count, failure.message);
        assert_true(count < STEPS);
        sp_error err;
        assert_int_equal(sim_run(fx->world, seed, fx->steps, count, mutation, NULL, &failure, &err),
                         1);
        return;
    }
    fail_msg("no seed caught the mutation");
}

static void test_a_fold_applying_a_redelivery_twice_is_caught(void **state) {
    assert_caught(*state, SIM_MUTATION_FOLD_NO_VERSION_CHECK, "replay");
}

static void test_a_state_losing_a_cent_is_caught(void **state) {
    assert_caught(*state, SIM_MUTATION_CORRUPT_PASS, "sum to");
}

int main(void) {
    sp_error err;
    if (sim_global_init(&err) != 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_seeds_hold_every_invariant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_seed_replays_the_same_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_fold_applying_a_redelivery_twice_is_caught, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_state_losing_a_cent_is_caught, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
