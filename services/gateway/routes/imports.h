/* imports.h - enrolment runs from a CSV file (POST /api/v1/beneficiaries/imports),
 * carried out in the gateway after the request answered 202.
 *
 * A run enrols each valid line of the file (accounts.CreateBeneficiary
 * without a password: an activation e-mail), opens its pass with one
 * envelope (ledger.OpenPass) and credits it (ledger.CreditPass), with
 * command ids derived from the file (sp_gw_enrol_command_id): the services'
 * own idempotency makes a run sent again - same key or not, same gateway or
 * another, before or after a restart - carry out only what the first did
 * not. A line whose e-mail is already enrolled by someone else's command
 * is skipped.
 *
 * Runs live in memory only: at most SP_GW_IMPORTS_KEPT_MAX (the oldest
 * finished run makes room for a new one), SP_GW_IMPORTS_RUNNING_MAX at
 * once, each on SP_GW_IMPORT_WORKERS threads that take its lines in turn.
 * A run is found again by its id, or by the Idempotency-Key of the
 * back-office user who started it.
 *
 * Ownership: the module owns its runs, their files' rows and problems, and
 * their threads; sp_gw_imports_free() stops the runs between two lines and
 * joins the threads, and must come before the app's commands and projwait
 * are freed. JSON handed out is the caller's. */
#ifndef SP_GW_IMPORTS_H
#define SP_GW_IMPORTS_H

#include <stdbool.h>
#include <jansson.h>

#include "auth.h"
#include "enrol_csv.h"
#include "gateway.h"
#include "sp_error.h"
#include "sp_id.h"

#define SP_GW_IMPORTS_KEPT_MAX 16
#define SP_GW_IMPORTS_RUNNING_MAX 2
#define SP_GW_IMPORT_WORKERS 4 /* lines of one run in flight at once */

typedef struct sp_gw_imports sp_gw_imports;

/* Who started a run and what each line receives. */
typedef struct sp_gw_import_spec {
    char actor_id[SP_ID_LEN + 1];
    char actor_role[SP_GW_ROLE_NAME_MAX];
    char key[SP_GW_IDEMPOTENCY_KEY_LEN_MAX + 1];
    char file_sha256[65]; /* hex of the bytes as uploaded */
    sp_gw_enrol_query allocation;
} sp_gw_import_spec;

sp_gw_imports *sp_gw_imports_new(sp_gw_app *app, sp_error *err);
void sp_gw_imports_free(sp_gw_imports *imports);

/* Starts a run of csv (taken over on success: *csv is left empty), or finds
 * the one this actor started with this key (*replayed; csv untouched then):
 * 409 idempotency_conflict when that one had another file or allocation,
 * 503 imports_busy when SP_GW_IMPORTS_RUNNING_MAX run or no finished run
 * can make room. *job: the run as an ImportJob. */
int sp_gw_imports_start(sp_gw_imports *imports, const sp_gw_import_spec *spec, sp_gw_enrol_csv *csv,
                        json_t **job, bool *replayed, sp_error *err);

/* The run as an ImportJob; 404 import_not_found. */
int sp_gw_imports_get(sp_gw_imports *imports, const char *import_id, json_t **job, sp_error *err);

/* {line, field, code, message} of each listed problem, in line order. */
json_t *sp_gw_enrol_problems_json(sp_gw_enrol_csv *csv);

#endif
