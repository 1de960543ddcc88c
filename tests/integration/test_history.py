"""B2: who did what, readable. Every applied event of a partner or a pass
is a history line with its author (full name and role) and time, newest
first: the city's staff read any partner's or pass's, a partner's users
read their own structure's and never another's."""

import datetime
import uuid

from solipass_api import DAY_MS, all_pages, expect_error, new_key, unique_email, wait_until
from test_operations import cancel, pay
from test_structure_users import GOOD_IBAN, PROFILE, activate, add_user, put


def history(api, path, limit=100):
    """Every entry, following next_cursor with pages of `limit`."""
    return all_pages(api, path, "entries", limit, pages_max=200)[0]


def full_name_of(world, user_id):
    return world.sql("SELECT full_name FROM users WHERE user_id = '%s'" % user_id)


def in_order(entries):
    """The actions newest first; events of one instant (a partner and its
    administrator are created by one command) in a fixed order of their own."""
    return [e["action"] for e in sorted(entries, key=lambda e: (e["occurred_at"], e["action"]),
                                        reverse=True)]


def only(entries, action):
    found = [e for e in entries if e["action"] == action]
    assert len(found) == 1, (action, [e["action"] for e in entries])
    return found[0]


def test_a_partner_reads_who_did_what_in_its_structure_and_nothing_else(world, backoffice):
    partner = world.create_partner(backoffice, "sport")
    admin = world.login(partner["admin_email"], partner["admin_password"])
    assert put(admin, "/api/v1/partner/structure", PROFILE).status_code == 200
    assert put(admin, "/api/v1/partner/structure",
               dict(PROFILE, description="Nouvelle saison")).status_code == 200
    email = unique_email("cashier")
    added = add_user(admin, email)
    assert added.status_code == 201, added.text
    cashier_id = added.json()["user_id"]
    cashier = activate(world, email)
    beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 5000})
    api = world.login(beneficiary["email"], beneficiary["password"])
    operation_id = pay(world, api, partner, 1200)
    assert cancel(cashier, operation_id).status_code == 200
    assert admin.request("PATCH", "/api/v1/partner/users/%s" % cashier_id,
                         body={"role": "partner_admin"}).status_code == 200
    assert admin.request("DELETE", "/api/v1/partner/users/%s" % cashier_id).status_code == 204

    path = "/api/v1/partners/%s/history" % partner["partner_id"]
    entries = wait_until(lambda: (lambda e: e if e and e[0]["action"] == "user_removed" else None)(
        history(backoffice, path)), "the removal in the history")
    actions = in_order(entries)
    assert actions == ["user_removed", "role_changed", "payment_cancelled", "payment_accepted",
                       "password_set", "user_added", "structure_updated", "bank_details_changed",
                       "user_added", "partner_created"], actions
    stamps = [e["occurred_at"] for e in entries]
    assert stamps == sorted(stamps, reverse=True)

    admin_id = [e for e in entries if e["action"] == "bank_details_changed"][0]["actor"]["user_id"]
    assert full_name_of(world, admin_id) == "Admin of sport"
    bank = only(entries, "bank_details_changed")
    assert bank["actor"] == {"user_id": admin_id, "full_name": "Admin of sport",
                             "role": "partner_admin"}
    assert bank["details"]["iban_last4"] == GOOD_IBAN.replace(" ", "")[-4:]
    assert only(entries, "structure_updated")["details"]["changed"] == ["description"]
    cancelled = only(entries, "payment_cancelled")
    # The role the cashier acted in, not the one it was given afterwards.
    assert cancelled["actor"] == {"user_id": cashier_id, "full_name": "Caissier Un",
                                  "role": "partner_user"}
    assert cancelled["details"]["operation_id"] == operation_id
    assert cancelled["details"]["amount_cents"] == 1200
    paid = only(entries, "payment_accepted")
    assert paid["actor"]["user_id"] == beneficiary["user_id"]
    assert paid["actor"]["role"] == "beneficiary"
    assert paid["actor"]["full_name"] == full_name_of(world, beneficiary["user_id"])
    cashier_added = [e for e in entries if e["action"] == "user_added"][0]
    assert cashier_added["actor"]["user_id"] == admin_id
    assert cashier_added["details"]["email"] == email
    assert only(entries, "role_changed")["details"]["role"] == "partner_admin"
    assert only(entries, "user_removed")["details"]["email"] == email
    assert only(entries, "partner_created")["actor"]["role"] == "backoffice"

    assert paid["details"]["pass_id"] == beneficiary["pass_id"]

    # The partner's own users read the same lines; pages of 3 give them all.
    own = history(admin, "/api/v1/partner/history")
    assert [e["event_id"] for e in own] == [e["event_id"] for e in entries]
    assert history(admin, "/api/v1/partner/history", limit=3) == own
    # A beneficiary stays as anonymous as in the partner's operations.
    own_paid = only(own, "payment_accepted")
    assert own_paid["actor"] == {"user_id": None, "full_name": None, "role": "beneficiary"}
    assert own_paid["details"]["pass_ref"] == beneficiary["pass_id"][-4:]
    assert "pass_id" not in own_paid["details"]
    text = admin.get("/api/v1/partner/history?limit=100").text
    assert beneficiary["pass_id"] not in text and beneficiary["user_id"] not in text
    assert full_name_of(world, beneficiary["user_id"]) not in text
    assert only(own, "payment_cancelled")["actor"] == cancelled["actor"]

    # Another partner sees none of it, and no staff endpoint.
    other = world.create_partner(backoffice, "culture")
    other_admin = world.login(other["admin_email"], other["admin_password"])
    theirs = history(other_admin, "/api/v1/partner/history")
    assert in_order(theirs) == ["user_added", "partner_created"]
    assert not {e["event_id"] for e in theirs} & {e["event_id"] for e in entries}
    expect_error(other_admin.get(path), 403, "forbidden")
    expect_error(api.get("/api/v1/partner/history"), 403, "forbidden")
    expect_error(api.get(path), 403, "forbidden")


