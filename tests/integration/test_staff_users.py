"""The city's staff (back-office and finance users), managed by the
back-office: a new staff user gets an activation e-mail and logs in once it
has set its password; its role changes; a disabled user is logged out at
once and can neither log in nor reset its password, and stays listed; the
last activated back-office user can be neither demoted nor disabled, even by
two requests at once; nobody else manages the staff; a finance user pays
refunds and changes nothing else. And the back-office sends a partner's
users who never activated their account a new activation link."""

import time
import uuid

from solipass_api import TOPIC_ACCOUNTS_EVENTS, expect_error, new_key, run_parallel, unique_email

NEW_PASSWORD = "a-staff-password-42"


def accounts_end(world):
    return world.high_watermark(TOPIC_ACCOUNTS_EVENTS, 0)


def add_staff(backoffice, email, role, key=None, full_name="Agent du CCAS"):
    return backoffice.post("/api/v1/staff-users", {"email": email, "full_name": full_name,
                                                   "role": role}, key=key or new_key())


def patch_role(api, user_id, role):
    return api.request("PATCH", "/api/v1/staff-users/" + user_id, body={"role": role})


def disable(api, user_id):
    return api.request("DELETE", "/api/v1/staff-users/" + user_id)


def staff(backoffice):
    answer = backoffice.get("/api/v1/staff-users")
    assert answer.status_code == 200, answer.text
    return {u["user_id"]: u for u in answer.json()["users"]}


def activation_token(world, email, count=1):
    mails = world.wait_for_mails(email, count=count)
    assert mails[count - 1]["kind"] == "activation", mails[count - 1]
    return world.link_token(mails[count - 1], "/activate")


def activate(world, email, token=None):
    """Follows the (last) activation link; returns the answer's role and a logged-in Api."""
    answer = world.anonymous().post("/api/v1/auth/activate", {
        "token": token or activation_token(world, email), "password": NEW_PASSWORD})
    assert answer.status_code == 200, answer.text
    return answer.json()["role"], world.login(email, NEW_PASSWORD)


def new_staff(world, backoffice, role):
    """An activated staff user: (its StaffUser, a logged-in Api)."""
    email = unique_email(role)
    answer = add_staff(backoffice, email, role)
    assert answer.status_code == 201, answer.text
    answered_role, api = activate(world, email)
    assert answered_role == role
    return answer.json(), api


def test_staff_users_are_created_activate_and_log_in(world, backoffice):
    for role in ("backoffice", "finance"):
        email = unique_email("staff-" + role)
        key = new_key()
        answer = add_staff(backoffice, email.upper(), role, key=key)
        assert answer.status_code == 201, answer.text
        user = answer.json()
        assert user["email"] == email and user["role"] == role, user
        assert not user["activated"] and not user["disabled"], user
        again = add_staff(backoffice, email.upper(), role, key=key)
        assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
        assert again.json()["user_id"] == user["user_id"]
        expect_error(add_staff(backoffice, email, "finance" if role == "backoffice"
                               else "backoffice", key=key), 409, "idempotency_conflict")
        expect_error(add_staff(backoffice, email, role), 409, "email_taken", "email")
        # The activation e-mail arrives; the answer names the role so that
        # the page sends the person to its own space's login.
        answered_role, api = activate(world, email)
        assert answered_role == role
        me = api.get("/api/v1/me").json()
        assert me["role"] == role and me["user_id"] == user["user_id"], me
        listed = staff(backoffice)[user["user_id"]]
        assert listed == dict(user, activated=True), listed
        api.close()
    # The start-up account is staff too.
    me = backoffice.get("/api/v1/me").json()
    assert staff(backoffice)[me["user_id"]]["role"] == "backoffice"


