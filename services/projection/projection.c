/* projection.c - the projection service's I/O loop (see projection.h).
 *
 * One transaction per batch, sent through libpq's pipeline mode. The batch's
 * messages are polled and kept first; the passes whose events all fold
 * (projection_fold.h) have their versions read in one query; then BEGIN,
 * one statement per other event (projection_rows.c), preceded by its
 * figures' and history's (projection_figures.c), the folded rows one
 * statement per table, one offset upsert per partition, COMMIT, then one
 * sync and all the results. The offsets live in the same
 * transaction as the rows, so a crash anywhere replays exactly what was not
 * committed. Poison is decided before any SQL and dead-lettered. An event
 * that passed validation yet was refused by the database (a constraint) is
 * remembered: the batch runs again and dead-letters that event before SQL.
 * Any other failure reconnects and re-reads from the stored offsets.
 * A replay's shadow build (options->copy_new_rows) folds far larger batches
 * and writes the fold's new read-model rows with COPY, on copier connections
 * of their own while the pipeline runs (COPY cannot run inside a pipeline;
 * projection_copier.h), committed before the chunk's transaction. */
#include "projection.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libpq-fe.h>
#include "projection_copier.h"
#include "projection_copy.h"
#include "projection_figures.h"
#include "projection_fold.h"
#include "projection_positions.h"
#include "projection_rows.h"
#include "sp_clock.h"
#include "sp_envelope.h"
#include "sp_kafka.h"
#include "sp_offsets_notice.h"
#include "sp_pg.h"

#define PROJECTION_CLIENT_ID "solipass-projection"
#define PROJECTION_SERVICE "projection"
#define POLL_MS 20
/* A poll returns at least one message, or the batch is done. */
#define POLLS_PER_TXN_MAX(events_max) ((events_max) + 2)
/* an event takes its own statement and its figures' (projection_figures.h) */
#define STATEMENTS_MAX(events_max) \
    (2 * (events_max) + SP_PROJECTION_POSITIONS_MAX + 4 + SP_PROJECTION_FOLD_STATEMENTS_MAX)
#define SP_PROJECTION_FOLD_STATEMENTS_MAX 16
#define PG_CONNECT_WAIT_MS 30000
#define PG_LOCK_WAIT_MS 15000
#define PG_LOCK_RETRY_MS 200
/* pg_advisory_lock key held while projecting. One projection per database,
 * or two would interleave their offsets. */
#define PG_LOCK_KEY SP_PROJECTION_LOCK_KEY
#define BATCH_RESULTS_TIMEOUT_MS 60000
#define KAFKA_TIMEOUT_MS 10000
#define LAG_WATERMARK_TIMEOUT_MS 1000
#define DEADLETTER_FLUSH_MS 10000
#define RECOVERIES_MAX 20 /* consecutive failed batches before giving up */
#define RECOVERY_BACKOFF_MS_MAX 5000
#define PROGRESS_LOG_MS 10000
#define LAG_TEXT_MAX 4096
/* Dead letters already on the broker for a batch that has to run again. */
#define DEAD_LETTERS_REMEMBERED_MAX 256
/* Events refused by the database awaiting the retry that skips them: more in
 * the batches at hand means something else is wrong. */
#define REFUSED_MAX 64
#define NUMBER_TEXT_MAX 24
#define SHADOW_SQL_MAX 256
#define SHADOW_PROGRESS_MS_DEFAULT 1000
/* A shadow build's COPY connections: with the projection's own, one
 * PostgreSQL backend per core of a small machine and one more, so the
 * largest tables are written side by side. */
#define COPIERS_MAX 2
#define COPIER_LOCK_TIMEOUT "5s" /* a key another open transaction holds */
/* A chunk's operations and history rows go to the copiers every so many
 * events while the fold goes on, at most so many times a chunk. */
#define COPY_STREAM_EVENTS 8192
#define COPY_TAKES_MAX 64

typedef enum { FAIL_NONE = 0, FAIL_TRANSIENT, FAIL_DATA, FAIL_FATAL } failure;

/* Where a batch's time goes (logged at a shadow build's end): polling the
 * log, folding and sending the statements (the server runs them meanwhile),
 * waiting for their results, the COPYs, the COMMIT. */
typedef enum {
    PHASE_READ,
    PHASE_FOLD,
    PHASE_STATEMENTS,
    PHASE_COPY,
    PHASE_COMMIT,
    PHASE_COUNT
} phase;

typedef enum { STMT_CONTROL, STMT_EVENT, STMT_FIGURES, STMT_OFFSETS, STMT_FOLD } statement_kind;

typedef struct counters {
    int64_t events;     /* messages consumed */
    int64_t applied;    /* changed a read model */
    int64_t duplicates; /* accounts event already there */
    int64_t stale;      /* ledger event that was not the pass's next version */
    int64_t no_ops;     /* known events no read model shows */
    int64_t dead_letters;
    int64_t batches;
} counters;

typedef struct dead_letter_key {
    size_t position;
    int64_t offset;
} dead_letter_key;

typedef struct dead_letter_keys {
    dead_letter_key keys[DEAD_LETTERS_REMEMBERED_MAX];
    size_t count;
} dead_letter_keys;

/* What the database refused, and why (the reason of its dead letter). */
typedef struct refused_event {
    dead_letter_key key;
    char reason[SP_ERROR_MESSAGE_MAX];
} refused_event;

typedef struct statement_tag {
    uint8_t kind; /* statement_kind */
    bool versioned;
    size_t position; /* STMT_EVENT: the message it applies */
    int64_t offset;  /* STMT_FOLD: the count it must return, or -1 */
} statement_tag;

typedef struct projector {
    const sp_projection_options *options;
    sp_clock *clock;
    sp_log *log;
    const volatile sig_atomic_t *stop;
    PGconn *conn;
    sp_kafka_consumer *consumer;
    sp_kafka_producer *producer; /* dead letters */
    sp_projection_position positions[SP_PROJECTION_POSITIONS_MAX];
    size_t position_count;
    sp_kafka_msg *msgs; /* SP_KAFKA_BATCH_MAX */
    /* The transaction's messages, copied out of the consumer's polls (each
     * copy one allocation, freed when the next transaction starts): the
     * fold plans on all of them before any is applied. */
    sp_kafka_msg *batch_msgs; /* batch_events_max */
    size_t batch_events_max;  /* a live batch's or a replay chunk's */
    void **batch_copies;
    size_t batch_count;
    sp_projection_fold *fold;
    bool fold_off;             /* the fold's SQL was refused: this batch event by event */
    bool figures_pending;      /* this batch sent a figures statement: its deltas to fold */
    char *row_buf;             /* SP_PROJECTION_ROW_BYTES_MAX */
    statement_tag *statements; /* the open pipeline's, in order */
    size_t statement_count;
    size_t failed_statement; /* index of the first failed one, or statement_count */
    bool pipeline_open;
    /* A replay's shadow: the fold's new rows go by COPY on the copiers'
     * connections while the pipeline runs, committed before its COMMIT
     * (projection_copier.h); copy_refused: the database refused one, the
     * batch runs again with the statements. */
    sp_projection_fold_statement copies[SP_PROJECTION_FOLD_STATEMENTS_MAX];
    size_t copy_count;
    bool copy_refused;
    sp_copier copiers[COPIERS_MAX];
    size_t copier_count;                            /* connected */
    sp_projection_fold_taken taken[COPY_TAKES_MAX]; /* rows copied while folding */
    size_t taken_count;
    int64_t phase_ms[PHASE_COUNT];
    int64_t phase_started_ms;
    counters total, batch;
    dead_letter_keys dead_letters_queued;  /* this batch's, until flushed */
    dead_letter_keys dead_letters_flushed; /* until the batch that skips them commits */
    int64_t recoveries;
    refused_event refused[REFUSED_MAX];
    size_t refused_count;
    bool caught_up;
    int64_t started_ms, next_progress_ms, progress_ms;
    int64_t backlog_at_start; /* shadow: events to its targets when it started */
} projector;

static void i64_text(int64_t value, char out[NUMBER_TEXT_MAX]) {
    snprintf(out, NUMBER_TEXT_MAX, "%" PRId64, value);
}

/* libpq's messages end with a newline: one line for logs and errors. */
static void pg_error_text(const char *message, char *out, size_t out_size) {
    snprintf(out, out_size, "%s", message ? message : "");
    for (char *c = out; *c != '\0'; c++)
        if (*c == '\n' || *c == '\r' || *c == '\t') *c = ' ';
}

/* ------------------------------------------------------------ database */

static int connection_failure_text(PGconn *conn, const char *what, sp_error *err) {
    char text[SP_ERROR_MESSAGE_MAX];
    pg_error_text(PQerrorMessage(conn), text, sizeof text);
    return sp_error_set(err, 503, "database_unavailable", "", "%s: %s", what, text);
}

