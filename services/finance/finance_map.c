/* finance_map.c - ledger events to finance events, and their JSON rendering
 * (see finance_map.h). Pure: no I/O, no clock. */
#include "finance_map.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "ledger.pb-c.h"
#include "sp_clock.h"
#include "sp_money.h"

#define AMOUNT_EUR_MAX 32

/* ------------------------------------------------------------------ requests */

int sp_finance_requests_init(sp_finance_requests *requests, size_t requests_max, sp_error *err) {
    assert(requests != NULL);
    assert(requests_max > 0);
    return sp_map_init(&requests->map, requests_max, err);
}

static void free_value(void *ctx, const uint8_t key[SP_KEY_LEN], void *value) {
    (void)ctx;
    (void)key;
    free(value);
}

void sp_finance_requests_destroy(sp_finance_requests *requests) {
    if (requests == NULL) return;
    sp_map_foreach(&requests->map, free_value, NULL);
    sp_map_destroy(&requests->map);
}

static bool period_valid(const char *period) {
    assert(period != NULL);
    if (period[0] == '\0') return true;
    if (strlen(period) != SP_FINANCE_PERIOD_LEN || period[4] != '-') return false;
    for (size_t i = 0; i < SP_FINANCE_PERIOD_LEN; i++)
        if (i != 4 && (period[i] < '0' || period[i] > '9')) return false;
    int month = (period[5] - '0') * 10 + (period[6] - '0');
    return month >= 1 && month <= 12;
}

static bool kind_valid(const char *kind, const char *period) {
    assert(kind != NULL);
    assert(period != NULL);
    if (strcmp(kind, "manual") == 0) return period[0] == '\0';
    return strcmp(kind, "automatic") == 0 && period[0] != '\0';
}

int sp_finance_requests_note(sp_finance_requests *requests, const Solipass__Envelope *env,
                             sp_error *err) {
    assert(requests != NULL);
    assert(env != NULL);
    if (strcmp(env->type, "ledger.RefundRequestOpened.v1") != 0) return 0;
    Solipass__Ledger__RefundRequestOpened *m = solipass__ledger__refund_request_opened__unpack(
        NULL, env->payload.len, env->payload.data);
    if (m == NULL)
        return sp_error_set(err, 422, "invalid_event", "payload",
                            "a RefundRequestOpened that does not decode");
    int rc = 0;
    if (!sp_id_valid(m->request_id) || !period_valid(m->period) ||
        !kind_valid(m->kind, m->period)) {
        rc = sp_error_set(err, 422, "invalid_event", "request_id",
                          "a RefundRequestOpened without a valid request id, kind or period");
        goto done;
    }
    sp_finance_request_info *info = calloc(1, sizeof *info);
    if (info == NULL) {
        rc = sp_error_set(err, 500, "out_of_memory", "", "refund request info");
        goto done;
    }
    snprintf(info->kind, sizeof info->kind, "%s", m->kind);
    snprintf(info->period, sizeof info->period, "%s", m->period);
    info->bank_account_missing = m->bank_account_missing;
    uint8_t key[SP_KEY_LEN];
    sp_key_of(key, m->request_id, NULL, NULL, NULL);
    void *previous = sp_map_get(&requests->map, key);
    if (sp_map_put(&requests->map, key, info, err) != 0) {
        free(info);
        rc = -1;
        goto done;
    }
    free(previous); /* the same facts read again (a rebuild) */
done:
    solipass__ledger__refund_request_opened__free_unpacked(m, NULL);
    return rc;
}

const sp_finance_request_info *sp_finance_requests_get(const sp_finance_requests *requests,
                                                       const char *request_id) {
    assert(requests != NULL);
    assert(request_id != NULL);
    uint8_t key[SP_KEY_LEN];
    sp_key_of(key, request_id, NULL, NULL, NULL);
    return sp_map_get(&requests->map, key);
}

/* ------------------------------------------------------------------ mapping */

static bool amount_valid(int64_t amount_cents) {
    return amount_cents > 0 && amount_cents <= SP_MONEY_BALANCE_ABS_CENTS_MAX;
}

