/* endpoints.c - the endpoint table (see endpoints.h) and the routing that
 * reads it. The table is indexed by route id with designated initialisers:
 * a route named twice does not compile (-Woverride-init), a route missing
 * does not compile (the entries are counted against SP_GW_ROUTE_COUNT), and
 * a handler is taken by address, so an entry cannot leave it NULL. */
#include "endpoints.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include "auth.h"

/* Each entry starts with ENTRY(route, handler): it counts the entry (see the
 * _Static_assert after the table) and takes the handler's address. */
enum { ENTRY_COUNTER_FIRST = __COUNTER__ };
#define ENTRY(route_id, handler_fn) \
    .route = (sp_gw_route)((route_id) + 0 * __COUNTER__), .handler = &(handler_fn)

#define JSON(status_code, schema_name, text) \
    { status_code, SP_GW_MEDIA_JSON, schema_name, text }
#define NO_CONTENT(text) \
    { 204, SP_GW_MEDIA_NONE, NULL, text }
#define OF(status_code, media, text) \
    { status_code, media, NULL, text }

/* Roles of the partner space, and of finance staff. */
#define PARTNERS SP_GW_ROLES_PARTNER
#define ADMIN SP_GW_ROLE_PARTNER_ADMIN
#define BACKOFFICE SP_GW_ROLE_BACKOFFICE
#define BENEFICIARY SP_GW_ROLE_BENEFICIARY
#define FINANCE SP_GW_ROLES_FINANCE

/* Query parameters of the operations listing and of the refund requests. */
#define OPERATION_FILTERS \
    "limit cursor from to status channel amount_min_cents amount_max_cents reference q"
#define OPERATION_SELECTION_ERRORS \
    "404:operation_not_found 409:operation_cancelled,operation_in_refund_request,operation_paid"

/* The table is laid out by hand: one endpoint a block, its fields grouped
 * by what they say (route, who, body, answers, errors). */
