/* solipass-log - reads a solipass topic as JSON lines, for operators.
 *
 *   solipass-log tail TOPIC [--from-beginning] [--follow] [--type T]
 *                           [--aggregate A] [--max N]
 *   solipass-log deadletters [--follow] [--max N]
 *   solipass-log requeue OFFSET [--partition P]
 *   solipass-log lag [--group G]...
 *
 * tail decodes each message's envelope and its payload (by the envelope's
 * type, through log_json.h) into one JSON object per line on stdout. Without
 * --from-beginning it starts at the last N messages of each partition. It
 * stops at the high watermarks seen at start, unless --follow (then it runs
 * until SIGINT/SIGTERM); it never prints more than --max lines (default 1000).
 * deadletters lists solipass.deadletter.v1 from its beginning: reason,
 * service, the original topic, partition and offset, and the original type
 * when the original message decodes as an envelope. requeue and lag are in
 * log_ops.c.
 *
 * Exit status: 0 done, 2 bad usage or a broker error. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "envelope.pb-c.h"
#include "log_json.h"
#include "log_ops.h"
#include "sp_config.h"
#include "sp_envelope.h"
#include "sp_error.h"
#include "sp_kafka.h"
#include "sp_kafka_security.h"
#include "sp_log.h"

#define LOG_PARTITIONS_MAX 256
#define LOG_MAX_DEFAULT 1000
#define LOG_MAX_LIMIT 10000000
#define LOG_POLL_MS 500

static volatile sig_atomic_t stop_requested = 0;

static void on_stop_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

typedef enum { LOG_TAIL, LOG_DEADLETTERS, LOG_REQUEUE, LOG_LAG } log_command;

typedef struct log_options {
    log_command command;
    bool deadletters;
    int64_t requeue_offset;
    int64_t requeue_partition;
    const char *groups[SP_LOG_GROUPS_MAX];
    size_t group_count;
    const char *topic;
    bool from_beginning;
    bool follow;
    const char *type;      /* NULL = every type */
    const char *aggregate; /* NULL = every aggregate */
    int64_t max;
    bool help;
} log_options;

typedef struct log_settings {
    const char *brokers;
    const char *pg_dsn;
    const char *log_level;
    int64_t timeout_ms;
} log_settings;

static const char log_usage[] =
    "usage: solipass-log tail TOPIC [--from-beginning] [--follow] [--type T] [--aggregate A]"
    " [--max N]\n"
    "       solipass-log deadletters [--follow] [--max N]\n"
    "       solipass-log requeue OFFSET [--partition P]\n"
    "       solipass-log lag [--group G]...\n";

static int parse_integer(const char *text, int64_t min, int64_t max, int64_t *out) {
    char *end = NULL;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < min || value > max) return -1;
    *out = value;
    return 0;
}

static int parse_max(const char *text, int64_t *out) {
    return parse_integer(text, 1, LOG_MAX_LIMIT, out);
}

/* requeue OFFSET [--partition P] | lag [--group G]... */
static int parse_ops(int argc, char **argv, log_options *opts) {
    int i = 2;
    if (opts->command == LOG_REQUEUE) {
        if (argc < 3 || parse_integer(argv[2], 0, INT64_MAX, &opts->requeue_offset) != 0) {
            fprintf(stderr,
                    "solipass-log: requeue: OFFSET is the dead letter's offset, an "
                    "integer >= 0\n%s",
                    log_usage);
            return -1;
        }
        i = 3;
    }
    for (; i < argc; i++) {
        bool has_value = i + 1 < argc;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            opts->help = true;
        } else if (opts->command == LOG_REQUEUE && strcmp(argv[i], "--partition") == 0 &&
                   has_value &&
                   parse_integer(argv[i + 1], 0, LOG_PARTITIONS_MAX - 1,
                                 &opts->requeue_partition) == 0) {
            i++;
        } else if (opts->command == LOG_LAG && strcmp(argv[i], "--group") == 0 && has_value &&
                   opts->group_count < SP_LOG_GROUPS_MAX / 2) {
            opts->groups[opts->group_count++] = argv[++i];
        } else {
            fprintf(stderr, "solipass-log: unexpected argument \"%s\"\n%s", argv[i], log_usage);
            return -1;
        }
    }
    return 0;
}

