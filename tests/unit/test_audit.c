/* test_audit.c - the ledger audit's checks over a hand-made log: a sound log
 * passes, and each kind of fault is reported at the offending offset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "audit.h"

#define PASS_A "11111111-1111-4111-8111-111111111111"
#define PASS_B "22222222-2222-4222-8222-222222222222"
#define ENV_A "pass:" PASS_A ":general"
#define ENV_B "pass:" PASS_B ":sport"
#define OWED "partner:33333333-3333-4333-8333-333333333333:owed"
#define VOUCHER "voucher:44444444-4444-4444-8444-444444444444"
#define TOPIC "solipass.ledger.events.v1"

static sp_audit *new_audit(void) {
    sp_error err;
    sp_audit *audit = sp_audit_new(1000, 1000, 1000, &err);
    assert_non_null(audit);
    return audit;
}

/* Feeds one event of at most one posting (an empty debit = no posting). */
static void feed(sp_audit *audit, int64_t offset, const char *type, const char *pass,
                 uint64_t version, const char *operation_id, const char *debit, const char *credit,
                 int64_t amount_cents) {
    sp_audit_posting posting = {debit, credit, amount_cents};
    sp_audit_event event = {
        .topic = TOPIC,
        .partition = 3,
        .offset = offset,
        .type = type,
        .aggregate_id = pass,
        .aggregate_version = version,
        .operation_id = operation_id,
        .postings = debit ? &posting : NULL,
        .posting_count = debit ? 1 : 0,
    };
    sp_error err;
    assert_int_equal(sp_audit_feed(audit, &event, &err), 0);
}

/* A pass opened, credited, paid with, a voucher issued and redeemed. */
static void feed_sound_log(sp_audit *audit) {
    feed(audit, 0, "ledger.PassOpened.v1", PASS_A, 1, NULL, NULL, NULL, 0);
    feed(audit, 1, "ledger.PassCredited.v1", PASS_A, 2, "op-1", "budget", ENV_A, 5000);
    feed(audit, 2, "ledger.PaymentAccepted.v1", PASS_A, 3, "op-2", ENV_A, OWED, 1200);
    feed(audit, 3, "ledger.VoucherIssued.v1", PASS_A, 4, NULL, ENV_A, VOUCHER, 800);
    feed(audit, 4, "ledger.VoucherRedeemed.v1", PASS_A, 5, "op-3", VOUCHER, OWED, 800);
    feed(audit, 5, "ledger.CommandRejected.v1", PASS_A, 6, NULL, NULL, NULL, 0);
}

static void assert_only_failure(const sp_audit *audit, sp_audit_check failing,
                                const char *expected_in_why) {
    for (int c = 0; c < SP_AUDIT_CHECK_COUNT; c++) {
        const sp_audit_verdict *verdict = sp_audit_verdict_of(audit, (sp_audit_check)c);
        if (c != (int)failing) {
            assert_false(verdict->failed);
            continue;
        }
        assert_true(verdict->failed);
        assert_non_null(strstr(verdict->why, expected_in_why));
    }
    assert_false(sp_audit_all_ok(audit));
}

static void test_a_sound_log_passes_every_check(void **state) {
    (void)state;
    sp_audit *audit = new_audit();
    feed_sound_log(audit);
    sp_audit_finish(audit);
    assert_true(sp_audit_all_ok(audit));
    assert_int_equal(sp_audit_event_count(audit), 6);
    assert_int_equal(sp_audit_pass_count(audit), 1);
    assert_int_equal(sp_audit_account_count(audit), 4);
    assert_true(sp_audit_balance(audit, "budget") == -5000);
    assert_true(sp_audit_balance(audit, ENV_A) == 3000);
    assert_true(sp_audit_balance(audit, OWED) == 2000);
    assert_true(sp_audit_balance(audit, VOUCHER) == 0);
    sp_audit_free(audit);
}