/* clang-format off */
static const sp_gw_endpoint endpoint_table[SP_GW_ROUTE_COUNT] = {
    /* ---------------------------------------------------------- sessions */
    [SP_GW_ROUTE_LOGIN] = {ENTRY(SP_GW_ROUTE_LOGIN, sp_gw_route_login),
        .method = "POST", .path = "/api/v1/auth/login", .name = "login",
        .summary = "Opens a session: a bearer token, or the sp_session cookie",
        .body_media = SP_GW_MEDIA_JSON, .body_schema = "LoginRequest", .body_required = true,
        .answers = {JSON(200, "Session", "the session (no token in the body with session cookie)")},
        .errors = "400:invalid_email 401:invalid_credentials "
                  "403:bad_origin 429:too_many_attempts 503:timeout"},
    [SP_GW_ROUTE_LOGOUT] = {ENTRY(SP_GW_ROUTE_LOGOUT, sp_gw_route_logout),
        .method = "POST", .path = "/api/v1/auth/logout", .name = "logout",
        .session = true, .roles = SP_GW_ROLES_ANY,
        .summary = "Ends the session used (and clears the cookie)",
        .answers = {NO_CONTENT("the session is ended")}},
    [SP_GW_ROUTE_ACTIVATE] = {ENTRY(SP_GW_ROUTE_ACTIVATE, sp_gw_route_activate),
        .method = "POST", .path = "/api/v1/auth/activate", .name = "activate",
        .summary = "Sets the first password of a new account from its activation link",
        .body_media = SP_GW_MEDIA_JSON, .body_schema = "PasswordSet", .body_required = true,
        .answers = {JSON(200, "PasswordSetAnswer", "the password is set")},
        .errors = "400:missing_field,invalid_type,invalid_value,invalid_token "
                  "410:token_used,token_expired 503:timeout"},
    [SP_GW_ROUTE_RESET_REQUEST] = {ENTRY(SP_GW_ROUTE_RESET_REQUEST, sp_gw_route_reset_request),
        .method = "POST", .path = "/api/v1/auth/password-reset", .name = "password_reset",
        .summary = "Mails a password-reset link when an account has this e-mail (never tells)",
        .body_media = SP_GW_MEDIA_JSON, .body_schema = "PasswordResetRequest",
        .body_required = true,
        .answers = {JSON(202, "Accepted", "always, for a well-formed e-mail")},
        .errors = "400:missing_field,invalid_type,invalid_email 429:too_many_attempts "
                  "503:timeout"},
    [SP_GW_ROUTE_RESET_CONFIRM] = {ENTRY(SP_GW_ROUTE_RESET_CONFIRM, sp_gw_route_reset_confirm),
        .method = "POST", .path = "/api/v1/auth/password-reset/confirm",
        .name = "password_reset_confirm",
        .summary = "Sets a new password from a password-reset link",
        .body_media = SP_GW_MEDIA_JSON, .body_schema = "PasswordSet", .body_required = true,
        .answers = {JSON(200, "PasswordSetAnswer", "the password is set")},
        .errors = "400:missing_field,invalid_type,invalid_value,invalid_token "
                  "410:token_used,token_expired 503:timeout"},
    [SP_GW_ROUTE_ME] = {ENTRY(SP_GW_ROUTE_ME, sp_gw_route_me),
        .method = "GET", .path = "/api/v1/me", .name = "me",
        .session = true, .roles = SP_GW_ROLES_ANY,
        .summary = "The session's user",
        .answers = {JSON(200, "User", "the user")}},
    /* ---------------------------------------------------------- the beneficiary's pass */
    [SP_GW_ROUTE_PASS_GET] = {ENTRY(SP_GW_ROUTE_PASS_GET, sp_gw_route_pass_get),
        .method = "GET", .path = "/api/v1/pass", .name = "pass_get",
        .session = true, .roles = BENEFICIARY,
        .summary = "The session's pass: balance and envelopes",
        .answers = {JSON(200, "Pass", "the pass")},
        .errors = "404:pass_not_found"},
    [SP_GW_ROUTE_PASS_PAY] = {ENTRY(SP_GW_ROUTE_PASS_PAY, sp_gw_route_pass_pay),
        .method = "POST", .path = "/api/v1/pass/payments", .name = "pass_pay",
        .session = true, .roles = BENEFICIARY,
        .summary = "Pays a partner from the session's pass",
        .body_media = SP_GW_MEDIA_JSON, .body_schema = "PaymentRequest", .body_required = true,
        .key = SP_GW_KEY_REQUIRED,
        .answers = {JSON(201, "Payment", "the payment, accepted")},
        .errors = "400:missing_field,invalid_type 404:partner_not_found,pass_not_found "
                  "409:pass_closed "
                  "422:invalid_amount,invalid_partner_code,insufficient_funds,"
                  "no_envelope_for_category,envelope_expired,convention_not_accepted "
                  "503:timeout"},
    [SP_GW_ROUTE_PASS_OPERATIONS] = {ENTRY(SP_GW_ROUTE_PASS_OPERATIONS,
                                           sp_gw_route_pass_operations),
        .method = "GET", .path = "/api/v1/pass/operations", .name = "pass_operations",
        .session = true, .roles = BENEFICIARY,
        .summary = "The session's pass's operations, newest first, paged",
        .query = "limit cursor",
        .answers = {JSON(200, "PassOperationsPage", "one page")},
        .errors = "400:invalid_value,unknown_field 404:pass_not_found"},
    /* ---------------------------------------------------------- the back-office */
    [SP_GW_ROUTE_PARTNERS_CREATE] = {ENTRY(SP_GW_ROUTE_PARTNERS_CREATE,
                                           sp_gw_route_partners_create),
        .method = "POST", .path = "/api/v1/partners", .name = "partners_create",
        .session = true, .roles = BACKOFFICE,
        .summary = "Onboards a partner and its first administrator",
        .body_media = SP_GW_MEDIA_JSON, .body_schema = "PartnerCreateRequest",
        .body_required = true, .key = SP_GW_KEY_REQUIRED,
        .answers = {JSON(201, "PartnerCreated", "the partner")},
        .errors = "400:missing_field,invalid_type,invalid_value,invalid_email "
                  "409:email_taken 422:invalid_category 503:timeout"},
    [SP_GW_ROUTE_PARTNERS_LIST] = {ENTRY(SP_GW_ROUTE_PARTNERS_LIST, sp_gw_route_partners_list),
        .method = "GET", .path = "/api/v1/partners", .name = "partners_list",
        .session = true, .roles = BACKOFFICE,
        .summary = "The partners by name, with their states, searched, filtered and paged",
        .query = "partner_q partner_state partners_limit cursor",
        .answers = {JSON(200, "PartnerList", "one page of partners")},
        .errors = "400:invalid_value,unknown_field"},
    [SP_GW_ROUTE_BENEFICIARIES_CREATE] = {ENTRY(SP_GW_ROUTE_BENEFICIARIES_CREATE,
                                                sp_gw_route_beneficiaries_create),
        .method = "POST", .path = "/api/v1/beneficiaries", .name = "beneficiaries_create",
        .session = true, .roles = BACKOFFICE,
        .summary = "Enrols a beneficiary: a user account and its pass",
        .body_media = SP_GW_MEDIA_JSON, .body_schema = "BeneficiaryCreateRequest",
        .body_required = true, .key = SP_GW_KEY_REQUIRED,
        .answers = {JSON(201, "BeneficiaryCreated", "the user and its pass")},
        .errors = "400:missing_field,invalid_type,invalid_value,invalid_email "
                  "409:email_taken,conflict 422:invalid_category,invalid_date 503:timeout"},
    [SP_GW_ROUTE_PASSES_GET] = {ENTRY(SP_GW_ROUTE_PASSES_GET, sp_gw_route_passes_get),
        .method = "GET", .path = "/api/v1/passes/{pass_id}", .name = "passes_get",
        .session = true, .roles = BACKOFFICE,
        .summary = "Any pass, for the back-office",
        .answers = {JSON(200, "Pass", "the pass")},
        .id_not_found_code = "pass_not_found", .id_not_found_message = "no pass has this id"},
    [SP_GW_ROUTE_PASSES_CREDIT] = {ENTRY(SP_GW_ROUTE_PASSES_CREDIT, sp_gw_route_passes_credit),
        .method = "POST", .path = "/api/v1/passes/{pass_id}/credits", .name = "passes_credit",
        .session = true, .roles = BACKOFFICE,
        .summary = "Credits one envelope of a pass from the budget, opening it when the pass "
                   "has none of that category, and sets or extends its end date",
        .body_media = SP_GW_MEDIA_JSON, .body_schema = "CreditRequest", .body_required = true,
        .key = SP_GW_KEY_REQUIRED,
        .answers = {JSON(201, "Credit", "the credit, accepted")},
        .id_not_found_code = "pass_not_found", .id_not_found_message = "no pass has this id",
        .errors = "400:missing_field,invalid_type 409:pass_closed "
                  "422:invalid_amount,invalid_category,invalid_date,end_date_earlier,"
                  "too_many_envelopes,envelope_expired 503:timeout"},
    /* ---------------------------------------------------------- closing a pass */
    [SP_GW_ROUTE_PASSES_CLOSE] = {ENTRY(SP_GW_ROUTE_PASSES_CLOSE, sp_gw_route_passes_close),
        .method = "POST", .path = "/api/v1/passes/{pass_id}/close", .name = "passes_close",
        .session = true, .roles = BACKOFFICE,
        .summary = "Closes a pass (its beneficiary left): its envelopes and open vouchers go "
                   "back to the budget, it can no longer pay",
        .body_media = SP_GW_MEDIA_JSON, .body_schema = "PassCloseRequest",
        .key = SP_GW_KEY_REQUIRED,
        .answers = {JSON(200, "PassClosed", "the pass, closed")},
        .id_not_found_code = "pass_not_found", .id_not_found_message = "no pass has this id",
        .errors = "400:invalid_type,invalid_value,unknown_field "
                  "409:pass_closed,too_many_vouchers 503:timeout"},
    /* ---------------------------------------------------------- the partner space */
    [SP_GW_ROUTE_PARTNER_GET] = {ENTRY(SP_GW_ROUTE_PARTNER_GET, sp_gw_route_partner_get),
        .method = "GET", .path = "/api/v1/partner", .name = "partner_get",
        .session = true, .roles = PARTNERS,
        .summary = "The session's partner",
        .answers = {JSON(200, "Partner", "the partner")},
        .errors = "404:partner_not_found"},
    [SP_GW_ROUTE_PARTNER_OPERATIONS] = {ENTRY(SP_GW_ROUTE_PARTNER_OPERATIONS,
                                              sp_gw_route_partner_operations),
        .method = "GET", .path = "/api/v1/partner/operations", .name = "partner_operations",
        .session = true, .roles = PARTNERS,
        .summary = "The payments at the session's partner, filtered, newest first, with totals",
        .query = OPERATION_FILTERS,
        .answers = {JSON(200, "PartnerOperationsPage", "one page and the totals of the filter")},
        .errors = "400:invalid_value,unknown_field"},
    [SP_GW_ROUTE_PARTNER_OPERATION_REFERENCE] = {
        ENTRY(SP_GW_ROUTE_PARTNER_OPERATION_REFERENCE, sp_gw_route_partner_operation_reference),
        .method = "PUT", .path = "/api/v1/partner/operations/{operation_id}/reference",
        .name = "partner_operation_reference",
        .session = true, .roles = PARTNERS,
        .summary = "Sets the partner's internal reference of one of its payments",
        .body_media = SP_GW_MEDIA_JSON, .body_schema = "ReferenceRequest", .body_required = true,
        .key = SP_GW_KEY_OPTIONAL,
        .answers = {JSON(200, "ReferenceSet", "the reference set")},
        .id_not_found_code = "operation_not_found",
        .id_not_found_message = "no operation has this id",
        .errors = "400:missing_field,invalid_type,invalid_value 409:operation_cancelled "
                  "503:timeout"},
    [SP_GW_ROUTE_PARTNER_OPERATION_CANCEL] = {
        ENTRY(SP_GW_ROUTE_PARTNER_OPERATION_CANCEL, sp_gw_route_partner_operation_cancel),
        .method = "POST", .path = "/api/v1/partner/operations/{operation_id}/cancel",
        .name = "partner_operation_cancel",
        .session = true, .roles = PARTNERS,
        .summary = "Cancels one of the partner's payments: the amount goes back to the pass",
        .body_media = SP_GW_MEDIA_JSON, .body_schema = "EmptyRequest",
        .key = SP_GW_KEY_REQUIRED,
        .answers = {JSON(200, "CancelledPayment", "the payment, cancelled")},
        .id_not_found_code = "operation_not_found",
        .id_not_found_message = "no operation has this id",
        .errors = "409:operation_cancelled,operation_in_refund_request,operation_paid "
                  "503:timeout"},
    [SP_GW_ROUTE_PARTNER_OPERATIONS_STREAM] = {
        ENTRY(SP_GW_ROUTE_PARTNER_OPERATIONS_STREAM, sp_gw_route_partner_operations_stream),
        .method = "GET", .path = "/api/v1/partner/operations/stream",
        .name = "partner_operations_stream",
        .session = true, .roles = PARTNERS,
        .summary = "The partner's new payments, live, as Server-Sent Events",
        .query = "Last-Event-ID",
        .answers = {OF(200, SP_GW_MEDIA_EVENTS,
                       "events `operation` whose data is a PartnerOperation (JSON), id "
                       "`<ms>|<operation_id>`; comments `: keep-alive`")},
        .errors = "400:invalid_value,unknown_field 429:too_many_streams"},
    [SP_GW_ROUTE_PARTNER_VOUCHERS_REDEEM] = {
        ENTRY(SP_GW_ROUTE_PARTNER_VOUCHERS_REDEEM, sp_gw_route_partner_vouchers_redeem),
        .method = "POST", .path = "/api/v1/partner/vouchers/redeem",
        .name = "partner_vouchers_redeem",
        .session = true, .roles = PARTNERS,
        .summary = "Redeems an exchange voucher for the partner: it becomes a payment",
        .body_media = SP_GW_MEDIA_JSON, .body_schema = "RedeemRequest", .body_required = true,
        .key = SP_GW_KEY_REQUIRED,
        .answers = {JSON(201, "RedeemedPayment", "the payment it becomes")},
        .errors = "400:missing_field,invalid_type,invalid_value "
                  "404:voucher_not_found,partner_not_found "
                  "409:voucher_used,voucher_cancelled,voucher_expired,pass_closed "
                  "422:invalid_voucher_number,voucher_restricted,convention_not_accepted "
                  "429:too_many_attempts 503:timeout"},
    [SP_GW_ROUTE_PARTNER_QR_PNG] = {ENTRY(SP_GW_ROUTE_PARTNER_QR_PNG, sp_gw_route_partner_qr_png),
        .method = "GET", .path = "/api/v1/partner/qr.png", .name = "partner_qr_png",
        .session = true, .roles = PARTNERS,
        .summary = "The QR code of the partner's payment page (PNG)",
        .answers = {OF(200, SP_GW_MEDIA_PNG, "the QR code")},
        .errors = "400:unknown_field 404:partner_not_found"},
    [SP_GW_ROUTE_PARTNER_QR_SVG] = {ENTRY(SP_GW_ROUTE_PARTNER_QR_SVG, sp_gw_route_partner_qr_svg),
        .method = "GET", .path = "/api/v1/partner/qr.svg", .name = "partner_qr_svg",
        .session = true, .roles = PARTNERS,
        .summary = "The QR code of the partner's payment page (SVG)",
        .answers = {OF(200, SP_GW_MEDIA_SVG, "the QR code")},
        .errors = "400:unknown_field 404:partner_not_found"},
    [SP_GW_ROUTE_PARTNER_POSTER] = {ENTRY(SP_GW_ROUTE_PARTNER_POSTER, sp_gw_route_partner_poster),
        .method = "GET", .path = "/api/v1/partner/poster", .name = "partner_poster",
        .session = true, .roles = PARTNERS,
        .summary = "The printable A4 poster of the partner (HTML, French)",
        .answers = {OF(200, SP_GW_MEDIA_HTML, "the poster")},
        .errors = "400:unknown_field 404:partner_not_found"},
    [SP_GW_ROUTE_PARTNER_CONTACT] = {ENTRY(SP_GW_ROUTE_PARTNER_CONTACT, sp_gw_route_contact),
        .method = "GET", .path = "/api/v1/partner/contact", .name = "partner_contact",
        .session = true, .roles = PARTNERS,
        .summary = "The service's contact block",
        .answers = {JSON(200, "Contact", "the contact block")},
        .errors = "400:unknown_field"},
    [SP_GW_ROUTE_CONTACT] = {ENTRY(SP_GW_ROUTE_CONTACT, sp_gw_route_contact),
        .method = "GET", .path = "/api/v1/contact", .name = "contact",
        .summary = "The service's contact block, without a session",
        .answers = {JSON(200, "Contact", "the contact block")},
        .errors = "400:unknown_field"},
    /* ---------------------------------------------------------- conventions */
    [SP_GW_ROUTE_CONVENTIONS_PUBLISH] = {ENTRY(SP_GW_ROUTE_CONVENTIONS_PUBLISH,
                                               sp_gw_route_conventions_publish),
        .method = "POST", .path = "/api/v1/conventions", .name = "conventions_publish",
        .session = true, .roles = BACKOFFICE,
        .summary = "Publishes a convention",
        .body_media = SP_GW_MEDIA_JSON, .body_schema = "ConventionPublishRequest",
        .body_required = true, .key = SP_GW_KEY_REQUIRED,
        .answers = {JSON(201, "ConventionPublished", "the convention")},
        .errors = "400:missing_field,invalid_type,invalid_value 422:invalid_date 503:timeout"},
    [SP_GW_ROUTE_CONVENTIONS_LIST] = {ENTRY(SP_GW_ROUTE_CONVENTIONS_LIST,
                                            sp_gw_route_conventions_list),
        .method = "GET", .path = "/api/v1/conventions", .name = "conventions_list",
        .session = true, .roles = BACKOFFICE,
        .summary = "Every convention published, newest first",
        .answers = {JSON(200, "ConventionList", "the conventions")},
        .errors = "400:unknown_field"},
    [SP_GW_ROUTE_PARTNER_CONVENTIONS] = {ENTRY(SP_GW_ROUTE_PARTNER_CONVENTIONS,
                                               sp_gw_route_partner_conventions),
        .method = "GET", .path = "/api/v1/partner/conventions", .name = "partner_conventions",
        .session = true, .roles = PARTNERS,
        .summary = "The conventions the partner accepted and those waiting",
        .answers = {JSON(200, "PartnerConventions", "accepted and waiting, newest first")},
        .errors = "400:unknown_field"},
    [SP_GW_ROUTE_PARTNER_CONVENTION_ACCEPT] = {
        ENTRY(SP_GW_ROUTE_PARTNER_CONVENTION_ACCEPT, sp_gw_route_partner_convention_accept),
        .method = "POST", .path = "/api/v1/partner/conventions/{convention_id}/accept",
        .name = "partner_convention_accept",
        .session = true, .roles = ADMIN,
        .summary = "Accepts a convention for the partner",
        .body_media = SP_GW_MEDIA_JSON, .body_schema = "EmptyRequest",
        .key = SP_GW_KEY_REQUIRED,
        .answers = {JSON(201, "ConventionAccepted", "the acceptance")},
        .id_not_found_code = "convention_not_found",
        .id_not_found_message = "no convention has this id",
        .errors = "409:conflict 503:timeout"},
    /* ---------------------------------------------------------- the structure */
    [SP_GW_ROUTE_STRUCTURE_GET] = {ENTRY(SP_GW_ROUTE_STRUCTURE_GET, sp_gw_route_structure_get),
        .method = "GET", .path = "/api/v1/partner/structure", .name = "structure_get",
        .session = true, .roles = PARTNERS,
        .summary = "The partner's structure: profile, bank account, images",
        .answers = {JSON(200, "Structure", "the structure")},
        .errors = "400:unknown_field 404:partner_not_found"},
    [SP_GW_ROUTE_STRUCTURE_PUT] = {ENTRY(SP_GW_ROUTE_STRUCTURE_PUT, sp_gw_route_structure_put),
        .method = "PUT", .path = "/api/v1/partner/structure", .name = "structure_put",
        .session = true, .roles = ADMIN,
        .summary = "Replaces the partner's profile",
        .body_media = SP_GW_MEDIA_JSON, .body_schema = "StructureUpdate", .body_required = true,
        .key = SP_GW_KEY_OPTIONAL,
        .answers = {JSON(200, "Structure", "the structure")},
        .errors = "400:missing_field,invalid_type,invalid_value,invalid_url,invalid_phone,"
                  "invalid_email 404:partner_not_found 422:invalid_iban,invalid_bic "
                  "503:timeout"},
    [SP_GW_ROUTE_STRUCTURE_LOGO] = {ENTRY(SP_GW_ROUTE_STRUCTURE_LOGO, sp_gw_route_structure_logo),
        .method = "PUT", .path = "/api/v1/partner/structure/logo", .name = "structure_logo",
        .session = true, .roles = ADMIN,
        .summary = "Sets the partner's logo (the body is the PNG or JPEG image)",
        .body_media = SP_GW_MEDIA_IMAGE, .body_required = true, .key = SP_GW_KEY_OPTIONAL,
        .answers = {JSON(200, "ImageSet", "the image stored")},
        .errors = "400:invalid_image 404:partner_not_found 413:image_too_large "
                  "415:unsupported_media_type 503:timeout"},
    [SP_GW_ROUTE_STRUCTURE_COVER] = {ENTRY(SP_GW_ROUTE_STRUCTURE_COVER,
                                           sp_gw_route_structure_cover),
        .method = "PUT", .path = "/api/v1/partner/structure/cover", .name = "structure_cover",
        .session = true, .roles = ADMIN,
        .summary = "Sets the partner's cover image (the body is the PNG or JPEG image)",
        .body_media = SP_GW_MEDIA_IMAGE, .body_required = true, .key = SP_GW_KEY_OPTIONAL,
        .answers = {JSON(200, "ImageSet", "the image stored")},
        .errors = "400:invalid_image 404:partner_not_found 413:image_too_large "
                  "415:unsupported_media_type 503:timeout"},
    [SP_GW_ROUTE_MEDIA_GET] = {ENTRY(SP_GW_ROUTE_MEDIA_GET, sp_gw_route_media_get),
        .method = "GET", .path = "/api/v1/media/{sha256}", .name = "media_get",
        .summary = "An uploaded image, named by the SHA-256 of its bytes (cacheable for ever)",
        .answers = {OF(200, SP_GW_MEDIA_IMAGE, "the image")},
        .id_not_found_code = "not_found", .id_not_found_message = "no image has this SHA-256"},
    [SP_GW_ROUTE_DIRECTORY_PARTNERS] = {ENTRY(SP_GW_ROUTE_DIRECTORY_PARTNERS,
                                              sp_gw_route_directory_partners),
        .method = "GET", .path = "/api/v1/directory/partners", .name = "directory_partners",
        .summary = "The partners' public information, for the beneficiary app",
        .answers = {JSON(200, "Directory", "the partners, by name")},
        .errors = "400:unknown_field"},
    [SP_GW_ROUTE_DIRECTORY_PARTNER] = {ENTRY(SP_GW_ROUTE_DIRECTORY_PARTNER,
                                             sp_gw_route_directory_partner),
        .method = "GET", .path = "/api/v1/directory/partners/{partner_code}",
        .name = "directory_partner",
        .summary = "One partner's public information by its code (whom the beneficiary pays)",
        .answers = {JSON(200, "DirectoryPartner", "the partner")},
        .errors = "400:unknown_field 404:partner_not_found 422:invalid_partner_code",
        .id_not_found_code = "partner_not_found",
        .id_not_found_message = "no partner has this code"},
    /* ---------------------------------------------------------- the partner's users */
    [SP_GW_ROUTE_PARTNER_USERS_LIST] = {ENTRY(SP_GW_ROUTE_PARTNER_USERS_LIST,
                                              sp_gw_route_partner_users_list),
        .method = "GET", .path = "/api/v1/partner/users", .name = "partner_users_list",
        .session = true, .roles = ADMIN,
        .summary = "The users of the session's partner, oldest first",
        .answers = {JSON(200, "PartnerUserList", "the users")},
        .errors = "400:unknown_field"},
    [SP_GW_ROUTE_PARTNER_USERS_ADD] = {ENTRY(SP_GW_ROUTE_PARTNER_USERS_ADD,
                                             sp_gw_route_partner_users_add),
        .method = "POST", .path = "/api/v1/partner/users", .name = "partner_users_add",
        .session = true, .roles = ADMIN,
        .summary = "Adds a user to the partner (an activation e-mail is sent)",
        .body_media = SP_GW_MEDIA_JSON, .body_schema = "PartnerUserAdd", .body_required = true,
        .key = SP_GW_KEY_REQUIRED,
        .answers = {JSON(201, "PartnerUser", "the user")},
        .errors = "400:missing_field,invalid_type,invalid_value,invalid_email 409:email_taken "
                  "503:timeout"},
    [SP_GW_ROUTE_PARTNER_USERS_PATCH] = {ENTRY(SP_GW_ROUTE_PARTNER_USERS_PATCH,
                                               sp_gw_route_partner_users_patch),
        .method = "PATCH", .path = "/api/v1/partner/users/{user_id}",
        .name = "partner_users_patch",
        .session = true, .roles = ADMIN,
        .summary = "Changes a user's role",
        .body_media = SP_GW_MEDIA_JSON, .body_schema = "PartnerUserPatch", .body_required = true,
        .key = SP_GW_KEY_OPTIONAL,
        .answers = {JSON(200, "PartnerUser", "the user with its new role")},
        .id_not_found_code = "user_not_found", .id_not_found_message = "no user has this id",
        .errors = "400:missing_field,invalid_type,invalid_value 409:last_admin 503:timeout"},
    [SP_GW_ROUTE_PARTNER_USERS_DELETE] = {ENTRY(SP_GW_ROUTE_PARTNER_USERS_DELETE,
                                                sp_gw_route_partner_users_delete),
        .method = "DELETE", .path = "/api/v1/partner/users/{user_id}",
        .name = "partner_users_delete",
        .session = true, .roles = ADMIN,
        .summary = "Removes a user: its sessions end at once",
        .key = SP_GW_KEY_OPTIONAL,
        .answers = {NO_CONTENT("the user is removed")},
        .id_not_found_code = "user_not_found", .id_not_found_message = "no user has this id",
        .errors = "409:last_admin 503:timeout"},
    /* ---------------------------------------------------------- exchange vouchers */
    [SP_GW_ROUTE_PASS_VOUCHERS_ISSUE] = {ENTRY(SP_GW_ROUTE_PASS_VOUCHERS_ISSUE,
                                               sp_gw_route_pass_vouchers_issue),
        .method = "POST", .path = "/api/v1/pass/vouchers", .name = "pass_vouchers_issue",
        .session = true, .roles = BENEFICIARY,
        .summary = "Issues a voucher on the session's pass (its amount is reserved)",
        .body_media = SP_GW_MEDIA_JSON, .body_schema = "VoucherIssueRequest",
        .body_required = true, .key = SP_GW_KEY_REQUIRED,
        .answers = {JSON(201, "VoucherChange", "the voucher, active")},
        .errors = "400:missing_field,invalid_type 404:pass_not_found,partner_not_found "
                  "409:pass_closed "
                  "422:invalid_amount,insufficient_funds,no_envelope_for_category,"
                  "envelope_expired,invalid_category,invalid_partner_code 503:timeout"},
    [SP_GW_ROUTE_PASS_VOUCHERS_LIST] = {ENTRY(SP_GW_ROUTE_PASS_VOUCHERS_LIST,
                                              sp_gw_route_pass_vouchers_list),
        .method = "GET", .path = "/api/v1/pass/vouchers", .name = "pass_vouchers_list",
        .session = true, .roles = BENEFICIARY,
        .summary = "The session's pass's vouchers, newest first",
        .answers = {JSON(200, "VoucherList", "the vouchers")},
        .errors = "400:unknown_field 404:pass_not_found"},
    [SP_GW_ROUTE_PASSES_VOUCHERS_ISSUE] = {ENTRY(SP_GW_ROUTE_PASSES_VOUCHERS_ISSUE,
                                                 sp_gw_route_passes_vouchers_issue),
        .method = "POST", .path = "/api/v1/passes/{pass_id}/vouchers",
        .name = "passes_vouchers_issue",
        .session = true, .roles = BACKOFFICE,
        .summary = "Issues a voucher on a pass, at the desk",
        .body_media = SP_GW_MEDIA_JSON, .body_schema = "VoucherIssueRequest",
        .body_required = true, .key = SP_GW_KEY_REQUIRED,
        .answers = {JSON(201, "VoucherChange", "the voucher, active")},
        .id_not_found_code = "pass_not_found", .id_not_found_message = "no pass has this id",
        .errors = "400:missing_field,invalid_type 404:partner_not_found "
                  "409:pass_closed "
                  "422:invalid_amount,insufficient_funds,no_envelope_for_category,"
                  "envelope_expired,invalid_category,invalid_partner_code 503:timeout"},
    [SP_GW_ROUTE_PASSES_VOUCHERS_LIST] = {ENTRY(SP_GW_ROUTE_PASSES_VOUCHERS_LIST,
                                                sp_gw_route_passes_vouchers_list),
        .method = "GET", .path = "/api/v1/passes/{pass_id}/vouchers",
        .name = "passes_vouchers_list",
        .session = true, .roles = BACKOFFICE,
        .summary = "A pass's vouchers, newest first",
        .answers = {JSON(200, "VoucherList", "the vouchers")},
        .id_not_found_code = "pass_not_found", .id_not_found_message = "no pass has this id",
        .errors = "400:unknown_field"},
    [SP_GW_ROUTE_VOUCHER_GET] = {ENTRY(SP_GW_ROUTE_VOUCHER_GET, sp_gw_route_voucher_get),
        .method = "GET", .path = "/api/v1/vouchers/{voucher_id}", .name = "voucher_get",
        .session = true, .roles = BENEFICIARY | BACKOFFICE,
        .summary = "One voucher (a beneficiary's own only)",
        .answers = {JSON(200, "Voucher", "the voucher")},
        .id_not_found_code = "voucher_not_found",
        .id_not_found_message = "no voucher has this id"},
    [SP_GW_ROUTE_VOUCHER_PRINT] = {ENTRY(SP_GW_ROUTE_VOUCHER_PRINT, sp_gw_route_voucher_print),
        .method = "GET", .path = "/api/v1/vouchers/{voucher_id}/print", .name = "voucher_print",
        .session = true, .roles = BENEFICIARY | BACKOFFICE,
        .summary = "The printable voucher (HTML, French)",
        .query = "format",
        .answers = {OF(200, SP_GW_MEDIA_HTML, "the page")},
        .id_not_found_code = "voucher_not_found",
        .id_not_found_message = "no voucher has this id",
        .errors = "400:invalid_value,unknown_field"},
    [SP_GW_ROUTE_VOUCHER_QR_PNG] = {ENTRY(SP_GW_ROUTE_VOUCHER_QR_PNG, sp_gw_route_voucher_qr_png),
        .method = "GET", .path = "/api/v1/vouchers/{voucher_id}/qr.png", .name = "voucher_qr_png",
        .session = true, .roles = BENEFICIARY | BACKOFFICE,
        .summary = "The QR code of a voucher's number (PNG)",
        .answers = {OF(200, SP_GW_MEDIA_PNG, "the QR code")},
        .id_not_found_code = "voucher_not_found",
        .id_not_found_message = "no voucher has this id"},
    [SP_GW_ROUTE_VOUCHER_QR_SVG] = {ENTRY(SP_GW_ROUTE_VOUCHER_QR_SVG, sp_gw_route_voucher_qr_svg),
        .method = "GET", .path = "/api/v1/vouchers/{voucher_id}/qr.svg", .name = "voucher_qr_svg",
        .session = true, .roles = BENEFICIARY | BACKOFFICE,
        .summary = "The QR code of a voucher's number (SVG)",
        .answers = {OF(200, SP_GW_MEDIA_SVG, "the QR code")},
        .id_not_found_code = "voucher_not_found",
        .id_not_found_message = "no voucher has this id"},
    [SP_GW_ROUTE_VOUCHER_CANCEL] = {ENTRY(SP_GW_ROUTE_VOUCHER_CANCEL, sp_gw_route_voucher_cancel),
        .method = "POST", .path = "/api/v1/vouchers/{voucher_id}/cancel", .name = "voucher_cancel",
        .session = true, .roles = BENEFICIARY | BACKOFFICE,
        .summary = "Cancels an active voucher: its amount returns to its envelope",
        .body_media = SP_GW_MEDIA_JSON, .body_schema = "EmptyRequest",
        .key = SP_GW_KEY_REQUIRED,
        .answers = {JSON(201, "VoucherChange", "the voucher, cancelled")},
        .id_not_found_code = "voucher_not_found",
        .id_not_found_message = "no voucher has this id",
        .errors = "409:voucher_used,voucher_cancelled,voucher_expired 503:timeout"},
    /* ---------------------------------------------------------- exports */
    [SP_GW_ROUTE_PARTNER_EXPORTS_CREATE] = {ENTRY(SP_GW_ROUTE_PARTNER_EXPORTS_CREATE,
                                                  sp_gw_route_partner_exports_create),
        .method = "POST", .path = "/api/v1/partner/exports", .name = "partner_exports_create",
        .session = true, .roles = PARTNERS,
        .summary = "Asks for a CSV export of the operations or of the refund requests",
        .body_media = SP_GW_MEDIA_JSON, .body_schema = "ExportCreateRequest",
        .body_required = true, .key = SP_GW_KEY_OPTIONAL,
        .answers = {JSON(202, "Export", "the export, pending")},
        .errors = "400:missing_field,invalid_type,invalid_value 422:invalid_filter "
                  "429:too_many_exports 503:timeout"},
    [SP_GW_ROUTE_PARTNER_EXPORTS_LIST] = {ENTRY(SP_GW_ROUTE_PARTNER_EXPORTS_LIST,
                                                sp_gw_route_partner_exports_list),
        .method = "GET", .path = "/api/v1/partner/exports", .name = "partner_exports_list",
        .session = true, .roles = PARTNERS,
        .summary = "The partner's exports, newest first, paged",
        .query = "limit cursor",
        .answers = {JSON(200, "ExportsPage", "one page")},
        .errors = "400:invalid_value,unknown_field"},
    [SP_GW_ROUTE_PARTNER_EXPORT_DOWNLOAD] = {ENTRY(SP_GW_ROUTE_PARTNER_EXPORT_DOWNLOAD,
                                                   sp_gw_route_partner_export_download),
        .method = "GET", .path = "/api/v1/partner/exports/{export_id}/download",
        .name = "partner_export_download",
        .session = true, .roles = PARTNERS,
        .summary = "The export's file (CSV, an attachment)",
        .answers = {OF(200, SP_GW_MEDIA_CSV, "the file")},
        .id_not_found_code = "export_not_found",
        .id_not_found_message = "no export has this id",
        .errors = "409:export_pending,export_failed 410:export_deleted,export_expired"},
    [SP_GW_ROUTE_PARTNER_EXPORT_DELETE] = {ENTRY(SP_GW_ROUTE_PARTNER_EXPORT_DELETE,
                                                 sp_gw_route_partner_export_delete),
        .method = "DELETE", .path = "/api/v1/partner/exports/{export_id}",
        .name = "partner_export_delete",
        .session = true, .roles = PARTNERS,
        .summary = "Deletes an export and its file",
        .key = SP_GW_KEY_OPTIONAL,
        .answers = {NO_CONTENT("the export is deleted (again: the same)")},
        .id_not_found_code = "export_not_found",
        .id_not_found_message = "no export has this id",
        .errors = "410:export_expired 503:timeout"},
    /* ---------------------------------------------------------- refund requests */
    [SP_GW_ROUTE_PARTNER_REFUNDS_CREATE] = {ENTRY(SP_GW_ROUTE_PARTNER_REFUNDS_CREATE,
                                                  sp_gw_route_partner_refunds_create),
        .method = "POST", .path = "/api/v1/partner/refund-requests",
        .name = "partner_refunds_create",
        .session = true, .roles = ADMIN,
        .summary = "Asks the city to refund a selection of the partner's accepted payments",
        .body_media = SP_GW_MEDIA_JSON, .body_schema = "RefundCreateRequest",
        .body_required = true, .key = SP_GW_KEY_REQUIRED,
        .answers = {JSON(201, "RefundRequest", "the request, pending"),
                    JSON(202, "RefundRequest", "the request, still opening: follow it")},
        .errors = "400:missing_field,invalid_type,invalid_value " OPERATION_SELECTION_ERRORS
                  " 422:empty_selection,selection_too_large 503:timeout"},
    [SP_GW_ROUTE_PARTNER_REFUNDS_LIST] = {ENTRY(SP_GW_ROUTE_PARTNER_REFUNDS_LIST,
                                                sp_gw_route_partner_refunds_list),
        .method = "GET", .path = "/api/v1/partner/refund-requests",
        .name = "partner_refunds_list",
        .session = true, .roles = ADMIN,
        .summary = "The partner's refund requests, newest first, paged, with totals",
        .query = "refund_status limit cursor",
        .answers = {JSON(200, "RefundRequestsPage", "one page")},
        .errors = "400:invalid_value,unknown_field"},
    [SP_GW_ROUTE_PARTNER_REFUND_GET] = {ENTRY(SP_GW_ROUTE_PARTNER_REFUND_GET,
                                              sp_gw_route_partner_refund_get),
        .method = "GET", .path = "/api/v1/partner/refund-requests/{request_id}",
        .name = "partner_refund_get",
        .session = true, .roles = ADMIN,
        .summary = "One refund request with its operations",
        .answers = {JSON(200, "RefundRequest", "the request")},
        .id_not_found_code = "refund_request_not_found",
        .id_not_found_message = "no refund request has this id"},
    [SP_GW_ROUTE_PARTNER_REFUND_CANCEL] = {ENTRY(SP_GW_ROUTE_PARTNER_REFUND_CANCEL,
                                                 sp_gw_route_partner_refund_cancel),
        .method = "POST", .path = "/api/v1/partner/refund-requests/{request_id}/cancel",
        .name = "partner_refund_cancel",
        .session = true, .roles = ADMIN,
        .summary = "Cancels a pending refund request: its payments are accepted again",
        .body_media = SP_GW_MEDIA_JSON, .body_schema = "EmptyRequest",
        .key = SP_GW_KEY_REQUIRED,
        .answers = {JSON(200, "RefundRequest", "the request, cancelled"),
                    JSON(202, "RefundRequest", "the request, not yet shown cancelled")},
        .id_not_found_code = "refund_request_not_found",
        .id_not_found_message = "no refund request has this id",
        .errors = "409:refund_request_paid,refund_request_cancelled,refund_request_opening "
                  "503:timeout"},
    [SP_GW_ROUTE_FINANCE_REFUNDS_LIST] = {ENTRY(SP_GW_ROUTE_FINANCE_REFUNDS_LIST,
                                                sp_gw_route_finance_refunds_list),
        .method = "GET", .path = "/api/v1/finance/refund-requests",
        .name = "finance_refunds_list",
        .session = true, .roles = FINANCE,
        .summary = "Every partner's refund requests, newest first, paged, with totals",
        .query = "refund_status partner_id limit cursor",
        .answers = {JSON(200, "RefundRequestsPage", "one page")},
        .errors = "400:invalid_value,unknown_field"},
    [SP_GW_ROUTE_FINANCE_REFUND_GET] = {ENTRY(SP_GW_ROUTE_FINANCE_REFUND_GET,
                                              sp_gw_route_finance_refund_get),
        .method = "GET", .path = "/api/v1/finance/refund-requests/{request_id}",
        .name = "finance_refund_get",
        .session = true, .roles = FINANCE,
        .summary = "One refund request with its operations",
        .answers = {JSON(200, "RefundRequest", "the request")},
        .id_not_found_code = "refund_request_not_found",
        .id_not_found_message = "no refund request has this id"},
    [SP_GW_ROUTE_FINANCE_REFUND_PAID] = {ENTRY(SP_GW_ROUTE_FINANCE_REFUND_PAID,
                                               sp_gw_route_finance_refund_paid),
        .method = "POST", .path = "/api/v1/finance/refund-requests/{request_id}/paid",
        .name = "finance_refund_paid",
        .session = true, .roles = FINANCE,
        .summary = "Records the bank transfer of a pending refund request",
        .body_media = SP_GW_MEDIA_JSON, .body_schema = "RefundPaidRequest",
        .body_required = true, .key = SP_GW_KEY_REQUIRED,
        .answers = {JSON(200, "RefundRequest", "the request, paid"),
                    JSON(202, "RefundRequest", "the request, not yet shown paid")},
        .id_not_found_code = "refund_request_not_found",
        .id_not_found_message = "no refund request has this id",
        .errors = "400:missing_field,invalid_type,invalid_value "
                  "409:refund_request_paid,refund_request_cancelled,refund_request_opening "
                  "422:invalid_transfer_reference,invalid_date 503:timeout"},
    [SP_GW_ROUTE_FINANCE_SEPA] = {ENTRY(SP_GW_ROUTE_FINANCE_SEPA, sp_gw_route_finance_sepa),
        .method = "POST", .path = "/api/v1/finance/sepa", .name = "finance_sepa",
        .session = true, .roles = FINANCE,
        .summary = "The SEPA credit transfer file (pain.001.001.03) paying pending requests",
        .body_media = SP_GW_MEDIA_JSON, .body_schema = "SepaRequest", .body_required = true,
        .answers = {OF(200, SP_GW_MEDIA_XML, "the file, an attachment")},
        .errors = "400:missing_field,invalid_type,invalid_value 404:refund_request_not_found "
                  "409:refund_request_not_pending,bank_account_missing,invalid_iban,invalid_bic "
                  "422:invalid_amount,no_requests,too_many_requests,invalid_date"},
    /* ---------------------------------------------------------- operations */
    [SP_GW_ROUTE_HEALTHZ] = {ENTRY(SP_GW_ROUTE_HEALTHZ, sp_gw_route_healthz),
        .method = "GET", .path = "/healthz", .name = "healthz",
        .summary = "Whether PostgreSQL and Kafka answer",
        .answers = {JSON(200, "Health", "both answer")}},
    [SP_GW_ROUTE_OPENAPI] = {ENTRY(SP_GW_ROUTE_OPENAPI, sp_gw_route_openapi),
        .method = "GET", .path = "/api/v1/openapi.json", .name = "openapi",
        .summary = "This description (OpenAPI 3.1)",
        .answers = {OF(200, SP_GW_MEDIA_JSON, "the OpenAPI document")}},
    /* ---------------------------------------------------------- payment receipts */
    [SP_GW_ROUTE_RECEIPT_KEYS] = {ENTRY(SP_GW_ROUTE_RECEIPT_KEYS, sp_gw_route_receipt_keys),
        .method = "GET", .path = "/api/v1/receipts/keys", .name = "receipt_keys",
        .summary = "The public keys that verify payment receipts, the current one first",
        .answers = {JSON(200, "ReceiptKeys", "the keys")},
        .errors = "400:unknown_field"},
    [SP_GW_ROUTE_RECEIPT_VERIFY] = {ENTRY(SP_GW_ROUTE_RECEIPT_VERIFY,
                                          sp_gw_route_receipt_verify),
        .method = "POST", .path = "/api/v1/receipts/verify", .name = "receipt_verify",
        .summary = "Whether a payment receipt's signature holds, which payment it is and "
                   "what became of it (no session needed)",
        .body_media = SP_GW_MEDIA_JSON, .body_schema = "ReceiptVerifyRequest",
        .body_required = true,
        .answers = {JSON(200, "ReceiptVerification", "valid, or not with the reason")},
        .errors = "400:missing_field,invalid_type,invalid_value,unknown_field"},
    [SP_GW_ROUTE_RECEIPT_QR_SVG] = {ENTRY(SP_GW_ROUTE_RECEIPT_QR_SVG,
                                          sp_gw_route_receipt_qr_svg),
        .method = "GET", .path = "/api/v1/receipts/qr.svg", .name = "receipt_qr_svg",
        .summary = "The QR code of a valid receipt's text (SVG), given as r=<receipt>",
        .query = "r",
        .answers = {OF(200, SP_GW_MEDIA_SVG, "the QR code")},
        .errors = "400:missing_field,invalid_value,unknown_field 422:invalid_receipt"},
    /* ---------------------------------------------------------- staff users and activation resend */
    [SP_GW_ROUTE_STAFF_USERS_LIST] = {ENTRY(SP_GW_ROUTE_STAFF_USERS_LIST,
                                            sp_gw_route_staff_users_list),
        .method = "GET", .path = "/api/v1/staff-users", .name = "staff_users_list",
        .session = true, .roles = BACKOFFICE,
        .summary = "The back-office and finance users, disabled ones included, oldest first",
        .answers = {JSON(200, "StaffUserList", "the staff users")},
        .errors = "400:unknown_field"},
    [SP_GW_ROUTE_STAFF_USERS_ADD] = {ENTRY(SP_GW_ROUTE_STAFF_USERS_ADD,
                                           sp_gw_route_staff_users_add),
        .method = "POST", .path = "/api/v1/staff-users", .name = "staff_users_add",
        .session = true, .roles = BACKOFFICE,
        .summary = "Adds a back-office or finance user (an activation e-mail is sent)",
        .body_media = SP_GW_MEDIA_JSON, .body_schema = "StaffUserAdd", .body_required = true,
        .key = SP_GW_KEY_REQUIRED,
        .answers = {JSON(201, "StaffUser", "the staff user")},
        .errors = "400:missing_field,invalid_type,invalid_value,invalid_email 409:email_taken "
                  "503:timeout"},
    [SP_GW_ROUTE_STAFF_USERS_PATCH] = {ENTRY(SP_GW_ROUTE_STAFF_USERS_PATCH,
                                             sp_gw_route_staff_users_patch),
        .method = "PATCH", .path = "/api/v1/staff-users/{user_id}", .name = "staff_users_patch",
        .session = true, .roles = BACKOFFICE,
        .summary = "Changes a staff user's role (backoffice or finance)",
        .body_media = SP_GW_MEDIA_JSON, .body_schema = "StaffUserPatch", .body_required = true,
        .key = SP_GW_KEY_OPTIONAL,
        .answers = {JSON(200, "StaffUser", "the staff user with its new role")},
        .id_not_found_code = "user_not_found", .id_not_found_message = "no user has this id",
        .errors = "400:missing_field,invalid_type,invalid_value 409:last_backoffice_admin "
                  "503:timeout"},
    [SP_GW_ROUTE_STAFF_USERS_DELETE] = {ENTRY(SP_GW_ROUTE_STAFF_USERS_DELETE,
                                              sp_gw_route_staff_users_delete),
        .method = "DELETE", .path = "/api/v1/staff-users/{user_id}", .name = "staff_users_delete",
        .session = true, .roles = BACKOFFICE,
        .summary = "Disables a staff user: its sessions end at once, it can no longer log in",
        .key = SP_GW_KEY_OPTIONAL,
        .answers = {NO_CONTENT("the user is disabled")},
        .id_not_found_code = "user_not_found", .id_not_found_message = "no user has this id",
        .errors = "409:last_backoffice_admin 503:timeout"},
    [SP_GW_ROUTE_PARTNER_ACTIVATION_EMAIL] = {ENTRY(SP_GW_ROUTE_PARTNER_ACTIVATION_EMAIL,
                                                    sp_gw_route_partner_activation_email),
        .method = "POST", .path = "/api/v1/partners/{partner_id}/activation-email",
        .name = "partner_activation_email",
        .session = true, .roles = BACKOFFICE,
        .summary = "Mails a new activation link to each of the partner's users not yet activated",
        .answers = {JSON(202, "ActivationEmailsSent", "the users a link was sent to")},
        .id_not_found_code = "partner_not_found", .id_not_found_message = "no partner has this id",
        .errors = "404:partner_not_found 409:already_activated 503:timeout"},
    /* back-office lists and details of the read models (routes_backoffice_lists.c) */
    [SP_GW_ROUTE_BENEFICIARIES_LIST] = {ENTRY(SP_GW_ROUTE_BENEFICIARIES_LIST,
                                              sp_gw_route_beneficiaries_list),
        .method = "GET", .path = "/api/v1/beneficiaries", .name = "beneficiaries_list",
        .session = true, .roles = BACKOFFICE,
        .summary = "The beneficiaries by name, searched, filtered and paged, with their total",
        .query = "beneficiary_q beneficiary_status category beneficiaries_limit cursor",
        .answers = {JSON(200, "BeneficiaryList", "one page of beneficiaries")},
        .errors = "400:invalid_value,unknown_field 422:invalid_category"},
    [SP_GW_ROUTE_BENEFICIARY_GET] = {ENTRY(SP_GW_ROUTE_BENEFICIARY_GET,
                                           sp_gw_route_beneficiary_get),
        .method = "GET", .path = "/api/v1/beneficiaries/{user_id}", .name = "beneficiary_get",
        .session = true, .roles = BACKOFFICE,
        .summary = "One beneficiary: its pass, latest operations and vouchers",
        .answers = {JSON(200, "BeneficiaryDetail", "the beneficiary")},
        .id_not_found_code = "beneficiary_not_found",
        .id_not_found_message = "no beneficiary has this id"},
    [SP_GW_ROUTE_PARTNER_DETAIL] = {ENTRY(SP_GW_ROUTE_PARTNER_DETAIL, sp_gw_route_partner_detail),
        .method = "GET", .path = "/api/v1/partners/{partner_id}", .name = "partner_detail",
        .session = true, .roles = BACKOFFICE,
        .summary = "One partner: states, structure, users, latest operations and refund requests",
        .answers = {JSON(200, "PartnerDetail", "the partner")},
        .id_not_found_code = "partner_not_found", .id_not_found_message = "no partner has this id"},
    [SP_GW_ROUTE_CONVENTION_ACCEPTANCES] = {ENTRY(SP_GW_ROUTE_CONVENTION_ACCEPTANCES,
                                                  sp_gw_route_convention_acceptances),
        .method = "GET", .path = "/api/v1/conventions/{convention_id}/acceptances",
        .name = "convention_acceptances", .session = true, .roles = BACKOFFICE,
        .summary = "Who accepted a convention (by whom, when) and who has not yet",
        .answers = {JSON(200, "ConventionAcceptances", "both lists, by partner name")},
        .id_not_found_code = "convention_not_found",
        .id_not_found_message = "no convention has this id"},
    /* ---------------------------------------------------------- enrolling from a CSV file */
    [SP_GW_ROUTE_BENEFICIARIES_IMPORTS] = {ENTRY(SP_GW_ROUTE_BENEFICIARIES_IMPORTS,
                                                 sp_gw_route_beneficiaries_imports),
        .method = "POST", .path = "/api/v1/beneficiaries/imports",
        .name = "beneficiaries_imports", .session = true, .roles = BACKOFFICE,
        .summary = "Enrols the beneficiaries of a CSV file, each with a pass credited the same "
                   "allocation: checked only (dry_run=true, writes nothing) or run in the "
                   "background (Idempotency-Key required)",
        .query = "import_dry_run import_category import_amount_cents import_end_date",
        .body_media = SP_GW_MEDIA_CSV, .body_required = true, .key = SP_GW_KEY_OPTIONAL,
        .answers = {JSON(200, "ImportReport", "dry run: the file's lines and problems"),
                    JSON(202, "ImportJob", "the run, started (or the one of this key)")},
        .errors = "400:missing_field,invalid_value 409:idempotency_conflict "
                  "413:body_too_large 415:unsupported_media_type 428:idempotency_key_required "
                  "422:invalid_category,invalid_amount,invalid_date,csv_empty,csv_unknown_column,"
                  "csv_missing_column,csv_duplicate_column,csv_too_many_lines 503:imports_busy"},
    [SP_GW_ROUTE_BENEFICIARIES_IMPORT_GET] = {ENTRY(SP_GW_ROUTE_BENEFICIARIES_IMPORT_GET,
                                                    sp_gw_route_beneficiaries_import_get),
        .method = "GET", .path = "/api/v1/beneficiaries/imports/{import_id}",
        .name = "beneficiaries_import_get", .session = true, .roles = BACKOFFICE,
        .summary = "A CSV enrolment run's progress and problems (kept in the gateway's memory)",
        .answers = {JSON(200, "ImportJob", "the run")},
        .id_not_found_code = "import_not_found", .id_not_found_message = "no import has this id"},
    /* ---------------------------------------------------------- dashboard, history */
    [SP_GW_ROUTE_DASHBOARD] = {ENTRY(SP_GW_ROUTE_DASHBOARD, sp_gw_route_dashboard),
        .method = "GET", .path = "/api/v1/dashboard", .name = "dashboard",
        .session = true, .roles = FINANCE,
        .summary = "The city's figures: payments per day, budget per category, partners owed "
                   "most, refunds per month",
        .query = "days",
        .answers = {JSON(200, "Dashboard", "the figures")},
        .errors = "400:invalid_value,unknown_field"},
    [SP_GW_ROUTE_PARTNERS_HISTORY] = {ENTRY(SP_GW_ROUTE_PARTNERS_HISTORY,
                                            sp_gw_route_partners_history),
        .method = "GET", .path = "/api/v1/partners/{partner_id}/history",
        .name = "partners_history",
        .session = true, .roles = BACKOFFICE,
        .summary = "Who did what on a partner, newest first, paged",
        .query = "limit cursor",
        .answers = {JSON(200, "HistoryPage", "one page")},
        .id_not_found_code = "partner_not_found", .id_not_found_message = "no partner has this id",
        .errors = "400:invalid_value,unknown_field"},
    [SP_GW_ROUTE_PASSES_HISTORY] = {ENTRY(SP_GW_ROUTE_PASSES_HISTORY, sp_gw_route_passes_history),
        .method = "GET", .path = "/api/v1/passes/{pass_id}/history", .name = "passes_history",
        .session = true, .roles = BACKOFFICE,
        .summary = "Who did what on a pass, newest first, paged",
        .query = "limit cursor",
        .answers = {JSON(200, "HistoryPage", "one page")},
        .id_not_found_code = "pass_not_found", .id_not_found_message = "no pass has this id",
        .errors = "400:invalid_value,unknown_field"},
    [SP_GW_ROUTE_PARTNER_HISTORY] = {ENTRY(SP_GW_ROUTE_PARTNER_HISTORY,
                                           sp_gw_route_partner_history),
        .method = "GET", .path = "/api/v1/partner/history", .name = "partner_history",
        .session = true, .roles = PARTNERS,
        .summary = "Who did what in the session's structure, newest first, paged",
        .query = "limit cursor",
        .answers = {JSON(200, "HistoryPage", "one page")},
        .errors = "400:invalid_value,unknown_field"},
    /* ---------------------------------------------------------- what is owed, for finance */
    [SP_GW_ROUTE_FINANCE_OWED] = {ENTRY(SP_GW_ROUTE_FINANCE_OWED, sp_gw_route_finance_owed),
        .method = "GET", .path = "/api/v1/finance/owed", .name = "finance_owed",
        .session = true, .roles = FINANCE,
        .summary = "What the city owes each partner, most owed first, paged, with totals",
        .query = "limit cursor",
        .answers = {JSON(200, "OwedPage", "one page")},
        .errors = "400:invalid_value,unknown_field"},
};
/* clang-format on */

