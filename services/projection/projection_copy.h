/* projection_copy.h - a replay's folded new rows in PostgreSQL's COPY text
 * or binary format, so that `--replay` writes them with COPY FROM STDIN
 * instead of one INSERT ... SELECT FROM unnest(...) per table.
 *
 * The fold (projection_fold.h) renders each table's new rows as one
 * PostgreSQL array literal per column, the parameters of a statement of the
 * shape "INSERT INTO t (c1, ..., cn) SELECT * FROM unnest($1::..., ...,
 * $n::...) [ON CONFLICT ... DO NOTHING]" (possibly inside "WITH w AS
 * (...)").
 * sp_projection_copy_sql() derives "COPY t (c1, ..., cn) FROM STDIN" from
 * such a statement (and refuses any other shape: updates, upserts that
 * change a row, computed columns), sp_projection_copy_rows() transposes the arrays into COPY's text
 * rows. Deriving both from the statement itself keeps one definition of the
 * columns: a column added to an insert is copied without a change here.
 * COPY has no ON CONFLICT: where the statement would skip a duplicate key,
 * the COPY fails, and its caller writes that chunk with the statements.
 *
 * COPY text format: fields separated by a tab, rows ended by a newline,
 * NULL written \N; inside a field a backslash, tab, newline and carriage
 * return are escaped (\\, \t, \n, \r); every other byte, UTF-8 included,
 * passes as it is. A NUL byte cannot be sent (PostgreSQL text never holds
 * one): it is refused.
 *
 * Pure: no I/O. Memory: a sp_projection_copy_buf grows by realloc, bounded
 * by SP_PROJECTION_COPY_BYTES_MAX; its owner frees it with
 * sp_projection_copy_buf_free(). */
#ifndef SP_PROJECTION_COPY_H
#define SP_PROJECTION_COPY_H

#include <stdbool.h>
#include <stddef.h>
#include "sp_error.h"

/* One COPY's rows at most (a replay chunk's history rows are the largest:
 * SP_REPLAY_CHUNK_EVENTS_MAX rows of well under 1 KiB: under 1 GiB). */
#define SP_PROJECTION_COPY_BYTES_MAX ((size_t)1 << 30)
#define SP_PROJECTION_COPY_SQL_MAX 1024
#define SP_PROJECTION_COPY_COLUMNS_MAX 32

typedef struct sp_projection_copy_buf {
    char *data;
    size_t len, cap;
} sp_projection_copy_buf;

void sp_projection_copy_buf_clear(sp_projection_copy_buf *buf);
void sp_projection_copy_buf_free(sp_projection_copy_buf *buf);

/* Appends value (value_len bytes, may hold any byte but NUL) as one field.
 * -1 with err "copy_invalid" (a NUL byte), "copy_too_large" or
 * "out_of_memory"; buf then holds a partial field and must be cleared. */
int sp_projection_copy_field(sp_projection_copy_buf *buf, const char *value, size_t value_len,
                             sp_error *err);
/* Appends \N. */
int sp_projection_copy_null(sp_projection_copy_buf *buf, sp_error *err);

/* Transposes column_count one-dimensional array literals of equal length
 * ("{}" empty; elements quoted with backslash escapes, or bare, NULL for
 * null) into COPY text rows appended to buf; *rows_out is their number.
 * -1 with err "copy_invalid" when an array is malformed or the lengths
 * differ. */
int sp_projection_copy_rows(sp_projection_copy_buf *buf, const char *const *arrays,
                            int column_count, size_t *rows_out, sp_error *err);

/* Writes into out the COPY statement equivalent to insert_sql when it has
 * the shape above with exactly param_count columns and parameters; false
 * (out untouched) for any other statement. */
bool sp_projection_copy_sql(const char *insert_sql, int param_count, char *out, size_t out_size);

/* COPY's binary format, for the columns of types the server reads in it
 * far more cheaply than their text (PostgreSQL 15 parses a uuid's text one
 * strtoul per byte, a timestamp through its date parser): each row a
 * 16-bit field count, each field a 32-bit length (-1: NULL) and its bytes,
 * big-endian; uuid as its 16 bytes, bigint and integer as 8 and 4 bytes,
 * timestamptz as microseconds since 2000-01-01 UTC, jsonb as version 1 and
 * its text, text as itself. The values are the ones the text format
 * would give: the checksums cannot tell the two apart. */
typedef enum {
    SP_PROJECTION_COPY_TEXT,
    SP_PROJECTION_COPY_UUID,
    SP_PROJECTION_COPY_BIGINT,
    SP_PROJECTION_COPY_INTEGER,
    SP_PROJECTION_COPY_TIMESTAMPTZ,
    SP_PROJECTION_COPY_JSONB,
} sp_projection_copy_type;

/* Like sp_projection_copy_sql(), "... FROM STDIN (FORMAT binary)", with
 * each column's type (from the statement's casts) in types; false when a
 * column's type is none of the above. */
bool sp_projection_copy_binary_sql(const char *insert_sql, int param_count, char *out,
                                   size_t out_size, sp_projection_copy_type *types);

/* The arrays (as sp_projection_copy_rows() takes them) as binary COPY's
 * data, header and trailer included, appended to buf. -1 with err
 * "copy_invalid" when a value is not in the one text form the projection
 * writes for its type (a timestamp "YYYY-MM-DDTHH:MM:SS.mmmZ", years 2000
 * to 2199; a uuid of 36 characters; an integer in range), the arrays are
 * malformed, or a value holds a NUL byte: the caller then sends the text
 * format, which lets the server judge. */
int sp_projection_copy_rows_binary(sp_projection_copy_buf *buf, const char *const *arrays,
                                   const sp_projection_copy_type *types, int column_count,
                                   size_t *rows_out, sp_error *err);

#endif
