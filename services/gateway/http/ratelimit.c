/* ratelimit.c - attempt counters in a bounded table (see ratelimit.h). */
#include "ratelimit.h"

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "sp_id.h"

typedef struct slot {
    uint8_t key[SP_KEY_LEN];
    bool used;
    int64_t window_start_ms;
    int64_t failures;
} slot;

struct sp_gw_ratelimit {
    pthread_mutex_t mutex;
    slot *slots;
    size_t slot_count; /* a power of two */
    int64_t failures_max;
    int64_t window_ms;
    uint8_t placement_key[crypto_shorthash_KEYBYTES]; /* random, never shown */
};

/* A key's identity (collision-free digest) and the start of its group. */
typedef struct key_ref {
    uint8_t digest[SP_KEY_LEN];
    size_t start;
} key_ref;

sp_gw_ratelimit *sp_gw_ratelimit_new(size_t slots_max, int64_t failures_max, int64_t window_ms) {
    assert(slots_max > 0);
    assert(failures_max > 0);
    assert(window_ms > 0);
    size_t count = SP_GW_RATELIMIT_PROBES_MAX;
    while (count < slots_max) count *= 2;
    sp_gw_ratelimit *limit = calloc(1, sizeof *limit);
    if (limit == NULL) return NULL;
    limit->slots = calloc(count, sizeof *limit->slots);
    if (limit->slots == NULL) {
        free(limit);
        return NULL;
    }
    pthread_mutex_init(&limit->mutex, NULL);
    limit->slot_count = count;
    limit->failures_max = failures_max;
    limit->window_ms = window_ms;
    crypto_shorthash_keygen(limit->placement_key);
    return limit;
}

void sp_gw_ratelimit_free(sp_gw_ratelimit *limit) {
    if (limit == NULL) return;
    pthread_mutex_destroy(&limit->mutex);
    sodium_memzero(limit->placement_key, sizeof limit->placement_key);
    free(limit->slots);
    free(limit);
}

static key_ref key_ref_of(const sp_gw_ratelimit *limit, const char *key) {
    assert(limit != NULL);
    assert(key != NULL);
    key_ref ref;
    sp_key_of(ref.digest, "ratelimit", key, NULL, NULL);
    uint8_t placement[crypto_shorthash_BYTES];
    crypto_shorthash(placement, (const unsigned char *)key, strlen(key), limit->placement_key);
    uint64_t h = 0;
    memcpy(&h, placement, sizeof h);
    ref.start = (size_t)(h & (limit->slot_count - 1));
    return ref;
}

/* Concurrent requests read the clock before they take the mutex, so a
 * slightly earlier now_ms than the window's start is the same window; only
 * a clock moved back by a whole window starts again. */
static bool stale(const sp_gw_ratelimit *limit, const slot *s, int64_t now_ms) {
    assert(s != NULL);
    assert(limit->window_ms > 0);
    return !s->used || now_ms >= s->window_start_ms + limit->window_ms ||
           now_ms <= s->window_start_ms - limit->window_ms;
}

/* Until s's window ends, at most window_ms. */
static int64_t wait_of(const sp_gw_ratelimit *limit, const slot *s, int64_t now_ms) {
    assert(s != NULL);
    assert(limit->window_ms > 0);
    int64_t wait_ms = s->window_start_ms + limit->window_ms - now_ms;
    return wait_ms > limit->window_ms ? limit->window_ms : wait_ms;
}

static bool locked(const sp_gw_ratelimit *limit, const slot *s, int64_t now_ms) {
    assert(limit->failures_max > 0);
    return !stale(limit, s, now_ms) && s->failures >= limit->failures_max;
}

static slot *probe(sp_gw_ratelimit *limit, const key_ref *ref, size_t i) {
    assert(i < SP_GW_RATELIMIT_PROBES_MAX);
    assert((limit->slot_count & (limit->slot_count - 1)) == 0); /* a power of two */
    return &limit->slots[(ref->start + i) & (limit->slot_count - 1)];
}

/* Under the mutex: key's slot, or NULL. */
static slot *find(sp_gw_ratelimit *limit, const key_ref *ref) {
    assert(ref != NULL);
    for (size_t i = 0; i < SP_GW_RATELIMIT_PROBES_MAX; i++) {
        slot *s = probe(limit, ref, i);
        if (s->used && memcmp(s->key, ref->digest, SP_KEY_LEN) == 0) return s;
    }
    return NULL;
}

/* Under the mutex: a slot for a new key - free or stale, else the unlocked
 * one whose window started first; NULL when every slot is locked
 * (*wait_ms: until the first of them ends). */
