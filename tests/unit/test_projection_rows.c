/* test_projection_rows.c - the projection's pure layer: each event type maps
 * to its statement and parameters, a poison message is refused with a
 * reason before any SQL, and the position rules guard against a hole in a
 * read model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>
#include "accounts.pb-c.h"
#include "ledger.pb-c.h"
#include "projection/projection_positions.h"
#include "projection/projection_rows.h"
#include "projection/projection_rows_internal.h"
#include "sp_receipt.h"
#include "sp_id.h"

#define PASS_ID "3b1f6c2e-8d4a-4c5e-9f10-2a3b4c5d6e7f"
#define OTHER_ID "0a9b8c7d-6e5f-4a3b-8c1d-0e9f8a7b6c5d"
#define PARTNER_ID "5d4c3b2a-1f0e-4d9c-ab8a-7f6e5d4c3b2a"
#define USER_ID "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918"
#define OPERATION_ID "9a8b7c6d-5e4f-4321-b0a9-8b7c6d5e4f32"
#define T_MS INT64_C(1795773600123) /* 2026-11-27T10:00:00.123Z */
#define T_TEXT "2026-11-27T10:00:00.123Z"
#define ENVELOPE_ACCOUNT "pass:" PASS_ID ":general"
#define OWED_ACCOUNT "partner:" PARTNER_ID ":owed"

/* A packed message, as the consumer would hand it over. */
typedef struct fixture {
    uint8_t *value;
    size_t value_len;
    sp_kafka_msg msg;
    char buf[SP_PROJECTION_ROW_BYTES_MAX];
    sp_projection_row row;
    sp_error err;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    free(f->value);
    free(f);
    return 0;
}

static void pack(fixture *f, const char *topic, const char *type, const char *aggregate_id,
                 uint64_t version, const ProtobufCMessage *payload) {
    sp_envelope_meta meta = {.type = type,
                             .aggregate_id = aggregate_id,
                             .aggregate_version = version,
                             .occurred_at_ms = T_MS,
                             .command_id = "key-1",
                             .causation_id = "",
                             .reply_to = "",
                             .actor_id = USER_ID};
    sp_error err;
    free(f->value);
    f->value = NULL;
    assert_int_equal(sp_envelope_pack(&meta, payload, &f->value, &f->value_len, NULL, &err), 0);
    f->msg = (sp_kafka_msg){
        .topic = topic, .partition = 3, .offset = 41, .value = f->value, .value_len = f->value_len};
}

static int build(fixture *f) {
    sp_error_clear(&f->err);
    return sp_projection_row_build(&f->msg, f->buf, sizeof f->buf, &f->row, &f->err);
}

static void assert_poison(fixture *f, const char *code, const char *field) {
    assert_int_equal(build(f), -1);
    assert_string_equal(f->err.code, code);
    if (field != NULL) assert_string_equal(f->err.field, field);
    assert_null(f->row.sql);
}

static void assert_param(const fixture *f, int position, const char *expected) {
    assert_true(position >= 1 && position <= f->row.param_count);
    if (expected == NULL) assert_null(f->row.params[position - 1]);
    else assert_string_equal(f->row.params[position - 1], expected);
}

static void partner_code(char out[SP_PARTNER_CODE_LEN + 1]) {
    memcpy(out, "4820193", 7);
    out[7] = sp_luhn_check_digit("4820193");
    out[8] = '\0';
}

/* ------------------------------------------------------------ accounts events */

static void test_partner_created(void **state) {
    fixture *f = *state;
    char code[SP_PARTNER_CODE_LEN + 1];
    partner_code(code);
    Solipass__Accounts__PartnerCreated m = SOLIPASS__ACCOUNTS__PARTNER_CREATED__INIT;
    m.partner_id = PARTNER_ID;
    m.partner_code = code;
    m.name = "Club de lecture \xc3\xa9t\xc3\xa9";
    m.category = "culture";
    pack(f, SP_TOPIC_ACCOUNTS_EVENTS, "accounts.PartnerCreated.v1", PARTNER_ID, 1, &m.base);
    assert_int_equal(build(f), 0);
    assert_int_equal(f->row.kind, SP_PROJECTION_PARTNER_CREATED);
    assert_false(f->row.versioned);
    assert_non_null(strstr(f->row.sql, "INSERT INTO partners"));
    assert_int_equal(f->row.param_count, 5);
    assert_param(f, 1, PARTNER_ID);
    assert_param(f, 2, code);
    assert_param(f, 3, "Club de lecture \xc3\xa9t\xc3\xa9");
    assert_param(f, 4, "culture");
    assert_param(f, 5, T_TEXT);
    /* what the history takes of the envelope */
    assert_true(sp_id_valid(f->row.event_id));
    assert_string_equal(f->row.actor_id, USER_ID);
    assert_int_equal(f->row.occurred_at_ms, T_MS);

    m.category = "general"; /* a partner's category is never "general" */
    pack(f, SP_TOPIC_ACCOUNTS_EVENTS, "accounts.PartnerCreated.v1", PARTNER_ID, 1, &m.base);
    assert_poison(f, "invalid_event", "category");
    m.category = "culture";
    code[7] = code[7] == '9' ? '0' : (char)(code[7] + 1); /* wrong check digit */
    pack(f, SP_TOPIC_ACCOUNTS_EVENTS, "accounts.PartnerCreated.v1", PARTNER_ID, 1, &m.base);
    assert_poison(f, "invalid_event", "partner_code");
}

static void test_user_registered(void **state) {
    fixture *f = *state;
    Solipass__Accounts__UserRegistered m = SOLIPASS__ACCOUNTS__USER_REGISTERED__INIT;
    m.user_id = USER_ID;
    m.email = "admin@club.example";
    m.password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA";
    m.full_name = "Ada Admin";
    m.role = SOLIPASS__ACCOUNTS__ROLE__ROLE_PARTNER_ADMIN;
    m.partner_id = PARTNER_ID;
    pack(f, SP_TOPIC_ACCOUNTS_EVENTS, "accounts.UserRegistered.v1", USER_ID, 1, &m.base);
    assert_int_equal(build(f), 0);
    assert_int_equal(f->row.param_count, 8);
    assert_param(f, 1, USER_ID);
    assert_param(f, 2, "admin@club.example");
    assert_param(f, 5, "partner_admin");
    assert_param(f, 6, PARTNER_ID);
    assert_param(f, 7, NULL); /* no pass: SQL NULL, not "" */
    assert_param(f, 8, T_TEXT);

    m.role = SOLIPASS__ACCOUNTS__ROLE__ROLE_BENEFICIARY;
    m.partner_id = "";
    m.pass_id = PASS_ID;
    pack(f, SP_TOPIC_ACCOUNTS_EVENTS, "accounts.UserRegistered.v1", USER_ID, 1, &m.base);
    assert_int_equal(build(f), 0);
    assert_param(f, 5, "beneficiary");
    assert_param(f, 6, NULL);
    assert_param(f, 7, PASS_ID);

    m.role = SOLIPASS__ACCOUNTS__ROLE__ROLE_UNSPECIFIED;
    pack(f, SP_TOPIC_ACCOUNTS_EVENTS, "accounts.UserRegistered.v1", USER_ID, 1, &m.base);
    assert_poison(f, "invalid_event", "role");
    m.role = SOLIPASS__ACCOUNTS__ROLE__ROLE_PARTNER_USER; /* without its partner */
    pack(f, SP_TOPIC_ACCOUNTS_EVENTS, "accounts.UserRegistered.v1", USER_ID, 1, &m.base);
    assert_poison(f, "invalid_event", "partner_id");
    m.role = SOLIPASS__ACCOUNTS__ROLE__ROLE_BACKOFFICE;
    m.pass_id = "";
    m.full_name = "bad \xff byte";
    pack(f, SP_TOPIC_ACCOUNTS_EVENTS, "accounts.UserRegistered.v1", USER_ID, 1, &m.base);
    assert_poison(f, "invalid_event", "full_name");
    m.full_name = "Ada";
    pack(f, SP_TOPIC_ACCOUNTS_EVENTS, "accounts.UserRegistered.v1", OTHER_ID, 1, &m.base);
    assert_poison(f, "invalid_event", "user_id"); /* not its own aggregate */
}

