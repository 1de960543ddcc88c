/* service.c - the exports service's Kafka and PostgreSQL edges: commands
 * into the exports table and replies, builds between polls, and the purge
 * of expired exports (see service.h). */
#include "service.h"

#include <assert.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "build.h"
#include "exports.pb-c.h"
#include "sp_export_request.h"
#include "reply.pb-c.h"
#include "sp_clock.h"
#include "sp_envelope.h"
#include "sp_id.h"
#include "sp_kafka.h"
#include "sp_pg.h"
#include "sp_service.h"

#define POLL_IDLE_MS 100
#define PG_WAIT_MS 30000
#define FLUSH_TIMEOUT_MS 10000
#define BATCH_TRIES_MAX 120 /* one per second: PostgreSQL away for two minutes is fatal */
#define PICK_IDLE_MS 200    /* how often the pending exports are looked for */
#define TYPE_REQUEST "exports.RequestExport.v1"
#define TYPE_DELETE "exports.DeleteExport.v1"
#define REPLY_TEXT_MAX 256

typedef struct service {
    const sp_exports_config *config;
    sp_log *log;
    sp_clock *clock;
    PGconn *pg;       /* commands and purge */
    PGconn *build_pg; /* the build's long read transaction */
    sp_kafka_producer *producer;
    sp_kafka_consumer *consumer;
    sp_kafka_msg *msgs;     /* SP_KAFKA_BATCH_MAX */
    sp_export_build *build; /* the export being built, NULL when none */
    sp_service_readiness readiness;
    int64_t next_pick_ms;  /* monotonic */
    int64_t next_purge_ms; /* monotonic */
} service;

/* What a command comes to: the reply's fields. */
typedef struct outcome {
    bool ok;
    bool replayed;
    int http_status;
    char code[SP_ERROR_CODE_MAX];
    char message[SP_ERROR_MESSAGE_MAX];
    char field[SP_ERROR_FIELD_MAX];
} outcome;

static void refuse(outcome *out, const sp_error *why) {
    out->ok = false;
    out->http_status = why->http_status;
    snprintf(out->code, sizeof out->code, "%s", why->code);
    snprintf(out->message, sizeof out->message, "%s", why->message);
    snprintf(out->field, sizeof out->field, "%s", why->field);
}

static void accept_with(outcome *out, int http_status, bool replayed) {
    out->ok = true;
    out->http_status = http_status;
    out->replayed = replayed;
}

/* ------------------------------------------------------------------ requests */

/* clang-format off */
/* The actor must be a (not removed) user of the partner it acts for: the
 * gateway checked the session, and a command that got here otherwise is
 * refused as the gateway would have. */
static const char actor_sql[] =
    "SELECT 1 FROM users WHERE user_id = $1::uuid AND partner_id = $2::uuid"
    " AND removed_at IS NULL AND role IN ('partner_admin', 'partner_user')";
/* clang-format on */

/* 0 with *ok; -1 only when the database fails. */
static int actor_of_partner(service *svc, const char *actor_id, const char *partner_id, bool *ok,
                            sp_error *err) {
    *ok = false;
    if (!sp_id_valid(actor_id) || !sp_id_valid(partner_id)) return 0;
    const char *params[2] = {actor_id, partner_id};
    PGresult *res = NULL;
    if (sp_pg_exec(svc->pg, actor_sql, 2, params, &res, err) != 0) return -1;
    *ok = PQntuples(res) == 1;
    PQclear(res);
    return 0;
}

static void refuse_actor(outcome *out) {
    sp_error why;
    sp_error_set(&why, 403, "forbidden", "", "the actor is not a user of this partner");
    refuse(out, &why);
}

/* clang-format off */
static const char insert_sql[] =
    "INSERT INTO exports (export_id, partner_id, requested_by, command_id, kind, filters, status,"
    " file_name, requested_at, expires_at) VALUES ($1::uuid, $2::uuid, $3::uuid, $4, $5,"
    " $6::jsonb, 'pending', $1 || '.csv',"
    " timestamptz 'epoch' + $7::bigint * interval '1 millisecond',"
    " timestamptz 'epoch' + $7::bigint * interval '1 millisecond'"
    " + $8::bigint * interval '1 second')"
    " ON CONFLICT (export_id) DO NOTHING";

