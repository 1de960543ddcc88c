/* service.c - the transactions service's life: start-up checks, the partner
 * directory, rebuilding a partition's state from the ledger events when it is
 * assigned, the poll loop, the periodic expiry sweep and the metrics lines.
 * One polled batch of commands is handled in service_batch.c. */
#include "service.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "ledger_codec.h"
#include "service_internal.h"
#include <sodium.h>

#include "sp_clock.h"

static void text_of(char *out, size_t out_size, int64_t value) {
    snprintf(out, out_size, "%" PRId64, value);
}

/* ------------------------------------------------------------ partner directory */

static void partner_message(tx_service *svc, const sp_kafka_msg *msg) {
    svc->partners_next_offset = msg->offset + 1;
    sp_error why;
    sp_error_clear(&why);
    Solipass__Envelope *envelope = sp_envelope_unpack(msg->value, msg->value_len, &why);
    bool added = false;
    if (envelope != NULL &&
        sp_ledger_directory_apply_envelope(&svc->directory, envelope, &added, &why) == 0) {
        solipass__envelope__free_unpacked(envelope, NULL);
        return;
    }
    if (envelope != NULL) solipass__envelope__free_unpacked(envelope, NULL);
    char offset[24];
    text_of(offset, sizeof offset, msg->offset);
    /* The accounts service dead-letters its own poison; here it only means a partner unknown. */
    sp_log_warn(svc->log, "accounts event ignored", "offset", offset, "code", why.code, "detail",
                why.message, NULL);
}

/* Takes up to batches_max batches until deadline_ms; stops at until_offset
 * (when >= 0), or at the first empty poll once the deadline has passed. */
static int partners_read(tx_service *svc, int64_t until_offset, int64_t deadline_ms,
                         int batches_max, sp_error *err) {
    for (int b = 0; b < batches_max; b++) {
        if (until_offset >= 0 && svc->partners_next_offset >= until_offset) return 0;
        int64_t left_ms = deadline_ms - sp_clock_monotonic_ms();
        if (left_ms < 0) left_ms = 0;
        int n = sp_kafka_consumer_poll_batch(svc->partners, svc->partner_batch, SP_KAFKA_BATCH_MAX,
                                             (int)left_ms, err);
        if (n < 0) return -1;
        for (int i = 0; i < n; i++) partner_message(svc, &svc->partner_batch[i]);
        if (n == 0 && left_ms == 0) return 0;
    }
    return 0;
}

/* Reads the accounts topic up to `high`, for at most timeout_ms. A poll
 * waits (until the deadline) for at least one message: one round per missing
 * message at worst, and a last one that finds the deadline. */
static int partners_read_to(tx_service *svc, int64_t high, int timeout_ms, sp_error *err) {
    int64_t deadline_ms = sp_clock_monotonic_ms() + timeout_ms;
    int64_t rounds = high - svc->partners_next_offset + 2;
    if (partners_read(svc, high, deadline_ms, rounds > INT32_MAX ? INT32_MAX : (int)rounds, err) !=
        0) {
        return -1;
    }
    if (svc->partners_next_offset < high) {
        return sp_error_set(err, 503, "kafka_unavailable", NULL,
                            "partner directory at offset %" PRId64 " of %" PRId64 " after %d ms",
                            svc->partners_next_offset, high, timeout_ms);
    }
    return 0;
}

void tx_partners_barrier(tx_service *svc) {
    sp_error err;
    sp_error_clear(&err);
    int64_t high = 0;
    if (sp_kafka_high_watermark(svc->producer, SP_TOPIC_ACCOUNTS_EVENTS, 0, &high,
                                TX_WATERMARK_TIMEOUT_MS, &err) == 0 &&
        partners_read_to(svc, high, TX_PARTNER_CATCH_UP_MS, &err) == 0) {
        assert(svc->partners_next_offset >= high);
        return;
    }
    sp_log_warn(svc->log, "partner directory behind: the batch is decided from what it holds",
                "code", err.code, "detail", err.message, NULL);
}

