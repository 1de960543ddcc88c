/* sim_world.c - the simulated log and the transactions service's writers:
 * a command is decided and applied by the real ledger
 * (sp_ledger_decide/sp_ledger_apply), its event encoded by the real codec
 * into an envelope on the partition's event list, that envelope checked by
 * the projection's real row builder (no event a writer produces may be
 * poison), decoded again and applied to a shadow state (what a rebuild
 * would reach), and handed to the fold. A writer crash throws the live
 * state away and rebuilds it from the envelopes, as the service does at
 * every start and assignment.
 *
 * The one file-level mutable state of the simulation is the generator that
 * replaces libsodium's (libsodium's callbacks take no context): it is
 * reseeded at the start of every run, which is what makes a seed replay. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "sim_internal.h"
#include "sp_envelope.h"
#include "sp_kafka.h"
#include "projection/projection_rows.h"
#include "transactions/ledger_codec.h"
#include "transactions/ledger_snapshot.h"

/* ------------------------------------------------------------ the generator */

static uint64_t sodium_stream_state;

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static const char *stream_name(void) {
    return "solipass-sim-splitmix64";
}

static uint32_t stream_random(void) {
    return (uint32_t)(splitmix64(&sodium_stream_state) >> 32);
}

static void stream_buf(void *const buf, const size_t size) {
    uint8_t *out = buf;
    for (size_t i = 0; i < size; i += 8) {
        uint64_t v = splitmix64(&sodium_stream_state);
        size_t n = size - i < 8 ? size - i : 8;
        memcpy(out + i, &v, n);
    }
}

static randombytes_implementation stream_impl = {.implementation_name = stream_name,
                                                 .random = stream_random,
                                                 .stir = NULL,
                                                 .uniform = NULL,
                                                 .buf = stream_buf,
                                                 .close = NULL};

int sim_global_init(sp_error *err) {
    if (randombytes_set_implementation(&stream_impl) != 0 || sodium_init() < 0)
        return sp_error_set(err, 500, "sodium", NULL, "libsodium did not take the generator");
    return 0;
}

/* ------------------------------------------------------------ lookups */

int32_t sim_partition_of(const char *aggregate_id) {
    uint32_t h = 2166136261u; /* FNV-1a: where the broker's murmur2 would put it */
    for (const char *c = aggregate_id; *c != '\0'; c++) h = (h ^ (uint8_t)*c) * 16777619u;
    return (int32_t)(h % SIM_PARTITIONS);
}

int sim_find_op(const sim_world *w, const char *id) {
    for (size_t i = 0; i < w->op_count; i++)
        if (strcmp(w->ops[i].id, id) == 0) return (int)i;
    return -1;
}

int sim_find_request(const sim_world *w, const char *id) {
    for (size_t i = 0; i < w->request_count; i++)
        if (strcmp(w->requests[i], id) == 0) return (int)i;
    return -1;
}

int sim_find_pass(const sim_world *w, const char *id) {
    for (int i = 0; i < SIM_PASSES; i++)
        if (strcmp(w->pass_ids[i], id) == 0) return i;
    return -1;
}

int sim_find_partner(const sim_world *w, const char *id) {
    for (int i = 0; i < SIM_PARTNERS; i++)
        if (strcmp(w->partner_ids[i], id) == 0) return i;
    return -1;
}

static int find_voucher(const sim_world *w, const char *id) {
    for (size_t i = 0; i < w->voucher_count; i++)
        if (strcmp(w->vouchers[i].id, id) == 0) return (int)i;
    return -1;
}

/* ------------------------------------------------------------ the world */

sim_world *sim_world_new(sp_error *err) {
    sim_world *w = calloc(1, sizeof *w);
    if (w == NULL) goto oom;
    for (int p = 0; p < SIM_PARTITIONS; p++) {
        w->partitions[p].commands = calloc(SIM_LOG_MAX, sizeof(sim_cmd));
        w->partitions[p].events = calloc(SIM_LOG_MAX, sizeof(sim_event_entry));
        if (w->partitions[p].commands == NULL || w->partitions[p].events == NULL) goto oom;
    }
    w->sent = calloc(SIM_SENT_MAX, sizeof *w->sent);
    w->keys = calloc(SIM_KEYS_MAX, sizeof *w->keys);
    w->fresh = calloc(1, sizeof *w->fresh);
    w->driver_sent = calloc(1, sizeof *w->driver_sent);
    w->decision = calloc(1, sizeof *w->decision);
    w->scratch_event = calloc(1, sizeof *w->scratch_event);
    w->sweep_events = calloc(SIM_SWEEP_EVENTS_MAX, sizeof *w->sweep_events);
    w->row_buf = malloc(SP_PROJECTION_ROW_BYTES_MAX);
    w->view = calloc(1, sizeof *w->view);
    if (w->sent == NULL || w->keys == NULL || w->fresh == NULL || w->driver_sent == NULL ||
        w->decision == NULL || w->scratch_event == NULL || w->sweep_events == NULL ||
        w->row_buf == NULL || w->view == NULL)
        goto oom;
    return w;
oom:
    sim_world_free(w);
    sp_error_set(err, 503, "out_of_memory", NULL, "the simulated world does not fit");
    return NULL;
}

static void world_clear(sim_world *w) {
    for (int p = 0; p < SIM_PARTITIONS; p++) {
        sim_partition *part = &w->partitions[p];
        sp_ledger_state_free(part->state);
        sp_ledger_state_free(part->shadow);
        part->state = part->shadow = NULL;
        free(part->snapshot);
        part->snapshot = NULL;
        part->snapshot_len = 0;
        for (size_t i = 0; i < part->event_count; i++) free(part->events[i].bytes);
        part->event_count = part->command_count = part->committed = part->lag_steps = 0;
    }
    if (w->directory_ready) sp_ledger_directory_destroy(&w->directory);
    w->directory_ready = false;
}

