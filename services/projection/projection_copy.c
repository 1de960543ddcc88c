/* projection_copy.c - array literals to COPY text rows, INSERT to COPY
 * statement (see projection_copy.h). Pure: no I/O. */
#include "projection_copy.h"

#include <assert.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------ buffer */

void sp_projection_copy_buf_clear(sp_projection_copy_buf *buf) {
    assert(buf != NULL);
    buf->len = 0;
}

void sp_projection_copy_buf_free(sp_projection_copy_buf *buf) {
    assert(buf != NULL);
    free(buf->data);
    *buf = (sp_projection_copy_buf){0};
}

static int reserve(sp_projection_copy_buf *buf, size_t more, sp_error *err) {
    if (buf->len + more <= buf->cap) return 0;
    if (buf->len + more > SP_PROJECTION_COPY_BYTES_MAX)
        return sp_error_set(err, 500, "copy_too_large", "", "a COPY exceeds %zu bytes",
                            SP_PROJECTION_COPY_BYTES_MAX);
    size_t cap = buf->cap ? buf->cap : 65536;
    while (cap < buf->len + more) cap *= 2;
    if (cap > SP_PROJECTION_COPY_BYTES_MAX) cap = SP_PROJECTION_COPY_BYTES_MAX;
    char *data = realloc(buf->data, cap);
    if (data == NULL) return sp_error_set(err, 500, "out_of_memory", "", "COPY rows");
    buf->data = data;
    buf->cap = cap;
    return 0;
}

/* One byte of a field, escaped: at most 2 bytes written (room reserved). */
static void put_escaped(sp_projection_copy_buf *buf, char c) {
    assert(buf != NULL);
    char *at = buf->data + buf->len;
    /* clang-format off */
    switch (c) {
    case '\\': at[0] = '\\'; at[1] = '\\'; buf->len += 2; return;
    case '\t': at[0] = '\\'; at[1] = 't'; buf->len += 2; return;
    case '\n': at[0] = '\\'; at[1] = 'n'; buf->len += 2; return;
    case '\r': at[0] = '\\'; at[1] = 'r'; buf->len += 2; return;
    default: at[0] = c; buf->len += 1; return;
    }
    /* clang-format on */
}

int sp_projection_copy_field(sp_projection_copy_buf *buf, const char *value, size_t value_len,
                             sp_error *err) {
    assert(buf != NULL);
    assert(value != NULL || value_len == 0);
    if (value_len > 0 && memchr(value, '\0', value_len) != NULL)
        return sp_error_set(err, 422, "copy_invalid", "", "a NUL byte cannot be copied");
    if (reserve(buf, 2 * value_len, err) != 0) return -1;
    for (size_t i = 0; i < value_len; i++) put_escaped(buf, value[i]);
    return 0;
}

int sp_projection_copy_null(sp_projection_copy_buf *buf, sp_error *err) {
    if (reserve(buf, 2, err) != 0) return -1;
    memcpy(buf->data + buf->len, "\\N", 2);
    buf->len += 2;
    return 0;
}

/* ------------------------------------------------------------ arrays */

static int malformed(sp_error *err, int column, const char *why) {
    return sp_error_set(err, 422, "copy_invalid", "", "column %d: %s", column + 1, why);
}

/* Copies the element at *cursor (just after '{' or ',') as one field and
 * moves past its separator; *more is false at the array's end ('}' or "{}"). */
static int next_element(sp_projection_copy_buf *buf, const char **cursor, int column, bool *more,
                        sp_error *err) {
    const char *c = *cursor;
    *more = *c != '}';
    if (!*more) return 0;
    if (*c == '"') {
        /* Unescape the array's backslashes while escaping COPY's: the
         * element's bytes, found first, bound what it writes. */
        const char *end = c + 1;
        while (*end != '"' && *end != '\0') end += end[0] == '\\' && end[1] != '\0' ? 2 : 1;
        if (*end == '\0') return malformed(err, column, "an unterminated element");
        if (reserve(buf, 2 * (size_t)(end - c), err) != 0) return -1;
        for (c++; c < end; c++) {
            if (*c == '\\') c++;
            put_escaped(buf, *c);
        }
        c = end + 1;
    } else {
        size_t n = strcspn(c, ",}");
        if (n == 0 || c[n] == '\0')
            return malformed(err, column, "an empty or unterminated element");
        if (memchr(c, '"', n) != NULL || memchr(c, '\\', n) != NULL || memchr(c, '{', n) != NULL)
            return malformed(err, column, "an unquoted element with quotes, braces or escapes");
        int rc = n == 4 && strncasecmp(c, "NULL", 4) == 0
                     ? sp_projection_copy_null(buf, err)
                     : sp_projection_copy_field(buf, c, n, err);
        if (rc != 0) return -1;
        c += n;
    }
    if (*c == ',') c++;
    else if (*c != '}') return malformed(err, column, "no separator after an element");
    *cursor = c;
    return 0;
}

