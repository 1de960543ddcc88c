"""test_web_backoffice.py - the city's back-office console in a real browser.

Runs tests/browser/backoffice.mjs (playwright-core driving Debian's Chromium
headless against this stack's gateway, which serves web/dist) as the
stack's back-office account, and asserts that every step of it passed. The
script creates what it needs through the console itself (a partner, a
beneficiary, a convention, a finance user), but for the 52 beneficiaries
whose list it reads in two pages and a partner paid 12,50 €, made here
over the API; the screenshots of every screen
at 1280 px and 390 px go to var/screenshots/backoffice/. The script's
output, step by step, is shown on failure (and with -s)."""

import os
import shutil
import subprocess
import uuid

from solipass_api import new_key, unique_email

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.path.join(REPO, "tests", "browser", "backoffice.mjs")
CHROMIUM = "/usr/bin/chromium"
TIMEOUT_S = 600
# One more page than the console's 50 rows: the list is read in two pages.
PAGING_COUNT = 52


def prerequisites():
    missing = []
    if not os.path.isfile(os.path.join(REPO, "web", "dist", "backoffice", "index.html")):
        missing.append("web/dist/backoffice (run web/build)")
    if not os.path.isdir(os.path.join(REPO, "web", "node_modules", "playwright-core")):
        missing.append("web/node_modules (run web/build)")
    if shutil.which("node") is None:
        missing.append("node (apt-get install nodejs)")
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(CHROMIUM + " (apt-get install chromium)")
    return missing


def test_backoffice_console_in_chromium(stack, world, backoffice):
    missing = prerequisites()
    assert not missing, "cannot run the browser journey, missing: " + ", ".join(missing)
    # Beneficiaries sharing a word of their name, for the list's paging.
    word = "Pagination" + uuid.uuid4().hex[:8]
    for i in range(PAGING_COUNT):
        enrolled = backoffice.post("/api/v1/beneficiaries", {
            "email": unique_email("paging"), "full_name": "%s %02d" % (word, i + 1),
            "envelopes": [{"category": "general"}]}, key=new_key())
        assert enrolled.status_code == 201, enrolled.text
    # A partner that has been paid, for its page's operations and amount owed.
    paid = world.create_partner(backoffice, "culture", "Librairie du Marché " + word[-8:])
    payer = world.create_beneficiary(backoffice, credits={"general": 5000})
    paying = world.login(payer["email"], payer["password"])
    payment = world.pay(paying, paid["partner_code"], 1250)
    assert payment.status_code == 201, payment.text
    paying.close()
    env = dict(os.environ,
               SP_TEST_BASE_URL=world.url,
               SP_TEST_MAIL_DIR=stack.mail_dir,
               SP_TEST_BO_EMAIL=stack.bootstrap_email,
               SP_TEST_BO_PASSWORD=stack.bootstrap_password,
               SP_TEST_PAGING_WORD=word,
               SP_TEST_PAGING_COUNT=str(PAGING_COUNT),
               SP_TEST_PAID_PARTNER_ID=paid["partner_id"],
               SP_TEST_SCREENSHOTS=os.path.join(REPO, "var", "screenshots", "backoffice"))
    done = subprocess.run(["node", SCRIPT], cwd=REPO, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=TIMEOUT_S)
    output = done.stdout.decode(errors="replace")
    print(output)
    assert done.returncode == 0, "the back-office console in Chromium failed:\n" + output[-6000:]
    assert "steps passed" in output and "failed:" not in output.splitlines()[-1], output[-2000:]
