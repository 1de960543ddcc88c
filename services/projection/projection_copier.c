/* projection_copier.c - a replay chunk's COPYs in their own thread and
 * connection (see projection_copier.h). */
#include "projection_copier.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define COPIER_PIECE_BYTES ((size_t)1 << 20) /* one PQputCopyData */

int sp_copier_init(sp_copier *c, PGconn *conn) {
    assert(c != NULL && conn != NULL);
    *c = (sp_copier){.conn = conn};
    if (pthread_mutex_init(&c->lock, NULL) != 0) return -1;
    if (pthread_cond_init(&c->added, NULL) == 0) return 0;
    pthread_mutex_destroy(&c->lock);
    return -1;
}

/* A failed step: refused by the database (its SQLSTATE kept for the caller
 * to judge) or a broken connection (no SQLSTATE). */
static void copier_fail(sp_copier *c, const PGresult *res, const char *what) {
    const char *sqlstate = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *message = res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(c->conn);
    size_t len = strcspn(message, "\n");
    sp_error_set(&c->err, 500, "database_error", "", "%s: %s%s%.*s", what,
                 sqlstate != NULL ? sqlstate : "", sqlstate != NULL ? ": " : "",
                 (int)(len < 300 ? len : 300), message);
    if (sqlstate != NULL && strlen(sqlstate) == SP_COPIER_SQLSTATE_LEN) {
        memcpy(c->sqlstate, sqlstate, SP_COPIER_SQLSTATE_LEN + 1);
        c->outcome = SP_COPIER_REFUSED;
    } else {
        c->outcome = SP_COPIER_BROKEN;
    }
}

static int copier_command(sp_copier *c, const char *sql) {
    PGresult *res = PQexec(c->conn, sql);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc != 0) copier_fail(c, res, sql);
    PQclear(res);
    return rc;
}

/* Sends the buffer's rows in pieces, ends the COPY and checks its count. */
static int copier_send(sp_copier *c, const sp_copier_job *job, size_t rows) {
    for (size_t at = 0; at < c->buf.len;) {
        size_t n = c->buf.len - at < COPIER_PIECE_BYTES ? c->buf.len - at : COPIER_PIECE_BYTES;
        if (PQputCopyData(c->conn, c->buf.data + at, (int)n) != 1) {
            copier_fail(c, NULL, "sending COPY rows");
            return -1;
        }
        at += n;
    }
    if (PQputCopyEnd(c->conn, NULL) != 1) {
        copier_fail(c, NULL, "ending a COPY");
        return -1;
    }
    int rc = 0;
    PGresult *res;
    while ((res = PQgetResult(c->conn)) != NULL) {
        if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK) {
            copier_fail(c, res, job->name);
            rc = -1;
        } else if (rc == 0 && strtoull(PQcmdTuples(res), NULL, 10) != rows) {
            sp_error_set(&c->err, 500, "database_error", "", "COPY %s wrote %s rows of %zu",
                         job->name, PQcmdTuples(res), rows);
            c->outcome = SP_COPIER_FATAL;
            rc = -1;
        }
        PQclear(res);
    }
    return rc;
}

static int copier_job(sp_copier *c, const sp_copier_job *job) {
    size_t rows = 0;
    sp_error binary_err;
    sp_projection_copy_buf_clear(&c->buf);
    bool binary = job->binary &&
                  sp_projection_copy_rows_binary(&c->buf, job->arrays, job->types,
                                                 job->column_count, &rows, &binary_err) == 0;
    if (!binary) sp_projection_copy_buf_clear(&c->buf); /* the text format: the server judges */
    if (!binary &&
        sp_projection_copy_rows(&c->buf, job->arrays, job->column_count, &rows, &c->err) != 0) {
        c->outcome = SP_COPIER_FATAL;
        return -1;
    }
    const char *sql = binary ? job->binary_sql : job->sql;
    PGresult *res = PQexec(c->conn, sql);
    bool copying = PQresultStatus(res) == PGRES_COPY_IN;
    if (!copying) copier_fail(c, res, sql);
    PQclear(res);
    return copying ? copier_send(c, job, rows) : -1;
}

