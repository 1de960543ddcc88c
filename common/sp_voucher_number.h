/* sp_voucher_number.h - exchange voucher numbers: 16 digits shown as four
 * groups of four ("4821 0937 5516 2308"), 15 random digits from libsodium's
 * CSPRNG (the first never 0: about 2^49.7 numbers) and a Damm check digit,
 * which catches every single mistyped digit and every swap of two
 * neighbouring digits (Luhn misses 09 <-> 90), so that a typo is refused
 * before any lookup. Pure functions over caller buffers; no allocation.
 * Call sodium_init() once in main before sp_voucher_number_new(). */
#ifndef SP_VOUCHER_NUMBER_H
#define SP_VOUCHER_NUMBER_H

#include <stdbool.h>
#include <stddef.h>

#define SP_VOUCHER_NUMBER_LEN 16         /* 15 random digits + 1 Damm check digit */
#define SP_VOUCHER_NUMBER_GROUPED_LEN 19 /* "dddd dddd dddd dddd" */
#define SP_VOUCHER_NUMBER_TYPED_MAX 64   /* bytes accepted as typed, spaces and dashes included */

/* out must hold SP_VOUCHER_NUMBER_LEN + 1 bytes. */
void sp_voucher_number_new(char *out);
/* 16 digits, the first not 0, the last the Damm check digit of the others. */
bool sp_voucher_number_valid(const char *number);
/* Copies `in` without spaces and dashes into out (SP_VOUCHER_NUMBER_LEN + 1
 * bytes); false (out = "") unless that leaves exactly 16 digits. The check
 * digit is not looked at: see sp_voucher_number_valid(). */
bool sp_voucher_number_normalize(const char *in, char *out);
/* "dddd dddd dddd dddd" of a valid number into out (GROUPED_LEN + 1 bytes). */
void sp_voucher_number_group(const char *number, char *out);

/* The Damm check digit ('0'..'9') of an all-digit string, and the check of
 * a string whose last digit is one. */
char sp_damm_check_digit(const char *digits);
bool sp_damm_valid(const char *digits);

#endif
