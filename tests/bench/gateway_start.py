#!/usr/bin/python3
"""gateway_start.py - how long a gateway takes to start with many users
(run it through tests/bench/gateway_start). Starts PostgreSQL and the
devbroker in var/bench-gateway-start, writes --users beneficiaries with one
open session each straight to the accounts events topic (solipass-loggen:
two events a user, about 255 bytes each; the devbroker keeps at most 5 MiB
of its one partition, about 8,000 such users: more and the gateway refuses
to start, log_truncated), then starts a gateway and reports the "session
directory read" line it logs before it answers anything (users, sessions,
events, elapsed_ms) and the time until /healthz answers."""

import argparse
import json
import os
import signal
import subprocess
import sys
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "deploy", "local"))

import stack as stack_module  # noqa: E402

START_TIMEOUT_S = 300


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=8000, help="users (8000)")
    parser.add_argument("--build-dir", default="build")
    return parser.parse_args()


def generate(stack, users):
    stack.gateway_port = stack_module.free_port()
    env = stack.tool_environment("projection")
    env.update({"SP_LOGGEN_USERS": str(users), "SP_LOGGEN_PARTNERS": "1",
                "SP_LOGGEN_PASSES": "1", "SP_LOGGEN_EVENTS": str(2 * users + 3)})
    done = subprocess.run([os.path.join(stack.build_dir, "tools", "loggen", "solipass-loggen")],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=1800)
    if done.returncode != 0:
        raise SystemExit("loggen failed:\n" + done.stderr)
    print("log: %s" % done.stdout.strip())


def directory_line(log_path):
    with open(log_path) as f:
        for line in f:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("msg") == "session directory read":
                return entry
    return None


def start_gateway(stack, log_path):
    port = stack_module.free_port()
    stack.gateway_port = port            # tool_environment() names it as the public URL
    env = stack.tool_environment("gateway")
    env.update({"SP_HTTP_PORT": str(port), "SP_PUBLIC_URL": "http://127.0.0.1:%d" % port})
    with open(log_path, "wb") as log:
        started = time.monotonic()
        proc = subprocess.Popen([stack.binary("gateway")], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        while True:
            if proc.poll() is not None:
                raise SystemExit("the gateway exited: see %s" % log_path)
            try:
                if requests.get("http://127.0.0.1:%d/healthz" % port, timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() - started > START_TIMEOUT_S:
                raise SystemExit("the gateway did not start: see %s" % log_path)
            time.sleep(0.02)
        return time.monotonic() - started
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def main():
    args = parse_args()
    stack = stack_module.Stack(build_dir=args.build_dir,
                               var_dir=os.path.join(REPO, "var", "bench-gateway-start"),
                               fast_pg=True, notifications=False, quiet=False)
    stack._register_cleanup()
    stack._reset_folder()
    try:
        stack.start_postgres()
        stack.start_devbroker()
        generate(stack, args.users)
        log_path = os.path.join(stack.logs_dir, "gateway-start.log")
        os.makedirs(stack.logs_dir, exist_ok=True)
        healthy_s = start_gateway(stack, log_path)
        line = directory_line(log_path)
        if line is None:
            raise SystemExit("no session directory line in %s" % log_path)
        print("directory: users=%s sessions=%s events=%s read in %s ms" % (
            line["users"], line["sessions"], line["events"], line["elapsed_ms"]))
        print("gateway_start_directory_ms=%s" % line["elapsed_ms"])
        print("gateway_start_to_healthz_s=%.2f" % healthy_s)
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
