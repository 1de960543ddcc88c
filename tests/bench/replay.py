#!/usr/bin/python3
"""replay.py - the replay benchmark (run it through tests/bench/replay).
Starts PostgreSQL and the devbroker (more ledger partitions than the default
8: the devbroker keeps at most 5 MiB per partition) in var/bench-replay,
writes a synthetic log with solipass-loggen, runs `solipass-projection
--replay` twice (no live projection: the replay also writes the offsets)
under /usr/bin/time, and prints events/s, the total time, the shadow build's
share and the peak resident memory (VmHWM) of the replaying process; checks
that the two replays print the same checksums and that the audit holds; then
times PostgreSQL's own COPY of as many rows into a table shaped like
`operations` (same columns, keys and indexes) - the anchor - and prints the
ratio replay events/s over COPY rows/s."""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "deploy", "local"))

import stack as stack_module  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=300000, help="events in the log (300000)")
    parser.add_argument("--passes", type=int, default=20000, help="passes (20000)")
    parser.add_argument("--partners", type=int, default=100, help="partners (100)")
    parser.add_argument("--partitions", type=int, default=48,
                        help="ledger partitions of the devbroker (48; 5 MiB each)")
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--reference-build", default="",
                        help="a last replay with this build's solipass-projection (e.g. one of "
                             "main), whose checksums must equal this build's")
    parser.add_argument("--also-with-pgoptions", default="",
                        help="a third replay with these PGOPTIONS (e.g. \"-c plan_cache_mode="
                             "force_generic_plan\"), to compare server settings")
    return parser.parse_args()


def tool_env(stack):
    env = stack.tool_environment("projection")
    env["SP_LOG_LEVEL"] = "info"
    if os.environ.get("SP_REPLAY_CHUNK_EVENTS"):
        env["SP_REPLAY_CHUNK_EVENTS"] = os.environ["SP_REPLAY_CHUNK_EVENTS"]
    return env


def generate(stack, args):
    env = tool_env(stack)
    env.update({"SP_LOGGEN_EVENTS": str(args.events), "SP_LOGGEN_PASSES": str(args.passes),
                "SP_LOGGEN_PARTNERS": str(args.partners)})
    started = time.monotonic()
    done = subprocess.run([os.path.join(stack.build_dir, "tools", "loggen", "solipass-loggen")], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=1800)
    if done.returncode != 0:
        raise SystemExit("loggen failed:\n" + done.stderr)
    print("log: %s written in %.1f s" % (done.stdout.strip(), time.monotonic() - started))