static void test_a_posting_that_is_not_positive_is_caught_at_its_offset(void **state) {
    (void)state;
    sp_audit *audit = new_audit();
    feed_sound_log(audit);
    feed(audit, 6, "ledger.PassCredited.v1", PASS_A, 7, "op-4", "budget", ENV_A, -300);
    sp_audit_finish(audit);
    assert_only_failure(audit, SP_AUDIT_POSTINGS,
                        TOPIC "[3] offset 6 ledger.PassCredited.v1 " PASS_A);
    assert_non_null(strstr(sp_audit_verdict_of(audit, SP_AUDIT_POSTINGS)->why, "not positive"));
    assert_true(sp_audit_balance(audit, ENV_A) == 3000); /* not applied */
    sp_audit_free(audit);
}

static void test_a_posting_on_another_pass_is_caught(void **state) {
    (void)state;
    sp_audit *audit = new_audit();
    feed_sound_log(audit);
    feed(audit, 6, "ledger.PassCredited.v1", PASS_A, 7, "op-4", "budget", ENV_B, 300);
    sp_audit_finish(audit);
    assert_only_failure(audit, SP_AUDIT_POSTINGS, "offset 6 ");
    sp_audit_free(audit);
}

static void test_a_pass_below_zero_is_caught_at_its_offset(void **state) {
    (void)state;
    sp_audit *audit = new_audit();
    feed_sound_log(audit);
    feed(audit, 6, "ledger.PaymentAccepted.v1", PASS_A, 7, "op-4", ENV_A, OWED, 3001);
    feed(audit, 7, "ledger.PassCredited.v1", PASS_A, 8, "op-5", "budget", ENV_A, 100);
    sp_audit_finish(audit);
    /* Back above zero later: the first offence is still reported. */
    assert_only_failure(audit, SP_AUDIT_NON_NEGATIVE,
                        TOPIC "[3] offset 6 ledger.PaymentAccepted.v1 " PASS_A);
    assert_non_null(
        strstr(sp_audit_verdict_of(audit, SP_AUDIT_NON_NEGATIVE)->why, ENV_A " is -1 cents"));
    sp_audit_free(audit);
}

static void test_a_partner_owed_below_zero_is_caught(void **state) {
    (void)state;
    sp_audit *audit = new_audit();
    feed_sound_log(audit);
    /* A cancellation that returns more than the partner is owed. */
    feed(audit, 6, "ledger.OperationCancelled.v1", PASS_A, 7, NULL, OWED, ENV_A, 2500);
    sp_audit_finish(audit);
    assert_only_failure(audit, SP_AUDIT_NON_NEGATIVE, "offset 6 ledger.OperationCancelled.v1");
    assert_non_null(
        strstr(sp_audit_verdict_of(audit, SP_AUDIT_NON_NEGATIVE)->why, OWED " is -500 cents"));
    sp_audit_free(audit);
}

static void test_the_budget_may_go_negative(void **state) {
    (void)state;
    sp_audit *audit = new_audit();
    feed(audit, 0, "ledger.PassCredited.v1", PASS_B, 1, "op-1", "budget", ENV_B, 100);
    sp_audit_finish(audit);
    assert_true(sp_audit_all_ok(audit));
    sp_audit_free(audit);
}

static void test_a_version_gap_is_caught_at_its_offset(void **state) {
    (void)state;
    sp_audit *audit = new_audit();
    feed_sound_log(audit);
    feed(audit, 6, "ledger.PassCredited.v1", PASS_A, 8, "op-4", "budget", ENV_A, 100);
    sp_audit_finish(audit);
    assert_only_failure(audit, SP_AUDIT_VERSIONS,
                        TOPIC "[3] offset 6 ledger.PassCredited.v1 " PASS_A ": version 8 after 6");
    sp_audit_free(audit);
}