static void test_sessions(void **state) {
    fixture *f = *state;
    uint8_t hash[SP_TOKEN_HASH_LEN];
    for (size_t i = 0; i < sizeof hash; i++) hash[i] = (uint8_t)(0xa0 + i);
    Solipass__Accounts__SessionStarted started = SOLIPASS__ACCOUNTS__SESSION_STARTED__INIT;
    started.user_id = USER_ID;
    started.token_hash = (ProtobufCBinaryData){.len = sizeof hash, .data = hash};
    started.expires_at_ms = T_MS + 3600000;
    pack(f, SP_TOPIC_ACCOUNTS_EVENTS, "accounts.SessionStarted.v1", USER_ID, 2, &started.base);
    assert_int_equal(build(f), 0);
    assert_int_equal(f->row.param_count, 3);
    assert_param(f, 1, "\\xa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf");
    assert_param(f, 2, USER_ID);
    assert_param(f, 3, "2026-11-27T11:00:00.123Z");

    Solipass__Accounts__SessionEnded ended = SOLIPASS__ACCOUNTS__SESSION_ENDED__INIT;
    ended.user_id = USER_ID;
    ended.token_hash = (ProtobufCBinaryData){.len = sizeof hash, .data = hash};
    pack(f, SP_TOPIC_ACCOUNTS_EVENTS, "accounts.SessionEnded.v1", USER_ID, 3, &ended.base);
    assert_int_equal(build(f), 0);
    assert_non_null(strstr(f->row.sql, "ended_at IS NULL"));
    assert_param(f, 3, T_TEXT);

    ended.token_hash.len = 16;
    pack(f, SP_TOPIC_ACCOUNTS_EVENTS, "accounts.SessionEnded.v1", USER_ID, 3, &ended.base);
    assert_poison(f, "invalid_event", "token_hash");
}

static void test_partner_space_events(void **state) {
    fixture *f = *state;
    char *links[] = {"https://social.example/a\"b", "http://video.example/c"};
    Solipass__Accounts__PartnerProfile profile = SOLIPASS__ACCOUNTS__PARTNER_PROFILE__INIT;
    profile.legal_name = "Association";
    profile.public_name = "Le Club";
    profile.n_social_links = 2;
    profile.social_links = links;
    profile.iban = "FR7630006000011234567890189";
    Solipass__Accounts__PartnerProfileUpdated updated =
        SOLIPASS__ACCOUNTS__PARTNER_PROFILE_UPDATED__INIT;
    updated.partner_id = PARTNER_ID;
    updated.profile = &profile;
    pack(f, SP_TOPIC_ACCOUNTS_EVENTS, "accounts.PartnerProfileUpdated.v1", PARTNER_ID, 2,
         &updated.base);
    /* A quote in a URL is refused: the accounts service never writes one. */
    assert_poison(f, "invalid_event", "social_links");
    links[0] = "https://social.example/a";
    pack(f, SP_TOPIC_ACCOUNTS_EVENTS, "accounts.PartnerProfileUpdated.v1", PARTNER_ID, 2,
         &updated.base);
    assert_int_equal(build(f), 0);
    assert_int_equal(f->row.param_count, 15);
    assert_non_null(strstr(f->row.sql, "profile_version < $2"));
    /* The bank details are kept with the event's time, for the SEPA file. */
    assert_non_null(strstr(f->row.sql, "INSERT INTO partner_bank_details"));
    assert_param(f, 15, "2026-11-27T10:00:00.123Z");
    assert_param(f, 2, "2");
    assert_param(f, 4, "Le Club");
    assert_param(f, 7, "{\"https://social.example/a\",\"http://video.example/c\"}");
    assert_param(f, 12, "FR7630006000011234567890189");
    updated.profile = NULL;
    pack(f, SP_TOPIC_ACCOUNTS_EVENTS, "accounts.PartnerProfileUpdated.v1", PARTNER_ID, 2,
         &updated.base);
    assert_poison(f, "invalid_event", "profile");

    Solipass__Accounts__PartnerImageSet image = SOLIPASS__ACCOUNTS__PARTNER_IMAGE_SET__INIT;
    image.partner_id = PARTNER_ID;
    image.slot = "logo";
    image.sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    image.content_type = "image/png";
    pack(f, SP_TOPIC_ACCOUNTS_EVENTS, "accounts.PartnerImageSet.v1", PARTNER_ID, 3, &image.base);
    assert_int_equal(build(f), 0);
    assert_param(f, 3, "logo");
    image.content_type = "image/svg+xml";
    pack(f, SP_TOPIC_ACCOUNTS_EVENTS, "accounts.PartnerImageSet.v1", PARTNER_ID, 3, &image.base);
    assert_poison(f, "invalid_event", "content_type");

    Solipass__Accounts__UserRoleChanged role = SOLIPASS__ACCOUNTS__USER_ROLE_CHANGED__INIT;
    role.user_id = USER_ID;
    role.partner_id = PARTNER_ID;
    role.role = SOLIPASS__ACCOUNTS__ROLE__ROLE_PARTNER_ADMIN;
    pack(f, SP_TOPIC_ACCOUNTS_EVENTS, "accounts.UserRoleChanged.v1", USER_ID, 4, &role.base);
    assert_int_equal(build(f), 0);
    assert_param(f, 2, "partner_admin");
    role.role = SOLIPASS__ACCOUNTS__ROLE__ROLE_BACKOFFICE;
    pack(f, SP_TOPIC_ACCOUNTS_EVENTS, "accounts.UserRoleChanged.v1", USER_ID, 4, &role.base);
    assert_poison(f, "invalid_event", "role");

    Solipass__Accounts__UserRemoved removed = SOLIPASS__ACCOUNTS__USER_REMOVED__INIT;
    removed.user_id = USER_ID;
    removed.partner_id = PARTNER_ID;
    pack(f, SP_TOPIC_ACCOUNTS_EVENTS, "accounts.UserRemoved.v1", USER_ID, 5, &removed.base);
    assert_int_equal(build(f), 0);
    /* One statement removes the user and ends its sessions. */
    assert_non_null(strstr(f->row.sql, "UPDATE sessions SET ended_at"));
    assert_param(f, 3, T_TEXT);
    pack(f, SP_TOPIC_ACCOUNTS_EVENTS, "accounts.UserRemoved.v1", OTHER_ID, 5, &removed.base);
    assert_poison(f, "invalid_event", "user_id");
}

