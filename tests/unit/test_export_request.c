/* test_export_request.c - what a partner export asks for: its kind, the
 * operations listing's filters given as JSON (the same checks as the query
 * form, 422 naming filters.<name>), the refund requests' filters, the
 * canonical filters recorded, and the export id a key stands for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gateway/routes/export_request.h"

static int parse(const char *body, sp_export_request *out, sp_error *err) {
    sp_error_clear(err);
    return sp_gw_export_request_parse(body, strlen(body), out, err);
}

static char *filters_text(const sp_export_request *request) {
    json_t *filters = sp_export_filters_json(request);
    assert_non_null(filters);
    char *text = json_dumps(filters, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(filters);
    return text;
}

static void test_operations_filters_as_json(void **state) {
    (void)state;
    sp_export_request r;
    sp_error err;
    assert_int_equal(parse("{\"kind\":\"operations\",\"filters\":{\"from\":\"2026-03-01\","
                           "\"to\":\"2026-03-31\",\"status\":\"accepted\",\"channel\":\"code\","
                           "\"amount_min_cents\":0,\"amount_max_cents\":2500,"
                           "\"reference\":\"\",\"q\":\"50%_off\",\"colour\":null}}",
                           &r, &err),
                     0);
    assert_int_equal(r.kind, SP_EXPORT_OPERATIONS);
    assert_string_equal(r.operations.from, "2026-03-01");
    assert_true(r.operations.has_amount_min && r.operations.amount_cents_min == 0);
    assert_true(r.operations.has_reference);
    assert_string_equal(r.operations.q_pattern, "50\\%\\_off");
    char *text = filters_text(&r);
    assert_string_equal(text, "{\"amount_max_cents\":2500,\"amount_min_cents\":0,"
                              "\"channel\":\"code\",\"from\":\"2026-03-01\",\"q\":\"50%_off\","
                              "\"reference\":\"\",\"status\":\"accepted\",\"to\":\"2026-03-31\"}");
    free(text);
    /* No filters at all: every operation. */
    assert_int_equal(parse("{\"kind\":\"operations\"}", &r, &err), 0);
    text = filters_text(&r);
    assert_string_equal(text, "{}");
    free(text);
}

static void test_operations_filters_refused_like_the_listing(void **state) {
    (void)state;
    const struct {
        const char *filters;
        const char *field;
    } bad[] = {
        {"{\"status\":\"refunded\"}", "filters.status"},
        {"{\"channel\":\"cash\"}", "filters.channel"},
        {"{\"from\":\"2026-13-01\"}", "filters.from"},
        {"{\"amount_min_cents\":-1}", "filters.amount_min_cents"},
        {"{\"amount_min_cents\":\"5\"}", "filters.amount_min_cents"},
        {"{\"amount_max_cents\":1.5}", "filters.amount_max_cents"},
        {"{\"amount_min_cents\":9,\"amount_max_cents\":1}", "filters.amount_min_cents"},
        {"{\"from\":\"2026-03-02\",\"to\":\"2026-03-01\"}", "filters.from"},
        {"{\"q\":\"a\\nb\"}", "filters.q"},
        {"{\"reference\":7}", "filters.reference"},
        {"{\"limit\":5}", "filters.limit"},
        {"{\"colour\":\"red\"}", "filters.colour"},
        {"[]", "filters"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"kind\":\"operations\",\"filters\":%s}", bad[i].filters);
        sp_export_request r;
        sp_error err;
        assert_int_equal(parse(body, &r, &err), -1);
        if (err.http_status != 422 || strcmp(err.code, "invalid_filter") != 0 ||
            strcmp(err.field, bad[i].field) != 0) {
            fail_msg("%s: %d %s %s", body, err.http_status, err.code, err.field);
        }
    }
}

static void test_refund_filters(void **state) {
    (void)state;
    sp_export_request r;
    sp_error err;
    assert_int_equal(parse("{\"kind\":\"refund_requests\",\"filters\":{\"from\":\"2026-11-01\","
                           "\"status\":\"pending\",\"kind\":\"automatic\"}}",
                           &r, &err),
                     0);
    assert_int_equal(r.kind, SP_EXPORT_REFUND_REQUESTS);
    const char *params[SP_EXPORT_REFUND_FILTER_PARAMS];
    sp_export_refund_filter_params(&r.refunds, params);
    assert_string_equal(params[0], "2026-11-01");
    assert_null(params[1]);
    assert_string_equal(params[2], "pending");
    assert_string_equal(params[3], "automatic");
    char *text = filters_text(&r);
    assert_string_equal(text,
                        "{\"from\":\"2026-11-01\",\"kind\":\"automatic\",\"status\":\"pending\"}");
    free(text);
    const struct {
        const char *body;
        const char *field;
    } bad[] = {
        {"{\"kind\":\"refund_requests\",\"filters\":{\"status\":\"accepted\"}}", "filters.status"},
        {"{\"kind\":\"refund_requests\",\"filters\":{\"kind\":\"monthly\"}}", "filters.kind"},
        {"{\"kind\":\"refund_requests\",\"filters\":{\"to\":\"2026-02-30\"}}", "filters.to"},
        {"{\"kind\":\"refund_requests\",\"filters\":{\"channel\":\"code\"}}", "filters.channel"},
        {"{\"kind\":\"refund_requests\",\"filters\":"
         "{\"from\":\"2026-11-02\",\"to\":\"2026-11-01\"}}",
         "filters.from"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse(bad[i].body, &r, &err), -1);
        assert_int_equal(err.http_status, 422);
        assert_string_equal(err.field, bad[i].field);
    }
}

static void test_body_errors(void **state) {
    (void)state;
    sp_export_request r;
    sp_error err;
    assert_int_equal(parse("not json", &r, &err), -1);
    assert_string_equal(err.code, "malformed_json");
    assert_int_equal(parse("{}", &r, &err), -1);
    assert_string_equal(err.code, "missing_field");
    assert_string_equal(err.field, "kind");
    assert_int_equal(parse("{\"kind\":\"vouchers\"}", &r, &err), -1);
    assert_string_equal(err.code, "invalid_value");
    assert_string_equal(err.field, "kind");
    assert_int_equal(parse("{\"kind\":\"operations\",\"format\":\"xlsx\"}", &r, &err), -1);
    assert_string_equal(err.code, "unknown_field");
    assert_int_equal(parse("{\"kind\":\"operations\",\"kind\":\"operations\"}", &r, &err), -1);
    assert_string_equal(err.code, "malformed_json");
}

static void test_export_id_of_a_key(void **state) {
    (void)state;
    const char *user = "6d929103-f39c-4cf2-85ee-7a397f088cf4";
    char a[SP_ID_LEN + 1], b[SP_ID_LEN + 1], c[SP_ID_LEN + 1];
    sp_export_id_of(user, "key-1", a);
    sp_export_id_of(user, "key-1", b);
    sp_export_id_of(user, "key-2", c);
    assert_true(sp_id_valid(a));
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    sp_export_id_of("712e7401-5e98-4f9c-aa28-3bd6c3216cd9", "key-1", c);
    assert_string_not_equal(a, c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_operations_filters_as_json),
        cmocka_unit_test(test_operations_filters_refused_like_the_listing),
        cmocka_unit_test(test_refund_filters),
        cmocka_unit_test(test_body_errors),
        cmocka_unit_test(test_export_id_of_a_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
