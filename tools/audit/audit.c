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
    uint64_t version; /* the last version applied */
} audit_pass;

/* Every operation created; state 0 for those without a life (credits,
 * expiries), else its sp_audit_op_state. */
typedef struct audit_operation {
    char id[SP_AUDIT_ID_MAX];
    uint8_t state;
    int64_t amount_cents;
    uint8_t request[SP_KEY_LEN]; /* requested / paid: the request's key */
} audit_operation;

typedef struct audit_request {
    char id[SP_AUDIT_ID_MAX];
    uint8_t state;                  /* sp_audit_request_state */
    int64_t total_cents;            /* confirmed */
    int64_t operation_count;        /* confirmed */
    int64_t held_cents, held_count; /* sp_audit_finish: its requested and paid operations */
} audit_request;

struct sp_audit {
    sp_map accounts;   /* key_of(account) -> audit_account */
    sp_map passes;     /* key_of(pass id) -> audit_pass */
    sp_map operations; /* key_of(operation id) -> audit_operation */
    sp_map requests;   /* key_of(request id) -> audit_request */
    sp_audit_verdict verdicts[SP_AUDIT_CHECK_COUNT];
    int64_t total_cents; /* sum of every balance */
    size_t event_count;
    size_t duplicate_count;
};

static const char *const audit_check_names[SP_AUDIT_CHECK_COUNT] = {
    [SP_AUDIT_POSTINGS] = "postings balanced and positive",
    [SP_AUDIT_NON_NEGATIVE] = "pass, partner, voucher, refund and bank accounts never negative",
    [SP_AUDIT_ZERO_SUM] = "balances sum to zero",
    [SP_AUDIT_VERSIONS] = "pass versions contiguous",
    [SP_AUDIT_OPERATIONS] = "operation ids unique",
    [SP_AUDIT_OPERATION_STATES] = "every operation in exactly one state",
    [SP_AUDIT_REFUND_TOTALS] = "refund request totals equal their operations",
};

sp_audit *sp_audit_new(size_t accounts_max, size_t passes_max, size_t operations_max,
                       sp_error *err) {
    sp_audit *audit = calloc(1, sizeof *audit);
    if (audit == NULL) {
        sp_error_set(err, 500, "out_of_memory", "", "auditor");
        return NULL;
    }
    if (sp_map_init(&audit->accounts, accounts_max, err) != 0) goto fail_accounts;
    if (sp_map_init(&audit->passes, passes_max, err) != 0) goto fail_passes;
    if (sp_map_init(&audit->operations, operations_max, err) != 0) goto fail_operations;
    /* A request holds at least one operation: no more requests than operations. */
    if (sp_map_init(&audit->requests, operations_max, err) != 0) goto fail_requests;
    return audit;
fail_requests:
    sp_map_destroy(&audit->operations);
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
    if (audit == NULL) return;
    sp_map_foreach(&audit->accounts, free_value, NULL);
    sp_map_foreach(&audit->passes, free_value, NULL);
    sp_map_foreach(&audit->operations, free_value, NULL);
    sp_map_foreach(&audit->requests, free_value, NULL);
    sp_map_destroy(&audit->accounts);
    sp_map_destroy(&audit->passes);
    sp_map_destroy(&audit->operations);
    sp_map_destroy(&audit->requests);
    free(audit);
}

/* Records the first failure of a check only: later ones add nothing an
 * operator needs to start looking. */
