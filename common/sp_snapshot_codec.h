/* sp_snapshot_codec.h - the bytes of a writer's snapshot, whatever state it
 * holds (the ledger's: services/transactions/ledger_snapshot.c; the
 * accounts': services/accounts/accounts_snapshot.c). Integers are written
 * little-endian at a fixed width, strings as a 32-bit length and their
 * bytes, map entries sorted by key so that the same state always gives the
 * same bytes; the last SP_SNAPSHOT_CHECKSUM_LEN bytes are a BLAKE2b-256 of
 * everything before them, so a flipped or lost byte is refused before any
 * of it is read.
 *
 * The encoder and decoder carry their first failure: a caller writes or
 * reads every field and looks once at the end (failed_status, bad). The
 * decoder checks every length against what it still has and what the field
 * can hold: no input makes it read out of bounds.
 *
 * Memory: the encoder owns its buffer until sp_snapshot_encoder_finish
 * hands it over (the caller then frees it) or frees it on failure. The
 * decoder borrows its bytes. sp_snapshot_get_str_dup returns a malloc'd
 * string; sp_snapshot_sorted_entries a malloc'd array (items) the caller
 * frees, borrowing the map's keys and values. */
#ifndef SP_SNAPSHOT_CODEC_H
#define SP_SNAPSHOT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sp_error.h"
#include "sp_id.h"
#include "sp_map.h"

#define SP_SNAPSHOT_BYTES_MAX ((size_t)1 << 32) /* 4 GiB: far above any configured limit */
#define SP_SNAPSHOT_CHECKSUM_LEN 32

typedef struct sp_snapshot_encoder {
    uint8_t *buf;
    size_t len;
    size_t cap;
    int failed_status; /* 0, 503 out of memory, 500 past SP_SNAPSHOT_BYTES_MAX */
} sp_snapshot_encoder;

void sp_snapshot_put_bytes(sp_snapshot_encoder *w, const void *bytes, size_t n);
void sp_snapshot_put_u64(sp_snapshot_encoder *w, uint64_t v);
void sp_snapshot_put_i64(sp_snapshot_encoder *w, int64_t v);
void sp_snapshot_put_u32(sp_snapshot_encoder *w, uint32_t v);
void sp_snapshot_put_bool(sp_snapshot_encoder *w, bool v);
void sp_snapshot_put_str(sp_snapshot_encoder *w, const char *s);

/* Appends the checksum and hands the bytes over (*out, *out_len). -1 with
 * 503 "unavailable" (out of memory) or 500 "snapshot_too_large" naming
 * what, the buffer freed. */
int sp_snapshot_encoder_finish(sp_snapshot_encoder *w, const char *what, uint8_t **out,
                               size_t *out_len, sp_error *err);

typedef struct sp_snapshot_decoder {
    const uint8_t *bytes;
    size_t len; /* of the body: the checksum is not read */
    size_t pos;
    const char *bad; /* the first thing that did not read, or NULL */
} sp_snapshot_decoder;

/* A decoder over the body of bytes once their checksum matches; -1 with 422
 * "snapshot_refused" (truncated below header_min + the checksum, or corrupt). */
int sp_snapshot_decoder_open(sp_snapshot_decoder *r, const uint8_t *bytes, size_t len,
                             size_t header_min, sp_error *err);

bool sp_snapshot_get_bytes(sp_snapshot_decoder *r, void *out, size_t n, const char *what);
uint64_t sp_snapshot_get_u64(sp_snapshot_decoder *r, const char *what);
int64_t sp_snapshot_get_i64(sp_snapshot_decoder *r, const char *what);
uint32_t sp_snapshot_get_u32(sp_snapshot_decoder *r, const char *what);
bool sp_snapshot_get_bool(sp_snapshot_decoder *r, const char *what);
/* Into a fixed buffer of dst_size bytes (NUL included): longer is bad. */
void sp_snapshot_get_str(sp_snapshot_decoder *r, char *dst, size_t dst_size, const char *what);
/* A new malloc'd string (NULL when unread or out of memory: *oom set). */
char *sp_snapshot_get_str_dup(sp_snapshot_decoder *r, const char *what, bool *oom);
/* A count of entries, each at least min_entry_bytes long: bad when more
 * than limit or than the bytes left could hold. */
size_t sp_snapshot_get_count(sp_snapshot_decoder *r, size_t limit, size_t min_entry_bytes,
                             const char *what);

/* A map's entries, sorted by key (canonical order). */
typedef struct sp_snapshot_entry {
    const uint8_t *key;
    void *value;
} sp_snapshot_entry;

typedef struct sp_snapshot_entries {
    sp_snapshot_entry *items;
    size_t count;
} sp_snapshot_entries;

/* false (items NULL) when out of memory. */
bool sp_snapshot_sorted_entries(const sp_map *map, sp_snapshot_entries *out);
/* A qsort comparator by value pointer, to find an entry by its value with bsearch. */
int sp_snapshot_entry_by_value(const void *a, const void *b);

/* What every snapshot starts with: its kind's magic bytes, its format and
 * the version of the binary that wrote it (at most
 * SP_SNAPSHOT_VERSION_BYTES_MAX bytes). */
#define SP_SNAPSHOT_VERSION_BYTES_MAX 64
#define SP_SNAPSHOT_MAGIC_BYTES_MAX 16
void sp_snapshot_put_preamble(sp_snapshot_encoder *w, const uint8_t *magic, size_t magic_len,
                              uint32_t format, const char *build_version);
/* Reads the preamble and checks it is this kind's, in this format, from this
 * binary: -1 with 422 snapshot_refused ("not a <kind> snapshot", or "written
 * by another binary (...)") otherwise. */
int sp_snapshot_get_preamble(sp_snapshot_decoder *r, const uint8_t *magic, size_t magic_len,
                             uint32_t format, const char *build_version, const char *kind,
                             sp_error *err);

/* Where a snapshot stands on its partition's events: next_offset is the
 * first event not in it; the last one in it (next_offset - 1) is named by
 * its aggregate id, version and command id. next_offset 0: no event yet.
 * The ledger's and the accounts' snapshots both carry one. */
#define SP_SNAPSHOT_COMMAND_ID_MAX 96 /* the longest command id an envelope allows */
typedef struct sp_snapshot_position {
    int64_t next_offset;
    char last_aggregate_id[SP_ID_LEN + 1];
    uint64_t last_version;
    char last_command_id[SP_SNAPSHOT_COMMAND_ID_MAX + 1];
} sp_snapshot_position;
void sp_snapshot_put_position(sp_snapshot_encoder *w, const sp_snapshot_position *position);
/* A negative offset marks the decoder bad like any unreadable field. */
void sp_snapshot_get_position(sp_snapshot_decoder *r, sp_snapshot_position *position);

#endif
