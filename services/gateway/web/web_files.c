/* web_files.c - path to file, encodings, ETags and security headers (see web_files.h). */
#include "web_files.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const app_folders[SP_GW_WEB_APP_COUNT] = {"partenaire", "beneficiaire",
                                                             "backoffice"};

const char *sp_gw_web_app_folder(size_t i) {
    assert(i < SP_GW_WEB_APP_COUNT);
    return app_folders[i];
}

static const struct {
    const char *extension;
    const char *content_type;
} content_types[] = {
    {"html", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"woff2", "font/woff2"},
    {"json", "application/json"},
    {"webmanifest", "application/manifest+json"},
    {"ico", "image/x-icon"},
    {"txt", "text/plain; charset=utf-8"},
    {"map", "application/json"},
};

static const char *content_type_of(const char *name) {
    assert(name != NULL);
    const char *dot = strrchr(name, '.');
    if (dot == NULL) return NULL;
    for (size_t i = 0; i < sizeof content_types / sizeof content_types[0]; i++) {
        if (strcmp(dot + 1, content_types[i].extension) == 0) return content_types[i].content_type;
    }
    return NULL;
}

/* ------------------------------------------------------------------ paths */

static bool starts_with(const char *text, const char *prefix) {
    assert(text != NULL);
    assert(prefix != NULL);
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

static bool is_api(const char *path) {
    assert(path != NULL);
    return strcmp(path, "/api") == 0 || starts_with(path, "/api/") ||
           strcmp(path, "/healthz") == 0 || strcmp(path, "/metrics") == 0;
}

/* A path that could reach outside the folder, or that no page has. */
static bool path_refused(const char *path, size_t len) {
    assert(path != NULL);
    if (len == 0 || path[0] != '/' || len > SP_GW_WEB_PATH_LEN_MAX) return true;
    if (strstr(path, "//") != NULL || strchr(path, '\\') != NULL) return true;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)path[i];
        if (c < 0x20 || c == 0x7f) return true;
        if (c == '%') {
            static const char *const encoded[] = {"%2f", "%5c", "%00", "%2e"};
            for (size_t k = 0; k < sizeof encoded / sizeof encoded[0]; k++) {
                if (strncasecmp(path + i, encoded[k], 3) == 0) return true;
            }
        }
    }
    /* "." and ".." segments */
    for (const char *seg = path + 1; seg != NULL && *seg != '\0';) {
        const char *slash = strchr(seg, '/');
        size_t seg_len = slash != NULL ? (size_t)(slash - seg) : strlen(seg);
        if ((seg_len == 1 && seg[0] == '.') || (seg_len == 2 && seg[0] == '.' && seg[1] == '.'))
            return true;
        seg = slash != NULL ? slash + 1 : NULL;
    }
    return false;
}

