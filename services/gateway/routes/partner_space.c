/* partner_space.c - contact block, SSE framing and stream bookkeeping of the
 * partner space (see partner_space.h). */
#include "partner_space.h"

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "validate.h"

/* ------------------------------------------------------------------ contact */

/* Valid UTF-8, no control character, chars_min..chars_max characters. */
static bool text_ok(const char *text, size_t chars_min, size_t chars_max) {
    size_t chars = 0;
    const unsigned char *s = (const unsigned char *)text;
    while (*s != '\0') {
        size_t n = *s < 0x80           ? 1
                   : (*s >> 5) == 0x6  ? 2
                   : (*s >> 4) == 0xE  ? 3
                   : (*s >> 3) == 0x1E ? 4
                                       : 0;
        if (n == 0 || *s < 0x20 || *s == 0x7F) return false;
        for (size_t i = 1; i < n; i++) {
            if ((s[i] & 0xC0) != 0x80) return false;
        }
        s += n;
        if (++chars > chars_max) return false;
    }
    return chars >= chars_min;
}

static int phone_parse(const char *start, size_t len, char *out, sp_error *err) {
    while (len > 0 && *start == ' ') {
        start++;
        len--;
    }
    while (len > 0 && start[len - 1] == ' ') len--;
    size_t digits = 0;
    for (size_t i = 0; i < len; i++) {
        if (strchr("0123456789+.()- ", start[i]) == NULL) len = 0;
        if (start[i] >= '0' && start[i] <= '9') digits++;
    }
    if (len < SP_GW_CONTACT_PHONE_LEN_MIN || len > SP_GW_CONTACT_PHONE_LEN_MAX || digits < 4) {
        return sp_error_set(err, 500, "invalid_config", "SP_CONTACT_PHONES",
                            "each phone number must be %d to %d characters of digits, spaces "
                            "and + . ( ) -, with at least 4 digits",
                            SP_GW_CONTACT_PHONE_LEN_MIN, SP_GW_CONTACT_PHONE_LEN_MAX);
    }
    memcpy(out, start, len);
    out[len] = '\0';
    return 0;
}

static int phones_parse(const char *phones, sp_gw_contact *out, sp_error *err) {
    if (strlen(phones) > SP_GW_CONTACT_PHONES_TEXT_MAX) {
        return sp_error_set(err, 500, "invalid_config", "SP_CONTACT_PHONES",
                            "SP_CONTACT_PHONES is longer than %d bytes",
                            SP_GW_CONTACT_PHONES_TEXT_MAX);
    }
    const char *s = phones;
    for (size_t i = 0; i < SP_GW_CONTACT_PHONES_MAX; i++) {
        const char *end = strchr(s, ';');
        size_t len = end != NULL ? (size_t)(end - s) : strlen(s);
        if (phone_parse(s, len, out->phones[i], err) != 0) return -1;
        out->phone_count = i + 1;
        if (end == NULL) return 0;
        s = end + 1;
    }
    return sp_error_set(err, 500, "invalid_config", "SP_CONTACT_PHONES",
                        "at most %d phone numbers, separated by ';'", SP_GW_CONTACT_PHONES_MAX);
}

int sp_gw_contact_parse(const char *hours, const char *email, const char *phones,
                        sp_gw_contact *out, sp_error *err) {
    assert(hours != NULL);
    assert(email != NULL);
    assert(phones != NULL);
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    if (!text_ok(hours, 1, SP_GW_CONTACT_HOURS_CHARS_MAX)) {
        return sp_error_set(err, 500, "invalid_config", "SP_CONTACT_HOURS",
                            "SP_CONTACT_HOURS must be 1 to %d characters of UTF-8 without "
                            "control characters",
                            SP_GW_CONTACT_HOURS_CHARS_MAX);
    }
    snprintf(out->hours, sizeof out->hours, "%s", hours);
    if (sp_gw_email_normalize(email, "SP_CONTACT_EMAIL", out->email, err) != 0) {
        return sp_error_set(err, 500, "invalid_config", "SP_CONTACT_EMAIL",
                            "SP_CONTACT_EMAIL is not an e-mail address");
    }
    return phones_parse(phones, out, err);
}

json_t *sp_gw_contact_json(const sp_gw_contact *contact) {
    assert(contact != NULL);
    assert(contact->phone_count <= SP_GW_CONTACT_PHONES_MAX);
    json_t *phones = json_array();
    for (size_t i = 0; phones != NULL && i < contact->phone_count; i++) {
        if (json_array_append_new(phones, json_string(contact->phones[i])) != 0) {
            json_decref(phones);
            return NULL;
        }
    }
    if (phones == NULL) return NULL;
    return json_pack("{s:s, s:s, s:o}", "hours", contact->hours, "email", contact->email, "phones",
                     phones);
}

