/* service.c - the accounts service's Kafka edge: rebuild from the events
 * topic, the start-up account, and the command loop (poll a batch, decide and
 * apply, produce the events, flush, then reply, flush, commit). The domain
 * rules live in accounts_state.c / accounts_decide.c. */
#include "service_internal.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "reply.pb-c.h"
#include "sp_clock.h"
#include "sp_envelope.h"
#include "sp_kafka.h"
#include "sp_secret.h"
#include "sp_service.h"

#include "accounts_codec.h"

static void u64_text(uint64_t value, char out[24]) {
    snprintf(out, 24, "%" PRIu64, value);
}
static void i64_text(int64_t value, char out[24]) {
    snprintf(out, 24, "%" PRId64, value);
}

/* ------------------------------------------------------------------ rebuild */

typedef struct rebuild_ctx {
    service *svc;
    uint64_t messages;
    /* From a snapshot: the event it ends with must be the first read, and
     * every event after it must read and apply (else the whole log decides). */
    bool from_snapshot;
} rebuild_ctx;

static int snapshot_disagrees(sp_error *err, const sp_kafka_msg *msg, const char *why) {
    return sp_error_set(err, 409, "snapshot_disagrees", NULL,
                        "the event at offset %" PRId64 " after the snapshot: %s", msg->offset, why);
}

/* An event the log holds but no rebuild can read: the position moves past it. */
static void skip_unreadable(service *svc, const sp_kafka_msg *msg, const sp_error *why) {
    char offset[24];
    i64_text(msg->offset, offset);
    sp_log_warn(svc->log, "unreadable event skipped", "topic", msg->topic, "offset", offset,
                "reason", why->message, NULL);
    svc->counters.events_unreadable++;
    svc->position = (sp_accounts_snapshot_position){.next_offset = msg->offset + 1};
    svc->events_since_snapshot++;
}

static int on_event_message(void *ctx, const sp_kafka_msg *msg, sp_error *err) {
    rebuild_ctx *rc = ctx;
    service *svc = rc->svc;
    rc->messages++;
    sp_error why;
    sp_error_clear(&why);
    sp_accounts_event event;
    Solipass__Envelope *envelope = sp_envelope_unpack(msg->value, msg->value_len, &why);
    int decoded = envelope != NULL ? sp_accounts_event_decode(envelope, &event, &why) : -1;
    if (envelope != NULL) solipass__envelope__free_unpacked(envelope, NULL);
    if (decoded != 0) {
        if (rc->from_snapshot) return snapshot_disagrees(err, msg, why.message);
        skip_unreadable(svc, msg, &why);
        return 0;
    }
    if (rc->from_snapshot && rc->messages == 1 && svc->position.next_offset > 0) {
        if (sp_accounts_snapshot_names(&svc->position, &event)) return 0; /* in it already */
        return sp_error_set(err, 409, "snapshot_disagrees", NULL,
                            "the log holds %s v%" PRIu64
                            " where the snapshot ends with %s v%" PRIu64,
                            event.aggregate_id, event.aggregate_version,
                            svc->position.last_aggregate_id, svc->position.last_version);
    }
    sp_accounts_ref ref = {.partition = msg->partition, .offset = msg->offset};
    bool applied = false;
    if (sp_accounts_apply(&svc->state, &event, &ref, &applied, err) != 0) return -1;
    if (applied) {
        svc->counters.events_applied++;
    } else {
        if (rc->from_snapshot) return snapshot_disagrees(err, msg, "it does not apply");
        svc->counters.events_ignored++;
        sp_log_debug(svc->log, "event ignored (not the next version)", "aggregate_id",
                     event.aggregate_id, NULL);
    }
    acc_snapshot_note_event(svc, &event, msg->offset);
    return 0;
}

static void log_state(service *svc, const char *msg, int64_t from_offset, uint64_t messages,
                      int64_t elapsed_ms) {
    char users[24], partners[24], sessions[24], records[24], applied[24], ignored[24], from[24],
        events[24], ms[24];
    u64_text(sp_accounts_user_count(&svc->state), users);
    u64_text(sp_accounts_partner_count(&svc->state), partners);
    u64_text(sp_accounts_session_count(&svc->state), sessions);
    u64_text(sp_accounts_record_count(&svc->state), records);
    u64_text(svc->counters.events_applied, applied);
    u64_text(svc->counters.events_ignored, ignored);
    i64_text(from_offset, from);
    u64_text(messages, events);
    i64_text(elapsed_ms, ms);
    sp_log_info(svc->log, msg, "users", users, "partners", partners, "sessions", sessions,
                "outcomes", records, "from_offset", from, "events", events, "events_applied",
                applied, "events_ignored", ignored, "ms", ms, NULL);
}

