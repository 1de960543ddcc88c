/* test_partner_space.c - the partner space's pure parts: the contact block
 * configuration (accepted and refused settings), the live stream's event
 * ids and framing, the ring of ids already sent, and the bound on streams. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gateway/routes/partner_space.h"

#define OP_A "6d929103-f39c-4cf2-85ee-7a397f088cf4"
#define OP_B "1c008500-ecb7-43bb-8c17-0674257bf837"

static void test_contact_accepts_french_settings(void **state) {
    (void)state;
    sp_gw_contact c;
    sp_error err;
    assert_int_equal(sp_gw_contact_parse("Du lundi au vendredi, de 9 h à 12 h",
                                         "Pass.Solidarite@Ville.fr",
                                         "01 23 45 67 89; +33 (0)1 98 76 54 32", &c, &err),
                     0);
    assert_string_equal(c.email, "pass.solidarite@ville.fr");
    assert_int_equal(c.phone_count, 2);
    assert_string_equal(c.phones[0], "01 23 45 67 89");
    assert_string_equal(c.phones[1], "+33 (0)1 98 76 54 32");
    json_t *j = sp_gw_contact_json(&c);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "hours")),
                        "Du lundi au vendredi, de 9 h à 12 h");
    assert_int_equal(json_array_size(json_object_get(j, "phones")), 2);
    json_decref(j);
}

static void test_contact_refuses_bad_settings(void **state) {
    (void)state;
    sp_gw_contact c;
    sp_error err;
    assert_int_equal(sp_gw_contact_parse("", "a@b.fr", "3939", &c, &err), -1);
    assert_string_equal(err.field, "SP_CONTACT_HOURS");
    assert_int_equal(sp_gw_contact_parse("9h\n17h", "a@b.fr", "3939", &c, &err), -1);
    assert_string_equal(err.field, "SP_CONTACT_HOURS");
    assert_int_equal(sp_gw_contact_parse("9h-17h", "not an address", "3939", &c, &err), -1);
    assert_string_equal(err.field, "SP_CONTACT_EMAIL");
    assert_int_equal(sp_gw_contact_parse("9h-17h", "a@b.fr", "", &c, &err), -1);
    assert_string_equal(err.field, "SP_CONTACT_PHONES");
    assert_int_equal(sp_gw_contact_parse("9h-17h", "a@b.fr", "01 23 45 67 89;", &c, &err), -1);
    assert_int_equal(sp_gw_contact_parse("9h-17h", "a@b.fr", "call us", &c, &err), -1);
    assert_int_equal(sp_gw_contact_parse("9h-17h", "a@b.fr", "3939;3940;3941;3942;3943", &c, &err),
                     -1);
    assert_int_equal(sp_gw_contact_parse("9h-17h", "a@b.fr", "3939;3940;3941;3942", &c, &err), 0);
    assert_int_equal(c.phone_count, 4);
}

static void test_event_ids_round_trip_and_refuse_others(void **state) {
    (void)state;
    char id[SP_GW_SSE_ID_LEN_MAX + 1];
    sp_gw_sse_id_format(INT64_C(1795766400123), OP_A, id);
    assert_string_equal(id, "1795766400123|" OP_A);
    int64_t ms = 0;
    char op[SP_ID_LEN + 1];
    sp_error err;
    assert_int_equal(sp_gw_sse_id_parse(id, &ms, op, &err), 0);
    assert_int_equal(ms, INT64_C(1795766400123));
    assert_string_equal(op, OP_A);
    const char *bad[] = {"",
                         "1795766400123",
                         "|" OP_A,
                         "12x|" OP_A,
                         "1795766400123|" OP_A "0",
                         "1795766400123|6D929103-F39C-4CF2-85EE-7A397F088CF4",
                         "99999999999999999999|" OP_A};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sp_gw_sse_id_parse(bad[i], &ms, op, &err), -1);
        assert_string_equal(err.field, "Last-Event-ID");
        assert_int_equal(err.http_status, 400);
    }
}

static void test_event_framing(void **state) {
    (void)state;
    size_t len = 0;
    char *e = sp_gw_sse_event_format("1|" OP_A, "operation", "{\"a\":1}", &len);
    assert_non_null(e);
    assert_string_equal(e, "id: 1|" OP_A "\nevent: operation\ndata: {\"a\":1}\n\n");
    assert_int_equal(len, strlen(e));
    free(e);
    /* a line break would end the data line and forge another field */
    assert_null(sp_gw_sse_event_format("1", "operation", "{}\nevent: x", &len));
    assert_null(sp_gw_sse_event_format("1\r", "operation", "{}", &len));
}

