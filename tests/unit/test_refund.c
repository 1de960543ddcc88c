/* test_refund.c - refund requests in the ledger: a request opens, its
 * passes reserve their operations (the money leaves what the city owes the
 * partner for the request's account), it is confirmed, then paid (the
 * passes settle: the money goes to the bank) or cancelled (the passes
 * release: the money and the operations come back). A reserve is all or
 * nothing unless told to skip what is unavailable; every refusal changes
 * nothing; every step sent twice answers the same and moves nothing twice;
 * the sum of all balances stays zero; a rebuild from the encoded events
 * reaches the same state and the same answers. */
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
#include "snapshot_check.h"

/* 2026-03-10T10:00:00Z */
#define T0_MS INT64_C(1773136800000)
#define EVENTS_MAX 96
#define ACTOR "9b2e4c1a-1111-4222-8333-444455556666"
#define ADMIN "1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5"
#define P1 "0f8fad5b-d9cb-469f-a165-70867728950e"
#define P2 "7c9e6679-7425-40de-944b-e07fc1f90ae7"
#define R1 "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
#define R2 "6fa459ea-ee8a-4ca4-894e-db77e160355e"
#define R3 "a8098c1a-f86e-41da-bd2f-00c04fd430c8"
#define UNKNOWN_OP "7d0c3f8e-0000-4000-8000-000000000001"

typedef struct fixture {
    sp_ledger_directory directory;
    sp_ledger_state *state;
    sp_ledger_partner sport, lecture;
    sp_ledger_event *events; /* EVENTS_MAX: every applied event, in order */
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
                              .voucher_validity_days = 90,
                              .refund_requests_max = 10};
}

static int setup(void **state) {
    if (sodium_init() < 0) return -1;
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->events = calloc(EVENTS_MAX, sizeof *fx->events);
    assert_non_null(fx->events);
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
    free(fx->events);
    free(fx);
    return 0;
}

/* Decides and, for an event, applies it: the sum of balances stays zero. */
static void run(fixture *fx, const sp_ledger_command *command, sp_ledger_decision *out) {
    const sp_ledger_record *record = ledger_fixture_run(fx->state, command,
                                                        T0_MS + (int64_t)fx->event_count * 1000,
                                                        out);
    if (out->kind != SP_LEDGER_DECIDED_EVENT) return;
    assert_non_null(record);
    assert_true(fx->event_count < EVENTS_MAX);
    fx->events[fx->event_count++] = out->event;
}

static void open_and_credit(fixture *fx, const char *pass_id) {
    sp_ledger_decision d;
    sp_ledger_command open = {.kind = SP_LEDGER_COMMAND_OPEN_PASS,
                              .pass_id = pass_id,
                              .actor_id = ACTOR,
                              .command_id = "open",
                              .beneficiary_id = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
                              .envelope_count = 1};
    open.envelope_categories[0] = "general";
    open.envelope_end_dates[0] = "";
    run(fx, &open, &d);
    sp_ledger_command credit = {.kind = SP_LEDGER_COMMAND_CREDIT_PASS,
                                .pass_id = pass_id,
                                .actor_id = ACTOR,
                                .command_id = "credit",
                                .category = "general",
                                .amount_cents = 50000};
    run(fx, &credit, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_PASS_CREDITED);
}

static void pay_ok(fixture *fx, const char *pass_id, const char *key,
                   const sp_ledger_partner *partner, int64_t amount_cents, char *out) {
    sp_ledger_decision d;
    sp_ledger_command pay = {.kind = SP_LEDGER_COMMAND_PAY,
                             .pass_id = pass_id,
                             .actor_id = ACTOR,
                             .command_id = key,
                             .partner_code = partner->partner_code,
                             .amount_cents = amount_cents};
    run(fx, &pay, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_PAYMENT_ACCEPTED);
    memcpy(out, d.event.operation_id, SP_ID_LEN + 1);
}

static void open_request(fixture *fx, const char *request_id, const char *key,
                         const sp_ledger_partner *partner, const sp_ledger_refund_part *parts,
                         size_t part_count, int64_t expected_cents, sp_ledger_decision *d) {
    sp_ledger_command command = {.kind = SP_LEDGER_COMMAND_OPEN_REFUND_REQUEST,
                                 .pass_id = request_id,
                                 .request_id = request_id,
                                 .actor_id = ADMIN,
                                 .command_id = key,
                                 .partner_id = partner->partner_id,
                                 .refund_kind = "manual",
                                 .period = "",
                                 .parts = parts,
                                 .part_count = part_count,
                                 .expected_total_cents = expected_cents};
    run(fx, &command, d);
}

static void reserve(fixture *fx, const char *pass_id, const char *request_id,
                    const sp_ledger_partner *partner, const char *const *ids, size_t count,
                    bool skip, const char *key, sp_ledger_decision *d) {
    sp_ledger_command command = {.kind = SP_LEDGER_COMMAND_RESERVE_OPERATIONS,
                                 .pass_id = pass_id,
                                 .request_id = request_id,
                                 .actor_id = "",
                                 .command_id = key,
                                 .partner_id = partner->partner_id,
                                 .operation_ids = ids,
                                 .operation_id_count = count,
                                 .skip_unavailable = skip};
    run(fx, &command, d);
}

/* Release or settle. */
static void step(fixture *fx, sp_ledger_command_kind kind, const char *pass_id,
                 const char *request_id, const char *key, sp_ledger_decision *d) {
    sp_ledger_command command = {.kind = kind,
                                 .pass_id = pass_id,
                                 .request_id = request_id,
                                 .actor_id = "",
                                 .command_id = key};
    run(fx, &command, d);
}

static void confirm(fixture *fx, const char *request_id, int64_t total_cents, int64_t count,
                    const char *key, sp_ledger_decision *d) {
    sp_ledger_command command = {.kind = SP_LEDGER_COMMAND_CONFIRM_REFUND_REQUEST,
                                 .pass_id = request_id,
                                 .request_id = request_id,
                                 .actor_id = "",
                                 .command_id = key,
                                 .total_cents = total_cents,
                                 .operation_count = count};
    run(fx, &command, d);
}

