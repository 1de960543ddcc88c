/* sp_money.c - euro amounts as int64_t cents: checked sums, amount
 * validation and the French display format ("12,34 €"). */
#include "sp_money.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>

bool sp_money_add(int64_t a_cents, int64_t b_cents, int64_t *out_cents) {
    assert(out_cents != NULL);
    int64_t sum_cents;
    if (__builtin_add_overflow(a_cents, b_cents, &sum_cents)) return false;
    *out_cents = sum_cents;
    return true;
}

bool sp_money_sub(int64_t a_cents, int64_t b_cents, int64_t *out_cents) {
    assert(out_cents != NULL);
    int64_t diff_cents;
    if (__builtin_sub_overflow(a_cents, b_cents, &diff_cents)) return false;
    *out_cents = diff_cents;
    return true;
}

int sp_money_validate_amount(int64_t amount_cents, int64_t amount_cents_max, const char *field,
                             sp_error *err) {
    assert(amount_cents_max > 0);
    if (amount_cents > 0 && amount_cents <= amount_cents_max) return 0;
    char max_text[SP_MONEY_FORMAT_MAX];
    sp_money_format_eur(amount_cents_max, max_text, sizeof max_text);
    return sp_error_set(err, 422, "invalid_amount", field,
                        "%s must be more than 0,00 € and at most %s (in cents: 1 to %" PRId64
                        "), got %" PRId64,
                        field ? field : "amount", max_text, amount_cents_max, amount_cents);
}

void sp_money_format_eur(int64_t cents, char *out, size_t out_size) {
    assert(out != NULL);
    assert(out_size >= SP_MONEY_FORMAT_MAX);
    /* Unsigned magnitude so that INT64_MIN needs no negation overflow. */
    uint64_t magnitude = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    snprintf(out, out_size, "%s%" PRIu64 ",%02" PRIu64 " €", cents < 0 ? "-" : "", magnitude / 100u,
             magnitude % 100u);
}
