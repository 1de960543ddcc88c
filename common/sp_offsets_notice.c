/* sp_offsets_notice.c - the projection's offsets as a PostgreSQL
 * notification (see sp_offsets_notice.h). */
#include "sp_offsets_notice.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool topic_plain(const char *topic) {
    assert(topic != NULL);
    size_t len = strlen(topic);
    return len > 0 && len < SP_OFFSETS_NOTICE_TOPIC_MAX && strpbrk(topic, " \n") == NULL;
}

bool sp_offsets_notice_append(char *buf, size_t buf_size, const char *topic, int32_t partition,
                              int64_t next_offset) {
    assert(buf != NULL && buf_size > 0 && topic != NULL);
    assert(partition >= 0 && next_offset >= 0);
    if (!topic_plain(topic)) return false;
    size_t used = strnlen(buf, buf_size);
    assert(used < buf_size); /* NUL-terminated */
    int n = snprintf(buf + used, buf_size - used, "%s %" PRId32 " %" PRId64 "\n", topic, partition,
                     next_offset);
    if (n < 0 || (size_t)n >= buf_size - used) {
        buf[used] = '\0';
        return false;
    }
    return true;
}

/* A decimal number from s up to the character stop; -1 if malformed. */
static int64_t number_until(const char *s, char stop, const char **end) {
    assert(s != NULL && end != NULL);
    if (*s < '0' || *s > '9') return -1;
    errno = 0;
    char *after = NULL;
    long long value = strtoll(s, &after, 10);
    if (errno != 0 || after == NULL || *after != stop) return -1;
    *end = after + 1;
    return value;
}

int sp_offsets_notice_parse(const char *payload, sp_offsets_notice_entry *entries,
                            size_t entries_max) {
    assert(payload != NULL && entries != NULL);
    size_t count = 0;
    const char *line = payload;
    while (*line != '\0') {
        const char *space = strchr(line, ' ');
        if (space == NULL || space == line || count == entries_max) return -1;
        size_t topic_len = (size_t)(space - line);
        if (topic_len >= SP_OFFSETS_NOTICE_TOPIC_MAX || memchr(line, '\n', topic_len) != NULL)
            return -1;
        const char *next = NULL;
        int64_t partition = number_until(space + 1, ' ', &next);
        if (partition < 0 || partition > INT32_MAX) return -1;
        int64_t offset = number_until(next, '\n', &next);
        if (offset < 0) return -1;
        sp_offsets_notice_entry *e = &entries[count++];
        memcpy(e->topic, line, topic_len);
        e->topic[topic_len] = '\0';
        e->partition = (int32_t)partition;
        e->next_offset = offset;
        line = next;
    }
    return (int)count;
}