static void abort_request(fixture *fx, const char *request_id, const char *key,
                          sp_ledger_decision *d) {
    sp_ledger_command command = {.kind = SP_LEDGER_COMMAND_ABORT_REFUND_REQUEST,
                                 .pass_id = request_id,
                                 .request_id = request_id,
                                 .actor_id = "",
                                 .command_id = key,
                                 .code = "operation_cancelled",
                                 .message = "the operation was cancelled",
                                 .operation_id = UNKNOWN_OP};
    run(fx, &command, d);
}

static void cancel_request(fixture *fx, const char *request_id, const sp_ledger_partner *partner,
                           const char *key, sp_ledger_decision *d) {
    sp_ledger_command command = {.kind = SP_LEDGER_COMMAND_CANCEL_REFUND_REQUEST,
                                 .pass_id = request_id,
                                 .request_id = request_id,
                                 .actor_id = ADMIN,
                                 .command_id = key,
                                 .partner_id = partner->partner_id};
    run(fx, &command, d);
}

static void mark_paid(fixture *fx, const char *request_id, const char *reference,
                      const char *paid_on, const char *key, sp_ledger_decision *d) {
    sp_ledger_command command = {.kind = SP_LEDGER_COMMAND_MARK_REFUND_REQUEST_PAID,
                                 .pass_id = request_id,
                                 .request_id = request_id,
                                 .actor_id = ADMIN,
                                 .command_id = key,
                                 .transfer_reference = reference,
                                 .paid_on = paid_on};
    run(fx, &command, d);
}

static void cancel_operation(fixture *fx, const char *pass_id, const char *operation_id,
                             const sp_ledger_partner *partner, const char *key,
                             sp_ledger_decision *d) {
    sp_ledger_command command = {.kind = SP_LEDGER_COMMAND_CANCEL_OPERATION,
                                 .pass_id = pass_id,
                                 .actor_id = ADMIN,
                                 .command_id = key,
                                 .operation_id = operation_id,
                                 .partner_id = partner->partner_id};
    run(fx, &command, d);
}

static void assert_rejected(const sp_ledger_decision *d, const char *code) {
    ledger_fixture_assert_rejected(d, code);
}

static void assert_refused(const sp_ledger_decision *d, const char *code) {
    assert_int_equal(d->kind, SP_LEDGER_DECIDED_REFUSED);
    assert_string_equal(d->error.code, code);
}

static sp_ledger_operation_status status_of(const fixture *fx, const char *pass_id,
                                            const char *operation_id) {
    const sp_ledger_operation *op = sp_ledger_operation_find(
        sp_ledger_pass_find(fx->state, pass_id), operation_id);
    assert_non_null(op);
    return op->status;
}

static const char *json_of(const fixture *fx, const char *aggregate_id, const char *actor,
                           const char *key) {
    const sp_ledger_record *record = sp_ledger_record_find(fx->state, aggregate_id, actor, key);
    assert_non_null(record);
    return record->result_json;
}

/* Two passes; a, b (1000, 2000) paid on P1 and c (500) on P2 at the sport
 * partner; parts: the request of all three. */
typedef struct three_ops {
    char a[SP_ID_LEN + 1], b[SP_ID_LEN + 1], c[SP_ID_LEN + 1];
    const char *p1_ids[2], *p2_ids[1];
    sp_ledger_refund_part parts[2];
} three_ops;

static void three_operations(fixture *fx, three_ops *t) {
    open_and_credit(fx, P1);
    open_and_credit(fx, P2);
    pay_ok(fx, P1, "pa", &fx->sport, 1000, t->a);
    pay_ok(fx, P1, "pb", &fx->sport, 2000, t->b);
    pay_ok(fx, P2, "pc", &fx->sport, 500, t->c);
    t->p1_ids[0] = t->a;
    t->p1_ids[1] = t->b;
    t->p2_ids[0] = t->c;
    t->parts[0] = (sp_ledger_refund_part){P1, t->p1_ids, 2};
    t->parts[1] = (sp_ledger_refund_part){P2, t->p2_ids, 1};
}

/* One pass, one sport payment of amount_cents, and the part asking for it. */
typedef struct one_op {
    char a[SP_ID_LEN + 1];
    const char *ids[1];
    sp_ledger_refund_part parts[1];
} one_op;

static void one_operation(fixture *fx, int64_t amount_cents, one_op *o) {
    open_and_credit(fx, P1);
    pay_ok(fx, P1, "pa", &fx->sport, amount_cents, o->a);
    o->ids[0] = o->a;
    o->parts[0] = (sp_ledger_refund_part){P1, o->ids, 1};
}

/* ------------------------------------------------------------ the whole life */

/* Opened, reserved by both passes, confirmed: pending. */
static void pending_request(fixture *fx, three_ops *t) {
    three_operations(fx, t);
    sp_ledger_decision d;
    open_request(fx, R1, "idem-1", &fx->sport, t->parts, 2, 3500, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_REFUND_REQUEST_OPENED);
    assert_int_equal(d.event.operation_count, 3);
    const sp_ledger_refund_request *request = sp_ledger_refund_request_find(fx->state, R1);
    assert_non_null(request);
    assert_int_equal(request->status, SP_LEDGER_REFUND_OPENING);
    assert_int_equal(sp_ledger_record_find(fx->state, R1, ADMIN, "idem-1")->http_status, 201);
    assert_non_null(strstr(json_of(fx, R1, ADMIN, "idem-1"), "\"status\":\"opening\""));
    assert_int_equal(sp_ledger_partner_owed_cents(fx->state, fx->sport.partner_id), 3500);

    reserve(fx, P1, R1, &fx->sport, t->p1_ids, 2, false, "reserve-" R1, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_OPERATIONS_RESERVED);
    assert_int_equal(d.event.amount_cents, 3000);
    assert_string_equal(d.event.postings[0].credit_account, "refund:" R1);
    reserve(fx, P2, R1, &fx->sport, t->p2_ids, 1, false, "reserve-" R1, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_OPERATIONS_RESERVED);
    assert_int_equal(sp_ledger_partner_owed_cents(fx->state, fx->sport.partner_id), 0);
    assert_int_equal(sp_ledger_refund_account_cents(fx->state, R1), 3500);
    assert_int_equal(status_of(fx, P1, t->a), SP_LEDGER_OPERATION_REQUESTED);
    assert_string_equal(
        sp_ledger_operation_find(sp_ledger_pass_find(fx->state, P1), t->a)->request_id, R1);
    assert_string_equal(sp_ledger_operation_status_name(SP_LEDGER_OPERATION_REQUESTED),
                        "requested");

    confirm(fx, R1, 3500, 3, "confirm", &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_REFUND_REQUEST_CONFIRMED);
    assert_int_equal(request->status, SP_LEDGER_REFUND_PENDING);
    assert_non_null(strstr(json_of(fx, R1, "", "confirm"), "\"total_cents\":3500"));
}