/* The same id again: the same partner, user, kind and filters is the first
 * request (idempotency); anything else is another request under that key. */
static const char same_sql[] =
    "SELECT partner_id = $2::uuid AND requested_by = $3::uuid AND kind = $4"
    " AND filters = $5::jsonb FROM exports WHERE export_id = $1::uuid";

/* Exports a partner keeps or waits for (pending, ready), this id aside,
 * and whether this id is known already (a request sent again). */
static const char quota_sql[] =
    "SELECT count(*) FILTER (WHERE status IN ('pending', 'ready') AND export_id <> $2::uuid),"
    " EXISTS (SELECT 1 FROM exports WHERE export_id = $2::uuid)"
    " FROM exports WHERE partner_id = $1::uuid";
/* clang-format on */

/* 0 with *full when the partner has its SP_EXPORTS_PER_PARTNER_MAX exports
 * and this is a new request; a request sent again is answered as before. */
static int quota_full(service *svc, const char *partner_id, const char *export_id, bool *full,
                      sp_error *err) {
    const char *params[2] = {partner_id, export_id};
    PGresult *res = NULL;
    if (sp_pg_exec(svc->pg, quota_sql, 2, params, &res, err) != 0) return -1;
    int64_t kept = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    bool known = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    PQclear(res);
    *full = !known && kept >= svc->config->per_partner_max;
    return 0;
}

static void refuse_quota(service *svc, outcome *out) {
    sp_error why;
    sp_error_set(&why, 429, "too_many_exports", "",
                 "this partner already has %" PRId64 " exports kept or in progress: delete one "
                 "or wait until one expires",
                 svc->config->per_partner_max);
    refuse(out, &why);
}

/* The command's filters, checked again (the topic is input like any
 * other), in their canonical text. */
