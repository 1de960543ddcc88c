/* directory.c - users, sessions and partner codes folded from the accounts
 * events (see directory.h). */
#include "directory.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIR_CONTEXT_USER "solipass-gateway-directory-user"
#define DIR_CONTEXT_CODE "solipass-gateway-directory-partner-code"
#define DIR_CONTEXT_PASSWORD "solipass-gateway-directory-password"

struct sp_gw_dir_session {
    uint8_t token_hash[SP_TOKEN_HASH_LEN];
    int64_t expires_at_ms;
    sp_gw_dir_user *user;
    sp_gw_dir_session *next_of_user; /* the user's sessions, newest first */
};

struct sp_gw_dir_user {
    char user_id[SP_ID_LEN + 1];
    char email[SP_GW_EMAIL_LEN_MAX + 1];
    char full_name[SP_GW_TEXT_BYTES(SP_GW_NAME_LEN_MAX)];
    Solipass__Accounts__Role role;
    char partner_id[SP_ID_LEN + 1];      /* "" when none */
    char pass_id[SP_ID_LEN + 1];         /* "" when none */
    uint8_t password_digest[SP_KEY_LEN]; /* of the Argon2id string: a new one ends sessions */
    bool removed;
    sp_gw_dir_session *sessions;
    size_t session_count;
};

static const struct {
    Solipass__Accounts__Role role;
    const char *name;
    unsigned bit;
} roles[] = {
    {SOLIPASS__ACCOUNTS__ROLE__ROLE_BACKOFFICE, "backoffice", SP_GW_ROLE_BACKOFFICE},
    {SOLIPASS__ACCOUNTS__ROLE__ROLE_PARTNER_ADMIN, "partner_admin", SP_GW_ROLE_PARTNER_ADMIN},
    {SOLIPASS__ACCOUNTS__ROLE__ROLE_PARTNER_USER, "partner_user", SP_GW_ROLE_PARTNER_USER},
    {SOLIPASS__ACCOUNTS__ROLE__ROLE_BENEFICIARY, "beneficiary", SP_GW_ROLE_BENEFICIARY},
    {SOLIPASS__ACCOUNTS__ROLE__ROLE_FINANCE, "finance", SP_GW_ROLE_FINANCE},
};

static int role_index(Solipass__Accounts__Role role) {
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        if (roles[i].role == role) return (int)i;
    }
    return -1;
}

static void user_key(uint8_t key[SP_KEY_LEN], const char *user_id) {
    assert(user_id != NULL);
    sp_key_of(key, DIR_CONTEXT_USER, user_id, "", "");
}

static void code_key(uint8_t key[SP_KEY_LEN], const char *code) {
    assert(code != NULL);
    sp_key_of(key, DIR_CONTEXT_CODE, code, "", "");
}

static void password_digest(uint8_t out[SP_KEY_LEN], const char *hash) {
    assert(hash != NULL);
    sp_key_of(out, DIR_CONTEXT_PASSWORD, hash, "", "");
}

static bool optional_id(const char *id) {
    return id[0] == '\0' || sp_id_valid(id);
}

/* ------------------------------------------------------------------ lifecycle */

int sp_gw_directory_init(sp_gw_directory *dir, size_t users_max, size_t sessions_per_user_max,
                         sp_error *err) {
    assert(dir != NULL);
    assert(users_max > 0);
    assert(sessions_per_user_max > 0);
    memset(dir, 0, sizeof *dir);
    dir->sessions_per_user_max = sessions_per_user_max;
    if (sp_map_init(&dir->users, users_max, err) != 0 ||
        sp_map_init(&dir->sessions, users_max * sessions_per_user_max, err) != 0 ||
        sp_map_init(&dir->partner_codes, users_max, err) != 0) {
        sp_gw_directory_destroy(dir);
        return -1;
    }
    return 0;
}

static void free_value(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    (void)ctx;
    (void)key;
    free(value);
}

void sp_gw_directory_destroy(sp_gw_directory *dir) {
    if (dir == NULL) return;
    sp_map_foreach(&dir->sessions, free_value, NULL);
    sp_map_foreach(&dir->users, free_value, NULL);
    sp_map_foreach(&dir->partner_codes, free_value, NULL);
    sp_map_destroy(&dir->sessions);
    sp_map_destroy(&dir->users);
    sp_map_destroy(&dir->partner_codes);
    memset(dir, 0, sizeof *dir);
}

static int full(sp_error *err, const char *what, const char *setting) {
    assert(what != NULL);
    assert(setting != NULL);
    return sp_error_set(err, 500, "directory_full", NULL,
                        "the gateway's %s table is full: give it the accounts service's %s", what,
                        setting);
}

