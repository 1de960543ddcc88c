/* test_accounts_snapshot.c - the accounts state as a snapshot: for every
 * cut k of a mixed history (partners, beneficiaries, sessions started,
 * ended and superseded, links issued and used, a password reset,
 * conventions, a partner's user promoted then removed, refusals, outcomes
 * freed as time passes), the state of events[0..k) written as a snapshot,
 * read back and given events[k..n) equals the state rebuilt from all n
 * events; every truncation, every flipped byte, another binary's, another
 * partition's and another configuration's snapshot is refused, and so is
 * one whose administrator counts are not its users'; and a body
 * gone wrong under a valid checksum never crashes the reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "accounts/accounts_snapshot.h"
#include "accounts/accounts_state.h"

#include "accounts_fixture.h"

#define T0 INT64_C(1795766400000) /* 2026-11-27T08:00:00.000Z */
#define MINUTE_MS INT64_C(60000)
#define HASH_A "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"
#define EVENTS_MAX 160
#define VERSION "test-1"

/* Two sessions a user: a third login supersedes the oldest. */
static const sp_accounts_limits limits = {
    .users_max = 64, .sessions_max = 128, .sessions_per_user_max = 2, .records_max = 1024};

typedef struct history {
    sp_accounts_state state;
    int64_t now_ms;
    sp_accounts_event *events; /* EVENTS_MAX */
    size_t event_count;
    char backoffice_id[SP_ID_LEN + 1];
} history;

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
                             .activation_id = "",
                             .purpose = "",
                             .partner_id = "",
                             .slot = "",
                             .sha256 = "",
                             .content_type = "",
                             .convention_id = "",
                             .title = "",
                             .version = "",
                             .text = "",
                             .effective_date = ""};
    return c;
}

/* Handles c a minute after the last command; keeps its events, with their
 * log offsets filled in as the service does once they are flushed. */
static sp_accounts_decision *run(history *h, const sp_accounts_command *c) {
    static sp_accounts_decision d;
    sp_error err;
    h->now_ms += MINUTE_MS;
    assert_int_equal(sp_accounts_handle(&h->state, c, h->now_ms, &d, &err), 0);
    sp_accounts_ref refs[SP_ACCOUNTS_EVENTS_PER_COMMAND_MAX];
    for (size_t i = 0; i < d.event_count; i++) {
        assert_true(h->event_count < EVENTS_MAX);
        refs[i] = (sp_accounts_ref){.partition = 0, .offset = (int64_t)h->event_count};
        h->events[h->event_count++] = d.events[i];
    }
    sp_accounts_record_fill_refs(&h->state, d.key, refs, d.event_count);
    return &d;
}

static void login(history *h, const char *user_id, const char *token, const char *key) {
    uint8_t hash[SP_TOKEN_HASH_LEN];
    sp_token_hash(token, hash);
    sp_accounts_command c = blank(SP_ACCOUNTS_CMD_START_SESSION, "", key);
    c.user_id = user_id;
    c.token_hash = hash;
    c.token_hash_len = SP_TOKEN_HASH_LEN;
    c.expires_at_ms = h->now_ms + 24 * 60 * MINUTE_MS;
    run(h, &c);
}

static void logout(history *h, const char *user_id, const char *token, const char *key) {
    uint8_t hash[SP_TOKEN_HASH_LEN];
    sp_token_hash(token, hash);
    sp_accounts_command c = blank(SP_ACCOUNTS_CMD_END_SESSION, user_id, key);
    c.token_hash = hash;
    c.token_hash_len = SP_TOKEN_HASH_LEN;
    run(h, &c);
}

/* The user a command registered (its UserRegistered event). */
static void user_of(const sp_accounts_decision *d, char out[SP_ID_LEN + 1]) {
    for (size_t i = 0; i < d->event_count; i++) {
        if (d->events[i].kind == SP_ACCOUNTS_EV_USER_REGISTERED) {
            snprintf(out, SP_ID_LEN + 1, "%s", d->events[i].user_id);
            return;
        }
    }
    fail_msg("no user registered");
}

static void link_of(const sp_accounts_decision *d, char out[SP_ID_LEN + 1]) {
    for (size_t i = 0; i < d->event_count; i++) {
        if (d->events[i].kind == SP_ACCOUNTS_EV_ACTIVATION_ISSUED) {
            snprintf(out, SP_ID_LEN + 1, "%s", d->events[i].activation_id);
            return;
        }
    }
    fail_msg("no link issued");
}

