/* test_projection_copy.c - a replay's rows in COPY text format
 * (services/projection/projection_copy.h): every character class escaped
 * as PostgreSQL reads it back, NUL refused, UTF-8 untouched, the fold's
 * array literals transposed into rows, the COPY statement derived only
 * from the fold's plain inserts, and a replay's fold, larger than a live
 * batch, rendered into as many COPY rows as it holds passes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "projection/projection_copy.h"
#include "projection/projection_fold.h"

static char *field_text(const char *value, size_t len) {
    static char out[256];
    sp_projection_copy_buf buf = {0};
    sp_error err;
    assert_int_equal(sp_projection_copy_field(&buf, value, len, &err), 0);
    assert_true(buf.len < sizeof out);
    if (buf.len > 0) memcpy(out, buf.data, buf.len); /* an empty field leaves data NULL */
    out[buf.len] = '\0';
    sp_projection_copy_buf_free(&buf);
    return out;
}

static void test_escapes_each_class(void **state) {
    (void)state;
    assert_string_equal(field_text("plain", 5), "plain");
    assert_string_equal(field_text("a\tb", 3), "a\\tb");
    assert_string_equal(field_text("a\nb", 3), "a\\nb");
    assert_string_equal(field_text("a\rb", 3), "a\\rb");
    assert_string_equal(field_text("a\\b", 3), "a\\\\b");
    assert_string_equal(field_text("\\N", 2), "\\\\N"); /* the text \N is not a NULL */
    assert_string_equal(field_text("\\.", 2), "\\\\."); /* nor the end of the data */
    assert_string_equal(field_text("", 0), "");
    /* quotes, commas, braces: COPY text gives them no meaning */
    assert_string_equal(field_text("\"{a,b}\"", 7), "\"{a,b}\"");
}

static void test_utf8_untouched(void **state) {
    (void)state;
    const char *text = "Caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc5\x93uvre";
    assert_string_equal(field_text(text, strlen(text)), text);
}

static void test_nul_refused(void **state) {
    (void)state;
    sp_projection_copy_buf buf = {0};
    sp_error err;
    assert_int_equal(sp_projection_copy_field(&buf, "a\0b", 3, &err), -1);
    assert_string_equal(err.code, "copy_invalid");
    sp_projection_copy_buf_free(&buf);
}

static void test_null_marker(void **state) {
    (void)state;
    sp_projection_copy_buf buf = {0};
    sp_error err;
    assert_int_equal(sp_projection_copy_null(&buf, &err), 0);
    assert_int_equal(buf.len, 2);
    assert_memory_equal(buf.data, "\\N", 2);
    sp_projection_copy_buf_free(&buf);
}

static char *rows_text(const char *const *arrays, int columns, size_t *rows) {
    static char out[1024];
    sp_projection_copy_buf buf = {0};
    sp_error err;
    assert_int_equal(sp_projection_copy_rows(&buf, arrays, columns, rows, &err), 0);
    assert_true(buf.len < sizeof out);
    if (buf.len > 0) memcpy(out, buf.data, buf.len);
    out[buf.len] = '\0';
    sp_projection_copy_buf_free(&buf);
    return out;
}

static void test_arrays_transposed(void **state) {
    (void)state;
    /* as the fold writes them: quoted, \" and \\ escaped, NULL bare */
    const char *arrays[3] = {
        "{\"11111111-1111-4111-8111-111111111111\",\"22222222-2222-4222-8222-222222222222\"}",
        "{\"tab\there\",NULL}",
        "{\"{\\\"note\\\": \\\"a\\\\\\\\b\\\\nC\\\\u00e9\\\"}\",\"line\nbreak\"}"};
    size_t rows = 0;
    const char *text = rows_text(arrays, 3, &rows);
    assert_int_equal(rows, 2);
    assert_string_equal(text, "11111111-1111-4111-8111-111111111111\ttab\\there\t"
                              "{\"note\": \"a\\\\\\\\b\\\\nC\\\\u00e9\"}\n"
                              "22222222-2222-4222-8222-222222222222\t\\N\tline\\nbreak\n");
}

static void test_bare_elements(void **state) {
    (void)state;
    const char *arrays[2] = {"{1,-2,null}", "{t,f,\"NULL\"}"};
    size_t rows = 0;
    /* a bare NULL (any case) is null; the quoted text "NULL" is text */
    assert_string_equal(rows_text(arrays, 2, &rows), "1\tt\n-2\tf\n\\N\tNULL\n");
    assert_int_equal(rows, 3);
}

static void test_empty_arrays(void **state) {
    (void)state;
    const char *arrays[2] = {"{}", "{}"};
    size_t rows = 7;
    assert_string_equal(rows_text(arrays, 2, &rows), "");
    assert_int_equal(rows, 0);
}

