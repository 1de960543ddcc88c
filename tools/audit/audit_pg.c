/* audit_pg.c - compares ledger_balances, passes, envelopes, partners and the
 * budget figures per category with the balances computed from the log,
 * operations with their states and refund requests with their confirmed
 * totals (see audit_pg.h). */
#include "audit_pg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "sp_id.h"
#include "sp_map.h"
#include "sp_money.h"
#include "sp_pg.h"

#define AUDIT_PG_CONNECT_WAIT_MS 10000
#define AUDIT_PG_ROWS_MAX 16000000 /* rows of one read model */
#define AUDIT_PG_WHY_MAX 400

/* name -> cents, for one side of a comparison. */
typedef struct audit_row {
    char name[SP_AUDIT_ACCOUNT_MAX];
    int64_t cents;
} audit_row;

typedef struct audit_table {
    sp_map rows;
    bool failed; /* out of memory, bound or overflow */
} audit_table;

typedef struct audit_model {
    const char *check;              /* printed after ok / FAIL */
    const char *label;              /* what a row's value is called */
    const char *sql;                /* SELECT name, cents */
    const char *const *value_names; /* NULL: the value is cents; else its words */
} audit_model;

/* sp_audit_op_state by value; 0 = a status the ledger does not know. */
static const char *const op_state_words[] = {"an unknown status", "accepted", "requested", "paid",
                                             "cancelled"};

/* clang-format off */
static const audit_model audit_models[] = {
    {"ledger_balances matches the ledger", "ledger_balances.balance_cents",
     "SELECT account, balance_cents FROM ledger_balances", NULL},
    {"passes match the ledger", "passes.balance_cents",
     "SELECT pass_id::text, balance_cents FROM passes", NULL},
    {"envelopes match the ledger", "envelopes.balance_cents",
     "SELECT 'pass:' || pass_id::text || ':' || category, balance_cents FROM envelopes", NULL},
    /* What a partner is owed also counts its payments reserved by a refund
     * request (moved to refund:<id>, not yet paid); its owed account does not. */
    {"partners owed match the ledger", "partners.owed_cents less the requested payments",
     "SELECT 'partner:' || p.partner_id::text || ':owed', p.owed_cents - coalesce((SELECT"
     " sum(o.amount_cents) FROM operations o WHERE o.partner_id = p.partner_id"
     " AND o.status = 'requested'), 0)::bigint FROM partners p", NULL},
    {"operations match the ledger", "operations.status",
     "SELECT operation_id::text, CASE status WHEN 'accepted' THEN 1 WHEN 'requested' THEN 2 "
     "WHEN 'paid' THEN 3 WHEN 'cancelled' THEN 4 ELSE 0 END FROM operations "
     "WHERE kind = 'payment'", op_state_words},
    {"refund requests match the ledger", "refund_requests.total_cents",
     "SELECT request_id::text, total_cents FROM refund_requests "
     "WHERE status IN ('pending', 'paid')", NULL},
    /* The dashboard's available money of a category is what its envelopes hold. */
    {"budget figures match the ledger", "figures_budget.available_cents",
     "SELECT category, available_cents FROM figures_budget", NULL},
};
/* clang-format on */
#define MODEL_OPERATIONS 4
#define MODEL_REQUESTS 5
#define MODEL_BUDGET 6
#define AUDIT_MODEL_COUNT (sizeof audit_models / sizeof audit_models[0])

static void free_row(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    (void)ctx;
    (void)key;
    free(value);
}

static void table_destroy(audit_table *table) {
    sp_map_foreach(&table->rows, free_row, NULL);
    sp_map_destroy(&table->rows);
}

static const audit_row *table_get(const audit_table *table, const char *name) {
    uint8_t key[SP_KEY_LEN];
    sp_key_of(key, name, NULL, NULL, NULL);
    return sp_map_get(&table->rows, key);
}

/* Adds cents to the row `name` (created at 0). Failures are remembered in
 * table->failed, so that map visitors can call it. */
