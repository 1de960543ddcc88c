/* test_close.c - closing a pass: every envelope's remainder and every open
 * voucher's reservation go back to the budget, the vouchers are cancelled,
 * the books still sum to zero; afterwards the pass pays, is credited,
 * issues and redeems nothing (pass_closed), a partner's cancellation of an
 * earlier payment sends its money to the budget; only the back office may
 * close; the same key replays the first outcome; a forged close is refused;
 * a rebuild from the encoded events reaches the same state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "sp_envelope.h"
#include "transactions/ledger.h"
#include "transactions/ledger_codec.h"
#include "ledger_fixture.h"
#include "snapshot_check.h"

/* 2026-03-10T10:00:00Z */
#define T0_MS INT64_C(1773136800000)
#define EVENTS_MAX 160
#define ACTOR "9b2e4c1a-1111-4222-8333-444455556666"
#define PARTNER_ACTOR "1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5"
#define BENEFICIARY "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"
#define P1 "0f8fad5b-d9cb-469f-a165-70867728950e"

typedef struct fixture {
    sp_ledger_directory directory;
    sp_ledger_state *state;
    sp_ledger_partner sport, lecture;
    sp_ledger_event events[EVENTS_MAX];
    size_t event_count;
} fixture;

static sp_ledger_limits limits(void) {
    return (sp_ledger_limits){.passes_max = 100,
                              .commands_max = 10000,
                              .partners_max = 100,
                              .payment_cents_max = 100000,
                              .credit_cents_max = 1000000,
                              .vouchers_max = 1000,
                              .voucher_validity_days = 90};
}

static int setup(void **state) {
    if (sodium_init() < 0) return -1;
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    sp_error err;
    assert_int_equal(sp_ledger_directory_init(&fx->directory, 100, &err), 0);
    ledger_fixture_add_partner(&fx->directory, "Stade Nautique", "sport", &fx->sport);
    ledger_fixture_add_partner(&fx->directory, "Librairie des Arcades", "lecture", &fx->lecture);
    sp_ledger_limits l = limits();
    fx->state = sp_ledger_state_new(3, &l, &fx->directory, &err);
    assert_non_null(fx->state);
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    sp_ledger_state_free(fx->state);
    sp_ledger_directory_destroy(&fx->directory);
    free(fx);
    return 0;
}

static const sp_ledger_record *run(fixture *fx, sp_ledger_command *command,
                                   sp_ledger_decision *out) {
    if (command->actor_role == NULL) command->actor_role = "backoffice";
    const sp_ledger_record *record = ledger_fixture_run(fx->state, command, T0_MS, out);
    if (out->kind == SP_LEDGER_DECIDED_EVENT) {
        assert_true(fx->event_count < EVENTS_MAX);
        fx->events[fx->event_count++] = out->event;
    }
    return record;
}

/* A pass with general 10 000 and sport 5 000. */
static void open_and_credit(fixture *fx) {
    sp_ledger_decision d;
    sp_ledger_command open = {.kind = SP_LEDGER_COMMAND_OPEN_PASS,
                              .pass_id = P1,
                              .actor_id = ACTOR,
                              .command_id = "open",
                              .beneficiary_id = BENEFICIARY,
                              .envelope_count = 2};
    open.envelope_categories[0] = "general";
    open.envelope_end_dates[0] = "";
    open.envelope_categories[1] = "sport";
    open.envelope_end_dates[1] = "";
    run(fx, &open, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_PASS_OPENED);
    const char *categories[] = {"general", "sport"};
    const int64_t amounts[] = {10000, 5000};
    for (size_t i = 0; i < 2; i++) {
        sp_ledger_command credit = {.kind = SP_LEDGER_COMMAND_CREDIT_PASS,
                                    .pass_id = P1,
                                    .actor_id = ACTOR,
                                    .command_id = categories[i],
                                    .category = categories[i],
                                    .amount_cents = amounts[i]};
        run(fx, &credit, &d);
        assert_int_equal(d.event.kind, SP_LEDGER_EVENT_PASS_CREDITED);
    }
}

static void pay(fixture *fx, const char *key, const sp_ledger_partner *partner,
                int64_t amount_cents, sp_ledger_decision *d) {
    sp_ledger_command command = {.kind = SP_LEDGER_COMMAND_PAY,
                                 .pass_id = P1,
                                 .actor_id = BENEFICIARY,
                                 .actor_role = "beneficiary",
                                 .command_id = key,
                                 .partner_code = partner->partner_code,
                                 .amount_cents = amount_cents};
    run(fx, &command, d);
}

