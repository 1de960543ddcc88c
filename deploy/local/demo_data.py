#!/usr/bin/python3
"""demo_data.py - loads a small demo city into a running solipass, over the
HTTP API exactly as the back-office app would.

The city's program budget needs no setup: it is the ledger account `budget`,
the source of every credit (its balance goes negative by what the program
has handed out). The demo creates:
  - two partners with an administrator login each: "Club de football de
    Fontenay" (category sport) and "Médiathèque Louis-Aragon" (culture);
  - three beneficiaries whose passes have envelopes (general, sport,
    culture; one with an end date), credited from the budget.

Standard library only. Usage:
    demo_data.py GATEWAY_URL BACKOFFICE_EMAIL BACKOFFICE_PASSWORD
"""

import datetime
import json
import sys
import urllib.error
import urllib.request
import zoneinfo

HTTP_TIMEOUT_S = 30
DEMO_PASSWORD = "solipass-demo"

PARTNERS = [
    {"key": "demo-partner-foot", "name": "Club de football de Fontenay", "category": "sport",
     "admin_email": "club-foot@example.org", "admin_full_name": "Karim Haddad"},
    {"key": "demo-partner-mediatheque", "name": "Médiathèque Louis-Aragon", "category": "culture",
     "admin_email": "mediatheque@example.org", "admin_full_name": "Sophie Lemaire"},
]

# end_days: the envelope's end date, that many days after today (Europe/Paris).
BENEFICIARIES = [
    {"key": "demo-beneficiary-amina", "email": "amina.benali@example.org", "full_name": "Amina Benali",
     "envelopes": [("general", None, 5000), ("sport", None, 6000), ("culture", None, 1200)]},
    {"key": "demo-beneficiary-lucas", "email": "lucas.martin@example.org", "full_name": "Lucas Martin",
     "envelopes": [("general", None, 3000), ("sport", 60, 4000)]},
    {"key": "demo-beneficiary-chloe", "email": "chloe.dubois@example.org", "full_name": "Chloé Dubois",
     "envelopes": [("general", None, 2000), ("culture", None, 2500)]},
]


class DemoError(Exception):
    pass


def call(base_url, method, path, body=None, token=None, key=None):
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = "Bearer " + token
    if key:
        headers["Idempotency-Key"] = key
    request = urllib.request.Request(base_url + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as answer:
            text = answer.read().decode()
            return json.loads(text) if text else {}
    except urllib.error.HTTPError as e:
        raise DemoError("%s %s answered %d: %s" % (method, path, e.code, e.read().decode(errors="replace")))
    except urllib.error.URLError as e:
        raise DemoError("%s %s: %s" % (method, path, e.reason))


def load(base_url, backoffice_email, backoffice_password):
    """Creates the demo data; returns {"logins": [...], "partners": [...]}."""
    token = call(base_url, "POST", "/api/v1/auth/login",
                 {"email": backoffice_email, "password": backoffice_password})["token"]
    today = datetime.datetime.now(zoneinfo.ZoneInfo("Europe/Paris")).date()
    logins, partners = [], []
    for p in PARTNERS:
        created = call(base_url, "POST", "/api/v1/partners", {
            "name": p["name"], "category": p["category"], "admin_email": p["admin_email"],
            "admin_password": DEMO_PASSWORD, "admin_full_name": p["admin_full_name"]},
            token=token, key=p["key"])
        partners.append(created)
        logins.append({"role": "partner", "email": p["admin_email"], "password": DEMO_PASSWORD})
    for b in BENEFICIARIES:
        envelopes = []
        for category, end_days, _ in b["envelopes"]:
            envelope = {"category": category}
            if end_days is not None:
                envelope["end_date"] = (today + datetime.timedelta(days=end_days)).isoformat()
            envelopes.append(envelope)
        created = call(base_url, "POST", "/api/v1/beneficiaries", {
            "email": b["email"], "password": DEMO_PASSWORD, "full_name": b["full_name"],
            "envelopes": envelopes}, token=token, key=b["key"])
        for category, _, cents in b["envelopes"]:
            call(base_url, "POST", "/api/v1/passes/%s/credits" % created["pass_id"],
                 {"category": category, "amount_cents": cents}, token=token,
                 key="%s-credit-%s" % (b["key"], category))
        logins.append({"role": "beneficiary", "email": b["email"], "password": DEMO_PASSWORD})
    return {"logins": logins, "partners": partners}


def main(argv):
    if len(argv) != 4 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) == 2 else 2
    try:
        print(json.dumps(load(argv[1], argv[2], argv[3]), indent=2, ensure_ascii=False))
    except DemoError as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