static void test_a_duplicate_is_ignored_as_the_services_do(void **state) {
    (void)state;
    sp_audit *audit = new_audit();
    feed_sound_log(audit);
    feed(audit, 6, "ledger.PassCredited.v1", PASS_A, 2, "op-1", "budget", ENV_A, 5000);
    sp_audit_finish(audit);
    assert_true(sp_audit_all_ok(audit));
    assert_int_equal(sp_audit_duplicate_count(audit), 1);
    assert_true(sp_audit_balance(audit, ENV_A) == 3000);
    sp_audit_free(audit);
}

static void test_an_operation_created_twice_is_caught(void **state) {
    (void)state;
    sp_audit *audit = new_audit();
    feed_sound_log(audit);
    feed(audit, 6, "ledger.PaymentAccepted.v1", PASS_A, 7, "op-2", ENV_A, OWED, 10);
    sp_audit_finish(audit);
    assert_only_failure(audit, SP_AUDIT_OPERATIONS, "offset 6 ");
    sp_audit_free(audit);
}

/* ------------------------------------------------------------ refund life */

#define REQUEST "55555555-5555-4555-8555-555555555555"
#define REFUND "refund:" REQUEST

/* A pass's part of a request: its operations and the posting moving their sum. */
static void feed_part(sp_audit *audit, int64_t offset, const char *type, uint64_t version,
                      const char *const *ids, size_t id_count, int64_t amount_cents,
                      const char *debit, const char *credit) {
    sp_audit_posting posting = {debit, credit, amount_cents};
    sp_audit_event event = {
        .topic = TOPIC,
        .partition = 3,
        .offset = offset,
        .type = type,
        .aggregate_id = PASS_A,
        .aggregate_version = version,
        .postings = debit ? &posting : NULL,
        .posting_count = debit ? 1 : 0,
        .request_id = REQUEST,
        .operation_ids = ids,
        .operation_id_count = id_count,
        .amount_cents = amount_cents,
    };
    sp_error err;
    assert_int_equal(sp_audit_feed(audit, &event, &err), 0);
}

static void feed_request(sp_audit *audit, int64_t offset, const char *type, uint64_t version,
                         int64_t total_cents, int64_t operation_count) {
    sp_audit_event event = {
        .topic = TOPIC,
        .partition = 5,
        .offset = offset,
        .type = type,
        .aggregate_id = REQUEST,
        .aggregate_version = version,
        .amount_cents = total_cents,
        .operation_count = operation_count,
    };
    sp_error err;
    assert_int_equal(sp_audit_feed(audit, &event, &err), 0);
}

static void feed_cancel(sp_audit *audit, int64_t offset, uint64_t version, const char *id,
                        int64_t amount_cents) {
    const char *ids[1] = {id};
    sp_audit_posting posting = {OWED, ENV_A, amount_cents};
    sp_audit_event event = {
        .topic = TOPIC,
        .partition = 3,
        .offset = offset,
        .type = "ledger.OperationCancelled.v1",
        .aggregate_id = PASS_A,
        .aggregate_version = version,
        .postings = amount_cents > 0 ? &posting : NULL,
        .posting_count = amount_cents > 0,
        .operation_ids = ids,
        .operation_id_count = 1,
    };
    sp_error err;
    assert_int_equal(sp_audit_feed(audit, &event, &err), 0);
}

static const char *const both_payments[2] = {"op-2", "op-3"};

/* The sound log's two payments (1200 + 800) requested, confirmed, paid, settled. */
static void feed_paid_request(sp_audit *audit) {
    feed_sound_log(audit);
    feed_request(audit, 10, "ledger.RefundRequestOpened.v1", 1, 0, 0);
    feed_part(audit, 11, "ledger.OperationsReserved.v1", 7, both_payments, 2, 2000, OWED, REFUND);
    feed_request(audit, 12, "ledger.RefundRequestConfirmed.v1", 2, 2000, 2);
    feed_request(audit, 13, "ledger.RefundRequestPaid.v1", 3, 2000, 0);
    feed_part(audit, 14, "ledger.OperationsSettled.v1", 8, both_payments, 2, 2000, REFUND, "bank");
}

