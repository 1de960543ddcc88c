"""web_budget.py - what the web apps' benchmarks share (tests/bench/web.py,
web_beneficiary.py): the bytes an app's first load fetches, a stack of
its own from the release build, the back-office session that prepares the
data, and the Chromium measure run by node that answers one JSON line."""

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

PASSWORD = "bench-password-1"


def api(base, method, path, body=None, token=None, key=None):
    return demo_data.call(base, method, path, body, token=token, key=key)


def new_key():
    return uuid.uuid4().hex


def backoffice_token(base):
    return api(base, "POST", "/api/v1/auth/login",
               {"email": "backoffice@example.org", "password": "backoffice-pass-1"})["token"]


def create_partner(base, bo_token, admin_email, category="sport"):
    return api(base, "POST", "/api/v1/partners",
               {"name": "Club de bench", "category": category, "admin_email": admin_email,
                "admin_password": PASSWORD, "admin_full_name": "Bench"}, token=bo_token, key=new_key())


def shipped_bytes(app):
    """The assets named by web/dist/<app>/index.html: names, raw, gzip and brotli bytes."""
    dist = os.path.join(REPO, "web", "dist")
    with open(os.path.join(dist, app, "index.html")) as f:
        html = f.read()
    assets = re.findall(r'(?:src|href)="/assets/([^"]+)"', html)
    raw = gz = br = 0
    for name in assets:
        path = os.path.join(dist, "assets", name)
        raw += os.path.getsize(path)
        gz += os.path.getsize(path + ".gz")
        br += os.path.getsize(path + ".br")
    return assets, raw, gz, br


def print_bytes(label, app, budget_bytes):
    """Builds the apps, prints the first load's bytes and their ratio to the budget."""
    subprocess.run([os.path.join(REPO, "web", "build")], check=True)
    assets, raw, gz, br = shipped_bytes(app)
    budget_kib = budget_bytes // 1024
    print("%s, first load: %s" % (label, ", ".join(assets)))
    print("  JS+CSS: %d bytes, gzip %d bytes (%.1f KiB), brotli %d bytes (%.1f KiB)"
          % (raw, gz, gz / 1024, br, br / 1024))
    print("  budget %d KiB after compression: gzip ratio %.2f, brotli ratio %.2f"
          % (budget_kib, gz / budget_bytes, br / budget_bytes))


def new_stack(build_dir, var_name):
    return stack_module.Stack(build_dir=build_dir, var_dir=os.path.join(REPO, "var", var_name),
                              notifications=False, quiet=True)


def run_measure(script, env_extra):
    """Runs tests/bench/<script> under node; its last line of output is the JSON result."""
    env = dict(os.environ, **env_extra)
    done = subprocess.run(["node", os.path.join(HERE, script)], env=env, cwd=REPO,
                          stdout=subprocess.PIPE, check=True, timeout=900)
    return json.loads(done.stdout.decode().strip().splitlines()[-1])