static void issue(fixture *fx, const char *key, int64_t amount_cents, const char *category,
                  sp_ledger_decision *d) {
    sp_ledger_command command = {.kind = SP_LEDGER_COMMAND_ISSUE_VOUCHER,
                                 .pass_id = P1,
                                 .actor_id = BENEFICIARY,
                                 .actor_role = "beneficiary",
                                 .command_id = key,
                                 .amount_cents = amount_cents,
                                 .category = category,
                                 .partner_code = ""};
    run(fx, &command, d);
}

static const sp_ledger_record *close_pass(fixture *fx, const char *key, const char *reason,
                                          sp_ledger_decision *d) {
    sp_ledger_command command = {.kind = SP_LEDGER_COMMAND_CLOSE_PASS,
                                 .pass_id = P1,
                                 .actor_id = ACTOR,
                                 .command_id = key,
                                 .reason = reason};
    return run(fx, &command, d);
}

static int64_t envelope_cents(const fixture *fx, const char *category) {
    const sp_ledger_pass *pass = sp_ledger_pass_find(fx->state, P1);
    for (size_t i = 0; i < pass->envelope_count; i++)
        if (strcmp(pass->envelopes[i].category, category) == 0)
            return pass->envelopes[i].balance_cents;
    fail_msg("no envelope %s", category);
    return -1;
}

/* general 10 000 - 1 500 paid - 2 000 in a voucher; sport 5 000 - 700 in a
 * voucher; a third voucher redeemed (not returned). */
static void pass_with_history(fixture *fx, char voucher_ids[2][SP_ID_LEN + 1],
                              char payment_id[SP_ID_LEN + 1]) {
    open_and_credit(fx);
    sp_ledger_decision d;
    pay(fx, "pay", &fx->lecture, 1500, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_PAYMENT_ACCEPTED);
    memcpy(payment_id, d.event.operation_id, SP_ID_LEN + 1);
    issue(fx, "v1", 2000, "general", &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_VOUCHER_ISSUED);
    memcpy(voucher_ids[0], d.event.voucher_id, SP_ID_LEN + 1);
    issue(fx, "v2", 700, "sport", &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_VOUCHER_ISSUED);
    memcpy(voucher_ids[1], d.event.voucher_id, SP_ID_LEN + 1);
    issue(fx, "v3", 300, "sport", &d);
    char number[SP_VOUCHER_NUMBER_LEN + 1], id[SP_ID_LEN + 1];
    memcpy(number, d.event.voucher_number, sizeof number);
    memcpy(id, d.event.voucher_id, sizeof id);
    sp_ledger_command redeem = {.kind = SP_LEDGER_COMMAND_REDEEM_VOUCHER,
                                .pass_id = P1,
                                .actor_id = PARTNER_ACTOR,
                                .actor_role = "partner_user",
                                .command_id = "r3",
                                .voucher_id = id,
                                .voucher_number = number,
                                .partner_code = fx->sport.partner_code};
    run(fx, &redeem, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_VOUCHER_REDEEMED);
}

static void test_close_returns_everything_to_the_budget(void **state) {
    fixture *fx = *state;
    char vouchers[2][SP_ID_LEN + 1], payment[SP_ID_LEN + 1];
    pass_with_history(fx, vouchers, payment);
    int64_t budget_before = fx->state->budget_cents;
    sp_ledger_decision d;
    const sp_ledger_record *record = close_pass(fx, "close", "a quitté la ville", &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_PASS_CLOSED);
    /* 6 500 + 4 000 left in the envelopes, 2 000 + 700 reserved. */
    assert_int_equal(d.event.amount_cents, 6500 + 4000 + 2000 + 700);
    assert_int_equal(d.event.changed_count, 2);
    assert_int_equal(fx->state->budget_cents, budget_before + 13200);
    assert_int_equal(envelope_cents(fx, "general"), 0);
    assert_int_equal(envelope_cents(fx, "sport"), 0);
    for (size_t i = 0; i < 2; i++) {
        const sp_ledger_voucher *v = sp_ledger_voucher_find(fx->state, vouchers[i]);
        assert_int_equal(v->status, SP_LEDGER_VOUCHER_CANCELLED);
        assert_int_equal(v->balance_cents, 0);
    }
    const sp_ledger_pass *pass = sp_ledger_pass_find(fx->state, P1);
    assert_true(pass->closed);
    assert_int_equal(pass->closed_at_ms, T0_MS);
    assert_int_equal(pass->active_voucher_count, 0);
    /* The partner's money is not touched: it was paid for. */
    assert_int_equal(sp_ledger_partner_owed_cents(fx->state, fx->lecture.partner_id), 1500);
    assert_int_equal(sp_ledger_partner_owed_cents(fx->state, fx->sport.partner_id), 300);
    assert_non_null(record);
    assert_int_equal(record->http_status, 200);
    json_error_t jerr;
    json_t *answer = json_loads(record->result_json, 0, &jerr);
    assert_non_null(answer);
    assert_string_equal(json_string_value(json_object_get(answer, "pass_id")), P1);
    assert_string_equal(json_string_value(json_object_get(answer, "closed_at")),
                        "2026-03-10T10:00:00.000Z");
    assert_int_equal(json_integer_value(json_object_get(answer, "returned_cents")), 13200);
    assert_int_equal(json_integer_value(json_object_get(answer, "vouchers_cancelled")), 2);
    json_decref(answer);
}

