"""Enrolling beneficiaries from the CSV a CCAS exports from its own software
(POST /api/v1/beneficiaries/imports): the dry run lists each bad line with
its line and column and writes nothing; the run enrols every good line
(an activation e-mail each), opens its pass and credits it once; the same
file sent again enrols and credits no one; Windows-1252, a byte-order mark
and commas are read; a bad allocation, a wrong role or a file too large is
refused."""

import time
import uuid

import pytest

from solipass_api import expect_error, new_key, unique_email, wait_until

IMPORTS = "/api/v1/beneficiaries/imports"
AMOUNT_CENTS = 4500


def upload(api, data, query, key=None, content_type="text/csv; charset=utf-8"):
    return api.request("POST", IMPORTS + "?" + query, raw=data, key=key,
                       headers={"Content-Type": content_type})


def people(count, tag):
    """count (nom, prenom, email) with e-mails no other test uses."""
    run = uuid.uuid4().hex[:8]
    return [("Nom%s-%d" % (tag, i), "Prénom%d" % i, "csv-%s-%s-%d@example.org" % (tag, run, i))
            for i in range(count)]


def csv_text(rows, delimiter=";", header=("nom", "prénom", "email"), newline="\r\n"):
    lines = [delimiter.join(header)] + [delimiter.join(row) for row in rows]
    return newline.join(lines) + newline


def wait_done(api, job, timeout_s=120.0):
    def done():
        answer = api.get(IMPORTS + "/" + job["import_id"])
        assert answer.status_code == 200, answer.text
        state = answer.json()
        return state if state["state"] == "done" else None
    return wait_until(done, "import %s done" % job["import_id"], timeout_s=timeout_s)


def quoted(emails):
    return ",".join("'%s'" % e for e in emails)


def balances(world, emails):
    """{email: (pass balance, credit operations)} of the users enrolled."""
    rows = world.sql_rows(
        "SELECT u.email, p.balance_cents,"
        " (SELECT count(*) FROM operations o WHERE o.pass_id = p.pass_id AND o.kind = 'credit')"
        " FROM users u JOIN passes p ON p.pass_id = u.pass_id WHERE u.email IN (%s)"
        % quoted(emails))
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}


def test_two_hundred_lines_with_three_bad_ones(world, backoffice):
    rows = people(200, "a")
    rows[9] = (rows[9][0], rows[9][1], "pas-une-adresse")    # line 11
    rows[49] = ("", rows[49][1], rows[49][2])                # line 51
    rows[119] = (rows[119][0], rows[119][1], rows[2][2].upper())  # line 121: line 4's e-mail
    data = csv_text(rows).encode()
    good = [r[2] for i, r in enumerate(rows) if i not in (9, 49, 119)]
    query = "category=sport&amount_cents=%d" % AMOUNT_CENTS

    dry = upload(backoffice, data, "dry_run=true&" + query)
    assert dry.status_code == 200, dry.text
    report = dry.json()
    assert (report["lines_total"], report["lines_valid"]) == (200, 197)
    assert (report["encoding"], report["delimiter"]) == ("utf-8", ";")
    assert [(p["line"], p["field"], p["code"]) for p in report["problems"]] == [
        (11, "email", "invalid_email"), (51, "nom", "missing_value"),
        (121, "email", "duplicate_email")]
    assert "ligne 4" in report["problems"][2]["message"]
    assert world.sql("SELECT count(*) FROM users WHERE email IN (%s)" % quoted(good)) == "0"

    started = time.monotonic()
    key = new_key()
    answer = upload(backoffice, data, query, key=key)
    assert answer.status_code == 202, answer.text
    job = wait_done(backoffice, answer.json())
    elapsed_s = time.monotonic() - started
    print("200 lines enrolled and credited in %.1f s" % elapsed_s)
    assert (job["enrolled"], job["credited"], job["skipped"], job["failed"]) == (197, 197, 0, 3)
    assert job["lines_done"] == job["lines_total"] == 200
    assert [(p["line"], p["field"]) for p in job["problems"]] == [(11, "email"), (51, "nom"),
                                                                  (121, "email")]
    enrolled = wait_until(lambda: (lambda b: b if len(b) == 197 else None)(balances(world, good)),
                          "197 passes in the read model")
    assert set(enrolled.values()) == {(AMOUNT_CENTS, 1)}
    names = dict(world.sql_rows("SELECT email, full_name FROM users WHERE email = '%s'" % good[0]))
    assert names[good[0]] == "Prénom0 Noma-0"

    # Each one gets the activation link by e-mail.
    def all_mailed():
        mailed = {to for m in world.mails() if m["kind"] == "activation" for to in m["to"]}
        return set(good) <= mailed or None
    wait_until(all_mailed, "197 activation e-mails", timeout_s=90)
    mail = world.mails(good[5])[0]
    assert mail["subject"] == "Activez votre compte du Pass solidarité"
    assert world.url + "/activate?token=" in mail["text"]

    # The same key again: the same run. A new key: a run that does nothing new.
    again = upload(backoffice, data, query, key=key)
    assert again.status_code == 202 and again.json()["import_id"] == job["import_id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    expect_error(upload(backoffice, data, "category=sport&amount_cents=1", key=key), 409,
                 "idempotency_conflict")
    answer = upload(backoffice, data, query, key=new_key())
    assert answer.status_code == 202, answer.text
    second = wait_done(backoffice, answer.json())
    assert second["import_id"] != job["import_id"]
    assert (second["enrolled"], second["credited"], second["skipped"], second["failed"]) == (
        0, 0, 197, 3)
    assert set(balances(world, good).values()) == {(AMOUNT_CENTS, 1)}
    assert len([m for m in world.mails(good[5]) if m["kind"] == "activation"]) == 1

    # Now the dry run says they are enrolled.
    dry = upload(backoffice, data, "dry_run=true&" + query).json()
    assert dry["lines_valid"] == 0
    assert sum(p["code"] == "email_enrolled" for p in dry["problems"]) == 197


