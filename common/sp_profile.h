/* sp_profile.h - checks of a partner structure's profile values: IBAN (ISO
 * 13616, mod-97 check digits, per-country length), BIC (ISO 9362), http(s)
 * URLs and phone numbers. Pure: no I/O. Shared by the gateway (which answers
 * the precise 4xx) and the accounts service (which checks again what it reads
 * from the log).
 * Memory: results go to buffers the caller provides, sized by the constants. */
#ifndef SP_PROFILE_H
#define SP_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

#define SP_PROFILE_NAME_CHARS_MAX 200
#define SP_PROFILE_DESCRIPTION_CHARS_MAX 1000
#define SP_PROFILE_ADDRESS_CHARS_MAX 300
#define SP_PROFILE_URL_MAX 300 /* bytes, ASCII */
#define SP_PROFILE_SOCIAL_LINKS_MAX 8
#define SP_PROFILE_PHONE_MAX 32 /* bytes */
#define SP_PROFILE_PHONE_DIGITS_MIN 6
#define SP_PROFILE_PHONE_DIGITS_MAX 15 /* E.164 */
#define SP_PROFILE_IBAN_MIN 15
#define SP_PROFILE_IBAN_MAX 34
#define SP_PROFILE_IBAN_INPUT_MAX 64 /* with the spaces people type */
#define SP_PROFILE_BIC_MAX 11

typedef enum {
    SP_PROFILE_IBAN_OK = 0,
    SP_PROFILE_IBAN_BAD_FORMAT,   /* characters, country, or length for that country */
    SP_PROFILE_IBAN_BAD_CHECKSUM, /* well formed, but the mod-97 check fails */
} sp_profile_iban_status;

/* Spaces dropped and letters upper-cased into out (SP_PROFILE_IBAN_MAX + 1
 * bytes), then checked: two letters, two check digits, letters and digits,
 * the length of the country when it is known (FR 27, DE 22, ...), else 15..34,
 * and the whole number mod 97 == 1. out is "" unless the status is OK. */
sp_profile_iban_status sp_profile_iban_normalize(const char *in, char *out);

/* Upper-cased into out (SP_PROFILE_BIC_MAX + 1 bytes): 4 letters (bank), 2
 * letters (country), 2 letters or digits (place), optionally 3 more (branch). */
bool sp_profile_bic_normalize(const char *in, char *out);

/* http:// or https://, a non-empty host, printable ASCII without spaces, at
 * most SP_PROFILE_URL_MAX bytes. */
bool sp_profile_url_valid(const char *url);

/* An optional leading '+', then digits, spaces, dots, dashes and brackets,
 * with 6 to 15 digits, at most SP_PROFILE_PHONE_MAX bytes. */
bool sp_profile_phone_valid(const char *phone);

#endif