/* A file name we serve: [A-Za-z0-9._-], not hidden, with a known type. */
static bool name_valid(const char *name, size_t len) {
    assert(name != NULL || len == 0);
    if (len == 0 || len > SP_GW_WEB_NAME_LEN_MAX || name[0] == '.') return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

static sp_gw_web_decision target_file(sp_gw_web_target *out, const char *folder, const char *name,
                                      sp_gw_web_cache cache) {
    assert(out != NULL);
    assert(folder != NULL);
    assert(name != NULL);
    const char *type = content_type_of(name);
    if (type == NULL) return SP_GW_WEB_NOT_FOUND;
    int n = snprintf(out->file, sizeof out->file, "%s%s%s", folder, folder[0] ? "/" : "", name);
    if (n < 0 || (size_t)n >= sizeof out->file) return SP_GW_WEB_NOT_FOUND;
    out->content_type = type;
    out->cache = cache;
    out->document = strcmp(type, "text/html; charset=utf-8") == 0 ||
                    strcmp(type, "image/svg+xml") == 0;
    out->precompressed = cache == SP_GW_WEB_IMMUTABLE;
    return SP_GW_WEB_FILE;
}

static int app_index(const char *segment, size_t len) {
    assert(segment != NULL || len == 0);
    for (size_t i = 0; i < SP_GW_WEB_APP_COUNT; i++) {
        if (strlen(app_folders[i]) == len && memcmp(app_folders[i], segment, len) == 0)
            return (int)i;
    }
    /* The e-mail links (activation, password reset) open the partner space. */
    static const char *const partner_aliases[] = {"activate", "reset-password"};
    for (size_t i = 0; i < sizeof partner_aliases / sizeof partner_aliases[0]; i++) {
        if (strlen(partner_aliases[i]) == len && memcmp(partner_aliases[i], segment, len) == 0)
            return 0;
    }
    return -1;
}

sp_gw_web_decision sp_gw_web_route(const char *method, const char *path, unsigned apps,
                                   sp_gw_web_target *out) {
    assert(method != NULL);
    assert(path != NULL);
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    size_t len = strnlen(path, SP_GW_WEB_PATH_LEN_MAX + 1);
    if (len <= SP_GW_WEB_PATH_LEN_MAX && is_api(path)) return SP_GW_WEB_API;
    if (path_refused(path, len)) return SP_GW_WEB_NOT_FOUND;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) return SP_GW_WEB_METHOD;
    if (strcmp(path, "/") == 0) return target_file(out, "", "index.html", SP_GW_WEB_NO_CACHE);
    const char *first = path + 1;
    const char *slash = strchr(first, '/');
    size_t first_len = slash != NULL ? (size_t)(slash - first) : strlen(first);
    if (first_len == 6 && memcmp(first, "assets", 6) == 0) {
        const char *name = slash != NULL ? slash + 1 : "";
        if (!name_valid(name, strlen(name))) return SP_GW_WEB_NOT_FOUND;
        return target_file(out, "assets", name, SP_GW_WEB_IMMUTABLE);
    }
    int app = app_index(first, first_len);
    if (app >= 0) {
        if ((apps & (1u << app)) == 0) return SP_GW_WEB_NOT_FOUND;
        char folder[32];
        snprintf(folder, sizeof folder, "%s", app_folders[app]);
        return target_file(out, folder, "index.html", SP_GW_WEB_NO_CACHE);
    }
    /* The partner's QR code: the beneficiary app's payment screen, or the
     * home page (which says how to pay) while that app is not there. */
    if (first_len == 5 && memcmp(first, "payer", 5) == 0) {
        bool beneficiary = (apps & SP_GW_WEB_APP_BENEFICIAIRE) != 0;
        return target_file(out, beneficiary ? "beneficiaire" : "", "index.html",
                           SP_GW_WEB_NO_CACHE);
    }
    if (slash == NULL && name_valid(first, first_len) && strchr(first, '.') != NULL)
        return target_file(out, "", first, SP_GW_WEB_NO_CACHE);
    return SP_GW_WEB_NOT_FOUND;
}

/* ------------------------------------------------------------------ encodings */

/* A q-value ("0", "0.5", "1.000") in thousandths; -1 when malformed. */
static int qvalue_of(const char *text, size_t len) {
    assert(text != NULL || len == 0);
    if (len == 0 || len > 5 || (text[0] != '0' && text[0] != '1')) return -1;
    int whole = text[0] - '0';
    int thousandths = 0;
    if (len > 1) {
        if (text[1] != '.') return -1;
        int scale = 100;
        for (size_t i = 2; i < len; i++) {
            if (text[i] < '0' || text[i] > '9') return -1;
            thousandths += (text[i] - '0') * scale;
            scale /= 10;
        }
    }
    int q = whole * 1000 + thousandths;
    return q <= 1000 ? q : -1;
}

static void trim(const char **start, const char **end) {
    assert(*start <= *end);
    while (*start < *end && (**start == ' ' || **start == '\t')) (*start)++;
    while (*end > *start && ((*end)[-1] == ' ' || (*end)[-1] == '\t')) (*end)--;
    assert(*start <= *end);
}

