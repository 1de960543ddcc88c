/* accounts_state.h - the accounts domain: users, partners, sessions,
 * activation and reset links (single use, expiring) and the stored outcome of
 * every command, as rebuilt from solipass.accounts.events.v1.
 *
 * Pure: no I/O. Decide functions read the state and a command and return the
 * events to write (or a rejection); sp_accounts_apply() is the only code that
 * changes the state, used both right after deciding and when rebuilding from
 * the log. Random identifiers come from sp_id (libsodium's CSPRNG).
 *
 * Memory: a sp_accounts_state owns every user, partner, session, link and
 * record it holds (heap; sp_accounts_state_destroy frees them). Users,
 * partners, links and conventions are never removed (a removed user is only
 * flagged): their pointers stay valid until the state is destroyed. Sessions
 * and stored outcomes are freed by sp_accounts_apply() (ended, expired,
 * superseded, past their window): a session pointer is valid only until the
 * next apply. A command borrows its
 * strings from the caller (usually an unpacked protobuf message). Events,
 * decisions and outcomes are plain values with fixed-size fields: nothing to
 * free. */
#ifndef SP_ACCOUNTS_STATE_H
#define SP_ACCOUNTS_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sp_error.h"
#include "sp_id.h"
#include "sp_map.h"
#include "sp_profile.h"

#define SP_ACCOUNTS_EMAIL_MAX 254      /* bytes, RFC 5321 path limit */
#define SP_ACCOUNTS_NAME_CHARS_MAX 200 /* names: UTF-8 characters */
#define SP_ACCOUNTS_NAME_BYTES_MAX (4 * SP_ACCOUNTS_NAME_CHARS_MAX)
#define SP_ACCOUNTS_PASSWORD_HASH_MAX 255 /* an Argon2id string is ~100 bytes */
#define SP_ACCOUNTS_CATEGORY_MAX 32
#define SP_ACCOUNTS_COMMAND_ID_MAX 64 /* an Idempotency-Key */
#define SP_ACCOUNTS_COMMAND_TYPE_MAX 64
#define SP_ACCOUNTS_RESULT_JSON_MAX 4096
#define SP_ACCOUNTS_EVENTS_PER_COMMAND_MAX 3  /* CreatePartner: partner, its admin, its link */
#define SP_ACCOUNTS_PARTNER_CODE_TRIES_MAX 64 /* fresh random codes tried before giving up */
#define SP_ACCOUNTS_SESSION_TTL_MS_MAX (INT64_C(366) * 24 * 3600 * 1000)
#define SP_ACCOUNTS_PURPOSE_MAX 16 /* "activation" | "reset" */
#define SP_ACCOUNTS_ACTIVATION_TTL_DEFAULT_MS (INT64_C(72) * 3600 * 1000)
#define SP_ACCOUNTS_ACTIVATIONS_PER_USER_MAX 4 /* default bound of the activations map */
/* Live sessions a user may hold at once: a login beyond it ends the user's
 * oldest session (superseded). Default of sp_accounts_limits. */
#define SP_ACCOUNTS_SESSIONS_PER_USER_DEFAULT 8
#define SP_ACCOUNTS_SESSIONS_PER_USER_LIMIT 64
/* How long the outcome of a command is kept for its Idempotency-Key (see
 * docs/api.md): a key re-sent within it gets the first answer. */
#define SP_ACCOUNTS_OUTCOME_TTL_DEFAULT_MS (INT64_C(24) * 3600 * 1000)
/* The outcomes of commands whose id the gateway makes for one request (login,
 * logout, password links: no client can send that id again) are kept this
 * long, for a redelivered command, and are the first freed when room runs out. */
#define SP_ACCOUNTS_SINGLE_USE_OUTCOME_TTL_MS (INT64_C(10) * 60 * 1000)

