"""The ledger's invariants under concurrency, retries, crashes and replay:
a pass never goes below zero, a command id moves money at most once, a
SIGKILLed service loses and duplicates no accepted payment, the sum of all
ledger balances is zero, and a rebuilt projection equals the live one."""

import threading
import time
import uuid

import requests

from solipass_api import (LEDGER_PARTITIONS, TOPIC_ACCOUNTS_EVENTS, TOPIC_LEDGER_EVENTS, Api,
                          expect_error, new_key, run_parallel, wait_until)

RETRY_MAX = 200
RETRY_PAUSE_S = 0.5


def ledger_sum(world):
    return int(world.sql("SELECT coalesce(sum(balance_cents), 0) FROM ledger_balances"))


def owed(backoffice, partner_id):
    for partner in backoffice.get("/api/v1/partners").json()["partners"]:
        if partner["partner_id"] == partner_id:
            return partner["owed_cents"]
    raise AssertionError("partner %s not listed" % partner_id)


def test_concurrent_payments_never_overdraw_a_pass(world, backoffice, partners):
    sport = partners["sport"]
    beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 1000})
    token = world.login(beneficiary["email"], beneficiary["password"]).token
    owed_before = owed(backoffice, sport["partner_id"])
    apis = [Api(world.url, token) for _ in range(50)]

    answers = run_parallel(50, lambda i: world.pay(apis[i], sport["partner_code"], 300))

    accepted = [a for a in answers if a.status_code == 201]
    refused = [a for a in answers if a.status_code != 201]
    assert len(accepted) == 3, [a.status_code for a in answers]
    for answer in refused:
        expect_error(answer, 422, "insufficient_funds", "amount_cents")
    assert sorted(a.json()["pass_balance_after_cents"] for a in accepted) == [100, 400, 700]
    view = world.pass_of(apis[0])
    assert view["balance_cents"] == 1000 - 3 * 300
    assert owed(backoffice, sport["partner_id"]) == owed_before + 3 * 300
    payments = [o for o in world.operations(apis[0]) if o["kind"] == "payment"]
    assert sorted(o["operation_id"] for o in payments) == sorted(a.json()["operation_id"] for a in accepted)
    assert ledger_sum(world) == 0


def test_same_key_sent_ten_times_in_parallel_moves_money_once(world, backoffice, partners):
    beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 1000})
    token = world.login(beneficiary["email"], beneficiary["password"]).token
    apis = [Api(world.url, token) for _ in range(10)]
    key = new_key()

    answers = run_parallel(10, lambda i: world.pay(apis[i], partners["culture"]["partner_code"], 250, key=key))

    assert [a.status_code for a in answers] == [201] * 10, [a.text for a in answers]
    assert len({a.json()["operation_id"] for a in answers}) == 1
    assert {a.json()["pass_balance_after_cents"] for a in answers} == {750}
    assert world.pass_of(apis[0])["balance_cents"] == 750
    assert len([o for o in world.operations(apis[0]) if o["kind"] == "payment"]) == 1
    assert int(world.sql("SELECT count(*) FROM operations WHERE command_id = '%s'" % key)) == 1


def test_same_key_with_another_body_is_a_conflict(world, backoffice, partners):
    beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 1000})
    api = world.login(beneficiary["email"], beneficiary["password"])
    key = new_key()
    assert world.pay(api, partners["sport"]["partner_code"], 100, key=key).status_code == 201
    expect_error(world.pay(api, partners["sport"]["partner_code"], 200, key=key), 409, "idempotency_conflict")
    expect_error(world.pay(api, partners["culture"]["partner_code"], 100, key=key), 409, "idempotency_conflict")
    assert world.pass_of(api)["balance_cents"] == 900
    assert len([o for o in world.operations(api) if o["kind"] == "payment"]) == 1


def test_same_key_on_two_passes_is_two_payments(world, backoffice, partners):
    """An Idempotency-Key is scoped to the pass and the person, not global."""
    key = new_key()
    for _ in range(2):
        beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 500})
        api = world.login(beneficiary["email"], beneficiary["password"])
        paid = world.pay(api, partners["sport"]["partner_code"], 200, key=key)
        assert paid.status_code == 201, paid.text
        assert paid.headers.get("Idempotent-Replayed") != "true"
        assert world.pass_of(api)["balance_cents"] == 300


