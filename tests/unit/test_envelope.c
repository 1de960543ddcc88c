/* test_envelope.c - the envelope every message travels in: what is packed
 * comes back unchanged, and what a consumer must not trust (missing or
 * oversized fields, a bad id, garbage bytes) is refused with
 * 400 "invalid_envelope" naming the field. No broker needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "ledger.pb-c.h"
#include "sp_envelope.h"
#include "sp_id.h"

#define GARBAGE_ROUNDS 2000
#define GARBAGE_LEN_MAX 256

static const char pass_id[] = "0b5e3c1a-7f2d-4c9e-8a41-2f6d9b0c7e15";

static Solipass__Ledger__Pay pay_payload(void) {
    Solipass__Ledger__Pay pay = SOLIPASS__LEDGER__PAY__INIT;
    pay.pass_id = (char *)pass_id;
    pay.partner_code = "12345674";
    pay.amount_cents = 1250;
    return pay;
}

static sp_envelope_meta full_meta(void) {
    return (sp_envelope_meta){.type = "ledger.Pay.v1",
                              .aggregate_id = pass_id,
                              .aggregate_version = 0,
                              .occurred_at_ms = 1795000000123,
                              .command_id = "idem-key-42",
                              .causation_id = "5d1c9a2e-3b4f-4e6a-9c8d-7e0f1a2b3c4d",
                              .reply_to = "gateway-9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
                              .actor_id = "a1b2c3d4-e5f6-4789-8abc-def012345678"};
}

/* An envelope packed by hand (bypassing sp_envelope_pack's checks), as a
 * foreign or broken writer could put on a topic. */
static uint8_t *raw_envelope(const Solipass__Envelope *env, size_t *len) {
    *len = solipass__envelope__get_packed_size(env);
    uint8_t *buf = malloc(*len > 0 ? *len : 1);
    assert_non_null(buf);
    solipass__envelope__pack(env, buf);
    return buf;
}

static Solipass__Envelope valid_raw(void) {
    Solipass__Envelope env = SOLIPASS__ENVELOPE__INIT;
    env.id = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
    env.type = "ledger.Pay.v1";
    env.aggregate_id = (char *)pass_id;
    return env;
}

static void assert_refused(const Solipass__Envelope *env, const char *field) {
    size_t len = 0;
    uint8_t *buf = raw_envelope(env, &len);
    sp_error err;
    sp_error_clear(&err);
    Solipass__Envelope *out = sp_envelope_unpack(buf, len, &err);
    assert_null(out);
    assert_int_equal(err.http_status, 400);
    assert_string_equal(err.code, "invalid_envelope");
    assert_string_equal(err.field, field);
    free(buf);
}

static void test_round_trip_keeps_every_field(void **state) {
    (void)state;
    Solipass__Ledger__Pay pay = pay_payload();
    sp_envelope_meta meta = full_meta();
    meta.aggregate_version = 7;
    uint8_t *buf = NULL;
    size_t len = 0;
    char id[SP_ID_LEN + 1] = "";
    sp_error err;
    assert_int_equal(sp_envelope_pack(&meta, &pay.base, &buf, &len, id, &err), 0);
    assert_true(sp_id_valid(id));
    Solipass__Envelope *env = sp_envelope_unpack(buf, len, &err);
    assert_non_null(env);
    assert_string_equal(env->id, id);
    assert_string_equal(env->type, meta.type);
    assert_string_equal(env->aggregate_id, meta.aggregate_id);
    assert_int_equal(env->aggregate_version, 7);
    assert_int_equal(env->occurred_at_ms, meta.occurred_at_ms);
    assert_string_equal(env->command_id, meta.command_id);
    assert_string_equal(env->causation_id, meta.causation_id);
    assert_string_equal(env->reply_to, meta.reply_to);
    assert_string_equal(env->actor_id, meta.actor_id);
    Solipass__Ledger__Pay *back = solipass__ledger__pay__unpack(NULL, env->payload.len,
                                                                env->payload.data);
    assert_non_null(back);
    assert_string_equal(back->pass_id, pass_id);
    assert_string_equal(back->partner_code, "12345674");
    assert_int_equal(back->amount_cents, 1250);
    solipass__ledger__pay__free_unpacked(back, NULL);
    solipass__envelope__free_unpacked(env, NULL);
    free(buf);
}