/* Same numbers as solipass.accounts.Role. */
typedef enum sp_accounts_role {
    SP_ACCOUNTS_ROLE_NONE = 0,
    SP_ACCOUNTS_ROLE_BACKOFFICE = 1,
    SP_ACCOUNTS_ROLE_PARTNER_ADMIN = 2,
    SP_ACCOUNTS_ROLE_PARTNER_USER = 3,
    SP_ACCOUNTS_ROLE_BENEFICIARY = 4,
    SP_ACCOUNTS_ROLE_FINANCE = 5,
} sp_accounts_role;

/* "backoffice", "partner_admin", ...; "" for NONE or an unknown value. */
const char *sp_accounts_role_name(sp_accounts_role role);

/* ------------------------------------------------------------------ commands */

typedef enum sp_accounts_command_kind {
    SP_ACCOUNTS_CMD_CREATE_PARTNER = 1,
    SP_ACCOUNTS_CMD_CREATE_BENEFICIARY,
    SP_ACCOUNTS_CMD_REGISTER_USER,
    SP_ACCOUNTS_CMD_START_SESSION,
    SP_ACCOUNTS_CMD_END_SESSION,
    SP_ACCOUNTS_CMD_SET_PASSWORD,
    SP_ACCOUNTS_CMD_REQUEST_RESET,
    SP_ACCOUNTS_CMD_UPDATE_PROFILE,
    SP_ACCOUNTS_CMD_SET_IMAGE,
    SP_ACCOUNTS_CMD_ADD_PARTNER_USER,
    SP_ACCOUNTS_CMD_CHANGE_ROLE,
    SP_ACCOUNTS_CMD_REMOVE_USER,
    SP_ACCOUNTS_CMD_PUBLISH_CONVENTION,
    SP_ACCOUNTS_CMD_ACCEPT_CONVENTION,
    SP_ACCOUNTS_CMD_ISSUE_ACTIVATION,
} sp_accounts_command_kind;

/* "accounts.CreatePartner.v1", ... */
const char *sp_accounts_command_type(sp_accounts_command_kind kind);

#define SP_ACCOUNTS_TEXT_BYTES(chars) (4 * (chars) + 1) /* UTF-8 text of that many characters */
#define SP_ACCOUNTS_SLOT_MAX 8                          /* "logo" | "cover" */
#define SP_ACCOUNTS_SHA256_HEX_LEN 64
#define SP_ACCOUNTS_CONTENT_TYPE_MAX 16 /* "image/png" | "image/jpeg" */
#define SP_ACCOUNTS_CONVENTION_TITLE_CHARS_MAX 200
#define SP_ACCOUNTS_CONVENTION_VERSION_MAX 32             /* bytes of [A-Za-z0-9._-] */
#define SP_ACCOUNTS_CONVENTION_TEXT_BYTES_MAX (32 * 1024) /* the event stays < 64 KiB */
#define SP_ACCOUNTS_CONVENTIONS_MAX 256
#define SP_ACCOUNTS_DATE_LEN 10 /* "YYYY-MM-DD" */

/* A partner structure's profile (proto PartnerProfile), by value. */
typedef struct sp_accounts_profile {
    char legal_name[SP_ACCOUNTS_TEXT_BYTES(SP_PROFILE_NAME_CHARS_MAX)];
    char public_name[SP_ACCOUNTS_TEXT_BYTES(SP_PROFILE_NAME_CHARS_MAX)];
    char description[SP_ACCOUNTS_TEXT_BYTES(SP_PROFILE_DESCRIPTION_CHARS_MAX)];
    char website[SP_PROFILE_URL_MAX + 1];
    char social_links[SP_PROFILE_SOCIAL_LINKS_MAX][SP_PROFILE_URL_MAX + 1];
    size_t social_link_count;
    char hq_address[SP_ACCOUNTS_TEXT_BYTES(SP_PROFILE_ADDRESS_CHARS_MAX)];
    char activity_address[SP_ACCOUNTS_TEXT_BYTES(SP_PROFILE_ADDRESS_CHARS_MAX)];
    char contact_phone[SP_PROFILE_PHONE_MAX + 1];
    char contact_email[SP_ACCOUNTS_EMAIL_MAX + 1];
    char iban[SP_PROFILE_IBAN_MAX + 1];
    char bic[SP_PROFILE_BIC_MAX + 1];
    char bank_holder[SP_ACCOUNTS_TEXT_BYTES(SP_PROFILE_NAME_CHARS_MAX)];
} sp_accounts_profile;

