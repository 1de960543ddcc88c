/* test_web_files.c - which file answers a path (and which paths are
 * refused before any file is touched), Accept-Encoding with q-values,
 * ETags, the security headers and the print stylesheets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "gateway/web/web_files.h"

#define ALL_APPS (SP_GW_WEB_APP_PARTENAIRE | SP_GW_WEB_APP_BENEFICIAIRE | SP_GW_WEB_APP_BACKOFFICE)

static sp_gw_web_target route_file(const char *path, unsigned apps) {
    sp_gw_web_target t;
    assert_int_equal(sp_gw_web_route("GET", path, apps, &t), SP_GW_WEB_FILE);
    return t;
}

static void test_the_home_and_the_apps_are_index_pages(void **state) {
    (void)state;
    sp_gw_web_target t = route_file("/", 0);
    assert_string_equal(t.file, "index.html");
    assert_string_equal(t.content_type, "text/html; charset=utf-8");
    assert_int_equal(t.cache, SP_GW_WEB_NO_CACHE);
    assert_true(t.document);
    assert_false(t.precompressed);
    const char *partner[] = {"/partenaire",     "/partenaire/", "/partenaire/operations/42",
                             "/partenaire/a.b", "/activate",    "/reset-password",
                             "/activate/x"};
    for (size_t i = 0; i < sizeof partner / sizeof partner[0]; i++) {
        t = route_file(partner[i], SP_GW_WEB_APP_PARTENAIRE);
        assert_string_equal(t.file, "partenaire/index.html");
        assert_true(t.document);
    }
    assert_string_equal(route_file("/backoffice/passes", ALL_APPS).file, "backoffice/index.html");
    assert_string_equal(route_file("/beneficiaire", ALL_APPS).file, "beneficiaire/index.html");
    /* An app that is not built is not there. */
    assert_int_equal(sp_gw_web_route("GET", "/partenaire", SP_GW_WEB_APP_BACKOFFICE, &t),
                     SP_GW_WEB_NOT_FOUND);
    assert_int_equal(sp_gw_web_route("GET", "/activate", 0, &t), SP_GW_WEB_NOT_FOUND);
    /* The QR code's link: the beneficiary app, or the home page without it. */
    assert_string_equal(route_file("/payer/12345674", ALL_APPS).file, "beneficiaire/index.html");
    assert_string_equal(route_file("/payer/12345674", SP_GW_WEB_APP_PARTENAIRE).file, "index.html");
    assert_int_equal(sp_gw_web_route("HEAD", "/", 0, &t), SP_GW_WEB_FILE);
}

static void test_assets_are_immutable_and_typed_by_extension(void **state) {
    (void)state;
    sp_gw_web_target t = route_file("/assets/main-5XK2QJ3A.js", 0);
    assert_string_equal(t.file, "assets/main-5XK2QJ3A.js");
    assert_string_equal(t.content_type, "text/javascript; charset=utf-8");
    assert_int_equal(t.cache, SP_GW_WEB_IMMUTABLE);
    assert_true(t.precompressed);
    assert_false(t.document);
    const struct {
        const char *path;
        const char *type;
    } types[] = {
        {"/assets/a-1.css", "text/css; charset=utf-8"},
        {"/assets/a-1.svg", "image/svg+xml"},
        {"/assets/a-1.png", "image/png"},
        {"/assets/a-1.woff2", "font/woff2"},
        {"/assets/a-1.json", "application/json"},
        {"/assets/a-1.map", "application/json"},
        {"/assets/a-1.webmanifest", "application/manifest+json"},
        {"/assets/a-1.ico", "image/x-icon"},
        {"/assets/a-1.txt", "text/plain; charset=utf-8"},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        assert_string_equal(route_file(types[i].path, 0).content_type, types[i].type);
    }
    assert_true(route_file("/assets/a-1.svg", 0).document);
    const char *unknown[] = {"/assets/a-1.exe",    "/assets/a-1.js.gz",  "/assets/a-1.js.br",
                             "/assets/noext",      "/assets/",           "/assets",
                             "/assets/.hidden.js", "/assets/sub/a-1.js", "/assets/a b.js",
                             "/assets/a%20b.js"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        sp_gw_web_target u;
        assert_int_equal(sp_gw_web_route("GET", unknown[i], ALL_APPS, &u), SP_GW_WEB_NOT_FOUND);
    }
}

