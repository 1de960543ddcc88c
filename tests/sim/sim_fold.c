/* sim_fold.c - the projection's stand-in: the read models' rows as the
 * statements of services/projection/projection_rows_*.c would write them,
 * one event at a time.
 *
 * The projection's own pure code ends at "event -> SQL text + parameters"
 * (sp_projection_row_build, which the simulation runs on every event to
 * check that none is poison); the rows themselves are written by
 * PostgreSQL running that SQL. This file mirrors the SQL's rules in C:
 * every pass event is applied only when it is the pass's next version
 * (`version = $2 - 1`), a refund request's own events likewise on the
 * request's version, inserts are `ON CONFLICT DO NOTHING`, a part row is
 * upserted by both the request and the pass. It is a mirror, not the SQL:
 * a rule changed in projection_rows_*.c must be changed here too (the gap is
 * documented in docs/architecture.md). */
#include <stdio.h>
#include <string.h>
#include "sim_internal.h"

void sim_fold_reset(sim_fold *fold) {
    memset(fold->passes, 0, sizeof fold->passes);
    memset(fold->ops, 0, fold->ops_used * sizeof fold->ops[0]);
    memset(fold->vouchers, 0, fold->vouchers_used * sizeof fold->vouchers[0]);
    memset(fold->requests, 0, fold->requests_used * sizeof fold->requests[0]);
    memset(fold->owed_cents, 0, sizeof fold->owed_cents);
    memset(fold->parts, 0, fold->part_count * sizeof fold->parts[0]);
    memset(fold->balances, 0, fold->balance_count * sizeof fold->balances[0]);
    memset(fold->next, 0, sizeof fold->next);
    memset(fold->read, 0, sizeof fold->read);
    fold->part_count = fold->balance_count = 0;
    fold->ops_used = fold->vouchers_used = fold->requests_used = 0;
}

static void used(size_t *hw, int index) {
    if (index >= 0 && (size_t)index + 1 > *hw) *hw = (size_t)index + 1;
}

/* ledger_balances: one upsert per account of the event's posting. */
static void add_balance(sim_fold *fold, const char *account, int64_t delta_cents) {
    for (size_t i = 0; i < fold->balance_count; i++) {
        if (strcmp(fold->balances[i].account, account) == 0) {
            fold->balances[i].balance_cents += delta_cents;
            return;
        }
    }
    if (fold->balance_count == SIM_FOLD_BALANCES_MAX) return; /* checked by the caller */
    sim_fold_balance *b = &fold->balances[fold->balance_count++];
    snprintf(b->account, sizeof b->account, "%s", account);
    b->balance_cents = delta_cents;
}

static void post(sim_fold *fold, const sim_fev *e) {
    if (e->posting_count == 0) return;
    add_balance(fold, e->debit, -e->posting_cents);
    add_balance(fold, e->credit, e->posting_cents);
}

static int partner_index(const sim_fev *e, const char partner_ids[][SIM_ID_SIZE]) {
    for (int i = 0; i < SIM_PARTNERS; i++)
        if (strcmp(partner_ids[i], e->partner_id) == 0) return i;
    return -1;
}

sim_fold_part *sim_fold_part_find(sim_fold *fold, int request, int pass) {
    for (size_t i = 0; i < fold->part_count; i++)
        if (fold->parts[i].request == request && fold->parts[i].pass == pass)
            return &fold->parts[i];
    return NULL;
}

static sim_fold_part *part_insert(sim_fold *fold, int request, int pass) {
    if (fold->part_count == SIM_FOLD_PARTS_MAX) return NULL;
    sim_fold_part *pt = &fold->parts[fold->part_count++];
    memset(pt, 0, sizeof *pt);
    pt->request = request;
    pt->pass = pass;
    pt->refusal_op = -1;
    return pt;
}

