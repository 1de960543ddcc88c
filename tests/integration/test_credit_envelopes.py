"""The back office credits envelopes by category, amount and end date: a
credit opens the envelope a pass lacks, sets or extends an end date (never
shortens it, never into the past), brings an expired envelope back only
with a later end date, and moves money once per Idempotency-Key."""

import datetime

from solipass_api import DAY_MS, expect_error, new_key, wait_until
from test_staff_users import new_staff


def credit(backoffice, pass_id, category, amount_cents, end_date=None, key=None):
    body = {"category": category, "amount_cents": amount_cents}
    if end_date is not None:
        body["end_date"] = end_date if isinstance(end_date, str) else end_date.isoformat()
    return backoffice.post("/api/v1/passes/%s/credits" % pass_id, body, key=key or new_key())


def envelope_when(world, api, category, predicate, what):
    """The pass's envelope once the read model shows it as predicate wants."""
    def found():
        for envelope in world.pass_of(api)["envelopes"]:
            if envelope["category"] == category and predicate(envelope):
                return envelope
        return None
    return wait_until(found, what, timeout_s=30)


def test_a_credit_opens_an_envelope_that_then_pays(world, backoffice, partners):
    beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 1000})
    end_date = world.paris_today() + datetime.timedelta(days=30)
    answer = credit(backoffice, beneficiary["pass_id"], "sport", 800, end_date)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["envelope_opened"] is True and body["end_date"] == end_date.isoformat()
    assert body["envelope_balance_after_cents"] == 800 and body["pass_balance_after_cents"] == 1800
    api = world.login(beneficiary["email"], beneficiary["password"])
    sport = envelope_when(world, api, "sport", lambda e: True, "the opened sport envelope")
    assert sport == {"category": "sport", "balance_cents": 800,
                     "end_date": end_date.isoformat(), "expired": False}
    paid = world.pay(api, partners["sport"]["partner_code"], 300)
    assert paid.status_code == 201, paid.text
    assert paid.json()["category"] == "sport"
    view = world.pass_of(api)
    assert world.envelope(view, "sport")["balance_cents"] == 500
    assert world.envelope(view, "general")["balance_cents"] == 1000
    # A second credit of that category finds the envelope, its end date kept.
    again = credit(backoffice, beneficiary["pass_id"], "sport", 100)
    assert again.status_code == 201, again.text
    assert again.json()["envelope_opened"] is False
    assert again.json()["end_date"] == end_date.isoformat()
    # The back office's own view of the pass shows it too.
    envelopes = wait_until(
        lambda: [e for e in backoffice.get("/api/v1/passes/" + beneficiary["pass_id"]).json()
                 ["envelopes"] if e["category"] == "sport" and e["balance_cents"] == 600],
        "the back office's view of the credited envelope")
    assert envelopes[0]["end_date"] == end_date.isoformat()
    # The pass's history says who credited it and until when.
    history = backoffice.get("/api/v1/passes/%s/history?limit=100" % beneficiary["pass_id"])
    assert history.status_code == 200, history.text
    credits = [e["details"] for e in history.json()["entries"] if e["action"] == "credit"]
    assert {"category": "sport", "amount_cents": 800, "end_date": end_date.isoformat()} \
        .items() <= next(d for d in credits if d["amount_cents"] == 800).items()
    assert "end_date" not in next(d for d in credits if d["category"] == "general")


def test_an_extended_end_date_keeps_the_envelope_payable(world, backoffice, partners):
    today = world.paris_today()
    old_end, new_end = today + datetime.timedelta(days=1), today + datetime.timedelta(days=10)
    beneficiary = world.create_beneficiary(backoffice, [("sport", old_end.isoformat())],
                                           {"sport": 900})
    answer = credit(backoffice, beneficiary["pass_id"], "sport", 100, new_end)
    assert answer.status_code == 201, answer.text
    assert answer.json()["end_date"] == new_end.isoformat()
    assert answer.json()["envelope_opened"] is False
    api = world.login(beneficiary["email"], beneficiary["password"])
    envelope_when(world, api, "sport", lambda e: e["end_date"] == new_end.isoformat(),
                  "the extended end date in the read model")

    # Past the old end date (inclusive, Europe/Paris) the envelope still pays.
    world.advance_clock_ms(2 * DAY_MS + 60 * 1000)
    assert world.paris_today() > old_end
    api = world.login(beneficiary["email"], beneficiary["password"])
    paid = world.pay(api, partners["sport"]["partner_code"], 250)
    assert paid.status_code == 201, paid.text
    assert paid.json()["category"] == "sport"
    sport = world.envelope(world.pass_of(api), "sport")
    assert sport["expired"] is False and sport["end_date"] == new_end.isoformat()
    assert [o for o in world.operations(api) if o["kind"] == "expiry"] == []


