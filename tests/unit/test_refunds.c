/* test_refunds.c - the refunds service's decisions: deterministic command
 * ids and automatic request ids, when an opening request is confirmed or
 * aborted, when a step is sent again, how the monthly run groups a
 * partner's operations into parts, and which request of a partner's
 * monthly batch it opens next. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "refunds/refunds.h"

#define REQUEST_ID "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"
#define PARTNER_ID "5d4c3b2a-1f0e-4d9c-ab8a-7f6e5d4c3b2a"
#define OTHER_PARTNER_ID "0a9b8c7d-6e5f-4a3b-8c1d-0e9f8a7b6c5d"
#define PASS_A "3b1f6c2e-8d4a-4c5e-9f10-2a3b4c5d6e7f"
#define PASS_B "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918"
#define OPERATION_ID "9a8b7c6d-5e4f-4321-b0a9-8b7c6d5e4f32"

static void test_command_ids(void **state) {
    (void)state;
    char id[SP_REFUNDS_COMMAND_ID_MAX + 1];
    sp_refund_period november = {.year = 2026, .month = 11};
    sp_refunds_command_id(SP_REFUNDS_STEP_RESERVE, REQUEST_ID, november, id);
    assert_string_equal(id, "reserve-" REQUEST_ID);
    sp_refunds_command_id(SP_REFUNDS_STEP_RELEASE, REQUEST_ID, november, id);
    assert_string_equal(id, "release-" REQUEST_ID);
    sp_refunds_command_id(SP_REFUNDS_STEP_SETTLE, REQUEST_ID, november, id);
    assert_string_equal(id, "settle-" REQUEST_ID);
    sp_refunds_command_id(SP_REFUNDS_STEP_CONFIRM, REQUEST_ID, november, id);
    assert_string_equal(id, "confirm");
    sp_refunds_command_id(SP_REFUNDS_STEP_ABORT, REQUEST_ID, november, id);
    assert_string_equal(id, "abort");
    sp_refunds_command_id(SP_REFUNDS_STEP_OPEN, REQUEST_ID, november, id);
    assert_string_equal(id, "auto-2026-11");
}

static void test_auto_request_id_is_one_per_partner_and_period(void **state) {
    (void)state;
    char a[SP_ID_LEN + 1], again[SP_ID_LEN + 1], next_month[SP_ID_LEN + 1], other[SP_ID_LEN + 1];
    sp_refund_period november = {.year = 2026, .month = 11};
    sp_refund_period december = {.year = 2026, .month = 12};
    sp_refunds_auto_request_id(PARTNER_ID, november, a);
    sp_refunds_auto_request_id(PARTNER_ID, november, again);
    sp_refunds_auto_request_id(PARTNER_ID, december, next_month);
    sp_refunds_auto_request_id(OTHER_PARTNER_ID, november, other);
    assert_true(sp_id_valid(a));
    assert_string_equal(a, again);
    assert_string_not_equal(a, next_month);
    assert_string_not_equal(a, other);
}

static void test_opening_decision(void **state) {
    (void)state;
    sp_refunds_opening o = {.part_count = 3, .parts_seen = 3, .parts_reserved = 2};
    assert_int_equal(sp_refunds_decide_opening(&o), SP_REFUNDS_WAIT);
    o.parts_reserved = 3;
    assert_int_equal(sp_refunds_decide_opening(&o), SP_REFUNDS_CONFIRM);
    /* A part row not seen yet is not a reserved one. */
    o.parts_seen = 2;
    o.parts_reserved = 2;
    assert_int_equal(sp_refunds_decide_opening(&o), SP_REFUNDS_WAIT);
    /* One refusal aborts, whatever the others did or will do. */
    o.parts_seen = 3;
    o.parts_reserved = 1;
    o.parts_refused = 1;
    assert_int_equal(sp_refunds_decide_opening(&o), SP_REFUNDS_ABORT);
}

static void test_steps_are_sent_again_only_after_the_resend_delay(void **state) {
    (void)state;
    sp_refunds_sent *sent = malloc(sizeof *sent);
    assert_non_null(sent);
    sp_refunds_sent_init(sent);
    int64_t t = 1000000;
    assert_true(sp_refunds_sent_due(sent, SP_REFUNDS_STEP_RESERVE, REQUEST_ID, PASS_A, t, 5000));
    sp_refunds_sent_mark(sent, SP_REFUNDS_STEP_RESERVE, REQUEST_ID, PASS_A, t);
    assert_false(
        sp_refunds_sent_due(sent, SP_REFUNDS_STEP_RESERVE, REQUEST_ID, PASS_A, t + 4999, 5000));
    assert_true(
        sp_refunds_sent_due(sent, SP_REFUNDS_STEP_RESERVE, REQUEST_ID, PASS_A, t + 5000, 5000));
    /* Another pass, or another step of the same pass, is its own entry. */
    assert_true(sp_refunds_sent_due(sent, SP_REFUNDS_STEP_RESERVE, REQUEST_ID, PASS_B, t, 5000));
    assert_true(sp_refunds_sent_due(sent, SP_REFUNDS_STEP_RELEASE, REQUEST_ID, PASS_A, t, 5000));
    /* A clock moved back does not silence a step. */
    assert_true(
        sp_refunds_sent_due(sent, SP_REFUNDS_STEP_RESERVE, REQUEST_ID, PASS_A, t - 1, 5000));
    free(sent);
}

