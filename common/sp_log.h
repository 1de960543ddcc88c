/* sp_log.h - one JSON object per line on stderr:
 *   {"ts":"2026-11-27T10:00:00.123Z","level":"info","service":"gateway","msg":"...",...}
 * A logger is created in main and passed down; it is thread-safe. It also
 * carries where the process counts (its metrics registry, borrowed, NULL
 * when metrics are off), so that the Kafka handles built with it count
 * their messages without any service passing a registry around. */
#ifndef SP_LOG_H
#define SP_LOG_H

#include <pthread.h>
#include <stdio.h>

typedef enum { SP_LOG_DEBUG, SP_LOG_INFO, SP_LOG_WARN, SP_LOG_ERROR } sp_log_level;

typedef struct sp_log {
    const char *service; /* borrowed, lives as long as the logger */
    sp_log_level level_min;
    FILE *out; /* borrowed (stderr) */
    pthread_mutex_t mutex;
    struct sp_metrics *metrics; /* borrowed; NULL: nothing counted (sp_metrics_http.h sets it) */
} sp_log;

void sp_log_init(sp_log *log, const char *service, sp_log_level level_min, FILE *out);
void sp_log_destroy(sp_log *log);
/* "debug" | "info" | "warn" | "error"; -1 when unknown. */
int sp_log_level_parse(const char *text);

/* Extra fields are given as key, value string pairs ending with NULL:
 *   sp_log_info(log, "payment accepted", "pass_id", id, "amount_cents", buf, NULL); */
void sp_log_write(sp_log *log, sp_log_level level, const char *msg, ...) __attribute__((sentinel));
#define sp_log_debug(log, ...) sp_log_write((log), SP_LOG_DEBUG, __VA_ARGS__)
#define sp_log_info(log, ...) sp_log_write((log), SP_LOG_INFO, __VA_ARGS__)
#define sp_log_warn(log, ...) sp_log_write((log), SP_LOG_WARN, __VA_ARGS__)
#define sp_log_error(log, ...) sp_log_write((log), SP_LOG_ERROR, __VA_ARGS__)

#endif
