/* web_serve.c - the web apps' files from SP_WEB_DIR (see web_serve.h). */
#include "web_serve.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <civetweb.h>
#include "web_files.h"

#define WEB_PATH_COMPONENTS_MAX 3 /* "assets/<name>", "<app>/index.html" */
#define CHUNK_BYTES (16 * 1024)   /* a file goes out in pieces of this: bounded memory */
#define CHUNKS_MAX (SP_GW_WEB_FILE_BYTES_MAX / CHUNK_BYTES + 16) /* short reads included */

typedef struct web_file {
    int fd;
    int64_t size_bytes;
    int64_t mtime_ns;
} web_file;

/* Opens rel (components split by '/') beneath the folder root, following
 * no symbolic link on the way: -1 unless it is a regular file. */
static int open_beneath(int root, const char *rel, web_file *out) {
    char copy[SP_GW_WEB_FILE_LEN_MAX + 8];
    int n = snprintf(copy, sizeof copy, "%s", rel);
    if (n < 0 || (size_t)n >= sizeof copy) return -1;
    int dir = root;
    char *component = copy;
    int fd = -1;
    for (size_t depth = 0; depth < WEB_PATH_COMPONENTS_MAX && component != NULL; depth++) {
        char *slash = strchr(component, '/');
        if (slash != NULL) *slash = '\0';
        int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (slash != NULL ? O_DIRECTORY : O_NONBLOCK);
        int next = openat(dir, component, flags);
        if (dir != root) close(dir);
        if (next < 0) return -1;
        if (slash == NULL) {
            fd = next;
            break;
        }
        dir = next;
        component = slash + 1;
    }
    if (fd < 0) {
        if (dir != root) close(dir);
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > SP_GW_WEB_FILE_BYTES_MAX) {
        close(fd);
        return -1;
    }
    out->fd = fd;
    out->size_bytes = (int64_t)st.st_size;
    out->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    return 0;
}

/* Sends the file's size_bytes in chunks; a file cut short meanwhile ends
 * the answer early (the client sees fewer bytes than Content-Length). */
static void send_body(struct mg_connection *conn, const web_file *file) {
    char chunk[CHUNK_BYTES];
    int64_t sent = 0;
    for (size_t n = 0; n < CHUNKS_MAX && sent < file->size_bytes; n++) {
        int64_t left = file->size_bytes - sent;
        size_t want = left < (int64_t)sizeof chunk ? (size_t)left : sizeof chunk;
        ssize_t got = read(file->fd, chunk, want);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0 || mg_write(conn, chunk, (size_t)got) != (int)got) break;
        sent += got;
    }
}

static unsigned apps_present(int root) {
    unsigned apps = 0;
    for (size_t i = 0; i < SP_GW_WEB_APP_COUNT; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "%s/index.html", sp_gw_web_app_folder(i));
        web_file file;
        if (open_beneath(root, rel, &file) == 0) {
            apps |= 1u << i;
            close(file.fd);
        }
    }
    return apps;
}

void sp_gw_web_add_security_headers(struct mg_connection *conn) {
    size_t count = 0;
    const sp_gw_header *headers = sp_gw_web_security_headers(&count);
    for (size_t i = 0; i < count; i++) {
        mg_response_header_add(conn, headers[i].name, headers[i].value, -1);
    }
}

static bool is_head(const sp_gw_request *req) {
    return strcmp(req->method, "HEAD") == 0;
}

static void answer_simple(sp_gw_request *req, int status, const char *content_type,
                          const char *cache_control, const char *body, size_t len, bool document) {
    char length[24];
    snprintf(length, sizeof length, "%zu", len);
    mg_response_header_start(req->conn, status);
    mg_response_header_add(req->conn, "Content-Type", content_type, -1);
    mg_response_header_add(req->conn, "Content-Length", length, -1);
    mg_response_header_add(req->conn, "Cache-Control", cache_control, -1);
    if (document) {
        sp_gw_web_add_security_headers(req->conn);
    } else {
        mg_response_header_add(req->conn, "X-Content-Type-Options", "nosniff", -1);
    }
    if (status == 405) mg_response_header_add(req->conn, "Allow", "GET, HEAD", -1);
    mg_response_header_send(req->conn);
    if (!is_head(req) && len > 0) mg_write(req->conn, body, len);
    req->status = status;
}

static void answer_not_found(sp_gw_request *req, int status) {
    const char *page = sp_gw_web_not_found_page();
    answer_simple(req, status, "text/html; charset=utf-8", "no-store", page, strlen(page), true);
}