/* ------------------------------------------------------------------ sessions */

static void session_free(sp_gw_directory *dir, sp_gw_dir_session *s) {
    void *taken = sp_map_remove(&dir->sessions, s->token_hash);
    assert(taken == s);
    (void)taken;
    free(s);
}

/* Frees the user's sessions that `ends` picks: all, or the expired at at_ms. */
static void end_sessions(sp_gw_directory *dir, sp_gw_dir_user *user, bool all, int64_t at_ms) {
    sp_gw_dir_session **link = &user->sessions;
    while (*link != NULL) {
        sp_gw_dir_session *s = *link;
        if (all || s->expires_at_ms <= at_ms) {
            *link = s->next_of_user;
            assert(user->session_count > 0);
            user->session_count--;
            session_free(dir, s);
        } else {
            link = &s->next_of_user;
        }
    }
}

static int session_started(sp_gw_directory *dir, const Solipass__Accounts__SessionStarted *m,
                           int64_t at_ms, sp_error *err) {
    assert(dir != NULL);
    assert(m != NULL);
    if (m->token_hash.len != SP_TOKEN_HASH_LEN) return 1;
    uint8_t key[SP_KEY_LEN];
    user_key(key, m->user_id);
    sp_gw_dir_user *user = sp_map_get(&dir->users, key);
    if (user == NULL || user->removed) return 1;
    end_sessions(dir, user, false, at_ms);
    if (sp_map_get(&dir->sessions, m->token_hash.data) != NULL) return 1; /* seen already */
    if (user->session_count >= dir->sessions_per_user_max) {
        return full(err, "sessions of one user", "SP_SESSIONS_PER_USER_MAX");
    }
    sp_gw_dir_session *s = calloc(1, sizeof *s);
    if (s == NULL) return sp_error_set(err, 500, "out_of_memory", NULL, "directory session");
    memcpy(s->token_hash, m->token_hash.data, SP_TOKEN_HASH_LEN);
    s->expires_at_ms = m->expires_at_ms;
    s->user = user;
    sp_error put_err;
    if (sp_map_put(&dir->sessions, s->token_hash, s, &put_err) != 0) {
        free(s);
        return full(err, "sessions", "SP_USERS_MAX and SP_SESSIONS_PER_USER_MAX");
    }
    s->next_of_user = user->sessions;
    user->sessions = s;
    user->session_count++;
    return 0;
}

static sp_gw_dir_session *session_of(const sp_gw_directory *dir,
                                     const uint8_t token_hash[SP_TOKEN_HASH_LEN]) {
    assert(dir != NULL);
    assert(token_hash != NULL);
    sp_gw_dir_session *s = sp_map_get(&dir->sessions, token_hash);
    if (s == NULL || memcmp(s->token_hash, token_hash, SP_TOKEN_HASH_LEN) != 0) return NULL;
    return s;
}

static int session_ended(sp_gw_directory *dir, const Solipass__Accounts__SessionEnded *m) {
    if (m->token_hash.len != SP_TOKEN_HASH_LEN) return 1;
    sp_gw_dir_session *s = session_of(dir, m->token_hash.data);
    if (s == NULL || strcmp(s->user->user_id, m->user_id) != 0) return 0; /* ended already */
    sp_gw_dir_user *user = s->user;
    sp_gw_dir_session **link = &user->sessions;
    while (*link != s) {
        assert(*link != NULL);
        link = &(*link)->next_of_user;
    }
    *link = s->next_of_user;
    user->session_count--;
    session_free(dir, s);
    return 0;
}

/* ------------------------------------------------------------------ users and partners */

static int user_registered(sp_gw_directory *dir, const Solipass__Accounts__UserRegistered *m,
                           sp_error *err) {
    assert(dir != NULL);
    assert(m != NULL);
    bool ok = sp_id_valid(m->user_id) && strlen(m->email) <= SP_GW_EMAIL_LEN_MAX &&
              strlen(m->full_name) < SP_GW_TEXT_BYTES(SP_GW_NAME_LEN_MAX) &&
              role_index(m->role) >= 0 && optional_id(m->partner_id) && optional_id(m->pass_id);
    if (!ok) return 1;
    uint8_t key[SP_KEY_LEN];
    user_key(key, m->user_id);
    if (sp_map_get(&dir->users, key) != NULL) return 0; /* the projection keeps the first */
    sp_gw_dir_user *user = calloc(1, sizeof *user);
    if (user == NULL) return sp_error_set(err, 500, "out_of_memory", NULL, "directory user");
    snprintf(user->user_id, sizeof user->user_id, "%s", m->user_id);
    snprintf(user->email, sizeof user->email, "%s", m->email);
    snprintf(user->full_name, sizeof user->full_name, "%s", m->full_name);
    user->role = m->role;
    snprintf(user->partner_id, sizeof user->partner_id, "%s", m->partner_id);
    snprintf(user->pass_id, sizeof user->pass_id, "%s", m->pass_id);
    password_digest(user->password_digest, m->password_hash);
    sp_error put_err;
    if (sp_map_put(&dir->users, key, user, &put_err) != 0) {
        free(user);
        return full(err, "users", "SP_USERS_MAX");
    }
    return 0;
}

