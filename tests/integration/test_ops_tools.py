"""The operators' tools against the shared stack: solipass-audit proves the
ledger from its log and finds a read-model row that differs from it;
solipass-log shows the ledger events and the dead letters as JSON lines."""

import json
import os
import subprocess
import uuid

from solipass_api import (TOPIC_ACCOUNTS_COMMANDS, TOPIC_ACCOUNTS_EVENTS, TOPIC_LEDGER_EVENTS,
                          new_key, wait_until)

AUDIT = "tools/audit/solipass-audit"
LOG = "tools/log/solipass-log"
CHECKS = ("events decodable", "postings balanced and positive",
          "pass, partner, voucher, refund and bank accounts never negative",
          "balances sum to zero", "pass versions contiguous", "operation ids unique",
          "every operation in exactly one state", "refund request totals equal their operations",
          "ledger_balances matches the ledger", "passes match the ledger",
          "envelopes match the ledger", "partners owed match the ledger",
          "operations match the ledger", "refund requests match the ledger")


def run(stack, binary, args=(), with_pg=True, timeout_s=120):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SP_")}
    env.update(stack.extra_env)
    env["SP_KAFKA_BROKERS"] = stack.kafka_brokers
    if with_pg:
        env["SP_PG_DSN"] = stack.pg_dsn
    return subprocess.run([os.path.join(stack.build_dir, binary)] + list(args), env=env,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout_s)


def audit(stack):
    return run(stack, AUDIT)


def some_activity(world, backoffice, partners):
    """A credit, a payment and a voucher issued then redeemed: every kind of posting."""
    beneficiary = world.create_beneficiary(backoffice, [("general", None), ("sport", None)],
                                           {"general": 3000, "sport": 2000})
    api = world.login(beneficiary["email"], beneficiary["password"])
    paid = world.pay(api, partners["sport"]["partner_code"], 730)
    assert paid.status_code == 201, paid.text
    issued = api.post("/api/v1/pass/vouchers", {"amount_cents": 400, "category": "general"},
                      key=new_key())
    assert issued.status_code == 201, issued.text
    number = issued.json()["number"]
    partner_api = world.login(partners["culture"]["admin_email"],
                              partners["culture"]["admin_password"])
    redeemed = partner_api.post("/api/v1/partner/vouchers/redeem", {"number": number},
                                key=new_key())
    assert redeemed.status_code == 201, redeemed.text
    return beneficiary["pass_id"]


def test_audit_proves_the_ledger_and_finds_a_corrupt_read_model(world, backoffice, partners):
    pass_id = some_activity(world, backoffice, partners)

    # The read models follow the log asynchronously: wait for them to agree.
    wait_until(lambda: audit(world.stack).returncode == 0, "the audit passes", timeout_s=60)
    done = audit(world.stack)
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout + done.stderr
    assert ["ok " + check for check in CHECKS] == lines[:len(CHECKS)], done.stdout
    assert lines[-1].startswith("summary: ") and lines[-1].endswith("the ledger holds")

    world.sql("UPDATE passes SET balance_cents = balance_cents + 1 WHERE pass_id = '%s'"
              % pass_id)
    try:
        corrupt = audit(world.stack)
    finally:
        world.sql("UPDATE passes SET balance_cents = balance_cents - 1 WHERE pass_id = '%s'"
                  % pass_id)
    assert corrupt.returncode == 1, corrupt.stdout + corrupt.stderr
    failed = [line for line in corrupt.stdout.splitlines() if line.startswith("FAIL")]
    assert len(failed) == 1, corrupt.stdout
    assert failed[0].startswith("FAIL passes match the ledger: ") and pass_id in failed[0]
    # The log checks still hold: only the read model is wrong.
    assert "ok pass versions contiguous" in corrupt.stdout
    assert audit(world.stack).returncode == 0


def test_log_tail_shows_a_payment_with_its_amount(world, backoffice, partners):
    pass_id = some_activity(world, backoffice, partners)
    done = run(world.stack, LOG, ["tail", TOPIC_LEDGER_EVENTS, "--from-beginning", "--type",
                                  "ledger.PaymentAccepted.v1", "--aggregate", pass_id],
               with_pg=False)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == 1, done.stdout
    envelope = lines[0]["envelope"]
    assert lines[0]["topic"] == TOPIC_LEDGER_EVENTS
    assert envelope["type"] == "ledger.PaymentAccepted.v1"
    assert envelope["aggregate_id"] == pass_id
    assert envelope["payload"]["amount_cents"] == 730
    assert envelope["payload"]["pass_id"] == pass_id
    posting = envelope["payload"]["postings"][0]
    assert posting["debit_account"] == "pass:%s:sport" % pass_id
    assert posting["amount_cents"] == 730

    bounded = run(world.stack, LOG, ["tail", TOPIC_LEDGER_EVENTS, "--from-beginning",
                                     "--max", "3"], with_pg=False)
    assert bounded.returncode == 0, bounded.stderr
    assert len(bounded.stdout.splitlines()) == 3


