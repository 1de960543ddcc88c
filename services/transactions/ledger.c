/* ledger.c - the state of one ledger partition, the partner directory, the
 * single choke point that moves money (sp_ledger_post) and the single
 * function that applies an event (sp_ledger_apply), live and at rebuild.
 * Pure: no I/O. The rules that decide events are in ledger_decide.c. */
#include "ledger.h"

#include <assert.h>
#include <inttypes.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_internal.h"
#include "sp_money.h"

#define PASS_PREFIX "pass:"
#define PARTNER_PREFIX "partner:"
#define PARTNER_SUFFIX ":owed"
#define VOUCHER_PREFIX "voucher:"
#define REFUND_PREFIX "refund:"
/* Every posting touches two accounts. */
#define PLAN_ACCOUNTS_MAX (2 * SP_LEDGER_POSTINGS_MAX)

/* ------------------------------------------------------------ small helpers */

bool sp_ledger_copy(char *dst, size_t dst_size, const char *src) {
    assert(dst != NULL);
    assert(dst_size > 0);
    size_t len = src != NULL ? strnlen(src, dst_size) : 0;
    if (len >= dst_size) {
        dst[0] = '\0';
        return false;
    }
    if (len > 0) memcpy(dst, src, len);
    dst[len] = '\0';
    return true;
}

static char *dup_text(const char *src) {
    return strdup(src != NULL ? src : "");
}

