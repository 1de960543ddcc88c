/* projection_replay.h - `solipass-projection --replay`: rebuilds the read
 * models from offset zero into shadow tables while the live projection keeps
 * serving, compares them with the live tables (a checksum per table) and
 * swaps them in, in one transaction, at the live projection's offsets.
 *
 *  1. The tables named (all read models by default) are checked against the
 *     known read models before anything changes; every partition's low
 *     watermark must be 0 (a truncated log cannot rebuild anything).
 *  2. Schema SP_REPLAY_SCHEMA is created afresh with an UNLOGGED copy of
 *     every read model and of projection_offsets (CREATE TABLE ... (LIKE ...
 *     INCLUDING ALL)) keeping only its unique indexes; the projection's own
 *     fold and statements (projection.c in a shadow schema) build it up to
 *     the high watermarks seen at start, options->chunk_events events a
 *     transaction, the fold's new rows written with COPY (projection_copy.h).
 *  3. The shadow catches up with the live projection's stored offsets (never
 *     past them), then, holding SP_PROJECTION_SWAP_LOCK_KEY (the live
 *     projection waits between two batches), applies the last events and in
 *     one transaction prints each table's checksum beside the live one,
 *     empties the live tables and copies the shadow rows in (their indexes
 *     that no constraint needs dropped before and built again after). With no live
 *     projection running, the replay holds the projection lock instead and
 *     also writes its offsets.
 *
 * The live projection's offsets equal the shadow's at the swap, so it
 * carries on from exactly where the swapped tables stand.
 *
 * Memory: options, clock, log and out are the caller's; nothing outlives the
 * call. */
#ifndef SP_PROJECTION_REPLAY_H
#define SP_PROJECTION_REPLAY_H

#include <signal.h>
#include <stdio.h>
#include "sp_clock.h"
#include "sp_error.h"
#include "sp_log.h"

#define SP_REPLAY_SCHEMA "solipass_replay"
/* Events the shadow may still lack when the swap lock is taken: more, and
 * it catches up first without the lock (the live projection keeps going). */
#define SP_REPLAY_SWAP_EVENTS_MAX 2000
#define SP_REPLAY_SWAP_ATTEMPTS_MAX 30
/* The shadow build's chunk (SP_REPLAY_CHUNK_EVENTS): about 2.5 KiB of the
 * replay's memory an event (messages, fold, COPY text); a log of more
 * events is folded and written chunk by chunk. */
#define SP_REPLAY_CHUNK_EVENTS_DEFAULT 100000
#define SP_REPLAY_CHUNK_EVENTS_MIN 10
#define SP_REPLAY_CHUNK_EVENTS_MAX 1000000

typedef struct sp_replay_options {
    const char *brokers;
    const char *pg_dsn;
    const char *migrations_dir;
    const char *tables; /* "a,b,c" or "" for every read model */
    /* Events read, folded and written per transaction of the shadow build
     * (SP_REPLAY_CHUNK_EVENTS): the bound on what the replay holds in memory. */
    size_t chunk_events;
} sp_replay_options;

/* 0 once swapped; -1 with err: "unknown_table" (nothing changed),
 * "log_truncated" (topic, partition and low watermark in the message; nothing
 * swapped), "replay_busy", database or broker failures. Prints to out one
 * line per swapped table "<table>=<shadow md5> live=<md5 before> same|differs",
 * then "all=<md5 of the table lines>" and "swapped tables=N events=E". */
int sp_projection_replay(const sp_replay_options *options, sp_clock *clock, sp_log *log,
                         const volatile sig_atomic_t *stop, FILE *out, sp_error *err);

/* Pure: marks in chosen[] (sp_projection_table_count entries) the read
 * models named in the comma-separated list ("" = all). -1 with err
 * "unknown_table" naming the first unknown name and the known ones. */
int sp_replay_tables_parse(const char *list, bool *chosen, sp_error *err);

#endif
