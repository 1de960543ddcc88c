/* sp_offsets_notice.h - the projection's offsets as a PostgreSQL
 * notification: at the end of each batch's transaction the live projection
 * sends, on SP_OFFSETS_NOTICE_CHANNEL, the next offset of every partition
 * the batch moved, and the gateway's projection wait (projwait.c) learns
 * them when the transaction commits instead of reading projection_offsets
 * every 2 ms. The payload is one line a partition, "topic partition
 * next_offset\n"; an empty payload means "read the table".
 * Pure: no I/O. The caller owns every buffer. */
#ifndef SP_OFFSETS_NOTICE_H
#define SP_OFFSETS_NOTICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SP_OFFSETS_NOTICE_CHANNEL "solipass_projection_offsets"
/* below PostgreSQL's 8000-byte bound on a notification's payload */
#define SP_OFFSETS_NOTICE_BYTES_MAX 4096
#define SP_OFFSETS_NOTICE_TOPIC_MAX 128

typedef struct sp_offsets_notice_entry {
    char topic[SP_OFFSETS_NOTICE_TOPIC_MAX];
    int32_t partition;
    int64_t next_offset;
} sp_offsets_notice_entry;

/* Appends one partition's line to the NUL-terminated payload in buf; false
 * (buf unchanged) when the line does not fit in buf_size or the topic is
 * not a plain name (empty, too long, or with a space or newline). */
bool sp_offsets_notice_append(char *buf, size_t buf_size, const char *topic, int32_t partition,
                              int64_t next_offset);

/* The entries of a payload, at most entries_max; -1 if any line is
 * malformed or there are more (then read the table instead). */
int sp_offsets_notice_parse(const char *payload, sp_offsets_notice_entry *entries,
                            size_t entries_max);

#endif
