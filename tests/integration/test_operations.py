"""P14, P15, P17: a partner's operations. The partner lists its payments
with filters and totals, gives one an internal reference, and cancels one:
the amount returns to the pass (or to the budget when the envelope has
expired since), what the city owes the partner drops by as much, the
beneficiary is mailed once, and the ledger still sums to zero. A cancelled payment never changes again; another
partner's payment is not found. A rebuilt projection equals the live one."""

import datetime
import time

from solipass_api import DAY_MS, expect_error, new_key, unique_email, wait_until
from test_invariants import checksum, projection_caught_up
from test_structure_users import activate, add_user

OPERATIONS = "/api/v1/partner/operations"


def ledger_sum(world):
    return int(world.sql("SELECT coalesce(sum(balance_cents), 0) FROM ledger_balances"))


def owed_cents(admin):
    answer = admin.get("/api/v1/partner")
    assert answer.status_code == 200, answer.text
    return answer.json()["owed_cents"]


def fresh_partner_and_pass(world, backoffice, credits=None, envelopes=(("general", None),)):
    """A fresh partner (so its listing holds only this test's payments), its
    admin, and a beneficiary's pass."""
    partner = world.create_partner(backoffice, "sport")
    admin = world.login(partner["admin_email"], partner["admin_password"])
    beneficiary = world.create_beneficiary(backoffice, envelopes, credits or {"general": 5000})
    api = world.login(beneficiary["email"], beneficiary["password"])
    return partner, admin, beneficiary, api


def pay(world, api, partner, amount_cents):
    answer = world.pay(api, partner["partner_code"], amount_cents)
    assert answer.status_code == 201, answer.text
    return answer.json()["operation_id"]


def cancel(admin, operation_id, key=None):
    return admin.post("%s/%s/cancel" % (OPERATIONS, operation_id), key=key or new_key())


def set_reference(admin, operation_id, reference, key=None):
    return admin.request("PUT", "%s/%s/reference" % (OPERATIONS, operation_id),
                         body={"reference": reference}, key=key)


def cancel_mails(world, beneficiary):
    return [m for m in world.mails(beneficiary["email"]) if m["kind"] == "operation_cancelled"]


def listing(admin, query=""):
    answer = admin.get(OPERATIONS + query)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_cancel_returns_the_money_once(world, backoffice):
    partner, admin, beneficiary, api = fresh_partner_and_pass(world, backoffice)
    owed_before = owed_cents(admin)
    operation_id = pay(world, api, partner, 1200)
    assert world.pass_of(api)["balance_cents"] == 3800
    assert owed_cents(admin) == owed_before + 1200
    listed = listing(admin)["operations"][0]
    assert listed["operation_id"] == operation_id and listed["status"] == "accepted"
    assert listed["cancellable"] is True and "cancellable_reason" not in listed
    assert listed["reference"] == ""

    key = new_key()
    cancelled = cancel(admin, operation_id, key)
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["operation_id"] == operation_id and body["status"] == "cancelled"
    assert body["amount_cents"] == 1200 and body["returned_to"] == "envelope"
    assert body["pass_ref"] == beneficiary["pass_id"][-4:] and "pass_id" not in body
    # The money is back exactly where it came from.
    assert world.pass_of(api)["balance_cents"] == 5000
    assert world.envelope(world.pass_of(api), "general")["balance_cents"] == 5000
    assert owed_cents(admin) == owed_before
    assert ledger_sum(world) == 0
    listed = listing(admin)["operations"][0]
    assert listed["status"] == "cancelled" and listed["cancellable"] is False
    assert listed["cancellable_reason"] == "operation_cancelled"
    mine = [o for o in world.operations(api) if o["operation_id"] == operation_id]
    assert len(mine) == 1 and mine[0]["status"] == "cancelled"

    # Same key: the first outcome again. Another key: refused, nothing moves.
    again = cancel(admin, operation_id, key)
    assert again.status_code == 200 and again.json() == body
    expect_error(cancel(admin, operation_id), 409, "operation_cancelled")
    expect_error(set_reference(admin, operation_id, "late"), 409, "operation_cancelled")
    assert world.pass_of(api)["balance_cents"] == 5000
    assert owed_cents(admin) == owed_before
    assert ledger_sum(world) == 0


