/* solipass-loggen - writes a synthetic but valid event log straight to the
 * broker, for the replay benchmark (tests/bench/replay): SP_LOGGEN_PARTNERS
 * PartnerCreated events on the accounts topic, then per pass a PassOpened,
 * a PassCredited and payments to the partners in turn, until
 * SP_LOGGEN_EVENTS ledger and accounts events are written. Each pass's events
 * carry its versions 1, 2, 3 ... and the balances and postings the
 * transactions service would have decided, so the projection and the audit
 * accept every one. Keyed by pass id: one pass, one partition.
 * SP_LOGGEN_USERS beneficiaries (default 0), each a UserRegistered and a
 * SessionStarted on the accounts topic, after the partners: what the
 * gateway reads at start (tests/bench/gateway_start). SP_LOGGEN_LOGINS
 * (default 0) more logins of those users in turn, each a SessionStarted and
 * its SessionEnded a minute apart: an accounts history that grows while the
 * state it leaves stays the same size (tests/bench/recovery --service
 * accounts).
 *
 * Prints one line "events=N passes=P partners=Q bytes=B" on stdout. */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "accounts.pb-c.h"
#include "ledger.pb-c.h"
#include "sp_config.h"
#include "sp_envelope.h"
#include "sp_error.h"
#include "sp_id.h"
#include "sp_kafka.h"
#include "sp_log.h"

#define LOGGEN_CLIENT_ID "solipass-loggen"
#define LOGGEN_CATEGORY "general"
#define LOGGEN_PAYMENT_CENTS 100
#define LOGGEN_FLUSH_EVERY 20000 /* bounds librdkafka's queue */
#define LOGGEN_FLUSH_TIMEOUT_MS 60000
#define LOGGEN_ACCOUNT_MAX 96
#define LOGGEN_START_MS INT64_C(1793000000000) /* 2026-10-26: a fixed, valid instant */
#define LOGGEN_LOGIN_STEP_MS INT64_C(60000)    /* between two logins of the history */
#define LOGGEN_SESSION_TTL_MS INT64_C(86400000)

typedef struct loggen_partner {
    char id[SP_ID_LEN + 1];
    char code[SP_PARTNER_CODE_LEN + 1];
} loggen_partner;

typedef struct loggen {
    sp_kafka_producer *producer;
    loggen_partner *partners;
    int64_t partner_count;
    int64_t events, bytes, passes;
    int64_t now_ms;
    char (*user_ids)[SP_ID_LEN + 1]; /* SP_LOGGEN_USERS, for their later logins */
} loggen;

static int produce(loggen *g, const char *topic, const char *aggregate_id, uint64_t version,
                   const char *type, const ProtobufCMessage *payload, sp_error *err) {
    char command_id[SP_ID_LEN + 1];
    sp_id_new(command_id);
    sp_envelope_meta meta = {.type = type,
                             .aggregate_id = aggregate_id,
                             .aggregate_version = version,
                             .occurred_at_ms = g->now_ms++,
                             .command_id = command_id,
                             .causation_id = "",
                             .reply_to = "",
                             .actor_id = ""};
    uint8_t *value = NULL;
    size_t len = 0;
    if (sp_envelope_pack(&meta, payload, &value, &len, NULL, err) != 0) return -1;
    int rc = sp_kafka_produce(g->producer, topic, RD_KAFKA_PARTITION_UA, aggregate_id, value, len,
                              NULL, err);
    free(value);
    if (rc != 0) return -1;
    g->events++;
    g->bytes += (int64_t)len;
    if (g->events % LOGGEN_FLUSH_EVERY == 0)
        return sp_kafka_producer_flush(g->producer, LOGGEN_FLUSH_TIMEOUT_MS, err);
    return 0;
}

static int partners_create(loggen *g, sp_error *err) {
    for (int64_t i = 0; i < g->partner_count; i++) {
        loggen_partner *p = &g->partners[i];
        sp_id_new(p->id);
        sp_partner_code_new(p->code);
        char name[64];
        snprintf(name, sizeof name, "Partner %" PRId64, i);
        Solipass__Accounts__PartnerCreated m = SOLIPASS__ACCOUNTS__PARTNER_CREATED__INIT;
        m.partner_id = p->id;
        m.partner_code = p->code;
        m.name = name;
        m.category = "sport";
        if (produce(g, SP_TOPIC_ACCOUNTS_EVENTS, p->id, 1, "accounts.PartnerCreated.v1", &m.base,
                    err) != 0)
            return -1;
    }
    return 0;
}