void sim_world_free(sim_world *w) {
    if (w == NULL) return;
    world_clear(w);
    for (int p = 0; p < SIM_PARTITIONS; p++) {
        free(w->partitions[p].commands);
        free(w->partitions[p].events);
    }
    free(w->sent);
    free(w->keys);
    free(w->fresh);
    free(w->driver_sent);
    free(w->decision);
    free(w->scratch_event);
    free(w->sweep_events);
    free(w->row_buf);
    free(w->view);
    free(w);
}

static int add_partners(sim_world *w, sp_error *err) {
    static const char *const names[SIM_PARTNERS] = {"Stade Nautique", "Librairie des Arcades",
                                                    "Piscine du Port"};
    static const char *const categories[SIM_PARTNERS] = {"sport", "lecture", "sport"};
    if (sp_ledger_directory_init(&w->directory, 16, err) != 0) return -1;
    w->directory_ready = true;
    for (int i = 0; i < SIM_PARTNERS; i++) {
        sp_id_new(w->partner_ids[i]);
        sp_id_new(w->partner_actors[i]);
        do {
            sp_partner_code_new(w->partner_codes[i]);
        } while (sp_ledger_directory_find(&w->directory, w->partner_codes[i]) != NULL);
        if (sp_ledger_directory_add(&w->directory, w->partner_ids[i], w->partner_codes[i], names[i],
                                    categories[i], err) != 0)
            return -1;
    }
    return 0;
}

/* A fresh world for a run of seed: the generator reseeded, then every id
 * drawn from it, in the same order every time. */
static int world_reset(sim_world *w, uint64_t seed, sim_mutation mutation, sp_error *err) {
    world_clear(w);
    sodium_stream_state = seed ^ UINT64_C(0x5D1A5D1A5D1A5D1A);
    w->seed = seed;
    w->mutation = mutation;
    w->now_ms = SIM_T0_MS;
    w->limits = (sp_ledger_limits){.passes_max = 64,
                                   .commands_max = 100000,
                                   .partners_max = 16,
                                   .payment_cents_max = 100000,
                                   .credit_cents_max = 1000000,
                                   .vouchers_max = SIM_VOUCHERS_MAX,
                                   .voucher_validity_days = 12,
                                   .refund_requests_max = SIM_REQUESTS_MAX};
    if (add_partners(w, err) != 0) return -1;
    sp_id_new(w->admin);
    for (int i = 0; i < SIM_PASSES; i++) {
        sp_id_new(w->pass_ids[i]);
        sp_id_new(w->beneficiaries[i]);
    }
    for (int p = 0; p < SIM_PARTITIONS; p++) {
        w->partitions[p].state = sp_ledger_state_new(p, &w->limits, &w->directory, err);
        w->partitions[p].shadow = sp_ledger_state_new(p, &w->limits, &w->directory, err);
        if (w->partitions[p].state == NULL || w->partitions[p].shadow == NULL) return -1;
    }
    w->op_count = w->voucher_count = w->request_count = w->sent_count = 0;
    memset(w->keys, 0, SIM_KEYS_MAX * sizeof *w->keys);
    w->fold.ops_used = SIM_OPS_MAX;
    w->fold.vouchers_used = SIM_VOUCHERS_MAX;
    w->fold.requests_used = SIM_REQUESTS_MAX;
    w->fold.part_count = SIM_FOLD_PARTS_MAX;
    w->fold.balance_count = SIM_FOLD_BALANCES_MAX;
    sim_fold_reset(&w->fold);
    w->fresh->ops_used = SIM_OPS_MAX;
    w->fresh->vouchers_used = SIM_VOUCHERS_MAX;
    w->fresh->requests_used = SIM_REQUESTS_MAX;
    w->fresh->part_count = SIM_FOLD_PARTS_MAX;
    w->fresh->balance_count = SIM_FOLD_BALANCES_MAX;
    sim_fold_reset(w->fresh);
    sp_refunds_sent_init(w->driver_sent);
    memset(w->dirty, 1, sizeof w->dirty);
    w->fold_dirty = true;
    return 0;
}

/* ------------------------------------------------------------ commands */

int sim_send(sim_world *w, const sim_cmd *cmd, bool keep, sp_error *err) {
    sim_partition *part = &w->partitions[sim_partition_of(cmd->aggregate)];
    if (part->command_count == SIM_LOG_MAX)
        return sp_error_set(err, 507, "log_full", NULL, "a partition's command log is full");
    part->commands[part->command_count++] = *cmd;
    w->stats.commands++;
    if (keep && w->sent_count < SIM_SENT_MAX) w->sent[w->sent_count++] = *cmd;
    return 0;
}

