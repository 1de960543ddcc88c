/* log_ops.c - requeue a dead letter, show the consumers' lag (see log_ops.h).
 * The requeue reads through sp_kafka and writes through sp_envelope; the lag
 * asks librdkafka directly for what sp_kafka does not wrap (the group list,
 * a group's committed offsets). */
#include "log_ops.h"

#include <assert.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include "envelope.pb-c.h"
#include "sp_clock.h"
#include "sp_envelope.h"
#include "sp_kafka.h"
#include "sp_pg.h"

#define OPS_CLIENT_ID "solipass-log"
#define OPS_POLL_MS 200
#define OPS_TOPIC_MAX 128
#define OPS_KEY_MAX 512
#define OPS_MARKER_TEXT_MAX 512
#define OPS_PG_CONNECT_WAIT_MS 5000
#define OPS_TRUNCATED_MARK "(original value truncated"

/* The topics a dead letter may come from, and whose consumers lag shows. */
static const char *const ops_topics[] = {
    SP_TOPIC_ACCOUNTS_COMMANDS, SP_TOPIC_ACCOUNTS_EVENTS, SP_TOPIC_LEDGER_COMMANDS,
    SP_TOPIC_LEDGER_EVENTS,     SP_TOPIC_REPLIES,
};
#define OPS_TOPIC_COUNT (sizeof ops_topics / sizeof ops_topics[0])

/* The solipass groups, shown when the broker cannot list its groups. */
static const char *const ops_known_groups[] = {"solipass-accounts", "solipass-transactions",
                                               "solipass-notifications"};

static int print_json(FILE *out, json_t *line, sp_error *err) {
    if (line == NULL) return sp_error_set(err, 500, "out_of_memory", "", "a JSON line");
    int rc = json_dumpf(line, out, JSON_COMPACT | JSON_ENSURE_ASCII) == 0 && fputc('\n', out) != EOF
                 ? 0
                 : sp_error_set(err, 500, "io_error", "", "cannot write the output");
    json_decref(line);
    return rc;
}

/* ------------------------------------------------------------ requeue */

typedef struct requeue_scan {
    int32_t partition;
    int64_t offset; /* the dead letter asked for */
    bool found;
    char source_topic[OPS_TOPIC_MAX];
    int32_t source_partition;
    int64_t source_offset;
    char key[OPS_KEY_MAX];
    uint8_t *value; /* the original message, malloc'd */
    size_t value_len;
    char original_type[SP_ENVELOPE_TYPE_MAX + 1];
    char marker[OPS_MARKER_TEXT_MAX]; /* not empty: already requeued */
    sp_error refusal;                 /* code not empty: refused */
} requeue_scan;

static void take_dead_letter(requeue_scan *scan, const Solipass__DeadLetter *dead) {
    if (strstr(dead->reason, OPS_TRUNCATED_MARK) != NULL) {
        sp_error_set(&scan->refusal, 409, "original_truncated", "offset",
                     "the dead letter at "
                     "offset %" PRId64 " holds only the start of its original message: it "
                     "cannot be requeued",
                     scan->offset);
        return;
    }
    if (dead->original_key.len >= sizeof scan->key ||
        memchr(dead->original_key.data, '\0', dead->original_key.len) != NULL) {
        sp_error_set(&scan->refusal, 409, "invalid_key", "offset",
                     "the dead letter at offset %" PRId64
                     " has a key that is not a text of at most %d bytes",
                     scan->offset, OPS_KEY_MAX - 1);
        return;
    }
    snprintf(scan->source_topic, sizeof scan->source_topic, "%s", dead->source_topic);
    scan->source_partition = dead->source_partition;
    scan->source_offset = dead->source_offset;
    memcpy(scan->key, dead->original_key.data, dead->original_key.len);
    scan->key[dead->original_key.len] = '\0';
    scan->value = malloc(dead->original_value.len + 1);
    if (scan->value == NULL) {
        sp_error_set(&scan->refusal, 500, "out_of_memory", "", "the original message");
        return;
    }
    memcpy(scan->value, dead->original_value.data, dead->original_value.len);
    scan->value_len = dead->original_value.len;
    sp_error ignored;
    Solipass__Envelope *original = sp_envelope_unpack(scan->value, scan->value_len, &ignored);
    if (original != NULL) {
        snprintf(scan->original_type, sizeof scan->original_type, "%s", original->type);
        solipass__envelope__free_unpacked(original, NULL);
    }
}

