/* imports.c - enrolment runs from a CSV file: the table of runs, their
 * worker threads, and the three commands each line sends (see imports.h). */
#include "imports.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.pb-c.h"
#include "commands.h"
#include "json_limits.h"
#include "ledger.pb-c.h"
#include "sp_clock.h"
#include "sp_kafka.h"

typedef enum { JOB_FREE = 0, JOB_RUNNING, JOB_DONE } job_state;

typedef struct import_job {
    sp_gw_imports *owner;
    job_state state;
    char import_id[SP_ID_LEN + 1];
    sp_gw_import_spec spec;
    sp_gw_enrol_csv csv; /* rows read by the workers; problems under the lock */
    int64_t started_seq; /* which run is oldest */
    size_t next_row;     /* the next row a worker takes */
    size_t lines_done, enrolled, credited, skipped, failed;
    pthread_t workers[SP_GW_IMPORT_WORKERS];
    size_t worker_count; /* started, to join */
    size_t workers_live; /* not finished yet */
} import_job;

struct sp_gw_imports {
    sp_gw_app *app;
    pthread_mutex_t lock; /* guards everything below and each job's counters */
    bool stopping;
    int64_t seq;
    size_t running;
    import_job jobs[SP_GW_IMPORTS_KEPT_MAX];
};

/* What became of one line. */
typedef enum { LINE_ENROLLED, LINE_SKIPPED, LINE_FAILED } line_result;

typedef struct line_outcome {
    line_result result;
    bool credited; /* this run credited the pass */
    char code[SP_GW_ENROL_CSV_CODE_MAX + 1];
    char message[SP_GW_ENROL_CSV_MESSAGE_MAX + 1];
} line_outcome;

/* ------------------------------------------------------------------ one line */

static sp_envelope_meta line_meta(const sp_gw_app *app, const sp_gw_import_spec *spec,
                                  const char *type, const char *aggregate_id,
                                  const char *command_id) {
    return (sp_envelope_meta){.type = type,
                              .aggregate_id = aggregate_id,
                              .occurred_at_ms = sp_clock_now_ms(app->clock),
                              .command_id = command_id,
                              .causation_id = "",
                              .reply_to = "",
                              .actor_id = spec->actor_id,
                              .actor_role = spec->actor_role};
}

static void outcome_fail(line_outcome *out, const char *code, const char *what, const char *why) {
    out->result = LINE_FAILED;
    snprintf(out->code, sizeof out->code, "%s", code);
    snprintf(out->message, sizeof out->message, "%s (%s) : %s", what, code, why);
}

/* A reply that came but refused: the line failed, with the service's reason. */
static void outcome_refused(line_outcome *out, const Solipass__Reply *reply, const char *what) {
    outcome_fail(out, reply->code != NULL && reply->code[0] != '\0' ? reply->code : "refused", what,
                 "refusé par le service.");
}

/* No reply in time, or the log refused the command: sending the same file
 * again finishes the line. */
static void outcome_unanswered(line_outcome *out, const sp_error *err, const char *what) {
    outcome_fail(out, err->code, what,
                 "pas de réponse à temps ; renvoyez le même fichier pour terminer cette ligne, "
                 "rien ne sera fait deux fois.");
}

static int run_command(const sp_gw_app *app, const char *topic, const sp_envelope_meta *meta,
                       const ProtobufCMessage *payload, bool wait_projection,
                       Solipass__Reply **reply, sp_error *err) {
    int64_t deadline_ms = sp_gw_monotonic_ms() + app->config->command_timeout_ms;
    if (wait_projection)
        return sp_gw_commands_run(app->commands, app->projwait, topic, meta, payload, deadline_ms,
                                  reply, err);
    return sp_gw_commands_send(app->commands, topic, meta, payload, deadline_ms, reply, err);
}