def test_same_credit_key_credits_once(world, backoffice):
    beneficiary = world.create_beneficiary(backoffice, [("general", None)])
    key = new_key()
    first = world.credit(backoffice, beneficiary["pass_id"], "general", 1234, key=key)
    again = world.credit(backoffice, beneficiary["pass_id"], "general", 1234, key=key)
    assert first.status_code == again.status_code == 201
    assert first.json()["operation_id"] == again.json()["operation_id"]
    assert backoffice.get("/api/v1/passes/%s" % beneficiary["pass_id"]).json()["balance_cents"] == 1234


def pay_until_answered(world, api, code, amount_cents, key, deadline):
    """What an app does when the outcome is unknown (503, no answer): retry
    with the same Idempotency-Key, a bounded number of times."""
    last = None
    for attempt in range(RETRY_MAX):
        try:
            last = world.pay(api, code, amount_cents, key=key)
            if last.status_code != 503:
                return last, attempt
        except requests.RequestException as e:
            last = e
        if time.monotonic() > deadline:
            break
        time.sleep(RETRY_PAUSE_S)
    return last, RETRY_MAX


def pay_in_background(world, tokens, plan, code_of, thread_count, deadline):
    """The plan's payments from thread_count threads, each retried until
    answered; returns (the thread running them, a list that gets the
    per-thread lists of (item, answer, retries), [payments done])."""
    done = [0]
    lock = threading.Lock()

    def worker(t):
        apis = [Api(world.url, token) for token in tokens]
        results = []
        for item in plan[t::thread_count]:
            answer, retries = pay_until_answered(world, apis[item["pass"]], code_of(item),
                                                 item["amount"], item["key"], deadline)
            results.append((item, answer, retries))
            with lock:
                done[0] += 1
        return results

    outcome = []
    runner = threading.Thread(target=lambda: outcome.append(run_parallel(thread_count, worker)))
    runner.start()
    return runner, outcome, done


