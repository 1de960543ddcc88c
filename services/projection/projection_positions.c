/* projection_positions.c - pure decisions on the projection's positions in
 * the log (see projection_positions.h). */
#include "projection_positions.h"

#include <assert.h>
#include <inttypes.h>
#include <string.h>

int sp_projection_position_find(const sp_projection_position *positions, size_t count,
                                const char *topic, int32_t partition) {
    assert(positions != NULL || count == 0);
    assert(count <= SP_PROJECTION_POSITIONS_MAX);
    for (size_t i = 0; i < count; i++)
        if (positions[i].partition == partition && strcmp(positions[i].topic, topic) == 0)
            return (int)i;
    return -1;
}

int sp_projection_position_check_log(const sp_projection_position *position, int64_t low,
                                     int64_t high, sp_error *err) {
    assert(position != NULL);
    assert(low >= 0);
    assert(high >= low);
    assert(position->next_offset >= 0);
    if (low > position->next_offset)
        return sp_error_set(err, 500, "log_truncated", "",
                            "%s [%" PRId32 "] starts at offset %" PRId64 " but the read model "
                            "needs offset %" PRId64 " next: the messages in between are gone "
                            "(rebuild from a complete log)",
                            position->topic, position->partition, low, position->next_offset);
    if (position->next_offset > high)
        return sp_error_set(err, 500, "log_reset", "",
                            "%s [%" PRId32 "] ends at offset %" PRId64 " but the read model "
                            "was built up to %" PRId64 ": it comes from another log "
                            "(run with --rebuild)",
                            position->topic, position->partition, high, position->next_offset);
    return 0;
}

sp_projection_offset_kind sp_projection_offset_classify(const sp_projection_position *position,
                                                        int64_t offset) {
    assert(position != NULL);
    assert(offset >= 0);
    if (offset == position->batch_next_offset) return SP_PROJECTION_OFFSET_NEXT;
    return offset < position->batch_next_offset ? SP_PROJECTION_OFFSET_SEEN
                                                : SP_PROJECTION_OFFSET_GAP;
}

bool sp_projection_caught_up(const sp_projection_position *positions, size_t count) {
    for (size_t i = 0; i < count; i++)
        if (positions[i].next_offset < positions[i].high_at_start) return false;
    return true;
}

int64_t sp_projection_backlog(const sp_projection_position *positions, size_t count) {
    int64_t backlog = 0;
    for (size_t i = 0; i < count; i++)
        if (positions[i].high_at_start > positions[i].next_offset)
            backlog += positions[i].high_at_start - positions[i].next_offset;
    return backlog;
}
