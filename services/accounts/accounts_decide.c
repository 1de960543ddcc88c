/* accounts_decide.c - validation of accounts commands and the decisions:
 * which events a command produces, or why it is refused. Pure: it reads the
 * state and never changes it; sp_accounts_handle() applies the decided events
 * through sp_accounts_apply(), the one place the state changes. */
#include "accounts_state.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "accounts_internal.h"
#include "sp_clock.h"

#define EMAIL_LOCAL_MAX 64
#define ID_TRIES_MAX 8 /* fresh UUIDs tried: a collision is already improbable */

/* ------------------------------------------------------------------ validation */

void sp_accounts_ascii_lower(const char *in, char *out, size_t out_size) {
    assert(out_size > 0);
    size_t i = 0;
    for (; in[i] != '\0' && i + 1 < out_size; i++) {
        char c = in[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[i] = '\0';
}

static bool email_domain_valid(const char *domain) {
    size_t len = strlen(domain);
    if (len == 0 || domain[0] == '.' || domain[len - 1] == '.') return false;
    if (strchr(domain, '.') == NULL || strstr(domain, "..") != NULL) return false;
    return strchr(domain, '@') == NULL;
}

int sp_accounts_email_normalize(const char *email, char out[SP_ACCOUNTS_EMAIL_MAX + 1],
                                const char *field, sp_error *err) {
    size_t len = strlen(email);
    if (len == 0) return sp_error_set(err, 400, "missing_field", field, "%s is required", field);
    if (len > SP_ACCOUNTS_EMAIL_MAX)
        return sp_error_set(err, 400, "invalid_email", field, "%s is longer than %d bytes", field,
                            SP_ACCOUNTS_EMAIL_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)email[i];
        if (c <= 0x20 || c >= 0x7f)
            return sp_error_set(err, 400, "invalid_email", field,
                                "%s may hold only printable ASCII without spaces", field);
    }
    const char *at = strchr(email, '@');
    size_t local_len = at != NULL ? (size_t)(at - email) : 0;
    if (at == NULL || local_len == 0 || local_len > EMAIL_LOCAL_MAX || !email_domain_valid(at + 1))
        return sp_error_set(err, 400, "invalid_email", field,
                            "%s is not an e-mail address (local@domain.tld)", field);
    sp_accounts_ascii_lower(email, out, SP_ACCOUNTS_EMAIL_MAX + 1);
    return 0;
}

bool sp_accounts_partner_category_valid(const char *category) {
    size_t len = strlen(category);
    if (len < 2 || len > SP_ACCOUNTS_CATEGORY_MAX) return false;
    if (category[0] < 'a' || category[0] > 'z') return false;
    for (size_t i = 1; i < len; i++) {
        char c = category[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
    return strcmp(category, "general") != 0;
}

/* Length in bytes of the UTF-8 sequence at s and its code point, 0 when invalid. */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp) {
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len = (s[0] & 0xe0) == 0xc0   ? 2
                 : (s[0] & 0xf0) == 0xe0 ? 3
                 : (s[0] & 0xf8) == 0xf0 ? 4
                                         : 0;
    if (len == 0) return 0;
    uint32_t value = s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        value = (value << 6) | (s[i] & 0x3f);
    }
    static const uint32_t min_of_len[] = {0, 0, 0x80, 0x800, 0x10000};
    if (value < min_of_len[len] || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff))
        return 0;
    *cp = value;
    return len;
}

bool sp_accounts_text_valid(const char *text, size_t chars_min, size_t chars_max) {
    const unsigned char *p = (const unsigned char *)text;
    size_t chars = 0;
    while (*p != '\0') {
        uint32_t cp = 0;
        size_t len = utf8_decode(p, &cp);
        if (len == 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return false;
        if (++chars > chars_max) return false;
        p += len;
    }
    return chars >= chars_min;
}

bool sp_accounts_password_hash_valid(const char *hash) {
    static const char prefix[] = "$argon2id$";
    size_t len = strlen(hash);
    if (len <= sizeof prefix - 1 || len > SP_ACCOUNTS_PASSWORD_HASH_MAX) return false;
    if (strncmp(hash, prefix, sizeof prefix - 1) != 0) return false;
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)hash[i] <= 0x20 || (unsigned char)hash[i] >= 0x7f) return false;
    }
    return true;
}

int sp_accounts_status_of_code(const char *code) {
    static const struct {
        const char *code;
        int status;
    } table[] = {
        {"missing_field", 400},
        {"invalid_value", 400},
        {"invalid_email", 400},
        {"forbidden", 403},
        {"not_found", 404},
        {"email_taken", 409},
        {"conflict", 409},
        {"idempotency_conflict", 409},
        {"invalid_category", 422},
        {"unavailable", 503},
        {"invalid_token", 400},
        {"token_expired", 410},
        {"token_used", 410},
        {"user_not_found", 404},
        {"partner_not_found", 404},
        {"last_admin", 409},
        {"invalid_url", 400},
        {"invalid_phone", 400},
        {"invalid_iban", 422},
        {"invalid_bic", 422},
        {"convention_not_found", 404},
        {"invalid_date", 422},
        {"last_backoffice_admin", 409},
        {"already_activated", 409},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(table[i].code, code) == 0) return table[i].status;
    }
    return 400;
}

/* A required text field: "missing_field" when empty, "invalid_value" otherwise. */
static int check_text(const char *text, size_t chars_min, const char *field, sp_error *err) {
    if (text[0] == '\0' && chars_min > 0)
        return sp_error_set(err, 400, "missing_field", field, "%s is required", field);
    if (!sp_accounts_text_valid(text, chars_min, SP_ACCOUNTS_NAME_CHARS_MAX))
        return sp_error_set(err, 400, "invalid_value", field,
                            "%s must be %zu to %d characters of UTF-8 text without control "
                            "characters",
                            field, chars_min, SP_ACCOUNTS_NAME_CHARS_MAX);
    return 0;
}

static int check_password_hash(const char *hash, const char *field, sp_error *err) {
    if (hash[0] == '\0')
        return sp_error_set(err, 400, "missing_field", field, "%s is required", field);
    if (!sp_accounts_password_hash_valid(hash))
        return sp_error_set(err, 400, "invalid_value", field, "%s must be an Argon2id hash string",
                            field);
    return 0;
}

/* A valid e-mail that no user has yet, lower-cased into out. */
static int check_new_email(const sp_accounts_state *state, const char *email, const char *field,
                           char out[SP_ACCOUNTS_EMAIL_MAX + 1], sp_error *err) {
    if (sp_accounts_email_normalize(email, out, field, err) != 0) return -1;
    if (sp_accounts_user_by_email(state, out) != NULL)
        return sp_error_set(err, 409, "email_taken", field, "a user with this e-mail exists");
    return 0;
}

static bool command_id_valid(const char *id) {
    size_t len = strlen(id);
    if (len == 0 || len > SP_ACCOUNTS_COMMAND_ID_MAX) return false;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        if (!ok) return false;
    }
    return true;
}

static int check_envelope(const sp_accounts_command *command, sp_error *err) {
    if (!command_id_valid(command->command_id))
        return sp_error_set(err, 400, "invalid_value", "command_id",
                            "the command id must be 1 to %d characters of A-Z a-z 0-9 - _",
                            SP_ACCOUNTS_COMMAND_ID_MAX);
    if (command->actor_id[0] != '\0' && !sp_id_valid(command->actor_id))
        return sp_error_set(err, 400, "invalid_value", "actor_id", "the actor id is not a user id");
    return 0;
}

/* ------------------------------------------------------------------ request hash */

/* The e-mail as it is compared: lower-cased when it could be valid at all. */
static const char *canonical_email(const char *email, char buffer[SP_ACCOUNTS_EMAIL_MAX + 1]) {
    if (strlen(email) > SP_ACCOUNTS_EMAIL_MAX) return email;
    sp_accounts_ascii_lower(email, buffer, SP_ACCOUNTS_EMAIL_MAX + 1);
    return buffer;
}

static const char *text_or_empty(const char *text) {
    return text != NULL ? text : "";
}

