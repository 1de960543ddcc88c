/* ratelimit.c - failed-login counters in a bounded table (see ratelimit.h). */
#include "ratelimit.h"

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
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
    size_t slot_count;          /* a power of two */
    int64_t failures_max;
    int64_t window_ms;
};

sp_gw_ratelimit *sp_gw_ratelimit_new(size_t slots_max, int64_t failures_max, int64_t window_ms) {
    assert(slots_max > 0 && failures_max > 0 && window_ms > 0);
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
    return limit;
}

void sp_gw_ratelimit_free(sp_gw_ratelimit *limit) {
    if (limit == NULL) return;
    pthread_mutex_destroy(&limit->mutex);
    free(limit->slots);
    free(limit);
}

static size_t start_of(const sp_gw_ratelimit *limit, const uint8_t key[SP_KEY_LEN]) {
    uint64_t h = 0;
    memcpy(&h, key, sizeof h);
    return (size_t)(h & (limit->slot_count - 1));
}

static bool stale(const sp_gw_ratelimit *limit, const slot *s, int64_t now_ms) {
    return !s->used || now_ms >= s->window_start_ms + limit->window_ms ||
           now_ms < s->window_start_ms;   /* a clock moved back: start again */
}

/* Under the mutex: key's slot, or NULL. */
static slot *find(sp_gw_ratelimit *limit, const uint8_t key[SP_KEY_LEN]) {
    size_t start = start_of(limit, key);
    for (size_t i = 0; i < SP_GW_RATELIMIT_PROBES_MAX; i++) {
        slot *s = &limit->slots[(start + i) & (limit->slot_count - 1)];
        if (s->used && memcmp(s->key, key, SP_KEY_LEN) == 0) return s;
    }
    return NULL;
}

/* Under the mutex: a slot for a new key - free, stale, or the oldest. */
static slot *claim(sp_gw_ratelimit *limit, const uint8_t key[SP_KEY_LEN], int64_t now_ms) {
    size_t start = start_of(limit, key);
    slot *oldest = NULL;
    for (size_t i = 0; i < SP_GW_RATELIMIT_PROBES_MAX; i++) {
        slot *s = &limit->slots[(start + i) & (limit->slot_count - 1)];
        if (stale(limit, s, now_ms)) return s;
        if (oldest == NULL || s->window_start_ms < oldest->window_start_ms) oldest = s;
    }
    return oldest;
}

int64_t sp_gw_ratelimit_wait_ms(sp_gw_ratelimit *limit, const char *key, int64_t now_ms) {
    assert(limit != NULL && key != NULL);
    uint8_t k[SP_KEY_LEN];
    sp_key_of(k, "ratelimit", key, NULL, NULL);
    int64_t wait_ms = 0;
    pthread_mutex_lock(&limit->mutex);
    slot *s = find(limit, k);
    if (s != NULL && !stale(limit, s, now_ms) && s->failures >= limit->failures_max)
        wait_ms = s->window_start_ms + limit->window_ms - now_ms;
    pthread_mutex_unlock(&limit->mutex);
    return wait_ms;
}

void sp_gw_ratelimit_fail(sp_gw_ratelimit *limit, const char *key, int64_t now_ms) {
    assert(limit != NULL && key != NULL);
    uint8_t k[SP_KEY_LEN];
    sp_key_of(k, "ratelimit", key, NULL, NULL);
    pthread_mutex_lock(&limit->mutex);
    slot *s = find(limit, k);
    if (s == NULL || stale(limit, s, now_ms)) {
        if (s == NULL) s = claim(limit, k, now_ms);
        memcpy(s->key, k, SP_KEY_LEN);
        s->used = true;
        s->window_start_ms = now_ms;
        s->failures = 0;
    }
    if (s->failures < limit->failures_max) s->failures++;
    pthread_mutex_unlock(&limit->mutex);
}

void sp_gw_ratelimit_clear(sp_gw_ratelimit *limit, const char *key) {
    assert(limit != NULL && key != NULL);
    uint8_t k[SP_KEY_LEN];
    sp_key_of(k, "ratelimit", key, NULL, NULL);
    pthread_mutex_lock(&limit->mutex);
    slot *s = find(limit, k);
    if (s != NULL) memset(s, 0, sizeof *s);
    pthread_mutex_unlock(&limit->mutex);
}