static void test_accounts_rejection_changes_nothing(void **state) {
    fixture *f = *state;
    Solipass__Accounts__CommandRejected m = SOLIPASS__ACCOUNTS__COMMAND_REJECTED__INIT;
    m.command_type = "accounts.CreatePartner.v1";
    m.code = "email_taken";
    pack(f, SP_TOPIC_ACCOUNTS_EVENTS, "accounts.CommandRejected.v1", USER_ID, 4, &m.base);
    assert_int_equal(build(f), 0);
    assert_null(f->row.sql);
    assert_int_equal(f->row.param_count, 0);
}

static void test_links(void **state) {
    fixture *f = *state;
    Solipass__Accounts__ActivationIssued issued = SOLIPASS__ACCOUNTS__ACTIVATION_ISSUED__INIT;
    issued.activation_id = OPERATION_ID;
    issued.user_id = USER_ID;
    issued.email = "coach@club.example";
    issued.purpose = "activation";
    issued.expires_at_ms = T_MS + 3600000;
    pack(f, SP_TOPIC_ACCOUNTS_EVENTS, "accounts.ActivationIssued.v1", USER_ID, 2, &issued.base);
    assert_int_equal(build(f), 0);
    assert_null(f->row.sql); /* no read model shows a link */
    issued.purpose = "anything";
    pack(f, SP_TOPIC_ACCOUNTS_EVENTS, "accounts.ActivationIssued.v1", USER_ID, 2, &issued.base);
    assert_poison(f, "invalid_event", "purpose");

    Solipass__Accounts__PasswordSet set = SOLIPASS__ACCOUNTS__PASSWORD_SET__INIT;
    set.user_id = USER_ID;
    set.activation_id = OPERATION_ID;
    set.password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA";
    set.purpose = "reset";
    pack(f, SP_TOPIC_ACCOUNTS_EVENTS, "accounts.PasswordSet.v1", USER_ID, 3, &set.base);
    assert_int_equal(build(f), 0);
    assert_non_null(strstr(f->row.sql, "UPDATE users SET password_hash"));
    assert_non_null(strstr(f->row.sql, "UPDATE sessions SET ended_at")); /* a reset ends them */
    assert_int_equal(f->row.param_count, 3);
    assert_param(f, 1, USER_ID);
    assert_param(f, 2, set.password_hash);
    assert_param(f, 3, T_TEXT);
    set.password_hash = "";
    pack(f, SP_TOPIC_ACCOUNTS_EVENTS, "accounts.PasswordSet.v1", USER_ID, 3, &set.base);
    assert_poison(f, "invalid_event", "password_hash");
}

/* ------------------------------------------------------------ ledger events */

static void test_pass_opened(void **state) {
    fixture *f = *state;
    Solipass__Ledger__EnvelopeSpec general = SOLIPASS__LEDGER__ENVELOPE_SPEC__INIT;
    Solipass__Ledger__EnvelopeSpec sport = SOLIPASS__LEDGER__ENVELOPE_SPEC__INIT;
    general.category = "general";
    sport.category = "sport";
    sport.end_date = "2026-12-31";
    Solipass__Ledger__EnvelopeSpec *specs[] = {&general, &sport};
    Solipass__Ledger__PassOpened m = SOLIPASS__LEDGER__PASS_OPENED__INIT;
    m.pass_id = PASS_ID;
    m.beneficiary_id = USER_ID;
    m.n_envelopes = 2;
    m.envelopes = specs;
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.PassOpened.v1", PASS_ID, 1, &m.base);
    assert_int_equal(build(f), 0);
    assert_true(f->row.versioned);
    assert_int_equal(f->row.param_count, 5);
    assert_param(f, 1, PASS_ID);
    assert_param(f, 2, USER_ID);
    assert_param(f, 3, T_TEXT);
    assert_param(f, 4, "{\"general\",\"sport\"}");
    assert_param(f, 5, "{NULL,2026-12-31}");

    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.PassOpened.v1", PASS_ID, 2, &m.base);
    assert_poison(f, "invalid_event", "aggregate_version");
    sport.end_date = "2026-02-30";
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.PassOpened.v1", PASS_ID, 1, &m.base);
    assert_poison(f, "invalid_event", "envelopes.end_date");
    sport.end_date = "";
    sport.category = "general";
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.PassOpened.v1", PASS_ID, 1, &m.base);
    assert_poison(f, "invalid_event", "envelopes.category");
    sport.category = "Sport";
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.PassOpened.v1", PASS_ID, 1, &m.base);
    assert_poison(f, "invalid_event", "envelopes.category");
}

static void test_pass_credited(void **state) {
    fixture *f = *state;
    Solipass__Ledger__Posting posting = SOLIPASS__LEDGER__POSTING__INIT;
    posting.debit_account = "budget";
    posting.credit_account = ENVELOPE_ACCOUNT;
    posting.amount_cents = 5000;
    Solipass__Ledger__Posting *postings[] = {&posting};
    Solipass__Ledger__PassCredited m = SOLIPASS__LEDGER__PASS_CREDITED__INIT;
    m.operation_id = OPERATION_ID;
    m.pass_id = PASS_ID;
    m.category = "general";
    m.amount_cents = 5000;
    m.envelope_balance_after_cents = 7000;
    m.pass_balance_after_cents = 9000;
    m.n_postings = 1;
    m.postings = postings;
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.PassCredited.v1", PASS_ID, 3, &m.base);
    assert_int_equal(build(f), 0);
    assert_int_equal(f->row.kind, SP_PROJECTION_PASS_CREDITED);
    assert_int_equal(f->row.param_count, SP_PROJECTION_CREDIT_PARAM_COUNT);
    assert_non_null(strstr(f->row.sql, "version = $2::bigint - 1"));
    assert_string_equal(f->row.statement, "sp_pass_credited");
    assert_non_null(strstr(f->row.sql, "'credit'"));
    /* the credit may open the envelope, and never shortens its end date */
    assert_non_null(strstr(f->row.sql, "ON CONFLICT (pass_id, category) DO UPDATE"));
    assert_non_null(strstr(f->row.sql, "COALESCE(EXCLUDED.end_date, envelopes.end_date)"));
    /* an event without end_date (written before it existed): $17 NULL */
    /* clang-format off */
    const char *expected[] = {PASS_ID, "3", T_TEXT, "general", "7000", "9000", OPERATION_ID,
                              "5000", "key-1", SP_TOPIC_LEDGER_EVENTS, "3", "41",
                              "{\"budget\",\"" ENVELOPE_ACCOUNT "\"}", "{-5000,5000}", NULL, NULL,
                              NULL};
    /* clang-format on */
    for (int i = 0; i < SP_PROJECTION_CREDIT_PARAM_COUNT; i++) assert_param(f, i + 1, expected[i]);
    m.end_date = "2026-12-31";
    m.envelope_opened = true;
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.PassCredited.v1", PASS_ID, 3, &m.base);
    assert_int_equal(build(f), 0);
    assert_param(f, 17, "2026-12-31");
    m.end_date = "2026-12-32";
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.PassCredited.v1", PASS_ID, 3, &m.base);
    assert_poison(f, "invalid_event", "end_date");
    m.end_date = "";

    posting.amount_cents = 4999; /* postings disagree with the event */
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.PassCredited.v1", PASS_ID, 3, &m.base);
    assert_poison(f, "invalid_event", "postings");
    posting.amount_cents = 5000;
    m.pass_balance_after_cents = -1;
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.PassCredited.v1", PASS_ID, 3, &m.base);
    assert_poison(f, "invalid_event", "pass_balance_after_cents");
    m.pass_balance_after_cents = 9000;
    m.amount_cents = 0;
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.PassCredited.v1", PASS_ID, 3, &m.base);
    assert_poison(f, "invalid_event", "amount_cents");
    m.amount_cents = 5000;
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.PassCredited.v1", PASS_ID, 0, &m.base);
    assert_poison(f, "invalid_event", "aggregate_version");
}

