/* finance_map.h - the pure half of the finance service: which ledger events
 * finance staff see, as a solipass.finance.FinanceEvent (proto/finance.proto),
 * and that event's JSON rendering (the twin topic solipass.finance.json.v1).
 *
 * A confirmed refund request's kind, period and bank_account_missing are
 * only in its RefundRequestOpened event: sp_finance_requests remembers them
 * for every request seen (the facts never change), and the mapping of a
 * RefundRequestConfirmed looks them up there.
 *
 * No I/O, no clock. Memory: sp_finance_requests owns its entries and frees
 * them in sp_finance_requests_destroy(). A sp_finance_event owns the decoded
 * ledger payload its strings point into; sp_finance_event_clear() frees it.
 * sp_finance_json() returns a malloc'd string the caller free()s. */
#ifndef SP_FINANCE_MAP_H
#define SP_FINANCE_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "envelope.pb-c.h"
#include "finance.pb-c.h"
#include "sp_error.h"
#include "sp_id.h"
#include "sp_map.h"

#define SP_FINANCE_ENVELOPE_TYPE "finance.FinanceEvent.v1"
#define SP_FINANCE_KIND_MAX 16    /* "manual" | "automatic" */
#define SP_FINANCE_PERIOD_LEN 7   /* "YYYY-MM" */
#define SP_FINANCE_INSTANT_LEN 24 /* "2026-11-27T10:00:00.123Z" */
#define SP_FINANCE_TRANSFER_REFERENCE_MAX 35

/* ------------------------------------------------------------------ requests */

typedef struct sp_finance_request_info {
    char kind[SP_FINANCE_KIND_MAX];
    char period[SP_FINANCE_PERIOD_LEN + 1];
    bool bank_account_missing;
} sp_finance_request_info;

typedef struct sp_finance_requests {
    sp_map map; /* sp_key_of(request_id) -> sp_finance_request_info */
} sp_finance_requests;

int sp_finance_requests_init(sp_finance_requests *requests, size_t requests_max, sp_error *err);
void sp_finance_requests_destroy(sp_finance_requests *requests);
/* Records what a ledger.RefundRequestOpened.v1 envelope says (other types:
 * nothing, 0). 422 "invalid_event" when its payload does not decode or
 * breaks the schema; 507 "limit_reached" past requests_max. */
int sp_finance_requests_note(sp_finance_requests *requests, const Solipass__Envelope *env,
                             sp_error *err);
/* NULL when the request's opening was never seen. */
const sp_finance_request_info *sp_finance_requests_get(const sp_finance_requests *requests,
                                                       const char *request_id);

/* ------------------------------------------------------------------ mapping */

typedef struct sp_finance_event {
    Solipass__Finance__FinanceEvent event;
    Solipass__Finance__PaymentAccepted payment_accepted;
    Solipass__Finance__OperationCancelled operation_cancelled;
    Solipass__Finance__RefundRequestPending refund_request_pending;
    Solipass__Finance__RefundRequestCancelled refund_request_cancelled;
    Solipass__Finance__RefundRequestPaid refund_request_paid;
    ProtobufCMessage *source;        /* the decoded ledger payload (owned) */
    sp_finance_request_info request; /* pending: copied from the registry */
} sp_finance_event;

/* Maps one ledger event envelope. *mapped is false (and out untouched but
 * cleared) for a type finance staff do not see. -1 with 422 "invalid_event"
 * when a type they see does not decode or breaks the schema (a partner id
 * that is not a uuid, an amount out of range, ...), and 409
 * "request_unknown" for a confirmation whose opening was never seen. */
int sp_finance_map(const Solipass__Envelope *env, const sp_finance_requests *requests,
                   sp_finance_event *out, bool *mapped, sp_error *err);
void sp_finance_event_clear(sp_finance_event *event);

/* The JSON rendering of one finance event (docs/events.md): compact, keys
 * in a fixed order, amounts as integers of cents plus "amount_eur" text
 * ("12.34"), occurred_at as ISO 8601 UTC with milliseconds. NULL when out of
 * memory. */
char *sp_finance_json(const Solipass__Finance__FinanceEvent *event);

/* "2026-11-27T10:00:00.123Z" into out (SP_FINANCE_INSTANT_LEN + 1). */
void sp_finance_instant(int64_t utc_ms, char out[SP_FINANCE_INSTANT_LEN + 1]);

#endif