static int put_byte(sp_projection_copy_buf *buf, char c, sp_error *err) {
    if (reserve(buf, 1, err) != 0) return -1;
    buf->data[buf->len++] = c;
    return 0;
}

int sp_projection_copy_rows(sp_projection_copy_buf *buf, const char *const *arrays,
                            int column_count, size_t *rows_out, sp_error *err) {
    assert(buf != NULL);
    assert(arrays != NULL);
    assert(rows_out != NULL);
    assert(column_count > 0);
    assert(column_count <= SP_PROJECTION_COPY_COLUMNS_MAX);
    const char *cursor[SP_PROJECTION_COPY_COLUMNS_MAX];
    for (int k = 0; k < column_count; k++) {
        if (arrays[k] == NULL || arrays[k][0] != '{') return malformed(err, k, "not an array");
        cursor[k] = arrays[k] + 1;
    }
    size_t rows = 0;
    for (;;) {
        int ended = 0;
        for (int k = 0; k < column_count; k++) ended += *cursor[k] == '}';
        if (ended == column_count) break;
        if (ended > 0) return malformed(err, 0, "the arrays differ in length");
        for (int k = 0; k < column_count; k++) {
            bool more = false;
            if (k > 0 && put_byte(buf, '\t', err) != 0) return -1;
            if (next_element(buf, &cursor[k], k, &more, err) != 0) return -1;
            assert(more);
        }
        if (put_byte(buf, '\n', err) != 0) return -1;
        rows++;
    }
    for (int k = 0; k < column_count; k++)
        if (strcmp(cursor[k], "}") != 0) return malformed(err, k, "bytes after the array");
    *rows_out = rows;
    return 0;
}

/* ------------------------------------------------------------ statement */

static const char *skip_space(const char *s) {
    while (isspace((unsigned char)*s)) s++;
    return s;
}

static const char *skip_word(const char *s, const char *word) {
    s = skip_space(s);
    size_t n = strlen(word);
    return strncasecmp(s, word, n) == 0 ? s + n : NULL;
}

/* Counts the columns of "(a, b, c)" (names only: letters, digits, _). */
static int column_list(const char *open, const char **close) {
    int count = 0;
    const char *c = open + 1;
    for (;;) {
        c = skip_space(c);
        size_t n = strspn(c, "abcdefghijklmnopqrstuvwxyz0123456789_");
        if (n == 0) return -1;
        count++;
        c = skip_space(c + n);
        if (*c == ')') break;
        if (*c != ',') return -1;
        c++;
    }
    *close = c;
    return count;
}

/* After unnest's arguments, exactly $1::x[], ..., $n::x[], with nothing
 * but ON CONFLICT ... DO NOTHING, a RETURNING or the WITH's parenthesis
 * after: the rest of the statement; NULL for any other shape. */
static const char *unnest_params(const char *s, int param_count) {
    for (int i = 1; i <= param_count; i++) {
        char expected[16];
        snprintf(expected, sizeof expected, "$%d::", i);
        s = skip_word(s, expected);
        if (s == NULL) return NULL;
        s += strspn(s, "abcdefghijklmnopqrstuvwxyz_");
        if (strncmp(s, "[]", 2) != 0) return NULL;
        s = skip_space(s + 2);
        if (*s != (i == param_count ? ')' : ',')) return NULL;
        s++;
    }
    s = skip_space(s);
    /* An upsert that changes the row in place has no COPY equivalent. */
    if (skip_word(s, "ON CONFLICT") != NULL)
        return strcasestr(s, "DO NOTHING") != NULL && strcasestr(s, "DO UPDATE") == NULL ? s : NULL;
    if (*s == '\0' || *s == ')' || skip_word(s, "RETURNING") != NULL) return s;
    return NULL;
}

bool sp_projection_copy_sql(const char *insert_sql, int param_count, char *out, size_t out_size) {
    assert(insert_sql != NULL);
    assert(out != NULL);
    const char *s = insert_sql;
    const char *with = skip_word(s, "WITH w AS (");
    if (with != NULL) s = with;
    s = skip_word(s, "INSERT INTO ");
    if (s == NULL) return false;
    s = skip_space(s);
    size_t table_len = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_");
    const char *open = skip_space(s + table_len);
    const char *close = NULL;
    if (table_len == 0 || *open != '(') return false;
    int columns = column_list(open, &close);
    if (columns != param_count) return false;
    const char *rest = skip_word(close + 1, "SELECT * FROM unnest(");
    if (rest == NULL || unnest_params(rest, param_count) == NULL) return false;
    int n = snprintf(out, out_size, "COPY %.*s %.*s FROM STDIN", (int)table_len, s,
                     (int)(close + 1 - open), open);
    return n > 0 && (size_t)n < out_size;
}