/* `UPDATE passes ... WHERE version = $2 - 1`: the gate of every pass event. */
static bool pass_next(sim_fold *fold, const sim_fev *e, bool check_version) {
    if (e->pass < 0) return false;
    sim_fold_pass *p = &fold->passes[e->pass];
    if (!p->exists || (check_version && p->version != e->version - 1)) return false;
    p->version = e->version;
    p->updated_at_ms = e->at_ms;
    return true;
}

static int envelope_of(const sim_fold_pass *p, const char *category) {
    for (size_t i = 0; i < p->envelope_count; i++)
        if (strcmp(p->categories[i], category) == 0) return (int)i;
    return -1;
}

static void set_envelope(sim_fold *fold, const sim_fev *e, int64_t cents, bool expire) {
    sim_fold_pass *p = &fold->passes[e->pass];
    int i = envelope_of(p, e->category);
    if (i < 0) return;
    p->envelope_cents[i] = cents;
    if (expire) p->expired[i] = true;
}

/* `INSERT INTO operations ... ON CONFLICT DO NOTHING` */
static void op_insert(sim_fold *fold, const sim_fev *e, sim_op_kind kind, int64_t amount_cents,
                      const char *partner_id) {
    if (e->op < 0 || fold->ops[e->op].exists) return;
    sim_fold_op *o = &fold->ops[e->op];
    memset(o, 0, sizeof *o); /* rows are compared byte for byte, padding included */
    o->exists = true;
    o->kind = kind;
    o->pass = e->pass;
    o->amount_cents = amount_cents;
    o->occurred_at_ms = e->at_ms;
    o->status = OP_ACCEPTED;
    o->request = -1;
    snprintf(o->partner_id, sizeof o->partner_id, "%s", partner_id);
    snprintf(o->category, sizeof o->category, "%s", e->category);
    used(&fold->ops_used, e->op);
}

static void apply_opened(sim_fold *fold, const sim_fev *e) {
    sim_fold_pass *p = &fold->passes[e->pass];
    if (p->exists) return; /* ON CONFLICT (pass_id) DO NOTHING */
    memset(p, 0, sizeof *p);
    p->exists = true;
    p->version = 1;
    p->updated_at_ms = e->at_ms;
    p->envelope_count = e->envelope_count;
    for (size_t i = 0; i < e->envelope_count; i++) {
        snprintf(p->categories[i], sizeof p->categories[i], "%s", e->envelope_categories[i]);
        snprintf(p->end_dates[i], sizeof p->end_dates[i], "%s", e->envelope_end_dates[i]);
    }
}

/* `INSERT INTO envelopes ... ON CONFLICT DO UPDATE`: a credit opens its
 * envelope or finds it, leaves it usable, sets or extends its end date. */
static void credit_envelope(sim_fold *fold, const sim_fev *e) {
    sim_fold_pass *p = &fold->passes[e->pass];
    int i = envelope_of(p, e->category);
    if (i < 0) {
        if (p->envelope_count == SIM_CATEGORIES) return;
        i = (int)p->envelope_count++;
        snprintf(p->categories[i], sizeof p->categories[i], "%s", e->category);
        p->end_dates[i][0] = '\0';
    }
    p->envelope_cents[i] = e->envelope_after_cents;
    p->expired[i] = false;
    if (e->end_date[0] != '\0')
        snprintf(p->end_dates[i], sizeof p->end_dates[i], "%s", e->end_date);
}

static void apply_movement(sim_fold *fold, const sim_fev *e, int owed_partner) {
    fold->passes[e->pass].balance_cents = e->pass_after_cents;
    bool expiry = e->kind == SP_LEDGER_EVENT_ENVELOPE_EXPIRED;
    if (e->kind == SP_LEDGER_EVENT_PASS_CREDITED) credit_envelope(fold, e);
    else set_envelope(fold, e, e->envelope_after_cents, expiry);
    if (e->kind == SP_LEDGER_EVENT_PASS_CREDITED)
        op_insert(fold, e, OPK_CREDIT, e->amount_cents, "");
    if (e->kind == SP_LEDGER_EVENT_PAYMENT_ACCEPTED) {
        op_insert(fold, e, OPK_PAYMENT, e->amount_cents, e->partner_id);
        if (owed_partner >= 0) fold->owed_cents[owed_partner] += e->amount_cents;
    }
    if (expiry && e->amount_cents > 0) op_insert(fold, e, OPK_EXPIRY, e->amount_cents, "");
    post(fold, e);
}

