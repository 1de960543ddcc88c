"""The gateway checks sessions and partner codes in its own memory, kept
true from the accounts events (docs/architecture.md, "Sessions and roles"),
and several gateways share one log: a session opened at one gateway is
good at the other at once; a logout, a role change, a removal or a
password reset takes effect at the gateway that answered it at once, and
at every other gateway within one second; a partner created through one
gateway is paid through the other at once. A second gateway runs beside
the stack's."""

import time

import pytest

from second_gateway import second_gateway
from solipass_api import Api, expect_error, luhn_check_digit, new_key
from test_staff_users import NEW_PASSWORD, disable, new_staff, patch_role

BOUND_S = 1.0          # the bound docs/architecture.md promises
POLL_S = 0.02
UNKNOWN_CODE = "9999999" + str(luhn_check_digit("9999999"))   # valid, held by nobody


@pytest.fixture(scope="module")
def other_gateway(stack, tmp_path_factory):
    with second_gateway(stack, str(tmp_path_factory.mktemp("directory")),
                        what="second gateway") as url:
        yield url


def seconds_until(predicate, what):
    """How long predicate() took to hold, polled every POLL_S; fails past 5 s."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < 5.0, what
        time.sleep(POLL_S)
    return time.monotonic() - started


def refused(api, path):
    return api.get(path).status_code == 401


def test_a_session_from_one_gateway_is_good_at_the_other_at_once(world, backoffice,
                                                                   other_gateway):
    beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 500})
    here = world.login(beneficiary["email"], beneficiary["password"])
    there = Api(other_gateway, here.token)
    assert there.get("/api/v1/pass").json()["balance_cents"] == 500
    # And the other way round.
    there_login = Api(other_gateway).login(beneficiary["email"], beneficiary["password"])
    assert Api(world.url, there_login.token).get("/api/v1/me").status_code == 200
    expect_error(Api(other_gateway, "not-a-token-" + "x" * 30).get("/api/v1/me"), 401,
                 "unauthenticated", "")


def test_logout_ends_the_session_here_at_once_and_there_within_a_second(world, backoffice,
                                                                          other_gateway):
    beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 500})
    here = world.login(beneficiary["email"], beneficiary["password"])
    there = Api(other_gateway, here.token)
    assert there.get("/api/v1/pass").status_code == 200
    assert here.post("/api/v1/auth/logout").status_code == 204
    expect_error(here.get("/api/v1/pass"), 401, "unauthenticated", "")
    took = seconds_until(lambda: refused(there, "/api/v1/pass"), "the other gateway")
    assert took < BOUND_S, took
    expect_error(there.post("/api/v1/pass/payments", {"partner_code": UNKNOWN_CODE,
                                                      "amount_cents": 1}, key=new_key()),
                 401, "unauthenticated", "")


def test_role_change_and_removal_reach_the_other_gateway_within_a_second(world, backoffice,
                                                                          other_gateway):
    user, here = new_staff(world, backoffice, "backoffice")
    there = Api(other_gateway, here.token)
    assert there.get("/api/v1/staff-users").status_code == 200
    assert patch_role(backoffice, user["user_id"], "finance").status_code == 200
    expect_error(here.get("/api/v1/staff-users"), 403, "forbidden")
    took = seconds_until(lambda: there.get("/api/v1/staff-users").status_code == 403,
                         "the role change at the other gateway")
    assert took < BOUND_S, took
    assert there.get("/api/v1/me").json()["role"] == "finance"

    assert disable(backoffice, user["user_id"]).status_code == 204
    expect_error(here.get("/api/v1/me"), 401, "unauthenticated")
    took = seconds_until(lambda: refused(there, "/api/v1/me"), "the removal at the other gateway")
    assert took < BOUND_S, took


def test_a_password_reset_ends_the_sessions_at_the_other_gateway_within_a_second(
        world, backoffice, other_gateway):
    beneficiary = world.create_beneficiary(backoffice)
    email = beneficiary["email"]
    stolen = Api(other_gateway, world.login(email, beneficiary["password"]).token)
    assert stolen.get("/api/v1/pass").status_code == 200
    anonymous = world.anonymous()
    assert anonymous.post("/api/v1/auth/password-reset", {"email": email}).status_code == 202
    token = world.link_token(world.wait_for_mails(email)[0], "/reset-password")
    answer = anonymous.post("/api/v1/auth/password-reset/confirm",
                            {"token": token, "password": NEW_PASSWORD})
    assert answer.status_code == 200, answer.text
    took = seconds_until(lambda: refused(stolen, "/api/v1/pass"), "the reset at the other gateway")
    assert took < BOUND_S, took
    assert Api(other_gateway).login(email, NEW_PASSWORD).get("/api/v1/pass").status_code == 200


def test_a_partner_created_at_one_gateway_is_paid_through_the_other_at_once(
        world, backoffice, other_gateway):
    partner = world.create_partner(backoffice)
    beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 500})
    payer = Api(other_gateway, world.login(beneficiary["email"], beneficiary["password"]).token)
    paid = world.pay(payer, partner["partner_code"], 120)
    assert paid.status_code == 201, paid.text
    assert world.pass_of(payer)["balance_cents"] == 380
    expect_error(world.pay(payer, UNKNOWN_CODE, 1), 404, "partner_not_found", "partner_code")
