/* accounts_snapshot.c - the accounts state to canonical bytes and back (see
 * accounts_snapshot.h for what it holds and why), in the fields and
 * checksum of common/sp_snapshot_codec.h. */
#include "accounts_snapshot.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts_internal.h"

static const uint8_t snapshot_magic[8] = {'S', 'P', 'A', 'S', 'N', 'A', 'P', '\n'};
_Static_assert(SP_ACCOUNTS_SNAPSHOT_VERSION_MAX <= SP_SNAPSHOT_VERSION_BYTES_MAX,
               "the binary's version fits the preamble the codec reads");

/* The smallest encodings, which bound the counts read back. */
#define USER_BYTES_MIN 50
#define PARTNER_BYTES_MIN 40
#define CONVENTION_BYTES_MIN 8
#define ACCEPTANCE_BYTES_MIN (SP_KEY_LEN + 4)
#define SESSION_BYTES_MIN (SP_TOKEN_HASH_LEN + 8)
#define ACTIVATION_BYTES_MIN 17
#define RECORD_BYTES_MIN (2 * SP_KEY_LEN + 21)
#define REF_BYTES 12

void sp_accounts_snapshot_note(sp_accounts_snapshot_position *position,
                               const sp_accounts_event *event, int64_t offset) {
    assert(position != NULL);
    assert(event != NULL);
    position->next_offset = offset + 1;
    snprintf(position->last_aggregate_id, sizeof position->last_aggregate_id, "%s",
             event->aggregate_id);
    position->last_version = event->aggregate_version;
    snprintf(position->last_command_id, sizeof position->last_command_id, "%s", event->command_id);
}

bool sp_accounts_snapshot_names(const sp_accounts_snapshot_position *position,
                                const sp_accounts_event *event) {
    assert(position != NULL);
    assert(event != NULL);
    return strcmp(event->aggregate_id, position->last_aggregate_id) == 0 &&
           event->aggregate_version == position->last_version &&
           strcmp(event->command_id, position->last_command_id) == 0;
}

/* ------------------------------------------------------------ encode */

static void put_user(sp_snapshot_encoder *w, const sp_accounts_user *u) {
    assert(u != NULL);
    sp_snapshot_put_str(w, u->user_id);
    sp_snapshot_put_str(w, u->email);
    sp_snapshot_put_str(w, u->full_name);
    sp_snapshot_put_u32(w, (uint32_t)u->role);
    sp_snapshot_put_str(w, u->partner_id);
    sp_snapshot_put_str(w, u->pass_id);
    sp_snapshot_put_u64(w, u->version);
    sp_snapshot_put_bool(w, u->removed);
    sp_snapshot_put_bool(w, u->has_password);
    sp_snapshot_put_u64(w, u->session_count);
    const sp_accounts_session *s = u->sessions;
    for (size_t i = 0; i < u->session_count; i++, s = s->next_of_user) {
        assert(s != NULL);
        sp_snapshot_put_bytes(w, s->token_hash, SP_TOKEN_HASH_LEN);
        sp_snapshot_put_i64(w, s->expires_at_ms);
    }
    sp_snapshot_put_u64(w, u->activation_count);
    const sp_accounts_activation *a = u->activations;
    for (size_t i = 0; i < u->activation_count; i++, a = a->next_of_user) {
        assert(a != NULL);
        sp_snapshot_put_str(w, a->activation_id);
        sp_snapshot_put_str(w, a->purpose);
        sp_snapshot_put_i64(w, a->expires_at_ms);
        sp_snapshot_put_bool(w, a->used);
    }
}

static void put_partner(sp_snapshot_encoder *w, const sp_accounts_partner *p) {
    assert(p != NULL);
    sp_snapshot_put_str(w, p->partner_id);
    sp_snapshot_put_str(w, p->partner_code);
    sp_snapshot_put_str(w, p->name);
    sp_snapshot_put_str(w, p->category);
    sp_snapshot_put_u64(w, p->version);
    sp_snapshot_put_u64(w, p->admin_count);
    sp_snapshot_put_u64(w, p->admin_can_login_count);
}

