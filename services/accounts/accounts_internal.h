/* accounts_internal.h - helpers shared by the two halves of the accounts
 * domain (accounts_state.c: state and apply; accounts_decide.c: validation
 * and decisions; accounts_snapshot.c: the state as bytes). Not for use
 * outside services/accounts. Nothing here allocates; records stay owned by
 * the state. */
#ifndef SP_ACCOUNTS_INTERNAL_H
#define SP_ACCOUNTS_INTERNAL_H

#include "accounts_state.h"

/* A stored outcome, rebuilt from the events of its command. */
struct sp_accounts_record {
    uint8_t request_hash[SP_KEY_LEN];
    bool pending; /* PartnerCreated applied, admin not yet */
    char pending_partner_id[SP_ID_LEN + 1];
    bool ok;
    int http_status;
    char *code; /* owned, never NULL */
    char *message;
    char *field;
    char *result_json;
    size_t ref_count;
    sp_accounts_ref refs[SP_ACCOUNTS_EVENTS_PER_COMMAND_MAX];
    uint8_t key[SP_KEY_LEN];  /* its key in state->records */
    int64_t stored_at_ms;     /* occurred_at of the event that stored it */
    bool single_use;          /* the gateway made its command id for one request */
    sp_accounts_record *next; /* the next younger record of its list */
};

/* The keys of the state's maps (sp_key_of of a name and the value). */
void sp_accounts_user_key(const char *user_id, uint8_t key[SP_KEY_LEN]);
void sp_accounts_email_key(const char *email_lower, uint8_t key[SP_KEY_LEN]);
void sp_accounts_partner_key(const char *partner_id, uint8_t key[SP_KEY_LEN]);
void sp_accounts_partner_code_key(const char *code, uint8_t key[SP_KEY_LEN]);
void sp_accounts_activation_key(const char *activation_id, uint8_t key[SP_KEY_LEN]);
void sp_accounts_session_key(const uint8_t token_hash[SP_TOKEN_HASH_LEN], uint8_t key[SP_KEY_LEN]);
void sp_accounts_convention_key(const char *convention_id, uint8_t key[SP_KEY_LEN]);
void sp_accounts_acceptance_key(const char *partner_id, const char *convention_id,
                                uint8_t key[SP_KEY_LEN]);
/* Frees a record not (or no longer) in the state; NULL is a no-op. */
void sp_accounts_record_free(sp_accounts_record *record);
/* Puts a new record under key and at the young end of its list (single-use
 * or kept, by record->single_use). -1 when the map refuses it (the record
 * is then freed). */
int sp_accounts_record_store(sp_accounts_state *state, const uint8_t key[SP_KEY_LEN],
                             sp_accounts_record *record, sp_error *err);

#define SP_ACCOUNTS_HASHED_BYTES_MAX 64 /* token-hash bytes rendered in a request hash */
#define SP_ACCOUNTS_TOKEN_TEXT_MAX (2 * SP_ACCOUNTS_HASHED_BYTES_MAX + 24)
#define SP_ACCOUNTS_TIME_TEXT_MAX 96 /* "2026-11-27T10:00:00.123Z", room for any int */

/* Lower-case hex of len bytes into out (2 * len + 1 bytes). */
void sp_accounts_hex(const uint8_t *bytes, size_t len, char *out);
/* ASCII lower-casing copy, truncated to out_size - 1 bytes. */
void sp_accounts_ascii_lower(const char *in, char *out, size_t out_size);
/* Request hash of a command type and five canonical fields (none NULL). */
void sp_accounts_hash_fields(const char *type, const char *const fields[5],
                             uint8_t out[SP_KEY_LEN]);
/* "<length>:<hex of the first bytes>", the canonical text of a token hash. */
void sp_accounts_token_text(const uint8_t *bytes, size_t len, char out[SP_ACCOUNTS_TOKEN_TEXT_MAX]);
/* SHA-256 of a NUL-terminated text as 64 lower-case hex digits (a
 * convention's text stands as it in request hashes). */
void sp_accounts_text_sha256(const char *text, char out[SP_ACCOUNTS_SHA256_HEX_LEN + 1]);
/* ISO 8601 UTC with milliseconds. */
void sp_accounts_format_time(int64_t unix_ms, char out[SP_ACCOUNTS_TIME_TEXT_MAX]);

bool sp_accounts_users_full(const sp_accounts_state *state);
bool sp_accounts_partners_full(const sp_accounts_state *state);
bool sp_accounts_sessions_full(const sp_accounts_state *state);
bool sp_accounts_records_full(const sp_accounts_state *state);
/* A new record can be stored at now_ms: the map has room, or makes it by
 * freeing a record past its window or a single-use one. */
bool sp_accounts_records_room(const sp_accounts_state *state, int64_t now_ms);
/* A session can start for user at now_ms (sessions_per_user_max superseding
 * included): the map has room, or the user has an expired session to free. */
bool sp_accounts_sessions_room(const sp_accounts_state *state, const sp_accounts_user *user,
                               int64_t now_ms);
/* The user's sessions alive at now_ms, and the oldest of them (NULL if none). */
size_t sp_accounts_user_sessions_live(const sp_accounts_user *user, int64_t now_ms,
                                      const sp_accounts_session **oldest);
bool sp_accounts_activations_full(const sp_accounts_state *state);
/* A link can be issued at now_ms for user (NULL: a user not yet registered):
 * the map has room, or the user has a link that issuing one frees. */
bool sp_accounts_activations_room(const sp_accounts_state *state, const sp_accounts_user *user,
                                  int64_t now_ms);

const sp_accounts_record *sp_accounts_record_get(const sp_accounts_state *state,
                                                 const uint8_t key[SP_KEY_LEN]);
/* A CreatePartner record whose admin user is not applied yet; *partner_id
 * then names the partner. */
bool sp_accounts_record_pending(const sp_accounts_record *record, const char **partner_id);
/* The record is complete and was stored for a request with this hash. */
bool sp_accounts_record_matches(const sp_accounts_record *record, const uint8_t hash[SP_KEY_LEN]);

#endif
