/* test_session_cookie.c - which credential a request carries, the
 * sp_session cookie among others, the Origin check, SP_PUBLIC_URL's form
 * and the Set-Cookie text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "gateway/http/session_cookie.h"

#define TOKEN "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_01234" /* 43 characters */

static void test_the_cookie_is_found_among_others(void **state) {
    (void)state;
    char token[SP_TOKEN_LEN + 1];
    bool present = false;
    assert_int_equal(strlen(TOKEN), SP_TOKEN_LEN);
    assert_true(sp_gw_cookie_token("sp_session=" TOKEN, token, &present));
    assert_true(present);
    assert_string_equal(token, TOKEN);
    assert_true(sp_gw_cookie_token("theme=dark; sp_session=" TOKEN "; lang=fr", token, &present));
    assert_string_equal(token, TOKEN);
    assert_true(sp_gw_cookie_token("a=1;sp_session=\"" TOKEN "\"", token, &present));
    assert_string_equal(token, TOKEN);
    /* A cookie whose name only ends or starts like ours is another one. */
    assert_false(sp_gw_cookie_token("xsp_session=" TOKEN "; sp_sessionx=" TOKEN, token, &present));
    assert_false(present);
    assert_string_equal(token, "");
    assert_false(sp_gw_cookie_token(NULL, token, &present));
    assert_false(present);
    assert_false(sp_gw_cookie_token("", token, &present));
    assert_false(sp_gw_cookie_token("a=1; b", token, &present));
    assert_false(present);
}

static void test_a_malformed_cookie_is_present_but_gives_no_token(void **state) {
    (void)state;
    char token[SP_TOKEN_LEN + 1];
    bool present = false;
    const char *bad[] = {"sp_session=", "sp_session=short", "sp_session=" TOKEN "x",
                         "sp_session=abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_0123;",
                         "sp_session=abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_0123%"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(sp_gw_cookie_token(bad[i], token, &present));
        assert_true(present);
        assert_string_equal(token, "");
    }
    /* The first sp_session counts, as a browser sends the most specific first. */
    assert_false(sp_gw_cookie_token("sp_session=bad; sp_session=" TOKEN, token, &present));
    assert_true(present);
}

static void test_the_header_and_the_cookie_count_are_bounded(void **state) {
    (void)state;
    char token[SP_TOKEN_LEN + 1];
    bool present = false;
    char header[SP_GW_COOKIE_HEADER_LEN_MAX + 64];
    size_t len = 0;
    for (size_t i = 0; i < SP_GW_COOKIES_MAX; i++)
        len += (size_t)sprintf(header + len, "c%zu=1; ", i);
    sprintf(header + len, "sp_session=" TOKEN);
    assert_false(sp_gw_cookie_token(header, token, &present)); /* past the 64th */
    assert_false(present);
    memset(header, 'a', sizeof header);
    memcpy(header, "sp_session=" TOKEN "; z=", strlen("sp_session=" TOKEN "; z="));
    header[SP_GW_COOKIE_HEADER_LEN_MAX + 1] = '\0'; /* one byte too long */
    assert_false(sp_gw_cookie_token(header, token, &present));
    header[SP_GW_COOKIE_HEADER_LEN_MAX] = '\0';
    assert_true(sp_gw_cookie_token(header, token, &present));
}

static void test_the_authorization_header_wins_over_the_cookie(void **state) {
    (void)state;
    char token[SP_TOKEN_LEN + 1];
    assert_int_equal(sp_gw_credential_of("Bearer x", "sp_session=" TOKEN, token),
                     SP_GW_CREDENTIAL_BEARER);
    assert_int_equal(sp_gw_credential_of("", "sp_session=" TOKEN, token), SP_GW_CREDENTIAL_BEARER);
    assert_int_equal(sp_gw_credential_of(NULL, "sp_session=" TOKEN, token),
                     SP_GW_CREDENTIAL_COOKIE);
    assert_string_equal(token, TOKEN);
    assert_int_equal(sp_gw_credential_of(NULL, "sp_session=x", token), SP_GW_CREDENTIAL_COOKIE);
    assert_string_equal(token, "");
    assert_int_equal(sp_gw_credential_of(NULL, "other=1", token), SP_GW_CREDENTIAL_NONE);
    assert_int_equal(sp_gw_credential_of(NULL, NULL, token), SP_GW_CREDENTIAL_NONE);
}

