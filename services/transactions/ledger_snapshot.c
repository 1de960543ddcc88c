/* ledger_snapshot.c - a partition's ledger state to canonical bytes and back
 * (see ledger_snapshot.h for what it holds and why), in the fields and
 * checksum of common/sp_snapshot_codec.h. */
#include "ledger_snapshot.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_internal.h"
#include "sp_money.h"
#include "sp_snapshot_codec.h"

static const uint8_t snapshot_magic[8] = {'S', 'P', 'L', 'S', 'N', 'A', 'P', '\n'};
_Static_assert(SP_LEDGER_SNAPSHOT_VERSION_MAX <= SP_SNAPSHOT_VERSION_BYTES_MAX,
               "the binary's version fits the preamble the codec reads");

/* ------------------------------------------------------------ encode */

static void put_pass(sp_snapshot_encoder *w, const sp_snapshot_entry *entry,
                     const sp_snapshot_entries *records_by_value) {
    assert(entry != NULL);
    const sp_ledger_pass *pass = entry->value;
    sp_snapshot_put_bytes(w, entry->key, SP_KEY_LEN);
    sp_snapshot_put_str(w, pass->pass_id);
    sp_snapshot_put_str(w, pass->beneficiary_id);
    sp_snapshot_put_u64(w, pass->version);
    sp_snapshot_put_u64(w, pass->envelope_count);
    for (size_t i = 0; i < pass->envelope_count; i++) {
        const sp_ledger_envelope *env = &pass->envelopes[i];
        sp_snapshot_put_str(w, env->category);
        sp_snapshot_put_i64(w, env->balance_cents);
        sp_snapshot_put_bool(w, env->has_end_date);
        sp_snapshot_put_i64(w, env->end_date);
        sp_snapshot_put_bool(w, env->closed);
    }
    sp_snapshot_put_bytes(w, pass->open_request_hash, SP_KEY_LEN);
    /* The opening outcome is one of the records: named by its key. */
    const sp_snapshot_entry probe = {.value = (void *)pass->open_record};
    const sp_snapshot_entry *open = pass->open_record == NULL
                                        ? NULL
                                        : bsearch(&probe, records_by_value->items,
                                                  records_by_value->count, sizeof probe,
                                                  sp_snapshot_entry_by_value);
    assert(pass->open_record == NULL || open != NULL);
    sp_snapshot_put_bool(w, open != NULL);
    if (open != NULL) sp_snapshot_put_bytes(w, open->key, SP_KEY_LEN);
    sp_snapshot_put_u64(w, pass->operation_count);
    for (size_t i = 0; i < pass->operation_count; i++) {
        const sp_ledger_operation *op = &pass->operations[i];
        sp_snapshot_put_str(w, op->operation_id);
        sp_snapshot_put_str(w, op->partner_id);
        sp_snapshot_put_str(w, op->category);
        sp_snapshot_put_str(w, op->voucher_id);
        sp_snapshot_put_i64(w, op->amount_cents);
        sp_snapshot_put_u32(w, (uint32_t)op->status);
        sp_snapshot_put_str(w, op->request_id);
    }
    sp_snapshot_put_u64(w, pass->active_voucher_count);
    sp_snapshot_put_bool(w, pass->closed);
    sp_snapshot_put_i64(w, pass->closed_at_ms);
}

static void put_record(sp_snapshot_encoder *w, const sp_snapshot_entry *entry) {
    assert(entry != NULL);
    const sp_ledger_record *rec = entry->value;
    sp_snapshot_put_bytes(w, entry->key, SP_KEY_LEN);
    sp_snapshot_put_bytes(w, rec->request_hash, SP_KEY_LEN);
    sp_snapshot_put_bool(w, rec->ok);
    sp_snapshot_put_u32(w, (uint32_t)rec->http_status);
    sp_snapshot_put_str(w, rec->result_json);
    sp_snapshot_put_str(w, rec->code);
    sp_snapshot_put_str(w, rec->message);
    sp_snapshot_put_str(w, rec->field);
    sp_snapshot_put_bool(w, rec->has_event_ref);
    sp_snapshot_put_u32(w, (uint32_t)rec->event_partition);
    sp_snapshot_put_i64(w, rec->event_offset);
}

