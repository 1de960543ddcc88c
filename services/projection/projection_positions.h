/* projection_positions.h - where the projection stands in each partition it
 * reads, and the pure decisions taken on those positions: may a read model be
 * built from this log (no hole), is a message the next one, has the
 * projection caught up with the log it saw at start.
 *
 * Memory: plain values; topic names are borrowed static strings. */
#ifndef SP_PROJECTION_POSITIONS_H
#define SP_PROJECTION_POSITIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sp_error.h"

/* The accounts partition plus at most 64 ledger partitions. */
#define SP_PROJECTION_POSITIONS_MAX 65

typedef struct sp_projection_position {
    const char *topic; /* SP_TOPIC_* constant */
    int32_t partition;
    int64_t next_offset;       /* durable: what projection_offsets holds */
    int64_t batch_next_offset; /* after the messages of the open batch */
    int64_t high_at_start;     /* the log's end when the service started */
} sp_projection_position;

/* Index of (topic, partition) in positions, or -1. */
int sp_projection_position_find(const sp_projection_position *positions, size_t count,
                                const char *topic, int32_t partition);

/* May the read model carry on from next_offset in a partition whose log
 * spans [low, high)? -1 with err "log_truncated" when messages before low
 * were never applied (a hole), "log_reset" when the read model is ahead of
 * the log's end (it was built from another log: rebuild it). */
int sp_projection_position_check_log(const sp_projection_position *position, int64_t low,
                                     int64_t high, sp_error *err);

typedef enum {
    SP_PROJECTION_OFFSET_NEXT, /* the expected message */
    SP_PROJECTION_OFFSET_SEEN, /* before the expected one: delivered again, skip it */
    SP_PROJECTION_OFFSET_GAP,  /* after it: check the log was not truncated */
} sp_projection_offset_kind;

sp_projection_offset_kind sp_projection_offset_classify(const sp_projection_position *position,
                                                        int64_t offset);

/* Every partition reached the end it had when the service started. */
bool sp_projection_caught_up(const sp_projection_position *positions, size_t count);

/* Messages between the durable positions and the ends seen at start. */
int64_t sp_projection_backlog(const sp_projection_position *positions, size_t count);

#endif
