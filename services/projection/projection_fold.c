/* projection_fold.c - a batch's common pass events folded into final rows
 * (see projection_fold.h). Pure: no I/O.
 *
 * The rows are kept as PostgreSQL array literals, one per column, grown as
 * the events are folded (operations, history, daily figures: new rows) or
 * rendered at the end from what is merged (passes, envelopes; ledger
 * accounts, partners, budget and days: one row per key, summed as folded,
 * sorted at the render). Each statement unnests its arrays: one statement
 * per table. */
#include "projection_fold.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "projection_figures.h"
#include "sp_clock.h"
#include "sp_id.h"
#include "sp_money.h"

/* The batch bound is each fold's own (sp_projection_fold_new_sized: a
 * replay folds far more than a live batch): inside this file the header's
 * constant names the fold's capacity, and the pass table grows with it. */
static const size_t fold_events_default = SP_PROJECTION_FOLD_EVENTS_MAX;
#undef SP_PROJECTION_FOLD_EVENTS_MAX
#define SP_PROJECTION_FOLD_EVENTS_MAX (f->events_max)
#define PASS_SLOTS (f->slot_count) /* > 2 * SP_PROJECTION_FOLD_EVENTS_MAX, power of 2 */
#define CATEGORY_BYTES_MAX 33      /* ^[a-z][a-z0-9_]{1,31}$ */
#define DATE_BYTES_MAX 11
#define ACCOUNT_BYTES_MAX 96
#define ITEM_TEXT_MAX 128
#define DETAILS_BYTES_MAX 1024
/* An event moves at most 2 * SP_PROJECTION_POSTINGS_MAX accounts; a pass
 * opens at most SP_PROJECTION_ENVELOPES_MAX envelopes. */
#define LEDGER_ITEMS_MAX (SP_PROJECTION_FOLD_EVENTS_MAX * 2 * SP_PROJECTION_POSTINGS_MAX)
#define ENVELOPE_ITEMS_MAX (SP_PROJECTION_FOLD_EVENTS_MAX * SP_PROJECTION_ENVELOPES_MAX)

typedef struct text_buf {
    char *data;
    size_t len, cap;
    bool failed; /* out of memory: the render refuses */
} text_buf;

typedef struct fold_pass {
    char id[SP_ID_LEN + 1];
    bool foldable; /* no event of the batch the fold does not take */
    bool exists_at_start, exists;
    bool opened; /* opened by this batch: a new row */
    int64_t version_at_start, version;
    int64_t balance_cents;
    char beneficiary_id[SP_ID_LEN + 1];
    char opened_at[SP_PROJECTION_TIME_LEN + 1];
    char updated_at[SP_PROJECTION_TIME_LEN + 1];
} fold_pass;

typedef struct envelope_item {
    uint32_t pass; /* index in passes */
    uint32_t seq;  /* log order within the batch */
    bool insert;   /* opened here (else a movement's update) */
    bool expired;
    bool credited; /* a credit: the row exists after it (the credit may
                    * open it) and is not expired */
    int64_t balance_cents;
    char category[CATEGORY_BYTES_MAX];
    char end_date[DATE_BYTES_MAX]; /* "" = none */
} envelope_item;

typedef struct sum_item { /* one key's delta (ledger account, partner) */
    char key[ACCOUNT_BYTES_MAX];
    int64_t cents;
} sum_item;

/* One payment's Europe/Paris day and category, merged at render: the
 * figures' daily rows get one delta per day and category, not one per
 * payment. */
typedef struct daily_item {
    sp_date day;
    char category[CATEGORY_BYTES_MAX];
    int64_t payment_count, amount_cents;
} daily_item;

typedef struct budget_item {
    char category[CATEGORY_BYTES_MAX];
    int64_t credited, spent, expired, reserved, available;
} budget_item;

/* clang-format off */
/* Columns of the rows each event adds. */
enum { OP_ID, OP_KIND, OP_PASS, OP_PARTNER, OP_CATEGORY, OP_AMOUNT, OP_BALANCE, OP_COMMAND,
       OP_AT, OP_TOPIC, OP_PARTITION, OP_OFFSET, OP_CHANNEL, OP_RECEIPT, OP_COLUMNS };
/* clang-format on */
enum { H_EVENT, H_AT, H_ACTION, H_ACTOR, H_ROLE, H_PARTNER, H_PASS, H_DETAILS, H_COLUMNS };
#define RENDERED_COLUMNS 40

/* The keys of one table of sums (ledger accounts, partners, categories,
 * days), so that each delta is added to its key's item as it is folded:
 * a replay's chunk has a few postings per event on far fewer accounts, and
 * sorting every delta at the render cost a tenth of the fold's time. Open
 * addressing, linear probing; each item's hash kept for the growth. */
typedef struct sum_keys {
    uint32_t *slots;  /* item index + 1, 0 = empty; slot_count of them */
    uint32_t *hashes; /* hash_cap of them, one per item */
    size_t slot_count, hash_cap;
    bool failed; /* out of memory */
} sum_keys;
#define SUM_SLOTS_MIN 64

struct sp_projection_fold {
    size_t events_max, slot_count; /* capacity (sp_projection_fold_new_sized) */
    fold_pass *passes;             /* SP_PROJECTION_FOLD_EVENTS_MAX, in first-seen order */
    size_t pass_count;
    int32_t *slots; /* PASS_SLOTS: index + 1, 0 = empty */
    envelope_item *envelopes;
    size_t envelope_count, envelope_cap;
    sum_item *ledger;
    size_t ledger_count, ledger_cap;
    sum_item *owed; /* partners: one payment each at most */
    size_t owed_count;
    budget_item *budget;
    size_t budget_count;
    size_t event_count;
    daily_item *daily; /* one payment each at most */
    size_t daily_count;
    /* ledger, owed, budget and daily hold one item per key, summed as folded */
    sum_keys ledger_keys, owed_keys, budget_keys, daily_keys;
    const char *overflow; /* a sum overflowed: what, for the render's error */
    bool sums_sorted;     /* rendered: the sums' keys stale, nothing folds before a reset */
    size_t operation_count, history_count;
    text_buf operations[OP_COLUMNS];
    text_buf history[H_COLUMNS];
    text_buf rendered[RENDERED_COLUMNS]; /* passes, envelopes and sums, at render */
};

/* ------------------------------------------------------------ text */

static void buf_reserve(text_buf *b, size_t more) {
    if (b->failed || b->len + more + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1) cap *= 2;
    char *data = realloc(b->data, cap);
    if (data == NULL) {
        b->failed = true;
        return;
    }
    b->data = data;
    b->cap = cap;
}