/* Length-prefixed so that no two profiles give the same text. */
static void digest_add(crypto_generichash_state *st, const char *text) {
    char length[24];
    int n = snprintf(length, sizeof length, "%zu:", strlen(text));
    crypto_generichash_update(st, (const unsigned char *)length, (unsigned long long)n);
    crypto_generichash_update(st, (const unsigned char *)text, strlen(text));
}

void sp_accounts_profile_digest(const sp_accounts_profile *p, char out[65]) {
    assert(p != NULL);
    crypto_generichash_state st;
    uint8_t digest[32];
    crypto_generichash_init(&st, NULL, 0, sizeof digest);
    const char *fields[] = {p->legal_name,    p->public_name,   p->description,
                            p->website,       p->hq_address,    p->activity_address,
                            p->contact_phone, p->contact_email, p->iban,
                            p->bic,           p->bank_holder};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) digest_add(&st, fields[i]);
    assert(p->social_link_count <= SP_PROFILE_SOCIAL_LINKS_MAX);
    for (size_t i = 0; i < p->social_link_count; i++) digest_add(&st, p->social_links[i]);
    crypto_generichash_final(&st, digest, sizeof digest);
    sp_accounts_hex(digest, sizeof digest, out);
}

static void partner_space_hash(const sp_accounts_command *c, uint8_t out[SP_KEY_LEN]) {
    assert(c != NULL);
    char email[SP_ACCOUNTS_EMAIL_MAX + 1];
    char digest[65] = "";
    const char *type = sp_accounts_command_type(c->kind);
    const char *partner_id = text_or_empty(c->partner_id);
    const char *user_id = text_or_empty(c->user_id);
    const char *role = sp_accounts_role_name(c->role);
    if (c->kind == SP_ACCOUNTS_CMD_UPDATE_PROFILE && c->profile != NULL)
        sp_accounts_profile_digest(c->profile, digest);
    const char *profile[5] = {partner_id, digest, text_or_empty(c->profile_overflow), "", ""};
    const char *image[5] = {partner_id, text_or_empty(c->slot), text_or_empty(c->sha256),
                            text_or_empty(c->content_type), ""};
    const char *add[5] = {partner_id, canonical_email(text_or_empty(c->email), email),
                          text_or_empty(c->full_name), role, ""};
    const char *change[5] = {user_id, role, "", "", ""};
    const char *remove[5] = {user_id, "", "", "", ""};
    const char *const *fields = c->kind == SP_ACCOUNTS_CMD_UPDATE_PROFILE     ? profile
                                : c->kind == SP_ACCOUNTS_CMD_SET_IMAGE        ? image
                                : c->kind == SP_ACCOUNTS_CMD_ADD_PARTNER_USER ? add
                                : c->kind == SP_ACCOUNTS_CMD_CHANGE_ROLE      ? change
                                                                              : remove;
    sp_accounts_hash_fields(type, fields, out);
}

void sp_accounts_request_hash(const sp_accounts_command *c, uint8_t out[SP_KEY_LEN]) {
    assert(c != NULL);
    char email[SP_ACCOUNTS_EMAIL_MAX + 1];
    char token[SP_ACCOUNTS_TOKEN_TEXT_MAX];
    char expires[24];
    const char *type = sp_accounts_command_type(c->kind);
    switch (c->kind) {
    case SP_ACCOUNTS_CMD_CREATE_PARTNER: {
        const char *f[5] = {c->name, c->category, canonical_email(c->email, email),
                            c->password_hash, c->full_name};
        sp_accounts_hash_fields(type, f, out);
        return;
    }
    case SP_ACCOUNTS_CMD_CREATE_BENEFICIARY: {
        const char *f[5] = {canonical_email(c->email, email), c->password_hash, c->full_name, "",
                            ""};
        sp_accounts_hash_fields(type, f, out);
        return;
    }
    case SP_ACCOUNTS_CMD_REGISTER_USER: {
        const char *f[5] = {canonical_email(c->email, email), c->password_hash, c->full_name,
                            sp_accounts_role_name(c->role), ""};
        sp_accounts_hash_fields(type, f, out);
        return;
    }
    case SP_ACCOUNTS_CMD_SET_PASSWORD: {
        const char *f[5] = {text_or_empty(c->activation_id), c->password_hash,
                            text_or_empty(c->purpose), "", ""};
        sp_accounts_hash_fields(type, f, out);
        return;
    }
    case SP_ACCOUNTS_CMD_REQUEST_RESET: {
        const char *f[5] = {canonical_email(c->email, email), "", "", "", ""};
        sp_accounts_hash_fields(type, f, out);
        return;
    }
    case SP_ACCOUNTS_CMD_UPDATE_PROFILE:
    case SP_ACCOUNTS_CMD_SET_IMAGE:
    case SP_ACCOUNTS_CMD_ADD_PARTNER_USER:
    case SP_ACCOUNTS_CMD_CHANGE_ROLE:
    case SP_ACCOUNTS_CMD_REMOVE_USER: partner_space_hash(c, out); return;
    case SP_ACCOUNTS_CMD_PUBLISH_CONVENTION: {
        char digest[SP_ACCOUNTS_SHA256_HEX_LEN + 1];
        sp_accounts_text_sha256(text_or_empty(c->text), digest);
        const char *f[5] = {text_or_empty(c->title), text_or_empty(c->version), digest,
                            text_or_empty(c->effective_date),
                            c->mandatory ? "mandatory" : "optional"};
        sp_accounts_hash_fields(type, f, out);
        return;
    }
    case SP_ACCOUNTS_CMD_ACCEPT_CONVENTION: {
        const char *f[5] = {text_or_empty(c->convention_id), "", "", "", ""};
        sp_accounts_hash_fields(type, f, out);
        return;
    }
    case SP_ACCOUNTS_CMD_ISSUE_ACTIVATION: {
        const char *f[5] = {c->user_id, "", "", "", ""};
        sp_accounts_hash_fields(type, f, out);
        return;
    }
    case SP_ACCOUNTS_CMD_START_SESSION:
    case SP_ACCOUNTS_CMD_END_SESSION: break;
    }
    sp_accounts_token_text(c->token_hash, c->token_hash_len, token);
    snprintf(expires, sizeof expires, "%" PRId64, c->expires_at_ms);
    const char *start[5] = {c->user_id, token, expires, "", ""};
    const char *end[5] = {token, "", "", "", ""};
    sp_accounts_hash_fields(type, c->kind == SP_ACCOUNTS_CMD_START_SESSION ? start : end, out);
}

/* ------------------------------------------------------------------ events */

static sp_accounts_event *event_add(sp_accounts_decision *d, sp_accounts_event_kind kind,
                                    const char *aggregate_id, uint64_t version, int64_t now_ms,
                                    const sp_accounts_command *command) {
    assert(d != NULL);
    assert(d->event_count < SP_ACCOUNTS_EVENTS_PER_COMMAND_MAX);
    assert(aggregate_id != NULL);
    assert(version > 0); /* an aggregate's first event is its version 1 */
    sp_accounts_event *e = &d->events[d->event_count++];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    snprintf(e->aggregate_id, sizeof e->aggregate_id, "%s", aggregate_id);
    e->aggregate_version = version;
    e->occurred_at_ms = now_ms;
    if (command != NULL) {
        snprintf(e->command_id, sizeof e->command_id, "%s", command->command_id);
        snprintf(e->actor_id, sizeof e->actor_id, "%s", command->actor_id);
        snprintf(e->actor_role, sizeof e->actor_role, "%s",
                 command->actor_role != NULL ? command->actor_role : "");
    }
    return e;
}

static void user_fields(sp_accounts_event *e, const char *email_lower, const char *password_hash,
                        const char *full_name, sp_accounts_role role) {
    assert(e != NULL);
    snprintf(e->user_id, sizeof e->user_id, "%s", e->aggregate_id);
    snprintf(e->email, sizeof e->email, "%s", email_lower);
    snprintf(e->password_hash, sizeof e->password_hash, "%s", password_hash);
    snprintf(e->full_name, sizeof e->full_name, "%s", full_name);
    e->role = role;
}

