/* ledger_snapshot.c - a partition's ledger state to canonical bytes and back
 * (see ledger_snapshot.h for what it holds and why). Integers are written
 * little-endian at a fixed width, strings as a 32-bit length and their
 * bytes; every map's entries sorted by key. The reader checks every length
 * against what it still has and what the field can hold. */
#include "ledger_snapshot.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "ledger_internal.h"

static const uint8_t snapshot_magic[8] = {'S', 'P', 'L', 'S', 'N', 'A', 'P', '\n'};

/* ------------------------------------------------------------ writer */

typedef struct snap_writer {
    uint8_t *buf;
    size_t len;
    size_t cap;
    int failed_status;            /* 0, 503 out of memory, 500 too large */
} snap_writer;

static void w_bytes(snap_writer *w, const void *bytes, size_t n) {
    if (w->failed_status != 0) return;
    if (n > SP_LEDGER_SNAPSHOT_BYTES_MAX - w->len) {
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

static void w_u64(snap_writer *w, uint64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
    w_bytes(w, b, sizeof b);
}

static void w_i64(snap_writer *w, int64_t v) { w_u64(w, (uint64_t)v); }

static void w_u32(snap_writer *w, uint32_t v) {
    uint8_t b[4];
    for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
    w_bytes(w, b, sizeof b);
}

static void w_bool(snap_writer *w, bool v) {
    uint8_t b = v ? 1 : 0;
    w_bytes(w, &b, 1);
}

static void w_str(snap_writer *w, const char *s) {
    size_t n = strlen(s);
    assert(n < UINT32_MAX);
    w_u32(w, (uint32_t)n);
    w_bytes(w, s, n);
}

/* ------------------------------------------------------------ reader */

typedef struct snap_reader {
    const uint8_t *bytes;
    size_t len;
    size_t pos;
    const char *bad;              /* the first thing that did not read, or NULL */
} snap_reader;

static bool r_bytes(snap_reader *r, void *out, size_t n, const char *what) {
    if (r->bad != NULL) return false;
    if (n > r->len - r->pos) {
        r->bad = what;
        return false;
    }
    memcpy(out, r->bytes + r->pos, n);
    r->pos += n;
    return true;
}

static uint64_t r_u64(snap_reader *r, const char *what) {
    uint8_t b[8] = {0};
    uint64_t v = 0;
    if (r_bytes(r, b, sizeof b, what)) {
        for (int i = 0; i < 8; i++) v |= (uint64_t)b[i] << (8 * i);
    }
    return v;
}

static int64_t r_i64(snap_reader *r, const char *what) { return (int64_t)r_u64(r, what); }

static uint32_t r_u32(snap_reader *r, const char *what) {
    uint8_t b[4] = {0};
    uint32_t v = 0;
    if (r_bytes(r, b, sizeof b, what)) {
        for (int i = 0; i < 4; i++) v |= (uint32_t)b[i] << (8 * i);
    }
    return v;
}

static bool r_bool(snap_reader *r, const char *what) {
    uint8_t b = 0;
    if (r_bytes(r, &b, 1, what) && b > 1) r->bad = what;
    return b == 1;
}

/* Into a fixed buffer of dst_size bytes (NUL included). */
static void r_str(snap_reader *r, char *dst, size_t dst_size, const char *what) {
    dst[0] = '\0';
    uint32_t n = r_u32(r, what);
    if (r->bad != NULL) return;
    if (n >= dst_size) {
        r->bad = what;
        return;
    }
    if (r_bytes(r, dst, n, what)) dst[n] = '\0';
}

/* A new malloc'd string (NULL when unread or out of memory: *oom set). */
static char *r_str_dup(snap_reader *r, const char *what, bool *oom) {
    uint32_t n = r_u32(r, what);
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

/* A count of entries, each at least min_entry_bytes long: refused when
 * more than the limit or than the bytes left could hold. */
static size_t r_count(snap_reader *r, size_t limit, size_t min_entry_bytes, const char *what) {
    uint64_t n = r_u64(r, what);
    if (r->bad != NULL) return 0;
    if (n > limit || n > (r->len - r->pos) / min_entry_bytes) {
        r->bad = what;
        return 0;
    }
    return (size_t)n;
}

/* ------------------------------------------------------------ sorted entries */

typedef struct snap_entry {
    const uint8_t *key;
    void *value;
} snap_entry;

typedef struct snap_entries {
    snap_entry *items;
    size_t count;
} snap_entries;

static void collect_entry(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    snap_entries *e = ctx;
    e->items[e->count++] = (snap_entry){.key = key, .value = value};
}

static int entry_by_key(const void *a, const void *b) {
    return memcmp(((const snap_entry *)a)->key, ((const snap_entry *)b)->key, SP_KEY_LEN);
}

static int entry_by_value(const void *a, const void *b) {
    uintptr_t x = (uintptr_t)((const snap_entry *)a)->value;
    uintptr_t y = (uintptr_t)((const snap_entry *)b)->value;
    return x < y ? -1 : x > y;
}

/* The map's entries sorted by key (out->items NULL on out of memory). */
static bool sorted_entries(const sp_map *map, snap_entries *out) {
    out->count = 0;
    out->items = malloc((map->entry_count > 0 ? map->entry_count : 1) * sizeof *out->items);
    if (out->items == NULL) return false;
    sp_map_foreach(map, collect_entry, out);
    assert(out->count == map->entry_count);
    qsort(out->items, out->count, sizeof *out->items, entry_by_key);
    return true;
}

/* ------------------------------------------------------------ encode */

static void put_pass(snap_writer *w, const snap_entry *entry, const snap_entries *records_by_value) {
    const sp_ledger_pass *pass = entry->value;
    w_bytes(w, entry->key, SP_KEY_LEN);
    w_str(w, pass->pass_id);
    w_str(w, pass->beneficiary_id);
    w_u64(w, pass->version);
    w_u64(w, pass->envelope_count);
    for (size_t i = 0; i < pass->envelope_count; i++) {
        const sp_ledger_envelope *env = &pass->envelopes[i];
        w_str(w, env->category);
        w_i64(w, env->balance_cents);
        w_bool(w, env->has_end_date);
        w_i64(w, env->end_date);
        w_bool(w, env->closed);
    }
    w_bytes(w, pass->open_request_hash, SP_KEY_LEN);
    /* The opening outcome is one of the records: named by its key. */
    const snap_entry probe = {.value = (void *)pass->open_record};
    const snap_entry *open = pass->open_record == NULL ? NULL :
        bsearch(&probe, records_by_value->items, records_by_value->count,
                sizeof probe, entry_by_value);
    assert(pass->open_record == NULL || open != NULL);
    w_bool(w, open != NULL);
    if (open != NULL) w_bytes(w, open->key, SP_KEY_LEN);
    w_u64(w, pass->operation_count);
    for (size_t i = 0; i < pass->operation_count; i++) {
        const sp_ledger_operation *op = &pass->operations[i];
        w_str(w, op->operation_id);
        w_str(w, op->partner_id);
        w_str(w, op->category);
        w_str(w, op->voucher_id);
        w_i64(w, op->amount_cents);
        w_u32(w, (uint32_t)op->status);
        w_str(w, op->request_id);
    }
    w_u64(w, pass->active_voucher_count);
    w_bool(w, pass->closed);
    w_i64(w, pass->closed_at_ms);
}

static void put_record(snap_writer *w, const snap_entry *entry) {
    const sp_ledger_record *rec = entry->value;
    w_bytes(w, entry->key, SP_KEY_LEN);
    w_bytes(w, rec->request_hash, SP_KEY_LEN);
    w_bool(w, rec->ok);
    w_u32(w, (uint32_t)rec->http_status);
    w_str(w, rec->result_json);
    w_str(w, rec->code);
    w_str(w, rec->message);
    w_str(w, rec->field);
    w_bool(w, rec->has_event_ref);
    w_u32(w, (uint32_t)rec->event_partition);
    w_i64(w, rec->event_offset);
}

static void put_voucher(snap_writer *w, const snap_entry *entry) {
    const sp_ledger_voucher *v = entry->value;
    w_bytes(w, entry->key, SP_KEY_LEN);
    w_str(w, v->voucher_id);
    w_str(w, v->pass_id);
    w_str(w, v->number);
    w_str(w, v->category);
    w_str(w, v->partner_id);
    w_i64(w, v->amount_cents);
    w_i64(w, v->balance_cents);
    w_i64(w, v->valid_until);
    w_u32(w, (uint32_t)v->status);
}

static void put_request(snap_writer *w, const snap_entry *entry) {
    const sp_ledger_refund_request *q = entry->value;
    w_bytes(w, entry->key, SP_KEY_LEN);
    w_str(w, q->request_id);
    w_str(w, q->partner_id);
    w_str(w, q->kind);
    w_str(w, q->period);
    w_u64(w, q->version);
    w_u32(w, (uint32_t)q->status);
    w_u64(w, q->part_count);
    w_i64(w, q->asked_operation_count);
    w_i64(w, q->expected_total_cents);
    w_bool(w, q->bank_account_missing);
    w_i64(w, q->total_cents);
    w_i64(w, q->operation_count);
    w_str(w, q->reason);
    w_str(w, q->transfer_reference);
    w_str(w, q->paid_on);
    w_i64(w, q->opened_at_ms);
    w_i64(w, q->updated_at_ms);
}

static void put_small(snap_writer *w, const snap_entry *entry, bool is_owed) {
    w_bytes(w, entry->key, SP_KEY_LEN);
    if (is_owed) {
        const sp_ledger_owed *o = entry->value;
        w_str(w, o->partner_id);
        w_i64(w, o->balance_cents);
    } else {
        const sp_ledger_refund_account *a = entry->value;
        w_str(w, a->request_id);
        w_i64(w, a->balance_cents);
    }
}

typedef enum { MAP_PASSES, MAP_OWED, MAP_RECORDS, MAP_VOUCHERS, MAP_REQUESTS, MAP_ACCOUNTS,
               MAP_COUNT } snap_map_id;

static const sp_map *map_of(const sp_ledger_state *state, snap_map_id id) {
    switch (id) {
    case MAP_PASSES: return &state->passes;
    case MAP_OWED: return &state->owed;
    case MAP_RECORDS: return &state->records;
    case MAP_VOUCHERS: return &state->vouchers;
    case MAP_REQUESTS: return &state->refund_requests;
    case MAP_ACCOUNTS: return &state->refund_accounts;
    default: assert(false); return NULL;
    }
}

static void put_body(snap_writer *w, const sp_ledger_state *state, snap_entries sorted[MAP_COUNT],
                     const snap_entries *records_by_value) {
    w_i64(w, state->budget_cents);
    w_i64(w, state->bank_cents);
    w_u64(w, state->events_applied);
    w_u64(w, state->events_skipped);
    /* Records first: a pass names its opening record, read before it. */
    static const snap_map_id order[MAP_COUNT] = {MAP_RECORDS, MAP_PASSES, MAP_OWED,
                                                 MAP_VOUCHERS, MAP_REQUESTS, MAP_ACCOUNTS};
    for (size_t m = 0; m < MAP_COUNT; m++) {
        const snap_entries *e = &sorted[order[m]];
        w_u64(w, e->count);
        for (size_t i = 0; i < e->count; i++) {
            switch (order[m]) {
            case MAP_RECORDS: put_record(w, &e->items[i]); break;
            case MAP_PASSES: put_pass(w, &e->items[i], records_by_value); break;
            case MAP_OWED: put_small(w, &e->items[i], true); break;
            case MAP_VOUCHERS: put_voucher(w, &e->items[i]); break;
            case MAP_REQUESTS: put_request(w, &e->items[i]); break;
            case MAP_ACCOUNTS: put_small(w, &e->items[i], false); break;
            default: assert(false);
            }
        }
    }
}

static void put_header(snap_writer *w, const sp_ledger_state *state,
                       const sp_ledger_snapshot_position *position, const char *build_version) {
    w_bytes(w, snapshot_magic, sizeof snapshot_magic);
    w_u32(w, SP_LEDGER_SNAPSHOT_FORMAT);
    w_str(w, build_version);
    w_u32(w, (uint32_t)state->partition);
    w_i64(w, position->next_offset);
    w_str(w, position->last_aggregate_id);
    w_u64(w, position->last_version);
    w_str(w, position->last_command_id);
}

int sp_ledger_snapshot_encode(const sp_ledger_state *state,
                              const sp_ledger_snapshot_position *position,
                              const char *build_version, uint8_t **out, size_t *out_len,
                              sp_error *err) {
    assert(state != NULL && position != NULL && build_version != NULL);
    assert(strlen(build_version) <= SP_LEDGER_SNAPSHOT_VERSION_MAX);
    *out = NULL;
    *out_len = 0;
    snap_entries sorted[MAP_COUNT] = {{0}};
    snap_entries records_by_value = {0};
    snap_writer w = {0};
    bool memory_ok = true;
    for (size_t m = 0; m < MAP_COUNT; m++) {
        memory_ok = memory_ok && sorted_entries(map_of(state, (snap_map_id)m), &sorted[m]);
    }
    if (memory_ok) memory_ok = sorted_entries(&state->records, &records_by_value);
    if (memory_ok) {
        qsort(records_by_value.items, records_by_value.count, sizeof *records_by_value.items,
              entry_by_value);
        put_header(&w, state, position, build_version);
        put_body(&w, state, sorted, &records_by_value);
        uint8_t sum[SP_LEDGER_SNAPSHOT_CHECKSUM_LEN];
        if (w.failed_status == 0) crypto_generichash(sum, sizeof sum, w.buf, w.len, NULL, 0);
        w_bytes(&w, sum, sizeof sum);
    }
    for (size_t m = 0; m < MAP_COUNT; m++) free(sorted[m].items);
    free(records_by_value.items);
    int rc = 0;
    if (!memory_ok || w.failed_status == 503) {
        rc = sp_error_set(err, 503, "unavailable", NULL, "out of memory for a snapshot");
    } else if (w.failed_status != 0) {
        rc = sp_error_set(err, 500, "snapshot_too_large", NULL,
                          "a snapshot of partition %d passes %zu bytes", (int)state->partition,
                          SP_LEDGER_SNAPSHOT_BYTES_MAX);
    }
    if (rc != 0) {
        free(w.buf);
        return rc;
    }
    *out = w.buf;
    *out_len = w.len;
    return 0;
}

/* ------------------------------------------------------------ decode */

static void record_free(sp_ledger_record *rec) {
    free(rec->result_json);
    free(rec->code);
    free(rec->message);
    free(rec->field);
    free(rec);
}

typedef struct snap_decoding {
    snap_reader r;
    sp_ledger_state *state;
    bool oom;
    sp_error put_err;
    bool put_failed;
} snap_decoding;

static void put_in(snap_decoding *d, sp_map *map, const uint8_t key[SP_KEY_LEN], void *value) {
    if (value == NULL) {
        d->oom = true;
        return;
    }
    if (d->r.bad != NULL || d->put_failed || sp_map_get(map, key) != NULL ||
        sp_map_put(map, key, value, &d->put_err) != 0) {
        if (d->r.bad == NULL && !d->put_failed) d->r.bad = "an entry twice or past a limit";
        d->put_failed = true;
        free(value);
    }
}

static void get_record(snap_decoding *d) {
    snap_reader *r = &d->r;
    uint8_t key[SP_KEY_LEN];
    r_bytes(r, key, SP_KEY_LEN, "record key");
    sp_ledger_record *rec = calloc(1, sizeof *rec);
    if (rec == NULL) {
        d->oom = true;
        return;
    }
    r_bytes(r, rec->request_hash, SP_KEY_LEN, "record hash");
    rec->ok = r_bool(r, "record ok");
    rec->http_status = (int)r_u32(r, "record status");
    rec->result_json = r_str_dup(r, "record result", &d->oom);
    rec->code = r_str_dup(r, "record code", &d->oom);
    rec->message = r_str_dup(r, "record message", &d->oom);
    rec->field = r_str_dup(r, "record field", &d->oom);
    rec->has_event_ref = r_bool(r, "record event ref");
    rec->event_partition = (int32_t)r_u32(r, "record partition");
    rec->event_offset = r_i64(r, "record offset");
    if (r->bad != NULL || d->oom || rec->http_status < 100 || rec->http_status > 599) {
        if (r->bad == NULL && !d->oom) r->bad = "record status";
        record_free(rec);
        return;
    }
    uint8_t stored_key[SP_KEY_LEN];
    memcpy(stored_key, key, SP_KEY_LEN);
    if (sp_map_get(&d->state->records, key) != NULL ||
        sp_map_put(&d->state->records, stored_key, rec, &d->put_err) != 0) {
        r->bad = "a record twice or past SP_COMMANDS_MAX";
        record_free(rec);
    }
}

static void get_operations(snap_decoding *d, sp_ledger_pass *pass) {
    snap_reader *r = &d->r;
    size_t count = r_count(r, SP_LEDGER_PASS_OPERATIONS_MAX, 45, "operation count");
    if (r->bad != NULL || count == 0) return;
    pass->operations = calloc(count, sizeof *pass->operations);
    if (pass->operations == NULL) {
        d->oom = true;
        return;
    }
    pass->operation_capacity = count;
    for (size_t i = 0; i < count && r->bad == NULL; i++) {
        sp_ledger_operation *op = &pass->operations[i];
        r_str(r, op->operation_id, sizeof op->operation_id, "operation id");
        r_str(r, op->partner_id, sizeof op->partner_id, "operation partner");
        r_str(r, op->category, sizeof op->category, "operation category");
        r_str(r, op->voucher_id, sizeof op->voucher_id, "operation voucher");
        op->amount_cents = r_i64(r, "operation amount");
        uint32_t status = r_u32(r, "operation status");
        if (status < SP_LEDGER_OPERATION_ACCEPTED || status > SP_LEDGER_OPERATION_PAID) {
            r->bad = "operation status";
        }
        op->status = (sp_ledger_operation_status)status;
        r_str(r, op->request_id, sizeof op->request_id, "operation request");
        pass->operation_count = i + 1;
    }
}

static void get_pass(snap_decoding *d) {
    snap_reader *r = &d->r;
    uint8_t key[SP_KEY_LEN];
    r_bytes(r, key, SP_KEY_LEN, "pass key");
    sp_ledger_pass *pass = calloc(1, sizeof *pass);
    if (pass == NULL) {
        d->oom = true;
        return;
    }
    r_str(r, pass->pass_id, sizeof pass->pass_id, "pass id");
    r_str(r, pass->beneficiary_id, sizeof pass->beneficiary_id, "beneficiary id");
    pass->version = r_u64(r, "pass version");
    pass->envelope_count = r_count(r, SP_LEDGER_ENVELOPES_MAX, 1, "envelope count");
    for (size_t i = 0; i < pass->envelope_count && r->bad == NULL; i++) {
        sp_ledger_envelope *env = &pass->envelopes[i];
        r_str(r, env->category, sizeof env->category, "envelope category");
        env->balance_cents = r_i64(r, "envelope balance");
        env->has_end_date = r_bool(r, "envelope has end");
        env->end_date = (sp_date)r_i64(r, "envelope end");
        env->closed = r_bool(r, "envelope closed");
    }
    r_bytes(r, pass->open_request_hash, SP_KEY_LEN, "open hash");
    if (r_bool(r, "open record")) {
        uint8_t record_key[SP_KEY_LEN];
        r_bytes(r, record_key, SP_KEY_LEN, "open record key");
        pass->open_record = r->bad == NULL ? sp_map_get(&d->state->records, record_key) : NULL;
        if (pass->open_record == NULL && r->bad == NULL) r->bad = "open record unknown";
    }
    get_operations(d, pass);
    pass->active_voucher_count = (size_t)r_u64(r, "active vouchers");
    pass->closed = r_bool(r, "pass closed");
    pass->closed_at_ms = r_i64(r, "pass closed at");
    if (r->bad != NULL || d->oom) {
        free(pass->operations);
        free(pass);
        return;
    }
    uint8_t stored_key[SP_KEY_LEN];
    memcpy(stored_key, key, SP_KEY_LEN);
    if (sp_map_get(&d->state->passes, key) != NULL ||
        sp_map_put(&d->state->passes, stored_key, pass, &d->put_err) != 0) {
        r->bad = "a pass twice or past SP_PASSES_MAX";
        free(pass->operations);
        free(pass);
    }
}

static void get_voucher(snap_decoding *d) {
    snap_reader *r = &d->r;
    uint8_t key[SP_KEY_LEN];
    r_bytes(r, key, SP_KEY_LEN, "voucher key");
    sp_ledger_voucher *v = calloc(1, sizeof *v);
    if (v != NULL) {
        r_str(r, v->voucher_id, sizeof v->voucher_id, "voucher id");
        r_str(r, v->pass_id, sizeof v->pass_id, "voucher pass");
        r_str(r, v->number, sizeof v->number, "voucher number");
        r_str(r, v->category, sizeof v->category, "voucher category");
        r_str(r, v->partner_id, sizeof v->partner_id, "voucher partner");
        v->amount_cents = r_i64(r, "voucher amount");
        v->balance_cents = r_i64(r, "voucher balance");
        v->valid_until = (sp_date)r_i64(r, "voucher valid until");
        uint32_t status = r_u32(r, "voucher status");
        if (status < SP_LEDGER_VOUCHER_ACTIVE || status > SP_LEDGER_VOUCHER_EXPIRED) {
            r->bad = "voucher status";
        }
        v->status = (sp_ledger_voucher_status)status;
    }
    put_in(d, &d->state->vouchers, key, v);
}

static void get_request(snap_decoding *d) {
    snap_reader *r = &d->r;
    uint8_t key[SP_KEY_LEN];
    r_bytes(r, key, SP_KEY_LEN, "request key");
    sp_ledger_refund_request *q = calloc(1, sizeof *q);
    if (q != NULL) {
        r_str(r, q->request_id, sizeof q->request_id, "request id");
        r_str(r, q->partner_id, sizeof q->partner_id, "request partner");
        r_str(r, q->kind, sizeof q->kind, "request kind");
        r_str(r, q->period, sizeof q->period, "request period");
        q->version = r_u64(r, "request version");
        uint32_t status = r_u32(r, "request status");
        if (status < SP_LEDGER_REFUND_OPENING || status > SP_LEDGER_REFUND_CANCELLED) {
            r->bad = "request status";
        }
        q->status = (sp_ledger_refund_status)status;
        q->part_count = (size_t)r_u64(r, "request parts");
        q->asked_operation_count = r_i64(r, "request asked");
        q->expected_total_cents = r_i64(r, "request expected");
        q->bank_account_missing = r_bool(r, "request bank missing");
        q->total_cents = r_i64(r, "request total");
        q->operation_count = r_i64(r, "request operations");
        r_str(r, q->reason, sizeof q->reason, "request reason");
        r_str(r, q->transfer_reference, sizeof q->transfer_reference, "request transfer");
        r_str(r, q->paid_on, sizeof q->paid_on, "request paid on");
        q->opened_at_ms = r_i64(r, "request opened");
        q->updated_at_ms = r_i64(r, "request updated");
    }
    put_in(d, &d->state->refund_requests, key, q);
}

static void get_small(snap_decoding *d, bool is_owed) {
    snap_reader *r = &d->r;
    uint8_t key[SP_KEY_LEN];
    r_bytes(r, key, SP_KEY_LEN, "account key");
    if (is_owed) {
        sp_ledger_owed *o = calloc(1, sizeof *o);
        if (o != NULL) {
            r_str(r, o->partner_id, sizeof o->partner_id, "owed partner");
            o->balance_cents = r_i64(r, "owed balance");
        }
        put_in(d, &d->state->owed, key, o);
    } else {
        sp_ledger_refund_account *a = calloc(1, sizeof *a);
        if (a != NULL) {
            r_str(r, a->request_id, sizeof a->request_id, "refund account request");
            a->balance_cents = r_i64(r, "refund account balance");
        }
        put_in(d, &d->state->refund_accounts, key, a);
    }
}

static void get_body(snap_decoding *d) {
    snap_reader *r = &d->r;
    sp_ledger_state *s = d->state;
    s->budget_cents = r_i64(r, "budget");
    s->bank_cents = r_i64(r, "bank");
    s->events_applied = r_u64(r, "applied");
    s->events_skipped = r_u64(r, "skipped");
    static const snap_map_id order[MAP_COUNT] = {MAP_RECORDS, MAP_PASSES, MAP_OWED,
                                                 MAP_VOUCHERS, MAP_REQUESTS, MAP_ACCOUNTS};
    for (size_t m = 0; m < MAP_COUNT && r->bad == NULL && !d->oom; m++) {
        const sp_map *map = map_of(s, order[m]);
        size_t count = r_count(r, map->entry_count_max, SP_KEY_LEN, "entry count");
        for (size_t i = 0; i < count && r->bad == NULL && !d->oom; i++) {
            switch (order[m]) {
            case MAP_RECORDS: get_record(d); break;
            case MAP_PASSES: get_pass(d); break;
            case MAP_OWED: get_small(d, true); break;
            case MAP_VOUCHERS: get_voucher(d); break;
            case MAP_REQUESTS: get_request(d); break;
            case MAP_ACCOUNTS: get_small(d, false); break;
            default: assert(false);
            }
        }
    }
}

/* The header up to the body; 0, or -1 with the reason of the refusal. */
static int get_header(snap_reader *r, int32_t partition, const char *build_version,
                      sp_ledger_snapshot_position *position, sp_error *err) {
    uint8_t magic[sizeof snapshot_magic];
    if (!r_bytes(r, magic, sizeof magic, "magic") ||
        memcmp(magic, snapshot_magic, sizeof magic) != 0) {
        return sp_error_set(err, 422, "snapshot_refused", NULL, "not a ledger snapshot");
    }
    uint32_t format = r_u32(r, "format");
    char version[SP_LEDGER_SNAPSHOT_VERSION_MAX + 1];
    r_str(r, version, sizeof version, "binary version");
    if (r->bad != NULL || format != SP_LEDGER_SNAPSHOT_FORMAT ||
        strcmp(version, build_version) != 0) {
        return sp_error_set(err, 422, "snapshot_refused", NULL,
                            "written by another binary (format %u, version \"%s\"; this one: "
                            "format %u, version \"%s\")", format, version,
                            SP_LEDGER_SNAPSHOT_FORMAT, build_version);
    }
    int32_t of_partition = (int32_t)r_u32(r, "partition");
    position->next_offset = r_i64(r, "next offset");
    r_str(r, position->last_aggregate_id, sizeof position->last_aggregate_id, "last aggregate");
    position->last_version = r_u64(r, "last version");
    r_str(r, position->last_command_id, sizeof position->last_command_id, "last command");
    if (r->bad != NULL || of_partition != partition || position->next_offset < 0) {
        return sp_error_set(err, 422, "snapshot_refused", NULL,
                            "header unreadable or of partition %d, not %d", (int)of_partition,
                            (int)partition);
    }
    return 0;
}

sp_ledger_state *sp_ledger_snapshot_decode(const uint8_t *bytes, size_t len, int32_t partition,
                                           const sp_ledger_limits *limits,
                                           const sp_ledger_directory *directory,
                                           const char *build_version,
                                           sp_ledger_snapshot_position *position, sp_error *err) {
    assert(bytes != NULL || len == 0);
    memset(position, 0, sizeof *position);
    if (len < SP_LEDGER_SNAPSHOT_CHECKSUM_LEN + sizeof snapshot_magic) {
        sp_error_set(err, 422, "snapshot_refused", NULL, "%zu bytes: truncated", len);
        return NULL;
    }
    size_t body_end = len - SP_LEDGER_SNAPSHOT_CHECKSUM_LEN;
    uint8_t sum[SP_LEDGER_SNAPSHOT_CHECKSUM_LEN];
    crypto_generichash(sum, sizeof sum, bytes, body_end, NULL, 0);
    if (sodium_memcmp(sum, bytes + body_end, sizeof sum) != 0) {
        sp_error_set(err, 422, "snapshot_refused", NULL, "checksum mismatch: corrupt");
        return NULL;
    }
    snap_decoding d = {.r = {.bytes = bytes, .len = body_end}};
    if (get_header(&d.r, partition, build_version, position, err) != 0) return NULL;
    d.state = sp_ledger_state_new(partition, limits, directory, err);
    if (d.state == NULL) return NULL;
    get_body(&d);
    if (!d.oom && d.r.bad == NULL && d.r.pos != d.r.len) d.r.bad = "bytes after the body";
    if (d.oom || d.r.bad != NULL) {
        if (d.oom) {
            sp_error_set(err, 503, "unavailable", NULL, "out of memory reading a snapshot");
        } else {
            sp_error_set(err, 422, "snapshot_refused", NULL, "unreadable at %s (byte %zu)",
                         d.r.bad, d.r.pos);
        }
        sp_ledger_state_free(d.state);
        return NULL;
    }
    return d.state;
}

int sp_ledger_snapshot_equal(const sp_ledger_state *a, const sp_ledger_state *b, bool *equal,
                             sp_error *err) {
    const sp_ledger_snapshot_position none = {0};
    uint8_t *x = NULL, *y = NULL;
    size_t x_len = 0, y_len = 0;
    int rc = sp_ledger_snapshot_encode(a, &none, "", &x, &x_len, err);
    if (rc == 0) rc = sp_ledger_snapshot_encode(b, &none, "", &y, &y_len, err);
    *equal = rc == 0 && x_len == y_len && memcmp(x, y, x_len) == 0;
    free(x);
    free(y);
    return rc;
}
