"""Finance staff (D4): the ledger events they need appear on
solipass.finance.v1 (protobuf, decoded here with solipass-log) and on its JSON
twin solipass.finance.json.v1, keyed by the partner; refund requests mail
their partner; a SEPA credit transfer file (pain.001.001.03) pays pending
requests and passes the schema (xmllint)."""

import datetime
import json
import os
import subprocess
import uuid

from solipass_api import all_pages, expect_error, new_key, wait_until

TOPIC_FINANCE = "solipass.finance.v1"
TOPIC_FINANCE_JSON = "solipass.finance.json.v1"
FINANCE_PARTITIONS = 4
LOG = "tools/log/solipass-log"


def finance_json(world, partner_id):
    """Every JSON finance event keyed by this partner, in topic order."""
    found = []
    for partition in range(FINANCE_PARTITIONS):
        out = world.kcat(["-C", "-t", TOPIC_FINANCE_JSON, "-p", str(partition), "-o", "beginning",
                          "-e", "-f", "%k\t%s\n"])
        for line in out.decode().splitlines():
            key, _, value = line.partition("\t")
            if key == partner_id:
                found.append(json.loads(value))
    return found


def finance_protobuf(world, partner_id):
    """Every protobuf finance event of this partner, as solipass-log decodes it."""
    stack = world.stack
    env = {k: v for k, v in os.environ.items() if not k.startswith("SP_")}
    env.update(stack.extra_env)
    env["SP_KAFKA_BROKERS"] = stack.kafka_brokers
    done = subprocess.run([os.path.join(stack.build_dir, LOG), "tail", TOPIC_FINANCE,
                           "--from-beginning", "--aggregate", partner_id, "--max", "10000"],
                          env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [json.loads(line)["envelope"] for line in done.stdout.splitlines()]


def wait_for_finance(world, partner_id, predicate, what):
    def found():
        events = [e for e in finance_json(world, partner_id) if predicate(e)]
        return events or None
    return wait_until(found, what, timeout_s=60)


def test_payment_and_its_cancellation_reach_finance(world, backoffice):
    partner = world.create_partner(backoffice, category="sport")
    beneficiary = world.create_beneficiary(backoffice, credits={"general": 5000})
    api = world.login(beneficiary["email"], beneficiary["password"])
    paid = world.pay(api, partner["partner_code"], 1234)
    assert paid.status_code == 201, paid.text
    operation_id = paid.json()["operation_id"]

    accepted = wait_for_finance(world, partner["partner_id"],
                                lambda e: e["type"] == "payment_accepted",
                                "the payment on the finance JSON topic")
    assert len(accepted) == 1, accepted
    event = accepted[0]
    assert event["partner_id"] == partner["partner_id"]
    assert event["amount_cents"] == 1234 and event["amount_eur"] == "12.34"
    assert event["ledger_type"] == "ledger.PaymentAccepted.v1"
    assert event["payment_accepted"] == {"operation_id": operation_id, "channel": "code",
                                         "partner_code": partner["partner_code"],
                                         "voucher_id": "", "amount_cents": 1234}

    admin = world.login(partner["admin_email"], partner["admin_password"])
    cancelled = admin.post("/api/v1/partner/operations/%s/cancel" % operation_id, key=new_key())
    assert cancelled.status_code == 200, cancelled.text
    wait_for_finance(world, partner["partner_id"], lambda e: e["type"] == "operation_cancelled",
                     "the cancellation on the finance JSON topic")

    # The protobuf topic holds the same events under the same ids and key.
    decoded = wait_until(lambda: (lambda found: found if len(found) >= 2 else None)(
                             finance_protobuf(world, partner["partner_id"])),
                         "two protobuf finance events", timeout_s=60)
    assert [m["type"] for m in decoded] == ["finance.FinanceEvent.v1"] * 2
    payloads = [m["payload"] for m in decoded]
    assert payloads[0]["event_id"] == event["event_id"]
    assert payloads[0]["payment_accepted"]["amount_cents"] == 1234
    assert payloads[1]["type"] == "operation_cancelled"
    assert payloads[1]["operation_cancelled"]["operation_id"] == operation_id


def test_a_killed_finance_service_loses_nothing(world, backoffice):
    """Payments made while the service is down (killed, offsets not committed
    for what it was doing) reach the finance topics once it is back; a
    reader deduping by event_id sees each once."""
    partner = world.create_partner(backoffice)
    beneficiary = world.create_beneficiary(backoffice, credits={"general": 5000})
    api = world.login(beneficiary["email"], beneficiary["password"])
    before = world.pay(api, partner["partner_code"], 101)
    assert before.status_code == 201, before.text
    wait_for_finance(world, partner["partner_id"], lambda e: e["type"] == "payment_accepted",
                     "the first payment")
    world.stack.kill("finance")
    operation_ids = {before.json()["operation_id"]}
    for cents in (202, 303):
        paid = world.pay(api, partner["partner_code"], cents)
        assert paid.status_code == 201, paid.text
        operation_ids.add(paid.json()["operation_id"])
    world.stack.start_service("finance")
    events = wait_until(lambda: (lambda found: found if len(found) >= 3 else None)(
                            finance_json(world, partner["partner_id"])),
                        "the three payments after the restart", timeout_s=90)
    by_id = {e["event_id"]: e for e in events}
    assert len(by_id) == 3
    assert {e["payment_accepted"]["operation_id"] for e in by_id.values()} == operation_ids
    assert sorted(e["amount_cents"] for e in by_id.values()) == [101, 202, 303]


# ---------------------------------------------------------------- SEPA file: refusals

SEPA = "/api/v1/finance/sepa"


def sepa(api, request_ids, execution_date=None, world=None):
    date = execution_date or (world.paris_today() + datetime.timedelta(days=1)).isoformat()
    return api.post(SEPA, {"request_ids": request_ids, "execution_date": date})


def test_sepa_file_refusals(world, backoffice):
    expect_error(sepa(backoffice, [], world=world), 422, "no_requests", "request_ids")
    too_many = [str(uuid.uuid4()) for _ in range(301)]
    expect_error(sepa(backoffice, too_many, world=world), 422, "too_many_requests", "request_ids")
    unknown = str(uuid.uuid4())
    answer = sepa(backoffice, [unknown], world=world)
    expect_error(answer, 404, "refund_request_not_found", "request_ids")
    assert unknown in answer.json()["message"]
    expect_error(sepa(backoffice, ["not-an-id"], world=world), 400, "invalid_value", "request_ids")
    expect_error(sepa(backoffice, [unknown, unknown], world=world), 400, "invalid_value",
                 "request_ids")
    yesterday = (world.paris_today() - datetime.timedelta(days=1)).isoformat()
    expect_error(sepa(backoffice, [unknown], yesterday), 422, "invalid_date", "execution_date")
    partner = world.create_partner(backoffice)
    admin = world.login(partner["admin_email"], partner["admin_password"])
    expect_error(sepa(admin, [unknown], world=world), 403, "forbidden")


# ---------------------------------------------------------------- refund requests end to end

REFUNDS = "/api/v1/partner/refund-requests"
XSD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pain.001.001.03.subset.xsd")
BANK = {"legal_name": "Association Judo Élan", "public_name": "Judo Élan",
        "description": "", "website": "", "social_links": [], "hq_address": "1 rue du Stade",
        "activity_address": "", "contact_phone": "+33 1 23 45 67 89",
        "contact_email": "judo@example.org", "iban": "FR76 3000 6000 0112 3456 7890 189",
        "bic": "bnpafrpp", "bank_holder": "Judo Élan & Co"}


def partner_with_payments(world, backoffice, amounts, bank=True):
    partner = world.create_partner(backoffice)
    admin = world.login(partner["admin_email"], partner["admin_password"])
    if bank:
        answer = admin.request("PUT", "/api/v1/partner/structure", body=BANK)
        assert answer.status_code == 200, answer.text
    beneficiary = world.create_beneficiary(backoffice, credits={"general": 100000})
    api = world.login(beneficiary["email"], beneficiary["password"])
    operation_ids = []
    for cents in amounts:
        paid = world.pay(api, partner["partner_code"], cents)
        assert paid.status_code == 201, paid.text
        operation_ids.append(paid.json()["operation_id"])
    return partner, admin, operation_ids


def request_refund(admin, operation_ids):
    answer = admin.post(REFUNDS, {"operation_ids": operation_ids}, key=new_key())
    assert answer.status_code == 201, answer.text
    request = answer.json()
    assert request["status"] == "pending", request
    return request


def mail_of(world, partner, kind):
    mails = wait_until(lambda: [m for m in world.mails(partner["admin_email"]) if m["kind"] == kind]
                       or None, "a %s e-mail to %s" % (kind, partner["admin_email"]), timeout_s=60)
    assert len(mails) == 1, mails
    return mails[0]


def xmllint(xml_bytes, tmp_path):
    path = tmp_path / "transfer.xml"
    path.write_bytes(xml_bytes)
    return subprocess.run(["xmllint", "--noout", "--schema", XSD, str(path)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)


def test_refund_requests_reach_finance_mail_partners_and_are_paid_by_sepa(world, backoffice,
                                                                           tmp_path):
    judo, judo_admin, judo_ops = partner_with_payments(world, backoffice, [1000, 2345])
    club, club_admin, club_ops = partner_with_payments(world, backoffice, [505])
    bare, bare_admin, bare_ops = partner_with_payments(world, backoffice, [700], bank=False)
    judo_request = request_refund(judo_admin, judo_ops)
    club_request = request_refund(club_admin, club_ops)
    bare_request = request_refund(bare_admin, bare_ops)
    assert judo_request["total_cents"] == 3345 and bare_request["bank_account_missing"] is True

    # finance.v1 and its JSON twin: the pending request with its opening's facts.
    pending = wait_for_finance(world, judo["partner_id"],
                               lambda e: e["type"] == "refund_request_pending",
                               "the pending request on the finance JSON topic")[0]
    assert pending["amount_cents"] == 3345 and pending["amount_eur"] == "33.45"
    assert pending["refund_request_pending"] == {
        "request_id": judo_request["request_id"], "kind": "manual", "period": "",
        "total_cents": 3345, "operation_count": 2, "bank_account_missing": False}
    decoded = [m["payload"] for m in finance_protobuf(world, judo["partner_id"])
               if m["payload"]["type"] == "refund_request_pending"]
    assert len(decoded) == 1 and decoded[0]["event_id"] == pending["event_id"]
    assert decoded[0]["refund_request_pending"]["total_cents"] == 3345
    bare_pending = wait_for_finance(world, bare["partner_id"],
                                    lambda e: e["type"] == "refund_request_pending",
                                    "the request without bank details")[0]
    assert bare_pending["refund_request_pending"]["bank_account_missing"] is True

    # The partners' administrators are mailed.
    mail = mail_of(world, judo, "refund_requested")
    assert "33,45 €" in mail["subject"]
    assert judo_request["request_id"] in mail["text"] and "Opérations :  2" in mail["text"]
    assert "coordonnées bancaires" not in mail["text"]
    assert "coordonnées bancaires" in mail_of(world, bare, "refund_requested")["text"]

    # The SEPA file of the two payable requests; the one without IBAN is refused by name.
    refused = sepa(backoffice, [judo_request["request_id"], bare_request["request_id"]],
                   world=world)
    expect_error(refused, 409, "bank_account_missing", "request_ids")
    assert bare_request["request_id"] in refused.json()["message"]
    answer = sepa(backoffice, [judo_request["request_id"], club_request["request_id"]],
                  world=world)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("application/xml")
    assert answer.headers["Content-Disposition"].startswith("attachment; filename=\"sepa-")
    xml = answer.text
    assert xml.count("<NbOfTxs>2</NbOfTxs>") == 2
    assert xml.count("<CtrlSum>38.50</CtrlSum>") == 2          # 33.45 + 5.05
    assert '<InstdAmt Ccy="EUR">33.45</InstdAmt>' in xml
    assert "<Nm>Judo Elan + Co</Nm>" in xml
    assert "<EndToEndId>%s</EndToEndId>" % judo_request["request_id"].replace("-", "") in xml
    checked = xmllint(answer.content, tmp_path)
    assert checked.returncode == 0, checked.stderr

    # Marked paid: the paid event on finance.v1 and the e-mail.
    paid_on = world.paris_today().isoformat()
    marked = backoffice.post("/api/v1/finance/refund-requests/%s/paid" % judo_request["request_id"],
                             {"transfer_reference": "VIR-2026-0042", "paid_on": paid_on},
                             key=new_key())
    assert marked.status_code == 200, marked.text
    paid = wait_for_finance(world, judo["partner_id"], lambda e: e["type"] == "refund_request_paid",
                            "the paid request on the finance JSON topic")[0]
    assert paid["refund_request_paid"] == {"request_id": judo_request["request_id"],
                                           "transfer_reference": "VIR-2026-0042",
                                           "paid_on": paid_on, "total_cents": 3345}
    mail = mail_of(world, judo, "refund_paid")
    assert "VIR-2026-0042" in mail["text"] and "33,45 €" in mail["text"]
    assert world.paris_today().strftime("%d/%m/%Y") in mail["text"]
    again = sepa(backoffice, [judo_request["request_id"]], world=world)
    expect_error(again, 409, "refund_request_not_pending", "request_ids")


def test_a_request_is_paid_to_the_bank_details_of_when_it_was_made(world, backoffice, tmp_path):
    """Whoever changes a partner's IBAN after a refund request was made (a
    stolen partner account, say) does not redirect that request's money;
    a request made without bank details is paid to the ones given since."""
    partner, admin, ops = partner_with_payments(world, backoffice, [700, 800])
    before = request_refund(admin, [ops[0]])
    other_bank = dict(BANK, iban="DE89 3704 0044 0532 0130 00", bic="COBADEFFXXX",
                      bank_holder="Someone Else")
    changed = admin.request("PUT", "/api/v1/partner/structure", body=other_bank)
    assert changed.status_code == 200, changed.text
    after = request_refund(admin, [ops[1]])

    answer = sepa(backoffice, [before["request_id"], after["request_id"]], world=world)
    assert answer.status_code == 200, answer.text
    xml = answer.text
    first = xml.index(before["request_id"].replace("-", ""))
    second = xml.index(after["request_id"].replace("-", ""))
    block_before = xml[first:second] if first < second else xml[first:]
    block_after = xml[second:first] if second < first else xml[second:]
    assert "FR7630006000011234567890189" in block_before and "BNPAFRPP" in block_before
    assert "Judo Elan + Co" in block_before and "DE89" not in block_before
    assert "DE89370400440532013000" in block_after and "COBADEFFXXX" in block_after
    assert "Someone Else" in block_after
    assert xmllint(answer.content, tmp_path).returncode == 0

    bare, bare_admin, bare_ops = partner_with_payments(world, backoffice, [900], bank=False)
    flagged = request_refund(bare_admin, bare_ops)
    assert flagged["bank_account_missing"] is True
    expect_error(sepa(backoffice, [flagged["request_id"]], world=world), 409,
                 "bank_account_missing", "request_ids")
    given = bare_admin.request("PUT", "/api/v1/partner/structure", body=BANK)
    assert given.status_code == 200, given.text
    paid_later = sepa(backoffice, [flagged["request_id"]], world=world)
    assert paid_later.status_code == 200, paid_later.text
    assert "FR7630006000011234567890189" in paid_later.text


def owed_pages(api, limit):
    """Every partner GET /api/v1/finance/owed lists, page by page; the last totals."""
    partners, last = all_pages(api, "/api/v1/finance/owed", "partners", limit)
    return partners, last["totals"]


def test_finance_reads_partner_names_and_what_is_owed_to_whom(world, backoffice):
    from test_staff_users import new_staff
    judo, judo_admin, judo_ops = partner_with_payments(world, backoffice, [1200, 300])
    bare, _, _ = partner_with_payments(world, backoffice, [450], bank=False)
    judo_request = request_refund(judo_admin, judo_ops[:1])
    name_of = lambda p: world.sql("SELECT name FROM partners WHERE partner_id = '%s'" % p["partner_id"])
    _, finance = new_staff(world, backoffice, "finance")
    try:
        assert finance.get("/api/v1/partners").status_code == 403
        listed = finance.get("/api/v1/finance/refund-requests?partner_id=%s" % judo["partner_id"])
        assert listed.status_code == 200, listed.text
        assert [r["partner_name"] for r in listed.json()["refund_requests"]] == [name_of(judo)]
        one = finance.get("/api/v1/finance/refund-requests/%s" % judo_request["request_id"])
        assert one.status_code == 200 and one.json()["partner_name"] == name_of(judo)
        assert judo_admin.get(REFUNDS).json()["refund_requests"][0]["partner_name"] == name_of(judo)

        # Every partner owed, most owed first, page by page, with the totals of all.
        partners, totals = owed_pages(finance, 2)
        by_id = {p["partner_id"]: p for p in partners}
        assert len(by_id) == len(partners) == totals["partner_count"]
        owed = [p["owed_cents"] for p in partners]
        assert owed == sorted(owed, reverse=True) and min(owed) > 0
        assert totals["owed_cents"] == sum(owed) == int(world.sql(
            "SELECT coalesce(sum(owed_cents), 0) FROM partners WHERE owed_cents > 0"))
        assert by_id[judo["partner_id"]] == {
            "partner_id": judo["partner_id"], "name": name_of(judo), "owed_cents": 1500,
            "requested_cents": 1200, "bank_details_missing": False}
        assert by_id[bare["partner_id"]] == {
            "partner_id": bare["partner_id"], "name": name_of(bare), "owed_cents": 450,
            "requested_cents": 0, "bank_details_missing": True}
        assert owed_pages(backoffice, 200)[0] == partners

        expect_error(finance.get("/api/v1/finance/owed?limit=0"), 400, "invalid_value", "limit")
        expect_error(finance.get("/api/v1/finance/owed?cursor=nope"), 400, "invalid_value", "cursor")
        expect_error(finance.get("/api/v1/finance/owed?partner=x"), 400, "unknown_field")
        assert judo_admin.get("/api/v1/finance/owed").status_code == 403
    finally:
        finance.close()