static void put_record(sp_snapshot_encoder *w, const sp_accounts_record *r) {
    sp_snapshot_put_bytes(w, r->key, SP_KEY_LEN);
    sp_snapshot_put_bytes(w, r->request_hash, SP_KEY_LEN);
    sp_snapshot_put_bool(w, r->pending);
    sp_snapshot_put_str(w, r->pending_partner_id);
    /* A pending record has no outcome yet (its strings are NULL). */
    if (!r->pending) {
        sp_snapshot_put_bool(w, r->ok);
        sp_snapshot_put_u32(w, (uint32_t)r->http_status);
        sp_snapshot_put_str(w, r->code);
        sp_snapshot_put_str(w, r->message);
        sp_snapshot_put_str(w, r->field);
        sp_snapshot_put_str(w, r->result_json);
    }
    sp_snapshot_put_i64(w, r->stored_at_ms);
    sp_snapshot_put_u64(w, r->ref_count);
    for (size_t i = 0; i < r->ref_count; i++) {
        sp_snapshot_put_u32(w, (uint32_t)r->refs[i].partition);
        sp_snapshot_put_i64(w, r->refs[i].offset);
    }
}

/* A list of records, oldest first: its length, then each. */
static void put_records(sp_snapshot_encoder *w, const sp_accounts_state *state,
                        const sp_accounts_record *oldest) {
    size_t count = 0;
    for (const sp_accounts_record *r = oldest; r != NULL; r = r->next) {
        count++;
        assert(count <= state->records.entry_count);
    }
    sp_snapshot_put_u64(w, count);
    for (const sp_accounts_record *r = oldest; r != NULL; r = r->next) put_record(w, r);
}

static void put_header(sp_snapshot_encoder *w, const sp_accounts_state *state, int32_t partition,
                       const sp_accounts_snapshot_position *position, const char *build_version) {
    assert(state != NULL);
    assert(position != NULL);
    const sp_accounts_limits *l = &state->limits;
    sp_snapshot_put_preamble(w, snapshot_magic, sizeof snapshot_magic, SP_ACCOUNTS_SNAPSHOT_FORMAT,
                             build_version);
    sp_snapshot_put_u32(w, (uint32_t)partition);
    sp_snapshot_put_u64(w, l->users_max);
    sp_snapshot_put_u64(w, l->sessions_max);
    sp_snapshot_put_u64(w, l->sessions_per_user_max);
    sp_snapshot_put_u64(w, l->records_max);
    sp_snapshot_put_i64(w, l->outcome_ttl_ms);
    sp_snapshot_put_u64(w, l->activations_max);
    sp_snapshot_put_i64(w, l->activation_ttl_ms);
    sp_snapshot_put_position(w, position);
}

enum { SORTED_USERS, SORTED_PARTNERS, SORTED_CONVENTIONS, SORTED_ACCEPTANCES, SORTED_COUNT };

static void put_body(sp_snapshot_encoder *w, const sp_accounts_state *state,
                     const sp_snapshot_entries sorted[SORTED_COUNT]) {
    /* Partners first: a partner's user names one already read. */
    sp_snapshot_put_u64(w, sorted[SORTED_PARTNERS].count);
    for (size_t i = 0; i < sorted[SORTED_PARTNERS].count; i++)
        put_partner(w, sorted[SORTED_PARTNERS].items[i].value);
    sp_snapshot_put_u64(w, sorted[SORTED_USERS].count);
    for (size_t i = 0; i < sorted[SORTED_USERS].count; i++)
        put_user(w, sorted[SORTED_USERS].items[i].value);
    sp_snapshot_put_u64(w, sorted[SORTED_CONVENTIONS].count);
    for (size_t i = 0; i < sorted[SORTED_CONVENTIONS].count; i++) {
        const sp_accounts_convention *c = sorted[SORTED_CONVENTIONS].items[i].value;
        sp_snapshot_put_str(w, c->convention_id);
        sp_snapshot_put_str(w, c->version);
    }
    sp_snapshot_put_u64(w, sorted[SORTED_ACCEPTANCES].count);
    for (size_t i = 0; i < sorted[SORTED_ACCEPTANCES].count; i++) {
        const sp_snapshot_entry *e = &sorted[SORTED_ACCEPTANCES].items[i];
        sp_snapshot_put_bytes(w, e->key, SP_KEY_LEN);
        sp_snapshot_put_str(w, ((const sp_accounts_convention *)e->value)->convention_id);
    }
    put_records(w, state, state->single_use_oldest);
    put_records(w, state, state->kept_oldest);
    sp_snapshot_put_u64(w, state->backoffice_can_login_count);
}