/* Every route has exactly one entry: none twice (-Woverride-init), and as
 * many entries as routes (SP_GW_ROUTE_NONE has none). */
_Static_assert(__COUNTER__ - ENTRY_COUNTER_FIRST - 1 == SP_GW_ROUTE_COUNT - 1,
               "every route of sp_gw_route needs its entry in endpoint_table");

const sp_gw_endpoint *sp_gw_endpoint_of(sp_gw_route route) {
    assert(route > SP_GW_ROUTE_NONE && route < SP_GW_ROUTE_COUNT);
    return &endpoint_table[route];
}

/* Whether name (name_len bytes, undecoded) is one of the space-separated words of list. */
static bool query_name_listed(const char *list, const char *name, size_t name_len) {
    const char *p = list != NULL ? list : "";
    while (*p != '\0') {
        size_t len = strcspn(p, " ");
        if (len == name_len && len > 0 && strncmp(p, name, len) == 0) return true;
        p += len;
        while (*p == ' ') p++;
    }
    return false;
}

static int query_param_listed(void *ctx, const char *name, size_t name_len, const char *value,
                              size_t value_len, sp_error *err) {
    (void)value;
    (void)value_len;
    const char *names = ctx;
    if (query_name_listed(names, name, name_len)) return 0;
    char field[SP_ERROR_FIELD_MAX];
    snprintf(field, sizeof field, "%.*s", (int)(name_len < 32 ? name_len : 32), name);
    if (names[0] == '\0')
        return sp_error_set(err, 400, "unknown_field", field,
                            "unknown query parameter %s: this endpoint takes none", field);
    return sp_error_set(err, 400, "unknown_field", field,
                        "unknown query parameter %s: this endpoint takes %.120s", field, names);
}

