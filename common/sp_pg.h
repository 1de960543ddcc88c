/* sp_pg.h - PostgreSQL access over libpq: connect with a bounded retry,
 * numbered migrations, and parameterized execution that turns every failure
 * into a sp_error carrying PostgreSQL's own message. */
#ifndef SP_PG_H
#define SP_PG_H

#include <libpq-fe.h>
#include "sp_error.h"
#include "sp_log.h"

/* Retries for up to wait_ms (the database may still be starting). The
 * server's notices go to log at debug level: log (may be NULL) is borrowed
 * and must outlive the connection. */
PGconn *sp_pg_connect(const char *dsn, int wait_ms, sp_log *log, sp_error *err);

/* Apply, in name order, every NNNN_name.sql file of dir not yet recorded in
 * table schema_migrations, each in its own transaction, under an advisory
 * lock so concurrent starters do not race. */
int sp_pg_migrate(PGconn *conn, const char *dir, sp_log *log, sp_error *err);

/* PQexecParams with text parameters. On success *out (may be NULL to discard)
 * holds a result the caller PQclear()s. Any status other than COMMAND_OK /
 * TUPLES_OK is an error (500 "database_error" with PostgreSQL's message). */
int sp_pg_exec(PGconn *conn, const char *sql, int param_count, const char *const *params,
               PGresult **out, sp_error *err);

/* Prepared statements: parsed and planned once per connection (PQprepare),
 * then run by name with text parameters; errors as for sp_pg_exec. */
int sp_pg_prepare(PGconn *conn, const char *name, const char *sql, int param_count, sp_error *err);
int sp_pg_exec_prepared(PGconn *conn, const char *name, int param_count, const char *const *params,
                        PGresult **out, sp_error *err);

/* A one-statement helper for BEGIN / COMMIT / ROLLBACK and DDL. */
int sp_pg_command(PGconn *conn, const char *sql, sp_error *err);

#endif