static void apply_voucher(sim_fold *fold, const sim_fev *e, int owed_partner) {
    fold->passes[e->pass].balance_cents = e->pass_after_cents;
    sim_fold_voucher *v = e->voucher >= 0 ? &fold->vouchers[e->voucher] : NULL;
    switch (e->kind) {
    case SP_LEDGER_EVENT_VOUCHER_ISSUED:
        set_envelope(fold, e, e->envelope_after_cents, false);
        if (v != NULL && !v->exists) {
            memset(v, 0, sizeof *v);
            v->exists = true;
            v->pass = e->pass;
            v->amount_cents = e->amount_cents;
            v->status = VO_ACTIVE;
            used(&fold->vouchers_used, e->voucher);
        }
        break;
    case SP_LEDGER_EVENT_VOUCHER_REDEEMED:
        if (v != NULL && v->exists && v->status == VO_ACTIVE) v->status = VO_REDEEMED;
        op_insert(fold, e, OPK_PAYMENT, e->amount_cents, e->partner_id);
        if (owed_partner >= 0) fold->owed_cents[owed_partner] += e->amount_cents;
        break;
    default: /* cancelled, expired */
        if (e->to_envelope) set_envelope(fold, e, e->envelope_after_cents, false);
        if (v != NULL && v->exists && v->status == VO_ACTIVE)
            v->status = e->kind == SP_LEDGER_EVENT_VOUCHER_EXPIRED ? VO_EXPIRED : VO_CANCELLED;
        break;
    }
    post(fold, e);
}

static void apply_operation_cancelled(sim_fold *fold, const sim_fev *e, int owed_partner) {
    fold->passes[e->pass].balance_cents = e->pass_after_cents;
    if (e->to_envelope) set_envelope(fold, e, e->envelope_after_cents, false);
    if (e->op >= 0 && fold->ops[e->op].exists && fold->ops[e->op].status == OP_ACCEPTED)
        fold->ops[e->op].status = OP_CANCELLED;
    if (owed_partner >= 0) fold->owed_cents[owed_partner] -= e->amount_cents;
    post(fold, e);
}

/* PART_UPSERT_CTE: the pass's side of a part row. */
static void part_upsert(sim_fold *fold, const sim_fev *e, sim_part_status status, bool amounts) {
    sim_fold_part *pt = sim_fold_part_find(fold, e->request, e->pass);
    if (pt == NULL) {
        pt = part_insert(fold, e->request, e->pass);
        if (pt == NULL) return;
        pt->asked_count = e->changed_count;
        memcpy(pt->asked, e->changed, e->changed_count * sizeof e->changed[0]);
        pt->amount_cents = e->amount_cents;
        pt->operation_count = (int64_t)e->changed_count;
        const sim_fold_request *r = e->request >= 0 ? &fold->requests[e->request] : NULL;
        pt->request_status = r != NULL && r->exists ? (int)r->status : 0;
    } else if (amounts) {
        pt->amount_cents = e->amount_cents;
        pt->operation_count = (int64_t)e->changed_count;
    }
    pt->status = status;
    pt->updated_at_ms = e->at_ms;
}

