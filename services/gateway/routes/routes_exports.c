/* routes_exports.c - a partner's exports (P22): asking for one, the list,
 * downloading the file, deleting it. The gateway holds no state of them: a
 * request or a deletion is a command on solipass.exports.commands.v1, which
 * the exports service records in its `exports` table and answers; the list
 * and the downloads read that table and SP_EXPORTS_DIR. Every export is the
 * session's partner's: another partner's is not found. */
#include "routes.h"
#include "json_limits.h"

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
#include "commands.h"
#include "export_request.h"
#include "exports.pb-c.h"
#include "pgpool.h"

#define DOWNLOAD_CHUNK_BYTES (64 * 1024)
#define DOWNLOAD_PATH_MAX 4096
#define DOWNLOAD_NAME_MAX 96
/* clang-format off */
#define MS(column) "floor(extract(epoch FROM " column ") * 1000)::bigint"

/* Newest first, keyset-paged like the operations (requested_at, export_id). */
#define EXPORT_SELECT                                                                        \
    "SELECT e.export_id, e.kind, e.filters::text, e.status, e.reason,"                       \
    " coalesce(e.row_count::text, ''), coalesce(e.size_bytes::text, ''), e.requested_by,"    \
    " coalesce(u.email, ''), coalesce(u.full_name, ''), " MS("e.requested_at") ","           \
    " coalesce(" MS("e.ready_at") "::text, ''), " MS("e.expires_at")                         \
    " FROM exports e LEFT JOIN users u ON u.user_id = e.requested_by"
static const char export_sql[] =
    EXPORT_SELECT " WHERE e.partner_id = $1::uuid AND e.export_id = $2::uuid";
static const char exports_sql[] =
    EXPORT_SELECT " WHERE e.partner_id = $1::uuid AND e.status <> 'deleted'"
    " AND ($2::bigint IS NULL"
    " OR e.requested_at < timestamptz 'epoch' + $2::bigint * interval '1 millisecond'"
    " OR (e.requested_at = timestamptz 'epoch' + $2::bigint * interval '1 millisecond'"
    " AND e.export_id > $3::uuid))"
    " ORDER BY e.requested_at DESC, e.export_id ASC LIMIT $4::integer";
enum { EX_ID, EX_KIND, EX_FILTERS, EX_STATUS, EX_REASON, EX_ROWS, EX_SIZE, EX_BY, EX_EMAIL,
       EX_NAME, EX_REQUESTED_MS, EX_READY_MS, EX_EXPIRES_MS, EX_COLUMNS };

static const char download_sql[] =
    "SELECT status, reason, file_name, kind, " MS("requested_at") ", " MS("expires_at")
    " FROM exports WHERE partner_id = $1::uuid AND export_id = $2::uuid";
/* clang-format on */

static int own_partner(const sp_gw_request *req, sp_error *err) {
    if (sp_id_valid(req->user.partner_id)) return 0;
    return sp_error_set(err, 403, "forbidden", "", "this account belongs to no partner");
}

/* ------------------------------------------------------------------ one export as JSON */

static json_t *instant_or_null(const char *ms_text, sp_error *err) {
    int64_t ms = 0;
    if (ms_text[0] == '\0') return json_null();
    if (sp_gw_int64_of(ms_text, &ms, err) != 0) return NULL;
    char text[SP_GW_INSTANT_LEN + 1];
    sp_gw_instant_format(ms, text);
    return json_string(text);
}

static json_t *count_or_null(const char *text, sp_error *err) {
    int64_t n = 0;
    if (text[0] == '\0') return json_null();
    return sp_gw_int64_of(text, &n, err) == 0 ? json_integer(n) : NULL;
}

