/* test_ledger.c - the ledger's rules: payments never overdraw an envelope,
 * the sum of all balances stays zero, a command id keeps its first outcome,
 * envelopes by category with the general fallback, expiry on the Paris
 * calendar, version checks, and a rebuild from the events (through their
 * protobuf encoding) reaching the very same state. */
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
#include "sp_money.h"
#include "transactions/ledger.h"
#include "transactions/ledger_codec.h"
#include "ledger_fixture.h"

/* 2026-03-10T10:00:00Z, a Tuesday in winter time. */
#define T0_MS INT64_C(1773136800000)
#define DAY_MS INT64_C(86400000)
#define EVENTS_MAX 20000
#define ACTOR "9b2e4c1a-1111-4222-8333-444455556666"

typedef struct fixture {
    sp_ledger_directory directory;
    sp_ledger_state *state;
    sp_ledger_partner sport, lecture, music; /* copies of what the directory holds */
    sp_ledger_event *events;                 /* every applied event, in order */
    size_t event_count;
    int64_t next_offset;
} fixture;

static void add_partner(fixture *fx, const char *name, const char *category,
                        sp_ledger_partner *copy) {
    ledger_fixture_add_partner(&fx->directory, name, category, copy);
}

static sp_ledger_limits default_limits(void) {
    return (sp_ledger_limits){.passes_max = 1000,
                              .commands_max = 100000,
                              .partners_max = 100,
                              .payment_cents_max = 100000,
                              .credit_cents_max = 1000000};
}

static int setup_with(void **state, const sp_ledger_limits *limits) {
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    sp_error err;
    assert_int_equal(sp_ledger_directory_init(&fx->directory, 100, &err), 0);
    add_partner(fx, "Stade Nautique", "sport", &fx->sport);
    add_partner(fx, "Librairie des Arcades", "lecture", &fx->lecture);
    add_partner(fx, "École de musique", "music", &fx->music);
    fx->state = sp_ledger_state_new(3, limits, &fx->directory, &err);
    assert_non_null(fx->state);
    fx->events = calloc(EVENTS_MAX, sizeof *fx->events);
    assert_non_null(fx->events);
    *state = fx;
    return 0;
}

static int setup(void **state) {
    sp_ledger_limits limits = default_limits();
    return setup_with(state, &limits);
}

static int teardown(void **state) {
    fixture *fx = *state;
    sp_ledger_state_free(fx->state);
    sp_ledger_directory_destroy(&fx->directory);
    free(fx->events);
    free(fx);
    return 0;
}

/* Applies like the service: the event, then its position on the log. */
static void apply_logged(fixture *fx, const sp_ledger_event *event) {
    sp_ledger_applied applied;
    sp_error err;
    assert_int_equal(sp_ledger_apply(fx->state, event, &applied, &err), 0);
    assert_false(applied.skipped);
    int64_t offset = fx->next_offset++;
    if (applied.record != NULL) sp_ledger_record_set_event_ref(applied.record, 3, offset);
    assert_true(fx->event_count < EVENTS_MAX);
    fx->events[fx->event_count++] = *event;
}

static void run(fixture *fx, const sp_ledger_command *command, int64_t now_ms,
                sp_ledger_decision *out) {
    sp_ledger_decide(fx->state, command, now_ms, out);
    if (out->kind == SP_LEDGER_DECIDED_EVENT) apply_logged(fx, &out->event);
}

static void open_pass(fixture *fx, const char *pass_id, const char *spec, sp_ledger_decision *out) {
    /* spec: "general=,sport=2026-06-30" */
    static char copy[256];
    snprintf(copy, sizeof copy, "%s", spec);
    sp_ledger_command command = {.kind = SP_LEDGER_COMMAND_OPEN_PASS,
                                 .pass_id = pass_id,
                                 .actor_id = ACTOR,
                                 .command_id = "open-1"};
    command.beneficiary_id = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9";
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        assert_non_null(eq);
        *eq = '\0';
        /* A ninth envelope is counted (and refused) but has no slot. */
        if (command.envelope_count < SP_LEDGER_ENVELOPES_MAX) {
            command.envelope_categories[command.envelope_count] = item;
            command.envelope_end_dates[command.envelope_count] = eq + 1;
        }
        command.envelope_count++;
    }
    run(fx, &command, T0_MS, out);
}

static void credit(fixture *fx, const char *pass_id, const char *category, int64_t amount_cents,
                   const char *key, int64_t now_ms, sp_ledger_decision *out) {
    sp_ledger_command command = {.kind = SP_LEDGER_COMMAND_CREDIT_PASS,
                                 .pass_id = pass_id,
                                 .actor_id = ACTOR,
                                 .command_id = key,
                                 .category = category,
                                 .amount_cents = amount_cents};
    run(fx, &command, now_ms, out);
}

static void credit_until(fixture *fx, const char *pass_id, const char *category,
                         int64_t amount_cents, const char *end_date, const char *key,
                         int64_t now_ms, sp_ledger_decision *out) {
    sp_ledger_command command = {.kind = SP_LEDGER_COMMAND_CREDIT_PASS,
                                 .pass_id = pass_id,
                                 .actor_id = ACTOR,
                                 .command_id = key,
                                 .category = category,
                                 .amount_cents = amount_cents,
                                 .end_date = end_date};
    run(fx, &command, now_ms, out);
}

static void pay(fixture *fx, const char *pass_id, const char *partner_code, int64_t amount_cents,
                const char *key, int64_t now_ms, sp_ledger_decision *out) {
    sp_ledger_command command = {.kind = SP_LEDGER_COMMAND_PAY,
                                 .pass_id = pass_id,
                                 .actor_id = ACTOR,
                                 .command_id = key,
                                 .partner_code = partner_code,
                                 .amount_cents = amount_cents};
    run(fx, &command, now_ms, out);
}

static int64_t envelope_cents(const fixture *fx, const char *pass_id, const char *category) {
    const sp_ledger_pass *pass = sp_ledger_pass_find(fx->state, pass_id);
    assert_non_null(pass);
    for (size_t i = 0; i < pass->envelope_count; i++) {
        if (strcmp(pass->envelopes[i].category, category) == 0)
            return pass->envelopes[i].balance_cents;
    }
    fail_msg("no envelope %s", category);
    return -1;
}

static const sp_ledger_record *record_of(const fixture *fx, const char *pass_id, const char *key) {
    return sp_ledger_record_find(fx->state, pass_id, ACTOR, key);
}

static json_int_t json_int_field(const char *text, const char *key) {
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    assert_non_null(root);
    json_t *value = json_object_get(root, key);
    assert_true(json_is_integer(value));
    json_int_t out = json_integer_value(value);
    json_decref(root);
    return out;
}

static void roundtrip(const sp_ledger_event *event, sp_ledger_event *out);

static const char *P1 = "0b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8";
static const char *P2 = "1c2d3e4f-5061-4b72-8c83-a4b5c6d7e8f9";

/* ------------------------------------------------------------ payments */

static void test_payment_within_balance(void **state) {
    fixture *fx = *state;
    sp_ledger_decision d;
    open_pass(fx, P1, "general=", &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_EVENT);
    credit(fx, P1, "general", 5000, "c1", T0_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_PASS_CREDITED);
    pay(fx, P1, fx->sport.partner_code, 1200, "k1", T0_MS + 1234, &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_EVENT);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_PAYMENT_ACCEPTED);
    assert_int_equal(envelope_cents(fx, P1, "general"), 3800);
    assert_int_equal(sp_ledger_partner_owed_cents(fx->state, fx->sport.partner_id), 1200);
    assert_int_equal(fx->state->budget_cents, -5000);
    assert_int_equal(sp_ledger_balance_sum_cents(fx->state), 0);

    const sp_ledger_record *record = record_of(fx, P1, "k1");
    assert_non_null(record);
    assert_true(record->ok);
    assert_int_equal(record->http_status, 201);
    json_error_t jerr;
    json_t *root = json_loads(record->result_json, 0, &jerr);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "kind")), "payment");
    assert_string_equal(json_string_value(json_object_get(root, "status")), "accepted");
    assert_string_equal(json_string_value(json_object_get(root, "partner_name")), "Stade Nautique");
    assert_string_equal(json_string_value(json_object_get(root, "partner_code")),
                        fx->sport.partner_code);
    assert_string_equal(json_string_value(json_object_get(root, "category")), "general");
    assert_string_equal(json_string_value(json_object_get(root, "occurred_at")),
                        "2026-03-10T10:00:01.234Z");
    assert_int_equal(json_integer_value(json_object_get(root, "amount_cents")), 1200);
    assert_int_equal(json_integer_value(json_object_get(root, "envelope_balance_after_cents")),
                     3800);
    assert_int_equal(json_integer_value(json_object_get(root, "pass_balance_after_cents")), 3800);
    assert_string_equal(json_string_value(json_object_get(root, "operation_id")),
                        d.event.operation_id);
    json_decref(root);
}

/* A payment signed as the service signs it: the signature survives the log's
 * bytes, and the answer (first or rebuilt) carries a receipt that verifies. */