int tx_partners_catch_up(tx_service *svc, int timeout_ms, sp_error *err) {
    int64_t low = 0, high = 0;
    if (sp_kafka_watermarks(svc->partners, SP_TOPIC_ACCOUNTS_EVENTS, 0, &low, &high,
                            TX_WATERMARK_TIMEOUT_MS, err) != 0) {
        return -1;
    }
    if (low > 0 && svc->partners_next_offset < low) {
        return sp_error_set(err, 500, "log_truncated", NULL,
                            "%s [0] starts at offset %" PRId64
                            ": partners created before it are lost",
                            SP_TOPIC_ACCOUNTS_EVENTS, low);
    }
    return partners_read_to(svc, high, timeout_ms, err);
}

/* ------------------------------------------------------------ rebuild */

typedef struct rebuild_ctx {
    tx_service *svc;
    tx_partition *part;
    sp_ledger_state *state;
    uint64_t messages;
    /* From a snapshot: the event it ends with, which the log must hold at
     * the first offset read; then every event after it must apply. */
    const sp_ledger_snapshot_position *snapshot;
} rebuild_ctx;

/* The snapshot's last event is not the log's: the log is not the one it
 * was taken from (recreated topic, another cluster, a lost write). */
static int snapshot_check_first(rebuild_ctx *rc, const sp_ledger_event *event, sp_error *err) {
    const sp_ledger_snapshot_position *at = rc->snapshot;
    if (strcmp(event->pass_id, at->last_aggregate_id) == 0 && event->version == at->last_version &&
        strcmp(event->command_id, at->last_command_id) == 0) {
        return 0;
    }
    return sp_error_set(err, 409, "snapshot_disagrees", NULL,
                        "the log holds %s v%" PRIu64 " where the snapshot ends with %s v%" PRIu64,
                        event->pass_id, event->version, at->last_aggregate_id, at->last_version);
}

static void rebuild_warn(tx_service *svc, const sp_kafka_msg *msg, const sp_error *why) {
    char partition[16], offset[24];
    text_of(partition, sizeof partition, msg->partition);
    text_of(offset, sizeof offset, msg->offset);
    svc->counters.invalid_events++;
    sp_log_error(svc->log, "ledger event ignored at rebuild", "partition", partition, "offset",
                 offset, "code", why->code, "detail", why->message, NULL);
}

/* An event after the snapshot does not read or apply: the whole log
 * decides (it may be a poison event a full rebuild also skips). */
static int snapshot_disagrees(sp_error *err, const sp_kafka_msg *msg, const sp_error *why) {
    return sp_error_set(err, 409, "snapshot_disagrees", NULL,
                        "the event at offset %" PRId64 " after the snapshot: %s %s", msg->offset,
                        why->code, why->message);
}

static int rebuild_message(void *ctx, const sp_kafka_msg *msg, sp_error *err) {
    rebuild_ctx *rc = ctx;
    rc->messages++;
    sp_error why;
    sp_error_clear(&why);
    Solipass__Envelope *envelope = sp_envelope_unpack(msg->value, msg->value_len, &why);
    if (envelope == NULL) {
        if (rc->snapshot != NULL) return snapshot_disagrees(err, msg, &why);
        rebuild_warn(rc->svc, msg, &why);
        return 0;
    }
    sp_ledger_event *event = &rc->svc->decision.event; /* scratch, not in use while rebuilding */
    int decoded = sp_ledger_event_from_envelope(envelope, event, &why);
    solipass__envelope__free_unpacked(envelope, NULL);
    if (decoded != 0) {
        if (rc->snapshot != NULL) return snapshot_disagrees(err, msg, &why);
        rebuild_warn(rc->svc, msg, &why);
        return 0;
    }
    if (rc->snapshot != NULL && rc->messages == 1 && rc->snapshot->next_offset > 0) {
        return snapshot_check_first(rc, event, err); /* in the snapshot already */
    }
    sp_ledger_applied applied;
    if (sp_ledger_apply(rc->state, event, &applied, &why) != 0) {
        if (strcmp(why.code, "invalid_event") != 0) {
            *err = why; /* a bound or memory: the state would be partial */
            return -1;
        }
        if (rc->snapshot != NULL) return snapshot_disagrees(err, msg, &why);
        rebuild_warn(rc->svc, msg, &why);
        return 0;
    }
    if (applied.record != NULL)
        sp_ledger_record_set_event_ref(applied.record, msg->partition, msg->offset);
    tx_snapshot_note_event(rc->part, event);
    return 0;
}

