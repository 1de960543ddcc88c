/* test_json_limits.c - the depth bound checked before any JSON is parsed:
 * counted outside strings only, refused past the limit with 400 too_deep,
 * and a request body of thousands of nested arrays answered on a thread as
 * small as civetweb's worker (100 KiB of stack) instead of overflowing it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include "gateway/http/json_limits.h"
#include "gateway/endpoints/validate.h"

/* Debian's civetweb builds its worker threads with this stack (CMake's
 * CIVETWEB_THREAD_STACK_SIZE default). */
#define CIVETWEB_STACK_BYTES (100 * 1024)

/* {"email": [[[...]]], "password": "x"} with depth nested arrays; caller frees. */
static char *nested_login(size_t depth, bool closed) {
    size_t cap = 64 + 2 * depth;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t n = (size_t)snprintf(text, cap, "{\"email\": ");
    memset(text + n, '[', depth);
    n += depth;
    if (closed) {
        memset(text + n, ']', depth);
        n += depth;
        n += (size_t)snprintf(text + n, cap - n, ", \"password\": \"x\"}");
    }
    text[n] = '\0';
    return text;
}

static void test_depth_within_the_limit_is_accepted(void **state) {
    (void)state;
    sp_error err;
    const char *flat = "{\"a\": [1, {\"b\": [2]}], \"c\": {}}";
    assert_int_equal(sp_gw_json_depth_check(flat, strlen(flat), 4, &err), 0);
    assert_int_equal(sp_gw_json_depth_check(flat, strlen(flat), 3, &err), -1);
    assert_int_equal(err.http_status, 400);
    assert_string_equal(err.code, "too_deep");
    assert_string_equal(err.field, "");
    assert_int_equal(sp_gw_json_depth_check("", 0, 1, &err), 0);
    /* siblings do not add up: only nesting counts */
    const char *wide = "[[],[],[],[],[],[],[],[]]";
    assert_int_equal(sp_gw_json_depth_check(wide, strlen(wide), 2, &err), 0);
}

static void test_brackets_inside_strings_do_not_count(void **state) {
    (void)state;
    sp_error err;
    const char *quoted = "{\"a\": \"[[[[[[{{{{\", \"b\": \"\\\"[[[[\\\\\"}";
    assert_int_equal(sp_gw_json_depth_check(quoted, strlen(quoted), 1, &err), 0);
    /* an escaped backslash ends before the quote: the string closes there */
    const char *after = "{\"a\": \"\\\\\", \"b\": [[[]]]}";
    assert_int_equal(sp_gw_json_depth_check(after, strlen(after), 3, &err), -1);
    assert_int_equal(sp_gw_json_depth_check(after, strlen(after), 4, &err), 0);
}

static void test_unbalanced_text_is_bounded_too(void **state) {
    (void)state;
    sp_error err;
    char *open_only = nested_login(700, false);
    assert_int_equal(
        sp_gw_json_depth_check(open_only, strlen(open_only), SP_GW_JSON_DEPTH_MAX, &err), -1);
    assert_string_equal(err.code, "too_deep");
    free(open_only);
    /* stray closers never make the count negative and let more opens in */
    const char *closers = "]]]]]]]]]][[[";
    assert_int_equal(sp_gw_json_depth_check(closers, strlen(closers), 2, &err), -1);
}

static void test_the_limit_itself_parses(void **state) {
    (void)state;
    char text[2 * SP_GW_JSON_DEPTH_MAX + 1];
    memset(text, '[', SP_GW_JSON_DEPTH_MAX);
    memset(text + SP_GW_JSON_DEPTH_MAX, ']', SP_GW_JSON_DEPTH_MAX);
    text[2 * SP_GW_JSON_DEPTH_MAX] = '\0';
    json_error_t jerr;
    json_t *root = sp_gw_json_loads(text, 0, &jerr);
    assert_non_null(root);
    json_decref(root);
    /* one more level is refused before jansson sees it */
    char deeper[2 * SP_GW_JSON_DEPTH_MAX + 3];
    snprintf(deeper, sizeof deeper, "[%s]", text);
    assert_null(sp_gw_json_loads(deeper, 0, &jerr));
    assert_int_equal(jerr.line, -1);
    assert_non_null(strstr(jerr.text, "deeper"));
    assert_null(sp_gw_json_loads(NULL, 0, &jerr));
}

typedef struct deep_case {
    size_t depth;
    int rc;
    sp_error err;
} deep_case;

static void *parse_on_small_stack(void *arg) {
    deep_case *c = arg;
    char *body = nested_login(c->depth, true);
    sp_gw_login_req login;
    c->rc = sp_gw_parse_login(body, strlen(body), &login, &c->err);
    free(body);
    return NULL;
}

/* What killed the gateway: jansson recursing once per level on a 100 KiB
 * stack. Without the bound this test dies with SIGSEGV. */
static void test_deep_login_bodies_are_refused_on_a_worker_sized_stack(void **state) {
    (void)state;
    static const size_t depths[] = {100, 700, 2047, 5000};
    for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++) {
        deep_case c = {.depth = depths[i]};
        pthread_attr_t attr;
        assert_int_equal(pthread_attr_init(&attr), 0);
        assert_int_equal(pthread_attr_setstacksize(&attr, CIVETWEB_STACK_BYTES), 0);
        pthread_t thread;
        assert_int_equal(pthread_create(&thread, &attr, parse_on_small_stack, &c), 0);
        assert_int_equal(pthread_join(thread, NULL), 0);
        pthread_attr_destroy(&attr);
        assert_int_equal(c.rc, -1);
        assert_int_equal(c.err.http_status, 400);
        assert_string_equal(c.err.code, "too_deep");
        assert_string_equal(c.err.field, "");
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_depth_within_the_limit_is_accepted),
        cmocka_unit_test(test_brackets_inside_strings_do_not_count),
        cmocka_unit_test(test_unbalanced_text_is_bounded_too),
        cmocka_unit_test(test_the_limit_itself_parses),
        cmocka_unit_test(test_deep_login_bodies_are_refused_on_a_worker_sized_stack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
