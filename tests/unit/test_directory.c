/* test_directory.c - the gateway's directory of users, sessions and partner
 * codes folded from the accounts events: a session answers until it ends,
 * expires, its user is removed or gets a new password; a role change shows
 * at once, only for the right partner; expired sessions are freed at the
 * user's next login; a full table is an error, never a forgotten session;
 * a redelivered event changes nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "gateway/http/directory.h"

#define T0 INT64_C(1795766400000)
#define HOUR_MS INT64_C(3600000)

static const char partner_id[] = "11111111-1111-4111-8111-111111111111";
static const char other_partner_id[] = "22222222-2222-4222-8222-222222222222";
static const char user_id[] = "33333333-3333-4333-8333-333333333333";
static const char pass_id[] = "44444444-4444-4444-8444-444444444444";

typedef struct fixture {
    sp_gw_directory dir;
    int64_t offset;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    sp_error err;
    if (f == NULL || sp_gw_directory_init(&f->dir, 16, 2, &err) != 0) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    sp_gw_directory_destroy(&f->dir);
    free(f);
    return 0;
}

/* Packs msg and applies it as the next event of the log. */
static int apply(fixture *f, const char *type, const ProtobufCMessage *msg, int64_t at_ms) {
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(len + 1);
    assert_non_null(buf);
    protobuf_c_message_pack(msg, buf);
    sp_error err;
    int rc = sp_gw_directory_apply(&f->dir, f->offset++, type, buf, len, at_ms, &err);
    free(buf);
    return rc;
}

static void register_user(fixture *f, Solipass__Accounts__Role role, const char *partner,
                          const char *pass) {
    Solipass__Accounts__UserRegistered m = SOLIPASS__ACCOUNTS__USER_REGISTERED__INIT;
    m.user_id = (char *)user_id;
    m.email = "marie@example.org";
    m.full_name = "Marie Curie";
    m.password_hash = "$argon2id$first";
    m.role = role;
    m.partner_id = (char *)partner;
    m.pass_id = (char *)pass;
    assert_int_equal(apply(f, "accounts.UserRegistered.v1", &m.base, T0), 0);
}

static void token_hash_of(uint8_t hash[SP_TOKEN_HASH_LEN], char which) {
    memset(hash, which, SP_TOKEN_HASH_LEN);
}

static int start_session(fixture *f, char which, int64_t expires_at_ms, int64_t at_ms) {
    uint8_t hash[SP_TOKEN_HASH_LEN];
    token_hash_of(hash, which);
    Solipass__Accounts__SessionStarted m = SOLIPASS__ACCOUNTS__SESSION_STARTED__INIT;
    m.user_id = (char *)user_id;
    m.token_hash.data = hash;
    m.token_hash.len = sizeof hash;
    m.expires_at_ms = expires_at_ms;
    return apply(f, "accounts.SessionStarted.v1", &m.base, at_ms);
}

static bool session_of(fixture *f, char which, int64_t now_ms, sp_gw_user *user) {
    uint8_t hash[SP_TOKEN_HASH_LEN];
    token_hash_of(hash, which);
    return sp_gw_directory_session(&f->dir, hash, now_ms, user);
}

