/* test_voucher.c - exchange vouchers in the ledger: issuing reserves the
 * amount (never beyond the envelope), a voucher is redeemed once, for its
 * amount, only where it may be used; cancelled or expired it returns its
 * amount; redeemed, cancelled and expired vouchers never change again; the
 * sum of all balances stays zero; a rebuild from the encoded events reaches
 * the same state. */
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
#define EVENTS_MAX 512
#define ACTOR "9b2e4c1a-1111-4222-8333-444455556666"
#define PARTNER_ACTOR "1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5"
#define P1 "0f8fad5b-d9cb-469f-a165-70867728950e"
#define VALIDITY_DAYS 90

typedef struct fixture {
    sp_ledger_directory directory;
    sp_ledger_state *state;
    sp_ledger_partner sport, sport2, lecture, music;
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
                              .vouchers_max = 1000,
                              .voucher_validity_days = VALIDITY_DAYS};
}

static int setup(void **state) {
    if (sodium_init() < 0) return -1;
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    sp_error err;
    assert_int_equal(sp_ledger_directory_init(&fx->directory, 100, &err), 0);
    add_partner(fx, "Stade Nautique", "sport", &fx->sport);
    add_partner(fx, "Club de judo", "sport", &fx->sport2);
    add_partner(fx, "Librairie des Arcades", "lecture", &fx->lecture);
    add_partner(fx, "École de musique", "music", &fx->music);
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

static void keep(fixture *fx, const sp_ledger_event *event) {
    assert_true(fx->event_count < EVENTS_MAX);
    fx->events[fx->event_count++] = *event;
}

static void run(fixture *fx, const sp_ledger_command *command, int64_t now_ms,
                sp_ledger_decision *out) {
    ledger_fixture_run(fx->state, command, now_ms, out);
    if (out->kind == SP_LEDGER_DECIDED_EVENT) keep(fx, &out->event);
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
        run(fx, &credit, T0_MS, &d);
        assert_int_equal(d.event.kind, SP_LEDGER_EVENT_PASS_CREDITED);
    }
}

static void issue(fixture *fx, const char *key, int64_t amount_cents, const char *category,
                  const char *partner_code, int64_t now_ms, sp_ledger_decision *out) {
    sp_ledger_command command = {.kind = SP_LEDGER_COMMAND_ISSUE_VOUCHER,
                                 .pass_id = P1,
                                 .actor_id = ACTOR,
                                 .command_id = key,
                                 .amount_cents = amount_cents,
                                 .category = category,
                                 .partner_code = partner_code};
    run(fx, &command, now_ms, out);
}

static void redeem(fixture *fx, const char *key, const char *voucher_id, const char *number,
                   const sp_ledger_partner *partner, int64_t now_ms, sp_ledger_decision *out) {
    sp_ledger_command command = {.kind = SP_LEDGER_COMMAND_REDEEM_VOUCHER,
                                 .pass_id = P1,
                                 .actor_id = PARTNER_ACTOR,
                                 .command_id = key,
                                 .voucher_id = voucher_id,
                                 .voucher_number = number,
                                 .partner_code = partner->partner_code};
    run(fx, &command, now_ms, out);
}

static void cancel(fixture *fx, const char *key, const char *voucher_id, int64_t now_ms,
                   sp_ledger_decision *out) {
    sp_ledger_command command = {.kind = SP_LEDGER_COMMAND_CANCEL_VOUCHER,
                                 .pass_id = P1,
                                 .actor_id = ACTOR,
                                 .command_id = key,
                                 .voucher_id = voucher_id};
    run(fx, &command, now_ms, out);
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

typedef struct issued {
    char voucher_id[SP_ID_LEN + 1];
    char number[SP_VOUCHER_NUMBER_LEN + 1];
} issued;

static issued issue_ok(fixture *fx, const char *key, int64_t amount_cents, const char *category,
                       const char *partner_code) {
    sp_ledger_decision d;
    issue(fx, key, amount_cents, category, partner_code, T0_MS, &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_EVENT);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_VOUCHER_ISSUED);
    issued out;
    memcpy(out.voucher_id, d.event.voucher_id, sizeof out.voucher_id);
    memcpy(out.number, d.event.voucher_number, sizeof out.number);
    return out;
}