/* A new session of the user (its token's hash in token_hash). */
static int session_start(loggen *g, const char *user_id, uint64_t version,
                         uint8_t token_hash[SP_TOKEN_HASH_LEN], sp_error *err) {
    randombytes_buf(token_hash, SP_TOKEN_HASH_LEN);
    Solipass__Accounts__SessionStarted session = SOLIPASS__ACCOUNTS__SESSION_STARTED__INIT;
    session.user_id = (char *)user_id;
    session.token_hash.data = token_hash;
    session.token_hash.len = SP_TOKEN_HASH_LEN;
    session.expires_at_ms = g->now_ms + LOGGEN_SESSION_TTL_MS;
    return produce(g, SP_TOPIC_ACCOUNTS_EVENTS, user_id, version, "accounts.SessionStarted.v1",
                   &session.base, err);
}

/* Beneficiaries enrolled without a password yet (as from a CSV file: they
 * get an activation link), each with one open session. */
static int users_create(loggen *g, int64_t user_count, sp_error *err) {
    for (int64_t i = 0; i < user_count; i++) {
        char user_id[SP_ID_LEN + 1], pass_id[SP_ID_LEN + 1], email[64], name[64];
        sp_id_new(user_id);
        sp_id_new(pass_id);
        snprintf(email, sizeof email, "user-%" PRId64 "@bench.example.org", i);
        snprintf(name, sizeof name, "Beneficiary %" PRId64, i);
        Solipass__Accounts__UserRegistered user = SOLIPASS__ACCOUNTS__USER_REGISTERED__INIT;
        user.user_id = user_id;
        user.email = email;
        user.password_hash = "";
        user.full_name = name;
        user.role = SOLIPASS__ACCOUNTS__ROLE__ROLE_BENEFICIARY;
        user.partner_id = "";
        user.pass_id = pass_id;
        if (produce(g, SP_TOPIC_ACCOUNTS_EVENTS, user_id, 1, "accounts.UserRegistered.v1",
                    &user.base, err) != 0)
            return -1;
        uint8_t token_hash[SP_TOKEN_HASH_LEN];
        if (session_start(g, user_id, 2, token_hash, err) != 0) return -1;
        snprintf(g->user_ids[i], sizeof g->user_ids[i], "%s", user_id);
    }
    return 0;
}

/* login_count logins of the users in turn (each user's versions go on
 * from 3: registered, first session), each ended a minute later. */
static int logins_create(loggen *g, int64_t user_count, int64_t login_count, sp_error *err) {
    for (int64_t k = 0; k < login_count && user_count > 0; k++) {
        const char *user_id = g->user_ids[k % user_count];
        uint64_t version = 3 + 2 * (uint64_t)(k / user_count);
        g->now_ms += LOGGEN_LOGIN_STEP_MS;
        uint8_t token_hash[SP_TOKEN_HASH_LEN];
        if (session_start(g, user_id, version, token_hash, err) != 0) return -1;
        g->now_ms += LOGGEN_LOGIN_STEP_MS;
        Solipass__Accounts__SessionEnded ended = SOLIPASS__ACCOUNTS__SESSION_ENDED__INIT;
        ended.user_id = (char *)user_id;
        ended.token_hash.data = token_hash;
        ended.token_hash.len = sizeof token_hash;
        if (produce(g, SP_TOPIC_ACCOUNTS_EVENTS, user_id, version + 1, "accounts.SessionEnded.v1",
                    &ended.base, err) != 0)
            return -1;
    }
    return 0;
}

