/* sp_snapshot_codec.c - a snapshot's fields to bytes and back, sealed by a
 * checksum (see sp_snapshot_codec.h). */
#include "sp_snapshot_codec.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

/* ------------------------------------------------------------ encoder */

void sp_snapshot_put_bytes(sp_snapshot_encoder *w, const void *bytes, size_t n) {
    if (w->failed_status != 0) return;
    if (n > SP_SNAPSHOT_BYTES_MAX - w->len) {
        w->failed_status = 500;
        return;
    }
    if (w->len + n > w->cap) {
        size_t cap = w->cap > 0 ? w->cap : 4096;
        while (cap < w->len + n) cap *= 2;
        uint8_t *grown = realloc(w->buf, cap);
        if (grown == NULL) {
            w->failed_status = 503;
            return;
        }
        w->buf = grown;
        w->cap = cap;
    }
    if (n > 0) memcpy(w->buf + w->len, bytes, n);
    w->len += n;
}

void sp_snapshot_put_u64(sp_snapshot_encoder *w, uint64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
    sp_snapshot_put_bytes(w, b, sizeof b);
}

void sp_snapshot_put_i64(sp_snapshot_encoder *w, int64_t v) {
    sp_snapshot_put_u64(w, (uint64_t)v);
}

void sp_snapshot_put_u32(sp_snapshot_encoder *w, uint32_t v) {
    uint8_t b[4];
    for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
    sp_snapshot_put_bytes(w, b, sizeof b);
}

void sp_snapshot_put_bool(sp_snapshot_encoder *w, bool v) {
    uint8_t b = v ? 1 : 0;
    sp_snapshot_put_bytes(w, &b, 1);
}

void sp_snapshot_put_str(sp_snapshot_encoder *w, const char *s) {
    size_t n = strlen(s);
    assert(n < UINT32_MAX);
    sp_snapshot_put_u32(w, (uint32_t)n);
    sp_snapshot_put_bytes(w, s, n);
}

int sp_snapshot_encoder_finish(sp_snapshot_encoder *w, const char *what, uint8_t **out,
                               size_t *out_len, sp_error *err) {
    *out = NULL;
    *out_len = 0;
    uint8_t sum[SP_SNAPSHOT_CHECKSUM_LEN];
    if (w->failed_status == 0) crypto_generichash(sum, sizeof sum, w->buf, w->len, NULL, 0);
    sp_snapshot_put_bytes(w, sum, sizeof sum);
    int rc = 0;
    if (w->failed_status == 503) {
        rc = sp_error_set(err, 503, "unavailable", NULL, "out of memory for a snapshot");
    } else if (w->failed_status != 0) {
        rc = sp_error_set(err, 500, "snapshot_too_large", NULL, "a snapshot of %s passes %zu bytes",
                          what, SP_SNAPSHOT_BYTES_MAX);
    }
    if (rc != 0) {
        free(w->buf);
    } else {
        *out = w->buf;
        *out_len = w->len;
    }
    *w = (sp_snapshot_encoder){0};
    return rc;
}

/* ------------------------------------------------------------ decoder */

int sp_snapshot_decoder_open(sp_snapshot_decoder *r, const uint8_t *bytes, size_t len,
                             size_t header_min, sp_error *err) {
    assert(bytes != NULL || len == 0);
    *r = (sp_snapshot_decoder){0};
    if (len < SP_SNAPSHOT_CHECKSUM_LEN + header_min) {
        return sp_error_set(err, 422, "snapshot_refused", NULL, "%zu bytes: truncated", len);
    }
    size_t body_end = len - SP_SNAPSHOT_CHECKSUM_LEN;
    uint8_t sum[SP_SNAPSHOT_CHECKSUM_LEN];
    crypto_generichash(sum, sizeof sum, bytes, body_end, NULL, 0);
    if (sodium_memcmp(sum, bytes + body_end, sizeof sum) != 0) {
        return sp_error_set(err, 422, "snapshot_refused", NULL, "checksum mismatch: corrupt");
    }
    *r = (sp_snapshot_decoder){.bytes = bytes, .len = body_end};
    return 0;
}

bool sp_snapshot_get_bytes(sp_snapshot_decoder *r, void *out, size_t n, const char *what) {
    if (r->bad != NULL) return false;
    if (n > r->len - r->pos) {
        r->bad = what;
        return false;
    }
    if (n > 0) memcpy(out, r->bytes + r->pos, n);
    r->pos += n;
    return true;
}

uint64_t sp_snapshot_get_u64(sp_snapshot_decoder *r, const char *what) {
    uint8_t b[8] = {0};
    uint64_t v = 0;
    if (sp_snapshot_get_bytes(r, b, sizeof b, what)) {
        for (int i = 0; i < 8; i++) v |= (uint64_t)b[i] << (8 * i);
    }
    return v;
}

int64_t sp_snapshot_get_i64(sp_snapshot_decoder *r, const char *what) {
    return (int64_t)sp_snapshot_get_u64(r, what);
}

uint32_t sp_snapshot_get_u32(sp_snapshot_decoder *r, const char *what) {
    uint8_t b[4] = {0};
    uint32_t v = 0;
    if (sp_snapshot_get_bytes(r, b, sizeof b, what)) {
        for (int i = 0; i < 4; i++) v |= (uint32_t)b[i] << (8 * i);
    }
    return v;
}

bool sp_snapshot_get_bool(sp_snapshot_decoder *r, const char *what) {
    uint8_t b = 0;
    if (sp_snapshot_get_bytes(r, &b, 1, what) && b > 1) r->bad = what;
    return b == 1;
}

