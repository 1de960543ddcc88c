/* test_validate.c - the gateway's request checks: every refusal a client can
 * meet before anything is looked up or written, with its status, code and field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "gateway/endpoints/endpoints.h"
#include "gateway/endpoints/validate.h"

#define PAYMENT_CENTS_MAX 100000
#define CREDIT_CENTS_MAX 1000000

static void expect_error(const sp_error *err, int status, const char *code, const char *field) {
    assert_int_equal(err->http_status, status);
    assert_string_equal(err->code, code);
    assert_string_equal(err->field, field);
    assert_true(err->message[0] != '\0');
}

/* A Luhn-valid 8-digit code built from 7 digits. */
static void valid_code(const char *seven, char out[SP_PARTNER_CODE_LEN + 1]) {
    snprintf(out, SP_PARTNER_CODE_LEN + 1, "%s", seven);
    out[7] = sp_luhn_check_digit(seven);
    out[8] = '\0';
}

static int pay(const char *body, sp_gw_payment_req *req, sp_error *err) {
    return sp_gw_parse_payment(body, strlen(body), PAYMENT_CENTS_MAX, req, err);
}

static void pay_refused(const char *body, int status, const char *code, const char *field) {
    sp_gw_payment_req req;
    sp_error err;
    sp_error_clear(&err);
    assert_int_equal(pay(body, &req, &err), -1);
    expect_error(&err, status, code, field);
}

/* ------------------------------------------------------------------ routes */

static void test_routes_known(void **state) {
    (void)state;
    sp_gw_route_match m;
    sp_error err;
    assert_int_equal(sp_gw_route_find("POST", "/api/v1/auth/login", &m, &err), 0);
    assert_int_equal(m.route, SP_GW_ROUTE_LOGIN);
    assert_int_equal(sp_gw_route_find("GET", "/api/v1/partners", &m, &err), 0);
    assert_int_equal(m.route, SP_GW_ROUTE_PARTNERS_LIST);
    assert_int_equal(sp_gw_route_find("POST", "/api/v1/partners", &m, &err), 0);
    assert_int_equal(m.route, SP_GW_ROUTE_PARTNERS_CREATE);
    const char *id = "0b6f3c1e-8d2a-4f4b-9a51-3c7d2e1f0a99";
    char path[128];
    snprintf(path, sizeof path, "/api/v1/passes/%s/credits", id);
    assert_int_equal(sp_gw_route_find("POST", path, &m, &err), 0);
    assert_int_equal(m.route, SP_GW_ROUTE_PASSES_CREDIT);
    assert_string_equal(m.path_id, id);
    snprintf(path, sizeof path, "/api/v1/passes/%s", id);
    assert_int_equal(sp_gw_route_find("GET", path, &m, &err), 0);
    assert_int_equal(m.route, SP_GW_ROUTE_PASSES_GET);
    assert_string_equal(sp_gw_route_name(SP_GW_ROUTE_PASS_PAY), "pass_pay");
    snprintf(path, sizeof path, "/api/v1/partner/refund-requests/%s/cancel", id);
    assert_int_equal(sp_gw_route_find("POST", path, &m, &err), 0);
    assert_int_equal(m.route, SP_GW_ROUTE_PARTNER_REFUND_CANCEL);
    assert_string_equal(m.path_id, id);
    snprintf(path, sizeof path, "/api/v1/finance/refund-requests/%s/paid", id);
    assert_int_equal(sp_gw_route_find("POST", path, &m, &err), 0);
    assert_int_equal(m.route, SP_GW_ROUTE_FINANCE_REFUND_PAID);
    /* A malformed id is a request that does not exist, not a pass. */
    assert_int_equal(sp_gw_route_find("GET", "/api/v1/partner/refund-requests/42", &m, &err), -1);
    assert_string_equal(err.code, "refund_request_not_found");
    assert_int_equal(err.http_status, 404);
}

static void test_routes_refused(void **state) {
    (void)state;
    sp_gw_route_match m;
    sp_error err;
    assert_int_equal(sp_gw_route_find("GET", "/api/v1/nothing", &m, &err), -1);
    expect_error(&err, 404, "not_found", "");
    assert_int_equal(sp_gw_route_find("GET", "/api/v1/pass/", &m, &err), -1);
    expect_error(&err, 404, "not_found", "");
    assert_int_equal(sp_gw_route_find("DELETE", "/api/v1/pass", &m, &err), -1);
    expect_error(&err, 405, "method_not_allowed", "");
    assert_int_equal(sp_gw_route_find("GET", "/api/v1/auth/login", &m, &err), -1);
    expect_error(&err, 405, "method_not_allowed", "");
    char allow[64];
    sp_gw_route_allowed("/api/v1/partners", allow, sizeof allow);
    assert_string_equal(allow, "POST, GET");
    sp_gw_route_allowed("/api/v1/pass", allow, sizeof allow);
    assert_string_equal(allow, "GET");
    /* Upper-case or truncated ids name no pass: refused before any query. */
    assert_int_equal(sp_gw_route_find("GET", "/api/v1/passes/0B6F3C1E-8D2A-4F4B-9A51-3C7D2E1F0A99",
                                      &m, &err),
                     -1);
    expect_error(&err, 404, "pass_not_found", "pass_id");
    assert_int_equal(sp_gw_route_find("POST", "/api/v1/passes/1234/credits", &m, &err), -1);
    expect_error(&err, 404, "pass_not_found", "pass_id");
    assert_int_equal(sp_gw_route_find("GET", "/api/v1/passes/", &m, &err), -1);
    expect_error(&err, 404, "not_found", "");
}

