#!/usr/bin/python3
"""recovery.py - the recovery benchmark (run it through tests/bench/recovery).
For a log of N and one of 10 x N ledger events (solipass-loggen: the same
passes and partners, more payments - a city's history growing month after
month), times the transactions service's start until it logs "ready"
(every partition rebuilt): --runs times from the whole log (the anchor:
no snapshot folder) and --runs times from its snapshots (taken by a first
start and its clean stop). Prints the medians, the ratio 10N/N of each
(with snapshots it should stay within 2x; without, it grows with the
log), the ratio snapshot/anchor at each size, and the load average."""

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
    parser.add_argument("--build-dir", default="build")
    return parser.parse_args()


def generate(stack, args, events):
    env = stack.tool_environment("projection")
    env.update({"SP_LOGGEN_EVENTS": str(events), "SP_LOGGEN_PASSES": str(args.passes),
                "SP_LOGGEN_PARTNERS": str(args.partners)})
    done = subprocess.run([os.path.join(stack.build_dir, "tools", "loggen", "solipass-loggen")],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=1800)
    if done.returncode != 0:
        raise SystemExit("loggen failed:\n" + done.stderr)
    print("log: %s" % done.stdout.strip())


def timed_start(stack, snapshot_dir):
    """Seconds from the start of solipass-transactions to its "ready" line;
    then a clean stop (which writes the snapshots when a folder is set)."""
    stack.service_env["transactions"] = {"SP_SNAPSHOT_DIR": snapshot_dir,
                                         "SP_SNAPSHOT_EVERY_EVENTS": "1000000000"}
    started = time.monotonic()
    stack.start_service("transactions")
    seconds = time.monotonic() - started
    stack.stop_service("transactions")
    return seconds


def encode_ms(stack):
    """The writer's pauses: encode_ms of every "ledger snapshot taken" line."""
    pauses = []
    with open(stack.log_path("transactions")) as f:
        for line in f:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("msg") == "ledger snapshot taken":
                pauses.append(int(entry["encode_ms"]))
    return pauses


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
    first = timed_start(stack, snapshot_dir)      # the whole log, then snapshots at the stop
    size = sum(os.path.getsize(p) for p in glob.glob(os.path.join(snapshot_dir, "*.snap")))
    pauses = encode_ms(stack)
    anchor, snap = [], []
    for _ in range(args.runs):   # interleaved: the machine's load weighs on both alike
        anchor.append(timed_start(stack, ""))
        snap.append(timed_start(stack, snapshot_dir))
    result = {"events": events, "anchor_s": statistics.median(anchor),
              "snapshot_s": statistics.median(snap), "snapshot_bytes": size}
    print("%d events: from the whole log %s s (median %.2f), from snapshots %s s (median %.2f),"
          " snapshots %d bytes in %d files (encoding them paused the writer %d ms in all, %d ms"
          " at most for one partition); the first start %.2f s"
          % (events, " ".join("%.2f" % s for s in anchor), result["anchor_s"],
             " ".join("%.2f" % s for s in snap), result["snapshot_s"], size,
             len(glob.glob(os.path.join(snapshot_dir, "*.snap"))), sum(pauses),
             max(pauses or [0]), first))
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
