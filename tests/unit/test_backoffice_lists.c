/* test_backoffice_lists.c - the back-office lists' query strings (the
 * beneficiaries', the partners') and their cursors: what is accepted, what
 * is refused and with which field, and a cursor that goes back only to the
 * list it came from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "gateway/routes/backoffice_lists.h"

#define USER_A "6d929103-f39c-4cf2-85ee-7a397f088cf4"
#define PARTNER_A "712e7401-5e98-4f9c-aa28-3bd6c3216cd9"

static void expect_beneficiaries_refused(const char *query, int status, const char *code,
                                         const char *field) {
    sp_gw_beneficiaries_query q;
    sp_error err;
    sp_error_clear(&err);
    if (sp_gw_beneficiaries_query_parse(query, &q, &err) != -1 || err.http_status != status ||
        strcmp(err.code, code) != 0 || strcmp(err.field, field) != 0)
        fail_msg("%s: %d %s %s", query, err.http_status, err.code, err.field);
}

static void expect_partners_refused(const char *query, const char *code, const char *field) {
    sp_gw_partners_query q;
    sp_error err;
    sp_error_clear(&err);
    if (sp_gw_partners_query_parse(query, &q, &err) != -1 || err.http_status != 400 ||
        strcmp(err.code, code) != 0 || strcmp(err.field, field) != 0)
        fail_msg("%s: %d %s %s", query, err.http_status, err.code, err.field);
}

static void test_beneficiaries_defaults(void **state) {
    (void)state;
    sp_gw_beneficiaries_query q;
    sp_error err;
    assert_int_equal(sp_gw_beneficiaries_query_parse(NULL, &q, &err), 0);
    assert_int_equal(q.page.limit, SP_GW_BENEFICIARIES_LIMIT_DEFAULT);
    assert_false(q.page.has_cursor);
    assert_string_equal(q.search.q, "");
    assert_string_equal(q.status, "");
    assert_string_equal(q.category, "");
    assert_int_equal(sp_gw_beneficiaries_query_parse("", &q, &err), 0);
    assert_int_equal(q.page.limit, 50);
}

static void test_beneficiaries_filters(void **state) {
    (void)state;
    sp_gw_beneficiaries_query q;
    sp_error err;
    assert_int_equal(sp_gw_beneficiaries_query_parse(
                         "q=Mar%C3%AFe+du_50%25&status=closed&category=food&limit=100", &q, &err),
                     0);
    assert_string_equal(q.search.q, "Mar\xc3\xaf"
                                    "e du_50%");
    /* LIKE's wildcards typed by a person are searched as themselves. */
    assert_string_equal(q.search.q_pattern, "Mar\xc3\xaf"
                                            "e du\\_50\\%");
    assert_string_equal(q.status, "closed");
    assert_string_equal(q.category, "food");
    assert_int_equal(q.page.limit, 100);
    assert_int_equal(sp_gw_beneficiaries_query_parse("status=open&limit=1", &q, &err), 0);
    assert_string_equal(q.status, "open");
    assert_int_equal(q.page.limit, 1);
    /* "all" is no filter at all. */
    assert_int_equal(sp_gw_beneficiaries_query_parse("status=all&category=general", &q, &err), 0);
    assert_string_equal(q.status, "");
    assert_string_equal(q.category, "general");
}

static void test_beneficiaries_refusals(void **state) {
    (void)state;
    expect_beneficiaries_refused("limit=0", 400, "invalid_value", "limit");
    expect_beneficiaries_refused("limit=101", 400, "invalid_value", "limit");
    expect_beneficiaries_refused("limit=5&limit=6", 400, "invalid_value", "limit");
    expect_beneficiaries_refused("limit=x", 400, "invalid_value", "limit");
    expect_beneficiaries_refused("status=gone", 400, "invalid_value", "status");
    expect_beneficiaries_refused("status=open&status=open", 400, "invalid_value", "status");
    expect_beneficiaries_refused("status=openopenopen", 400, "invalid_value", "status");
    expect_beneficiaries_refused("category=Food", 422, "invalid_category", "category");
    expect_beneficiaries_refused("category=food&category=sport", 400, "invalid_value", "category");
    expect_beneficiaries_refused("q=a&q=b", 400, "invalid_value", "q");
    expect_beneficiaries_refused("q=%ZZ", 400, "invalid_value", "q");
    expect_beneficiaries_refused("q=a%00b", 400, "invalid_value", "q");
    expect_beneficiaries_refused("state=owed", 400, "unknown_field", "state");
    expect_beneficiaries_refused("colour=red", 400, "unknown_field", "colour");
    expect_beneficiaries_refused("cursor=abc", 400, "invalid_value", "cursor");
    char long_q[400] = "q=";
    memset(long_q + 2, 'a', 101);
    expect_beneficiaries_refused(long_q, 400, "invalid_value", "q");
    memset(long_q + 2, 'a', 100);
    long_q[102] = '\0';
    sp_gw_beneficiaries_query q;
    sp_error err;
    assert_int_equal(sp_gw_beneficiaries_query_parse(long_q, &q, &err), 0);
}