/* ------------------------------------------------------------------ bodies */

static void test_malformed_json(void **state) {
    (void)state;
    pay_refused("", 400, "malformed_json", "");
    pay_refused("{", 400, "malformed_json", "");
    pay_refused("{\"amount_cents\": 100,}", 400, "malformed_json", "");
    pay_refused("[1, 2]", 400, "malformed_json", "");
    pay_refused("\"text\"", 400, "malformed_json", "");
    pay_refused("{} {}", 400, "malformed_json", "");
    pay_refused("{\"partner_code\": \"\\u0000\", \"amount_cents\": 1}", 400, "malformed_json", "");
    /* Invalid UTF-8 in a string. */
    pay_refused("{\"partner_code\": \"\xff\xfe\", \"amount_cents\": 1}", 400, "malformed_json", "");
}

static void test_duplicate_keys(void **state) {
    (void)state;
    char code[9];
    valid_code("1234567", code);
    char body[256];
    snprintf(body, sizeof body,
             "{\"partner_code\": \"%s\", \"amount_cents\": 100, \"amount_cents\": 100000}", code);
    pay_refused(body, 400, "malformed_json", "");
}

static void test_unknown_and_missing_fields(void **state) {
    (void)state;
    char code[9];
    valid_code("1234567", code);
    char body[256];
    snprintf(body, sizeof body, "{\"partner_code\": \"%s\", \"amount_cents\": 1, \"tip\": 1}",
             code);
    pay_refused(body, 400, "unknown_field", "tip");
    /* A misspelt name is reported as unknown, not as the missing one. */
    snprintf(body, sizeof body, "{\"partner_code\": \"%s\", \"amount_cent\": 1}", code);
    pay_refused(body, 400, "unknown_field", "amount_cent");
    snprintf(body, sizeof body, "{\"partner_code\": \"%s\"}", code);
    pay_refused(body, 400, "missing_field", "amount_cents");
    pay_refused("{\"amount_cents\": 1}", 400, "missing_field", "partner_code");
    pay_refused("{}", 400, "missing_field", "partner_code");
}

static void test_amount_types(void **state) {
    (void)state;
    char code[9];
    valid_code("1234567", code);
    const char *bad_amounts[] = {"12.5", "\"12\"", "1e3", "12.0", "true", "null", "[12]", "{}"};
    for (size_t i = 0; i < sizeof bad_amounts / sizeof bad_amounts[0]; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"partner_code\": \"%s\", \"amount_cents\": %s}", code,
                 bad_amounts[i]);
        pay_refused(body, 400, "invalid_type", "amount_cents");
    }
    pay_refused("{\"partner_code\": 12345674, \"amount_cents\": 100}", 400, "invalid_type",
                "partner_code");
}

static void test_amount_range(void **state) {
    (void)state;
    char code[9];
    valid_code("1234567", code);
    const char *bad[] = {"0",
                         "-1",
                         "-100000",
                         "100001",
                         "9223372036854775807",
                         "-9223372036854775808",
                         "99999999999999999999",
                         "-99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"partner_code\": \"%s\", \"amount_cents\": %s}", code,
                 bad[i]);
        pay_refused(body, 422, "invalid_amount", "amount_cents");
    }
    sp_gw_payment_req req;
    sp_error err;
    char body[256];
    snprintf(body, sizeof body, "{\"amount_cents\": 100000, \"partner_code\": \"%s\"}", code);
    assert_int_equal(pay(body, &req, &err), 0);
    assert_int_equal(req.amount_cents, 100000);
    assert_string_equal(req.partner_code, code);
    snprintf(body, sizeof body, "{\"amount_cents\": 1, \"partner_code\": \"%s\"}", code);
    assert_int_equal(pay(body, &req, &err), 0);
    assert_int_equal(req.amount_cents, 1);
}

static void test_body_too_large(void **state) {
    (void)state;
    size_t len = SP_GW_BODY_BYTES_MAX + 1;
    char *body = malloc(len);
    assert_non_null(body);
    memset(body, ' ', len);
    body[0] = '{';
    body[len - 1] = '}';
    sp_gw_payment_req req;
    sp_error err;
    assert_int_equal(sp_gw_parse_payment(body, len, PAYMENT_CENTS_MAX, &req, &err), -1);
    expect_error(&err, 413, "body_too_large", "");
    /* Exactly the limit is parsed (and then judged on its content). */
    assert_int_equal(sp_gw_parse_payment(body, len - 1, PAYMENT_CENTS_MAX, &req, &err), -1);
    assert_int_equal(err.http_status, 400);
    free(body);
}

/* ------------------------------------------------------------------ partner codes */

