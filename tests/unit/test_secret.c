/* test_secret.c - weak secrets refused at start: placeholders in any case,
 * too short, too few different bytes; random ones accepted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sp_secret.h"

static int check_key(const char *value, sp_error *err) {
    return sp_secret_check(value, "SP_LINK_SECRET", SP_SECRET_KEY_LEN_MIN,
                           SP_SECRET_KEY_DISTINCT_MIN, err);
}

static void test_random_keys_pass(void **state) {
    (void)state;
    sp_error err;
    /* openssl rand -base64 48 and -hex 32 */
    assert_int_equal(
        check_key("q0m3Jx2c9mYw1m1Nq6bS9tqM2Q8k3V5oZbq5l2Sx8pQ0n3V1Yd8Hc2Y8rKq4sE7F", &err), 0);
    assert_int_equal(
        check_key("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", &err), 0);
}

static void test_placeholders_are_refused_in_any_case(void **state) {
    (void)state;
    const char *const placeholders[] = {
        "change-me-to-48-random-bytes-in-base64-xxxxxxxxxxxx",
        "q0m3Jx2c9mYw1m1Nq6bS9tqM2Q8k3V5oZbq5l2Sx8pQ0n3V1Yd8Hc2Y8rKq4sE7F-CHANGEME",
        "Change_Me_q0m3Jx2c9mYw1m1Nq6bS9tqM2Q8k3V5o",
        "your-PLACEHOLDER-q0m3Jx2c9mYw1m1Nq6bS9tqM2Q8k3V5o",
    };
    for (size_t i = 0; i < sizeof placeholders / sizeof placeholders[0]; i++) {
        sp_error err;
        assert_int_equal(check_key(placeholders[i], &err), -1);
        assert_string_equal(err.code, "weak_secret");
        assert_string_equal(err.field, "SP_LINK_SECRET");
        assert_non_null(strstr(err.message, "placeholder"));
        assert_non_null(strstr(err.message, "openssl rand"));
    }
}

static void test_short_and_repetitive_keys_are_refused(void **state) {
    (void)state;
    sp_error err;
    assert_int_equal(check_key("q0m3Jx2c9mYw1m1Nq6bS9tqM2Q8k3V5", &err), -1); /* 31 bytes */
    assert_non_null(strstr(err.message, "31 bytes"));
    assert_int_equal(check_key("q0m3Jx2c9mYw1m1Nq6bS9tqM2Q8k3V5o", &err), 0); /* 32 bytes */
    assert_int_equal(check_key("abcabcabcabcabcabcabcabcabcabcabcabc", &err), -1);
    assert_non_null(strstr(err.message, "3 different"));
    assert_int_equal(check_key("", &err), -1);
    assert_int_equal(check_key(NULL, &err), -1);
}

static void test_passwords_have_their_own_minimum(void **state) {
    (void)state;
    sp_error err;
    assert_int_equal(sp_secret_check("backoffice-pass-1", "SP_BOOTSTRAP_PASSWORD",
                                     SP_SECRET_PASSWORD_LEN_MIN, SP_SECRET_PASSWORD_DISTINCT_MIN,
                                     &err),
                     0);
    assert_int_equal(sp_secret_check("change-me-at-once", "SP_BOOTSTRAP_PASSWORD",
                                     SP_SECRET_PASSWORD_LEN_MIN, SP_SECRET_PASSWORD_DISTINCT_MIN,
                                     &err),
                     -1);
    assert_string_equal(err.field, "SP_BOOTSTRAP_PASSWORD");
    assert_int_equal(sp_secret_check("Zk3Q9zP1xV7", "SP_BOOTSTRAP_PASSWORD",
                                     SP_SECRET_PASSWORD_LEN_MIN, SP_SECRET_PASSWORD_DISTINCT_MIN,
                                     &err),
                     -1);
    assert_int_equal(sp_secret_check("111111111111111", "SP_BOOTSTRAP_PASSWORD",
                                     SP_SECRET_PASSWORD_LEN_MIN, SP_SECRET_PASSWORD_DISTINCT_MIN,
                                     &err),
                     -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_keys_pass),
        cmocka_unit_test(test_placeholders_are_refused_in_any_case),
        cmocka_unit_test(test_short_and_repetitive_keys_are_refused),
        cmocka_unit_test(test_passwords_have_their_own_minimum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