static void test_closed_pass_refuses_payments_credits_and_vouchers(void **state) {
    fixture *fx = *state;
    char vouchers[2][SP_ID_LEN + 1], payment[SP_ID_LEN + 1];
    pass_with_history(fx, vouchers, payment);
    sp_ledger_decision d;
    close_pass(fx, "close", "", &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_PASS_CLOSED);
    pay(fx, "pay-after", &fx->lecture, 1, &d);
    ledger_fixture_assert_rejected(&d, "pass_closed");
    issue(fx, "v-after", 1, "general", &d);
    ledger_fixture_assert_rejected(&d, "pass_closed");
    sp_ledger_command credit = {.kind = SP_LEDGER_COMMAND_CREDIT_PASS,
                                .pass_id = P1,
                                .actor_id = ACTOR,
                                .command_id = "credit-after",
                                .category = "general",
                                .amount_cents = 100};
    run(fx, &credit, &d);
    ledger_fixture_assert_rejected(&d, "pass_closed");
    const sp_ledger_voucher *v = sp_ledger_voucher_find(fx->state, vouchers[0]);
    sp_ledger_command redeem = {.kind = SP_LEDGER_COMMAND_REDEEM_VOUCHER,
                                .pass_id = P1,
                                .actor_id = PARTNER_ACTOR,
                                .actor_role = "partner_user",
                                .command_id = "r-after",
                                .voucher_id = v->voucher_id,
                                .voucher_number = v->number,
                                .partner_code = fx->lecture.partner_code};
    run(fx, &redeem, &d);
    ledger_fixture_assert_rejected(&d, "pass_closed");
    assert_int_equal(sp_ledger_status_of_code("pass_closed"), 409);
    /* Closed again under another key: refused; under the same key: the first outcome. */
    close_pass(fx, "close-again", "", &d);
    ledger_fixture_assert_rejected(&d, "pass_closed");
    close_pass(fx, "close", "", &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_REPLAY);
    assert_true(d.record->ok);
    assert_int_equal(d.record->http_status, 200);
    /* The same key with another reason is another request. */
    close_pass(fx, "close", "autre", &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_REFUSED);
    assert_string_equal(d.error.code, "idempotency_conflict");
    assert_int_equal(envelope_cents(fx, "general"), 0);
}

static void test_cancelled_payment_after_close_goes_to_the_budget(void **state) {
    fixture *fx = *state;
    char vouchers[2][SP_ID_LEN + 1], payment[SP_ID_LEN + 1];
    pass_with_history(fx, vouchers, payment);
    sp_ledger_decision d;
    close_pass(fx, "close", "", &d);
    int64_t budget_before = fx->state->budget_cents;
    sp_ledger_command cancel = {.kind = SP_LEDGER_COMMAND_CANCEL_OPERATION,
                                .pass_id = P1,
                                .actor_id = PARTNER_ACTOR,
                                .actor_role = "partner_admin",
                                .command_id = "cancel",
                                .operation_id = payment,
                                .partner_id = fx->lecture.partner_id};
    run(fx, &cancel, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_OPERATION_CANCELLED);
    assert_string_equal(d.event.postings[0].credit_account, "budget");
    assert_int_equal(fx->state->budget_cents, budget_before + 1500);
    assert_int_equal(envelope_cents(fx, "general"), 0);
    assert_int_equal(sp_ledger_partner_owed_cents(fx->state, fx->lecture.partner_id), 0);
}