static void test_cancelled_request_gives_everything_back(void **state) {
    fixture *fx = *state;
    three_ops t;
    pending_request(fx, &t);
    const sp_ledger_refund_request *request = sp_ledger_refund_request_find(fx->state, R1);
    sp_ledger_decision d;
    /* While requested, its partner cannot cancel the payment. */
    cancel_operation(fx, P1, t.a, &fx->sport, "cancel-a", &d);
    assert_rejected(&d, "operation_in_refund_request");
    assert_non_null(strstr(d.event.message, R1));
    assert_int_equal(sp_ledger_status_of_code("operation_in_refund_request"), 409);

    /* Another partner does not see it; its partner cancels it. */
    cancel_request(fx, R1, &fx->lecture, "c-other", &d);
    assert_rejected(&d, "refund_request_not_found");
    assert_int_equal(sp_ledger_status_of_code("refund_request_not_found"), 404);
    cancel_request(fx, R1, &fx->sport, "c1", &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_REFUND_REQUEST_CANCELLED);
    assert_string_equal(d.event.reason, "partner");
    assert_int_equal(request->status, SP_LEDGER_REFUND_CANCELLED);
    cancel_request(fx, R1, &fx->sport, "c2", &d);
    assert_rejected(&d, "refund_request_cancelled");
    mark_paid(fx, R1, "VIR 2026-03 R1", "2026-03-31", "paid", &d);
    assert_rejected(&d, "refund_request_cancelled");
    /* It moved no money: the passes release it. */
    assert_int_equal(sp_ledger_refund_account_cents(fx->state, R1), 3500);

    step(fx, SP_LEDGER_COMMAND_RELEASE_OPERATIONS, P1, R1, "release-" R1, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_OPERATIONS_RELEASED);
    assert_int_equal(d.event.changed_count, 2);
    assert_int_equal(d.event.amount_cents, 3000);
    step(fx, SP_LEDGER_COMMAND_RELEASE_OPERATIONS, P2, R1, "release-" R1, &d);
    assert_int_equal(d.event.amount_cents, 500);
    assert_int_equal(sp_ledger_refund_account_cents(fx->state, R1), 0);
    assert_int_equal(sp_ledger_partner_owed_cents(fx->state, fx->sport.partner_id), 3500);
    assert_int_equal(status_of(fx, P1, t.a), SP_LEDGER_OPERATION_ACCEPTED);
    assert_int_equal(status_of(fx, P2, t.c), SP_LEDGER_OPERATION_ACCEPTED);
    /* Nothing left to release: an event all the same, moving nothing. */
    step(fx, SP_LEDGER_COMMAND_RELEASE_OPERATIONS, P1, R1, "release-again", &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_OPERATIONS_RELEASED);
    assert_int_equal(d.event.changed_count, 0);
    assert_int_equal(d.event.posting_count, 0);
    assert_non_null(strstr(json_of(fx, P1, "", "release-again"), "\"operation_ids\":[]"));

    cancel_operation(fx, P1, t.a, &fx->sport, "cancel-a2", &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_OPERATION_CANCELLED);
    assert_int_equal(sp_ledger_partner_owed_cents(fx->state, fx->sport.partner_id), 2500);
}