/* The next job, waiting for one while the queue is open; NULL once it is
 * closed and empty. */
static const sp_copier_job *copier_next(sp_copier *c) {
    pthread_mutex_lock(&c->lock);
    while (c->next_job == c->job_count && !c->closed) pthread_cond_wait(&c->added, &c->lock);
    const sp_copier_job *job = c->next_job < c->job_count ? &c->jobs[c->next_job++] : NULL;
    pthread_mutex_unlock(&c->lock);
    return job;
}

static void *copier_main(void *arg) {
    sp_copier *c = arg;
    bool failed = copier_command(c, "BEGIN") != 0;
    if (!failed) c->in_transaction = true;
    /* After a failure the queue is still drained, so that wait returns. */
    for (const sp_copier_job *job; (job = copier_next(c)) != NULL;)
        if (!failed) failed = copier_job(c, job) != 0;
    return NULL;
}

int sp_copier_start(sp_copier *c, sp_error *err) {
    assert(c != NULL && c->conn != NULL && !c->running && !c->in_transaction);
    c->job_count = c->next_job = c->bytes_queued = 0;
    c->closed = false;
    c->outcome = SP_COPIER_OK;
    c->sqlstate[0] = '\0';
    sp_error_clear(&c->err);
    if (pthread_create(&c->thread, NULL, copier_main, c) != 0)
        return sp_error_set(err, 500, "thread_failed", "", "cannot start a COPY thread");
    c->running = true;
    return 0;
}

bool sp_copier_started(const sp_copier *c) {
    assert(c != NULL);
    return c->running;
}

int sp_copier_add(sp_copier *c, const sp_copier_job *job, sp_error *err) {
    assert(c != NULL && c->running && job != NULL);
    pthread_mutex_lock(&c->lock);
    bool full = c->job_count == SP_COPIER_JOBS_MAX;
    if (!full) {
        c->jobs[c->job_count++] = *job;
        c->bytes_queued += job->bytes;
        pthread_cond_signal(&c->added);
    }
    pthread_mutex_unlock(&c->lock);
    if (full)
        return sp_error_set(err, 500, "copier_full", "", "more than %d COPYs in a chunk",
                            SP_COPIER_JOBS_MAX);
    return 0;
}

sp_copier_outcome sp_copier_wait(sp_copier *c, sp_error *err) {
    assert(c != NULL);
    if (!c->running) return SP_COPIER_OK;
    pthread_mutex_lock(&c->lock);
    c->closed = true;
    pthread_cond_signal(&c->added);
    pthread_mutex_unlock(&c->lock);
    int joined = pthread_join(c->thread, NULL);
    assert(joined == 0);
    (void)joined;
    c->running = false;
    if (c->outcome != SP_COPIER_OK) *err = c->err;
    return c->outcome;
}

int sp_copier_end(sp_copier *c, bool commit, sp_error *err) {
    assert(c != NULL && !c->running);
    if (!c->in_transaction) return 0;
    c->in_transaction = false;
    if (!commit) {
        PQclear(PQexec(c->conn, "ROLLBACK"));
        return 0;
    }
    if (copier_command(c, "COMMIT") == 0) return 0;
    *err = c->err;
    return -1;
}

void sp_copier_close(sp_copier *c) {
    assert(c != NULL);
    sp_error ignored;
    if (c->running) sp_copier_wait(c, &ignored);
    PQfinish(c->conn); /* an open transaction rolls back with the session */
    sp_projection_copy_buf_free(&c->buf);
    pthread_cond_destroy(&c->added);
    pthread_mutex_destroy(&c->lock);
    *c = (sp_copier){0};
}
