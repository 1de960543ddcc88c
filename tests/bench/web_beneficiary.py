#!/usr/bin/python3
"""web_beneficiary.py - the beneficiary app's budgets (run it through
tests/bench/web-beneficiary).

1. Bytes: the JavaScript and CSS the app's first load fetches (the assets
   named by web/dist/beneficiaire/index.html), after gzip and brotli,
   against the budget of 60 KiB.
2. Time: starts a stack from the release build `build`, creates a partner and
   a credited beneficiary over HTTP, then measures in Chromium
   (web-beneficiary-load.mjs: a new context per run, the session cookie set
   over the API, CPU 4x slower, Lighthouse's slow 4G: 150 ms round trips,
   1.6 Mbit/s down) the time from opening /payer/<code> to the amount field
   usable, from the navigation's start, cold and on reload, against the
   budget of 1.5 s. Each figure is printed with its ratio to the budget."""

import argparse
import uuid

from web_budget import PASSWORD, api, backoffice_token, create_partner, new_key, new_stack, \
    print_bytes, run_measure

BYTES_BUDGET = 60 * 1024
USABLE_BUDGET_MS = 1500


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="page loads measured (default 5)")
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--bytes-only", action="store_true", help="only the bytes, no stack")
    return parser.parse_args()


def prepare(base):
    bo = backoffice_token(base)
    partner = create_partner(base, bo, "bench-%s@example.org" % uuid.uuid4().hex[:8])
    email = "bench-ben-%s@example.org" % uuid.uuid4().hex[:8]
    ben = api(base, "POST", "/api/v1/beneficiaries",
              {"email": email, "password": PASSWORD, "full_name": "Bench",
               "envelopes": [{"category": "general"}, {"category": "sport"}]}, token=bo, key=new_key())
    for category in ("general", "sport"):
        api(base, "POST", "/api/v1/passes/%s/credits" % ben["pass_id"],
            {"category": category, "amount_cents": 10000}, token=bo, key=new_key())
    return email, partner["partner_code"]


def main():
    args = parse_args()
    print_bytes("beneficiary app", "beneficiaire", BYTES_BUDGET)
    if args.bytes_only:
        return
    stack = new_stack(args.build_dir, "bench-web-beneficiary")
    stack.start()
    try:
        base = stack.gateway_url
        email, code = prepare(base)
        result = run_measure("web-beneficiary-load.mjs", dict(
            SP_TEST_BASE_URL=base, SP_BENCH_EMAIL=email, SP_BENCH_PASSWORD=PASSWORD,
            SP_BENCH_PARTNER_CODE=code, SP_BENCH_RUNS=str(args.runs)))
        print("amount field usable after opening /payer/<code> (CPU 4x slower, slow 4G):")
        print("  cold cache: runs %s ms, median %d ms; budget 1.5 s: ratio %.2f"
              % (result["cold_runs"], result["cold_median_ms"], result["cold_median_ms"] / USABLE_BUDGET_MS))
        print("  reload (service worker): runs %s ms, median %d ms; ratio %.2f"
              % (result["warm_runs"], result["warm_median_ms"], result["warm_median_ms"] / USABLE_BUDGET_MS))
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