static void test_partner_code(void **state) {
    (void)state;
    char code[9];
    valid_code("7305214", code);
    char typed[32];
    snprintf(typed, sizeof typed, "%.4s %.4s", code, code + 4);
    char body[256];
    snprintf(body, sizeof body, "{\"partner_code\": \"%s\", \"amount_cents\": 250}", typed);
    sp_gw_payment_req req;
    sp_error err;
    assert_int_equal(pay(body, &req, &err), 0);
    assert_string_equal(req.partner_code, code);

    /* One mistyped digit, anywhere, breaks the check digit. */
    for (size_t pos = 0; pos < SP_PARTNER_CODE_LEN; pos++) {
        char wrong[9];
        memcpy(wrong, code, sizeof wrong);
        wrong[pos] = (char)('0' + (wrong[pos] - '0' + (pos == 0 ? 1 : 3)) % 10);
        if (wrong[0] == '0') wrong[0] = '9';
        snprintf(body, sizeof body, "{\"partner_code\": \"%s\", \"amount_cents\": 250}", wrong);
        pay_refused(body, 422, "invalid_partner_code", "partner_code");
    }
    const char *bad[] = {"", "1234567", "123456789", "1234567a", "abcdefgh", "12.34567"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(body, sizeof body, "{\"partner_code\": \"%s\", \"amount_cents\": 250}", bad[i]);
        pay_refused(body, bad[i][0] == '\0' ? 400 : 422,
                    bad[i][0] == '\0' ? "invalid_value" : "invalid_partner_code", "partner_code");
    }
    /* Luhn-valid but starting with 0: never issued. */
    char zero[9];
    valid_code("0123456", zero);
    assert_int_equal(sp_gw_partner_code_check(zero, "partner_code", typed, &err), -1);
    expect_error(&err, 422, "invalid_partner_code", "partner_code");
}

/* ------------------------------------------------------------------ e-mails, passwords */

static void test_login(void **state) {
    (void)state;
    const char *body = "{\"email\": \"Alice.Martin@Example.ORG\", \"password\": \"x\"}";
    sp_gw_login_req req;
    sp_error err;
    assert_int_equal(sp_gw_parse_login(body, strlen(body), &req, &err), 0);
    assert_string_equal(req.email, "alice.martin@example.org");
    assert_string_equal(req.password, "x");
    assert_false(req.session_cookie);
    body = "{\"email\": \"a@b.org\", \"password\": \"x\", \"session\": \"cookie\"}";
    assert_int_equal(sp_gw_parse_login(body, strlen(body), &req, &err), 0);
    assert_true(req.session_cookie);
    body = "{\"email\": \"a@b.org\", \"password\": \"x\", \"session\": \"bearer\"}";
    assert_int_equal(sp_gw_parse_login(body, strlen(body), &req, &err), 0);
    assert_false(req.session_cookie);
    body = "{\"email\": \"a@b.org\", \"password\": \"x\", \"session\": \"jar\"}";
    assert_int_equal(sp_gw_parse_login(body, strlen(body), &req, &err), -1);
    expect_error(&err, 400, "invalid_value", "session");
    body = "{\"email\": \"a@b.org\", \"password\": \"x\", \"session\": 1}";
    assert_int_equal(sp_gw_parse_login(body, strlen(body), &req, &err), -1);
    assert_int_equal(err.http_status, 400);
    assert_string_equal(err.field, "session");
    body = "{\"email\": \"a@b.org\", \"password\": \"x\", \"sessions\": \"cookie\"}";
    assert_int_equal(sp_gw_parse_login(body, strlen(body), &req, &err), -1);
    assert_string_equal(err.code, "unknown_field");
    body = "{\"email\": \"alice\", \"password\": \"secret-secret\"}";
    assert_int_equal(sp_gw_parse_login(body, strlen(body), &req, &err), -1);
    expect_error(&err, 400, "invalid_email", "email");
    body = "{\"email\": \"a@b.org\", \"password\": \"\"}";
    assert_int_equal(sp_gw_parse_login(body, strlen(body), &req, &err), -1);
    expect_error(&err, 400, "invalid_value", "password");
    body = "{\"email\": \"a@b.org\"}";
    assert_int_equal(sp_gw_parse_login(body, strlen(body), &req, &err), -1);
    expect_error(&err, 400, "missing_field", "password");
}

static void test_emails(void **state) {
    (void)state;
    char out[SP_GW_EMAIL_LEN_MAX + 1];
    sp_error err;
    const char *good[] = {"a@b.fr", "jean-luc.o'neil+ccas@mairie-lyon.fr",
                          "x_y@sub.domain.example"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(sp_gw_email_normalize(good[i], "email", out, &err), 0);
    }
    const char *bad[] = {"",         "a",        "@b.fr",   "a@",       "a@b",       "a@@b.fr",
                         "a@b@c.fr", "a b@c.fr", ".a@b.fr", "a.@b.fr",  "a..b@c.fr", "a@-b.fr",
                         "a@b-.fr",  "a@b..fr",  "a@b.fr.", "a@b_c.fr", "é@b.fr"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sp_gw_email_normalize(bad[i], "admin_email", out, &err), -1);
        expect_error(&err, 400, "invalid_email", "admin_email");
    }
    char longest[300];
    memset(longest, 'a', 64);
    memcpy(longest + 64, "@b.fr", 6);
    assert_int_equal(sp_gw_email_normalize(longest, "email", out, &err), 0);
    memset(longest, 'a', 65);
    memcpy(longest + 65, "@b.fr", 6);
    assert_int_equal(sp_gw_email_normalize(longest, "email", out, &err), -1);
    expect_error(&err, 400, "invalid_email", "email");
    /* 260 characters in all, every part within its own limit. */
    size_t pos = 0;
    longest[pos++] = 'a';
    longest[pos++] = '@';
    for (int label = 0; label < 4; label++) {
        memset(longest + pos, 'b', 63);
        pos += 63;
        longest[pos++] = '.';
    }
    memcpy(longest + pos, "fr", 3);
    assert_int_equal(sp_gw_email_normalize(longest, "email", out, &err), -1);
    expect_error(&err, 400, "invalid_email", "email");
}

