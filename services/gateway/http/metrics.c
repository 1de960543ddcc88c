/* metrics.c - recording and rendering the gateway's Prometheus metrics. */
#include "metrics.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "endpoints.h"
#include "sp_metrics.h"

static const int64_t bucket_bounds_ms[SP_GW_HISTOGRAM_BUCKET_COUNT] = {1,    2,    5,    10,  25,
                                                                       50,   100,  250,  500, 1000,
                                                                       2500, 5000, 10000};

static void histogram_init(sp_gw_histogram *h) {
    for (size_t i = 0; i <= SP_GW_HISTOGRAM_BUCKET_COUNT; i++) atomic_init(&h->buckets[i], 0);
    atomic_init(&h->sum_ms, 0);
    atomic_init(&h->count, 0);
}

static void histogram_record(sp_gw_histogram *h, int64_t value_ms) {
    if (value_ms < 0) value_ms = 0;
    size_t slot = SP_GW_HISTOGRAM_BUCKET_COUNT;
    for (size_t i = 0; i < SP_GW_HISTOGRAM_BUCKET_COUNT; i++) {
        if (value_ms <= bucket_bounds_ms[i]) {
            slot = i;
            break;
        }
    }
    atomic_fetch_add(&h->buckets[slot], 1);
    atomic_fetch_add(&h->sum_ms, (uint_fast64_t)value_ms);
    atomic_fetch_add(&h->count, 1);
}

void sp_gw_metrics_init(sp_gw_metrics *metrics) {
    assert(metrics != NULL);
    for (size_t s = 0; s < SP_GW_STATUS_SLOT_COUNT; s++) atomic_init(&metrics->statuses[s], 0);
    atomic_init(&metrics->statuses_unslotted, 0);
    for (size_t r = 0; r < SP_GW_ROUTE_COUNT; r++) {
        for (size_t s = 0; s < SP_GW_STATUS_SLOT_COUNT; s++) {
            atomic_init(&metrics->requests[r][s], 0);
        }
    }
    for (size_t r = 0; r < SP_GW_ROUTE_COUNT; r++) {
        for (size_t s = 0; s < SP_GW_STATUS_SLOT_COUNT; s++)
            histogram_init(&metrics->request_duration[r][s]);
    }
    histogram_init(&metrics->command_latency);
    histogram_init(&metrics->projection_wait);
    atomic_init(&metrics->command_timeouts, 0);
    atomic_init(&metrics->command_unavailable, 0);
    atomic_init(&metrics->projection_wait_timeouts, 0);
    atomic_init(&metrics->replies_unmatched, 0);
}

/* The slot of status, claimed by the first request that answers it (two
 * threads racing for a free slot: the loser takes the next one, or finds
 * its status in the winner's). SP_GW_STATUS_SLOT_COUNT when all are taken,
 * or for what is no HTTP status (0 marks a free slot). */
static size_t status_slot(sp_gw_metrics *metrics, int status) {
    if (status < 100 || status > 599) return SP_GW_STATUS_SLOT_COUNT;
    for (size_t i = 0; i < SP_GW_STATUS_SLOT_COUNT; i++) {
        int held = atomic_load(&metrics->statuses[i]);
        if (held == 0 && atomic_compare_exchange_strong(&metrics->statuses[i], &held, status))
            return i;
        if (held == status) return i;
    }
    return SP_GW_STATUS_SLOT_COUNT;
}

void sp_gw_metrics_request(sp_gw_metrics *metrics, sp_gw_route route, int status,
                           int64_t duration_ms) {
    assert(metrics != NULL && route >= 0 && route < SP_GW_ROUTE_COUNT);
    size_t slot = status_slot(metrics, status);
    if (slot == SP_GW_STATUS_SLOT_COUNT) {
        atomic_fetch_add(&metrics->statuses_unslotted, 1);
        return;
    }
    atomic_fetch_add(&metrics->requests[route][slot], 1);
    histogram_record(&metrics->request_duration[route][slot], duration_ms);
}