static void view_of(const sim_world *w, const sim_cmd *s, sim_cmd_view *v) {
    memset(&v->c, 0, sizeof v->c);
    sp_ledger_command *c = &v->c;
    c->kind = s->kind;
    c->pass_id = s->aggregate;
    c->actor_id = s->actor;
    c->command_id = s->command_id;
    c->beneficiary_id = s->beneficiary;
    if (s->kind == SP_LEDGER_COMMAND_OPEN_PASS) {
        c->envelope_count = SIM_OPENED_CATEGORIES;
        c->envelope_categories[0] = SP_LEDGER_GENERAL_CATEGORY;
        c->envelope_end_dates[0] = "";
        c->envelope_categories[1] = "sport";
        c->envelope_end_dates[1] = s->end_date;
    }
    if (s->kind == SP_LEDGER_COMMAND_CREDIT_PASS) c->end_date = s->end_date;
    c->category = s->category;
    c->partner_code = s->partner_code;
    c->amount_cents = s->amount_cents;
    c->voucher_id = s->voucher_id;
    c->voucher_number = s->voucher_number;
    c->operation_id = s->operation_id;
    c->partner_id = s->partner_id;
    c->reference = "";
    c->request_id = s->request_id;
    c->refund_kind = s->refund_kind;
    c->period = s->period;
    for (size_t p = 0; p < s->part_count; p++) {
        for (size_t i = 0; i < s->part_op_count[p]; i++)
            v->ops[p][i] = w->ops[s->part_ops[p][i]].id;
        v->parts[p] = (sp_ledger_refund_part){.pass_id = w->pass_ids[s->part_pass[p]],
                                              .operation_ids = v->ops[p],
                                              .operation_id_count = s->part_op_count[p]};
    }
    c->parts = v->parts;
    c->part_count = s->kind == SP_LEDGER_COMMAND_OPEN_REFUND_REQUEST ? s->part_count : 0;
    c->expected_total_cents = s->expected_total_cents;
    c->total_cents = s->total_cents;
    c->operation_count = s->operation_count;
    c->code = s->code;
    c->message = s->message;
    c->transfer_reference = s->transfer_reference;
    c->paid_on = s->paid_on;
    if (s->kind == SP_LEDGER_COMMAND_RESERVE_OPERATIONS) {
        c->operation_ids = v->ops[0];
        c->operation_id_count = s->part_op_count[0];
    }
    c->skip_unavailable = s->skip_unavailable;
    c->reason = s->reason;
}

/* ------------------------------------------------------------ keys and outcomes */

static uint64_t hash_bytes(uint64_t h, const void *data, size_t len) {
    const uint8_t *b = data;
    for (size_t i = 0; i < len; i++) h = (h ^ b[i]) * UINT64_C(1099511628211);
    return h;
}

static uint64_t hash_text(uint64_t h, const char *text) {
    return hash_bytes(hash_bytes(h, text, strlen(text)), "|", 1);
}

static sim_key_slot *key_slot(sim_world *w, const char *aggregate, const char *actor,
                              const char *command_id, sp_error *err) {
    uint64_t h = hash_text(hash_text(hash_text(UINT64_C(14695981039346656037), aggregate), actor),
                           command_id);
    if (h == 0) h = 1;
    for (size_t probe = 0; probe < SIM_KEYS_MAX; probe++) {
        sim_key_slot *slot = &w->keys[(h + probe) & (SIM_KEYS_MAX - 1)];
        if (slot->hash == h) return slot;
        if (slot->hash == 0) {
            slot->hash = h;
            return slot;
        }
    }
    sp_error_set(err, 507, "keys_full", NULL, "more command keys than the simulation holds");
    return NULL;
}

static uint64_t body_hash(const sim_cmd *cmd) {
    return hash_bytes(UINT64_C(14695981039346656037), cmd, offsetof(sim_cmd, conflict_probe));
}

static uint64_t record_hash(const sp_ledger_record *r) {
    uint64_t h = hash_bytes(UINT64_C(14695981039346656037), &r->http_status, sizeof r->http_status);
    return hash_text(hash_text(hash_text(h, r->ok ? "ok" : "ko"), r->result_json), r->code);
}

static int violation(sim_failure *f, const char *fmt, const char *a, const char *b) {
    snprintf(f->message, sizeof f->message, fmt, a, b);
    return 1;
}

/* What the client was answered: the same command (same body) always gets
 * the first recorded answer; another body under the same id a conflict. */
static int check_outcome(sim_world *w, const sim_cmd *cmd, const sp_ledger_record *record,
                         const sp_error *refusal, sim_failure *f, sp_error *err) {
    sim_key_slot *slot = key_slot(w, cmd->aggregate, cmd->actor, cmd->command_id, err);
    if (slot == NULL) return -1;
    uint64_t body = body_hash(cmd);
    if (record != NULL) {
        if (!slot->has_outcome) {
            if (cmd->conflict_probe) return 0; /* the first body was refused: this one is first */
            slot->has_outcome = true;
            slot->body_hash = body;
            slot->http_status = record->http_status;
            slot->outcome_hash = record_hash(record);
            return 0;
        }
        if (cmd->conflict_probe && body != slot->body_hash)
            return violation(f, "command %s with another body answered %s instead of a conflict",
                             cmd->command_id, "the first outcome");
        if (body == slot->body_hash && record_hash(record) != slot->outcome_hash)
            return violation(f, "command %s sent again got another answer than the first (%s)",
                             cmd->command_id, record->result_json);
        return 0;
    }
    if (slot->has_outcome && body == slot->body_hash && !cmd->conflict_probe)
        return violation(f, "command %s sent again was refused (%s) instead of replayed",
                         cmd->command_id, refusal->code);
    if (slot->has_outcome && cmd->conflict_probe && body != slot->body_hash &&
        strcmp(refusal->code, "idempotency_conflict") != 0)
        return violation(f, "command %s with another body refused with %s, not a conflict",
                         cmd->command_id, refusal->code);
    return 0;
}

/* ------------------------------------------------------------ the event log */

static int register_op(sim_world *w, const sp_ledger_event *e, int pass, sp_error *err) {
    if (e->operation_id[0] == '\0' || sim_find_op(w, e->operation_id) >= 0) return 0;
    if (w->op_count == SIM_OPS_MAX)
        return sp_error_set(err, 507, "ops_full", NULL,
                            "more operations than the simulation holds");
    sim_op_entry *o = &w->ops[w->op_count++];
    memset(o, 0, sizeof *o);
    snprintf(o->id, sizeof o->id, "%s", e->operation_id);
    o->pass = pass;
    o->partner = sim_find_partner(w, e->partner_id);
    o->amount_cents = e->amount_cents;
    return 0;
}

