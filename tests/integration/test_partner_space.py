"""P8, P10, P11, P23: the partner space. A partner downloads its QR code
(PNG, SVG) and prints its poster; the QR code decodes to the payment link
"<public URL>/payer/<partner code>", and paying with the code it carries
reaches the same partner as typing it. The
service's contact block is shown. The partner follows its payments live
(Server-Sent Events): a payment shows there within a second, only at its own
partner, and a reconnecting client carries on from its last event."""

import json
import queue
import threading
import time

import requests

from solipass_api import expect_error, new_key
from test_vouchers import decode_png, decode_svg

LIVE_WITHIN_S = 1.0
STREAM = "/api/v1/partner/operations/stream"


def partner_admin(world, partner):
    return world.login(partner["admin_email"], partner["admin_password"])


def paying_beneficiary(world, backoffice, cents=20000):
    ben = world.create_beneficiary(backoffice, (("general", None),), {"general": cents})
    return world.login(ben["email"], ben["password"])


class EventStream:
    """Reads a text/event-stream answer on a thread; events land in a queue as
    {"id", "event", "data"} dicts."""

    def __init__(self, world, token, last_event_id=None):
        headers = {"Authorization": "Bearer " + token, "Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        self.answer = requests.get(world.url + STREAM, headers=headers, stream=True, timeout=30)
        self.events = queue.Queue()
        self.retry = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        buffer = ""
        try:
            for chunk in self.answer.iter_content(chunk_size=None, decode_unicode=True):
                buffer += chunk
                while "\n\n" in buffer:
                    block, buffer = buffer.split("\n\n", 1)
                    self._parse(block)
        except (requests.exceptions.RequestException, ValueError, AttributeError):
            pass   # closed by the test

    def _parse(self, block):
        fields = {}
        for line in block.split("\n"):
            if line.startswith(":") or ": " not in line:
                continue
            name, value = line.split(": ", 1)
            fields[name] = value
        if "retry" in fields:
            self.retry = int(fields["retry"])
        if "event" in fields:
            self.events.put(fields)

    def next_event(self, timeout_s):
        return self.events.get(timeout=timeout_s)

    def close(self):
        self.answer.close()


def test_qr_code_decodes_to_the_partner_code_and_pays_the_same_partner(world, backoffice):
    partner = world.create_partner(backoffice, "sport", "Club de judo")
    admin = partner_admin(world, partner)
    png = admin.get("/api/v1/partner/qr.png")
    assert png.status_code == 200 and png.headers["Content-Type"] == "image/png"
    link = world.url + "/payer/" + partner["partner_code"]
    assert decode_png(png.content) == link
    svg = admin.get("/api/v1/partner/qr.svg")
    assert svg.status_code == 200 and svg.headers["Content-Type"] == "image/svg+xml"
    assert decode_svg(svg.text) == link
    scanned = link.rsplit("/", 1)[1]   # what the payment screen reads from its address

    ben = paying_beneficiary(world, backoffice)
    by_scan = world.pay(ben, scanned, 700)
    typed = "%s %s" % (partner["partner_code"][:4], partner["partner_code"][4:])
    by_typing = world.pay(ben, typed, 300)
    assert by_scan.status_code == 201, by_scan.text
    assert by_typing.status_code == 201, by_typing.text
    assert by_scan.json()["partner_id"] == by_typing.json()["partner_id"] == partner["partner_id"]
    assert admin.get("/api/v1/partner").json()["owed_cents"] == 1000
    ben.close()
    admin.close()


def test_poster_is_a_printable_french_a4_page(world, backoffice):
    partner = world.create_partner(backoffice, "culture", "Théâtre <Les Tréteaux> & Cie")
    admin = partner_admin(world, partner)
    page = admin.get("/api/v1/partner/poster")
    assert page.status_code == 200, page.text
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    html = page.text
    assert 'lang="fr"' in html and "<style" not in html and "style=" not in html
    assert "style-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    sheet = admin.get(html.split('<link rel="stylesheet" href="', 1)[1].split('"', 1)[0])
    assert sheet.status_code == 200 and sheet.headers["Content-Type"].startswith("text/css")
    assert "@page { size: A4" in sheet.text
    assert "Théâtre &lt;Les Tréteaux&gt; &amp; Cie" in html and "<Les Tréteaux>" not in html
    code = partner["partner_code"]
    assert "%s %s" % (code[:4], code[4:]) in html
    assert "Scannez ce QR code avec l'appareil photo de votre téléphone" in html
    assert "la page de paiement" in html and "tapez le code partenaire" in html
    assert "Saisissez le montant" in html
    svg = html[html.index("<svg"):html.index("</svg>") + 6]
    assert decode_svg(svg) == world.url + "/payer/" + code
    expect_error(admin.get("/api/v1/partner/poster?format=a6"), 400, "unknown_field")
    admin.close()


def test_partner_space_pages_are_for_partners_only(world, backoffice, partners):
    ben = paying_beneficiary(world, backoffice, 100)
    for path in ("/api/v1/partner/qr.png", "/api/v1/partner/qr.svg", "/api/v1/partner/poster",
                 "/api/v1/partner/contact", STREAM):
        expect_error(ben.get(path), 403, "forbidden")
        expect_error(backoffice.get(path), 403, "forbidden")
        expect_error(world.anonymous().get(path), 401, "unauthenticated")
    expect_error(ben.post("/api/v1/partner/qr.png", {}), 405, "method_not_allowed")
    ben.close()


def test_contact_block_is_served_to_the_partner_space(world, partners):
    admin = partner_admin(world, partners["sport"])
    answer = admin.get("/api/v1/partner/contact")
    assert answer.status_code == 200, answer.text
    contact = answer.json()
    assert set(contact) == {"hours", "email", "phones"}
    assert contact["hours"] and "@" in contact["email"]
    assert isinstance(contact["phones"], list) and 1 <= len(contact["phones"]) <= 4
    public = world.anonymous().get("/api/v1/contact")
    assert public.status_code == 200 and public.json() == contact
    admin.close()


def test_a_payment_shows_live_within_a_second_at_its_partner_only(world, backoffice):
    partner = world.create_partner(backoffice, "sport", "Piscine municipale")
    other = world.create_partner(backoffice, "sport", "Stade nautique")
    admin = partner_admin(world, partner)
    ben = paying_beneficiary(world, backoffice)
    stream = EventStream(world, admin.token)
    try:
        assert stream.answer.status_code == 200
        assert stream.answer.headers["Content-Type"].startswith("text/event-stream")
        assert world.pay(ben, other["partner_code"], 100).status_code == 201
        paid = world.pay(ben, partner["partner_code"], 1250)
        assert paid.status_code == 201, paid.text
        answered_at = time.monotonic()
        event = stream.next_event(timeout_s=LIVE_WITHIN_S)
        assert time.monotonic() - answered_at <= LIVE_WITHIN_S
        assert event["event"] == "operation"
        operation = json.loads(event["data"])
        assert operation["operation_id"] == paid.json()["operation_id"]
        assert operation["partner_id"] == partner["partner_id"]
        assert operation["amount_cents"] == 1250 and operation["channel"] == "code"
        assert operation["pass_ref"] == paid.json()["pass_id"][-4:]
        assert "pass_id" not in operation and "pass_balance_after_cents" not in operation
        at_ms, operation_id = event["id"].split("|")
        assert operation_id == operation["operation_id"] and int(at_ms) > 0
        assert stream.retry == 1000
        assert stream.events.empty()
    finally:
        stream.close()
        ben.close()
        admin.close()


def test_a_reconnecting_client_gets_what_it_missed_and_nothing_twice(world, backoffice):
    partner = world.create_partner(backoffice, "sport", "Club de tennis")
    admin = partner_admin(world, partner)
    ben = paying_beneficiary(world, backoffice)
    first = EventStream(world, admin.token)
    try:
        assert world.pay(ben, partner["partner_code"], 100).status_code == 201
        seen = first.next_event(timeout_s=5)
    finally:
        first.close()
    missed = world.pay(ben, partner["partner_code"], 200)
    assert missed.status_code == 201
    again = EventStream(world, admin.token, last_event_id=seen["id"])
    try:
        event = again.next_event(timeout_s=5)
        assert json.loads(event["data"])["operation_id"] == missed.json()["operation_id"]
        time.sleep(0.6)
        assert again.events.empty()
    finally:
        again.close()
    bad = requests.get(world.url + STREAM, headers={"Authorization": "Bearer " + admin.token,
                                                    "Last-Event-ID": "not-ours"}, timeout=10)
    expect_error(bad, 400, "invalid_value", "Last-Event-ID")
    ben.close()
    admin.close()