def test_another_partners_operation_is_not_found(world, backoffice):
    partner, admin, _, api = fresh_partner_and_pass(world, backoffice)
    operation_id = pay(world, api, partner, 300)
    other = world.create_partner(backoffice, "culture")
    intruder = world.login(other["admin_email"], other["admin_password"])
    expect_error(cancel(intruder, operation_id), 404, "operation_not_found", "operation_id")
    expect_error(set_reference(intruder, operation_id, "mine"), 404, "operation_not_found")
    expect_error(cancel(admin, "00000000-0000-4000-8000-000000000000"), 404,
                 "operation_not_found")
    expect_error(cancel(admin, "not-a-uuid"), 404, "operation_not_found")
    expect_error(admin.post("%s/%s/cancel" % (OPERATIONS, operation_id)), 428,
                 "idempotency_key_required")
    # A beneficiary is no partner.
    assert cancel(api, operation_id).status_code == 403
    assert world.pass_of(api)["balance_cents"] == 4700
    assert listing(admin)["operations"][0]["status"] == "accepted"


def test_a_partner_user_references_and_cancels_too(world, backoffice, partners):
    partner, admin, _, api = fresh_partner_and_pass(world, backoffice)
    operation_id = pay(world, api, partner, 450)
    email = unique_email("cashier")
    assert add_user(admin, email).status_code == 201
    cashier = activate(world, email)
    assert set_reference(cashier, operation_id, "Caisse 2").status_code == 200
    key = new_key()
    first = cancel(cashier, operation_id, key)
    assert first.status_code == 200, first.text
    again = cancel(cashier, operation_id, key)
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json() == first.json()
    assert world.pass_of(api)["balance_cents"] == 5000
    listed = listing(admin, "?reference=Caisse+2")
    assert listed["totals"] == {"count": 1, "amount_cents": 450}
    assert listed["operations"][0]["status"] == "cancelled"
    # The shared partners' listings know nothing of it.
    other = world.login(partners["sport"]["admin_email"], partners["sport"]["admin_password"])
    assert listing(other, "?reference=Caisse+2")["totals"]["count"] == 0


