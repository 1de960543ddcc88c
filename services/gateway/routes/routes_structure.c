/* routes_structure.c - a partner's structure (profile, logo, cover photo),
 * the uploaded images, and the public directory of partners that the
 * beneficiary app shows. Writes go to the accounts service as commands;
 * images are stored first in the content-addressed media table (see
 * docs/architecture.md), and the command names them by SHA-256. */
#include "routes.h"
#include "json_limits.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "accounts.pb-c.h"
#include "commands.h"
#include "pgpool.h"
#include "sp_kafka.h"
#include "structure.h"

#define SP_GW_DIRECTORY_MAX 1000
#define SP_GW_MEDIA_PATH "/api/v1/media/"
#define SP_GW_MEDIA_URL_MAX (sizeof SP_GW_MEDIA_PATH + 64)

/* clang-format off */
static const char structure_sql[] =
    "SELECT partner_id, partner_code, name, category, legal_name, description, website,"
    " array_to_json(social_links)::text, hq_address, activity_address, contact_phone,"
    " contact_email, iban, bic, bank_holder, coalesce(logo_sha256, ''),"
    " coalesce(cover_sha256, '') FROM partners WHERE partner_id = $1::uuid";
enum { S_ID, S_CODE, S_NAME, S_CATEGORY, S_LEGAL, S_DESCRIPTION, S_WEBSITE, S_LINKS, S_HQ,
       S_ACTIVITY, S_PHONE, S_EMAIL, S_IBAN, S_BIC, S_HOLDER, S_LOGO, S_COVER };

/* Public information only: what a beneficiary sees in the app. */
static const char directory_sql[] =
    "SELECT partner_code, name, category, description, website,"
    " array_to_json(social_links)::text,"
    " CASE WHEN activity_address <> '' THEN activity_address ELSE hq_address END,"
    " coalesce(logo_sha256, ''), coalesce(cover_sha256, '')"
    " FROM partners ORDER BY name, partner_code LIMIT $1::integer";
static const char directory_one_sql[] =
    "SELECT partner_code, name, category, description, website,"
    " array_to_json(social_links)::text,"
    " CASE WHEN activity_address <> '' THEN activity_address ELSE hq_address END,"
    " coalesce(logo_sha256, ''), coalesce(cover_sha256, '')"
    " FROM partners WHERE partner_code = $1";

static const char media_insert_sql[] =
    "INSERT INTO media (sha256, content_type, bytes, width, height)"
    " VALUES ($1, $2, $3::bytea, $4::integer, $5::integer) ON CONFLICT (sha256) DO NOTHING";
static const char media_select_sql[] =
    "SELECT content_type, encode(bytes, 'hex') FROM media WHERE sha256 = $1";
/* clang-format on */

/* ------------------------------------------------------------------ answers */

static json_t *media_url(const char *sha256) {
    if (sha256[0] == '\0') return json_null();
    char url[SP_GW_MEDIA_URL_MAX];
    snprintf(url, sizeof url, SP_GW_MEDIA_PATH "%s", sha256);
    return json_string(url);
}

static json_t *links_of(const char *json_text) {
    json_error_t jerr;
    json_t *links = sp_gw_json_loads(json_text, 0, &jerr);
    if (!json_is_array(links)) {
        json_decref(links);
        return json_array();
    }
    return links;
}

static json_t *structure_json(const PGresult *res) {
    const char *activity = PQgetvalue(res, 0, S_ACTIVITY);
    const char *shown = activity[0] != '\0' ? activity : PQgetvalue(res, 0, S_HQ);
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
        " s:o, s:o}",
        "partner_id", PQgetvalue(res, 0, S_ID), "partner_code", PQgetvalue(res, 0, S_CODE),
        "category", PQgetvalue(res, 0, S_CATEGORY), "legal_name", PQgetvalue(res, 0, S_LEGAL),
        "public_name", PQgetvalue(res, 0, S_NAME), "description", PQgetvalue(res, 0, S_DESCRIPTION),
        "website", PQgetvalue(res, 0, S_WEBSITE), "social_links",
        links_of(PQgetvalue(res, 0, S_LINKS)), "hq_address", PQgetvalue(res, 0, S_HQ),
        "activity_address", activity, "displayed_address", shown, "contact_phone",
        PQgetvalue(res, 0, S_PHONE), "contact_email", PQgetvalue(res, 0, S_EMAIL), "iban",
        PQgetvalue(res, 0, S_IBAN), "bic", PQgetvalue(res, 0, S_BIC), "bank_holder",
        PQgetvalue(res, 0, S_HOLDER), "logo_url", media_url(PQgetvalue(res, 0, S_LOGO)),
        "cover_url", media_url(PQgetvalue(res, 0, S_COVER)));
}

