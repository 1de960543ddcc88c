/* test_ids.c - UUID v4 text, partner codes and their Luhn digit, hash keys
 * and bearer tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "sp_id.h"

#define GENERATED_COUNT 2000

static int setup(void **state) {
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

static int compare_ids(const void *a, const void *b) {
    return strcmp((const char *)a, (const char *)b);
}

static void test_id_new_is_valid_v4_and_distinct(void **state) {
    (void)state;
    static char ids[GENERATED_COUNT][SP_ID_LEN + 1];
    for (size_t i = 0; i < GENERATED_COUNT; i++) {
        sp_id_new(ids[i]);
        assert_int_equal(strlen(ids[i]), SP_ID_LEN);
        assert_true(sp_id_valid(ids[i]));
        assert_int_equal(ids[i][14], '4');
        assert_non_null(strchr("89ab", ids[i][19]));
    }
    qsort(ids, GENERATED_COUNT, sizeof ids[0], compare_ids);
    for (size_t i = 1; i < GENERATED_COUNT; i++) assert_string_not_equal(ids[i - 1], ids[i]);
}

static void test_id_valid_is_strict(void **state) {
    (void)state;
    assert_true(sp_id_valid("0f8fad5b-d9cb-469f-a165-70867728950e"));
    assert_true(sp_id_valid("00000000-0000-4000-8000-000000000000"));
    assert_true(sp_id_valid("ffffffff-ffff-4fff-bfff-ffffffffffff"));

    const char *bad[] = {
        NULL,
        "",
        "0F8FAD5B-D9CB-469F-A165-70867728950E",  /* upper case */
        "0f8fad5b-d9cb-169f-a165-70867728950e",  /* version 1 */
        "0f8fad5b-d9cb-469f-c165-70867728950e",  /* variant c */
        "0f8fad5b-d9cb-469f-7165-70867728950e",  /* variant 7 */
        "0f8fad5bd-9cb-469f-a165-70867728950e",  /* dash misplaced */
        "0f8fad5b-d9cb-469f-a165-70867728950",   /* 35 chars */
        "0f8fad5b-d9cb-469f-a165-70867728950e0", /* 37 chars */
        "0f8fad5b-d9cb-469f-a165-70867728950g",  /* not hex */
        "{f8fad5b-d9cb-469f-a165-70867728950e",
        "0f8fad5b d9cb 469f a165 70867728950e",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(sp_id_valid(bad[i]));
    }
}

static void test_luhn_known_values(void **state) {
    (void)state;
    assert_int_equal(sp_luhn_check_digit("7992739871"), '3');
    assert_true(sp_luhn_valid("79927398713"));
    assert_false(sp_luhn_valid("79927398710"));
    assert_int_equal(sp_luhn_check_digit("1234567"), '4');
    assert_true(sp_luhn_valid("12345674"));
    assert_false(sp_luhn_valid(""));
    assert_false(sp_luhn_valid(NULL));
    assert_false(sp_luhn_valid("1234567a"));
    assert_false(sp_luhn_valid("1234 5674"));
}

static void test_partner_code_new_valid_and_catches_typos(void **state) {
    (void)state;
    for (size_t n = 0; n < GENERATED_COUNT; n++) {
        char code[SP_PARTNER_CODE_LEN + 1];
        sp_partner_code_new(code);
        assert_int_equal(strlen(code), SP_PARTNER_CODE_LEN);
        assert_true(code[0] >= '1' && code[0] <= '9');
        for (size_t i = 0; i < SP_PARTNER_CODE_LEN; i++)
            assert_true(code[i] >= '0' && code[i] <= '9');
        assert_true(sp_luhn_valid(code));
        /* The check digit is the Luhn digit of the 7 others. */
        char payload[SP_PARTNER_CODE_LEN];
        memcpy(payload, code, SP_PARTNER_CODE_LEN - 1);
        payload[SP_PARTNER_CODE_LEN - 1] = '\0';
        assert_int_equal(sp_luhn_check_digit(payload), code[SP_PARTNER_CODE_LEN - 1]);
        /* Every single-digit substitution anywhere is caught. */
        for (size_t i = 0; i < SP_PARTNER_CODE_LEN; i++) {
            for (char d = '0'; d <= '9'; d++) {
                if (d == code[i]) continue;
                char typo[SP_PARTNER_CODE_LEN + 1];
                memcpy(typo, code, sizeof typo);
                typo[i] = d;
                assert_false(sp_luhn_valid(typo));
            }
        }
    }
}

static void test_any_seven_digits_plus_check_digit_validates(void **state) {
    (void)state;
    for (uint32_t n = 1000000; n <= 9999999; n += 7919) {
        char code[16];
        snprintf(code, sizeof code, "%07u", (unsigned)n);
        code[7] = sp_luhn_check_digit(code);
        code[8] = '\0';
        assert_true(sp_luhn_valid(code));
    }
}

static void test_partner_code_normalize(void **state) {
    (void)state;
    char out[SP_PARTNER_CODE_LEN + 1];
    assert_true(sp_partner_code_normalize("12345674", out));
    assert_string_equal(out, "12345674");
    assert_true(sp_partner_code_normalize("1234-5674", out));
    assert_string_equal(out, "12345674");
    assert_true(sp_partner_code_normalize(" 12 34 56 74 ", out));
    assert_string_equal(out, "12345674");
    assert_true(sp_partner_code_normalize("1-2-3-4 5-6-7-4", out));
    assert_string_equal(out, "12345674");

    const char *bad[] = {
        NULL,        "",
        "   ",       "1234567",
        "123456745", "1234a674",
        "1234_5674", "12345674\n",
        "１2345674", "1234567412345674123456741234567412345674123456741234567412345674"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(sp_partner_code_normalize(bad[i], out));
        assert_true(strlen(out) <= SP_PARTNER_CODE_LEN);
    }
}

