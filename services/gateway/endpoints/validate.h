/* validate.h - the gateway's pure request checks: route ids, JSON bodies
 * against a per-endpoint schema, amounts, partner codes, e-mails, categories,
 * dates, Idempotency-Key and bearer headers, paging parameters and cursors, and
 * the small JSON/text helpers of the answers. No I/O, no clock, no globals.
 *
 * Memory: every sp_gw_*_req is filled by value (fixed-size buffers), so the
 * caller owns it on its stack and frees nothing. sp_gw_body_parse() returns a
 * new jansson reference the caller json_decref()s. sp_gw_error_json() returns
 * a malloc'd string the caller free()s. Everything else writes into buffers
 * the caller provides, sized by the constants below. */
#ifndef SP_GW_VALIDATE_H
#define SP_GW_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "sp_clock.h"
#include "sp_error.h"
#include "sp_id.h"
#include "sp_operations_filter.h"
#include "sp_voucher_number.h"

#define SP_GW_BODY_BYTES_MAX (16 * 1024)
#define SP_GW_IDEMPOTENCY_KEY_LEN_MAX 64
#define SP_GW_EMAIL_LEN_MAX 254 /* bytes, all ASCII */
#define SP_GW_EMAIL_LOCAL_LEN_MAX 64
#define SP_GW_EMAIL_LABEL_LEN_MAX 63
#define SP_GW_PASSWORD_LEN_MIN 10  /* characters, for new accounts */
#define SP_GW_PASSWORD_LEN_MAX 128 /* characters */
#define SP_GW_NAME_LEN_MAX 200     /* characters: names of people and partners */
#define SP_GW_CATEGORY_LEN_MAX 32
#define SP_GW_ENVELOPES_MAX 16
#define SP_GW_PAGE_LIMIT_DEFAULT 50
#define SP_GW_PAGE_LIMIT_MAX 200
#define SP_GW_CURSOR_LEN_MAX 96
#define SP_GW_INSTANT_LEN 24 /* "2026-11-27T10:00:00.123Z" */
#define SP_GW_PASS_REF_LEN 4
#define SP_GW_UTF8_BYTES_PER_CHAR_MAX 4
#define SP_GW_PASS_CLOSE_REASON_LEN_MAX 200 /* characters */

/* Text buffers large enough for a string field of n characters plus the NUL. */
#define SP_GW_TEXT_BYTES(n) ((n)*SP_GW_UTF8_BYTES_PER_CHAR_MAX + 1)

/* ------------------------------------------------------------------ routes */