static int pg_lock(projector *p, sp_error *err) {
    const char *params[1] = {PG_LOCK_KEY};
    int64_t deadline_ms = sp_clock_monotonic_ms() + PG_LOCK_WAIT_MS;
    for (int attempt = 0; attempt <= PG_LOCK_WAIT_MS / PG_LOCK_RETRY_MS; attempt++) {
        PGresult *res = NULL;
        if (sp_pg_exec(p->conn, "SELECT pg_try_advisory_lock($1::bigint)", 1, params, &res, err) !=
            0)
            return -1;
        bool locked = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        PQclear(res);
        if (locked) return 0;
        if (attempt == 0)
            sp_log_warn(p->log, "another projection holds the database, waiting", NULL);
        if (sp_clock_monotonic_ms() + PG_LOCK_RETRY_MS > deadline_ms) break;
        sp_clock_sleep_ms(PG_LOCK_RETRY_MS);
    }
    return sp_error_set(err, 503, "projection_busy", "",
                        "another solipass-projection kept the database's projection lock for "
                        "%d ms: stop it first",
                        PG_LOCK_WAIT_MS);
}

/* The offsets' notification (send_offsets_notice). */
static const sp_projection_statement offsets_notice_statement = {"sp_offsets_notice",
                                                                 "SELECT pg_notify($1, $2)", 2};

static int pg_prepare(projector *p, const sp_projection_statement *st, const Oid *types,
                      sp_error *err) {
    PGresult *res = PQprepare(p->conn, st->name, st->sql, st->param_count, types);
    bool ok = res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK;
    char text[SP_ERROR_MESSAGE_MAX];
    pg_error_text(res ? PQresultErrorMessage(res) : PQerrorMessage(p->conn), text, sizeof text);
    PQclear(res);
    if (!ok)
        return sp_error_set(err, 500, "database_error", "", "preparing %s: %s", st->name, text);
    return 0;
}

/* The figures' statements take every parameter as text and cast each. */
#define TEXT_OID 25
static int pg_prepare_figures(projector *p, sp_error *err) {
    for (size_t i = 0; i < SP_PROJECTION_FIGURES_PENDING_TABLES; i++)
        if (sp_pg_command(p->conn, sp_projection_figures_pending_sql[i], err) != 0) return -1;
    Oid types[SP_PROJECTION_FIGURES_PARAMS_MAX];
    for (size_t i = 0; i < SP_PROJECTION_FIGURES_PARAMS_MAX; i++) types[i] = TEXT_OID;
    for (size_t i = 0; i < sp_projection_figures_statement_count; i++) {
        assert(sp_projection_figures_statements[i].param_count <= SP_PROJECTION_FIGURES_PARAMS_MAX);
        if (pg_prepare(p, &sp_projection_figures_statements[i], types, err) != 0) return -1;
    }
    return pg_prepare(p, &sp_projection_figures_fold, NULL, err);
}

/* Parsed and planned once per connection rather than once per event. */
static int pg_prepare_all(projector *p, sp_error *err) {
    for (size_t i = 0; i < sp_projection_statement_count; i++)
        if (pg_prepare(p, &sp_projection_statements[i], NULL, err) != 0) return -1;
    if (pg_prepare_figures(p, err) != 0) return -1; /* the pending tables the fold fills */
    for (size_t i = 0; i < sp_projection_fold_statement_count; i++)
        if (pg_prepare(p, &sp_projection_fold_statements[i], NULL, err) != 0) return -1;
    return pg_prepare(p, &offsets_notice_statement, NULL, err);
}

/* In a shadow schema every statement's unqualified table resolves to the
 * shadow table: the same SQL builds the same rows there. The replay, not
 * this connection, holds the locks. */
static int shadow_search_path(projector *p, PGconn *conn, sp_error *err) {
    char *quoted = PQescapeIdentifier(conn, p->options->schema, strlen(p->options->schema));
    if (quoted == NULL) return connection_failure_text(conn, "quoting the schema", err);
    char sql[SHADOW_SQL_MAX];
    int n = snprintf(sql, sizeof sql, "SET search_path TO %s", quoted);
    PQfreemem(quoted);
    if (n < 0 || (size_t)n >= sizeof sql)
        return sp_error_set(err, 400, "invalid_config", "", "schema name too long");
    return sp_pg_command(conn, sql, err);
}

/* A connection with the projection's session settings; *conn_out NULL on
 * failure. */
static int pg_session(projector *p, PGconn **conn_out, sp_error *err) {
    PGconn *conn = sp_pg_connect(p->options->pg_dsn, PG_CONNECT_WAIT_MS, p->log, err);
    *conn_out = conn;
    if (conn == NULL) return -1;
    if (PQsetClientEncoding(conn, "UTF8") != 0)
        return sp_error_set(err, 500, "database_error", "", "cannot set client_encoding UTF8");
    /* The read models are derived from the log and carry their offsets in
     * the same transaction: a batch lost in a database crash is lost with
     * its offsets and applied again from the log. So a commit need not wait
     * for the WAL flush (an fsync per batch otherwise bounds the projection).
     * Not a replay's shadow: a chunk is its copiers' transactions and its
     * own, and a crash must not keep the first and lose the last (an fsync
     * per chunk of up to a million events is nothing). */
    if (p->options->copy_new_rows) return 0;
    return sp_pg_command(conn, "SET synchronous_commit TO off", err);
}

/* A shadow's copiers: the same session, and a bounded wait for a key that
 * another open transaction holds (the chunk then runs with statements). */
static int pg_open_copiers(projector *p, sp_error *err) {
    while (p->copier_count < COPIERS_MAX) {
        PGconn *conn = NULL;
        int rc = pg_session(p, &conn, err);
        if (rc == 0) rc = shadow_search_path(p, conn, err);
        if (rc == 0) rc = sp_pg_command(conn, "SET lock_timeout = '" COPIER_LOCK_TIMEOUT "'", err);
        if (rc != 0) {
            PQfinish(conn);
            return -1;
        }
        if (sp_copier_init(&p->copiers[p->copier_count], conn) != 0) {
            PQfinish(conn);
            return sp_error_set(err, 500, "thread_failed", "", "cannot make a copier's lock");
        }
        p->copier_count++;
    }
    return 0;
}

static int pg_open(projector *p, sp_error *err) {
    assert(p->conn == NULL && p->copier_count == 0);
    if (pg_session(p, &p->conn, err) != 0) return -1;
    if (p->options->schema == NULL) return pg_lock(p, err);
    if (shadow_search_path(p, p->conn, err) != 0) return -1;
    return p->options->copy_new_rows ? pg_open_copiers(p, err) : 0;
}

static void pg_close(projector *p) {
    for (size_t i = 0; i < p->copier_count; i++) sp_copier_close(&p->copiers[i]);
    p->copier_count = 0;
    PQfinish(p->conn); /* an open transaction rolls back with the session */
    p->conn = NULL;
    p->pipeline_open = false;
}

static int load_offsets(projector *p, sp_error *err) {
    PGresult *res = NULL;
    if (sp_pg_exec(p->conn, sp_projection_offsets_select_sql, 0, NULL, &res, err) != 0) return -1;
    for (size_t i = 0; i < p->position_count; i++) p->positions[i].next_offset = 0;
    for (int row = 0; row < PQntuples(res); row++) {
        const char *topic = PQgetvalue(res, row, 0);
        int32_t partition = (int32_t)strtol(PQgetvalue(res, row, 1), NULL, 10);
        int64_t next_offset = strtoll(PQgetvalue(res, row, 2), NULL, 10);
        int index = sp_projection_position_find(p->positions, p->position_count, topic, partition);
        if (index < 0) {
            sp_log_warn(p->log, "stored offset of a partition not read", "topic", topic,
                        "partition", PQgetvalue(res, row, 1), NULL);
            continue;
        }
        assert(next_offset >= 0); /* CHECK (next_offset >= 0) */
        p->positions[index].next_offset = next_offset;
    }
    PQclear(res);
    for (size_t i = 0; i < p->position_count; i++)
        p->positions[i].batch_next_offset = p->positions[i].next_offset;
    return 0;
}

/* ------------------------------------------------------------ kafka */

static int init_positions(projector *p, sp_error *err) {
    int ledger_count = sp_kafka_partition_count(p->options->brokers, SP_TOPIC_LEDGER_EVENTS,
                                                KAFKA_TIMEOUT_MS, err);
    if (ledger_count < 0) return -1;
    if (ledger_count > SP_PROJECTION_POSITIONS_MAX - 1)
        return sp_error_set(err, 500, "invalid_config", "", "%s has %d partitions, more than %d",
                            SP_TOPIC_LEDGER_EVENTS, ledger_count, SP_PROJECTION_POSITIONS_MAX - 1);
    p->positions[0] = (sp_projection_position){.topic = SP_TOPIC_ACCOUNTS_EVENTS, .partition = 0};
    for (int i = 0; i < ledger_count; i++)
        p->positions[1 + i] = (sp_projection_position){.topic = SP_TOPIC_LEDGER_EVENTS,
                                                       .partition = i};
    p->position_count = 1 + (size_t)ledger_count;
    return 0;
}

/* A shadow build's end in this partition (0 when not listed: nothing to read). */
static int64_t target_of(const projector *p, const sp_projection_position *pos) {
    for (size_t i = 0; i < p->options->target_count; i++) {
        const sp_kafka_tp *t = &p->options->targets[i];
        if (t->partition == pos->partition && strcmp(t->topic, pos->topic) == 0) return t->offset;
    }
    return 0;
}

