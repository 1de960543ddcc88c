/* test_projection_fold.c - the fold of a batch's pass events into final rows
 * (services/projection/projection_fold.h): what it writes, that a batch
 * delivered again writes nothing, that versions are checked one by one, and
 * that the order in which partitions interleave changes no row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "projection/projection_fold.h"

#define PASS_A "11111111-1111-4111-8111-111111111111"
#define PASS_B "22222222-2222-4222-8222-222222222222"
#define PARTNER "33333333-3333-4333-8333-333333333333"
#define ROWS_MAX 64
#define ROW_TEXT_MAX 1024

typedef struct event {
    sp_projection_row row;
    char text[SP_PROJECTION_PARAMS_MAX][128];
} event;

static void set_param(event *e, int index, const char *value) {
    snprintf(e->text[index], sizeof e->text[index], "%s", value);
    e->row.params[index] = e->text[index];
}

static void event_id(event *e, int n) {
    snprintf(e->row.event_id, sizeof e->row.event_id, "aaaaaaaa-aaaa-4aaa-8aaa-%012d", n);
    e->row.occurred_at_ms = 1780000000000 + n * 1000;
}

static event opened(const char *pass, int n) {
    event e;
    memset(&e, 0, sizeof e);
    e.row.kind = SP_PROJECTION_PASS_OPENED;
    e.row.type = "ledger.PassOpened.v1";
    e.row.versioned = true;
    e.row.sql = "x";
    e.row.param_count = 5;
    set_param(&e, 0, pass);
    set_param(&e, 1, "44444444-4444-4444-8444-444444444444");
    set_param(&e, 2, "2026-06-01T10:00:00.000Z");
    set_param(&e, 3, "{\"food\",\"culture\"}");
    set_param(&e, 4, "{2026-12-31,NULL}");
    event_id(&e, n);
    return e;
}

/* A credit (partner NULL) or a payment to PARTNER on "food". */
static event moved(const char *pass, int64_t version, int64_t amount, int64_t envelope,
                   int64_t balance, bool payment, int n) {
    event e;
    memset(&e, 0, sizeof e);
    char text[128];
    e.row.kind = payment ? SP_PROJECTION_PAYMENT_ACCEPTED : SP_PROJECTION_PASS_CREDITED;
    e.row.type = payment ? "ledger.PaymentAccepted.v1" : "ledger.PassCredited.v1";
    e.row.versioned = true;
    e.row.sql = "x";
    /* a credit's $17 (its end date) stays NULL: an event without one */
    e.row.param_count = payment ? SP_PROJECTION_MOVEMENT_PARAM_COUNT
                                : SP_PROJECTION_CREDIT_PARAM_COUNT;
    set_param(&e, 0, pass);
    snprintf(text, sizeof text, "%lld", (long long)version);
    set_param(&e, 1, text);
    snprintf(text, sizeof text, "2026-06-01T10:%02d:00.000Z", n % 60);
    set_param(&e, 2, text);
    set_param(&e, 3, "food");
    snprintf(text, sizeof text, "%lld", (long long)envelope);
    set_param(&e, 4, text);
    snprintf(text, sizeof text, "%lld", (long long)balance);
    set_param(&e, 5, text);
    snprintf(text, sizeof text, "bbbbbbbb-bbbb-4bbb-8bbb-%012d", n);
    set_param(&e, 6, text);
    snprintf(text, sizeof text, "%lld", (long long)amount);
    set_param(&e, 7, text);
    snprintf(text, sizeof text, "cmd \"%d\"", n); /* quoted in the array literal */
    set_param(&e, 8, text);
    set_param(&e, 9, "ledger.events");
    set_param(&e, 10, "3");
    snprintf(text, sizeof text, "%d", n);
    set_param(&e, 11, text);
    if (payment) {
        snprintf(text, sizeof text, "{\"pass:%s:food\",\"partner:%s:owed\"}", pass, PARTNER);
        set_param(&e, 12, text);
        snprintf(text, sizeof text, "{%lld,%lld}", (long long)-amount, (long long)amount);
        set_param(&e, 13, text);
        set_param(&e, 14, PARTNER);
    } else {
        snprintf(text, sizeof text, "{\"budget\",\"pass:%s:food\"}", pass);
        set_param(&e, 12, text);
        snprintf(text, sizeof text, "{%lld,%lld}", (long long)-amount, (long long)amount);
        set_param(&e, 13, text);
    }
    event_id(&e, n);
    return e;
}

