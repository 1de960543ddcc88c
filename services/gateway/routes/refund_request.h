/* refund_request.h - the pure checks of the refund-request endpoints: the
 * selection a partner administrator sends (ids, or "all" with the
 * operations listing's filters), the listing's query string, and a bank
 * transfer's reference. No I/O.
 *
 * Memory: every struct is filled by value into caller-owned storage (the
 * selection is large: allocate it). Nothing is allocated that outlives a call. */
#ifndef SP_GW_REFUND_REQUEST_H
#define SP_GW_REFUND_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include "sp_envelope.h"
#include "sp_error.h"
#include "sp_id.h"
#include "validate.h"

#define SP_GW_TRANSFER_REFERENCE_CHARS_MAX 35
#define SP_GW_REFUND_STATUS_MAX 16
/* "{id,id,...}" of a whole selection, NUL included */
#define SP_GW_REFUND_IDS_ARRAY_BYTES (SP_REFUND_REQUEST_OPERATIONS_MAX * (SP_ID_LEN + 1) + 3)

/* POST /partner/refund-requests: {"operation_ids": [...]} (1 to
 * SP_REFUND_REQUEST_OPERATIONS_MAX ids, each once) or {"all": true} with
 * the listing's filters (from, to, channel, amount_min_cents,
 * amount_max_cents, reference, q: same checks, same error fields). */
typedef struct sp_gw_refund_selection {
    bool all;
    sp_gw_operations_filter filter; /* all */
    size_t id_count;                /* ids */
    char ids[SP_REFUND_REQUEST_OPERATIONS_MAX][SP_ID_LEN + 1];
} sp_gw_refund_selection;

/* 400 malformed_json | unknown_field | missing_field (neither or both of
 * operation_ids and all) | invalid_type | invalid_value; 422
 * empty_selection | selection_too_large. */
int sp_gw_refund_selection_parse(const char *body, size_t len, sp_gw_refund_selection *out,
                                 sp_error *err);
/* The ids as a PostgreSQL array literal into out (SP_GW_REFUND_IDS_ARRAY_BYTES). */
void sp_gw_refund_ids_array(const sp_gw_refund_selection *selection, char *out);

/* GET .../refund-requests: status (opening | pending | paid | cancelled),
 * partner_id (finance only), limit and cursor. 400 invalid_value naming the
 * parameter, unknown_field for another one. */
typedef struct sp_gw_refunds_filter {
    char status[SP_GW_REFUND_STATUS_MAX]; /* "" = any */
    char partner_id[SP_ID_LEN + 1];       /* "" = every partner */
    sp_gw_page page;
} sp_gw_refunds_filter;

int sp_gw_refunds_filter_parse(const char *query, bool finance, sp_gw_refunds_filter *out,
                               sp_error *err);

/* A SEPA remittance reference: 1 to 35 of A-Z a-z 0-9 / - ? : ( ) . , ' +
 * and space; 422 invalid_transfer_reference. */
int sp_gw_transfer_reference_check(const char *text, sp_error *err);

#endif
