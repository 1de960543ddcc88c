/* build.c - one export file, streamed from a cursor (see build.h). */
#include "build.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>

#include "csv.h"
#include "export_rows.h"
#include "sp_export_request.h"
#include "sp_pg.h"

#define WRITE_TRIES_MAX 1024 /* short writes of one buffer */
#define CURSOR "export_rows"

struct sp_export_build {
    PGconn *conn; /* borrowed */
    sp_log *log;  /* borrowed */
    char export_id[SP_ID_LEN + 1];
    sp_export_kind kind;
    char tmp_path[SP_EXPORT_PATH_MAX];
    char path[SP_EXPORT_PATH_MAX];
    char dir[SP_EXPORT_PATH_MAX];
    int fd;
    bool in_transaction;
    bool marked_ready;
    int64_t rows_max;
    char fetch_sql[64];
    int64_t row_count;
    int64_t size_bytes;
    sp_csv csv;
    char *buffer; /* SP_EXPORT_BUFFER_BYTES */
};

/* clang-format off */
static const char next_sql[] =
    "SELECT export_id, partner_id, kind, filters::text FROM exports WHERE status = 'pending'"
    " ORDER BY requested_at, export_id LIMIT 1";

/* The listing's order (newest first), the listing's filters. */
static const char operations_sql[] =
    "DECLARE " CURSOR " NO SCROLL CURSOR FOR"
    " SELECT floor(extract(epoch FROM o.occurred_at) * 1000)::bigint, o.reference,"
    " coalesce(o.channel, ''), o.amount_cents, o.status, o.pass_id, o.category, o.operation_id,"
    " coalesce(o.refund_request_id::text, '')"
    " FROM operations o WHERE o.partner_id = $1::uuid AND o.kind = 'payment'"
    SP_OPERATIONS_FILTER_SQL("2", "3", "4", "5", "6", "7", "8", "9")
    " ORDER BY o.occurred_at DESC, o.operation_id ASC";

static const char refunds_sql[] =
    "DECLARE " CURSOR " NO SCROLL CURSOR FOR"
    " SELECT floor(extract(epoch FROM r.created_at) * 1000)::bigint, r.request_id, r.kind,"
    " r.period, r.status,"
    " CASE WHEN r.status = 'opening' THEN r.expected_total_cents ELSE r.total_cents END,"
    " r.operation_count, r.paid_at IS NOT NULL,"
    " coalesce(floor(extract(epoch FROM r.paid_at) * 1000)::bigint, 0), r.transfer_reference,"
    " r.cancel_reason, r.cancel_message"
    " FROM refund_requests r WHERE r.partner_id = $1::uuid"
    SP_EXPORT_REFUND_FILTER_SQL("2", "3", "4", "5")
    " ORDER BY r.created_at DESC, r.request_id ASC";

static const char ready_sql[] =
    "UPDATE exports SET status = 'ready', row_count = $2::bigint, size_bytes = $3::bigint,"
    " ready_at = timestamptz 'epoch' + $4::bigint * interval '1 millisecond'"
    " WHERE export_id = $1::uuid AND status = 'pending'";

static const char failed_sql[] =
    "UPDATE exports SET status = 'failed', reason = $2"
    " WHERE export_id = $1::uuid AND status = 'pending'";
/* clang-format on */

bool sp_export_path(const char *dir, const char *export_id, bool temporary,
                    char out[SP_EXPORT_PATH_MAX]) {
    assert(dir != NULL && export_id != NULL && out != NULL);
    int n = snprintf(out, SP_EXPORT_PATH_MAX, "%s/%s.csv%s", dir, export_id,
                     temporary ? ".tmp" : "");
    return n > 0 && n < SP_EXPORT_PATH_MAX;
}

const char *sp_export_build_id(const sp_export_build *build) {
    assert(build != NULL);
    return build->export_id;
}

/* ------------------------------------------------------------------ the file */

static int write_all(sp_export_build *b, const char *data, size_t len, sp_error *err) {
    size_t done = 0;
    for (int tries = 0; done < len && tries < WRITE_TRIES_MAX; tries++) {
        ssize_t n = write(b->fd, data + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            return sp_error_set(err, 500, "export_write_failed", "", "cannot write %s: %s",
                                b->tmp_path, n < 0 ? strerror(errno) : "nothing written");
        }
        done += (size_t)n;
    }
    if (done < len) {
        return sp_error_set(err, 500, "export_write_failed", "", "cannot write %s", b->tmp_path);
    }
    b->size_bytes += (int64_t)len;
    return 0;
}

