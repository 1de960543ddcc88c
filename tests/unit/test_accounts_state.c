/* test_accounts_state.c - the accounts domain: creating partners and
 * beneficiaries, refusals, idempotency, sessions, and rebuilding the same
 * state from the events (through their wire form). */
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
#include "sp_envelope.h"

#include "accounts_fixture.h"

#define NOW_MS INT64_C(1795766400000) /* 2026-11-27T08:00:00.000Z */
#define HASH_A "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"
#define HASH_B "$argon2id$v=19$m=65536,t=2,p=1$b3RoZXJzYWx0b3RoZXI$b3RoZXJoYXNob3RoZXJoYQ"
#define EVENTS_MAX 512
#define PARTNERS_MANY 200

/* A state with one back-office user, and every event applied to it so far. */
typedef struct fixture {
    sp_accounts_state state;
    char backoffice_id[SP_ID_LEN + 1];
    sp_accounts_event events[EVENTS_MAX];
    size_t event_count;
} fixture;

static const sp_accounts_limits limits = {.users_max = 1000,
                                          .sessions_max = 1000,
                                          .records_max = 4000};

static void keep_events(fixture *f, const sp_accounts_decision *d) {
    for (size_t i = 0; i < d->event_count; i++) {
        assert_true(f->event_count < EVENTS_MAX);
        f->events[f->event_count++] = d->events[i];
    }
}

static int setup(void **state) {
    if (sodium_init() < 0) return -1;
    fixture *f = calloc(1, sizeof *f);
    if (f == NULL) return -1;
    sp_error err;
    if (sp_accounts_state_init(&f->state, &limits, &err) != 0) return -1;
    sp_accounts_event *e = &f->events[f->event_count++];
    if (sp_accounts_decide_register(&f->state, "Back.Office@City.example", HASH_A, "Back-office",
                                    SP_ACCOUNTS_ROLE_BACKOFFICE, NOW_MS, e, &err) != 0)
        return -1;
    bool applied = false;
    if (sp_accounts_apply(&f->state, e, NULL, &applied, &err) != 0 || !applied) return -1;
    snprintf(f->backoffice_id, sizeof f->backoffice_id, "%s", e->user_id);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    sp_accounts_state_destroy(&f->state);
    free(f);
    return 0;
}

static sp_accounts_command partner_command(const char *actor_id, const char *command_id,
                                           const char *name, const char *email) {
    sp_accounts_command c = {.kind = SP_ACCOUNTS_CMD_CREATE_PARTNER,
                             .actor_id = actor_id,
                             .command_id = command_id,
                             .name = name,
                             .category = "football",
                             .email = email,
                             .password_hash = HASH_A,
                             .full_name = "Club Admin",
                             .user_id = ""};
    return c;
}

/* Handles a command, keeps its events, returns its reply. */
static sp_accounts_outcome run(fixture *f, const sp_accounts_command *c, sp_accounts_decision *d) {
    sp_error err;
    assert_int_equal(sp_accounts_handle(&f->state, c, NOW_MS, d, &err), 0);
    keep_events(f, d);
    sp_accounts_outcome out;
    sp_accounts_decision_outcome(&f->state, d, &out);
    return out;
}

static const char *json_field(json_t *object, const char *name) {
    const char *value = json_string_value(json_object_get(object, name));
    assert_non_null(value);
    return value;
}

/* ------------------------------------------------------------------ partners */

static void test_create_partner(void **state) {
    fixture *f = *state;
    sp_accounts_command c = partner_command(f->backoffice_id, "key-1", "Club de foot",
                                            "Admin@Club.Example");
    sp_accounts_decision d;
    sp_accounts_outcome out = run(f, &c, &d);

    assert_true(out.ok);
    assert_false(out.replayed);
    assert_int_equal(out.http_status, 201);
    assert_int_equal(d.event_count, 2);
    assert_int_equal(d.events[0].kind, SP_ACCOUNTS_EV_PARTNER_CREATED);
    assert_int_equal(d.events[0].aggregate_version, 1);
    assert_string_equal(d.events[0].aggregate_id, d.events[0].partner_id);
    assert_int_equal(d.events[1].kind, SP_ACCOUNTS_EV_USER_REGISTERED);
    assert_int_equal(d.events[1].aggregate_version, 1);
    assert_int_equal(d.events[1].role, SP_ACCOUNTS_ROLE_PARTNER_ADMIN);
    assert_string_equal(d.events[1].partner_id, d.events[0].partner_id);

    json_t *result = json_loads(out.result_json, 0, NULL);
    assert_non_null(result);
    const char *code = json_field(result, "partner_code");
    assert_int_equal(strlen(code), SP_PARTNER_CODE_LEN);
    assert_true(sp_luhn_valid(code));
    assert_string_equal(json_field(result, "name"), "Club de foot");
    assert_string_equal(json_field(result, "category"), "football");
    assert_string_equal(json_field(result, "admin_email"), "admin@club.example");
    const sp_accounts_partner *partner = sp_accounts_partner_by_code(&f->state, code);
    assert_non_null(partner);
    assert_string_equal(partner->partner_id, json_field(result, "partner_id"));
    const sp_accounts_user *admin = sp_accounts_user_by_email(&f->state, "ADMIN@club.example");
    assert_non_null(admin);
    assert_string_equal(admin->user_id, json_field(result, "admin_user_id"));
    assert_string_equal(admin->partner_id, partner->partner_id);
    json_decref(result);
}

