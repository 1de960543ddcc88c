/* validate.c - pure checks of what arrives over HTTP (see validate.h): which
 * route, whether a body matches its endpoint's schema, and the business
 * syntax of amounts, partner codes, e-mails, categories, dates and headers.
 * Every refusal names its code and field so that the client can fix it. */
#include "validate.h"
#include "json_limits.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sodium.h>
#include "sp_money.h"
#include "sp_text.h"

#define SP_GW_QUERY_PARAMS_MAX 8
#define SP_GW_CURSOR_BYTES 24         /* 8 bytes of milliseconds + 16 of the uuid */
#define SP_GW_INT64_REAL_LIMIT 9.2e18 /* a JSON integer this large did not fit int64 */
#define SP_GW_UTF8_TRIM_MAX 3         /* bytes a truncated UTF-8 sequence can leave */
#define SP_GW_PREFIX_BYTES 40         /* "envelopes[<index>]." */
#define SP_GW_INSTANT_BUFFER_BYTES 64
#define MS_PER_DAY INT64_C(86400000)

/* ------------------------------------------------------------------ schemas */

static const sp_gw_field login_fields[] = {
    {"email", SP_GW_FIELD_STRING, true, 1, SP_GW_EMAIL_LEN_MAX},
    {"password", SP_GW_FIELD_STRING, true, 1, SP_GW_PASSWORD_LEN_MAX},
    {"session", SP_GW_FIELD_STRING, false, 1, 6}, /* "bearer" (default) or "cookie" */
};
static const sp_gw_field payment_fields[] = {
    {"partner_code", SP_GW_FIELD_STRING, true, 1, 32},
    {"amount_cents", SP_GW_FIELD_INTEGER, true, 0, 0},
};
static const sp_gw_field partner_fields[] = {
    {"name", SP_GW_FIELD_STRING, true, 1, SP_GW_NAME_LEN_MAX},
    {"category", SP_GW_FIELD_STRING, true, 1, SP_GW_CATEGORY_LEN_MAX},
    {"admin_email", SP_GW_FIELD_STRING, true, 1, SP_GW_EMAIL_LEN_MAX},
    /* Optional: without it the administrator receives an activation link. */
    {"admin_password", SP_GW_FIELD_STRING, false, SP_GW_PASSWORD_LEN_MIN, SP_GW_PASSWORD_LEN_MAX},
    {"admin_full_name", SP_GW_FIELD_STRING, true, 1, SP_GW_NAME_LEN_MAX},
};
static const sp_gw_field beneficiary_fields[] = {
    {"email", SP_GW_FIELD_STRING, true, 1, SP_GW_EMAIL_LEN_MAX},
    /* Absent: the person chooses it through an activation link. */
    {"password", SP_GW_FIELD_STRING, false, SP_GW_PASSWORD_LEN_MIN, SP_GW_PASSWORD_LEN_MAX},
    {"full_name", SP_GW_FIELD_STRING, true, 1, SP_GW_NAME_LEN_MAX},
    {"envelopes", SP_GW_FIELD_ARRAY, true, 1, SP_GW_ENVELOPES_MAX},
};
static const sp_gw_field envelope_fields[] = {
    {"category", SP_GW_FIELD_STRING, true, 1, SP_GW_CATEGORY_LEN_MAX},
    {"end_date", SP_GW_FIELD_STRING, false, 0, 10},
};
static const sp_gw_field set_password_fields[] = {
    {"token", SP_GW_FIELD_STRING, true, 1, SP_GW_LINK_TOKEN_LEN_MAX},
    {"password", SP_GW_FIELD_STRING, true, SP_GW_PASSWORD_LEN_MIN, SP_GW_PASSWORD_LEN_MAX},
};
static const sp_gw_field operation_reference_fields[] = {
    {"reference", SP_GW_FIELD_STRING, true, 0, SP_OPERATIONS_REFERENCE_LEN_MAX},
};
static const sp_gw_field reset_request_fields[] = {
    {"email", SP_GW_FIELD_STRING, true, 1, SP_GW_EMAIL_LEN_MAX},
};
static const sp_gw_field voucher_issue_fields[] = {
    {"amount_cents", SP_GW_FIELD_INTEGER, true, 0, 0},
    {"category", SP_GW_FIELD_STRING, false, 1, SP_GW_CATEGORY_LEN_MAX},
    {"partner_code", SP_GW_FIELD_STRING, false, 1, 32},
};
static const sp_gw_field voucher_redeem_fields[] = {
    {"number", SP_GW_FIELD_STRING, true, 1, SP_VOUCHER_NUMBER_TYPED_MAX},
};
static const sp_gw_field credit_fields[] = {
    {"category", SP_GW_FIELD_STRING, true, 1, SP_GW_CATEGORY_LEN_MAX},
    {"amount_cents", SP_GW_FIELD_INTEGER, true, 0, 0},
    {"end_date", SP_GW_FIELD_STRING, false, 0, 10},
};

#define SCHEMA_OF(fields) \
    { fields, sizeof fields / sizeof fields[0] }
