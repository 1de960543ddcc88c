/* ledger_internal.h - helpers shared by ledger.c (state, postings, apply) and
 * ledger_decide.c (the rules). Not part of the ledger's interface. */
#ifndef SP_LEDGER_INTERNAL_H
#define SP_LEDGER_INTERNAL_H

#include "ledger.h"

/* A partner's "owed" account (the state's owed map holds these). */
typedef struct sp_ledger_owed {
    char partner_id[SP_ID_LEN + 1];
    int64_t balance_cents;
} sp_ledger_owed;

/* "refund:<request_id>": what this partition's passes reserved for a request. */
typedef struct sp_ledger_refund_account {
    char request_id[SP_ID_LEN + 1];
    int64_t balance_cents;
} sp_ledger_refund_account;

/* Request hashes: the same function over the command's fields and over the
 * fields of the event that accepted it, so a rebuilt record compares equal. */
void sp_ledger_hash_open(uint8_t out[SP_KEY_LEN], const char *pass_id, const char *beneficiary_id,
                         size_t envelope_count, const char *const *categories,
                         const char *const *end_dates);
/* end_date: the command's as given ("" or NULL: none, the key credits had before). */
void sp_ledger_hash_credit(uint8_t out[SP_KEY_LEN], const char *pass_id, const char *category,
                           int64_t amount_cents, const char *end_date);
void sp_ledger_hash_pay(uint8_t out[SP_KEY_LEN], const char *pass_id, const char *partner_code,
                        int64_t amount_cents);

void sp_ledger_hash_issue(uint8_t out[SP_KEY_LEN], const char *pass_id, int64_t amount_cents,
                          const char *category, const char *partner_code);
void sp_ledger_hash_redeem(uint8_t out[SP_KEY_LEN], const char *pass_id, const char *voucher_id,
                           const char *voucher_number, const char *partner_code);
void sp_ledger_hash_cancel(uint8_t out[SP_KEY_LEN], const char *pass_id, const char *voucher_id);

void sp_ledger_hash_cancel_operation(uint8_t out[SP_KEY_LEN], const char *pass_id,
                                     const char *operation_id, const char *partner_id);
void sp_ledger_hash_set_reference(uint8_t out[SP_KEY_LEN], const char *pass_id,
                                  const char *operation_id, const char *partner_id,
                                  const char *reference);

void sp_ledger_voucher_account(char out[SP_LEDGER_ACCOUNT_MAX + 1], const char *voucher_id);
void sp_ledger_envelope_account(char out[SP_LEDGER_ACCOUNT_MAX + 1], const char *pass_id,
                                const char *category);
void sp_ledger_partner_account(char out[SP_LEDGER_ACCOUNT_MAX + 1], const char *partner_id);
void sp_ledger_refund_account_name(char out[SP_LEDGER_ACCOUNT_MAX + 1], const char *request_id);

/* Index of the envelope of that category, or -1. */
int sp_ledger_envelope_index(const sp_ledger_pass *pass, const char *category);
/* Closed, or its end date is before the Paris date of now_ms. */
bool sp_ledger_envelope_expired_at(const sp_ledger_envelope *envelope, int64_t now_ms);

/* Copies src into dst[dst_size]; false (dst = "") when it does not fit. */
bool sp_ledger_copy(char *dst, size_t dst_size, const char *src);

/* ---- ledger.c, for the voucher rules of ledger_voucher.c ---- */

/* Records a CommandRejected event's outcome (the caller checked its version). */
int sp_ledger_apply_rejected(sp_ledger_state *state, const sp_ledger_event *event,
                             sp_ledger_applied *out, sp_error *err);
/* 422 "invalid_event" with why. */
int sp_ledger_invalid_event(sp_error *err, const char *why);
/* A posting refused while applying: the event is wrong (422), unless it is
 * our own failure (a bound, memory: 5xx kept). */
int sp_ledger_post_refused(sp_error *err);
/* The event's postings, when it carries any, are exactly derived[]. */
bool sp_ledger_postings_match(const sp_ledger_event *event, const sp_ledger_posting *derived,
                              size_t derived_count);
/* 503 when no more command outcomes can be kept. */
int sp_ledger_records_room(const sp_ledger_state *state, sp_error *err);
/* Keeps the accepted outcome of the event's command (result_json is taken,
 * NULL meaning out of memory); out->record is it, or NULL for a repeat. */
int sp_ledger_record_keep(sp_ledger_state *state, const sp_ledger_event *event,
                          const uint8_t hash[SP_KEY_LEN], int http_status, char *result_json,
                          sp_ledger_applied *out, sp_error *err);
sp_ledger_voucher *sp_ledger_voucher_of(sp_ledger_state *state, const char *voucher_id);
/* Takes the voucher (freed on failure): 503 when SP_VOUCHERS_MAX is reached. */
int sp_ledger_voucher_insert(sp_ledger_state *state, sp_ledger_voucher *voucher, sp_error *err);

/* ---- ledger_decide.c, for ledger_voucher.c ---- */

void sp_ledger_decided_header(sp_ledger_event *event, sp_ledger_event_kind kind,
                              const sp_ledger_pass *pass, const sp_ledger_command *command,
                              int64_t now_ms);
