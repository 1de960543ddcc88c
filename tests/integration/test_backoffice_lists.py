"""The back-office console's lists and details, read from the read models:
the beneficiaries (search on name or e-mail, status, category, paging with
a total), one beneficiary's page, the partners with their states (each made
true then false by what people really do over HTTP), one partner's page,
and who accepted a convention and who has not. Only the back-office reads
them; every query parameter is checked."""
import datetime
import uuid

import pytest
import requests

from solipass_api import PASSWORD, expect_error, new_key, unique_email
from test_structure_users import PROFILE
from test_notifications import activation_token

NEW_PASSWORD = "a-new-admin-password-7"


def quoted(text):
    return requests.utils.quote(text, safe="")


def enrol(backoffice, full_name, categories=("general",)):
    email = unique_email("bolist")
    answer = backoffice.post("/api/v1/beneficiaries", {
        "email": email, "password": PASSWORD, "full_name": full_name,
        "envelopes": [{"category": c} for c in categories]}, key=new_key())
    assert answer.status_code == 201, answer.text
    return dict(answer.json(), email=email, full_name=full_name)


def all_pages(api, path, member, limit):
    """Every row of a list, following next_cursor (bounded), and each page."""
    rows, pages, cursor = [], [], None
    for _ in range(100):
        sep = "&" if "?" in path else "?"
        query = "%s%slimit=%d" % (path, sep, limit) + ("&cursor=" + quoted(cursor) if cursor else "")
        answer = api.get(query)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert len(page[member]) <= limit
        pages.append(page)
        rows.extend(page[member])
        cursor = page["next_cursor"]
        if cursor is None:
            return rows, pages
    raise AssertionError("more than 100 pages")


def close_pass(world, backoffice, pass_id):
    """Closes a pass the way the console does (POST .../close); where that
    endpoint is not in this build yet, the projection's column is set
    directly, as the close's projection would."""
    answer = backoffice.post("/api/v1/passes/%s/close" % pass_id, {"reason": "moved away"},
                             key=new_key())
    if answer.status_code == 404 and answer.json()["code"] == "not_found":
        world.sql("UPDATE passes SET closed_at = now() WHERE pass_id = '%s'" % pass_id)
        return
    assert answer.status_code == 200, answer.text


# ------------------------------------------------------------------ roles

def test_only_the_back_office_reads_the_lists(world, backoffice, partners):
    ben = world.create_beneficiary(backoffice)
    paths = ["/api/v1/beneficiaries", "/api/v1/beneficiaries/" + ben["user_id"],
             "/api/v1/partners", "/api/v1/partners/" + partners["sport"]["partner_id"]]
    admin = world.login(partners["sport"]["admin_email"], partners["sport"]["admin_password"])
    beneficiary = world.login(ben["email"], ben["password"])
    for api in (admin, beneficiary):
        for path in paths:
            expect_error(api.get(path), 403, "forbidden")
    for path in paths:
        expect_error(world.anonymous().get(path), 401, "unauthenticated")
        assert backoffice.get(path).status_code == 200, path
    admin.close()
    beneficiary.close()


def test_finance_does_not_read_the_beneficiaries(world, backoffice):
    email = unique_email("finance")
    created = backoffice.post("/api/v1/staff-users", {"email": email, "full_name": "Fin Ance",
                                                      "role": "finance"}, key=new_key())
    if created.status_code == 404:
        pytest.skip("no staff-users endpoint in this build to make a finance user")
    assert created.status_code == 201, created.text
    token = activation_token(world, email)
    activated = world.anonymous().post("/api/v1/auth/activate",
                                       {"token": token, "password": NEW_PASSWORD})
    assert activated.status_code == 200, activated.text
    finance = world.login(email, NEW_PASSWORD)
    ben = world.create_beneficiary(backoffice)
    expect_error(finance.get("/api/v1/beneficiaries"), 403, "forbidden")
    expect_error(finance.get("/api/v1/beneficiaries/" + ben["user_id"]), 403, "forbidden")
    finance.close()


# ------------------------------------------------------------------ beneficiaries

