/* test_conventions.c - conventions in the accounts domain: the back-office
 * publishes (validated), a partner administrator accepts once for its own
 * partner (who and when recorded), others are refused; outcomes replay, and
 * a state rebuilt from the events on the wire gives the same answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "accounts/accounts_codec.h"
#include "accounts/accounts_state.h"

#include "accounts_fixture.h"

#define NOW_MS INT64_C(1795766400000) /* 2026-11-27T08:00:00Z */
#define HASH_A "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"
#define EVENTS_MAX 64
#define TEXT "Article 1.\nLe partenaire accepte le Pass solidarité.\n\tArticle 2. ..."

typedef struct fixture {
    sp_accounts_state state;
    char backoffice_id[SP_ID_LEN + 1];
    char partner_id[SP_ID_LEN + 1];
    char admin_id[SP_ID_LEN + 1];
    sp_accounts_event events[EVENTS_MAX];
    size_t event_count;
} fixture;

static const sp_accounts_limits limits = {.users_max = 100,
                                          .sessions_max = 100,
                                          .records_max = 400};

static sp_accounts_command blank(sp_accounts_command_kind kind, const char *actor,
                                 const char *key) {
    sp_accounts_command c = {.kind = kind,
                             .actor_id = actor,
                             .command_id = key,
                             .name = "",
                             .category = "",
                             .email = "",
                             .password_hash = "",
                             .full_name = "",
                             .user_id = "",
                             .convention_id = "",
                             .title = "",
                             .version = "",
                             .text = "",
                             .effective_date = ""};
    return c;
}

static sp_accounts_outcome run(fixture *f, const sp_accounts_command *c, sp_accounts_decision *d) {
    sp_error err;
    assert_int_equal(sp_accounts_handle(&f->state, c, NOW_MS, d, &err), 0);
    for (size_t i = 0; i < d->event_count; i++) {
        assert_true(f->event_count < EVENTS_MAX);
        f->events[f->event_count++] = d->events[i];
    }
    sp_accounts_outcome out;
    sp_accounts_decision_outcome(&f->state, d, &out);
    return out;
}

static int setup(void **state) {
    if (sodium_init() < 0) return -1;
    fixture *f = calloc(1, sizeof *f);
    sp_error err;
    if (f == NULL || sp_accounts_state_init(&f->state, &limits, &err) != 0) return -1;
    sp_accounts_event *e = &f->events[f->event_count++];
    bool applied = false;
    if (sp_accounts_decide_register(&f->state, "bo@city.example", HASH_A, "Back-office",
                                    SP_ACCOUNTS_ROLE_BACKOFFICE, NOW_MS, e, &err) != 0 ||
        sp_accounts_apply(&f->state, e, NULL, &applied, &err) != 0 || !applied)
        return -1;
    snprintf(f->backoffice_id, sizeof f->backoffice_id, "%s", e->user_id);
    sp_accounts_command c = blank(SP_ACCOUNTS_CMD_CREATE_PARTNER, f->backoffice_id, "p1");
    c.name = "Club de judo";
    c.category = "sport";
    c.email = "admin@judo.example";
    c.password_hash = HASH_A;
    c.full_name = "Admin";
    sp_accounts_decision d;
    if (sp_accounts_handle(&f->state, &c, NOW_MS, &d, &err) != 0) return -1;
    for (size_t i = 0; i < d.event_count; i++) f->events[f->event_count++] = d.events[i];
    snprintf(f->partner_id, sizeof f->partner_id, "%s", d.events[0].partner_id);
    snprintf(f->admin_id, sizeof f->admin_id, "%s", d.events[1].user_id);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    sp_accounts_state_destroy(&f->state);
    free(f);
    return 0;
}

static sp_accounts_command publish(const fixture *f, const char *key) {
    sp_accounts_command c = blank(SP_ACCOUNTS_CMD_PUBLISH_CONVENTION, f->backoffice_id, key);
    c.title = "Convention de partenariat";
    c.version = "2027-1";
    c.text = TEXT;
    c.effective_date = "2027-01-01";
    c.mandatory = true;
    return c;
}

