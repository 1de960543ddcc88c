/* service.c - the finance service's Kafka edges: ledger events in, finance
 * events out in two forms, offsets committed after both (see service.h).
 * What is published is decided by finance_map.c. */
#include "service.h"

#include <assert.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "finance_map.h"
#include "sp_clock.h"
#include "sp_envelope.h"
#include "sp_kafka.h"
#include "sp_service.h"

#define POLL_MS 200
#define FLUSH_TIMEOUT_MS 10000
#define REPLAY_TIMEOUT_MS 120000
#define RETRY_PAUSE_MS 1000
#define STATS_INTERVAL_MS 10000

typedef struct counters {
    uint64_t read;
    uint64_t published;
    uint64_t skipped; /* undecodable or invalid: the projection dead-letters them */
} counters;

typedef struct service {
    const sp_finance_config *config;
    sp_log *log;
    sp_clock *clock;
    sp_kafka_producer *producer;
    sp_kafka_consumer *consumer;
    sp_kafka_msg *msgs; /* SP_KAFKA_BATCH_MAX */
    sp_finance_requests requests;
    bool requests_ready;
    sp_service_readiness readiness;
    counters counters;
} service;

static void skip(service *svc, const sp_kafka_msg *msg, const char *why) {
    char partition[16], offset[24];
    snprintf(partition, sizeof partition, "%" PRId32, msg->partition);
    snprintf(offset, sizeof offset, "%" PRId64, msg->offset);
    svc->counters.skipped++;
    sp_log_error(svc->log, "ledger event not published to finance", "partition", partition,
                 "offset", offset, "reason", why, NULL);
}

/* ------------------------------------------------------------------ rebuild */

/* Only the openings matter here: a broken one is left to the projection. */
static int note_message(void *ctx, const sp_kafka_msg *msg, sp_error *err) {
    service *svc = ctx;
    sp_error why;
    Solipass__Envelope *env = sp_envelope_unpack(msg->value, msg->value_len, &why);
    if (env == NULL) return 0;
    int rc = sp_finance_requests_note(&svc->requests, env, &why);
    solipass__envelope__free_unpacked(env, NULL);
    if (rc != 0 && strcmp(why.code, "invalid_event") != 0) {
        *err = why; /* a bound or memory: the registry would be partial */
        return -1;
    }
    return 0;
}

static int on_assigned(void *ctx, const sp_kafka_tp *tps, size_t tp_count, sp_error *err) {
    service *svc = ctx;
    for (size_t i = 0; i < tp_count; i++) {
        int64_t started_ms = sp_clock_monotonic_ms();
        if (sp_kafka_replay_partition(svc->config->brokers, SP_TOPIC_LEDGER_EVENTS,
                                      tps[i].partition, note_message, svc, REPLAY_TIMEOUT_MS,
                                      svc->log, err) != 0)
            return -1;
        char partition[16], requests[24], ms[24];
        snprintf(partition, sizeof partition, "%" PRId32, tps[i].partition);
        snprintf(requests, sizeof requests, "%zu", svc->requests.map.entry_count);
        snprintf(ms, sizeof ms, "%" PRId64, sp_clock_monotonic_ms() - started_ms);
        sp_log_info(svc->log, "refund request openings read", "partition", partition, "requests",
                    requests, "ms", ms, NULL);
    }
    sp_service_ready(&svc->readiness);
    return 0;
}

/* ------------------------------------------------------------------ publish */

static int publish_event(service *svc, const Solipass__Envelope *source, const sp_finance_event *fe,
                         sp_error *err) {
    const Solipass__Finance__FinanceEvent *e = &fe->event;
    sp_envelope_meta meta = {.type = SP_FINANCE_ENVELOPE_TYPE,
                             .aggregate_id = e->partner_id,
                             .aggregate_version = 0,
                             .occurred_at_ms = e->occurred_at_ms,
                             .command_id = source->command_id,
                             .causation_id = source->id,
                             .reply_to = "",
                             .actor_id = source->actor_id};
    if (sp_envelope_produce(svc->producer, SP_TOPIC_FINANCE, RD_KAFKA_PARTITION_UA, &meta, &e->base,
                            NULL, NULL, err) != 0)
        return -1;
    char *json = sp_finance_json(e);
    if (json == NULL) return sp_error_set(err, 500, "out_of_memory", "", "finance JSON");
    int rc = sp_kafka_produce(svc->producer, SP_TOPIC_FINANCE_JSON, RD_KAFKA_PARTITION_UA,
                              e->partner_id, json, strlen(json), NULL, err);
    free(json);
    return rc;
}

/* Maps and produces one ledger message; *published says whether it gave a
 * finance event. Only the producer's failures are errors. */
static int publish_message(service *svc, const sp_kafka_msg *msg, bool *published, sp_error *err) {
    *published = false;
    sp_error why;
    Solipass__Envelope *env = sp_envelope_unpack(msg->value, msg->value_len, &why);
    if (env == NULL) {
        skip(svc, msg, why.message);
        return 0;
    }
    int rc = 0;
    bool mapped = false;
    sp_finance_event fe;
    if (sp_finance_requests_note(&svc->requests, env, &why) != 0 &&
        strcmp(why.code, "invalid_event") != 0) {
        *err = why;
        rc = -1;
    } else if (sp_finance_map(env, &svc->requests, &fe, &mapped, &why) != 0) {
        skip(svc, msg, why.message);
    } else if (mapped) {
        rc = publish_event(svc, env, &fe, err);
        *published = rc == 0;
        sp_finance_event_clear(&fe);
    }
    solipass__envelope__free_unpacked(env, NULL);
    return rc;
}