static int partner(const char *body, sp_gw_partner_req *req, sp_error *err) {
    return sp_gw_parse_partner(body, strlen(body), req, err);
}

static void test_partner_body(void **state) {
    (void)state;
    sp_gw_partner_req req;
    sp_error err;
    const char *body = "{\"name\": \"Club de foot\", \"category\": \"sport\", "
                       "\"admin_email\": \"Coach@Club.fr\", \"admin_password\": \"0123456789\", "
                       "\"admin_full_name\": \"Léa Dupont\"}";
    assert_int_equal(partner(body, &req, &err), 0);
    assert_string_equal(req.admin_email, "coach@club.fr");
    assert_string_equal(req.category, "sport");
    assert_string_equal(req.admin_full_name, "Léa Dupont");

    body = "{\"name\": \"Club\", \"category\": \"general\", \"admin_email\": \"c@club.fr\", "
           "\"admin_password\": \"0123456789\", \"admin_full_name\": \"L\"}";
    assert_int_equal(partner(body, &req, &err), -1);
    expect_error(&err, 422, "invalid_category", "category");
    body = "{\"name\": \"Club\", \"category\": \"Sport\", \"admin_email\": \"c@club.fr\", "
           "\"admin_password\": \"0123456789\", \"admin_full_name\": \"L\"}";
    assert_int_equal(partner(body, &req, &err), -1);
    expect_error(&err, 422, "invalid_category", "category");
    /* 9 characters: too short for a new account. */
    body = "{\"name\": \"Club\", \"category\": \"sport\", \"admin_email\": \"c@club.fr\", "
           "\"admin_password\": \"012345678\", \"admin_full_name\": \"L\"}";
    assert_int_equal(partner(body, &req, &err), -1);
    expect_error(&err, 400, "invalid_value", "admin_password");
    /* 10 characters of two bytes each: counted as characters. */
    body = "{\"name\": \"Club\", \"category\": \"sport\", \"admin_email\": \"c@club.fr\", "
           "\"admin_password\": \"éééééééééé\", \"admin_full_name\": \"L\"}";
    assert_int_equal(partner(body, &req, &err), 0);
    body = "{\"name\": \"Club\\nFoot\", \"category\": \"sport\", \"admin_email\": \"c@club.fr\", "
           "\"admin_password\": \"0123456789\", \"admin_full_name\": \"L\"}";
    assert_int_equal(partner(body, &req, &err), -1);
    expect_error(&err, 400, "invalid_value", "name");
    body = "{\"name\": \"   \", \"category\": \"sport\", \"admin_email\": \"c@club.fr\", "
           "\"admin_password\": \"0123456789\", \"admin_full_name\": \"L\"}";
    assert_int_equal(partner(body, &req, &err), -1);
    expect_error(&err, 400, "invalid_value", "name");
    body = "{\"name\": \"Club\", \"category\": \"sport\", \"admin_email\": \"club.fr\", "
           "\"admin_password\": \"0123456789\", \"admin_full_name\": \"L\"}";
    assert_int_equal(partner(body, &req, &err), -1);
    expect_error(&err, 400, "invalid_email", "admin_email");
}

/* Without admin_password (absent or null) the administrator gets a link. */
static void test_partner_without_password(void **state) {
    (void)state;
    sp_gw_partner_req req;
    sp_error err;
    const char *body = "{\"name\": \"Club\", \"category\": \"sport\", \"admin_email\": "
                       "\"c@club.fr\", \"admin_full_name\": \"L\"}";
    assert_int_equal(partner(body, &req, &err), 0);
    assert_string_equal(req.admin_password, "");
    body = "{\"name\": \"Club\", \"category\": \"sport\", \"admin_email\": \"c@club.fr\", "
           "\"admin_password\": null, \"admin_full_name\": \"L\"}";
    assert_int_equal(partner(body, &req, &err), 0);
    assert_string_equal(req.admin_password, "");
}

static void test_link_bodies(void **state) {
    (void)state;
    sp_gw_set_password_req set;
    sp_gw_reset_request_req reset;
    sp_error err;
    const char *body = "{\"token\": \"abc.def\", \"password\": \"0123456789\"}";
    assert_int_equal(sp_gw_parse_set_password(body, strlen(body), &set, &err), 0);
    assert_string_equal(set.token, "abc.def");
    assert_string_equal(set.password, "0123456789");
    body = "{\"token\": \"abc.def\", \"password\": \"short\"}";
    assert_int_equal(sp_gw_parse_set_password(body, strlen(body), &set, &err), -1);
    expect_error(&err, 400, "invalid_value", "password");
    body = "{\"password\": \"0123456789\"}";
    assert_int_equal(sp_gw_parse_set_password(body, strlen(body), &set, &err), -1);
    expect_error(&err, 400, "missing_field", "token");
    body = "{\"email\": \"Coach@Club.fr\"}";
    assert_int_equal(sp_gw_parse_reset_request(body, strlen(body), &reset, &err), 0);
    assert_string_equal(reset.email, "coach@club.fr");
    body = "{\"email\": \"coach\"}";
    assert_int_equal(sp_gw_parse_reset_request(body, strlen(body), &reset, &err), -1);
    expect_error(&err, 400, "invalid_email", "email");
    sp_gw_route_match match;
    assert_int_equal(sp_gw_route_find("POST", "/api/v1/auth/password-reset/confirm", &match, &err),
                     0);
    assert_int_equal(match.route, SP_GW_ROUTE_RESET_CONFIRM);
    assert_int_equal(sp_gw_route_find("GET", "/api/v1/auth/activate", &match, &err), -1);
    expect_error(&err, 405, "method_not_allowed", "");
}