/* A fresh user id no user has. */
static int new_user_id(const sp_accounts_state *state, char out[SP_ID_LEN + 1], sp_error *err) {
    for (int i = 0; i < ID_TRIES_MAX; i++) {
        sp_id_new(out);
        if (sp_accounts_user_by_id(state, out) == NULL) return 0;
    }
    return sp_error_set(err, 503, "unavailable", "", "no free user id found");
}

/* ------------------------------------------------------------------ decisions */

static int require_backoffice(const sp_accounts_state *state, const sp_accounts_command *command,
                              sp_error *err) {
    assert(command != NULL);
    const sp_accounts_user *actor = sp_accounts_user_by_id(state, command->actor_id);
    /* A disabled back-office user (removed) has no rights left, whatever the gateway did. */
    if (actor == NULL || actor->removed || actor->role != SP_ACCOUNTS_ROLE_BACKOFFICE)
        return sp_error_set(err, 403, "forbidden", "", "only the back-office may do this");
    return 0;
}

static int check_partner_command(const sp_accounts_state *state, const sp_accounts_command *c,
                                 char email[SP_ACCOUNTS_EMAIL_MAX + 1], sp_error *err) {
    if (require_backoffice(state, c, err) != 0) return -1;
    if (check_text(c->name, 1, "name", err) != 0) return -1;
    if (!sp_accounts_partner_category_valid(c->category))
        return sp_error_set(err, 422, "invalid_category", "category",
                            "category must match ^[a-z][a-z0-9_]{1,31}$ and not be \"general\"");
    if (check_new_email(state, c->email, "admin_email", email, err) != 0) return -1;
    /* No password yet: the administrator sets it through an activation link. */
    if (c->password_hash[0] != '\0' &&
        check_password_hash(c->password_hash, "admin_password_hash", err) != 0)
        return -1;
    if (check_text(c->full_name, 0, "admin_full_name", err) != 0) return -1;
    if (c->password_hash[0] == '\0' && sp_accounts_activations_full(state))
        return sp_error_set(err, 503, "unavailable", "", "activation limit reached");
    if (sp_accounts_partners_full(state) || sp_accounts_users_full(state))
        return sp_error_set(err, 503, "unavailable", "", "user limit (%zu) reached",
                            state->limits.users_max);
    return 0;
}

static int new_partner_ids(const sp_accounts_state *state, char id[SP_ID_LEN + 1],
                           char code[SP_PARTNER_CODE_LEN + 1], sp_error *err) {
    int i = 0;
    do {
        sp_id_new(id);
    } while (sp_accounts_partner_by_id(state, id) != NULL && ++i < ID_TRIES_MAX);
    if (i == ID_TRIES_MAX)
        return sp_error_set(err, 503, "unavailable", "", "no free partner id found");
    for (i = 0; i < SP_ACCOUNTS_PARTNER_CODE_TRIES_MAX; i++) {
        sp_partner_code_new(code);
        if (sp_accounts_partner_by_code(state, code) == NULL) return 0;
    }
    return sp_error_set(err, 503, "unavailable", "", "no free partner code found");
}

/* A fresh activation id no link has. */
static int new_activation_id(const sp_accounts_state *state, char out[SP_ID_LEN + 1],
                             sp_error *err) {
    for (int i = 0; i < ID_TRIES_MAX; i++) {
        sp_id_new(out);
        if (sp_accounts_activation_by_id(state, out) == NULL) return 0;
    }
    return sp_error_set(err, 503, "unavailable", "", "no free activation id found");
}

static void add_activation(const sp_accounts_state *state, sp_accounts_decision *d,
                           const sp_accounts_command *c, const char *user_id, uint64_t user_version,
                           const char *email, const char *purpose, const char *activation_id,
                           int64_t now_ms) {
    assert(state != NULL);
    sp_accounts_event *e = event_add(d, SP_ACCOUNTS_EV_ACTIVATION_ISSUED, user_id, user_version + 1,
                                     now_ms, c);
    snprintf(e->user_id, sizeof e->user_id, "%s", user_id);
    snprintf(e->email, sizeof e->email, "%s", email);
    snprintf(e->purpose, sizeof e->purpose, "%s", purpose);
    snprintf(e->activation_id, sizeof e->activation_id, "%s", activation_id);
    e->expires_at_ms = now_ms + state->limits.activation_ttl_ms;
}

/* The admin user, and its activation link when the command has no password. */
static int add_partner_admin(const sp_accounts_state *state, sp_accounts_decision *d,
                             const sp_accounts_command *c, const char *user_id,
                             const char *partner_id, const char *email, int64_t now_ms,
                             sp_error *err) {
    char activation_id[SP_ID_LEN + 1];
    if (c->password_hash[0] == '\0' && new_activation_id(state, activation_id, err) != 0) return -1;
    sp_accounts_event *admin = event_add(d, SP_ACCOUNTS_EV_USER_REGISTERED, user_id, 1, now_ms, c);
    user_fields(admin, email, c->password_hash, c->full_name, SP_ACCOUNTS_ROLE_PARTNER_ADMIN);
    snprintf(admin->partner_id, sizeof admin->partner_id, "%s", partner_id);
    if (c->password_hash[0] == '\0')
        add_activation(state, d, c, user_id, 1, email, "activation", activation_id, now_ms);
    return 0;
}

static int decide_create_partner(const sp_accounts_state *state, const sp_accounts_command *c,
                                 int64_t now_ms, sp_accounts_decision *d, sp_error *err) {
    char email[SP_ACCOUNTS_EMAIL_MAX + 1];
    char partner_id[SP_ID_LEN + 1];
    char code[SP_PARTNER_CODE_LEN + 1];
    char user_id[SP_ID_LEN + 1];
    if (check_partner_command(state, c, email, err) != 0) return -1;
    if (new_partner_ids(state, partner_id, code, err) != 0) return -1;
    if (new_user_id(state, user_id, err) != 0) return -1;
    sp_accounts_event *p = event_add(d, SP_ACCOUNTS_EV_PARTNER_CREATED, partner_id, 1, now_ms, c);
    snprintf(p->partner_id, sizeof p->partner_id, "%s", partner_id);
    snprintf(p->partner_code, sizeof p->partner_code, "%s", code);
    snprintf(p->name, sizeof p->name, "%s", c->name);
    snprintf(p->category, sizeof p->category, "%s", c->category);
    return add_partner_admin(state, d, c, user_id, partner_id, email, now_ms, err);
}

static int decide_create_beneficiary(const sp_accounts_state *state, const sp_accounts_command *c,
                                     int64_t now_ms, sp_accounts_decision *d, sp_error *err) {
    char email[SP_ACCOUNTS_EMAIL_MAX + 1];
    char user_id[SP_ID_LEN + 1];
    if (require_backoffice(state, c, err) != 0) return -1;
    char activation_id[SP_ID_LEN + 1];
    bool link = c->password_hash[0] == '\0';
    if (check_new_email(state, c->email, "email", email, err) != 0) return -1;
    /* No password (an enrolment from a CSV file, or by a desk that lets
     * the person choose it): an activation link, mailed to the person. */
    if (!link && check_password_hash(c->password_hash, "password_hash", err) != 0) return -1;
    if (check_text(c->full_name, 1, "full_name", err) != 0) return -1;
    if (link && sp_accounts_activations_full(state))
        return sp_error_set(err, 503, "unavailable", "", "activation limit reached");
    if (sp_accounts_users_full(state))
        return sp_error_set(err, 503, "unavailable", "", "user limit (%zu) reached",
                            state->limits.users_max);
    if (new_user_id(state, user_id, err) != 0) return -1;
    if (link && new_activation_id(state, activation_id, err) != 0) return -1;
    sp_accounts_event *e = event_add(d, SP_ACCOUNTS_EV_USER_REGISTERED, user_id, 1, now_ms, c);
    user_fields(e, email, c->password_hash, c->full_name, SP_ACCOUNTS_ROLE_BENEFICIARY);
    sp_id_new(e->pass_id);
    if (link) add_activation(state, d, c, user_id, 1, email, "activation", activation_id, now_ms);
    return 0;
}

