/* structure.c - partner structure and users: bodies and images (see structure.h). */
#include "structure.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ profile */

static const sp_gw_field profile_fields[] = {
    {"legal_name", SP_GW_FIELD_STRING, true, 1, SP_PROFILE_NAME_CHARS_MAX},
    {"public_name", SP_GW_FIELD_STRING, true, 1, SP_PROFILE_NAME_CHARS_MAX},
    {"description", SP_GW_FIELD_STRING, false, 0, SP_PROFILE_DESCRIPTION_CHARS_MAX},
    {"website", SP_GW_FIELD_STRING, false, 0, SP_PROFILE_URL_MAX},
    {"social_links", SP_GW_FIELD_ARRAY, false, 0, SP_PROFILE_SOCIAL_LINKS_MAX},
    {"hq_address", SP_GW_FIELD_STRING, false, 0, SP_PROFILE_ADDRESS_CHARS_MAX},
    {"activity_address", SP_GW_FIELD_STRING, false, 0, SP_PROFILE_ADDRESS_CHARS_MAX},
    {"contact_phone", SP_GW_FIELD_STRING, false, 0, SP_PROFILE_PHONE_MAX},
    {"contact_email", SP_GW_FIELD_STRING, false, 0, SP_GW_EMAIL_LEN_MAX},
    {"iban", SP_GW_FIELD_STRING, false, 0, SP_PROFILE_IBAN_INPUT_MAX},
    {"bic", SP_GW_FIELD_STRING, false, 0, SP_PROFILE_BIC_MAX},
    {"bank_holder", SP_GW_FIELD_STRING, false, 0, SP_PROFILE_NAME_CHARS_MAX},
};
static const sp_gw_schema profile_schema = {profile_fields,
                                            sizeof profile_fields / sizeof profile_fields[0]};

static const sp_gw_field user_add_fields[] = {
    {"email", SP_GW_FIELD_STRING, true, 1, SP_GW_EMAIL_LEN_MAX},
    {"full_name", SP_GW_FIELD_STRING, true, 1, SP_GW_NAME_LEN_MAX},
    {"role", SP_GW_FIELD_STRING, false, 1, 16},
};
static const sp_gw_schema user_add_schema = {user_add_fields,
                                             sizeof user_add_fields / sizeof user_add_fields[0]};

/* A staff user's role has no default: back-office rights are never implied. */
static const sp_gw_field staff_add_fields[] = {
    {"email", SP_GW_FIELD_STRING, true, 1, SP_GW_EMAIL_LEN_MAX},
    {"full_name", SP_GW_FIELD_STRING, true, 1, SP_GW_NAME_LEN_MAX},
    {"role", SP_GW_FIELD_STRING, true, 1, 16},
};
static const sp_gw_schema staff_add_schema = {staff_add_fields,
                                              sizeof staff_add_fields / sizeof staff_add_fields[0]};

static const sp_gw_field user_role_fields[] = {
    {"role", SP_GW_FIELD_STRING, true, 1, 16},
};
static const sp_gw_schema user_role_schema = {user_role_fields,
                                              sizeof user_role_fields / sizeof user_role_fields[0]};

/* A string member into out ("" when absent or null); the schema bounded it. */
static void member(const json_t *object, const char *name, char *out, size_t out_size) {
    assert(out != NULL);
    assert(out_size > 0);
    const char *value = json_string_value(json_object_get(object, name));
    snprintf(out, out_size, "%s", value != NULL ? value : "");
}

static bool blank(const char *text) {
    assert(text != NULL);
    for (; *text != '\0'; text++) {
        if (*text != ' ') return false;
    }
    return true;
}

static int check_links(const json_t *root, sp_gw_profile_req *out, sp_error *err) {
    const json_t *links = json_object_get(root, "social_links");
    if (links == NULL || json_is_null(links)) return 0;
    size_t i = 0;
    const json_t *link = NULL;
    json_array_foreach(links, i, link) {
        const char *url = json_string_value(link);
        if (url == NULL)
            return sp_error_set(err, 400, "invalid_type", "social_links",
                                "social_links[%zu] must be a string", i);
        if (!sp_profile_url_valid(url))
            return sp_error_set(err, 400, "invalid_url", "social_links",
                                "social_links[%zu] must be an http:// or https:// address of at "
                                "most %d characters",
                                i, SP_PROFILE_URL_MAX);
        assert(i < SP_PROFILE_SOCIAL_LINKS_MAX);
        snprintf(out->social_links[i], sizeof out->social_links[i], "%s", url);
        out->social_link_count = i + 1;
    }
    return 0;
}

