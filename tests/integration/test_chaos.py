"""Chaos under mixed load: payments, vouchers (issued and redeemed), refund
requests, cancellations and exports driven together from a few threads
while a random service of the eight (the gateway included) is killed with
SIGKILL at random moments, CHAOS_KILLS times, and PostgreSQL is restarted
once in the middle. The stack supervises (deploy/local/stack.py's
Supervisor, as `up` does): every killed service comes back by itself.

Clients behave as the apps do: a request without an answer (503, a cut
connection) is sent again with the same Idempotency-Key, a bounded number
of times. Then: every answered success is in the read models exactly once,
every refusal is absent, the books sum to zero, solipass-audit exits 0, a
replay of the read models finds them identical, every voucher-used e-mail
is sent, a copy only after an interruption of its sender and under the same
Message-ID (at most one per interruption), and every payment
reaches the finance topic at least once, its copies sharing one event id.

Its own stack (its own var folder). CHAOS_KILLS (default 20) and
CHAOS_SEED (default random, printed) can be set; `tests/chaos/run` runs it
with more kills."""

import collections
import os
import random
import signal
import subprocess
import threading
import time

import pytest
import requests

import conftest
import stack as stack_module
from solipass_api import Api, World, new_key, wait_until
from test_finance import finance_json
from test_invariants import ledger_sum, projection_caught_up
from test_replay import replay, replay_lines
from test_structure_users import PROFILE

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
KILLS = int(os.environ.get("CHAOS_KILLS", "20"))
SEED = int(os.environ.get("CHAOS_SEED", str(random.SystemRandom().randrange(1 << 30))))
KILL_PAUSE_S = (1.0, 3.0)            # between two kills, uniformly
THREADS = 4
RETRY_MAX = 120
RETRY_PAUSE_S = 0.5
BACK_TIMEOUT_S = 120.0
CREDIT_CENTS = 1_000_000
LOAD_AFTER_LAST_KILL_S = 3.0


@pytest.fixture(scope="module")
def chaos_world():
    build_dir = os.environ.get("SOLIPASS_BUILD_DIR", "build")
    var_dir = os.environ.get("SOLIPASS_VAR_DIR", os.path.join(REPO, "var", "pytest")) + "-chaos"
    the_stack = stack_module.Stack(
        build_dir=build_dir, var_dir=var_dir, fast_pg=True, extra_env=conftest.SANITIZER_ENV,
        service_env={"gateway": {"SP_COMMAND_TIMEOUT_MS": "5000"},
                     "notifications": conftest.MAIL_RETRY_ENV,
                     "refunds": {"SP_REFUNDS_MONTHLY_RUN": "false"},
                     # A snapshot every few accounts events: a killed accounts
                     # service comes back from one and the events after it.
                     "accounts": {"SP_SNAPSHOT_EVERY_EVENTS": "20"}},
        quiet=True)
    try:
        the_stack.start()
    except stack_module.StackError as e:
        pytest.fail("the chaos stack did not start: %s" % e)
    the_stack.supervise(background=True)
    yield World(the_stack)
    the_stack.stop()


def until_answered(call, deadline):
    """call() until an answer other than 503 (the outcome of a 503 or a cut
    connection is unknown: the same key is sent again)."""
    last = None
    for _ in range(RETRY_MAX):
        try:
            last = call()
            if last.status_code != 503:
                return last
        except requests.RequestException as e:
            last = e
        if time.monotonic() > deadline:
            break
        time.sleep(RETRY_PAUSE_S)
    return last


