/* projection_copier.h - a replay chunk's COPYs on their own connections, in
 * their own threads, while the projection's connection runs the chunk's
 * statements: the shadow's largest tables (operations, history, new passes)
 * are written by other PostgreSQL backends at the same time, so a replay
 * uses the machine's cores instead of one backend after the other.
 *
 * A copier is one connection (its session already set: search_path to the
 * shadow schema) and, while a chunk is being written, one thread. Start
 * opens a transaction and runs the COPYs of the jobs added to its queue, in
 * order, as they come (the caller adds rows while it folds the rest of the
 * chunk); wait closes the queue, joins the thread and says how they went,
 * the transaction still open; end commits or rolls it back. The caller commits every copier before
 * its own transaction (the one holding the offsets), all with synchronous commits; a failure
 * after the first copier's commit leaves the chunk partly written, and ends the replay (nothing
 * swapped) rather than running the chunk again.
 *
 * Memory: the copier owns its connection (closed by sp_copier_close) and
 * its row buffer; a job's arrays are borrowed from the caller's fold and
 * must stay valid until sp_copier_wait returns. One thread at a time uses
 * the connection: the copier's between start and wait, the caller's
 * otherwise. */
#ifndef SP_PROJECTION_COPIER_H
#define SP_PROJECTION_COPIER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>
#include "projection_copy.h"
#include "sp_error.h"

#define SP_COPIER_JOBS_MAX 192 /* a chunk's jobs, streamed and final */
#define SP_COPIER_SQLSTATE_LEN 5

typedef struct sp_copier_job {
    const char *name; /* the fold statement's, for messages */
    char sql[SP_PROJECTION_COPY_SQL_MAX];
    /* The same COPY in the binary format, when every column's type has one
     * (sp_projection_copy_binary_sql): sent so unless a value is not in
     * its type's text form, then the text one is. */
    bool binary;
    char binary_sql[SP_PROJECTION_COPY_SQL_MAX];
    sp_projection_copy_type types[SP_PROJECTION_COPY_COLUMNS_MAX];
    const char *const *arrays; /* borrowed: one array literal per column */
    int column_count;
    size_t bytes; /* the arrays' length, to share the work out */
} sp_copier_job;

typedef enum {
    SP_COPIER_OK = 0,
    SP_COPIER_REFUSED, /* the database refused a row: sqlstate says why */
    SP_COPIER_BROKEN,  /* the connection failed: open a new one */
    SP_COPIER_FATAL    /* rows the array literals did not hold, a count that differs */
} sp_copier_outcome;

typedef struct sp_copier {
    PGconn *conn;
    pthread_t thread;
    bool running;
    bool in_transaction;
    pthread_mutex_t lock; /* guards the queue: jobs, job_count, closed */
    pthread_cond_t added;
    bool closed;
    sp_copier_job jobs[SP_COPIER_JOBS_MAX];
    size_t job_count, next_job; /* next_job: the thread's own */
    size_t bytes_queued;        /* the caller's: to share work out */
    sp_projection_copy_buf buf;
    sp_copier_outcome outcome;
    char sqlstate[SP_COPIER_SQLSTATE_LEN + 1]; /* "" unless refused */
    sp_error err;
} sp_copier;

/* Takes conn (its session set). -1 when its lock cannot be made. */
int sp_copier_init(sp_copier *c, PGconn *conn);
/* Starts the copier's thread on an empty queue; -1 with err when the
 * thread cannot start (nothing runs then). */
int sp_copier_start(sp_copier *c, sp_error *err);
bool sp_copier_started(const sp_copier *c);
/* Queues a job (copied) for the started copier; -1 with err when the queue
 * is full. After a failed job the others are dropped: wait says why. */
int sp_copier_add(sp_copier *c, const sp_copier_job *job, sp_error *err);
/* Closes the queue and waits for its jobs; the outcome, and err when not
 * SP_COPIER_OK. No-op (SP_COPIER_OK) when nothing was started. */
sp_copier_outcome sp_copier_wait(sp_copier *c, sp_error *err);
/* COMMIT (commit) or ROLLBACK of the open transaction; 0 when there is
 * none. -1 with err when the COMMIT fails. */
int sp_copier_end(sp_copier *c, bool commit, sp_error *err);
/* Waits for a running thread, closes the connection. */
void sp_copier_close(sp_copier *c);

#endif
