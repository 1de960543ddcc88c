/* sp_metrics.c - the metrics registry and its Prometheus text rendering.
 * Series are found by a scan of the published ones (a handful per family in
 * practice) compared by hash first; adding one takes the registry's mutex
 * and publishes it with a release store of the family's series count. */
#include "sp_metrics.h"

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SP_METRICS_TEXT_INITIAL (16 * 1024)

const int64_t sp_metrics_latency_bounds_ms[] = {1,   2,   5,    10,   25,   50,   100,
                                                250, 500, 1000, 2500, 5000, 10000};
const size_t sp_metrics_latency_bound_count = sizeof sp_metrics_latency_bounds_ms /
                                              sizeof sp_metrics_latency_bounds_ms[0];

typedef struct sp_series {
    uint64_t hash;
    char labels[SP_METRICS_LABELS_MAX][SP_METRICS_LABEL_VALUE_MAX];
    atomic_uint_fast64_t count; /* counter value, histogram count */
    atomic_int_fast64_t gauge;
    atomic_uint_fast64_t sum;                                 /* histogram, in ms */
    atomic_uint_fast64_t buckets[SP_METRICS_BUCKETS_MAX + 1]; /* per bucket; last: +Inf */
} sp_series;

struct sp_metric {
    sp_metrics *registry;
    const char *name;
    const char *help;
    sp_metric_kind kind;
    const char *label_names[SP_METRICS_LABELS_MAX];
    size_t label_count;
    int64_t bounds[SP_METRICS_BUCKETS_MAX];
    size_t bound_count;
    sp_series *series[SP_METRICS_SERIES_MAX]; /* [0, series_count) published */
    atomic_size_t series_count;
};

struct sp_metrics {
    pthread_mutex_t mutex; /* adding families and series */
    sp_metric *families[SP_METRICS_FAMILIES_MAX];
    atomic_size_t family_count;
    atomic_uint_fast64_t series_dropped;
};

sp_metrics *sp_metrics_new(void) {
    sp_metrics *m = calloc(1, sizeof *m);
    if (m == NULL) return NULL;
    pthread_mutex_init(&m->mutex, NULL);
    atomic_init(&m->family_count, 0);
    atomic_init(&m->series_dropped, 0);
    return m;
}

void sp_metrics_free(sp_metrics *metrics) {
    if (metrics == NULL) return;
    size_t families = atomic_load(&metrics->family_count);
    for (size_t f = 0; f < families; f++) {
        sp_metric *family = metrics->families[f];
        size_t count = atomic_load(&family->series_count);
        for (size_t s = 0; s < count; s++) free(family->series[s]);
        free(family);
    }
    pthread_mutex_destroy(&metrics->mutex);
    free(metrics);
}

/* ------------------------------------------------------------------ families */

static bool name_valid(const char *name, bool colon_allowed) {
    if (name == NULL || name[0] == '\0' || (name[0] >= '0' && name[0] <= '9')) return false;
    for (const char *c = name; *c != '\0'; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '_' || (colon_allowed && *c == ':');
        if (!ok) return false;
    }
    return true;
}

static bool same_shape(const sp_metric *f, sp_metric_kind kind, const char *const *label_names,
                       size_t label_count, const int64_t *bounds, size_t bound_count) {
    if (f->kind != kind || f->label_count != label_count || f->bound_count != bound_count)
        return false;
    for (size_t i = 0; i < label_count; i++)
        if (strcmp(f->label_names[i], label_names[i]) != 0) return false;
    for (size_t i = 0; i < bound_count; i++)
        if (f->bounds[i] != bounds[i]) return false;
    return true;
}

static sp_metric *family_find(sp_metrics *m, const char *name) {
    size_t count = atomic_load_explicit(&m->family_count, memory_order_acquire);
    for (size_t f = 0; f < count; f++)
        if (strcmp(m->families[f]->name, name) == 0) return m->families[f];
    return NULL;
}

static sp_metric *family_new(sp_metrics *m, const char *name, const char *help, sp_metric_kind kind,
                             const char *const *label_names, size_t label_count,
                             const int64_t *bounds, size_t bound_count) {
    sp_metric *f = calloc(1, sizeof *f);
    if (f == NULL) return NULL;
    *f = (sp_metric){.registry = m,
                     .name = name,
                     .help = help,
                     .kind = kind,
                     .label_count = label_count,
                     .bound_count = bound_count};
    for (size_t i = 0; i < label_count; i++) f->label_names[i] = label_names[i];
    for (size_t i = 0; i < bound_count; i++) f->bounds[i] = bounds[i];
    atomic_init(&f->series_count, 0);
    return f;
}

