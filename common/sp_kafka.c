/* sp_kafka.c - the idempotent producer, the group and assigned consumers, and
 * the partition replay every single writer rebuilds its state with, over
 * librdkafka. Every handle routes librdkafka's own logs and errors into the
 * service's JSON log, so that stderr stays one JSON object per line. */
#include "sp_kafka.h"

#include "sp_clock.h"

#include <assert.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sp_id.h"
#include "sp_kafka_security.h"
#include "sp_metrics.h"

#define SP_KAFKA_ERRSTR_MAX 512
#define SP_KAFKA_QUEUE_FULL_TRIES_MAX 500 /* x 10 ms of polling: 5 s of back-pressure */
#define SP_KAFKA_QUEUE_FULL_POLL_MS 10
#define SP_KAFKA_FREE_FLUSH_MS 5000
#define SP_KAFKA_POLL_ERRORS_MAX 64 /* error events skipped in one poll_batch */
#define SP_KAFKA_COMMITTED_TIMEOUT_MS 10000
#define SP_KAFKA_GROUP_ID_MAX 160
#define SP_KAFKA_METADATA_TIMEOUT_MS 5000
/* A killed group member holds its partitions until its session times out:
 * the smallest session timeout a stock Kafka broker accepts
 * (group.min.session.timeout.ms), instead of librdkafka's 45 s. */
#define SP_KAFKA_SESSION_TIMEOUT_MS "6000"
#define SP_KAFKA_HEARTBEAT_INTERVAL_MS "2000"
/* The devbroker answers an empty fetch only when fetch.wait.max.ms expires,
 * even if data arrives meanwhile: with the default 500 ms every hop of a
 * command (gateway, service, reply, projection) would wait that long. At
 * 10 ms an idle reader costs about 1% of a core. */
#define SP_KAFKA_FETCH_WAIT_MS_MAX "10"
/* The readers every payment's answer waits on, one hop each (the
 * transactions service's commands, the gateway's replies, the projection's
 * events), by client id: under load their fetch often finds the log empty
 * and the devbroker held it for the whole wait while the next message was
 * already there, about half of 10 ms a hop. At 1 ms each costs about 1,000
 * empty fetches a second while idle, so the other readers keep 10 ms.
 * Against a Kafka broker, which answers as soon as data arrives, the wait
 * only bounds the idle fetches. */
#define SP_KAFKA_FETCH_WAIT_MS_ANSWER_PATH "1"
static const char *const sp_kafka_answer_path_readers[] = {"solipass-transactions",
                                                           "solipass-gateway",
                                                           "solipass-projection"};
/* The lag gauges are refreshed at most this often, from librdkafka's cached
 * watermarks: no broker round trip. */
#define SP_KAFKA_LAG_UPDATE_MS 1000

/* Where a handle counts (sp_metrics.h), found once when it is created from
 * the logger's registry; every member NULL when metrics are off. */
typedef struct sp_kafka_counts {
    sp_metric *processed;        /* messages a poll loop finished with, by topic */
    sp_metric *produced;         /* messages delivered, by topic */
    sp_metric *produce_failures; /* messages not delivered, by topic */
    sp_metric *dead_letters;     /* delivered to SP_TOPIC_DEADLETTER */
    sp_metric *lag;              /* high watermark - position, by topic and partition */
    sp_metric *command_duration; /* command timestamp to committed offset, by topic */
} sp_kafka_counts;

/* What librdkafka's callbacks get as opaque, on every handle. */
typedef struct sp_kafka_ctx {
    sp_log *log;
    const char *role; /* "producer" | "consumer", a literal */
    sp_kafka_counts counts;
} sp_kafka_ctx;

struct sp_kafka_producer {
    sp_kafka_ctx ctx; /* first: the rd_kafka opaque points here */
    rd_kafka_t *rk;
    atomic_bool failed_since_flush;
    pthread_mutex_t first_failure_mutex;
    rd_kafka_resp_err_t first_failure; /* under first_failure_mutex */
};

struct sp_kafka_consumer {
    sp_kafka_ctx ctx; /* first: the rd_kafka opaque points here */
    rd_kafka_t *rk;
    bool group_mode;
    sp_kafka_assigned_fn on_assigned;
    sp_kafka_revoked_fn on_revoked;
    void *cb_ctx;
    bool assign_failed; /* set in the rebalance callback (polling thread) */
    sp_error assign_err;
    rd_kafka_message_t *held[SP_KAFKA_BATCH_MAX]; /* the last batch, owned */
    size_t held_count;
    int64_t lag_updated_ms; /* monotonic; 0: never */
};

/* ------------------------------------------------------------------ common */

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *const sp_kafka_topic_label[] = {"topic"};
static const char *const sp_kafka_partition_labels[] = {"topic", "partition"};

/* Names and meanings are listed in docs/operations.md (Metrics). */
static sp_kafka_counts counts_of(sp_log *log) {
    sp_metrics *m = log->metrics;
    if (m == NULL) return (sp_kafka_counts){0};
    return (sp_kafka_counts){
        .processed = sp_metrics_counter(
            m, "solipass_messages_processed_total",
            "Messages the service finished with (applied, answered or dead-lettered), by topic.",
            sp_kafka_topic_label, 1),
        .produced = sp_metrics_counter(m, "solipass_messages_produced_total",
                                       "Messages delivered to the broker (acks=all), by topic.",
                                       sp_kafka_topic_label, 1),
        .produce_failures = sp_metrics_counter(m, "solipass_produce_failures_total",
                                               "Messages the broker did not take, by topic.",
                                               sp_kafka_topic_label, 1),
        .dead_letters = sp_metrics_counter(m, "solipass_dead_letters_total",
                                           "Messages this service sent to " SP_TOPIC_DEADLETTER
                                           " (delivered).",
                                           NULL, 0),
        .lag = sp_metrics_gauge(m, "solipass_consumer_lag_messages",
                                "Messages in the partition not yet read: high watermark minus "
                                "the consumer's position.",
                                sp_kafka_partition_labels, 2),
        .command_duration = sp_metrics_histogram(
            m, "solipass_command_duration_seconds",
            "From a command's Kafka timestamp to its offset commit, its events and reply durable.",
            sp_kafka_topic_label, 1, sp_metrics_latency_bounds_ms, sp_metrics_latency_bound_count),
    };
}