static int check_bank(sp_gw_profile_req *out, sp_error *err) {
    assert(out != NULL);
    char iban[SP_PROFILE_IBAN_INPUT_MAX + 1];
    snprintf(iban, sizeof iban, "%s", out->iban);
    if (iban[0] != '\0') {
        sp_profile_iban_status status = sp_profile_iban_normalize(iban, out->iban);
        if (status == SP_PROFILE_IBAN_BAD_FORMAT)
            return sp_error_set(err, 422, "invalid_iban", "iban",
                                "iban is not an IBAN: a country code, 2 check digits and the "
                                "account number, of the country's length");
        if (status == SP_PROFILE_IBAN_BAD_CHECKSUM)
            return sp_error_set(err, 422, "invalid_iban", "iban",
                                "iban has wrong check digits (mod 97): a character is mistyped");
    }
    char bic[SP_PROFILE_BIC_MAX + 1];
    snprintf(bic, sizeof bic, "%s", out->bic);
    if (bic[0] != '\0' && !sp_profile_bic_normalize(bic, out->bic))
        return sp_error_set(err, 422, "invalid_bic", "bic",
                            "bic must be 8 or 11 characters: bank (4 letters), country (2 "
                            "letters), place (2), branch (3, optional)");
    if (out->iban[0] != '\0' && blank(out->bank_holder))
        return sp_error_set(err, 400, "missing_field", "bank_holder",
                            "bank_holder is required with an iban");
    if (out->iban[0] == '\0' && (out->bic[0] != '\0' || out->bank_holder[0] != '\0'))
        return sp_error_set(err, 400, "missing_field", "iban",
                            "iban is required with a bic or a bank_holder");
    return 0;
}

static int check_profile(const json_t *root, sp_gw_profile_req *out, sp_error *err) {
    assert(out != NULL);
    if (blank(out->legal_name))
        return sp_error_set(err, 400, "invalid_value", "legal_name", "legal_name is blank");
    if (blank(out->public_name))
        return sp_error_set(err, 400, "invalid_value", "public_name", "public_name is blank");
    if (out->website[0] != '\0' && !sp_profile_url_valid(out->website))
        return sp_error_set(err, 400, "invalid_url", "website",
                            "website must be an http:// or https:// address");
    if (check_links(root, out, err) != 0) return -1;
    if (out->contact_phone[0] != '\0' && !sp_profile_phone_valid(out->contact_phone))
        return sp_error_set(err, 400, "invalid_phone", "contact_phone",
                            "contact_phone must hold 6 to 15 digits (spaces, dots, dashes, "
                            "brackets and a leading + allowed)");
    char email[SP_GW_TEXT_BYTES(SP_GW_EMAIL_LEN_MAX)];
    snprintf(email, sizeof email, "%s", out->contact_email);
    if (email[0] != '\0' &&
        sp_gw_email_normalize(email, "contact_email", out->contact_email, err) != 0)
        return -1;
    return check_bank(out, err);
}

int sp_gw_parse_profile(const char *body, size_t len, sp_gw_profile_req *out, sp_error *err) {
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    json_t *root = sp_gw_body_parse(body, len, &profile_schema, err);
    if (root == NULL) return -1;
    member(root, "legal_name", out->legal_name, sizeof out->legal_name);
    member(root, "public_name", out->public_name, sizeof out->public_name);
    member(root, "description", out->description, sizeof out->description);
    member(root, "website", out->website, sizeof out->website);
    member(root, "hq_address", out->hq_address, sizeof out->hq_address);
    member(root, "activity_address", out->activity_address, sizeof out->activity_address);
    member(root, "contact_phone", out->contact_phone, sizeof out->contact_phone);
    member(root, "contact_email", out->contact_email, sizeof out->contact_email);
    member(root, "iban", out->iban, sizeof out->iban);
    member(root, "bic", out->bic, sizeof out->bic);
    member(root, "bank_holder", out->bank_holder, sizeof out->bank_holder);
    int rc = check_profile(root, out, err);
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------------ users */

/* The two roles of a family: a partner's users, or the city's staff. */
static int check_role(const char *role, bool staff, sp_error *err) {
    assert(role != NULL);
    const char *first = staff ? "backoffice" : "partner_admin";
    const char *second = staff ? "finance" : "partner_user";
    if (strcmp(role, first) == 0 || strcmp(role, second) == 0) return 0;
    return sp_error_set(err, 400, "invalid_value", "role", "role must be \"%s\" or \"%s\"", first,
                        second);
}

static int parse_user_add(const char *body, size_t len, bool staff, sp_gw_user_add_req *out,
                          sp_error *err) {
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    json_t *root = sp_gw_body_parse(body, len, staff ? &staff_add_schema : &user_add_schema, err);
    if (root == NULL) return -1;
    char email[SP_GW_TEXT_BYTES(SP_GW_EMAIL_LEN_MAX)];
    member(root, "email", email, sizeof email);
    member(root, "full_name", out->full_name, sizeof out->full_name);
    member(root, "role", out->role, sizeof out->role);
    json_decref(root);
    if (out->role[0] == '\0') snprintf(out->role, sizeof out->role, "partner_user");
    if (sp_gw_email_normalize(email, "email", out->email, err) != 0) return -1;
    if (blank(out->full_name))
        return sp_error_set(err, 400, "invalid_value", "full_name", "full_name is blank");
    return check_role(out->role, staff, err);
}

int sp_gw_parse_user_add(const char *body, size_t len, sp_gw_user_add_req *out, sp_error *err) {
    return parse_user_add(body, len, false, out, err);
}

int sp_gw_parse_staff_add(const char *body, size_t len, sp_gw_user_add_req *out, sp_error *err) {
    return parse_user_add(body, len, true, out, err);
}

static int parse_user_role(const char *body, size_t len, bool staff, char *role, sp_error *err) {
    assert(role != NULL);
    role[0] = '\0';
    json_t *root = sp_gw_body_parse(body, len, &user_role_schema, err);
    if (root == NULL) return -1;
    member(root, "role", role, 16);
    json_decref(root);
    return check_role(role, staff, err);
}

int sp_gw_parse_user_role(const char *body, size_t len, char *role, sp_error *err) {
    return parse_user_role(body, len, false, role, err);
}

int sp_gw_parse_staff_role(const char *body, size_t len, char *role, sp_error *err) {
    return parse_user_role(body, len, true, role, err);
}

/* ------------------------------------------------------------------ images */

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}
static uint32_t be16(const uint8_t *p) {
    return (uint32_t)p[0] << 8 | (uint32_t)p[1];
}

