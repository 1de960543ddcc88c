/* test_csv.c - the exports' CSV dialect: BOM, separator and CRLF, RFC 4180
 * quoting, the formula escape, amounts with a decimal comma, Paris dates
 * around the summer-time changes, and rows that do not fit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "exports/csv.h"
#include "sp_clock.h"

#define MS_PER_DAY INT64_C(86400000)

typedef struct fixture {
    char buf[512];
    sp_csv csv;
    sp_error err;
} fixture;

static void start(fixture *f, size_t size) {
    memset(f, 0, sizeof *f);
    sp_csv_init(&f->csv, f->buf, size);
    sp_error_clear(&f->err);
}

/* The row as written, NUL-terminated. */
static const char *written(fixture *f) {
    f->buf[f->csv.len] = '\0';
    return f->buf;
}

static void one_cell(fixture *f, const char *text) {
    start(f, sizeof f->buf - 1);
    sp_csv_text(&f->csv, text, strlen(text));
    assert_int_equal(sp_csv_end_row(&f->csv, &f->err), 0);
}

static void test_bom_separator_crlf(void **state) {
    (void)state;
    fixture f;
    start(&f, sizeof f.buf - 1);
    assert_int_equal(sp_csv_bom(&f.csv, &f.err), 0);
    sp_csv_text(&f.csv, "Date", 4);
    sp_csv_text(&f.csv, "Référence interne", strlen("Référence interne"));
    sp_csv_empty(&f.csv);
    assert_int_equal(sp_csv_end_row(&f.csv, &f.err), 0);
    assert_string_equal(written(&f), "\xEF\xBB\xBF"
                                     "Date;Référence interne;\r\n");
}

static void test_plain_text_is_not_quoted(void **state) {
    (void)state;
    fixture f;
    one_cell(&f, "Facture 2026-118");
    assert_string_equal(written(&f), "Facture 2026-118\r\n");
    one_cell(&f, "");
    assert_string_equal(written(&f), "\r\n");
}

static void test_rfc4180_quoting(void **state) {
    (void)state;
    fixture f;
    one_cell(&f, "a;b");
    assert_string_equal(written(&f), "\"a;b\"\r\n");
    one_cell(&f, "dit \"oui\"");
    assert_string_equal(written(&f), "\"dit \"\"oui\"\"\"\r\n");
    one_cell(&f, "ligne 1\nligne 2");
    assert_string_equal(written(&f), "\"ligne 1\nligne 2\"\r\n");
    one_cell(&f, " espace");
    assert_string_equal(written(&f), "\" espace\"\r\n");
    one_cell(&f, "\"");
    assert_string_equal(written(&f), "\"\"\"\"\r\n");
}

static void test_formula_escape(void **state) {
    (void)state;
    fixture f;
    one_cell(&f, "=HYPERLINK(\"x\")");
    assert_string_equal(written(&f), "\"'=HYPERLINK(\"\"x\"\")\"\r\n");
    one_cell(&f, "+33 1 23");
    assert_string_equal(written(&f), "'+33 1 23\r\n");
    one_cell(&f, "-2+3");
    assert_string_equal(written(&f), "'-2+3\r\n");
    one_cell(&f, "@SUM(A1)");
    assert_string_equal(written(&f), "'@SUM(A1)\r\n");
    one_cell(&f, "\tcmd");
    assert_string_equal(written(&f), "'\tcmd\r\n");
    one_cell(&f, "\rcmd");
    assert_string_equal(written(&f), "\"'\rcmd\"\r\n");
    /* Only the first character decides. */
    one_cell(&f, "a=b");
    assert_string_equal(written(&f), "a=b\r\n");
    assert_false(sp_csv_is_formula("", 0));
}

static void test_amounts(void **state) {
    (void)state;
    char text[SP_CSV_AMOUNT_LEN_MAX + 1];
    sp_csv_amount_format(0, text);
    assert_string_equal(text, "0,00");
    sp_csv_amount_format(5, text);
    assert_string_equal(text, "0,05");
    sp_csv_amount_format(1250, text);
    assert_string_equal(text, "12,50");
    sp_csv_amount_format(1234567, text);
    assert_string_equal(text, "12345,67");
    sp_csv_amount_format(INT64_MAX, text);
    assert_string_equal(text, "92233720368547758,07");

    fixture f;
    start(&f, sizeof f.buf - 1);
    assert_int_equal(sp_csv_amount(&f.csv, 2500, &f.err), 0);
    assert_int_equal(sp_csv_amount(&f.csv, -1, &f.err), -1);
    assert_string_equal(f.err.code, "csv_negative_amount");
    assert_int_equal(sp_csv_end_row(&f.csv, &f.err), 0);
    assert_string_equal(written(&f), "25,00\r\n"); /* the refused amount wrote nothing */
}

static int64_t utc_ms(int year, int month, int day, int hour, int minute) {
    return (int64_t)sp_date_from_ymd(year, month, day) * MS_PER_DAY +
           ((int64_t)hour * 60 + minute) * 60000;
}

static void test_dates_in_paris_around_dst(void **state) {
    (void)state;
    char text[SP_CSV_DATE_LEN + 1];
    sp_csv_date_format(utc_ms(2026, 1, 15, 9, 5), text);
    assert_string_equal(text, "15/01/2026 10:05"); /* CET, UTC+1 */
    sp_csv_date_format(utc_ms(2026, 3, 29, 0, 59), text);
    assert_string_equal(text, "29/03/2026 01:59"); /* last minute of CET */
    sp_csv_date_format(utc_ms(2026, 3, 29, 1, 0), text);
    assert_string_equal(text, "29/03/2026 03:00"); /* 02:00 never happens */
    sp_csv_date_format(utc_ms(2026, 10, 25, 0, 59), text);
    assert_string_equal(text, "25/10/2026 02:59"); /* last minute of CEST */
    sp_csv_date_format(utc_ms(2026, 10, 25, 1, 0), text);
    assert_string_equal(text, "25/10/2026 02:00"); /* 02:00 again, in CET */
    sp_csv_date_format(utc_ms(2026, 12, 31, 23, 30), text);
    assert_string_equal(text, "01/01/2027 00:30"); /* the Paris day is the next one */
    /* Seconds and milliseconds are cut, not rounded. */
    sp_csv_date_format(utc_ms(2026, 6, 1, 10, 0) + 59999, text);
    assert_string_equal(text, "01/06/2026 12:00");
}

static void test_row_too_large_is_taken_back(void **state) {
    (void)state;
    fixture f;
    start(&f, 16);
    sp_csv_text(&f.csv, "abc", 3);
    assert_int_equal(sp_csv_end_row(&f.csv, &f.err), 0);
    sp_csv_text(&f.csv, "0123456789", 10);
    sp_csv_text(&f.csv, "0123456789", 10);
    assert_int_equal(sp_csv_end_row(&f.csv, &f.err), -1);
    assert_string_equal(f.err.code, "csv_row_too_large");
    assert_string_equal(written(&f), "abc\r\n");
    sp_csv_drain(&f.csv);
    sp_csv_text(&f.csv, "0123456789", 10);
    assert_int_equal(sp_csv_end_row(&f.csv, &f.err), 0);
    assert_string_equal(written(&f), "0123456789\r\n");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bom_separator_crlf),
        cmocka_unit_test(test_plain_text_is_not_quoted),
        cmocka_unit_test(test_rfc4180_quoting),
        cmocka_unit_test(test_formula_escape),
        cmocka_unit_test(test_amounts),
        cmocka_unit_test(test_dates_in_paris_around_dst),
        cmocka_unit_test(test_row_too_large_is_taken_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