json_t *sp_gw_structure_of(sp_gw_request *req, const char *partner_id, sp_error *err) {
    const char *params[1] = {partner_id};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, structure_sql, 1, params, &res, err) != 0) return NULL;
    json_t *body = NULL;
    if (PQntuples(res) != 1) {
        sp_error_set(err, 404, "partner_not_found", "", "this account's partner is not known yet");
    } else if ((body = structure_json(res)) == NULL) {
        sp_error_set(err, 500, "internal", "", "the structure could not be shown");
    }
    PQclear(res);
    return body;
}

static int answer_structure(sp_gw_request *req, int status, bool replayed, sp_error *err) {
    json_t *body = sp_gw_structure_of(req, req->user.partner_id, err);
    if (body == NULL) return -1;
    return sp_gw_answer_json(req, status, body, replayed);
}

static int own_partner(const sp_gw_request *req, sp_error *err) {
    if (sp_id_valid(req->user.partner_id)) return 0;
    return sp_error_set(err, 403, "forbidden", "", "this account belongs to no partner");
}

/* The Idempotency-Key when given; PUT is idempotent by itself, so a fresh
 * command id otherwise. */
const char *sp_gw_optional_key(const sp_gw_request *req, char fresh[SP_ID_LEN + 1], sp_error *err) {
    const char *key = sp_gw_request_header(req, "Idempotency-Key");
    if (key == NULL) {
        sp_id_new(fresh);
        return fresh;
    }
    return sp_gw_idempotency_key_check(key, err) == 0 ? key : NULL;
}

/* ------------------------------------------------------------------ structure */

int sp_gw_route_structure_get(sp_gw_request *req, sp_error *err) {
    if (own_partner(req, err) != 0) return -1;
    return answer_structure(req, 200, false, err);
}

static void profile_pb(const sp_gw_profile_req *p, Solipass__Accounts__PartnerProfile *m,
                       char **links) {
    m->legal_name = (char *)p->legal_name;
    m->public_name = (char *)p->public_name;
    m->description = (char *)p->description;
    m->website = (char *)p->website;
    for (size_t i = 0; i < p->social_link_count; i++) links[i] = (char *)p->social_links[i];
    m->n_social_links = p->social_link_count;
    m->social_links = p->social_link_count > 0 ? links : NULL;
    m->hq_address = (char *)p->hq_address;
    m->activity_address = (char *)p->activity_address;
    m->contact_phone = (char *)p->contact_phone;
    m->contact_email = (char *)p->contact_email;
    m->iban = (char *)p->iban;
    m->bic = (char *)p->bic;
    m->bank_holder = (char *)p->bank_holder;
}

/* Runs an accounts command; a refusal is answered, an acceptance leaves
 * the answer to the caller (*ok, *replayed). */
int sp_gw_run_accounts(sp_gw_request *req, const char *type, const char *aggregate_id,
                       const char *key, const ProtobufCMessage *payload, bool *ok, bool *replayed,
                       sp_error *err) {
    sp_envelope_meta meta = sp_gw_command_meta(req, type, aggregate_id, key);
    Solipass__Reply *reply = NULL;
    *ok = false;
    if (sp_gw_commands_run(req->app->commands, req->app->projwait, SP_TOPIC_ACCOUNTS_COMMANDS,
                           &meta, payload, req->deadline_ms, &reply, err) != 0)
        return -1;
    int rc = 0;
    if (!reply->ok) {
        rc = sp_gw_answer_reply(req, reply, err);
    } else {
        *ok = true;
        *replayed = reply->replayed;
    }
    solipass__reply__free_unpacked(reply, NULL);
    return rc;
}

