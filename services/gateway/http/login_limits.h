/* login_limits.h - failed logins counted in PostgreSQL, so that every
 * gateway of a deployment shares one count per account e-mail and per client
 * address (the in-memory tables of ratelimit.h count per process: N gateways
 * would allow N times the guesses).
 *
 * Why PostgreSQL and not the accounts service: a login must reserve its
 * attempt before the Argon2id check, and the count must be exact whatever
 * gateway answers. One upsert (INSERT ... ON CONFLICT DO UPDATE) does that
 * in one round trip under the row's lock; going through the accounts
 * service would add a Kafka command, its decision and the projection's wait
 * to every login, and would write every anonymous guess into the event log,
 * which is kept for ever. The count is not money nor an account's state:
 * losing it (a restored database) only reopens one window of guesses.
 *
 * Semantics are ratelimit.h's: a key may fail failures_max times within a
 * window of window_ms that starts at its first counted failure; a
 * reservation counts as a failure until given back or cleared. Keys are
 * stored as a keyed BLAKE2b hash of the kind and the key under a key
 * derived from SP_LINK_SECRET (the same on every gateway), so a dump names
 * no e-mail nor address. Time is the caller's (the injected clock).
 *
 * Ownership: nothing is kept between calls; the pool is the caller's. */
#ifndef SP_GW_LOGIN_LIMITS_H
#define SP_GW_LOGIN_LIMITS_H

#include <stdbool.h>
#include <stdint.h>
#include "sp_error.h"

typedef struct sp_gw_pgpool sp_gw_pgpool;

#define SP_GW_LOGIN_KEY_HASH_HEX_LEN 64

typedef struct sp_gw_login_limit {
    sp_gw_pgpool *pool;
    const char *secret; /* SP_LINK_SECRET ("" allowed: hashes then unkeyed) */
    const char *kind;   /* "account" or "address": keys of each kind apart */
    int64_t failures_max;
    int64_t window_ms;
    bool purges; /* its takes delete ended rows (one kind per login) */
} sp_gw_login_limit;

/* hex = keyed BLAKE2b-256 of kind and key (pure). */
void sp_gw_login_key_hash(const char *secret, const char *kind, const char *key,
                          char hex[SP_GW_LOGIN_KEY_HASH_HEX_LEN + 1]);
/* Reserves one attempt of key: *wait_ms 0 when it may try now (counted as a
 * failure), else the milliseconds until it may (nothing counted). When
 * limit->purges, first deletes a bounded number of rows whose window ended. -1 with err (503)
 * when the database does not answer. */
int sp_gw_login_limit_take(const sp_gw_login_limit *limit, const char *key, int64_t now_ms,
                           int64_t *wait_ms, sp_error *err);
/* Takes back one attempt reserved by sp_gw_login_limit_take(). */
int sp_gw_login_limit_give_back(const sp_gw_login_limit *limit, const char *key, int64_t now_ms,
                                sp_error *err);
/* Forgets key's failures (after a success). */
int sp_gw_login_limit_clear(const sp_gw_login_limit *limit, const char *key, sp_error *err);

#endif
