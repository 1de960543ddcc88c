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
import json
import os
import re
import subprocess
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "deploy", "local"))
import stack as stack_module  # noqa: E402
import demo_data  # noqa: E402

BYTES_BUDGET = 60 * 1024
USABLE_BUDGET_MS = 1500
PASSWORD = "bench-password-1"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="page loads measured (default 5)")
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--bytes-only", action="store_true", help="only the bytes, no stack")
    return parser.parse_args()


def shipped_bytes():
    dist = os.path.join(REPO, "web", "dist")
    with open(os.path.join(dist, "beneficiaire", "index.html")) as f:
        html = f.read()
    assets = re.findall(r'(?:src|href)="/assets/([^"]+)"', html)
    raw = gz = br = 0
    for name in assets:
        path = os.path.join(dist, "assets", name)
        raw += os.path.getsize(path)
        gz += os.path.getsize(path + ".gz")
        br += os.path.getsize(path + ".br")
    return assets, raw, gz, br


def api(base, method, path, body=None, token=None, key=None):
    return demo_data.call(base, method, path, body, token=token, key=key)


def prepare(base):
    bo = api(base, "POST", "/api/v1/auth/login",
             {"email": "backoffice@example.org", "password": "backoffice-pass-1"})["token"]
    partner = api(base, "POST", "/api/v1/partners",
                  {"name": "Club de bench", "category": "sport",
                   "admin_email": "bench-%s@example.org" % uuid.uuid4().hex[:8],
                   "admin_password": PASSWORD, "admin_full_name": "Bench"}, token=bo, key=uuid.uuid4().hex)
    email = "bench-ben-%s@example.org" % uuid.uuid4().hex[:8]
    ben = api(base, "POST", "/api/v1/beneficiaries",
              {"email": email, "password": PASSWORD, "full_name": "Bench",
               "envelopes": [{"category": "general"}, {"category": "sport"}]}, token=bo, key=uuid.uuid4().hex)
    for category in ("general", "sport"):
        api(base, "POST", "/api/v1/passes/%s/credits" % ben["pass_id"],
            {"category": category, "amount_cents": 10000}, token=bo, key=uuid.uuid4().hex)
    return email, partner["partner_code"]


def main():
    args = parse_args()
    subprocess.run([os.path.join(REPO, "web", "build")], check=True)
    assets, raw, gz, br = shipped_bytes()
    print("beneficiary app, first load: %s" % ", ".join(assets))
    print("  JS+CSS: %d bytes, gzip %d bytes (%.1f KiB), brotli %d bytes (%.1f KiB)"
          % (raw, gz, gz / 1024, br, br / 1024))
    print("  budget 60 KiB after compression: gzip ratio %.2f, brotli ratio %.2f"
          % (gz / BYTES_BUDGET, br / BYTES_BUDGET))
    if args.bytes_only:
        return
    stack = stack_module.Stack(build_dir=args.build_dir,
                               var_dir=os.path.join(REPO, "var", "bench-web-beneficiary"),
                               notifications=False, quiet=True)
    stack.start()
    try:
        base = stack.gateway_url
        email, code = prepare(base)
        env = dict(os.environ, SP_TEST_BASE_URL=base, SP_BENCH_EMAIL=email, SP_BENCH_PASSWORD=PASSWORD,
                   SP_BENCH_PARTNER_CODE=code, SP_BENCH_RUNS=str(args.runs))
        done = subprocess.run(["node", os.path.join(HERE, "web-beneficiary-load.mjs")], env=env, cwd=REPO,
                              stdout=subprocess.PIPE, check=True, timeout=900)
        result = json.loads(done.stdout.decode().strip().splitlines()[-1])
        print("amount field usable after opening /payer/<code> (CPU 4x slower, slow 4G):")
        print("  cold cache: runs %s ms, median %d ms; budget 1.5 s: ratio %.2f"
              % (result["cold_runs"], result["cold_median_ms"], result["cold_median_ms"] / USABLE_BUDGET_MS))
        print("  reload (service worker): runs %s ms, median %d ms; ratio %.2f"
              % (result["warm_runs"], result["warm_median_ms"], result["warm_median_ms"] / USABLE_BUDGET_MS))
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
