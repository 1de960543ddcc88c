/* accounts_state.c - the accounts state, its lookups, the stored command
 * outcomes and sp_accounts_apply(), the only code that changes the state.
 * Pure: no I/O. Deciding lives in accounts_decide.c. */
#include "accounts_state.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "accounts_internal.h"

/* ------------------------------------------------------------------ names */

const char *sp_accounts_role_name(sp_accounts_role role) {
    switch (role) {
    case SP_ACCOUNTS_ROLE_BACKOFFICE: return "backoffice";
    case SP_ACCOUNTS_ROLE_PARTNER_ADMIN: return "partner_admin";
    case SP_ACCOUNTS_ROLE_PARTNER_USER: return "partner_user";
    case SP_ACCOUNTS_ROLE_BENEFICIARY: return "beneficiary";
    case SP_ACCOUNTS_ROLE_FINANCE: return "finance";
    case SP_ACCOUNTS_ROLE_NONE: break;
    }
    return "";
}

const char *sp_accounts_command_type(sp_accounts_command_kind kind) {
    switch (kind) {
    case SP_ACCOUNTS_CMD_CREATE_PARTNER: return "accounts.CreatePartner.v1";
    case SP_ACCOUNTS_CMD_CREATE_BENEFICIARY: return "accounts.CreateBeneficiary.v1";
    case SP_ACCOUNTS_CMD_REGISTER_USER: return "accounts.RegisterUser.v1";
    case SP_ACCOUNTS_CMD_START_SESSION: return "accounts.StartSession.v1";
    case SP_ACCOUNTS_CMD_END_SESSION: return "accounts.EndSession.v1";
    case SP_ACCOUNTS_CMD_SET_PASSWORD: return "accounts.SetPassword.v1";
    case SP_ACCOUNTS_CMD_REQUEST_RESET: return "accounts.RequestPasswordReset.v1";
    case SP_ACCOUNTS_CMD_UPDATE_PROFILE: return "accounts.UpdatePartnerProfile.v1";
    case SP_ACCOUNTS_CMD_SET_IMAGE: return "accounts.SetPartnerImage.v1";
    case SP_ACCOUNTS_CMD_ISSUE_ACTIVATION: return "accounts.IssueActivation.v1";
    case SP_ACCOUNTS_CMD_ADD_PARTNER_USER: return "accounts.AddPartnerUser.v1";
    case SP_ACCOUNTS_CMD_CHANGE_ROLE: return "accounts.ChangeUserRole.v1";
    case SP_ACCOUNTS_CMD_REMOVE_USER: return "accounts.RemoveUser.v1";
    case SP_ACCOUNTS_CMD_PUBLISH_CONVENTION: return "accounts.PublishConvention.v1";
    case SP_ACCOUNTS_CMD_ACCEPT_CONVENTION: return "accounts.AcceptConvention.v1";
    }
    return "";
}

const char *sp_accounts_event_type(sp_accounts_event_kind kind) {
    switch (kind) {
    case SP_ACCOUNTS_EV_PARTNER_CREATED: return "accounts.PartnerCreated.v1";
    case SP_ACCOUNTS_EV_USER_REGISTERED: return "accounts.UserRegistered.v1";
    case SP_ACCOUNTS_EV_SESSION_STARTED: return "accounts.SessionStarted.v1";
    case SP_ACCOUNTS_EV_SESSION_ENDED: return "accounts.SessionEnded.v1";
    case SP_ACCOUNTS_EV_COMMAND_REJECTED: return "accounts.CommandRejected.v1";
    case SP_ACCOUNTS_EV_ACTIVATION_ISSUED: return "accounts.ActivationIssued.v1";
    case SP_ACCOUNTS_EV_PASSWORD_SET: return "accounts.PasswordSet.v1";
    case SP_ACCOUNTS_EV_PROFILE_UPDATED: return "accounts.PartnerProfileUpdated.v1";
    case SP_ACCOUNTS_EV_IMAGE_SET: return "accounts.PartnerImageSet.v1";
    case SP_ACCOUNTS_EV_ROLE_CHANGED: return "accounts.UserRoleChanged.v1";
    case SP_ACCOUNTS_EV_USER_REMOVED: return "accounts.UserRemoved.v1";
    case SP_ACCOUNTS_EV_CONVENTION_PUBLISHED: return "accounts.ConventionPublished.v1";
    case SP_ACCOUNTS_EV_CONVENTION_ACCEPTED: return "accounts.ConventionAccepted.v1";
    }
    return NULL;
}

/* ------------------------------------------------------------------ keys */