static void on_rk_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    const sp_kafka_ctx *ctx = rd_kafka_opaque(rk);
    if (ctx == NULL || ctx->log == NULL) return;
    sp_log_level lvl = level <= 3   ? SP_LOG_ERROR
                       : level == 4 ? SP_LOG_WARN
                       : level <= 6 ? SP_LOG_INFO
                                    : SP_LOG_DEBUG;
    sp_log_write(ctx->log, lvl, "librdkafka", "client", rd_kafka_name(rk), "facility", fac,
                 "detail", buf, NULL);
}

static void on_rk_error(rd_kafka_t *rk, int error, const char *reason, void *opaque) {
    const sp_kafka_ctx *ctx = opaque;
    char fatal[SP_KAFKA_ERRSTR_MAX] = "";
    if (error == RD_KAFKA_RESP_ERR__FATAL) rd_kafka_fatal_error(rk, fatal, sizeof fatal);
    /* "all brokers down" and transport errors are retried by librdkafka
     * itself: they are worth a warning, not an alarm. */
    sp_log_level lvl = error == RD_KAFKA_RESP_ERR__FATAL ? SP_LOG_ERROR : SP_LOG_WARN;
    sp_log_write(ctx->log, lvl, "kafka error", "client", rd_kafka_name(rk), "role", ctx->role,
                 "error", rd_kafka_err2name((rd_kafka_resp_err_t)error), "reason", reason, "fatal",
                 fatal, NULL);
}

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, sp_error *err) {
    char errstr[SP_KAFKA_ERRSTR_MAX];
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
        return sp_error_set(err, 500, "kafka_config", NULL, "%s=%s: %s", name, value, errstr);
    return 0;
}

int sp_kafka_conf_security(struct rd_kafka_conf_s *conf, sp_error *err) {
    assert(conf != NULL);
    const char *names[SP_KAFKA_SECURITY_PAIRS_MAX], *values[SP_KAFKA_SECURITY_PAIRS_MAX];
    size_t n = sp_kafka_security_properties(sp_kafka_security_installed(), names, values);
    for (size_t i = 0; i < n; i++) {
        char errstr[SP_KAFKA_ERRSTR_MAX];
        /* The value may be a password: it never goes into the error. */
        if (rd_kafka_conf_set(conf, names[i], values[i], errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
            return sp_error_set(err, 500, "kafka_config", NULL, "%s: %s", names[i], errstr);
    }
    return 0;
}

/* Sets pairs {name, value, ..., NULL}. */
static int conf_set_all(rd_kafka_conf_t *conf, const char *const *pairs, sp_error *err) {
    for (size_t i = 0; pairs[i] != NULL; i += 2) {
        assert(pairs[i + 1] != NULL);
        if (conf_set(conf, pairs[i], pairs[i + 1], err) != 0) return -1;
    }
    return 0;
}

/* Asks the broker for the topics' metadata now and waits for it (best
 * effort, bounded): librdkafka otherwise learns a topic first used after the
 * connection is up only on its one-second metadata timer, which would add a
 * second to the first produce to each topic and to the start of an assigned
 * reader. */
static void warm_metadata(rd_kafka_t *rk, sp_log *log, const char *const *topics,
                          size_t topic_count) {
    for (size_t i = 0; i < topic_count; i++) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topics[i], NULL);
        if (rkt == NULL) continue;
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, SP_KAFKA_METADATA_TIMEOUT_MS);
        if (md != NULL) rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            /* The broker is not there yet: one wait is enough. */
            sp_log_warn(log, "kafka metadata not available yet", "topic", topics[i], "error",
                        rd_kafka_err2name(e), NULL);
            return;
        }
    }
}

/* ------------------------------------------------------------------ producer */

static const char *const sp_kafka_topics[] = {SP_TOPIC_ACCOUNTS_COMMANDS, SP_TOPIC_ACCOUNTS_EVENTS,
                                              SP_TOPIC_LEDGER_COMMANDS,   SP_TOPIC_LEDGER_EVENTS,
                                              SP_TOPIC_REPLIES,           SP_TOPIC_DEADLETTER,
                                              SP_TOPIC_FINANCE,           SP_TOPIC_FINANCE_JSON};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    sp_kafka_producer *producer = opaque; /* &producer->ctx, its first member */
    sp_kafka_delivery *delivery = m->_private;
    if (delivery != NULL) {
        delivery->partition = m->partition;
        delivery->offset = m->offset;
        delivery->error = m->err;
        delivery->done = true;
    }
    const char *topic_label[] = {m->rkt ? rd_kafka_topic_name(m->rkt) : ""};
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        sp_metric_add(producer->ctx.counts.produced, topic_label, 1);
        if (strcmp(topic_label[0], SP_TOPIC_DEADLETTER) == 0)
            sp_metric_add(producer->ctx.counts.dead_letters, NULL, 1);
        return;
    }
    sp_metric_add(producer->ctx.counts.produce_failures, topic_label, 1);
    if (!atomic_exchange(&producer->failed_since_flush, true)) {
        pthread_mutex_lock(&producer->first_failure_mutex);
        producer->first_failure = m->err;
        pthread_mutex_unlock(&producer->first_failure_mutex);
    }
    char partition[16];
    snprintf(partition, sizeof partition, "%" PRId32, m->partition);
    sp_log_error(producer->ctx.log, "kafka delivery failed", "topic",
                 m->rkt ? rd_kafka_topic_name(m->rkt) : "", "partition", partition, "error",
                 rd_kafka_err2name(m->err), NULL);
}