/* Refuses a log that lost messages the read model never saw; the first time,
 * notes where the log ends (the catch-up target). */
static int check_log(projector *p, bool first, sp_error *err) {
    sp_kafka_tp tps[SP_PROJECTION_POSITIONS_MAX];
    int64_t lows[SP_PROJECTION_POSITIONS_MAX], highs[SP_PROJECTION_POSITIONS_MAX];
    assert(p->position_count > 0 && p->position_count <= SP_PROJECTION_POSITIONS_MAX);
    for (size_t i = 0; i < p->position_count; i++)
        tps[i] = (sp_kafka_tp){.topic = p->positions[i].topic,
                               .partition = p->positions[i].partition};
    if (sp_kafka_watermarks_many(p->consumer, tps, p->position_count, lows, highs, KAFKA_TIMEOUT_MS,
                                 err) != 0)
        return -1;
    for (size_t i = 0; i < p->position_count; i++) {
        sp_projection_position *pos = &p->positions[i];
        int64_t high = highs[i];
        if (sp_projection_position_check_log(pos, lows[i], high, err) != 0) return -1;
        if (first) pos->high_at_start = p->options->schema != NULL ? target_of(p, pos) : high;
        if (pos->high_at_start > high)
            return sp_error_set(err, 500, "log_reset", "",
                                "%s [%" PRId32 "] ends at offset %" PRId64
                                ", before the replay's target %" PRId64,
                                pos->topic, pos->partition, high, pos->high_at_start);
    }
    return 0;
}

static int open_consumer(projector *p, sp_error *err) {
    assert(p->consumer == NULL);
    sp_kafka_tp tps[SP_PROJECTION_POSITIONS_MAX];
    for (size_t i = 0; i < p->position_count; i++)
        tps[i] = (sp_kafka_tp){.topic = p->positions[i].topic,
                               .partition = p->positions[i].partition,
                               .offset = p->positions[i].next_offset};
    p->consumer = sp_kafka_consumer_new_assigned(p->options->brokers, PROJECTION_CLIENT_ID, tps,
                                                 p->position_count, p->log, err);
    return p->consumer != NULL ? 0 : -1;
}

/* From the database's offsets (the truth, whatever happened in memory) to a
 * consumer reading from them. */
static int attach(projector *p, bool first, sp_error *err) {
    if (p->conn == NULL && pg_open(p, err) != 0) return -1;
    if (pg_prepare_all(p, err) != 0 || load_offsets(p, err) != 0 || open_consumer(p, err) != 0)
        return -1;
    return check_log(p, first, err);
}

static void detach(projector *p) {
    sp_kafka_consumer_free(p->consumer);
    p->consumer = NULL;
    pg_close(p);
}

/* Empties the read models, but only when the log still holds everything
 * they would be rebuilt from: a refused rebuild leaves them as they were. */
static int rebuild(projector *p, sp_error *err) {
    for (size_t i = 0; i < p->position_count; i++) p->positions[i].next_offset = 0;
    int rc = open_consumer(p, err) == 0 ? check_log(p, true, err) : -1;
    sp_kafka_consumer_free(p->consumer);
    p->consumer = NULL;
    if (rc != 0) return -1;
    if (sp_pg_command(p->conn, "BEGIN", err) != 0) return -1;
    if (sp_pg_command(p->conn, sp_projection_truncate_sql, err) != 0 ||
        sp_pg_command(p->conn, sp_projection_offsets_delete_sql, err) != 0 ||
        sp_pg_command(p->conn, "COMMIT", err) != 0) {
        PQclear(PQexec(p->conn, "ROLLBACK"));
        return -1;
    }
    sp_log_info(p->log, "rebuild: read models and offsets emptied", NULL);
    return 0;
}

/* ------------------------------------------------------------ errors */

/* What a failed statement means for the batch. */
static failure classify_result(const PGresult *res, sp_error *err) {
    const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    char text[SP_ERROR_MESSAGE_MAX];
    pg_error_text(PQresultErrorMessage(res), text, sizeof text);
    sp_error_set(err, 500, "database_error", "", "%s: %s", sqlstate ? sqlstate : "no SQLSTATE",
                 text);
    if (sqlstate == NULL) return FAIL_TRANSIENT; /* libpq's own: the connection */
    /* data exceptions, constraint violations, limits: this event, not the database */
    if (strncmp(sqlstate, "22", 2) == 0 || strncmp(sqlstate, "23", 2) == 0 ||
        strncmp(sqlstate, "54", 2) == 0)
        return FAIL_DATA;
    /* connection, shutdown, resources, serialization, system: try again */
    static const char *const transient[] = {"08", "57", "53", "40", "58"};
    for (size_t i = 0; i < sizeof transient / sizeof transient[0]; i++)
        if (strncmp(sqlstate, transient[i], 2) == 0) return FAIL_TRANSIENT;
    return FAIL_FATAL; /* the SQL or the schema is wrong */
}

static failure connection_failure(projector *p, const char *what, sp_error *err) {
    char text[SP_ERROR_MESSAGE_MAX];
    pg_error_text(p->conn ? PQerrorMessage(p->conn) : "", text, sizeof text);
    sp_error_set(err, 503, "database_unavailable", "", "%s: %s", what, text);
    return FAIL_TRANSIENT;
}

/* ------------------------------------------------------------ messages */

static bool dead_letter_known(const dead_letter_keys *keys, dead_letter_key key) {
    for (size_t i = 0; i < keys->count; i++)
        if (keys->keys[i].position == key.position && keys->keys[i].offset == key.offset)
            return true;
    return false;
}

/* Past the bound a retried batch sends its dead letters again: harmless. */
static void dead_letter_remember(dead_letter_keys *keys, dead_letter_key key) {
    if (keys->count < DEAD_LETTERS_REMEMBERED_MAX) keys->keys[keys->count++] = key;
}

/* The queued dead letters are on the broker: a retry of this batch skips them. */
static failure dead_letters_flush(projector *p, sp_error *err) {
    if (p->dead_letters_queued.count == 0) return FAIL_NONE;
    if (sp_kafka_producer_flush(p->producer, DEADLETTER_FLUSH_MS, err) != 0) return FAIL_TRANSIENT;
    for (size_t i = 0; i < p->dead_letters_queued.count; i++)
        dead_letter_remember(&p->dead_letters_flushed, p->dead_letters_queued.keys[i]);
    p->dead_letters_queued.count = 0;
    return FAIL_NONE;
}

static failure dead_letter(projector *p, size_t position, const sp_kafka_msg *msg,
                           const sp_error *reason, sp_error *err) {
    p->batch.dead_letters++;
    if (p->options->schema != NULL) return FAIL_NONE; /* the live projection sent it */
    dead_letter_key key = {.position = position, .offset = msg->offset};
    if (dead_letter_known(&p->dead_letters_flushed, key)) return FAIL_NONE;
    char why[SP_ERROR_CODE_MAX + SP_ERROR_MESSAGE_MAX + 4];
    char partition[NUMBER_TEXT_MAX], offset[NUMBER_TEXT_MAX];
    snprintf(why, sizeof why, "%s: %s", reason->code, reason->message);
    i64_text(msg->partition, partition);
    i64_text(msg->offset, offset);
    sp_log_warn(p->log, "poison message sent to the dead-letter topic", "topic", msg->topic,
                "partition", partition, "offset", offset, "reason", why, NULL);
    if (sp_deadletter_send(p->producer, msg, PROJECTION_SERVICE, why, sp_clock_now_ms(p->clock),
                           err) != 0)
        return FAIL_TRANSIENT;
    dead_letter_remember(&p->dead_letters_queued, key);
    return FAIL_NONE;
}

/* Whether msg is the next one of its partition; a gap is only acceptable
 * when the log still starts before it (offsets Kafka itself skipped). */
static failure take_offset(projector *p, const sp_kafka_msg *msg, size_t *position, bool *skip,
                           sp_error *err) {
    int index = sp_projection_position_find(p->positions, p->position_count, msg->topic,
                                            msg->partition);
    if (index < 0) {
        sp_error_set(err, 500, "unexpected_partition", "",
                     "a message from %s [%" PRId32 "], "
                     "which is not assigned",
                     msg->topic, msg->partition);
        return FAIL_FATAL;
    }
    *position = (size_t)index;
    sp_projection_position *pos = &p->positions[index];
    sp_projection_offset_kind kind = sp_projection_offset_classify(pos, msg->offset);
    *skip = kind == SP_PROJECTION_OFFSET_SEEN ||
            (p->options->schema != NULL && msg->offset >= pos->high_at_start);
    if (*skip) return FAIL_NONE;
    if (kind == SP_PROJECTION_OFFSET_GAP) {
        int64_t low = 0, high = 0;
        sp_projection_position at_gap = *pos;
        at_gap.next_offset = pos->batch_next_offset;
        if (sp_kafka_watermarks(p->consumer, pos->topic, pos->partition, &low, &high,
                                KAFKA_TIMEOUT_MS, err) != 0)
            return FAIL_TRANSIENT;
        if (sp_projection_position_check_log(&at_gap, low, high > msg->offset ? high : msg->offset,
                                             err) != 0)
            return FAIL_FATAL;
        char partition[NUMBER_TEXT_MAX], expected[NUMBER_TEXT_MAX], got[NUMBER_TEXT_MAX];
        i64_text(msg->partition, partition);
        i64_text(pos->batch_next_offset, expected);
        i64_text(msg->offset, got);
        sp_log_warn(p->log, "offsets skipped by the log", "topic", msg->topic, "partition",
                    partition, "expected", expected, "offset", got, NULL);
    }
    if (!*skip) pos->batch_next_offset = msg->offset + 1;
    return FAIL_NONE;
}