static int check_token_hash(const sp_accounts_command *c, sp_error *err) {
    if (c->token_hash_len != SP_TOKEN_HASH_LEN)
        return sp_error_set(err, 400, "invalid_value", "token_hash",
                            "token_hash must be exactly %d bytes", SP_TOKEN_HASH_LEN);
    return 0;
}

static int decide_start_session(const sp_accounts_state *state, const sp_accounts_command *c,
                                int64_t now_ms, sp_accounts_decision *d, sp_error *err) {
    assert(c != NULL);
    const sp_accounts_user *user = sp_accounts_user_by_id(state, c->user_id);
    if (user == NULL || user->removed)
        return sp_error_set(err, 404, "not_found", "user_id", "no such user");
    if (check_token_hash(c, err) != 0) return -1;
    if (c->expires_at_ms <= now_ms || c->expires_at_ms - now_ms > SP_ACCOUNTS_SESSION_TTL_MS_MAX)
        return sp_error_set(err, 400, "invalid_value", "expires_at_ms",
                            "a session must expire in the future, within 366 days");
    if (sp_accounts_session_by_hash(state, c->token_hash) != NULL)
        return sp_error_set(err, 409, "conflict", "token_hash", "this token is already in use");
    if (!sp_accounts_sessions_room(state, user, now_ms))
        return sp_error_set(err, 503, "unavailable", "", "session limit (%zu) reached",
                            state->limits.sessions_max);
    uint64_t version = user->version;
    const sp_accounts_session *oldest = NULL;
    if (sp_accounts_user_sessions_live(user, now_ms, &oldest) >=
        state->limits.sessions_per_user_max) {
        /* One login too many ends the user's oldest session first. The event
         * carries no command id: it is part of this login's outcome, not one
         * of its own. */
        assert(oldest != NULL);
        sp_accounts_event *ended = event_add(d, SP_ACCOUNTS_EV_SESSION_ENDED, user->user_id,
                                             ++version, now_ms, NULL);
        snprintf(ended->user_id, sizeof ended->user_id, "%s", user->user_id);
        memcpy(ended->token_hash, oldest->token_hash, SP_TOKEN_HASH_LEN);
    }
    sp_accounts_event *e = event_add(d, SP_ACCOUNTS_EV_SESSION_STARTED, user->user_id, ++version,
                                     now_ms, c);
    snprintf(e->user_id, sizeof e->user_id, "%s", user->user_id);
    memcpy(e->token_hash, c->token_hash, SP_TOKEN_HASH_LEN);
    e->expires_at_ms = c->expires_at_ms;
    /* The login leaves the user within its bound of live sessions. */
    assert(d->event_count >= 1);
    assert(d->event_count <= 2);
    assert(e->expires_at_ms > now_ms);
    return 0;
}

static int decide_end_session(const sp_accounts_state *state, const sp_accounts_command *c,
                              int64_t now_ms, sp_accounts_decision *d, sp_error *err) {
    if (check_token_hash(c, err) != 0) return -1;
    const sp_accounts_session *session = sp_accounts_session_by_hash(state, c->token_hash);
    /* Someone else's session is reported like an unknown one. */
    bool visible = session != NULL &&
                   (c->actor_id[0] == '\0' || strcmp(c->actor_id, session->user_id) == 0);
    if (!visible) return sp_error_set(err, 404, "not_found", "", "no such active session");
    const sp_accounts_user *user = sp_accounts_user_by_id(state, session->user_id);
    assert(user != NULL);
    /* A removed user's sessions ended with the removal. */
    if (user->removed) return sp_error_set(err, 404, "not_found", "", "no such active session");
    sp_accounts_event *e = event_add(d, SP_ACCOUNTS_EV_SESSION_ENDED, user->user_id,
                                     user->version + 1, now_ms, c);
    snprintf(e->user_id, sizeof e->user_id, "%s", user->user_id);
    memcpy(e->token_hash, c->token_hash, SP_TOKEN_HASH_LEN);
    return 0;
}

static bool purpose_valid(const char *purpose) {
    return strcmp(purpose, "activation") == 0 || strcmp(purpose, "reset") == 0;
}

/* A link is spent by the first PasswordSet and dies at its expiry; which of
 * the two is told precisely (410), an unknown or misused one is not. */
static int decide_set_password(const sp_accounts_state *state, const sp_accounts_command *c,
                               int64_t now_ms, sp_accounts_decision *d, sp_error *err) {
    assert(c != NULL);
    const char *purpose = text_or_empty(c->purpose);
    const sp_accounts_activation *a = sp_accounts_activation_by_id(state,
                                                                   text_or_empty(c->activation_id));
    if (a == NULL || !purpose_valid(purpose) || strcmp(a->purpose, purpose) != 0)
        return sp_error_set(err, 400, "invalid_token", "token", "this link is not valid");
    if (a->used) return sp_error_set(err, 410, "token_used", "token", "this link was already used");
    if (now_ms >= a->expires_at_ms)
        return sp_error_set(err, 410, "token_expired", "token", "this link has expired");
    if (check_password_hash(c->password_hash, "password_hash", err) != 0) return -1;
    const sp_accounts_user *user = sp_accounts_user_by_id(state, a->user_id);
    assert(user != NULL);
    if (user->removed)
        return sp_error_set(err, 400, "invalid_token", "token", "this link is not valid");
    /* Several activation links may be out (the back-office sends a new one):
     * the first used activates the account and spends the others. */
    if (strcmp(purpose, "activation") == 0 && user->has_password)
        return sp_error_set(err, 410, "token_used", "token",
                            "this account is already activated: log in, or ask for a new "
                            "password");
    sp_accounts_event *e = event_add(d, SP_ACCOUNTS_EV_PASSWORD_SET, user->user_id,
                                     user->version + 1, now_ms, c);
    snprintf(e->user_id, sizeof e->user_id, "%s", user->user_id);
    snprintf(e->activation_id, sizeof e->activation_id, "%s", a->activation_id);
    snprintf(e->password_hash, sizeof e->password_hash, "%s", c->password_hash);
    snprintf(e->purpose, sizeof e->purpose, "%s", purpose);
    return 0;
}

/* An unknown e-mail is a 404 the gateway never shows (it always answers 202). */
static int decide_request_reset(const sp_accounts_state *state, const sp_accounts_command *c,
                                int64_t now_ms, sp_accounts_decision *d, sp_error *err) {
    char email[SP_ACCOUNTS_EMAIL_MAX + 1];
    char activation_id[SP_ID_LEN + 1];
    if (sp_accounts_email_normalize(c->email, email, "email", err) != 0) return -1;
    const sp_accounts_user *user = sp_accounts_user_by_email(state, email);
    if (user == NULL || user->removed)
        return sp_error_set(err, 404, "not_found", "email", "no such user");
    if (!sp_accounts_activations_room(state, user, now_ms))
        return sp_error_set(err, 503, "unavailable", "", "activation limit (%zu) reached",
                            state->limits.activations_max);
    if (new_activation_id(state, activation_id, err) != 0) return -1;
    add_activation(state, d, c, user->user_id, user->version, user->email, "reset", activation_id,
                   now_ms);
    return 0;
}

/* ------------------------------------------------------------------ partner space */

static bool profile_text_ok(const char *text, size_t chars_min, size_t chars_max) {
    return sp_accounts_text_valid(text, chars_min, chars_max);
}

static int check_profile_text(const char *text, bool required, size_t chars_max, const char *field,
                              sp_error *err) {
    if (required && text[0] == '\0')
        return sp_error_set(err, 400, "missing_field", field, "%s is required", field);
    if (!profile_text_ok(text, required ? 1 : 0, chars_max))
        return sp_error_set(err, 400, "invalid_value", field,
                            "%s must be at most %zu characters of UTF-8 text without control "
                            "characters",
                            field, chars_max);
    return 0;
}

static int check_profile_url(const char *url, const char *field, sp_error *err) {
    if (url[0] == '\0' || sp_profile_url_valid(url)) return 0;
    return sp_error_set(err, 400, "invalid_url", field,
                        "%s must be an http:// or https:// address of at most %d characters", field,
                        SP_PROFILE_URL_MAX);
}

