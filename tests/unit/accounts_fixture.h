/* accounts_fixture.h - what the accounts domain's tests share: an event
 * taken through its wire form (packed in an envelope, unpacked, decoded),
 * as a rebuild reads it from the log. Include after <cmocka.h>. */
#ifndef SP_TEST_ACCOUNTS_FIXTURE_H
#define SP_TEST_ACCOUNTS_FIXTURE_H

#include <stdlib.h>

#include "accounts/accounts_codec.h"
#include "accounts/accounts_state.h"
#include "sp_envelope.h"

static inline void accounts_fixture_wire_round_trip(const sp_accounts_event *in,
                                                    sp_accounts_event *out) {
    sp_accounts_event_pb pb;
    const ProtobufCMessage *payload = sp_accounts_event_to_pb(in, &pb);
    uint8_t *buf = NULL;
    size_t len = 0;
    sp_error err;
    assert_int_equal(sp_envelope_pack(&pb.meta, payload, &buf, &len, NULL, &err), 0);
    Solipass__Envelope *env = sp_envelope_unpack(buf, len, &err);
    assert_non_null(env);
    assert_int_equal(sp_accounts_event_decode(env, out, &err), 0);
    solipass__envelope__free_unpacked(env, NULL);
    free(buf);
}

#endif
