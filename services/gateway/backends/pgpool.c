/* pgpool.c - the gateway's PostgreSQL connection pool (see pgpool.h). */
#include "pgpool.h"

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sp_pg.h"

/* A reconnecting borrower does not wait for a server that is down: the
 * request fails fast and the next one tries again. */
#define SP_GW_PGPOOL_RECONNECT_WAIT_MS 0

/* Statements prepared on one connection, by their text: the gateway's
 * statements are a fixed set, so each is parsed and planned once per
 * connection instead of once per request. Past the bound (statements built
 * from filters, say), a statement simply runs unprepared. */
#define SP_GW_PG_PREPARED_MAX 64
#define SP_GW_PG_PREPARED_NAME_MAX 32

typedef struct prepared_statement {
    uint64_t hash; /* FNV-1a of the text, to skip most comparisons */
    char *sql;     /* owned copy of the text */
} prepared_statement;

typedef struct pool_slot pool_slot;
static void forget_prepared(pool_slot *slot);

struct pool_slot {
    PGconn *conn; /* NULL: to be opened by the next borrower */
    bool busy;
    uint64_t epoch;                                     /* the pool's epoch when conn was opened */
    prepared_statement prepared[SP_GW_PG_PREPARED_MAX]; /* on conn */
    size_t prepared_count;
};

struct sp_gw_pgpool {
    const char *dsn; /* borrowed from the configuration */
    sp_log *log;
    pthread_mutex_t mutex;
    pthread_cond_t freed;
    pool_slot *slots;
    size_t size;
    size_t busy_count;
    /* Bumped when a connection is found lost (e.g. the server restarted):
     * every connection opened before is then reopened before its next use,
     * instead of failing one request each. */
    uint64_t epoch;
};

/* Every query of the gateway is short: a stuck one must not hold a
 * connection (and an HTTP worker) for ever. */