/* -1 with a message on stderr when argv is not a valid command line. */
static int parse_options(int argc, char **argv, log_options *opts) {
    *opts = (log_options){.max = LOG_MAX_DEFAULT};
    int i = 1;
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        opts->help = true;
        return 0;
    }
    if (argc >= 2 && (strcmp(argv[1], "requeue") == 0 || strcmp(argv[1], "lag") == 0)) {
        opts->command = strcmp(argv[1], "lag") == 0 ? LOG_LAG : LOG_REQUEUE;
        return parse_ops(argc, argv, opts);
    }
    if (argc >= 3 && strcmp(argv[1], "tail") == 0) {
        opts->topic = argv[2];
        i = 3;
    } else if (argc >= 2 && strcmp(argv[1], "deadletters") == 0) {
        opts->command = LOG_DEADLETTERS;
        opts->deadletters = true;
        opts->topic = SP_TOPIC_DEADLETTER;
        opts->from_beginning = true;
        i = 2;
    } else {
        fputs(log_usage, stderr);
        return -1;
    }
    for (; i < argc; i++) {
        const char *arg = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) opts->help = true;
        else if (strcmp(arg, "--from-beginning") == 0) opts->from_beginning = true;
        else if (strcmp(arg, "--follow") == 0) opts->follow = true;
        else if (strcmp(arg, "--type") == 0 && has_value && !opts->deadletters)
            opts->type = argv[++i];
        else if (strcmp(arg, "--aggregate") == 0 && has_value && !opts->deadletters)
            opts->aggregate = argv[++i];
        else if (strcmp(arg, "--max") == 0 && has_value) {
            if (parse_max(argv[++i], &opts->max) != 0) {
                fprintf(stderr, "solipass-log: --max: an integer from 1 to %d\n", LOG_MAX_LIMIT);
                return -1;
            }
        } else {
            fprintf(stderr, "solipass-log: unexpected argument \"%s\"\n%s", arg, log_usage);
            return -1;
        }
    }
    return 0;
}

/* Where to start and stop in each partition. */
typedef struct log_plan {
    sp_kafka_tp tps[LOG_PARTITIONS_MAX];
    int64_t high[LOG_PARTITIONS_MAX]; /* high watermark seen at start */
    bool done[LOG_PARTITIONS_MAX];
    size_t count;
} log_plan;

static int plan_reads(const log_settings *settings, const log_options *opts, log_plan *plan,
                      sp_log *log, sp_error *err) {
    int partition_count = sp_kafka_partition_count(settings->brokers, opts->topic,
                                                   (int)settings->timeout_ms, err);
    if (partition_count <= 0) return -1;
    if (partition_count > LOG_PARTITIONS_MAX)
        return sp_error_set(err, 400, "too_many_partitions", "",
                            "%s has %d partitions, at most"
                            " %d are read",
                            opts->topic, partition_count, LOG_PARTITIONS_MAX);
    sp_kafka_consumer *probe = sp_kafka_consumer_new_assigned(settings->brokers, "solipass-log",
                                                              NULL, 0, log, err);
    if (probe == NULL) return -1;
    int rc = 0;
    plan->count = (size_t)partition_count;
    for (int32_t p = 0; p < partition_count && rc == 0; p++) {
        int64_t low = 0, high = 0;
        rc = sp_kafka_watermarks(probe, opts->topic, p, &low, &high, (int)settings->timeout_ms,
                                 err);
        int64_t start = opts->from_beginning || high - low <= opts->max ? low : high - opts->max;
        plan->tps[p] = (sp_kafka_tp){.topic = opts->topic, .partition = p, .offset = start};
        plan->high[p] = high;
        plan->done[p] = !opts->follow && start >= high;
    }
    sp_kafka_consumer_free(probe);
    return rc;
}

static int set_text(json_t *object, const char *name, const void *text, size_t len) {
    json_t *value = sp_log_json_text(text ? text : "", text ? len : 0);
    return value ? json_object_set_new(object, name, value) : -1;
}

static json_t *position_of(const sp_kafka_msg *msg) {
    json_t *line = json_pack("{sssisIsI}", "topic", msg->topic, "partition", (int)msg->partition,
                             "offset", (json_int_t)msg->offset, "timestamp_ms",
                             (json_int_t)msg->timestamp_ms);
    if (line != NULL && set_text(line, "key", msg->key, msg->key_len) != 0) {
        json_decref(line);
        return NULL;
    }
    return line;
}