def test_a_finance_user_pays_refunds_and_changes_nothing_else(world, backoffice, partners):
    user, finance = new_staff(world, backoffice, "finance")
    answer = finance.get("/api/v1/finance/refund-requests")
    assert answer.status_code == 200, answer.text
    answer = finance.get("/api/v1/finance/refund-requests/" + str(uuid.uuid4()))
    assert answer.status_code == 404, answer.text
    answer = finance.post("/api/v1/finance/refund-requests/%s/paid" % uuid.uuid4(),
                          {"transfer_reference": "VIR-1"}, key=new_key())
    assert answer.status_code not in (401, 403), answer.text
    answer = finance.post("/api/v1/finance/sepa", {"request_ids": [str(uuid.uuid4())]},
                          key=new_key())
    assert answer.status_code not in (401, 403), answer.text
    end = accounts_end(world)
    partner_id = partners["sport"]["partner_id"]
    refused = [
        finance.post("/api/v1/partners", {"name": "X", "category": "sport",
                                          "admin_email": unique_email("x"),
                                          "admin_full_name": "X"}, key=new_key()),
        finance.post("/api/v1/beneficiaries", {"email": unique_email("b"), "full_name": "B",
                                               "password": NEW_PASSWORD}, key=new_key()),
        finance.post("/api/v1/passes/%s/credits" % uuid.uuid4(),
                     {"category": "general", "amount_cents": 100}, key=new_key()),
        finance.post("/api/v1/conventions", {"title": "T", "version": "1", "text": "t",
                                             "effective_date": "2026-01-01"}, key=new_key()),
        finance.post("/api/v1/partners/%s/activation-email" % partner_id),
        finance.get("/api/v1/staff-users"),
        add_staff(finance, unique_email("x"), "backoffice"),
        patch_role(finance, user["user_id"], "backoffice"),
        disable(finance, user["user_id"]),
    ]
    for answer in refused:
        expect_error(answer, 403, "forbidden")
    assert accounts_end(world) == end
    finance.close()


def test_roles_change_and_the_last_backoffice_user_stays(world, backoffice):
    me = backoffice.get("/api/v1/me").json()["user_id"]
    # Make the start-up account the only activated, enabled back-office
    # user: the ones earlier tests made become finance.
    for user in staff(backoffice).values():
        if (user["user_id"] != me and user["role"] == "backoffice" and user["activated"]
                and not user["disabled"]):
            assert patch_role(backoffice, user["user_id"], "finance").status_code == 200
    end = accounts_end(world)
    expect_error(patch_role(backoffice, me, "finance"), 409, "last_backoffice_admin", "user_id")
    expect_error(disable(backoffice, me), 409, "last_backoffice_admin", "user_id")
    expect_error(patch_role(backoffice, me, "partner_admin"), 400, "invalid_value", "role")
    # A back-office user who has not activated does not count.
    pending = add_staff(backoffice, unique_email("pending"), "backoffice").json()
    expect_error(disable(backoffice, me), 409, "last_backoffice_admin")
    assert accounts_end(world) > end
    assert staff(backoffice)[me]["role"] == "backoffice"

    # A second activated one: each may change the other, the start-up account stays.
    second, second_api = new_staff(world, backoffice, "backoffice")
    changed = patch_role(backoffice, second["user_id"], "finance")
    assert changed.status_code == 200, changed.text
    assert changed.json()["role"] == "finance"
    # Its session has a finance user's rights at once.
    expect_error(second_api.get("/api/v1/staff-users"), 403, "forbidden")
    changed = patch_role(backoffice, second["user_id"], "backoffice")
    assert changed.status_code == 200 and changed.json()["role"] == "backoffice"
    same_key = new_key()
    first = backoffice.request("PATCH", "/api/v1/staff-users/" + pending["user_id"],
                               body={"role": "finance"}, key=same_key)
    again = backoffice.request("PATCH", "/api/v1/staff-users/" + pending["user_id"],
                               body={"role": "finance"}, key=same_key)
    assert first.status_code == again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"

    # Two back-office users demoting each other at once: one writer decides
    # both, so exactly one passes and one back-office user is left.
    second_api.close()
    second_api = world.login(second["email"], NEW_PASSWORD)
    apis = [backoffice, second_api]
    targets = [second["user_id"], me]
    answers = run_parallel(2, lambda i: patch_role(apis[i], targets[i], "finance"))
    statuses = sorted(a.status_code for a in answers)
    assert statuses[0] == 200 and statuses[1] in (403, 409), [a.text for a in answers]
    winner = apis[0] if answers[0].status_code == 200 else apis[1]
    listed = staff(winner)
    assert [listed[u]["role"] for u in (me, second["user_id"])].count("backoffice") == 1
    # Whoever lost its back-office role gets it back (later tests log in as
    # the start-up account).
    loser = targets[0] if answers[0].status_code == 200 else targets[1]
    assert patch_role(winner, loser, "backoffice").status_code == 200
    second_api.close()