static void test_partner_codes_unique(void **state) {
    fixture *f = *state;
    for (int i = 0; i < PARTNERS_MANY; i++) {
        char key[32], email[64];
        snprintf(key, sizeof key, "many-%d", i);
        snprintf(email, sizeof email, "admin%d@club.example", i);
        sp_accounts_command c = partner_command(f->backoffice_id, key, "Club", email);
        sp_accounts_decision d;
        sp_accounts_outcome out = run(f, &c, &d);
        assert_true(out.ok);
        assert_true(sp_luhn_valid(d.events[0].partner_code));
    }
    /* Every code reaches its own partner: none was given twice. */
    assert_int_equal(sp_accounts_partner_count(&f->state), PARTNERS_MANY);
    for (size_t i = 0; i < f->event_count; i++) {
        if (f->events[i].kind != SP_ACCOUNTS_EV_PARTNER_CREATED) continue;
        const sp_accounts_partner *p = sp_accounts_partner_by_code(&f->state,
                                                                   f->events[i].partner_code);
        assert_non_null(p);
        assert_string_equal(p->partner_id, f->events[i].partner_id);
    }
}

static void test_duplicate_email_refused(void **state) {
    fixture *f = *state;
    sp_accounts_command first = partner_command(f->backoffice_id, "k1", "Club A",
                                                "admin@club.example");
    sp_accounts_decision d;
    assert_true(run(f, &first, &d).ok);
    size_t users = sp_accounts_user_count(&f->state);

    sp_accounts_command again = partner_command(f->backoffice_id, "k2", "Club B",
                                                "ADMIN@club.example");
    sp_accounts_outcome out = run(f, &again, &d);
    assert_false(out.ok);
    assert_int_equal(out.http_status, 409);
    assert_string_equal(out.code, "email_taken");
    assert_string_equal(out.field, "admin_email");
    assert_int_equal(sp_accounts_user_count(&f->state), users);
    assert_int_equal(sp_accounts_partner_count(&f->state), 1);
    /* The refusal is an event of the actor, so that it survives a restart. */
    assert_int_equal(d.event_count, 1);
    assert_int_equal(d.events[0].kind, SP_ACCOUNTS_EV_COMMAND_REJECTED);
    assert_string_equal(d.events[0].aggregate_id, f->backoffice_id);
    assert_int_equal(d.events[0].aggregate_version, 2);

    /* The beneficiary path refuses it too. */
    sp_accounts_command b = {.kind = SP_ACCOUNTS_CMD_CREATE_BENEFICIARY,
                             .actor_id = f->backoffice_id,
                             .command_id = "k3",
                             .name = "",
                             .category = "",
                             .email = "admin@CLUB.example",
                             .password_hash = HASH_A,
                             .full_name = "Someone",
                             .user_id = ""};
    out = run(f, &b, &d);
    assert_int_equal(out.http_status, 409);
    assert_string_equal(out.field, "email");
}

static void test_non_backoffice_refused(void **state) {
    fixture *f = *state;
    sp_accounts_command b = {.kind = SP_ACCOUNTS_CMD_CREATE_BENEFICIARY,
                             .actor_id = f->backoffice_id,
                             .command_id = "b1",
                             .name = "",
                             .category = "",
                             .email = "ben@example.org",
                             .password_hash = HASH_A,
                             .full_name = "Bénéficiaire Un",
                             .user_id = ""};
    sp_accounts_decision d;
    sp_accounts_outcome out = run(f, &b, &d);
    assert_true(out.ok);
    json_t *result = json_loads(out.result_json, 0, NULL);
    char beneficiary_id[SP_ID_LEN + 1];
    snprintf(beneficiary_id, sizeof beneficiary_id, "%s", json_field(result, "user_id"));
    assert_true(sp_id_valid(json_field(result, "pass_id")));
    json_decref(result);

    sp_accounts_command c = partner_command(beneficiary_id, "p1", "Club", "x@club.example");
    out = run(f, &c, &d);
    assert_false(out.ok);
    assert_int_equal(out.http_status, 403);
    assert_string_equal(out.code, "forbidden");
    assert_int_equal(sp_accounts_partner_count(&f->state), 0);
    assert_null(sp_accounts_user_by_email(&f->state, "x@club.example"));
    assert_int_equal(d.event_count, 1);
    assert_string_equal(d.events[0].aggregate_id, beneficiary_id);

    /* An actor who is no user is refused the same way, and leaves no event. */
    c = partner_command("0f8fad5b-d9cb-469f-a165-70867728950e", "p1", "Club", "x@club.example");
    out = run(f, &c, &d);
    assert_int_equal(out.http_status, 403);
    assert_int_equal(d.event_count, 0);
    c = partner_command("", "p1", "Club", "x@club.example");
    out = run(f, &c, &d);
    assert_int_equal(out.http_status, 403);
    assert_int_equal(d.event_count, 0);
}

/* A beneficiary enrolled without a password (from a CSV file) gets an
 * activation link; the same command again replays, issuing no second link. */
