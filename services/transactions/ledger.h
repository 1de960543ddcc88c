/* ledger.h - the pure domain of the transactions service: the state of one
 * ledger partition (passes and their envelopes, partner "owed" accounts, the
 * partition's share of the budget, the outcome of every command), the one
 * function that moves money (sp_ledger_post), the rules that turn a command
 * into an event (sp_ledger_decide, sp_ledger_sweep_expiries) and the one
 * function that applies an event, live or during a rebuild (sp_ledger_apply).
 * No I/O: the Kafka edge lives in service.c.
 *
 * Memory: a sp_ledger_state owns its passes (and their remembered
 * payments), partner accounts and command records (freed by
 * sp_ledger_state_free). A state borrows the partner
 * directory, which must outlive it. Pointers to passes and records returned by
 * the getters stay valid until the state is freed (entries are never removed).
 * Commands borrow their strings from the caller; events and decisions are
 * plain values with fixed-size buffers. */
#ifndef SP_LEDGER_H
#define SP_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sp_clock.h"
#include "sp_error.h"
#include "sp_id.h"
#include "sp_map.h"
#include "sp_receipt.h"
#include "sp_voucher_number.h"

#define SP_LEDGER_ENVELOPES_MAX 8
#define SP_LEDGER_CATEGORY_LEN_MIN 2 /* ^[a-z][a-z0-9_]{1,31}$ */
#define SP_LEDGER_CATEGORY_LEN_MAX 32
#define SP_LEDGER_DATE_LEN 10       /* "YYYY-MM-DD" */
#define SP_LEDGER_COMMAND_ID_MAX 96 /* as the envelope allows */
#define SP_LEDGER_COMMAND_TYPE_MAX 40
#define SP_LEDGER_ACCOUNT_MAX 80       /* "pass:<uuid>:<category>" is at most 74 */
#define SP_LEDGER_POSTINGS_MAX 8       /* per call of sp_ledger_post */
#define SP_LEDGER_PARTNER_NAME_MAX 512 /* bytes, a partner name longer than this is refused */
#define SP_LEDGER_GENERAL_CATEGORY "general"
#define SP_LEDGER_BUDGET_ACCOUNT "budget"

#define SP_LEDGER_TYPE_OPEN_PASS "ledger.OpenPass.v1"
#define SP_LEDGER_TYPE_CREDIT_PASS "ledger.CreditPass.v1"
#define SP_LEDGER_TYPE_PAY "ledger.Pay.v1"
#define SP_LEDGER_TYPE_PASS_OPENED "ledger.PassOpened.v1"
#define SP_LEDGER_TYPE_PASS_CREDITED "ledger.PassCredited.v1"
#define SP_LEDGER_TYPE_PAYMENT_ACCEPTED "ledger.PaymentAccepted.v1"
#define SP_LEDGER_TYPE_ENVELOPE_EXPIRED "ledger.EnvelopeExpired.v1"
#define SP_LEDGER_TYPE_COMMAND_REJECTED "ledger.CommandRejected.v1"
#define SP_LEDGER_TYPE_ISSUE_VOUCHER "ledger.IssueVoucher.v1"
#define SP_LEDGER_TYPE_REDEEM_VOUCHER "ledger.RedeemVoucher.v1"
#define SP_LEDGER_TYPE_CANCEL_VOUCHER "ledger.CancelVoucher.v1"
#define SP_LEDGER_TYPE_VOUCHER_ISSUED "ledger.VoucherIssued.v1"
#define SP_LEDGER_TYPE_VOUCHER_REDEEMED "ledger.VoucherRedeemed.v1"
#define SP_LEDGER_TYPE_VOUCHER_CANCELLED "ledger.VoucherCancelled.v1"
#define SP_LEDGER_TYPE_VOUCHER_EXPIRED "ledger.VoucherExpired.v1"
#define SP_LEDGER_TYPE_CANCEL_OPERATION "ledger.CancelOperation.v1"
#define SP_LEDGER_TYPE_SET_OPERATION_REFERENCE "ledger.SetOperationReference.v1"
#define SP_LEDGER_TYPE_OPERATION_CANCELLED "ledger.OperationCancelled.v1"
#define SP_LEDGER_TYPE_OPERATION_REFERENCE_SET "ledger.OperationReferenceSet.v1"
/* Refund requests: the request's own commands and events (aggregate: the
 * request id), and the per-pass steps (aggregate: the pass id). */