static void apply_part(sim_fold *fold, const sim_fev *e, int owed_partner) {
    for (size_t i = 0; i < e->changed_count; i++) {
        sim_fold_op *o = &fold->ops[e->changed[i]];
        if (!o->exists || o->pass != e->pass) continue;
        if (e->kind == SP_LEDGER_EVENT_OPERATIONS_RESERVED && o->status == OP_ACCEPTED &&
            strcmp(o->partner_id, e->partner_id) == 0) {
            o->status = OP_REQUESTED;
            o->request = e->request;
        } else if (e->kind == SP_LEDGER_EVENT_OPERATIONS_RELEASED && o->status == OP_REQUESTED &&
                   o->request == e->request && strcmp(o->partner_id, e->partner_id) == 0) {
            o->status = OP_ACCEPTED;
            o->request = -1;
        } else if (e->kind == SP_LEDGER_EVENT_OPERATIONS_SETTLED && o->status == OP_REQUESTED &&
                   o->request == e->request) {
            o->status = OP_PAID;
        }
    }
    if (e->kind == SP_LEDGER_EVENT_OPERATIONS_RESERVED) part_upsert(fold, e, PT_RESERVED, true);
    if (e->kind == SP_LEDGER_EVENT_OPERATIONS_RELEASED) part_upsert(fold, e, PT_RELEASED, false);
    if (e->kind == SP_LEDGER_EVENT_OPERATIONS_SETTLED) {
        part_upsert(fold, e, PT_SETTLED, false);
        if (owed_partner >= 0) fold->owed_cents[owed_partner] -= e->amount_cents;
    }
    post(fold, e);
}

/* reserve_rejected_sql: the refused part. */
static void apply_reserve_rejected(sim_fold *fold, const sim_fev *e) {
    sim_fold_part *pt = sim_fold_part_find(fold, e->request, e->pass);
    if (pt == NULL) {
        pt = part_insert(fold, e->request, e->pass);
        if (pt == NULL) return;
        const sim_fold_request *r = &fold->requests[e->request];
        pt->request_status = r->exists ? (int)r->status : 0;
    }
    pt->status = PT_REFUSED;
    snprintf(pt->refusal_code, sizeof pt->refusal_code, "%s", e->code);
    pt->refusal_op = e->refusal_op;
    pt->updated_at_ms = e->at_ms;
}

static bool apply_request_opened(sim_fold *fold, const sim_fev *e, int partner) {
    sim_fold_request *r = &fold->requests[e->request];
    if (r->exists) return false; /* ON CONFLICT DO NOTHING: the parts are not written */
    memset(r, 0, sizeof *r);
    r->exists = true;
    r->version = 1;
    r->partner = partner;
    r->status = RQ_OPENING;
    r->expected_total_cents = e->expected_total_cents;
    r->part_count = (int64_t)e->part_count;
    r->created_at_ms = e->at_ms;
    snprintf(r->kind, sizeof r->kind, "%s", e->refund_kind);
    snprintf(r->period, sizeof r->period, "%s", e->period);
    used(&fold->requests_used, e->request);
    for (size_t i = 0; i < e->part_count; i++) {
        sim_fold_part *pt = sim_fold_part_find(fold, e->request, e->part_pass[i]);
        if (pt == NULL) {
            pt = part_insert(fold, e->request, e->part_pass[i]);
            if (pt == NULL) return true;
            pt->status = PT_ASKED;
            pt->updated_at_ms = e->at_ms;
        }
        pt->asked_count = e->part_op_count[i];
        memcpy(pt->asked, e->part_ops[i], e->part_op_count[i] * sizeof e->part_ops[i][0]);
        pt->request_status = RQ_OPENING;
    }
    return true;
}

static bool apply_request_next(sim_fold *fold, const sim_fev *e, bool check_version) {
    sim_fold_request *r = &fold->requests[e->request];
    if (!r->exists || (check_version && r->version != e->version - 1)) return false;
    r->version = e->version;
    if (e->kind == SP_LEDGER_EVENT_COMMAND_REJECTED) return true;
    if (e->kind == SP_LEDGER_EVENT_REFUND_REQUEST_CONFIRMED) {
        r->status = RQ_PENDING;
        r->total_cents = e->total_cents;
        r->operation_count = e->operation_count;
    } else if (e->kind == SP_LEDGER_EVENT_REFUND_REQUEST_CANCELLED) {
        r->status = RQ_CANCELLED;
        snprintf(r->reason, sizeof r->reason, "%s", e->reason);
    } else {
        r->status = RQ_PAID;
    }
    for (size_t i = 0; i < fold->part_count; i++)
        if (fold->parts[i].request == e->request) fold->parts[i].request_status = (int)r->status;
    return true;
}