static void test_signed_payment_receipt_round_trips(void **state) {
    fixture *fx = *state;
    sp_ledger_decision d;
    open_pass(fx, P1, "general=", &d);
    credit(fx, P1, "general", 5000, "c1", T0_MS, &d);
    sp_ledger_command command = {.kind = SP_LEDGER_COMMAND_PAY,
                                 .pass_id = P1,
                                 .actor_id = ACTOR,
                                 .command_id = "signed",
                                 .partner_code = fx->sport.partner_code,
                                 .amount_cents = 700};
    sp_ledger_decide(fx->state, &command, T0_MS + 5, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_PAYMENT_ACCEPTED);
    sp_receipt_signer signer;
    sp_error err;
    assert_int_equal(
        sp_receipt_signer_load("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=", &signer, &err), 0);
    sp_receipt receipt = {.amount_cents = d.event.amount_cents,
                          .occurred_at_ms = d.event.occurred_at_ms};
    strcpy(receipt.operation_id, d.event.operation_id);
    strcpy(receipt.partner_id, d.event.partner_id);
    sp_receipt_pass_ref(d.event.pass_id, receipt.pass_ref);
    assert_int_equal(sp_receipt_sign(&signer, &receipt, d.event.receipt_signature, &err), 0);
    d.event.has_receipt = true;
    d.event.receipt_key_id = receipt.key_id;
    sp_ledger_event back;
    roundtrip(&d.event, &back);
    assert_true(back.has_receipt);
    assert_int_equal(back.receipt_key_id, signer.key_id);
    assert_memory_equal(back.receipt_signature, d.event.receipt_signature, 64);
    apply_logged(fx, &back);
    const sp_ledger_record *record = record_of(fx, P1, "signed");
    assert_non_null(record);
    json_error_t jerr;
    json_t *root = json_loads(record->result_json, 0, &jerr);
    assert_non_null(root);
    const char *text = json_string_value(json_object_get(root, "receipt"));
    assert_non_null(text);
    sp_receipt_keyring keys = {.count = 1};
    keys.keys[0].key_id = signer.key_id;
    memcpy(keys.keys[0].public_key, signer.public_key, 32);
    sp_receipt got;
    assert_int_equal(sp_receipt_verify(text, &keys, &got, &err), 0);
    assert_string_equal(got.operation_id, d.event.operation_id);
    assert_int_equal(got.amount_cents, 700);
    json_decref(root);
}

static void test_payment_exactly_at_balance(void **state) {
    fixture *fx = *state;
    sp_ledger_decision d;
    open_pass(fx, P1, "general=", &d);
    credit(fx, P1, "general", 1000, "c1", T0_MS, &d);
    pay(fx, P1, fx->sport.partner_code, 1000, "k1", T0_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_PAYMENT_ACCEPTED);
    assert_int_equal(envelope_cents(fx, P1, "general"), 0);
    assert_int_equal(sp_ledger_partner_owed_cents(fx->state, fx->sport.partner_id), 1000);
    /* Nothing left: even one cent more is refused. */
    pay(fx, P1, fx->sport.partner_code, 1, "k2", T0_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_COMMAND_REJECTED);
    assert_string_equal(d.event.code, "insufficient_funds");
    assert_int_equal(sp_ledger_balance_sum_cents(fx->state), 0);
}

static void test_payment_above_balance_is_rejected_and_moves_nothing(void **state) {
    fixture *fx = *state;
    sp_ledger_decision d;
    open_pass(fx, P1, "general=", &d);
    credit(fx, P1, "general", 1000, "c1", T0_MS, &d);
    uint64_t version = sp_ledger_pass_find(fx->state, P1)->version;
    pay(fx, P1, fx->sport.partner_code, 1001, "k1", T0_MS, &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_EVENT);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_COMMAND_REJECTED);
    assert_int_equal(d.event.version, version + 1);
    assert_string_equal(d.event.code, "insufficient_funds");
    assert_string_equal(d.event.command_type, "ledger.Pay.v1");
    assert_non_null(strstr(d.event.message, "10,00 €"));
    assert_int_equal(envelope_cents(fx, P1, "general"), 1000);
    assert_int_equal(sp_ledger_partner_owed_cents(fx->state, fx->sport.partner_id), 0);
    assert_int_equal(fx->state->budget_cents, -1000);

    const sp_ledger_record *record = record_of(fx, P1, "k1");
    assert_non_null(record);
    assert_false(record->ok);
    assert_int_equal(record->http_status, 422);
    assert_string_equal(record->code, "insufficient_funds");
    assert_string_equal(record->field, "amount_cents");
    assert_string_equal(record->result_json, "");
}

static void test_amount_bounds_and_unknown_pass(void **state) {
    fixture *fx = *state;
    sp_ledger_decision d;
    pay(fx, P1, fx->sport.partner_code, 100, "k0", T0_MS, &d);
    /* An unknown pass: answered, not recorded (no aggregate to version). */
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_REFUSED);
    assert_int_equal(d.error.http_status, 404);
    assert_string_equal(d.error.code, "pass_not_found");
    assert_null(record_of(fx, P1, "k0"));

    open_pass(fx, P1, "general=", &d);
    credit(fx, P1, "general", 1000001, "c-big", T0_MS, &d);
    assert_string_equal(d.event.code, "invalid_amount");
    credit(fx, P1, "general", 0, "c-zero", T0_MS, &d);
    assert_string_equal(d.event.code, "invalid_amount");
    credit(fx, P1, "general", 200000, "c1", T0_MS, &d);
    pay(fx, P1, fx->sport.partner_code, 100001, "k-big", T0_MS, &d);
    assert_string_equal(d.event.code, "invalid_amount");
    pay(fx, P1, fx->sport.partner_code, -5, "k-neg", T0_MS, &d);
    assert_string_equal(d.event.code, "invalid_amount");
    pay(fx, P1, "12345674", 100, "k-unknown", T0_MS, &d); /* valid Luhn, no such partner */
    assert_string_equal(d.event.code, "partner_not_found");
    assert_int_equal(record_of(fx, P1, "k-unknown")->http_status, 404);
    pay(fx, P1, "12345678", 100, "k-luhn", T0_MS, &d);
    assert_string_equal(d.event.code, "invalid_partner_code");
    assert_int_equal(envelope_cents(fx, P1, "general"), 200000);
    assert_int_equal(sp_ledger_balance_sum_cents(fx->state), 0);
}

/* ------------------------------------------------------------ envelopes */

static void test_general_envelope_pays_a_category_without_envelope(void **state) {
    fixture *fx = *state;
    sp_ledger_decision d;
    open_pass(fx, P1, "general=,lecture=", &d);
    credit(fx, P1, "general", 3000, "c1", T0_MS, &d);
    credit(fx, P1, "lecture", 2000, "c2", T0_MS, &d);
    pay(fx, P1, fx->sport.partner_code, 500, "k1", T0_MS, &d);
    assert_string_equal(d.event.category, "general");
    assert_int_equal(envelope_cents(fx, P1, "general"), 2500);
    assert_int_equal(envelope_cents(fx, P1, "lecture"), 2000);
    assert_int_equal(
        json_int_field(record_of(fx, P1, "k1")->result_json, "pass_balance_after_cents"), 4500);
}

static void test_category_envelope_is_preferred(void **state) {
    fixture *fx = *state;
    sp_ledger_decision d;
    open_pass(fx, P1, "general=,sport=", &d);
    credit(fx, P1, "general", 3000, "c1", T0_MS, &d);
    credit(fx, P1, "sport", 2000, "c2", T0_MS, &d);
    pay(fx, P1, fx->sport.partner_code, 700, "k1", T0_MS, &d);
    assert_string_equal(d.event.category, "sport");
    assert_int_equal(envelope_cents(fx, P1, "sport"), 1300);
    assert_int_equal(envelope_cents(fx, P1, "general"), 3000);
    /* The category envelope does not borrow from general when short. */
    pay(fx, P1, fx->sport.partner_code, 1301, "k2", T0_MS, &d);
    assert_string_equal(d.event.code, "insufficient_funds");
    assert_non_null(strstr(d.event.message, "13,00 €"));
    assert_int_equal(envelope_cents(fx, P1, "general"), 3000);
}

static void test_no_envelope_for_category(void **state) {
    fixture *fx = *state;
    sp_ledger_decision d;
    open_pass(fx, P1, "lecture=", &d);
    credit(fx, P1, "lecture", 3000, "c1", T0_MS, &d);
    pay(fx, P1, fx->sport.partner_code, 100, "k1", T0_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_COMMAND_REJECTED);
    assert_string_equal(d.event.code, "no_envelope_for_category");
    assert_int_equal(record_of(fx, P1, "k1")->http_status, 422);
    pay(fx, P1, fx->lecture.partner_code, 100, "k2", T0_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_PAYMENT_ACCEPTED);
    assert_int_equal(envelope_cents(fx, P1, "lecture"), 2900);
}

/* ------------------------------------------------------------ idempotency */

static void test_same_key_same_body_replays_without_second_movement(void **state) {
    fixture *fx = *state;
    sp_ledger_decision d;
    open_pass(fx, P1, "general=", &d);
    credit(fx, P1, "general", 5000, "c1", T0_MS, &d);
    pay(fx, P1, fx->music.partner_code, 1500, "k1", T0_MS, &d);
    const sp_ledger_record *first = record_of(fx, P1, "k1");
    char *first_json = strdup(first->result_json);
    size_t events_before = fx->event_count;
    char spaced[16];
    snprintf(spaced, sizeof spaced, "%.4s %.4s", fx->music.partner_code,
             fx->music.partner_code + 4);
    for (int i = 0; i < 10; i++) {
        /* Later, and typed with a space: the same request. */
        pay(fx, P1, spaced, 1500, "k1", T0_MS + 60000, &d);
        assert_int_equal(d.kind, SP_LEDGER_DECIDED_REPLAY);
        assert_ptr_equal(d.record, first);
        assert_string_equal(d.record->result_json, first_json);
    }
    assert_int_equal(fx->event_count, events_before);
    assert_int_equal(envelope_cents(fx, P1, "general"), 3500);
    assert_int_equal(sp_ledger_partner_owed_cents(fx->state, fx->music.partner_id), 1500);
    /* A rejection is an outcome too: the same key keeps it. */
    pay(fx, P1, fx->music.partner_code, 9999, "k2", T0_MS, &d);
    assert_string_equal(d.event.code, "insufficient_funds");
    credit(fx, P1, "general", 10000, "c2", T0_MS, &d);
    pay(fx, P1, fx->music.partner_code, 9999, "k2", T0_MS, &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_REPLAY);
    assert_false(d.record->ok);
    assert_string_equal(d.record->code, "insufficient_funds");
    free(first_json);
}

