/* structure.h - the pure checks of the partner structure and users
 * endpoints: the profile body (PUT /api/v1/partner/structure), the user
 * bodies (POST /api/v1/partner/users, PATCH .../users/{id}) and uploaded
 * images, recognised by their content (PNG or JPEG header, dimensions, end
 * marker), never by the name or header the client gives. No I/O.
 * Memory: every request struct is filled by value into the caller's. */
#ifndef SP_GW_STRUCTURE_H
#define SP_GW_STRUCTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sp_error.h"
#include "sp_profile.h"
#include "validate.h"

#define SP_GW_IMAGE_BYTES_MAX_DEFAULT (1024 * 1024) /* SP_IMAGE_BYTES_MAX */
#define SP_GW_IMAGE_BYTES_MIN 24                    /* smaller cannot hold a header */
#define SP_GW_IMAGE_SIDE_PX_MAX 8000
#define SP_GW_IMAGE_JPEG_SEGMENTS_MAX 256 /* markers walked to find the frame */

typedef struct sp_gw_profile_req {
    char legal_name[SP_GW_TEXT_BYTES(SP_PROFILE_NAME_CHARS_MAX)];
    char public_name[SP_GW_TEXT_BYTES(SP_PROFILE_NAME_CHARS_MAX)];
    char description[SP_GW_TEXT_BYTES(SP_PROFILE_DESCRIPTION_CHARS_MAX)];
    char website[SP_PROFILE_URL_MAX + 1];
    char social_links[SP_PROFILE_SOCIAL_LINKS_MAX][SP_PROFILE_URL_MAX + 1];
    size_t social_link_count;
    char hq_address[SP_GW_TEXT_BYTES(SP_PROFILE_ADDRESS_CHARS_MAX)];
    char activity_address[SP_GW_TEXT_BYTES(SP_PROFILE_ADDRESS_CHARS_MAX)];
    char contact_phone[SP_PROFILE_PHONE_MAX + 1];
    char contact_email[SP_GW_EMAIL_LEN_MAX + 1]; /* lower-cased, "" when none */
    char iban[SP_PROFILE_IBAN_MAX + 1];          /* upper case without spaces, "" when none */
    char bic[SP_PROFILE_BIC_MAX + 1];            /* upper case, "" when none */
    char bank_holder[SP_GW_TEXT_BYTES(SP_PROFILE_NAME_CHARS_MAX)];
} sp_gw_profile_req;

/* The whole profile: legal_name and public_name required, every other
 * member optional ("" or absent: none). 400 malformed_json | unknown_field |
 * missing_field | invalid_type | invalid_value | invalid_email | invalid_url
 * | invalid_phone, 422 invalid_iban (format or mod-97 checksum) |
 * invalid_bic; bank_holder is required with an iban. */
int sp_gw_parse_profile(const char *body, size_t len, sp_gw_profile_req *out, sp_error *err);

typedef struct sp_gw_user_add_req {
    char email[SP_GW_EMAIL_LEN_MAX + 1]; /* lower-cased */
    char full_name[SP_GW_TEXT_BYTES(SP_GW_NAME_LEN_MAX)];
    char role[16]; /* "partner_admin" | "partner_user", or a staff role */
} sp_gw_user_add_req;

/* {email, full_name, role?} (role defaults to partner_user). */
int sp_gw_parse_user_add(const char *body, size_t len, sp_gw_user_add_req *out, sp_error *err);
/* {role}: "partner_admin" | "partner_user" into role (16 bytes). */
int sp_gw_parse_user_role(const char *body, size_t len, char *role, sp_error *err);
/* The same for the city's staff users: {email, full_name, role} with role
 * required, and {role}; role "backoffice" | "finance". */
int sp_gw_parse_staff_add(const char *body, size_t len, sp_gw_user_add_req *out, sp_error *err);
int sp_gw_parse_staff_role(const char *body, size_t len, char *role, sp_error *err);

typedef struct sp_gw_image_info {
    const char *content_type; /* "image/png" | "image/jpeg" (static) */
    uint32_t width_px;
    uint32_t height_px;
} sp_gw_image_info;

/* Recognises a PNG (signature, IHDR first, IEND last) or a baseline or
 * progressive JPEG (SOI, a frame header, EOI) of 1..8000 pixels a side.
 * declared_type is the request's Content-Type (parameters after ';'
 * ignored): 415 unsupported_media_type unless image/png or image/jpeg; 413
 * image_too_large over bytes_max; 400 invalid_image when the bytes are not
 * an image of the declared type. */
int sp_gw_image_check(const uint8_t *bytes, size_t len, const char *declared_type, size_t bytes_max,
                      sp_gw_image_info *out, sp_error *err);

#endif
