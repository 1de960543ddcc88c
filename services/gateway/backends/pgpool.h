/* pgpool.h - a fixed pool of PostgreSQL connections for the HTTP workers.
 * A borrower waits a bounded time for a free connection; a connection found
 * broken (server restarted, network cut) is closed on return and opened
 * again by the next borrower. Every statement is parameterized.
 * Ownership: the pool owns its connections; a lease goes back with
 * sp_gw_pgpool_release() and its connection is never closed by the borrower. Results of
 * sp_gw_pgpool_query() are the caller's to PQclear(). */
#ifndef SP_GW_PGPOOL_H
#define SP_GW_PGPOOL_H

#include <stddef.h>
#include <libpq-fe.h>
#include "gateway.h"
#include "sp_error.h"
#include "sp_log.h"

#define SP_GW_PGPOOL_SIZE_MAX 256
#define SP_GW_PGPOOL_ACQUIRE_WAIT_MS 2000
#define SP_GW_PG_STATEMENT_TIMEOUT_MS 5000

/* Opens `size` connections, waiting up to connect_wait_ms for the server. */
sp_gw_pgpool *sp_gw_pgpool_new(const char *dsn, size_t size, int connect_wait_ms, sp_log *log,
                               sp_error *err);
void sp_gw_pgpool_free(sp_gw_pgpool *pool);

/* A borrowed connection and where it goes back. */
typedef struct sp_gw_pg_lease {
    PGconn *conn;
    size_t slot;
} sp_gw_pg_lease;

/* 503 "unavailable" when no connection is free within wait_ms or the
 * database cannot be reached. */
int sp_gw_pgpool_acquire(sp_gw_pgpool *pool, int wait_ms, sp_gw_pg_lease *lease, sp_error *err);
void sp_gw_pgpool_release(sp_gw_pgpool *pool, sp_gw_pg_lease *lease);

/* Borrow, run one parameterized read-only statement, give back. A
 * statement cut by a lost connection is run once more on a fresh one; still
 * failing, it is 503 "unavailable". Any other database failure is logged
 * with PostgreSQL's message and is 500 "internal" without it. */
int sp_gw_pgpool_query(sp_gw_pgpool *pool, const char *sql, int param_count,
                       const char *const *params, PGresult **out, sp_error *err);

/* The same, planned for its values at each call (never prepared): for a
 * statement whose optional filters ("$1::text IS NULL OR ...") decide which
 * index serves it, where a prepared statement's generic plan would scan the
 * table (measured: 170 ms instead of 1 ms over 20,000 beneficiaries). */
int sp_gw_pgpool_query_replanned(sp_gw_pgpool *pool, const char *sql, int param_count,
                                 const char *const *params, PGresult **out, sp_error *err);

/* Connections in the pool and how many are lent out now. */
void sp_gw_pgpool_usage(sp_gw_pgpool *pool, size_t *size, size_t *busy);

#endif
