/* test_inflight.c - requests in progress per client address: at most the
 * bound per address, others unaffected, counts given back at the end, and
 * a table that never fills however many addresses come and go. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "gateway/http/inflight.h"

static void test_one_address_is_bounded_and_others_are_not(void **state) {
    (void)state;
    sp_gw_inflight *t = sp_gw_inflight_new(8, 3);
    assert_non_null(t);
    for (int i = 0; i < 3; i++) assert_true(sp_gw_inflight_enter(t, "203.0.113.7"));
    assert_false(sp_gw_inflight_enter(t, "203.0.113.7"));
    assert_int_equal(sp_gw_inflight_count(t, "203.0.113.7"), 3);
    assert_true(sp_gw_inflight_enter(t, "2001:db8::1"));
    assert_int_equal(sp_gw_inflight_count(t, "198.51.100.1"), 0);
    sp_gw_inflight_leave(t, "203.0.113.7");
    assert_true(sp_gw_inflight_enter(t, "203.0.113.7"));
    assert_false(sp_gw_inflight_enter(t, "203.0.113.7"));
    for (int i = 0; i < 3; i++) sp_gw_inflight_leave(t, "203.0.113.7");
    sp_gw_inflight_leave(t, "2001:db8::1");
    assert_int_equal(sp_gw_inflight_count(t, "203.0.113.7"), 0);
    sp_gw_inflight_free(t);
}

static void test_addresses_come_and_go_without_filling_the_table(void **state) {
    (void)state;
    enum { THREADS = 16 };
    sp_gw_inflight *t = sp_gw_inflight_new(THREADS, 2);
    assert_non_null(t);
    char held[THREADS][32];
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < THREADS; i++) {
            snprintf(held[i], sizeof held[i], "10.%d.%d.%d", round % 250, i, round / 250);
            assert_true(sp_gw_inflight_enter(t, held[i]));
        }
        for (int i = 0; i < THREADS; i++) sp_gw_inflight_leave(t, held[i]);
    }
    /* A long address is counted by its first 63 bytes, never overrun. */
    char long_address[200];
    memset(long_address, 'a', sizeof long_address - 1);
    long_address[sizeof long_address - 1] = '\0';
    assert_true(sp_gw_inflight_enter(t, long_address));
    assert_int_equal(sp_gw_inflight_count(t, long_address), 1);
    sp_gw_inflight_leave(t, long_address);
    sp_gw_inflight_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_address_is_bounded_and_others_are_not),
        cmocka_unit_test(test_addresses_come_and_go_without_filling_the_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
