"""A second gateway beside the stack's, on the same event log and database,
with settings of a test's own (a web folder, small bounds, ...): started,
waited for, and stopped at the end with a clean exit and, under the
sanitizers, no leak or undefined behaviour in its log."""

import contextlib
import os
import signal
import subprocess
import time

import requests

import stack as stack_module

START_TIMEOUT_S = 30


@contextlib.contextmanager
def running(stack, folder, settings=None):
    """Yields the port of a gateway started with the stack's environment,
    its own HTTP port, no metrics port and SP_PUBLIC_URL its own address,
    then settings; its log is folder/gateway.log."""
    port = stack_module.free_port()
    url = "http://127.0.0.1:%d" % port
    env = stack.tool_environment("gateway")     # its own ports: no metrics
    env.update({"SP_HTTP_PORT": str(port), "SP_PUBLIC_URL": url})
    env.update(settings or {})
    log = open(os.path.join(folder, "gateway.log"), "wb")
    proc = subprocess.Popen([stack.binary("gateway")], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert proc.poll() is None, "the second gateway exited: see %s" % log.name
            try:
                if requests.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "the second gateway did not start"
            time.sleep(0.1)
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    with open(log.name, "rb") as f:
        text = f.read()
    assert proc.returncode == 0, "the second gateway stopped with %d: see %s" % (
        proc.returncode, log.name)
    assert b"runtime error" not in text and b"Sanitizer" not in text, log.name