static void test_only_the_back_office_closes_with_a_sound_reason(void **state) {
    fixture *fx = *state;
    open_and_credit(fx);
    sp_error err;
    const char *roles[] = {"beneficiary", "partner_admin", "partner_user", "finance"};
    for (size_t i = 0; i < 4; i++) {
        sp_ledger_command command = {.kind = SP_LEDGER_COMMAND_CLOSE_PASS,
                                     .pass_id = P1,
                                     .actor_id = BENEFICIARY,
                                     .actor_role = roles[i],
                                     .command_id = "close",
                                     .reason = ""};
        assert_int_equal(sp_ledger_actor_check(fx->state, &command, &err), -1);
        assert_string_equal(err.code, "forbidden");
    }
    sp_ledger_command ok = {.kind = SP_LEDGER_COMMAND_CLOSE_PASS,
                            .pass_id = P1,
                            .actor_id = ACTOR,
                            .actor_role = "backoffice",
                            .command_id = "close",
                            .reason = ""};
    assert_int_equal(sp_ledger_actor_check(fx->state, &ok, &err), 0);
    sp_ledger_decision d;
    close_pass(fx, "bad-reason", "line\nbreak", &d);
    ledger_fixture_assert_rejected(&d, "invalid_value");
    char long_reason[202];
    memset(long_reason, 'a', 201);
    long_reason[201] = '\0';
    close_pass(fx, "long-reason", long_reason, &d);
    ledger_fixture_assert_rejected(&d, "invalid_value");
    assert_false(sp_ledger_pass_find(fx->state, P1)->closed);
    /* 200 characters of two bytes each are a valid reason. */
    char accents[401] = "";
    for (size_t i = 0; i < 200; i++) strcat(accents, "\xc3\xa9");
    close_pass(fx, "ok", accents, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_PASS_CLOSED);
}

/* One close cancels at most SP_LEDGER_CLOSE_VOUCHERS_MAX vouchers: one more
 * is refused, the pass left open; once one is cancelled, it closes. */
static void test_a_close_cancels_at_most_its_bound_of_vouchers(void **state) {
    fixture *fx = *state;
    open_and_credit(fx);
    sp_ledger_decision d;
    char first[SP_ID_LEN + 1] = "";
    for (int i = 0; i <= SP_LEDGER_CLOSE_VOUCHERS_MAX; i++) {
        char key[16];
        snprintf(key, sizeof key, "v%d", i);
        issue(fx, key, 10, "general", &d);
        assert_int_equal(d.event.kind, SP_LEDGER_EVENT_VOUCHER_ISSUED);
        if (i == 0) memcpy(first, d.event.voucher_id, sizeof first);
    }
    assert_int_equal(sp_ledger_pass_find(fx->state, P1)->active_voucher_count,
                     SP_LEDGER_CLOSE_VOUCHERS_MAX + 1);
    close_pass(fx, "close", "", &d);
    ledger_fixture_assert_rejected(&d, "too_many_vouchers");
    assert_int_equal(sp_ledger_status_of_code("too_many_vouchers"), 409);
    assert_false(sp_ledger_pass_find(fx->state, P1)->closed);
    sp_ledger_command cancel = {.kind = SP_LEDGER_COMMAND_CANCEL_VOUCHER,
                                .pass_id = P1,
                                .actor_id = BENEFICIARY,
                                .actor_role = "beneficiary",
                                .command_id = "cancel",
                                .voucher_id = first};
    run(fx, &cancel, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_VOUCHER_CANCELLED);
    close_pass(fx, "close-again", "", &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_PASS_CLOSED);
    assert_int_equal(d.event.changed_count, SP_LEDGER_CLOSE_VOUCHERS_MAX);
    assert_int_equal(d.event.amount_cents, 15000);
    /* Its ids are in ascending order: every writer decides the same event. */
    for (size_t i = 1; i < d.event.changed_count; i++)
        assert_true(strcmp(d.event.operation_ids[i - 1], d.event.operation_ids[i]) < 0);
    static sp_ledger_event decoded;
    ledger_fixture_roundtrip(&d.event, &decoded);
    assert_int_equal(decoded.changed_count, SP_LEDGER_CLOSE_VOUCHERS_MAX);
    assert_int_equal(decoded.amount_cents, 15000);
}

