/* sp_operations_filter.c - the filters of a partner's operations (see
 * sp_operations_filter.h). */
#include "sp_operations_filter.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "sp_clock.h"
#include "sp_text.h"

#define AMOUNT_DIGITS_MAX 15 /* 10^15 cents: beyond any balance */

static const char *const filter_names[SP_OPERATIONS_FILTER_COUNT] = {
    "from", "to", "status", "channel", "amount_min_cents", "amount_max_cents", "reference", "q"};

sp_operations_filter_which sp_operations_filter_find(const char *name, size_t name_len) {
    assert(name != NULL);
    int which = 0;
    while (which < SP_OPERATIONS_FILTER_COUNT &&
           (strlen(filter_names[which]) != name_len ||
            strncmp(filter_names[which], name, name_len) != 0)) {
        which++;
    }
    return (sp_operations_filter_which)which;
}

const char *sp_operations_filter_name(sp_operations_filter_which which) {
    assert(which >= 0);
    assert(which < SP_OPERATIONS_FILTER_COUNT);
    return filter_names[which];
}

int sp_operations_reference_check(const char *text, size_t byte_len, sp_error *err) {
    assert(text != NULL);
    if (!sp_text_utf8_valid(text, byte_len) || sp_text_has_control_char(text, byte_len) ||
        sp_text_utf8_char_count(text, byte_len) > SP_OPERATIONS_REFERENCE_LEN_MAX) {
        return sp_error_set(err, 400, "invalid_value", "reference",
                            "a reference is at most %d characters, without control characters",
                            SP_OPERATIONS_REFERENCE_LEN_MAX);
    }
    return 0;
}

static int filter_invalid(const char *field, const char *why, sp_error *err) {
    assert(field != NULL);
    assert(why != NULL);
    return sp_error_set(err, 400, "invalid_value", field, "%s %s", field, why);
}

static int filter_amount(const char *field, const char *text, size_t len, int64_t *out,
                         sp_error *err) {
    assert(text != NULL || len == 0);
    assert(out != NULL);
    bool ok = len >= 1 && len <= AMOUNT_DIGITS_MAX;
    int64_t n = 0;
    for (size_t i = 0; ok && i < len; i++) {
        ok = text[i] >= '0' && text[i] <= '9';
        n = n * 10 + (text[i] - '0');
    }
    if (!ok) return filter_invalid(field, "must be a non-negative integer of cents", err);
    *out = n;
    assert(n >= 0); /* at most AMOUNT_DIGITS_MAX digits: no overflow */
    return 0;
}

static int filter_choice(const char *field, const char *text, const char *a, const char *b,
                         char *out, sp_error *err) {
    assert(text != NULL);
    assert(out != NULL);
    if (strcmp(text, a) != 0 && strcmp(text, b) != 0) {
        return sp_error_set(err, 400, "invalid_value", field, "%s must be %s or %s", field, a, b);
    }
    snprintf(out, SP_OPERATIONS_FILTER_STATUS_MAX, "%s", text);
    return 0;
}

/* An operation's life: accepted, then requested and paid by a refund, or cancelled. */
static int filter_status(const char *field, const char *text, char *out, sp_error *err) {
    assert(text != NULL);
    assert(out != NULL);
    static const char *const statuses[] = {"accepted", "requested", "paid", "cancelled"};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        if (strcmp(text, statuses[i]) != 0) continue;
        snprintf(out, SP_OPERATIONS_FILTER_STATUS_MAX, "%s", text);
        return 0;
    }
    return sp_error_set(err, 400, "invalid_value", field,
                        "%s must be accepted, requested, paid or cancelled", field);
}

static int filter_date(const char *field, const char *text, char *out, sp_error *err) {
    assert(text != NULL);
    assert(out != NULL);
    sp_date date;
    sp_error ignored;
    if (strlen(text) != SP_OPERATIONS_FILTER_DATE_LEN ||
        sp_date_parse(text, &date, &ignored) != 0) {
        return filter_invalid(field, "must be a date YYYY-MM-DD", err);
    }
    sp_date_format(date, out);
    return 0;
}