/* ------------------------------------------------------------------ SSE */

void sp_gw_sse_id_format(int64_t occurred_at_ms, const char *operation_id, char *out) {
    assert(operation_id != NULL);
    assert(out != NULL);
    snprintf(out, SP_GW_SSE_ID_LEN_MAX + 1, "%" PRId64 "|%s", occurred_at_ms, operation_id);
}

int sp_gw_sse_id_parse(const char *text, int64_t *occurred_at_ms, char operation_id[SP_ID_LEN + 1],
                       sp_error *err) {
    assert(text != NULL);
    assert(occurred_at_ms != NULL);
    assert(operation_id != NULL);
    const char *bar = strchr(text, '|');
    size_t digits = bar != NULL ? (size_t)(bar - text) : 0;
    bool ok = digits >= 1 && digits <= 15 && strlen(bar + 1) == SP_ID_LEN;
    int64_t ms = 0;
    for (size_t i = 0; ok && i < digits; i++) {
        ok = text[i] >= '0' && text[i] <= '9';
        ms = ms * 10 + (text[i] - '0');
    }
    if (ok) {
        memcpy(operation_id, bar + 1, SP_ID_LEN);
        operation_id[SP_ID_LEN] = '\0';
        ok = sp_id_valid(operation_id);
    }
    if (!ok) {
        return sp_error_set(err, 400, "invalid_value", "Last-Event-ID",
                            "Last-Event-ID must be an event id this stream sent");
    }
    *occurred_at_ms = ms;
    return 0;
}

char *sp_gw_sse_event_format(const char *id, const char *name, const char *data, size_t *len) {
    assert(id != NULL);
    assert(name != NULL);
    assert(data != NULL);
    assert(len != NULL);
    if (strpbrk(id, "\r\n") != NULL || strpbrk(name, "\r\n") != NULL ||
        strpbrk(data, "\r\n") != NULL) {
        return NULL;
    }
    size_t size = strlen(id) + strlen(name) + strlen(data) + 32;
    char *out = malloc(size);
    if (out == NULL) return NULL;
    int n = snprintf(out, size, "id: %s\nevent: %s\ndata: %s\n\n", id, name, data);
    assert(n > 0);
    assert((size_t)n < size);
    *len = (size_t)n;
    return out;
}

void sp_gw_sse_sent_init(sp_gw_sse_sent *sent) {
    assert(sent != NULL);
    memset(sent, 0, sizeof *sent);
}

bool sp_gw_sse_sent_has(const sp_gw_sse_sent *sent, const char *operation_id) {
    assert(sent != NULL);
    assert(operation_id != NULL);
    assert(sent->count <= SP_GW_SSE_SENT_MAX);
    for (size_t i = 0; i < sent->count; i++) {
        if (strcmp(sent->ids[i], operation_id) == 0) return true;
    }
    return false;
}

void sp_gw_sse_sent_add(sp_gw_sse_sent *sent, const char *operation_id) {
    assert(sent != NULL);
    assert(operation_id != NULL);
    assert(strlen(operation_id) <= SP_ID_LEN);
    snprintf(sent->ids[sent->next], sizeof sent->ids[sent->next], "%s", operation_id);
    sent->next = (sent->next + 1) % SP_GW_SSE_SENT_MAX;
    if (sent->count < SP_GW_SSE_SENT_MAX) sent->count++;
}

void sp_gw_sse_sent_array(const sp_gw_sse_sent *sent, char out[SP_GW_SSE_SENT_ARRAY_MAX + 1]) {
    assert(sent != NULL);
    assert(out != NULL);
    assert(sent->count <= SP_GW_SSE_SENT_MAX);
    size_t len = 0;
    out[len++] = '{';
    for (size_t i = 0; i < sent->count; i++) {
        if (i > 0) out[len++] = ',';
        size_t id_len = strlen(sent->ids[i]);
        memcpy(out + len, sent->ids[i], id_len);
        len += id_len;
    }
    out[len++] = '}';
    out[len] = '\0';
    assert(len <= SP_GW_SSE_SENT_ARRAY_MAX);
}

/* ------------------------------------------------------------------ stream slots */

/* How many streams a partner has open; one entry per partner with any. */
typedef struct stream_owner {
    char partner_id[SP_ID_LEN + 1];
    int64_t open;
} stream_owner;

struct sp_gw_streams {
    pthread_mutex_t lock;
    int64_t open;
    int64_t max;
    atomic_bool stopping;
    stream_owner *owners; /* max entries: each open stream has an owner */
};