int sp_accounts_snapshot_encode(const sp_accounts_state *state, int32_t partition,
                                const sp_accounts_snapshot_position *position,
                                const char *build_version, uint8_t **out, size_t *out_len,
                                sp_error *err) {
    assert(state != NULL);
    assert(state->initialised);
    assert(position != NULL);
    assert(build_version != NULL);
    assert(strlen(build_version) <= SP_ACCOUNTS_SNAPSHOT_VERSION_MAX);
    *out = NULL;
    *out_len = 0;
    const sp_map *maps[SORTED_COUNT] = {&state->users_by_id, &state->partners_by_id,
                                        &state->conventions, &state->acceptances};
    sp_snapshot_entries sorted[SORTED_COUNT] = {{0}};
    bool memory_ok = true;
    for (size_t m = 0; m < SORTED_COUNT; m++)
        memory_ok = memory_ok && sp_snapshot_sorted_entries(maps[m], &sorted[m]);
    sp_snapshot_encoder w = {0};
    if (memory_ok) {
        put_header(&w, state, partition, position, build_version);
        put_body(&w, state, sorted);
    }
    for (size_t m = 0; m < SORTED_COUNT; m++) free(sorted[m].items);
    if (!memory_ok) {
        free(w.buf);
        return sp_error_set(err, 503, "unavailable", NULL, "out of memory for a snapshot");
    }
    return sp_snapshot_encoder_finish(&w, "the accounts", out, out_len, err);
}

/* ------------------------------------------------------------ decode */

typedef struct snap_decoding {
    sp_snapshot_decoder r;
    sp_accounts_state *state;
    bool oom;
} snap_decoding;

static bool going(const snap_decoding *d) {
    return d->r.bad == NULL && !d->oom;
}

static void refuse(snap_decoding *d, const char *why) {
    if (d->r.bad == NULL) d->r.bad = why;
}

/* Puts value under key unless a read failed, the key is taken or the map
 * is full (each refuses the snapshot). false: value not put. */
static bool put_in(snap_decoding *d, sp_map *map, const uint8_t key[SP_KEY_LEN], void *value,
                   const char *what) {
    if (!going(d)) return false;
    sp_error ignored;
    if (sp_map_get(map, key) != NULL || sp_map_put(map, key, value, &ignored) != 0) {
        refuse(d, what);
        return false;
    }
    return true;
}

static void get_partner(snap_decoding *d) {
    sp_snapshot_decoder *r = &d->r;
    sp_accounts_partner *p = calloc(1, sizeof *p);
    if (p == NULL) {
        d->oom = true;
        return;
    }
    sp_snapshot_get_str(r, p->partner_id, sizeof p->partner_id, "partner id");
    sp_snapshot_get_str(r, p->partner_code, sizeof p->partner_code, "partner code");
    p->name = sp_snapshot_get_str_dup(r, "partner name", &d->oom);
    sp_snapshot_get_str(r, p->category, sizeof p->category, "partner category");
    p->version = sp_snapshot_get_u64(r, "partner version");
    p->admin_count = (size_t)sp_snapshot_get_u64(r, "partner admins");
    p->admin_can_login_count = (size_t)sp_snapshot_get_u64(r, "partner admins who can log in");
    if (going(d) && p->partner_id[0] == '\0') refuse(d, "partner id");
    uint8_t key[SP_KEY_LEN];
    sp_accounts_partner_key(p->partner_id, key);
    if (!put_in(d, &d->state->partners_by_id, key, p, "a partner twice or past SP_USERS_MAX")) {
        free(p->name);
        free(p);
        return;
    }
    sp_accounts_partner_code_key(p->partner_code, key);
    put_in(d, &d->state->partners_by_code, key, p, "a partner code twice");
}

