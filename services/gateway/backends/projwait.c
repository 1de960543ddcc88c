/* projwait.c - following the projection's offsets so that an answer is
 * sent only once every read model shows it (see projwait.h). */
#include "projwait.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>
#include "directory_feed.h"
#include "sp_kafka.h"
#include "sp_pg.h"

#define SP_GW_TOPIC_NAME_MAX 128
#define SP_GW_PROJWAIT_RECONNECT_MS 1000

/* clang-format off */
static const char offsets_sql[] =
    "SELECT topic, partition, next_offset FROM projection_offsets WHERE consumer = $1";
/* clang-format on */

/* One request waiting, on its own stack: the poller wakes only the waiters
 * whose events are all applied, not every waiter at every read. */
typedef struct projwait_waiter {
    Solipass__EventRef *const *refs; /* borrowed from the waiting request */
    size_t ref_count;
    pthread_cond_t reached_cond; /* signalled once, when reached turns true */
    bool reached;
    struct projwait_waiter *next;
} projwait_waiter;

typedef struct offset_entry {
    char topic[SP_GW_TOPIC_NAME_MAX];
    int32_t partition;
    int64_t next_offset;
} offset_entry;

struct sp_gw_projwait {
    const char *dsn; /* borrowed from the configuration */
    sp_log *log;
    sp_gw_metrics *metrics;
    PGconn *conn; /* used by the thread only */
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    pthread_mutex_t mutex;
    pthread_cond_t wake; /* tells the thread that someone waits */
    size_t waiters;
    projwait_waiter *waiting; /* the waiters not yet removed; as many as request threads */
    offset_entry offsets[SP_GW_PROJWAIT_PARTITIONS_MAX];
    size_t offset_count;
    struct sp_gw_directory_feed *directory; /* borrowed; NULL: none */
};

/* ------------------------------------------------------------------ the thread */

/* Under the mutex. */
static bool all_reached(const sp_gw_projwait *pw, Solipass__EventRef *const *refs,
                        size_t ref_count) {
    for (size_t i = 0; i < ref_count; i++) {
        bool reached = false;
        for (size_t k = 0; k < pw->offset_count && !reached; k++) {
            const offset_entry *e = &pw->offsets[k];
            reached = e->partition == refs[i]->partition && strcmp(e->topic, refs[i]->topic) == 0 &&
                      e->next_offset > refs[i]->offset;
        }
        if (!reached) return false;
    }
    return true;
}

/* Under the mutex, after new offsets: wakes each waiter they satisfy. */
static void wake_reached(sp_gw_projwait *pw) {
    for (projwait_waiter *w = pw->waiting; w != NULL; w = w->next) {
        if (w->reached || !all_reached(pw, w->refs, w->ref_count)) continue;
        w->reached = true;
        pthread_cond_signal(&w->reached_cond);
    }
}

/* Reads every offset into fresh (outside the mutex); -1 on a database failure. */
static int read_offsets(sp_gw_projwait *pw, offset_entry *fresh, size_t *count) {
    sp_error err;
    if (pw->conn == NULL || PQstatus(pw->conn) != CONNECTION_OK) {
        PQfinish(pw->conn);
        pw->conn = sp_pg_connect(pw->dsn, 0, pw->log, &err);
        if (pw->conn == NULL) return -1;
    }
    const char *params[1] = {"projection"};
    PGresult *res = NULL;
    if (sp_pg_exec(pw->conn, offsets_sql, 1, params, &res, &err) != 0) {
        sp_log_warn(pw->log, "projection offsets unreadable", "error", err.message, NULL);
        return -1;
    }
    int rows = PQntuples(res);
    *count = 0;
    for (int i = 0; i < rows && *count < SP_GW_PROJWAIT_PARTITIONS_MAX; i++) {
        offset_entry *e = &fresh[*count];
        snprintf(e->topic, sizeof e->topic, "%s", PQgetvalue(res, i, 0));
        e->partition = (int32_t)strtol(PQgetvalue(res, i, 1), NULL, 10);
        e->next_offset = strtoll(PQgetvalue(res, i, 2), NULL, 10);
        assert(e->partition >= 0 && e->next_offset >= 0); /* the table's CHECKs */
        (*count)++;
    }
    PQclear(res);
    return 0;
}

static void *run_poller(void *arg) {
    sp_gw_projwait *pw = arg;
    offset_entry *fresh = calloc(SP_GW_PROJWAIT_PARTITIONS_MAX, sizeof *fresh);
    if (fresh == NULL) {
        sp_log_error(pw->log, "projection wait: out of memory", NULL);
        return NULL;
    }
    while (!atomic_load(&pw->stop)) {
        size_t count = 0;
        bool ok = read_offsets(pw, fresh, &count) == 0;
        pthread_mutex_lock(&pw->mutex);
        bool changed = ok && (count != pw->offset_count ||
                              memcmp(pw->offsets, fresh, count * sizeof *fresh) != 0);
        if (changed) {
            memcpy(pw->offsets, fresh, count * sizeof *fresh);
            pw->offset_count = count;
            wake_reached(pw);
        }
        bool busy = ok && pw->waiters > 0;
        if (!busy && !atomic_load(&pw->stop)) {
            /* Idle (or the database is away): a new waiter cuts the pause short. */
            int64_t pause_ms = ok ? SP_GW_PROJWAIT_IDLE_POLL_MS : SP_GW_PROJWAIT_RECONNECT_MS;
            struct timespec until = sp_gw_deadline_timespec(sp_gw_monotonic_ms() + pause_ms);
            pthread_cond_timedwait(&pw->wake, &pw->mutex, &until);
        }
        pthread_mutex_unlock(&pw->mutex);
        if (busy) {
            struct timespec pause = {.tv_sec = 0,
                                     .tv_nsec = SP_GW_PROJWAIT_BUSY_POLL_MS * 1000000L};
            nanosleep(&pause, NULL);
        }
    }
    free(fresh);
    return NULL;
}

