/* projection_replay.c - rebuild the read models into shadow tables, compare,
 * swap them in (see projection_replay.h). The shadow is built by the
 * projection's own loop (projection.c) in schema SP_REPLAY_SCHEMA; this file
 * holds the steps around it: checks, the shadow schema, the convergence on
 * the live offsets and the swap transaction. */
#include "projection_replay.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libpq-fe.h>
#include "projection.h"
#include "projection_positions.h"
#include "projection_rows.h"
#include "sp_clock.h"
#include "sp_kafka.h"
#include "sp_pg.h"

#define REPLAY_CLIENT_ID "solipass-replay"
#define REPLAY_SQL_MAX 2048
#define REPLAY_NAME_MAX 128
#define REPLAY_TABLES_MAX 64
#define REPLAY_PG_CONNECT_WAIT_MS 30000
#define REPLAY_KAFKA_TIMEOUT_MS 10000
#define REPLAY_LIVE_WAIT_MS 500   /* the live projection is behind the shadow */
#define REPLAY_LOCK_TIMEOUT "30s" /* the swap lock waits for one live batch */
/* Held for the whole replay: one replay per database ("sp-rply" in ASCII). */
#define REPLAY_LOCK_KEY "32492962835540089"
#define REPLAY_LINES_MAX (REPLAY_TABLES_MAX * (REPLAY_NAME_MAX + 2 * 40 + 16))
/* The replay's connections for the work after the build (indexes,
 * statistics, checksums): its own and one more, so two tables' are done at
 * once (one PostgreSQL backend per core). */
#define REPLAY_SIDE_CONNS 2
#define REPLAY_SIDE_WAIT_MS 600000 /* one table's indexes or checksum */
#define REPLAY_JOB_SQL_MAX 2048
#define REPLAY_SIDE_JOBS_MAX 256 /* indexes and statistics, or checksums */

typedef struct replay {
    const sp_replay_options *options;
    sp_clock *clock;
    sp_log *log;
    const volatile sig_atomic_t *stop;
    FILE *out;
    PGconn *conn;
    PGconn *side_conn;                   /* the compare's second connection */
    char live_schema[REPLAY_NAME_MAX];   /* quoted identifier */
    char shadow_schema[REPLAY_NAME_MAX]; /* quoted identifier */
    bool chosen[REPLAY_TABLES_MAX];
    sp_kafka_tp tps[SP_PROJECTION_POSITIONS_MAX]; /* offset: the shadow's target */
    size_t tp_count;
    bool holds_projection_lock; /* no live projection: the replay writes the offsets */
    /* The swap renames the shadow tables in (they are logged, then); else
     * it copies their rows into the live tables (renamable_reason says why). */
    bool renames;
    char renamable_reason[REPLAY_SQL_MAX];
    int64_t compare_ms, copy_in_ms; /* the swap's two steps, for the log */
    int64_t finish_ms;              /* the shadow's other indexes and statistics */
} replay;

static int64_t replay_now_ms(void);

static int sql_format(char *out, size_t out_size, sp_error *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int sql_format(char *out, size_t out_size, sp_error *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, out_size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= out_size)
        return sp_error_set(err, 500, "sql_too_long", "", "a replay statement exceeds %zu bytes",
                            out_size);
    return 0;
}

/* ------------------------------------------------------------ tables */

static int table_index(const char *name, size_t name_len) {
    for (size_t i = 0; i < sp_projection_table_count; i++)
        if (strlen(sp_projection_tables[i].name) == name_len &&
            strncmp(sp_projection_tables[i].name, name, name_len) == 0)
            return (int)i;
    return -1;
}

static void known_tables(char *out, size_t out_size) {
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sp_projection_table_count && used < out_size; i++) {
        int n = snprintf(out + used, out_size - used, "%s%s", i ? ", " : "",
                         sp_projection_tables[i].name);
        if (n < 0) break;
        used += (size_t)n;
    }
}

int sp_replay_tables_parse(const char *list, bool *chosen, sp_error *err) {
    assert(list != NULL && chosen != NULL);
    assert(sp_projection_table_count <= REPLAY_TABLES_MAX);
    bool all = list[0] == '\0';
    for (size_t i = 0; i < sp_projection_table_count; i++) chosen[i] = all;
    for (const char *at = list; !all;) {
        const char *comma = strchr(at, ',');
        size_t len = comma ? (size_t)(comma - at) : strlen(at);
        int index = table_index(at, len);
        if (index < 0) {
            char known[1024];
            known_tables(known, sizeof known);
            return sp_error_set(err, 400, "unknown_table", "--tables",
                                "unknown read model \"%.*s\": the read models are %s",
                                (int)(len < 64 ? len : 64), at, known);
        }
        chosen[index] = true;
        if (comma == NULL) break;
        at = comma + 1;
    }
    return 0;
}

/* TRUNCATE needs every table that references a chosen one: they are chosen
 * too (and must be read models). */
static int expand_references(replay *r, sp_error *err) {
    /* clang-format off */
    static const char sql[] =
        "WITH RECURSIVE c(rel) AS (SELECT to_regclass(quote_ident(current_schema()) || '.' || "
        "quote_ident(n)) FROM unnest($1::text[]) AS n UNION SELECT k.conrelid FROM "
        "pg_constraint k JOIN c ON k.confrelid = c.rel WHERE k.contype = 'f') "
        "SELECT cl.relname FROM c JOIN pg_class cl ON cl.oid = c.rel";
    /* clang-format on */
    char names[REPLAY_SQL_MAX];
    size_t used = 0;
    names[used++] = '{';
    for (size_t i = 0; i < sp_projection_table_count; i++) {
        if (!r->chosen[i]) continue;
        int n = snprintf(names + used, sizeof names - used, "%s%s", used > 1 ? "," : "",
                         sp_projection_tables[i].name);
        assert(n > 0 && (size_t)n < sizeof names - used - 1);
        used += (size_t)n;
    }
    snprintf(names + used, sizeof names - used, "}");
    const char *params[1] = {names};
    PGresult *res = NULL;
    if (sp_pg_exec(r->conn, sql, 1, params, &res, err) != 0) return -1;
    int rc = 0;
    for (int row = 0; row < PQntuples(res) && rc == 0; row++) {
        const char *name = PQgetvalue(res, row, 0);
        int index = table_index(name, strlen(name));
        if (index < 0)
            rc = sp_error_set(err, 500, "not_a_read_model", "",
                              "table %s references a read "
                              "model but is not one: the replay cannot swap",
                              name);
        else r->chosen[index] = true;
    }
    PQclear(res);
    return rc;
}

