/* ledger_internal.h - helpers shared by ledger.c (state, postings, apply) and
 * ledger_decide.c (the rules). Not part of the ledger's interface. */
#ifndef SP_LEDGER_INTERNAL_H
#define SP_LEDGER_INTERNAL_H

#include "ledger.h"

/* Request hashes: the same function over the command's fields and over the
 * fields of the event that accepted it, so a rebuilt record compares equal. */
void sp_ledger_hash_open(uint8_t out[SP_KEY_LEN], const char *pass_id, const char *beneficiary_id,
                         size_t envelope_count, const char *const *categories,
                         const char *const *end_dates);
void sp_ledger_hash_credit(uint8_t out[SP_KEY_LEN], const char *pass_id, const char *category,
                           int64_t amount_cents);
void sp_ledger_hash_pay(uint8_t out[SP_KEY_LEN], const char *pass_id, const char *partner_code,
                        int64_t amount_cents);

void sp_ledger_envelope_account(char out[SP_LEDGER_ACCOUNT_MAX + 1], const char *pass_id,
                                const char *category);
void sp_ledger_partner_account(char out[SP_LEDGER_ACCOUNT_MAX + 1], const char *partner_id);

/* Index of the envelope of that category, or -1. */
int sp_ledger_envelope_index(const sp_ledger_pass *pass, const char *category);
/* Closed, or its end date is before the Paris date of now_ms. */
bool sp_ledger_envelope_expired_at(const sp_ledger_envelope *envelope, int64_t now_ms);

/* Copies src into dst[dst_size]; false (dst = "") when it does not fit. */
bool sp_ledger_copy(char *dst, size_t dst_size, const char *src);

#endif