static void test_password_too_long(void **state) {
    (void)state;
    char body[1024];
    char password[SP_GW_PASSWORD_LEN_MAX + 2];
    memset(password, 'p', sizeof password - 1);
    password[SP_GW_PASSWORD_LEN_MAX + 1] = '\0';
    snprintf(body, sizeof body,
             "{\"name\": \"Club\", \"category\": \"sport\", \"admin_email\": \"c@club.fr\", "
             "\"admin_password\": \"%s\", \"admin_full_name\": \"L\"}",
             password);
    sp_gw_partner_req req;
    sp_error err;
    assert_int_equal(partner(body, &req, &err), -1);
    expect_error(&err, 400, "invalid_value", "admin_password");
    password[SP_GW_PASSWORD_LEN_MAX] = '\0';
    snprintf(body, sizeof body,
             "{\"name\": \"Club\", \"category\": \"sport\", \"admin_email\": \"c@club.fr\", "
             "\"admin_password\": \"%s\", \"admin_full_name\": \"L\"}",
             password);
    assert_int_equal(partner(body, &req, &err), 0);
    assert_int_equal(strlen(req.admin_password), SP_GW_PASSWORD_LEN_MAX);
}

/* ------------------------------------------------------------------ beneficiaries */

static sp_date today(void) {
    return sp_date_from_ymd(2026, 11, 27);
}

static int beneficiary(const char *envelopes_json, sp_gw_beneficiary_req *req, sp_error *err) {
    char body[4096];
    snprintf(body, sizeof body,
             "{\"email\": \"Ben@Example.org\", \"password\": \"correct horse\", "
             "\"full_name\": \"Ben Martin\", \"envelopes\": %s}",
             envelopes_json);
    return sp_gw_parse_beneficiary(body, strlen(body), today(), req, err);
}

static void test_beneficiary_ok(void **state) {
    (void)state;
    sp_gw_beneficiary_req req;
    sp_error err;
    assert_int_equal(beneficiary("[{\"category\": \"general\"}, "
                                 "{\"category\": \"sport\", \"end_date\": \"2026-11-27\"}, "
                                 "{\"category\": \"culture\", \"end_date\": \"\"}, "
                                 "{\"category\": \"leisure\", \"end_date\": null}]",
                                 &req, &err),
                     0);
    assert_string_equal(req.email, "ben@example.org");
    assert_int_equal(req.envelope_count, 4);
    assert_string_equal(req.envelopes[1].category, "sport");
    assert_string_equal(req.envelopes[1].end_date, "2026-11-27");
    assert_string_equal(req.envelopes[2].end_date, "");
    assert_string_equal(req.envelopes[3].end_date, "");
}

static void test_beneficiary_refused(void **state) {
    (void)state;
    sp_gw_beneficiary_req req;
    sp_error err;
    assert_int_equal(beneficiary("[]", &req, &err), -1);
    expect_error(&err, 400, "invalid_value", "envelopes");
    assert_int_equal(beneficiary("{\"category\": \"sport\"}", &req, &err), -1);
    expect_error(&err, 400, "invalid_type", "envelopes");
    assert_int_equal(beneficiary("[{\"category\": \"sport\"}, \"culture\"]", &req, &err), -1);
    expect_error(&err, 400, "invalid_type", "envelopes[1]");
    assert_int_equal(beneficiary("[{\"category\": \"sport\", \"budget\": 5}]", &req, &err), -1);
    expect_error(&err, 400, "unknown_field", "envelopes[0].budget");
    assert_int_equal(beneficiary("[{\"end_date\": \"2027-01-01\"}]", &req, &err), -1);
    expect_error(&err, 400, "missing_field", "envelopes[0].category");
    assert_int_equal(
        beneficiary("[{\"category\": \"sport\"}, {\"category\": \"sport\"}]", &req, &err), -1);
    expect_error(&err, 422, "invalid_category", "envelopes[1].category");
    assert_int_equal(beneficiary("[{\"category\": \"x\"}]", &req, &err), -1);
    expect_error(&err, 422, "invalid_category", "envelopes[0].category");
    assert_int_equal(
        beneficiary("[{\"category\": \"sport\", \"end_date\": \"2027-02-30\"}]", &req, &err), -1);
    expect_error(&err, 422, "invalid_date", "envelopes[0].end_date");
    assert_int_equal(
        beneficiary("[{\"category\": \"sport\", \"end_date\": \"27/11/2027\"}]", &req, &err), -1);
    expect_error(&err, 422, "invalid_date", "envelopes[0].end_date");
    assert_int_equal(
        beneficiary("[{\"category\": \"sport\", \"end_date\": \"2026-11-26\"}]", &req, &err), -1);
    expect_error(&err, 422, "invalid_date", "envelopes[0].end_date");
    assert_int_equal(beneficiary("[{\"category\": \"sport\", \"end_date\": 20271231}]", &req, &err),
                     -1);
    expect_error(&err, 400, "invalid_type", "envelopes[0].end_date");

    char many[2048] = "[";
    for (int i = 0; i <= SP_GW_ENVELOPES_MAX; i++) {
        char item[64];
        snprintf(item, sizeof item, "%s{\"category\": \"c%02d\"}", i ? ", " : "", i);
        strcat(many, item);
    }
    strcat(many, "]");
    assert_int_equal(beneficiary(many, &req, &err), -1);
    expect_error(&err, 400, "invalid_value", "envelopes");
}

