"""The main scenario over HTTP, as the apps run it: the back-office onboards
partners and beneficiaries and credits passes (P9), a beneficiary pays a
partner by code (P10) and the partner sees it at once (P11, P14)."""

import requests

from solipass_api import expect_error, luhn_valid, new_key


def test_bootstrap_backoffice_logs_in_and_sees_itself(world, backoffice):
    me = backoffice.get("/api/v1/me")
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["email"] == world.stack.bootstrap_email
    assert body["role"] == "backoffice"


def test_login_answers_token_expiry_and_user(world):
    answer = world.anonymous().post("/api/v1/auth/login", {
        "email": world.stack.bootstrap_email.upper(), "password": world.stack.bootstrap_password})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert len(body["token"]) == 43
    assert body["expires_at"].endswith("Z")
    assert body["user"]["role"] == "backoffice"


def test_partner_codes_have_eight_digits_and_a_luhn_check_digit(partners):
    for partner in partners.values():
        code = partner["partner_code"]
        assert len(code) == 8 and code.isdigit() and code[0] != "0", code
        assert luhn_valid(code), code
    assert partners["sport"]["partner_code"] != partners["culture"]["partner_code"]


def test_backoffice_lists_partners_with_their_category(backoffice, partners):
    answer = backoffice.get("/api/v1/partners")
    assert answer.status_code == 200, answer.text
    listed = {p["partner_id"]: p for p in answer.json()["partners"]}
    for partner in partners.values():
        row = listed[partner["partner_id"]]
        assert row["partner_code"] == partner["partner_code"]
        assert row["category"] == partner["category"]
        assert row["name"] == partner["name"]
        assert isinstance(row["owed_cents"], int) and row["owed_cents"] >= 0


def test_partner_admin_logs_in_and_sees_its_partner(world, partners):
    sport = partners["sport"]
    admin = world.login(sport["admin_email"], sport["admin_password"])
    me = admin.get("/api/v1/me").json()
    assert me["role"] == "partner_admin"
    assert me["partner_id"] == sport["partner_id"]
    mine = admin.get("/api/v1/partner")
    assert mine.status_code == 200, mine.text
    assert mine.json()["partner_code"] == sport["partner_code"]
    assert mine.json()["name"] == "Club de football de Fontenay"


def test_beneficiary_sees_the_credited_balance_of_each_envelope(world, backoffice):
    beneficiary = world.create_beneficiary(
        backoffice, [("general", None), ("sport", None), ("culture", None)],
        {"general": 5000, "sport": 3000, "culture": 1200})
    api = world.login(beneficiary["email"], beneficiary["password"])
    me = api.get("/api/v1/me").json()
    assert me["role"] == "beneficiary" and me["pass_id"] == beneficiary["pass_id"]
    view = world.pass_of(api)
    assert view["pass_id"] == beneficiary["pass_id"]
    assert view["balance_cents"] == 9200
    assert {e["category"]: e["balance_cents"] for e in view["envelopes"]} == {
        "general": 5000, "sport": 3000, "culture": 1200}
    assert all(e["expired"] is False for e in view["envelopes"])


def test_backoffice_reads_a_pass_as_its_beneficiary_does(world, backoffice):
    beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 700})
    api = world.login(beneficiary["email"], beneficiary["password"])
    answer = backoffice.get("/api/v1/passes/%s" % beneficiary["pass_id"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["balance_cents"] == 700
    assert answer.json() == world.pass_of(api)


def test_credit_answers_the_operation_and_lists_it(world, backoffice):
    beneficiary = world.create_beneficiary(backoffice, [("general", None)])
    credited = world.credit(backoffice, beneficiary["pass_id"], "general", 2500)
    assert credited.status_code == 201, credited.text
    operation = credited.json()
    assert operation["kind"] == "credit" and operation["amount_cents"] == 2500
    assert operation["pass_balance_after_cents"] == 2500
    api = world.login(beneficiary["email"], beneficiary["password"])
    listed = world.operations(api)
    assert [o["operation_id"] for o in listed] == [operation["operation_id"]]


def test_payment_by_code_is_visible_at_once_everywhere(world, backoffice, partners):
    sport = partners["sport"]
    beneficiary = world.create_beneficiary(backoffice, [("general", None), ("sport", None)],
                                           {"general": 4000, "sport": 2000})
    api = world.login(beneficiary["email"], beneficiary["password"])
    admin = world.login(sport["admin_email"], sport["admin_password"])
    owed_before = admin.get("/api/v1/partner").json()["owed_cents"]

    paid = world.pay(api, sport["partner_code"], 1500)
    assert paid.status_code == 201, paid.text
    operation = paid.json()
    assert operation["kind"] == "payment" and operation["status"] == "accepted"
    assert operation["amount_cents"] == 1500
    assert operation["partner_id"] == sport["partner_id"]
    assert operation["partner_code"] == sport["partner_code"]
    assert operation["category"] == "sport"
    assert operation["pass_balance_after_cents"] == 4500
    assert operation["occurred_at"].endswith("Z")

    # No waiting: the 201 means every read already shows it.
    view = world.pass_of(api)
    assert view["balance_cents"] == 4500
    assert world.envelope(view, "sport")["balance_cents"] == 500
    mine = [o for o in world.operations(api) if o["operation_id"] == operation["operation_id"]]
    assert len(mine) == 1 and mine[0]["amount_cents"] == 1500
    theirs = [o for o in world.operations(admin, "/api/v1/partner/operations")
              if o["operation_id"] == operation["operation_id"]]
    assert len(theirs) == 1 and theirs[0]["amount_cents"] == 1500
    assert admin.get("/api/v1/partner").json()["owed_cents"] == owed_before + 1500


def test_payment_by_code_typed_with_spaces_reaches_the_same_partner(world, backoffice, partners):
    culture = partners["culture"]
    beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 1000})
    api = world.login(beneficiary["email"], beneficiary["password"])
    code = culture["partner_code"]
    for typed in (code[:4] + " " + code[4:], code[:4] + "-" + code[4:]):
        paid = world.pay(api, typed, 100)
        assert paid.status_code == 201, paid.text
        assert paid.json()["partner_id"] == culture["partner_id"]
        assert paid.json()["partner_code"] == code
    assert world.pass_of(api)["balance_cents"] == 800


