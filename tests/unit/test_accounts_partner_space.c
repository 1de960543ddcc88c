/* test_accounts_partner_space.c - the accounts service's partner space
 * decisions: a structure's profile (checked again, whatever the gateway
 * did), adding users with an activation link, roles, removal, the last
 * administrator rule, tenants, and the same state rebuilt from the events'
 * wire form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "accounts/accounts_codec.h"
#include "accounts/accounts_state.h"
#include "sp_envelope.h"

#define NOW_MS INT64_C(1795766400000)          /* 2026-11-27T08:00:00.000Z */
#define HASH_A "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"
#define EVENTS_MAX 64

/* A back-office user and two partners (A and B) with one administrator each. */
typedef struct fixture {
    sp_accounts_state state;
    char backoffice_id[SP_ID_LEN + 1];
    char partner_a[SP_ID_LEN + 1], admin_a[SP_ID_LEN + 1];
    char partner_b[SP_ID_LEN + 1], admin_b[SP_ID_LEN + 1];
    sp_accounts_event events[EVENTS_MAX];
    size_t event_count;
    int keys;
} fixture;

static const sp_accounts_limits limits = {.users_max = 100, .sessions_max = 100,
                                          .records_max = 400};

static void keep(fixture *f, const sp_accounts_decision *d) {
    for (size_t i = 0; i < d->event_count; i++) {
        assert_true(f->event_count < EVENTS_MAX);
        f->events[f->event_count++] = d->events[i];
    }
}

static sp_accounts_command command(sp_accounts_command_kind kind, const char *actor,
                                   const char *key) {
    sp_accounts_command c = {.kind = kind, .actor_id = actor, .command_id = key, .name = "",
                             .category = "", .email = "", .password_hash = "", .full_name = "",
                             .user_id = "", .partner_id = "", .slot = "", .sha256 = "",
                             .content_type = ""};
    return c;
}

static sp_accounts_outcome run(fixture *f, const sp_accounts_command *c, sp_accounts_decision *d) {
    sp_error err;
    assert_int_equal(sp_accounts_handle(&f->state, c, NOW_MS, d, &err), 0);
    keep(f, d);
    sp_accounts_outcome out;
    sp_accounts_decision_outcome(&f->state, d, &out);
    return out;
}

static void new_partner(fixture *f, const char *email, char *partner_id, char *admin_id) {
    char key[16];
    snprintf(key, sizeof key, "p-%d", f->keys++);
    sp_accounts_command c = command(SP_ACCOUNTS_CMD_CREATE_PARTNER, f->backoffice_id, key);
    c.name = "Club";
    c.category = "football";
    c.email = email;
    c.password_hash = HASH_A;
    c.full_name = "Admin";
    sp_accounts_decision d;
    assert_true(run(f, &c, &d).ok);
    snprintf(partner_id, SP_ID_LEN + 1, "%s", d.events[0].partner_id);
    snprintf(admin_id, SP_ID_LEN + 1, "%s", d.events[1].user_id);
}

static int setup(void **state) {
    if (sodium_init() < 0) return -1;
    fixture *f = calloc(1, sizeof *f);
    sp_error err;
    if (f == NULL || sp_accounts_state_init(&f->state, &limits, &err) != 0) return -1;
    sp_accounts_event *e = &f->events[f->event_count++];
    if (sp_accounts_decide_register(&f->state, "bo@city.example", HASH_A, "Back-office",
                                    SP_ACCOUNTS_ROLE_BACKOFFICE, NOW_MS, e, &err) != 0)
        return -1;
    bool applied = false;
    if (sp_accounts_apply(&f->state, e, NULL, &applied, &err) != 0 || !applied) return -1;
    snprintf(f->backoffice_id, sizeof f->backoffice_id, "%s", e->user_id);
    new_partner(f, "a@club-a.example", f->partner_a, f->admin_a);
    new_partner(f, "b@club-b.example", f->partner_b, f->admin_b);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    sp_accounts_state_destroy(&f->state);
    free(f);
    return 0;
}