static void test_beneficiary_without_password_gets_a_link(void **state) {
    fixture *f = *state;
    sp_accounts_command c = {.kind = SP_ACCOUNTS_CMD_CREATE_BENEFICIARY,
                             .actor_id = f->backoffice_id,
                             .command_id = "imp-1",
                             .name = "",
                             .category = "",
                             .email = "Zoe@Example.org",
                             .password_hash = "",
                             .full_name = "Zoé Durand",
                             .user_id = ""};
    sp_accounts_decision d;
    sp_accounts_outcome out = run(f, &c, &d);
    assert_true(out.ok);
    assert_int_equal(out.http_status, 201);
    assert_int_equal(d.event_count, 2);
    assert_int_equal(d.events[0].kind, SP_ACCOUNTS_EV_USER_REGISTERED);
    assert_string_equal(d.events[0].password_hash, "");
    assert_true(d.events[0].pass_id[0] != '\0');
    const sp_accounts_event *issued = &d.events[1];
    assert_int_equal(issued->kind, SP_ACCOUNTS_EV_ACTIVATION_ISSUED);
    assert_string_equal(issued->user_id, d.events[0].user_id);
    assert_string_equal(issued->email, "zoe@example.org");
    assert_string_equal(issued->purpose, "activation");
    json_error_t jerr;
    json_t *result = json_loads(out.result_json, 0, &jerr);
    assert_non_null(result);
    assert_string_equal(json_field(result, "user_id"), d.events[0].user_id);
    json_decref(result);
    const sp_accounts_user *user = sp_accounts_user_by_email(&f->state, "zoe@example.org");
    assert_non_null(user);
    assert_false(user->has_password);
    assert_non_null(sp_accounts_activation_by_id(&f->state, issued->activation_id));

    out = run(f, &c, &d);
    assert_true(out.ok);
    assert_true(out.replayed);
    assert_int_equal(d.event_count, 0);
    c.command_id = "imp-2";
    out = run(f, &c, &d);
    assert_false(out.ok);
    assert_string_equal(out.code, "email_taken");
}

static void test_invalid_fields_refused(void **state) {
    fixture *f = *state;
    struct {
        sp_accounts_command c;
        int status;
        const char *code;
        const char *field;
    } cases[] = {
        {partner_command(f->backoffice_id, "v1", "", "a@b.example"), 400, "missing_field", "name"},
        {partner_command(f->backoffice_id, "v2", "Club", "not-an-email"), 400, "invalid_email",
         "admin_email"},
        {partner_command(f->backoffice_id, "v3", "Club", "a b@c.example"), 400, "invalid_email",
         "admin_email"},
        {partner_command(f->backoffice_id, "v4", "Club\n", "a@b.example"), 400, "invalid_value",
         "name"},
        {partner_command(f->backoffice_id, "bad key!", "Club", "a@b.example"), 400, "invalid_value",
         "command_id"},
    };
    cases[0].c.name = "";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sp_accounts_decision d;
        sp_accounts_outcome out = run(f, &cases[i].c, &d);
        assert_false(out.ok);
        assert_int_equal(out.http_status, cases[i].status);
        assert_string_equal(out.code, cases[i].code);
        assert_string_equal(out.field, cases[i].field);
    }
    sp_accounts_command c = partner_command(f->backoffice_id, "v6", "Club", "a@b.example");
    const char *categories[] = {"general", "Football", "f", "9ball", "foot-ball", ""};
    for (size_t i = 0; i < sizeof categories / sizeof categories[0]; i++) {
        char key[16];
        snprintf(key, sizeof key, "cat-%zu", i);
        c.command_id = key;
        c.category = categories[i];
        sp_accounts_decision d;
        sp_accounts_outcome out = run(f, &c, &d);
        assert_int_equal(out.http_status, 422);
        assert_string_equal(out.code, "invalid_category");
    }
    c.category = "culture";
    c.command_id = "hash-1";
    c.password_hash = "$2y$10$bcrypt-is-not-argon";
    sp_accounts_decision d;
    sp_accounts_outcome out = run(f, &c, &d);
    assert_int_equal(out.http_status, 400);
    assert_string_equal(out.field, "admin_password_hash");
    assert_int_equal(sp_accounts_partner_count(&f->state), 0);
}

/* ------------------------------------------------------------------ idempotency */

static void test_replay_returns_first_outcome(void **state) {
    fixture *f = *state;
    sp_accounts_command c = partner_command(f->backoffice_id, "same-key", "Club", "a@club.example");
    sp_accounts_decision d;
    sp_accounts_outcome first = run(f, &c, &d);
    assert_true(first.ok);

    /* Same body (the e-mail compares lower-cased): the stored outcome, no event. */
    c.email = "A@CLUB.example";
    sp_accounts_outcome again = run(f, &c, &d);
    assert_true(again.ok);
    assert_true(again.replayed);
    assert_int_equal(d.event_count, 0);
    assert_string_equal(again.result_json, first.result_json);
    assert_int_equal(sp_accounts_partner_count(&f->state), 1);

    /* The same key from another actor is another command. */
    sp_accounts_command other = partner_command("", "same-key", "Club", "a@club.example");
    sp_accounts_outcome theirs = run(f, &other, &d);
    assert_false(theirs.replayed);
    assert_int_equal(theirs.http_status, 403);
}

static void test_same_key_other_body_conflicts(void **state) {
    fixture *f = *state;
    sp_accounts_command c = partner_command(f->backoffice_id, "k", "Club", "a@club.example");
    sp_accounts_decision d;
    assert_true(run(f, &c, &d).ok);
    c.name = "Another club";
    sp_accounts_outcome out = run(f, &c, &d);
    assert_false(out.ok);
    assert_int_equal(out.http_status, 409);
    assert_string_equal(out.code, "idempotency_conflict");
    assert_int_equal(d.event_count, 0);
    assert_int_equal(sp_accounts_partner_count(&f->state), 1);

    /* A stored refusal is replayed the same way, and conflicts the same way. */
    sp_accounts_command bad = partner_command(f->backoffice_id, "k2", "Club", "a@club.example");
    sp_accounts_outcome refused = run(f, &bad, &d);
    assert_string_equal(refused.code, "email_taken");
    sp_accounts_outcome refused_again = run(f, &bad, &d);
    assert_true(refused_again.replayed);
    assert_string_equal(refused_again.code, "email_taken");
    assert_int_equal(refused_again.http_status, 409);
    bad.email = "free@club.example";
    assert_string_equal(run(f, &bad, &d).code, "idempotency_conflict");
}

