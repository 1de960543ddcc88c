/* log_ops.h - solipass-log's operator actions beside reading: requeue a dead
 * letter to the topic it came from, and show every consumer's lag.
 *
 * requeue: the dead letter at OFFSET of solipass.deadletter.v1[PARTITION]
 * is read with every later message of that partition. It is refused (exit 2,
 * nothing written) when there is no message at that offset, when the
 * message there is not a dead letter, when its original value was cut to
 * fit the dead letter, when its source topic is not a solipass topic, or
 * when a requeue marker for it follows it. Otherwise the original key and
 * value are produced to the source topic and partition, then a marker: an
 * envelope of type SP_LOG_REQUEUED_TYPE on the dead-letter topic whose
 * DeadLetter payload names the requeued dead letter (source_topic =
 * solipass.deadletter.v1, source_partition, source_offset) and, in its
 * reason, where the copy landed. Markers always follow the dead letter they
 * name, so reading from the dead letter onwards finds them even when the
 * broker has dropped older messages.
 *
 * lag: for each consumer group (those the broker lists, else the solipass
 * groups) the committed offset of every partition of the solipass topics
 * it has committed on, beside the high watermark; with a database, the
 * projection's offsets from projection_offsets likewise.
 *
 * Memory: nothing outlives a call; results go to out as JSON lines. */
#ifndef SP_LOG_OPS_H
#define SP_LOG_OPS_H

#include <stdint.h>
#include <stdio.h>
#include "sp_error.h"
#include "sp_log.h"

#define SP_LOG_REQUEUED_TYPE "DeadLetterRequeued.v1"
#define SP_LOG_REQUEUE_SERVICE "solipass-log"
#define SP_LOG_GROUPS_MAX 64

typedef struct sp_log_ops_settings {
    const char *brokers;
    const char *pg_dsn; /* "" = no database: lag shows the Kafka groups only */
    int64_t timeout_ms;
} sp_log_ops_settings;

/* 0 requeued (one JSON line on out); -1 with err: "no_such_message",
 * "not_a_dead_letter", "original_truncated", "unknown_source_topic",
 * "already_requeued" (nothing written), or a broker failure. */
int sp_log_requeue(const sp_log_ops_settings *settings, int32_t partition, int64_t offset,
                   FILE *out, sp_log *log, sp_error *err);

/* groups: extra group ids to show (may be NULL / 0). */
int sp_log_lag(const sp_log_ops_settings *settings, const char *const *groups, size_t group_count,
               FILE *out, sp_log *log, sp_error *err);

#endif