static void get_sessions(snap_decoding *d, sp_accounts_user *u) {
    assert(d != NULL);
    assert(u != NULL);
    sp_snapshot_decoder *r = &d->r;
    size_t count = sp_snapshot_get_count(r, d->state->limits.sessions_max, SESSION_BYTES_MIN,
                                         "session count");
    sp_accounts_session **tail = &u->sessions;
    for (size_t i = 0; i < count && going(d); i++) {
        sp_accounts_session *s = calloc(1, sizeof *s);
        if (s == NULL) {
            d->oom = true;
            return;
        }
        sp_snapshot_get_bytes(r, s->token_hash, SP_TOKEN_HASH_LEN, "session token");
        s->expires_at_ms = sp_snapshot_get_i64(r, "session expiry");
        snprintf(s->user_id, sizeof s->user_id, "%s", u->user_id);
        uint8_t key[SP_KEY_LEN];
        sp_accounts_session_key(s->token_hash, key);
        if (!put_in(d, &d->state->sessions, key, s, "a session twice or past the limit")) {
            free(s);
            return;
        }
        *tail = s;
        tail = &s->next_of_user;
        u->session_count++;
    }
}

static void get_activations(snap_decoding *d, sp_accounts_user *u) {
    assert(d != NULL);
    assert(u != NULL);
    sp_snapshot_decoder *r = &d->r;
    size_t count = sp_snapshot_get_count(r, d->state->limits.activations_max, ACTIVATION_BYTES_MIN,
                                         "link count");
    sp_accounts_activation **tail = &u->activations;
    for (size_t i = 0; i < count && going(d); i++) {
        sp_accounts_activation *a = calloc(1, sizeof *a);
        if (a == NULL) {
            d->oom = true;
            return;
        }
        sp_snapshot_get_str(r, a->activation_id, sizeof a->activation_id, "link id");
        sp_snapshot_get_str(r, a->purpose, sizeof a->purpose, "link purpose");
        a->expires_at_ms = sp_snapshot_get_i64(r, "link expiry");
        a->used = sp_snapshot_get_bool(r, "link used");
        snprintf(a->user_id, sizeof a->user_id, "%s", u->user_id);
        uint8_t key[SP_KEY_LEN];
        sp_accounts_activation_key(a->activation_id, key);
        if (!put_in(d, &d->state->activations, key, a, "a link twice or past the limit")) {
            free(a);
            return;
        }
        *tail = a;
        tail = &a->next_of_user;
        u->activation_count++;
    }
}

static bool partner_role(sp_accounts_role role) {
    return role == SP_ACCOUNTS_ROLE_PARTNER_ADMIN || role == SP_ACCOUNTS_ROLE_PARTNER_USER;
}

/* A user's own fields; NULL (freed) when they do not read. */
static sp_accounts_user *get_user_fields(snap_decoding *d) {
    sp_snapshot_decoder *r = &d->r;
    sp_accounts_user *u = calloc(1, sizeof *u);
    if (u == NULL) {
        d->oom = true;
        return NULL;
    }
    sp_snapshot_get_str(r, u->user_id, sizeof u->user_id, "user id");
    u->email = sp_snapshot_get_str_dup(r, "user e-mail", &d->oom);
    u->full_name = sp_snapshot_get_str_dup(r, "user name", &d->oom);
    uint32_t role = sp_snapshot_get_u32(r, "user role");
    u->role = (sp_accounts_role)role;
    sp_snapshot_get_str(r, u->partner_id, sizeof u->partner_id, "user partner");
    sp_snapshot_get_str(r, u->pass_id, sizeof u->pass_id, "user pass");
    u->version = sp_snapshot_get_u64(r, "user version");
    u->removed = sp_snapshot_get_bool(r, "user removed");
    u->has_password = sp_snapshot_get_bool(r, "user password");
    if (going(d) &&
        (u->user_id[0] == '\0' || role > SP_ACCOUNTS_ROLE_FINANCE ||
         sp_accounts_role_name(u->role)[0] == '\0' || strlen(u->email) > SP_ACCOUNTS_EMAIL_MAX)) {
        refuse(d, "user fields");
    }
    if (going(d) && partner_role(u->role) &&
        sp_accounts_partner_by_id(d->state, u->partner_id) == NULL) {
        refuse(d, "a user of an unknown partner");
    }
    if (!going(d)) {
        free(u->email);
        free(u->full_name);
        free(u);
        return NULL;
    }
    return u;
}