/* ------------------------------------------------------------------ sessions */

static sp_accounts_command session_command(sp_accounts_command_kind kind, const char *actor,
                                           const char *key, const char *user_id,
                                           const uint8_t *hash, size_t hash_len, int64_t expires) {
    sp_accounts_command c = {.kind = kind,
                             .actor_id = actor,
                             .command_id = key,
                             .name = "",
                             .category = "",
                             .email = "",
                             .password_hash = "",
                             .full_name = "",
                             .user_id = user_id,
                             .token_hash = hash,
                             .token_hash_len = hash_len,
                             .expires_at_ms = expires};
    return c;
}

static void test_sessions(void **state) {
    fixture *f = *state;
    uint8_t hash[SP_TOKEN_HASH_LEN];
    sp_token_hash("a-bearer-token", hash);
    const char *user = f->backoffice_id;
    int64_t expires = NOW_MS + 3600 * 1000 + 123;
    sp_accounts_command start = session_command(SP_ACCOUNTS_CMD_START_SESSION, user, "login-1",
                                                user, hash, 32, expires);
    sp_accounts_decision d;
    sp_accounts_outcome out = run(f, &start, &d);
    assert_true(out.ok);
    assert_int_equal(d.events[0].kind, SP_ACCOUNTS_EV_SESSION_STARTED);
    assert_int_equal(d.events[0].aggregate_version, 2);
    json_t *result = json_loads(out.result_json, 0, NULL);
    assert_string_equal(json_field(result, "user_id"), user);
    assert_string_equal(json_field(result, "expires_at"), "2026-11-27T09:00:00.123Z");
    json_decref(result);
    const sp_accounts_session *session = sp_accounts_session_by_hash(&f->state, hash);
    assert_non_null(session);
    assert_int_equal(session->expires_at_ms, expires);

    sp_accounts_command end = session_command(SP_ACCOUNTS_CMD_END_SESSION, user, "logout-1", "",
                                              hash, 32, 0);
    out = run(f, &end, &d);
    assert_true(out.ok);
    assert_int_equal(out.http_status, 204);
    assert_null(sp_accounts_session_by_hash(&f->state, hash)); /* ended: freed */
    assert_int_equal(sp_accounts_user_by_id(&f->state, user)->version, 3);

    /* Ended, unknown: 404, and nothing written. */
    end.command_id = "logout-2";
    out = run(f, &end, &d);
    assert_int_equal(out.http_status, 404);
    assert_string_equal(out.code, "not_found");
    assert_int_equal(d.event_count, 0);
    uint8_t other[SP_TOKEN_HASH_LEN];
    sp_token_hash("never-issued", other);
    end.token_hash = other;
    end.command_id = "logout-3";
    assert_int_equal(run(f, &end, &d).http_status, 404);
    assert_int_equal(d.event_count, 0);
}

static void test_session_refusals(void **state) {
    fixture *f = *state;
    uint8_t hash[SP_TOKEN_HASH_LEN];
    sp_token_hash("token", hash);
    const char *user = f->backoffice_id;
    sp_accounts_decision d;
    sp_accounts_command c = session_command(SP_ACCOUNTS_CMD_START_SESSION, user, "s1",
                                            "0f8fad5b-d9cb-469f-a165-70867728950e", hash, 32,
                                            NOW_MS + 1000);
    sp_accounts_outcome out = run(f, &c, &d);
    assert_int_equal(out.http_status, 404);
    assert_string_equal(out.field, "user_id");
    c = session_command(SP_ACCOUNTS_CMD_START_SESSION, user, "s2", user, hash, 31, NOW_MS + 1000);
    assert_string_equal(run(f, &c, &d).field, "token_hash");
    c = session_command(SP_ACCOUNTS_CMD_START_SESSION, user, "s3", user, hash, 32, NOW_MS);
    assert_string_equal(run(f, &c, &d).field, "expires_at_ms");
    assert_int_equal(sp_accounts_session_count(&f->state), 0);

    /* Another user cannot end my session. */
    c = session_command(SP_ACCOUNTS_CMD_START_SESSION, user, "s4", user, hash, 32, NOW_MS + 1000);
    assert_true(run(f, &c, &d).ok);
    sp_accounts_command b = {.kind = SP_ACCOUNTS_CMD_CREATE_BENEFICIARY,
                             .actor_id = user,
                             .command_id = "b",
                             .name = "",
                             .category = "",
                             .email = "ben@example.org",
                             .password_hash = HASH_A,
                             .full_name = "Ben",
                             .user_id = ""};
    out = run(f, &b, &d);
    char ben[SP_ID_LEN + 1];
    snprintf(ben, sizeof ben, "%s", d.events[0].user_id);
    sp_accounts_command end = session_command(SP_ACCOUNTS_CMD_END_SESSION, ben, "e1", "", hash, 32,
                                              0);
    assert_int_equal(run(f, &end, &d).http_status, 404);
    assert_non_null(sp_accounts_session_by_hash(&f->state, hash));
}

/* ------------------------------------------------------------------ rebuild */

static void assert_same_outcome(const sp_accounts_state *a, const sp_accounts_state *b,
                                const char *actor, const char *command_id) {
    uint8_t key[SP_KEY_LEN];
    sp_accounts_key_of(actor, command_id, key);
    sp_accounts_outcome x, y;
    sp_error err;
    assert_int_equal(sp_accounts_outcome_get(a, key, &x, &err), 0);
    assert_int_equal(sp_accounts_outcome_get(b, key, &y, &err), 0);
    assert_int_equal(x.ok, y.ok);
    assert_int_equal(x.http_status, y.http_status);
    assert_string_equal(x.code, y.code);
    assert_string_equal(x.message, y.message);
    assert_string_equal(x.field, y.field);
    assert_string_equal(x.result_json, y.result_json);
    assert_int_equal(x.ref_count, y.ref_count);
    for (size_t i = 0; i < x.ref_count; i++) assert_int_equal(x.refs[i].offset, y.refs[i].offset);
}