/* The user and pass ids of a CreateBeneficiary's reply; false if absent. */
static bool created_ids(const Solipass__Reply *reply, char user_id[SP_ID_LEN + 1],
                        char pass_id[SP_ID_LEN + 1]) {
    json_error_t jerr;
    json_t *result = sp_gw_json_loads(reply->result_json != NULL ? reply->result_json : "",
                                      JSON_REJECT_DUPLICATES, &jerr);
    const char *user = json_string_value(json_object_get(result, "user_id"));
    const char *pass = json_string_value(json_object_get(result, "pass_id"));
    bool ok = sp_id_valid(user) && sp_id_valid(pass);
    if (ok) {
        snprintf(user_id, SP_ID_LEN + 1, "%s", user);
        snprintf(pass_id, SP_ID_LEN + 1, "%s", pass);
    }
    json_decref(result);
    return ok;
}

/* Step 1: the user, without a password. 0 with ids, or -1 with *out set. */
static int enrol(const sp_gw_app *app, const sp_gw_import_spec *spec, const sp_gw_enrol_row *row,
                 const char *command_id, char user_id[SP_ID_LEN + 1], char pass_id[SP_ID_LEN + 1],
                 bool *replayed, line_outcome *out) {
    Solipass__Accounts__CreateBeneficiary create = SOLIPASS__ACCOUNTS__CREATE_BENEFICIARY__INIT;
    create.email = (char *)row->email;
    create.password_hash = "";
    create.full_name = row->full_name;
    sp_envelope_meta meta = line_meta(app, spec, "accounts.CreateBeneficiary.v1", spec->actor_id,
                                      command_id);
    Solipass__Reply *reply = NULL;
    sp_error err;
    if (run_command(app, SP_TOPIC_ACCOUNTS_COMMANDS, &meta, &create.base, false, &reply, &err) !=
        0) {
        outcome_unanswered(out, &err, "Inscription non faite");
        return -1;
    }
    int rc = -1;
    if (!reply->ok && strcmp(reply->code, "email_taken") == 0) {
        out->result = LINE_SKIPPED;
        snprintf(out->code, sizeof out->code, "email_enrolled");
        snprintf(out->message, sizeof out->message,
                 "Un compte existe déjà avec cette adresse e-mail : la ligne est ignorée.");
    } else if (!reply->ok) {
        outcome_refused(out, reply, "Inscription refusée");
    } else if (!created_ids(reply, user_id, pass_id)) {
        outcome_fail(out, "internal_reply", "Inscription faite", "réponse sans identifiants.");
    } else {
        *replayed = reply->replayed;
        rc = 0;
    }
    solipass__reply__free_unpacked(reply, NULL);
    return rc;
}

/* Step 2: the pass with the run's one envelope (the enrolment's command id,
 * as POST /api/v1/beneficiaries uses its key for both). */
static int open_pass(const sp_gw_app *app, const sp_gw_import_spec *spec, const char *command_id,
                     const char *user_id, const char *pass_id, line_outcome *out) {
    Solipass__Ledger__EnvelopeSpec envelope = SOLIPASS__LEDGER__ENVELOPE_SPEC__INIT;
    envelope.category = (char *)spec->allocation.category;
    envelope.end_date = (char *)spec->allocation.end_date;
    Solipass__Ledger__EnvelopeSpec *envelopes[1] = {&envelope};
    Solipass__Ledger__OpenPass open = SOLIPASS__LEDGER__OPEN_PASS__INIT;
    open.pass_id = (char *)pass_id;
    open.beneficiary_id = (char *)user_id;
    open.n_envelopes = 1;
    open.envelopes = envelopes;
    sp_envelope_meta meta = line_meta(app, spec, "ledger.OpenPass.v1", pass_id, command_id);
    Solipass__Reply *reply = NULL;
    sp_error err;
    if (run_command(app, SP_TOPIC_LEDGER_COMMANDS, &meta, &open.base, false, &reply, &err) != 0) {
        outcome_unanswered(out, &err, "Pass non ouvert");
        return -1;
    }
    int rc = reply->ok ? 0 : -1;
    if (!reply->ok) outcome_refused(out, reply, "Pass non ouvert");
    solipass__reply__free_unpacked(reply, NULL);
    return rc;
}

