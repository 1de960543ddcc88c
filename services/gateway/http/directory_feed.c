/* directory_feed.c - the accounts events topic into the gateway's directory
 * (see directory_feed.h). */
#include "directory_feed.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <librdkafka/rdkafka.h>
#include "directory.h"
#include "envelope.pb-c.h"
#include "sp_envelope.h"
#include "sp_kafka.h"

#define FEED_WATERMARK_TIMEOUT_MS 10000

struct sp_gw_directory_feed {
    sp_log *log;
    sp_kafka_consumer *consumer; /* used by one thread at a time: the start, then the feed's */
    sp_kafka_msg *batch;         /* SP_KAFKA_BATCH_MAX */
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    pthread_rwlock_t lock; /* over dir */
    sp_gw_directory dir;
    bool dir_ready;
    pthread_mutex_t mutex;  /* over the three below */
    pthread_cond_t applied; /* broadcast after every applied batch */
    int64_t next_offset;
    bool broken; /* the directory stopped: every lookup is 503 */
};

static int broken_error(sp_error *err) {
    return sp_error_set(err, 503, "unavailable", "",
                        "the gateway cannot check sessions at the moment: try again later");
}

/* Applies one message under the write lock (taken by the caller). */
static int apply_message(sp_gw_directory_feed *feed, const sp_kafka_msg *msg, sp_error *err) {
    sp_error why;
    sp_error_clear(&why);
    Solipass__Envelope *envelope = sp_envelope_unpack(msg->value, msg->value_len, &why);
    if (envelope == NULL) {
        /* The projection dead letters it; nothing of it can reach a session. */
        char offset[24];
        snprintf(offset, sizeof offset, "%" PRId64, msg->offset);
        sp_log_warn(feed->log, "accounts event not readable: skipped", "offset", offset, "error",
                    why.message, NULL);
        feed->dir.next_offset = msg->offset + 1;
        return 0;
    }
    int rc = sp_gw_directory_apply(&feed->dir, msg->offset, envelope->type, envelope->payload.data,
                                   envelope->payload.len, envelope->occurred_at_ms, err);
    solipass__envelope__free_unpacked(envelope, NULL);
    return rc;
}

/* Polls once and applies what came; -1 when the directory cannot go on. */
static int feed_step(sp_gw_directory_feed *feed, int timeout_ms, sp_error *err) {
    int n = sp_kafka_consumer_poll_batch(feed->consumer, feed->batch, SP_KAFKA_BATCH_MAX,
                                         timeout_ms, err);
    if (n <= 0) return n;
    int rc = 0;
    pthread_rwlock_wrlock(&feed->lock);
    for (int i = 0; i < n && rc == 0; i++) {
        if (feed->batch[i].offset < feed->dir.next_offset) continue; /* read already */
        rc = apply_message(feed, &feed->batch[i], err);
    }
    int64_t next_offset = feed->dir.next_offset;
    pthread_rwlock_unlock(&feed->lock);
    pthread_mutex_lock(&feed->mutex);
    feed->next_offset = next_offset;
    pthread_cond_broadcast(&feed->applied);
    pthread_mutex_unlock(&feed->mutex);
    return rc;
}

static void *run_feed(void *arg) {
    sp_gw_directory_feed *feed = arg;
    while (!atomic_load(&feed->stop)) {
        sp_error err;
        sp_error_clear(&err);
        if (feed_step(feed, SP_GW_DIRECTORY_POLL_MS, &err) != 0) {
            sp_log_error(feed->log, "session directory stopped: sessions answer 503", "code",
                         err.code, "error", err.message, NULL);
            pthread_mutex_lock(&feed->mutex);
            feed->broken = true;
            pthread_cond_broadcast(&feed->applied);
            pthread_mutex_unlock(&feed->mutex);
            break;
        }
    }
    return NULL;
}

/* Reads up to the high watermark seen now; start_timeout_ms bounds it. */
static int catch_up(sp_gw_directory_feed *feed, int64_t start_timeout_ms, sp_error *err) {
    int64_t low = 0, high = 0;
    if (sp_kafka_watermarks(feed->consumer, SP_TOPIC_ACCOUNTS_EVENTS, 0, &low, &high,
                            FEED_WATERMARK_TIMEOUT_MS, err) != 0)
        return -1;
    if (low > 0) {
        return sp_error_set(err, 500, "log_truncated", NULL,
                            "%s [0] starts at offset %" PRId64 ": users and sessions before it "
                            "are lost",
                            SP_TOPIC_ACCOUNTS_EVENTS, low);
    }
    int64_t deadline_ms = sp_gw_monotonic_ms() + start_timeout_ms;
    while (feed->next_offset < high && sp_gw_monotonic_ms() < deadline_ms) {
        if (feed_step(feed, SP_GW_DIRECTORY_POLL_MS, err) < 0) return -1;
    }
    if (feed->next_offset < high) {
        return sp_error_set(err, 503, "kafka_unavailable", NULL,
                            "session directory at offset %" PRId64 " of %" PRId64 " after %" PRId64
                            " ms",
                            feed->next_offset, high, start_timeout_ms);
    }
    return 0;
}

