/* ledger_convention.c - the conventions of the partner directory and the
 * payment rule they make: a partner that has not accepted a mandatory
 * convention in force cannot be paid (see ledger.h). Pure. */
#include "ledger.h"
#include "ledger_internal.h"

#include <assert.h>
#include <string.h>

/* prefix ~100 + title + version 32 stays within SP_ERROR_MESSAGE_MAX */
#define SP_LEDGER_CONVENTION_TITLE_SHOWN_MAX 100

static void acceptance_key(uint8_t key[SP_KEY_LEN], const char *partner_id,
                           const char *convention_id) {
    sp_key_of(key, "acceptance", partner_id, convention_id, NULL);
}

static sp_ledger_convention *convention_find(const sp_ledger_directory *dir,
                                             const char *convention_id) {
    for (size_t i = 0; i < dir->convention_count; i++) {
        if (strcmp(dir->conventions[i].convention_id, convention_id) == 0) {
            return &dir->conventions[i];
        }
    }
    return NULL;
}

static int convention_fields_check(const char *convention_id, const char *title,
                                   const char *version, const char *effective_date, sp_date *date,
                                   sp_error *err) {
    if (convention_id == NULL || !sp_id_valid(convention_id)) {
        return sp_error_set(err, 400, "invalid_value", "convention_id",
                            "convention id is not a uuid");
    }
    size_t title_len = title != NULL ? strnlen(title, SP_LEDGER_CONVENTION_TITLE_MAX + 1) : 0;
    if (title_len == 0 || title_len > SP_LEDGER_CONVENTION_TITLE_MAX) {
        return sp_error_set(err, 400, "invalid_value", "title", "convention title of 1 to %d bytes",
                            SP_LEDGER_CONVENTION_TITLE_MAX);
    }
    size_t version_len = version != NULL ? strnlen(version, SP_LEDGER_CONVENTION_VERSION_MAX + 1)
                                         : 0;
    if (version_len == 0 || version_len > SP_LEDGER_CONVENTION_VERSION_MAX) {
        return sp_error_set(err, 400, "invalid_value", "version",
                            "convention version of 1 to %d bytes",
                            SP_LEDGER_CONVENTION_VERSION_MAX);
    }
    if (effective_date == NULL || sp_date_parse(effective_date, date, err) != 0) {
        return sp_error_set(err, 400, "invalid_date", "effective_date",
                            "effective date is not YYYY-MM-DD");
    }
    return 0;
}

int sp_ledger_directory_add_convention(sp_ledger_directory *dir, const char *convention_id,
                                       const char *title, const char *version,
                                       const char *effective_date, bool mandatory, sp_error *err) {
    assert(dir != NULL);
    assert(dir->conventions != NULL);
    sp_date date = 0;
    if (convention_fields_check(convention_id, title, version, effective_date, &date, err) != 0) {
        return -1;
    }
    if (convention_find(dir, convention_id) != NULL) return 0;
    if (dir->convention_count >= SP_LEDGER_CONVENTIONS_MAX) {
        return sp_error_set(err, 503, "unavailable", NULL, "more than %d conventions",
                            SP_LEDGER_CONVENTIONS_MAX);
    }
    sp_ledger_convention *c = &dir->conventions[dir->convention_count];
    memset(c, 0, sizeof *c);
    sp_ledger_copy(c->convention_id, sizeof c->convention_id, convention_id);
    sp_ledger_copy(c->title, sizeof c->title, title);
    sp_ledger_copy(c->version, sizeof c->version, version);
    c->effective_date = date;
    c->mandatory = mandatory;
    dir->convention_count++;
    return 0;
}

int sp_ledger_directory_accept(sp_ledger_directory *dir, const char *partner_id,
                               const char *convention_id, sp_error *err) {
    assert(dir != NULL);
    if (partner_id == NULL || !sp_id_valid(partner_id)) {
        return sp_error_set(err, 400, "invalid_value", "partner_id", "partner id is not a uuid");
    }
    sp_ledger_convention *c = convention_id != NULL ? convention_find(dir, convention_id) : NULL;
    if (c == NULL) {
        return sp_error_set(err, 404, "convention_not_found", "convention_id",
                            "an acceptance of a convention never published");
    }
    uint8_t key[SP_KEY_LEN];
    acceptance_key(key, partner_id, convention_id);
    if (sp_map_get(&dir->acceptances, key) != NULL) return 0;
    return sp_map_put(&dir->acceptances, key, c, err);
}

const sp_ledger_convention *sp_ledger_convention_missing(const sp_ledger_directory *dir,
                                                         const char *partner_id, int64_t now_ms) {
    assert(dir != NULL);
    assert(partner_id != NULL);
    sp_date today = sp_paris_date_of(now_ms);
    for (size_t i = 0; i < dir->convention_count; i++) {
        const sp_ledger_convention *c = &dir->conventions[i];
        if (!c->mandatory || c->effective_date > today) continue;
        uint8_t key[SP_KEY_LEN];
        acceptance_key(key, partner_id, c->convention_id);
        if (sp_map_get(&dir->acceptances, key) == NULL) return c;
    }
    return NULL;
}

/* The first bytes of text, cut on a UTF-8 character boundary (the message
 * goes into JSON), with "..." when cut. */
static void text_cut(char *out, size_t out_size, const char *text) {
    assert(out_size > 4);
    size_t len = strlen(text);
    if (len < out_size) {
        memcpy(out, text, len + 1);
        return;
    }
    len = out_size - 4;
    while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80) len--;
    memcpy(out, text, len);
    memcpy(out + len, "...", 4);
}

int sp_ledger_convention_check(const sp_ledger_directory *dir, const char *partner_id,
                               int64_t now_ms, sp_error *err) {
    if (dir == NULL) return 0; /* a state without a directory pays no partner anyway */
    const sp_ledger_convention *c = sp_ledger_convention_missing(dir, partner_id, now_ms);
    if (c == NULL) return 0;
    char title[SP_LEDGER_CONVENTION_TITLE_SHOWN_MAX + 1];
    text_cut(title, sizeof title, c->title);
    return sp_error_set(err, 422, "convention_not_accepted", "partner_code",
                        "this partner cannot take payments yet: it has not accepted the "
                        "convention '%s' (version %s)",
                        title, c->version);
}
