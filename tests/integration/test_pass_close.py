"""Closing a pass (its beneficiary left the city): only the back office
closes, with an Idempotency-Key; every envelope's remainder and every open
voucher's reservation go back to the budget (ledger_balances), the vouchers
are cancelled, the pass shows status closed, its beneficiary is mailed once;
afterwards a payment, a credit,
a voucher issue or redemption is refused 409; a partner's cancellation of an
earlier payment returns the money to the budget, a refund request of an
earlier payment goes on; the audit proves the books and a replay rebuilds
the same rows."""

import uuid

from solipass_api import expect_error, new_key, wait_until
from test_invariants import projection_caught_up
from test_operations import cancel, fresh_partner_and_pass, ledger_sum, pay
from test_ops_tools import audit
from test_refunds import requested
from test_replay import quiet_checksums, replay, replay_lines
from test_staff_users import new_staff

CLOSE = "/api/v1/passes/%s/close"


def close(api, pass_id, body=None, key=None):
    return api.post(CLOSE % pass_id, body, key=key or new_key())


def balance(world, account):
    rows = world.sql_rows("SELECT balance_cents FROM ledger_balances WHERE account = '%s'"
                          % account)
    return int(rows[0][0]) if rows else 0


def issue(api, amount_cents, category="general"):
    answer = api.post("/api/v1/pass/vouchers", {"amount_cents": amount_cents,
                                                 "category": category}, key=new_key())
    assert answer.status_code == 201, answer.text
    return answer.json()


def budget_figures(backoffice):
    answer = backoffice.get("/api/v1/dashboard?days=1")
    assert answer.status_code == 200, answer.text
    return {row["category"]: {k: v for k, v in row.items() if k.endswith("_cents")}
            for row in answer.json()["budget"]}


