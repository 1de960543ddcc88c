/* commands.c - the producer, the replies thread and the table of requests
 * waiting for a reply (see commands.h). */
#include "commands.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "projwait.h"
#include "sp_id.h"
#include "sp_kafka.h"

#define SP_GW_REPLY_TYPE "Reply.v1"
#define SP_GW_REPLIES_RESTART_PAUSE_MS 200

typedef enum {
    WAITER_FREE = 0,
    WAITER_WAITING,  /* a request thread sleeps on it */
    WAITER_ABANDONED /* the request left; the delivery report is still due */
} waiter_state;

typedef struct waiter {
    waiter_state state;
    char envelope_id[SP_ID_LEN + 1];
    pthread_cond_t cond;
    Solipass__Reply *reply;     /* set by the replies thread, taken by the request */
    sp_kafka_delivery delivery; /* written by the delivery report (replies thread) */
    bool produced;              /* delivery is in librdkafka's hands */
    bool delivery_seen;
    bool delivery_failed;
    rd_kafka_resp_err_t delivery_error;
} waiter;

struct sp_gw_commands {
    const char *brokers; /* borrowed from the configuration */
    sp_log *log;
    sp_gw_metrics *metrics;
    char reply_to[SP_GW_INSTANCE_REPLY_TO_MAX];
    sp_kafka_producer *producer;
    sp_kafka_consumer *replies; /* used by the thread only, once started */
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    pthread_mutex_t mutex; /* guards the waiters */
    waiter *waiters;
    size_t in_use; /* waiters not FREE */
};

/* ------------------------------------------------------------------ replies consumer */

/* The replies partition's current end, read before HTTP is served: every
 * reply to a command sent afterwards is at or beyond it. */
static sp_kafka_consumer *open_replies(const char *brokers, sp_log *log, sp_error *err) {
    sp_kafka_consumer *probe = sp_kafka_consumer_new_assigned(brokers, "solipass-gateway-probe",
                                                              NULL, 0, log, err);
    if (probe == NULL) return NULL;
    int64_t low = 0, high = 0;
    int rc = sp_kafka_watermarks(probe, SP_TOPIC_REPLIES, 0, &low, &high, SP_GW_KAFKA_START_WAIT_MS,
                                 err);
    sp_kafka_consumer_free(probe);
    if (rc != 0) return NULL;
    sp_kafka_tp tp = {.topic = SP_TOPIC_REPLIES, .partition = 0, .offset = high};
    char offset[24];
    snprintf(offset, sizeof offset, "%" PRId64, high);
    sp_log_info(log, "reading replies", "topic", SP_TOPIC_REPLIES, "offset", offset, NULL);
    return sp_kafka_consumer_new_assigned(brokers, "solipass-gateway", &tp, 1, log, err);
}

/* Under the mutex: the waiting request whose command has this envelope id. */
static waiter *waiter_of(sp_gw_commands *c, const char *envelope_id) {
    for (size_t i = 0; i < SP_GW_WAITERS_MAX; i++) {
        waiter *w = &c->waiters[i];
        if (w->state == WAITER_WAITING && strcmp(w->envelope_id, envelope_id) == 0) return w;
    }
    return NULL;
}

static Solipass__Reply *decode_reply(sp_gw_commands *c, const sp_kafka_msg *msg,
                                     char *causation_id) {
    sp_error err;
    Solipass__Envelope *env = sp_envelope_unpack(msg->value, msg->value_len, &err);
    if (env == NULL) {
        sp_log_warn(c->log, "undecodable reply skipped", "error", err.message, NULL);
        return NULL;
    }
    Solipass__Reply *reply = NULL;
    if (strcmp(env->type, SP_GW_REPLY_TYPE) != 0 || !sp_id_valid(env->causation_id)) {
        sp_log_warn(c->log, "reply skipped: not a Reply.v1 with a causation id", "type", env->type,
                    NULL);
    } else {
        reply = solipass__reply__unpack(NULL, env->payload.len, env->payload.data);
        if (reply == NULL) sp_log_warn(c->log, "reply skipped: undecodable payload", NULL);
        snprintf(causation_id, SP_ID_LEN + 1, "%s", env->causation_id);
    }
    solipass__envelope__free_unpacked(env, NULL);
    return reply;
}

