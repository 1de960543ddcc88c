/* sp_voucher_number.c - voucher numbers with a Damm check digit (see
 * sp_voucher_number.h). */
#include "sp_voucher_number.h"

#include <assert.h>
#include <string.h>
#include <sodium.h>

/* Damm's weakly totally anti-symmetric quasigroup of order 10: its zero
 * diagonal makes the check digit the interim value itself, and its
 * anti-symmetry is what detects every adjacent transposition. */
static const unsigned char damm_table[10][10] = {
    {0, 3, 1, 7, 5, 9, 8, 6, 4, 2}, {7, 0, 9, 2, 1, 5, 4, 8, 6, 3}, {4, 2, 0, 6, 8, 7, 1, 3, 5, 9},
    {1, 7, 5, 0, 9, 8, 3, 4, 2, 6}, {6, 1, 2, 3, 0, 4, 5, 9, 7, 8}, {3, 6, 7, 4, 2, 0, 9, 5, 8, 1},
    {5, 8, 6, 9, 7, 2, 0, 1, 3, 4}, {8, 9, 4, 5, 3, 6, 2, 0, 1, 7}, {9, 4, 3, 8, 6, 1, 7, 2, 0, 5},
    {2, 5, 8, 1, 4, 3, 6, 7, 9, 0},
};

static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* The interim digit after all of digits; -1 when one is not a digit. */
static int damm_interim(const char *digits) {
    assert(digits != NULL);
    unsigned interim = 0;
    for (const char *p = digits; *p != '\0'; p++) {
        if (!is_digit(*p)) return -1;
        interim = damm_table[interim][(unsigned)(*p - '0')];
    }
    return (int)interim;
}

char sp_damm_check_digit(const char *digits) {
    assert(digits != NULL);
    int interim = damm_interim(digits);
    assert(interim >= 0);
    return (char)('0' + interim);
}

bool sp_damm_valid(const char *digits) {
    if (digits == NULL || digits[0] == '\0') return false;
    return damm_interim(digits) == 0;
}

void sp_voucher_number_new(char *out) {
    assert(out != NULL);
    out[0] = (char)('1' + randombytes_uniform(9));
    for (size_t i = 1; i < SP_VOUCHER_NUMBER_LEN - 1; i++) {
        out[i] = (char)('0' + randombytes_uniform(10));
    }
    out[SP_VOUCHER_NUMBER_LEN - 1] = '\0';
    out[SP_VOUCHER_NUMBER_LEN - 1] = sp_damm_check_digit(out);
    out[SP_VOUCHER_NUMBER_LEN] = '\0';
    assert(sp_voucher_number_valid(out));
}

bool sp_voucher_number_valid(const char *number) {
    if (number == NULL || strnlen(number, SP_VOUCHER_NUMBER_LEN + 1) != SP_VOUCHER_NUMBER_LEN) {
        return false;
    }
    return number[0] != '0' && sp_damm_valid(number);
}

bool sp_voucher_number_normalize(const char *in, char *out) {
    assert(out != NULL);
    out[0] = '\0';
    if (in == NULL) return false;
    size_t len = 0;
    for (size_t i = 0; in[i] != '\0'; i++) {
        if (i >= SP_VOUCHER_NUMBER_TYPED_MAX) goto refused;
        if (in[i] == ' ' || in[i] == '-') continue;
        if (!is_digit(in[i]) || len == SP_VOUCHER_NUMBER_LEN) goto refused;
        out[len++] = in[i];
    }
    out[len] = '\0';
    if (len == SP_VOUCHER_NUMBER_LEN) return true;
refused:
    out[0] = '\0';
    return false;
}

void sp_voucher_number_group(const char *number, char *out) {
    assert(sp_voucher_number_valid(number));
    assert(out != NULL);
    size_t pos = 0;
    for (size_t i = 0; i < SP_VOUCHER_NUMBER_LEN; i++) {
        if (i > 0 && i % 4 == 0) out[pos++] = ' ';
        out[pos++] = number[i];
    }
    assert(pos == SP_VOUCHER_NUMBER_GROUPED_LEN);
    out[pos] = '\0';
}