static void log_rebuilt(tx_service *svc, const sp_ledger_state *state, uint64_t messages,
                        int64_t from_offset, int64_t elapsed_ms) {
    char partition[16], events[24], applied[24], skipped[24], passes[24], requests[24], ms[24],
        from[24];
    text_of(from, sizeof from, from_offset);
    text_of(partition, sizeof partition, state->partition);
    text_of(events, sizeof events, (int64_t)messages);
    text_of(applied, sizeof applied, (int64_t)state->events_applied);
    text_of(skipped, sizeof skipped, (int64_t)state->events_skipped);
    text_of(passes, sizeof passes, (int64_t)state->passes.entry_count);
    text_of(requests, sizeof requests, (int64_t)state->refund_requests.entry_count);
    text_of(ms, sizeof ms, elapsed_ms);
    sp_log_info(svc->log, "ledger partition rebuilt", "partition", partition, "from_offset", from,
                "events", events, "applied", applied, "skipped", skipped, "passes", passes,
                "refund_requests", requests, "ms", ms, NULL);
}

static void log_fallback_rebuild(tx_service *svc, int32_t partition) {
    char p[16];
    text_of(p, sizeof p, partition);
    sp_log_warn(svc->log, "ledger snapshot discarded: rebuilding from the whole log", "partition",
                p, "code", "snapshot_disagrees", "detail", "the log does not reach its position",
                NULL);
}

/* From the partition's snapshot and the log after it. 1: no usable
 * snapshot, or it disagrees with the log (said in the log): rebuild from
 * zero. -1: the log could not be read (a full rebuild would fail too). */
static int rebuild_from_snapshot(tx_service *svc, int32_t partition, sp_error *err) {
    tx_partition *part = &svc->partitions[partition];
    int64_t started_ms = sp_clock_monotonic_ms();
    sp_ledger_snapshot_position at;
    sp_ledger_state *state = tx_snapshot_load(svc, partition, &at);
    if (state == NULL) return 1;
    part->last = at;
    part->events_since_snapshot = 0;
    rebuild_ctx ctx = {.svc = svc, .part = part, .state = state, .snapshot = &at};
    /* Read from the snapshot's own last event, to check the log holds it. */
    int64_t from = at.next_offset > 0 ? at.next_offset - 1 : 0;
    sp_error why;
    sp_error_clear(&why);
    if (sp_kafka_replay_partition_from(svc->config->brokers, SP_TOPIC_LEDGER_EVENTS, partition,
                                       from, rebuild_message, &ctx, TX_REPLAY_TIMEOUT_MS, svc->log,
                                       &why) != 0) {
        sp_ledger_state_free(state);
        if (strcmp(why.code, "snapshot_disagrees") == 0 || strcmp(why.code, "log_shorter") == 0 ||
            strcmp(why.code, "log_truncated") == 0) {
            char p[16];
            text_of(p, sizeof p, partition);
            sp_log_warn(svc->log, "ledger snapshot discarded: rebuilding from the whole log",
                        "partition", p, "code", why.code, "detail", why.message, NULL);
            return 1;
        }
        *err = why;
        return -1;
    }
    if (at.next_offset > 0 && ctx.messages == 0) {
        sp_ledger_state_free(state); /* its last event is not on the log */
        log_fallback_rebuild(svc, partition);
        return 1;
    }
    part->state = state;
    log_rebuilt(svc, state, ctx.messages, from, sp_clock_monotonic_ms() - started_ms);
    return 0;
}