def test_close_returns_envelopes_and_vouchers_to_the_budget(world, backoffice, partners):
    beneficiary = world.create_beneficiary(backoffice, [("general", None), ("sport", None)],
                                           {"general": 3000, "sport": 2000})
    pass_id = beneficiary["pass_id"]
    api = world.login(beneficiary["email"], beneficiary["password"])
    assert world.pay(api, partners["sport"]["partner_code"], 500).status_code == 201
    kept = issue(api, 400)
    spent = issue(api, 100, "sport")
    partner_api = world.login(partners["sport"]["admin_email"], partners["sport"]["admin_password"])
    redeemed = partner_api.post("/api/v1/partner/vouchers/redeem", {"number": spent["number"]},
                                key=new_key())
    assert redeemed.status_code == 201, redeemed.text
    before = world.pass_of(api)
    assert before["status"] == "open" and before["closed_at"] is None
    wait_until(lambda: projection_caught_up(world), "the projection at rest")
    budget_before = balance(world, "budget")
    figures_before = budget_figures(backoffice)

    key = new_key()
    answer = close(backoffice, pass_id, {"reason": "Déménagement hors de la commune"}, key=key)
    assert answer.status_code == 200, answer.text
    closed = answer.json()
    # general 3 000 - 400 reserved; sport 2 000 - 500 paid - 100 redeemed; the voucher's 400.
    assert closed["pass_id"] == pass_id
    assert closed["returned_cents"] == 2600 + 1400 + 400
    assert closed["vouchers_cancelled"] == 1

    view = world.pass_of(api)
    assert view["status"] == "closed" and view["closed_at"] == closed["closed_at"]
    assert view["balance_cents"] == 0
    assert [e["balance_cents"] for e in view["envelopes"]] == [0, 0]
    assert backoffice.get("/api/v1/passes/%s" % pass_id).json()["status"] == "closed"
    vouchers = {v["voucher_id"]: v for v in api.get("/api/v1/pass/vouchers").json()["vouchers"]}
    assert vouchers[kept["voucher_id"]]["status"] == "cancelled"
    assert vouchers[spent["voucher_id"]]["status"] == "redeemed"

    wait_until(lambda: projection_caught_up(world), "the projection at rest")
    assert balance(world, "pass:%s:general" % pass_id) == 0
    assert balance(world, "pass:%s:sport" % pass_id) == 0
    assert balance(world, "voucher:%s" % kept["voucher_id"]) == 0
    assert balance(world, "budget") == budget_before + 4400
    assert ledger_sum(world) == 0

    # The dashboard counts what the pass held as gone back to the budget
    # ("expired"), out of what was available or reserved; the pass's history
    # says who closed it and what came back.
    figures_after = budget_figures(backoffice)
    moved = {c: {k: figures_after[c][k] - figures_before[c][k] for k in figures_after[c]}
             for c in ("general", "sport")}
    assert moved["general"] == {"credited_cents": 0, "spent_cents": 0, "expired_cents": 3000,
                                "reserved_cents": -400, "available_cents": -2600}, moved
    assert moved["sport"] == {"credited_cents": 0, "spent_cents": 0, "expired_cents": 1400,
                              "reserved_cents": 0, "available_cents": -1400}, moved
    history = backoffice.get("/api/v1/passes/%s/history" % pass_id)
    assert history.status_code == 200, history.text
    line = history.json()["entries"][0]
    assert line["action"] == "pass_closed", line
    assert line["actor"]["role"] == "backoffice"
    assert line["details"] == {"returned_cents": 4400, "vouchers_cancelled": 1}

    # The beneficiary is told once, in French, that the pass is closed.
    def closed_mails():
        return [m for m in world.mails(beneficiary["email"]) if m["kind"] == "pass_closed"]
    mail = wait_until(closed_mails, "the close's e-mail")[0]
    assert mail["subject"] == "Votre Pass solidarité est fermé", mail["subject"]
    assert "Votre pass a été fermé le " in mail["text"]
    assert "Son solde, 44,00" in mail["text"] and "rendu au budget de la ville" in mail["text"]
    assert "Votre bon d'échange en cours a été annulé." in mail["text"]
    assert "ne permet plus de payer un partenaire" in mail["text"]

    # The same key answers the same close; another key finds it closed.
    again = close(backoffice, pass_id, {"reason": "Déménagement hors de la commune"}, key=key)
    assert again.status_code == 200 and again.json() == closed, again.text
    expect_error(close(backoffice, pass_id), 409, "pass_closed")
    # The same key with another body is another request.
    expect_error(close(backoffice, pass_id, {"reason": "autre"}, key=key), 409,
                 "idempotency_conflict")
    assert len(closed_mails()) == 1


def test_a_closed_pass_can_no_longer_pay_be_credited_or_use_vouchers(world, backoffice, partners):
    beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 3000})
    pass_id = beneficiary["pass_id"]
    api = world.login(beneficiary["email"], beneficiary["password"])
    voucher = issue(api, 300)
    assert close(backoffice, pass_id).status_code == 200
    expect_error(world.pay(api, partners["sport"]["partner_code"], 100), 409, "pass_closed")
    expect_error(world.credit(backoffice, pass_id, "general", 1000), 409, "pass_closed")
    refused = api.post("/api/v1/pass/vouchers", {"amount_cents": 100}, key=new_key())
    expect_error(refused, 409, "pass_closed")
    refused = backoffice.post("/api/v1/passes/%s/vouchers" % pass_id, {"amount_cents": 100},
                              key=new_key())
    expect_error(refused, 409, "pass_closed")
    # The voucher issued before was cancelled by the close: a partner cannot redeem it.
    partner_api = world.login(partners["sport"]["admin_email"], partners["sport"]["admin_password"])
    redeemed = partner_api.post("/api/v1/partner/vouchers/redeem", {"number": voucher["number"]},
                                key=new_key())
    expect_error(redeemed, 409, "voucher_cancelled")
    assert world.pass_of(api)["balance_cents"] == 0
    assert ledger_sum(world) == 0