/* A credit of another category, with an end date ("" = none given). */
static event credited(const char *pass, int64_t version, const char *category, const char *end_date,
                      int64_t amount, int64_t envelope, int64_t balance, int n) {
    event e = moved(pass, version, amount, envelope, balance, false, n);
    char text[128];
    set_param(&e, 3, category);
    snprintf(text, sizeof text, "{\"budget\",\"pass:%s:%s\"}", pass, category);
    set_param(&e, 12, text);
    if (end_date[0] != '\0') set_param(&e, SP_PROJECTION_CREDIT_PARAM_COUNT - 1, end_date);
    return e;
}

/* Events are copied by value: their parameters point back into their text. */
static void repoint(event *e) {
    for (int k = 0; k < e->row.param_count; k++)
        if (e->row.params[k] != NULL) e->row.params[k] = e->text[k];
}

typedef struct known {
    const char *pass;
    int64_t version;
} known;

/* Plans, loads the known versions, folds: the applied count. */
static int fold_batch(sp_projection_fold *fold, event *events, size_t count, const known *versions,
                      size_t known_count) {
    sp_error err;
    sp_projection_fold_reset(fold);
    for (size_t i = 0; i < count; i++) repoint(&events[i]);
    for (size_t i = 0; i < count; i++)
        assert_int_equal(sp_projection_fold_plan(fold, &events[i].row, &err), 0);
    for (size_t i = 0; i < known_count; i++)
        sp_projection_fold_pass_known(fold, versions[i].pass, versions[i].version);
    int applied = 0;
    for (size_t i = 0; i < count; i++) {
        assert_true(sp_projection_fold_wants(fold, &events[i].row));
        int rc = sp_projection_fold_add(fold, &events[i].row, &err);
        assert_true(rc >= 0);
        applied += rc;
    }
    return applied;
}

typedef struct rendered {
    sp_projection_fold_statement statements[16];
    size_t count;
} rendered;

static void render(sp_projection_fold *fold, rendered *out) {
    sp_error err;
    assert_int_equal(sp_projection_fold_render(fold, out->statements, &out->count, &err), 0);
}

static const sp_projection_fold_statement *statement(const rendered *r, const char *name) {
    for (size_t i = 0; i < r->count; i++)
        if (strcmp(r->statements[i].name, name) == 0) return &r->statements[i];
    return NULL;
}

/* The statement's rows (its arrays zipped, one "a|b|c" per row), sorted. */
typedef struct row_set {
    char rows[ROWS_MAX][ROW_TEXT_MAX];
    size_t count;
} row_set;

static size_t split(const char *literal, char items[ROWS_MAX][ROW_TEXT_MAX / 4]) {
    size_t n = 0, len = 0;
    bool quoted = false;
    for (const char *c = literal + 1; *c != '\0' && n < ROWS_MAX; c++) {
        if (*c == '\\' && quoted) {
            c++;
        } else if (*c == '"') {
            quoted = !quoted;
            continue;
        } else if (!quoted && (*c == ',' || *c == '}')) {
            items[n++][len] = '\0';
            len = 0;
            if (*c == '}') break;
            continue;
        }
        if (len + 1 < ROW_TEXT_MAX / 4) items[n][len++] = *c;
    }
    return literal[1] == '}' ? 0 : n;
}

static int text_cmp(const void *a, const void *b) {
    return strcmp(a, b);
}

static void rows_of(const sp_projection_fold_statement *s, row_set *out) {
    static char items[SP_PROJECTION_FOLD_PARAMS_MAX][ROWS_MAX][ROW_TEXT_MAX / 4];
    memset(out, 0, sizeof *out);
    if (s == NULL) return;
    for (int k = 0; k < s->param_count; k++) {
        size_t n = split(s->params[k], items[k]);
        if (k == 0) out->count = n;
        assert_int_equal(n, out->count);
    }
    for (size_t r = 0; r < out->count; r++)
        for (int k = 0; k < s->param_count; k++) {
            strncat(out->rows[r], items[k][r], ROW_TEXT_MAX - strlen(out->rows[r]) - 2);
            strcat(out->rows[r], "|");
        }
    qsort(out->rows, out->count, sizeof out->rows[0], text_cmp);
}