const sp_gw_schema sp_gw_schema_login = SCHEMA_OF(login_fields);
const sp_gw_schema sp_gw_schema_payment = SCHEMA_OF(payment_fields);
const sp_gw_schema sp_gw_schema_partner = SCHEMA_OF(partner_fields);
const sp_gw_schema sp_gw_schema_beneficiary = SCHEMA_OF(beneficiary_fields);
const sp_gw_schema sp_gw_schema_envelope = SCHEMA_OF(envelope_fields);
const sp_gw_schema sp_gw_schema_credit = SCHEMA_OF(credit_fields);
const sp_gw_schema sp_gw_schema_voucher_issue = SCHEMA_OF(voucher_issue_fields);
const sp_gw_schema sp_gw_schema_voucher_redeem = SCHEMA_OF(voucher_redeem_fields);
const sp_gw_schema sp_gw_schema_set_password = SCHEMA_OF(set_password_fields);
const sp_gw_schema sp_gw_schema_reset_request = SCHEMA_OF(reset_request_fields);
const sp_gw_schema sp_gw_schema_operation_reference = SCHEMA_OF(operation_reference_fields);

/* ------------------------------------------------------------------ bodies */

static const sp_gw_field *schema_field(const sp_gw_schema *schema, const char *name) {
    for (size_t i = 0; i < schema->field_count; i++) {
        if (strcmp(schema->fields[i].name, name) == 0) return &schema->fields[i];
    }
    return NULL;
}

static const char *type_words(sp_gw_field_type type) {
    switch (type) {
    case SP_GW_FIELD_STRING: return "a string";
    case SP_GW_FIELD_INTEGER: return "an integer (JSON number without fraction or exponent)";
    case SP_GW_FIELD_ARRAY: return "an array";
    }
    return "?";
}

static bool type_matches(const json_t *value, sp_gw_field_type type) {
    switch (type) {
    case SP_GW_FIELD_STRING: return json_is_string(value);
    case SP_GW_FIELD_INTEGER: return json_is_integer(value);
    case SP_GW_FIELD_ARRAY: return json_is_array(value);
    }
    return false;
}

static int check_length(const json_t *value, const sp_gw_field *field, const char *name,
                        sp_error *err) {
    size_t length = 0;
    const char *unit = "items";
    if (field->type == SP_GW_FIELD_STRING) {
        const char *text = json_string_value(value);
        size_t bytes = json_string_length(value);
        if (sp_text_has_control_char(text, bytes)) {
            return sp_error_set(err, 400, "invalid_value", name,
                                "%s must not contain control characters", name);
        }
        /* jansson has already checked that the string is valid UTF-8. */
        length = sp_text_utf8_char_count(text, bytes);
        unit = "characters";
    } else if (field->type == SP_GW_FIELD_ARRAY) {
        length = json_array_size(value);
    } else {
        return 0;
    }
    if (length < field->length_min || length > field->length_max) {
        return sp_error_set(err, 400, "invalid_value", name, "%s must have %zu to %zu %s, got %zu",
                            name, field->length_min, field->length_max, unit, length);
    }
    return 0;
}

static int check_field(const json_t *object, const sp_gw_field *field, const char *prefix,
                       sp_error *err) {
    char name[SP_ERROR_FIELD_MAX];
    snprintf(name, sizeof name, "%s%s", prefix, field->name);
    const json_t *value = json_object_get(object, field->name);
    if (value == NULL || (json_is_null(value) && !field->required)) {
        if (!field->required) return 0;
        return sp_error_set(err, 400, "missing_field", name, "%s is required", name);
    }
    if (!type_matches(value, field->type)) {
        return sp_error_set(err, 400, "invalid_type", name, "%s must be %s", name,
                            type_words(field->type));
    }
    return check_length(value, field, name, err);
}

int sp_gw_object_check(const json_t *object, const sp_gw_schema *schema, const char *prefix,
                       sp_error *err) {
    assert(object != NULL);
    assert(schema != NULL);
    assert(prefix != NULL);
    if (!json_is_object(object)) {
        return sp_error_set(err, 400, "malformed_json", "", "a JSON object is expected");
    }
    const char *key;
    json_t *value;
    /* Unknown members first: a misspelt name explains a "missing" one. */
    json_object_foreach((json_t *)object, key, value) {
        if (schema_field(schema, key) == NULL) {
            char name[SP_ERROR_FIELD_MAX];
            snprintf(name, sizeof name, "%s%s", prefix, key);
            return sp_error_set(err, 400, "unknown_field", name, "unknown field %s", name);
        }
    }
    for (size_t i = 0; i < schema->field_count; i++) {
        if (check_field(object, &schema->fields[i], prefix, err) != 0) return -1;
    }
    return 0;
}

/* jansson refuses integers beyond 64 bits as a parse error. Parsed again with
 * integers as reals, such a value is found and reported as an amount out of
 * range on its field (every integer field is an amount). */
static int report_overflow(const char *body, size_t len, const sp_gw_schema *schema,
                           sp_error *err) {
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &jerr);
    int rc = sp_error_set(err, 400, "malformed_json", "", "a number is too large");
    for (size_t i = 0; root != NULL && json_is_object(root) && i < schema->field_count; i++) {
        const sp_gw_field *field = &schema->fields[i];
        const json_t *value = json_object_get(root, field->name);
        if (field->type != SP_GW_FIELD_INTEGER || !json_is_real(value)) continue;
        double v = json_real_value(value);
        if (v >= SP_GW_INT64_REAL_LIMIT || v <= -SP_GW_INT64_REAL_LIMIT) {
            rc = sp_error_set(err, 422, "invalid_amount", field->name, "%s is out of range",
                              field->name);
            break;
        }
    }
    json_decref(root);
    return rc;
}