#define SP_LEDGER_TYPE_OPEN_REFUND_REQUEST "ledger.OpenRefundRequest.v1"
#define SP_LEDGER_TYPE_CONFIRM_REFUND_REQUEST "ledger.ConfirmRefundRequest.v1"
#define SP_LEDGER_TYPE_ABORT_REFUND_REQUEST "ledger.AbortRefundRequest.v1"
#define SP_LEDGER_TYPE_CANCEL_REFUND_REQUEST "ledger.CancelRefundRequest.v1"
#define SP_LEDGER_TYPE_MARK_REFUND_REQUEST_PAID "ledger.MarkRefundRequestPaid.v1"
#define SP_LEDGER_TYPE_RESERVE_OPERATIONS "ledger.ReserveOperations.v1"
#define SP_LEDGER_TYPE_RELEASE_OPERATIONS "ledger.ReleaseOperations.v1"
#define SP_LEDGER_TYPE_SETTLE_OPERATIONS "ledger.SettleOperations.v1"
#define SP_LEDGER_TYPE_REFUND_REQUEST_OPENED "ledger.RefundRequestOpened.v1"
#define SP_LEDGER_TYPE_REFUND_REQUEST_CONFIRMED "ledger.RefundRequestConfirmed.v1"
#define SP_LEDGER_TYPE_REFUND_REQUEST_CANCELLED "ledger.RefundRequestCancelled.v1"
#define SP_LEDGER_TYPE_REFUND_REQUEST_PAID "ledger.RefundRequestPaid.v1"
#define SP_LEDGER_TYPE_OPERATIONS_RESERVED "ledger.OperationsReserved.v1"
#define SP_LEDGER_TYPE_OPERATIONS_RELEASED "ledger.OperationsReleased.v1"
#define SP_LEDGER_TYPE_OPERATIONS_SETTLED "ledger.OperationsSettled.v1"
#define SP_LEDGER_TYPE_CLOSE_PASS "ledger.ClosePass.v1"
#define SP_LEDGER_TYPE_PASS_CLOSED "ledger.PassClosed.v1"

/* Closing a pass: the reason kept in its event, and the vouchers one close
 * can cancel (each is one posting of PassClosed; a pass holding more
 * active vouchers is refused 409 too_many_vouchers). */
#define SP_LEDGER_CLOSE_REASON_CHARS_MAX 200
#define SP_LEDGER_CLOSE_REASON_MAX 800 /* bytes: 200 characters of UTF-8 */
#define SP_LEDGER_CLOSE_VOUCHERS_MAX 120
#define SP_LEDGER_CLOSE_POSTINGS_MAX (SP_LEDGER_ENVELOPES_MAX + SP_LEDGER_CLOSE_VOUCHERS_MAX)

#define SP_LEDGER_REFERENCE_MAX 400 /* bytes: 100 characters of UTF-8 */
#define SP_LEDGER_REFERENCE_CHARS_MAX 100
/* payments a pass remembers; the oldest is forgotten first and can no
 * longer change */
#define SP_LEDGER_PASS_OPERATIONS_MAX 1024

#define SP_LEDGER_REFUND_PARTS_MAX 10000          /* passes in one refund request */
#define SP_LEDGER_REFUND_PART_OPERATIONS_MAX 1024 /* operations of one pass in one request */
#define SP_LEDGER_REFUND_KIND_MAX 9               /* "manual" | "automatic" */
#define SP_LEDGER_REFUND_PERIOD_LEN 7             /* "YYYY-MM" */
#define SP_LEDGER_REFUND_REASON_MAX 7             /* "partner" | "aborted" */
#define SP_LEDGER_TRANSFER_REFERENCE_MAX 35       /* a SEPA remittance reference */
#define SP_LEDGER_BANK_ACCOUNT "bank"

/* ------------------------------------------------------------ the directory */

/* Partners known from solipass.accounts.events.v1, by partner code. One per
 * process, shared (read-only while deciding) by every partition state. */
typedef struct sp_ledger_partner {
    char partner_id[SP_ID_LEN + 1];
    char partner_code[SP_PARTNER_CODE_LEN + 1];
    char category[SP_LEDGER_CATEGORY_LEN_MAX + 1];
    char *name; /* owned, NUL-terminated */
} sp_ledger_partner;

/* A convention the city published (accounts.ConventionPublished.v1). A
 * mandatory one in force (effective date reached, Europe/Paris) must be
 * accepted by a partner before it can be paid. */
#define SP_LEDGER_CONVENTIONS_MAX 256
#define SP_LEDGER_CONVENTION_TITLE_MAX 800 /* bytes: 200 characters of UTF-8 */
#define SP_LEDGER_CONVENTION_VERSION_MAX 32
#define SP_LEDGER_ACCEPTANCES_MAX (1u << 20) /* (partner, convention) pairs */

typedef struct sp_ledger_convention {
    char convention_id[SP_ID_LEN + 1];
    char title[SP_LEDGER_CONVENTION_TITLE_MAX + 1];
    char version[SP_LEDGER_CONVENTION_VERSION_MAX + 1];
    sp_date effective_date;
    bool mandatory;
} sp_ledger_convention;

typedef struct sp_ledger_directory {
    sp_map by_code;                    /* sp_key_of(code) -> sp_ledger_partner * */
    sp_ledger_convention *conventions; /* owned, SP_LEDGER_CONVENTIONS_MAX slots */
    size_t convention_count;           /* in publication order */
    sp_map acceptances;                /* sp_key_of(partner, convention) -> its
                                        * convention (borrowed) */
} sp_ledger_directory;