static void test_grouping_by_pass(void **state) {
    (void)state;
    sp_refunds_auto_op ops[] = {{PASS_A, OPERATION_ID, 500},
                                {PASS_A, OPERATION_ID, 250},
                                {PASS_B, OPERATION_ID, 100}};
    sp_refunds_grouping *g = malloc(sizeof *g);
    assert_non_null(g);
    sp_error err;
    assert_int_equal(sp_refunds_group(ops, 3, g, &err), 0);
    assert_int_equal(g->part_count, 2);
    assert_int_equal(g->parts[0].first, 0);
    assert_int_equal(g->parts[0].count, 2);
    assert_int_equal(g->parts[1].first, 2);
    assert_int_equal(g->parts[1].count, 1);
    assert_int_equal(g->operation_count, 3);
    assert_int_equal(g->total_cents, 850);

    /* A pass seen again after another is a caller's mistake, not two parts. */
    sp_refunds_auto_op unsorted[] = {{PASS_A, OPERATION_ID, 500},
                                     {PASS_B, OPERATION_ID, 100},
                                     {PASS_A, OPERATION_ID, 250}};
    assert_int_equal(sp_refunds_group(unsorted, 3, g, &err), -1);
    assert_string_equal(err.code, "invalid_row");
    sp_refunds_auto_op free_money[] = {{PASS_A, OPERATION_ID, 0}};
    assert_int_equal(sp_refunds_group(free_money, 1, g, &err), -1);
    free(g);
}

static void test_grouping_keeps_a_request_within_one_envelope(void **state) {
    (void)state;
    size_t count = SP_REFUND_REQUEST_OPERATIONS_MAX + 5;
    sp_refunds_auto_op *ops = calloc(count, sizeof *ops);
    sp_refunds_grouping *g = malloc(sizeof *g);
    assert_non_null(ops);
    assert_non_null(g);
    for (size_t i = 0; i < count; i++) ops[i] = (sp_refunds_auto_op){PASS_A, OPERATION_ID, 1};
    sp_error err;
    assert_int_equal(sp_refunds_group(ops, count, g, &err), 0);
    assert_int_equal(g->operation_count, SP_REFUND_REQUEST_OPERATIONS_MAX);
    assert_int_equal(g->total_cents, SP_REFUND_REQUEST_OPERATIONS_MAX);
    assert_int_equal(g->part_count, 1);
    assert_int_equal(sp_refunds_group(ops, 0, g, &err), 0);
    assert_int_equal(g->part_count, 0);
    free(ops);
    free(g);
}

static void test_batch_ids_keep_request_zero_and_differ_after(void **state) {
    (void)state;
    sp_refund_period november = {.year = 2026, .month = 11};
    char zero[SP_ID_LEN + 1], auto_id[SP_ID_LEN + 1], one[SP_ID_LEN + 1], again[SP_ID_LEN + 1];
    char two[SP_ID_LEN + 1], other[SP_ID_LEN + 1];
    sp_refunds_batch_request_id(PARTNER_ID, november, 0, zero);
    sp_refunds_auto_request_id(PARTNER_ID, november, auto_id);
    assert_string_equal(zero, auto_id); /* existing logs keep their meaning */
    sp_refunds_batch_request_id(PARTNER_ID, november, 1, one);
    sp_refunds_batch_request_id(PARTNER_ID, november, 1, again);
    sp_refunds_batch_request_id(PARTNER_ID, november, 2, two);
    sp_refunds_batch_request_id(OTHER_PARTNER_ID, november, 1, other);
    assert_true(sp_id_valid(one) && sp_id_valid(two));
    assert_string_equal(one, again);
    assert_string_not_equal(one, zero);
    assert_string_not_equal(two, one);
    assert_string_not_equal(two, zero);
    assert_string_not_equal(other, one);
}

/* Rows for requests 0..count-1 of PARTNER_ID in November, each as given. */
static void batch_rows(sp_refunds_batch_row *rows, char ids[][SP_ID_LEN + 1], size_t count) {
    sp_refund_period november = {.year = 2026, .month = 11};
    for (size_t k = 0; k < count; k++) {
        sp_refunds_batch_request_id(PARTNER_ID, november, k, ids[k]);
        rows[k] = (sp_refunds_batch_row){.request_id = ids[k],
                                         .operations_asked = SP_REFUND_REQUEST_OPERATIONS_MAX};
    }
}