static json_t *export_json(const PGresult *res, int row, sp_error *err) {
    assert(PQnfields(res) == EX_COLUMNS);
    json_error_t jerr;
    json_t *filters = sp_gw_json_loads(PQgetvalue(res, row, EX_FILTERS), 0, &jerr);
    json_t *by = json_pack("{s:s, s:s, s:s}", "user_id", PQgetvalue(res, row, EX_BY), "email",
                           PQgetvalue(res, row, EX_EMAIL), "full_name",
                           PQgetvalue(res, row, EX_NAME));
    json_t *out = json_pack(
        "{s:s, s:s, s:o*, s:s, s:s, s:o*, s:o*, s:o*, s:o*, s:o*, s:o*}", "export_id",
        PQgetvalue(res, row, EX_ID), "kind", PQgetvalue(res, row, EX_KIND), "filters", filters,
        "status", PQgetvalue(res, row, EX_STATUS), "reason", PQgetvalue(res, row, EX_REASON),
        "row_count", count_or_null(PQgetvalue(res, row, EX_ROWS), err), "size_bytes",
        count_or_null(PQgetvalue(res, row, EX_SIZE), err), "requested_by", by, "requested_at",
        instant_or_null(PQgetvalue(res, row, EX_REQUESTED_MS), err), "ready_at",
        instant_or_null(PQgetvalue(res, row, EX_READY_MS), err), "expires_at",
        instant_or_null(PQgetvalue(res, row, EX_EXPIRES_MS), err));
    bool complete = out != NULL && json_object_size(out) == 11;
    if (complete && strcmp(PQgetvalue(res, row, EX_STATUS), "ready") == 0) {
        char url[96];
        snprintf(url, sizeof url, "/api/v1/partner/exports/%s/download",
                 PQgetvalue(res, row, EX_ID));
        complete = json_object_set_new(out, "download_url", json_string(url)) == 0;
    }
    if (!complete) {
        json_decref(out);
        sp_error_set(err, 500, "internal", "", "an export could not be shown");
        return NULL;
    }
    return out;
}

/* The export as the list shows it, with status (202 after a request). */
static int answer_export(sp_gw_request *req, const char *export_id, int status, bool replayed,
                         sp_error *err) {
    const char *params[2] = {req->user.partner_id, export_id};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, export_sql, 2, params, &res, err) != 0) return -1;
    json_t *body = PQntuples(res) == 1 ? export_json(res, 0, err) : NULL;
    if (PQntuples(res) != 1) {
        sp_error_set(err, 404, "export_not_found", "export_id", "no export has this id");
    }
    PQclear(res);
    if (body == NULL) return -1;
    return sp_gw_answer_json(req, status, body, replayed);
}

/* ------------------------------------------------------------------ POST */

static int send_request(sp_gw_request *req, const sp_export_request *request, const char *export_id,
                        const char *key, Solipass__Reply **reply, sp_error *err) {
    json_t *filters = sp_export_filters_json(request);
    char *filters_text = filters != NULL ? json_dumps(filters, JSON_COMPACT | JSON_SORT_KEYS)
                                         : NULL;
    json_decref(filters);
    if (filters_text == NULL) return sp_error_set(err, 503, "unavailable", "", "out of memory");
    Solipass__Exports__RequestExport command = SOLIPASS__EXPORTS__REQUEST_EXPORT__INIT;
    command.export_id = (char *)export_id;
    command.partner_id = req->user.partner_id;
    command.kind = (char *)sp_export_kind_name(request->kind);
    command.filters_json = filters_text;
    sp_envelope_meta meta = sp_gw_command_meta(req, "exports.RequestExport.v1", export_id, key);
    int rc = sp_gw_commands_run(req->app->commands, req->app->projwait, SP_TOPIC_EXPORTS_COMMANDS,
                                &meta, &command.base, req->deadline_ms, reply, err);
    free(filters_text);
    return rc;
}

int sp_gw_route_partner_exports_create(sp_gw_request *req, sp_error *err) {
    if (own_partner(req, err) != 0) return -1;
    char fresh[SP_ID_LEN + 1];
    const char *key = sp_gw_optional_key(req, fresh, err);
    if (key == NULL) return -1;
    sp_export_request request;
    if (sp_gw_export_request_parse(req->body, req->body_len, &request, err) != 0) return -1;
    char export_id[SP_ID_LEN + 1];
    sp_export_id_of(req->user.user_id, key, export_id);
    Solipass__Reply *reply = NULL;
    if (send_request(req, &request, export_id, key, &reply, err) != 0) return -1;
    int rc = 0;
    if (!reply->ok) {
        rc = sp_gw_answer_reply(req, reply, err);
    } else {
        rc = answer_export(req, export_id, 202, reply->replayed, err);
    }
    solipass__reply__free_unpacked(reply, NULL);
    return rc;
}