def pg_cpu_s(stack):
    """CPU seconds PostgreSQL has used so far: its postmaster's own and its
    exited children's (reaped backends), plus its running children's. On a
    loaded machine the CPU a replay costs says more than its wall time."""
    tick = float(os.sysconf("SC_CLK_TCK"))
    try:
        with open(os.path.join(stack.pg_home, "data", "postmaster.pid")) as f:
            postmaster = int(f.readline())
    except (OSError, ValueError):
        return 0.0

    def fields(pid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
    own = fields(postmaster)
    if own is None:
        return 0.0
    total = sum(int(v) for v in own[11:15])      # utime stime cutime cstime
    for name in os.listdir("/proc"):
        if name.isdigit():
            child = fields(int(name))
            if child is not None and int(child[1]) == postmaster:
                total += int(child[11]) + int(child[12])
    return total / tick


def log_lines(stderr, msg):
    found = []
    for line in stderr.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("msg") == msg:
            found.append(entry)
    return found


PHASES = ("read_log_ms", "fold_and_send_ms", "statements_ms", "copy_ms", "commit_ms")


def phases_text(stderr, swapped):
    """The shadow build's phases (summed over its runs: the build, then the
    catch-up at the swap) and the swap's, in seconds."""
    sums = dict.fromkeys(PHASES, 0)
    for entry in log_lines(stderr, "replay shadow phases"):
        for key in PHASES:
            sums[key] += int(entry.get(key, 0))
    parts = ["%s %.2f" % (key[:-3], sums[key] / 1000.0) for key in PHASES]
    for key in ("indexes_ms", "compare_ms", "rename_ms", "copy_in_ms"):
        if key in swapped:
            parts.append("%s %.2f" % (key[:-3], int(swapped[key]) / 1000.0))
    return "phases (s): " + ", ".join(parts)


def timed_replay(stack, name, pgoptions="", binary=None):
    argv = ["/usr/bin/time", "-f", "TIME_RESULT %M %e %U %S", binary or stack.binary("projection"),
            "--replay"]
    env = tool_env(stack)
    if pgoptions:
        env["PGOPTIONS"] = pgoptions
    pg_before = pg_cpu_s(stack)
    done = subprocess.run(argv, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=3600)
    time.sleep(0.3)                              # the backend reaped
    pg_s = pg_cpu_s(stack) - pg_before
    with open(os.path.join(stack.var_dir, "logs", name.replace(" ", "-") + ".stderr"), "w") as f:
        f.write(done.stderr)
    if done.returncode != 0:
        raise SystemExit("%s failed:\n%s" % (name, done.stderr[-4000:]))
    rss_kib, seconds, cpu_s = None, None, None
    for line in done.stderr.splitlines():
        if line.startswith("TIME_RESULT "):
            fields = line.split()
            rss_kib, seconds, cpu_s = fields[1], fields[2], float(fields[3]) + float(fields[4])
    swapped = log_lines(done.stderr, "replay swapped")[-1]
    progress = log_lines(done.stderr, "replay progress")
    events = int(swapped["events"])
    print("%s: %d events in %s s: %d events/s overall (shadow built in %.1f s, compare + "
          "swap %.1f s), CPU of the replaying process %.1f s (the rest: PostgreSQL), peak "
          "memory (VmHWM) %d MiB, %d progress lines" % (
              name, events, seconds, events / float(seconds),
              int(swapped["shadow_built_ms"]) / 1000.0,
              (int(swapped["elapsed_ms"]) - int(swapped["shadow_built_ms"])) / 1000.0,
              cpu_s, int(rss_kib) // 1024, len(progress)))
    print("%s: %s" % (name, phases_text(done.stderr, swapped)))
    print("%s: CPU %.2f s (replaying process %.2f s + PostgreSQL %.2f s): %.1f us an event"
          % (name, cpu_s + pg_s, cpu_s, pg_s, (cpu_s + pg_s) * 1e6 / events))
    differing = [line for line in done.stdout.splitlines() if line.endswith(" differs")]
    if differing:
        print("%s: tables that differ from the ones it replaced: %s" % (name, "; ".join(differing)))
    sums = [line for line in done.stdout.splitlines() if line.startswith("all=")]
    return events, float(seconds), sums[0] if sums else None


def copy_anchor(stack, rows):
    """PostgreSQL's own COPY of `rows` operations-shaped rows (text format,
    from psql's standard input) into an empty table with the same keys and
    indexes as operations; returns rows/s."""
    stack.psql("DROP TABLE IF EXISTS bench_copy_anchor; "
               "CREATE TABLE bench_copy_anchor (LIKE operations INCLUDING ALL)")
    pass_ids = [str(uuid.uuid4()) for _ in range(max(1, rows // 15))]
    partner = str(uuid.uuid4())
    lines = []
    for i in range(rows):
        lines.append("%s\tpayment\t%s\t%s\tgeneral\t100\t%d\tcmd-%d\t2026-10-26 10:00:00+00\t"
                     "solipass.ledger.events.v1\t%d\t%d\tcode" % (
                         uuid.uuid4(), pass_ids[i % len(pass_ids)], partner, i, i,
                         i % 48, i))
    data = "\n".join(lines) + "\n"
    columns = ("operation_id, kind, pass_id, partner_id, category, amount_cents, "
               "pass_balance_after_cents, command_id, occurred_at, event_topic, "
               "event_partition, event_offset, channel")
    argv = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", stack.pg_socket_dir, "-p",
            str(stack.pg_port), "-U", stack_module.PG_USER, "-d", stack_module.PG_DATABASE,
            "-c", "COPY bench_copy_anchor (%s) FROM STDIN" % columns]
    pg_before = pg_cpu_s(stack)
    started = time.monotonic()
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(argv, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=600)
    seconds = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    psql_s = usage.ru_utime + usage.ru_stime - usage_before.ru_utime - usage_before.ru_stime
    time.sleep(0.3)                              # the backend reaped
    pg_s = pg_cpu_s(stack) - pg_before
    if done.returncode != 0:
        raise SystemExit("the COPY anchor failed:\n" + done.stderr)
    count = int(stack.psql("SELECT count(*) FROM bench_copy_anchor"))
    stack.psql("DROP TABLE bench_copy_anchor")
    print("anchor: PostgreSQL COPY of %d operations rows in %.2f s: %.0f rows/s"
          % (count, seconds, count / seconds))
    print("anchor: CPU %.2f s (psql %.2f s + PostgreSQL %.2f s): %.1f us a row"
          % (psql_s + pg_s, psql_s, pg_s, (psql_s + pg_s) * 1e6 / count))
    return count / seconds


def audit(stack):
    done = subprocess.run([os.path.join(stack.build_dir, "tools", "audit", "solipass-audit")], env=tool_env(stack), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=1800)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-500:]
    print("audit: exit %d, %s" % (done.returncode, summary))
    return done.returncode


def main():
    args = parse_args()
    stack = stack_module.Stack(
        build_dir=args.build_dir, var_dir=os.path.join(REPO, "var", "bench-replay"),
        fast_pg=True, extra_env={"SP_DEVBROKER_LEDGER_PARTITIONS": str(args.partitions)},
        notifications=False, quiet=False)
    stack._register_cleanup()
    stack._reset_folder()
    try:
        stack.start_postgres()
        stack.start_devbroker()
        generate(stack, args)
        events, seconds, first_sums = timed_replay(stack, "replay 1")
        _, _, second_sums = timed_replay(stack, "replay 2")
        print("checksums: %s, %s" % (first_sums, "same on the second replay"
                                     if first_sums == second_sums else "DIFFERENT: %s" % second_sums))
        print("replay_events_per_s=%.0f" % (events / seconds))
        if args.also_with_pgoptions:
            timed_replay(stack, "replay 3 (PGOPTIONS=%s)" % args.also_with_pgoptions,
                         args.also_with_pgoptions)
        same_as_reference = True
        if args.reference_build:
            binary = os.path.join(os.path.abspath(args.reference_build), "services", "projection",
                                  "solipass-projection")
            _, _, reference_sums = timed_replay(stack, "reference replay", binary=binary)
            same_as_reference = reference_sums == first_sums
            print("reference checksums: %s" % ("the same" if same_as_reference
                                               else "DIFFERENT: %s" % reference_sums))
        anchor = copy_anchor(stack, events)
        print("anchor_copy_rows_per_s=%.0f" % anchor)
        print("ratio_replay_over_copy=%.3f" % (events / seconds / anchor))
        status = audit(stack)
        return 0 if first_sums == second_sums and same_as_reference and status == 0 else 1
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