def test_a_disabled_user_is_logged_out_and_can_neither_log_in_nor_reset(world, backoffice):
    user, leaving = new_staff(world, backoffice, "finance")
    assert leaving.get("/api/v1/finance/refund-requests").status_code == 200
    answer = disable(backoffice, user["user_id"])
    assert answer.status_code == 204, answer.text
    # Answered once the projection ended its sessions: the next request is refused.
    expect_error(leaving.get("/api/v1/finance/refund-requests"), 401, "unauthenticated")
    expect_error(world.anonymous().post("/api/v1/auth/login",
                                        {"email": user["email"], "password": NEW_PASSWORD}),
                 401, "invalid_credentials")
    open_sessions = world.sql("SELECT count(*) FROM sessions WHERE user_id = '%s' "
                              "AND ended_at IS NULL" % user["user_id"])
    assert open_sessions == "0"
    # A reset request is answered as for anyone, and no link is sent: a
    # control user's reset mail arrives, the disabled user's does not.
    control, control_api = new_staff(world, backoffice, "finance")
    control_api.close()
    for email in (user["email"], control["email"]):
        answer = world.anonymous().post("/api/v1/auth/password-reset", {"email": email})
        assert answer.status_code == 202, answer.text
    world.wait_for_mails(control["email"], count=2)
    time.sleep(1.0)
    assert [m["kind"] for m in world.mails(user["email"])] == ["activation"]
    # It stays listed, disabled; it cannot be changed any more.
    listed = staff(backoffice)[user["user_id"]]
    assert listed["disabled"] and listed["activated"], listed
    expect_error(disable(backoffice, user["user_id"]), 404, "user_not_found")
    expect_error(patch_role(backoffice, user["user_id"], "backoffice"), 404, "user_not_found")
    expect_error(add_staff(backoffice, user["email"], "finance"), 409, "email_taken")
    leaving.close()


def test_only_the_back_office_manages_the_staff(world, backoffice, partners):
    partner = partners["sport"]
    admin = world.login(partner["admin_email"], partner["admin_password"])
    beneficiary_user = world.create_beneficiary(backoffice)
    beneficiary = world.login(beneficiary_user["email"], beneficiary_user["password"])
    target = add_staff(backoffice, unique_email("target"), "finance").json()
    end = accounts_end(world)
    for api in (admin, beneficiary, world.anonymous()):
        status, code = (401, "unauthenticated") if api.token is None else (403, "forbidden")
        expect_error(api.get("/api/v1/staff-users"), status, code)
        expect_error(add_staff(api, unique_email("x"), "backoffice"), status, code)
        expect_error(patch_role(api, target["user_id"], "backoffice"), status, code)
        expect_error(disable(api, target["user_id"]), status, code)
        expect_error(api.post("/api/v1/partners/%s/activation-email" % partner["partner_id"]),
                     status, code)
    assert accounts_end(world) == end
    # The staff endpoints address staff users only: a partner's user is unknown there.
    admin_id = admin.get("/api/v1/me").json()["user_id"]
    expect_error(patch_role(backoffice, admin_id, "finance"), 404, "user_not_found")
    expect_error(disable(backoffice, admin_id), 404, "user_not_found")
    expect_error(disable(backoffice, beneficiary_user["user_id"]), 404, "user_not_found")
    assert admin.get("/api/v1/partner/users").status_code == 200
    admin.close()
    beneficiary.close()