def test_payment_debits_exactly_the_amount_and_credits_the_partner(world, backoffice, partners):
    culture = partners["culture"]
    beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 999})
    api = world.login(beneficiary["email"], beneficiary["password"])
    before = {p["partner_id"]: p["owed_cents"] for p in backoffice.get("/api/v1/partners").json()["partners"]}
    assert world.pay(api, culture["partner_code"], 999).status_code == 201
    after = {p["partner_id"]: p["owed_cents"] for p in backoffice.get("/api/v1/partners").json()["partners"]}
    assert after[culture["partner_id"]] == before[culture["partner_id"]] + 999
    assert world.pass_of(api)["balance_cents"] == 0
    expect_error(world.pay(api, culture["partner_code"], 1), 422, "insufficient_funds")


def test_operations_are_paged_newest_first_without_gaps(world, backoffice, partners):
    beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 10000})
    api = world.login(beneficiary["email"], beneficiary["password"])
    paid_ids = []
    for amount in (101, 102, 103, 104, 105):
        paid = world.pay(api, partners["sport"]["partner_code"], amount)
        assert paid.status_code == 201, paid.text
        paid_ids.append(paid.json()["operation_id"])
    seen = []
    cursor = None
    for _ in range(10):
        answer = api.get("/api/v1/pass/operations?limit=2" + ("&cursor=" + cursor if cursor else ""))
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert len(page["operations"]) <= 2
        seen.extend(page["operations"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    ids = [o["operation_id"] for o in seen]
    assert len(ids) == len(set(ids)) == 6
    assert ids[:5] == list(reversed(paid_ids))
    assert seen[5]["kind"] == "credit"
    instants = [o["occurred_at"] for o in seen]
    assert instants == sorted(instants, reverse=True)


def test_a_partner_sees_only_its_own_operations(world, backoffice, partners):
    sport, culture = partners["sport"], partners["culture"]
    beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 1000})
    api = world.login(beneficiary["email"], beneficiary["password"])
    to_sport = world.pay(api, sport["partner_code"], 210).json()["operation_id"]
    to_culture = world.pay(api, culture["partner_code"], 220).json()["operation_id"]
    for partner, own, other in ((sport, to_sport, to_culture), (culture, to_culture, to_sport)):
        admin = world.login(partner["admin_email"], partner["admin_password"])
        listed = world.operations(admin, "/api/v1/partner/operations")
        ids = {o["operation_id"] for o in listed}
        assert own in ids and other not in ids
        assert {o["partner_id"] for o in listed} == {partner["partner_id"]}


def test_same_key_same_body_replays_the_first_answer(world, backoffice, partners):
    beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 1000})
    api = world.login(beneficiary["email"], beneficiary["password"])
    key = new_key()
    first = world.pay(api, partners["sport"]["partner_code"], 400, key=key)
    again = world.pay(api, partners["sport"]["partner_code"], 400, key=key)
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert again.json()["operation_id"] == first.json()["operation_id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.headers.get("Idempotent-Replayed") != "true"
    assert world.pass_of(api)["balance_cents"] == 600
    assert len([o for o in world.operations(api) if o["kind"] == "payment"]) == 1


def test_healthz_and_metrics_answer(world):
    health = world.anonymous().get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    # The metrics are on the gateway's own loopback port, not the public one.
    assert world.anonymous().get("/metrics").status_code == 404
    metrics = requests.get(world.stack.metrics_url("gateway"), timeout=10)
    assert metrics.status_code == 200
    assert "solipass_gateway_requests_total" in metrics.text
