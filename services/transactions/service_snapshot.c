/* service_snapshot.c - the transactions service's snapshots of its
 * partitions (docs/architecture.md, "Snapshots"): loaded at assignment
 * before the log after them is replayed (service.c), taken every
 * SP_SNAPSHOT_EVERY_EVENTS events once a batch's events are flushed, and at
 * a clean stop. Encoding the state happens on the writer's thread (the
 * state is not shared); the file is written on a thread of its own. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build_version.h"
#include "service_internal.h"
#include "sp_clock.h"

static void text_of(char *out, size_t out_size, int64_t value) {
    snprintf(out, out_size, "%" PRId64, value);
}

void tx_snapshot_note_event(tx_partition *part, const sp_ledger_event *event) {
    snprintf(part->last.last_aggregate_id, sizeof part->last.last_aggregate_id, "%s",
             event->pass_id);
    part->last.last_version = event->version;
    snprintf(part->last.last_command_id, sizeof part->last.last_command_id, "%s",
             event->command_id);
    part->events_since_snapshot++;
}

static void log_fallback(tx_service *svc, int32_t partition, const char *what,
                         const sp_error *why) {
    char p[16];
    text_of(p, sizeof p, partition);
    sp_log_warn(svc->log, what, "partition", p, "code", why->code, "detail", why->message, NULL);
}

sp_ledger_state *tx_snapshot_load(tx_service *svc, int32_t partition,
                                  sp_ledger_snapshot_position *position) {
    const char *dir = svc->config->snapshot_dir;
    if (dir == NULL || dir[0] == '\0') return NULL;
    char path[SP_SNAPSHOT_PATH_MAX];
    uint8_t *bytes = NULL;
    size_t len = 0;
    sp_error why;
    sp_error_clear(&why);
    if (sp_snapshot_path(dir, "ledger", partition, path, &why) != 0 ||
        sp_snapshot_read(path, SP_LEDGER_SNAPSHOT_BYTES_MAX, &bytes, &len, &why) != 0) {
        if (why.http_status == 404) { /* a first start, or a partition new to this host */
            char p[16];
            text_of(p, sizeof p, partition);
            sp_log_info(svc->log, "no ledger snapshot: rebuilding from the whole log", "partition",
                        p, "path", path, NULL);
        } else {
            log_fallback(svc, partition, "no usable ledger snapshot: rebuilding from the whole log",
                         &why);
        }
        return NULL;
    }
    sp_ledger_state *state = sp_ledger_snapshot_decode(bytes, len, partition, &svc->limits,
                                                       &svc->directory, TX_BUILD_VERSION, position,
                                                       &why);
    free(bytes);
    if (state == NULL) {
        log_fallback(svc, partition, "ledger snapshot refused: rebuilding from the whole log",
                     &why);
    }
    return state;
}

/* Encodes partition p's state at the log's end and writes it (on the
 * writer thread, or here when final). */
static void take_one(tx_service *svc, int32_t p, bool final) {
    tx_partition *part = &svc->partitions[p];
    sp_error why;
    sp_error_clear(&why);
    char path[SP_SNAPSHOT_PATH_MAX];
    sp_ledger_snapshot_position position = part->last;
    int64_t low = 0;
    /* Every event applied is flushed and this is the partition's only
     * writer: the log ends with the last of them. A loader checks that. */
    if (sp_snapshot_path(svc->config->snapshot_dir, "ledger", p, path, &why) != 0 ||
        sp_kafka_watermarks(svc->commands, SP_TOPIC_LEDGER_EVENTS, p, &low, &position.next_offset,
                            TX_WATERMARK_TIMEOUT_MS, &why) != 0) {
        log_fallback(svc, p, "ledger snapshot not taken", &why);
        return;
    }
    int64_t started_ms = sp_clock_monotonic_ms();
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (sp_ledger_snapshot_encode(part->state, &position, TX_BUILD_VERSION, &bytes, &len, &why) !=
        0) {
        log_fallback(svc, p, "ledger snapshot not taken", &why);
        return;
    }
    int64_t encode_ms = sp_clock_monotonic_ms() - started_ms;
    if (sp_snapshot_writer_save(&svc->snapshot_writer, path, bytes, len, final, &why) != 0) {
        log_fallback(svc, p, "ledger snapshot not written", &why);
        return;
    }
    part->events_since_snapshot = 0;
    char partition[16], offset[24], size[24], ms[24];
    text_of(partition, sizeof partition, p);
    text_of(offset, sizeof offset, position.next_offset);
    text_of(size, sizeof size, (int64_t)len);
    text_of(ms, sizeof ms, encode_ms);
    sp_log_info(svc->log, "ledger snapshot taken", "partition", partition, "offset", offset,
                "bytes", size, "encode_ms", ms, NULL);
}

void tx_snapshot_round(tx_service *svc, bool final) {
    const char *dir = svc->config->snapshot_dir;
    if (dir == NULL || dir[0] == '\0') return;
    sp_snapshot_writer_collect(&svc->snapshot_writer, final, svc->log,
                               "ledger snapshot not written");
    uint64_t every = (uint64_t)svc->config->snapshot_every_events;
    for (int32_t i = 0; i < svc->partition_count; i++) {
        int32_t p = (svc->snapshot_next_partition + i) % svc->partition_count;
        const tx_partition *part = &svc->partitions[p];
        if (part->state == NULL || part->events_since_snapshot == 0) continue;
        if (!final && part->events_since_snapshot < every) continue;
        /* One file at a time: the next partition waits for the next round. */
        if (svc->snapshot_writer.running) {
            svc->snapshot_next_partition = p;
            return;
        }
        take_one(svc, p, final);
    }
}