static void assert_row(const rendered *r, const char *name, const char *expected) {
    row_set set;
    rows_of(statement(r, name), &set);
    for (size_t i = 0; i < set.count; i++)
        if (strcmp(set.rows[i], expected) == 0) return;
    fail_msg("%s has no row %s", name, expected);
}

static int setup(void **state) {
    *state = sp_projection_fold_new();
    return *state != NULL ? 0 : -1;
}

static int teardown(void **state) {
    sp_projection_fold_free(*state);
    return 0;
}

static void batch_of_one_pass(event *e) {
    e[0] = opened(PASS_A, 1);
    e[1] = moved(PASS_A, 2, 1000, 1000, 1000, false, 2);
    e[2] = moved(PASS_A, 3, 300, 700, 700, true, 3);
    e[3] = moved(PASS_A, 4, 200, 500, 500, true, 4);
}

static void test_a_batch_folds_into_final_rows(void **state) {
    sp_projection_fold *fold = *state;
    event e[4];
    batch_of_one_pass(e);
    assert_int_equal(fold_batch(fold, e, 4, NULL, 0), 4);
    rendered r;
    render(fold, &r);
    /* the pass once, at its last version and balance */
    assert_row(&r, "spx_passes_insert",
               PASS_A "|44444444-4444-4444-8444-444444444444|500|4|"
                      "2026-06-01T10:00:00.000Z|2026-06-01T10:04:00.000Z|");
    assert_null(statement(&r, "spx_passes_update"));
    assert_row(&r, "spx_envelopes_insert", PASS_A "|food|500|2026-12-31|f|");
    assert_row(&r, "spx_envelopes_insert", PASS_A "|culture|0|NULL|f|");
    row_set ops;
    rows_of(statement(&r, "spx_operations_insert"), &ops);
    assert_int_equal(ops.count, 3);
    /* the partner's owed as one sum, one delta per account */
    assert_row(&r, "spx_partners_owed", PARTNER "|500|");
    assert_row(&r, "spx_ledger_balances", "budget|-1000|");
    assert_row(&r, "spx_ledger_balances", "pass:" PASS_A ":food|500|");
    assert_row(&r, "spx_ledger_balances", "partner:" PARTNER ":owed|500|");
    assert_row(&r, "spx_figures_budget", "food|1000|500|0|0|500|");
    row_set history;
    rows_of(statement(&r, "spx_history_insert"), &history);
    assert_int_equal(history.count, 4);
    /* the history's details, as the figures' statements write them */
    bool saw_payment = false, saw_credit = false;
    for (size_t i = 0; i < history.count; i++) {
        saw_payment |= strstr(history.rows[i],
                              "{\"operation_id\": \"bbbbbbbb-bbbb-4bbb-8bbb-"
                              "000000000003\", \"category\": \"food\", "
                              "\"amount_cents\": 300, \"channel\": \"code\"}") != NULL;
        saw_credit |= strstr(history.rows[i], "{\"operation_id\": \"bbbbbbbb-bbbb-4bbb-8bbb-"
                                              "000000000002\", \"category\": \"food\", "
                                              "\"amount_cents\": 1000}") != NULL;
    }
    assert_true(saw_payment);
    assert_true(saw_credit);
    /* the two payments as one day's figures (2026-05-28 22:26 in Paris) */
    assert_row(&r, "spx_figures_daily", "2026-05-28|food|2|500|");
    /* a command id with quotes survives the array literal */
    assert_non_null(strstr(statement(&r, "spx_operations_insert")->params[7], "cmd \\\"3\\\""));
}

/* A day's figures follow Europe/Paris: a payment at 23:59:59.999 there
 * counts on that day, one at midnight on the next, in summer (UTC+2) as in
 * winter (UTC+1). */