/* The profile's canonical digest as 64 hex digits (request hashes). */
void sp_accounts_profile_digest(const sp_accounts_profile *profile, char out[65]);
/* Checks every value of a profile: 400 missing_field | invalid_value |
 * invalid_email | invalid_url | invalid_phone, 422 invalid_iban |
 * invalid_bic; the field is the JSON member's name. The values must already
 * be normalized (IBAN and BIC upper case, e-mail lower). */
int sp_accounts_profile_check(const sp_accounts_profile *profile, sp_error *err);

/* An actor role as the envelope carries it (SP_ENVELOPE_ROLE_MAX). */
#define SP_ACCOUNTS_ACTOR_ROLE_MAX 32

/* Every string is borrowed and never NULL ("" when absent). Which fields a
 * kind reads: CreatePartner: name, category, email (admin_email),
 * password_hash (admin_password_hash), full_name (admin_full_name);
 * CreateBeneficiary and RegisterUser: email, password_hash, full_name (+ role);
 * StartSession: user_id, token_hash, expires_at_ms; EndSession: token_hash;
 * SetPassword: activation_id, password_hash, purpose; RequestPasswordReset:
 * email; IssueActivation: user_id. CreatePartner with password_hash "" also
 * issues an activation link. */
typedef struct sp_accounts_command {
    sp_accounts_command_kind kind;
    const char *actor_id;   /* envelope.actor_id: "" or a user id */
    const char *actor_role; /* envelope.actor_role: "" (or NULL) for the system */
    const char *command_id; /* envelope.command_id: the idempotency key */
    const char *name;
    const char *category;
    const char *email;
    const char *password_hash;
    const char *full_name;
    sp_accounts_role role;
    const char *user_id;
    const uint8_t *token_hash; /* may be NULL when token_hash_len is 0 */
    size_t token_hash_len;
    int64_t expires_at_ms;
    const char *activation_id;
    const char *purpose; /* "activation" | "reset" */
    /* Partner space (UpdatePartnerProfile, SetPartnerImage, AddPartnerUser
     * with email, full_name, role; ChangeUserRole with user_id, role;
     * RemoveUser with user_id). NULL pointers count as "" / no profile. The
     * back-office's staff users take the same three commands with
     * partner_id "" and the roles backoffice | finance. */
    const char *partner_id;
    const sp_accounts_profile *profile;
    const char *profile_overflow; /* the profile member that did not fit, "" or NULL if none */
    const char *slot;
    const char *sha256;
    const char *content_type;
    /* Conventions: PublishConvention (title, version, text, effective_date,
     * mandatory), AcceptConvention (convention_id, for the actor's partner). */
    const char *convention_id;
    const char *title;
    const char *version;
    const char *text;
    const char *effective_date;
    bool mandatory;
} sp_accounts_command;

/* ------------------------------------------------------------------ events */

typedef enum sp_accounts_event_kind {
    SP_ACCOUNTS_EV_PARTNER_CREATED = 1,
    SP_ACCOUNTS_EV_USER_REGISTERED,
    SP_ACCOUNTS_EV_SESSION_STARTED,
    SP_ACCOUNTS_EV_SESSION_ENDED,
    SP_ACCOUNTS_EV_COMMAND_REJECTED,
    SP_ACCOUNTS_EV_ACTIVATION_ISSUED,
    SP_ACCOUNTS_EV_PASSWORD_SET,
    SP_ACCOUNTS_EV_PROFILE_UPDATED,
    SP_ACCOUNTS_EV_IMAGE_SET,
    SP_ACCOUNTS_EV_ROLE_CHANGED,
    SP_ACCOUNTS_EV_USER_REMOVED,
    SP_ACCOUNTS_EV_CONVENTION_PUBLISHED,
    SP_ACCOUNTS_EV_CONVENTION_ACCEPTED,
} sp_accounts_event_kind;