static void test_sent_ring_forgets_only_the_oldest(void **state) {
    (void)state;
    sp_gw_sse_sent *sent = malloc(sizeof *sent);
    assert_non_null(sent);
    sp_gw_sse_sent_init(sent);
    char array[SP_GW_SSE_SENT_ARRAY_MAX + 1];
    sp_gw_sse_sent_array(sent, array);
    assert_string_equal(array, "{}");
    sp_gw_sse_sent_add(sent, OP_A);
    sp_gw_sse_sent_add(sent, OP_B);
    assert_true(sp_gw_sse_sent_has(sent, OP_A));
    sp_gw_sse_sent_array(sent, array);
    assert_string_equal(array, "{" OP_A "," OP_B "}");
    for (int i = 0; i < SP_GW_SSE_SENT_MAX - 1; i++) {
        char id[SP_ID_LEN + 1];
        snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", i);
        sp_gw_sse_sent_add(sent, id);
    }
    assert_false(sp_gw_sse_sent_has(sent, OP_A));
    assert_true(sp_gw_sse_sent_has(sent, OP_B));
    sp_gw_sse_sent_array(sent, array);
    assert_int_equal(strlen(array), SP_GW_SSE_SENT_ARRAY_MAX - 1); /* 255 commas */
    free(sent);
}

static void test_streams_are_bounded_and_stop(void **state) {
    (void)state;
    sp_gw_streams *streams = sp_gw_streams_new(2);
    assert_non_null(streams);
    assert_true(sp_gw_streams_enter(streams));
    assert_true(sp_gw_streams_enter(streams));
    assert_false(sp_gw_streams_enter(streams));
    sp_gw_streams_leave(streams);
    assert_int_equal(sp_gw_streams_open(streams), 1);
    assert_true(sp_gw_streams_enter(streams));
    sp_gw_streams_stop(streams);
    assert_true(sp_gw_streams_stopping(streams));
    sp_gw_streams_leave(streams);
    assert_false(sp_gw_streams_enter(streams));
    sp_gw_streams_leave(streams);
    sp_gw_streams_free(streams);
}

static void test_payer_url_is_the_public_url_and_the_code(void **state) {
    (void)state;
    char url[SP_GW_PAYER_URL_LEN_MAX + 1];
    assert_int_equal(sp_gw_payer_url("https://pass.ville.fr", "12345674", url), 0);
    assert_string_equal(url, "https://pass.ville.fr/payer/12345674");
    char longest[256];
    memset(longest, 'a', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    assert_int_equal(sp_gw_payer_url(longest, "12345674", url), 0);
    assert_int_equal(strlen(url), SP_GW_PAYER_URL_LEN_MAX);
    char too_long[258];
    memset(too_long, 'a', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';
    assert_int_equal(sp_gw_payer_url(too_long, "12345674", url), -1);
    assert_string_equal(url, "");
}

/* One partner gets at most SP_GW_SSE_STREAMS_PER_PARTNER_MAX of the slots;
 * the others stay for other partners, and a stream that ends gives its
 * partner's slot back. */
static void test_one_partner_cannot_hold_every_stream(void **state) {
    (void)state;
    const char *a = "0f8fad5b-d9cb-469f-a165-70867728950e";
    const char *b = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
    sp_gw_streams *streams = sp_gw_streams_new(16);
    assert_non_null(streams);
    for (int i = 0; i < SP_GW_SSE_STREAMS_PER_PARTNER_MAX; i++)
        assert_int_equal(sp_gw_streams_enter_partner(streams, a), SP_GW_STREAMS_ENTERED);
    assert_int_equal(sp_gw_streams_enter_partner(streams, a), SP_GW_STREAMS_PARTNER_FULL);
    assert_int_equal(sp_gw_streams_open(streams), SP_GW_SSE_STREAMS_PER_PARTNER_MAX);
    assert_int_equal(sp_gw_streams_enter_partner(streams, b), SP_GW_STREAMS_ENTERED);
    sp_gw_streams_leave_partner(streams, a);
    assert_int_equal(sp_gw_streams_enter_partner(streams, a), SP_GW_STREAMS_ENTERED);
    for (int i = 0; i < SP_GW_SSE_STREAMS_PER_PARTNER_MAX; i++)
        sp_gw_streams_leave_partner(streams, a);
    sp_gw_streams_leave_partner(streams, b);
    assert_int_equal(sp_gw_streams_open(streams), 0);
    sp_gw_streams_free(streams);

    /* The overall bound still holds, whoever asks. */
    streams = sp_gw_streams_new(2);
    assert_int_equal(sp_gw_streams_enter_partner(streams, a), SP_GW_STREAMS_ENTERED);
    assert_int_equal(sp_gw_streams_enter_partner(streams, b), SP_GW_STREAMS_ENTERED);
    assert_int_equal(sp_gw_streams_enter_partner(streams, b), SP_GW_STREAMS_FULL);
    sp_gw_streams_leave_partner(streams, a);
    sp_gw_streams_leave_partner(streams, b);
    sp_gw_streams_free(streams);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contact_accepts_french_settings),
        cmocka_unit_test(test_contact_refuses_bad_settings),
        cmocka_unit_test(test_event_ids_round_trip_and_refuse_others),
        cmocka_unit_test(test_event_framing),
        cmocka_unit_test(test_sent_ring_forgets_only_the_oldest),
        cmocka_unit_test(test_streams_are_bounded_and_stop),
        cmocka_unit_test(test_payer_url_is_the_public_url_and_the_code),
        cmocka_unit_test(test_one_partner_cannot_hold_every_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
