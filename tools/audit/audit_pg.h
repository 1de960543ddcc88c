/* audit_pg.h - solipass-audit's comparison of the read models (PostgreSQL)
 * with the balances the audit computed from the log.
 *
 * Memory: nothing returned is owned by the caller; the connection is opened
 * and closed inside. */
#ifndef SP_AUDIT_PG_H
#define SP_AUDIT_PG_H

#include "audit.h"
#include "sp_error.h"
#include "sp_log.h"

/* Prints one "ok <check>" / "FAIL <check>: ..." line per read model on stdout.
 * 0 = every read model matches, 1 = one differs, -1 = error (err filled). */
int sp_audit_pg_compare(const sp_audit *audit, const char *dsn, sp_log *log, sp_error *err);

#endif