static slot *claim(sp_gw_ratelimit *limit, const key_ref *ref, int64_t now_ms, int64_t *wait_ms) {
    assert(ref != NULL);
    assert(wait_ms != NULL);
    slot *oldest_unlocked = NULL;
    int64_t first_end_ms = INT64_MAX;
    for (size_t i = 0; i < SP_GW_RATELIMIT_PROBES_MAX; i++) {
        slot *s = probe(limit, ref, i);
        if (stale(limit, s, now_ms)) return s;
        if (locked(limit, s, now_ms)) {
            int64_t end_ms = now_ms + wait_of(limit, s, now_ms);
            if (end_ms < first_end_ms) first_end_ms = end_ms;
        } else if (oldest_unlocked == NULL ||
                   s->window_start_ms < oldest_unlocked->window_start_ms) {
            oldest_unlocked = s;
        }
    }
    if (oldest_unlocked == NULL) *wait_ms = first_end_ms - now_ms;
    return oldest_unlocked;
}

/* Under the mutex: key's live slot, a fresh one in its place, or NULL (*wait_ms set). */
static slot *live_slot(sp_gw_ratelimit *limit, const key_ref *ref, int64_t now_ms,
                       int64_t *wait_ms) {
    assert(ref != NULL);
    assert(wait_ms != NULL);
    slot *s = find(limit, ref);
    if (s != NULL && !stale(limit, s, now_ms)) return s;
    if (s == NULL) s = claim(limit, ref, now_ms, wait_ms);
    if (s == NULL) return NULL;
    memcpy(s->key, ref->digest, SP_KEY_LEN);
    s->used = true;
    s->window_start_ms = now_ms;
    s->failures = 0;
    return s;
}

int64_t sp_gw_ratelimit_wait_ms(sp_gw_ratelimit *limit, const char *key, int64_t now_ms) {
    assert(limit != NULL);
    assert(key != NULL);
    key_ref ref = key_ref_of(limit, key);
    int64_t wait_ms = 0;
    pthread_mutex_lock(&limit->mutex);
    slot *s = find(limit, &ref);
    if (s != NULL && locked(limit, s, now_ms)) wait_ms = wait_of(limit, s, now_ms);
    pthread_mutex_unlock(&limit->mutex);
    return wait_ms;
}

int64_t sp_gw_ratelimit_take(sp_gw_ratelimit *limit, const char *key, int64_t now_ms) {
    assert(limit != NULL);
    assert(key != NULL);
    key_ref ref = key_ref_of(limit, key);
    int64_t wait_ms = 0;
    pthread_mutex_lock(&limit->mutex);
    slot *s = live_slot(limit, &ref, now_ms, &wait_ms);
    if (s != NULL && s->failures >= limit->failures_max) {
        wait_ms = wait_of(limit, s, now_ms);
    } else if (s != NULL) {
        s->failures++;
    }
    pthread_mutex_unlock(&limit->mutex);
    assert(wait_ms >= 0);
    assert(wait_ms <= limit->window_ms);
    return wait_ms;
}

void sp_gw_ratelimit_give_back(sp_gw_ratelimit *limit, const char *key, int64_t now_ms) {
    assert(limit != NULL);
    assert(key != NULL);
    key_ref ref = key_ref_of(limit, key);
    pthread_mutex_lock(&limit->mutex);
    slot *s = find(limit, &ref);
    if (s != NULL && !stale(limit, s, now_ms) && s->failures > 0) s->failures--;
    pthread_mutex_unlock(&limit->mutex);
}

void sp_gw_ratelimit_fail(sp_gw_ratelimit *limit, const char *key, int64_t now_ms) {
    assert(limit != NULL);
    assert(key != NULL);
    key_ref ref = key_ref_of(limit, key);
    int64_t wait_ms = 0;
    pthread_mutex_lock(&limit->mutex);
    slot *s = live_slot(limit, &ref, now_ms, &wait_ms);
    if (s != NULL && s->failures < limit->failures_max) s->failures++;
    pthread_mutex_unlock(&limit->mutex);
}

void sp_gw_ratelimit_clear(sp_gw_ratelimit *limit, const char *key) {
    assert(limit != NULL);
    assert(key != NULL);
    key_ref ref = key_ref_of(limit, key);
    pthread_mutex_lock(&limit->mutex);
    slot *s = find(limit, &ref);
    if (s != NULL) memset(s, 0, sizeof *s);
    pthread_mutex_unlock(&limit->mutex);
}