/* From the snapshot and the events after it. 1: no usable snapshot, or it
 * disagrees with the log (said in the log): rebuild from zero. -1: the log
 * could not be read (a rebuild from zero would fail too). */
static int rebuild_from_snapshot(service *svc, sp_error *err) {
    int64_t started_ms = sp_clock_monotonic_ms();
    if (acc_snapshot_load(svc) != 0) return 1;
    rebuild_ctx ctx = {.svc = svc, .from_snapshot = true};
    /* Read from the snapshot's own last event, to check the log holds it. */
    int64_t from = svc->position.next_offset > 0 ? svc->position.next_offset - 1 : 0;
    sp_error why;
    sp_error_clear(&why);
    int rc = sp_kafka_replay_partition_from(svc->config->brokers, SP_TOPIC_ACCOUNTS_EVENTS,
                                            EVENTS_PARTITION, from, on_event_message, &ctx,
                                            REPLAY_TIMEOUT_MS, svc->log, &why);
    if (rc == 0 && svc->position.next_offset > 0 && ctx.messages == 0) {
        rc = sp_error_set(&why, 409, "snapshot_disagrees", NULL,
                          "the log does not reach the snapshot's offset");
    }
    if (rc != 0) {
        sp_accounts_state_destroy(&svc->state);
        if (strcmp(why.code, "snapshot_disagrees") != 0 && strcmp(why.code, "log_shorter") != 0 &&
            strcmp(why.code, "log_truncated") != 0) {
            *err = why;
            return -1;
        }
        sp_log_warn(svc->log, "accounts snapshot discarded: rebuilding from the whole log", "code",
                    why.code, "detail", why.message, NULL);
        return 1;
    }
    log_state(svc, "state rebuilt", from, ctx.messages, sp_clock_monotonic_ms() - started_ms);
    return 0;
}

/* Drops the state and reads it again: from the snapshot and the events
 * after it, or from the whole events partition. */
static int rebuild(service *svc, sp_error *err) {
    sp_accounts_state_destroy(&svc->state);
    svc->counters.events_applied = svc->counters.events_ignored = 0;
    int from_snapshot = rebuild_from_snapshot(svc, err);
    if (from_snapshot <= 0) return from_snapshot;
    int64_t started_ms = sp_clock_monotonic_ms();
    if (sp_accounts_state_init(&svc->state, &svc->limits, err) != 0) return -1;
    svc->counters.events_applied = svc->counters.events_ignored = 0;
    svc->position = (sp_accounts_snapshot_position){0};
    svc->events_since_snapshot = 0;
    rebuild_ctx ctx = {.svc = svc};
    if (sp_kafka_replay_partition(svc->config->brokers, SP_TOPIC_ACCOUNTS_EVENTS, EVENTS_PARTITION,
                                  on_event_message, &ctx, REPLAY_TIMEOUT_MS, svc->log, err) != 0) {
        if (strcmp(err->code, "log_truncated") == 0)
            sp_log_error(svc->log,
                         "cannot rebuild: " SP_TOPIC_ACCOUNTS_EVENTS " no longer starts at "
                         "offset 0, deciding from partial history would be wrong",
                         "detail", err->message, NULL);
        return -1;
    }
    log_state(svc, "state rebuilt", 0, ctx.messages, sp_clock_monotonic_ms() - started_ms);
    return 0;
}

/* ------------------------------------------------------------------ producing */

static int produce_event(service *svc, const sp_accounts_event *event, const char *causation_id,
                         sp_kafka_delivery *delivery, sp_error *err) {
    sp_accounts_event_pb pb;
    const ProtobufCMessage *payload = sp_accounts_event_to_pb(event, &pb);
    pb.meta.causation_id = causation_id;
    if (sp_envelope_produce(svc->producer, SP_TOPIC_ACCOUNTS_EVENTS, EVENTS_PARTITION, &pb.meta,
                            payload, delivery, NULL, err) != 0)
        return -1;
    svc->counters.events_written++;
    return 0;
}

