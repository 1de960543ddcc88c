/* sp_envelope.c - the one envelope every solipass message travels in: packing
 * it with a fresh id, unpacking and validating what a consumer reads (an
 * envelope is external input), and wrapping what cannot be processed into a
 * dead letter. */
#include "sp_envelope.h"

#include <assert.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "reply.pb-c.h"
#include "sp_id.h"
#include "sp_metrics.h"

#define SP_DEADLETTER_TYPE "DeadLetter.v1"
/* Room left in a dead letter's envelope for everything but the original
 * value, so that a dead letter is never itself too large to send. */
#define SP_DEADLETTER_OVERHEAD_MAX (8 * 1024)
#define SP_DEADLETTER_KEY_MAX 1024
#define SP_DEADLETTER_REASON_MAX 1024

typedef struct field_rule {
    const char *name;
    const char *value;
    size_t len_max;
    bool required;
} field_rule;

/* A type name is dotted words: letters, digits, '.', '_' only. */
static bool type_chars_valid(const char *s) {
    assert(s != NULL);
    for (const char *p = s; *p != '\0'; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_';
        if (!ok) return false;
    }
    return true;
}

/* Identifiers end up in logs and keys: no control characters. */
static bool printable(const char *s) {
    assert(s != NULL);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        if (*p < 0x20 || *p == 0x7f) return false;
    return true;
}

static int check_field(const field_rule *rule, int status, sp_error *err) {
    assert(rule != NULL);
    assert(rule->name != NULL);
    const char *v = rule->value ? rule->value : "";
    size_t len = strnlen(v, rule->len_max + 1);
    if (rule->required && len == 0)
        return sp_error_set(err, status, "invalid_envelope", rule->name, "%s is missing",
                            rule->name);
    if (len > rule->len_max)
        return sp_error_set(err, status, "invalid_envelope", rule->name,
                            "%s is longer than %zu characters", rule->name, rule->len_max);
    if (!printable(v))
        return sp_error_set(err, status, "invalid_envelope", rule->name,
                            "%s holds control characters", rule->name);
    return 0;
}

