/* sp_map.h - a bounded hash map from 16-byte keys (sp_key_of) to pointers.
 * Open addressing, linear probing, grows by doubling up to entry_count_max;
 * past that sp_map_put fails (a limit, not a crash). The map owns its slot
 * array, never the values: the caller frees those (sp_map_foreach helps). */
#ifndef SP_MAP_H
#define SP_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sp_error.h"
#include "sp_id.h"

typedef struct sp_map_slot {
    uint8_t key[SP_KEY_LEN];
    void *value; /* NULL = empty slot */
} sp_map_slot;

typedef struct sp_map {
    sp_map_slot *slots;
    size_t slot_count; /* power of two */
    size_t entry_count;
    size_t entry_count_max;
} sp_map;

int sp_map_init(sp_map *map, size_t entry_count_max, sp_error *err);
void sp_map_destroy(sp_map *map);
void *sp_map_get(const sp_map *map, const uint8_t key[SP_KEY_LEN]);
/* Inserts or replaces; value must not be NULL. */
int sp_map_put(sp_map *map, const uint8_t key[SP_KEY_LEN], void *value, sp_error *err);
/* Takes key out of the map and returns its value (the caller frees it), NULL
 * when absent. The slots after it move back (no tombstones), so lookups stay
 * as short as if the key had never been there. */
void *sp_map_remove(sp_map *map, const uint8_t key[SP_KEY_LEN]);
typedef void (*sp_map_visit_fn)(void *ctx, const uint8_t key[SP_KEY_LEN], void *value);
void sp_map_foreach(const sp_map *map, sp_map_visit_fn visit, void *ctx);

#endif
