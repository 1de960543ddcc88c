/* projwait.c - following the projection's offsets so that an answer is
 * sent only once every read model shows it (see projwait.h). */
#include "projwait.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>
#include "directory_feed.h"
#include "sp_kafka.h"
#include "sp_offsets_notice.h"
#include "sp_pg.h"

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

typedef sp_offsets_notice_entry offset_entry;

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

/* A connection listening to the projection's notices, or -1. */
static int ensure_listening(sp_gw_projwait *pw) {
    sp_error err;
    if (pw->conn != NULL && PQstatus(pw->conn) == CONNECTION_OK) return 0;
    PQfinish(pw->conn);
    pw->conn = sp_pg_connect(pw->dsn, 0, pw->log, &err);
    if (pw->conn == NULL) return -1;
    if (sp_pg_exec(pw->conn, "LISTEN " SP_OFFSETS_NOTICE_CHANNEL, 0, NULL, NULL, &err) != 0) {
        sp_log_warn(pw->log, "projection notices unavailable", "error", err.message, NULL);
        PQfinish(pw->conn);
        pw->conn = NULL;
        return -1;
    }
    return 0;
}

/* Reads every offset into fresh (outside the mutex); -1 on a database failure. */
static int read_offsets(sp_gw_projwait *pw, offset_entry *fresh, size_t *count) {
    sp_error err;
    assert(pw->conn != NULL);
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

/* The whole table read: replaces every offset known. */
static void publish_all(sp_gw_projwait *pw, const offset_entry *fresh, size_t count) {
    pthread_mutex_lock(&pw->mutex);
    if (count != pw->offset_count || memcmp(pw->offsets, fresh, count * sizeof *fresh) != 0) {
        memcpy(pw->offsets, fresh, count * sizeof *fresh);
        pw->offset_count = count;
        wake_reached(pw);
    }
    pthread_mutex_unlock(&pw->mutex);
}

/* A notice's partitions, each at its new offset (notices come in commit
 * order, so the last one holds). false: the table is to be read instead. */
static bool publish_notice(sp_gw_projwait *pw, const char *payload) {
    offset_entry moved[SP_GW_PROJWAIT_PARTITIONS_MAX];
    int count = sp_offsets_notice_parse(payload, moved, SP_GW_PROJWAIT_PARTITIONS_MAX);
    if (count <= 0) return false;
    bool complete = true;
    pthread_mutex_lock(&pw->mutex);
    for (int i = 0; i < count; i++) {
        size_t k = 0;
        while (k < pw->offset_count && (pw->offsets[k].partition != moved[i].partition ||
                                        strcmp(pw->offsets[k].topic, moved[i].topic) != 0))
            k++;
        if (k == SP_GW_PROJWAIT_PARTITIONS_MAX) {
            complete = false;
            continue;
        }
        if (k == pw->offset_count) pw->offset_count++;
        pw->offsets[k] = moved[i];
    }
    wake_reached(pw);
    pthread_mutex_unlock(&pw->mutex);
    return complete;
}

/* Waits up to wait_ms for notices and publishes them; -1 on a broken
 * connection, 1 when a notice asks for the table to be read. */
static int take_notices(sp_gw_projwait *pw, int64_t wait_ms) {
    assert(pw->conn != NULL);
    int rc = 0;
    PGnotify *notice = PQnotifies(pw->conn);
    if (notice == NULL && wait_ms > 0) {
        struct pollfd fd = {.fd = PQsocket(pw->conn), .events = POLLIN};
        if (poll(&fd, 1, (int)wait_ms) > 0 && PQconsumeInput(pw->conn) != 1) return -1;
        notice = PQnotifies(pw->conn);
    }
    for (; notice != NULL; notice = PQnotifies(pw->conn)) {
        if (!publish_notice(pw, notice->extra)) rc = 1;
        PQfreemem(notice);
    }
    return rc;
}

/* The offsets are learnt from the projection's notices as its batches
 * commit; the table is read at the start, after a reconnection, when a
 * notice asks for it, and every SP_GW_PROJWAIT_IDLE_POLL_MS in any case
 * (a replay's swap, a projection that sends no notices). */
static void *run_poller(void *arg) {
    sp_gw_projwait *pw = arg;
    offset_entry *fresh = calloc(SP_GW_PROJWAIT_PARTITIONS_MAX, sizeof *fresh);
    if (fresh == NULL) {
        sp_log_error(pw->log, "projection wait: out of memory", NULL);
        return NULL;
    }
    int64_t read_due_ms = 0;
    while (!atomic_load(&pw->stop)) {
        bool ok = ensure_listening(pw) == 0;
        size_t count = 0;
        int64_t now_ms = sp_gw_monotonic_ms();
        if (ok && now_ms >= read_due_ms) {
            ok = read_offsets(pw, fresh, &count) == 0;
            if (ok) publish_all(pw, fresh, count);
            read_due_ms = now_ms + SP_GW_PROJWAIT_IDLE_POLL_MS;
        }
        int taken = ok ? take_notices(pw, read_due_ms - now_ms) : -1;
        if (taken == 1) read_due_ms = 0;
        if (taken < 0) {
            PQfinish(pw->conn); /* reconnected, listening again, on the next turn */
            pw->conn = NULL;
            read_due_ms = 0;
            pthread_mutex_lock(&pw->mutex);
            struct timespec until = sp_gw_deadline_timespec(sp_gw_monotonic_ms() +
                                                            SP_GW_PROJWAIT_RECONNECT_MS);
            if (!atomic_load(&pw->stop)) pthread_cond_timedwait(&pw->wake, &pw->mutex, &until);
            pthread_mutex_unlock(&pw->mutex);
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