static int rebuild_partition(tx_service *svc, int32_t partition, sp_error *err) {
    tx_partition *part = &svc->partitions[partition];
    sp_ledger_state_free(part->state); /* anything held before is stale */
    part->state = NULL;
    int from_snapshot = rebuild_from_snapshot(svc, partition, err);
    if (from_snapshot <= 0) return from_snapshot;
    int64_t started_ms = sp_clock_monotonic_ms();
    sp_ledger_state *state = sp_ledger_state_new(partition, &svc->limits, &svc->directory, err);
    if (state == NULL) return -1;
    part->last = (sp_ledger_snapshot_position){0};
    part->events_since_snapshot = 0;
    rebuild_ctx ctx = {.svc = svc, .part = part, .state = state};
    if (sp_kafka_replay_partition(svc->config->brokers, SP_TOPIC_LEDGER_EVENTS, partition,
                                  rebuild_message, &ctx, TX_REPLAY_TIMEOUT_MS, svc->log,
                                  err) != 0) {
        char partition_text[16];
        text_of(partition_text, sizeof partition_text, partition);
        sp_log_error(svc->log,
                     "ledger partition NOT rebuilt: refusing to decide from partial history",
                     "partition", partition_text, "code", err->code, "detail", err->message, NULL);
        sp_ledger_state_free(state);
        return -1;
    }
    part->state = state;
    log_rebuilt(svc, state, ctx.messages, 0, sp_clock_monotonic_ms() - started_ms);
    return 0;
}

static int on_assigned(void *ctx, const sp_kafka_tp *tps, size_t tp_count, sp_error *err) {
    tx_service *svc = ctx;
    sp_error why;
    sp_error_clear(&why);
    /* Partner names go into rebuilt answers: know every partner first. */
    if (tx_partners_catch_up(svc, TX_PARTNER_CATCH_UP_MS, &why) != 0) {
        sp_log_warn(svc->log, "partner directory behind", "code", why.code, "detail", why.message,
                    NULL);
    }
    for (size_t i = 0; i < tp_count; i++) {
        if (strcmp(tps[i].topic, SP_TOPIC_LEDGER_COMMANDS) != 0) continue;
        int32_t partition = tps[i].partition;
        if (partition < 0 || partition >= svc->partition_count) {
            return sp_error_set(err, 500, "partition_unknown", NULL,
                                "assigned partition %" PRId32 " of %d", partition,
                                svc->partition_count);
        }
        if (rebuild_partition(svc, partition, err) != 0) return -1;
        int64_t offset = tps[i].offset;
        svc->partitions[partition].next_offset = offset >= 0                           ? offset
                                                 : offset == RD_KAFKA_OFFSET_BEGINNING ? 0
                                                                                       : -1;
    }
    sp_service_ready(&svc->readiness);
    return 0;
}

static void on_revoked(void *ctx, const sp_kafka_tp *tps, size_t tp_count) {
    tx_service *svc = ctx;
    for (size_t i = 0; i < tp_count; i++) {
        int32_t partition = tps[i].partition;
        if (strcmp(tps[i].topic, SP_TOPIC_LEDGER_COMMANDS) != 0 || partition < 0 ||
            partition >= svc->partition_count) {
            continue;
        }
        sp_ledger_state_free(svc->partitions[partition].state);
        svc->partitions[partition] = (tx_partition){.state = NULL, .next_offset = -1};
    }
}

/* ------------------------------------------------------------ events out */

int tx_produce_event(tx_service *svc, int32_t partition, const sp_ledger_event *event,
                     const char *causation_id, sp_kafka_delivery *delivery, sp_error *err) {
    /* Its RefundPart array can be large: not on the stack. */
    sp_ledger_event_pb *holder = malloc(sizeof *holder);
    const ProtobufCMessage *payload = holder != NULL ? sp_ledger_event_to_pb(event, holder) : NULL;
    int rc;
    if (payload == NULL) {
        rc = sp_error_set(err, 500, "ledger_invariant", NULL, "a %s event cannot be encoded",
                          sp_ledger_event_type(event->kind));
    } else {
        sp_envelope_meta meta;
        sp_ledger_event_meta(event, causation_id, &meta);
        rc = sp_envelope_produce(svc->producer, SP_TOPIC_LEDGER_EVENTS, partition, &meta, payload,
                                 delivery, NULL, err);
    }
    if (rc == 0) tx_snapshot_note_event(&svc->partitions[partition], event);
    sp_ledger_event_pb_release(holder);
    free(holder);
    return rc;
}

