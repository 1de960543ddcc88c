/* sp_pg.c - PostgreSQL over libpq: a connection retried while the server
 * starts, numbered SQL migrations applied once under an advisory lock, and
 * parameterized execution whose failures carry the SQLSTATE and message. */
#include "sp_pg.h"

#include "sp_clock.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SP_PG_CONNECT_RETRY_MS 100
#define SP_PG_MIGRATION_FILES_MAX 1000
#define SP_PG_MIGRATION_BYTES_MAX (1024 * 1024)
/* "0001_" + name + ".sql" fits in a fixed buffer. */
#define SP_PG_MIGRATION_NAME_MAX 128
/* pg_advisory_lock key of the migrations: "solipass" as ASCII bytes. */
#define SP_PG_MIGRATION_LOCK_KEY "8317986236889396083"

typedef char migration_name[SP_PG_MIGRATION_NAME_MAX];

/* libpq messages end with a newline and may span lines: one line for logs. */
static void one_line(const char *in, char *out, size_t out_size) {
    assert(out_size > 0);
    size_t len = 0;
    for (const char *p = in ? in : ""; *p != '\0' && len + 1 < out_size; p++) {
        out[len++] = (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p;
    }
    while (len > 0 && out[len - 1] == ' ') len--;
    out[len] = '\0';
}

/* Server notices (e.g. "already exists, skipping") would otherwise go to
 * stderr as plain text, between the JSON log lines. */
static void log_notice(void *ctx, const char *message) {
    sp_log *log = ctx;
    if (log == NULL) return;
    char text[SP_ERROR_MESSAGE_MAX];
    one_line(message, text, sizeof text);
    sp_log_debug(log, "PostgreSQL notice", "notice", text, NULL);
}

PGconn *sp_pg_connect(const char *dsn, int wait_ms, sp_log *log, sp_error *err) {
    assert(dsn != NULL && wait_ms >= 0);
    int64_t deadline_ms = sp_clock_monotonic_ms() + wait_ms;
    int attempts_max = wait_ms / SP_PG_CONNECT_RETRY_MS + 1;
    char last_error[SP_ERROR_MESSAGE_MAX] = "";
    for (int attempt = 1; attempt <= attempts_max; attempt++) {
        PGconn *conn = PQconnectdb(dsn);
        if (conn != NULL && PQstatus(conn) == CONNECTION_OK) {
            PQsetNoticeProcessor(conn, log_notice, log);
            return conn;
        }
        one_line(conn ? PQerrorMessage(conn) : "out of memory", last_error, sizeof last_error);
        PQfinish(conn);
        if (log != NULL && attempt == 1) {
            sp_log_warn(log, "PostgreSQL not reachable yet, retrying", "error", last_error, NULL);
        }
        if (sp_clock_monotonic_ms() + SP_PG_CONNECT_RETRY_MS > deadline_ms) break;
        sp_clock_sleep_ms(SP_PG_CONNECT_RETRY_MS);
    }
    sp_error_set(err, 503, "unavailable", NULL, "cannot connect to PostgreSQL within %d ms: %s",
                 wait_ms, last_error);
    return NULL;
}

static int result_error(PGconn *conn, PGresult *res, sp_error *err) {
    char text[SP_ERROR_MESSAGE_MAX];
    if (res == NULL) {
        one_line(PQerrorMessage(conn), text, sizeof text);
        return sp_error_set(err, 500, "database_error", NULL, "%s", text);
    }
    const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
    if (primary == NULL) {
        /* Not a server error (e.g. connection lost): libpq's own text. */
        const char *message = PQresultErrorMessage(res);
        one_line(message[0] ? message : PQresStatus(PQresultStatus(res)), text, sizeof text);
    } else if (detail != NULL) {
        char joined[SP_ERROR_MESSAGE_MAX * 2];
        snprintf(joined, sizeof joined, "%s (%s)", primary, detail);
        one_line(joined, text, sizeof text);
    } else {
        one_line(primary, text, sizeof text);
    }
    return sp_error_set(err, 500, "database_error", NULL, "%s: %s", sqlstate ? sqlstate : "?????",
                        text);
}

static int take_result(PGconn *conn, PGresult *res, PGresult **out, sp_error *err);

int sp_pg_exec(PGconn *conn, const char *sql, int param_count, const char *const *params,
               PGresult **out, sp_error *err) {
    assert(conn != NULL && sql != NULL);
    assert(param_count >= 0 && (params != NULL || param_count == 0));
    if (out != NULL) *out = NULL;
    return take_result(conn, PQexecParams(conn, sql, param_count, NULL, params, NULL, NULL, 0), out,
                       err);
}

/* The result of a statement run either way, checked the same way. */
static int take_result(PGconn *conn, PGresult *res, PGresult **out, sp_error *err) {
    ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (res == NULL || (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)) {
        int rc = result_error(conn, res, err);
        PQclear(res);
        return rc;
    }
    if (out != NULL) {
        *out = res;
    } else {
        PQclear(res);
    }
    return 0;
}

int sp_pg_prepare(PGconn *conn, const char *name, const char *sql, int param_count, sp_error *err) {
    assert(conn != NULL && name != NULL && sql != NULL && param_count >= 0);
    return take_result(conn, PQprepare(conn, name, sql, param_count, NULL), NULL, err);
}

int sp_pg_exec_prepared(PGconn *conn, const char *name, int param_count, const char *const *params,
                        PGresult **out, sp_error *err) {
    assert(conn != NULL && name != NULL);
    assert(param_count >= 0 && (params != NULL || param_count == 0));
    if (out != NULL) *out = NULL;
    return take_result(conn, PQexecPrepared(conn, name, param_count, params, NULL, NULL, 0), out,
                       err);
}

int sp_pg_command(PGconn *conn, const char *sql, sp_error *err) {
    return sp_pg_exec(conn, sql, 0, NULL, NULL, err);
}

/* ---------------------------------------------------------------- migrations */

/* ^[0-9]{4}_[a-z0-9_]+\.sql$ */
static bool migration_name_valid(const char *name) {
    size_t len = strlen(name);
    if (len < 10 || len >= SP_PG_MIGRATION_NAME_MAX) return false;
    if (strcmp(name + len - 4, ".sql") != 0) return false;
    for (size_t i = 0; i < 4; i++) {
        if (name[i] < '0' || name[i] > '9') return false;
    }
    if (name[4] != '_') return false;
    for (size_t i = 5; i < len - 4; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
    return true;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(const migration_name *)a, *(const migration_name *)b);
}

/* The sorted migration files of dir into *names_out (caller frees). Other
 * files are ignored, but a *.sql file with a wrong name is an error: it
 * would otherwise never be applied. */
static int list_migrations(const char *dir, migration_name **names_out, size_t *count_out,
                           sp_error *err) {
    *names_out = NULL;
    *count_out = 0;
    int rc = -1;
    migration_name *names = NULL;
    size_t count = 0;
    DIR *handle = opendir(dir);
    if (handle == NULL) {
        return sp_error_set(err, 500, "migration_failed", NULL,
                            "cannot open the migrations directory %s: %s", dir, strerror(errno));
    }
    names = calloc(SP_PG_MIGRATION_FILES_MAX, sizeof *names);
    if (names == NULL) {
        sp_error_set(err, 500, "out_of_memory", NULL, "cannot list migrations");
        goto done;
    }
    for (struct dirent *entry = readdir(handle); entry != NULL; entry = readdir(handle)) {
        size_t len = strlen(entry->d_name);
        if (entry->d_name[0] == '.' || len < 4 || strcmp(entry->d_name + len - 4, ".sql") != 0) {
            continue;
        }
        if (!migration_name_valid(entry->d_name)) {
            sp_error_set(err, 500, "migration_failed", NULL,
                         "migration file name %s does not match NNNN_name.sql (a-z, 0-9, _)",
                         entry->d_name);
            goto done;
        }
        if (count == SP_PG_MIGRATION_FILES_MAX) {
            sp_error_set(err, 500, "migration_failed", NULL, "more than %d migration files in %s",
                         SP_PG_MIGRATION_FILES_MAX, dir);
            goto done;
        }
        snprintf(names[count++], sizeof names[0], "%s", entry->d_name);
    }
    qsort(names, count, sizeof *names, compare_names);
    for (size_t i = 1; i < count; i++) {
        if (strncmp(names[i - 1], names[i], 4) == 0) {
            sp_error_set(err, 500, "migration_failed", NULL,
                         "migrations %s and %s share the same number", names[i - 1], names[i]);
            goto done;
        }
    }
    *names_out = names;
    *count_out = count;
    names = NULL;
    rc = 0;
done:
    free(names);
    closedir(handle);
    return rc;
}

/* The whole file as a C string (caller frees), bounded in size. */
static char *read_sql_file(const char *path, sp_error *err) {
    char *sql = NULL;
    FILE *file = fopen(path, "re");
    if (file == NULL) {
        sp_error_set(err, 500, "migration_failed", NULL, "cannot open %s: %s", path,
                     strerror(errno));
        return NULL;
    }
    sql = malloc(SP_PG_MIGRATION_BYTES_MAX + 1);
    if (sql == NULL) {
        sp_error_set(err, 500, "out_of_memory", NULL, "cannot read %s", path);
        goto done;
    }
    size_t len = fread(sql, 1, SP_PG_MIGRATION_BYTES_MAX, file);
    if (ferror(file) || fgetc(file) != EOF || memchr(sql, '\0', len) != NULL) {
        sp_error_set(err, 500, "migration_failed", NULL,
                     "%s: unreadable, larger than %d bytes, or contains a NUL byte", path,
                     SP_PG_MIGRATION_BYTES_MAX);
        free(sql);
        sql = NULL;
        goto done;
    }
    sql[len] = '\0';
done:
    fclose(file);
    return sql;
}

static int migration_applied(PGconn *conn, const char *name, bool *applied, sp_error *err) {
    PGresult *res = NULL;
    const char *params[1] = {name};
    if (sp_pg_exec(conn, "SELECT 1 FROM schema_migrations WHERE name = $1", 1, params, &res, err) !=
        0) {
        return -1;
    }
    *applied = PQntuples(res) > 0;
    PQclear(res);
    return 0;
}

/* One file in one transaction, recorded in the same transaction. */
static int apply_migration(PGconn *conn, const char *dir, const char *name, sp_error *err) {
    int rc = -1;
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        return sp_error_set(err, 500, "migration_failed", NULL, "path too long: %s", dir);
    }
    char *sql = read_sql_file(path, err);
    if (sql == NULL) return -1;
    if (sp_pg_command(conn, "BEGIN", err) != 0) goto done;
    /* PQexec, not PQexecParams: a migration holds several statements. */
    PGresult *res = PQexec(conn, sql);
    ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_EMPTY_QUERY) {
        result_error(conn, res, err);
        PQclear(res);
        char reason[SP_ERROR_MESSAGE_MAX];
        snprintf(reason, sizeof reason, "%s", err ? err->message : "");
        sp_error_set(err, 500, "migration_failed", NULL, "%s: %s", name, reason);
        goto done;
    }
    PQclear(res);
    const char *params[1] = {name};
    if (sp_pg_exec(conn, "INSERT INTO schema_migrations (name, applied_at) VALUES ($1, now())", 1,
                   params, NULL, err) != 0) {
        goto done;
    }
    if (sp_pg_command(conn, "COMMIT", err) != 0) goto done;
    rc = 0;
