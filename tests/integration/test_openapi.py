"""test_openapi.py - the API description the gateway serves: it is the
committed docs/openapi.json byte for byte, it needs no session, a client can
revalidate it, and it describes every endpoint the gateway answers."""

import json

import requests

import api_schema


def test_served_description_is_the_committed_one(world):
    answer = requests.get(world.url + "/api/v1/openapi.json", timeout=30)
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.headers["Cache-Control"] == "no-cache"
    with open(api_schema.DESCRIPTION_PATH, "rb") as f:
        committed = f.read()
    assert answer.content == committed, (
        "docs/openapi.json differs from what the gateway serves: run `ninja -C build openapi`")
    doc = json.loads(committed)
    assert doc["openapi"] == "3.1.0"
    again = requests.get(world.url + "/api/v1/openapi.json", timeout=30,
                         headers={"If-None-Match": answer.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""


def test_every_route_of_the_gateway_is_described(world):
    """Each operation of the description is answered by the gateway at its
    path and method (never 404 not_found nor 405; without a session, as the
    description says), and each route name that the gateway counts in its
    metrics is an operationId."""
    with open(api_schema.DESCRIPTION_PATH, encoding="utf-8") as f:
        doc = json.load(f)
    operation_ids = set()
    anonymous = requests.Session()
    sample_id = "0b6f3c1e-8d2a-4f4b-9a51-3c7d2e1f0a99"
    sample_sha256 = "0" * 64
    for template, item in doc["paths"].items():
        for method, op in item.items():
            operation_ids.add(op["operationId"])
            path = template.replace("{sha256}", sample_sha256)
            path = path.split("{")[0] + sample_id + path.split("}")[1] if "{" in path else path
            if op["operationId"] in ("partner_operations_stream", "metrics", "healthz"):
                continue    # a stream, or not the API's own error body
            answer = anonymous.request(method.upper(), world.url + path, timeout=30)
            api_schema.check_answer(method.upper(), world.url + path, answer)
            body = answer.json() if answer.headers.get("Content-Type", "").endswith("json") else {}
            assert body.get("code") not in ("not_found", "method_not_allowed") or (
                op["operationId"] == "media_get"), (method, path, answer.status_code, body)
    metrics = requests.get(world.stack.metrics_url("gateway"), timeout=10).text
    for line in metrics.splitlines():
        if line.startswith("solipass_gateway_requests_total{"):
            route = line.split('route="')[1].split('"')[0]
            assert route == "unknown" or route in operation_ids, route
    assert len(operation_ids) == sum(len(item) for item in doc["paths"].values())