static void get_user(snap_decoding *d) {
    sp_accounts_user *u = get_user_fields(d);
    if (u == NULL) return;
    uint8_t key[SP_KEY_LEN];
    sp_accounts_user_key(u->user_id, key);
    if (!put_in(d, &d->state->users_by_id, key, u, "a user twice or past SP_USERS_MAX")) {
        free(u->email);
        free(u->full_name);
        free(u);
        return;
    }
    sp_accounts_email_key(u->email, key);
    put_in(d, &d->state->users_by_email, key, u, "an e-mail twice");
    get_sessions(d, u);
    get_activations(d, u);
}

static void get_convention(snap_decoding *d) {
    sp_accounts_convention *c = calloc(1, sizeof *c);
    if (c == NULL) {
        d->oom = true;
        return;
    }
    sp_snapshot_get_str(&d->r, c->convention_id, sizeof c->convention_id, "convention id");
    sp_snapshot_get_str(&d->r, c->version, sizeof c->version, "convention version");
    uint8_t key[SP_KEY_LEN];
    sp_accounts_convention_key(c->convention_id, key);
    if (!put_in(d, &d->state->conventions, key, c, "a convention twice or past the limit")) free(c);
}

static void get_acceptance(snap_decoding *d) {
    uint8_t key[SP_KEY_LEN];
    char convention_id[SP_ID_LEN + 1];
    sp_snapshot_get_bytes(&d->r, key, SP_KEY_LEN, "acceptance key");
    sp_snapshot_get_str(&d->r, convention_id, sizeof convention_id, "acceptance convention");
    const sp_accounts_convention *c = sp_accounts_convention_by_id(d->state, convention_id);
    if (going(d) && c == NULL) refuse(d, "an acceptance of an unknown convention");
    put_in(d, &d->state->acceptances, key, (void *)c, "an acceptance twice or past the limit");
}

static void get_record(snap_decoding *d, bool single_use) {
    sp_snapshot_decoder *r = &d->r;
    sp_accounts_record *rec = calloc(1, sizeof *rec);
    if (rec == NULL) {
        d->oom = true;
        return;
    }
    sp_snapshot_get_bytes(r, rec->key, SP_KEY_LEN, "record key");
    sp_snapshot_get_bytes(r, rec->request_hash, SP_KEY_LEN, "record hash");
    rec->pending = sp_snapshot_get_bool(r, "record pending");
    sp_snapshot_get_str(r, rec->pending_partner_id, sizeof rec->pending_partner_id,
                        "record partner");
    if (!rec->pending) {
        rec->ok = sp_snapshot_get_bool(r, "record ok");
        rec->http_status = (int)sp_snapshot_get_u32(r, "record status");
        rec->code = sp_snapshot_get_str_dup(r, "record code", &d->oom);
        rec->message = sp_snapshot_get_str_dup(r, "record message", &d->oom);
        rec->field = sp_snapshot_get_str_dup(r, "record field", &d->oom);
        rec->result_json = sp_snapshot_get_str_dup(r, "record result", &d->oom);
    }
    rec->stored_at_ms = sp_snapshot_get_i64(r, "record time");
    rec->ref_count = sp_snapshot_get_count(r, SP_ACCOUNTS_EVENTS_PER_COMMAND_MAX, REF_BYTES,
                                           "record refs");
    for (size_t i = 0; i < rec->ref_count; i++) {
        rec->refs[i].partition = (int32_t)sp_snapshot_get_u32(r, "record ref partition");
        rec->refs[i].offset = sp_snapshot_get_i64(r, "record ref offset");
    }
    rec->single_use = single_use;
    if (going(d) && !rec->pending &&
        (rec->http_status < 100 || rec->http_status > 599 ||
         strlen(rec->result_json) >= SP_ACCOUNTS_RESULT_JSON_MAX)) {
        refuse(d, "record status or result");
    }
    sp_error ignored;
    if (!going(d) || sp_map_get(&d->state->records, rec->key) != NULL) {
        refuse(d, "a record twice");
        sp_accounts_record_free(rec);
    } else if (sp_accounts_record_store(d->state, rec->key, rec, &ignored) != 0) {
        refuse(d, "a record past the limit"); /* freed by the store */
    }
}