/* A rule refused the command: a CommandRejected event (503: a refusal without event). */
void sp_ledger_decided_reject(sp_ledger_decision *out, const sp_ledger_pass *pass,
                              const sp_ledger_command *command, const uint8_t hash[SP_KEY_LEN],
                              int64_t now_ms, const sp_error *why);
/* The envelope that pays a partner: its category's, else "general"; -1 with err. */
int sp_ledger_pay_envelope(const sp_ledger_pass *pass, const sp_ledger_partner *partner,
                           sp_error *err);
/* The envelope type of a command kind ("ledger.Pay.v1" ...). */
const char *sp_ledger_command_type(sp_ledger_command_kind kind);

/* ---- ledger_voucher.c ---- */

void sp_ledger_decide_issue(const sp_ledger_state *state, const sp_ledger_pass *pass,
                            const sp_ledger_command *command, const uint8_t hash[SP_KEY_LEN],
                            int64_t now_ms, sp_ledger_decision *out);
void sp_ledger_decide_redeem(const sp_ledger_state *state, const sp_ledger_pass *pass,
                             const sp_ledger_command *command, const uint8_t hash[SP_KEY_LEN],
                             int64_t now_ms, sp_ledger_decision *out);
void sp_ledger_decide_cancel(const sp_ledger_state *state, const sp_ledger_pass *pass,
                             const sp_ledger_command *command, const uint8_t hash[SP_KEY_LEN],
                             int64_t now_ms, sp_ledger_decision *out);
int sp_ledger_apply_voucher(sp_ledger_state *state, sp_ledger_pass *pass,
                            const sp_ledger_event *event, sp_ledger_applied *out, sp_error *err);

/* ---- ledger_operation.c ---- */

/* Room for one more remembered payment (503 when out of memory): called
 * before money moves, so that remembering it cannot fail afterwards. */
int sp_ledger_operation_reserve(sp_ledger_pass *pass, sp_error *err);
/* The remembered payment, changeable (NULL when unknown). */
sp_ledger_operation *sp_ledger_operation_of(sp_ledger_pass *pass, const char *operation_id);
/* Remembers a payment (room reserved); at SP_LEDGER_PASS_OPERATIONS_MAX
 * the oldest is forgotten (a requested one only when every one is). */
void sp_ledger_operation_remember(sp_ledger_pass *pass, const char *operation_id,
                                  const char *partner_id, const char *category,
                                  const char *voucher_id, int64_t amount_cents);
void sp_ledger_decide_cancel_operation(const sp_ledger_state *state, const sp_ledger_pass *pass,
                                       const sp_ledger_command *command,
                                       const uint8_t hash[SP_KEY_LEN], int64_t now_ms,
                                       sp_ledger_decision *out);
void sp_ledger_decide_set_reference(const sp_ledger_state *state, const sp_ledger_pass *pass,
                                    const sp_ledger_command *command,
                                    const uint8_t hash[SP_KEY_LEN], int64_t now_ms,
                                    sp_ledger_decision *out);
int sp_ledger_apply_operation(sp_ledger_state *state, sp_ledger_pass *pass,
                              const sp_ledger_event *event, sp_ledger_applied *out, sp_error *err);

/* ---- ledger_close.c ---- */

void sp_ledger_hash_close(uint8_t out[SP_KEY_LEN], const char *pass_id, const char *reason);
void sp_ledger_decide_close(const sp_ledger_state *state, const sp_ledger_pass *pass,
                            const sp_ledger_command *command, const uint8_t hash[SP_KEY_LEN],
                            int64_t now_ms, sp_ledger_decision *out);
int sp_ledger_apply_closed(sp_ledger_state *state, sp_ledger_pass *pass,
                           const sp_ledger_event *event, sp_ledger_applied *out, sp_error *err);

/* ---- ledger_refund.c ---- */

/* The request hash of a refund command (any of the eight kinds). */
void sp_ledger_hash_refund(const sp_ledger_command *command, uint8_t out[SP_KEY_LEN]);
/* A request's own command (the request exists or not: its rules say). */
void sp_ledger_decide_refund_request(const sp_ledger_state *state, const sp_ledger_command *command,
                                     const uint8_t hash[SP_KEY_LEN], int64_t now_ms,
                                     sp_ledger_decision *out);
/* Reserve, release or settle the operations of an existing pass. */
void sp_ledger_decide_refund_part(const sp_ledger_state *state, const sp_ledger_pass *pass,
                                  const sp_ledger_command *command, const uint8_t hash[SP_KEY_LEN],
                                  int64_t now_ms, sp_ledger_decision *out);
/* A request's own event, or a CommandRejected of one of its commands. */
bool sp_ledger_event_of_refund_request(const sp_ledger_event *event);
/* Applies it with the request's versions (a stale one is skipped). */
int sp_ledger_apply_refund_request(sp_ledger_state *state, const sp_ledger_event *event,
                                   sp_ledger_applied *out, sp_error *err);
int sp_ledger_apply_refund_part(sp_ledger_state *state, sp_ledger_pass *pass,
                                const sp_ledger_event *event, sp_ledger_applied *out,
                                sp_error *err);
#endif
