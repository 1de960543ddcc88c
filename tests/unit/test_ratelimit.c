/* test_ratelimit.c - failed-login counting: the limit, its window, a
 * success that clears it, and a full table that forgets only the oldest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "gateway/ratelimit.h"

#define WINDOW_MS INT64_C(900000)
#define T0 INT64_C(1795766400000)

static void test_blocks_after_the_limit_until_the_window_ends(void **state) {
    (void)state;
    sp_gw_ratelimit *limit = sp_gw_ratelimit_new(1024, 5, WINDOW_MS);
    assert_non_null(limit);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(sp_gw_ratelimit_wait_ms(limit, "a@example.org", T0 + i), 0);
        sp_gw_ratelimit_fail(limit, "a@example.org", T0 + i);
    }
    assert_int_equal(sp_gw_ratelimit_wait_ms(limit, "a@example.org", T0 + 10), WINDOW_MS - 10);
    assert_int_equal(sp_gw_ratelimit_wait_ms(limit, "b@example.org", T0 + 10), 0);
    assert_int_equal(sp_gw_ratelimit_wait_ms(limit, "a@example.org", T0 + WINDOW_MS - 1), 1);
    assert_int_equal(sp_gw_ratelimit_wait_ms(limit, "a@example.org", T0 + WINDOW_MS), 0);
    /* a new window starts with the next failure */
    sp_gw_ratelimit_fail(limit, "a@example.org", T0 + WINDOW_MS);
    assert_int_equal(sp_gw_ratelimit_wait_ms(limit, "a@example.org", T0 + WINDOW_MS + 1), 0);
    sp_gw_ratelimit_free(limit);
}

static void test_success_clears(void **state) {
    (void)state;
    sp_gw_ratelimit *limit = sp_gw_ratelimit_new(1024, 2, WINDOW_MS);
    sp_gw_ratelimit_fail(limit, "k", T0);
    sp_gw_ratelimit_clear(limit, "k");
    sp_gw_ratelimit_fail(limit, "k", T0 + 1);
    assert_int_equal(sp_gw_ratelimit_wait_ms(limit, "k", T0 + 2), 0);
    sp_gw_ratelimit_fail(limit, "k", T0 + 2);
    assert_true(sp_gw_ratelimit_wait_ms(limit, "k", T0 + 3) > 0);
    sp_gw_ratelimit_free(limit);
}

/* Many more keys than slots: the table stays bounded and a key being
 * attacked now is not pushed out by older ones. */
static void test_bounded_table_keeps_recent_keys(void **state) {
    (void)state;
    sp_gw_ratelimit *limit = sp_gw_ratelimit_new(64, 3, WINDOW_MS);
    for (int i = 0; i < 10000; i++) {
        char key[32];
        snprintf(key, sizeof key, "old-%d", i);
        sp_gw_ratelimit_fail(limit, key, T0 + i % 100);
    }
    for (int i = 0; i < 3; i++) sp_gw_ratelimit_fail(limit, "victim", T0 + 1000);
    assert_true(sp_gw_ratelimit_wait_ms(limit, "victim", T0 + 1001) > 0);
    sp_gw_ratelimit_free(limit);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_after_the_limit_until_the_window_ends),
        cmocka_unit_test(test_success_clears),
        cmocka_unit_test(test_bounded_table_keeps_recent_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