static sp_metric *family_get(sp_metrics *m, const char *name, const char *help, sp_metric_kind kind,
                             const char *const *label_names, size_t label_count,
                             const int64_t *bounds, size_t bound_count) {
    assert(m != NULL && name_valid(name, true) && help != NULL);
    assert(label_count <= SP_METRICS_LABELS_MAX && (label_names != NULL || label_count == 0));
    for (size_t i = 0; i < label_count; i++) assert(name_valid(label_names[i], false));
    assert(bound_count <= SP_METRICS_BUCKETS_MAX);
    for (size_t i = 1; i < bound_count; i++) assert(bounds[i] > bounds[i - 1]);
    pthread_mutex_lock(&m->mutex);
    sp_metric *f = family_find(m, name);
    size_t count = atomic_load(&m->family_count);
    if (f == NULL && count < SP_METRICS_FAMILIES_MAX) {
        f = family_new(m, name, help, kind, label_names, label_count, bounds, bound_count);
        if (f != NULL) {
            m->families[count] = f;
            atomic_store_explicit(&m->family_count, count + 1, memory_order_release);
        }
    }
    pthread_mutex_unlock(&m->mutex);
    /* One name, one meaning: a second shape is a programming error. */
    assert(f == NULL || same_shape(f, kind, label_names, label_count, bounds, bound_count));
    return f;
}

sp_metric *sp_metrics_counter(sp_metrics *metrics, const char *name, const char *help,
                              const char *const *label_names, size_t label_count) {
    return family_get(metrics, name, help, SP_METRIC_COUNTER, label_names, label_count, NULL, 0);
}

sp_metric *sp_metrics_gauge(sp_metrics *metrics, const char *name, const char *help,
                            const char *const *label_names, size_t label_count) {
    return family_get(metrics, name, help, SP_METRIC_GAUGE, label_names, label_count, NULL, 0);
}

sp_metric *sp_metrics_histogram(sp_metrics *metrics, const char *name, const char *help,
                                const char *const *label_names, size_t label_count,
                                const int64_t *bounds_ms, size_t bound_count) {
    assert(bounds_ms != NULL && bound_count > 0 && bounds_ms[0] >= 0);
    return family_get(metrics, name, help, SP_METRIC_HISTOGRAM, label_names, label_count, bounds_ms,
                      bound_count);
}

/* ------------------------------------------------------------------ series */

/* FNV-1a over the (cut) values, each ended by a 0 byte. */
static uint64_t labels_hash(const sp_metric *f, const char *const *values) {
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < f->label_count; i++) {
        const char *v = values[i] != NULL ? values[i] : "";
        for (size_t j = 0; v[j] != '\0' && j < SP_METRICS_LABEL_VALUE_MAX - 1; j++) {
            h ^= (unsigned char)v[j];
            h *= 1099511628211ULL;
        }
        h ^= 0xffu; /* ends the value: ("ab","c") is not ("a","bc") */
        h *= 1099511628211ULL;
    }
    return h;
}

static bool labels_equal(const sp_metric *f, const sp_series *s, const char *const *values) {
    for (size_t i = 0; i < f->label_count; i++) {
        const char *v = values[i] != NULL ? values[i] : "";
        if (strncmp(s->labels[i], v, SP_METRICS_LABEL_VALUE_MAX - 1) != 0) return false;
    }
    return true;
}

static sp_series *series_scan(sp_metric *f, const char *const *values, uint64_t hash, size_t from,
                              size_t to) {
    for (size_t i = from; i < to; i++) {
        sp_series *s = f->series[i];
        if (s->hash == hash && labels_equal(f, s, values)) return s;
    }
    return NULL;
}