void sp_accounts_hex(const uint8_t *bytes, size_t len, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

void sp_accounts_user_key(const char *user_id, uint8_t key[SP_KEY_LEN]) {
    sp_key_of(key, "user", user_id, NULL, NULL);
}

void sp_accounts_email_key(const char *email_lower, uint8_t key[SP_KEY_LEN]) {
    sp_key_of(key, "email", email_lower, NULL, NULL);
}

void sp_accounts_partner_key(const char *partner_id, uint8_t key[SP_KEY_LEN]) {
    sp_key_of(key, "partner", partner_id, NULL, NULL);
}

void sp_accounts_partner_code_key(const char *code, uint8_t key[SP_KEY_LEN]) {
    sp_key_of(key, "partner_code", code, NULL, NULL);
}

void sp_accounts_activation_key(const char *activation_id, uint8_t key[SP_KEY_LEN]) {
    sp_key_of(key, "activation", activation_id, NULL, NULL);
}

void sp_accounts_session_key(const uint8_t token_hash[SP_TOKEN_HASH_LEN], uint8_t key[SP_KEY_LEN]) {
    char hex[2 * SP_TOKEN_HASH_LEN + 1];
    sp_accounts_hex(token_hash, SP_TOKEN_HASH_LEN, hex);
    sp_key_of(key, "session", hex, NULL, NULL);
}

void sp_accounts_key_of(const char *actor_id, const char *command_id, uint8_t out[SP_KEY_LEN]) {
    assert(actor_id != NULL);
    assert(command_id != NULL);
    sp_key_of(out, actor_id, command_id, NULL, NULL);
}

/* Two rounds of sp_key_of so that a command type and up to five fields fit;
 * every field is non-NULL ("" when unused). */
void sp_accounts_hash_fields(const char *type, const char *const fields[5],
                             uint8_t out[SP_KEY_LEN]) {
    uint8_t first[SP_KEY_LEN];
    char first_hex[2 * SP_KEY_LEN + 1];
    sp_key_of(first, type, fields[0], fields[1], fields[2]);
    sp_accounts_hex(first, SP_KEY_LEN, first_hex);
    sp_key_of(out, first_hex, fields[3], fields[4], NULL);
}

/* Hex of at most SP_ACCOUNTS_HASHED_BYTES_MAX bytes plus the length: only a
 * well-formed 32-byte token hash is ever accepted, so a longer value only
 * needs a stable (not a collision-free) rendering. */
void sp_accounts_token_text(const uint8_t *bytes, size_t len,
                            char out[SP_ACCOUNTS_TOKEN_TEXT_MAX]) {
    size_t shown = len < SP_ACCOUNTS_HASHED_BYTES_MAX ? len : SP_ACCOUNTS_HASHED_BYTES_MAX;
    char hex[2 * SP_ACCOUNTS_HASHED_BYTES_MAX + 1];
    sp_accounts_hex(bytes, shown, hex);
    snprintf(out, SP_ACCOUNTS_TOKEN_TEXT_MAX, "%zu:%s", len, hex);
}

/* ------------------------------------------------------------------ state */

int sp_accounts_state_init(sp_accounts_state *state, const sp_accounts_limits *limits,
                           sp_error *err) {
    assert(state != NULL);
    assert(limits != NULL);
    assert(limits->users_max > 0);
    assert(limits->sessions_max > 0);
    assert(limits->records_max > 0);
    memset(state, 0, sizeof *state);
    state->limits = *limits;
    if (state->limits.activations_max == 0)
        state->limits.activations_max = limits->users_max * SP_ACCOUNTS_ACTIVATIONS_PER_USER_MAX;
    if (state->limits.activation_ttl_ms <= 0)
        state->limits.activation_ttl_ms = SP_ACCOUNTS_ACTIVATION_TTL_DEFAULT_MS;
    if (state->limits.sessions_per_user_max == 0)
        state->limits.sessions_per_user_max = SP_ACCOUNTS_SESSIONS_PER_USER_DEFAULT;
    if (state->limits.outcome_ttl_ms <= 0)
        state->limits.outcome_ttl_ms = SP_ACCOUNTS_OUTCOME_TTL_DEFAULT_MS;
    assert(state->limits.sessions_per_user_max <= SP_ACCOUNTS_SESSIONS_PER_USER_LIMIT);
    /* clang-format off */
    sp_map *maps[] = {&state->users_by_id, &state->users_by_email, &state->partners_by_id,
                      &state->partners_by_code, &state->sessions, &state->records,
                      &state->activations, &state->conventions, &state->acceptances};
    size_t maxima[] = {limits->users_max, limits->users_max, limits->users_max,
                       limits->users_max, limits->sessions_max, limits->records_max,
                       state->limits.activations_max, SP_ACCOUNTS_CONVENTIONS_MAX,
                       limits->users_max};
    /* clang-format on */
    size_t ready = 0;
    for (; ready < sizeof maps / sizeof maps[0]; ready++) {
        if (sp_map_init(maps[ready], maxima[ready], err) != 0) goto fail;
    }
    state->initialised = true;
    return 0;
fail:
    while (ready > 0) sp_map_destroy(maps[--ready]);
    memset(state, 0, sizeof *state);
    return -1;
}

static void free_user(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    (void)ctx;
    (void)key;
    sp_accounts_user *user = value;
    free(user->email);
    free(user->full_name);
    free(user);
}

static void free_partner(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    (void)ctx;
    (void)key;
    sp_accounts_partner *partner = value;
    free(partner->name);
    free(partner);
}

static void free_plain(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    (void)ctx;
    (void)key;
    free(value);
}

void sp_accounts_record_free(sp_accounts_record *record) {
    if (record == NULL) return;
    free(record->code);
    free(record->message);
    free(record->field);
    free(record->result_json);
    free(record);
}

static void free_record(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    (void)ctx;
    (void)key;
    sp_accounts_record_free(value);
}

/* Safe on a state zeroed by a failed init or a previous destroy. */
void sp_accounts_state_destroy(sp_accounts_state *state) {
    if (state == NULL || !state->initialised) return;
    sp_map_foreach(&state->users_by_id, free_user, NULL);
    sp_map_foreach(&state->partners_by_id, free_partner, NULL);
    sp_map_foreach(&state->sessions, free_plain, NULL);
    sp_map_foreach(&state->records, free_record, NULL);
    sp_map_foreach(&state->activations, free_plain, NULL);
    sp_map_foreach(&state->conventions, free_plain, NULL);
    sp_map_destroy(&state->activations);
    sp_map_destroy(&state->conventions);
    sp_map_destroy(&state->acceptances);
    sp_map_destroy(&state->users_by_id);
    sp_map_destroy(&state->users_by_email);
    sp_map_destroy(&state->partners_by_id);
    sp_map_destroy(&state->partners_by_code);
    sp_map_destroy(&state->sessions);
    sp_map_destroy(&state->records);
    memset(state, 0, sizeof *state);
}

/* ------------------------------------------------------------------ lookups */

const sp_accounts_user *sp_accounts_user_by_id(const sp_accounts_state *state,
                                               const char *user_id) {
    if (user_id == NULL || user_id[0] == '\0') return NULL;
    uint8_t key[SP_KEY_LEN];
    sp_accounts_user_key(user_id, key);
    return sp_map_get(&state->users_by_id, key);
}

const sp_accounts_user *sp_accounts_user_by_email(const sp_accounts_state *state,
                                                  const char *email) {
    if (email == NULL) return NULL;
    char lower[SP_ACCOUNTS_EMAIL_MAX + 1];
    size_t len = strlen(email);
    if (len == 0 || len > SP_ACCOUNTS_EMAIL_MAX) return NULL;
    sp_accounts_ascii_lower(email, lower, sizeof lower);
    uint8_t key[SP_KEY_LEN];
    sp_accounts_email_key(lower, key);
    return sp_map_get(&state->users_by_email, key);
}

const sp_accounts_partner *sp_accounts_partner_by_id(const sp_accounts_state *state,
                                                     const char *partner_id) {
    if (partner_id == NULL || partner_id[0] == '\0') return NULL;
    uint8_t key[SP_KEY_LEN];
    sp_accounts_partner_key(partner_id, key);
    return sp_map_get(&state->partners_by_id, key);
}

const sp_accounts_partner *sp_accounts_partner_by_code(const sp_accounts_state *state,
                                                       const char *partner_code) {
    if (partner_code == NULL || partner_code[0] == '\0') return NULL;
    uint8_t key[SP_KEY_LEN];
    sp_accounts_partner_code_key(partner_code, key);
    return sp_map_get(&state->partners_by_code, key);
}

const sp_accounts_session *
sp_accounts_session_by_hash(const sp_accounts_state *state,
                            const uint8_t token_hash[SP_TOKEN_HASH_LEN]) {
    assert(state != NULL);
    uint8_t key[SP_KEY_LEN];
    sp_accounts_session_key(token_hash, key);
    const sp_accounts_session *session = sp_map_get(&state->sessions, key);
    /* The map key is a digest of the hash: confirm the full value. */
    if (session != NULL && memcmp(session->token_hash, token_hash, SP_TOKEN_HASH_LEN) != 0)
        return NULL;
    return session;
}

const sp_accounts_activation *sp_accounts_activation_by_id(const sp_accounts_state *state,
                                                           const char *activation_id) {
    if (activation_id == NULL || activation_id[0] == '\0') return NULL;
    uint8_t key[SP_KEY_LEN];
    sp_accounts_activation_key(activation_id, key);
    const sp_accounts_activation *a = sp_map_get(&state->activations, key);
    if (a != NULL && strcmp(a->activation_id, activation_id) != 0) return NULL;
    return a;
}

void sp_accounts_convention_key(const char *convention_id, uint8_t key[SP_KEY_LEN]) {
    sp_key_of(key, "convention", convention_id, NULL, NULL);
}

void sp_accounts_acceptance_key(const char *partner_id, const char *convention_id,
                                uint8_t key[SP_KEY_LEN]) {
    sp_key_of(key, "acceptance", partner_id, convention_id, NULL);
}

const sp_accounts_convention *sp_accounts_convention_by_id(const sp_accounts_state *state,
                                                           const char *convention_id) {
    assert(state != NULL);
    if (convention_id == NULL) return NULL;
    uint8_t key[SP_KEY_LEN];
    sp_accounts_convention_key(convention_id, key);
    return sp_map_get(&state->conventions, key);
}

bool sp_accounts_convention_accepted(const sp_accounts_state *state, const char *partner_id,
                                     const char *convention_id) {
    assert(state != NULL);
    assert(partner_id != NULL);
    assert(convention_id != NULL);
    uint8_t key[SP_KEY_LEN];
    sp_accounts_acceptance_key(partner_id, convention_id, key);
    return sp_map_get(&state->acceptances, key) != NULL;
}

size_t sp_accounts_user_count(const sp_accounts_state *state) {
    assert(state != NULL);
    return state->users_by_id.entry_count;
}
size_t sp_accounts_partner_count(const sp_accounts_state *state) {
    assert(state != NULL);
    return state->partners_by_id.entry_count;
}
size_t sp_accounts_session_count(const sp_accounts_state *state) {
    assert(state != NULL);
    return state->sessions.entry_count;
}
size_t sp_accounts_record_count(const sp_accounts_state *state) {
    assert(state != NULL);
    return state->records.entry_count;
}

static bool map_full(const sp_map *map) {
    assert(map != NULL);
    return map->entry_count >= map->entry_count_max;
}

bool sp_accounts_users_full(const sp_accounts_state *state) {
    assert(state != NULL);
    return map_full(&state->users_by_id) || map_full(&state->users_by_email);
}
bool sp_accounts_partners_full(const sp_accounts_state *state) {
    assert(state != NULL);
    return map_full(&state->partners_by_id) || map_full(&state->partners_by_code);
}
bool sp_accounts_sessions_full(const sp_accounts_state *state) {
    assert(state != NULL);
    return map_full(&state->sessions);
}
bool sp_accounts_records_full(const sp_accounts_state *state) {
    assert(state != NULL);
    return map_full(&state->records);
}
bool sp_accounts_activations_full(const sp_accounts_state *state) {
    assert(state != NULL);
    return map_full(&state->activations);
}

/* ------------------------------------------------------------------ records */

const sp_accounts_record *sp_accounts_record_get(const sp_accounts_state *state,
                                                 const uint8_t key[SP_KEY_LEN]) {
    assert(state != NULL);
    return sp_map_get(&state->records, key);
}

bool sp_accounts_record_pending(const sp_accounts_record *record, const char **partner_id) {
    if (record->pending && partner_id != NULL) *partner_id = record->pending_partner_id;
    return record->pending;
}

bool sp_accounts_record_matches(const sp_accounts_record *record, const uint8_t hash[SP_KEY_LEN]) {
    return !record->pending && memcmp(record->request_hash, hash, SP_KEY_LEN) == 0;
}

int sp_accounts_outcome_get(const sp_accounts_state *state, const uint8_t key[SP_KEY_LEN],
                            sp_accounts_outcome *out, sp_error *err) {
    assert(state != NULL);
    memset(out, 0, sizeof *out);
    const sp_accounts_record *record = sp_map_get(&state->records, key);
    if (record == NULL) return sp_error_set(err, 404, "not_found", "", "no outcome under this key");
    if (record->pending)
        return sp_error_set(err, 500, "incomplete", "", "the command's events are incomplete");
    out->ok = record->ok;
    out->http_status = record->http_status;
    snprintf(out->code, sizeof out->code, "%s", record->code);
    snprintf(out->message, sizeof out->message, "%s", record->message);
    snprintf(out->field, sizeof out->field, "%s", record->field);
    int written = snprintf(out->result_json, sizeof out->result_json, "%s", record->result_json);
    assert(written >= 0);
    assert((size_t)written < sizeof out->result_json);
    (void)written;
    out->ref_count = record->ref_count;
    memcpy(out->refs, record->refs, sizeof out->refs);
    return 0;
}

void sp_accounts_record_fill_refs(sp_accounts_state *state, const uint8_t key[SP_KEY_LEN],
                                  const sp_accounts_ref *refs, size_t ref_count) {
    assert(state != NULL);
    sp_accounts_record *record = sp_map_get(&state->records, key);
    if (record == NULL) return;
    size_t next = 0;
    for (size_t i = 0; i < record->ref_count && next < ref_count; i++) {
        if (record->refs[i].offset < 0) record->refs[i] = refs[next++];
    }
}

static void record_add_ref(sp_accounts_record *record, const sp_accounts_ref *ref) {
    if (record->ref_count >= SP_ACCOUNTS_EVENTS_PER_COMMAND_MAX) return;
    sp_accounts_ref unknown = {.partition = -1, .offset = -1};
    record->refs[record->ref_count++] = ref != NULL ? *ref : unknown;
}

/* Sets the outcome strings (copies); -1 when out of memory. */
static int record_set(sp_accounts_record *record, bool ok, int http_status, const char *code,
                      const char *message, const char *field, char *result_json_owned) {
    assert(record != NULL);
    record->ok = ok;
    record->http_status = http_status;
    record->code = strdup(code);
    record->message = strdup(message);
    record->field = strdup(field);
    record->result_json = result_json_owned != NULL ? result_json_owned : strdup("");
    if (record->code == NULL || record->message == NULL || record->field == NULL ||
        record->result_json == NULL)
        return -1;
    return 0;
}

/* The commands whose id the gateway makes for one request (login, logout,
 * password links): no client can send the id again, so their outcomes are
 * needed only for the reply and a redelivered command. */
static bool record_single_use(const sp_accounts_event *event) {
    switch (event->kind) {
    case SP_ACCOUNTS_EV_SESSION_STARTED:
    case SP_ACCOUNTS_EV_SESSION_ENDED:
    case SP_ACCOUNTS_EV_PASSWORD_SET: return true;
    case SP_ACCOUNTS_EV_ACTIVATION_ISSUED: return strcmp(event->purpose, "reset") == 0;
    case SP_ACCOUNTS_EV_COMMAND_REJECTED: {
        static const sp_accounts_command_kind kinds[] = {SP_ACCOUNTS_CMD_START_SESSION,
                                                         SP_ACCOUNTS_CMD_END_SESSION,
                                                         SP_ACCOUNTS_CMD_SET_PASSWORD,
                                                         SP_ACCOUNTS_CMD_REQUEST_RESET};
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
            if (strcmp(event->command_type, sp_accounts_command_type(kinds[i])) == 0) return true;
        }
        return false;
    }
    default: return false;
    }
}