static int flush(service *svc, const char *what, sp_error *err) {
    if (sp_kafka_producer_flush(svc->producer, FLUSH_TIMEOUT_MS, err) == 0) return 0;
    sp_log_error(svc->log, "flush failed: stopping without replying or committing", "what", what,
                 "detail", err->message, NULL);
    return -1;
}

/* ------------------------------------------------------------------ bootstrap */

/* The start-up account settings, checked before anything is read or written. */
static int bootstrap_check(service *svc, sp_error *err) {
    const sp_accounts_config *c = svc->config;
    if (c->bootstrap_email[0] == '\0' && c->bootstrap_password[0] == '\0') return 0;
    if ((c->bootstrap_email[0] == '\0') != (c->bootstrap_password[0] == '\0'))
        return sp_error_set(err, 500, "invalid_config", "SP_BOOTSTRAP_PASSWORD",
                            "SP_BOOTSTRAP_EMAIL and SP_BOOTSTRAP_PASSWORD go together: set both "
                            "or neither");
    if (sp_accounts_email_normalize(c->bootstrap_email, svc->bootstrap_email, "SP_BOOTSTRAP_EMAIL",
                                    err) != 0)
        return -1;
    if (sp_secret_check(c->bootstrap_password, "SP_BOOTSTRAP_PASSWORD", SP_SECRET_PASSWORD_LEN_MIN,
                        SP_SECRET_PASSWORD_DISTINCT_MIN, err) != 0)
        return -1;
    if (strlen(c->bootstrap_password) > SP_ACCOUNTS_BOOTSTRAP_PASSWORD_MAX)
        return sp_error_set(err, 500, "invalid_config", "SP_BOOTSTRAP_PASSWORD",
                            "SP_BOOTSTRAP_PASSWORD is longer than %d bytes",
                            SP_ACCOUNTS_BOOTSTRAP_PASSWORD_MAX);
    if (!sp_accounts_text_valid(c->bootstrap_full_name, 1, SP_ACCOUNTS_NAME_CHARS_MAX))
        return sp_error_set(err, 500, "invalid_config", "SP_BOOTSTRAP_FULL_NAME",
                            "SP_BOOTSTRAP_FULL_NAME must be 1 to %d characters of text",
                            SP_ACCOUNTS_NAME_CHARS_MAX);
    return 0;
}

/* The configured back-office account, created once: an existing account
 * (same e-mail) is never changed from the environment. */
static int bootstrap(service *svc, sp_error *err) {
    const sp_accounts_config *c = svc->config;
    if (c->bootstrap_email[0] == '\0') return 0;
    const char *email = svc->bootstrap_email;
    if (sp_accounts_user_by_email(&svc->state, email) != NULL) {
        sp_log_info(svc->log, "start-up account exists, left unchanged", "email", email, NULL);
        return 0;
    }
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hash, c->bootstrap_password, strlen(c->bootstrap_password),
                          crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return sp_error_set(err, 500, "out_of_memory", "", "cannot hash the start-up password");
    sp_accounts_event event;
    if (sp_accounts_decide_register(&svc->state, email, hash, c->bootstrap_full_name,
                                    SP_ACCOUNTS_ROLE_BACKOFFICE, sp_clock_now_ms(svc->clock),
                                    &event, err) != 0)
        return -1;
    sp_kafka_delivery delivery;
    if (produce_event(svc, &event, "", &delivery, err) != 0) return -1;
    if (flush(svc, "start-up account", err) != 0) return -1;
    sp_accounts_ref ref = {.partition = delivery.partition, .offset = delivery.offset};
    bool applied = false;
    if (sp_accounts_apply(&svc->state, &event, &ref, &applied, err) != 0) return -1;
    assert(applied);
    acc_snapshot_note_event(svc, &event, delivery.offset);
    sp_log_info(svc->log, "start-up account created", "user_id", event.user_id, "email", email,
                NULL);
    return 0;
}

/* ------------------------------------------------------------------ consumer callbacks */

static int on_assigned(void *ctx, const sp_kafka_tp *tps, size_t tp_count, sp_error *err) {
    service *svc = ctx;
    if (svc->rebuild_needed) {
        if (rebuild(svc, err) != 0) return -1;
        svc->rebuild_needed = false;
    }
    svc->next_offset = NEXT_OFFSET_UNKNOWN;
    for (size_t i = 0; i < tp_count; i++) {
        if (tps[i].offset >= 0) svc->next_offset = tps[i].offset;
    }
    sp_service_ready(&svc->readiness);
    return 0;
}