static void table_add(audit_table *table, const char *name, size_t name_len, int64_t cents) {
    char copy[SP_AUDIT_ACCOUNT_MAX];
    if (name_len >= sizeof copy) {
        table->failed = true;
        return;
    }
    memcpy(copy, name, name_len);
    copy[name_len] = '\0';
    uint8_t key[SP_KEY_LEN];
    sp_key_of(key, copy, NULL, NULL, NULL);
    audit_row *row = sp_map_get(&table->rows, key);
    if (row == NULL) {
        row = calloc(1, sizeof *row);
        sp_error ignored;
        if (row == NULL || sp_map_put(&table->rows, key, row, &ignored) != 0) {
            free(row);
            table->failed = true;
            return;
        }
        memcpy(row->name, copy, name_len + 1);
    }
    if (!sp_money_add(row->cents, cents, &row->cents)) table->failed = true;
}

/* The computed side of each read model, from the audit's accounts. */
typedef struct audit_computed {
    audit_table tables[AUDIT_MODEL_COUNT];
} audit_computed;

static void computed_add_account(void *ctx, const char *account, int64_t balance_cents) {
    audit_computed *computed = ctx;
    table_add(&computed->tables[0], account, strlen(account), balance_cents);
    size_t len = strlen(account);
    if (strncmp(account, "pass:", 5) == 0) {
        const char *id = account + 5;
        const char *colon = strchr(id, ':');
        if (colon != NULL) table_add(&computed->tables[1], id, (size_t)(colon - id), balance_cents);
        table_add(&computed->tables[2], account, len, balance_cents);
        const char *category = colon != NULL ? colon + 1 : NULL;
        if (category != NULL && *category != '\0')
            table_add(&computed->tables[MODEL_BUDGET], category, strlen(category), balance_cents);
    } else if (strncmp(account, "partner:", 8) == 0) {
        table_add(&computed->tables[3], account, len, balance_cents);
    }
}

static void computed_add_operation(void *ctx, const char *operation_id, sp_audit_op_state state) {
    audit_computed *computed = ctx;
    table_add(&computed->tables[MODEL_OPERATIONS], operation_id, strlen(operation_id), state);
}

static void computed_add_request(void *ctx, const char *request_id, sp_audit_request_state state,
                                 int64_t total_cents) {
    audit_computed *computed = ctx;
    if (state == SP_AUDIT_REQUEST_PENDING || state == SP_AUDIT_REQUEST_PAID)
        table_add(&computed->tables[MODEL_REQUESTS], request_id, strlen(request_id), total_cents);
}

static int parse_cents(const char *text, int64_t *out) {
    char *end = NULL;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0') return -1;
    *out = (int64_t)value;
    return 0;
}

static int load_model(PGconn *conn, const audit_model *model, audit_table *table, sp_error *err) {
    PGresult *res = NULL;
    if (sp_pg_exec(conn, model->sql, 0, NULL, &res, err) != 0) return -1;
    int rc = 0;
    int rows = PQntuples(res);
    for (int r = 0; r < rows && rc == 0; r++) {
        const char *name = PQgetvalue(res, r, 0);
        int64_t cents = 0;
        if (parse_cents(PQgetvalue(res, r, 1), &cents) != 0)
            rc = sp_error_set(err, 500, "database_error", "", "%s: bad amount for %s", model->label,
                              name);
        else table_add(table, name, strlen(name), cents);
    }
    if (rc == 0 && table->failed)
        rc = sp_error_set(err, 500, "audit_limit", "", "%s: too many or too long rows",
                          model->label);
    PQclear(res);
    return rc;
}

/* Looks for the first row on one side that the other side does not equal. */
typedef struct audit_diff {
    const audit_table *other;
    const audit_model *model;
    bool this_side_is_db;
    bool found;
    char why[AUDIT_PG_WHY_MAX];
} audit_diff;