def test_a_pass_history_names_staff_beneficiary_and_the_system(world, backoffice, partners):
    ends = world.paris_today() + datetime.timedelta(days=1)
    beneficiary = world.create_beneficiary(backoffice, [("general", None), ("sport", ends.isoformat())],
                                           {"general": 3000, "sport": 800})
    api = world.login(beneficiary["email"], beneficiary["password"])
    pay(world, api, partners["culture"], 500)
    issued = api.post("/api/v1/pass/vouchers", {"amount_cents": 400, "category": "general"},
                      key=new_key())
    assert issued.status_code == 201, issued.text
    voucher_id = issued.json()["voucher_id"]
    assert api.post("/api/v1/vouchers/%s/cancel" % voucher_id, key=new_key()).status_code == 201
    world.advance_clock_ms(2 * DAY_MS + 60 * 1000)
    backoffice = world.backoffice()
    path = "/api/v1/passes/%s/history" % beneficiary["pass_id"]
    entries = wait_until(lambda: (lambda e: e if e and e[0]["action"] == "envelope_expired"
                                  else None)(history(backoffice, path)), "the expiry")
    assert in_order(entries) == [
        "envelope_expired", "voucher_cancelled", "voucher_issued", "payment_accepted", "credit",
        "credit", "pass_opened", "user_added"], in_order(entries)
    expired = entries[0]
    assert expired["actor"] is None
    assert expired["details"] == {"category": "sport", "amount_cents": 800}
    credits = [e for e in entries if e["action"] == "credit"]
    assert {c["details"]["amount_cents"] for c in credits} == {3000, 800}
    for credit in credits:
        assert credit["actor"]["role"] == "backoffice"
        assert credit["actor"]["full_name"] == full_name_of(world, credit["actor"]["user_id"])
    paid = only(entries, "payment_accepted")
    culture = partners["culture"]
    assert paid["details"]["partner_id"] == culture["partner_id"]
    assert paid["details"]["partner_name"] == world.sql(
        "SELECT name FROM partners WHERE partner_id = '%s'" % culture["partner_id"])
    assert "partner_name" not in only(entries, "pass_opened")["details"]
    voucher = only(entries, "voucher_cancelled")
    assert voucher["actor"]["user_id"] == beneficiary["user_id"]
    assert voucher["details"]["voucher_id"] == voucher_id
    assert voucher["details"]["amount_cents"] == 400

    expect_error(backoffice.get("/api/v1/passes/%s/history" % uuid.uuid4()), 404,
                 "pass_not_found")
    expect_error(backoffice.get("/api/v1/partners/%s/history" % uuid.uuid4()), 404,
                 "partner_not_found")
    expect_error(backoffice.get(path + "?limit=101"), 400, "invalid_value", "limit")
    expect_error(backoffice.get(path + "?cursor=nope"), 400, "invalid_value", "cursor")