typedef struct seen_states {
    int paid, other;
} seen_states;

static void count_state(void *ctx, const char *operation_id, sp_audit_op_state state) {
    (void)operation_id;
    seen_states *seen = ctx;
    if (state == SP_AUDIT_OP_PAID) seen->paid++;
    else seen->other++;
}

static void test_a_paid_refund_request_passes_every_check(void **state) {
    (void)state;
    sp_audit *audit = new_audit();
    feed_paid_request(audit);
    sp_audit_finish(audit);
    assert_true(sp_audit_all_ok(audit));
    assert_true(sp_audit_balance(audit, "bank") == 2000);
    assert_true(sp_audit_balance(audit, REFUND) == 0);
    assert_true(sp_audit_balance(audit, OWED) == 0);
    seen_states seen = {0, 0};
    sp_audit_foreach_operation(audit, count_state, &seen);
    assert_int_equal(seen.paid, 2);
    assert_int_equal(seen.other, 0); /* the credit has no life */
    sp_audit_free(audit);
}

static void test_cancelling_a_requested_operation_is_caught(void **state) {
    (void)state;
    sp_audit *audit = new_audit();
    feed_sound_log(audit);
    feed_part(audit, 11, "ledger.OperationsReserved.v1", 7, both_payments, 2, 2000, OWED, REFUND);
    feed_cancel(audit, 12, 8, "op-2", 0); /* no posting: only the state is wrong */
    sp_audit_finish(audit);
    assert_only_failure(audit, SP_AUDIT_OPERATION_STATES, "offset 12 ");
    assert_non_null(strstr(sp_audit_verdict_of(audit, SP_AUDIT_OPERATION_STATES)->why,
                           "op-2 cancelled while requested"));
    sp_audit_free(audit);
}

static void test_a_released_operation_is_accepted_again(void **state) {
    (void)state;
    sp_audit *audit = new_audit();
    feed_sound_log(audit);
    feed_part(audit, 11, "ledger.OperationsReserved.v1", 7, both_payments, 2, 2000, OWED, REFUND);
    feed_request(audit, 12, "ledger.RefundRequestCancelled.v1", 1, 0, 0);
    feed_part(audit, 13, "ledger.OperationsReleased.v1", 8, both_payments, 2, 2000, REFUND, OWED);
    feed_cancel(audit, 14, 9, "op-2", 1200);
    sp_audit_finish(audit);
    assert_true(sp_audit_all_ok(audit));
    /* Settling what is no longer requested is not a life any operation has. */
    feed_part(audit, 15, "ledger.OperationsSettled.v1", 10, both_payments + 1, 1, 800, NULL, NULL);
    assert_only_failure(audit, SP_AUDIT_OPERATION_STATES, "op-3 settled while accepted");
    sp_audit_free(audit);
}

static void test_a_part_whose_sum_is_not_its_operations_is_caught(void **state) {
    (void)state;
    sp_audit *audit = new_audit();
    feed_sound_log(audit);
    feed_part(audit, 11, "ledger.OperationsReserved.v1", 7, both_payments, 2, 1999, OWED, REFUND);
    sp_audit_finish(audit);
    assert_only_failure(audit, SP_AUDIT_REFUND_TOTALS, "offset 11 ");
    sp_audit_free(audit);
}

static void test_a_request_confirmed_for_another_total_is_caught(void **state) {
    (void)state;
    sp_audit *audit = new_audit();
    feed_sound_log(audit);
    feed_request(audit, 10, "ledger.RefundRequestOpened.v1", 1, 0, 0);
    feed_part(audit, 11, "ledger.OperationsReserved.v1", 7, both_payments, 2, 2000, OWED, REFUND);
    feed_request(audit, 12, "ledger.RefundRequestConfirmed.v1", 2, 2100, 2);
    sp_audit_finish(audit);
    assert_only_failure(audit, SP_AUDIT_REFUND_TOTALS,
                        "request " REQUEST " was confirmed for "
                        "2100 cents and 2 operations, its operations hold 2000 cents and 2");
    sp_audit_free(audit);
}