static void test_daily_figures_are_counted_per_paris_day_and_category(void **state) {
    sp_projection_fold *fold = *state;
    static const int64_t at_ms[4] = {
        1780351199999, /* 2026-06-01T21:59:59.999Z: 23:59:59.999 in Paris */
        1780351200000, /* 2026-06-01T22:00:00.000Z: 00:00 on June 2nd */
        1796165999999, /* 2026-12-01T22:59:59.999Z: 23:59:59.999 in Paris */
        1796166000000, /* 2026-12-01T23:00:00.000Z: 00:00 on December 2nd */
    };
    event e[6];
    e[0] = opened(PASS_A, 1);
    e[1] = moved(PASS_A, 2, 1000, 1000, 1000, false, 2);
    int64_t balance = 1000;
    for (int i = 0; i < 4; i++) {
        balance -= 10 * (i + 1);
        e[2 + i] = moved(PASS_A, 3 + i, 10 * (i + 1), balance, balance, true, 3 + i);
        e[2 + i].row.occurred_at_ms = at_ms[i];
    }
    assert_int_equal(fold_batch(fold, e, 6, NULL, 0), 6);
    rendered r;
    render(fold, &r);
    row_set daily;
    rows_of(statement(&r, "spx_figures_daily"), &daily);
    assert_int_equal(daily.count, 4);
    assert_row(&r, "spx_figures_daily", "2026-06-01|food|1|10|");
    assert_row(&r, "spx_figures_daily", "2026-06-02|food|1|20|");
    assert_row(&r, "spx_figures_daily", "2026-12-01|food|1|30|");
    assert_row(&r, "spx_figures_daily", "2026-12-02|food|1|40|");
}

static bool in_set(const row_set *set, const char *row) {
    for (size_t i = 0; i < set->count; i++)
        if (strcmp(set->rows[i], row) == 0) return true;
    return false;
}

/* Rows handed over in the middle of a batch (a replay copies them while it
 * folds the rest) plus the render's are the rows of the same batch folded
 * whole; the render no longer holds the ones taken. */
static void test_rows_taken_midway_and_rendered_make_the_whole_batch(void **state) {
    sp_projection_fold *fold = *state;
    event e[4];
    batch_of_one_pass(e);
    assert_int_equal(fold_batch(fold, e, 4, NULL, 0), 4);
    rendered whole;
    render(fold, &whole);
    static row_set ops_whole, history_whole, ops[2], history[2]; /* 64 KiB each */
    rows_of(statement(&whole, "spx_operations_insert"), &ops_whole);
    rows_of(statement(&whole, "spx_history_insert"), &history_whole);

    sp_error err;
    sp_projection_fold_reset(fold);
    for (size_t i = 0; i < 4; i++) repoint(&e[i]);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(sp_projection_fold_plan(fold, &e[i].row, &err), 0);
    sp_projection_fold_taken taken;
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(sp_projection_fold_add(fold, &e[i].row, &err), 1);
        if (i == 1) assert_int_equal(sp_projection_fold_take_new_rows(fold, &taken, &err), 0);
    }
    rendered rest;
    render(fold, &rest);
    assert_int_equal(taken.count, 2);
    rows_of(&taken.statements[0], &ops[0]);
    rows_of(&taken.statements[1], &history[0]);
    rows_of(statement(&rest, "spx_operations_insert"), &ops[1]);
    rows_of(statement(&rest, "spx_history_insert"), &history[1]);
    assert_string_equal(taken.statements[0].name, "spx_operations_insert");
    assert_int_equal(ops[0].count, 1); /* the credit */
    assert_int_equal(history[0].count, 2);
    assert_int_equal(ops[0].count + ops[1].count, ops_whole.count);
    assert_int_equal(history[0].count + history[1].count, history_whole.count);
    /* (whole's statements pointed into the fold's buffers, now reused: its
     * rows were kept as text above) */
    for (size_t part = 0; part < 2; part++) {
        for (size_t i = 0; i < ops[part].count; i++)
            assert_true(in_set(&ops_whole, ops[part].rows[i]));
        for (size_t i = 0; i < history[part].count; i++)
            assert_true(in_set(&history_whole, history[part].rows[i]));
    }
    /* the pass itself is still the render's, at its last version */
    assert_row(&rest, "spx_passes_insert",
               PASS_A "|44444444-4444-4444-8444-444444444444|500|4|"
                      "2026-06-01T10:00:00.000Z|2026-06-01T10:04:00.000Z|");
    sp_projection_fold_taken_free(&taken);
}

