/* login_limits.c - failed logins counted in PostgreSQL, shared by every
 * gateway (login_limits.h says why there and not in the accounts service). */
#include "login_limits.h"

#include <assert.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pgpool.h"

/* Rows whose window ended deleted by one login: the table holds about the
 * keys counted within one window, whatever has come before. */
#define LOGIN_PURGE_ROWS_MAX 64

/* clang-format off */
/* The window restarts when it ended (or when the clock was moved back by a
 * whole window, as in ratelimit.c); a refused reservation counts nothing. */
static const char take_sql[] =
    "INSERT INTO login_attempts AS a (key_hash, window_start_ms, failures, taken)"
    " VALUES ($1, $2::bigint, 1, true) ON CONFLICT (key_hash) DO UPDATE SET"
    " window_start_ms = CASE WHEN $2::bigint >= a.window_start_ms + $3::bigint"
    "   OR $2::bigint <= a.window_start_ms - $3::bigint THEN $2::bigint"
    "   ELSE a.window_start_ms END,"
    " failures = CASE WHEN $2::bigint >= a.window_start_ms + $3::bigint"
    "   OR $2::bigint <= a.window_start_ms - $3::bigint THEN 1"
    "   WHEN a.failures < $4::int THEN a.failures + 1 ELSE a.failures END,"
    " taken = $2::bigint >= a.window_start_ms + $3::bigint"
    "   OR $2::bigint <= a.window_start_ms - $3::bigint OR a.failures < $4::int"
    " RETURNING taken, window_start_ms";

static const char purge_sql[] =
    "DELETE FROM login_attempts WHERE key_hash IN (SELECT key_hash FROM login_attempts"
    " WHERE window_start_ms <= $1::bigint - $2::bigint LIMIT $3::int)";

static const char give_back_sql[] =
    "UPDATE login_attempts SET failures = failures - 1 WHERE key_hash = $1 AND failures > 0"
    " AND window_start_ms > $2::bigint - $3::bigint";

static const char clear_sql[] = "DELETE FROM login_attempts WHERE key_hash = $1";
/* clang-format on */

void sp_gw_login_key_hash(const char *secret, const char *kind, const char *key,
                          char hex[SP_GW_LOGIN_KEY_HASH_HEX_LEN + 1]) {
    static const char context[] = "solipass login attempts v1";
    uint8_t subkey[crypto_generichash_KEYBYTES];
    crypto_generichash(subkey, sizeof subkey, (const uint8_t *)secret, strlen(secret),
                       (const uint8_t *)context, sizeof context - 1);
    crypto_generichash_state state;
    crypto_generichash_init(&state, subkey, sizeof subkey, SP_GW_LOGIN_KEY_HASH_HEX_LEN / 2);
    /* The kind ends with its NUL: no kind and key pair reads as another. */
    crypto_generichash_update(&state, (const uint8_t *)kind, strlen(kind) + 1);
    crypto_generichash_update(&state, (const uint8_t *)key, strlen(key));
    uint8_t out[SP_GW_LOGIN_KEY_HASH_HEX_LEN / 2];
    crypto_generichash_final(&state, out, sizeof out);
    sodium_bin2hex(hex, SP_GW_LOGIN_KEY_HASH_HEX_LEN + 1, out, sizeof out);
    sodium_memzero(subkey, sizeof subkey);
}

static int purge(const sp_gw_login_limit *limit, const char *now, const char *window,
                 sp_error *err) {
    char rows[24];
    snprintf(rows, sizeof rows, "%d", LOGIN_PURGE_ROWS_MAX);
    const char *params[3] = {now, window, rows};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(limit->pool, purge_sql, 3, params, &res, err) != 0) return -1;
    PQclear(res);
    return 0;
}

int sp_gw_login_limit_take(const sp_gw_login_limit *limit, const char *key, int64_t now_ms,
                           int64_t *wait_ms, sp_error *err) {
    assert(limit->failures_max > 0 && limit->window_ms > 0);
    char hash[SP_GW_LOGIN_KEY_HASH_HEX_LEN + 1], now[24], window[24], max[24];
    sp_gw_login_key_hash(limit->secret, limit->kind, key, hash);
    snprintf(now, sizeof now, "%" PRId64, now_ms);
    snprintf(window, sizeof window, "%" PRId64, limit->window_ms);
    snprintf(max, sizeof max, "%" PRId64, limit->failures_max);
    *wait_ms = 0;
    if (limit->purges && purge(limit, now, window, err) != 0) return -1;
    const char *params[4] = {hash, now, window, max};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(limit->pool, take_sql, 4, params, &res, err) != 0) return -1;
    int rc = 0;
    if (PQntuples(res) != 1) {
        rc = sp_error_set(err, 503, "unavailable", "", "the login count did not answer");
    } else if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
        int64_t start_ms = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        int64_t left_ms = start_ms + limit->window_ms - now_ms;
        /* A clock moved back keeps the key locked for at most one window. */
        *wait_ms = left_ms < 1 ? 1 : (left_ms > limit->window_ms ? limit->window_ms : left_ms);
    }
    PQclear(res);
    return rc;
}

int sp_gw_login_limit_give_back(const sp_gw_login_limit *limit, const char *key, int64_t now_ms,
                                sp_error *err) {
    char hash[SP_GW_LOGIN_KEY_HASH_HEX_LEN + 1], now[24], window[24];
    sp_gw_login_key_hash(limit->secret, limit->kind, key, hash);
    snprintf(now, sizeof now, "%" PRId64, now_ms);
    snprintf(window, sizeof window, "%" PRId64, limit->window_ms);
    const char *params[3] = {hash, now, window};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(limit->pool, give_back_sql, 3, params, &res, err) != 0) return -1;
    PQclear(res);
    return 0;
}

int sp_gw_login_limit_clear(const sp_gw_login_limit *limit, const char *key, sp_error *err) {
    char hash[SP_GW_LOGIN_KEY_HASH_HEX_LEN + 1];
    sp_gw_login_key_hash(limit->secret, limit->kind, key, hash);
    const char *params[1] = {hash};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(limit->pool, clear_sql, 1, params, &res, err) != 0) return -1;
    PQclear(res);
    return 0;
}
