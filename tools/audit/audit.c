/* audit.c - the pure checks of solipass-audit (see audit.h). */
#include "audit.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sp_id.h"
#include "sp_map.h"
#include "sp_money.h"

typedef struct audit_account {
    char name[SP_AUDIT_ACCOUNT_MAX];
    int64_t balance_cents;
} audit_account;

typedef struct audit_pass {
    uint64_t version;                 /* the last version applied */
} audit_pass;

/* Operation ids only need to be remembered, not described: one shared marker. */
static int audit_seen_marker;

struct sp_audit {
    sp_map accounts;                  /* key_of(account) -> audit_account */
    sp_map passes;                    /* key_of(pass id) -> audit_pass */
    sp_map operations;                /* key_of(operation id) -> &audit_seen_marker */
    sp_audit_verdict verdicts[SP_AUDIT_CHECK_COUNT];
    int64_t total_cents;              /* sum of every balance */
    size_t event_count;
    size_t duplicate_count;
};

static const char *const audit_check_names[SP_AUDIT_CHECK_COUNT] = {
    [SP_AUDIT_POSTINGS] = "postings balanced and positive",
    [SP_AUDIT_NON_NEGATIVE] = "pass, partner and voucher accounts never negative",
    [SP_AUDIT_ZERO_SUM] = "balances sum to zero",
    [SP_AUDIT_VERSIONS] = "pass versions contiguous",
    [SP_AUDIT_OPERATIONS] = "operation ids unique",
};

sp_audit *sp_audit_new(size_t accounts_max, size_t passes_max, size_t operations_max,
                       sp_error *err) {
    sp_audit *audit = calloc(1, sizeof *audit);
    if (audit == NULL) {
        sp_error_set(err, 500, "out_of_memory", "", "auditor");
        return NULL;
    }
    if (sp_map_init(&audit->accounts, accounts_max, err) != 0)
        goto fail_accounts;
    if (sp_map_init(&audit->passes, passes_max, err) != 0)
        goto fail_passes;
    if (sp_map_init(&audit->operations, operations_max, err) != 0)
        goto fail_operations;
    return audit;
fail_operations:
    sp_map_destroy(&audit->passes);
fail_passes:
    sp_map_destroy(&audit->accounts);
fail_accounts:
    free(audit);
    return NULL;
}

static void free_value(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    (void)ctx;
    (void)key;
    free(value);
}

void sp_audit_free(sp_audit *audit) {
    if (audit == NULL)
        return;
    sp_map_foreach(&audit->accounts, free_value, NULL);
    sp_map_foreach(&audit->passes, free_value, NULL);
    sp_map_destroy(&audit->accounts);
    sp_map_destroy(&audit->passes);
    sp_map_destroy(&audit->operations);
    free(audit);
}

/* Records the first failure of a check only: later ones add nothing an
 * operator needs to start looking. */
