/* test_refund_request.c - the refund-request endpoints' pure checks: a
 * selection by ids or by the listing's filters, the listing's query string
 * and a bank transfer's reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "gateway/routes/refund_request.h"

#define OP_A "6d929103-f39c-4cf2-85ee-7a397f088cf4"
#define OP_B "3c0e7b52-9f1a-4d86-b2a4-7e5d1c9f0a31"
#define PARTNER "712e7401-5e98-4f9c-aa28-3bd6c3216cd9"

static sp_gw_refund_selection *selection_new(void) {
    sp_gw_refund_selection *s = malloc(sizeof *s);
    assert_non_null(s);
    return s;
}

static void expect_refused(const char *body, int status, const char *code, const char *field) {
    sp_gw_refund_selection *s = selection_new();
    sp_error err;
    sp_error_clear(&err);
    if (sp_gw_refund_selection_parse(body, strlen(body), s, &err) != -1 ||
        err.http_status != status || strcmp(err.code, code) != 0 ||
        (field != NULL && strcmp(err.field, field) != 0))
        fail_msg("%s: %d %s %s", body, err.http_status, err.code, err.field);
    free(s);
}

static void test_selection_by_ids(void **state) {
    (void)state;
    sp_gw_refund_selection *s = selection_new();
    sp_error err;
    const char *body = "{\"operation_ids\":[\"" OP_A "\",\"" OP_B "\"]}";
    assert_int_equal(sp_gw_refund_selection_parse(body, strlen(body), s, &err), 0);
    assert_false(s->all);
    assert_int_equal(s->id_count, 2);
    assert_string_equal(s->ids[1], OP_B);
    char *array = malloc(SP_GW_REFUND_IDS_ARRAY_BYTES);
    assert_non_null(array);
    sp_gw_refund_ids_array(s, array);
    assert_string_equal(array, "{" OP_A "," OP_B "}");
    free(array);
    free(s);
}

static void test_selection_by_filters(void **state) {
    (void)state;
    sp_gw_refund_selection *s = selection_new();
    sp_error err;
    const char *body = "{\"all\":true,\"from\":\"2026-11-01\",\"amount_max_cents\":1000,"
                       "\"q\":\"50% & co\"}";
    assert_int_equal(sp_gw_refund_selection_parse(body, strlen(body), s, &err), 0);
    assert_true(s->all);
    assert_string_equal(s->filter.filters.from, "2026-11-01");
    assert_true(s->filter.filters.has_amount_max && s->filter.filters.amount_cents_max == 1000);
    assert_string_equal(s->filter.filters.q, "50% & co"); /* the text survives the encoding */
    assert_string_equal(s->filter.filters.status, "");
    free(s);
}

static void test_selection_refusals(void **state) {
    (void)state;
    expect_refused("[]", 400, "malformed_json", NULL);
    expect_refused("{}", 400, "missing_field", "operation_ids");
    expect_refused("{\"operation_ids\":[\"" OP_A "\"],\"all\":true}", 400, "missing_field", NULL);
    expect_refused("{\"operation_ids\":[\"" OP_A "\"],\"from\":\"2026-11-01\"}", 400,
                   "missing_field", NULL);
    expect_refused("{\"operation_ids\":[]}", 422, "empty_selection", "operation_ids");
    expect_refused("{\"operation_ids\":\"" OP_A "\"}", 400, "invalid_type", "operation_ids");
    expect_refused("{\"operation_ids\":[\"nope\"]}", 400, "invalid_value", "operation_ids");
    expect_refused("{\"operation_ids\":[\"" OP_A "\",\"" OP_A "\"]}", 400, "invalid_value",
                   "operation_ids");
    expect_refused("{\"all\":false}", 400, "invalid_value", "all");
    expect_refused("{\"all\":true,\"status\":\"paid\"}", 400, "unknown_field", "status");
    expect_refused("{\"all\":true,\"from\":\"2026-13-01\"}", 400, "invalid_value", "from");
    expect_refused("{\"all\":true,\"amount_min_cents\":[1]}", 400, "invalid_type",
                   "amount_min_cents");
    expect_refused("{\"all\":true,\"channel\":\"cash\"}", 400, "invalid_value", "channel");
    /* One id more than a request may hold. */
    size_t size = (SP_REFUND_REQUEST_OPERATIONS_MAX + 1) * (SP_ID_LEN + 3) + 32;
    char *body = malloc(size);
    assert_non_null(body);
    size_t used = (size_t)snprintf(body, size, "{\"operation_ids\":[");
    for (int i = 0; i <= SP_REFUND_REQUEST_OPERATIONS_MAX; i++) {
        char id[SP_ID_LEN + 1];
        sp_id_new(id);
        used += (size_t)snprintf(body + used, size - used, "%s\"%s\"", i ? "," : "", id);
    }
    snprintf(body + used, size - used, "]}");
    expect_refused(body, 422, "selection_too_large", "operation_ids");
    free(body);
}

static void test_listing_query(void **state) {
    (void)state;
    sp_gw_refunds_filter f;
    sp_error err;
    assert_int_equal(sp_gw_refunds_filter_parse(NULL, false, &f, &err), 0);
    assert_string_equal(f.status, "");
    assert_int_equal(f.page.limit, SP_GW_PAGE_LIMIT_DEFAULT);
    assert_int_equal(sp_gw_refunds_filter_parse("status=paid&limit=5", false, &f, &err), 0);
    assert_string_equal(f.status, "paid");
    assert_int_equal(f.page.limit, 5);
    assert_int_equal(
        sp_gw_refunds_filter_parse("partner_id=" PARTNER "&status=pending", true, &f, &err), 0);
    assert_string_equal(f.partner_id, PARTNER);
    const struct {
        const char *query;
        bool finance;
        const char *code;
        const char *field;
    } bad[] = {
        {"status=refunded", false, "invalid_value", "status"},
        {"status=paid&status=paid", false, "invalid_value", "status"},
        {"status=pendingpendingpendingpendingpendingpending", false, "invalid_value", "status"},
        {"partner_id=" PARTNER, false, "unknown_field", "partner_id"}, /* a partner sees its own */
        {"partner_id=42", true, "invalid_value", "partner_id"},
        {"limit=0", false, "invalid_value", "limit"},
        {"colour=red", true, "unknown_field", "colour"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sp_error_clear(&err);
        if (sp_gw_refunds_filter_parse(bad[i].query, bad[i].finance, &f, &err) != -1 ||
            strcmp(err.code, bad[i].code) != 0 || strcmp(err.field, bad[i].field) != 0)
            fail_msg("%s: %s %s", bad[i].query, err.code, err.field);
    }
}

static void test_transfer_reference(void **state) {
    (void)state;
    sp_error err;
    assert_int_equal(sp_gw_transfer_reference_check("VIR-2026-0042", &err), 0);
    assert_int_equal(sp_gw_transfer_reference_check("Ref: (12/2026) +a,b.c'd?", &err), 0);
    assert_int_equal(sp_gw_transfer_reference_check("12345678901234567890123456789012345", &err),
                     0);
    const char *bad[] = {"", "VIR_1", "VIR\xc3\xa9", "123456789012345678901234567890123456",
                         "a\tb"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sp_gw_transfer_reference_check(bad[i], &err), -1);
        assert_string_equal(err.code, "invalid_transfer_reference");
        assert_int_equal(err.http_status, 422);
    }
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selection_by_ids),   cmocka_unit_test(test_selection_by_filters),
        cmocka_unit_test(test_selection_refusals), cmocka_unit_test(test_listing_query),
        cmocka_unit_test(test_transfer_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