static int check_profile_bank(const sp_accounts_profile *p, sp_error *err) {
    char normal[SP_PROFILE_IBAN_MAX + 1];
    if (p->iban[0] != '\0' && (sp_profile_iban_normalize(p->iban, normal) != SP_PROFILE_IBAN_OK ||
                               strcmp(normal, p->iban) != 0))
        return sp_error_set(err, 422, "invalid_iban", "iban", "iban is not a valid IBAN");
    char bic[SP_PROFILE_BIC_MAX + 1];
    if (p->bic[0] != '\0' && (!sp_profile_bic_normalize(p->bic, bic) || strcmp(bic, p->bic) != 0))
        return sp_error_set(err, 422, "invalid_bic", "bic", "bic is not a valid BIC");
    if (check_profile_text(p->bank_holder, p->iban[0] != '\0', SP_PROFILE_NAME_CHARS_MAX,
                           "bank_holder", err) != 0)
        return -1;
    return 0;
}

int sp_accounts_profile_check(const sp_accounts_profile *p, sp_error *err) {
    assert(p != NULL);
    const size_t name_max = SP_PROFILE_NAME_CHARS_MAX;
    if (check_profile_text(p->legal_name, true, name_max, "legal_name", err) != 0 ||
        check_profile_text(p->public_name, true, name_max, "public_name", err) != 0 ||
        check_profile_text(p->description, false, SP_PROFILE_DESCRIPTION_CHARS_MAX, "description",
                           err) != 0 ||
        check_profile_url(p->website, "website", err) != 0)
        return -1;
    if (p->social_link_count > SP_PROFILE_SOCIAL_LINKS_MAX)
        return sp_error_set(err, 400, "invalid_value", "social_links", "at most %d social_links",
                            SP_PROFILE_SOCIAL_LINKS_MAX);
    for (size_t i = 0; i < p->social_link_count; i++) {
        if (p->social_links[i][0] == '\0' || !sp_profile_url_valid(p->social_links[i]))
            return sp_error_set(err, 400, "invalid_url", "social_links",
                                "social_links[%zu] must be an http:// or https:// address", i);
    }
    if (check_profile_text(p->hq_address, false, SP_PROFILE_ADDRESS_CHARS_MAX, "hq_address", err) !=
            0 ||
        check_profile_text(p->activity_address, false, SP_PROFILE_ADDRESS_CHARS_MAX,
                           "activity_address", err) != 0)
        return -1;
    if (p->contact_phone[0] != '\0' && !sp_profile_phone_valid(p->contact_phone))
        return sp_error_set(err, 400, "invalid_phone", "contact_phone",
                            "contact_phone must hold 6 to 15 digits (spaces, dots, dashes, "
                            "brackets and a leading + allowed)");
    char email[SP_ACCOUNTS_EMAIL_MAX + 1];
    if (p->contact_email[0] != '\0' &&
        (sp_accounts_email_normalize(p->contact_email, email, "contact_email", err) != 0))
        return -1;
    if (p->contact_email[0] != '\0' && strcmp(email, p->contact_email) != 0)
        return sp_error_set(err, 400, "invalid_email", "contact_email",
                            "contact_email must be lower case");
    return check_profile_bank(p, err);
}

/* The actor: an administrator of partner_id, not removed (403 otherwise). */
static int require_partner_admin(const sp_accounts_state *state, const sp_accounts_command *c,
                                 const char *partner_id, const sp_accounts_user **actor_out,
                                 sp_error *err) {
    assert(c != NULL);
    const sp_accounts_user *actor = sp_accounts_user_by_id(state, c->actor_id);
    if (actor == NULL || actor->removed || actor->role != SP_ACCOUNTS_ROLE_PARTNER_ADMIN ||
        strcmp(actor->partner_id, partner_id) != 0)
        return sp_error_set(err, 403, "forbidden", "",
                            "only an administrator of this partner may do this");
    if (actor_out != NULL) *actor_out = actor;
    return 0;
}

static const sp_accounts_partner *partner_of_command(const sp_accounts_state *state,
                                                     const sp_accounts_command *c, sp_error *err) {
    assert(c != NULL);
    const sp_accounts_partner *partner = sp_accounts_partner_by_id(state,
                                                                   text_or_empty(c->partner_id));
    if (partner == NULL)
        sp_error_set(err, 404, "partner_not_found", "partner_id", "no such partner");
    else if (require_partner_admin(state, c, partner->partner_id, NULL, err) != 0) partner = NULL;
    return partner;
}

static int decide_update_profile(const sp_accounts_state *state, const sp_accounts_command *c,
                                 int64_t now_ms, sp_accounts_decision *d, sp_error *err) {
    const sp_accounts_partner *partner = partner_of_command(state, c, err);
    if (partner == NULL) return -1;
    const char *overflow = text_or_empty(c->profile_overflow);
    if (c->profile == NULL || overflow[0] != '\0')
        return sp_error_set(err, 400, "invalid_value", overflow[0] ? overflow : "profile",
                            "the profile is missing or a member is too long");
    if (sp_accounts_profile_check(c->profile, err) != 0) return -1;
    sp_accounts_event *e = event_add(d, SP_ACCOUNTS_EV_PROFILE_UPDATED, partner->partner_id,
                                     partner->version + 1, now_ms, c);
    snprintf(e->partner_id, sizeof e->partner_id, "%s", partner->partner_id);
    e->profile = *c->profile;
    return 0;
}

static bool sha256_hex_valid(const char *hex) {
    if (strlen(hex) != SP_ACCOUNTS_SHA256_HEX_LEN) return false;
    for (size_t i = 0; i < SP_ACCOUNTS_SHA256_HEX_LEN; i++) {
        if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f'))) return false;
    }
    return true;
}

static int decide_set_image(const sp_accounts_state *state, const sp_accounts_command *c,
                            int64_t now_ms, sp_accounts_decision *d, sp_error *err) {
    const sp_accounts_partner *partner = partner_of_command(state, c, err);
    if (partner == NULL) return -1;
    const char *slot = text_or_empty(c->slot), *type = text_or_empty(c->content_type);
    if (strcmp(slot, "logo") != 0 && strcmp(slot, "cover") != 0)
        return sp_error_set(err, 400, "invalid_value", "slot", "slot is logo or cover");
    if (!sha256_hex_valid(text_or_empty(c->sha256)))
        return sp_error_set(err, 400, "invalid_value", "sha256", "sha256 is 64 hex digits");
    if (strcmp(type, "image/png") != 0 && strcmp(type, "image/jpeg") != 0)
        return sp_error_set(err, 400, "invalid_value", "content_type",
                            "content_type is image/png or image/jpeg");
    sp_accounts_event *e = event_add(d, SP_ACCOUNTS_EV_IMAGE_SET, partner->partner_id,
                                     partner->version + 1, now_ms, c);
    snprintf(e->partner_id, sizeof e->partner_id, "%s", partner->partner_id);
    snprintf(e->slot, sizeof e->slot, "%s", slot);
    snprintf(e->sha256, sizeof e->sha256, "%s", c->sha256);
    snprintf(e->content_type, sizeof e->content_type, "%s", type);
    return 0;
}

static int check_partner_role(sp_accounts_role role, sp_error *err) {
    if (role == SP_ACCOUNTS_ROLE_PARTNER_ADMIN || role == SP_ACCOUNTS_ROLE_PARTNER_USER) return 0;
    return sp_error_set(err, 400, "invalid_value", "role", "role is partner_admin or partner_user");
}

/* ------------------------------------------------------------------ staff users */

static int check_staff_role(sp_accounts_role role, sp_error *err) {
    if (role == SP_ACCOUNTS_ROLE_BACKOFFICE || role == SP_ACCOUNTS_ROLE_FINANCE) return 0;
    return sp_error_set(err, 400, "invalid_value", "role", "role is backoffice or finance");
}

/* The target of a back-office's ChangeUserRole / RemoveUser: a staff user,
 * not removed (a partner's user or a beneficiary is not told apart from an
 * unknown one: 404). A change that would leave no back-office user who can
 * log in is 409 last_backoffice_admin: nobody could manage the staff any
 * more. The one writer decides these one after the other, so two
 * back-office users disabling each other at once cannot both succeed. */