static sp_series *series_new(const sp_metric *f, const char *const *values, uint64_t hash) {
    sp_series *s = calloc(1, sizeof *s);
    if (s == NULL) return NULL;
    s->hash = hash;
    for (size_t i = 0; i < f->label_count; i++)
        snprintf(s->labels[i], sizeof s->labels[i], "%s", values[i] != NULL ? values[i] : "");
    atomic_init(&s->count, 0);
    atomic_init(&s->gauge, 0);
    atomic_init(&s->sum, 0);
    for (size_t i = 0; i <= SP_METRICS_BUCKETS_MAX; i++) atomic_init(&s->buckets[i], 0);
    return s;
}

/* The series of those values, added when new; NULL when the family is full. */
static sp_series *series_get(sp_metric *f, const char *const *values) {
    assert(values != NULL || f->label_count == 0);
    uint64_t hash = labels_hash(f, values);
    size_t seen = atomic_load_explicit(&f->series_count, memory_order_acquire);
    sp_series *s = series_scan(f, values, hash, 0, seen);
    if (s != NULL) return s;
    sp_metrics *m = f->registry;
    pthread_mutex_lock(&m->mutex);
    size_t count = atomic_load_explicit(&f->series_count, memory_order_relaxed);
    s = series_scan(f, values, hash, seen, count); /* added by another thread meanwhile */
    if (s == NULL && count < SP_METRICS_SERIES_MAX) {
        s = series_new(f, values, hash);
        if (s != NULL) {
            f->series[count] = s;
            atomic_store_explicit(&f->series_count, count + 1, memory_order_release);
        }
    }
    pthread_mutex_unlock(&m->mutex);
    if (s == NULL) atomic_fetch_add(&m->series_dropped, 1);
    return s;
}

void sp_metric_add(sp_metric *counter, const char *const *label_values, uint64_t delta) {
    if (counter == NULL) return;
    assert(counter->kind == SP_METRIC_COUNTER);
    sp_series *s = series_get(counter, label_values);
    if (s != NULL) atomic_fetch_add_explicit(&s->count, delta, memory_order_relaxed);
}

void sp_metric_set(sp_metric *gauge, const char *const *label_values, int64_t value) {
    if (gauge == NULL) return;
    assert(gauge->kind == SP_METRIC_GAUGE);
    sp_series *s = series_get(gauge, label_values);
    if (s != NULL) atomic_store_explicit(&s->gauge, value, memory_order_relaxed);
}