def test_beneficiaries_page_without_gap_or_duplicate_and_filter(world, backoffice):
    tag = "Zq" + uuid.uuid4().hex[:8]
    made = [enrol(backoffice, "%s Person %d" % (tag, i), ("general", "food") if i % 3 == 0
                  else ("general",)) for i in range(7)]
    credited = world.credit(backoffice, made[0]["pass_id"], "food", 1234)
    assert credited.status_code == 201, credited.text

    rows, pages = all_pages(backoffice, "/api/v1/beneficiaries?q=" + tag.lower(),
                            "beneficiaries", 3)
    assert [len(p["beneficiaries"]) for p in pages] == [3, 3, 1]
    assert all(p["total"] == 7 for p in pages)
    ids = [r["user_id"] for r in rows]
    assert len(set(ids)) == 7 and set(ids) == {m["user_id"] for m in made}
    assert [(r["full_name"], r["user_id"]) for r in rows] == \
        sorted((r["full_name"], r["user_id"]) for r in rows)
    first = next(r for r in rows if r["user_id"] == made[0]["user_id"])
    assert first == {"user_id": made[0]["user_id"], "pass_id": made[0]["pass_id"],
                     "full_name": made[0]["full_name"], "email": made[0]["email"],
                     "activated": True, "pass_status": "open", "balance_cents": 1234,
                     "categories": ["food", "general"]}

    # q: case-insensitive on the name and on the e-mail.
    upper = backoffice.get("/api/v1/beneficiaries?q=" + quoted(tag.upper() + " person 4")).json()
    assert [r["user_id"] for r in upper["beneficiaries"]] == [made[4]["user_id"]]
    by_mail = backoffice.get("/api/v1/beneficiaries?q=" + quoted(made[5]["email"].upper())).json()
    assert [r["user_id"] for r in by_mail["beneficiaries"]] == [made[5]["user_id"]]
    assert by_mail["total"] == 1 and by_mail["next_cursor"] is None
    # A LIKE wildcard typed is searched as itself.
    assert backoffice.get("/api/v1/beneficiaries?q=" + tag + "%25").json()["total"] == 0

    food = backoffice.get("/api/v1/beneficiaries?category=food&q=" + tag).json()
    assert {r["user_id"] for r in food["beneficiaries"]} == \
        {made[i]["user_id"] for i in (0, 3, 6)}
    assert food["total"] == 3
    assert backoffice.get("/api/v1/beneficiaries?category=culture&q=" + tag).json()["total"] == 0

    def count(status):
        return backoffice.get("/api/v1/beneficiaries?status=%s&q=%s" % (status, tag)).json()
    assert count("open")["total"] == 7 and count("closed")["total"] == 0
    close_pass(world, backoffice, made[2]["pass_id"])
    closed = count("closed")
    assert [r["user_id"] for r in closed["beneficiaries"]] == [made[2]["user_id"]]
    assert closed["beneficiaries"][0]["pass_status"] == "closed"
    assert count("open")["total"] == 6 and count("all")["total"] == 7
    assert backoffice.get("/api/v1/beneficiaries?q=" + tag).json()["total"] == 7


def test_beneficiaries_query_is_checked(backoffice):
    for query, code, field in [("?colour=red", "unknown_field", "colour"),
                               ("?state=owed", "unknown_field", "state"),
                               ("?limit=0", "invalid_value", "limit"),
                               ("?limit=101", "invalid_value", "limit"),
                               ("?status=gone", "invalid_value", "status"),
                               ("?cursor=not-a-cursor", "invalid_value", "cursor"),
                               ("?q=" + "a" * 101, "invalid_value", "q")]:
        expect_error(backoffice.get("/api/v1/beneficiaries" + query), 400, code, field)
    expect_error(backoffice.get("/api/v1/beneficiaries?category=Food"), 422,
                 "invalid_category", "category")
    # A partners' cursor, well formed, is not a beneficiaries' one.
    page = backoffice.get("/api/v1/partners?limit=1").json()
    assert page["next_cursor"] is not None
    expect_error(backoffice.get("/api/v1/beneficiaries?cursor=" + quoted(page["next_cursor"])),
                 400, "invalid_value", "cursor")