static int request_check(const Solipass__Exports__RequestExport *cmd, const char *actor_id,
                         char **canonical, sp_error *err) {
    sp_export_kind kind = 0;
    if (!sp_id_valid(cmd->export_id) || !sp_id_valid(cmd->partner_id) || !sp_id_valid(actor_id)) {
        return sp_error_set(err, 400, "invalid_value", "export_id",
                            "export, partner and actor ids must be uuids");
    }
    if (!sp_export_kind_parse(cmd->kind, &kind)) {
        return sp_error_set(err, 400, "invalid_value", "kind",
                            "kind must be operations or refund_requests");
    }
    json_error_t jerr;
    json_t *filters = json_loads(cmd->filters_json, JSON_REJECT_DUPLICATES, &jerr);
    sp_export_request request;
    int rc = filters != NULL
                 ? sp_export_filters_parse(kind, filters, &request, err)
                 : sp_error_set(err, 422, "invalid_filter", "filters", "filters_json is not JSON");
    json_decref(filters);
    json_t *shown = rc == 0 ? sp_export_filters_json(&request) : NULL;
    *canonical = shown != NULL ? json_dumps(shown, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(shown);
    if (rc == 0 && *canonical == NULL) rc = sp_error_set(err, 500, "out_of_memory", "", "filters");
    return rc;
}

static int on_request(service *svc, const Solipass__Envelope *env, outcome *out, sp_error *err) {
    Solipass__Exports__RequestExport *cmd = solipass__exports__request_export__unpack(
        NULL, env->payload.len, env->payload.data);
    sp_error why;
    char *filters = NULL;
    if (cmd == NULL) {
        sp_error_set(&why, 400, "invalid_value", "", "the payload is not a RequestExport");
        refuse(out, &why);
        return 0;
    }
    bool actor_ok = false, full = false;
    int rc = 0;
    if (request_check(cmd, env->actor_id, &filters, &why) != 0) {
        refuse(out, &why);
    } else if ((rc = actor_of_partner(svc, env->actor_id, cmd->partner_id, &actor_ok, err)) != 0 ||
               !actor_ok) {
        if (rc == 0) refuse_actor(out);
    } else if ((rc = quota_full(svc, cmd->partner_id, cmd->export_id, &full, err)) != 0 || full) {
        if (rc == 0) refuse_quota(svc, out);
    } else {
        char now[24], retention[24];
        snprintf(now, sizeof now, "%" PRId64, sp_clock_now_ms(svc->clock));
        snprintf(retention, sizeof retention, "%" PRId64, svc->config->retention_s);
        const char *params[8] = {cmd->export_id, cmd->partner_id, env->actor_id, env->command_id,
                                 cmd->kind,      filters,         now,           retention};
        PGresult *res = NULL;
        rc = sp_pg_exec(svc->pg, insert_sql, 8, params, &res, err);
        bool inserted = rc == 0 && strcmp(PQcmdTuples(res), "1") == 0;
        PQclear(res);
        res = NULL;
        const char *same_params[5] = {cmd->export_id, cmd->partner_id, env->actor_id, cmd->kind,
                                      filters};
        if (rc == 0 && !inserted) rc = sp_pg_exec(svc->pg, same_sql, 5, same_params, &res, err);
        if (rc == 0 && (inserted || strcmp(PQgetvalue(res, 0, 0), "t") == 0)) {
            accept_with(out, 202, !inserted);
            if (inserted) svc->next_pick_ms = 0; /* look for it at once */
        } else if (rc == 0) {
            sp_error_set(&why, 409, "idempotency_conflict", "Idempotency-Key",
                         "this key already asked for another export");
            refuse(out, &why);
        }
        PQclear(res);
    }
    free(filters);
    solipass__exports__request_export__free_unpacked(cmd, NULL);
    return rc;
}

/* ------------------------------------------------------------------ deletions */

/* clang-format off */
static const char delete_sql[] =
    "UPDATE exports SET status = 'deleted',"
    " deleted_at = timestamptz 'epoch' + $3::bigint * interval '1 millisecond'"
    " WHERE export_id = $1::uuid AND partner_id = $2::uuid"
    " AND status IN ('pending', 'ready', 'failed') RETURNING export_id";

static const char status_sql[] =
    "SELECT status FROM exports WHERE export_id = $1::uuid AND partner_id = $2::uuid";
/* clang-format on */

/* Its file goes with it: the one being built, or the finished one. */
static void remove_files(service *svc, const char *export_id) {
    if (svc->build != NULL && strcmp(sp_export_build_id(svc->build), export_id) == 0) {
        sp_export_build_abandon(svc->build);
        sp_export_build_free(svc->build);
        svc->build = NULL;
    }
    char path[SP_EXPORT_PATH_MAX];
    if (sp_export_path(svc->config->dir, export_id, false, path)) unlink(path);
}

static int delete_outcome(service *svc, const Solipass__Exports__DeleteExport *cmd, outcome *out,
                          sp_error *err) {
    const char *params[2] = {cmd->export_id, cmd->partner_id};
    PGresult *res = NULL;
    if (sp_pg_exec(svc->pg, status_sql, 2, params, &res, err) != 0) return -1;
    const char *status = PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "";
    sp_error why;
    if (strcmp(status, "deleted") == 0) {
        accept_with(out, 200, true);
    } else if (strcmp(status, "expired") == 0) {
        sp_error_set(&why, 410, "export_expired", "", "this export has expired and was purged");
        refuse(out, &why);
    } else {
        sp_error_set(&why, 404, "export_not_found", "export_id", "no export has this id");
        refuse(out, &why);
    }
    PQclear(res);
    return 0;
}

static int on_delete(service *svc, const Solipass__Envelope *env, outcome *out, sp_error *err) {
    Solipass__Exports__DeleteExport *cmd = solipass__exports__delete_export__unpack(
        NULL, env->payload.len, env->payload.data);
    sp_error why;
    if (cmd == NULL || !sp_id_valid(cmd->export_id) || !sp_id_valid(cmd->partner_id)) {
        sp_error_set(&why, 404, "export_not_found", "export_id", "no export has this id");
        refuse(out, &why);
        if (cmd != NULL) solipass__exports__delete_export__free_unpacked(cmd, NULL);
        return 0;
    }
    bool actor_ok = false;
    int rc = actor_of_partner(svc, env->actor_id, cmd->partner_id, &actor_ok, err);
    if (rc != 0 || !actor_ok) {
        if (rc == 0) refuse_actor(out);
        solipass__exports__delete_export__free_unpacked(cmd, NULL);
        return rc;
    }
    char now[24];
    snprintf(now, sizeof now, "%" PRId64, sp_clock_now_ms(svc->clock));
    const char *params[3] = {cmd->export_id, cmd->partner_id, now};
    PGresult *res = NULL;
    rc = sp_pg_exec(svc->pg, delete_sql, 3, params, &res, err);
    if (rc == 0 && PQntuples(res) == 1) {
        remove_files(svc, cmd->export_id);
        accept_with(out, 200, false);
    } else if (rc == 0) {
        rc = delete_outcome(svc, cmd, out, err);
    }
    PQclear(res);
    solipass__exports__delete_export__free_unpacked(cmd, NULL);
    return rc;
}

/* ------------------------------------------------------------------ replies */

static int send_reply(service *svc, const Solipass__Envelope *env, const outcome *out,
                      sp_error *err) {
    Solipass__Reply reply = SOLIPASS__REPLY__INIT;
    reply.ok = out->ok;
    reply.code = (char *)out->code;
    reply.message = (char *)out->message;
    reply.field = (char *)out->field;
    reply.result_json = (char *)"{}";
    reply.replayed = out->replayed;
    reply.http_status = out->http_status;
    sp_envelope_meta meta = {.type = "Reply.v1",
                             .aggregate_id = env->reply_to,
                             .occurred_at_ms = sp_clock_now_ms(svc->clock),
                             .command_id = env->command_id,
                             .causation_id = env->id,
                             .reply_to = "",
                             .actor_id = env->actor_id};
    return sp_envelope_produce(svc->producer, SP_TOPIC_REPLIES, RD_KAFKA_PARTITION_UA, &meta,
                               &reply.base, NULL, NULL, err);
}

static int dead_letter(service *svc, const sp_kafka_msg *msg, const char *reason, sp_error *err) {
    sp_log_warn(svc->log, "command dead-lettered", "reason", reason, NULL);
    return sp_deadletter_send(svc->producer, msg, SP_EXPORTS_SERVICE_NAME, reason,
                              sp_clock_now_ms(svc->clock), err);
}

static int handle_message(service *svc, const sp_kafka_msg *msg, sp_error *err) {
    sp_error why;
    Solipass__Envelope *env = sp_envelope_unpack(msg->value, msg->value_len, &why);
    if (env == NULL) return dead_letter(svc, msg, why.message, err);
    outcome out;
    memset(&out, 0, sizeof out);
    int rc = 0;
    bool request = strcmp(env->type, TYPE_REQUEST) == 0;
    if (!request && strcmp(env->type, TYPE_DELETE) != 0) {
        rc = dead_letter(svc, msg, "not a command of the exports service", err);
    } else {
        rc = request ? on_request(svc, env, &out, err) : on_delete(svc, env, &out, err);
        if (rc == 0 && env->reply_to[0] != '\0') rc = send_reply(svc, env, &out, err);
    }
    solipass__envelope__free_unpacked(env, NULL);
    return rc;
}

/* Rows are committed (autocommit, one statement each) before the replies
 * are flushed, and the replies before the offsets: a redelivered command
 * finds its row and is answered the same. */
static int process_batch_once(service *svc, size_t count, sp_error *err) {
    for (size_t i = 0; i < count; i++) {
        if (handle_message(svc, &svc->msgs[i], err) != 0) return -1;
    }
    if (sp_kafka_producer_flush(svc->producer, FLUSH_TIMEOUT_MS, err) != 0) return -1;
    return sp_kafka_consumer_commit(svc->consumer, svc->msgs, count, err);
}

static int reconnect(service *svc, sp_error *err) {
    if (svc->build != NULL) {
        sp_export_build_abandon(svc->build); /* pending still: built again from the start */
        sp_export_build_free(svc->build);
        svc->build = NULL;
    }
    PQfinish(svc->pg);
    PQfinish(svc->build_pg);
    svc->build_pg = NULL;
    svc->pg = sp_pg_connect(svc->config->pg_dsn, 1000, svc->log, err);
    if (svc->pg != NULL) svc->build_pg = sp_pg_connect(svc->config->pg_dsn, 1000, svc->log, err);
    return svc->pg != NULL && svc->build_pg != NULL ? 0 : -1;
}

static int process_batch(service *svc, size_t count, volatile sig_atomic_t *stop, sp_error *err) {
    for (int tries = 0; tries < BATCH_TRIES_MAX && !*stop; tries++) {
        if (svc->pg != NULL && svc->build_pg != NULL && process_batch_once(svc, count, err) == 0) {
            return 0;
        }
        sp_log_warn(svc->log, "cannot handle the batch of commands: trying again", "detail",
                    err->message, NULL);
        struct timespec pause = {.tv_sec = 1, .tv_nsec = 0};
        nanosleep(&pause, NULL);
        reconnect(svc, err);
    }
    if (*stop) return 0;
    return sp_error_set(err, 503, "unavailable", "", "the commands could not be handled %d times",
                        BATCH_TRIES_MAX);
}

/* ------------------------------------------------------------------ builds and purge */

static int build_tick(service *svc, sp_error *err) {
    if (svc->build == NULL) {
        if (sp_clock_monotonic_ms() < svc->next_pick_ms) return 0;
        svc->next_pick_ms = sp_clock_monotonic_ms() + PICK_IDLE_MS;
        return sp_export_build_next(svc->build_pg, svc->config->dir, svc->config->rows_max,
                                    svc->config->batch_rows, svc->log, &svc->build, err);
    }
    sp_export_step step = SP_EXPORT_STEP_MORE;
    int rc = sp_export_build_step(svc->build, sp_clock_now_ms(svc->clock), &step, err);
    if (step != SP_EXPORT_STEP_MORE) {
        sp_export_build_free(svc->build);
        svc->build = NULL;
        svc->next_pick_ms = 0; /* the next one at once */
    }
    return rc;
}

/* clang-format off */
static const char purge_sql[] =
    "UPDATE exports SET status = 'expired',"
    " expired_at = timestamptz 'epoch' + $1::bigint * interval '1 millisecond'"
    " WHERE export_id IN (SELECT export_id FROM exports"
    " WHERE status IN ('pending', 'ready', 'failed')"
    " AND expires_at <= timestamptz 'epoch' + $1::bigint * interval '1 millisecond'"
    " ORDER BY expires_at LIMIT $2::integer) RETURNING export_id";
/* clang-format on */

static int purge(service *svc, sp_error *err) {
    char now[24], limit[16];
    snprintf(now, sizeof now, "%" PRId64, sp_clock_now_ms(svc->clock));
    snprintf(limit, sizeof limit, "%d", SP_EXPORTS_PURGE_BATCH_MAX);
    const char *params[2] = {now, limit};
    PGresult *res = NULL;
    if (sp_pg_exec(svc->pg, purge_sql, 2, params, &res, err) != 0) return -1;
    for (int i = 0; i < PQntuples(res); i++) {
        remove_files(svc, PQgetvalue(res, i, 0));
        sp_log_info(svc->log, "export expired", "export_id", PQgetvalue(res, i, 0), NULL);
    }
    PQclear(res);
    return 0;
}

static int tick(service *svc, sp_error *err) {
    if (sp_clock_monotonic_ms() >= svc->next_purge_ms) {
        svc->next_purge_ms = sp_clock_monotonic_ms() + svc->config->purge_ms;
        if (purge(svc, err) != 0) return -1;
    }
    return build_tick(svc, err);
}

/* ------------------------------------------------------------------ loop */

static int loop(service *svc, volatile sig_atomic_t *stop, sp_error *err) {
    while (!*stop) {
        /* While a file is being built, polls only take what is there. */
        int timeout_ms = svc->build != NULL ? 0 : POLL_IDLE_MS;
        int n = sp_kafka_consumer_poll_batch(svc->consumer, svc->msgs, SP_KAFKA_BATCH_MAX,
                                             timeout_ms, err);
        if (n < 0) return -1;
        if (n > 0 && process_batch(svc, (size_t)n, stop, err) != 0) return -1;
        if (svc->pg != NULL && svc->build_pg != NULL && tick(svc, err) == 0) continue;
        if (svc->pg != NULL && svc->build_pg != NULL) {
            sp_log_warn(svc->log, "cannot build or purge now", "detail", err->message, NULL);
        }
        struct timespec pause = {.tv_sec = 1, .tv_nsec = 0};
        nanosleep(&pause, NULL);
        reconnect(svc, err);
    }
    sp_log_info(svc->log, "stopping", NULL);
    return 0;
}

/* Temporary files left by a build that a crash cut short. */
static void remove_leftovers(service *svc) {
    PGresult *res = NULL;
    sp_error err;
    if (sp_pg_exec(svc->pg, "SELECT export_id FROM exports WHERE status = 'pending'", 0, NULL, &res,
                   &err) != 0) {
        return;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        char path[SP_EXPORT_PATH_MAX];
        if (sp_export_path(svc->config->dir, PQgetvalue(res, i, 0), true, path)) unlink(path);
    }
    PQclear(res);
}

static int start(service *svc, sp_error *err) {
    svc->msgs = calloc(SP_KAFKA_BATCH_MAX, sizeof *svc->msgs);
    if (svc->msgs == NULL) return sp_error_set(err, 500, "out_of_memory", "", "buffers");
    if (access(svc->config->dir, W_OK | X_OK) != 0) {
        return sp_error_set(err, 500, "invalid_config", "SP_EXPORTS_DIR",
                            "SP_EXPORTS_DIR %s is not a folder this service can write to",
                            svc->config->dir);
    }
    svc->pg = sp_pg_connect(svc->config->pg_dsn, PG_WAIT_MS, svc->log, err);
    if (svc->pg == NULL) return -1;
    if (sp_pg_migrate(svc->pg, svc->config->migrations_dir, svc->log, err) != 0) return -1;
    svc->build_pg = sp_pg_connect(svc->config->pg_dsn, PG_WAIT_MS, svc->log, err);
    if (svc->build_pg == NULL) return -1;
    remove_leftovers(svc);
    svc->producer = sp_kafka_producer_new(svc->config->brokers, SP_EXPORTS_GROUP_ID, svc->log, err);
    if (svc->producer == NULL) return -1;
    const char *const topics[] = {SP_TOPIC_EXPORTS_COMMANDS};
    svc->consumer = sp_kafka_consumer_new_group(svc->config->brokers, SP_EXPORTS_GROUP_ID, topics,
                                                1, sp_service_on_assigned, NULL, &svc->readiness,
                                                svc->log, err);
    return svc->consumer != NULL ? 0 : -1;
}

int sp_exports_service_run(const sp_exports_config *config, sp_log *log, sp_clock *clock,
                           volatile sig_atomic_t *stop, sp_error *err) {
    assert(config != NULL && log != NULL && clock != NULL && stop != NULL);
    assert(config->retention_s > 0 && config->purge_ms > 0 && config->rows_max > 0 &&
           config->batch_rows > 0);
    service *svc = calloc(1, sizeof *svc);
    if (svc == NULL) return sp_error_set(err, 500, "out_of_memory", "", "service");
    svc->config = config;
    svc->log = log;
    svc->readiness.log = log;
    svc->clock = clock;
    int rc = start(svc, err);
    if (rc == 0) rc = loop(svc, stop, err);
    if (svc->build != NULL) sp_export_build_abandon(svc->build);
    sp_export_build_free(svc->build);
    sp_kafka_consumer_free(svc->consumer);
    sp_kafka_producer_free(svc->producer);
    PQfinish(svc->build_pg);
    PQfinish(svc->pg);
    free(svc->msgs);
    free(svc);
    return rc;
}
