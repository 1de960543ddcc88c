/* test_clock.c - the Paris calendar (summer time edges, dates around
 * midnight, civil dates, strict parsing) and the offset-file clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "sp_clock.h"

#define HOUR_MS INT64_C(3600000)
#define CET_MS HOUR_MS
#define CEST_MS (2 * HOUR_MS)

static int64_t utc_ms(int year, int month, int day, int hour, int minute, int second, int ms) {
    return (int64_t)sp_date_from_ymd(year, month, day) * 86400000 +
           ((int64_t)hour * 3600 + minute * 60 + second) * 1000 + ms;
}

static void assert_date(sp_date date, const char *expected) {
    char text[11];
    sp_date_format(date, text);
    assert_string_equal(text, expected);
}

static void test_civil_dates(void **state) {
    (void)state;
    assert_int_equal(sp_date_from_ymd(1970, 1, 1), 0);
    assert_int_equal(sp_date_from_ymd(1969, 12, 31), -1);
    assert_int_equal(sp_date_from_ymd(2000, 3, 1), 11017);
    assert_int_equal(sp_date_from_ymd(2026, 3, 29), 20541);
    assert_int_equal(sp_date_from_ymd(2199, 12, 31), 84005);
    /* Every day of the accepted range goes there and back, one day apart. */
    sp_date first = sp_date_from_ymd(2000, 1, 1);
    sp_date last = sp_date_from_ymd(2199, 12, 31);
    int year = 2000, month = 1, day = 1;
    for (sp_date d = first; d <= last; d++) {
        int y, m, dd;
        sp_date_to_ymd(d, &y, &m, &dd);
        assert_int_equal(y, year);
        assert_int_equal(m, month);
        assert_int_equal(dd, day);
        assert_int_equal(sp_date_from_ymd(y, m, dd), d);
        char text[11];
        sp_date_format(d, text);
        sp_date parsed = -1;
        assert_int_equal(sp_date_parse(text, &parsed, NULL), 0);
        assert_int_equal(parsed, d);
        if (++day > sp_days_in_month(year, month)) {
            day = 1;
            if (++month > 12) {
                month = 1;
                year++;
            }
        }
    }
}

static void test_days_in_month(void **state) {
    (void)state;
    assert_int_equal(sp_days_in_month(2024, 2), 29);
    assert_int_equal(sp_days_in_month(2026, 2), 28);
    assert_int_equal(sp_days_in_month(2000, 2), 29); /* divisible by 400 */
    assert_int_equal(sp_days_in_month(2100, 2), 28); /* divisible by 100 only */
    assert_int_equal(sp_days_in_month(2026, 4), 30);
    assert_int_equal(sp_days_in_month(2026, 12), 31);
}

static void test_paris_offset_at_dst_edges(void **state) {
    (void)state;
    /* 2026: summer time from Sunday 29 March to Sunday 25 October, 01:00 UTC. */
    assert_int_equal(sp_paris_utc_offset_ms(utc_ms(2026, 3, 29, 0, 59, 59, 999)), CET_MS);
    assert_int_equal(sp_paris_utc_offset_ms(utc_ms(2026, 3, 29, 1, 0, 0, 0)), CEST_MS);
    assert_int_equal(sp_paris_utc_offset_ms(utc_ms(2026, 10, 25, 0, 59, 59, 999)), CEST_MS);
    assert_int_equal(sp_paris_utc_offset_ms(utc_ms(2026, 10, 25, 1, 0, 0, 0)), CET_MS);
    /* A week before the change is still winter time, despite also being a Sunday. */
    assert_int_equal(sp_paris_utc_offset_ms(utc_ms(2026, 3, 22, 12, 0, 0, 0)), CET_MS);
    assert_int_equal(sp_paris_utc_offset_ms(utc_ms(2026, 10, 18, 12, 0, 0, 0)), CEST_MS);
    /* 2027: 28 March and 31 October. */
    assert_int_equal(sp_paris_utc_offset_ms(utc_ms(2027, 3, 28, 0, 59, 59, 999)), CET_MS);
    assert_int_equal(sp_paris_utc_offset_ms(utc_ms(2027, 3, 28, 1, 0, 0, 0)), CEST_MS);
    assert_int_equal(sp_paris_utc_offset_ms(utc_ms(2027, 10, 31, 0, 59, 59, 999)), CEST_MS);
    assert_int_equal(sp_paris_utc_offset_ms(utc_ms(2027, 10, 31, 1, 0, 0, 0)), CET_MS);
    assert_int_equal(sp_paris_utc_offset_ms(utc_ms(2026, 1, 1, 0, 0, 0, 0)), CET_MS);
    assert_int_equal(sp_paris_utc_offset_ms(utc_ms(2026, 7, 14, 12, 0, 0, 0)), CEST_MS);
}

