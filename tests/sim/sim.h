/* sim.h - the deterministic simulation of the ledger core (see
 * docs/architecture.md, "The simulation").
 *
 * One process holds what a cluster spreads over many: a simulated log (per
 * partition, an append-only list of ledger commands and one of encoded
 * ledger events), a simulated clock, the transactions service's single
 * writer of each partition (the real sp_ledger_decide / sp_ledger_apply /
 * sweeps over the real codec), a fold standing in for the projection (the
 * rules of services/projection/projection_rows_*.c's SQL, mirrored in C over
 * in-memory rows, fed by every event the real row builder accepts), and the
 * refunds driver (the real refunds.c decisions over that fold). A seed gives
 * a plan: a list of steps (client commands, writer/fold/driver turns,
 * faults); the same seed gives the same run everywhere, because the only
 * randomness (ids, voucher numbers, envelope ids) comes from libsodium and
 * the simulation replaces libsodium's generator by one seeded from the run.
 * After every step every invariant is checked; a failure names its step.
 *
 * Memory: a sim_world owns everything (logs, states, fold, scratch buffers)
 * and is reused from run to run (sim_run resets it); plans are plain arrays
 * owned by the caller. */
#ifndef SP_SIM_H
#define SP_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sp_error.h"

#define SIM_PLAN_STEPS_MAX 2000
#define SIM_FAILURE_MESSAGE_MAX 512

typedef enum sim_step_kind {
    /* client commands (the gateway's part: a command on the log) */
    SIM_OPEN_PASS,
    SIM_CREDIT,
    SIM_PAY,
    SIM_ISSUE_VOUCHER,
    SIM_REDEEM_VOUCHER,
    SIM_CANCEL_VOUCHER,
    SIM_CANCEL_OPERATION,
    SIM_OPEN_REFUND,
    SIM_CANCEL_REFUND,
    SIM_MARK_PAID,
    SIM_CLOSE_PASS, /* the back office closes a pass (its beneficiary left) */
    SIM_DUPLICATE,  /* a command sent again, same body */
    SIM_CONFLICT,   /* the same command id, another body */
    /* turns of the services */
    SIM_WRITER, /* a partition's writer takes up to n commands, then commits */
    SIM_SWEEP,  /* a partition's expiry sweeps (envelopes, vouchers) */
    SIM_FOLD,   /* the projection folds up to n events of a partition */
    SIM_DRIVER, /* one tick of the refunds driver */
    SIM_TICK,   /* the clock moves on by minutes */
    /* faults */
    SIM_CLOCK_JUMP,     /* the clock jumps by days */
    SIM_REDELIVER,      /* the fold gets a batch of a partition again */
    SIM_WRITER_CRASH,   /* a writer restarts between its effect and its commit */
    SIM_DRIVER_RESTART, /* the refunds driver forgets what it sent */
    SIM_LAG,            /* a partition's writer and fold stop for a while */
    SIM_STEP_KIND_COUNT
} sim_step_kind;

typedef struct sim_step {
    sim_step_kind kind;
    uint64_t arg; /* the step's own randomness: what it picks, how much */
} sim_step;

/* Ways to break the simulation on purpose, to prove its checks can fail. */
typedef enum sim_mutation {
    SIM_MUTATION_NONE = 0,
    SIM_MUTATION_FOLD_NO_VERSION_CHECK, /* the fold applies a redelivered event again */
    SIM_MUTATION_CORRUPT_PASS,          /* a pass's envelope loses a cent, unposted */
} sim_mutation;

typedef struct sim_failure {
    size_t step_index; /* the step after which an invariant broke */
    char message[SIM_FAILURE_MESSAGE_MAX];
} sim_failure;

typedef struct sim_stats {
    uint64_t commands;
    uint64_t events;
    uint64_t replays;
    uint64_t rejections;
    uint64_t crashes;
    uint64_t redeliveries;
    uint64_t refund_requests;
    uint64_t payments;
    uint64_t closes;            /* passes closed (PassClosed) */
    uint64_t closed_vouchers;   /* active vouchers those closes cancelled */
    uint64_t snapshots;         /* writer snapshots taken */
    uint64_t snapshot_restarts; /* crashes recovered from a snapshot and the log after it */
} sim_stats;

typedef struct sim_world sim_world;

/* Once per process, before anything else: installs the seeded generator in
 * libsodium (which must not be initialised yet) and initialises it. */
int sim_global_init(sp_error *err);

sim_world *sim_world_new(sp_error *err);
void sim_world_free(sim_world *world);

/* The plan of a seed: step_count steps (at most SIM_PLAN_STEPS_MAX). */
void sim_plan(uint64_t seed, size_t step_count, sim_step *steps);

/* Runs the steps from a fresh world; 0 when every invariant held after
 * every step, 1 with *failure filled when one broke, -1 with err when the
 * simulation itself could not go on (out of a bound). Stats add up. */
int sim_run(sim_world *world, uint64_t seed, const sim_step *steps, size_t step_count,
            sim_mutation mutation, sim_stats *stats, sim_failure *failure, sp_error *err);

/* Removes steps while the run still fails (at most runs_max runs): steps is
 * rewritten in place, *step_count shrinks; failure gets the last failure. */
void sim_shrink(sim_world *world, uint64_t seed, sim_step *steps, size_t *step_count,
                sim_mutation mutation, size_t runs_max, sim_failure *failure);

/* "pay arg=0x..." into out. */
void sim_step_describe(const sim_step *step, char *out, size_t out_size);

#endif
