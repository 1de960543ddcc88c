/* test_map.c - the bounded hash map: put, get, replace, growth, its limit
 * and foreach. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "sp_map.h"

#define ENTRY_COUNT 1000

static int setup(void **state) {
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

static void key_of_number(size_t n, uint8_t key[SP_KEY_LEN]) {
    char text[32];
    snprintf(text, sizeof text, "%zu", n);
    sp_key_of(key, "test", text, NULL, NULL);
}

static void test_put_get_replace(void **state) {
    (void)state;
    sp_map map;
    sp_error err;
    assert_int_equal(sp_map_init(&map, 10, &err), 0);
    uint8_t a[SP_KEY_LEN], b[SP_KEY_LEN];
    sp_key_of(a, "a", NULL, NULL, NULL);
    sp_key_of(b, "b", NULL, NULL, NULL);
    int one = 1, two = 2, three = 3;
    assert_null(sp_map_get(&map, a));
    assert_int_equal(sp_map_put(&map, a, &one, &err), 0);
    assert_int_equal(sp_map_put(&map, b, &two, &err), 0);
    assert_ptr_equal(sp_map_get(&map, a), &one);
    assert_ptr_equal(sp_map_get(&map, b), &two);
    assert_int_equal(map.entry_count, 2);
    assert_int_equal(sp_map_put(&map, a, &three, &err), 0);
    assert_ptr_equal(sp_map_get(&map, a), &three);
    assert_int_equal(map.entry_count, 2); /* replaced, not added */
    sp_map_destroy(&map);
}

static void test_keys_sharing_a_bucket(void **state) {
    (void)state;
    /* Same first 8 bytes (same hash), different tails: probing must tell them apart. */
    sp_map map;
    sp_error err;
    assert_int_equal(sp_map_init(&map, 64, &err), 0);
    uint8_t keys[20][SP_KEY_LEN];
    int values[20];
    for (size_t i = 0; i < 20; i++) {
        memset(keys[i], 0xab, SP_KEY_LEN);
        keys[i][15] = (uint8_t)i;
        values[i] = (int)i;
        assert_int_equal(sp_map_put(&map, keys[i], &values[i], &err), 0);
    }
    for (size_t i = 0; i < 20; i++) assert_ptr_equal(sp_map_get(&map, keys[i]), &values[i]);
    uint8_t absent[SP_KEY_LEN];
    memset(absent, 0xab, SP_KEY_LEN);
    absent[15] = 200;
    assert_null(sp_map_get(&map, absent));
    sp_map_destroy(&map);
}

static void test_growth_keeps_every_entry(void **state) {
    (void)state;
    static int values[ENTRY_COUNT];
    sp_map map;
    sp_error err;
    assert_int_equal(sp_map_init(&map, ENTRY_COUNT, &err), 0);
    size_t initial_slots = map.slot_count;
    for (size_t i = 0; i < ENTRY_COUNT; i++) {
        uint8_t key[SP_KEY_LEN];
        key_of_number(i, key);
        values[i] = (int)i;
        assert_int_equal(sp_map_put(&map, key, &values[i], &err), 0);
        assert_true(map.entry_count * 2 <= map.slot_count);         /* load <= 1/2 */
        assert_int_equal(map.slot_count & (map.slot_count - 1), 0); /* power of two */
    }
    assert_true(map.slot_count > initial_slots);
    assert_int_equal(map.slot_count, 2048); /* the smallest that holds 1000 at load 1/2 */
    assert_int_equal(map.entry_count, ENTRY_COUNT);
    for (size_t i = 0; i < ENTRY_COUNT; i++) {
        uint8_t key[SP_KEY_LEN];
        key_of_number(i, key);
        assert_ptr_equal(sp_map_get(&map, key), &values[i]);
    }
    uint8_t key[SP_KEY_LEN];
    key_of_number(ENTRY_COUNT, key);
    assert_null(sp_map_get(&map, key));
    sp_map_destroy(&map);
}