static void test_paris_date_around_midnight(void **state) {
    (void)state;
    /* Summer: Paris midnight is 22:00 UTC. */
    assert_date(sp_paris_date_of(utc_ms(2026, 6, 30, 21, 59, 59, 999)), "2026-06-30");
    assert_date(sp_paris_date_of(utc_ms(2026, 6, 30, 22, 0, 0, 0)), "2026-07-01");
    assert_date(sp_paris_date_of(utc_ms(2026, 6, 30, 22, 30, 0, 0)), "2026-07-01");
    /* Winter: Paris midnight is 23:00 UTC, across a year. */
    assert_date(sp_paris_date_of(utc_ms(2026, 12, 31, 22, 59, 59, 999)), "2026-12-31");
    assert_date(sp_paris_date_of(utc_ms(2026, 12, 31, 23, 0, 0, 0)), "2027-01-01");
    /* Leap day. */
    assert_date(sp_paris_date_of(utc_ms(2028, 2, 28, 23, 0, 0, 0)), "2028-02-29");
    /* Before the epoch, rounding goes down, not towards zero. */
    assert_int_equal(sp_paris_date_of(-1), 0);            /* 00:59:59.999 in Paris */
    assert_int_equal(sp_paris_date_of(-HOUR_MS - 1), -1); /* 23:59:59.999 on 1969-12-31 */
}

static void test_date_parse_strict(void **state) {
    (void)state;
    sp_date date = 0;
    sp_error err;
    assert_int_equal(sp_date_parse("2024-02-29", &date, &err), 0);
    assert_date(date, "2024-02-29");
    assert_int_equal(sp_date_parse("2000-01-01", &date, &err), 0);
    assert_int_equal(sp_date_parse("2199-12-31", &date, &err), 0);

    const char *bad[] = {
        NULL,          "",           "2026-02-29", "2100-02-29",  "2026-04-31",
        "2026-13-01",  "2026-00-10", "2026-01-00", "1999-12-31",  "2200-01-01",
        "2026-2-01",   "2026-02-1",  "2026/02/01", "2026-02-01x", " 2026-02-01",
        "2026-02-01 ", "20260201",   "+026-02-01", "2026-0a-01",  "2026-02-01T00:00"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sp_error_clear(&err);
        date = 12345;
        assert_int_equal(sp_date_parse(bad[i], &date, &err), -1);
        assert_int_equal(err.http_status, 422);
        assert_string_equal(err.code, "invalid_date");
        assert_int_equal(date, 12345);
    }
}

/* ------------------------------------------------------------ the clock */

static int64_t real_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void write_file(const char *path, const char *content) {
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs(content, file);
    assert_int_equal(fclose(file), 0);
}

/* The clock's offset, give or take the time between the two readings. */
static void assert_offset(sp_clock *clock, int64_t expected_ms) {
    int64_t before = real_now_ms();
    int64_t now = sp_clock_now_ms(clock);
    int64_t after = real_now_ms();
    assert_true(now >= before + expected_ms - 5);
    assert_true(now <= after + expected_ms + 5);
}

static void test_clock_without_file_is_system_time(void **state) {
    (void)state;
    sp_clock clock;
    sp_clock_init(&clock, NULL);
    assert_offset(&clock, 0);
    sp_clock_destroy(&clock);
    sp_clock_init(&clock, "");
    assert_offset(&clock, 0);
    sp_clock_destroy(&clock);
}

static void test_clock_follows_offset_file(void **state) {
    (void)state;
    char dir[] = "/tmp/test_clock_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/offset", dir);

    write_file(path, "60000\n");
    sp_clock clock;
    sp_clock_init(&clock, path);
    assert_offset(&clock, 60000);

    /* Unparsable content keeps the last good value. */
    const char *garbage[] = {"soon",          "",    "12abc", "99999999999999999999",
                             "4000000000000", "1 2", "--5"};
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        write_file(path, garbage[i]);
        sleep_ms(250);
        assert_offset(&clock, 60000);
    }

    write_file(path, "  -5000 \n");
    sleep_ms(250);
    assert_offset(&clock, -5000);

    /* Re-read at most every 200 ms: a change right after a read is not seen yet. */
    write_file(path, "+120000");
    assert_offset(&clock, -5000);
    sleep_ms(250);
    assert_offset(&clock, 120000);

    /* No file: no offset. */
    assert_int_equal(unlink(path), 0);
    sleep_ms(250);
    assert_offset(&clock, 0);

    sp_clock_destroy(&clock);
    assert_int_equal(rmdir(dir), 0);
}

/* ------------------------------------------------------------ the monthly refund run */

static void assert_run(int year, int month, int64_t expected_utc_ms) {
    sp_refund_period period = {.year = year, .month = month};
    assert_int_equal(sp_clock_refund_run_ms(period), expected_utc_ms);
}

static void assert_due(int64_t now_ms, const char *expected) {
    char text[SP_REFUND_PERIOD_TEXT_LEN + 1];
    sp_clock_refund_period_format(sp_clock_refund_period_due(now_ms), text);
    assert_string_equal(text, expected);
}

