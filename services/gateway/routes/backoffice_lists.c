/* backoffice_lists.c - the back-office lists' query strings and cursors
 * (see backoffice_lists.h). Decoding, q's rules and the cursor's bytes are
 * the operations listing's (validate.c), reached through its parsers so
 * that each rule is written once. */
#include "backoffice_lists.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

/* The longest raw value handed on: a percent-encoded q of 100 characters. */
#define RAW_QUERY_BYTES_MAX (3 * SP_OPERATIONS_FILTER_TEXT_BYTES + 8)

/* ------------------------------------------------------------------ cursor */

void sp_gw_list_cursor_encode(sp_gw_list list, const char *id, char *out) {
    assert(list == SP_GW_LIST_BENEFICIARIES || list == SP_GW_LIST_PARTNERS);
    assert(sp_id_valid(id));
    sp_gw_cursor_encode((int64_t)list, id, out);
}

/* The operations' cursor parser reads the bytes; the tag says whose it is. */
static int cursor_param(sp_gw_list list, const char *value, size_t value_len, sp_gw_list_page *page,
                        sp_error *err) {
    assert(list == SP_GW_LIST_BENEFICIARIES || list == SP_GW_LIST_PARTNERS);
    assert(page != NULL);
    char query[SP_GW_CURSOR_LEN_MAX + 16];
    if (page->has_cursor || value_len > SP_GW_CURSOR_LEN_MAX)
        return sp_error_set(err, 400, "invalid_value", "cursor",
                            "cursor is not valid: use next_cursor as returned");
    snprintf(query, sizeof query, "cursor=%.*s", (int)value_len, value);
    sp_gw_page decoded;
    if (sp_gw_page_parse(query, &decoded, err) != 0) return -1;
    if (!decoded.has_cursor || decoded.after_occurred_at_ms != (int64_t)list)
        return sp_error_set(err, 400, "invalid_value", "cursor",
                            "cursor is not valid: use next_cursor as returned");
    page->has_cursor = true;
    memcpy(page->after_id, decoded.after_operation_id, SP_ID_LEN + 1);
    return 0;
}

static int limit_param(const char *value, size_t value_len, int limit_max, bool *seen,
                       sp_gw_list_page *page, sp_error *err) {
    assert(limit_max >= 1);
    assert(limit_max <= 999); /* what 3 digits can say */
    int n = 0;
    bool ok = !*seen && value_len >= 1 && value_len <= 3;
    for (size_t i = 0; ok && i < value_len; i++) {
        ok = value[i] >= '0' && value[i] <= '9';
        n = n * 10 + (value[i] - '0');
    }
    if (!ok || n < 1 || n > limit_max)
        return sp_error_set(err, 400, "invalid_value", "limit",
                            "limit must be given once, an integer from 1 to %d", limit_max);
    *seen = true;
    page->limit = n;
    return 0;
}

/* ------------------------------------------------------------------ q */

static int search_param(const char *value, size_t value_len, sp_gw_list_search *out,
                        sp_error *err) {
    assert(out != NULL);
    char query[RAW_QUERY_BYTES_MAX];
    if (out->q[0] != '\0') return sp_error_set(err, 400, "invalid_value", "q", "q is given twice");
    if (value_len + 3 > sizeof query)
        return sp_error_set(err, 400, "invalid_value", "q", "q is too long");
    snprintf(query, sizeof query, "q=%.*s", (int)value_len, value);
    sp_gw_operations_filter parsed;
    if (sp_gw_operations_filter_parse(query, &parsed, err) != 0) return -1;
    memcpy(out->q, parsed.filters.q, sizeof out->q);
    memcpy(out->q_pattern, parsed.filters.q_pattern, sizeof out->q_pattern);
    return 0;
}

/* A short value (one of a few words, or a category) as text; too long is
 * cut to a text no list accepts. */
static void short_value(const char *value, size_t value_len, char *out, size_t out_size) {
    assert(value != NULL || value_len == 0);
    assert(out_size >= 1);
    size_t kept = value_len < out_size - 1 ? value_len : out_size - 1;
    memcpy(out, value, kept);
    out[kept] = '\0';
    if (kept < value_len) out[0] = '\0';
}

static bool is_name(const char *name, size_t name_len, const char *expected) {
    return name_len == strlen(expected) && strncmp(name, expected, name_len) == 0;
}

static int unknown_param(const char *name, size_t name_len, sp_error *err) {
    char field[SP_ERROR_FIELD_MAX];
    snprintf(field, sizeof field, "%.*s", (int)(name_len < 32 ? name_len : 32), name);
    return sp_error_set(err, 400, "unknown_field", field, "unknown query parameter %s", field);
}

/* ------------------------------------------------------------------ beneficiaries */