json_t *sp_gw_body_parse(const char *body, size_t len, const sp_gw_schema *schema, sp_error *err) {
    assert(schema != NULL);
    if (len > SP_GW_BODY_BYTES_MAX) {
        sp_error_set(err, 413, "body_too_large", "", "the body is larger than %d bytes",
                     SP_GW_BODY_BYTES_MAX);
        return NULL;
    }
    if (body == NULL || len == 0) {
        sp_error_set(err, 400, "malformed_json", "",
                     "the body is empty: a JSON object is expected");
        return NULL;
    }
    if (sp_gw_json_depth_check(body, len, SP_GW_JSON_DEPTH_MAX, err) != 0) return NULL;
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        if (json_error_code(&jerr) == json_error_numeric_overflow) {
            report_overflow(body, len, schema, err);
        } else {
            sp_error_set(err, 400, "malformed_json", "", "invalid JSON at line %d column %d: %s",
                         jerr.line, jerr.column, jerr.text);
        }
        return NULL;
    }
    if (!json_is_object(root)) {
        sp_error_set(err, 400, "malformed_json", "", "the body must be a JSON object");
        json_decref(root);
        return NULL;
    }
    if (sp_gw_object_check(root, schema, "", err) != 0) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* Copies a string member the schema already checked; its length bound makes
 * the buffer large enough. */
static void copy_member(const json_t *object, const char *name, char *out, size_t out_size) {
    const json_t *value = json_object_get(object, name);
    if (value == NULL || !json_is_string(value)) {
        out[0] = '\0';
        return;
    }
    size_t len = json_string_length(value);
    assert(len < out_size);
    memcpy(out, json_string_value(value), len);
    out[len] = '\0';
}

static int64_t integer_member(const json_t *object, const char *name) {
    const json_t *value = json_object_get(object, name);
    assert(json_is_integer(value));
    return (int64_t)json_integer_value(value);
}

static int check_not_blank(const char *text, const char *field, sp_error *err) {
    for (const char *p = text; *p != '\0'; p++) {
        if (*p != ' ') return 0;
    }
    return sp_error_set(err, 400, "invalid_value", field, "%s must not be blank", field);
}

int sp_gw_parse_login(const char *body, size_t len, sp_gw_login_req *out, sp_error *err) {
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    json_t *root = sp_gw_body_parse(body, len, &sp_gw_schema_login, err);
    if (root == NULL) return -1;
    int rc = -1;
    char email[SP_GW_TEXT_BYTES(SP_GW_EMAIL_LEN_MAX)];
    copy_member(root, "email", email, sizeof email);
    if (sp_gw_email_normalize(email, "email", out->email, err) != 0) goto done;
    copy_member(root, "password", out->password, sizeof out->password);
    const char *session = json_string_value(json_object_get(root, "session"));
    if (session != NULL && strcmp(session, "cookie") != 0 && strcmp(session, "bearer") != 0) {
        sp_error_set(err, 400, "invalid_value", "session", "session must be cookie or bearer");
        goto done;
    }
    out->session_cookie = session != NULL && strcmp(session, "cookie") == 0;
    rc = 0;
done:
    json_decref(root);
    return rc;
}

int sp_gw_parse_payment(const char *body, size_t len, int64_t amount_cents_max,
                        sp_gw_payment_req *out, sp_error *err) {
    assert(out != NULL);
    assert(amount_cents_max > 0);
    memset(out, 0, sizeof *out);
    json_t *root = sp_gw_body_parse(body, len, &sp_gw_schema_payment, err);
    if (root == NULL) return -1;
    int rc = -1;
    char code[SP_GW_TEXT_BYTES(32)];
    copy_member(root, "partner_code", code, sizeof code);
    if (sp_gw_partner_code_check(code, "partner_code", out->partner_code, err) != 0) goto done;
    out->amount_cents = integer_member(root, "amount_cents");
    if (sp_money_validate_amount(out->amount_cents, amount_cents_max, "amount_cents", err) != 0) {
        goto done;
    }
    rc = 0;
done:
    json_decref(root);
    return rc;
}

int sp_gw_parse_partner(const char *body, size_t len, sp_gw_partner_req *out, sp_error *err) {
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    json_t *root = sp_gw_body_parse(body, len, &sp_gw_schema_partner, err);
    if (root == NULL) return -1;
    int rc = -1;
    char email[SP_GW_TEXT_BYTES(SP_GW_EMAIL_LEN_MAX)];
    copy_member(root, "name", out->name, sizeof out->name);
    copy_member(root, "category", out->category, sizeof out->category);
    copy_member(root, "admin_email", email, sizeof email);
    copy_member(root, "admin_password", out->admin_password, sizeof out->admin_password);
    copy_member(root, "admin_full_name", out->admin_full_name, sizeof out->admin_full_name);
    if (check_not_blank(out->name, "name", err) != 0) goto done;
    if (sp_gw_category_check(out->category, "category", false, err) != 0) goto done;
    if (sp_gw_email_normalize(email, "admin_email", out->admin_email, err) != 0) goto done;
    if (check_not_blank(out->admin_full_name, "admin_full_name", err) != 0) goto done;
    rc = 0;
done:
    json_decref(root);
    return rc;
}

