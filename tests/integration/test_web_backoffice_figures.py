"""test_web_backoffice_figures.py - the console's figures in a real browser.

Prepares over the API what the finance clerk's and the back-office's day
needs - two partners with bank details and payments, one refund request
pending, a finance user activated from its real e-mail - then runs
tests/browser/backoffice-figures.mjs (playwright-core driving Debian's
Chromium headless against this stack's gateway) and asserts that every step
passed: the dashboard's figures are the API's, a CSV import is checked (its
bad lines shown) then run to its end, a finance user downloads the SEPA file
and marks the request paid, the partner then sees it paid in its space; axe
on every screen, at 1280 px and 390 px. The script's output, step by step,
is shown on failure (and with -s)."""

import os
import subprocess

from solipass_api import PASSWORD, new_key, unique_email, wait_until
from test_finance import BANK  # a structure with its IBAN and BIC
from test_web_backoffice import prerequisites  # the console's build, node and Chromium

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.path.join(REPO, "tests", "browser", "backoffice-figures.mjs")
SCRIPT_TIMEOUT_S = 600
FINANCE_PASSWORD = "une phrase de passe des finances"


def partner_with_payments(world, backoffice, name, amounts, beneficiary_api):
    partner = world.create_partner(backoffice, category="sport", name=name)
    admin = world.login(partner["admin_email"], partner["admin_password"])
    answer = admin.request("PUT", "/api/v1/partner/structure",
                           body=dict(BANK, legal_name=name, public_name=name))
    assert answer.status_code == 200, answer.text
    operation_ids = []
    for cents in amounts:
        paid = world.pay(beneficiary_api, partner["partner_code"], cents)
        assert paid.status_code == 201, paid.text
        operation_ids.append(paid.json()["operation_id"])
    return partner, admin, operation_ids


def finance_user(world, backoffice):
    """A finance clerk, enrolled by the back-office and activated from the
    link of its real e-mail."""
    email = unique_email("finance")
    created = backoffice.post("/api/v1/staff-users", {"email": email, "full_name": "Nadia Comptable",
                                                      "role": "finance"}, key=new_key())
    assert created.status_code == 201, created.text
    mails = world.wait_for_mails(email)
    token = world.link_token(mails[-1], "/activate")
    activated = world.anonymous().post("/api/v1/auth/activate",
                                       {"token": token, "password": FINANCE_PASSWORD})
    assert activated.status_code == 200, activated.text
    return email


def test_backoffice_figures_in_chromium(stack, world, backoffice):
    missing = prerequisites()
    assert not missing, "cannot run the browser script, missing: " + ", ".join(missing)

    beneficiary = world.create_beneficiary(
        backoffice, envelopes=(("general", None), ("sport", None)),
        credits={"general": 30000, "sport": 20000})
    beneficiary_api = world.login(beneficiary["email"], beneficiary["password"])
    judo, judo_admin, judo_ops = partner_with_payments(
        world, backoffice, "Judo Élan", [1250, 2345], beneficiary_api)
    club, _, _ = partner_with_payments(world, backoffice, "Club de lecture", [890], beneficiary_api)
    requested = judo_admin.post("/api/v1/partner/refund-requests", {"operation_ids": judo_ops},
                                key=new_key())
    assert requested.status_code == 201, requested.text
    request = requested.json()
    assert request["status"] == "pending", request
    finance_email = finance_user(world, backoffice)

    # The read models follow the log: wait until they show the last payment
    # (read from the partner's page: after other tests, the club is not
    # among the dashboard's ten partners owed most).
    def read_models_have_them():
        answer = backoffice.get("/api/v1/partners/%s" % club["partner_id"])
        assert answer.status_code == 200, answer.text
        return answer.json()["partner"]["owed_cents"] == 890 or None
    wait_until(read_models_have_them, "the read models showing the new payments", timeout_s=60)

    env = dict(os.environ,
               SP_TEST_BASE_URL=world.url,
               SP_TEST_BACKOFFICE_EMAIL=stack.bootstrap_email,
               SP_TEST_BACKOFFICE_PASSWORD=stack.bootstrap_password,
               SP_TEST_FINANCE_EMAIL=finance_email,
               SP_TEST_FINANCE_PASSWORD=FINANCE_PASSWORD,
               SP_TEST_PARTNER_EMAIL=judo["admin_email"],
               SP_TEST_PARTNER_PASSWORD=PASSWORD,
               SP_TEST_PARTNER_ID=judo["partner_id"],
               SP_TEST_PASS_ID=beneficiary["pass_id"],
               SP_TEST_REQUEST_ID=request["request_id"],
               SP_TEST_REQUEST_TOTAL_CENTS=str(request["total_cents"]),
               SP_TEST_CLOCK_OFFSET_MS=str(stack.clock_offset_ms()),
               SP_TEST_SCREENSHOTS=os.path.join(REPO, "var", "screenshots", "backoffice-figures"))
    done = subprocess.run(["node", SCRIPT], cwd=REPO, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=SCRIPT_TIMEOUT_S)
    output = done.stdout.decode(errors="replace")
    print(output)
    assert done.returncode == 0, "the console's figures in Chromium failed:\n" + output[-6000:]
    assert "steps passed" in output, output[-2000:]

    # What the browser did is in the ledger: the request is paid, with its reference.
    paid = backoffice.get("/api/v1/finance/refund-requests/%s" % request["request_id"]).json()
    assert paid["status"] == "paid" and paid["transfer_reference"] == "VIR-WEB-0001", paid