/* Decode, validate, dead-letter or hand back the row to apply (row->sql NULL: nothing to do). */
static failure prepare(projector *p, const sp_kafka_msg *msg, size_t *position,
                       sp_projection_row *row, sp_error *err) {
    bool skip = false;
    row->sql = NULL;
    failure f = take_offset(p, msg, position, &skip, err);
    if (f != FAIL_NONE || skip) return f;
    p->batch.events++;
    sp_error reason;
    sp_error_clear(&reason);
    for (size_t i = 0; i < p->refused_count; i++) {
        const refused_event *r = &p->refused[i];
        if (r->key.position != *position || r->key.offset != msg->offset) continue;
        sp_error_set(&reason, 422, "database_refused", "", "%s", r->reason);
        return dead_letter(p, *position, msg, &reason, err);
    }
    if (sp_projection_row_build(msg, p->row_buf, SP_PROJECTION_ROW_BYTES_MAX, row, &reason) != 0)
        return dead_letter(p, *position, msg, &reason, err);
    if (row->sql == NULL) p->batch.no_ops++;
    return FAIL_NONE;
}

static void count_outcome(projector *p, bool versioned, const char *count_text) {
    if (strcmp(count_text, "0") != 0) p->batch.applied++;
    else if (versioned) p->batch.stale++;
    else p->batch.duplicates++;
}

/* ------------------------------------------------------------ pipeline */

/* A prepared statement, or with prepared NULL the parameterless sql. */
static failure send_statement(projector *p, statement_tag tag, const char *prepared,
                              const char *sql, int param_count, const char *const *params,
                              sp_error *err) {
    assert(p->pipeline_open && p->statement_count < STATEMENTS_MAX(p->batch_events_max));
    int sent = prepared != NULL
                   ? PQsendQueryPrepared(p->conn, prepared, param_count, params, NULL, NULL, 0)
                   : PQsendQueryParams(p->conn, sql, 0, NULL, NULL, NULL, NULL, 0);
    if (sent != 1) return connection_failure(p, "sending a statement", err);
    p->statements[p->statement_count++] = tag;
    return FAIL_NONE;
}

static failure pipeline_begin(projector *p, sp_error *err) {
    assert(!p->pipeline_open);
    if (PQsetnonblocking(p->conn, 1) != 0 || PQenterPipelineMode(p->conn) != 1)
        return connection_failure(p, "entering pipeline mode", err);
    p->pipeline_open = true;
    p->statement_count = 0;
    statement_tag tag = {.kind = STMT_CONTROL};
    failure f = send_statement(p, tag, NULL, "BEGIN", 0, NULL, err);
    /* A replay swapping its tables in holds this lock exclusively: the batch
     * waits for the swap before it touches any table. */
    if (f == FAIL_NONE && p->options->schema == NULL)
        f = send_statement(p, tag, NULL,
                           "SELECT pg_advisory_xact_lock_shared(" SP_PROJECTION_SWAP_LOCK_KEY ")",
                           0, NULL, err);
    return f;
}

/* The next result, waiting (bounded) while the socket has more to send or
 * the server more to answer; never blocks inside libpq. */
static failure next_result(projector *p, int64_t deadline_ms, PGresult **res, sp_error *err) {
    while (PQisBusy(p->conn)) {
        int flushing = PQflush(p->conn);
        int64_t left_ms = deadline_ms - sp_clock_monotonic_ms();
        if (flushing < 0 || PQstatus(p->conn) != CONNECTION_OK)
            return connection_failure(p, "reading results", err);
        if (left_ms <= 0) {
            sp_error_set(err, 503, "database_timeout", "", "no result within %d ms",
                         BATCH_RESULTS_TIMEOUT_MS);
            return FAIL_TRANSIENT;
        }
        struct pollfd pfd = {.fd = PQsocket(p->conn),
                             .events = (short)(POLLIN | (flushing == 1 ? POLLOUT : 0))};
        if (poll(&pfd, 1, (int)left_ms) < 0 && errno != EINTR)
            return connection_failure(p, "waiting for results", err);
        if (PQconsumeInput(p->conn) != 1) return connection_failure(p, "reading results", err);
    }
    *res = PQgetResult(p->conn);
    return FAIL_NONE;
}

/* One statement's result and the NULL that ends it. */
static failure read_statement(projector *p, size_t index, int64_t deadline_ms, failure *first,
                              sp_error *err) {
    PGresult *res = NULL;
    if (next_result(p, deadline_ms, &res, err) != FAIL_NONE) return FAIL_TRANSIENT;
    if (res == NULL) return connection_failure(p, "a result is missing", err);
    ExecStatusType status = PQresultStatus(res);
    const statement_tag *tag = &p->statements[index];
    if (status == PGRES_TUPLES_OK && tag->kind == STMT_EVENT) {
        assert(PQntuples(res) == 1 && PQnfields(res) == 1); /* SELECT count(*) */
        count_outcome(p, tag->versioned, PQgetvalue(res, 0, 0));
    } else if (status == PGRES_TUPLES_OK && tag->kind == STMT_FOLD && tag->offset >= 0 &&
               *first == FAIL_NONE) {
        assert(PQntuples(res) == 1 && PQnfields(res) == 1);
        int64_t written = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        /* A pass moved since its version was read: read again, fold again. */
        if (written != tag->offset) {
            sp_error_set(err, 503, "fold_stale", "",
                         "%" PRId64 " passes written instead of %" PRId64 ": the batch runs again",
                         written, tag->offset);
            *first = FAIL_TRANSIENT;
            p->failed_statement = index;
        }
    } else if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK &&
               status != PGRES_PIPELINE_ABORTED && *first == FAIL_NONE) {
        *first = classify_result(res, err);
        p->failed_statement = index;
    }
    PQclear(res);
    if (next_result(p, deadline_ms, &res, err) != FAIL_NONE) return FAIL_TRANSIENT;
    if (res != NULL) {
        PQclear(res);
        return connection_failure(p, "more results than statements", err);
    }
    return FAIL_NONE;
}

/* Sync, then every result in order. The first failed statement decides. */
static failure pipeline_finish(projector *p, sp_error *err) {
    assert(p->pipeline_open);
    if (PQpipelineSync(p->conn) != 1) return connection_failure(p, "sending the sync", err);
    int64_t deadline_ms = sp_clock_monotonic_ms() + BATCH_RESULTS_TIMEOUT_MS;
    failure first = FAIL_NONE;
    p->failed_statement = p->statement_count;
    for (size_t i = 0; i < p->statement_count; i++)
        if (read_statement(p, i, deadline_ms, &first, err) != FAIL_NONE) return FAIL_TRANSIENT;
    PGresult *res = NULL;
    if (next_result(p, deadline_ms, &res, err) != FAIL_NONE) return FAIL_TRANSIENT;
    bool synced = res != NULL && PQresultStatus(res) == PGRES_PIPELINE_SYNC;
    PQclear(res);
    if (!synced) return connection_failure(p, "the sync result is missing", err);
    if (PQexitPipelineMode(p->conn) != 1 || PQsetnonblocking(p->conn, 0) != 0)
        return connection_failure(p, "leaving pipeline mode", err);
    p->pipeline_open = false;
    return first;
}

static failure send_offsets(projector *p, sp_error *err) {
    for (size_t i = 0; i < p->position_count; i++) {
        const sp_projection_position *pos = &p->positions[i];
        if (pos->batch_next_offset == pos->next_offset) continue;
        char partition[NUMBER_TEXT_MAX], offset[NUMBER_TEXT_MAX];
        i64_text(pos->partition, partition);
        i64_text(pos->batch_next_offset, offset);
        const char *params[3] = {pos->topic, partition, offset};
        statement_tag tag = {.kind = STMT_OFFSETS};
        failure f = send_statement(p, tag, SP_PROJECTION_OFFSET_UPSERT_STATEMENT, NULL, 3, params,
                                   err);
        if (f != FAIL_NONE) return f;
    }
    return FAIL_NONE;
}

/* Live, in the batch's transaction: the offsets it moved, for the gateways
 * that wait on them (sp_offsets_notice.h), delivered when it commits. A
 * replay's shadow sends none: its offsets are not the live read models'. */