static void test_paid_request_settles_to_the_bank(void **state) {
    fixture *fx = *state;
    open_and_credit(fx, P1);
    char a[SP_ID_LEN + 1], b[SP_ID_LEN + 1];
    pay_ok(fx, P1, "pa", &fx->sport, 1200, a);
    pay_ok(fx, P1, "pb", &fx->sport, 800, b);
    const char *ids[] = {a, b};
    sp_ledger_refund_part parts[] = {{P1, ids, 2}};
    sp_ledger_decision d;
    open_request(fx, R1, "idem-1", &fx->sport, parts, 1, 2000, &d);
    /* Opening: it can neither be cancelled nor paid yet. */
    cancel_request(fx, R1, &fx->sport, "c0", &d);
    assert_rejected(&d, "refund_request_opening");
    reserve(fx, P1, R1, &fx->sport, ids, 2, false, "reserve-" R1, &d);
    confirm(fx, R1, 2000, 2, "confirm", &d);

    mark_paid(fx, R1, "VIR_2026", "2026-03-31", "bad-ref", &d);
    assert_rejected(&d, "invalid_transfer_reference");
    assert_string_equal(d.event.field, "transfer_reference");
    mark_paid(fx, R1, "", "2026-03-31", "empty-ref", &d);
    assert_rejected(&d, "invalid_transfer_reference");
    mark_paid(fx, R1, "123456789012345678901234567890123456", "2026-03-31", "long-ref", &d);
    assert_rejected(&d, "invalid_transfer_reference");
    mark_paid(fx, R1, "VIR 2026/03-R1", "2026-02-30", "bad-date", &d);
    assert_rejected(&d, "invalid_date");
    assert_string_equal(d.event.field, "paid_on");
    assert_int_equal(sp_ledger_status_of_code("invalid_date"), 422);
    mark_paid(fx, R1, "VIR 2026/03-R1 (ok) +'.,?:", "2026-03-31", "paid", &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_REFUND_REQUEST_PAID);
    assert_int_equal(d.event.total_cents, 2000);
    const sp_ledger_refund_request *request = sp_ledger_refund_request_find(fx->state, R1);
    assert_int_equal(request->status, SP_LEDGER_REFUND_PAID);
    assert_string_equal(request->paid_on, "2026-03-31");
    assert_non_null(strstr(json_of(fx, R1, ADMIN, "paid"), "\"status\":\"paid\""));
    mark_paid(fx, R1, "VIR 2", "2026-04-01", "paid-again", &d);
    assert_rejected(&d, "refund_request_paid");
    cancel_request(fx, R1, &fx->sport, "c1", &d);
    assert_rejected(&d, "refund_request_paid");

    step(fx, SP_LEDGER_COMMAND_SETTLE_OPERATIONS, P1, R1, "settle-" R1, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_OPERATIONS_SETTLED);
    assert_int_equal(d.event.amount_cents, 2000);
    assert_string_equal(d.event.postings[0].credit_account, "bank");
    assert_int_equal(fx->state->bank_cents, 2000);
    assert_int_equal(sp_ledger_refund_account_cents(fx->state, R1), 0);
    assert_int_equal(status_of(fx, P1, a), SP_LEDGER_OPERATION_PAID);
    assert_string_equal(sp_ledger_operation_status_name(SP_LEDGER_OPERATION_PAID), "paid");
    cancel_operation(fx, P1, b, &fx->sport, "cancel-b", &d);
    assert_rejected(&d, "operation_paid");
    /* A release after the settlement finds nothing of the request. */
    step(fx, SP_LEDGER_COMMAND_RELEASE_OPERATIONS, P1, R1, "release-" R1, &d);
    assert_int_equal(d.event.changed_count, 0);
    assert_int_equal(fx->state->bank_cents, 2000);
}

/* ------------------------------------------------------------ reserve */

typedef struct reserve_case {
    fixture *fx;
    char a[SP_ID_LEN + 1], b[SP_ID_LEN + 1], c[SP_ID_LEN + 1], d[SP_ID_LEN + 1];
    char e[SP_ID_LEN + 1];
} reserve_case;

/* a accepted, b cancelled, c in R1, d paid (by R3), e the other partner's. */
static void prepare_operations(reserve_case *rc) {
    fixture *fx = rc->fx;
    open_and_credit(fx, P1);
    pay_ok(fx, P1, "pa", &fx->sport, 100, rc->a);
    pay_ok(fx, P1, "pb", &fx->sport, 200, rc->b);
    pay_ok(fx, P1, "pc", &fx->sport, 300, rc->c);
    pay_ok(fx, P1, "pd", &fx->sport, 400, rc->d);
    pay_ok(fx, P1, "pe", &fx->lecture, 500, rc->e);
    sp_ledger_decision d;
    cancel_operation(fx, P1, rc->b, &fx->sport, "cancel-b", &d);
    const char *c_ids[] = {rc->c}, *d_ids[] = {rc->d};
    reserve(fx, P1, R1, &fx->sport, c_ids, 1, false, "reserve-" R1, &d);
    reserve(fx, P1, R3, &fx->sport, d_ids, 1, false, "reserve-" R3, &d);
    step(fx, SP_LEDGER_COMMAND_SETTLE_OPERATIONS, P1, R3, "settle-" R3, &d);
    assert_int_equal(status_of(fx, P1, rc->d), SP_LEDGER_OPERATION_PAID);
}

