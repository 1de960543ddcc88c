"""Sessions: a logout ends the token at once; a token past its expiry
(SP_SESSION_TTL_S, moved past with the test clock) is refused."""

from conftest import SESSION_TTL_S
from solipass_api import expect_error


def test_logout_ends_the_session(world, backoffice):
    beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 100})
    api = world.login(beneficiary["email"], beneficiary["password"])
    other = world.login(beneficiary["email"], beneficiary["password"])
    assert api.get("/api/v1/me").status_code == 200
    answer = api.post("/api/v1/auth/logout")
    assert answer.status_code == 204, answer.text
    expect_error(api.get("/api/v1/me"), 401, "unauthenticated", "")
    expect_error(api.get("/api/v1/pass"), 401, "unauthenticated", "")
    expect_error(api.post("/api/v1/auth/logout"), 401, "unauthenticated", "")
    # Only that session ended: another login of the same person still works.
    assert other.get("/api/v1/me").status_code == 200


def test_token_past_its_expiry_is_refused(world, backoffice):
    beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 100})
    api = world.login(beneficiary["email"], beneficiary["password"])
    assert api.get("/api/v1/pass").status_code == 200
    world.advance_clock_ms((SESSION_TTL_S + 60) * 1000)
    expect_error(api.get("/api/v1/pass"), 401, "unauthenticated", "")
    expect_error(api.get("/api/v1/me"), 401, "unauthenticated", "")
    # Logging in again gives a fresh session.
    again = world.login(beneficiary["email"], beneficiary["password"])
    assert world.pass_of(again)["balance_cents"] == 100