int sp_gw_parse_set_password(const char *body, size_t len, sp_gw_set_password_req *out,
                             sp_error *err) {
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    json_t *root = sp_gw_body_parse(body, len, &sp_gw_schema_set_password, err);
    if (root == NULL) return -1;
    copy_member(root, "token", out->token, sizeof out->token);
    copy_member(root, "password", out->password, sizeof out->password);
    json_decref(root);
    return 0;
}

int sp_gw_parse_reset_request(const char *body, size_t len, sp_gw_reset_request_req *out,
                              sp_error *err) {
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    json_t *root = sp_gw_body_parse(body, len, &sp_gw_schema_reset_request, err);
    if (root == NULL) return -1;
    char email[SP_GW_TEXT_BYTES(SP_GW_EMAIL_LEN_MAX)];
    copy_member(root, "email", email, sizeof email);
    int rc = sp_gw_email_normalize(email, "email", out->email, err);
    json_decref(root);
    return rc;
}

/* An envelope's end date as given: "" (none), or a real date that is not
 * before today (Europe/Paris). */
static int end_date_check(const char *text, const char *field, sp_date today, sp_error *err) {
    if (text[0] == '\0') return 0;
    sp_date end_date;
    sp_error date_err;
    if (sp_date_parse(text, &end_date, &date_err) != 0) {
        return sp_error_set(err, 422, "invalid_date", field,
                            "%s must be a real date YYYY-MM-DD (years 2000 to 2199)", field);
    }
    if (end_date < today) {
        return sp_error_set(err, 422, "invalid_date", field, "%s is in the past", field);
    }
    return 0;
}

static int parse_envelope(const json_t *item, size_t index, sp_date today, sp_gw_envelope_req *out,
                          sp_error *err) {
    char prefix[SP_GW_PREFIX_BYTES];
    char field[SP_ERROR_FIELD_MAX];
    snprintf(prefix, sizeof prefix, "envelopes[%zu].", index);
    if (!json_is_object(item)) {
        snprintf(field, sizeof field, "envelopes[%zu]", index);
        return sp_error_set(err, 400, "invalid_type", field, "%s must be an object", field);
    }
    if (sp_gw_object_check(item, &sp_gw_schema_envelope, prefix, err) != 0) return -1;
    copy_member(item, "category", out->category, sizeof out->category);
    copy_member(item, "end_date", out->end_date, sizeof out->end_date);
    snprintf(field, sizeof field, "%scategory", prefix);
    if (sp_gw_category_check(out->category, field, true, err) != 0) return -1;
    snprintf(field, sizeof field, "%send_date", prefix);
    return end_date_check(out->end_date, field, today, err);
}

static int parse_envelopes(const json_t *array, sp_date today, sp_gw_beneficiary_req *out,
                           sp_error *err) {
    size_t count = json_array_size(array);
    assert(count >= 1);
    assert(count <= SP_GW_ENVELOPES_MAX);
    for (size_t i = 0; i < count; i++) {
        sp_gw_envelope_req *envelope = &out->envelopes[i];
        if (parse_envelope(json_array_get(array, i), i, today, envelope, err) != 0) return -1;
        for (size_t k = 0; k < i; k++) {
            if (strcmp(out->envelopes[k].category, envelope->category) == 0) {
                char field[SP_ERROR_FIELD_MAX];
                snprintf(field, sizeof field, "envelopes[%zu].category", i);
                return sp_error_set(err, 422, "invalid_category", field,
                                    "category %s appears twice", envelope->category);
            }
        }
        out->envelope_count = i + 1;
    }
    return 0;
}

int sp_gw_parse_beneficiary(const char *body, size_t len, sp_date today, sp_gw_beneficiary_req *out,
                            sp_error *err) {
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    json_t *root = sp_gw_body_parse(body, len, &sp_gw_schema_beneficiary, err);
    if (root == NULL) return -1;
    int rc = -1;
    char email[SP_GW_TEXT_BYTES(SP_GW_EMAIL_LEN_MAX)];
    copy_member(root, "email", email, sizeof email);
    copy_member(root, "password", out->password, sizeof out->password);
    copy_member(root, "full_name", out->full_name, sizeof out->full_name);
    if (sp_gw_email_normalize(email, "email", out->email, err) != 0) goto done;
    if (check_not_blank(out->full_name, "full_name", err) != 0) goto done;
    if (parse_envelopes(json_object_get(root, "envelopes"), today, out, err) != 0) goto done;
    rc = 0;
done:
    json_decref(root);
    return rc;
}