sp_kafka_producer *sp_kafka_producer_new(const char *brokers, const char *client_id, sp_log *log,
                                         sp_error *err) {
    assert(brokers != NULL && client_id != NULL && log != NULL);
    sp_kafka_producer *producer = calloc(1, sizeof *producer);
    if (producer == NULL) {
        sp_error_set(err, 500, "out_of_memory", NULL, "kafka producer");
        return NULL;
    }
    producer->ctx = (sp_kafka_ctx){.log = log, .role = "producer", .counts = counts_of(log)};
    atomic_init(&producer->failed_since_flush, false);
    pthread_mutex_init(&producer->first_failure_mutex, NULL);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* clang-format off */
    const char *const pairs[] = {
        "bootstrap.servers", brokers, "client.id", client_id,
        "enable.idempotence", "true", "acks", "all",
        "partitioner", "murmur2_random", "linger.ms", "1",
        /* A broker that is gone must fail deliveries in seconds, not in
         * librdkafka's default five minutes: callers answer 503 and retry. */
        "message.timeout.ms", "10000",
        /* Small requests pipelined on one connection: with Nagle's algorithm
         * the second waits for the broker's delayed ACK, 40 ms a flush. */
        "socket.nagle.disable", "true", NULL};
    /* clang-format on */
    if (conf_set_all(conf, pairs, err) != 0 || sp_kafka_conf_security(conf, err) != 0) goto fail;
    rd_kafka_conf_set_opaque(conf, &producer->ctx);
    rd_kafka_conf_set_log_cb(conf, on_rk_log);
    rd_kafka_conf_set_error_cb(conf, on_rk_error);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    char errstr[SP_KAFKA_ERRSTR_MAX];
    producer->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (producer->rk == NULL) {
        sp_error_set(err, 500, "kafka_config", NULL, "producer: %s", errstr);
        goto fail;
    }
    warm_metadata(producer->rk, log, sp_kafka_topics,
                  sizeof sp_kafka_topics / sizeof sp_kafka_topics[0]);
    return producer; /* rd_kafka_new took conf */
fail:
    if (conf != NULL) rd_kafka_conf_destroy(conf);
    pthread_mutex_destroy(&producer->first_failure_mutex);
    free(producer);
    return NULL;
}

void sp_kafka_producer_free(sp_kafka_producer *producer) {
    if (producer == NULL) return;
    rd_kafka_flush(producer->rk, SP_KAFKA_FREE_FLUSH_MS);
    int left = rd_kafka_outq_len(producer->rk);
    if (left > 0) {
        char count[16];
        snprintf(count, sizeof count, "%d", left);
        sp_log_error(producer->ctx.log, "kafka producer closed with undelivered messages", "count",
                     count, NULL);
    }
    rd_kafka_destroy(producer->rk);
    pthread_mutex_destroy(&producer->first_failure_mutex);
    free(producer);
}

int sp_kafka_produce(sp_kafka_producer *producer, const char *topic, int32_t partition,
                     const char *key, const void *value, size_t value_len,
                     sp_kafka_delivery *delivery, sp_error *err) {
    assert(producer != NULL && topic != NULL && (value != NULL || value_len == 0));
    if (delivery != NULL)
        *delivery = (sp_kafka_delivery){.partition = -1, .offset = -1, .done = false};
    size_t key_len = key ? strlen(key) : 0;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int tries = 0; tries < SP_KAFKA_QUEUE_FULL_TRIES_MAX; tries++) {
        e = rd_kafka_producev(producer->rk, RD_KAFKA_V_TOPIC(topic),
                              RD_KAFKA_V_PARTITION(partition),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_KEY(key, key_len),
                              RD_KAFKA_V_VALUE((void *)value, value_len),
                              RD_KAFKA_V_OPAQUE(delivery), RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
        /* The local queue drains only as delivery reports are served. */
        rd_kafka_poll(producer->rk, SP_KAFKA_QUEUE_FULL_POLL_MS);
    }
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return 0;
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL || e == RD_KAFKA_RESP_ERR__FATAL)
        return sp_error_set(err, 503, "kafka_unavailable", NULL, "produce to %s: %s", topic,
                            rd_kafka_err2str(e));
    return sp_error_set(err, 500, "kafka_produce_failed", NULL, "produce to %s: %s", topic,
                        rd_kafka_err2str(e));
}

int sp_kafka_producer_flush(sp_kafka_producer *producer, int timeout_ms, sp_error *err) {
    assert(producer != NULL && timeout_ms >= 0);
    rd_kafka_resp_err_t e = rd_kafka_flush(producer->rk, timeout_ms);
    bool failed = atomic_exchange(&producer->failed_since_flush, false);
    if (e == RD_KAFKA_RESP_ERR__TIMED_OUT || rd_kafka_outq_len(producer->rk) > 0)
        return sp_error_set(err, 503, "kafka_unavailable", NULL,
                            "%d messages not delivered within %d ms",
                            rd_kafka_outq_len(producer->rk), timeout_ms);
    if (failed) {
        pthread_mutex_lock(&producer->first_failure_mutex);
        rd_kafka_resp_err_t first = producer->first_failure;
        pthread_mutex_unlock(&producer->first_failure_mutex);
        return sp_error_set(err, 503, "kafka_unavailable", NULL,
                            "a message produced since the last flush failed: %s",
                            rd_kafka_err2str(first));
    }
    return 0;
}

sp_metrics *sp_kafka_producer_metrics(const sp_kafka_producer *producer) {
    assert(producer != NULL);
    return producer->ctx.counts.produced != NULL ? producer->ctx.log->metrics : NULL;
}

void sp_kafka_producer_poll(sp_kafka_producer *producer) {
    assert(producer != NULL);
    rd_kafka_poll(producer->rk, 0);
}

/* ------------------------------------------------------------------ consumer */

/* The caller polls again (or closes) only once it is done with the last
 * batch: that is when its messages count as processed, a run of one topic
 * at a time. */