bool sp_ledger_category_valid(const char *category) {
    if (category == NULL || !(category[0] >= 'a' && category[0] <= 'z')) return false;
    size_t len = strnlen(category, SP_LEDGER_CATEGORY_LEN_MAX + 1);
    if (len < SP_LEDGER_CATEGORY_LEN_MIN || len > SP_LEDGER_CATEGORY_LEN_MAX) return false;
    for (size_t i = 1; i < len; i++) {
        char c = category[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
    return true;
}

void sp_ledger_envelope_account(char out[SP_LEDGER_ACCOUNT_MAX + 1], const char *pass_id,
                                const char *category) {
    int len = snprintf(out, SP_LEDGER_ACCOUNT_MAX + 1, PASS_PREFIX "%s:%s", pass_id, category);
    assert(len > 0);
    assert(len <= SP_LEDGER_ACCOUNT_MAX);
    (void)len;
}

void sp_ledger_voucher_account(char out[SP_LEDGER_ACCOUNT_MAX + 1], const char *voucher_id) {
    int len = snprintf(out, SP_LEDGER_ACCOUNT_MAX + 1, VOUCHER_PREFIX "%s", voucher_id);
    assert(len > 0);
    assert(len <= SP_LEDGER_ACCOUNT_MAX);
    (void)len;
}

void sp_ledger_refund_account_name(char out[SP_LEDGER_ACCOUNT_MAX + 1], const char *request_id) {
    int len = snprintf(out, SP_LEDGER_ACCOUNT_MAX + 1, REFUND_PREFIX "%s", request_id);
    assert(len > 0);
    assert(len <= SP_LEDGER_ACCOUNT_MAX);
    (void)len;
}

void sp_ledger_partner_account(char out[SP_LEDGER_ACCOUNT_MAX + 1], const char *partner_id) {
    int len = snprintf(out, SP_LEDGER_ACCOUNT_MAX + 1, PARTNER_PREFIX "%s" PARTNER_SUFFIX,
                       partner_id);
    assert(len > 0);
    assert(len <= SP_LEDGER_ACCOUNT_MAX);
    (void)len;
}

int sp_ledger_envelope_index(const sp_ledger_pass *pass, const char *category) {
    assert(pass != NULL);
    assert(pass->envelope_count <= SP_LEDGER_ENVELOPES_MAX);
    for (size_t i = 0; i < pass->envelope_count; i++) {
        if (strcmp(pass->envelopes[i].category, category) == 0) return (int)i;
    }
    return -1;
}

bool sp_ledger_envelope_expired_at(const sp_ledger_envelope *envelope, int64_t now_ms) {
    if (envelope->closed) return true;
    return envelope->has_end_date && sp_paris_date_of(now_ms) > envelope->end_date;
}

int sp_ledger_status_of_code(const char *code) {
    static const struct {
        const char *code;
        int status;
    } table[] = {
        {"invalid_value", 400},
        {"pass_not_found", 404},
        {"partner_not_found", 404},
        {"conflict", 409},
        {"idempotency_conflict", 409},
        {"unavailable", 503},
        {"voucher_not_found", 404},
        {"voucher_used", 409},
        {"voucher_cancelled", 409},
        {"voucher_expired", 409},
        {"operation_not_found", 404},
        {"operation_cancelled", 409},
        {"operation_in_refund_request", 409},
        {"operation_paid", 409},
        {"refund_request_not_found", 404},
        {"refund_request_exists", 409},
        {"refund_request_opening", 409},
        {"refund_request_pending", 409},
        {"refund_request_paid", 409},
        {"refund_request_cancelled", 409},
        {"pass_closed", 409},
        {"too_many_vouchers", 409},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(table[i].code, code) == 0) return table[i].status;
    }
    return 422; /* every other ledger rule: invalid_amount, insufficient_funds, ... */
}

void sp_ledger_format_instant(int64_t unix_ms, char out[25]) {
    assert(unix_ms >= 0);
    int64_t ms_per_day = INT64_C(86400000);
    int64_t days = unix_ms / ms_per_day;
    int64_t ms_of_day = unix_ms % ms_per_day;
    int year, month, day;
    assert(days <= INT32_MAX);
    sp_date_to_ymd((sp_date)days, &year, &month, &day);
    assert(year >= 1970);
    assert(year <= 9999);
    unsigned hour = (unsigned)(ms_of_day / 3600000), minute = (unsigned)(ms_of_day / 60000 % 60);
    unsigned second = (unsigned)(ms_of_day / 1000 % 60), milli = (unsigned)(ms_of_day % 1000);
    /* The modulos only tell the compiler the widths, which the asserts guarantee. */
    snprintf(out, 25, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ", (unsigned)year % 10000u,
             (unsigned)month % 100u, (unsigned)day % 100u, hour % 100u, minute % 100u,
             second % 100u, milli % 1000u);
}

/* ------------------------------------------------------------ directory */

static void directory_key(uint8_t key[SP_KEY_LEN], const char *partner_code) {
    sp_key_of(key, "code", partner_code, NULL, NULL);
}

int sp_ledger_directory_init(sp_ledger_directory *dir, size_t partners_max, sp_error *err) {
    assert(dir != NULL);
    memset(dir, 0, sizeof *dir);
    dir->conventions = calloc(SP_LEDGER_CONVENTIONS_MAX, sizeof *dir->conventions);
    if (dir->conventions == NULL)
        return sp_error_set(err, 503, "unavailable", NULL, "out of memory");
    if (sp_map_init(&dir->acceptances, SP_LEDGER_ACCEPTANCES_MAX, err) != 0) {
        free(dir->conventions);
        return -1;
    }
    if (sp_map_init(&dir->by_code, partners_max, err) != 0) {
        sp_map_destroy(&dir->acceptances);
        free(dir->conventions);
        return -1;
    }
    return 0;
}

static void free_partner(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    (void)ctx;
    (void)key;
    sp_ledger_partner *partner = value;
    free(partner->name);
    free(partner);
}

void sp_ledger_directory_destroy(sp_ledger_directory *dir) {
    if (dir == NULL) return;
    sp_map_foreach(&dir->by_code, free_partner, NULL);
    sp_map_destroy(&dir->by_code);
    sp_map_destroy(&dir->acceptances); /* its values are the conventions' slots */
    free(dir->conventions);
}

int sp_ledger_directory_add(sp_ledger_directory *dir, const char *partner_id,
                            const char *partner_code, const char *name, const char *category,
                            sp_error *err) {
    assert(dir != NULL);
    if (partner_id == NULL || !sp_id_valid(partner_id)) {
        return sp_error_set(err, 400, "invalid_value", "partner_id", "partner id is not a uuid");
    }
    if (partner_code == NULL ||
        strnlen(partner_code, SP_PARTNER_CODE_LEN + 1) != SP_PARTNER_CODE_LEN ||
        partner_code[0] == '0' || !sp_luhn_valid(partner_code)) {
        return sp_error_set(err, 400, "invalid_value", "partner_code",
                            "partner code is not 8 digits with a Luhn check digit");
    }
    if (!sp_ledger_category_valid(category) || strcmp(category, SP_LEDGER_GENERAL_CATEGORY) == 0) {
        return sp_error_set(err, 400, "invalid_category", "category", "invalid partner category");
    }
    if (name == NULL ||
        strnlen(name, SP_LEDGER_PARTNER_NAME_MAX + 1) > SP_LEDGER_PARTNER_NAME_MAX) {
        return sp_error_set(err, 400, "invalid_value", "name", "partner name longer than %d bytes",
                            SP_LEDGER_PARTNER_NAME_MAX);
    }
    json_t *probe = json_string(name); /* it goes into result JSON: UTF-8 only */
    if (probe == NULL) {
        return sp_error_set(err, 400, "invalid_value", "name", "partner name is not UTF-8");
    }
    json_decref(probe);
    uint8_t key[SP_KEY_LEN];
    directory_key(key, partner_code);
    if (sp_map_get(&dir->by_code, key) != NULL) return 0;
    sp_ledger_partner *partner = calloc(1, sizeof *partner);
    if (partner == NULL) return sp_error_set(err, 503, "unavailable", NULL, "out of memory");
    partner->name = dup_text(name);
    if (partner->name == NULL) {
        free(partner);
        return sp_error_set(err, 503, "unavailable", NULL, "out of memory");
    }
    sp_ledger_copy(partner->partner_id, sizeof partner->partner_id, partner_id);
    sp_ledger_copy(partner->partner_code, sizeof partner->partner_code, partner_code);
    sp_ledger_copy(partner->category, sizeof partner->category, category);
    if (sp_map_put(&dir->by_code, key, partner, err) != 0) {
        free_partner(NULL, key, partner);
        return -1;
    }
    return 0;
}

const sp_ledger_partner *sp_ledger_directory_find(const sp_ledger_directory *dir,
                                                  const char *partner_code) {
    if (dir == NULL || partner_code == NULL) return NULL;
    uint8_t key[SP_KEY_LEN];
    directory_key(key, partner_code);
    return sp_map_get(&dir->by_code, key);
}

/* ------------------------------------------------------------ state */

static void pass_key(uint8_t key[SP_KEY_LEN], const char *pass_id) {
    sp_key_of(key, "pass", pass_id, NULL, NULL);
}

static void owed_key(uint8_t key[SP_KEY_LEN], const char *partner_id) {
    sp_key_of(key, "partner", partner_id, NULL, NULL);
}

static void voucher_key(uint8_t key[SP_KEY_LEN], const char *voucher_id) {
    sp_key_of(key, "voucher", voucher_id, NULL, NULL);
}

static void refund_account_key(uint8_t key[SP_KEY_LEN], const char *request_id) {
    sp_key_of(key, "refund", request_id, NULL, NULL);
}

static void record_key(uint8_t key[SP_KEY_LEN], const char *pass_id, const char *actor_id,
                       const char *command_id) {
    sp_key_of(key, pass_id, actor_id, command_id, NULL);
}

sp_ledger_state *sp_ledger_state_new(int32_t partition, const sp_ledger_limits *limits,
                                     const sp_ledger_directory *directory, sp_error *err) {
    assert(limits != NULL);
    assert(limits->payment_cents_max > 0);
    assert(limits->credit_cents_max > 0);
    sp_ledger_state *state = calloc(1, sizeof *state);
    if (state == NULL) {
        sp_error_set(err, 503, "unavailable", NULL, "out of memory");
        return NULL;
    }
    state->partition = partition;
    state->limits = *limits;
    state->directory = directory;
    bool passes_ok = false, owed_ok = false, records_ok = false, vouchers_ok = false,
         requests_ok = false;
    if (sp_map_init(&state->passes, limits->passes_max, err) != 0) goto fail;
    passes_ok = true;
    if (sp_map_init(&state->owed, limits->partners_max, err) != 0) goto fail;
    owed_ok = true;
    if (sp_map_init(&state->records, limits->commands_max, err) != 0) goto fail;
    records_ok = true;
    /* vouchers_max 0: no voucher can be issued (the map still needs a slot). */
    size_t vouchers_map_max = limits->vouchers_max > 0 ? limits->vouchers_max : 1;
    if (sp_map_init(&state->vouchers, vouchers_map_max, err) != 0) goto fail;
    vouchers_ok = true;
    /* The same for refund requests and their accounts. */
    size_t refunds_map_max = limits->refund_requests_max > 0 ? limits->refund_requests_max : 1;
    if (sp_map_init(&state->refund_requests, refunds_map_max, err) != 0) goto fail;
    requests_ok = true;
    if (sp_map_init(&state->refund_accounts, refunds_map_max, err) != 0) goto fail;
    return state;
fail:
    if (requests_ok) sp_map_destroy(&state->refund_requests);
    if (vouchers_ok) sp_map_destroy(&state->vouchers);
    if (records_ok) sp_map_destroy(&state->records);
    if (owed_ok) sp_map_destroy(&state->owed);
    if (passes_ok) sp_map_destroy(&state->passes);
    free(state);
    return NULL;
}

static void free_value(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    (void)ctx;
    (void)key;
    free(value);
}

static void free_record(sp_ledger_record *record) {
    if (record == NULL) return;
    free(record->result_json);
    free(record->code);
    free(record->message);
    free(record->field);
    free(record);
}

static void free_record_visit(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    (void)ctx;
    (void)key;
    free_record(value);
}

static void free_pass(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    (void)ctx;
    (void)key;
    sp_ledger_pass *pass = value;
    free(pass->operations);
    free(pass);
}

void sp_ledger_state_free(sp_ledger_state *state) {
    if (state == NULL) return;
    sp_map_foreach(&state->passes, free_pass, NULL);
    sp_map_foreach(&state->owed, free_value, NULL);
    sp_map_foreach(&state->records, free_record_visit, NULL);
    sp_map_foreach(&state->vouchers, free_value, NULL);
    sp_map_foreach(&state->refund_requests, free_value, NULL);
    sp_map_foreach(&state->refund_accounts, free_value, NULL);
    sp_map_destroy(&state->vouchers);
    sp_map_destroy(&state->refund_requests);
    sp_map_destroy(&state->refund_accounts);
    sp_map_destroy(&state->passes);
    sp_map_destroy(&state->owed);
    sp_map_destroy(&state->records);
    free(state);
}

static sp_ledger_pass *pass_get(const sp_ledger_state *state, const char *pass_id) {
    assert(pass_id != NULL);
    uint8_t key[SP_KEY_LEN];
    pass_key(key, pass_id);
    return sp_map_get(&state->passes, key);
}

const sp_ledger_pass *sp_ledger_pass_find(const sp_ledger_state *state, const char *pass_id) {
    assert(state != NULL);
    return pass_id != NULL ? pass_get(state, pass_id) : NULL;
}

int64_t sp_ledger_pass_balance_cents(const sp_ledger_pass *pass) {
    assert(pass != NULL);
    assert(pass->envelope_count <= SP_LEDGER_ENVELOPES_MAX);
    int64_t total_cents = 0;
    for (size_t i = 0; i < pass->envelope_count; i++) {
        /* Each envelope is within SP_MONEY_BALANCE_ABS_CENTS_MAX: 8 of them cannot overflow. */
        bool ok = sp_money_add(total_cents, pass->envelopes[i].balance_cents, &total_cents);
        assert(ok);
        (void)ok;
    }
    return total_cents;
}

static sp_ledger_voucher *voucher_get(const sp_ledger_state *state, const char *voucher_id) {
    assert(voucher_id != NULL);
    uint8_t key[SP_KEY_LEN];
    voucher_key(key, voucher_id);
    return sp_map_get(&state->vouchers, key);
}

const sp_ledger_voucher *sp_ledger_voucher_find(const sp_ledger_state *state,
                                                const char *voucher_id) {
    assert(state != NULL);
    return voucher_id != NULL ? voucher_get(state, voucher_id) : NULL;
}

static sp_ledger_refund_account *refund_account_get(const sp_ledger_state *state,
                                                    const char *request_id) {
    assert(request_id != NULL);
    uint8_t key[SP_KEY_LEN];
    refund_account_key(key, request_id);
    return sp_map_get(&state->refund_accounts, key);
}

int64_t sp_ledger_refund_account_cents(const sp_ledger_state *state, const char *request_id) {
    assert(state != NULL);
    const sp_ledger_refund_account *account = request_id != NULL
                                                  ? refund_account_get(state, request_id)
                                                  : NULL;
    return account != NULL ? account->balance_cents : 0;
}

int64_t sp_ledger_partner_owed_cents(const sp_ledger_state *state, const char *partner_id) {
    assert(state != NULL);
    assert(partner_id != NULL);
    uint8_t key[SP_KEY_LEN];
    owed_key(key, partner_id);
    const sp_ledger_owed *owed = sp_map_get(&state->owed, key);
    return owed != NULL ? owed->balance_cents : 0;
}

typedef struct sum_ctx {
    int64_t sum_cents;
    bool overflow;
} sum_ctx;

static void sum_add(sum_ctx *ctx, int64_t cents) {
    assert(ctx != NULL);
    if (!sp_money_add(ctx->sum_cents, cents, &ctx->sum_cents)) ctx->overflow = true;
}

static void sum_pass(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    (void)key;
    sum_add(ctx, sp_ledger_pass_balance_cents(value));
}

static void sum_owed(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    (void)key;
    sum_add(ctx, ((const sp_ledger_owed *)value)->balance_cents);
}

static void sum_voucher(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    (void)key;
    sum_add(ctx, ((const sp_ledger_voucher *)value)->balance_cents);
}

static void sum_refund(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    (void)key;
    sum_add(ctx, ((const sp_ledger_refund_account *)value)->balance_cents);
}

int64_t sp_ledger_balance_sum_cents(const sp_ledger_state *state) {
    assert(state != NULL);
    sum_ctx ctx = {.sum_cents = state->budget_cents, .overflow = false};
    sp_map_foreach(&state->passes, sum_pass, &ctx);
    sp_map_foreach(&state->owed, sum_owed, &ctx);
    sp_map_foreach(&state->vouchers, sum_voucher, &ctx);
    sp_map_foreach(&state->refund_accounts, sum_refund, &ctx);
    sum_add(&ctx, state->bank_cents);
    assert(!ctx.overflow);
    return ctx.sum_cents;
}

const sp_ledger_record *sp_ledger_record_find(const sp_ledger_state *state, const char *pass_id,
                                              const char *actor_id, const char *command_id) {
    assert(state != NULL);
    assert(pass_id != NULL);
    assert(actor_id != NULL);
    assert(command_id != NULL);
    uint8_t key[SP_KEY_LEN];
    record_key(key, pass_id, actor_id, command_id);
    return sp_map_get(&state->records, key);
}

typedef struct pass_visit_ctx {
    sp_ledger_pass_visit_fn visit;
    void *ctx;
} pass_visit_ctx;

static void pass_visit(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    (void)key;
    pass_visit_ctx *pv = ctx;
    assert(value != NULL);
    pv->visit(pv->ctx, value);
}

void sp_ledger_foreach_pass(const sp_ledger_state *state, sp_ledger_pass_visit_fn visit,
                            void *ctx) {
    assert(state != NULL);
    assert(visit != NULL);
    pass_visit_ctx pv = {.visit = visit, .ctx = ctx};
    sp_map_foreach(&state->passes, pass_visit, &pv);
}

void sp_ledger_record_set_event_ref(sp_ledger_record *record, int32_t partition, int64_t offset) {
    assert(record != NULL);
    assert(partition >= 0);
    assert(offset >= 0);
    record->has_event_ref = true;
    record->event_partition = partition;
    record->event_offset = offset;
}

/* ------------------------------------------------------------ postings */

typedef enum {
    ACCOUNT_BUDGET,
    ACCOUNT_ENVELOPE,
    ACCOUNT_PARTNER,
    ACCOUNT_VOUCHER,
    ACCOUNT_REFUND,
    ACCOUNT_BANK,
} account_kind;

typedef struct plan_account {
    char name[SP_LEDGER_ACCOUNT_MAX + 1];
    account_kind kind;
    int64_t *balance_cents;         /* NULL: the budget, a partner or refund account to open, or
                                     * a voucher not issued yet */
    char partner_id[SP_ID_LEN + 1]; /* partner: its id; refund: the request's */
    int64_t before_cents;
    int64_t after_cents;
} plan_account;

typedef struct post_plan {
    size_t account_count;
    plan_account accounts[PLAN_ACCOUNTS_MAX];
    size_t partners_to_open;
    size_t refunds_to_open;
} post_plan;

/* "bank", or "refund:<request_id>" (opened on its first credit); -1 when malformed. */
static int resolve_refund_account(const sp_ledger_state *state, const char *name,
                                  plan_account *out) {
    if (strcmp(name, SP_LEDGER_BANK_ACCOUNT) == 0) {
        out->kind = ACCOUNT_BANK;
        out->balance_cents = &((sp_ledger_state *)state)->bank_cents; /* written only by post */
        out->before_cents = state->bank_cents;
        return 0;
    }
    const char *request_id = name + strlen(REFUND_PREFIX);
    if (!sp_id_valid(request_id)) return -1;
    out->kind = ACCOUNT_REFUND;
    sp_ledger_copy(out->partner_id, sizeof out->partner_id, request_id);
    sp_ledger_refund_account *account = refund_account_get(state, request_id);
    out->balance_cents = account != NULL ? &account->balance_cents : NULL;
    out->before_cents = account != NULL ? account->balance_cents : 0;
    return 0;
}

/* Resolves an account name to its balance; fills err when unknown. */
static int resolve_account(const sp_ledger_state *state, const char *name, plan_account *out,
                           sp_error *err) {
    memset(out, 0, sizeof *out);
    if (!sp_ledger_copy(out->name, sizeof out->name, name)) {
        return sp_error_set(err, 422, "invalid_posting", NULL, "account name too long");
    }
    if (strcmp(name, SP_LEDGER_BUDGET_ACCOUNT) == 0) {
        out->kind = ACCOUNT_BUDGET;
        out->before_cents = state->budget_cents;
    } else if (strcmp(name, SP_LEDGER_BANK_ACCOUNT) == 0 ||
               strncmp(name, REFUND_PREFIX, strlen(REFUND_PREFIX)) == 0) {
        if (resolve_refund_account(state, name, out) != 0) goto unknown;
    } else if (strncmp(name, PASS_PREFIX, strlen(PASS_PREFIX)) == 0) {
        char pass_id[SP_ID_LEN + 1];
        const char *rest = name + strlen(PASS_PREFIX);
        if (strnlen(rest, SP_ID_LEN + 1) <= SP_ID_LEN || rest[SP_ID_LEN] != ':') goto unknown;
        memcpy(pass_id, rest, SP_ID_LEN);
        pass_id[SP_ID_LEN] = '\0';
        sp_ledger_pass *pass = sp_id_valid(pass_id) ? pass_get(state, pass_id) : NULL;
        const char *category = rest + SP_ID_LEN + 1;
        if (pass == NULL || !sp_ledger_category_valid(category)) goto unknown;
        int index = sp_ledger_envelope_index(pass, category);
        out->kind = ACCOUNT_ENVELOPE;
        /* An envelope a credit is about to open counts from zero when checked;
         * sp_ledger_post refuses it until it is open. */
        out->balance_cents = index >= 0 ? &pass->envelopes[index].balance_cents : NULL;
        out->before_cents = index >= 0 ? *out->balance_cents : 0;
    } else if (strncmp(name, PARTNER_PREFIX, strlen(PARTNER_PREFIX)) == 0) {
        const char *rest = name + strlen(PARTNER_PREFIX);
        if (strnlen(rest, SP_ID_LEN + 1) <= SP_ID_LEN ||
            strcmp(rest + SP_ID_LEN, PARTNER_SUFFIX) != 0) {
            goto unknown;
        }
        memcpy(out->partner_id, rest, SP_ID_LEN);
        out->partner_id[SP_ID_LEN] = '\0';
        if (!sp_id_valid(out->partner_id)) goto unknown;
        out->kind = ACCOUNT_PARTNER;
        uint8_t key[SP_KEY_LEN];
        owed_key(key, out->partner_id);
        sp_ledger_owed *owed = sp_map_get(&state->owed, key);
        out->balance_cents = owed != NULL ? &owed->balance_cents : NULL;
        out->before_cents = owed != NULL ? owed->balance_cents : 0;
    } else if (strncmp(name, VOUCHER_PREFIX, strlen(VOUCHER_PREFIX)) == 0) {
        const char *voucher_id = name + strlen(VOUCHER_PREFIX);
        if (!sp_id_valid(voucher_id)) goto unknown;
        out->kind = ACCOUNT_VOUCHER;
        sp_ledger_voucher *voucher = voucher_get(state, voucher_id);
        out->balance_cents = voucher != NULL ? &voucher->balance_cents : NULL;
        out->before_cents = voucher != NULL ? voucher->balance_cents : 0;
    } else {
        goto unknown;
    }
    out->after_cents = out->before_cents;
    return 0;
unknown:
    return sp_error_set(err, 422, "invalid_posting", NULL, "unknown account '%.80s'", name);
}

static plan_account *plan_account_of(const sp_ledger_state *state, post_plan *plan,
                                     const char *name, sp_error *err) {
    assert(plan != NULL);
    assert(name != NULL);
    assert(plan->account_count <= PLAN_ACCOUNTS_MAX);
    for (size_t i = 0; i < plan->account_count; i++) {
        if (strcmp(plan->accounts[i].name, name) == 0) return &plan->accounts[i];
    }
    assert(plan->account_count < PLAN_ACCOUNTS_MAX);
    plan_account *account = &plan->accounts[plan->account_count];
    if (resolve_account(state, name, account, err) != 0) return NULL;
    plan->account_count++;
    if (account->kind == ACCOUNT_PARTNER && account->balance_cents == NULL)
        plan->partners_to_open++;
    if (account->kind == ACCOUNT_REFUND && account->balance_cents == NULL) plan->refunds_to_open++;
    return account;
}

static int plan_posting(const sp_ledger_state *state, post_plan *plan,
                        const sp_ledger_posting *posting, sp_error *err) {
    if (posting->amount_cents <= 0 || posting->amount_cents > SP_MONEY_BALANCE_ABS_CENTS_MAX) {
        return sp_error_set(err, 422, "invalid_amount", "amount_cents",
                            "a posting amount must be 1 to %" PRId64 " cents, got %" PRId64,
                            SP_MONEY_BALANCE_ABS_CENTS_MAX, posting->amount_cents);
    }
    if (strcmp(posting->debit_account, posting->credit_account) == 0) {
        return sp_error_set(err, 422, "invalid_posting", NULL,
                            "a posting must move money between two different accounts");
    }
    plan_account *debit = plan_account_of(state, plan, posting->debit_account, err);
    if (debit == NULL) return -1;
    plan_account *credit = plan_account_of(state, plan, posting->credit_account, err);
    if (credit == NULL) return -1;
    assert(debit != credit);
    if (!sp_money_sub(debit->after_cents, posting->amount_cents, &debit->after_cents) ||
        !sp_money_add(credit->after_cents, posting->amount_cents, &credit->after_cents)) {
        return sp_error_set(err, 422, "invalid_amount", "amount_cents", "balance overflow");
    }
    return 0;
}

static int plan_check_limits(const sp_ledger_state *state, const post_plan *plan, sp_error *err) {
    assert(plan != NULL);
    assert(plan->account_count >= 2);
    assert(plan->account_count <= PLAN_ACCOUNTS_MAX);
    int64_t delta_sum_cents = 0;
    for (size_t i = 0; i < plan->account_count; i++) {
        const plan_account *account = &plan->accounts[i];
        if (account->kind != ACCOUNT_BUDGET && account->after_cents < 0) {
            char available[SP_MONEY_FORMAT_MAX];
            sp_money_format_eur(account->before_cents, available, sizeof available);
            return sp_error_set(err, 422, "insufficient_funds", "amount_cents",
                                "insufficient funds: the available balance is %s", available);
        }
        if (account->after_cents > SP_MONEY_BALANCE_ABS_CENTS_MAX ||
            account->after_cents < -SP_MONEY_BALANCE_ABS_CENTS_MAX) {
            return sp_error_set(err, 422, "invalid_amount", "amount_cents",
                                "account %.80s would pass the balance limit", account->name);
        }
        /* Every value is within the limit, so these sums cannot overflow. */
        delta_sum_cents += account->after_cents - account->before_cents;
    }
    assert(delta_sum_cents == 0); /* debits equal credits */
    if (plan->partners_to_open > 0 &&
        state->owed.entry_count + plan->partners_to_open > state->limits.partners_max) {
        return sp_error_set(err, 503, "unavailable", NULL, "partner accounts limit reached");
    }
    if (plan->refunds_to_open > 0 && state->refund_accounts.entry_count + plan->refunds_to_open >
                                         state->limits.refund_requests_max) {
        return sp_error_set(err, 503, "unavailable", NULL,
                            "refund accounts limit reached (SP_REFUND_REQUESTS_MAX=%zu)",
                            state->limits.refund_requests_max);
    }
    return 0;
}

static int plan_postings(const sp_ledger_state *state, const sp_ledger_posting *postings,
                         size_t count, post_plan *plan, sp_error *err) {
    assert(state != NULL);
    assert(postings != NULL);
    memset(plan, 0, sizeof *plan);
    if (count == 0 || count > SP_LEDGER_POSTINGS_MAX) {
        return sp_error_set(err, 422, "invalid_posting", NULL, "1 to %d postings at a time",
                            SP_LEDGER_POSTINGS_MAX);
    }
    int64_t debits_cents = 0, credits_cents = 0;
    for (size_t i = 0; i < count; i++) {
        if (plan_posting(state, plan, &postings[i], err) != 0) return -1;
        /* Each amount is <= the balance limit and count <= 8: no overflow. */
        debits_cents += postings[i].amount_cents;
        credits_cents += postings[i].amount_cents;
    }
    assert(debits_cents == credits_cents);
    return plan_check_limits(state, plan, err);
}

int sp_ledger_post_check(const sp_ledger_state *state, const sp_ledger_posting *postings,
                         size_t count, sp_error *err) {
    post_plan plan;
    return plan_postings(state, postings, count, &plan, err);
}

static int open_refund_account(sp_ledger_state *state, plan_account *account, sp_error *err) {
    assert(account != NULL);
    assert(account->kind == ACCOUNT_REFUND);
    assert(account->balance_cents == NULL);
    sp_ledger_refund_account *refund = calloc(1, sizeof *refund);
    if (refund == NULL) return sp_error_set(err, 503, "unavailable", NULL, "out of memory");
    sp_ledger_copy(refund->request_id, sizeof refund->request_id, account->partner_id);
    uint8_t key[SP_KEY_LEN];
    refund_account_key(key, refund->request_id);
    if (sp_map_put(&state->refund_accounts, key, refund, err) != 0) {
        free(refund);
        return -1;
    }
    account->balance_cents = &refund->balance_cents;
    assert(account->before_cents == 0); /* a new account holds nothing */
    return 0;
}

/* Opens the partner and refund accounts the plan needs, before any balance moves. */
static int open_partner_accounts(sp_ledger_state *state, post_plan *plan, sp_error *err) {
    for (size_t i = 0; i < plan->account_count; i++) {
        plan_account *account = &plan->accounts[i];
        if (account->kind == ACCOUNT_REFUND && account->balance_cents == NULL) {
            if (open_refund_account(state, account, err) != 0) return -1;
            continue;
        }
        if (account->kind != ACCOUNT_PARTNER || account->balance_cents != NULL) continue;
        sp_ledger_owed *owed = calloc(1, sizeof *owed);
        if (owed == NULL) return sp_error_set(err, 503, "unavailable", NULL, "out of memory");
        sp_ledger_copy(owed->partner_id, sizeof owed->partner_id, account->partner_id);
        uint8_t key[SP_KEY_LEN];
        owed_key(key, owed->partner_id);
        if (sp_map_put(&state->owed, key, owed, err) != 0) {
            free(owed);
            return -1;
        }
        account->balance_cents = &owed->balance_cents;
        assert(account->before_cents == 0); /* a new account holds nothing */
    }
    return 0;
}

int sp_ledger_post(sp_ledger_state *state, const sp_ledger_posting *postings, size_t count,
                   sp_error *err) {
    post_plan plan;
    if (plan_postings(state, postings, count, &plan, err) != 0) return -1;
    for (size_t i = 0; i < plan.account_count; i++) {
        /* A voucher's account exists once the voucher is issued, never before;
         * an envelope's once its pass has it. */
        bool missing = plan.accounts[i].balance_cents == NULL;
        if (missing && (plan.accounts[i].kind == ACCOUNT_VOUCHER ||
                        plan.accounts[i].kind == ACCOUNT_ENVELOPE)) {
            return sp_error_set(err, 422, "invalid_posting", NULL, "no account '%.80s'",
                                plan.accounts[i].name);
        }
    }
    /* An account opened here and left empty by a later failure moves no money. */
    if (open_partner_accounts(state, &plan, err) != 0) return -1;
    for (size_t i = 0; i < plan.account_count; i++) {
        plan_account *account = &plan.accounts[i];
        if (account->kind == ACCOUNT_BUDGET) {
            assert(state->budget_cents == account->before_cents);
            state->budget_cents = account->after_cents;
        } else {
            assert(account->balance_cents != NULL);
            assert(*account->balance_cents == account->before_cents);
            /* Only the budget, the source of every credit, goes below zero. */
            assert(account->after_cents >= 0);
            *account->balance_cents = account->after_cents;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ result JSON */

static int set_string(json_t *obj, const char *key, const char *value) {
    return json_object_set_new(obj, key, json_string(value));
}

static int set_cents(json_t *obj, const char *key, int64_t cents) {
    return json_object_set_new(obj, key, json_integer((json_int_t)cents));
}

/* Dumps and frees obj; NULL when anything failed on the way (failed != 0). */
static char *dump_json(json_t *obj, int failed) {
    char *text = (obj != NULL && failed == 0) ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    return text;
}

static char *open_json(const sp_ledger_pass *pass, int64_t occurred_at_ms) {
    json_t *obj = json_object();
    json_t *envelopes = json_array();
    int failed = (obj == NULL || envelopes == NULL);
    sp_date today = sp_paris_date_of(occurred_at_ms);
    for (size_t i = 0; i < pass->envelope_count && !failed; i++) {
        const sp_ledger_envelope *envelope = &pass->envelopes[i];
        json_t *item = json_object();
        char end_date[SP_LEDGER_DATE_LEN + 1];
        if (envelope->has_end_date) sp_date_format(envelope->end_date, end_date);
        failed |= set_string(item, "category", envelope->category);
        failed |= set_cents(item, "balance_cents", envelope->balance_cents);
        failed |= json_object_set_new(item, "end_date",
                                      envelope->has_end_date ? json_string(end_date) : json_null());
        failed |= json_object_set_new(
            item, "expired", json_boolean(envelope->has_end_date && today > envelope->end_date));
        failed |= json_array_append_new(envelopes, item);
    }
    if (obj != NULL) {
        failed |= set_string(obj, "pass_id", pass->pass_id);
        failed |= set_string(obj, "beneficiary_id", pass->beneficiary_id);
        failed |= set_cents(obj, "balance_cents", sp_ledger_pass_balance_cents(pass));
        failed |= json_object_set(obj, "envelopes", envelopes);
    }
    json_decref(envelopes);
    return dump_json(obj, failed);
}

typedef struct operation_view {
    const sp_ledger_event *event;
    const char *kind;         /* "payment" | "credit" */
    const char *partner_name; /* payment only */
    int64_t envelope_balance_after_cents;
    int64_t pass_balance_after_cents;
    const char *end_date; /* credit: the envelope's after it, "" = none */
} operation_view;

static char *operation_json(const operation_view *view) {
    assert(view != NULL);
    const sp_ledger_event *event = view->event;
    bool payment = strcmp(view->kind, "payment") == 0;
    char occurred_at[25];
    sp_ledger_format_instant(event->occurred_at_ms, occurred_at);
    json_t *obj = json_object();
    int failed = obj == NULL;
    failed |= set_string(obj, "operation_id", event->operation_id);
    failed |= set_string(obj, "kind", view->kind);
    failed |= set_string(obj, "status", "accepted");
    failed |= set_string(obj, "pass_id", event->pass_id);
    if (payment) {
        failed |= set_string(obj, "partner_id", event->partner_id);
        failed |= set_string(obj, "partner_code", event->partner_code);
        failed |= set_string(obj, "partner_name", view->partner_name);
    }
    failed |= set_string(obj, "category", event->category);
    failed |= set_cents(obj, "amount_cents", event->amount_cents);
    failed |= set_cents(obj, "envelope_balance_after_cents", view->envelope_balance_after_cents);
    failed |= set_cents(obj, "pass_balance_after_cents", view->pass_balance_after_cents);
    failed |= set_string(obj, "occurred_at", occurred_at);
    if (!payment) {
        failed |= json_object_set_new(
            obj, "end_date", view->end_date[0] != '\0' ? json_string(view->end_date) : json_null());
        failed |= json_object_set_new(obj, "envelope_opened", json_boolean(event->envelope_opened));
    }
    if (payment && event->has_receipt) {
        char receipt[SP_RECEIPT_TEXT_MAX + 1];
        sp_error why;
        failed |= sp_ledger_receipt_text(event, receipt, &why) != 0;
        failed |= set_string(obj, "receipt", receipt);
    }
    return dump_json(obj, failed);
}

int sp_ledger_receipt_text(const sp_ledger_event *event, char out[SP_RECEIPT_TEXT_MAX + 1],
                           sp_error *err) {
    assert(event != NULL);
    sp_receipt receipt = {.key_id = event->receipt_key_id,
                          .amount_cents = event->amount_cents,
                          .occurred_at_ms = event->occurred_at_ms};
    snprintf(receipt.operation_id, sizeof receipt.operation_id, "%s", event->operation_id);
    snprintf(receipt.partner_id, sizeof receipt.partner_id, "%s", event->partner_id);
    sp_receipt_pass_ref(event->pass_id, receipt.pass_ref);
    out[0] = '\0';
    return sp_receipt_encode(&receipt, event->receipt_signature, out, err);
}

/* ------------------------------------------------------------ records */

static int records_room(const sp_ledger_state *state, sp_error *err) {
    if (state->records.entry_count >= state->limits.commands_max) {
        return sp_error_set(err, 503, "unavailable", NULL,
                            "command outcomes limit reached (SP_COMMANDS_MAX=%zu)",
                            state->limits.commands_max);
    }
    return 0;
}

/* Takes ownership of result_json (may be NULL for a rejection). */
static sp_ledger_record *record_new(const uint8_t hash[SP_KEY_LEN], int http_status,
                                    char *result_json, const sp_error *rejection) {
    assert(http_status >= 200);
    assert(http_status <= 599);
    sp_ledger_record *record = calloc(1, sizeof *record);
    if (record == NULL) {
        free(result_json);
        return NULL;
    }
    memcpy(record->request_hash, hash, SP_KEY_LEN);
    record->ok = rejection == NULL;
    record->http_status = http_status;
    record->result_json = result_json != NULL ? result_json : dup_text("");
    record->code = dup_text(rejection != NULL ? rejection->code : "");
    record->message = dup_text(rejection != NULL ? rejection->message : "");
    record->field = dup_text(rejection != NULL ? rejection->field : "");
    if (!record->result_json || !record->code || !record->message || !record->field) {
        free_record(record);
        return NULL;
    }
    return record;
}

/* Keeps the first outcome of a command id: a later event carrying the same
 * id (only a second writer could produce one) moves money but is not the
 * answer. *stored = the record kept for this event, or NULL. */
static int record_store(sp_ledger_state *state, const sp_ledger_event *event,
                        sp_ledger_record *record, sp_ledger_record **stored, sp_error *err) {
    *stored = NULL;
    if (record == NULL) return sp_error_set(err, 503, "unavailable", NULL, "out of memory");
    uint8_t key[SP_KEY_LEN];
    record_key(key, event->pass_id, event->actor_id, event->command_id);
    if (sp_map_get(&state->records, key) != NULL) {
        free_record(record);
        return 0;
    }
    if (sp_map_put(&state->records, key, record, err) != 0) {
        free_record(record);
        return -1;
    }
    *stored = record;
    return 0;
}

/* ------------------------------------------------------------ apply */

static int invalid_event(sp_error *err, const char *why) {
    return sp_error_set(err, 422, "invalid_event", NULL, "event refused: %s", why);
}

/* The event's postings, when it carries any, must be exactly the derived one. */
static bool postings_match(const sp_ledger_event *event, const sp_ledger_posting *derived,
                           size_t derived_count) {
    if (event->posting_count == 0) return true;
    if (event->posting_count != derived_count) return false;
    for (size_t i = 0; i < derived_count; i++) {
        const sp_ledger_posting *a = &event->postings[i], *b = &derived[i];
        if (strcmp(a->debit_account, b->debit_account) != 0 ||
            strcmp(a->credit_account, b->credit_account) != 0 ||
            a->amount_cents != b->amount_cents) {
            return false;
        }
    }
    return true;
}

/* Post refusals of an event mean the event is wrong, except our own failures
 * (a full bound, no memory). */
static int post_refused(sp_error *err) {
    if (err != NULL && err->http_status >= 500) return -1;
    char why[SP_ERROR_MESSAGE_MAX];
    snprintf(why, sizeof why, "%s", err != NULL ? err->message : "posting refused");
    return invalid_event(err, why);
}

static int spec_to_envelope(const sp_ledger_envelope_spec *spec, sp_ledger_envelope *out,
                            sp_error *err) {
    memset(out, 0, sizeof *out);
    if (!sp_ledger_category_valid(spec->category)) return invalid_event(err, "invalid category");
    sp_ledger_copy(out->category, sizeof out->category, spec->category);
    if (spec->end_date[0] != '\0') {
        if (sp_date_parse(spec->end_date, &out->end_date, err) != 0) {
            return invalid_event(err, "invalid end date");
        }
        out->has_end_date = true;
    }
    return 0;
}

static int pass_from_event(const sp_ledger_event *event, sp_ledger_pass *pass, sp_error *err) {
    if (!sp_id_valid(event->beneficiary_id)) return invalid_event(err, "beneficiary id");
    if (event->envelope_count < 1 || event->envelope_count > SP_LEDGER_ENVELOPES_MAX) {
        return invalid_event(err, "envelope count");
    }
    sp_ledger_copy(pass->pass_id, sizeof pass->pass_id, event->pass_id);
    sp_ledger_copy(pass->beneficiary_id, sizeof pass->beneficiary_id, event->beneficiary_id);
    pass->version = event->version;
    for (size_t i = 0; i < event->envelope_count; i++) {
        if (spec_to_envelope(&event->envelopes[i], &pass->envelopes[i], err) != 0) return -1;
        if (sp_ledger_envelope_index(pass, event->envelopes[i].category) >= 0) {
            return invalid_event(err, "duplicate category");
        }
        pass->envelope_count = i + 1;
    }
    const char *categories[SP_LEDGER_ENVELOPES_MAX], *end_dates[SP_LEDGER_ENVELOPES_MAX];
    for (size_t i = 0; i < event->envelope_count; i++) {
        categories[i] = event->envelopes[i].category;
        end_dates[i] = event->envelopes[i].end_date;
    }
    sp_ledger_hash_open(pass->open_request_hash, pass->pass_id, pass->beneficiary_id,
                        event->envelope_count, categories, end_dates);
    return 0;
}

static int apply_opened(sp_ledger_state *state, const sp_ledger_event *event,
                        sp_ledger_applied *out, sp_error *err) {
    if (state->passes.entry_count >= state->limits.passes_max) {
        return sp_error_set(err, 503, "unavailable", NULL,
                            "passes limit reached (SP_PASSES_MAX=%zu)", state->limits.passes_max);
    }
    if (records_room(state, err) != 0) return -1;
    sp_ledger_pass *pass = calloc(1, sizeof *pass);
    if (pass == NULL) return sp_error_set(err, 503, "unavailable", NULL, "out of memory");
    if (pass_from_event(event, pass, err) != 0) {
        free(pass);
        return -1;
    }
    sp_ledger_record *record = record_new(pass->open_request_hash, 201,
                                          open_json(pass, event->occurred_at_ms), NULL);
    if (record == NULL || record->result_json[0] == '\0') {
        free_record(record);
        free(pass);
        return sp_error_set(err, 503, "unavailable", NULL, "out of memory");
    }
    uint8_t key[SP_KEY_LEN];
    pass_key(key, pass->pass_id);
    if (sp_map_put(&state->passes, key, pass, err) != 0) {
        free_record(record);
        free(pass);
        return -1;
    }
    if (record_store(state, event, record, &out->record, err) != 0) return -1;
    pass->open_record = out->record;
    assert(state->passes.entry_count <= state->limits.passes_max);
    return 0;
}

/* The envelope a PassCredited pays into, as it is after the credit: its
 * event opens it (envelope_opened) or finds it, and moves its end date
 * only later. An event without end_date (written before credits carried
 * one) keeps the envelope's. *opened: index is a new slot, not yet counted. */
static int credited_envelope(const sp_ledger_pass *pass, const sp_ledger_event *event, int *index,
                             sp_ledger_envelope *after, sp_error *err) {
    assert(event != NULL);
    *index = sp_ledger_envelope_index(pass, event->category);
    if (event->envelope_opened) {
        if (*index >= 0) return invalid_event(err, "envelope already open");
        if (pass->envelope_count >= SP_LEDGER_ENVELOPES_MAX) return invalid_event(err, "envelopes");
        sp_ledger_envelope_spec spec = {{0}, {0}};
        sp_ledger_copy(spec.category, sizeof spec.category, event->category);
        sp_ledger_copy(spec.end_date, sizeof spec.end_date, event->end_date);
        *index = (int)pass->envelope_count;
        return spec_to_envelope(&spec, after, err);
    }
    if (*index < 0) return invalid_event(err, "no such envelope");
    *after = pass->envelopes[*index];
    if (event->end_date[0] == '\0') {
        if (after->closed) return invalid_event(err, "envelope closed");
        return 0;
    }
    sp_date end_date;
    if (sp_date_parse(event->end_date, &end_date, err) != 0) {
        return invalid_event(err, "invalid end date");
    }
    if (after->has_end_date && end_date < after->end_date) {
        return invalid_event(err, "end date earlier than the envelope's");
    }
    /* An expired envelope is used again only with a later end date. */
    if (after->closed && !(end_date > after->end_date))
        return invalid_event(err, "envelope closed");
    after->closed = false;
    after->has_end_date = true;
    after->end_date = end_date;
    return 0;
}

static int apply_credited(sp_ledger_state *state, sp_ledger_pass *pass,
                          const sp_ledger_event *event, sp_ledger_applied *out, sp_error *err) {
    int index = -1;
    sp_ledger_envelope after;
    if (credited_envelope(pass, event, &index, &after, err) != 0) return -1;
    sp_ledger_posting posting = {.debit_account = SP_LEDGER_BUDGET_ACCOUNT,
                                 .amount_cents = event->amount_cents};
    sp_ledger_envelope_account(posting.credit_account, pass->pass_id, event->category);
    if (!postings_match(event, &posting, 1)) return invalid_event(err, "postings");
    if (records_room(state, err) != 0) return -1;
    if (sp_ledger_post_check(state, &posting, 1, err) != 0) return post_refused(err);
    /* Checked above: these sums stay within the balance limit. */
    char end_date[SP_LEDGER_DATE_LEN + 1] = "";
    if (after.has_end_date) sp_date_format(after.end_date, end_date);
    operation_view view = {
        .event = event,
        .kind = "credit",
        .envelope_balance_after_cents = after.balance_cents + event->amount_cents,
        .pass_balance_after_cents = sp_ledger_pass_balance_cents(pass) + event->amount_cents,
        .end_date = end_date};
    uint8_t hash[SP_KEY_LEN];
    sp_ledger_hash_credit(hash, pass->pass_id, event->category, event->amount_cents,
                          event->requested_end_date);
    if (record_store(state, event, record_new(hash, 201, operation_json(&view), NULL), &out->record,
                     err) != 0) {
        return -1;
    }
    /* Nothing can fail from here: the envelope takes its new shape, then the money. */
    pass->envelopes[index] = after;
    if (event->envelope_opened) pass->envelope_count++;
    assert(pass->envelope_count <= SP_LEDGER_ENVELOPES_MAX);
    int rc = sp_ledger_post(state, &posting, 1, err);
    assert(rc == 0); /* sp_ledger_post_check accepted it just now */
    /* The record told the balances this posting leaves. */
    assert(pass->envelopes[index].balance_cents == view.envelope_balance_after_cents);
    assert(sp_ledger_pass_balance_cents(pass) == view.pass_balance_after_cents);
    return rc;
}

static int apply_payment(sp_ledger_state *state, sp_ledger_pass *pass, const sp_ledger_event *event,
                         sp_ledger_applied *out, sp_error *err) {
    assert(event != NULL);
    int index = sp_ledger_envelope_index(pass, event->category);
    if (index < 0) return invalid_event(err, "no such envelope");
    if (!sp_id_valid(event->partner_id)) return invalid_event(err, "partner id");
    sp_ledger_posting posting = {.amount_cents = event->amount_cents};
    sp_ledger_envelope_account(posting.debit_account, pass->pass_id, event->category);
    sp_ledger_partner_account(posting.credit_account, event->partner_id);
    if (!postings_match(event, &posting, 1)) return invalid_event(err, "postings");
    if (!sp_id_valid(event->operation_id)) return invalid_event(err, "operation id");
    if (records_room(state, err) != 0) return -1;
    if (sp_ledger_post_check(state, &posting, 1, err) != 0) return post_refused(err);
    if (sp_ledger_operation_reserve(pass, err) != 0) return -1;
    const sp_ledger_partner *partner = sp_ledger_directory_find(state->directory,
                                                                event->partner_code);
    operation_view view = {
        .event = event,
        .kind = "payment",
        .partner_name = partner != NULL ? partner->name : "",
        .envelope_balance_after_cents = pass->envelopes[index].balance_cents - event->amount_cents,
        .pass_balance_after_cents = sp_ledger_pass_balance_cents(pass) - event->amount_cents};
    uint8_t hash[SP_KEY_LEN];
    sp_ledger_hash_pay(hash, pass->pass_id, event->partner_code, event->amount_cents);
    if (record_store(state, event, record_new(hash, 201, operation_json(&view), NULL), &out->record,
                     err) != 0) {
        return -1;
    }
    int rc = sp_ledger_post(state, &posting, 1, err);
    assert(rc == 0); /* sp_ledger_post_check accepted it just now */
    if (rc != 0) return -1;
    /* A payment never takes an envelope below zero, and the record told the
     * balances it leaves. */
    assert(pass->envelopes[index].balance_cents >= 0);
    assert(pass->envelopes[index].balance_cents == view.envelope_balance_after_cents);
    assert(sp_ledger_pass_balance_cents(pass) == view.pass_balance_after_cents);
    sp_ledger_operation_remember(pass, event->operation_id, event->partner_id, event->category, "",
                                 event->amount_cents);
    return 0;
}

static int apply_expired(sp_ledger_state *state, sp_ledger_pass *pass, const sp_ledger_event *event,
                         sp_error *err) {
    assert(event != NULL);
    int index = sp_ledger_envelope_index(pass, event->category);
    if (index < 0) return invalid_event(err, "no such envelope");
    sp_ledger_envelope *envelope = &pass->envelopes[index];
    if (envelope->closed) return invalid_event(err, "envelope already closed");
    if (event->amount_cents != envelope->balance_cents) {
        return invalid_event(err, "returned amount is not the envelope's balance");
    }
    if (event->amount_cents > 0) {
        sp_ledger_posting posting = {.credit_account = SP_LEDGER_BUDGET_ACCOUNT,
                                     .amount_cents = event->amount_cents};
        sp_ledger_envelope_account(posting.debit_account, pass->pass_id, event->category);
        if (!postings_match(event, &posting, 1)) return invalid_event(err, "postings");
        if (sp_ledger_post(state, &posting, 1, err) != 0) return post_refused(err);
    } else if (event->posting_count != 0) {
        return invalid_event(err, "postings");
    }
    assert(envelope->balance_cents == 0); /* everything left went back to the budget */
    envelope->closed = true;
    return 0;
}

static int apply_rejected(sp_ledger_state *state, const sp_ledger_event *event,
                          sp_ledger_applied *out, sp_error *err) {
    if (event->code[0] == '\0') return invalid_event(err, "rejection without a code");
    if (records_room(state, err) != 0) return -1;
    sp_error rejection;
    sp_error_clear(&rejection);
    rejection.http_status = sp_ledger_status_of_code(event->code);
    sp_ledger_copy(rejection.code, sizeof rejection.code, event->code);
    sp_ledger_copy(rejection.message, sizeof rejection.message, event->message);
    sp_ledger_copy(rejection.field, sizeof rejection.field, event->field);
    return record_store(state, event,
                        record_new(event->request_hash, rejection.http_status, NULL, &rejection),
                        &out->record, err);
}

/* ------------------------------------------------------------ for ledger_voucher.c */

int sp_ledger_apply_rejected(sp_ledger_state *state, const sp_ledger_event *event,
                             sp_ledger_applied *out, sp_error *err) {
    return apply_rejected(state, event, out, err);
}

int sp_ledger_invalid_event(sp_error *err, const char *why) {
    return invalid_event(err, why);
}

int sp_ledger_post_refused(sp_error *err) {
    return post_refused(err);
}

bool sp_ledger_postings_match(const sp_ledger_event *event, const sp_ledger_posting *derived,
                              size_t derived_count) {
    return postings_match(event, derived, derived_count);
}

int sp_ledger_records_room(const sp_ledger_state *state, sp_error *err) {
    return records_room(state, err);
}

int sp_ledger_record_keep(sp_ledger_state *state, const sp_ledger_event *event,
                          const uint8_t hash[SP_KEY_LEN], int http_status, char *result_json,
                          sp_ledger_applied *out, sp_error *err) {
    return record_store(state, event, record_new(hash, http_status, result_json, NULL),
                        &out->record, err);
}

sp_ledger_voucher *sp_ledger_voucher_of(sp_ledger_state *state, const char *voucher_id) {
    return voucher_get(state, voucher_id);
}

int sp_ledger_voucher_insert(sp_ledger_state *state, sp_ledger_voucher *voucher, sp_error *err) {
    assert(voucher != NULL);
    assert(voucher_get(state, voucher->voucher_id) == NULL);
    if (state->vouchers.entry_count >= state->limits.vouchers_max) {
        free(voucher);
        return sp_error_set(err, 503, "unavailable", NULL,
                            "vouchers limit reached (SP_VOUCHERS_MAX=%zu)",
                            state->limits.vouchers_max);
    }
    uint8_t key[SP_KEY_LEN];
    voucher_key(key, voucher->voucher_id);
    if (sp_map_put(&state->vouchers, key, voucher, err) != 0) {
        free(voucher);
        return -1;
    }
    return 0;
}

static int apply_to_pass(sp_ledger_state *state, sp_ledger_pass *pass, const sp_ledger_event *event,
                         sp_ledger_applied *out, sp_error *err) {
    switch (event->kind) {
    case SP_LEDGER_EVENT_PASS_CREDITED: return apply_credited(state, pass, event, out, err);
    case SP_LEDGER_EVENT_PAYMENT_ACCEPTED: return apply_payment(state, pass, event, out, err);
    case SP_LEDGER_EVENT_ENVELOPE_EXPIRED: return apply_expired(state, pass, event, err);
    case SP_LEDGER_EVENT_COMMAND_REJECTED: return apply_rejected(state, event, out, err);
    case SP_LEDGER_EVENT_VOUCHER_ISSUED:
    case SP_LEDGER_EVENT_VOUCHER_REDEEMED:
    case SP_LEDGER_EVENT_VOUCHER_CANCELLED:
    case SP_LEDGER_EVENT_VOUCHER_EXPIRED:
        return sp_ledger_apply_voucher(state, pass, event, out, err);
    case SP_LEDGER_EVENT_OPERATION_CANCELLED:
    case SP_LEDGER_EVENT_OPERATION_REFERENCE_SET:
        return sp_ledger_apply_operation(state, pass, event, out, err);
    case SP_LEDGER_EVENT_OPERATIONS_RESERVED:
    case SP_LEDGER_EVENT_OPERATIONS_RELEASED:
    case SP_LEDGER_EVENT_OPERATIONS_SETTLED:
        return sp_ledger_apply_refund_part(state, pass, event, out, err);
    case SP_LEDGER_EVENT_PASS_CLOSED: return sp_ledger_apply_closed(state, pass, event, out, err);
    case SP_LEDGER_EVENT_PASS_OPENED:
    case SP_LEDGER_EVENT_REFUND_REQUEST_OPENED:
    case SP_LEDGER_EVENT_REFUND_REQUEST_CONFIRMED:
    case SP_LEDGER_EVENT_REFUND_REQUEST_CANCELLED:
    case SP_LEDGER_EVENT_REFUND_REQUEST_PAID: break;
    }
    return invalid_event(err, "unknown kind");
}

int sp_ledger_apply(sp_ledger_state *state, const sp_ledger_event *event, sp_ledger_applied *out,
                    sp_error *err) {
    assert(state != NULL);
    assert(event != NULL);
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    if (!sp_id_valid(event->pass_id) || event->occurred_at_ms < 0) {
        return invalid_event(err, "pass id or time");
    }
    /* A refund request is an aggregate of its own, with its own versions. */
    if (sp_ledger_event_of_refund_request(event)) {
        return sp_ledger_apply_refund_request(state, event, out, err);
    }
    sp_ledger_pass *pass = pass_get(state, event->pass_id);
    bool opening = event->kind == SP_LEDGER_EVENT_PASS_OPENED;
    uint64_t next_version = pass != NULL ? pass->version + 1 : 1;
    /* A duplicate, a second writer's event, or an event of a pass never opened. */
    if (event->version != next_version || (pass == NULL) != opening) {
        out->skipped = true;
        state->events_skipped++;
        return 0;
    }
    int rc = opening ? apply_opened(state, event, out, err)
                     : apply_to_pass(state, pass, event, out, err);
    if (rc != 0) return -1;
    if (pass != NULL) pass->version = event->version;
    assert(sp_ledger_pass_find(state, event->pass_id)->version == event->version);
    state->events_applied++;
    return 0;
}

void sp_ledger_event_clear(sp_ledger_event *event) {
    _Static_assert(offsetof(sp_ledger_event, operation_ids) + sizeof event->operation_ids +
                           _Alignof(sp_ledger_event) >
                       sizeof(sp_ledger_event),
                   "the operation id slots are the event's last field");
    assert(event != NULL);
    memset(event, 0, offsetof(sp_ledger_event, operation_ids));
}

const char *sp_ledger_event_type(sp_ledger_event_kind kind) {
    switch (kind) {
    case SP_LEDGER_EVENT_PASS_OPENED: return SP_LEDGER_TYPE_PASS_OPENED;
    case SP_LEDGER_EVENT_PASS_CREDITED: return SP_LEDGER_TYPE_PASS_CREDITED;
    case SP_LEDGER_EVENT_PAYMENT_ACCEPTED: return SP_LEDGER_TYPE_PAYMENT_ACCEPTED;
    case SP_LEDGER_EVENT_ENVELOPE_EXPIRED: return SP_LEDGER_TYPE_ENVELOPE_EXPIRED;
    case SP_LEDGER_EVENT_COMMAND_REJECTED: return SP_LEDGER_TYPE_COMMAND_REJECTED;
    case SP_LEDGER_EVENT_VOUCHER_ISSUED: return SP_LEDGER_TYPE_VOUCHER_ISSUED;
    case SP_LEDGER_EVENT_VOUCHER_REDEEMED: return SP_LEDGER_TYPE_VOUCHER_REDEEMED;
    case SP_LEDGER_EVENT_VOUCHER_CANCELLED: return SP_LEDGER_TYPE_VOUCHER_CANCELLED;
    case SP_LEDGER_EVENT_VOUCHER_EXPIRED: return SP_LEDGER_TYPE_VOUCHER_EXPIRED;
    case SP_LEDGER_EVENT_OPERATION_CANCELLED: return SP_LEDGER_TYPE_OPERATION_CANCELLED;
    case SP_LEDGER_EVENT_OPERATION_REFERENCE_SET: return SP_LEDGER_TYPE_OPERATION_REFERENCE_SET;
    case SP_LEDGER_EVENT_REFUND_REQUEST_OPENED: return SP_LEDGER_TYPE_REFUND_REQUEST_OPENED;
    case SP_LEDGER_EVENT_REFUND_REQUEST_CONFIRMED: return SP_LEDGER_TYPE_REFUND_REQUEST_CONFIRMED;
    case SP_LEDGER_EVENT_REFUND_REQUEST_CANCELLED: return SP_LEDGER_TYPE_REFUND_REQUEST_CANCELLED;
    case SP_LEDGER_EVENT_REFUND_REQUEST_PAID: return SP_LEDGER_TYPE_REFUND_REQUEST_PAID;
    case SP_LEDGER_EVENT_OPERATIONS_RESERVED: return SP_LEDGER_TYPE_OPERATIONS_RESERVED;
    case SP_LEDGER_EVENT_OPERATIONS_RELEASED: return SP_LEDGER_TYPE_OPERATIONS_RELEASED;
    case SP_LEDGER_EVENT_OPERATIONS_SETTLED: return SP_LEDGER_TYPE_OPERATIONS_SETTLED;
    case SP_LEDGER_EVENT_PASS_CLOSED: return SP_LEDGER_TYPE_PASS_CLOSED;
    }
    assert(!"unknown ledger event kind");
    return "";
}