static void test_a_batch_delivered_again_writes_nothing(void **state) {
    sp_projection_fold *fold = *state;
    event e[4];
    batch_of_one_pass(e);
    known at_end = {PASS_A, 4};
    assert_int_equal(fold_batch(fold, e, 4, &at_end, 1), 0);
    rendered r;
    render(fold, &r);
    assert_int_equal(r.count, 0);
}

/* Each event applies only as the next version: the ones the database has,
 * and a duplicate inside the batch, are skipped; the update checks the
 * version it started from. */
static void test_versions_are_checked_one_by_one(void **state) {
    sp_projection_fold *fold = *state;
    event e[4];
    batch_of_one_pass(e);
    event batch[5] = {e[1], e[2], e[2], e[3], e[0]};
    known at_three = {PASS_A, 3};
    assert_int_equal(fold_batch(fold, batch, 5, &at_three, 1), 1);
    rendered r;
    render(fold, &r);
    assert_row(&r, "spx_passes_update", PASS_A "|3|4|500|2026-06-01T10:04:00.000Z|");
    assert_int_equal(statement(&r, "spx_passes_update")->expected_count, 1);
    assert_null(statement(&r, "spx_passes_insert"));
    assert_row(&r, "spx_envelopes_update", PASS_A "|food|500|f|");
    assert_row(&r, "spx_partners_owed", PARTNER "|200|");
    row_set history;
    rows_of(statement(&r, "spx_history_insert"), &history);
    assert_int_equal(history.count, 1);
}

/* Two passes on two partitions, an event of another topic between them: any
 * interleaving that keeps each partition's order gives the same rows, and
 * folding in two batches gives the rows of one. */
static void test_interleaving_changes_no_row(void **state) {
    sp_projection_fold *fold = *state;
    event a[4], b[4];
    batch_of_one_pass(a);
    b[0] = opened(PASS_B, 11);
    b[1] = moved(PASS_B, 2, 800, 800, 800, false, 12);
    b[2] = moved(PASS_B, 3, 100, 700, 700, true, 13);
    b[3] = moved(PASS_B, 4, 50, 650, 650, true, 14);
    event first[8] = {a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]};
    event second[8] = {b[0], a[0], b[1], a[1], a[2], b[2], b[3], a[3]};
    assert_null(sp_projection_fold_pass_of(
        &(sp_projection_row){.sql = "x", .versioned = false, .param_count = 1}));
    static rendered r1, r2;
    assert_int_equal(fold_batch(fold, first, 8, NULL, 0), 8);
    render(fold, &r1);
    static row_set s1, s2;
    static char saved[16][ROWS_MAX][ROW_TEXT_MAX];
    static size_t saved_count[16];
    for (size_t i = 0; i < r1.count; i++) {
        rows_of(&r1.statements[i], &s1);
        memcpy(saved[i], s1.rows, sizeof s1.rows);
        saved_count[i] = s1.count;
    }
    size_t count1 = r1.count;
    assert_int_equal(fold_batch(fold, second, 8, NULL, 0), 8);
    render(fold, &r2);
    assert_int_equal(r2.count, count1);
    for (size_t i = 0; i < r2.count; i++) {
        rows_of(&r2.statements[i], &s2);
        assert_int_equal(s2.count, saved_count[i]);
        for (size_t k = 0; k < s2.count; k++) assert_string_equal(s2.rows[k], saved[i][k]);
    }
    /* the same pass over two batches ends on the same row */
    assert_int_equal(fold_batch(fold, a, 2, NULL, 0), 2);
    known at_two = {PASS_A, 2};
    assert_int_equal(fold_batch(fold, a + 2, 2, &at_two, 1), 2);
    render(fold, &r2);
    assert_row(&r2, "spx_passes_update", PASS_A "|2|4|500|2026-06-01T10:04:00.000Z|");
}

/* On a pass the database has: a credit extends an end date, another opens
 * an envelope, a third makes an expired envelope usable again; the rows are
 * upserted with their final values. An expiry alone stays an update. */
