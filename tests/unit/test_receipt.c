/* test_receipt.c - payment receipts: what the ledger signs verifies with its
 * published key and gives back the same payment; one byte changed, an unknown
 * key, another version or an over-long text are refused with their reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "sp_receipt.h"

#define OPERATION_ID "3f2c8a4e-9b1d-4c6e-8f00-1a2b3c4d5e6f"
#define PARTNER_ID "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define PASS_ID "11111111-2222-4333-8444-55555555abcd"

static void seed_base64(unsigned char fill, char out[64]) {
    uint8_t seed[crypto_sign_SEEDBYTES];
    memset(seed, fill, sizeof seed);
    sodium_bin2base64(out, 64, seed, sizeof seed, sodium_base64_VARIANT_ORIGINAL);
}

static void public_base64(const sp_receipt_signer *signer, char out[64]) {
    sodium_bin2base64(out, 64, signer->public_key, sizeof signer->public_key,
                      sodium_base64_VARIANT_ORIGINAL);
}

static void make_receipt(const sp_receipt_signer *signer, char text[SP_RECEIPT_TEXT_MAX + 1]) {
    sp_receipt r = {.amount_cents = 1250, .occurred_at_ms = 1765000000123};
    strcpy(r.operation_id, OPERATION_ID);
    strcpy(r.partner_id, PARTNER_ID);
    sp_receipt_pass_ref(PASS_ID, r.pass_ref);
    uint8_t sig[SP_RECEIPT_SIGNATURE_LEN];
    sp_error err;
    assert_int_equal(sp_receipt_sign(signer, &r, sig, &err), 0);
    assert_int_equal(sp_receipt_encode(&r, sig, text, &err), 0);
}

static void load(unsigned char fill, sp_receipt_signer *signer, sp_receipt_keyring *keys) {
    char seed[64], pub[64];
    sp_error err;
    seed_base64(fill, seed);
    assert_int_equal(sp_receipt_signer_load(seed, signer, &err), 0);
    public_base64(signer, pub);
    assert_int_equal(sp_receipt_keyring_parse(pub, keys, &err), 0);
}

static void test_round_trip(void **state) {
    (void)state;
    sp_receipt_signer signer;
    sp_receipt_keyring keys;
    load(7, &signer, &keys);
    char text[SP_RECEIPT_TEXT_MAX + 1];
    make_receipt(&signer, text);
    assert_true(strncmp(text, "SPR1.", 5) == 0);
    assert_true(strlen(text) < 300);
    sp_receipt got;
    sp_error err;
    assert_int_equal(sp_receipt_verify(text, &keys, &got, &err), 0);
    assert_string_equal(got.operation_id, OPERATION_ID);
    assert_string_equal(got.partner_id, PARTNER_ID);
    assert_int_equal(got.amount_cents, 1250);
    assert_int_equal(got.occurred_at_ms, 1765000000123);
    assert_string_equal(got.pass_ref, "abcd");
    assert_int_equal(got.key_id, signer.key_id);
    /* Deterministic: a rebuilt state signs the very same receipt. */
    char again[SP_RECEIPT_TEXT_MAX + 1];
    make_receipt(&signer, again);
    assert_string_equal(text, again);
}

static void test_one_byte_changed_refused(void **state) {
    (void)state;
    sp_receipt_signer signer;
    sp_receipt_keyring keys;
    load(7, &signer, &keys);
    char text[SP_RECEIPT_TEXT_MAX + 1];
    make_receipt(&signer, text);
    size_t len = strlen(text);
    for (size_t i = 5; i < len; i++) {
        if (text[i] == '.') continue;
        char changed[SP_RECEIPT_TEXT_MAX + 1];
        strcpy(changed, text);
        changed[i] = changed[i] == 'A' ? 'B' : 'A';
        sp_receipt got;
        sp_error err;
        assert_int_not_equal(sp_receipt_verify(changed, &keys, &got, &err), 0);
    }
}