def test_one_beneficiary_page(world, backoffice, partners):
    made = enrol(backoffice, "Detail %s" % uuid.uuid4().hex[:6])
    assert world.credit(backoffice, made["pass_id"], "general", 5000).status_code == 201
    ben = world.login(made["email"], PASSWORD)
    paid = world.pay(ben, partners["sport"]["partner_code"], 700)
    assert paid.status_code == 201, paid.text
    voucher = ben.post("/api/v1/pass/vouchers", {"amount_cents": 300}, key=new_key())
    assert voucher.status_code == 201, voucher.text
    ben.close()

    answer = backoffice.get("/api/v1/beneficiaries/" + made["user_id"])
    assert answer.status_code == 200, answer.text
    detail = answer.json()
    assert detail["user_id"] == made["user_id"] and detail["email"] == made["email"]
    assert detail["full_name"] == made["full_name"] and detail["activated"] is True
    assert detail["pass"]["pass_id"] == made["pass_id"]
    assert detail["pass"]["balance_cents"] == 5000 - 700 - 300
    kinds = [(op["kind"], op["amount_cents"]) for op in detail["operations"]]
    assert kinds[0] == ("payment", 700) and ("credit", 5000) in kinds
    assert [v["voucher_id"] for v in detail["vouchers"]] == [voucher.json()["voucher_id"]]

    expect_error(backoffice.get("/api/v1/beneficiaries/" + str(uuid.uuid4())), 404,
                 "beneficiary_not_found", "user_id")
    expect_error(backoffice.get("/api/v1/beneficiaries/not-an-id"), 404, "beneficiary_not_found")
    # A partner's user is not a beneficiary.
    admin = world.login(partners["sport"]["admin_email"], partners["sport"]["admin_password"])
    admin_id = admin.get("/api/v1/me").json()["user_id"]
    admin.close()
    expect_error(backoffice.get("/api/v1/beneficiaries/" + admin_id), 404, "beneficiary_not_found")


# ------------------------------------------------------------------ partners

def listed(backoffice, partner, state):
    """Whether the partner is in the list filtered by state."""
    page = backoffice.get("/api/v1/partners?state=%s&q=%s" % (state, quoted(partner["name"])))
    assert page.status_code == 200, page.text
    return partner["partner_id"] in [p["partner_id"] for p in page.json()["partners"]]


def states(backoffice, partner):
    answer = backoffice.get("/api/v1/partners/" + partner["partner_id"])
    assert answer.status_code == 200, answer.text
    p = answer.json()["partner"]
    return {"not_activated": not p["activated"], "convention_pending": not p["convention_accepted"],
            "bank_details_missing": p["bank_details_missing"], "owed": p["owed_cents"] > 0}


def expect_state(backoffice, partner, state, value):
    assert states(backoffice, partner)[state] is value, (state, value)
    assert listed(backoffice, partner, state) is value, (state, value)


def test_partner_states_follow_what_people_do(world, backoffice):
    today = world.paris_today().isoformat()
    name = "Lists partner %s" % uuid.uuid4().hex[:8]
    email = unique_email("bolistadmin")
    created = backoffice.post("/api/v1/partners", {
        "name": name, "category": "sport", "admin_email": email,
        "admin_full_name": "Ada Lists"}, key=new_key())
    assert created.status_code == 201, created.text
    partner = created.json()

    # Not activated until its administrator sets a password from the e-mail.
    expect_state(backoffice, partner, "not_activated", True)
    token = activation_token(world, email)
    activated = world.anonymous().post("/api/v1/auth/activate",
                                       {"token": token, "password": NEW_PASSWORD})
    assert activated.status_code == 200, activated.text
    expect_state(backoffice, partner, "not_activated", False)
    admin = world.login(email, NEW_PASSWORD)

    # Bank details missing until the structure has an IBAN.
    expect_state(backoffice, partner, "bank_details_missing", True)
    put = admin.request("PUT", "/api/v1/partner/structure", body=dict(PROFILE, public_name=name))
    assert put.status_code == 200, put.text
    expect_state(backoffice, partner, "bank_details_missing", False)

    # Convention pending once one is in force, until its administrator accepts
    # it (not mandatory: payments at other partners stay open).
    published = backoffice.post("/api/v1/conventions", {
        "title": "Charte des listes", "version": "lists-" + uuid.uuid4().hex[:6],
        "text": "Article 1. Le partenaire accueille les bénéficiaires.",
        "effective_date": today, "mandatory": False}, key=new_key())
    assert published.status_code == 201, published.text
    convention_id = published.json()["convention_id"]
    expect_state(backoffice, partner, "convention_pending", True)
    acceptances = backoffice.get("/api/v1/conventions/%s/acceptances" % convention_id).json()
    assert partner["partner_id"] in [p["partner_id"] for p in acceptances["pending"]]
    assert partner["partner_id"] not in [p["partner_id"] for p in acceptances["accepted"]]
    accept = admin.post("/api/v1/partner/conventions/%s/accept" % convention_id, key=new_key())
    assert accept.status_code == 201, accept.text
    expect_state(backoffice, partner, "convention_pending", False)
    acceptances = backoffice.get("/api/v1/conventions/%s/acceptances" % convention_id).json()
    assert acceptances["convention_id"] == convention_id
    mine = [a for a in acceptances["accepted"] if a["partner_id"] == partner["partner_id"]]
    admin_id = admin.get("/api/v1/me").json()["user_id"]
    assert len(mine) == 1 and mine[0]["name"] == name
    assert mine[0]["accepted_by"] == {"user_id": admin_id, "full_name": "Ada Lists"}
    assert mine[0]["accepted_at"].startswith(today[:4])
    assert partner["partner_id"] not in [p["partner_id"] for p in acceptances["pending"]]

    # Owed once a beneficiary pays there, no longer once the payment is cancelled.
    expect_state(backoffice, partner, "owed", False)
    ben = world.create_beneficiary(backoffice, credits={"general": 2000})
    payer = world.login(ben["email"], ben["password"])
    paid = world.pay(payer, partner["partner_code"], 450)
    assert paid.status_code == 201, paid.text
    expect_state(backoffice, partner, "owed", True)
    operation_id = paid.json()["operation_id"]

    detail = backoffice.get("/api/v1/partners/" + partner["partner_id"]).json()
    assert detail["partner"]["owed_cents"] == 450 and detail["partner"]["name"] == name
    assert detail["structure"]["iban"] == PROFILE["iban"].replace(" ", "")
    assert [(u["email"], u["role"], u["activated"]) for u in detail["users"]] == \
        [(email, "partner_admin", True)]
    assert [op["operation_id"] for op in detail["operations"]] == [operation_id]
    assert detail["refund_requests"] == []

    cancelled = admin.post("/api/v1/partner/operations/%s/cancel" % operation_id, key=new_key())
    assert cancelled.status_code == 200, cancelled.text
    expect_state(backoffice, partner, "owed", False)
    assert states(backoffice, partner) == {"not_activated": False, "convention_pending": False,
                                           "bank_details_missing": False, "owed": False}
    payer.close()
    admin.close()