/* Counts that follow from the users must be theirs (summed over the
 * partners: the users' and the partners' totals). */
typedef struct recount {
    size_t backoffice_can_login;
    size_t admins_of_users, admins_of_partners;
    size_t can_login_of_users, can_login_of_partners;
} recount;

static void recount_user(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    (void)key;
    recount *c = ctx;
    const sp_accounts_user *u = value;
    if (u->removed) return;
    if (u->role == SP_ACCOUNTS_ROLE_BACKOFFICE && u->has_password) c->backoffice_can_login++;
    if (u->role == SP_ACCOUNTS_ROLE_PARTNER_ADMIN) {
        c->admins_of_users++;
        if (u->has_password) c->can_login_of_users++;
    }
}

static void recount_partner(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    (void)key;
    recount *c = ctx;
    const sp_accounts_partner *p = value;
    c->admins_of_partners += p->admin_count;
    c->can_login_of_partners += p->admin_can_login_count;
}

static void get_body(snap_decoding *d) {
    assert(d != NULL);
    sp_snapshot_decoder *r = &d->r;
    sp_accounts_state *s = d->state;
    size_t n = sp_snapshot_get_count(r, s->partners_by_id.entry_count_max, PARTNER_BYTES_MIN,
                                     "partner count");
    for (size_t i = 0; i < n && going(d); i++) get_partner(d);
    n = sp_snapshot_get_count(r, s->users_by_id.entry_count_max, USER_BYTES_MIN, "user count");
    for (size_t i = 0; i < n && going(d); i++) get_user(d);
    n = sp_snapshot_get_count(r, s->conventions.entry_count_max, CONVENTION_BYTES_MIN,
                              "convention count");
    for (size_t i = 0; i < n && going(d); i++) get_convention(d);
    n = sp_snapshot_get_count(r, s->acceptances.entry_count_max, ACCEPTANCE_BYTES_MIN,
                              "acceptance count");
    for (size_t i = 0; i < n && going(d); i++) get_acceptance(d);
    for (int list = 0; list < 2 && going(d); list++) {
        n = sp_snapshot_get_count(r, s->records.entry_count_max, RECORD_BYTES_MIN, "record count");
        for (size_t i = 0; i < n && going(d); i++) get_record(d, list == 0);
    }
    s->backoffice_can_login_count = (size_t)sp_snapshot_get_u64(r, "back-office count");
    if (!going(d)) return;
    recount c = {0};
    sp_map_foreach(&s->users_by_id, recount_user, &c);
    sp_map_foreach(&s->partners_by_id, recount_partner, &c);
    if (c.admins_of_users != c.admins_of_partners ||
        c.can_login_of_users != c.can_login_of_partners ||
        c.backoffice_can_login != s->backoffice_can_login_count) {
        refuse(d, "counts of administrators not those of the users");
    }
}

/* The header up to the body, checked against this binary, partition and
 * the limits the state was initialised with; -1 with the reason. */
