/* service.c - the notifications service's Kafka, PostgreSQL and SMTP edges:
 * events into the notification_mails outbox, due rows out as e-mails (see
 * service.h). The e-mails themselves are written by notify_mail.c. */
#include "service.h"

#include <assert.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "accounts.pb-c.h"
#include "ledger.pb-c.h"
#include "sp_clock.h"
#include "sp_envelope.h"
#include "sp_id.h"
#include "sp_kafka.h"
#include "sp_link.h"
#include "sp_pg.h"
#include "sp_service.h"

#include "notify_mail.h"

#define POLL_IDLE_MS 200
#define POLL_BUSY_MS 10
#define PG_WAIT_MS 30000
#define STAGE_TRIES_MAX 120 /* one per second: PostgreSQL down for two minutes is fatal */
#define SENDS_PER_ROUND_MAX 16
/* A slow server must not keep the consumer from polling (librdkafka's
 * max.poll.interval.ms is 300 s): a round stops starting sends after this. */
#define SEND_ROUND_MS_MAX 5000
#define LEASE_MS 120000     /* a taken row is not due again before its round ends */
#define BEHIND_RETRY_MS 250 /* the projection usually catches up within that */
/* Waiting for the projection costs no attempt for that long after the event;
 * past it, the wait counts as failed attempts (a read model that never shows
 * it ends in the dead-letter topic). */
#define BEHIND_FREE_MS (15 * 60 * 1000)
#define FLUSH_TIMEOUT_MS 10000
#define STATS_INTERVAL_MS 10000
#define PARAMS_TEXT_MAX 4096
#define NAME_BYTES_MAX 1024

typedef struct counters {
    uint64_t staged;
    uint64_t sent;
    uint64_t retried;
    uint64_t dead_lettered;
    uint64_t skipped;
} counters;

typedef struct service {
    const sp_notify_config *config;
    sp_log *log;
    sp_clock *clock;
    PGconn *pg;
    sp_kafka_producer *producer;
    sp_kafka_consumer *consumer;
    sp_notify_smtp *smtp;
    sp_kafka_msg *msgs; /* SP_KAFKA_BATCH_MAX */
    char *message;      /* SP_NOTIFY_MESSAGE_BYTES_MAX */
    sp_service_readiness readiness;
    int64_t stats_at_ms;
    counters counters;
} service;

/* One due row of notification_mails. */
typedef struct mail_row {
    const char *event_id;
    sp_notify_kind kind;
    const char *params;
    int64_t attempts;
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *original_hex;
} mail_row;

/* What one attempt came to. */
typedef struct attempt {
    bool sent;
    bool permanent;
    bool behind; /* the read models do not show the event yet */
    char recipient[SP_NOTIFY_ADDRESS_MAX + 1];
    char cc[SP_NOTIFY_CC_MAX][SP_NOTIFY_ADDRESS_MAX + 1]; /* copies (refund e-mails) */
    const char *cc_list[SP_NOTIFY_CC_MAX];
    size_t cc_count;
    char reason[SP_NOTIFY_SMTP_REASON_MAX];
} attempt;

static void i64_text(int64_t value, char out[24]) {
    snprintf(out, 24, "%" PRId64, value);
}

/* ------------------------------------------------------------------ staging */

/* clang-format off */
static const char insert_sql[] =
    "INSERT INTO notification_mails (event_id, kind, params, source_topic, source_partition,"
    " source_offset, original, next_attempt_at, created_at) VALUES ($1, $2, $3::jsonb, $4,"
    " $5::integer, $6::bigint, decode($7, 'hex'),"
    " timestamptz 'epoch' + $8::bigint * interval '1 millisecond',"
    " timestamptz 'epoch' + $8::bigint * interval '1 millisecond')"
    " ON CONFLICT (event_id, kind) DO NOTHING";
/* clang-format on */

/* The template's inputs of an ActivationIssued that still deserves a mail. */
static json_t *params_activation(const service *svc, const Solipass__Envelope *env,
                                 sp_notify_kind *kind) {
    Solipass__Accounts__ActivationIssued *m = solipass__accounts__activation_issued__unpack(
        NULL, env->payload.len, env->payload.data);
    if (m == NULL) return NULL;
    json_t *params = NULL;
    bool reset = strcmp(m->purpose, "reset") == 0;
    bool valid = sp_id_valid(m->activation_id) && sp_notify_address_valid(m->email) &&
                 (reset || strcmp(m->purpose, "activation") == 0);
    if (valid && m->expires_at_ms > sp_clock_now_ms(svc->clock)) {
        *kind = reset ? SP_NOTIFY_PASSWORD_RESET : SP_NOTIFY_ACTIVATION;
        params = json_pack("{s:s, s:s, s:s, s:I}", "email", m->email, "activation_id",
                           m->activation_id, "purpose", m->purpose, "expires_at_ms",
                           (json_int_t)m->expires_at_ms);
    }
    solipass__accounts__activation_issued__free_unpacked(m, NULL);
    return params;
}

static json_t *payment_params(const Solipass__Envelope *env, const char *operation_id,
                              const char *partner_id, const char *pass_id, int64_t amount_cents,
                              sp_notify_kind *kind) {
    if (!sp_id_valid(operation_id) || !sp_id_valid(partner_id) || !sp_id_valid(pass_id) ||
        amount_cents <= 0)
        return NULL;
    *kind = SP_NOTIFY_PAYMENT_RECEIVED;
    return json_pack("{s:s, s:s, s:s, s:I, s:I}", "operation_id", operation_id, "partner_id",
                     partner_id, "pass_id", pass_id, "amount_cents", (json_int_t)amount_cents,
                     "occurred_at_ms", (json_int_t)env->occurred_at_ms);
}

/* A payment by code (PaymentAccepted) or by exchange voucher (VoucherRedeemed). */
static json_t *params_payment(const Solipass__Envelope *env, sp_notify_kind *kind) {
    json_t *params = NULL;
    if (strcmp(env->type, "ledger.PaymentAccepted.v1") == 0) {
        Solipass__Ledger__PaymentAccepted *m = solipass__ledger__payment_accepted__unpack(
            NULL, env->payload.len, env->payload.data);
        if (m == NULL) return NULL;
        params = payment_params(env, m->operation_id, m->partner_id, m->pass_id, m->amount_cents,
                                kind);
        solipass__ledger__payment_accepted__free_unpacked(m, NULL);
        return params;
    }
    Solipass__Ledger__VoucherRedeemed *m = solipass__ledger__voucher_redeemed__unpack(
        NULL, env->payload.len, env->payload.data);
    if (m == NULL) return NULL;
    params = payment_params(env, m->operation_id, m->partner_id, m->pass_id, m->amount_cents, kind);
    solipass__ledger__voucher_redeemed__free_unpacked(m, NULL);
    return params;
}