static void count_processed(sp_kafka_consumer *consumer) {
    size_t run_start = 0;
    for (size_t i = 1; i <= consumer->held_count; i++) {
        if (i < consumer->held_count && consumer->held[i]->rkt == consumer->held[run_start]->rkt)
            continue;
        const char *topic[] = {rd_kafka_topic_name(consumer->held[run_start]->rkt)};
        sp_metric_add(consumer->ctx.counts.processed, topic, (uint64_t)(i - run_start));
        run_start = i;
    }
}

static void release_held(sp_kafka_consumer *consumer) {
    if (consumer->ctx.counts.processed != NULL) count_processed(consumer);
    for (size_t i = 0; i < consumer->held_count; i++) rd_kafka_message_destroy(consumer->held[i]);
    consumer->held_count = 0;
}

/* Sets the lag gauge of every assigned partition whose high watermark is
 * known. Until a message of a partition was returned its position is
 * unknown: the offset it was assigned from stands for it. */
static void update_lag(sp_kafka_consumer *consumer) {
    int64_t now_ms = sp_clock_monotonic_ms();
    if (consumer->ctx.counts.lag == NULL ||
        now_ms - consumer->lag_updated_ms < SP_KAFKA_LAG_UPDATE_MS)
        return;
    consumer->lag_updated_ms = now_ms;
    rd_kafka_topic_partition_list_t *assigned = NULL;
    if (rd_kafka_assignment(consumer->rk, &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        assigned == NULL)
        return;
    rd_kafka_topic_partition_list_t *positions = rd_kafka_topic_partition_list_copy(assigned);
    if (rd_kafka_position(consumer->rk, positions) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < positions->cnt; i++) {
            const rd_kafka_topic_partition_t *tp = &positions->elems[i];
            int64_t position = tp->offset >= 0 ? tp->offset : assigned->elems[i].offset;
            int64_t low = -1, high = -1;
            if (position < 0 ||
                rd_kafka_get_watermark_offsets(consumer->rk, tp->topic, tp->partition, &low,
                                               &high) != RD_KAFKA_RESP_ERR_NO_ERROR ||
                high < 0)
                continue;
            char partition[16];
            snprintf(partition, sizeof partition, "%" PRId32, tp->partition);
            const char *labels[] = {tp->topic, partition};
            sp_metric_set(consumer->ctx.counts.lag, labels, high > position ? high - position : 0);
        }
    }
    rd_kafka_topic_partition_list_destroy(positions);
    rd_kafka_topic_partition_list_destroy(assigned);
}

/* Copies librdkafka's list into an array of sp_kafka_tp (borrowing the topic
 * names from the list). NULL when the list is empty or memory is short. */
static sp_kafka_tp *tps_of(const rd_kafka_topic_partition_list_t *list) {
    if (list->cnt <= 0) return NULL;
    sp_kafka_tp *tps = calloc((size_t)list->cnt, sizeof *tps);
    if (tps == NULL) return NULL;
    for (int i = 0; i < list->cnt; i++)
        tps[i] = (sp_kafka_tp){.topic = list->elems[i].topic,
                               .partition = list->elems[i].partition,
                               .offset = list->elems[i].offset};
    return tps;
}

/* The offset a partition without a committed offset starts from
 * (auto.offset.reset=earliest), as a number: an absolute offset also spares
 * the fetcher a logical-offset lookup that can wait on a 500 ms retry timer
 * right after a rebalance. */
static int64_t earliest_offset(sp_kafka_consumer *consumer, const char *topic, int32_t partition) {
    int64_t low = 0, high = 0;
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(consumer->rk, topic, partition, &low,
                                                             &high, SP_KAFKA_COMMITTED_TIMEOUT_MS);
    return e == RD_KAFKA_RESP_ERR_NO_ERROR ? low : RD_KAFKA_OFFSET_BEGINNING;
}

/* Fills the next offset each assigned partition will be read from: the
 * committed one, or the earliest when the group never committed. On failure
 * librdkafka still resolves the offsets itself; the callback then sees
 * RD_KAFKA_OFFSET_STORED. */
static void resolve_committed(sp_kafka_consumer *consumer, rd_kafka_topic_partition_list_t *list) {
    rd_kafka_topic_partition_list_t *copy = rd_kafka_topic_partition_list_copy(list);
    rd_kafka_resp_err_t e = rd_kafka_committed(consumer->rk, copy, SP_KAFKA_COMMITTED_TIMEOUT_MS);
    for (int i = 0; i < list->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &list->elems[i];
        int64_t off = copy->elems[i].offset;
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR || copy->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR)
            tp->offset = RD_KAFKA_OFFSET_STORED;
        else tp->offset = off >= 0 ? off : earliest_offset(consumer, tp->topic, tp->partition);
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        sp_log_warn(consumer->ctx.log, "kafka committed offsets unknown", "error",
                    rd_kafka_err2name(e), NULL);
    rd_kafka_topic_partition_list_destroy(copy);
}

static void on_assign(sp_kafka_consumer *consumer, rd_kafka_topic_partition_list_t *list) {
    resolve_committed(consumer, list);
    sp_kafka_tp *tps = tps_of(list);
    if (list->cnt > 0 && tps == NULL) {
        consumer->assign_failed = true;
        sp_error_set(&consumer->assign_err, 500, "out_of_memory", NULL, "assignment");
    } else if (consumer->on_assigned != NULL && !consumer->assign_failed &&
               consumer->on_assigned(consumer->cb_ctx, tps, (size_t)list->cnt,
                                     &consumer->assign_err) != 0) {
        consumer->assign_failed = true;
    }
    consumer->lag_updated_ms = 0; /* the new partitions' gauges at the next poll */
    char count[16];
    snprintf(count, sizeof count, "%d", list->cnt);
    sp_log_info(consumer->ctx.log, "kafka partitions assigned", "count", count, "ok",
                consumer->assign_failed ? "false" : "true", NULL);
    /* Assigned even when the state could not be built: poll_batch fails
     * before it returns any message. The resolved offsets spare librdkafka
     * a second offset fetch. */
    rd_kafka_resp_err_t e = rd_kafka_assign(consumer->rk, list);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR && !consumer->assign_failed) {
        consumer->assign_failed = true;
        sp_error_set(&consumer->assign_err, 503, "kafka_unavailable", NULL, "assign: %s",
                     rd_kafka_err2str(e));
    }
    free(tps);
}

