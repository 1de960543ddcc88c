/* test_operation.c - a partner's payments in the ledger: cancelling one
 * returns exactly its amount to its envelope (or to the budget once that
 * envelope has expired), takes it from the partner's owed account, keeps the
 * sum of all balances at zero, and happens once; another partner cannot
 * touch it; a reference is set only by its partner; a pass remembers a
 * bounded number of payments; a rebuild from the encoded events reaches
 * the same state and the same answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "sp_envelope.h"
#include "transactions/ledger.h"
#include "transactions/ledger_codec.h"
#include "ledger_fixture.h"

/* 2026-03-10T10:00:00Z, a Tuesday in winter time. */
#define T0_MS INT64_C(1773136800000)
#define DAY_MS INT64_C(86400000)
#define EVENTS_MAX 64
#define ACTOR "9b2e4c1a-1111-4222-8333-444455556666"
#define PARTNER_ACTOR "1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5"
#define P1 "0f8fad5b-d9cb-469f-a165-70867728950e"

typedef struct fixture {
    sp_ledger_directory directory;
    sp_ledger_state *state;
    sp_ledger_partner sport, lecture;
    sp_ledger_event events[EVENTS_MAX];
    size_t event_count;
} fixture;

static void add_partner(fixture *fx, const char *name, const char *category,
                        sp_ledger_partner *copy) {
    ledger_fixture_add_partner(&fx->directory, name, category, copy);
}

static sp_ledger_limits limits(void) {
    return (sp_ledger_limits){.passes_max = 100,
                              .commands_max = 10000,
                              .partners_max = 100,
                              .payment_cents_max = 100000,
                              .credit_cents_max = 1000000,
                              .vouchers_max = 100,
                              .voucher_validity_days = 90};
}