/* PassOpened (1), PassCredited (2) with what `payments` payments need. */
static int pass_open(loggen *g, const char *pass_id, int64_t payments, sp_error *err) {
    char beneficiary[SP_ID_LEN + 1], operation[SP_ID_LEN + 1], account[LOGGEN_ACCOUNT_MAX];
    sp_id_new(beneficiary);
    sp_id_new(operation);
    snprintf(account, sizeof account, "pass:%s:" LOGGEN_CATEGORY, pass_id);
    Solipass__Ledger__EnvelopeSpec spec = SOLIPASS__LEDGER__ENVELOPE_SPEC__INIT;
    spec.category = LOGGEN_CATEGORY;
    spec.end_date = "";
    Solipass__Ledger__EnvelopeSpec *specs[1] = {&spec};
    Solipass__Ledger__PassOpened opened = SOLIPASS__LEDGER__PASS_OPENED__INIT;
    opened.pass_id = (char *)pass_id;
    opened.beneficiary_id = beneficiary;
    opened.n_envelopes = 1;
    opened.envelopes = specs;
    if (produce(g, SP_TOPIC_LEDGER_EVENTS, pass_id, 1, "ledger.PassOpened.v1", &opened.base, err) !=
        0)
        return -1;
    int64_t amount = payments * LOGGEN_PAYMENT_CENTS;
    Solipass__Ledger__Posting posting = SOLIPASS__LEDGER__POSTING__INIT;
    posting.debit_account = "budget";
    posting.credit_account = account;
    posting.amount_cents = amount;
    Solipass__Ledger__Posting *postings[1] = {&posting};
    Solipass__Ledger__PassCredited credited = SOLIPASS__LEDGER__PASS_CREDITED__INIT;
    credited.operation_id = operation;
    credited.pass_id = (char *)pass_id;
    credited.category = LOGGEN_CATEGORY;
    credited.amount_cents = amount;
    credited.envelope_balance_after_cents = amount;
    credited.pass_balance_after_cents = amount;
    credited.n_postings = 1;
    credited.postings = postings;
    return produce(g, SP_TOPIC_LEDGER_EVENTS, pass_id, 2, "ledger.PassCredited.v1", &credited.base,
                   err);
}

static int pay(loggen *g, const char *pass_id, uint64_t version, int64_t balance_after,
               const loggen_partner *partner, sp_error *err) {
    char operation[SP_ID_LEN + 1], debit[LOGGEN_ACCOUNT_MAX], credit[LOGGEN_ACCOUNT_MAX];
    sp_id_new(operation);
    snprintf(debit, sizeof debit, "pass:%s:" LOGGEN_CATEGORY, pass_id);
    snprintf(credit, sizeof credit, "partner:%s:owed", partner->id);
    Solipass__Ledger__Posting posting = SOLIPASS__LEDGER__POSTING__INIT;
    posting.debit_account = debit;
    posting.credit_account = credit;
    posting.amount_cents = LOGGEN_PAYMENT_CENTS;
    Solipass__Ledger__Posting *postings[1] = {&posting};
    Solipass__Ledger__PaymentAccepted m = SOLIPASS__LEDGER__PAYMENT_ACCEPTED__INIT;
    m.operation_id = operation;
    m.pass_id = (char *)pass_id;
    m.partner_id = (char *)partner->id;
    m.partner_code = (char *)partner->code;
    m.category = LOGGEN_CATEGORY;
    m.amount_cents = LOGGEN_PAYMENT_CENTS;
    m.envelope_balance_after_cents = balance_after;
    m.pass_balance_after_cents = balance_after;
    m.n_postings = 1;
    m.postings = postings;
    m.beneficiary_id = "";
    return produce(g, SP_TOPIC_LEDGER_EVENTS, pass_id, version, "ledger.PaymentAccepted.v1",
                   &m.base, err);
}

/* Passes one after the other, the payments shared evenly: a pass's events
 * all land on its partition, and a partition keeps at most 5 MiB. */