static void test_payment_accepted(void **state) {
    fixture *f = *state;
    char code[SP_PARTNER_CODE_LEN + 1];
    partner_code(code);
    Solipass__Ledger__Posting posting = SOLIPASS__LEDGER__POSTING__INIT;
    posting.debit_account = ENVELOPE_ACCOUNT;
    posting.credit_account = OWED_ACCOUNT;
    posting.amount_cents = 1250;
    Solipass__Ledger__Posting *postings[] = {&posting};
    Solipass__Ledger__PaymentAccepted m = SOLIPASS__LEDGER__PAYMENT_ACCEPTED__INIT;
    m.operation_id = OPERATION_ID;
    m.pass_id = PASS_ID;
    m.partner_id = PARTNER_ID;
    m.partner_code = code;
    m.category = "general";
    m.amount_cents = 1250;
    m.envelope_balance_after_cents = 0;
    m.pass_balance_after_cents = 750;
    m.n_postings = 1;
    m.postings = postings;
    m.beneficiary_id = USER_ID;
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.PaymentAccepted.v1", PASS_ID, 4, &m.base);
    assert_int_equal(build(f), 0);
    assert_non_null(strstr(f->row.sql, "UPDATE partners SET owed_cents = owed_cents + $8"));
    assert_param(f, 2, "4");
    assert_param(f, 5, "0");
    assert_param(f, 6, "750");
    assert_param(f, 8, "1250");
    assert_param(f, 13, "{\"" ENVELOPE_ACCOUNT "\",\"" OWED_ACCOUNT "\"}");
    assert_param(f, 14, "{-1250,1250}");
    assert_param(f, 15, PARTNER_ID);
    assert_param(f, 16, NULL); /* signed before receipts existed */

    /* A signed payment keeps its receipt text; a cut signature is poison. */
    uint8_t signature[SP_RECEIPT_SIGNATURE_LEN];
    memset(signature, 0x5a, sizeof signature);
    m.receipt_key_id = 0x01020304;
    m.receipt_signature.data = signature;
    m.receipt_signature.len = sizeof signature;
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.PaymentAccepted.v1", PASS_ID, 4, &m.base);
    assert_int_equal(build(f), 0);
    assert_non_null(f->row.params[15]);
    assert_true(strncmp(f->row.params[15], "SPR1.AQECAw", 11) == 0);
    m.receipt_signature.len = 5;
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.PaymentAccepted.v1", PASS_ID, 4, &m.base);
    assert_poison(f, "invalid_event", "receipt_signature");
    m.receipt_signature.len = 0;

    /* The plan's peek: the kind and the pass from the envelope alone; an
     * envelope on the wrong topic or with an aggregate that is no id is
     * left to the full build (which dead-letters it). */
    sp_projection_event_kind kind = SP_PROJECTION_PASS_OPENED;
    char aggregate[SP_ID_LEN + 1];
    assert_int_equal(sp_projection_row_peek(&f->msg, &kind, aggregate), 0);
    assert_int_equal(kind, SP_PROJECTION_PAYMENT_ACCEPTED);
    assert_string_equal(aggregate, PASS_ID);
    f->msg.topic = SP_TOPIC_ACCOUNTS_EVENTS;
    assert_int_equal(sp_projection_row_peek(&f->msg, &kind, aggregate), -1);
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.PaymentAccepted.v1", "not-an-id", 4, &m.base);
    assert_int_equal(sp_projection_row_peek(&f->msg, &kind, aggregate), -1);
    f->msg.value_len = 3; /* cut */
    assert_int_equal(sp_projection_row_peek(&f->msg, &kind, aggregate), -1);
    /* A payload's pass other than its aggregate passes the peek, not the build. */
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.PaymentAccepted.v1", OTHER_ID, 4, &m.base);
    assert_int_equal(sp_projection_row_peek(&f->msg, &kind, aggregate), 0);
    assert_poison(f, "invalid_event", "pass_id");

    posting.credit_account = "partner:" OTHER_ID ":owed"; /* pays someone else */
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.PaymentAccepted.v1", PASS_ID, 4, &m.base);
    assert_poison(f, "invalid_event", "postings");
    posting.credit_account = "cash";
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.PaymentAccepted.v1", PASS_ID, 4, &m.base);
    assert_poison(f, "invalid_event", "postings");
    posting.credit_account = OWED_ACCOUNT;
    m.partner_id = "not-a-uuid";
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.PaymentAccepted.v1", PASS_ID, 4, &m.base);
    assert_poison(f, "invalid_event", "partner_id");
}

static void test_operation_cancelled(void **state) {
    fixture *f = *state;
    Solipass__Ledger__Posting posting = SOLIPASS__LEDGER__POSTING__INIT;
    posting.debit_account = OWED_ACCOUNT;
    posting.credit_account = ENVELOPE_ACCOUNT;
    posting.amount_cents = 1250;
    Solipass__Ledger__Posting *postings[] = {&posting};
    Solipass__Ledger__OperationCancelled m = SOLIPASS__LEDGER__OPERATION_CANCELLED__INIT;
    m.operation_id = OPERATION_ID;
    m.pass_id = PASS_ID;
    m.partner_id = PARTNER_ID;
    m.category = "general";
    m.amount_cents = 1250;
    m.envelope_balance_after_cents = 1250;
    m.pass_balance_after_cents = 2000;
    m.n_postings = 1;
    m.postings = postings;
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.OperationCancelled.v1", PASS_ID, 5, &m.base);
    assert_int_equal(build(f), 0);
    assert_non_null(strstr(f->row.sql, "status = 'cancelled'"));
    assert_non_null(strstr(f->row.sql, "owed_cents = owed_cents - $11"));
    assert_param(f, 2, "5");
    assert_param(f, 4, OPERATION_ID);
    assert_param(f, 6, "1250");
    assert_param(f, 7, "2000");
    assert_param(f, 8, "{\"" OWED_ACCOUNT "\",\"" ENVELOPE_ACCOUNT "\"}");
    assert_param(f, 9, "{-1250,1250}");
    assert_param(f, 10, PARTNER_ID);
    assert_param(f, 11, "1250");
    assert_param(f, 12, "true");
    /* Expired since: to the budget, the envelope untouched. */
    posting.credit_account = "budget";
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.OperationCancelled.v1", PASS_ID, 5, &m.base);
    assert_int_equal(build(f), 0);
    assert_param(f, 12, "false");
    /* Money to anywhere else is refused. */
    posting.credit_account = "pass:" OTHER_ID ":general";
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.OperationCancelled.v1", PASS_ID, 5, &m.base);
    assert_poison(f, "invalid_event", "postings");

    Solipass__Ledger__OperationReferenceSet r = SOLIPASS__LEDGER__OPERATION_REFERENCE_SET__INIT;
    r.operation_id = OPERATION_ID;
    r.pass_id = PASS_ID;
    r.partner_id = PARTNER_ID;
    r.reference = "Facture 12";
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.OperationReferenceSet.v1", PASS_ID, 6, &r.base);
    assert_int_equal(build(f), 0);
    assert_non_null(strstr(f->row.sql, "SET reference = $6"));
    assert_param(f, 6, "Facture 12");
    r.reference = "tab\there";
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.OperationReferenceSet.v1", PASS_ID, 6, &r.base);
    assert_poison(f, "invalid_event", "reference");
}