int sp_gw_endpoint_query_check(const char *names, const char *query, sp_error *err) {
    assert(names != NULL);
    return sp_gw_query_foreach(query, SP_GW_ENDPOINT_QUERY_PARAMS_MAX, query_param_listed,
                               (void *)names, err);
}

const char *sp_gw_media_type(sp_gw_media media) {
    switch (media) {
    case SP_GW_MEDIA_JSON: return "application/json";
    case SP_GW_MEDIA_IMAGE: return "image/*";
    case SP_GW_MEDIA_PNG: return "image/png";
    case SP_GW_MEDIA_SVG: return "image/svg+xml";
    case SP_GW_MEDIA_HTML: return "text/html";
    case SP_GW_MEDIA_CSV: return "text/csv";
    case SP_GW_MEDIA_XML: return "application/xml";
    case SP_GW_MEDIA_EVENTS: return "text/event-stream";
    case SP_GW_MEDIA_PROMETHEUS: return "text/plain";
    case SP_GW_MEDIA_NONE: break;
    }
    return NULL;
}

/* ------------------------------------------------------------------ routing */

/* Matches path against pattern; a "{name}" segment (when any) goes to
 * segment, cut to segment_size - 1 bytes and flagged by *segment_too_long. */
static bool pattern_match(const char *pattern, const char *path, char *segment, size_t segment_size,
                          bool *segment_too_long) {
    const char *p = pattern;
    const char *s = path;
    while (*p != '\0') {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            assert(close != NULL);
            size_t len = strcspn(s, "/");
            if (len == 0) return false;
            *segment_too_long = len >= segment_size;
            size_t copy = *segment_too_long ? segment_size - 1 : len;
            memcpy(segment, s, copy);
            segment[copy] = '\0';
            s += len;
            p = close + 1;
            continue;
        }
        if (*p != *s) return false;
        p++;
        s++;
    }
    return *s == '\0';
}