/* sp_ledger_sweep_expiries (envelopes) or sp_ledger_sweep_vouchers. */
typedef int (*sweep_fn)(sp_ledger_state *state, int64_t now_ms, sp_ledger_event *events,
                        size_t events_max, size_t *event_count, sp_error *err);

static int sweep_partition(tx_service *svc, tx_partition *part, sweep_fn sweep, int64_t now_ms,
                           size_t *produced, sp_error *err) {
    for (int round = 0; round < TX_SWEEP_ROUNDS_MAX; round++) {
        size_t count = 0;
        if (sweep(part->state, now_ms, svc->sweep_events, TX_SWEEP_EVENTS_MAX, &count, err) != 0) {
            return -1;
        }
        for (size_t i = 0; i < count; i++) {
            if (tx_produce_event(svc, part->state->partition, &svc->sweep_events[i], "", NULL,
                                 err) != 0) {
                return -1;
            }
        }
        *produced += count;
        if (count < TX_SWEEP_EVENTS_MAX) break;
    }
    return 0;
}

static int sweep_expiries(tx_service *svc, sp_error *err) {
    int64_t now_ms = sp_clock_now_ms(svc->clock);
    size_t produced = 0;
    for (int32_t p = 0; p < svc->partition_count; p++) {
        if (svc->partitions[p].state == NULL) continue;
        /* Envelopes first: a voucher of an envelope that ends today returns to the budget. */
        if (sweep_partition(svc, &svc->partitions[p], sp_ledger_sweep_expiries, now_ms, &produced,
                            err) != 0 ||
            sweep_partition(svc, &svc->partitions[p], sp_ledger_sweep_vouchers, now_ms, &produced,
                            err) != 0) {
            return -1;
        }
    }
    if (produced == 0) return 0;
    /* Applied already: if they cannot be made durable, only a rebuild is true. */
    if (sp_kafka_producer_flush(svc->producer, TX_FLUSH_TIMEOUT_MS, err) != 0) return -1;
    svc->counters.expiries += produced;
    tx_snapshot_round(svc, false);
    char count[24];
    text_of(count, sizeof count, (int64_t)produced);
    sp_log_info(svc->log, "envelopes and vouchers expired", "count", count, NULL);
    return 0;
}

/* ------------------------------------------------------------ metrics */

static void log_lag(tx_service *svc) {
    char lag[TX_PARTITIONS_MAX * 24] = "";
    size_t used = 0;
    int64_t total = 0;
    for (int32_t p = 0; p < svc->partition_count; p++) {
        const tx_partition *part = &svc->partitions[p];
        if (part->state == NULL) continue;
        int64_t low = 0, high = 0;
        sp_error err;
        char one[48];
        if (part->next_offset < 0 ||
            sp_kafka_watermarks(svc->commands, SP_TOPIC_LEDGER_COMMANDS, p, &low, &high,
                                TX_WATERMARK_TIMEOUT_MS, &err) != 0) {
            snprintf(one, sizeof one, "%sp%" PRId32 "=unknown", used ? " " : "", p);
        } else {
            int64_t behind = high > part->next_offset ? high - part->next_offset : 0;
            total += behind;
            snprintf(one, sizeof one, "%sp%" PRId32 "=%" PRId64, used ? " " : "", p, behind);
        }
        used += (size_t)snprintf(lag + used, sizeof lag - used, "%s", one);
        if (used >= sizeof lag) break;
    }
    char total_text[24], commands[24], accepted[24], rejected[24], replayed[24], dead[24],
        expiries[24];
    text_of(total_text, sizeof total_text, total);
    text_of(commands, sizeof commands, (int64_t)svc->counters.commands);
    text_of(accepted, sizeof accepted, (int64_t)svc->counters.accepted);
    text_of(rejected, sizeof rejected, (int64_t)svc->counters.rejected);
    text_of(replayed, sizeof replayed, (int64_t)svc->counters.replayed);
    text_of(dead, sizeof dead, (int64_t)svc->counters.dead_letters);
    text_of(expiries, sizeof expiries, (int64_t)svc->counters.expiries);
    sp_log_info(svc->log, "consumer lag", "lag", lag, "lag_total", total_text, "commands", commands,
                "accepted", accepted, "rejected", rejected, "replayed", replayed, "dead_letters",
                dead, "expiries", expiries, NULL);
}