static PGconn *open_connection(sp_gw_pgpool *pool, int wait_ms, sp_error *err) {
    PGconn *conn = sp_pg_connect(pool->dsn, wait_ms, pool->log, err);
    if (conn == NULL) return NULL;
    char sql[64];
    snprintf(sql, sizeof sql, "SET statement_timeout = %d", SP_GW_PG_STATEMENT_TIMEOUT_MS);
    if (sp_pg_command(conn, sql, err) != 0) {
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

sp_gw_pgpool *sp_gw_pgpool_new(const char *dsn, size_t size, int connect_wait_ms, sp_log *log,
                               sp_error *err) {
    assert(dsn != NULL && log != NULL && size >= 1 && size <= SP_GW_PGPOOL_SIZE_MAX);
    sp_gw_pgpool *pool = calloc(1, sizeof *pool);
    pool_slot *slots = calloc(size, sizeof *slots);
    if (pool == NULL || slots == NULL || sp_gw_cond_init(&pool->freed) != 0) {
        free(pool);
        free(slots);
        sp_error_set(err, 500, "out_of_memory", NULL, "connection pool");
        return NULL;
    }
    pthread_mutex_init(&pool->mutex, NULL);
    pool->dsn = dsn;
    pool->log = log;
    pool->slots = slots;
    pool->size = size;
    for (size_t i = 0; i < size; i++) {
        slots[i].conn = open_connection(pool, i == 0 ? connect_wait_ms : 0, err);
        if (slots[i].conn == NULL) {
            sp_gw_pgpool_free(pool);
            return NULL;
        }
    }
    return pool;
}

void sp_gw_pgpool_free(sp_gw_pgpool *pool) {
    if (pool == NULL) return;
    assert(pool->busy_count == 0);
    for (size_t i = 0; i < pool->size; i++) {
        PQfinish(pool->slots[i].conn);
        forget_prepared(&pool->slots[i]);
    }
    pthread_cond_destroy(&pool->freed);
    pthread_mutex_destroy(&pool->mutex);
    free(pool->slots);
    free(pool);
}

/* Under the mutex: a free slot, preferring one with an open connection. */
static pool_slot *free_slot(sp_gw_pgpool *pool) {
    pool_slot *unopened = NULL;
    for (size_t i = 0; i < pool->size; i++) {
        if (pool->slots[i].busy) continue;
        if (pool->slots[i].conn != NULL) return &pool->slots[i];
        if (unopened == NULL) unopened = &pool->slots[i];
    }
    return unopened;
}

/* Forget what was prepared on a connection being closed or replaced. */
static void forget_prepared(pool_slot *slot) {
    for (size_t i = 0; i < slot->prepared_count; i++) free(slot->prepared[i].sql);
    slot->prepared_count = 0;
}

static uint64_t text_hash(const char *text) {
    uint64_t hash = UINT64_C(14695981039346656037);
    for (const unsigned char *c = (const unsigned char *)text; *c != '\0'; c++) {
        hash = (hash ^ *c) * UINT64_C(1099511628211);
    }
    return hash;
}

/* The index of sql's prepared statement on the slot's connection, preparing
 * it first if needed; -1 when it is to run unprepared. */
static int prepared_index(pool_slot *slot, const char *sql, int param_count) {
    uint64_t hash = text_hash(sql);
    for (size_t i = 0; i < slot->prepared_count; i++) {
        if (slot->prepared[i].hash == hash && strcmp(slot->prepared[i].sql, sql) == 0)
            return (int)i;
    }
    if (slot->prepared_count == SP_GW_PG_PREPARED_MAX) return -1;
    char *copy = strdup(sql);
    if (copy == NULL) return -1;
    char name[SP_GW_PG_PREPARED_NAME_MAX];
    snprintf(name, sizeof name, "sp_gw_%zu", slot->prepared_count);
    sp_error ignored;
    /* A statement that cannot be prepared runs unprepared and reports its error then. */
    if (sp_pg_prepare(slot->conn, name, sql, param_count, &ignored) != 0) {
        free(copy);
        return -1;
    }
    slot->prepared[slot->prepared_count] = (prepared_statement){.hash = hash, .sql = copy};
    return (int)slot->prepared_count++;
}

static int exec_on_slot(pool_slot *slot, const char *sql, int param_count,
                        const char *const *params, bool prepare, PGresult **out, sp_error *err) {
    int index = prepare ? prepared_index(slot, sql, param_count) : -1;
    if (index < 0) return sp_pg_exec(slot->conn, sql, param_count, params, out, err);
    char name[SP_GW_PG_PREPARED_NAME_MAX];
    snprintf(name, sizeof name, "sp_gw_%d", index);
    return sp_pg_exec_prepared(slot->conn, name, param_count, params, out, err);
}

static void give_back(sp_gw_pgpool *pool, pool_slot *slot) {
    pthread_mutex_lock(&pool->mutex);
    assert(slot->busy && pool->busy_count > 0);
    slot->busy = false;
    pool->busy_count--;
    pthread_cond_signal(&pool->freed);
    pthread_mutex_unlock(&pool->mutex);
}

int sp_gw_pgpool_acquire(sp_gw_pgpool *pool, int wait_ms, sp_gw_pg_lease *lease, sp_error *err) {
    assert(pool != NULL && wait_ms >= 0 && lease != NULL);
    lease->conn = NULL;
    struct timespec deadline = sp_gw_deadline_timespec(sp_gw_monotonic_ms() + wait_ms);
    pthread_mutex_lock(&pool->mutex);
    pool_slot *slot = free_slot(pool);
    while (slot == NULL) {
        if (pthread_cond_timedwait(&pool->freed, &pool->mutex, &deadline) != 0) {
            slot = free_slot(pool); /* a last look: the signal may race the timeout */
            break;
        }
        slot = free_slot(pool);
    }
    if (slot == NULL) {
        pthread_mutex_unlock(&pool->mutex);
        return sp_error_set(err, 503, "unavailable", "", "the database is busy: try again");
    }
    slot->busy = true;
    pool->busy_count++;
    uint64_t epoch = pool->epoch;
    pthread_mutex_unlock(&pool->mutex);
    /* The slot is ours now: its connection is changed outside the mutex. */
    if (slot->conn == NULL || PQstatus(slot->conn) != CONNECTION_OK || slot->epoch != epoch) {
        PQfinish(slot->conn);
        forget_prepared(slot);
        sp_error open_err;
        slot->epoch = epoch;
        slot->conn = open_connection(pool, SP_GW_PGPOOL_RECONNECT_WAIT_MS, &open_err);
        if (slot->conn == NULL) {
            give_back(pool, slot);
            sp_log_warn(pool->log, "database connection failed", "error", open_err.message, NULL);
            return sp_error_set(err, 503, "unavailable", "",
                                "the database is unavailable: try again");
        }
    }
    lease->conn = slot->conn;
    lease->slot = (size_t)(slot - pool->slots);
    return 0;
}

void sp_gw_pgpool_release(sp_gw_pgpool *pool, sp_gw_pg_lease *lease) {
    assert(pool != NULL && lease != NULL && lease->conn != NULL && lease->slot < pool->size);
    pool_slot *slot = &pool->slots[lease->slot];
    assert(slot->busy && slot->conn == lease->conn);
    /* A connection left broken or inside a transaction is not lent again. */
    if (PQstatus(slot->conn) != CONNECTION_OK || PQtransactionStatus(slot->conn) != PQTRANS_IDLE) {
        PQfinish(slot->conn);
        forget_prepared(slot);
        slot->conn = NULL;
    }
    lease->conn = NULL;
    give_back(pool, slot);
}

static void connection_lost(sp_gw_pgpool *pool) {
    pthread_mutex_lock(&pool->mutex);
    pool->epoch++;
    pthread_mutex_unlock(&pool->mutex);
}

/* One try; *lost tells whether the connection broke under it. */
static int query_once(sp_gw_pgpool *pool, const char *sql, int param_count,
                      const char *const *params, bool prepare, PGresult **out, bool *lost,
                      sp_error *err) {
    *lost = false;
    sp_gw_pg_lease lease;
    if (sp_gw_pgpool_acquire(pool, SP_GW_PGPOOL_ACQUIRE_WAIT_MS, &lease, err) != 0) return -1;
    int rc = exec_on_slot(&pool->slots[lease.slot], sql, param_count, params, prepare, out, err);
    *lost = rc != 0 && PQstatus(lease.conn) != CONNECTION_OK;
    sp_gw_pgpool_release(pool, &lease);
    if (*lost) connection_lost(pool);
    return rc;
}

static int query(sp_gw_pgpool *pool, const char *sql, int param_count, const char *const *params,
                 bool prepare, PGresult **out, sp_error *err) {
    assert(pool != NULL && sql != NULL);
    sp_error db_err;
    bool lost = false;
    int rc = query_once(pool, sql, param_count, params, prepare, out, &lost, &db_err);
    /* The gateway's statements only read: a statement cut by a lost
     * connection is run again once, on a fresh one. */
    if (rc != 0 && lost)
        rc = query_once(pool, sql, param_count, params, prepare, out, &lost, &db_err);
    if (rc == 0) return 0;
    if (db_err.http_status == 503) { /* no connection to be had: already worded */
        return sp_error_set(err, 503, "unavailable", "", "%s", db_err.message);
    }
    sp_log_warn(pool->log, "database query failed", "error", db_err.message, NULL);
    if (lost) {
        return sp_error_set(err, 503, "unavailable", "", "the database is unavailable: try again");
    }
    return sp_error_set(err, 500, "internal", "", "the request could not be completed");
}

int sp_gw_pgpool_query(sp_gw_pgpool *pool, const char *sql, int param_count,
                       const char *const *params, PGresult **out, sp_error *err) {
    return query(pool, sql, param_count, params, true, out, err);
}

int sp_gw_pgpool_query_replanned(sp_gw_pgpool *pool, const char *sql, int param_count,
                                 const char *const *params, PGresult **out, sp_error *err) {
    return query(pool, sql, param_count, params, false, out, err);
}

void sp_gw_pgpool_usage(sp_gw_pgpool *pool, size_t *size, size_t *busy) {
    assert(pool != NULL && size != NULL && busy != NULL);
    pthread_mutex_lock(&pool->mutex);
    *size = pool->size;
    *busy = pool->busy_count;
    pthread_mutex_unlock(&pool->mutex);
}
