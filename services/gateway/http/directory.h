/* directory.h - who may do what, in the gateway's memory: users, their open
 * sessions and the partner codes, folded from the accounts events topic
 * (solipass.accounts.events.v1, one partition) in log order. The session
 * check and the partner code of every payment are answered here, with no
 * database round trip. Pure: no I/O, no locking (directory_feed.h reads the
 * log and holds the lock).
 *
 * The events applied, with what the projection does for each
 * (services/projection/projection_rows_accounts.c):
 *   PartnerCreated   the partner code names a partner
 *   UserRegistered   a user, its role, partner, pass and password digest
 *   SessionStarted   an open session (token hash, expiry); the user's
 *                    expired sessions are freed, as the accounts state does
 *   SessionEnded     the session is gone (logout, the oldest beyond 8)
 *   UserRoleChanged  the role, when the partner matches and the user is not
 *                    removed
 *   UserRemoved      the user is removed and every session of it ends
 *   PasswordSet      a new password (a reset too) ends every session
 * Every other accounts event changes nothing the gateway checks.
 *
 * Limits: users and partners at users_max each (SP_USERS_MAX, as the
 * accounts service), sessions at users_max * sessions_per_user_max. The
 * accounts service holds no more than that, so a full table means the
 * gateway was given smaller limits than the accounts service: apply()
 * returns 500 "directory_full" naming the setting, never forgets quietly.
 *
 * Ownership: the directory owns every entry; lookups copy out. */
#ifndef SP_GW_DIRECTORY_H
#define SP_GW_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "accounts.pb-c.h"
#include "auth.h"
#include "sp_error.h"
#include "sp_map.h"

#define SP_GW_PARTNER_CODE_LEN 8

typedef struct sp_gw_dir_session sp_gw_dir_session;
typedef struct sp_gw_dir_user sp_gw_dir_user;

typedef struct sp_gw_directory {
    sp_map users;         /* sp_key_of(user id) -> sp_gw_dir_user */
    sp_map sessions;      /* first 16 bytes of the token hash -> sp_gw_dir_session */
    sp_map partner_codes; /* sp_key_of(partner code) -> the code (malloc'd text) */
    size_t sessions_per_user_max;
    int64_t next_offset;     /* of the accounts events partition: the next event to apply */
    uint64_t events_ignored; /* not understood (logged by the caller) */
} sp_gw_directory;

int sp_gw_directory_init(sp_gw_directory *dir, size_t users_max, size_t sessions_per_user_max,
                         sp_error *err);
void sp_gw_directory_destroy(sp_gw_directory *dir);

/* Applies the event of `type` (an envelope's type) packed in payload, read
 * at `offset` of the partition (offsets must grow; next_offset becomes
 * offset + 1 whatever the event). `at_ms` is the event's time (the
 * envelope's occurred_at): expired sessions are freed on the same events
 * the accounts state frees them. An event this module cannot decode is
 * counted in events_ignored and skipped (0), as the projection would dead
 * letter it; -1 only for a full table. */
int sp_gw_directory_apply(sp_gw_directory *dir, int64_t offset, const char *type,
                          const uint8_t *payload, size_t payload_len, int64_t at_ms, sp_error *err);

/* The user of the open session whose token hashes to token_hash, unexpired
 * at now_ms, of a user not removed: true and *user filled (token_hash set,
 * by_cookie false), else false. */
bool sp_gw_directory_session(const sp_gw_directory *dir,
                             const uint8_t token_hash[SP_TOKEN_HASH_LEN], int64_t now_ms,
                             sp_gw_user *user);

/* Whether a partner holds this code. */
bool sp_gw_directory_partner_code(const sp_gw_directory *dir, const char *partner_code);

size_t sp_gw_directory_user_count(const sp_gw_directory *dir);
size_t sp_gw_directory_session_count(const sp_gw_directory *dir);

#endif