done:
    free(sql);
    return rc;
}

static int apply_pending(PGconn *conn, const char *dir, const migration_name *names, size_t count,
                         sp_log *log, sp_error *err) {
    for (size_t i = 0; i < count; i++) {
        bool applied = false;
        if (migration_applied(conn, names[i], &applied, err) != 0) return -1;
        if (applied) continue;
        if (apply_migration(conn, dir, names[i], err) != 0) return -1;
        if (log != NULL) sp_log_info(log, "migration applied", "name", names[i], NULL);
    }
    return 0;
}

int sp_pg_migrate(PGconn *conn, const char *dir, sp_log *log, sp_error *err) {
    assert(conn != NULL && dir != NULL);
    int rc = -1;
    bool locked = false;
    migration_name *names = NULL;
    size_t count = 0;
    const char *lock_params[1] = {SP_PG_MIGRATION_LOCK_KEY};
    if (list_migrations(dir, &names, &count, err) != 0) goto done;
    /* Lock first: two starters creating the bookkeeping table would race too. */
    if (sp_pg_exec(conn, "SELECT pg_advisory_lock($1::bigint)", 1, lock_params, NULL, err) != 0) {
        goto done;
    }
    locked = true;
    if (sp_pg_command(conn,
                      "CREATE TABLE IF NOT EXISTS schema_migrations ("
                      "name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                      err) != 0) {
        goto done;
    }
    rc = apply_pending(conn, dir, names, count, log, err);
done:
    if (PQtransactionStatus(conn) != PQTRANS_IDLE) {
        PGresult *res = PQexec(conn, "ROLLBACK");
        PQclear(res);
    }
    if (locked) {
        /* Failing to unlock only matters until the session ends: no error. */
        PGresult *res = PQexecParams(conn, "SELECT pg_advisory_unlock($1::bigint)", 1, NULL,
                                     lock_params, NULL, NULL, 0);
        PQclear(res);
    }
    free(names);
    return rc;
}