static void expect_refusal(fixture *f, const sp_accounts_command *c, int status, const char *code,
                           const char *field) {
    sp_accounts_decision d;
    sp_accounts_outcome out = run(f, c, &d);
    assert_false(out.ok);
    assert_int_equal(out.http_status, status);
    assert_string_equal(out.code, code);
    if (field != NULL) assert_string_equal(out.field, field);
}

static void test_publish_then_accept_records_who_and_when(void **state) {
    fixture *f = *state;
    sp_accounts_command c = publish(f, "conv-1");
    sp_accounts_decision d;
    sp_accounts_outcome out = run(f, &c, &d);
    assert_true(out.ok);
    assert_int_equal(out.http_status, 201);
    assert_int_equal(d.event_count, 1);
    const sp_accounts_event *e = &d.events[0];
    assert_int_equal(e->kind, SP_ACCOUNTS_EV_CONVENTION_PUBLISHED);
    assert_int_equal(e->aggregate_version, 1);
    assert_string_equal(e->aggregate_id, e->convention_id);
    assert_string_equal(e->user_id, f->backoffice_id);
    assert_true(e->mandatory);
    char convention_id[SP_ID_LEN + 1];
    snprintf(convention_id, sizeof convention_id, "%s", e->convention_id);
    json_t *result = json_loads(out.result_json, 0, NULL);
    assert_non_null(result);
    assert_string_equal(json_string_value(json_object_get(result, "convention_id")), convention_id);
    assert_string_equal(json_string_value(json_object_get(result, "effective_date")), "2027-01-01");
    assert_true(json_is_true(json_object_get(result, "mandatory")));
    json_decref(result);

    uint64_t partner_version = sp_accounts_partner_by_id(&f->state, f->partner_id)->version;
    sp_accounts_command a = blank(SP_ACCOUNTS_CMD_ACCEPT_CONVENTION, f->admin_id, "acc-1");
    a.convention_id = convention_id;
    out = run(f, &a, &d);
    assert_true(out.ok);
    assert_int_equal(out.http_status, 201);
    e = &d.events[0];
    assert_int_equal(e->kind, SP_ACCOUNTS_EV_CONVENTION_ACCEPTED);
    assert_string_equal(e->aggregate_id, f->partner_id);
    assert_int_equal(e->aggregate_version, partner_version + 1);
    assert_string_equal(e->user_id, f->admin_id);
    assert_string_equal(e->version, "2027-1");
    assert_int_equal(e->occurred_at_ms, NOW_MS);
    assert_true(sp_accounts_convention_accepted(&f->state, f->partner_id, convention_id));
    result = json_loads(out.result_json, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(result, "accepted_by")), f->admin_id);
    assert_string_equal(json_string_value(json_object_get(result, "accepted_at")),
                        "2026-11-27T08:00:00.000Z");
    json_decref(result);

    /* the same key again is the same answer; accepting again is a conflict */
    out = run(f, &a, &d);
    assert_true(out.ok && out.replayed);
    a.command_id = "acc-2";
    expect_refusal(f, &a, 409, "conflict", "convention_id");
}