/* ------------------------------------------------------------ issue */

static void test_issue_reserves_the_amount_at_once(void **state) {
    fixture *fx = *state;
    open_and_credit(fx, "");
    sp_ledger_decision d;
    issue(fx, "v1", 2500, "", "", T0_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_VOUCHER_ISSUED);
    assert_true(sp_voucher_number_valid(d.event.voucher_number));
    assert_string_equal(d.event.category, "general");
    assert_string_equal(d.event.partner_id, "");
    assert_int_equal(d.event.pass_balance_after_cents, 12500);
    assert_int_equal(envelope_cents(fx, "general"), 7500);
    assert_int_equal(sp_ledger_pass_balance_cents(sp_ledger_pass_find(fx->state, P1)), 12500);
    /* 2026-03-10 + 90 days */
    assert_string_equal(d.event.valid_until, "2026-06-08");
    const sp_ledger_voucher *voucher = sp_ledger_voucher_find(fx->state, d.event.voucher_id);
    assert_non_null(voucher);
    assert_int_equal(voucher->status, SP_LEDGER_VOUCHER_ACTIVE);
    assert_int_equal(voucher->balance_cents, 2500);
    assert_string_equal(d.event.postings[0].credit_account + strlen("voucher:"),
                        voucher->voucher_id);
    /* Two vouchers never share a number or an id. */
    sp_ledger_decision d2;
    issue(fx, "v2", 100, "", "", T0_MS, &d2);
    assert_string_not_equal(d2.event.voucher_number, d.event.voucher_number);
    assert_string_not_equal(d2.event.voucher_id, d.event.voucher_id);
}

static void test_issue_cannot_overdraw_and_names_a_real_envelope(void **state) {
    fixture *fx = *state;
    open_and_credit(fx, "");
    sp_ledger_decision d;
    issue(fx, "too-much", 10001, "", "", T0_MS, &d);
    assert_rejected(&d, "insufficient_funds");
    issue(fx, "all", 10000, "general", "", T0_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_VOUCHER_ISSUED);
    issue(fx, "one-more", 1, "general", "", T0_MS, &d);
    assert_rejected(&d, "insufficient_funds");
    issue(fx, "no-such", 100, "culture", "", T0_MS, &d);
    assert_rejected(&d, "no_envelope_for_category");
    issue(fx, "zero", 0, "", "", T0_MS, &d);
    assert_rejected(&d, "invalid_amount");
    issue(fx, "mismatch", 100, "general", fx->sport.partner_code, T0_MS, &d);
    assert_rejected(&d, "invalid_category");
    assert_int_equal(envelope_cents(fx, "general"), 0);
    assert_int_equal(envelope_cents(fx, "sport"), 5000);
    assert_int_equal(fx->state->vouchers.entry_count, 1);
}

static void test_same_key_replays_and_another_body_conflicts(void **state) {
    fixture *fx = *state;
    open_and_credit(fx, "");
    issued first = issue_ok(fx, "key", 300, "", "");
    sp_ledger_decision d;
    issue(fx, "key", 300, "", "", T0_MS, &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_REPLAY);
    assert_non_null(strstr(d.record->result_json, first.number));
    issue(fx, "key", 301, "", "", T0_MS, &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_REFUSED);
    assert_string_equal(d.error.code, "idempotency_conflict");
    assert_int_equal(envelope_cents(fx, "general"), 9700);
}

/* ------------------------------------------------------------ redeem */