typedef enum {
    SP_GW_ROUTE_NONE = 0,
    SP_GW_ROUTE_LOGIN,
    SP_GW_ROUTE_LOGOUT,
    SP_GW_ROUTE_ME,
    SP_GW_ROUTE_PASS_GET,
    SP_GW_ROUTE_PASS_PAY,
    SP_GW_ROUTE_PASS_OPERATIONS,
    SP_GW_ROUTE_PARTNERS_CREATE,
    SP_GW_ROUTE_PARTNERS_LIST,
    SP_GW_ROUTE_BENEFICIARIES_CREATE,
    SP_GW_ROUTE_PASSES_GET,
    SP_GW_ROUTE_PASSES_CREDIT,
    SP_GW_ROUTE_PARTNER_GET,
    SP_GW_ROUTE_PARTNER_OPERATIONS,
    SP_GW_ROUTE_HEALTHZ,
    SP_GW_ROUTE_ACTIVATE,
    SP_GW_ROUTE_RESET_REQUEST,
    SP_GW_ROUTE_RESET_CONFIRM,
    SP_GW_ROUTE_PASS_VOUCHERS_ISSUE,
    SP_GW_ROUTE_PASS_VOUCHERS_LIST,
    SP_GW_ROUTE_PASSES_VOUCHERS_ISSUE,
    SP_GW_ROUTE_PASSES_VOUCHERS_LIST,
    SP_GW_ROUTE_VOUCHER_GET,
    SP_GW_ROUTE_VOUCHER_PRINT,
    SP_GW_ROUTE_VOUCHER_QR_PNG,
    SP_GW_ROUTE_VOUCHER_QR_SVG,
    SP_GW_ROUTE_VOUCHER_CANCEL,
    SP_GW_ROUTE_PARTNER_VOUCHERS_REDEEM,
    SP_GW_ROUTE_PARTNER_QR_PNG,
    SP_GW_ROUTE_PARTNER_QR_SVG,
    SP_GW_ROUTE_PARTNER_POSTER,
    SP_GW_ROUTE_PARTNER_CONTACT,
    SP_GW_ROUTE_CONTACT,
    SP_GW_ROUTE_PARTNER_OPERATIONS_STREAM,
    SP_GW_ROUTE_CONVENTIONS_PUBLISH,
    SP_GW_ROUTE_CONVENTIONS_LIST,
    SP_GW_ROUTE_PARTNER_CONVENTIONS,
    SP_GW_ROUTE_PARTNER_CONVENTION_ACCEPT,
    SP_GW_ROUTE_STRUCTURE_GET,
    SP_GW_ROUTE_STRUCTURE_PUT,
    SP_GW_ROUTE_STRUCTURE_LOGO,
    SP_GW_ROUTE_STRUCTURE_COVER,
    SP_GW_ROUTE_MEDIA_GET,
    SP_GW_ROUTE_DIRECTORY_PARTNERS,
    SP_GW_ROUTE_DIRECTORY_PARTNER,
    SP_GW_ROUTE_PARTNER_USERS_LIST,
    SP_GW_ROUTE_PARTNER_USERS_ADD,
    SP_GW_ROUTE_PARTNER_USERS_PATCH,
    SP_GW_ROUTE_PARTNER_USERS_DELETE,
    SP_GW_ROUTE_PARTNER_OPERATION_REFERENCE,
    SP_GW_ROUTE_PARTNER_OPERATION_CANCEL,
    SP_GW_ROUTE_PARTNER_EXPORTS_CREATE,
    SP_GW_ROUTE_PARTNER_EXPORTS_LIST,
    SP_GW_ROUTE_PARTNER_EXPORT_DOWNLOAD,
    SP_GW_ROUTE_PARTNER_EXPORT_DELETE,
    SP_GW_ROUTE_PARTNER_REFUNDS_CREATE,
    SP_GW_ROUTE_PARTNER_REFUNDS_LIST,
    SP_GW_ROUTE_PARTNER_REFUND_GET,
    SP_GW_ROUTE_PARTNER_REFUND_CANCEL,
    SP_GW_ROUTE_FINANCE_REFUNDS_LIST,
    SP_GW_ROUTE_FINANCE_REFUND_GET,
    SP_GW_ROUTE_FINANCE_REFUND_PAID,
    SP_GW_ROUTE_FINANCE_SEPA,
    SP_GW_ROUTE_OPENAPI,
    SP_GW_ROUTE_RECEIPT_KEYS,
    SP_GW_ROUTE_RECEIPT_VERIFY,
    SP_GW_ROUTE_RECEIPT_QR_SVG,
    /* staff users and activation resend */
    SP_GW_ROUTE_STAFF_USERS_LIST,
    SP_GW_ROUTE_STAFF_USERS_ADD,
    SP_GW_ROUTE_STAFF_USERS_PATCH,
    SP_GW_ROUTE_STAFF_USERS_DELETE,
    SP_GW_ROUTE_PARTNER_ACTIVATION_EMAIL,
    /* closing a pass */
    SP_GW_ROUTE_PASSES_CLOSE,
    /* back-office lists and details (routes_backoffice_lists.c) */
    SP_GW_ROUTE_BENEFICIARIES_LIST,
    SP_GW_ROUTE_BENEFICIARY_GET,
    SP_GW_ROUTE_PARTNER_DETAIL,
    SP_GW_ROUTE_CONVENTION_ACCEPTANCES,
    /* enrolling beneficiaries from a CSV file */
    SP_GW_ROUTE_BENEFICIARIES_IMPORTS,
    SP_GW_ROUTE_BENEFICIARIES_IMPORT_GET,
    /* the dashboard and the history */
    SP_GW_ROUTE_DASHBOARD,
    SP_GW_ROUTE_PARTNERS_HISTORY,
    SP_GW_ROUTE_PASSES_HISTORY,
    SP_GW_ROUTE_PARTNER_HISTORY,
    /* what the city owes each partner, for finance */
    SP_GW_ROUTE_FINANCE_OWED,
    SP_GW_ROUTE_COUNT /* bound of the route-indexed metric tables */
} sp_gw_route;