static bool record_expired(const sp_accounts_state *state, const sp_accounts_record *record,
                           int64_t now_ms) {
    if (record == NULL) return false;
    int64_t ttl_ms = record->single_use ? SP_ACCOUNTS_SINGLE_USE_OUTCOME_TTL_MS
                                        : state->limits.outcome_ttl_ms;
    return now_ms - record->stored_at_ms >= ttl_ms;
}

bool sp_accounts_records_room(const sp_accounts_state *state, int64_t now_ms) {
    return !sp_accounts_records_full(state) || state->single_use_oldest != NULL ||
           record_expired(state, state->kept_oldest, now_ms);
}

/* Frees the oldest record of a list. */
static void record_drop_oldest(sp_accounts_state *state, sp_accounts_record **oldest,
                               sp_accounts_record **newest) {
    sp_accounts_record *record = *oldest;
    assert(record != NULL);
    *oldest = record->next;
    if (*oldest == NULL) *newest = NULL;
    void *removed = sp_map_remove(&state->records, record->key);
    assert(removed == record);
    (void)removed;
    sp_accounts_record_free(record);
}

/* Frees the records past their window at now_ms (the time of the event
 * being applied: a rebuild frees the same ones at the same events), then,
 * when the map is still full, the oldest single-use one. Each list is in
 * storing order, so only its head can be due; every step frees one record. */
static void records_make_room(sp_accounts_state *state, int64_t now_ms) {
    while (record_expired(state, state->single_use_oldest, now_ms))
        record_drop_oldest(state, &state->single_use_oldest, &state->single_use_newest);
    while (record_expired(state, state->kept_oldest, now_ms))
        record_drop_oldest(state, &state->kept_oldest, &state->kept_newest);
    if (sp_accounts_records_full(state) && state->single_use_oldest != NULL)
        record_drop_oldest(state, &state->single_use_oldest, &state->single_use_newest);
}

/* A new record under the event's (actor, command id), stored only when the
 * command has an id and no record exists yet. *out = NULL when not wanted. */
static int record_new(sp_accounts_state *state, const sp_accounts_event *event,
                      sp_accounts_record **out, uint8_t key[SP_KEY_LEN], sp_error *err) {
    *out = NULL;
    if (event->command_id[0] == '\0') return 0;
    sp_accounts_key_of(event->actor_id, event->command_id, key);
    if (sp_map_get(&state->records, key) != NULL) return 0;
    records_make_room(state, event->occurred_at_ms);
    if (sp_accounts_records_full(state))
        return sp_error_set(err, 503, "unavailable", "", "command record limit (%zu) reached",
                            state->limits.records_max);
    *out = calloc(1, sizeof **out);
    if (*out == NULL) return sp_error_set(err, 500, "out_of_memory", "", "no memory for a record");
    memcpy((*out)->key, key, SP_KEY_LEN);
    (*out)->stored_at_ms = event->occurred_at_ms;
    (*out)->single_use = record_single_use(event);
    return 0;
}

