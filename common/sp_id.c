/* sp_id.c - random UUID v4 text, partner codes with a Luhn check digit,
 * BLAKE2b map keys and bearer tokens, all from libsodium. */
#include "sp_id.h"

#include <assert.h>
#include <string.h>
#include <sodium.h>

#define SP_ID_BYTES 16
#define SP_TOKEN_BYTES 32

static const char hex_digits[] = "0123456789abcdef";

static bool is_hex_lower(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* 16 bytes as a version-4, RFC 4122 variant UUID text. */
static void format_v4(uint8_t bytes[SP_ID_BYTES], char *out) {
    bytes[6] = (uint8_t)((bytes[6] & 0x0f) | 0x40); /* version 4 */
    bytes[8] = (uint8_t)((bytes[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    size_t pos = 0;
    for (size_t i = 0; i < SP_ID_BYTES; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[pos++] = '-';
        out[pos++] = hex_digits[bytes[i] >> 4];
        out[pos++] = hex_digits[bytes[i] & 0x0f];
    }
    assert(pos == SP_ID_LEN);
    out[pos] = '\0';
    assert(sp_id_valid(out));
}

void sp_id_new(char *out) {
    assert(out != NULL);
    uint8_t bytes[SP_ID_BYTES];
    randombytes_buf(bytes, sizeof bytes);
    format_v4(bytes, out);
}

void sp_id_from_key(const uint8_t key[SP_KEY_LEN], char *out) {
    assert(key != NULL);
    assert(out != NULL);
    uint8_t bytes[SP_ID_BYTES];
    _Static_assert(SP_ID_BYTES == SP_KEY_LEN, "a key fills a uuid");
    memcpy(bytes, key, sizeof bytes);
    format_v4(bytes, out);
}

bool sp_id_valid(const char *s) {
    if (s == NULL) return false;
    for (size_t i = 0; i < SP_ID_LEN; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return false;
        } else if (!is_hex_lower(c)) {
            return false; /* also stops at the terminating NUL of a short string */
        }
    }
    if (s[SP_ID_LEN] != '\0') return false;
    if (s[14] != '4') return false;
    char variant = s[19];
    return variant == '8' || variant == '9' || variant == 'a' || variant == 'b';
}

char sp_luhn_check_digit(const char *digits) {
    assert(digits != NULL);
    size_t len = strlen(digits);
    unsigned sum = 0;
    /* Walking from the right, the digit next to the future check digit is doubled. */
    for (size_t i = 0; i < len; i++) {
        char c = digits[len - 1 - i];
        assert(is_digit(c));
        unsigned d = (unsigned)(c - '0');
        if (i % 2 == 0) {
            d *= 2;
            if (d > 9) d -= 9;
        }
        sum += d;
    }
    return (char)('0' + (10 - sum % 10) % 10);
}

bool sp_luhn_valid(const char *digits) {
    if (digits == NULL || digits[0] == '\0') return false;
    size_t len = strlen(digits);
    unsigned sum = 0;
    for (size_t i = 0; i < len; i++) {
        char c = digits[len - 1 - i];
        if (!is_digit(c)) return false;
        unsigned d = (unsigned)(c - '0');
        if (i % 2 == 1) {
            d *= 2;
            if (d > 9) d -= 9;
        }
        sum += d;
    }
    return sum % 10 == 0;
}

void sp_partner_code_new(char *out) {
    assert(out != NULL);
    out[0] = (char)('1' + randombytes_uniform(9));
    for (size_t i = 1; i < SP_PARTNER_CODE_LEN - 1; i++) {
        out[i] = (char)('0' + randombytes_uniform(10));
    }
    out[SP_PARTNER_CODE_LEN - 1] = '\0';
    out[SP_PARTNER_CODE_LEN - 1] = sp_luhn_check_digit(out);
    out[SP_PARTNER_CODE_LEN] = '\0';
    assert(sp_luhn_valid(out));
}

bool sp_partner_code_normalize(const char *in, char *out) {
    assert(out != NULL);
    out[0] = '\0';
    if (in == NULL) return false;
    size_t len = 0;
    for (const char *p = in; *p != '\0'; p++) {
        if (*p == ' ' || *p == '-') continue;
        if (!is_digit(*p) || len == SP_PARTNER_CODE_LEN) {
            out[0] = '\0';
            return false;
        }
        out[len++] = *p;
    }
    out[len] = '\0';
    if (len != SP_PARTNER_CODE_LEN) {
        out[0] = '\0';
        return false;
    }
    return true;
}

void sp_key_of(uint8_t out[SP_KEY_LEN], const char *a, const char *b, const char *c,
               const char *d) {
    assert(out != NULL);
    const char *parts[4] = {a, b, c, d};
    crypto_generichash_state state;
    crypto_generichash_init(&state, NULL, 0, SP_KEY_LEN);
    for (size_t i = 0; i < 4 && parts[i] != NULL; i++) {
        uint64_t len = strlen(parts[i]);
        uint8_t len_le[8];
        for (size_t k = 0; k < 8; k++) len_le[k] = (uint8_t)(len >> (8 * k));
        crypto_generichash_update(&state, len_le, sizeof len_le);
        crypto_generichash_update(&state, (const uint8_t *)parts[i], len);
    }
    crypto_generichash_final(&state, out, SP_KEY_LEN);
}

void sp_token_new(char *out) {
    assert(out != NULL);
    uint8_t bytes[SP_TOKEN_BYTES];
    randombytes_buf(bytes, sizeof bytes);
    sodium_bin2base64(out, SP_TOKEN_LEN + 1, bytes, sizeof bytes,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(bytes, sizeof bytes);
    assert(strlen(out) == SP_TOKEN_LEN);
}

void sp_token_hash(const char *token, uint8_t out[SP_TOKEN_HASH_LEN]) {
    assert(token != NULL);
    assert(out != NULL);
    crypto_generichash(out, SP_TOKEN_HASH_LEN, (const uint8_t *)token, strlen(token), NULL, 0);
}
