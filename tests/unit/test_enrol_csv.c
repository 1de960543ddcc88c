/* test_enrol_csv.c - the CSV of beneficiaries: encodings, delimiters,
 * RFC 4180 quoting, the header's names, each line's checks and the bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gateway/routes/enrol_csv.h"

static int parse(const char *text, sp_gw_enrol_csv *csv, sp_error *err) {
    return sp_gw_enrol_csv_parse((const uint8_t *)text, strlen(text), csv, err);
}

static void assert_problem(const sp_gw_enrol_csv *csv, size_t index, int line, const char *field,
                           const char *code) {
    assert_true(index < csv->problem_count);
    assert_int_equal(csv->problems[index].line, line);
    assert_string_equal(csv->problems[index].field, field);
    assert_string_equal(csv->problems[index].code, code);
    assert_true(strlen(csv->problems[index].message) > 10);
}

static void test_utf8_semicolons_crlf(void **state) {
    (void)state;
    sp_gw_enrol_csv csv;
    sp_error err;
    assert_int_equal(parse("nom;prenom;email\r\nDurand;Zoé;Zoe.Durand@Example.org\r\n"
                           "Martin;Léo;leo@example.org\r\n",
                           &csv, &err),
                     0);
    assert_int_equal(csv.encoding, SP_GW_ENROL_CSV_UTF8);
    assert_int_equal(csv.delimiter, ';');
    assert_int_equal(csv.lines_total, 2);
    assert_int_equal(csv.row_count, 2);
    assert_int_equal(csv.problem_count, 0);
    assert_int_equal(csv.rows[0].line, 2);
    assert_string_equal(csv.rows[0].email, "zoe.durand@example.org");
    assert_string_equal(csv.rows[0].full_name, "Zoé Durand");
    assert_string_equal(csv.rows[1].full_name, "Léo Martin");
    assert_string_equal(sp_gw_enrol_csv_encoding_name(csv.encoding), "utf-8");
    sp_gw_enrol_csv_free(&csv);
}

static void test_bom_commas_lf_any_order_and_header_spelling(void **state) {
    (void)state;
    sp_gw_enrol_csv csv;
    sp_error err;
    assert_int_equal(parse("\xEF\xBB\xBF"
                           "E-mail,PRÉNOM, Nom \nleo@example.org,Léo,Martin",
                           &csv, &err),
                     0);
    assert_int_equal(csv.encoding, SP_GW_ENROL_CSV_UTF8_BOM);
    assert_int_equal(csv.delimiter, ',');
    assert_int_equal(csv.row_count, 1);
    assert_string_equal(csv.rows[0].full_name, "Léo Martin");
    assert_string_equal(csv.rows[0].email, "leo@example.org");
    sp_gw_enrol_csv_free(&csv);
    assert_int_equal(parse("Courriel;Prenom;NOM\nleo@example.org;Léo;Martin\n", &csv, &err), 0);
    assert_int_equal(csv.row_count, 1);
    sp_gw_enrol_csv_free(&csv);
}

static void test_windows_1252_bytes_are_decoded(void **state) {
    (void)state;
    sp_gw_enrol_csv csv;
    sp_error err;
    /* é = 0xE9, ï = 0xEF, Œ = 0x8C, ’ = 0x92 in Windows-1252: not UTF-8. */
    const char text[] = "nom;pr\xE9nom;email\r\nB\x9C uf;Ana\xEFs;anais@example.org\r\n"
                        "L\x92Hermite;\x8C"
                        "dile;odile@example.org\r\n";
    assert_int_equal(parse(text, &csv, &err), 0);
    assert_int_equal(csv.encoding, SP_GW_ENROL_CSV_WINDOWS_1252);
    assert_int_equal(csv.row_count, 2);
    assert_string_equal(csv.rows[0].full_name, "Anaïs Bœ uf");
    assert_string_equal(csv.rows[1].full_name, "Œdile L’Hermite");
    assert_string_equal(sp_gw_enrol_csv_encoding_name(csv.encoding), "windows-1252");
    sp_gw_enrol_csv_free(&csv);
    /* A BOM before Windows-1252 text is dropped too. */
    assert_int_equal(parse("\xEF\xBB\xBFnom;pr\xE9nom;email\nA;B;b@example.org\n", &csv, &err), 0);
    assert_int_equal(csv.encoding, SP_GW_ENROL_CSV_WINDOWS_1252);
    assert_int_equal(csv.row_count, 1);
    sp_gw_enrol_csv_free(&csv);
}