/* '\\', '%' and '_' escaped so that q matches as plain text. */
static void like_escape(const char *text, char *out, size_t out_size) {
    assert(text != NULL);
    assert(out != NULL);
    assert(out_size >= 1);
    size_t n = 0;
    for (const char *p = text; *p != '\0' && n + 2 < out_size; p++) {
        if (*p == '\\' || *p == '%' || *p == '_') out[n++] = '\\';
        out[n++] = *p;
    }
    out[n] = '\0';
}

int sp_operations_filter_set(sp_operations_filter_which which, const char *text, size_t len,
                             sp_operations_filter *out, sp_error *err) {
    assert(text != NULL);
    assert(out != NULL);
    assert(memchr(text, '\0', len) == NULL);
    const char *field = sp_operations_filter_name(which);
    switch (which) {
    case SP_OPERATIONS_FILTER_FROM: return filter_date(field, text, out->from, err);
    case SP_OPERATIONS_FILTER_TO: return filter_date(field, text, out->to, err);
    case SP_OPERATIONS_FILTER_STATUS: return filter_status(field, text, out->status, err);
    case SP_OPERATIONS_FILTER_CHANNEL:
        return filter_choice(field, text, "code", "voucher", out->channel, err);
    case SP_OPERATIONS_FILTER_AMOUNT_MIN:
        out->has_amount_min = true;
        return filter_amount(field, text, len, &out->amount_cents_min, err);
    case SP_OPERATIONS_FILTER_AMOUNT_MAX:
        out->has_amount_max = true;
        return filter_amount(field, text, len, &out->amount_cents_max, err);
    default: break;
    }
    if (sp_operations_reference_check(text, len, err) != 0) {
        snprintf(err->field, sizeof err->field, "%s", field);
        return -1;
    }
    assert(len < sizeof out->q); /* the reference check bounds it */
    if (which == SP_OPERATIONS_FILTER_REFERENCE) {
        out->has_reference = true;
        memcpy(out->reference, text, len);
        out->reference[len] = '\0';
        return 0;
    }
    memcpy(out->q, text, len);
    out->q[len] = '\0';
    like_escape(out->q, out->q_pattern, sizeof out->q_pattern);
    return 0;
}

int sp_operations_filter_cross_check(const sp_operations_filter *filter, sp_error *err) {
    assert(filter != NULL);
    if (filter->from[0] != '\0' && filter->to[0] != '\0' && strcmp(filter->from, filter->to) > 0)
        return filter_invalid("from", "is after to", err);
    if (filter->has_amount_min && filter->has_amount_max &&
        filter->amount_cents_min > filter->amount_cents_max)
        return filter_invalid("amount_min_cents", "is above amount_max_cents", err);
    return 0;
}

/* ------------------------------------------------------------------ the JSON form */

/* An error of the JSON form: 422 invalid_filter, field "filters.<name>". */
static int filter_json_error(sp_error *err) {
    assert(err != NULL);
    char field[SP_ERROR_FIELD_MAX];
    snprintf(field, sizeof field, "filters%s%.48s", err->field[0] != '\0' ? "." : "", err->field);
    snprintf(err->field, sizeof err->field, "%s", field);
    snprintf(err->code, sizeof err->code, "invalid_filter");
    err->http_status = 422;
    return -1;
}

/* One member: amounts are JSON integers, the others strings; both then go
 * through the very checks of the query form. */
static int filter_member(const char *name, const json_t *value, sp_operations_filter *out,
                         sp_error *err) {
    assert(name != NULL);
    assert(out != NULL);
    sp_operations_filter_which which = sp_operations_filter_find(name, strlen(name));
    if (which == SP_OPERATIONS_FILTER_COUNT) {
        return sp_error_set(err, 400, "unknown_field", name, "%.48s is not a filter", name);
    }
    char text[SP_OPERATIONS_FILTER_TEXT_BYTES];
    size_t len = 0;
    bool amount = which == SP_OPERATIONS_FILTER_AMOUNT_MIN ||
                  which == SP_OPERATIONS_FILTER_AMOUNT_MAX;
    if (amount && json_is_integer(value)) {
        len = (size_t)snprintf(text, sizeof text, "%" JSON_INTEGER_FORMAT,
                               json_integer_value(value));
    } else if (!amount && json_is_string(value) && json_string_length(value) < sizeof text) {
        len = json_string_length(value);
        memcpy(text, json_string_value(value), len + 1);
    } else if (!amount && json_is_string(value)) {
        return filter_invalid(name, "is too long", err);
    } else {
        return sp_error_set(err, 400, "invalid_type", name, "%s must be %s", name,
                            amount ? "an integer of cents" : "a string");
    }
    if (memchr(text, '\0', len) != NULL) return filter_invalid(name, "is not a valid value", err);
    return sp_operations_filter_set(which, text, len, out, err);
}