/* The checks shared by pack (status 500: our own bug) and unpack (400). */
static int check_meta(const char *type, const char *aggregate_id, const char *command_id,
                      const char *causation_id, const char *reply_to, const char *actor_id,
                      const char *actor_role, int status, sp_error *err) {
    assert(status >= 400);
    const field_rule rules[] = {
        {"actor_role", actor_role, SP_ENVELOPE_ROLE_MAX, false},
        {"type", type, SP_ENVELOPE_TYPE_MAX, true},
        {"aggregate_id", aggregate_id, SP_ENVELOPE_AGGREGATE_ID_MAX, true},
        {"command_id", command_id, SP_ENVELOPE_COMMAND_ID_MAX, false},
        {"causation_id", causation_id, SP_ENVELOPE_REF_MAX, false},
        {"reply_to", reply_to, SP_ENVELOPE_REF_MAX, false},
        {"actor_id", actor_id, SP_ENVELOPE_REF_MAX, false},
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (check_field(&rules[i], status, err) != 0) return -1;
    if (!type_chars_valid(type))
        return sp_error_set(err, status, "invalid_envelope", "type",
                            "type may hold only letters, digits, '.' and '_'");
    return 0;
}

static char *or_empty(const char *s) {
    /* protobuf-c's string fields are not const, but packing only reads them. */
    return (char *)(s ? s : "");
}

int sp_envelope_pack(const sp_envelope_meta *meta, const ProtobufCMessage *payload, uint8_t **out,
                     size_t *out_len, char *id_out, sp_error *err) {
    assert(meta != NULL);
    assert(out != NULL);
    assert(out_len != NULL);
    *out = NULL;
    *out_len = 0;
    if (check_meta(meta->type, meta->aggregate_id, meta->command_id, meta->causation_id,
                   meta->reply_to, meta->actor_id, meta->actor_role, 500, err) != 0)
        return -1;
    size_t payload_len = payload ? protobuf_c_message_get_packed_size(payload) : 0;
    if (payload_len > SP_ENVELOPE_BYTES_MAX)
        return sp_error_set(err, 500, "envelope_too_large", NULL,
                            "%s payload of %zu bytes exceeds %d", meta->type, payload_len,
                            SP_ENVELOPE_BYTES_MAX);
    uint8_t *payload_buf = malloc(payload_len > 0 ? payload_len : 1);
    if (payload_buf == NULL) return sp_error_set(err, 500, "out_of_memory", NULL, "envelope");
    if (payload != NULL) protobuf_c_message_pack(payload, payload_buf);
    char id[SP_ID_LEN + 1];
    sp_id_new(id);
    Solipass__Envelope env = SOLIPASS__ENVELOPE__INIT;
    env.id = id;
    env.type = or_empty(meta->type);
    env.aggregate_id = or_empty(meta->aggregate_id);
    env.aggregate_version = meta->aggregate_version;
    env.occurred_at_ms = meta->occurred_at_ms;
    env.command_id = or_empty(meta->command_id);
    env.causation_id = or_empty(meta->causation_id);
    env.reply_to = or_empty(meta->reply_to);
    env.actor_id = or_empty(meta->actor_id);
    env.actor_role = or_empty(meta->actor_role);
    env.payload.data = payload_buf;
    env.payload.len = payload_len;
    int rc = 0;
    size_t len = solipass__envelope__get_packed_size(&env);
    uint8_t *buf = NULL;
    if (len > SP_ENVELOPE_BYTES_MAX) {
        rc = sp_error_set(err, 500, "envelope_too_large", NULL,
                          "%s envelope of %zu bytes exceeds %d", meta->type, len,
                          SP_ENVELOPE_BYTES_MAX);
    } else if ((buf = malloc(len > 0 ? len : 1)) == NULL) {
        rc = sp_error_set(err, 500, "out_of_memory", NULL, "envelope");
    } else {
        size_t written = solipass__envelope__pack(&env, buf);
        assert(written == len);
        *out = buf;
        *out_len = written;
        if (id_out != NULL) memcpy(id_out, id, sizeof id);
    }
    free(payload_buf);
    return rc;
}

Solipass__Envelope *sp_envelope_unpack(const void *buf, size_t len, sp_error *err) {
    if (buf == NULL || len == 0) {
        sp_error_set(err, 400, "invalid_envelope", NULL, "empty message");
        return NULL;
    }
    if (len > SP_ENVELOPE_BYTES_MAX) {
        sp_error_set(err, 400, "invalid_envelope", NULL, "message of %zu bytes exceeds %d", len,
                     SP_ENVELOPE_BYTES_MAX);
        return NULL;
    }
    Solipass__Envelope *env = solipass__envelope__unpack(NULL, len, buf);
    if (env == NULL) {
        sp_error_set(err, 400, "invalid_envelope", NULL, "not a protobuf Envelope");
        return NULL;
    }
    if (env->id == NULL || !sp_id_valid(env->id)) {
        sp_error_set(err, 400, "invalid_envelope", "id", "id is not a UUID");
        goto invalid;
    }
    if (check_meta(env->type, env->aggregate_id, env->command_id, env->causation_id, env->reply_to,
                   env->actor_id, env->actor_role, 400, err) != 0)
        goto invalid;
    assert(env->type[0] != '\0');
    assert(env->aggregate_id[0] != '\0');
    return env;
invalid:
    solipass__envelope__free_unpacked(env, NULL);
    return NULL;
}

/* Every command's outcome leaves its service as a Reply: counted here, by
 * code ("ok" when it succeeded), for every service at once. */
static void count_outcome(sp_kafka_producer *producer, const ProtobufCMessage *payload) {
    assert(producer != NULL);
    sp_metrics *metrics = sp_kafka_producer_metrics(producer);
    if (metrics == NULL || payload == NULL || payload->descriptor != &solipass__reply__descriptor)
        return;
    const Solipass__Reply *reply = (const Solipass__Reply *)payload;
    bool has_code = reply->code != NULL && reply->code[0] != '\0';
    const char *code[] = {reply->ok ? "ok" : has_code ? reply->code : "unknown"};
    static const char *const label_names[] = {"code"};
    sp_metric *outcomes = sp_metrics_counter(
        metrics, "solipass_command_outcomes_total",
        "Commands answered, by outcome code (\"ok\" or the error code); a replayed outcome "
        "counts again.",
        label_names, 1);
    sp_metric_add(outcomes, code, 1);
}

int sp_envelope_produce(sp_kafka_producer *producer, const char *topic, int32_t partition,
                        const sp_envelope_meta *meta, const ProtobufCMessage *payload,
                        sp_kafka_delivery *delivery, char *id_out, sp_error *err) {
    assert(producer != NULL);
    assert(topic != NULL);
    assert(meta != NULL);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (sp_envelope_pack(meta, payload, &buf, &len, id_out, err) != 0) return -1;
    int rc = sp_kafka_produce(producer, topic, partition, meta->aggregate_id, buf, len, delivery,
                              err);
    free(buf);
    if (rc == 0) count_outcome(producer, payload);
    return rc;
}

int sp_deadletter_send(sp_kafka_producer *producer, const sp_kafka_msg *msg, const char *service,
                       const char *reason, int64_t now_ms, sp_error *err) {
    assert(producer != NULL);
    assert(msg != NULL);
    assert(msg->topic != NULL);
    const size_t value_max = SP_ENVELOPE_BYTES_MAX - SP_DEADLETTER_OVERHEAD_MAX;
    char why[SP_DEADLETTER_REASON_MAX];
    if (msg->value_len > value_max)
        snprintf(why, sizeof why, "%s (original value truncated from %zu bytes)",
                 reason ? reason : "", msg->value_len);
    else snprintf(why, sizeof why, "%s", reason ? reason : "");
    Solipass__DeadLetter dl = SOLIPASS__DEAD_LETTER__INIT;
    dl.source_topic = or_empty(msg->topic);
    dl.source_partition = msg->partition;
    dl.source_offset = msg->offset;
    dl.service = or_empty(service);
    dl.reason = why;
    dl.original_key.data = (uint8_t *)msg->key;
    dl.original_key.len = msg->key_len < SP_DEADLETTER_KEY_MAX ? msg->key_len
                                                               : SP_DEADLETTER_KEY_MAX;
    dl.original_value.data = (uint8_t *)msg->value;
    dl.original_value.len = msg->value_len < value_max ? msg->value_len : value_max;
    sp_envelope_meta meta = {.type = SP_DEADLETTER_TYPE,
                             .aggregate_id = msg->topic,
                             .occurred_at_ms = now_ms};
    return sp_envelope_produce(producer, SP_TOPIC_DEADLETTER, RD_KAFKA_PARTITION_UA, &meta,
                               &dl.base, NULL, NULL, err);
}