/* The message asked for, or a later marker naming it. */
static void scan_message(requeue_scan *scan, const sp_kafka_msg *msg) {
    sp_error err;
    Solipass__Envelope *envelope = sp_envelope_unpack(msg->value, msg->value_len, &err);
    Solipass__DeadLetter *dead = envelope == NULL
                                     ? NULL
                                     : solipass__dead_letter__unpack(NULL, envelope->payload.len,
                                                                     envelope->payload.data);
    bool is_marker = dead != NULL && strcmp(envelope->type, SP_LOG_REQUEUED_TYPE) == 0;
    if (msg->offset == scan->offset) {
        scan->found = true;
        if (dead == NULL || strcmp(envelope->type, "DeadLetter.v1") != 0)
            sp_error_set(&scan->refusal, 409, "not_a_dead_letter", "offset",
                         "offset %" PRId64 " of %s[%" PRId32 "] is %s, not a dead letter",
                         msg->offset, SP_TOPIC_DEADLETTER, msg->partition,
                         is_marker ? "a requeue marker" : "a message of another kind");
        else take_dead_letter(scan, dead);
    } else if (is_marker && scan->marker[0] == '\0' && dead->source_offset == scan->offset &&
               dead->source_partition == scan->partition &&
               strcmp(dead->source_topic, SP_TOPIC_DEADLETTER) == 0) {
        snprintf(scan->marker, sizeof scan->marker, "marker at offset %" PRId64 ": %.400s",
                 msg->offset, dead->reason);
    }
    if (dead != NULL) solipass__dead_letter__free_unpacked(dead, NULL);
    if (envelope != NULL) solipass__envelope__free_unpacked(envelope, NULL);
}

/* Reads [offset, high) of the dead-letter partition into scan. */
static int scan_dead_letters(const sp_log_ops_settings *s, requeue_scan *scan, sp_log *log,
                             sp_error *err) {
    int64_t low = 0, high = 0;
    sp_kafka_consumer *probe = sp_kafka_consumer_new_assigned(s->brokers, OPS_CLIENT_ID, NULL, 0,
                                                              log, err);
    if (probe == NULL) return -1;
    int rc = sp_kafka_watermarks(probe, SP_TOPIC_DEADLETTER, scan->partition, &low, &high,
                                 (int)s->timeout_ms, err);
    sp_kafka_consumer_free(probe);
    if (rc != 0) return -1;
    if (scan->offset < low || scan->offset >= high)
        return sp_error_set(err, 404, "no_such_message", "offset",
                            "%s[%" PRId32 "] holds "
                            "offsets %" PRId64 " to %" PRId64 ": there is no dead letter at "
                            "offset %" PRId64,
                            SP_TOPIC_DEADLETTER, scan->partition, low, high - 1, scan->offset);
    sp_kafka_tp tp = {.topic = SP_TOPIC_DEADLETTER,
                      .partition = scan->partition,
                      .offset = scan->offset};
    sp_kafka_consumer *consumer = sp_kafka_consumer_new_assigned(s->brokers, OPS_CLIENT_ID, &tp, 1,
                                                                 log, err);
    if (consumer == NULL) return -1;
    sp_kafka_msg msgs[SP_KAFKA_BATCH_MAX];
    int64_t next = scan->offset, idle_polls = 0;
    rc = 0;
    while (rc == 0 && next < high) {
        int n = sp_kafka_consumer_poll_batch(consumer, msgs, SP_KAFKA_BATCH_MAX, OPS_POLL_MS, err);
        if (n < 0) rc = -1;
        else if (n == 0 && ++idle_polls > s->timeout_ms / OPS_POLL_MS)
            rc = sp_error_set(err, 504, "timeout", "",
                              "%s: offset %" PRId64 " not reached in "
                              "time",
                              SP_TOPIC_DEADLETTER, high - 1);
        for (int i = 0; rc == 0 && i < n; i++) {
            if (msgs[i].offset >= high) continue;
            scan_message(scan, &msgs[i]);
            next = msgs[i].offset + 1;
            idle_polls = 0;
        }
    }
    sp_kafka_consumer_free(consumer);
    return rc;
}