static void test_key_of_separates_parts(void **state) {
    (void)state;
    uint8_t k1[SP_KEY_LEN], k2[SP_KEY_LEN];
    sp_key_of(k1, "pass", "actor", "cmd", NULL);
    sp_key_of(k2, "pass", "actor", "cmd", NULL);
    assert_memory_equal(k1, k2, SP_KEY_LEN);

    sp_key_of(k1, "ab", "c", NULL, NULL);
    sp_key_of(k2, "a", "bc", NULL, NULL);
    assert_memory_not_equal(k1, k2, SP_KEY_LEN);

    sp_key_of(k1, "abc", NULL, NULL, NULL);
    sp_key_of(k2, "abc", "", NULL, NULL);
    assert_memory_not_equal(k1, k2, SP_KEY_LEN);

    sp_key_of(k1, "pass", "actor", "cmd", NULL);
    sp_key_of(k2, "pass", "actor", "cmd", "x");
    assert_memory_not_equal(k1, k2, SP_KEY_LEN);

    /* A NULL part ends the list: what follows it is not hashed. */
    sp_key_of(k1, "a", NULL, "ignored", NULL);
    sp_key_of(k2, "a", NULL, NULL, NULL);
    assert_memory_equal(k1, k2, SP_KEY_LEN);

    /* It is BLAKE2b-128 over (8-byte little-endian length, bytes) per part. */
    uint8_t expected[SP_KEY_LEN];
    const uint8_t input[] = {2, 0, 0, 0, 0, 0, 0, 0, 'a', 'b'};
    crypto_generichash(expected, SP_KEY_LEN, input, sizeof input, NULL, 0);
    sp_key_of(k1, "ab", NULL, NULL, NULL);
    assert_memory_equal(k1, expected, SP_KEY_LEN);
}

static void test_id_from_key_is_stable_v4(void **state) {
    (void)state;
    uint8_t key[SP_KEY_LEN], other[SP_KEY_LEN];
    char id[SP_ID_LEN + 1], again[SP_ID_LEN + 1], next[SP_ID_LEN + 1];
    sp_key_of(key, "refund-request", "5d4c3b2a-1f0e-4d9c-ab8a-7f6e5d4c3b2a", "2026-11", NULL);
    sp_key_of(other, "refund-request", "5d4c3b2a-1f0e-4d9c-ab8a-7f6e5d4c3b2a", "2026-12", NULL);
    sp_id_from_key(key, id);
    sp_id_from_key(key, again);
    sp_id_from_key(other, next);
    assert_true(sp_id_valid(id));
    assert_int_equal(id[14], '4');
    assert_true(strchr("89ab", id[19]) != NULL);
    assert_string_equal(id, again);
    assert_string_not_equal(id, next);
}

static void test_token_new_and_hash(void **state) {
    (void)state;
    char t1[SP_TOKEN_LEN + 1], t2[SP_TOKEN_LEN + 1];
    sp_token_new(t1);
    sp_token_new(t2);
    assert_int_equal(strlen(t1), SP_TOKEN_LEN);
    assert_string_not_equal(t1, t2);
    for (size_t i = 0; i < SP_TOKEN_LEN; i++) {
        assert_non_null(
            strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", t1[i]));
    }
    /* The 43 characters decode back to 32 bytes. */
    uint8_t raw[32];
    size_t raw_len = 0;
    assert_int_equal(sodium_base642bin(raw, sizeof raw, t1, strlen(t1), NULL, &raw_len, NULL,
                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     0);
    assert_int_equal(raw_len, 32);

    uint8_t h1[SP_TOKEN_HASH_LEN], h2[SP_TOKEN_HASH_LEN];
    sp_token_hash(t1, h1);
    sp_token_hash(t1, h2);
    assert_memory_equal(h1, h2, SP_TOKEN_HASH_LEN);
    sp_token_hash(t2, h2);
    assert_memory_not_equal(h1, h2, SP_TOKEN_HASH_LEN);

    /* BLAKE2b-256("abc"), the published test vector. */
    const uint8_t abc[SP_TOKEN_HASH_LEN] = {0xbd, 0xdd, 0x81, 0x3c, 0x63, 0x42, 0x39, 0x72,
                                            0x31, 0x71, 0xef, 0x3f, 0xee, 0x98, 0x57, 0x9b,
                                            0x94, 0x96, 0x4e, 0x3b, 0xb1, 0xcb, 0x3e, 0x42,
                                            0x72, 0x62, 0xc8, 0xc0, 0x68, 0xd5, 0x23, 0x19};
    sp_token_hash("abc", h1);
    assert_memory_equal(h1, abc, SP_TOKEN_HASH_LEN);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_new_is_valid_v4_and_distinct),
        cmocka_unit_test(test_id_valid_is_strict),
        cmocka_unit_test(test_id_from_key_is_stable_v4),
        cmocka_unit_test(test_luhn_known_values),
        cmocka_unit_test(test_partner_code_new_valid_and_catches_typos),
        cmocka_unit_test(test_any_seven_digits_plus_check_digit_validates),
        cmocka_unit_test(test_partner_code_normalize),
        cmocka_unit_test(test_key_of_separates_parts),
        cmocka_unit_test(test_token_new_and_hash),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