static void test_redeem_credits_the_partner_once(void **state) {
    fixture *fx = *state;
    open_and_credit(fx, "");
    issued v = issue_ok(fx, "v", 1200, "sport", "");
    sp_ledger_decision d;
    redeem(fx, "r-0", v.voucher_id, v.number, &fx->sport, T0_MS + 1000, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_VOUCHER_REDEEMED);
    assert_int_equal(d.event.amount_cents, 1200);
    assert_string_equal(d.event.partner_id, fx->sport.partner_id);
    assert_int_equal(sp_ledger_partner_owed_cents(fx->state, fx->sport.partner_id), 1200);
    assert_int_equal(sp_ledger_voucher_find(fx->state, v.voucher_id)->status,
                     SP_LEDGER_VOUCHER_REDEEMED);
    assert_int_equal(envelope_cents(fx, "sport"), 3800);
    /* 49 more attempts, by this partner and another: each one refused. */
    for (int i = 1; i < 50; i++) {
        char key[16];
        snprintf(key, sizeof key, "r-%d", i);
        redeem(fx, key, v.voucher_id, v.number, i % 2 ? &fx->sport2 : &fx->sport, T0_MS + 2000, &d);
        assert_rejected(&d, "voucher_used");
        assert_int_equal(sp_ledger_status_of_code(d.event.code), 409);
    }
    cancel(fx, "c", v.voucher_id, T0_MS + 3000, &d);
    assert_rejected(&d, "voucher_used");
    assert_int_equal(sp_ledger_partner_owed_cents(fx->state, fx->sport.partner_id), 1200);
    assert_int_equal(sp_ledger_partner_owed_cents(fx->state, fx->sport2.partner_id), 0);
    assert_int_equal(envelope_cents(fx, "sport"), 3800);
}

static void test_redeem_needs_the_partners_accepted_conventions(void **state) {
    fixture *fx = *state;
    open_and_credit(fx, "");
    issued v = issue_ok(fx, "v", 1200, "sport", "");
    sp_error err;
    assert_int_equal(
        sp_ledger_directory_add_convention(&fx->directory, "7d3f1e2a-5b6c-4d7e-8f90-a1b2c3d4e5f6",
                                           "Convention 2026", "1", "2026-01-01", true, &err),
        0);
    sp_ledger_decision d;
    redeem(fx, "r1", v.voucher_id, v.number, &fx->sport, T0_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_COMMAND_REJECTED);
    assert_string_equal(d.event.code, "convention_not_accepted");
    assert_int_equal(sp_ledger_voucher_find(fx->state, v.voucher_id)->status,
                     SP_LEDGER_VOUCHER_ACTIVE);
    assert_int_equal(sp_ledger_directory_accept(&fx->directory, fx->sport.partner_id,
                                                "7d3f1e2a-5b6c-4d7e-8f90-a1b2c3d4e5f6", &err),
                     0);
    redeem(fx, "r2", v.voucher_id, v.number, &fx->sport, T0_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_VOUCHER_REDEEMED);
}

static void test_redeem_needs_the_right_number(void **state) {
    fixture *fx = *state;
    open_and_credit(fx, "");
    issued v = issue_ok(fx, "v", 500, "", "");
    char other[SP_VOUCHER_NUMBER_LEN + 1];
    sp_voucher_number_new(other);
    sp_ledger_decision d;
    redeem(fx, "r1", v.voucher_id, other, &fx->music, T0_MS, &d);
    assert_rejected(&d, "voucher_not_found");
    redeem(fx, "r2", "00000000-0000-4000-8000-000000000000", v.number, &fx->music, T0_MS, &d);
    assert_rejected(&d, "voucher_not_found");
    assert_int_equal(sp_ledger_status_of_code("voucher_not_found"), 404);
    redeem(fx, "r3", v.voucher_id, v.number, &fx->music, T0_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_VOUCHER_REDEEMED);
}

static void test_restrictions_follow_partner_and_envelope(void **state) {
    fixture *fx = *state;
    open_and_credit(fx, "");
    sp_ledger_decision d;
    /* Restricted to one partner: reserved from the envelope that pays it. */
    issued only_sport = issue_ok(fx, "only", 700, "", fx->sport.partner_code);
    assert_int_equal(envelope_cents(fx, "sport"), 4300);
    redeem(fx, "a", only_sport.voucher_id, only_sport.number, &fx->sport2, T0_MS, &d);
    assert_rejected(&d, "voucher_restricted");
    redeem(fx, "b", only_sport.voucher_id, only_sport.number, &fx->sport, T0_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_VOUCHER_REDEEMED);
    /* A sport voucher pays sport partners only. */
    issued sport = issue_ok(fx, "v-sport", 300, "sport", "");
    redeem(fx, "c", sport.voucher_id, sport.number, &fx->lecture, T0_MS, &d);
    assert_rejected(&d, "voucher_restricted");
    redeem(fx, "d", sport.voucher_id, sport.number, &fx->sport2, T0_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_VOUCHER_REDEEMED);
    /* A general voucher pays where general pays: not a sport partner of this pass. */
    issued general = issue_ok(fx, "v-general", 200, "", "");
    redeem(fx, "e", general.voucher_id, general.number, &fx->sport, T0_MS, &d);
    assert_rejected(&d, "voucher_restricted");
    assert_int_equal(sp_ledger_status_of_code("voucher_restricted"), 422);
    redeem(fx, "f", general.voucher_id, general.number, &fx->lecture, T0_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_VOUCHER_REDEEMED);
    assert_int_equal(sp_ledger_partner_owed_cents(fx->state, fx->lecture.partner_id), 200);
}

