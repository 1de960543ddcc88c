/* test_money.c - checked cent arithmetic, amount validation, French format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sp_money.h"

static void test_add_sums_and_detects_overflow(void **state) {
    (void)state;
    int64_t out = 0;
    assert_true(sp_money_add(1250, 750, &out));
    assert_int_equal(out, 2000);
    assert_true(sp_money_add(-500, 200, &out));
    assert_int_equal(out, -300);
    assert_true(sp_money_add(INT64_MAX - 1, 1, &out));
    assert_true(out == INT64_MAX);

    out = 42;
    assert_false(sp_money_add(INT64_MAX, 1, &out));
    assert_int_equal(out, 42); /* untouched on overflow */
    assert_false(sp_money_add(1, INT64_MAX, &out));
    assert_false(sp_money_add(INT64_MIN, -1, &out));
    assert_false(sp_money_add(INT64_MAX, INT64_MAX, &out));
    assert_int_equal(out, 42);
}

static void test_sub_subtracts_and_detects_overflow(void **state) {
    (void)state;
    int64_t out = 0;
    assert_true(sp_money_sub(1000, 1234, &out));
    assert_int_equal(out, -234);
    assert_true(sp_money_sub(INT64_MIN + 1, 1, &out));
    assert_true(out == INT64_MIN);

    out = 7;
    assert_false(sp_money_sub(INT64_MIN, 1, &out));
    assert_false(sp_money_sub(0, INT64_MIN, &out));
    assert_false(sp_money_sub(INT64_MAX, -1, &out));
    assert_int_equal(out, 7);
}

static void test_validate_amount_bounds(void **state) {
    (void)state;
    sp_error err;
    sp_error_clear(&err);
    assert_int_equal(sp_money_validate_amount(1, 100000, "amount_cents", &err), 0);
    assert_int_equal(sp_money_validate_amount(100000, 100000, "amount_cents", &err), 0);

    int64_t bad[] = {0, -1, 100001, INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sp_error_clear(&err);
        assert_int_equal(sp_money_validate_amount(bad[i], 100000, "amount_cents", &err), -1);
        assert_int_equal(err.http_status, 422);
        assert_string_equal(err.code, "invalid_amount");
        assert_string_equal(err.field, "amount_cents");
        /* The ceiling is told in euros, as a person reads it. */
        assert_non_null(strstr(err.message, "1000,00 €"));
    }
}

static void test_format_french(void **state) {
    (void)state;
    char out[SP_MONEY_FORMAT_MAX];
    struct {
        int64_t cents;
        const char *text;
    } cases[] = {
        {1234, "12,34 €"},
        {0, "0,00 €"},
        {5, "0,05 €"},
        {10, "0,10 €"},
        {100000, "1000,00 €"},
        {-1234, "-12,34 €"},
        {-5, "-0,05 €"},
        {INT64_MAX, "92233720368547758,07 €"},
        {INT64_MIN, "-92233720368547758,08 €"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sp_money_format_eur(cases[i].cents, out, sizeof out);
        assert_string_equal(out, cases[i].text);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_sums_and_detects_overflow),
        cmocka_unit_test(test_sub_subtracts_and_detects_overflow),
        cmocka_unit_test(test_validate_amount_bounds),
        cmocka_unit_test(test_format_french),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