static void test_optional_fields_may_be_absent(void **state) {
    (void)state;
    sp_envelope_meta meta = {.type = "accounts.EndSession.v1", .aggregate_id = "u-1"};
    uint8_t *buf = NULL;
    size_t len = 0;
    sp_error err;
    assert_int_equal(sp_envelope_pack(&meta, NULL, &buf, &len, NULL, &err), 0);
    Solipass__Envelope *env = sp_envelope_unpack(buf, len, &err);
    assert_non_null(env);
    assert_string_equal(env->command_id, "");
    assert_string_equal(env->reply_to, "");
    assert_int_equal(env->payload.len, 0);
    solipass__envelope__free_unpacked(env, NULL);
    free(buf);
}

static void test_every_envelope_gets_its_own_id(void **state) {
    (void)state;
    sp_envelope_meta meta = full_meta();
    char first[SP_ID_LEN + 1], second[SP_ID_LEN + 1];
    uint8_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    sp_error err;
    assert_int_equal(sp_envelope_pack(&meta, NULL, &a, &alen, first, &err), 0);
    assert_int_equal(sp_envelope_pack(&meta, NULL, &b, &blen, second, &err), 0);
    assert_string_not_equal(first, second);
    free(a);
    free(b);
}

static void test_pack_refuses_missing_type_and_aggregate(void **state) {
    (void)state;
    uint8_t *buf = NULL;
    size_t len = 0;
    sp_error err;
    sp_envelope_meta meta = full_meta();
    meta.type = "";
    assert_int_equal(sp_envelope_pack(&meta, NULL, &buf, &len, NULL, &err), -1);
    assert_null(buf);
    assert_string_equal(err.code, "invalid_envelope");
    assert_string_equal(err.field, "type");
    meta = full_meta();
    meta.aggregate_id = NULL;
    assert_int_equal(sp_envelope_pack(&meta, NULL, &buf, &len, NULL, &err), -1);
    assert_string_equal(err.field, "aggregate_id");
}

static void test_unpack_refuses_missing_required_fields(void **state) {
    (void)state;
    Solipass__Envelope env = valid_raw();
    env.type = "";
    assert_refused(&env, "type");
    env = valid_raw();
    env.aggregate_id = "";
    assert_refused(&env, "aggregate_id");
}

static void test_unpack_refuses_a_bad_id(void **state) {
    (void)state;
    Solipass__Envelope env = valid_raw();
    env.id = "";
    assert_refused(&env, "id");
    env.id = "not-a-uuid";
    assert_refused(&env, "id");
    env.id = "3F2504E0-4F89-41D3-9A0C-0305E82C3301"; /* not canonical lower case */
    assert_refused(&env, "id");
    env.id = "3f2504e0-4f89-41d3-9a0c-0305e82c33011"; /* one character too many */
    assert_refused(&env, "id");
}

static void test_unpack_refuses_oversized_fields(void **state) {
    (void)state;
    char long_text[200];
    memset(long_text, 'x', sizeof long_text);
    long_text[65] = '\0'; /* 65 characters: one past the 64 limit */
    Solipass__Envelope env = valid_raw();
    env.type = long_text;
    assert_refused(&env, "type");
    env = valid_raw();
    env.aggregate_id = long_text;
    assert_refused(&env, "aggregate_id");
    long_text[65] = 'x';
    long_text[SP_ENVELOPE_COMMAND_ID_MAX + 1] = '\0';
    env = valid_raw();
    env.command_id = long_text;
    assert_refused(&env, "command_id");
    long_text[SP_ENVELOPE_COMMAND_ID_MAX + 1] = 'x';
    long_text[129] = '\0'; /* 129 characters: one past the 128 limit */
    env = valid_raw();
    env.reply_to = long_text;
    assert_refused(&env, "reply_to");
    env = valid_raw();
    env.causation_id = long_text;
    assert_refused(&env, "causation_id");
    env = valid_raw();
    env.actor_id = long_text;
    assert_refused(&env, "actor_id");
}

static void test_fields_at_their_limit_are_accepted(void **state) {
    (void)state;
    char text64[65], text128[129];
    memset(text64, 'a', 64);
    text64[64] = '\0';
    memset(text128, 'b', 128);
    text128[128] = '\0';
    Solipass__Envelope env = valid_raw();
    env.type = text64;
    env.aggregate_id = text64;
    env.command_id = text128 + 128 - SP_ENVELOPE_COMMAND_ID_MAX;
    env.reply_to = text128;
    size_t len = 0;
    uint8_t *buf = raw_envelope(&env, &len);
    sp_error err;
    Solipass__Envelope *out = sp_envelope_unpack(buf, len, &err);
    assert_non_null(out);
    assert_int_equal(strlen(out->reply_to), 128);
    assert_int_equal(strlen(out->command_id), SP_ENVELOPE_COMMAND_ID_MAX);
    solipass__envelope__free_unpacked(out, NULL);
    free(buf);
}