/* The beneficiary's e-mail of a redeemed voucher: the read models give the
 * address and the number; the event gives the rest. */
static json_t *params_voucher(const Solipass__Envelope *env) {
    Solipass__Ledger__VoucherRedeemed *m = solipass__ledger__voucher_redeemed__unpack(
        NULL, env->payload.len, env->payload.data);
    if (m == NULL) return NULL;
    json_t *params = NULL;
    if (sp_id_valid(m->voucher_id) && sp_id_valid(m->partner_id) && sp_id_valid(m->pass_id) &&
        m->amount_cents > 0 && m->pass_balance_after_cents >= 0)
        params = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "voucher_id", m->voucher_id,
                           "partner_id", m->partner_id, "pass_id", m->pass_id, "amount_cents",
                           (json_int_t)m->amount_cents, "balance_cents",
                           (json_int_t)m->pass_balance_after_cents, "occurred_at_ms",
                           (json_int_t)env->occurred_at_ms);
    solipass__ledger__voucher_redeemed__free_unpacked(m, NULL);
    return params;
}

/* The beneficiary's e-mail of a cancelled payment: the read models give the
 * address and the partner's name; the event gives the rest, including where
 * the amount went (a posting to the budget: its envelope had expired). */
static json_t *params_cancel(const Solipass__Envelope *env, sp_notify_kind *kind) {
    Solipass__Ledger__OperationCancelled *m = solipass__ledger__operation_cancelled__unpack(
        NULL, env->payload.len, env->payload.data);
    if (m == NULL) return NULL;
    json_t *params = NULL;
    bool to_budget = false;
    for (size_t i = 0; i < m->n_postings; i++)
        to_budget = to_budget || strcmp(m->postings[i]->credit_account, "budget") == 0;
    if (sp_id_valid(m->operation_id) && sp_id_valid(m->partner_id) && sp_id_valid(m->pass_id) &&
        m->amount_cents > 0 && m->pass_balance_after_cents >= 0) {
        *kind = SP_NOTIFY_OPERATION_CANCELLED;
        params = json_pack("{s:s, s:s, s:s, s:I, s:I, s:b, s:I}", "operation_id", m->operation_id,
                           "partner_id", m->partner_id, "pass_id", m->pass_id, "amount_cents",
                           (json_int_t)m->amount_cents, "balance_cents",
                           (json_int_t)m->pass_balance_after_cents, "to_budget", to_budget,
                           "occurred_at_ms", (json_int_t)env->occurred_at_ms);
    }
    solipass__ledger__operation_cancelled__free_unpacked(m, NULL);
    return params;
}

/* The beneficiary's e-mail of a closed pass: the read models give the
 * address; the event gives what went back to the budget. */
static json_t *params_closed(const Solipass__Envelope *env, sp_notify_kind *kind) {
    Solipass__Ledger__PassClosed *m = solipass__ledger__pass_closed__unpack(NULL, env->payload.len,
                                                                            env->payload.data);
    if (m == NULL) return NULL;
    json_t *params = NULL;
    if (sp_id_valid(m->pass_id) && m->returned_cents >= 0 && m->vouchers_cancelled >= 0) {
        *kind = SP_NOTIFY_PASS_CLOSED;
        params = json_pack("{s:s, s:I, s:I, s:I}", "pass_id", m->pass_id, "returned_cents",
                           (json_int_t)m->returned_cents, "vouchers_cancelled",
                           (json_int_t)m->vouchers_cancelled, "occurred_at_ms",
                           (json_int_t)env->occurred_at_ms);
    }
    solipass__ledger__pass_closed__free_unpacked(m, NULL);
    return params;
}

/* A refund request's e-mails: confirmed (now pending) or paid. The kind,
 * period and the partner's bank details are read from the read models when
 * the e-mail is written; the event gives the rest. */
static json_t *params_refund(const Solipass__Envelope *env, sp_notify_kind *kind) {
    json_t *params = NULL;
    if (strcmp(env->type, "ledger.RefundRequestConfirmed.v1") == 0) {
        Solipass__Ledger__RefundRequestConfirmed *m =
            solipass__ledger__refund_request_confirmed__unpack(NULL, env->payload.len,
                                                               env->payload.data);
        if (m == NULL) return NULL;
        if (sp_id_valid(m->request_id) && sp_id_valid(m->partner_id) && m->total_cents >= 0 &&
            m->operation_count >= 0) {
            *kind = SP_NOTIFY_REFUND_REQUESTED;
            params = json_pack("{s:s, s:s, s:I, s:I, s:I}", "request_id", m->request_id,
                               "partner_id", m->partner_id, "total_cents",
                               (json_int_t)m->total_cents, "operation_count",
                               (json_int_t)m->operation_count, "occurred_at_ms",
                               (json_int_t)env->occurred_at_ms);
        }
        solipass__ledger__refund_request_confirmed__free_unpacked(m, NULL);
        return params;
    }
    Solipass__Ledger__RefundRequestPaid *m = solipass__ledger__refund_request_paid__unpack(
        NULL, env->payload.len, env->payload.data);
    if (m == NULL) return NULL;
    sp_date paid_on;
    sp_error why;
    size_t reference_len = strlen(m->transfer_reference);
    if (sp_id_valid(m->request_id) && sp_id_valid(m->partner_id) && m->total_cents >= 0 &&
        reference_len > 0 && reference_len <= SP_NOTIFY_TRANSFER_REFERENCE_MAX &&
        sp_date_parse(m->paid_on, &paid_on, &why) == 0) {
        *kind = SP_NOTIFY_REFUND_PAID;
        params = json_pack("{s:s, s:s, s:I, s:s, s:s, s:I}", "request_id", m->request_id,
                           "partner_id", m->partner_id, "total_cents", (json_int_t)m->total_cents,
                           "transfer_reference", m->transfer_reference, "paid_on", m->paid_on,
                           "occurred_at_ms", (json_int_t)env->occurred_at_ms);
    }
    solipass__ledger__refund_request_paid__free_unpacked(m, NULL);
    return params;
}

