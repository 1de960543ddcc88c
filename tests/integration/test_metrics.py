"""Every service answers GET /metrics in Prometheus text on its own loopback
port (the gateway too, not on its public HTTP port), and a payment moves what an operator
watches: the commands each writer handled and their outcomes, their
latency, the events the readers applied, the consumer lag back to zero,
the dead letters, and the gateway's per-route histograms."""

import re

import requests

from solipass_api import LEDGER_PARTITIONS, TOPIC_LEDGER_COMMANDS, wait_until

SERVICES = ("projection", "accounts", "transactions", "notifications", "refunds", "finance")
LEDGER_EVENTS = "solipass.ledger.events.v1"
ACCOUNTS_EVENTS = "solipass.accounts.events.v1"
ACCOUNTS_COMMANDS = "solipass.accounts.commands.v1"
GARBAGE = b"\x00\xffnot an envelope, for the metrics test"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.e+]+|\+Inf|NaN)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(stack, name):
    """{(metric name, ((label, value), ...)): value} of one service, with
    the format checked line by line: every sample follows its family's
    # TYPE line."""
    answer = requests.get(stack.metrics_url(name), timeout=10)
    assert answer.status_code == 200, (name, answer.status_code)
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4"), answer.headers
    samples = {}
    typed = set()
    for line in answer.text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("#") or not line:
            continue
        match = SAMPLE.match(line)
        assert match, "%s: not a sample line: %r" % (name, line)
        metric, _, labels, value = match.groups()
        family = re.sub(r"_(bucket|sum|count)$", "", metric)
        assert metric in typed or family in typed, "%s: %s has no # TYPE line" % (name, metric)
        key = (metric, tuple(sorted(LABEL.findall(labels or ""))))
        assert key not in samples, "%s: %s twice" % (name, key)
        samples[key] = float(value)
    return samples


def value(samples, metric, **labels):
    return samples.get((metric, tuple(sorted(labels.items()))), 0.0)


def total(samples, metric, **labels):
    """Sum over every series of metric whose labels include `labels`."""
    return sum(v for (name, series), v in samples.items()
               if name == metric and all((k, w) in series for k, w in labels.items()))


def scrape_all(stack):
    return {name: scrape(stack, name) for name in SERVICES + ("gateway",)}


def test_metrics_endpoint_answers_only_get_metrics(stack):
    for name in ("transactions", "gateway"):
        url = stack.metrics_url(name)
        assert requests.get(url.replace("/metrics", "/other"), timeout=10).status_code == 404
        assert requests.post(url, data=b"x", timeout=10).status_code == 405


def test_the_gateway_metrics_are_not_on_the_public_port(stack):
    """The API port faces the clients: /metrics there is an unknown route,
    while the metrics port answers; /healthz stays on the API port."""
    public = requests.get(stack.gateway_url + "/metrics", timeout=10)
    assert public.status_code == 404 and public.json()["code"] == "not_found", public.text
    assert stack.metrics_url("gateway") != stack.gateway_url + "/metrics"
    assert requests.get(stack.gateway_url + "/healthz", timeout=10).status_code == 200
    assert "solipass_gateway_requests_total" in requests.get(stack.metrics_url("gateway"),
                                                             timeout=10).text


