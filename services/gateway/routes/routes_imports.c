/* routes_imports.c - enrolling beneficiaries from a CSV file: the dry run,
 * which checks the file and the e-mails already enrolled and writes
 * nothing, and the run, carried out by imports.c after a 202. */
#include "routes.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "enrol_csv.h"
#include "imports.h"
#include "pgpool.h"

/* clang-format off */
/* The lines (second array) whose e-mail (first array) a user has; both
 * arrays newline-joined, which no valid e-mail holds. */
static const char enrolled_lines_sql[] =
    "SELECT l.line FROM unnest(string_to_array($1, E'\\n'),"
    " string_to_array($2, E'\\n')::integer[]) AS l(email, line)"
    " JOIN users u ON u.email = l.email ORDER BY l.line";
/* clang-format on */

/* What spreadsheets and browsers call a CSV file. */
static int content_type_check(const sp_gw_request *req, sp_error *err) {
    static const char *const accepted[] = {"text/csv", "text/plain", "application/vnd.ms-excel"};
    const char *type = sp_gw_request_header(req, "Content-Type");
    for (size_t i = 0; type != NULL && i < sizeof accepted / sizeof accepted[0]; i++) {
        size_t n = strlen(accepted[i]);
        if (strncasecmp(type, accepted[i], n) == 0 &&
            (type[n] == '\0' || type[n] == ';' || type[n] == ' '))
            return 0;
    }
    return sp_error_set(err, 415, "unsupported_media_type", "Content-Type",
                        "send the file as text/csv");
}

/* The newline-joined e-mails and lines of the valid rows (malloc'd). */
static int rows_params(const sp_gw_enrol_csv *csv, char **emails, char **lines, sp_error *err) {
    *emails = malloc(csv->row_count * (SP_GW_EMAIL_LEN_MAX + 1) + 1);
    *lines = malloc(csv->row_count * 12 + 1);
    if (*emails == NULL || *lines == NULL)
        return sp_error_set(err, 503, "unavailable", "", "out of memory");
    size_t e = 0, l = 0;
    for (size_t i = 0; i < csv->row_count; i++) {
        const char *sep = i > 0 ? "\n" : "";
        e += (size_t)sprintf(*emails + e, "%s%s", sep, csv->rows[i].email);
        l += (size_t)sprintf(*lines + l, "%s%d", sep, (int)csv->rows[i].line);
    }
    (*emails)[e] = '\0';
    (*lines)[l] = '\0';
    return 0;
}

/* Adds a problem for each valid line whose e-mail is enrolled already; *count of them. */
static int mark_enrolled(sp_gw_request *req, sp_gw_enrol_csv *csv, size_t *count, sp_error *err) {
    *count = 0;
    if (csv->row_count == 0) return 0;
    char *emails = NULL, *lines = NULL;
    PGresult *res = NULL;
    int rc = rows_params(csv, &emails, &lines, err);
    const char *params[2] = {emails, lines};
    if (rc == 0) rc = sp_gw_pgpool_query(req->app->pool, enrolled_lines_sql, 2, params, &res, err);
    for (int row = 0; rc == 0 && row < PQntuples(res); row++) {
        sp_gw_enrol_csv_problem_add(csv, (int32_t)atoi(PQgetvalue(res, row, 0)), "email",
                                    "email_enrolled",
                                    "Un compte existe déjà avec cette adresse e-mail : la ligne "
                                    "sera ignorée.");
        (*count)++;
    }
    PQclear(res);
    free(emails);
    free(lines);
    return rc;
}

static int answer_dry_run(sp_gw_request *req, sp_gw_enrol_csv *csv, sp_error *err) {
    size_t enrolled = 0;
    if (mark_enrolled(req, csv, &enrolled, err) != 0) return -1;
    json_t *problems = sp_gw_enrol_problems_json(csv);
    if (problems == NULL) return sp_error_set(err, 500, "internal", "", "out of memory");
    char delimiter[2] = {csv->delimiter, '\0'};
    assert(enrolled <= csv->row_count);
    json_t *report = json_pack("{s:I, s:I, s:s, s:s, s:o, s:I}", "lines_total",
                               (json_int_t)csv->lines_total, "lines_valid",
                               (json_int_t)(csv->row_count - enrolled), "encoding",
                               sp_gw_enrol_csv_encoding_name(csv->encoding), "delimiter", delimiter,
                               "problems", problems, "problems_total",
                               (json_int_t)csv->problems_total);
    return sp_gw_answer_json(req, 200, report, false);
}

static int start_run(sp_gw_request *req, const sp_gw_enrol_query *allocation, const char *key,
                     sp_gw_enrol_csv *csv, sp_error *err) {
    sp_gw_import_spec spec;
    memset(&spec, 0, sizeof spec);
    snprintf(spec.actor_id, sizeof spec.actor_id, "%s", req->user.user_id);
    snprintf(spec.actor_role, sizeof spec.actor_role, "%s", req->user.role);
    snprintf(spec.key, sizeof spec.key, "%s", key);
    spec.allocation = *allocation;
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)req->body, req->body_len);
    sodium_bin2hex(spec.file_sha256, sizeof spec.file_sha256, digest, sizeof digest);
    json_t *job = NULL;
    bool replayed = false;
    if (sp_gw_imports_start(req->app->imports, &spec, csv, &job, &replayed, err) != 0) return -1;
    return sp_gw_answer_json(req, 202, job, replayed);
}

int sp_gw_route_beneficiaries_imports(sp_gw_request *req, sp_error *err) {
    sp_gw_enrol_query allocation;
    sp_date today = sp_paris_date_of(sp_clock_now_ms(req->app->clock));
    if (sp_gw_enrol_query_parse(req->query, req->app->config->credit_cents_max, today, &allocation,
                                err) != 0)
        return -1;
    const char *key = NULL;
    if (!allocation.dry_run && sp_gw_idempotency_key(req, &key, err) != 0) return -1;
    if (content_type_check(req, err) != 0) return -1;
    sp_gw_enrol_csv csv;
    if (sp_gw_enrol_csv_parse((const uint8_t *)req->body, req->body_len, &csv, err) != 0) return -1;
    int rc = allocation.dry_run ? answer_dry_run(req, &csv, err)
                                : start_run(req, &allocation, key, &csv, err);
    sp_gw_enrol_csv_free(&csv);
    return rc;
}

int sp_gw_route_beneficiaries_import_get(sp_gw_request *req, sp_error *err) {
    json_t *job = NULL;
    if (sp_gw_imports_get(req->app->imports, req->match.path_id, &job, err) != 0) return -1;
    return sp_gw_answer_json(req, 200, job, false);
}