static sp_accounts_outcome add_user(fixture *f, const char *actor, const char *partner,
                                    const char *key, const char *email, sp_accounts_role role,
                                    sp_accounts_decision *d) {
    sp_accounts_command c = command(SP_ACCOUNTS_CMD_ADD_PARTNER_USER, actor, key);
    c.partner_id = partner;
    c.email = email;
    c.full_name = "Cashier";
    c.role = role;
    return run(f, &c, d);
}

static sp_accounts_outcome change_role(fixture *f, const char *actor, const char *key,
                                       const char *user, sp_accounts_role role) {
    sp_accounts_command c = command(SP_ACCOUNTS_CMD_CHANGE_ROLE, actor, key);
    c.user_id = user;
    c.role = role;
    sp_accounts_decision d;
    return run(f, &c, &d);
}

static sp_accounts_outcome remove_user(fixture *f, const char *actor, const char *key,
                                       const char *user) {
    sp_accounts_command c = command(SP_ACCOUNTS_CMD_REMOVE_USER, actor, key);
    c.user_id = user;
    sp_accounts_decision d;
    return run(f, &c, &d);
}

static void expect(const sp_accounts_outcome *out, int status, const char *code) {
    assert_false(out->ok);
    assert_int_equal(out->http_status, status);
    assert_string_equal(out->code, code);
}

/* ------------------------------------------------------------------ users */

static void added_user_gets_an_activation_link(void **state) {
    fixture *f = *state;
    sp_accounts_decision d;
    sp_accounts_outcome out = add_user(f, f->admin_a, f->partner_a, "add-1", "Cash@Club-A.example",
                                       SP_ACCOUNTS_ROLE_PARTNER_USER, &d);
    assert_true(out.ok);
    assert_int_equal(out.http_status, 201);
    assert_int_equal(d.event_count, 2);
    assert_int_equal(d.events[0].kind, SP_ACCOUNTS_EV_USER_REGISTERED);
    assert_string_equal(d.events[0].email, "cash@club-a.example");
    assert_string_equal(d.events[0].password_hash, "");
    assert_string_equal(d.events[0].partner_id, f->partner_a);
    assert_int_equal(d.events[1].kind, SP_ACCOUNTS_EV_ACTIVATION_ISSUED);
    assert_string_equal(d.events[1].purpose, "activation");
    assert_string_equal(d.events[1].user_id, d.events[0].user_id);
    /* The same request again is the first answer; the e-mail is then taken. */
    sp_accounts_outcome again = add_user(f, f->admin_a, f->partner_a, "add-1",
                                         "cash@club-a.example", SP_ACCOUNTS_ROLE_PARTNER_USER, &d);
    assert_true(again.ok && again.replayed);
    assert_string_equal(again.result_json, out.result_json);
    sp_accounts_outcome taken = add_user(f, f->admin_a, f->partner_a, "add-2",
                                         "cash@club-a.example", SP_ACCOUNTS_ROLE_PARTNER_ADMIN, &d);
    expect(&taken, 409, "email_taken");
}

static void users_are_refused_precisely(void **state) {
    fixture *f = *state;
    sp_accounts_decision d;
    sp_accounts_outcome out = add_user(f, f->admin_a, f->partner_a, "k1", "a@club-a.example",
                                       SP_ACCOUNTS_ROLE_PARTNER_USER, &d);
    expect(&out, 409, "email_taken");
    out = add_user(f, f->admin_a, f->partner_a, "k2", "x@club-a.example",
                   SP_ACCOUNTS_ROLE_BACKOFFICE, &d);
    expect(&out, 400, "invalid_value");
    /* A of another partner, the back-office: not administrators of B. */
    out = add_user(f, f->admin_a, f->partner_b, "k3", "y@club-b.example",
                   SP_ACCOUNTS_ROLE_PARTNER_USER, &d);
    expect(&out, 403, "forbidden");
    out = add_user(f, f->backoffice_id, f->partner_b, "k4", "y@club-b.example",
                   SP_ACCOUNTS_ROLE_PARTNER_USER, &d);
    expect(&out, 403, "forbidden");
    out = change_role(f, f->admin_a, "k5", f->admin_b, SP_ACCOUNTS_ROLE_PARTNER_USER);
    expect(&out, 404, "user_not_found");
    out = remove_user(f, f->admin_a, "k6", f->admin_b);
    expect(&out, 404, "user_not_found");
    assert_int_equal(sp_accounts_partner_by_id(&f->state, f->partner_b)->admin_count, 1);
    /* A partner user administers nothing. */
    add_user(f, f->admin_a, f->partner_a, "k7", "u@club-a.example", SP_ACCOUNTS_ROLE_PARTNER_USER,
             &d);
    const char *user = sp_accounts_user_by_email(&f->state, "u@club-a.example")->user_id;
    out = remove_user(f, user, "k8", f->admin_a);
    expect(&out, 403, "forbidden");
}

