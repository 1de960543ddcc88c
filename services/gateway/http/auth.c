/* auth.c - bearer sessions, role checks and Argon2id passwords (see auth.h). */
#include "auth.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "directory_feed.h"
#include "pgpool.h"
#include "sp_kafka.h"
#include "session_cookie.h"

#define SP_GW_PASSWORD_RAW_BYTES 32
#define SP_GW_ARGON2_VERSION 19
#define SP_GW_SALT_CONTEXT "solipass-gateway-password-salt"

_Static_assert(SP_KEY_LEN == crypto_pwhash_SALTBYTES, "a sp_key_of digest is an Argon2 salt");

struct sp_gw_auth {
    char dummy_hash[SP_GW_PASSWORD_HASH_MAX];
    pthread_mutex_t mutex;
    pthread_cond_t slot_freed;
    size_t hashing; /* Argon2id computations running */
};

/* clang-format off */
/* Where the projection is in the accounts events: what a session unknown
 * to this gateway's directory waits for (below). */
static const char accounts_offset_sql[] =
    "SELECT next_offset FROM projection_offsets WHERE consumer = 'projection'"
    " AND topic = $1 AND partition = 0";
/* clang-format on */

static const struct {
    const char *name;
    sp_gw_role bit;
} role_names[] = {
    {"backoffice", SP_GW_ROLE_BACKOFFICE},     {"partner_admin", SP_GW_ROLE_PARTNER_ADMIN},
    {"partner_user", SP_GW_ROLE_PARTNER_USER}, {"beneficiary", SP_GW_ROLE_BENEFICIARY},
    {"finance", SP_GW_ROLE_FINANCE},
};

static unsigned role_bit_of(const char *name) {
    for (size_t i = 0; i < sizeof role_names / sizeof role_names[0]; i++) {
        if (strcmp(role_names[i].name, name) == 0) return role_names[i].bit;
    }
    return 0;
}

/* ------------------------------------------------------------------ hashing slots */

static int hashing_begin(sp_gw_auth *auth, sp_error *err) {
    struct timespec until = sp_gw_deadline_timespec(sp_gw_monotonic_ms() + SP_GW_HASHING_WAIT_MS);
    pthread_mutex_lock(&auth->mutex);
    int wait_rc = 0;
    while (auth->hashing >= SP_GW_HASHING_MAX && wait_rc != ETIMEDOUT) {
        wait_rc = pthread_cond_timedwait(&auth->slot_freed, &auth->mutex, &until);
    }
    bool ok = auth->hashing < SP_GW_HASHING_MAX;
    if (ok) auth->hashing++;
    pthread_mutex_unlock(&auth->mutex);
    if (!ok) return sp_error_set(err, 503, "unavailable", "", "too many logins at once: try again");
    return 0;
}

static void hashing_end(sp_gw_auth *auth) {
    pthread_mutex_lock(&auth->mutex);
    assert(auth->hashing > 0);
    auth->hashing--;
    pthread_cond_signal(&auth->slot_freed);
    pthread_mutex_unlock(&auth->mutex);
}

