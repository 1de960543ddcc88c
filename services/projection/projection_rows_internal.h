/* projection_rows_internal.h - what the projection's row builders share,
 * internal to them (projection_rows.c and projection_rows_*.c): not part of
 * the projection's interface (that is projection_rows.h) and not for use
 * outside services/projection.
 *
 * projection_rows.c defines the parameter writer, the field checks and the
 * dispatch; projection_rows_ledger.c the ledger accounts the postings are
 * checked against; each concern's file its statements' SQL and builders,
 * declared at the end for the dispatch's tables. Nothing here allocates:
 * parameters are written into the caller's buffer (row_writer).
 *
 * The names keep no module prefix: they are the builders' own vocabulary
 * (put_text, need_uuid...), external only to link these files together
 * inside libsp_projection_domain. */
#ifndef SP_PROJECTION_ROWS_INTERNAL_H
#define SP_PROJECTION_ROWS_INTERNAL_H

#include "projection_rows.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "ledger.pb-c.h"
#include "sp_envelope.h"
#include "sp_error.h"
#include "sp_kafka.h"

/* ------------------------------------------------------------ pure helpers */

/* Length of the UTF-8 sequence starting at s, 0 when it is not well formed. */
size_t utf8_sequence_length(const unsigned char *s);

/* ------------------------------------------------------------ parameter writer */

/* Writes a row's text parameters one after the other into buf; overflow
 * stays set once a parameter did not fit (the row is then refused). */
typedef struct row_writer {
    char *buf;
    size_t size;
    size_t used;
    size_t param_start;
    bool overflow;
    sp_projection_row *row;
} row_writer;

