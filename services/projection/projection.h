/* projection.h - the projection service's I/O: reads the accounts and ledger
 * event topics from the offsets stored in PostgreSQL and applies each polled
 * batch, with the new offsets, in one pipelined transaction; prints the read
 * models' checksum.
 *
 * Memory: the caller owns options, clock, log and the stop flag, which must
 * outlive the call; everything the projection allocates is freed before it
 * returns. */
#ifndef SP_PROJECTION_H
#define SP_PROJECTION_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include "sp_clock.h"
#include "sp_error.h"
#include "sp_log.h"

/* Events applied in one transaction at most: large during a catch-up,
 * whatever one poll returned when live. */
#define SP_PROJECTION_TXN_EVENTS_MAX 5000

typedef struct sp_projection_options {
    const char *brokers;
    const char *pg_dsn;
    const char *migrations_dir;
    bool rebuild;              /* empty every read model and the offsets first */
    bool exit_when_caught_up;  /* return once the log's ends seen at start are applied */
} sp_projection_options;

/* Runs until *stop is set (after finishing the batch at hand), or until
 * caught up with exit_when_caught_up. 0 on a clean stop; -1 with err when
 * the read model cannot be built (no database within the retry bound, a
 * truncated log, an unexpected SQL error). */
int sp_projection_run(const sp_projection_options *options, sp_clock *clock, sp_log *log,
                      const volatile sig_atomic_t *stop, sp_error *err);

/* Prints "<table>=<md5 of its rows in primary-key order>" for every read
 * model, then "all=<md5 of those lines>", read in one snapshot. */
int sp_projection_checksum(const char *pg_dsn, FILE *out, sp_log *log, sp_error *err);

#endif
