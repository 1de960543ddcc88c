/* service_internal.h - the transactions service's run-time state, shared by
 * service.c (start, assignment and rebuild, partner directory, expiry sweep,
 * metrics) and service_batch.c (one polled batch of commands). */
#ifndef SP_TRANSACTIONS_SERVICE_INTERNAL_H
#define SP_TRANSACTIONS_SERVICE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "ledger.h"
#include "ledger_snapshot.h"
#include "service.h"
#include "sp_snapshot_file.h"
#include "sp_envelope.h"
#include "sp_kafka.h"
#include "sp_receipt.h"
#include "sp_service.h"

#define TX_PARTITIONS_MAX 256       /* ledger partitions one process can hold */
#define TX_PARTNERS_MAX 1000000     /* partner directory entries */
#define TX_REPLAY_TIMEOUT_MS 120000 /* rebuild of one partition */
#define TX_FLUSH_TIMEOUT_MS 10000
#define TX_POLL_TIMEOUT_MS 50
#define TX_PARTNER_CATCH_UP_MS 2000 /* per batch, and at each assignment */
#define TX_START_CATCH_UP_MS 30000  /* the directory before the first rebuild */
#define TX_METADATA_TIMEOUT_MS 10000
#define TX_WATERMARK_TIMEOUT_MS 2000
#define TX_LAG_LOG_MS 10000
#define TX_SWEEP_EVENTS_MAX 256 /* expiry events per round */
#define TX_SWEEP_ROUNDS_MAX 16  /* rounds per sweep; the rest waits for the next */
#define TX_REF_MAX 128          /* envelope ids, as the envelope allows */
#define TX_REPLY_TO_MAX 64      /* it is the reply's aggregate id and key */
#define TX_REPLY_TYPE "Reply.v1"

typedef struct tx_partition {
    sp_ledger_state *state;           /* NULL when this partition is not ours */
    int64_t next_offset;              /* next command to read; -1 unknown */
    sp_ledger_snapshot_position last; /* the last event in state: its identity (the
                                       * offset is asked of the broker when needed) */
    uint64_t events_since_snapshot;   /* applied since the last snapshot or rebuild */
} tx_partition;

typedef struct tx_counters {
    uint64_t commands;
    uint64_t accepted;
    uint64_t rejected;
    uint64_t replayed;
    uint64_t dead_letters;
    uint64_t expiries;
    uint64_t invalid_events; /* refused while rebuilding */
} tx_counters;

typedef enum { TX_NO_REPLY = 0, TX_REPLY_RECORD, TX_REPLY_ERROR } tx_reply_kind;

/* What one command of the batch will be answered, once its event is durable. */
typedef struct tx_pending {
    tx_reply_kind kind;
    sp_ledger_record *fresh; /* decided now: its event ref comes from delivery */
    const sp_ledger_record *record;
    bool replayed;
    sp_error error;
    sp_kafka_delivery delivery;
    char reply_to[TX_REF_MAX + 1];
    char causation_id[TX_REF_MAX + 1]; /* the command envelope's id */
    char command_id[TX_REF_MAX + 1];
    char actor_id[TX_REF_MAX + 1];
} tx_pending;

typedef struct tx_service {
    const sp_transactions_config *config;
    bool receipts; /* a receipt key was given */
    sp_receipt_signer receipt_signer;
    sp_log *log;
    sp_clock *clock;
    sp_ledger_limits limits;
    sp_ledger_directory directory;
    bool directory_ready;
    sp_kafka_producer *producer;
    sp_kafka_consumer *commands; /* group member on the ledger commands */
    sp_kafka_consumer *partners; /* reader of the accounts events */
    int64_t partners_next_offset;
    int32_t partition_count;
    tx_partition partitions[TX_PARTITIONS_MAX];
    sp_service_readiness readiness;
    tx_counters counters;
    sp_kafka_msg *batch;                /* SP_KAFKA_BATCH_MAX commands */
    sp_kafka_msg *partner_batch;        /* SP_KAFKA_BATCH_MAX accounts events */
    tx_pending *pending;                /* SP_KAFKA_BATCH_MAX */
    sp_ledger_event *sweep_events;      /* TX_SWEEP_EVENTS_MAX */
    sp_ledger_decision decision;        /* scratch: too large for the stack of every call */
    sp_snapshot_writer snapshot_writer; /* one snapshot file written at a time */
    int32_t snapshot_next_partition;    /* where the next round of snapshots starts */
} tx_service;

/* Reads the accounts events up to the topic's end as the broker reports it
 * now, so that a batch is decided knowing every publication, acceptance or
 * removal answered before its commands were sent. On failure (logged) the
 * batch is decided from what the directory holds. */
void tx_partners_barrier(tx_service *svc);
/* Reads them up to the high watermark seen now, for at most timeout_ms;
 * fails when the topic no longer starts where the directory needs it. */
int tx_partners_catch_up(tx_service *svc, int timeout_ms, sp_error *err);

/* Produces one ledger event to its partition, keyed by the pass id. */
int tx_produce_event(tx_service *svc, int32_t partition, const sp_ledger_event *event,
                     const char *causation_id, sp_kafka_delivery *delivery, sp_error *err);

/* ---- service_snapshot.c ---- */

/* The identity of an event now in a partition's state (produced, or read
 * at rebuild), for the snapshot's position. */
void tx_snapshot_note_event(tx_partition *part, const sp_ledger_event *event);
/* A state from the partition's snapshot file and the position it stands
 * at, or NULL (no folder set, no file, or refused: logged with the reason)
 * and the caller rebuilds from the whole log. */
sp_ledger_state *tx_snapshot_load(tx_service *svc, int32_t partition,
                                  sp_ledger_snapshot_position *position);
/* Every partition held whose state moved SP_SNAPSHOT_EVERY_EVENTS since
 * its last snapshot, at most one file being written at a time; all of them
 * and waiting for the files when final (a clean stop). Called only when
 * every event applied is flushed. Failures are logged, never fatal: a
 * missing snapshot costs time at the next start, not correctness. */
void tx_snapshot_round(tx_service *svc, bool final);

/* Decides, applies and answers svc->batch[0..count): events flushed before
 * replies, replies flushed before the commit. -1 is fatal. */
int tx_process_batch(tx_service *svc, size_t count, sp_error *err);

#endif