static int check_requeue(const sp_log_ops_settings *s, const requeue_scan *scan, sp_error *err) {
    if (scan->refusal.code[0] != '\0') {
        *err = scan->refusal;
        return -1;
    }
    if (!scan->found)
        return sp_error_set(err, 404, "no_such_message", "offset",
                            "offset %" PRId64 " of %s was "
                            "not delivered (compacted away?)",
                            scan->offset, SP_TOPIC_DEADLETTER);
    if (scan->marker[0] != '\0')
        return sp_error_set(err, 409, "already_requeued", "offset",
                            "the dead letter at offset %" PRId64 " was already requeued (%s)",
                            scan->offset, scan->marker);
    bool known = false;
    for (size_t i = 0; i < OPS_TOPIC_COUNT; i++)
        known |= strcmp(ops_topics[i], scan->source_topic) == 0;
    if (!known)
        return sp_error_set(err, 409, "unknown_source_topic", "offset",
                            "the dead letter at "
                            "offset %" PRId64 " comes from \"%.100s\", not a solipass topic",
                            scan->offset, scan->source_topic);
    int count = sp_kafka_partition_count(s->brokers, scan->source_topic, (int)s->timeout_ms, err);
    if (count < 0) return -1;
    if (scan->source_partition < 0 || scan->source_partition >= count)
        return sp_error_set(err, 409, "unknown_source_topic", "offset",
                            "%s has %d partitions, "
                            "the dead letter names partition %" PRId32,
                            scan->source_topic, count, scan->source_partition);
    return 0;
}

/* The copy first, then the marker: a failure between the two leaves a copy
 * without its marker (consumers ignore a message they already applied), never
 * a marker without its copy. */
static int requeue_write(const sp_log_ops_settings *s, const requeue_scan *scan, FILE *out,
                         sp_log *log, sp_error *err) {
    sp_kafka_producer *producer = sp_kafka_producer_new(s->brokers, OPS_CLIENT_ID, log, err);
    if (producer == NULL) return -1;
    sp_kafka_delivery copy = {0}, marker = {0};
    char reason[OPS_MARKER_TEXT_MAX];
    sp_clock clock;
    sp_clock_init(&clock, NULL);
    int rc = -1;
    if (sp_kafka_produce(producer, scan->source_topic, scan->source_partition, scan->key,
                         scan->value, scan->value_len, &copy, err) != 0 ||
        sp_kafka_producer_flush(producer, (int)s->timeout_ms, err) != 0)
        goto done;
    snprintf(reason, sizeof reason, "requeued to %s[%" PRId32 "] at offset %" PRId64,
             scan->source_topic, copy.partition, copy.offset);
    Solipass__DeadLetter dl = SOLIPASS__DEAD_LETTER__INIT;
    dl.source_topic = SP_TOPIC_DEADLETTER;
    dl.source_partition = scan->partition;
    dl.source_offset = scan->offset;
    dl.service = SP_LOG_REQUEUE_SERVICE;
    dl.reason = reason;
    sp_envelope_meta meta = {.type = SP_LOG_REQUEUED_TYPE,
                             .aggregate_id = SP_TOPIC_DEADLETTER,
                             .occurred_at_ms = sp_clock_now_ms(&clock)};
    if (sp_envelope_produce(producer, SP_TOPIC_DEADLETTER, scan->partition, &meta, &dl.base,
                            &marker, NULL, err) != 0 ||
        sp_kafka_producer_flush(producer, (int)s->timeout_ms, err) != 0)
        goto done;
    rc = print_json(out,
                    json_pack("{sIsisssisIsIss}", "requeued_offset", (json_int_t)scan->offset,
                              "partition", (int)scan->partition, "to_topic", scan->source_topic,
                              "to_partition", (int)copy.partition, "to_offset",
                              (json_int_t)copy.offset, "marker_offset", (json_int_t)marker.offset,
                              "original_type", scan->original_type),
                    err);
done:
    sp_clock_destroy(&clock);
    sp_kafka_producer_free(producer);
    return rc;
}