static void test_only_the_public_origin_may_change_something(void **state) {
    (void)state;
    sp_error err;
    assert_true(sp_gw_method_unsafe("POST"));
    assert_true(sp_gw_method_unsafe("DELETE"));
    assert_true(sp_gw_method_unsafe("PATCH"));
    assert_false(sp_gw_method_unsafe("GET"));
    assert_false(sp_gw_method_unsafe("HEAD"));
    assert_int_equal(sp_gw_origin_check("https://pass.ville.fr", "https://pass.ville.fr", &err), 0);
    const char *bad[] = {"https://pass.ville.fr/",
                         "http://pass.ville.fr",
                         "null",
                         "",
                         "https://pass.ville.fr.evil.example",
                         "HTTPS://PASS.VILLE.FR",
                         "https://pass.ville.fr:443"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sp_gw_origin_check(bad[i], "https://pass.ville.fr", &err), -1);
        assert_int_equal(err.http_status, 403);
        assert_string_equal(err.code, "bad_origin");
        assert_string_equal(err.field, "Origin");
    }
    assert_int_equal(sp_gw_origin_check(NULL, "https://pass.ville.fr", &err), -1);
    assert_string_equal(err.code, "bad_origin");
}

static void test_the_public_url_is_an_origin(void **state) {
    (void)state;
    sp_error err;
    const char *good[] = {"http://127.0.0.1:8080", "https://pass.ville.fr",
                          "https://pass-solidarite.ville.fr:8443", "http://[::1]:8080",
                          "http://localhost"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(sp_gw_public_url_check(good[i], &err), 0);
    }
    const char *bad[] = {"",
                         "pass.ville.fr",
                         "https://pass.ville.fr/",
                         "https://pass.ville.fr/app",
                         "https://Pass.ville.fr",
                         "ftp://pass.ville.fr",
                         "https://",
                         "https://:80",
                         "https://pass.ville.fr:443",
                         "http://pass.ville.fr:80",
                         "https://pass.ville.fr:0",
                         "https://pass.ville.fr:65536",
                         "https://pass.ville.fr:08080",
                         "https://user@pass.ville.fr",
                         "https://pass.ville.fr?x=1",
                         "https://.ville.fr",
                         "http://[]:80",
                         "https://pass.ville.fr:"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sp_gw_public_url_check(bad[i], &err), -1);
        assert_string_equal(err.field, "SP_PUBLIC_URL");
    }
    char longest[SP_GW_PUBLIC_URL_LEN_MAX + 2];
    memset(longest, 'a', sizeof longest);
    memcpy(longest, "https://", 8);
    longest[SP_GW_PUBLIC_URL_LEN_MAX] = '\0';
    assert_int_equal(sp_gw_public_url_check(longest, &err), 0);
    longest[SP_GW_PUBLIC_URL_LEN_MAX] = 'a';
    longest[SP_GW_PUBLIC_URL_LEN_MAX + 1] = '\0';
    assert_int_equal(sp_gw_public_url_check(longest, &err), -1);
    assert_true(sp_gw_public_url_secure("https://pass.ville.fr"));
    assert_false(sp_gw_public_url_secure("http://127.0.0.1:8080"));
}

static void test_the_set_cookie_text(void **state) {
    (void)state;
    char out[SP_GW_SET_COOKIE_LEN_MAX + 1];
    sp_gw_set_cookie_format(TOKEN, 43200, false, out);
    assert_string_equal(out,
                        "sp_session=" TOKEN "; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200");
    sp_gw_set_cookie_format(TOKEN, 2678400, true, out);
    assert_string_equal(out, "sp_session=" TOKEN
                             "; Path=/; HttpOnly; SameSite=Strict; Max-Age=2678400; Secure");
    sp_gw_set_cookie_format("", 0, false, out);
    assert_string_equal(out, "sp_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_cookie_is_found_among_others),
        cmocka_unit_test(test_a_malformed_cookie_is_present_but_gives_no_token),
        cmocka_unit_test(test_the_header_and_the_cookie_count_are_bounded),
        cmocka_unit_test(test_the_authorization_header_wins_over_the_cookie),
        cmocka_unit_test(test_only_the_public_origin_may_change_something),
        cmocka_unit_test(test_the_public_url_is_an_origin),
        cmocka_unit_test(test_the_set_cookie_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
