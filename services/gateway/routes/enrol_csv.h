/* enrol_csv.h - the CSV of beneficiaries a CCAS exports from its own
 * software, read and checked before anyone is enrolled from it.
 *
 * What is accepted (docs/api.md, "Enrolling from a CSV file"):
 * - UTF-8 with or without a byte-order mark; a file that is not valid
 *   UTF-8 is read as Windows-1252 (what spreadsheets on Windows write);
 * - `;` or `,` between fields, whichever the header line uses;
 * - RFC 4180 quoting: a quoted field may hold the delimiter, line breaks
 *   and doubled quotes; records end with CRLF, LF or CR;
 * - a header naming the columns `nom`, `prenom`, `email` in any order, in
 *   any case, with or without accents (`Prénom`, `E-mail`, `Courriel`...);
 *   an unknown, missing or repeated column refuses the file;
 * - at most SP_GW_ENROL_CSV_LINES_MAX records after the header and
 *   SP_GW_ENROL_CSV_BYTES_MAX bytes; records with only empty fields are
 *   ignored (spreadsheets leave them at the end).
 *
 * A record is numbered as a spreadsheet numbers its row: the header is line
 * 1, the first beneficiary line 2 (a quoted line break does not start a new
 * line). Each problem of a record names its line, its column (`nom`,
 * `prenom`, `email`, or "" for the whole line), a stable code and a French
 * sentence; a record with a problem is not enrolled, the others are.
 *
 * Pure: no I/O, no global state. sp_gw_enrol_csv_parse() allocates the
 * result, which the caller frees with sp_gw_enrol_csv_free(); the input
 * bytes are only borrowed during the call. */
#ifndef SP_GW_ENROL_CSV_H
#define SP_GW_ENROL_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sp_clock.h"
#include "sp_error.h"
#include "validate.h"

#define SP_GW_ENROL_CSV_BYTES_MAX (2 * 1024 * 1024) /* the upload, as sent */
#define SP_GW_ENROL_CSV_LINES_MAX 5000              /* beneficiary lines, header not counted */
#define SP_GW_ENROL_CSV_COLUMNS_MAX 32              /* fields of one record looked at */
#define SP_GW_ENROL_CSV_FIELD_BYTES_MAX 1024        /* a field as read, before its check */
/* `nom` and `prenom` each: both with a space between fit the 200
 * characters of a user's full name. */
#define SP_GW_ENROL_CSV_NAME_CHARS_MAX 99
#define SP_GW_ENROL_CSV_PROBLEMS_MAX 1000 /* problems listed; more are counted */
#define SP_GW_ENROL_CSV_CODE_MAX (SP_ERROR_CODE_MAX - 1)
#define SP_GW_ENROL_CSV_MESSAGE_MAX 239 /* bytes of the French sentence */
#define SP_GW_ENROL_CSV_COLUMN_MAX 63   /* bytes of a column name in a problem */

typedef enum {
    SP_GW_ENROL_CSV_UTF8 = 0,
    SP_GW_ENROL_CSV_UTF8_BOM,
    SP_GW_ENROL_CSV_WINDOWS_1252,
} sp_gw_enrol_csv_encoding;

typedef struct sp_gw_enrol_problem {
    int32_t line;                               /* 1 = the header */
    char field[SP_GW_ENROL_CSV_COLUMN_MAX + 1]; /* nom | prenom | email | "" */
    char code[SP_GW_ENROL_CSV_CODE_MAX + 1];
    char message[SP_GW_ENROL_CSV_MESSAGE_MAX + 1]; /* French, UTF-8 */
} sp_gw_enrol_problem;

/* One line without a problem: whom to enrol. */
typedef struct sp_gw_enrol_row {
    int32_t line;
    char email[SP_GW_EMAIL_LEN_MAX + 1]; /* lower-cased, as enrolment stores it */
    char *full_name;                     /* "Prénom Nom", UTF-8, in the result's arena */
} sp_gw_enrol_row;