def test_a_payment_moves_every_service_s_counters(world, backoffice, partners):
    before = scrape_all(world.stack)
    beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 1000})
    api = world.login(beneficiary["email"], beneficiary["password"])
    paid = world.pay(api, partners["sport"]["partner_code"], 250)
    assert paid.status_code == 201, paid.text
    refused = world.pay(api, partners["sport"]["partner_code"], 900)   # 750 left
    assert refused.status_code == 422, refused.text
    refused_code = refused.json()["code"]
    assert refused_code == "insufficient_funds", refused.text

    # 415 was counted as "other" once: every status is now labelled as itself.
    partner = partners["sport"]
    admin = world.login(partner["admin_email"], partner["admin_password"])
    unsupported = admin.request("PUT", "/api/v1/partner/structure/logo", raw=b"GIF89a",
                                headers={"Content-Type": "image/gif"})
    assert unsupported.status_code == 415, unsupported.text

    def moved():
        now = scrape_all(world.stack)
        tx, acc = now["transactions"], now["accounts"]
        proj, notif = now["projection"], now["notifications"]
        checks = {
            "transactions handled ledger commands":
                total(tx, "solipass_messages_processed_total", topic=TOPIC_LEDGER_COMMANDS)
                >= total(before["transactions"], "solipass_messages_processed_total",
                         topic=TOPIC_LEDGER_COMMANDS) + 2,
            "transactions answered ok":
                value(tx, "solipass_command_outcomes_total", code="ok")
                >= value(before["transactions"], "solipass_command_outcomes_total", code="ok") + 2,
            "transactions latency observed":
                value(tx, "solipass_command_duration_seconds_count", topic=TOPIC_LEDGER_COMMANDS)
                >= value(before["transactions"], "solipass_command_duration_seconds_count",
                         topic=TOPIC_LEDGER_COMMANDS) + 2,
            "transactions wrote ledger events":
                value(tx, "solipass_messages_produced_total", topic=LEDGER_EVENTS)
                > value(before["transactions"], "solipass_messages_produced_total",
                        topic=LEDGER_EVENTS),
            "accounts answered the beneficiary and the login":
                value(acc, "solipass_command_outcomes_total", code="ok")
                >= value(before["accounts"], "solipass_command_outcomes_total", code="ok") + 2,
            "accounts handled its commands":
                total(acc, "solipass_messages_processed_total", topic=ACCOUNTS_COMMANDS)
                >= total(before["accounts"], "solipass_messages_processed_total",
                         topic=ACCOUNTS_COMMANDS) + 2,
            "projection applied ledger and accounts events":
                value(proj, "solipass_messages_processed_total", topic=LEDGER_EVENTS)
                > value(before["projection"], "solipass_messages_processed_total",
                        topic=LEDGER_EVENTS)
                and value(proj, "solipass_messages_processed_total", topic=ACCOUNTS_EVENTS)
                > value(before["projection"], "solipass_messages_processed_total",
                        topic=ACCOUNTS_EVENTS),
            "finance read the payment":
                value(now["finance"], "solipass_messages_processed_total", topic=LEDGER_EVENTS)
                > value(before["finance"], "solipass_messages_processed_total",
                        topic=LEDGER_EVENTS),
            "notifications read the payment":
                value(notif, "solipass_messages_processed_total", topic=LEDGER_EVENTS)
                > value(before["notifications"], "solipass_messages_processed_total",
                        topic=LEDGER_EVENTS),
        }
        missing = [what for what, ok in checks.items() if not ok]
        return (not missing, missing)

    try:
        wait_until(lambda: moved()[0], "every service's counters to move", timeout_s=30)
    except AssertionError:
        raise AssertionError("did not move: %s" % ", ".join(moved()[1]))
    after = scrape_all(world.stack)
    tx = after["transactions"]
    assert value(tx, "solipass_command_outcomes_total", code=refused_code) >= 1, refused_code
    # Histogram series are cumulative and end with +Inf = _count.
    inf = value(tx, "solipass_command_duration_seconds_bucket", topic=TOPIC_LEDGER_COMMANDS, le="+Inf")
    assert inf == value(tx, "solipass_command_duration_seconds_count", topic=TOPIC_LEDGER_COMMANDS)
    # Durations are in seconds: the 1 ms bucket is le="0.001", the 10 s one le="10".
    assert value(tx, "solipass_command_duration_seconds_bucket", topic=TOPIC_LEDGER_COMMANDS,
                 le="0.001") <= value(tx, "solipass_command_duration_seconds_bucket",
                                      topic=TOPIC_LEDGER_COMMANDS, le="10") <= inf
    assert value(tx, "solipass_command_duration_seconds_sum", topic=TOPIC_LEDGER_COMMANDS) \
        <= 10 * inf + 3600, "a sum in seconds, not milliseconds"

    gateway = after["gateway"]
    assert not [labels for (name, labels) in gateway
                if name == "solipass_gateway_requests_total" and ("status", "other") in labels]
    for status, route in (("201", "pass_pay"), (str(refused.status_code), "pass_pay"),
                          ("415", "structure_logo")):
        count = value(gateway, "solipass_gateway_request_duration_seconds_count", route=route,
                      status=status)
        assert count >= 1, (route, status)
        assert value(gateway, "solipass_gateway_request_duration_seconds_bucket", route=route,
                     status=status, le="+Inf") == count
        assert value(gateway, "solipass_gateway_requests_total", route=route,
                     status=status) == count
    assert (value(gateway, "solipass_messages_produced_total", topic=TOPIC_LEDGER_COMMANDS)
            >= value(before["gateway"], "solipass_messages_produced_total",
                     topic=TOPIC_LEDGER_COMMANDS) + 2)


def test_lag_is_reported_per_partition_and_drains(world):
    """Every partition a service reads has its gauge, traffic or not, and
    the ledger's drain back to 0 once the payments are handled."""
    reads = (("projection", LEDGER_EVENTS), ("projection", ACCOUNTS_EVENTS),
             ("transactions", TOPIC_LEDGER_COMMANDS), ("notifications", LEDGER_EVENTS),
             ("accounts", ACCOUNTS_COMMANDS))

    def lags():
        found = {}
        for service in {service for service, _ in reads}:
            for (name, labels), v in scrape(world.stack, service).items():
                if name == "solipass_consumer_lag_messages":
                    found[(service, dict(labels)["topic"], dict(labels)["partition"])] = v
        return found

    def drained():
        found = lags()
        for service, topic in reads:
            expected = LEDGER_PARTITIONS if "ledger" in topic else 1
            for partition in range(expected):
                if found.get((service, topic, str(partition))) != 0:
                    return False
        return True

    try:
        wait_until(drained, "every partition's lag gauge, at 0", timeout_s=30)
    except AssertionError:
        raise AssertionError("lag gauges: %s" % sorted(lags().items()))


def test_a_poison_command_counts_as_a_dead_letter(world):
    before = value(scrape(world.stack, "transactions"), "solipass_dead_letters_total")
    world.produce_raw(TOPIC_LEDGER_COMMANDS, 0, GARBAGE)
    wait_until(lambda: value(scrape(world.stack, "transactions"), "solipass_dead_letters_total")
               == before + 1, "the dead letter counted", timeout_s=30)