/* The e-mail an event asks for, or NULL: other types, undecodable messages
 * (the projection dead-letters those), events too old to mail. */
static json_t *params_of(service *svc, const Solipass__Envelope *env, sp_notify_kind *kind) {
    int64_t age_ms = sp_clock_now_ms(svc->clock) - env->occurred_at_ms;
    if (age_ms > svc->config->max_age_s * 1000) return NULL;
    if (strcmp(env->type, "accounts.ActivationIssued.v1") == 0)
        return params_activation(svc, env, kind);
    if (strcmp(env->type, "ledger.PaymentAccepted.v1") == 0 ||
        strcmp(env->type, "ledger.VoucherRedeemed.v1") == 0)
        return params_payment(env, kind);
    if (strcmp(env->type, "ledger.RefundRequestConfirmed.v1") == 0 ||
        strcmp(env->type, "ledger.RefundRequestPaid.v1") == 0)
        return params_refund(env, kind);
    if (strcmp(env->type, "ledger.OperationCancelled.v1") == 0) return params_cancel(env, kind);
    if (strcmp(env->type, "ledger.PassClosed.v1") == 0) return params_closed(env, kind);
    return NULL;
}

static int insert_row(service *svc, const sp_kafka_msg *msg, const Solipass__Envelope *env,
                      sp_notify_kind kind, const char *params, sp_error *err) {
    char partition[24], offset[24], now[24];
    i64_text(msg->partition, partition);
    i64_text(msg->offset, offset);
    i64_text(sp_clock_now_ms(svc->clock), now);
    char *hex = malloc(2 * msg->value_len + 1);
    if (hex == NULL) return sp_error_set(err, 500, "out_of_memory", "", "original bytes");
    sodium_bin2hex(hex, 2 * msg->value_len + 1, msg->value, msg->value_len);
    const char *values[8] = {
        env->id, sp_notify_kind_name(kind), params, msg->topic, partition, offset, hex, now};
    int rc = sp_pg_exec(svc->pg, insert_sql, 8, values, NULL, err);
    free(hex);
    return rc;
}

/* One row of the outbox; takes params (NULL: nothing to stage). */
static int stage_row(service *svc, const sp_kafka_msg *msg, const Solipass__Envelope *env,
                     sp_notify_kind kind, json_t *params, sp_error *err) {
    char *text = params != NULL ? json_dumps(params, JSON_COMPACT) : NULL;
    json_decref(params);
    int rc = 0;
    if (text != NULL) {
        rc = insert_row(svc, msg, env, kind, text, err);
        if (rc == 0) svc->counters.staged++;
    }
    free(text);
    return rc;
}

static int stage_message(service *svc, const sp_kafka_msg *msg, sp_error *err) {
    sp_error why;
    Solipass__Envelope *env = sp_envelope_unpack(msg->value, msg->value_len, &why);
    if (env == NULL) return 0;
    sp_notify_kind kind = 0;
    json_t *params = params_of(svc, env, &kind);
    /* A redeemed voucher also tells its beneficiary, unless too old to mail. */
    bool voucher = params != NULL && strcmp(env->type, "ledger.VoucherRedeemed.v1") == 0;
    int rc = stage_row(svc, msg, env, kind, params, err);
    if (rc == 0 && voucher)
        rc = stage_row(svc, msg, env, SP_NOTIFY_VOUCHER_REDEEMED, params_voucher(env), err);
    solipass__envelope__free_unpacked(env, NULL);
    return rc;
}

static int stage_batch_once(service *svc, size_t count, sp_error *err) {
    if (sp_pg_command(svc->pg, "BEGIN", err) != 0) return -1;
    for (size_t i = 0; i < count; i++) {
        if (stage_message(svc, &svc->msgs[i], err) != 0) {
            sp_error ignored;
            sp_pg_command(svc->pg, "ROLLBACK", &ignored);
            return -1;
        }
    }
    return sp_pg_command(svc->pg, "COMMIT", err);
}

static int reconnect(service *svc, sp_error *err) {
    PQfinish(svc->pg);
    svc->pg = sp_pg_connect(svc->config->pg_dsn, 1000, svc->log, err);
    return svc->pg != NULL ? 0 : -1;
}

/* The batch's rows are durable before its offsets are committed; while
 * PostgreSQL is away the batch is tried again, once a second. */
static int stage_batch(service *svc, size_t count, volatile sig_atomic_t *stop, sp_error *err) {
    for (int tries = 0; tries < STAGE_TRIES_MAX && !*stop; tries++) {
        if (svc->pg != NULL && stage_batch_once(svc, count, err) == 0)
            return sp_kafka_consumer_commit(svc->consumer, svc->msgs, count, err);
        sp_log_warn(svc->log, "cannot record the batch's e-mails: trying again", "detail",
                    err->message, NULL);
        struct timespec pause = {.tv_sec = 1, .tv_nsec = 0};
        nanosleep(&pause, NULL);
        reconnect(svc, err); /* a failure leaves pg NULL: the next try reconnects again */
    }
    if (*stop) return 0;
    return sp_error_set(err, 503, "unavailable", "",
                        "PostgreSQL refused the e-mails' rows "
                        "%d times",
                        STAGE_TRIES_MAX);
}

/* ------------------------------------------------------------------ composing */

/* Fills the attempt's reason; -1 so that `return give_up(...)` reads well. */
static int give_up(attempt *a, bool permanent, const char *reason) {
    a->permanent = permanent;
    snprintf(a->reason, sizeof a->reason, "%s", reason);
    return -1;
}

/* A read-model query of a composing e-mail; a failure is the attempt's reason. */
static int read_models(service *svc, const char *sql, int param_count, const char *const *values,
                       PGresult **res, attempt *a, sp_error *err) {
    if (sp_pg_exec(svc->pg, sql, param_count, values, res, err) == 0) return 0;
    snprintf(a->reason, sizeof a->reason, "PostgreSQL: %s", err->message);
    return -1;
}

/* The read models do not show the event yet: waiting costs no attempt for
 * BEHIND_FREE_MS after the event (at: its instant), then counts as failing. */
static int not_shown_yet(service *svc, json_t *at, attempt *a, const char *reason) {
    a->behind = sp_clock_now_ms(svc->clock) - json_integer_value(at) < BEHIND_FREE_MS;
    return give_up(a, false, reason);
}

