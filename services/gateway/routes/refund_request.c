/* refund_request.c - pure checks of the refund-request endpoints (see
 * refund_request.h). */
#include "refund_request.h"
#include "json_limits.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>

#define SELECTION_QUERY_BYTES_MAX 4096 /* the "all" filters as a query string */
#define NUMBER_TEXT_MAX 24

static const char *const filter_names[] = {
    "from", "to", "channel", "amount_min_cents", "amount_max_cents", "reference", "q"};
#define FILTER_NAME_COUNT (sizeof filter_names / sizeof filter_names[0])

static bool is_filter_name(const char *name) {
    assert(name != NULL);
    for (size_t i = 0; i < FILTER_NAME_COUNT; i++)
        if (strcmp(name, filter_names[i]) == 0) return true;
    return false;
}

/* ------------------------------------------------------------------ the selection */

static int selection_bounds(size_t count, sp_error *err) {
    if (count == 0)
        return sp_error_set(err, 422, "empty_selection", "operation_ids",
                            "no accepted operation is selected");
    if (count > SP_REFUND_REQUEST_OPERATIONS_MAX)
        return sp_error_set(err, 422, "selection_too_large", "operation_ids",
                            "at most %d operations per refund request",
                            SP_REFUND_REQUEST_OPERATIONS_MAX);
    return 0;
}

static int selection_ids(const json_t *ids, sp_gw_refund_selection *out, sp_error *err) {
    assert(out != NULL);
    if (!json_is_array(ids))
        return sp_error_set(err, 400, "invalid_type", "operation_ids",
                            "operation_ids is a list of ids");
    size_t count = json_array_size(ids);
    if (selection_bounds(count, err) != 0) return -1;
    for (size_t i = 0; i < count; i++) {
        const char *id = json_string_value(json_array_get(ids, i));
        if (id == NULL || strlen(id) != SP_ID_LEN || !sp_id_valid(id))
            return sp_error_set(err, 400, "invalid_value", "operation_ids",
                                "operation_ids[%zu] is not an operation id", i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(id, out->ids[j]) == 0)
                return sp_error_set(err, 400, "invalid_value", "operation_ids",
                                    "operation %s appears twice", id);
        memcpy(out->ids[i], id, SP_ID_LEN + 1);
    }
    out->id_count = count;
    return 0;
}

/* Appends "&name=value" with the value percent-encoded. */
static int query_append(char *out, size_t size, size_t *used, const char *name, const char *value) {
    assert(out != NULL);
    assert(used != NULL);
    assert(*used < size);
    assert(name != NULL);
    assert(value != NULL);
    int n = snprintf(out + *used, size - *used, "%s%s=", *used ? "&" : "", name);
    if (n < 0 || (size_t)n >= size - *used) return -1;
    *used += (size_t)n;
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.';
        n = plain ? snprintf(out + *used, size - *used, "%c", *p)
                  : snprintf(out + *used, size - *used, "%%%02X", *p);
        if (n < 0 || (size_t)n >= size - *used) return -1;
        *used += (size_t)n;
        assert(*used < size); /* room left for the NUL */
    }
    return 0;
}

/* The body's filters as the operations listing's query string, so that
 * "all" means exactly what the listing shows (and is checked the same way). */