/* Step 3: the credit, waited for until the read models show it. */
static int credit(const sp_gw_app *app, const sp_gw_import_spec *spec, const char *command_id,
                  const char *pass_id, line_outcome *out) {
    Solipass__Ledger__CreditPass credit_pass = SOLIPASS__LEDGER__CREDIT_PASS__INIT;
    credit_pass.pass_id = (char *)pass_id;
    credit_pass.category = (char *)spec->allocation.category;
    credit_pass.amount_cents = spec->allocation.amount_cents;
    sp_envelope_meta meta = line_meta(app, spec, "ledger.CreditPass.v1", pass_id, command_id);
    Solipass__Reply *reply = NULL;
    sp_error err;
    if (run_command(app, SP_TOPIC_LEDGER_COMMANDS, &meta, &credit_pass.base, true, &reply, &err) !=
        0) {
        outcome_unanswered(out, &err, "Pass non crédité");
        return -1;
    }
    int rc = reply->ok ? 0 : -1;
    if (!reply->ok) outcome_refused(out, reply, "Pass non crédité");
    else out->credited = !reply->replayed;
    solipass__reply__free_unpacked(reply, NULL);
    return rc;
}

static void run_line(const sp_gw_app *app, const sp_gw_import_spec *spec,
                     const sp_gw_enrol_row *row, line_outcome *out) {
    memset(out, 0, sizeof *out);
    char enrol_id[SP_GW_ENROL_COMMAND_ID_LEN + 1], credit_id[SP_GW_ENROL_COMMAND_ID_LEN + 1];
    sp_gw_enrol_command_id(spec->file_sha256, &spec->allocation, row->email, "enrol", enrol_id);
    sp_gw_enrol_command_id(spec->file_sha256, &spec->allocation, row->email, "credit", credit_id);
    char user_id[SP_ID_LEN + 1], pass_id[SP_ID_LEN + 1];
    bool replayed = false;
    if (enrol(app, spec, row, enrol_id, user_id, pass_id, &replayed, out) != 0) return;
    if (open_pass(app, spec, enrol_id, user_id, pass_id, out) != 0) return;
    if (credit(app, spec, credit_id, pass_id, out) != 0) return;
    /* Enrolled by an earlier upload of this file: nothing new but, maybe,
     * the credit that upload could not finish. */
    out->result = replayed ? LINE_SKIPPED : LINE_ENROLLED;
    if (replayed) {
        snprintf(out->code, sizeof out->code, "already_imported");
        snprintf(out->message, sizeof out->message,
                 "Déjà inscrit par un envoi précédent de ce fichier : rien n'est refait.");
    }
}

/* ------------------------------------------------------------------ workers */

static void record_outcome(import_job *job, const sp_gw_enrol_row *row, const line_outcome *o) {
    job->lines_done++;
    if (o->credited) job->credited++;
    if (o->result == LINE_ENROLLED) job->enrolled++;
    if (o->result == LINE_SKIPPED) job->skipped++;
    if (o->result == LINE_FAILED) job->failed++;
    if (o->code[0] != '\0')
        sp_gw_enrol_csv_problem_add(&job->csv, row->line, o->result == LINE_FAILED ? "" : "email",
                                    o->code, o->message);
}

static void *worker_main(void *arg) {
    import_job *job = arg;
    sp_gw_imports *imports = job->owner;
    pthread_mutex_lock(&imports->lock);
    /* Each pass of the loop handles one row: at most row_count passes. */
    while (!imports->stopping && job->next_row < job->csv.row_count) {
        const sp_gw_enrol_row *row = &job->csv.rows[job->next_row++];
        pthread_mutex_unlock(&imports->lock);
        line_outcome outcome;
        run_line(imports->app, &job->spec, row, &outcome);
        pthread_mutex_lock(&imports->lock);
        record_outcome(job, row, &outcome);
    }
    assert(job->workers_live > 0);
    if (--job->workers_live == 0) {
        job->state = JOB_DONE;
        imports->running--;
        char counts[96];
        snprintf(counts, sizeof counts, "%zu/%zu/%zu/%zu", job->enrolled, job->credited,
                 job->skipped, job->failed);
        sp_log_info(imports->app->log, "import_done", "import_id", job->import_id,
                    "enrolled_credited_skipped_failed", counts, NULL);
    }
    pthread_mutex_unlock(&imports->lock);
    return NULL;
}