static bool total_valid(int64_t total_cents) {
    return total_cents >= 0 && total_cents <= SP_MONEY_BALANCE_ABS_CENTS_MAX;
}

static int invalid(sp_error *err, const char *type, const char *what) {
    assert(type != NULL);
    assert(what != NULL);
    return sp_error_set(err, 422, "invalid_event", "payload", "%s: %s", type, what);
}

static int map_payment(const Solipass__Envelope *env, sp_finance_event *out, sp_error *err) {
    assert(env != NULL);
    assert(out != NULL);
    Solipass__Ledger__PaymentAccepted *m = solipass__ledger__payment_accepted__unpack(
        NULL, env->payload.len, env->payload.data);
    if (m == NULL) return invalid(err, env->type, "the payload does not decode");
    out->source = &m->base;
    if (!sp_id_valid(m->operation_id) || !sp_id_valid(m->partner_id) ||
        !amount_valid(m->amount_cents))
        return invalid(err, env->type, "an invalid operation id, partner id or amount");
    Solipass__Finance__PaymentAccepted *d = &out->payment_accepted;
    d->operation_id = m->operation_id;
    d->channel = "code";
    d->partner_code = m->partner_code;
    d->amount_cents = m->amount_cents;
    assert(d->amount_cents > 0); /* a payment moves money to the partner */
    out->event.partner_id = m->partner_id;
    out->event.amount_cents = m->amount_cents;
    out->event.type = "payment_accepted";
    out->event.detail_case = SOLIPASS__FINANCE__FINANCE_EVENT__DETAIL_PAYMENT_ACCEPTED;
    out->event.payment_accepted = d;
    return 0;
}

static int map_voucher(const Solipass__Envelope *env, sp_finance_event *out, sp_error *err) {
    assert(env != NULL);
    assert(out != NULL);
    Solipass__Ledger__VoucherRedeemed *m = solipass__ledger__voucher_redeemed__unpack(
        NULL, env->payload.len, env->payload.data);
    if (m == NULL) return invalid(err, env->type, "the payload does not decode");
    out->source = &m->base;
    if (!sp_id_valid(m->operation_id) || !sp_id_valid(m->partner_id) ||
        !sp_id_valid(m->voucher_id) || !amount_valid(m->amount_cents))
        return invalid(err, env->type, "an invalid operation, partner or voucher id, or amount");
    Solipass__Finance__PaymentAccepted *d = &out->payment_accepted;
    d->operation_id = m->operation_id;
    d->channel = "voucher";
    d->partner_code = m->partner_code;
    d->voucher_id = m->voucher_id;
    d->amount_cents = m->amount_cents;
    assert(d->amount_cents > 0);
    out->event.partner_id = m->partner_id;
    out->event.amount_cents = m->amount_cents;
    out->event.type = "payment_accepted";
    out->event.detail_case = SOLIPASS__FINANCE__FINANCE_EVENT__DETAIL_PAYMENT_ACCEPTED;
    out->event.payment_accepted = d;
    return 0;
}

static int map_cancel(const Solipass__Envelope *env, sp_finance_event *out, sp_error *err) {
    assert(env != NULL);
    assert(out != NULL);
    Solipass__Ledger__OperationCancelled *m = solipass__ledger__operation_cancelled__unpack(
        NULL, env->payload.len, env->payload.data);
    if (m == NULL) return invalid(err, env->type, "the payload does not decode");
    out->source = &m->base;
    bool voucher = m->voucher_id[0] != '\0';
    if (!sp_id_valid(m->operation_id) || !sp_id_valid(m->partner_id) ||
        (voucher && !sp_id_valid(m->voucher_id)) || !amount_valid(m->amount_cents))
        return invalid(err, env->type, "an invalid operation, partner or voucher id, or amount");
    Solipass__Finance__OperationCancelled *d = &out->operation_cancelled;
    d->operation_id = m->operation_id;
    d->channel = voucher ? "voucher" : "code";
    d->voucher_id = m->voucher_id;
    d->amount_cents = m->amount_cents;
    assert(d->amount_cents > 0);
    out->event.partner_id = m->partner_id;
    out->event.amount_cents = m->amount_cents;
    out->event.type = "operation_cancelled";
    out->event.detail_case = SOLIPASS__FINANCE__FINANCE_EVENT__DETAIL_OPERATION_CANCELLED;
    out->event.operation_cancelled = d;
    return 0;
}