/* ------------------------------------------------------------ start and run */

static int check_partitions(tx_service *svc, sp_error *err) {
    int commands = sp_kafka_partition_count(svc->config->brokers, SP_TOPIC_LEDGER_COMMANDS,
                                            TX_METADATA_TIMEOUT_MS, err);
    if (commands < 0) return -1;
    int events = sp_kafka_partition_count(svc->config->brokers, SP_TOPIC_LEDGER_EVENTS,
                                          TX_METADATA_TIMEOUT_MS, err);
    if (events < 0) return -1;
    /* A pass's events go to the partition number of its commands. */
    if (commands != events || commands > TX_PARTITIONS_MAX) {
        return sp_error_set(err, 500, "partition_mismatch", NULL,
                            "%s has %d partitions and %s %d: they must be equal (at most %d)",
                            SP_TOPIC_LEDGER_COMMANDS, commands, SP_TOPIC_LEDGER_EVENTS, events,
                            TX_PARTITIONS_MAX);
    }
    svc->partition_count = commands;
    return 0;
}

static int start(tx_service *svc, sp_error *err) {
    const char *snapshot_dir = svc->config->snapshot_dir;
    if (snapshot_dir != NULL && snapshot_dir[0] != '\0' && access(snapshot_dir, W_OK | X_OK) != 0) {
        return sp_error_set(err, 400, "invalid_setting", "SP_SNAPSHOT_DIR",
                            "%s is not a folder this service can write: %s", snapshot_dir,
                            strerror(errno));
    }
    if (check_partitions(svc, err) != 0) return -1;
    if (sp_ledger_directory_init(&svc->directory, TX_PARTNERS_MAX, err) != 0) return -1;
    svc->directory_ready = true;
    svc->batch = calloc(SP_KAFKA_BATCH_MAX, sizeof *svc->batch);
    svc->partner_batch = calloc(SP_KAFKA_BATCH_MAX, sizeof *svc->partner_batch);
    svc->pending = calloc(SP_KAFKA_BATCH_MAX, sizeof *svc->pending);
    svc->sweep_events = calloc(TX_SWEEP_EVENTS_MAX, sizeof *svc->sweep_events);
    if (svc->batch == NULL || svc->partner_batch == NULL || svc->pending == NULL ||
        svc->sweep_events == NULL) {
        return sp_error_set(err, 500, "out_of_memory", NULL, "batch buffers");
    }
    sp_kafka_tp partners_tp = {.topic = SP_TOPIC_ACCOUNTS_EVENTS,
                               .partition = 0,
                               .offset = RD_KAFKA_OFFSET_BEGINNING};
    svc->partners = sp_kafka_consumer_new_assigned(svc->config->brokers,
                                                   "solipass-transactions-partners", &partners_tp,
                                                   1, svc->log, err);
    if (svc->partners == NULL) return -1;
    if (tx_partners_catch_up(svc, TX_START_CATCH_UP_MS, err) != 0) return -1;
    svc->producer = sp_kafka_producer_new(svc->config->brokers, "solipass-transactions", svc->log,
                                          err);
    if (svc->producer == NULL) return -1;
    const char *topics[] = {SP_TOPIC_LEDGER_COMMANDS};
    svc->commands = sp_kafka_consumer_new_group(svc->config->brokers, SP_TRANSACTIONS_GROUP_ID,
                                                topics, 1, on_assigned, on_revoked, svc, svc->log,
                                                err);
    return svc->commands != NULL ? 0 : -1;
}

