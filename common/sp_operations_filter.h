/* sp_operations_filter.h - the filters of a partner's operations, a contract
 * between the gateway (the listing's query string, GET /partner/operations,
 * and the "filters" of an export asked for) and the exports service (the
 * same filters in the command, checked again: a command is input like any
 * other): each filter's checks, their JSON form both ways, and the SQL
 * conditions with their parameters. Pure: no I/O.
 *
 * Dates are Europe/Paris days, both inclusive; texts are valid UTF-8 of at
 * most SP_OPERATIONS_REFERENCE_LEN_MAX characters, no control character.
 * An absent filter is "" (texts) or has_* false (amounts).
 *
 * Memory: an sp_operations_filter is filled by value (fixed-size buffers);
 * sp_operations_filter_json() returns a reference the caller json_decref()s. */
#ifndef SP_OPERATIONS_FILTER_H
#define SP_OPERATIONS_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "sp_error.h"

#define SP_OPERATIONS_REFERENCE_LEN_MAX 100 /* characters of a partner's internal reference */
#define SP_OPERATIONS_FILTER_DATE_LEN 10    /* "YYYY-MM-DD" */
#define SP_OPERATIONS_FILTER_STATUS_MAX 16
#define SP_OPERATIONS_FILTERS_MAX 16 /* members of the JSON form */
/* A text filter of SP_OPERATIONS_REFERENCE_LEN_MAX characters (4 bytes
 * each at most) and its NUL. */
#define SP_OPERATIONS_FILTER_TEXT_BYTES (SP_OPERATIONS_REFERENCE_LEN_MAX * 4 + 1)

typedef enum {
    SP_OPERATIONS_FILTER_FROM,
    SP_OPERATIONS_FILTER_TO,
    SP_OPERATIONS_FILTER_STATUS,
    SP_OPERATIONS_FILTER_CHANNEL,
    SP_OPERATIONS_FILTER_AMOUNT_MIN,
    SP_OPERATIONS_FILTER_AMOUNT_MAX,
    SP_OPERATIONS_FILTER_REFERENCE,
    SP_OPERATIONS_FILTER_Q,
    SP_OPERATIONS_FILTER_COUNT /* none */
} sp_operations_filter_which;

typedef struct sp_operations_filter {
    char from[SP_OPERATIONS_FILTER_DATE_LEN + 1];
    char to[SP_OPERATIONS_FILTER_DATE_LEN + 1];
    char status[SP_OPERATIONS_FILTER_STATUS_MAX];  /* "", accepted, requested, paid, cancelled */
    char channel[SP_OPERATIONS_FILTER_STATUS_MAX]; /* "", code, voucher */
    bool has_amount_min;
    int64_t amount_cents_min;
    bool has_amount_max;
    int64_t amount_cents_max;
    bool has_reference; /* reference= may ask for "" */
    char reference[SP_OPERATIONS_FILTER_TEXT_BYTES];
    char q[SP_OPERATIONS_FILTER_TEXT_BYTES];
    /* q with '\', '%' and '_' escaped (backslash), ready for ILIKE ... ESCAPE '\' */
    char q_pattern[2 * SP_OPERATIONS_FILTER_TEXT_BYTES];
} sp_operations_filter;

/* The filter called name (name_len bytes, as in a query string or the JSON
 * form); SP_OPERATIONS_FILTER_COUNT when no filter has that name. */
sp_operations_filter_which sp_operations_filter_find(const char *name, size_t name_len);
/* "from", "amount_min_cents", ...: the name of which. */
const char *sp_operations_filter_name(sp_operations_filter_which which);

/* Sets one filter from its text (decoded, len bytes, no NUL inside). 400
 * invalid_value naming the filter. */
int sp_operations_filter_set(sp_operations_filter_which which, const char *text, size_t len,
                             sp_operations_filter *out, sp_error *err);
/* What no single value shows: from after to, amount_min_cents above
 * amount_max_cents. 400 invalid_value. */
int sp_operations_filter_cross_check(const sp_operations_filter *filter, sp_error *err);

/* A partner's internal reference: 0..SP_OPERATIONS_REFERENCE_LEN_MAX
 * characters of valid UTF-8 without control characters (byte_len bytes of
 * text). 400 invalid_value, field "reference". */
int sp_operations_reference_check(const char *text, size_t byte_len, sp_error *err);

/* The JSON form (an export's "filters"; NULL or null: none): members named
 * as the query parameters, amounts as JSON integers, the others as strings,
 * each checked by the very rules of the query form. Any fault is 422
 * invalid_filter with field "filters.<name>" (the query form's message). */
int sp_operations_filter_from_json(const json_t *filters, sp_operations_filter *out, sp_error *err);
/* The filters that are set, in the JSON form (canonical: what the exports
 * record and show); NULL when out of memory. */
json_t *sp_operations_filter_json(const sp_operations_filter *filter);

/* The filters as the parameters SP_OPERATIONS_FILTER_SQL takes: texts[]
 * hold the amounts, params[] point into filter and texts (NULL: no such
 * filter). */
#define SP_OPERATIONS_FILTER_PARAMS 8
#define SP_OPERATIONS_FILTER_AMOUNT_TEXT_MAX 24
void sp_operations_filter_params(const sp_operations_filter *filter,
                                 char texts[2][SP_OPERATIONS_FILTER_AMOUNT_TEXT_MAX],
                                 const char *params[SP_OPERATIONS_FILTER_PARAMS]);
/* clang-format off */
/* The WHERE conditions of the filters over `operations o`, each parameter
 * optional (NULL): Paris days from and to (inclusive), status, channel,
 * amount bounds, exact reference, and q as an ILIKE pattern whose wildcards
 * are escaped. The arguments are the parameter numbers, as strings. */
#define SP_OPERATIONS_FILTER_SQL(from, to, status, channel, min, max, ref, q)                 \
    " AND ($" from "::date IS NULL OR o.occurred_at >="                                      \
    " ($" from "::date)::timestamp AT TIME ZONE 'Europe/Paris')"                             \
    " AND ($" to "::date IS NULL OR o.occurred_at <"                                         \
    " ($" to "::date + 1)::timestamp AT TIME ZONE 'Europe/Paris')"                           \
    " AND ($" status "::text IS NULL OR o.status = $" status "::text)"                       \
    " AND ($" channel "::text IS NULL OR o.channel = $" channel "::text)"                    \
    " AND ($" min "::bigint IS NULL OR o.amount_cents >= $" min "::bigint)"                  \
    " AND ($" max "::bigint IS NULL OR o.amount_cents <= $" max "::bigint)"                  \
    " AND ($" ref "::text IS NULL OR o.reference = $" ref "::text)"                          \
    " AND ($" q "::text IS NULL OR o.reference ILIKE '%' || $" q "::text || '%' ESCAPE '\\')"
/* clang-format on */

#endif
