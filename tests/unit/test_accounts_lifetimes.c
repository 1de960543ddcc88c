/* test_accounts_lifetimes.c - sessions and stored outcomes are freed, so a
 * bounded accounts state never fills up for good: ended and expired
 * sessions, a login beyond the per-user bound (the oldest session ends),
 * outcomes past their window, single-use outcomes first when room runs out,
 * every session of a user whose password is reset, used, expired and
 * superseded password links;
 * and the state rebuilt from the events frees the same ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "accounts/accounts_state.h"

#define T0 INT64_C(1795766400000) /* 2026-11-27T08:00:00.000Z */
#define HOUR_MS (INT64_C(3600) * 1000)
#define HASH_A "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"
#define EVENTS_MAX 1024

typedef struct world {
    sp_accounts_limits limits;
    sp_accounts_state state;
    char user_id[SP_ID_LEN + 1];          /* a back-office user */
    sp_accounts_event events[EVENTS_MAX]; /* every event applied, in order */
    size_t event_count;
} world;

static world *world_new(sp_accounts_limits limits) {
    world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->limits = limits;
    sp_error err;
    assert_int_equal(sp_accounts_state_init(&w->state, &limits, &err), 0);
    sp_accounts_event *e = &w->events[w->event_count++];
    assert_int_equal(sp_accounts_decide_register(&w->state, "bo@city.example", HASH_A, "BO",
                                                 SP_ACCOUNTS_ROLE_BACKOFFICE, T0, e, &err),
                     0);
    bool applied = false;
    assert_int_equal(sp_accounts_apply(&w->state, e, NULL, &applied, &err), 0);
    assert_true(applied);
    snprintf(w->user_id, sizeof w->user_id, "%s", e->user_id);
    return w;
}

static void world_free(world *w) {
    sp_accounts_state_destroy(&w->state);
    free(w);
}

static sp_accounts_outcome run(world *w, const sp_accounts_command *c, int64_t now_ms,
                               sp_accounts_decision *d) {
    sp_error err;
    assert_int_equal(sp_accounts_handle(&w->state, c, now_ms, d, &err), 0);
    for (size_t i = 0; i < d->event_count; i++) {
        assert_true(w->event_count < EVENTS_MAX);
        w->events[w->event_count++] = d->events[i];
    }
    sp_accounts_outcome out;
    sp_accounts_decision_outcome(&w->state, d, &out);
    return out;
}

static void token_of(size_t n, uint8_t hash[SP_TOKEN_HASH_LEN]) {
    char text[32];
    snprintf(text, sizeof text, "token-%zu", n);
    sp_token_hash(text, hash);
}

/* A login as the gateway sends it: anonymous, a fresh command id. */
static sp_accounts_outcome login(world *w, size_t n, int64_t now_ms, int64_t ttl_ms,
                                 sp_accounts_decision *d) {
    uint8_t hash[SP_TOKEN_HASH_LEN];
    token_of(n, hash);
    char id[32];
    snprintf(id, sizeof id, "login-%zu", n);
    sp_accounts_command c = {.kind = SP_ACCOUNTS_CMD_START_SESSION,
                             .actor_id = "",
                             .command_id = id,
                             .name = "",
                             .category = "",
                             .email = "",
                             .password_hash = "",
                             .full_name = "",
                             .user_id = w->user_id,
                             .token_hash = hash,
                             .token_hash_len = SP_TOKEN_HASH_LEN,
                             .expires_at_ms = now_ms + ttl_ms};
    return run(w, &c, now_ms, d);
}

static sp_accounts_outcome logout(world *w, size_t n, int64_t now_ms) {
    uint8_t hash[SP_TOKEN_HASH_LEN];
    token_of(n, hash);
    char id[32];
    snprintf(id, sizeof id, "logout-%zu", n);
    sp_accounts_command c = {.kind = SP_ACCOUNTS_CMD_END_SESSION,
                             .actor_id = w->user_id,
                             .command_id = id,
                             .name = "",
                             .category = "",
                             .email = "",
                             .password_hash = "",
                             .full_name = "",
                             .user_id = "",
                             .token_hash = hash,
                             .token_hash_len = SP_TOKEN_HASH_LEN};
    sp_accounts_decision d;
    return run(w, &c, now_ms, &d);
}

static bool has_session(const sp_accounts_state *state, size_t n) {
    uint8_t hash[SP_TOKEN_HASH_LEN];
    token_of(n, hash);
    return sp_accounts_session_by_hash(state, hash) != NULL;
}

static sp_accounts_outcome create_beneficiary(world *w, const char *key, const char *email,
                                              int64_t now_ms) {
    sp_accounts_command c = {.kind = SP_ACCOUNTS_CMD_CREATE_BENEFICIARY,
                             .actor_id = w->user_id,
                             .command_id = key,
                             .name = "",
                             .category = "",
                             .email = email,
                             .password_hash = HASH_A,
                             .full_name = "Ben",
                             .user_id = ""};
    sp_accounts_decision d;
    return run(w, &c, now_ms, &d);
}