/* Empties the buffer into the file once it holds `at_least` bytes. */
static int drain(sp_export_build *b, size_t at_least, sp_error *err) {
    if (b->csv.len < at_least || b->csv.len == 0) return 0;
    if (write_all(b, b->buffer, b->csv.len, err) != 0) return -1;
    sp_csv_drain(&b->csv);
    return 0;
}

static int fsync_dir(const char *dir, sp_error *err) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    int rc = fd >= 0 && fsync(fd) == 0 ? 0 : -1;
    if (fd >= 0) close(fd);
    if (rc != 0) {
        return sp_error_set(err, 500, "export_write_failed", "", "cannot sync folder %s: %s", dir,
                            strerror(errno));
    }
    return 0;
}

/* Durable under its final name: data, then the name. */
static int publish_file(sp_export_build *b, sp_error *err) {
    if (drain(b, 1, err) != 0) return -1;
    if (fsync(b->fd) != 0) {
        return sp_error_set(err, 500, "export_write_failed", "", "cannot sync %s: %s", b->tmp_path,
                            strerror(errno));
    }
    int rc = close(b->fd);
    b->fd = -1;
    if (rc != 0) {
        return sp_error_set(err, 500, "export_write_failed", "", "cannot close %s: %s", b->tmp_path,
                            strerror(errno));
    }
    if (rename(b->tmp_path, b->path) != 0) {
        return sp_error_set(err, 500, "export_write_failed", "", "cannot rename %s: %s",
                            b->tmp_path, strerror(errno));
    }
    return fsync_dir(b->dir, err);
}

/* ------------------------------------------------------------------ rows */

static int64_t int_at(const PGresult *res, int row, int column) {
    return strtoll(PQgetvalue(res, row, column), NULL, 10);
}

static int write_operation(sp_export_build *b, const PGresult *res, int i, sp_error *err) {
    sp_export_operation_row row = {.occurred_at_ms = int_at(res, i, 0),
                                   .reference = PQgetvalue(res, i, 1),
                                   .channel = PQgetvalue(res, i, 2),
                                   .amount_cents = int_at(res, i, 3),
                                   .status = PQgetvalue(res, i, 4),
                                   .pass_id = PQgetvalue(res, i, 5),
                                   .category = PQgetvalue(res, i, 6),
                                   .operation_id = PQgetvalue(res, i, 7),
                                   .refund_request_id = PQgetvalue(res, i, 8)};
    if (strlen(row.pass_id) != SP_ID_LEN) {
        return sp_error_set(err, 500, "internal", "", "a stored pass id breaks the schema");
    }
    return sp_export_operation_write(&b->csv, &row, err);
}

static int write_refund(sp_export_build *b, const PGresult *res, int i, sp_error *err) {
    sp_export_refund_row row = {.created_at_ms = int_at(res, i, 0),
                                .request_id = PQgetvalue(res, i, 1),
                                .kind = PQgetvalue(res, i, 2),
                                .period = PQgetvalue(res, i, 3),
                                .status = PQgetvalue(res, i, 4),
                                .amount_cents = int_at(res, i, 5),
                                .operation_count = int_at(res, i, 6),
                                .paid = strcmp(PQgetvalue(res, i, 7), "t") == 0,
                                .paid_at_ms = int_at(res, i, 8),
                                .transfer_reference = PQgetvalue(res, i, 9),
                                .cancel_reason = PQgetvalue(res, i, 10),
                                .cancel_message = PQgetvalue(res, i, 11)};
    return sp_export_refund_write(&b->csv, &row, err);
}