static int register_ids(sim_world *w, const sp_ledger_event *e, int pass, sp_error *err) {
    switch (e->kind) {
    case SP_LEDGER_EVENT_PASS_CREDITED:
    case SP_LEDGER_EVENT_PAYMENT_ACCEPTED:
    case SP_LEDGER_EVENT_VOUCHER_REDEEMED:
        if (e->kind != SP_LEDGER_EVENT_PASS_CREDITED) w->stats.payments++;
        return register_op(w, e, pass, err);
    case SP_LEDGER_EVENT_ENVELOPE_EXPIRED:
        return e->amount_cents > 0 ? register_op(w, e, pass, err) : 0;
    case SP_LEDGER_EVENT_VOUCHER_ISSUED:
        if (w->voucher_count == SIM_VOUCHERS_MAX)
            return sp_error_set(err, 507, "vouchers_full", NULL, "too many vouchers");
        snprintf(w->vouchers[w->voucher_count].id, SIM_ID_SIZE, "%s", e->voucher_id);
        snprintf(w->vouchers[w->voucher_count].number, sizeof w->vouchers[0].number, "%s",
                 e->voucher_number);
        w->vouchers[w->voucher_count++].pass = pass;
        return 0;
    case SP_LEDGER_EVENT_PASS_CLOSED:
        w->stats.closes++;
        w->stats.closed_vouchers += e->changed_count;
        return 0;
    case SP_LEDGER_EVENT_REFUND_REQUEST_OPENED:
        if (sim_find_request(w, e->pass_id) >= 0) return 0;
        if (w->request_count == SIM_REQUESTS_MAX)
            return sp_error_set(err, 507, "requests_full", NULL, "too many refund requests");
        snprintf(w->requests[w->request_count++], SIM_ID_SIZE, "%s", e->pass_id);
        w->stats.refund_requests++;
        return 0;
    default: return 0;
    }
}

static void fev_refunds(const sim_world *w, const sp_ledger_event *d, const sp_ledger_event *o,
                        sim_fev *f) {
    snprintf(f->refund_kind, sizeof f->refund_kind, "%s", d->refund_kind);
    snprintf(f->period, sizeof f->period, "%s", d->period);
    f->expected_total_cents = d->expected_total_cents;
    f->total_cents = d->total_cents;
    f->operation_count = d->operation_count;
    snprintf(f->code, sizeof f->code, "%s", d->code);
    snprintf(f->reason, sizeof f->reason, "%s", d->reason);
    f->refusal_op = sim_find_op(w, d->operation_id);
    /* Bounded by the commands the simulation builds (sim_driver.c refuses more). */
    f->changed_count = d->changed_count < SIM_PART_OPS_MAX ? d->changed_count : SIM_PART_OPS_MAX;
    for (size_t i = 0; i < f->changed_count; i++)
        f->changed[i] = (uint16_t)sim_find_op(w, d->operation_ids[i]);
    /* The parts travel in the envelope; the decoded event keeps only their
     * count, so the fold reads them from the event that was encoded. */
    f->part_count = o->parts != NULL ? o->part_count : 0;
    if (f->part_count > SIM_PARTS_MAX) f->part_count = SIM_PARTS_MAX;
    for (size_t p = 0; p < f->part_count && p < SIM_PARTS_MAX; p++) {
        f->part_pass[p] = sim_find_pass(w, o->parts[p].pass_id);
        f->part_op_count[p] = o->parts[p].operation_id_count < SIM_PART_OPS_MAX
                                  ? o->parts[p].operation_id_count
                                  : SIM_PART_OPS_MAX;
        for (size_t i = 0; i < f->part_op_count[p] && i < SIM_PART_OPS_MAX; i++)
            f->part_ops[p][i] = (uint16_t)sim_find_op(w, o->parts[p].operation_ids[i]);
    }
}

/* A close's returns: envelopes by category, vouchers by registry index
 * (the sim's passes hold at most SIM_VOUCHERS_MAX, and a close at most 120). */
static void fev_closed(const sim_world *w, const sp_ledger_event *d, sim_fev *f) {
    for (size_t i = 0; i < f->envelope_count; i++)
        f->close_envelope_cents[i] = d->close_envelope_cents[i];
    f->changed_count = d->changed_count < SIM_PART_OPS_MAX ? d->changed_count : SIM_PART_OPS_MAX;
    for (size_t i = 0; i < f->changed_count; i++) {
        f->changed[i] = (uint16_t)find_voucher(w, d->operation_ids[i]);
        f->close_voucher_cents[i] = d->close_voucher_cents[i];
    }
}