static sp_gw_dir_user *user_of(sp_gw_directory *dir, const char *user_id) {
    assert(dir != NULL);
    assert(user_id != NULL);
    uint8_t key[SP_KEY_LEN];
    user_key(key, user_id);
    return sp_map_get(&dir->users, key);
}

/* As the projection: only a user of that partner (or a staff user for ""),
 * not removed. */
static void role_changed(sp_gw_directory *dir, const Solipass__Accounts__UserRoleChanged *m) {
    assert(m != NULL);
    sp_gw_dir_user *user = user_of(dir, m->user_id);
    if (user == NULL || user->removed || strcmp(user->partner_id, m->partner_id) != 0) return;
    if (role_index(m->role) >= 0) user->role = m->role;
}

static void user_removed(sp_gw_directory *dir, const Solipass__Accounts__UserRemoved *m) {
    assert(m != NULL);
    sp_gw_dir_user *user = user_of(dir, m->user_id);
    if (user == NULL || user->removed || strcmp(user->partner_id, m->partner_id) != 0) return;
    user->removed = true;
    end_sessions(dir, user, true, 0);
}

static void password_set(sp_gw_directory *dir, const Solipass__Accounts__PasswordSet *m) {
    assert(m != NULL);
    sp_gw_dir_user *user = user_of(dir, m->user_id);
    if (user == NULL) return;
    uint8_t digest[SP_KEY_LEN];
    password_digest(digest, m->password_hash);
    if (memcmp(digest, user->password_digest, SP_KEY_LEN) == 0) return; /* read again */
    memcpy(user->password_digest, digest, SP_KEY_LEN);
    end_sessions(dir, user, true, 0);
}

static int partner_created(sp_gw_directory *dir, const Solipass__Accounts__PartnerCreated *m,
                           sp_error *err) {
    assert(dir != NULL);
    assert(m != NULL);
    if (!sp_id_valid(m->partner_id) || strlen(m->partner_code) != SP_GW_PARTNER_CODE_LEN) return 1;
    uint8_t key[SP_KEY_LEN];
    code_key(key, m->partner_code);
    if (sp_map_get(&dir->partner_codes, key) != NULL) return 0;
    char *code = strdup(m->partner_code); /* kept to tell two codes of one digest apart */
    if (code == NULL) return sp_error_set(err, 500, "out_of_memory", NULL, "directory");
    sp_error put_err;
    if (sp_map_put(&dir->partner_codes, key, code, &put_err) != 0) {
        free(code);
        return full(err, "partners", "SP_USERS_MAX");
    }
    return 0;
}

/* ------------------------------------------------------------------ apply */

#define UNPACK(fn, type_) ((type_ *)fn(NULL, payload_len, payload))

