/* backoffice_lists.h - the pure part of the back-office's lists of the read
 * models (routes_backoffice_lists.c): the query strings of
 * GET /api/v1/beneficiaries and GET /api/v1/partners checked into structs,
 * and their keyset cursors. No I/O.
 *
 * Both lists are ordered by a name then an id. A cursor is the operations'
 * cursor (sp_gw_cursor_encode: a number and an id) holding the list's tag
 * and the last row's id; the route reads that row's name back in the read
 * model, so a cursor stays short and a name never travels in a URL. A
 * cursor of another list (or of the operations) is refused.
 *
 * Memory: the structs are filled by value (fixed-size buffers) into storage
 * the caller owns; nothing is allocated. */
#ifndef SP_GW_BACKOFFICE_LISTS_H
#define SP_GW_BACKOFFICE_LISTS_H

#include <stdbool.h>
#include "sp_error.h"
#include "sp_id.h"
#include "sp_operations_filter.h"
#include "validate.h"

#define SP_GW_BENEFICIARIES_LIMIT_DEFAULT 50
#define SP_GW_BENEFICIARIES_LIMIT_MAX 100
#define SP_GW_PARTNERS_LIMIT_DEFAULT 200
#define SP_GW_PARTNERS_LIMIT_MAX 500
#define SP_GW_LIST_PARAMS_MAX 8 /* query parameters of one list request */
#define SP_GW_LIST_STATE_MAX 24 /* "bank_details_missing" and its NUL */

/* The list a cursor belongs to: its tag inside the cursor. */
typedef enum {
    SP_GW_LIST_BENEFICIARIES = 1,
    SP_GW_LIST_PARTNERS = 2,
} sp_gw_list;

/* The page asked: limit and, after a cursor, the last row's id. */
typedef struct sp_gw_list_page {
    int limit;
    bool has_cursor;
    char after_id[SP_ID_LEN + 1];
} sp_gw_list_page;

/* A text searched (q): as typed, and as an ILIKE pattern with '\', '%'
 * and '_' escaped (the operations' q: same length and character rules). */
typedef struct sp_gw_list_search {
    char q[SP_OPERATIONS_FILTER_TEXT_BYTES]; /* "" when absent */
    char q_pattern[2 * SP_OPERATIONS_FILTER_TEXT_BYTES];
} sp_gw_list_search;

/* GET /api/v1/beneficiaries?q=&status=open|closed|all&category=&limit=&cursor= */
typedef struct sp_gw_beneficiaries_query {
    sp_gw_list_search search;
    char status[8];                            /* "open", "closed", "" = all */
    char category[SP_GW_CATEGORY_LEN_MAX + 1]; /* "" when absent */
    sp_gw_list_page page;
} sp_gw_beneficiaries_query;

/* GET /api/v1/partners?q=&state=&limit=&cursor= */
typedef struct sp_gw_partners_query {
    sp_gw_list_search search;
    /* "", not_activated, convention_pending, bank_details_missing, owed */
    char state[SP_GW_LIST_STATE_MAX];
    sp_gw_list_page page;
} sp_gw_partners_query;

/* Raw (undecoded) query strings, may be NULL. 400 invalid_value naming the
 * parameter (a bad value, a parameter given twice, a cursor of another
 * list), 400 unknown_field naming another parameter; 422
 * invalid_category for a category that cannot be one. */
int sp_gw_beneficiaries_query_parse(const char *query, sp_gw_beneficiaries_query *out,
                                    sp_error *err);
int sp_gw_partners_query_parse(const char *query, sp_gw_partners_query *out, sp_error *err);

/* The cursor of the page after the row id of list; out holds
 * SP_GW_CURSOR_LEN_MAX + 1 bytes. */
void sp_gw_list_cursor_encode(sp_gw_list list, const char *id, char *out);

#endif