static bool sha256_hex_valid(const char *text) {
    size_t len = strlen(text);
    for (size_t i = 0; i < len; i++) {
        if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f')))
            return false;
    }
    return len == 64;
}

/* The {segment} of a matched path into out; 404 when it is not well formed. */
static int take_segment(const sp_gw_endpoint *e, const char *segment, bool too_long,
                        sp_gw_route_match *out, sp_error *err) {
    const char *open = strchr(e->path, '{');
    if (open == NULL) return 0;
    char field[SP_GW_PATH_SEGMENT_LEN_MAX];
    snprintf(field, sizeof field, "%.*s", (int)strcspn(open + 1, "}"), open + 1);
    if (e->route == SP_GW_ROUTE_MEDIA_GET) {
        /* Images are named by the SHA-256 of their bytes, not by an id. */
        if (too_long || !sha256_hex_valid(segment))
            return sp_error_set(err, 404, e->id_not_found_code, field, "%s",
                                e->id_not_found_message);
        snprintf(out->path_key, sizeof out->path_key, "%s", segment);
        return 0;
    }
    if (e->route == SP_GW_ROUTE_DIRECTORY_PARTNER) {
        /* A partner code as typed; its route checks the digits and the check digit. */
        if (too_long || strlen(segment) >= sizeof out->path_key)
            return sp_error_set(err, 404, e->id_not_found_code, field, "%s",
                                e->id_not_found_message);
        snprintf(out->path_key, sizeof out->path_key, "%s", segment);
        return 0;
    }
    if (too_long || !sp_id_valid(segment))
        return sp_error_set(err, 404, e->id_not_found_code, field, "%s", e->id_not_found_message);
    snprintf(out->path_id, sizeof out->path_id, "%s", segment);
    return 0;
}