static void assert_same_user(const sp_accounts_state *a, const sp_accounts_state *b,
                             const char *id) {
    const sp_accounts_user *x = sp_accounts_user_by_id(a, id);
    const sp_accounts_user *y = sp_accounts_user_by_id(b, id);
    assert_non_null(x);
    assert_non_null(y);
    assert_string_equal(x->email, y->email);
    assert_string_equal(x->full_name, y->full_name);
    assert_int_equal(x->role, y->role);
    assert_string_equal(x->partner_id, y->partner_id);
    assert_string_equal(x->pass_id, y->pass_id);
    assert_int_equal(x->version, y->version);
}

/* Runs a mixed history on f, giving each event its log offset as the
 * service does after flushing. */
static void mixed_history(fixture *f, uint8_t token[SP_TOKEN_HASH_LEN]) {
    const char *bo = f->backoffice_id;
    sp_token_hash("history-token", token);
    sp_accounts_command cmds[6] = {
        partner_command(bo, "h1", "Médiathèque \"Centre\"", "Lib@Example.org"),
        partner_command(bo, "h2", "Dup", "lib@example.org"),
        partner_command(bo, "h3", "Bad", "a@b.example"),
        session_command(SP_ACCOUNTS_CMD_START_SESSION, bo, "h4", bo, token, 32, NOW_MS + 60000),
        session_command(SP_ACCOUNTS_CMD_END_SESSION, bo, "h5", "", token, 32, 0),
        {.kind = SP_ACCOUNTS_CMD_CREATE_BENEFICIARY,
         .actor_id = bo,
         .command_id = "h6",
         .name = "",
         .category = "",
         .email = "ben@example.org",
         .password_hash = HASH_B,
         .full_name = "Zoé",
         .user_id = ""},
    };
    cmds[2].category = "general";
    for (size_t i = 0; i < 6; i++) {
        size_t first = f->event_count;
        sp_accounts_decision d;
        run(f, &cmds[i], &d);
        sp_accounts_ref refs[SP_ACCOUNTS_EVENTS_PER_COMMAND_MAX];
        for (size_t k = 0; k < d.event_count; k++)
            refs[k] = (sp_accounts_ref){.partition = 0, .offset = (int64_t)(first + k)};
        sp_accounts_record_fill_refs(&f->state, d.key, refs, d.event_count);
    }
}

static void test_rebuild_equivalence(void **state) {
    fixture *f = *state;
    uint8_t token[SP_TOKEN_HASH_LEN];
    mixed_history(f, token);

    sp_accounts_state rebuilt;
    sp_error err;
    assert_int_equal(sp_accounts_state_init(&rebuilt, &limits, &err), 0);
    for (size_t i = 0; i < f->event_count; i++) {
        sp_accounts_event e;
        accounts_fixture_wire_round_trip(&f->events[i], &e);
        sp_accounts_ref ref = {.partition = 0, .offset = (int64_t)i};
        bool applied = false;
        assert_int_equal(sp_accounts_apply(&rebuilt, &e, &ref, &applied, &err), 0);
        assert_true(applied);
    }
    assert_int_equal(sp_accounts_user_count(&rebuilt), sp_accounts_user_count(&f->state));
    assert_int_equal(sp_accounts_partner_count(&rebuilt), sp_accounts_partner_count(&f->state));
    assert_int_equal(sp_accounts_session_count(&rebuilt), sp_accounts_session_count(&f->state));
    assert_int_equal(sp_accounts_record_count(&rebuilt), sp_accounts_record_count(&f->state));
    for (size_t i = 0; i < f->event_count; i++) {
        const sp_accounts_event *e = &f->events[i];
        if (e->kind == SP_ACCOUNTS_EV_USER_REGISTERED)
            assert_same_user(&f->state, &rebuilt, e->user_id);
        if (e->kind != SP_ACCOUNTS_EV_PARTNER_CREATED) continue;
        const sp_accounts_partner *x = sp_accounts_partner_by_id(&f->state, e->partner_id);
        const sp_accounts_partner *y = sp_accounts_partner_by_code(&rebuilt, e->partner_code);
        assert_non_null(y);
        assert_string_equal(x->partner_id, y->partner_id);
        assert_string_equal(x->name, y->name);
        assert_string_equal(x->category, y->category);
    }
    assert_null(sp_accounts_session_by_hash(&rebuilt, token));
    const char *keys[] = {"h1", "h2", "h3", "h4", "h5", "h6"};
    for (size_t i = 0; i < 6; i++)
        assert_same_outcome(&f->state, &rebuilt, f->backoffice_id, keys[i]);

    /* After the rebuild, a re-sent command still gets its first answer. */
    sp_accounts_command again = partner_command(f->backoffice_id, "h1", "Médiathèque \"Centre\"",
                                                "lib@example.org");
    sp_accounts_decision d;
    sp_accounts_decide(&rebuilt, &again, NOW_MS, &d);
    assert_true(d.replayed);
    assert_int_equal(d.event_count, 0);
    sp_accounts_state_destroy(&rebuilt);
}