/* ------------------------------------------------------------ cancel and expire */

static void test_cancel_returns_the_amount_and_is_final(void **state) {
    fixture *fx = *state;
    open_and_credit(fx, "");
    issued v = issue_ok(fx, "v", 4000, "", "");
    assert_int_equal(envelope_cents(fx, "general"), 6000);
    sp_ledger_decision d;
    cancel(fx, "c1", v.voucher_id, T0_MS + DAY_MS, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_VOUCHER_CANCELLED);
    assert_int_equal(d.event.pass_balance_after_cents, 15000);
    assert_int_equal(envelope_cents(fx, "general"), 10000);
    assert_int_equal(sp_ledger_voucher_find(fx->state, v.voucher_id)->status,
                     SP_LEDGER_VOUCHER_CANCELLED);
    cancel(fx, "c2", v.voucher_id, T0_MS + DAY_MS, &d);
    assert_rejected(&d, "voucher_cancelled");
    redeem(fx, "r", v.voucher_id, v.number, &fx->music, T0_MS + DAY_MS, &d);
    assert_rejected(&d, "voucher_cancelled");
    assert_int_equal(envelope_cents(fx, "general"), 10000);
    assert_int_equal(sp_ledger_partner_owed_cents(fx->state, fx->music.partner_id), 0);
}

static void test_expiry_returns_the_amount_after_the_last_day(void **state) {
    fixture *fx = *state;
    open_and_credit(fx, "");
    issued v = issue_ok(fx, "v", 900, "", "");
    sp_ledger_event events[4];
    size_t count = 0;
    sp_error err;
    /* Its last day (2026-06-08, 18:00 in Paris): still valid, nothing to sweep. */
    int64_t last_day_ms = T0_MS + VALIDITY_DAYS * DAY_MS + 6 * 3600 * 1000;
    assert_int_equal(sp_ledger_sweep_vouchers(fx->state, last_day_ms, events, 4, &count, &err), 0);
    assert_int_equal(count, 0);
    sp_ledger_decision d;
    redeem(fx, "wrong-number", v.voucher_id, "0000000000000000", &fx->music, last_day_ms, &d);
    assert_rejected(&d, "voucher_not_found");
    /* The next day it expires, once. */
    int64_t after_ms = last_day_ms + DAY_MS;
    redeem(fx, "too-late", v.voucher_id, v.number, &fx->music, after_ms, &d);
    assert_rejected(&d, "voucher_expired");
    assert_int_equal(sp_ledger_sweep_vouchers(fx->state, after_ms, events, 4, &count, &err), 0);
    assert_int_equal(count, 1);
    assert_int_equal(events[0].kind, SP_LEDGER_EVENT_VOUCHER_EXPIRED);
    assert_int_equal(events[0].amount_cents, 900);
    keep(fx, &events[0]);
    assert_int_equal(envelope_cents(fx, "general"), 10000);
    assert_int_equal(sp_ledger_balance_sum_cents(fx->state), 0);
    assert_int_equal(sp_ledger_voucher_find(fx->state, v.voucher_id)->status,
                     SP_LEDGER_VOUCHER_EXPIRED);
    assert_int_equal(sp_ledger_sweep_vouchers(fx->state, after_ms, events, 4, &count, &err), 0);
    assert_int_equal(count, 0);
    cancel(fx, "c", v.voucher_id, after_ms, &d);
    assert_rejected(&d, "voucher_expired");
    /* Applying an event that changes a final voucher is refused. */
    sp_ledger_event again = fx->events[fx->event_count - 2]; /* the expiry */
    again.version = sp_ledger_pass_find(fx->state, P1)->version + 1;
    sp_ledger_applied applied;
    assert_int_equal(sp_ledger_apply(fx->state, &again, &applied, &err), -1);
    assert_string_equal(err.code, "invalid_event");
}