static void test_unpack_refuses_control_characters_and_odd_type_names(void **state) {
    (void)state;
    Solipass__Envelope env = valid_raw();
    env.aggregate_id = "pass\n{\"level\":\"error\"}";
    assert_refused(&env, "aggregate_id");
    env = valid_raw();
    env.type = "ledger Pay v1";
    assert_refused(&env, "type");
}

static void test_oversized_messages_are_refused(void **state) {
    (void)state;
    size_t big_len = SP_ENVELOPE_BYTES_MAX + 1;
    uint8_t *big = calloc(1, big_len);
    assert_non_null(big);
    Solipass__Ledger__Pay pay = pay_payload();
    pay.partner_code = (char *)big;
    memset(big, '7', big_len - 1); /* a NUL-terminated string of 64 KiB */
    sp_envelope_meta meta = full_meta();
    uint8_t *buf = NULL;
    size_t len = 0;
    sp_error err;
    assert_int_equal(sp_envelope_pack(&meta, &pay.base, &buf, &len, NULL, &err), -1);
    assert_null(buf);
    assert_string_equal(err.code, "envelope_too_large");
    Solipass__Envelope *env = sp_envelope_unpack(big, big_len, &err);
    assert_null(env);
    assert_int_equal(err.http_status, 400);
    assert_string_equal(err.code, "invalid_envelope");
    free(big);
}

static void test_garbage_is_refused_without_crash(void **state) {
    (void)state;
    sp_error err;
    assert_null(sp_envelope_unpack(NULL, 0, &err));
    assert_string_equal(err.code, "invalid_envelope");
    assert_null(sp_envelope_unpack("", 0, &err));
    const char text[] = "{\"type\":\"ledger.Pay.v1\"}";
    assert_null(sp_envelope_unpack(text, sizeof text - 1, &err));
    assert_string_equal(err.code, "invalid_envelope");
    /* Fixed seed: a failure is reproducible. */
    uint8_t seed[randombytes_SEEDBYTES] = {42};
    uint8_t *noise = malloc(GARBAGE_ROUNDS * GARBAGE_LEN_MAX);
    assert_non_null(noise);
    randombytes_buf_deterministic(noise, GARBAGE_ROUNDS * GARBAGE_LEN_MAX, seed);
    for (size_t i = 0; i < GARBAGE_ROUNDS; i++) {
        size_t len = 1 + noise[i * GARBAGE_LEN_MAX] % (GARBAGE_LEN_MAX - 1);
        Solipass__Envelope *env = sp_envelope_unpack(&noise[i * GARBAGE_LEN_MAX + 1], len, &err);
        assert_null(env);
        assert_int_equal(err.http_status, 400);
    }
    free(noise);
}

/* Every prefix of a valid envelope either fails or still holds a fully
 * valid envelope (a cut on a field boundary is a shorter valid message). */
static void test_truncated_envelopes_never_pass_half_valid(void **state) {
    (void)state;
    Solipass__Ledger__Pay pay = pay_payload();
    sp_envelope_meta meta = full_meta();
    uint8_t *buf = NULL;
    size_t len = 0;
    sp_error err;
    assert_int_equal(sp_envelope_pack(&meta, &pay.base, &buf, &len, NULL, &err), 0);
    size_t refused = 0;
    for (size_t cut = 1; cut < len; cut++) {
        Solipass__Envelope *env = sp_envelope_unpack(buf, cut, &err);
        if (env == NULL) {
            refused++;
            continue;
        }
        assert_true(sp_id_valid(env->id));
        assert_true(env->type[0] != '\0' && env->aggregate_id[0] != '\0');
        solipass__envelope__free_unpacked(env, NULL);
    }
    assert_true(refused > len / 2);
    free(buf);
}

static int setup(void **state) {
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_keeps_every_field),
        cmocka_unit_test(test_optional_fields_may_be_absent),
        cmocka_unit_test(test_every_envelope_gets_its_own_id),
        cmocka_unit_test(test_pack_refuses_missing_type_and_aggregate),
        cmocka_unit_test(test_unpack_refuses_missing_required_fields),
        cmocka_unit_test(test_unpack_refuses_a_bad_id),
        cmocka_unit_test(test_unpack_refuses_oversized_fields),
        cmocka_unit_test(test_fields_at_their_limit_are_accepted),
        cmocka_unit_test(test_unpack_refuses_control_characters_and_odd_type_names),
        cmocka_unit_test(test_oversized_messages_are_refused),
        cmocka_unit_test(test_garbage_is_refused_without_crash),
        cmocka_unit_test(test_truncated_envelopes_never_pass_half_valid),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