static void test_version_gaps_skipped(void **state) {
    fixture *f = *state;
    uint8_t token[SP_TOKEN_HASH_LEN];
    mixed_history(f, token);
    sp_accounts_state rebuilt;
    sp_error err;
    assert_int_equal(sp_accounts_state_init(&rebuilt, &limits, &err), 0);
    bool applied = false;
    for (size_t i = 0; i < f->event_count; i++) {
        sp_accounts_event e = f->events[i];
        if (e.kind == SP_ACCOUNTS_EV_USER_REGISTERED && e.role == SP_ACCOUNTS_ROLE_BENEFICIARY) {
            sp_accounts_event gap = e;
            gap.aggregate_version = 2; /* a user's first event is version 1 */
            assert_int_equal(sp_accounts_apply(&rebuilt, &gap, NULL, &applied, &err), 0);
            assert_false(applied);
            assert_null(sp_accounts_user_by_id(&rebuilt, e.user_id));
        }
        if (e.kind == SP_ACCOUNTS_EV_SESSION_ENDED) {
            sp_accounts_event ahead = e;
            ahead.aggregate_version += 1; /* skips one */
            assert_int_equal(sp_accounts_apply(&rebuilt, &ahead, NULL, &applied, &err), 0);
            assert_false(applied);
            assert_non_null(sp_accounts_session_by_hash(&rebuilt, token));
        }
        assert_int_equal(sp_accounts_apply(&rebuilt, &e, NULL, &applied, &err), 0);
        assert_true(applied);
        /* A second copy (a redelivery, a second writer) is not the next version. */
        assert_int_equal(sp_accounts_apply(&rebuilt, &e, NULL, &applied, &err), 0);
        assert_false(applied);
    }
    assert_int_equal(sp_accounts_user_count(&rebuilt), sp_accounts_user_count(&f->state));
    /* A second writer's user with a taken e-mail or partner code is not applied. */
    sp_accounts_event twin = f->events[0];
    sp_id_new(twin.user_id);
    memcpy(twin.aggregate_id, twin.user_id, sizeof twin.aggregate_id);
    assert_int_equal(sp_accounts_apply(&rebuilt, &twin, NULL, &applied, &err), 0);
    assert_false(applied);
    assert_null(sp_accounts_user_by_id(&rebuilt, twin.user_id));
    for (size_t i = 0; i < f->event_count; i++) {
        if (f->events[i].kind != SP_ACCOUNTS_EV_PARTNER_CREATED) continue;
        sp_accounts_event copy = f->events[i];
        sp_id_new(copy.partner_id);
        memcpy(copy.aggregate_id, copy.partner_id, sizeof copy.aggregate_id);
        assert_int_equal(sp_accounts_apply(&rebuilt, &copy, NULL, &applied, &err), 0);
        assert_false(applied);
    }
    assert_int_equal(sp_accounts_user_count(&rebuilt), sp_accounts_user_count(&f->state));
    assert_int_equal(sp_accounts_user_by_id(&rebuilt, f->backoffice_id)->version,
                     sp_accounts_user_by_id(&f->state, f->backoffice_id)->version);
    sp_accounts_state_destroy(&rebuilt);
}

static void test_partner_without_admin_is_completed(void **state) {
    fixture *f = *state;
    sp_accounts_command c = partner_command(f->backoffice_id, "crash", "Club", "a@club.example");
    sp_accounts_decision d;
    sp_accounts_decide(&f->state, &c, NOW_MS, &d);
    assert_int_equal(d.event_count, 2);
    /* Only the partner reached the log before the writer stopped. */
    bool applied = false;
    sp_error err;
    assert_int_equal(sp_accounts_apply(&f->state, &d.events[0], NULL, &applied, &err), 0);
    assert_true(applied);
    sp_accounts_decision again;
    sp_accounts_outcome out = run(f, &c, &again);
    assert_true(out.ok);
    assert_int_equal(again.event_count, 1);
    assert_int_equal(again.events[0].kind, SP_ACCOUNTS_EV_USER_REGISTERED);
    assert_string_equal(again.events[0].partner_id, d.events[0].partner_id);
    json_t *result = json_loads(out.result_json, 0, NULL);
    assert_string_equal(json_field(result, "partner_code"), d.events[0].partner_code);
    json_decref(result);
    assert_true(run(f, &c, &again).replayed);
}

/* ------------------------------------------------------------------ validation */

/* ------------------------------------------------------------------ links */

static sp_accounts_command link_command(const char *activation_id, const char *purpose,
                                        const char *command_id) {
    sp_accounts_command c = {.kind = SP_ACCOUNTS_CMD_SET_PASSWORD,
                             .actor_id = "",
                             .command_id = command_id,
                             .name = "",
                             .category = "",
                             .email = "",
                             .password_hash = HASH_B,
                             .full_name = "",
                             .user_id = "",
                             .activation_id = activation_id,
                             .purpose = purpose};
    return c;
}

static void expect_refused(fixture *f, const sp_accounts_command *c, int64_t now_ms, int status,
                           const char *code) {
    sp_accounts_decision d;
    sp_error err;
    assert_int_equal(sp_accounts_handle(&f->state, c, now_ms, &d, &err), 0);
    assert_int_equal(d.event_count, 0); /* a bad link writes nothing */
    sp_accounts_outcome out;
    sp_accounts_decision_outcome(&f->state, &d, &out);
    assert_false(out.ok);
    assert_int_equal(out.http_status, status);
    assert_string_equal(out.code, code);
}