static void test_voucher_of_an_expired_envelope_returns_to_the_budget(void **state) {
    fixture *fx = *state;
    open_and_credit(fx, "2026-03-20");
    issued v = issue_ok(fx, "v", 1000, "sport", "");
    const sp_ledger_voucher *voucher = sp_ledger_voucher_find(fx->state, v.voucher_id);
    sp_date end;
    sp_error err;
    assert_int_equal(sp_date_parse("2026-03-20", &end, &err), 0);
    assert_int_equal(voucher->valid_until, end); /* never past its envelope */
    int64_t later_ms = T0_MS + 12 * DAY_MS;
    sp_ledger_event events[4];
    size_t count = 0;
    assert_int_equal(sp_ledger_sweep_expiries(fx->state, later_ms, events, 4, &count, &err), 0);
    assert_int_equal(count, 1);
    assert_int_equal(events[0].amount_cents, 4000);
    int64_t budget_before = fx->state->budget_cents;
    assert_int_equal(sp_ledger_sweep_vouchers(fx->state, later_ms, events, 4, &count, &err), 0);
    assert_int_equal(count, 1);
    assert_string_equal(events[0].postings[0].credit_account, "budget");
    assert_int_equal(fx->state->budget_cents, budget_before + 1000);
    assert_int_equal(envelope_cents(fx, "sport"), 0);
    assert_int_equal(sp_ledger_balance_sum_cents(fx->state), 0);
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

static void test_rebuild_from_encoded_events_reaches_the_same_vouchers(void **state) {
    fixture *fx = *state;
    open_and_credit(fx, "");
    issued a = issue_ok(fx, "a", 100, "", "");
    issued b = issue_ok(fx, "b", 200, "sport", fx->sport.partner_code);
    issued c = issue_ok(fx, "c", 300, "", "");
    sp_ledger_decision d;
    redeem(fx, "ra", a.voucher_id, a.number, &fx->music, T0_MS, &d);
    redeem(fx, "rb", b.voucher_id, b.number, &fx->sport2, T0_MS, &d); /* rejected */
    cancel(fx, "cc", c.voucher_id, T0_MS, &d);
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
    const char *ids[] = {a.voucher_id, b.voucher_id, c.voucher_id};
    for (size_t i = 0; i < 3; i++) {
        const sp_ledger_voucher *x = sp_ledger_voucher_find(fx->state, ids[i]);
        const sp_ledger_voucher *y = sp_ledger_voucher_find(twin, ids[i]);
        assert_non_null(y);
        assert_int_equal(x->status, y->status);
        assert_int_equal(x->balance_cents, y->balance_cents);
        assert_string_equal(x->number, y->number);
        assert_string_equal(x->partner_id, y->partner_id);
        assert_int_equal(x->valid_until, y->valid_until);
    }
    assert_int_equal(sp_ledger_balance_sum_cents(twin), 0);
    assert_int_equal(sp_ledger_partner_owed_cents(twin, fx->music.partner_id), 100);
    /* The same command ids get the same answers after the rebuild. */
    const sp_ledger_record *x = sp_ledger_record_find(fx->state, P1, PARTNER_ACTOR, "ra");
    const sp_ledger_record *y = sp_ledger_record_find(twin, P1, PARTNER_ACTOR, "ra");
    assert_non_null(y);
    assert_string_equal(x->result_json, y->result_json);
    y = sp_ledger_record_find(twin, P1, ACTOR, "b");
    assert_non_null(y);
    assert_string_equal(sp_ledger_record_find(fx->state, P1, ACTOR, "b")->result_json,
                        y->result_json);
    sp_ledger_state_free(twin);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_issue_reserves_the_amount_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_issue_cannot_overdraw_and_names_a_real_envelope, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_same_key_replays_and_another_body_conflicts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_redeem_credits_the_partner_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redeem_needs_the_right_number, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redeem_needs_the_partners_accepted_conventions, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restrictions_follow_partner_and_envelope, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cancel_returns_the_amount_and_is_final, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_expiry_returns_the_amount_after_the_last_day, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_voucher_of_an_expired_envelope_returns_to_the_budget,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebuild_from_encoded_events_reaches_the_same_vouchers,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