static void test_same_key_other_body_is_a_conflict(void **state) {
    fixture *fx = *state;
    sp_ledger_decision d;
    open_pass(fx, P1, "general=", &d);
    credit(fx, P1, "general", 5000, "c1", T0_MS, &d);
    pay(fx, P1, fx->music.partner_code, 1500, "k1", T0_MS, &d);
    size_t events_before = fx->event_count;
    pay(fx, P1, fx->music.partner_code, 1501, "k1", T0_MS, &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_REFUSED);
    assert_int_equal(d.error.http_status, 409);
    assert_string_equal(d.error.code, "idempotency_conflict");
    pay(fx, P1, fx->sport.partner_code, 1500, "k1", T0_MS, &d);
    assert_string_equal(d.error.code, "idempotency_conflict");
    credit(fx, P1, "general", 5000, "k1", T0_MS, &d); /* another command type, same key */
    assert_string_equal(d.error.code, "idempotency_conflict");
    assert_int_equal(fx->event_count, events_before);
    assert_int_equal(envelope_cents(fx, P1, "general"), 3500);
    assert_true(record_of(fx, P1, "k1")->ok);
}

static void test_open_pass_rules(void **state) {
    fixture *fx = *state;
    sp_ledger_decision d;
    open_pass(fx, P1, "general=,general=", &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_REFUSED);
    assert_string_equal(d.error.code, "invalid_category");
    open_pass(fx, P1, "Sport=", &d);
    assert_string_equal(d.error.code, "invalid_category");
    open_pass(fx, P1, "general=2026-02-30", &d);
    assert_string_equal(d.error.code, "invalid_date");
    open_pass(fx, P1, "a=,b1=,c2=,d3=,e4=,f5=,g6=,h7=,i8=", &d);
    assert_string_equal(d.error.code, "invalid_value");
    assert_null(sp_ledger_pass_find(fx->state, P1));

    open_pass(fx, P1, "general=,sport=2026-06-30", &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_EVENT);
    const sp_ledger_record *record = record_of(fx, P1, "open-1");
    assert_non_null(record);
    assert_non_null(strstr(record->result_json,
                           "\"envelopes\":[{\"category\":\"general\",\"balance_cents\":0,"
                           "\"end_date\":null,\"expired\":false},{\"category\":\"sport\","
                           "\"balance_cents\":0,\"end_date\":\"2026-06-30\",\"expired\":false}]"));
    /* Opening it again under the same key: the same answer. */
    open_pass(fx, P1, "general=,sport=2026-06-30", &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_REPLAY);
    assert_ptr_equal(d.record, record);
    /* Another key, other envelopes: the pass exists, refused and recorded. */
    sp_ledger_command command = {.kind = SP_LEDGER_COMMAND_OPEN_PASS,
                                 .pass_id = P1,
                                 .actor_id = ACTOR,
                                 .command_id = "open-2",
                                 .beneficiary_id = ACTOR,
                                 .envelope_count = 1,
                                 .envelope_categories = {"general"},
                                 .envelope_end_dates = {""}};
    run(fx, &command, T0_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_COMMAND_REJECTED);
    assert_string_equal(d.event.code, "conflict");
    assert_int_equal(record_of(fx, P1, "open-2")->http_status, 409);
    assert_int_equal(sp_ledger_pass_find(fx->state, P1)->envelope_count, 2);
}

/* ------------------------------------------------------------ expiry */

/* 2026-06-30 ends at 22:00 UTC (CEST); 2027-01-15 at 23:00 UTC (CET). */
#define JUNE_30_LAST_MS INT64_C(1782856799999) /* 2026-06-30T21:59:59.999Z */
#define JAN_15_LAST_MS INT64_C(1800053999999)  /* 2027-01-15T22:59:59.999Z */

static void test_expiry_the_day_after_end_date_in_paris(void **state) {
    fixture *fx = *state;
    sp_ledger_decision d;
    char when[25];
    sp_ledger_format_instant(JUNE_30_LAST_MS, when);
    assert_string_equal(when, "2026-06-30T21:59:59.999Z");
    sp_ledger_format_instant(JAN_15_LAST_MS, when);
    assert_string_equal(when, "2027-01-15T22:59:59.999Z");

    open_pass(fx, P1, "general=,sport=2026-06-30", &d);
    open_pass(fx, P2, "lecture=2027-01-15", &d);
    credit(fx, P1, "sport", 4000, "c1", T0_MS, &d);
    credit(fx, P2, "lecture", 2500, "c1", T0_MS, &d);
    assert_int_equal(fx->state->budget_cents, -6500);

    sp_ledger_event swept[4];
    size_t count = 99;
    sp_error err;
    /* Last minute of June 30 in Paris: still usable. */
    pay(fx, P1, fx->sport.partner_code, 1000, "k1", JUNE_30_LAST_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_PAYMENT_ACCEPTED);
    assert_int_equal(sp_ledger_sweep_expiries(fx->state, JUNE_30_LAST_MS, swept, 4, &count, &err),
                     0);
    assert_int_equal(count, 0);
    assert_int_equal(
        sp_ledger_sweep_expiries(fx->state, JUNE_30_LAST_MS + 1, swept, 4, &count, &err), 0);
    assert_int_equal(count, 1);
    assert_int_equal(swept[0].kind, SP_LEDGER_EVENT_ENVELOPE_EXPIRED);
    assert_string_equal(swept[0].pass_id, P1);
    assert_string_equal(swept[0].category, "sport");
    assert_string_equal(swept[0].end_date, "2026-06-30");
    assert_string_equal(swept[0].command_id,
                        "expiry:0b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8:sport:2026-06-30");
    assert_int_equal(swept[0].amount_cents, 3000);
    assert_int_equal(swept[0].pass_balance_after_cents, 0);
    assert_true(sp_ledger_pass_find(fx->state, P1)->envelopes[1].closed);
    assert_int_equal(envelope_cents(fx, P1, "sport"), 0);
    assert_int_equal(fx->state->budget_cents, -3500);
    /* Swept once: never again. */
    assert_int_equal(
        sp_ledger_sweep_expiries(fx->state, JUNE_30_LAST_MS + DAY_MS, swept, 4, &count, &err), 0);
    assert_int_equal(count, 0);

    /* In winter the Paris day ends at 23:00 UTC. */
    assert_int_equal(sp_ledger_sweep_expiries(fx->state, JAN_15_LAST_MS, swept, 4, &count, &err),
                     0);
    assert_int_equal(count, 0);
    assert_int_equal(
        sp_ledger_sweep_expiries(fx->state, JAN_15_LAST_MS + 1, swept, 4, &count, &err), 0);
    assert_int_equal(count, 1);
    assert_string_equal(swept[0].pass_id, P2);
    assert_int_equal(swept[0].amount_cents, 2500);
    assert_int_equal(envelope_cents(fx, P2, "lecture"), 0);
    assert_int_equal(fx->state->budget_cents, -1000);
    assert_int_equal(sp_ledger_partner_owed_cents(fx->state, fx->sport.partner_id), 1000);
    assert_int_equal(sp_ledger_balance_sum_cents(fx->state), 0);
}

static void test_expired_envelope_refuses_payment_and_credit(void **state) {
    fixture *fx = *state;
    sp_ledger_decision d;
    open_pass(fx, P1, "general=,sport=2026-06-30", &d);
    credit(fx, P1, "sport", 4000, "c1", T0_MS, &d);
    credit(fx, P1, "general", 4000, "c2", T0_MS, &d);
    /* Not swept yet, but past its date: refused all the same, and no fallback to general. */
    pay(fx, P1, fx->sport.partner_code, 100, "k1", JUNE_30_LAST_MS + 1, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_COMMAND_REJECTED);
    assert_string_equal(d.event.code, "envelope_expired");
    credit(fx, P1, "sport", 100, "c3", JUNE_30_LAST_MS + 1, &d);
    assert_string_equal(d.event.code, "envelope_expired");
    sp_ledger_event swept[4];
    size_t count = 0;
    sp_error err;
    assert_int_equal(
        sp_ledger_sweep_expiries(fx->state, JUNE_30_LAST_MS + 1, swept, 4, &count, &err), 0);
    assert_int_equal(count, 1);
    /* Closed now: refused even at a time before its end date (clock moved back). */
    pay(fx, P1, fx->sport.partner_code, 100, "k2", T0_MS, &d);
    assert_string_equal(d.event.code, "envelope_expired");
    pay(fx, P1, fx->lecture.partner_code, 100, "k3", JUNE_30_LAST_MS + 1, &d);
    assert_string_equal(d.event.category, "general");
    assert_int_equal(sp_ledger_balance_sum_cents(fx->state), 0);
}

/* ------------------------------------------------------------ credits: envelopes, end dates */

