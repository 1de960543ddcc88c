/* projection_rows.h - the pure half of the projection service: one log
 * message in, one parameterized SQL statement out, or the precise reason why
 * the message is poison.
 *
 * No I/O here: decoding the envelope and its payload, validating every field
 * (ids, amounts, categories, dates, postings), and formatting the statement's
 * text parameters. The decision "poison or not" is taken here, before any SQL
 * is sent, so that a bad message never aborts a batch transaction.
 *
 * Every statement returns one row with one bigint column: 1 when the event
 * changed the read model, 0 when it was skipped (already applied, or for a
 * ledger event, not the pass's next aggregate version).
 *
 * Memory: sp_projection_row_build() writes every parameter string into the
 * caller's buffer; row->params point into it and row->sql, row->statement and
 * row->type point to static constants. Nothing is allocated that outlives
 * the call. */
#ifndef SP_PROJECTION_ROWS_H
#define SP_PROJECTION_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sp_envelope.h"
#include "sp_error.h"
#include "sp_id.h"
#include "sp_kafka.h"

#define SP_PROJECTION_PARAMS_MAX 17
/* Parameters are the payload's strings plus fixed-size numbers, arrays and
 * hex: twice the largest envelope bounds them with room to spare. */
#define SP_PROJECTION_ROW_BYTES_MAX (2 * SP_ENVELOPE_BYTES_MAX + 8192)
#define SP_PROJECTION_ENVELOPES_MAX 32    /* envelopes of one pass */
#define SP_PROJECTION_POSTINGS_MAX 8      /* postings of one event */
#define SP_PROJECTION_TEXT_BYTES_MAX 1024 /* names, e-mails, password hashes */
#define SP_PROJECTION_COMMAND_ID_BYTES_MAX 128

typedef enum {
    SP_PROJECTION_PARTNER_CREATED,
    SP_PROJECTION_USER_REGISTERED,
    SP_PROJECTION_SESSION_STARTED,
    SP_PROJECTION_SESSION_ENDED,
    SP_PROJECTION_ACCOUNTS_REJECTED, /* changes no read model */
    SP_PROJECTION_PASS_OPENED,
    SP_PROJECTION_PASS_CREDITED,
    SP_PROJECTION_PAYMENT_ACCEPTED,
    SP_PROJECTION_ENVELOPE_EXPIRED,
    SP_PROJECTION_LEDGER_REJECTED,
    SP_PROJECTION_ACTIVATION_ISSUED, /* changes no read model */
    SP_PROJECTION_PASSWORD_SET,
    SP_PROJECTION_VOUCHER_ISSUED,
    SP_PROJECTION_VOUCHER_REDEEMED,
    SP_PROJECTION_VOUCHER_RELEASED, /* VoucherCancelled and VoucherExpired */
    SP_PROJECTION_PARTNER_PROFILE_UPDATED,
    SP_PROJECTION_PARTNER_IMAGE_SET,
    SP_PROJECTION_USER_ROLE_CHANGED,
    SP_PROJECTION_USER_REMOVED,
    SP_PROJECTION_CONVENTION_PUBLISHED,
    SP_PROJECTION_CONVENTION_ACCEPTED,
    SP_PROJECTION_OPERATION_CANCELLED,
    SP_PROJECTION_OPERATION_REFERENCE_SET,
    SP_PROJECTION_REFUND_REQUEST_OPENED,
    SP_PROJECTION_REFUND_REQUEST_CONFIRMED,
    SP_PROJECTION_REFUND_REQUEST_CANCELLED,
    SP_PROJECTION_REFUND_REQUEST_PAID,
    SP_PROJECTION_OPERATIONS_RESERVED,
    SP_PROJECTION_OPERATIONS_RELEASED,
    SP_PROJECTION_OPERATIONS_SETTLED,
    SP_PROJECTION_PASS_CLOSED,
} sp_projection_event_kind;