/* The envelope's fields, its payload decoded when its type is known. */
static json_t *envelope_json(const Solipass__Envelope *envelope) {
    json_t *object = sp_log_json_message(&envelope->base);
    if (object == NULL) return NULL;
    const ProtobufCMessageDescriptor *descriptor = sp_log_json_descriptor_of(envelope->type);
    ProtobufCMessage *payload = descriptor == NULL
                                    ? NULL
                                    : protobuf_c_message_unpack(descriptor, NULL,
                                                                envelope->payload.len,
                                                                envelope->payload.data);
    if (payload != NULL) {
        json_t *decoded = sp_log_json_message(payload);
        protobuf_c_message_free_unpacked(payload, NULL);
        if (decoded == NULL || json_object_set_new(object, "payload", decoded) != 0) {
            json_decref(object);
            return NULL;
        }
    } else {
        /* The hex payload stays, with the reason it is not decoded. */
        json_object_set_new(object, "payload_error",
                            json_string(descriptor == NULL ? "unknown type"
                                                           : "payload does not decode"));
    }
    return object;
}

static bool envelope_matches(const Solipass__Envelope *envelope, const log_options *opts) {
    return (opts->type == NULL || strcmp(envelope->type, opts->type) == 0) &&
           (opts->aggregate == NULL || strcmp(envelope->aggregate_id, opts->aggregate) == 0);
}

/* NULL when filtered out (*failed false) or out of memory (*failed true). */
static json_t *tail_line(const sp_kafka_msg *msg, const log_options *opts, bool *failed) {
    *failed = false;
    sp_error err;
    Solipass__Envelope *envelope = sp_envelope_unpack(msg->value, msg->value_len, &err);
    if (envelope == NULL && (opts->type != NULL || opts->aggregate != NULL)) return NULL;
    if (envelope != NULL && !envelope_matches(envelope, opts)) {
        solipass__envelope__free_unpacked(envelope, NULL);
        return NULL;
    }
    json_t *line = position_of(msg);
    json_t *body = NULL;
    if (envelope != NULL) body = envelope_json(envelope);
    else
        body = json_pack("{sso}", "error", err.message, "value_hex",
                         sp_log_json_hex(msg->value, msg->value_len));
    if (line == NULL || body == NULL) {
        json_decref(body);
        json_decref(line);
        line = NULL;
        *failed = true;
    } else if (json_object_set_new(line, envelope ? "envelope" : "undecodable", body) != 0) {
        json_decref(line); /* set_new already released body */
        line = NULL;
        *failed = true;
    }
    if (envelope != NULL) solipass__envelope__free_unpacked(envelope, NULL);
    return line;
}

/* What the dead letter says of the message it wraps. */
static int describe_dead_letter(json_t *line, const Solipass__DeadLetter *dead) {
    int rc = set_text(line, "reason", dead->reason, strlen(dead->reason));
    rc |= set_text(line, "service", dead->service, strlen(dead->service));
    rc |= set_text(line, "source_topic", dead->source_topic, strlen(dead->source_topic));
    rc |= json_object_set_new(line, "source_partition", json_integer(dead->source_partition));
    rc |= json_object_set_new(line, "source_offset", json_integer(dead->source_offset));
    rc |= set_text(line, "original_key", dead->original_key.data, dead->original_key.len);
    sp_error err;
    Solipass__Envelope *original = sp_envelope_unpack(dead->original_value.data,
                                                      dead->original_value.len, &err);
    if (original != NULL) {
        rc |= set_text(line, "original_type", original->type, strlen(original->type));
        rc |= set_text(line, "original_aggregate_id", original->aggregate_id,
                       strlen(original->aggregate_id));
        solipass__envelope__free_unpacked(original, NULL);
    } else {
        rc |= json_object_set_new(line, "original_type", json_null());
        rc |= json_object_set_new(line, "original_value_hex",
                                  sp_log_json_hex(dead->original_value.data,
                                                  dead->original_value.len));
    }
    return rc == 0 ? 0 : -1;
}

/* NULL only when out of memory; a message that is not a dead letter is
 * shown with the reason. */