static void put_voucher(sp_snapshot_encoder *w, const sp_snapshot_entry *entry) {
    assert(entry != NULL);
    const sp_ledger_voucher *v = entry->value;
    sp_snapshot_put_bytes(w, entry->key, SP_KEY_LEN);
    sp_snapshot_put_str(w, v->voucher_id);
    sp_snapshot_put_str(w, v->pass_id);
    sp_snapshot_put_str(w, v->number);
    sp_snapshot_put_str(w, v->category);
    sp_snapshot_put_str(w, v->partner_id);
    sp_snapshot_put_i64(w, v->amount_cents);
    sp_snapshot_put_i64(w, v->balance_cents);
    sp_snapshot_put_i64(w, v->valid_until);
    sp_snapshot_put_u32(w, (uint32_t)v->status);
}

static void put_request(sp_snapshot_encoder *w, const sp_snapshot_entry *entry) {
    assert(entry != NULL);
    const sp_ledger_refund_request *q = entry->value;
    sp_snapshot_put_bytes(w, entry->key, SP_KEY_LEN);
    sp_snapshot_put_str(w, q->request_id);
    sp_snapshot_put_str(w, q->partner_id);
    sp_snapshot_put_str(w, q->kind);
    sp_snapshot_put_str(w, q->period);
    sp_snapshot_put_u64(w, q->version);
    sp_snapshot_put_u32(w, (uint32_t)q->status);
    sp_snapshot_put_u64(w, q->part_count);
    sp_snapshot_put_i64(w, q->asked_operation_count);
    sp_snapshot_put_i64(w, q->expected_total_cents);
    sp_snapshot_put_bool(w, q->bank_account_missing);
    sp_snapshot_put_i64(w, q->total_cents);
    sp_snapshot_put_i64(w, q->operation_count);
    sp_snapshot_put_str(w, q->reason);
    sp_snapshot_put_str(w, q->transfer_reference);
    sp_snapshot_put_str(w, q->paid_on);
    sp_snapshot_put_i64(w, q->opened_at_ms);
    sp_snapshot_put_i64(w, q->updated_at_ms);
}

static void put_small(sp_snapshot_encoder *w, const sp_snapshot_entry *entry, bool is_owed) {
    assert(entry != NULL);
    sp_snapshot_put_bytes(w, entry->key, SP_KEY_LEN);
    if (is_owed) {
        const sp_ledger_owed *o = entry->value;
        sp_snapshot_put_str(w, o->partner_id);
        sp_snapshot_put_i64(w, o->balance_cents);
    } else {
        const sp_ledger_refund_account *a = entry->value;
        sp_snapshot_put_str(w, a->request_id);
        sp_snapshot_put_i64(w, a->balance_cents);
    }
}

typedef enum {
    MAP_PASSES,
    MAP_OWED,
    MAP_RECORDS,
    MAP_VOUCHERS,
    MAP_REQUESTS,
    MAP_ACCOUNTS,
    MAP_COUNT
} snap_map_id;

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

