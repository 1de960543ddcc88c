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
                 uint64_t version, const char *operation_id, const char *debit,
                 const char *credit, int64_t amount_cents) {
    sp_audit_posting posting = {debit, credit, amount_cents};
    sp_audit_event event = {
        .topic = TOPIC, .partition = 3, .offset = offset, .type = type, .aggregate_id = pass,
        .aggregate_version = version, .operation_id = operation_id,
        .postings = debit ? &posting : NULL, .posting_count = debit ? 1 : 0,
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
    assert_true(sp_audit_balance(audit, ENV_A) == 3000);   /* not applied */
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
    assert_non_null(strstr(sp_audit_verdict_of(audit, SP_AUDIT_NON_NEGATIVE)->why,
                           ENV_A " is -1 cents"));
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
    assert_non_null(strstr(sp_audit_verdict_of(audit, SP_AUDIT_NON_NEGATIVE)->why,
                           OWED " is -500 cents"));
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

#define REQUEST "55555555-5555-4555-8555-555555555555"
#define REFUND "refund:" REQUEST

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
        cmocka_unit_test(test_a_refund_moves_owed_money_to_the_bank),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