static int get_header(sp_snapshot_decoder *r, int32_t partition, const char *build_version,
                      const sp_accounts_limits *limits, sp_accounts_snapshot_position *position,
                      sp_error *err) {
    if (sp_snapshot_get_preamble(r, snapshot_magic, sizeof snapshot_magic,
                                 SP_ACCOUNTS_SNAPSHOT_FORMAT, build_version, "an accounts",
                                 err) != 0) {
        return -1;
    }
    int32_t of_partition = (int32_t)sp_snapshot_get_u32(r, "partition");
    sp_accounts_limits l = {0};
    l.users_max = (size_t)sp_snapshot_get_u64(r, "users max");
    l.sessions_max = (size_t)sp_snapshot_get_u64(r, "sessions max");
    l.sessions_per_user_max = (size_t)sp_snapshot_get_u64(r, "sessions per user");
    l.records_max = (size_t)sp_snapshot_get_u64(r, "records max");
    l.outcome_ttl_ms = sp_snapshot_get_i64(r, "outcome ttl");
    l.activations_max = (size_t)sp_snapshot_get_u64(r, "links max");
    l.activation_ttl_ms = sp_snapshot_get_i64(r, "link ttl");
    sp_snapshot_get_position(r, position);
    if (r->bad != NULL || of_partition != partition) {
        return sp_error_set(err, 422, "snapshot_refused", NULL,
                            "header unreadable or of partition %d, not %d", (int)of_partition,
                            (int)partition);
    }
    if (l.users_max != limits->users_max || l.sessions_max != limits->sessions_max ||
        l.sessions_per_user_max != limits->sessions_per_user_max ||
        l.records_max != limits->records_max || l.outcome_ttl_ms != limits->outcome_ttl_ms ||
        l.activations_max != limits->activations_max ||
        l.activation_ttl_ms != limits->activation_ttl_ms) {
        return sp_error_set(err, 422, "snapshot_refused", NULL,
                            "taken under other limits (SP_USERS_MAX, SP_SESSIONS_PER_USER_MAX, "
                            "SP_OUTCOME_TTL_S or SP_ACTIVATION_TTL_S changed)");
    }
    return 0;
}

int sp_accounts_snapshot_decode(const uint8_t *bytes, size_t len, int32_t partition,
                                const sp_accounts_limits *limits, const char *build_version,
                                sp_accounts_state *state, sp_accounts_snapshot_position *position,
                                sp_error *err) {
    assert(limits != NULL);
    assert(build_version != NULL);
    assert(state != NULL);
    assert(position != NULL);
    memset(position, 0, sizeof *position);
    memset(state, 0, sizeof *state);
    snap_decoding d = {.state = state};
    if (sp_snapshot_decoder_open(&d.r, bytes, len, sizeof snapshot_magic, err) != 0) return -1;
    if (sp_accounts_state_init(state, limits, err) != 0) return -1;
    /* The limits as the state holds them (its defaults filled in). */
    if (get_header(&d.r, partition, build_version, &state->limits, position, err) != 0) {
        sp_accounts_state_destroy(state);
        return -1;
    }
    get_body(&d);
    if (going(&d) && d.r.pos != d.r.len) refuse(&d, "bytes after the body");
    if (going(&d)) return 0;
    if (d.oom) {
        sp_error_set(err, 503, "unavailable", NULL, "out of memory reading a snapshot");
    } else {
        sp_error_set(err, 422, "snapshot_refused", NULL, "unreadable at %s (byte %zu)", d.r.bad,
                     d.r.pos);
    }
    sp_accounts_state_destroy(state);
    return -1;
}

int sp_accounts_snapshot_equal(const sp_accounts_state *a, const sp_accounts_state *b, bool *equal,
                               sp_error *err) {
    const sp_accounts_snapshot_position none = {0};
    uint8_t *x = NULL, *y = NULL;
    size_t x_len = 0, y_len = 0;
    int rc = sp_accounts_snapshot_encode(a, 0, &none, "", &x, &x_len, err);
    if (rc == 0) rc = sp_accounts_snapshot_encode(b, 0, &none, "", &y, &y_len, err);
    *equal = rc == 0 && x_len == y_len && memcmp(x, y, x_len) == 0;
    free(x);
    free(y);
    return rc;
}
