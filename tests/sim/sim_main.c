/* sim_main.c - solipass-sim: runs the ledger simulation over many seeds.
 *
 *   solipass-sim --seeds 100000            seeds 1..100000, 200 steps each
 *   solipass-sim --seed 4242 --verbose     one seed, its plan printed
 *   solipass-sim --seeds 300 --first 9000 --steps 400
 *   solipass-sim --seeds 50 --mutation fold-no-version-check   (must fail)
 *
 * It lives in tests/sim, not tools/: it is a test of the ledger's pure code
 * (it links the services' *_domain_lib, no broker, no database), run by the
 * unit suite (test_sim.c) and by hand for long runs.
 *
 * Exit 0 when every seed held every invariant; 1 when one broke (its seed,
 * the broken invariant and the shrunk plan that reproduces it are printed,
 * with the command to run it again); 2 on a usage or simulation error. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sim.h"

#define SHRINK_RUNS_MAX 4000
#define FAILURES_SHOWN_MAX 3

typedef struct options {
    uint64_t first;
    uint64_t seeds;
    size_t steps;
    sim_mutation mutation;
    bool verbose;
} options;

static int usage(void) {
    fprintf(stderr,
            "usage: solipass-sim [--seeds N] [--first S] [--seed S] [--steps N (<= %d)] "
            "[--mutation fold-no-version-check|corrupt-pass] [--verbose]\n",
            SIM_PLAN_STEPS_MAX);
    return 2;
}

static bool parse_u64(const char *text, uint64_t *out) {
    char *end = NULL;
    if (text == NULL || *text == '\0') return false;
    unsigned long long v = strtoull(text, &end, 0);
    if (*end != '\0') return false;
    *out = v;
    return true;
}

static int parse(int argc, char **argv, options *o) {
    *o = (options){.first = 1, .seeds = 1, .steps = 200, .mutation = SIM_MUTATION_NONE};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n = 0;
        if (strcmp(a, "--verbose") == 0) {
            o->verbose = true;
            continue;
        }
        if (strcmp(a, "--mutation") == 0 && v != NULL) {
            if (strcmp(v, "fold-no-version-check") == 0)
                o->mutation = SIM_MUTATION_FOLD_NO_VERSION_CHECK;
            else if (strcmp(v, "corrupt-pass") == 0) o->mutation = SIM_MUTATION_CORRUPT_PASS;
            else return usage();
        } else if (!parse_u64(v, &n)) {
            return usage();
        } else if (strcmp(a, "--seeds") == 0 && n >= 1) {
            o->seeds = n;
        } else if (strcmp(a, "--first") == 0) {
            o->first = n;
        } else if (strcmp(a, "--seed") == 0) {
            o->first = n;
            o->seeds = 1;
        } else if (strcmp(a, "--steps") == 0 && n >= 1 && n <= SIM_PLAN_STEPS_MAX) {
            o->steps = (size_t)n;
        } else {
            return usage();
        }
        i++;
    }
    return 0;
}

static void print_plan(const sim_step *steps, size_t count) {
    for (size_t i = 0; i < count; i++) {
        char text[96];
        sim_step_describe(&steps[i], text, sizeof text);
        printf("  %4zu  %s\n", i, text);
    }
}

/* Shrinks and prints one failure. */
static void report(sim_world *w, const options *o, uint64_t seed, sim_step *steps,
                   const sim_failure *first) {
    printf("FAIL seed %" PRIu64 ": %s (after step %zu of %zu)\n", seed, first->message,
           first->step_index, o->steps);
    size_t count = o->steps;
    sim_failure shrunk = *first;
    sim_shrink(w, seed, steps, &count, o->mutation, SHRINK_RUNS_MAX, &shrunk);
    printf("shrunk to %zu steps (fails with: %s, after step %zu):\n", count, shrunk.message,
           shrunk.step_index);
    print_plan(steps, count);
    printf("again: solipass-sim --seed %" PRIu64 " --steps %zu%s%s\n", seed, o->steps,
           o->mutation == SIM_MUTATION_NONE ? "" : " --mutation ",
           o->mutation == SIM_MUTATION_FOLD_NO_VERSION_CHECK ? "fold-no-version-check"
           : o->mutation == SIM_MUTATION_CORRUPT_PASS        ? "corrupt-pass"
                                                             : "");
}

int main(int argc, char **argv) {
    options o;
    if (parse(argc, argv, &o) != 0) return 2;
    sp_error err;
    sp_error_clear(&err);
    if (sim_global_init(&err) != 0) return 2;
    sim_world *w = sim_world_new(&err);
    sim_step *steps = malloc(o.steps * sizeof *steps);
    if (w == NULL || steps == NULL) {
        fprintf(stderr, "solipass-sim: %s\n", err.message);
        sim_world_free(w);
        free(steps);
        return 2;
    }
    sim_stats stats = {0};
    uint64_t failures = 0;
    int exit_code = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    clock_t cpu0 = clock();
    for (uint64_t s = o.first; s < o.first + o.seeds; s++) {
        sim_plan(s, o.steps, steps);
        if (o.verbose) print_plan(steps, o.steps);
        sim_failure failure;
        int rc = sim_run(w, s, steps, o.steps, o.mutation, &stats, &failure, &err);
        if (rc < 0) {
            printf("ERROR seed %" PRIu64 ": %s: %s\n", s, err.code, err.message);
            exit_code = 2;
            break;
        }
        if (rc == 1 && failures++ < FAILURES_SHOWN_MAX) report(w, &o, s, steps, &failure);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double cpu_seconds = (double)(clock() - cpu0) / CLOCKS_PER_SEC;
    printf("%" PRIu64 " seeds x %zu steps: %" PRIu64 " commands, %" PRIu64 " events, %" PRIu64
           " payments, %" PRIu64 " refund requests, %" PRIu64 " replays, %" PRIu64
           " rejections, %" PRIu64 " writer crashes, %" PRIu64 " redeliveries, %" PRIu64
           " passes closed (%" PRIu64 " vouchers cancelled by them), %" PRIu64
           " snapshots, %" PRIu64 " restarts from a snapshot; %" PRIu64
           " violations; %.1f s, %.1f s of CPU (%.0f seeds per CPU second)\n",
           o.seeds, o.steps, stats.commands, stats.events, stats.payments, stats.refund_requests,
           stats.replays, stats.rejections, stats.crashes, stats.redeliveries, stats.closes,
           stats.closed_vouchers, stats.snapshots, stats.snapshot_restarts, failures, seconds,
           cpu_seconds, cpu_seconds > 0 ? (double)o.seeds / cpu_seconds : 0.0);
    if (exit_code == 0 && failures > 0) exit_code = 1;
    sim_world_free(w);
    free(steps);
    return exit_code;
}