/* -1 (503) when the event would start a record and no room can be made:
 * checked before any change so that a refused event leaves the state as it was. */
static int record_room(const sp_accounts_state *state, const sp_accounts_event *event,
                       sp_error *err) {
    if (event->command_id[0] == '\0' || sp_accounts_records_room(state, event->occurred_at_ms))
        return 0;
    uint8_t key[SP_KEY_LEN];
    sp_accounts_key_of(event->actor_id, event->command_id, key);
    if (sp_map_get(&state->records, key) != NULL) return 0;
    return sp_error_set(err, 503, "unavailable", "", "command record limit (%zu) reached",
                        state->limits.records_max);
}

int sp_accounts_record_store(sp_accounts_state *state, const uint8_t key[SP_KEY_LEN],
                             sp_accounts_record *record, sp_error *err) {
    assert(record != NULL);
    assert(memcmp(key, record->key, SP_KEY_LEN) == 0);
    if (sp_map_put(&state->records, key, record, err) != 0) {
        sp_accounts_record_free(record);
        return -1;
    }
    sp_accounts_record **oldest = record->single_use ? &state->single_use_oldest
                                                     : &state->kept_oldest;
    sp_accounts_record **newest = record->single_use ? &state->single_use_newest
                                                     : &state->kept_newest;
    if (*newest != NULL) (*newest)->next = record;
    else *oldest = record;
    *newest = record;
    return 0;
}

/* ------------------------------------------------------------------ JSON results */

void sp_accounts_format_time(int64_t unix_ms, char out[SP_ACCOUNTS_TIME_TEXT_MAX]) {
    int64_t ms = unix_ms % 1000;
    int64_t seconds = unix_ms / 1000;
    if (ms < 0) {
        ms += 1000;
        seconds -= 1;
    }
    time_t t = (time_t)seconds;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, SP_ACCOUNTS_TIME_TEXT_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)ms);
}

/* Renders a JSON object built by the caller; NULL when out of memory. */
static char *json_render(json_t *object) {
    if (object == NULL) return NULL;
    char *text = json_dumps(object, JSON_COMPACT);
    json_decref(object);
    assert(text == NULL || strlen(text) < SP_ACCOUNTS_RESULT_JSON_MAX);
    return text;
}

static char *result_partner(const sp_accounts_partner *partner, const sp_accounts_user *admin) {
    assert(partner != NULL);
    assert(admin != NULL);
    return json_render(json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "partner_id",
                                 partner->partner_id, "partner_code", partner->partner_code, "name",
                                 partner->name, "category", partner->category, "admin_user_id",
                                 admin->user_id, "admin_email", admin->email));
}

static char *result_user(const sp_accounts_user *user) {
    if (user->role == SP_ACCOUNTS_ROLE_BENEFICIARY)
        return json_render(json_pack("{s:s, s:s, s:s, s:s}", "user_id", user->user_id, "pass_id",
                                     user->pass_id, "email", user->email, "full_name",
                                     user->full_name));
    return json_render(json_pack("{s:s, s:s, s:s, s:s}", "user_id", user->user_id, "email",
                                 user->email, "full_name", user->full_name, "role",
                                 sp_accounts_role_name(user->role)));
}

static char *result_session(const char *user_id, int64_t expires_at_ms) {
    char expires[SP_ACCOUNTS_TIME_TEXT_MAX];
    sp_accounts_format_time(expires_at_ms, expires);
    return json_render(json_pack("{s:s, s:s}", "user_id", user_id, "expires_at", expires));
}

/* The canonical request fields of the command whose events these are: the
 * same hash sp_accounts_request_hash() gives for that command. */
static void hash_of_partner_command(const sp_accounts_partner *partner,
                                    const sp_accounts_event *admin, uint8_t out[SP_KEY_LEN]) {
    assert(partner != NULL);
    assert(admin != NULL);
    const char *fields[5] = {partner->name, partner->category, admin->email, admin->password_hash,
                             admin->full_name};
    sp_accounts_hash_fields(sp_accounts_command_type(SP_ACCOUNTS_CMD_CREATE_PARTNER), fields, out);
}

static void hash_of_user_command(const sp_accounts_event *event, uint8_t out[SP_KEY_LEN]) {
    if (event->role == SP_ACCOUNTS_ROLE_PARTNER_ADMIN ||
        event->role == SP_ACCOUNTS_ROLE_PARTNER_USER) {
        /* Outside a CreatePartner (which keeps its own record), a partner's
         * user comes from AddPartnerUser. */
        const char *fields[5] = {event->partner_id, event->email, event->full_name,
                                 sp_accounts_role_name(event->role), ""};
        sp_accounts_hash_fields(sp_accounts_command_type(SP_ACCOUNTS_CMD_ADD_PARTNER_USER), fields,
                                out);
        return;
    }
    if (event->password_hash[0] == '\0' &&
        (event->role == SP_ACCOUNTS_ROLE_BACKOFFICE || event->role == SP_ACCOUNTS_ROLE_FINANCE)) {
        /* A staff user without a password comes from the back-office's
         * AddPartnerUser with no partner (the start-up account has one). */
        const char *fields[5] = {"", event->email, event->full_name,
                                 sp_accounts_role_name(event->role), ""};
        sp_accounts_hash_fields(sp_accounts_command_type(SP_ACCOUNTS_CMD_ADD_PARTNER_USER), fields,
                                out);
        return;
    }
    if (event->role == SP_ACCOUNTS_ROLE_BENEFICIARY) {
        const char *fields[5] = {event->email, event->password_hash, event->full_name, "", ""};
        sp_accounts_hash_fields(sp_accounts_command_type(SP_ACCOUNTS_CMD_CREATE_BENEFICIARY),
                                fields, out);
        return;
    }
    const char *fields[5] = {event->email, event->password_hash, event->full_name,
                             sp_accounts_role_name(event->role), ""};
    sp_accounts_hash_fields(sp_accounts_command_type(SP_ACCOUNTS_CMD_REGISTER_USER), fields, out);
}

/* The request hash of a partner-space command from its event; false for
 * other kinds. Mirrors sp_accounts_request_hash(). */
static bool hash_of_partner_space_command(const sp_accounts_event *e, uint8_t out[SP_KEY_LEN]) {
    char digest[65];
    switch (e->kind) {
    case SP_ACCOUNTS_EV_PROFILE_UPDATED: {
        sp_accounts_profile_digest(&e->profile, digest);
        const char *f[5] = {e->partner_id, digest, "", "", ""};
        sp_accounts_hash_fields(sp_accounts_command_type(SP_ACCOUNTS_CMD_UPDATE_PROFILE), f, out);
        return true;
    }
    case SP_ACCOUNTS_EV_IMAGE_SET: {
        const char *f[5] = {e->partner_id, e->slot, e->sha256, e->content_type, ""};
        sp_accounts_hash_fields(sp_accounts_command_type(SP_ACCOUNTS_CMD_SET_IMAGE), f, out);
        return true;
    }
    case SP_ACCOUNTS_EV_ROLE_CHANGED: {
        const char *f[5] = {e->user_id, sp_accounts_role_name(e->role), "", "", ""};
        sp_accounts_hash_fields(sp_accounts_command_type(SP_ACCOUNTS_CMD_CHANGE_ROLE), f, out);
        return true;
    }
    case SP_ACCOUNTS_EV_USER_REMOVED: {
        const char *f[5] = {e->user_id, "", "", "", ""};
        sp_accounts_hash_fields(sp_accounts_command_type(SP_ACCOUNTS_CMD_REMOVE_USER), f, out);
        return true;
    }
    case SP_ACCOUNTS_EV_CONVENTION_PUBLISHED: {
        const char *f[5] = {e->title, e->version, e->text_sha256, e->effective_date,
                            e->mandatory ? "mandatory" : "optional"};
        sp_accounts_hash_fields(sp_accounts_command_type(SP_ACCOUNTS_CMD_PUBLISH_CONVENTION), f,
                                out);
        return true;
    }
    case SP_ACCOUNTS_EV_CONVENTION_ACCEPTED: {
        const char *f[5] = {e->convention_id, "", "", "", ""};
        sp_accounts_hash_fields(sp_accounts_command_type(SP_ACCOUNTS_CMD_ACCEPT_CONVENTION), f,
                                out);
        return true;
    }
    default: return false;
    }
}

