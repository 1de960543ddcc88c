/* csv.c - the exports' CSV dialect (see csv.h). */
#include "csv.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "sp_clock.h"

#define MS_PER_DAY INT64_C(86400000)
#define MS_PER_MINUTE INT64_C(60000)

void sp_csv_init(sp_csv *csv, char *buf, size_t size) {
    assert(csv != NULL);
    assert(buf != NULL);
    assert(size > 0);
    memset(csv, 0, sizeof *csv);
    csv->buf = buf;
    csv->size = size;
}

static void put(sp_csv *csv, const char *bytes, size_t len) {
    assert(csv != NULL);
    assert(bytes != NULL || len == 0);
    assert(csv->len <= csv->size);
    if (csv->failed || len > csv->size - csv->len) {
        csv->failed = true;
        return;
    }
    memcpy(csv->buf + csv->len, bytes, len);
    csv->len += len;
}

static void begin_cell(sp_csv *csv) {
    assert(csv != NULL);
    if (csv->cells == 0) csv->row_start = csv->len;
    if (csv->cells > 0) put(csv, ";", 1);
    csv->cells++;
}

int sp_csv_bom(sp_csv *csv, sp_error *err) {
    assert(csv != NULL);
    assert(csv->cells == 0);
    if (csv->len + 3 > csv->size) {
        return sp_error_set(err, 500, "csv_row_too_large", "", "no room for the byte-order mark");
    }
    put(csv, SP_CSV_BOM, 3);
    return 0;
}

bool sp_csv_is_formula(const char *text, size_t len) {
    assert(text != NULL || len == 0);
    return len > 0 && strchr("=+-@\t\r", text[0]) != NULL;
}

static bool needs_quotes(const char *text, size_t len) {
    assert(text != NULL || len == 0);
    if (len > 0 && (text[0] == ' ' || text[len - 1] == ' ')) return true;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ';' || text[i] == '"' || text[i] == '\r' || text[i] == '\n') return true;
    }
    return false;
}

void sp_csv_text(sp_csv *csv, const char *text, size_t len) {
    assert(csv != NULL);
    assert(text != NULL || len == 0);
    begin_cell(csv);
    bool quoted = needs_quotes(text, len);
    if (quoted) put(csv, "\"", 1);
    /* The apostrophe is what spreadsheets themselves use to mark "text, not a formula". */
    if (sp_csv_is_formula(text, len)) put(csv, "'", 1);
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] != '"') continue;
        put(csv, text + start, i + 1 - start); /* through the quote ... */
        put(csv, "\"", 1);                     /* ... which is doubled */
        start = i + 1;
    }
    put(csv, text + start, len - start);
    if (quoted) put(csv, "\"", 1);
}

void sp_csv_amount_format(int64_t cents, char *out) {
    assert(cents >= 0);
    assert(out != NULL);
    snprintf(out, SP_CSV_AMOUNT_LEN_MAX + 1, "%" PRId64 ",%02" PRId64, cents / 100, cents % 100);
}

int sp_csv_amount(sp_csv *csv, int64_t cents, sp_error *err) {
    assert(csv != NULL);
    if (cents < 0) {
        return sp_error_set(err, 500, "csv_negative_amount", "",
                            "an exported amount is negative (%" PRId64 " cents)", cents);
    }
    char text[SP_CSV_AMOUNT_LEN_MAX + 1];
    sp_csv_amount_format(cents, text);
    begin_cell(csv);
    put(csv, text, strlen(text));
    return 0;
}

static int64_t floor_div(int64_t a, int64_t b) {
    assert(b != 0);
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* value (0 <= value < 10^count) as count decimal digits, zero-padded. */
static void digits(char *out, int value, int count) {
    assert(value >= 0);
    for (int i = count - 1; i >= 0; i--) {
        out[i] = (char)('0' + value % 10);
        value /= 10;
    }
}

void sp_csv_date_format(int64_t utc_ms, char *out) {
    assert(out != NULL);
    int64_t local_ms = utc_ms + sp_paris_utc_offset_ms(utc_ms);
    int64_t days = floor_div(local_ms, MS_PER_DAY);
    int64_t minutes = (local_ms - days * MS_PER_DAY) / MS_PER_MINUTE;
    int year = 0, month = 0, day = 0;
    sp_date_to_ymd((sp_date)days, &year, &month, &day);
    assert(year >= 0);
    assert(year <= 9999);
    digits(out, day, 2);
    out[2] = '/';
    digits(out + 3, month, 2);
    out[5] = '/';
    digits(out + 6, year, 4);
    out[10] = ' ';
    digits(out + 11, (int)(minutes / 60), 2);
    out[13] = ':';
    digits(out + 14, (int)(minutes % 60), 2);
    out[SP_CSV_DATE_LEN] = '\0';
}

void sp_csv_date(sp_csv *csv, int64_t utc_ms) {
    assert(csv != NULL);
    char text[SP_CSV_DATE_LEN + 1];
    sp_csv_date_format(utc_ms, text);
    begin_cell(csv);
    put(csv, text, strlen(text));
}

void sp_csv_empty(sp_csv *csv) {
    assert(csv != NULL);
    begin_cell(csv);
}

int sp_csv_end_row(sp_csv *csv, sp_error *err) {
    assert(csv != NULL);
    assert(csv->cells > 0);
    put(csv, "\r\n", 2);
    bool failed = csv->failed;
    if (failed) csv->len = csv->row_start;
    csv->cells = 0;
    csv->failed = false;
    if (failed) {
        return sp_error_set(err, 500, "csv_row_too_large", "",
                            "a row is larger than the %zu bytes of the buffer", csv->size);
    }
    return 0;
}

void sp_csv_drain(sp_csv *csv) {
    assert(csv != NULL);
    assert(csv->cells == 0);
    csv->len = 0;
    csv->row_start = 0;
}