static void on_revoked(void *ctx, const sp_kafka_tp *tps, size_t tp_count) {
    (void)tps;
    (void)tp_count;
    service *svc = ctx;
    svc->rebuild_needed = true;
}

/* ------------------------------------------------------------------ one command */

static int dead_letter(service *svc, const sp_kafka_msg *msg, const char *reason, sp_error *err) {
    char offset[24];
    i64_text(msg->offset, offset);
    sp_log_warn(svc->log, "command dead-lettered", "topic", msg->topic, "offset", offset, "reason",
                reason, NULL);
    svc->counters.dead_letters++;
    return sp_deadletter_send(svc->producer, msg, SP_ACCOUNTS_SERVICE_NAME, reason,
                              sp_clock_now_ms(svc->clock), err);
}

static void count_decision(service *svc, const sp_accounts_decision *d) {
    svc->counters.commands++;
    if (d->replayed) svc->counters.replayed++;
    bool rejected = !d->recorded ||
                    (d->event_count == 1 && d->events[0].kind == SP_ACCOUNTS_EV_COMMAND_REJECTED);
    if (rejected) svc->counters.rejected++;
}

/* Decides and applies one command and produces its events. Unreadable
 * messages go to the dead-letter topic; -1 only for a fatal failure. */
static int handle_message(service *svc, const sp_kafka_msg *msg, plan *p, sp_error *err) {
    sp_error why;
    sp_error_clear(&why);
    Solipass__Envelope *envelope = sp_envelope_unpack(msg->value, msg->value_len, &why);
    if (envelope == NULL) return dead_letter(svc, msg, why.message, err);
    sp_accounts_command_msg command;
    if (sp_accounts_command_decode(envelope, &command, &why) != 0) {
        char reason[SP_ERROR_MESSAGE_MAX + 80];
        snprintf(reason, sizeof reason, "%.64s: %s", envelope->type, why.message);
        solipass__envelope__free_unpacked(envelope, NULL);
        return dead_letter(svc, msg, reason, err);
    }
    p->envelope = envelope;
    int rc = sp_accounts_handle(&svc->state, &command.command, sp_clock_now_ms(svc->clock),
                                &p->decision, err);
    if (rc == 0) {
        count_decision(svc, &p->decision);
        sp_accounts_decision_outcome(&svc->state, &p->decision, &p->outcome);
    }
    /* A convention's text goes from the command into its event: the
     * command stays until its events are produced. */
    for (size_t i = 0; rc == 0 && i < p->decision.event_count; i++) {
        rc = produce_event(svc, &p->decision.events[i], envelope->id, &p->deliveries[i], err);
    }
    sp_accounts_command_msg_free(&command);
    for (size_t i = 0; i < p->decision.event_count; i++) p->decision.events[i].text = NULL;
    if (rc != 0) return -1;
    sp_log_debug(svc->log, "command decided", "type", envelope->type, "command_id",
                 envelope->command_id, "actor_id", envelope->actor_id, NULL);
    return 0;
}

/* ------------------------------------------------------------------ replies */

/* The events are durable now: the reply and the stored outcome (when still
 * kept) learn where they landed. Events without the command's id (a
 * superseded session's end) belong to no outcome. */
static void fill_refs(service *svc, plan *p) {
    const sp_accounts_decision *d = &p->decision;
    if (p->envelope == NULL || !d->recorded || d->event_count == 0) return;
    sp_accounts_ref refs[SP_ACCOUNTS_EVENTS_PER_COMMAND_MAX];
    size_t ref_count = 0;
    for (size_t i = 0; i < d->event_count; i++) {
        assert(p->deliveries[i].done && p->deliveries[i].error == RD_KAFKA_RESP_ERR_NO_ERROR);
        if (d->events[i].command_id[0] == '\0') continue;
        refs[ref_count++] = (sp_accounts_ref){.partition = p->deliveries[i].partition,
                                              .offset = p->deliveries[i].offset};
    }
    sp_accounts_record_fill_refs(&svc->state, d->key, refs, ref_count);
    size_t next = 0;
    for (size_t i = 0; i < p->outcome.ref_count && next < ref_count; i++) {
        if (p->outcome.refs[i].offset < 0) p->outcome.refs[i] = refs[next++];
    }
}