/* ------------------------------------------------------------------ the table */

sp_gw_imports *sp_gw_imports_new(sp_gw_app *app, sp_error *err) {
    assert(app != NULL);
    sp_gw_imports *imports = calloc(1, sizeof *imports);
    if (imports == NULL) {
        sp_error_set(err, 500, "out_of_memory", "", "imports");
        return NULL;
    }
    imports->app = app;
    pthread_mutex_init(&imports->lock, NULL);
    return imports;
}

static void job_join_and_clear(import_job *job) {
    for (size_t i = 0; i < job->worker_count; i++) pthread_join(job->workers[i], NULL);
    sp_gw_enrol_csv_free(&job->csv);
    memset(job, 0, sizeof *job);
}

void sp_gw_imports_free(sp_gw_imports *imports) {
    if (imports == NULL) return;
    pthread_mutex_lock(&imports->lock);
    imports->stopping = true;
    pthread_mutex_unlock(&imports->lock);
    for (size_t i = 0; i < SP_GW_IMPORTS_KEPT_MAX; i++) job_join_and_clear(&imports->jobs[i]);
    pthread_mutex_destroy(&imports->lock);
    free(imports);
}

json_t *sp_gw_enrol_problems_json(sp_gw_enrol_csv *csv) {
    sp_gw_enrol_csv_problems_sort(csv);
    json_t *problems = json_array();
    for (size_t i = 0; problems != NULL && i < csv->problem_count; i++) {
        const sp_gw_enrol_problem *p = &csv->problems[i];
        json_t *item = json_pack("{s:i, s:s, s:s, s:s}", "line", (int)p->line, "field", p->field,
                                 "code", p->code, "message", p->message);
        if (item == NULL || json_array_append_new(problems, item) != 0) {
            json_decref(problems);
            problems = NULL;
        }
    }
    return problems;
}

/* The run as an ImportJob; under the lock. */
static json_t *job_json(import_job *job) {
    json_t *problems = sp_gw_enrol_problems_json(&job->csv);
    if (problems == NULL) return NULL;
    char delimiter[2] = {job->csv.delimiter, '\0'};
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:I}",
                     "import_id", job->import_id, "state",
                     job->state == JOB_DONE ? "done" : "running", "encoding",
                     sp_gw_enrol_csv_encoding_name(job->csv.encoding), "delimiter", delimiter,
                     "lines_total", (json_int_t)job->csv.lines_total, "lines_valid",
                     (json_int_t)job->csv.row_count, "lines_done", (json_int_t)job->lines_done,
                     "enrolled", (json_int_t)job->enrolled, "credited", (json_int_t)job->credited,
                     "skipped", (json_int_t)job->skipped, "failed", (json_int_t)job->failed,
                     "problems", problems, "problems_total", (json_int_t)job->csv.problems_total);
}

static bool same_request(const sp_gw_import_spec *a, const sp_gw_import_spec *b) {
    return strcmp(a->file_sha256, b->file_sha256) == 0 &&
           strcmp(a->allocation.category, b->allocation.category) == 0 &&
           a->allocation.amount_cents == b->allocation.amount_cents &&
           strcmp(a->allocation.end_date, b->allocation.end_date) == 0;
}

/* A slot for a new run: a free one, else the oldest finished one. NULL + 503. */
static import_job *slot_for_new(sp_gw_imports *imports, sp_error *err) {
    if (imports->running >= SP_GW_IMPORTS_RUNNING_MAX) {
        sp_error_set(err, 503, "imports_busy", "", "%d imports are running: wait until one is done",
                     SP_GW_IMPORTS_RUNNING_MAX);
        return NULL;
    }
    import_job *oldest = NULL;
    for (size_t i = 0; i < SP_GW_IMPORTS_KEPT_MAX; i++) {
        import_job *job = &imports->jobs[i];
        if (job->state == JOB_FREE) return job;
        if (job->state == JOB_DONE && (oldest == NULL || job->started_seq < oldest->started_seq))
            oldest = job;
    }
    if (oldest == NULL)
        sp_error_set(err, 503, "imports_busy", "", "no finished import can make room");
    else job_join_and_clear(oldest);
    return oldest;
}

