/* sp_receipt.c - canonical encoding, signature and verification of payment
 * receipts (see sp_receipt.h for the format). */
#include "sp_receipt.h"

#include <assert.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define UUID_BYTES 16
#define B64URL sodium_base64_VARIANT_URLSAFE_NO_PADDING

static void put_u32(uint8_t *out, uint32_t v) {
    assert(out != NULL);
    for (int i = 0; i < 4; i++) out[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void put_i64(uint8_t *out, int64_t v) {
    assert(out != NULL);
    uint64_t u = (uint64_t)v;
    for (int i = 0; i < 8; i++) out[i] = (uint8_t)(u >> (56 - 8 * i));
}

static uint32_t get_u32(const uint8_t *in) {
    assert(in != NULL);
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v = (v << 8) | in[i];
    return v;
}

static int64_t get_i64(const uint8_t *in) {
    assert(in != NULL);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | in[i];
    return (int64_t)v;
}

static bool uuid_to_bytes(const char *id, uint8_t out[UUID_BYTES]) {
    assert(id != NULL);
    assert(out != NULL);
    if (!sp_id_valid(id)) return false;
    char hex[2 * UUID_BYTES + 1];
    size_t n = 0;
    for (const char *p = id; *p != '\0' && n < 2 * UUID_BYTES; p++) {
        if (*p != '-') hex[n++] = *p;
    }
    hex[n] = '\0';
    size_t bin_len = 0;
    return sodium_hex2bin(out, UUID_BYTES, hex, n, NULL, &bin_len, NULL) == 0 &&
           bin_len == UUID_BYTES;
}

static void uuid_from_bytes(const uint8_t in[UUID_BYTES], char out[SP_ID_LEN + 1]) {
    static const char digits[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < UUID_BYTES; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
        out[o++] = digits[in[i] >> 4];
        out[o++] = digits[in[i] & 0x0f];
    }
    out[o] = '\0';
    assert(o == SP_ID_LEN);
}

static bool pass_ref_valid(const char *ref) {
    assert(ref != NULL);
    if (strlen(ref) != SP_RECEIPT_PASS_REF_LEN) return false;
    for (size_t i = 0; i < SP_RECEIPT_PASS_REF_LEN; i++) {
        char c = ref[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

uint32_t sp_receipt_key_id(const uint8_t public_key[SP_RECEIPT_PUBLIC_KEY_LEN]) {
    assert(public_key != NULL);
    uint8_t hash[32];
    crypto_generichash(hash, sizeof hash, public_key, SP_RECEIPT_PUBLIC_KEY_LEN, NULL, 0);
    return get_u32(hash);
}

void sp_receipt_key_id_text(uint32_t key_id, char out[SP_RECEIPT_KEY_ID_TEXT_LEN + 1]) {
    assert(out != NULL);
    snprintf(out, SP_RECEIPT_KEY_ID_TEXT_LEN + 1, "%08x", key_id);
}

static int decode_base64(const char *text, uint8_t *out, size_t out_max, size_t *out_len) {
    assert(text != NULL);
    assert(out != NULL);
    assert(out_len != NULL);
    size_t len = strnlen(text, SP_RECEIPT_KEY_SETTING_MAX + 1);
    if (len > SP_RECEIPT_KEY_SETTING_MAX) return -1;
    return sodium_base642bin(out, out_max, text, len, " \n", out_len, NULL,
                             sodium_base64_VARIANT_ORIGINAL);
}

int sp_receipt_signer_load(const char *base64, sp_receipt_signer *out, sp_error *err) {
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    if (sodium_init() < 0)
        return sp_error_set(err, 500, "sodium_init", NULL, "libsodium init failed");
    uint8_t raw[SP_RECEIPT_SECRET_KEY_LEN];
    size_t len = 0;
    if (base64 == NULL || decode_base64(base64, raw, sizeof raw, &len) != 0 ||
        (len != crypto_sign_SEEDBYTES && len != crypto_sign_SECRETKEYBYTES)) {
        return sp_error_set(err, 400, "invalid_receipt_key", NULL,
                            "expected base64 of a 32-byte seed or a 64-byte Ed25519 secret key");
    }
    if (len == crypto_sign_SEEDBYTES) {
        crypto_sign_seed_keypair(out->public_key, out->secret_key, raw);
    } else {
        memcpy(out->secret_key, raw, sizeof out->secret_key);
        crypto_sign_ed25519_sk_to_pk(out->public_key, out->secret_key);
        /* A 64-byte key whose halves do not match would sign with a public
         * key no one publishes: refuse it now. */
        uint8_t seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES], sk[64];
        crypto_sign_ed25519_sk_to_seed(seed, out->secret_key);
        crypto_sign_seed_keypair(pk, sk, seed);
        bool same = sodium_memcmp(pk, out->public_key, sizeof pk) == 0;
        sodium_memzero(sk, sizeof sk);
        sodium_memzero(seed, sizeof seed);
        if (!same) {
            sodium_memzero(raw, sizeof raw);
            memset(out, 0, sizeof *out);
            return sp_error_set(err, 400, "invalid_receipt_key", NULL,
                                "the secret key's public half does not match its seed");
        }
    }
    sodium_memzero(raw, sizeof raw);
    out->key_id = sp_receipt_key_id(out->public_key);
    return 0;
}

int sp_receipt_keyring_parse(const char *list, sp_receipt_keyring *out, sp_error *err) {
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    if (sodium_init() < 0)
        return sp_error_set(err, 500, "sodium_init", NULL, "libsodium init failed");
    const char *p = list != NULL ? list : "";
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        char one[SP_RECEIPT_KEY_SETTING_MAX + 1];
        if (len == 0 || len > SP_RECEIPT_KEY_SETTING_MAX || out->count >= SP_RECEIPT_KEYS_MAX) {
            return sp_error_set(err, 400, "invalid_receipt_key", NULL,
                                "expected at most %d comma-separated base64 public keys",
                                SP_RECEIPT_KEYS_MAX);
        }
        memcpy(one, p, len);
        one[len] = '\0';
        sp_receipt_key *key = &out->keys[out->count];
        size_t bin_len = 0;
        if (decode_base64(one, key->public_key, sizeof key->public_key, &bin_len) != 0 ||
            bin_len != SP_RECEIPT_PUBLIC_KEY_LEN) {
            return sp_error_set(err, 400, "invalid_receipt_key", NULL,
                                "public key %zu is not base64 of 32 bytes", out->count + 1);
        }
        key->key_id = sp_receipt_key_id(key->public_key);
        out->count++;
        assert(out->count <= SP_RECEIPT_KEYS_MAX);
        p = end != NULL ? end + 1 : p + len;
    }
    return 0;
}

void sp_receipt_pass_ref(const char *pass_id, char out[SP_RECEIPT_PASS_REF_LEN + 1]) {
    assert(pass_id != NULL);
    assert(out != NULL);
    size_t len = strlen(pass_id);
    snprintf(out, SP_RECEIPT_PASS_REF_LEN + 1, "%s",
             len >= SP_RECEIPT_PASS_REF_LEN ? pass_id + len - SP_RECEIPT_PASS_REF_LEN : "");
}

int sp_receipt_canonical(const sp_receipt *receipt, uint8_t out[SP_RECEIPT_CANONICAL_LEN],
                         sp_error *err) {
    assert(receipt != NULL);
    assert(out != NULL);
    if (receipt->amount_cents <= 0 || receipt->occurred_at_ms < 0 ||
        !pass_ref_valid(receipt->pass_ref) || !uuid_to_bytes(receipt->operation_id, out + 5) ||
        !uuid_to_bytes(receipt->partner_id, out + 21)) {
        return sp_error_set(err, 400, "malformed", NULL,
                            "a receipt needs two ids, a pass ref, "
                            "a positive amount and a time");
    }
    out[0] = SP_RECEIPT_VERSION;
    put_u32(out + 1, receipt->key_id);
    put_i64(out + 37, receipt->amount_cents);
    put_i64(out + 45, receipt->occurred_at_ms);
    memcpy(out + 53, receipt->pass_ref, SP_RECEIPT_PASS_REF_LEN);
    /* The decoder's reading of what was just written gives the receipt back. */
    assert(get_u32(out + 1) == receipt->key_id);
    assert(get_i64(out + 37) == receipt->amount_cents);
    assert(get_i64(out + 45) == receipt->occurred_at_ms);
    return 0;
}

int sp_receipt_sign(const sp_receipt_signer *signer, sp_receipt *receipt,
                    uint8_t signature[SP_RECEIPT_SIGNATURE_LEN], sp_error *err) {
    assert(signer != NULL);
    assert(receipt != NULL);
    assert(signature != NULL);
    uint8_t bytes[SP_RECEIPT_CANONICAL_LEN];
    receipt->key_id = signer->key_id;
    if (sp_receipt_canonical(receipt, bytes, err) != 0) return -1;
    crypto_sign_detached(signature, NULL, bytes, sizeof bytes, signer->secret_key);
    return 0;
}

int sp_receipt_encode(const sp_receipt *receipt, const uint8_t signature[SP_RECEIPT_SIGNATURE_LEN],
                      char out[SP_RECEIPT_TEXT_MAX + 1], sp_error *err) {
    uint8_t bytes[SP_RECEIPT_CANONICAL_LEN];
    if (sp_receipt_canonical(receipt, bytes, err) != 0) return -1;
    char body[sodium_base64_ENCODED_LEN(SP_RECEIPT_CANONICAL_LEN, B64URL)];
    char sig[sodium_base64_ENCODED_LEN(SP_RECEIPT_SIGNATURE_LEN, B64URL)];
    sodium_bin2base64(body, sizeof body, bytes, sizeof bytes, B64URL);
    sodium_bin2base64(sig, sizeof sig, signature, SP_RECEIPT_SIGNATURE_LEN, B64URL);
    int n = snprintf(out, SP_RECEIPT_TEXT_MAX + 1, "%s%s.%s", SP_RECEIPT_PREFIX, body, sig);
    assert(n > 0);
    assert(n <= SP_RECEIPT_TEXT_MAX);
    return 0;
}

static int refuse(sp_error *err, const char *reason, const char *message) {
    assert(reason != NULL);
    return sp_error_set(err, 422, reason, "receipt", "%s", message);
}

static int decode_part(const char *text, size_t len, uint8_t *out, size_t expected) {
    assert(text != NULL);
    assert(out != NULL);
    size_t bin_len = 0;
    const char *end = NULL;
    if (sodium_base642bin(out, expected, text, len, NULL, &bin_len, &end, B64URL) != 0) return -1;
    return bin_len == expected && end == text + len ? 0 : -1;
}

int sp_receipt_verify(const char *text, const sp_receipt_keyring *keys, sp_receipt *out,
                      sp_error *err) {
    assert(text != NULL);
    assert(keys != NULL);
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    size_t len = strnlen(text, SP_RECEIPT_TEXT_MAX + 1);
    if (len > SP_RECEIPT_TEXT_MAX)
        return refuse(err, "too_long", "this is not a receipt: too long");
    size_t prefix_len = strlen(SP_RECEIPT_PREFIX);
    if (strncmp(text, SP_RECEIPT_PREFIX, prefix_len) != 0) {
        return refuse(err, "wrong_version", "this is not a receipt of a version this server knows");
    }
    const char *body = text + prefix_len;
    const char *dot = memchr(body, '.', len - prefix_len);
    uint8_t bytes[SP_RECEIPT_CANONICAL_LEN], sig[SP_RECEIPT_SIGNATURE_LEN];
    if (dot == NULL || decode_part(body, (size_t)(dot - body), bytes, sizeof bytes) != 0 ||
        decode_part(dot + 1, (size_t)(text + len - dot - 1), sig, sizeof sig) != 0) {
        return refuse(err, "malformed", "the receipt's text is damaged or incomplete");
    }
    if (bytes[0] != SP_RECEIPT_VERSION) {
        return refuse(err, "wrong_version", "this is not a receipt of a version this server knows");
    }
    uint32_t key_id = get_u32(bytes + 1);
    const sp_receipt_key *key = NULL;
    for (size_t i = 0; i < keys->count && key == NULL; i++) {
        if (keys->keys[i].key_id == key_id) key = &keys->keys[i];
    }
    if (key == NULL) return refuse(err, "unknown_key", "the receipt was signed by an unknown key");
    if (crypto_sign_verify_detached(sig, bytes, sizeof bytes, key->public_key) != 0) {
        return refuse(err, "bad_signature", "the signature does not hold: the receipt was changed");
    }
    out->key_id = key_id;
    uuid_from_bytes(bytes + 5, out->operation_id);
    uuid_from_bytes(bytes + 21, out->partner_id);
    out->amount_cents = get_i64(bytes + 37);
    out->occurred_at_ms = get_i64(bytes + 45);
    memcpy(out->pass_ref, bytes + 53, SP_RECEIPT_PASS_REF_LEN);
    out->pass_ref[SP_RECEIPT_PASS_REF_LEN] = '\0';
    assert(out->key_id == key->key_id);
    if (out->amount_cents <= 0 || out->occurred_at_ms < 0 || !pass_ref_valid(out->pass_ref)) {
        return refuse(err, "malformed", "the receipt's content is not a payment");
    }
    return 0;
}
