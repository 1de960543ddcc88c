/* web_files.h - which file of SP_WEB_DIR answers a path, pure: the home
 * page, the apps' index pages for their client routes (and the e-mail link
 * and QR code aliases), the content-hashed assets, the few files at the
 * root; the content type and cache policy of each; the Accept-Encoding
 * negotiation of precompressed .br/.gz siblings; ETags; the security
 * headers every HTML answer carries; the gateway's own print stylesheets.
 *
 * Paths are judged before any file is touched: "..", ".", "//", "\",
 * control characters and percent-encoded '/', '\', '.' or NUL are refused,
 * and file names are limited to [A-Za-z0-9._-] with a known extension, so
 * the relative name handed to the file layer can only name a file inside
 * the folder (web_serve.c also refuses symbolic links).
 * Ownership: outputs are the caller's buffers of the sizes named here; the
 * strings returned are static. */
#ifndef SP_GW_WEB_FILES_H
#define SP_GW_WEB_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SP_GW_WEB_PATH_LEN_MAX 1024 /* a longer path is not a page: 404 */
#define SP_GW_WEB_NAME_LEN_MAX 128  /* a file name under assets/ or the root */
#define SP_GW_WEB_FILE_LEN_MAX (SP_GW_WEB_NAME_LEN_MAX + 32) /* relative name + ".br" */
#define SP_GW_WEB_FILE_BYTES_MAX (8 * 1024 * 1024)
#define SP_GW_WEB_ACCEPT_ENCODING_LEN_MAX 1024
#define SP_GW_WEB_ACCEPT_ENCODING_ITEMS_MAX 32
#define SP_GW_WEB_ETAG_LEN_MAX 48
#define SP_GW_WEB_IF_NONE_MATCH_LEN_MAX 2048
#define SP_GW_WEB_IF_NONE_MATCH_ITEMS_MAX 32

/* The apps, each a folder of SP_WEB_DIR with its index.html. */
typedef enum {
    SP_GW_WEB_APP_PARTENAIRE = 1u << 0,
    SP_GW_WEB_APP_BENEFICIAIRE = 1u << 1,
    SP_GW_WEB_APP_BACKOFFICE = 1u << 2,
} sp_gw_web_app;
#define SP_GW_WEB_APP_COUNT 3
/* The folder name of app number i (0 .. SP_GW_WEB_APP_COUNT - 1), whose bit is 1u << i. */
const char *sp_gw_web_app_folder(size_t i);

typedef enum {
    SP_GW_WEB_API,       /* /api/..., /healthz, /metrics: not a page */
    SP_GW_WEB_FILE,      /* target says which file */
    SP_GW_WEB_NOT_FOUND, /* 404 page */
    SP_GW_WEB_METHOD,    /* 405: pages are GET and HEAD only */
} sp_gw_web_decision;

typedef enum {
    SP_GW_WEB_NO_CACHE,  /* revalidated each time (ETag) */
    SP_GW_WEB_IMMUTABLE, /* named by its content's hash */
} sp_gw_web_cache;

typedef struct sp_gw_web_target {
    char file[SP_GW_WEB_FILE_LEN_MAX + 1]; /* relative to SP_WEB_DIR, e.g. "assets/a-1F.js" */
    const char *content_type;
    sp_gw_web_cache cache;
    bool document;      /* HTML (or SVG): gets the security headers */
    bool precompressed; /* a .br or .gz sibling may be sent instead */
} sp_gw_web_target;

/* What answers method on path (the raw path, without the query), given the
 * apps whose folders exist (sp_gw_web_app bits). */
sp_gw_web_decision sp_gw_web_route(const char *method, const char *path, unsigned apps,
                                   sp_gw_web_target *out);

typedef enum {
    SP_GW_ENCODING_BR = 1u << 0,
    SP_GW_ENCODING_GZIP = 1u << 1,
} sp_gw_encoding;

/* The codings an Accept-Encoding header allows (sp_gw_encoding bits):
 * listed with a q-value above 0, or covered by "*" with one. "gzip;q=0"
 * refuses gzip; a malformed item allows nothing. NULL: none. */
unsigned sp_gw_accept_encoding(const char *header);

/* "\"<size hex>-<mtime ns hex>\"" into out (SP_GW_WEB_ETAG_LEN_MAX + 1). */
void sp_gw_web_etag(int64_t size_bytes, int64_t mtime_ns, char out[SP_GW_WEB_ETAG_LEN_MAX + 1]);
/* If-None-Match (NULL: absent) names etag, or is "*": 304 Not Modified. */
bool sp_gw_web_etag_matches(const char *if_none_match, const char *etag);

typedef struct sp_gw_header {
    const char *name;
    const char *value;
} sp_gw_header;

/* Content-Security-Policy, Referrer-Policy, X-Content-Type-Options and
 * X-Frame-Options of every HTML answer; *count receives how many. */
const sp_gw_header *sp_gw_web_security_headers(size_t *count);

/* The small French page of a 404 (NUL-terminated, static). */
const char *sp_gw_web_not_found_page(void);

/* The gateway's own pages (voucher print, poster) take their style from a
 * stylesheet, never inline (the CSP's style-src 'self'):
 * SP_GW_STYLE_PATH_PREFIX + name + ".css". NULL when path is none of them. */
#define SP_GW_STYLE_PATH_PREFIX "/api/v1/styles/"
const char *sp_gw_page_style(const char *path);

#endif