static int publish_batch_once(service *svc, size_t count, uint64_t *published, sp_error *err) {
    *published = 0;
    for (size_t i = 0; i < count; i++) {
        bool one = false;
        if (publish_message(svc, &svc->msgs[i], &one, err) != 0) return -1;
        if (one) (*published)++;
    }
    return sp_kafka_producer_flush(svc->producer, FLUSH_TIMEOUT_MS, err);
}

/* Both copies of every event of the batch are durable before its offsets
 * are committed; a failed flush publishes the whole batch again (readers
 * dedupe), at most publish_tries_max times. */
static int publish_batch(service *svc, size_t count, volatile sig_atomic_t *stop, sp_error *err) {
    for (int64_t tries = 0; tries < svc->config->publish_tries_max && !*stop; tries++) {
        uint64_t published = 0;
        if (publish_batch_once(svc, count, &published, err) == 0) {
            svc->counters.read += count;
            svc->counters.published += published;
            return sp_kafka_consumer_commit(svc->consumer, svc->msgs, count, err);
        }
        if (strcmp(err->code, "limit_reached") == 0 || strcmp(err->code, "out_of_memory") == 0)
            return -1;
        sp_log_warn(svc->log, "finance events not delivered: publishing the batch again", "code",
                    err->code, "detail", err->message, NULL);
        sp_clock_sleep_ms(RETRY_PAUSE_MS);
    }
    if (*stop) return 0; /* not committed: read and published again after a restart */
    return sp_error_set(err, 503, "unavailable", "",
                        "the finance topics refused a batch "
                        "%" PRId64 " times",
                        svc->config->publish_tries_max);
}

/* ------------------------------------------------------------------ loop */

static void log_stats(service *svc) {
    char read[24], published[24], skipped[24];
    snprintf(read, sizeof read, "%" PRIu64, svc->counters.read);
    snprintf(published, sizeof published, "%" PRIu64, svc->counters.published);
    snprintf(skipped, sizeof skipped, "%" PRIu64, svc->counters.skipped);
    sp_log_info(svc->log, "stats", "read", read, "published", published, "skipped", skipped, NULL);
}

static int loop(service *svc, volatile sig_atomic_t *stop, sp_error *err) {
    int64_t stats_at_ms = sp_clock_monotonic_ms();
    while (!*stop) {
        int n = sp_kafka_consumer_poll_batch(svc->consumer, svc->msgs, SP_KAFKA_BATCH_MAX, POLL_MS,
                                             err);
        if (n < 0) return -1;
        if (n > 0 && publish_batch(svc, (size_t)n, stop, err) != 0) return -1;
        sp_kafka_producer_poll(svc->producer);
        if (sp_clock_monotonic_ms() - stats_at_ms >= STATS_INTERVAL_MS) {
            log_stats(svc);
            stats_at_ms = sp_clock_monotonic_ms();
        }
    }
    sp_log_info(svc->log, "stopping", NULL);
    return 0;
}

static int start(service *svc, sp_error *err) {
    svc->msgs = calloc(SP_KAFKA_BATCH_MAX, sizeof *svc->msgs);
    if (svc->msgs == NULL) return sp_error_set(err, 500, "out_of_memory", "", "batch");
    if (sp_finance_requests_init(&svc->requests, (size_t)svc->config->requests_max, err) != 0)
        return -1;
    svc->requests_ready = true;
    svc->producer = sp_kafka_producer_new(svc->config->brokers, "solipass-finance", svc->log, err);
    if (svc->producer == NULL) return -1;
    const char *const topics[] = {SP_TOPIC_LEDGER_EVENTS};
    /* Nothing to drop on a revocation: the openings remembered are facts of
     * the log, they stay true. */
    svc->consumer = sp_kafka_consumer_new_group(svc->config->brokers, SP_FINANCE_GROUP_ID, topics,
                                                1, on_assigned, NULL, svc, svc->log, err);
    return svc->consumer != NULL ? 0 : -1;
}

int sp_finance_service_run(const sp_finance_config *config, sp_log *log, sp_clock *clock,
                           volatile sig_atomic_t *stop, sp_error *err) {
    assert(config != NULL && log != NULL && clock != NULL && stop != NULL);
    assert(config->requests_max > 0 && config->publish_tries_max > 0);
    service *svc = calloc(1, sizeof *svc);
    if (svc == NULL) return sp_error_set(err, 500, "out_of_memory", "", "service");
    svc->config = config;
    svc->log = log;
    svc->readiness.log = log;
    svc->clock = clock;
    int rc = start(svc, err);
    if (rc == 0) rc = loop(svc, stop, err);
    if (rc == 0) log_stats(svc);
    sp_kafka_consumer_free(svc->consumer);
    sp_kafka_producer_free(svc->producer);
    if (svc->requests_ready) sp_finance_requests_destroy(&svc->requests);
    free(svc->msgs);
    free(svc);
    return rc;
}