class Ledger:
    """What the clients were told, by kind: successes and refusals."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ok = collections.defaultdict(list)
        self.refused = collections.defaultdict(list)
        self.unanswered = []

    def record(self, kind, key, answer, ok_statuses, extra=None):
        with self.lock:
            if getattr(answer, "status_code", None) in ok_statuses:
                self.ok[kind].append(dict(extra or {}, key=key, body=answer.json()))
            elif getattr(answer, "status_code", 0) and 400 <= answer.status_code < 500:
                self.refused[kind].append(dict(extra or {}, key=key, status=answer.status_code,
                                               body=answer.text[:200]))
            else:
                self.unanswered.append((kind, key, getattr(answer, "status_code", repr(answer))))


def setup_city(world):
    bo = world.backoffice()
    partners = []
    for category in ("sport", "culture"):
        partner = world.create_partner(bo, category)
        admin = world.login(partner["admin_email"], partner["admin_password"])
        assert admin.request("PUT", "/api/v1/partner/structure", body=PROFILE).status_code == 200
        partner["token"] = admin.token
        partners.append(partner)
    passes = []
    for _ in range(6):
        beneficiary = world.create_beneficiary(bo, credits={"general": CREDIT_CENTS})
        beneficiary["token"] = world.login(beneficiary["email"], beneficiary["password"]).token
        passes.append(beneficiary)
    bo.close()
    return partners, passes


def worker(world, seed, partners, passes, book, chaos_over, stop_at, deadline):
    rng = random.Random(seed)
    url = world.stack.gateway_url
    ben_apis = [Api(url, b["token"]) for b in passes]
    adm_apis = [Api(url, p["token"]) for p in partners]
    mine = []              # operation ids this worker was told accepted
    while not chaos_over.is_set() and time.monotonic() < stop_at:
        action = rng.choices(("pay", "voucher", "cancel", "refund", "export"),
                             weights=(10, 3, 2, 1, 1))[0]
        p = rng.randrange(len(partners))
        b = rng.randrange(len(passes))
        key = new_key()
        if action == "pay":
            amount = rng.randrange(50, 500)
            answer = until_answered(lambda: world.pay(ben_apis[b], partners[p]["partner_code"],
                                                      amount, key=key), deadline)
            book.record("payment", key, answer, (201,), {"amount": amount, "pass": b, "partner": p})
            if getattr(answer, "status_code", None) == 201:
                mine.append((p, answer.json()["operation_id"]))
        elif action == "voucher":
            amount = rng.randrange(100, 900)
            issued = until_answered(lambda: ben_apis[b].post(
                "/api/v1/pass/vouchers", {"amount_cents": amount}, key=key), deadline)
            book.record("voucher", key, issued, (201,), {"amount": amount, "pass": b})
            if getattr(issued, "status_code", None) == 201:
                number = issued.json()["number"]
                rkey = new_key()
                redeemed = until_answered(lambda: adm_apis[p].post(
                    "/api/v1/partner/vouchers/redeem", {"number": number}, key=rkey), deadline)
                book.record("redemption", rkey, redeemed, (201,),
                            {"pass": b, "partner": p, "voucher_id": issued.json()["voucher_id"]})
        elif action == "cancel" and mine:
            q, op = mine.pop(rng.randrange(len(mine)))
            answer = until_answered(lambda: adm_apis[q].post(
                "/api/v1/partner/operations/%s/cancel" % op, key=key), deadline)
            book.record("cancellation", key, answer, (200,), {"operation_id": op})
        elif action == "refund" and len(mine) >= 2:
            q = mine[-1][0]
            ops = [op for (pp, op) in mine if pp == q][-2:]
            mine = [(pp, op) for (pp, op) in mine if op not in ops]
            answer = until_answered(lambda: adm_apis[q].post(
                "/api/v1/partner/refund-requests", {"operation_ids": ops}, key=key), deadline)
            book.record("refund_request", key, answer, (201, 202), {"operation_ids": ops})
        elif action == "export":
            answer = until_answered(lambda: adm_apis[p].post(
                "/api/v1/partner/exports", {"kind": "operations"}, key=key),
                deadline)
            book.record("export", key, answer, (202,), {"partner": p})
    for api in ben_apis + adm_apis:
        api.close()


def chaos(stack, rng, kills, pg_restart_at, stop_at, figures, chaos_over):
    """SIGKILL a random service's process group, like a crash; the supervisor
    restarts it. PostgreSQL restarted once, after pg_restart_at kills. The
    load stops a little after the last kill."""
    try:
        kill_services(stack, rng, kills, pg_restart_at, stop_at, figures)
        time.sleep(LOAD_AFTER_LAST_KILL_S)
    finally:
        chaos_over.set()


def kill_services(stack, rng, kills, pg_restart_at, stop_at, figures):
    names = list(stack_module.SERVICES)
    while figures["kills"] < kills and time.monotonic() < stop_at:
        time.sleep(rng.uniform(*KILL_PAUSE_S))
        if figures["kills"] == pg_restart_at and not figures["pg_restarts"]:
            stack.restart_postgres()
            figures["pg_restarts"] += 1
        name = rng.choice(names)
        with stack._lock:
            proc = stack.processes.get(name)
            if proc is None or proc.popen.poll() is not None:
                continue           # down already, being restarted
            try:
                os.killpg(proc.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
        figures["kills"] += 1
        figures["by_service"][name] += 1


def all_back(stack):
    sup = stack.supervisor
    with stack._lock:
        return (not sup.starting and not sup.due_at
                and all(stack.is_running(n) for n in stack_module.SERVICES))


def test_chaos_under_mixed_load(chaos_world):
    world = chaos_world
    stack = world.stack
    rng = random.Random(SEED)
    print("\nchaos seed %d (CHAOS_SEED=%d to run it again), %d kills" % (SEED, SEED, KILLS))
    partners, passes = setup_city(world)
    book = Ledger()
    # A bound only: the load ends a few seconds after the last kill.
    load_s = KILLS * KILL_PAUSE_S[1] * 2 + 60
    started = time.monotonic()
    stop_at = started + load_s
    deadline = stop_at + 120
    chaos_over = threading.Event()
    figures = {"kills": 0, "pg_restarts": 0, "by_service": collections.Counter()}
    threads = [threading.Thread(target=worker, args=(world, rng.randrange(1 << 30), partners,
                                                     passes, book, chaos_over, stop_at,
                                                     deadline))
               for _ in range(THREADS)]
    killer = threading.Thread(target=chaos, args=(stack, random.Random(rng.randrange(1 << 30)),
                                                  KILLS, KILLS // 2, stop_at, figures,
                                                  chaos_over))
    for t in threads + [killer]:
        t.start()
    for t in threads + [killer]:
        t.join(timeout=load_s + 400)
        assert not t.is_alive(), "a load or chaos thread did not finish"
    load_s = time.monotonic() - started
    wait_until(lambda: all_back(stack), "every service back", timeout_s=BACK_TIMEOUT_S)
    wait_until(lambda: projection_caught_up(world), "the projection caught up", timeout_s=120)
    restarts = dict(stack.supervisor.restarts)
    counts = {k: len(v) for k, v in book.ok.items()}
    refusals = {k: len(v) for k, v in book.refused.items()}
    print("chaos: %d kills %s, %d PostgreSQL restart, %d supervisor restarts %s, %.0f s of load"
          % (figures["kills"], dict(figures["by_service"]), figures["pg_restarts"],
             sum(restarts.values()), restarts, load_s))
    print("answered: %s; refused: %s; unanswered: %d" % (counts, refusals, len(book.unanswered)))
    violations = []

    def check(ok, what):
        if not ok:
            violations.append(what)

    check(figures["kills"] == KILLS, "only %d kills of %d" % (figures["kills"], KILLS))
    check(not book.unanswered, "requests never answered: %r" % book.unanswered[:5])

    # Every answered payment once, under its key; every refused one absent.
    rows = world.sql_rows("SELECT command_id, operation_id, amount_cents, status FROM operations"
                          " WHERE kind = 'payment'")
    by_key = collections.Counter(r[0] for r in rows)
    op_of_key = {r[0]: r for r in rows}
    for item in book.ok["payment"]:
        check(by_key[item["key"]] == 1, "payment %s present %d times" % (item["key"],
                                                                          by_key[item["key"]]))
        row = op_of_key.get(item["key"])
        check(row is not None and row[1] == item["body"]["operation_id"]
              and int(row[2]) == item["amount"], "payment %s differs: %r" % (item["key"], row))
    for item in book.refused["payment"]:
        check(by_key[item["key"]] == 0, "refused payment %s present" % item["key"])
    statuses = {r[1]: r[3] for r in rows}
    for item in book.ok["cancellation"]:
        check(statuses.get(item["operation_id"]) == "cancelled",
              "cancelled %s is %s" % (item["operation_id"], statuses.get(item["operation_id"])))
    for item in book.ok["refund_request"]:
        for op in item["operation_ids"]:
            check(statuses.get(op) in ("requested", "paid", "accepted"),
                  "requested %s is %s" % (op, statuses.get(op)))
        request_id = item["body"]["request_id"]
        found = world.sql_rows("SELECT count(*) FROM refund_requests WHERE request_id = '%s'"
                               % request_id)
        check(found == [["1"]], "refund request %s: %r" % (request_id, found))
    vouchers = {r[0]: r[1] for r in world.sql_rows("SELECT voucher_id, status FROM vouchers")}
    for item in book.ok["voucher"]:
        check(item["body"]["voucher_id"] in vouchers, "voucher %s missing" % item["body"]["voucher_id"])
    for item in book.ok["redemption"]:
        check(vouchers.get(item["voucher_id"]) == "redeemed",
              "redeemed voucher %s is %s" % (item["voucher_id"], vouchers.get(item["voucher_id"])))
    exports = {r[0] for r in world.sql_rows("SELECT export_id::text FROM exports")}
    for item in book.ok["export"]:
        check(item["body"]["export_id"] in exports, "export %s missing" % item["body"]["export_id"])

    # The books, the audit, the replay.
    check(ledger_sum(world) == 0, "the ledger does not sum to zero")
    env_file = os.path.join(stack.var_dir, "env")
    done = subprocess.run(["sh", "-c", '. "$1" && solipass-audit', "sh", env_file],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300,
                          env={k: v for k, v in os.environ.items() if not k.startswith("SP_")})
    check(done.returncode == 0, "audit exit %d: %s" % (done.returncode, done.stdout[-2000:]))
    replayed = replay(stack)
    check(replayed.returncode == 0, "replay exit %d" % replayed.returncode)
    tables, _ = replay_lines(replayed)
    differs = [name for name, (_, _, verdict) in tables.items() if verdict != "same"]
    check(tables and not differs, "replay differs on %s" % differs)

    # E-mails: each voucher used mailed once to its beneficiary; no Message-ID twice.
    wanted = collections.Counter(passes[item["pass"]]["email"].lower()
                                 for item in book.ok["redemption"])

    def mails_in():
        found = collections.Counter()
        for mail in world.mails():
            if mail["kind"] == "voucher_redeemed":
                for to in mail["to"]:
                    found[to] += 1
        return found if all(found[e] >= n for e, n in wanted.items()) else None
    # A notifications service killed in the middle of a round leaves the rows
    # it had taken leased for 2 minutes (LEASE_MS in services/notifications/
    # service.c) before another round takes them: wait past that.
    try:
        wait_until(mails_in, "the voucher e-mails", timeout_s=150)
    except AssertionError as e:
        violations.append(str(e))
    time.sleep(2)
    mails = world.mails()
    ids = collections.Counter(m["message_id"] for m in mails)
    twice = [i for i, n in ids.items() if n > 1]
    # Delivery is at least once (docs/architecture.md, E-mail): a sender
    # killed, or its database restarted, between the SMTP server's acceptance
    # and the row's `sent` mark mails that one e-mail again, under the same
    # Message-ID so that the recipient's mail system can drop the copy. At
    # most one copy per interruption; any other copy is a bug.
    interruptions = figures["by_service"]["notifications"] + figures["pg_restarts"]
    check(len(twice) <= interruptions and all(ids[i] == 2 for i in twice),
          "%d Message-IDs sent more than once (%d interruptions of the sender): %r"
          % (len(twice), interruptions, [(i, ids[i]) for i in twice[:5]]))
    print("chaos: %d e-mails, %d sent again after an interruption" % (len(mails), len(twice)))
    found = collections.Counter(to for m in {m["message_id"]: m for m in mails}.values()
                                if m["kind"] == "voucher_redeemed" for to in m["to"])
    for to, n in wanted.items():
        check(found[to] == n, "%s: %d voucher e-mails, %d vouchers used" % (to, found[to], n))

    # Finance: every accepted payment at least once; copies share an event id.
    finance = [e for p in partners for e in finance_json(world, p["partner_id"])]
    accepted_ops = collections.defaultdict(set)
    for event in finance:
        if event.get("type") == "payment_accepted":
            accepted_ops[event["payment_accepted"]["operation_id"]].add(event["event_id"])
    for item in book.ok["payment"]:
        ids_of = accepted_ops.get(item["body"]["operation_id"], set())
        check(len(ids_of) == 1, "payment %s on finance under %d event ids"
              % (item["body"]["operation_id"], len(ids_of)))
    print("finance events %d (%d distinct), mails %d, violations %d"
          % (len(finance), len({e["event_id"] for e in finance}), len(mails), len(violations)))
    assert not violations, "\n".join(violations[:30])
