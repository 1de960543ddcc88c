/* sp_clock.c - the injected clock (system time plus an offset a file can
 * move) and the Europe/Paris calendar (EU summer-time rule, civil dates). */
#include "sp_clock.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SP_CLOCK_REREAD_MS 200
/* The offset file holds a short decimal number; anything longer is garbage. */
#define SP_CLOCK_OFFSET_FILE_BYTES_MAX 64
/* A century either way: enough for any test, far from int64_t overflow. */
#define SP_CLOCK_OFFSET_ABS_MS_MAX INT64_C(3155760000000)
#define SP_CLOCK_NEVER_READ INT64_MIN

#define MS_PER_HOUR INT64_C(3600000)
#define MS_PER_DAY INT64_C(86400000)

#define SP_DATE_YEAR_MIN 2000
#define SP_DATE_YEAR_MAX 2199

static int64_t timespec_ms(clockid_t id) {
    struct timespec ts;
    int rc = clock_gettime(id, &ts);
    assert(rc == 0);
    (void)rc;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sp_clock_monotonic_ms(void) {
    return timespec_ms(CLOCK_MONOTONIC);
}

void sp_clock_sleep_ms(int64_t ms) {
    assert(ms >= 0);
    struct timespec pause = {.tv_sec = (time_t)(ms / 1000),
                             .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

static int64_t floor_div(int64_t a, int64_t b) {
    assert(b > 0);
    int64_t q = a / b;
    return (a % b < 0) ? q - 1 : q;
}

void sp_clock_init(sp_clock *clock, const char *offset_file) {
    assert(clock != NULL);
    /* SP_CLOCK_OFFSET_FILE defaults to "": plain system time. */
    clock->offset_file = (offset_file != NULL && offset_file[0] != '\0') ? offset_file : NULL;
    int rc = pthread_mutex_init(&clock->mutex, NULL);
    assert(rc == 0);
    (void)rc;
    clock->offset_ms = 0;
    clock->offset_read_at_ms = SP_CLOCK_NEVER_READ;
}

void sp_clock_destroy(sp_clock *clock) {
    assert(clock != NULL);
    pthread_mutex_destroy(&clock->mutex);
}

/* Whole text = optional whitespace, a signed decimal integer, optional whitespace. */
static bool parse_offset_text(const char *text, int64_t *out_ms) {
    const char *p = text;
    while (isspace((unsigned char)*p)) p++;
    if (!(isdigit((unsigned char)*p) ||
          ((*p == '-' || *p == '+') && isdigit((unsigned char)p[1])))) {
        return false;
    }
    errno = 0;
    char *end = NULL;
    long long value = strtoll(p, &end, 10);
    if (errno != 0 || end == p) return false;
    while (isspace((unsigned char)*end)) end++;
    if (*end != '\0') return false;
    if (value > SP_CLOCK_OFFSET_ABS_MS_MAX || value < -SP_CLOCK_OFFSET_ABS_MS_MAX) return false;
    *out_ms = (int64_t)value;
    return true;
}

/* Updates *offset_ms from the file: 0 when it does not exist, unchanged when
 * it cannot be read or parsed (a writer may be half-way through). */
static void read_offset_file(const char *path, int64_t *offset_ms) {
    FILE *file = fopen(path, "re");
    if (file == NULL) {
        if (errno == ENOENT) *offset_ms = 0;
        return;
    }
    char text[SP_CLOCK_OFFSET_FILE_BYTES_MAX + 1];
    size_t len = fread(text, 1, sizeof text - 1, file);
    bool complete = ferror(file) == 0 && fgetc(file) == EOF;
    fclose(file);
    if (!complete) return;
    text[len] = '\0';
    if (memchr(text, '\0', len) != NULL) return;
    int64_t parsed_ms;
    if (parse_offset_text(text, &parsed_ms)) *offset_ms = parsed_ms;
}

int64_t sp_clock_now_ms(sp_clock *clock) {
    assert(clock != NULL);
    if (clock->offset_file == NULL) return timespec_ms(CLOCK_REALTIME);
    pthread_mutex_lock(&clock->mutex);
    int64_t mono_ms = timespec_ms(CLOCK_MONOTONIC);
    if (clock->offset_read_at_ms == SP_CLOCK_NEVER_READ ||
        mono_ms - clock->offset_read_at_ms >= SP_CLOCK_REREAD_MS) {
        read_offset_file(clock->offset_file, &clock->offset_ms);
        clock->offset_read_at_ms = mono_ms;
    }
    int64_t offset_ms = clock->offset_ms;
    pthread_mutex_unlock(&clock->mutex);
    assert(offset_ms >= -SP_CLOCK_OFFSET_ABS_MS_MAX && offset_ms <= SP_CLOCK_OFFSET_ABS_MS_MAX);
    return timespec_ms(CLOCK_REALTIME) + offset_ms;
}

/* ------------------------------------------------------------ the calendar */

/* Civil date <-> day count: count in 400-year eras of 146097 days whose years
 * start on March 1st, so the leap day is the last day of its year. */
static int64_t days_from_civil(int64_t year, int month, int day) {
    year -= month <= 2;
    int64_t era = floor_div(year, 400);
    int64_t year_of_era = year - era * 400;
    int64_t month_from_march = (month + 9) % 12;
    int64_t day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468; /* 719468 = days from 0000-03-01 to 1970-01-01 */
}

static void civil_from_days(int64_t days, int64_t *year, int *month, int *day) {
    days += 719468;
    int64_t era = floor_div(days, 146097);
    int64_t day_of_era = days - era * 146097;
    int64_t year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 -
                           day_of_era / 146096) /
                          365;
    int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int64_t month_from_march = (5 * day_of_year + 2) / 153;
    *day = (int)(day_of_year - (153 * month_from_march + 2) / 5 + 1);
    *month = (int)(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
    *year = year_of_era + era * 400 + (*month <= 2);
}

sp_date sp_date_from_ymd(int year, int month, int day) {
    assert(month >= 1 && month <= 12);
    assert(day >= 1 && day <= 31);
    int64_t days = days_from_civil(year, month, day);
    assert(days >= INT32_MIN && days <= INT32_MAX);
    return (sp_date)days;
}

void sp_date_to_ymd(sp_date date, int *year, int *month, int *day) {
    assert(year != NULL && month != NULL && day != NULL);
    int64_t y;
    civil_from_days(date, &y, month, day);
    *year = (int)y;
}

int sp_days_in_month(int year, int month) {
    assert(month >= 1 && month <= 12);
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2) {
        bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        return leap ? 29 : 28;
    }
    return days[month - 1];
}

/* 0 = Sunday; 1970-01-01 was a Thursday. */
static int64_t weekday_of(int64_t days) {
    int64_t wd = (days + 4) % 7;
    return wd < 0 ? wd + 7 : wd;
}

static int64_t last_sunday_utc_1am_ms(int64_t year, int month) {
    int64_t last_day = days_from_civil(year, month, 31); /* March and October have 31 days */
    int64_t sunday = last_day - weekday_of(last_day);
    return sunday * MS_PER_DAY + MS_PER_HOUR;
}

int64_t sp_paris_utc_offset_ms(int64_t utc_ms) {
    int64_t year;
    int month, day;
    civil_from_days(floor_div(utc_ms, MS_PER_DAY), &year, &month, &day);
    int64_t summer_start_ms = last_sunday_utc_1am_ms(year, 3);
    int64_t summer_end_ms = last_sunday_utc_1am_ms(year, 10);
    return (utc_ms >= summer_start_ms && utc_ms < summer_end_ms) ? 2 * MS_PER_HOUR : MS_PER_HOUR;
}

sp_date sp_paris_date_of(int64_t utc_ms) {
    int64_t days = floor_div(utc_ms + sp_paris_utc_offset_ms(utc_ms), MS_PER_DAY);
    assert(days >= INT32_MIN && days <= INT32_MAX);
    return (sp_date)days;
}

static bool parse_digits(const char *text, size_t count, int *out) {
    int value = 0;
    for (size_t i = 0; i < count; i++) {
        if (text[i] < '0' || text[i] > '9') return false;
        value = value * 10 + (text[i] - '0');
    }
    *out = value;
    return true;
}

int sp_date_parse(const char *text, sp_date *out, sp_error *err) {
    assert(out != NULL);
    int year = 0, month = 0, day = 0;
    bool ok = text != NULL && strnlen(text, 11) == 10 && text[4] == '-' && text[7] == '-' &&
              parse_digits(text, 4, &year) && parse_digits(text + 5, 2, &month) &&
              parse_digits(text + 8, 2, &day) && year >= SP_DATE_YEAR_MIN &&
              year <= SP_DATE_YEAR_MAX && month >= 1 && month <= 12 && day >= 1 &&
              day <= sp_days_in_month(year, month);
    if (!ok) {
        return sp_error_set(err, 422, "invalid_date", NULL,
                            "a date must be a real calendar date written YYYY-MM-DD, "
                            "years %d to %d, got '%.32s'",
                            SP_DATE_YEAR_MIN, SP_DATE_YEAR_MAX, text ? text : "");
    }
    *out = sp_date_from_ymd(year, month, day);
    return 0;
}

void sp_date_format(sp_date date, char out[11]) {
    assert(out != NULL);
    int year, month, day;
    sp_date_to_ymd(date, &year, &month, &day);
    assert(year >= 0 && year <= 9999);
    /* Digit by digit: the ranges are known, and snprintf cannot prove they fit. */
    out[0] = (char)('0' + year / 1000);
    out[1] = (char)('0' + year / 100 % 10);
    out[2] = (char)('0' + year / 10 % 10);
    out[3] = (char)('0' + year % 10);
    out[4] = '-';
    out[5] = (char)('0' + month / 10);
    out[6] = (char)('0' + month % 10);
    out[7] = '-';
    out[8] = (char)('0' + day / 10);
    out[9] = (char)('0' + day % 10);
    out[10] = '\0';
}

/* ------------------------------------------------------------ the monthly refund run */

#define SP_REFUND_RUN_DAY_MAX 30

int sp_clock_refund_run_day(int year, int month) {
    int days = sp_days_in_month(year, month);
    return days < SP_REFUND_RUN_DAY_MAX ? days : SP_REFUND_RUN_DAY_MAX;
}

/* Midnight is never inside a summer-time change (they happen at 02:00 and
 * 03:00 local), so exactly one of the two offsets gives an instant whose own
 * offset is that one. */
int64_t sp_paris_midnight_ms(sp_date date) {
    int64_t local_ms = (int64_t)date * MS_PER_DAY;
    int64_t winter_ms = local_ms - MS_PER_HOUR;
    if (sp_paris_utc_offset_ms(winter_ms) == MS_PER_HOUR) return winter_ms;
    int64_t summer_ms = local_ms - 2 * MS_PER_HOUR;
    assert(sp_paris_utc_offset_ms(summer_ms) == 2 * MS_PER_HOUR);
    return summer_ms;
}

int64_t sp_clock_refund_run_ms(sp_refund_period period) {
    assert(period.month >= 1 && period.month <= 12);
    int day = sp_clock_refund_run_day(period.year, period.month);
    return sp_paris_midnight_ms(sp_date_from_ymd(period.year, period.month, day));
}

sp_refund_period sp_clock_refund_period_due(int64_t now_ms) {
    int year, month, day;
    sp_date_to_ymd(sp_paris_date_of(now_ms), &year, &month, &day);
    sp_refund_period period = {.year = year, .month = month};
    if (sp_clock_refund_run_ms(period) <= now_ms) return period;
    /* Before this month's run: the previous month is the latest one due. */
    if (period.month == 1) {
        period.year--;
        period.month = 12;
    } else {
        period.month--;
    }
    assert(sp_clock_refund_run_ms(period) <= now_ms);
    return period;
}

void sp_clock_refund_period_format(sp_refund_period period, char *out) {
    assert(out != NULL && period.year >= 0 && period.year <= 9999);
    assert(period.month >= 1 && period.month <= 12);
    out[0] = (char)('0' + period.year / 1000);
    out[1] = (char)('0' + period.year / 100 % 10);
    out[2] = (char)('0' + period.year / 10 % 10);
    out[3] = (char)('0' + period.year % 10);
    out[4] = '-';
    out[5] = (char)('0' + period.month / 10);
    out[6] = (char)('0' + period.month % 10);
    out[7] = '\0';
}
