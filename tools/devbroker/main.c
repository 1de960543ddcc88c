/* solipass-devbroker - a Kafka-protocol broker on a loopback port for
 * development and tests: librdkafka's in-memory mock cluster (one broker)
 * with every solipass topic created at its documented partition count.
 * It keeps at most 5 MiB (or 100000 message batches) per partition and
 * drops older data: readers see a low watermark above zero. The mock
 * cluster has no setting for that bound, so a larger log (the replay
 * benchmark) takes more ledger partitions: SP_DEVBROKER_LEDGER_PARTITIONS
 * (both ledger topics, which must have the same count).
 *
 * Prints `bootstrap.servers=HOST:PORT` on stdout once the topics exist,
 * writes HOST:PORT to SP_DEVBROKER_ADDRESS_FILE when set, and runs until
 * SIGINT or SIGTERM.
 *
 * Every second it asks its own cluster for metadata over a real connection
 * and logs a warning when the answer takes longer than a second ("broker
 * slow to answer") or when its own loop was not run for that long ("not
 * scheduled"): when every client of a test run times out at once, the log
 * says whether the broker stalled or the whole machine did. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "sp_clock.h"
#include "sp_config.h"
#include "sp_error.h"
#include "sp_kafka.h"
#include "sp_log.h"
#include "sp_signal.h"

#define DEVBROKER_POLL_MS 200
#define DEVBROKER_PROBE_INTERVAL_MS 1000
#define DEVBROKER_PROBE_TIMEOUT_MS 10000
/* A round trip or a loop gap above this is logged: a healthy loopback broker
 * answers metadata in well under a millisecond. */
#define DEVBROKER_STALL_MS_MIN 1000
#define DEVBROKER_PATH_MAX 4096

typedef struct devbroker_topic {
    const char *name;
    int partition_count;
} devbroker_topic;

/* partition_count 0: the ledger topics' count, from the configuration. */
static const devbroker_topic devbroker_topics[] = {
    {SP_TOPIC_ACCOUNTS_COMMANDS, SP_ACCOUNTS_PARTITION_COUNT},
    {SP_TOPIC_ACCOUNTS_EVENTS, SP_ACCOUNTS_PARTITION_COUNT},
    {SP_TOPIC_LEDGER_COMMANDS, 0},
    {SP_TOPIC_LEDGER_EVENTS, 0},
    {SP_TOPIC_REPLIES, SP_REPLIES_PARTITION_COUNT},
    {SP_TOPIC_DEADLETTER, SP_DEADLETTER_PARTITION_COUNT},
    {SP_TOPIC_FINANCE, SP_FINANCE_PARTITION_COUNT},
    {SP_TOPIC_FINANCE_JSON, SP_FINANCE_PARTITION_COUNT},
    {SP_TOPIC_EXPORTS_COMMANDS, SP_EXPORTS_PARTITION_COUNT},
};

static void on_rk_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    sp_log *log = rd_kafka_opaque(rk);
    sp_log_level lvl = level <= 3   ? SP_LOG_ERROR
                       : level == 4 ? SP_LOG_WARN
                       : level <= 6 ? SP_LOG_INFO
                                    : SP_LOG_DEBUG;
    sp_log_write(log, lvl, "librdkafka", "facility", fac, "detail", buf, NULL);
}

/* Written to a temporary file then renamed, so that a reader polling for the
 * file never sees half an address. */
static int write_address_file(const char *path, const char *address, sp_error *err) {
    char tmp[DEVBROKER_PATH_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp)
        return sp_error_set(err, 400, "invalid_config", "SP_DEVBROKER_ADDRESS_FILE",
                            "path too long");
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return sp_error_set(err, 500, "io_error", "SP_DEVBROKER_ADDRESS_FILE", "%s: %s", tmp,
                            strerror(errno));
    int failed = fputs(address, f) == EOF;
    failed |= fclose(f) != 0;
    if (failed || rename(tmp, path) != 0) {
        int saved = errno;
        unlink(tmp);
        return sp_error_set(err, 500, "io_error", "SP_DEVBROKER_ADDRESS_FILE", "%s: %s", path,
                            strerror(saved));
    }
    return 0;
}

