/* test_voucher_number.c - exchange voucher numbers: the Damm check digit
 * catches every single mistyped digit and every swap of two neighbouring
 * digits (checked exhaustively on a sample of generated numbers), numbers
 * are random and well formed, typed forms are normalized. */
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
#include "sp_voucher_number.h"

#define SAMPLE_COUNT 2000

static int setup(void **state) {
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

static int compare_numbers(const void *a, const void *b) {
    return strcmp((const char *)a, (const char *)b);
}

static void test_new_numbers_are_valid_random_and_distinct(void **state) {
    (void)state;
    static char numbers[SAMPLE_COUNT][SP_VOUCHER_NUMBER_LEN + 1];
    unsigned digit_counts[10] = {0};
    for (size_t i = 0; i < SAMPLE_COUNT; i++) {
        sp_voucher_number_new(numbers[i]);
        assert_int_equal(strlen(numbers[i]), SP_VOUCHER_NUMBER_LEN);
        assert_true(sp_voucher_number_valid(numbers[i]));
        assert_true(numbers[i][0] != '0');
        for (size_t k = 1; k < SP_VOUCHER_NUMBER_LEN - 1; k++) digit_counts[numbers[i][k] - '0']++;
    }
    qsort(numbers, SAMPLE_COUNT, sizeof numbers[0], compare_numbers);
    for (size_t i = 1; i < SAMPLE_COUNT; i++) assert_string_not_equal(numbers[i - 1], numbers[i]);
    /* 28 000 random digits: each value near 2 800; a sequence or a stuck
     * generator would be far off. */
    for (size_t d = 0; d < 10; d++) {
        assert_in_range(digit_counts[d], 2400, 3200);
    }
}

static void test_every_single_digit_error_is_caught(void **state) {
    (void)state;
    size_t checked = 0;
    for (size_t n = 0; n < SAMPLE_COUNT; n++) {
        char number[SP_VOUCHER_NUMBER_LEN + 1];
        sp_voucher_number_new(number);
        for (size_t pos = 0; pos < SP_VOUCHER_NUMBER_LEN; pos++) {
            for (char digit = '0'; digit <= '9'; digit++) {
                if (digit == number[pos]) continue;
                char typo[SP_VOUCHER_NUMBER_LEN + 1];
                memcpy(typo, number, sizeof typo);
                typo[pos] = digit;
                assert_false(sp_damm_valid(typo));
                assert_false(sp_voucher_number_valid(typo));
                checked++;
            }
        }
    }
    assert_int_equal(checked, (size_t)SAMPLE_COUNT * SP_VOUCHER_NUMBER_LEN * 9);
}

static void test_every_adjacent_swap_is_caught(void **state) {
    (void)state;
    size_t checked = 0;
    for (size_t n = 0; n < SAMPLE_COUNT; n++) {
        char number[SP_VOUCHER_NUMBER_LEN + 1];
        sp_voucher_number_new(number);
        for (size_t pos = 0; pos + 1 < SP_VOUCHER_NUMBER_LEN; pos++) {
            if (number[pos] == number[pos + 1]) continue; /* a swap that changes nothing */
            char swapped[SP_VOUCHER_NUMBER_LEN + 1];
            memcpy(swapped, number, sizeof swapped);
            swapped[pos] = number[pos + 1];
            swapped[pos + 1] = number[pos];
            assert_false(sp_damm_valid(swapped));
            checked++;
        }
    }
    assert_true(checked > (size_t)SAMPLE_COUNT * 12);
}

static void test_every_pair_swap_is_caught_where_luhn_fails(void **state) {
    (void)state;
    /* All 90 ordered pairs of different digits, in every position of a fixed prefix. */
    char base[SP_VOUCHER_NUMBER_LEN];
    memcpy(base, "418207395561230", SP_VOUCHER_NUMBER_LEN - 1);
    base[SP_VOUCHER_NUMBER_LEN - 1] = '\0';
    for (char a = '0'; a <= '9'; a++) {
        for (char b = '0'; b <= '9'; b++) {
            if (a == b) continue;
            for (size_t pos = 1; pos + 1 < SP_VOUCHER_NUMBER_LEN - 1; pos++) {
                char good[SP_VOUCHER_NUMBER_LEN + 1];
                memcpy(good, base, SP_VOUCHER_NUMBER_LEN);
                good[pos] = a;
                good[pos + 1] = b;
                good[SP_VOUCHER_NUMBER_LEN - 1] = sp_damm_check_digit(good);
                good[SP_VOUCHER_NUMBER_LEN] = '\0';
                assert_true(sp_voucher_number_valid(good));
                good[pos] = b;
                good[pos + 1] = a;
                assert_false(sp_voucher_number_valid(good));
            }
        }
    }
    /* The swap Luhn cannot see: "09" <-> "90" keeps a Luhn sum, not a Damm one. */
    assert_int_equal(sp_luhn_valid("1090"), sp_luhn_valid("1900"));
    char with_check[6] = "1090";
    with_check[4] = sp_damm_check_digit("1090");
    with_check[5] = '\0';
    assert_true(sp_damm_valid(with_check));
    with_check[1] = '9';
    with_check[2] = '0';
    assert_false(sp_damm_valid(with_check));
}

static void test_known_damm_values(void **state) {
    (void)state;
    /* The textbook example: 572 gets the check digit 4. */
    assert_int_equal(sp_damm_check_digit("572"), '4');
    assert_true(sp_damm_valid("5724"));
    assert_false(sp_damm_valid("5723"));
    assert_false(sp_damm_valid(""));
    assert_false(sp_damm_valid("57a4"));
}

static void test_typed_forms_are_normalized(void **state) {
    (void)state;
    char number[SP_VOUCHER_NUMBER_LEN + 1];
    sp_voucher_number_new(number);
    char grouped[SP_VOUCHER_NUMBER_GROUPED_LEN + 1];
    sp_voucher_number_group(number, grouped);
    assert_int_equal(strlen(grouped), SP_VOUCHER_NUMBER_GROUPED_LEN);
    assert_int_equal(grouped[4], ' ');
    assert_int_equal(grouped[9], ' ');
    assert_int_equal(grouped[14], ' ');
    char out[SP_VOUCHER_NUMBER_LEN + 1];
    assert_true(sp_voucher_number_normalize(grouped, out));
    assert_string_equal(out, number);
    char dashed[SP_VOUCHER_NUMBER_GROUPED_LEN + 1];
    memcpy(dashed, grouped, sizeof dashed);
    dashed[4] = dashed[9] = dashed[14] = '-';
    assert_true(sp_voucher_number_normalize(dashed, out));
    assert_string_equal(out, number);

    const char *refused[] = {NULL,
                             "",
                             "123456789012345",
                             "12345678901234567",
                             "1234 5678 9012 345x",
                             "1234.5678.9012.3456",
                             "１２３４５６７８９０１２３４５６"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        assert_false(sp_voucher_number_normalize(refused[i], out));
        assert_string_equal(out, "");
    }
    /* A leading zero is never issued, so it is refused even with a right check digit. */
    char zero[SP_VOUCHER_NUMBER_LEN + 1] = "012345678901234";
    zero[SP_VOUCHER_NUMBER_LEN - 1] = sp_damm_check_digit(zero);
    zero[SP_VOUCHER_NUMBER_LEN] = '\0';
    assert_true(sp_damm_valid(zero));
    assert_false(sp_voucher_number_valid(zero));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_numbers_are_valid_random_and_distinct),
        cmocka_unit_test(test_every_single_digit_error_is_caught),
        cmocka_unit_test(test_every_adjacent_swap_is_caught),
        cmocka_unit_test(test_every_pair_swap_is_caught_where_luhn_fails),
        cmocka_unit_test(test_known_damm_values),
        cmocka_unit_test(test_typed_forms_are_normalized),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