/* ------------------------------------------------------------ the log */

/* The high watermarks (the shadow's first targets); a partition whose low
 * watermark is above 0 lost its first events: nothing can be rebuilt. */
static int read_watermarks(replay *r, sp_error *err) {
    int ledger = sp_kafka_partition_count(r->options->brokers, SP_TOPIC_LEDGER_EVENTS,
                                          REPLAY_KAFKA_TIMEOUT_MS, err);
    if (ledger < 0) return -1;
    if (ledger > SP_PROJECTION_POSITIONS_MAX - 1)
        return sp_error_set(err, 500, "invalid_config", "", "%s has %d partitions, more than %d",
                            SP_TOPIC_LEDGER_EVENTS, ledger, SP_PROJECTION_POSITIONS_MAX - 1);
    r->tps[0] = (sp_kafka_tp){.topic = SP_TOPIC_ACCOUNTS_EVENTS,
                              .partition = 0,
                              .offset = RD_KAFKA_OFFSET_END};
    for (int i = 0; i < ledger; i++)
        r->tps[1 + i] = (sp_kafka_tp){.topic = SP_TOPIC_LEDGER_EVENTS,
                                      .partition = i,
                                      .offset = RD_KAFKA_OFFSET_END};
    r->tp_count = 1 + (size_t)ledger;
    sp_kafka_consumer *consumer = sp_kafka_consumer_new_assigned(r->options->brokers,
                                                                 REPLAY_CLIENT_ID, r->tps,
                                                                 r->tp_count, r->log, err);
    if (consumer == NULL) return -1;
    int64_t lows[SP_PROJECTION_POSITIONS_MAX], highs[SP_PROJECTION_POSITIONS_MAX];
    int rc = sp_kafka_watermarks_many(consumer, r->tps, r->tp_count, lows, highs,
                                      REPLAY_KAFKA_TIMEOUT_MS, err);
    for (size_t i = 0; i < r->tp_count && rc == 0; i++) {
        if (lows[i] > 0)
            rc = sp_error_set(err, 500, "log_truncated", "",
                              "log truncated at %s[%" PRId32 "]: "
                              "low watermark %" PRId64 " (the events before it are gone): the "
                              "read models cannot be rebuilt from this log, nothing swapped",
                              r->tps[i].topic, r->tps[i].partition, lows[i]);
        r->tps[i].offset = highs[i];
    }
    sp_kafka_consumer_free(consumer);
    return rc;
}

/* ------------------------------------------------------------ database */

static int quote_into(PGconn *conn, const char *name, char *out, size_t out_size, sp_error *err) {
    char *quoted = PQescapeIdentifier(conn, name, strlen(name));
    if (quoted == NULL) return sp_error_set(err, 500, "database_error", "", "quoting %s", name);
    int n = snprintf(out, out_size, "%s", quoted);
    PQfreemem(quoted);
    if (n < 0 || (size_t)n >= out_size)
        return sp_error_set(err, 500, "database_error", "", "schema name too long");
    return 0;
}

static int replay_connect(replay *r, sp_error *err) {
    r->conn = sp_pg_connect(r->options->pg_dsn, REPLAY_PG_CONNECT_WAIT_MS, r->log, err);
    if (r->conn == NULL) return -1;
    PGresult *res = NULL;
    const char *params[1] = {REPLAY_LOCK_KEY};
    if (PQsetClientEncoding(r->conn, "UTF8") != 0)
        return sp_error_set(err, 500, "database_error", "", "cannot set client_encoding UTF8");
    if (sp_pg_migrate(r->conn, r->options->migrations_dir, r->log, err) != 0 ||
        sp_projection_checksum_settings(r->conn, err) != 0 ||
        sp_pg_command(r->conn, "SET lock_timeout = '" REPLAY_LOCK_TIMEOUT "'", err) != 0 ||
        sp_pg_exec(r->conn, "SELECT current_schema(), pg_try_advisory_lock($1::bigint)", 1, params,
                   &res, err) != 0)
        return -1;
    bool locked = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    int rc = quote_into(r->conn, PQgetvalue(res, 0, 0), r->live_schema, sizeof r->live_schema, err);
    PQclear(res);
    if (rc != 0) return -1;
    if (!locked)
        return sp_error_set(err, 409, "replay_busy", "",
                            "another replay is running on this "
                            "database");
    r->side_conn = sp_pg_connect(r->options->pg_dsn, REPLAY_PG_CONNECT_WAIT_MS, r->log, err);
    if (r->side_conn == NULL) return -1;
    if (PQsetClientEncoding(r->side_conn, "UTF8") != 0)
        return sp_error_set(err, 500, "database_error", "", "cannot set client_encoding UTF8");
    if (sp_projection_checksum_settings(r->side_conn, err) != 0) return -1;
    return quote_into(r->conn, SP_REPLAY_SCHEMA, r->shadow_schema, sizeof r->shadow_schema, err);
}

/* ------------------------------------------------------------ shadow tables */

/* The chosen live tables, "<live>.<table>, ..." or, as_regclass,
 * "'<live>.<table>'::regclass, ...". */
