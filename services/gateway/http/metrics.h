/* metrics.h - the gateway's Prometheus counters: requests and their
 * duration histograms by route and status (each status code labelled as
 * itself), command round-trip latency, projection wait, timeouts. Durations
 * are recorded in integer milliseconds and shown in seconds (sp_metrics.h).
 * Lock-free (C11 atomics): any thread records, /metrics renders.
 * Ownership: the caller owns the struct (main's stack); render returns a
 * malloc'd text the caller frees. */
#ifndef SP_GW_METRICS_H
#define SP_GW_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "validate.h"

/* Distinct status codes counted, each in the slot it claims at its first
 * answer: far above the twenty-odd the gateway answers. A status past them
 * (or outside 100..599) is counted in statuses_unslotted only. */
#define SP_GW_STATUS_SLOT_COUNT 32
#define SP_GW_HISTOGRAM_BUCKET_COUNT 13 /* finite upper bounds */
#define SP_GW_METRICS_TEXT_MAX (2 * 1024 * 1024)

typedef struct sp_gw_histogram {
    atomic_uint_fast64_t buckets[SP_GW_HISTOGRAM_BUCKET_COUNT + 1]; /* last: +Inf */
    atomic_uint_fast64_t sum_ms;
    atomic_uint_fast64_t count;
} sp_gw_histogram;

typedef enum {
    SP_GW_COMMAND_REPLIED,    /* a reply came back (ok or not) */
    SP_GW_COMMAND_TIMEOUT,    /* no reply in time: outcome unknown */
    SP_GW_COMMAND_UNAVAILABLE /* not delivered to the log, or no room to wait */
} sp_gw_command_outcome;

typedef struct sp_gw_metrics {
    atomic_int statuses[SP_GW_STATUS_SLOT_COUNT]; /* the status of each slot; 0: free */
    atomic_uint_fast64_t statuses_unslotted;
    atomic_uint_fast64_t requests[SP_GW_ROUTE_COUNT][SP_GW_STATUS_SLOT_COUNT];
    /* One histogram per route and status: only those that counted a
     * request are rendered. */
    sp_gw_histogram request_duration[SP_GW_ROUTE_COUNT][SP_GW_STATUS_SLOT_COUNT];
    sp_gw_histogram command_latency;
    sp_gw_histogram projection_wait;
    atomic_uint_fast64_t command_timeouts;
    atomic_uint_fast64_t command_unavailable;
    atomic_uint_fast64_t projection_wait_timeouts;
    atomic_uint_fast64_t replies_unmatched;
} sp_gw_metrics;

/* What is read at render time from the modules that own it. */
typedef struct sp_gw_gauges {
    size_t pending_commands;
    size_t pending_commands_max;
    size_t projection_waiters;
} sp_gw_gauges;

void sp_gw_metrics_init(sp_gw_metrics *metrics);
void sp_gw_metrics_request(sp_gw_metrics *metrics, sp_gw_route route, int status,
                           int64_t duration_ms);
void sp_gw_metrics_command(sp_gw_metrics *metrics, sp_gw_command_outcome outcome,
                           int64_t duration_ms);
void sp_gw_metrics_projection_wait(sp_gw_metrics *metrics, bool reached, int64_t duration_ms);
void sp_gw_metrics_reply_unmatched(sp_gw_metrics *metrics);
/* Prometheus text exposition format, then `extra` (the process's common
 * registry, sp_metrics.h; may be NULL); NULL when out of memory. */
char *sp_gw_metrics_render(const sp_gw_metrics *metrics, const sp_gw_gauges *gauges,
                           const char *extra);

#endif