static int send_reply(service *svc, plan *p, sp_error *err) {
    const Solipass__Envelope *envelope = p->envelope;
    if (envelope == NULL || envelope->reply_to[0] == '\0') return 0;
    sp_accounts_outcome *out = &p->outcome;
    Solipass__EventRef refs[SP_ACCOUNTS_EVENTS_PER_COMMAND_MAX];
    Solipass__EventRef *ref_ptrs[SP_ACCOUNTS_EVENTS_PER_COMMAND_MAX];
    for (size_t i = 0; i < out->ref_count; i++) {
        solipass__event_ref__init(&refs[i]);
        refs[i].topic = (char *)SP_TOPIC_ACCOUNTS_EVENTS;
        refs[i].partition = out->refs[i].partition;
        refs[i].offset = out->refs[i].offset;
        ref_ptrs[i] = &refs[i];
    }
    Solipass__Reply reply = SOLIPASS__REPLY__INIT;
    reply.ok = out->ok;
    reply.code = out->code;
    reply.message = out->message;
    reply.field = out->field;
    reply.result_json = out->result_json;
    reply.n_events = out->ref_count;
    reply.events = out->ref_count > 0 ? ref_ptrs : NULL;
    reply.replayed = out->replayed;
    reply.http_status = out->http_status;
    sp_envelope_meta meta = {.type = "Reply.v1",
                             .aggregate_id = envelope->reply_to,
                             .occurred_at_ms = sp_clock_now_ms(svc->clock),
                             .command_id = envelope->command_id,
                             .causation_id = envelope->id,
                             .reply_to = "",
                             .actor_id = envelope->actor_id};
    int rc = sp_envelope_produce(svc->producer, SP_TOPIC_REPLIES, RD_KAFKA_PARTITION_UA, &meta,
                                 &reply.base, NULL, NULL, err);
    if (rc == 0) svc->counters.replies++;
    return rc;
}

/* ------------------------------------------------------------------ the batch */

static int process_batch(service *svc, size_t count, sp_error *err) {
    int rc = -1;
    memset(svc->plans, 0, count * sizeof *svc->plans);
    for (size_t i = 0; i < count; i++) {
        if (handle_message(svc, &svc->msgs[i], &svc->plans[i], err) != 0) goto done;
    }
    if (flush(svc, "events", err) != 0) goto done;
    for (size_t i = 0; i < count; i++) {
        plan *p = &svc->plans[i];
        fill_refs(svc, p);
        for (size_t k = 0; k < p->decision.event_count; k++) /* in the order produced */
            acc_snapshot_note_event(svc, &p->decision.events[k], p->deliveries[k].offset);
    }
    for (size_t i = 0; i < count; i++) {
        if (send_reply(svc, &svc->plans[i], err) != 0) goto done;
    }
    if (flush(svc, "replies", err) != 0) goto done;
    if (sp_kafka_consumer_commit(svc->consumer, svc->msgs, count, err) != 0) goto done;
    svc->next_offset = svc->msgs[count - 1].offset + 1;
    rc = 0;
done:
    for (size_t i = 0; i < count; i++) {
        if (svc->plans[i].envelope != NULL)
            solipass__envelope__free_unpacked(svc->plans[i].envelope, NULL);
        svc->plans[i].envelope = NULL;
    }
    return rc;
}

static void log_stats(service *svc) {
    char lag[24] = "unknown", commands[24], events[24], replies[24], rejected[24], replayed[24],
         dead[24], users[24], partners[24];
    int64_t low = 0, high = 0;
    sp_error err;
    if (svc->next_offset >= 0 && sp_kafka_watermarks(svc->consumer, SP_TOPIC_ACCOUNTS_COMMANDS, 0,
                                                     &low, &high, WATERMARK_TIMEOUT_MS, &err) == 0)
        i64_text(high > svc->next_offset ? high - svc->next_offset : 0, lag);
    u64_text(svc->counters.commands, commands);
    u64_text(svc->counters.events_written, events);
    u64_text(svc->counters.replies, replies);
    u64_text(svc->counters.rejected, rejected);
    u64_text(svc->counters.replayed, replayed);
    u64_text(svc->counters.dead_letters, dead);
    u64_text(sp_accounts_user_count(&svc->state), users);
    u64_text(sp_accounts_partner_count(&svc->state), partners);
    sp_log_info(svc->log, "stats", "lag", lag, "commands", commands, "events_written", events,
                "replies", replies, "rejected", rejected, "replayed", replayed, "dead_letters",
                dead, "users", users, "partners", partners, NULL);
}