static void test_strict_reserve_refuses_and_changes_nothing(void **state) {
    reserve_case rc = {.fx = *state};
    fixture *fx = rc.fx;
    prepare_operations(&rc);
    int64_t owed_before = sp_ledger_partner_owed_cents(fx->state, fx->sport.partner_id);
    const struct {
        const char *other;
        const char *code;
    } cases[] = {{rc.b, "operation_cancelled"},
                 {rc.c, "operation_in_refund_request"},
                 {rc.d, "operation_paid"},
                 {rc.e, "operation_not_found"},
                 {UNKNOWN_OP, "operation_not_found"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *ids[] = {rc.a, cases[i].other};
        char key[32];
        snprintf(key, sizeof key, "strict-%zu", i);
        sp_ledger_decision d;
        reserve(fx, P1, R2, &fx->sport, ids, 2, false, key, &d);
        assert_rejected(&d, cases[i].code);
        assert_string_equal(d.event.request_id, R2);
        assert_string_equal(d.event.operation_id, cases[i].other);
        assert_string_equal(d.event.command_type, SP_LEDGER_TYPE_RESERVE_OPERATIONS);
        assert_int_equal(status_of(fx, P1, rc.a), SP_LEDGER_OPERATION_ACCEPTED);
        assert_int_equal(sp_ledger_refund_account_cents(fx->state, R2), 0);
        assert_int_equal(sp_ledger_partner_owed_cents(fx->state, fx->sport.partner_id),
                         owed_before);
    }
    assert_string_equal(
        sp_ledger_operation_find(sp_ledger_pass_find(fx->state, P1), rc.c)->request_id, R1);
}

static void test_skip_unavailable_reserves_what_it_can(void **state) {
    reserve_case rc = {.fx = *state};
    fixture *fx = rc.fx;
    prepare_operations(&rc);
    const char *ids[] = {rc.b, rc.a, rc.c, rc.d, rc.e};
    sp_ledger_decision d;
    reserve(fx, P1, R2, &fx->sport, ids, 5, true, "reserve-" R2, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_OPERATIONS_RESERVED);
    assert_int_equal(d.event.changed_count, 1);
    assert_string_equal(d.event.operation_ids[0], rc.a);
    assert_int_equal(d.event.skipped_count, 4);
    assert_int_equal(d.event.amount_cents, 100);
    assert_int_equal(sp_ledger_refund_account_cents(fx->state, R2), 100);
    const char *json = json_of(fx, P1, "", "reserve-" R2);
    char expected[128];
    snprintf(expected, sizeof expected, "\"operation_ids\":[\"%s\"],\"amount_cents\":100", rc.a);
    assert_non_null(strstr(json, expected));
    assert_non_null(strstr(json, "\"skipped_operation_ids\":[\""));
    /* Nothing available: an event that reserves nothing and moves nothing. */
    const char *none[] = {rc.b};
    reserve(fx, P1, R3, &fx->sport, none, 1, true, "reserve-none", &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_OPERATIONS_RESERVED);
    assert_int_equal(d.event.changed_count, 0);
    assert_int_equal(d.event.posting_count, 0);
}

static void test_selections_are_bounded_and_checked(void **state) {
    fixture *fx = *state;
    open_and_credit(fx, P1);
    char a[SP_ID_LEN + 1];
    pay_ok(fx, P1, "pa", &fx->sport, 100, a);
    sp_ledger_decision d;
    reserve(fx, P1, R1, &fx->sport, NULL, 0, false, "r-empty", &d);
    assert_rejected(&d, "empty_selection");
    assert_int_equal(sp_ledger_status_of_code("empty_selection"), 422);
    const char *twice[] = {a, a};
    reserve(fx, P1, R1, &fx->sport, twice, 2, false, "r-twice", &d);
    assert_rejected(&d, "duplicate_operation");
    const char *not_uuid[] = {"nope"};
    reserve(fx, P1, R1, &fx->sport, not_uuid, 1, false, "r-nope", &d);
    assert_rejected(&d, "invalid_value");
    static const char *many[SP_LEDGER_REFUND_PART_OPERATIONS_MAX + 1];
    for (size_t i = 0; i <= SP_LEDGER_REFUND_PART_OPERATIONS_MAX; i++) many[i] = a;
    reserve(fx, P1, R1, &fx->sport, many, SP_LEDGER_REFUND_PART_OPERATIONS_MAX + 1, false, "r-many",
            &d);
    assert_rejected(&d, "too_many_operations");
    reserve(fx, R2, R1, &fx->sport, twice, 1, false, "r-no-pass", &d);
    assert_refused(&d, "pass_not_found");
    assert_int_equal(status_of(fx, P1, a), SP_LEDGER_OPERATION_ACCEPTED);

    /* Opening: refused without an event, nothing kept. */
    const char *ids[] = {a};
    sp_ledger_refund_part none[1];
    open_request(fx, R1, "o-empty", &fx->sport, none, 0, 0, &d);
    assert_refused(&d, "empty_selection");
    sp_ledger_refund_part empty_part[] = {{P1, ids, 0}};
    open_request(fx, R1, "o-empty-part", &fx->sport, empty_part, 1, 0, &d);
    assert_refused(&d, "empty_selection");
    sp_ledger_refund_part same_pass[] = {{P1, ids, 1}, {P1, ids, 1}};
    open_request(fx, R1, "o-same-pass", &fx->sport, same_pass, 2, 0, &d);
    assert_refused(&d, "duplicate_pass");
    sp_ledger_refund_part one[] = {{P1, ids, 1}};
    sp_ledger_command automatic = {.kind = SP_LEDGER_COMMAND_OPEN_REFUND_REQUEST,
                                   .pass_id = R1,
                                   .actor_id = "",
                                   .command_id = "auto-2026-13",
                                   .partner_id = fx->sport.partner_id,
                                   .refund_kind = "automatic",
                                   .period = "2026-13",
                                   .parts = one,
                                   .part_count = 1};
    run(fx, &automatic, &d);
    assert_refused(&d, "invalid_value");
    assert_string_equal(d.error.field, "period");
    automatic.period = "2026-02";
    automatic.command_id = "auto-2026-02";
    automatic.bank_account_missing = true;
    run(fx, &automatic, &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_REFUND_REQUEST_OPENED);
    const char *json = json_of(fx, R1, "", "auto-2026-02");
    assert_non_null(strstr(json, "\"kind\":\"automatic\",\"period\":\"2026-02\""));
    assert_non_null(strstr(json, "\"bank_account_missing\":true"));
    assert_null(sp_ledger_refund_request_find(fx->state, R2));
}

/* ------------------------------------------------------------ request rules */

static void test_abort_only_while_opening(void **state) {
    fixture *fx = *state;
    one_op o;
    one_operation(fx, 100, &o);
    const sp_ledger_refund_part *parts = o.parts;
    sp_ledger_decision d;
    open_request(fx, R1, "o1", &fx->sport, parts, 1, 100, &d);
    abort_request(fx, R1, "abort", &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_REFUND_REQUEST_CANCELLED);
    assert_string_equal(d.event.reason, "aborted");
    assert_string_equal(d.event.code, "operation_cancelled");
    assert_string_equal(d.event.operation_id, UNKNOWN_OP);
    assert_non_null(strstr(json_of(fx, R1, "", "abort"), "\"status\":\"cancelled\""));
    assert_non_null(strstr(json_of(fx, R1, "", "abort"), "\"reason\":\"aborted\""));
    abort_request(fx, R1, "abort-2", &d);
    assert_rejected(&d, "refund_request_cancelled");
    confirm(fx, R1, 100, 1, "confirm", &d);
    assert_rejected(&d, "refund_request_cancelled");

    open_request(fx, R2, "o2", &fx->sport, parts, 1, 100, &d);
    confirm(fx, R2, 0, 0, "confirm", &d);
    assert_int_equal(d.event.kind, SP_LEDGER_EVENT_REFUND_REQUEST_CONFIRMED);
    abort_request(fx, R2, "abort", &d);
    assert_rejected(&d, "refund_request_pending");
    confirm(fx, R2, 0, 0, "confirm-2", &d);
    assert_rejected(&d, "refund_request_pending");
    /* An id that exists: another command id is refused. */
    open_request(fx, R2, "o3", &fx->sport, parts, 1, 100, &d);
    assert_rejected(&d, "refund_request_exists");
    assert_int_equal(sp_ledger_status_of_code("refund_request_exists"), 409);
    /* An unknown request: refused, nothing kept. */
    confirm(fx, R3, 0, 0, "confirm", &d);
    assert_refused(&d, "refund_request_not_found");
    open_request(fx, R3, "o4", &fx->sport, parts, 1, 100, &d);
    confirm(fx, R3, 100, 2, "confirm", &d);
    assert_rejected(&d, "invalid_operation_count");
}

static void test_the_same_command_twice_answers_the_same(void **state) {
    fixture *fx = *state;
    one_op o;
    one_operation(fx, 700, &o);
    const sp_ledger_refund_part *parts = o.parts;
    const char *const *ids = o.ids;
    sp_ledger_decision d;
    open_request(fx, R1, "idem-1", &fx->sport, parts, 1, 700, &d);
    const sp_ledger_record *opened = sp_ledger_record_find(fx->state, R1, ADMIN, "idem-1");
    open_request(fx, R1, "idem-1", &fx->sport, parts, 1, 700, &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_REPLAY);
    assert_ptr_equal(d.record, opened);
    open_request(fx, R1, "idem-1", &fx->sport, parts, 1, 701, &d);
    assert_refused(&d, "idempotency_conflict");

    reserve(fx, P1, R1, &fx->sport, ids, 1, false, "reserve-" R1, &d);
    uint64_t version = sp_ledger_pass_find(fx->state, P1)->version;
    reserve(fx, P1, R1, &fx->sport, ids, 1, false, "reserve-" R1, &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_REPLAY);
    assert_true(d.record->ok);
    assert_int_equal(sp_ledger_refund_account_cents(fx->state, R1), 700);
    assert_int_equal(sp_ledger_pass_find(fx->state, P1)->version, version);
    confirm(fx, R1, 700, 1, "confirm", &d);
    confirm(fx, R1, 700, 1, "confirm", &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_REPLAY);
    mark_paid(fx, R1, "VIR 1", "2026-03-31", "paid", &d);
    step(fx, SP_LEDGER_COMMAND_SETTLE_OPERATIONS, P1, R1, "settle-" R1, &d);
    step(fx, SP_LEDGER_COMMAND_SETTLE_OPERATIONS, P1, R1, "settle-" R1, &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_REPLAY);
    assert_int_equal(fx->state->bank_cents, 700);
    assert_int_equal(sp_ledger_refund_request_find(fx->state, R1)->version, 3);
}

/* ------------------------------------------------------------ rebuild */

static void roundtrip(const sp_ledger_event *event, sp_ledger_event *out) {
    sp_ledger_event_pb *holder = calloc(1, sizeof *holder);
    assert_non_null(holder);
    const ProtobufCMessage *payload = sp_ledger_event_to_pb(event, holder);
    assert_non_null(payload);
    sp_envelope_meta meta;
    sp_ledger_event_meta(event, "", &meta);
    uint8_t *bytes = NULL;
    size_t len = 0;
    sp_error err;
    assert_int_equal(sp_envelope_pack(&meta, payload, &bytes, &len, NULL, &err), 0);
    sp_ledger_event_pb_release(holder);
    free(holder);
    Solipass__Envelope *envelope = sp_envelope_unpack(bytes, len, &err);
    assert_non_null(envelope);
    assert_int_equal(sp_ledger_event_from_envelope(envelope, out, &err), 0);
    solipass__envelope__free_unpacked(envelope, NULL);
    free(bytes);
}

static void same_record(const sp_ledger_state *x, const sp_ledger_state *y, const char *aggregate,
                        const char *actor, const char *key) {
    const sp_ledger_record *r1 = sp_ledger_record_find(x, aggregate, actor, key);
    const sp_ledger_record *r2 = sp_ledger_record_find(y, aggregate, actor, key);
    assert_non_null(r1);
    assert_non_null(r2);
    assert_int_equal(r1->http_status, r2->http_status);
    assert_string_equal(r1->result_json, r2->result_json);
    assert_string_equal(r1->code, r2->code);
    assert_memory_equal(r1->request_hash, r2->request_hash, SP_KEY_LEN);
}

/* Every event of fx, encoded and decoded, applied to a fresh state (twice:
 * the second time is a duplicate, skipped). */
static sp_ledger_state *rebuilt(fixture *fx) {
    sp_ledger_limits l = limits();
    sp_error err;
    sp_ledger_state *twin = sp_ledger_state_new(3, &l, &fx->directory, &err);
    assert_non_null(twin);
    sp_ledger_event *decoded = calloc(1, sizeof *decoded);
    assert_non_null(decoded);
    for (size_t i = 0; i < fx->event_count; i++) {
        roundtrip(&fx->events[i], decoded);
        sp_ledger_applied applied;
        assert_int_equal(sp_ledger_apply(twin, decoded, &applied, &err), 0);
        assert_false(applied.skipped);
        assert_int_equal(sp_ledger_apply(twin, decoded, &applied, &err), 0);
        assert_true(applied.skipped);
    }
    free(decoded);
    return twin;
}

/* A request paid and settled, one aborted, refusals recorded as events. */
static void paid_and_aborted(fixture *fx) {
    three_ops t;
    pending_request(fx, &t);
    const char *b_only[] = {t.b};
    sp_ledger_refund_part r2_parts[] = {{P1, b_only, 1}};
    sp_ledger_decision d;
    mark_paid(fx, R1, "VIR 1", "2026-03-31", "paid", &d);
    step(fx, SP_LEDGER_COMMAND_SETTLE_OPERATIONS, P2, R1, "settle-" R1, &d);
    open_request(fx, R2, "o2", &fx->sport, r2_parts, 1, 2000, &d);
    reserve(fx, P1, R2, &fx->sport, b_only, 1, false, "reserve-" R2, &d); /* refused */
    abort_request(fx, R2, "abort", &d);
    cancel_request(fx, R1, &fx->sport, "c1", &d); /* refused */
    assert_int_equal(sp_ledger_balance_sum_cents(fx->state), 0);
}

static void test_rebuild_reaches_the_same_state(void **state) {
    fixture *fx = *state;
    paid_and_aborted(fx);
    sp_ledger_state *twin = rebuilt(fx);
    const char *requests[] = {R1, R2};
    for (size_t i = 0; i < 2; i++) {
        const sp_ledger_refund_request *x = sp_ledger_refund_request_find(fx->state, requests[i]);
        const sp_ledger_refund_request *y = sp_ledger_refund_request_find(twin, requests[i]);
        assert_non_null(y);
        assert_memory_equal(x, y, sizeof *x);
    }
    const char *passes[] = {P1, P2};
    for (size_t p = 0; p < 2; p++) {
        const sp_ledger_pass *x = sp_ledger_pass_find(fx->state, passes[p]);
        const sp_ledger_pass *y = sp_ledger_pass_find(twin, passes[p]);
        assert_int_equal(x->version, y->version);
        assert_int_equal(x->operation_count, y->operation_count);
        for (size_t i = 0; i < x->operation_count; i++) {
            assert_memory_equal(&x->operations[i], &y->operations[i], sizeof x->operations[i]);
        }
    }
    assert_int_equal(sp_ledger_refund_account_cents(twin, R1), 3000);
    assert_int_equal(twin->bank_cents, 500);
    assert_int_equal(sp_ledger_partner_owed_cents(twin, fx->sport.partner_id), 0);
    assert_int_equal(sp_ledger_balance_sum_cents(twin), 0);
    same_record(fx->state, twin, R1, ADMIN, "idem-1");
    same_record(fx->state, twin, P1, "", "reserve-" R1);
    same_record(fx->state, twin, R1, ADMIN, "paid");
    same_record(fx->state, twin, P1, "", "reserve-" R2);
    same_record(fx->state, twin, R2, "", "abort");
    same_record(fx->state, twin, R1, ADMIN, "c1");
    sp_ledger_state_free(twin);
}

/* ------------------------------------------------------------ snapshots */

static void test_snapshot_then_the_log_equals_the_whole_log(void **state) {
    fixture *fx = *state;
    paid_and_aborted(fx);
    sp_ledger_limits l = limits();
    snapshot_check_every_cut(fx->events, fx->event_count, 3, &l, &fx->directory);
}

/* A state read back from its snapshot answers a command it had decided
 * with the first outcome, and a new one as the original state would. */
static void test_a_restored_state_answers_retries_with_their_first_outcome(void **state) {
    fixture *fx = *state;
    paid_and_aborted(fx);
    const sp_ledger_record *first = sp_ledger_record_find(fx->state, R1, ADMIN, "paid");
    assert_non_null(first);
    char *first_json = strdup(first->result_json);
    sp_ledger_snapshot_position at = {.next_offset = (int64_t)fx->event_count};
    uint8_t *bytes = NULL;
    size_t len = 0;
    sp_error err;
    assert_int_equal(sp_ledger_snapshot_encode(fx->state, &at, "v1", &bytes, &len, &err), 0);
    sp_ledger_limits l = limits();
    sp_ledger_snapshot_position read_at;
    sp_ledger_state *restored = sp_ledger_snapshot_decode(bytes, len, 3, &l, &fx->directory, "v1",
                                                          &read_at, &err);
    assert_non_null(restored);
    sp_ledger_state_free(fx->state);
    fx->state = restored;
    sp_ledger_decision d;
    mark_paid(fx, R1, "VIR 1", "2026-03-31", "paid", &d);
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_REPLAY);
    assert_string_equal(d.record->result_json, first_json);
    mark_paid(fx, R1, "VIR 2", "2026-03-31", "paid", &d); /* same key, other body */
    assert_int_equal(d.kind, SP_LEDGER_DECIDED_REFUSED);
    assert_string_equal(d.error.code, "idempotency_conflict");
    free(first_json);
    free(bytes);
}