static bool png_dimensions(const uint8_t *b, size_t len, sp_gw_image_info *out) {
    assert(b != NULL);
    assert(out != NULL);
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
    static const uint8_t iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    if (len < 8 + 25 + 12 || memcmp(b, signature, 8) != 0) return false;
    if (be32(b + 8) != 13 || memcmp(b + 12, "IHDR", 4) != 0) return false;
    if (memcmp(b + len - 12, iend, 12) != 0) return false;
    out->width_px = be32(b + 16);
    out->height_px = be32(b + 20);
    return true;
}

/* SOFn markers (frame headers): C0..CF except DHT (C4), JPG (C8), DAC (CC). */
static bool jpeg_frame_marker(uint8_t marker) {
    return marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
}

static bool jpeg_dimensions(const uint8_t *b, size_t len, sp_gw_image_info *out) {
    assert(b != NULL);
    assert(out != NULL);
    if (len < 4 || b[0] != 0xff || b[1] != 0xd8 || b[len - 2] != 0xff || b[len - 1] != 0xd9)
        return false;
    size_t at = 2;
    for (int segments = 0; segments < SP_GW_IMAGE_JPEG_SEGMENTS_MAX; segments++) {
        if (at + 4 > len || b[at] != 0xff) return false;
        uint8_t marker = b[at + 1];
        if (marker == 0xff) { /* fill byte */
            at++;
            continue;
        }
        if (marker == 0xd9 || marker == 0xda) return false; /* no frame before the scan */
        size_t segment_len = be16(b + at + 2);
        if (segment_len < 2 || at + 2 + segment_len > len) return false;
        if (jpeg_frame_marker(marker)) {
            if (segment_len < 7) return false;
            out->height_px = be16(b + at + 5);
            out->width_px = be16(b + at + 7);
            return true;
        }
        at += 2 + segment_len;
    }
    return false;
}

static bool declared(const char *header, const char *type) {
    assert(header != NULL);
    assert(type != NULL);
    size_t n = strlen(type);
    if (strncmp(header, type, n) != 0) return false;
    return header[n] == '\0' || header[n] == ';' || header[n] == ' ';
}

int sp_gw_image_check(const uint8_t *bytes, size_t len, const char *declared_type, size_t bytes_max,
                      sp_gw_image_info *out, sp_error *err) {
    assert(out != NULL);
    assert(bytes != NULL || len == 0);
    memset(out, 0, sizeof *out);
    bool png = declared_type != NULL && declared(declared_type, "image/png");
    bool jpeg = declared_type != NULL && declared(declared_type, "image/jpeg");
    if (!png && !jpeg)
        return sp_error_set(err, 415, "unsupported_media_type", "Content-Type",
                            "send the image as image/png or image/jpeg");
    if (len > bytes_max)
        return sp_error_set(err, 413, "image_too_large", "", "the image is larger than %zu bytes",
                            bytes_max);
    bool recognised = len >= SP_GW_IMAGE_BYTES_MIN &&
                      (png ? png_dimensions(bytes, len, out) : jpeg_dimensions(bytes, len, out));
    if (!recognised)
        return sp_error_set(err, 400, "invalid_image", "", "the body is not a complete %s image",
                            png ? "PNG" : "JPEG");
    if (out->width_px == 0 || out->height_px == 0 || out->width_px > SP_GW_IMAGE_SIDE_PX_MAX ||
        out->height_px > SP_GW_IMAGE_SIDE_PX_MAX)
        return sp_error_set(err, 400, "invalid_image", "",
                            "the image must be 1 to %d pixels a side", SP_GW_IMAGE_SIDE_PX_MAX);
    out->content_type = png ? "image/png" : "image/jpeg";
    return 0;
}