void writer_begin(row_writer *w);
void writer_append(row_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The hot appends, without printf: bytes as they are, an integer in decimal. */
void writer_add(row_writer *w, const char *bytes, size_t len);
void writer_add_int(row_writer *w, int64_t value);
void writer_end(row_writer *w);
void put_text(row_writer *w, const char *text);
void put_int(row_writer *w, int64_t value);
void put_null(row_writer *w);
void put_id_or_null(row_writer *w, const char *id); /* "" becomes SQL NULL */
void put_time(row_writer *w, int64_t utc_ms);
void put_bytes(row_writer *w, const uint8_t *data, size_t len); /* bytea, hex input format */

/* ------------------------------------------------------------ validation */

/* Each returns 0 when the field is valid, else sets err (422 invalid_event,
 * the field named) and returns -1. */
int invalid(sp_error *err, const char *field, const char *fmt, const char *value);
int need_uuid(const char *field, const char *value, sp_error *err);
int need_uuid_or_empty(const char *field, const char *value, sp_error *err);
int need_category(const char *field, const char *value, sp_error *err);
int need_text(const char *field, const char *value, bool empty_ok, size_t bytes_max, sp_error *err);
int need_cents(const char *field, int64_t cents, int64_t cents_min, sp_error *err);
int need_time(const char *field, int64_t utc_ms, sp_error *err);
int need_same_id(const char *field, const char *payload_id, const char *aggregate_id,
                 sp_error *err);
int need_partner_code(const char *field, const char *code, sp_error *err);
int need_date(const char *field, const char *value, sp_error *err);

/* ------------------------------------------------------------ events */

typedef struct build_ctx {
    const Solipass__Envelope *env;
    const sp_kafka_msg *msg;
    /* set by a builder whose event takes another statement than its type's
     * (a refused ReserveOperations); points into the caller's frame */
    const struct sp_projection_statement **statement_override;
} build_ctx;

int undecodable_payload(sp_error *err, const char *type);

#define UNPACK(fn, ctx) fn(NULL, (ctx)->env->payload.len, (ctx)->env->payload.data)

/* The index in sp_projection_statements of the statement a refused
 * ReserveOperations takes instead of its type's (put_reserve_refusal). */
#define STATEMENT_RESERVE_REJECTED 29

/* ------------------------------------------------------------ ledger accounts
 * (projection_rows_ledger.c) */

#define ACCOUNT_BYTES_MAX 96
#define DELTAS_MAX (2 * SP_PROJECTION_POSTINGS_MAX)

typedef struct ledger_delta {
    char account[ACCOUNT_BYTES_MAX];
    int64_t delta_cents;
} ledger_delta;

typedef struct ledger_deltas {
    ledger_delta items[DELTAS_MAX];
    size_t count;
} ledger_deltas;

/* The net effect of the postings on each account they name. */
int postings_net(Solipass__Ledger__Posting *const *postings, size_t count, ledger_deltas *net,
                 sp_error *err);
/* The postings must move exactly what the event says, nothing else. */
int postings_match(const ledger_deltas *net, const ledger_deltas *expected, sp_error *err);
/* The accounts ($n text[]) and their deltas ($n+1 bigint[]), in one order. */
void put_accounts(row_writer *w, const ledger_deltas *deltas);
void put_deltas(row_writer *w, const ledger_deltas *deltas);
/* Adds the two deltas of cents moved from one account to another. */
void expect_move(ledger_deltas *deltas, const char *from, const char *to, int64_t cents);
/* What every ledger event must satisfy: its pass is its aggregate. */
int need_ledger_event(const build_ctx *c, const char *pass_id, sp_error *err);

/* ------------------------------------------------------------ statements and builders
 *
 * Each event type's SQL (for sp_projection_statements) and builder (for the
 * table of event types), by the file that defines them. A builder checks
 * the event's payload and writes its statement's parameters in order; it
 * returns 0, or -1 with err set. */

/* projection_rows_accounts.c */
extern const char partner_created_sql[];
extern const char user_registered_sql[];
extern const char session_started_sql[];
extern const char session_ended_sql[];
extern const char convention_published_sql[];
extern const char convention_accepted_sql[];
extern const char partner_profile_updated_sql[];
extern const char partner_image_set_sql[];
extern const char user_role_changed_sql[];
extern const char user_removed_sql[];
extern const char password_set_sql[];
int build_partner_created(const build_ctx *c, row_writer *w, sp_error *err);
int build_user_registered(const build_ctx *c, row_writer *w, sp_error *err);
int build_session_started(const build_ctx *c, row_writer *w, sp_error *err);
int build_session_ended(const build_ctx *c, row_writer *w, sp_error *err);
int build_accounts_rejected(const build_ctx *c, row_writer *w, sp_error *err);
int build_activation_issued(const build_ctx *c, row_writer *w, sp_error *err);
int build_password_set(const build_ctx *c, row_writer *w, sp_error *err);
int build_partner_profile_updated(const build_ctx *c, row_writer *w, sp_error *err);
int build_partner_image_set(const build_ctx *c, row_writer *w, sp_error *err);
int build_user_role_changed(const build_ctx *c, row_writer *w, sp_error *err);
int build_user_removed(const build_ctx *c, row_writer *w, sp_error *err);
int build_convention_published(const build_ctx *c, row_writer *w, sp_error *err);
int build_convention_accepted(const build_ctx *c, row_writer *w, sp_error *err);

/* projection_rows_ledger.c */
extern const char pass_opened_sql[];
extern const char pass_credited_sql[];
extern const char payment_accepted_sql[];
extern const char envelope_expired_sql[];
extern const char ledger_rejected_sql[];
extern const char pass_closed_sql[];
int build_pass_opened(const build_ctx *c, row_writer *w, sp_error *err);
int build_pass_credited(const build_ctx *c, row_writer *w, sp_error *err);
int build_payment_accepted(const build_ctx *c, row_writer *w, sp_error *err);
int build_envelope_expired(const build_ctx *c, row_writer *w, sp_error *err);
int build_ledger_rejected(const build_ctx *c, row_writer *w, sp_error *err);
int build_pass_closed(const build_ctx *c, row_writer *w, sp_error *err);

/* projection_rows_vouchers.c */
extern const char voucher_issued_sql[];
extern const char voucher_redeemed_sql[];
extern const char voucher_released_sql[];
extern const char operation_cancelled_sql[];
extern const char operation_reference_set_sql[];
int build_voucher_issued(const build_ctx *c, row_writer *w, sp_error *err);
int build_voucher_redeemed(const build_ctx *c, row_writer *w, sp_error *err);
int build_voucher_released(const build_ctx *c, row_writer *w, sp_error *err);
int build_operation_cancelled(const build_ctx *c, row_writer *w, sp_error *err);
int build_operation_reference_set(const build_ctx *c, row_writer *w, sp_error *err);

/* projection_rows_refunds.c */
extern const char refund_request_opened_sql[];
extern const char refund_request_confirmed_sql[];
extern const char refund_request_cancelled_sql[];
extern const char refund_request_paid_sql[];
extern const char operations_reserved_sql[];
extern const char operations_released_sql[];
extern const char operations_settled_sql[];
extern const char reserve_rejected_sql[];
int build_refund_request_opened(const build_ctx *c, row_writer *w, sp_error *err);
int build_refund_request_confirmed(const build_ctx *c, row_writer *w, sp_error *err);
int build_refund_request_cancelled(const build_ctx *c, row_writer *w, sp_error *err);
int build_refund_request_paid(const build_ctx *c, row_writer *w, sp_error *err);
int build_operations_reserved(const build_ctx *c, row_writer *w, sp_error *err);
int build_operations_released(const build_ctx *c, row_writer *w, sp_error *err);
int build_operations_settled(const build_ctx *c, row_writer *w, sp_error *err);

#endif