int sp_ledger_directory_init(sp_ledger_directory *dir, size_t partners_max, sp_error *err);
void sp_ledger_directory_destroy(sp_ledger_directory *dir);
/* Adds a partner (validated: uuid, 8-digit Luhn code, category, name length).
 * A code already known keeps its first partner (events are replayed). */
int sp_ledger_directory_add(sp_ledger_directory *dir, const char *partner_id,
                            const char *partner_code, const char *name, const char *category,
                            sp_error *err);
const sp_ledger_partner *sp_ledger_directory_find(const sp_ledger_directory *dir,
                                                  const char *partner_code);
/* Adds a published convention (validated: uuid, title 1..800 bytes,
 * version 1..32 bytes, "YYYY-MM-DD"). An id already known keeps its first
 * publication (events are replayed); SP_LEDGER_CONVENTIONS_MAX: 503. */
int sp_ledger_directory_add_convention(sp_ledger_directory *dir, const char *convention_id,
                                       const char *title, const char *version,
                                       const char *effective_date, bool mandatory, sp_error *err);
/* Records that a partner accepted a convention (both must be known: 404
 * otherwise). Accepting twice changes nothing. */
int sp_ledger_directory_accept(sp_ledger_directory *dir, const char *partner_id,
                               const char *convention_id, sp_error *err);
/* The first mandatory convention in force on the Paris date of now_ms that
 * the partner has not accepted, NULL when it may be paid. */
const sp_ledger_convention *sp_ledger_convention_missing(const sp_ledger_directory *dir,
                                                         const char *partner_id, int64_t now_ms);
/* The rule of payments and redemptions: 422 convention_not_accepted naming
 * that convention, or 0. */
int sp_ledger_convention_check(const sp_ledger_directory *dir, const char *partner_id,
                               int64_t now_ms, sp_error *err);

/* ------------------------------------------------------------ the state */

typedef struct sp_ledger_limits {
    size_t passes_max;          /* SP_PASSES_MAX */
    size_t commands_max;        /* SP_COMMANDS_MAX: command outcomes kept */
    size_t partners_max;        /* partner owed accounts */
    int64_t payment_cents_max;  /* SP_PAYMENT_MAX_CENTS */
    int64_t credit_cents_max;   /* SP_CREDIT_MAX_CENTS */
    size_t vouchers_max;        /* SP_VOUCHERS_MAX: vouchers kept, whatever their status;
                                 * 0: none can be issued */
    int voucher_validity_days;  /* SP_VOUCHER_VALIDITY_DAYS: days after the day of issue */
    size_t refund_requests_max; /* SP_REFUND_REQUESTS_MAX: refund requests decided here, and
                                 * "refund:<id>" accounts held here; 0: none */
} sp_ledger_limits;

typedef struct sp_ledger_envelope {
    char category[SP_LEDGER_CATEGORY_LEN_MAX + 1];
    int64_t balance_cents;
    bool has_end_date;
    sp_date end_date; /* last day (Europe/Paris, inclusive) it can be used */
    bool closed;      /* expired: its remainder went back to the budget */
} sp_ledger_envelope;

struct sp_ledger_record;

/* A payment as the ledger remembers it, so that its partner can cancel it
 * or have it refunded: accepted -> cancelled (final); accepted ->
 * requested(request_id) -> paid (final); requested -> accepted when its
 * request is cancelled or aborted (ReleaseOperations). */
typedef enum sp_ledger_operation_status {
    SP_LEDGER_OPERATION_ACCEPTED = 1,
    SP_LEDGER_OPERATION_CANCELLED,
    SP_LEDGER_OPERATION_REQUESTED,
    SP_LEDGER_OPERATION_PAID,
} sp_ledger_operation_status;

typedef struct sp_ledger_operation {
    char operation_id[SP_ID_LEN + 1];
    char partner_id[SP_ID_LEN + 1];
    char category[SP_LEDGER_CATEGORY_LEN_MAX + 1]; /* the envelope it came from */
    char voucher_id[SP_ID_LEN + 1];                /* "" = paid with the partner's code */
    int64_t amount_cents;
    sp_ledger_operation_status status;
    char request_id[SP_ID_LEN + 1]; /* requested, paid: the refund request */
} sp_ledger_operation;

typedef struct sp_ledger_pass {
    char pass_id[SP_ID_LEN + 1];
    char beneficiary_id[SP_ID_LEN + 1];
    uint64_t version; /* of its last applied event */
    size_t envelope_count;
    sp_ledger_envelope envelopes[SP_LEDGER_ENVELOPES_MAX];
    uint8_t open_request_hash[SP_KEY_LEN];
    const struct sp_ledger_record *open_record; /* the OpenPass outcome (owned by the state) */
    /* owned, oldest first, at most SP_LEDGER_PASS_OPERATIONS_MAX */
    sp_ledger_operation *operations;
    size_t operation_count;
    size_t operation_capacity;
    size_t active_voucher_count; /* its vouchers still active (what a close cancels) */
    bool closed;                 /* PassClosed applied: final */
    int64_t closed_at_ms;
} sp_ledger_pass;

