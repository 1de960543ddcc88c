/* sp_export_request.h - what a partner's export asks for, a contract between
 * the gateway (the HTTP body) and the exports service (the command, which is
 * input like any other, checked again): its kind, its filters (for
 * operations, the listing's own filters and checks, sp_operations_filter.h;
 * for refund requests, the request's Paris day, status and kind), the
 * filters' canonical JSON, the SQL conditions of the refund filters, and the
 * export id a client's Idempotency-Key stands for. Pure: no I/O.
 *
 * Memory: a sp_export_request is filled by value (fixed-size buffers);
 * sp_export_filters_json() returns a reference the caller json_decref()s. */
#ifndef SP_EXPORT_REQUEST_H
#define SP_EXPORT_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "sp_error.h"
#include "sp_id.h"
#include "sp_operations_filter.h"

typedef enum { SP_EXPORT_OPERATIONS = 1, SP_EXPORT_REFUND_REQUESTS = 2 } sp_export_kind;

#define SP_EXPORT_FILTERS_JSON_MAX 2048 /* canonical filters, bytes: far above the largest */

/* The refund requests' filters, each optional ("" = absent): from and to are
 * Paris days of the request's creation, both inclusive. */
typedef struct sp_export_refund_filter {
    char from[SP_OPERATIONS_FILTER_DATE_LEN + 1];
    char to[SP_OPERATIONS_FILTER_DATE_LEN + 1];
    char status[SP_OPERATIONS_FILTER_STATUS_MAX]; /* opening|pending|paid|cancelled */
    char kind[SP_OPERATIONS_FILTER_STATUS_MAX];   /* manual|automatic */
} sp_export_refund_filter;

typedef struct sp_export_request {
    sp_export_kind kind;
    sp_operations_filter operations; /* kind operations */
    sp_export_refund_filter refunds; /* kind refund_requests */
} sp_export_request;

/* "operations" | "refund_requests"; NULL for another value. */
const char *sp_export_kind_name(sp_export_kind kind);
/* false when text names no kind. */
bool sp_export_kind_parse(const char *text, sp_export_kind *out);

/* The filters of kind (NULL or null: none) into out: 422 invalid_filter
 * naming "filters.<name>". */
int sp_export_filters_parse(sp_export_kind kind, const json_t *filters, sp_export_request *out,
                            sp_error *err);
/* The filters that are set, canonical; NULL when out of memory. */
json_t *sp_export_filters_json(const sp_export_request *request);

/* The refund filters as SQL conditions over `refund_requests r` ($from,
 * $to, $status, $kind, each NULL when absent) and their parameters. */
#define SP_EXPORT_REFUND_FILTER_PARAMS 4
/* clang-format off */
#define SP_EXPORT_REFUND_FILTER_SQL(from, to, status, kind)                                   \
    " AND ($" from "::date IS NULL OR r.created_at >="                                       \
    " ($" from "::date)::timestamp AT TIME ZONE 'Europe/Paris')"                             \
    " AND ($" to "::date IS NULL OR r.created_at <"                                          \
    " ($" to "::date + 1)::timestamp AT TIME ZONE 'Europe/Paris')"                           \
    " AND ($" status "::text IS NULL OR r.status = $" status "::text)"                       \
    " AND ($" kind "::text IS NULL OR r.kind = $" kind "::text)"
/* clang-format on */
void sp_export_refund_filter_params(const sp_export_refund_filter *filter,
                                    const char *params[SP_EXPORT_REFUND_FILTER_PARAMS]);

/* The export a user's Idempotency-Key names: a uuid (v4-shaped) derived
 * from (user id, key), so that the same key asks for the same export. */
void sp_export_id_of(const char *user_id, const char *key, char out[SP_ID_LEN + 1]);

#endif