static void partners_and_people(history *h, char admin[SP_ID_LEN + 1], char partner[SP_ID_LEN + 1],
                                char ben[SP_ID_LEN + 1]) {
    const char *bo = h->backoffice_id;
    sp_accounts_command c = blank(SP_ACCOUNTS_CMD_CREATE_PARTNER, bo, "p1");
    c.name = "Club de judo";
    c.category = "sport";
    c.email = "admin@judo.example";
    c.password_hash = HASH_A;
    c.full_name = "Admin";
    sp_accounts_decision *d = run(h, &c);
    snprintf(partner, SP_ID_LEN + 1, "%s", d->events[0].partner_id);
    user_of(d, admin);
    c = blank(SP_ACCOUNTS_CMD_CREATE_PARTNER, bo, "p2"); /* its admin gets a link */
    c.name = "Théâtre";
    c.category = "culture";
    c.email = "admin@theatre.example";
    c.full_name = "Régie";
    d = run(h, &c);
    char link[SP_ID_LEN + 1];
    link_of(d, link);
    c = blank(SP_ACCOUNTS_CMD_SET_PASSWORD, "", "s1");
    c.activation_id = link;
    c.password_hash = HASH_A;
    c.purpose = "activation";
    run(h, &c);
    c = blank(SP_ACCOUNTS_CMD_CREATE_BENEFICIARY, bo, "b1");
    c.email = "Zoe@Example.org";
    c.password_hash = HASH_A;
    c.full_name = "Zoé";
    user_of(run(h, &c), ben);
    c = blank(SP_ACCOUNTS_CMD_CREATE_BENEFICIARY, bo, "b1"); /* the same key, another body */
    c.email = "other@example.org";
    c.password_hash = HASH_A;
    c.full_name = "Autre";
    run(h, &c);
    c = blank(SP_ACCOUNTS_CMD_CREATE_BENEFICIARY, bo, "b2"); /* without a password: a link */
    c.email = "sam@example.org";
    c.full_name = "Sam";
    run(h, &c);
}

static void history_build(history *h) {
    assert_true(sodium_init() >= 0);
    h->events = calloc(EVENTS_MAX, sizeof *h->events);
    assert_non_null(h->events);
    h->now_ms = T0;
    sp_error err;
    assert_int_equal(sp_accounts_state_init(&h->state, &limits, &err), 0);
    sp_accounts_event *e = &h->events[h->event_count++];
    assert_int_equal(sp_accounts_decide_register(&h->state, "bo@city.example", HASH_A,
                                                 "Back-office", SP_ACCOUNTS_ROLE_BACKOFFICE, T0, e,
                                                 &err),
                     0);
    bool applied = false;
    sp_accounts_ref ref = {.partition = 0, .offset = 0};
    assert_int_equal(sp_accounts_apply(&h->state, e, &ref, &applied, &err), 0);
    snprintf(h->backoffice_id, sizeof h->backoffice_id, "%s", e->user_id);
    char admin[SP_ID_LEN + 1], partner[SP_ID_LEN + 1], ben[SP_ID_LEN + 1];
    partners_and_people(h, admin, partner, ben);
    login(h, ben, "ben-1", "l1");
    login(h, ben, "ben-2", "l2");
    login(h, ben, "ben-3", "l3"); /* supersedes ben-1 */
    logout(h, ben, "ben-2", "o1");
    logout(h, ben, "ben-2", "o2"); /* refused: ended already */
    login(h, admin, "admin-1", "l4");
    login(h, "7d3f1e2a-5b6c-4d7e-8f90-a1b2c3d4e5f6", "nobody", "l5"); /* refused */
    sp_accounts_command c = blank(SP_ACCOUNTS_CMD_REQUEST_RESET, "", "r1");
    c.email = "zoe@example.org";
    char link[SP_ID_LEN + 1];
    link_of(run(h, &c), link);
    c = blank(SP_ACCOUNTS_CMD_PUBLISH_CONVENTION, h->backoffice_id, "c1");
    c.title = "Convention de partenariat";
    c.version = "2027-1";
    c.text = "Le partenaire accepte les paiements du pass.";
    c.effective_date = "2027-01-01";
    c.mandatory = true;
    sp_accounts_decision *d = run(h, &c);
    char convention[SP_ID_LEN + 1];
    snprintf(convention, sizeof convention, "%s", d->events[0].convention_id);
    c = blank(SP_ACCOUNTS_CMD_ACCEPT_CONVENTION, admin, "a1");
    c.convention_id = convention;
    run(h, &c);
    c = blank(SP_ACCOUNTS_CMD_ADD_PARTNER_USER, admin, "u1");
    c.partner_id = partner;
    c.email = "cashier@judo.example";
    c.full_name = "Cashier";
    c.role = SP_ACCOUNTS_ROLE_PARTNER_USER;
    char cashier[SP_ID_LEN + 1];
    user_of(run(h, &c), cashier);
    c = blank(SP_ACCOUNTS_CMD_CHANGE_ROLE, admin, "u2");
    c.user_id = cashier;
    c.role = SP_ACCOUNTS_ROLE_PARTNER_ADMIN;
    run(h, &c);
    h->now_ms += 30 * MINUTE_MS; /* the single-use outcomes' window passes */
    c = blank(SP_ACCOUNTS_CMD_SET_PASSWORD, "", "s2");
    c.activation_id = link;
    c.password_hash = HASH_A;
    c.purpose = "reset";
    run(h, &c);
    c = blank(SP_ACCOUNTS_CMD_REMOVE_USER, admin, "u3");
    c.user_id = cashier;
    run(h, &c);
    login(h, ben, "ben-4", "l6");
    logout(h, admin, "admin-1", "o3");
}