/* An exchange voucher. Its life: active -> redeemed | cancelled | expired;
 * the last three never change again. While active, its account
 * "voucher:<voucher_id>" holds amount_cents, reserved from its envelope. */
typedef enum sp_ledger_voucher_status {
    SP_LEDGER_VOUCHER_ACTIVE = 1,
    SP_LEDGER_VOUCHER_REDEEMED,
    SP_LEDGER_VOUCHER_CANCELLED,
    SP_LEDGER_VOUCHER_EXPIRED,
} sp_ledger_voucher_status;

typedef struct sp_ledger_voucher {
    char voucher_id[SP_ID_LEN + 1];
    char pass_id[SP_ID_LEN + 1];
    char number[SP_VOUCHER_NUMBER_LEN + 1];
    char category[SP_LEDGER_CATEGORY_LEN_MAX + 1]; /* the envelope it was reserved from */
    char partner_id[SP_ID_LEN + 1];                /* the only partner allowed; "" = any */
    int64_t amount_cents;
    int64_t balance_cents; /* amount_cents while active, then 0 */
    sp_date valid_until;   /* last day (Europe/Paris) it can be redeemed */
    sp_ledger_voucher_status status;
} sp_ledger_voucher;

/* "active", "redeemed", "cancelled", "expired". */
const char *sp_ledger_voucher_status_name(sp_ledger_voucher_status status);

/* A partner's refund request: an aggregate of its own (its id is the
 * aggregate id of its commands and events). It moves no money: the passes
 * it covers reserve, release and settle their operations. Its life:
 * opening -> pending -> paid | cancelled (reason "partner");
 * opening -> cancelled (reason "aborted"). */
typedef enum sp_ledger_refund_status {
    SP_LEDGER_REFUND_OPENING = 1,
    SP_LEDGER_REFUND_PENDING,
    SP_LEDGER_REFUND_PAID,
    SP_LEDGER_REFUND_CANCELLED,
} sp_ledger_refund_status;

typedef struct sp_ledger_refund_request {
    char request_id[SP_ID_LEN + 1];
    char partner_id[SP_ID_LEN + 1];
    char kind[SP_LEDGER_REFUND_KIND_MAX + 1];     /* "manual" | "automatic" */
    char period[SP_LEDGER_REFUND_PERIOD_LEN + 1]; /* automatic: "YYYY-MM"; manual: "" */
    uint64_t version;                             /* of its last applied event */
    sp_ledger_refund_status status;
    size_t part_count;             /* passes asked */
    int64_t asked_operation_count; /* operations asked, over all parts */
    int64_t expected_total_cents;  /* what the asker saw */
    bool bank_account_missing;
    int64_t total_cents;                          /* pending, paid: confirmed total */
    int64_t operation_count;                      /* pending, paid: confirmed count */
    char reason[SP_LEDGER_REFUND_REASON_MAX + 1]; /* cancelled: "partner" | "aborted" */
    char transfer_reference[SP_LEDGER_TRANSFER_REFERENCE_MAX + 1]; /* paid */
    char paid_on[SP_LEDGER_DATE_LEN + 1];                          /* paid */
    int64_t opened_at_ms;
    int64_t updated_at_ms; /* of its last change of status */
} sp_ledger_refund_request;

/* "opening", "pending", "paid", "cancelled". */
const char *sp_ledger_refund_status_name(sp_ledger_refund_status status);

/* The outcome of one command, kept for ever so that the same command id gets
 * the same answer, byte for byte. */
typedef struct sp_ledger_record {
    uint8_t request_hash[SP_KEY_LEN];
    bool ok;
    int http_status;
    char *result_json; /* owned; ok only ("" otherwise) */
    char *code;        /* owned; !ok only ("" otherwise) */
    char *message;
    char *field;
    bool has_event_ref; /* where its event landed on the ledger events topic */
    int32_t event_partition;
    int64_t event_offset;
} sp_ledger_record;

typedef struct sp_ledger_state {
    int32_t partition;
    sp_ledger_limits limits;
    const sp_ledger_directory *directory; /* borrowed */
    sp_map passes;                        /* sp_key_of(pass_id) -> sp_ledger_pass * */
    sp_map owed;                          /* sp_key_of("partner", partner_id) -> sp_ledger_owed * */
    sp_map records;         /* sp_key_of(pass_id, actor_id, command_id) -> sp_ledger_record * */
    sp_map vouchers;        /* sp_key_of("voucher", voucher_id) -> sp_ledger_voucher * */
    sp_map refund_requests; /* sp_key_of("refund_request", id) -> sp_ledger_refund_request * */
    sp_map refund_accounts; /* sp_key_of("refund", request_id) -> its balance (int64_t *):
                             * what this partition's passes reserved for the request */
    int64_t budget_cents;   /* this partition's share: minus what it handed out */
    int64_t bank_cents;     /* refunds paid out (settled): never below zero */
    uint64_t events_applied;
    uint64_t events_skipped;
} sp_ledger_state;

