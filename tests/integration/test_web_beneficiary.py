"""test_web_beneficiary.py - the beneficiary app in a real browser.

Prepares over the API a sport partner with a public name and address (its
conventions in force accepted, so that it can take payments) and a
beneficiary whose pass has a sport envelope ending within 30 days and a
general one, both credited, and a second beneficiary whose pass the city
closed; then runs tests/browser/beneficiary-journey.mjs
(playwright-core driving Debian's Chromium headless at 360 px against this
stack's gateway, which serves web/dist) and asserts that every step passed.
Screenshots go to var/screenshots/beneficiaire/."""

import datetime
import os
import subprocess
import tempfile

from solipass_api import PASSWORD, new_key
from test_web_partner import REPO, prerequisites

JOURNEY = os.path.join(REPO, "tests", "browser", "beneficiary-journey.mjs")
JOURNEY_TIMEOUT_S = 600
PARTNER_NAME = "Club de football de Fontenay"
PARTNER_ADDRESS = "12 avenue du Stade, 94120 Fontenay-sous-Bois"


def test_beneficiary_app_in_chromium(stack, world, backoffice):
    missing = prerequisites()
    assert os.path.isfile(os.path.join(REPO, "web", "dist", "beneficiaire", "index.html")), \
        "web/dist/beneficiaire is missing (run web/build)"
    assert not missing, "cannot run the browser journey, missing: " + ", ".join(missing)

    partner = world.create_partner(backoffice, category="sport")
    admin = world.login(partner["admin_email"], partner["admin_password"])
    profile = admin.request("PUT", "/api/v1/partner/structure", key=new_key(), body={
        "legal_name": "Association sportive de Fontenay", "public_name": PARTNER_NAME,
        "description": "Football pour tous, dès 6 ans.", "hq_address": PARTNER_ADDRESS})
    assert profile.status_code == 200, profile.text
    conventions = admin.get("/api/v1/partner/conventions")
    assert conventions.status_code == 200, conventions.text
    for convention in conventions.json().get("waiting", []):
        accepted = admin.post("/api/v1/partner/conventions/%s/accept" % convention["convention_id"],
                              {}, key=new_key())
        assert accepted.status_code in (200, 201), accepted.text

    # The poster's QR code, as the phone's camera reads it: the URL to open.
    qr = admin.get("/api/v1/partner/qr.png")
    assert qr.status_code == 200, qr.text
    with tempfile.NamedTemporaryFile(suffix=".png") as picture:
        picture.write(qr.content)
        picture.flush()
        decoded = subprocess.run(["zbarimg", "-q", "--raw", picture.name], stdout=subprocess.PIPE,
                                 check=True).stdout.decode().strip()
    assert decoded == world.url + "/payer/" + partner["partner_code"], decoded

    ending = (world.paris_today() + datetime.timedelta(days=20)).isoformat()
    beneficiary = world.create_beneficiary(
        backoffice, envelopes=(("general", None), ("sport", ending)),
        credits={"general": 5000, "sport": 8000})

    # Another beneficiary, who left the city: the city closed the pass.
    closed = world.create_beneficiary(backoffice, credits={"general": 2000})
    shut = backoffice.post("/api/v1/passes/%s/close" % closed["pass_id"], {}, key=new_key())
    assert shut.status_code == 200, shut.text

    env = dict(os.environ,
               SP_TEST_BASE_URL=world.url,
               SP_TEST_PARTNER_CODE=partner["partner_code"],
               SP_TEST_PAYMENT_URL=decoded,
               SP_TEST_PARTNER_EMAIL=partner["admin_email"],
               SP_TEST_PARTNER_PASSWORD=partner["admin_password"],
               SP_TEST_PARTNER_NAME=PARTNER_NAME,
               SP_TEST_PARTNER_ADDRESS=PARTNER_ADDRESS,
               SP_TEST_BENEFICIARY_EMAIL=beneficiary["email"],
               SP_TEST_BENEFICIARY_PASSWORD=PASSWORD,
               SP_TEST_CLOSED_EMAIL=closed["email"],
               SP_TEST_CLOCK_OFFSET_MS=str(stack.clock_offset_ms()),
               SP_TEST_SCREENSHOTS=os.path.join(REPO, "var", "screenshots", "beneficiaire"))
    done = subprocess.run(["node", JOURNEY], cwd=REPO, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=JOURNEY_TIMEOUT_S)
    output = done.stdout.decode(errors="replace")
    print(output)
    assert done.returncode == 0, "the beneficiary journey in Chromium failed:\n" + output[-6000:]
    assert "steps passed" in output and "failed:" not in output.splitlines()[-1], output[-2000:]

    # The payment made in the app is in the partner's operations.
    operations = admin.get("/api/v1/partner/operations").json()["operations"]
    assert any(o["amount_cents"] == 1250 and o["kind"] == "payment" and o["status"] == "accepted"
               for o in operations), operations
