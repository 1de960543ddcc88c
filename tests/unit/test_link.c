/* test_link.c - activation and reset link tokens: what the notifications
 * service mails is what the gateway accepts, for that purpose only, and any
 * change to the token or the secret is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "sp_link.h"

#define SECRET "a-secret-of-at-least-thirty-two-bytes-0123456789"
#define OTHER_SECRET "another-secret-of-at-least-thirty-two-bytes-0123"
#define ACTIVATION_ID "3f2c8a4e-9b1d-4c6e-8f00-1a2b3c4d5e6f"

static void test_made_token_checks(void **state) {
    (void)state;
    char token[SP_LINK_TOKEN_LEN + 1];
    sp_link_token_make(SECRET, ACTIVATION_ID, "activation", token);
    assert_int_equal(strlen(token), SP_LINK_TOKEN_LEN);
    assert_memory_equal(token, ACTIVATION_ID, SP_ID_LEN);
    for (const char *p = token; *p != '\0'; p++)
        assert_non_null(
            strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", *p));
    char id[SP_ID_LEN + 1];
    sp_error err;
    assert_int_equal(sp_link_token_check(SECRET, token, "activation", id, &err), 0);
    assert_string_equal(id, ACTIVATION_ID);
}

static void test_forged_tokens_refused(void **state) {
    (void)state;
    char token[SP_LINK_TOKEN_LEN + 1];
    sp_link_token_make(SECRET, ACTIVATION_ID, "activation", token);
    char id[SP_ID_LEN + 1];
    sp_error err;
    /* another purpose, another secret */
    assert_int_equal(sp_link_token_check(SECRET, token, "reset", id, &err), -1);
    assert_string_equal(err.code, "invalid_token");
    assert_int_equal(err.http_status, 400);
    assert_string_equal(id, "");
    assert_int_equal(sp_link_token_check(OTHER_SECRET, token, "activation", id, &err), -1);
    /* one character changed anywhere */
    for (size_t i = 0; i < SP_LINK_TOKEN_LEN; i++) {
        char changed[SP_LINK_TOKEN_LEN + 1];
        memcpy(changed, token, sizeof changed);
        changed[i] = changed[i] == 'A' ? 'B' : 'A';
        assert_int_equal(sp_link_token_check(SECRET, changed, "activation", id, &err), -1);
    }
    /* cut, lengthened, empty */
    char shorter[SP_LINK_TOKEN_LEN + 1];
    memcpy(shorter, token, sizeof shorter);
    shorter[SP_LINK_TOKEN_LEN - 1] = '\0';
    assert_int_equal(sp_link_token_check(SECRET, shorter, "activation", id, &err), -1);
    char longer[SP_LINK_TOKEN_LEN + 2];
    snprintf(longer, sizeof longer, "%sA", token);
    assert_int_equal(sp_link_token_check(SECRET, longer, "activation", id, &err), -1);
    assert_int_equal(sp_link_token_check(SECRET, "", "activation", id, &err), -1);
}

static void test_secret_length(void **state) {
    (void)state;
    assert_true(sp_link_secret_valid(SECRET));
    assert_false(sp_link_secret_valid("short"));
    assert_false(sp_link_secret_valid(""));
    assert_false(sp_link_secret_valid(NULL));
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_made_token_checks),
        cmocka_unit_test(test_forged_tokens_refused),
        cmocka_unit_test(test_secret_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