static void the_last_administrator_stays(void **state) {
    fixture *f = *state;
    sp_accounts_outcome out =
        change_role(f, f->admin_a, "r1", f->admin_a, SP_ACCOUNTS_ROLE_PARTNER_USER);
    expect(&out, 409, "last_admin");
    out = remove_user(f, f->admin_a, "r2", f->admin_a);
    expect(&out, 409, "last_admin");
    sp_accounts_decision d;
    add_user(f, f->admin_a, f->partner_a, "r3", "second@club-a.example",
             SP_ACCOUNTS_ROLE_PARTNER_USER, &d);
    char second[SP_ID_LEN + 1], activation_id[SP_ID_LEN + 1];
    snprintf(second, sizeof second, "%s", d.events[0].user_id);
    snprintf(activation_id, sizeof activation_id, "%s", d.events[1].activation_id);
    out = change_role(f, f->admin_a, "r4", second, SP_ACCOUNTS_ROLE_PARTNER_ADMIN);
    assert_true(out.ok);
    const sp_accounts_partner *a = sp_accounts_partner_by_id(&f->state, f->partner_a);
    assert_int_equal(a->admin_count, 2);
    assert_int_equal(a->admin_can_login_count, 1);
    /* The second administrator never followed its activation link: the
     * first may neither leave nor step down, else nobody could log in to
     * administer the partner. */
    out = change_role(f, f->admin_a, "r5", f->admin_a, SP_ACCOUNTS_ROLE_PARTNER_USER);
    expect(&out, 409, "last_admin");
    assert_non_null(strstr(out.message, "not activated"));
    out = remove_user(f, f->admin_a, "r5b", f->admin_a);
    expect(&out, 409, "last_admin");
    /* Removing the one who never activated is allowed. */
    assert_int_equal(add_user(f, f->admin_a, f->partner_a, "r5c", "third@club-a.example",
                              SP_ACCOUNTS_ROLE_PARTNER_ADMIN, &d).http_status, 201);
    char third[SP_ID_LEN + 1];
    snprintf(third, sizeof third, "%s", d.events[0].user_id);
    assert_true(remove_user(f, f->admin_a, "r5d", third).ok);
    /* Once the second has set its password, the first may step down. */
    sp_accounts_command set = command(SP_ACCOUNTS_CMD_SET_PASSWORD, "", "r5e");
    set.activation_id = activation_id;
    set.password_hash = HASH_A;
    set.purpose = "activation";
    assert_true(run(f, &set, &d).ok);
    assert_int_equal(a->admin_can_login_count, 2);
    out = change_role(f, f->admin_a, "r5f", f->admin_a, SP_ACCOUNTS_ROLE_PARTNER_USER);
    assert_true(out.ok);
    assert_int_equal(a->admin_can_login_count, 1);
    /* Now the second one is the last: it can be neither demoted nor removed. */
    out = remove_user(f, second, "r6", second);
    expect(&out, 409, "last_admin");
    /* The demoted one lost its rights at once. */
    out = remove_user(f, f->admin_a, "r7", second);
    expect(&out, 403, "forbidden");
    assert_int_equal(sp_accounts_partner_by_id(&f->state, f->partner_a)->admin_count, 1);
}

