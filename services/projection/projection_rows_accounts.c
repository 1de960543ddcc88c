/* projection_rows_accounts.c - the rows of the accounts events topic:
 * partners, users, sessions and passwords; the partner space (profile and
 * images, its users' roles and removals); conventions and their acceptance.
 *
 * Creations are inserts that ignore a row already there; partner-space
 * events take the partner's aggregate version, so each applies once, in
 * order, even when the log is read again. Pure: no I/O. */
#include "projection_rows_internal.h"

#include <stdio.h>
#include <string.h>
#include "accounts.pb-c.h"
#include "sp_id.h"
#include "sp_profile.h"

/* ------------------------------------------------------------ SQL */

/* clang-format off */
const char partner_created_sql[] =
    "WITH i AS (INSERT INTO partners (partner_id, partner_code, name, category, owed_cents, "
    "created_at) SELECT $1::uuid, $2::text, $3::text, $4::text, "
    /* payments to the partner may have been applied first (another topic) */
    "COALESCE((SELECT balance_cents FROM ledger_balances "
    "WHERE account = 'partner:' || ($1::uuid)::text || ':owed'), 0) "
    /* reserved by a refund request: moved to refund:<id>, still owed */
    "+ COALESCE((SELECT sum(amount_cents) FROM operations WHERE partner_id = $1::uuid "
    "AND status = 'requested'), 0), $5::timestamptz "
    "ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*) FROM i";

const char user_registered_sql[] =
    "WITH i AS (INSERT INTO users (user_id, email, password_hash, full_name, role, partner_id, "
    "pass_id, created_at) VALUES ($1::uuid, $2::text, $3::text, $4::text, $5::text, $6::uuid, "
    "$7::uuid, $8::timestamptz) ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*) FROM i";

const char session_started_sql[] =
    "WITH i AS (INSERT INTO sessions (token_hash, user_id, expires_at) "
    "VALUES ($1::bytea, $2::uuid, $3::timestamptz) ON CONFLICT DO NOTHING RETURNING 1) "
    "SELECT count(*) FROM i";

const char session_ended_sql[] =
    "WITH u AS (UPDATE sessions SET ended_at = $3::timestamptz WHERE token_hash = $1::bytea "
    "AND user_id = $2::uuid AND ended_at IS NULL RETURNING 1) SELECT count(*) FROM u";

const char convention_published_sql[] =
    "WITH i AS (INSERT INTO conventions (convention_id, title, version, body, effective_date, "
    "mandatory, published_by, published_at) VALUES ($1::uuid, $2::text, $3::text, $4::text, "
    "$5::date, $6::boolean, $7::uuid, $8::timestamptz) ON CONFLICT DO NOTHING RETURNING 1) "
    "SELECT count(*) FROM i";

const char convention_accepted_sql[] =
    "WITH i AS (INSERT INTO convention_acceptances (partner_id, convention_id, version, "
    "accepted_by, accepted_at) VALUES ($1::uuid, $2::uuid, $3::text, $4::uuid, "
    "$5::timestamptz) ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*) FROM i";

/* Partner-space events take the partner's aggregate version: applied once,
 * in order, even when the log is read again. A change of bank details also
 * keeps the new ones with the event's time in partner_bank_details: a refund
 * request is paid to the details its partner had when it was made. */
const char partner_profile_updated_sql[] =
    "WITH old AS (SELECT iban, bic, bank_holder FROM partners "
    "WHERE partner_id = $1::uuid AND profile_version < $2::bigint), "
    "u AS (UPDATE partners SET profile_version = $2::bigint, legal_name = $3::text, "
    "name = $4::text, description = $5::text, website = $6::text, social_links = $7::text[], "
    "hq_address = $8::text, activity_address = $9::text, contact_phone = $10::text, "
    "contact_email = $11::text, iban = $12::text, bic = $13::text, bank_holder = $14::text "
    "WHERE partner_id = $1::uuid AND profile_version < $2::bigint RETURNING 1), "
    "b AS (INSERT INTO partner_bank_details (partner_id, profile_version, valid_from, iban, bic, "
    "bank_holder) SELECT $1::uuid, $2::bigint, $15::timestamptz, $12::text, $13::text, $14::text "
    "FROM old WHERE (old.iban, old.bic, old.bank_holder) IS DISTINCT FROM "
    "($12::text, $13::text, $14::text) RETURNING 1) "
    "SELECT count(*) FROM u";