/* Applies every event again to a new state: the same sessions and outcomes
 * are kept. sessions_upto: tokens 0..sessions_upto-1 are compared. */
static void assert_rebuilt_same(world *w, size_t sessions_upto) {
    sp_accounts_state rebuilt;
    sp_error err;
    assert_int_equal(sp_accounts_state_init(&rebuilt, &w->limits, &err), 0);
    for (size_t i = 0; i < w->event_count; i++) {
        bool applied = false;
        assert_int_equal(sp_accounts_apply(&rebuilt, &w->events[i], NULL, &applied, &err), 0);
        assert_true(applied);
    }
    assert_int_equal(sp_accounts_session_count(&rebuilt), sp_accounts_session_count(&w->state));
    assert_int_equal(sp_accounts_record_count(&rebuilt), sp_accounts_record_count(&w->state));
    assert_int_equal(rebuilt.activations.entry_count, w->state.activations.entry_count);
    for (size_t n = 0; n < sessions_upto; n++)
        assert_int_equal(has_session(&rebuilt, n), has_session(&w->state, n));
    sp_accounts_state_destroy(&rebuilt);
}

/* The issue's case: room for one user (8 sessions, 16 outcomes); before,
 * the 9th login after 8 logouts was 503 for ever. */
static void test_logins_after_logouts_never_run_out(void **state) {
    (void)state;
    world *w = world_new(
        (sp_accounts_limits){.users_max = 1, .sessions_max = 8, .records_max = 16});
    int64_t now = T0;
    for (size_t n = 0; n < 200; n++) {
        sp_accounts_decision d;
        sp_accounts_outcome out = login(w, n, now, 12 * HOUR_MS, &d);
        assert_true(out.ok);
        assert_int_equal(out.http_status, 200);
        now += 1000;
        out = logout(w, n, now);
        assert_true(out.ok);
        assert_int_equal(out.http_status, 204);
        assert_false(has_session(&w->state, n));
        now += 1000;
    }
    assert_int_equal(sp_accounts_session_count(&w->state), 0);
    assert_true(sp_accounts_record_count(&w->state) <= 16);
    assert_rebuilt_same(w, 200);
    world_free(w);
}

static void test_expired_sessions_are_freed_at_the_next_login(void **state) {
    (void)state;
    world *w = world_new(
        (sp_accounts_limits){.users_max = 1, .sessions_max = 8, .records_max = 16});
    sp_accounts_decision d;
    for (size_t n = 0; n < 8; n++) assert_true(login(w, n, T0 + (int64_t)n, HOUR_MS, &d).ok);
    assert_int_equal(sp_accounts_session_count(&w->state), 8);
    /* The map is full, but every session has expired: no one is ended, they are freed. */
    sp_accounts_outcome out = login(w, 8, T0 + 2 * HOUR_MS, HOUR_MS, &d);
    assert_true(out.ok);
    assert_int_equal(d.event_count, 1);
    assert_int_equal(d.events[0].kind, SP_ACCOUNTS_EV_SESSION_STARTED);
    assert_int_equal(sp_accounts_session_count(&w->state), 1);
    for (size_t n = 0; n < 8; n++) assert_false(has_session(&w->state, n));
    assert_true(has_session(&w->state, 8));
    assert_rebuilt_same(w, 9);
    world_free(w);
}

static void test_a_login_beyond_the_bound_ends_the_oldest_session(void **state) {
    (void)state;
    world *w = world_new((sp_accounts_limits){
        .users_max = 1, .sessions_max = 3, .sessions_per_user_max = 3, .records_max = 16});
    sp_accounts_decision d;
    for (size_t n = 0; n < 3; n++) assert_true(login(w, n, T0 + (int64_t)n, HOUR_MS, &d).ok);
    sp_accounts_outcome out = login(w, 3, T0 + 10, HOUR_MS, &d);
    assert_true(out.ok);
    assert_int_equal(out.http_status, 200);
    assert_int_equal(d.event_count, 2);
    assert_int_equal(d.events[0].kind, SP_ACCOUNTS_EV_SESSION_ENDED);
    assert_string_equal(d.events[0].command_id, "");
    uint8_t first[SP_TOKEN_HASH_LEN];
    token_of(0, first);
    assert_memory_equal(d.events[0].token_hash, first, SP_TOKEN_HASH_LEN);
    assert_int_equal(d.events[1].kind, SP_ACCOUNTS_EV_SESSION_STARTED);
    assert_int_equal(d.events[1].aggregate_version, d.events[0].aggregate_version + 1);
    assert_false(has_session(&w->state, 0));
    for (size_t n = 1; n <= 3; n++) assert_true(has_session(&w->state, n));
    assert_int_equal(sp_accounts_session_count(&w->state), 3);
    /* The superseded token cannot log out any more: it is unknown. */
    assert_int_equal(logout(w, 0, T0 + 20).http_status, 404);
    assert_rebuilt_same(w, 4);
    world_free(w);
}

