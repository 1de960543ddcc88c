"""test_snapshots.py - the transactions service comes back from its
snapshots: SIGKILLed during payments, it restarts from each partition's
snapshot and the events after it (its log says from which offset), answers
every retried command with its first outcome, and the audit passes; a
corrupt snapshot is refused with a clear line and the service rebuilds from
the whole log, with the same answers."""

import glob
import os
import re
import time
import uuid

from solipass_api import Api, wait_until
from test_invariants import ledger_sum, pay_in_background
from test_ops_tools import audit

SNAPSHOT_EVERY_EVENTS = 40


def log_since(stack, offset):
    with open(stack.log_path("transactions"), "rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", "replace")


def log_size(stack):
    return os.path.getsize(stack.log_path("transactions"))


def rebuilt_from(text):
    """partition -> the offset its last rebuild started from."""
    found = {}
    for line in text.splitlines():
        if "ledger partition rebuilt" in line:
            partition = re.search(r'"partition":\s*"?(\d+)', line)
            start = re.search(r'"from_offset":\s*"?(\d+)', line)
            if partition and start:
                found[int(partition.group(1))] = int(start.group(1))
    return found


def restart_transactions(stack, every_events):
    stack.service_env.setdefault("transactions", {})["SP_SNAPSHOT_EVERY_EVENTS"] = str(every_events)
    stack.stop_service("transactions")
    stack.start_service("transactions")


def test_killed_transactions_comes_back_from_its_snapshots(world, backoffice, partners):
    stack = world.stack
    restart_transactions(stack, SNAPSHOT_EVERY_EVENTS)
    try:
        run_killed_during_payments(world, backoffice, partners)
    finally:
        restart_transactions(stack, 10000)


def run_killed_during_payments(world, backoffice, partners):
    stack = world.stack
    pass_count, thread_count, payment_count = 6, 6, 300
    beneficiaries = [world.create_beneficiary(backoffice, [("general", None)], {"general": 100000})
                     for _ in range(pass_count)]
    tokens = [world.login(b["email"], b["password"]).token for b in beneficiaries]
    code = partners["sport"]["partner_code"]
    plan = [{"pass": i % pass_count, "amount": 100 + (i * 37) % 400,
             "key": "snap-%s-%d" % (uuid.uuid4().hex[:8], i)} for i in range(payment_count)]
    runner, outcome, done = pay_in_background(world, tokens, plan, lambda item: code,
                                              thread_count, time.monotonic() + 300)
    wait_until(lambda: done[0] >= payment_count // 3 and
               glob.glob(os.path.join(stack.snapshot_dir, "ledger-*.snap")),
               "a third of the payments and a snapshot file", timeout_s=300, interval_s=0.02)
    stack.kill("transactions")
    done_at_kill = done[0]
    restarted_at = log_size(stack)
    stack.start_services(["transactions"])
    runner.join(timeout=400)
    assert not runner.is_alive() and outcome, "the payment threads did not finish"
    assert done_at_kill < payment_count, "the burst ended before the kill"
    results = [r for per_thread in outcome[0] for r in per_thread]
    assert all(getattr(a, "status_code", None) == 201 for _, a, _ in results), \
        [getattr(a, "status_code", a) for _, a, _ in results if getattr(a, "status_code", None) != 201][:5]
    first = {item["key"]: answer.json()["operation_id"] for item, answer, _ in results}

    restart_log = log_since(stack, restarted_at)
    from_offsets = rebuilt_from(restart_log)
    print("killed after %d payments; partitions rebuilt from offsets %r" % (done_at_kill, from_offsets))
    assert any(offset > 0 for offset in from_offsets.values()), restart_log[-3000:]
    assert "snapshot refused" not in restart_log and "snapshot discarded" not in restart_log

    retry_all_and_check(world, tokens, code, plan, first)
    assert ledger_sum(world) == 0
    wait_until(lambda: audit(stack).returncode == 0, "the audit passes", timeout_s=60)

    # A corrupt snapshot: refused with its reason, the whole log replayed, same answers.
    stack.kill("transactions")
    for path in glob.glob(os.path.join(stack.snapshot_dir, "ledger-*.snap")):
        with open(path, "r+b") as f:
            f.seek(os.path.getsize(path) // 2)
            byte = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte[0] ^ 0xFF]))
    restarted_at = log_size(stack)
    stack.start_services(["transactions"])
    restart_log = log_since(stack, restarted_at)
    assert "ledger snapshot refused: rebuilding from the whole log" in restart_log
    assert "checksum mismatch" in restart_log
    assert set(rebuilt_from(restart_log).values()) == {0}
    retry_all_and_check(world, tokens, code, plan, first)
    wait_until(lambda: audit(stack).returncode == 0, "the audit passes", timeout_s=60)


def retry_all_and_check(world, tokens, code, plan, first):
    """Every command sent again with its key gets its first outcome."""
    apis = [Api(world.url, token) for token in tokens]
    for item in plan:
        again = world.pay(apis[item["pass"]], code, item["amount"], key=item["key"])
        assert again.status_code == 201, again.text
        assert again.json()["operation_id"] == first[item["key"]], item["key"]