static void test_envelope_expired(void **state) {
    fixture *f = *state;
    Solipass__Ledger__EnvelopeExpired m = SOLIPASS__LEDGER__ENVELOPE_EXPIRED__INIT;
    m.operation_id = OPERATION_ID;
    m.pass_id = PASS_ID;
    m.category = "general";
    m.end_date = "2026-11-26";
    m.returned_cents = 0;
    m.pass_balance_after_cents = 300;
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.EnvelopeExpired.v1", PASS_ID, 5, &m.base);
    assert_int_equal(build(f), 0);
    assert_non_null(strstr(f->row.sql, "expired = true"));
    assert_non_null(strstr(f->row.sql, "'expiry'"));
    assert_param(f, 5, "0");
    assert_param(f, 8, "0");
    assert_param(f, 13, "{}"); /* nothing returned: no posting */
    assert_param(f, 14, "{}");

    Solipass__Ledger__Posting posting = SOLIPASS__LEDGER__POSTING__INIT;
    posting.debit_account = ENVELOPE_ACCOUNT;
    posting.credit_account = "budget";
    posting.amount_cents = 700;
    Solipass__Ledger__Posting *postings[] = {&posting};
    m.returned_cents = 700;
    m.n_postings = 1;
    m.postings = postings;
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.EnvelopeExpired.v1", PASS_ID, 5, &m.base);
    assert_int_equal(build(f), 0);
    assert_param(f, 8, "700");
    assert_param(f, 14, "{-700,700}");

    m.n_postings = 0; /* money returned without its posting */
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.EnvelopeExpired.v1", PASS_ID, 5, &m.base);
    assert_poison(f, "invalid_event", "postings");
}

/* a closed pass's envelopes and vouchers to the budget. */
static void test_pass_closed(void **state) {
    fixture *f = *state;
    Solipass__Ledger__Posting envelope = SOLIPASS__LEDGER__POSTING__INIT;
    envelope.debit_account = ENVELOPE_ACCOUNT;
    envelope.credit_account = "budget";
    envelope.amount_cents = 700;
    Solipass__Ledger__Posting voucher = SOLIPASS__LEDGER__POSTING__INIT;
    voucher.debit_account = "voucher:" OPERATION_ID;
    voucher.credit_account = "budget";
    voucher.amount_cents = 300;
    Solipass__Ledger__Posting *postings[] = {&envelope, &voucher};
    Solipass__Ledger__PassClosed m = SOLIPASS__LEDGER__PASS_CLOSED__INIT;
    m.pass_id = PASS_ID;
    m.beneficiary_id = USER_ID;
    m.reason = "départ";
    m.returned_cents = 1000;
    m.vouchers_cancelled = 1;
    m.n_postings = 2;
    m.postings = postings;
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.PassClosed.v1", PASS_ID, 9, &m.base);
    assert_int_equal(build(f), 0);
    assert_true(f->row.versioned);
    assert_non_null(strstr(f->row.sql, "closed_at = $3::timestamptz"));
    assert_non_null(strstr(f->row.sql, "status = 'cancelled'"));
    assert_param(f, 1, PASS_ID);
    assert_param(f, 2, "9");
    assert_param(f, 3, T_TEXT);
    assert_param(f, 4, "{\"" ENVELOPE_ACCOUNT "\",\"voucher:" OPERATION_ID "\",\"budget\"}");
    assert_param(f, 5, "{-700,-300,1000}");
    assert_param(f, 6, "{" OPERATION_ID "}");
    /* Nothing held: no posting, no balance touched. */
    m.returned_cents = 0;
    m.vouchers_cancelled = 0;
    m.n_postings = 0;
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.PassClosed.v1", PASS_ID, 9, &m.base);
    assert_int_equal(build(f), 0);
    assert_param(f, 4, "{}");
    assert_param(f, 5, "{}");
    assert_param(f, 6, "{}");
    /* The totals must be what the postings move. */
    m.returned_cents = 999;
    m.vouchers_cancelled = 1;
    m.n_postings = 2;
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.PassClosed.v1", PASS_ID, 9, &m.base);
    assert_poison(f, "invalid_event", "returned_cents");
    m.returned_cents = 1000;
    /* Money from another pass, or to anywhere but the budget, is refused. */
    envelope.debit_account = "pass:" OTHER_ID ":general";
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.PassClosed.v1", PASS_ID, 9, &m.base);
    assert_poison(f, "invalid_event", "postings");
    envelope.debit_account = ENVELOPE_ACCOUNT;
    voucher.credit_account = OWED_ACCOUNT;
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.PassClosed.v1", PASS_ID, 9, &m.base);
    assert_poison(f, "invalid_event", "postings");
    /* The same account returned twice. */
    voucher.credit_account = "budget";
    voucher.debit_account = ENVELOPE_ACCOUNT;
    m.vouchers_cancelled = 0;
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.PassClosed.v1", PASS_ID, 9, &m.base);
    assert_poison(f, "invalid_event", "postings");
}

static void test_ledger_rejection_bumps_the_version(void **state) {
    fixture *f = *state;
    Solipass__Ledger__CommandRejected m = SOLIPASS__LEDGER__COMMAND_REJECTED__INIT;
    m.pass_id = PASS_ID;
    m.command_type = "ledger.Pay.v1";
    m.code = "insufficient_funds";
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.CommandRejected.v1", PASS_ID, 6, &m.base);
    assert_int_equal(build(f), 0);
    assert_true(f->row.versioned);
    assert_int_equal(f->row.param_count, 3);
    assert_param(f, 1, PASS_ID);
    assert_param(f, 2, "6");
    assert_param(f, 3, T_TEXT);
    assert_null(strstr(f->row.sql, "balance_cents"));
}

/* ------------------------------------------------------------ refund requests */

#define REQUEST_ID "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"
#define REFUND_ACCOUNT "refund:" REQUEST_ID