typedef struct sp_gw_enrol_csv {
    sp_gw_enrol_csv_encoding encoding;
    char delimiter;        /* ';' or ',' */
    size_t lines_total;    /* beneficiary lines (blank ones not counted) */
    sp_gw_enrol_row *rows; /* the valid lines, in file order */
    size_t row_count;
    sp_gw_enrol_problem *problems; /* the first SP_GW_ENROL_CSV_PROBLEMS_MAX */
    size_t problem_count;
    size_t problems_total; /* listed or not */
    char *arena;           /* the rows' full names */
    size_t arena_used, arena_size;
} sp_gw_enrol_csv;

/* Reads and checks len bytes (bytes may hold NUL bytes, which are refused as
 * control characters). 0: *out holds the valid rows and the lines' problems
 * (a file may have both). -1: the file as a whole is refused, *out is left
 * empty and err says why, its message in French: 413 body_too_large (over
 * SP_GW_ENROL_CSV_BYTES_MAX), 422 csv_empty (no header), csv_unknown_column,
 * csv_missing_column, csv_duplicate_column (field: the column),
 * csv_too_many_lines, or 503 unavailable (out of memory). */
int sp_gw_enrol_csv_parse(const uint8_t *bytes, size_t len, sp_gw_enrol_csv *out, sp_error *err);

/* Adds a problem found later (an e-mail already enrolled, a refusal of the
 * accounts service): listed while there is room, always counted. */
void sp_gw_enrol_csv_problem_add(sp_gw_enrol_csv *csv, int32_t line, const char *field,
                                 const char *code, const char *message);

/* "utf-8", "utf-8-bom" or "windows-1252", as the API names it. */
const char *sp_gw_enrol_csv_encoding_name(sp_gw_enrol_csv_encoding encoding);

void sp_gw_enrol_csv_free(sp_gw_enrol_csv *csv);

/* Problems by line, those of one line in the order they were added (the
 * dry run adds e-mails already enrolled after the file's own problems). */
void sp_gw_enrol_csv_problems_sort(sp_gw_enrol_csv *csv);

/* ------------------------------------------------------------------ the upload's query */

/* What every line of an upload receives: a pass with one envelope of
 * category (ending on end_date, "" for never), credited amount_cents. */
typedef struct sp_gw_enrol_query {
    bool dry_run;
    char category[SP_GW_CATEGORY_LEN_MAX + 1];
    int64_t amount_cents;
    char end_date[11]; /* "YYYY-MM-DD" or "" */
} sp_gw_enrol_query;

/* The raw query string (may be NULL): dry_run=true|false (default false),
 * category (required; "general" allowed), amount_cents (required, 1 to
 * amount_cents_max), end_date (optional, not before today). 400
 * missing_field | invalid_value | unknown_field, 422 invalid_category |
 * invalid_amount | invalid_date, each naming its parameter. Values are taken
 * as written (none of the valid ones needs %-encoding). */
int sp_gw_enrol_query_parse(const char *query, int64_t amount_cents_max, sp_date today,
                            sp_gw_enrol_query *out, sp_error *err);

/* ------------------------------------------------------------------ command ids */

#define SP_GW_ENROL_COMMAND_ID_LEN 60 /* "imp-" and 56 hex digits */

/* The command id of one step ("enrol" or "credit") of one line: derived
 * from the file's SHA-256 (64 hex digits), the allocation and the line's
 * e-mail, so that the same file sent again, under any Idempotency-Key,
 * sends the same commands, which the services answer with their first
 * outcome instead of a second enrolment or credit. */
void sp_gw_enrol_command_id(const char *file_sha256_hex, const sp_gw_enrol_query *allocation,
                            const char *email, const char *step,
                            char out[SP_GW_ENROL_COMMAND_ID_LEN + 1]);

#endif
