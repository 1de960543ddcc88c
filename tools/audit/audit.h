/* audit.h - the pure checks of solipass-audit over the ledger events.
 *
 * The caller decodes each event of solipass.ledger.events.v1 (envelope and
 * payload) into a sp_audit_event and feeds them in log order per partition;
 * the auditor keeps per-account running balances, per-aggregate versions
 * (passes and refund requests), each operation's life (a payment: accepted,
 * then cancelled, or requested by a refund request, then paid or back to
 * accepted) and each refund request's reserved operations, and records for
 * each check the first offending event. Event types are told apart by their
 * envelope type. No I/O.
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

#define SP_AUDIT_ACCOUNT_MAX 96 /* account name bytes, NUL included */
#define SP_AUDIT_ID_MAX 72      /* pass / operation id bytes, NUL included */
#define SP_AUDIT_WHY_MAX 320    /* a failure's whole description */

/* A payment operation's state at the end of the log. */
typedef enum {
    SP_AUDIT_OP_ACCEPTED = 1,
    SP_AUDIT_OP_REQUESTED,
    SP_AUDIT_OP_PAID,
    SP_AUDIT_OP_CANCELLED,
} sp_audit_op_state;

/* A refund request's state at the end of the log. */
typedef enum {
    SP_AUDIT_REQUEST_OPENING = 1,
    SP_AUDIT_REQUEST_PENDING,
    SP_AUDIT_REQUEST_PAID,
    SP_AUDIT_REQUEST_CANCELLED,
} sp_audit_request_state;

typedef struct sp_audit_posting {
    const char *debit_account;
    const char *credit_account;
    int64_t amount_cents;
} sp_audit_posting;

typedef struct sp_audit_event {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *type;         /* envelope type */
    const char *aggregate_id; /* the pass id */
    uint64_t aggregate_version;
    const char *operation_id; /* "" or NULL when the event creates no operation */
    const sp_audit_posting *postings;
    size_t posting_count;
    /* The refund life (NULL / 0 for other events):
     *  OperationCancelled: operation_ids = the cancelled operation;
     *  OperationsReserved/Released/Settled: request_id, operation_ids (those
     *    that changed), amount_cents (the event's sum);
     *  RefundRequestConfirmed: amount_cents = total_cents, operation_count;
     *  RefundRequestPaid: amount_cents = total_cents;
     *  RefundRequestOpened/Cancelled: nothing more (aggregate_id is the request). */
    const char *request_id;
    const char *const *operation_ids;
    size_t operation_id_count;
    int64_t amount_cents;
    int64_t operation_count;
} sp_audit_event;

typedef enum {
    SP_AUDIT_POSTINGS = 0, /* every posting positive, between two distinct known accounts */
    /* pass, partner owed, voucher, refund and bank accounts never below zero */
    SP_AUDIT_NON_NEGATIVE,
    SP_AUDIT_ZERO_SUM,         /* the balances sum to zero after every event and at the end */
    SP_AUDIT_VERSIONS,         /* the events of a pass have versions 1, 2, 3 ... */
    SP_AUDIT_OPERATIONS,       /* an operation id is created by at most one event */
    SP_AUDIT_OPERATION_STATES, /* every payment in one state, moved only as its life allows */
    SP_AUDIT_REFUND_TOTALS,    /* a request's and each part's total equal to their operations */
    SP_AUDIT_CHECK_COUNT
} sp_audit_check;

typedef struct sp_audit_verdict {
    bool failed;
    char why[SP_AUDIT_WHY_MAX]; /* the first offending event and the reason */
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

/* Visits every payment operation (by code or voucher) with its state. */
typedef void (*sp_audit_operation_fn)(void *ctx, const char *operation_id, sp_audit_op_state state);
void sp_audit_foreach_operation(const sp_audit *audit, sp_audit_operation_fn fn, void *ctx);

/* Visits every refund request with its state and confirmed total (0 while
 * opening). */
typedef void (*sp_audit_request_fn)(void *ctx, const char *request_id, sp_audit_request_state state,
                                    int64_t total_cents);
void sp_audit_foreach_request(const sp_audit *audit, sp_audit_request_fn fn, void *ctx);

/* "accepted", "requested", "paid", "cancelled": the read model's words. */
const char *sp_audit_op_state_name(sp_audit_op_state state);

#endif