static bool envelope_of(const fixture *fx, const char *pass_id, const char *category,
                        sp_ledger_envelope *out) {
    const sp_ledger_pass *pass = sp_ledger_pass_find(fx->state, pass_id);
    assert_non_null(pass);
    for (size_t i = 0; i < pass->envelope_count; i++) {
        if (strcmp(pass->envelopes[i].category, category) != 0) continue;
        *out = pass->envelopes[i];
        return true;
    }
    return false;
}

static char *end_date_of(const fixture *fx, const char *pass_id, const char *category,
                         char out[SP_LEDGER_DATE_LEN + 1]) {
    sp_ledger_envelope envelope;
    assert_true(envelope_of(fx, pass_id, category, &envelope));
    out[0] = '\0';
    if (envelope.has_end_date) sp_date_format(envelope.end_date, out);
    return out;
}

static void expect_rejected(const sp_ledger_decision *d, const char *code, const char *field) {
    assert_int_equal(d->kind, SP_LEDGER_DECIDED_EVENT);
    assert_int_equal(d->event.kind, SP_LEDGER_EVENT_COMMAND_REJECTED);
    assert_string_equal(d->event.code, code);
    assert_string_equal(d->event.field, field);
}

static void test_credit_opens_an_envelope_that_then_pays(void **state) {
    fixture *fx = *state;
    sp_ledger_decision d;
    open_pass(fx, P1, "general=", &d);
    credit_until(fx, P1, "sport", 3000, "2026-06-30", "c1", T0_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_PASS_CREDITED);
    assert_true(d.event.envelope_opened);
    assert_string_equal(d.event.end_date, "2026-06-30");
    assert_int_equal(d.event.envelope_balance_after_cents, 3000);
    assert_int_equal(sp_ledger_pass_find(fx->state, P1)->envelope_count, 2);
    char date[SP_LEDGER_DATE_LEN + 1];
    assert_string_equal(end_date_of(fx, P1, "sport", date), "2026-06-30");
    /* What the back office is answered. */
    const char *json = record_of(fx, P1, "c1")->result_json;
    assert_non_null(strstr(json, "\"envelope_opened\":true"));
    assert_non_null(strstr(json, "\"end_date\":\"2026-06-30\""));
    /* The new envelope pays its category's partner, the general one does not. */
    pay(fx, P1, fx->sport.partner_code, 1200, "k1", T0_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_PAYMENT_ACCEPTED);
    assert_string_equal(d.event.category, "sport");
    assert_int_equal(envelope_cents(fx, P1, "sport"), 1800);
    assert_int_equal(envelope_cents(fx, P1, "general"), 0);
    /* A second credit finds it: not opened again, end date kept. */
    credit(fx, P1, "sport", 200, "c2", T0_MS, &d);
    assert_false(d.event.envelope_opened);
    assert_string_equal(d.event.end_date, "2026-06-30");
    assert_int_equal(envelope_cents(fx, P1, "sport"), 2000);
    /* A new envelope without end date has none. */
    credit(fx, P1, "lecture", 100, "c3", T0_MS, &d);
    assert_true(d.event.envelope_opened);
    assert_string_equal(d.event.end_date, "");
    assert_string_equal(end_date_of(fx, P1, "lecture", date), "");
    assert_int_equal(fx->state->budget_cents, -3300);
    assert_int_equal(sp_ledger_balance_sum_cents(fx->state), 0);
    /* The event keeps what it says through the log's encoding. */
    sp_ledger_event decoded;
    roundtrip(&fx->events[1], &decoded);
    assert_true(decoded.envelope_opened);
    assert_string_equal(decoded.end_date, "2026-06-30");
    assert_string_equal(decoded.requested_end_date, "2026-06-30");
}

static void test_credit_refuses_a_ninth_envelope_and_a_bad_category(void **state) {
    fixture *fx = *state;
    sp_ledger_decision d;
    open_pass(fx, P1, "general=,a1=,a2=,a3=,a4=,a5=,a6=", &d);
    credit(fx, P1, "a7", 100, "c1", T0_MS, &d); /* the eighth: accepted */
    assert_true(d.event.envelope_opened);
    int64_t budget_cents = fx->state->budget_cents;
    credit(fx, P1, "a8", 100, "c2", T0_MS, &d);
    expect_rejected(&d, "too_many_envelopes", "category");
    assert_int_equal(record_of(fx, P1, "c2")->http_status, 422);
    credit(fx, P1, "Sport!", 100, "c3", T0_MS, &d);
    expect_rejected(&d, "invalid_category", "category");
    /* An existing one is still credited. */
    credit(fx, P1, "a3", 100, "c4", T0_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_PASS_CREDITED);
    assert_int_equal(sp_ledger_pass_find(fx->state, P1)->envelope_count, SP_LEDGER_ENVELOPES_MAX);
    assert_int_equal(fx->state->budget_cents, budget_cents - 100);
}

static void test_credit_sets_and_extends_but_never_shortens_an_end_date(void **state) {
    fixture *fx = *state;
    sp_ledger_decision d;
    char date[SP_LEDGER_DATE_LEN + 1];
    open_pass(fx, P1, "general=,sport=2026-06-30", &d);
    /* T0 is 2026-03-10 in Paris. */
    credit_until(fx, P1, "sport", 100, "2026-06-29", "c1", T0_MS, &d);
    expect_rejected(&d, "end_date_earlier", "end_date");
    assert_non_null(strstr(d.event.message, "2026-06-30"));
    credit_until(fx, P1, "general", 100, "2026-03-09", "c2", T0_MS, &d);
    expect_rejected(&d, "invalid_date", "end_date");
    credit_until(fx, P1, "general", 100, "2026-02-30", "c3", T0_MS, &d);
    expect_rejected(&d, "invalid_date", "end_date");
    credit_until(fx, P1, "sport", 100, "30/06/2026", "c4", T0_MS, &d);
    expect_rejected(&d, "invalid_date", "end_date");
    assert_int_equal(fx->state->budget_cents, 0); /* nothing moved */
    /* The same date changes nothing; today is accepted; later extends. */
    credit_until(fx, P1, "sport", 100, "2026-06-30", "c5", T0_MS, &d);
    assert_string_equal(d.event.end_date, "2026-06-30");
    credit_until(fx, P1, "general", 100, "2026-03-10", "c6", T0_MS, &d);
    assert_string_equal(end_date_of(fx, P1, "general", date), "2026-03-10");
    credit_until(fx, P1, "general", 100, "2026-12-31", "c7", T0_MS, &d);
    assert_string_equal(end_date_of(fx, P1, "general", date), "2026-12-31");
    credit_until(fx, P1, "sport", 4000, "2026-09-30", "c8", T0_MS, &d);
    assert_string_equal(d.event.end_date, "2026-09-30");
    assert_string_equal(end_date_of(fx, P1, "sport", date), "2026-09-30");
    /* Past the old end date the envelope still pays, and the sweep leaves it. */
    pay(fx, P1, fx->sport.partner_code, 500, "k1", JUNE_30_LAST_MS + 1, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_PAYMENT_ACCEPTED);
    assert_string_equal(d.event.category, "sport");
    sp_ledger_event swept[4];
    size_t count = 0;
    sp_error err;
    assert_int_equal(
        sp_ledger_sweep_expiries(fx->state, JUNE_30_LAST_MS + 1, swept, 4, &count, &err), 0);
    assert_int_equal(count, 0);
    /* The new end date is the one that expires it. */
    int64_t oct_1_ms = JUNE_30_LAST_MS + 1 + 92 * DAY_MS;
    assert_int_equal(sp_ledger_sweep_expiries(fx->state, oct_1_ms, swept, 4, &count, &err), 0);
    assert_int_equal(count, 1);
    assert_string_equal(swept[0].category, "sport");
    assert_string_equal(swept[0].end_date, "2026-09-30");
    assert_int_equal(swept[0].amount_cents, 3600);
    assert_int_equal(sp_ledger_balance_sum_cents(fx->state), 0);
}

static void test_expired_envelope_is_used_again_with_a_later_end_date(void **state) {
    fixture *fx = *state;
    sp_ledger_decision d;
    open_pass(fx, P1, "general=,sport=2026-06-30", &d);
    credit(fx, P1, "sport", 4000, "c1", T0_MS, &d);
    sp_ledger_event swept[4];
    size_t count = 0;
    sp_error err;
    int64_t july_2_ms = JUNE_30_LAST_MS + 1 + DAY_MS;
    assert_int_equal(sp_ledger_sweep_expiries(fx->state, july_2_ms, swept, 4, &count, &err), 0);
    assert_int_equal(count, 1);
    assert_int_equal(fx->state->budget_cents, 0);
    assert_string_equal(swept[0].command_id,
                        "expiry:0b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8:sport:2026-06-30");
    /* Without a new end date it stays expired; one before today is refused. */
    credit(fx, P1, "sport", 1000, "c2", july_2_ms, &d);
    expect_rejected(&d, "envelope_expired", "category");
    credit_until(fx, P1, "sport", 1000, "2026-07-01", "c3", july_2_ms, &d);
    expect_rejected(&d, "invalid_date", "end_date");
    credit_until(fx, P1, "sport", 1000, "2026-08-31", "c4", july_2_ms, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_PASS_CREDITED);
    assert_false(d.event.envelope_opened);
    assert_int_equal(d.event.envelope_balance_after_cents, 1000); /* the old remainder is gone */
    sp_ledger_envelope envelope;
    assert_true(envelope_of(fx, P1, "sport", &envelope));
    assert_false(envelope.closed);
    pay(fx, P1, fx->sport.partner_code, 300, "k1", july_2_ms, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_PAYMENT_ACCEPTED);
    /* It expires again after its new end date, returning what is left. */
    int64_t sept_1_ms = july_2_ms + 61 * DAY_MS;
    assert_int_equal(sp_ledger_sweep_expiries(fx->state, sept_1_ms, swept, 4, &count, &err), 0);
    assert_int_equal(count, 1);
    assert_int_equal(swept[0].amount_cents, 700);
    /* Its second expiry is another command than its first, at its own date. */
    assert_string_equal(swept[0].command_id,
                        "expiry:0b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8:sport:2026-08-31");
    assert_int_equal(fx->state->budget_cents, -300);
    assert_int_equal(sp_ledger_balance_sum_cents(fx->state), 0);
}