/* ------------------------------------------------------------------ public */

sp_gw_projwait *sp_gw_projwait_new(const char *dsn, sp_gw_metrics *metrics, sp_log *log,
                                   sp_error *err) {
    assert(dsn != NULL && metrics != NULL && log != NULL);
    sp_gw_projwait *pw = calloc(1, sizeof *pw);
    if (pw == NULL) {
        sp_error_set(err, 500, "out_of_memory", NULL, "projection wait");
        return NULL;
    }
    pw->dsn = dsn;
    pw->log = log;
    pw->metrics = metrics;
    atomic_init(&pw->stop, false);
    pthread_mutex_init(&pw->mutex, NULL);
    if (sp_gw_cond_init(&pw->wake) != 0) {
        sp_error_set(err, 500, "internal", NULL, "projection wait: condition variables");
        sp_gw_projwait_free(pw);
        return NULL;
    }
    if (pthread_create(&pw->thread, NULL, run_poller, pw) != 0) {
        sp_error_set(err, 500, "internal", NULL, "projection wait: cannot start its thread");
        sp_gw_projwait_free(pw);
        return NULL;
    }
    pw->thread_started = true;
    return pw;
}

void sp_gw_projwait_free(sp_gw_projwait *pw) {
    if (pw == NULL) return;
    atomic_store(&pw->stop, true);
    if (pw->thread_started) {
        pthread_mutex_lock(&pw->mutex);
        pthread_cond_signal(&pw->wake);
        pthread_mutex_unlock(&pw->mutex);
        pthread_join(pw->thread, NULL);
    }
    assert(pw->waiters == 0);
    assert(pw->waiting == NULL);
    PQfinish(pw->conn);
    pthread_cond_destroy(&pw->wake);
    pthread_mutex_destroy(&pw->mutex);
    free(pw);
}

/* Under the mutex: queues me, sleeps until the poller marks it reached or
 * the deadline passes, and takes it out of the queue again. */
static void wait_in_line(sp_gw_projwait *pw, projwait_waiter *me, int64_t deadline_ms) {
    struct timespec until = sp_gw_deadline_timespec(deadline_ms > 0 ? deadline_ms : 0);
    me->next = pw->waiting;
    pw->waiting = me;
    pw->waiters++;
    pthread_cond_signal(&pw->wake);
    int wait_rc = 0;
    while (!me->reached && wait_rc != ETIMEDOUT)
        wait_rc = pthread_cond_timedwait(&me->reached_cond, &pw->mutex, &until);
    projwait_waiter **link = &pw->waiting;
    while (*link != me) {
        assert(*link != NULL); /* me was queued above and only this thread removes it */
        link = &(*link)->next;
    }
    *link = me->next;
    assert(pw->waiters > 0);
    pw->waiters--;
}

int sp_gw_projwait_until(sp_gw_projwait *pw, Solipass__EventRef *const *refs, size_t ref_count,
                         int64_t deadline_ms, sp_error *err) {
    assert(pw != NULL && (refs != NULL || ref_count == 0));
    for (size_t i = 0; i < ref_count; i++) assert(refs[i] != NULL && refs[i]->topic != NULL);
    int64_t started_ms = sp_gw_monotonic_ms();
    projwait_waiter me = {.refs = refs, .ref_count = ref_count};
    int rc = 0;
    if (sp_gw_cond_init(&me.reached_cond) != 0)
        return sp_error_set(err, 503, "unavailable", "", "projection wait: condition variable");
    pthread_mutex_lock(&pw->mutex);
    me.reached = all_reached(pw, refs, ref_count);
    if (!me.reached) wait_in_line(pw, &me, deadline_ms);
    pthread_mutex_unlock(&pw->mutex);
    pthread_cond_destroy(&me.reached_cond);
    if (!me.reached) {
        rc = sp_error_set(err, 503, "timeout", "",
                          "the request was carried out but is not visible yet: retry with the "
                          "same Idempotency-Key to get its answer");
    }
    for (size_t i = 0; i < ref_count && rc == 0 && pw->directory != NULL; i++) {
        if (refs[i]->partition == 0 && strcmp(refs[i]->topic, SP_TOPIC_ACCOUNTS_EVENTS) == 0)
            rc = sp_gw_directory_feed_until(pw->directory, refs[i]->offset, deadline_ms, err);
    }
    sp_gw_metrics_projection_wait(pw->metrics, rc == 0, sp_gw_monotonic_ms() - started_ms);
    return rc;
}

void sp_gw_projwait_set_directory(sp_gw_projwait *pw, struct sp_gw_directory_feed *feed) {
    assert(pw != NULL);
    pw->directory = feed;
}

size_t sp_gw_projwait_waiters(sp_gw_projwait *pw) {
    assert(pw != NULL);
    pthread_mutex_lock(&pw->mutex);
    size_t waiters = pw->waiters;
    pthread_mutex_unlock(&pw->mutex);
    return waiters;
}