static void fev_of(const sim_world *w, int32_t partition, const sp_ledger_event *d,
                   const sp_ledger_event *o, sim_fev *f) {
    memset(f, 0, offsetof(sim_fev, part_ops));
    f->kind = d->kind;
    snprintf(f->aggregate, sizeof f->aggregate, "%s", d->pass_id);
    f->version = d->version;
    f->at_ms = d->occurred_at_ms;
    f->partition = partition;
    f->pass = sim_find_pass(w, d->pass_id);
    f->op = sim_find_op(w, d->operation_id);
    f->voucher = find_voucher(w, d->voucher_id);
    f->request = sim_find_request(w, d->request_id[0] != '\0' ? d->request_id : d->pass_id);
    snprintf(f->category, sizeof f->category, "%s", d->category);
    f->amount_cents = d->amount_cents;
    f->envelope_after_cents = d->envelope_balance_after_cents;
    f->pass_after_cents = d->pass_balance_after_cents;
    snprintf(f->partner_id, sizeof f->partner_id, "%s", d->partner_id);
    f->envelope_count = d->envelope_count < SIM_CATEGORIES ? d->envelope_count : SIM_CATEGORIES;
    for (size_t i = 0; i < f->envelope_count; i++) {
        snprintf(f->envelope_categories[i], sizeof f->envelope_categories[i], "%s",
                 d->envelopes[i].category);
        snprintf(f->envelope_end_dates[i], sizeof f->envelope_end_dates[i], "%s",
                 d->envelopes[i].end_date);
    }
    if (d->kind == SP_LEDGER_EVENT_PASS_CREDITED)
        snprintf(f->end_date, sizeof f->end_date, "%s", d->end_date);
    f->posting_count = d->posting_count;
    if (d->posting_count > 0) {
        snprintf(f->debit, sizeof f->debit, "%s", d->postings[0].debit_account);
        snprintf(f->credit, sizeof f->credit, "%s", d->postings[0].credit_account);
        f->posting_cents = d->postings[0].amount_cents;
    }
    f->to_envelope = d->posting_count == 1 && strcmp(d->postings[0].credit_account, "budget") != 0;
    fev_refunds(w, d, o, f);
    if (d->kind == SP_LEDGER_EVENT_PASS_CLOSED) fev_closed(w, d, f);
}

/* Encodes the event as the service produces it; *bytes is malloc'd. */
static int encode(const sp_ledger_event *event, uint8_t **bytes, size_t *len, sp_error *err) {
    sp_ledger_event_pb *holder = calloc(1, sizeof *holder);
    if (holder == NULL) return sp_error_set(err, 503, "out_of_memory", NULL, "event holder");
    int rc = -1;
    const ProtobufCMessage *payload = sp_ledger_event_to_pb(event, holder);
    if (payload == NULL) {
        sp_error_set(err, 500, "unencodable", NULL, "the codec refused a decided event");
        goto done;
    }
    sp_envelope_meta meta;
    sp_ledger_event_meta(event, "", &meta);
    rc = sp_envelope_pack(&meta, payload, bytes, len, NULL, err);
done:
    sp_ledger_event_pb_release(holder);
    free(holder);
    return rc;
}

static int decode(const uint8_t *bytes, size_t len, sp_ledger_event *out, sp_error *err) {
    Solipass__Envelope *envelope = sp_envelope_unpack(bytes, len, err);
    if (envelope == NULL) return -1;
    sp_ledger_event_clear(out);
    int rc = sp_ledger_event_from_envelope(envelope, out, err);
    solipass__envelope__free_unpacked(envelope, NULL);
    return rc;
}

/* The projection's row builder must take every event a writer produces. */
static int check_projection_row(sim_world *w, int32_t p, size_t offset, const uint8_t *bytes,
                                size_t len, sim_failure *f) {
    sp_kafka_msg msg = {.topic = SP_TOPIC_LEDGER_EVENTS,
                        .partition = p,
                        .offset = (int64_t)offset,
                        .key = NULL,
                        .key_len = 0,
                        .value = bytes,
                        .value_len = len,
                        .timestamp_ms = w->now_ms};
    sp_projection_row row;
    sp_error why;
    sp_error_clear(&why);
    if (sp_projection_row_build(&msg, w->row_buf, SP_PROJECTION_ROW_BYTES_MAX, &row, &why) == 0)
        return 0;
    return violation(f, "the projection takes a produced event for poison: %s (%s)", why.code,
                     why.message);
}

/* The operations an event changes, and their statuses before it. */
typedef struct op_moves {
    size_t count;
    const char *ids[SIM_PART_OPS_MAX];
    sp_ledger_operation_status before[SIM_PART_OPS_MAX];
} op_moves;

static sp_ledger_operation_status status_of(const sp_ledger_state *s, const char *pass_id,
                                            const char *op_id) {
    const sp_ledger_pass *pass = sp_ledger_pass_find(s, pass_id);
    const sp_ledger_operation *op = pass != NULL ? sp_ledger_operation_find(pass, op_id) : NULL;
    return op != NULL ? op->status : 0;
}

static void moves_before(const sp_ledger_state *s, const sp_ledger_event *e, op_moves *m) {
    m->count = 0;
    switch (e->kind) {
    case SP_LEDGER_EVENT_PAYMENT_ACCEPTED:
    case SP_LEDGER_EVENT_VOUCHER_REDEEMED:
    case SP_LEDGER_EVENT_OPERATION_CANCELLED: m->ids[m->count++] = e->operation_id; break;
    case SP_LEDGER_EVENT_OPERATIONS_RESERVED:
    case SP_LEDGER_EVENT_OPERATIONS_RELEASED:
    case SP_LEDGER_EVENT_OPERATIONS_SETTLED:
        for (size_t i = 0; i < e->changed_count && i < SIM_PART_OPS_MAX; i++)
            m->ids[m->count++] = e->operation_ids[i];
        break;
    default: break;
    }
    for (size_t i = 0; i < m->count; i++) m->before[i] = status_of(s, e->pass_id, m->ids[i]);
}

/* Each event moves its operations one allowed step: new -> accepted,
 * accepted -> cancelled | requested, requested -> paid | accepted. */