static void test_credit_end_date_is_part_of_the_request(void **state) {
    fixture *fx = *state;
    sp_ledger_decision d;
    open_pass(fx, P1, "general=", &d);
    credit_until(fx, P1, "sport", 500, "2026-06-30", "c1", T0_MS, &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_EVENT);
    credit_until(fx, P1, "sport", 500, "2026-06-30", "c1", T0_MS, &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_REPLAY);
    credit_until(fx, P1, "sport", 500, "2026-07-31", "c1", T0_MS, &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_REFUSED);
    assert_string_equal(d.error.code, "idempotency_conflict");
    credit(fx, P1, "sport", 500, "c1", T0_MS, &d);
    assert_string_equal(d.error.code, "idempotency_conflict");
    /* No end date and "" are the same request, as before end dates existed. */
    credit(fx, P1, "sport", 500, "c2", T0_MS, &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_EVENT);
    credit_until(fx, P1, "sport", 500, "", "c2", T0_MS, &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_REPLAY);
    assert_int_equal(envelope_cents(fx, P1, "sport"), 1000);
}

static void test_closed_pass_refuses_a_credit_with_an_end_date(void **state) {
    fixture *fx = *state;
    sp_ledger_decision d;
    open_pass(fx, P1, "general=", &d);
    sp_ledger_command close = {.kind = SP_LEDGER_COMMAND_CLOSE_PASS,
                               .pass_id = P1,
                               .actor_id = ACTOR,
                               .command_id = "close",
                               .reason = ""};
    run(fx, &close, T0_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_PASS_CLOSED);
    credit_until(fx, P1, "sport", 500, "2026-06-30", "c1", T0_MS, &d);
    expect_rejected(&d, "pass_closed", "pass_id");
    assert_int_equal(record_of(fx, P1, "c1")->http_status, 409);
    assert_int_equal(sp_ledger_pass_find(fx->state, P1)->envelope_count, 1);
}

static void test_credited_event_that_breaks_the_envelope_rules_is_refused(void **state) {
    fixture *fx = *state;
    sp_ledger_decision d;
    open_pass(fx, P1, "general=,sport=2026-06-30", &d);
    credit(fx, P1, "sport", 500, "c1", T0_MS, &d);
    sp_ledger_event forged = d.event;
    forged.version++;
    snprintf(forged.command_id, sizeof forged.command_id, "forged");
    sp_ledger_applied applied;
    sp_error err;
    forged.envelope_opened = true; /* it exists already */
    assert_int_equal(sp_ledger_apply(fx->state, &forged, &applied, &err), -1);
    assert_string_equal(err.code, "invalid_event");
    forged.envelope_opened = false;
    snprintf(forged.end_date, sizeof forged.end_date, "2026-05-01"); /* shortens it */
    assert_int_equal(sp_ledger_apply(fx->state, &forged, &applied, &err), -1);
    assert_string_equal(err.code, "invalid_event");
    /* An event from before end dates (none given) keeps the envelope's. */
    forged.end_date[0] = '\0';
    assert_int_equal(sp_ledger_apply(fx->state, &forged, &applied, &err), 0);
    char date[SP_LEDGER_DATE_LEN + 1];
    assert_string_equal(end_date_of(fx, P1, "sport", date), "2026-06-30");
    assert_int_equal(envelope_cents(fx, P1, "sport"), 1000);
}

/* ------------------------------------------------------------ versions */

static void test_event_with_wrong_version_is_skipped(void **state) {
    fixture *fx = *state;
    sp_ledger_decision d;
    open_pass(fx, P1, "general=", &d);
    credit(fx, P1, "general", 5000, "c1", T0_MS, &d);
    sp_ledger_event duplicate = d.event;

    sp_ledger_applied applied;
    sp_error err;
    /* The same event again (a redelivery): skipped. */
    assert_int_equal(sp_ledger_apply(fx->state, &duplicate, &applied, &err), 0);
    assert_true(applied.skipped);
    /* A second writer's event for a version already taken, or one from the future. */
    pay(fx, P1, fx->sport.partner_code, 100, "k1", T0_MS, &d);
    sp_ledger_event stale = d.event;
    sp_ledger_event future = d.event;
    future.version += 5;
    assert_int_equal(sp_ledger_apply(fx->state, &stale, &applied, &err), 0);
    assert_true(applied.skipped);
    assert_int_equal(sp_ledger_apply(fx->state, &future, &applied, &err), 0);
    assert_true(applied.skipped);
    /* An event of a pass never opened. */
    sp_ledger_event orphan = duplicate;
    snprintf(orphan.pass_id, sizeof orphan.pass_id, "%s", P2);
    orphan.version = 1;
    assert_int_equal(sp_ledger_apply(fx->state, &orphan, &applied, &err), 0);
    assert_true(applied.skipped);
    assert_int_equal(fx->state->events_skipped, 4);
    assert_int_equal(envelope_cents(fx, P1, "general"), 4900);
    assert_int_equal(sp_ledger_pass_find(fx->state, P1)->version, 3);
    assert_int_equal(sp_ledger_balance_sum_cents(fx->state), 0);
}

static void test_invalid_event_is_refused_and_changes_nothing(void **state) {
    fixture *fx = *state;
    sp_ledger_decision d;
    open_pass(fx, P1, "general=", &d);
    credit(fx, P1, "general", 500, "c1", T0_MS, &d);
    pay(fx, P1, fx->sport.partner_code, 100, "k1", T0_MS, &d);
    sp_ledger_event overdraw = d.event;
    overdraw.version++;
    overdraw.amount_cents = 1000;
    overdraw.postings[0].amount_cents = 1000;
    snprintf(overdraw.command_id, sizeof overdraw.command_id, "k-evil");
    sp_ledger_applied applied;
    sp_error err;
    assert_int_equal(sp_ledger_apply(fx->state, &overdraw, &applied, &err), -1);
    assert_string_equal(err.code, "invalid_event");
    sp_ledger_event mismatched = d.event;
    mismatched.version++;
    mismatched.postings[0].amount_cents = 1; /* fields and posting disagree */
    assert_int_equal(sp_ledger_apply(fx->state, &mismatched, &applied, &err), -1);
    assert_string_equal(err.code, "invalid_event");
    assert_int_equal(envelope_cents(fx, P1, "general"), 400);
    assert_int_equal(sp_ledger_pass_find(fx->state, P1)->version, 3);
    assert_null(record_of(fx, P1, "k-evil"));
}

/* ------------------------------------------------------------ bounds */

static void test_full_maps_answer_503(void **state) {
    (void)state;
    void *fx_state = NULL;
    sp_ledger_limits limits = default_limits();
    limits.passes_max = 1;
    limits.commands_max = 3;
    setup_with(&fx_state, &limits);
    fixture *fx = fx_state;
    sp_ledger_decision d;
    open_pass(fx, P1, "general=", &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_EVENT);
    open_pass(fx, P2, "general=", &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_REFUSED);
    assert_int_equal(d.error.http_status, 503);
    credit(fx, P1, "general", 100, "c1", T0_MS, &d);
    pay(fx, P1, fx->sport.partner_code, 50, "k1", T0_MS, &d);
    pay(fx, P1, fx->sport.partner_code, 50, "k2", T0_MS, &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_REFUSED);
    assert_int_equal(d.error.http_status, 503);
    /* Known outcomes are still answered. */
    pay(fx, P1, fx->sport.partner_code, 50, "k1", T0_MS, &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_REPLAY);
    assert_int_equal(envelope_cents(fx, P1, "general"), 50);
    teardown(&fx_state);
}

/* ------------------------------------------------------------ postings */

typedef struct snapshot {
    int64_t budget_cents, general_cents, owed_cents;
    size_t owed_accounts;
} snapshot;

static snapshot take_snapshot(const fixture *fx) {
    return (snapshot){fx->state->budget_cents, envelope_cents(fx, P1, "general"),
                      sp_ledger_partner_owed_cents(fx->state, fx->sport.partner_id),
                      fx->state->owed.entry_count};
}

static void assert_refused_unchanged(fixture *fx, const sp_ledger_posting *postings, size_t count) {
    snapshot before = take_snapshot(fx);
    sp_error err;
    sp_error_clear(&err);
    assert_int_equal(sp_ledger_post_check(fx->state, postings, count, &err), -1);
    assert_int_equal(sp_ledger_post(fx->state, postings, count, &err), -1);
    assert_true(err.code[0] != '\0');
    snapshot after = take_snapshot(fx);
    assert_memory_equal(&before, &after, sizeof before);
}

