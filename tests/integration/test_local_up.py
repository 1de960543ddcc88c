"""`deploy/local/stack.py up` as an operator runs it (its own var folder, in a
process of its own): it supervises (a service killed with SIGKILL is said
dead, with its signal, and comes back serving by itself), it writes var/env
(`. var/env` then solipass-audit works), `stack.py restart <service>`
restarts one service of it, and Ctrl-C stops everything cleanly.

The shared test stack does not supervise: its fixtures want a death seen,
not repaired."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest

import conftest
import stack as stack_module
from solipass_api import Api, World, new_key

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
STACK_PY = os.path.join(REPO, "deploy", "local", "stack.py")
START_TIMEOUT_S = 240.0
# The first restart waits 0.5 s; transactions then rejoins its consumer group
# (6 s measured, 12 s under ASan on a busy 2-core machine).
BACK_TIMEOUT_S = 30.0


class Up:
    """A running `stack.py up`, its output in a file."""

    def __init__(self, var_dir, build_dir):
        self.var_dir = var_dir
        os.makedirs(var_dir, exist_ok=True)
        self.output_path = os.path.join(var_dir, "up.output")
        self.output = open(self.output_path, "w")
        self.popen = subprocess.Popen(
            [sys.executable, STACK_PY, "up", "--var-dir", var_dir, "--build-dir", build_dir,
             "--gateway-port", str(stack_module.free_port())],
            stdout=self.output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=dict(os.environ, **conftest.SANITIZER_ENV), start_new_session=True)

    def text(self):
        with open(self.output_path) as f:
            return f.read()

    def wait_for(self, pattern, timeout_s, start=0):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = re.search(pattern, self.text()[start:], re.M)
            if found:
                return found
            assert self.popen.poll() is None, "up exited (%s):\n%s" % (self.popen.returncode,
                                                                      self.text()[-4000:])
            time.sleep(0.1)
        raise AssertionError("no %r within %.0f s; up said:\n%s" % (pattern, timeout_s,
                                                                    self.text()[-4000:]))

    def pid(self, name):
        with open(os.path.join(self.var_dir, "run", name + ".pid")) as f:
            return int(f.read().split("\n", 1)[0])

    def interrupt(self):
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGINT)
        try:
            return self.popen.wait(timeout=120)
        finally:
            self.output.close()


@pytest.fixture(scope="module")
def up():
    build_dir = os.environ.get("SOLIPASS_BUILD_DIR", "build")
    var_dir = os.environ.get("SOLIPASS_VAR_DIR", os.path.join(REPO, "var", "pytest")) + "-up"
    running = Up(var_dir, build_dir)
    try:
        banner = running.wait_for(r"^Ctrl-C stops everything\.$", START_TIMEOUT_S)
        running.gateway_url = running.wait_for(r"gateway: +(http://\S+)", 1).group(1)
        running.banner_end = banner.end()
        yield running
    finally:
        code = running.interrupt()
        if code != 0:
            stack_module.Stack(var_dir=var_dir).kill_leftovers()


def demo_login(up, role):
    found = re.search(r"^  %-12s (\S+) +(\S+)$" % role, up.text(), re.M)
    assert found, "no %s login in the banner" % role
    anonymous = Api(up.gateway_url)
    try:
        return anonymous.login(found.group(1), found.group(2))
    finally:
        anonymous.close()


def partner_code(up):
    return re.search(r"^  partner .*: code (\d+)", up.text(), re.M).group(1)


def pays(up, amount_cents=100):
    beneficiary = demo_login(up, "beneficiary")
    try:
        return World.pay(beneficiary, partner_code(up), amount_cents, key=new_key()).status_code
    finally:
        beneficiary.close()


@pytest.mark.parametrize("name", ["transactions", "gateway"])
def test_a_killed_service_comes_back_by_itself(up, name):
    assert pays(up) == 201
    before = len(up.text())
    pid = up.pid(name)
    killed_at = time.monotonic()
    os.killpg(pid, signal.SIGKILL)
    said = up.wait_for(r"^%s died \(signal SIGKILL, pid %d\); restarting it in 0\.5 s"
                       % (name, pid), BACK_TIMEOUT_S, before)
    up.wait_for(r"^%s is back \(pid (\d+)\)" % name, BACK_TIMEOUT_S, before)
    assert up.pid(name) != pid
    deadline = killed_at + BACK_TIMEOUT_S
    status = None
    while time.monotonic() < deadline:
        try:
            status = pays(up)
        except Exception as e:          # the gateway's port may not listen yet
            status = repr(e)
        if status == 201:
            break
        time.sleep(0.2)
    assert status == 201, "no payment within %.0f s of the kill: %s" % (BACK_TIMEOUT_S, status)
    print("%s back and paying %.1f s after its SIGKILL" % (name, time.monotonic() - killed_at))
    with open(os.path.join(up.var_dir, "logs", "supervisor.log")) as f:
        assert said.group(0) in f.read()


def test_restart_command_restarts_one_service(up):
    pid = up.pid("refunds")
    other = up.pid("finance")
    done = subprocess.run([sys.executable, STACK_PY, "restart", "refunds", "--var-dir",
                           up.var_dir], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    new_pid = up.pid("refunds")
    assert new_pid != pid
    assert done.stdout.strip() == "refunds restarted (pid %d)" % new_pid
    assert up.pid("finance") == other
    assert "refunds stopped on request (exit status 0)" in up.text()
    unknown = subprocess.run([sys.executable, STACK_PY, "restart", "refunds", "--var-dir",
                              up.var_dir + "-none"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, timeout=60)
    assert unknown.returncode == 2 and "no `stack.py up` runs" in unknown.stderr


def test_var_env_lets_the_audit_run(up):
    env_file = os.path.join(up.var_dir, "env")
    assert pays(up) == 201
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("SP_")}
    done = subprocess.run(["sh", "-c", '. "$1" && solipass-audit', "sh", env_file],
                          env=clean_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the ledger holds" in done.stdout
    assert "ok refund requests match the ledger" in done.stdout   # the read models too


def test_ctrl_c_stops_everything(up):
    pids = {name: up.pid(name) for name in stack_module.SERVICES}
    assert up.interrupt() == 0, up.text()[-4000:]
    assert "stopping..." in up.text()
    for name, pid in pids.items():
        assert not os.path.exists("/proc/%d" % pid) or \
            open("/proc/%d/stat" % pid).read().split()[2] == "Z", "%s still runs" % name
    assert "restarting" not in up.text()[up.text().index("stopping..."):]