static void handle_reply(sp_gw_commands *c, const sp_kafka_msg *msg) {
    size_t ours_len = strlen(c->reply_to);
    if (msg->key == NULL || msg->key_len != ours_len ||
        memcmp(msg->key, c->reply_to, ours_len) != 0) {
        return; /* another gateway's */
    }
    char causation_id[SP_ID_LEN + 1] = "";
    Solipass__Reply *reply = decode_reply(c, msg, causation_id);
    if (reply == NULL) return;
    pthread_mutex_lock(&c->mutex);
    waiter *w = waiter_of(c, causation_id);
    if (w != NULL && w->reply == NULL) {
        w->reply = reply;
        reply = NULL;
        pthread_cond_signal(&w->cond);
    }
    pthread_mutex_unlock(&c->mutex);
    if (reply != NULL) {
        /* Its request timed out already, or a redelivered duplicate. */
        sp_gw_metrics_reply_unmatched(c->metrics);
        sp_log_debug(c->log, "reply without a waiting request", "causation_id", causation_id, NULL);
        solipass__reply__free_unpacked(reply, NULL);
    }
}

/* Delivery reports are served by this thread's sp_kafka_producer_poll(),
 * so `delivery` is only ever written here. */
static void check_deliveries(sp_gw_commands *c) {
    pthread_mutex_lock(&c->mutex);
    for (size_t i = 0; i < SP_GW_WAITERS_MAX && c->in_use > 0; i++) {
        waiter *w = &c->waiters[i];
        if (w->state == WAITER_FREE || !w->produced || w->delivery_seen || !w->delivery.done) {
            continue;
        }
        w->delivery_seen = true;
        if (w->delivery.error != RD_KAFKA_RESP_ERR_NO_ERROR) {
            w->delivery_failed = true;
            w->delivery_error = w->delivery.error;
            pthread_cond_signal(&w->cond);
        }
        if (w->state == WAITER_ABANDONED) {
            w->state = WAITER_FREE;
            c->in_use--;
        }
    }
    pthread_mutex_unlock(&c->mutex);
}

/* After a consumer failure (e.g. the replies partition was truncated past
 * our position): start again at the current end. Requests waiting on a
 * lost reply time out and are retried by their clients. */
static void restart_replies(sp_gw_commands *c, const sp_error *why) {
    sp_log_error(c->log, "replies consumer failed, restarting it", "error", why->message, NULL);
    sp_kafka_consumer_free(c->replies);
    c->replies = NULL;
    struct timespec pause = {.tv_sec = 0, .tv_nsec = SP_GW_REPLIES_RESTART_PAUSE_MS * 1000000L};
    nanosleep(&pause, NULL);
    sp_error err;
    c->replies = open_replies(c->brokers, c->log, &err);
    if (c->replies == NULL) sp_log_error(c->log, "replies consumer", "error", err.message, NULL);
}

static void *run_replies(void *arg) {
    sp_gw_commands *c = arg;
    sp_kafka_msg msgs[SP_GW_REPLIES_BATCH_MAX];
    while (!atomic_load(&c->stop)) {
        sp_kafka_producer_poll(c->producer);
        sp_error err;
        if (c->replies == NULL) {
            sp_error_set(&err, 503, "unavailable", NULL, "no replies consumer");
            restart_replies(c, &err);
            continue;
        }
        int n = sp_kafka_consumer_poll_batch(c->replies, msgs, SP_GW_REPLIES_BATCH_MAX,
                                             SP_GW_REPLIES_POLL_MS, &err);
        if (n < 0) {
            restart_replies(c, &err);
            continue;
        }
        for (int i = 0; i < n; i++) handle_reply(c, &msgs[i]);
        check_deliveries(c);
    }
    return NULL;
}

/* ------------------------------------------------------------------ lifecycle */

static int waiters_init(sp_gw_commands *c, sp_error *err) {
    c->waiters = calloc(SP_GW_WAITERS_MAX, sizeof *c->waiters);
    if (c->waiters == NULL) return sp_error_set(err, 500, "out_of_memory", NULL, "waiters");
    for (size_t i = 0; i < SP_GW_WAITERS_MAX; i++) {
        if (sp_gw_cond_init(&c->waiters[i].cond) != 0) {
            for (size_t k = 0; k < i; k++) pthread_cond_destroy(&c->waiters[k].cond);
            free(c->waiters);
            c->waiters = NULL;
            return sp_error_set(err, 500, "internal", NULL, "waiters: condition variables");
        }
    }
    return 0;
}