/* The encoded form libsodium's crypto_pwhash_str() writes and its verify reads. */
static int encode_hash(const uint8_t salt[crypto_pwhash_SALTBYTES],
                       const uint8_t raw[SP_GW_PASSWORD_RAW_BYTES], char *out) {
    char salt_b64[sodium_base64_ENCODED_LEN(crypto_pwhash_SALTBYTES,
                                            sodium_base64_VARIANT_ORIGINAL_NO_PADDING)];
    char raw_b64[sodium_base64_ENCODED_LEN(SP_GW_PASSWORD_RAW_BYTES,
                                           sodium_base64_VARIANT_ORIGINAL_NO_PADDING)];
    sodium_bin2base64(salt_b64, sizeof salt_b64, salt, crypto_pwhash_SALTBYTES,
                      sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    sodium_bin2base64(raw_b64, sizeof raw_b64, raw, SP_GW_PASSWORD_RAW_BYTES,
                      sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    int n = snprintf(out, SP_GW_PASSWORD_HASH_MAX, "%sv=%d$m=%zu,t=%llu,p=1$%s$%s",
                     crypto_pwhash_argon2id_STRPREFIX, SP_GW_ARGON2_VERSION,
                     (size_t)crypto_pwhash_MEMLIMIT_INTERACTIVE / 1024,
                     (unsigned long long)crypto_pwhash_OPSLIMIT_INTERACTIVE, salt_b64, raw_b64);
    return n > 0 && (size_t)n < SP_GW_PASSWORD_HASH_MAX ? 0 : -1;
}

static int hash_unlimited(const char *password, const char *actor_id, const char *command_id,
                          const char *email, char *out) {
    uint8_t salt[crypto_pwhash_SALTBYTES];
    sp_key_of(salt, SP_GW_SALT_CONTEXT, actor_id, command_id, email);
    uint8_t raw[SP_GW_PASSWORD_RAW_BYTES];
    int rc = crypto_pwhash(raw, sizeof raw, password, strlen(password), salt,
                           crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                           crypto_pwhash_ALG_ARGON2ID13);
    if (rc == 0) rc = encode_hash(salt, raw, out);
    sodium_memzero(raw, sizeof raw);
    return rc;
}

/* ------------------------------------------------------------------ lifecycle */

static int self_test(sp_gw_auth *auth, sp_error *err) {
    static const char probe[] = "self-test password";
    char hash[SP_GW_PASSWORD_HASH_MAX];
    if (hash_unlimited(probe, "actor", "command", "e@example.org", hash) != 0 ||
        crypto_pwhash_str_verify(hash, probe, strlen(probe)) != 0 ||
        crypto_pwhash_str_needs_rehash(hash, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                       crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        return sp_error_set(err, 500, "internal", NULL,
                            "this libsodium does not read back the password hashes built here");
    }
    char dummy_password[SP_ID_LEN + 1];
    sp_id_new(dummy_password);
    if (crypto_pwhash_str(auth->dummy_hash, dummy_password, strlen(dummy_password),
                          crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        return sp_error_set(err, 500, "out_of_memory", NULL, "password hashing");
    }
    return 0;
}

sp_gw_auth *sp_gw_auth_new(sp_error *err) {
    sp_gw_auth *auth = calloc(1, sizeof *auth);
    if (auth == NULL) {
        sp_error_set(err, 500, "out_of_memory", NULL, "auth");
        return NULL;
    }
    pthread_mutex_init(&auth->mutex, NULL);
    if (sp_gw_cond_init(&auth->slot_freed) != 0) {
        pthread_mutex_destroy(&auth->mutex);
        free(auth);
        sp_error_set(err, 500, "internal", NULL, "auth: condition variable");
        return NULL;
    }
    if (self_test(auth, err) != 0) {
        sp_gw_auth_free(auth);
        return NULL;
    }
    return auth;
}

void sp_gw_auth_free(sp_gw_auth *auth) {
    if (auth == NULL) return;
    assert(auth->hashing == 0);
    pthread_cond_destroy(&auth->slot_freed);
    pthread_mutex_destroy(&auth->mutex);
    free(auth);
}

/* ------------------------------------------------------------------ passwords */

int sp_gw_auth_verify(sp_gw_auth *auth, const char *stored_hash, const char *password,
                      bool *matches, sp_error *err) {
    assert(auth != NULL && password != NULL && matches != NULL);
    *matches = false;
    if (hashing_begin(auth, err) != 0) return -1;
    const char *hash = stored_hash != NULL ? stored_hash : auth->dummy_hash;
    bool verified = crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
    hashing_end(auth);
    *matches = stored_hash != NULL && verified;
    return 0;
}

int sp_gw_auth_hash(sp_gw_auth *auth, const char *password, const char *actor_id,
                    const char *command_id, const char *email, char *out, sp_error *err) {
    assert(auth != NULL && password != NULL && actor_id != NULL && command_id != NULL);
    assert(email != NULL && out != NULL);
    if (hashing_begin(auth, err) != 0) return -1;
    int rc = hash_unlimited(password, actor_id, command_id, email, out);
    hashing_end(auth);
    if (rc != 0) return sp_error_set(err, 503, "unavailable", "", "out of memory: try again");
    return 0;
}

/* ------------------------------------------------------------------ sessions */

static bool optional_id_valid(const char *id) {
    return id[0] == '\0' || sp_id_valid(id);
}

int sp_gw_user_from_row(const char *const values[6], sp_gw_user *user, sp_error *err) {
    assert(values != NULL && user != NULL);
    bool ok = sp_id_valid(values[0]) && strlen(values[1]) < sizeof user->email &&
              strlen(values[2]) < sizeof user->full_name && role_bit_of(values[3]) != 0 &&
              optional_id_valid(values[4]) && optional_id_valid(values[5]);
    if (!ok) return sp_error_set(err, 500, "internal", "", "a user record is not valid");
    snprintf(user->user_id, sizeof user->user_id, "%s", values[0]);
    snprintf(user->email, sizeof user->email, "%s", values[1]);
    snprintf(user->full_name, sizeof user->full_name, "%s", values[2]);
    snprintf(user->role, sizeof user->role, "%s", values[3]);
    user->role_bit = role_bit_of(values[3]);
    snprintf(user->partner_id, sizeof user->partner_id, "%s", values[4]);
    snprintf(user->pass_id, sizeof user->pass_id, "%s", values[5]);
    return 0;
}

int sp_gw_auth_origin(const sp_gw_app *app, const char *method, const char *authorization,
                      const char *cookie, const char *origin, sp_error *err) {
    assert(app != NULL && method != NULL);
    char token[SP_TOKEN_LEN + 1];
    sp_gw_credential credential = sp_gw_credential_of(authorization, cookie, token);
    sodium_memzero(token, sizeof token);
    if (credential != SP_GW_CREDENTIAL_COOKIE || !sp_gw_method_unsafe(method)) return 0;
    return sp_gw_origin_check(origin, app->config->public_url, err);
}

int sp_gw_directory_catch_up(sp_gw_app *app, sp_error *err) {
    assert(app != NULL && app->directory != NULL);
    const char *params[1] = {SP_TOPIC_ACCOUNTS_EVENTS};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(app->pool, accounts_offset_sql, 1, params, &res, err) != 0) return -1;
    int64_t projected = PQntuples(res) == 1 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    if (projected <= 0) return 0;
    sp_error late; /* not caught up in time: the lookup answers from what is read */
    sp_gw_directory_feed_until(app->directory, projected - 1,
                               sp_gw_monotonic_ms() + SP_GW_DIRECTORY_MISS_WAIT_MS, &late);
    return 0;
}

/* The user of the open, unexpired session whose token hashes to token_hash
 * (user->token_hash is set; by_cookie is the caller's). 401 with `ended`
 * as the message when there is none. Answered from the directory (no
 * database); a token it does not know is asked again after
 * sp_gw_directory_catch_up(). */
static int session_user(sp_gw_app *app, const uint8_t token_hash[SP_TOKEN_HASH_LEN],
                        const char *ended, sp_gw_user *user, sp_error *err) {
    int64_t now_ms = sp_clock_now_ms(app->clock);
    bool found = false;
    if (sp_gw_directory_feed_session(app->directory, token_hash, now_ms, user, &found, err) != 0)
        return -1;
    if (!found &&
        (sp_gw_directory_catch_up(app, err) != 0 ||
         sp_gw_directory_feed_session(app->directory, token_hash, now_ms, user, &found, err) != 0))
        return -1;
    if (!found) return sp_error_set(err, 401, "unauthenticated", "", "%s", ended);
    return 0;
}

int sp_gw_auth_session(sp_gw_app *app, const char *authorization, const char *cookie,
                       sp_gw_user *user, sp_error *err) {
    assert(app != NULL && user != NULL);
    memset(user, 0, sizeof *user);
    char token[SP_TOKEN_LEN + 1];
    sp_gw_credential credential = sp_gw_credential_of(authorization, cookie, token);
    if (credential == SP_GW_CREDENTIAL_COOKIE && token[0] == '\0') {
        return sp_error_set(err, 401, "unauthenticated", "",
                            "a valid session is required (the sp_session cookie is not one)");
    }
    if (credential != SP_GW_CREDENTIAL_COOKIE && sp_gw_bearer_token(authorization, token, err) != 0)
        return -1;
    uint8_t token_hash[SP_TOKEN_HASH_LEN];
    sp_token_hash(token, token_hash);
    sodium_memzero(token, sizeof token);
    int rc = session_user(app, token_hash,
                          "a valid session is required (Authorization: Bearer <token>)", user, err);
    user->by_cookie = credential == SP_GW_CREDENTIAL_COOKIE;
    return rc;
}

int sp_gw_auth_require(const sp_gw_user *user, unsigned roles_mask, sp_error *err) {
    assert(user != NULL);
    if ((user->role_bit & roles_mask) != 0) return 0;
    return sp_error_set(err, 403, "forbidden", "", "this account (%s) may not do this", user->role);
}

static json_t *id_or_null(const char *id) {
    return id[0] != '\0' ? json_string(id) : json_null();
}

json_t *sp_gw_user_json(const sp_gw_user *user) {
    assert(user != NULL);
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "user_id", user->user_id, "email",
                     user->email, "full_name", user->full_name, "role", user->role, "partner_id",
                     id_or_null(user->partner_id), "pass_id", id_or_null(user->pass_id));
}

int sp_gw_auth_still_valid(sp_gw_app *app, const sp_gw_user *user, sp_error *err) {
    assert(app != NULL && user != NULL);
    sp_gw_user now;
    memset(&now, 0, sizeof now);
    if (session_user(app, user->token_hash, "the session has ended", &now, err) != 0) return -1;
    if (strcmp(now.user_id, user->user_id) != 0 || now.role_bit != user->role_bit ||
        strcmp(now.partner_id, user->partner_id) != 0)
        return sp_error_set(err, 403, "forbidden", "", "the user's role has changed");
    return 0;
}