static int write_rows(sp_export_build *b, const PGresult *res, sp_error *err) {
    for (int i = 0; i < PQntuples(res); i++) {
        if (b->row_count >= b->rows_max) {
            return sp_error_set(err, 422, "export_too_large", "",
                                "the export holds more than %" PRId64 " rows: narrow the filters",
                                b->rows_max);
        }
        int rc = b->kind == SP_EXPORT_OPERATIONS ? write_operation(b, res, i, err)
                                                 : write_refund(b, res, i, err);
        if (rc != 0) return -1;
        b->row_count++;
        if (drain(b, SP_EXPORT_BUFFER_BYTES - SP_EXPORT_ROW_BYTES_MAX, err) != 0) return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ the build */

static void discard(sp_export_build *b) {
    if (b->fd >= 0) close(b->fd);
    b->fd = -1;
    unlink(b->tmp_path);
    if (!b->marked_ready) unlink(b->path); /* published, but its row could not say so */
    if (b->in_transaction) {
        sp_error ignored;
        sp_pg_command(b->conn, "ROLLBACK", &ignored);
        b->in_transaction = false;
    }
}

/* Removes what was written and records why; -1 when even that fails. */
static int fail(sp_export_build *b, const sp_error *why, sp_error *err) {
    discard(b);
    sp_log_warn(b->log, "export failed", "export_id", b->export_id, "code", why->code, "detail",
                why->message, NULL);
    const char *params[2] = {b->export_id, why->message[0] != '\0' ? why->message : why->code};
    return sp_pg_exec(b->conn, failed_sql, 2, params, NULL, err);
}

static int open_cursor(sp_export_build *b, const char *partner_id, const json_t *filters,
                       sp_error *err) {
    sp_export_request request;
    if (sp_export_filters_parse(b->kind, filters, &request, err) != 0) return -1;
    const char *params[1 + SP_OPERATIONS_FILTER_PARAMS] = {partner_id};
    char amounts[2][SP_OPERATIONS_FILTER_AMOUNT_TEXT_MAX];
    int count = 1;
    if (b->kind == SP_EXPORT_OPERATIONS) {
        sp_operations_filter_params(&request.operations, amounts, params + 1);
        count += SP_OPERATIONS_FILTER_PARAMS;
    } else {
        sp_export_refund_filter_params(&request.refunds, params + 1);
        count += SP_EXPORT_REFUND_FILTER_PARAMS;
    }
    /* One snapshot for the whole file, however long it takes. */
    if (sp_pg_command(b->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err) != 0) {
        return -1;
    }
    b->in_transaction = true;
    return sp_pg_exec(b->conn, b->kind == SP_EXPORT_OPERATIONS ? operations_sql : refunds_sql,
                      count, params, NULL, err);
}

static int begin(sp_export_build *b, const char *dir, const char *partner_id,
                 const char *filters_text, sp_error *err) {
    if (!sp_export_path(dir, b->export_id, true, b->tmp_path) ||
        !sp_export_path(dir, b->export_id, false, b->path)) {
        return sp_error_set(err, 500, "export_write_failed", "", "SP_EXPORTS_DIR is too long");
    }
    snprintf(b->dir, sizeof b->dir, "%s", dir);
    json_error_t jerr;
    json_t *filters = json_loads(filters_text, JSON_REJECT_DUPLICATES, &jerr);
    int rc = filters != NULL ? 0
                             : sp_error_set(err, 500, "internal", "",
                                            "stored filters are "
                                            "not JSON");
    if (rc == 0) rc = open_cursor(b, partner_id, filters, err);
    json_decref(filters);
    if (rc != 0) return -1;
    b->fd = open(b->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (b->fd < 0) {
        return sp_error_set(err, 500, "export_write_failed", "", "cannot create %s: %s",
                            b->tmp_path, strerror(errno));
    }
    if (sp_csv_bom(&b->csv, err) != 0) return -1;
    return b->kind == SP_EXPORT_OPERATIONS ? sp_export_operations_header(&b->csv, err)
                                           : sp_export_refunds_header(&b->csv, err);
}

static sp_export_build *build_new(PGconn *conn, const PGresult *res, int64_t rows_max,
                                  int64_t batch_rows, sp_log *log) {
    sp_export_build *b = calloc(1, sizeof *b);
    char *buffer = malloc(SP_EXPORT_BUFFER_BYTES);
    if (b == NULL || buffer == NULL) {
        free(b);
        free(buffer);
        return NULL;
    }
    b->conn = conn;
    b->log = log;
    b->fd = -1;
    b->buffer = buffer;
    b->rows_max = rows_max;
    sp_csv_init(&b->csv, buffer, SP_EXPORT_BUFFER_BYTES);
    snprintf(b->export_id, sizeof b->export_id, "%s", PQgetvalue(res, 0, 0));
    snprintf(b->fetch_sql, sizeof b->fetch_sql, "FETCH FORWARD %" PRId64 " FROM " CURSOR,
             batch_rows);
    if (!sp_export_kind_parse(PQgetvalue(res, 0, 2), &b->kind)) b->kind = 0;
    return b;
}

int sp_export_build_next(PGconn *conn, const char *dir, int64_t rows_max, int64_t batch_rows,
                         sp_log *log, sp_export_build **out, sp_error *err) {
    assert(conn != NULL && dir != NULL && rows_max > 0 && batch_rows > 0 && out != NULL);
    *out = NULL;
    PGresult *res = NULL;
    if (sp_pg_exec(conn, next_sql, 0, NULL, &res, err) != 0) return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    sp_export_build *b = build_new(conn, res, rows_max, batch_rows, log);
    if (b == NULL) {
        PQclear(res);
        return sp_error_set(err, 500, "out_of_memory", "", "export build");
    }
    sp_error why;
    sp_error_clear(&why);
    int rc = 0;
    if (sp_export_kind_name(b->kind) == NULL) {
        sp_error_set(&why, 500, "internal", "", "a stored export kind breaks the schema");
        rc = fail(b, &why, err);
    } else if (begin(b, dir, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 3), &why) != 0) {
        rc = fail(b, &why, err);
    } else {
        sp_log_info(log, "export started", "export_id", b->export_id, "kind",
                    sp_export_kind_name(b->kind), NULL);
        *out = b;
    }
    PQclear(res);
    if (*out == NULL) sp_export_build_free(b);
    return rc;
}

/* The cursor is exhausted: the file is published, then the row marked ready. */
static int finish(sp_export_build *b, int64_t now_ms, sp_error *err) {
    if (sp_pg_command(b->conn, "COMMIT", err) != 0) return -1;
    b->in_transaction = false;
    if (publish_file(b, err) != 0) return -1;
    char rows[24], size[24], now[24];
    snprintf(rows, sizeof rows, "%" PRId64, b->row_count);
    snprintf(size, sizeof size, "%" PRId64, b->size_bytes);
    snprintf(now, sizeof now, "%" PRId64, now_ms);
    const char *params[4] = {b->export_id, rows, size, now};
    PGresult *res = NULL;
    if (sp_pg_exec(b->conn, ready_sql, 4, params, &res, err) != 0) return -1;
    bool marked = strcmp(PQcmdTuples(res), "1") == 0;
    PQclear(res);
    b->marked_ready = true;
    if (!marked) unlink(b->path); /* deleted or expired meanwhile: no file without its row */
    sp_log_info(b->log, "export ready", "export_id", b->export_id, "rows", rows, "size_bytes", size,
                NULL);
    return 0;
}

static int step_once(sp_export_build *b, int64_t now_ms, bool *done, sp_error *err) {
    PGresult *res = NULL;
    if (sp_pg_exec(b->conn, b->fetch_sql, 0, NULL, &res, err) != 0) return -1;
    int rc = write_rows(b, res, err);
    *done = PQntuples(res) == 0;
    PQclear(res);
    if (rc == 0 && *done) rc = finish(b, now_ms, err);
    return rc;
}

int sp_export_build_step(sp_export_build *build, int64_t now_ms, sp_export_step *step,
                         sp_error *err) {
    assert(build != NULL && step != NULL);
    sp_error why;
    sp_error_clear(&why);
    bool done = false;
    if (step_once(build, now_ms, &done, &why) == 0) {
        *step = done ? SP_EXPORT_STEP_DONE : SP_EXPORT_STEP_MORE;
        return 0;
    }
    *step = SP_EXPORT_STEP_FAILED;
    return fail(build, &why, err);
}

void sp_export_build_abandon(sp_export_build *build) {
    assert(build != NULL);
    discard(build);
    sp_log_info(build->log, "export abandoned", "export_id", build->export_id, NULL);
}

void sp_export_build_free(sp_export_build *build) {
    if (build == NULL) return;
    if (build->fd >= 0) discard(build);
    free(build->buffer);
    free(build);
}
