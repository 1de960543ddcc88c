/* sp_secret.c - weak and placeholder secrets refused at start (see sp_secret.h). */
#include "sp_secret.h"

#include <assert.h>
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#define SP_SECRET_SCAN_LEN_MAX 4096 /* longer values are refused before any scan */

/* Words the examples and habits put where a secret belongs. */
static const char *const placeholder_words[] = {
    "change-me", "changeme", "change_me", "placeholder", "secret-here", "xxxxxxxx",
};

static bool contains_word_nocase(const char *value, size_t len, const char *word) {
    assert(value != NULL || len == 0); /* no setting: nothing to scan */
    assert(word != NULL);
    size_t word_len = strlen(word);
    for (size_t i = 0; i + word_len <= len; i++) {
        size_t j = 0;
        while (j < word_len && tolower((unsigned char)value[i + j]) == word[j]) j++;
        if (j == word_len) return true;
    }
    return false;
}

static size_t distinct_bytes(const char *value, size_t len) {
    assert(value != NULL || len == 0);
    bool seen[256] = {false};
    size_t distinct = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char byte = (unsigned char)value[i];
        if (!seen[byte]) distinct++;
        seen[byte] = true;
    }
    return distinct;
}

int sp_secret_check(const char *value, const char *name, size_t len_min, size_t distinct_min,
                    sp_error *err) {
    assert(name != NULL);
    assert(len_min > 0);
    assert(distinct_min > 0);
    size_t len = value == NULL ? 0 : strnlen(value, SP_SECRET_SCAN_LEN_MAX + 1);
    if (len > SP_SECRET_SCAN_LEN_MAX)
        return sp_error_set(err, 500, "weak_secret", name, "%s is longer than %d bytes", name,
                            SP_SECRET_SCAN_LEN_MAX);
    for (size_t i = 0; i < sizeof placeholder_words / sizeof placeholder_words[0]; i++) {
        if (contains_word_nocase(value, len, placeholder_words[i]))
            return sp_error_set(err, 500, "weak_secret", name,
                                "%s is still the example's placeholder ('%s'): set a real one, "
                                "e.g. openssl rand -base64 48",
                                name, placeholder_words[i]);
    }
    if (len < len_min)
        return sp_error_set(err, 500, "weak_secret", name,
                            "%s is %zu bytes, it must be at least %zu (e.g. openssl rand "
                            "-base64 48)",
                            name, len, len_min);
    size_t distinct = distinct_bytes(value, len);
    if (distinct < distinct_min)
        return sp_error_set(err, 500, "weak_secret", name,
                            "%s has %zu different characters, it must have at least %zu: "
                            "use a random one (e.g. openssl rand -base64 48)",
                            name, distinct, distinct_min);
    return 0;
}
