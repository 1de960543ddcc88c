/* sp_receipt.h - the payment receipt: canonical bytes of one accepted payment
 * signed by the ledger with Ed25519 (libsodium), printed as
 * "SPR1.<base64url canonical>.<base64url signature>" (docs/api.md, Receipts).
 * Pure: no I/O. The transactions service signs, the gateway verifies with the
 * published public keys (several, so that keys can be rotated).
 *
 * Canonical bytes (57, big-endian): version (1) | key id (4) | operation id
 * (16, the UUID) | partner id (16) | amount cents (8) | occurred at ms UTC (8)
 * | pass ref (4: the last 4 characters of the pass id, no personal data).
 *
 * Memory: every struct here is a plain value; callers own their buffers. */
#ifndef SP_RECEIPT_H
#define SP_RECEIPT_H

#include <stddef.h>
#include <stdint.h>
#include "sp_error.h"
#include "sp_id.h"

#define SP_RECEIPT_VERSION 1
#define SP_RECEIPT_PREFIX "SPR1."
#define SP_RECEIPT_CANONICAL_LEN 57
#define SP_RECEIPT_SIGNATURE_LEN 64
#define SP_RECEIPT_PUBLIC_KEY_LEN 32
#define SP_RECEIPT_SECRET_KEY_LEN 64
#define SP_RECEIPT_PASS_REF_LEN 4
#define SP_RECEIPT_TEXT_MAX 200        /* 5 + 76 + 1 + 86 = 168 today */
#define SP_RECEIPT_KEY_ID_TEXT_LEN 8   /* 8 lowercase hex digits */
#define SP_RECEIPT_KEYS_MAX 8          /* public keys that still verify */
#define SP_RECEIPT_KEY_SETTING_MAX 128 /* base64 of a 64-byte key is 88 */

typedef struct sp_receipt {
    uint32_t key_id;
    char operation_id[SP_ID_LEN + 1];
    char partner_id[SP_ID_LEN + 1];
    int64_t amount_cents;
    int64_t occurred_at_ms;
    char pass_ref[SP_RECEIPT_PASS_REF_LEN + 1];
} sp_receipt;

typedef struct sp_receipt_signer {
    uint32_t key_id;
    uint8_t secret_key[SP_RECEIPT_SECRET_KEY_LEN];
    uint8_t public_key[SP_RECEIPT_PUBLIC_KEY_LEN];
} sp_receipt_signer;

typedef struct sp_receipt_key {
    uint32_t key_id;
    uint8_t public_key[SP_RECEIPT_PUBLIC_KEY_LEN];
} sp_receipt_key;

typedef struct sp_receipt_keyring {
    size_t count;
    sp_receipt_key keys[SP_RECEIPT_KEYS_MAX];
} sp_receipt_keyring;

/* The key id: the first 4 bytes of BLAKE2b-256 of the public key. */
uint32_t sp_receipt_key_id(const uint8_t public_key[SP_RECEIPT_PUBLIC_KEY_LEN]);
void sp_receipt_key_id_text(uint32_t key_id, char out[SP_RECEIPT_KEY_ID_TEXT_LEN + 1]);

/* From base64 (standard, padded) of the 64-byte libsodium secret key or of a
 * 32-byte seed. 400 invalid_receipt_key with the reason otherwise. */
int sp_receipt_signer_load(const char *base64, sp_receipt_signer *out, sp_error *err);

/* A comma-separated list of base64 public keys; the first is the current one. */
int sp_receipt_keyring_parse(const char *list, sp_receipt_keyring *out, sp_error *err);

/* The pass ref of a pass id: its last 4 characters. */
void sp_receipt_pass_ref(const char *pass_id, char out[SP_RECEIPT_PASS_REF_LEN + 1]);

int sp_receipt_canonical(const sp_receipt *receipt, uint8_t out[SP_RECEIPT_CANONICAL_LEN],
                         sp_error *err);

/* Sets receipt->key_id to the signer's and signs; deterministic. */
int sp_receipt_sign(const sp_receipt_signer *signer, sp_receipt *receipt,
                    uint8_t signature[SP_RECEIPT_SIGNATURE_LEN], sp_error *err);

int sp_receipt_encode(const sp_receipt *receipt, const uint8_t signature[SP_RECEIPT_SIGNATURE_LEN],
                      char out[SP_RECEIPT_TEXT_MAX + 1], sp_error *err);

/* Parses and checks the signature with the keyring. On refusal, err->code is
 * the reason: too_long, wrong_version, malformed, unknown_key, bad_signature. */
int sp_receipt_verify(const char *text, const sp_receipt_keyring *keys, sp_receipt *out,
                      sp_error *err);

#endif