int sp_log_requeue(const sp_log_ops_settings *settings, int32_t partition, int64_t offset,
                   FILE *out, sp_log *log, sp_error *err) {
    assert(settings != NULL && out != NULL && offset >= 0 && partition >= 0);
    requeue_scan *scan = calloc(1, sizeof *scan);
    if (scan == NULL) return sp_error_set(err, 500, "out_of_memory", "", "requeue");
    scan->partition = partition;
    scan->offset = offset;
    int rc = scan_dead_letters(settings, scan, log, err) == 0 &&
                     check_requeue(settings, scan, err) == 0 &&
                     requeue_write(settings, scan, out, log, err) == 0
                 ? 0
                 : -1;
    free(scan->value);
    free(scan);
    return rc;
}

/* ------------------------------------------------------------ lag */

static rd_kafka_t *lag_handle(const char *brokers, const char *group, sp_error *err) {
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof errstr) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        sp_error_set(err, 500, "kafka_config", "", "%s", errstr);
        return NULL;
    }
    if (sp_kafka_conf_security(conf, err) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        sp_error_set(err, 500, "kafka_config", "", "%s", errstr);
    }
    return rk;
}

/* Every partition of the solipass topics, with its high watermark. */
typedef struct lag_partitions {
    rd_kafka_topic_partition_list_t *list;
    int64_t *high; /* by index in list */
} lag_partitions;

static int lag_partitions_load(rd_kafka_t *rk, const sp_log_ops_settings *s, lag_partitions *lp,
                               sp_error *err) {
    lp->list = rd_kafka_topic_partition_list_new(64);
    for (size_t i = 0; i < OPS_TOPIC_COUNT; i++) {
        int count = sp_kafka_partition_count(s->brokers, ops_topics[i], (int)s->timeout_ms, err);
        if (count < 0) return -1;
        for (int p = 0; p < count; p++)
            rd_kafka_topic_partition_list_add(lp->list, ops_topics[i], p);
    }
    lp->high = calloc((size_t)lp->list->cnt, sizeof *lp->high);
    if (lp->high == NULL) return sp_error_set(err, 500, "out_of_memory", "", "watermarks");
    for (int i = 0; i < lp->list->cnt; i++) {
        int64_t low = 0;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, lp->list->elems[i].topic,
                                                                 lp->list->elems[i].partition, &low,
                                                                 &lp->high[i], (int)s->timeout_ms);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            return sp_error_set(err, 503, "kafka_unavailable", "", "watermarks of %s[%d]: %s",
                                lp->list->elems[i].topic, (int)lp->list->elems[i].partition,
                                rd_kafka_err2str(e));
    }
    return 0;
}

static int print_lag(FILE *out, const char *group, const char *store, const char *topic,
                     int32_t partition, int64_t committed, int64_t high, sp_error *err) {
    return print_json(out,
                      json_pack("{sssssssisIsIsI}", "group", group, "store", store, "topic", topic,
                                "partition", (int)partition, "committed", (json_int_t)committed,
                                "high", (json_int_t)high, "lag",
                                (json_int_t)(high > committed ? high - committed : 0)),
                      err);
}

/* One group's committed offsets; a group without any is shown as such. */
static int lag_of_group(const sp_log_ops_settings *s, const char *group, const lag_partitions *lp,
                        FILE *out, sp_error *err) {
    rd_kafka_t *rk = lag_handle(s->brokers, group, err);
    if (rk == NULL) return -1;
    rd_kafka_topic_partition_list_t *asked = rd_kafka_topic_partition_list_copy(lp->list);
    rd_kafka_resp_err_t e = rd_kafka_committed(rk, asked, (int)s->timeout_ms);
    int rc = 0, shown = 0;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        rc = sp_error_set(err, 503, "kafka_unavailable", "", "committed offsets of %s: %s", group,
                          rd_kafka_err2str(e));
    for (int i = 0; rc == 0 && i < asked->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &asked->elems[i];
        if (tp->err != RD_KAFKA_RESP_ERR_NO_ERROR || tp->offset < 0) continue;
        rc = print_lag(out, group, "kafka", tp->topic, tp->partition, tp->offset, lp->high[i], err);
        shown++;
    }
    if (rc == 0 && shown == 0)
        rc = print_json(out, json_pack("{sssssn}", "group", group, "store", "kafka", "committed"),
                        err);
    rd_kafka_topic_partition_list_destroy(asked);
    rd_kafka_destroy(rk);
    return rc;
}