/* The request hash of the command behind a one-event outcome (sessions,
 * password links, partner-space changes). */
static void hash_of_session_command(const sp_accounts_event *event, uint8_t out[SP_KEY_LEN]) {
    if (hash_of_partner_space_command(event, out)) return;
    if (event->kind == SP_ACCOUNTS_EV_ACTIVATION_ISSUED &&
        strcmp(event->purpose, "activation") == 0) {
        /* The links of CreatePartner and AddPartnerUser belong to those
         * commands' records: a link with a record of its own is IssueActivation's. */
        const char *fields[5] = {event->user_id, "", "", "", ""};
        sp_accounts_hash_fields(sp_accounts_command_type(SP_ACCOUNTS_CMD_ISSUE_ACTIVATION), fields,
                                out);
        return;
    }
    if (event->kind == SP_ACCOUNTS_EV_ACTIVATION_ISSUED) {
        const char *fields[5] = {event->email, "", "", "", ""};
        sp_accounts_hash_fields(sp_accounts_command_type(SP_ACCOUNTS_CMD_REQUEST_RESET), fields,
                                out);
        return;
    }
    if (event->kind == SP_ACCOUNTS_EV_PASSWORD_SET) {
        const char *fields[5] = {event->activation_id, event->password_hash, event->purpose, "",
                                 ""};
        sp_accounts_hash_fields(sp_accounts_command_type(SP_ACCOUNTS_CMD_SET_PASSWORD), fields,
                                out);
        return;
    }
    char token[SP_ACCOUNTS_TOKEN_TEXT_MAX];
    sp_accounts_token_text(event->token_hash, SP_TOKEN_HASH_LEN, token);
    if (event->kind == SP_ACCOUNTS_EV_SESSION_STARTED) {
        char expires[24];
        snprintf(expires, sizeof expires, "%" PRId64, event->expires_at_ms);
        const char *fields[5] = {event->user_id, token, expires, "", ""};
        sp_accounts_hash_fields(sp_accounts_command_type(SP_ACCOUNTS_CMD_START_SESSION), fields,
                                out);
        return;
    }
    const char *fields[5] = {token, "", "", "", ""};
    sp_accounts_hash_fields(sp_accounts_command_type(SP_ACCOUNTS_CMD_END_SESSION), fields, out);
}

/* ------------------------------------------------------------------ apply */

static int oom(sp_error *err, const char *what) {
    return sp_error_set(err, 500, "out_of_memory", "", "no memory for %s", what);
}

static int apply_partner_created(sp_accounts_state *state, const sp_accounts_event *event,
                                 const sp_accounts_ref *ref, bool *applied, sp_error *err) {
    if (event->aggregate_version != 1 || strcmp(event->aggregate_id, event->partner_id) != 0)
        return 0;
    if (sp_accounts_partner_by_id(state, event->partner_id) != NULL ||
        sp_accounts_partner_by_code(state, event->partner_code) != NULL)
        return 0;
    if (sp_accounts_partners_full(state))
        return sp_error_set(err, 503, "unavailable", "", "partner limit (%zu) reached",
                            state->limits.users_max);
    uint8_t record_key[SP_KEY_LEN];
    sp_accounts_record *record = NULL;
    if (record_new(state, event, &record, record_key, err) != 0) return -1;
    sp_accounts_partner *partner = calloc(1, sizeof *partner);
    if (partner == NULL || (partner->name = strdup(event->name)) == NULL) {
        free(partner);
        sp_accounts_record_free(record);
        return oom(err, "a partner");
    }
    snprintf(partner->partner_id, sizeof partner->partner_id, "%s", event->partner_id);
    snprintf(partner->partner_code, sizeof partner->partner_code, "%s", event->partner_code);
    snprintf(partner->category, sizeof partner->category, "%s", event->category);
    partner->version = 1;
    uint8_t key[SP_KEY_LEN];
    sp_accounts_partner_key(partner->partner_id, key);
    if (sp_map_put(&state->partners_by_id, key, partner, err) != 0) {
        free_partner(NULL, key, partner);
        sp_accounts_record_free(record);
        return -1;
    }
    sp_accounts_partner_code_key(partner->partner_code, key);
    if (sp_map_put(&state->partners_by_code, key, partner, err) != 0) {
        sp_accounts_record_free(record);
        return -1;
    }
    *applied = true;
    if (record == NULL) return 0;
    /* The outcome is known once the admin user is registered too. */
    record->pending = true;
    snprintf(record->pending_partner_id, sizeof record->pending_partner_id, "%s",
             partner->partner_id);
    record_add_ref(record, ref);
    return sp_accounts_record_store(state, record_key, record, err);
}

static bool user_event_acceptable(const sp_accounts_state *state, const sp_accounts_event *event) {
    if (event->aggregate_version != 1 || strcmp(event->aggregate_id, event->user_id) != 0)
        return false;
    if (sp_accounts_user_by_id(state, event->user_id) != NULL) return false;
    if (sp_accounts_user_by_email(state, event->email) != NULL) return false;
    bool partner_role = event->role == SP_ACCOUNTS_ROLE_PARTNER_ADMIN ||
                        event->role == SP_ACCOUNTS_ROLE_PARTNER_USER;
    if (partner_role && sp_accounts_partner_by_id(state, event->partner_id) == NULL) return false;
    return sp_accounts_role_name(event->role)[0] != '\0';
}

static sp_accounts_user *user_new(const sp_accounts_event *event) {
    sp_accounts_user *user = calloc(1, sizeof *user);
    if (user == NULL) return NULL;
    user->email = strdup(event->email);
    user->full_name = strdup(event->full_name);
    if (user->email == NULL || user->full_name == NULL) {
        free(user->email);
        free(user->full_name);
        free(user);
        return NULL;
    }
    sp_accounts_ascii_lower(event->email, user->email, strlen(event->email) + 1);
    snprintf(user->user_id, sizeof user->user_id, "%s", event->user_id);
    user->role = event->role;
    snprintf(user->partner_id, sizeof user->partner_id, "%s", event->partner_id);
    snprintf(user->pass_id, sizeof user->pass_id, "%s", event->pass_id);
    user->version = 1;
    user->has_password = event->password_hash[0] != '\0';
    return user;
}

static int user_insert(sp_accounts_state *state, sp_accounts_user *user, sp_error *err) {
    assert(user != NULL);
    uint8_t key[SP_KEY_LEN];
    sp_accounts_user_key(user->user_id, key);
    if (sp_map_put(&state->users_by_id, key, user, err) != 0) {
        free_user(NULL, key, user);
        return -1;
    }
    sp_accounts_email_key(user->email, key);
    return sp_map_put(&state->users_by_email, key, user, err);
}

/* The record a UserRegistered completes (its partner's CreatePartner) or starts. */
static int record_user_registered(sp_accounts_state *state, const sp_accounts_event *event,
                                  const sp_accounts_user *user, const sp_accounts_ref *ref,
                                  sp_error *err) {
    if (event->command_id[0] == '\0') return 0;
    uint8_t key[SP_KEY_LEN];
    sp_accounts_key_of(event->actor_id, event->command_id, key);
    sp_accounts_record *record = sp_map_get(&state->records, key);
    if (record != NULL) {
        if (!record->pending || event->role != SP_ACCOUNTS_ROLE_PARTNER_ADMIN ||
            strcmp(record->pending_partner_id, event->partner_id) != 0)
            return 0;
        const sp_accounts_partner *partner = sp_accounts_partner_by_id(state, event->partner_id);
        assert(partner != NULL);
        char *json = result_partner(partner, user);
        if (json == NULL) return oom(err, "a result");
        record->pending = false;
        hash_of_partner_command(partner, event, record->request_hash);
        record_add_ref(record, ref);
        return record_set(record, true, 201, "", "", "", json) == 0 ? 0 : oom(err, "a record");
    }
    if (record_new(state, event, &record, key, err) != 0) return -1;
    assert(record != NULL);
    hash_of_user_command(event, record->request_hash);
    record_add_ref(record, ref);
    char *json = result_user(user);
    if (json == NULL || record_set(record, true, 201, "", "", "", json) != 0) {
        sp_accounts_record_free(record);
        return oom(err, "a record");
    }
    return sp_accounts_record_store(state, key, record, err);
}

