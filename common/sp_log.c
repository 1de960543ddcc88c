/* sp_log.c - JSON-lines logging: one object per line, built with jansson so
 * that every value is escaped, written and flushed under a mutex. */
#include "sp_log.h"

#include <assert.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Extra key/value pairs per line; more is a programming error. */
#define SP_LOG_FIELDS_MAX 32
/* Longest text kept when a value must be rescued from invalid UTF-8. */
#define SP_LOG_RESCUE_BYTES_MAX 4096

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void sp_log_init(sp_log *log, const char *service, sp_log_level level_min, FILE *out) {
    assert(log != NULL && service != NULL && out != NULL);
    assert(level_min >= SP_LOG_DEBUG && level_min <= SP_LOG_ERROR);
    log->service = service;
    log->level_min = level_min;
    log->out = out;
    log->metrics = NULL;
    int rc = pthread_mutex_init(&log->mutex, NULL);
    assert(rc == 0);
    (void)rc;
}

void sp_log_destroy(sp_log *log) {
    assert(log != NULL);
    pthread_mutex_destroy(&log->mutex);
}

int sp_log_level_parse(const char *text) {
    if (text == NULL) return -1;
    for (int i = SP_LOG_DEBUG; i <= SP_LOG_ERROR; i++) {
        if (strcasecmp(text, level_names[i]) == 0) return i;
    }
    return -1;
}

/* jansson refuses strings that are not UTF-8: keep them readable anyway by
 * replacing every non-ASCII byte, rather than losing the line. */
static json_t *string_value(const char *text) {
    if (text == NULL) return json_null();
    json_t *value = json_string(text);
    if (value != NULL) return value;
    size_t len = strnlen(text, SP_LOG_RESCUE_BYTES_MAX);
    char *copy = malloc(len + 1);
    if (copy == NULL) return NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        copy[i] = c < 0x80 ? (char)c : '?';
    }
    copy[len] = '\0';
    value = json_string(copy);
    free(copy);
    return value;
}

static void format_now_utc(char *out, size_t out_size) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char seconds[32];
    strftime(seconds, sizeof seconds, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, out_size, "%s.%03ldZ", seconds, (long)(ts.tv_nsec / 1000000));
}

static bool set_string(json_t *object, const char *key, const char *text) {
    json_t *value = string_value(text);
    return value != NULL && json_object_set_new(object, key, value) == 0;
}

static json_t *build_line(sp_log *log, sp_log_level level, const char *msg, va_list ap) {
    json_t *line = json_object();
    if (line == NULL) return NULL;
    char ts[64];
    format_now_utc(ts, sizeof ts);
    bool ok = set_string(line, "ts", ts) && set_string(line, "level", level_names[level]) &&
              set_string(line, "service", log->service) && set_string(line, "msg", msg);
    for (size_t i = 0; ok; i++) {
        const char *key = va_arg(ap, const char *);
        if (key == NULL) break;
        assert(i < SP_LOG_FIELDS_MAX);
        const char *value = va_arg(ap, const char *);
        ok = set_string(line, key, value);
    }
    if (!ok) {
        json_decref(line);
        return NULL;
    }
    return line;
}

void sp_log_write(sp_log *log, sp_log_level level, const char *msg, ...) {
    assert(log != NULL && msg != NULL);
    assert(level >= SP_LOG_DEBUG && level <= SP_LOG_ERROR);
    if (level < log->level_min) return;
    va_list ap;
    va_start(ap, msg);
    json_t *line = build_line(log, level, msg, ap);
    va_end(ap);
    char *text = line != NULL ? json_dumps(line, JSON_COMPACT) : NULL;
    json_decref(line);
    pthread_mutex_lock(&log->mutex);
    if (text != NULL) {
        fputs(text, log->out);
        fputc('\n', log->out);
    } else {
        /* Out of memory: still leave a trace, in a form that is valid JSON. */
        fputs("{\"level\":\"error\",\"msg\":\"log line lost: out of memory\"}\n", log->out);
    }
    fflush(log->out);
    pthread_mutex_unlock(&log->mutex);
    free(text);
}