static void history_free(history *h) {
    sp_accounts_state_destroy(&h->state);
    free(h->events);
}

/* Applies events[from..to) through their wire form, each at its offset. */
static void apply_range(sp_accounts_state *state, const history *h, size_t from, size_t to) {
    sp_accounts_event *e = malloc(sizeof *e);
    assert_non_null(e);
    for (size_t i = from; i < to; i++) {
        accounts_fixture_wire_round_trip(&h->events[i], e);
        sp_accounts_ref ref = {.partition = 0, .offset = (int64_t)i};
        bool applied = false;
        sp_error err;
        assert_int_equal(sp_accounts_apply(state, e, &ref, &applied, &err), 0);
        assert_true(applied);
    }
    free(e);
}

static void assert_equal_states(const sp_accounts_state *a, const sp_accounts_state *b) {
    bool equal = false;
    sp_error err;
    assert_int_equal(sp_accounts_snapshot_equal(a, b, &equal, &err), 0);
    assert_true(equal);
}

static void encode(const sp_accounts_state *state, int64_t next_offset, uint8_t **bytes,
                   size_t *len) {
    sp_accounts_snapshot_position at = {.next_offset = next_offset, .last_version = 7};
    snprintf(at.last_aggregate_id, sizeof at.last_aggregate_id, "aggregate");
    snprintf(at.last_command_id, sizeof at.last_command_id, "command");
    sp_error err;
    assert_int_equal(sp_accounts_snapshot_encode(state, 0, &at, VERSION, bytes, len, &err), 0);
}

static void test_every_cut_then_the_rest_equals_the_whole_log(void **unused) {
    (void)unused;
    history h = {0};
    history_build(&h);
    sp_error err;
    sp_accounts_state full;
    assert_int_equal(sp_accounts_state_init(&full, &limits, &err), 0);
    apply_range(&full, &h, 0, h.event_count);
    assert_equal_states(&full, &h.state); /* the rebuild is the writer's state */
    for (size_t k = 0; k <= h.event_count; k++) {
        sp_accounts_state head, restored;
        assert_int_equal(sp_accounts_state_init(&head, &limits, &err), 0);
        apply_range(&head, &h, 0, k);
        uint8_t *bytes = NULL;
        size_t len = 0;
        encode(&head, (int64_t)k, &bytes, &len);
        sp_accounts_snapshot_position at;
        assert_int_equal(
            sp_accounts_snapshot_decode(bytes, len, 0, &limits, VERSION, &restored, &at, &err), 0);
        assert_int_equal(at.next_offset, (int64_t)k);
        assert_string_equal(at.last_aggregate_id, "aggregate");
        assert_int_equal(at.last_version, 7);
        assert_string_equal(at.last_command_id, "command");
        assert_equal_states(&restored, &head);
        apply_range(&restored, &h, k, h.event_count);
        bool equal = false;
        assert_int_equal(sp_accounts_snapshot_equal(&restored, &full, &equal, &err), 0);
        if (!equal)
            fail_msg("snapshot after %zu of %zu events + the rest != whole log", k, h.event_count);
        free(bytes);
        sp_accounts_state_destroy(&restored);
        sp_accounts_state_destroy(&head);
    }
    sp_accounts_state_destroy(&full);
    history_free(&h);
}