/* Parameter positions (1-based, as in the SQL) shared by the three ledger
 * movements (PassCredited, PaymentAccepted, EnvelopeExpired):
 *   $1 pass_id  $2 aggregate_version  $3 occurred_at  $4 category
 *   $5 envelope balance after (0 for an expiry)  $6 pass balance after
 *   $7 operation_id  $8 amount (returned_cents for an expiry)  $9 command_id
 *   $10 source topic  $11 source partition  $12 source offset
 *   $13 ledger accounts (text[])  $14 their net deltas in cents (bigint[])
 *   $15 partner_id (NULL except for a payment) $16 receipt (NULL except for a
 *   signed payment, sp_receipt.h)
 * The others:
 *   PartnerCreated   $1 partner_id $2 partner_code $3 name $4 category $5 created_at
 *   UserRegistered   $1 user_id $2 email $3 password_hash $4 full_name $5 role
 *                    $6 partner_id|NULL $7 pass_id|NULL $8 created_at
 *   SessionStarted   $1 token_hash (bytea hex) $2 user_id $3 expires_at
 *   SessionEnded     $1 token_hash $2 user_id $3 ended_at
 *   PasswordSet      $1 user_id $2 password_hash
 *   PartnerProfileUpdated  $1 partner_id $2 aggregate_version $3 legal_name
 *                    $4 public_name $5 description $6 website $7 social_links (text[])
 *                    $8 hq_address $9 activity_address $10 contact_phone
 *                    $11 contact_email $12 iban $13 bic $14 bank_holder
 *   PartnerImageSet  $1 partner_id $2 aggregate_version $3 slot $4 sha256 $5 content_type
 *   UserRoleChanged  $1 user_id $2 role $3 partner_id
 *   UserRemoved      $1 user_id $2 partner_id $3 removed_at (also ends its sessions)
 *   ConventionPublished  $1 convention_id $2 title $3 version $4 text
 *                    $5 effective_date $6 mandatory $7 published_by $8 published_at
 *   ConventionAccepted   $1 partner_id $2 convention_id $3 version $4 accepted_by
 *                    $5 accepted_at
 *   PassOpened       $1 pass_id $2 beneficiary_id $3 opened_at
 *                    $4 categories (text[]) $5 end dates (date[], NULL = none)
 *   ledger CommandRejected  $1 pass_id $2 aggregate_version $3 occurred_at
 *   voucher events   $1 pass_id $2 aggregate_version $3 occurred_at $4 voucher_id
 *                    $5 category $6 envelope balance after (redeemed: amount)
 *                    $7 pass balance after $8 ledger accounts (text[]) $9 net deltas
 *     VoucherIssued    $10 amount $11 number $12 valid_until $13 partner_id|NULL
 *     VoucherRedeemed  $10 operation_id $11 partner_id $12 command_id $13 source topic
 *                      $14 source partition $15 source offset
 *     VoucherCancelled/Expired  $10 new status $11 returned to the envelope (boolean)
 *   OperationCancelled  $1 pass_id $2 aggregate_version $3 occurred_at $4 operation_id
 *                    $5 category $6 envelope balance after $7 pass balance after
 *                    $8 ledger accounts (text[]) $9 net deltas $10 partner_id $11 amount
 *                    $12 returned to the envelope (boolean)
 *   OperationReferenceSet  $1 pass_id $2 aggregate_version $3 occurred_at
 *                    $4 operation_id $5 partner_id $6 reference ("" = none)
 *   ledger CommandRejected of a ReserveOperations (request_id set): also
 *                    $4 request_id $5 code $6 message $7 operation_id|NULL
 *   RefundRequestOpened  $1 request_id $2 partner_id $3 kind $4 period
 *                    $5 expected_total_cents $6 part count $7 bank_account_missing
 *                    $8 requested_by (the actor, NULL for the system) $9 created_at
 *                    $10 parts as JSON [{"pass_id", "operation_ids": [...]}]
 *   RefundRequestConfirmed  $1 request_id $2 aggregate_version $3 occurred_at
 *                    $4 total_cents $5 operation_count
 *   RefundRequestCancelled  $1..$3 as above $4 reason $5 code $6 message
 *                    $7 operation_id|NULL
 *   RefundRequestPaid  $1..$3 as above $4 transfer_reference $5 paid_on
 *   OperationsReserved/Released/Settled  $1 pass_id $2 aggregate_version
 *                    $3 occurred_at $4 request_id $5 partner_id $6 operation_ids
 *                    (uuid[]) $7 amount_cents $8 ledger accounts $9 net deltas
 *   PassClosed       $1 pass_id $2 aggregate_version $3 occurred_at $4 ledger accounts
 *                    $5 net deltas $6 cancelled voucher ids (uuid[])
 * Instants are ISO 8601 UTC with milliseconds, from the envelope's
 * occurred_at_ms (never the wall clock: a rebuild yields the same rows). */
#define SP_PROJECTION_MOVEMENT_PARAM_COUNT 16
/* PassCredited: the movement's, then $17 the envelope's end date after the
 * credit (NULL = none given: an event written before credits carried one
 * keeps the row's). */
#define SP_PROJECTION_CREDIT_PARAM_COUNT (SP_PROJECTION_MOVEMENT_PARAM_COUNT + 1)

