/* export_rows.h - the columns of the two exports, in French, and one row of
 * each written with the CSV dialect of csv.h: a header row, then one row per
 * operation or refund request, and nothing else (no totals among the data).
 * Pure: the service reads the rows from PostgreSQL into these structs.
 *
 * Memory: the row structs borrow their strings from the caller. */
#ifndef SP_EXPORT_ROWS_H
#define SP_EXPORT_ROWS_H

#include <stdbool.h>
#include <stdint.h>
#include "csv.h"
#include "sp_error.h"

#define SP_EXPORT_PASS_REF_LEN 4 /* what a partner sees of a pass: its id's end */

/* One payment at the partner (the operations read model). */
typedef struct sp_export_operation_row {
    int64_t occurred_at_ms;
    const char *reference; /* "" when none */
    const char *channel;   /* "code" | "voucher" */
    int64_t amount_cents;
    const char *status; /* accepted | cancelled | requested | paid */
    const char *pass_id;
    const char *category;
    const char *operation_id;
    const char *refund_request_id; /* "" when none */
} sp_export_operation_row;

/* One refund request of the partner (refund_requests). */
typedef struct sp_export_refund_row {
    int64_t created_at_ms;
    const char *request_id;
    const char *kind;     /* manual | automatic */
    const char *period;   /* "YYYY-MM" of an automatic request, else "" */
    const char *status;   /* opening | pending | paid | cancelled */
    int64_t amount_cents; /* the total (expected while opening) */
    int64_t operation_count;
    bool paid;
    int64_t paid_at_ms; /* when paid */
    const char *transfer_reference;
    const char *cancel_reason; /* "" | partner | aborted */
    const char *cancel_message;
} sp_export_refund_row;

int sp_export_operations_header(sp_csv *csv, sp_error *err);
int sp_export_operation_write(sp_csv *csv, const sp_export_operation_row *row, sp_error *err);
int sp_export_refunds_header(sp_csv *csv, sp_error *err);
int sp_export_refund_write(sp_csv *csv, const sp_export_refund_row *row, sp_error *err);

/* French labels of the stored values; the value itself when it has none. */
const char *sp_export_channel_label(const char *channel);
const char *sp_export_operation_status_label(const char *status);
const char *sp_export_refund_status_label(const char *status);
const char *sp_export_refund_kind_label(const char *kind);

#endif