static void a_removed_user_can_no_longer_log_in(void **state) {
    fixture *f = *state;
    sp_accounts_decision d;
    add_user(f, f->admin_a, f->partner_a, "m1", "gone@club-a.example",
             SP_ACCOUNTS_ROLE_PARTNER_USER, &d);
    char gone[SP_ID_LEN + 1];
    snprintf(gone, sizeof gone, "%s", d.events[0].user_id);
    sp_accounts_outcome out = remove_user(f, f->admin_a, "m2", gone);
    assert_true(out.ok);
    assert_true(sp_accounts_user_by_id(&f->state, gone)->removed);
    uint8_t token[SP_TOKEN_HASH_LEN] = {1, 2, 3};
    sp_accounts_command c = command(SP_ACCOUNTS_CMD_START_SESSION, "", "login-1");
    c.user_id = gone;
    c.token_hash = token;
    c.token_hash_len = sizeof token;
    c.expires_at_ms = NOW_MS + 60000;
    out = run(f, &c, &d);
    expect(&out, 404, "not_found");
    out = remove_user(f, f->admin_a, "m3", gone);
    expect(&out, 404, "user_not_found");
    out = add_user(f, f->admin_a, f->partner_a, "m4", "gone@club-a.example",
                   SP_ACCOUNTS_ROLE_PARTNER_USER, &d);
    expect(&out, 409, "email_taken");
}

/* ------------------------------------------------------------------ profile */

static sp_accounts_profile valid_profile(void) {
    sp_accounts_profile p;
    memset(&p, 0, sizeof p);
    snprintf(p.legal_name, sizeof p.legal_name, "Association du Club");
    snprintf(p.public_name, sizeof p.public_name, "Le Club");
    snprintf(p.website, sizeof p.website, "https://club.example");
    snprintf(p.social_links[0], sizeof p.social_links[0], "https://social.example/club");
    p.social_link_count = 1;
    snprintf(p.iban, sizeof p.iban, "FR7630006000011234567890189");
    snprintf(p.bic, sizeof p.bic, "BNPAFRPP");
    snprintf(p.bank_holder, sizeof p.bank_holder, "Le Club");
    return p;
}

static sp_accounts_outcome update(fixture *f, const char *actor, const char *partner,
                                  const char *key, const sp_accounts_profile *p,
                                  sp_accounts_decision *d) {
    sp_accounts_command c = command(SP_ACCOUNTS_CMD_UPDATE_PROFILE, actor, key);
    c.partner_id = partner;
    c.profile = p;
    return run(f, &c, d);
}

static void the_profile_is_checked_again(void **state) {
    fixture *f = *state;
    sp_accounts_decision d;
    sp_accounts_profile p = valid_profile();
    sp_accounts_outcome out = update(f, f->admin_a, f->partner_a, "u1", &p, &d);
    assert_true(out.ok);
    assert_int_equal(d.events[0].kind, SP_ACCOUNTS_EV_PROFILE_UPDATED);
    assert_int_equal(d.events[0].aggregate_version, 2);
    assert_string_equal(d.events[0].profile.iban, p.iban);
    out = update(f, f->admin_a, f->partner_a, "u1", &p, &d);
    assert_true(out.replayed);
    p.iban[26] = '8';   /* the check digits no longer match */
    out = update(f, f->admin_a, f->partner_a, "u1", &p, &d);
    expect(&out, 409, "idempotency_conflict");
    out = update(f, f->admin_a, f->partner_a, "u2", &p, &d);
    expect(&out, 422, "invalid_iban");
    p = valid_profile();
    snprintf(p.iban, sizeof p.iban, "FR76 3000 6000 0112 3456 7890 189");
    out = update(f, f->admin_a, f->partner_a, "u3", &p, &d);
    expect(&out, 422, "invalid_iban");
    p = valid_profile();
    snprintf(p.website, sizeof p.website, "javascript:alert(1)");
    out = update(f, f->admin_a, f->partner_a, "u4", &p, &d);
    expect(&out, 400, "invalid_url");
    p = valid_profile();
    out = update(f, f->admin_b, f->partner_a, "u5", &p, &d);
    expect(&out, 403, "forbidden");
    sp_accounts_command c = command(SP_ACCOUNTS_CMD_SET_IMAGE, f->admin_a, "i1");
    c.partner_id = f->partner_a;
    c.slot = "logo";
    c.sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    c.content_type = "image/png";
    out = run(f, &c, &d);
    assert_true(out.ok);
    assert_int_equal(d.events[0].aggregate_version, 3);
    c.command_id = "i2";
    c.content_type = "image/gif";
    out = run(f, &c, &d);
    expect(&out, 400, "invalid_value");
}

