/* sp_map.c - bounded open-addressing hash map from 16-byte digests to
 * pointers: linear probing, load factor at most 1/2, growth by doubling. */
#include "sp_map.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define SP_MAP_SLOT_COUNT_INITIAL 16

/* Keys are BLAKE2b digests: their first bytes are already uniformly spread. */
static uint64_t key_hash(const uint8_t key[SP_KEY_LEN]) {
    assert(key != NULL);
    uint64_t hash;
    memcpy(&hash, key, sizeof hash);
    return hash;
}

/* Smallest power of two that keeps entry_count_max entries at load <= 1/2. */
static size_t slot_count_for(size_t entry_count_max) {
    assert(entry_count_max <= SIZE_MAX / 4);
    size_t slots = 1;
    while (slots / 2 < entry_count_max) slots *= 2;
    assert(slots >= 2 * entry_count_max); /* at most half full */
    return slots;
}

static size_t slot_count_limit(const sp_map *map) {
    return slot_count_for(map->entry_count_max);
}

int sp_map_init(sp_map *map, size_t entry_count_max, sp_error *err) {
    assert(map != NULL);
    assert(entry_count_max >= 1);
    assert(entry_count_max <= SIZE_MAX / 4 / sizeof(sp_map_slot));
    memset(map, 0, sizeof *map);
    map->entry_count_max = entry_count_max;
    map->slot_count = slot_count_for(entry_count_max);
    if (map->slot_count > SP_MAP_SLOT_COUNT_INITIAL) map->slot_count = SP_MAP_SLOT_COUNT_INITIAL;
    map->slots = calloc(map->slot_count, sizeof *map->slots);
    if (map->slots == NULL) {
        return sp_error_set(err, 500, "out_of_memory", NULL, "cannot allocate a map of %zu slots",
                            map->slot_count);
    }
    return 0;
}

void sp_map_destroy(sp_map *map) {
    assert(map != NULL);
    free(map->slots);
    memset(map, 0, sizeof *map);
}

/* The slot holding key, or the empty slot where it belongs. The load factor
 * guarantees an empty slot, so the probe ends within slot_count steps. */
static sp_map_slot *find_slot(sp_map_slot *slots, size_t slot_count,
                              const uint8_t key[SP_KEY_LEN]) {
    size_t mask = slot_count - 1;
    size_t index = (size_t)key_hash(key) & mask;
    for (size_t probe = 0; probe < slot_count; probe++) {
        sp_map_slot *slot = &slots[(index + probe) & mask];
        if (slot->value == NULL || memcmp(slot->key, key, SP_KEY_LEN) == 0) return slot;
    }
    assert(!"sp_map: no empty slot");
    return NULL;
}

void *sp_map_get(const sp_map *map, const uint8_t key[SP_KEY_LEN]) {
    assert(map != NULL);
    assert(map->slots != NULL);
    assert(key != NULL);
    const sp_map_slot *slot = find_slot(map->slots, map->slot_count, key);
    return slot->value;
}

static int grow(sp_map *map, sp_error *err) {
    size_t new_count = map->slot_count * 2;
    assert(new_count <= slot_count_limit(map));
    sp_map_slot *new_slots = calloc(new_count, sizeof *new_slots);
    if (new_slots == NULL) {
        return sp_error_set(err, 500, "out_of_memory", NULL, "cannot grow a map to %zu slots",
                            new_count);
    }
    for (size_t i = 0; i < map->slot_count; i++) {
        if (map->slots[i].value == NULL) continue;
        sp_map_slot *slot = find_slot(new_slots, new_count, map->slots[i].key);
        assert(slot->value == NULL);
        *slot = map->slots[i];
    }
    free(map->slots);
    map->slots = new_slots;
    map->slot_count = new_count;
    return 0;
}

int sp_map_put(sp_map *map, const uint8_t key[SP_KEY_LEN], void *value, sp_error *err) {
    assert(map != NULL);
    assert(map->slots != NULL);
    assert(key != NULL);
    assert(value != NULL);
    sp_map_slot *slot = find_slot(map->slots, map->slot_count, key);
    if (slot->value != NULL) {
        slot->value = value;
        return 0;
    }
    if (map->entry_count >= map->entry_count_max) {
        return sp_error_set(err, 503, "capacity_exceeded", NULL,
                            "the map is full: %zu entries, the configured maximum",
                            map->entry_count_max);
    }
    if ((map->entry_count + 1) * 2 > map->slot_count) {
        if (grow(map, err) != 0) return -1;
        slot = find_slot(map->slots, map->slot_count, key);
    }
    memcpy(slot->key, key, SP_KEY_LEN);
    slot->value = value;
    map->entry_count++;
    assert(map->entry_count * 2 <= map->slot_count);
    return 0;
}

/* Backward-shift deletion for linear probing: each following entry of the
 * run moves into the hole when its home slot does not lie (cyclically)
 * between the hole and itself. */
void *sp_map_remove(sp_map *map, const uint8_t key[SP_KEY_LEN]) {
    assert(map != NULL);
    assert(map->slots != NULL);
    assert(key != NULL);
    sp_map_slot *slot = find_slot(map->slots, map->slot_count, key);
    void *value = slot->value;
    if (value == NULL) return NULL;
    size_t mask = map->slot_count - 1;
    size_t start = (size_t)(slot - map->slots);
    size_t hole = start;
    /* The load factor leaves an empty slot: the run ends within slot_count steps. */
    for (size_t step = 1; step < map->slot_count; step++) {
        size_t next = (start + step) & mask;
        sp_map_slot *candidate = &map->slots[next];
        if (candidate->value == NULL) break;
        size_t home = (size_t)key_hash(candidate->key) & mask;
        size_t from_home = (next - home) & mask;
        size_t from_hole = (next - hole) & mask;
        if (from_home >= from_hole) {
            map->slots[hole] = *candidate;
            hole = next;
        }
    }
    memset(&map->slots[hole], 0, sizeof map->slots[hole]);
    assert(map->entry_count > 0);
    map->entry_count--;
    return value;
}

void sp_map_foreach(const sp_map *map, sp_map_visit_fn visit, void *ctx) {
    assert(map != NULL);
    assert(visit != NULL);
    for (size_t i = 0; i < map->slot_count; i++) {
        if (map->slots[i].value != NULL) visit(ctx, map->slots[i].key, map->slots[i].value);
    }
}
