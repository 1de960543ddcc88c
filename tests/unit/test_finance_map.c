/* test_finance_map.c - which ledger events finance staff see, with which
 * fields, and their JSON rendering (services/finance/finance_map.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "finance/finance_map.h"
#include "ledger.pb-c.h"

#define PARTNER "11111111-1111-4111-8111-111111111111"
#define REQUEST "22222222-2222-4222-8222-222222222222"
#define OPERATION "33333333-3333-4333-8333-333333333333"
#define PASS "44444444-4444-4444-8444-444444444444"
#define VOUCHER "55555555-5555-4555-8555-555555555555"
#define EVENT_ID "66666666-6666-4666-8666-666666666666"

typedef struct fixture {
    Solipass__Envelope env;
    uint8_t payload[4096];
    sp_finance_requests requests;
} fixture;

static void envelope_of(fixture *f, const char *type, const char *aggregate_id,
                        const ProtobufCMessage *payload) {
    solipass__envelope__init(&f->env);
    f->env.id = EVENT_ID;
    f->env.type = (char *)type;
    f->env.aggregate_id = (char *)aggregate_id;
    f->env.aggregate_version = 3;
    f->env.occurred_at_ms = INT64_C(1795773600123); /* 2026-11-27T10:00:00.123Z */
    size_t len = protobuf_c_message_get_packed_size(payload);
    assert_true(len <= sizeof f->payload);
    protobuf_c_message_pack(payload, f->payload);
    f->env.payload.data = f->payload;
    f->env.payload.len = len;
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(sp_finance_requests_init(&f->requests, 8, NULL), 0);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    sp_finance_requests_destroy(&f->requests);
    free(f);
    return 0;
}

static void open_request(fixture *f, const char *request_id, const char *kind, const char *period,
                         bool bank_missing) {
    Solipass__Ledger__RefundRequestOpened m = SOLIPASS__LEDGER__REFUND_REQUEST_OPENED__INIT;
    m.request_id = (char *)request_id;
    m.partner_id = PARTNER;
    m.kind = (char *)kind;
    m.period = (char *)period;
    m.bank_account_missing = bank_missing;
    envelope_of(f, "ledger.RefundRequestOpened.v1", request_id, &m.base);
    sp_error err;
    assert_int_equal(sp_finance_requests_note(&f->requests, &f->env, &err), 0);
}

static void confirm(fixture *f, const char *request_id, int64_t total_cents) {
    Solipass__Ledger__RefundRequestConfirmed m = SOLIPASS__LEDGER__REFUND_REQUEST_CONFIRMED__INIT;
    m.request_id = (char *)request_id;
    m.partner_id = PARTNER;
    m.total_cents = total_cents;
    m.operation_count = 3;
    envelope_of(f, "ledger.RefundRequestConfirmed.v1", request_id, &m.base);
}

static void test_payment_by_code(void **state) {
    fixture *f = *state;
    Solipass__Ledger__PaymentAccepted m = SOLIPASS__LEDGER__PAYMENT_ACCEPTED__INIT;
    m.operation_id = OPERATION;
    m.pass_id = PASS;
    m.partner_id = PARTNER;
    m.partner_code = "12345674";
    m.amount_cents = 1250;
    envelope_of(f, "ledger.PaymentAccepted.v1", PASS, &m.base);
    sp_finance_event fe;
    bool mapped = false;
    sp_error err;
    assert_int_equal(sp_finance_map(&f->env, &f->requests, &fe, &mapped, &err), 0);
    assert_true(mapped);
    assert_string_equal(fe.event.event_id, EVENT_ID);
    assert_string_equal(fe.event.type, "payment_accepted");
    assert_string_equal(fe.event.partner_id, PARTNER);
    assert_int_equal(fe.event.amount_cents, 1250);
    assert_int_equal(fe.event.occurred_at_ms, INT64_C(1795773600123));
    assert_string_equal(fe.event.ledger_aggregate_id, PASS);
    assert_int_equal(fe.event.ledger_aggregate_version, 3);
    assert_int_equal(fe.event.detail_case,
                     SOLIPASS__FINANCE__FINANCE_EVENT__DETAIL_PAYMENT_ACCEPTED);
    assert_string_equal(fe.event.payment_accepted->channel, "code");
    assert_string_equal(fe.event.payment_accepted->operation_id, OPERATION);
    assert_string_equal(fe.event.payment_accepted->voucher_id, "");
    /* The packed message decodes to the same event. */
    uint8_t buf[1024];
    size_t len = protobuf_c_message_pack(&fe.event.base, buf);
    Solipass__Finance__FinanceEvent *back = solipass__finance__finance_event__unpack(NULL, len,
                                                                                     buf);
    assert_non_null(back);
    assert_string_equal(back->payment_accepted->partner_code, "12345674");
    assert_int_equal(back->payment_accepted->amount_cents, 1250);
    solipass__finance__finance_event__free_unpacked(back, NULL);
    char *json = sp_finance_json(&fe.event);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"amount_eur\":\"12.50\""));
    assert_non_null(strstr(json, "\"occurred_at\":\"2026-11-27T10:00:00.123Z\""));
    assert_non_null(strstr(json, "\"payment_accepted\":{\"operation_id\":\"" OPERATION
                                 "\",\"channel\":\"code\""));
    free(json);
    sp_finance_event_clear(&fe);
}

