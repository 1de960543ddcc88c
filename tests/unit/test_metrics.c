/* test_metrics.c - the metrics registry renders what a Prometheus scraper
 * expects: HELP and TYPE lines, one line per label set with escaped values,
 * cumulative histogram buckets ending in +Inf with _sum and _count, exact
 * counts under concurrent recording, and bounded series and text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include "sp_metrics.h"

#define THREADS 4
#define ADDS_PER_THREAD 20000

static const char *const topic_label[] = {"topic"};
static const char *const route_status[] = {"route", "status"};

/* The whole line `line` (without its newline) is in text. */
static void assert_line(const char *text, const char *line) {
    size_t len = strlen(line);
    for (const char *at = strstr(text, line); at != NULL; at = strstr(at + 1, line)) {
        bool starts = at == text || at[-1] == '\n';
        if (starts && at[len] == '\n') return;
    }
    fail_msg("line not found: %s\n--- in ---\n%s", line, text);
}

static char *render(sp_metrics *m) {
    size_t len = 0;
    char *text = sp_metrics_render(m, &len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

static void test_counter_by_label(void **state) {
    (void)state;
    sp_metrics *m = sp_metrics_new();
    sp_metric *c = sp_metrics_counter(m, "solipass_messages_processed_total", "Messages done.",
                                      topic_label, 1);
    assert_ptr_equal(sp_metrics_counter(m, "solipass_messages_processed_total", "Messages done.",
                                        topic_label, 1),
                     c);
    sp_metric_add(c, (const char *[]){"solipass.ledger.events.v1"}, 3);
    sp_metric_add(c, (const char *[]){"solipass.accounts.events.v1"}, 1);
    sp_metric_add(c, (const char *[]){"solipass.ledger.events.v1"}, 2);
    char *text = render(m);
    assert_line(text, "# HELP solipass_messages_processed_total Messages done.");
    assert_line(text, "# TYPE solipass_messages_processed_total counter");
    assert_line(text, "solipass_messages_processed_total{topic=\"solipass.ledger.events.v1\"} 5");
    assert_line(text, "solipass_messages_processed_total{topic=\"solipass.accounts.events.v1\"} 1");
    /* in creation order */
    assert_true(strstr(text, "ledger.events") < strstr(text, "accounts.events"));
    assert_line(text, "solipass_metrics_series_dropped_total 0");
    free(text);
    sp_metrics_free(m);
}

static void test_unlabelled_counter_and_gauge(void **state) {
    (void)state;
    sp_metrics *m = sp_metrics_new();
    sp_metric *dead = sp_metrics_counter(m, "solipass_dead_letters_total", "Dead letters.", NULL,
                                         0);
    sp_metric *lag = sp_metrics_gauge(m, "solipass_consumer_lag_messages", "Lag.",
                                      (const char *const[]){"topic", "partition"}, 2);
    sp_metric_add(dead, NULL, 1);
    sp_metric_set(lag, (const char *[]){"t", "0"}, 42);
    sp_metric_set(lag, (const char *[]){"t", "0"}, 7); /* a gauge keeps the last value */
    sp_metric_set(lag, (const char *[]){"t", "1"}, -3);
    char *text = render(m);
    assert_line(text, "# TYPE solipass_dead_letters_total counter");
    assert_line(text, "solipass_dead_letters_total 1");
    assert_line(text, "# TYPE solipass_consumer_lag_messages gauge");
    assert_line(text, "solipass_consumer_lag_messages{topic=\"t\",partition=\"0\"} 7");
    assert_line(text, "solipass_consumer_lag_messages{topic=\"t\",partition=\"1\"} -3");
    free(text);
    sp_metrics_free(m);
}

static void test_label_values_escaped_and_cut(void **state) {
    (void)state;
    sp_metrics *m = sp_metrics_new();
    sp_metric *c = sp_metrics_counter(m, "x_total", "X.", (const char *const[]){"code"}, 1);
    sp_metric_add(c, (const char *[]){"a\"b\\c\nd"}, 1);
    char longer[200];
    memset(longer, 'v', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    sp_metric_add(c, (const char *[]){longer}, 1);
    sp_metric_add(c, (const char *[]){longer}, 1); /* the same (cut) series */
    char *text = render(m);
    assert_line(text, "x_total{code=\"a\\\"b\\\\c\\nd\"} 1");
    char expected[256];
    snprintf(expected, sizeof expected, "x_total{code=\"%.*s\"} 2", SP_METRICS_LABEL_VALUE_MAX - 1,
             longer);
    assert_line(text, expected);
    free(text);
    sp_metrics_free(m);
}

static void test_histogram_cumulative_buckets(void **state) {
    (void)state;
    sp_metrics *m = sp_metrics_new();
    const int64_t bounds[] = {1, 5, 10};
    sp_metric *h = sp_metrics_histogram(m, "solipass_gateway_request_duration_seconds", "Time.",
                                        route_status, 2, bounds, 3);
    const char *pay[] = {"pass_pay", "201"};
    sp_metric_observe_ms(h, pay, -4); /* counts as 0 */
    sp_metric_observe_ms(h, pay, 1);  /* on a bound: that bucket */
    sp_metric_observe_ms(h, pay, 7);
    sp_metric_observe_ms(h, pay, 11); /* past every bound: +Inf only */
    sp_metric_observe_ms(h, (const char *[]){"pass_pay", "409"}, 3);
    char *text = render(m);
    assert_line(text, "# TYPE solipass_gateway_request_duration_seconds histogram");
    const char *p = "solipass_gateway_request_duration_seconds";
    char line[256];
    const char *lines[][2] = {{"0.001", "2"}, {"0.005", "2"}, {"0.01", "3"}, {"+Inf", "4"}};
    for (size_t i = 0; i < 4; i++) {
        snprintf(line, sizeof line, "%s_bucket{route=\"pass_pay\",status=\"201\",le=\"%s\"} %s", p,
                 lines[i][0], lines[i][1]);
        assert_line(text, line);
    }
    snprintf(line, sizeof line, "%s_sum{route=\"pass_pay\",status=\"201\"} 0.019", p);
    assert_line(text, line);
    snprintf(line, sizeof line, "%s_count{route=\"pass_pay\",status=\"201\"} 4", p);
    assert_line(text, line);
    snprintf(line, sizeof line, "%s_bucket{route=\"pass_pay\",status=\"409\",le=\"0.001\"} 0", p);
    assert_line(text, line);
    snprintf(line, sizeof line, "%s_bucket{route=\"pass_pay\",status=\"409\",le=\"0.005\"} 1", p);
    assert_line(text, line);
    free(text);
    sp_metrics_free(m);
}

static void test_unlabelled_histogram(void **state) {
    (void)state;
    sp_metrics *m = sp_metrics_new();
    sp_metric *h = sp_metrics_histogram(m, "d_seconds", "D.", NULL, 0, sp_metrics_latency_bounds_ms,
                                        sp_metrics_latency_bound_count);
    sp_metric_observe_ms(h, NULL, 30);
    char *text = render(m);
    assert_line(text, "d_seconds_bucket{le=\"0.025\"} 0");
    assert_line(text, "d_seconds_bucket{le=\"0.05\"} 1");
    assert_line(text, "d_seconds_bucket{le=\"10\"} 1");
    assert_line(text, "d_seconds_bucket{le=\"+Inf\"} 1");
    assert_line(text, "d_seconds_sum 0.03");
    assert_line(text, "d_seconds_count 1");
    free(text);
    sp_metrics_free(m);
}

/* Prometheus reads seconds: the shortest exact decimal of the milliseconds. */
static void test_seconds_text(void **state) {
    (void)state;
    const struct {
        uint64_t ms;
        const char *text;
    } cases[] = {{0, "0"},        {1, "0.001"},  {25, "0.025"}, {250, "0.25"},   {1000, "1"},
                 {1234, "1.234"}, {2500, "2.5"}, {10000, "10"}, {60010, "60.01"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[SP_METRICS_SECONDS_TEXT_MAX];
        sp_metrics_seconds_text(cases[i].ms, text);
        assert_string_equal(text, cases[i].text);
    }
}

static void test_series_bounded(void **state) {
    (void)state;
    sp_metrics *m = sp_metrics_new();
    sp_metric *c = sp_metrics_counter(m, "y_total", "Y.", topic_label, 1);
    char value[32];
    for (int i = 0; i < SP_METRICS_SERIES_MAX + 2; i++) {
        snprintf(value, sizeof value, "t%d", i);
        sp_metric_add(c, (const char *[]){value}, 1);
    }
    sp_metric_add(c, (const char *[]){"t0"}, 1); /* an existing series still counts */
    char *text = render(m);
    assert_line(text, "y_total{topic=\"t0\"} 2");
    snprintf(value, sizeof value, "y_total{topic=\"t%d\"} 1", SP_METRICS_SERIES_MAX - 1);
    assert_line(text, value);
    snprintf(value, sizeof value, "{topic=\"t%d\"}", SP_METRICS_SERIES_MAX);
    assert_null(strstr(text, value));
    assert_line(text, "solipass_metrics_series_dropped_total 2");
    free(text);
    sp_metrics_free(m);
}

static void test_families_bounded_and_null_safe(void **state) {
    (void)state;
    sp_metrics *m = sp_metrics_new();
    static char names[SP_METRICS_FAMILIES_MAX + 1][16];
    for (int i = 0; i < SP_METRICS_FAMILIES_MAX; i++) {
        snprintf(names[i], sizeof names[i], "f%d_total", i);
        assert_non_null(sp_metrics_counter(m, names[i], "F.", NULL, 0));
    }
    snprintf(names[SP_METRICS_FAMILIES_MAX], sizeof names[0], "extra_total");
    sp_metric *none = sp_metrics_counter(m, names[SP_METRICS_FAMILIES_MAX], "F.", NULL, 0);
    assert_null(none);
    sp_metric_add(none, NULL, 1); /* recording into a missing family does nothing */
    char *text = render(m);
    assert_null(strstr(text, "extra_total"));
    free(text);
    sp_metrics_free(m);
}

/* Past the text bound the rendering stops at the last whole family. */
static void test_text_bounded(void **state) {
    (void)state;
    sp_metrics *m = sp_metrics_new();
    static char names[8][16];
    char value[32];
    for (int f = 0; f < 8; f++) {
        snprintf(names[f], sizeof names[f], "h%d_seconds", f);
        sp_metric *h = sp_metrics_histogram(m, names[f], "H.", topic_label, 1,
                                            sp_metrics_latency_bounds_ms,
                                            sp_metrics_latency_bound_count);
        for (int i = 0; i < SP_METRICS_SERIES_MAX; i++) {
            snprintf(value, sizeof value, "a-fairly-long-topic-name-%d", i);
            sp_metric_observe_ms(h, (const char *[]){value}, i);
        }
    }
    size_t len = 0;
    char *text = sp_metrics_render(m, &len);
    assert_non_null(text);
    assert_true(len <= SP_METRICS_TEXT_MAX && len > 0);
    assert_int_equal(text[len - 1], '\n');
    assert_non_null(strstr(text, "# TYPE h0_seconds histogram"));
    assert_null(strstr(text, "# TYPE h7_seconds histogram"));
    /* the last family written is complete: its last series' _count line ends the text */
    const char *last = text + len - 1;
    while (last > text && last[-1] != '\n') last--;
    assert_non_null(strstr(last, "_count{topic=\"a-fairly-long-topic-name-1023\"} 1"));
    free(text);
    sp_metrics_free(m);
}

typedef struct adder {
    sp_metric *counter;
    sp_metric *histogram;
    int id;
} adder;

static void *add_many(void *arg) {
    adder *a = arg;
    char own[16];
    snprintf(own, sizeof own, "thread%d", a->id);
    for (int i = 0; i < ADDS_PER_THREAD; i++) {
        sp_metric_add(a->counter, (const char *[]){"shared"}, 1);
        sp_metric_add(a->counter, (const char *[]){own}, 1);
        sp_metric_observe_ms(a->histogram, NULL, i % 20);
    }
    return NULL;
}

static void test_concurrent_recording_exact(void **state) {
    (void)state;
    sp_metrics *m = sp_metrics_new();
    sp_metric *c = sp_metrics_counter(m, "z_total", "Z.", topic_label, 1);
    sp_metric *h = sp_metrics_histogram(m, "z_ms", "Z.", NULL, 0, sp_metrics_latency_bounds_ms,
                                        sp_metrics_latency_bound_count);
    pthread_t threads[THREADS];
    adder adders[THREADS];
    for (int t = 0; t < THREADS; t++) {
        adders[t] = (adder){.counter = c, .histogram = h, .id = t};
        assert_int_equal(pthread_create(&threads[t], NULL, add_many, &adders[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
    char *text = render(m);
    char line[96];
    snprintf(line, sizeof line, "z_total{topic=\"shared\"} %d", THREADS * ADDS_PER_THREAD);
    assert_line(text, line);
    for (int t = 0; t < THREADS; t++) {
        snprintf(line, sizeof line, "z_total{topic=\"thread%d\"} %d", t, ADDS_PER_THREAD);
        assert_line(text, line);
    }
    snprintf(line, sizeof line, "z_ms_count %d", THREADS * ADDS_PER_THREAD);
    assert_line(text, line);
    free(text);
    sp_metrics_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_by_label),
        cmocka_unit_test(test_unlabelled_counter_and_gauge),
        cmocka_unit_test(test_label_values_escaped_and_cut),
        cmocka_unit_test(test_histogram_cumulative_buckets),
        cmocka_unit_test(test_unlabelled_histogram),
        cmocka_unit_test(test_seconds_text),
        cmocka_unit_test(test_series_bounded),
        cmocka_unit_test(test_families_bounded_and_null_safe),
        cmocka_unit_test(test_text_bounded),
        cmocka_unit_test(test_concurrent_recording_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