/* The outcome of an asynchronous commit, served by the consumer's poll. */
static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque) {
    (void)rk;
    (void)offsets;
    const sp_kafka_ctx *ctx = opaque;
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR__NO_OFFSET) return;
    sp_log_warn(ctx->log, "kafka commit failed (the commands will be redelivered and replayed)",
                "error", rd_kafka_err2str(e), NULL);
}

/* A partition another member now reads has no lag here: its gauge would
 * otherwise freeze at its last value beside the new owner's. */
static void clear_lag(sp_kafka_consumer *consumer, const rd_kafka_topic_partition_list_t *list) {
    for (int i = 0; consumer->ctx.counts.lag != NULL && i < list->cnt; i++) {
        char partition[16];
        snprintf(partition, sizeof partition, "%" PRId32, list->elems[i].partition);
        const char *labels[] = {list->elems[i].topic, partition};
        sp_metric_set(consumer->ctx.counts.lag, labels, 0);
    }
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                         rd_kafka_topic_partition_list_t *list, void *opaque) {
    sp_kafka_consumer *consumer = opaque;
    assert(consumer->rk == rk || consumer->rk == NULL);
    if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        on_assign(consumer, list);
        return;
    }
    if (e == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        clear_lag(consumer, list);
        sp_kafka_tp *tps = tps_of(list);
        if (consumer->on_revoked != NULL && tps != NULL)
            consumer->on_revoked(consumer->cb_ctx, tps, (size_t)list->cnt);
        free(tps);
        sp_log_info(consumer->ctx.log, "kafka partitions revoked", NULL);
    } else {
        sp_log_error(consumer->ctx.log, "kafka rebalance failed", "error", rd_kafka_err2name(e),
                     NULL);
    }
    rd_kafka_assign(rk, NULL);
}

static const char *fetch_wait_ms_of(const char *client_id) {
    assert(client_id != NULL);
    size_t count = sizeof sp_kafka_answer_path_readers / sizeof sp_kafka_answer_path_readers[0];
    for (size_t i = 0; i < count; i++)
        if (strcmp(client_id, sp_kafka_answer_path_readers[i]) == 0)
            return SP_KAFKA_FETCH_WAIT_MS_ANSWER_PATH;
    return SP_KAFKA_FETCH_WAIT_MS_MAX;
}

/* A consumer handle with its configuration; group_id is always set because
 * librdkafka's consumer queue and rd_kafka_assign() need one. */
static sp_kafka_consumer *consumer_create(const char *brokers, const char *client_id,
                                          const char *group_id, bool group_mode, sp_log *log,
                                          sp_error *err) {
    sp_kafka_consumer *consumer = calloc(1, sizeof *consumer);
    if (consumer == NULL) {
        sp_error_set(err, 500, "out_of_memory", NULL, "kafka consumer");
        return NULL;
    }
    consumer->ctx = (sp_kafka_ctx){.log = log, .role = "consumer", .counts = counts_of(log)};
    consumer->group_mode = group_mode;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* A reader of explicit offsets must hear about a truncated log rather
     * than silently skip to the oldest message left. */
    /* clang-format off */
    const char *const pairs[] = {
        "bootstrap.servers", brokers, "client.id", client_id, "group.id", group_id,
        "enable.auto.commit", "false", "enable.auto.offset.store", "false",
        "auto.offset.reset", group_mode ? "earliest" : "error",
        "enable.partition.eof", "false", "partition.assignment.strategy", "range",
        "session.timeout.ms", SP_KAFKA_SESSION_TIMEOUT_MS,
        "heartbeat.interval.ms", SP_KAFKA_HEARTBEAT_INTERVAL_MS,
        "fetch.wait.max.ms", fetch_wait_ms_of(client_id), "socket.nagle.disable", "true", NULL};
    /* clang-format on */
    if (conf_set_all(conf, pairs, err) != 0 || sp_kafka_conf_security(conf, err) != 0) goto fail;
    rd_kafka_conf_set_opaque(conf, &consumer->ctx);
    rd_kafka_conf_set_log_cb(conf, on_rk_log);
    rd_kafka_conf_set_error_cb(conf, on_rk_error);
    if (group_mode) {
        rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
        rd_kafka_conf_set_offset_commit_cb(conf, on_commit);
    }
    char errstr[SP_KAFKA_ERRSTR_MAX];
    consumer->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (consumer->rk == NULL) {
        sp_error_set(err, 500, "kafka_config", NULL, "consumer: %s", errstr);
        goto fail;
    }
    /* Errors and logs are then served by rd_kafka_consumer_poll(). */
    rd_kafka_poll_set_consumer(consumer->rk);
    return consumer;
fail:
    if (conf != NULL) rd_kafka_conf_destroy(conf);
    free(consumer);
    return NULL;
}