static int loop(service *svc, volatile sig_atomic_t *stop, sp_error *err) {
    svc->stats_at_ms = sp_clock_monotonic_ms();
    while (!*stop) {
        int n = sp_kafka_consumer_poll_batch(svc->consumer, svc->msgs, SP_KAFKA_BATCH_MAX,
                                             POLL_TIMEOUT_MS, err);
        if (n < 0) return -1;
        if (n > 0 && process_batch(svc, (size_t)n, err) != 0) return -1;
        if (n > 0) acc_snapshot_round(svc, false); /* its events are flushed */
        sp_kafka_producer_poll(svc->producer);
        if (sp_clock_monotonic_ms() - svc->stats_at_ms >= STATS_INTERVAL_MS) {
            log_stats(svc);
            svc->stats_at_ms = sp_clock_monotonic_ms();
        }
    }
    sp_log_info(svc->log, "stopping", NULL);
    return 0;
}

/* ------------------------------------------------------------------ run */

static int start(service *svc, sp_error *err) {
    const char *snapshot_dir = svc->config->snapshot_dir;
    if (snapshot_dir != NULL && snapshot_dir[0] != '\0' && access(snapshot_dir, W_OK | X_OK) != 0)
        return sp_error_set(err, 400, "invalid_setting", "SP_SNAPSHOT_DIR",
                            "%s is not a folder this service can write: %s", snapshot_dir,
                            strerror(errno));
    svc->msgs = calloc(SP_KAFKA_BATCH_MAX, sizeof *svc->msgs);
    svc->plans = calloc(SP_KAFKA_BATCH_MAX, sizeof *svc->plans);
    if (svc->msgs == NULL || svc->plans == NULL)
        return sp_error_set(err, 500, "out_of_memory", "", "batch buffers");
    if (bootstrap_check(svc, err) != 0) return -1;
    if (sp_accounts_state_init(&svc->state, &svc->limits, err) != 0) return -1;
    svc->producer = sp_kafka_producer_new(svc->config->brokers, "solipass-accounts", svc->log, err);
    if (svc->producer == NULL) return -1;
    if (rebuild(svc, err) != 0) return -1;
    if (bootstrap(svc, err) != 0) return -1;
    const char *const topics[] = {SP_TOPIC_ACCOUNTS_COMMANDS};
    svc->consumer = sp_kafka_consumer_new_group(svc->config->brokers, SP_ACCOUNTS_GROUP_ID, topics,
                                                1, on_assigned, on_revoked, svc, svc->log, err);
    return svc->consumer != NULL ? 0 : -1;
}

int sp_accounts_service_run(const sp_accounts_config *config, sp_log *log, sp_clock *clock,
                            volatile sig_atomic_t *stop, sp_error *err) {
    assert(config != NULL && log != NULL && clock != NULL && stop != NULL);
    assert(config->users_max > 0);
    service *svc = calloc(1, sizeof *svc);
    if (svc == NULL) return sp_error_set(err, 500, "out_of_memory", "", "service");
    svc->config = config;
    svc->log = log;
    svc->readiness.log = log;
    svc->clock = clock;
    svc->next_offset = NEXT_OFFSET_UNKNOWN;
    size_t users_max = (size_t)config->users_max;
    svc->limits = (sp_accounts_limits){
        .users_max = users_max,
        .sessions_max = users_max * (size_t)config->sessions_per_user_max,
        .sessions_per_user_max = (size_t)config->sessions_per_user_max,
        .records_max = users_max * SP_ACCOUNTS_RECORDS_PER_USER_MAX,
        .outcome_ttl_ms = config->outcome_ttl_s * 1000,
        .activations_max = users_max * SP_ACCOUNTS_ACTIVATIONS_PER_USER_MAX,
        .activation_ttl_ms = config->activation_ttl_s * 1000};
    int rc = start(svc, err);
    if (rc == 0) rc = loop(svc, stop, err);
    if (rc == 0) acc_snapshot_round(svc, true); /* a clean stop: the next start reads little */
    int write_rc = 0;
    sp_error write_err;
    sp_snapshot_writer_done(&svc->snapshot_writer, true, &write_rc, &write_err);
    /* The consumer leaves its group before the producer's last flush. */
    sp_kafka_consumer_free(svc->consumer);
    sp_kafka_producer_free(svc->producer);
    sp_accounts_state_destroy(&svc->state);
    free(svc->plans);
    free(svc->msgs);
    free(svc);
    return rc;
}