typedef struct sp_gw_route_match {
    sp_gw_route route;
    char path_id[SP_ID_LEN + 1]; /* the {pass_id} or {voucher_id} segment, "" when none */
    char path_key[65];           /* the {sha256} of /api/v1/media/, the {partner_code} of
                                    the directory (as typed, checked by the route); "" */
} sp_gw_route_match;

/* Routing by the endpoint table: sp_gw_route_find() and the others in
 * endpoints.h. */

/* ------------------------------------------------------------------ bodies */

typedef enum { SP_GW_FIELD_STRING, SP_GW_FIELD_INTEGER, SP_GW_FIELD_ARRAY } sp_gw_field_type;

/* One member of a request object. Lengths count characters for strings and
 * items for arrays; integers have no length (their range is checked by the
 * endpoint: every integer field is an amount in cents). */
typedef struct sp_gw_field {
    const char *name;
    sp_gw_field_type type;
    bool required;
    size_t length_min;
    size_t length_max;
} sp_gw_field;

typedef struct sp_gw_schema {
    const sp_gw_field *fields;
    size_t field_count;
} sp_gw_schema;

extern const sp_gw_schema sp_gw_schema_login;
extern const sp_gw_schema sp_gw_schema_payment;
extern const sp_gw_schema sp_gw_schema_partner;
extern const sp_gw_schema sp_gw_schema_beneficiary;
extern const sp_gw_schema sp_gw_schema_envelope;
extern const sp_gw_schema sp_gw_schema_credit;
extern const sp_gw_schema sp_gw_schema_voucher_issue;
extern const sp_gw_schema sp_gw_schema_voucher_redeem;
extern const sp_gw_schema sp_gw_schema_set_password;
extern const sp_gw_schema sp_gw_schema_reset_request;
extern const sp_gw_schema sp_gw_schema_operation_reference;

/* Parses body (exactly len bytes, NUL not needed) as one JSON object and checks
 * it against schema: 400 malformed_json | unknown_field | missing_field |
 * invalid_type | invalid_value (length, control characters), 413
 * body_too_large, 422 invalid_amount (an integer beyond 64 bits). */
json_t *sp_gw_body_parse(const char *body, size_t len, const sp_gw_schema *schema, sp_error *err);
/* The same checks on an already parsed object; prefix ("envelopes[2].")
 * is put before field names in errors. */
int sp_gw_object_check(const json_t *object, const sp_gw_schema *schema, const char *prefix,
                       sp_error *err);

typedef struct sp_gw_login_req {
    char email[SP_GW_EMAIL_LEN_MAX + 1]; /* lower-cased */
    char password[SP_GW_TEXT_BYTES(SP_GW_PASSWORD_LEN_MAX)];
    bool session_cookie; /* "session": "cookie" */
} sp_gw_login_req;

typedef struct sp_gw_payment_req {
    char partner_code[SP_PARTNER_CODE_LEN + 1]; /* 8 digits, Luhn-valid */
    int64_t amount_cents;
} sp_gw_payment_req;

/* POST /auth/activate and /auth/password-reset/confirm. The token is only
 * bounded here; its MAC is checked with the link secret (sp_link). */
#define SP_GW_LINK_TOKEN_LEN_MAX 128
typedef struct sp_gw_set_password_req {
    char token[SP_GW_TEXT_BYTES(SP_GW_LINK_TOKEN_LEN_MAX)];
    char password[SP_GW_TEXT_BYTES(SP_GW_PASSWORD_LEN_MAX)];
} sp_gw_set_password_req;

typedef struct sp_gw_reset_request_req {
    char email[SP_GW_EMAIL_LEN_MAX + 1]; /* lower-cased */
} sp_gw_reset_request_req;