def test_reference_filters_and_totals(world, backoffice):
    partner, admin, _, api = fresh_partner_and_pass(world, backoffice)
    first = pay(world, api, partner, 300)
    second = pay(world, api, partner, 700)
    third = pay(world, api, partner, 1100)

    answer = set_reference(admin, first, "Facture 100%")
    assert answer.status_code == 200, answer.text
    assert answer.json()["reference"] == "Facture 100%"
    assert set_reference(admin, second, "Facture 1000", key=new_key()).status_code == 200
    assert set_reference(admin, third, "brouillon").status_code == 200
    assert set_reference(admin, third, "").status_code == 200   # cleared
    expect_error(set_reference(admin, first, "x" * 101), 400, "invalid_value", "reference")
    expect_error(set_reference(admin, first, "a\nb"), 400, "invalid_value", "reference")
    assert set_reference(admin, first, "é" * 100).status_code == 200
    assert set_reference(admin, first, "Facture 100%").status_code == 200

    def ids(query):
        page = listing(admin, query)
        return [o["operation_id"] for o in page["operations"]], page["totals"]

    everything, totals = ids("")
    assert everything == [third, second, first]     # newest first
    assert totals == {"count": 3, "amount_cents": 2100}
    by_id = {o["operation_id"]: o for o in listing(admin)["operations"]}
    assert by_id[first]["reference"] == "Facture 100%" and by_id[third]["reference"] == ""
    # q is plain text: % and _ are no wildcards, case does not matter.
    assert ids("?q=100%25") == ([first], {"count": 1, "amount_cents": 300})
    assert ids("?q=FACTURE")[0] == [second, first]
    assert ids("?q=_")[0] == []
    assert ids("?reference=Facture+1000")[0] == [second]
    assert ids("?reference=Facture")[0] == []
    assert ids("?amount_min_cents=500")[0] == [third, second]
    assert ids("?amount_max_cents=700&amount_min_cents=700")[0] == [second]
    assert ids("?channel=voucher") == ([], {"count": 0, "amount_cents": 0})
    assert ids("?channel=code")[0] == [third, second, first]
    today = world.paris_today()
    tomorrow = today + datetime.timedelta(days=1)
    assert ids("?from=%s&to=%s" % (today, today))[0] == [third, second, first]
    assert ids("?from=%s" % tomorrow)[0] == []
    assert ids("?to=%s" % (today - datetime.timedelta(days=1)))[0] == []

    assert cancel(admin, third).status_code == 200
    assert ids("?status=cancelled") == ([third], {"count": 1, "amount_cents": 1100})
    assert ids("?status=accepted")[1] == {"count": 2, "amount_cents": 1000}

    # Paging keeps the filter; the totals are the whole filter's.
    page = listing(admin, "?status=accepted&limit=1")
    assert [o["operation_id"] for o in page["operations"]] == [second]
    assert page["totals"] == {"count": 2, "amount_cents": 1000} and page["next_cursor"]
    rest = listing(admin, "?status=accepted&limit=1&cursor=" + page["next_cursor"])
    assert [o["operation_id"] for o in rest["operations"]] == [first]
    assert rest["next_cursor"] is None

    for query, field in (("?status=refunded", "status"), ("?channel=cash", "channel"),
                         ("?from=2026-13-01", "from"), ("?to=yesterday", "to"),
                         ("?amount_min_cents=-1", "amount_min_cents"),
                         ("?amount_max_cents=1.5", "amount_max_cents"),
                         ("?amount_min_cents=9&amount_max_cents=1", "amount_min_cents"),
                         ("?from=%s&to=%s" % (tomorrow, today), "from"),
                         ("?q=" + "x" * 101, "q"), ("?q=%0A", "q"),
                         ("?status=accepted&status=cancelled", "status"), ("?limit=0", "limit")):
        expect_error(admin.get(OPERATIONS + query), 400, "invalid_value", field)
    expect_error(admin.get(OPERATIONS + "?colour=red"), 400, "unknown_field", "colour")


def test_cancelling_a_voucher_redemption_returns_it_to_the_pass(world, backoffice):
    partner, admin, _, api = fresh_partner_and_pass(world, backoffice)
    issued = api.post("/api/v1/pass/vouchers", {"amount_cents": 800}, key=new_key())
    assert issued.status_code == 201, issued.text
    voucher = issued.json()
    redeemed = admin.post("/api/v1/partner/vouchers/redeem", {"number": voucher["number"]},
                          key=new_key())
    assert redeemed.status_code == 201, redeemed.text
    operation_id = redeemed.json()["operation_id"]
    owed_before = owed_cents(admin)
    assert world.pass_of(api)["balance_cents"] == 4200
    cancelled = cancel(admin, operation_id)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["channel"] == "voucher"
    assert cancelled.json()["returned_to"] == "envelope"
    # The amount is back on the pass; the voucher stays used.
    assert world.pass_of(api)["balance_cents"] == 5000
    assert owed_cents(admin) == owed_before - 800
    assert api.get("/api/v1/vouchers/%s" % voucher["voucher_id"]).json()["status"] == "redeemed"
    assert listing(admin, "?channel=voucher&status=cancelled")["totals"] == {
        "count": 1, "amount_cents": 800}
    assert ledger_sum(world) == 0