static void test_forged_close_is_refused(void **state) {
    fixture *fx = *state;
    char vouchers[2][SP_ID_LEN + 1], payment[SP_ID_LEN + 1];
    pass_with_history(fx, vouchers, payment);
    sp_ledger_decision d;
    sp_ledger_command command = {.kind = SP_LEDGER_COMMAND_CLOSE_PASS,
                                 .pass_id = P1,
                                 .actor_id = ACTOR,
                                 .actor_role = "backoffice",
                                 .command_id = "close",
                                 .reason = ""};
    sp_ledger_decide(fx->state, &command, T0_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_PASS_CLOSED);
    sp_ledger_applied applied;
    sp_error err;
    sp_ledger_event forged = d.event;
    forged.close_envelope_cents[0] -= 1; /* keeps a cent on the pass */
    forged.amount_cents -= 1;
    assert_int_equal(sp_ledger_apply(fx->state, &forged, &applied, &err), -1);
    assert_string_equal(err.code, "invalid_event");
    forged = d.event;
    forged.changed_count = 1; /* leaves a voucher active */
    forged.amount_cents -= forged.close_voucher_cents[1];
    assert_int_equal(sp_ledger_apply(fx->state, &forged, &applied, &err), -1);
    assert_false(sp_ledger_pass_find(fx->state, P1)->closed);
    assert_int_equal(sp_ledger_balance_sum_cents(fx->state), 0);
    assert_int_equal(sp_ledger_apply(fx->state, &d.event, &applied, &err), 0);
    assert_true(sp_ledger_pass_find(fx->state, P1)->closed);
}

/* pass_with_history, then its close and a payment refused after it. */
static void closed_with_history(fixture *fx, char voucher_ids[2][SP_ID_LEN + 1]) {
    char payment[SP_ID_LEN + 1];
    pass_with_history(fx, voucher_ids, payment);
    sp_ledger_decision d;
    close_pass(fx, "close", "déménagement", &d);
    pay(fx, "pay-after", &fx->lecture, 1, &d);
}

static void test_rebuild_from_encoded_events_reaches_the_same_close(void **state) {
    fixture *fx = *state;
    char vouchers[2][SP_ID_LEN + 1];
    closed_with_history(fx, vouchers);
    sp_ledger_limits l = limits();
    sp_error err;
    sp_ledger_state *twin = sp_ledger_state_new(3, &l, &fx->directory, &err);
    assert_non_null(twin);
    static sp_ledger_event decoded;
    for (size_t i = 0; i < fx->event_count; i++) {
        ledger_fixture_roundtrip(&fx->events[i], &decoded);
        sp_ledger_applied applied;
        assert_int_equal(sp_ledger_apply(twin, &decoded, &applied, &err), 0);
        assert_false(applied.skipped);
    }
    const sp_ledger_pass *pass = sp_ledger_pass_find(twin, P1);
    assert_true(pass->closed);
    assert_int_equal(twin->budget_cents, fx->state->budget_cents);
    assert_int_equal(sp_ledger_balance_sum_cents(twin), 0);
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(sp_ledger_voucher_find(twin, vouchers[i])->status,
                         SP_LEDGER_VOUCHER_CANCELLED);
    const sp_ledger_record *record = sp_ledger_record_find(twin, P1, ACTOR, "close");
    assert_non_null(record);
    assert_string_equal(record->result_json,
                        sp_ledger_record_find(fx->state, P1, ACTOR, "close")->result_json);
    sp_ledger_state_free(twin);
}

/* A pass with vouchers (one redeemed, two cancelled by its close), a
 * payment, a close and a refusal after it: a snapshot at any
 * point and the events after it reach the state of the whole log. */
static void test_snapshot_then_the_log_reaches_the_same_close(void **state) {
    fixture *fx = *state;
    char vouchers[2][SP_ID_LEN + 1];
    closed_with_history(fx, vouchers);
    sp_ledger_limits l = limits();
    snapshot_check_every_cut(fx->events, fx->event_count, 3, &l, &fx->directory);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_close_returns_everything_to_the_budget, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_closed_pass_refuses_payments_credits_and_vouchers,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancelled_payment_after_close_goes_to_the_budget,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_only_the_back_office_closes_with_a_sound_reason, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_close_cancels_at_most_its_bound_of_vouchers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_forged_close_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebuild_from_encoded_events_reaches_the_same_close,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_then_the_log_reaches_the_same_close, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