static int apply_user_registered(sp_accounts_state *state, const sp_accounts_event *event,
                                 const sp_accounts_ref *ref, bool *applied, sp_error *err) {
    if (!user_event_acceptable(state, event)) return 0;
    if (sp_accounts_users_full(state))
        return sp_error_set(err, 503, "unavailable", "", "user limit (%zu) reached",
                            state->limits.users_max);
    if (record_room(state, event, err) != 0) return -1;
    sp_accounts_user *user = user_new(event);
    if (user == NULL) return oom(err, "a user");
    if (user_insert(state, user, err) != 0) return -1;
    if (user->role == SP_ACCOUNTS_ROLE_BACKOFFICE && user->has_password)
        state->backoffice_can_login_count++;
    if (user->role == SP_ACCOUNTS_ROLE_PARTNER_ADMIN) {
        sp_accounts_partner *partner = (sp_accounts_partner *)sp_accounts_partner_by_id(
            state, user->partner_id);
        assert(partner != NULL);
        partner->admin_count++;
        if (user->has_password) partner->admin_can_login_count++;
    }
    *applied = true;
    return record_user_registered(state, event, user, ref, err);
}

/* The user aggregate an event of a session or a rejection belongs to, when
 * the event is its next one. */
static sp_accounts_user *next_of_user(sp_accounts_state *state, const sp_accounts_event *event) {
    assert(event != NULL);
    sp_accounts_user *user = (sp_accounts_user *)sp_accounts_user_by_id(state, event->aggregate_id);
    if (user == NULL || event->aggregate_version != user->version + 1) return NULL;
    return user;
}

/* A record for a one-event command; nothing when the command has no id or a record exists. */
static int record_simple(sp_accounts_state *state, const sp_accounts_event *event,
                         const sp_accounts_ref *ref, int http_status, char *json_owned,
                         sp_error *err) {
    uint8_t key[SP_KEY_LEN];
    sp_accounts_record *record = NULL;
    int rc = record_new(state, event, &record, key, err);
    if (rc != 0 || record == NULL) {
        free(json_owned);
        return rc;
    }
    bool ok = event->kind != SP_ACCOUNTS_EV_COMMAND_REJECTED;
    if (ok) {
        hash_of_session_command(event, record->request_hash);
    } else {
        memcpy(record->request_hash, event->request_hash, SP_KEY_LEN);
        http_status = sp_accounts_status_of_code(event->code);
    }
    record_add_ref(record, ref);
    rc = ok ? record_set(record, true, http_status, "", "", "", json_owned)
            : record_set(record, false, http_status, event->code, event->message, event->field,
                         json_owned);
    if (rc != 0) {
        sp_accounts_record_free(record);
        return oom(err, "a record");
    }
    return sp_accounts_record_store(state, key, record, err);
}

/* ------------------------------------------------------------------ sessions */

size_t sp_accounts_user_sessions_live(const sp_accounts_user *user, int64_t now_ms,
                                      const sp_accounts_session **oldest) {
    size_t live = 0;
    if (oldest != NULL) *oldest = NULL;
    /* The list holds at most session_count entries. */
    const sp_accounts_session *s = user->sessions;
    for (size_t i = 0; s != NULL && i < user->session_count; i++, s = s->next_of_user) {
        if (s->expires_at_ms <= now_ms) continue;
        if (live == 0 && oldest != NULL) *oldest = s;
        live++;
    }
    return live;
}

bool sp_accounts_sessions_room(const sp_accounts_state *state, const sp_accounts_user *user,
                               int64_t now_ms) {
    if (!sp_accounts_sessions_full(state)) return true;
    size_t live = sp_accounts_user_sessions_live(user, now_ms, NULL);
    return live < user->session_count || live >= state->limits.sessions_per_user_max;
}

/* Takes the session out of the map and of its user's list, and frees it. */
static void session_free(sp_accounts_state *state, sp_accounts_user *user,
                         sp_accounts_session *session) {
    assert(user != NULL);
    sp_accounts_session **link = &user->sessions;
    for (size_t i = 0; *link != NULL && *link != session && i < user->session_count; i++)
        link = &(*link)->next_of_user;
    assert(*link == session);
    assert(user->session_count > 0);
    *link = session->next_of_user;
    user->session_count--;
    uint8_t key[SP_KEY_LEN];
    sp_accounts_session_key(session->token_hash, key);
    void *removed = sp_map_remove(&state->sessions, key);
    assert(removed == session);
    (void)removed;
    free(session);
}

/* Frees the user's sessions expired at now_ms (all of them with INT64_MAX). */
static void sessions_free_expired(sp_accounts_state *state, sp_accounts_user *user,
                                  int64_t now_ms) {
    assert(user != NULL);
    sp_accounts_session *s = user->sessions;
    for (size_t i = 0, n = user->session_count; s != NULL && i < n; i++) {
        sp_accounts_session *next = s->next_of_user;
        if (s->expires_at_ms <= now_ms) session_free(state, user, s);
        s = next;
    }
}

static int apply_session_started(sp_accounts_state *state, const sp_accounts_event *event,
                                 const sp_accounts_ref *ref, bool *applied, sp_error *err) {
    sp_accounts_user *user = next_of_user(state, event);
    if (user == NULL || strcmp(event->user_id, event->aggregate_id) != 0) return 0;
    if (sp_accounts_session_by_hash(state, event->token_hash) != NULL) return 0;
    bool room = !sp_accounts_sessions_full(state) ||
                sp_accounts_user_sessions_live(user, event->occurred_at_ms, NULL) <
                    user->session_count;
    if (!room)
        return sp_error_set(err, 503, "unavailable", "", "session limit (%zu) reached",
                            state->limits.sessions_max);
    if (record_room(state, event, err) != 0) return -1;
    sp_accounts_session *session = calloc(1, sizeof *session);
    if (session == NULL) return oom(err, "a session");
    /* Expired sessions of the user go at its next login: a rebuild frees the
     * same ones at the same event. */
    sessions_free_expired(state, user, event->occurred_at_ms);
    memcpy(session->token_hash, event->token_hash, SP_TOKEN_HASH_LEN);
    snprintf(session->user_id, sizeof session->user_id, "%s", user->user_id);
    session->expires_at_ms = event->expires_at_ms;
    uint8_t key[SP_KEY_LEN];
    sp_accounts_session_key(session->token_hash, key);
    if (sp_map_put(&state->sessions, key, session, err) != 0) {
        free(session);
        return -1;
    }
    sp_accounts_session **tail = &user->sessions;
    for (size_t i = 0; *tail != NULL && i < user->session_count; i++) tail = &(*tail)->next_of_user;
    assert(*tail == NULL);
    *tail = session;
    user->session_count++;
    /* Each session is in the map and in its user's list: no user holds more than the map. */
    assert(user->session_count <= state->sessions.entry_count);
    user->version++;
    *applied = true;
    char *json = result_session(user->user_id, event->expires_at_ms);
    if (json == NULL) return oom(err, "a result");
    return record_simple(state, event, ref, 200, json, err);
}

static int apply_session_ended(sp_accounts_state *state, const sp_accounts_event *event,
                               const sp_accounts_ref *ref, bool *applied, sp_error *err) {
    sp_accounts_user *user = next_of_user(state, event);
    if (user == NULL || strcmp(event->user_id, event->aggregate_id) != 0) return 0;
    sp_accounts_session *session = (sp_accounts_session *)sp_accounts_session_by_hash(
        state, event->token_hash);
    if (session == NULL || strcmp(session->user_id, user->user_id) != 0) return 0;
    if (record_room(state, event, err) != 0) return -1;
    char *json = json_render(json_pack("{s:s}", "user_id", user->user_id));
    if (json == NULL) return oom(err, "a result");
    session_free(state, user, session);
    user->version++;
    *applied = true;
    return record_simple(state, event, ref, 204, json, err);
}