static void test_activation_link_single_use_and_expiring(void **state) {
    fixture *f = *state;
    sp_accounts_command c = partner_command(f->backoffice_id, "act-1", "Club sans mot de passe",
                                            "Coach@Club.Example");
    c.password_hash = "";
    sp_accounts_decision d;
    sp_accounts_outcome out = run(f, &c, &d);
    assert_true(out.ok);
    assert_int_equal(d.event_count, 3);
    const sp_accounts_event *issued = &d.events[2];
    assert_int_equal(issued->kind, SP_ACCOUNTS_EV_ACTIVATION_ISSUED);
    assert_string_equal(issued->user_id, d.events[1].user_id);
    assert_int_equal(issued->aggregate_version, 2);
    assert_string_equal(issued->email, "coach@club.example");
    assert_string_equal(issued->purpose, "activation");
    assert_true(issued->expires_at_ms == NOW_MS + SP_ACCOUNTS_ACTIVATION_TTL_DEFAULT_MS);
    char activation_id[SP_ID_LEN + 1];
    snprintf(activation_id, sizeof activation_id, "%s", issued->activation_id);

    sp_accounts_command wrong = link_command(activation_id, "reset", "l1");
    expect_refused(f, &wrong, NOW_MS, 400, "invalid_token");
    sp_accounts_command unknown = link_command("00000000-0000-4000-8000-000000000000", "activation",
                                               "l2");
    expect_refused(f, &unknown, NOW_MS, 400, "invalid_token");
    sp_accounts_command set = link_command(activation_id, "activation", "l3");
    expect_refused(f, &set, issued->expires_at_ms, 410, "token_expired");

    out = run(f, &set, &d);
    assert_true(out.ok);
    assert_int_equal(d.event_count, 1);
    assert_int_equal(d.events[0].kind, SP_ACCOUNTS_EV_PASSWORD_SET);
    assert_string_equal(d.events[0].password_hash, HASH_B);
    assert_int_equal(d.events[0].aggregate_version, 3);
    sp_accounts_command again = link_command(activation_id, "activation", "l4");
    expect_refused(f, &again, NOW_MS, 410, "token_used");

    /* Rebuilt from the wire form, the link is still spent. */
    sp_accounts_state rebuilt;
    sp_error err;
    assert_int_equal(sp_accounts_state_init(&rebuilt, &limits, &err), 0);
    for (size_t i = 0; i < f->event_count; i++) {
        sp_accounts_event e;
        accounts_fixture_wire_round_trip(&f->events[i], &e);
        bool applied = false;
        assert_int_equal(sp_accounts_apply(&rebuilt, &e, NULL, &applied, &err), 0);
        assert_true(applied);
    }
    const sp_accounts_activation *a = sp_accounts_activation_by_id(&rebuilt, activation_id);
    assert_non_null(a);
    assert_true(a->used);
    sp_accounts_state_destroy(&rebuilt);
}

static void test_password_reset_request(void **state) {
    fixture *f = *state;
    sp_accounts_command c = {.kind = SP_ACCOUNTS_CMD_REQUEST_RESET,
                             .actor_id = "",
                             .command_id = "r1",
                             .name = "",
                             .category = "",
                             .email = "nobody@example.org",
                             .password_hash = "",
                             .full_name = "",
                             .user_id = ""};
    expect_refused(f, &c, NOW_MS, 404, "not_found");
    c.command_id = "r2";
    c.email = "BACK.office@city.example";
    sp_accounts_decision d;
    sp_accounts_outcome out = run(f, &c, &d);
    assert_true(out.ok);
    assert_int_equal(out.http_status, 202);
    assert_int_equal(d.event_count, 1);
    assert_int_equal(d.events[0].kind, SP_ACCOUNTS_EV_ACTIVATION_ISSUED);
    assert_string_equal(d.events[0].purpose, "reset");
    assert_string_equal(d.events[0].user_id, f->backoffice_id);
    assert_string_equal(d.events[0].email, "back.office@city.example");
    /* The same request again is its stored outcome, not a second link. */
    out = run(f, &c, &d);
    assert_true(out.replayed);
    assert_int_equal(d.event_count, 0);
    sp_accounts_command set = link_command(f->events[f->event_count - 1].activation_id,
                                           "activation", "r3");
    expect_refused(f, &set, NOW_MS, 400, "invalid_token");
    set.purpose = "reset";
    out = run(f, &set, &d);
    assert_true(out.ok);
}