/* clang-format off */
static const char partner_sql[] =
    "SELECT p.name, p.owed_cents, (SELECT u.email FROM users u WHERE u.partner_id ="
    " p.partner_id AND u.role = 'partner_admin' ORDER BY u.created_at, u.user_id LIMIT 1),"
    " EXISTS (SELECT 1 FROM operations o WHERE o.operation_id = $2::uuid)"
    " FROM partners p WHERE p.partner_id = $1::uuid";
/* clang-format on */

static int compose_link(service *svc, const mail_row *row, json_t *params, sp_notify_mail *mail,
                        char *link, attempt *a) {
    const char *email = json_string_value(json_object_get(params, "email"));
    const char *activation_id = json_string_value(json_object_get(params, "activation_id"));
    const char *purpose = json_string_value(json_object_get(params, "purpose"));
    json_t *expires = json_object_get(params, "expires_at_ms");
    if (email == NULL || !sp_id_valid(activation_id) || purpose == NULL ||
        !json_is_integer(expires)) {
        return give_up(a, true, "the stored parameters are incomplete");
    }
    snprintf(a->recipient, sizeof a->recipient, "%s", email);
    mail->expires_at_ms = json_integer_value(expires);
    if (sp_clock_now_ms(svc->clock) >= mail->expires_at_ms) {
        return give_up(a, true, "the link expired before it could be mailed");
    }
    char token[SP_LINK_TOKEN_LEN + 1];
    sp_link_token_make(svc->config->link_secret, activation_id, purpose, token);
    snprintf(link, SP_NOTIFY_LINK_MAX + 1, "%s/%s?token=%s", svc->config->public_base_url,
             row->kind == SP_NOTIFY_ACTIVATION ? "activate" : "reset-password", token);
    mail->link = link;
    return 0;
}

/* The stored parameters of a payment's or a cancellation's e-mail; they
 * borrow from the params object. */
typedef struct operation_params {
    const char *operation_id;
    const char *partner_id;
    const char *pass_id;
    json_t *amount;
    json_t *at;
} operation_params;

/* False when a stored parameter is missing or malformed. */
static bool operation_params_of(json_t *params, operation_params *p) {
    p->operation_id = json_string_value(json_object_get(params, "operation_id"));
    p->partner_id = json_string_value(json_object_get(params, "partner_id"));
    p->pass_id = json_string_value(json_object_get(params, "pass_id"));
    p->amount = json_object_get(params, "amount_cents");
    p->at = json_object_get(params, "occurred_at_ms");
    return sp_id_valid(p->operation_id) && sp_id_valid(p->partner_id) && sp_id_valid(p->pass_id) &&
           json_is_integer(p->amount) && json_is_integer(p->at);
}

/* The partner's name, administrator and amount owed, from the read models;
 * a transient failure until the projection shows the payment. */
static int compose_payment(service *svc, json_t *params, sp_notify_mail *mail, char *name,
                           attempt *a, sp_error *err) {
    operation_params op;
    if (!operation_params_of(params, &op))
        return give_up(a, true, "the stored parameters are incomplete");
    const char *operation_id = op.operation_id, *pass_id = op.pass_id;
    json_t *amount = op.amount, *at = op.at;
    const char *values[2] = {op.partner_id, operation_id};
    PGresult *res = NULL;
    if (read_models(svc, partner_sql, 2, values, &res, a, err) != 0) return -1;
    bool known = PQntuples(res) == 1 && !PQgetisnull(res, 0, 2) &&
                 strcmp(PQgetvalue(res, 0, 3), "t") == 0;
    if (known) {
        snprintf(name, NAME_BYTES_MAX, "%s", PQgetvalue(res, 0, 0));
        mail->owed_cents = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        snprintf(a->recipient, sizeof a->recipient, "%s", PQgetvalue(res, 0, 2));
    }
    PQclear(res);
    if (!known) {
        return not_shown_yet(svc, at, a,
                             "the read models do not show "
                             "the payment or the partner's administrator yet");
    }
    mail->partner_name = name;
    mail->amount_cents = json_integer_value(amount);
    mail->occurred_at_ms = json_integer_value(at);
    mail->pass_ref = pass_id + SP_ID_LEN - SP_NOTIFY_PASS_REF_LEN;
    mail->operation_id = operation_id;
    return 0;
}

/* clang-format off */
/* Whom a beneficiary's e-mail goes to: the oldest beneficiary user of the
 * pass $3 (NULL when the pass has none). */
#define BENEFICIARY_EMAIL_SQL                                                    \
    "(SELECT u.email FROM users u WHERE u.pass_id = $3::uuid"                     \
    " AND u.role = 'beneficiary' ORDER BY u.created_at, u.user_id LIMIT 1)"

static const char voucher_sql[] =
    "SELECT p.name, v.number, " BENEFICIARY_EMAIL_SQL
    " FROM partners p, vouchers v WHERE p.partner_id = $1::uuid AND v.voucher_id = $2::uuid"
    " AND v.status = 'redeemed'";
/* clang-format on */

/* The partner's name, the voucher's number and the beneficiary's address,
 * from the read models; a transient failure until they show the redemption. */
static int compose_voucher(service *svc, json_t *params, sp_notify_mail *mail, char *name,
                           char *voucher_ref, attempt *a, sp_error *err) {
    const char *partner_id = json_string_value(json_object_get(params, "partner_id"));
    const char *voucher_id = json_string_value(json_object_get(params, "voucher_id"));
    const char *pass_id = json_string_value(json_object_get(params, "pass_id"));
    json_t *amount = json_object_get(params, "amount_cents");
    json_t *balance = json_object_get(params, "balance_cents");
    json_t *at = json_object_get(params, "occurred_at_ms");
    if (!sp_id_valid(partner_id) || !sp_id_valid(voucher_id) || !sp_id_valid(pass_id) ||
        !json_is_integer(amount) || !json_is_integer(at)) {
        return give_up(a, true, "the stored parameters are incomplete");
    }
    const char *values[3] = {partner_id, voucher_id, pass_id};
    PGresult *res = NULL;
    if (read_models(svc, voucher_sql, 3, values, &res, a, err) != 0) return -1;
    bool known = PQntuples(res) == 1 && !PQgetisnull(res, 0, 2) &&
                 strlen(PQgetvalue(res, 0, 1)) >= SP_NOTIFY_VOUCHER_REF_LEN;
    if (known) {
        const char *number = PQgetvalue(res, 0, 1);
        snprintf(name, NAME_BYTES_MAX, "%s", PQgetvalue(res, 0, 0));
        snprintf(voucher_ref, SP_NOTIFY_VOUCHER_REF_LEN + 1, "%s",
                 number + strlen(number) - SP_NOTIFY_VOUCHER_REF_LEN);
        snprintf(a->recipient, sizeof a->recipient, "%s", PQgetvalue(res, 0, 2));
    }
    PQclear(res);
    if (!known) {
        return not_shown_yet(svc, at, a,
                             "the read models do not show "
                             "the redeemed voucher or its beneficiary yet");
    }
    mail->partner_name = name;
    mail->voucher_ref = voucher_ref;
    mail->amount_cents = json_integer_value(amount);
    mail->occurred_at_ms = json_integer_value(at);
    mail->has_balance = json_is_integer(balance);
    mail->balance_cents = json_integer_value(balance);
    return 0;
}

