/* csv.h - the CSV dialect of the exports, as French spreadsheet software
 * opens it without a question: UTF-8 with a byte-order mark, ';' between
 * cells, CRLF after every row, RFC 4180 quoting, amounts with a decimal
 * comma ("12,50"), dates "JJ/MM/AAAA HH:MM" in Europe/Paris, and every cell
 * that a spreadsheet would take for a formula (starting with = + - @, a tab
 * or a CR) made inert by a leading apostrophe. Pure: no I/O, no allocation.
 *
 * Memory: a sp_csv writes into a buffer the caller owns; the caller empties
 * it (writes buf[0..len) somewhere, then sp_csv_drain) between rows. A row
 * that does not fit fails with 500 csv_row_too_large and leaves the buffer as
 * it was before the row began. */
#ifndef SP_CSV_H
#define SP_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sp_error.h"

#define SP_CSV_BOM "\xEF\xBB\xBF"
#define SP_CSV_SEPARATOR ';'
#define SP_CSV_AMOUNT_LEN_MAX 24 /* "92233720368547758,07" */
#define SP_CSV_DATE_LEN 16       /* "27/11/2026 10:00" */

typedef struct sp_csv {
    char *buf;
    size_t size;
    size_t len;       /* bytes written, not yet drained */
    size_t row_start; /* where the row being written began */
    size_t cells;     /* cells of the row being written */
    bool failed;      /* a cell of this row did not fit */
} sp_csv;

void sp_csv_init(sp_csv *csv, char *buf, size_t size);
/* The byte-order mark: first thing of a file, once. */
int sp_csv_bom(sp_csv *csv, sp_error *err);
/* One text cell (len bytes of UTF-8): formula escape, then quoting when it
 * holds ';', '"', CR or LF, or starts or ends with a space. */
void sp_csv_text(sp_csv *csv, const char *text, size_t len);
/* Cents as euros with a decimal comma and no thousands separator: 0 -> "0,00",
 * 5 -> "0,05", 1234567 -> "12345,67". 500 csv_negative_amount when below 0
 * (the exports hold no negative amount: a sign would be taken for a formula). */
int sp_csv_amount(sp_csv *csv, int64_t cents, sp_error *err);
/* The Europe/Paris wall time of a UTC instant, "JJ/MM/AAAA HH:MM". */
void sp_csv_date(sp_csv *csv, int64_t utc_ms);
/* An empty cell (a value the row does not have). */
void sp_csv_empty(sp_csv *csv);
/* Ends the row with CRLF. -1 (500 csv_row_too_large) when a cell of it did
 * not fit: the row is taken back whole. */
int sp_csv_end_row(sp_csv *csv, sp_error *err);
/* Forgets the len bytes already written elsewhere (the whole buffer). */
void sp_csv_drain(sp_csv *csv);

/* Pure helpers, also used by the tests. */
/* cents >= 0 into out (SP_CSV_AMOUNT_LEN_MAX + 1 bytes). */
void sp_csv_amount_format(int64_t cents, char *out);
/* utc_ms into out (SP_CSV_DATE_LEN + 1 bytes). */
void sp_csv_date_format(int64_t utc_ms, char *out);
/* Whether a spreadsheet would read this cell as a formula. */
bool sp_csv_is_formula(const char *text, size_t len);

#endif