static void test_credits_open_and_extend_envelopes(void **state) {
    sp_projection_fold *fold = *state;
    event e[6];
    e[0] = credited(PASS_A, 5, "food", "2027-03-31", 100, 600, 600, 5);
    e[1] = credited(PASS_A, 6, "sport", "2026-09-30", 2000, 2000, 2600, 6);
    e[2] = moved(PASS_A, 7, 50, 550, 2550, true, 7);
    e[3] = moved(PASS_A, 8, 0, 0, 2550, false, 8); /* culture expires */
    e[3].row.kind = SP_PROJECTION_ENVELOPE_EXPIRED;
    e[3].row.type = "ledger.EnvelopeExpired.v1";
    e[3].row.param_count = SP_PROJECTION_MOVEMENT_PARAM_COUNT;
    set_param(&e[3], 3, "culture");
    set_param(&e[3], 12, "{}");
    set_param(&e[3], 13, "{}");
    e[4] = credited(PASS_A, 9, "culture", "2027-01-31", 300, 300, 2850, 9);
    e[5] = moved(PASS_B, 2, 0, 0, 0, false, 10); /* another pass's expiry only */
    e[5].row.kind = SP_PROJECTION_ENVELOPE_EXPIRED;
    e[5].row.type = "ledger.EnvelopeExpired.v1";
    e[5].row.param_count = SP_PROJECTION_MOVEMENT_PARAM_COUNT;
    set_param(&e[5], 12, "{}");
    set_param(&e[5], 13, "{}");
    known versions[2] = {{PASS_A, 4}, {PASS_B, 1}};
    assert_int_equal(fold_batch(fold, e, 6, versions, 2), 6);
    rendered r;
    render(fold, &r);
    assert_row(&r, "spx_envelopes_insert", PASS_A "|food|550|2027-03-31|f|");
    assert_row(&r, "spx_envelopes_insert", PASS_A "|sport|2000|2026-09-30|f|");
    assert_row(&r, "spx_envelopes_insert", PASS_A "|culture|300|2027-01-31|f|");
    assert_row(&r, "spx_envelopes_update", PASS_B "|food|0|t|");
    row_set inserted, updated;
    rows_of(statement(&r, "spx_envelopes_insert"), &inserted);
    rows_of(statement(&r, "spx_envelopes_update"), &updated);
    assert_int_equal(inserted.count, 3);
    assert_int_equal(updated.count, 1);
    /* the history names the end date a credit leaves, as the figures' SQL does */
    const char *history = statement(&r, "spx_history_insert")->params[7];
    assert_non_null(strstr(history, "\\\"end_date\\\": \\\"2026-09-30\\\""));
    for (size_t i = 0; i < sp_projection_fold_statement_count; i++)
        if (strcmp(sp_projection_fold_statements[i].name, "spx_envelopes_insert") == 0)
            assert_non_null(strstr(sp_projection_fold_statements[i].sql,
                                   "COALESCE(EXCLUDED.end_date, envelopes.end_date)"));
    /* a credit without end date keeps the row's: NULL in the upsert */
    assert_int_equal(fold_batch(fold, e, 1, versions, 1), 1);
    e[0] = credited(PASS_A, 5, "food", "", 100, 600, 600, 5);
    assert_int_equal(fold_batch(fold, e, 1, versions, 1), 1);
    render(fold, &r);
    assert_row(&r, "spx_envelopes_insert", PASS_A "|food|600|NULL|f|");
}

/* A pass with an event the fold does not take is left whole to the
 * per-event statements. */
static void test_a_pass_with_another_event_is_not_folded(void **state) {
    sp_projection_fold *fold = *state;
    event e[2];
    e[0] = moved(PASS_A, 2, 1000, 1000, 1000, false, 2);
    e[1] = moved(PASS_A, 3, 300, 700, 700, true, 3);
    e[1].row.kind = SP_PROJECTION_VOUCHER_ISSUED;
    repoint(&e[0]);
    repoint(&e[1]);
    sp_error err;
    sp_projection_fold_reset(fold);
    assert_int_equal(sp_projection_fold_plan(fold, &e[0].row, &err), 0);
    assert_int_equal(sp_projection_fold_plan(fold, &e[1].row, &err), 0);
    assert_false(sp_projection_fold_wants(fold, &e[0].row));
    assert_null(sp_projection_fold_pass_id(fold, 0));
}

