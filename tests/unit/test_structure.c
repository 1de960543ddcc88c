/* test_structure.c - the partner structure's checks: IBAN (mod 97 and
 * country lengths), BIC, http(s) URLs, phone numbers, the profile and user
 * bodies, and images recognised by their content. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "gateway/routes/structure.h"
#include "sp_profile.h"

static void test_iban_accepts_valid_numbers_with_spaces_and_any_case(void **state) {
    (void)state;
    char out[SP_PROFILE_IBAN_MAX + 1];
    assert_int_equal(sp_profile_iban_normalize("FR76 3000 6000 0112 3456 7890 189", out),
                     SP_PROFILE_IBAN_OK);
    assert_string_equal(out, "FR7630006000011234567890189");
    assert_int_equal(sp_profile_iban_normalize("de89370400440532013000", out), SP_PROFILE_IBAN_OK);
    assert_string_equal(out, "DE89370400440532013000");
    assert_int_equal(sp_profile_iban_normalize("BE68 5390 0754 7034", out), SP_PROFILE_IBAN_OK);
    assert_int_equal(sp_profile_iban_normalize("GB82 WEST 1234 5698 7654 32", out),
                     SP_PROFILE_IBAN_OK);
    assert_int_equal(sp_profile_iban_normalize("MC58 1122 2000 0101 2345 6789 030", out),
                     SP_PROFILE_IBAN_OK);
}

static void test_iban_refuses_a_wrong_check_or_shape(void **state) {
    (void)state;
    char out[SP_PROFILE_IBAN_MAX + 1];
    /* One digit changed, two neighbours swapped: the mod-97 check catches both. */
    assert_int_equal(sp_profile_iban_normalize("FR76 3000 6000 0112 3456 7890 188", out),
                     SP_PROFILE_IBAN_BAD_CHECKSUM);
    assert_string_equal(out, "");
    assert_int_equal(sp_profile_iban_normalize("DE89 3704 0044 0532 0130 00", out),
                     SP_PROFILE_IBAN_OK);
    assert_int_equal(sp_profile_iban_normalize("DE89 3704 0044 0523 0130 00", out),
                     SP_PROFILE_IBAN_BAD_CHECKSUM);
    /* A French IBAN is 27 characters. */
    assert_int_equal(sp_profile_iban_normalize("FR76 3000 6000 0112 3456 7890 18", out),
                     SP_PROFILE_IBAN_BAD_FORMAT);
    assert_int_equal(sp_profile_iban_normalize("7630006000011234567890189", out),
                     SP_PROFILE_IBAN_BAD_FORMAT);
    assert_int_equal(sp_profile_iban_normalize("FR76-3000-6000", out), SP_PROFILE_IBAN_BAD_FORMAT);
    assert_int_equal(sp_profile_iban_normalize("", out), SP_PROFILE_IBAN_BAD_FORMAT);
    assert_int_equal(sp_profile_iban_normalize("FR76 3000 6000 0112 3456 7890 1890 0000 1111 2222",
                                               out),
                     SP_PROFILE_IBAN_BAD_FORMAT);
}

static void test_bic_urls_and_phones(void **state) {
    (void)state;
    char bic[SP_PROFILE_BIC_MAX + 1];
    assert_true(sp_profile_bic_normalize("bnpafrpp", bic));
    assert_string_equal(bic, "BNPAFRPP");
    assert_true(sp_profile_bic_normalize("DEUTDEFF500", bic));
    assert_false(sp_profile_bic_normalize("BNPAFRP", bic));
    assert_false(sp_profile_bic_normalize("BNP1FRPP", bic));
    assert_false(sp_profile_bic_normalize("BNPAFRPP50", bic));
    assert_true(sp_profile_url_valid("https://club.example.org/page?x=1"));
    assert_true(sp_profile_url_valid("http://club.example"));
    assert_false(sp_profile_url_valid("ftp://club.example"));
    assert_false(sp_profile_url_valid("javascript:alert(1)"));
    assert_false(sp_profile_url_valid("https://"));
    assert_false(sp_profile_url_valid("https://user@evil.example/"));
    assert_false(sp_profile_url_valid("https://club.example/a b"));
    assert_true(sp_profile_phone_valid("+33 1 23 45 67 89"));
    assert_true(sp_profile_phone_valid("01.23.45.67.89"));
    assert_false(sp_profile_phone_valid("12345"));
    assert_false(sp_profile_phone_valid("call me"));
    assert_false(sp_profile_phone_valid("33+1234567"));
}

#define BODY(text) text, strlen(text)

