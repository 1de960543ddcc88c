/* refunds.h - the pure half of the refunds service: what to send next for a
 * refund request, from what the read models show, and the monthly run's
 * selection. No I/O, no clock (times are passed in).
 *
 * The service decides nothing about money: every step it sends is decided
 * by the ledger's single writer of the aggregate it is keyed by (a pass or
 * the request). Every step has a deterministic command id, so sending it
 * again - after a restart, or because the read model did not move within
 * SP_REFUNDS_RESEND_MS - changes nothing twice.
 *
 * Memory: every struct is filled by value into caller-owned storage; the
 * strings it points to (sp_refunds_auto_op) are borrowed from the caller. */
#ifndef SP_REFUNDS_H
#define SP_REFUNDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sp_clock.h"
#include "sp_envelope.h"
#include "sp_id.h"

/* ------------------------------------------------------------ command ids */

#define SP_REFUNDS_COMMAND_ID_MAX (16 + SP_ID_LEN) /* "release-<uuid>" */

typedef enum {
    SP_REFUNDS_STEP_RESERVE, /* per pass: "reserve-<request_id>" */
    SP_REFUNDS_STEP_RELEASE, /* per pass: "release-<request_id>" */
    SP_REFUNDS_STEP_SETTLE,  /* per pass: "settle-<request_id>" */
    SP_REFUNDS_STEP_CONFIRM, /* the request: "confirm" */
    SP_REFUNDS_STEP_ABORT,   /* the request: "abort" */
    SP_REFUNDS_STEP_OPEN,    /* the request (monthly run): "auto-YYYY-MM" */
} sp_refunds_step;

/* The command id of a step; period is used by SP_REFUNDS_STEP_OPEN only.
 * out holds SP_REFUNDS_COMMAND_ID_MAX + 1 bytes. */
void sp_refunds_command_id(sp_refunds_step step, const char *request_id, sp_refund_period period,
                           char *out);

/* The automatic request of (partner, period): a UUID derived from
 * sp_key_of("refund-request", partner_id, "YYYY-MM"), so that every run,
 * restart or second instance names the same request, and the request
 * aggregate's single writer sees the second open as a replay. */
void sp_refunds_auto_request_id(const char *partner_id, sp_refund_period period, char *out);

/* ------------------------------------------------------------ the month's batch */

/* A partner with more accepted operations than one request holds
 * (SP_REFUND_REQUEST_OPERATIONS_MAX, one envelope) gets a batch of
 * automatic requests for the period: request k (k = 0, 1, ...) of
 * (partner, period). Request 0 is sp_refunds_auto_request_id (so existing
 * logs keep their meaning); request k >= 1 is a UUID derived from
 * sp_key_of("refund-request", partner_id, "YYYY-MM", "<k>" in decimal).
 * Every request of the batch is its own aggregate and is opened with the
 * command id "auto-YYYY-MM": a second sender is a replay at the ledger.
 * At most SP_REFUNDS_BATCH_REQUESTS_MAX requests per partner and period. */
#define SP_REFUNDS_BATCH_REQUESTS_MAX 1024

void sp_refunds_batch_request_id(const char *partner_id, sp_refund_period period, size_t index,
                                 char *out /* SP_ID_LEN + 1 */);

/* An automatic request of (partner, period) as the read model shows it. */
typedef struct sp_refunds_batch_row {
    const char *request_id;   /* borrowed */
    bool opening;             /* status 'opening' */
    bool cancelled;           /* status 'cancelled' (by the partner or aborted) */
    int64_t operations_asked; /* operations its parts asked for */
} sp_refunds_batch_row;

typedef enum {
    SP_REFUNDS_BATCH_OPEN, /* open request *index */
    SP_REFUNDS_BATCH_WAIT, /* a request of the batch is still opening */
    SP_REFUNDS_BATCH_DONE, /* nothing more this period */
} sp_refunds_batch_decision;