/* ------------------------------------------------------------------ credits */

static void test_credit(void **state) {
    (void)state;
    sp_gw_credit_req req;
    sp_error err;
    const char *body = "{\"category\": \"general\", \"amount_cents\": 1000000}";
    assert_int_equal(sp_gw_parse_credit(body, strlen(body), CREDIT_CENTS_MAX, today(), &req, &err),
                     0);
    assert_int_equal(req.amount_cents, 1000000);
    assert_string_equal(req.category, "general");
    body = "{\"category\": \"general\", \"amount_cents\": 1000001}";
    assert_int_equal(sp_gw_parse_credit(body, strlen(body), CREDIT_CENTS_MAX, today(), &req, &err),
                     -1);
    expect_error(&err, 422, "invalid_amount", "amount_cents");
    body = "{\"category\": \"general\", \"amount_cents\": \"1000\"}";
    assert_int_equal(sp_gw_parse_credit(body, strlen(body), CREDIT_CENTS_MAX, today(), &req, &err),
                     -1);
    expect_error(&err, 400, "invalid_type", "amount_cents");
    body = "{\"category\": \"9lives\", \"amount_cents\": 1000}";
    assert_int_equal(sp_gw_parse_credit(body, strlen(body), CREDIT_CENTS_MAX, today(), &req, &err),
                     -1);
    expect_error(&err, 422, "invalid_category", "category");
    /* An end date: absent or "" is none; today (2026-11-27) is the earliest. */
    assert_string_equal(req.end_date, "");
    body = "{\"category\": \"sport\", \"amount_cents\": 1000, \"end_date\": \"2026-11-27\"}";
    assert_int_equal(sp_gw_parse_credit(body, strlen(body), CREDIT_CENTS_MAX, today(), &req, &err),
                     0);
    assert_string_equal(req.end_date, "2026-11-27");
    body = "{\"category\": \"sport\", \"amount_cents\": 1000, \"end_date\": \"\"}";
    assert_int_equal(sp_gw_parse_credit(body, strlen(body), CREDIT_CENTS_MAX, today(), &req, &err),
                     0);
    assert_string_equal(req.end_date, "");
    body = "{\"category\": \"sport\", \"amount_cents\": 1000, \"end_date\": \"2026-11-26\"}";
    assert_int_equal(sp_gw_parse_credit(body, strlen(body), CREDIT_CENTS_MAX, today(), &req, &err),
                     -1);
    expect_error(&err, 422, "invalid_date", "end_date");
    body = "{\"category\": \"sport\", \"amount_cents\": 1000, \"end_date\": \"2027-02-30\"}";
    assert_int_equal(sp_gw_parse_credit(body, strlen(body), CREDIT_CENTS_MAX, today(), &req, &err),
                     -1);
    expect_error(&err, 422, "invalid_date", "end_date");
    body = "{\"category\": \"sport\", \"amount_cents\": 1000, \"end_date\": 20270101}";
    assert_int_equal(sp_gw_parse_credit(body, strlen(body), CREDIT_CENTS_MAX, today(), &req, &err),
                     -1);
    expect_error(&err, 400, "invalid_type", "end_date");
}

/* ------------------------------------------------------------------ headers */

static void test_idempotency_key(void **state) {
    (void)state;
    sp_error err;
    assert_int_equal(sp_gw_idempotency_key_check(NULL, &err), -1);
    expect_error(&err, 428, "idempotency_key_required", "Idempotency-Key");
    char key[SP_GW_IDEMPOTENCY_KEY_LEN_MAX + 2];
    memset(key, 'k', sizeof key - 1);
    key[SP_GW_IDEMPOTENCY_KEY_LEN_MAX + 1] = '\0';
    const char *bad[] = {"", key, "a b", "clé", "key/1", "key.1", "key=", " key"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sp_gw_idempotency_key_check(bad[i], &err), -1);
        expect_error(&err, 400, "invalid_value", "Idempotency-Key");
    }
    key[SP_GW_IDEMPOTENCY_KEY_LEN_MAX] = '\0';
    assert_int_equal(sp_gw_idempotency_key_check(key, &err), 0);
    assert_int_equal(sp_gw_idempotency_key_check("a", &err), 0);
    assert_int_equal(sp_gw_idempotency_key_check("pay-2026_11-27-AbC", &err), 0);
}

static void test_bearer(void **state) {
    (void)state;
    char issued[SP_TOKEN_LEN + 1];
    sp_token_new(issued);
    char header[128];
    char token[SP_TOKEN_LEN + 1];
    sp_error err;
    snprintf(header, sizeof header, "Bearer %s", issued);
    assert_int_equal(sp_gw_bearer_token(header, token, &err), 0);
    assert_string_equal(token, issued);
    snprintf(header, sizeof header, "bearer %s", issued);
    assert_int_equal(sp_gw_bearer_token(header, token, &err), 0);
    const char *bad[] = {NULL, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sp_gw_bearer_token(bad[i], token, &err), -1);
        expect_error(&err, 401, "unauthenticated", "");
    }
    snprintf(header, sizeof header, "Bearer %s=", issued);
    assert_int_equal(sp_gw_bearer_token(header, token, &err), -1);
    snprintf(header, sizeof header, "Bearer %.42s!", issued);
    assert_int_equal(sp_gw_bearer_token(header, token, &err), -1);
    expect_error(&err, 401, "unauthenticated", "");
}

