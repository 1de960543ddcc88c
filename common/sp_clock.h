/* sp_clock.h - injected time, and the Europe/Paris calendar.
 *
 * Every service reads "now" through a sp_clock, never time() directly, so that
 * monthly refunds, voucher and envelope expiry and session expiry can be tested.
 * The clock is system time plus an offset; when SP_CLOCK_OFFSET_FILE names a
 * file, its content (a signed integer of milliseconds) is that offset, re-read
 * at most every 200 ms: tests move time forward by writing the file. */
#ifndef SP_CLOCK_H
#define SP_CLOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "sp_error.h"

typedef struct sp_clock {
    const char *offset_file; /* borrowed; NULL = plain system time */
    pthread_mutex_t mutex;
    int64_t offset_ms;
    int64_t offset_read_at_ms; /* monotonic time of the last read */
} sp_clock;

void sp_clock_init(sp_clock *clock, const char *offset_file /* may be NULL */);
void sp_clock_destroy(sp_clock *clock);
int64_t sp_clock_now_ms(sp_clock *clock); /* Unix ms, UTC */

/* Durations, timeouts and deadlines are measured on the monotonic clock,
 * which neither the offset file nor a change of system time moves. */
int64_t sp_clock_monotonic_ms(void);
/* Sleeps ms (>= 0) or less: a signal ends the sleep early, so that a loop
 * sleeping between checks of its stop flag sees SIGTERM at once. */
void sp_clock_sleep_ms(int64_t ms);

/* --- the Europe/Paris calendar, pure functions --- */

/* Dates are days since 1970-01-01 (proleptic Gregorian). */
typedef int32_t sp_date;

/* UTC offset of Europe/Paris at that instant: 3600000 (CET) or 7200000 (CEST),
 * by the EU rule (last Sunday of March 01:00 UTC to last Sunday of October 01:00 UTC). */
int64_t sp_paris_utc_offset_ms(int64_t utc_ms);
sp_date sp_paris_date_of(int64_t utc_ms);
/* "YYYY-MM-DD" strictly (real calendar date, year 2000..2199). */
int sp_date_parse(const char *text, sp_date *out, sp_error *err);
void sp_date_format(sp_date date, char out[11]);
sp_date sp_date_from_ymd(int year, int month, int day);
void sp_date_to_ymd(sp_date date, int *year, int *month, int *day);
int sp_days_in_month(int year, int month);

/* --- the monthly refund run (P19), pure functions ---
 * Period M (a calendar month) is refunded at its run instant: 00:00
 * Europe/Paris on day min(30, days in M) - the 30th, or the last day of a
 * shorter month (February 28 or 29). */
typedef struct sp_refund_period {
    int year;  /* 2000..2199 */
    int month; /* 1..12 */
} sp_refund_period;

#define SP_REFUND_PERIOD_TEXT_LEN 7 /* "YYYY-MM" */

/* The UTC instant of 00:00 Europe/Paris on date. */
int64_t sp_paris_midnight_ms(sp_date date);
int sp_clock_refund_run_day(int year, int month);
/* Unix ms (UTC) of the run instant of period. */
int64_t sp_clock_refund_run_ms(sp_refund_period period);
/* The period due at now_ms: the latest month whose run instant is <= now_ms. */
sp_refund_period sp_clock_refund_period_due(int64_t now_ms);
/* "YYYY-MM" into out (SP_REFUND_PERIOD_TEXT_LEN + 1 bytes). */
void sp_clock_refund_period_format(sp_refund_period period, char *out);

#endif