/* "accounts.PartnerCreated.v1", ...; NULL for an unknown kind. */
const char *sp_accounts_event_type(sp_accounts_event_kind kind);

/* One event with its envelope fields. Only the payload fields of `kind` are
 * meaningful, the others are zero. */
typedef struct sp_accounts_event {
    sp_accounts_event_kind kind;
    /* envelope */
    char aggregate_id[SP_ID_LEN + 1];
    uint64_t aggregate_version;
    int64_t occurred_at_ms;
    char command_id[SP_ACCOUNTS_COMMAND_ID_MAX + 1];
    char actor_id[SP_ID_LEN + 1];
    char actor_role[SP_ACCOUNTS_ACTOR_ROLE_MAX + 1]; /* the command's: what the history shows */
    /* PartnerCreated (partner_id also: UserRegistered of a partner role) */
    char partner_id[SP_ID_LEN + 1];
    char partner_code[SP_PARTNER_CODE_LEN + 1];
    char name[SP_ACCOUNTS_NAME_BYTES_MAX + 1];
    char category[SP_ACCOUNTS_CATEGORY_MAX + 1];
    /* UserRegistered (user_id also: Session*) */
    char user_id[SP_ID_LEN + 1];
    char email[SP_ACCOUNTS_EMAIL_MAX + 1];
    char password_hash[SP_ACCOUNTS_PASSWORD_HASH_MAX + 1];
    char full_name[SP_ACCOUNTS_NAME_BYTES_MAX + 1];
    sp_accounts_role role;
    char pass_id[SP_ID_LEN + 1];
    /* SessionStarted, SessionEnded (expires_at_ms also: ActivationIssued) */
    uint8_t token_hash[SP_TOKEN_HASH_LEN];
    int64_t expires_at_ms;
    /* ActivationIssued (with user_id, email, expires_at_ms), PasswordSet
     * (with user_id, password_hash) */
    char activation_id[SP_ID_LEN + 1];
    char purpose[SP_ACCOUNTS_PURPOSE_MAX + 1];
    /* PartnerProfileUpdated (with partner_id), PartnerImageSet (with
     * partner_id), UserRoleChanged (user_id, partner_id, role), UserRemoved
     * (user_id, partner_id) */
    sp_accounts_profile profile;
    char slot[SP_ACCOUNTS_SLOT_MAX + 1];
    char sha256[SP_ACCOUNTS_SHA256_HEX_LEN + 1];
    char content_type[SP_ACCOUNTS_CONTENT_TYPE_MAX + 1];
    /* ConventionPublished (user_id: who published), ConventionAccepted
     * (partner_id, user_id: who accepted, occurred_at_ms: when). text is
     * borrowed from the command that decided it (NULL in a decoded event):
     * only the encoder reads it; text_sha256 stands for it everywhere else. */
    char convention_id[SP_ID_LEN + 1];
    char title[SP_ACCOUNTS_TEXT_BYTES(SP_ACCOUNTS_CONVENTION_TITLE_CHARS_MAX)];
    char version[SP_ACCOUNTS_CONVENTION_VERSION_MAX + 1];
    char effective_date[SP_ACCOUNTS_DATE_LEN + 1];
    bool mandatory;
    const char *text;
    char text_sha256[SP_ACCOUNTS_SHA256_HEX_LEN + 1];
    /* CommandRejected */
    char command_type[SP_ACCOUNTS_COMMAND_TYPE_MAX + 1];
    char code[SP_ERROR_CODE_MAX];
    char message[SP_ERROR_MESSAGE_MAX];
    char field[SP_ERROR_FIELD_MAX];
    uint8_t request_hash[SP_KEY_LEN];
} sp_accounts_event;