static int subscribe(sp_kafka_consumer *consumer, const char *const *topics, size_t topic_count,
                     sp_error *err) {
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)topic_count);
    for (size_t i = 0; i < topic_count; i++)
        rd_kafka_topic_partition_list_add(list, topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(consumer->rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return sp_error_set(err, 500, "kafka_subscribe_failed", NULL, "subscribe: %s",
                            rd_kafka_err2str(e));
    return 0;
}

sp_kafka_consumer *sp_kafka_consumer_new_group(const char *brokers, const char *group_id,
                                               const char *const *topics, size_t topic_count,
                                               sp_kafka_assigned_fn on_assigned,
                                               sp_kafka_revoked_fn on_revoked, void *ctx,
                                               sp_log *log, sp_error *err) {
    assert(brokers != NULL && group_id != NULL && topics != NULL && topic_count > 0);
    assert(log != NULL);
    sp_kafka_consumer *consumer = consumer_create(brokers, group_id, group_id, true, log, err);
    if (consumer == NULL) return NULL;
    consumer->on_assigned = on_assigned;
    consumer->on_revoked = on_revoked;
    consumer->cb_ctx = ctx;
    if (subscribe(consumer, topics, topic_count, err) != 0) {
        sp_kafka_consumer_free(consumer);
        return NULL;
    }
    return consumer;
}

static bool topic_listed(const rd_kafka_topic_partition_list_t *list, const char *topic) {
    for (int i = 0; i < list->cnt; i++)
        if (strcmp(list->elems[i].topic, topic) == 0) return true;
    return false;
}

static int assign_explicit(sp_kafka_consumer *consumer, const sp_kafka_tp *tps, size_t tp_count,
                           sp_error *err) {
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)tp_count);
    for (size_t i = 0; i < tp_count; i++) {
        assert(tps[i].topic != NULL && tps[i].partition >= 0);
        if (!topic_listed(list, tps[i].topic))
            warm_metadata(consumer->rk, consumer->ctx.log, &tps[i].topic, 1);
        rd_kafka_topic_partition_list_add(list, tps[i].topic, tps[i].partition)->offset =
            tps[i].offset;
    }
    rd_kafka_resp_err_t e = rd_kafka_assign(consumer->rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return sp_error_set(err, 500, "kafka_assign_failed", NULL, "assign: %s",
                            rd_kafka_err2str(e));
    return 0;
}

/* An assigned reader never joins nor commits, yet its group id must not
 * collide with a real group: a random suffix. */
static sp_kafka_consumer *assigned_create(const char *brokers, const char *client_id, sp_log *log,
                                          sp_error *err) {
    char id[SP_ID_LEN + 1];
    char group_id[SP_KAFKA_GROUP_ID_MAX];
    sp_id_new(id);
    snprintf(group_id, sizeof group_id, "%.100s-reader-%s", client_id, id);
    return consumer_create(brokers, client_id, group_id, false, log, err);
}

sp_kafka_consumer *sp_kafka_consumer_new_assigned(const char *brokers, const char *client_id,
                                                  const sp_kafka_tp *tps, size_t tp_count,
                                                  sp_log *log, sp_error *err) {
    assert(brokers != NULL && client_id != NULL && log != NULL);
    assert(tps != NULL || tp_count == 0);
    sp_kafka_consumer *consumer = assigned_create(brokers, client_id, log, err);
    if (consumer == NULL) return NULL;
    if (assign_explicit(consumer, tps, tp_count, err) != 0) {
        sp_kafka_consumer_free(consumer);
        return NULL;
    }
    return consumer;
}

void sp_kafka_consumer_free(sp_kafka_consumer *consumer) {
    if (consumer == NULL) return;
    release_held(consumer);
    /* Leaves the group at once (revoking through on_revoked) instead of
     * letting the group wait out the session timeout. */
    rd_kafka_resp_err_t e = rd_kafka_consumer_close(consumer->rk);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        sp_log_warn(consumer->ctx.log, "kafka consumer close", "error", rd_kafka_err2name(e), NULL);
    rd_kafka_destroy(consumer->rk);
    free(consumer);
}

static void fill_msg(sp_kafka_msg *out, const rd_kafka_message_t *m) {
    *out = (sp_kafka_msg){.topic = rd_kafka_topic_name(m->rkt),
                          .partition = m->partition,
                          .offset = m->offset,
                          .key = m->key,
                          .key_len = m->key_len,
                          .value = m->payload,
                          .value_len = m->len,
                          .timestamp_ms = rd_kafka_message_timestamp(m, NULL)};
    assert(out->offset >= 0 && (out->value != NULL || out->value_len == 0));
}

/* Decides what an error event means: 0 skip it, -1 the consumer cannot go on. */
static int handle_error_message(sp_kafka_consumer *consumer, const rd_kafka_message_t *m,
                                sp_error *err) {
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return 0;
    const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
        m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE)
        return sp_error_set(err, 500, "log_truncated", NULL,
                            "%s [%" PRId32 "]: the offset to read is no longer in the log: %s",
                            topic, m->partition, rd_kafka_message_errstr(m));
    if (m->err == RD_KAFKA_RESP_ERR__FATAL)
        return sp_error_set(err, 503, "kafka_unavailable", NULL, "consumer: %s",
                            rd_kafka_message_errstr(m));
    char partition[16];
    snprintf(partition, sizeof partition, "%" PRId32, m->partition);
    sp_log_warn(consumer->ctx.log, "kafka consumer error", "topic", topic, "partition", partition,
                "error", rd_kafka_err2name(m->err), "detail", rd_kafka_message_errstr(m), NULL);
    return 0;
}

int sp_kafka_consumer_poll_batch(sp_kafka_consumer *consumer, sp_kafka_msg *msgs, size_t msgs_max,
                                 int timeout_ms, sp_error *err) {
    assert(consumer != NULL && msgs != NULL && msgs_max > 0 && timeout_ms >= 0);
    release_held(consumer);
    update_lag(consumer);
    if (msgs_max > SP_KAFKA_BATCH_MAX) msgs_max = SP_KAFKA_BATCH_MAX;
    int64_t deadline_ms = sp_clock_monotonic_ms() + timeout_ms;
    int errors = 0;
    while (consumer->held_count < msgs_max && errors < SP_KAFKA_POLL_ERRORS_MAX) {
        int64_t left_ms = consumer->held_count == 0 ? deadline_ms - sp_clock_monotonic_ms() : 0;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer->rk,
                                                       left_ms > 0 ? (int)left_ms : 0);
        if (consumer->assign_failed) {
            if (m != NULL) rd_kafka_message_destroy(m);
            if (err != NULL) *err = consumer->assign_err;
            return -1;
        }
        if (m == NULL) {
            if (consumer->held_count > 0 || left_ms <= 0) break;
            continue;
        }
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            errors++;
            int rc = handle_error_message(consumer, m, err);
            rd_kafka_message_destroy(m);
            if (rc != 0) return -1;
            continue;
        }
        fill_msg(&msgs[consumer->held_count], m);
        consumer->held[consumer->held_count++] = m;
    }
    return (int)consumer->held_count;
}