/* 0 applied, 1 not understood, -1 full. */
static int apply_known(sp_gw_directory *dir, const char *type, const uint8_t *payload,
                       size_t payload_len, int64_t at_ms, sp_error *err) {
    assert(dir != NULL);
    assert(type != NULL);
    assert(payload != NULL || payload_len == 0);
    int rc = 1;
    if (strcmp(type, "accounts.PartnerCreated.v1") == 0) {
        Solipass__Accounts__PartnerCreated *m = UNPACK(solipass__accounts__partner_created__unpack,
                                                       Solipass__Accounts__PartnerCreated);
        if (m != NULL) rc = partner_created(dir, m, err);
        solipass__accounts__partner_created__free_unpacked(m, NULL);
    } else if (strcmp(type, "accounts.UserRegistered.v1") == 0) {
        Solipass__Accounts__UserRegistered *m = UNPACK(solipass__accounts__user_registered__unpack,
                                                       Solipass__Accounts__UserRegistered);
        if (m != NULL) rc = user_registered(dir, m, err);
        solipass__accounts__user_registered__free_unpacked(m, NULL);
    } else if (strcmp(type, "accounts.SessionStarted.v1") == 0) {
        Solipass__Accounts__SessionStarted *m = UNPACK(solipass__accounts__session_started__unpack,
                                                       Solipass__Accounts__SessionStarted);
        if (m != NULL) rc = session_started(dir, m, at_ms, err);
        solipass__accounts__session_started__free_unpacked(m, NULL);
    } else if (strcmp(type, "accounts.SessionEnded.v1") == 0) {
        Solipass__Accounts__SessionEnded *m = UNPACK(solipass__accounts__session_ended__unpack,
                                                     Solipass__Accounts__SessionEnded);
        if (m != NULL) rc = session_ended(dir, m);
        solipass__accounts__session_ended__free_unpacked(m, NULL);
    } else if (strcmp(type, "accounts.UserRoleChanged.v1") == 0) {
        Solipass__Accounts__UserRoleChanged *m = UNPACK(
            solipass__accounts__user_role_changed__unpack, Solipass__Accounts__UserRoleChanged);
        if (m != NULL) {
            role_changed(dir, m);
            rc = 0;
        }
        solipass__accounts__user_role_changed__free_unpacked(m, NULL);
    } else if (strcmp(type, "accounts.UserRemoved.v1") == 0) {
        Solipass__Accounts__UserRemoved *m = UNPACK(solipass__accounts__user_removed__unpack,
                                                    Solipass__Accounts__UserRemoved);
        if (m != NULL) {
            user_removed(dir, m);
            rc = 0;
        }
        solipass__accounts__user_removed__free_unpacked(m, NULL);
    } else if (strcmp(type, "accounts.PasswordSet.v1") == 0) {
        Solipass__Accounts__PasswordSet *m = UNPACK(solipass__accounts__password_set__unpack,
                                                    Solipass__Accounts__PasswordSet);
        if (m != NULL) {
            password_set(dir, m);
            rc = 0;
        }
        solipass__accounts__password_set__free_unpacked(m, NULL);
    } else {
        rc = 0; /* changes nothing the gateway checks */
    }
    return rc;
}

int sp_gw_directory_apply(sp_gw_directory *dir, int64_t offset, const char *type,
                          const uint8_t *payload, size_t payload_len, int64_t at_ms,
                          sp_error *err) {
    assert(dir != NULL);
    assert(type != NULL);
    assert(payload != NULL || payload_len == 0);
    assert(offset >= dir->next_offset);
    int rc = apply_known(dir, type, payload, payload_len, at_ms, err);
    if (rc < 0) return -1;
    if (rc > 0) dir->events_ignored++;
    dir->next_offset = offset + 1;
    return 0;
}

/* ------------------------------------------------------------------ lookups */

bool sp_gw_directory_session(const sp_gw_directory *dir,
                             const uint8_t token_hash[SP_TOKEN_HASH_LEN], int64_t now_ms,
                             sp_gw_user *user) {
    assert(dir != NULL);
    assert(token_hash != NULL);
    assert(user != NULL);
    const sp_gw_dir_session *s = session_of(dir, token_hash);
    if (s == NULL || s->expires_at_ms <= now_ms || s->user->removed) return false;
    const sp_gw_dir_user *u = s->user;
    int role = role_index(u->role);
    assert(role >= 0);
    memset(user, 0, sizeof *user);
    snprintf(user->user_id, sizeof user->user_id, "%s", u->user_id);
    snprintf(user->email, sizeof user->email, "%s", u->email);
    snprintf(user->full_name, sizeof user->full_name, "%s", u->full_name);
    snprintf(user->role, sizeof user->role, "%s", roles[role].name);
    user->role_bit = roles[role].bit;
    snprintf(user->partner_id, sizeof user->partner_id, "%s", u->partner_id);
    snprintf(user->pass_id, sizeof user->pass_id, "%s", u->pass_id);
    memcpy(user->token_hash, token_hash, SP_TOKEN_HASH_LEN);
    return true;
}

bool sp_gw_directory_partner_code(const sp_gw_directory *dir, const char *partner_code) {
    assert(dir != NULL);
    assert(partner_code != NULL);
    uint8_t key[SP_KEY_LEN];
    code_key(key, partner_code);
    const char *code = sp_map_get(&dir->partner_codes, key);
    return code != NULL && strcmp(code, partner_code) == 0;
}

size_t sp_gw_directory_user_count(const sp_gw_directory *dir) {
    return dir->users.entry_count;
}

size_t sp_gw_directory_session_count(const sp_gw_directory *dir) {
    assert(dir != NULL);
    return dir->sessions.entry_count;
}