static const sp_accounts_user *staff_target(const sp_accounts_state *state,
                                            const sp_accounts_command *c, bool demotes,
                                            sp_error *err) {
    if (require_backoffice(state, c, err) != 0) return NULL;
    const sp_accounts_user *user = sp_accounts_user_by_id(state, text_or_empty(c->user_id));
    if (user == NULL || user->removed ||
        (user->role != SP_ACCOUNTS_ROLE_BACKOFFICE && user->role != SP_ACCOUNTS_ROLE_FINANCE)) {
        sp_error_set(err, 404, "user_not_found", "user_id", "no such staff user");
        return NULL;
    }
    bool counted = user->role == SP_ACCOUNTS_ROLE_BACKOFFICE && user->has_password;
    if (demotes && counted && state->backoffice_can_login_count <= 1) {
        sp_error_set(err, 409, "last_backoffice_admin", "user_id",
                     "this is the last activated back-office user: another one must be "
                     "activated first");
        return NULL;
    }
    return user;
}

/* A new activation link for a user who has not set a password yet. */
static int decide_issue_activation(const sp_accounts_state *state, const sp_accounts_command *c,
                                   int64_t now_ms, sp_accounts_decision *d, sp_error *err) {
    char activation_id[SP_ID_LEN + 1];
    if (require_backoffice(state, c, err) != 0) return -1;
    const sp_accounts_user *user = sp_accounts_user_by_id(state, c->user_id);
    if (user == NULL || user->removed)
        return sp_error_set(err, 404, "user_not_found", "user_id", "no such user");
    if (user->has_password)
        return sp_error_set(err, 409, "already_activated", "user_id",
                            "this account is already activated");
    if (!sp_accounts_activations_room(state, user, now_ms))
        return sp_error_set(err, 503, "unavailable", "", "activation limit (%zu) reached",
                            state->limits.activations_max);
    if (new_activation_id(state, activation_id, err) != 0) return -1;
    add_activation(state, d, c, user->user_id, user->version, user->email, "activation",
                   activation_id, now_ms);
    return 0;
}

/* A new user of the partner, without a password: the activation link mails it. */
static int decide_add_partner_user(const sp_accounts_state *state, const sp_accounts_command *c,
                                   int64_t now_ms, sp_accounts_decision *d, sp_error *err) {
    assert(c != NULL);
    char email[SP_ACCOUNTS_EMAIL_MAX + 1];
    char user_id[SP_ID_LEN + 1];
    char activation_id[SP_ID_LEN + 1];
    bool staff = text_or_empty(c->partner_id)[0] == '\0';
    const sp_accounts_partner *partner = staff ? NULL : partner_of_command(state, c, err);
    if (staff ? require_backoffice(state, c, err) != 0 : partner == NULL) return -1;
    if (check_new_email(state, text_or_empty(c->email), "email", email, err) != 0 ||
        check_text(text_or_empty(c->full_name), 1, "full_name", err) != 0 ||
        (staff ? check_staff_role(c->role, err) : check_partner_role(c->role, err)) != 0)
        return -1;
    if (sp_accounts_users_full(state) || sp_accounts_activations_full(state))
        return sp_error_set(err, 503, "unavailable", "", "user limit (%zu) reached",
                            state->limits.users_max);
    if (new_user_id(state, user_id, err) != 0 || new_activation_id(state, activation_id, err) != 0)
        return -1;
    sp_accounts_event *e = event_add(d, SP_ACCOUNTS_EV_USER_REGISTERED, user_id, 1, now_ms, c);
    user_fields(e, email, "", c->full_name, c->role);
    snprintf(e->partner_id, sizeof e->partner_id, "%s", staff ? "" : partner->partner_id);
    add_activation(state, d, c, user_id, 1, email, "activation", activation_id, now_ms);
    return 0;
}

/* The target of ChangeUserRole / RemoveUser: a user of the actor's own
 * partner, not removed; another partner's user is not told apart from an
 * unknown one (404). A partner keeps at least one administrator (409), and
 * one who can log in: the others may never have followed their activation
 * link, and then nobody could administer the partner (409 too). */
static const sp_accounts_user *target_user(const sp_accounts_state *state,
                                           const sp_accounts_command *c, bool demotes,
                                           sp_error *err) {
    assert(c != NULL);
    const sp_accounts_user *actor = sp_accounts_user_by_id(state, c->actor_id);
    /* The same commands from the back-office address its staff users. */
    if (actor != NULL && actor->role == SP_ACCOUNTS_ROLE_BACKOFFICE)
        return staff_target(state, c, demotes, err);
    if (actor == NULL || actor->removed || actor->role != SP_ACCOUNTS_ROLE_PARTNER_ADMIN) {
        sp_error_set(err, 403, "forbidden", "", "only a partner administrator may do this");
        return NULL;
    }
    const sp_accounts_user *user = sp_accounts_user_by_id(state, text_or_empty(c->user_id));
    if (user == NULL || user->removed || strcmp(user->partner_id, actor->partner_id) != 0) {
        sp_error_set(err, 404, "user_not_found", "user_id", "no such user in this partner");
        return NULL;
    }
    const sp_accounts_partner *partner = sp_accounts_partner_by_id(state, user->partner_id);
    assert(partner != NULL);
    if (demotes && user->role == SP_ACCOUNTS_ROLE_PARTNER_ADMIN && partner->admin_count <= 1) {
        sp_error_set(err, 409, "last_admin", "user_id",
                     "a partner keeps at least one administrator");
        return NULL;
    }
    if (demotes && user->role == SP_ACCOUNTS_ROLE_PARTNER_ADMIN &&
        partner->admin_can_login_count <= (user->has_password ? 1u : 0u)) {
        sp_error_set(err, 409, "last_admin", "user_id",
                     "the other administrators of this partner have not activated their "
                     "account yet: a partner keeps at least one administrator who can log in");
        return NULL;
    }
    return user;
}

static int decide_change_role(const sp_accounts_state *state, const sp_accounts_command *c,
                              int64_t now_ms, sp_accounts_decision *d, sp_error *err) {
    assert(c != NULL);
    /* A staff actor's roles are the staff ones (finance is then refused by target_user). */
    const sp_accounts_user *actor = sp_accounts_user_by_id(state, c->actor_id);
    bool staff = actor != NULL && (actor->role == SP_ACCOUNTS_ROLE_BACKOFFICE ||
                                   actor->role == SP_ACCOUNTS_ROLE_FINANCE);
    if ((staff ? check_staff_role(c->role, err) : check_partner_role(c->role, err)) != 0) return -1;
    sp_accounts_role kept = staff ? SP_ACCOUNTS_ROLE_BACKOFFICE : SP_ACCOUNTS_ROLE_PARTNER_ADMIN;
    const sp_accounts_user *user = target_user(state, c, c->role != kept, err);
    if (user == NULL) return -1;
    sp_accounts_event *e = event_add(d, SP_ACCOUNTS_EV_ROLE_CHANGED, user->user_id,
                                     user->version + 1, now_ms, c);
    snprintf(e->user_id, sizeof e->user_id, "%s", user->user_id);
    snprintf(e->partner_id, sizeof e->partner_id, "%s", user->partner_id);
    e->role = c->role;
    return 0;
}

static int decide_remove_user(const sp_accounts_state *state, const sp_accounts_command *c,
                              int64_t now_ms, sp_accounts_decision *d, sp_error *err) {
    const sp_accounts_user *user = target_user(state, c, true, err);
    if (user == NULL) return -1;
    sp_accounts_event *e = event_add(d, SP_ACCOUNTS_EV_USER_REMOVED, user->user_id,
                                     user->version + 1, now_ms, c);
    snprintf(e->user_id, sizeof e->user_id, "%s", user->user_id);
    snprintf(e->partner_id, sizeof e->partner_id, "%s", user->partner_id);
    return 0;
}

/* ------------------------------------------------------------------ conventions */