/* ------------------------------------------------------------------ GET list */

static json_t *exports_page(const PGresult *res, int limit, sp_error *err) {
    json_t *list = json_array();
    json_t *next_cursor = json_null();
    int rows = PQntuples(res);
    for (int row = 0; list != NULL && row < rows && row < limit; row++) {
        json_t *one = export_json(res, row, err);
        if (one == NULL || json_array_append_new(list, one) != 0) {
            json_decref(list);
            return NULL;
        }
        int64_t at_ms = 0;
        if (row == limit - 1 && rows > limit &&
            sp_gw_int64_of(PQgetvalue(res, row, EX_REQUESTED_MS), &at_ms, err) == 0) {
            char cursor[SP_GW_CURSOR_LEN_MAX + 1];
            sp_gw_cursor_encode(at_ms, PQgetvalue(res, row, EX_ID), cursor);
            next_cursor = json_string(cursor);
        }
    }
    json_t *page = json_pack("{s:o, s:o}", "exports", list, "next_cursor", next_cursor);
    if (page == NULL) sp_error_set(err, 500, "internal", "", "the exports could not be shown");
    return page;
}

int sp_gw_route_partner_exports_list(sp_gw_request *req, sp_error *err) {
    if (own_partner(req, err) != 0) return -1;
    sp_gw_page page;
    if (sp_gw_page_parse(req->query, &page, err) != 0) return -1;
    char after_ms[24], limit_plus_one[16];
    snprintf(after_ms, sizeof after_ms, "%" PRId64, page.after_occurred_at_ms);
    snprintf(limit_plus_one, sizeof limit_plus_one, "%d", page.limit + 1);
    const char *params[4] = {req->user.partner_id, page.has_cursor ? after_ms : NULL,
                             page.has_cursor ? page.after_operation_id : NULL, limit_plus_one};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, exports_sql, 4, params, &res, err) != 0) return -1;
    json_t *body = exports_page(res, page.limit, err);
    PQclear(res);
    if (body == NULL) return -1;
    return sp_gw_answer_json(req, 200, body, false);
}

/* ------------------------------------------------------------------ download */

/* Why a row cannot be downloaded; 0 when it can. */
static int downloadable(sp_gw_request *req, const PGresult *res, sp_error *err) {
    const char *status = PQgetvalue(res, 0, 0);
    int64_t expires_ms = 0;
    if (sp_gw_int64_of(PQgetvalue(res, 0, 5), &expires_ms, err) != 0) return -1;
    if (strcmp(status, "pending") == 0) {
        req->retry_after_s = 1;
        return sp_error_set(err, 409, "export_pending", "", "this export is not ready yet");
    }
    if (strcmp(status, "failed") == 0) {
        return sp_error_set(err, 409, "export_failed", "", "this export failed: %.200s",
                            PQgetvalue(res, 0, 1));
    }
    if (strcmp(status, "deleted") == 0) {
        return sp_error_set(err, 410, "export_deleted", "", "this export was deleted");
    }
    if (strcmp(status, "expired") == 0 || expires_ms <= sp_clock_now_ms(req->app->clock)) {
        return sp_error_set(err, 410, "export_expired", "", "this export has expired");
    }
    return 0;
}

/* "solipass-<kind>-<Paris day>-<id start>.csv": what the browser saves it as. */
static void download_name(const PGresult *res, char out[DOWNLOAD_NAME_MAX]) {
    int64_t at_ms = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
    char day[11];
    sp_date_format(sp_paris_date_of(at_ms), day);
    snprintf(out, DOWNLOAD_NAME_MAX, "solipass-%s-%s-%.8s.csv",
             strcmp(PQgetvalue(res, 0, 3), "operations") == 0 ? "operations"
                                                              : "demandes-remboursement",
             day, PQgetvalue(res, 0, 2));
}