static void test_partners_query(void **state) {
    (void)state;
    sp_gw_partners_query q;
    sp_error err;
    assert_int_equal(sp_gw_partners_query_parse(NULL, &q, &err), 0);
    assert_int_equal(q.page.limit, SP_GW_PARTNERS_LIMIT_DEFAULT);
    assert_string_equal(q.state, "");
    const char *states[] = {"not_activated", "convention_pending", "bank_details_missing", "owed"};
    for (size_t i = 0; i < 4; i++) {
        char query[64];
        snprintf(query, sizeof query, "state=%s&limit=500&q=club", states[i]);
        assert_int_equal(sp_gw_partners_query_parse(query, &q, &err), 0);
        assert_string_equal(q.state, states[i]);
        assert_int_equal(q.page.limit, 500);
        assert_string_equal(q.search.q, "club");
    }
    expect_partners_refused("limit=501", "invalid_value", "limit");
    expect_partners_refused("state=owing", "invalid_value", "state");
    expect_partners_refused("state=owed&state=owed", "invalid_value", "state");
    expect_partners_refused("status=open", "unknown_field", "status");
    expect_partners_refused("category=food", "unknown_field", "category");
}

static void test_cursor_goes_back_to_its_own_list(void **state) {
    (void)state;
    char cursor[SP_GW_CURSOR_LEN_MAX + 1], query[2 * SP_GW_CURSOR_LEN_MAX + 32];
    sp_gw_beneficiaries_query b;
    sp_gw_partners_query p;
    sp_error err;
    sp_gw_list_cursor_encode(SP_GW_LIST_BENEFICIARIES, USER_A, cursor);
    snprintf(query, sizeof query, "cursor=%s&limit=2", cursor);
    assert_int_equal(sp_gw_beneficiaries_query_parse(query, &b, &err), 0);
    assert_true(b.page.has_cursor);
    assert_string_equal(b.page.after_id, USER_A);
    assert_int_equal(b.page.limit, 2);
    /* Another list's cursor, or the operations', names no row here. */
    expect_partners_refused(query, "invalid_value", "cursor");
    sp_gw_list_cursor_encode(SP_GW_LIST_PARTNERS, PARTNER_A, cursor);
    snprintf(query, sizeof query, "cursor=%s", cursor);
    assert_int_equal(sp_gw_partners_query_parse(query, &p, &err), 0);
    assert_string_equal(p.page.after_id, PARTNER_A);
    expect_beneficiaries_refused(query, 400, "invalid_value", "cursor");
    sp_gw_cursor_encode(1764230400000, USER_A, cursor);
    snprintf(query, sizeof query, "cursor=%s", cursor);
    expect_beneficiaries_refused(query, 400, "invalid_value", "cursor");
    /* Given twice, cut, or one character changed: refused. */
    sp_gw_list_cursor_encode(SP_GW_LIST_BENEFICIARIES, USER_A, cursor);
    snprintf(query, sizeof query, "cursor=%s&cursor=%s", cursor, cursor);
    expect_beneficiaries_refused(query, 400, "invalid_value", "cursor");
    snprintf(query, sizeof query, "cursor=%.20s", cursor);
    expect_beneficiaries_refused(query, 400, "invalid_value", "cursor");
    snprintf(query, sizeof query, "cursor=%s", cursor);
    query[7] = query[7] == 'A' ? 'B' : 'A';
    expect_beneficiaries_refused(query, 400, "invalid_value", "cursor");
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_beneficiaries_defaults),
        cmocka_unit_test(test_beneficiaries_filters),
        cmocka_unit_test(test_beneficiaries_refusals),
        cmocka_unit_test(test_partners_query),
        cmocka_unit_test(test_cursor_goes_back_to_its_own_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
