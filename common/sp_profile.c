/* sp_profile.c - partner profile value checks (see sp_profile.h). */
#include "sp_profile.h"

#include <assert.h>
#include <string.h>

/* IBAN lengths of the SEPA countries a French city's partners bank with. */
static const struct {
    char country[3];
    unsigned char length;
} iban_lengths[] = {
    {"AD", 24}, {"AT", 20}, {"BE", 16}, {"BG", 22}, {"CH", 21}, {"CY", 28}, {"CZ", 24}, {"DE", 22},
    {"DK", 18}, {"EE", 20}, {"ES", 24}, {"FI", 18}, {"FR", 27}, {"GB", 22}, {"GI", 23}, {"GR", 27},
    {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IS", 26}, {"IT", 27}, {"LI", 21}, {"LT", 20}, {"LU", 20},
    {"LV", 21}, {"MC", 27}, {"MT", 31}, {"NL", 18}, {"NO", 15}, {"PL", 28}, {"PT", 25}, {"RO", 24},
    {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"VA", 22},
};

static bool is_upper(char c) {
    return c >= 'A' && c <= 'Z';
}
static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
static char to_upper(char c) {
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static size_t iban_length_of(const char *country) {
    assert(country != NULL);
    for (size_t i = 0; i < sizeof iban_lengths / sizeof iban_lengths[0]; i++) {
        if (strncmp(iban_lengths[i].country, country, 2) == 0) return iban_lengths[i].length;
    }
    return 0;
}

/* The number formed by moving the first four characters to the end and
 * replacing letters by 10..35, mod 97, computed digit by digit. */
static unsigned iban_mod97(const char *iban, size_t len) {
    assert(iban != NULL);
    assert(len >= 4); /* the country and check digits move to the end */
    unsigned rest = 0;
    for (size_t k = 0; k < len; k++) {
        char c = iban[(k + 4) % len];
        unsigned value = is_digit(c) ? (unsigned)(c - '0') : (unsigned)(c - 'A' + 10);
        rest = value >= 10 ? (rest * 100 + value) % 97 : (rest * 10 + value) % 97;
    }
    return rest;
}

sp_profile_iban_status sp_profile_iban_normalize(const char *in, char *out) {
    assert(in != NULL);
    assert(out != NULL);
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; in[i] != '\0'; i++) {
        if (i >= SP_PROFILE_IBAN_INPUT_MAX) return SP_PROFILE_IBAN_BAD_FORMAT;
        if (in[i] == ' ') continue;
        char c = to_upper(in[i]);
        if (!is_upper(c) && !is_digit(c)) return SP_PROFILE_IBAN_BAD_FORMAT;
        if (len >= SP_PROFILE_IBAN_MAX) return SP_PROFILE_IBAN_BAD_FORMAT;
        out[len++] = c;
    }
    out[len] = '\0';
    size_t expected = len >= 2 ? iban_length_of(out) : 0;
    bool shape = len >= SP_PROFILE_IBAN_MIN && is_upper(out[0]) && is_upper(out[1]) &&
                 is_digit(out[2]) && is_digit(out[3]) && (expected == 0 || expected == len);
    sp_profile_iban_status status = !shape                      ? SP_PROFILE_IBAN_BAD_FORMAT
                                    : iban_mod97(out, len) != 1 ? SP_PROFILE_IBAN_BAD_CHECKSUM
                                                                : SP_PROFILE_IBAN_OK;
    if (status != SP_PROFILE_IBAN_OK) out[0] = '\0';
    return status;
}

bool sp_profile_bic_normalize(const char *in, char *out) {
    assert(in != NULL);
    assert(out != NULL);
    out[0] = '\0';
    size_t len = strlen(in);
    if (len != 8 && len != SP_PROFILE_BIC_MAX) return false;
    char bic[SP_PROFILE_BIC_MAX + 1];
    for (size_t i = 0; i < len; i++) {
        char c = to_upper(in[i]);
        bool letter_needed = i < 6;
        if (letter_needed ? !is_upper(c) : !(is_upper(c) || is_digit(c))) return false;
        bic[i] = c;
    }
    bic[len] = '\0';
    memcpy(out, bic, len + 1);
    return true;
}

bool sp_profile_url_valid(const char *url) {
    assert(url != NULL);
    size_t len = strlen(url);
    if (len > SP_PROFILE_URL_MAX) return false;
    size_t scheme = strncmp(url, "https://", 8) == 0 ? 8 : strncmp(url, "http://", 7) == 0 ? 7 : 0;
    if (scheme == 0) return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\') return false;
    }
    /* The host runs to the first '/', '?' or '#'; user-info is refused. */
    size_t host_len = strcspn(url + scheme, "/?#");
    if (host_len == 0 || memchr(url + scheme, '@', host_len) != NULL) return false;
    return url[scheme] != '.' && url[scheme] != ':';
}

bool sp_profile_phone_valid(const char *phone) {
    assert(phone != NULL);
    size_t len = strlen(phone);
    if (len == 0 || len > SP_PROFILE_PHONE_MAX) return false;
    size_t digits = 0;
    for (size_t i = 0; i < len; i++) {
        char c = phone[i];
        if (is_digit(c)) {
            digits++;
        } else if (!(c == ' ' || c == '.' || c == '-' || c == '(' || c == ')' ||
                     (c == '+' && i == 0))) {
            return false;
        }
    }
    return digits >= SP_PROFILE_PHONE_DIGITS_MIN && digits <= SP_PROFILE_PHONE_DIGITS_MAX;
}