/* Commands are committed once their events and reply are durable: the time
 * since the producer stamped them is what a client waited (both clocks are
 * the wall clock; a negative difference counts as 0). */
static void observe_command_durations(sp_kafka_consumer *consumer, const sp_kafka_msg *msgs,
                                      size_t count) {
    if (consumer->ctx.counts.command_duration == NULL) return;
    int64_t now_ms = wall_ms();
    for (size_t i = 0; i < count; i++) {
        if (strstr(msgs[i].topic, ".commands.") == NULL || msgs[i].timestamp_ms <= 0) continue;
        const char *topic[] = {msgs[i].topic};
        sp_metric_observe_ms(consumer->ctx.counts.command_duration, topic,
                             now_ms - msgs[i].timestamp_ms);
    }
}

int sp_kafka_consumer_commit(sp_kafka_consumer *consumer, const sp_kafka_msg *msgs, size_t count,
                             sp_error *err) {
    assert(consumer != NULL && consumer->group_mode && (msgs != NULL || count == 0));
    if (count == 0) return 0;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(8);
    for (size_t i = 0; i < count; i++) {
        rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(list, msgs[i].topic,
                                                                            msgs[i].partition);
        if (tp == NULL)
            tp = rd_kafka_topic_partition_list_add(list, msgs[i].topic, msgs[i].partition);
        if (tp->offset < msgs[i].offset + 1) tp->offset = msgs[i].offset + 1;
    }
    observe_command_durations(consumer, msgs, count);
    rd_kafka_resp_err_t e = rd_kafka_commit(consumer->rk, list, 1 /* async */);
    int rc = 0;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        rc = sp_error_set(err, 503, "kafka_commit_failed", NULL, "commit: %s", rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(list);
    return rc;
}

int sp_kafka_watermarks(sp_kafka_consumer *consumer, const char *topic, int32_t partition,
                        int64_t *low, int64_t *high, int timeout_ms, sp_error *err) {
    assert(consumer != NULL && topic != NULL && low != NULL && high != NULL);
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(consumer->rk, topic, partition, low,
                                                             high, timeout_ms);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return sp_error_set(err, 503, "kafka_unavailable", NULL,
                            "watermarks of %s [%" PRId32 "]: %s", topic, partition,
                            rd_kafka_err2str(e));
    assert(*low >= 0 && *high >= *low);
    return 0;
}

/* One ListOffsets round for every partition of list, at `which`
 * (RD_KAFKA_OFFSET_BEGINNING or _END), into out[]. */
static int offsets_at(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *list, int64_t which,
                      int64_t *out, int timeout_ms, sp_error *err) {
    for (int i = 0; i < list->cnt; i++) list->elems[i].offset = which;
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk, list, timeout_ms);
    for (int i = 0; i < list->cnt && e == RD_KAFKA_RESP_ERR_NO_ERROR; i++) {
        const rd_kafka_topic_partition_t *tp = &list->elems[i];
        if (tp->err != RD_KAFKA_RESP_ERR_NO_ERROR || tp->offset < 0)
            return sp_error_set(err, 503, "kafka_unavailable", NULL,
                                "watermarks of %s [%" PRId32 "]: %s", tp->topic, tp->partition,
                                tp->err != RD_KAFKA_RESP_ERR_NO_ERROR ? rd_kafka_err2str(tp->err)
                                                                      : "no offset");
        out[i] = tp->offset;
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return sp_error_set(err, 503, "kafka_unavailable", NULL, "watermarks: %s",
                            rd_kafka_err2str(e));
    return 0;
}

int sp_kafka_high_watermark(sp_kafka_producer *producer, const char *topic, int32_t partition,
                            int64_t *high, int timeout_ms, sp_error *err) {
    assert(producer != NULL && topic != NULL && high != NULL && timeout_ms >= 0);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic, partition);
    int rc = offsets_at(producer->rk, list, RD_KAFKA_OFFSET_END, high, timeout_ms, err);
    rd_kafka_topic_partition_list_destroy(list);
    assert(rc != 0 || *high >= 0);
    return rc;
}

int sp_kafka_watermarks_many(sp_kafka_consumer *consumer, const sp_kafka_tp *tps, size_t count,
                             int64_t *lows, int64_t *highs, int timeout_ms, sp_error *err) {
    assert(consumer != NULL && tps != NULL && lows != NULL && highs != NULL);
    assert(count > 0 && count <= SP_KAFKA_WATERMARKS_MANY_MAX);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)count);
    for (size_t i = 0; i < count; i++)
        rd_kafka_topic_partition_list_add(list, tps[i].topic, tps[i].partition);
    int rc = offsets_at(consumer->rk, list, RD_KAFKA_OFFSET_BEGINNING, lows, timeout_ms, err);
    if (rc == 0) rc = offsets_at(consumer->rk, list, RD_KAFKA_OFFSET_END, highs, timeout_ms, err);
    rd_kafka_topic_partition_list_destroy(list);
    for (size_t i = 0; i < count && rc == 0; i++) assert(lows[i] >= 0 && highs[i] >= lows[i]);
    return rc;
}

