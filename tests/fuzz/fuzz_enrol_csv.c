/* fuzz_enrol_csv.c - libFuzzer target: the CSV of beneficiaries to enrol
 * (services/gateway/routes/enrol_csv.c), bytes as uploaded. Besides no crash, no
 * leak and no undefined behaviour, what it returns must hold together:
 * valid rows are lines, each with a lower-case e-mail and a UTF-8 name,
 * problems listed within their bound and counted.
 *
 * Built and run by tests/fuzz/run (clang, libFuzzer, ASan and UBSan). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/routes/enrol_csv.h"
#include "sp_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sp_gw_enrol_csv csv;
    sp_error err;
    if (sp_gw_enrol_csv_parse(data, size, &csv, &err) != 0) {
        if (err.http_status != 413 && err.http_status != 422 && err.http_status != 503) abort();
        if (csv.rows != NULL || csv.problems != NULL || csv.arena != NULL) abort();
        return 0;
    }
    if (csv.row_count > csv.lines_total || csv.lines_total > SP_GW_ENROL_CSV_LINES_MAX) abort();
    if (csv.problem_count > SP_GW_ENROL_CSV_PROBLEMS_MAX || csv.problem_count > csv.problems_total)
        abort();
    if (csv.delimiter != ';' && csv.delimiter != ',') abort();
    for (size_t i = 0; i < csv.row_count; i++) {
        const sp_gw_enrol_row *row = &csv.rows[i];
        if (row->line < 2 || (i > 0 && row->line <= csv.rows[i - 1].line)) abort();
        if (strchr(row->email, '@') == NULL) abort();
        for (const char *c = row->email; *c != '\0'; c++)
            if (*c >= 'A' && *c <= 'Z') abort();
        size_t name_len = strlen(row->full_name);
        if (!sp_text_utf8_valid(row->full_name, name_len) ||
            sp_text_has_control_char(row->full_name, name_len))
            abort();
    }
    sp_gw_enrol_csv_problems_sort(&csv);
    for (size_t i = 1; i < csv.problem_count; i++)
        if (csv.problems[i].line < csv.problems[i - 1].line) abort();
    sp_gw_enrol_csv_free(&csv);
    return 0;
}