static void test_rfc4180_quotes_delimiters_and_line_breaks(void **state) {
    (void)state;
    sp_gw_enrol_csv csv;
    sp_error err;
    /* A quoted comma, a doubled quote; then a name with a quoted line break
     * (refused as a control character) counts as one line; then a line
     * whose quote is not closed before text. */
    const char text[] = "nom,prenom,email\n\"Martin, dit \"\"Le Grand\"\"\",Léo,leo@example.org\n"
                        "\"Dupont\nDurand\",Zoé,zoe@example.org\n"
                        "\"Petit\"x,Ana,ana@example.org\n"
                        "Roux,Ève,eve@example.org\n";
    assert_int_equal(parse(text, &csv, &err), 0);
    assert_int_equal(csv.lines_total, 4);
    assert_int_equal(csv.row_count, 2);
    assert_string_equal(csv.rows[0].full_name, "Léo Martin, dit \"Le Grand\"");
    assert_int_equal(csv.rows[1].line, 5);
    assert_int_equal(csv.problem_count, 2);
    assert_problem(&csv, 0, 3, "nom", "invalid_value");
    assert_problem(&csv, 1, 4, "", "invalid_quotes");
    sp_gw_enrol_csv_free(&csv);
}

static void test_each_line_problem_names_line_and_field(void **state) {
    (void)state;
    sp_gw_enrol_csv csv;
    sp_error err;
    const char text[] = "nom;prenom;email\n"
                        "Martin;Léo;leo@example.org\n"
                        ";Zoé;zoe@example.org\n"       /* 3: no nom */
                        "Durand;Ana;pas-une-adresse\n" /* 4: bad e-mail */
                        "Roux;Ève;LEO@example.org\n"   /* 5: e-mail of line 2 */
                        "Petit;Jean\n"                 /* 6: a field missing */
                        ";;\n"                         /* blank: ignored */
                        "Blanc;Paul;;\n"               /* 8: one field too many */
                        "Noir;;\n";                    /* 9: no prenom, no email */
    assert_int_equal(parse(text, &csv, &err), 0);
    assert_int_equal(csv.lines_total, 7);
    assert_int_equal(csv.row_count, 1);
    assert_int_equal(csv.problems_total, 7);
    assert_problem(&csv, 0, 3, "nom", "missing_value");
    assert_problem(&csv, 1, 4, "email", "invalid_email");
    assert_problem(&csv, 2, 5, "email", "duplicate_email");
    assert_non_null(strstr(csv.problems[2].message, "ligne 2"));
    assert_problem(&csv, 3, 6, "", "wrong_field_count");
    assert_problem(&csv, 4, 8, "", "wrong_field_count");
    assert_problem(&csv, 5, 9, "prenom", "missing_value");
    assert_problem(&csv, 6, 9, "email", "missing_value");
    sp_gw_enrol_csv_free(&csv);
}

static void test_header_refusals_name_the_column(void **state) {
    (void)state;
    sp_gw_enrol_csv csv;
    sp_error err;
    assert_int_equal(parse("nom;prenom;email;telephone\nA;B;a@example.org;06\n", &csv, &err), -1);
    assert_int_equal(err.http_status, 422);
    assert_string_equal(err.code, "csv_unknown_column");
    assert_string_equal(err.field, "telephone");
    assert_int_equal(parse("nom;email\nA;a@example.org\n", &csv, &err), -1);
    assert_string_equal(err.code, "csv_missing_column");
    assert_string_equal(err.field, "prenom");
    assert_int_equal(parse("nom;prénom;Prenom;email\n", &csv, &err), -1);
    assert_string_equal(err.code, "csv_duplicate_column");
    assert_string_equal(err.field, "prenom");
    assert_int_equal(parse("", &csv, &err), -1);
    assert_string_equal(err.code, "csv_empty");
    assert_int_equal(parse("\r\n\r\n", &csv, &err), -1);
    assert_string_equal(err.code, "csv_empty");
    assert_null(csv.rows);
    /* A header with only the expected columns and no line is no error. */
    assert_int_equal(parse("nom;prenom;email\r\n", &csv, &err), 0);
    assert_int_equal(csv.lines_total, 0);
    sp_gw_enrol_csv_free(&csv);
}