/* clang-format off */
static const char cancel_sql[] =
    "SELECT p.name, " BENEFICIARY_EMAIL_SQL " FROM partners p, operations o WHERE p.partner_id = $1::uuid AND o.operation_id = $2::uuid"
    " AND o.status = 'cancelled'";
/* clang-format on */

/* The partner's name and the beneficiary's address, from the read models; a
 * transient failure until they show the cancellation and a beneficiary. */
static int compose_cancel(service *svc, json_t *params, sp_notify_mail *mail, char *name,
                          attempt *a, sp_error *err) {
    operation_params op;
    json_t *balance = json_object_get(params, "balance_cents");
    if (!operation_params_of(params, &op) || !json_is_integer(balance) ||
        !json_is_boolean(json_object_get(params, "to_budget")))
        return give_up(a, true, "the stored parameters are incomplete");
    const char *values[3] = {op.partner_id, op.operation_id, op.pass_id};
    PGresult *res = NULL;
    if (read_models(svc, cancel_sql, 3, values, &res, a, err) != 0) return -1;
    bool known = PQntuples(res) == 1 && !PQgetisnull(res, 0, 1);
    snprintf(name, NAME_BYTES_MAX, "%s", known ? PQgetvalue(res, 0, 0) : "");
    snprintf(a->recipient, sizeof a->recipient, "%s", known ? PQgetvalue(res, 0, 1) : "");
    PQclear(res);
    if (!known)
        return not_shown_yet(svc, op.at, a,
                             "the read models do not show "
                             "the cancelled payment or its beneficiary yet");
    mail->partner_name = name;
    mail->amount_cents = json_integer_value(op.amount);
    mail->balance_cents = json_integer_value(balance);
    mail->occurred_at_ms = json_integer_value(op.at);
    mail->returned_to_budget = json_is_true(json_object_get(params, "to_budget"));
    return 0;
}

/* clang-format off */
/* The beneficiary of a pass the read models show closed. */
static const char closed_sql[] =
    "SELECT (SELECT u.email FROM users u WHERE u.pass_id = p.pass_id AND u.role = 'beneficiary'"
    " ORDER BY u.created_at, u.user_id LIMIT 1) FROM passes p"
    " WHERE p.pass_id = $1::uuid AND p.closed_at IS NOT NULL";
/* clang-format on */

/* The beneficiary's address, from the read models; a transient failure
 * until they show the pass closed and its beneficiary. */
static int compose_closed(service *svc, json_t *params, sp_notify_mail *mail, attempt *a,
                          sp_error *err) {
    const char *pass_id = json_string_value(json_object_get(params, "pass_id"));
    json_t *returned = json_object_get(params, "returned_cents");
    json_t *vouchers = json_object_get(params, "vouchers_cancelled");
    json_t *at = json_object_get(params, "occurred_at_ms");
    if (!sp_id_valid(pass_id) || !json_is_integer(returned) || !json_is_integer(vouchers) ||
        !json_is_integer(at))
        return give_up(a, true, "the stored parameters are incomplete");
    const char *values[1] = {pass_id};
    PGresult *res = NULL;
    if (read_models(svc, closed_sql, 1, values, &res, a, err) != 0) return -1;
    bool known = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0);
    snprintf(a->recipient, sizeof a->recipient, "%s", known ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    if (!known)
        return not_shown_yet(svc, at, a,
                             "the read models do not show "
                             "the closed pass or its beneficiary yet");
    mail->amount_cents = json_integer_value(returned);
    mail->vouchers_cancelled = json_integer_value(vouchers);
    mail->occurred_at_ms = json_integer_value(at);
    return 0;
}

/* clang-format off */
/* The request as the read models show it, its partner's name, whether the
 * partner lacks bank details now, and its administrators (oldest first). */
static const char refund_sql[] =
    "SELECT p.name, r.status, r.period, (p.iban = '' OR p.bic = ''),"
    " (SELECT string_agg(a.email, ',' ORDER BY a.created_at, a.user_id) FROM"
    "  (SELECT u.email, u.created_at, u.user_id FROM users u WHERE u.partner_id = p.partner_id"
    "   AND u.role = 'partner_admin' AND u.removed_at IS NULL ORDER BY u.created_at, u.user_id"
    "   LIMIT $3::integer) a)"
    " FROM refund_requests r JOIN partners p ON p.partner_id = r.partner_id"
    " WHERE r.request_id = $1::uuid AND r.partner_id = $2::uuid";
/* clang-format on */

/* "a,b,c" into the attempt's recipient (the first) and copies (the rest). */
static void refund_recipients(const char *emails, attempt *a) {
    char list[(SP_NOTIFY_CC_MAX + 1) * (SP_NOTIFY_ADDRESS_MAX + 1)];
    snprintf(list, sizeof list, "%s", emails);
    char *saved = NULL;
    for (char *one = strtok_r(list, ",", &saved); one != NULL; one = strtok_r(NULL, ",", &saved)) {
        if (!sp_notify_address_valid(one)) continue;
        if (a->recipient[0] == '\0') {
            snprintf(a->recipient, sizeof a->recipient, "%s", one);
        } else if (a->cc_count < SP_NOTIFY_CC_MAX) {
            snprintf(a->cc[a->cc_count], sizeof a->cc[a->cc_count], "%s", one);
            a->cc_list[a->cc_count] = a->cc[a->cc_count];
            a->cc_count++;
        }
    }
}