/* ------------------------------------------------------------------ state */

typedef struct sp_accounts_session sp_accounts_session;
typedef struct sp_accounts_activation sp_accounts_activation;

typedef struct sp_accounts_user {
    char user_id[SP_ID_LEN + 1];
    char *email;     /* owned, lower case */
    char *full_name; /* owned */
    sp_accounts_role role;
    char partner_id[SP_ID_LEN + 1]; /* "" unless a partner role */
    char pass_id[SP_ID_LEN + 1];    /* "" unless a beneficiary */
    uint64_t version;               /* of the user aggregate (sessions, rejections) */
    bool removed;                   /* UserRemoved: no login, no session, e-mail stays taken */
    bool has_password;              /* registered with one or a link used: it can log in */
    sp_accounts_session *sessions;  /* its sessions in start order (owned by state->sessions) */
    size_t session_count;
    /* its links in issue order (owned by state->activations) */
    sp_accounts_activation *activations;
    size_t activation_count;
} sp_accounts_user;

typedef struct sp_accounts_partner {
    char partner_id[SP_ID_LEN + 1];
    char partner_code[SP_PARTNER_CODE_LEN + 1];
    char *name; /* owned */
    char category[SP_ACCOUNTS_CATEGORY_MAX + 1];
    uint64_t version;
    size_t admin_count;           /* its users of role partner_admin, not removed */
    size_t admin_can_login_count; /* those of them with a password (has_password) */
} sp_accounts_partner;

/* A session that has not ended: an ended one is freed at once, an expired
 * one at its user's next login (or removal, or password change). */
struct sp_accounts_session {
    uint8_t token_hash[SP_TOKEN_HASH_LEN];
    char user_id[SP_ID_LEN + 1];
    int64_t expires_at_ms;
    sp_accounts_session *next_of_user; /* the user's next younger session */
};

/* A single-use link to set a password. Kept after its use or expiry (to
 * answer 410 token_used / token_expired) until its user's next link is
 * issued; a user holds at most SP_ACCOUNTS_ACTIVATIONS_PER_USER_MAX links,
 * a new one beyond that frees the oldest (it then reads as unknown). */
struct sp_accounts_activation {
    char activation_id[SP_ID_LEN + 1];
    char user_id[SP_ID_LEN + 1];
    char purpose[SP_ACCOUNTS_PURPOSE_MAX + 1];
    int64_t expires_at_ms;
    bool used;
    sp_accounts_activation *next_of_user; /* the user's next younger link */
};

/* Where an event landed on solipass.accounts.events.v1. offset -1 = not yet known. */
typedef struct sp_accounts_ref {
    int32_t partition;
    int64_t offset;
} sp_accounts_ref;

/* Bounds of the maps; reaching one refuses new commands with 503 "unavailable". */
typedef struct sp_accounts_limits {
    size_t users_max;             /* also bounds partners (each has an admin) */
    size_t sessions_max;          /* at least users_max * sessions_per_user_max to never refuse */
    size_t sessions_per_user_max; /* 0: SP_ACCOUNTS_SESSIONS_PER_USER_DEFAULT */
    size_t records_max;           /* stored command outcomes */
    int64_t outcome_ttl_ms;       /* 0: SP_ACCOUNTS_OUTCOME_TTL_DEFAULT_MS */
    size_t activations_max;       /* 0: SP_ACCOUNTS_ACTIVATIONS_PER_USER_MAX * users_max */
    int64_t activation_ttl_ms;    /* life of a link; 0: SP_ACCOUNTS_ACTIVATION_TTL_DEFAULT_MS */
} sp_accounts_limits;

/* A published convention: what deciding an acceptance needs (the text
 * itself is only in the log and the read model). */