static void audit_fail(sp_audit *audit, sp_audit_check check, const sp_audit_event *event,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void audit_fail(sp_audit *audit, sp_audit_check check, const sp_audit_event *event,
                       const char *fmt, ...) {
    sp_audit_verdict *verdict = &audit->verdicts[check];
    if (verdict->failed) return;
    verdict->failed = true;
    int used = 0;
    if (event != NULL)
        used = snprintf(verdict->why, sizeof verdict->why,
                        "%s[%" PRId32 "] offset %" PRId64 " %s %s: ",
                        event->topic ? event->topic : "?", event->partition, event->offset,
                        event->type ? event->type : "?",
                        event->aggregate_id ? event->aggregate_id : "?");
    if (used < 0 || (size_t)used >= sizeof verdict->why)
        return; /* the place alone fills the line: the reason is cut */
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
    return has_prefix(account, "pass:") || has_prefix(account, "voucher:") ||
           has_prefix(account, "refund:") || strcmp(account, "bank") == 0 ||
           (has_prefix(account, "partner:") && has_suffix(account, ":owed"));
}

static bool account_name_known(const char *account) {
    size_t len = strlen(account);
    if (len == 0 || len >= SP_AUDIT_ACCOUNT_MAX) return false;
    if (strcmp(account, "budget") == 0 || strcmp(account, "bank") == 0) return true;
    if (has_prefix(account, "refund:")) return len > strlen("refund:");
    if (has_prefix(account, "partner:"))
        return has_suffix(account, ":owed") && len > strlen("partner::owed");
    if (has_prefix(account, "voucher:")) return len > strlen("voucher:");
    if (has_prefix(account, "pass:")) return strchr(account + strlen("pass:"), ':') != NULL;
    return false;
}

/* A pass account named in an event must be that event's pass's own. */
static bool account_belongs_to_event(const char *account, const char *pass_id) {
    if (!has_prefix(account, "pass:")) return true;
    const char *rest = account + strlen("pass:");
    size_t id_len = strlen(pass_id);
    return strncmp(rest, pass_id, id_len) == 0 && rest[id_len] == ':';
}

static const char *posting_fault(const sp_audit_posting *posting, const char *pass_id) {
    if (posting->debit_account == NULL || posting->credit_account == NULL)
        return "an account is missing";
    if (posting->amount_cents <= 0) return "amount is not positive";
    if (strcmp(posting->debit_account, posting->credit_account) == 0)
        return "debit and credit accounts are the same";
    if (!account_name_known(posting->debit_account) || !account_name_known(posting->credit_account))
        return "unknown account name";
    if (!account_belongs_to_event(posting->debit_account, pass_id) ||
        !account_belongs_to_event(posting->credit_account, pass_id))
        return "names another pass's envelope";
    return NULL;
}

static audit_account *account_get_or_add(sp_audit *audit, const char *name, sp_error *err) {
    uint8_t key[SP_KEY_LEN];
    sp_key_of(key, name, NULL, NULL, NULL);
    audit_account *account = sp_map_get(&audit->accounts, key);
    if (account != NULL) return account;
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
    if (credit == NULL) return -1;
    int64_t debit_before = debit->balance_cents, credit_before = credit->balance_cents;
    int64_t total = *total_cents;
    if (!sp_money_sub(debit->balance_cents, posting->amount_cents, &debit->balance_cents) ||
        !sp_money_add(credit->balance_cents, posting->amount_cents, &credit->balance_cents) ||
        !sp_money_add(total, debit->balance_cents - debit_before, &total) ||
        !sp_money_add(total, credit->balance_cents - credit_before, &total))
        return sp_error_set(err, 500, "overflow", "", "balance of %s or %s overflows", debit->name,
                            credit->name);
    *total_cents = total;
    return 0;
}

static void check_non_negative(sp_audit *audit, const sp_audit_event *event) {
    for (size_t i = 0; i < event->posting_count; i++) {
        const char *names[2] = {event->postings[i].debit_account,
                                event->postings[i].credit_account};
        for (size_t j = 0; j < 2; j++) {
            if (names[j] == NULL || !account_must_stay_non_negative(names[j])) continue;
            int64_t balance = sp_audit_balance(audit, names[j]);
            if (balance < 0)
                audit_fail(audit, SP_AUDIT_NON_NEGATIVE, event, "%s is %" PRId64 " cents", names[j],
                           balance);
        }
    }
}

static int apply_postings(sp_audit *audit, const sp_audit_event *event, sp_error *err) {
    const char *pass_id = event->aggregate_id ? event->aggregate_id : "";
    for (size_t i = 0; i < event->posting_count; i++) {
        const sp_audit_posting *posting = &event->postings[i];
        const char *fault = posting_fault(posting, pass_id);
        if (fault != NULL) {
            audit_fail(audit, SP_AUDIT_POSTINGS, event,
                       "posting %zu (%s -> %s, %" PRId64 " cents): %s", i,
                       posting->debit_account ? posting->debit_account : "",
                       posting->credit_account ? posting->credit_account : "",
                       posting->amount_cents, fault);
            continue; /* what cannot be a movement is not applied */
        }
        if (posting_apply(audit, posting, &audit->total_cents, err) != 0) return -1;
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
        if (pass == NULL) return sp_error_set(err, 500, "out_of_memory", "", "pass");
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
    if (event->aggregate_version > pass->version) pass->version = event->aggregate_version;
    return 1;
}

/* Payments (by code or by voucher) are the operations with a life. */
static bool creates_payment(const sp_audit_event *event) {
    return event->type != NULL && (strcmp(event->type, "ledger.PaymentAccepted.v1") == 0 ||
                                   strcmp(event->type, "ledger.VoucherRedeemed.v1") == 0);
}

static int check_operation(sp_audit *audit, const sp_audit_event *event, sp_error *err) {
    if (event->operation_id == NULL || event->operation_id[0] == '\0') return 0;
    uint8_t key[SP_KEY_LEN];
    sp_key_of(key, event->operation_id, NULL, NULL, NULL);
    if (sp_map_get(&audit->operations, key) != NULL) {
        audit_fail(audit, SP_AUDIT_OPERATIONS, event, "operation %s was already created",
                   event->operation_id);
        return 0;
    }
    audit_operation *op = calloc(1, sizeof *op);
    if (op == NULL) return sp_error_set(err, 500, "out_of_memory", "", "operation");
    snprintf(op->id, sizeof op->id, "%s", event->operation_id);
    if (creates_payment(event) && event->posting_count > 0) {
        op->state = SP_AUDIT_OP_ACCEPTED;
        op->amount_cents = event->postings[0].amount_cents;
    }
    if (sp_map_put(&audit->operations, key, op, err) != 0) {
        free(op);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ refund life */

static const char *const op_state_names[] = {[SP_AUDIT_OP_ACCEPTED] = "accepted",
                                             [SP_AUDIT_OP_REQUESTED] = "requested",
                                             [SP_AUDIT_OP_PAID] = "paid",
                                             [SP_AUDIT_OP_CANCELLED] = "cancelled"};

const char *sp_audit_op_state_name(sp_audit_op_state state) {
    assert(state >= SP_AUDIT_OP_ACCEPTED && state <= SP_AUDIT_OP_CANCELLED);
    return op_state_names[state];
}

static bool type_is(const sp_audit_event *event, const char *type) {
    return event->type != NULL && strcmp(event->type, type) == 0;
}

static audit_request *request_get_or_add(sp_audit *audit, const char *request_id, sp_error *err) {
    uint8_t key[SP_KEY_LEN];
    sp_key_of(key, request_id, NULL, NULL, NULL);
    audit_request *request = sp_map_get(&audit->requests, key);
    if (request != NULL) return request;
    request = calloc(1, sizeof *request);
    if (request == NULL) {
        sp_error_set(err, 500, "out_of_memory", "", "request");
        return NULL;
    }
    snprintf(request->id, sizeof request->id, "%s", request_id);
    request->state = SP_AUDIT_REQUEST_OPENING;
    if (sp_map_put(&audit->requests, key, request, err) != 0) {
        free(request);
        return NULL;
    }
    return request;
}

/* What an Operations* event may move: from one state to another, within
 * the event's request. */
typedef struct part_move {
    const char *what; /* "reserved", "released", "settled" */
    uint8_t from, to;
} part_move;

static const part_move *part_move_of(const sp_audit_event *event) {
    static const part_move moves[] = {
        {"reserved", SP_AUDIT_OP_ACCEPTED, SP_AUDIT_OP_REQUESTED},
        {"released", SP_AUDIT_OP_REQUESTED, SP_AUDIT_OP_ACCEPTED},
        {"settled", SP_AUDIT_OP_REQUESTED, SP_AUDIT_OP_PAID},
    };
    if (type_is(event, "ledger.OperationsReserved.v1")) return &moves[0];
    if (type_is(event, "ledger.OperationsReleased.v1")) return &moves[1];
    if (type_is(event, "ledger.OperationsSettled.v1")) return &moves[2];
    return NULL;
}

/* One operation of a part: it must be a payment in the move's from state
 * (and of this request when leaving requested). Returns its amount, or -1. */
static int64_t move_operation(sp_audit *audit, const sp_audit_event *event, const part_move *move,
                              const char *operation_id, const uint8_t request_key[SP_KEY_LEN]) {
    uint8_t key[SP_KEY_LEN];
    sp_key_of(key, operation_id, NULL, NULL, NULL);
    audit_operation *op = sp_map_get(&audit->operations, key);
    if (op == NULL || op->state == 0) {
        audit_fail(audit, SP_AUDIT_OPERATION_STATES, event,
                   "operation %s %s is not a payment "
                   "of the log",
                   operation_id, move->what);
        return -1;
    }
    bool same_request = memcmp(op->request, request_key, SP_KEY_LEN) == 0;
    if (op->state != move->from || (move->from == SP_AUDIT_OP_REQUESTED && !same_request)) {
        audit_fail(audit, SP_AUDIT_OPERATION_STATES, event, "operation %s %s while %s%s",
                   operation_id, move->what, op_state_names[op->state],
                   op->state == SP_AUDIT_OP_REQUESTED && !same_request ? " by another request"
                                                                       : "");
        return -1;
    }
    op->state = move->to;
    if (move->to == SP_AUDIT_OP_ACCEPTED) memset(op->request, 0, SP_KEY_LEN);
    else memcpy(op->request, request_key, SP_KEY_LEN);
    return op->amount_cents;
}

static int apply_part(sp_audit *audit, const sp_audit_event *event, const part_move *move,
                      sp_error *err) {
    const char *request_id = event->request_id ? event->request_id : "";
    audit_request *request = request_get_or_add(audit, request_id, err);
    if (request == NULL) return -1;
    uint8_t request_key[SP_KEY_LEN];
    sp_key_of(request_key, request_id, NULL, NULL, NULL);
    int64_t sum = 0;
    bool all_moved = true;
    for (size_t i = 0; i < event->operation_id_count; i++) {
        int64_t amount = move_operation(audit, event, move, event->operation_ids[i], request_key);
        all_moved = all_moved && amount >= 0;
        if (amount >= 0 && !sp_money_add(sum, amount, &sum))
            return sp_error_set(err, 500, "overflow", "", "a part's sum overflows");
    }
    /* An operation that could not move is reported as such, not as a sum. */
    if (all_moved && sum != event->amount_cents)
        audit_fail(audit, SP_AUDIT_REFUND_TOTALS, event,
                   "%s part of request %s says %" PRId64 " cents, its operations sum to %" PRId64,
                   move->what, request_id, event->amount_cents, sum);
    return 0;
}

static void cancel_operation(sp_audit *audit, const sp_audit_event *event) {
    for (size_t i = 0; i < event->operation_id_count; i++) {
        uint8_t key[SP_KEY_LEN];
        sp_key_of(key, event->operation_ids[i], NULL, NULL, NULL);
        audit_operation *op = sp_map_get(&audit->operations, key);
        if (op == NULL || op->state != SP_AUDIT_OP_ACCEPTED) {
            audit_fail(audit, SP_AUDIT_OPERATION_STATES, event, "operation %s cancelled while %s",
                       event->operation_ids[i],
                       op == NULL || op->state == 0 ? "not a payment of the log"
                                                    : op_state_names[op->state]);
            continue;
        }
        op->state = SP_AUDIT_OP_CANCELLED;
    }
}

/* The request aggregate's own events. Its parts are on its passes'
 * partitions, read in no order relative to its own: the total is compared
 * with its operations at the end (sp_audit_finish). */
static int apply_request(sp_audit *audit, const sp_audit_event *event, sp_error *err) {
    const char *id = event->aggregate_id ? event->aggregate_id : "";
    audit_request *request = request_get_or_add(audit, id, err);
    if (request == NULL) return -1;
    if (type_is(event, "ledger.RefundRequestConfirmed.v1")) {
        request->total_cents = event->amount_cents;
        request->operation_count = event->operation_count;
        request->state = SP_AUDIT_REQUEST_PENDING;
    } else if (type_is(event, "ledger.RefundRequestPaid.v1")) {
        if (event->amount_cents != request->total_cents)
            audit_fail(audit, SP_AUDIT_REFUND_TOTALS, event,
                       "request %s paid %" PRId64 " cents, it was confirmed for %" PRId64, id,
                       event->amount_cents, request->total_cents);
        request->state = SP_AUDIT_REQUEST_PAID;
    } else if (type_is(event, "ledger.RefundRequestCancelled.v1")) {
        request->state = SP_AUDIT_REQUEST_CANCELLED;
    }
    return 0;
}

static int life_apply(sp_audit *audit, const sp_audit_event *event, sp_error *err) {
    const part_move *move = part_move_of(event);
    if (move != NULL) return apply_part(audit, event, move, err);
    if (type_is(event, "ledger.OperationCancelled.v1")) {
        cancel_operation(audit, event);
        return 0;
    }
    if (event->type != NULL && has_prefix(event->type, "ledger.RefundRequest"))
        return apply_request(audit, event, err);
    return 0;
}

int sp_audit_feed(sp_audit *audit, const sp_audit_event *event, sp_error *err) {
    assert(audit != NULL && event != NULL);
    assert(event->posting_count == 0 || event->postings != NULL);
    audit->event_count++;
    int applies = check_version(audit, event, err);
    if (applies <= 0) return applies;
    if (check_operation(audit, event, err) != 0 || life_apply(audit, event, err) != 0) return -1;
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

static void hold_operation(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    (void)key;
    sp_audit *audit = ctx;
    const audit_operation *op = value;
    if (op->state != SP_AUDIT_OP_REQUESTED && op->state != SP_AUDIT_OP_PAID) return;
    audit_request *request = sp_map_get(&audit->requests, op->request);
    if (request == NULL) return; /* a part without its request: reported when the part moved */
    request->held_cents += op->amount_cents;
    request->held_count++;
}

static void check_request_total(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    (void)key;
    sp_audit *audit = ctx;
    const audit_request *r = value;
    if (r->state != SP_AUDIT_REQUEST_PENDING && r->state != SP_AUDIT_REQUEST_PAID) return;
    if (r->held_cents != r->total_cents || r->held_count != r->operation_count)
        audit_fail(audit, SP_AUDIT_REFUND_TOTALS, NULL,
                   "at the end: request %s was confirmed "
                   "for %" PRId64 " cents and %" PRId64 " operations, its operations hold %" PRId64
                   " cents and %" PRId64,
                   r->id, r->total_cents, r->operation_count, r->held_cents, r->held_count);
}

void sp_audit_finish(sp_audit *audit) {
    sp_map_foreach(&audit->operations, hold_operation, audit);
    sp_map_foreach(&audit->requests, check_request_total, audit);
    audit_sum sum = {0, false};
    sp_map_foreach(&audit->accounts, sum_account, &sum);
    if (sum.overflowed) audit_fail(audit, SP_AUDIT_ZERO_SUM, NULL, "at the end: the sum overflows");
    else if (sum.total_cents != 0)
        audit_fail(audit, SP_AUDIT_ZERO_SUM, NULL, "at the end: balances sum to %" PRId64 " cents",
                   sum.total_cents);
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
        if (audit->verdicts[i].failed) return false;
    return true;
}

size_t sp_audit_event_count(const sp_audit *audit) {
    return audit->event_count;
}
size_t sp_audit_duplicate_count(const sp_audit *audit) {
    return audit->duplicate_count;
}
size_t sp_audit_account_count(const sp_audit *audit) {
    return audit->accounts.entry_count;
}
size_t sp_audit_pass_count(const sp_audit *audit) {
    return audit->passes.entry_count;
}

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

typedef struct audit_op_visit {
    sp_audit_operation_fn fn;
    void *ctx;
} audit_op_visit;

static void visit_operation(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    (void)key;
    audit_op_visit *visit = ctx;
    const audit_operation *op = value;
    if (op->state != 0) visit->fn(visit->ctx, op->id, (sp_audit_op_state)op->state);
}

void sp_audit_foreach_operation(const sp_audit *audit, sp_audit_operation_fn fn, void *ctx) {
    audit_op_visit visit = {fn, ctx};
    sp_map_foreach(&audit->operations, visit_operation, &visit);
}

typedef struct audit_request_visit {
    sp_audit_request_fn fn;
    void *ctx;
} audit_request_visit;

static void visit_request(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    (void)key;
    audit_request_visit *visit = ctx;
    const audit_request *request = value;
    visit->fn(visit->ctx, request->id, (sp_audit_request_state)request->state,
              request->total_cents);
}

void sp_audit_foreach_request(const sp_audit *audit, sp_audit_request_fn fn, void *ctx) {
    audit_request_visit visit = {fn, ctx};
    sp_map_foreach(&audit->requests, visit_request, &visit);
}
