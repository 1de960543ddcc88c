/* test_offsets_notice.c - the projection's offsets as a notification's
 * payload: what the projection writes, the gateway reads back, and what it
 * refuses (then reads the table instead). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sp_offsets_notice.h"

static void test_round_trip(void **state) {
    (void)state;
    char buf[SP_OFFSETS_NOTICE_BYTES_MAX] = "";
    assert_true(sp_offsets_notice_append(buf, sizeof buf, "solipass.ledger.events.v1", 7, 12345));
    assert_true(sp_offsets_notice_append(buf, sizeof buf, "solipass.accounts.events.v1", 0, 0));
    assert_string_equal(buf,
                        "solipass.ledger.events.v1 7 12345\nsolipass.accounts.events.v1 0 0\n");
    sp_offsets_notice_entry entries[4];
    assert_int_equal(sp_offsets_notice_parse(buf, entries, 4), 2);
    assert_string_equal(entries[0].topic, "solipass.ledger.events.v1");
    assert_int_equal(entries[0].partition, 7);
    assert_int_equal(entries[0].next_offset, 12345);
    assert_string_equal(entries[1].topic, "solipass.accounts.events.v1");
    assert_int_equal(entries[1].partition, 0);
    assert_int_equal(entries[1].next_offset, 0);
}

static void test_empty_payload_has_no_entry(void **state) {
    (void)state;
    sp_offsets_notice_entry entries[1];
    assert_int_equal(sp_offsets_notice_parse("", entries, 1), 0);
}

static void test_append_that_does_not_fit_leaves_the_payload(void **state) {
    (void)state;
    char buf[40] = "";
    assert_true(sp_offsets_notice_append(buf, sizeof buf, "t", 1, 2));
    assert_false(sp_offsets_notice_append(buf, sizeof buf, "solipass.ledger.events.v1", 7, 12345));
    assert_string_equal(buf, "t 1 2\n");
    assert_false(sp_offsets_notice_append(buf, sizeof buf, "a b", 1, 2));
    assert_false(sp_offsets_notice_append(buf, sizeof buf, "", 1, 2));
    assert_string_equal(buf, "t 1 2\n");
}

static void test_malformed_payloads_are_refused(void **state) {
    (void)state;
    sp_offsets_notice_entry entries[2];
    const char *bad[] = {
        "t 1 2",    "t 1\n",   " 1 2\n",   "t -1 2\n",         "t 1 -2\n",
        "t 1 2x\n", "t x 2\n", "t 1  2\n", "t 3000000000 2\n", "t 1 99999999999999999999\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(sp_offsets_notice_parse(bad[i], entries, 2), -1);
    /* more partitions than the reader follows */
    assert_int_equal(sp_offsets_notice_parse("a 0 1\nb 0 1\nc 0 1\n", entries, 2), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_empty_payload_has_no_entry),
        cmocka_unit_test(test_append_that_does_not_fit_leaves_the_payload),
        cmocka_unit_test(test_malformed_payloads_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