static json_t *dead_letter_line(const sp_kafka_msg *msg) {
    json_t *line = json_pack("{sisI}", "partition", (int)msg->partition, "offset",
                             (json_int_t)msg->offset);
    if (line == NULL) return NULL;
    sp_error err;
    Solipass__Envelope *envelope = sp_envelope_unpack(msg->value, msg->value_len, &err);
    Solipass__DeadLetter *dead = envelope == NULL
                                     ? NULL
                                     : solipass__dead_letter__unpack(NULL, envelope->payload.len,
                                                                     envelope->payload.data);
    int rc = 0;
    /* Requeue markers (log_ops.h) carry a DeadLetter too: the type tells them apart. */
    if (envelope != NULL) rc = set_text(line, "type", envelope->type, strlen(envelope->type));
    if (dead != NULL && rc == 0) rc = describe_dead_letter(line, dead);
    else if (rc == 0)
        rc = json_object_set_new(line, "error",
                                 json_string(envelope == NULL ? err.message
                                                              : "the payload is not a DeadLetter"));
    if (dead != NULL) solipass__dead_letter__free_unpacked(dead, NULL);
    if (envelope != NULL) solipass__envelope__free_unpacked(envelope, NULL);
    if (rc != 0) {
        json_decref(line);
        return NULL;
    }
    return line;
}

static bool all_done(const log_plan *plan) {
    for (size_t p = 0; p < plan->count; p++)
        if (!plan->done[p]) return false;
    return true;
}

/* Prints one message when it passes the filters; 1 printed, 0 not, -1 error. */
static int print_message(const sp_kafka_msg *msg, const log_options *opts, sp_error *err) {
    bool failed = false;
    json_t *line = opts->deadletters ? dead_letter_line(msg) : tail_line(msg, opts, &failed);
    if (line == NULL)
        return opts->deadletters || failed ? sp_error_set(err, 500, "out_of_memory", "",
                                                          "formatting offset %" PRId64, msg->offset)
                                           : 0;
    int rc = json_dumpf(line, stdout, JSON_COMPACT | JSON_ENSURE_ASCII) == 0 &&
                     fputc('\n', stdout) != EOF
                 ? 1
                 : sp_error_set(err, 500, "io_error", "", "stdout: %s", strerror(errno));
    json_decref(line);
    return rc;
}

/* Reads until every partition reached its high watermark (or forever with
 * --follow), at most opts->max lines, giving up after idle_polls_max empty
 * polls when not following. */
static int read_plan(sp_kafka_consumer *consumer, log_plan *plan, const log_options *opts,
                     int64_t idle_polls_max, sp_error *err) {
    sp_kafka_msg msgs[SP_KAFKA_BATCH_MAX]; /* 32 KiB, pointing into librdkafka memory */
    int64_t printed = 0, idle_polls = 0;
    while (!stop_requested && printed < opts->max && (opts->follow || !all_done(plan))) {
        int n = sp_kafka_consumer_poll_batch(consumer, msgs, SP_KAFKA_BATCH_MAX, LOG_POLL_MS, err);
        if (n < 0) return -1;
        if (n == 0 && !opts->follow && ++idle_polls > idle_polls_max)
            return sp_error_set(err, 504, "timeout", "",
                                "%s: the high watermark was not"
                                " reached in time",
                                opts->topic);
        for (int i = 0; i < n && printed < opts->max; i++) {
            const sp_kafka_msg *msg = &msgs[i];
            size_t p = (size_t)msg->partition;
            if (p >= plan->count || (!opts->follow && msg->offset >= plan->high[p])) continue;
            int shown = print_message(msg, opts, err);
            if (shown < 0) return -1;
            printed += shown;
            if (msg->offset + 1 >= plan->high[p]) plan->done[p] = true;
        }
        if (n > 0) idle_polls = 0;
    }
    fflush(stdout);
    return 0;
}

static int log_run(const log_settings *settings, const log_options *opts, sp_log *log) {
    sp_error err;
    sp_error_clear(&err);
    log_plan *plan = calloc(1, sizeof *plan);
    sp_kafka_consumer *consumer = NULL;
    int rc = -1;
    if (plan == NULL) {
        sp_error_set(&err, 500, "out_of_memory", "", "plan");
        goto done;
    }
    if (plan_reads(settings, opts, plan, log, &err) != 0) goto done;
    if (!opts->follow && all_done(plan)) {
        rc = 0;
        goto done;
    }
    consumer = sp_kafka_consumer_new_assigned(settings->brokers, "solipass-log", plan->tps,
                                              plan->count, log, &err);
    if (consumer == NULL) goto done;
    rc = read_plan(consumer, plan, opts, settings->timeout_ms / LOG_POLL_MS + 1, &err);
done:
    if (rc != 0) sp_log_error(log, "log not read", "code", err.code, "error", err.message, NULL);
    sp_kafka_consumer_free(consumer);
    free(plan);
    return rc == 0 ? 0 : 2;
}