static void test_publish_and_accept_refusals(void **state) {
    fixture *f = *state;
    sp_accounts_command c = publish(f, "bad-1");
    c.actor_id = f->admin_id;
    expect_refusal(f, &c, 403, "forbidden", NULL);
    c = publish(f, "bad-2");
    c.title = "";
    expect_refusal(f, &c, 400, "invalid_value", "title");
    c = publish(f, "bad-3");
    c.version = "v 1";
    expect_refusal(f, &c, 400, "invalid_value", "version");
    c = publish(f, "bad-4");
    c.text = "a\001b";
    expect_refusal(f, &c, 400, "invalid_value", "text");
    char *big = malloc(SP_ACCOUNTS_CONVENTION_TEXT_BYTES_MAX + 2);
    assert_non_null(big);
    memset(big, 'a', SP_ACCOUNTS_CONVENTION_TEXT_BYTES_MAX + 1);
    big[SP_ACCOUNTS_CONVENTION_TEXT_BYTES_MAX + 1] = '\0';
    c = publish(f, "bad-5");
    c.text = big;
    expect_refusal(f, &c, 400, "invalid_value", "text");
    free(big);
    c = publish(f, "bad-6");
    c.effective_date = "2027-02-30";
    expect_refusal(f, &c, 422, "invalid_date", "effective_date");

    sp_accounts_command a = blank(SP_ACCOUNTS_CMD_ACCEPT_CONVENTION, f->admin_id, "acc-x");
    a.convention_id = "7d3f1e2a-5b6c-4d7e-8f90-a1b2c3d4e5f6";
    expect_refusal(f, &a, 404, "convention_not_found", "convention_id");
    sp_accounts_decision d;
    c = publish(f, "good");
    sp_accounts_outcome out = run(f, &c, &d);
    assert_true(out.ok);
    a = blank(SP_ACCOUNTS_CMD_ACCEPT_CONVENTION, f->backoffice_id, "acc-bo");
    a.convention_id = d.events[0].convention_id;
    expect_refusal(f, &a, 403, "forbidden", NULL);
    /* the same key with another body */
    c = publish(f, "good");
    c.text = "Un autre texte";
    out = run(f, &c, &d);
    assert_false(out.ok);
    assert_string_equal(d.rejection.code, "idempotency_conflict");
}

static void test_rebuilt_state_gives_the_same_answers(void **state) {
    fixture *f = *state;
    sp_accounts_decision d;
    sp_accounts_command c = publish(f, "conv-1");
    assert_true(run(f, &c, &d).ok);
    char convention_id[SP_ID_LEN + 1];
    snprintf(convention_id, sizeof convention_id, "%s", d.events[0].convention_id);
    sp_accounts_command a = blank(SP_ACCOUNTS_CMD_ACCEPT_CONVENTION, f->admin_id, "acc-1");
    a.convention_id = convention_id;
    assert_true(run(f, &a, &d).ok);

    sp_accounts_state *rebuilt = calloc(1, sizeof *rebuilt);
    sp_accounts_event *copy = malloc(sizeof *copy);
    assert_non_null(rebuilt);
    assert_non_null(copy);
    sp_error err;
    assert_int_equal(sp_accounts_state_init(rebuilt, &limits, &err), 0);
    for (size_t i = 0; i < f->event_count; i++) {
        accounts_fixture_wire_round_trip(&f->events[i], copy);
        bool applied = false;
        sp_accounts_ref ref = {.partition = 0, .offset = (int64_t)i};
        assert_int_equal(sp_accounts_apply(rebuilt, copy, &ref, &applied, &err), 0);
        assert_true(applied);
        /* applied twice (a replayed log): ignored */
        assert_int_equal(sp_accounts_apply(rebuilt, copy, &ref, &applied, &err), 0);
        assert_false(applied);
    }
    assert_true(sp_accounts_convention_accepted(rebuilt, f->partner_id, convention_id));
    /* the same commands on the rebuilt state replay; another text conflicts */
    sp_accounts_handle(rebuilt, &c, NOW_MS, &d, &err);
    assert_true(d.replayed);
    sp_accounts_handle(rebuilt, &a, NOW_MS, &d, &err);
    assert_true(d.replayed);
    c.text = "autre";
    sp_accounts_handle(rebuilt, &c, NOW_MS, &d, &err);
    assert_string_equal(d.rejection.code, "idempotency_conflict");
    sp_accounts_state_destroy(rebuilt);
    free(rebuilt);
    free(copy);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_publish_then_accept_records_who_and_when, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_publish_and_accept_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebuilt_state_gives_the_same_answers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
