"""test_web_partner.py - the partner space in a real browser.

Prepares over the API what the partner guide's journey needs - a partner
created by the back-office without a password (so that its administrator
receives the activation e-mail), a beneficiary with a credited pass, a
convention to read and accept - then runs tests/browser/partner-journey.mjs
(playwright-core driving Debian's Chromium headless against this stack's
gateway, which serves web/dist) and asserts that every step of it passed.
The script's output, step by step, is shown on failure (and with -s)."""

import os
import shutil
import subprocess
import uuid

from solipass_api import PASSWORD, new_key, unique_email

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
JOURNEY = os.path.join(REPO, "tests", "browser", "partner-journey.mjs")
CHROMIUM = "/usr/bin/chromium"
JOURNEY_TIMEOUT_S = 600


def prerequisites():
    """What the browser run needs on this machine, said plainly when missing."""
    missing = []
    if not os.path.isfile(os.path.join(REPO, "web", "dist", "partenaire", "index.html")):
        missing.append("web/dist (run web/build)")
    if not os.path.isdir(os.path.join(REPO, "web", "node_modules", "playwright-core")):
        missing.append("web/node_modules (run web/build)")
    if shutil.which("node") is None:
        missing.append("node (apt-get install nodejs)")
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(CHROMIUM + " (apt-get install chromium)")
    if shutil.which("zbarimg") is None:
        missing.append("zbarimg (apt-get install zbar-tools)")
    return missing


def test_partner_guide_in_chromium(stack, world, backoffice):
    missing = prerequisites()
    assert not missing, "cannot run the browser journey, missing: " + ", ".join(missing)

    admin_email = unique_email("web-admin")
    created = backoffice.post("/api/v1/partners", {
        "name": "Club de football de Fontenay", "category": "sport",
        "admin_email": admin_email, "admin_full_name": "Léa Martin"}, key=new_key())
    assert created.status_code == 201, created.text
    partner = created.json()

    beneficiary = world.create_beneficiary(
        backoffice, envelopes=(("general", None), ("sport", None)),
        credits={"general": 20000, "sport": 20000})

    # An optional convention in force: the journey reads and accepts it
    # (a mandatory one would block the other tests' partners).
    published = backoffice.post("/api/v1/conventions", {
        "title": "Charte d'accueil des bénéficiaires",
        "version": "web-" + uuid.uuid4().hex[:8],
        "text": "Article 1. La structure accueille les bénéficiaires du Pass comme tout public.\n"
                "Article 2. Elle affiche son QR code à l'accueil.",
        "effective_date": world.paris_today().isoformat(), "mandatory": False}, key=new_key())
    assert published.status_code == 201, published.text

    env = dict(os.environ,
               SP_TEST_BASE_URL=world.url,
               SP_TEST_MAIL_DIR=stack.mail_dir,
               SP_TEST_ADMIN_EMAIL=admin_email,
               SP_TEST_PARTNER_CODE=partner["partner_code"],
               SP_TEST_BENEFICIARY_EMAIL=beneficiary["email"],
               SP_TEST_BENEFICIARY_PASSWORD=PASSWORD,
               SP_TEST_SCREENSHOTS=os.path.join(REPO, "var", "screenshots"))
    done = subprocess.run(["node", JOURNEY], cwd=REPO, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=JOURNEY_TIMEOUT_S)
    output = done.stdout.decode(errors="replace")
    print(output)
    assert done.returncode == 0, "the partner journey in Chromium failed:\n" + output[-6000:]
    assert "steps passed" in output and "failed:" not in output.splitlines()[-1], output[-2000:]


def error_codes_of_the_api():
    """Every error code docs/api.md's status table and docs/openapi.json's
    answers name."""
    import json
    import re
    codes = set()
    with open(os.path.join(REPO, "docs", "api.md"), encoding="utf-8") as f:
        for line in f:
            if re.match(r"^\| [45]\d\d \|", line):
                codes |= set(re.findall(r"`([a-z][a-z0-9_]*)`", line))
            for found in re.findall(r"\b[45]\d\d ((?:`[a-z_0-9]+`(?: \| |\s*\|\s*|, | or )?)+)", line):
                codes |= set(re.findall(r"`([a-z][a-z0-9_]*)`", found))
    openapi = os.path.join(REPO, "docs", "openapi.json")
    if os.path.exists(openapi):
        with open(openapi, encoding="utf-8") as f:
            description = json.load(f)
        for operations in description.get("paths", {}).values():
            for operation in operations.values():
                for status, answer in (operation.get("responses") or {}).items():
                    if status[:1] in ("4", "5"):
                        codes |= set(re.findall(r"`([a-z][a-z0-9_]*)`", answer.get("description", "")))
    return codes


def test_every_api_error_code_has_a_french_sentence():
    """The web apps' catalogue (web/src/shared/errors.fr.ts) says every
    error code of the API in French: none falls back to a generic message."""
    import re
    with open(os.path.join(REPO, "web", "src", "shared", "errors.fr.ts"), encoding="utf-8") as f:
        catalogue = set(re.findall(r"^\s+([a-z][a-z0-9_]*): '", f.read(), re.M))
    codes = error_codes_of_the_api()
    assert len(codes) > 60, sorted(codes)
    missing = sorted(codes - catalogue)
    assert not missing, "error codes without a French sentence in web/src/shared/errors.fr.ts: %s" % missing


def test_web_shared_logic():
    """The web apps' formatter and checks (tests/browser/shared-logic.mjs),
    run in a zone far from Paris: amounts and dates are still French and
    Parisian, the voucher and IBAN checks those of the server."""
    assert shutil.which("node") is not None, "node is missing (apt-get install nodejs)"
    assert os.path.isdir(os.path.join(REPO, "web", "node_modules", "esbuild")), "run web/build first"
    done = subprocess.run(["node", os.path.join(REPO, "tests", "browser", "shared-logic.mjs")], cwd=REPO,
                          env=dict(os.environ, TZ="America/New_York"), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=120)
    output = done.stdout.decode(errors="replace")
    assert done.returncode == 0, output[-4000:]