typedef struct sp_projection_row {
    sp_projection_event_kind kind;
    const char *type;      /* the envelope type, a static string */
    bool versioned;        /* a ledger event: 0 rows means "not the next version" */
    const char *sql;       /* NULL when the event changes no read model */
    const char *statement; /* the name sql is prepared under (see below) */
    int param_count;
    const char *params[SP_PROJECTION_PARAMS_MAX]; /* NULL = SQL NULL */
    /* The envelope's, for the history (projection_figures.h): its id, when,
     * and who asked ("" for the system, or an actor that is not a user id). */
    char event_id[SP_ID_LEN + 1];
    int64_t occurred_at_ms;
    char actor_id[SP_ID_LEN + 1];
    char actor_role[SP_ENVELOPE_ROLE_MAX + 1];
} sp_projection_row;

/* What planning a batch needs of a message without building its row (a
 * replay plans millions): the event's kind and its aggregate, from the
 * envelope alone, its payload not decoded. 0 when the envelope decodes, its
 * type belongs on the topic and its aggregate is an id; -1 otherwise. A
 * ledger event that passes here and fails sp_projection_row_build is poison
 * that its apply dead-letters; the build also checks the payload's pass is
 * this aggregate. */
int sp_projection_row_peek(const sp_kafka_msg *msg, sp_projection_event_kind *kind,
                           char aggregate_id[SP_ID_LEN + 1]);

/* Decode and validate msg (topic, partition, offset and value are used) and
 * fill row, its parameters written into buf. Returns 0, or -1 when the
 * message is poison: err->code is a stable reason ("undecodable",
 * "unknown_type", "invalid_event", "wrong_topic", "too_large") and
 * err->message says which field and why. */
int sp_projection_row_build(const sp_kafka_msg *msg, char *buf, size_t buf_size,
                            sp_projection_row *row, sp_error *err);

/* ------------------------------------------------------------ fixed SQL */

/* Every statement a row or the offsets use, to prepare once per connection
 * (parsed and planned once, not once per event). */
typedef struct sp_projection_statement {
    const char *name;
    const char *sql;
    int param_count;
} sp_projection_statement;
extern const sp_projection_statement sp_projection_statements[];
extern const size_t sp_projection_statement_count;
#define SP_PROJECTION_OFFSET_UPSERT_STATEMENT "sp_offset_upsert"

/* $1 topic, $2 partition, $3 next offset: the consumer is 'projection'. */
extern const char *const sp_projection_offset_upsert_sql;
/* Stored offsets of the consumer: rows (topic, partition, next_offset). */
extern const char *const sp_projection_offsets_select_sql;
/* One statement emptying every read model (schema_migrations untouched). */
extern const char *const sp_projection_truncate_sql;
extern const char *const sp_projection_offsets_delete_sql;

/* The read-model tables. */
typedef struct sp_projection_table {
    const char *name;
} sp_projection_table;
extern const sp_projection_table sp_projection_tables[];
extern const size_t sp_projection_table_count;

/* The checksum query of one table (one row, one text column: an md5 of its
 * row count and of the sums of its rows' 64-bit hashes under two seeds
 * (hash_record_extended, PostgreSQL 14 or later): the same rows give the
 * same checksum whatever their order or storage), in schema (a quoted
 * identifier) or, NULL, the search path's. out must hold
 * SP_PROJECTION_SQL_BYTES_MAX bytes. */
#define SP_PROJECTION_SQL_BYTES_MAX 512
void sp_projection_checksum_sql(const sp_projection_table *table, const char *schema, char *out,
                                size_t out_size);

/* ------------------------------------------------------------ pure helpers */

/* value in decimal, as printf's %lld writes it, into out (NUL-terminated);
 * returns its length. Without printf: a replay formats millions. */
#define SP_PROJECTION_INT_TEXT_MAX 21
size_t sp_projection_int_text(int64_t value, char out[SP_PROJECTION_INT_TEXT_MAX]);

/* "YYYY-MM-DDTHH:MM:SS.mmmZ"; out must hold SP_PROJECTION_TIME_LEN + 1.
 * Only for instants validated by sp_projection_time_valid(). */
#define SP_PROJECTION_TIME_LEN 24
bool sp_projection_time_valid(int64_t utc_ms); /* 2000-01-01 <= t < 2200-01-01 */
void sp_projection_time_format(int64_t utc_ms, char *out);

/* Strict UTF-8 (no overlong forms, no surrogates) without control
 * characters (C0, DEL), at most bytes_max bytes. */
bool sp_projection_text_valid(const char *s, size_t bytes_max);

/* ^[a-z][a-z0-9_]{1,31}$ */
bool sp_projection_category_valid(const char *s);

#endif