static void test_post_refuses_and_changes_nothing(void **state) {
    fixture *fx = *state;
    sp_ledger_decision d;
    open_pass(fx, P1, "general=", &d);
    credit(fx, P1, "general", 1000, "c1", T0_MS, &d);
    char envelope[SP_LEDGER_ACCOUNT_MAX + 1], owed[SP_LEDGER_ACCOUNT_MAX + 1];
    snprintf(envelope, sizeof envelope, "pass:%s:general", P1);
    snprintf(owed, sizeof owed, "partner:%s:owed", fx->sport.partner_id);
    sp_ledger_posting p = {.amount_cents = 100};
    snprintf(p.debit_account, sizeof p.debit_account, "%s", envelope);
    snprintf(p.credit_account, sizeof p.credit_account, "%s", owed);

    sp_ledger_posting bad[8];
    for (int i = 0; i < 8; i++) bad[i] = p;
    bad[0].amount_cents = 0;    /* nothing to move */
    bad[1].amount_cents = -100; /* backwards */
    snprintf(bad[2].credit_account, sizeof bad[2].credit_account, "%s", envelope); /* to itself */
    snprintf(bad[3].debit_account, sizeof bad[3].debit_account, "pass:%s:sport",
             P1);                                                              /* no envelope */
    snprintf(bad[4].credit_account, sizeof bad[4].credit_account, "treasury"); /* no such form */
    snprintf(bad[5].credit_account, sizeof bad[5].credit_account, "partner:nope:owed");
    bad[6].amount_cents = 1001;                               /* below zero */
    bad[7].amount_cents = SP_MONEY_BALANCE_ABS_CENTS_MAX + 1; /* above any limit */
    for (int i = 0; i < 8; i++) assert_refused_unchanged(fx, &bad[i], 1);

    /* The budget may go negative, but not past the limit. */
    sp_ledger_posting fund = {.debit_account = "budget",
                              .amount_cents = SP_MONEY_BALANCE_ABS_CENTS_MAX};
    snprintf(fund.credit_account, sizeof fund.credit_account, "%s", envelope);
    assert_refused_unchanged(fx, &fund, 1);
    /* All or nothing: a good posting followed by a bad one moves nothing. */
    sp_ledger_posting pair[2] = {p, bad[6]};
    assert_refused_unchanged(fx, pair, 2);
    /* Two postings that together overdraw, each fine alone. */
    sp_ledger_posting two[2] = {p, p};
    two[0].amount_cents = 600;
    two[1].amount_cents = 600;
    assert_refused_unchanged(fx, two, 2);
    assert_int_equal(fx->state->owed.entry_count, 0);

    sp_error err;
    assert_int_equal(sp_ledger_post(fx->state, &p, 1, &err), 0);
    assert_int_equal(envelope_cents(fx, P1, "general"), 900);
    assert_int_equal(sp_ledger_partner_owed_cents(fx->state, fx->sport.partner_id), 100);
    assert_int_equal(sp_ledger_balance_sum_cents(fx->state), 0);
}

/* ------------------------------------------------------------ long random run */

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

typedef struct balance_check {
    bool ok;
} balance_check;

static void check_pass(void *ctx, const sp_ledger_pass *pass) {
    balance_check *bc = ctx;
    for (size_t i = 0; i < pass->envelope_count; i++) {
        if (pass->envelopes[i].balance_cents < 0) bc->ok = false;
    }
}

static void random_step(fixture *fx, uint64_t *seed, const char *const *pass_ids, int step,
                        int64_t now_ms) {
    const sp_ledger_partner *partners[] = {&fx->sport, &fx->lecture, &fx->music};
    const char *categories[] = {"general", "sport", "lecture"};
    sp_ledger_decision d;
    char key[32];
    /* One key in eight is a retry of an earlier command id. */
    uint64_t r = rng_next(seed);
    int key_number = (r % 8 == 0 && step > 0) ? (int)(rng_next(seed) % (uint64_t)step) : step;
    snprintf(key, sizeof key, "k%d", key_number);
    const char *pass_id = pass_ids[rng_next(seed) % 3];
    int64_t amount_cents = (int64_t)(rng_next(seed) % 3000) +
                           ((rng_next(seed) % 50 == 0) ? -10 : 0);
    uint64_t kind = rng_next(seed) % 8;
    if (kind == 0) {
        /* A credit that may open the envelope and sets or extends (or, too
         * early, fails to shorten) its end date: a day up to 60 days from now,
         * never past the end of July. */
        char end_date[SP_LEDGER_DATE_LEN + 1];
        sp_date day = sp_paris_date_of(now_ms) + (sp_date)(rng_next(seed) % 60);
        sp_date last = sp_date_from_ymd(2026, 7, 31);
        sp_date_format(day < last ? day : last, end_date);
        const char *wider[] = {"general", "sport", "lecture", "music"};
        credit_until(fx, pass_id, wider[rng_next(seed) % 4], amount_cents, end_date, key, now_ms,
                     &d);
    } else if (kind == 1) {
        credit(fx, pass_id, categories[rng_next(seed) % 3], amount_cents, key, now_ms, &d);
    } else {
        pay(fx, pass_id, partners[rng_next(seed) % 3]->partner_code, amount_cents, key, now_ms, &d);
    }
    if (rng_next(seed) % 200 == 0) {
        sp_ledger_event swept[8];
        size_t count = 0;
        sp_error err;
        assert_int_equal(sp_ledger_sweep_expiries(fx->state, now_ms, swept, 8, &count, &err), 0);
        for (size_t i = 0; i < count; i++) {
            assert_true(fx->event_count < EVENTS_MAX);
            fx->events[fx->event_count++] = swept[i];
            fx->next_offset++;
        }
    }
}

static void run_random_sequence(fixture *fx, int steps, uint64_t seed) {
    const char *pass_ids[3] = {P1, P2, "2d3e4f50-6172-4c83-9d94-b5c6d7e8f9a0"};
    sp_ledger_decision d;
    open_pass(fx, pass_ids[0], "general=,sport=2026-04-30", &d);
    open_pass(fx, pass_ids[1], "lecture=,sport=", &d);
    open_pass(fx, pass_ids[2], "general=2026-05-31", &d);
    for (int step = 0; step < steps; step++) {
        int64_t now_ms = T0_MS + (int64_t)step * 40 * 60 * 1000; /* 40 minutes a step */
        random_step(fx, &seed, pass_ids, step, now_ms);
        balance_check bc = {.ok = true};
        sp_ledger_foreach_pass(fx->state, check_pass, &bc);
        assert_true(bc.ok);
        for (int p = 0; p < 3; p++) {
            const sp_ledger_partner *partner = (p == 0)   ? &fx->sport
                                               : (p == 1) ? &fx->lecture
                                                          : &fx->music;
            assert_true(sp_ledger_partner_owed_cents(fx->state, partner->partner_id) >= 0);
        }
        assert_int_equal(sp_ledger_balance_sum_cents(fx->state), 0);
    }
}

static void test_long_random_sequence_never_below_zero_and_sums_to_zero(void **state) {
    fixture *fx = *state;
    run_random_sequence(fx, 6000, UINT64_C(0x9E3779B97F4A7C15));
    assert_true(fx->state->budget_cents < 0);
    assert_true(sp_ledger_partner_owed_cents(fx->state, fx->sport.partner_id) > 0);
    /* Every end date in the run is at most July 31st and the run ends in
     * August: once swept, every envelope with an end date is closed. */
    sp_ledger_event swept[24];
    size_t count = 0;
    sp_error err;
    int64_t end_ms = T0_MS + (int64_t)6000 * 40 * 60 * 1000;
    assert_int_equal(sp_ledger_sweep_expiries(fx->state, end_ms, swept, 24, &count, &err), 0);
    const sp_ledger_pass *p1 = sp_ledger_pass_find(fx->state, P1);
    assert_true(p1->envelopes[1].closed);
    size_t opened = 0;
    for (size_t i = 0; i < fx->event_count; i++) opened += fx->events[i].envelope_opened;
    assert_true(opened >= 1); /* the run did open envelopes by credit */
    assert_int_equal(sp_ledger_balance_sum_cents(fx->state), 0);
}

/* ------------------------------------------------------------ rebuild */

/* Through the bytes that go on the log: envelope + protobuf payload. */
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

typedef struct compare_ctx {
    const sp_ledger_state *other;
    size_t compared;
} compare_ctx;

static void compare_pass(void *ctx, const sp_ledger_pass *pass) {
    compare_ctx *cc = ctx;
    const sp_ledger_pass *twin = sp_ledger_pass_find(cc->other, pass->pass_id);
    assert_non_null(twin);
    assert_int_equal(twin->version, pass->version);
    assert_string_equal(twin->beneficiary_id, pass->beneficiary_id);
    assert_int_equal(twin->envelope_count, pass->envelope_count);
    for (size_t i = 0; i < pass->envelope_count; i++) {
        assert_string_equal(twin->envelopes[i].category, pass->envelopes[i].category);
        assert_int_equal(twin->envelopes[i].balance_cents, pass->envelopes[i].balance_cents);
        assert_int_equal(twin->envelopes[i].closed, pass->envelopes[i].closed);
        assert_int_equal(twin->envelopes[i].has_end_date, pass->envelopes[i].has_end_date);
        assert_int_equal(twin->envelopes[i].end_date, pass->envelopes[i].end_date);
    }
    cc->compared++;
}

static void compare_records(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    const sp_map *other = ctx;
    const sp_ledger_record *a = value;
    const sp_ledger_record *b = sp_map_get(other, key);
    assert_non_null(b);
    assert_memory_equal(a->request_hash, b->request_hash, SP_KEY_LEN);
    assert_int_equal(a->ok, b->ok);
    assert_int_equal(a->http_status, b->http_status);
    assert_string_equal(a->result_json, b->result_json);
    assert_string_equal(a->code, b->code);
    assert_string_equal(a->message, b->message);
    assert_string_equal(a->field, b->field);
    assert_int_equal(a->has_event_ref, b->has_event_ref);
    assert_int_equal(a->event_offset, b->event_offset);
}

