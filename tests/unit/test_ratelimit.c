/* test_ratelimit.c - failed-login counting: the limit, its window, a
 * success that clears it, attempts reserved atomically (concurrent tries
 * never exceed the limit), and a full table that never forgets a locked key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <pthread.h>
#include <cmocka.h>
#include <sodium.h>

#include "gateway/http/ratelimit.h"

#define WINDOW_MS INT64_C(900000)
#define T0 INT64_C(1795766400000)

static void test_blocks_after_the_limit_until_the_window_ends(void **state) {
    (void)state;
    sp_gw_ratelimit *limit = sp_gw_ratelimit_new(1024, 5, WINDOW_MS);
    assert_non_null(limit);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(sp_gw_ratelimit_wait_ms(limit, "a@example.org", T0 + i), 0);
        sp_gw_ratelimit_fail(limit, "a@example.org", T0 + i);
    }
    assert_int_equal(sp_gw_ratelimit_wait_ms(limit, "a@example.org", T0 + 10), WINDOW_MS - 10);
    assert_int_equal(sp_gw_ratelimit_wait_ms(limit, "b@example.org", T0 + 10), 0);
    assert_int_equal(sp_gw_ratelimit_wait_ms(limit, "a@example.org", T0 + WINDOW_MS - 1), 1);
    assert_int_equal(sp_gw_ratelimit_wait_ms(limit, "a@example.org", T0 + WINDOW_MS), 0);
    /* a new window starts with the next failure */
    sp_gw_ratelimit_fail(limit, "a@example.org", T0 + WINDOW_MS);
    assert_int_equal(sp_gw_ratelimit_wait_ms(limit, "a@example.org", T0 + WINDOW_MS + 1), 0);
    sp_gw_ratelimit_free(limit);
}

static void test_success_clears(void **state) {
    (void)state;
    sp_gw_ratelimit *limit = sp_gw_ratelimit_new(1024, 2, WINDOW_MS);
    sp_gw_ratelimit_fail(limit, "k", T0);
    sp_gw_ratelimit_clear(limit, "k");
    sp_gw_ratelimit_fail(limit, "k", T0 + 1);
    assert_int_equal(sp_gw_ratelimit_wait_ms(limit, "k", T0 + 2), 0);
    sp_gw_ratelimit_fail(limit, "k", T0 + 2);
    assert_true(sp_gw_ratelimit_wait_ms(limit, "k", T0 + 3) > 0);
    sp_gw_ratelimit_free(limit);
}

/* Many more keys than slots: the table stays bounded and a key being
 * attacked now is not pushed out by older ones. */
static void test_bounded_table_keeps_recent_keys(void **state) {
    (void)state;
    sp_gw_ratelimit *limit = sp_gw_ratelimit_new(64, 3, WINDOW_MS);
    for (int i = 0; i < 10000; i++) {
        char key[32];
        snprintf(key, sizeof key, "old-%d", i);
        sp_gw_ratelimit_fail(limit, key, T0 + i % 100);
    }
    for (int i = 0; i < 3; i++) sp_gw_ratelimit_fail(limit, "victim", T0 + 1000);
    assert_true(sp_gw_ratelimit_wait_ms(limit, "victim", T0 + 1001) > 0);
    sp_gw_ratelimit_free(limit);
}

/* Reserved before the slow check: however many tries of one key run at
 * once, at most the limit of them get to the check. */
#define RACERS 16

typedef struct racer {
    sp_gw_ratelimit *limit;
    pthread_barrier_t *start;
    int64_t now_ms; /* each read the clock a little apart */
    int64_t wait_ms;
} racer;

static void *race(void *arg) {
    racer *r = arg;
    pthread_barrier_wait(r->start);
    r->wait_ms = sp_gw_ratelimit_take(r->limit, "a@example.org", r->now_ms);
    return NULL;
}

static void test_concurrent_takes_never_exceed_the_limit(void **state) {
    (void)state;
    for (int round = 0; round < 20; round++) {
        sp_gw_ratelimit *limit = sp_gw_ratelimit_new(1024, 5, WINDOW_MS);
        pthread_barrier_t start;
        assert_int_equal(pthread_barrier_init(&start, NULL, RACERS), 0);
        racer racers[RACERS];
        pthread_t threads[RACERS];
        for (int i = 0; i < RACERS; i++) {
            racers[i] = (racer){.limit = limit, .start = &start, .now_ms = T0 + i % 4};
            assert_int_equal(pthread_create(&threads[i], NULL, race, &racers[i]), 0);
        }
        int allowed = 0;
        for (int i = 0; i < RACERS; i++) {
            assert_int_equal(pthread_join(threads[i], NULL), 0);
            if (racers[i].wait_ms == 0) allowed++;
            else assert_true(racers[i].wait_ms > WINDOW_MS - 4 && racers[i].wait_ms <= WINDOW_MS);
        }
        assert_int_equal(allowed, 5);
        pthread_barrier_destroy(&start);
        sp_gw_ratelimit_free(limit);
    }
}