def test_cancel_after_the_envelope_expired_goes_to_the_budget(world, backoffice):
    today = world.paris_today()
    partner, admin, beneficiary, api = fresh_partner_and_pass(world, backoffice, {"general": 2000},
                                             (("general", str(today)),))
    operation_id = pay(world, api, partner, 600)
    world.advance_clock_ms(2 * DAY_MS)
    api = world.login(beneficiary["email"], beneficiary["password"])
    wait_until(lambda: world.envelope(world.pass_of(api), "general")["expired"],
               "the envelope to expire")
    assert world.pass_of(api)["balance_cents"] == 0
    admin = world.login(partner["admin_email"], partner["admin_password"])
    owed_before = owed_cents(admin)
    cancelled = cancel(admin, operation_id)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["returned_to"] == "budget"
    assert world.pass_of(api)["balance_cents"] == 0
    assert owed_cents(admin) == owed_before - 600
    assert ledger_sum(world) == 0
    # The beneficiary is told the amount could not come back to the pass.
    mail = wait_until(lambda: cancel_mails(world, beneficiary), "the cancellation's e-mail")[0]
    assert mail["subject"] == "Paiement annulé : 6,00 €"
    assert "n'a pas pu revenir sur votre pass" in mail["text"]
    assert "expiré" in mail["text"] and "de nouveau disponible" not in mail["text"]
    assert "Solde de votre pass : 0,00 €." in mail["text"]


def test_the_beneficiary_is_mailed_a_cancelled_payment_once(world, backoffice):
    partner, admin, beneficiary, api = fresh_partner_and_pass(world, backoffice)
    operation_id = pay(world, api, partner, 1250)
    assert cancel(admin, operation_id).status_code == 200
    mail = wait_until(lambda: cancel_mails(world, beneficiary), "the cancellation's e-mail")[0]
    assert mail["to"] == [beneficiary["email"].lower()]
    assert mail["subject"] == "Paiement annulé : 12,50 €"
    text = mail["text"]
    assert "%s a annulé un de vos paiements." % partner["name"] in text
    assert "Montant :     12,50 €" in text and "Annulé le :" in text
    assert "de nouveau disponible sur votre pass" in text
    assert "Solde de votre pass : 50,00 €." in text
    assert "<strong>50,00 €</strong>" in mail["html"]
    # The partner is not mailed the cancellation; a restarted service mails
    # nothing twice (a payment mailed after the restart shows it caught up).
    assert [m for m in world.mails(partner["admin_email"]) if m["kind"] == "operation_cancelled"] == []
    stack = world.stack
    stack.stop_service("notifications")
    stack.start_service("notifications")
    pay(world, api, partner, 100)
    wait_until(lambda: [m for m in world.mails(partner["admin_email"])
                        if m["subject"].startswith("Paiement reçu : 1,00 €")],
               "a payment's e-mail after the restart")
    time.sleep(2)
    assert len(cancel_mails(world, beneficiary)) == 1
    assert world.sql("SELECT count(*) FROM notification_mails WHERE kind = 'operation_cancelled'"
                     " AND params->>'operation_id' = '%s' AND status = 'sent'" % operation_id) == "1"


def test_rebuilt_projection_with_operations_equals_the_live_one(world, backoffice):
    partner, admin, _, api = fresh_partner_and_pass(world, backoffice)
    kept = pay(world, api, partner, 250)
    gone = pay(world, api, partner, 450)
    assert set_reference(admin, kept, "Ticket 42").status_code == 200
    assert cancel(admin, gone).status_code == 200
    stack = world.stack
    stack.stop_service("accounts")
    stack.stop_service("transactions")
    try:
        wait_until(lambda: projection_caught_up(world), "the projection to catch up", timeout_s=60)
        stack.stop_service("projection")
        live = checksum(world)
        rebuild = stack.run_tool("projection", ["--rebuild", "--exit-when-caught-up"],
                                 timeout_s=600)
        assert rebuild.returncode == 0, rebuild.stderr[-3000:]
        assert checksum(world) == live
    finally:
        for name in ("projection", "accounts", "transactions"):
            if not stack.is_running(name):
                stack.start_service(name)
    admin = world.login(partner["admin_email"], partner["admin_password"])
    page = listing(admin, "?q=ticket")
    assert [o["operation_id"] for o in page["operations"]] == [kept]
    assert listing(admin, "?status=cancelled")["totals"] == {"count": 1, "amount_cents": 450}
    # The ledger rebuilt its memory of the payments too: still cancelled.
    expect_error(cancel(admin, gone), 409, "operation_cancelled")
    assert cancel(admin, kept).status_code == 200
    assert ledger_sum(world) == 0