static int apply_command_rejected(sp_accounts_state *state, const sp_accounts_event *event,
                                  const sp_accounts_ref *ref, bool *applied, sp_error *err) {
    sp_accounts_user *user = next_of_user(state, event);
    if (user == NULL) return 0;
    bool wants_record = event->command_id[0] != '\0' && strcmp(event->actor_id, user->user_id) == 0;
    if (wants_record && record_room(state, event, err) != 0) return -1;
    user->version++;
    *applied = true;
    if (!wants_record) return 0;
    return record_simple(state, event, ref, 0, NULL, err);
}

/* ------------------------------------------------------------------ links */

static bool activation_spent(const sp_accounts_activation *a, int64_t now_ms) {
    assert(a != NULL);
    return a->used || now_ms >= a->expires_at_ms;
}

bool sp_accounts_activations_room(const sp_accounts_state *state, const sp_accounts_user *user,
                                  int64_t now_ms) {
    if (!sp_accounts_activations_full(state)) return true;
    if (user == NULL) return false;
    if (user->activation_count >= SP_ACCOUNTS_ACTIVATIONS_PER_USER_MAX) return true;
    const sp_accounts_activation *a = user->activations;
    for (size_t i = 0; a != NULL && i < user->activation_count; i++, a = a->next_of_user) {
        if (activation_spent(a, now_ms)) return true;
    }
    return false;
}

/* Takes the link out of the map and of its user's list, and frees it. */
static void activation_free(sp_accounts_state *state, sp_accounts_user *user,
                            sp_accounts_activation *a) {
    assert(user != NULL);
    sp_accounts_activation **link = &user->activations;
    for (size_t i = 0; *link != NULL && *link != a && i < user->activation_count; i++)
        link = &(*link)->next_of_user;
    assert(*link == a);
    assert(user->activation_count > 0);
    *link = a->next_of_user;
    user->activation_count--;
    uint8_t key[SP_KEY_LEN];
    sp_accounts_activation_key(a->activation_id, key);
    void *removed = sp_map_remove(&state->activations, key);
    assert(removed == a);
    (void)removed;
    free(a);
}

/* Before a new link of user at now_ms: its used and expired links go, then
 * the oldest while it would hold more than its bound. */
static void activations_make_room(sp_accounts_state *state, sp_accounts_user *user,
                                  int64_t now_ms) {
    assert(user != NULL);
    sp_accounts_activation *a = user->activations;
    for (size_t i = 0, n = user->activation_count; a != NULL && i < n; i++) {
        sp_accounts_activation *next = a->next_of_user;
        if (activation_spent(a, now_ms)) activation_free(state, user, a);
        a = next;
    }
    while (user->activation_count >= SP_ACCOUNTS_ACTIVATIONS_PER_USER_MAX)
        activation_free(state, user, user->activations);
}

static int apply_activation_issued(sp_accounts_state *state, const sp_accounts_event *event,
                                   const sp_accounts_ref *ref, bool *applied, sp_error *err) {
    sp_accounts_user *user = next_of_user(state, event);
    if (user == NULL || strcmp(event->user_id, event->aggregate_id) != 0) return 0;
    if (sp_accounts_activation_by_id(state, event->activation_id) != NULL) return 0;
    if (!sp_accounts_activations_room(state, user, event->occurred_at_ms))
        return sp_error_set(err, 503, "unavailable", "", "activation limit (%zu) reached",
                            state->limits.activations_max);
    if (record_room(state, event, err) != 0) return -1;
    sp_accounts_activation *a = calloc(1, sizeof *a);
    if (a == NULL) return oom(err, "an activation");
    activations_make_room(state, user, event->occurred_at_ms);
    snprintf(a->activation_id, sizeof a->activation_id, "%s", event->activation_id);
    snprintf(a->user_id, sizeof a->user_id, "%s", user->user_id);
    snprintf(a->purpose, sizeof a->purpose, "%s", event->purpose);
    a->expires_at_ms = event->expires_at_ms;
    uint8_t key[SP_KEY_LEN];
    sp_accounts_activation_key(a->activation_id, key);
    if (sp_map_put(&state->activations, key, a, err) != 0) {
        free(a);
        return -1;
    }
    sp_accounts_activation **tail = &user->activations;
    for (size_t i = 0; *tail != NULL && i < user->activation_count; i++)
        tail = &(*tail)->next_of_user;
    assert(*tail == NULL);
    *tail = a;
    user->activation_count++;
    /* activations_make_room left room for this one. */
    assert(user->activation_count <= SP_ACCOUNTS_ACTIVATIONS_PER_USER_MAX);
    user->version++;
    *applied = true;
    /* A link issued by CreatePartner belongs to that command's record already. */
    char *json = json_render(json_pack("{s:s}", "user_id", user->user_id));
    if (json == NULL) return oom(err, "a result");
    return record_simple(state, event, ref, 202, json, err);
}

static int apply_password_set(sp_accounts_state *state, const sp_accounts_event *event,
                              const sp_accounts_ref *ref, bool *applied, sp_error *err) {
    sp_accounts_user *user = next_of_user(state, event);
    if (user == NULL || strcmp(event->user_id, event->aggregate_id) != 0) return 0;
    sp_accounts_activation *a = (sp_accounts_activation *)sp_accounts_activation_by_id(
        state, event->activation_id);
    if (a == NULL || a->used || strcmp(a->user_id, user->user_id) != 0) return 0;
    if (record_room(state, event, err) != 0) return -1;
    char *json = json_render(json_pack("{s:s, s:s, s:s}", "user_id", user->user_id, "email",
                                       user->email, "role", sp_accounts_role_name(user->role)));
    if (json == NULL) return oom(err, "a result");
    a->used = true;
    if (!user->has_password && !user->removed && user->role == SP_ACCOUNTS_ROLE_BACKOFFICE)
        state->backoffice_can_login_count++;
    if (!user->has_password && !user->removed && user->role == SP_ACCOUNTS_ROLE_PARTNER_ADMIN) {
        sp_accounts_partner *partner = (sp_accounts_partner *)sp_accounts_partner_by_id(
            state, user->partner_id);
        assert(partner != NULL);
        partner->admin_can_login_count++;
    }
    user->has_password = true;
    sessions_free_expired(state, user, INT64_MAX); /* the projection ends them too */
    user->version++;
    *applied = true;
    return record_simple(state, event, ref, 200, json, err);
}

/* ------------------------------------------------------------------ partner space */

/* The partner an event of its own belongs to, when the event is its next one. */
static sp_accounts_partner *next_of_partner(sp_accounts_state *state,
                                            const sp_accounts_event *event) {
    assert(event != NULL);
    sp_accounts_partner *partner = (sp_accounts_partner *)sp_accounts_partner_by_id(
        state, event->aggregate_id);
    if (partner == NULL || event->aggregate_version != partner->version + 1 ||
        strcmp(partner->partner_id, event->partner_id) != 0)
        return NULL;
    return partner;
}

static int apply_partner_changed(sp_accounts_state *state, const sp_accounts_event *event,
                                 const sp_accounts_ref *ref, bool *applied, sp_error *err) {
    sp_accounts_partner *partner = next_of_partner(state, event);
    if (partner == NULL) return 0;
    if (record_room(state, event, err) != 0) return -1;
    json_t *result = event->kind == SP_ACCOUNTS_EV_IMAGE_SET
                         ? json_pack("{s:s, s:s, s:s, s:s}", "partner_id", partner->partner_id,
                                     "slot", event->slot, "sha256", event->sha256, "content_type",
                                     event->content_type)
                         : json_pack("{s:s}", "partner_id", partner->partner_id);
    char *json = json_render(result);
    if (json == NULL) return oom(err, "a result");
    partner->version++;
    *applied = true;
    return record_simple(state, event, ref, 200, json, err);
}