static int chosen_tables(replay *r, bool as_regclass, char *out, size_t out_size, sp_error *err) {
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sp_projection_table_count; i++) {
        if (!r->chosen[i]) continue;
        int n = snprintf(out + used, out_size - used, "%s%s%s.%s%s", used > 0 ? ", " : "",
                         as_regclass ? "'" : "", r->live_schema, sp_projection_tables[i].name,
                         as_regclass ? "'::regclass" : "");
        if (n < 0 || (size_t)n >= out_size - used)
            return sp_error_set(err, 500, "sql_too_long", "", "the read models' names");
        used += (size_t)n;
    }
    return 0;
}

/* Whether the swap can put the shadow tables in place of the live ones: a
 * table with grants, another owner, row security, triggers or views on it
 * would lose them, so its rows are copied in instead. */
static int decide_renames(replay *r, sp_error *err) {
    char tables[REPLAY_SQL_MAX], sql[REPLAY_SQL_MAX * 3];
    /* clang-format off */
    if (chosen_tables(r, true, tables, sizeof tables, err) != 0 ||
        sql_format(sql, sizeof sql, err,
            "SELECT string_agg(c.relname || CASE WHEN c.relacl IS NOT NULL THEN ' has grants' "
            "WHEN c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user) "
            "THEN ' has another owner' WHEN c.relrowsecurity THEN ' has row security' "
            "WHEN EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND "
            "NOT t.tgisinternal) THEN ' has triggers' ELSE ' has views' END, ', ') "
            "FROM pg_class c WHERE c.oid = ANY (ARRAY[%s]) AND (c.relacl IS NOT NULL OR "
            "c.relrowsecurity OR "
            "c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user) OR "
            "EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal) "
            "OR EXISTS (SELECT 1 FROM pg_depend d JOIN pg_rewrite w ON d.classid = "
            "'pg_rewrite'::regclass AND d.objid = w.oid WHERE d.refobjid = c.oid AND "
            "w.ev_class <> c.oid))", tables) != 0)
        return -1;
    /* clang-format on */
    PGresult *res = NULL;
    if (sp_pg_exec(r->conn, sql, 0, NULL, &res, err) != 0) return -1;
    r->renames = PQgetisnull(res, 0, 0);
    snprintf(r->renamable_reason, sizeof r->renamable_reason, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (!r->renames)
        sp_log_info(r->log, "replay swaps by copying the rows in", "reason", r->renamable_reason,
                    NULL);
    return 0;
}

/* The statements that give a shadow table the live table's keys (keys:
 * its primary key, unique constraints and unique indexes, which the
 * statements' ON CONFLICT and the checksums' order need) or its other
 * indexes, under the same names; rendered with the live schema as the
 * search path, so that the table's name comes out unqualified and, run
 * with the shadow schema first, names the shadow table. In a transaction. */
static int key_statements(replay *r, const char *table, bool keys, PGresult **out, sp_error *err) {
    char path[REPLAY_SQL_MAX], sql[REPLAY_SQL_MAX * 2];
    /* clang-format off */
    if (sql_format(path, sizeof path, err, "SET LOCAL search_path TO %s", r->live_schema) != 0 ||
        sql_format(sql, sizeof sql, err,
                   "SELECT CASE WHEN c.oid IS NULL THEN 'CREATE ' || CASE WHEN i.indisunique "
                   "THEN 'UNIQUE ' ELSE '' END || 'INDEX ' || quote_ident(x.relname) || ' ON ' || "
                   "quote_ident(t.relname) || substring(pg_get_indexdef(i.indexrelid) FROM "
                   "position(' USING ' IN pg_get_indexdef(i.indexrelid))) "
                   "ELSE 'ALTER TABLE ' || i.indrelid::regclass::text || ' ADD CONSTRAINT ' || "
                   "quote_ident(c.conname) || ' ' || pg_get_constraintdef(c.oid) END "
                   "FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid "
                   "JOIN pg_class t ON t.oid = i.indrelid "
                   "LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND "
                   "c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x') "
                   "WHERE i.indrelid = '%s.%s'::regclass AND "
                   "(i.indisunique OR c.oid IS NOT NULL) = %s ORDER BY 1",
                   r->live_schema, table, keys ? "true" : "false") != 0)
        return -1;
    /* clang-format on */
    if (sp_pg_command(r->conn, path, err) != 0) return -1;
    return sp_pg_exec(r->conn, sql, 0, NULL, out, err);
}

/* Runs the statement each row holds in column (a DROP or a CREATE INDEX). */
static int run_each(replay *r, PGresult *res, int column, sp_error *err) {
    for (int row = 0; row < PQntuples(res); row++)
        if (sp_pg_command(r->conn, PQgetvalue(res, row, column), err) != 0) return -1;
    return 0;
}

/* Gives the shadow table the live one's keys or its other indexes. */
static int shadow_indexes(replay *r, const char *table, bool keys, sp_error *err) {
    char path[REPLAY_SQL_MAX];
    PGresult *statements = NULL;
    if (key_statements(r, table, keys, &statements, err) != 0) return -1;
    int rc = sql_format(path, sizeof path, err, "SET LOCAL search_path TO %s, %s", r->shadow_schema,
                        r->live_schema) == 0 &&
                     sp_pg_command(r->conn, path, err) == 0 && run_each(r, statements, 0, err) == 0
                 ? 0
                 : -1;
    PQclear(statements);
    return rc;
}

/* A shadow table like the live one (columns, defaults, checks) with only
 * its keys: every other index would be kept up to date at each row for
 * nothing; they are built once the rows are in (finish_shadow) or, when
 * the rows are copied in, the live table's own are. Logged when it is to be
 * renamed in, since it becomes a live table. */
static int create_shadow_table(replay *r, const char *table, sp_error *err) {
    char sql[REPLAY_SQL_MAX];
    /* Autovacuum would analyze and vacuum the rows as they come in, beside
     * the replay: the tables renamed in get it back at the swap. */
    if (sql_format(sql, sizeof sql, err,
                   "CREATE %sTABLE %s.%s (LIKE %s.%s INCLUDING ALL EXCLUDING INDEXES) "
                   "WITH (autovacuum_enabled = false)",
                   r->renames ? "" : "UNLOGGED ", r->shadow_schema, table, r->live_schema,
                   table) != 0 ||
        sp_pg_command(r->conn, sql, err) != 0)
        return -1;
    return shadow_indexes(r, table, true, err);
}

/* Fresh shadow tables, in one transaction: a previous replay's are gone. */
static int create_shadow(replay *r, sp_error *err) {
    char drop[REPLAY_SQL_MAX], create[REPLAY_SQL_MAX];
    if (sql_format(drop, sizeof drop, err, "DROP SCHEMA IF EXISTS %s CASCADE", r->shadow_schema) !=
            0 ||
        sql_format(create, sizeof create, err, "CREATE SCHEMA %s", r->shadow_schema) != 0)
        return -1;
    if (sp_pg_command(r->conn, "BEGIN", err) != 0) return -1;
    int rc = sp_pg_command(r->conn, drop, err) == 0 && sp_pg_command(r->conn, create, err) == 0 &&
                     create_shadow_table(r, "projection_offsets", err) == 0
                 ? 0
                 : -1;
    for (size_t i = 0; i < sp_projection_table_count && rc == 0; i++)
        rc = create_shadow_table(r, sp_projection_tables[i].name, err);
    if (rc == 0) rc = sp_pg_command(r->conn, "COMMIT", err);
    if (rc != 0) PQclear(PQexec(r->conn, "ROLLBACK"));
    return rc;
}

static void drop_shadow(replay *r) {
    char drop[REPLAY_SQL_MAX];
    sp_error err;
    if (sql_format(drop, sizeof drop, &err, "DROP SCHEMA IF EXISTS %s CASCADE", r->shadow_schema) !=
            0 ||
        sp_pg_command(r->conn, drop, &err) != 0)
        sp_log_warn(r->log, "the shadow schema stays", "error", err.message, NULL);
}

/* ------------------------------------------------------------ two at a time */

/* Work on one table that runs beside another's on the replay's second
 * connection: a checksum (one row: its md5), or statements. */
typedef struct side_job {
    size_t table; /* in sp_projection_tables */
    bool checksum;
    char sql[REPLAY_JOB_SQL_MAX];
    int64_t bytes; /* the table's size: the largest start first */
    bool failed;
    char md5[SP_PROJECTION_MD5_TEXT_LEN + 1];
} side_job;

static int job_size(replay *r, const char *schema, side_job *job, sp_error *err) {
    char sql[REPLAY_SQL_MAX];
    PGresult *res = NULL;
    if (sql_format(sql, sizeof sql, err, "SELECT pg_relation_size('%s.%s'::regclass)", schema,
                   sp_projection_tables[job->table].name) != 0 ||
        sp_pg_exec(r->conn, sql, 0, NULL, &res, err) != 0)
        return -1;
    job->bytes = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return 0;
}

/* Into order[0..count], largest first. */
static void job_insert(side_job **order, size_t count, side_job *job) {
    assert(count < REPLAY_SIDE_JOBS_MAX && job != NULL);
    size_t at = count;
    for (; at > 0 && order[at - 1]->bytes < job->bytes; at--) order[at] = order[at - 1];
    order[at] = job;
}

/* The results conn has in; *finished once the job's last one came. */
static int job_read(PGconn *conn, side_job *job, bool *finished, sp_error *err) {
    *finished = false;
    while (!PQisBusy(conn)) {
        PGresult *res = PQgetResult(conn);
        if (res == NULL) {
            *finished = true;
            return job->failed ? -1 : 0;
        }
        ExecStatusType status = PQresultStatus(res);
        if (job->checksum && status == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
            PQgetlength(res, 0, 0) == SP_PROJECTION_MD5_TEXT_LEN)
            memcpy(job->md5, PQgetvalue(res, 0, 0), SP_PROJECTION_MD5_TEXT_LEN + 1);
        else if ((job->checksum || status != PGRES_COMMAND_OK) && !job->failed) {
            job->failed = true;
            sp_error_set(err, 500, "database_error", "", "%s of %s: %s",
                         job->checksum ? "checksum" : "indexes",
                         sp_projection_tables[job->table].name, PQresultErrorMessage(res));
        }
        PQclear(res);
    }
    return 0;
}

/* One round: each idle connection takes the next job, each busy one reads
 * what came; *waiting holds the sockets still computing. */
static int jobs_step(PGconn *const *conns, side_job **running, side_job **jobs, size_t count,
                     size_t *next, size_t *done, struct pollfd *pfds, nfds_t *waiting,
                     sp_error *err) {
    *waiting = 0;
    for (size_t c = 0; c < REPLAY_SIDE_CONNS; c++) {
        if (running[c] == NULL && *next < count) {
            if (PQsendQuery(conns[c], jobs[*next]->sql) != 1)
                return sp_error_set(err, 500, "database_error", "", "sending %s: %s",
                                    jobs[*next]->sql, PQerrorMessage(conns[c]));
            running[c] = jobs[(*next)++];
        }
        if (running[c] == NULL) continue;
        bool finished = false;
        if (PQconsumeInput(conns[c]) != 1)
            return sp_error_set(err, 500, "database_error", "", "reading %s: %s", running[c]->sql,
                                PQerrorMessage(conns[c]));
        if (job_read(conns[c], running[c], &finished, err) != 0) return -1;
        if (!finished) {
            pfds[(*waiting)++] = (struct pollfd){.fd = PQsocket(conns[c]), .events = POLLIN};
            continue;
        }
        running[c] = NULL;
        (*done)++;
    }
    return 0;
}

/* Runs the jobs, largest first, on the replay's two connections side by
 * side (one PostgreSQL backend per core). On failure both connections are
 * left idle, out of any transaction. */
static int run_jobs(replay *r, side_job **jobs, size_t count, sp_error *err) {
    PGconn *const conns[REPLAY_SIDE_CONNS] = {r->conn, r->side_conn};
    side_job *running[REPLAY_SIDE_CONNS] = {NULL, NULL};
    size_t next = 0, done = 0;
    int rc = 0;
    assert(r->side_conn != NULL && count <= REPLAY_SIDE_JOBS_MAX);
    while (done < count && rc == 0) {
        assert(done <= next && next <= count);
        struct pollfd pfds[REPLAY_SIDE_CONNS];
        nfds_t waiting = 0;
        rc = jobs_step(conns, running, jobs, count, &next, &done, pfds, &waiting, err);
        if (rc != 0 || !(waiting == REPLAY_SIDE_CONNS || (waiting > 0 && next == count))) continue;
        int ready = poll(pfds, waiting, REPLAY_SIDE_WAIT_MS);
        if (ready == 0)
            rc = sp_error_set(err, 503, "database_timeout", "", "no result within %d ms",
                              REPLAY_SIDE_WAIT_MS);
        else if (ready < 0 && errno != EINTR)
            rc = sp_error_set(err, 500, "database_error", "", "waiting for a result");
    }
    for (size_t c = 0; rc != 0 && c < REPLAY_SIDE_CONNS; c++)
        if (PQtransactionStatus(conns[c]) != PQTRANS_IDLE) /* waits for what it runs */
            PQclear(PQexec(conns[c], "ROLLBACK"));
    return rc;
}

/* A table's other indexes, one job each, in its own transaction on either
 * connection (two indexes of one table build side by side). */
static int index_jobs(replay *r, size_t table, side_job *jobs, size_t jobs_max, size_t *count,
                      sp_error *err) {
    const char *name = sp_projection_tables[table].name;
    PGresult *statements = NULL;
    if (key_statements(r, name, false, &statements, err) != 0) return -1;
    int rc = 0;
    for (int row = 0; row < PQntuples(statements) && rc == 0; row++) {
        if (*count == jobs_max) {
            rc = sp_error_set(err, 500, "too_many_indexes", "", "more than %zu indexes", jobs_max);
            break;
        }
        side_job *job = &jobs[*count];
        *job = (side_job){.table = table};
        rc = sql_format(job->sql, sizeof job->sql, err,
                        "BEGIN; SET LOCAL search_path TO %s, %s; %s; COMMIT", r->shadow_schema,
                        r->live_schema, PQgetvalue(statements, row, 0));
        if (rc == 0) rc = job_size(r, r->shadow_schema, job, err);
        if (rc == 0) (*count)++;
    }
    PQclear(statements);
    return rc;
}

/* Once the rows are in, and before the swap: the live tables' other indexes
 * built on the shadow's (one sort each, instead of an insertion per row),
 * two at a time. Statistics are left to autovacuum, whose threshold the
 * inserts have crossed: an ANALYZE here cost a fifth of PostgreSQL's time
 * in a replay, and the index builds give the planner the tables' sizes. */
static int finish_shadow(replay *r, sp_error *err) {
    static side_job jobs[REPLAY_SIDE_JOBS_MAX]; /* one replay per process */
    side_job *order[REPLAY_SIDE_JOBS_MAX];
    size_t count = 0;
    if (!r->renames) return 0;
    if (sp_pg_command(r->conn, "BEGIN", err) != 0) return -1;
    int rc = 0;
    for (size_t i = 0; i < sp_projection_table_count && rc == 0; i++)
        if (r->chosen[i]) rc = index_jobs(r, i, jobs, REPLAY_SIDE_JOBS_MAX, &count, err);
    if (rc == 0) rc = sp_pg_command(r->conn, "COMMIT", err);
    if (rc != 0) {
        PQclear(PQexec(r->conn, "ROLLBACK"));
        return -1;
    }
    for (size_t i = 0; i < count; i++) job_insert(order, i, &jobs[i]);
    return run_jobs(r, order, count, err);
}

/* The projection's stored offsets in schema (quoted); 0 for a partition
 * without a row. */
static int read_offsets(replay *r, const char *schema, int64_t *offsets, sp_error *err) {
    char sql[REPLAY_SQL_MAX];
    PGresult *res = NULL;
    if (sql_format(sql, sizeof sql, err,
                   "SELECT topic, partition, next_offset FROM "
                   "%s.projection_offsets WHERE consumer = 'projection'",
                   schema) != 0 ||
        sp_pg_exec(r->conn, sql, 0, NULL, &res, err) != 0)
        return -1;
    for (size_t i = 0; i < r->tp_count; i++) offsets[i] = 0;
    for (int row = 0; row < PQntuples(res); row++) {
        int32_t partition = (int32_t)strtol(PQgetvalue(res, row, 1), NULL, 10);
        for (size_t i = 0; i < r->tp_count; i++)
            if (r->tps[i].partition == partition &&
                strcmp(r->tps[i].topic, PQgetvalue(res, row, 0)) == 0)
                offsets[i] = strtoll(PQgetvalue(res, row, 2), NULL, 10);
    }
    PQclear(res);
    return 0;
}

/* The projection's own loop, on the shadow tables, up to r->tps[].offset. */
static int build_shadow(replay *r, sp_error *err) {
    sp_projection_options options = {.brokers = r->options->brokers,
                                     .pg_dsn = r->options->pg_dsn,
                                     .migrations_dir = r->options->migrations_dir,
                                     .exit_when_caught_up = true,
                                     .schema = SP_REPLAY_SCHEMA,
                                     .targets = r->tps,
                                     .target_count = r->tp_count,
                                     .batch_events_max = r->options->chunk_events,
                                     .copy_new_rows = true};
    if (sp_projection_run(&options, r->clock, r->log, r->stop, err) != 0) return -1;
    if (*r->stop) return sp_error_set(err, 503, "interrupted", "", "stopped before the swap");
    return 0;
}

/* ------------------------------------------------------------ the swap */

static int advisory(replay *r, const char *sql, const char *key, bool *got, sp_error *err) {
    const char *params[1] = {key};
    PGresult *res = NULL;
    if (sp_pg_exec(r->conn, sql, 1, params, &res, err) != 0) return -1;
    if (got != NULL) *got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return 0;
}

/* Checksums of the chosen tables, shadow and live, into lines, two at a
 * time. The live tables cannot change meanwhile (the replay holds the
 * projection's lock or its swap lock), so the second connection, outside
 * the swap's transaction, reads what the swap replaces. */
static int compare_tables(replay *r, char *lines, size_t lines_size, sp_error *err) {
    static side_job jobs[2 * REPLAY_TABLES_MAX]; /* one replay per process */
    side_job *order[2 * REPLAY_TABLES_MAX];
    size_t count = 0;
    for (size_t i = 0; i < sp_projection_table_count; i++)
        for (int shadow = 1; r->chosen[i] && shadow >= 0; shadow--) {
            side_job *job = &jobs[count];
            const char *schema = shadow == 1 ? r->shadow_schema : r->live_schema;
            *job = (side_job){.table = i, .checksum = true};
            sp_projection_checksum_sql(&sp_projection_tables[i], schema, job->sql, sizeof job->sql);
            if (job_size(r, schema, job, err) != 0) return -1;
            job_insert(order, count++, job);
        }
    if (run_jobs(r, order, count, err) != 0) return -1;
    size_t used = 0;
    lines[0] = '\0';
    for (size_t j = 0; j + 1 < count; j += 2) {
        const side_job *shadow = &jobs[j], *live = &jobs[j + 1];
        assert(shadow->table == live->table);
        int n = snprintf(lines + used, lines_size - used, "%s=%s live=%s %s\n",
                         sp_projection_tables[shadow->table].name, shadow->md5, live->md5,
                         strcmp(shadow->md5, live->md5) == 0 ? "same" : "differs");
        assert(n > 0 && (size_t)n < lines_size - used);
        used += (size_t)n;
    }
    return 0;
}

/* With no live projection, its offsets become the shadow's. */
static int take_offsets(replay *r, sp_error *err) {
    char sql[REPLAY_SQL_MAX];
    if (!r->holds_projection_lock) return 0;
    if (sql_format(sql, sizeof sql, err,
                   "DELETE FROM %s.projection_offsets WHERE consumer = "
                   "'projection'",
                   r->live_schema) != 0 ||
        sp_pg_command(r->conn, sql, err) != 0 ||
        sql_format(sql, sizeof sql, err,
                   "INSERT INTO %s.projection_offsets SELECT * FROM "
                   "%s.projection_offsets",
                   r->live_schema, r->shadow_schema) != 0)
        return -1;
    return sp_pg_command(r->conn, sql, err);
}

/* One live table, emptied, filled from its shadow: its indexes that no
 * constraint needs are dropped first and built again once the rows are in
 * (one sort each instead of an insertion per row), under their own names
 * and definitions, in the swap's transaction. */
static int copy_table_in(replay *r, const char *table, sp_error *err) {
    char sql[REPLAY_SQL_MAX];
    PGresult *indexes = NULL;
    if (sql_format(sql, sizeof sql, err,
                   "SELECT 'DROP INDEX ' || i.indexrelid::regclass::text, "
                   "pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = "
                   "'%s.%s'::regclass AND NOT i.indisunique AND NOT EXISTS (SELECT 1 FROM "
                   "pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY 1",
                   r->live_schema, table) != 0 ||
        sp_pg_exec(r->conn, sql, 0, NULL, &indexes, err) != 0)
        return -1;
    int rc = run_each(r, indexes, 0, err) == 0 &&
                     sql_format(sql, sizeof sql, err, "INSERT INTO %s.%s SELECT * FROM %s.%s",
                                r->live_schema, table, r->shadow_schema, table) == 0 &&
                     sp_pg_command(r->conn, sql, err) == 0 && run_each(r, indexes, 1, err) == 0
                 ? 0
                 : -1;
    PQclear(indexes);
    return rc;
}

/* Empties the chosen live tables and copies the shadow rows in (parents
 * before children: sp_projection_tables' order); with no live projection,
 * its offsets become the shadow's. */
static int copy_in(replay *r, sp_error *err) {
    char sql[REPLAY_SQL_MAX];
    size_t used = (size_t)snprintf(sql, sizeof sql, "TRUNCATE ");
    for (size_t i = 0; i < sp_projection_table_count; i++) {
        if (!r->chosen[i]) continue;
        int n = snprintf(sql + used, sizeof sql - used, "%s%s.%s", used > 9 ? ", " : "",
                         r->live_schema, sp_projection_tables[i].name);
        if (n < 0 || (size_t)n >= sizeof sql - used)
            return sp_error_set(err, 500, "sql_too_long", "", "the TRUNCATE statement");
        used += (size_t)n;
    }
    if (sp_pg_command(r->conn, sql, err) != 0) return -1;
    for (size_t i = 0; i < sp_projection_table_count; i++)
        if (r->chosen[i] && copy_table_in(r, sp_projection_tables[i].name, err) != 0) return -1;
    return take_offsets(r, err);
}

/* Drops the chosen live tables and moves the shadow ones into their
 * schema, under their names, with their keys and indexes (built on the
 * shadow); their foreign keys, read from the live tables first, are added
 * again (no table outside the chosen ones references them:
 * expand_references). Each row is written once, by the shadow build. */
static int rename_in(replay *r, sp_error *err) {
    char tables[REPLAY_SQL_MAX], sql[REPLAY_SQL_MAX * 2];
    PGresult *foreign_keys = NULL;
    /* clang-format off */
    if (chosen_tables(r, true, tables, sizeof tables, err) != 0 ||
        sql_format(sql, sizeof sql, err, "SET LOCAL search_path TO %s", r->live_schema) != 0 ||
        sp_pg_command(r->conn, sql, err) != 0 ||
        sql_format(sql, sizeof sql, err,
            "SELECT 'ALTER TABLE ' || conrelid::regclass::text || ' ADD CONSTRAINT ' || "
            "quote_ident(conname) || ' ' || pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid = ANY (ARRAY[%s]) ORDER BY 1", tables) != 0 ||
        sp_pg_exec(r->conn, sql, 0, NULL, &foreign_keys, err) != 0)
        return -1;
    /* clang-format on */
    int rc = chosen_tables(r, false, tables, sizeof tables, err) == 0 &&
                     sql_format(sql, sizeof sql, err, "DROP TABLE %s", tables) == 0 &&
                     sp_pg_command(r->conn, sql, err) == 0
                 ? 0
                 : -1;
    for (size_t i = 0; i < sp_projection_table_count && rc == 0; i++) {
        if (!r->chosen[i]) continue;
        rc = sql_format(sql, sizeof sql, err, "ALTER TABLE %s.%s SET SCHEMA %s", r->shadow_schema,
                        sp_projection_tables[i].name, r->live_schema);
        if (rc == 0) rc = sp_pg_command(r->conn, sql, err);
        if (rc == 0)
            rc = sql_format(sql, sizeof sql, err, "ALTER TABLE %s.%s RESET (autovacuum_enabled)",
                            r->live_schema, sp_projection_tables[i].name);
        if (rc == 0) rc = sp_pg_command(r->conn, sql, err);
    }
    if (rc == 0) rc = run_each(r, foreign_keys, 0, err);
    PQclear(foreign_keys);
    return rc == 0 ? take_offsets(r, err) : -1;
}

/* One transaction: compare, empty, copy in. The "all" line hashes the
 * "<table>=<md5>" parts only, like --checksum's. */
static int swap(replay *r, int64_t events, sp_error *err) {
    static char lines[REPLAY_LINES_MAX]; /* written once per replay, in one thread */
    char plain[REPLAY_LINES_MAX];
    if (sp_pg_command(r->conn, "BEGIN", err) != 0) return -1;
    int64_t started_ms = replay_now_ms();
    int rc = compare_tables(r, lines, sizeof lines, err);
    int64_t compared_ms = replay_now_ms();
    if (rc == 0) rc = r->renames ? rename_in(r, err) : copy_in(r, err);
    if (rc != 0 || sp_pg_command(r->conn, "COMMIT", err) != 0) {
        PQclear(PQexec(r->conn, "ROLLBACK"));
        return -1;
    }
    r->compare_ms = compared_ms - started_ms;
    r->copy_in_ms = replay_now_ms() - compared_ms;
    size_t used = 0;
    for (const char *line = lines; *line != '\0';) {
        const char *space = strchr(line, ' ');
        const char *end = strchr(line, '\n');
        assert(space != NULL && end != NULL && space < end);
        used += (size_t)snprintf(plain + used, sizeof plain - used, "%.*s\n", (int)(space - line),
                                 line);
        line = end + 1;
    }
    const char *params[1] = {plain};
    PGresult *res = NULL;
    if (sp_pg_exec(r->conn, "SELECT md5($1::text)", 1, params, &res, err) != 0) return -1;
    size_t tables = 0;
    for (size_t i = 0; i < sp_projection_table_count; i++) tables += r->chosen[i] ? 1 : 0;
    int n = fprintf(r->out, "%sall=%s\nswapped tables=%zu events=%" PRId64 "\n", lines,
                    PQgetvalue(res, 0, 0), tables, events);
    PQclear(res);
    if (n < 0 || fflush(r->out) != 0)
        return sp_error_set(err, 500, "output_failed", "", "cannot write the checksums");
    return 0;
}

static int unlock_all(replay *r, sp_error *err) {
    const char *key = r->holds_projection_lock ? SP_PROJECTION_LOCK_KEY
                                               : SP_PROJECTION_SWAP_LOCK_KEY;
    return advisory(r, "SELECT pg_advisory_unlock($1::bigint)", key, NULL, err);
}

/* Takes the projection lock when no live projection holds it, else the swap
 * lock (waiting for the live batch at hand), then reads where the shadow
 * must stand at the swap: the live projection's stored offsets (it pauses
 * there), or without one the log's ends. */
static int lock_and_target(replay *r, int64_t *target, sp_error *err) {
    if (advisory(r, "SELECT pg_try_advisory_lock($1::bigint)", SP_PROJECTION_LOCK_KEY,
                 &r->holds_projection_lock, err) != 0)
        return -1;
    if (!r->holds_projection_lock && advisory(r, "SELECT pg_advisory_lock($1::bigint)::text",
                                              SP_PROJECTION_SWAP_LOCK_KEY, NULL, err) != 0)
        return -1;
    if (!r->holds_projection_lock) return read_offsets(r, r->live_schema, target, err);
    if (read_watermarks(r, err) != 0) return -1;
    for (size_t i = 0; i < r->tp_count; i++) target[i] = r->tps[i].offset;
    return 0;
}

typedef enum { STEP_SWAPPED, STEP_AGAIN, STEP_FAILED } swap_step;

/* The swap's transaction lost a lock to a reader of the live tables - a
 * deadlock (40P01: a query held one table and wanted the next one the
 * swap had dropped) or the lock timeout (55P03) - and was rolled back
 * whole: the shadow is intact, the next attempt swaps it. */
static bool swap_lost_a_lock(replay *r, const sp_error *err) {
    assert(err != NULL);
    bool lost = strncmp(err->message, "40P01:", 6) == 0 || strncmp(err->message, "55P03:", 6) == 0;
    if (lost)
        sp_log_warn(r->log, "replay swap rolled back, trying again", "detail", err->message, NULL);
    return lost;
}

/* One attempt, locks held: catch up the last events and swap, or say why
 * not yet (the live projection is behind the shadow, or too far ahead to
 * keep it waiting). */
static swap_step try_swap(replay *r, const int64_t *target, int64_t *events, sp_error *err) {
    int64_t shadow_at[SP_PROJECTION_POSITIONS_MAX];
    if (read_offsets(r, r->shadow_schema, shadow_at, err) != 0) return STEP_FAILED;
    int64_t missing = 0;
    *events = 0;
    for (size_t i = 0; i < r->tp_count; i++) {
        if (shadow_at[i] > target[i]) return STEP_AGAIN; /* the live projection lags */
        missing += target[i] - shadow_at[i];
        *events += target[i];
        r->tps[i].offset = target[i];
    }
    if (!r->holds_projection_lock && missing > SP_REPLAY_SWAP_EVENTS_MAX) {
        /* Catch up without the lock, the live projection carrying on. */
        if (unlock_all(r, err) != 0 || build_shadow(r, err) != 0) return STEP_FAILED;
        return STEP_AGAIN;
    }
    if (missing > 0 && build_shadow(r, err) != 0) return STEP_FAILED;
    if (swap(r, *events, err) == 0) return STEP_SWAPPED;
    return swap_lost_a_lock(r, err) ? STEP_AGAIN : STEP_FAILED;
}

static int converge_and_swap(replay *r, sp_error *err) {
    for (int attempt = 0; attempt < SP_REPLAY_SWAP_ATTEMPTS_MAX; attempt++) {
        int64_t target[SP_PROJECTION_POSITIONS_MAX], events = 0;
        if (*r->stop) return sp_error_set(err, 503, "interrupted", "", "stopped before the swap");
        swap_step step = lock_and_target(r, target, err) == 0 ? try_swap(r, target, &events, err)
                                                              : STEP_FAILED;
        sp_error unlock_err;
        /* A lock already released (catch-up outside it) unlocks to false: harmless. */
        int unlocked = unlock_all(r, &unlock_err);
        if (step == STEP_FAILED) return -1;
        if (unlocked != 0) {
            *err = unlock_err;
            return -1;
        }
        if (step == STEP_SWAPPED) return 0;
        sp_clock_sleep_ms(REPLAY_LIVE_WAIT_MS);
    }
    return sp_error_set(err, 503, "replay_not_converged", "",
                        "the live projection's offsets "
                        "stayed behind the shadow tables' for %d attempts: is it stuck?",
                        SP_REPLAY_SWAP_ATTEMPTS_MAX);
}

static int64_t replay_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void log_done(replay *r, int64_t started_ms, int64_t built_ms) {
    char events[24], total[24], build[24], rate[24], compare[24], copy_in[24], indexes[24];
    int64_t count = 0;
    for (size_t i = 0; i < r->tp_count; i++) count += r->tps[i].offset;
    int64_t now_ms = replay_now_ms();
    snprintf(events, sizeof events, "%" PRId64, count);
    snprintf(total, sizeof total, "%" PRId64, now_ms - started_ms);
    snprintf(build, sizeof build, "%" PRId64, built_ms - started_ms);
    snprintf(compare, sizeof compare, "%" PRId64, r->compare_ms);
    snprintf(copy_in, sizeof copy_in, "%" PRId64, r->copy_in_ms);
    snprintf(indexes, sizeof indexes, "%" PRId64, r->finish_ms);
    snprintf(rate, sizeof rate, "%" PRId64,
             now_ms > started_ms ? count * 1000 / (now_ms - started_ms) : count);
    sp_log_info(r->log, "replay swapped", "events", events, "elapsed_ms", total, "shadow_built_ms",
                build, "indexes_ms", indexes, "compare_ms", compare,
                r->renames ? "rename_ms" : "copy_in_ms", copy_in, "events_per_s", rate,
                "live_projection", r->holds_projection_lock ? "absent" : "running", NULL);
}

int sp_projection_replay(const sp_replay_options *options, sp_clock *clock, sp_log *log,
                         const volatile sig_atomic_t *stop, FILE *out, sp_error *err) {
    assert(options != NULL && clock != NULL && log != NULL && stop != NULL && out != NULL);
    replay *r = calloc(1, sizeof *r);
    if (r == NULL) return sp_error_set(err, 500, "out_of_memory", "", "replay");
    *r = (replay){.options = options, .clock = clock, .log = log, .stop = stop, .out = out};
    int rc = -1;
    bool shadow_made = false;
    int64_t started_ms = replay_now_ms();
    if (sp_replay_tables_parse(options->tables, r->chosen, err) != 0 ||
        replay_connect(r, err) != 0 || expand_references(r, err) != 0 ||
        read_watermarks(r, err) != 0 || decide_renames(r, err) != 0 || create_shadow(r, err) != 0)
        goto done;
    shadow_made = true;
    if (build_shadow(r, err) != 0) goto done;
    int64_t indexing_ms = replay_now_ms();
    if (finish_shadow(r, err) != 0) goto done;
    r->finish_ms = replay_now_ms() - indexing_ms;
    int64_t built_ms = replay_now_ms();
    if (converge_and_swap(r, err) != 0) goto done;
    log_done(r, started_ms, built_ms);
    rc = 0;
done:
    if (shadow_made) drop_shadow(r);
    PQfinish(r->side_conn);
    PQfinish(r->conn);
    free(r);
    return rc;
}