static void test_refund_request_opened(void **state) {
    fixture *f = *state;
    char *ops[] = {OPERATION_ID, OTHER_ID};
    Solipass__Ledger__RefundPart part = SOLIPASS__LEDGER__REFUND_PART__INIT;
    part.pass_id = PASS_ID;
    part.n_operation_ids = 2;
    part.operation_ids = ops;
    Solipass__Ledger__RefundPart *parts[] = {&part};
    Solipass__Ledger__RefundRequestOpened m = SOLIPASS__LEDGER__REFUND_REQUEST_OPENED__INIT;
    m.request_id = REQUEST_ID;
    m.partner_id = PARTNER_ID;
    m.kind = "automatic";
    m.period = "2026-11";
    m.n_parts = 1;
    m.parts = parts;
    m.expected_total_cents = 2500;
    m.operation_count = 2;
    m.bank_account_missing = true;
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.RefundRequestOpened.v1", REQUEST_ID, 1, &m.base);
    assert_int_equal(build(f), 0);
    assert_int_equal(f->row.kind, SP_PROJECTION_REFUND_REQUEST_OPENED);
    assert_true(f->row.versioned);
    assert_non_null(strstr(f->row.sql, "'opening'"));
    assert_non_null(strstr(f->row.sql, "'asked'"));
    assert_param(f, 1, REQUEST_ID);
    assert_param(f, 3, "automatic");
    assert_param(f, 4, "2026-11");
    assert_param(f, 5, "2500");
    assert_param(f, 6, "1");
    assert_param(f, 7, "true");
    assert_param(f, 8, USER_ID);
    assert_param(f, 9, T_TEXT);
    assert_param(f, 10,
                 "[{\"pass_id\":\"" PASS_ID "\",\"operation_ids\":[\"" OPERATION_ID "\",\"" OTHER_ID
                 "\"]}]");

    m.period = "2026-13";
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.RefundRequestOpened.v1", REQUEST_ID, 1, &m.base);
    assert_poison(f, "invalid_event", "period");
    m.kind = "manual"; /* a manual request has no period */
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.RefundRequestOpened.v1", REQUEST_ID, 1, &m.base);
    assert_poison(f, "invalid_event", "period");
    m.period = "";
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.RefundRequestOpened.v1", PASS_ID, 1, &m.base);
    assert_poison(f, "invalid_event", "request_id"); /* not its own aggregate */
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.RefundRequestOpened.v1", REQUEST_ID, 2, &m.base);
    assert_poison(f, "invalid_event", "aggregate_version");
    part.n_operation_ids = 0;
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.RefundRequestOpened.v1", REQUEST_ID, 1, &m.base);
    assert_poison(f, "invalid_event", "parts.operation_ids");
}

static void test_refund_request_life(void **state) {
    fixture *f = *state;
    Solipass__Ledger__RefundRequestConfirmed confirmed =
        SOLIPASS__LEDGER__REFUND_REQUEST_CONFIRMED__INIT;
    confirmed.request_id = REQUEST_ID;
    confirmed.partner_id = PARTNER_ID;
    confirmed.total_cents = 2500;
    confirmed.operation_count = 2;
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.RefundRequestConfirmed.v1", REQUEST_ID, 2,
         &confirmed.base);
    assert_int_equal(build(f), 0);
    assert_non_null(strstr(f->row.sql, "status = 'pending'"));
    assert_non_null(strstr(f->row.sql, "version = $2::bigint - 1"));
    assert_param(f, 2, "2");
    assert_param(f, 4, "2500");
    assert_param(f, 5, "2");

    Solipass__Ledger__RefundRequestCancelled cancelled =
        SOLIPASS__LEDGER__REFUND_REQUEST_CANCELLED__INIT;
    cancelled.request_id = REQUEST_ID;
    cancelled.partner_id = PARTNER_ID;
    cancelled.reason = "aborted";
    cancelled.code = "operation_cancelled";
    cancelled.message = "operation was cancelled";
    cancelled.operation_id = OPERATION_ID;
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.RefundRequestCancelled.v1", REQUEST_ID, 2,
         &cancelled.base);
    assert_int_equal(build(f), 0);
    assert_param(f, 4, "aborted");
    assert_param(f, 5, "operation_cancelled");
    assert_param(f, 7, OPERATION_ID);
    cancelled.reason = "partner";
    cancelled.code = cancelled.message = cancelled.operation_id = "";
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.RefundRequestCancelled.v1", REQUEST_ID, 3,
         &cancelled.base);
    assert_int_equal(build(f), 0);
    assert_param(f, 7, NULL);
    cancelled.reason = "bored";
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.RefundRequestCancelled.v1", REQUEST_ID, 3,
         &cancelled.base);
    assert_poison(f, "invalid_event", "reason");

    Solipass__Ledger__RefundRequestPaid paid = SOLIPASS__LEDGER__REFUND_REQUEST_PAID__INIT;
    paid.request_id = REQUEST_ID;
    paid.partner_id = PARTNER_ID;
    paid.total_cents = 2500;
    paid.transfer_reference = "VIR-2026-11-0042";
    paid.paid_on = "2026-12-02";
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.RefundRequestPaid.v1", REQUEST_ID, 3, &paid.base);
    assert_int_equal(build(f), 0);
    assert_non_null(strstr(f->row.sql, "status = 'paid'"));
    assert_param(f, 4, "VIR-2026-11-0042");
    assert_param(f, 5, "2026-12-02");
    paid.paid_on = "2026-02-30";
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.RefundRequestPaid.v1", REQUEST_ID, 3, &paid.base);
    assert_poison(f, "invalid_event", "paid_on");
}

static void pack_part(fixture *f, const char *type, Solipass__Ledger__RefundPartChanged *m) {
    pack(f, SP_TOPIC_LEDGER_EVENTS, type, PASS_ID, 7, &m->base);
}

static void test_refund_parts_move_money(void **state) {
    fixture *f = *state;
    char *ops[] = {OPERATION_ID};
    Solipass__Ledger__Posting posting = SOLIPASS__LEDGER__POSTING__INIT;
    posting.debit_account = OWED_ACCOUNT;
    posting.credit_account = REFUND_ACCOUNT;
    posting.amount_cents = 1250;
    Solipass__Ledger__Posting *postings[] = {&posting};
    Solipass__Ledger__RefundPartChanged m = SOLIPASS__LEDGER__REFUND_PART_CHANGED__INIT;
    m.pass_id = PASS_ID;
    m.request_id = REQUEST_ID;
    m.partner_id = PARTNER_ID;
    m.n_operation_ids = 1;
    m.operation_ids = ops;
    m.amount_cents = 1250;
    m.n_postings = 1;
    m.postings = postings;
    pack_part(f, "ledger.OperationsReserved.v1", &m);
    assert_int_equal(build(f), 0);
    assert_int_equal(f->row.kind, SP_PROJECTION_OPERATIONS_RESERVED);
    assert_non_null(strstr(f->row.sql, "status = 'requested'"));
    assert_null(strstr(f->row.sql, "owed_cents")); /* still owed */
    assert_param(f, 2, "7");
    assert_param(f, 4, REQUEST_ID);
    assert_param(f, 6, "{" OPERATION_ID "}");
    assert_param(f, 7, "1250");
    assert_param(f, 8, "{\"" OWED_ACCOUNT "\",\"" REFUND_ACCOUNT "\"}");
    assert_param(f, 9, "{-1250,1250}");
    /* The same posting does not describe a release. */
    pack_part(f, "ledger.OperationsReleased.v1", &m);
    assert_poison(f, "invalid_event", "postings");
    posting.debit_account = REFUND_ACCOUNT;
    posting.credit_account = OWED_ACCOUNT;
    pack_part(f, "ledger.OperationsReleased.v1", &m);
    assert_int_equal(build(f), 0);
    assert_non_null(strstr(f->row.sql, "refund_request_id = NULL"));
    posting.credit_account = "bank";
    pack_part(f, "ledger.OperationsSettled.v1", &m);
    assert_int_equal(build(f), 0);
    assert_non_null(strstr(f->row.sql, "owed_cents = owed_cents - $7"));
    assert_param(f, 8, "{\"" REFUND_ACCOUNT "\",\"bank\"}");
    /* Nothing left to release: no operation, no money, no posting. */
    m.n_operation_ids = 0;
    m.amount_cents = 0;
    m.n_postings = 0;
    m.partner_id = "";
    pack_part(f, "ledger.OperationsReleased.v1", &m);
    assert_int_equal(build(f), 0);
    assert_param(f, 5, NULL);
    assert_param(f, 6, "{}");
    assert_param(f, 8, "{}");
    m.amount_cents = 100; /* money without an operation */
    pack_part(f, "ledger.OperationsReleased.v1", &m);
    assert_poison(f, "invalid_event", "amount_cents");
}