void sp_accounts_text_sha256(const char *text, char out[SP_ACCOUNTS_SHA256_HEX_LEN + 1]) {
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)text, strlen(text));
    sp_accounts_hex(digest, sizeof digest, out);
}

/* A convention's text: valid UTF-8, 1 byte to 32 KiB, no control character
 * but line breaks and tabs. */
static bool convention_text_valid(const char *text) {
    const unsigned char *p = (const unsigned char *)text;
    size_t bytes = strlen(text);
    if (bytes == 0 || bytes > SP_ACCOUNTS_CONVENTION_TEXT_BYTES_MAX) return false;
    while (*p != '\0') {
        uint32_t cp = 0;
        size_t len = utf8_decode(p, &cp);
        if (len == 0 || (cp < 0x20 && cp != '\n' && cp != '\r' && cp != '\t') ||
            (cp >= 0x7f && cp <= 0x9f))
            return false;
        p += len;
    }
    return true;
}

/* 1 to 32 of A-Z a-z 0-9 . _ - */
static bool convention_version_valid(const char *version) {
    size_t len = strlen(version);
    if (len == 0 || len > SP_ACCOUNTS_CONVENTION_VERSION_MAX) return false;
    return strspn(version, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
           len;
}

static int check_convention(const sp_accounts_command *c, sp_error *err) {
    assert(c != NULL);
    const char *title = text_or_empty(c->title), *version = text_or_empty(c->version);
    const char *text = text_or_empty(c->text), *date = text_or_empty(c->effective_date);
    if (!sp_accounts_text_valid(title, 1, SP_ACCOUNTS_CONVENTION_TITLE_CHARS_MAX))
        return sp_error_set(err, 400, "invalid_value", "title",
                            "title must be 1 to %d characters without control characters",
                            SP_ACCOUNTS_CONVENTION_TITLE_CHARS_MAX);
    if (!convention_version_valid(version))
        return sp_error_set(err, 400, "invalid_value", "version",
                            "version must be 1 to %d of A-Z a-z 0-9 . _ -",
                            SP_ACCOUNTS_CONVENTION_VERSION_MAX);
    if (!convention_text_valid(text))
        return sp_error_set(err, 400, "invalid_value", "text",
                            "text must be 1 byte to %d KiB of UTF-8 (line breaks allowed)",
                            SP_ACCOUNTS_CONVENTION_TEXT_BYTES_MAX / 1024);
    sp_date parsed = 0;
    sp_error ignored;
    if (strlen(date) != SP_ACCOUNTS_DATE_LEN || sp_date_parse(date, &parsed, &ignored) != 0)
        return sp_error_set(err, 422, "invalid_date", "effective_date",
                            "effective_date must be a real YYYY-MM-DD date");
    return 0;
}

static int decide_publish_convention(const sp_accounts_state *state, const sp_accounts_command *c,
                                     int64_t now_ms, sp_accounts_decision *d, sp_error *err) {
    if (require_backoffice(state, c, err) != 0 || check_convention(c, err) != 0) return -1;
    if (state->conventions.entry_count >= SP_ACCOUNTS_CONVENTIONS_MAX)
        return sp_error_set(err, 503, "unavailable", "", "convention limit (%d) reached",
                            SP_ACCOUNTS_CONVENTIONS_MAX);
    char id[SP_ID_LEN + 1];
    int tries = 0;
    do {
        sp_id_new(id);
    } while (sp_accounts_convention_by_id(state, id) != NULL && ++tries < ID_TRIES_MAX);
    if (tries == ID_TRIES_MAX)
        return sp_error_set(err, 503, "unavailable", "", "no free convention id found");
    sp_accounts_event *e = event_add(d, SP_ACCOUNTS_EV_CONVENTION_PUBLISHED, id, 1, now_ms, c);
    snprintf(e->convention_id, sizeof e->convention_id, "%s", id);
    snprintf(e->title, sizeof e->title, "%s", c->title);
    snprintf(e->version, sizeof e->version, "%s", c->version);
    snprintf(e->effective_date, sizeof e->effective_date, "%s", c->effective_date);
    e->mandatory = c->mandatory;
    e->text = c->text;
    sp_accounts_text_sha256(c->text, e->text_sha256);
    snprintf(e->user_id, sizeof e->user_id, "%s", c->actor_id);
    return 0;
}

/* A partner administrator accepts, for its own partner, a convention not
 * accepted yet; who and when are the event's. */
static int decide_accept_convention(const sp_accounts_state *state, const sp_accounts_command *c,
                                    int64_t now_ms, sp_accounts_decision *d, sp_error *err) {
    assert(c != NULL);
    const sp_accounts_user *actor = sp_accounts_user_by_id(state, c->actor_id);
    const sp_accounts_partner *partner = actor != NULL
                                             ? sp_accounts_partner_by_id(state, actor->partner_id)
                                             : NULL;
    if (partner == NULL || require_partner_admin(state, c, partner->partner_id, NULL, err) != 0)
        return sp_error_set(err, 403, "forbidden", "",
                            "only an administrator of a partner may accept a convention");
    const sp_accounts_convention *convention = sp_accounts_convention_by_id(
        state, text_or_empty(c->convention_id));
    if (convention == NULL)
        return sp_error_set(err, 404, "convention_not_found", "convention_id",
                            "no convention has this id");
    if (sp_accounts_convention_accepted(state, partner->partner_id, convention->convention_id))
        return sp_error_set(err, 409, "conflict", "convention_id",
                            "this partner has already accepted this convention");
    sp_accounts_event *e = event_add(d, SP_ACCOUNTS_EV_CONVENTION_ACCEPTED, partner->partner_id,
                                     partner->version + 1, now_ms, c);
    snprintf(e->partner_id, sizeof e->partner_id, "%s", partner->partner_id);
    snprintf(e->convention_id, sizeof e->convention_id, "%s", convention->convention_id);
    snprintf(e->version, sizeof e->version, "%s", convention->version);
    snprintf(e->user_id, sizeof e->user_id, "%s", actor->user_id);
    return 0;
}

static int decide_new(const sp_accounts_state *state, const sp_accounts_command *c, int64_t now_ms,
                      sp_accounts_decision *d, sp_error *err) {
    switch (c->kind) {
    case SP_ACCOUNTS_CMD_CREATE_PARTNER: return decide_create_partner(state, c, now_ms, d, err);
    case SP_ACCOUNTS_CMD_CREATE_BENEFICIARY:
        return decide_create_beneficiary(state, c, now_ms, d, err);
    case SP_ACCOUNTS_CMD_START_SESSION: return decide_start_session(state, c, now_ms, d, err);
    case SP_ACCOUNTS_CMD_END_SESSION: return decide_end_session(state, c, now_ms, d, err);
    case SP_ACCOUNTS_CMD_SET_PASSWORD: return decide_set_password(state, c, now_ms, d, err);
    case SP_ACCOUNTS_CMD_REQUEST_RESET: return decide_request_reset(state, c, now_ms, d, err);
    case SP_ACCOUNTS_CMD_UPDATE_PROFILE: return decide_update_profile(state, c, now_ms, d, err);
    case SP_ACCOUNTS_CMD_SET_IMAGE: return decide_set_image(state, c, now_ms, d, err);
    case SP_ACCOUNTS_CMD_ADD_PARTNER_USER: return decide_add_partner_user(state, c, now_ms, d, err);
    case SP_ACCOUNTS_CMD_CHANGE_ROLE: return decide_change_role(state, c, now_ms, d, err);
    case SP_ACCOUNTS_CMD_REMOVE_USER: return decide_remove_user(state, c, now_ms, d, err);
    case SP_ACCOUNTS_CMD_PUBLISH_CONVENTION:
        return decide_publish_convention(state, c, now_ms, d, err);
    case SP_ACCOUNTS_CMD_ACCEPT_CONVENTION:
        return decide_accept_convention(state, c, now_ms, d, err);
    case SP_ACCOUNTS_CMD_ISSUE_ACTIVATION: return decide_issue_activation(state, c, now_ms, d, err);
    case SP_ACCOUNTS_CMD_REGISTER_USER: break;
    }
    /* Accounts other than the start-up one are created by their own commands. */
    return sp_error_set(err, 403, "forbidden", "",
                        "accounts.RegisterUser.v1 is reserved to the service's start-up account");
}

/* Refusals that are kept for ever (as CommandRejected) versus answered only:
 * a full state may have room later, and an unknown session leaves no trace. */
static bool rejection_kept(const sp_accounts_command *c, const sp_error *why) {
    if (why->http_status >= 500) return false;
    return !(c->kind == SP_ACCOUNTS_CMD_END_SESSION && why->http_status == 404);
}

static void reject(const sp_accounts_state *state, const sp_accounts_command *c, int64_t now_ms,
                   const uint8_t hash[SP_KEY_LEN], const sp_error *why, sp_accounts_decision *d) {
    assert(c != NULL);
    const sp_accounts_user *actor = sp_accounts_user_by_id(state, c->actor_id);
    if (actor == NULL || !rejection_kept(c, why)) {
        d->rejection = *why;
        return;
    }
    sp_accounts_event *e = event_add(d, SP_ACCOUNTS_EV_COMMAND_REJECTED, actor->user_id,
                                     actor->version + 1, now_ms, c);
    snprintf(e->command_type, sizeof e->command_type, "%s", sp_accounts_command_type(c->kind));
    snprintf(e->code, sizeof e->code, "%s", why->code);
    snprintf(e->message, sizeof e->message, "%s", why->message);
    snprintf(e->field, sizeof e->field, "%s", why->field);
    memcpy(e->request_hash, hash, SP_KEY_LEN);
    d->recorded = true;
}

/* A CreatePartner whose partner reached the log but not its admin user (the
 * writer stopped in between): finish it with the same partner. */
static void decide_resume_partner(const sp_accounts_state *state, const sp_accounts_command *c,
                                  int64_t now_ms, const char *partner_id, sp_accounts_decision *d) {
    const sp_accounts_partner *partner = sp_accounts_partner_by_id(state, partner_id);
    assert(partner != NULL);
    if (c->kind != SP_ACCOUNTS_CMD_CREATE_PARTNER || strcmp(partner->name, c->name) != 0 ||
        strcmp(partner->category, c->category) != 0) {
        sp_error_set(&d->rejection, 409, "idempotency_conflict", "",
                     "this command id was used for another request");
        return;
    }
    char email[SP_ACCOUNTS_EMAIL_MAX + 1];
    char user_id[SP_ID_LEN + 1];
    if (check_new_email(state, c->email, "admin_email", email, &d->rejection) != 0) return;
    if (c->password_hash[0] != '\0' &&
        check_password_hash(c->password_hash, "admin_password_hash", &d->rejection) != 0)
        return;
    if (check_text(c->full_name, 0, "admin_full_name", &d->rejection) != 0) return;
    if (sp_accounts_users_full(state)) {
        sp_error_set(&d->rejection, 503, "unavailable", "", "user limit (%zu) reached",
                     state->limits.users_max);
        return;
    }
    if (new_user_id(state, user_id, &d->rejection) != 0) return;
    if (add_partner_admin(state, d, c, user_id, partner->partner_id, email, now_ms,
                          &d->rejection) != 0) {
        d->event_count = 0;
        return;
    }
    d->recorded = true;
}

void sp_accounts_decide(const sp_accounts_state *state, const sp_accounts_command *command,
                        int64_t now_ms, sp_accounts_decision *d) {
    assert(state != NULL);
    assert(command != NULL);
    assert(d != NULL);
    assert(command->actor_id != NULL);
    assert(command->command_id != NULL);
    assert(command->name != NULL);
    assert(command->category != NULL);
    assert(command->email != NULL);
    assert(command->password_hash != NULL);
    assert(command->full_name != NULL);
    assert(command->user_id != NULL);
    assert(command->token_hash != NULL || command->token_hash_len == 0);
    memset(d, 0, sizeof *d);
    if (check_envelope(command, &d->rejection) != 0) return;
    sp_accounts_key_of(command->actor_id, command->command_id, d->key);
    uint8_t hash[SP_KEY_LEN];
    sp_accounts_request_hash(command, hash);
    const sp_accounts_record *record = sp_accounts_record_get(state, d->key);
    const char *pending_partner = NULL;
    if (record != NULL && sp_accounts_record_pending(record, &pending_partner)) {
        decide_resume_partner(state, command, now_ms, pending_partner, d);
        return;
    }
    if (record != NULL) {
        if (sp_accounts_record_matches(record, hash)) {
            d->recorded = true;
            d->replayed = true;
        } else {
            sp_error_set(&d->rejection, 409, "idempotency_conflict", "",
                         "this command id was used for another request");
        }
        return;
    }
    if (!sp_accounts_records_room(state, now_ms)) {
        sp_error_set(&d->rejection, 503, "unavailable", "", "command record limit (%zu) reached",
                     state->limits.records_max);
        return;
    }
    sp_error why;
    sp_error_clear(&why);
    if (decide_new(state, command, now_ms, d, &why) == 0) {
        assert(d->event_count <= SP_ACCOUNTS_EVENTS_PER_COMMAND_MAX);
        d->recorded = true;
        return;
    }
    d->event_count = 0;
    reject(state, command, now_ms, hash, &why, d);
}

int sp_accounts_handle(sp_accounts_state *state, const sp_accounts_command *command, int64_t now_ms,
                       sp_accounts_decision *decision, sp_error *err) {
    sp_accounts_decide(state, command, now_ms, decision);
    for (size_t i = 0; i < decision->event_count; i++) {
        bool applied = false;
        if (sp_accounts_apply(state, &decision->events[i], NULL, &applied, err) != 0) return -1;
        if (!applied)
            return sp_error_set(err, 500, "invariant", "", "a decided %s event did not apply",
                                sp_accounts_event_type(decision->events[i].kind));
    }
    return 0;
}

void sp_accounts_decision_outcome(const sp_accounts_state *state,
                                  const sp_accounts_decision *decision, sp_accounts_outcome *out) {
    sp_error err;
    sp_error_clear(&err);
    if (decision->recorded && sp_accounts_outcome_get(state, decision->key, out, &err) == 0) {
        out->replayed = decision->replayed;
        return;
    }
    const sp_error *why = decision->recorded ? &err : &decision->rejection;
    memset(out, 0, sizeof *out);
    out->http_status = why->http_status;
    snprintf(out->code, sizeof out->code, "%s", why->code);
    snprintf(out->message, sizeof out->message, "%s", why->message);
    snprintf(out->field, sizeof out->field, "%s", why->field);
}

int sp_accounts_decide_register(const sp_accounts_state *state, const char *email,
                                const char *password_hash, const char *full_name,
                                sp_accounts_role role, int64_t now_ms, sp_accounts_event *out,
                                sp_error *err) {
    char lower[SP_ACCOUNTS_EMAIL_MAX + 1];
    char user_id[SP_ID_LEN + 1];
    if (check_new_email(state, email, "email", lower, err) != 0) return -1;
    if (check_password_hash(password_hash, "password_hash", err) != 0) return -1;
    if (check_text(full_name, 1, "full_name", err) != 0) return -1;
    bool partner_role = role == SP_ACCOUNTS_ROLE_PARTNER_ADMIN ||
                        role == SP_ACCOUNTS_ROLE_PARTNER_USER;
    if (sp_accounts_role_name(role)[0] == '\0' || partner_role)
        return sp_error_set(err, 400, "invalid_value", "role", "not a role for a standalone user");
    if (sp_accounts_users_full(state))
        return sp_error_set(err, 503, "unavailable", "", "user limit (%zu) reached",
                            state->limits.users_max);
    if (new_user_id(state, user_id, err) != 0) return -1;
    sp_accounts_decision d;
    memset(&d, 0, sizeof d);
    sp_accounts_event *e = event_add(&d, SP_ACCOUNTS_EV_USER_REGISTERED, user_id, 1, now_ms, NULL);
    user_fields(e, lower, password_hash, full_name, role);
    if (role == SP_ACCOUNTS_ROLE_BENEFICIARY) sp_id_new(e->pass_id);
    *out = *e;
    return 0;
}