def test_an_earlier_or_past_end_date_is_refused(world, backoffice):
    today = world.paris_today()
    end = today + datetime.timedelta(days=20)
    beneficiary = world.create_beneficiary(backoffice, [("sport", end.isoformat()), ("general", None)],
                                           {"sport": 500})
    pass_id = beneficiary["pass_id"]
    refused = credit(backoffice, pass_id, "sport", 100, today + datetime.timedelta(days=5))
    expect_error(refused, 422, "end_date_earlier", "end_date")
    assert end.isoformat() in refused.json()["message"]
    yesterday = today - datetime.timedelta(days=1)
    expect_error(credit(backoffice, pass_id, "sport", 100, yesterday), 422, "invalid_date",
                 "end_date")
    expect_error(credit(backoffice, pass_id, "general", 100, yesterday), 422, "invalid_date",
                 "end_date")
    expect_error(credit(backoffice, pass_id, "culture", 100, "2027-02-30"), 422, "invalid_date",
                 "end_date")
    expect_error(credit(backoffice, pass_id, "culture", 100, "31/12/2027"), 422, "invalid_date",
                 "end_date")
    expect_error(credit(backoffice, pass_id, "Culture", 100), 422, "invalid_category", "category")
    # Nothing moved, nothing opened.
    api = world.login(beneficiary["email"], beneficiary["password"])
    view = world.pass_of(api)
    assert view["balance_cents"] == 500
    assert sorted(e["category"] for e in view["envelopes"]) == ["general", "sport"]
    assert world.envelope(view, "sport")["end_date"] == end.isoformat()


def test_a_pass_holds_at_most_eight_envelopes(world, backoffice):
    categories = ["general"] + ["cat%d" % i for i in range(1, 8)]
    beneficiary = world.create_beneficiary(backoffice, [(c, None) for c in categories[:7]])
    assert credit(backoffice, beneficiary["pass_id"], categories[7], 100).status_code == 201
    expect_error(credit(backoffice, beneficiary["pass_id"], "cat9", 100), 422,
                 "too_many_envelopes", "category")


def test_an_expired_envelope_comes_back_with_a_later_end_date(world, backoffice, partners):
    today = world.paris_today()
    beneficiary = world.create_beneficiary(
        backoffice, [("sport", (today + datetime.timedelta(days=1)).isoformat())], {"sport": 700})
    world.advance_clock_ms(2 * DAY_MS + 60 * 1000)
    api = world.login(beneficiary["email"], beneficiary["password"])   # sessions expired
    backoffice = world.backoffice()
    envelope_when(world, api, "sport", lambda e: e["expired"], "the sport envelope's expiry")
    pass_id = beneficiary["pass_id"]
    expect_error(credit(backoffice, pass_id, "sport", 400), 422, "envelope_expired", "category")
    new_end = world.paris_today() + datetime.timedelta(days=15)
    answer = credit(backoffice, pass_id, "sport", 400, new_end)
    assert answer.status_code == 201, answer.text
    # Its old remainder went back to the budget when it expired.
    assert answer.json()["envelope_balance_after_cents"] == 400
    sport = envelope_when(world, api, "sport", lambda e: not e["expired"],
                          "the sport envelope usable again")
    assert sport["end_date"] == new_end.isoformat() and sport["balance_cents"] == 400
    paid = world.pay(api, partners["sport"]["partner_code"], 150)
    assert paid.status_code == 201, paid.text
    assert paid.json()["category"] == "sport"
    backoffice.close()


def test_a_finance_user_cannot_credit(world, backoffice):
    beneficiary = world.create_beneficiary(backoffice)
    _, finance = new_staff(world, backoffice, "finance")
    expect_error(credit(finance, beneficiary["pass_id"], "sport", 100,
                        world.paris_today() + datetime.timedelta(days=5)), 403, "forbidden")
    finance.close()
    api = world.login(beneficiary["email"], beneficiary["password"])
    assert [e["category"] for e in world.pass_of(api)["envelopes"]] == ["general"]


def test_a_retried_credit_moves_money_once(world, backoffice):
    beneficiary = world.create_beneficiary(backoffice)
    pass_id = beneficiary["pass_id"]
    end = world.paris_today() + datetime.timedelta(days=40)
    key = new_key()
    first = credit(backoffice, pass_id, "culture", 600, end, key=key)
    assert first.status_code == 201, first.text
    again = credit(backoffice, pass_id, "culture", 600, end, key=key)
    assert again.status_code == 201, again.text
    assert again.json()["operation_id"] == first.json()["operation_id"]
    assert again.json()["envelope_opened"] is True
    # The same key with another end date (or none) is another request.
    expect_error(credit(backoffice, pass_id, "culture", 600, end + datetime.timedelta(days=1),
                        key=key), 409, "idempotency_conflict")
    expect_error(credit(backoffice, pass_id, "culture", 600, key=key), 409, "idempotency_conflict")
    api = world.login(beneficiary["email"], beneficiary["password"])
    culture = envelope_when(world, api, "culture", lambda e: True, "the culture envelope")
    assert culture["balance_cents"] == 600
    assert [o["amount_cents"] for o in world.operations(api) if o["kind"] == "credit"] == [600]
