#!/usr/bin/python3
"""payments.py - the payments benchmark (run it through tests/bench/payments).

Starts a stack from the release build `build` in var/bench on free ports,
creates beneficiaries with large balances and a few partners over HTTP, logs
the beneficiaries in, then drives POST /api/v1/pass/payments with wrk
(keep-alive connections, a unique Idempotency-Key per request) for a fixed
duration. Prints payments/s and the p50/p99 latency, the CPU each process
spent per payment, the projection's lag when the load ended, the latency at
half the peak rate (a second, paced run), checks the ledger still sums to
zero, then runs the PostgreSQL-only anchor
(../shared/anchors/pg-ledger/run) against the same PostgreSQL and prints its
tps and the ratio ours/anchor."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "deploy", "local"))
import stack as stack_module  # noqa: E402
import demo_data  # noqa: E402

# ../shared/anchors beside the checkout, or two levels up for a worktree in a
# folder of worktrees.
ANCHOR = next((path for path in (
    os.path.join(parent, "shared", "anchors", "pg-ledger", "run")
    for parent in (os.path.dirname(REPO), os.path.dirname(os.path.dirname(REPO))))
    if os.access(path, os.X_OK)),
    os.path.join(os.path.dirname(REPO), "shared", "anchors", "pg-ledger", "run"))
CREDIT_CENTS = 1000000       # SP_CREDIT_MAX_CENTS: the largest single credit
CREDITS_PER_PASS = 5
PASSWORD = "bench-password-1"
LEDGER_TOPIC = "solipass.ledger.events.v1"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=20, help="measured duration (default 20)")
    parser.add_argument("--warmup-seconds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--passes", type=int, default=64, help="beneficiaries paying (default 64)")
    parser.add_argument("--partners", type=int, default=4)
    parser.add_argument("--anchor-clients", type=int, default=8)
    parser.add_argument("--half-rate-seconds", type=int, default=10,
                        help="the run at half the peak rate, for its latency (default 10; 0: none)")
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--with-notifications", action="store_true",
                        help="also run the notifications service (a mail per payment); off by "
                             "default so that the figure is the payment path alone, like the anchor")
    return parser.parse_args()


def api(base_url, method, path, body=None, token=None, key=None):
    return demo_data.call(base_url, method, path, body, token=token, key=key)


def populate(base_url, stack, passes, partners):
    bo = api(base_url, "POST", "/api/v1/auth/login",
             {"email": stack.bootstrap_email, "password": stack.bootstrap_password})["token"]
    codes = []
    for i in range(partners):
        created = api(base_url, "POST", "/api/v1/partners", {
            "name": "Bench partner %d" % i, "category": ("sport", "culture", "leisure")[i % 3],
            "admin_email": "bench-partner-%d@example.org" % i, "admin_password": PASSWORD,
            "admin_full_name": "Bench admin %d" % i}, token=bo, key="bench-partner-%d" % i)
        codes.append(created["partner_code"])
    tokens = []
    for i in range(passes):
        email = "bench-%d@example.org" % i
        created = api(base_url, "POST", "/api/v1/beneficiaries", {
            "email": email, "password": PASSWORD, "full_name": "Bench %d" % i,
            "envelopes": [{"category": "general"}]}, token=bo, key="bench-beneficiary-%d" % i)
        for c in range(CREDITS_PER_PASS):
            api(base_url, "POST", "/api/v1/passes/%s/credits" % created["pass_id"],
                {"category": "general", "amount_cents": CREDIT_CENTS}, token=bo,
                key="bench-credit-%d-%d" % (i, c))
        tokens.append(api(base_url, "POST", "/api/v1/auth/login",
                          {"email": email, "password": PASSWORD})["token"])
    return tokens, codes


def run_wrk(stack, args, seconds, tokens_file, codes_file, run_name, pause_ms=0):
    env = dict(os.environ, SOLIPASS_BENCH_TOKENS=tokens_file, SOLIPASS_BENCH_CODES=codes_file,
               SOLIPASS_BENCH_RUN=run_name, SOLIPASS_BENCH_PAUSE_MS=str(int(pause_ms)))
    argv = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", "%ds" % seconds,
            "--timeout", "10s", "-s", os.path.join(HERE, "payments.lua"),
            stack.gateway_url + "/api/v1/pass/payments"]
    done = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=seconds + 120)
    for line in done.stdout.splitlines():
        if line.startswith("WRK_RESULT "):
            return json.loads(line[len("WRK_RESULT "):])
    raise SystemExit("wrk gave no result:\n" + done.stdout)


def ledger_log_end(stack):
    """The ledger events' log end: the sum of its partitions' high
    watermarks, from the devbroker (kcat)."""
    listing = subprocess.run(["kcat", "-b", stack.kafka_brokers, "-L", "-t", LEDGER_TOPIC],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    partitions = listing.stdout.count(" partition ")
    argv = ["kcat", "-b", stack.kafka_brokers, "-Q"]
    for partition in range(partitions):
        argv += ["-t", "%s:%d:-1" % (LEDGER_TOPIC, partition)]
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=30)
    ends = [int(line.rsplit(" ", 1)[1]) for line in done.stdout.splitlines()
            if line.startswith(LEDGER_TOPIC + " [")]
    if partitions == 0 or len(ends) != partitions:
        raise SystemExit("cannot read the ledger's log end:\n" + listing.stderr + done.stderr)
    return sum(ends)


def print_projection_lag(stack, load_ended):
    """How far the projection was behind the ledger's log when the load
    ended (events, read at once), and when it had applied all of it."""
    log_end = ledger_log_end(stack)
    query = ("SELECT coalesce(sum(next_offset), 0) FROM projection_offsets WHERE "
             "consumer = 'projection' AND topic = '%s'" % LEDGER_TOPIC)
    behind = log_end - int(stack.psql(query))
    while int(stack.psql(query)) < log_end and time.monotonic() < load_ended + 60:
        time.sleep(0.01)
    # 0 when nothing was behind (every answer waited for its payment's rows);
    # else the time until the last event was applied, reading the log's end
    # included (an upper bound).
    lag_ms = (time.monotonic() - load_ended) * 1000 if behind > 0 else 0
    print("projection_lag_at_end_events=%d projection_lag_at_end_ms=%.0f" % (behind, lag_ms))


def run_half_rate(stack, args, peak_per_s, tokens_file, codes_file, run_id):
    """The latency at half the peak rate: each connection pauses before each
    request, the pause set from a short trial so that the rate lands near
    half the peak (wrk keeps a connection to one request at a time)."""
    target = peak_per_s / 2
    pause_ms = 1000.0 * args.connections / target
    for trial in range(2):  # the pause less the latency seen at that rate
        seen = run_wrk(stack, args, 3, tokens_file, codes_file, "half-try%d-%s" % (trial, run_id),
                       pause_ms)
        latency_ms = seen["p50_us"] / 1000.0
        pause_ms = max(0.0, 1000.0 * args.connections / target - latency_ms)
    result = run_wrk(stack, args, args.half_rate_seconds, tokens_file, codes_file,
                     "half-" + run_id, pause_ms)
    rate = result["created"] / (result["duration_us"] / 1e6)
    print("half_rate_target_per_s=%.0f half_rate_per_s=%.0f (pause %.1f ms a request)"
          % (target, rate, pause_ms))
    print("half_rate_latency_p50_ms=%.2f half_rate_latency_p99_ms=%.2f"
          % (result["p50_us"] / 1000, result["p99_us"] / 1000))


def process_cpu_us(pid):
    """User plus system CPU time of one process so far, in microseconds (0 once gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    ticks = int(fields[11]) + int(fields[12])            # utime, stime
    return ticks * 1000000 // os.sysconf("SC_CLK_TCK")


def postgres_pids(stack):
    """The postmaster of the stack's PostgreSQL and its children (the backends)."""
    try:
        with open(os.path.join(stack.pg_data_dir, "postmaster.pid")) as f:
            postmaster = int(f.readline())
    except (OSError, ValueError):
        return []
    pids = [postmaster]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == postmaster:
                        pids.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return pids


def cpu_snapshot(stack):
    """CPU microseconds so far per program of the stack, PostgreSQL's processes summed."""
    snapshot = {name: process_cpu_us(proc.popen.pid) for name, proc in stack.processes.items()}
    snapshot["postgresql"] = sum(process_cpu_us(pid) for pid in postgres_pids(stack))
    return snapshot


def print_cpu_per_payment(before, after, payments):
    """The CPU each program spent per created payment during the measured run."""
    if payments <= 0:
        return
    costs = {name: (after[name] - before.get(name, 0)) / payments for name in after}
    for name, us in sorted(costs.items(), key=lambda item: -item[1]):
        print("cpu_us_per_payment_%s=%.0f" % (name, us))
    print("cpu_us_per_payment_total=%.0f" % sum(costs.values()))


def run_anchor(stack, seconds, clients):
    if not os.access(ANCHOR, os.X_OK):
        print("anchor: %s not found, no ratio" % ANCHOR)
        return None
    done = subprocess.run(["sh", ANCHOR, stack.pg_socket_dir, str(stack.pg_port), str(seconds),
                           str(clients), stack_module.PG_USER, stack_module.PG_DATABASE],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=seconds + 300)
    if done.returncode != 0:
        print("anchor failed:\n" + done.stdout + done.stderr)
        return None
    for line in done.stdout.splitlines():
        if line.startswith("anchor_pg_ledger_tps="):
            return int(line.split("=", 1)[1])
    print("anchor printed no tps:\n" + done.stdout)
    return None


def metric_values(metrics_url):
    """A service's metrics (Prometheus text), by name with its labels."""
    import urllib.request
    with urllib.request.urlopen(metrics_url, timeout=10) as answer:
        text = answer.read().decode()
    values = {}
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        name, value = line.rsplit(" ", 1)
        values[name] = float(value)
    return values


def print_mean_ms(values, name, label, labels=""):
    count = values.get(name + "_count" + labels, 0)
    if count:
        print("%s_ms_mean=%.2f" % (label, 1000 * values[name + "_sum" + labels] / count))


def print_gateway_breakdown(stack):
    """Where a payment's time goes, from the services' own metrics: the command
    from its production to its offset committed by the transactions service
    (events and reply durable), the whole round trip to the gateway's reading
    of the reply, then the wait for the projection (warm-up included)."""
    values = metric_values(stack.metrics_url("transactions"))
    print_mean_ms(values, "solipass_command_duration_seconds", "transactions_command_to_commit",
                  '{topic="solipass.ledger.commands.v1"}')
    values = metric_values(stack.metrics_url("gateway"))
    for what in ("command_duration", "projection_wait"):
        print_mean_ms(values, "solipass_gateway_%s_seconds" % what, "gateway_" + what)


def main():
    args = parse_args()
    stack = stack_module.Stack(
        build_dir=args.build_dir, var_dir=os.path.join(REPO, "var", "bench"),
        service_env={"gateway": {"SP_HTTP_THREADS": str(min(1024, max(16, args.connections * 2))),
                                 # wrk's connections all come from 127.0.0.1
                                 "SP_HTTP_REQUESTS_PER_ADDRESS_MAX":
                                     str(min(1024, max(32, args.connections * 2)))}},
        notifications=args.with_notifications, quiet=False)
    stack.start()
    try:
        started = time.monotonic()
        tokens, codes = populate(stack.gateway_url, stack, args.passes, args.partners)
        print("populated %d passes and %d partners in %.1f s" % (len(tokens), len(codes),
                                                                   time.monotonic() - started))
        with tempfile.TemporaryDirectory(prefix="solipass-bench-") as tmp:
            tokens_file = os.path.join(tmp, "tokens")
            codes_file = os.path.join(tmp, "codes")
            with open(tokens_file, "w") as f:
                f.write("\n".join(tokens) + "\n")
            with open(codes_file, "w") as f:
                f.write("\n".join(codes) + "\n")
            run_id = uuid.uuid4().hex[:8]
            if args.warmup_seconds > 0:
                run_wrk(stack, args, args.warmup_seconds, tokens_file, codes_file, "warm-" + run_id)
            cpu_before = cpu_snapshot(stack)
            result = run_wrk(stack, args, args.seconds, tokens_file, codes_file, "bench-" + run_id)
            load_ended = time.monotonic()
            cpu_after = cpu_snapshot(stack)
            print_projection_lag(stack, load_ended)
            seconds = result["duration_us"] / 1e6
            ours = result["created"] / seconds
            if args.half_rate_seconds > 0:
                run_half_rate(stack, args, ours, tokens_file, codes_file, run_id)
        print("payments: %d created, %d refused, %d failed, %d socket errors in %.1f s "
              "(%d connections)" % (result["created"], result["refused"], result["failed"],
                                    result["socket_errors"], seconds, args.connections))
        print("payments_per_s=%.0f" % ours)
        print("latency_p50_ms=%.2f latency_p90_ms=%.2f latency_p99_ms=%.2f latency_max_ms=%.2f" % (
            result["p50_us"] / 1000, result["p90_us"] / 1000, result["p99_us"] / 1000,
            result["max_us"] / 1000))
        print_gateway_breakdown(stack)
        print_cpu_per_payment(cpu_before, cpu_after, result["created"])
        total = stack.psql("SELECT coalesce(sum(balance_cents), 0) FROM ledger_balances")
        print("ledger sum after the run: %s (must be 0)" % total)
        anchor = run_anchor(stack, args.seconds, args.anchor_clients)
        if anchor:
            print("anchor_pg_ledger_tps=%d" % anchor)
            print("ratio_ours_over_anchor=%.3f" % (ours / anchor))
        return 0 if total == "0" else 1
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
