#!/usr/bin/python3
"""web.py - the partner space's budgets (run it through tests/bench/web).

1. Bytes: the JavaScript and CSS the partner space's first load fetches
   (the assets named by web/dist/partenaire/index.html), after gzip (the .gz
   files the gateway sends), against the budget of 100 KiB; brotli too.
2. Time: starts a stack from the release build `build` in var/bench-web,
   makes N payments (default 1,000) at one partner over HTTP, then measures
   in Chromium with a 4x CPU slowdown how long the operations list takes to
   be usable (web-load.mjs; cold cache, --runs runs, median) against the
   budget of 2 s. Each figure is printed with its ratio to the budget."""

import argparse
import concurrent.futures
import uuid

from web_budget import PASSWORD, api, backoffice_token, create_partner, new_key, new_stack, \
    print_bytes, run_measure

BYTES_BUDGET = 100 * 1024
USABLE_BUDGET_MS = 2000


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--operations", type=int, default=1000, help="payments at the partner (default 1000)")
    parser.add_argument("--runs", type=int, default=5, help="page loads measured (default 5)")
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--bytes-only", action="store_true", help="only the bytes, no stack")
    return parser.parse_args()


def load_payments(base, count):
    bo = backoffice_token(base)
    email = "bench-%s@example.org" % uuid.uuid4().hex[:8]
    partner = create_partner(base, bo, email)
    # One pass per 100 payments: a pass's partition is its own writer, so
    # payments on several passes run side by side.
    passes = []
    for i in range((count + 99) // 100):
        ben_email = "bench-ben-%s@example.org" % uuid.uuid4().hex[:8]
        ben = api(base, "POST", "/api/v1/beneficiaries",
                  {"email": ben_email, "password": PASSWORD, "full_name": "Bench %d" % i,
                   "envelopes": [{"category": "sport"}]}, token=bo, key=new_key())
        api(base, "POST", "/api/v1/passes/%s/credits" % ben["pass_id"],
            {"category": "sport", "amount_cents": 1000000}, token=bo, key=new_key())
        token = api(base, "POST", "/api/v1/auth/login", {"email": ben_email, "password": PASSWORD})["token"]
        passes.append(token)

    def pay(i):
        api(base, "POST", "/api/v1/pass/payments",
            {"partner_code": partner["partner_code"], "amount_cents": 100 + i % 5000},
            token=passes[i // 100], key=new_key())

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(pay, range(count)))
    return email


def main():
    args = parse_args()
    print_bytes("partner space", "partenaire", BYTES_BUDGET)
    if args.bytes_only:
        return
    stack = new_stack(args.build_dir, "bench-web")
    stack.start()
    try:
        base = stack.gateway_url
        print("loading %d payments at one partner over HTTP..." % args.operations)
        email = load_payments(base, args.operations)
        result = run_measure("web-load.mjs", dict(
            SP_TEST_BASE_URL=base, SP_BENCH_EMAIL=email, SP_BENCH_PASSWORD=PASSWORD,
            SP_BENCH_RUNS=str(args.runs), SP_BENCH_CPU_RATE="4"))
        print("operations list usable (%d operations, CPU 4x slower, cold cache): runs %s ms"
              % (args.operations, result["runs"]))
        print("  median %d ms; budget 2 s: ratio %.2f" % (result["median_ms"], result["median_ms"] / USABLE_BUDGET_MS))
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