/* Corrupt, truncated, another binary's or another partition's snapshot:
 * refused with the reason, never half read. */
static void test_a_bad_snapshot_is_refused(void **state) {
    fixture *fx = *state;
    paid_and_aborted(fx);
    sp_ledger_snapshot_position at = {.next_offset = (int64_t)fx->event_count}, read_at;
    uint8_t *bytes = NULL;
    size_t len = 0;
    sp_error err;
    assert_int_equal(sp_ledger_snapshot_encode(fx->state, &at, "v1", &bytes, &len, &err), 0);
    sp_ledger_limits l = limits();
    assert_null(sp_ledger_snapshot_decode(bytes, len, 3, &l, &fx->directory, "v2", &read_at, &err));
    assert_string_equal(err.code, "snapshot_refused");
    assert_non_null(strstr(err.message, "another binary"));
    assert_null(sp_ledger_snapshot_decode(bytes, len, 4, &l, &fx->directory, "v1", &read_at, &err));
    assert_string_equal(err.code, "snapshot_refused");
    assert_null(
        sp_ledger_snapshot_decode(bytes, len / 2, 3, &l, &fx->directory, "v1", &read_at, &err));
    assert_string_equal(err.code, "snapshot_refused");
    for (size_t i = 0; i < len; i += 97) {
        bytes[i] ^= 0x20;
        assert_null(
            sp_ledger_snapshot_decode(bytes, len, 3, &l, &fx->directory, "v1", &read_at, &err));
        assert_string_equal(err.code, "snapshot_refused");
        bytes[i] ^= 0x20;
    }
    /* A state that no longer fits the configured limits is refused too. */
    l.passes_max = 1;
    assert_null(sp_ledger_snapshot_decode(bytes, len, 3, &l, &fx->directory, "v1", &read_at, &err));
    assert_string_equal(err.code, "snapshot_refused");
    free(bytes);
}

