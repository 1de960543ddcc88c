/* sp_kafka.h - the producer and consumer every service uses, over librdkafka.
 *
 * Producer: idempotent (enable.idempotence=true, acks=all), partitioner
 * murmur2_random (the Java client's placement for a key), low linger. A
 * produce call may attach a sp_kafka_delivery that the delivery report fills;
 * sp_kafka_producer_flush() waits for every outstanding message and fails if
 * any was not delivered, so "flushed" means "durable on the broker".
 *
 * Consumer: either a group member (subscribe; offsets committed by
 * sp_kafka_consumer_commit only after the caller made its effect durable;
 * enable.auto.commit=false) or a plain reader of explicit partitions from
 * explicit offsets (projection, rebuilds), which commits nothing.
 *
 * Metrics: when the logger given to a handle carries a registry
 * (log->metrics, sp_metrics_http.h), the handle counts into it: messages
 * processed (at the next poll), delivered and failed per topic, dead
 * letters, the lag of every assigned partition (refreshed by the poll, at
 * most once a second, from cached watermarks) and, at commit, the time from
 * each command's timestamp to its commit. Partition replays count nothing.
 *
 * Ownership: handles are created and freed by the caller. A sp_kafka_msg in a
 * batch points into librdkafka memory that stays valid until the next
 * sp_kafka_consumer_poll_batch() call or the consumer's free. */
#ifndef SP_KAFKA_H
#define SP_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <librdkafka/rdkafka.h>
#include "sp_error.h"
#include "sp_log.h"

/* Topic names (docs/events.md). */
#define SP_TOPIC_ACCOUNTS_COMMANDS "solipass.accounts.commands.v1"
#define SP_TOPIC_ACCOUNTS_EVENTS "solipass.accounts.events.v1"
#define SP_TOPIC_LEDGER_COMMANDS "solipass.ledger.commands.v1"
#define SP_TOPIC_LEDGER_EVENTS "solipass.ledger.events.v1"
#define SP_TOPIC_REPLIES "solipass.replies.v1"
#define SP_TOPIC_DEADLETTER "solipass.deadletter.v1"
/* For finance staff (D4): written by the finance service, keyed by partner id. */
#define SP_TOPIC_FINANCE "solipass.finance.v1"
#define SP_TOPIC_FINANCE_JSON "solipass.finance.json.v1"
#define SP_TOPIC_EXPORTS_COMMANDS "solipass.exports.commands.v1"

#define SP_LEDGER_PARTITION_COUNT 8
#define SP_ACCOUNTS_PARTITION_COUNT 1
#define SP_REPLIES_PARTITION_COUNT 1
#define SP_DEADLETTER_PARTITION_COUNT 1
#define SP_FINANCE_PARTITION_COUNT 4
#define SP_EXPORTS_PARTITION_COUNT 1

#define SP_KAFKA_BATCH_MAX 512

/* ------------------------------------------------------------------ producer */

typedef struct sp_kafka_producer sp_kafka_producer;

/* Filled by the delivery report; read it only after a successful flush. */
typedef struct sp_kafka_delivery {
    int32_t partition;
    int64_t offset;
    rd_kafka_resp_err_t error; /* RD_KAFKA_RESP_ERR_NO_ERROR when delivered */
    bool done;
} sp_kafka_delivery;

sp_kafka_producer *sp_kafka_producer_new(const char *brokers, const char *client_id, sp_log *log,
                                         sp_error *err);
void sp_kafka_producer_free(sp_kafka_producer *producer); /* flushes up to 5 s first */

/* Queue one message. partition = RD_KAFKA_PARTITION_UA to place it by key.
 * key may be NULL. The value is copied. delivery (may be NULL) must stay
 * valid until the next flush returns. Thread-safe. */
int sp_kafka_produce(sp_kafka_producer *producer, const char *topic, int32_t partition,
                     const char *key, const void *value, size_t value_len,
                     sp_kafka_delivery *delivery, sp_error *err);

/* Wait until every queued message is delivered or failed (at most timeout_ms).
 * -1 when any message produced since the previous flush failed or timed out. */
int sp_kafka_producer_flush(sp_kafka_producer *producer, int timeout_ms, sp_error *err);

/* The registry this producer counts into (NULL when metrics are off). */
struct sp_metrics *sp_kafka_producer_metrics(const sp_kafka_producer *producer);

/* Serve delivery reports without blocking (call from a loop when not flushing). */
void sp_kafka_producer_poll(sp_kafka_producer *producer);

/* ------------------------------------------------------------------ consumer */

typedef struct sp_kafka_consumer sp_kafka_consumer;

typedef struct sp_kafka_msg {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
    int64_t timestamp_ms;
} sp_kafka_msg;

typedef struct sp_kafka_tp {
    const char *topic;
    int32_t partition;
    int64_t offset; /* next offset to read; RD_KAFKA_OFFSET_BEGINNING / _END allowed */
} sp_kafka_tp;