/* What a user checks after a restart from the snapshot: logins, sessions,
 * a re-sent command's first answer. */
static void test_restored_state_answers_as_before(void **unused) {
    (void)unused;
    history h = {0};
    history_build(&h);
    uint8_t *bytes = NULL;
    size_t len = 0;
    encode(&h.state, (int64_t)h.event_count, &bytes, &len);
    sp_accounts_state restored;
    sp_accounts_snapshot_position at;
    sp_error err;
    assert_int_equal(
        sp_accounts_snapshot_decode(bytes, len, 0, &limits, VERSION, &restored, &at, &err), 0);
    uint8_t hash[SP_TOKEN_HASH_LEN];
    /* ben-1 superseded, ben-2 and admin-1 ended, ben-3 ended by the reset. */
    sp_token_hash("ben-4", hash);
    assert_non_null(sp_accounts_session_by_hash(&restored, hash));
    const char *gone[] = {"ben-1", "ben-2", "ben-3", "admin-1"};
    for (size_t i = 0; i < 4; i++) {
        sp_token_hash(gone[i], hash);
        assert_null(sp_accounts_session_by_hash(&restored, hash));
    }
    assert_non_null(sp_accounts_user_by_email(&restored, "ZOE@example.org"));
    assert_int_equal(sp_accounts_user_count(&restored), sp_accounts_user_count(&h.state));
    assert_int_equal(sp_accounts_record_count(&restored), sp_accounts_record_count(&h.state));
    sp_accounts_command again = blank(SP_ACCOUNTS_CMD_CREATE_BENEFICIARY, h.backoffice_id, "b1");
    again.email = "Zoe@Example.org";
    again.password_hash = HASH_A;
    again.full_name = "Zoé";
    sp_accounts_decision d;
    sp_accounts_decide(&restored, &again, h.now_ms, &d);
    assert_true(d.replayed);
    assert_int_equal(d.event_count, 0);
    free(bytes);
    sp_accounts_state_destroy(&restored);
    history_free(&h);
}

static void expect_refused(const uint8_t *bytes, size_t len, int32_t partition,
                           const sp_accounts_limits *with, const char *version,
                           const char *reason) {
    sp_accounts_state state;
    sp_accounts_snapshot_position at;
    sp_error err;
    sp_error_clear(&err);
    assert_int_equal(
        sp_accounts_snapshot_decode(bytes, len, partition, with, version, &state, &at, &err), -1);
    assert_int_equal(err.http_status, 422);
    assert_string_equal(err.code, "snapshot_refused");
    if (reason != NULL && strstr(err.message, reason) == NULL)
        fail_msg("refused for \"%s\", not \"%s\"", err.message, reason);
    assert_false(state.initialised);
}

static void test_truncated_other_binary_partition_or_limits_refused(void **unused) {
    (void)unused;
    history h = {0};
    history_build(&h);
    uint8_t *bytes = NULL;
    size_t len = 0;
    encode(&h.state, (int64_t)h.event_count, &bytes, &len);
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *part = malloc(cut > 0 ? cut : 1); /* its own buffer: ASan sees any overread */
        assert_non_null(part);
        memcpy(part, bytes, cut);
        expect_refused(part, cut, 0, &limits, VERSION, NULL);
        free(part);
    }
    expect_refused(bytes, len, 0, &limits, "test-2", "another binary");
    expect_refused(bytes, len, 1, &limits, VERSION, "partition");
    sp_accounts_limits other = limits;
    other.outcome_ttl_ms = 3600 * 1000;
    expect_refused(bytes, len, 0, &other, VERSION, "other limits");
    other = limits;
    other.sessions_per_user_max = 3;
    expect_refused(bytes, len, 0, &other, VERSION, "other limits");
    free(bytes);
    history_free(&h);
}