static bool partner_role(sp_accounts_role role) {
    return role == SP_ACCOUNTS_ROLE_PARTNER_ADMIN || role == SP_ACCOUNTS_ROLE_PARTNER_USER;
}

static bool staff_role(sp_accounts_role role) {
    return role == SP_ACCOUNTS_ROLE_BACKOFFICE || role == SP_ACCOUNTS_ROLE_FINANCE;
}

/* A change of a user's role stays within its family: partner roles, or
 * staff roles (whose users belong to no partner). */
static bool role_family_same(sp_accounts_role a, sp_accounts_role b) {
    return (partner_role(a) && partner_role(b)) || (staff_role(a) && staff_role(b));
}

/* The back-office users who can log in, before (delta -1) or after (+1) a change. */
static void backoffice_count(sp_accounts_state *state, const sp_accounts_user *user, int delta) {
    if (user->role != SP_ACCOUNTS_ROLE_BACKOFFICE || !user->has_password || user->removed) return;
    assert(delta > 0 || state->backoffice_can_login_count > 0);
    state->backoffice_can_login_count += delta > 0 ? 1 : (size_t)-1;
}

/* UserRoleChanged and UserRemoved: a partner's user or a staff user, not
 * removed, whose next event this is; the administrator counts follow. */
static int apply_user_changed(sp_accounts_state *state, const sp_accounts_event *event,
                              const sp_accounts_ref *ref, bool *applied, sp_error *err) {
    sp_accounts_user *user = next_of_user(state, event);
    if (user == NULL || user->removed || strcmp(event->user_id, event->aggregate_id) != 0 ||
        !(partner_role(user->role) || staff_role(user->role)) ||
        strcmp(user->partner_id, event->partner_id) != 0)
        return 0;
    bool role_change = event->kind == SP_ACCOUNTS_EV_ROLE_CHANGED;
    if (role_change && !role_family_same(user->role, event->role)) return 0;
    sp_accounts_partner *partner = (sp_accounts_partner *)sp_accounts_partner_by_id(
        state, user->partner_id);
    assert(partner != NULL || staff_role(user->role));
    if (record_room(state, event, err) != 0) return -1;
    char *json = role_change ? json_render(json_pack("{s:s, s:s}", "user_id", user->user_id, "role",
                                                     sp_accounts_role_name(event->role)))
                             : json_render(json_pack("{s:s}", "user_id", user->user_id));
    if (json == NULL) return oom(err, "a result");
    backoffice_count(state, user, -1);
    if (user->role == SP_ACCOUNTS_ROLE_PARTNER_ADMIN) {
        partner->admin_count--;
        if (user->has_password) partner->admin_can_login_count--;
    }
    if (role_change) {
        user->role = event->role;
        backoffice_count(state, user, +1);
        if (user->role == SP_ACCOUNTS_ROLE_PARTNER_ADMIN) {
            partner->admin_count++;
            if (user->has_password) partner->admin_can_login_count++;
        }
    } else {
        user->removed = true;
        sessions_free_expired(state, user, INT64_MAX); /* ended with the removal */
    }
    user->version++;
    *applied = true;
    return record_simple(state, event, ref, 200, json, err);
}

/* ConventionPublished: a new convention, its only event. */
static int apply_convention_published(sp_accounts_state *state, const sp_accounts_event *event,
                                      const sp_accounts_ref *ref, bool *applied, sp_error *err) {
    if (event->aggregate_version != 1 || strcmp(event->aggregate_id, event->convention_id) != 0 ||
        !sp_id_valid(event->convention_id) ||
        sp_accounts_convention_by_id(state, event->convention_id) != NULL)
        return 0;
    if (record_room(state, event, err) != 0) return -1;
    sp_accounts_convention *c = calloc(1, sizeof *c);
    if (c == NULL) return oom(err, "a convention");
    snprintf(c->convention_id, sizeof c->convention_id, "%s", event->convention_id);
    snprintf(c->version, sizeof c->version, "%s", event->version);
    char published_at[SP_ACCOUNTS_TIME_TEXT_MAX];
    sp_accounts_format_time(event->occurred_at_ms, published_at);
    char *json = json_render(json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:s}", "convention_id",
                                       c->convention_id, "title", event->title, "version",
                                       c->version, "effective_date", event->effective_date,
                                       "mandatory", event->mandatory, "text_sha256",
                                       event->text_sha256, "published_at", published_at));
    uint8_t key[SP_KEY_LEN];
    sp_accounts_convention_key(c->convention_id, key);
    if (json == NULL || sp_map_put(&state->conventions, key, c, err) != 0) {
        free(c);
        free(json);
        return json == NULL ? oom(err, "a result") : -1;
    }
    *applied = true;
    return record_simple(state, event, ref, 201, json, err);
}

/* ConventionAccepted: the partner's next event, of a known convention it
 * had not accepted yet. */
static int apply_convention_accepted(sp_accounts_state *state, const sp_accounts_event *event,
                                     const sp_accounts_ref *ref, bool *applied, sp_error *err) {
    assert(event != NULL);
    sp_accounts_partner *partner = next_of_partner(state, event);
    const sp_accounts_convention *c = sp_accounts_convention_by_id(state, event->convention_id);
    if (partner == NULL || c == NULL ||
        sp_accounts_convention_accepted(state, partner->partner_id, c->convention_id))
        return 0;
    if (record_room(state, event, err) != 0) return -1;
    char accepted_at[SP_ACCOUNTS_TIME_TEXT_MAX];
    sp_accounts_format_time(event->occurred_at_ms, accepted_at);
    char *json = json_render(json_pack("{s:s, s:s, s:s, s:s, s:s}", "partner_id",
                                       partner->partner_id, "convention_id", c->convention_id,
                                       "version", event->version, "accepted_by", event->user_id,
                                       "accepted_at", accepted_at));
    if (json == NULL) return oom(err, "a result");
    uint8_t key[SP_KEY_LEN];
    sp_accounts_acceptance_key(partner->partner_id, c->convention_id, key);
    if (sp_map_put(&state->acceptances, key, (void *)c, err) != 0) {
        free(json);
        return -1;
    }
    partner->version++;
    *applied = true;
    return record_simple(state, event, ref, 201, json, err);
}

int sp_accounts_apply(sp_accounts_state *state, const sp_accounts_event *event,
                      const sp_accounts_ref *ref, bool *applied, sp_error *err) {
    assert(state != NULL);
    assert(event != NULL);
    assert(applied != NULL);
    *applied = false;
    if (err != NULL) sp_error_clear(err);
    switch (event->kind) {
    case SP_ACCOUNTS_EV_PARTNER_CREATED:
        return apply_partner_created(state, event, ref, applied, err);
    case SP_ACCOUNTS_EV_USER_REGISTERED:
        return apply_user_registered(state, event, ref, applied, err);
    case SP_ACCOUNTS_EV_SESSION_STARTED:
        return apply_session_started(state, event, ref, applied, err);
    case SP_ACCOUNTS_EV_SESSION_ENDED: return apply_session_ended(state, event, ref, applied, err);
    case SP_ACCOUNTS_EV_COMMAND_REJECTED:
        return apply_command_rejected(state, event, ref, applied, err);
    case SP_ACCOUNTS_EV_ACTIVATION_ISSUED:
        return apply_activation_issued(state, event, ref, applied, err);
    case SP_ACCOUNTS_EV_PASSWORD_SET: return apply_password_set(state, event, ref, applied, err);
    case SP_ACCOUNTS_EV_PROFILE_UPDATED:
    case SP_ACCOUNTS_EV_IMAGE_SET: return apply_partner_changed(state, event, ref, applied, err);
    case SP_ACCOUNTS_EV_ROLE_CHANGED:
    case SP_ACCOUNTS_EV_USER_REMOVED: return apply_user_changed(state, event, ref, applied, err);
    case SP_ACCOUNTS_EV_CONVENTION_PUBLISHED:
        return apply_convention_published(state, event, ref, applied, err);
    case SP_ACCOUNTS_EV_CONVENTION_ACCEPTED:
        return apply_convention_accepted(state, event, ref, applied, err);
    }
    return 0;
}