static int moves_check(const sp_ledger_state *s, const sp_ledger_event *e, const op_moves *m,
                       sim_failure *f) {
    sp_ledger_operation_status from = 0, to = 0;
    switch (e->kind) {
    case SP_LEDGER_EVENT_PAYMENT_ACCEPTED:
    case SP_LEDGER_EVENT_VOUCHER_REDEEMED:
        from = 0;
        to = SP_LEDGER_OPERATION_ACCEPTED;
        break;
    case SP_LEDGER_EVENT_OPERATION_CANCELLED:
        from = SP_LEDGER_OPERATION_ACCEPTED;
        to = SP_LEDGER_OPERATION_CANCELLED;
        break;
    case SP_LEDGER_EVENT_OPERATIONS_RESERVED:
        from = SP_LEDGER_OPERATION_ACCEPTED;
        to = SP_LEDGER_OPERATION_REQUESTED;
        break;
    case SP_LEDGER_EVENT_OPERATIONS_RELEASED:
        from = SP_LEDGER_OPERATION_REQUESTED;
        to = SP_LEDGER_OPERATION_ACCEPTED;
        break;
    case SP_LEDGER_EVENT_OPERATIONS_SETTLED:
        from = SP_LEDGER_OPERATION_REQUESTED;
        to = SP_LEDGER_OPERATION_PAID;
        break;
    default: return 0;
    }
    for (size_t i = 0; i < m->count; i++) {
        sp_ledger_operation_status after = status_of(s, e->pass_id, m->ids[i]);
        if (m->before[i] != from || after != to) {
            snprintf(f->message, sizeof f->message,
                     "%s moved operation %s from status %d to %d (allowed: %d to %d)",
                     sp_ledger_event_type(e->kind), m->ids[i], (int)m->before[i], (int)after,
                     (int)from, (int)to);
            return 1;
        }
    }
    return 0;
}

/* A closed pass is never credited, paid, given or spending a voucher, nor
 * closed again. */
static int closed_check_before(const sp_ledger_state *s, const sp_ledger_event *e, sim_failure *f) {
    const sp_ledger_pass *pass = sp_ledger_pass_find(s, e->pass_id);
    if (pass == NULL || !pass->closed) return 0;
    if (e->kind == SP_LEDGER_EVENT_PASS_CREDITED || e->kind == SP_LEDGER_EVENT_PAYMENT_ACCEPTED ||
        e->kind == SP_LEDGER_EVENT_VOUCHER_ISSUED || e->kind == SP_LEDGER_EVENT_VOUCHER_REDEEMED ||
        e->kind == SP_LEDGER_EVENT_PASS_CLOSED)
        return violation(f, "%s on the closed pass %s", sp_ledger_event_type(e->kind), e->pass_id);
    return 0;
}

/* Once closed, a pass holds nothing: every envelope at 0, no active voucher. */
static int closed_check_after(const sim_world *w, const sp_ledger_state *s,
                              const sp_ledger_event *e, sim_failure *f) {
    const sp_ledger_pass *pass = sp_ledger_pass_find(s, e->pass_id);
    if (pass == NULL || !pass->closed) return 0;
    for (size_t i = 0; i < pass->envelope_count; i++)
        if (pass->envelopes[i].balance_cents != 0 || !pass->envelopes[i].closed)
            return violation(f, "the closed pass %s holds money in %s", e->pass_id,
                             pass->envelopes[i].category);
    int index = sim_find_pass(w, e->pass_id);
    for (size_t i = 0; i < w->voucher_count; i++) {
        if (w->vouchers[i].pass != index) continue;
        const sp_ledger_voucher *v = sp_ledger_voucher_find(s, w->vouchers[i].id);
        if (v != NULL && v->status == SP_LEDGER_VOUCHER_ACTIVE)
            return violation(f, "the closed pass %s keeps the active voucher %s", e->pass_id,
                             v->voucher_id);
    }
    return 0;
}

/* Puts a decided (and applied) event on partition p's log: 0, 1 when an
 * invariant broke (f), -1 when the simulation cannot go on (err). */
static int append_event(sim_world *w, int32_t p, const sp_ledger_event *event,
                        sp_ledger_record *record, sim_failure *f, sp_error *err) {
    sim_partition *part = &w->partitions[p];
    if (part->event_count == SIM_LOG_MAX)
        return sp_error_set(err, 507, "log_full", NULL, "a partition's event log is full");
    sim_event_entry *entry = &part->events[part->event_count];
    w->dirty[p] = true;
    if (encode(event, &entry->bytes, &entry->len, err) != 0) return -1;
    size_t offset = part->event_count++;
    w->stats.events++;
    if (record != NULL) sp_ledger_record_set_event_ref(record, p, (int64_t)offset);
    if (check_projection_row(w, p, offset, entry->bytes, entry->len, f) != 0) return 1;
    sp_ledger_event *decoded = w->scratch_event;
    if (decode(entry->bytes, entry->len, decoded, err) != 0) return -1;
    if (decoded->command_id[0] != '\0') {
        sim_key_slot *slot = key_slot(w, decoded->pass_id, decoded->actor_id, decoded->command_id,
                                      err);
        if (slot == NULL) return -1;
        if (slot->applied)
            return violation(f, "command %s of %s applied twice", decoded->command_id,
                             decoded->pass_id);
        slot->applied = true;
    }
    if (closed_check_before(part->shadow, decoded, f) != 0) return 1;
    op_moves moves;
    moves_before(part->shadow, decoded, &moves);
    sp_ledger_applied applied;
    sp_error why;
    sp_error_clear(&why);
    if (sp_ledger_apply(part->shadow, decoded, &applied, &why) != 0 || applied.skipped)
        return violation(f, "an event on the log does not apply to a rebuild: %s %s", why.code,
                         why.message);
    if (moves_check(part->shadow, decoded, &moves, f) != 0) return 1;
    if (closed_check_after(w, part->shadow, decoded, f) != 0) return 1;
    if (applied.record != NULL) sp_ledger_record_set_event_ref(applied.record, p, (int64_t)offset);
    if (register_ids(w, decoded, sim_find_pass(w, decoded->pass_id), err) != 0) return -1;
    fev_of(w, p, decoded, event, &entry->fev);
    return 0;
}

/* ------------------------------------------------------------ the writer */