static void diff_row(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    (void)key;
    audit_diff *diff = ctx;
    const audit_row *row = value;
    if (diff->found) return;
    const audit_row *other = table_get(diff->other, row->name);
    int64_t other_cents = other ? other->cents : 0;
    if (other_cents == row->cents) return;
    diff->found = true;
    int64_t db_cents = diff->this_side_is_db ? row->cents : other_cents;
    int64_t ledger_cents = diff->this_side_is_db ? other_cents : row->cents;
    bool db_row_missing = !diff->this_side_is_db && other == NULL;
    const char *const *words = diff->model->value_names;
    size_t word_count = sizeof op_state_words / sizeof op_state_words[0];
    if (words != NULL) {
        const char *db_word = db_cents >= 0 && (uint64_t)db_cents < word_count ? words[db_cents]
                                                                               : words[0];
        const char *ledger_word = ledger_cents >= 0 && (uint64_t)ledger_cents < word_count
                                      ? words[ledger_cents]
                                      : words[0];
        if (db_row_missing)
            snprintf(diff->why, sizeof diff->why, "%s: no row for %s, the ledger says %s",
                     diff->model->label, row->name, ledger_word);
        else
            snprintf(diff->why, sizeof diff->why, "%s of %s is %s, the ledger says %s",
                     diff->model->label, row->name, db_word,
                     ledger_cents == 0 ? "it is no payment" : ledger_word);
    } else if (db_row_missing)
        snprintf(diff->why, sizeof diff->why,
                 "%s: no row for %s, the ledger says %" PRId64 " cents", diff->model->label,
                 row->name, ledger_cents);
    else
        snprintf(diff->why, sizeof diff->why, "%s of %s is %" PRId64 ", the ledger says %" PRId64,
                 diff->model->label, row->name, db_cents, ledger_cents);
}

static bool model_matches(const audit_model *model, const audit_table *db,
                          const audit_table *ledger) {
    audit_diff diff = {.other = ledger, .model = model, .this_side_is_db = true};
    sp_map_foreach(&db->rows, diff_row, &diff);
    if (!diff.found) {
        diff.other = db;
        diff.this_side_is_db = false;
        sp_map_foreach(&ledger->rows, diff_row, &diff);
    }
    if (diff.found) printf("FAIL %s: %s\n", model->check, diff.why);
    else printf("ok %s\n", model->check);
    return !diff.found;
}

static int tables_init(audit_table *tables, size_t count, sp_error *err) {
    for (size_t i = 0; i < count; i++) {
        if (sp_map_init(&tables[i].rows, AUDIT_PG_ROWS_MAX, err) != 0) {
            for (size_t j = 0; j < i; j++) sp_map_destroy(&tables[j].rows);
            return -1;
        }
    }
    return 0;
}

int sp_audit_pg_compare(const sp_audit *audit, const char *dsn, sp_log *log, sp_error *err) {
    int rc = -1;
    audit_computed computed = {0};
    audit_table db[AUDIT_MODEL_COUNT] = {0};
    bool computed_ready = false, db_ready = false;
    PGconn *conn = sp_pg_connect(dsn, AUDIT_PG_CONNECT_WAIT_MS, log, err);
    if (conn == NULL) goto done;
    if (tables_init(computed.tables, AUDIT_MODEL_COUNT, err) != 0) goto done;
    computed_ready = true;
    if (tables_init(db, AUDIT_MODEL_COUNT, err) != 0) goto done;
    db_ready = true;
    sp_audit_foreach_account(audit, computed_add_account, &computed);
    sp_audit_foreach_operation(audit, computed_add_operation, &computed);
    sp_audit_foreach_request(audit, computed_add_request, &computed);
    for (size_t i = 0; i < AUDIT_MODEL_COUNT; i++) {
        if (computed.tables[i].failed) {
            sp_error_set(err, 500, "audit_limit", "", "computed %s: too many rows",
                         audit_models[i].label);
            goto done;
        }
    }
    /* One snapshot for every read model, so that they agree with each other. */
    if (sp_pg_command(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err) != 0) goto done;
    for (size_t i = 0; i < AUDIT_MODEL_COUNT; i++)
        if (load_model(conn, &audit_models[i], &db[i], err) != 0) goto done;
    rc = 0;
    for (size_t i = 0; i < AUDIT_MODEL_COUNT; i++)
        if (!model_matches(&audit_models[i], &db[i], &computed.tables[i])) rc = 1;
done:
    for (size_t i = 0; i < AUDIT_MODEL_COUNT; i++) {
        if (computed_ready) table_destroy(&computed.tables[i]);
        if (db_ready) table_destroy(&db[i]);
    }
    if (conn != NULL) PQfinish(conn);
    return rc;
}