/* requeue and lag: 0 done, 2 refused or failed (the reason on stderr). */
static int log_ops_run(const log_settings *settings, const log_options *opts, sp_log *log) {
    sp_log_ops_settings ops = {.brokers = settings->brokers,
                               .pg_dsn = settings->pg_dsn,
                               .timeout_ms = settings->timeout_ms};
    sp_error err;
    sp_error_clear(&err);
    int rc = opts->command == LOG_REQUEUE
                 ? sp_log_requeue(&ops, (int32_t)opts->requeue_partition, opts->requeue_offset,
                                  stdout, log, &err)
                 : sp_log_lag(&ops, opts->groups, opts->group_count, stdout, log, &err);
    if (rc != 0) {
        sp_log_error(log, opts->command == LOG_REQUEUE ? "not requeued" : "lag not shown", "code",
                     err.code, "error", err.message, NULL);
        return 2;
    }
    return 0;
}

static const char log_summary[] =
    "Reads a solipass topic as JSON lines (envelope and payload decoded):\n"
    "  solipass-log tail TOPIC [--from-beginning] [--follow] [--type T] [--aggregate A] [--max N]\n"
    "  solipass-log deadletters [--follow] [--max N]\n"
    "  solipass-log requeue OFFSET [--partition P]   (a dead letter back to its topic, once)\n"
    "  solipass-log lag [--group G]...   (committed offsets vs high watermarks)\n"
    "Stops at the high watermarks seen at start unless --follow; --max defaults to 1000.";

int main(int argc, char **argv) {
    log_options opts;
    if (parse_options(argc, argv, &opts) != 0) return 2;
    log_settings settings = {0};
    sp_kafka_security kafka_security = {0};
    const sp_config_item items[] = {
        {"SP_KAFKA_BROKERS", SP_CONFIG_STRING, NULL, 0, 0, "Kafka bootstrap servers",
         &settings.brokers},
        SP_KAFKA_SECURITY_CONFIG_ITEMS(&kafka_security),
        {"SP_LOG_LEVEL", SP_CONFIG_STRING, "warn", 0, 0, "debug | info | warn | error",
         &settings.log_level},
        {"SP_LOG_TIMEOUT_MS", SP_CONFIG_INT, "30000", 1000, 3600000,
         "without --follow: give up when no message came for this long", &settings.timeout_ms},
        {"SP_PG_DSN", SP_CONFIG_STRING, "", 0, 0,
         "lag: the read models' database, to show the projection's offsets (\"\": none)",
         &settings.pg_dsn},
    };
    char help_flag[] = "--help";
    char *config_argv[] = {argv[0], opts.help ? help_flag : NULL, NULL};
    sp_error err;
    sp_config_result loaded = sp_config_load(items, sizeof items / sizeof items[0],
                                             opts.help ? 2 : 1, config_argv, "solipass-log",
                                             log_summary, &err);
    if (loaded == SP_CONFIG_HELP_SHOWN) return 0;
    if (loaded == SP_CONFIG_FAILED) {
        fprintf(stderr, "solipass-log: %s\n", err.message);
        return 2;
    }
    if (sp_kafka_security_check(&kafka_security, &err) != 0 ||
        sp_kafka_security_files_check(&kafka_security, &err) != 0) {
        fprintf(stderr, "solipass-log: %s\n", err.message);
        return 2;
    }
    sp_kafka_security_install(&kafka_security);
    int level = sp_log_level_parse(settings.log_level);
    if (level < 0) {
        fprintf(stderr, "solipass-log: SP_LOG_LEVEL: unknown level \"%s\"\n", settings.log_level);
        return 2;
    }
    signal(SIGINT, on_stop_signal);
    signal(SIGTERM, on_stop_signal);
    sp_log log;
    sp_log_init(&log, "log", (sp_log_level)level, stderr);
    int status = opts.command == LOG_REQUEUE || opts.command == LOG_LAG
                     ? log_ops_run(&settings, &opts, &log)
                     : log_run(&settings, &opts, &log);
    sp_log_destroy(&log);
    return status;
}