static bool is_request_event(const sim_fev *e) {
    return e->kind == SP_LEDGER_EVENT_REFUND_REQUEST_OPENED ||
           e->kind == SP_LEDGER_EVENT_REFUND_REQUEST_CONFIRMED ||
           e->kind == SP_LEDGER_EVENT_REFUND_REQUEST_CANCELLED ||
           e->kind == SP_LEDGER_EVENT_REFUND_REQUEST_PAID ||
           (e->kind == SP_LEDGER_EVENT_COMMAND_REJECTED && e->pass < 0);
}

/* The pass_closed statement: the pass and its envelopes at 0, closed_at
 * set, the event's vouchers cancelled when still active, and the balances
 * its postings move (each envelope and voucher to the budget). */
static void apply_closed(sim_fold *fold, const sim_fev *e, const sim_voucher_entry *vouchers) {
    sim_fold_pass *p = &fold->passes[e->pass];
    p->balance_cents = 0;
    p->closed_at_ms = e->at_ms;
    for (size_t i = 0; i < p->envelope_count; i++) p->envelope_cents[i] = 0;
    char account[SP_LEDGER_ACCOUNT_MAX + 1];
    for (size_t i = 0; i < e->envelope_count; i++) {
        snprintf(account, sizeof account, "pass:%s:%s", e->aggregate, e->envelope_categories[i]);
        add_balance(fold, account, -e->close_envelope_cents[i]);
    }
    for (size_t i = 0; i < e->changed_count; i++) {
        int index = e->changed[i];
        sim_fold_voucher *v = &fold->vouchers[index];
        if (v->exists && v->pass == e->pass && v->status == VO_ACTIVE) v->status = VO_CANCELLED;
        snprintf(account, sizeof account, "voucher:%s", vouchers[index].id);
        add_balance(fold, account, -e->close_voucher_cents[i]);
    }
    if (e->envelope_count + e->changed_count > 0) add_balance(fold, "budget", e->amount_cents);
}

bool sim_fold_apply(sim_fold *fold, const sim_fev *e, bool check_version,
                    const char partner_ids[][SIM_ID_SIZE], const sim_voucher_entry *vouchers) {
    int partner = partner_index(e, partner_ids);
    if (is_request_event(e)) {
        if (e->request < 0) return false;
        if (e->kind == SP_LEDGER_EVENT_REFUND_REQUEST_OPENED)
            return apply_request_opened(fold, e, partner);
        return apply_request_next(fold, e, check_version);
    }
    if (e->kind == SP_LEDGER_EVENT_PASS_OPENED) {
        bool fresh = e->pass >= 0 && !fold->passes[e->pass].exists;
        if (e->pass >= 0) apply_opened(fold, e);
        return fresh;
    }
    if (!pass_next(fold, e, check_version)) return false;
    switch (e->kind) {
    case SP_LEDGER_EVENT_PASS_CREDITED:
    case SP_LEDGER_EVENT_PAYMENT_ACCEPTED:
    case SP_LEDGER_EVENT_ENVELOPE_EXPIRED: apply_movement(fold, e, partner); break;
    case SP_LEDGER_EVENT_VOUCHER_ISSUED:
    case SP_LEDGER_EVENT_VOUCHER_REDEEMED:
    case SP_LEDGER_EVENT_VOUCHER_CANCELLED:
    case SP_LEDGER_EVENT_VOUCHER_EXPIRED: apply_voucher(fold, e, partner); break;
    case SP_LEDGER_EVENT_OPERATION_CANCELLED: apply_operation_cancelled(fold, e, partner); break;
    case SP_LEDGER_EVENT_OPERATIONS_RESERVED:
    case SP_LEDGER_EVENT_OPERATIONS_RELEASED:
    case SP_LEDGER_EVENT_OPERATIONS_SETTLED: apply_part(fold, e, partner); break;
    case SP_LEDGER_EVENT_COMMAND_REJECTED:
        if (e->request >= 0) apply_reserve_rejected(fold, e);
        break;
    case SP_LEDGER_EVENT_PASS_CLOSED: apply_closed(fold, e, vouchers); break;
    default: /* reference set: the version only, here */ break;
    }
    return true;
}

