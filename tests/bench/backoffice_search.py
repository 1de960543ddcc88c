#!/usr/bin/python3
"""backoffice_search.py - the back-office beneficiaries search benchmark (run
it through tests/bench/backoffice_search).

Starts a stack from the release build `build` in var/bench, loads N
beneficiaries (users, their passes and envelopes) straight into the read
model with COPY (what the projection would have written), then times the
console's requests over HTTP, each --requests times: a search on part of a
name, on part of an e-mail, a search that matches many, the first page with
no filter, a category filter, the closed passes, and the tenth page
followed by cursor. Prints, per request, the median and the 95th
percentile in milliseconds and the rows it matched. The anchor, in the same
run: GET /api/v1/me, a request with the same session check and no list
(the ratio is a request's median over the anchor's)."""

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import time
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "deploy", "local"))
import stack as stack_module  # noqa: E402
import demo_data  # noqa: E402
from exports import psql_argv  # noqa: E402  (the exports benchmark's psql command line)

FIRST = ["Amélie", "Bernard", "Chloé", "David", "Élodie", "Fatou", "Gaëlle", "Hugo", "Inès",
         "Jules", "Karim", "Léa", "Mamadou", "Nina", "Océane", "Paul", "Quentin", "Rose",
         "Samir", "Théo", "Ursule", "Victor", "Yasmine", "Zoé"]
LAST = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
        "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David",
        "Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard", "André", "Mercier",
        "Diallo", "Traoré", "Nguyen", "Benali"]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--beneficiaries", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=50, help="per measured request")
    parser.add_argument("--build-dir", default="build")
    return parser.parse_args()


def copy(stack, table, columns, lines):
    argv = psql_argv(stack) + ["-c", "COPY %s (%s) FROM STDIN" % (table, columns)]
    done = subprocess.run(argv, input=("\n".join(lines) + "\n").encode(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=600)
    if done.returncode != 0:
        raise SystemExit("COPY %s failed: %s" % (table, done.stderr.decode()))


def load_beneficiaries(stack, count):
    """count beneficiaries, every fifth with a food envelope, every fiftieth closed."""
    now = datetime.datetime.now(datetime.timezone.utc).isoformat()
    users, passes, envelopes = [], [], []
    for i in range(count):
        user_id, pass_id = str(uuid.uuid4()), str(uuid.uuid4())
        name = "%s %s %d" % (FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)], i)
        email = "person%06d@bench.example.org" % i
        users.append("\t".join((user_id, email, "", name, "beneficiary", pass_id, now)))
        closed = now if i % 50 == 0 else "\\N"
        passes.append("\t".join((pass_id, user_id, str(1000 + i % 5000), "2", now, now, closed)))
        envelopes.append("\t".join((pass_id, "general", "1000")))
        if i % 5 == 0:
            envelopes.append("\t".join((pass_id, "food", "0")))
    copy(stack, "users", "user_id, email, password_hash, full_name, role, pass_id, created_at",
         users)
    copy(stack, "passes", "pass_id, beneficiary_id, balance_cents, version, opened_at,"
         " updated_at, closed_at", passes)
    copy(stack, "envelopes", "pass_id, category, balance_cents", envelopes)
    stack.psql("ANALYZE users; ANALYZE passes; ANALYZE envelopes")


def timed(base, path, token, runs):
    """(median ms, p95 ms, last answer) of runs GETs."""
    times, answer = [], None
    for _ in range(runs):
        started = time.perf_counter()
        answer = demo_data.call(base, "GET", path, token=token)
        times.append((time.perf_counter() - started) * 1000.0)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))], answer


def tenth_page_path(base, token):
    cursor = None
    for _ in range(9):
        page = demo_data.call(base, "GET", "/api/v1/beneficiaries?limit=50" +
                              ("&cursor=" + urllib.parse.quote(cursor) if cursor else ""),
                              token=token)
        cursor = page["next_cursor"]
    return "/api/v1/beneficiaries?limit=50&cursor=" + urllib.parse.quote(cursor)


def main():
    args = parse_args()
    stack = stack_module.Stack(build_dir=args.build_dir, var_dir=os.path.join(REPO, "var", "bench"),
                               notifications=False, quiet=False)
    stack.start()
    try:
        base = stack.gateway_url
        token = demo_data.call(base, "POST", "/api/v1/auth/login",
                               {"email": stack.bootstrap_email,
                                "password": stack.bootstrap_password})["token"]
        started = time.monotonic()
        load_beneficiaries(stack, args.beneficiaries)
        print("loaded %d beneficiaries with COPY in %.1f s" % (
            args.beneficiaries, time.monotonic() - started))
        anchor, _, _ = timed(base, "/api/v1/me", token, args.requests)
        print("load_average_1min=%.2f" % os.getloadavg()[0])
        print("anchor_me_median_ms=%.2f" % anchor)
        # Part of the name of the 1234th, in lower case: "mercier 1234".
        name_part = "%s %d" % (LAST[(1234 // len(FIRST)) % len(LAST)].lower(), 1234)
        searches = [("name_part", "/api/v1/beneficiaries?q=" + urllib.parse.quote(name_part)),
                    ("email_part", "/api/v1/beneficiaries?q=PERSON01999"),
                    ("many", "/api/v1/beneficiaries?q=mar"),
                    ("first_page", "/api/v1/beneficiaries"),
                    ("category", "/api/v1/beneficiaries?category=food"),
                    ("closed", "/api/v1/beneficiaries?status=closed"),
                    ("tenth_page", tenth_page_path(base, token))]
        for name, path in searches:
            median, p95, answer = timed(base, path, token, args.requests)
            print("%s: median_ms=%.2f p95_ms=%.2f total=%d shown=%d ratio_over_anchor=%.2f" % (
                name, median, p95, answer["total"], len(answer["beneficiaries"]),
                median / anchor))
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