static void test_profile_body_errors_are_precise(void **state) {
    (void)state;
    sp_gw_profile_req p;
    sp_error err;
    static const char good[] = "{\"legal_name\":\"ASQ\",\"public_name\":\"AS Q\","
                               "\"iban\":\"fr76 3000 6000 0112 3456 7890 189\","
                               "\"bank_holder\":\"ASQ\",\"contact_email\":\"A@B.FR\","
                               "\"social_links\":[\"https://s.example/q\"]}";
    assert_int_equal(sp_gw_parse_profile(BODY(good), &p, &err), 0);
    assert_string_equal(p.iban, "FR7630006000011234567890189");
    assert_string_equal(p.contact_email, "a@b.fr");
    assert_int_equal(p.social_link_count, 1);
    static const struct {
        const char *body;
        int status;
        const char *code, *field;
    } cases[] = {
        {"{\"legal_name\":\"A\",\"public_name\":\"B\",\"iban\":\"FR7630006000011234567890188\","
         "\"bank_holder\":\"H\"}",
         422, "invalid_iban", "iban"},
        {"{\"legal_name\":\"A\",\"public_name\":\"B\",\"iban\":\"FR7630006000011234567890189\"}",
         400, "missing_field", "bank_holder"},
        {"{\"legal_name\":\"A\",\"public_name\":\"B\",\"bic\":\"BNPAFRPP\"}", 400, "missing_field",
         "iban"},
        {"{\"legal_name\":\"A\",\"public_name\":\"B\",\"website\":\"ftp://x.fr\"}", 400,
         "invalid_url", "website"},
        {"{\"legal_name\":\"A\",\"public_name\":\"B\",\"social_links\":[1]}", 400, "invalid_type",
         "social_links"},
        {"{\"legal_name\":\"A\",\"public_name\":\"B\",\"contact_phone\":\"abc\"}", 400,
         "invalid_phone", "contact_phone"},
        {"{\"legal_name\":\"A\",\"public_name\":\"  \"}", 400, "invalid_value", "public_name"},
        {"{\"legal_name\":\"A\"}", 400, "missing_field", "public_name"},
        {"{\"legal_name\":\"A\",\"public_name\":\"B\",\"category\":\"sport\"}", 400,
         "unknown_field", "category"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sp_error_clear(&err);
        assert_int_equal(sp_gw_parse_profile(BODY(cases[i].body), &p, &err), -1);
        assert_int_equal(err.http_status, cases[i].status);
        assert_string_equal(err.code, cases[i].code);
        assert_string_equal(err.field, cases[i].field);
    }
}

static void test_user_bodies(void **state) {
    (void)state;
    sp_gw_user_add_req add;
    sp_error err;
    char role[16];
    assert_int_equal(sp_gw_parse_user_add(BODY("{\"email\":\"Cash@Club.FR\",\"full_name\":\"C\"}"),
                                          &add, &err),
                     0);
    assert_string_equal(add.email, "cash@club.fr");
    assert_string_equal(add.role, "partner_user");
    assert_int_equal(
        sp_gw_parse_user_add(BODY("{\"email\":\"nope\",\"full_name\":\"C\"}"), &add, &err), -1);
    assert_string_equal(err.code, "invalid_email");
    assert_int_equal(sp_gw_parse_user_role(BODY("{\"role\":\"backoffice\"}"), role, &err), -1);
    assert_string_equal(err.field, "role");
    assert_int_equal(sp_gw_parse_user_role(BODY("{\"role\":\"partner_admin\"}"), role, &err), 0);
    assert_string_equal(role, "partner_admin");
}

/* A PNG's signature, IHDR (CRCs are not what is checked) and IEND. */
static size_t tiny_png(uint8_t *out, uint32_t width, uint32_t height) {
    static const uint8_t head[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a,
                                   0,    0,   0,   13,  'I',  'H',  'D',  'R'};
    static const uint8_t tail[] = {8, 2, 0,   0,   0,   1,   2,    3,    4,    0,   0,
                                   0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    size_t n = 0;
    memcpy(out, head, sizeof head);
    n += sizeof head;
    for (int i = 3; i >= 0; i--) out[n++] = (uint8_t)(width >> (8 * i));
    for (int i = 3; i >= 0; i--) out[n++] = (uint8_t)(height >> (8 * i));
    memcpy(out + n, tail, sizeof tail);
    return n + sizeof tail;
}

static void test_images_are_recognised_by_content(void **state) {
    (void)state;
    uint8_t png[64];
    size_t png_len = tiny_png(png, 640, 480);
    sp_gw_image_info info;
    sp_error err;
    assert_int_equal(sp_gw_image_check(png, png_len, "image/png", 1024, &info, &err), 0);
    assert_string_equal(info.content_type, "image/png");
    assert_int_equal(info.width_px, 640);
    assert_int_equal(info.height_px, 480);
    /* The same bytes declared as JPEG, cut short, too large, of another type. */
    assert_int_equal(sp_gw_image_check(png, png_len, "image/jpeg", 1024, &info, &err), -1);
    assert_string_equal(err.code, "invalid_image");
    assert_int_equal(sp_gw_image_check(png, png_len - 1, "image/png", 1024, &info, &err), -1);
    assert_string_equal(err.code, "invalid_image");
    assert_int_equal(sp_gw_image_check(png, png_len, "image/png", 16, &info, &err), -1);
    assert_int_equal(err.http_status, 413);
    assert_int_equal(sp_gw_image_check(png, png_len, "image/svg+xml", 1024, &info, &err), -1);
    assert_int_equal(err.http_status, 415);
    png_len = tiny_png(png, 9000, 10);
    assert_int_equal(sp_gw_image_check(png, png_len, "image/png", 1024, &info, &err), -1);
    assert_string_equal(err.code, "invalid_image");
    static const uint8_t jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0,    7,  'J',  'F', 'I',
                                   'F',  0,    0xff, 0xc0, 0,    11, 8,    0,   120,
                                   0,    160,  3,    1,    0x22, 0,  0xff, 0xd9};
    assert_int_equal(sp_gw_image_check(jpeg, sizeof jpeg, "image/jpeg; q=1", 1024, &info, &err), 0);
    assert_string_equal(info.content_type, "image/jpeg");
    assert_int_equal(info.width_px, 160);
    assert_int_equal(info.height_px, 120);
    static const uint8_t text[] = "GIF89a this is not a picture at all, sorry";
    assert_int_equal(sp_gw_image_check(text, sizeof text, "image/png", 1024, &info, &err), -1);
    assert_string_equal(err.code, "invalid_image");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iban_accepts_valid_numbers_with_spaces_and_any_case),
        cmocka_unit_test(test_iban_refuses_a_wrong_check_or_shape),
        cmocka_unit_test(test_bic_urls_and_phones),
        cmocka_unit_test(test_profile_body_errors_are_precise),
        cmocka_unit_test(test_user_bodies),
        cmocka_unit_test(test_images_are_recognised_by_content),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