static failure send_offsets_notice(projector *p, sp_error *err) {
    assert(p->options->schema == NULL);
    char payload[SP_OFFSETS_NOTICE_BYTES_MAX] = "";
    bool moved = false, fits = true;
    for (size_t i = 0; i < p->position_count && fits; i++) {
        const sp_projection_position *pos = &p->positions[i];
        if (pos->batch_next_offset == pos->next_offset) continue;
        moved = true;
        fits = sp_offsets_notice_append(payload, sizeof payload, pos->topic, pos->partition,
                                        pos->batch_next_offset);
    }
    if (!moved) return FAIL_NONE;
    if (!fits) payload[0] = '\0'; /* an empty notice: read the table */
    const char *params[2] = {SP_OFFSETS_NOTICE_CHANNEL, payload};
    statement_tag tag = {.kind = STMT_CONTROL};
    return send_statement(p, tag, offsets_notice_statement.name, NULL, 2, params, err);
}

/* ------------------------------------------------------------ one batch */

static void batch_reset(projector *p) {
    memset(&p->batch, 0, sizeof p->batch);
    p->figures_pending = false;
    p->dead_letters_queued.count = 0;
    for (size_t i = 0; i < p->position_count; i++)
        p->positions[i].batch_next_offset = p->positions[i].next_offset;
}

static void batch_done(projector *p) {
    p->fold_off = false;
    for (size_t i = 0; i < p->position_count; i++)
        p->positions[i].next_offset = p->positions[i].batch_next_offset;
    p->total.events += p->batch.events;
    p->total.applied += p->batch.applied;
    p->total.duplicates += p->batch.duplicates;
    p->total.stale += p->batch.stale;
    p->total.no_ops += p->batch.no_ops;
    p->total.dead_letters += p->batch.dead_letters;
    p->total.batches++;
    /* Forget the dead letters whose offsets are now behind the stored ones. */
    dead_letter_keys *flushed = &p->dead_letters_flushed;
    size_t kept = 0;
    for (size_t i = 0; i < flushed->count; i++)
        if (flushed->keys[i].offset >= p->positions[flushed->keys[i].position].next_offset)
            flushed->keys[kept++] = flushed->keys[i];
    flushed->count = kept;
    kept = 0;
    for (size_t i = 0; i < p->refused_count; i++)
        if (p->refused[i].key.offset >= p->positions[p->refused[i].key.position].next_offset)
            p->refused[kept++] = p->refused[i];
    p->refused_count = kept;
}

/* ------------------------------------------------------------ collecting */

static void batch_free_copies(projector *p) {
    for (size_t i = 0; i < p->batch_count; i++) free(p->batch_copies[i]);
    p->batch_count = 0;
}

/* One allocation holding the message's topic, key and value. */
static failure batch_keep(projector *p, const sp_kafka_msg *msg, sp_error *err) {
    assert(p->batch_count < p->batch_events_max);
    size_t topic_len = strlen(msg->topic);
    char *copy = malloc(topic_len + 1 + msg->key_len + msg->value_len + 1);
    if (copy == NULL) {
        sp_error_set(err, 500, "out_of_memory", "", "copying a message of %zu bytes",
                     msg->value_len);
        return FAIL_FATAL;
    }
    sp_kafka_msg *kept = &p->batch_msgs[p->batch_count];
    *kept = *msg;
    memcpy(copy, msg->topic, topic_len + 1);
    kept->topic = copy;
    char *key = copy + topic_len + 1;
    if (msg->key_len > 0) memcpy(key, msg->key, msg->key_len);
    kept->key = msg->key != NULL ? key : NULL;
    char *value = key + msg->key_len;
    if (msg->value_len > 0) memcpy(value, msg->value, msg->value_len);
    kept->value = msg->value != NULL ? value : NULL;
    p->batch_copies[p->batch_count++] = copy;
    return FAIL_NONE;
}

/* Whether the messages kept reach every partition's end (a shadow's target). */
static bool chunk_complete(const projector *p, const int64_t *kept_next) {
    for (size_t i = 0; i < p->position_count; i++)
        if (kept_next[i] < p->positions[i].high_at_start) return false;
    return true;
}

/* Polls until the transaction is full or the consumer has nothing more at
 * hand, keeping every message. A replay's chunk waits for the log rather
 * than stopping at the first short poll: the more it folds at once, the
 * fewer rows it writes. */
static failure collect(projector *p, sp_error *err) {
    batch_free_copies(p);
    bool fill = p->options->batch_events_max > 0;
    int64_t kept_next[SP_PROJECTION_POSITIONS_MAX]; /* fill: past the last message kept */
    for (size_t i = 0; i < p->position_count; i++) kept_next[i] = p->positions[i].next_offset;
    for (size_t polls = 0; polls < POLLS_PER_TXN_MAX(p->batch_events_max); polls++) {
        size_t room = p->batch_events_max - p->batch_count;
        size_t want = room < SP_KAFKA_BATCH_MAX ? room : SP_KAFKA_BATCH_MAX;
        if (want == 0) break;
        int n = sp_kafka_consumer_poll_batch(p->consumer, p->msgs, want,
                                             polls == 0 || fill ? POLL_MS : 0, err);
        if (n < 0) return FAIL_FATAL; /* a truncated log or a dead client */
        for (int i = 0; i < n; i++) {
            failure f = batch_keep(p, &p->msgs[i], err);
            if (f != FAIL_NONE) return f;
            int index = sp_projection_position_find(p->positions, p->position_count,
                                                    p->msgs[i].topic, p->msgs[i].partition);
            if (index >= 0 && p->msgs[i].offset >= kept_next[index])
                kept_next[index] = p->msgs[i].offset + 1;
        }
        if (fill ? n == 0 || chunk_complete(p, kept_next) : (size_t)n < want) break;
    }
    return FAIL_NONE;
}

/* ------------------------------------------------------------ the fold */

/* Which passes the fold takes: those whose every event of the batch is one
 * it folds. Poison and messages already applied are left to prepare(). */
static failure fold_plan(projector *p, sp_error *err) {
    sp_projection_fold_reset(p->fold);
    if (p->fold_off) return FAIL_NONE;
    for (size_t i = 0; i < p->batch_count; i++) {
        const sp_kafka_msg *msg = &p->batch_msgs[i];
        int index = sp_projection_position_find(p->positions, p->position_count, msg->topic,
                                                msg->partition);
        if (index < 0 || strcmp(msg->topic, SP_TOPIC_LEDGER_EVENTS) != 0 ||
            sp_projection_offset_classify(&p->positions[index], msg->offset) ==
                SP_PROJECTION_OFFSET_SEEN)
            continue;
        /* The fold's own kinds by their envelope alone: each is decoded in
         * full once, when applied. */
        sp_projection_event_kind kind;
        char pass_id[SP_ID_LEN + 1];
        if (sp_projection_row_peek(msg, &kind, pass_id) == 0 && sp_projection_fold_kind(kind)) {
            if (sp_projection_fold_plan_foldable(p->fold, pass_id, err) != 0) return FAIL_FATAL;
            continue;
        }
        sp_projection_row row;
        sp_error ignored;
        if (sp_projection_row_build(msg, p->row_buf, SP_PROJECTION_ROW_BYTES_MAX, &row, &ignored) !=
            0)
            continue;
        if (sp_projection_fold_plan(p->fold, &row, err) != 0) return FAIL_FATAL;
    }
    return FAIL_NONE;
}

/* The versions the database holds for the passes the fold takes (this
 * projection is their only writer; the fold's update checks them again). */
static failure fold_load_versions(projector *p, sp_error *err) {
    size_t count = sp_projection_fold_pass_count(p->fold);
    if (count == 0) return FAIL_NONE;
    size_t size = count * (SP_ID_LEN + 3) + 3, used = 0;
    char *ids = malloc(size);
    if (ids == NULL) {
        sp_error_set(err, 500, "out_of_memory", "", "pass ids");
        return FAIL_FATAL;
    }
    ids[used++] = '{';
    for (size_t i = 0; i < count; i++) {
        const char *id = sp_projection_fold_pass_id(p->fold, i);
        if (id == NULL) continue;
        used += (size_t)snprintf(ids + used, size - used, "%s%s", used > 1 ? "," : "", id);
    }
    snprintf(ids + used, size - used, "}");
    if (used == 1) { /* no pass folds: no round trip */
        free(ids);
        return FAIL_NONE;
    }
    const char *params[1] = {ids};
    PGresult *res = NULL;
    int rc = sp_pg_exec(p->conn,
                        "SELECT pass_id, version FROM passes "
                        "WHERE pass_id = ANY ($1::uuid[])",
                        1, params, &res, err);
    free(ids);
    if (rc != 0) return FAIL_TRANSIENT;
    for (int row = 0; row < PQntuples(res); row++)
        sp_projection_fold_pass_known(p->fold, PQgetvalue(res, row, 0),
                                      strtoll(PQgetvalue(res, row, 1), NULL, 10));
    PQclear(res);
    return FAIL_NONE;
}

static const char *fold_statement_sql(const char *name) {
    for (size_t i = 0; i < sp_projection_fold_statement_count; i++)
        if (strcmp(sp_projection_fold_statements[i].name, name) == 0)
            return sp_projection_fold_statements[i].sql;
    return NULL;
}

/* Whether the COPY writes a read model: the COPYs run after every other
 * statement of the batch, so none may read their rows (the figures' pending
 * deltas, folded by the statement after the fold's, are not copied). */