/* Which request of (partner, period) to open next, from the partner's
 * automatic requests of the period (any order). Request k is opened when
 * requests 0..k-1 exist, none is opening, none was cancelled (a partner who
 * cancels an automatic request keeps its operations until next month) and
 * request k-1 asked exactly SP_REFUND_REQUEST_OPERATIONS_MAX operations (it
 * was full, so operations may have been left out); request 0 when there is
 * none. Whether accepted operations remain is the caller's to check. On
 * SP_REFUNDS_BATCH_OPEN, *index and request_id (SP_ID_LEN + 1) name it. */
sp_refunds_batch_decision sp_refunds_decide_batch(const char *partner_id, sp_refund_period period,
                                                  const sp_refunds_batch_row *rows,
                                                  size_t row_count, size_t *index,
                                                  char *request_id);

/* ------------------------------------------------------------ opening requests */

/* An opening request's parts as the read model shows them. */
typedef struct sp_refunds_opening {
    int64_t part_count; /* refund_requests.part_count */
    int64_t parts_seen; /* rows of refund_request_parts */
    int64_t parts_reserved;
    int64_t parts_refused;
    int64_t reserved_cents; /* sum over the reserved parts */
    int64_t reserved_operations;
} sp_refunds_opening;

typedef enum {
    SP_REFUNDS_WAIT,    /* parts still asked */
    SP_REFUNDS_CONFIRM, /* every part reserved */
    SP_REFUNDS_ABORT,   /* a part was refused */
} sp_refunds_decision;

sp_refunds_decision sp_refunds_decide_opening(const sp_refunds_opening *opening);

/* ------------------------------------------------------------ resends */

/* When each step was last sent: a fixed-size cache (a collision forgets an
 * entry, which only means a resend sooner; resends are harmless). */
#define SP_REFUNDS_SENT_SLOTS 4096

typedef struct sp_refunds_sent_slot {
    uint8_t key[SP_KEY_LEN];
    int64_t sent_ms;
    bool used;
} sp_refunds_sent_slot;

typedef struct sp_refunds_sent {
    sp_refunds_sent_slot slots[SP_REFUNDS_SENT_SLOTS];
} sp_refunds_sent;

void sp_refunds_sent_init(sp_refunds_sent *sent);
/* Whether the step (request, aggregate) is to be sent at now_ms: never sent,
 * or last sent at least resend_ms ago. */
bool sp_refunds_sent_due(const sp_refunds_sent *sent, sp_refunds_step step, const char *request_id,
                         const char *aggregate_id, int64_t now_ms, int64_t resend_ms);
void sp_refunds_sent_mark(sp_refunds_sent *sent, sp_refunds_step step, const char *request_id,
                          const char *aggregate_id, int64_t now_ms);

/* ------------------------------------------------------------ the monthly run */

/* One accepted operation of a partner, as the monthly run reads them:
 * ordered by pass (then by time), ids borrowed. */
typedef struct sp_refunds_auto_op {
    const char *pass_id;
    const char *operation_id;
    int64_t amount_cents;
} sp_refunds_auto_op;

/* A request's parts: passes and the index range of their operations. */
#define SP_REFUNDS_PARTS_MAX SP_REFUND_REQUEST_OPERATIONS_MAX
typedef struct sp_refunds_part_range {
    size_t first; /* index into the operations */
    size_t count;
} sp_refunds_part_range;

typedef struct sp_refunds_grouping {
    sp_refunds_part_range parts[SP_REFUNDS_PARTS_MAX];
    size_t part_count;
    size_t operation_count; /* how many of the operations are in a part */
    int64_t total_cents;
} sp_refunds_grouping;

/* Groups ops (ordered by pass) into one part per pass, at most
 * SP_REFUND_REQUEST_OPERATIONS_MAX operations in all (so that the request
 * fits in one envelope): the operations left out go into the next request
 * of the batch (sp_refunds_decide_batch).
 * -1 with err when ops are not grouped by pass or an amount is not positive. */
int sp_refunds_group(const sp_refunds_auto_op *ops, size_t op_count, sp_refunds_grouping *out,
                     sp_error *err);

/* "YYYY-MM" (exactly, year 2000..2199, month 01..12) into out: 0, or -1 with
 * err naming field (the option that carried it). */
int sp_refunds_period_parse(const char *text, const char *field, sp_refund_period *out,
                            sp_error *err);

#endif
