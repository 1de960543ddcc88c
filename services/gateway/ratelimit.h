/* ratelimit.h - counting failed logins, per account e-mail and per client
 * address, in a bounded in-memory table.
 *
 * A key (an e-mail, an address) may fail failures_max times within a
 * window of window_ms that starts at its first failure; then it is refused
 * until the window ends. A success clears the key. The table has a fixed
 * number of slots: a key is looked for in SP_GW_RATELIMIT_PROBES_MAX slots
 * from its hash, and when none is free or stale the one whose window started
 * first is reused (a flood of fresh keys can only push out the oldest ones).
 * Time is given by the caller (the injected clock). Thread-safe.
 *
 * Ownership: sp_gw_ratelimit_new() allocates the table, sp_gw_ratelimit_free()
 * releases it; keys are hashed, never kept. */
#ifndef SP_GW_RATELIMIT_H
#define SP_GW_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define SP_GW_RATELIMIT_PROBES_MAX 8
#define SP_GW_RATELIMIT_SLOTS_DEFAULT 65536

typedef struct sp_gw_ratelimit sp_gw_ratelimit;

/* NULL when out of memory. slots_max is rounded up to a power of two. */
sp_gw_ratelimit *sp_gw_ratelimit_new(size_t slots_max, int64_t failures_max, int64_t window_ms);
void sp_gw_ratelimit_free(sp_gw_ratelimit *limit);

/* 0 when key may try now, else the milliseconds until it may. */
int64_t sp_gw_ratelimit_wait_ms(sp_gw_ratelimit *limit, const char *key, int64_t now_ms);
/* Counts one failure of key at now_ms. */
void sp_gw_ratelimit_fail(sp_gw_ratelimit *limit, const char *key, int64_t now_ms);
/* Forgets key's failures (after a success). */
void sp_gw_ratelimit_clear(sp_gw_ratelimit *limit, const char *key);

#endif