static bool copies_a_read_model(const char *copy_sql) {
    for (size_t i = 0; i < sp_projection_table_count; i++) {
        const char *name = sp_projection_tables[i].name;
        size_t len = strlen(name);
        if (strncmp(copy_sql + 5, name, len) == 0 && copy_sql[5 + len] == ' ') return true;
    }
    return false;
}

/* A replay's shadow keeps the fold's plain inserts of read models for COPY
 * (copy_new_rows). */
static bool fold_copied(projector *p, const sp_projection_fold_statement *st) {
    char copy_sql[SP_PROJECTION_COPY_SQL_MAX];
    const char *sql = fold_statement_sql(st->name);
    if (!p->options->copy_new_rows || sql == NULL ||
        !sp_projection_copy_sql(sql, st->param_count, copy_sql, sizeof copy_sql) ||
        !copies_a_read_model(copy_sql))
        return false;
    assert(p->copy_count < SP_PROJECTION_FOLD_STATEMENTS_MAX);
    p->copies[p->copy_count++] = *st;
    return true;
}

static failure send_fold(projector *p, sp_error *err) {
    sp_projection_fold_statement statements[SP_PROJECTION_FOLD_STATEMENTS_MAX];
    assert(sp_projection_fold_statement_count <= SP_PROJECTION_FOLD_STATEMENTS_MAX);
    size_t count = 0;
    if (sp_projection_fold_render(p->fold, statements, &count, err) != 0) return FAIL_FATAL;
    for (size_t i = 0; i < count; i++) {
        if (fold_copied(p, &statements[i])) continue;
        statement_tag tag = {.kind = STMT_FOLD, .offset = statements[i].expected_count};
        failure f = send_statement(p, tag, statements[i].name, NULL, statements[i].param_count,
                                   statements[i].params, err);
        if (f != FAIL_NONE) return f;
    }
    return FAIL_NONE;
}

/* ------------------------------------------------------------ one batch */

static failure send_event(projector *p, size_t index, sp_error *err) {
    sp_projection_row row;
    size_t position = 0;
    const sp_kafka_msg *msg = &p->batch_msgs[index];
    failure f = prepare(p, msg, &position, &row, err);
    if (f != FAIL_NONE || row.sql == NULL) return f;
    if (!p->fold_off && sp_projection_fold_wants(p->fold, &row)) {
        int applied = sp_projection_fold_add(p->fold, &row, err);
        if (applied < 0) return FAIL_FATAL;
        count_outcome(p, row.versioned, applied ? "1" : "0");
        return FAIL_NONE;
    }
    statement_tag tag = {.kind = STMT_EVENT,
                         .versioned = row.versioned,
                         .position = position,
                         .offset = msg->offset};
    /* Before the event's statement: it sees the rows the event changes. */
    sp_projection_figures_row figures;
    sp_projection_figures_build(&row, &figures);
    if (figures.statement != NULL) {
        statement_tag figures_tag = tag;
        figures_tag.kind = STMT_FIGURES;
        p->figures_pending = true;
        f = send_statement(p, figures_tag, figures.statement, NULL, figures.param_count,
                           figures.params, err);
        if (f != FAIL_NONE) return f;
    }
    return send_statement(p, tag, row.statement, NULL, row.param_count, row.params, err);
}

/* ------------------------------------------------------------ COPY */

/* Adds the time since the last mark to phase. */
static void phase_mark(projector *p, phase which) {
    int64_t now_ms = sp_clock_monotonic_ms();
    p->phase_ms[which] += now_ms - p->phase_started_ms;
    p->phase_started_ms = now_ms;
}

/* A copy's job: its COPY statement (derived from the fold's INSERT) and
 * the fold's arrays, borrowed until the copiers are waited for. */
static sp_copier_job copy_job(const sp_projection_fold_statement *st) {
    sp_copier_job job = {.name = st->name, .arrays = st->params, .column_count = st->param_count};
    const char *insert_sql = fold_statement_sql(st->name);
    bool copyable = sp_projection_copy_sql(insert_sql, st->param_count, job.sql, sizeof job.sql);
    assert(copyable);
    (void)copyable;
    job.binary = sp_projection_copy_binary_sql(insert_sql, st->param_count, job.binary_sql,
                                               sizeof job.binary_sql, job.types);
    for (int i = 0; i < st->param_count; i++) job.bytes += strlen(st->params[i]);
    return job;
}

/* One COPY for the least loaded copier (started with the first). */
static failure copy_dispatch(projector *p, const sp_projection_fold_statement *st, sp_error *err) {
    assert(p->copier_count == COPIERS_MAX);
    size_t least = 0;
    for (size_t c = 0; c < COPIERS_MAX; c++) {
        if (!sp_copier_started(&p->copiers[c]) && sp_copier_start(&p->copiers[c], err) != 0)
            return FAIL_FATAL;
        if (p->copiers[c].bytes_queued < p->copiers[least].bytes_queued) least = c;
    }
    sp_copier_job job = copy_job(st);
    return sp_copier_add(&p->copiers[least], &job, err) == 0 ? FAIL_NONE : FAIL_FATAL;
}

/* The operations and history rows folded so far, to the copiers while the
 * fold goes on (a replay chunk's rows are mostly these). */
static failure stream_copies(projector *p, sp_error *err) {
    if (p->taken_count == COPY_TAKES_MAX) return FAIL_NONE; /* the rest at the render */
    sp_projection_fold_taken *taken = &p->taken[p->taken_count];
    if (sp_projection_fold_take_new_rows(p->fold, taken, err) != 0) return FAIL_FATAL;
    if (taken->count == 0) return FAIL_NONE;
    p->taken_count++;
    failure f = FAIL_NONE;
    for (size_t i = 0; i < taken->count && f == FAIL_NONE; i++)
        f = copy_dispatch(p, &taken->statements[i], err);
    return f;
}

/* The render's copies, largest first. */
static failure start_copies(projector *p, sp_error *err) {
    assert(p->copy_count <= SP_PROJECTION_FOLD_STATEMENTS_MAX);
    bool sent[SP_PROJECTION_FOLD_STATEMENTS_MAX] = {false};
    size_t bytes[SP_PROJECTION_FOLD_STATEMENTS_MAX] = {0};
    for (size_t i = 0; i < p->copy_count; i++)
        for (int k = 0; k < p->copies[i].param_count; k++)
            bytes[i] += strlen(p->copies[i].params[k]);
    failure f = FAIL_NONE;
    for (size_t done = 0; done < p->copy_count && f == FAIL_NONE; done++) {
        size_t largest = p->copy_count;
        for (size_t i = 0; i < p->copy_count; i++)
            if (!sent[i] && (largest == p->copy_count || bytes[i] > bytes[largest])) largest = i;
        sent[largest] = true;
        f = copy_dispatch(p, &p->copies[largest], err);
    }
    return f;
}

/* What a copier's failure means for the batch: a refused row, or a key
 * another transaction holds, runs it again with the statements. */
static failure copier_failure(projector *p, sp_copier_outcome outcome, const char *sqlstate) {
    if (outcome == SP_COPIER_BROKEN) return FAIL_TRANSIENT;
    if (outcome == SP_COPIER_FATAL) return FAIL_FATAL;
    assert(outcome == SP_COPIER_REFUSED);
    if (strncmp(sqlstate, "22", 2) == 0 || strncmp(sqlstate, "23", 2) == 0 ||
        strcmp(sqlstate, "55P03") == 0 || strncmp(sqlstate, "54", 2) == 0) {
        p->copy_refused = true;
        return FAIL_DATA;
    }
    return strncmp(sqlstate, "08", 2) == 0 || strncmp(sqlstate, "57", 2) == 0 ||
                   strncmp(sqlstate, "40", 2) == 0 || strncmp(sqlstate, "53", 2) == 0
               ? FAIL_TRANSIENT
               : FAIL_FATAL;
}

/* After the pipeline (its transaction still open): waits for every copier;
 * when the batch and they all went well, commits them, then the batch's
 * own transaction (with the offsets); otherwise rolls them back. */
static failure finish_copies(projector *p, failure f, sp_error *err) {
    for (size_t c = 0; c < p->copier_count; c++) {
        sp_error copier_err;
        sp_copier_outcome outcome = sp_copier_wait(&p->copiers[c], &copier_err);
        if (outcome != SP_COPIER_OK && f == FAIL_NONE) {
            f = copier_failure(p, outcome, p->copiers[c].sqlstate);
            *err = copier_err;
        }
    }
    phase_mark(p, PHASE_COPY);
    for (size_t i = 0; i < p->taken_count; i++) sp_projection_fold_taken_free(&p->taken[i]);
    p->taken_count = 0;
    /* Once a copier has committed, the chunk is partly in the shadow: its
     * new passes would make the chunk's events look applied when run again,
     * so any failure from there on ends the replay (nothing swapped; the
     * next one starts afresh) rather than trying the chunk again. */
    bool partly = false;
    for (size_t c = 0; c < p->copier_count; c++) {
        sp_error copier_err;
        bool had = p->copiers[c].in_transaction;
        if (sp_copier_end(&p->copiers[c], f == FAIL_NONE, &copier_err) != 0 && f == FAIL_NONE) {
            f = partly ? FAIL_FATAL : FAIL_TRANSIENT; /* none committed: the chunk again */
            *err = copier_err;
        }
        partly = partly || (had && f == FAIL_NONE);
    }
    if (f != FAIL_NONE) return f; /* recover() drops the connection, and the transaction */
    PGresult *res = PQexec(p->conn, "COMMIT");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        f = res != NULL ? classify_result(res, err) : connection_failure(p, "COMMIT", err);
        if (partly) f = FAIL_FATAL;
    }
    PQclear(res);
    phase_mark(p, PHASE_COMMIT);
    return f;
}

