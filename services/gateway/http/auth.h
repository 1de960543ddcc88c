/* auth.h - sessions, roles and passwords.
 *
 * A request's bearer token (or, without an Authorization header, its
 * sp_session cookie: session_cookie.h) is hashed (sp_token_hash) and looked up in the
 * gateway's session directory (directory_feed.h, kept from the accounts
 * events), not ended and not expired at the injected clock's now; any failure is the same 401
 * "unauthenticated", whatever the cause. Passwords are checked and hashed with Argon2id
 * (libsodium); at most SP_GW_HASHING_MAX of those memory-hungry computations run at once. A new
 * account's hash takes its salt from the command's identity, so that the
 * same request retried under the same Idempotency-Key carries the same
 * hash (and is recognised as the same command), while raw passwords never
 * leave the gateway.
 * Ownership: sp_gw_auth is created and freed by main; sp_gw_user is filled by
 * value into the caller's struct. */
#ifndef SP_GW_AUTH_H
#define SP_GW_AUTH_H

#include <stdbool.h>
#include <stdint.h>
#include <sodium.h>
#include "gateway.h"
#include "sp_error.h"
#include "sp_id.h"
#include "validate.h"

#define SP_GW_HASHING_MAX 4 /* Argon2id runs at once (64 MiB each) */
#define SP_GW_HASHING_WAIT_MS 3000
#define SP_GW_DIRECTORY_MISS_WAIT_MS 1000 /* an unknown token: the directory catching up */
#define SP_GW_ROLE_NAME_MAX 16
#define SP_GW_PASSWORD_HASH_MAX crypto_pwhash_STRBYTES

typedef enum {
    SP_GW_ROLE_BACKOFFICE = 1u << 0,
    SP_GW_ROLE_PARTNER_ADMIN = 1u << 1,
    SP_GW_ROLE_PARTNER_USER = 1u << 2,
    SP_GW_ROLE_BENEFICIARY = 1u << 3,
    SP_GW_ROLE_FINANCE = 1u << 4,
} sp_gw_role;

#define SP_GW_ROLES_ANY 0x1Fu
#define SP_GW_ROLES_PARTNER (SP_GW_ROLE_PARTNER_ADMIN | SP_GW_ROLE_PARTNER_USER)

typedef struct sp_gw_user {
    char user_id[SP_ID_LEN + 1];
    char email[SP_GW_EMAIL_LEN_MAX + 1];
    char full_name[SP_GW_TEXT_BYTES(SP_GW_NAME_LEN_MAX)];
    char role[SP_GW_ROLE_NAME_MAX];
    unsigned role_bit;                     /* one sp_gw_role, 0 when unknown */
    char partner_id[SP_ID_LEN + 1];        /* "" when none */
    char pass_id[SP_ID_LEN + 1];           /* "" when none */
    uint8_t token_hash[SP_TOKEN_HASH_LEN]; /* of this request's session */
    bool by_cookie;                        /* the session came in the sp_session cookie */
} sp_gw_user;

/* Prepares the dummy hash a login for an unknown e-mail is checked against,
 * and checks this libsodium reads back the hashes built here. */
sp_gw_auth *sp_gw_auth_new(sp_error *err);
void sp_gw_auth_free(sp_gw_auth *auth);

/* The session of `authorization` (the raw header, may be NULL) or, when
 * there is none, of the sp_session cookie in `cookie` (the Cookie header,
 * may be NULL): the same 401 whatever the cause. */
int sp_gw_auth_session(sp_gw_app *app, const char *authorization, const char *cookie,
                       sp_gw_user *user, sp_error *err);

/* Before anything else is done (the body is not read yet): 403 bad_origin
 * when the request would be authenticated by the cookie, its method may
 * change something and its Origin is not SP_PUBLIC_URL. */
int sp_gw_auth_origin(const sp_gw_app *app, const char *method, const char *authorization,
                      const char *cookie, const char *origin, sp_error *err);

/* 403 "forbidden" unless the user's role is in roles_mask. */
int sp_gw_auth_require(const sp_gw_user *user, unsigned roles_mask, sp_error *err);

/* Checks password against stored_hash, or against the dummy hash when
 * stored_hash is NULL (then *matches is always false), so that the time
 * taken does not tell whether the e-mail exists. */
int sp_gw_auth_verify(sp_gw_auth *auth, const char *stored_hash, const char *password,
                      bool *matches, sp_error *err);

/* Argon2id string of password (interactive limits) into out
 * (SP_GW_PASSWORD_HASH_MAX bytes), salted from (actor_id, command_id, email). */
int sp_gw_auth_hash(sp_gw_auth *auth, const char *password, const char *actor_id,
                    const char *command_id, const char *email, char *out, sp_error *err);

/* What the directory (directory_feed.h) does not know may be what another
 * gateway answered a moment ago, once the projection showed it: this reads
 * the projection's offset in the accounts events (the one database round
 * trip left to the session check and the partner codes, for unknown tokens
 * and codes only) and waits until the directory has read as far, up to
 * SP_GW_DIRECTORY_MISS_WAIT_MS. Then the directory is asked again. */
int sp_gw_directory_catch_up(sp_gw_app *app, sp_error *err);

/* The user as JSON: {user_id, email, full_name, role, partner_id, pass_id}
 * (ids null when none). A new reference; NULL when out of memory. */
json_t *sp_gw_user_json(const sp_gw_user *user);

/* Fills user from one row (user_id, email, full_name, role, partner_id,
 * pass_id as text, "" for none). 500 when a value breaks the schema. */
int sp_gw_user_from_row(const char *const values[6], sp_gw_user *user, sp_error *err);

/* For an answer that lasts (the live stream): 0 while user's session (by its
 * token hash) is still open and unexpired and its user not removed, with the
 * same role and partner; else 401 "unauthenticated" (403 "forbidden" when
 * the role or the partner changed). */
int sp_gw_auth_still_valid(sp_gw_app *app, const sp_gw_user *user, sp_error *err);

#endif
