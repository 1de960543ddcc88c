/* session_cookie.c - cookie, Origin and public URL rules (see session_cookie.h). */
#include "session_cookie.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PORT_DIGITS_MAX 5

static bool is_token_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* Copies value[0..len) into token when it has a token's form. */
static bool token_of(const char *value, size_t len, char token[SP_TOKEN_LEN + 1]) {
    assert(value != NULL || len == 0);
    assert(token != NULL);
    token[0] = '\0';
    if (len != SP_TOKEN_LEN) return false;
    for (size_t i = 0; i < len; i++) {
        if (!is_token_char(value[i])) return false;
    }
    memcpy(token, value, len);
    token[len] = '\0';
    return true;
}

bool sp_gw_cookie_token(const char *cookie_header, char token[SP_TOKEN_LEN + 1], bool *present) {
    assert(token != NULL);
    assert(present != NULL);
    token[0] = '\0';
    *present = false;
    if (cookie_header == NULL) return false;
    size_t header_len = strnlen(cookie_header, SP_GW_COOKIE_HEADER_LEN_MAX + 1);
    if (header_len > SP_GW_COOKIE_HEADER_LEN_MAX) return false;
    static const char name[] = SP_GW_COOKIE_NAME;
    const size_t name_len = sizeof name - 1;
    const char *p = cookie_header;
    const char *end = cookie_header + header_len;
    for (size_t n = 0; n < SP_GW_COOKIES_MAX && p < end; n++) {
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *pair_end = semi != NULL ? semi : end;
        const char *eq = memchr(p, '=', (size_t)(pair_end - p));
        if (eq != NULL && (size_t)(eq - p) == name_len && memcmp(p, name, name_len) == 0) {
            const char *value = eq + 1;
            const char *value_end = pair_end;
            while (value_end > value && (value_end[-1] == ' ' || value_end[-1] == '\t'))
                value_end--;
            /* RFC 6265 allows the value in double quotes. */
            if (value_end - value >= 2 && value[0] == '"' && value_end[-1] == '"') {
                value++;
                value_end--;
            }
            *present = true;
            return token_of(value, (size_t)(value_end - value), token);
        }
        if (semi == NULL) break;
        p = semi + 1;
    }
    return false;
}

sp_gw_credential sp_gw_credential_of(const char *authorization, const char *cookie_header,
                                     char token[SP_TOKEN_LEN + 1]) {
    assert(token != NULL);
    token[0] = '\0';
    if (authorization != NULL) return SP_GW_CREDENTIAL_BEARER;
    bool present = false;
    sp_gw_cookie_token(cookie_header, token, &present);
    return present ? SP_GW_CREDENTIAL_COOKIE : SP_GW_CREDENTIAL_NONE;
}

bool sp_gw_method_unsafe(const char *method) {
    assert(method != NULL);
    return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

int sp_gw_origin_check(const char *origin, const char *public_url, sp_error *err) {
    assert(public_url != NULL);
    if (origin != NULL && public_url[0] != '\0' && strcmp(origin, public_url) == 0) return 0;
    return sp_error_set(err, 403, "bad_origin", "Origin",
                        "this request must come from the service's own pages (Origin %s)",
                        public_url);
}

static bool is_host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static bool is_ipv6_char(char c) {
    return (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9') || c == ':' || c == '.';
}

/* host is a name or IPv4 ([a-z0-9.-]+) or a bracketed IPv6 literal;
 * returns where it ends, NULL when it is not one. */
static const char *host_end(const char *host) {
    assert(host != NULL);
    const char *p = host;
    if (*p == '[') {
        p++;
        while (is_ipv6_char(*p)) p++;
        if (*p != ']' || p == host + 1) return NULL;
        return p + 1;
    }
    while (is_host_char(*p)) p++;
    if (p == host || host[0] == '.' || host[0] == '-' || p[-1] == '.' || p[-1] == '-') return NULL;
    return p;
}

static bool port_valid(const char *port, bool https) {
    assert(port != NULL);
    size_t len = strlen(port);
    if (len == 0 || len > PORT_DIGITS_MAX || port[0] == '0') return false;
    for (size_t i = 0; i < len; i++) {
        if (port[i] < '0' || port[i] > '9') return false;
    }
    long value = strtol(port, NULL, 10);
    return value >= 1 && value <= 65535 && value != (https ? 443 : 80);
}

int sp_gw_public_url_check(const char *url, sp_error *err) {
    assert(url != NULL);
    bool https = strncmp(url, "https://", 8) == 0;
    bool http = strncmp(url, "http://", 7) == 0;
    bool ok = (http || https) && strlen(url) <= SP_GW_PUBLIC_URL_LEN_MAX;
    const char *end = ok ? host_end(url + (https ? 8 : 7)) : NULL;
    ok = end != NULL && (*end == '\0' || (*end == ':' && port_valid(end + 1, https)));
    if (ok) return 0;
    return sp_error_set(err, 500, "invalid_config", "SP_PUBLIC_URL",
                        "SP_PUBLIC_URL must be http(s)://host[:port] in lower case, with no path "
                        "and no final '/' (and no :80 or :443 port), got '%.255s'",
                        url);
}

bool sp_gw_public_url_secure(const char *public_url) {
    assert(public_url != NULL);
    return strncmp(public_url, "https://", 8) == 0;
}

void sp_gw_set_cookie_format(const char *token, int64_t max_age_s, bool secure,
                             char out[SP_GW_SET_COOKIE_LEN_MAX + 1]) {
    assert(token != NULL);
    assert(out != NULL);
    assert(max_age_s >= 0);
    assert(strlen(token) == 0 || strlen(token) == SP_TOKEN_LEN);
    int n = snprintf(out, SP_GW_SET_COOKIE_LEN_MAX + 1,
                     SP_GW_COOKIE_NAME "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%" PRId64
                                       "%s",
                     token, max_age_s, secure ? "; Secure" : "");
    assert(n > 0);
    assert(n <= SP_GW_SET_COOKIE_LEN_MAX);
    (void)n;
}