static int setup(void **state) {
    if (sodium_init() < 0) return -1;
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    sp_error err;
    assert_int_equal(sp_ledger_directory_init(&fx->directory, 100, &err), 0);
    add_partner(fx, "Stade Nautique", "sport", &fx->sport);
    add_partner(fx, "Librairie des Arcades", "lecture", &fx->lecture);
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

static void run(fixture *fx, const sp_ledger_command *command, int64_t now_ms,
                sp_ledger_decision *out) {
    ledger_fixture_run(fx->state, command, now_ms, out);
    if (out->kind == SP_LEDGER_DECIDED_EVENT && fx->event_count < EVENTS_MAX)
        fx->events[fx->event_count++] = out->event;
}

/* A pass with general 10 000, sport 5 000 (ending sport_end, or never). */
static void open_and_credit(fixture *fx, const char *sport_end) {
    sp_ledger_decision d;
    sp_ledger_command open = {.kind = SP_LEDGER_COMMAND_OPEN_PASS,
                              .pass_id = P1,
                              .actor_id = ACTOR,
                              .command_id = "open",
                              .beneficiary_id = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
                              .envelope_count = 2};
    open.envelope_categories[0] = "general";
    open.envelope_end_dates[0] = "";
    open.envelope_categories[1] = "sport";
    open.envelope_end_dates[1] = sport_end;
    run(fx, &open, T0_MS, &d);
    const char *categories[] = {"general", "sport"};
    const int64_t amounts[] = {10000, 5000};
    for (size_t i = 0; i < 2; i++) {
        sp_ledger_command credit = {.kind = SP_LEDGER_COMMAND_CREDIT_PASS,
                                    .pass_id = P1,
                                    .actor_id = ACTOR,
                                    .command_id = categories[i],
                                    .category = categories[i],
                                    .amount_cents = amounts[i]};
        run(fx, &credit, T0_MS, &d);
        assert_int_equal(d.event.kind, SP_LEDGER_EVENT_PASS_CREDITED);
    }
}

/* Pays and returns the operation id (out: 37 bytes). */
static void pay_ok(fixture *fx, const char *key, const sp_ledger_partner *partner,
                   int64_t amount_cents, char *out) {
    sp_ledger_decision d;
    sp_ledger_command pay = {.kind = SP_LEDGER_COMMAND_PAY,
                             .pass_id = P1,
                             .actor_id = ACTOR,
                             .command_id = key,
                             .partner_code = partner->partner_code,
                             .amount_cents = amount_cents};
    run(fx, &pay, T0_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_PAYMENT_ACCEPTED);
    memcpy(out, d.event.operation_id, SP_ID_LEN + 1);
}

static void cancel(fixture *fx, const char *key, const char *operation_id,
                   const sp_ledger_partner *partner, int64_t now_ms, sp_ledger_decision *out) {
    sp_ledger_command command = {.kind = SP_LEDGER_COMMAND_CANCEL_OPERATION,
                                 .pass_id = P1,
                                 .actor_id = PARTNER_ACTOR,
                                 .command_id = key,
                                 .operation_id = operation_id,
                                 .partner_id = partner->partner_id};
    run(fx, &command, now_ms, out);
}

static void set_reference(fixture *fx, const char *key, const char *operation_id,
                          const sp_ledger_partner *partner, const char *reference,
                          sp_ledger_decision *out) {
    sp_ledger_command command = {.kind = SP_LEDGER_COMMAND_SET_OPERATION_REFERENCE,
                                 .pass_id = P1,
                                 .actor_id = PARTNER_ACTOR,
                                 .command_id = key,
                                 .operation_id = operation_id,
                                 .partner_id = partner->partner_id,
                                 .reference = reference};
    run(fx, &command, T0_MS, out);
}

static int64_t envelope_cents(const fixture *fx, const char *category) {
    const sp_ledger_pass *pass = sp_ledger_pass_find(fx->state, P1);
    for (size_t i = 0; i < pass->envelope_count; i++) {
        if (strcmp(pass->envelopes[i].category, category) == 0)
            return pass->envelopes[i].balance_cents;
    }
    fail_msg("no envelope %s", category);
    return -1;
}

static void assert_rejected(const sp_ledger_decision *d, const char *code) {
    ledger_fixture_assert_rejected(d, code);
}

/* ------------------------------------------------------------ cancel */

static void test_cancel_returns_the_money_exactly_once(void **state) {
    fixture *fx = *state;
    open_and_credit(fx, "");
    char op[SP_ID_LEN + 1];
    pay_ok(fx, "p1", &fx->sport, 1234, op);
    assert_int_equal(envelope_cents(fx, "sport"), 5000 - 1234);
    assert_int_equal(sp_ledger_partner_owed_cents(fx->state, fx->sport.partner_id), 1234);
    int64_t budget_before = fx->state->budget_cents;
    sp_ledger_decision d;
    cancel(fx, "c1", op, &fx->sport, T0_MS + 1000, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_OPERATION_CANCELLED);
    assert_int_equal(d.event.amount_cents, 1234);
    assert_string_equal(d.event.postings[0].credit_account + strlen("pass:") + SP_ID_LEN, ":sport");
    assert_int_equal(envelope_cents(fx, "sport"), 5000);
    assert_int_equal(sp_ledger_pass_balance_cents(sp_ledger_pass_find(fx->state, P1)), 15000);
    assert_int_equal(sp_ledger_partner_owed_cents(fx->state, fx->sport.partner_id), 0);
    assert_int_equal(fx->state->budget_cents, budget_before);
    const sp_ledger_operation *remembered = sp_ledger_operation_find(
        sp_ledger_pass_find(fx->state, P1), op);
    assert_non_null(remembered);
    assert_int_equal(remembered->status, SP_LEDGER_OPERATION_CANCELLED);
    const sp_ledger_record *first = sp_ledger_record_find(fx->state, P1, PARTNER_ACTOR, "c1");
    assert_non_null(strstr(first->result_json, "\"returned_to\":\"envelope\""));
    assert_int_equal(first->http_status, 200);

    /* The same key answers the same; another key is refused and moves nothing. */
    cancel(fx, "c1", op, &fx->sport, T0_MS + 2000, &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_REPLAY);
    assert_ptr_equal(d.record, first);
    cancel(fx, "c2", op, &fx->sport, T0_MS + 2000, &d);
    assert_rejected(&d, "operation_cancelled");
    assert_int_equal(sp_ledger_status_of_code("operation_cancelled"), 409);
    set_reference(fx, "r1", op, &fx->sport, "too late", &d);
    assert_rejected(&d, "operation_cancelled");
    assert_int_equal(envelope_cents(fx, "sport"), 5000);
    assert_int_equal(sp_ledger_partner_owed_cents(fx->state, fx->sport.partner_id), 0);
}

static void test_another_partner_cannot_touch_it(void **state) {
    fixture *fx = *state;
    open_and_credit(fx, "");
    char op[SP_ID_LEN + 1];
    pay_ok(fx, "p1", &fx->sport, 700, op);
    sp_ledger_decision d;
    cancel(fx, "c1", op, &fx->lecture, T0_MS, &d);
    assert_rejected(&d, "operation_not_found");
    assert_int_equal(sp_ledger_status_of_code("operation_not_found"), 404);
    set_reference(fx, "r1", op, &fx->lecture, "mine", &d);
    assert_rejected(&d, "operation_not_found");
    cancel(fx, "c2", "7d0c3f8e-0000-4000-8000-000000000001", &fx->sport, T0_MS, &d);
    assert_rejected(&d, "operation_not_found");
    /* A credit is no payment of anyone. */
    cancel(fx, "c3", fx->events[1].operation_id, &fx->sport, T0_MS, &d);
    assert_rejected(&d, "operation_not_found");
    assert_int_equal(sp_ledger_partner_owed_cents(fx->state, fx->sport.partner_id), 700);
    assert_int_equal(sp_ledger_operation_find(sp_ledger_pass_find(fx->state, P1), op)->status,
                     SP_LEDGER_OPERATION_ACCEPTED);
}

static void test_cancel_after_the_envelope_expired_goes_to_the_budget(void **state) {
    fixture *fx = *state;
    open_and_credit(fx, "2026-03-12");
    char op[SP_ID_LEN + 1];
    pay_ok(fx, "p1", &fx->sport, 900, op);
    int64_t later_ms = T0_MS + 3 * DAY_MS;
    int64_t budget_before = fx->state->budget_cents;
    sp_ledger_decision d;
    /* Past its end date, not yet swept: the budget already. */
    cancel(fx, "c1", op, &fx->sport, later_ms, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_OPERATION_CANCELLED);
    assert_string_equal(d.event.postings[0].credit_account, "budget");
    assert_int_equal(envelope_cents(fx, "sport"), 4100);
    assert_int_equal(fx->state->budget_cents, budget_before + 900);
    assert_int_equal(sp_ledger_partner_owed_cents(fx->state, fx->sport.partner_id), 0);
    assert_non_null(strstr(sp_ledger_record_find(fx->state, P1, PARTNER_ACTOR, "c1")->result_json,
                           "\"returned_to\":\"budget\""));
    sp_ledger_event events[4];
    size_t count = 0;
    sp_error err;
    assert_int_equal(sp_ledger_sweep_expiries(fx->state, later_ms, events, 4, &count, &err), 0);
    assert_int_equal(count, 1);
    assert_int_equal(events[0].amount_cents, 4100);
    assert_int_equal(sp_ledger_balance_sum_cents(fx->state), 0);
}

static void test_cancelling_a_redemption_returns_it_to_the_pass(void **state) {
    fixture *fx = *state;
    open_and_credit(fx, "");
    sp_ledger_decision d;
    sp_ledger_command issue = {.kind = SP_LEDGER_COMMAND_ISSUE_VOUCHER,
                               .pass_id = P1,
                               .actor_id = ACTOR,
                               .command_id = "v",
                               .amount_cents = 600,
                               .category = "",
                               .partner_code = ""};
    run(fx, &issue, T0_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_VOUCHER_ISSUED);
    char voucher_id[SP_ID_LEN + 1], number[SP_VOUCHER_NUMBER_LEN + 1];
    memcpy(voucher_id, d.event.voucher_id, sizeof voucher_id);
    memcpy(number, d.event.voucher_number, sizeof number);
    sp_ledger_command redeem = {.kind = SP_LEDGER_COMMAND_REDEEM_VOUCHER,
                                .pass_id = P1,
                                .actor_id = PARTNER_ACTOR,
                                .command_id = "r",
                                .voucher_id = voucher_id,
                                .voucher_number = number,
                                .partner_code = fx->lecture.partner_code};
    run(fx, &redeem, T0_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_VOUCHER_REDEEMED);
    char op[SP_ID_LEN + 1];
    memcpy(op, d.event.operation_id, sizeof op);
    assert_int_equal(envelope_cents(fx, "general"), 9400);
    cancel(fx, "c", op, &fx->lecture, T0_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_OPERATION_CANCELLED);
    assert_string_equal(d.event.voucher_id, voucher_id);
    assert_int_equal(envelope_cents(fx, "general"), 10000);
    assert_int_equal(sp_ledger_partner_owed_cents(fx->state, fx->lecture.partner_id), 0);
    assert_int_equal(sp_ledger_voucher_find(fx->state, voucher_id)->status,
                     SP_LEDGER_VOUCHER_REDEEMED);
}

/* ------------------------------------------------------------ reference */

static void test_reference_is_checked_and_set_by_its_partner(void **state) {
    fixture *fx = *state;
    open_and_credit(fx, "");
    char op[SP_ID_LEN + 1];
    pay_ok(fx, "p1", &fx->sport, 100, op);
    sp_ledger_decision d;
    set_reference(fx, "r1", op, &fx->sport, "Facture 2026-031", &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_OPERATION_REFERENCE_SET);
    assert_string_equal(d.event.reference, "Facture 2026-031");
    set_reference(fx, "r2", op, &fx->sport, "", &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_OPERATION_REFERENCE_SET);
    set_reference(fx, "r3", op, &fx->sport, "line\nbreak", &d);
    assert_rejected(&d, "invalid_value");
    char long_text[102];
    memset(long_text, 'x', 101);
    long_text[101] = '\0';
    set_reference(fx, "r4", op, &fx->sport, long_text, &d);
    assert_rejected(&d, "invalid_value");
    /* 100 characters of two bytes each are fine. */
    char accents[201];
    for (size_t i = 0; i < 100; i++) memcpy(accents + 2 * i, "\xc3\xa9", 2);
    accents[200] = '\0';
    set_reference(fx, "r5", op, &fx->sport, accents, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_OPERATION_REFERENCE_SET);
    /* Same key, another reference: a conflict, not a second event. */
    set_reference(fx, "r1", op, &fx->sport, "Autre", &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_REFUSED);
    assert_string_equal(d.error.code, "idempotency_conflict");
    assert_int_equal(envelope_cents(fx, "sport"), 4900);
}

/* ------------------------------------------------------------ bound */

static void test_a_pass_remembers_a_bounded_number_of_payments(void **state) {
    fixture *fx = *state;
    open_and_credit(fx, "");
    char first[SP_ID_LEN + 1], op[SP_ID_LEN + 1];
    for (size_t i = 0; i <= SP_LEDGER_PASS_OPERATIONS_MAX; i++) {
        char key[32];
        snprintf(key, sizeof key, "p%zu", i);
        pay_ok(fx, key, &fx->lecture, 1, i == 0 ? first : op);
    }
    const sp_ledger_pass *pass = sp_ledger_pass_find(fx->state, P1);
    assert_int_equal(pass->operation_count, SP_LEDGER_PASS_OPERATIONS_MAX);
    assert_null(sp_ledger_operation_find(pass, first)); /* the oldest is forgotten */
    assert_non_null(sp_ledger_operation_find(pass, op));
    sp_ledger_decision d;
    cancel(fx, "c-old", first, &fx->lecture, T0_MS, &d);
    assert_rejected(&d, "operation_not_found");
    cancel(fx, "c-new", op, &fx->lecture, T0_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_OPERATION_CANCELLED);
}

/* ------------------------------------------------------------ rebuild */

static void roundtrip(const sp_ledger_event *event, sp_ledger_event *out) {
    sp_ledger_event_pb holder;
    const ProtobufCMessage *payload = sp_ledger_event_to_pb(event, &holder);
    sp_envelope_meta meta;
    sp_ledger_event_meta(event, "", &meta);
    uint8_t *bytes = NULL;
    size_t len = 0;
    sp_error err;
    assert_int_equal(sp_envelope_pack(&meta, payload, &bytes, &len, NULL, &err), 0);
    Solipass__Envelope *envelope = sp_envelope_unpack(bytes, len, &err);
    assert_non_null(envelope);
    assert_int_equal(sp_ledger_event_from_envelope(envelope, out, &err), 0);
    solipass__envelope__free_unpacked(envelope, NULL);
    free(bytes);
}

static void test_rebuild_reaches_the_same_operations(void **state) {
    fixture *fx = *state;
    open_and_credit(fx, "");
    char a[SP_ID_LEN + 1], b[SP_ID_LEN + 1];
    pay_ok(fx, "pa", &fx->sport, 300, a);
    pay_ok(fx, "pb", &fx->lecture, 400, b);
    sp_ledger_decision d;
    set_reference(fx, "ra", a, &fx->sport, "Ticket 7", &d);
    cancel(fx, "cb", b, &fx->lecture, T0_MS, &d);
    cancel(fx, "cx", b, &fx->sport, T0_MS, &d); /* rejected */
    sp_ledger_limits l = limits();
    sp_error err;
    sp_ledger_state *twin = sp_ledger_state_new(3, &l, &fx->directory, &err);
    assert_non_null(twin);
    for (size_t i = 0; i < fx->event_count; i++) {
        sp_ledger_event decoded;
        roundtrip(&fx->events[i], &decoded);
        sp_ledger_applied applied;
        assert_int_equal(sp_ledger_apply(twin, &decoded, &applied, &err), 0);
        assert_false(applied.skipped);
    }
    const sp_ledger_pass *x = sp_ledger_pass_find(fx->state, P1);
    const sp_ledger_pass *y = sp_ledger_pass_find(twin, P1);
    assert_int_equal(x->operation_count, y->operation_count);
    for (size_t i = 0; i < x->operation_count; i++) {
        assert_memory_equal(&x->operations[i], &y->operations[i], sizeof x->operations[i]);
    }
    assert_int_equal(sp_ledger_pass_balance_cents(y), 15000 - 300);
    assert_int_equal(sp_ledger_partner_owed_cents(twin, fx->lecture.partner_id), 0);
    assert_int_equal(sp_ledger_partner_owed_cents(twin, fx->sport.partner_id), 300);
    assert_int_equal(sp_ledger_balance_sum_cents(twin), 0);
    assert_int_equal(twin->budget_cents, fx->state->budget_cents);
    const char *keys[] = {"ra", "cb", "cx"};
    for (size_t i = 0; i < 3; i++) {
        const sp_ledger_record *r1 = sp_ledger_record_find(fx->state, P1, PARTNER_ACTOR, keys[i]);
        const sp_ledger_record *r2 = sp_ledger_record_find(twin, P1, PARTNER_ACTOR, keys[i]);
        assert_non_null(r2);
        assert_int_equal(r1->http_status, r2->http_status);
        assert_string_equal(r1->result_json, r2->result_json);
        assert_string_equal(r1->code, r2->code);
        assert_memory_equal(r1->request_hash, r2->request_hash, SP_KEY_LEN);
    }
    sp_ledger_state_free(twin);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cancel_returns_the_money_exactly_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_another_partner_cannot_touch_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_after_the_envelope_expired_goes_to_the_budget,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancelling_a_redemption_returns_it_to_the_pass, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reference_is_checked_and_set_by_its_partner, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_pass_remembers_a_bounded_number_of_payments, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rebuild_reaches_the_same_operations, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
