/* ledger_fixture.h - what the ledger's cmocka tests share: a partner added
 * to the directory with a fresh id and code, a command decided then applied
 * (the same path as the service: decide, apply, and the books still sum to
 * zero), and the check of a refusal recorded as an event.
 * Include after <cmocka.h>. Static functions: each test program has its copy. */
#ifndef SP_TEST_LEDGER_FIXTURE_H
#define SP_TEST_LEDGER_FIXTURE_H

#include <stdlib.h>
#include "sp_envelope.h"
#include "transactions/ledger.h"
#include "transactions/ledger_codec.h"

/* Adds a partner with a new id and an unused code; *copy gets its entry. */
static inline void ledger_fixture_add_partner(sp_ledger_directory *directory, const char *name,
                                              const char *category, sp_ledger_partner *copy) {
    char id[SP_ID_LEN + 1], code[SP_PARTNER_CODE_LEN + 1];
    sp_id_new(id);
    do {
        sp_partner_code_new(code);
    } while (sp_ledger_directory_find(directory, code) != NULL);
    sp_error err;
    assert_int_equal(sp_ledger_directory_add(directory, id, code, name, category, &err), 0);
    *copy = *sp_ledger_directory_find(directory, code);
}

/* Decides the command at now_ms and, when it yields an event, applies it
 * (never skipped) and checks that every account still sums to zero.
 * Returns the applied outcome's record (NULL when nothing was applied or
 * the event records none). */
static inline const sp_ledger_record *ledger_fixture_run(sp_ledger_state *state,
                                                         const sp_ledger_command *command,
                                                         int64_t now_ms, sp_ledger_decision *out) {
    sp_ledger_decide(state, command, now_ms, out);
    if (out->kind != SP_LEDGER_DECIDED_EVENT) return NULL;
    sp_ledger_applied applied;
    sp_error err;
    assert_int_equal(sp_ledger_apply(state, &out->event, &applied, &err), 0);
    assert_false(applied.skipped);
    assert_int_equal(sp_ledger_balance_sum_cents(state), 0);
    return applied.record;
}

/* The command was refused with code, and the refusal is an event (so a
 * retry of the same key keeps this outcome). */
static inline void ledger_fixture_assert_rejected(const sp_ledger_decision *d, const char *code) {
    assert_int_equal(d->kind, SP_LEDGER_DECIDED_EVENT);
    assert_int_equal(d->event.kind, SP_LEDGER_EVENT_COMMAND_REJECTED);
    assert_string_equal(d->event.code, code);
}

/* The event as the log carries it and back: encoded, packed in its
 * envelope, unpacked and decoded into *out. */
static inline void ledger_fixture_roundtrip(const sp_ledger_event *event, sp_ledger_event *out) {
    sp_ledger_event_pb *holder = malloc(sizeof *holder);
    assert_non_null(holder);
    const ProtobufCMessage *payload = sp_ledger_event_to_pb(event, holder);
    assert_non_null(payload);
    sp_envelope_meta meta;
    sp_ledger_event_meta(event, "", &meta);
    uint8_t *bytes = NULL;
    size_t len = 0;
    sp_error err;
    assert_int_equal(sp_envelope_pack(&meta, payload, &bytes, &len, NULL, &err), 0);
    sp_ledger_event_pb_release(holder);
    free(holder);
    Solipass__Envelope *envelope = sp_envelope_unpack(bytes, len, &err);
    assert_non_null(envelope);
    assert_int_equal(sp_ledger_event_from_envelope(envelope, out, &err), 0);
    solipass__envelope__free_unpacked(envelope, NULL);
    free(bytes);
}

#endif