static int64_t high_of(const lag_partitions *lp, const char *topic, int32_t partition) {
    for (int i = 0; i < lp->list->cnt; i++)
        if (lp->list->elems[i].partition == partition &&
            strcmp(lp->list->elems[i].topic, topic) == 0)
            return lp->high[i];
    return 0;
}

static int lag_of_projection(const sp_log_ops_settings *s, const lag_partitions *lp, FILE *out,
                             sp_log *log, sp_error *err) {
    PGconn *conn = sp_pg_connect(s->pg_dsn, OPS_PG_CONNECT_WAIT_MS, log, err);
    if (conn == NULL) return -1;
    PGresult *res = NULL;
    int rc = sp_pg_exec(conn,
                        "SELECT consumer, topic, partition, next_offset FROM "
                        "projection_offsets ORDER BY consumer, topic, partition",
                        0, NULL, &res, err);
    for (int row = 0; rc == 0 && row < PQntuples(res); row++) {
        const char *topic = PQgetvalue(res, row, 1);
        int32_t partition = (int32_t)strtol(PQgetvalue(res, row, 2), NULL, 10);
        rc = print_lag(out, PQgetvalue(res, row, 0), "postgresql", topic, partition,
                       strtoll(PQgetvalue(res, row, 3), NULL, 10), high_of(lp, topic, partition),
                       err);
    }
    PQclear(res);
    PQfinish(conn);
    return rc;
}

/* The broker's groups, or the solipass ones when it cannot list them. */
static size_t group_names(rd_kafka_t *rk, const sp_log_ops_settings *s,
                          const struct rd_kafka_group_list **list, const char **names,
                          size_t names_max, sp_log *log) {
    size_t count = 0;
    rd_kafka_resp_err_t e = rd_kafka_list_groups(rk, NULL, list, (int)s->timeout_ms);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < (*list)->group_cnt && count < names_max; i++)
            names[count++] = (*list)->groups[i].group;
    } else {
        *list = NULL;
        sp_log_warn(log, "the broker does not list its groups: showing the solipass groups",
                    "error", rd_kafka_err2str(e), NULL);
    }
    for (size_t k = 0; k < sizeof ops_known_groups / sizeof ops_known_groups[0]; k++) {
        bool listed = false;
        for (size_t i = 0; i < count; i++) listed |= strcmp(names[i], ops_known_groups[k]) == 0;
        if (!listed && count < names_max) names[count++] = ops_known_groups[k];
    }
    return count;
}

int sp_log_lag(const sp_log_ops_settings *settings, const char *const *groups, size_t group_count,
               FILE *out, sp_log *log, sp_error *err) {
    assert(settings != NULL && out != NULL && (groups != NULL || group_count == 0));
    lag_partitions lp = {0};
    const struct rd_kafka_group_list *list = NULL;
    const char *names[SP_LOG_GROUPS_MAX];
    int rc = -1;
    rd_kafka_t *rk = lag_handle(settings->brokers, "solipass-log", err);
    if (rk == NULL || lag_partitions_load(rk, settings, &lp, err) != 0) goto done;
    size_t count = group_names(rk, settings, &list, names, SP_LOG_GROUPS_MAX, log);
    for (size_t i = 0; i < group_count && count < SP_LOG_GROUPS_MAX; i++)
        names[count++] = groups[i];
    rc = 0;
    for (size_t i = 0; rc == 0 && i < count; i++)
        rc = lag_of_group(settings, names[i], &lp, out, err);
    if (rc == 0 && settings->pg_dsn[0] != '\0')
        rc = lag_of_projection(settings, &lp, out, log, err);
    if (rc == 0 && fflush(out) != 0) rc = sp_error_set(err, 500, "io_error", "", "stdout");
done:
    if (list != NULL) rd_kafka_group_list_destroy(list);
    if (lp.list != NULL) rd_kafka_topic_partition_list_destroy(lp.list);
    free(lp.high);
    if (rk != NULL) rd_kafka_destroy(rk);
    return rc;
}