typedef struct sp_gw_partner_req {
    char name[SP_GW_TEXT_BYTES(SP_GW_NAME_LEN_MAX)];
    char category[SP_GW_CATEGORY_LEN_MAX + 1];
    char admin_email[SP_GW_EMAIL_LEN_MAX + 1];
    char admin_password[SP_GW_TEXT_BYTES(SP_GW_PASSWORD_LEN_MAX)]; /* "": activation link */
    char admin_full_name[SP_GW_TEXT_BYTES(SP_GW_NAME_LEN_MAX)];
} sp_gw_partner_req;

typedef struct sp_gw_envelope_req {
    char category[SP_GW_CATEGORY_LEN_MAX + 1];
    char end_date[11]; /* "YYYY-MM-DD" or "" */
} sp_gw_envelope_req;

typedef struct sp_gw_beneficiary_req {
    char email[SP_GW_EMAIL_LEN_MAX + 1];
    char password[SP_GW_TEXT_BYTES(SP_GW_PASSWORD_LEN_MAX)];
    char full_name[SP_GW_TEXT_BYTES(SP_GW_NAME_LEN_MAX)];
    sp_gw_envelope_req envelopes[SP_GW_ENVELOPES_MAX];
    size_t envelope_count;
} sp_gw_beneficiary_req;

typedef struct sp_gw_voucher_issue_req {
    int64_t amount_cents;
    char category[SP_GW_CATEGORY_LEN_MAX + 1];  /* "" when absent */
    char partner_code[SP_PARTNER_CODE_LEN + 1]; /* "" when absent, else Luhn-valid */
} sp_gw_voucher_issue_req;

typedef struct sp_gw_voucher_redeem_req {
    char number[SP_VOUCHER_NUMBER_LEN + 1]; /* 16 digits, Damm-valid */
} sp_gw_voucher_redeem_req;

typedef struct sp_gw_credit_req {
    char category[SP_GW_CATEGORY_LEN_MAX + 1];
    int64_t amount_cents;
    char end_date[11]; /* "YYYY-MM-DD" or "" */
} sp_gw_credit_req;

int sp_gw_parse_login(const char *body, size_t len, sp_gw_login_req *out, sp_error *err);
int sp_gw_parse_payment(const char *body, size_t len, int64_t amount_cents_max,
                        sp_gw_payment_req *out, sp_error *err);
int sp_gw_parse_partner(const char *body, size_t len, sp_gw_partner_req *out, sp_error *err);
int sp_gw_parse_set_password(const char *body, size_t len, sp_gw_set_password_req *out,
                             sp_error *err);
int sp_gw_parse_reset_request(const char *body, size_t len, sp_gw_reset_request_req *out,
                              sp_error *err);
/* today: the Europe/Paris date of now; an end_date before it is refused. */
int sp_gw_parse_beneficiary(const char *body, size_t len, sp_date today, sp_gw_beneficiary_req *out,
                            sp_error *err);
/* {category, amount_cents, end_date?}: 422 invalid_category | invalid_amount
 * | invalid_date (not a date, or before today, the Europe/Paris date). The
 * ledger decides the rest (an envelope to open, an end date to extend). */
int sp_gw_parse_credit(const char *body, size_t len, int64_t amount_cents_max, sp_date today,
                       sp_gw_credit_req *out, sp_error *err);
/* {amount_cents, category?, partner_code?}: 422 invalid_amount |
 * invalid_category ("general" allowed) | invalid_partner_code. */
int sp_gw_parse_voucher_issue(const char *body, size_t len, int64_t amount_cents_max,
                              sp_gw_voucher_issue_req *out, sp_error *err);
/* {number}: 422 invalid_voucher_number (see sp_gw_voucher_number_check). */
int sp_gw_parse_voucher_redeem(const char *body, size_t len, sp_gw_voucher_redeem_req *out,
                               sp_error *err);

/* ------------------------------------------------------------------ values */

/* Syntax check and lower-casing into out (SP_GW_EMAIL_LEN_MAX + 1 bytes);
 * 400 invalid_email naming field. */
int sp_gw_email_normalize(const char *in, const char *field, char *out, sp_error *err);
/* ^[a-z][a-z0-9_]{1,31}$, and not "general" unless allowed: 422 invalid_category. */
int sp_gw_category_check(const char *category, const char *field, bool general_allowed,
                         sp_error *err);
/* Spaces and dashes dropped, 8 digits, first non-zero, Luhn check digit:
 * 422 invalid_partner_code. out holds SP_PARTNER_CODE_LEN + 1 bytes. */
