/* test_sepa.c - SEPA credit transfer files (common/sp_sepa.c): amounts,
 * control sum and counts, escaping, transliteration, test_limits, refusals that
 * name the request, and the file against the pain.001.001.03 subset schema
 * (xmllint, schema path in SP_SEPA_XSD). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "sp_sepa.h"
#include "sp_id.h"

#define R1 "11111111-1111-4111-8111-111111111111"
#define R2 "22222222-2222-4222-8222-222222222222"
#define R3 "33333333-3333-4333-8333-333333333333"
#define IBAN_FR "FR7630006000011234567890189"
#define IBAN_DE "DE89370400440532013000"
#define CREATED_MS INT64_C(1795773600123) /* 2026-11-27T10:00:00.123Z = 11:00 in Paris */

static sp_sepa_debtor debtor(void) {
    sp_sepa_debtor d;
    assert_int_equal(
        sp_sepa_debtor_parse("Ville de Solipass – CCAS", IBAN_FR, "agrifrppxxx", &d, NULL), 0);
    return d;
}

static sp_sepa_file file_of(const sp_sepa_debtor *d, const sp_sepa_transfer *t, size_t n) {
    sp_sepa_file f = {.message_id = "SP-0123456789abcdef0123456789abcdef",
                      .payment_info_id = "PI-0123456789abcdef0123456789abcdef",
                      .created_at_ms = CREATED_MS,
                      .execution_date = sp_date_from_ymd(2026, 12, 1),
                      .debtor = d,
                      .transfers = t,
                      .transfer_count = n};
    return f;
}