def test_earlier_payments_cancel_to_the_budget_and_refund_as_before(world, backoffice):
    partner, admin, beneficiary, api = fresh_partner_and_pass(world, backoffice,
                                                              {"general": 5000})
    cancelled_id = pay(world, api, partner, 1200)
    refunded_id = pay(world, api, partner, 700)
    assert close(backoffice, beneficiary["pass_id"]).status_code == 200
    wait_until(lambda: projection_caught_up(world), "the projection at rest")
    budget_before = balance(world, "budget")
    figures_before = budget_figures(backoffice)

    answer = cancel(admin, cancelled_id)
    assert answer.status_code == 200, answer.text
    assert answer.json()["returned_to"] == "budget"
    assert world.pass_of(api)["balance_cents"] == 0
    wait_until(lambda: projection_caught_up(world), "the projection at rest")
    assert balance(world, "budget") == budget_before + 1200
    assert balance(world, "pass:%s:general" % beneficiary["pass_id"]) == 0

    request = requested(admin, [refunded_id])
    assert request["status"] == "pending" and request["total_cents"] == 700
    assert ledger_sum(world) == 0
    # The cancellation's e-mail says the amount could not come back to the pass.
    mail = wait_until(lambda: [m for m in world.mails(beneficiary["email"])
                               if m["kind"] == "operation_cancelled"], "the cancellation's e-mail")[0]
    assert "ou votre pass a été fermé" in mail["text"], mail["text"]


def test_who_may_close_and_what_is_refused(world, backoffice, partners):
    beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 1000})
    pass_id = beneficiary["pass_id"]
    api = world.login(beneficiary["email"], beneficiary["password"])
    partner_api = world.login(partners["sport"]["admin_email"], partners["sport"]["admin_password"])
    expect_error(close(api, pass_id), 403, "forbidden")
    expect_error(close(partner_api, pass_id), 403, "forbidden")
    _, finance = new_staff(world, backoffice, "finance")
    expect_error(close(finance, pass_id), 403, "forbidden")
    finance.close()
    expect_error(close(world.anonymous(), pass_id), 401, "unauthenticated")
    expect_error(close(backoffice, str(uuid.uuid4())), 404, "pass_not_found")
    expect_error(close(backoffice, "not-a-uuid"), 404, "pass_not_found")
    expect_error(backoffice.post(CLOSE % pass_id, {}), 428, "idempotency_key_required")
    expect_error(close(backoffice, pass_id, {"reason": "x" * 201}), 400, "invalid_value",
                 "reason")
    expect_error(close(backoffice, pass_id, {"reason": "a\nb"}), 400, "invalid_value", "reason")
    expect_error(close(backoffice, pass_id, {"reason": 3}), 400, "invalid_type", "reason")
    expect_error(close(backoffice, pass_id, {"why": "x"}), 400, "unknown_field")
    assert world.pass_of(api)["status"] == "open"
    assert close(backoffice, pass_id, {"reason": "é" * 200}).status_code == 200


def test_audit_and_replay_stay_exact_with_closes(world, backoffice, partners):
    partner, admin, beneficiary, api = fresh_partner_and_pass(world, backoffice,
                                                              {"general": 4000})
    operation_id = pay(world, api, partner, 900)
    issue(api, 600)
    assert close(backoffice, beneficiary["pass_id"], {"reason": "départ"}).status_code == 200
    assert cancel(admin, operation_id).status_code == 200
    wait_until(lambda: audit(world.stack).returncode == 0, "the audit passes", timeout_s=60)
    done = audit(world.stack)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok balances sum to zero" in done.stdout
    assert "ok passes match the ledger" in done.stdout
    live = quiet_checksums(world.stack)
    rebuilt = replay(world.stack)
    assert rebuilt.returncode == 0, rebuilt.stderr
    tables, everything = replay_lines(rebuilt)
    for name, (shadow, before, verdict) in tables.items():
        assert shadow == live[name] and verdict == "same", rebuilt.stdout
    assert everything == live["all"]
    rows = world.sql_rows("SELECT closed_at IS NOT NULL FROM passes WHERE pass_id = '%s'"
                          % beneficiary["pass_id"])
    assert rows == [["t"]], rows
