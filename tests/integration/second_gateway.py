"""second_gateway.py - one more gateway beside the stack's, on its own port,
with settings of the test's own: started until /healthz answers, stopped
with SIGTERM, and required to stop cleanly (exit 0; under the sanitizers no
leak nor undefined behaviour in its log)."""

import contextlib
import os
import signal
import subprocess
import time

import requests

import stack as stack_module

START_TIMEOUT_S = 30


@contextlib.contextmanager
def second_gateway(stack, base, settings=None, what="second gateway"):
    """Yields the gateway's base URL; `base` is a folder for its log."""
    port = stack_module.free_port()
    url = "http://127.0.0.1:%d" % port
    env = stack.tool_environment("gateway")     # its own ports: no metrics
    env.update({"SP_HTTP_PORT": str(port), "SP_PUBLIC_URL": url})
    env.update(settings or {})
    log = open(os.path.join(base, "gateway.log"), "wb")
    proc = subprocess.Popen([stack.binary("gateway")], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert proc.poll() is None, "the %s exited: see %s" % (what, log.name)
            try:
                if requests.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "the %s did not start" % what
            time.sleep(0.1)
        yield url
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
    assert proc.returncode == 0, "the %s stopped with %d: see %s" % (what, proc.returncode,
                                                                    log.name)
    assert b"runtime error" not in text and b"Sanitizer" not in text, log.name


@contextlib.contextmanager
def running(stack, folder, settings=None):
    """second_gateway, yielding the gateway's port rather than its URL."""
    with second_gateway(stack, folder, settings) as url:
        yield int(url.rsplit(":", 1)[1])
