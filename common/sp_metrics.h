/* sp_metrics.h - a registry of Prometheus metrics: counters, gauges and
 * duration histograms, each a family of series told apart by up to
 * SP_METRICS_LABELS_MAX label values, rendered as the Prometheus text
 * exposition format (version 0.0.4).
 *
 * Histograms measure durations: bounds and observations are integer
 * milliseconds (what the monotonic clock gives, summed with atomics), shown
 * in seconds as Prometheus' conventions ask (a family's name ends in
 * _seconds; le="0.025", _sum 1.234).
 *
 * Any thread records (C11 atomics; a new series is added under a mutex, an
 * existing one is found without locking); any thread renders.
 *
 * Ownership: the caller owns the registry (sp_metrics_new / sp_metrics_free)
 * and frees what sp_metrics_render returns. Family handles (sp_metric *)
 * belong to the registry and live as long as it does. A family's name, help
 * and label names are borrowed: string literals. Label values are copied
 * (cut to SP_METRICS_LABEL_VALUE_MAX - 1 bytes). */
#ifndef SP_METRICS_H
#define SP_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define SP_METRICS_FAMILIES_MAX 64
#define SP_METRICS_SERIES_MAX 1024 /* per family; more label sets are dropped and counted */
#define SP_METRICS_LABELS_MAX 3
#define SP_METRICS_LABEL_VALUE_MAX 96
#define SP_METRICS_BUCKETS_MAX 16 /* finite bounds of a histogram; +Inf is added */
#define SP_METRICS_TEXT_MAX (4 * 1024 * 1024)

typedef enum { SP_METRIC_COUNTER, SP_METRIC_GAUGE, SP_METRIC_HISTOGRAM } sp_metric_kind;

typedef struct sp_metrics sp_metrics;
typedef struct sp_metric sp_metric;

/* The bounds every latency histogram of the project uses, in ms (shown
 * from 0.001 to 10 seconds). */
extern const int64_t sp_metrics_latency_bounds_ms[];
extern const size_t sp_metrics_latency_bound_count;

/* NULL when out of memory. */
sp_metrics *sp_metrics_new(void);
void sp_metrics_free(sp_metrics *metrics);

/* The family called name, created on first use. Asking again for the same
 * name returns the same family (kind, labels and bounds must be the same:
 * asserted). NULL only when SP_METRICS_FAMILIES_MAX families exist or memory
 * is short; recording into NULL does nothing. Names match
 * [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* (asserted).
 * Histogram bounds are increasing. */
sp_metric *sp_metrics_counter(sp_metrics *metrics, const char *name, const char *help,
                              const char *const *label_names, size_t label_count);
sp_metric *sp_metrics_gauge(sp_metrics *metrics, const char *name, const char *help,
                            const char *const *label_names, size_t label_count);
sp_metric *sp_metrics_histogram(sp_metrics *metrics, const char *name, const char *help,
                                const char *const *label_names, size_t label_count,
                                const int64_t *bounds_ms, size_t bound_count);

/* label_values has the family's label count of strings (NULL when it has
 * none). Each call finds or adds the series of those values. */
void sp_metric_add(sp_metric *counter, const char *const *label_values, uint64_t delta);
void sp_metric_set(sp_metric *gauge, const char *const *label_values, int64_t value);
/* A duration in milliseconds; a negative one counts as 0. */
void sp_metric_observe_ms(sp_metric *histogram, const char *const *label_values,
                          int64_t duration_ms);

#define SP_METRICS_SECONDS_TEXT_MAX 32
/* Milliseconds (>= 0) as Prometheus seconds, shortest exact form: 1 ->
 * "0.001", 250 -> "0.25", 2500 -> "2.5", 10000 -> "10". */
void sp_metrics_seconds_text(uint64_t ms, char out[SP_METRICS_SECONDS_TEXT_MAX]);

/* The whole registry as Prometheus text, malloc'd and NUL-terminated, its
 * length in *len_out. Families in creation order, then the series in
 * creation order, then solipass_metrics_series_dropped_total. Past
 * SP_METRICS_TEXT_MAX the text ends at the last whole family. NULL when out
 * of memory. */
char *sp_metrics_render(sp_metrics *metrics, size_t *len_out);

#endif
