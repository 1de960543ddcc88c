/* sp_id.h - random identifiers (UUID v4 text, from libsodium's CSPRNG),
 * partner codes with a Luhn check digit, and fixed-size hash keys.
 * Call sodium_init() once in main before using them. */
#ifndef SP_ID_H
#define SP_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SP_ID_LEN 36          /* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" */
#define SP_PARTNER_CODE_LEN 8 /* 7 random digits + 1 Luhn check digit */
#define SP_KEY_LEN 16         /* BLAKE2b-128 digest used as a map key */

/* out must hold SP_ID_LEN + 1 bytes. */
void sp_id_new(char *out);
/* Canonical lower-case UUID text of length SP_ID_LEN. */
bool sp_id_valid(const char *s);

/* out must hold SP_PARTNER_CODE_LEN + 1 bytes. First digit never 0. */
void sp_partner_code_new(char *out);
/* Copies `in` without spaces or dashes into out (size >= SP_PARTNER_CODE_LEN+1).
 * Returns false when the result is not exactly 8 digits. */
bool sp_partner_code_normalize(const char *in, char *out);
/* Luhn check of an all-digit string. */
bool sp_luhn_valid(const char *digits);
/* The Luhn check digit ('0'..'9') to append to `digits`. */
char sp_luhn_check_digit(const char *digits);

/* BLAKE2b-128 of the concatenation of up to 4 NUL-terminated parts, each
 * prefixed by its length (so ("ab","c") != ("a","bc")). NULL parts end the list. */
void sp_key_of(uint8_t out[SP_KEY_LEN], const char *a, const char *b, const char *c, const char *d);
/* A key (e.g. sp_key_of of a name's parts) as a UUID shaped like a v4 one
 * (version and variant bits forced): the same parts always give the same
 * id, e.g. the automatic refund request of (partner, period). out must hold
 * SP_ID_LEN + 1 bytes. */
void sp_id_from_key(const uint8_t key[SP_KEY_LEN], char *out);

/* Bearer tokens: 32 random bytes as base64url without padding (43 chars),
 * and their BLAKE2b-256 hash, which is all that is ever stored or sent. */
#define SP_TOKEN_LEN 43
#define SP_TOKEN_HASH_LEN 32
void sp_token_new(char *out /* SP_TOKEN_LEN + 1 */);
void sp_token_hash(const char *token, uint8_t out[SP_TOKEN_HASH_LEN]);

#endif