static void test_session_answers_until_it_ends(void **state) {
    fixture *f = *state;
    register_user(f, SOLIPASS__ACCOUNTS__ROLE__ROLE_BENEFICIARY, "", pass_id);
    assert_int_equal(start_session(f, 'a', T0 + HOUR_MS, T0), 0);
    sp_gw_user user;
    assert_true(session_of(f, 'a', T0 + 1, &user));
    assert_string_equal(user.user_id, user_id);
    assert_string_equal(user.role, "beneficiary");
    assert_int_equal(user.role_bit, SP_GW_ROLE_BENEFICIARY);
    assert_string_equal(user.pass_id, pass_id);
    assert_string_equal(user.partner_id, "");
    assert_string_equal(user.email, "marie@example.org");
    assert_false(session_of(f, 'b', T0 + 1, &user));       /* never started */
    assert_false(session_of(f, 'a', T0 + HOUR_MS, &user)); /* expired */

    uint8_t hash[SP_TOKEN_HASH_LEN];
    token_hash_of(hash, 'a');
    Solipass__Accounts__SessionEnded ended = SOLIPASS__ACCOUNTS__SESSION_ENDED__INIT;
    ended.token_hash.data = hash;
    ended.token_hash.len = sizeof hash;
    ended.user_id = (char *)user_id;
    assert_int_equal(apply(f, "accounts.SessionEnded.v1", &ended.base, T0 + 2), 0);
    assert_false(session_of(f, 'a', T0 + 3, &user));
    assert_int_equal(sp_gw_directory_session_count(&f->dir), 0);
    /* read again (a redelivery): nothing changes, nothing fails */
    assert_int_equal(apply(f, "accounts.SessionEnded.v1", &ended.base, T0 + 2), 0);
    assert_int_equal(f->dir.next_offset, f->offset);
}

static void test_removal_and_new_password_end_every_session(void **state) {
    fixture *f = *state;
    register_user(f, SOLIPASS__ACCOUNTS__ROLE__ROLE_PARTNER_USER, partner_id, "");
    assert_int_equal(start_session(f, 'a', T0 + HOUR_MS, T0), 0);
    assert_int_equal(start_session(f, 'b', T0 + HOUR_MS, T0), 0);
    sp_gw_user user;
    assert_true(session_of(f, 'b', T0 + 1, &user));

    Solipass__Accounts__PasswordSet same = SOLIPASS__ACCOUNTS__PASSWORD_SET__INIT;
    same.user_id = (char *)user_id;
    same.password_hash = "$argon2id$first"; /* the same hash read again: ends nothing */
    assert_int_equal(apply(f, "accounts.PasswordSet.v1", &same.base, T0 + 1), 0);
    assert_true(session_of(f, 'a', T0 + 2, &user));
    Solipass__Accounts__PasswordSet reset = SOLIPASS__ACCOUNTS__PASSWORD_SET__INIT;
    reset.user_id = (char *)user_id;
    reset.password_hash = "$argon2id$second";
    reset.purpose = "reset";
    assert_int_equal(apply(f, "accounts.PasswordSet.v1", &reset.base, T0 + 2), 0);
    assert_false(session_of(f, 'a', T0 + 3, &user));
    assert_false(session_of(f, 'b', T0 + 3, &user));

    assert_int_equal(start_session(f, 'c', T0 + HOUR_MS, T0 + 4), 0);
    assert_true(session_of(f, 'c', T0 + 5, &user));
    Solipass__Accounts__UserRemoved wrong = SOLIPASS__ACCOUNTS__USER_REMOVED__INIT;
    wrong.user_id = (char *)user_id;
    wrong.partner_id = (char *)other_partner_id; /* not this user's partner: refused */
    assert_int_equal(apply(f, "accounts.UserRemoved.v1", &wrong.base, T0 + 6), 0);
    assert_true(session_of(f, 'c', T0 + 7, &user));
    Solipass__Accounts__UserRemoved removed = SOLIPASS__ACCOUNTS__USER_REMOVED__INIT;
    removed.user_id = (char *)user_id;
    removed.partner_id = (char *)partner_id;
    assert_int_equal(apply(f, "accounts.UserRemoved.v1", &removed.base, T0 + 8), 0);
    assert_false(session_of(f, 'c', T0 + 9, &user));
    assert_int_equal(sp_gw_directory_session_count(&f->dir), 0);
    /* a removed user starts no session any more */
    assert_int_equal(start_session(f, 'd', T0 + HOUR_MS, T0 + 10), 0);
    assert_false(session_of(f, 'd', T0 + 11, &user));
}

