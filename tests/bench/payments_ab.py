#!/usr/bin/python3
"""payments_ab.py - two builds through the payments benchmark, alternated
(run it through tests/bench/payments-ab).

One run of tests/bench/payments takes a fresh stack and its own anchor, yet
two runs of the same build a few minutes apart differ by 20% or more on this
kind of machine: a change is judged by several runs of each build taken in
turn (A, B, A, B, ...), not by one run after another. Prints each run's
figures as it ends, then per build the median of each figure over its runs
and, for the figures where it means something, B's median over A's."""

import argparse
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
RUN_TIMEOUT_S = 900
# The figures compared, in the order printed; every other key=value line is kept per run only.
KEYS = ("ratio_ours_over_anchor", "payments_per_s", "anchor_pg_ledger_tps", "latency_p50_ms",
        "latency_p99_ms", "half_rate_latency_p50_ms", "half_rate_latency_p99_ms",
        "cpu_us_per_payment_total", "cpu_us_per_payment_devbroker",
        "cpu_us_per_payment_postgresql", "cpu_us_per_payment_gateway",
        "cpu_us_per_payment_transactions", "cpu_us_per_payment_finance",
        "cpu_us_per_payment_projection")


def parse_args():
    """Its own arguments before a "--", the payments runs' after it."""
    argv = sys.argv[1:]
    bench_args = []
    if "--" in argv:
        cut = argv.index("--")
        argv, bench_args = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     epilog="after --: arguments for every payments run "
                                            "(e.g. -- --seconds 30)")
    parser.add_argument("build_a", help="build directory A (the reference), e.g. build")
    parser.add_argument("build_b", help="build directory B (the change)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each build (default 3)")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be between 1 and 20")
    for build in (args.build_a, args.build_b):
        path = build if os.path.isabs(build) else os.path.join(REPO, build)
        if not os.path.isfile(os.path.join(path, "build.ninja")):
            parser.error("%s is not a meson build directory" % build)
    args.bench_args = bench_args
    return args


def figures_of(output):
    """The key=value tokens of a run's output, numbers as floats."""
    figures = {}
    for line in output.splitlines():
        for token in line.split():
            key, sep, value = token.partition("=")
            if not sep:
                continue
            try:
                figures[key] = float(value)
            except ValueError:
                pass
    return figures


def run_once(build, bench_args):
    """One payments run of this build; its figures, or an exit on failure
    (a run that fails says more than any median)."""
    argv = [sys.executable, os.path.join(HERE, "payments.py"), "--build-dir", build] + bench_args
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        sys.exit("the payments run of %s failed (status %d)" % (build, done.returncode))
    if "ledger sum after the run: 0 (must be 0)" not in done.stdout:
        sys.exit("the payments run of %s did not end with a ledger summing to 0" % build)
    return figures_of(done.stdout)


def print_run(label, round_number, figures):
    shown = " ".join("%s=%g" % (key, figures[key]) for key in KEYS if key in figures)
    print("run %s %d: %s" % (label, round_number, shown), flush=True)


def print_medians(runs_a, runs_b):
    print("figure median_a median_b b_over_a")
    for key in KEYS:
        a = [run[key] for run in runs_a if key in run]
        b = [run[key] for run in runs_b if key in run]
        if not a or not b:
            continue
        median_a, median_b = statistics.median(a), statistics.median(b)
        ratio = "%.3f" % (median_b / median_a) if median_a > 0 else "-"
        print("%s %g %g %s" % (key, median_a, median_b, ratio))


def main():
    args = parse_args()
    runs = {"a": [], "b": []}
    for round_number in range(1, args.rounds + 1):
        for label, build in (("a", args.build_a), ("b", args.build_b)):
            figures = run_once(build, args.bench_args)
            runs[label].append(figures)
            print_run(label, round_number, figures)
    print_medians(runs["a"], runs["b"])


if __name__ == "__main__":
    main()
