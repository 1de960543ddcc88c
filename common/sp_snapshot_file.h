/* sp_snapshot_file.h - where a writer's snapshot of one partition lives:
 * one file per partition in the configured folder (SP_SNAPSHOT_DIR),
 * "<kind>-<p>.snap" ("ledger-3.snap" for the transactions service,
 * "accounts-0.snap" for the accounts service). A write goes to
 * "<kind>-<p>.snap.tmp", is fsync'd, then renamed over the old one and the
 * folder fsync'd: a reader sees the old snapshot or the new one, never half
 * of one. The write runs on a thread of its own so the writer only pays for
 * encoding its state in memory. What the bytes mean is each service's.
 *
 * Memory: sp_snapshot_read returns a malloc'd buffer the caller frees; the
 * background write takes the bytes it is given and frees them itself. */
#ifndef SP_SP_SNAPSHOT_FILE_H
#define SP_SP_SNAPSHOT_FILE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sp_error.h"
#include "sp_log.h"

#define SP_SNAPSHOT_PATH_MAX 4096

/* "<dir>/<kind>-<partition>.snap"; -1 (400) when it does not fit. */
int sp_snapshot_path(const char *dir, const char *kind, int32_t partition,
                     char out[SP_SNAPSHOT_PATH_MAX], sp_error *err);

/* The whole file, at most bytes_max: -1 with 404 "snapshot_missing" when
 * there is none, 422 "snapshot_refused" when larger, 500 on a read error. */
int sp_snapshot_read(const char *path, size_t bytes_max, uint8_t **out, size_t *out_len,
                     sp_error *err);

/* Writes, fsyncs and renames into place now (the thread's work). */
int sp_snapshot_write(const char *path, const uint8_t *bytes, size_t len, sp_error *err);

/* One background write at a time per service. */
typedef struct sp_snapshot_writer {
    pthread_t thread;
    bool running;
    atomic_bool finished; /* set by the thread as its last act */
    char path[SP_SNAPSHOT_PATH_MAX];
    uint8_t *bytes; /* owned while running */
    size_t len;
    int rc; /* of the last write, read after a join */
    sp_error err;
} sp_snapshot_writer;

/* Starts writing bytes (taken, freed when done) to path; -1 when a write
 * is still running (the caller keeps its bytes and tries later) or no thread. */
int sp_snapshot_writer_start(sp_snapshot_writer *writer, const char *path, uint8_t *bytes,
                             size_t len, sp_error *err);
/* Whether the running write ended; when it did, joins it and reports its
 * outcome in *rc and *err. Blocks when wait. */
bool sp_snapshot_writer_done(sp_snapshot_writer *writer, bool wait, int *rc, sp_error *err);
/* Writes bytes (taken: freed in every case) to path: here and now when
 * wait, else on the writer's thread (-1 when a write is still running). */
int sp_snapshot_writer_save(sp_snapshot_writer *writer, const char *path, uint8_t *bytes,
                            size_t len, bool wait, sp_error *err);
/* sp_snapshot_writer_done, a failed write said in the log as error_msg. */
void sp_snapshot_writer_collect(sp_snapshot_writer *writer, bool wait, sp_log *log,
                                const char *error_msg);

#endif
