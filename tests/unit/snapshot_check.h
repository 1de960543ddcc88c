/* snapshot_check.h - the property a ledger snapshot must have, checked over
 * a test's own history: for every cut k of the events, the state of
 * events[0..k) written as a snapshot, read back, then given events[k..n)
 * equals the state rebuilt from all n events - passes, envelopes,
 * operations, vouchers, refund requests and accounts, the budget and bank,
 * and every command outcome kept for idempotency with its event reference
 * (sp_ledger_snapshot_equal compares their canonical bytes). Every event
 * goes through its log encoding first, as a restart reads it.
 * Include after <cmocka.h> and ledger_fixture.h. */
#ifndef SP_TEST_SNAPSHOT_CHECK_H
#define SP_TEST_SNAPSHOT_CHECK_H

#include <stdlib.h>
#include "transactions/ledger_snapshot.h"

#define SNAPSHOT_CHECK_VERSION "test-1"

/* Applies events[from..to) (log-encoded first) to state, each at offset i. */
static inline void snapshot_check_apply(sp_ledger_state *state, const sp_ledger_event *events,
                                        size_t from, size_t to, sp_ledger_event *scratch) {
    for (size_t i = from; i < to; i++) {
        ledger_fixture_roundtrip(&events[i], scratch);
        sp_ledger_applied applied;
        sp_error err;
        assert_int_equal(sp_ledger_apply(state, scratch, &applied, &err), 0);
        if (applied.record != NULL) {
            sp_ledger_record_set_event_ref(applied.record, state->partition, (int64_t)i);
        }
    }
}

static inline void snapshot_check_every_cut(const sp_ledger_event *events, size_t count,
                                            int32_t partition, const sp_ledger_limits *limits,
                                            const sp_ledger_directory *directory) {
    sp_error err;
    sp_ledger_event *scratch = calloc(1, sizeof *scratch);
    assert_non_null(scratch);
    sp_ledger_state *full = sp_ledger_state_new(partition, limits, directory, &err);
    assert_non_null(full);
    snapshot_check_apply(full, events, 0, count, scratch);
    for (size_t k = 0; k <= count; k++) {
        sp_ledger_state *head = sp_ledger_state_new(partition, limits, directory, &err);
        assert_non_null(head);
        snapshot_check_apply(head, events, 0, k, scratch);
        sp_ledger_snapshot_position at = {.next_offset = (int64_t)k};
        uint8_t *bytes = NULL;
        size_t len = 0;
        assert_int_equal(
            sp_ledger_snapshot_encode(head, &at, SNAPSHOT_CHECK_VERSION, &bytes, &len, &err), 0);
        sp_ledger_snapshot_position read_at;
        sp_ledger_state *restored = sp_ledger_snapshot_decode(bytes, len, partition, limits,
                                                              directory, SNAPSHOT_CHECK_VERSION,
                                                              &read_at, &err);
        assert_non_null(restored);
        assert_int_equal(read_at.next_offset, (int64_t)k);
        bool equal = false;
        assert_int_equal(sp_ledger_snapshot_equal(restored, head, &equal, &err), 0);
        assert_true(equal); /* the pair is exact */
        snapshot_check_apply(restored, events, k, count, scratch);
        assert_int_equal(sp_ledger_snapshot_equal(restored, full, &equal, &err), 0);
        if (!equal) fail_msg("snapshot after %zu of %zu events + the rest != whole log", k, count);
        assert_int_equal(sp_ledger_balance_sum_cents(restored), 0);
        free(bytes);
        sp_ledger_state_free(restored);
        sp_ledger_state_free(head);
    }
    sp_ledger_state_free(full);
    free(scratch);
}

#endif