/* The sibling to send: ".br", ".gz" or "" (the file itself), opened in *file. */
static const char *open_variant(sp_gw_request *req, int root, const sp_gw_web_target *target,
                                web_file *file) {
    unsigned allowed = target->precompressed
                           ? sp_gw_accept_encoding(sp_gw_request_header(req, "Accept-Encoding"))
                           : 0;
    static const struct {
        unsigned bit;
        const char *suffix;
    } variants[] = {{SP_GW_ENCODING_BR, ".br"}, {SP_GW_ENCODING_GZIP, ".gz"}};
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        if ((allowed & variants[i].bit) == 0) continue;
        char rel[SP_GW_WEB_FILE_LEN_MAX + 8];
        snprintf(rel, sizeof rel, "%s%s", target->file, variants[i].suffix);
        if (open_beneath(root, rel, file) == 0) return variants[i].suffix;
    }
    return open_beneath(root, target->file, file) == 0 ? "" : NULL;
}

static void answer_file(sp_gw_request *req, const sp_gw_web_target *target, const char *suffix,
                        const web_file *file) {
    char etag[SP_GW_WEB_ETAG_LEN_MAX + 1] = "";
    bool immutable = target->cache == SP_GW_WEB_IMMUTABLE;
    if (!immutable) sp_gw_web_etag(file->size_bytes, file->mtime_ns, etag);
    bool not_modified = !immutable &&
                        sp_gw_web_etag_matches(sp_gw_request_header(req, "If-None-Match"), etag);
    int status = not_modified ? 304 : 200;
    char length[24];
    snprintf(length, sizeof length, "%" PRId64, file->size_bytes);
    mg_response_header_start(req->conn, status);
    mg_response_header_add(req->conn, "Content-Type", target->content_type, -1);
    if (!not_modified) mg_response_header_add(req->conn, "Content-Length", length, -1);
    mg_response_header_add(req->conn, "Cache-Control",
                           immutable ? "public, max-age=31536000, immutable" : "no-cache", -1);
    if (!immutable) mg_response_header_add(req->conn, "ETag", etag, -1);
    if (target->precompressed) mg_response_header_add(req->conn, "Vary", "Accept-Encoding", -1);
    if (strcmp(suffix, ".br") == 0) mg_response_header_add(req->conn, "Content-Encoding", "br", -1);
    if (strcmp(suffix, ".gz") == 0)
        mg_response_header_add(req->conn, "Content-Encoding", "gzip", -1);
    if (target->document) {
        sp_gw_web_add_security_headers(req->conn);
    } else {
        mg_response_header_add(req->conn, "X-Content-Type-Options", "nosniff", -1);
    }
    mg_response_header_send(req->conn);
    if (!not_modified && !is_head(req) && file->size_bytes > 0) send_body(req->conn, file);
    req->status = status;
}

static void serve_target(sp_gw_request *req, int root, const sp_gw_web_target *target) {
    web_file file = {.fd = -1};
    const char *suffix = root >= 0 ? open_variant(req, root, target, &file) : NULL;
    if (suffix == NULL) {
        answer_not_found(req, 404);
        return;
    }
    answer_file(req, target, suffix, &file);
    close(file.fd);
}

static bool serve_style(sp_gw_request *req) {
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) return false;
    const char *css = sp_gw_page_style(req->path);
    if (css == NULL) return false;
    answer_simple(req, 200, "text/css; charset=utf-8", "public, max-age=3600", css, strlen(css),
                  false);
    return true;
}

bool sp_gw_web_serve(sp_gw_request *req, const char *path, const char *request_uri) {
    assert(req != NULL && path != NULL && request_uri != NULL);
    if (serve_style(req)) return true;
    const char *web_dir = req->app->config->web_dir;
    if (web_dir == NULL || web_dir[0] == '\0') return false;
    sp_gw_web_target target;
    /* The decoded path says what is asked; the target as civetweb hands
     * it must pass the same checks (see web_serve.h). */
    sp_gw_web_decision decision = sp_gw_web_route(req->method, path, 0, &target);
    if (decision == SP_GW_WEB_API) return false;
    char raw_path[SP_GW_WEB_PATH_LEN_MAX + 2];
    size_t raw_len = strcspn(request_uri, "?");
    bool raw_refused = raw_len >= sizeof raw_path;
    if (!raw_refused) {
        memcpy(raw_path, request_uri, raw_len);
        raw_path[raw_len] = '\0';
        sp_gw_web_target raw_target;
        unsigned every_app = (1u << SP_GW_WEB_APP_COUNT) - 1;
        raw_refused = sp_gw_web_route(req->method, raw_path, every_app, &raw_target) ==
                      SP_GW_WEB_NOT_FOUND;
    }
    if (raw_refused) {
        answer_not_found(req, 404);
        return true;
    }
    int root = open(web_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    decision = sp_gw_web_route(req->method, path, root >= 0 ? apps_present(root) : 0, &target);
    if (decision == SP_GW_WEB_METHOD) {
        static const char refused[] = "Seules les méthodes GET et HEAD sont permises ici.\n";
        answer_simple(req, 405, "text/plain; charset=utf-8", "no-store", refused,
                      sizeof refused - 1, false);
    } else if (decision == SP_GW_WEB_FILE) {
        serve_target(req, root, &target);
    } else {
        answer_not_found(req, 404);
    }
    if (root >= 0) close(root);
    return true;
}