typedef struct sp_accounts_convention {
    char convention_id[SP_ID_LEN + 1];
    char version[SP_ACCOUNTS_CONVENTION_VERSION_MAX + 1];
} sp_accounts_convention;

typedef struct sp_accounts_record sp_accounts_record; /* private to accounts_state.c */

typedef struct sp_accounts_state {
    bool initialised;
    sp_accounts_limits limits;
    sp_map users_by_id;      /* owns the sp_accounts_user values */
    sp_map users_by_email;   /* same values, borrowed */
    sp_map partners_by_id;   /* owns the sp_accounts_partner values */
    sp_map partners_by_code; /* same values, borrowed */
    sp_map sessions;         /* owns sp_accounts_session, keyed by token hash */
    sp_map records;          /* owns sp_accounts_record, keyed by sp_key_of(actor, command id) */
    /* The same records in the order they were stored, oldest first, in two
     * lists freed at different ages (single-use ids, the others). */
    sp_accounts_record *single_use_oldest, *single_use_newest;
    sp_accounts_record *kept_oldest, *kept_newest;
    sp_map activations; /* owns sp_accounts_activation, keyed by its id */
    sp_map conventions; /* owns sp_accounts_convention, keyed by its id */
    sp_map acceptances; /* (partner, convention) -> its convention, borrowed */
    /* Back-office users not removed and with a password: no change may
     * bring it to 0, or nobody could manage the staff any more. */
    size_t backoffice_can_login_count;
} sp_accounts_state;

int sp_accounts_state_init(sp_accounts_state *state, const sp_accounts_limits *limits,
                           sp_error *err);
void sp_accounts_state_destroy(sp_accounts_state *state);

const sp_accounts_user *sp_accounts_user_by_id(const sp_accounts_state *state, const char *user_id);
/* email is compared lower-cased. */
const sp_accounts_user *sp_accounts_user_by_email(const sp_accounts_state *state,
                                                  const char *email);
const sp_accounts_partner *sp_accounts_partner_by_id(const sp_accounts_state *state,
                                                     const char *partner_id);
const sp_accounts_partner *sp_accounts_partner_by_code(const sp_accounts_state *state,
                                                       const char *partner_code);
const sp_accounts_session *sp_accounts_session_by_hash(const sp_accounts_state *state,
                                                       const uint8_t token_hash[SP_TOKEN_HASH_LEN]);
const sp_accounts_activation *sp_accounts_activation_by_id(const sp_accounts_state *state,
                                                           const char *activation_id);
const sp_accounts_convention *sp_accounts_convention_by_id(const sp_accounts_state *state,
                                                           const char *convention_id);
bool sp_accounts_convention_accepted(const sp_accounts_state *state, const char *partner_id,
                                     const char *convention_id);
size_t sp_accounts_user_count(const sp_accounts_state *state);
size_t sp_accounts_partner_count(const sp_accounts_state *state);
size_t sp_accounts_session_count(const sp_accounts_state *state);
size_t sp_accounts_record_count(const sp_accounts_state *state);

/* ------------------------------------------------------------------ outcomes */

/* What the reply to a command says. */
typedef struct sp_accounts_outcome {
    bool ok;
    bool replayed;
    int http_status;
    char code[SP_ERROR_CODE_MAX];
    char message[SP_ERROR_MESSAGE_MAX];
    char field[SP_ERROR_FIELD_MAX];
    char result_json[SP_ACCOUNTS_RESULT_JSON_MAX]; /* "" when !ok */
    size_t ref_count;
    sp_accounts_ref refs[SP_ACCOUNTS_EVENTS_PER_COMMAND_MAX];
} sp_accounts_outcome;

/* The idempotency key of a command: sp_key_of(actor_id, command_id). */
void sp_accounts_key_of(const char *actor_id, const char *command_id, uint8_t out[SP_KEY_LEN]);