static void test_a_decoded_opening_is_not_produced_again(void **state) {
    fixture *fx = *state;
    one_op o;
    one_operation(fx, 100, &o);
    sp_ledger_decision d;
    open_request(fx, R1, "o1", &fx->sport, o.parts, 1, 100, &d);
    sp_ledger_event *decoded = calloc(1, sizeof *decoded);
    assert_non_null(decoded);
    roundtrip(&d.event, decoded);
    assert_null(decoded->parts);
    assert_int_equal(decoded->part_count, 1);
    assert_int_equal(decoded->operation_count, 1);
    /* Its parts are not kept: it cannot be encoded again. */
    sp_ledger_event_pb *holder = calloc(1, sizeof *holder);
    assert_non_null(holder);
    assert_null(sp_ledger_event_to_pb(decoded, holder));
    sp_ledger_event_pb_release(holder);
    free(holder);
    free(decoded);
}

/* ------------------------------------------------------------ commands from the log */

/* Packs a command payload in an envelope and decodes it as the service does. */
static int decode(const char *type, const char *aggregate_id, const ProtobufCMessage *payload,
                  sp_ledger_command *command, sp_ledger_command_pb *holder, sp_error *err) {
    sp_envelope_meta meta = {.type = type,
                             .aggregate_id = aggregate_id,
                             .occurred_at_ms = T0_MS,
                             .command_id = "idem-1",
                             .causation_id = "",
                             .reply_to = "",
                             .actor_id = ADMIN};
    uint8_t *bytes = NULL;
    size_t len = 0;
    assert_int_equal(sp_envelope_pack(&meta, payload, &bytes, &len, NULL, err), 0);
    Solipass__Envelope *envelope = sp_envelope_unpack(bytes, len, err);
    assert_non_null(envelope);
    int rc = sp_ledger_command_from_envelope(envelope, command, holder, err);
    solipass__envelope__free_unpacked(envelope, NULL);
    free(bytes);
    return rc;
}