def test_windows_1252_file_is_read(world, backoffice):
    email = unique_email("csv1252")
    data = ("Nom;Prénom;Courriel\r\nLefèvre;Zoé;%s\r\n" % email).encode("cp1252")
    assert b"\xe9" in data       # é as one Windows-1252 byte
    dry = upload(backoffice, data, "dry_run=true&category=culture&amount_cents=1000",
                 content_type="application/vnd.ms-excel")
    assert dry.status_code == 200, dry.text
    assert (dry.json()["encoding"], dry.json()["lines_valid"]) == ("windows-1252", 1)
    answer = upload(backoffice, data, "category=culture&amount_cents=1000", key=new_key())
    assert answer.status_code == 202, answer.text
    assert wait_done(backoffice, answer.json())["enrolled"] == 1
    assert world.sql("SELECT full_name FROM users WHERE email = '%s'" % email) == "Zoé Lefèvre"
    assert balances(world, [email]) == {email: (1000, 1)}


def test_bom_commas_and_quotes_are_read(world, backoffice):
    rows = people(3, "b")
    data = b"\xef\xbb\xbf" + ('E-mail,NOM,prenom\n%s,"Martin, dit ""Le Grand""",Léo\n'
                              '%s,Durand,Zoé\n%s,Roux,Ève\n'
                              % (rows[0][2], rows[1][2], rows[2][2])).encode()
    end_date = (world.paris_today().replace(year=world.paris_today().year + 1)).isoformat()
    query = "category=sport&amount_cents=700&end_date=" + end_date
    dry = upload(backoffice, data, "dry_run=true&" + query).json()
    assert (dry["encoding"], dry["delimiter"], dry["lines_valid"]) == ("utf-8-bom", ",", 3)
    answer = upload(backoffice, data, query, key=new_key())
    assert answer.status_code == 202, answer.text
    assert wait_done(backoffice, answer.json())["enrolled"] == 3
    assert world.sql("SELECT full_name FROM users WHERE email = '%s'" % rows[0][2]) == \
        'Léo Martin, dit "Le Grand"'
    assert world.sql("SELECT e.end_date FROM users u JOIN envelopes e ON e.pass_id = u.pass_id"
                     " WHERE u.email = '%s'" % rows[1][2]) == end_date


def test_already_enrolled_email_is_skipped_not_failed(world, backoffice):
    someone = world.create_beneficiary(backoffice)
    rows = people(1, "c") + [("Dupont", "Jean", someone["email"])]
    data = csv_text(rows).encode()
    dry = upload(backoffice, data, "dry_run=true&category=general&amount_cents=300").json()
    assert dry["lines_valid"] == 1
    assert [(p["line"], p["code"]) for p in dry["problems"]] == [(3, "email_enrolled")]
    answer = upload(backoffice, data, "category=general&amount_cents=300", key=new_key())
    job = wait_done(backoffice, answer.json())
    assert (job["enrolled"], job["credited"], job["skipped"], job["failed"]) == (1, 1, 1, 0)
    assert balances(world, [someone["email"]])[someone["email"]] == (0, 0)