static void test_refund_run_day(void **state) {
    (void)state;
    assert_int_equal(sp_clock_refund_run_day(2026, 11), 30);
    assert_int_equal(sp_clock_refund_run_day(2026, 12), 30); /* 31 days: still the 30th */
    assert_int_equal(sp_clock_refund_run_day(2026, 4), 30);  /* 30 days: its last day */
    assert_int_equal(sp_clock_refund_run_day(2026, 2), 28);
    assert_int_equal(sp_clock_refund_run_day(2024, 2), 29); /* leap year */
    assert_int_equal(sp_clock_refund_run_day(2100, 2), 28); /* century, not leap */
    assert_int_equal(sp_clock_refund_run_day(2000, 2), 29); /* 400 years, leap */
}

static void test_paris_midnight_on_dst_change_days(void **state) {
    (void)state;
    /* Summer time starts at 01:00 UTC on 2026-03-29: its midnight is still CET. */
    assert_int_equal(sp_paris_midnight_ms(sp_date_from_ymd(2026, 3, 29)),
                     utc_ms(2026, 3, 28, 23, 0, 0, 0));
    assert_int_equal(sp_paris_midnight_ms(sp_date_from_ymd(2026, 3, 30)),
                     utc_ms(2026, 3, 29, 22, 0, 0, 0));
    /* Summer time ends at 01:00 UTC on 2026-10-25: its midnight is still CEST. */
    assert_int_equal(sp_paris_midnight_ms(sp_date_from_ymd(2026, 10, 25)),
                     utc_ms(2026, 10, 24, 22, 0, 0, 0));
    assert_int_equal(sp_paris_midnight_ms(sp_date_from_ymd(2026, 10, 26)),
                     utc_ms(2026, 10, 25, 23, 0, 0, 0));
}

static void test_refund_run_instant(void **state) {
    (void)state;
    assert_run(2026, 11, utc_ms(2026, 11, 29, 23, 0, 0, 0)); /* CET */
    assert_run(2026, 4, utc_ms(2026, 4, 29, 22, 0, 0, 0));   /* CEST, a month of 30 days */
    assert_run(2026, 2, utc_ms(2026, 2, 27, 23, 0, 0, 0));
    assert_run(2024, 2, utc_ms(2024, 2, 28, 23, 0, 0, 0));
    assert_run(2100, 2, utc_ms(2100, 2, 27, 23, 0, 0, 0));
    assert_run(2000, 2, utc_ms(2000, 2, 28, 23, 0, 0, 0));
    /* The runs of the months whose summer time changes (2026-03-29, 2026-10-25). */
    assert_run(2026, 3, utc_ms(2026, 3, 29, 22, 0, 0, 0));
    assert_run(2026, 10, utc_ms(2026, 10, 29, 23, 0, 0, 0));
    /* Years whose change day is the 30th itself: still midnight before it. */
    assert_run(2025, 3, utc_ms(2025, 3, 29, 23, 0, 0, 0));
    assert_run(2022, 10, utc_ms(2022, 10, 29, 22, 0, 0, 0));
}

static void test_refund_period_due(void **state) {
    (void)state;
    int64_t run_ms = utc_ms(2026, 11, 29, 23, 0, 0, 0);
    assert_due(run_ms - 1, "2026-10");
    assert_due(run_ms, "2026-11");
    assert_due(run_ms + 1, "2026-11");
    assert_due(utc_ms(2026, 11, 30, 23, 30, 0, 0), "2026-11"); /* already December 1st in Paris */
    assert_due(utc_ms(2027, 1, 15, 12, 0, 0, 0), "2026-12");   /* across the year */
    assert_due(utc_ms(2026, 12, 31, 22, 59, 59, 999), "2026-12");
    int64_t february_ms = utc_ms(2024, 2, 28, 23, 0, 0, 0); /* Feb 29 00:00 Paris */
    assert_due(february_ms - 1, "2024-01");
    assert_due(february_ms, "2024-02");
    assert_due(utc_ms(2026, 2, 27, 23, 0, 0, 0), "2026-02");     /* Feb 28 in a common year */
    assert_due(utc_ms(2026, 3, 29, 21, 59, 59, 999), "2026-02"); /* just before March's run */
    assert_due(utc_ms(2026, 3, 29, 22, 0, 0, 0), "2026-03");
    assert_due(utc_ms(2026, 10, 29, 22, 59, 59, 999), "2026-09");
    assert_due(utc_ms(2026, 10, 29, 23, 0, 0, 1), "2026-10");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_civil_dates),
        cmocka_unit_test(test_days_in_month),
        cmocka_unit_test(test_paris_offset_at_dst_edges),
        cmocka_unit_test(test_paris_date_around_midnight),
        cmocka_unit_test(test_date_parse_strict),
        cmocka_unit_test(test_clock_without_file_is_system_time),
        cmocka_unit_test(test_clock_follows_offset_file),
        cmocka_unit_test(test_refund_run_day),
        cmocka_unit_test(test_paris_midnight_on_dst_change_days),
        cmocka_unit_test(test_refund_run_instant),
        cmocka_unit_test(test_refund_period_due),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