static void test_bounds_lines_bytes_fields(void **state) {
    (void)state;
    sp_gw_enrol_csv csv;
    sp_error err;
    size_t size = 64 + (SP_GW_ENROL_CSV_LINES_MAX + 1) * 40;
    char *text = malloc(size);
    assert_non_null(text);
    size_t len = (size_t)sprintf(text, "nom;prenom;email\n");
    for (int i = 0; i < SP_GW_ENROL_CSV_LINES_MAX; i++)
        len += (size_t)sprintf(text + len, "N%d;P;p%d@example.org\n", i, i);
    assert_int_equal(parse(text, &csv, &err), 0);
    assert_int_equal(csv.row_count, SP_GW_ENROL_CSV_LINES_MAX);
    assert_int_equal(csv.rows[SP_GW_ENROL_CSV_LINES_MAX - 1].line, SP_GW_ENROL_CSV_LINES_MAX + 1);
    sp_gw_enrol_csv_free(&csv);
    sprintf(text + len, "Last;P;last@example.org\n");
    assert_int_equal(parse(text, &csv, &err), -1);
    assert_string_equal(err.code, "csv_too_many_lines");
    free(text);

    uint8_t *big = calloc(SP_GW_ENROL_CSV_BYTES_MAX + 1, 1);
    assert_non_null(big);
    assert_int_equal(sp_gw_enrol_csv_parse(big, SP_GW_ENROL_CSV_BYTES_MAX + 1, &csv, &err), -1);
    assert_int_equal(err.http_status, 413);
    free(big);

    /* A field longer than its bound is refused, the name beyond 99 characters too. */
    char line[4096];
    int n = sprintf(line, "nom;prenom;email\n");
    memset(line + n, 'a', 1500);
    n += 1500;
    n += sprintf(line + n, ";B;a@example.org\n");
    memset(line + n, 'b', 100);
    n += 100;
    sprintf(line + n, ";B;b@example.org\nC;D;c@example.org\n");
    assert_int_equal(parse(line, &csv, &err), 0);
    assert_int_equal(csv.row_count, 1);
    assert_problem(&csv, 0, 2, "nom", "too_long");
    assert_problem(&csv, 1, 3, "nom", "too_long");
    sp_gw_enrol_csv_free(&csv);
}

static void test_problems_are_bounded_and_counted(void **state) {
    (void)state;
    sp_gw_enrol_csv csv;
    sp_error err;
    size_t lines = SP_GW_ENROL_CSV_PROBLEMS_MAX + 10;
    char *text = malloc(32 + lines * 8);
    assert_non_null(text);
    size_t len = (size_t)sprintf(text, "nom;prenom;email\n");
    for (size_t i = 0; i < lines; i++) len += (size_t)sprintf(text + len, "A;B;x\n");
    assert_int_equal(parse(text, &csv, &err), 0);
    assert_int_equal(csv.problem_count, SP_GW_ENROL_CSV_PROBLEMS_MAX);
    assert_int_equal(csv.problems_total, lines);
    sp_gw_enrol_csv_problem_add(&csv, 2, "email", "email_enrolled", "déjà inscrit");
    assert_int_equal(csv.problems_total, lines + 1);
    sp_gw_enrol_csv_free(&csv);
    free(text);
}

static void test_nul_and_controls_refused(void **state) {
    (void)state;
    sp_gw_enrol_csv csv;
    sp_error err;
    const char text[] = "nom;prenom;email\nA\0B;C;c@example.org\nD;E\tF;d@example.org\n";
    assert_int_equal(sp_gw_enrol_csv_parse((const uint8_t *)text, sizeof text - 1, &csv, &err), 0);
    assert_int_equal(csv.row_count, 0);
    assert_problem(&csv, 0, 2, "nom", "invalid_value");
    assert_problem(&csv, 1, 3, "prenom", "invalid_value");
    sp_gw_enrol_csv_free(&csv);
}