/* Starts the job's workers; under the lock. A run with no valid line is done at once. */
static void job_launch(sp_gw_imports *imports, import_job *job) {
    size_t wanted = job->csv.row_count < SP_GW_IMPORT_WORKERS ? job->csv.row_count
                                                              : SP_GW_IMPORT_WORKERS;
    job->state = JOB_RUNNING;
    imports->running++;
    job->workers_live = wanted;
    for (size_t i = 0; i < wanted; i++) {
        if (pthread_create(&job->workers[job->worker_count], NULL, worker_main, job) != 0)
            job->workers_live--; /* the others take its share of the lines */
        else job->worker_count++;
    }
    if (job->worker_count == 0) {
        /* No thread: every line is refused as not done (the file may be sent again). */
        job->failed += job->csv.row_count - job->next_row;
        job->lines_done += job->csv.row_count - job->next_row;
        job->next_row = job->csv.row_count;
        job->state = JOB_DONE;
        imports->running--;
    }
}

static import_job *job_of_key(sp_gw_imports *imports, const sp_gw_import_spec *spec) {
    for (size_t i = 0; i < SP_GW_IMPORTS_KEPT_MAX; i++) {
        import_job *job = &imports->jobs[i];
        if (job->state != JOB_FREE && strcmp(job->spec.actor_id, spec->actor_id) == 0 &&
            strcmp(job->spec.key, spec->key) == 0)
            return job;
    }
    return NULL;
}

int sp_gw_imports_start(sp_gw_imports *imports, const sp_gw_import_spec *spec, sp_gw_enrol_csv *csv,
                        json_t **job_out, bool *replayed, sp_error *err) {
    assert(imports != NULL && spec != NULL && csv != NULL && job_out != NULL);
    *job_out = NULL;
    *replayed = false;
    int rc = -1;
    pthread_mutex_lock(&imports->lock);
    import_job *job = job_of_key(imports, spec);
    if (job != NULL && !same_request(&job->spec, spec)) {
        sp_error_set(err, 409, "idempotency_conflict", "Idempotency-Key",
                     "this key started an import of another file or allocation");
        goto done;
    }
    *replayed = job != NULL;
    if (job == NULL && (job = slot_for_new(imports, err)) != NULL) {
        job->owner = imports;
        job->spec = *spec;
        job->csv = *csv;
        memset(csv, 0, sizeof *csv);
        job->started_seq = ++imports->seq;
        sp_id_new(job->import_id);
        /* Lines with a problem in the file are done from the start, as failed. */
        job->failed = job->csv.lines_total - job->csv.row_count;
        job->lines_done = job->failed;
        job_launch(imports, job);
    }
    if (job != NULL) {
        *job_out = job_json(job);
        rc = *job_out != NULL ? 0 : sp_error_set(err, 500, "internal", "", "out of memory");
    }
done:
    pthread_mutex_unlock(&imports->lock);
    return rc;
}

int sp_gw_imports_get(sp_gw_imports *imports, const char *import_id, json_t **job_out,
                      sp_error *err) {
    assert(imports != NULL && import_id != NULL && job_out != NULL);
    *job_out = NULL;
    int rc = sp_error_set(err, 404, "import_not_found", "import_id",
                          "no import has this id on this gateway (kept in memory until it "
                          "restarts)");
    pthread_mutex_lock(&imports->lock);
    for (size_t i = 0; i < SP_GW_IMPORTS_KEPT_MAX; i++) {
        import_job *job = &imports->jobs[i];
        if (job->state == JOB_FREE || strcmp(job->import_id, import_id) != 0) continue;
        *job_out = job_json(job);
        rc = *job_out != NULL ? 0 : sp_error_set(err, 500, "internal", "", "out of memory");
        break;
    }
    pthread_mutex_unlock(&imports->lock);
    return rc;
}