static void audit_fail(sp_audit *audit, sp_audit_check check, const sp_audit_event *event,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void audit_fail(sp_audit *audit, sp_audit_check check, const sp_audit_event *event,
                       const char *fmt, ...) {
    sp_audit_verdict *verdict = &audit->verdicts[check];
    if (verdict->failed)
        return;
    verdict->failed = true;
    int used = 0;
    if (event != NULL)
        used = snprintf(verdict->why, sizeof verdict->why,
                        "%s[%" PRId32 "] offset %" PRId64 " %s %s: ",
                        event->topic ? event->topic : "?", event->partition, event->offset,
                        event->type ? event->type : "?",
                        event->aggregate_id ? event->aggregate_id : "?");
    if (used < 0 || (size_t)used >= sizeof verdict->why)
        return;   /* the place alone fills the line: the reason is cut */
    va_list args;
    va_start(args, fmt);
    vsnprintf(verdict->why + used, sizeof verdict->why - (size_t)used, fmt, args);
    va_end(args);
}

static bool has_prefix(const char *text, const char *prefix) {
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

static bool has_suffix(const char *text, const char *suffix) {
    size_t text_len = strlen(text), suffix_len = strlen(suffix);
    return text_len >= suffix_len && strcmp(text + text_len - suffix_len, suffix) == 0;
}

/* Accounts that hold someone's money, as opposed to the budget (their source). */
static bool account_must_stay_non_negative(const char *account) {
    return has_prefix(account, "pass:") || has_prefix(account, "voucher:")
        || (has_prefix(account, "partner:") && has_suffix(account, ":owed"))
        || has_prefix(account, "refund:") || strcmp(account, "bank") == 0;
}

static bool account_name_known(const char *account) {
    size_t len = strlen(account);
    if (len == 0 || len >= SP_AUDIT_ACCOUNT_MAX)
        return false;
    if (strcmp(account, "budget") == 0 || strcmp(account, "bank") == 0)
        return true;
    if (has_prefix(account, "refund:"))
        return len > strlen("refund:");
    if (has_prefix(account, "partner:"))
        return has_suffix(account, ":owed") && len > strlen("partner::owed");
    if (has_prefix(account, "voucher:"))
        return len > strlen("voucher:");
    if (has_prefix(account, "pass:"))
        return strchr(account + strlen("pass:"), ':') != NULL;
    return false;
}

/* A pass account named in an event must be that event's pass's own. */
static bool account_belongs_to_event(const char *account, const char *pass_id) {
    if (!has_prefix(account, "pass:"))
        return true;
    const char *rest = account + strlen("pass:");
    size_t id_len = strlen(pass_id);
    return strncmp(rest, pass_id, id_len) == 0 && rest[id_len] == ':';
}

static const char *posting_fault(const sp_audit_posting *posting, const char *pass_id) {
    if (posting->debit_account == NULL || posting->credit_account == NULL)
        return "an account is missing";
    if (posting->amount_cents <= 0)
        return "amount is not positive";
    if (strcmp(posting->debit_account, posting->credit_account) == 0)
        return "debit and credit accounts are the same";
    if (!account_name_known(posting->debit_account) || !account_name_known(posting->credit_account))
        return "unknown account name";
    if (!account_belongs_to_event(posting->debit_account, pass_id)
        || !account_belongs_to_event(posting->credit_account, pass_id))
        return "names another pass's envelope";
    return NULL;
}

static audit_account *account_get_or_add(sp_audit *audit, const char *name, sp_error *err) {
    uint8_t key[SP_KEY_LEN];
    sp_key_of(key, name, NULL, NULL, NULL);
    audit_account *account = sp_map_get(&audit->accounts, key);
    if (account != NULL)
        return account;
    account = calloc(1, sizeof *account);
    if (account == NULL) {
        sp_error_set(err, 500, "out_of_memory", "", "account");
        return NULL;
    }
    snprintf(account->name, sizeof account->name, "%s", name);
    if (sp_map_put(&audit->accounts, key, account, err) != 0) {
        free(account);
        return NULL;
    }
    return account;
}

/* Moves the amount; the balance check comes after the whole event, since
 * "never below zero" holds between events, not between legs. */
/* The running total follows what the two balances actually became, so that
 * it checks the arithmetic rather than restating double entry. */
static int posting_apply(sp_audit *audit, const sp_audit_posting *posting, int64_t *total_cents,
                         sp_error *err) {
    audit_account *debit = account_get_or_add(audit, posting->debit_account, err);
    audit_account *credit = debit ? account_get_or_add(audit, posting->credit_account, err) : NULL;
    if (credit == NULL)
        return -1;
    int64_t debit_before = debit->balance_cents, credit_before = credit->balance_cents;
    int64_t total = *total_cents;
    if (!sp_money_sub(debit->balance_cents, posting->amount_cents, &debit->balance_cents)
        || !sp_money_add(credit->balance_cents, posting->amount_cents, &credit->balance_cents)
        || !sp_money_add(total, debit->balance_cents - debit_before, &total)
        || !sp_money_add(total, credit->balance_cents - credit_before, &total))
        return sp_error_set(err, 500, "overflow", "", "balance of %s or %s overflows",
                            debit->name, credit->name);
    *total_cents = total;
    return 0;
}

static void check_non_negative(sp_audit *audit, const sp_audit_event *event) {
    for (size_t i = 0; i < event->posting_count; i++) {
        const char *names[2] = {event->postings[i].debit_account, event->postings[i].credit_account};
        for (size_t j = 0; j < 2; j++) {
            if (names[j] == NULL || !account_must_stay_non_negative(names[j]))
                continue;
            int64_t balance = sp_audit_balance(audit, names[j]);
            if (balance < 0)
                audit_fail(audit, SP_AUDIT_NON_NEGATIVE, event, "%s is %" PRId64 " cents",
                           names[j], balance);
        }
    }
}

static int apply_postings(sp_audit *audit, const sp_audit_event *event, sp_error *err) {
    const char *pass_id = event->aggregate_id ? event->aggregate_id : "";
    for (size_t i = 0; i < event->posting_count; i++) {
        const sp_audit_posting *posting = &event->postings[i];
        const char *fault = posting_fault(posting, pass_id);
        if (fault != NULL) {
            audit_fail(audit, SP_AUDIT_POSTINGS, event, "posting %zu (%s -> %s, %" PRId64
                       " cents): %s", i, posting->debit_account ? posting->debit_account : "",
                       posting->credit_account ? posting->credit_account : "",
                       posting->amount_cents, fault);
            continue;   /* what cannot be a movement is not applied */
        }
        if (posting_apply(audit, posting, &audit->total_cents, err) != 0)
            return -1;
    }
    check_non_negative(audit, event);
    if (audit->total_cents != 0)
        audit_fail(audit, SP_AUDIT_ZERO_SUM, event, "balances sum to %" PRId64 " cents",
                   audit->total_cents);
    return 0;
}

/* 1 = apply the event, 0 = a duplicate to ignore, -1 = error. */
static int check_version(sp_audit *audit, const sp_audit_event *event, sp_error *err) {
    uint8_t key[SP_KEY_LEN];
    sp_key_of(key, event->aggregate_id ? event->aggregate_id : "", NULL, NULL, NULL);
    audit_pass *pass = sp_map_get(&audit->passes, key);
    if (pass == NULL) {
        pass = calloc(1, sizeof *pass);
        if (pass == NULL)
            return sp_error_set(err, 500, "out_of_memory", "", "pass");
        if (sp_map_put(&audit->passes, key, pass, err) != 0) {
            free(pass);
            return -1;
        }
    }
    if (event->aggregate_version != 0 && event->aggregate_version <= pass->version) {
        audit->duplicate_count++;
        return 0;
    }
    if (event->aggregate_version != pass->version + 1)
        audit_fail(audit, SP_AUDIT_VERSIONS, event, "version %" PRIu64 " after %" PRIu64,
                   event->aggregate_version, pass->version);
    if (event->aggregate_version > pass->version)
        pass->version = event->aggregate_version;
    return 1;
}

static int check_operation(sp_audit *audit, const sp_audit_event *event, sp_error *err) {
    if (event->operation_id == NULL || event->operation_id[0] == '\0')
        return 0;
    uint8_t key[SP_KEY_LEN];
    sp_key_of(key, event->operation_id, NULL, NULL, NULL);
    if (sp_map_get(&audit->operations, key) != NULL) {
        audit_fail(audit, SP_AUDIT_OPERATIONS, event, "operation %s was already created",
                   event->operation_id);
        return 0;
    }
    return sp_map_put(&audit->operations, key, &audit_seen_marker, err);
}

int sp_audit_feed(sp_audit *audit, const sp_audit_event *event, sp_error *err) {
    assert(audit != NULL && event != NULL);
    assert(event->posting_count == 0 || event->postings != NULL);
    audit->event_count++;
    int applies = check_version(audit, event, err);
    if (applies <= 0)
        return applies;
    if (check_operation(audit, event, err) != 0)
        return -1;
    return apply_postings(audit, event, err);
}

typedef struct audit_sum {
    int64_t total_cents;
    bool overflowed;
} audit_sum;

static void sum_account(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    (void)key;
    audit_sum *sum = ctx;
    const audit_account *account = value;
    if (!sp_money_add(sum->total_cents, account->balance_cents, &sum->total_cents))
        sum->overflowed = true;
}

void sp_audit_finish(sp_audit *audit) {
    audit_sum sum = {0, false};
    sp_map_foreach(&audit->accounts, sum_account, &sum);
    if (sum.overflowed)
        audit_fail(audit, SP_AUDIT_ZERO_SUM, NULL, "at the end: the sum overflows");
    else if (sum.total_cents != 0)
        audit_fail(audit, SP_AUDIT_ZERO_SUM, NULL, "at the end: balances sum to %" PRId64
                   " cents", sum.total_cents);
}

const sp_audit_verdict *sp_audit_verdict_of(const sp_audit *audit, sp_audit_check check) {
    assert(check >= 0 && check < SP_AUDIT_CHECK_COUNT);
    return &audit->verdicts[check];
}

const char *sp_audit_check_name(sp_audit_check check) {
    assert(check >= 0 && check < SP_AUDIT_CHECK_COUNT);
    return audit_check_names[check];
}

bool sp_audit_all_ok(const sp_audit *audit) {
    for (int i = 0; i < SP_AUDIT_CHECK_COUNT; i++)
        if (audit->verdicts[i].failed)
            return false;
    return true;
}

size_t sp_audit_event_count(const sp_audit *audit) { return audit->event_count; }
size_t sp_audit_duplicate_count(const sp_audit *audit) { return audit->duplicate_count; }
size_t sp_audit_account_count(const sp_audit *audit) { return audit->accounts.entry_count; }
size_t sp_audit_pass_count(const sp_audit *audit) { return audit->passes.entry_count; }

int64_t sp_audit_balance(const sp_audit *audit, const char *account) {
    uint8_t key[SP_KEY_LEN];
    sp_key_of(key, account, NULL, NULL, NULL);
    const audit_account *found = sp_map_get(&audit->accounts, key);
    return found ? found->balance_cents : 0;
}

typedef struct audit_visit {
    sp_audit_account_fn fn;
    void *ctx;
} audit_visit;

static void visit_account(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    (void)key;
    audit_visit *visit = ctx;
    const audit_account *account = value;
    visit->fn(visit->ctx, account->name, account->balance_cents);
}

void sp_audit_foreach_account(const sp_audit *audit, sp_audit_account_fn fn, void *ctx) {
    audit_visit visit = {fn, ctx};
    sp_map_foreach(&audit->accounts, visit_account, &visit);
}