sp_ledger_state *sp_ledger_state_new(int32_t partition, const sp_ledger_limits *limits,
                                     const sp_ledger_directory *directory, sp_error *err);
void sp_ledger_state_free(sp_ledger_state *state);

const sp_ledger_pass *sp_ledger_pass_find(const sp_ledger_state *state, const char *pass_id);
/* The payment of this pass the ledger still remembers, or NULL. */
const sp_ledger_operation *sp_ledger_operation_find(const sp_ledger_pass *pass,
                                                    const char *operation_id);
/* "accepted", "cancelled". */
const char *sp_ledger_operation_status_name(sp_ledger_operation_status status);
/* The pass's total (sum of its envelopes). */
int64_t sp_ledger_pass_balance_cents(const sp_ledger_pass *pass);
/* 0 when the partner has no account yet. */
int64_t sp_ledger_partner_owed_cents(const sp_ledger_state *state, const char *partner_id);
/* NULL when unknown. */
const sp_ledger_voucher *sp_ledger_voucher_find(const sp_ledger_state *state,
                                                const char *voucher_id);
/* NULL when unknown. */
const sp_ledger_refund_request *sp_ledger_refund_request_find(const sp_ledger_state *state,
                                                              const char *request_id);
/* The balance of "refund:<request_id>" here: 0 when it has none. */
int64_t sp_ledger_refund_account_cents(const sp_ledger_state *state, const char *request_id);
/* Budget + every envelope, partner, voucher and refund account + the bank:
 * 0 when the ledger is sound. */
int64_t sp_ledger_balance_sum_cents(const sp_ledger_state *state);
const sp_ledger_record *sp_ledger_record_find(const sp_ledger_state *state, const char *pass_id,
                                              const char *actor_id, const char *command_id);
/* Visits every pass (order unspecified). */
typedef void (*sp_ledger_pass_visit_fn)(void *ctx, const sp_ledger_pass *pass);
void sp_ledger_foreach_pass(const sp_ledger_state *state, sp_ledger_pass_visit_fn visit, void *ctx);

/* ------------------------------------------------------------ postings */

typedef struct sp_ledger_posting {
    char debit_account[SP_LEDGER_ACCOUNT_MAX + 1];  /* the money leaves it */
    char credit_account[SP_LEDGER_ACCOUNT_MAX + 1]; /* the money arrives */
    int64_t amount_cents;
} sp_ledger_posting;

/* The one place a balance changes. Checks every posting (amount in
 * 1..SP_MONEY_BALANCE_ABS_CENTS_MAX, debit != credit, both accounts of a known
 * form and existing - a partner's owed account is opened on its first
 * credit), computes every new balance with checked arithmetic, refuses when a
 * non-budget account would go below zero or any balance past
 * SP_MONEY_BALANCE_ABS_CENTS_MAX, and only then applies all of them. On -1
 * nothing changed. count: 1..SP_LEDGER_POSTINGS_MAX. */
int sp_ledger_post(sp_ledger_state *state, const sp_ledger_posting *postings, size_t count,
                   sp_error *err);
/* The same checks, changing nothing: would sp_ledger_post accept them? */
int sp_ledger_post_check(const sp_ledger_state *state, const sp_ledger_posting *postings,
                         size_t count, sp_error *err);

/* ------------------------------------------------------------ events */

typedef enum sp_ledger_event_kind {
    SP_LEDGER_EVENT_PASS_OPENED = 1,
    SP_LEDGER_EVENT_PASS_CREDITED,
    SP_LEDGER_EVENT_PAYMENT_ACCEPTED,
    SP_LEDGER_EVENT_ENVELOPE_EXPIRED,
    SP_LEDGER_EVENT_COMMAND_REJECTED,
    SP_LEDGER_EVENT_VOUCHER_ISSUED,
    SP_LEDGER_EVENT_VOUCHER_REDEEMED,
    SP_LEDGER_EVENT_VOUCHER_CANCELLED,
    SP_LEDGER_EVENT_VOUCHER_EXPIRED,
    SP_LEDGER_EVENT_OPERATION_CANCELLED,
    SP_LEDGER_EVENT_OPERATION_REFERENCE_SET,
    SP_LEDGER_EVENT_REFUND_REQUEST_OPENED, /* aggregate: the request */
    SP_LEDGER_EVENT_REFUND_REQUEST_CONFIRMED,
    SP_LEDGER_EVENT_REFUND_REQUEST_CANCELLED,
    SP_LEDGER_EVENT_REFUND_REQUEST_PAID,
    SP_LEDGER_EVENT_OPERATIONS_RESERVED, /* aggregate: the pass */
    SP_LEDGER_EVENT_OPERATIONS_RELEASED,
    SP_LEDGER_EVENT_OPERATIONS_SETTLED,
    SP_LEDGER_EVENT_PASS_CLOSED,
} sp_ledger_event_kind;

