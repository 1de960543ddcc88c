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
#include <libpq-fe.h>
#include "projection_rows.h"
#include "sp_clock.h"
#include "sp_error.h"
#include "sp_kafka.h"
#include "sp_log.h"

/* Events applied in one transaction at most: large during a catch-up,
 * whatever one poll returned when live. */
#define SP_PROJECTION_TXN_EVENTS_MAX 5000

typedef struct sp_projection_options {
    const char *brokers;
    const char *pg_dsn;
    const char *migrations_dir;
    bool rebuild;             /* empty every read model and the offsets first */
    bool exit_when_caught_up; /* return once the log's ends seen at start are applied */
    /* A replay's shadow build (projection_replay.h): the schema of the shadow
     * tables (NULL: the live read models). In a shadow schema the projection
     * takes no projection lock, migrates nothing, sends no dead letter (the
     * live projection did) and never reads a partition past its target
     * (targets[].offset, 0 for a partition not listed); it returns once every
     * target is reached. */
    const char *schema;
    const sp_kafka_tp *targets;
    size_t target_count;
    int64_t progress_ms; /* progress log period; 0: the default (10 s) */
    /* A replay's shadow build only: events folded in one transaction (0:
     * SP_PROJECTION_TXN_EVENTS_MAX), and the fold's new rows written with
     * COPY (projection_copy.h) instead of their INSERT statements. */
    size_t batch_events_max;
    bool copy_new_rows;
} sp_projection_options;

/* pg_advisory_lock key a replay holds exclusively to swap its shadow tables
 * in; the live projection takes it shared in every batch transaction, so it
 * pauses between two batches while the swap runs ("sp-swap" in ASCII). */
#define SP_PROJECTION_SWAP_LOCK_KEY "32492962834768240"
/* The live projection's session lock: one live projection per database
 * ("sp-proj" in ASCII). */
#define SP_PROJECTION_LOCK_KEY "32492962784112490"

/* Runs until *stop is set (after finishing the batch at hand), or until
 * caught up with exit_when_caught_up. 0 on a clean stop; -1 with err when
 * the read model cannot be built (no database within the retry bound, a
 * truncated log, an unexpected SQL error). */
int sp_projection_run(const sp_projection_options *options, sp_clock *clock, sp_log *log,
                      const volatile sig_atomic_t *stop, sp_error *err);

/* Prints "<table>=<md5 of its rows in primary-key order>" for every read
 * model, then "all=<md5 of those lines>", read in one snapshot. */
int sp_projection_checksum(const char *pg_dsn, FILE *out, sp_log *log, sp_error *err);

/* The session settings that make the checksums independent of the server's
 * defaults (time zone, date and bytea styles). */
int sp_projection_checksum_settings(PGconn *conn, sp_error *err);

/* The checksum of one read model (its unqualified name is resolved by the
 * connection's search_path) into md5_out. */
#define SP_PROJECTION_MD5_TEXT_LEN 32
int sp_projection_table_checksum(PGconn *conn, const sp_projection_table *table,
                                 char md5_out[SP_PROJECTION_MD5_TEXT_LEN + 1], sp_error *err);

#endif