static int map_confirmed(const Solipass__Envelope *env, const sp_finance_requests *requests,
                         sp_finance_event *out, sp_error *err) {
    assert(env != NULL);
    assert(out != NULL);
    Solipass__Ledger__RefundRequestConfirmed *m =
        solipass__ledger__refund_request_confirmed__unpack(NULL, env->payload.len,
                                                           env->payload.data);
    if (m == NULL) return invalid(err, env->type, "the payload does not decode");
    out->source = &m->base;
    if (!sp_id_valid(m->request_id) || !sp_id_valid(m->partner_id) ||
        !total_valid(m->total_cents) || m->operation_count < 0)
        return invalid(err, env->type, "an invalid request id, partner id, total or count");
    const sp_finance_request_info *info = sp_finance_requests_get(requests, m->request_id);
    if (info == NULL)
        return sp_error_set(err, 409, "request_unknown", "request_id",
                            "refund request %s is confirmed but its opening was never seen",
                            m->request_id);
    out->request = *info;
    Solipass__Finance__RefundRequestPending *d = &out->refund_request_pending;
    d->request_id = m->request_id;
    d->kind = out->request.kind;
    d->period = out->request.period;
    d->total_cents = m->total_cents;
    d->operation_count = m->operation_count;
    assert(d->total_cents >= 0);
    assert(d->operation_count >= 0);
    d->bank_account_missing = out->request.bank_account_missing;
    out->event.partner_id = m->partner_id;
    out->event.amount_cents = m->total_cents;
    out->event.type = "refund_request_pending";
    out->event.detail_case = SOLIPASS__FINANCE__FINANCE_EVENT__DETAIL_REFUND_REQUEST_PENDING;
    out->event.refund_request_pending = d;
    return 0;
}

static int map_cancelled(const Solipass__Envelope *env, sp_finance_event *out, sp_error *err) {
    assert(env != NULL);
    assert(out != NULL);
    Solipass__Ledger__RefundRequestCancelled *m =
        solipass__ledger__refund_request_cancelled__unpack(NULL, env->payload.len,
                                                           env->payload.data);
    if (m == NULL) return invalid(err, env->type, "the payload does not decode");
    out->source = &m->base;
    bool reason_ok = strcmp(m->reason, "partner") == 0 || strcmp(m->reason, "aborted") == 0;
    if (!sp_id_valid(m->request_id) || !sp_id_valid(m->partner_id) || !reason_ok)
        return invalid(err, env->type, "an invalid request id, partner id or reason");
    Solipass__Finance__RefundRequestCancelled *d = &out->refund_request_cancelled;
    d->request_id = m->request_id;
    d->reason = m->reason;
    d->code = m->code;
    d->message = m->message;
    out->event.partner_id = m->partner_id;
    out->event.type = "refund_request_cancelled";
    out->event.detail_case = SOLIPASS__FINANCE__FINANCE_EVENT__DETAIL_REFUND_REQUEST_CANCELLED;
    out->event.refund_request_cancelled = d;
    return 0;
}