/* bootstrap "": the handle that hosts the mock cluster and never connects
 * anywhere (so its "no bootstrap.servers" notice, below warnings, is noise);
 * else the probe's handle, a client of that cluster. */
static rd_kafka_t *handle_new(sp_log *log, const char *client_id, const char *bootstrap,
                              sp_error *err) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[512];
    if (rd_kafka_conf_set(conf, "client.id", client_id, errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK ||
        (bootstrap[0] != '\0' && rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr,
                                                   sizeof errstr) != RD_KAFKA_CONF_OK) ||
        rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof errstr) != RD_KAFKA_CONF_OK ||
        /* The mock brokers' sockets take this handle's settings: without
         * TCP_NODELAY, back-to-back responses wait for the client's delayed
         * ACK (40 ms per flush of a multi-partition batch). */
        rd_kafka_conf_set(conf, "socket.nagle.disable", "true", errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        sp_error_set(err, 500, "kafka_config", NULL, "%s", errstr);
        return NULL;
    }
    rd_kafka_conf_set_opaque(conf, log);
    rd_kafka_conf_set_log_cb(conf, on_rk_log);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        sp_error_set(err, 500, "kafka_config", NULL, "%s", errstr);
    }
    return rk;
}

static int create_topics(rd_kafka_mock_cluster_t *mcluster, int ledger_partitions, sp_error *err) {
    for (size_t i = 0; i < sizeof devbroker_topics / sizeof devbroker_topics[0]; i++) {
        const devbroker_topic *t = &devbroker_topics[i];
        int count = t->partition_count > 0 ? t->partition_count : ledger_partitions;
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mcluster, t->name, count, 1);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            return sp_error_set(err, 500, "kafka_topic_create", NULL, "%s: %s", t->name,
                                rd_kafka_err2str(e));
    }
    return 0;
}

/* One metadata round trip to the cluster, timed; and the time since the
 * previous probe, which is about the interval unless this process (or the
 * machine) was not run. Both are logged only when they are long. */
static void probe(rd_kafka_t *probe_rk, sp_log *log, int64_t *last_probe_ms) {
    int64_t started_ms = sp_clock_monotonic_ms();
    int64_t gap_ms = started_ms - *last_probe_ms;
    if (gap_ms > DEVBROKER_PROBE_INTERVAL_MS + DEVBROKER_STALL_MS_MIN) {
        char gap[32];
        snprintf(gap, sizeof gap, "%lld", (long long)gap_ms);
        sp_log_warn(log, "not scheduled", "since_last_probe_ms", gap, NULL);
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(probe_rk, 0, NULL, &md, DEVBROKER_PROBE_TIMEOUT_MS);
    int64_t round_trip_ms = sp_clock_monotonic_ms() - started_ms;
    if (md != NULL) rd_kafka_metadata_destroy(md);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR || round_trip_ms > DEVBROKER_STALL_MS_MIN) {
        char took[32];
        snprintf(took, sizeof took, "%lld", (long long)round_trip_ms);
        sp_log_warn(log, "broker slow to answer", "round_trip_ms", took, "error",
                    rd_kafka_err2str(e), NULL);
    }
    *last_probe_ms = sp_clock_monotonic_ms();
}

/* Serves until stopped, probing the cluster every DEVBROKER_PROBE_INTERVAL_MS. */
static void serve_until_stopped(rd_kafka_t *rk, rd_kafka_t *probe_rk, sp_log *log,
                                volatile sig_atomic_t *stop) {
    int64_t last_probe_ms = sp_clock_monotonic_ms();
    while (!*stop) {
        rd_kafka_poll(rk, DEVBROKER_POLL_MS);
        if (sp_clock_monotonic_ms() - last_probe_ms >= DEVBROKER_PROBE_INTERVAL_MS)
            probe(probe_rk, log, &last_probe_ms);
    }
}