static void test_commands_are_keyed_by_their_aggregate(void **state) {
    (void)state;
    assert_true(sodium_init() >= 0); /* envelope ids */
    char pass_id[] = P1, request_id[] = R1, operation_id[] = UNKNOWN_OP;
    char partner_id[] = ADMIN, manual[] = "manual", none[] = "";
    char *ids[] = {operation_id};
    Solipass__Ledger__RefundPart part = SOLIPASS__LEDGER__REFUND_PART__INIT;
    part.pass_id = pass_id;
    part.n_operation_ids = 1;
    part.operation_ids = ids;
    Solipass__Ledger__RefundPart *part_ptrs[] = {&part};
    Solipass__Ledger__OpenRefundRequest open = SOLIPASS__LEDGER__OPEN_REFUND_REQUEST__INIT;
    open.request_id = request_id;
    open.partner_id = partner_id;
    open.kind = manual;
    open.period = none;
    open.n_parts = 1;
    open.parts = part_ptrs;
    open.expected_total_cents = 100;
    sp_ledger_command command;
    sp_ledger_command_pb holder;
    sp_error err;
    assert_int_equal(
        decode(SP_LEDGER_TYPE_OPEN_REFUND_REQUEST, R1, &open.base, &command, &holder, &err), 0);
    assert_int_equal(command.kind, SP_LEDGER_COMMAND_OPEN_REFUND_REQUEST);
    assert_true(sp_ledger_command_is_refund_request(command.kind));
    assert_string_equal(command.pass_id, R1);
    assert_int_equal(command.part_count, 1);
    assert_string_equal(command.parts[0].pass_id, P1);
    assert_string_equal(command.parts[0].operation_ids[0], UNKNOWN_OP);
    assert_int_equal(command.expected_total_cents, 100);
    sp_ledger_command_pb_free(&holder);
    /* A request's command keyed by anything but the request is malformed. */
    assert_int_equal(
        decode(SP_LEDGER_TYPE_OPEN_REFUND_REQUEST, P1, &open.base, &command, &holder, &err), -1);
    assert_string_equal(err.code, "malformed_message");

    Solipass__Ledger__ReserveOperations reserve_pb = SOLIPASS__LEDGER__RESERVE_OPERATIONS__INIT;
    reserve_pb.pass_id = pass_id;
    reserve_pb.request_id = request_id;
    reserve_pb.partner_id = partner_id;
    reserve_pb.n_operation_ids = 1;
    reserve_pb.operation_ids = ids;
    reserve_pb.skip_unavailable = true;
    assert_int_equal(decode(SP_LEDGER_TYPE_RESERVE_OPERATIONS, P1, &reserve_pb.base, &command,
                            &holder, &err),
                     0);
    assert_false(sp_ledger_command_is_refund_request(command.kind));
    assert_string_equal(command.pass_id, P1);
    assert_string_equal(command.request_id, R1);
    assert_true(command.skip_unavailable);
    assert_int_equal(command.operation_id_count, 1);
    sp_ledger_command_pb_free(&holder);
    assert_int_equal(decode(SP_LEDGER_TYPE_RESERVE_OPERATIONS, R1, &reserve_pb.base, &command,
                            &holder, &err),
                     -1);

    Solipass__Ledger__MarkRefundRequestPaid paid = SOLIPASS__LEDGER__MARK_REFUND_REQUEST_PAID__INIT;
    char reference[] = "VIR 1", paid_on[] = "2026-03-31";
    paid.request_id = request_id;
    paid.transfer_reference = reference;
    paid.paid_on = paid_on;
    assert_int_equal(decode(SP_LEDGER_TYPE_MARK_REFUND_REQUEST_PAID, R1, &paid.base, &command,
                            &holder, &err),
                     0);
    assert_string_equal(command.pass_id, R1);
    assert_string_equal(command.transfer_reference, "VIR 1");
    sp_ledger_command_pb_free(&holder);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cancelled_request_gives_everything_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_paid_request_settles_to_the_bank, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strict_reserve_refuses_and_changes_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_skip_unavailable_reserves_what_it_can, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_selections_are_bounded_and_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_only_while_opening, setup, teardown),
        cmocka_unit_test_setup_teardown(test_the_same_command_twice_answers_the_same, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rebuild_reaches_the_same_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_then_the_log_equals_the_whole_log, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_a_restored_state_answers_retries_with_their_first_outcome, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_bad_snapshot_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_decoded_opening_is_not_produced_again, setup,
                                        teardown),
        cmocka_unit_test(test_commands_are_keyed_by_their_aggregate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