def test_log_deadletters_lists_a_poison_message(world):
    marker = "poison-%s" % uuid.uuid4()
    world.produce_raw(TOPIC_ACCOUNTS_COMMANDS, 0, b"\x00\xff" + marker.encode())

    def listed():
        done = run(world.stack, LOG, ["deadletters", "--max", "100000"], with_pg=False)
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines()
                if marker.encode().hex() in line]

    wait_until(lambda: len(listed()) == 1, "the poison message dead-lettered", timeout_s=60)
    dead = listed()[0]
    assert dead["source_topic"] == TOPIC_ACCOUNTS_COMMANDS
    assert dead["source_partition"] == 0 and dead["source_offset"] >= 0
    assert dead["service"] and dead["reason"]
    assert dead["original_type"] is None


def dead_letters(stack):
    done = run(stack, LOG, ["deadletters", "--max", "1000000"], with_pg=False)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def requeue(stack, offset):
    return run(stack, LOG, ["requeue", str(offset)], with_pg=False)


def test_a_dead_letter_requeued_once_its_cause_is_fixed_is_applied_once(world, backoffice):
    """The read model refuses a new partner (a constraint an operator added
    by mistake): the projection dead-letters its PartnerCreated and the
    administrator's UserRegistered. Once the constraint is gone, both are
    requeued, in order, and applied; a second requeue is refused."""
    name = "Requeue club %s" % uuid.uuid4().hex[:8]
    world.sql("ALTER TABLE partners ADD CONSTRAINT test_requeue_block CHECK (name <> '%s')" % name)
    try:
        before = len(dead_letters(world.stack))
        email = "requeue-%s@example.org" % uuid.uuid4().hex[:8]
        backoffice.post("/api/v1/partners", {
            "name": name, "category": "sport", "admin_email": email,
            "admin_password": "correct-horse-battery", "admin_full_name": "Requeue admin"},
            key=new_key())
        fresh = wait_until(lambda: [d for d in dead_letters(world.stack)[before:]
                                    if d.get("service") == "projection"
                                    and d["original_type"] in ("accounts.PartnerCreated.v1",
                                                               "accounts.UserRegistered.v1")
                                    ] if len(dead_letters(world.stack)) >= before + 2 else None,
                           "the partner and its administrator dead-lettered", timeout_s=60)
    finally:
        world.sql("ALTER TABLE partners DROP CONSTRAINT test_requeue_block")
    assert [d["original_type"] for d in fresh] == ["accounts.PartnerCreated.v1",
                                                   "accounts.UserRegistered.v1"], fresh
    assert "test_requeue_block" in fresh[0]["reason"]
    assert fresh[0]["source_topic"] == TOPIC_ACCOUNTS_EVENTS
    assert world.sql("SELECT count(*) FROM partners WHERE name = '%s'" % name) == "0"

    copies = []
    for dead in fresh:
        done = requeue(world.stack, dead["offset"])
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        copies.append(result["to_offset"])
        assert result["requeued_offset"] == dead["offset"]
        assert result["to_topic"] == TOPIC_ACCOUNTS_EVENTS and result["to_offset"] > \
            dead["source_offset"]
    wait_until(lambda: world.sql("SELECT count(*) FROM users WHERE email = '%s'" % email) == "1",
               "the requeued administrator in the read model", timeout_s=30)
    assert world.sql("SELECT count(*) FROM partners WHERE name = '%s'" % name) == "1"
    api = world.login(email, "correct-horse-battery")
    assert api.token
    api.close()

    again = requeue(world.stack, fresh[0]["offset"])
    assert again.returncode == 2, again.stdout + again.stderr
    assert '"code":"already_requeued"' in again.stderr and again.stdout == ""
    markers = [d for d in dead_letters(world.stack) if d.get("type") == "DeadLetterRequeued.v1"]
    assert {m["source_offset"] for m in markers} >= {d["offset"] for d in fresh}
    marker = requeue(world.stack, markers[-1]["offset"])
    assert marker.returncode == 2 and '"code":"not_a_dead_letter"' in marker.stderr
    nowhere = requeue(world.stack, 10 ** 9)
    assert nowhere.returncode == 2 and '"code":"no_such_message"' in nowhere.stderr
    # Nothing of the requeued copies was refused again.
    assert not [d for d in dead_letters(world.stack)
                if d.get("service") == "projection" and d["source_topic"] == TOPIC_ACCOUNTS_EVENTS
                and d["source_offset"] in copies]
    assert world.sql("SELECT count(*) FROM partners WHERE name = '%s'" % name) == "1"


def test_log_lag_lists_the_groups_and_the_projection(world, partners):
    done = run(world.stack, LOG, ["lag"])
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    groups = {line["group"] for line in lines}
    assert {"solipass-accounts", "solipass-transactions", "projection"} <= groups, groups
    projection = [line for line in lines if line["group"] == "projection"]
    assert all(line["store"] == "postgresql" for line in projection)
    assert TOPIC_LEDGER_EVENTS in {line["topic"] for line in projection}
    for line in lines:
        if line.get("committed") is not None:
            assert line["high"] >= 0 and line["lag"] == max(0, line["high"] - line["committed"])
    accounts = [line for line in lines if line["group"] == "solipass-accounts"
                and line.get("topic") == TOPIC_ACCOUNTS_COMMANDS]
    assert accounts and accounts[0]["committed"] >= 1, lines
