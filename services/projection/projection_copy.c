/* projection_copy.c - array literals to COPY text or binary rows, INSERT
 * to COPY statement (see projection_copy.h). Pure: no I/O. */
#include "projection_copy.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "sp_clock.h"

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

/* ------------------------------------------------------------ binary */

#define BINARY_HEADER "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0" /* signature, flags, extension */
#define BINARY_HEADER_LEN 19
#define BINARY_VALUE_TEXT_MAX 40 /* a uuid's, an integer's or a timestamp's text */
#define PG_EPOCH_DAYS 10957      /* 2000-01-01, PostgreSQL's epoch, from 1970-01-01 */
#define JSONB_VERSION 1

/* value's low `bytes` bytes, big-endian (room reserved). */
static void put_be(sp_projection_copy_buf *buf, uint64_t value, int bytes) {
    assert(bytes > 0);
    assert(bytes <= 8);
    assert(buf->len + (size_t)bytes <= buf->cap);
    for (int i = bytes - 1; i >= 0; i--) buf->data[buf->len++] = (char)(value >> (8 * i) & 0xff);
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* 8-4-4-4-12 hexadecimal digits. */
static bool uuid_bytes(const char *text, size_t len, uint8_t out[16]) {
    if (len != 36) return false;
    size_t byte = 0;
    for (size_t i = 0; i < len;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i++] != '-') return false;
            continue;
        }
        int high = hex_value(text[i]), low = hex_value(text[i + 1]);
        if (high < 0 || low < 0) return false;
        out[byte++] = (uint8_t)(high << 4 | low);
        i += 2;
    }
    return byte == 16;
}

/* An optional '-' and digits only, within [min, max]. */
static bool integer_value(const char *text, size_t len, int64_t min, int64_t max, int64_t *out) {
    if (len == 0 || len > 20) return false;
    for (size_t i = text[0] == '-' ? 1 : 0; i < len; i++)
        if (text[i] < '0' || text[i] > '9') return false;
    if (len == 1 && text[0] == '-') return false;
    errno = 0;
    char *end = NULL;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || end != text + len || value < min || value > max) return false;
    *out = value;
    return true;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" (sp_projection_time_format's) as microseconds
 * since PostgreSQL's epoch. */
static bool timestamp_value(const char *text, size_t len, int64_t *out) {
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (len != sizeof shape - 1) return false;
    for (size_t i = 0; i < len; i++)
        if (shape[i] == 'd' ? text[i] < '0' || text[i] > '9' : text[i] != shape[i]) return false;
    char day_text[11];
    memcpy(day_text, text, 10);
    day_text[10] = '\0';
    sp_date day;
    sp_error ignored;
    if (sp_date_parse(day_text, &day, &ignored) != 0) return false;
    int hour = (text[11] - '0') * 10 + text[12] - '0',
        minute = (text[14] - '0') * 10 + text[15] - '0';
    int second = (text[17] - '0') * 10 + text[18] - '0';
    int ms = (text[20] - '0') * 100 + (text[21] - '0') * 10 + text[22] - '0';
    if (hour > 23 || minute > 59 || second > 59) return false;
    int64_t seconds = ((int64_t)day - PG_EPOCH_DAYS) * 86400 + hour * 3600 + minute * 60 + second;
    *out = seconds * 1000000 + ms * 1000;
    return true;
}

/* The typed value of the text at buf->data[at], at..at+len, written over it
 * with its length before (at is just after the length's room). */
static int put_typed(sp_projection_copy_buf *buf, size_t at, size_t len,
                     sp_projection_copy_type type, int column, sp_error *err) {
    char text[BINARY_VALUE_TEXT_MAX];
    if (len >= sizeof text) return malformed(err, column, "a value too long for its type");
    memcpy(text, buf->data + at, len);
    text[len] = '\0';
    buf->len = at - 4;
    uint8_t uuid[16];
    int64_t value = 0;
    if (type == SP_PROJECTION_COPY_UUID && uuid_bytes(text, len, uuid)) {
        put_be(buf, 16, 4);
        memcpy(buf->data + buf->len, uuid, sizeof uuid);
        buf->len += sizeof uuid;
    } else if (type == SP_PROJECTION_COPY_BIGINT &&
               integer_value(text, len, INT64_MIN, INT64_MAX, &value)) {
        put_be(buf, 8, 4);
        put_be(buf, (uint64_t)value, 8);
    } else if (type == SP_PROJECTION_COPY_INTEGER &&
               integer_value(text, len, INT32_MIN, INT32_MAX, &value)) {
        put_be(buf, 4, 4);
        put_be(buf, (uint64_t)value, 4);
    } else if (type == SP_PROJECTION_COPY_TIMESTAMPTZ && timestamp_value(text, len, &value)) {
        put_be(buf, 8, 4);
        put_be(buf, (uint64_t)value, 8);
    } else {
        return malformed(err, column, "a value not in its type's text form");
    }
    return 0;
}

