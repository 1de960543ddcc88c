/* sp_service.h - the skeleton every solipass service starts and stops
 * through, so that each main.c holds only its configuration table and its
 * wiring:
 *
 *   sp_service svc;
 *   my_config config = {0};
 *   const sp_config_item items[] = {
 *       {"SP_KAFKA_BROKERS", ..., &config.brokers},
 *       SP_SERVICE_CONFIG_ITEMS(&svc),          (log level, metrics, clock)
 *       ...the service's own settings...
 *   };
 *   const sp_service_spec spec = {.name = "accounts", .program = "solipass-accounts", ...};
 *   if (sp_service_start(&svc, &spec, argc, argv) != 0) return svc.exit_code;
 *   int rc = my_service_run(&config, &svc.log, &svc.clock, svc.stop, &svc.err);
 *   return sp_service_finish(&svc, rc);
 *
 * Start: reads the table plus SP_ENVIRONMENT, which the skeleton adds to
 * every one (--help prints it and exits 0), checks SP_ENVIRONMENT against
 * the clock offset file, SP_LOG_LEVEL, the Kafka security settings
 * (installed then for every Kafka client of the process,
 * sp_kafka_security.h) and then the binary's own check, initialises
 * libsodium, installs the stop signals (sp_signal.h), starts the metrics
 * endpoint when the table holds its
 * two settings (sp_metrics_http.h) and the injected clock (sp_clock.h). A
 * refusal is one "cannot start" log line naming the variable (field) and the
 * reason (detail); the process then exits svc.exit_code.
 *
 * Finish: stops the clock and the metrics endpoint, logs "stopped" (rc 0) or
 * "fatal" with svc.err (rc != 0) and returns the exit code, 0 or 1.
 *
 * Ownership: main owns the sp_service (on its stack) from start to finish;
 * the logger, clock, error and metrics endpoint inside it are lent to the
 * service's modules, which must be done with them before finish. The stop
 * flag belongs to sp_signal. The spec and the table are read during the
 * start only; the settings they fill point into the environment or the
 * table's default literals, which live as long as the process. */
#ifndef SP_SERVICE_H
#define SP_SERVICE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include "sp_clock.h"
#include "sp_config.h"
#include "sp_error.h"
#include "sp_kafka.h"
#include "sp_kafka_security.h"
#include "sp_log.h"
#include "sp_metrics_http.h"

typedef struct sp_service sp_service;

typedef struct sp_service_spec {
    const char *name;            /* the "service" of every log line: "accounts" */
    const char *program;         /* --help's title: "solipass-accounts" */
    const char *summary;         /* --help's first paragraph */
    const sp_config_item *items; /* the whole table, in --help's order */
    size_t item_count;
    const sp_config_flag *flags; /* command-line switches besides --help; may be NULL */
    size_t flag_count;
    /* The binary's own checks of its settings, after SP_LOG_LEVEL's (the log
     * has its level by then). NULL: none. */
    int (*check)(void *ctx, sp_service *svc, sp_error *err);
    void *check_ctx;
    int refused_exit_code; /* exit code when the start is refused; 0 means 1 */
} sp_service_spec;

struct sp_service {
    sp_log log;
    sp_clock clock;
    sp_error err;                /* why the start or the run failed */
    volatile sig_atomic_t *stop; /* 1 after SIGINT or SIGTERM (sp_signal.h) */
    int exit_code;               /* when sp_service_start returned -1 */
    /* Settings the table fills (SP_SERVICE_CONFIG_ITEMS or the binary's own items). */
    const char *log_level;                 /* NULL: info */
    const char *clock_offset_file;         /* NULL or "": system time */
    const char *environment;               /* SP_ENVIRONMENT, added to every table by the start */
    sp_metrics_http_config metrics_config; /* address NULL: no endpoint items, none */
    sp_metrics_http *metrics;              /* NULL when SP_METRICS_PORT is 0 */
    /* SP_KAFKA_SECURITY_* (protocol NULL: not in the table, plaintext),
     * checked and installed for every Kafka client at start. */
    sp_kafka_security kafka_security;
};

/* The settings every service shares, in the order their --help lists them. */
/* clang-format off */
#define SP_SERVICE_CONFIG_ITEMS(svc)                                                           \
    {"SP_LOG_LEVEL", SP_CONFIG_STRING, "info", 0, 0, "debug, info, warn or error",             \
     &(svc)->log_level},                                                                       \
    SP_METRICS_HTTP_CONFIG_ITEMS(&(svc)->metrics_config),                                      \
    SP_KAFKA_SECURITY_CONFIG_ITEMS(&(svc)->kafka_security),                                    \
    {"SP_CLOCK_OFFSET_FILE", SP_CONFIG_STRING, "", 0, 0,                                       \
     "file holding a clock offset in milliseconds (tests); empty: system time",               \
     &(svc)->clock_offset_file}
/* clang-format on */

/* The longest settings table a binary may give (the skeleton adds its own). */
#define SP_SERVICE_CONFIG_ITEMS_MAX 96

/* SP_ENVIRONMENT (development, staging or production) against the other
 * settings: production refuses SP_CLOCK_OFFSET_FILE, a facility for tests
 * and staging. 0, or -1 with err naming the variable. Pure; the start calls
 * it for every service, after reading the table. */
int sp_service_check_environment(const char *environment, const char *clock_offset_file,
                                 sp_error *err);

/* 0: running, finish it with sp_service_finish (or sp_service_close). -1:
 * --help was shown or the start was refused (logged); everything is
 * already released and main returns svc->exit_code. */
int sp_service_start(sp_service *svc, const sp_service_spec *spec, int argc, char **argv);

/* True once a stop signal arrived. */
bool sp_service_stopping(const sp_service *svc);

/* Releases the clock, the metrics endpoint (after every Kafka handle that
 * counts into it is freed) and the logger, logging "stopped" or "fatal"
 * first. Returns the process's exit code: 0 when rc is 0, else 1. */
int sp_service_finish(sp_service *svc, int rc);

/* The same release without the last log line, for a binary whose last line
 * is its own (the projection's modes). */
void sp_service_close(sp_service *svc);

/* --- readiness: "ready" is the line deploy scripts and tests wait for --- */

typedef struct sp_service_readiness {
    sp_log *log; /* borrowed */
    bool ready;
} sp_service_readiness;

/* Logs "ready" the first time it is called; later calls say nothing. A
 * service calls it once its first partitions are assigned and its state built. */
void sp_service_ready(sp_service_readiness *readiness);

/* The sp_kafka_assigned_fn of a service with no state to rebuild on an
 * assignment (ctx: its sp_service_readiness): only says it is ready. */
int sp_service_on_assigned(void *readiness, const sp_kafka_tp *tps, size_t tp_count, sp_error *err);

#endif
