/* test_accounts_partner_space.c - the accounts service's partner space
 * decisions: a structure's profile (checked again, whatever the gateway
 * did), adding users with an activation link, roles, removal, the last
 * administrator rule, tenants, and the same state rebuilt from the events'
 * wire form. The back-office's staff users are the same commands with no
 * partner: added with a link, role changes, disabling, the last activated
 * back-office user, and new activation links for who has not activated. */
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

#include "accounts_fixture.h"

#define NOW_MS INT64_C(1795766400000) /* 2026-11-27T08:00:00.000Z */
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

static const sp_accounts_limits limits = {.users_max = 100,
                                          .sessions_max = 100,
                                          .records_max = 400};

static void keep(fixture *f, const sp_accounts_decision *d) {
    for (size_t i = 0; i < d->event_count; i++) {
        assert_true(f->event_count < EVENTS_MAX);
        f->events[f->event_count++] = d->events[i];
    }
}

static sp_accounts_command command(sp_accounts_command_kind kind, const char *actor,
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
                             .partner_id = "",
                             .slot = "",
                             .sha256 = "",
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

static void test_added_user_gets_an_activation_link(void **state) {
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

static void test_users_are_refused_precisely(void **state) {
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

static void test_the_last_administrator_stays(void **state) {
    fixture *f = *state;
    sp_accounts_outcome out = change_role(f, f->admin_a, "r1", f->admin_a,
                                          SP_ACCOUNTS_ROLE_PARTNER_USER);
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
                              SP_ACCOUNTS_ROLE_PARTNER_ADMIN, &d)
                         .http_status,
                     201);
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

static void test_a_removed_user_can_no_longer_log_in(void **state) {
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

static void test_the_profile_is_checked_again(void **state) {
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
    p.iban[26] = '8'; /* the check digits no longer match */
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

/* A new state from the fixture's events, each through its wire form. */
static void rebuild(const fixture *f, sp_accounts_state *rebuilt) {
    sp_error err;
    assert_int_equal(sp_accounts_state_init(rebuilt, &limits, &err), 0);
    sp_accounts_event *e = malloc(sizeof *e);
    assert_non_null(e);
    for (size_t i = 0; i < f->event_count; i++) {
        accounts_fixture_wire_round_trip(&f->events[i], e);
        bool applied = false;
        assert_int_equal(sp_accounts_apply(rebuilt, e, NULL, &applied, &err), 0);
        assert_true(applied);
    }
    free(e);
}

/* The stored outcome of actor's command key is the same in both states. */
static void same_outcome(const sp_accounts_state *a, const sp_accounts_state *b, const char *actor,
                         const char *command_key) {
    uint8_t key[SP_KEY_LEN];
    sp_accounts_key_of(actor, command_key, key);
    sp_accounts_outcome x, y;
    sp_error err;
    assert_int_equal(sp_accounts_outcome_get(a, key, &x, &err), 0);
    assert_int_equal(sp_accounts_outcome_get(b, key, &y, &err), 0);
    assert_int_equal(x.http_status, y.http_status);
    assert_string_equal(x.code, y.code);
    assert_string_equal(x.result_json, y.result_json);
}

static void test_rebuilt_from_the_log_the_state_is_the_same(void **state) {
    fixture *f = *state;
    test_a_removed_user_can_no_longer_log_in(state);
    sp_accounts_decision d;
    sp_accounts_profile p = valid_profile();
    assert_true(update(f, f->admin_a, f->partner_a, "x1", &p, &d).ok);
    test_the_last_administrator_stays(state);
    sp_accounts_state rebuilt;
    rebuild(f, &rebuilt);
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
        same_outcome(&f->state, &rebuilt, f->admin_a, keys[i]);
    }
    /* And the same profile under its key is still recognised as a replay. */
    sp_accounts_state_destroy(&f->state);
    f->state = rebuilt;
    assert_true(update(f, f->admin_a, f->partner_a, "x1", &p, &d).replayed);
}

/* ------------------------------------------------------------------ staff users */

static sp_accounts_outcome add_staff(fixture *f, const char *actor, const char *key,
                                     const char *email, sp_accounts_role role,
                                     sp_accounts_decision *d) {
    return add_user(f, actor, "", key, email, role, d);
}

static sp_accounts_outcome set_password(fixture *f, const char *key, const char *activation_id) {
    sp_accounts_command set = command(SP_ACCOUNTS_CMD_SET_PASSWORD, "", key);
    set.activation_id = activation_id;
    set.password_hash = HASH_A;
    set.purpose = "activation";
    sp_accounts_decision d;
    return run(f, &set, &d);
}

/* A back-office user added by the back-office and activated; its id into user_id. */
static void activated_staff(fixture *f, const char *key, const char *email, sp_accounts_role role,
                            char user_id[SP_ID_LEN + 1]) {
    sp_accounts_decision d;
    assert_int_equal(add_staff(f, f->backoffice_id, key, email, role, &d).http_status, 201);
    snprintf(user_id, SP_ID_LEN + 1, "%s", d.events[0].user_id);
    char activation_id[SP_ID_LEN + 1];
    snprintf(activation_id, sizeof activation_id, "%s", d.events[1].activation_id);
    char set_key[32];
    snprintf(set_key, sizeof set_key, "%s-set", key);
    sp_accounts_outcome out = set_password(f, set_key, activation_id);
    assert_true(out.ok);
    /* The activation page sends each person to its own space's login. */
    assert_non_null(strstr(out.result_json, sp_accounts_role_name(role)));
}

static void test_staff_users_are_added_with_an_activation_link(void **state) {
    fixture *f = *state;
    sp_accounts_decision d;
    sp_accounts_outcome out = add_staff(f, f->backoffice_id, "s1", "Compta@City.example",
                                        SP_ACCOUNTS_ROLE_FINANCE, &d);
    assert_true(out.ok);
    assert_int_equal(out.http_status, 201);
    assert_int_equal(d.event_count, 2);
    assert_int_equal(d.events[0].role, SP_ACCOUNTS_ROLE_FINANCE);
    assert_string_equal(d.events[0].partner_id, "");
    assert_string_equal(d.events[0].email, "compta@city.example");
    assert_int_equal(d.events[1].kind, SP_ACCOUNTS_EV_ACTIVATION_ISSUED);
    assert_string_equal(d.events[1].purpose, "activation");
    sp_accounts_outcome again = add_staff(f, f->backoffice_id, "s1", "compta@city.example",
                                          SP_ACCOUNTS_ROLE_FINANCE, &d);
    assert_true(again.ok && again.replayed);
    assert_string_equal(again.result_json, out.result_json);
    expect((out = add_staff(f, f->backoffice_id, "s1", "compta@city.example",
                            SP_ACCOUNTS_ROLE_BACKOFFICE, &d),
            &out),
           409, "idempotency_conflict");
    out = add_staff(f, f->backoffice_id, "s2", "compta@city.example", SP_ACCOUNTS_ROLE_BACKOFFICE,
                    &d);
    expect(&out, 409, "email_taken");
    out = add_staff(f, f->backoffice_id, "s3", "x@city.example", SP_ACCOUNTS_ROLE_PARTNER_ADMIN,
                    &d);
    expect(&out, 400, "invalid_value");
    /* Only the back-office manages the staff: not a partner, not finance. */
    out = add_staff(f, f->admin_a, "s4", "y@city.example", SP_ACCOUNTS_ROLE_BACKOFFICE, &d);
    expect(&out, 403, "forbidden");
    char finance[SP_ID_LEN + 1];
    activated_staff(f, "s5", "finance@city.example", SP_ACCOUNTS_ROLE_FINANCE, finance);
    out = add_staff(f, finance, "s6", "z@city.example", SP_ACCOUNTS_ROLE_BACKOFFICE, &d);
    expect(&out, 403, "forbidden");
    out = change_role(f, finance, "s7", finance, SP_ACCOUNTS_ROLE_BACKOFFICE);
    expect(&out, 403, "forbidden");
    assert_true(change_role(f, f->backoffice_id, "s8", finance, SP_ACCOUNTS_ROLE_BACKOFFICE).ok);
    assert_int_equal(f->state.backoffice_can_login_count, 2);
}

static void test_staff_and_partner_users_stay_apart(void **state) {
    fixture *f = *state;
    char finance[SP_ID_LEN + 1];
    activated_staff(f, "t1", "finance@city.example", SP_ACCOUNTS_ROLE_FINANCE, finance);
    /* The back-office's commands address staff users only, a partner's its own. */
    sp_accounts_outcome out = change_role(f, f->backoffice_id, "t2", f->admin_a,
                                          SP_ACCOUNTS_ROLE_PARTNER_USER);
    expect(&out, 400, "invalid_value");
    out = change_role(f, f->backoffice_id, "t3", f->admin_a, SP_ACCOUNTS_ROLE_BACKOFFICE);
    expect(&out, 404, "user_not_found");
    out = remove_user(f, f->backoffice_id, "t4", f->admin_a);
    expect(&out, 404, "user_not_found");
    out = remove_user(f, f->admin_a, "t5", finance);
    expect(&out, 404, "user_not_found");
    out = change_role(f, f->admin_a, "t6", finance, SP_ACCOUNTS_ROLE_PARTNER_ADMIN);
    expect(&out, 404, "user_not_found");
    out = change_role(f, f->backoffice_id, "t7", finance, SP_ACCOUNTS_ROLE_PARTNER_USER);
    expect(&out, 400, "invalid_value");
    assert_int_equal(sp_accounts_user_by_id(&f->state, finance)->role, SP_ACCOUNTS_ROLE_FINANCE);
}

static void test_the_last_backoffice_user_stays(void **state) {
    fixture *f = *state;
    assert_int_equal(f->state.backoffice_can_login_count, 1);
    sp_accounts_outcome out = change_role(f, f->backoffice_id, "l1", f->backoffice_id,
                                          SP_ACCOUNTS_ROLE_FINANCE);
    expect(&out, 409, "last_backoffice_admin");
    out = remove_user(f, f->backoffice_id, "l2", f->backoffice_id);
    expect(&out, 409, "last_backoffice_admin");
    /* A second back-office user who never activated does not count. */
    sp_accounts_decision d;
    assert_true(
        add_staff(f, f->backoffice_id, "l3", "new@city.example", SP_ACCOUNTS_ROLE_BACKOFFICE, &d)
            .ok);
    char pending[SP_ID_LEN + 1];
    snprintf(pending, sizeof pending, "%s", d.events[0].user_id);
    out = remove_user(f, f->backoffice_id, "l4", f->backoffice_id);
    expect(&out, 409, "last_backoffice_admin");
    assert_true(change_role(f, f->backoffice_id, "l5", pending, SP_ACCOUNTS_ROLE_FINANCE).ok);
    assert_true(remove_user(f, f->backoffice_id, "l6", pending).ok);
    /* Two activated ones: each may go, but not both, whoever asks first. */
    char second[SP_ID_LEN + 1];
    activated_staff(f, "l7", "second@city.example", SP_ACCOUNTS_ROLE_BACKOFFICE, second);
    assert_int_equal(f->state.backoffice_can_login_count, 2);
    assert_true(change_role(f, f->backoffice_id, "l8", second, SP_ACCOUNTS_ROLE_FINANCE).ok);
    out = change_role(f, second, "l9", f->backoffice_id, SP_ACCOUNTS_ROLE_FINANCE);
    expect(&out, 403, "forbidden");
    assert_true(change_role(f, f->backoffice_id, "l10", second, SP_ACCOUNTS_ROLE_BACKOFFICE).ok);
    assert_true(remove_user(f, second, "l11", f->backoffice_id).ok);
    out = remove_user(f, f->backoffice_id, "l12", second);
    expect(&out, 403, "forbidden");
    out = remove_user(f, second, "l13", second);
    expect(&out, 409, "last_backoffice_admin");
    assert_int_equal(f->state.backoffice_can_login_count, 1);
}

static void test_a_disabled_staff_user_can_neither_log_in_nor_reset(void **state) {
    fixture *f = *state;
    sp_accounts_decision d;
    assert_true(
        add_staff(f, f->backoffice_id, "g1", "gone@city.example", SP_ACCOUNTS_ROLE_FINANCE, &d).ok);
    char gone[SP_ID_LEN + 1], link[SP_ID_LEN + 1];
    snprintf(gone, sizeof gone, "%s", d.events[0].user_id);
    snprintf(link, sizeof link, "%s", d.events[1].activation_id);
    uint8_t token[SP_TOKEN_HASH_LEN] = {7, 7, 7};
    sp_accounts_command login = command(SP_ACCOUNTS_CMD_START_SESSION, "", "g2");
    login.user_id = gone;
    login.token_hash = token;
    login.token_hash_len = sizeof token;
    login.expires_at_ms = NOW_MS + 60000;
    assert_true(run(f, &login, &d).ok);
    assert_non_null(sp_accounts_session_by_hash(&f->state, token));
    assert_true(remove_user(f, f->backoffice_id, "g3", gone).ok);
    assert_null(sp_accounts_session_by_hash(&f->state, token));
    login.command_id = "g4";
    token[3] = 1;
    sp_accounts_outcome out = run(f, &login, &d);
    expect(&out, 404, "not_found");
    sp_accounts_command reset = command(SP_ACCOUNTS_CMD_REQUEST_RESET, "", "g5");
    reset.email = "gone@city.example";
    out = run(f, &reset, &d);
    expect(&out, 404, "not_found");
    out = set_password(f, "g6", link);
    expect(&out, 400, "invalid_token");
    sp_accounts_command issue = command(SP_ACCOUNTS_CMD_ISSUE_ACTIVATION, f->backoffice_id, "g7");
    issue.user_id = gone;
    out = run(f, &issue, &d);
    expect(&out, 404, "user_not_found");
    out = add_staff(f, f->backoffice_id, "g8", "gone@city.example", SP_ACCOUNTS_ROLE_FINANCE, &d);
    expect(&out, 409, "email_taken");
}

static void test_a_new_activation_link_goes_to_who_has_not_activated(void **state) {
    fixture *f = *state;
    sp_accounts_command c = command(SP_ACCOUNTS_CMD_CREATE_PARTNER, f->backoffice_id, "n1");
    c.name = "Théâtre";
    c.category = "culture";
    c.email = "admin@theatre.example";
    c.full_name = "Admin";
    sp_accounts_decision d;
    assert_true(run(f, &c, &d).ok);
    char admin[SP_ID_LEN + 1], first_link[SP_ID_LEN + 1];
    snprintf(admin, sizeof admin, "%s", d.events[1].user_id);
    snprintf(first_link, sizeof first_link, "%s", d.events[2].activation_id);
    sp_accounts_command issue = command(SP_ACCOUNTS_CMD_ISSUE_ACTIVATION, f->backoffice_id, "n2");
    issue.user_id = admin;
    sp_accounts_outcome out = run(f, &issue, &d);
    assert_true(out.ok);
    assert_int_equal(out.http_status, 202);
    assert_int_equal(d.event_count, 1);
    assert_int_equal(d.events[0].kind, SP_ACCOUNTS_EV_ACTIVATION_ISSUED);
    assert_string_equal(d.events[0].purpose, "activation");
    assert_string_equal(d.events[0].email, "admin@theatre.example");
    char second_link[SP_ID_LEN + 1];
    snprintf(second_link, sizeof second_link, "%s", d.events[0].activation_id);
    assert_string_not_equal(second_link, first_link);
    assert_true(run(f, &issue, &d).replayed);
    /* Only the back-office sends links. */
    issue.actor_id = f->admin_a;
    issue.command_id = "n3";
    out = run(f, &issue, &d);
    expect(&out, 403, "forbidden");
    /* The earlier link still works; the first one used spends the other. */
    assert_true(set_password(f, "n4", first_link).ok);
    out = set_password(f, "n5", second_link);
    expect(&out, 410, "token_used");
    issue.actor_id = f->backoffice_id;
    issue.command_id = "n6";
    out = run(f, &issue, &d);
    expect(&out, 409, "already_activated");
    issue.command_id = "n7";
    issue.user_id = f->admin_a;
    out = run(f, &issue, &d);
    expect(&out, 409, "already_activated");
}

static void test_rebuilt_from_the_log_the_staff_is_the_same(void **state) {
    fixture *f = *state;
    test_a_new_activation_link_goes_to_who_has_not_activated(state);
    test_the_last_backoffice_user_stays(state);
    sp_accounts_state rebuilt;
    rebuild(f, &rebuilt);
    assert_int_equal(rebuilt.backoffice_can_login_count, f->state.backoffice_can_login_count);
    assert_true(sp_accounts_user_by_id(&rebuilt, f->backoffice_id)->removed);
    const char *keys[] = {"l1", "l3", "l5", "l6", "l8", "n2", "n6"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        same_outcome(&f->state, &rebuilt, f->backoffice_id, keys[i]);
    }
    sp_accounts_state_destroy(&rebuilt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_added_user_gets_an_activation_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_users_are_refused_precisely, setup, teardown),
        cmocka_unit_test_setup_teardown(test_the_last_administrator_stays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_removed_user_can_no_longer_log_in, setup, teardown),
        cmocka_unit_test_setup_teardown(test_the_profile_is_checked_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebuilt_from_the_log_the_state_is_the_same, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_staff_users_are_added_with_an_activation_link, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_staff_and_partner_users_stay_apart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_the_last_backoffice_user_stays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_disabled_staff_user_can_neither_log_in_nor_reset,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_new_activation_link_goes_to_who_has_not_activated,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebuilt_from_the_log_the_staff_is_the_same, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