/* One pass of a refund request and the operations asked of it (borrowed). */
typedef struct sp_ledger_refund_part {
    const char *pass_id;
    const char *const *operation_ids;
    size_t operation_id_count;
} sp_ledger_refund_part;

typedef struct sp_ledger_envelope_spec {
    char category[SP_LEDGER_CATEGORY_LEN_MAX + 1];
    char end_date[SP_LEDGER_DATE_LEN + 1]; /* "" = none */
} sp_ledger_envelope_spec;

/* An actor role as the envelope carries it (SP_ENVELOPE_ROLE_MAX). */
#define SP_LEDGER_ACTOR_ROLE_MAX 32

/* One ledger event with the envelope fields that matter to the ledger. Only
 * the fields of its kind are meaningful; the rest are zero. A plain value,
 * except RefundRequestOpened's parts: borrowed from the command it was
 * decided from (to be produced while that command lives), NULL once
 * decoded from the log (the ledger keeps only their counts). */
typedef struct sp_ledger_event {
    sp_ledger_event_kind kind;
    /* envelope */
    char pass_id[SP_ID_LEN + 1]; /* aggregate id: the pass, or the refund
                                  * request for its own events (and their
                                  * CommandRejected) */
    uint64_t version;            /* aggregate version */
    int64_t occurred_at_ms;
    char command_id[SP_LEDGER_COMMAND_ID_MAX + 1];
    char actor_id[SP_ID_LEN + 1];                  /* "" = system */
    char actor_role[SP_LEDGER_ACTOR_ROLE_MAX + 1]; /* the command's, "" = system: the
                                                    * history shows it */
    /* payload */
    char operation_id[SP_ID_LEN + 1];   /* credited, payment, expired, redeemed,
                                         * operation events */
    char beneficiary_id[SP_ID_LEN + 1]; /* opened, payment, issued, redeemed */
    size_t envelope_count;              /* opened */
    sp_ledger_envelope_spec envelopes[SP_LEDGER_ENVELOPES_MAX];
    char category[SP_LEDGER_CATEGORY_LEN_MAX + 1]; /* credited, payment, expired */
    int64_t amount_cents;                          /* credited, payment; expired: returned */
    int64_t envelope_balance_after_cents;          /* credited, payment */
    int64_t pass_balance_after_cents;              /* credited, payment, expired */
    char partner_id[SP_ID_LEN + 1];                /* payment, redeemed, operation events;
                                                    * issued: restriction */
    char partner_code[SP_PARTNER_CODE_LEN + 1];    /* payment, redeemed; issued: restriction */
    bool has_receipt;                              /* payment: signed (sp_receipt.h) */
    uint32_t receipt_key_id;
    uint8_t receipt_signature[64];
    char end_date[SP_LEDGER_DATE_LEN + 1];             /* expired; credited: the envelope's
                                                        * after the credit ("" = none) */
    char requested_end_date[SP_LEDGER_DATE_LEN + 1];   /* credited: the command's ("" = none) */
    bool envelope_opened;                              /* credited: the credit opened it */
    char command_type[SP_LEDGER_COMMAND_TYPE_MAX + 1]; /* rejected */
    char code[SP_ERROR_CODE_MAX];                      /* rejected */
    char message[SP_ERROR_MESSAGE_MAX];
    char field[SP_ERROR_FIELD_MAX];
    uint8_t request_hash[SP_KEY_LEN];
    char voucher_id[SP_ID_LEN + 1];                 /* voucher events; operation cancelled:
                                                     * the redeemed voucher or "" */
    char voucher_number[SP_VOUCHER_NUMBER_LEN + 1]; /* issued */
    char valid_until[SP_LEDGER_DATE_LEN + 1];       /* issued */
    char reference[SP_LEDGER_REFERENCE_MAX + 1];    /* reference set ("" clears it) */
    size_t posting_count;                           /* credited, payment, expired,
                                                     * operations events (0 or 1) */
    sp_ledger_posting postings[1];
    /* refunds */
    char request_id[SP_ID_LEN + 1];                  /* every refund event; rejected reserve */
    char refund_kind[SP_LEDGER_REFUND_KIND_MAX + 1]; /* opened */
    char period[SP_LEDGER_REFUND_PERIOD_LEN + 1];    /* opened */
    const sp_ledger_refund_part *parts;              /* opened, borrowed (see above) */
    size_t part_count;                               /* opened */
    int64_t operation_count;                         /* opened (asked), confirmed */
    int64_t expected_total_cents;                    /* opened */
    bool bank_account_missing;                       /* opened */
    int64_t total_cents;                             /* confirmed, paid */
    char reason[SP_LEDGER_REFUND_REASON_MAX + 1];    /* request cancelled; code, message and
                                                      * operation_id: the abort's */
    char transfer_reference[SP_LEDGER_TRANSFER_REFERENCE_MAX + 1]; /* paid */
    char paid_on[SP_LEDGER_DATE_LEN + 1];                          /* paid */
    /* operations events: changed_count operation ids that changed, then
     * skipped_count ids not available (reserved with skip_unavailable);
     * amount_cents is the sum of the changed ones, partner_id their partner */
    size_t changed_count;
    size_t skipped_count;
    /* closed: envelope_count envelopes that held money (envelopes[i].category,
     * close_envelope_cents[i] their whole balance), changed_count active
     * vouchers (their ids in operation_ids[i], close_voucher_cents[i] their
     * reservation), amount_cents the sum, close_reason as given */
    int64_t close_envelope_cents[SP_LEDGER_ENVELOPES_MAX];
    int64_t close_voucher_cents[SP_LEDGER_CLOSE_VOUCHERS_MAX];
    char close_reason[SP_LEDGER_CLOSE_REASON_MAX + 1];
    char operation_ids[SP_LEDGER_REFUND_PART_OPERATIONS_MAX][SP_ID_LEN + 1];
} sp_ledger_event;