def test_bad_staff_input_is_refused_precisely_and_writes_nothing(world, backoffice):
    target = add_staff(backoffice, unique_email("target"), "finance").json()
    end = accounts_end(world)
    email = unique_email("bad")
    cases = [
        ({"email": "not-an-email", "full_name": "A", "role": "finance"}, 400, "invalid_email",
         "email"),
        ({"email": email, "full_name": "A", "role": "admin"}, 400, "invalid_value", "role"),
        ({"email": email, "full_name": "A", "role": "partner_admin"}, 400, "invalid_value",
         "role"),
        ({"email": email, "full_name": "A"}, 400, "missing_field", "role"),
        ({"email": email, "role": "finance"}, 400, "missing_field", "full_name"),
        ({"full_name": "A", "role": "finance"}, 400, "missing_field", "email"),
        ({"email": email, "full_name": "   ", "role": "finance"}, 400, "invalid_value",
         "full_name"),
        ({"email": email, "full_name": "A", "role": 5}, 400, "invalid_type", "role"),
        ({"email": email, "full_name": "A", "role": "finance", "partner_id": target["user_id"]},
         400, "unknown_field", "partner_id"),
    ]
    for body, status, code, field in cases:
        expect_error(backoffice.post("/api/v1/staff-users", body, key=new_key()), status, code,
                     field)
    expect_error(backoffice.post("/api/v1/staff-users", {"email": email, "full_name": "A",
                                                         "role": "finance"}),
                 428, "idempotency_key_required")
    expect_error(patch_role(backoffice, target["user_id"], "root"), 400, "invalid_value", "role")
    expect_error(backoffice.request("PATCH", "/api/v1/staff-users/" + target["user_id"],
                                    body={}), 400, "missing_field", "role")
    expect_error(patch_role(backoffice, "not-a-uuid", "finance"), 404, "user_not_found")
    assert accounts_end(world) == end
    # An unknown user is the accounts service's answer (kept for its key).
    expect_error(disable(backoffice, str(uuid.uuid4())), 404, "user_not_found")
    assert email not in {u["email"] for u in staff(backoffice).values()}


def test_partner_users_who_never_activated_get_a_new_link(world, backoffice):
    email = unique_email("late-admin")
    answer = backoffice.post("/api/v1/partners", {
        "name": "Théâtre %s" % uuid.uuid4().hex[:6], "category": "culture",
        "admin_email": email, "admin_full_name": "Admin en retard"}, key=new_key())
    assert answer.status_code == 201, answer.text
    partner = answer.json()
    first_token = activation_token(world, email)
    path = "/api/v1/partners/%s/activation-email" % partner["partner_id"]
    answer = backoffice.post(path)
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"users": [{"user_id": partner["admin_user_id"], "email": email}]}
    second_token = activation_token(world, email, count=2)
    assert second_token != first_token
    # The earlier link still works; the first link used spends the other.
    role, admin = activate(world, email, token=first_token)
    assert role == "partner_admin"
    expect_error(world.anonymous().post("/api/v1/auth/activate", {
        "token": second_token, "password": NEW_PASSWORD}), 410, "token_used")
    expect_error(backoffice.post(path), 409, "already_activated")
    # A user the administrator adds later is the only one sent a link.
    added_email = unique_email("late-user")
    added = admin.post("/api/v1/partner/users", {"email": added_email, "full_name": "Caissier",
                                                 "role": "partner_user"}, key=new_key()).json()
    activation_token(world, added_email)
    answer = backoffice.post(path)
    assert answer.status_code == 202, answer.text
    assert answer.json()["users"] == [{"user_id": added["user_id"], "email": added_email}]
    activation_token(world, added_email, count=2)
    assert len(world.mails(email)) == 2
    expect_error(backoffice.post("/api/v1/partners/%s/activation-email" % uuid.uuid4()),
                 404, "partner_not_found")
    expect_error(backoffice.post("/api/v1/partners/not-a-uuid/activation-email"),
                 404, "partner_not_found")
    admin.close()