static void test_refused_reservation_tells_its_request(void **state) {
    fixture *f = *state;
    Solipass__Ledger__CommandRejected m = SOLIPASS__LEDGER__COMMAND_REJECTED__INIT;
    m.pass_id = PASS_ID;
    m.command_type = "ledger.ReserveOperations.v1";
    m.code = "operation_cancelled";
    m.message = "the operation was cancelled";
    m.request_id = REQUEST_ID;
    m.operation_id = OPERATION_ID;
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.CommandRejected.v1", PASS_ID, 8, &m.base);
    assert_int_equal(build(f), 0);
    assert_string_equal(f->row.statement, "sp_reserve_rejected");
    assert_non_null(strstr(f->row.sql, "'refused'"));
    assert_int_equal(f->row.param_count, 7);
    assert_param(f, 2, "8");
    assert_param(f, 4, REQUEST_ID);
    assert_param(f, 5, "operation_cancelled");
    assert_param(f, 7, OPERATION_ID);
    m.request_id = "not-a-uuid";
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.CommandRejected.v1", PASS_ID, 8, &m.base);
    assert_poison(f, "invalid_event", "request_id");
    /* A refused command of the request itself takes the request's version. */
    m.pass_id = REQUEST_ID;
    m.command_type = "ledger.CancelRefundRequest.v1";
    m.request_id = "";
    m.operation_id = "";
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.CommandRejected.v1", REQUEST_ID, 4, &m.base);
    assert_int_equal(build(f), 0);
    assert_string_equal(f->row.statement, "sp_ledger_rejected");
    assert_non_null(strstr(f->row.sql, "UPDATE refund_requests SET version"));
}

/* ------------------------------------------------------------ poison */

static void test_poison_messages(void **state) {
    fixture *f = *state;
    Solipass__Ledger__CommandRejected m = SOLIPASS__LEDGER__COMMAND_REJECTED__INIT;
    m.pass_id = PASS_ID;
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.PassFrozen.v1", PASS_ID, 2, &m.base);
    assert_poison(f, "unknown_type", "type");
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.Pay.v1", PASS_ID, 0, &m.base); /* a command */
    assert_poison(f, "unknown_type", "type");
    pack(f, SP_TOPIC_ACCOUNTS_EVENTS, "ledger.CommandRejected.v1", PASS_ID, 2, &m.base);
    assert_poison(f, "wrong_topic", "type");

    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0x01, 0x02};
    f->msg.topic = SP_TOPIC_LEDGER_EVENTS;
    f->msg.value = garbage;
    f->msg.value_len = sizeof garbage;
    assert_poison(f, "undecodable", NULL);
    f->msg.value = NULL;
    f->msg.value_len = 0;
    assert_poison(f, "undecodable", NULL);

    /* A valid envelope whose payload is not the message its type says. */
    sp_envelope_meta meta = {.type = "ledger.PassCredited.v1",
                             .aggregate_id = PASS_ID,
                             .aggregate_version = 2,
                             .occurred_at_ms = T_MS,
                             .command_id = "",
                             .causation_id = "",
                             .reply_to = "",
                             .actor_id = ""};
    Solipass__Envelope env = SOLIPASS__ENVELOPE__INIT;
    char id[] = OPERATION_ID, type[] = "ledger.PassCredited.v1", aggregate[] = PASS_ID;
    env.id = id;
    env.type = type;
    env.aggregate_id = aggregate;
    env.aggregate_version = meta.aggregate_version;
    env.occurred_at_ms = meta.occurred_at_ms;
    env.payload = (ProtobufCBinaryData){.len = sizeof garbage, .data = (uint8_t *)garbage};
    uint8_t packed[256];
    size_t len = solipass__envelope__pack(&env, packed);
    f->msg.value = packed;
    f->msg.value_len = len;
    assert_poison(f, "undecodable", "payload");

    env.occurred_at_ms = 0; /* an event from 1970 */
    env.payload = (ProtobufCBinaryData){.len = 0, .data = NULL};
    len = solipass__envelope__pack(&env, packed);
    f->msg.value_len = len;
    assert_poison(f, "invalid_event", "occurred_at_ms");
}

static void test_small_buffer_is_refused_not_overrun(void **state) {
    fixture *f = *state;
    Solipass__Ledger__CommandRejected m = SOLIPASS__LEDGER__COMMAND_REJECTED__INIT;
    m.pass_id = PASS_ID;
    pack(f, SP_TOPIC_LEDGER_EVENTS, "ledger.CommandRejected.v1", PASS_ID, 2, &m.base);
    char small[48];
    memset(small, 'x', sizeof small);
    assert_int_equal(sp_projection_row_build(&f->msg, small, 40, &f->row, &f->err), -1);
    assert_string_equal(f->err.code, "too_large");
    for (size_t i = 40; i < sizeof small; i++) assert_int_equal(small[i], 'x');
}

/* ------------------------------------------------------------ helpers and SQL */

/* The parameter writer's own integer text, as printf's %lld would write
 * it, and its refusal of a parameter that would not fit with its NUL. */
static void test_writer_integers_and_bounds(void **state) {
    (void)state;
    static const int64_t values[] = {0, 7, -7, 1000000, INT64_MAX, INT64_MIN, -100};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char buf[64], expected[32];
        sp_projection_row row = {0};
        row_writer w = {.buf = buf, .size = sizeof buf, .row = &row};
        put_int(&w, values[i]);
        snprintf(expected, sizeof expected, "%lld", (long long)values[i]);
        assert_string_equal(row.params[0], expected);
    }
    char small[4];
    sp_projection_row row = {0};
    row_writer w = {.buf = small, .size = sizeof small, .row = &row};
    put_text(&w, "abc"); /* 3 bytes and the NUL: just fits */
    assert_string_equal(row.params[0], "abc");
    w = (row_writer){.buf = small, .size = sizeof small, .row = &row};
    row.param_count = 0;
    put_text(&w, "abcd"); /* one byte too many */
    assert_null(row.params[0]);
    assert_true(w.overflow);
}