void sp_gw_metrics_command(sp_gw_metrics *metrics, sp_gw_command_outcome outcome,
                           int64_t duration_ms) {
    assert(metrics != NULL);
    if (outcome == SP_GW_COMMAND_TIMEOUT) atomic_fetch_add(&metrics->command_timeouts, 1);
    if (outcome == SP_GW_COMMAND_UNAVAILABLE) atomic_fetch_add(&metrics->command_unavailable, 1);
    if (outcome == SP_GW_COMMAND_REPLIED) histogram_record(&metrics->command_latency, duration_ms);
}

void sp_gw_metrics_projection_wait(sp_gw_metrics *metrics, bool reached, int64_t duration_ms) {
    assert(metrics != NULL);
    if (!reached) atomic_fetch_add(&metrics->projection_wait_timeouts, 1);
    histogram_record(&metrics->projection_wait, duration_ms);
}

void sp_gw_metrics_reply_unmatched(sp_gw_metrics *metrics) {
    assert(metrics != NULL);
    atomic_fetch_add(&metrics->replies_unmatched, 1);
}

/* ------------------------------------------------------------------ rendering */

typedef struct text_buf {
    char *data;
    size_t len;
    bool overflow;
} text_buf;

static void put(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text_buf *b, const char *fmt, ...) {
    if (b->overflow) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->data + b->len, SP_GW_METRICS_TEXT_MAX - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= SP_GW_METRICS_TEXT_MAX - b->len) {
        b->overflow = true;
        return;
    }
    b->len += (size_t)n;
}

