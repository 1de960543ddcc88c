/* sp_money.h - euro amounts as int64_t cents, with checked arithmetic.
 * No floats anywhere. Pure functions, no allocation. */
#ifndef SP_MONEY_H
#define SP_MONEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sp_error.h"

/* Largest balance any ledger account may reach (10 million euros): sums of
 * such values never overflow int64_t. */
#define SP_MONEY_BALANCE_ABS_CENTS_MAX INT64_C(1000000000)

/* false on overflow (out untouched). */
bool sp_money_add(int64_t a_cents, int64_t b_cents, int64_t *out_cents);
bool sp_money_sub(int64_t a_cents, int64_t b_cents, int64_t *out_cents);

/* A command amount: > 0 and <= amount_cents_max. Fills err with
 * 422 "invalid_amount" naming `field` otherwise. */
int sp_money_validate_amount(int64_t amount_cents, int64_t amount_cents_max, const char *field,
                             sp_error *err);

/* "12,34 €" (French format, non-breaking space before the sign is NOT used:
 * plain ASCII space). out must hold at least SP_MONEY_FORMAT_MAX bytes. */
#define SP_MONEY_FORMAT_MAX 32
void sp_money_format_eur(int64_t cents, char *out, size_t out_size);

#endif
