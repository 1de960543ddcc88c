"""solipass_api.py - the integration tests' HTTP client and scenario helpers.

They talk to the gateway exactly as the apps do (JSON over HTTP, bearer
tokens, Idempotency-Key headers) and read the broker with kcat and the read
models with psql only to check what the API cannot show (dead letters,
ledger balances, command ids)."""

import datetime
import email
import email.policy
import json
import os
import re
import subprocess
import tempfile
import threading
import time
import uuid
import zoneinfo

import requests

import api_schema

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
HTTP_TIMEOUT_S = 60
PASSWORD = "correct-horse-battery"
DAY_MS = 24 * 3600 * 1000

TOPIC_LEDGER_COMMANDS = "solipass.ledger.commands.v1"
TOPIC_ACCOUNTS_COMMANDS = "solipass.accounts.commands.v1"
TOPIC_LEDGER_EVENTS = "solipass.ledger.events.v1"
TOPIC_ACCOUNTS_EVENTS = "solipass.accounts.events.v1"
TOPIC_DEADLETTER = "solipass.deadletter.v1"
LEDGER_PARTITIONS = 8


def new_key():
    return uuid.uuid4().hex


def unique_email(prefix):
    return "%s-%s@example.org" % (prefix, uuid.uuid4().hex[:12])


def luhn_check_digit(digits):
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(code):
    return code.isdigit() and luhn_check_digit(code[:-1]) == code[-1]


