#!/usr/bin/python3
"""recovery.py - the recovery benchmark (run it through tests/bench/recovery).
For a log of N and one of 10 x N events (solipass-loggen), times a writer's
start until it logs "ready": --runs times from the whole log (the anchor:
no snapshot folder) and --runs times from its snapshots (taken by a first
start and its clean stop). --service transactions (the default): N ledger
events, the same passes and partners, more payments - a city's history
growing month after month - every partition rebuilt. --service accounts:
N accounts events, the same --users beneficiaries, more logins and logouts
a minute apart - the same state at the end of a longer history. Prints the
medians, the ratio 10N/N of each (with snapshots it should stay within 2x;
without, it grows with the log), the ratio snapshot/anchor at each size,
and the load average."""

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "deploy", "local"))

import stack as stack_module  # noqa: E402

PARTITIONS = 48


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=30000, help="N: events of the small log (30000)")
    parser.add_argument("--passes", type=int, default=2000, help="passes in both logs (2000)")
    parser.add_argument("--partners", type=int, default=50, help="partners (50)")
    parser.add_argument("--runs", type=int, default=3, help="timed starts of each kind (3)")
    parser.add_argument("--users", type=int, default=2000,
                        help="beneficiaries in both logs, --service accounts (2000)")
    parser.add_argument("--service", choices=("transactions", "accounts"), default="transactions")
    parser.add_argument("--build-dir", default="build")
    return parser.parse_args()


# What differs between the two writers: the log they rebuild from, the
# snapshot files they write and the line that says one was taken.
WRITERS = {
    "transactions": {"files": "ledger-*.snap", "taken": "ledger snapshot taken",
                     "rebuilt": "ledger partition rebuilt"},
    "accounts": {"files": "accounts-*.snap", "taken": "accounts snapshot taken",
                 "rebuilt": "state rebuilt"},
}


def loggen_settings(args, events):
    if args.service == "transactions":
        return {"SP_LOGGEN_EVENTS": str(events), "SP_LOGGEN_PASSES": str(args.passes),
                "SP_LOGGEN_PARTNERS": str(args.partners)}
    # One partner and one pass (two ledger events): the rest is accounts events.
    logins = (events - 1 - 2 * args.users) // 2
    if logins < 0:
        raise SystemExit("--events must be at least 2 x --users + 1")
    return {"SP_LOGGEN_USERS": str(args.users), "SP_LOGGEN_LOGINS": str(logins),
            "SP_LOGGEN_PASSES": "1", "SP_LOGGEN_PARTNERS": "1",
            "SP_LOGGEN_EVENTS": str(1 + 2 * args.users + 2 * logins + 2)}


def generate(stack, args, events):
    env = stack.tool_environment("projection")
    env.update(loggen_settings(args, events))
    done = subprocess.run([os.path.join(stack.build_dir, "tools", "loggen", "solipass-loggen")],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=1800)
    if done.returncode != 0:
        raise SystemExit("loggen failed:\n" + done.stderr)
    print("log: %s" % done.stdout.strip())


def log_entries(stack, service, msg, offset=0):
    """The service's log lines of that message, from byte offset on."""
    entries = []
    with open(stack.log_path(service), "rb") as f:
        f.seek(offset)
        for line in f:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("msg") == msg:
                entries.append(entry)
    return entries


def timed_start(stack, service, snapshot_dir):
    """Seconds from the start of the service to its "ready" line, and the
    longest rebuild its log reports (ms: the replay alone, without
    connecting and joining the group); then a clean stop (which writes the
    snapshots when a folder is set)."""
    stack.service_env[service] = {"SP_SNAPSHOT_DIR": snapshot_dir,
                                  "SP_SNAPSHOT_EVERY_EVENTS": "1000000000"}
    path = stack.log_path(service)
    offset = os.path.getsize(path) if os.path.exists(path) else 0
    started = time.monotonic()
    stack.start_service(service)
    seconds = time.monotonic() - started
    stack.stop_service(service)
    rebuilt = log_entries(stack, service, WRITERS[service]["rebuilt"], offset)
    return seconds, max([int(e.get("ms", 0)) for e in rebuilt] or [0])


