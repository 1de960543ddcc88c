/* audit.h - the pure checks of solipass-audit over the ledger events.
 *
 * The caller decodes each event of solipass.ledger.events.v1 (envelope and
 * payload) into a sp_audit_event and feeds them in log order per partition;
 * the auditor keeps per-account running balances, per-pass versions and the
 * operation ids seen, and records for each check the first offending event.
 * No I/O.
 *
 * Memory: sp_audit_new() returns an auditor the caller frees with
 * sp_audit_free(). Events and their strings are borrowed for the duration
 * of sp_audit_feed() only: the auditor copies what it keeps. */
#ifndef SP_AUDIT_H
#define SP_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sp_error.h"

#define SP_AUDIT_ACCOUNT_MAX 96        /* account name bytes, NUL included */
#define SP_AUDIT_ID_MAX 72             /* pass / operation id bytes, NUL included */
#define SP_AUDIT_WHY_MAX 320           /* a failure's whole description */

typedef struct sp_audit_posting {
    const char *debit_account;
    const char *credit_account;
    int64_t amount_cents;
} sp_audit_posting;

typedef struct sp_audit_event {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *type;                  /* envelope type */
    const char *aggregate_id;          /* the pass id */
    uint64_t aggregate_version;
    const char *operation_id;          /* "" or NULL when the event creates no operation */
    const sp_audit_posting *postings;
    size_t posting_count;
} sp_audit_event;

typedef enum {
    SP_AUDIT_POSTINGS = 0,   /* every posting positive, between two distinct known accounts */
    SP_AUDIT_NON_NEGATIVE,   /* pass, partner owed, voucher, refund and bank accounts never below zero */
    SP_AUDIT_ZERO_SUM,       /* the balances sum to zero after every event and at the end */
    SP_AUDIT_VERSIONS,       /* the events of a pass have versions 1, 2, 3 ... */
    SP_AUDIT_OPERATIONS,     /* an operation id is created by at most one event */
    SP_AUDIT_CHECK_COUNT
} sp_audit_check;

typedef struct sp_audit_verdict {
    bool failed;
    char why[SP_AUDIT_WHY_MAX];        /* the first offending event and the reason */
} sp_audit_verdict;

typedef struct sp_audit sp_audit;

/* The bounds name how many accounts, passes and operations the auditor keeps. */
sp_audit *sp_audit_new(size_t accounts_max, size_t passes_max, size_t operations_max,
                       sp_error *err);
void sp_audit_free(sp_audit *audit);

/* Applies one event. A duplicate (a version the pass already has) is counted
 * and otherwise ignored, as the services ignore it. -1 only when a bound is
 * exceeded or a balance overflows int64 (then the audit cannot go on). */
int sp_audit_feed(sp_audit *audit, const sp_audit_event *event, sp_error *err);

/* Runs the end-of-log checks (final zero sum). Call once after the last feed. */
void sp_audit_finish(sp_audit *audit);

const sp_audit_verdict *sp_audit_verdict_of(const sp_audit *audit, sp_audit_check check);
const char *sp_audit_check_name(sp_audit_check check);
bool sp_audit_all_ok(const sp_audit *audit);

size_t sp_audit_event_count(const sp_audit *audit);
size_t sp_audit_duplicate_count(const sp_audit *audit);
size_t sp_audit_account_count(const sp_audit *audit);
size_t sp_audit_pass_count(const sp_audit *audit);

/* The computed balance of an account (0 when it never moved). */
int64_t sp_audit_balance(const sp_audit *audit, const char *account);

/* Visits every account that moved (in no particular order). */
typedef void (*sp_audit_account_fn)(void *ctx, const char *account, int64_t balance_cents);
void sp_audit_foreach_account(const sp_audit *audit, sp_audit_account_fn fn, void *ctx);

#endif
