/* inflight.c - requests in progress per client address (see inflight.h). */
#include "inflight.h"

#include <assert.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    char address[SP_GW_INFLIGHT_ADDRESS_LEN_MAX + 1]; /* "" = free */
    size_t count;
} slot;

struct sp_gw_inflight {
    pthread_mutex_t mutex;
    size_t max_per_address;
    size_t slot_count; /* a power of two, >= 2 * threads */
    size_t used;       /* slots whose count > 0 */
    slot *slots;
};

sp_gw_inflight *sp_gw_inflight_new(size_t threads_max, size_t max_per_address) {
    assert(threads_max >= 1);
    assert(max_per_address >= 1);
    sp_gw_inflight *t = calloc(1, sizeof *t);
    if (t == NULL) return NULL;
    size_t n = 16;
    while (n < 2 * threads_max) n *= 2;
    t->slots = calloc(n, sizeof *t->slots);
    if (t->slots == NULL || pthread_mutex_init(&t->mutex, NULL) != 0) {
        free(t->slots);
        free(t);
        return NULL;
    }
    t->slot_count = n;
    t->max_per_address = max_per_address;
    return t;
}

void sp_gw_inflight_free(sp_gw_inflight *inflight) {
    if (inflight == NULL) return;
    pthread_mutex_destroy(&inflight->mutex);
    free(inflight->slots);
    free(inflight);
}

/* FNV-1a: placement only; the table never fills, so a chosen collision
 * only lengthens a probe. */
static size_t hash_of(const char *address) {
    assert(address != NULL);
    uint64_t h = UINT64_C(14695981039346656037);
    for (const unsigned char *p = (const unsigned char *)address; *p != '\0'; p++) {
        h ^= *p;
        h *= UINT64_C(1099511628211);
    }
    return (size_t)h;
}

/* The slot of address, or the first free one on its probe (linear; every
 * slot is looked at at most once). Called under the mutex. */
static slot *find(sp_gw_inflight *t, const char *key) {
    assert(t->slot_count > 0);
    assert((t->slot_count & (t->slot_count - 1)) == 0); /* a power of two: the mask works */
    assert(key != NULL);
    size_t mask = t->slot_count - 1;
    slot *free_slot = NULL;
    for (size_t i = 0, at = hash_of(key) & mask; i < t->slot_count; i++, at = (at + 1) & mask) {
        slot *s = &t->slots[at];
        if (s->count > 0 && strcmp(s->address, key) == 0) return s;
        if (s->count == 0 && free_slot == NULL) free_slot = s;
    }
    return free_slot;
}

static void key_of(const char *address, char key[SP_GW_INFLIGHT_ADDRESS_LEN_MAX + 1]) {
    assert(key != NULL);
    size_t len = strnlen(address != NULL ? address : "", SP_GW_INFLIGHT_ADDRESS_LEN_MAX);
    memcpy(key, address != NULL ? address : "", len);
    key[len] = '\0';
}

bool sp_gw_inflight_enter(sp_gw_inflight *inflight, const char *address) {
    assert(inflight != NULL);
    char key[SP_GW_INFLIGHT_ADDRESS_LEN_MAX + 1];
    key_of(address, key);
    pthread_mutex_lock(&inflight->mutex);
    slot *s = find(inflight, key);
    assert(s != NULL); /* 2 * threads slots, at most threads in use */
    bool ok = s != NULL && s->count < inflight->max_per_address;
    if (ok) {
        if (s->count == 0) {
            memcpy(s->address, key, sizeof s->address);
            inflight->used++;
        }
        s->count++;
    }
    pthread_mutex_unlock(&inflight->mutex);
    return ok;
}

void sp_gw_inflight_leave(sp_gw_inflight *inflight, const char *address) {
    assert(inflight != NULL);
    char key[SP_GW_INFLIGHT_ADDRESS_LEN_MAX + 1];
    key_of(address, key);
    pthread_mutex_lock(&inflight->mutex);
    slot *s = find(inflight, key);
    assert(s != NULL);
    assert(s->count > 0);
    if (s != NULL && s->count > 0) {
        s->count--;
        if (s->count == 0) inflight->used--;
    }
    pthread_mutex_unlock(&inflight->mutex);
}

size_t sp_gw_inflight_count(sp_gw_inflight *inflight, const char *address) {
    assert(inflight != NULL);
    char key[SP_GW_INFLIGHT_ADDRESS_LEN_MAX + 1];
    key_of(address, key);
    pthread_mutex_lock(&inflight->mutex);
    slot *s = find(inflight, key);
    size_t count = s != NULL && s->count > 0 ? s->count : 0;
    pthread_mutex_unlock(&inflight->mutex);
    return count;
}