static failure apply_pipelined(projector *p, sp_error *err) {
    batch_reset(p);
    p->copy_count = 0;
    p->phase_started_ms = sp_clock_monotonic_ms();
    failure f = collect(p, err);
    phase_mark(p, PHASE_READ);
    if (f != FAIL_NONE || p->batch_count == 0) return f;
    f = fold_plan(p, err);
    if (f == FAIL_NONE) f = fold_load_versions(p, err);
    if (f == FAIL_NONE) f = pipeline_begin(p, err);
    bool copying = p->options->copy_new_rows && !p->fold_off;
    for (size_t i = 0; i < p->batch_count && f == FAIL_NONE; i++) {
        f = send_event(p, i, err);
        if (f == FAIL_NONE && copying && (i + 1) % COPY_STREAM_EVENTS == 0)
            f = stream_copies(p, err);
    }
    /* The folded rows, then the figures' deltas of the batch, at once. */
    if (f == FAIL_NONE && !p->fold_off) f = send_fold(p, err);
    if (f == FAIL_NONE && copying) f = start_copies(p, err);
    statement_tag fold = {.kind = STMT_CONTROL};
    if (f == FAIL_NONE && p->figures_pending)
        f = send_statement(p, fold, sp_projection_figures_fold.name, NULL, 0, NULL, err);
    if (f == FAIL_NONE) f = send_offsets(p, err);
    if (f == FAIL_NONE && p->options->schema == NULL) f = send_offsets_notice(p, err);
    /* A dead letter is on the broker before the offset that skips it commits. */
    if (f == FAIL_NONE) f = dead_letters_flush(p, err);
    statement_tag commit = {.kind = STMT_CONTROL};
    if (f == FAIL_NONE && !copying) f = send_statement(p, commit, NULL, "COMMIT", 0, NULL, err);
    phase_mark(p, PHASE_FOLD);
    if (f == FAIL_NONE) f = pipeline_finish(p, err);
    phase_mark(p, PHASE_STATEMENTS);
    if (copying) f = finish_copies(p, f, err);
    if (f == FAIL_NONE) batch_done(p);
    return f;
}

/* ------------------------------------------------------------ progress */

static void lag_text(projector *p, char *out, size_t out_size, int64_t *lag_total) {
    size_t used = 0;
    *lag_total = 0;
    out[0] = '\0';
    for (size_t i = 0; i < p->position_count && used < out_size; i++) {
        const sp_projection_position *pos = &p->positions[i];
        int64_t low = 0, high = 0;
        sp_error err;
        int n;
        if (sp_kafka_watermarks(p->consumer, pos->topic, pos->partition, &low, &high,
                                LAG_WATERMARK_TIMEOUT_MS, &err) != 0) {
            n = snprintf(out + used, out_size - used, "%s%s[%" PRId32 "]=?", used ? " " : "",
                         pos->topic, pos->partition);
        } else {
            int64_t lag = high > pos->next_offset ? high - pos->next_offset : 0;
            *lag_total += lag;
            n = snprintf(out + used, out_size - used, "%s%s[%" PRId32 "]=%" PRId64, used ? " " : "",
                         pos->topic, pos->partition, lag);
        }
        if (n < 0) break;
        used += (size_t)n;
    }
}

static void log_progress(projector *p) {
    char lag[LAG_TEXT_MAX], lag_total[NUMBER_TEXT_MAX], events[NUMBER_TEXT_MAX],
        applied[NUMBER_TEXT_MAX], duplicates[NUMBER_TEXT_MAX], stale[NUMBER_TEXT_MAX],
        no_ops[NUMBER_TEXT_MAX], dead[NUMBER_TEXT_MAX], batches[NUMBER_TEXT_MAX],
        mean[NUMBER_TEXT_MAX], recoveries[NUMBER_TEXT_MAX];
    int64_t total_lag = 0;
    lag_text(p, lag, sizeof lag, &total_lag);
    i64_text(total_lag, lag_total);
    i64_text(p->total.events, events);
    i64_text(p->total.applied, applied);
    i64_text(p->total.duplicates, duplicates);
    i64_text(p->total.stale, stale);
    i64_text(p->total.no_ops, no_ops);
    i64_text(p->total.dead_letters, dead);
    i64_text(p->total.batches, batches);
    i64_text(p->total.batches > 0 ? p->total.events / p->total.batches : 0, mean);
    i64_text(p->recoveries, recoveries);
    sp_log_info(p->log, "progress", "lag_total", lag_total, "lag", lag, "events", events, "applied",
                applied, "skipped_duplicate", duplicates, "skipped_version", stale, "no_op", no_ops,
                "dead_letters", dead, "batches", batches, "mean_batch", mean, "recoveries",
                recoveries, NULL);
}

/* A replay's progress: what is done, its rate, what is left to its targets
 * and when, at this rate, it will be done. */
static void log_shadow_progress(projector *p) {
    int64_t left = sp_projection_backlog(p->positions, p->position_count);
    int64_t done = p->backlog_at_start > left ? p->backlog_at_start - left : 0;
    int64_t elapsed_ms = sp_clock_monotonic_ms() - p->started_ms;
    int64_t rate = elapsed_ms > 0 ? done * 1000 / elapsed_ms : 0;
    char events[NUMBER_TEXT_MAX], per_s[NUMBER_TEXT_MAX], lag[NUMBER_TEXT_MAX],
        eta[NUMBER_TEXT_MAX], elapsed[NUMBER_TEXT_MAX];
    i64_text(done, events);
    i64_text(rate, per_s);
    i64_text(left, lag);
    i64_text(rate > 0 ? (left + rate - 1) / rate : (left > 0 ? -1 : 0), eta);
    i64_text(elapsed_ms, elapsed);
    sp_log_info(p->log, "replay progress", "schema", p->options->schema, "events", events,
                "events_per_s", per_s, "lag", lag, "eta_s", eta, "elapsed_ms", elapsed, NULL);
}

static void log_shadow_phases(projector *p) {
    log_shadow_progress(p);
    char ms[PHASE_COUNT][NUMBER_TEXT_MAX], batches[NUMBER_TEXT_MAX];
    for (int i = 0; i < PHASE_COUNT; i++) i64_text(p->phase_ms[i], ms[i]);
    i64_text(p->total.batches, batches);
    sp_log_info(p->log, "replay shadow phases", "batches", batches, "read_log_ms", ms[PHASE_READ],
                "fold_and_send_ms", ms[PHASE_FOLD], "statements_ms", ms[PHASE_STATEMENTS],
                "copy_ms", ms[PHASE_COPY], "commit_ms", ms[PHASE_COMMIT], NULL);
}

static void note_caught_up(projector *p) {
    if (p->caught_up || !sp_projection_caught_up(p->positions, p->position_count)) return;
    p->caught_up = true;
    int64_t elapsed_ms = sp_clock_monotonic_ms() - p->started_ms;
    char events[NUMBER_TEXT_MAX], elapsed[NUMBER_TEXT_MAX], rate[NUMBER_TEXT_MAX];
    i64_text(p->total.events, events);
    i64_text(elapsed_ms, elapsed);
    i64_text(elapsed_ms > 0 ? p->total.events * 1000 / elapsed_ms : p->total.events, rate);
    sp_log_info(p->log, "caught up", "rebuild", p->options->rebuild ? "true" : "false", "events",
                events, "elapsed_ms", elapsed, "events_per_s", rate, NULL);
}

/* ------------------------------------------------------------ the loop */

/* Remembers the event the database refused so that the retry dead-letters
 * it before SQL; -1 when that cannot lead anywhere new. */
static int note_refused(projector *p, const sp_error *cause, sp_error *err) {
    if (p->copy_refused || (p->failed_statement < p->statement_count &&
                            p->statements[p->failed_statement].kind == STMT_FOLD)) {
        p->copy_refused = false;
        p->fold_off = true; /* the batch again event by event: the refused one is found */
        return 0;
    }
    if (p->failed_statement >= p->statement_count ||
        (p->statements[p->failed_statement].kind != STMT_EVENT &&
         p->statements[p->failed_statement].kind != STMT_FIGURES)) {
        *err = *cause; /* the offsets or COMMIT refused: not an event's fault */
        return -1;
    }
    const statement_tag *tag = &p->statements[p->failed_statement];
    dead_letter_key key = {.position = tag->position, .offset = tag->offset};
    for (size_t i = 0; i < p->refused_count; i++)
        if (p->refused[i].key.position == key.position && p->refused[i].key.offset == key.offset)
            return sp_error_set(err, 500, "database_error", "",
                                "refused again after being "
                                "dead-lettered: %s",
                                cause->message);
    if (p->refused_count == REFUSED_MAX)
        return sp_error_set(err, 500, "database_error", "",
                            "more than %d events refused by "
                            "the database: %s",
                            REFUSED_MAX, cause->message);
    refused_event *r = &p->refused[p->refused_count++];
    r->key = key;
    snprintf(r->reason, sizeof r->reason, "%s", cause->message);
    return 0;
}