/* Outcomes answer their key for their window, then are freed: a key re-sent
 * later is decided again (a creation then finds its e-mail taken). */
static void test_outcomes_are_kept_for_their_window_then_freed(void **state) {
    (void)state;
    world *w = world_new(
        (sp_accounts_limits){.users_max = 10, .sessions_max = 80, .records_max = 4});
    const char *emails[] = {"a@x.example", "b@x.example", "c@x.example", "d@x.example",
                            "e@x.example"};
    const char *keys[] = {"k1", "k2", "k3", "k4", "k5"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(create_beneficiary(w, keys[i], emails[i], T0 + (int64_t)i).http_status,
                         201);
    sp_accounts_outcome out = create_beneficiary(w, keys[4], emails[4], T0 + HOUR_MS);
    assert_int_equal(out.http_status, 503);
    assert_string_equal(out.code, "unavailable");
    out = create_beneficiary(w, keys[0], emails[0], T0 + HOUR_MS);
    assert_true(out.replayed);
    assert_int_equal(out.http_status, 201);
    /* A day after the first: its outcome is freed and makes room. */
    int64_t later = T0 + 24 * HOUR_MS + 10;
    assert_int_equal(create_beneficiary(w, keys[4], emails[4], later).http_status, 201);
    assert_int_equal(sp_accounts_record_count(&w->state), 1);
    out = create_beneficiary(w, keys[1], emails[1], later + 1);
    assert_false(out.replayed);
    assert_int_equal(out.http_status, 409);
    assert_string_equal(out.code, "email_taken");
    assert_int_equal(sp_accounts_user_count(&w->state), 6);
    assert_rebuilt_same(w, 0);
    world_free(w);
}

/* Outcomes of logins are the first to go when room runs out: they never
 * make a creation wait for a day. */
static void test_single_use_outcomes_make_room_first(void **state) {
    (void)state;
    world *w = world_new(
        (sp_accounts_limits){.users_max = 10, .sessions_max = 80, .records_max = 4});
    sp_accounts_decision d;
    assert_int_equal(create_beneficiary(w, "k1", "a@x.example", T0).http_status, 201);
    for (size_t n = 0; n < 3; n++) assert_true(login(w, n, T0 + 1, HOUR_MS, &d).ok);
    assert_int_equal(sp_accounts_record_count(&w->state), 4);
    assert_int_equal(create_beneficiary(w, "k2", "b@x.example", T0 + 2).http_status, 201);
    assert_int_equal(create_beneficiary(w, "k3", "c@x.example", T0 + 3).http_status, 201);
    assert_int_equal(create_beneficiary(w, "k4", "d@x.example", T0 + 4).http_status, 201);
    assert_int_equal(sp_accounts_record_count(&w->state), 4);
    /* Four creations within the day: the fifth waits (503), k1 still answers. */
    assert_int_equal(create_beneficiary(w, "k5", "e@x.example", T0 + 5).http_status, 503);
    assert_true(create_beneficiary(w, "k1", "a@x.example", T0 + 6).replayed);
    /* No login's outcome left to free: a login waits too, its session not started. */
    sp_accounts_outcome out = login(w, 3, T0 + 7, HOUR_MS, &d);
    assert_int_equal(out.http_status, 503);
    assert_false(has_session(&w->state, 3));
    assert_rebuilt_same(w, 4);
    world_free(w);
}

/* A new password (reset link) ends every session of the user: a stolen
 * token stops working with the reset. */
static void test_a_password_reset_ends_every_session(void **state) {
    (void)state;
    world *w = world_new(
        (sp_accounts_limits){.users_max = 1, .sessions_max = 8, .records_max = 16});
    sp_accounts_decision d;
    for (size_t n = 0; n < 3; n++) assert_true(login(w, n, T0 + (int64_t)n, HOUR_MS, &d).ok);
    sp_accounts_command reset = {.kind = SP_ACCOUNTS_CMD_REQUEST_RESET,
                                 .actor_id = "",
                                 .command_id = "r1",
                                 .name = "",
                                 .category = "",
                                 .email = "bo@city.example",
                                 .password_hash = "",
                                 .full_name = "",
                                 .user_id = ""};
    assert_true(run(w, &reset, T0 + 10, &d).ok);
    assert_int_equal(d.events[0].kind, SP_ACCOUNTS_EV_ACTIVATION_ISSUED);
    char activation_id[SP_ID_LEN + 1];
    snprintf(activation_id, sizeof activation_id, "%s", d.events[0].activation_id);
    sp_accounts_command set = {.kind = SP_ACCOUNTS_CMD_SET_PASSWORD,
                               .actor_id = "",
                               .command_id = "s1",
                               .name = "",
                               .category = "",
                               .email = "",
                               .password_hash = HASH_A,
                               .full_name = "",
                               .user_id = "",
                               .activation_id = activation_id,
                               .purpose = "reset"};
    sp_accounts_outcome out = run(w, &set, T0 + 20, &d);
    assert_true(out.ok);
    assert_int_equal(d.event_count, 1);
    assert_int_equal(d.events[0].kind, SP_ACCOUNTS_EV_PASSWORD_SET);
    assert_int_equal(sp_accounts_session_count(&w->state), 0);
    for (size_t n = 0; n < 3; n++) {
        assert_false(has_session(&w->state, n));
        assert_int_equal(logout(w, n, T0 + 30).http_status, 404);
    }
    assert_true(login(w, 3, T0 + 40, HOUR_MS, &d).ok);
    assert_rebuilt_same(w, 4);
    world_free(w);
}

static sp_accounts_outcome request_reset(world *w, size_t n, int64_t now_ms, char *activation_id) {
    char id[32];
    snprintf(id, sizeof id, "reset-%zu", n);
    sp_accounts_command c = {.kind = SP_ACCOUNTS_CMD_REQUEST_RESET,
                             .actor_id = "",
                             .command_id = id,
                             .name = "",
                             .category = "",
                             .email = "bo@city.example",
                             .password_hash = "",
                             .full_name = "",
                             .user_id = ""};
    sp_accounts_decision d;
    sp_accounts_outcome out = run(w, &c, now_ms, &d);
    if (out.ok) snprintf(activation_id, SP_ID_LEN + 1, "%s", d.events[0].activation_id);
    return out;
}

static sp_accounts_outcome use_link(world *w, const char *activation_id, size_t n, int64_t now_ms) {
    char id[32];
    snprintf(id, sizeof id, "set-%zu", n);
    sp_accounts_command c = {.kind = SP_ACCOUNTS_CMD_SET_PASSWORD,
                             .actor_id = "",
                             .command_id = id,
                             .name = "",
                             .category = "",
                             .email = "",
                             .password_hash = HASH_A,
                             .full_name = "",
                             .user_id = "",
                             .activation_id = activation_id,
                             .purpose = "reset"};
    sp_accounts_decision d;
    return run(w, &c, now_ms, &d);
}

/* Password links never fill their map (4 per user of SP_USERS_MAX): used and
 * expired links go at the user's next link, and a link beyond 4 live ones
 * frees the oldest; a used link still says so until then. */
static void test_password_links_are_freed(void **state) {
    (void)state;
    world *w = world_new(
        (sp_accounts_limits){.users_max = 1, .sessions_max = 8, .records_max = 16});
    enum { LINKS = 40 };
    static char ids[LINKS][SP_ID_LEN + 1];
    int64_t now = T0;
    for (size_t n = 0; n < LINKS; n++) {
        assert_int_equal(request_reset(w, n, now, ids[n]).http_status, 202);
        now += 1000;
        if (n % 3 == 0) {
            assert_true(use_link(w, ids[n], n, now).ok);
            assert_int_equal(use_link(w, ids[n], n + 1000, now).http_status, 410);
        }
        assert_true(w->state.activations.entry_count <= SP_ACCOUNTS_ACTIVATIONS_PER_USER_MAX);
    }
    /* The newest links work; an old one superseded reads as unknown. */
    assert_true(use_link(w, ids[LINKS - 2], 2000, now).ok); /* 38: not used yet */
    sp_accounts_outcome out = use_link(w, ids[1], 2001, now);
    assert_int_equal(out.http_status, 400);
    assert_string_equal(out.code, "invalid_token");
    /* An expired one is freed at the next link. */
    char later[SP_ID_LEN + 1];
    int64_t expired = now + SP_ACCOUNTS_ACTIVATION_TTL_DEFAULT_MS;
    assert_int_equal(request_reset(w, LINKS, expired, later).http_status, 202);
    assert_int_equal(w->state.activations.entry_count, 1);
    assert_rebuilt_same(w, 0);
    world_free(w);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logins_after_logouts_never_run_out),
        cmocka_unit_test(test_expired_sessions_are_freed_at_the_next_login),
        cmocka_unit_test(test_a_login_beyond_the_bound_ends_the_oldest_session),
        cmocka_unit_test(test_outcomes_are_kept_for_their_window_then_freed),
        cmocka_unit_test(test_single_use_outcomes_make_room_first),
        cmocka_unit_test(test_a_password_reset_ends_every_session),
        cmocka_unit_test(test_password_links_are_freed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