/* The element at *cursor as one binary field; moves past its separator. */
static int binary_element(sp_projection_copy_buf *buf, const char **cursor,
                          sp_projection_copy_type type, int column, sp_error *err) {
    const char *c = *cursor, *end = NULL;
    bool quoted = *c == '"', escaped = false;
    if (quoted) {
        /* runs without a quote or backslash at a time (most values have none) */
        for (end = c + 1 + strcspn(c + 1, "\"\\"); *end == '\\' && end[1] != '\0';) {
            escaped = true;
            end += 2 + strcspn(end + 2, "\"\\");
        }
        if (*end != '"') return malformed(err, column, "an unterminated element");
    } else {
        end = c + strcspn(c, ",}");
        if (end == c || *end == '\0')
            return malformed(err, column, "an empty or unterminated element");
        if (memchr(c, '"', (size_t)(end - c)) != NULL || memchr(c, '\\', (size_t)(end - c)) != NULL)
            return malformed(err, column, "an unquoted element with quotes or escapes");
    }
    /* the length, a jsonb's version, the bytes or a typed value's 16 at most */
    if (reserve(buf, 4 + 1 + (size_t)(end - c) + 16, err) != 0) return -1;
    if (!quoted && end - c == 4 && strncasecmp(c, "NULL", 4) == 0) {
        put_be(buf, UINT32_MAX, 4); /* -1 */
    } else {
        size_t length_at = buf->len;
        buf->len += 4;
        if (type == SP_PROJECTION_COPY_JSONB) buf->data[buf->len++] = JSONB_VERSION;
        size_t value_at = buf->len;
        const char *from = quoted ? c + 1 : c;
        char *out = buf->data + buf->len;
        if (!escaped) {
            memcpy(out, from, (size_t)(end - from));
            out += end - from;
        }
        for (const char *b = from; escaped && b < end; b++) {
            if (*b == '\\') b++;
            *out++ = *b;
        }
        buf->len = (size_t)(out - buf->data);
        size_t value_len = buf->len - value_at;
        if (type != SP_PROJECTION_COPY_TEXT && type != SP_PROJECTION_COPY_JSONB) {
            if (put_typed(buf, value_at, value_len, type, column, err) != 0) return -1;
        } else {
            size_t field_len = buf->len - length_at - 4, after = buf->len;
            buf->len = length_at;
            put_be(buf, field_len, 4);
            buf->len = after;
        }
    }
    c = quoted ? end + 1 : end;
    if (*c == ',') c++;
    else if (*c != '}') return malformed(err, column, "no separator after an element");
    *cursor = c;
    return 0;
}

/* The arrays' rows in the text format (types NULL) or the binary one. */
static int transpose(sp_projection_copy_buf *buf, const char *const *arrays,
                     const sp_projection_copy_type *types, int column_count, size_t *rows_out,
                     sp_error *err) {
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
        if (types != NULL && reserve(buf, 2, err) != 0) return -1;
        if (types != NULL) put_be(buf, (uint64_t)column_count, 2);
        for (int k = 0; k < column_count; k++) {
            bool more = false;
            int rc = 0;
            if (types != NULL) rc = binary_element(buf, &cursor[k], types[k], k, err);
            else if (k > 0 && put_byte(buf, '\t', err) != 0) rc = -1;
            else rc = next_element(buf, &cursor[k], k, &more, err);
            if (rc != 0) return -1;
            assert(types != NULL || more);
        }
        if (types == NULL && put_byte(buf, '\n', err) != 0) return -1;
        rows++;
    }
    for (int k = 0; k < column_count; k++)
        if (strcmp(cursor[k], "}") != 0) return malformed(err, k, "bytes after the array");
    *rows_out = rows;
    return 0;
}

int sp_projection_copy_rows(sp_projection_copy_buf *buf, const char *const *arrays,
                            int column_count, size_t *rows_out, sp_error *err) {
    return transpose(buf, arrays, NULL, column_count, rows_out, err);
}

int sp_projection_copy_rows_binary(sp_projection_copy_buf *buf, const char *const *arrays,
                                   const sp_projection_copy_type *types, int column_count,
                                   size_t *rows_out, sp_error *err) {
    assert(types != NULL);
    if (reserve(buf, BINARY_HEADER_LEN, err) != 0) return -1;
    memcpy(buf->data + buf->len, BINARY_HEADER, BINARY_HEADER_LEN);
    buf->len += BINARY_HEADER_LEN;
    if (transpose(buf, arrays, types, column_count, rows_out, err) != 0 ||
        reserve(buf, 2, err) != 0)
        return -1;
    put_be(buf, UINT16_MAX, 2); /* the trailer: -1 fields */
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

static bool copy_type(const char *name, size_t len, sp_projection_copy_type *out) {
    static const struct {
        const char *name;
        sp_projection_copy_type type;
    } known[] = {
        {"uuid", SP_PROJECTION_COPY_UUID},     {"text", SP_PROJECTION_COPY_TEXT},
        {"bigint", SP_PROJECTION_COPY_BIGINT}, {"integer", SP_PROJECTION_COPY_INTEGER},
        {"jsonb", SP_PROJECTION_COPY_JSONB},   {"timestamptz", SP_PROJECTION_COPY_TIMESTAMPTZ}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strlen(known[i].name) == len && strncmp(known[i].name, name, len) == 0) {
            *out = known[i].type;
            return true;
        }
    return false;
}

bool sp_projection_copy_binary_sql(const char *insert_sql, int param_count, char *out,
                                   size_t out_size, sp_projection_copy_type *types) {
    assert(types != NULL);
    char text_sql[SP_PROJECTION_COPY_SQL_MAX];
    if (!sp_projection_copy_sql(insert_sql, param_count, text_sql, sizeof text_sql)) return false;
    const char *s = strstr(insert_sql, "unnest(");
    assert(s != NULL); /* the shape sp_projection_copy_sql() checked */
    for (int i = 1; i <= param_count; i++) {
        char param[16];
        snprintf(param, sizeof param, "$%d::", i);
        s = strstr(s, param);
        assert(s != NULL);
        s += strlen(param);
        if (!copy_type(s, strspn(s, "abcdefghijklmnopqrstuvwxyz_"), &types[i - 1])) return false;
    }
    int n = snprintf(out, out_size, "%s (FORMAT binary)", text_sql);
    return n > 0 && (size_t)n < out_size;
}