static char *build(const sp_sepa_file *f, size_t *len, sp_error *err) {
    size_t size = sp_sepa_bytes_max(
        f->transfer_count <= SP_SEPA_TRANSFERS_MAX ? f->transfer_count : SP_SEPA_TRANSFERS_MAX);
    char *out = malloc(size);
    assert_non_null(out);
    if (sp_sepa_build(f, out, size, len, err) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* The text of the n-th <tag> (0-based), or "" */
static void element(const char *xml, const char *tag, int n, char *out, size_t size) {
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *p = xml;
    out[0] = '\0';
    for (int i = 0; i <= n; i++) {
        p = strstr(p, open);
        if (p == NULL) return;
        p += strlen(open);
    }
    const char *end = strstr(p, close);
    assert_non_null(end);
    snprintf(out, size, "%.*s", (int)(end - p), p);
}

static int validate_with_xmllint(const char *xml, size_t len) {
    const char *xsd = getenv("SP_SEPA_XSD");
    assert_non_null(xsd);
    char path[] = "/tmp/test_sepa_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, xml, len), (ssize_t)len);
    close(fd);
    char command[1024];
    snprintf(command, sizeof command, "xmllint --noout --schema '%s' '%s' 2>/dev/null", xsd, path);
    int status = system(command);
    unlink(path);
    return status;
}

static void test_amounts_in_two_decimals_from_cents(void **state) {
    (void)state;
    char text[24];
    sp_sepa_amount_text(1, text);
    assert_string_equal(text, "0.01");
    sp_sepa_amount_text(1234, text);
    assert_string_equal(text, "12.34");
    sp_sepa_amount_text(100, text);
    assert_string_equal(text, "1.00");
    sp_sepa_amount_text(SP_SEPA_AMOUNT_CENTS_MAX, text);
    assert_string_equal(text, "999999999.99");
}

static void test_counts_and_control_sum(void **state) {
    (void)state;
    sp_sepa_debtor d = debtor();
    sp_sepa_transfer t[3] = {
        {R1, "Club de foot", IBAN_FR, "BNPAFRPPXXX", 1, "manual", ""},
        {R2, "Médiathèque", IBAN_DE, "COBADEFFXXX", 250099, "automatic", "2026-10"},
        {R3, "Judo", "FR76 3000 6000 0112 3456 7890 189", "agrifrpp", 10, "manual", ""},
    };
    sp_sepa_file f = file_of(&d, t, 3);
    size_t len = 0;
    char *xml = build(&f, &len, NULL);
    assert_non_null(xml);
    assert_int_equal(strlen(xml), len);
    char text[256];
    element(xml, "NbOfTxs", 0, text, sizeof text);
    assert_string_equal(text, "3");
    element(xml, "NbOfTxs", 1, text, sizeof text);
    assert_string_equal(text, "3");
    element(xml, "CtrlSum", 0, text, sizeof text);
    assert_string_equal(text, "2501.10");
    element(xml, "CtrlSum", 1, text, sizeof text);
    assert_string_equal(text, "2501.10");
    element(xml, "CreDtTm", 0, text, sizeof text);
    assert_string_equal(text, "2026-11-27T11:00:00");
    element(xml, "ReqdExctnDt", 0, text, sizeof text);
    assert_string_equal(text, "2026-12-01");
    element(xml, "EndToEndId", 1, text, sizeof text);
    assert_string_equal(text, "22222222222242228222222222222222");
    assert_non_null(strstr(xml, "<InstdAmt Ccy=\"EUR\">2500.99</InstdAmt>"));
    /* The record's IBAN is normalized (spaces dropped), the BIC upper-cased. */
    element(xml, "IBAN", 3, text, sizeof text);
    assert_string_equal(text, IBAN_FR);
    element(xml, "BIC", 3, text, sizeof text);
    assert_string_equal(text, "AGRIFRPP");
    element(xml, "Ustrd", 1, text, sizeof text);
    assert_string_equal(text, "Pass solidarite remboursement " R2 " periode 2026-10");
    element(xml, "Nm", 0, text, sizeof text);
    assert_string_equal(text, "Ville de Solipass - CCAS");
    assert_non_null(strstr(xml, "<ChrgBr>SLEV</ChrgBr>"));
    assert_non_null(strstr(xml, "<PmtMtd>TRF</PmtMtd>"));
    assert_int_equal(validate_with_xmllint(xml, len), 0);
    free(xml);
}

static void test_transliteration_to_the_sepa_set(void **state) {
    (void)state;
    char out[SP_SEPA_NAME_MAX + 1];
    sp_sepa_transliterate("  Association Élan & Cœur – Ça bouge à Noël  ", out, SP_SEPA_NAME_MAX);
    assert_string_equal(out, "Association Elan + Coeur - Ca bouge a Noel");
    sp_sepa_transliterate("Straße \"Über\" <Ünd> 50% 京都", out, SP_SEPA_NAME_MAX);
    assert_string_equal(out, "Strasse 'Uber' .Und. 50. ..");
    sp_sepa_transliterate("L’Œuvre\tde\x01"
                          "Saint_Éloi\xff",
                          out, SP_SEPA_NAME_MAX);
    assert_string_equal(out, "L'OEuvre de Saint-Eloi.");
    char longer[300];
    memset(longer, 0, sizeof longer);
    for (int i = 0; i < 100; i++) strcat(longer, "é"); /* 2 bytes each */
    sp_sepa_transliterate(longer, out, SP_SEPA_NAME_MAX);
    assert_int_equal(strlen(out), SP_SEPA_NAME_MAX);
    /* "Œ" at the cut: its two letters never overflow the limit. */
    char cut[8];
    sp_sepa_transliterate("abŒ", cut, 3);
    assert_string_equal(cut, "abO");
}

static void test_names_escaped_and_cut(void **state) {
    (void)state;
    sp_sepa_debtor d = debtor();
    char name[400];
    snprintf(name, sizeof name, "L'Atelier <b>&</b> \"Les Amis\" %s",
             "du quartier de la gare et de ses environs immédiats, association loi 1901");
    sp_sepa_transfer t[1] = {{R1, name, IBAN_FR, "BNPAFRPP", 500, "manual", ""}};
    sp_sepa_file f = file_of(&d, t, 1);
    size_t len = 0;
    char *xml = build(&f, &len, NULL);
    assert_non_null(xml);
    char text[512];
    element(xml, "Nm", 2, text, sizeof text); /* InitgPty, Dbtr, then Cdtr */
    assert_string_equal(text, "L&#39;Atelier .b.+./b. &#39;Les Amis&#39; du quartier de la "
                              "gare et de ses environ"); /* 70 characters */
    assert_null(strstr(xml, "<b>"));
    assert_int_equal(validate_with_xmllint(xml, len), 0);
    free(xml);
}

static void test_partner_without_iban_refused_naming_the_request(void **state) {
    (void)state;
    sp_sepa_debtor d = debtor();
    sp_sepa_transfer t[2] = {{R1, "A", IBAN_FR, "BNPAFRPP", 500, "manual", ""},
                             {R2, "B", "", "", 700, "automatic", "2026-10"}};
    sp_sepa_file f = file_of(&d, t, 2);
    size_t len = 0;
    sp_error err;
    assert_null(build(&f, &len, &err));
    assert_int_equal(err.http_status, 409);
    assert_string_equal(err.code, "bank_account_missing");
    assert_non_null(strstr(err.message, R2));
    assert_non_null(strstr(err.message, "IBAN"));
    assert_int_equal(len, 0);
    t[1].iban = IBAN_DE;
    assert_null(build(&f, &len, &err));
    assert_string_equal(err.code, "bank_account_missing");
    assert_non_null(strstr(err.message, "BIC"));
    t[1].bic = "COBADEFF";
    t[1].iban = "DE89370400440532013001"; /* one digit off: mod-97 fails */
    assert_null(build(&f, &len, &err));
    assert_string_equal(err.code, "invalid_iban");
    assert_non_null(strstr(err.message, R2));
    t[1].iban = IBAN_DE;
    t[1].bic = "COBADE01"; /* location code starting with 0 */
    assert_null(build(&f, &len, &err));
    assert_string_equal(err.code, "invalid_bic");
}

static void test_limits(void **state) {
    (void)state;
    sp_sepa_debtor d = debtor();
    sp_error err;
    size_t len = 0;
    sp_sepa_file empty = file_of(&d, NULL, 0);
    char small[16];
    assert_int_equal(sp_sepa_build(&empty, small, sizeof small, &len, &err), -1);
    assert_int_equal(err.http_status, 422);
    assert_string_equal(err.code, "no_requests");

    sp_sepa_transfer zero[1] = {{R1, "A", IBAN_FR, "BNPAFRPP", 0, "manual", ""}};
    sp_sepa_file f = file_of(&d, zero, 1);
    assert_null(build(&f, &len, &err));
    assert_string_equal(err.code, "invalid_amount");
    assert_non_null(strstr(err.message, R1));

    /* The largest file fits its bound, whatever the names. */
    size_t n = SP_SEPA_TRANSFERS_MAX;
    sp_sepa_transfer *many = calloc(n + 1, sizeof *many);
    char(*ids)[SP_ID_LEN + 1] = calloc(n + 1, sizeof *ids);
    assert_non_null(many);
    assert_non_null(ids);
    char name[600];
    memset(name, 0, sizeof name);
    for (int i = 0; i < 150; i++) strcat(name, "'&");
    for (size_t i = 0; i <= n; i++) {
        snprintf(ids[i], sizeof ids[i], "%08zx-0000-4000-8000-000000000000", i);
        many[i] = (sp_sepa_transfer){
            ids[i],      name,     IBAN_FR, "BNPAFRPPXXX", SP_SEPA_AMOUNT_CENTS_MAX / 1000,
            "automatic", "2026-10"};
    }
    f = file_of(&d, many, n);
    char *xml = build(&f, &len, &err);
    assert_non_null(xml);
    char text[64];
    element(xml, "NbOfTxs", 0, text, sizeof text);
    assert_string_equal(text, "300");
    element(xml, "CtrlSum", 0, text, sizeof text);
    assert_string_equal(text, "299999997.00"); /* 300 x 999999.99 */
    assert_int_equal(validate_with_xmllint(xml, len), 0);
    free(xml);
    f.transfer_count = n + 1;
    char buffer[64];
    assert_int_equal(sp_sepa_build(&f, buffer, sizeof buffer, &len, &err), -1);
    assert_string_equal(err.code, "too_many_requests");
    free(many);
    free(ids);
}

static void test_debtor_settings_checked(void **state) {
    (void)state;
    sp_sepa_debtor d;
    sp_error err;
    assert_int_equal(sp_sepa_debtor_parse("", IBAN_FR, "AGRIFRPP", &d, &err), -1);
    assert_string_equal(err.field, "SP_SEPA_DEBTOR_NAME");
    assert_int_equal(
        sp_sepa_debtor_parse("Ville", "FR7630006000011234567890188", "AGRIFRPP", &d, &err), -1);
    assert_string_equal(err.field, "SP_SEPA_DEBTOR_IBAN");
    assert_int_equal(sp_sepa_debtor_parse("Ville", IBAN_FR, "AGRI", &d, &err), -1);
    assert_string_equal(err.field, "SP_SEPA_DEBTOR_BIC");
}

static void test_schema_refuses_what_it_should(void **state) {
    (void)state;
    sp_sepa_debtor d = debtor();
    sp_sepa_transfer t[1] = {{R1, "Club", IBAN_FR, "BNPAFRPP", 100, "manual", ""}};
    sp_sepa_file f = file_of(&d, t, 1);
    size_t len = 0;
    char *xml = build(&f, &len, NULL);
    assert_non_null(xml);
    /* A currency other than EUR must not pass the schema the files are checked with. */
    char *ccy = strstr(xml, "Ccy=\"EUR\"");
    assert_non_null(ccy);
    memcpy(ccy + 5, "USD", 3);
    assert_int_not_equal(validate_with_xmllint(xml, len), 0);
    free(xml);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_amounts_in_two_decimals_from_cents),
        cmocka_unit_test(test_counts_and_control_sum),
        cmocka_unit_test(test_transliteration_to_the_sepa_set),
        cmocka_unit_test(test_names_escaped_and_cut),
        cmocka_unit_test(test_partner_without_iban_refused_naming_the_request),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_debtor_settings_checked),
        cmocka_unit_test(test_schema_refuses_what_it_should),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