def wait_until(predicate, what, timeout_s=30.0, interval_s=0.2):
    """Polls predicate() until it returns a truthy value, which is returned."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError("timed out after %.0f s waiting for %s (last: %r)" % (timeout_s, what, last))


class Api:
    """One app's connection: a keep-alive HTTP session and, once logged in,
    a bearer token. Not shared between threads."""

    def __init__(self, base_url, token=None):
        self.base_url = base_url
        self.token = token
        self.http = requests.Session()

    def request(self, method, path, body=None, raw=None, key=None, headers=None,
                timeout_s=HTTP_TIMEOUT_S):
        all_headers = {}
        if self.token:
            all_headers["Authorization"] = "Bearer " + self.token
        if key is not None:
            all_headers["Idempotency-Key"] = key
        data = None
        if raw is not None:
            data = raw if isinstance(raw, bytes) else raw.encode()
            all_headers["Content-Type"] = "application/json"
        elif body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        answer = self.http.request(method, self.base_url + path, data=data, headers=all_headers,
                                   timeout=timeout_s)
        if not answer.headers.get("Content-Type", "").startswith("text/event-stream"):
            api_schema.check_answer(method, self.base_url + path, answer)
        return answer

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def login(self, email, password):
        """Logs in; returns a new Api holding the token."""
        answer = self.post("/api/v1/auth/login", {"email": email, "password": password})
        assert answer.status_code == 200, answer.text
        return Api(self.base_url, answer.json()["token"])

    def close(self):
        self.http.close()


PROBLEM_MEMBERS = {"type", "title", "status", "detail", "code", "message", "field"}


def all_pages(api, path, member, limit, pages_max=500):
    """Every item of a keyset-paged list (`member`, `next_cursor`), pages of
    `limit`; (items, the last page)."""
    items, cursor = [], None
    for _ in range(pages_max):
        query = "?limit=%d" % limit + ("&cursor=" + cursor if cursor else "")
        answer = api.get(path + query)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert len(page[member]) <= limit
        items.extend(page[member])
        cursor = page["next_cursor"]
        if cursor is None:
            return items, page
    raise AssertionError("too many pages of " + path)


def expect_error(answer, status, code, field=None):
    """The answer is the documented error (an RFC 9457 problem with the
    members code, message and field) with that status and code (and field,
    when given)."""
    assert answer.status_code == status, "expected %d %s, got %d: %s" % (
        status, code, answer.status_code, answer.text)
    assert answer.headers.get("Content-Type") == "application/problem+json", answer.headers
    body = answer.json()
    assert PROBLEM_MEMBERS <= set(body) <= PROBLEM_MEMBERS | {"operation_id", "request_id"}, body
    assert body["type"] == "about:blank" and body["status"] == status, body
    assert body["detail"] == body["message"], body
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"], body
    if field is not None:
        assert body["field"] == field, body
    return body


class World:
    """The running product and what a test needs to act in it."""

    def __init__(self, stack):
        self.stack = stack
        self.url = stack.gateway_url

    # --- people -----------------------------------------------------------

    def anonymous(self):
        return Api(self.url)

    def login(self, email, password):
        return Api(self.url).login(email, password)

    def backoffice(self):
        return self.login(self.stack.bootstrap_email, self.stack.bootstrap_password)

    def create_partner(self, backoffice, category="sport", name=None):
        email = unique_email("partner")
        body = {"name": name or "Partner %s" % uuid.uuid4().hex[:8], "category": category,
                "admin_email": email, "admin_password": PASSWORD,
                "admin_full_name": "Admin of %s" % category}
        answer = backoffice.post("/api/v1/partners", body, key=new_key())
        assert answer.status_code == 201, answer.text
        partner = answer.json()
        partner["admin_email"] = email
        partner["admin_password"] = PASSWORD
        return partner

    def create_beneficiary(self, backoffice, envelopes=(("general", None),), credits=None):
        """envelopes: (category, end_date or None) pairs; credits: {category: cents}."""
        email = unique_email("beneficiary")
        body = {"email": email, "password": PASSWORD, "full_name": "Beneficiary %s" % email[12:20],
                "envelopes": [dict({"category": c}, **({"end_date": d} if d else {}))
                              for c, d in envelopes]}
        answer = backoffice.post("/api/v1/beneficiaries", body, key=new_key())
        assert answer.status_code == 201, answer.text
        beneficiary = answer.json()
        beneficiary["email"] = email
        beneficiary["password"] = PASSWORD
        for category, cents in (credits or {}).items():
            credited = self.credit(backoffice, beneficiary["pass_id"], category, cents)
            assert credited.status_code == 201, credited.text
        return beneficiary

    def credit(self, backoffice, pass_id, category, amount_cents, key=None):
        return backoffice.post("/api/v1/passes/%s/credits" % pass_id,
                               {"category": category, "amount_cents": amount_cents},
                               key=key or new_key())

    @staticmethod
    def pay(beneficiary_api, partner_code, amount_cents, key=None):
        return beneficiary_api.post("/api/v1/pass/payments",
                                    {"partner_code": partner_code, "amount_cents": amount_cents},
                                    key=key or new_key())

    @staticmethod
    def pass_of(api):
        answer = api.get("/api/v1/pass")
        assert answer.status_code == 200, answer.text
        return answer.json()

    @staticmethod
    def operations(api, path="/api/v1/pass/operations", page_max=100):
        """Every operation, following next_cursor (bounded)."""
        found = []
        cursor = None
        for _ in range(page_max):
            query = "?limit=200" + ("&cursor=" + requests.utils.quote(cursor, safe="") if cursor else "")
            answer = api.get(path + query)
            assert answer.status_code == 200, answer.text
            page = answer.json()
            found.extend(page["operations"])
            cursor = page.get("next_cursor")
            if not cursor:
                return found
        raise AssertionError("more than %d pages of operations" % page_max)

    @staticmethod
    def envelope(pass_view, category):
        for envelope in pass_view["envelopes"]:
            if envelope["category"] == category:
                return envelope
        raise AssertionError("no envelope %s in %r" % (category, pass_view))

    # --- time -------------------------------------------------------------

    def now(self):
        """The services' "now" (system time plus the test clock offset)."""
        return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
            milliseconds=self.stack.clock_offset_ms())

    def paris_today(self):
        return self.now().astimezone(PARIS).date()

    def advance_clock_ms(self, delta_ms):
        """Moves every service's clock forward (never back: sessions and
        expiries only make sense forward), then waits for them to re-read it."""
        assert delta_ms > 0
        self.stack.set_clock_offset_ms(self.stack.clock_offset_ms() + delta_ms)
        time.sleep(0.6)

    # --- broker and database ----------------------------------------------

    def kcat(self, args, data=None, timeout_s=30):
        argv = ["kcat", "-b", self.stack.kafka_brokers, "-q"] + list(args)
        done = subprocess.run(argv, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout_s)
        assert done.returncode == 0, "kcat %s failed: %s" % (args, done.stderr.decode(errors="replace"))
        return done.stdout

    def produce_raw(self, topic, partition, payload):
        """One message with exactly these bytes (kcat sends a file as one message)."""
        with tempfile.NamedTemporaryFile(prefix="solipass-poison-", delete=False) as f:
            f.write(payload)
            path = f.name
        try:
            self.kcat(["-P", "-t", topic, "-p", str(partition), "-k", "poison", path])
        finally:
            os.unlink(path)

    def message_keys(self, topic, partition=0):
        out = self.kcat(["-C", "-t", topic, "-p", str(partition), "-o", "beginning", "-e",
                         "-f", "%k\n"])
        return out.decode(errors="replace").splitlines()

    def high_watermark(self, topic, partition):
        out = self.kcat(["-Q", "-t", "%s:%d:-1" % (topic, partition)]).decode()
        # "<topic> [<partition>] offset <n>"
        return int(out.strip().rsplit(" ", 1)[1])

    # --- e-mail (the stack's SMTP sink keeps each message as a file) ---------

    def mails(self, to=None):
        """Every message the SMTP sink accepted (oldest first), as dicts:
        to (envelope recipients), subject, text, html, kind, message_id, raw."""
        found = []
        folder = self.stack.mail_dir
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".eml"):
                continue
            with open(os.path.join(folder, name), "rb") as f:
                raw = f.read()
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            text = msg.get_body(preferencelist=("plain",))
            html = msg.get_body(preferencelist=("html",))
            mail = {"to": [a.lower() for a in msg.get_all("X-Sink-Rcpt", [])],
                    "subject": str(msg["Subject"]), "kind": str(msg["X-Solipass-Kind"]),
                    "message_id": str(msg["Message-ID"]), "from": str(msg["From"]),
                    "text": text.get_content() if text else "",
                    "html": html.get_content() if html else "", "raw": raw}
            if to is None or to.lower() in mail["to"]:
                found.append(mail)
        return found

    def wait_for_mails(self, to, count=1, timeout_s=60.0):
        return wait_until(lambda: self.mails(to) if len(self.mails(to)) >= count else None,
                          "%d e-mail(s) to %s" % (count, to), timeout_s=timeout_s)

    @staticmethod
    def link_token(mail, path):
        """The token of the link to path (/activate, /reset-password) in a mail."""
        found = re.search(r"https?://[^\s]+%s\?token=([A-Za-z0-9._-]+)" % re.escape(path),
                          mail["text"])
        assert found, "no %s link in: %s" % (path, mail["text"])
        return found.group(1)

    def sql(self, query):
        return self.stack.psql(query)

    def sql_rows(self, query):
        text = self.sql(query)
        return [line.split("|") for line in text.splitlines()] if text else []


def run_parallel(count, target):
    """Runs target(i) in count threads started together; returns the results
    in order (an exception in a thread is re-raised here)."""
    results = [None] * count
    errors = []
    barrier = threading.Barrier(count)

    def body(i):
        try:
            barrier.wait(timeout=60)
            results[i] = target(i)
        except BaseException as e:  # re-raised in the caller's thread
            errors.append(e)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "threads still running after 600 s"
    if errors:
        raise errors[0]
    return results