static void test_validation_helpers(void **state) {
    (void)state;
    char out[SP_ACCOUNTS_EMAIL_MAX + 1];
    sp_error err;
    assert_int_equal(sp_accounts_email_normalize("Jane.Doe+x@Mail.Example.ORG", out, "email", &err),
                     0);
    assert_string_equal(out, "jane.doe+x@mail.example.org");
    const char *bad[] = {"",        "a",        "@b.fr",    "a@",      "a@b",
                         "a@@b.fr", "a@b@c.fr", "a b@c.fr", "a@.b.fr", "a@b.fr.",
                         "a@b..fr", "é@b.fr",   "a\t@b.fr"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(sp_accounts_email_normalize(bad[i], out, "email", &err), -1);
    char longest[300];
    memset(longest, 'a', sizeof longest);
    memcpy(longest + 250, "@b.fr", 6); /* 255 bytes */
    assert_int_equal(sp_accounts_email_normalize(longest, out, "email", &err), -1);

    assert_true(sp_accounts_partner_category_valid("sport"));
    assert_true(sp_accounts_partner_category_valid("a1"));
    assert_true(sp_accounts_partner_category_valid("abcdefghijklmnopqrstuvwxyz012345"));
    assert_false(sp_accounts_partner_category_valid("abcdefghijklmnopqrstuvwxyz0123456"));
    assert_false(sp_accounts_partner_category_valid("general"));

    assert_true(sp_accounts_text_valid("Zoé", 1, 3));
    assert_false(sp_accounts_text_valid("Zoé!", 1, 3));
    assert_false(sp_accounts_text_valid("\xc3", 0, 10));         /* truncated sequence */
    assert_false(sp_accounts_text_valid("\xc0\xaf", 0, 10));     /* overlong */
    assert_false(sp_accounts_text_valid("\xed\xa0\x80", 0, 10)); /* surrogate */
    assert_false(sp_accounts_text_valid("a\x7f", 0, 10));
    assert_false(sp_accounts_text_valid("", 1, 10));

    assert_true(sp_accounts_password_hash_valid(HASH_A));
    assert_false(sp_accounts_password_hash_valid("$argon2id$"));
    assert_false(sp_accounts_password_hash_valid("$argon2i$v=19$m=1,t=1,p=1$x$y"));
    assert_int_equal(sp_accounts_status_of_code("email_taken"), 409);
    assert_int_equal(sp_accounts_status_of_code("forbidden"), 403);
}

static void test_bounds_refuse_with_503(void **state) {
    (void)state;
    sp_accounts_limits small = {.users_max = 2, .sessions_max = 1, .records_max = 10};
    sp_accounts_state s;
    sp_error err;
    assert_int_equal(sp_accounts_state_init(&s, &small, &err), 0);
    sp_accounts_event e;
    assert_int_equal(sp_accounts_decide_register(&s, "bo@city.example", HASH_A, "BO",
                                                 SP_ACCOUNTS_ROLE_BACKOFFICE, NOW_MS, &e, &err),
                     0);
    bool applied = false;
    assert_int_equal(sp_accounts_apply(&s, &e, NULL, &applied, &err), 0);
    /* Room for one partner admin only: the second is refused, not stored, nothing written. */
    sp_accounts_command c = partner_command(e.user_id, "full", "Club", "a@club.example");
    sp_accounts_decision d;
    assert_int_equal(sp_accounts_handle(&s, &c, NOW_MS, &d, &err), 0);
    sp_accounts_outcome out;
    sp_accounts_decision_outcome(&s, &d, &out);
    assert_true(out.ok);
    c.command_id = "full-2";
    c.email = "b@club.example";
    assert_int_equal(sp_accounts_handle(&s, &c, NOW_MS, &d, &err), 0);
    sp_accounts_decision_outcome(&s, &d, &out);
    assert_int_equal(out.http_status, 503);
    assert_int_equal(d.event_count, 0);
    assert_int_equal(sp_accounts_user_count(&s), 2);
    sp_accounts_state_destroy(&s);
}

static void test_codec_refuses_malformed(void **state) {
    fixture *f = *state;
    sp_accounts_event e = f->events[0];
    sp_accounts_event_pb pb;
    const ProtobufCMessage *payload = sp_accounts_event_to_pb(&e, &pb);
    uint8_t packed[4096];
    size_t len = protobuf_c_message_pack(payload, packed);
    Solipass__Envelope env = SOLIPASS__ENVELOPE__INIT;
    env.type = (char *)"accounts.UserRegistered.v1";
    env.aggregate_id = e.aggregate_id;
    env.aggregate_version = 1;
    env.payload.data = packed;
    env.payload.len = len;
    sp_accounts_event out;
    sp_error err;
    assert_int_equal(sp_accounts_event_decode(&env, &out, &err), 0);
    assert_string_equal(out.email, e.email);

    env.payload.len = len - 1; /* cut short */
    assert_int_equal(sp_accounts_event_decode(&env, &out, &err), -1);
    env.payload.len = len;
    env.type = (char *)"accounts.SessionStarted.v1"; /* a session without a 32-byte hash */
    assert_int_equal(sp_accounts_event_decode(&env, &out, &err), -1);
    env.type = (char *)"ledger.PassOpened.v1";
    assert_int_equal(sp_accounts_event_decode(&env, &out, &err), -1);

    char long_actor[64];
    memset(long_actor, 'a', sizeof long_actor - 1);
    long_actor[sizeof long_actor - 1] = '\0';
    env.type = (char *)"accounts.UserRegistered.v1";
    env.actor_id = long_actor;
    assert_int_equal(sp_accounts_event_decode(&env, &out, &err), -1);

    sp_accounts_command_msg command;
    env.actor_id = (char *)"";
    env.command_id = (char *)"k";
    assert_int_equal(sp_accounts_command_decode(&env, &command, &err), -1); /* an event */
    Solipass__Accounts__CreateBeneficiary create = SOLIPASS__ACCOUNTS__CREATE_BENEFICIARY__INIT;
    create.email = (char *)"ben@example.org";
    create.password_hash = (char *)HASH_A;
    create.full_name = (char *)"Ben";
    env.payload.len = protobuf_c_message_pack(&create.base, packed);
    env.type = (char *)"accounts.CreateBeneficiary.v1";
    assert_int_equal(sp_accounts_command_decode(&env, &command, &err), 0);
    assert_int_equal(command.command.kind, SP_ACCOUNTS_CMD_CREATE_BENEFICIARY);
    assert_string_equal(command.command.email, "ben@example.org");
    assert_string_equal(command.command.command_id, "k");
    assert_string_equal(command.command.user_id, "");
    sp_accounts_command_msg_free(&command);
    env.type = (char *)"accounts.Unknown.v1";
    assert_int_equal(sp_accounts_command_decode(&env, &command, &err), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_partner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partner_codes_unique, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_email_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_backoffice_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_fields_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_returns_first_outcome, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_key_other_body_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebuild_equivalence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version_gaps_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partner_without_admin_is_completed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_codec_refuses_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_beneficiary_without_password_gets_a_link, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_activation_link_single_use_and_expiring, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_password_reset_request, setup, teardown),
        cmocka_unit_test(test_validation_helpers),
        cmocka_unit_test(test_bounds_refuse_with_503),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
