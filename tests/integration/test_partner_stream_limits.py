"""The live operations stream is authorised at every look, not only when it
opens: a logout or a removal ends it within a second (it used to keep
sending payments for up to SP_SSE_MAX_S). And one partner cannot hold every
stream slot: at most 4 streams per partner."""

import time

import requests

from solipass_api import expect_error, unique_email
from test_partner_space import STREAM, EventStream, partner_admin
from test_structure_users import activate, add_user

ENDS_WITHIN_S = 1.0
STREAMS_PER_PARTNER = 4


def ended_within(stream, seconds):
    """The stream's answer ended (the reader thread saw its last chunk)."""
    stream.thread.join(timeout=seconds)
    return not stream.thread.is_alive()


def test_a_logged_out_users_stream_ends_within_a_second(world, backoffice):
    partner = world.create_partner(backoffice, "sport", "Club d'escrime")
    admin = partner_admin(world, partner)
    token = admin.token
    stream = EventStream(world, token)
    try:
        assert stream.answer.status_code == 200
        time.sleep(0.3)
        assert not ended_within(stream, 0)
        assert admin.post("/api/v1/auth/logout").status_code == 204
        logged_out_at = time.monotonic()
        assert ended_within(stream, ENDS_WITHIN_S + 0.5)
        assert time.monotonic() - logged_out_at <= ENDS_WITHIN_S
    finally:
        stream.close()
    again = requests.get(world.url + STREAM, headers={"Authorization": "Bearer " + token},
                         timeout=10)
    expect_error(again, 401, "unauthenticated")


def test_a_removed_users_stream_ends_within_a_second(world, backoffice):
    partner = world.create_partner(backoffice, "sport", "Club de voile")
    admin = partner_admin(world, partner)
    email = unique_email("cashier")
    user = add_user(admin, email).json()
    cashier = activate(world, email)
    stream = EventStream(world, cashier.token)
    try:
        assert stream.answer.status_code == 200
        answer = admin.request("DELETE", "/api/v1/partner/users/" + user["user_id"])
        assert answer.status_code == 204, answer.text
        removed_at = time.monotonic()
        assert ended_within(stream, ENDS_WITHIN_S + 0.5)
        assert time.monotonic() - removed_at <= ENDS_WITHIN_S
    finally:
        stream.close()
        admin.close()


def test_one_partner_cannot_hold_every_stream(world, backoffice):
    partner = world.create_partner(backoffice, "sport", "Club d'aviron")
    other = world.create_partner(backoffice, "sport", "Club de canoë")
    admin = partner_admin(world, partner)
    other_admin = partner_admin(world, other)
    streams = [EventStream(world, admin.token) for _ in range(STREAMS_PER_PARTNER)]
    try:
        assert [s.answer.status_code for s in streams] == [200] * STREAMS_PER_PARTNER
        refused = requests.get(world.url + STREAM,
                               headers={"Authorization": "Bearer " + admin.token}, timeout=10)
        expect_error(refused, 429, "too_many_streams", "")
        assert int(refused.headers["Retry-After"]) > 0
        # Another partner still gets a stream.
        theirs = EventStream(world, other_admin.token)
        assert theirs.answer.status_code == 200
        theirs.close()
    finally:
        for s in streams:
            s.close()
    # Closed streams give their slots back (noticed at the next heartbeat at worst).
    deadline = time.monotonic() + 20
    while True:
        answer = requests.get(world.url + STREAM, stream=True, timeout=10,
                              headers={"Authorization": "Bearer " + admin.token})
        status = answer.status_code
        answer.close()
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert status == 200
    admin.close()
    other_admin.close()