/* ------------------------------------------------------------------ rebuild */

static void wire_round_trip(const sp_accounts_event *in, sp_accounts_event *out) {
    sp_accounts_event_pb pb;
    const ProtobufCMessage *payload = sp_accounts_event_to_pb(in, &pb);
    uint8_t *buf = NULL;
    size_t len = 0;
    sp_error err;
    assert_int_equal(sp_envelope_pack(&pb.meta, payload, &buf, &len, NULL, &err), 0);
    Solipass__Envelope *env = sp_envelope_unpack(buf, len, &err);
    assert_non_null(env);
    assert_int_equal(sp_accounts_event_decode(env, out, &err), 0);
    solipass__envelope__free_unpacked(env, NULL);
    free(buf);
}

static void rebuilt_from_the_log_the_state_is_the_same(void **state) {
    fixture *f = *state;
    a_removed_user_can_no_longer_log_in(state);
    sp_accounts_decision d;
    sp_accounts_profile p = valid_profile();
    assert_true(update(f, f->admin_a, f->partner_a, "x1", &p, &d).ok);
    the_last_administrator_stays(state);
    sp_accounts_state rebuilt;
    sp_error err;
    assert_int_equal(sp_accounts_state_init(&rebuilt, &limits, &err), 0);
    sp_accounts_event *e = malloc(sizeof *e);
    assert_non_null(e);
    for (size_t i = 0; i < f->event_count; i++) {
        wire_round_trip(&f->events[i], e);
        bool applied = false;
        assert_int_equal(sp_accounts_apply(&rebuilt, e, NULL, &applied, &err), 0);
        assert_true(applied);
    }
    free(e);
    assert_int_equal(sp_accounts_partner_by_id(&rebuilt, f->partner_a)->admin_count, 1);
    assert_int_equal(sp_accounts_partner_by_id(&rebuilt, f->partner_a)->admin_can_login_count, 1);
    assert_int_equal(sp_accounts_partner_by_id(&rebuilt, f->partner_a)->version,
                     sp_accounts_partner_by_id(&f->state, f->partner_a)->version);
    assert_int_equal(sp_accounts_user_by_id(&rebuilt, f->admin_a)->role,
                     SP_ACCOUNTS_ROLE_PARTNER_USER);
    assert_true(sp_accounts_user_by_email(&rebuilt, "gone@club-a.example")->removed);
    /* Re-sent commands (all by A's first administrator) get their first
     * answers, refusals included. */
    const char *keys[] = {"r1", "r4", "r5", "r5f", "m2", "x1"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        uint8_t key[SP_KEY_LEN];
        sp_accounts_key_of(f->admin_a, keys[i], key);
        sp_accounts_outcome x, y;
        assert_int_equal(sp_accounts_outcome_get(&f->state, key, &x, &err), 0);
        assert_int_equal(sp_accounts_outcome_get(&rebuilt, key, &y, &err), 0);
        assert_int_equal(x.http_status, y.http_status);
        assert_string_equal(x.code, y.code);
        assert_string_equal(x.result_json, y.result_json);
    }
    /* And the same profile under its key is still recognised as a replay. */
    sp_accounts_state_destroy(&f->state);
    f->state = rebuilt;
    assert_true(update(f, f->admin_a, f->partner_a, "x1", &p, &d).replayed);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(added_user_gets_an_activation_link, setup, teardown),
        cmocka_unit_test_setup_teardown(users_are_refused_precisely, setup, teardown),
        cmocka_unit_test_setup_teardown(the_last_administrator_stays, setup, teardown),
        cmocka_unit_test_setup_teardown(a_removed_user_can_no_longer_log_in, setup, teardown),
        cmocka_unit_test_setup_teardown(the_profile_is_checked_again, setup, teardown),
        cmocka_unit_test_setup_teardown(rebuilt_from_the_log_the_state_is_the_same, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