def test_partners_page_by_name_and_keep_the_whole_list_by_default(world, backoffice, partners):
    tag = "Pg" + uuid.uuid4().hex[:6]
    made = [world.create_partner(backoffice, "culture", "%s Lieu %d" % (tag, i)) for i in range(5)]
    rows, pages = all_pages(backoffice, "/api/v1/partners?q=" + tag.lower(), "partners", 2)
    assert [len(p["partners"]) for p in pages] == [2, 2, 1]
    assert [p["partner_id"] for p in rows] == [m["partner_id"] for m in made]
    assert all(p["created_at"].endswith("Z") and p["activated"] for p in rows)

    # Without parameters: every partner (fewer than the default 200 here), by
    # name, as existing callers read it; paging through the same list.
    whole = backoffice.get("/api/v1/partners").json()
    assert whole["next_cursor"] is None
    everyone, _ = all_pages(backoffice, "/api/v1/partners", "partners", 7)
    assert [p["partner_id"] for p in everyone] == [p["partner_id"] for p in whole["partners"]]
    assert len({p["partner_id"] for p in everyone}) == len(everyone)
    assert partners["sport"]["partner_id"] in {p["partner_id"] for p in everyone}
    # q also finds a partner by the start of its code.
    code = made[3]["partner_code"]
    found = backoffice.get("/api/v1/partners?q=" + code[:8]).json()["partners"]
    assert [p["partner_id"] for p in found] == [made[3]["partner_id"]]


def test_partners_query_and_ids_are_checked(backoffice):
    for query, code, field in [("?colour=red", "unknown_field", "colour"),
                               ("?status=open", "unknown_field", "status"),
                               ("?limit=501", "invalid_value", "limit"),
                               ("?state=sleeping", "invalid_value", "state"),
                               ("?state=owed&state=owed", "invalid_value", "state"),
                               ("?cursor=AAAA", "invalid_value", "cursor")]:
        expect_error(backoffice.get("/api/v1/partners" + query), 400, code, field)
    assert backoffice.get("/api/v1/partners?limit=500").status_code == 200
    expect_error(backoffice.get("/api/v1/partners/" + str(uuid.uuid4())), 404,
                 "partner_not_found", "partner_id")
    expect_error(backoffice.get("/api/v1/conventions/%s/acceptances" % uuid.uuid4()), 404,
                 "convention_not_found", "convention_id")
    expect_error(backoffice.get("/api/v1/partners/x"), 404, "partner_not_found")