/* A refund request's e-mail to its partner's administrators; a transient
 * failure until the projection shows the request in the event's state. */
static int compose_refund(service *svc, json_t *params, sp_notify_mail *mail, char *name,
                          char *period, attempt *a, sp_error *err) {
    const char *request_id = json_string_value(json_object_get(params, "request_id"));
    const char *partner_id = json_string_value(json_object_get(params, "partner_id"));
    json_t *total = json_object_get(params, "total_cents");
    json_t *at = json_object_get(params, "occurred_at_ms");
    if (!sp_id_valid(request_id) || !sp_id_valid(partner_id) || !json_is_integer(total) ||
        !json_is_integer(at))
        return give_up(a, true, "the stored parameters are incomplete");
    char limit[24];
    i64_text(SP_NOTIFY_CC_MAX + 1, limit);
    const char *values[3] = {request_id, partner_id, limit};
    PGresult *res = NULL;
    if (read_models(svc, refund_sql, 3, values, &res, a, err) != 0) return -1;
    /* Confirmed: no longer opening (it may be paid or cancelled since); paid: paid. */
    const char *status = PQntuples(res) == 1 ? PQgetvalue(res, 0, 1) : "";
    bool shown = mail->kind == SP_NOTIFY_REFUND_PAID ? strcmp(status, "paid") == 0
                                                     : strcmp(status, "opening") != 0;
    bool known = PQntuples(res) == 1 && !PQgetisnull(res, 0, 4) && shown;
    if (known) {
        snprintf(name, NAME_BYTES_MAX, "%s", PQgetvalue(res, 0, 0));
        snprintf(period, SP_NOTIFY_PERIOD_TEXT_MAX, "%s", PQgetvalue(res, 0, 2));
        mail->bank_details_missing = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
        refund_recipients(PQgetvalue(res, 0, 4), a);
    }
    PQclear(res);
    if (!known || a->recipient[0] == '\0') {
        return not_shown_yet(svc, at, a,
                             "the read models do not show "
                             "the refund request or the partner's "
                             "administrators yet");
    }
    mail->partner_name = name;
    mail->request_id = request_id;
    mail->amount_cents = json_integer_value(total);
    mail->operation_count = json_integer_value(json_object_get(params, "operation_count"));
    mail->period = period;
    mail->transfer_reference = json_string_value(json_object_get(params, "transfer_reference"));
    mail->paid_on = json_string_value(json_object_get(params, "paid_on"));
    mail->cc_addresses = a->cc_list;
    mail->cc_count = a->cc_count;
    return 0;
}

/* Composes and sends one row's e-mail; the outcome is in *a. */
static void try_row(service *svc, const mail_row *row, attempt *a) {
    memset(a, 0, sizeof *a);
    json_error_t jerr;
    json_t *params = json_loads(row->params, 0, &jerr);
    sp_notify_mail mail = {.kind = row->kind,
                           .event_id = row->event_id,
                           .from_address = svc->config->smtp.from_address,
                           .from_name = svc->config->from_name,
                           .date_ms = sp_clock_now_ms(svc->clock)};
    char link[SP_NOTIFY_LINK_MAX + 1], name[NAME_BYTES_MAX];
    char voucher_ref[SP_NOTIFY_VOUCHER_REF_LEN + 1], period[SP_NOTIFY_PERIOD_TEXT_MAX];
    sp_error err;
    sp_error_clear(&err);
    bool refund = row->kind == SP_NOTIFY_REFUND_REQUESTED || row->kind == SP_NOTIFY_REFUND_PAID;
    /* mail borrows strings of params: it lives until the mail is rendered. */
    int rc = row->kind == SP_NOTIFY_PAYMENT_RECEIVED
                 ? compose_payment(svc, params, &mail, name, a, &err)
             : row->kind == SP_NOTIFY_VOUCHER_REDEEMED
                 ? compose_voucher(svc, params, &mail, name, voucher_ref, a, &err)
             : refund ? compose_refund(svc, params, &mail, name, period, a, &err)
             : row->kind == SP_NOTIFY_OPERATION_CANCELLED
                 ? compose_cancel(svc, params, &mail, name, a, &err)
             : row->kind == SP_NOTIFY_PASS_CLOSED ? compose_closed(svc, params, &mail, a, &err)
                                                  : compose_link(svc, row, params, &mail, link, a);
    mail.to_address = a->recipient;
    size_t len = 0;
    if (rc == 0 &&
        sp_notify_render(&mail, svc->message, SP_NOTIFY_MESSAGE_BYTES_MAX, &len, &err) != 0) {
        give_up(a, true, err.message);
        rc = -1;
    }
    json_decref(params);
    if (rc != 0) return;
    sp_notify_smtp_result result;
    sp_notify_smtp_send(svc->smtp, a->recipient, a->cc_list, a->cc_count, svc->message, len,
                        &result);
    a->sent = result.sent;
    a->permanent = result.permanent;
    snprintf(a->reason, sizeof a->reason, "%s", result.reason);
}

/* ------------------------------------------------------------------ outcomes */

/* clang-format off */
static const char sent_sql[] =
    "UPDATE notification_mails SET status = 'sent', attempts = attempts + 1, recipient = $2,"
    " last_error = NULL, leased_by_pid = NULL,"
    " done_at = timestamptz 'epoch' + $3::bigint * interval '1 millisecond'"
    " WHERE event_id = $1 AND kind = $4 AND status = 'pending'";
static const char retry_sql[] =
    "UPDATE notification_mails SET attempts = attempts + 1, recipient = nullif($2, ''),"
    " last_error = $4, leased_by_pid = NULL,"
    " next_attempt_at = timestamptz 'epoch' + $3::bigint * interval '1 millisecond'"
    " WHERE event_id = $1 AND kind = $5 AND status = 'pending'";
static const char behind_sql[] =
    "UPDATE notification_mails SET last_error = $3, leased_by_pid = NULL,"
    " next_attempt_at = timestamptz 'epoch' + $2::bigint * interval '1 millisecond'"
    " WHERE event_id = $1 AND kind = $4 AND status = 'pending'";
static const char dead_sql[] =
    "UPDATE notification_mails SET status = 'dead_lettered', attempts = attempts + 1,"
    " recipient = nullif($2, ''), last_error = $4, leased_by_pid = NULL,"
    " done_at = timestamptz 'epoch' + $3::bigint * interval '1 millisecond'"
    " WHERE event_id = $1 AND kind = $5 AND status = 'pending'";
