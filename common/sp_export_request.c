/* sp_export_request.c - a partner export's kind and filters (see
 * sp_export_request.h). */
#include "sp_export_request.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include "sp_clock.h"

static const char *const refund_names[] = {"from", "to", "status", "kind"};
#define REFUND_FILTERS (sizeof refund_names / sizeof refund_names[0])

const char *sp_export_kind_name(sp_export_kind kind) {
    switch (kind) {
    case SP_EXPORT_OPERATIONS: return "operations";
    case SP_EXPORT_REFUND_REQUESTS: return "refund_requests";
    }
    return NULL;
}

bool sp_export_kind_parse(const char *text, sp_export_kind *out) {
    assert(text != NULL);
    assert(out != NULL);
    if (strcmp(text, "operations") == 0) {
        *out = SP_EXPORT_OPERATIONS;
    } else if (strcmp(text, "refund_requests") == 0) {
        *out = SP_EXPORT_REFUND_REQUESTS;
    } else {
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ refund filters */

static int refund_invalid(const char *name, const char *why, sp_error *err) {
    assert(name != NULL);
    assert(why != NULL);
    char field[SP_ERROR_FIELD_MAX];
    snprintf(field, sizeof field, "filters.%.48s", name);
    return sp_error_set(err, 422, "invalid_filter", field, "%.48s %s", name, why);
}

static bool one_of(const char *text, const char *const *choices, size_t count) {
    assert(text != NULL);
    assert(choices != NULL);
    for (size_t i = 0; i < count; i++) {
        if (strcmp(text, choices[i]) == 0) return true;
    }
    return false;
}

static int refund_member(size_t which, const char *text, sp_export_refund_filter *out,
                         sp_error *err) {
    assert(text != NULL);
    assert(out != NULL);
    static const char *const statuses[] = {"opening", "pending", "paid", "cancelled"};
    static const char *const kinds[] = {"manual", "automatic"};
    const char *name = refund_names[which];
    if (which <= 1) {
        sp_date date;
        sp_error ignored;
        if (strlen(text) != SP_OPERATIONS_FILTER_DATE_LEN ||
            sp_date_parse(text, &date, &ignored) != 0) {
            return refund_invalid(name, "must be a date YYYY-MM-DD", err);
        }
        sp_date_format(date, which == 0 ? out->from : out->to);
        return 0;
    }
    if (which == 2 && !one_of(text, statuses, 4)) {
        return refund_invalid(name, "must be opening, pending, paid or cancelled", err);
    }
    if (which == 3 && !one_of(text, kinds, 2)) {
        return refund_invalid(name, "must be manual or automatic", err);
    }
    snprintf(which == 2 ? out->status : out->kind, SP_OPERATIONS_FILTER_STATUS_MAX, "%s", text);
    return 0;
}

static int refund_filters_parse(const json_t *filters, sp_export_refund_filter *out,
                                sp_error *err) {
    assert(out != NULL);
    const char *name = NULL;
    const json_t *value = NULL;
    json_object_foreach((json_t *)filters, name, value) {
        size_t which = 0;
        while (which < REFUND_FILTERS && strcmp(refund_names[which], name) != 0) which++;
        if (which == REFUND_FILTERS) {
            return refund_invalid(name,
                                  "is not a filter of refund requests (from, to, "
                                  "status, kind)",
                                  err);
        }
        if (json_is_null(value)) continue;
        if (!json_is_string(value)) {
            return refund_invalid(refund_names[which], "must be a string", err);
        }
        if (refund_member(which, json_string_value(value), out, err) != 0) return -1;
    }
    if (out->from[0] != '\0' && out->to[0] != '\0' && strcmp(out->from, out->to) > 0) {
        return refund_invalid("from", "is after to", err);
    }
    return 0;
}

void sp_export_refund_filter_params(const sp_export_refund_filter *filter,
                                    const char *params[SP_EXPORT_REFUND_FILTER_PARAMS]) {
    assert(filter != NULL);
    assert(params != NULL);
    params[0] = filter->from[0] != '\0' ? filter->from : NULL;
    params[1] = filter->to[0] != '\0' ? filter->to : NULL;
    params[2] = filter->status[0] != '\0' ? filter->status : NULL;
    params[3] = filter->kind[0] != '\0' ? filter->kind : NULL;
}

/* ------------------------------------------------------------------ requests */

int sp_export_filters_parse(sp_export_kind kind, const json_t *filters, sp_export_request *out,
                            sp_error *err) {
    assert(out != NULL);
    assert(sp_export_kind_name(kind) != NULL);
    memset(out, 0, sizeof *out);
    out->kind = kind;
    if (kind == SP_EXPORT_OPERATIONS) {
        return sp_operations_filter_from_json(filters, &out->operations, err);
    }
    if (filters == NULL || json_is_null(filters)) return 0;
    if (!json_is_object(filters)) {
        sp_error_set(err, 422, "invalid_filter", "filters", "filters must be an object");
        return -1;
    }
    return refund_filters_parse(filters, &out->refunds, err);
}

static int set_text(json_t *object, const char *name, const char *text) {
    assert(object != NULL);
    assert(text != NULL);
    return text[0] != '\0' ? json_object_set_new(object, name, json_string(text)) : 0;
}

json_t *sp_export_filters_json(const sp_export_request *request) {
    assert(request != NULL);
    if (request->kind == SP_EXPORT_OPERATIONS) {
        return sp_operations_filter_json(&request->operations);
    }
    json_t *out = json_object();
    const sp_export_refund_filter *f = &request->refunds;
    if (out == NULL || set_text(out, "from", f->from) != 0 || set_text(out, "to", f->to) != 0 ||
        set_text(out, "status", f->status) != 0 || set_text(out, "kind", f->kind) != 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

void sp_export_id_of(const char *user_id, const char *key, char out[SP_ID_LEN + 1]) {
    assert(user_id != NULL);
    assert(key != NULL);
    assert(out != NULL);
    uint8_t digest[SP_KEY_LEN];
    sp_key_of(digest, "export", user_id, key, NULL);
    sp_id_from_key(digest, out);
    assert(sp_id_valid(out));
}