static void test_rebuild_from_events_reaches_the_same_state(void **state) {
    fixture *fx = *state;
    run_random_sequence(fx, 3000, UINT64_C(0x2545F4914F6CDD1D));
    sp_ledger_decision d;
    sp_ledger_command open_again = {.kind = SP_LEDGER_COMMAND_OPEN_PASS,
                                    .pass_id = P1,
                                    .actor_id = ACTOR,
                                    .command_id = "open-x",
                                    .beneficiary_id = ACTOR,
                                    .envelope_count = 1,
                                    .envelope_categories = {"general"},
                                    .envelope_end_dates = {""}};
    run(fx, &open_again, T0_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_COMMAND_REJECTED);

    sp_error err;
    sp_ledger_limits limits = default_limits();
    sp_ledger_state *rebuilt = sp_ledger_state_new(3, &limits, &fx->directory, &err);
    assert_non_null(rebuilt);
    for (size_t i = 0; i < fx->event_count; i++) {
        sp_ledger_event decoded;
        roundtrip(&fx->events[i], &decoded);
        sp_ledger_applied applied;
        assert_int_equal(sp_ledger_apply(rebuilt, &decoded, &applied, &err), 0);
        assert_false(applied.skipped);
        if (applied.record != NULL) sp_ledger_record_set_event_ref(applied.record, 3, (int64_t)i);
    }
    /* Replaying the whole log once more changes nothing: every event is a duplicate. */
    for (size_t i = 0; i < fx->event_count; i++) {
        sp_ledger_applied applied;
        assert_int_equal(sp_ledger_apply(rebuilt, &fx->events[i], &applied, &err), 0);
        assert_true(applied.skipped);
    }
    assert_int_equal(rebuilt->budget_cents, fx->state->budget_cents);
    const sp_ledger_partner *partners[] = {&fx->sport, &fx->lecture, &fx->music};
    for (int p = 0; p < 3; p++) {
        assert_int_equal(sp_ledger_partner_owed_cents(rebuilt, partners[p]->partner_id),
                         sp_ledger_partner_owed_cents(fx->state, partners[p]->partner_id));
    }
    compare_ctx cc = {.other = rebuilt};
    sp_ledger_foreach_pass(fx->state, compare_pass, &cc);
    assert_int_equal(cc.compared, 3);
    assert_int_equal(rebuilt->records.entry_count, fx->state->records.entry_count);
    sp_map_foreach(&fx->state->records, compare_records, &rebuilt->records);
    assert_true(fx->state->records.entry_count > 1000);

    /* A command answered before the rebuild is answered the same after it. */
    sp_ledger_command again = {.kind = SP_LEDGER_COMMAND_OPEN_PASS,
                               .pass_id = P1,
                               .actor_id = ACTOR,
                               .command_id = "open-x",
                               .beneficiary_id = ACTOR,
                               .envelope_count = 1,
                               .envelope_categories = {"general"},
                               .envelope_end_dates = {""}};
    sp_ledger_decide(rebuilt, &again, T0_MS, &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_REPLAY);
    assert_string_equal(d.record->code, "conflict");
    sp_ledger_state_free(rebuilt);
}

/* ------------------------------------------------------------ codec */

static void test_command_from_envelope_checks_identity(void **state) {
    (void)state;
    Solipass__Ledger__Pay pay_msg = SOLIPASS__LEDGER__PAY__INIT;
    pay_msg.pass_id = (char *)P1;
    pay_msg.partner_code = (char *)"1234 5674";
    pay_msg.amount_cents = 250;
    uint8_t payload[256];
    size_t payload_len = solipass__ledger__pay__pack(&pay_msg, payload);
    Solipass__Envelope envelope = SOLIPASS__ENVELOPE__INIT;
    envelope.type = (char *)"ledger.Pay.v1";
    envelope.aggregate_id = (char *)P1;
    envelope.command_id = (char *)"key-1";
    envelope.actor_id = (char *)ACTOR;
    envelope.payload.data = payload;
    envelope.payload.len = payload_len;

    sp_ledger_command command;
    sp_ledger_command_pb holder;
    sp_error err;
    assert_int_equal(sp_ledger_command_from_envelope(&envelope, &command, &holder, &err), 0);
    assert_int_equal(command.kind, SP_LEDGER_COMMAND_PAY);
    assert_string_equal(command.partner_code, "1234 5674");
    assert_int_equal(command.amount_cents, 250);
    sp_ledger_command_pb_free(&holder);

    envelope.aggregate_id = (char *)P2; /* keyed to another pass */
    assert_int_equal(sp_ledger_command_from_envelope(&envelope, &command, &holder, &err), -1);
    envelope.aggregate_id = (char *)P1;
    envelope.command_id = (char *)"key with spaces";
    assert_int_equal(sp_ledger_command_from_envelope(&envelope, &command, &holder, &err), -1);
    envelope.command_id = (char *)"key-1";
    envelope.type = (char *)"ledger.Refund.v1";
    assert_int_equal(sp_ledger_command_from_envelope(&envelope, &command, &holder, &err), -1);
    assert_string_equal(err.code, "unknown_type");
    envelope.type = (char *)"ledger.Pay.v1";
    envelope.payload.len = 3; /* truncated */
    assert_int_equal(sp_ledger_command_from_envelope(&envelope, &command, &holder, &err), -1);
}

/* ------------------------------------------------------------ conventions */

#define CONV_A "7d3f1e2a-5b6c-4d7e-8f90-a1b2c3d4e5f6"
#define CONV_B "8e4a2f3b-6c7d-4e8f-9a01-b2c3d4e5f6a7"

static void test_mandatory_convention_in_force_blocks_payment_until_accepted(void **state) {
    fixture *fx = *state;
    sp_ledger_decision d;
    sp_error err;
    open_pass(fx, P1, "general=", &d);
    credit(fx, P1, "general", 5000, "c1", T0_MS, &d);
    /* T0 is 2026-03-10 in Paris: in force from that day, and an optional one */
    assert_int_equal(sp_ledger_directory_add_convention(&fx->directory, CONV_A,
                                                        "Convention de partenariat", "2026-1",
                                                        "2026-03-10", true, &err),
                     0);
    assert_int_equal(sp_ledger_directory_add_convention(&fx->directory, CONV_B, "Charte", "1",
                                                        "2026-01-01", false, &err),
                     0);
    pay(fx, P1, fx->sport.partner_code, 100, "k1", T0_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_COMMAND_REJECTED);
    assert_string_equal(d.event.code, "convention_not_accepted");
    assert_non_null(strstr(d.event.message, "Convention de partenariat"));
    assert_non_null(strstr(d.event.message, "cannot take payments yet"));
    assert_int_equal(envelope_cents(fx, P1, "general"), 5000);
    /* another partner is blocked as well; accepting is per partner */
    assert_int_equal(sp_ledger_directory_accept(&fx->directory, fx->sport.partner_id, CONV_A, &err),
                     0);
    assert_int_equal(sp_ledger_directory_accept(&fx->directory, fx->sport.partner_id, CONV_A, &err),
                     0);
    pay(fx, P1, fx->sport.partner_code, 100, "k2", T0_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_PAYMENT_ACCEPTED);
    pay(fx, P1, fx->lecture.partner_code, 100, "k3", T0_MS, &d);
    assert_string_equal(d.event.code, "convention_not_accepted");
    /* the refusal is the key's stored outcome, accepted or not afterwards */
    assert_int_equal(
        sp_ledger_directory_accept(&fx->directory, fx->lecture.partner_id, CONV_A, &err), 0);
    pay(fx, P1, fx->lecture.partner_code, 100, "k3", T0_MS, &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_REPLAY);
    pay(fx, P1, fx->lecture.partner_code, 100, "k4", T0_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_PAYMENT_ACCEPTED);
    assert_int_equal(sp_ledger_balance_sum_cents(fx->state), 0);
}

static void test_convention_applies_from_its_paris_effective_date(void **state) {
    fixture *fx = *state;
    sp_error err;
    assert_int_equal(sp_ledger_directory_add_convention(&fx->directory, CONV_A, "Avenant", "2",
                                                        "2026-03-11", true, &err),
                     0);
    /* 2026-03-10T22:59:59.999Z is still the 10th in Paris (UTC+1), 23:00Z the 11th */
    int64_t before_ms = INT64_C(1773183599999), from_ms = before_ms + 1;
    assert_null(sp_ledger_convention_missing(&fx->directory, fx->music.partner_id, before_ms));
    const sp_ledger_convention *c = sp_ledger_convention_missing(&fx->directory,
                                                                 fx->music.partner_id, from_ms);
    assert_non_null(c);
    assert_string_equal(c->convention_id, CONV_A);
    assert_int_equal(
        sp_ledger_convention_check(&fx->directory, fx->music.partner_id, from_ms, &err), -1);
    assert_string_equal(err.code, "convention_not_accepted");
    assert_string_equal(err.field, "partner_code");
}

