#!/usr/bin/python3
"""slowclients.py - a normal request's latency while slow clients hold
connections (run it through tests/bench/slowclients).

Starts a stack from the build `build` in var/bench-slow on free ports, then
measures GET /api/v1/contact (no database, no Kafka: the gateway's own time
and its queueing), each on a new connection as a new visitor would, twice:
with no other client, then with --slow clients connected that trickle their
headers one byte every --trickle-s seconds and never finish them, and
reconnect at once when the gateway closes them (as an attacker would).
Prints the median and 99th percentile of both, and their ratio. Not a test:
nothing is asserted."""

import argparse
import os
import socket
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "deploy", "local"))
import stack as stack_module  # noqa: E402

REQUEST = b"GET /api/v1/contact HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--slow", type=int, default=200, help="slow clients (default 200)")
    parser.add_argument("--requests", type=int, default=100,
                        help="measured requests of each phase (default 100)")
    parser.add_argument("--timeout-s", type=float, default=10.0,
                        help="a measured request not answered within this counts as failed "
                             "(default 10)")
    parser.add_argument("--trickle-s", type=float, default=1.0,
                        help="seconds between two bytes of a slow client (default 1)")
    parser.add_argument("--settle-s", type=float, default=3.0,
                        help="wait after the slow clients connected (default 3)")
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--gateway-env", action="append", default=[],
                        help="NAME=VALUE for the gateway (e.g. SP_HTTP_THREADS=64)")
    return parser.parse_args()


def one_request(port, timeout_s):
    """Seconds for one request on a new connection, or None when it failed."""
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
            sock.sendall(REQUEST)
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    if not data.startswith(b"HTTP/1.1 200"):
        return None
    return time.monotonic() - started


def measure(port, count, timeout_s):
    times, failures = [], 0
    for _ in range(count):
        t = one_request(port, timeout_s)
        if t is None:
            failures += 1
        else:
            times.append(t)
    return times, failures


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100.0 * (len(ordered) - 1))))]


class SlowClients:
    """count connections trickling an endless header, reconnecting when closed."""

    def __init__(self, port, count, trickle_s):
        self.port, self.count, self.trickle_s = port, count, trickle_s
        self.stop = threading.Event()
        self.connected = 0
        self.reconnects = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(count)]

    def start(self):
        for thread in self.threads:
            thread.start()

    def run(self):
        while not self.stop.is_set():
            try:
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            except OSError:
                time.sleep(0.1)
                continue
            with self.lock:
                self.connected += 1
            try:
                sock.sendall(b"GET /api/v1/contact HTTP/1.1\r\nHost: bench\r\nX-Slow: ")
                while not self.stop.wait(self.trickle_s):
                    sock.sendall(b"a")
            except OSError:
                pass
            finally:
                sock.close()
                with self.lock:
                    self.connected -= 1
                    self.reconnects += 1

    def close(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=5)


def report(name, times, failures):
    if not times:
        print("%-22s no answer (%d failures)" % (name, failures))
        return None, None
    median_ms = statistics.median(times) * 1000
    p99_ms = percentile(times, 99) * 1000
    print("%-22s median %8.2f ms   p99 %8.2f ms   max %8.2f ms   failed (no answer in time) %d of %d"
          % (name, median_ms, p99_ms, max(times) * 1000, failures, len(times) + failures))
    return median_ms, p99_ms


def main():
    args = parse_args()
    gateway_env = dict(item.split("=", 1) for item in args.gateway_env)
    stack = stack_module.Stack(build_dir=args.build_dir,
                               var_dir=os.path.join(REPO, "var", "bench-slow"),
                               service_env={"gateway": gateway_env}, notifications=False,
                               quiet=True)
    stack.start()
    try:
        port = stack.gateway_port
        measure(port, 20, args.timeout_s)                   # warm up
        quiet_times, quiet_failures = measure(port, args.requests, args.timeout_s)
        slow = SlowClients(port, args.slow, args.trickle_s)
        slow.start()
        time.sleep(args.settle_s)
        loaded_times, loaded_failures = measure(port, args.requests, args.timeout_s)
        connected, reconnects = slow.connected, slow.reconnects
        slow.close()
        print("gateway settings: %s" % (gateway_env or "defaults"))
        base = report("no other client", quiet_times, quiet_failures)
        loaded = report("%d slow clients" % args.slow, loaded_times, loaded_failures)
        print("slow clients connected at the end: %d, reconnections: %d" % (connected, reconnects))
        if base[0] and loaded[0]:
            print("ratio (slow / none): median %.1f, p99 %.1f"
                  % (loaded[0] / base[0], loaded[1] / base[1]))
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