static void put_body(sp_snapshot_encoder *w, const sp_ledger_state *state,
                     sp_snapshot_entries sorted[MAP_COUNT],
                     const sp_snapshot_entries *records_by_value) {
    assert(state != NULL);
    sp_snapshot_put_i64(w, state->budget_cents);
    sp_snapshot_put_i64(w, state->bank_cents);
    sp_snapshot_put_u64(w, state->events_applied);
    sp_snapshot_put_u64(w, state->events_skipped);
    /* Records first: a pass names its opening record, read before it. */
    static const snap_map_id order[MAP_COUNT] = {MAP_RECORDS,  MAP_PASSES,   MAP_OWED,
                                                 MAP_VOUCHERS, MAP_REQUESTS, MAP_ACCOUNTS};
    for (size_t m = 0; m < MAP_COUNT; m++) {
        const sp_snapshot_entries *e = &sorted[order[m]];
        sp_snapshot_put_u64(w, e->count);
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

static void put_header(sp_snapshot_encoder *w, const sp_ledger_state *state,
                       const sp_ledger_snapshot_position *position, const char *build_version) {
    assert(state != NULL);
    assert(position != NULL);
    sp_snapshot_put_preamble(w, snapshot_magic, sizeof snapshot_magic, SP_LEDGER_SNAPSHOT_FORMAT,
                             build_version);
    sp_snapshot_put_u32(w, (uint32_t)state->partition);
    sp_snapshot_put_position(w, position);
}

int sp_ledger_snapshot_encode(const sp_ledger_state *state,
                              const sp_ledger_snapshot_position *position,
                              const char *build_version, uint8_t **out, size_t *out_len,
                              sp_error *err) {
    assert(state != NULL);
    assert(position != NULL);
    assert(build_version != NULL);
    assert(strlen(build_version) <= SP_LEDGER_SNAPSHOT_VERSION_MAX);
    *out = NULL;
    *out_len = 0;
    sp_snapshot_entries sorted[MAP_COUNT] = {{0}};
    sp_snapshot_entries records_by_value = {0};
    sp_snapshot_encoder w = {0};
    bool memory_ok = true;
    for (size_t m = 0; m < MAP_COUNT; m++) {
        memory_ok = memory_ok &&
                    sp_snapshot_sorted_entries(map_of(state, (snap_map_id)m), &sorted[m]);
    }
    if (memory_ok) memory_ok = sp_snapshot_sorted_entries(&state->records, &records_by_value);
    if (memory_ok) {
        qsort(records_by_value.items, records_by_value.count, sizeof *records_by_value.items,
              sp_snapshot_entry_by_value);
        put_header(&w, state, position, build_version);
        put_body(&w, state, sorted, &records_by_value);
    }
    for (size_t m = 0; m < MAP_COUNT; m++) free(sorted[m].items);
    free(records_by_value.items);
    if (!memory_ok) {
        free(w.buf);
        return sp_error_set(err, 503, "unavailable", NULL, "out of memory for a snapshot");
    }
    char what[32];
    snprintf(what, sizeof what, "ledger partition %d", (int)state->partition);
    return sp_snapshot_encoder_finish(&w, what, out, out_len, err);
}

/* ------------------------------------------------------------ decode */

static void record_free(sp_ledger_record *rec) {
    assert(rec != NULL);
    free(rec->result_json);
    free(rec->code);
    free(rec->message);
    free(rec->field);
    free(rec);
}

typedef struct snap_decoding {
    sp_snapshot_decoder r;
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
    sp_snapshot_decoder *r = &d->r;
    uint8_t key[SP_KEY_LEN];
    sp_snapshot_get_bytes(r, key, SP_KEY_LEN, "record key");
    sp_ledger_record *rec = calloc(1, sizeof *rec);
    if (rec == NULL) {
        d->oom = true;
        return;
    }
    sp_snapshot_get_bytes(r, rec->request_hash, SP_KEY_LEN, "record hash");
    rec->ok = sp_snapshot_get_bool(r, "record ok");
    rec->http_status = (int)sp_snapshot_get_u32(r, "record status");
    rec->result_json = sp_snapshot_get_str_dup(r, "record result", &d->oom);
    rec->code = sp_snapshot_get_str_dup(r, "record code", &d->oom);
    rec->message = sp_snapshot_get_str_dup(r, "record message", &d->oom);
    rec->field = sp_snapshot_get_str_dup(r, "record field", &d->oom);
    rec->has_event_ref = sp_snapshot_get_bool(r, "record event ref");
    rec->event_partition = (int32_t)sp_snapshot_get_u32(r, "record partition");
    rec->event_offset = sp_snapshot_get_i64(r, "record offset");
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
    assert(d != NULL);
    sp_snapshot_decoder *r = &d->r;
    size_t count = sp_snapshot_get_count(r, SP_LEDGER_PASS_OPERATIONS_MAX, 45, "operation count");
    if (r->bad != NULL || count == 0) return;
    pass->operations = calloc(count, sizeof *pass->operations);
    if (pass->operations == NULL) {
        d->oom = true;
        return;
    }
    pass->operation_capacity = count;
    for (size_t i = 0; i < count && r->bad == NULL; i++) {
        sp_ledger_operation *op = &pass->operations[i];
        sp_snapshot_get_str(r, op->operation_id, sizeof op->operation_id, "operation id");
        sp_snapshot_get_str(r, op->partner_id, sizeof op->partner_id, "operation partner");
        sp_snapshot_get_str(r, op->category, sizeof op->category, "operation category");
        sp_snapshot_get_str(r, op->voucher_id, sizeof op->voucher_id, "operation voucher");
        op->amount_cents = sp_snapshot_get_i64(r, "operation amount");
        /* What a posting moved: 1 cent to the balance limit (the ledger asserts it). */
        if (r->bad == NULL &&
            (op->amount_cents <= 0 || op->amount_cents > SP_MONEY_BALANCE_ABS_CENTS_MAX)) {
            r->bad = "operation amount";
        }
        uint32_t status = sp_snapshot_get_u32(r, "operation status");
        if (status < SP_LEDGER_OPERATION_ACCEPTED || status > SP_LEDGER_OPERATION_PAID) {
            r->bad = "operation status";
        }
        op->status = (sp_ledger_operation_status)status;
        sp_snapshot_get_str(r, op->request_id, sizeof op->request_id, "operation request");
        pass->operation_count = i + 1;
    }
}

static void get_pass(snap_decoding *d) {
    assert(d != NULL);
    sp_snapshot_decoder *r = &d->r;
    uint8_t key[SP_KEY_LEN];
    sp_snapshot_get_bytes(r, key, SP_KEY_LEN, "pass key");
    sp_ledger_pass *pass = calloc(1, sizeof *pass);
    if (pass == NULL) {
        d->oom = true;
        return;
    }
    sp_snapshot_get_str(r, pass->pass_id, sizeof pass->pass_id, "pass id");
    sp_snapshot_get_str(r, pass->beneficiary_id, sizeof pass->beneficiary_id, "beneficiary id");
    pass->version = sp_snapshot_get_u64(r, "pass version");
    pass->envelope_count = sp_snapshot_get_count(r, SP_LEDGER_ENVELOPES_MAX, 1, "envelope count");
    for (size_t i = 0; i < pass->envelope_count && r->bad == NULL; i++) {
        sp_ledger_envelope *env = &pass->envelopes[i];
        sp_snapshot_get_str(r, env->category, sizeof env->category, "envelope category");
        env->balance_cents = sp_snapshot_get_i64(r, "envelope balance");
        env->has_end_date = sp_snapshot_get_bool(r, "envelope has end");
        env->end_date = (sp_date)sp_snapshot_get_i64(r, "envelope end");
        env->closed = sp_snapshot_get_bool(r, "envelope closed");
    }
    sp_snapshot_get_bytes(r, pass->open_request_hash, SP_KEY_LEN, "open hash");
    if (sp_snapshot_get_bool(r, "open record")) {
        uint8_t record_key[SP_KEY_LEN];
        sp_snapshot_get_bytes(r, record_key, SP_KEY_LEN, "open record key");
        pass->open_record = r->bad == NULL ? sp_map_get(&d->state->records, record_key) : NULL;
        if (pass->open_record == NULL && r->bad == NULL) r->bad = "open record unknown";
    }
    get_operations(d, pass);
    pass->active_voucher_count = (size_t)sp_snapshot_get_u64(r, "active vouchers");
    pass->closed = sp_snapshot_get_bool(r, "pass closed");
    pass->closed_at_ms = sp_snapshot_get_i64(r, "pass closed at");
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
    assert(d != NULL);
    sp_snapshot_decoder *r = &d->r;
    uint8_t key[SP_KEY_LEN];
    sp_snapshot_get_bytes(r, key, SP_KEY_LEN, "voucher key");
    sp_ledger_voucher *v = calloc(1, sizeof *v);
    if (v != NULL) {
        sp_snapshot_get_str(r, v->voucher_id, sizeof v->voucher_id, "voucher id");
        sp_snapshot_get_str(r, v->pass_id, sizeof v->pass_id, "voucher pass");
        sp_snapshot_get_str(r, v->number, sizeof v->number, "voucher number");
        sp_snapshot_get_str(r, v->category, sizeof v->category, "voucher category");
        sp_snapshot_get_str(r, v->partner_id, sizeof v->partner_id, "voucher partner");
        v->amount_cents = sp_snapshot_get_i64(r, "voucher amount");
        v->balance_cents = sp_snapshot_get_i64(r, "voucher balance");
        v->valid_until = (sp_date)sp_snapshot_get_i64(r, "voucher valid until");
        uint32_t status = sp_snapshot_get_u32(r, "voucher status");
        if (status < SP_LEDGER_VOUCHER_ACTIVE || status > SP_LEDGER_VOUCHER_EXPIRED) {
            r->bad = "voucher status";
        }
        v->status = (sp_ledger_voucher_status)status;
    }
    put_in(d, &d->state->vouchers, key, v);
}

static void get_request(snap_decoding *d) {
    assert(d != NULL);
    sp_snapshot_decoder *r = &d->r;
    uint8_t key[SP_KEY_LEN];
    sp_snapshot_get_bytes(r, key, SP_KEY_LEN, "request key");
    sp_ledger_refund_request *q = calloc(1, sizeof *q);
    if (q != NULL) {
        sp_snapshot_get_str(r, q->request_id, sizeof q->request_id, "request id");
        sp_snapshot_get_str(r, q->partner_id, sizeof q->partner_id, "request partner");
        sp_snapshot_get_str(r, q->kind, sizeof q->kind, "request kind");
        sp_snapshot_get_str(r, q->period, sizeof q->period, "request period");
        q->version = sp_snapshot_get_u64(r, "request version");
        uint32_t status = sp_snapshot_get_u32(r, "request status");
        if (status < SP_LEDGER_REFUND_OPENING || status > SP_LEDGER_REFUND_CANCELLED) {
            r->bad = "request status";
        }
        q->status = (sp_ledger_refund_status)status;
        q->part_count = (size_t)sp_snapshot_get_u64(r, "request parts");
        q->asked_operation_count = sp_snapshot_get_i64(r, "request asked");
        q->expected_total_cents = sp_snapshot_get_i64(r, "request expected");
        q->bank_account_missing = sp_snapshot_get_bool(r, "request bank missing");
        q->total_cents = sp_snapshot_get_i64(r, "request total");
        q->operation_count = sp_snapshot_get_i64(r, "request operations");
        sp_snapshot_get_str(r, q->reason, sizeof q->reason, "request reason");
        sp_snapshot_get_str(r, q->transfer_reference, sizeof q->transfer_reference,
                            "request transfer");
        sp_snapshot_get_str(r, q->paid_on, sizeof q->paid_on, "request paid on");
        q->opened_at_ms = sp_snapshot_get_i64(r, "request opened");
        q->updated_at_ms = sp_snapshot_get_i64(r, "request updated");
    }
    put_in(d, &d->state->refund_requests, key, q);
}

static void get_small(snap_decoding *d, bool is_owed) {
    assert(d != NULL);
    sp_snapshot_decoder *r = &d->r;
    uint8_t key[SP_KEY_LEN];
    sp_snapshot_get_bytes(r, key, SP_KEY_LEN, "account key");
    if (is_owed) {
        sp_ledger_owed *o = calloc(1, sizeof *o);
        if (o != NULL) {
            sp_snapshot_get_str(r, o->partner_id, sizeof o->partner_id, "owed partner");
            o->balance_cents = sp_snapshot_get_i64(r, "owed balance");
        }
        put_in(d, &d->state->owed, key, o);
    } else {
        sp_ledger_refund_account *a = calloc(1, sizeof *a);
        if (a != NULL) {
            sp_snapshot_get_str(r, a->request_id, sizeof a->request_id, "refund account request");
            a->balance_cents = sp_snapshot_get_i64(r, "refund account balance");
        }
        put_in(d, &d->state->refund_accounts, key, a);
    }
}

static void get_body(snap_decoding *d) {
    sp_snapshot_decoder *r = &d->r;
    sp_ledger_state *s = d->state;
    s->budget_cents = sp_snapshot_get_i64(r, "budget");
    s->bank_cents = sp_snapshot_get_i64(r, "bank");
    s->events_applied = sp_snapshot_get_u64(r, "applied");
    s->events_skipped = sp_snapshot_get_u64(r, "skipped");
    static const snap_map_id order[MAP_COUNT] = {MAP_RECORDS,  MAP_PASSES,   MAP_OWED,
                                                 MAP_VOUCHERS, MAP_REQUESTS, MAP_ACCOUNTS};
    for (size_t m = 0; m < MAP_COUNT && r->bad == NULL && !d->oom; m++) {
        const sp_map *map = map_of(s, order[m]);
        size_t count = sp_snapshot_get_count(r, map->entry_count_max, SP_KEY_LEN, "entry count");
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
static int get_header(sp_snapshot_decoder *r, int32_t partition, const char *build_version,
                      sp_ledger_snapshot_position *position, sp_error *err) {
    if (sp_snapshot_get_preamble(r, snapshot_magic, sizeof snapshot_magic,
                                 SP_LEDGER_SNAPSHOT_FORMAT, build_version, "a ledger", err) != 0) {
        return -1;
    }
    int32_t of_partition = (int32_t)sp_snapshot_get_u32(r, "partition");
    sp_snapshot_get_position(r, position);
    if (r->bad != NULL || of_partition != partition) {
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
    snap_decoding d = {0};
    if (sp_snapshot_decoder_open(&d.r, bytes, len, sizeof snapshot_magic, err) != 0) return NULL;
    if (get_header(&d.r, partition, build_version, position, err) != 0) return NULL;
    d.state = sp_ledger_state_new(partition, limits, directory, err);
    if (d.state == NULL) return NULL;
    get_body(&d);
    if (!d.oom && d.r.bad == NULL && d.r.pos != d.r.len) d.r.bad = "bytes after the body";
    if (d.oom || d.r.bad != NULL) {
        if (d.oom) {
            sp_error_set(err, 503, "unavailable", NULL, "out of memory reading a snapshot");
        } else {
            sp_error_set(err, 422, "snapshot_refused", NULL, "unreadable at %s (byte %zu)", d.r.bad,
                         d.r.pos);
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