static void test_malformed_refused(void **state) {
    (void)state;
    static const char *const cases[][2] = {
        {"{\"a\",\"b\"}", "{\"a\"}"}, /* lengths differ */
        {"{\"a\"}", "{\"a\",\"b\"}"},
        {"{\"a}", "{\"b\"}"},    /* unterminated */
        {"{\"a\"}x", "{\"b\"}"}, /* bytes after */
        {"{{1,2}}", "{\"b\"}"},  /* two dimensions */
        {"a", "{\"b\"}"},        /* not an array */
        {"{a\"b}", "{c}"},       /* a quote inside a bare element */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sp_projection_copy_buf buf = {0};
        sp_error err;
        size_t rows = 0;
        const char *arrays[2] = {cases[i][0], cases[i][1]};
        assert_int_equal(sp_projection_copy_rows(&buf, arrays, 2, &rows, &err), -1);
        assert_string_equal(err.code, "copy_invalid");
        sp_projection_copy_buf_free(&buf);
    }
}

static const char *statement_sql(const char *name) {
    for (size_t i = 0; i < sp_projection_fold_statement_count; i++)
        if (strcmp(sp_projection_fold_statements[i].name, name) == 0)
            return sp_projection_fold_statements[i].sql;
    fail_msg("no statement %s", name);
    return NULL;
}

static int statement_params(const char *name) {
    for (size_t i = 0; i < sp_projection_fold_statement_count; i++)
        if (strcmp(sp_projection_fold_statements[i].name, name) == 0)
            return sp_projection_fold_statements[i].param_count;
    return -1;
}

static void test_copy_sql_of_the_fold_inserts(void **state) {
    (void)state;
    char out[SP_PROJECTION_COPY_SQL_MAX];
    assert_true(sp_projection_copy_sql(statement_sql("spx_passes_insert"),
                                       statement_params("spx_passes_insert"), out, sizeof out));
    assert_string_equal(out, "COPY passes (pass_id, beneficiary_id, balance_cents, version, "
                             "opened_at, updated_at) FROM STDIN");
    assert_true(sp_projection_copy_sql(statement_sql("spx_operations_insert"),
                                       statement_params("spx_operations_insert"), out, sizeof out));
    assert_true(strncmp(out, "COPY operations (operation_id, kind, ", 37) == 0);
    assert_true(sp_projection_copy_sql(statement_sql("spx_history_insert"),
                                       statement_params("spx_history_insert"), out, sizeof out));
    assert_true(strncmp(out, "COPY history (event_id, ", 24) == 0);
}

/* Binary COPY: each type as the server reads it, the values the text
 * format would give (a timestamp as microseconds since 2000-01-01 UTC). */
static void test_binary_rows_hold_each_type(void **state) {
    (void)state;
    const char *arrays[6] = {"{\"11111111-2222-4333-8444-555555555555\",NULL}",
                             "{\"a\\\"b\",x}",
                             "{-5,9223372036854775807}",
                             "{7,-1}",
                             "{\"2000-01-01T00:00:01.500Z\",\"2026-06-01T10:00:00.000Z\"}",
                             "{\"{\\\"k\\\": 1}\",NULL}"};
    const sp_projection_copy_type types[6] = {
        SP_PROJECTION_COPY_UUID,    SP_PROJECTION_COPY_TEXT,        SP_PROJECTION_COPY_BIGINT,
        SP_PROJECTION_COPY_INTEGER, SP_PROJECTION_COPY_TIMESTAMPTZ, SP_PROJECTION_COPY_JSONB};
    sp_projection_copy_buf buf = {0};
    sp_error err;
    size_t rows = 0;
    assert_int_equal(sp_projection_copy_rows_binary(&buf, arrays, types, 6, &rows, &err), 0);
    assert_int_equal(rows, 2);
    static const unsigned char first[] =
        "PGCOPY\n\377\r\n\0"
        "\0\0\0\0"
        "\0\0\0\0" /* signature, flags, extension */
        "\0\6"     /* six fields */
        "\0\0\0\20"
        "\x11\x11\x11\x11\x22\x22\x43\x33\x84\x44\x55\x55\x55\x55\x55\x55"
        "\0\0\0\3"
        "a\"b"
        "\0\0\0\10"
        "\xff\xff\xff\xff\xff\xff\xff\xfb"
        "\0\0\0\4"
        "\0\0\0\7"
        "\0\0\0\10"
        "\0\0\0\0\0\x16\xe3\x60"
        "\0\0\0\11"
        "\1{\"k\": 1}"
        "\0\6"
        "\xff\xff\xff\xff"; /* the second row: a NULL uuid */
    assert_memory_equal(buf.data, first, sizeof first - 1);
    /* 2026-06-01T10:00:00Z: 9,648 days and 10 hours after 2000-01-01 */
    int64_t us = (9648LL * 86400 + 36000) * 1000000;
    unsigned char at[8];
    for (int i = 0; i < 8; i++) at[i] = (unsigned char)((uint64_t)us >> (56 - 8 * i));
    const char *tail = buf.data + buf.len;
    assert_memory_equal(tail - 2 - 4 - 8, at, 8); /* then the jsonb NULL */
    assert_memory_equal(tail - 2, "\xff\xff", 2); /* the trailer */
    sp_projection_copy_buf_free(&buf);
}