static int map_paid(const Solipass__Envelope *env, sp_finance_event *out, sp_error *err) {
    assert(env != NULL);
    assert(out != NULL);
    Solipass__Ledger__RefundRequestPaid *m = solipass__ledger__refund_request_paid__unpack(
        NULL, env->payload.len, env->payload.data);
    if (m == NULL) return invalid(err, env->type, "the payload does not decode");
    out->source = &m->base;
    size_t reference_len = strlen(m->transfer_reference);
    sp_date paid_on;
    sp_error why;
    if (!sp_id_valid(m->request_id) || !sp_id_valid(m->partner_id) ||
        !total_valid(m->total_cents) || reference_len == 0 ||
        reference_len > SP_FINANCE_TRANSFER_REFERENCE_MAX ||
        sp_date_parse(m->paid_on, &paid_on, &why) != 0)
        return invalid(err, env->type,
                       "an invalid request id, partner id, total, transfer "
                       "reference or date");
    Solipass__Finance__RefundRequestPaid *d = &out->refund_request_paid;
    d->request_id = m->request_id;
    d->transfer_reference = m->transfer_reference;
    d->paid_on = m->paid_on;
    d->total_cents = m->total_cents;
    assert(d->total_cents >= 0);
    out->event.partner_id = m->partner_id;
    out->event.amount_cents = m->total_cents;
    out->event.type = "refund_request_paid";
    out->event.detail_case = SOLIPASS__FINANCE__FINANCE_EVENT__DETAIL_REFUND_REQUEST_PAID;
    out->event.refund_request_paid = d;
    return 0;
}

static void event_init(sp_finance_event *out) {
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    solipass__finance__finance_event__init(&out->event);
    solipass__finance__payment_accepted__init(&out->payment_accepted);
    solipass__finance__operation_cancelled__init(&out->operation_cancelled);
    solipass__finance__refund_request_pending__init(&out->refund_request_pending);
    solipass__finance__refund_request_cancelled__init(&out->refund_request_cancelled);
    solipass__finance__refund_request_paid__init(&out->refund_request_paid);
}

int sp_finance_map(const Solipass__Envelope *env, const sp_finance_requests *requests,
                   sp_finance_event *out, bool *mapped, sp_error *err) {
    assert(env != NULL);
    assert(requests != NULL);
    assert(out != NULL);
    assert(mapped != NULL);
    event_init(out);
    *mapped = true;
    int rc;
    const char *type = env->type;
    if (strcmp(type, "ledger.PaymentAccepted.v1") == 0) rc = map_payment(env, out, err);
    else if (strcmp(type, "ledger.VoucherRedeemed.v1") == 0) rc = map_voucher(env, out, err);
    else if (strcmp(type, "ledger.OperationCancelled.v1") == 0) rc = map_cancel(env, out, err);
    else if (strcmp(type, "ledger.RefundRequestConfirmed.v1") == 0)
        rc = map_confirmed(env, requests, out, err);
    else if (strcmp(type, "ledger.RefundRequestCancelled.v1") == 0)
        rc = map_cancelled(env, out, err);
    else if (strcmp(type, "ledger.RefundRequestPaid.v1") == 0) rc = map_paid(env, out, err);
    else {
        *mapped = false;
        return 0;
    }
    if (rc != 0) {
        sp_finance_event_clear(out);
        *mapped = false;
        return -1;
    }
    out->event.event_id = env->id;
    out->event.occurred_at_ms = env->occurred_at_ms;
    out->event.ledger_type = env->type;
    out->event.ledger_aggregate_id = env->aggregate_id;
    out->event.ledger_aggregate_version = env->aggregate_version;
    assert(sp_id_valid(out->event.partner_id));
    assert(out->event.detail_case != 0);
    return 0;
}

void sp_finance_event_clear(sp_finance_event *event) {
    if (event == NULL) return;
    if (event->source != NULL) protobuf_c_message_free_unpacked(event->source, NULL);
    event_init(event);
}

/* ------------------------------------------------------------------ JSON */

void sp_finance_instant(int64_t utc_ms, char out[SP_FINANCE_INSTANT_LEN + 1]) {
    assert(out != NULL);
    int64_t ms = utc_ms % 1000;
    int64_t seconds = utc_ms / 1000;
    if (ms < 0) {
        ms += 1000;
        seconds -= 1;
    }
    time_t t = (time_t)seconds;
    assert(ms >= 0);
    assert(ms < 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char text[64]; /* what the compiler cannot bound of int fields */
    snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (tm.tm_year + 1900) % 10000,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)ms);
    snprintf(out, SP_FINANCE_INSTANT_LEN + 1, "%.*s", SP_FINANCE_INSTANT_LEN, text);
}