static void send_headers(sp_gw_request *req, const char *name, int64_t size) {
    char length[24], disposition[DOWNLOAD_NAME_MAX + 32];
    snprintf(length, sizeof length, "%" PRId64, size);
    snprintf(disposition, sizeof disposition, "attachment; filename=\"%s\"", name);
    mg_response_header_start(req->conn, 200);
    mg_response_header_add(req->conn, "Content-Type", "text/csv; charset=utf-8", -1);
    mg_response_header_add(req->conn, "Content-Disposition", disposition, -1);
    mg_response_header_add(req->conn, "Content-Length", length, -1);
    mg_response_header_add(req->conn, "Cache-Control", "no-store", -1);
    mg_response_header_add(req->conn, "X-Content-Type-Options", "nosniff", -1);
    mg_response_header_send(req->conn);
    req->status = 200;
}

/* The file, in bounded chunks: never whole in memory. */
static int send_file(sp_gw_request *req, int fd, const char *name, sp_error *err) {
    struct stat st;
    if (fstat(fd, &st) != 0) return sp_error_set(err, 500, "internal", "", "cannot stat export");
    char *chunk = malloc(DOWNLOAD_CHUNK_BYTES);
    if (chunk == NULL) return sp_error_set(err, 503, "unavailable", "", "out of memory");
    send_headers(req, name, (int64_t)st.st_size);
    int64_t left = (int64_t)st.st_size;
    int64_t chunks_max = left / DOWNLOAD_CHUNK_BYTES + 1;
    for (int64_t i = 0; left > 0 && i < chunks_max; i++) {
        ssize_t n = read(fd, chunk, DOWNLOAD_CHUNK_BYTES);
        if (n <= 0 || mg_write(req->conn, chunk, (size_t)n) <= 0) break; /* client gone */
        left -= n;
    }
    free(chunk);
    return 0;
}

int sp_gw_route_partner_export_download(sp_gw_request *req, sp_error *err) {
    if (own_partner(req, err) != 0) return -1;
    const char *dir = req->app->config->exports_dir;
    if (dir[0] == '\0') {
        return sp_error_set(err, 503, "unavailable", "", "SP_EXPORTS_DIR is not set");
    }
    const char *params[2] = {req->user.partner_id, req->match.path_id};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, download_sql, 2, params, &res, err) != 0) return -1;
    int rc = PQntuples(res) == 1
                 ? downloadable(req, res, err)
                 : sp_error_set(err, 404, "export_not_found", "export_id", "no export has this id");
    char path[DOWNLOAD_PATH_MAX], name[DOWNLOAD_NAME_MAX];
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/%s", dir, PQgetvalue(res, 0, 2));
        download_name(res, name);
    }
    PQclear(res);
    if (rc != 0) return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        return sp_error_set(err, 410, "export_deleted", "", "this export's file is gone");
    }
    if (fd < 0) return sp_error_set(err, 500, "internal", "", "cannot open an export file");
    rc = send_file(req, fd, name, err);
    close(fd);
    return rc;
}

/* ------------------------------------------------------------------ DELETE */

int sp_gw_route_partner_export_delete(sp_gw_request *req, sp_error *err) {
    if (own_partner(req, err) != 0) return -1;
    char fresh[SP_ID_LEN + 1];
    const char *key = sp_gw_optional_key(req, fresh, err);
    if (key == NULL) return -1;
    Solipass__Exports__DeleteExport command = SOLIPASS__EXPORTS__DELETE_EXPORT__INIT;
    command.export_id = req->match.path_id;
    command.partner_id = req->user.partner_id;
    sp_envelope_meta meta = sp_gw_command_meta(req, "exports.DeleteExport.v1", req->match.path_id,
                                               key);
    Solipass__Reply *reply = NULL;
    if (sp_gw_commands_run(req->app->commands, req->app->projwait, SP_TOPIC_EXPORTS_COMMANDS, &meta,
                           &command.base, req->deadline_ms, &reply, err) != 0) {
        return -1;
    }
    int rc = reply->ok ? sp_gw_answer_no_content(req) : sp_gw_answer_reply(req, reply, err);
    solipass__reply__free_unpacked(reply, NULL);
    return rc;
}