static int passes_create(loggen *g, int64_t events_max, int64_t pass_count, sp_error *err) {
    int64_t payments_total = events_max - g->events - 2 * pass_count;
    assert(payments_total >= 0);
    for (int64_t i = 0; i < pass_count; i++) {
        char pass_id[SP_ID_LEN + 1];
        sp_id_new(pass_id);
        int64_t payments = payments_total / pass_count + (i < payments_total % pass_count ? 1 : 0);
        if (pass_open(g, pass_id, payments, err) != 0) return -1;
        g->passes++;
        for (int64_t k = 0; k < payments; k++) {
            const loggen_partner *partner = &g->partners[(i + k) % g->partner_count];
            int64_t after = (payments - k - 1) * LOGGEN_PAYMENT_CENTS;
            if (pay(g, pass_id, (uint64_t)(3 + k), after, partner, err) != 0) return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *brokers = NULL, *log_level = NULL;
    int64_t events_max = 0, pass_count = 0, partner_count = 0, user_count = 0, login_count = 0;
    const sp_config_item items[] = {
        {"SP_KAFKA_BROKERS", SP_CONFIG_STRING, NULL, 0, 0, "Kafka bootstrap servers", &brokers},
        {"SP_LOGGEN_EVENTS", SP_CONFIG_INT, "300000", 10, 100000000,
         "events to write in all (partners included)", &events_max},
        {"SP_LOGGEN_PASSES", SP_CONFIG_INT, "20000", 1, 10000000, "passes", &pass_count},
        {"SP_LOGGEN_PARTNERS", SP_CONFIG_INT, "100", 1, 100000, "partners", &partner_count},
        {"SP_LOGGEN_USERS", SP_CONFIG_INT, "0", 0, 1000000,
         "beneficiaries with one open session each (two accounts events each)", &user_count},
        {"SP_LOGGEN_LOGINS", SP_CONFIG_INT, "0", 0, 100000000,
         "more logins of those beneficiaries in turn, each ended a minute later (two accounts "
         "events each, a minute apart)",
         &login_count},
        {"SP_LOG_LEVEL", SP_CONFIG_STRING, "info", 0, 0, "debug | info | warn | error", &log_level},
    };
    sp_log log;
    sp_error err;
    sp_error_clear(&err);
    sp_log_init(&log, "loggen", SP_LOG_INFO, stderr);
    sp_config_result loaded = sp_config_load(
        items, sizeof items / sizeof items[0], argc, argv, "solipass-loggen",
        "Writes a synthetic valid event log to the broker (the replay benchmark).", &err);
    int rc = loaded == SP_CONFIG_HELP_SHOWN ? 0 : 2;
    loggen g = {.partner_count = partner_count, .now_ms = LOGGEN_START_MS};
    if (loaded != SP_CONFIG_OK) goto done;
    if (partner_count + 2 * user_count + 2 * login_count + 2 * pass_count > events_max ||
        sodium_init() < 0) {
        sp_error_set(&err, 400, "invalid_config", "SP_LOGGEN_EVENTS",
                     "SP_LOGGEN_EVENTS must cover the partners and two events per user, per "
                     "login and per pass");
        goto done;
    }
    g.partners = calloc((size_t)partner_count, sizeof *g.partners);
    g.user_ids = calloc((size_t)(user_count > 0 ? user_count : 1), sizeof *g.user_ids);
    g.producer = sp_kafka_producer_new(brokers, LOGGEN_CLIENT_ID, &log, &err);
    rc = 1;
    if (g.partners == NULL || g.user_ids == NULL || g.producer == NULL ||
        partners_create(&g, &err) != 0 || users_create(&g, user_count, &err) != 0 ||
        logins_create(&g, user_count, login_count, &err) != 0 ||
        passes_create(&g, events_max, pass_count, &err) != 0 ||
        sp_kafka_producer_flush(g.producer, LOGGEN_FLUSH_TIMEOUT_MS, &err) != 0)
        goto done;
    printf("events=%" PRId64 " passes=%" PRId64 " partners=%" PRId64 " bytes=%" PRId64 "\n",
           g.events, g.passes, partner_count, g.bytes);
    rc = fflush(stdout) == 0 ? 0 : 1;
done:
    if (rc != 0 && loaded != SP_CONFIG_HELP_SHOWN)
        sp_log_error(&log, "loggen failed", "code", err.code[0] ? err.code : "failed", "error",
                     err.message, NULL);
    sp_kafka_producer_free(g.producer);
    free(g.partners);
    free(g.user_ids);
    sp_log_destroy(&log);
    return rc;
}