/* "12.34": the amount in euros with a decimal point, from the integer cents. */
static void amount_eur(int64_t cents, char out[AMOUNT_EUR_MAX]) {
    assert(cents >= 0);
    snprintf(out, AMOUNT_EUR_MAX, "%" PRId64 ".%02" PRId64, cents / 100, cents % 100);
}

static json_t *detail_json(const Solipass__Finance__FinanceEvent *e) {
    assert(e != NULL);
    switch (e->detail_case) {
    case SOLIPASS__FINANCE__FINANCE_EVENT__DETAIL_PAYMENT_ACCEPTED: {
        const Solipass__Finance__PaymentAccepted *d = e->payment_accepted;
        return json_pack("{s:s, s:s, s:s, s:s, s:I}", "operation_id", d->operation_id, "channel",
                         d->channel, "partner_code", d->partner_code, "voucher_id", d->voucher_id,
                         "amount_cents", (json_int_t)d->amount_cents);
    }
    case SOLIPASS__FINANCE__FINANCE_EVENT__DETAIL_OPERATION_CANCELLED: {
        const Solipass__Finance__OperationCancelled *d = e->operation_cancelled;
        return json_pack("{s:s, s:s, s:s, s:I}", "operation_id", d->operation_id, "channel",
                         d->channel, "voucher_id", d->voucher_id, "amount_cents",
                         (json_int_t)d->amount_cents);
    }
    case SOLIPASS__FINANCE__FINANCE_EVENT__DETAIL_REFUND_REQUEST_PENDING: {
        const Solipass__Finance__RefundRequestPending *d = e->refund_request_pending;
        return json_pack("{s:s, s:s, s:s, s:I, s:I, s:b}", "request_id", d->request_id, "kind",
                         d->kind, "period", d->period, "total_cents", (json_int_t)d->total_cents,
                         "operation_count", (json_int_t)d->operation_count, "bank_account_missing",
                         d->bank_account_missing);
    }
    case SOLIPASS__FINANCE__FINANCE_EVENT__DETAIL_REFUND_REQUEST_CANCELLED: {
        const Solipass__Finance__RefundRequestCancelled *d = e->refund_request_cancelled;
        return json_pack("{s:s, s:s, s:s, s:s}", "request_id", d->request_id, "reason", d->reason,
                         "code", d->code, "message", d->message);
    }
    case SOLIPASS__FINANCE__FINANCE_EVENT__DETAIL_REFUND_REQUEST_PAID: {
        const Solipass__Finance__RefundRequestPaid *d = e->refund_request_paid;
        return json_pack("{s:s, s:s, s:s, s:I}", "request_id", d->request_id, "transfer_reference",
                         d->transfer_reference, "paid_on", d->paid_on, "total_cents",
                         (json_int_t)d->total_cents);
    }
    default: return NULL;
    }
}

char *sp_finance_json(const Solipass__Finance__FinanceEvent *e) {
    assert(e != NULL);
    assert(e->type != NULL);
    assert(e->amount_cents >= 0);
    char at[SP_FINANCE_INSTANT_LEN + 1], eur[AMOUNT_EUR_MAX];
    sp_finance_instant(e->occurred_at_ms, at);
    amount_eur(e->amount_cents, eur);
    json_t *detail = detail_json(e);
    if (detail == NULL) return NULL;
    /* The detail sits under the type's own name, as in the protobuf oneof. */
    json_t *root = json_pack("{s:s, s:s, s:s, s:I, s:s, s:I, s:s, s:s, s:s, s:I, s:o}", "event_id",
                             e->event_id, "type", e->type, "occurred_at", at, "occurred_at_ms",
                             (json_int_t)e->occurred_at_ms, "partner_id", e->partner_id,
                             "amount_cents", (json_int_t)e->amount_cents, "amount_eur", eur,
                             "ledger_type", e->ledger_type, "ledger_aggregate_id",
                             e->ledger_aggregate_id, "ledger_aggregate_version",
                             (json_int_t)e->ledger_aggregate_version, e->type, detail);
    if (root == NULL) return NULL;
    char *text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    return text;
}