/* After a failed batch: a fresh connection and a consumer from the stored
 * offsets (the batch rolled back, or committed if only its answer was lost). */
static int recover(projector *p, failure f, int transient_in_a_row, const sp_error *cause,
                   sp_error *err) {
    p->recoveries++;
    if (f == FAIL_DATA && note_refused(p, cause, err) != 0) return -1;
    sp_log_warn(p->log,
                f == FAIL_DATA ? "database refused an event, applying the batch again "
                                 "without it"
                               : "batch failed, reconnecting",
                "code", cause->code, "error", cause->message, NULL);
    detach(p);
    int64_t backoff_ms = f == FAIL_DATA ? 0 : 100 * (int64_t)transient_in_a_row;
    sp_clock_sleep_ms(backoff_ms < RECOVERY_BACKOFF_MS_MAX ? backoff_ms : RECOVERY_BACKOFF_MS_MAX);
    return attach(p, false, err);
}

static int run_loop(projector *p, sp_error *err) {
    int transient_in_a_row = 0;
    note_caught_up(p);
    while (!*p->stop && !(p->options->exit_when_caught_up && p->caught_up)) {
        if (sp_clock_monotonic_ms() >= p->next_progress_ms) {
            if (p->options->schema != NULL) log_shadow_progress(p);
            else log_progress(p);
            p->next_progress_ms = sp_clock_monotonic_ms() + p->progress_ms;
        }
        sp_error cause;
        sp_error_clear(&cause);
        failure f = apply_pipelined(p, &cause);
        if (f == FAIL_NONE) {
            transient_in_a_row = 0;
            note_caught_up(p);
            continue;
        }
        /* A refusal is progress (one more event known); a transient failure is not. */
        if (f == FAIL_FATAL || (f == FAIL_TRANSIENT && ++transient_in_a_row > RECOVERIES_MAX)) {
            *err = cause;
            return -1;
        }
        if (recover(p, f, transient_in_a_row, &cause, err) != 0) return -1;
    }
    if (p->options->schema != NULL) log_shadow_phases(p);
    else log_progress(p);
    return 0;
}

static int start(projector *p, sp_error *err) {
    p->msgs = calloc(SP_KAFKA_BATCH_MAX, sizeof *p->msgs);
    p->row_buf = malloc(SP_PROJECTION_ROW_BYTES_MAX);
    p->batch_events_max = p->options->batch_events_max > 0 ? p->options->batch_events_max
                                                           : SP_PROJECTION_TXN_EVENTS_MAX;
    p->statements = calloc(STATEMENTS_MAX(p->batch_events_max), sizeof *p->statements);
    p->batch_msgs = calloc(p->batch_events_max, sizeof *p->batch_msgs);
    p->batch_copies = calloc(p->batch_events_max, sizeof *p->batch_copies);
    p->fold = sp_projection_fold_new_sized(p->batch_events_max);
    if (!p->msgs || !p->row_buf || !p->statements || !p->batch_msgs || !p->batch_copies || !p->fold)
        return sp_error_set(err, 500, "out_of_memory", "", "projection buffers");
    bool shadow = p->options->schema != NULL;
    assert(!shadow || (!p->options->rebuild && p->options->exit_when_caught_up));
    /* Only a shadow's tables are fresh and its own: the live ones keep
     * their batches and their statements. */
    assert(shadow || (p->options->batch_events_max == 0 && !p->options->copy_new_rows));
    if (!shadow) {
        p->producer = sp_kafka_producer_new(p->options->brokers, PROJECTION_CLIENT_ID, p->log, err);
        if (p->producer == NULL) return -1;
    }
    if (init_positions(p, err) != 0 || pg_open(p, err) != 0 ||
        (!shadow && sp_pg_migrate(p->conn, p->options->migrations_dir, p->log, err) != 0))
        return -1;
    if (p->options->rebuild && rebuild(p, err) != 0) return -1;
    p->started_ms = sp_clock_monotonic_ms();
    p->progress_ms = p->options->progress_ms > 0 ? p->options->progress_ms
                     : shadow                    ? SHADOW_PROGRESS_MS_DEFAULT
                                                 : PROGRESS_LOG_MS;
    p->next_progress_ms = p->started_ms + p->progress_ms;
    return attach(p, true, err);
}

int sp_projection_run(const sp_projection_options *options, sp_clock *clock, sp_log *log,
                      const volatile sig_atomic_t *stop, sp_error *err) {
    assert(options != NULL && clock != NULL && log != NULL && stop != NULL);
    projector *p = calloc(1, sizeof *p);
    if (p == NULL) return sp_error_set(err, 500, "out_of_memory", "", "projector");
    p->options = options;
    p->clock = clock;
    p->log = log;
    p->stop = stop;
    int rc = start(p, err);
    if (rc == 0) p->backlog_at_start = sp_projection_backlog(p->positions, p->position_count);
    if (rc == 0) {
        char partitions[NUMBER_TEXT_MAX], backlog[NUMBER_TEXT_MAX];
        i64_text((int64_t)p->position_count, partitions);
        i64_text(sp_projection_backlog(p->positions, p->position_count), backlog);
        sp_log_info(log, options->schema != NULL ? "replay started" : "ready", "partitions",
                    partitions, "backlog", backlog, NULL);
        rc = run_loop(p, err);
    }
    detach(p);
    sp_kafka_producer_free(p->producer);
    free(p->msgs);
    free(p->row_buf);
    free(p->statements);
    batch_free_copies(p);
    free(p->batch_msgs);
    free(p->batch_copies);
    sp_projection_fold_free(p->fold);
    free(p);
    return rc;
}

/* ------------------------------------------------------------ checksum */

/* Renderings that do not depend on the session's settings (the checksums
 * hash values, not text; a reader of the shadow may compare rows). */
int sp_projection_checksum_settings(PGconn *conn, sp_error *err) {
    static const char *const settings[] = {"SET TimeZone = 'UTC'", "SET DateStyle = 'ISO, YMD'",
                                           "SET bytea_output = 'hex'",
                                           "SET IntervalStyle = 'postgres'",
                                           "SET extra_float_digits = 1"};
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
        if (sp_pg_command(conn, settings[i], err) != 0) return -1;
    return 0;
}

int sp_projection_table_checksum(PGconn *conn, const sp_projection_table *table,
                                 char md5_out[SP_PROJECTION_MD5_TEXT_LEN + 1], sp_error *err) {
    char sql[SP_PROJECTION_SQL_BYTES_MAX];
    PGresult *res = NULL;
    sp_projection_checksum_sql(table, NULL, sql, sizeof sql);
    if (sp_pg_exec(conn, sql, 0, NULL, &res, err) != 0) return -1;
    assert(PQntuples(res) == 1 && PQgetlength(res, 0, 0) == SP_PROJECTION_MD5_TEXT_LEN);
    snprintf(md5_out, SP_PROJECTION_MD5_TEXT_LEN + 1, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

static int checksum_lines(PGconn *conn, char *lines, size_t lines_size, sp_error *err) {
    size_t used = 0;
    for (size_t i = 0; i < sp_projection_table_count; i++) {
        char md5[SP_PROJECTION_MD5_TEXT_LEN + 1];
        if (sp_projection_table_checksum(conn, &sp_projection_tables[i], md5, err) != 0) return -1;
        int n = snprintf(lines + used, lines_size - used, "%s=%s\n", sp_projection_tables[i].name,
                         md5);
        assert(n > 0 && (size_t)n < lines_size - used);
        used += (size_t)n;
    }
    return 0;
}

int sp_projection_checksum(const char *pg_dsn, FILE *out, sp_log *log, sp_error *err) {
    assert(pg_dsn != NULL && out != NULL);
    int rc = -1;
    char lines[SP_PROJECTION_SQL_BYTES_MAX * 4];
    PGresult *res = NULL;
    PGconn *conn = sp_pg_connect(pg_dsn, PG_CONNECT_WAIT_MS, log, err);
    if (conn == NULL) return -1;
    if (sp_projection_checksum_settings(conn, err) != 0 ||
        sp_pg_command(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err) != 0 ||
        checksum_lines(conn, lines, sizeof lines, err) != 0)
        goto done;
    const char *params[1] = {lines};
    if (sp_pg_exec(conn, "SELECT md5($1::text)", 1, params, &res, err) != 0) goto done;
    if (fprintf(out, "%sall=%s\n", lines, PQgetvalue(res, 0, 0)) < 0 || fflush(out) != 0) {
        sp_error_set(err, 500, "output_failed", "", "cannot write the checksum");
        goto done;
    }
    rc = 0;
done:
    PQclear(res);
    PQfinish(conn);
    return rc;
}
