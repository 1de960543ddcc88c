/* service_snapshot.c - the accounts service's snapshot of its state
 * (docs/architecture.md, "Snapshots"): loaded at start and at each
 * assignment before the events after it are replayed (service.c), taken
 * every SP_SNAPSHOT_EVERY_EVENTS events once a batch's events are flushed,
 * and at a clean stop. Encoding happens on the writer's thread (the state
 * is not shared); the file is written on a thread of its own. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts_build_version.h"
#include "service_internal.h"
#include "sp_clock.h"

#define SNAPSHOT_KIND "accounts"

void acc_snapshot_note_event(service *svc, const sp_accounts_event *event, int64_t offset) {
    sp_accounts_snapshot_note(&svc->position, event, offset);
    svc->events_since_snapshot++;
}

static bool snapshots_on(const service *svc) {
    return svc->config->snapshot_dir != NULL && svc->config->snapshot_dir[0] != '\0';
}

int acc_snapshot_load(service *svc) {
    if (!snapshots_on(svc)) return 1;
    char path[SP_SNAPSHOT_PATH_MAX];
    uint8_t *bytes = NULL;
    size_t len = 0;
    sp_error why;
    sp_error_clear(&why);
    if (sp_snapshot_path(svc->config->snapshot_dir, SNAPSHOT_KIND, EVENTS_PARTITION, path, &why) !=
            0 ||
        sp_snapshot_read(path, SP_ACCOUNTS_SNAPSHOT_BYTES_MAX, &bytes, &len, &why) != 0) {
        if (why.http_status == 404) { /* a first start, or a host new to the service */
            sp_log_info(svc->log, "no accounts snapshot: rebuilding from the whole log", "path",
                        path, NULL);
        } else {
            sp_log_warn(svc->log, "no usable accounts snapshot: rebuilding from the whole log",
                        "code", why.code, "detail", why.message, NULL);
        }
        return 1;
    }
    int rc = sp_accounts_snapshot_decode(bytes, len, EVENTS_PARTITION, &svc->limits,
                                         ACCOUNTS_BUILD_VERSION, &svc->state, &svc->position, &why);
    free(bytes);
    if (rc != 0) {
        sp_log_warn(svc->log, "accounts snapshot refused: rebuilding from the whole log", "code",
                    why.code, "detail", why.message, NULL);
        return 1;
    }
    svc->events_since_snapshot = 0;
    return 0;
}

static void take(service *svc, bool final) {
    sp_error why;
    sp_error_clear(&why);
    char path[SP_SNAPSHOT_PATH_MAX];
    int64_t started_ms = sp_clock_monotonic_ms();
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (sp_snapshot_path(svc->config->snapshot_dir, SNAPSHOT_KIND, EVENTS_PARTITION, path, &why) !=
            0 ||
        sp_accounts_snapshot_encode(&svc->state, EVENTS_PARTITION, &svc->position,
                                    ACCOUNTS_BUILD_VERSION, &bytes, &len, &why) != 0) {
        sp_log_warn(svc->log, "accounts snapshot not taken", "code", why.code, "detail",
                    why.message, NULL);
        return;
    }
    int64_t encode_ms = sp_clock_monotonic_ms() - started_ms;
    if (sp_snapshot_writer_save(&svc->snapshot_writer, path, bytes, len, final, &why) != 0) {
        sp_log_warn(svc->log, "accounts snapshot not written", "code", why.code, "detail",
                    why.message, NULL);
        return;
    }
    svc->events_since_snapshot = 0;
    char offset[24], size[24], ms[24];
    snprintf(offset, sizeof offset, "%" PRId64, svc->position.next_offset);
    snprintf(size, sizeof size, "%zu", len);
    snprintf(ms, sizeof ms, "%" PRId64, encode_ms);
    sp_log_info(svc->log, "accounts snapshot taken", "offset", offset, "bytes", size, "encode_ms",
                ms, NULL);
}

void acc_snapshot_round(service *svc, bool final) {
    if (!snapshots_on(svc)) return;
    sp_snapshot_writer_collect(&svc->snapshot_writer, final, svc->log,
                               "accounts snapshot not written");
    if (svc->events_since_snapshot == 0) return;
    if (!final && svc->events_since_snapshot < (uint64_t)svc->config->snapshot_every_events) return;
    if (svc->snapshot_writer.running) return; /* the next round takes it */
    take(svc, final);
}