int sp_gw_route_structure_put(sp_gw_request *req, sp_error *err) {
    if (own_partner(req, err) != 0) return -1;
    char fresh[SP_ID_LEN + 1];
    const char *key = sp_gw_optional_key(req, fresh, err);
    if (key == NULL) return -1;
    sp_gw_profile_req *body = malloc(sizeof *body);
    if (body == NULL) return sp_error_set(err, 503, "unavailable", "", "out of memory");
    int rc = sp_gw_parse_profile(req->body, req->body_len, body, err);
    bool ok = false, replayed = false;
    if (rc == 0) {
        Solipass__Accounts__PartnerProfile profile = SOLIPASS__ACCOUNTS__PARTNER_PROFILE__INIT;
        char *links[SP_PROFILE_SOCIAL_LINKS_MAX];
        profile_pb(body, &profile, links);
        Solipass__Accounts__UpdatePartnerProfile update =
            SOLIPASS__ACCOUNTS__UPDATE_PARTNER_PROFILE__INIT;
        update.partner_id = req->user.partner_id;
        update.profile = &profile;
        rc = sp_gw_run_accounts(req, "accounts.UpdatePartnerProfile.v1", req->user.partner_id, key,
                                &update.base, &ok, &replayed, err);
    }
    free(body);
    if (rc != 0 || !ok) return rc;
    return answer_structure(req, 200, replayed, err);
}

/* ------------------------------------------------------------------ images */

static int store_media(sp_gw_request *req, const uint8_t *bytes, size_t len,
                       const sp_gw_image_info *info, const char *sha256, sp_error *err) {
    char *hex = malloc(2 * len + 3);
    if (hex == NULL) return sp_error_set(err, 503, "unavailable", "", "out of memory");
    hex[0] = '\\';
    hex[1] = 'x';
    sodium_bin2hex(hex + 2, 2 * len + 1, bytes, len);
    char width[16], height[16];
    snprintf(width, sizeof width, "%u", (unsigned)info->width_px);
    snprintf(height, sizeof height, "%u", (unsigned)info->height_px);
    const char *params[5] = {sha256, info->content_type, hex, width, height};
    PGresult *res = NULL;
    int rc = sp_gw_pgpool_query(req->app->pool, media_insert_sql, 5, params, &res, err);
    if (rc == 0) PQclear(res);
    free(hex);
    return rc;
}

static int put_image(sp_gw_request *req, const char *slot, sp_error *err) {
    if (own_partner(req, err) != 0) return -1;
    char fresh[SP_ID_LEN + 1];
    const char *key = sp_gw_optional_key(req, fresh, err);
    if (key == NULL) return -1;
    const uint8_t *bytes = (const uint8_t *)req->body;
    sp_gw_image_info info;
    if (sp_gw_image_check(bytes, req->body_len, sp_gw_request_header(req, "Content-Type"),
                          (size_t)req->app->config->image_bytes_max, &info, err) != 0)
        return -1;
    uint8_t digest[crypto_hash_sha256_BYTES];
    char sha256[2 * crypto_hash_sha256_BYTES + 1];
    crypto_hash_sha256(digest, bytes, req->body_len);
    sodium_bin2hex(sha256, sizeof sha256, digest, sizeof digest);
    /* Stored before the command names it: an image nobody names is only
     * an unused row, a name without its image never happens. */
    if (store_media(req, bytes, req->body_len, &info, sha256, err) != 0) return -1;
    Solipass__Accounts__SetPartnerImage set = SOLIPASS__ACCOUNTS__SET_PARTNER_IMAGE__INIT;
    set.partner_id = req->user.partner_id;
    set.slot = (char *)slot;
    set.sha256 = sha256;
    set.content_type = (char *)info.content_type;
    bool ok = false, replayed = false;
    if (sp_gw_run_accounts(req, "accounts.SetPartnerImage.v1", req->user.partner_id, key, &set.base,
                           &ok, &replayed, err) != 0)
        return -1;
    if (!ok) return 0; /* the refusal was answered */
    json_t *answer = json_pack("{s:s, s:s, s:s, s:o, s:i, s:i}", "slot", slot, "sha256", sha256,
                               "content_type", info.content_type, "url", media_url(sha256), "width",
                               (int)info.width_px, "height", (int)info.height_px);
    return sp_gw_answer_json(req, 200, answer, replayed);
}