static void test_root_files_and_the_rest(void **state) {
    (void)state;
    sp_gw_web_target t = route_file("/favicon.ico", 0);
    assert_string_equal(t.file, "favicon.ico");
    assert_int_equal(t.cache, SP_GW_WEB_NO_CACHE);
    assert_string_equal(route_file("/manifest.webmanifest", 0).content_type,
                        "application/manifest+json");
    assert_string_equal(route_file("/sw.js", 0).file, "sw.js");
    assert_string_equal(route_file("/robots.txt", 0).file, "robots.txt");
    const char *none[] = {"/nowhere", "/partenairex", "/index.html/x", "/robots",
                          "/a.exe",   "/payerx/1",    "/.env"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        assert_int_equal(sp_gw_web_route("GET", none[i], ALL_APPS, &t), SP_GW_WEB_NOT_FOUND);
    }
}

static void test_the_api_is_not_a_page(void **state) {
    (void)state;
    sp_gw_web_target t;
    const char *api[] = {"/api", "/api/", "/api/v1/me", "/api/v1/../x", "/healthz", "/metrics"};
    for (size_t i = 0; i < sizeof api / sizeof api[0]; i++) {
        assert_int_equal(sp_gw_web_route("POST", api[i], ALL_APPS, &t), SP_GW_WEB_API);
    }
    assert_int_equal(sp_gw_web_route("GET", "/apix", ALL_APPS, &t), SP_GW_WEB_NOT_FOUND);
    assert_int_equal(sp_gw_web_route("GET", "/healthz/x", ALL_APPS, &t), SP_GW_WEB_NOT_FOUND);
    assert_int_equal(sp_gw_web_route("POST", "/partenaire", ALL_APPS, &t), SP_GW_WEB_METHOD);
    assert_int_equal(sp_gw_web_route("DELETE", "/", ALL_APPS, &t), SP_GW_WEB_METHOD);
}

static void test_traversal_and_odd_paths_are_refused(void **state) {
    (void)state;
    sp_gw_web_target t;
    const char *refused[] = {"",
                             "partenaire",
                             "/..",
                             "/../etc/passwd",
                             "/assets/../index.html",
                             "/assets/./a-1.js",
                             "/partenaire/../../x",
                             "/partenaire/..",
                             "/partenaire/.",
                             "//",
                             "//assets/a-1.js",
                             "/assets//a-1.js",
                             "/assets\\a-1.js",
                             "/partenaire/%2e%2e/x",
                             "/partenaire/%2E%2e",
                             "/partenaire/a%2fb",
                             "/partenaire/a%2Fb",
                             "/partenaire/a%5Cb",
                             "/partenaire/a%00",
                             "/partenaire/\x01",
                             "/partenaire/\x7f",
                             "/partenaire/a\tb"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        assert_int_equal(sp_gw_web_route("GET", refused[i], ALL_APPS, &t), SP_GW_WEB_NOT_FOUND);
        assert_string_equal(t.file, "");
    }
    /* Other encodings in a client route are the app's business. */
    assert_int_equal(sp_gw_web_route("GET", "/partenaire/op%C3%A9rations", ALL_APPS, &t),
                     SP_GW_WEB_FILE);
    char long_path[SP_GW_WEB_PATH_LEN_MAX + 2];
    memset(long_path, 'a', sizeof long_path);
    memcpy(long_path, "/partenaire/", 12);
    long_path[SP_GW_WEB_PATH_LEN_MAX] = '\0';
    assert_int_equal(sp_gw_web_route("GET", long_path, ALL_APPS, &t), SP_GW_WEB_FILE);
    long_path[SP_GW_WEB_PATH_LEN_MAX] = 'a';
    long_path[SP_GW_WEB_PATH_LEN_MAX + 1] = '\0';
    assert_int_equal(sp_gw_web_route("GET", long_path, ALL_APPS, &t), SP_GW_WEB_NOT_FOUND);
    char long_name[SP_GW_WEB_NAME_LEN_MAX + 16];
    snprintf(long_name, sizeof long_name, "/assets/%0*d.js", SP_GW_WEB_NAME_LEN_MAX - 3, 0);
    assert_int_equal(sp_gw_web_route("GET", long_name, 0, &t), SP_GW_WEB_FILE);
    snprintf(long_name, sizeof long_name, "/assets/%0*d.js", SP_GW_WEB_NAME_LEN_MAX - 2, 0);
    assert_int_equal(sp_gw_web_route("GET", long_name, 0, &t), SP_GW_WEB_NOT_FOUND);
}