static void test_voucher_redemption_is_a_payment(void **state) {
    fixture *f = *state;
    Solipass__Ledger__VoucherRedeemed m = SOLIPASS__LEDGER__VOUCHER_REDEEMED__INIT;
    m.operation_id = OPERATION;
    m.voucher_id = VOUCHER;
    m.pass_id = PASS;
    m.partner_id = PARTNER;
    m.amount_cents = 7;
    envelope_of(f, "ledger.VoucherRedeemed.v1", PASS, &m.base);
    sp_finance_event fe;
    bool mapped = false;
    assert_int_equal(sp_finance_map(&f->env, &f->requests, &fe, &mapped, NULL), 0);
    assert_true(mapped);
    assert_string_equal(fe.event.payment_accepted->channel, "voucher");
    assert_string_equal(fe.event.payment_accepted->voucher_id, VOUCHER);
    char *json = sp_finance_json(&fe.event);
    assert_non_null(strstr(json, "\"amount_eur\":\"0.07\""));
    free(json);
    sp_finance_event_clear(&fe);
}

static void test_cancelled_operation(void **state) {
    fixture *f = *state;
    Solipass__Ledger__OperationCancelled m = SOLIPASS__LEDGER__OPERATION_CANCELLED__INIT;
    m.operation_id = OPERATION;
    m.pass_id = PASS;
    m.partner_id = PARTNER;
    m.amount_cents = 400;
    envelope_of(f, "ledger.OperationCancelled.v1", PASS, &m.base);
    sp_finance_event fe;
    bool mapped = false;
    assert_int_equal(sp_finance_map(&f->env, &f->requests, &fe, &mapped, NULL), 0);
    assert_string_equal(fe.event.type, "operation_cancelled");
    assert_string_equal(fe.event.operation_cancelled->channel, "code");
    assert_int_equal(fe.event.amount_cents, 400);
    sp_finance_event_clear(&fe);
}

static void test_pending_request_takes_its_opening(void **state) {
    fixture *f = *state;
    open_request(f, REQUEST, "automatic", "2026-10", true);
    confirm(f, REQUEST, 123456);
    sp_finance_event fe;
    bool mapped = false;
    sp_error err;
    assert_int_equal(sp_finance_map(&f->env, &f->requests, &fe, &mapped, &err), 0);
    assert_string_equal(fe.event.type, "refund_request_pending");
    const Solipass__Finance__RefundRequestPending *d = fe.event.refund_request_pending;
    assert_string_equal(d->request_id, REQUEST);
    assert_string_equal(d->kind, "automatic");
    assert_string_equal(d->period, "2026-10");
    assert_true(d->bank_account_missing);
    assert_int_equal(d->total_cents, 123456);
    assert_int_equal(d->operation_count, 3);
    char *json = sp_finance_json(&fe.event);
    assert_non_null(strstr(json, "\"amount_eur\":\"1234.56\""));
    assert_non_null(strstr(json, "\"bank_account_missing\":true"));
    json_t *parsed = json_loads(json, 0, NULL);
    assert_non_null(parsed);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(parsed, "refund_request_pending"), "total_cents")),
                     123456);
    json_decref(parsed);
    free(json);
    sp_finance_event_clear(&fe);
}

static void test_confirmation_without_opening_refused(void **state) {
    fixture *f = *state;
    confirm(f, REQUEST, 10);
    sp_finance_event fe;
    bool mapped = true;
    sp_error err;
    assert_int_equal(sp_finance_map(&f->env, &f->requests, &fe, &mapped, &err), -1);
    assert_false(mapped);
    assert_string_equal(err.code, "request_unknown");
    assert_non_null(strstr(err.message, REQUEST));
}

