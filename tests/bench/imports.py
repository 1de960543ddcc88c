#!/usr/bin/python3
"""imports.py - the CSV enrolment benchmark (run it through tests/bench/imports).

Starts a stack from the release build `build` in var/bench-imports, logs in
the back-office, and for each --lines N uploads a CSV file of N new people
(POST /api/v1/beneficiaries/imports, Idempotency-Key) and polls the run
until it is done; prints N, seconds and lines/s, and checks that every line
was enrolled and credited. The anchor, in the same run against the same
stack: --anchor-lines people enrolled (no password) and credited one by one,
two requests each, sequentially over HTTP; the ratio compares time per line."""

import argparse
import json
import os
import sys
import time
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "deploy", "local"))
import stack as stack_module  # noqa: E402
import demo_data  # noqa: E402

AMOUNT_CENTS = 5000
DONE_TIMEOUT_S = 1800


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[200, 2000])
    parser.add_argument("--anchor-lines", type=int, default=200)
    parser.add_argument("--build-dir", default="build")
    return parser.parse_args()


def upload(base, token, data, key):
    request = urllib.request.Request(
        base + "/api/v1/beneficiaries/imports?category=sport&amount_cents=%d" % AMOUNT_CENTS,
        data=data, method="POST",
        headers={"Content-Type": "text/csv", "Authorization": "Bearer " + token,
                 "Idempotency-Key": key})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read().decode())


def one_import(base, token, lines):
    tag = uuid.uuid4().hex[:8]
    rows = ["nom;prenom;email"] + ["Nom%d;Prénom;bench-%s-%d@example.org" % (i, tag, i)
                                   for i in range(lines)]
    data = ("\r\n".join(rows) + "\r\n").encode()
    started = time.monotonic()
    job = upload(base, token, data, "bench-import-" + tag)
    while job["state"] != "done" and time.monotonic() - started < DONE_TIMEOUT_S:
        time.sleep(0.05)
        job = demo_data.call(base, "GET", "/api/v1/beneficiaries/imports/" + job["import_id"],
                             token=token)
    elapsed = time.monotonic() - started
    if (job["state"], job["enrolled"], job["credited"]) != ("done", lines, lines):
        raise SystemExit("the run did not enrol and credit every line: %r" %
                         {k: v for k, v in job.items() if k != "problems"})
    return elapsed


def anchor(base, token, lines):
    tag = uuid.uuid4().hex[:8]
    started = time.monotonic()
    for i in range(lines):
        created = demo_data.call(base, "POST", "/api/v1/beneficiaries", {
            "email": "anchor-%s-%d@example.org" % (tag, i), "full_name": "Prénom Nom%d" % i,
            "envelopes": [{"category": "sport"}]}, token=token, key="anchor-%s-%d" % (tag, i))
        demo_data.call(base, "POST", "/api/v1/passes/%s/credits" % created["pass_id"],
                       {"category": "sport", "amount_cents": AMOUNT_CENTS}, token=token,
                       key="anchor-credit-%s-%d" % (tag, i))
    return time.monotonic() - started


def main():
    args = parse_args()
    stack = stack_module.Stack(build_dir=args.build_dir,
                               var_dir=os.path.join(REPO, "var", "bench-imports"),
                               notifications=False, quiet=False)
    stack.start()
    try:
        base = stack.gateway_url
        token = demo_data.call(base, "POST", "/api/v1/auth/login",
                               {"email": stack.bootstrap_email,
                                "password": stack.bootstrap_password})["token"]
        per_line = None
        for lines in args.lines:
            elapsed = one_import(base, token, lines)
            print("import lines=%d seconds=%.2f lines_per_s=%.0f" % (lines, elapsed, lines / elapsed))
            per_line = elapsed / lines
        anchor_s = anchor(base, token, args.anchor_lines)
        print("anchor_one_by_one lines=%d seconds=%.2f lines_per_s=%.0f" % (
            args.anchor_lines, anchor_s, args.anchor_lines / anchor_s))
        print("ratio_ours_time_per_line_over_anchor=%.2f" % (per_line / (anchor_s / args.anchor_lines)))
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