int sp_gw_partner_code_check(const char *in, const char *field, char *out, sp_error *err);
/* Spaces and dashes dropped, 16 digits, first non-zero, Damm check digit:
 * 422 invalid_voucher_number (the message says whether it is the length or
 * a mistyped digit). out holds SP_VOUCHER_NUMBER_LEN + 1 bytes. */
int sp_gw_voucher_number_check(const char *in, const char *field, char *out, sp_error *err);
/* NULL: 428 idempotency_key_required; otherwise 1..64 of [A-Za-z0-9_-] or
 * 400 invalid_value, field "Idempotency-Key". */
int sp_gw_idempotency_key_check(const char *header_value, sp_error *err);
/* "Bearer <43 base64url chars>" into token (SP_TOKEN_LEN + 1); else 401 unauthenticated. */
int sp_gw_bearer_token(const char *authorization, char *token, sp_error *err);

/* ------------------------------------------------------------------ paging */

typedef struct sp_gw_page {
    int limit; /* 1..SP_GW_PAGE_LIMIT_MAX */
    bool has_cursor;
    int64_t after_occurred_at_ms; /* the last row of the previous page */
    char after_operation_id[SP_ID_LEN + 1];
} sp_gw_page;

/* Raw (undecoded) query string, may be NULL: "limit=20&cursor=...". 400
 * invalid_value (field limit or cursor) or unknown_field for another name. */
int sp_gw_page_parse(const char *query, sp_gw_page *out, sp_error *err);
/* Calls fn for each "name=value" of a raw query string (may be NULL), with
 * the undecoded name and value and their lengths; at most params_max of
 * them (400 invalid_value beyond). Stops at fn's first -1. */
typedef int (*sp_gw_query_param_fn)(void *ctx, const char *name, size_t name_len, const char *value,
                                    size_t value_len, sp_error *err);
int sp_gw_query_foreach(const char *query, size_t params_max, sp_gw_query_param_fn fn, void *ctx,
                        sp_error *err);
/* Opaque text for "after this row"; out holds SP_GW_CURSOR_LEN_MAX + 1 bytes. */
void sp_gw_cursor_encode(int64_t occurred_at_ms, const char *operation_id, char *out);
int sp_gw_cursor_decode(const char *text, int64_t *occurred_at_ms, char *operation_id,
                        sp_error *err);

/* ------------------------------------------------------------------ operation filters */

#define SP_GW_FILTER_PARAMS_MAX 16 /* query parameters of a filtered listing */

/* GET /partner/operations: paging plus the operations' filters
 * (sp_operations_filter.h), each optional; text filters are decoded (%XX,
 * '+') before their checks. */
typedef struct sp_gw_operations_filter {
    sp_gw_page page;
    sp_operations_filter filters;
} sp_gw_operations_filter;

/* Raw (undecoded) query string, may be NULL. 400 invalid_value naming the
 * parameter (a bad value, a parameter given twice, from after to,
 * amount_min_cents above amount_max_cents) or unknown_field. */
int sp_gw_operations_filter_parse(const char *query, sp_gw_operations_filter *out, sp_error *err);

/* ------------------------------------------------------------------ answers */

/* "2026-11-27T10:00:00.123Z" into out (SP_GW_INSTANT_LEN + 1 bytes). */
void sp_gw_instant_format(int64_t utc_ms, char *out);
/* The last SP_GW_PASS_REF_LEN characters of a pass id: what a partner sees
 * of a beneficiary. out holds SP_GW_PASS_REF_LEN + 1 bytes. */
void sp_gw_pass_ref(const char *pass_id, char *out);
/* The error as an RFC 9457 problem, compact JSON: type "about:blank",
 * title the status phrase, status, detail (= message), and the extension
 * members code, message and field; NULL when out of memory. */
char *sp_gw_error_json(const sp_error *err);
/* The same problem as a new object the caller json_decref()s (to add
 * members, e.g. operation_id); NULL when out of memory. */
json_t *sp_gw_problem_new(const sp_error *err);
/* The reason phrase of an HTTP status ("Not Found"); "Error" when unknown. */
const char *sp_gw_status_phrase(int status);

#endif