int sp_operations_filter_from_json(const json_t *filters, sp_operations_filter *out,
                                   sp_error *err) {
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    if (filters == NULL || json_is_null(filters)) return 0;
    if (!json_is_object(filters)) {
        sp_error_set(err, 400, "invalid_type", "", "filters must be an object");
        return filter_json_error(err);
    }
    if (json_object_size(filters) > SP_OPERATIONS_FILTERS_MAX) {
        sp_error_set(err, 400, "invalid_value", "", "too many filters");
        return filter_json_error(err);
    }
    const char *name = NULL;
    const json_t *value = NULL;
    json_object_foreach((json_t *)filters, name, value) {
        if (json_is_null(value)) continue; /* null means absent, as in bodies */
        if (filter_member(name, value, out, err) != 0) return filter_json_error(err);
    }
    if (sp_operations_filter_cross_check(out, err) != 0) return filter_json_error(err);
    return 0;
}

/* name: text, when set. */
static int put_text(json_t *object, const char *name, const char *text, bool set) {
    assert(object != NULL);
    assert(!set || text != NULL);
    return set ? json_object_set_new(object, name, json_string(text)) : 0;
}

static int put_cents(json_t *object, const char *name, int64_t cents, bool set) {
    assert(object != NULL);
    assert(!set || cents >= 0);
    return set ? json_object_set_new(object, name, json_integer(cents)) : 0;
}

json_t *sp_operations_filter_json(const sp_operations_filter *filter) {
    assert(filter != NULL);
    const sp_operations_filter *f = filter;
    json_t *out = json_object();
    if (out == NULL || put_text(out, "from", f->from, f->from[0] != '\0') != 0 ||
        put_text(out, "to", f->to, f->to[0] != '\0') != 0 ||
        put_text(out, "status", f->status, f->status[0] != '\0') != 0 ||
        put_text(out, "channel", f->channel, f->channel[0] != '\0') != 0 ||
        put_cents(out, "amount_min_cents", f->amount_cents_min, f->has_amount_min) != 0 ||
        put_cents(out, "amount_max_cents", f->amount_cents_max, f->has_amount_max) != 0 ||
        put_text(out, "reference", f->reference, f->has_reference) != 0 ||
        put_text(out, "q", f->q, f->q[0] != '\0') != 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

void sp_operations_filter_params(const sp_operations_filter *filter,
                                 char texts[2][SP_OPERATIONS_FILTER_AMOUNT_TEXT_MAX],
                                 const char *params[SP_OPERATIONS_FILTER_PARAMS]) {
    assert(filter != NULL);
    assert(texts != NULL);
    assert(params != NULL);
    snprintf(texts[0], SP_OPERATIONS_FILTER_AMOUNT_TEXT_MAX, "%" PRId64, filter->amount_cents_min);
    snprintf(texts[1], SP_OPERATIONS_FILTER_AMOUNT_TEXT_MAX, "%" PRId64, filter->amount_cents_max);
    params[0] = filter->from[0] != '\0' ? filter->from : NULL;
    params[1] = filter->to[0] != '\0' ? filter->to : NULL;
    params[2] = filter->status[0] != '\0' ? filter->status : NULL;
    params[3] = filter->channel[0] != '\0' ? filter->channel : NULL;
    params[4] = filter->has_amount_min ? texts[0] : NULL;
    params[5] = filter->has_amount_max ? texts[1] : NULL;
    params[6] = filter->has_reference ? filter->reference : NULL;
    params[7] = filter->q[0] != '\0' ? filter->q_pattern : NULL;
}