int sp_gw_route_find(const char *method, const char *path, sp_gw_route_match *out, sp_error *err) {
    assert(method != NULL && path != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    bool path_known = false;
    for (int r = SP_GW_ROUTE_NONE + 1; r < SP_GW_ROUTE_COUNT; r++) {
        const sp_gw_endpoint *e = &endpoint_table[r];
        char segment[SP_GW_PATH_SEGMENT_LEN_MAX + 1] = "";
        bool too_long = false;
        if (!pattern_match(e->path, path, segment, sizeof segment, &too_long)) continue;
        path_known = true;
        if (strcmp(e->method, method) != 0) continue;
        if (take_segment(e, segment, too_long, out, err) != 0) return -1;
        out->route = e->route;
        return 0;
    }
    if (path_known) {
        return sp_error_set(err, 405, "method_not_allowed", "",
                            "method %.16s is not allowed on this path", method);
    }
    return sp_error_set(err, 404, "not_found", "", "no such endpoint");
}

void sp_gw_route_allowed(const char *path, char *out, size_t out_size) {
    assert(path != NULL && out != NULL && out_size > 0);
    out[0] = '\0';
    size_t len = 0;
    for (int r = SP_GW_ROUTE_NONE + 1; r < SP_GW_ROUTE_COUNT; r++) {
        char segment[SP_GW_PATH_SEGMENT_LEN_MAX + 1];
        bool too_long = false;
        if (!pattern_match(endpoint_table[r].path, path, segment, sizeof segment, &too_long))
            continue;
        int n = snprintf(out + len, out_size - len, "%s%s", len > 0 ? ", " : "",
                         endpoint_table[r].method);
        if (n < 0 || (size_t)n >= out_size - len) return;
        len += (size_t)n;
    }
}

const char *sp_gw_route_name(sp_gw_route route) {
    if (route <= SP_GW_ROUTE_NONE || route >= SP_GW_ROUTE_COUNT) return "unknown";
    return endpoint_table[route].name;
}