static void buf_add(text_buf *b, const char *s, size_t n) {
    if (n == 0) return; /* s may be NULL then: memcpy must not see it */
    buf_reserve(b, n);
    if (b->failed) return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void buf_clear(text_buf *b) {
    assert(b != NULL);
    b->len = 0;
    b->failed = false;
    if (b->data != NULL) b->data[0] = '\0';
}

/* One element of an array literal: quoted (backslash before " and \), or
 * NULL for a NULL s. */
static void arr_add(text_buf *b, const char *s) {
    assert(b != NULL);
    buf_add(b, b->len == 0 ? "{" : ",", 1);
    if (s == NULL) {
        buf_add(b, "NULL", 4);
        return;
    }
    buf_add(b, "\"", 1);
    for (const char *c = s; *c != '\0';) {
        size_t run = strcspn(c, "\"\\");
        buf_add(b, c, run);
        c += run;
        if (*c == '\0') break;
        buf_add(b, "\\", 1);
        buf_add(b, c, 1);
        c++;
    }
    buf_add(b, "\"", 1);
}

static void arr_add_i64(text_buf *b, int64_t value) {
    char text[SP_PROJECTION_INT_TEXT_MAX];
    size_t len = sp_projection_int_text(value, text);
    buf_add(b, b->len == 0 ? "{" : ",", 1);
    buf_add(b, text, len); /* digits need no quotes */
}

/* The literal, closed ("{}" when empty). */
static const char *arr_text(text_buf *b) {
    if (b->len == 0) buf_add(b, "{", 1);
    buf_add(b, "}", 1);
    return b->failed ? NULL : b->data;
}

/* The next element of an array literal as projection_rows_ledger.c writes them
 * (quoted without escapes, or bare); false at its end. */
static bool arr_next(const char **cursor, char *out, size_t out_size, bool *is_null) {
    const char *c = *cursor;
    if (*c == '{') c++;
    if (*c == ',') c++;
    if (*c == '}' || *c == '\0') return false;
    size_t n = 0;
    bool quoted = *c == '"';
    if (quoted) c++;
    while (*c != '\0' && (quoted ? *c != '"' : (*c != ',' && *c != '}'))) {
        if (n + 1 < out_size) out[n++] = *c;
        c++;
    }
    if (quoted && *c == '"') c++;
    out[n] = '\0';
    *is_null = !quoted && strcmp(out, "NULL") == 0;
    *cursor = c;
    return true;
}

/* src into dst (dst_size bytes, cut to fit, NUL-terminated): the fold's
 * hot path copies a few strings an event, without snprintf's parsing. */
static void text_copy(char *dst, size_t dst_size, const char *src) {
    assert(dst_size > 0);
    size_t len = strnlen(src, dst_size - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* A bounded text being written (cut at its size, always NUL-terminated). */
typedef struct text_out {
    char *data;
    size_t size, len;
} text_out;

/* At most max bytes of s. */
static void out_add(text_out *o, const char *s, size_t max) {
    assert(o->len < o->size);
    size_t n = strnlen(s, max);
    if (n > o->size - 1 - o->len) n = o->size - 1 - o->len;
    memcpy(o->data + o->len, s, n);
    o->len += n;
    o->data[o->len] = '\0';
}

/* A movement's history details, as the figures' statements write them: an
 * expiry's category and amount; a credit's or payment's operation too, a
 * payment's channel, a credit's end date when its envelope has one. */
static void movement_details(char *details, size_t size, const char *operation_id,
                             const char *category, int64_t amount, bool payment,
                             const char *end_date) {
    text_out out = {.data = details, .size = size};
    details[0] = '\0';
    if (operation_id != NULL) {
        out_add(&out, "{\"operation_id\": \"", SIZE_MAX);
        out_add(&out, operation_id, SIZE_MAX);
        out_add(&out, "\", \"category\": \"", SIZE_MAX);
    } else {
        out_add(&out, "{\"category\": \"", SIZE_MAX);
    }
    out_add(&out, category, SIZE_MAX);
    out_add(&out, "\", \"amount_cents\": ", SIZE_MAX);
    char amount_text[SP_PROJECTION_INT_TEXT_MAX];
    sp_projection_int_text(amount, amount_text);
    out_add(&out, amount_text, SIZE_MAX);
    if (payment) out_add(&out, ", \"channel\": \"code\"", SIZE_MAX);
    if (end_date != NULL) {
        out_add(&out, ", \"end_date\": \"", SIZE_MAX);
        out_add(&out, end_date, 10);
        out_add(&out, "\"", SIZE_MAX);
    }
    out_add(&out, "}", SIZE_MAX);
}

static int64_t param_i64(const sp_projection_row *row, int index) {
    assert(row != NULL);
    assert(index < row->param_count);
    assert(row->params[index] != NULL);
    return strtoll(row->params[index], NULL, 10);
}

/* ------------------------------------------------------------ sums */

static uint32_t text_hash(const char *text, uint32_t h) {
    for (const char *c = text; *c; c++) h = (h ^ (uint8_t)*c) * 16777619u; /* FNV-1a */
    return h;
}
#define HASH_SEED 2166136261u

/* Room for one item more than `items`: the slots at most half full. */
static bool sum_keys_reserve(sum_keys *k, size_t items) {
    assert(items < UINT32_MAX / 2);
    if (k->failed) return false;
    if (items + 1 > k->hash_cap) {
        size_t cap = k->hash_cap ? 2 * k->hash_cap : SUM_SLOTS_MIN;
        uint32_t *hashes = realloc(k->hashes, cap * sizeof *hashes);
        if (hashes == NULL) {
            k->failed = true;
            return false;
        }
        k->hashes = hashes;
        k->hash_cap = cap;
    }
    if (2 * (items + 1) <= k->slot_count) return true;
    size_t count = k->slot_count ? 2 * k->slot_count : 2 * SUM_SLOTS_MIN;
    uint32_t *slots = calloc(count, sizeof *slots);
    if (slots == NULL) {
        k->failed = true;
        return false;
    }
    for (size_t i = 0; i < items; i++) {
        size_t s = k->hashes[i] & (count - 1);
        while (slots[s] != 0) s = (s + 1) & (count - 1);
        slots[s] = (uint32_t)i + 1;
    }
    free(k->slots);
    k->slots = slots;
    k->slot_count = count;
    return true;
}

/* The slot of the item same() recognizes as key's, or the empty one where
 * it goes (after sum_keys_reserve). */
static uint32_t *sum_keys_slot(const sum_keys *k, uint32_t hash,
                               bool (*same)(const sp_projection_fold *, size_t, const void *),
                               const sp_projection_fold *f, const void *key) {
    assert(k->slot_count > 0);
    assert((k->slot_count & (k->slot_count - 1)) == 0);
    for (size_t s = hash & (k->slot_count - 1);; s = (s + 1) & (k->slot_count - 1)) {
        uint32_t at = k->slots[s];
        if (at == 0 || (k->hashes[at - 1] == hash && same(f, at - 1, key))) return &k->slots[s];
    }
}

/* A new item at index `items` under the empty slot. */
static void sum_keys_put(sum_keys *k, uint32_t *slot, size_t items, uint32_t hash) {
    assert(*slot == 0);
    assert(items < k->hash_cap);
    k->hashes[items] = hash;
    *slot = (uint32_t)items + 1;
}

static void sum_keys_clear(sum_keys *k) {
    assert(k != NULL);
    if (k->slots != NULL) memset(k->slots, 0, k->slot_count * sizeof *k->slots);
}

static void sum_keys_free(sum_keys *k) {
    free(k->slots);
    free(k->hashes);
}

/* Adds cents to *to; an overflow is kept for the render to refuse. */
static void sum_add(sp_projection_fold *f, int64_t *to, int64_t cents, const char *what) {
    assert(to != NULL);
    if (!sp_money_add(*to, cents, to) && f->overflow == NULL) f->overflow = what;
}

/* ------------------------------------------------------------ life */

sp_projection_fold *sp_projection_fold_new(void) {
    return sp_projection_fold_new_sized(fold_events_default);
}

sp_projection_fold *sp_projection_fold_new_sized(size_t events_max) {
    assert(events_max > 0);
    assert(events_max <= SP_PROJECTION_FOLD_EVENTS_LIMIT);
    sp_projection_fold *f = calloc(1, sizeof *f);
    if (f == NULL) return NULL;
    f->events_max = events_max;
    for (f->slot_count = 1024; f->slot_count <= 2 * events_max;) f->slot_count *= 2;
    f->passes = calloc(SP_PROJECTION_FOLD_EVENTS_MAX, sizeof *f->passes);
    f->slots = calloc(PASS_SLOTS, sizeof *f->slots);
    f->owed = calloc(SP_PROJECTION_FOLD_EVENTS_MAX, sizeof *f->owed);
    f->budget = calloc(SP_PROJECTION_FOLD_EVENTS_MAX, sizeof *f->budget);
    f->daily = calloc(SP_PROJECTION_FOLD_EVENTS_MAX, sizeof *f->daily);
    if (!f->passes || !f->slots || !f->owed || !f->budget || !f->daily) {
        sp_projection_fold_free(f);
        return NULL;
    }
    return f;
}

static void bufs_free(text_buf *bufs, size_t count) {
    for (size_t i = 0; i < count; i++) free(bufs[i].data);
}

void sp_projection_fold_free(sp_projection_fold *f) {
    if (f == NULL) return;
    bufs_free(f->operations, OP_COLUMNS);
    bufs_free(f->history, H_COLUMNS);
    bufs_free(f->rendered, RENDERED_COLUMNS);
    free(f->passes);
    free(f->slots);
    free(f->envelopes);
    free(f->ledger);
    free(f->owed);
    free(f->budget);
    free(f->daily);
    sum_keys_free(&f->ledger_keys);
    sum_keys_free(&f->owed_keys);
    sum_keys_free(&f->budget_keys);
    sum_keys_free(&f->daily_keys);
    free(f);
}

void sp_projection_fold_reset(sp_projection_fold *f) {
    assert(f != NULL);
    memset(f->slots, 0, PASS_SLOTS * sizeof *f->slots);
    f->pass_count = f->envelope_count = f->ledger_count = f->owed_count = f->budget_count = 0;
    f->event_count = f->operation_count = f->history_count = f->daily_count = 0;
    sum_keys_clear(&f->ledger_keys);
    sum_keys_clear(&f->owed_keys);
    sum_keys_clear(&f->budget_keys);
    sum_keys_clear(&f->daily_keys);
    f->overflow = NULL;
    f->sums_sorted = false;
    for (size_t i = 0; i < OP_COLUMNS; i++) buf_clear(&f->operations[i]);
    for (size_t i = 0; i < H_COLUMNS; i++) buf_clear(&f->history[i]);
    for (size_t i = 0; i < RENDERED_COLUMNS; i++) buf_clear(&f->rendered[i]);
}

/* ------------------------------------------------------------ passes */

bool sp_projection_fold_kind(sp_projection_event_kind kind) {
    return kind == SP_PROJECTION_PASS_OPENED || kind == SP_PROJECTION_PASS_CREDITED ||
           kind == SP_PROJECTION_PAYMENT_ACCEPTED || kind == SP_PROJECTION_ENVELOPE_EXPIRED;
}

const char *sp_projection_fold_pass_of(const sp_projection_row *row) {
    if (row->sql == NULL || row->param_count < 1 || !row->versioned) return NULL;
    switch (row->kind) {
    case SP_PROJECTION_REFUND_REQUEST_OPENED:
    case SP_PROJECTION_REFUND_REQUEST_CONFIRMED:
    case SP_PROJECTION_REFUND_REQUEST_CANCELLED:
    case SP_PROJECTION_REFUND_REQUEST_PAID: return NULL; /* a request's own aggregate */
    default: return row->params[0]; /* every other ledger event: $1 is its aggregate */
    }
}

static uint32_t id_hash(const char *id) {
    return text_hash(id, HASH_SEED);
}

static fold_pass *pass_find(const sp_projection_fold *f, const char *id) {
    for (size_t s = id_hash(id) & (PASS_SLOTS - 1);; s = (s + 1) & (PASS_SLOTS - 1)) {
        if (f->slots[s] == 0) return NULL;
        fold_pass *p = &f->passes[f->slots[s] - 1];
        if (strcmp(p->id, id) == 0) return p;
    }
}

static fold_pass *pass_add(sp_projection_fold *f, const char *id) {
    assert(f != NULL);
    assert(f->pass_count < SP_PROJECTION_FOLD_EVENTS_MAX);
    size_t s = id_hash(id) & (PASS_SLOTS - 1);
    while (f->slots[s] != 0) s = (s + 1) & (PASS_SLOTS - 1);
    fold_pass *p = &f->passes[f->pass_count++];
    memset(p, 0, sizeof *p);
    text_copy(p->id, sizeof p->id, id);
    p->foldable = true;
    f->slots[s] = (int32_t)f->pass_count;
    assert(pass_find(f, id) == p);
    return p;
}

/* The pass planned (added foldable when new), or NULL when the batch
 * holds as many passes as the fold can. */
static fold_pass *pass_planned(sp_projection_fold *f, const char *id, sp_error *err) {
    assert(id != NULL);
    fold_pass *p = pass_find(f, id);
    if (p != NULL) return p;
    if (f->pass_count == SP_PROJECTION_FOLD_EVENTS_MAX) {
        sp_error_set(err, 500, "fold_full", "", "more than %zu passes in a batch",
                     SP_PROJECTION_FOLD_EVENTS_MAX);
        return NULL;
    }
    return pass_add(f, id);
}

int sp_projection_fold_plan(sp_projection_fold *f, const sp_projection_row *row, sp_error *err) {
    const char *id = sp_projection_fold_pass_of(row);
    if (id == NULL) return 0;
    fold_pass *p = pass_planned(f, id, err);
    if (p == NULL) return -1;
    if (!sp_projection_fold_kind(row->kind)) p->foldable = false;
    return 0;
}

int sp_projection_fold_plan_foldable(sp_projection_fold *f, const char *pass_id, sp_error *err) {
    return pass_planned(f, pass_id, err) != NULL ? 0 : -1;
}

size_t sp_projection_fold_pass_count(const sp_projection_fold *f) {
    assert(f != NULL);
    return f->pass_count;
}

const char *sp_projection_fold_pass_id(const sp_projection_fold *f, size_t index) {
    assert(f != NULL);
    assert(index < f->pass_count);
    return f->passes[index].foldable ? f->passes[index].id : NULL;
}

void sp_projection_fold_pass_known(sp_projection_fold *f, const char *pass_id, int64_t version) {
    fold_pass *p = pass_find(f, pass_id);
    if (p == NULL) return;
    p->exists_at_start = p->exists = true;
    p->version_at_start = p->version = version;
}

bool sp_projection_fold_wants(const sp_projection_fold *f, const sp_projection_row *row) {
    if (!sp_projection_fold_kind(row->kind)) return false;
    const char *id = sp_projection_fold_pass_of(row);
    const fold_pass *p = id != NULL ? pass_find(f, id) : NULL;
    return p != NULL && p->foldable;
}

/* ------------------------------------------------------------ folding */

static int full(sp_error *err, const char *what) {
    return sp_error_set(err, 500, "fold_full", "", "a batch holds more %s than the fold", what);
}

static int envelope_add(sp_projection_fold *f, const fold_pass *p, const char *category,
                        const char *end_date, bool insert, bool expired, bool credited,
                        int64_t balance_cents, sp_error *err) {
    if (f->envelope_count == f->envelope_cap) {
        size_t cap = f->envelope_cap ? 2 * f->envelope_cap : 4096;
        if (cap > ENVELOPE_ITEMS_MAX) cap = ENVELOPE_ITEMS_MAX;
        if (cap == f->envelope_count) return full(err, "envelopes");
        envelope_item *items = realloc(f->envelopes, cap * sizeof *items);
        if (items == NULL) return sp_error_set(err, 500, "out_of_memory", "", "fold envelopes");
        f->envelopes = items;
        f->envelope_cap = cap;
    }
    assert(f->envelope_count < f->envelope_cap);
    /* p is one of this fold's passes: its index goes in the item. */
    assert(p >= f->passes);
    assert(p < f->passes + f->pass_count);
    envelope_item *e = &f->envelopes[f->envelope_count];
    e->pass = (uint32_t)(p - f->passes);
    e->seq = (uint32_t)f->envelope_count++;
    e->insert = insert;
    e->expired = expired;
    e->credited = credited;
    e->balance_cents = balance_cents;
    text_copy(e->category, sizeof e->category, category);
    text_copy(e->end_date, sizeof e->end_date, end_date != NULL ? end_date : "");
    return 0;
}

static bool sum_item_same(const sum_item *items, size_t index, const char *key) {
    assert(items != NULL);
    return strcmp(items[index].key, key) == 0;
}
static bool ledger_same(const sp_projection_fold *f, size_t index, const void *key) {
    return sum_item_same(f->ledger, index, key);
}
static bool owed_same(const sp_projection_fold *f, size_t index, const void *key) {
    return sum_item_same(f->owed, index, key);
}

/* The item of key in items (count of them, room for one more), added with
 * 0 cents when new; NULL when out of memory. */
static sum_item *sum_item_of(sp_projection_fold *f, sum_keys *keys, sum_item *items, size_t *count,
                             bool (*same)(const sp_projection_fold *, size_t, const void *),
                             const char *key) {
    if (!sum_keys_reserve(keys, *count)) return NULL;
    uint32_t hash = text_hash(key, HASH_SEED);
    uint32_t *slot = sum_keys_slot(keys, hash, same, f, key);
    if (*slot != 0) return &items[*slot - 1];
    sum_item *item = &items[*count];
    text_copy(item->key, sizeof item->key, key);
    item->cents = 0;
    sum_keys_put(keys, slot, (*count)++, hash);
    return item;
}

static int ledger_add(sp_projection_fold *f, const char *account, int64_t cents, sp_error *err) {
    if (f->ledger_count == f->ledger_cap) {
        size_t cap = f->ledger_cap ? 2 * f->ledger_cap : 4096;
        if (cap > LEDGER_ITEMS_MAX) cap = LEDGER_ITEMS_MAX;
        if (cap == f->ledger_count) return full(err, "ledger deltas");
        sum_item *items = realloc(f->ledger, cap * sizeof *items);
        if (items == NULL) return sp_error_set(err, 500, "out_of_memory", "", "fold ledger");
        f->ledger = items;
        f->ledger_cap = cap;
    }
    assert(f->ledger_count < f->ledger_cap);
    sum_item *item = sum_item_of(f, &f->ledger_keys, f->ledger, &f->ledger_count, ledger_same,
                                 account);
    if (item == NULL) return sp_error_set(err, 500, "out_of_memory", "", "fold ledger keys");
    sum_add(f, &item->cents, cents, "a balance of the batch overflows");
    return 0;
}

static int owed_add(sp_projection_fold *f, const char *partner_id, int64_t cents, sp_error *err) {
    assert(f->owed_count < SP_PROJECTION_FOLD_EVENTS_MAX);
    sum_item *item = sum_item_of(f, &f->owed_keys, f->owed, &f->owed_count, owed_same, partner_id);
    if (item == NULL) return sp_error_set(err, 500, "out_of_memory", "", "fold partners");
    sum_add(f, &item->cents, cents, "a balance of the batch overflows");
    return 0;
}

static bool budget_same(const sp_projection_fold *f, size_t index, const void *category) {
    assert(index < f->budget_count);
    return strcmp(f->budget[index].category, category) == 0;
}

static int budget_add(sp_projection_fold *f, const char *category, int64_t credited, int64_t spent,
                      int64_t expired, int64_t available, sp_error *err) {
    assert(f != NULL);
    assert(f->budget_count < SP_PROJECTION_FOLD_EVENTS_MAX);
    if (!sum_keys_reserve(&f->budget_keys, f->budget_count))
        return sp_error_set(err, 500, "out_of_memory", "", "fold budget");
    uint32_t hash = text_hash(category, HASH_SEED);
    uint32_t *slot = sum_keys_slot(&f->budget_keys, hash, budget_same, f, category);
    budget_item *b = *slot != 0 ? &f->budget[*slot - 1] : &f->budget[f->budget_count];
    if (*slot == 0) {
        *b = (budget_item){0};
        text_copy(b->category, sizeof b->category, category);
        sum_keys_put(&f->budget_keys, slot, f->budget_count++, hash);
    }
    static const char what[] = "the budget overflows";
    sum_add(f, &b->credited, credited, what);
    sum_add(f, &b->spent, spent, what);
    sum_add(f, &b->expired, expired, what);
    sum_add(f, &b->available, available, what);
    return 0;
}

typedef struct daily_key {
    sp_date day;
    const char *category;
} daily_key;

static bool daily_same(const sp_projection_fold *f, size_t index, const void *key) {
    const daily_key *k = key;
    assert(index < f->daily_count);
    return f->daily[index].day == k->day && strcmp(f->daily[index].category, k->category) == 0;
}

/* One payment on its Europe/Paris day and category. */
static int daily_add(sp_projection_fold *f, int64_t occurred_at_ms, const char *category,
                     int64_t amount_cents, sp_error *err) {
    assert(f->daily_count < SP_PROJECTION_FOLD_EVENTS_MAX);
    if (!sum_keys_reserve(&f->daily_keys, f->daily_count))
        return sp_error_set(err, 500, "out_of_memory", "", "fold days");
    daily_key key = {.day = sp_paris_date_of(occurred_at_ms), .category = category};
    uint32_t hash = text_hash(category, HASH_SEED ^ (uint32_t)key.day * 2654435761u);
    uint32_t *slot = sum_keys_slot(&f->daily_keys, hash, daily_same, f, &key);
    daily_item *day = *slot != 0 ? &f->daily[*slot - 1] : &f->daily[f->daily_count];
    if (*slot == 0) {
        *day = (daily_item){.day = key.day};
        text_copy(day->category, sizeof day->category, category);
        sum_keys_put(&f->daily_keys, slot, f->daily_count++, hash);
    }
    day->payment_count++;
    sum_add(f, &day->amount_cents, amount_cents, "a day's payments overflow");
    return 0;
}

/* The history line of an applied event: its envelope's meta, then its
 * partner, pass and details. */
static void history_add(sp_projection_fold *f, const sp_projection_row *row, const char *partner_id,
                        const char *pass_id, const char *details) {
    assert(f != NULL);
    assert(row != NULL);
    char at[SP_PROJECTION_TIME_LEN + 1];
    sp_projection_time_format(row->occurred_at_ms, at);
    bool actor = row->actor_id[0] != '\0';
    arr_add(&f->history[H_EVENT], row->event_id);
    arr_add(&f->history[H_AT], at);
    arr_add(&f->history[H_ACTION], sp_projection_figures_action(row->type));
    arr_add(&f->history[H_ACTOR], actor ? row->actor_id : NULL);
    arr_add(&f->history[H_ROLE], actor && row->actor_role[0] != '\0' ? row->actor_role : NULL);
    arr_add(&f->history[H_PARTNER], partner_id);
    arr_add(&f->history[H_PASS], pass_id);
    arr_add(&f->history[H_DETAILS], details);
    f->history_count++;
}

/* $1 pass_id $2 beneficiary_id $3 opened_at $4 categories $5 end dates */
static int fold_opened(sp_projection_fold *f, fold_pass *p, const sp_projection_row *row,
                       sp_error *err) {
    if (p->exists) return 0;
    p->exists = p->opened = true;
    p->version = 1;
    p->balance_cents = 0;
    text_copy(p->beneficiary_id, sizeof p->beneficiary_id, row->params[1]);
    text_copy(p->opened_at, sizeof p->opened_at, row->params[2]);
    text_copy(p->updated_at, sizeof p->updated_at, row->params[2]);
    const char *categories = row->params[3], *dates = row->params[4];
    char category[ITEM_TEXT_MAX], date[ITEM_TEXT_MAX], details[DETAILS_BYTES_MAX];
    bool category_null = false, date_null = false;
    int used = snprintf(details, sizeof details, "{\"beneficiary_id\": \"%s\", \"categories\": [",
                        row->params[1]);
    for (size_t i = 0; arr_next(&categories, category, sizeof category, &category_null); i++) {
        if (!arr_next(&dates, date, sizeof date, &date_null)) date_null = true;
        if (envelope_add(f, p, category, date_null ? NULL : date, true, false, false, 0, err) != 0)
            return -1;
        if (used > 0 && (size_t)used < sizeof details)
            used += snprintf(details + used, sizeof details - (size_t)used, "%s\"%s\"",
                             i ? ", " : "", category);
    }
    if (used < 0 || (size_t)used + 3 > sizeof details)
        return sp_error_set(err, 500, "fold_full", "", "a pass's categories exceed the history");
    snprintf(details + used, sizeof details - (size_t)used, "]}");
    history_add(f, row, NULL, p->id, details);
    return 1;
}

/* The shared movement layout (projection_rows.h): $1 pass_id $2 version
 * $3 occurred_at $4 category $5 envelope balance $6 pass balance
 * $7 operation_id $8 amount $9 command_id $10..$12 topic, partition, offset
 * $13 accounts $14 deltas $15 partner_id $16 receipt. */
static int fold_movement(sp_projection_fold *f, fold_pass *p, const sp_projection_row *row,
                         sp_error *err) {
    int64_t version = param_i64(row, 1);
    if (!p->exists || version != p->version + 1) return 0;
    const char *category = row->params[3];
    int64_t amount = param_i64(row, 7);
    bool expiry = row->kind == SP_PROJECTION_ENVELOPE_EXPIRED;
    bool payment = row->kind == SP_PROJECTION_PAYMENT_ACCEPTED;
    p->version = version;
    p->balance_cents = param_i64(row, 5);
    text_copy(p->updated_at, sizeof p->updated_at, row->params[2]);
    bool credit = row->kind == SP_PROJECTION_PASS_CREDITED;
    /* A credit's $17: the envelope's end date after it, NULL = keep the row's. */
    const char *end_date = credit ? row->params[SP_PROJECTION_CREDIT_PARAM_COUNT - 1] : NULL;
    if (envelope_add(f, p, category, end_date, false, expiry, credit, param_i64(row, 4), err) != 0)
        return -1;
    if (!expiry || amount > 0) {
        static const int columns[] = {OP_ID,     OP_PASS,      OP_PARTNER, OP_CATEGORY,
                                      OP_AMOUNT, OP_BALANCE,   OP_COMMAND, OP_AT,
                                      OP_TOPIC,  OP_PARTITION, OP_OFFSET,  OP_RECEIPT};
        static const int params[] = {6, 0, 14, 3, 7, 5, 8, 2, 9, 10, 11, 15};
        for (size_t i = 0; i < sizeof columns / sizeof columns[0]; i++)
            arr_add(&f->operations[columns[i]], row->params[params[i]]);
        arr_add(&f->operations[OP_KIND], payment ? "payment" : expiry ? "expiry" : "credit");
        arr_add(&f->operations[OP_CHANNEL], payment ? "code" : NULL);
        f->operation_count++;
    }
    const char *accounts = row->params[12], *deltas = row->params[13];
    char account[ACCOUNT_BYTES_MAX], delta[ITEM_TEXT_MAX];
    bool null_account = false, null_delta = false;
    while (arr_next(&accounts, account, sizeof account, &null_account)) {
        if (!arr_next(&deltas, delta, sizeof delta, &null_delta))
            return sp_error_set(err, 500, "fold_invalid", "", "accounts and deltas differ");
        if (ledger_add(f, account, strtoll(delta, NULL, 10), err) != 0) return -1;
    }
    char details[DETAILS_BYTES_MAX];
    int rc = expiry    ? budget_add(f, category, 0, 0, amount, -amount, err)
             : payment ? budget_add(f, category, 0, amount, 0, -amount, err)
                       : budget_add(f, category, amount, 0, 0, amount, err);
    /* $3, the payment's time, is written from the envelope's */
    if (rc == 0 && payment) rc = owed_add(f, row->params[14], amount, err);
    if (rc == 0 && payment) rc = daily_add(f, row->occurred_at_ms, category, amount, err);
    if (rc != 0) return -1;
    movement_details(details, sizeof details, expiry ? NULL : row->params[6], category, amount,
                     payment, payment || expiry ? NULL : end_date);
    history_add(f, row, payment ? row->params[14] : NULL, p->id, details);
    return 1;
}

int sp_projection_fold_add(sp_projection_fold *f, const sp_projection_row *row, sp_error *err) {
    assert(sp_projection_fold_wants(f, row));
    assert(!f->sums_sorted);
    if (f->event_count == SP_PROJECTION_FOLD_EVENTS_MAX) return full(err, "events");
    fold_pass *p = pass_find(f, sp_projection_fold_pass_of(row));
    assert(p != NULL);
    assert(p->foldable);
    f->event_count++;
    if (row->kind == SP_PROJECTION_PASS_OPENED) return fold_opened(f, p, row, err);
    assert(row->param_count == (row->kind == SP_PROJECTION_PASS_CREDITED
                                    ? SP_PROJECTION_CREDIT_PARAM_COUNT
                                    : SP_PROJECTION_MOVEMENT_PARAM_COUNT));
    return fold_movement(f, p, row, err);
}

/* ------------------------------------------------------------ statements */

/* clang-format off */
#define COUNTED(name, sql) "WITH w AS (" sql " RETURNING 1) SELECT count(*) FROM w"

const sp_projection_statement sp_projection_fold_statements[] = {
    {"spx_passes_insert",
     COUNTED("passes", "INSERT INTO passes (pass_id, beneficiary_id, balance_cents, version, "
             "opened_at, updated_at) SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], "
             "$4::bigint[], $5::timestamptz[], $6::timestamptz[]) ON CONFLICT (pass_id) DO NOTHING"),
     6},
    /* only where the version is still the one the fold started from */
    {"spx_passes_update",
     COUNTED("passes", "UPDATE passes AS p SET version = s.version, balance_cents = s.balance, "
             "updated_at = s.updated_at FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], "
             "$4::bigint[], $5::timestamptz[]) AS s(pass_id, from_version, version, balance, "
             "updated_at) WHERE p.pass_id = s.pass_id AND p.version = s.from_version"),
     5},
    /* an envelope opened here, by its pass or by a credit, or one a credit
     * touched: its final row (an end date is only ever set or extended) */
    {"spx_envelopes_insert",
     "INSERT INTO envelopes (pass_id, category, balance_cents, end_date, expired) "
     "SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::date[], $5::boolean[]) "
     "ON CONFLICT (pass_id, category) DO UPDATE SET balance_cents = EXCLUDED.balance_cents, "
     "end_date = COALESCE(EXCLUDED.end_date, envelopes.end_date), expired = EXCLUDED.expired",
     5},
    {"spx_envelopes_update",
     "UPDATE envelopes AS e SET balance_cents = s.balance, expired = e.expired OR s.expired "
     "FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::boolean[]) "
     "AS s(pass_id, category, balance, expired) "
     "WHERE e.pass_id = s.pass_id AND e.category = s.category",
     4},
    {"spx_operations_insert",
     "INSERT INTO operations (operation_id, kind, pass_id, partner_id, category, amount_cents, "
     "pass_balance_after_cents, command_id, occurred_at, event_topic, event_partition, "
     "event_offset, channel, receipt) SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], "
     "$4::uuid[], $5::text[], $6::bigint[], $7::bigint[], $8::text[], $9::timestamptz[], "
     "$10::text[], $11::integer[], $12::bigint[], $13::text[], $14::text[]) "
     "ON CONFLICT DO NOTHING",
     14},
    {"spx_partners_owed",
     "UPDATE partners AS p SET owed_cents = p.owed_cents + s.cents "
     "FROM unnest($1::uuid[], $2::bigint[]) AS s(partner_id, cents) "
     "WHERE p.partner_id = s.partner_id",
     2},
    {"spx_ledger_balances",
     "INSERT INTO ledger_balances (account, balance_cents) "
     "SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT (account) DO UPDATE "
     "SET balance_cents = ledger_balances.balance_cents + EXCLUDED.balance_cents",
     2},
    /* The batch's deltas go straight into the figures (one row per
     * category, and one per Europe/Paris day and category, summed here),
     * not through the pending tables: see projection_figures.h */
    {"spx_figures_budget",
     "INSERT INTO figures_budget AS f (category, credited_cents, spent_cents, expired_cents, "
     "reserved_cents, available_cents) SELECT * FROM unnest($1::text[], $2::bigint[], "
     "$3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[]) " SP_PROJECTION_FIGURES_BUDGET_ADD,
     6},
    {"spx_figures_daily",
     "INSERT INTO figures_daily AS f (day, category, payment_count, amount_cents) "
     "SELECT * FROM unnest($1::date[], $2::text[], $3::bigint[], $4::bigint[]) "
     SP_PROJECTION_FIGURES_DAILY_ADD,
     4},
    {"spx_history_insert",
     "INSERT INTO history (event_id, occurred_at, action, actor_id, actor_role, partner_id, "
     "pass_id, details) SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], "
     "$4::uuid[], $5::text[], $6::uuid[], $7::uuid[], $8::jsonb[]) ON CONFLICT DO NOTHING",
     8},
};
/* clang-format on */
const size_t sp_projection_fold_statement_count = sizeof sp_projection_fold_statements /
                                                  sizeof sp_projection_fold_statements[0];

/* clang-format off */
enum { S_PASSES_INSERT, S_PASSES_UPDATE, S_ENVELOPES_INSERT, S_ENVELOPES_UPDATE, S_OPERATIONS,
       S_OWED, S_LEDGER, S_BUDGET, S_DAILY, S_HISTORY };
/* clang-format on */

/* ------------------------------------------------------------ render */

static int envelope_cmp(const void *a, const void *b) {
    const envelope_item *x = a, *y = b;
    if (x->pass != y->pass) return x->pass < y->pass ? -1 : 1;
    int c = strcmp(x->category, y->category);
    if (c != 0) return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int sum_cmp(const void *a, const void *b) {
    return strcmp(((const sum_item *)a)->key, ((const sum_item *)b)->key);
}

static int daily_cmp(const void *a, const void *b) {
    const daily_item *x = a, *y = b;
    if (x->day != y->day) return x->day < y->day ? -1 : 1;
    return strcmp(x->category, y->category);
}

static int budget_cmp(const void *a, const void *b) {
    return strcmp(((const budget_item *)a)->category, ((const budget_item *)b)->category);
}

/* One item per key already (summed as folded): sorted, for a set-wise
 * statement that takes its rows' locks in one order. */
static void sums_sort(void *items, size_t count, size_t size,
                      int (*cmp)(const void *, const void *)) {
    if (count > 1) qsort(items, count, size, cmp); /* qsort must not see an empty array's NULL */
}

typedef struct render {
    sp_projection_fold *fold;
    sp_projection_fold_statement *out;
    size_t count;
    size_t next_column;
} render;

static text_buf *column(render *r) {
    assert(r != NULL);
    assert(r->next_column < RENDERED_COLUMNS);
    return &r->fold->rendered[r->next_column++];
}

/* A statement of `columns` rendered arrays (from bufs), when it has rows. */
static void emit(render *r, int statement, size_t rows, text_buf *const *bufs, int64_t expected) {
    if (rows == 0) return;
    const sp_projection_statement *st = &sp_projection_fold_statements[statement];
    sp_projection_fold_statement *s = &r->out[r->count++];
    s->name = st->name;
    s->param_count = st->param_count;
    s->expected_count = expected;
    for (int i = 0; i < st->param_count; i++) s->params[i] = arr_text(bufs[i]);
}

static void render_passes(render *r) {
    assert(r != NULL);
    sp_projection_fold *f = r->fold;
    text_buf *ins[6], *upd[5];
    for (size_t i = 0; i < 6; i++) ins[i] = column(r);
    for (size_t i = 0; i < 5; i++) upd[i] = column(r);
    size_t inserted = 0, updated = 0;
    for (size_t i = 0; i < f->pass_count; i++) {
        const fold_pass *p = &f->passes[i];
        if (!p->foldable || p->version == p->version_at_start) continue;
        if (p->opened) {
            arr_add(ins[0], p->id);
            arr_add(ins[1], p->beneficiary_id);
            arr_add_i64(ins[2], p->balance_cents);
            arr_add_i64(ins[3], p->version);
            arr_add(ins[4], p->opened_at);
            arr_add(ins[5], p->updated_at);
            inserted++;
        } else {
            arr_add(upd[0], p->id);
            arr_add_i64(upd[1], p->version_at_start);
            arr_add_i64(upd[2], p->version);
            arr_add_i64(upd[3], p->balance_cents);
            arr_add(upd[4], p->updated_at);
            updated++;
        }
    }
    emit(r, S_PASSES_INSERT, inserted, ins, (int64_t)inserted);
    emit(r, S_PASSES_UPDATE, updated, upd, (int64_t)updated);
}

/* An envelope's last balance and end date; expired once any expiry touched
 * it, unless a credit came after (a credit opens the envelope or finds it
 * usable). A movement but a credit on a category a pass opened here does
 * not have changes nothing, as its own statement would. */
static void render_envelopes(render *r) {
    assert(r != NULL);
    sp_projection_fold *f = r->fold;
    if (f->envelope_count > 1)
        qsort(f->envelopes, f->envelope_count, sizeof *f->envelopes, envelope_cmp);
    text_buf *ins[5], *upd[4];
    for (size_t i = 0; i < 5; i++) ins[i] = column(r);
    for (size_t i = 0; i < 4; i++) upd[i] = column(r);
    size_t inserted = 0, updated = 0;
    for (size_t i = 0; i < f->envelope_count;) {
        const envelope_item *first = &f->envelopes[i];
        envelope_item last = *first;
        if (first->credited) last.expired = false;
        size_t j = i + 1;
        for (; j < f->envelope_count && f->envelopes[j].pass == first->pass &&
               strcmp(f->envelopes[j].category, first->category) == 0;
             j++) {
            const envelope_item *e = &f->envelopes[j];
            last.balance_cents = e->balance_cents;
            last.expired = e->credited ? false : last.expired || e->expired;
            last.credited = last.credited || e->credited;
            if (e->end_date[0] != '\0') memcpy(last.end_date, e->end_date, sizeof last.end_date);
        }
        const fold_pass *p = &f->passes[first->pass];
        if (first->insert || last.credited) {
            arr_add(ins[0], p->id);
            arr_add(ins[1], first->category);
            arr_add_i64(ins[2], last.balance_cents);
            arr_add(ins[3], last.end_date[0] ? last.end_date : NULL);
            arr_add(ins[4], last.expired ? "t" : "f");
            inserted++;
        } else if (!p->opened) {
            arr_add(upd[0], p->id);
            arr_add(upd[1], first->category);
            arr_add_i64(upd[2], last.balance_cents);
            arr_add(upd[3], last.expired ? "t" : "f");
            updated++;
        }
        i = j;
    }
    emit(r, S_ENVELOPES_INSERT, inserted, ins, -1);
    emit(r, S_ENVELOPES_UPDATE, updated, upd, -1);
}

static void render_sums(render *r) {
    assert(r != NULL);
    sp_projection_fold *f = r->fold;
    sums_sort(f->owed, f->owed_count, sizeof *f->owed, sum_cmp);
    sums_sort(f->ledger, f->ledger_count, sizeof *f->ledger, sum_cmp);
    text_buf *o[2] = {column(r), column(r)}, *l[2] = {column(r), column(r)};
    for (size_t i = 0; i < f->owed_count; i++) {
        arr_add(o[0], f->owed[i].key);
        arr_add_i64(o[1], f->owed[i].cents);
    }
    for (size_t i = 0; i < f->ledger_count; i++) {
        arr_add(l[0], f->ledger[i].key);
        arr_add_i64(l[1], f->ledger[i].cents);
    }
    emit(r, S_OWED, f->owed_count, o, -1);
    emit(r, S_LEDGER, f->ledger_count, l, -1);
    sums_sort(f->budget, f->budget_count, sizeof *f->budget, budget_cmp);
    text_buf *b[6];
    for (size_t i = 0; i < 6; i++) b[i] = column(r);
    for (size_t i = 0; i < f->budget_count; i++) {
        const budget_item *item = &f->budget[i];
        arr_add(b[0], item->category);
        arr_add_i64(b[1], item->credited);
        arr_add_i64(b[2], item->spent);
        arr_add_i64(b[3], item->expired);
        arr_add_i64(b[4], item->reserved);
        arr_add_i64(b[5], item->available);
    }
    emit(r, S_BUDGET, f->budget_count, b, -1);
}

/* The literals of one table's new rows handed over: the statement points
 * into the buffers, whose memory goes to taken; the fold starts new ones. */
static int take_table(sp_projection_fold_taken *taken, int statement, text_buf *bufs,
                      size_t columns, size_t *rows, sp_error *err) {
    assert(taken->count < 2);
    if (*rows == 0) return 0;
    const sp_projection_statement *st = &sp_projection_fold_statements[statement];
    assert((size_t)st->param_count == columns);
    assert(taken->text_count + columns <= SP_PROJECTION_FOLD_TAKEN_TEXTS_MAX);
    for (size_t i = 0; i < columns; i++)
        if (arr_text(&bufs[i]) == NULL)
            return sp_error_set(err, 500, "out_of_memory", "", "taking the fold's rows");
    sp_projection_fold_statement *s = &taken->statements[taken->count++];
    *s = (sp_projection_fold_statement){.name = st->name,
                                        .param_count = st->param_count,
                                        .expected_count = -1};
    for (size_t i = 0; i < columns; i++) {
        s->params[i] = bufs[i].data;
        taken->texts[taken->text_count++] = bufs[i].data;
        bufs[i] = (text_buf){0};
    }
    *rows = 0;
    return 0;
}

int sp_projection_fold_take_new_rows(sp_projection_fold *f, sp_projection_fold_taken *out,
                                     sp_error *err) {
    assert(f != NULL);
    assert(out != NULL);
    *out = (sp_projection_fold_taken){0};
    if (take_table(out, S_OPERATIONS, f->operations, OP_COLUMNS, &f->operation_count, err) == 0 &&
        take_table(out, S_HISTORY, f->history, H_COLUMNS, &f->history_count, err) == 0)
        return 0;
    sp_projection_fold_taken_free(out);
    return -1;
}

void sp_projection_fold_taken_free(sp_projection_fold_taken *taken) {
    assert(taken != NULL);
    assert(taken->text_count <= SP_PROJECTION_FOLD_TAKEN_TEXTS_MAX);
    for (size_t i = 0; i < taken->text_count; i++) free(taken->texts[i]);
    *taken = (sp_projection_fold_taken){0};
}

/* One row per Europe/Paris day and category: its payments and their sum. */
static void render_daily(render *r) {
    assert(r != NULL);
    sp_projection_fold *f = r->fold;
    sums_sort(f->daily, f->daily_count, sizeof *f->daily, daily_cmp);
    text_buf *d[4];
    for (size_t i = 0; i < 4; i++) d[i] = column(r);
    for (size_t i = 0; i < f->daily_count; i++) {
        char day[11];
        sp_date_format(f->daily[i].day, day);
        arr_add(d[0], day);
        arr_add(d[1], f->daily[i].category);
        arr_add_i64(d[2], f->daily[i].payment_count);
        arr_add_i64(d[3], f->daily[i].amount_cents);
    }
    emit(r, S_DAILY, f->daily_count, d, -1);
}

int sp_projection_fold_render(sp_projection_fold *f, sp_projection_fold_statement *out,
                              size_t *count, sp_error *err) {
    render r = {.fold = f, .out = out};
    f->sums_sorted = true;
    if (f->overflow != NULL) return sp_error_set(err, 422, "fold_overflow", "", "%s", f->overflow);
    for (size_t i = 0; i < RENDERED_COLUMNS; i++) buf_clear(&f->rendered[i]);
    render_passes(&r);
    render_envelopes(&r);
    text_buf *ops[OP_COLUMNS], *history[H_COLUMNS];
    for (size_t i = 0; i < OP_COLUMNS; i++) ops[i] = &f->operations[i];
    for (size_t i = 0; i < H_COLUMNS; i++) history[i] = &f->history[i];
    emit(&r, S_OPERATIONS, f->operation_count, ops, -1);
    render_sums(&r);
    render_daily(&r);
    emit(&r, S_HISTORY, f->history_count, history, -1);
    for (size_t i = 0; i < r.count; i++)
        for (int k = 0; k < r.out[i].param_count; k++)
            if (r.out[i].params[k] == NULL)
                return sp_error_set(err, 500, "out_of_memory", "", "rendering the fold");
    *count = r.count;
    return 0;
}