sp_gw_streams *sp_gw_streams_new(int64_t max) {
    assert(max >= 0);
    sp_gw_streams *streams = calloc(1, sizeof *streams);
    if (streams == NULL) return NULL;
    streams->owners = calloc(max > 0 ? (size_t)max : 1, sizeof *streams->owners);
    if (streams->owners == NULL || pthread_mutex_init(&streams->lock, NULL) != 0) {
        free(streams->owners);
        free(streams);
        return NULL;
    }
    streams->max = max;
    atomic_init(&streams->stopping, false);
    return streams;
}

void sp_gw_streams_free(sp_gw_streams *streams) {
    if (streams == NULL) return;
    assert(streams->open == 0);
    pthread_mutex_destroy(&streams->lock);
    free(streams->owners);
    free(streams);
}

bool sp_gw_streams_enter(sp_gw_streams *streams) {
    assert(streams != NULL);
    pthread_mutex_lock(&streams->lock);
    bool ok = streams->open < streams->max && !atomic_load(&streams->stopping);
    if (ok) streams->open++;
    pthread_mutex_unlock(&streams->lock);
    return ok;
}

void sp_gw_streams_leave(sp_gw_streams *streams) {
    assert(streams != NULL);
    pthread_mutex_lock(&streams->lock);
    assert(streams->open > 0);
    streams->open--;
    pthread_mutex_unlock(&streams->lock);
}

int64_t sp_gw_streams_open(sp_gw_streams *streams) {
    assert(streams != NULL);
    pthread_mutex_lock(&streams->lock);
    int64_t open = streams->open;
    pthread_mutex_unlock(&streams->lock);
    return open;
}

void sp_gw_streams_stop(sp_gw_streams *streams) {
    if (streams != NULL) atomic_store(&streams->stopping, true);
}

bool sp_gw_streams_stopping(sp_gw_streams *streams) {
    assert(streams != NULL);
    return atomic_load(&streams->stopping);
}

/* ------------------------------------------------------------------ payment link */

int sp_gw_payer_url(const char *public_url, const char *partner_code,
                    char out[SP_GW_PAYER_URL_LEN_MAX + 1]) {
    assert(public_url != NULL);
    assert(partner_code != NULL);
    assert(out != NULL);
    int n = snprintf(out, SP_GW_PAYER_URL_LEN_MAX + 1, "%s/payer/%s", public_url, partner_code);
    if (n < 0 || n > SP_GW_PAYER_URL_LEN_MAX) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

/* Under the lock: partner_id's entry, or a free one when create (NULL if none). */
static stream_owner *owner_of(sp_gw_streams *streams, const char *partner_id, bool create) {
    stream_owner *free_entry = NULL;
    for (int64_t i = 0; i < streams->max; i++) {
        stream_owner *o = &streams->owners[i];
        if (o->open > 0 && strcmp(o->partner_id, partner_id) == 0) return o;
        if (o->open == 0 && free_entry == NULL) free_entry = o;
    }
    if (!create || free_entry == NULL) return NULL;
    snprintf(free_entry->partner_id, sizeof free_entry->partner_id, "%s", partner_id);
    return free_entry;
}

sp_gw_streams_entry sp_gw_streams_enter_partner(sp_gw_streams *streams, const char *partner_id) {
    assert(streams != NULL);
    assert(partner_id != NULL);
    pthread_mutex_lock(&streams->lock);
    sp_gw_streams_entry entry = SP_GW_STREAMS_FULL;
    if (streams->open < streams->max && !atomic_load(&streams->stopping)) {
        /* Fewer than max streams are open, so a free entry exists. */
        stream_owner *o = owner_of(streams, partner_id, true);
        assert(o != NULL);
        if (o->open >= SP_GW_SSE_STREAMS_PER_PARTNER_MAX) {
            entry = SP_GW_STREAMS_PARTNER_FULL;
        } else {
            o->open++;
            streams->open++;
            entry = SP_GW_STREAMS_ENTERED;
        }
    }
    pthread_mutex_unlock(&streams->lock);
    return entry;
}

void sp_gw_streams_leave_partner(sp_gw_streams *streams, const char *partner_id) {
    assert(streams != NULL);
    assert(partner_id != NULL);
    pthread_mutex_lock(&streams->lock);
    stream_owner *o = owner_of(streams, partner_id, false);
    assert(o != NULL);
    assert(o->open > 0);
    assert(streams->open > 0);
    o->open--;
    streams->open--;
    pthread_mutex_unlock(&streams->lock);
}