static void test_time_format(void **state) {
    (void)state;
    char text[SP_PROJECTION_TIME_LEN + 1];
    sp_projection_time_format(T_MS, text);
    assert_string_equal(text, T_TEXT);
    sp_projection_time_format(INT64_C(951782400000), text); /* a leap day */
    assert_string_equal(text, "2000-02-29T00:00:00.000Z");
    sp_projection_time_format(INT64_C(7258118399999), text);
    assert_string_equal(text, "2199-12-31T23:59:59.999Z");
    assert_false(sp_projection_time_valid(INT64_C(7258118400000)));
    assert_false(sp_projection_time_valid(-1));
}

static void test_text_and_category(void **state) {
    (void)state;
    assert_true(sp_projection_text_valid("Fran\xc3\xa7oise \xe2\x82\xac \xf0\x9f\x98\x80", 64));
    assert_false(sp_projection_text_valid("line\nbreak", 64));
    assert_false(sp_projection_text_valid("\xc0\xaf", 64));     /* overlong '/' */
    assert_false(sp_projection_text_valid("\xed\xa0\x80", 64)); /* a surrogate */
    assert_false(sp_projection_text_valid("\xe2\x82", 64));     /* cut short */
    assert_false(sp_projection_text_valid("abcdef", 5));
    assert_true(sp_projection_text_valid("", 5));
    assert_true(sp_projection_category_valid("sport"));
    assert_true(sp_projection_category_valid("e_pass_2"));
    assert_false(sp_projection_category_valid("s"));
    assert_false(sp_projection_category_valid("2sport"));
    assert_false(sp_projection_category_valid("sport-culture"));
    assert_false(sp_projection_category_valid("abcdefghijklmnopqrstuvwxyzabcdefg")); /* 33 */
}

static void test_fixed_sql(void **state) {
    (void)state;
    char sql[SP_PROJECTION_SQL_BYTES_MAX];
    bool saw_operations = false;
    for (size_t i = 0; i < sp_projection_table_count; i++) {
        const sp_projection_table *t = &sp_projection_tables[i];
        assert_string_not_equal(t->name, "projection_offsets");
        assert_string_not_equal(t->name, "schema_migrations");
        assert_non_null(strstr(sp_projection_truncate_sql, t->name));
        sp_projection_checksum_sql(t, NULL, sql, sizeof sql);
        assert_non_null(strstr(sql, "hash_record_extended(t, 0)"));
        assert_non_null(strstr(sql, "hash_record_extended(t, 1)"));
        if (strcmp(t->name, "operations") == 0) {
            saw_operations = true;
            assert_non_null(strstr(sql, "FROM operations AS t"));
            sp_projection_checksum_sql(t, "\"sp_replay\"", sql, sizeof sql);
            assert_non_null(strstr(sql, "FROM \"sp_replay\".operations AS t"));
        }
    }
    assert_true(saw_operations);
    assert_non_null(strstr(sp_projection_truncate_sql, "refund_request_parts"));
    assert_non_null(strstr(sp_projection_offset_upsert_sql, "'projection'"));

    /* Prepared once per connection: unique names, and each statement uses
     * exactly the parameters it declares. */
    bool saw_offsets = false;
    for (size_t i = 0; i < sp_projection_statement_count; i++) {
        const sp_projection_statement *st = &sp_projection_statements[i];
        char highest[16], beyond[16];
        snprintf(highest, sizeof highest, "$%d:", st->param_count);
        snprintf(beyond, sizeof beyond, "$%d:", st->param_count + 1);
        assert_non_null(strstr(st->sql, highest));
        assert_null(strstr(st->sql, beyond));
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(st->name, sp_projection_statements[j].name);
        if (strcmp(st->name, SP_PROJECTION_OFFSET_UPSERT_STATEMENT) == 0) {
            saw_offsets = true;
            assert_string_equal(st->sql, sp_projection_offset_upsert_sql);
        }
    }
    assert_true(saw_offsets);
}

/* ------------------------------------------------------------ positions */

static void test_positions_guard_against_holes(void **state) {
    (void)state;
    sp_projection_position p = {.topic = SP_TOPIC_LEDGER_EVENTS,
                                .partition = 2,
                                .next_offset = 100,
                                .batch_next_offset = 100};
    sp_error err;
    assert_int_equal(sp_projection_position_check_log(&p, 0, 150, &err), 0);
    assert_int_equal(sp_projection_position_check_log(&p, 100, 100, &err), 0);
    assert_int_equal(sp_projection_position_check_log(&p, 101, 150, &err), -1);
    assert_string_equal(err.code, "log_truncated");
    assert_non_null(strstr(err.message, SP_TOPIC_LEDGER_EVENTS " [2]"));
    assert_int_equal(sp_projection_position_check_log(&p, 0, 99, &err), -1);
    assert_string_equal(err.code, "log_reset");

    assert_int_equal(sp_projection_offset_classify(&p, 100), SP_PROJECTION_OFFSET_NEXT);
    assert_int_equal(sp_projection_offset_classify(&p, 99), SP_PROJECTION_OFFSET_SEEN);
    assert_int_equal(sp_projection_offset_classify(&p, 102), SP_PROJECTION_OFFSET_GAP);
}

static void test_positions_catch_up(void **state) {
    (void)state;
    sp_projection_position ps[2] = {
        {.topic = SP_TOPIC_ACCOUNTS_EVENTS, .partition = 0, .next_offset = 5, .high_at_start = 5},
        {.topic = SP_TOPIC_LEDGER_EVENTS, .partition = 0, .next_offset = 7, .high_at_start = 10},
    };
    assert_int_equal(sp_projection_position_find(ps, 2, SP_TOPIC_LEDGER_EVENTS, 0), 1);
    assert_int_equal(sp_projection_position_find(ps, 2, SP_TOPIC_LEDGER_EVENTS, 1), -1);
    assert_false(sp_projection_caught_up(ps, 2));
    assert_int_equal(sp_projection_backlog(ps, 2), 3);
    ps[1].next_offset = 12; /* messages appended after the start count too */
    assert_true(sp_projection_caught_up(ps, 2));
    assert_int_equal(sp_projection_backlog(ps, 2), 0);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_partner_created, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_registered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accounts_rejection_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partner_space_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_links, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pass_opened, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pass_credited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_payment_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_operation_cancelled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_envelope_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pass_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ledger_rejection_bumps_the_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refund_request_opened, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refund_request_life, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refund_parts_move_money, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_reservation_tells_its_request, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_poison_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_small_buffer_is_refused_not_overrun, setup, teardown),
        cmocka_unit_test(test_time_format),
        cmocka_unit_test(test_writer_integers_and_bounds),
        cmocka_unit_test(test_text_and_category),
        cmocka_unit_test(test_fixed_sql),
        cmocka_unit_test(test_positions_guard_against_holes),
        cmocka_unit_test(test_positions_catch_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