/* Each request reads the clock before it takes the mutex: one that read it
 * a little earlier than the window's start is counted in that window (it
 * used to start a new window, which let a sixth concurrent try through). */
static void test_a_slightly_earlier_clock_is_the_same_window(void **state) {
    (void)state;
    sp_gw_ratelimit *limit = sp_gw_ratelimit_new(1024, 2, WINDOW_MS);
    assert_int_equal(sp_gw_ratelimit_take(limit, "k", T0 + 5), 0);
    assert_int_equal(sp_gw_ratelimit_take(limit, "k", T0 + 3), 0);
    assert_int_equal(sp_gw_ratelimit_take(limit, "k", T0 + 1), WINDOW_MS);
    assert_int_equal(sp_gw_ratelimit_wait_ms(limit, "k", T0 + 4), WINDOW_MS);
    /* A clock moved back by a whole window starts again. */
    assert_int_equal(sp_gw_ratelimit_take(limit, "k", T0 + 5 - WINDOW_MS), 0);
    sp_gw_ratelimit_free(limit);
}

static void test_a_successful_try_is_given_back(void **state) {
    (void)state;
    sp_gw_ratelimit *limit = sp_gw_ratelimit_new(1024, 2, WINDOW_MS);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(sp_gw_ratelimit_take(limit, "k", T0 + i), 0);
        sp_gw_ratelimit_give_back(limit, "k", T0 + i);
    }
    assert_int_equal(sp_gw_ratelimit_take(limit, "k", T0 + 20), 0);
    assert_int_equal(sp_gw_ratelimit_take(limit, "k", T0 + 21), 0);
    assert_int_equal(sp_gw_ratelimit_take(limit, "k", T0 + 22), WINDOW_MS - 22);
    assert_int_equal(sp_gw_ratelimit_wait_ms(limit, "k", T0 + 22), WINDOW_MS - 22);
    sp_gw_ratelimit_clear(limit, "k");
    assert_int_equal(sp_gw_ratelimit_take(limit, "k", T0 + 23), 0);
    sp_gw_ratelimit_free(limit);
}

/* The whole table is one group of 8 slots: a flood of other keys (what
 * precomputed e-mails did with the public hash) never frees a locked key;
 * with every slot locked, a new key waits instead of pushing one out. */
static void test_a_locked_key_is_never_pushed_out(void **state) {
    (void)state;
    sp_gw_ratelimit *limit = sp_gw_ratelimit_new(SP_GW_RATELIMIT_PROBES_MAX, 3, WINDOW_MS);
    for (int i = 0; i < 3; i++) assert_int_equal(sp_gw_ratelimit_take(limit, "victim", T0), 0);
    for (int i = 0; i < 1000; i++) {
        char key[32];
        snprintf(key, sizeof key, "flood-%d", i);
        sp_gw_ratelimit_take(limit, key, T0 + 1 + i);
        sp_gw_ratelimit_fail(limit, key, T0 + 1 + i);
        assert_true(sp_gw_ratelimit_wait_ms(limit, "victim", T0 + 1 + i) > 0);
    }
    /* Lock every other slot: a new key is refused until the victim's window ends. */
    for (int k = 0; k < SP_GW_RATELIMIT_PROBES_MAX - 1; k++) {
        char key[32];
        snprintf(key, sizeof key, "locked-%d", k);
        for (int i = 0; i < 3; i++) sp_gw_ratelimit_take(limit, key, T0 + 2000);
        assert_true(sp_gw_ratelimit_wait_ms(limit, key, T0 + 2000) > 0);
    }
    assert_int_equal(sp_gw_ratelimit_take(limit, "newcomer", T0 + 3000), WINDOW_MS - 3000);
    assert_true(sp_gw_ratelimit_wait_ms(limit, "victim", T0 + 3000) > 0);
    assert_int_equal(sp_gw_ratelimit_take(limit, "newcomer", T0 + WINDOW_MS), 0);
    assert_int_equal(sp_gw_ratelimit_wait_ms(limit, "victim", T0 + WINDOW_MS), 0);
    sp_gw_ratelimit_free(limit);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_after_the_limit_until_the_window_ends),
        cmocka_unit_test(test_success_clears),
        cmocka_unit_test(test_bounded_table_keeps_recent_keys),
        cmocka_unit_test(test_concurrent_takes_never_exceed_the_limit),
        cmocka_unit_test(test_a_slightly_earlier_clock_is_the_same_window),
        cmocka_unit_test(test_a_successful_try_is_given_back),
        cmocka_unit_test(test_a_locked_key_is_never_pushed_out),
    };
    if (sodium_init() < 0) return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