int sp_gw_parse_voucher_issue(const char *body, size_t len, int64_t amount_cents_max,
                              sp_gw_voucher_issue_req *out, sp_error *err) {
    assert(out != NULL);
    assert(amount_cents_max > 0);
    memset(out, 0, sizeof *out);
    json_t *root = sp_gw_body_parse(body, len, &sp_gw_schema_voucher_issue, err);
    if (root == NULL) return -1;
    int rc = -1;
    out->amount_cents = integer_member(root, "amount_cents");
    if (sp_money_validate_amount(out->amount_cents, amount_cents_max, "amount_cents", err) != 0) {
        goto done;
    }
    char category[SP_GW_TEXT_BYTES(SP_GW_CATEGORY_LEN_MAX)];
    copy_member(root, "category", category, sizeof category);
    if (category[0] != '\0' && sp_gw_category_check(category, "category", true, err) != 0) {
        goto done;
    }
    size_t category_len = strlen(category); /* checked: ASCII, at most 32 */
    assert(category_len < sizeof out->category);
    memcpy(out->category, category, category_len + 1);
    char code[SP_GW_TEXT_BYTES(32)];
    copy_member(root, "partner_code", code, sizeof code);
    if (code[0] != '\0' &&
        sp_gw_partner_code_check(code, "partner_code", out->partner_code, err) != 0) {
        goto done;
    }
    rc = 0;
done:
    json_decref(root);
    return rc;
}

int sp_gw_parse_voucher_redeem(const char *body, size_t len, sp_gw_voucher_redeem_req *out,
                               sp_error *err) {
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    json_t *root = sp_gw_body_parse(body, len, &sp_gw_schema_voucher_redeem, err);
    if (root == NULL) return -1;
    char typed[SP_GW_TEXT_BYTES(SP_VOUCHER_NUMBER_TYPED_MAX)];
    copy_member(root, "number", typed, sizeof typed);
    int rc = sp_gw_voucher_number_check(typed, "number", out->number, err);
    json_decref(root);
    return rc;
}