sp_gw_commands *sp_gw_commands_new(const char *brokers, sp_gw_metrics *metrics, sp_log *log,
                                   sp_error *err) {
    assert(brokers != NULL && metrics != NULL && log != NULL);
    sp_gw_commands *c = calloc(1, sizeof *c);
    if (c == NULL) {
        sp_error_set(err, 500, "out_of_memory", NULL, "commands");
        return NULL;
    }
    c->brokers = brokers;
    c->log = log;
    c->metrics = metrics;
    atomic_init(&c->stop, false);
    pthread_mutex_init(&c->mutex, NULL);
    char instance[SP_ID_LEN + 1];
    sp_id_new(instance);
    snprintf(c->reply_to, sizeof c->reply_to, "gateway-%s", instance);
    if (waiters_init(c, err) != 0) goto fail;
    c->producer = sp_kafka_producer_new(brokers, "solipass-gateway", log, err);
    if (c->producer == NULL) goto fail;
    c->replies = open_replies(brokers, log, err);
    if (c->replies == NULL) goto fail;
    if (pthread_create(&c->thread, NULL, run_replies, c) != 0) {
        sp_error_set(err, 500, "internal", NULL, "cannot start the replies thread");
        goto fail;
    }
    c->thread_started = true;
    return c;
fail:
    sp_gw_commands_free(c);
    return NULL;
}

void sp_gw_commands_free(sp_gw_commands *c) {
    if (c == NULL) return;
    atomic_store(&c->stop, true);
    if (c->thread_started) pthread_join(c->thread, NULL);
    sp_kafka_consumer_free(c->replies);
    /* Its last delivery reports still write into the waiters: free it first. */
    sp_kafka_producer_free(c->producer);
    for (size_t i = 0; c->waiters != NULL && i < SP_GW_WAITERS_MAX; i++) {
        assert(c->waiters[i].state != WAITER_WAITING);
        if (c->waiters[i].reply != NULL) solipass__reply__free_unpacked(c->waiters[i].reply, NULL);
        pthread_cond_destroy(&c->waiters[i].cond);
    }
    free(c->waiters);
    pthread_mutex_destroy(&c->mutex);
    free(c);
}

const char *sp_gw_commands_reply_to(const sp_gw_commands *c) {
    assert(c != NULL);
    return c->reply_to;
}

size_t sp_gw_commands_pending(sp_gw_commands *c) {
    assert(c != NULL);
    pthread_mutex_lock(&c->mutex);
    size_t in_use = c->in_use;
    pthread_mutex_unlock(&c->mutex);
    return in_use;
}

/* ------------------------------------------------------------------ sending */

static waiter *waiter_reserve(sp_gw_commands *c, const char *envelope_id) {
    pthread_mutex_lock(&c->mutex);
    waiter *w = NULL;
    for (size_t i = 0; i < SP_GW_WAITERS_MAX && w == NULL; i++) {
        if (c->waiters[i].state == WAITER_FREE) w = &c->waiters[i];
    }
    if (w != NULL) {
        w->state = WAITER_WAITING;
        snprintf(w->envelope_id, sizeof w->envelope_id, "%s", envelope_id);
        w->reply = NULL;
        w->produced = false;
        w->delivery_seen = false;
        w->delivery_failed = false;
        w->delivery_error = RD_KAFKA_RESP_ERR_NO_ERROR;
        c->in_use++;
    }
    pthread_mutex_unlock(&c->mutex);
    return w;
}

typedef struct wait_result {
    Solipass__Reply *reply;
    bool delivery_failed;
    rd_kafka_resp_err_t delivery_error;
} wait_result;

/* Sleeps until a reply, a failed delivery or the deadline, then lets the
 * waiter go (or leaves it to the replies thread until its delivery report). */
static wait_result waiter_wait(sp_gw_commands *c, waiter *w, int64_t deadline_ms) {
    struct timespec until = sp_gw_deadline_timespec(deadline_ms > 0 ? deadline_ms : 0);
    pthread_mutex_lock(&c->mutex);
    w->produced = true;
    int wait_rc = 0;
    while (w->reply == NULL && !w->delivery_failed && wait_rc != ETIMEDOUT) {
        wait_rc = pthread_cond_timedwait(&w->cond, &c->mutex, &until);
    }
    wait_result result = {.reply = w->reply,
                          .delivery_failed = w->delivery_failed,
                          .delivery_error = w->delivery_error};
    w->reply = NULL;
    if (w->delivery_seen) {
        w->state = WAITER_FREE;
        c->in_use--;
    } else {
        w->state = WAITER_ABANDONED;
    }
    pthread_mutex_unlock(&c->mutex);
    return result;
}