/* ------------------------------------------------------------ comparison */

static int differ(char *why, size_t why_size, const char *table, long index) {
    snprintf(why, why_size, "read model %s row %ld differs", table, index);
    return 1;
}

static int compare_parts(const sim_fold *a, const sim_fold *b, char *why, size_t why_size) {
    if (a->part_count != b->part_count) {
        snprintf(why, why_size, "refund_request_parts: %zu rows against %zu", a->part_count,
                 b->part_count);
        return 1;
    }
    for (size_t i = 0; i < a->part_count; i++) {
        const sim_fold_part *x = &a->parts[i];
        sim_fold_part *y = sim_fold_part_find((sim_fold *)b, x->request, x->pass);
        if (y == NULL || memcmp(x, y, sizeof *x) != 0)
            return differ(why, why_size, "refund_request_parts", (long)i);
    }
    return 0;
}

static int compare_balances(const sim_fold *a, const sim_fold *b, char *why, size_t why_size) {
    if (a->balance_count != b->balance_count) {
        snprintf(why, why_size, "ledger_balances: %zu rows against %zu", a->balance_count,
                 b->balance_count);
        return 1;
    }
    for (size_t i = 0; i < a->balance_count; i++) {
        size_t j = 0;
        while (j < b->balance_count && strcmp(a->balances[i].account, b->balances[j].account) != 0)
            j++;
        if (j == b->balance_count || a->balances[i].balance_cents != b->balances[j].balance_cents) {
            snprintf(why, why_size, "ledger_balances %s differs", a->balances[i].account);
            return 1;
        }
    }
    return 0;
}

int sim_fold_compare(const sim_fold *a, const sim_fold *b, char *why, size_t why_size) {
    for (size_t i = 0; i < SIM_PASSES; i++)
        if (memcmp(&a->passes[i], &b->passes[i], sizeof a->passes[i]) != 0)
            return differ(why, why_size, "passes", (long)i);
    size_t ops = a->ops_used > b->ops_used ? a->ops_used : b->ops_used;
    for (size_t i = 0; i < ops; i++)
        if (memcmp(&a->ops[i], &b->ops[i], sizeof a->ops[i]) != 0)
            return differ(why, why_size, "operations", (long)i);
    size_t vouchers = a->vouchers_used > b->vouchers_used ? a->vouchers_used : b->vouchers_used;
    for (size_t i = 0; i < vouchers; i++)
        if (memcmp(&a->vouchers[i], &b->vouchers[i], sizeof a->vouchers[i]) != 0)
            return differ(why, why_size, "vouchers", (long)i);
    size_t requests = a->requests_used > b->requests_used ? a->requests_used : b->requests_used;
    for (size_t i = 0; i < requests; i++)
        if (memcmp(&a->requests[i], &b->requests[i], sizeof a->requests[i]) != 0)
            return differ(why, why_size, "refund_requests", (long)i);
    for (size_t i = 0; i < SIM_PARTNERS; i++)
        if (a->owed_cents[i] != b->owed_cents[i]) return differ(why, why_size, "partners", (long)i);
    if (compare_parts(a, b, why, why_size) != 0) return 1;
    return compare_balances(a, b, why, why_size);
}