int sp_gw_parse_credit(const char *body, size_t len, int64_t amount_cents_max, sp_date today,
                       sp_gw_credit_req *out, sp_error *err) {
    assert(out != NULL);
    assert(amount_cents_max > 0);
    memset(out, 0, sizeof *out);
    json_t *root = sp_gw_body_parse(body, len, &sp_gw_schema_credit, err);
    if (root == NULL) return -1;
    int rc = -1;
    copy_member(root, "category", out->category, sizeof out->category);
    if (sp_gw_category_check(out->category, "category", true, err) != 0) goto done;
    out->amount_cents = integer_member(root, "amount_cents");
    if (sp_money_validate_amount(out->amount_cents, amount_cents_max, "amount_cents", err) != 0) {
        goto done;
    }
    copy_member(root, "end_date", out->end_date, sizeof out->end_date);
    if (end_date_check(out->end_date, "end_date", today, err) != 0) goto done;
    rc = 0;
done:
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------------ values */

static bool is_alnum_ascii(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool email_local_valid(const char *local, size_t len) {
    static const char specials[] = "!#$%&'*+/=?^_`{|}~-.";
    if (len == 0 || len > SP_GW_EMAIL_LOCAL_LEN_MAX) return false;
    if (local[0] == '.' || local[len - 1] == '.') return false;
    for (size_t i = 0; i < len; i++) {
        char c = local[i];
        if (!is_alnum_ascii(c) && strchr(specials, c) == NULL) return false;
        if (c == '.' && local[i + 1] == '.') return false;
    }
    return true;
}

/* Host names of at least two labels of [A-Za-z0-9-], none starting or
 * ending with '-'. */
static bool email_domain_valid(const char *domain, size_t len) {
    size_t label_len = 0;
    size_t label_count = 0;
    for (size_t i = 0; i <= len; i++) {
        char c = i < len ? domain[i] : '.';
        if (c == '.') {
            if (label_len == 0 || label_len > SP_GW_EMAIL_LABEL_LEN_MAX) return false;
            if (domain[i - 1] == '-' || domain[i - label_len] == '-') return false;
            label_count++;
            label_len = 0;
        } else if (is_alnum_ascii(c) || c == '-') {
            label_len++;
        } else {
            return false;
        }
    }
    return label_count >= 2;
}

int sp_gw_email_normalize(const char *in, const char *field, char *out, sp_error *err) {
    assert(in != NULL);
    assert(field != NULL);
    assert(out != NULL);
    out[0] = '\0';
    size_t len = strlen(in);
    const char *at = strchr(in, '@');
    bool ok = len <= SP_GW_EMAIL_LEN_MAX && at != NULL && strchr(at + 1, '@') == NULL &&
              email_local_valid(in, (size_t)(at - in)) &&
              email_domain_valid(at + 1, len - (size_t)(at - in) - 1);
    if (!ok) {
        return sp_error_set(err, 400, "invalid_email", field,
                            "%s must be an e-mail address like name@example.org", field);
    }
    for (size_t i = 0; i <= len; i++) {
        char c = in[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    return 0;
}

int sp_gw_category_check(const char *category, const char *field, bool general_allowed,
                         sp_error *err) {
    assert(category != NULL);
    assert(field != NULL);
    size_t len = strlen(category);
    bool ok = len >= 2 && len <= SP_GW_CATEGORY_LEN_MAX && category[0] >= 'a' && category[0] <= 'z';
    for (size_t i = 1; ok && i < len; i++) {
        char c = category[i];
        ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    }
    if (!ok) {
        return sp_error_set(err, 422, "invalid_category", field,
                            "%s must be 2 to 32 of a-z 0-9 _ starting with a letter", field);
    }
    if (!general_allowed && strcmp(category, "general") == 0) {
        return sp_error_set(err, 422, "invalid_category", field,
                            "%s cannot be \"general\": it is the envelope that pays any "
                            "partner without an envelope of its own",
                            field);
    }
    return 0;
}

int sp_gw_partner_code_check(const char *in, const char *field, char *out, sp_error *err) {
    assert(in != NULL);
    assert(field != NULL);
    assert(out != NULL);
    if (!sp_partner_code_normalize(in, out) || out[0] == '0') {
        out[0] = '\0';
        return sp_error_set(err, 422, "invalid_partner_code", field,
                            "%s must be the partner's 8 digits", field);
    }
    if (!sp_luhn_valid(out)) {
        out[0] = '\0';
        return sp_error_set(err, 422, "invalid_partner_code", field,
                            "%s is mistyped: its check digit does not match", field);
    }
    return 0;
}

int sp_gw_voucher_number_check(const char *in, const char *field, char *out, sp_error *err) {
    assert(in != NULL);
    assert(field != NULL);
    assert(out != NULL);
    if (!sp_voucher_number_normalize(in, out) || out[0] == '0') {
        out[0] = '\0';
        return sp_error_set(err, 422, "invalid_voucher_number", field,
                            "%s must be the voucher's 16 digits", field);
    }
    if (!sp_voucher_number_valid(out)) {
        out[0] = '\0';
        return sp_error_set(err, 422, "invalid_voucher_number", field,
                            "%s is mistyped: its check digit does not match", field);
    }
    return 0;
}

static bool is_token_char(char c) {
    return is_alnum_ascii(c) || c == '-' || c == '_';
}

int sp_gw_idempotency_key_check(const char *header_value, sp_error *err) {
    if (header_value == NULL) {
        return sp_error_set(err, 428, "idempotency_key_required", "Idempotency-Key",
                            "this request needs an Idempotency-Key header");
    }
    size_t len = strlen(header_value);
    bool ok = len >= 1 && len <= SP_GW_IDEMPOTENCY_KEY_LEN_MAX;
    for (size_t i = 0; ok && i < len; i++) ok = is_token_char(header_value[i]);
    if (!ok) {
        return sp_error_set(err, 400, "invalid_value", "Idempotency-Key",
                            "Idempotency-Key must be 1 to %d of A-Z a-z 0-9 - _",
                            SP_GW_IDEMPOTENCY_KEY_LEN_MAX);
    }
    return 0;
}

int sp_gw_bearer_token(const char *authorization, char *token, sp_error *err) {
    assert(token != NULL);
    token[0] = '\0';
    static const char scheme[] = "Bearer ";
    const size_t scheme_len = sizeof scheme - 1;
    bool ok = authorization != NULL && strncasecmp(authorization, scheme, scheme_len) == 0 &&
              strlen(authorization + scheme_len) == SP_TOKEN_LEN;
    for (size_t i = 0; ok && i < SP_TOKEN_LEN; i++) {
        ok = is_token_char(authorization[scheme_len + i]);
    }
    if (!ok) {
        return sp_error_set(err, 401, "unauthenticated", "",
                            "a valid session is required (Authorization: Bearer <token>)");
    }
    memcpy(token, authorization + scheme_len, SP_TOKEN_LEN + 1);
    return 0;
}

/* ------------------------------------------------------------------ paging */

static int parse_limit(const char *value, size_t len, int *limit, sp_error *err) {
    int n = 0;
    bool ok = len >= 1 && len <= 3;
    for (size_t i = 0; ok && i < len; i++) {
        ok = value[i] >= '0' && value[i] <= '9';
        n = n * 10 + (value[i] - '0');
    }
    if (!ok || n < 1 || n > SP_GW_PAGE_LIMIT_MAX) {
        return sp_error_set(err, 400, "invalid_value", "limit",
                            "limit must be an integer from 1 to %d", SP_GW_PAGE_LIMIT_MAX);
    }
    *limit = n;
    return 0;
}

static int page_param(const char *name, size_t name_len, const char *value, size_t value_len,
                      sp_gw_page *out, bool seen[2], sp_error *err) {
    char text[SP_GW_CURSOR_LEN_MAX + 1];
    if (name_len == 5 && strncmp(name, "limit", 5) == 0) {
        if (seen[0]) {
            return sp_error_set(err, 400, "invalid_value", "limit", "limit is given twice");
        }
        seen[0] = true;
        return parse_limit(value, value_len, &out->limit, err);
    }
    if (name_len == 6 && strncmp(name, "cursor", 6) == 0) {
        if (seen[1] || value_len > SP_GW_CURSOR_LEN_MAX) {
            return sp_error_set(err, 400, "invalid_value", "cursor", "cursor is not valid");
        }
        seen[1] = true;
        memcpy(text, value, value_len);
        text[value_len] = '\0';
        out->has_cursor = true;
        return sp_gw_cursor_decode(text, &out->after_occurred_at_ms, out->after_operation_id, err);
    }
    char field[SP_ERROR_FIELD_MAX];
    snprintf(field, sizeof field, "%.*s", (int)(name_len < 32 ? name_len : 32), name);
    return sp_error_set(err, 400, "unknown_field", field, "unknown query parameter %s", field);
}

int sp_gw_query_foreach(const char *query, size_t params_max, sp_gw_query_param_fn fn, void *ctx,
                        sp_error *err) {
    assert(fn != NULL);
    const char *p = query != NULL ? query : "";
    for (size_t count = 0; *p != '\0'; count++) {
        if (count == params_max) {
            return sp_error_set(err, 400, "invalid_value", "", "too many query parameters");
        }
        size_t len = strcspn(p, "&");
        const char *eq = memchr(p, '=', len);
        size_t name_len = eq != NULL ? (size_t)(eq - p) : len;
        const char *value = eq != NULL ? eq + 1 : p + len;
        size_t value_len = eq != NULL ? len - name_len - 1 : 0;
        if (len > 0 && fn(ctx, p, name_len, value, value_len, err) != 0) return -1;
        p += len;
        if (*p == '&') p++;
    }
    return 0;
}

typedef struct page_parse {
    sp_gw_page *out;
    bool seen[2];
} page_parse;

static int page_param_of(void *ctx, const char *name, size_t name_len, const char *value,
                         size_t value_len, sp_error *err) {
    page_parse *parse = ctx;
    return page_param(name, name_len, value, value_len, parse->out, parse->seen, err);
}

int sp_gw_page_parse(const char *query, sp_gw_page *out, sp_error *err) {
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    out->limit = SP_GW_PAGE_LIMIT_DEFAULT;
    page_parse parse = {.out = out, .seen = {false, false}};
    return sp_gw_query_foreach(query, SP_GW_QUERY_PARAMS_MAX, page_param_of, &parse, err);
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

void sp_gw_cursor_encode(int64_t occurred_at_ms, const char *operation_id, char *out) {
    assert(occurred_at_ms >= 0);
    assert(sp_id_valid(operation_id));
    assert(out != NULL);
    uint8_t bytes[SP_GW_CURSOR_BYTES];
    for (size_t i = 0; i < 8; i++) bytes[i] = (uint8_t)((uint64_t)occurred_at_ms >> (56 - 8 * i));
    size_t n = 8;
    for (const char *p = operation_id; *p != '\0'; p++) {
        if (*p == '-') continue;
        bytes[n++] = (uint8_t)(hex_value(p[0]) << 4 | hex_value(p[1]));
        p++;
    }
    assert(n == SP_GW_CURSOR_BYTES);
    sodium_bin2base64(out, SP_GW_CURSOR_LEN_MAX + 1, bytes, sizeof bytes,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int sp_gw_cursor_decode(const char *text, int64_t *occurred_at_ms, char *operation_id,
                        sp_error *err) {
    assert(text != NULL);
    assert(occurred_at_ms != NULL);
    assert(operation_id != NULL);
    static const char hex[] = "0123456789abcdef";
    uint8_t bytes[SP_GW_CURSOR_BYTES];
    size_t bin_len = 0;
    const char *end = NULL;
    /* libsodium reads some bytes outside the alphabet as letters of it (0xAB
     * as '_', found by tests/fuzz/fuzz_cursors.c): one page, one spelling. */
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t text_len = strlen(text);
    int rc = strspn(text, alphabet) == text_len
                 ? sodium_base642bin(bytes, sizeof bytes, text, text_len, NULL, &bin_len, &end,
                                     sodium_base64_VARIANT_URLSAFE_NO_PADDING)
                 : -1;
    bool ok = rc == 0 && bin_len == SP_GW_CURSOR_BYTES && end != NULL && *end == '\0';
    uint64_t ms = 0;
    for (size_t i = 0; ok && i < 8; i++) ms = ms << 8 | bytes[i];
    size_t pos = 0;
    for (size_t i = 8; ok && i < SP_GW_CURSOR_BYTES; i++) {
        if (i == 12 || i == 14 || i == 16 || i == 18) operation_id[pos++] = '-';
        operation_id[pos++] = hex[bytes[i] >> 4];
        operation_id[pos++] = hex[bytes[i] & 0x0f];
    }
    operation_id[pos] = '\0';
    if (!ok || ms > (uint64_t)INT64_MAX || !sp_id_valid(operation_id)) {
        operation_id[0] = '\0';
        return sp_error_set(err, 400, "invalid_value", "cursor",
                            "cursor is not valid: use next_cursor as returned");
    }
    *occurred_at_ms = (int64_t)ms;
    return 0;
}

/* ------------------------------------------------------------------ answers */

void sp_gw_instant_format(int64_t utc_ms, char *out) {
    assert(out != NULL);
    int64_t days = utc_ms / MS_PER_DAY;
    int64_t ms_of_day = utc_ms % MS_PER_DAY;
    if (ms_of_day < 0) { /* floor division for instants before 1970 */
        ms_of_day += MS_PER_DAY;
        days -= 1;
    }
    int year, month, day;
    sp_date_to_ymd((sp_date)days, &year, &month, &day);
    int64_t seconds = ms_of_day / 1000;
    /* Formatted wide, then cut: the compiler cannot see the calendar's ranges. */
    char text[SP_GW_INSTANT_BUFFER_BYTES];
    int len = snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year, month, day,
                       (int)(seconds / 3600), (int)(seconds / 60 % 60), (int)(seconds % 60),
                       (int)(ms_of_day % 1000));
    assert(len == SP_GW_INSTANT_LEN);
    (void)len;
    memcpy(out, text, SP_GW_INSTANT_LEN);
    out[SP_GW_INSTANT_LEN] = '\0';
}

void sp_gw_pass_ref(const char *pass_id, char *out) {
    assert(pass_id != NULL);
    assert(out != NULL);
    size_t len = strlen(pass_id);
    const char *tail = len > SP_GW_PASS_REF_LEN ? pass_id + len - SP_GW_PASS_REF_LEN : pass_id;
    snprintf(out, SP_GW_PASS_REF_LEN + 1, "%s", tail);
}

/* The message and field may end in a UTF-8 sequence cut by truncation:
 * drop its bytes rather than lose the whole text. */
static json_t *json_text(const char *text) {
    size_t len = strlen(text);
    for (size_t trimmed = 0; trimmed <= SP_GW_UTF8_TRIM_MAX && trimmed <= len; trimmed++) {
        json_t *value = json_stringn(text, len - trimmed);
        if (value != NULL) return value;
    }
    return json_string("");
}

const char *sp_gw_status_phrase(int status) {
    static const struct {
        int status;
        const char *phrase;
    } phrases[] = {{400, "Bad Request"},
                   {401, "Unauthorized"},
                   {403, "Forbidden"},
                   {404, "Not Found"},
                   {405, "Method Not Allowed"},
                   {409, "Conflict"},
                   {410, "Gone"},
                   {413, "Content Too Large"},
                   {415, "Unsupported Media Type"},
                   {422, "Unprocessable Content"},
                   {428, "Precondition Required"},
                   {429, "Too Many Requests"},
                   {500, "Internal Server Error"},
                   {503, "Service Unavailable"}};
    for (size_t i = 0; i < sizeof phrases / sizeof phrases[0]; i++) {
        if (phrases[i].status == status) return phrases[i].phrase;
    }
    return "Error";
}

json_t *sp_gw_problem_new(const sp_error *err) {
    assert(err != NULL);
    json_t *object = json_object();
    if (object == NULL) return NULL;
    int rc = json_object_set_new(object, "type", json_string("about:blank"));
    rc |= json_object_set_new(object, "title", json_string(sp_gw_status_phrase(err->http_status)));
    rc |= json_object_set_new(object, "status", json_integer(err->http_status));
    rc |= json_object_set_new(object, "detail", json_text(err->message));
    rc |= json_object_set_new(object, "code", json_text(err->code));
    rc |= json_object_set_new(object, "message", json_text(err->message));
    rc |= json_object_set_new(object, "field", json_text(err->field));
    if (rc != 0) {
        json_decref(object);
        return NULL;
    }
    return object;
}

char *sp_gw_error_json(const sp_error *err) {
    assert(err != NULL);
    json_t *object = sp_gw_problem_new(err);
    if (object == NULL) return NULL;
    char *text = json_dumps(object, JSON_COMPACT);
    json_decref(object);
    return text;
}

/* ------------------------------------------------------------------ operation filters */

/* Decodes %XX and '+' of a query value into out[out_size]; false when
 * malformed or too long. */
static bool query_decode(const char *value, size_t value_len, char *out, size_t out_size,
                         size_t *out_len) {
    size_t n = 0;
    for (size_t i = 0; i < value_len; i++) {
        if (n + 1 >= out_size) return false;
        char c = value[i];
        if (c == '%') {
            int hi = i + 2 < value_len ? hex_value((char)(value[i + 1] | 0x20)) : -1;
            int lo = hi >= 0 ? hex_value((char)(value[i + 2] | 0x20)) : -1;
            if (hi < 0 || lo < 0) return false;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        out[n++] = c;
    }
    out[n] = '\0';
    *out_len = n;
    return true;
}

typedef struct filter_parse {
    sp_gw_operations_filter *out;
    bool seen[SP_OPERATIONS_FILTER_COUNT];
    bool page_seen[2]; /* limit, cursor */
} filter_parse;

static int filter_param_of(void *ctx, const char *name, size_t name_len, const char *value,
                           size_t value_len, sp_error *err) {
    filter_parse *parse = ctx;
    sp_operations_filter_which which = sp_operations_filter_find(name, name_len);
    if (which == SP_OPERATIONS_FILTER_COUNT) {
        /* The paging parameters keep their own rules and words. */
        return page_param(name, name_len, value, value_len, &parse->out->page, parse->page_seen,
                          err);
    }
    const char *field = sp_operations_filter_name(which);
    if (parse->seen[which])
        return sp_error_set(err, 400, "invalid_value", field, "%s is given twice", field);
    parse->seen[which] = true;
    char text[SP_OPERATIONS_FILTER_TEXT_BYTES];
    size_t len = 0;
    if (!query_decode(value, value_len, text, sizeof text, &len) || memchr(text, '\0', len))
        return sp_error_set(err, 400, "invalid_value", field, "%s is not a valid value", field);
    return sp_operations_filter_set(which, text, len, &parse->out->filters, err);
}

int sp_gw_operations_filter_parse(const char *query, sp_gw_operations_filter *out, sp_error *err) {
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    out->page.limit = SP_GW_PAGE_LIMIT_DEFAULT;
    filter_parse parse = {.out = out, .seen = {false}, .page_seen = {false, false}};
    if (sp_gw_query_foreach(query, SP_GW_FILTER_PARAMS_MAX, filter_param_of, &parse, err) != 0)
        return -1;
    return sp_operations_filter_cross_check(&out->filters, err);
}