static void test_query_allocation_checked(void **state) {
    (void)state;
    sp_gw_enrol_query q;
    sp_error err;
    sp_date today = 0;
    assert_int_equal(sp_date_parse("2026-12-07", &today, &err), 0);
    assert_int_equal(sp_gw_enrol_query_parse("dry_run=true&category=sport&amount_cents=5000"
                                             "&end_date=2027-06-30",
                                             100000, today, &q, &err),
                     0);
    assert_true(q.dry_run);
    assert_string_equal(q.category, "sport");
    assert_int_equal(q.amount_cents, 5000);
    assert_string_equal(q.end_date, "2027-06-30");
    assert_int_equal(
        sp_gw_enrol_query_parse("category=general&amount_cents=1", 100000, today, &q, &err), 0);
    assert_false(q.dry_run);
    assert_string_equal(q.end_date, "");
    struct {
        const char *query;
        int status;
        const char *code;
        const char *field;
    } bad[] = {
        {"amount_cents=5000", 400, "missing_field", "category"},
        {"category=sport", 400, "missing_field", "amount_cents"},
        {"category=Sport&amount_cents=5000", 422, "invalid_category", "category"},
        {"category=sport&amount_cents=0", 422, "invalid_amount", "amount_cents"},
        {"category=sport&amount_cents=-5", 422, "invalid_amount", "amount_cents"},
        {"category=sport&amount_cents=12.5", 422, "invalid_amount", "amount_cents"},
        {"category=sport&amount_cents=100001", 422, "invalid_amount", "amount_cents"},
        {"category=sport&amount_cents=5000&end_date=2026-02-30", 422, "invalid_date", "end_date"},
        {"category=sport&amount_cents=5000&end_date=2026-12-06", 422, "invalid_date", "end_date"},
        {"category=sport&amount_cents=5000&dry_run=yes", 400, "invalid_value", "dry_run"},
        {"category=sport&amount_cents=5000&colour=red", 400, "unknown_field", ""},
        {"category=sport&category=culture&amount_cents=5000", 400, "invalid_value", "category"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sp_gw_enrol_query_parse(bad[i].query, 100000, today, &q, &err), -1);
        assert_int_equal(err.http_status, bad[i].status);
        assert_string_equal(err.code, bad[i].code);
        assert_string_equal(err.field, bad[i].field);
    }
}

static void test_command_ids_follow_file_allocation_and_email(void **state) {
    (void)state;
    const char sha[] = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    sp_gw_enrol_query q = {.category = "sport", .amount_cents = 5000, .end_date = ""};
    char a[SP_GW_ENROL_COMMAND_ID_LEN + 1], b[SP_GW_ENROL_COMMAND_ID_LEN + 1];
    sp_gw_enrol_command_id(sha, &q, "zoe@example.org", "enrol", a);
    sp_gw_enrol_command_id(sha, &q, "zoe@example.org", "enrol", b);
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), SP_GW_ENROL_COMMAND_ID_LEN);
    assert_int_equal(strncmp(a, "imp-", 4), 0);
    assert_int_equal(strspn(a + 4, "0123456789abcdef"), 56);
    sp_gw_enrol_command_id(sha, &q, "zoe@example.org", "credit", b);
    assert_string_not_equal(a, b);
    sp_gw_enrol_command_id(sha, &q, "leo@example.org", "enrol", b);
    assert_string_not_equal(a, b);
    q.amount_cents = 5001;
    sp_gw_enrol_command_id(sha, &q, "zoe@example.org", "enrol", b);
    assert_string_not_equal(a, b);
    q.amount_cents = 5000;
    sp_gw_enrol_command_id("0f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", &q,
                           "zoe@example.org", "enrol", b);
    assert_string_not_equal(a, b);
}

static void test_problems_sorted_by_line_stable(void **state) {
    (void)state;
    sp_gw_enrol_csv csv;
    sp_error err;
    assert_int_equal(
        parse("nom;prenom;email\n;A;a@example.org\nB;;x\nC;D;c@example.org\n", &csv, &err), 0);
    sp_gw_enrol_csv_problem_add(&csv, 4, "email", "email_enrolled", "déjà inscrit ici");
    sp_gw_enrol_csv_problem_add(&csv, 2, "email", "email_enrolled", "déjà inscrit ici");
    sp_gw_enrol_csv_problems_sort(&csv);
    assert_problem(&csv, 0, 2, "nom", "missing_value");
    assert_problem(&csv, 1, 2, "email", "email_enrolled");
    assert_problem(&csv, 2, 3, "prenom", "missing_value");
    assert_problem(&csv, 3, 3, "email", "invalid_email");
    assert_problem(&csv, 4, 4, "email", "email_enrolled");
    sp_gw_enrol_csv_free(&csv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_semicolons_crlf),
        cmocka_unit_test(test_bom_commas_lf_any_order_and_header_spelling),
        cmocka_unit_test(test_windows_1252_bytes_are_decoded),
        cmocka_unit_test(test_rfc4180_quotes_delimiters_and_line_breaks),
        cmocka_unit_test(test_each_line_problem_names_line_and_field),
        cmocka_unit_test(test_header_refusals_name_the_column),
        cmocka_unit_test(test_bounds_lines_bytes_fields),
        cmocka_unit_test(test_problems_are_bounded_and_counted),
        cmocka_unit_test(test_nul_and_controls_refused),
        cmocka_unit_test(test_query_allocation_checked),
        cmocka_unit_test(test_command_ids_follow_file_allocation_and_email),
        cmocka_unit_test(test_problems_sorted_by_line_stable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