/* The stored outcome under key (replayed = false). -1 (404) when there is none. */
int sp_accounts_outcome_get(const sp_accounts_state *state, const uint8_t key[SP_KEY_LEN],
                            sp_accounts_outcome *out, sp_error *err);

/* Fill, in order, the refs of the record under key that are not known yet
 * (events applied before they were produced). No-op without such a record. */
void sp_accounts_record_fill_refs(sp_accounts_state *state, const uint8_t key[SP_KEY_LEN],
                                  const sp_accounts_ref *refs, size_t ref_count);

/* The request hash of a command: sp_key_of over its type and canonical fields
 * (e-mail lower-cased), so that the same key with another body is detected. */
void sp_accounts_request_hash(const sp_accounts_command *command, uint8_t out[SP_KEY_LEN]);

/* ------------------------------------------------------------------ decide */

typedef struct sp_accounts_decision {
    uint8_t key[SP_KEY_LEN];
    bool recorded; /* the outcome is the record under key (after applying events) */
    bool replayed; /* an identical earlier command: no events */
    size_t event_count;
    sp_accounts_event events[SP_ACCOUNTS_EVENTS_PER_COMMAND_MAX];
    sp_error rejection; /* the outcome when !recorded; it is not stored */
} sp_accounts_decision;

/* Decide a command from the state; the state is not changed. */
void sp_accounts_decide(const sp_accounts_state *state, const sp_accounts_command *command,
                        int64_t now_ms, sp_accounts_decision *decision);

/* Decide, then apply the decided events. -1 only when an event could not be
 * applied (a broken invariant: the caller must not produce the events). */
int sp_accounts_handle(sp_accounts_state *state, const sp_accounts_command *command, int64_t now_ms,
                       sp_accounts_decision *decision, sp_error *err);

/* The reply for a decision handled by sp_accounts_handle(). */
void sp_accounts_decision_outcome(const sp_accounts_state *state,
                                  const sp_accounts_decision *decision, sp_accounts_outcome *out);

/* The start-up account: a UserRegistered event (no actor, no command id) for
 * a new user of that role, or -1 when the input is invalid, the e-mail is
 * taken or the state is full. */
int sp_accounts_decide_register(const sp_accounts_state *state, const char *email,
                                const char *password_hash, const char *full_name,
                                sp_accounts_role role, int64_t now_ms, sp_accounts_event *out,
                                sp_error *err);

/* ------------------------------------------------------------------ apply */

/* Apply one event. An event whose aggregate version is not the next one of
 * its aggregate, or that contradicts the state (e-mail or partner code
 * taken, unknown session), is ignored: *applied = false, return 0. ref is
 * where the event sits in the log, NULL when not produced yet. -1 when a
 * bound is reached (state unchanged) or memory runs out (the state must then
 * be discarded: destroy it and rebuild). */
int sp_accounts_apply(sp_accounts_state *state, const sp_accounts_event *event,
                      const sp_accounts_ref *ref, bool *applied, sp_error *err);

/* ------------------------------------------------------------------ validation */

/* Strict e-mail check (one '@', non-empty local and domain parts, a dot in
 * the domain, at most 254 bytes, printable ASCII without spaces), lower-cased
 * into out. 400 "invalid_email" naming field otherwise. */
int sp_accounts_email_normalize(const char *email, char out[SP_ACCOUNTS_EMAIL_MAX + 1],
                                const char *field, sp_error *err);
/* ^[a-z][a-z0-9_]{1,31}$ and not "general". */
bool sp_accounts_partner_category_valid(const char *category);
/* Valid UTF-8 without control characters, chars_min..chars_max characters. */
bool sp_accounts_text_valid(const char *text, size_t chars_min, size_t chars_max);
/* A libsodium Argon2id string: "$argon2id$...", printable ASCII, bounded. */
bool sp_accounts_password_hash_valid(const char *hash);
/* The HTTP status a stored rejection code is answered with. */
int sp_accounts_status_of_code(const char *code);

#endif
