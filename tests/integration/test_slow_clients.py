"""Slow and greedy clients: a client that does not finish its headers within
SP_HTTP_REQUEST_TIMEOUT_MS is disconnected; one client address has at most
SP_HTTP_REQUESTS_PER_ADDRESS_MAX requests in progress (a slow body holds
one), one more is 429 too_many_requests, while another address is served;
Kafka security settings that do not hold together stop the start, naming
the variable. A second gateway with small bounds runs beside the stack's."""

import json
import socket
import subprocess
import time

import pytest
import requests

import stack as stack_module
from second_gateway import second_gateway

HEADER_TIMEOUT_MS = 1000
PER_ADDRESS_MAX = 3


@pytest.fixture(scope="module")
def small_gateway(stack, tmp_path_factory):
    settings = {"SP_HTTP_REQUEST_TIMEOUT_MS": str(HEADER_TIMEOUT_MS),
                "SP_HTTP_REQUESTS_PER_ADDRESS_MAX": str(PER_ADDRESS_MAX)}
    with second_gateway(stack, str(tmp_path_factory.mktemp("slow")), settings,
                        "small gateway") as url:
        yield int(url.rsplit(":", 1)[1])


def test_a_client_that_never_finishes_its_headers_is_disconnected(small_gateway):
    with socket.create_connection(("127.0.0.1", small_gateway), timeout=30) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /api/v1/contact HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        closed = False
        try:
            while time.monotonic() - started < 20:
                sock.sendall(b"a")
                sock.settimeout(0.2)
                try:
                    if sock.recv(4096) == b"":
                        closed = True
                        break
                except socket.timeout:
                    pass
        except OSError:
            closed = True
        elapsed = time.monotonic() - started
    assert closed, "still connected after %.1f s" % elapsed
    assert elapsed < HEADER_TIMEOUT_MS / 1000.0 + 3, elapsed


def slow_body(port, forwarded_for=None):
    """A login whose body never comes: it holds a request in progress."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = ("POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 200\r\n")
    if forwarded_for:
        head += "X-Forwarded-For: %s\r\n" % forwarded_for
    sock.sendall((head + "\r\n{").encode())
    return sock


def test_one_address_has_a_bounded_number_of_requests_in_progress(small_gateway):
    url = "http://127.0.0.1:%d/api/v1/contact" % small_gateway
    held = [slow_body(small_gateway) for _ in range(PER_ADDRESS_MAX)]
    try:
        time.sleep(0.3)                       # their headers are read
        refused = requests.get(url, timeout=10)
        assert refused.status_code == 429, refused.text
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert refused.json()["code"] == "too_many_requests", refused.text
        assert refused.headers.get("Retry-After") == "1"
        # Another client behind the trusted proxy is served meanwhile.
        other = requests.get(url, timeout=10, headers={"X-Forwarded-For": "198.51.100.23"})
        assert other.status_code == 200, other.text
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 10
    while requests.get(url, timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "the address's requests were never given back"
        time.sleep(0.1)


@pytest.mark.parametrize("settings, field", [
    ({"SP_KAFKA_SECURITY_PROTOCOL": "tls"}, "SP_KAFKA_SECURITY_PROTOCOL"),
    ({"SP_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "SP_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512"},
     "SP_KAFKA_SASL_USERNAME"),
    ({"SP_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "SP_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
      "SP_KAFKA_SASL_USERNAME": "solipass-gateway",
      "SP_KAFKA_SASL_PASSWORD": "change-me-to-this-service-s-kafka-password"},
     "SP_KAFKA_SASL_PASSWORD"),
    ({"SP_KAFKA_SASL_USERNAME": "solipass-gateway"}, "SP_KAFKA_SASL_USERNAME"),
    ({"SP_KAFKA_SECURITY_PROTOCOL": "ssl", "SP_KAFKA_SSL_CA_FILE": "/nonexistent/ca.pem"},
     "SP_KAFKA_SSL_CA_FILE"),
], ids=["unknown_protocol", "sasl_without_user", "placeholder_password", "sasl_in_clear",
        "unreadable_ca"])
@pytest.mark.parametrize("service", ["gateway", "transactions"])
def test_kafka_security_settings_are_checked_at_start(stack, service, settings, field):
    env = stack.tool_environment(service)
    env.update(settings)
    if service == "gateway":
        env["SP_HTTP_PORT"] = str(stack_module.free_port())
    done = subprocess.run([stack.binary(service)], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=60)
    assert done.returncode == 1, done.stdout[-2000:]
    lines = [json.loads(l) for l in done.stdout.decode().splitlines() if l.startswith("{")]
    refusal = [l for l in lines if l.get("msg") == "cannot start"]
    assert refusal and refusal[0]["field"] == field, lines[-3:]
    # No password ever reaches the log.
    assert b"change-me-to-this" not in done.stdout