static int selection_filter(const json_t *root, sp_gw_refund_selection *out, sp_error *err) {
    assert(out != NULL);
    if (!json_is_true(json_object_get(root, "all")))
        return sp_error_set(err, 400, "invalid_value", "all", "all must be true");
    char query[SELECTION_QUERY_BYTES_MAX] = "";
    size_t used = 0;
    for (size_t i = 0; i < FILTER_NAME_COUNT; i++) {
        const json_t *value = json_object_get(root, filter_names[i]);
        char number[NUMBER_TEXT_MAX];
        const char *text = json_string_value(value);
        if (value == NULL) continue;
        if (json_is_integer(value)) {
            snprintf(number, sizeof number, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
            text = number;
        }
        if (text == NULL)
            return sp_error_set(err, 400, "invalid_type", filter_names[i],
                                "%s must be a string or an integer", filter_names[i]);
        if (query_append(query, sizeof query, &used, filter_names[i], text) != 0)
            return sp_error_set(err, 400, "invalid_value", filter_names[i], "%s is too long",
                                filter_names[i]);
    }
    out->all = true;
    return sp_gw_operations_filter_parse(query, &out->filter, err);
}

static int selection_fields(const json_t *root, sp_error *err) {
    const char *name;
    json_t *value;
    json_object_foreach((json_t *)root, name, value) {
        if (strcmp(name, "operation_ids") == 0 || strcmp(name, "all") == 0 || is_filter_name(name))
            continue;
        return sp_error_set(err, 400, "unknown_field", name, "unknown field %.40s", name);
    }
    bool has_ids = json_object_get(root, "operation_ids") != NULL;
    bool all = json_object_get(root, "all") != NULL;
    if (has_ids == all || (has_ids && json_object_size(root) != 1))
        return sp_error_set(err, 400, "missing_field", "operation_ids",
                            "give operation_ids alone, or all: true with the operations' filters");
    return 0;
}

int sp_gw_refund_selection_parse(const char *body, size_t len, sp_gw_refund_selection *out,
                                 sp_error *err) {
    assert(body != NULL);
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    if (sp_gw_json_depth_check(body, len, SP_GW_JSON_DEPTH_MAX, err) != 0) return -1;
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    int rc = -1;
    if (!json_is_object(root)) {
        sp_error_set(err, 400, "malformed_json", "", "the body must be one JSON object");
    } else if (selection_fields(root, err) == 0) {
        const json_t *ids = json_object_get(root, "operation_ids");
        rc = ids != NULL ? selection_ids(ids, out, err) : selection_filter(root, out, err);
    }
    json_decref(root);
    return rc;
}

void sp_gw_refund_ids_array(const sp_gw_refund_selection *selection, char *out) {
    assert(selection != NULL);
    assert(out != NULL);
    size_t used = 0;
    out[used++] = '{';
    for (size_t i = 0; i < selection->id_count; i++) {
        if (i > 0) out[used++] = ',';
        memcpy(out + used, selection->ids[i], SP_ID_LEN);
        used += SP_ID_LEN;
    }
    out[used++] = '}';
    out[used] = '\0';
    assert(used < SP_GW_REFUND_IDS_ARRAY_BYTES);
}

/* ------------------------------------------------------------------ the listing */

static bool is_request_status(const char *text) {
    assert(text != NULL);
    return strcmp(text, "opening") == 0 || strcmp(text, "pending") == 0 ||
           strcmp(text, "paid") == 0 || strcmp(text, "cancelled") == 0;
}

typedef struct refunds_parse {
    bool finance;
    sp_gw_refunds_filter *out;
    char page_query[2 * SP_GW_CURSOR_LEN_MAX + 64]; /* limit and cursor */
    size_t page_used;
} refunds_parse;

/* status and partner_id here; limit, cursor and anything else to page_query. */
static int refunds_param(void *ctx, const char *name, size_t name_len, const char *value,
                         size_t value_len, sp_error *err) {
    assert(ctx != NULL);
    assert(name != NULL);
    refunds_parse *parse = ctx;
    sp_gw_refunds_filter *out = parse->out;
    /* Both values are shorter than an id; a longer one is cut and then refused. */
    char text[SP_ID_LEN + 2];
    size_t kept = value_len < sizeof text - 1 ? value_len : sizeof text - 1;
    memcpy(text, value, kept);
    text[kept] = '\0';
    if (name_len == 6 && strncmp(name, "status", 6) == 0) {
        if (!is_request_status(text) || value_len != kept || out->status[0] != '\0')
            return sp_error_set(err, 400, "invalid_value", "status",
                                "status must be given once: opening, pending, paid or cancelled");
        memcpy(out->status, text, kept + 1);
        return 0;
    }
    if (parse->finance && name_len == 10 && strncmp(name, "partner_id", 10) == 0) {
        if (value_len != SP_ID_LEN || !sp_id_valid(text) || out->partner_id[0] != '\0')
            return sp_error_set(err, 400, "invalid_value", "partner_id",
                                "partner_id must be given once, a partner id");
        memcpy(out->partner_id, text, SP_ID_LEN + 1);
        return 0;
    }
    size_t size = sizeof parse->page_query - parse->page_used;
    int n = snprintf(parse->page_query + parse->page_used, size, "%s%.*s=%.*s",
                     parse->page_used ? "&" : "", (int)name_len, name, (int)value_len, value);
    if (n < 0 || (size_t)n >= size)
        return sp_error_set(err, 400, "invalid_value", "", "the query string is too long");
    parse->page_used += (size_t)n;
    return 0;
}

int sp_gw_refunds_filter_parse(const char *query, bool finance, sp_gw_refunds_filter *out,
                               sp_error *err) {
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    refunds_parse parse = {.finance = finance, .out = out, .page_query = "", .page_used = 0};
    if (sp_gw_query_foreach(query, SP_GW_FILTER_PARAMS_MAX, refunds_param, &parse, err) != 0)
        return -1;
    return sp_gw_page_parse(parse.page_query, &out->page, err);
}

/* ------------------------------------------------------------------ transfers */

int sp_gw_transfer_reference_check(const char *text, sp_error *err) {
    assert(text != NULL);
    static const char allowed[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "0123456789/-?:().,'+ ";
    size_t len = strlen(text);
    if (len >= 1 && len <= SP_GW_TRANSFER_REFERENCE_CHARS_MAX && strspn(text, allowed) == len)
        return 0;
    return sp_error_set(err, 422, "invalid_transfer_reference", "transfer_reference",
                        "a transfer reference is 1 to %d of A-Z a-z 0-9 / - ? : ( ) . , ' + "
                        "and space",
                        SP_GW_TRANSFER_REFERENCE_CHARS_MAX);
}