static int count_from_metadata(rd_kafka_t *rk, const char *topic, int timeout_ms, sp_error *err) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (rkt == NULL)
        return sp_error_set(err, 500, "kafka_config", NULL, "topic %s: %s", topic,
                            rd_kafka_err2str(rd_kafka_last_error()));
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
    int rc;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        rc = sp_error_set(err, 503, "kafka_unavailable", NULL, "metadata of %s: %s", topic,
                          rd_kafka_err2str(e));
    else if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR ||
             md->topics[0].partition_cnt <= 0)
        rc = sp_error_set(err, 503, "kafka_unknown_topic", NULL, "topic %s: %s", topic,
                          md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err) : "absent");
    else rc = md->topics[0].partition_cnt;
    if (md != NULL) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return rc;
}

int sp_kafka_partition_count(const char *brokers, const char *topic, int timeout_ms,
                             sp_error *err) {
    assert(brokers != NULL && topic != NULL && timeout_ms >= 0);
    /* A consumer-type handle asks metadata without creating the topic. */
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (conf_set(conf, "bootstrap.servers", brokers, err) != 0 ||
        conf_set(conf, "allow.auto.create.topics", "false", err) != 0 ||
        sp_kafka_conf_security(conf, err) != 0) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    /* No logger here: librdkafka's lines are dropped (not printed raw on
     * stderr); the returned error says what went wrong. */
    rd_kafka_conf_set_log_cb(conf, on_rk_log);
    char errstr[SP_KAFKA_ERRSTR_MAX];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        return sp_error_set(err, 500, "kafka_config", NULL, "metadata client: %s", errstr);
    }
    int rc = count_from_metadata(rk, topic, timeout_ms, err);
    rd_kafka_destroy(rk);
    return rc;
}

/* ------------------------------------------------------------------ replay */

typedef struct replay_state {
    const char *topic;
    int32_t partition;
    int64_t high;
    int64_t next; /* offset after the last message handed to fn */
} replay_state;

/* Feeds one polled batch to fn; 1 when the high watermark was reached. */
static int replay_batch(replay_state *st, const sp_kafka_msg *msgs, int count, sp_kafka_msg_fn fn,
                        void *ctx, sp_error *err) {
    for (int i = 0; i < count; i++) {
        assert(msgs[i].partition == st->partition && strcmp(msgs[i].topic, st->topic) == 0);
        if (msgs[i].offset >= st->high) return 1; /* appended after the start */
        if (fn(ctx, &msgs[i], err) != 0) return -1;
        st->next = msgs[i].offset + 1;
    }
    return st->next >= st->high ? 1 : 0;
}

static int replay_read(sp_kafka_consumer *consumer, replay_state *st, sp_kafka_msg_fn fn, void *ctx,
                       int timeout_ms, sp_error *err) {
    sp_kafka_tp tp = {.topic = st->topic, .partition = st->partition, .offset = st->next};
    if (assign_explicit(consumer, &tp, 1, err) != 0) return -1;
    sp_kafka_msg *msgs = calloc(SP_KAFKA_BATCH_MAX, sizeof *msgs);
    if (msgs == NULL) return sp_error_set(err, 500, "out_of_memory", NULL, "replay batch");
    int64_t deadline_ms = sp_clock_monotonic_ms() + timeout_ms;
    int rc = 0;
    for (;;) {
        int64_t left_ms = deadline_ms - sp_clock_monotonic_ms();
        if (left_ms <= 0) {
            rc = sp_error_set(err, 503, "kafka_unavailable", NULL,
                              "replay of %s [%" PRId32 "] reached offset %" PRId64 " of %" PRId64
                              " within %d ms",
                              st->topic, st->partition, st->next, st->high, timeout_ms);
            break;
        }
        int n = sp_kafka_consumer_poll_batch(consumer, msgs, SP_KAFKA_BATCH_MAX, (int)left_ms, err);
        if (n < 0) {
            rc = -1;
            break;
        }
        int done = replay_batch(st, msgs, n, fn, ctx, err);
        if (done < 0) {
            rc = -1;
            break;
        }
        if (done == 1) break;
    }
    free(msgs);
    return rc;
}

int sp_kafka_replay_partition(const char *brokers, const char *topic, int32_t partition,
                              sp_kafka_msg_fn fn, void *ctx, int timeout_ms, sp_log *log,
                              sp_error *err) {
    return sp_kafka_replay_partition_from(brokers, topic, partition, 0, fn, ctx, timeout_ms, log,
                                          err);
}

int sp_kafka_replay_partition_from(const char *brokers, const char *topic, int32_t partition,
                                   int64_t from_offset, sp_kafka_msg_fn fn, void *ctx,
                                   int timeout_ms, sp_log *log, sp_error *err) {
    assert(brokers != NULL && topic != NULL && partition >= 0 && fn != NULL);
    assert(log != NULL && timeout_ms > 0 && from_offset >= 0);
    sp_kafka_consumer *consumer = assigned_create(brokers, "solipass-replay", log, err);
    if (consumer == NULL) return -1;
    /* A rebuild is not live traffic: its reads would fake the counters and
     * leave a lag gauge behind once this reader is gone. */
    consumer->ctx.counts = (sp_kafka_counts){0};
    int rc = 0;
    replay_state st = {.topic = topic, .partition = partition, .high = 0, .next = from_offset};
    int64_t low = 0;
    if (sp_kafka_watermarks(consumer, topic, partition, &low, &st.high, timeout_ms, err) != 0) {
        rc = -1;
        goto done;
    }
    if (low > from_offset) {
        rc = sp_error_set(err, 500, "log_truncated", NULL,
                          "%s [%" PRId32 "] starts at offset %" PRId64
                          ": the log no longer holds the history from offset %" PRId64,
                          topic, partition, low, from_offset);
        goto done;
    }
    if (st.high < from_offset) {
        rc = sp_error_set(err, 500, "log_shorter", NULL,
                          "%s [%" PRId32 "] ends at offset %" PRId64 ", before %" PRId64, topic,
                          partition, st.high, from_offset);
        goto done;
    }
    if (st.high > from_offset) rc = replay_read(consumer, &st, fn, ctx, timeout_ms, err);
done:
    sp_kafka_consumer_free(consumer);
    return rc;
}