/* clang-format on */

static int dead_letter(service *svc, const mail_row *row, const char *reason, sp_error *err) {
    size_t hex_len = strlen(row->original_hex);
    uint8_t *original = malloc(hex_len / 2 + 1);
    if (original == NULL) return sp_error_set(err, 500, "out_of_memory", "", "dead letter");
    size_t len = 0;
    sodium_hex2bin(original, hex_len / 2 + 1, row->original_hex, hex_len, NULL, &len, NULL);
    sp_kafka_msg msg = {.topic = row->topic,
                        .partition = row->partition,
                        .offset = row->offset,
                        .value = original,
                        .value_len = len};
    char why[SP_NOTIFY_SMTP_REASON_MAX + 64];
    snprintf(why, sizeof why, "e-mail %s not delivered: %s", sp_notify_kind_name(row->kind),
             reason);
    int rc = sp_deadletter_send(svc->producer, &msg, SP_NOTIFY_SERVICE_NAME, why,
                                sp_clock_now_ms(svc->clock), err);
    if (rc == 0) rc = sp_kafka_producer_flush(svc->producer, FLUSH_TIMEOUT_MS, err);
    free(original);
    return rc;
}

static void log_outcome(service *svc, const mail_row *row, const attempt *a, const char *what,
                        int64_t retry_in_ms) {
    char attempts[24], retry[24];
    i64_text(row->attempts + 1, attempts);
    i64_text(retry_in_ms, retry);
    sp_log_level level = a->sent            ? SP_LOG_INFO
                         : retry_in_ms <= 0 ? SP_LOG_ERROR
                         : a->behind        ? SP_LOG_DEBUG
                                            : SP_LOG_WARN;
    sp_log_write(svc->log, level, what, "event_id", row->event_id, "kind",
                 sp_notify_kind_name(row->kind), "to", a->recipient, "attempts", attempts,
                 "retry_in_ms", retry, "reason", a->reason, NULL);
}

static int record_outcome(service *svc, const mail_row *row, const attempt *a, sp_error *err) {
    int64_t now_ms = sp_clock_now_ms(svc->clock);
    char now[24], at[24];
    i64_text(now_ms, now);
    const char *kind = sp_notify_kind_name(row->kind);
    if (a->sent) {
        svc->counters.sent++;
        log_outcome(svc, row, a, "mail sent", 0);
        const char *values[4] = {row->event_id, a->recipient, now, kind};
        return sp_pg_exec(svc->pg, sent_sql, 4, values, NULL, err);
    }
    if (a->behind) {
        i64_text(now_ms + BEHIND_RETRY_MS, at);
        log_outcome(svc, row, a, "mail waits for the read models", BEHIND_RETRY_MS);
        const char *values[4] = {row->event_id, at, a->reason, kind};
        return sp_pg_exec(svc->pg, behind_sql, 4, values, NULL, err);
    }
    bool last = a->permanent || row->attempts + 1 >= svc->config->retries_max;
    if (last && dead_letter(svc, row, a->reason, err) == 0) {
        svc->counters.dead_lettered++;
        log_outcome(svc, row, a, "mail dead-lettered", 0);
        const char *values[5] = {row->event_id, a->recipient, now, a->reason, kind};
        return sp_pg_exec(svc->pg, dead_sql, 5, values, NULL, err);
    }
    /* Not the last attempt, or the dead letter could not be written: later. */
    int64_t delay_ms = sp_notify_backoff_ms(row->attempts + 1, svc->config->retry_base_ms,
                                            svc->config->retry_ms_max);
    i64_text(now_ms + delay_ms, at);
    svc->counters.retried++;
    log_outcome(svc, row, a, "mail not sent, will retry", delay_ms);
    const char *values[5] = {row->event_id, a->recipient, at, a->reason, kind};
    return sp_pg_exec(svc->pg, retry_sql, 5, values, NULL, err);
}

/* ------------------------------------------------------------------ sending */

/* clang-format off */
/* The due rows, leased for LEASE_MS (pushed into the future) as they are
 * taken, so that a second instance skips them and a crash only delays them.
 * A row also names the session that took it: a row whose session is gone
 * (its sender was killed) is due at once. A session another database role
 * opened may show no backend_start: it then counts as alive, and the row
 * waits for its lease to end. */
static const char due_sql[] =
    "UPDATE notification_mails m SET next_attempt_at ="
    " timestamptz 'epoch' + ($1::bigint + $3::bigint) * interval '1 millisecond',"
    " leased_by_pid = pg_backend_pid(),"
    " leased_by_start = (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid())"
    " FROM (SELECT event_id, kind FROM notification_mails n WHERE status = 'pending'"
    " AND (next_attempt_at <= timestamptz 'epoch' + $1::bigint * interval '1 millisecond'"
    " OR (leased_by_pid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a"
    " WHERE a.pid = n.leased_by_pid"
    " AND (a.backend_start IS NULL OR a.backend_start = n.leased_by_start))))"
    " ORDER BY next_attempt_at, event_id, kind LIMIT $2::integer FOR UPDATE SKIP LOCKED) d"
    " WHERE m.event_id = d.event_id AND m.kind = d.kind"
    " RETURNING m.event_id, m.kind, m.params::text, m.attempts, m.source_topic,"
    " m.source_partition, m.source_offset, encode(m.original, 'hex')";

static const char release_sql[] =
    "UPDATE notification_mails SET next_attempt_at ="
    " timestamptz 'epoch' + $2::bigint * interval '1 millisecond', leased_by_pid = NULL"
    " WHERE event_id = $1 AND kind = $3 AND status = 'pending'";
/* clang-format on */

static void row_of(const PGresult *res, int i, mail_row *row) {
    row->event_id = PQgetvalue(res, i, 0);
    row->kind = sp_notify_kind_parse(PQgetvalue(res, i, 1));
    row->params = PQgetvalue(res, i, 2);
    row->attempts = strtoll(PQgetvalue(res, i, 3), NULL, 10);
    row->topic = PQgetvalue(res, i, 4);
    row->partition = (int32_t)strtol(PQgetvalue(res, i, 5), NULL, 10);
    row->offset = strtoll(PQgetvalue(res, i, 6), NULL, 10);
    row->original_hex = PQgetvalue(res, i, 7);
}