static void put_header(text_buf *b, const char *name, const char *type, const char *help) {
    put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The series of one histogram; labels: "" or `route="x",status="y"`. */
static void put_histogram_series(text_buf *b, const char *name, const char *labels,
                                 const sp_gw_histogram *h) {
    const char *comma = labels[0] != '\0' ? "," : "";
    uint_fast64_t cumulative = 0;
    char seconds[SP_METRICS_SECONDS_TEXT_MAX];
    for (size_t i = 0; i < SP_GW_HISTOGRAM_BUCKET_COUNT; i++) {
        cumulative += atomic_load(&h->buckets[i]);
        sp_metrics_seconds_text((uint64_t)bucket_bounds_ms[i], seconds);
        put(b, "%s_bucket{%s%sle=\"%s\"} %" PRIuFAST64 "\n", name, labels, comma, seconds,
            cumulative);
    }
    cumulative += atomic_load(&h->buckets[SP_GW_HISTOGRAM_BUCKET_COUNT]);
    put(b, "%s_bucket{%s%sle=\"+Inf\"} %" PRIuFAST64 "\n", name, labels, comma, cumulative);
    const char *open = labels[0] != '\0' ? "{" : "", *close = labels[0] != '\0' ? "}" : "";
    /* _count is the +Inf bucket: a scrape never sees them differ. */
    sp_metrics_seconds_text(atomic_load(&h->sum_ms), seconds);
    put(b, "%s_sum%s%s%s %s\n%s_count%s%s%s %" PRIuFAST64 "\n", name, open, labels, close, seconds,
        name, open, labels, close, cumulative);
}

static void put_histogram(text_buf *b, const char *name, const char *help,
                          const sp_gw_histogram *h) {
    put_header(b, name, "histogram", help);
    put_histogram_series(b, name, "", h);
}

static void put_request_durations(text_buf *b, const sp_gw_metrics *m) {
    const char *name = "solipass_gateway_request_duration_seconds";
    put_header(b, name, "histogram", "HTTP request handling time, by route and status.");
    for (size_t r = 0; r < SP_GW_ROUTE_COUNT; r++) {
        for (size_t s = 0; s < SP_GW_STATUS_SLOT_COUNT; s++) {
            const sp_gw_histogram *h = &m->request_duration[r][s];
            if (atomic_load(&h->count) == 0) continue;
            char labels[96];
            snprintf(labels, sizeof labels, "route=\"%s\",status=\"%d\"",
                     sp_gw_route_name((sp_gw_route)r), atomic_load(&m->statuses[s]));
            put_histogram_series(b, name, labels, h);
        }
    }
}

static void put_counter(text_buf *b, const char *name, const char *help,
                        const atomic_uint_fast64_t *value) {
    put_header(b, name, "counter", help);
    put(b, "%s %" PRIuFAST64 "\n", name, atomic_load(value));
}

static void put_requests(text_buf *b, const sp_gw_metrics *m) {
    const char *name = "solipass_gateway_requests_total";
    put_header(b, name, "counter", "HTTP requests answered, by route and status.");
    for (size_t r = 0; r < SP_GW_ROUTE_COUNT; r++) {
        for (size_t s = 0; s < SP_GW_STATUS_SLOT_COUNT; s++) {
            uint_fast64_t count = atomic_load(&m->requests[r][s]);
            if (count == 0) continue;
            put(b, "%s{route=\"%s\",status=\"%d\"} %" PRIuFAST64 "\n", name,
                sp_gw_route_name((sp_gw_route)r), atomic_load(&m->statuses[s]), count);
        }
    }
}

char *sp_gw_metrics_render(const sp_gw_metrics *metrics, const sp_gw_gauges *gauges,
                           const char *extra) {
    assert(metrics != NULL && gauges != NULL);
    text_buf b = {.data = malloc(SP_GW_METRICS_TEXT_MAX), .len = 0, .overflow = false};
    if (b.data == NULL) return NULL;
    b.data[0] = '\0';
    put_requests(&b, metrics);
    put_request_durations(&b, metrics);
    put_histogram(&b, "solipass_gateway_command_duration_seconds",
                  "From producing a command to its reply.", &metrics->command_latency);
    put_histogram(&b, "solipass_gateway_projection_wait_seconds",
                  "Wait for the read models to show a command's events.",
                  &metrics->projection_wait);
    put_counter(&b, "solipass_gateway_command_timeouts_total",
                "Commands whose reply did not come in time (outcome unknown).",
                &metrics->command_timeouts);
    put_counter(&b, "solipass_gateway_command_unavailable_total",
                "Commands not delivered to the log, or refused for lack of room to wait.",
                &metrics->command_unavailable);
    put_counter(&b, "solipass_gateway_projection_wait_timeouts_total",
                "Replies whose events the read models did not show in time.",
                &metrics->projection_wait_timeouts);
    put_counter(&b, "solipass_gateway_statuses_unslotted_total",
                "Requests not counted by route and status: more distinct status codes than "
                "the gateway keeps slots for (never expected).",
                &metrics->statuses_unslotted);
    put_counter(&b, "solipass_gateway_replies_unmatched_total",
                "Replies for this gateway that no request waited for (late or duplicate).",
                &metrics->replies_unmatched);
    put_header(&b, "solipass_gateway_pending_commands", "gauge", "Requests waiting for a reply.");
    put(&b, "solipass_gateway_pending_commands %zu\n", gauges->pending_commands);
    put_header(&b, "solipass_gateway_pending_commands_max", "gauge",
               "Room for requests waiting for a reply.");
    put(&b, "solipass_gateway_pending_commands_max %zu\n", gauges->pending_commands_max);
    put_header(&b, "solipass_gateway_projection_waiters", "gauge",
               "Requests waiting for the read models.");
    put(&b, "solipass_gateway_projection_waiters %zu\n", gauges->projection_waiters);
    if (extra != NULL) put(&b, "%s", extra);
    if (b.overflow) {
        /* Never a half-written line: the output stops at the last whole one. */
        char *last = b.len > 0 ? b.data + b.len : b.data;
        *last = '\0';
    }
    return b.data;
}