static void stop_all(tx_service *svc) {
    int write_rc = 0;
    sp_error write_err;
    sp_snapshot_writer_done(&svc->snapshot_writer, true, &write_rc, &write_err);
    /* Closing the group member revokes (and frees) the states it holds. */
    sp_kafka_consumer_free(svc->commands);
    sp_kafka_consumer_free(svc->partners);
    sp_kafka_producer_free(svc->producer);
    for (int32_t p = 0; p < TX_PARTITIONS_MAX; p++) sp_ledger_state_free(svc->partitions[p].state);
    if (svc->directory_ready) sp_ledger_directory_destroy(&svc->directory);
    free(svc->batch);
    free(svc->partner_batch);
    free(svc->pending);
    free(svc->sweep_events);
}

static int run_loop(tx_service *svc, volatile sig_atomic_t *stop, sp_error *err) {
    int64_t last_sweep_ms = sp_clock_monotonic_ms(), last_lag_ms = last_sweep_ms;
    while (!*stop) {
        int n = sp_kafka_consumer_poll_batch(svc->commands, svc->batch, SP_KAFKA_BATCH_MAX,
                                             TX_POLL_TIMEOUT_MS, err);
        if (n < 0) return -1;
        if (n > 0 && tx_process_batch(svc, (size_t)n, err) != 0) return -1;
        if (n > 0) tx_snapshot_round(svc, false); /* its events are flushed */
        int64_t now_ms = sp_clock_monotonic_ms();
        if (svc->readiness.ready && now_ms - last_sweep_ms >= svc->config->expiry_check_ms) {
            if (sweep_expiries(svc, err) != 0) return -1;
            last_sweep_ms = now_ms;
        }
        if (now_ms - last_lag_ms >= TX_LAG_LOG_MS) {
            log_lag(svc);
            last_lag_ms = now_ms;
        }
        sp_kafka_producer_poll(svc->producer);
    }
    return 0;
}

int sp_transactions_service_run(const sp_transactions_config *config, sp_log *log, sp_clock *clock,
                                volatile sig_atomic_t *stop, sp_error *err) {
    assert(config != NULL && log != NULL && clock != NULL && stop != NULL);
    tx_service *svc = calloc(1, sizeof *svc);
    if (svc == NULL) return sp_error_set(err, 500, "out_of_memory", NULL, "service");
    svc->config = config;
    svc->log = log;
    svc->readiness.log = log;
    svc->clock = clock;
    svc->limits = (sp_ledger_limits){.passes_max = (size_t)config->passes_max,
                                     .commands_max = (size_t)config->commands_max,
                                     .partners_max = (size_t)config->passes_max,
                                     .payment_cents_max = config->payment_cents_max,
                                     .credit_cents_max = config->credit_cents_max,
                                     .vouchers_max = (size_t)config->vouchers_max,
                                     .voucher_validity_days = (int)config->voucher_validity_days,
                                     .refund_requests_max = (size_t)config->refund_requests_max};
    for (int32_t p = 0; p < TX_PARTITIONS_MAX; p++) svc->partitions[p].next_offset = -1;
    int rc = 0;
    const char *receipt_key = config->receipt_secret_key != NULL ? config->receipt_secret_key : "";
    if (receipt_key[0] != '\0') {
        sp_error why;
        sp_error_clear(&why);
        if (sp_receipt_signer_load(receipt_key, &svc->receipt_signer, &why) != 0) {
            rc = sp_error_set(err, 400, "invalid_setting", "SP_RECEIPT_SECRET_KEY", "%s",
                              why.message);
        }
        svc->receipts = rc == 0;
    } else {
        sp_log_warn(log, "SP_RECEIPT_SECRET_KEY is empty: payments carry no signed receipt", NULL);
    }
    if (rc == 0) rc = start(svc, err);
    if (rc == 0) rc = run_loop(svc, stop, err);
    if (rc == 0) log_lag(svc);
    if (rc == 0) tx_snapshot_round(svc, true); /* a clean stop: the next start reads little */
    stop_all(svc);
    sodium_memzero(&svc->receipt_signer, sizeof svc->receipt_signer);
    free(svc);
    return rc;
}