typedef struct beneficiaries_parse {
    sp_gw_beneficiaries_query *out;
    bool status_seen, limit_seen;
} beneficiaries_parse;

static int beneficiaries_status(const char *value, size_t value_len, beneficiaries_parse *parse,
                                sp_error *err) {
    char text[8];
    short_value(value, value_len, text, sizeof text);
    bool known = strcmp(text, "open") == 0 || strcmp(text, "closed") == 0 ||
                 strcmp(text, "all") == 0;
    if (parse->status_seen || !known)
        return sp_error_set(err, 400, "invalid_value", "status",
                            "status must be given once: open, closed or all");
    parse->status_seen = true;
    assert(strlen(text) < sizeof parse->out->status);
    if (strcmp(text, "all") != 0) memcpy(parse->out->status, text, strlen(text) + 1);
    return 0;
}

static int beneficiaries_category(const char *value, size_t value_len,
                                  sp_gw_beneficiaries_query *out, sp_error *err) {
    char text[SP_GW_CATEGORY_LEN_MAX + 1];
    if (out->category[0] != '\0')
        return sp_error_set(err, 400, "invalid_value", "category", "category is given twice");
    short_value(value, value_len, text, sizeof text);
    if (sp_gw_category_check(text, "category", true, err) != 0) return -1;
    assert(strlen(text) < sizeof out->category);
    memcpy(out->category, text, strlen(text) + 1);
    return 0;
}

static int beneficiaries_param(void *ctx, const char *name, size_t name_len, const char *value,
                               size_t value_len, sp_error *err) {
    beneficiaries_parse *parse = ctx;
    assert(parse != NULL);
    sp_gw_beneficiaries_query *out = parse->out;
    if (is_name(name, name_len, "q")) return search_param(value, value_len, &out->search, err);
    if (is_name(name, name_len, "status"))
        return beneficiaries_status(value, value_len, parse, err);
    if (is_name(name, name_len, "category"))
        return beneficiaries_category(value, value_len, out, err);
    if (is_name(name, name_len, "limit"))
        return limit_param(value, value_len, SP_GW_BENEFICIARIES_LIMIT_MAX, &parse->limit_seen,
                           &out->page, err);
    if (is_name(name, name_len, "cursor"))
        return cursor_param(SP_GW_LIST_BENEFICIARIES, value, value_len, &out->page, err);
    return unknown_param(name, name_len, err);
}

int sp_gw_beneficiaries_query_parse(const char *query, sp_gw_beneficiaries_query *out,
                                    sp_error *err) {
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    out->page.limit = SP_GW_BENEFICIARIES_LIMIT_DEFAULT;
    beneficiaries_parse parse = {.out = out};
    return sp_gw_query_foreach(query, SP_GW_LIST_PARAMS_MAX, beneficiaries_param, &parse, err);
}

/* ------------------------------------------------------------------ partners */

typedef struct partners_parse {
    sp_gw_partners_query *out;
    bool limit_seen;
} partners_parse;

static int partners_state(const char *value, size_t value_len, sp_gw_partners_query *out,
                          sp_error *err) {
    static const char *const states[] = {"not_activated", "convention_pending",
                                         "bank_details_missing", "owed"};
    char text[SP_GW_LIST_STATE_MAX];
    short_value(value, value_len, text, sizeof text);
    bool known = false;
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
        known = known || strcmp(text, states[i]) == 0;
    if (out->state[0] != '\0' || !known)
        return sp_error_set(err, 400, "invalid_value", "state",
                            "state must be given once: not_activated, convention_pending, "
                            "bank_details_missing or owed");
    assert(strlen(text) < sizeof out->state);
    memcpy(out->state, text, strlen(text) + 1);
    return 0;
}

static int partners_param(void *ctx, const char *name, size_t name_len, const char *value,
                          size_t value_len, sp_error *err) {
    partners_parse *parse = ctx;
    assert(parse != NULL);
    sp_gw_partners_query *out = parse->out;
    if (is_name(name, name_len, "q")) return search_param(value, value_len, &out->search, err);
    if (is_name(name, name_len, "state")) return partners_state(value, value_len, out, err);
    if (is_name(name, name_len, "limit"))
        return limit_param(value, value_len, SP_GW_PARTNERS_LIMIT_MAX, &parse->limit_seen,
                           &out->page, err);
    if (is_name(name, name_len, "cursor"))
        return cursor_param(SP_GW_LIST_PARTNERS, value, value_len, &out->page, err);
    return unknown_param(name, name_len, err);
}

int sp_gw_partners_query_parse(const char *query, sp_gw_partners_query *out, sp_error *err) {
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    out->page.limit = SP_GW_PARTNERS_LIMIT_DEFAULT;
    partners_parse parse = {.out = out};
    return sp_gw_query_foreach(query, SP_GW_LIST_PARAMS_MAX, partners_param, &parse, err);
}