/* One "coding[;q=x][;other=y]" item: its coding in [*name, *name_end) and q. */
static int item_q(const char *start, const char *end, const char **name, const char **name_end) {
    assert(start <= end);
    assert(name != NULL);
    assert(name_end != NULL);
    const char *semi = memchr(start, ';', (size_t)(end - start));
    *name = start;
    *name_end = semi != NULL ? semi : end;
    trim(name, name_end);
    int q = 1000;
    for (size_t params = 0; semi != NULL && params < 4; params++) {
        const char *p = semi + 1;
        semi = memchr(p, ';', (size_t)(end - p));
        const char *p_end = semi != NULL ? semi : end;
        trim(&p, &p_end);
        if (p_end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            q = qvalue_of(p + 2, (size_t)(p_end - p - 2));
        }
    }
    return semi != NULL ? -1 : q;
}

static bool coding_is(const char *name, const char *name_end, const char *coding) {
    assert(name <= name_end);
    assert(coding != NULL);
    size_t len = strlen(coding);
    return (size_t)(name_end - name) == len && strncasecmp(name, coding, len) == 0;
}

unsigned sp_gw_accept_encoding(const char *header) {
    if (header == NULL) return 0;
    size_t len = strnlen(header, SP_GW_WEB_ACCEPT_ENCODING_LEN_MAX + 1);
    if (len > SP_GW_WEB_ACCEPT_ENCODING_LEN_MAX) return 0;
    int br_q = -1, gzip_q = -1, star_q = -1;
    const char *p = header;
    const char *end = header + len;
    for (size_t n = 0; n < SP_GW_WEB_ACCEPT_ENCODING_ITEMS_MAX && p <= end; n++) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *item_end = comma != NULL ? comma : end;
        const char *name, *name_end;
        int q = item_q(p, item_end, &name, &name_end);
        if (q < 0) q = 0; /* malformed: allows nothing */
        if (coding_is(name, name_end, "br")) br_q = q;
        if (coding_is(name, name_end, "gzip") || coding_is(name, name_end, "x-gzip")) gzip_q = q;
        if (coding_is(name, name_end, "*")) star_q = q;
        if (comma == NULL) break;
        p = comma + 1;
    }
    unsigned allowed = 0;
    if (br_q > 0 || (br_q < 0 && star_q > 0)) allowed |= SP_GW_ENCODING_BR;
    if (gzip_q > 0 || (gzip_q < 0 && star_q > 0)) allowed |= SP_GW_ENCODING_GZIP;
    return allowed;
}

/* ------------------------------------------------------------------ ETags */

void sp_gw_web_etag(int64_t size_bytes, int64_t mtime_ns, char out[SP_GW_WEB_ETAG_LEN_MAX + 1]) {
    assert(size_bytes >= 0);
    assert(out != NULL);
    snprintf(out, SP_GW_WEB_ETAG_LEN_MAX + 1, "\"%" PRIx64 "-%" PRIx64 "\"", (uint64_t)size_bytes,
             (uint64_t)mtime_ns);
}

bool sp_gw_web_etag_matches(const char *if_none_match, const char *etag) {
    assert(etag != NULL);
    if (if_none_match == NULL) return false;
    size_t len = strnlen(if_none_match, SP_GW_WEB_IF_NONE_MATCH_LEN_MAX + 1);
    if (len > SP_GW_WEB_IF_NONE_MATCH_LEN_MAX) return false;
    const char *p = if_none_match;
    const char *end = if_none_match + len;
    for (size_t n = 0; n < SP_GW_WEB_IF_NONE_MATCH_ITEMS_MAX && p <= end; n++) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *item = p;
        const char *item_end = comma != NULL ? comma : end;
        trim(&item, &item_end);
        if (item_end - item >= 2 && item[0] == 'W' && item[1] == '/') item += 2; /* weak */
        size_t item_len = (size_t)(item_end - item);
        if ((item_len == 1 && item[0] == '*') ||
            (item_len == strlen(etag) && memcmp(item, etag, item_len) == 0))
            return true;
        if (comma == NULL) break;
        p = comma + 1;
    }
    return false;
}

/* ------------------------------------------------------------------ headers and pages */

static const sp_gw_header security_headers[] = {
    {"Content-Security-Policy",
     "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
     "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
     "form-action 'self'; frame-ancestors 'none'; manifest-src 'self'; worker-src 'self'"},
    {"Referrer-Policy", "same-origin"},
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
};