static void test_convention_directory_validates_and_is_replay_safe(void **state) {
    fixture *fx = *state;
    sp_error err;
    assert_int_equal(sp_ledger_directory_add_convention(&fx->directory, "nope", "T", "1",
                                                        "2026-01-01", true, &err),
                     -1);
    assert_string_equal(err.field, "convention_id");
    assert_int_equal(sp_ledger_directory_add_convention(&fx->directory, CONV_A, "", "1",
                                                        "2026-01-01", true, &err),
                     -1);
    assert_string_equal(err.field, "title");
    assert_int_equal(sp_ledger_directory_add_convention(&fx->directory, CONV_A, "T", "",
                                                        "2026-01-01", true, &err),
                     -1);
    assert_string_equal(err.field, "version");
    assert_int_equal(sp_ledger_directory_add_convention(&fx->directory, CONV_A, "T", "1",
                                                        "2026-02-30", true, &err),
                     -1);
    assert_string_equal(err.field, "effective_date");
    assert_int_equal(sp_ledger_directory_accept(&fx->directory, fx->sport.partner_id, CONV_A, &err),
                     -1);
    assert_string_equal(err.code, "convention_not_found");
    /* a replayed publication keeps the first one */
    assert_int_equal(sp_ledger_directory_add_convention(&fx->directory, CONV_A, "Optional", "1",
                                                        "2026-01-01", false, &err),
                     0);
    assert_int_equal(sp_ledger_directory_add_convention(&fx->directory, CONV_A, "Mandatory", "1",
                                                        "2026-01-01", true, &err),
                     0);
    assert_int_equal(fx->directory.convention_count, 1);
    assert_null(sp_ledger_convention_missing(&fx->directory, fx->sport.partner_id, T0_MS));
    /* a long title is cut on a character boundary in the message */
    char title[SP_LEDGER_CONVENTION_TITLE_MAX + 1];
    size_t len = 0;
    while (len + 2 <= SP_LEDGER_CONVENTION_TITLE_MAX) {
        memcpy(title + len, "\xc3\xa9", 2); /* é */
        len += 2;
    }
    title[len] = '\0';
    assert_int_equal(sp_ledger_directory_add_convention(&fx->directory, CONV_B, title, "1",
                                                        "2026-01-01", true, &err),
                     0);
    assert_int_equal(sp_ledger_convention_check(&fx->directory, fx->sport.partner_id, T0_MS, &err),
                     -1);
    json_t *probe = json_string(err.message);
    assert_non_null(probe);
    json_decref(probe);
}

/* Defence in depth: whatever the gateway and the brokers let through, the
 * ledger refuses a command its actor's role could not ask for. */
static void expect_actor(const fixture *fx, sp_ledger_command_kind kind, const char *pass_id,
                         const char *actor_id, const char *role, bool allowed) {
    sp_ledger_command c = {.kind = kind,
                           .pass_id = pass_id,
                           .actor_id = actor_id,
                           .actor_role = role,
                           .command_id = "k"};
    sp_error err;
    sp_error_clear(&err);
    int rc = sp_ledger_actor_check(fx->state, &c, &err);
    if (allowed) {
        assert_int_equal(rc, 0);
        return;
    }
    assert_int_equal(rc, -1);
    assert_int_equal(err.http_status, 403);
    assert_string_equal(err.code, "forbidden");
    assert_true(strlen(err.message) > 0);
}

#define BENEFICIARY "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9" /* open_pass's */
#define OTHER_USER "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5"
#define P_ACTOR "3d9c0e2a-1b4f-4c5d-9e6f-7a8b9c0d1e2f"
#define REQUEST_ID "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d"

static void test_actor_roles_are_checked(void **state) {
    fixture *fx = *state;
    sp_ledger_decision d;
    open_pass(fx, P1, "general=", &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_EVENT);
    /* A credit: the back office only; not a beneficiary, a partner, the system. */
    expect_actor(fx, SP_LEDGER_COMMAND_CREDIT_PASS, P1, ACTOR, "backoffice", true);
    expect_actor(fx, SP_LEDGER_COMMAND_CREDIT_PASS, P1, BENEFICIARY, "beneficiary", false);
    expect_actor(fx, SP_LEDGER_COMMAND_CREDIT_PASS, P1, P_ACTOR, "partner_admin", false);
    expect_actor(fx, SP_LEDGER_COMMAND_CREDIT_PASS, P1, "", "", false);
    expect_actor(fx, SP_LEDGER_COMMAND_OPEN_PASS, P2, P_ACTOR, "finance", false);
    /* A payment: the pass's own beneficiary only. */
    expect_actor(fx, SP_LEDGER_COMMAND_PAY, P1, BENEFICIARY, "beneficiary", true);
    expect_actor(fx, SP_LEDGER_COMMAND_PAY, P1, OTHER_USER, "beneficiary", false);
    expect_actor(fx, SP_LEDGER_COMMAND_PAY, P1, ACTOR, "backoffice", false);
    expect_actor(fx, SP_LEDGER_COMMAND_PAY, P1, BENEFICIARY, "", false);
    expect_actor(fx, SP_LEDGER_COMMAND_PAY, P1, BENEFICIARY, "Beneficiary", false);
    /* An unknown pass is the decider's 404, not a refusal here. */
    expect_actor(fx, SP_LEDGER_COMMAND_PAY, P2, OTHER_USER, "beneficiary", true);
    /* Vouchers: issued or cancelled by the beneficiary or the back office,
     * redeemed by a partner's user. */
    expect_actor(fx, SP_LEDGER_COMMAND_ISSUE_VOUCHER, P1, BENEFICIARY, "beneficiary", true);
    expect_actor(fx, SP_LEDGER_COMMAND_ISSUE_VOUCHER, P1, OTHER_USER, "beneficiary", false);
    expect_actor(fx, SP_LEDGER_COMMAND_ISSUE_VOUCHER, P1, ACTOR, "backoffice", true);
    expect_actor(fx, SP_LEDGER_COMMAND_CANCEL_VOUCHER, P1, P_ACTOR, "partner_user", false);
    expect_actor(fx, SP_LEDGER_COMMAND_REDEEM_VOUCHER, P1, P_ACTOR, "partner_user", true);
    expect_actor(fx, SP_LEDGER_COMMAND_REDEEM_VOUCHER, P1, BENEFICIARY, "beneficiary", false);
    expect_actor(fx, SP_LEDGER_COMMAND_CANCEL_OPERATION, P1, P_ACTOR, "partner_admin", true);
    expect_actor(fx, SP_LEDGER_COMMAND_SET_OPERATION_REFERENCE, P1, ACTOR, "backoffice", false);
    /* Refunds: a partner administrator opens and cancels, finance marks
     * paid, the system (no actor, no role) does the rest; a role without an
     * actor, or an actor without a role, is nobody. */
    expect_actor(fx, SP_LEDGER_COMMAND_OPEN_REFUND_REQUEST, REQUEST_ID, P_ACTOR, "partner_admin",
                 true);
    expect_actor(fx, SP_LEDGER_COMMAND_OPEN_REFUND_REQUEST, REQUEST_ID, P_ACTOR, "partner_user",
                 false);
    expect_actor(fx, SP_LEDGER_COMMAND_OPEN_REFUND_REQUEST, REQUEST_ID, "", "", true);
    expect_actor(fx, SP_LEDGER_COMMAND_MARK_REFUND_REQUEST_PAID, REQUEST_ID, ACTOR, "finance",
                 true);
    expect_actor(fx, SP_LEDGER_COMMAND_MARK_REFUND_REQUEST_PAID, REQUEST_ID, P_ACTOR,
                 "partner_admin", false);
    expect_actor(fx, SP_LEDGER_COMMAND_CONFIRM_REFUND_REQUEST, REQUEST_ID, "", "", true);
    expect_actor(fx, SP_LEDGER_COMMAND_CONFIRM_REFUND_REQUEST, REQUEST_ID, P_ACTOR, "partner_admin",
                 false);
    expect_actor(fx, SP_LEDGER_COMMAND_SETTLE_OPERATIONS, P1, "", "backoffice", false);
    expect_actor(fx, SP_LEDGER_COMMAND_RESERVE_OPERATIONS, P1, ACTOR, "", false);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_actor_roles_are_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_payment_within_balance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_payment_exactly_at_balance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signed_payment_receipt_round_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_payment_above_balance_is_rejected_and_moves_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_amount_bounds_and_unknown_pass, setup, teardown),
        cmocka_unit_test_setup_teardown(test_general_envelope_pays_a_category_without_envelope,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_category_envelope_is_preferred, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_envelope_for_category, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_key_same_body_replays_without_second_movement,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_key_other_body_is_a_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_pass_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_the_day_after_end_date_in_paris, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_expired_envelope_refuses_payment_and_credit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_credit_opens_an_envelope_that_then_pays, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_credit_refuses_a_ninth_envelope_and_a_bad_category,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_credit_sets_and_extends_but_never_shortens_an_end_date,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired_envelope_is_used_again_with_a_later_end_date,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_credit_end_date_is_part_of_the_request, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_closed_pass_refuses_a_credit_with_an_end_date, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_credited_event_that_breaks_the_envelope_rules_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_with_wrong_version_is_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_event_is_refused_and_changes_nothing, setup,
                                        teardown),
        cmocka_unit_test(test_full_maps_answer_503),
        cmocka_unit_test_setup_teardown(test_post_refuses_and_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_random_sequence_never_below_zero_and_sums_to_zero,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebuild_from_events_reaches_the_same_state, setup,
                                        teardown),
        cmocka_unit_test(test_command_from_envelope_checks_identity),
        cmocka_unit_test_setup_teardown(
            test_mandatory_convention_in_force_blocks_payment_until_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_convention_applies_from_its_paris_effective_date,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_convention_directory_validates_and_is_replay_safe,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