/* Zeroes every field of an event but the operation id slots, of which only
 * the first changed_count + skipped_count mean anything: most events never
 * touch those 37 KiB. */
void sp_ledger_event_clear(sp_ledger_event *event);

/* The postings a PassClosed makes (ledger_close.c): one per envelope return,
 * then one per voucher; returns their count. */
size_t sp_ledger_close_postings(const sp_ledger_event *event,
                                sp_ledger_posting postings[SP_LEDGER_CLOSE_POSTINGS_MAX]);

/* The envelope type of an event kind ("ledger.PassOpened.v1" ...). */
const char *sp_ledger_event_type(sp_ledger_event_kind kind);

/* The receipt text of a signed PaymentAccepted (has_receipt). */
int sp_ledger_receipt_text(const sp_ledger_event *event, char out[SP_RECEIPT_TEXT_MAX + 1],
                           sp_error *err);

typedef struct sp_ledger_applied {
    bool skipped;             /* not the pass's next version: ignored */
    sp_ledger_record *record; /* the command outcome it recorded (NULL for expiry) */
} sp_ledger_applied;

/* Applies one event: the same function live (after deciding) and during a
 * rebuild, so both reach the same state. An event whose version is not the
 * pass's next one is skipped (a duplicate, a second writer's). Money moves
 * only through sp_ledger_post. -1 and nothing changed: with code
 * "invalid_event" when the event breaks a rule (malformed, a posting
 * refused), with a 5xx status when a bound is reached or memory is out. */
int sp_ledger_apply(sp_ledger_state *state, const sp_ledger_event *event, sp_ledger_applied *out,
                    sp_error *err);

void sp_ledger_record_set_event_ref(sp_ledger_record *record, int32_t partition, int64_t offset);

/* ------------------------------------------------------------ commands */

typedef enum sp_ledger_command_kind {
    SP_LEDGER_COMMAND_OPEN_PASS = 1,
    SP_LEDGER_COMMAND_CREDIT_PASS,
    SP_LEDGER_COMMAND_PAY,
    SP_LEDGER_COMMAND_ISSUE_VOUCHER,
    SP_LEDGER_COMMAND_REDEEM_VOUCHER,
    SP_LEDGER_COMMAND_CANCEL_VOUCHER,
    SP_LEDGER_COMMAND_CANCEL_OPERATION,
    SP_LEDGER_COMMAND_SET_OPERATION_REFERENCE,
    SP_LEDGER_COMMAND_OPEN_REFUND_REQUEST, /* aggregate: the request */
    SP_LEDGER_COMMAND_CONFIRM_REFUND_REQUEST,
    SP_LEDGER_COMMAND_ABORT_REFUND_REQUEST,
    SP_LEDGER_COMMAND_CANCEL_REFUND_REQUEST,
    SP_LEDGER_COMMAND_MARK_REFUND_REQUEST_PAID,
    SP_LEDGER_COMMAND_RESERVE_OPERATIONS, /* aggregate: the pass */
    SP_LEDGER_COMMAND_RELEASE_OPERATIONS,
    SP_LEDGER_COMMAND_SETTLE_OPERATIONS,
    SP_LEDGER_COMMAND_CLOSE_PASS,
} sp_ledger_command_kind;

/* Commands whose aggregate is a refund request (the others: a pass). */
bool sp_ledger_command_is_refund_request(sp_ledger_command_kind kind);

/* A command as received; every string is borrowed and may be anything (the
 * rules validate them). pass_id, actor_id ("" or a uuid) and command_id are
 * already checked by the caller (sp_ledger_command_identity_valid). */