static void test_accept_encoding_follows_q_values(void **state) {
    (void)state;
    const unsigned both = SP_GW_ENCODING_BR | SP_GW_ENCODING_GZIP;
    assert_int_equal(sp_gw_accept_encoding(NULL), 0);
    assert_int_equal(sp_gw_accept_encoding(""), 0);
    assert_int_equal(sp_gw_accept_encoding("identity"), 0);
    assert_int_equal(sp_gw_accept_encoding("gzip, deflate, br"), both);
    assert_int_equal(sp_gw_accept_encoding("gzip, deflate"), SP_GW_ENCODING_GZIP);
    assert_int_equal(sp_gw_accept_encoding("GZIP;Q=0.5"), SP_GW_ENCODING_GZIP);
    assert_int_equal(sp_gw_accept_encoding("x-gzip"), SP_GW_ENCODING_GZIP);
    assert_int_equal(sp_gw_accept_encoding("br;q=1.0, gzip;q=0"), SP_GW_ENCODING_BR);
    assert_int_equal(sp_gw_accept_encoding("gzip;q=0.000, br;q=0.0"), 0);
    assert_int_equal(sp_gw_accept_encoding("gzip; q=0.001"), SP_GW_ENCODING_GZIP);
    assert_int_equal(sp_gw_accept_encoding("*"), both);
    assert_int_equal(sp_gw_accept_encoding("br;q=0, *"), SP_GW_ENCODING_GZIP);
    assert_int_equal(sp_gw_accept_encoding("*;q=0, gzip"), SP_GW_ENCODING_GZIP);
    /* Malformed q-values allow nothing. */
    assert_int_equal(sp_gw_accept_encoding("gzip;q=2"), 0);
    assert_int_equal(sp_gw_accept_encoding("gzip;q=1.5"), 0);
    assert_int_equal(sp_gw_accept_encoding("gzip;q=0.0001"), 0);
    assert_int_equal(sp_gw_accept_encoding("gzip;q=abc"), 0);
    assert_int_equal(sp_gw_accept_encoding("gzip;q="), 0);
    assert_int_equal(sp_gw_accept_encoding("gzip;q=-1, br"), SP_GW_ENCODING_BR);
    assert_int_equal(sp_gw_accept_encoding("gzip ;q=0.5 , br ; q=0.8"), both);
    assert_int_equal(sp_gw_accept_encoding("gzipx, brotli"), 0);
    /* Past the bounds nothing is read. */
    char many[SP_GW_WEB_ACCEPT_ENCODING_LEN_MAX + 8];
    size_t len = 0;
    for (size_t i = 0; i < SP_GW_WEB_ACCEPT_ENCODING_ITEMS_MAX; i++)
        len += (size_t)sprintf(many + len, "x%zu, ", i);
    sprintf(many + len, "gzip");
    assert_int_equal(sp_gw_accept_encoding(many), 0);
    memset(many, ' ', sizeof many);
    memcpy(many, "gzip", 4);
    many[SP_GW_WEB_ACCEPT_ENCODING_LEN_MAX + 1] = '\0';
    assert_int_equal(sp_gw_accept_encoding(many), 0);
    many[SP_GW_WEB_ACCEPT_ENCODING_LEN_MAX] = '\0';
    assert_int_equal(sp_gw_accept_encoding(many), SP_GW_ENCODING_GZIP);
}