/* The decision over two rows for (partner, period), its request's index in *index. */
static sp_refunds_batch_decision decide_two(const char *partner_id, sp_refund_period period,
                                            const sp_refunds_batch_row rows[2], size_t *index) {
    char id[SP_ID_LEN + 1];
    return sp_refunds_decide_batch(partner_id, period, rows, 2, index, id);
}

static void test_batch_decision(void **state) {
    (void)state;
    sp_refund_period november = {.year = 2026, .month = 11};
    char ids[3][SP_ID_LEN + 1], id[SP_ID_LEN + 1], expected[SP_ID_LEN + 1];
    sp_refunds_batch_row rows[3];
    size_t index = 99;
    /* None yet: request 0. */
    assert_int_equal(sp_refunds_decide_batch(PARTNER_ID, november, NULL, 0, &index, id),
                     SP_REFUNDS_BATCH_OPEN);
    assert_int_equal(index, 0);
    sp_refunds_auto_request_id(PARTNER_ID, november, expected);
    assert_string_equal(id, expected);
    /* Two full ones, listed in any order: request 2. */
    batch_rows(rows, ids, 2);
    sp_refunds_batch_row swapped[2] = {rows[1], rows[0]};
    assert_int_equal(sp_refunds_decide_batch(PARTNER_ID, november, swapped, 2, &index, id),
                     SP_REFUNDS_BATCH_OPEN);
    assert_int_equal(index, 2);
    sp_refunds_batch_request_id(PARTNER_ID, november, 2, expected);
    assert_string_equal(id, expected);
    /* The last one was not full: the month is in the batch. */
    rows[1].operations_asked = SP_REFUND_REQUEST_OPERATIONS_MAX - 1;
    assert_int_equal(decide_two(PARTNER_ID, november, rows, &index), SP_REFUNDS_BATCH_DONE);
    /* Full but cancelled: its operations stay with the partner until next month. */
    rows[1].operations_asked = SP_REFUND_REQUEST_OPERATIONS_MAX;
    rows[1].cancelled = true;
    assert_int_equal(decide_two(PARTNER_ID, november, rows, &index), SP_REFUNDS_BATCH_DONE);
    rows[1].cancelled = false;
    rows[0].cancelled = true;
    assert_int_equal(decide_two(PARTNER_ID, november, rows, &index), SP_REFUNDS_BATCH_DONE);
    /* Still opening: its operations are not reserved yet, wait. */
    rows[0].cancelled = false;
    rows[1].opening = true;
    assert_int_equal(decide_two(PARTNER_ID, november, rows, &index), SP_REFUNDS_BATCH_WAIT);
    /* Another period's or partner's requests are not this batch: request 0. */
    sp_refund_period december = {.year = 2026, .month = 12};
    rows[1].opening = false;
    assert_int_equal(decide_two(PARTNER_ID, december, rows, &index), SP_REFUNDS_BATCH_OPEN);
    assert_int_equal(index, 0);
    assert_int_equal(decide_two(OTHER_PARTNER_ID, november, rows, &index), SP_REFUNDS_BATCH_OPEN);
    assert_int_equal(index, 0);
}

static void test_period_parse(void **state) {
    (void)state;
    sp_refund_period period;
    sp_error err;
    sp_error_clear(&err);
    assert_int_equal(sp_refunds_period_parse("2026-11", "--p", &period, &err), 0);
    assert_int_equal(period.year, 2026);
    assert_int_equal(period.month, 11);
    assert_int_equal(sp_refunds_period_parse("2199-12", "--p", &period, &err), 0);
    const char *bad[] = {"2026-13", "2026-00", "1999-12", "2200-01",  "2026-1",  "2026-011",
                         "2026/11", "20x6-11", "",        " 2026-11", "2026-11 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sp_refunds_period_parse(bad[i], "--p", &period, &err), -1);
        assert_string_equal(err.field, "--p");
        assert_string_equal(err.code, "invalid_period");
    }
    assert_int_equal(sp_refunds_period_parse(NULL, "--p", &period, &err), -1);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_command_ids),
        cmocka_unit_test(test_auto_request_id_is_one_per_partner_and_period),
        cmocka_unit_test(test_opening_decision),
        cmocka_unit_test(test_steps_are_sent_again_only_after_the_resend_delay),
        cmocka_unit_test(test_grouping_by_pass),
        cmocka_unit_test(test_grouping_keeps_a_request_within_one_envelope),
        cmocka_unit_test(test_batch_ids_keep_request_zero_and_differ_after),
        cmocka_unit_test(test_batch_decision),
        cmocka_unit_test(test_period_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