typedef struct sp_ledger_command {
    sp_ledger_command_kind kind;
    const char *pass_id; /* the aggregate id: the pass, or the
                          * request for a request's commands */
    const char *actor_id;
    const char *actor_role; /* the envelope's: "" for the system */
    const char *command_id;
    const char *beneficiary_id; /* open */
    size_t envelope_count;      /* open, as received (may exceed the max) */
    const char *envelope_categories[SP_LEDGER_ENVELOPES_MAX];
    const char *envelope_end_dates[SP_LEDGER_ENVELOPES_MAX];
    const char *category;       /* credit, issue ("" = implied) */
    const char *partner_code;   /* pay, redeem, issue ("" = none) */
    int64_t amount_cents;       /* credit, pay, issue */
    const char *end_date;       /* credit: "YYYY-MM-DD", "" = keep */
    const char *voucher_id;     /* redeem, cancel */
    const char *voucher_number; /* redeem */
    const char *operation_id;   /* cancel operation, set reference */
    const char *partner_id;     /* cancel operation, set reference, cancel
                                 * request: the acting partner; open
                                 * request, reserve: the request's */
    const char *reference;      /* set reference */
    /* refunds */
    const char *request_id;             /* every refund command */
    const char *refund_kind;            /* open request */
    const char *period;                 /* open request */
    const sp_ledger_refund_part *parts; /* open request */
    size_t part_count;
    int64_t expected_total_cents;     /* open request */
    bool bank_account_missing;        /* open request */
    int64_t total_cents;              /* confirm */
    int64_t operation_count;          /* confirm */
    const char *code;                 /* abort: the refusing part's */
    const char *message;              /* abort */
    const char *transfer_reference;   /* mark paid */
    const char *paid_on;              /* mark paid */
    const char *const *operation_ids; /* reserve */
    size_t operation_id_count;
    bool skip_unavailable; /* reserve */
    const char *reason;    /* close ("" = none) */
} sp_ledger_command;

/* Whether the command's actor may ask for it (ledger_actor.c): its role
 * (the envelope's actor_role; actor_id "" with no role is the system) among
 * those that may ask for the kind, and a beneficiary on its own pass. 403
 * "forbidden" with the reason otherwise: the service answers it as a
 * refusal, records nothing. Pure. */
int sp_ledger_actor_check(const sp_ledger_state *state, const sp_ledger_command *command,
                          sp_error *err);

/* pass_id (the aggregate id) a uuid, actor_id "" or a uuid, command_id
 * 1..64 of [A-Za-z0-9_-]. */
int sp_ledger_command_identity_valid(const char *pass_id, const char *actor_id,
                                     const char *command_id, sp_error *err);
/* ^[a-z][a-z0-9_]{1,31}$ */
bool sp_ledger_category_valid(const char *category);

typedef enum sp_ledger_decision_kind {
    SP_LEDGER_DECIDED_EVENT = 1, /* apply `event`, produce it, reply with its record */
    SP_LEDGER_DECIDED_REPLAY,    /* seen before: reply `record` again (replayed) */
    SP_LEDGER_DECIDED_REFUSED,   /* reply `error`, record nothing (no pass, 409, 503) */
} sp_ledger_decision_kind;

typedef struct sp_ledger_decision {
    sp_ledger_decision_kind kind;
    sp_ledger_event event;
    const sp_ledger_record *record;
    sp_error error;
} sp_ledger_decision;

/* Decides what a command does to the state at now_ms, without changing it.
 * Rejections of an existing pass become a CommandRejected event (recorded);
 * those of an unknown pass, idempotency conflicts and full bounds are refused
 * without an event. The caller then applies the event (sp_ledger_apply). */
void sp_ledger_decide(const sp_ledger_state *state, const sp_ledger_command *command,
                      int64_t now_ms, sp_ledger_decision *out);

/* Decides and applies an EnvelopeExpired event for every open envelope whose
 * end date is before the Paris date of now_ms, at most events_max of them,
 * copied to events[] for the caller to produce. -1 only on a broken invariant. */
int sp_ledger_sweep_expiries(sp_ledger_state *state, int64_t now_ms, sp_ledger_event *events,
                             size_t events_max, size_t *event_count, sp_error *err);

/* The same for every active voucher whose validity ended before the Paris
 * date of now_ms: a VoucherExpired event returns its amount. */
int sp_ledger_sweep_vouchers(sp_ledger_state *state, int64_t now_ms, sp_ledger_event *events,
                             size_t events_max, size_t *event_count, sp_error *err);

/* ------------------------------------------------------------ helpers */

/* The HTTP status the gateway answers for a ledger rejection code. */
int sp_ledger_status_of_code(const char *code);
/* "2026-11-27T10:00:00.123Z"; out holds at least 25 bytes. unix_ms >= 0. */
void sp_ledger_format_instant(int64_t unix_ms, char out[25]);

#endif