/* ------------------------------------------------------------------ paging */

static void test_page(void **state) {
    (void)state;
    sp_gw_page page;
    sp_error err;
    assert_int_equal(sp_gw_page_parse(NULL, &page, &err), 0);
    assert_int_equal(page.limit, SP_GW_PAGE_LIMIT_DEFAULT);
    assert_false(page.has_cursor);
    assert_int_equal(sp_gw_page_parse("limit=200", &page, &err), 0);
    assert_int_equal(page.limit, 200);
    assert_int_equal(sp_gw_page_parse("limit=1&", &page, &err), 0);
    assert_int_equal(page.limit, 1);
    const char *bad_limits[] = {"limit=0",           "limit=201", "limit=",
                                "limit=abc",         "limit=-5",  "limit=1000",
                                "limit=10&limit=20", "limit"};
    for (size_t i = 0; i < sizeof bad_limits / sizeof bad_limits[0]; i++) {
        assert_int_equal(sp_gw_page_parse(bad_limits[i], &page, &err), -1);
        expect_error(&err, 400, "invalid_value", "limit");
    }
    assert_int_equal(sp_gw_page_parse("offset=10", &page, &err), -1);
    expect_error(&err, 400, "unknown_field", "offset");
}

static void test_cursor(void **state) {
    (void)state;
    const char *id = "0b6f3c1e-8d2a-4f4b-9a51-3c7d2e1f0a99";
    char cursor[SP_GW_CURSOR_LEN_MAX + 1];
    sp_gw_cursor_encode(1795773600123, id, cursor);
    char query[256];
    snprintf(query, sizeof query, "cursor=%s&limit=20", cursor);
    sp_gw_page page;
    sp_error err;
    assert_int_equal(sp_gw_page_parse(query, &page, &err), 0);
    assert_true(page.has_cursor);
    assert_int_equal(page.limit, 20);
    assert_int_equal(page.after_occurred_at_ms, 1795773600123);
    assert_string_equal(page.after_operation_id, id);

    /* The last decodes to 24 zero bytes: not a version-4 id. */
    const char *bad[] = {"cursor=", "cursor=abc", "cursor=%3D%3D",
                         "cursor=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sp_gw_page_parse(bad[i], &page, &err), -1);
        expect_error(&err, 400, "invalid_value", "cursor");
    }
    /* One changed character no longer decodes to a valid position. */
    cursor[0] = cursor[0] == 'A' ? 'B' : 'A';
    cursor[1] = '!';
    snprintf(query, sizeof query, "cursor=%s", cursor);
    assert_int_equal(sp_gw_page_parse(query, &page, &err), -1);
    expect_error(&err, 400, "invalid_value", "cursor");
    /* A byte outside the alphabet where the cursor has '_' (libsodium reads
     * 0xAB as '_'): one page has one cursor, never another spelling. */
    sp_gw_cursor_encode(1795773600123, "0b6f3c1e-8d2a-4f4b-9a51-3c7d2e1f0aff", cursor);
    size_t len = strlen(cursor);
    assert_true(len > 0 && cursor[len - 1] == '_');
    int64_t at_ms = 0;
    char operation_id[SP_ID_LEN + 1];
    assert_int_equal(sp_gw_cursor_decode(cursor, &at_ms, operation_id, &err), 0);
    cursor[len - 1] = (char)0xAB;
    assert_int_equal(sp_gw_cursor_decode(cursor, &at_ms, operation_id, &err), -1);
    expect_error(&err, 400, "invalid_value", "cursor");
}

/* ------------------------------------------------------------------ answers */

static void test_instant_and_pass_ref(void **state) {
    (void)state;
    char text[SP_GW_INSTANT_LEN + 1];
    sp_gw_instant_format(1795773600123, text);
    assert_string_equal(text, "2026-11-27T10:00:00.123Z");
    sp_gw_instant_format(1709251199999, text);
    assert_string_equal(text, "2024-02-29T23:59:59.999Z");
    sp_gw_instant_format(0, text);
    assert_string_equal(text, "1970-01-01T00:00:00.000Z");
    char ref[SP_GW_PASS_REF_LEN + 1];
    sp_gw_pass_ref("0b6f3c1e-8d2a-4f4b-9a51-3c7d2e1f0a99", ref);
    assert_string_equal(ref, "0a99");
}

static void test_error_json(void **state) {
    (void)state;
    sp_error err;
    sp_error_set(&err, 422, "invalid_amount", "amount_cents", "at most %s", "1 000,00 €");
    char *text = sp_gw_error_json(&err);
    assert_non_null(text);
    json_error_t jerr;
    json_t *back = json_loads(text, 0, &jerr);
    assert_non_null(back);
    assert_string_equal(json_string_value(json_object_get(back, "code")), "invalid_amount");
    assert_string_equal(json_string_value(json_object_get(back, "field")), "amount_cents");
    assert_string_equal(json_string_value(json_object_get(back, "message")), "at most 1 000,00 €");
    /* An RFC 9457 problem: code, message and field are extension members. */
    assert_string_equal(json_string_value(json_object_get(back, "type")), "about:blank");
    assert_string_equal(json_string_value(json_object_get(back, "title")), "Unprocessable Content");
    assert_int_equal(json_integer_value(json_object_get(back, "status")), 422);
    assert_string_equal(json_string_value(json_object_get(back, "detail")), "at most 1 000,00 €");
    assert_int_equal(json_object_size(back), 7);
    json_decref(back);
    free(text);
    /* A message cut inside a UTF-8 sequence still gives valid JSON. */
    memset(err.message, 'x', sizeof err.message);
    memcpy(err.message + SP_ERROR_MESSAGE_MAX - 3, "\xe2\x82", 2);
    err.message[SP_ERROR_MESSAGE_MAX - 1] = '\0';
    text = sp_gw_error_json(&err);
    assert_non_null(text);
    back = json_loads(text, 0, &jerr);
    assert_non_null(back);
    assert_int_equal(strlen(json_string_value(json_object_get(back, "message"))),
                     SP_ERROR_MESSAGE_MAX - 3);
    json_decref(back);
    free(text);
}

