/* ratelimit.h - counting attempts (failed logins, password-reset requests,
 * wrong voucher numbers) per key (an e-mail, a client address, a user) in a
 * bounded in-memory table.
 *
 * A key may fail failures_max times within a window of window_ms that starts
 * at its first failure; then it is refused until the window ends.
 *
 * Concurrency: sp_gw_ratelimit_take() checks and counts in one step under the
 * table's mutex, before the slow check it guards (an Argon2id hash): each
 * attempt is counted as failed first, and given back (sp_gw_ratelimit_give_back)
 * or cleared (sp_gw_ratelimit_clear) once it is known to have succeeded. N
 * concurrent attempts of one key thus get at most failures_max tries, never N.
 *
 * Placement: a key is looked for in SP_GW_RATELIMIT_PROBES_MAX slots from a
 * keyed hash of it (SipHash, libsodium crypto_shorthash, with a random key
 * made when the table is), so that nobody can choose keys that land in the
 * group of someone else's. When a key needs a slot and its group is full,
 * a slot whose window has ended is reused, else the unlocked entry whose
 * window started first (it loses a count below the limit); a locked entry is
 * never pushed out. When every slot of the group holds a locked key, the new
 * key is refused as if it were locked, until the first of their windows ends.
 *
 * Time is given by the caller (the injected clock). Thread-safe.
 *
 * Ownership: sp_gw_ratelimit_new() allocates the table, sp_gw_ratelimit_free()
 * releases it; keys are hashed, never kept. sodium_init() must have run. */
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

/* 0 when key may try now, else the milliseconds until it may. Counts nothing. */
int64_t sp_gw_ratelimit_wait_ms(sp_gw_ratelimit *limit, const char *key, int64_t now_ms);
/* Reserves one attempt of key: 0 when it may try now, and the attempt is
 * counted as a failure; else the milliseconds until it may (key locked, or
 * its group full of locked keys) and nothing is counted. */
int64_t sp_gw_ratelimit_take(sp_gw_ratelimit *limit, const char *key, int64_t now_ms);
/* Takes back one attempt reserved by sp_gw_ratelimit_take() (it did not fail). */
void sp_gw_ratelimit_give_back(sp_gw_ratelimit *limit, const char *key, int64_t now_ms);
/* Counts one failure of key at now_ms, after the fact (not counted when its
 * group is full of locked keys). */
void sp_gw_ratelimit_fail(sp_gw_ratelimit *limit, const char *key, int64_t now_ms);
/* Forgets key's failures (after a success). */
void sp_gw_ratelimit_clear(sp_gw_ratelimit *limit, const char *key);

#endif