static void test_a_refund_account_below_zero_is_caught(void **state) {
    (void)state;
    sp_audit *audit = new_audit();
    feed_sound_log(audit);
    feed_part(audit, 11, "ledger.OperationsReserved.v1", 7, both_payments, 1, 1200, OWED, REFUND);
    feed(audit, 12, "ledger.OperationsSettled.v1", PASS_A, 8, NULL, REFUND, "bank", 1500);
    sp_audit_finish(audit);
    const sp_audit_verdict *verdict = sp_audit_verdict_of(audit, SP_AUDIT_NON_NEGATIVE);
    assert_true(verdict->failed);
    assert_non_null(strstr(verdict->why, "offset 12 "));
    assert_non_null(strstr(verdict->why, REFUND " is -300 cents"));
    sp_audit_free(audit);
}

/* A refund request is its own aggregate; its passes reserve, then settle. */
static void test_a_refund_moves_owed_money_to_the_bank(void **state) {
    (void)state;
    sp_audit *audit = new_audit();
    feed_sound_log(audit);
    feed(audit, 6, "ledger.RefundRequestOpened.v1", REQUEST, 1, NULL, NULL, NULL, 0);
    feed(audit, 7, "ledger.OperationsReserved.v1", PASS_A, 7, NULL, OWED, REFUND, 2000);
    feed(audit, 8, "ledger.RefundRequestConfirmed.v1", REQUEST, 2, NULL, NULL, NULL, 0);
    feed(audit, 9, "ledger.RefundRequestPaid.v1", REQUEST, 3, NULL, NULL, NULL, 0);
    feed(audit, 10, "ledger.OperationsSettled.v1", PASS_A, 8, NULL, REFUND, "bank", 2000);
    sp_audit_finish(audit);
    assert_true(sp_audit_all_ok(audit));
    assert_true(sp_audit_balance(audit, OWED) == 0);
    assert_true(sp_audit_balance(audit, REFUND) == 0);
    assert_true(sp_audit_balance(audit, "bank") == 2000);
    /* Settling more than was reserved takes the request's account below zero. */
    feed(audit, 11, "ledger.OperationsSettled.v1", PASS_A, 9, NULL, REFUND, "bank", 1);
    sp_audit_finish(audit);
    assert_only_failure(audit, SP_AUDIT_NON_NEGATIVE, REFUND);
    sp_audit_free(audit);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_sound_log_passes_every_check),
        cmocka_unit_test(test_a_posting_that_is_not_positive_is_caught_at_its_offset),
        cmocka_unit_test(test_a_posting_on_another_pass_is_caught),
        cmocka_unit_test(test_a_pass_below_zero_is_caught_at_its_offset),
        cmocka_unit_test(test_a_partner_owed_below_zero_is_caught),
        cmocka_unit_test(test_the_budget_may_go_negative),
        cmocka_unit_test(test_a_version_gap_is_caught_at_its_offset),
        cmocka_unit_test(test_a_duplicate_is_ignored_as_the_services_do),
        cmocka_unit_test(test_an_operation_created_twice_is_caught),
        cmocka_unit_test(test_a_paid_refund_request_passes_every_check),
        cmocka_unit_test(test_cancelling_a_requested_operation_is_caught),
        cmocka_unit_test(test_a_released_operation_is_accepted_again),
        cmocka_unit_test(test_a_part_whose_sum_is_not_its_operations_is_caught),
        cmocka_unit_test(test_a_request_confirmed_for_another_total_is_caught),
        cmocka_unit_test(test_a_refund_account_below_zero_is_caught),
        cmocka_unit_test(test_a_refund_moves_owed_money_to_the_bank),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