/* Each delta is added to its key's sum as it is folded: forty passes, each
 * credited and paid twice, make one ledger row per account (more keys than
 * the sums' first table holds), one owed sum, one budget row and one day;
 * the next batch's sums start again from nothing. */
#define MANY_PASSES 40
static void test_sums_hold_one_row_per_key_and_start_again_at_reset(void **state) {
    sp_projection_fold *fold = *state;
    static event e[MANY_PASSES * 4];
    static char ids[MANY_PASSES][SP_ID_LEN + 1];
    for (int i = 0; i < MANY_PASSES; i++) {
        snprintf(ids[i], sizeof ids[i], "55555555-5555-4555-8555-%012d", i);
        e[4 * i] = opened(ids[i], 4 * i);
        e[4 * i + 1] = moved(ids[i], 2, 1000, 1000, 1000, false, 4 * i + 1);
        e[4 * i + 2] = moved(ids[i], 3, 300, 700, 700, true, 4 * i + 2);
        e[4 * i + 3] = moved(ids[i], 4, 200, 500, 500, true, 4 * i + 3);
        e[4 * i + 3].row.occurred_at_ms = e[4 * i + 2].row.occurred_at_ms;
    }
    assert_int_equal(fold_batch(fold, e, MANY_PASSES * 4, NULL, 0), MANY_PASSES * 4);
    rendered r;
    render(fold, &r);
    row_set ledger;
    rows_of(statement(&r, "spx_ledger_balances"), &ledger);
    assert_int_equal(ledger.count, MANY_PASSES + 2);
    assert_row(&r, "spx_ledger_balances", "budget|-40000|");
    assert_row(&r, "spx_ledger_balances", "partner:" PARTNER ":owed|20000|");
    for (int i = 0; i < MANY_PASSES; i++) {
        char expected[ROW_TEXT_MAX];
        snprintf(expected, sizeof expected, "pass:%.36s:food|500|", ids[i]);
        assert_row(&r, "spx_ledger_balances", expected);
    }
    assert_row(&r, "spx_partners_owed", PARTNER "|20000|");
    assert_row(&r, "spx_figures_budget", "food|40000|20000|0|0|20000|");
    row_set budget;
    rows_of(statement(&r, "spx_figures_budget"), &budget);
    assert_int_equal(budget.count, 1);
    /* a batch of one pass after the reset: its own sums only */
    event one[4];
    batch_of_one_pass(one);
    assert_int_equal(fold_batch(fold, one, 4, NULL, 0), 4);
    render(fold, &r);
    rows_of(statement(&r, "spx_ledger_balances"), &ledger);
    assert_int_equal(ledger.count, 3);
    assert_row(&r, "spx_partners_owed", PARTNER "|500|");
    assert_row(&r, "spx_figures_daily", "2026-05-28|food|2|500|");
}

/* A sum that overflows refuses the render (the batch then goes event by
 * event, whose statements refuse it too). */
static void test_an_overflowing_sum_refuses_the_render(void **state) {
    sp_projection_fold *fold = *state;
    event e[3];
    e[0] = opened(PASS_A, 1);
    e[1] = moved(PASS_A, 2, INT64_MAX, INT64_MAX, INT64_MAX, false, 2);
    e[2] = moved(PASS_A, 3, 1, INT64_MAX, INT64_MAX, false, 3);
    assert_int_equal(fold_batch(fold, e, 3, NULL, 0), 3);
    sp_projection_fold_statement out[16];
    size_t count = 0;
    sp_error err;
    assert_int_equal(sp_projection_fold_render(fold, out, &count, &err), -1);
    assert_string_equal(err.code, "fold_overflow");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_batch_folds_into_final_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_daily_figures_are_counted_per_paris_day_and_category,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_rows_taken_midway_and_rendered_make_the_whole_batch,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_batch_delivered_again_writes_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_versions_are_checked_one_by_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credits_open_and_extend_envelopes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interleaving_changes_no_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_pass_with_another_event_is_not_folded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sums_hold_one_row_per_key_and_start_again_at_reset,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_an_overflowing_sum_refuses_the_render, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
