/* test_projection_figures.c - the figures' and history's pure layer: the
 * one table from event type to action, each action's statement taking the
 * event's own parameters after the five of its meta, and the meta (event
 * id, time, actor) as the history needs it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "projection/projection_figures.h"
#include "projection/projection_rows.h"

#define EVENT_ID "3b1f6c2e-8d4a-4c5e-9f10-2a3b4c5d6e7f"
#define USER_ID "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918"
#define T_MS INT64_C(1795773600123) /* 2026-11-27T10:00:00.123Z */
#define T_TEXT "2026-11-27T10:00:00.123Z"

static const sp_projection_statement *main_statement(const char *name) {
    for (size_t i = 0; i < sp_projection_statement_count; i++)
        if (strcmp(sp_projection_statements[i].name, name) == 0)
            return &sp_projection_statements[i];
    return NULL;
}

static bool code_like(const char *s) {
    if (s[0] == '\0') return false;
    for (; *s != '\0'; s++)
        if (!((*s >= 'a' && *s <= 'z') || *s == '_')) return false;
    return true;
}

/* Every "spf_X" reads the parameters of the event's own "sp_X", shifted by
 * the five of the meta: one more or one less would read the wrong column. */
static void test_each_statement_takes_its_events_parameters(void **state) {
    (void)state;
    assert_true(sp_projection_figures_statement_count > 0);
    for (size_t i = 0; i < sp_projection_figures_statement_count; i++) {
        const sp_projection_statement *st = &sp_projection_figures_statements[i];
        assert_int_equal(strncmp(st->name, "spf_", 4), 0);
        char own[64];
        snprintf(own, sizeof own, "sp_%s", st->name + 4);
        const sp_projection_statement *event = main_statement(own);
        assert_non_null(event);
        assert_int_equal(st->param_count, SP_PROJECTION_FIGURES_META_PARAMS + event->param_count);
        assert_true(st->param_count <= SP_PROJECTION_FIGURES_PARAMS_MAX);
        assert_non_null(strstr(st->sql, "INSERT INTO history"));
        assert_ptr_equal(sp_projection_figures_statement(st->name), st);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(sp_projection_figures_statements[j].name, st->name);
    }
}

static void test_one_line_per_event_type_with_a_stable_action(void **state) {
    (void)state;
    for (size_t i = 0; i < sp_projection_figures_entry_count; i++) {
        const sp_projection_figures_entry *e = &sp_projection_figures_entries[i];
        assert_non_null(sp_projection_figures_statement(e->statement));
        assert_true(code_like(e->action));
        assert_string_equal(sp_projection_figures_action(e->type), e->action);
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(sp_projection_figures_entries[j].type, e->type);
            /* two types share an action only if they share a statement */
            if (strcmp(sp_projection_figures_entries[j].action, e->action) == 0)
                assert_string_equal(sp_projection_figures_entries[j].statement, e->statement);
        }
    }
    assert_string_equal(sp_projection_figures_action("ledger.OperationCancelled.v1"),
                        "payment_cancelled");
    assert_string_equal(sp_projection_figures_action("ledger.VoucherExpired.v1"),
                        "voucher_expired");
    assert_null(sp_projection_figures_action("accounts.SessionStarted.v1"));
    assert_null(sp_projection_figures_action("ledger.CommandRejected.v1"));
}

static sp_projection_row credit_row(const char *const *params, int count) {
    sp_projection_row row = {.kind = SP_PROJECTION_PASS_CREDITED,
                             .type = "ledger.PassCredited.v1",
                             .versioned = true,
                             .sql = "SELECT 1",
                             .statement = "sp_pass_credited",
                             .param_count = count,
                             .occurred_at_ms = T_MS};
    for (int i = 0; i < count; i++) row.params[i] = params[i];
    snprintf(row.event_id, sizeof row.event_id, "%s", EVENT_ID);
    snprintf(row.actor_id, sizeof row.actor_id, "%s", USER_ID);
    snprintf(row.actor_role, sizeof row.actor_role, "%s", "backoffice");
    return row;
}

static void test_the_meta_then_the_events_own_parameters(void **state) {
    (void)state;
    const char *params[SP_PROJECTION_CREDIT_PARAM_COUNT];
    char texts[SP_PROJECTION_CREDIT_PARAM_COUNT][8];
    for (int i = 0; i < SP_PROJECTION_CREDIT_PARAM_COUNT; i++) {
        snprintf(texts[i], sizeof texts[i], "p%d", i + 1);
        params[i] = texts[i];
    }
    params[14] = NULL; /* a credit names no partner */
    sp_projection_row row = credit_row(params, SP_PROJECTION_CREDIT_PARAM_COUNT);
    sp_projection_figures_row out;
    sp_projection_figures_build(&row, &out);
    assert_string_equal(out.statement, "spf_pass_credited");
    assert_string_equal(out.action, "credit");
    assert_int_equal(out.param_count, 5 + SP_PROJECTION_CREDIT_PARAM_COUNT);
    assert_string_equal(out.params[0], EVENT_ID);
    assert_string_equal(out.params[1], T_TEXT);
    assert_string_equal(out.params[2], USER_ID);
    assert_string_equal(out.params[3], "backoffice");
    assert_string_equal(out.params[4], "credit");
    for (int i = 0; i < SP_PROJECTION_CREDIT_PARAM_COUNT; i++)
        assert_ptr_equal(out.params[5 + i], params[i]);

    /* The system (an expiry, the monthly run) has no actor and no role. */
    row.actor_id[0] = '\0';
    sp_projection_figures_build(&row, &out);
    assert_null(out.params[2]);
    assert_null(out.params[3]);
    /* An event with no role of its own: NULL, the API shows the user's. */
    snprintf(row.actor_id, sizeof row.actor_id, "%s", USER_ID);
    row.actor_role[0] = '\0';
    sp_projection_figures_build(&row, &out);
    assert_string_equal(out.params[2], USER_ID);
    assert_null(out.params[3]);
}

static void test_events_outside_the_table_write_nothing(void **state) {
    (void)state;
    const char *params[3] = {"a", "b", "c"};
    sp_projection_row row = credit_row(params, 3);
    row.type = "accounts.SessionStarted.v1";
    sp_projection_figures_row out;
    sp_projection_figures_build(&row, &out);
    assert_null(out.statement);
    /* a listed event that changes no read model (sql NULL) neither */
    row = credit_row(params, 3);
    row.sql = NULL;
    sp_projection_figures_build(&row, &out);
    assert_null(out.statement);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_statement_takes_its_events_parameters),
        cmocka_unit_test(test_one_line_per_event_type_with_a_stable_action),
        cmocka_unit_test(test_the_meta_then_the_events_own_parameters),
        cmocka_unit_test(test_events_outside_the_table_write_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