static void test_cancelled_and_paid_requests(void **state) {
    fixture *f = *state;
    Solipass__Ledger__RefundRequestCancelled c = SOLIPASS__LEDGER__REFUND_REQUEST_CANCELLED__INIT;
    c.request_id = REQUEST;
    c.partner_id = PARTNER;
    c.reason = "partner";
    envelope_of(f, "ledger.RefundRequestCancelled.v1", REQUEST, &c.base);
    sp_finance_event fe;
    bool mapped = false;
    assert_int_equal(sp_finance_map(&f->env, &f->requests, &fe, &mapped, NULL), 0);
    assert_string_equal(fe.event.refund_request_cancelled->reason, "partner");
    assert_int_equal(fe.event.amount_cents, 0);
    sp_finance_event_clear(&fe);

    Solipass__Ledger__RefundRequestPaid p = SOLIPASS__LEDGER__REFUND_REQUEST_PAID__INIT;
    p.request_id = REQUEST;
    p.partner_id = PARTNER;
    p.total_cents = 9900;
    p.transfer_reference = "VIR-2026-11-0042";
    p.paid_on = "2026-11-30";
    envelope_of(f, "ledger.RefundRequestPaid.v1", REQUEST, &p.base);
    assert_int_equal(sp_finance_map(&f->env, &f->requests, &fe, &mapped, NULL), 0);
    assert_string_equal(fe.event.type, "refund_request_paid");
    assert_string_equal(fe.event.refund_request_paid->transfer_reference, "VIR-2026-11-0042");
    assert_string_equal(fe.event.refund_request_paid->paid_on, "2026-11-30");
    assert_int_equal(fe.event.amount_cents, 9900);
    sp_finance_event_clear(&fe);

    p.paid_on = "2026-02-30";
    envelope_of(f, "ledger.RefundRequestPaid.v1", REQUEST, &p.base);
    sp_error err;
    assert_int_equal(sp_finance_map(&f->env, &f->requests, &fe, &mapped, &err), -1);
    assert_string_equal(err.code, "invalid_event");
}

static void test_other_events_are_not_published(void **state) {
    fixture *f = *state;
    Solipass__Ledger__PassCredited m = SOLIPASS__LEDGER__PASS_CREDITED__INIT;
    m.pass_id = PASS;
    m.amount_cents = 100;
    envelope_of(f, "ledger.PassCredited.v1", PASS, &m.base);
    sp_finance_event fe;
    bool mapped = true;
    assert_int_equal(sp_finance_map(&f->env, &f->requests, &fe, &mapped, NULL), 0);
    assert_false(mapped);
    open_request(f, REQUEST, "manual", "", false);
    assert_int_equal(sp_finance_map(&f->env, &f->requests, &fe, &mapped, NULL), 0);
    assert_false(mapped);
}

static void test_broken_payment_refused(void **state) {
    fixture *f = *state;
    Solipass__Ledger__PaymentAccepted m = SOLIPASS__LEDGER__PAYMENT_ACCEPTED__INIT;
    m.operation_id = OPERATION;
    m.partner_id = "not-a-uuid";
    m.amount_cents = 10;
    envelope_of(f, "ledger.PaymentAccepted.v1", PASS, &m.base);
    sp_finance_event fe;
    bool mapped = true;
    sp_error err;
    assert_int_equal(sp_finance_map(&f->env, &f->requests, &fe, &mapped, &err), -1);
    assert_string_equal(err.code, "invalid_event");
    m.partner_id = PARTNER;
    m.amount_cents = 0;
    envelope_of(f, "ledger.PaymentAccepted.v1", PASS, &m.base);
    assert_int_equal(sp_finance_map(&f->env, &f->requests, &fe, &mapped, &err), -1);
    f->env.payload.len = 3;
    f->payload[0] = 0xff;
    assert_int_equal(sp_finance_map(&f->env, &f->requests, &fe, &mapped, &err), -1);
}

static void test_registry_is_bounded_and_checked(void **state) {
    fixture *f = *state;
    char id[SP_ID_LEN + 1];
    sp_error err;
    Solipass__Ledger__RefundRequestOpened m = SOLIPASS__LEDGER__REFUND_REQUEST_OPENED__INIT;
    m.partner_id = PARTNER;
    m.kind = "automatic";
    m.period = "2026-13";
    m.request_id = REQUEST;
    envelope_of(f, "ledger.RefundRequestOpened.v1", REQUEST, &m.base);
    assert_int_equal(sp_finance_requests_note(&f->requests, &f->env, &err), -1);
    assert_string_equal(err.code, "invalid_event");
    m.period = "2026-01";
    int rc = 0;
    for (int i = 0; i < 9 && rc == 0; i++) {
        sp_id_new(id);
        m.request_id = id;
        envelope_of(f, "ledger.RefundRequestOpened.v1", id, &m.base);
        rc = sp_finance_requests_note(&f->requests, &f->env, &err);
    }
    assert_int_equal(rc, -1); /* the 9th of a registry of 8 */
    assert_int_not_equal(strcmp(err.code, "invalid_event"), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_payment_by_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_voucher_redemption_is_a_payment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancelled_operation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_request_takes_its_opening, setup, teardown),
        cmocka_unit_test_setup_teardown(test_confirmation_without_opening_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancelled_and_paid_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_events_are_not_published, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_payment_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registry_is_bounded_and_checked, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