int sp_gw_route_structure_logo(sp_gw_request *req, sp_error *err) {
    return put_image(req, "logo", err);
}

int sp_gw_route_structure_cover(sp_gw_request *req, sp_error *err) {
    return put_image(req, "cover", err);
}

int sp_gw_route_media_get(sp_gw_request *req, sp_error *err) {
    const char *params[1] = {req->match.path_key};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, media_select_sql, 1, params, &res, err) != 0) return -1;
    int rc = -1;
    uint8_t *bytes = NULL;
    if (PQntuples(res) != 1) {
        sp_error_set(err, 404, "not_found", "sha256", "no image has this SHA-256");
        goto done;
    }
    const char *hex = PQgetvalue(res, 0, 1);
    size_t hex_len = strlen(hex), len = 0;
    bytes = malloc(hex_len / 2 + 1);
    if (bytes == NULL ||
        sodium_hex2bin(bytes, hex_len / 2 + 1, hex, hex_len, NULL, &len, NULL) != 0) {
        sp_error_set(err, 500, "internal", "", "a stored image could not be read");
        goto done;
    }
    rc = sp_gw_answer_immutable(req, PQgetvalue(res, 0, 0), bytes, len, req->match.path_key);
done:
    free(bytes);
    PQclear(res);
    return rc;
}

/* ------------------------------------------------------------------ directory */

static json_t *directory_entry(const PGresult *res, int row) {
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:o}", "partner_code",
                     PQgetvalue(res, row, 0), "public_name", PQgetvalue(res, row, 1), "category",
                     PQgetvalue(res, row, 2), "description", PQgetvalue(res, row, 3), "website",
                     PQgetvalue(res, row, 4), "social_links", links_of(PQgetvalue(res, row, 5)),
                     "address", PQgetvalue(res, row, 6), "logo_url",
                     media_url(PQgetvalue(res, row, 7)), "cover_url",
                     media_url(PQgetvalue(res, row, 8)));
}

int sp_gw_route_directory_partners(sp_gw_request *req, sp_error *err) {
    if (req->query != NULL && req->query[0] != '\0')
        return sp_error_set(err, 400, "unknown_field", "", "this endpoint takes no parameters");
    char limit[16];
    snprintf(limit, sizeof limit, "%d", SP_GW_DIRECTORY_MAX);
    const char *params[1] = {limit};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, directory_sql, 1, params, &res, err) != 0) return -1;
    json_t *partners = json_array();
    for (int row = 0; partners != NULL && row < PQntuples(res); row++) {
        json_t *entry = directory_entry(res, row);
        if (entry == NULL || json_array_append_new(partners, entry) != 0) {
            json_decref(partners);
            partners = NULL;
        }
    }
    PQclear(res);
    if (partners == NULL)
        return sp_error_set(err, 500, "internal", "", "the directory could not be shown");
    return sp_gw_answer_json(req, 200, json_pack("{s:o}", "partners", partners), false);
}

/* Whom the beneficiary is about to pay (the payment screen, before the
 * amount): the code is checked as POST /api/v1/pass/payments checks it, so
 * a mistyped code is said the same way here. */
int sp_gw_route_directory_partner(sp_gw_request *req, sp_error *err) {
    if (req->query != NULL && req->query[0] != '\0')
        return sp_error_set(err, 400, "unknown_field", "", "this endpoint takes no parameters");
    char code[SP_PARTNER_CODE_LEN + 1];
    if (sp_gw_partner_code_check(req->match.path_key, "partner_code", code, err) != 0) return -1;
    const char *params[1] = {code};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, directory_one_sql, 1, params, &res, err) != 0) return -1;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return sp_error_set(err, 404, "partner_not_found", "partner_code",
                            "no partner has this code");
    }
    json_t *entry = directory_entry(res, 0);
    PQclear(res);
    if (entry == NULL)
        return sp_error_set(err, 500, "internal", "", "the partner could not be shown");
    return sp_gw_answer_json(req, 200, entry, false);
}