sp_gw_directory_feed *sp_gw_directory_feed_new(const char *brokers, size_t users_max,
                                               size_t sessions_per_user_max,
                                               int64_t start_timeout_ms, sp_log *log,
                                               sp_error *err) {
    assert(brokers != NULL && log != NULL && start_timeout_ms > 0);
    sp_gw_directory_feed *feed = calloc(1, sizeof *feed);
    if (feed == NULL) {
        sp_error_set(err, 500, "out_of_memory", NULL, "session directory");
        return NULL;
    }
    feed->log = log;
    atomic_init(&feed->stop, false);
    pthread_rwlock_init(&feed->lock, NULL);
    pthread_mutex_init(&feed->mutex, NULL);
    if (sp_gw_cond_init(&feed->applied) != 0) {
        sp_error_set(err, 500, "internal", NULL, "session directory: condition variable");
        goto fail;
    }
    feed->batch = calloc(SP_KAFKA_BATCH_MAX, sizeof *feed->batch);
    if (feed->batch == NULL) {
        sp_error_set(err, 500, "out_of_memory", NULL, "session directory");
        goto fail;
    }
    if (sp_gw_directory_init(&feed->dir, users_max, sessions_per_user_max, err) != 0) goto fail;
    feed->dir_ready = true;
    sp_kafka_tp tp = {.topic = SP_TOPIC_ACCOUNTS_EVENTS,
                      .partition = 0,
                      .offset = RD_KAFKA_OFFSET_BEGINNING};
    feed->consumer = sp_kafka_consumer_new_assigned(brokers, "solipass-gateway-directory", &tp, 1,
                                                    log, err);
    if (feed->consumer == NULL || catch_up(feed, start_timeout_ms, err) != 0) goto fail;
    if (pthread_create(&feed->thread, NULL, run_feed, feed) != 0) {
        sp_error_set(err, 500, "internal", NULL, "session directory: cannot start its thread");
        goto fail;
    }
    feed->thread_started = true;
    return feed;
fail:
    sp_gw_directory_feed_free(feed);
    return NULL;
}

void sp_gw_directory_feed_free(sp_gw_directory_feed *feed) {
    if (feed == NULL) return;
    atomic_store(&feed->stop, true);
    if (feed->thread_started) pthread_join(feed->thread, NULL);
    sp_kafka_consumer_free(feed->consumer);
    if (feed->dir_ready) sp_gw_directory_destroy(&feed->dir);
    free(feed->batch);
    pthread_cond_destroy(&feed->applied);
    pthread_mutex_destroy(&feed->mutex);
    pthread_rwlock_destroy(&feed->lock);
    free(feed);
}

static bool feed_broken(sp_gw_directory_feed *feed) {
    pthread_mutex_lock(&feed->mutex);
    bool broken = feed->broken;
    pthread_mutex_unlock(&feed->mutex);
    return broken;
}

int sp_gw_directory_feed_session(sp_gw_directory_feed *feed,
                                 const uint8_t token_hash[SP_TOKEN_HASH_LEN], int64_t now_ms,
                                 sp_gw_user *user, bool *found, sp_error *err) {
    assert(feed != NULL && found != NULL);
    if (feed_broken(feed)) return broken_error(err);
    pthread_rwlock_rdlock(&feed->lock);
    *found = sp_gw_directory_session(&feed->dir, token_hash, now_ms, user);
    pthread_rwlock_unlock(&feed->lock);
    return 0;
}

int sp_gw_directory_feed_partner_code(sp_gw_directory_feed *feed, const char *partner_code,
                                      bool *known, sp_error *err) {
    assert(feed != NULL && known != NULL);
    if (feed_broken(feed)) return broken_error(err);
    pthread_rwlock_rdlock(&feed->lock);
    *known = sp_gw_directory_partner_code(&feed->dir, partner_code);
    pthread_rwlock_unlock(&feed->lock);
    return 0;
}

int sp_gw_directory_feed_until(sp_gw_directory_feed *feed, int64_t offset, int64_t deadline_ms,
                               sp_error *err) {
    assert(feed != NULL && offset >= 0);
    struct timespec until = sp_gw_deadline_timespec(deadline_ms > 0 ? deadline_ms : 0);
    pthread_mutex_lock(&feed->mutex);
    int wait_rc = 0;
    while (feed->next_offset <= offset && !feed->broken && wait_rc != ETIMEDOUT) {
        wait_rc = pthread_cond_timedwait(&feed->applied, &feed->mutex, &until);
    }
    bool reached = feed->next_offset > offset;
    bool broken = feed->broken;
    pthread_mutex_unlock(&feed->mutex);
    if (reached) return 0;
    if (broken) return broken_error(err);
    return sp_error_set(err, 503, "timeout", "",
                        "the request was carried out but is not visible yet: retry with the "
                        "same Idempotency-Key to get its answer");
}

void sp_gw_directory_feed_counts(sp_gw_directory_feed *feed, size_t *users, size_t *sessions,
                                 int64_t *next_offset) {
    assert(feed != NULL && users != NULL && sessions != NULL && next_offset != NULL);
    pthread_rwlock_rdlock(&feed->lock);
    *users = sp_gw_directory_user_count(&feed->dir);
    *sessions = sp_gw_directory_session_count(&feed->dir);
    *next_offset = feed->dir.next_offset;
    pthread_rwlock_unlock(&feed->lock);
}