/* Creates the cluster and its topics, announces the address, then waits. */
static int serve(sp_log *log, const char *address_file, int ledger_partitions,
                 volatile sig_atomic_t *stop, sp_error *err) {
    int rc = -1;
    rd_kafka_mock_cluster_t *mcluster = NULL;
    rd_kafka_t *probe_rk = NULL;
    rd_kafka_t *rk = handle_new(log, "solipass-devbroker", "", err);
    if (rk == NULL) goto done;
    mcluster = rd_kafka_mock_cluster_new(rk, 1);
    if (mcluster == NULL) {
        sp_error_set(err, 500, "kafka_mock", NULL, "could not start the mock cluster");
        goto done;
    }
    if (create_topics(mcluster, ledger_partitions, err) != 0) goto done;
    const char *address = rd_kafka_mock_cluster_bootstraps(mcluster);
    probe_rk = handle_new(log, "solipass-devbroker-probe", address, err);
    if (probe_rk == NULL) goto done;
    if (address_file[0] != '\0' && write_address_file(address_file, address, err) != 0) goto done;
    printf("bootstrap.servers=%s\n", address);
    fflush(stdout);
    sp_log_info(log, "ready", "bootstrap_servers", address, NULL);
    serve_until_stopped(rk, probe_rk, log, stop);
    sp_log_info(log, "stopping", NULL);
    rc = 0;
done:
    if (probe_rk != NULL) rd_kafka_destroy(probe_rk);
    if (mcluster != NULL) rd_kafka_mock_cluster_destroy(mcluster);
    if (rk != NULL) rd_kafka_destroy(rk);
    return rc;
}

int main(int argc, char **argv) {
    const char *address_file = "";
    const char *log_level = "info";
    int64_t ledger_partitions = SP_LEDGER_PARTITION_COUNT;
    const sp_config_item items[] = {
        {"SP_DEVBROKER_ADDRESS_FILE", SP_CONFIG_STRING, "", 0, 0,
         "file that receives HOST:PORT of the broker once its topics exist (\"\": none)",
         &address_file},
        {"SP_LOG_LEVEL", SP_CONFIG_STRING, "info", 0, 0, "debug | info | warn | error", &log_level},
        /* 64: the projection reads at most 64 ledger partitions. */
        {"SP_DEVBROKER_LEDGER_PARTITIONS", SP_CONFIG_INT, "8", 1, 64,
         "partitions of the ledger command and event topics (each keeps at most 5 MiB)",
         &ledger_partitions},
    };
    sp_log log;
    sp_log_init(&log, "devbroker", SP_LOG_INFO, stderr);
    sp_error err;
    sp_error_clear(&err);
    int rc = 2;
    sp_config_result cr = sp_config_load(
        items, sizeof items / sizeof items[0], argc, argv, "solipass-devbroker",
        "A Kafka-protocol broker for development and tests (librdkafka's in-memory mock "
        "cluster, at most 5 MiB per partition) with every solipass topic.",
        &err);
    if (cr == SP_CONFIG_HELP_SHOWN) {
        rc = 0;
        goto done;
    }
    int level = cr == SP_CONFIG_OK ? sp_log_level_parse(log_level) : -1;
    if (cr == SP_CONFIG_OK && level < 0)
        sp_error_set(&err, 400, "invalid_config", "SP_LOG_LEVEL", "unknown level \"%s\"",
                     log_level);
    if (level < 0) {
        sp_log_error(&log, "invalid configuration", "code", err.code, "field", err.field, "error",
                     err.message, NULL);
        goto done;
    }
    log.level_min = (sp_log_level)level;
    volatile sig_atomic_t *stop = sp_signal_install_stop();
    if (stop == NULL) {
        sp_log_error(&log, "cannot install the signal handlers", NULL);
        goto done;
    }
    rc = serve(&log, address_file, (int)ledger_partitions, stop, &err) == 0 ? 0 : 1;
    if (rc != 0)
        sp_log_error(&log, "devbroker failed", "code", err.code, "error", err.message, NULL);
done:
    sp_log_destroy(&log);
    return rc;
}