def test_killed_services_lose_and_duplicate_no_payment(world, backoffice, partners):
    pass_count, thread_count, payment_count = 6, 6, 300
    credit_cents = 100000
    beneficiaries = [world.create_beneficiary(backoffice, [("general", None)], {"general": credit_cents})
                     for _ in range(pass_count)]
    tokens = [world.login(b["email"], b["password"]).token for b in beneficiaries]
    codes = [partners["sport"]["partner_code"], partners["culture"]["partner_code"]]
    owed_before = {p: owed(backoffice, partners[p]["partner_id"]) for p in ("sport", "culture")}
    plan = [{"pass": i % pass_count, "partner": ("sport", "culture")[i % 2], "amount": 100 + (i * 37) % 400,
             "key": "kill-%s-%d" % (uuid.uuid4().hex[:8], i)} for i in range(payment_count)]
    runner, outcome, done = pay_in_background(
        world, tokens, plan, lambda item: codes[0] if item["partner"] == "sport" else codes[1],
        thread_count, time.monotonic() + 300)
    wait_until(lambda: done[0] >= payment_count // 3, "a third of the payments", timeout_s=300, interval_s=0.02)
    world.stack.kill("transactions")
    world.stack.kill("projection")
    done_at_kill = done[0]
    time.sleep(1.0)
    world.stack.start_services(["transactions", "projection"])
    done_at_restart = done[0]
    runner.join(timeout=400)
    assert not runner.is_alive() and outcome, "the payment threads did not finish"
    results = [r for per_thread in outcome[0] for r in per_thread]
    assert len(results) == payment_count
    retried = sum(1 for _, _, retries in results if retries)
    print("killed after %d payments, restarted after %d, %d payments needed a retry"
          % (done_at_kill, done_at_restart, retried))
    assert done_at_kill < payment_count and done_at_restart < payment_count, "the burst ended before the kill"

    unanswered = [(item["key"], getattr(a, "status_code", a)) for item, a, _ in results
                  if getattr(a, "status_code", None) != 201]
    assert not unanswered, "payments without a 201 after retries: %r" % unanswered[:10]
    accepted = {item["key"]: answer.json() for item, answer, _ in results}
    operation_ids = [op["operation_id"] for op in accepted.values()]
    assert len(set(operation_ids)) == payment_count

    # The read models hold every accepted payment exactly once.
    pass_ids = [b["pass_id"] for b in beneficiaries]
    rows = world.sql_rows("SELECT operation_id, command_id, pass_id, amount_cents FROM operations "
                          "WHERE kind = 'payment' AND pass_id IN (%s)"
                          % ",".join("'%s'" % p for p in pass_ids))
    assert sorted(r[0] for r in rows) == sorted(operation_ids)
    assert len({r[1] for r in rows}) == len(rows), "two operations share a command id"
    assert {r[1] for r in rows} == set(accepted)
    for i, beneficiary in enumerate(beneficiaries):
        paid = sum(item["amount"] for item in plan if item["pass"] == i)
        count = len([item for item in plan if item["pass"] == i])
        view = backoffice.get("/api/v1/passes/%s" % beneficiary["pass_id"]).json()
        assert view["balance_cents"] == credit_cents - paid
        assert len([r for r in rows if r[2] == beneficiary["pass_id"]]) == count
        api = Api(world.url, tokens[i])
        assert len([o for o in world.operations(api) if o["kind"] == "payment"]) == count
    for name in ("sport", "culture"):
        paid = sum(item["amount"] for item in plan if item["partner"] == name)
        assert owed(backoffice, partners[name]["partner_id"]) == owed_before[name] + paid
    assert ledger_sum(world) == 0


def projection_caught_up(world):
    """Every event on the broker is applied (the projection's stored offsets
    reached the high watermarks)."""
    stored = {(r[0], int(r[1])): int(r[2]) for r in world.sql_rows(
        "SELECT topic, partition, next_offset FROM projection_offsets WHERE consumer = 'projection'")}
    partitions = [(TOPIC_LEDGER_EVENTS, p) for p in range(LEDGER_PARTITIONS)] + [(TOPIC_ACCOUNTS_EVENTS, 0)]
    return all(stored.get(tp, 0) >= world.high_watermark(*tp) for tp in partitions)


def checksum(world):
    done = world.stack.run_tool("projection", ["--checksum"], timeout_s=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = sorted(done.stdout.split())
    assert lines and all("=" in line for line in lines), done.stdout
    return lines


def test_rebuilt_projection_equals_the_live_one(world, backoffice, partners):
    # Some fresh activity, so the read models hold every kind of row.
    beneficiary = world.create_beneficiary(backoffice, [("general", None), ("sport", None)],
                                           {"general": 3000, "sport": 1000})
    api = world.login(beneficiary["email"], beneficiary["password"])
    assert world.pay(api, partners["sport"]["partner_code"], 400).status_code == 201
    assert world.pay(api, partners["culture"]["partner_code"], 500).status_code == 201
    live_balances = {r[0]: int(r[1]) for r in world.sql_rows("SELECT account, balance_cents FROM ledger_balances")}
    stack = world.stack

    # Freeze the log (the writers stop cleanly), let the projection apply all of it.
    stack.stop_service("accounts")
    stack.stop_service("transactions")
    try:
        wait_until(lambda: projection_caught_up(world), "the projection to catch up", timeout_s=60)
        stack.stop_service("projection")
        live = checksum(world)
        rebuild = stack.run_tool("projection", ["--rebuild", "--exit-when-caught-up"], timeout_s=600)
        assert rebuild.returncode == 0, rebuild.stderr[-3000:]
        rebuilt = checksum(world)
        assert rebuilt == live
        assert {r[0]: int(r[1]) for r in world.sql_rows(
            "SELECT account, balance_cents FROM ledger_balances")} == live_balances
    finally:
        for name in ("projection", "accounts", "transactions"):
            if not stack.is_running(name):
                stack.start_service(name)
    # The product carries on from the rebuilt read models.
    api = world.login(beneficiary["email"], beneficiary["password"])
    paid = world.pay(api, partners["sport"]["partner_code"], 100)
    assert paid.status_code == 201, paid.text
    assert world.pass_of(api)["balance_cents"] == 3000 + 1000 - 400 - 500 - 100
    assert ledger_sum(world) == 0