/* A value not in the one text form the projection writes for its type is
 * refused: the caller then sends the text format, and the server judges. */
static void test_binary_refuses_other_text_forms(void **state) {
    (void)state;
    static const struct {
        sp_projection_copy_type type;
        const char *array;
    } cases[] = {
        {SP_PROJECTION_COPY_TIMESTAMPTZ, "{\"2026-06-01 10:00:00+00\"}"},
        {SP_PROJECTION_COPY_TIMESTAMPTZ, "{\"2026-02-30T10:00:00.000Z\"}"},
        {SP_PROJECTION_COPY_TIMESTAMPTZ, "{\"2026-06-01T24:00:00.000Z\"}"},
        {SP_PROJECTION_COPY_UUID, "{11111111222243338444555555555555}"},
        {SP_PROJECTION_COPY_UUID, "{11111111-2222-4333-8444-55555555555g}"},
        {SP_PROJECTION_COPY_INTEGER, "{2147483648}"},
        {SP_PROJECTION_COPY_BIGINT, "{+5}"},
        {SP_PROJECTION_COPY_BIGINT, "{9223372036854775808}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sp_projection_copy_buf buf = {0};
        sp_error err;
        size_t rows = 0;
        const char *arrays[1] = {cases[i].array};
        assert_int_equal(
            sp_projection_copy_rows_binary(&buf, arrays, &cases[i].type, 1, &rows, &err), -1);
        assert_string_equal(err.code, "copy_invalid");
        sp_projection_copy_buf_free(&buf);
    }
}

static void test_binary_sql_of_the_fold_inserts(void **state) {
    (void)state;
    char out[SP_PROJECTION_COPY_SQL_MAX];
    sp_projection_copy_type types[SP_PROJECTION_COPY_COLUMNS_MAX];
    assert_true(sp_projection_copy_binary_sql(statement_sql("spx_history_insert"),
                                              statement_params("spx_history_insert"), out,
                                              sizeof out, types));
    assert_string_equal(out, "COPY history (event_id, occurred_at, action, actor_id, actor_role, "
                             "partner_id, pass_id, details) FROM STDIN (FORMAT binary)");
    assert_int_equal(types[0], SP_PROJECTION_COPY_UUID);
    assert_int_equal(types[1], SP_PROJECTION_COPY_TIMESTAMPTZ);
    assert_int_equal(types[7], SP_PROJECTION_COPY_JSONB);
    assert_true(sp_projection_copy_binary_sql(statement_sql("spx_operations_insert"),
                                              statement_params("spx_operations_insert"), out,
                                              sizeof out, types));
    assert_int_equal(types[10], SP_PROJECTION_COPY_INTEGER);
    assert_int_equal(types[11], SP_PROJECTION_COPY_BIGINT);
    /* a type without a binary form here: the text format only */
    assert_false(sp_projection_copy_binary_sql(
        "INSERT INTO t (a, b) SELECT * FROM unnest($1::uuid[], $2::date[])", 2, out, sizeof out,
        types));
}

static void test_copy_sql_refuses_other_shapes(void **state) {
    (void)state;
    char out[SP_PROJECTION_COPY_SQL_MAX] = "untouched";
    /* updates, upserts that add or replace (a credit's envelope row replaces
     * the one an earlier chunk wrote; the figures add to theirs) */
    static const char *const names[] = {"spx_passes_update",    "spx_envelopes_insert",
                                        "spx_envelopes_update", "spx_partners_owed",
                                        "spx_ledger_balances",  "spx_figures_budget",
                                        "spx_figures_daily"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_false(sp_projection_copy_sql(statement_sql(names[i]), statement_params(names[i]),
                                            out, sizeof out));
    assert_string_equal(out, "untouched");
    /* more parameters than columns, a filter after unnest */
    assert_false(sp_projection_copy_sql("INSERT INTO t (a) SELECT * FROM unnest($1::text[], "
                                        "$2::text[])",
                                        2, out, sizeof out));
    assert_false(sp_projection_copy_sql("INSERT INTO t (a, b) SELECT * FROM unnest($1::text[], "
                                        "$2::text[]) AS s WHERE s.a IS NOT NULL",
                                        2, out, sizeof out));
    assert_false(sp_projection_copy_sql("INSERT INTO t (a, b) SELECT * FROM unnest($2::text[], "
                                        "$1::text[])",
                                        2, out, sizeof out));
    /* an upsert adding to the row it finds is not an insert */
    assert_false(sp_projection_copy_sql("INSERT INTO t (a, b) SELECT * FROM unnest($1::text[], "
                                        "$2::bigint[]) ON CONFLICT (a) DO UPDATE SET b = t.b + "
                                        "EXCLUDED.b",
                                        2, out, sizeof out));
    assert_string_equal(out, "untouched");
    assert_true(sp_projection_copy_sql("INSERT INTO t (a, b) SELECT * FROM unnest($1::text[], "
                                       "$2::text[]) ON CONFLICT (a) DO NOTHING",
                                       2, out, sizeof out));
    assert_string_equal(out, "COPY t (a, b) FROM STDIN");
}

/* A PassOpened row as projection_rows_ledger.c builds it (one envelope). */
static sp_projection_row opened_row(char params[5][64], int n) {
    sp_projection_row row;
    memset(&row, 0, sizeof row);
    row.kind = SP_PROJECTION_PASS_OPENED;
    row.type = "ledger.PassOpened.v1";
    row.versioned = true;
    row.sql = "x";
    row.param_count = 5;
    snprintf(params[0], 64, "11111111-1111-4111-8111-%012d", n);
    snprintf(params[1], 64, "44444444-4444-4444-8444-%012d", n);
    snprintf(params[2], 64, "2026-06-01T10:00:00.000Z");
    snprintf(params[3], 64, "{\"general\"}");
    snprintf(params[4], 64, "{NULL}");
    for (int i = 0; i < 5; i++) row.params[i] = params[i];
    snprintf(row.event_id, sizeof row.event_id, "aaaaaaaa-aaaa-4aaa-8aaa-%012d", n);
    row.occurred_at_ms = 1780000000000;
    return row;
}

static void test_a_replay_fold_holds_more_than_a_live_batch(void **state) {
    (void)state;
    enum { PASSES = SP_PROJECTION_FOLD_EVENTS_MAX + 1000 };
    sp_projection_fold *fold = sp_projection_fold_new_sized(PASSES);
    assert_non_null(fold);
    sp_error err;
    char params[5][64];
    for (int n = 0; n < PASSES; n++) {
        sp_projection_row row = opened_row(params, n);
        assert_int_equal(sp_projection_fold_plan(fold, &row, &err), 0);
    }
    for (int n = 0; n < PASSES; n++) {
        sp_projection_row row = opened_row(params, n);
        assert_true(sp_projection_fold_wants(fold, &row));
        assert_int_equal(sp_projection_fold_add(fold, &row, &err), 1);
    }
    sp_projection_row one_more = opened_row(params, PASSES);
    assert_int_equal(sp_projection_fold_plan(fold, &one_more, &err), -1);
    assert_string_equal(err.code, "fold_full");
    sp_projection_fold_statement statements[16];
    size_t count = 0;
    assert_int_equal(sp_projection_fold_render(fold, statements, &count, &err), 0);
    size_t copied = 0;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(statements[i].name, "spx_passes_insert") != 0) continue;
        sp_projection_copy_buf buf = {0};
        assert_int_equal(sp_projection_copy_rows(&buf, statements[i].params,
                                                 statements[i].param_count, &copied, &err),
                         0);
        assert_memory_equal(buf.data,
                            "11111111-1111-4111-8111-000000000000\t"
                            "44444444-4444-4444-8444-000000000000\t0\t1\t"
                            "2026-06-01T10:00:00.000Z\t2026-06-01T10:00:00.000Z\n",
                            121);
        sp_projection_copy_buf_free(&buf);
    }
    assert_int_equal(copied, PASSES);
    sp_projection_fold_free(fold);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escapes_each_class),
        cmocka_unit_test(test_utf8_untouched),
        cmocka_unit_test(test_nul_refused),
        cmocka_unit_test(test_null_marker),
        cmocka_unit_test(test_arrays_transposed),
        cmocka_unit_test(test_bare_elements),
        cmocka_unit_test(test_empty_arrays),
        cmocka_unit_test(test_malformed_refused),
        cmocka_unit_test(test_copy_sql_of_the_fold_inserts),
        cmocka_unit_test(test_copy_sql_refuses_other_shapes),
        cmocka_unit_test(test_binary_rows_hold_each_type),
        cmocka_unit_test(test_binary_refuses_other_text_forms),
        cmocka_unit_test(test_binary_sql_of_the_fold_inserts),
        cmocka_unit_test(test_a_replay_fold_holds_more_than_a_live_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