/* Called (in the polling thread) after partitions are assigned to this group
 * member and before any of their messages is returned: the place to rebuild
 * state. A -1 return is fatal for the consumer (poll returns -1). */
typedef int (*sp_kafka_assigned_fn)(void *ctx, const sp_kafka_tp *tps, size_t tp_count,
                                    sp_error *err);
/* Called before partitions are taken away; drop their state. NULL: nothing to drop. */
typedef void (*sp_kafka_revoked_fn)(void *ctx, const sp_kafka_tp *tps, size_t tp_count);

sp_kafka_consumer *sp_kafka_consumer_new_group(const char *brokers, const char *group_id,
                                               const char *const *topics, size_t topic_count,
                                               sp_kafka_assigned_fn on_assigned,
                                               sp_kafka_revoked_fn on_revoked, void *ctx,
                                               sp_log *log, sp_error *err);
sp_kafka_consumer *sp_kafka_consumer_new_assigned(const char *brokers, const char *client_id,
                                                  const sp_kafka_tp *tps, size_t tp_count,
                                                  sp_log *log, sp_error *err);
void sp_kafka_consumer_free(sp_kafka_consumer *consumer);

/* Wait up to timeout_ms for the first message, then take what is already
 * there, up to msgs_max. Returns the number of messages (0 on timeout) or -1.
 * Partition EOF and transient broker errors are not errors. */
int sp_kafka_consumer_poll_batch(sp_kafka_consumer *consumer, sp_kafka_msg *msgs, size_t msgs_max,
                                 int timeout_ms, sp_error *err);

/* Group mode: commit "next offset = msg.offset + 1" for the last message of
 * each partition in msgs. The commit is sent without waiting for the broker's
 * answer (a synchronous one costs a broker round trip per batch, which every
 * waiting command would pay); librdkafka sends commits in order, and a commit
 * that fails is logged. Callers commit only what is already durable, so a
 * lost commit means a redelivery, which idempotency answers. -1 only when the
 * commit cannot even be sent. */
int sp_kafka_consumer_commit(sp_kafka_consumer *consumer, const sp_kafka_msg *msgs, size_t count,
                             sp_error *err);

/* Low and high watermarks of one partition, asked of the broker. */
int sp_kafka_watermarks(sp_kafka_consumer *consumer, const char *topic, int32_t partition,
                        int64_t *low, int64_t *high, int timeout_ms, sp_error *err);

/* The high watermark (the next offset to be written) of one partition, in
 * one broker request, asked through a producer: a consumer's connection may
 * hold a fetch the broker answers first (the devbroker holds an empty one for
 * fetch.wait.max.ms), and the answer would wait behind it. */
int sp_kafka_high_watermark(sp_kafka_producer *producer, const char *topic, int32_t partition,
                            int64_t *high, int timeout_ms, sp_error *err);

/* Low and high watermarks of count partitions (tps' offsets unused) into
 * lows[] and highs[]: two broker requests for them all (the earliest, then
 * the latest offsets, through rd_kafka_offsets_for_times) rather than two
 * per partition. */
#define SP_KAFKA_WATERMARKS_MANY_MAX 1024
int sp_kafka_watermarks_many(sp_kafka_consumer *consumer, const sp_kafka_tp *tps, size_t count,
                             int64_t *lows, int64_t *highs, int timeout_ms, sp_error *err);

/* Partition count of a topic, from metadata. */
int sp_kafka_partition_count(const char *brokers, const char *topic, int timeout_ms, sp_error *err);

/* Read partition [topic, partition] from its low watermark to the high
 * watermark observed at the start, calling fn for every message in order.
 * Fails (500 "log_truncated") when the low watermark is above zero: the log
 * no longer holds the aggregate's whole history. Bounded by timeout_ms. */
typedef int (*sp_kafka_msg_fn)(void *ctx, const sp_kafka_msg *msg, sp_error *err);
int sp_kafka_replay_partition(const char *brokers, const char *topic, int32_t partition,
                              sp_kafka_msg_fn fn, void *ctx, int timeout_ms, sp_log *log,
                              sp_error *err);
/* The same from from_offset on (a snapshot's position): fails with
 * "log_truncated" when the log starts after it, "log_shorter" when it ends
 * before it (the topic was recreated since). */
int sp_kafka_replay_partition_from(const char *brokers, const char *topic, int32_t partition,
                                   int64_t from_offset, sp_kafka_msg_fn fn, void *ctx,
                                   int timeout_ms, sp_log *log, sp_error *err);

/* Sets the installed security settings (sp_kafka_security.h) on a
 * librdkafka configuration: every client this module makes has them; a
 * tool that makes its own client calls this. */
struct rd_kafka_conf_s;
int sp_kafka_conf_security(struct rd_kafka_conf_s *conf, sp_error *err);

#endif