void sp_metric_observe_ms(sp_metric *histogram, const char *const *label_values,
                          int64_t duration_ms) {
    int64_t value = duration_ms;
    if (histogram == NULL) return;
    assert(histogram->kind == SP_METRIC_HISTOGRAM);
    sp_series *s = series_get(histogram, label_values);
    if (s == NULL) return;
    if (value < 0) value = 0;
    size_t slot = histogram->bound_count;
    for (size_t i = 0; i < histogram->bound_count; i++) {
        if (value <= histogram->bounds[i]) {
            slot = i;
            break;
        }
    }
    atomic_fetch_add_explicit(&s->buckets[slot], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum, (uint_fast64_t)value, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
}

/* ------------------------------------------------------------------ rendering */

void sp_metrics_seconds_text(uint64_t ms, char out[SP_METRICS_SECONDS_TEXT_MAX]) {
    assert(out != NULL);
    unsigned fraction = (unsigned)(ms % 1000);
    if (fraction == 0) {
        snprintf(out, SP_METRICS_SECONDS_TEXT_MAX, "%" PRIu64, ms / 1000);
        return;
    }
    int digits = fraction % 100 == 0 ? 1 : fraction % 10 == 0 ? 2 : 3;
    unsigned shown = digits == 1 ? fraction / 100 : digits == 2 ? fraction / 10 : fraction;
    snprintf(out, SP_METRICS_SECONDS_TEXT_MAX, "%" PRIu64 ".%0*u", ms / 1000, digits, shown);
}

typedef struct text_buf {
    char *data;
    size_t len, cap;
    bool overflow; /* past SP_METRICS_TEXT_MAX, or out of memory */
} text_buf;

static bool reserve(text_buf *b, size_t more) {
    if (b->len + more + 1 <= b->cap) return true;
    size_t cap = b->cap;
    while (cap < b->len + more + 1) cap *= 2;
    if (cap > SP_METRICS_TEXT_MAX) cap = SP_METRICS_TEXT_MAX;
    if (b->len + more + 1 > cap) return false;
    char *grown = realloc(b->data, cap);
    if (grown == NULL) return false;
    b->data = grown;
    b->cap = cap;
    return true;
}

static void put(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text_buf *b, const char *fmt, ...) {
    if (b->overflow) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(b, (size_t)n)) {
        b->overflow = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* A label value with \, " and newline escaped as the format asks. */
static void put_escaped(text_buf *b, const char *value) {
    for (const char *c = value; *c != '\0'; c++) {
        if (*c == '\\') put(b, "\\\\");
        else if (*c == '"') put(b, "\\\"");
        else if (*c == '\n') put(b, "\\n");
        else put(b, "%c", *c);
    }
}

/* {a="x",b="y"[,le="..."]}, or nothing when there is no label at all. */
static void put_labels(text_buf *b, const sp_metric *f, const sp_series *s, const char *le) {
    if (f->label_count == 0 && le == NULL) return;
    put(b, "{");
    for (size_t i = 0; i < f->label_count; i++) {
        put(b, "%s%s=\"", i > 0 ? "," : "", f->label_names[i]);
        put_escaped(b, s->labels[i]);
        put(b, "\"");
    }
    if (le != NULL) put(b, "%sle=\"%s\"", f->label_count > 0 ? "," : "", le);
    put(b, "}");
}

static void put_histogram_series(text_buf *b, const sp_metric *f, const sp_series *s) {
    uint_fast64_t cumulative = 0;
    char le[SP_METRICS_SECONDS_TEXT_MAX], sum[SP_METRICS_SECONDS_TEXT_MAX];
    for (size_t i = 0; i <= f->bound_count; i++) {
        cumulative += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
        if (i < f->bound_count) sp_metrics_seconds_text((uint64_t)f->bounds[i], le);
        else snprintf(le, sizeof le, "+Inf");
        put(b, "%s_bucket", f->name);
        put_labels(b, f, s, le);
        put(b, " %" PRIuFAST64 "\n", cumulative);
    }
    /* _count is the +Inf bucket, so that a scrape never sees them differ. */
    put(b, "%s_sum", f->name);
    put_labels(b, f, s, NULL);
    sp_metrics_seconds_text(atomic_load(&s->sum), sum);
    put(b, " %s\n%s_count", sum, f->name);
    put_labels(b, f, s, NULL);
    put(b, " %" PRIuFAST64 "\n", cumulative);
}

static void put_family(text_buf *b, const sp_metric *f) {
    static const char *const kind_names[] = {"counter", "gauge", "histogram"};
    put(b, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, kind_names[f->kind]);
    size_t count = atomic_load_explicit(&f->series_count, memory_order_acquire);
    for (size_t i = 0; i < count; i++) {
        const sp_series *s = f->series[i];
        if (f->kind == SP_METRIC_HISTOGRAM) {
            put_histogram_series(b, f, s);
            continue;
        }
        put(b, "%s", f->name);
        put_labels(b, f, s, NULL);
        if (f->kind == SP_METRIC_COUNTER)
            put(b, " %" PRIuFAST64 "\n", atomic_load_explicit(&s->count, memory_order_relaxed));
        else put(b, " %" PRIdFAST64 "\n", atomic_load_explicit(&s->gauge, memory_order_relaxed));
    }
}

char *sp_metrics_render(sp_metrics *metrics, size_t *len_out) {
    assert(metrics != NULL && len_out != NULL);
    text_buf b = {.data = malloc(SP_METRICS_TEXT_INITIAL), .cap = SP_METRICS_TEXT_INITIAL};
    if (b.data == NULL) return NULL;
    size_t families = atomic_load_explicit(&metrics->family_count, memory_order_acquire);
    size_t whole = 0; /* end of the last family written in full */
    for (size_t f = 0; f < families && !b.overflow; f++) {
        put_family(&b, metrics->families[f]);
        if (!b.overflow) whole = b.len;
    }
    if (!b.overflow) {
        put(&b,
            "# HELP solipass_metrics_series_dropped_total Label sets not recorded: their "
            "family already had %d series.\n# TYPE solipass_metrics_series_dropped_total "
            "counter\nsolipass_metrics_series_dropped_total %" PRIuFAST64 "\n",
            SP_METRICS_SERIES_MAX, atomic_load(&metrics->series_dropped));
        if (!b.overflow) whole = b.len;
    }
    b.data[whole] = '\0';
    *len_out = whole;
    return b.data;
}