/* Mails up to SENDS_PER_ROUND_MAX due rows within about SEND_ROUND_MS_MAX;
 * *count says how many were due (the rest stay due for the next round). */
static int send_due(service *svc, int *count, sp_error *err) {
    char now[24], limit[24], lease[24];
    i64_text(sp_clock_now_ms(svc->clock), now);
    i64_text(SENDS_PER_ROUND_MAX, limit);
    i64_text(LEASE_MS, lease);
    const char *values[3] = {now, limit, lease};
    PGresult *res = NULL;
    *count = 0;
    if (sp_pg_exec(svc->pg, due_sql, 3, values, &res, err) != 0) return -1;
    int rc = 0;
    *count = PQntuples(res);
    int64_t started_ms = sp_clock_monotonic_ms();
    for (int i = 0; i < *count && rc == 0; i++) {
        mail_row row;
        row_of(res, i, &row);
        assert(sp_notify_kind_name(row.kind)[0] != '\0'); /* the table's CHECK */
        if (sp_clock_monotonic_ms() - started_ms >= SEND_ROUND_MS_MAX) {
            /* Out of time: the row is due again at once, for the next round. */
            const char *release[3] = {row.event_id, now, sp_notify_kind_name(row.kind)};
            rc = sp_pg_exec(svc->pg, release_sql, 3, release, NULL, err);
            continue;
        }
        attempt a;
        try_row(svc, &row, &a);
        rc = record_outcome(svc, &row, &a, err);
    }
    PQclear(res);
    return rc;
}

/* ------------------------------------------------------------------ loop */

/* The backlog: e-mails recorded and not yet sent nor given up on. */
static void pending_text(service *svc, char out[24]) {
    snprintf(out, 24, "unknown");
    PGresult *res = NULL;
    sp_error err;
    if (svc->pg == NULL ||
        sp_pg_exec(svc->pg, "SELECT count(*) FROM notification_mails WHERE status = 'pending'", 0,
                   NULL, &res, &err) != 0)
        return;
    if (PQntuples(res) == 1) snprintf(out, 24, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
}

static void log_stats(service *svc) {
    char staged[24], sent[24], retried[24], dead[24], pending[24];
    pending_text(svc, pending);
    i64_text((int64_t)svc->counters.staged, staged);
    i64_text((int64_t)svc->counters.sent, sent);
    i64_text((int64_t)svc->counters.retried, retried);
    i64_text((int64_t)svc->counters.dead_lettered, dead);
    sp_log_info(svc->log, "stats", "pending", pending, "staged", staged, "sent", sent, "retried",
                retried, "dead_lettered", dead, NULL);
}

static int loop(service *svc, volatile sig_atomic_t *stop, sp_error *err) {
    int due = 0;
    svc->stats_at_ms = sp_clock_monotonic_ms();
    while (!*stop) {
        int timeout_ms = due >= SENDS_PER_ROUND_MAX ? POLL_BUSY_MS : POLL_IDLE_MS;
        int n = sp_kafka_consumer_poll_batch(svc->consumer, svc->msgs, SP_KAFKA_BATCH_MAX,
                                             timeout_ms, err);
        if (n < 0) return -1;
        if (n > 0 && stage_batch(svc, (size_t)n, stop, err) != 0) return -1;
        if (svc->pg != NULL && send_due(svc, &due, err) != 0) {
            sp_log_warn(svc->log, "cannot send the due e-mails now", "detail", err->message, NULL);
            due = 0;
            if (reconnect(svc, err) != 0) svc->pg = NULL;
        }
        if (svc->pg == NULL && reconnect(svc, err) != 0) svc->pg = NULL;
        sp_kafka_producer_poll(svc->producer);
        if (sp_clock_monotonic_ms() - svc->stats_at_ms >= STATS_INTERVAL_MS) {
            log_stats(svc);
            svc->stats_at_ms = sp_clock_monotonic_ms();
        }
    }
    sp_log_info(svc->log, "stopping", NULL);
    return 0;
}

static int start(service *svc, sp_error *err) {
    svc->msgs = calloc(SP_KAFKA_BATCH_MAX, sizeof *svc->msgs);
    svc->message = malloc(SP_NOTIFY_MESSAGE_BYTES_MAX);
    if (svc->msgs == NULL || svc->message == NULL)
        return sp_error_set(err, 500, "out_of_memory", "", "buffers");
    svc->smtp = sp_notify_smtp_new(&svc->config->smtp, err);
    if (svc->smtp == NULL) return -1;
    svc->pg = sp_pg_connect(svc->config->pg_dsn, PG_WAIT_MS, svc->log, err);
    if (svc->pg == NULL) return -1;
    /* Safe beside the projection's own run: sp_pg_migrate holds an advisory lock. */
    if (sp_pg_migrate(svc->pg, svc->config->migrations_dir, svc->log, err) != 0) return -1;
    svc->producer = sp_kafka_producer_new(svc->config->brokers, "solipass-notifications", svc->log,
                                          err);
    if (svc->producer == NULL) return -1;
    const char *const topics[] = {SP_TOPIC_ACCOUNTS_EVENTS, SP_TOPIC_LEDGER_EVENTS};
    svc->consumer = sp_kafka_consumer_new_group(svc->config->brokers, SP_NOTIFY_GROUP_ID, topics, 2,
                                                sp_service_on_assigned, NULL, &svc->readiness,
                                                svc->log, err);
    return svc->consumer != NULL ? 0 : -1;
}

int sp_notify_service_run(const sp_notify_config *config, sp_log *log, sp_clock *clock,
                          volatile sig_atomic_t *stop, sp_error *err) {
    assert(config != NULL && log != NULL && clock != NULL && stop != NULL);
    assert(config->retries_max >= 1 && config->retry_base_ms > 0 && config->max_age_s > 0);
    service *svc = calloc(1, sizeof *svc);
    if (svc == NULL) return sp_error_set(err, 500, "out_of_memory", "", "service");
    svc->config = config;
    svc->log = log;
    svc->readiness.log = log;
    svc->clock = clock;
    int rc = start(svc, err);
    if (rc == 0) rc = loop(svc, stop, err);
    sp_kafka_consumer_free(svc->consumer);
    sp_kafka_producer_free(svc->producer);
    sp_notify_smtp_free(svc->smtp);
    PQfinish(svc->pg);
    free(svc->message);
    free(svc->msgs);
    free(svc);
    return rc;
}
