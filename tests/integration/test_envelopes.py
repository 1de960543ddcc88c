"""P24: a pass holds envelopes by category; the partner's category decides
which one pays, "general" pays the categories without an envelope of their
own, and an envelope's remainder returns to the budget after its end date."""

import datetime

from solipass_api import DAY_MS, expect_error, wait_until


def test_sport_partner_is_paid_from_the_sport_envelope(world, backoffice, partners):
    beneficiary = world.create_beneficiary(backoffice, [("general", None), ("sport", None)],
                                           {"general": 1000, "sport": 600})
    api = world.login(beneficiary["email"], beneficiary["password"])
    paid = world.pay(api, partners["sport"]["partner_code"], 250)
    assert paid.status_code == 201, paid.text
    assert paid.json()["category"] == "sport"
    view = world.pass_of(api)
    assert world.envelope(view, "sport")["balance_cents"] == 350
    assert world.envelope(view, "general")["balance_cents"] == 1000
    assert view["balance_cents"] == 1350


def test_culture_partner_without_culture_envelope_is_paid_from_general(world, backoffice, partners):
    beneficiary = world.create_beneficiary(backoffice, [("general", None), ("sport", None)],
                                           {"general": 1000, "sport": 600})
    api = world.login(beneficiary["email"], beneficiary["password"])
    paid = world.pay(api, partners["culture"]["partner_code"], 300)
    assert paid.status_code == 201, paid.text
    assert paid.json()["category"] == "general"
    view = world.pass_of(api)
    assert world.envelope(view, "general")["balance_cents"] == 700
    assert world.envelope(view, "sport")["balance_cents"] == 600


def test_sport_envelope_does_not_pay_beyond_itself(world, backoffice, partners):
    """The sport envelope pays sport partners; general does not top it up."""
    beneficiary = world.create_beneficiary(backoffice, [("general", None), ("sport", None)],
                                           {"general": 5000, "sport": 100})
    api = world.login(beneficiary["email"], beneficiary["password"])
    expect_error(world.pay(api, partners["sport"]["partner_code"], 101), 422,
                 "insufficient_funds", "amount_cents")
    assert world.pass_of(api)["balance_cents"] == 5100


def test_pass_without_matching_envelope_nor_general_is_refused(world, backoffice, partners):
    beneficiary = world.create_beneficiary(backoffice, [("sport", None)], {"sport": 800})
    api = world.login(beneficiary["email"], beneficiary["password"])
    expect_error(world.pay(api, partners["culture"]["partner_code"], 100), 422,
                 "no_envelope_for_category")
    view = world.pass_of(api)
    assert view["balance_cents"] == 800
    assert [o["kind"] for o in world.operations(api)] == ["credit"]


def test_envelope_remainder_is_gone_after_its_end_date(world, backoffice, partners):
    end_date = world.paris_today() + datetime.timedelta(days=1)
    beneficiary = world.create_beneficiary(
        backoffice, [("sport", end_date.isoformat()), ("culture", None)],
        {"sport": 900, "culture": 400})
    api = world.login(beneficiary["email"], beneficiary["password"])
    assert world.pay(api, partners["sport"]["partner_code"], 200).status_code == 201
    view = world.pass_of(api)
    assert world.envelope(view, "sport")["end_date"] == end_date.isoformat()
    assert world.envelope(view, "sport")["expired"] is False
    budget_before = int(world.sql("SELECT balance_cents FROM ledger_balances WHERE account = 'budget'"))

    # The end date is inclusive (Europe/Paris): two days later it is over.
    world.advance_clock_ms(2 * DAY_MS + 60 * 1000)
    assert world.paris_today() > end_date
    api = world.login(beneficiary["email"], beneficiary["password"])  # the old session expired

    def expiry_listed():
        return [o for o in world.operations(api) if o["kind"] == "expiry"]

    expiries = wait_until(expiry_listed, "the envelope expiry operation", timeout_s=30)
    assert len(expiries) == 1
    assert expiries[0]["category"] == "sport" and expiries[0]["amount_cents"] == 700
    view = world.pass_of(api)
    sport = world.envelope(view, "sport")
    assert sport["expired"] is True and sport["balance_cents"] == 0
    assert view["balance_cents"] == 400
    # The remainder went back to the city's budget.
    budget_after = int(world.sql("SELECT balance_cents FROM ledger_balances WHERE account = 'budget'"))
    assert budget_after == budget_before + 700

    expect_error(world.pay(api, partners["sport"]["partner_code"], 100), 422, "envelope_expired")
    paid = world.pay(api, partners["culture"]["partner_code"], 100)
    assert paid.status_code == 201, paid.text
    assert world.pass_of(api)["balance_cents"] == 300