static int count_answer(sim_world *w, const sp_ledger_decision *d) {
    if (d->kind == SP_LEDGER_DECIDED_REPLAY) w->stats.replays++;
    if (d->kind == SP_LEDGER_DECIDED_REFUSED ||
        (d->kind == SP_LEDGER_DECIDED_EVENT && d->event.kind == SP_LEDGER_EVENT_COMMAND_REJECTED))
        w->stats.rejections++;
    return 0;
}

/* Decides and applies one command; produces its event and answers it
 * unless `produce` is false (the process dies before its flush). */
static int writer_handle(sim_world *w, int32_t p, const sim_cmd *cmd, bool produce, sim_failure *f,
                         sp_error *err) {
    view_of(w, cmd, w->view);
    w->dirty[p] = true;
    sp_ledger_state *state = w->partitions[p].state;
    sp_ledger_decision *d = w->decision;
    sp_ledger_decide(state, &w->view->c, w->now_ms, d);
    count_answer(w, d);
    if (d->kind == SP_LEDGER_DECIDED_REPLAY)
        return produce ? check_outcome(w, cmd, d->record, NULL, f, err) : 0;
    if (d->kind == SP_LEDGER_DECIDED_REFUSED)
        return produce ? check_outcome(w, cmd, NULL, &d->error, f, err) : 0;
    sp_ledger_applied applied;
    sp_error why;
    sp_error_clear(&why);
    if (sp_ledger_apply(state, &d->event, &applied, &why) != 0 || applied.skipped ||
        applied.record == NULL)
        return violation(f, "a decided event did not apply to the state it was decided from: %s %s",
                         why.code, why.message);
    if (!produce) return 0;
    int rc = append_event(w, p, &d->event, applied.record, f, err);
    if (rc != 0) return rc;
    return check_outcome(w, cmd, applied.record, NULL, f, err);
}

int sim_writer_turn(sim_world *w, int32_t p, size_t count, sim_failure *f, sp_error *err) {
    sim_partition *part = &w->partitions[p];
    for (size_t i = 0; i < count && part->committed < part->command_count; i++) {
        int rc = writer_handle(w, p, &part->commands[part->committed], true, f, err);
        if (rc != 0) return rc;
        part->committed++;
    }
    return 0;
}

/* The service's start: a new state, every event of the partition applied. */
int sim_rebuild(sim_world *w, int32_t p, sp_ledger_state **out, sim_failure *f, sp_error *err) {
    sim_partition *part = &w->partitions[p];
    sp_ledger_state *state = sp_ledger_state_new(p, &w->limits, &w->directory, err);
    if (state == NULL) return -1;
    for (size_t i = 0; i < part->event_count; i++) {
        if (decode(part->events[i].bytes, part->events[i].len, w->scratch_event, err) != 0) {
            sp_ledger_state_free(state);
            return -1;
        }
        sp_ledger_applied applied;
        sp_error why;
        sp_error_clear(&why);
        if (sp_ledger_apply(state, w->scratch_event, &applied, &why) != 0) {
            sp_ledger_state_free(state);
            return violation(f, "a rebuild refused an event of its own log: %s %s", why.code,
                             why.message);
        }
        if (applied.record != NULL) sp_ledger_record_set_event_ref(applied.record, p, (int64_t)i);
    }
    *out = state;
    return 0;
}

#define SIM_BUILD_VERSION "sim"

/* Where the partition's log stands: its next offset, and its last event. */
static int log_position(sim_world *w, int32_t p, sp_ledger_snapshot_position *pos, sp_error *err) {
    sim_partition *part = &w->partitions[p];
    memset(pos, 0, sizeof *pos);
    pos->next_offset = (int64_t)part->event_count;
    if (part->event_count == 0) return 0;
    const sim_event_entry *last = &part->events[part->event_count - 1];
    if (decode(last->bytes, last->len, w->scratch_event, err) != 0) return -1;
    snprintf(pos->last_aggregate_id, sizeof pos->last_aggregate_id, "%s",
             w->scratch_event->pass_id);
    pos->last_version = w->scratch_event->version;
    snprintf(pos->last_command_id, sizeof pos->last_command_id, "%s", w->scratch_event->command_id);
    return 0;
}

int sim_writer_snapshot(sim_world *w, int32_t p, sp_error *err) {
    sim_partition *part = &w->partitions[p];
    sp_ledger_snapshot_position pos;
    if (log_position(w, p, &pos, err) != 0) return -1;
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (sp_ledger_snapshot_encode(part->state, &pos, SIM_BUILD_VERSION, &bytes, &len, err) != 0) {
        return -1;
    }
    free(part->snapshot);
    part->snapshot = bytes;
    part->snapshot_len = len;
    w->stats.snapshots++;
    return 0;
}

/* The service's start from its snapshot: the snapshot decoded, checked
 * against the log (its last event is the one the log holds there), then
 * the events after it applied. It must equal the rebuild from the whole
 * log (`full`), command outcomes and event references included. */