static void test_unknown_key_refused_and_rotation(void **state) {
    (void)state;
    sp_receipt_signer old_signer, new_signer;
    sp_receipt_keyring old_keys, new_keys;
    load(7, &old_signer, &old_keys);
    load(9, &new_signer, &new_keys);
    char text[SP_RECEIPT_TEXT_MAX + 1];
    make_receipt(&old_signer, text);
    sp_receipt got;
    sp_error err;
    assert_int_not_equal(sp_receipt_verify(text, &new_keys, &got, &err), 0);
    assert_string_equal(err.code, "unknown_key");
    /* After a rotation the gateway publishes the new key first, the old one after. */
    char old_pub[64], new_pub[64], list[140];
    public_base64(&old_signer, old_pub);
    public_base64(&new_signer, new_pub);
    snprintf(list, sizeof list, "%s,%s", new_pub, old_pub);
    sp_receipt_keyring both;
    assert_int_equal(sp_receipt_keyring_parse(list, &both, &err), 0);
    assert_int_equal(both.count, 2);
    assert_int_equal(sp_receipt_verify(text, &both, &got, &err), 0);
}

static void test_wrong_version_refused(void **state) {
    (void)state;
    sp_receipt_signer signer;
    sp_receipt_keyring keys;
    load(7, &signer, &keys);
    char text[SP_RECEIPT_TEXT_MAX + 1];
    make_receipt(&signer, text);
    text[3] = '2';
    sp_receipt got;
    sp_error err;
    assert_int_not_equal(sp_receipt_verify(text, &keys, &got, &err), 0);
    assert_string_equal(err.code, "wrong_version");
}

static void test_over_long_and_malformed_refused(void **state) {
    (void)state;
    sp_receipt_signer signer;
    sp_receipt_keyring keys;
    load(7, &signer, &keys);
    char text[SP_RECEIPT_TEXT_MAX + 1], longer[SP_RECEIPT_TEXT_MAX + 40];
    make_receipt(&signer, text);
    snprintf(longer, sizeof longer, "%sAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", text);
    sp_receipt got;
    sp_error err;
    assert_int_not_equal(sp_receipt_verify(longer, &keys, &got, &err), 0);
    assert_string_equal(err.code, "too_long");
    assert_int_not_equal(sp_receipt_verify("SPR1.abc", &keys, &got, &err), 0);
    assert_string_equal(err.code, "malformed");
    assert_int_not_equal(sp_receipt_verify("", &keys, &got, &err), 0);
}

static void test_bad_keys_refused(void **state) {
    (void)state;
    sp_receipt_signer signer;
    sp_receipt_keyring keys;
    sp_error err;
    assert_int_not_equal(sp_receipt_signer_load("not base64!", &signer, &err), 0);
    assert_string_equal(err.code, "invalid_receipt_key");
    assert_int_not_equal(sp_receipt_signer_load("", &signer, &err), 0);
    assert_int_not_equal(sp_receipt_keyring_parse("AAAA", &keys, &err), 0);
    /* The 64-byte form gives the same key as its seed. */
    uint8_t pk[32], sk[64], seed[32];
    memset(seed, 7, sizeof seed);
    crypto_sign_seed_keypair(pk, sk, seed);
    char sk64[100];
    sodium_bin2base64(sk64, sizeof sk64, sk, sizeof sk, sodium_base64_VARIANT_ORIGINAL);
    assert_int_equal(sp_receipt_signer_load(sk64, &signer, &err), 0);
    assert_memory_equal(signer.public_key, pk, 32);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_one_byte_changed_refused),
        cmocka_unit_test(test_unknown_key_refused_and_rotation),
        cmocka_unit_test(test_wrong_version_refused),
        cmocka_unit_test(test_over_long_and_malformed_refused),
        cmocka_unit_test(test_bad_keys_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