/* A state whose counts are not its users' (a writer's bug): refused, the
 * rebuild from the log decides. */
static void test_counts_that_disagree_with_the_users_refused(void **unused) {
    (void)unused;
    history h = {0};
    history_build(&h);
    sp_accounts_partner *partner = NULL;
    for (size_t i = 0; i < h.event_count && partner == NULL; i++) {
        if (h.events[i].kind == SP_ACCOUNTS_EV_PARTNER_CREATED)
            partner = (sp_accounts_partner *)sp_accounts_partner_by_id(&h.state,
                                                                       h.events[i].partner_id);
    }
    assert_non_null(partner);
    partner->admin_count++;
    uint8_t *bytes = NULL;
    size_t len = 0;
    encode(&h.state, (int64_t)h.event_count, &bytes, &len);
    expect_refused(bytes, len, 0, &limits, VERSION, "counts of administrators");
    free(bytes);
    partner->admin_count--;
    h.state.backoffice_can_login_count++;
    encode(&h.state, (int64_t)h.event_count, &bytes, &len);
    expect_refused(bytes, len, 0, &limits, VERSION, "counts of administrators");
    h.state.backoffice_can_login_count--;
    free(bytes);
    history_free(&h);
}

/* Every byte flipped (each bit pattern of two): refused, or - were the
 * checksum ever to let one through - equal to the state written. */
static void test_every_flipped_byte_refused_or_equal(void **unused) {
    (void)unused;
    history h = {0};
    history_build(&h);
    uint8_t *bytes = NULL;
    size_t len = 0;
    encode(&h.state, (int64_t)h.event_count, &bytes, &len);
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    static const uint8_t masks[] = {0x01, 0xff};
    for (size_t i = 0; i < len; i++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            memcpy(copy, bytes, len);
            copy[i] ^= masks[m];
            sp_accounts_state state;
            sp_accounts_snapshot_position at;
            sp_error err;
            if (sp_accounts_snapshot_decode(copy, len, 0, &limits, VERSION, &state, &at, &err) ==
                0) {
                assert_equal_states(&state, &h.state);
                sp_accounts_state_destroy(&state);
            }
        }
    }
    free(copy);
    free(bytes);
    history_free(&h);
}

/* The body's reader on its own: a byte changed and the checksum made
 * anew (a bug in a writer, not the disk). The reader must refuse or give
 * a state that frees cleanly, never read past its input nor leak. */
static void test_resealed_corruption_never_crashes(void **unused) {
    (void)unused;
    history h = {0};
    history_build(&h);
    uint8_t *bytes = NULL;
    size_t len = 0;
    encode(&h.state, (int64_t)h.event_count, &bytes, &len);
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    size_t body = len - SP_SNAPSHOT_CHECKSUM_LEN;
    size_t decoded = 0;
    static const uint8_t masks[] = {0x01, 0x80, 0xff};
    for (size_t i = 0; i < body; i++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            memcpy(copy, bytes, len);
            copy[i] ^= masks[m];
            crypto_generichash(copy + body, SP_SNAPSHOT_CHECKSUM_LEN, copy, body, NULL, 0);
            sp_accounts_state state;
            sp_accounts_snapshot_position at;
            sp_error err;
            if (sp_accounts_snapshot_decode(copy, len, 0, &limits, VERSION, &state, &at, &err) ==
                0) {
                decoded++;
                sp_accounts_state_destroy(&state);
            } else {
                assert_false(state.initialised);
            }
        }
    }
    /* Most changes land in a text or a time and read; the test is that
     * none crashed. Some must have read, or the test proved nothing. */
    assert_true(decoded > 0);
    free(copy);
    free(bytes);
    history_free(&h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_cut_then_the_rest_equals_the_whole_log),
        cmocka_unit_test(test_restored_state_answers_as_before),
        cmocka_unit_test(test_truncated_other_binary_partition_or_limits_refused),
        cmocka_unit_test(test_counts_that_disagree_with_the_users_refused),
        cmocka_unit_test(test_every_flipped_byte_refused_or_equal),
        cmocka_unit_test(test_resealed_corruption_never_crashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