static void test_etags_match_if_none_match(void **state) {
    (void)state;
    char etag[SP_GW_WEB_ETAG_LEN_MAX + 1];
    sp_gw_web_etag(1234, 1700000000123456789, etag);
    assert_string_equal(etag, "\"4d2-17979cfe3d85cd15\"");
    sp_gw_web_etag(INT64_MAX, INT64_MAX, etag);
    assert_true(strlen(etag) <= SP_GW_WEB_ETAG_LEN_MAX);
    const char *tag = "\"4d2-1\"";
    assert_true(sp_gw_web_etag_matches("\"4d2-1\"", tag));
    assert_true(sp_gw_web_etag_matches("\"x\", W/\"4d2-1\"", tag));
    assert_true(sp_gw_web_etag_matches(" * ", tag));
    assert_false(sp_gw_web_etag_matches(NULL, tag));
    assert_false(sp_gw_web_etag_matches("", tag));
    assert_false(sp_gw_web_etag_matches("\"4d2-2\"", tag));
    assert_false(sp_gw_web_etag_matches("4d2-1", tag));
}

static void test_html_answers_get_the_security_headers(void **state) {
    (void)state;
    size_t count = 0;
    const sp_gw_header *headers = sp_gw_web_security_headers(&count);
    assert_int_equal(count, 4);
    assert_string_equal(headers[0].name, "Content-Security-Policy");
    assert_non_null(strstr(headers[0].value, "script-src 'self';"));
    assert_non_null(strstr(headers[0].value, "style-src 'self';"));
    assert_non_null(strstr(headers[0].value, "frame-ancestors 'none'"));
    assert_null(strstr(headers[0].value, "unsafe"));
    assert_string_equal(headers[3].value, "DENY");
    const char *page = sp_gw_web_not_found_page();
    assert_non_null(strstr(page, "lang=\"fr\""));
    assert_null(strstr(page, "<style"));
    assert_null(strstr(page, "style="));
    assert_null(strstr(page, "<script"));
}

static void test_the_print_pages_have_their_stylesheets(void **state) {
    (void)state;
    assert_non_null(strstr(sp_gw_page_style("/api/v1/styles/voucher-a4.css"), "size: A4"));
    assert_non_null(strstr(sp_gw_page_style("/api/v1/styles/voucher-a6.css"), "size: A6"));
    assert_non_null(strstr(sp_gw_page_style("/api/v1/styles/poster.css"), "size: A4"));
    assert_null(sp_gw_page_style("/api/v1/styles/poster"));
    assert_null(sp_gw_page_style("/api/v1/styles/poster.css.map"));
    assert_null(sp_gw_page_style("/api/v1/styles/../poster.css"));
    assert_null(sp_gw_page_style("/api/v1/me"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_home_and_the_apps_are_index_pages),
        cmocka_unit_test(test_assets_are_immutable_and_typed_by_extension),
        cmocka_unit_test(test_root_files_and_the_rest),
        cmocka_unit_test(test_the_api_is_not_a_page),
        cmocka_unit_test(test_traversal_and_odd_paths_are_refused),
        cmocka_unit_test(test_accept_encoding_follows_q_values),
        cmocka_unit_test(test_etags_match_if_none_match),
        cmocka_unit_test(test_html_answers_get_the_security_headers),
        cmocka_unit_test(test_the_print_pages_have_their_stylesheets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