static void test_operations_filter(void **state) {
    (void)state;
    sp_gw_operations_filter f;
    sp_error err;
    assert_int_equal(sp_gw_operations_filter_parse(NULL, &f, &err), 0);
    assert_int_equal(f.page.limit, SP_GW_PAGE_LIMIT_DEFAULT);
    assert_string_equal(f.filters.status, "");
    assert_false(f.filters.has_reference || f.filters.has_amount_min || f.filters.has_amount_max);
    assert_int_equal(sp_gw_operations_filter_parse(
                         "from=2026-03-01&to=2026-03-31&status=cancelled&channel=voucher"
                         "&amount_min_cents=0&amount_max_cents=2500&limit=5"
                         "&reference=Facture+n%C2%B0+12&q=50%25_off%5C",
                         &f, &err),
                     0);
    assert_string_equal(f.filters.from, "2026-03-01");
    assert_string_equal(f.filters.to, "2026-03-31");
    assert_string_equal(f.filters.status, "cancelled");
    assert_string_equal(f.filters.channel, "voucher");
    assert_true(f.filters.has_amount_min && f.filters.amount_cents_min == 0);
    assert_true(f.filters.has_amount_max && f.filters.amount_cents_max == 2500);
    assert_int_equal(f.page.limit, 5);
    assert_true(f.filters.has_reference);
    assert_string_equal(f.filters.reference, "Facture n\xc2\xb0 12");
    assert_string_equal(f.filters.q, "50%_off\\");
    assert_string_equal(f.filters.q_pattern, "50\\%\\_off\\\\");
    /* The refund life of an operation is a filter too. */
    assert_int_equal(sp_gw_operations_filter_parse("status=requested", &f, &err), 0);
    assert_string_equal(f.filters.status, "requested");
    assert_int_equal(sp_gw_operations_filter_parse("status=paid", &f, &err), 0);
    assert_string_equal(f.filters.status, "paid");
    assert_int_equal(sp_gw_operations_filter_parse("reference=", &f, &err), 0);
    assert_true(f.filters.has_reference);
    assert_string_equal(f.filters.reference, "");
    const struct {
        const char *query;
        const char *field;
    } bad[] = {
        {"status=refunded", "status"},
        {"channel=cash", "channel"},
        {"from=2026-13-01", "from"},
        {"to=yesterday", "to"},
        {"from=2026-3-1", "from"},
        {"amount_min_cents=-1", "amount_min_cents"},
        {"amount_max_cents=1.5", "amount_max_cents"},
        {"amount_max_cents=", "amount_max_cents"},
        {"amount_min_cents=9&amount_max_cents=1", "amount_min_cents"},
        {"from=2026-03-02&to=2026-03-01", "from"},
        {"q=%0A", "q"},
        {"q=%ZZ", "q"},
        {"q=%C3", "q"},
        {"reference=%00", "reference"},
        {"status=accepted&status=accepted", "status"},
        {"limit=0", "limit"},
        {"q=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
         "q"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sp_gw_operations_filter_parse(bad[i].query, &f, &err), -1);
        if (strcmp(err.code, "invalid_value") != 0 || strcmp(err.field, bad[i].field) != 0) {
            fail_msg("%s: %s %s", bad[i].query, err.code, err.field);
        }
    }
    assert_int_equal(sp_gw_operations_filter_parse("colour=red", &f, &err), -1);
    expect_error(&err, 400, "unknown_field", "colour");
    char many[256] = "";
    for (int i = 0; i <= SP_GW_FILTER_PARAMS_MAX; i++) strcat(many, "limit=1&");
    assert_int_equal(sp_gw_operations_filter_parse(many, &f, &err), -1);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes_known),
        cmocka_unit_test(test_routes_refused),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_unknown_and_missing_fields),
        cmocka_unit_test(test_amount_types),
        cmocka_unit_test(test_amount_range),
        cmocka_unit_test(test_body_too_large),
        cmocka_unit_test(test_partner_code),
        cmocka_unit_test(test_login),
        cmocka_unit_test(test_emails),
        cmocka_unit_test(test_partner_body),
        cmocka_unit_test(test_partner_without_password),
        cmocka_unit_test(test_link_bodies),
        cmocka_unit_test(test_password_too_long),
        cmocka_unit_test(test_beneficiary_ok),
        cmocka_unit_test(test_beneficiary_refused),
        cmocka_unit_test(test_credit),
        cmocka_unit_test(test_idempotency_key),
        cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_page),
        cmocka_unit_test(test_operations_filter),
        cmocka_unit_test(test_cursor),
        cmocka_unit_test(test_instant_and_pass_ref),
        cmocka_unit_test(test_error_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
