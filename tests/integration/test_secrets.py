"""Weak secrets stop the services at start: the example settings' placeholders
(deploy/systemd/env/*.env), a short SP_LINK_SECRET or one of few different
characters, a placeholder or short SP_BOOTSTRAP_PASSWORD. Each refusal names
the variable; the stack's own random secrets start (the running stack)."""

import os
import subprocess

import pytest

import stack as stack_module

HERE = os.path.dirname(os.path.abspath(__file__))
ENV_EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(HERE)), "deploy", "systemd", "env")


def example_value(service, variable):
    with open(os.path.join(ENV_EXAMPLES, service + ".env")) as f:
        for line in f:
            key, _, value = line.strip().partition("=")
            if key == variable:
                return value
    raise AssertionError("%s.env has no %s" % (service, variable))


def start_output(stack, service, settings):
    env = stack.tool_environment(service)      # no metrics port: the stack's holds it
    env.update(settings)
    if service == "gateway":
        env["SP_HTTP_PORT"] = str(stack_module.free_port())
    done = subprocess.run([stack.binary(service)], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=60)
    return done.returncode, done.stdout.decode("utf-8", "replace")


WEAK_LINK_SECRETS = [
    ("placeholder", lambda: example_value("gateway", "SP_LINK_SECRET")),
    ("placeholder-any-case", lambda: "CHANGE-ME" + "k3Q9zP1xV7mW2rT8yL4nB6cJ0dF5gH" * 2),
    ("short", lambda: "Zk3Q9zP1xV7mW2rT8yL4nB6cJ0dF5g"),          # 30 bytes
    ("repetitive", lambda: "abababababababababababababababababababab"),
]


@pytest.mark.parametrize("service", ["gateway", "notifications"])
@pytest.mark.parametrize("case, value", WEAK_LINK_SECRETS)
def test_weak_link_secret_stops_the_start_naming_it(stack, service, case, value):
    code, out = start_output(stack, service, {"SP_LINK_SECRET": value()})
    assert code == 1, out[-2000:]
    assert '"cannot start"' in out and "weak_secret" in out, out[-2000:]
    assert "SP_LINK_SECRET" in out and "openssl rand" in out, out[-2000:]


@pytest.mark.parametrize("case, value", [
    ("placeholder", lambda: example_value("accounts", "SP_BOOTSTRAP_PASSWORD")),
    ("short", lambda: "Zk3Q9zP1xV7"),                                 # 11 bytes
    ("repetitive", lambda: "aaaaaaaaaaaaaaaaaaaaaaaa"),
])
def test_weak_bootstrap_password_stops_the_accounts_service(stack, case, value):
    code, out = start_output(stack, "accounts", {"SP_BOOTSTRAP_EMAIL": "admin@ville.example",
                                                 "SP_BOOTSTRAP_PASSWORD": value()})
    assert code == 1, out[-2000:]
    assert "weak_secret" in out and "SP_BOOTSTRAP_PASSWORD" in out, out[-2000:]


def test_the_stack_random_secrets_are_accepted(stack):
    """The stack the other tests use started with its own secrets: the same
    checks pass them (a gateway and notifications service are running)."""
    assert len(stack.link_secret) >= 32 and len(set(stack.link_secret)) >= 10
    assert len(stack.bootstrap_password) >= 12
    for name in ("gateway", "notifications", "accounts"):
        assert stack.processes[name].popen.poll() is None, name