void sp_snapshot_get_str(sp_snapshot_decoder *r, char *dst, size_t dst_size, const char *what) {
    assert(dst_size > 0);
    dst[0] = '\0';
    uint32_t n = sp_snapshot_get_u32(r, what);
    if (r->bad != NULL) return;
    if (n >= dst_size) {
        r->bad = what;
        return;
    }
    if (sp_snapshot_get_bytes(r, dst, n, what)) dst[n] = '\0';
}

char *sp_snapshot_get_str_dup(sp_snapshot_decoder *r, const char *what, bool *oom) {
    uint32_t n = sp_snapshot_get_u32(r, what);
    if (r->bad != NULL) return NULL;
    if (n > r->len - r->pos) {
        r->bad = what;
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (s == NULL) {
        *oom = true;
        return NULL;
    }
    memcpy(s, r->bytes + r->pos, n);
    s[n] = '\0';
    r->pos += n;
    return s;
}

size_t sp_snapshot_get_count(sp_snapshot_decoder *r, size_t limit, size_t min_entry_bytes,
                             const char *what) {
    assert(min_entry_bytes > 0);
    uint64_t n = sp_snapshot_get_u64(r, what);
    if (r->bad != NULL) return 0;
    if (n > limit || n > (r->len - r->pos) / min_entry_bytes) {
        r->bad = what;
        return 0;
    }
    return (size_t)n;
}

/* ------------------------------------------------------------ sorted entries */

static void collect_entry(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    sp_snapshot_entries *e = ctx;
    e->items[e->count++] = (sp_snapshot_entry){.key = key, .value = value};
}

static int entry_by_key(const void *a, const void *b) {
    return memcmp(((const sp_snapshot_entry *)a)->key, ((const sp_snapshot_entry *)b)->key,
                  SP_KEY_LEN);
}

int sp_snapshot_entry_by_value(const void *a, const void *b) {
    uintptr_t x = (uintptr_t)((const sp_snapshot_entry *)a)->value;
    uintptr_t y = (uintptr_t)((const sp_snapshot_entry *)b)->value;
    return x < y ? -1 : x > y;
}

bool sp_snapshot_sorted_entries(const sp_map *map, sp_snapshot_entries *out) {
    out->count = 0;
    out->items = malloc((map->entry_count > 0 ? map->entry_count : 1) * sizeof *out->items);
    if (out->items == NULL) return false;
    sp_map_foreach(map, collect_entry, out);
    assert(out->count == map->entry_count);
    qsort(out->items, out->count, sizeof *out->items, entry_by_key);
    return true;
}

void sp_snapshot_put_preamble(sp_snapshot_encoder *w, const uint8_t *magic, size_t magic_len,
                              uint32_t format, const char *build_version) {
    assert(magic != NULL);
    assert(magic_len > 0);
    assert(magic_len <= SP_SNAPSHOT_MAGIC_BYTES_MAX);
    assert(build_version != NULL);
    assert(strlen(build_version) <= SP_SNAPSHOT_VERSION_BYTES_MAX);
    sp_snapshot_put_bytes(w, magic, magic_len);
    sp_snapshot_put_u32(w, format);
    sp_snapshot_put_str(w, build_version);
}

int sp_snapshot_get_preamble(sp_snapshot_decoder *r, const uint8_t *magic, size_t magic_len,
                             uint32_t format, const char *build_version, const char *kind,
                             sp_error *err) {
    assert(r != NULL);
    assert(magic != NULL);
    assert(magic_len > 0);
    assert(magic_len <= SP_SNAPSHOT_MAGIC_BYTES_MAX);
    assert(build_version != NULL);
    assert(kind != NULL);
    uint8_t read_magic[SP_SNAPSHOT_MAGIC_BYTES_MAX];
    if (!sp_snapshot_get_bytes(r, read_magic, magic_len, "magic") ||
        memcmp(read_magic, magic, magic_len) != 0) {
        return sp_error_set(err, 422, "snapshot_refused", NULL, "not %s snapshot", kind);
    }
    uint32_t read_format = sp_snapshot_get_u32(r, "format");
    char version[SP_SNAPSHOT_VERSION_BYTES_MAX + 1];
    sp_snapshot_get_str(r, version, sizeof version, "binary version");
    if (r->bad != NULL || read_format != format || strcmp(version, build_version) != 0) {
        return sp_error_set(err, 422, "snapshot_refused", NULL,
                            "written by another binary (format %u, version \"%s\"; this one: "
                            "format %u, version \"%s\")",
                            read_format, version, format, build_version);
    }
    return 0;
}

void sp_snapshot_put_position(sp_snapshot_encoder *w, const sp_snapshot_position *position) {
    assert(w != NULL && position != NULL && position->next_offset >= 0);
    sp_snapshot_put_i64(w, position->next_offset);
    sp_snapshot_put_str(w, position->last_aggregate_id);
    sp_snapshot_put_u64(w, position->last_version);
    sp_snapshot_put_str(w, position->last_command_id);
}

void sp_snapshot_get_position(sp_snapshot_decoder *r, sp_snapshot_position *position) {
    assert(r != NULL && position != NULL);
    position->next_offset = sp_snapshot_get_i64(r, "next offset");
    sp_snapshot_get_str(r, position->last_aggregate_id, sizeof position->last_aggregate_id,
                        "last aggregate");
    position->last_version = sp_snapshot_get_u64(r, "last version");
    sp_snapshot_get_str(r, position->last_command_id, sizeof position->last_command_id,
                        "last command");
    if (r->bad == NULL && position->next_offset < 0) r->bad = "negative next offset";
}