static int restart_from_snapshot(sim_world *w, int32_t p, const sp_ledger_state *full,
                                 sp_ledger_state **out, sim_failure *f, sp_error *err) {
    sim_partition *part = &w->partitions[p];
    sp_ledger_snapshot_position pos, at_log;
    sp_error why;
    sp_error_clear(&why);
    sp_ledger_state *state = sp_ledger_snapshot_decode(part->snapshot, part->snapshot_len, p,
                                                       &w->limits, &w->directory, SIM_BUILD_VERSION,
                                                       &pos, &why);
    if (state == NULL)
        return violation(f, "a snapshot of its own was refused: %s %s", why.code, why.message);
    size_t events_at_snapshot = part->event_count;
    part->event_count = (size_t)pos.next_offset;
    if (pos.next_offset > (int64_t)events_at_snapshot) {
        sp_ledger_state_free(state);
        return violation(f, "a snapshot stands past its log's end%s%s", "", "");
    }
    int rc = log_position(w, p, &at_log, err);
    part->event_count = events_at_snapshot;
    if (rc != 0) {
        sp_ledger_state_free(state);
        return -1;
    }
    if (strcmp(at_log.last_aggregate_id, pos.last_aggregate_id) != 0 ||
        at_log.last_version != pos.last_version) {
        sp_ledger_state_free(state);
        return violation(f, "a snapshot disagrees with its log at %s %s", pos.last_aggregate_id,
                         "");
    }
    for (size_t i = (size_t)pos.next_offset; i < part->event_count; i++) {
        sp_ledger_applied applied;
        if (decode(part->events[i].bytes, part->events[i].len, w->scratch_event, err) != 0 ||
            sp_ledger_apply(state, w->scratch_event, &applied, &why) != 0) {
            sp_ledger_state_free(state);
            return violation(f, "the log after a snapshot does not apply to it: %s %s", why.code,
                             why.message);
        }
        if (applied.record != NULL) sp_ledger_record_set_event_ref(applied.record, p, (int64_t)i);
    }
    bool equal = false;
    if (sp_ledger_snapshot_equal(state, full, &equal, err) != 0 || !equal) {
        sp_ledger_state_free(state);
        return equal ? -1
                     : violation(f,
                                 "snapshot + the log after it differs from the whole "
                                 "log's rebuild%s%s",
                                 "", "");
    }
    *out = state;
    w->stats.snapshot_restarts++;
    return 0;
}

/* Takes up to count commands and produces their events, but dies before
 * the commit (and, when lose_last, before the last event's flush): the
 * commands come again to a state rebuilt from the log - from the
 * partition's last snapshot and the events after it when from_snapshot. */
int sim_writer_crash(sim_world *w, int32_t p, size_t count, bool lose_last, bool from_snapshot,
                     sim_failure *f, sp_error *err) {
    sim_partition *part = &w->partitions[p];
    size_t cursor = part->committed;
    for (size_t i = 0; i < count && cursor < part->command_count; i++, cursor++) {
        bool last = i + 1 == count || cursor + 1 == part->command_count;
        int rc = writer_handle(w, p, &part->commands[cursor], !(lose_last && last), f, err);
        if (rc != 0) return rc;
    }
    sp_ledger_state *fresh = NULL;
    int rc = sim_rebuild(w, p, &fresh, f, err);
    if (rc != 0) return rc;
    if (from_snapshot && part->snapshot != NULL) {
        sp_ledger_state *restored = NULL;
        rc = restart_from_snapshot(w, p, fresh, &restored, f, err);
        sp_ledger_state_free(fresh);
        if (rc != 0) return rc;
        fresh = restored;
    }
    sp_ledger_state_free(part->state);
    part->state = fresh;
    w->dirty[p] = true;
    w->stats.crashes++;
    return 0;
}

int sim_sweep_turn(sim_world *w, int32_t p, sim_failure *f, sp_error *err) {
    sp_ledger_state *state = w->partitions[p].state;
    w->dirty[p] = true;
    for (int round = 0; round < 2; round++) {
        size_t count = 0;
        sp_error why;
        sp_error_clear(&why);
        int rc = round == 0 ? sp_ledger_sweep_expiries(state, w->now_ms, w->sweep_events,
                                                       SIM_SWEEP_EVENTS_MAX, &count, &why)
                            : sp_ledger_sweep_vouchers(state, w->now_ms, w->sweep_events,
                                                       SIM_SWEEP_EVENTS_MAX, &count, &why);
        if (rc != 0)
            return violation(f, "a sweep broke an invariant: %s %s", why.code, why.message);
        for (size_t i = 0; i < count; i++) {
            rc = append_event(w, p, &w->sweep_events[i], NULL, f, err);
            if (rc != 0) return rc;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ the fold */

int sim_fold_turn(sim_world *w, int32_t p, size_t count, sp_error *err) {
    sim_partition *part = &w->partitions[p];
    bool check = w->mutation != SIM_MUTATION_FOLD_NO_VERSION_CHECK;
    w->fold_dirty = true;
    for (size_t i = 0; i < count && w->fold.next[p] < part->event_count; i++) {
        sim_fold_apply(&w->fold, &part->events[w->fold.next[p]++].fev, check,
                       (const char(*)[SIM_ID_SIZE])w->partner_ids, w->vouchers);
        if (w->fold.next[p] > w->fold.read[p]) w->fold.read[p] = w->fold.next[p];
        if (w->fold.part_count == SIM_FOLD_PARTS_MAX ||
            w->fold.balance_count == SIM_FOLD_BALANCES_MAX)
            return sp_error_set(err, 507, "fold_full", NULL, "the fold's tables are full");
    }
    return 0;
}

/* A fold of the log from nothing, up to the furthest the live fold read
 * (a redelivery moves its position back, not what its rows show). */
void sim_fold_fresh(sim_world *w) {
    sim_fold_reset(w->fresh);
    for (int p = 0; p < SIM_PARTITIONS; p++) {
        for (size_t i = 0; i < w->fold.read[p]; i++)
            sim_fold_apply(w->fresh, &w->partitions[p].events[i].fev, true,
                           (const char(*)[SIM_ID_SIZE])w->partner_ids, w->vouchers);
        w->fresh->next[p] = w->fresh->read[p] = w->fold.read[p];
    }
}

int sim_world_start(sim_world *w, uint64_t seed, sim_mutation mutation, sp_error *err) {
    memset(&w->stats, 0, sizeof w->stats);
    return world_reset(w, seed, mutation, err);
}
