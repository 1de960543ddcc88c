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

from solipass_api import expect_error, new_key, wait_until

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