static void test_limit_is_an_error_not_a_crash(void **state) {
    (void)state;
    sp_map map;
    sp_error err;
    int values[5];
    assert_int_equal(sp_map_init(&map, 5, &err), 0);
    for (size_t i = 0; i < 5; i++) {
        uint8_t key[SP_KEY_LEN];
        key_of_number(i, key);
        assert_int_equal(sp_map_put(&map, key, &values[i], &err), 0);
    }
    uint8_t extra[SP_KEY_LEN];
    key_of_number(5, extra);
    sp_error_clear(&err);
    assert_int_equal(sp_map_put(&map, extra, &values[0], &err), -1);
    assert_string_equal(err.code, "capacity_exceeded");
    assert_int_equal(err.http_status, 503);
    assert_null(sp_map_get(&map, extra));
    assert_int_equal(map.entry_count, 5);
    /* A full map still replaces existing entries. */
    uint8_t existing[SP_KEY_LEN];
    key_of_number(3, existing);
    assert_int_equal(sp_map_put(&map, existing, &values[4], &err), 0);
    assert_ptr_equal(sp_map_get(&map, existing), &values[4]);
    sp_map_destroy(&map);
}

typedef struct visit_tally {
    size_t count;
    long sum;
    bool key_matches;
} visit_tally;

static void visit(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    visit_tally *tally = ctx;
    int n = *(int *)value;
    uint8_t expected[SP_KEY_LEN];
    key_of_number((size_t)n, expected);
    if (memcmp(expected, key, SP_KEY_LEN) != 0) tally->key_matches = false;
    tally->count++;
    tally->sum += n;
}

/* Removal in any order, including keys sharing a bucket and runs that wrap
 * around the end of the slot array, leaves every other key reachable, and
 * a map filled to its limit takes new keys again once some are removed. */
static void test_remove_keeps_the_others_reachable(void **state) {
    (void)state;
    sp_map map;
    sp_error err;
    enum { N = 64 };
    assert_int_equal(sp_map_init(&map, N, &err), 0);
    uint8_t keys[N][SP_KEY_LEN];
    int values[N];
    for (size_t i = 0; i < N; i++) {
        if (i % 4 == 0) {
            memset(keys[i], 0xff, SP_KEY_LEN); /* one bucket, at the array's end */
            keys[i][15] = (uint8_t)i;
        } else {
            key_of_number(i, keys[i]);
        }
        values[i] = (int)i;
        assert_int_equal(sp_map_put(&map, keys[i], &values[i], &err), 0);
    }
    uint8_t extra[SP_KEY_LEN];
    key_of_number(N + 1, extra);
    assert_int_equal(sp_map_put(&map, extra, &values[0], &err), -1);
    for (size_t i = 0; i < N; i += 3) {
        assert_ptr_equal(sp_map_remove(&map, keys[i]), &values[i]);
        assert_null(sp_map_remove(&map, keys[i]));
        for (size_t j = 0; j < N; j++) {
            if (j % 3 == 0 && j <= i) {
                assert_null(sp_map_get(&map, keys[j]));
            } else {
                assert_ptr_equal(sp_map_get(&map, keys[j]), &values[j]);
            }
        }
    }
    assert_int_equal(map.entry_count, N - (N + 2) / 3);
    assert_int_equal(sp_map_put(&map, extra, &values[1], &err), 0);
    assert_ptr_equal(sp_map_get(&map, extra), &values[1]);
    sp_map_destroy(&map);
}

static void test_foreach_visits_each_once(void **state) {
    (void)state;
    static int values[100];
    sp_map map;
    sp_error err;
    assert_int_equal(sp_map_init(&map, 100, &err), 0);
    for (size_t i = 0; i < 100; i++) {
        uint8_t key[SP_KEY_LEN];
        key_of_number(i, key);
        values[i] = (int)i;
        assert_int_equal(sp_map_put(&map, key, &values[i], &err), 0);
    }
    visit_tally tally = {0, 0, true};
    sp_map_foreach(&map, visit, &tally);
    assert_int_equal(tally.count, 100);
    assert_int_equal(tally.sum, 99 * 100 / 2);
    assert_true(tally.key_matches);
    sp_map_destroy(&map);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_replace),
        cmocka_unit_test(test_keys_sharing_a_bucket),
        cmocka_unit_test(test_growth_keeps_every_entry),
        cmocka_unit_test(test_limit_is_an_error_not_a_crash),
        cmocka_unit_test(test_foreach_visits_each_once),
        cmocka_unit_test(test_remove_keeps_the_others_reachable),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
