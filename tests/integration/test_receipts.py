"""Payment receipts signed by the ledger (docs/api.md, Receipts): a payment
answers its receipt, anyone verifies it with the published key (a partner who
is not the payee too), one byte changed is refused, a cancellation since is
said, the history shows the same receipt, the QR code carries it, and a
projection rebuilt from the log keeps the very same receipt."""

import base64

from solipass_api import new_key, wait_until

VERIFY = "/api/v1/receipts/verify"


def paid_receipt(world, backoffice, partner, amount_cents):
    beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 5000})
    api = world.login(beneficiary["email"], beneficiary["password"])
    answer = world.pay(api, partner["partner_code"], amount_cents)
    assert answer.status_code == 201, answer.text
    return api, beneficiary, answer.json()


def verify(api, receipt):
    answer = api.post(VERIFY, {"receipt": receipt})
    assert answer.status_code == 200, answer.text
    return answer.json()


def one_byte_changed(receipt, index):
    chars = list(receipt)
    chars[index] = "B" if chars[index] == "A" else "A"
    return "".join(chars)


def test_a_payment_receipt_verifies_for_anyone_and_a_changed_one_does_not(world, backoffice,
                                                                         partners):
    api, beneficiary, payment = paid_receipt(world, backoffice, partners["sport"], 1234)
    receipt = payment["receipt"]
    assert receipt.startswith("SPR1.") and len(receipt) < 300
    assert beneficiary["pass_id"][-4:] in base64.urlsafe_b64decode(
        receipt.split(".")[1] + "==").decode("latin-1")

    keys = world.anonymous().get("/api/v1/receipts/keys")
    assert keys.status_code == 200, keys.text
    current = [k for k in keys.json()["keys"] if k["current"]]
    assert len(current) == 1 and current[0]["algorithm"] == "Ed25519"

    # No session at all: a controller, a shop, anyone.
    checked = verify(world.anonymous(), receipt)
    assert checked["valid"] is True
    assert checked["operation_id"] == payment["operation_id"]
    assert checked["amount_cents"] == 1234
    assert checked["partner_id"] == partners["sport"]["partner_id"]
    assert checked["partner_name"] == "Club de football de Fontenay"
    assert checked["occurred_at"] == payment["occurred_at"]
    assert checked["key_id"] == current[0]["key_id"]
    assert checked["known"] is True and checked["status"] == "accepted"

    # Another partner, not the payee, verifies it the same way.
    other = world.login(partners["culture"]["admin_email"], partners["culture"]["admin_password"])
    assert verify(other, receipt)["valid"] is True

    for index in (5, 30, len(receipt) - 20):
        changed = verify(other, one_byte_changed(receipt, index))
        assert changed["valid"] is False and changed["reason"], changed
    assert verify(other, "SPR2" + receipt[4:])["reason"] == "wrong_version"
    too_long = verify(other, receipt + "A" * 200)
    assert too_long["valid"] is False and too_long["reason"] == "too_long"
    assert other.post(VERIFY, {"receipt": "x" * 5000}).status_code == 400
    assert other.post(VERIFY, {}).status_code == 400

    # The history shows the same receipt; its QR code is drawn for it only.
    def listed():
        ops = [o for o in world.operations(api) if o["operation_id"] == payment["operation_id"]]
        return ops[0] if ops else None
    wait_until(listed, "the payment in the pass's history")
    assert listed()["receipt"] == receipt
    qr = world.anonymous().get("/api/v1/receipts/qr.svg?r=" + receipt)
    assert qr.status_code == 200 and qr.headers["Content-Type"].startswith("image/svg+xml")
    assert "<svg" in qr.text
    forged = world.anonymous().get("/api/v1/receipts/qr.svg?r=" + one_byte_changed(receipt, 30))
    assert forged.status_code == 422
    other.close()
    api.close()


def test_a_cancelled_payment_is_said_cancelled(world, backoffice, partners):
    api, _, payment = paid_receipt(world, backoffice, partners["culture"], 500)
    admin = world.login(partners["culture"]["admin_email"], partners["culture"]["admin_password"])
    cancelled = admin.post("/api/v1/partner/operations/%s/cancel" % payment["operation_id"],
                           key=new_key())
    assert cancelled.status_code == 200, cancelled.text
    wait_until(lambda: verify(admin, payment["receipt"])["status"] == "cancelled",
               "the cancellation in the verification")
    assert verify(admin, payment["receipt"])["valid"] is True
    admin.close()
    api.close()


def test_z_a_rebuilt_projection_keeps_the_same_receipt(world, backoffice, partners):
    from test_invariants import projection_caught_up
    api, _, payment = paid_receipt(world, backoffice, partners["sport"], 321)
    receipt = payment["receipt"]
    stack = world.stack
    stack.stop_service("transactions")
    try:
        wait_until(lambda: projection_caught_up(world), "the projection to catch up", timeout_s=60)
        stack.stop_service("projection")
        before = world.sql_rows("SELECT receipt FROM operations WHERE operation_id = '%s'"
                                % payment["operation_id"])
        assert before == [(receipt,)] or before == [[receipt]]
        rebuild = stack.run_tool("projection", ["--rebuild", "--exit-when-caught-up"], timeout_s=600)
        assert rebuild.returncode == 0, rebuild.stderr[-3000:]
        after = world.sql_rows("SELECT receipt FROM operations WHERE operation_id = '%s'"
                               % payment["operation_id"])
        assert after == before
    finally:
        for name in ("projection", "transactions"):
            if not stack.is_running(name):
                stack.start_service(name)
    ops = [o for o in world.operations(api) if o["operation_id"] == payment["operation_id"]]
    assert ops[0]["receipt"] == receipt
    assert verify(world.anonymous(), receipt)["valid"] is True
    api.close()