def test_bad_allocation_and_file_are_refused(world, backoffice):
    data = csv_text(people(2, "d")).encode()
    expect_error(upload(backoffice, data, "category=sport"), 400, "missing_field", "amount_cents")
    expect_error(upload(backoffice, data, "amount_cents=100"), 400, "missing_field", "category")
    expect_error(upload(backoffice, data, "category=sport&amount_cents=0", key=new_key()), 422,
                 "invalid_amount", "amount_cents")
    expect_error(upload(backoffice, data, "category=sport&amount_cents=ten"), 422,
                 "invalid_amount", "amount_cents")
    expect_error(upload(backoffice, data, "category=Sport&amount_cents=100"), 422,
                 "invalid_category", "category")
    expect_error(upload(backoffice, data, "category=sport&amount_cents=100&end_date=2001-01-01"),
                 422, "invalid_date", "end_date")
    expect_error(upload(backoffice, data, "category=sport&amount_cents=100&end_date=2027-02-30"),
                 422, "invalid_date", "end_date")
    expect_error(upload(backoffice, data, "dry_run=oui&category=sport&amount_cents=100"), 400,
                 "invalid_value", "dry_run")
    expect_error(upload(backoffice, data, "category=sport&amount_cents=100&colour=red"), 400,
                 "unknown_field")
    expect_error(upload(backoffice, data, "category=sport&amount_cents=100"), 428,
                 "idempotency_key_required")
    expect_error(upload(backoffice, data, "dry_run=true&category=sport&amount_cents=100",
                        content_type="application/json"), 415, "unsupported_media_type")
    bad_header = csv_text(people(1, "d"), header=("nom", "prenom", "email", "telephone"))
    expect_error(upload(backoffice, bad_header.encode(),
                        "dry_run=true&category=sport&amount_cents=100"),
                 422, "csv_unknown_column", "telephone")
    missing = "nom;email\nDurand;d@example.org\n".encode()
    expect_error(upload(backoffice, missing, "dry_run=true&category=sport&amount_cents=100"),
                 422, "csv_missing_column", "prenom")
    expect_error(upload(backoffice, b"", "dry_run=true&category=sport&amount_cents=100"), 422,
                 "csv_empty")
    expect_error(backoffice.get(IMPORTS + "/" + str(uuid.uuid4())), 404, "import_not_found")


def test_body_too_large(world, backoffice):
    data = b"nom;prenom;email\n" + b"x" * (2 * 1024 * 1024)
    expect_error(upload(backoffice, data, "dry_run=true&category=sport&amount_cents=100"), 413,
                 "body_too_large")


def test_only_the_back_office_imports(world, backoffice, partners):
    data = csv_text(people(1, "e")).encode()
    partner = world.login(partners["sport"]["admin_email"], partners["sport"]["admin_password"])
    expect_error(upload(partner, data, "dry_run=true&category=sport&amount_cents=100"), 403,
                 "forbidden")
    expect_error(upload(partner, data, "category=sport&amount_cents=100", key=new_key()), 403,
                 "forbidden")
    someone = world.create_beneficiary(backoffice)
    beneficiary = world.login(someone["email"], someone["password"])
    expect_error(upload(beneficiary, data, "dry_run=true&category=sport&amount_cents=100"), 403,
                 "forbidden")
    expect_error(world.anonymous().request("POST", IMPORTS + "?category=sport&amount_cents=1",
                                           raw=data, headers={"Content-Type": "text/csv"}),
                 401, "unauthenticated")


def test_finance_staff_cannot_import(world, backoffice):
    """Finance staff are created by POST /api/v1/staff-users (another part
    of the console); without it there is no finance account to try."""
    email = unique_email("finance")
    created = backoffice.post("/api/v1/staff-users", {"email": email, "full_name": "Fin Ance",
                                                      "role": "finance"}, key=new_key())
    if created.status_code == 404:
        pytest.skip("no POST /api/v1/staff-users on this build")
    assert created.status_code == 201, created.text
    token = world.link_token(world.wait_for_mails(email)[0], "/activate")
    activated = world.anonymous().post("/api/v1/auth/activate",
                                       {"token": token, "password": "finance-password-1"})
    assert activated.status_code == 200, activated.text
    finance = world.login(email, "finance-password-1")
    expect_error(upload(finance, csv_text(people(1, "f")).encode(),
                        "dry_run=true&category=sport&amount_cents=100"), 403, "forbidden")


def test_beneficiary_enrolled_without_password_activates_by_mail(world, backoffice):
    email = unique_email("nopassword")
    answer = backoffice.post("/api/v1/beneficiaries",
                             {"email": email, "full_name": "Inès Sans-Mot",
                              "envelopes": [{"category": "general"}]}, key=new_key())
    assert answer.status_code == 201, answer.text
    expect_error(world.anonymous().post("/api/v1/auth/login",
                                        {"email": email, "password": "chosen-password-1"}),
                 401, "invalid_credentials")
    token = world.link_token(world.wait_for_mails(email)[0], "/activate")
    activated = world.anonymous().post("/api/v1/auth/activate",
                                       {"token": token, "password": "chosen-password-1"})
    assert activated.status_code == 200, activated.text
    me = world.login(email, "chosen-password-1").get("/api/v1/me").json()
    assert (me["role"], me["pass_id"]) == ("beneficiary", answer.json()["pass_id"])