const char partner_image_set_sql[] =
    "WITH u AS (UPDATE partners SET profile_version = $2::bigint, "
    "logo_sha256 = CASE WHEN $3::text = 'logo' THEN $4::text ELSE logo_sha256 END, "
    "logo_type = CASE WHEN $3::text = 'logo' THEN $5::text ELSE logo_type END, "
    "cover_sha256 = CASE WHEN $3::text = 'cover' THEN $4::text ELSE cover_sha256 END, "
    "cover_type = CASE WHEN $3::text = 'cover' THEN $5::text ELSE cover_type END "
    "WHERE partner_id = $1::uuid AND profile_version < $2::bigint RETURNING 1) "
    "SELECT count(*) FROM u";

/* A partner's user (partner_id its partner) or a staff user (NULL: no partner). */
const char user_role_changed_sql[] =
    "WITH u AS (UPDATE users SET role = $2::text WHERE user_id = $1::uuid "
    "AND partner_id IS NOT DISTINCT FROM $3::uuid AND removed_at IS NULL AND role <> $2::text "
    "RETURNING 1) SELECT count(*) FROM u";

/* The removal (a staff user's: its disabling) ends every session of the
 * user in the same statement. */
const char user_removed_sql[] =
    "WITH u AS (UPDATE users SET removed_at = $3::timestamptz, disabled_at = CASE WHEN role IN "
    "('backoffice', 'finance') THEN $3::timestamptz END WHERE user_id = $1::uuid "
    "AND partner_id IS NOT DISTINCT FROM $2::uuid AND removed_at IS NULL RETURNING 1), "
    "s AS (UPDATE sessions SET ended_at = $3::timestamptz WHERE user_id = $1::uuid "
    "AND ended_at IS NULL AND EXISTS (SELECT 1 FROM u)) "
    "SELECT count(*) FROM u";

/* A new password ends every session of the user in the same statement (a
 * stolen token stops with the reset). Argon2id hashes are salted: the same
 * event read again finds its hash already set and ends nothing more. */
const char password_set_sql[] =
    "WITH u AS (UPDATE users SET password_hash = $2::text WHERE user_id = $1::uuid "
    "AND password_hash IS DISTINCT FROM $2::text RETURNING 1), "
    "s AS (UPDATE sessions SET ended_at = $3::timestamptz WHERE user_id = $1::uuid "
    "AND ended_at IS NULL AND EXISTS (SELECT 1 FROM u)) "
    "SELECT count(*) FROM u";
/* clang-format on */

/* ------------------------------------------------------------ partners, users and sessions */

