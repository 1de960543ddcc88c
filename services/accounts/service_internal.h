/* service_internal.h - what the accounts service's edge files share
 * (service.c: rebuild, commands, replies; service_snapshot.c: the state's
 * snapshots). Not for use outside services/accounts.
 *
 * Memory: the service owns everything it points to (see service.h). */
#ifndef SP_ACCOUNTS_SERVICE_INTERNAL_H
#define SP_ACCOUNTS_SERVICE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "sp_envelope.h"
#include "sp_kafka.h"
#include "sp_service.h"
#include "sp_snapshot_file.h"

#include "accounts_snapshot.h"
#include "accounts_state.h"
#include "service.h"

#define POLL_TIMEOUT_MS 200
#define FLUSH_TIMEOUT_MS 10000
#define REPLAY_TIMEOUT_MS 120000
#define WATERMARK_TIMEOUT_MS 1000
#define STATS_INTERVAL_MS 10000
#define EVENTS_PARTITION 0
#define NEXT_OFFSET_UNKNOWN INT64_C(-1)

typedef struct counters {
    uint64_t commands;
    uint64_t events_written;
    uint64_t replies;
    uint64_t rejected;
    uint64_t replayed;
    uint64_t dead_letters;
    uint64_t events_applied; /* while rebuilding */
    uint64_t events_ignored; /* not the next version of their aggregate */
    uint64_t events_unreadable;
} counters;

/* One command of the polled batch, from its decision to its reply. */
typedef struct plan {
    Solipass__Envelope *envelope; /* owned; NULL when dead-lettered */
    sp_accounts_decision decision;
    /* The reply, taken right after the decision: a later command of the
     * batch may free the stored outcome to make room for its own. */
    sp_accounts_outcome outcome;
    sp_kafka_delivery deliveries[SP_ACCOUNTS_EVENTS_PER_COMMAND_MAX];
} plan;

typedef struct service {
    const sp_accounts_config *config;
    sp_log *log;
    sp_clock *clock;
    sp_accounts_limits limits;
    sp_accounts_state state;
    sp_kafka_producer *producer;
    sp_kafka_consumer *consumer;
    sp_kafka_msg *msgs;  /* SP_KAFKA_BATCH_MAX */
    plan *plans;         /* SP_KAFKA_BATCH_MAX */
    bool rebuild_needed; /* partitions were revoked: another writer may have run */
    /* Where the state stands on the events partition (the last event
     * applied), and the snapshots (service_snapshot.c). */
    sp_accounts_snapshot_position position;
    uint64_t events_since_snapshot;
    sp_snapshot_writer snapshot_writer;
    sp_service_readiness readiness;
    int64_t next_offset; /* next command offset to read, NEXT_OFFSET_UNKNOWN */
    int64_t stats_at_ms; /* monotonic */
    counters counters;
    char bootstrap_email[SP_ACCOUNTS_EMAIL_MAX + 1]; /* lower-cased */
} service;

/* ---- service_snapshot.c ---- */

/* The state and its position from the snapshot file: 0, or 1 when there
 * is none or it is refused (said in the log: the caller rebuilds from
 * zero). svc->state is initialised only on 0. */
int acc_snapshot_load(service *svc);
/* Takes a snapshot when SP_SNAPSHOT_EVERY_EVENTS events were applied since
 * the last one (final: whenever any was, written before returning - a clean
 * stop). Every event applied must be on the log (flushed). */
void acc_snapshot_round(service *svc, bool final);
/* The event at offset is now in the state. */
void acc_snapshot_note_event(service *svc, const sp_accounts_event *event, int64_t offset);

#endif
