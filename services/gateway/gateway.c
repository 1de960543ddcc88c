/* gateway.c - the monotonic clock and condition-variable deadlines that the
 * gateway's waiting modules (pool, commands, projection wait) share. */
#include "gateway.h"

#include <assert.h>

int64_t sp_gw_monotonic_ms(void) {
    return sp_clock_monotonic_ms();
}

int sp_gw_cond_init(pthread_cond_t *cond) {
    assert(cond != NULL);
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0) return -1;
    int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
                     pthread_cond_init(cond, &attr) == 0
                 ? 0
                 : -1;
    pthread_condattr_destroy(&attr);
    return rc;
}

struct timespec sp_gw_deadline_timespec(int64_t deadline_ms) {
    assert(deadline_ms >= 0);
    struct timespec ts = {.tv_sec = (time_t)(deadline_ms / 1000),
                          .tv_nsec = (long)(deadline_ms % 1000) * 1000000L};
    return ts;
}