def encode_ms(stack, service):
    """The writer's pauses: encode_ms of every "... snapshot taken" line."""
    return [int(e["encode_ms"]) for e in log_entries(stack, service, WRITERS[service]["taken"])]


def measure(stack, args, events, fresh):
    if not fresh:
        stack.stop()
        stack._reset_folder()
    stack.start_postgres()
    stack.start_devbroker()
    generate(stack, args, events)
    snapshot_dir = os.path.join(stack.var_dir, "snapshots")
    for path in glob.glob(os.path.join(snapshot_dir, "*")):
        os.unlink(path)
    service = args.service
    files = os.path.join(snapshot_dir, WRITERS[service]["files"])
    first, _ = timed_start(stack, service, snapshot_dir)   # the whole log, then snapshots at the stop
    size = sum(os.path.getsize(p) for p in glob.glob(files))
    pauses = encode_ms(stack, service)
    anchor, snap, anchor_ms, snap_ms = [], [], [], []
    for _ in range(args.runs):   # interleaved: the machine's load weighs on both alike
        seconds, ms = timed_start(stack, service, "")
        anchor.append(seconds)
        anchor_ms.append(ms)
        seconds, ms = timed_start(stack, service, snapshot_dir)
        snap.append(seconds)
        snap_ms.append(ms)
    result = {"events": events, "anchor_s": statistics.median(anchor),
              "snapshot_s": statistics.median(snap), "snapshot_bytes": size,
              "anchor_rebuild_ms": statistics.median(anchor_ms),
              "snapshot_rebuild_ms": statistics.median(snap_ms)}
    print("%s, %d events: from the whole log %s s (median %.2f), from snapshots %s s (median %.2f),"
          " snapshots %d bytes in %d files (encoding them paused the writer %d ms in all, %d ms"
          " at most for one partition); the first start %.2f s"
          % (service, events, " ".join("%.2f" % s for s in anchor), result["anchor_s"],
             " ".join("%.2f" % s for s in snap), result["snapshot_s"], size,
             len(glob.glob(files)), sum(pauses),
             max(pauses or [0]), first))
    print("%s, %d events: the rebuild alone (its log's ms, longest partition) from the whole log"
          " %s ms (median %.0f), from snapshots %s ms (median %.0f)"
          % (service, events, " ".join(str(ms) for ms in anchor_ms), result["anchor_rebuild_ms"],
             " ".join(str(ms) for ms in snap_ms), result["snapshot_rebuild_ms"]))
    return result


def main():
    args = parse_args()
    stack = stack_module.Stack(
        build_dir=args.build_dir, var_dir=os.path.join(REPO, "var", "bench-recovery"),
        fast_pg=True, extra_env={"SP_DEVBROKER_LEDGER_PARTITIONS": str(PARTITIONS)},
        notifications=False, quiet=True)
    stack._register_cleanup()
    stack._reset_folder()
    try:
        small = measure(stack, args, args.events, True)
        large = measure(stack, args, args.events * 10, False)
    finally:
        stack.stop()
    print("load average: %s" % " ".join("%.2f" % v for v in os.getloadavg()))
    print("anchor_ratio_10n_over_n=%.2f" % (large["anchor_s"] / small["anchor_s"]))
    print("snapshot_ratio_10n_over_n=%.2f" % (large["snapshot_s"] / small["snapshot_s"]))
    print("snapshot_over_anchor_n=%.2f" % (small["snapshot_s"] / small["anchor_s"]))
    print("snapshot_over_anchor_10n=%.2f" % (large["snapshot_s"] / large["anchor_s"]))
    for name in ("anchor_rebuild_ms", "snapshot_rebuild_ms"):
        print("%s_ratio_10n_over_n=%.2f" % (name, large[name] / max(small[name], 1)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