const sp_gw_header *sp_gw_web_security_headers(size_t *count) {
    assert(count != NULL);
    *count = sizeof security_headers / sizeof security_headers[0];
    return security_headers;
}

const char *sp_gw_web_not_found_page(void) {
    return "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\">"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
           "<title>Page introuvable — Pass solidarité</title></head><body><main>"
           "<h1>Page introuvable</h1>"
           "<p>Cette adresse ne correspond à aucune page du Pass solidarité.</p>"
           "<p><a href=\"/\">Aller à l'accueil</a></p></main></body></html>\n";
}

/* The print pages' styles: A4 and A6 vouchers, the A4 poster. */
static const struct {
    const char *name;
    const char *css;
} page_styles[] = {
    {"voucher-a4",
     "@page { size: A4; margin: 15mm; }\n"
     "body { font-family: sans-serif; color: #000; margin: 0; font-size: 12pt; }\n"
     ".bon { border: 2px dashed #000; padding: 1em; max-width: 150mm; margin: 1em auto; }\n"
     "h1 { font-size: 1.4em; margin: 0 0 .5em; }\n"
     ".montant { font-size: 2em; font-weight: bold; margin: .3em 0; }\n"
     ".numero { font-family: monospace; font-size: 1.6em; letter-spacing: .1em; }\n"
     ".qr svg { width: 60mm; height: auto; display: block; margin: .5em 0; }\n"
     ".avis { border: 2px solid #000; padding: .4em; font-weight: bold; }\n"
     "ol { padding-left: 1.2em; }\n"
     "@media print { .bon { margin: 0; max-width: none; } }\n"},
    {"voucher-a6",
     "@page { size: A6; margin: 6mm; }\n"
     "body { font-family: sans-serif; color: #000; margin: 0; font-size: 9pt; }\n"
     ".bon { border: 2px dashed #000; padding: 1em; max-width: none; margin: 1em auto; }\n"
     "h1 { font-size: 1.4em; margin: 0 0 .5em; }\n"
     ".montant { font-size: 2em; font-weight: bold; margin: .3em 0; }\n"
     ".numero { font-family: monospace; font-size: 1.6em; letter-spacing: .1em; }\n"
     ".qr svg { width: 38mm; height: auto; display: block; margin: .5em 0; }\n"
     ".avis { border: 2px solid #000; padding: .4em; font-weight: bold; }\n"
     "ol { padding-left: 1.2em; }\n"
     "@media print { .bon { margin: 0; max-width: none; } }\n"},
    {"poster", "@page { size: A4; margin: 15mm; }\n"
               "body { font-family: sans-serif; color: #000; margin: 0; font-size: 14pt;"
               " text-align: center; }\n"
               ".affiche { max-width: 180mm; margin: 1em auto; }\n"
               "h1 { font-size: 2em; margin: 0 0 .3em; }\n"
               ".accepte { font-size: 1.4em; margin: 0 0 1em; }\n"
               ".qr svg { width: 110mm; height: auto; display: block; margin: 0 auto; }\n"
               ".code { font-family: monospace; font-size: 2.6em; font-weight: bold;"
               " letter-spacing: .15em; margin: .3em 0; }\n"
               "ol { text-align: left; display: inline-block; margin: 1em auto; }\n"
               ".contact { font-size: .8em; margin-top: 1.5em; }\n"
               "@media print { .affiche { margin: 0 auto; } }\n"},
};

const char *sp_gw_page_style(const char *path) {
    assert(path != NULL);
    static const char prefix[] = SP_GW_STYLE_PATH_PREFIX;
    if (strncmp(path, prefix, sizeof prefix - 1) != 0) return NULL;
    const char *name = path + sizeof prefix - 1;
    for (size_t i = 0; i < sizeof page_styles / sizeof page_styles[0]; i++) {
        size_t len = strlen(page_styles[i].name);
        if (strncmp(name, page_styles[i].name, len) == 0 && strcmp(name + len, ".css") == 0)
            return page_styles[i].css;
    }
    return NULL;
}