static void waiter_release_unproduced(sp_gw_commands *c, waiter *w) {
    pthread_mutex_lock(&c->mutex);
    w->state = WAITER_FREE;
    c->in_use--;
    pthread_mutex_unlock(&c->mutex);
}

static int unavailable(sp_gw_commands *c, int64_t started_ms, const char *message, sp_error *err) {
    sp_gw_metrics_command(c->metrics, SP_GW_COMMAND_UNAVAILABLE, sp_gw_monotonic_ms() - started_ms);
    return sp_error_set(err, 503, "unavailable", "", "%s", message);
}

int sp_gw_commands_send(sp_gw_commands *c, const char *topic, const sp_envelope_meta *meta,
                        const ProtobufCMessage *payload, int64_t deadline_ms,
                        Solipass__Reply **reply, sp_error *err) {
    assert(c != NULL && topic != NULL && meta != NULL && reply != NULL);
    *reply = NULL;
    int64_t started_ms = sp_gw_monotonic_ms();
    sp_envelope_meta m = *meta;
    m.reply_to = c->reply_to;
    m.causation_id = "";
    uint8_t *buf = NULL;
    size_t len = 0;
    char envelope_id[SP_ID_LEN + 1];
    sp_error pack_err;
    if (sp_envelope_pack(&m, payload, &buf, &len, envelope_id, &pack_err) != 0) {
        sp_log_error(c->log, "command not packed", "type", m.type, "error", pack_err.message, NULL);
        return sp_error_set(err, 500, "internal", "", "the request could not be completed");
    }
    /* Registered before it is produced: its reply cannot arrive unseen. */
    waiter *w = waiter_reserve(c, envelope_id);
    if (w == NULL) {
        free(buf);
        return unavailable(c, started_ms, "too many requests in flight: try again", err);
    }
    sp_error produce_err;
    int rc = sp_kafka_produce(c->producer, topic, RD_KAFKA_PARTITION_UA, m.aggregate_id, buf, len,
                              &w->delivery, &produce_err);
    free(buf);
    if (rc != 0) {
        waiter_release_unproduced(c, w);
        sp_log_warn(c->log, "command not produced", "type", m.type, "error", produce_err.message,
                    NULL);
        return unavailable(c, started_ms, "the event log is unavailable: try again", err);
    }
    wait_result result = waiter_wait(c, w, deadline_ms);
    int64_t elapsed_ms = sp_gw_monotonic_ms() - started_ms;
    if (result.reply != NULL) {
        sp_gw_metrics_command(c->metrics, SP_GW_COMMAND_REPLIED, elapsed_ms);
        *reply = result.reply;
        return 0;
    }
    if (result.delivery_failed) {
        sp_log_warn(c->log, "command not delivered", "type", m.type, "error",
                    rd_kafka_err2name(result.delivery_error), NULL);
        return unavailable(c, started_ms,
                           "the event log did not take the request: retry with the same "
                           "Idempotency-Key",
                           err);
    }
    sp_gw_metrics_command(c->metrics, SP_GW_COMMAND_TIMEOUT, elapsed_ms);
    sp_log_warn(c->log, "command timed out", "type", m.type, "command_id", m.command_id, NULL);
    return sp_error_set(err, 503, "timeout", "",
                        "no outcome in time: it is unknown whether the request was carried "
                        "out; retry with the same Idempotency-Key");
}

int sp_gw_commands_run(sp_gw_commands *c, sp_gw_projwait *projwait, const char *topic,
                       const sp_envelope_meta *meta, const ProtobufCMessage *payload,
                       int64_t deadline_ms, Solipass__Reply **reply, sp_error *err) {
    assert(projwait != NULL);
    if (sp_gw_commands_send(c, topic, meta, payload, deadline_ms, reply, err) != 0) return -1;
    if (!(*reply)->ok) return 0;
    Solipass__Reply *r = *reply;
    if (sp_gw_projwait_until(projwait, r->events, r->n_events, deadline_ms, err) != 0) {
        solipass__reply__free_unpacked(*reply, NULL);
        *reply = NULL;
        return -1;
    }
    return 0;
}