static void test_role_change_shows_at_once_for_its_partner_only(void **state) {
    fixture *f = *state;
    register_user(f, SOLIPASS__ACCOUNTS__ROLE__ROLE_PARTNER_ADMIN, partner_id, "");
    assert_int_equal(start_session(f, 'a', T0 + HOUR_MS, T0), 0);
    Solipass__Accounts__UserRoleChanged m = SOLIPASS__ACCOUNTS__USER_ROLE_CHANGED__INIT;
    m.user_id = (char *)user_id;
    m.partner_id = (char *)other_partner_id;
    m.role = SOLIPASS__ACCOUNTS__ROLE__ROLE_PARTNER_USER;
    assert_int_equal(apply(f, "accounts.UserRoleChanged.v1", &m.base, T0 + 1), 0);
    sp_gw_user user;
    assert_true(session_of(f, 'a', T0 + 2, &user));
    assert_string_equal(user.role, "partner_admin");
    m.partner_id = (char *)partner_id;
    assert_int_equal(apply(f, "accounts.UserRoleChanged.v1", &m.base, T0 + 3), 0);
    assert_true(session_of(f, 'a', T0 + 4, &user));
    assert_string_equal(user.role, "partner_user");
    assert_int_equal(user.role_bit, SP_GW_ROLE_PARTNER_USER);
    assert_string_equal(user.partner_id, partner_id);
}

static void test_expired_sessions_freed_at_next_login_and_bound_kept(void **state) {
    fixture *f = *state; /* two sessions per user at most */
    register_user(f, SOLIPASS__ACCOUNTS__ROLE__ROLE_BENEFICIARY, "", pass_id);
    assert_int_equal(start_session(f, 'a', T0 + 10, T0), 0);
    assert_int_equal(start_session(f, 'b', T0 + HOUR_MS, T0 + 1), 0);
    /* 'a' expired at T0 + 10: freed by the next login, which then fits */
    assert_int_equal(start_session(f, 'c', T0 + HOUR_MS, T0 + 20), 0);
    assert_int_equal(sp_gw_directory_session_count(&f->dir), 2);
    sp_gw_user user;
    assert_true(session_of(f, 'b', T0 + 21, &user));
    assert_true(session_of(f, 'c', T0 + 21, &user));
    /* a third live one is more than the accounts service would ever hold */
    assert_int_equal(start_session(f, 'd', T0 + HOUR_MS, T0 + 22), -1);
    assert_true(session_of(f, 'b', T0 + 23, &user));
}

static void test_partner_codes(void **state) {
    fixture *f = *state;
    Solipass__Accounts__PartnerCreated m = SOLIPASS__ACCOUNTS__PARTNER_CREATED__INIT;
    m.partner_id = (char *)partner_id;
    m.partner_code = "12345674";
    m.name = "Piscine";
    m.category = "sport";
    assert_false(sp_gw_directory_partner_code(&f->dir, "12345674"));
    assert_int_equal(apply(f, "accounts.PartnerCreated.v1", &m.base, T0), 0);
    assert_true(sp_gw_directory_partner_code(&f->dir, "12345674"));
    assert_false(sp_gw_directory_partner_code(&f->dir, "12345682"));
}

static void test_unreadable_and_other_events_only_move_the_offset(void **state) {
    fixture *f = *state;
    static const uint8_t garbage[] = {0xff, 0xff, 0xff};
    sp_error err;
    assert_int_equal(sp_gw_directory_apply(&f->dir, 5, "accounts.SessionStarted.v1", garbage,
                                           sizeof garbage, T0, &err),
                     0);
    assert_int_equal(f->dir.events_ignored, 1);
    assert_int_equal(
        sp_gw_directory_apply(&f->dir, 9, "accounts.ConventionAccepted.v1", NULL, 0, T0, &err), 0);
    assert_int_equal(f->dir.events_ignored, 1);
    assert_int_equal(f->dir.next_offset, 10);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_session_answers_until_it_ends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removal_and_new_password_end_every_session, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_role_change_shows_at_once_for_its_partner_only, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_expired_sessions_freed_at_next_login_and_bound_kept,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_partner_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_and_other_events_only_move_the_offset,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