int build_partner_created(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Accounts__PartnerCreated *m = UNPACK(solipass__accounts__partner_created__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    if (need_uuid("partner_id", m->partner_id, err) != 0 ||
        need_same_id("partner_id", m->partner_id, c->env->aggregate_id, err) != 0 ||
        need_partner_code("partner_code", m->partner_code, err) != 0 ||
        need_text("name", m->name, false, SP_PROJECTION_TEXT_BYTES_MAX, err) != 0 ||
        need_category("category", m->category, err) != 0)
        goto done;
    if (strcmp(m->category, "general") == 0) {
        invalid(err, "category", "%s of a partner is never \"%s\"", "general");
        goto done;
    }
    put_text(w, m->partner_id);
    put_text(w, m->partner_code);
    put_text(w, m->name);
    put_text(w, m->category);
    put_time(w, c->env->occurred_at_ms);
    rc = 0;
done:
    solipass__accounts__partner_created__free_unpacked(m, NULL);
    return rc;
}

static const char *role_name(Solipass__Accounts__Role role) {
    switch (role) {
    case SOLIPASS__ACCOUNTS__ROLE__ROLE_BACKOFFICE: return "backoffice";
    case SOLIPASS__ACCOUNTS__ROLE__ROLE_PARTNER_ADMIN: return "partner_admin";
    case SOLIPASS__ACCOUNTS__ROLE__ROLE_PARTNER_USER: return "partner_user";
    case SOLIPASS__ACCOUNTS__ROLE__ROLE_BENEFICIARY: return "beneficiary";
    case SOLIPASS__ACCOUNTS__ROLE__ROLE_FINANCE: return "finance";
    default: return NULL;
    }
}

/* Partner roles name their partner; only a beneficiary may name a pass. */
static int need_user_links(const Solipass__Accounts__UserRegistered *m, sp_error *err) {
    bool partner_role = m->role == SOLIPASS__ACCOUNTS__ROLE__ROLE_PARTNER_ADMIN ||
                        m->role == SOLIPASS__ACCOUNTS__ROLE__ROLE_PARTNER_USER;
    bool beneficiary = m->role == SOLIPASS__ACCOUNTS__ROLE__ROLE_BENEFICIARY;
    if (partner_role) {
        if (need_uuid("partner_id", m->partner_id, err) != 0) return -1;
    } else if (m->partner_id[0] != '\0') {
        return invalid(err, "partner_id", "%s is set for a %s", role_name(m->role));
    }
    if (beneficiary) {
        if (need_uuid_or_empty("pass_id", m->pass_id, err) != 0) return -1;
    } else if (m->pass_id[0] != '\0') {
        return invalid(err, "pass_id", "%s is set for a %s", role_name(m->role));
    }
    return 0;
}

int build_user_registered(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Accounts__UserRegistered *m = UNPACK(solipass__accounts__user_registered__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    const char *role = role_name(m->role);
    if (need_uuid("user_id", m->user_id, err) != 0 ||
        need_same_id("user_id", m->user_id, c->env->aggregate_id, err) != 0 ||
        need_text("email", m->email, false, SP_PROJECTION_TEXT_BYTES_MAX, err) != 0 ||
        need_text("password_hash", m->password_hash, true, SP_PROJECTION_TEXT_BYTES_MAX, err) !=
            0 ||
        need_text("full_name", m->full_name, true, SP_PROJECTION_TEXT_BYTES_MAX, err) != 0)
        goto done;
    if (role == NULL) {
        sp_error_set(err, 422, "invalid_event", "role", "role %d is not a known role",
                     (int)m->role);
        goto done;
    }
    if (need_user_links(m, err) != 0) goto done;
    put_text(w, m->user_id);
    put_text(w, m->email);
    put_text(w, m->password_hash);
    put_text(w, m->full_name);
    put_text(w, role);
    put_id_or_null(w, m->partner_id);
    put_id_or_null(w, m->pass_id);
    put_time(w, c->env->occurred_at_ms);
    rc = 0;
done:
    solipass__accounts__user_registered__free_unpacked(m, NULL);
    return rc;
}

static int need_token_hash(const ProtobufCBinaryData *hash, sp_error *err) {
    if (hash->len == SP_TOKEN_HASH_LEN) return 0;
    return sp_error_set(err, 422, "invalid_event", "token_hash", "token_hash has %zu bytes, not %d",
                        hash->len, SP_TOKEN_HASH_LEN);
}

int build_session_started(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Accounts__SessionStarted *m = UNPACK(solipass__accounts__session_started__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    if (need_uuid("user_id", m->user_id, err) != 0 ||
        need_same_id("user_id", m->user_id, c->env->aggregate_id, err) != 0 ||
        need_token_hash(&m->token_hash, err) != 0 ||
        need_time("expires_at_ms", m->expires_at_ms, err) != 0)
        goto done;
    put_bytes(w, m->token_hash.data, m->token_hash.len);
    put_text(w, m->user_id);
    put_time(w, m->expires_at_ms);
    rc = 0;
done:
    solipass__accounts__session_started__free_unpacked(m, NULL);
    return rc;
}

int build_session_ended(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Accounts__SessionEnded *m = UNPACK(solipass__accounts__session_ended__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    if (need_uuid("user_id", m->user_id, err) != 0 ||
        need_same_id("user_id", m->user_id, c->env->aggregate_id, err) != 0 ||
        need_token_hash(&m->token_hash, err) != 0)
        goto done;
    put_bytes(w, m->token_hash.data, m->token_hash.len);
    put_text(w, m->user_id);
    put_time(w, c->env->occurred_at_ms);
    rc = 0;
done:
    solipass__accounts__session_ended__free_unpacked(m, NULL);
    return rc;
}

/* Recorded for the accounts service's own idempotence; no read model shows it. */
int build_accounts_rejected(const build_ctx *c, row_writer *w, sp_error *err) {
    (void)w;
    Solipass__Accounts__CommandRejected *m = UNPACK(solipass__accounts__command_rejected__unpack,
                                                    c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    solipass__accounts__command_rejected__free_unpacked(m, NULL);
    return 0;
}

static int need_purpose(const char *purpose, sp_error *err) {
    if (strcmp(purpose, "activation") == 0 || strcmp(purpose, "reset") == 0) return 0;
    return invalid(err, "purpose", "%s is \"%.16s\", not activation or reset", purpose);
}

/* A link was issued: the notifications service mails it; no read model shows it. */
int build_activation_issued(const build_ctx *c, row_writer *w, sp_error *err) {
    (void)w;
    Solipass__Accounts__ActivationIssued *m = UNPACK(solipass__accounts__activation_issued__unpack,
                                                     c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    if (need_uuid("activation_id", m->activation_id, err) != 0 ||
        need_uuid("user_id", m->user_id, err) != 0 ||
        need_same_id("user_id", m->user_id, c->env->aggregate_id, err) != 0 ||
        need_text("email", m->email, false, SP_PROJECTION_TEXT_BYTES_MAX, err) != 0 ||
        need_purpose(m->purpose, err) != 0 ||
        need_time("expires_at_ms", m->expires_at_ms, err) != 0)
        goto done;
    rc = 0;
done:
    solipass__accounts__activation_issued__free_unpacked(m, NULL);
    return rc;
}

int build_password_set(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Accounts__PasswordSet *m = UNPACK(solipass__accounts__password_set__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    if (need_uuid("user_id", m->user_id, err) != 0 ||
        need_same_id("user_id", m->user_id, c->env->aggregate_id, err) != 0 ||
        need_uuid("activation_id", m->activation_id, err) != 0 ||
        need_text("password_hash", m->password_hash, false, SP_PROJECTION_TEXT_BYTES_MAX, err) !=
            0 ||
        need_purpose(m->purpose, err) != 0)
        goto done;
    put_text(w, m->user_id);
    put_text(w, m->password_hash);
    put_time(w, c->env->occurred_at_ms);
    rc = 0;
done:
    solipass__accounts__password_set__free_unpacked(m, NULL);
    return rc;
}

/* ------------------------------------------------------------ partner space */

/* A text[] literal; elements quoted, '"' and '\' escaped. */
static void put_text_array(row_writer *w, char *const *items, size_t count) {
    writer_begin(w);
    writer_append(w, "{");
    for (size_t i = 0; i < count; i++) {
        writer_append(w, "%s\"", i ? "," : "");
        for (const char *p = items[i]; *p != '\0'; p++) {
            if (*p == '"' || *p == '\\') writer_append(w, "\\%c", *p);
            else writer_append(w, "%c", *p);
        }
        writer_append(w, "\"");
    }
    writer_append(w, "}");
    writer_end(w);
}

static int need_profile(const Solipass__Accounts__PartnerProfile *p, sp_error *err) {
    if (p == NULL) return invalid(err, "profile", "%s is missing%s", "");
    const char *texts[] = {
        p->legal_name,    p->description,   p->website, p->hq_address, p->activity_address,
        p->contact_phone, p->contact_email, p->iban,    p->bic,        p->bank_holder};
    if (need_text("public_name", p->public_name, false, SP_PROJECTION_TEXT_BYTES_MAX, err) != 0)
        return -1;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        if (need_text("profile", texts[i], true, 4 * SP_PROFILE_DESCRIPTION_CHARS_MAX, err) != 0)
            return -1;
    }
    if (p->n_social_links > SP_PROFILE_SOCIAL_LINKS_MAX)
        return invalid(err, "social_links", "%s: more than %s links", "8");
    for (size_t i = 0; i < p->n_social_links; i++) {
        if (!sp_profile_url_valid(p->social_links[i]))
            return invalid(err, "social_links", "%s: not an http(s) URL: \"%.80s\"",
                           p->social_links[i]);
    }
    return 0;
}

int build_partner_profile_updated(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Accounts__PartnerProfileUpdated *m = UNPACK(
        solipass__accounts__partner_profile_updated__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    if (need_uuid("partner_id", m->partner_id, err) != 0 ||
        need_same_id("partner_id", m->partner_id, c->env->aggregate_id, err) != 0 ||
        need_profile(m->profile, err) != 0)
        goto done;
    const Solipass__Accounts__PartnerProfile *p = m->profile;
    put_text(w, m->partner_id);
    put_int(w, (int64_t)c->env->aggregate_version);
    put_text(w, p->legal_name);
    put_text(w, p->public_name);
    put_text(w, p->description);
    put_text(w, p->website);
    put_text_array(w, p->social_links, p->n_social_links);
    put_text(w, p->hq_address);
    put_text(w, p->activity_address);
    put_text(w, p->contact_phone);
    put_text(w, p->contact_email);
    put_text(w, p->iban);
    put_text(w, p->bic);
    put_text(w, p->bank_holder);
    put_time(w, c->env->occurred_at_ms);
    rc = 0;
done:
    solipass__accounts__partner_profile_updated__free_unpacked(m, NULL);
    return rc;
}

static bool sha256_hex(const char *s) {
    size_t len = strlen(s);
    for (size_t i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    }
    return len == 64;
}

int build_partner_image_set(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Accounts__PartnerImageSet *m = UNPACK(solipass__accounts__partner_image_set__unpack,
                                                    c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    if (need_uuid("partner_id", m->partner_id, err) != 0 ||
        need_same_id("partner_id", m->partner_id, c->env->aggregate_id, err) != 0)
        goto done;
    if (strcmp(m->slot, "logo") != 0 && strcmp(m->slot, "cover") != 0) {
        invalid(err, "slot", "%s is \"%.16s\", not logo or cover", m->slot);
        goto done;
    }
    if (!sha256_hex(m->sha256)) {
        invalid(err, "sha256", "%s is not 64 hex digits: \"%.70s\"", m->sha256);
        goto done;
    }
    if (strcmp(m->content_type, "image/png") != 0 && strcmp(m->content_type, "image/jpeg") != 0) {
        invalid(err, "content_type", "%s is \"%.40s\", not image/png or image/jpeg",
                m->content_type);
        goto done;
    }
    put_text(w, m->partner_id);
    put_int(w, (int64_t)c->env->aggregate_version);
    put_text(w, m->slot);
    put_text(w, m->sha256);
    put_text(w, m->content_type);
    rc = 0;
done:
    solipass__accounts__partner_image_set__free_unpacked(m, NULL);
    return rc;
}

int build_user_role_changed(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Accounts__UserRoleChanged *m = UNPACK(solipass__accounts__user_role_changed__unpack,
                                                    c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    bool partner_role = m->role == SOLIPASS__ACCOUNTS__ROLE__ROLE_PARTNER_ADMIN ||
                        m->role == SOLIPASS__ACCOUNTS__ROLE__ROLE_PARTNER_USER;
    bool staff_role = m->role == SOLIPASS__ACCOUNTS__ROLE__ROLE_BACKOFFICE ||
                      m->role == SOLIPASS__ACCOUNTS__ROLE__ROLE_FINANCE;
    if (need_uuid("user_id", m->user_id, err) != 0 ||
        need_same_id("user_id", m->user_id, c->env->aggregate_id, err) != 0 ||
        need_uuid_or_empty("partner_id", m->partner_id, err) != 0)
        goto done;
    /* A partner's user keeps a partner role, a staff user (no partner) a staff one. */
    if (m->partner_id[0] != '\0' ? !partner_role : !staff_role) {
        sp_error_set(err, 422, "invalid_event", "role", "role %d does not fit the user's partner",
                     (int)m->role);
        goto done;
    }
    put_text(w, m->user_id);
    put_text(w, role_name(m->role));
    put_id_or_null(w, m->partner_id);
    rc = 0;
done:
    solipass__accounts__user_role_changed__free_unpacked(m, NULL);
    return rc;
}

int build_user_removed(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Accounts__UserRemoved *m = UNPACK(solipass__accounts__user_removed__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    if (need_uuid("user_id", m->user_id, err) != 0 ||
        need_same_id("user_id", m->user_id, c->env->aggregate_id, err) != 0 ||
        need_uuid_or_empty("partner_id", m->partner_id, err) != 0)
        goto done;
    put_text(w, m->user_id);
    put_id_or_null(w, m->partner_id);
    put_time(w, c->env->occurred_at_ms);
    rc = 0;
done:
    solipass__accounts__user_removed__free_unpacked(m, NULL);
    return rc;
}

#define CONVENTION_TITLE_BYTES_MAX 800 /* 200 characters of UTF-8 */
#define CONVENTION_VERSION_BYTES_MAX 32
#define CONVENTION_TEXT_BYTES_MAX (32 * 1024)

/* A convention's text: UTF-8, line breaks and tabs allowed, bounded. */
static int need_body(const char *field, const char *value, sp_error *err) {
    const unsigned char *p = (const unsigned char *)value;
    size_t i = 0;
    while (p[i] != '\0' && i <= CONVENTION_TEXT_BYTES_MAX) {
        bool spacing = p[i] == '\n' || p[i] == '\r' || p[i] == '\t';
        size_t len = utf8_sequence_length(p + i);
        if (len == 0 || ((p[i] < 0x20 || p[i] == 0x7F) && !spacing)) break;
        i += len;
    }
    if (p[i] == '\0' && i <= CONVENTION_TEXT_BYTES_MAX) return 0;
    return sp_error_set(err, 422, "invalid_event", field,
                        "%s is not UTF-8 text of at most %d bytes", field,
                        CONVENTION_TEXT_BYTES_MAX);
}

int build_convention_published(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Accounts__ConventionPublished *m = UNPACK(
        solipass__accounts__convention_published__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    if (need_uuid("convention_id", m->convention_id, err) != 0 ||
        need_same_id("convention_id", m->convention_id, c->env->aggregate_id, err) != 0 ||
        need_text("title", m->title, false, CONVENTION_TITLE_BYTES_MAX, err) != 0 ||
        need_text("version", m->version, false, CONVENTION_VERSION_BYTES_MAX, err) != 0 ||
        need_body("text", m->text, err) != 0 ||
        need_date("effective_date", m->effective_date, err) != 0 ||
        need_uuid("published_by", m->published_by, err) != 0)
        goto done;
    put_text(w, m->convention_id);
    put_text(w, m->title);
    put_text(w, m->version);
    put_text(w, m->text);
    put_text(w, m->effective_date);
    put_text(w, m->mandatory ? "true" : "false");
    put_text(w, m->published_by);
    put_time(w, c->env->occurred_at_ms);
    rc = 0;
done:
    solipass__accounts__convention_published__free_unpacked(m, NULL);
    return rc;
}

int build_convention_accepted(const build_ctx *c, row_writer *w, sp_error *err) {
    Solipass__Accounts__ConventionAccepted *m = UNPACK(
        solipass__accounts__convention_accepted__unpack, c);
    if (m == NULL) return undecodable_payload(err, c->env->type);
    int rc = -1;
    if (need_uuid("partner_id", m->partner_id, err) != 0 ||
        need_same_id("partner_id", m->partner_id, c->env->aggregate_id, err) != 0 ||
        need_uuid("convention_id", m->convention_id, err) != 0 ||
        need_text("version", m->version, false, CONVENTION_VERSION_BYTES_MAX, err) != 0 ||
        need_uuid("user_id", m->user_id, err) != 0 ||
        need_time("accepted_at_ms", m->accepted_at_ms, err) != 0)
        goto done;
    put_text(w, m->partner_id);
    put_text(w, m->convention_id);
    put_text(w, m->version);
    put_text(w, m->user_id);
    put_time(w, m->accepted_at_ms);
    rc = 0;
done:
    solipass__accounts__convention_accepted__free_unpacked(m, NULL);
    return rc;
}
