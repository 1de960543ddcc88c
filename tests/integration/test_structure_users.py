"""The partner space's structure and users (P2-P7): an administrator edits
the structure (profile, bank account, logo and cover photo) and the public
directory shows what beneficiaries may see; an administrator adds users (who
get an activation e-mail), changes their profile and removes them; a partner
user is refused administrator actions; bad input is a precise 4xx that
writes nothing; one partner never touches another's users."""

import hashlib
import struct
import uuid
import zlib

from solipass_api import TOPIC_ACCOUNTS_EVENTS, expect_error, new_key, unique_email

NEW_PASSWORD = "a-user-password-42"
GOOD_IBAN = "FR76 3000 6000 0112 3456 7890 189"     # a valid French IBAN (mod 97)
BAD_IBAN = "FR76 3000 6000 0112 3456 7890 188"      # one digit off

PROFILE = {
    "legal_name": "Association Sportive du Quartier",
    "public_name": "AS Quartier",
    "description": "Football pour tous, dès 6 ans.",
    "website": "https://asq.example.org",
    "social_links": ["https://social.example/asq", "http://video.example/asq"],
    "hq_address": "1 rue de la Mairie, 75001 Paris",
    "activity_address": "",
    "contact_phone": "+33 1 23 45 67 89",
    "contact_email": "Contact@ASQ.example.org",
    "iban": GOOD_IBAN,
    "bic": "bnpafrpp",
    "bank_holder": "AS Quartier",
}


def png(width, height, seed=0):
    """A real PNG, made here: RGB, 8 bits, one filter byte per row."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    raw = b"".join(b"\x00" + bytes((x * 40 + seed) % 256 for x in range(width * 3))
                   for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def accounts_end(world):
    return world.high_watermark(TOPIC_ACCOUNTS_EVENTS, 0)


def admin_of(world, backoffice):
    partner = world.create_partner(backoffice, category="sport")
    return partner, world.login(partner["admin_email"], partner["admin_password"])


def put(api, path, body=None, raw=None, content_type=None, key=None):
    headers = {"Content-Type": content_type} if content_type else None
    return api.request("PUT", path, body=body, raw=raw, key=key, headers=headers)


def directory_entry(world, partner_code):
    answer = world.anonymous().get("/api/v1/directory/partners")
    assert answer.status_code == 200, answer.text
    found = [p for p in answer.json()["partners"] if p["partner_code"] == partner_code]
    assert len(found) == 1, found
    return found[0]


# ---------------------------------------------------------------- structure

def test_admin_edits_the_structure_and_the_directory_shows_public_information(world, backoffice):
    partner, admin = admin_of(world, backoffice)
    answer = put(admin, "/api/v1/partner/structure", PROFILE)
    assert answer.status_code == 200, answer.text
    structure = answer.json()
    assert structure["public_name"] == "AS Quartier"
    assert structure["iban"] == GOOD_IBAN.replace(" ", "")
    assert structure["bic"] == "BNPAFRPP"
    assert structure["contact_email"] == "contact@asq.example.org"
    assert structure["category"] == "sport"
    # No activity address: beneficiaries see the headquarters.
    assert structure["displayed_address"] == PROFILE["hq_address"]
    assert admin.get("/api/v1/partner/structure").json() == structure
    entry = directory_entry(world, partner["partner_code"])
    assert entry == {"partner_code": partner["partner_code"], "public_name": "AS Quartier",
                     "category": "sport", "description": PROFILE["description"],
                     "website": PROFILE["website"], "social_links": PROFILE["social_links"],
                     "address": PROFILE["hq_address"], "logo_url": None, "cover_url": None}
    # With an activity site, that is the address shown.
    changed = dict(PROFILE, activity_address="Stade municipal, 75011 Paris")
    assert put(admin, "/api/v1/partner/structure", changed).status_code == 200
    assert directory_entry(world, partner["partner_code"])["address"] == "Stade municipal, 75011 Paris"
    # The back-office list shows the public name too.
    assert admin.get("/api/v1/partner").json()["name"] == "AS Quartier"


def test_bad_structure_input_is_refused_precisely_and_changes_nothing(world, backoffice):
    partner, admin = admin_of(world, backoffice)
    assert put(admin, "/api/v1/partner/structure", PROFILE).status_code == 200
    before = admin.get("/api/v1/partner/structure").json()
    end = accounts_end(world)
    cases = [
        (dict(PROFILE, iban=BAD_IBAN), 422, "invalid_iban", "iban"),
        (dict(PROFILE, iban="FR76 3000"), 422, "invalid_iban", "iban"),
        (dict(PROFILE, bic="BNP"), 422, "invalid_bic", "bic"),
        (dict(PROFILE, website="ftp://asq.example.org"), 400, "invalid_url", "website"),
        (dict(PROFILE, website="javascript:alert(1)"), 400, "invalid_url", "website"),
        (dict(PROFILE, social_links=["https://ok.example", "mailto:x@y.fr"]), 400, "invalid_url",
         "social_links"),
        (dict(PROFILE, contact_email="not-an-email"), 400, "invalid_email", "contact_email"),
        (dict(PROFILE, contact_phone="call me"), 400, "invalid_phone", "contact_phone"),
        (dict(PROFILE, bank_holder=""), 400, "missing_field", "bank_holder"),
        (dict(PROFILE, description="x" * 1001), 400, "invalid_value", "description"),
        ({k: v for k, v in PROFILE.items() if k != "public_name"}, 400, "missing_field",
         "public_name"),
        (dict(PROFILE, category="culture"), 400, "unknown_field", "category"),
    ]
    for body, status, code, field in cases:
        expect_error(put(admin, "/api/v1/partner/structure", body), status, code, field)
    assert accounts_end(world) == end
    assert admin.get("/api/v1/partner/structure").json() == before


def test_logo_and_cover_upload_are_served_back_identical(world, backoffice):
    partner, admin = admin_of(world, backoffice)
    logo = png(3, 2, seed=int(uuid.uuid4().hex[:4], 16))
    answer = put(admin, "/api/v1/partner/structure/logo", raw=logo, content_type="image/png")
    assert answer.status_code == 200, answer.text
    uploaded = answer.json()
    sha = hashlib.sha256(logo).hexdigest()
    assert uploaded["sha256"] == sha and uploaded["width"] == 3 and uploaded["height"] == 2
    assert uploaded["url"] == "/api/v1/media/" + sha
    served = world.anonymous().get(uploaded["url"])
    assert served.status_code == 200
    assert served.content == logo
    assert served.headers["Content-Type"] == "image/png"
    assert "immutable" in served.headers["Cache-Control"]
    assert admin.get("/api/v1/partner/structure").json()["logo_url"] == uploaded["url"]
    cover = png(8, 4, seed=7)
    assert put(admin, "/api/v1/partner/structure/cover", raw=cover,
               content_type="image/png").status_code == 200
    entry = directory_entry(world, partner["partner_code"])
    assert entry["logo_url"] == uploaded["url"]
    assert entry["cover_url"] == "/api/v1/media/" + hashlib.sha256(cover).hexdigest()
    expect_error(world.anonymous().get("/api/v1/media/" + "0" * 64), 404, "not_found")
    expect_error(world.anonymous().get("/api/v1/media/not-a-hash"), 404, "not_found")


def test_fake_or_oversized_images_are_refused(world, backoffice):
    partner, admin = admin_of(world, backoffice)
    end = accounts_end(world)
    fake = b"<svg xmlns='http://www.w3.org/2000/svg'/>" + b" " * 100
    expect_error(put(admin, "/api/v1/partner/structure/logo", raw=fake, content_type="image/png"),
                 400, "invalid_image")
    truncated = png(4, 4)[:-12]
    expect_error(put(admin, "/api/v1/partner/structure/logo", raw=truncated,
                     content_type="image/png"), 400, "invalid_image")
    # A PNG declared as a JPEG is not a JPEG.
    expect_error(put(admin, "/api/v1/partner/structure/logo", raw=png(2, 2),
                     content_type="image/jpeg"), 400, "invalid_image")
    expect_error(put(admin, "/api/v1/partner/structure/logo", raw=png(2, 2),
                     content_type="image/gif"), 415, "unsupported_media_type")
    huge = png(2, 2) + b"\x00" * (1024 * 1024 + 1)
    answer = put(admin, "/api/v1/partner/structure/cover", raw=huge, content_type="image/png")
    expect_error(answer, 413, "image_too_large")
    assert accounts_end(world) == end
    assert admin.get("/api/v1/partner/structure").json()["logo_url"] is None


# ---------------------------------------------------------------- users

def add_user(admin, email, role="partner_user", key=None):
    return admin.post("/api/v1/partner/users", {"email": email, "full_name": "Caissier Un",
                                                "role": role}, key=key or new_key())


def activate(world, email):
    mails = world.wait_for_mails(email)
    assert mails[0]["kind"] == "activation"
    token = world.link_token(mails[0], "/activate")
    answer = world.anonymous().post("/api/v1/auth/activate", {"token": token, "password": NEW_PASSWORD})
    assert answer.status_code == 200, answer.text
    return world.login(email, NEW_PASSWORD)


def test_admin_adds_a_user_who_activates_and_records_but_cannot_administer(world, backoffice):
    partner, admin = admin_of(world, backoffice)
    email = unique_email("cashier")
    key = new_key()
    answer = add_user(admin, email.upper(), key=key)
    assert answer.status_code == 201, answer.text
    user = answer.json()
    assert user["email"] == email and user["role"] == "partner_user" and not user["activated"]
    again = add_user(admin, email.upper(), key=key)
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["user_id"] == user["user_id"]
    expect_error(add_user(admin, email), 409, "email_taken", "email")
    listed = admin.get("/api/v1/partner/users").json()["users"]
    assert {u["email"] for u in listed} == {partner["admin_email"], email}

    cashier = activate(world, email)
    me = cashier.get("/api/v1/me").json()
    assert me["role"] == "partner_user" and me["partner_id"] == partner["partner_id"]
    # Allowed: reading the operations and the structure.
    assert cashier.get("/api/v1/partner/operations").status_code == 200
    assert cashier.get("/api/v1/partner/structure").status_code == 200
    end = accounts_end(world)
    # Refused: every administrator action.
    expect_error(put(cashier, "/api/v1/partner/structure", PROFILE), 403, "forbidden")
    expect_error(put(cashier, "/api/v1/partner/structure/logo", raw=png(2, 2),
                     content_type="image/png"), 403, "forbidden")
    expect_error(cashier.get("/api/v1/partner/users"), 403, "forbidden")
    expect_error(add_user(cashier, unique_email("x")), 403, "forbidden")
    expect_error(cashier.request("PATCH", "/api/v1/partner/users/" + user["user_id"],
                                 body={"role": "partner_admin"}), 403, "forbidden")
    expect_error(cashier.request("DELETE", "/api/v1/partner/users/" + me["user_id"]),
                 403, "forbidden")
    assert accounts_end(world) == end


def test_roles_change_and_the_last_admin_stays(world, backoffice):
    partner, admin = admin_of(world, backoffice)
    admin_id = admin.get("/api/v1/me").json()["user_id"]
    end = accounts_end(world)
    expect_error(admin.request("PATCH", "/api/v1/partner/users/" + admin_id,
                               body={"role": "partner_user"}), 409, "last_admin")
    expect_error(admin.request("DELETE", "/api/v1/partner/users/" + admin_id), 409, "last_admin")
    expect_error(admin.request("PATCH", "/api/v1/partner/users/" + admin_id,
                               body={"role": "boss"}), 400, "invalid_value", "role")
    expect_error(add_user(admin, "not-an-email"), 400, "invalid_email", "email")
    assert admin.get("/api/v1/partner/users").json()["users"][0]["role"] == "partner_admin"

    email = unique_email("second")
    second = add_user(admin, email).json()
    promoted = admin.request("PATCH", "/api/v1/partner/users/" + second["user_id"],
                             body={"role": "partner_admin"})
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["role"] == "partner_admin"
    # The second has not followed its activation link yet: nobody else
    # could log in, so the first may neither step down nor leave.
    refused = expect_error(admin.request("PATCH", "/api/v1/partner/users/" + admin_id,
                                         body={"role": "partner_user"}), 409, "last_admin")
    assert "activ" in refused["message"], refused
    expect_error(admin.request("DELETE", "/api/v1/partner/users/" + admin_id), 409, "last_admin")
    activate(world, email).close()
    # Two administrators who can log in: the first may now step down.
    stepped = admin.request("PATCH", "/api/v1/partner/users/" + admin_id,
                            body={"role": "partner_user"})
    assert stepped.status_code == 200, stepped.text
    assert stepped.json()["role"] == "partner_user"
    assert accounts_end(world) > end
    # Its session now has the partner user's rights.
    expect_error(admin.get("/api/v1/partner/users"), 403, "forbidden")


def test_a_removed_user_is_logged_out_at_once(world, backoffice):
    partner, admin = admin_of(world, backoffice)
    email = unique_email("leaving")
    user = add_user(admin, email).json()
    leaving = activate(world, email)
    assert leaving.get("/api/v1/partner/operations").status_code == 200
    answer = admin.request("DELETE", "/api/v1/partner/users/" + user["user_id"])
    assert answer.status_code == 204, answer.text
    expect_error(leaving.get("/api/v1/partner/operations"), 401, "unauthenticated")
    expect_error(world.anonymous().post("/api/v1/auth/login",
                                        {"email": email, "password": NEW_PASSWORD}),
                 401, "invalid_credentials")
    assert email not in {u["email"] for u in admin.get("/api/v1/partner/users").json()["users"]}
    ended = world.sql("SELECT count(*) FROM sessions WHERE user_id = '%s' AND ended_at IS NULL"
                      % user["user_id"])
    assert ended == "0"
    expect_error(admin.request("DELETE", "/api/v1/partner/users/" + user["user_id"]),
                 404, "user_not_found")


def test_one_partner_never_touches_another_partners_users(world, backoffice):
    partner_a, admin_a = admin_of(world, backoffice)
    partner_b, admin_b = admin_of(world, backoffice)
    b_admin_id = admin_b.get("/api/v1/me").json()["user_id"]
    b_user = add_user(admin_b, unique_email("b-user")).json()
    for target in (b_admin_id, b_user["user_id"]):
        expect_error(admin_a.request("PATCH", "/api/v1/partner/users/" + target,
                                     body={"role": "partner_admin"}), 404, "user_not_found")
        expect_error(admin_a.request("DELETE", "/api/v1/partner/users/" + target),
                     404, "user_not_found")
    expect_error(admin_a.request("DELETE", "/api/v1/partner/users/not-a-uuid"),
                 404, "user_not_found")
    assert {u["user_id"] for u in admin_a.get("/api/v1/partner/users").json()["users"]} == {
        admin_a.get("/api/v1/me").json()["user_id"]}
    # B's users are as they were: both there, with their roles.
    users_b = {u["user_id"]: u["role"] for u in admin_b.get("/api/v1/partner/users").json()["users"]}
    assert users_b == {b_admin_id: "partner_admin", b_user["user_id"]: "partner_user"}
    # Back-office and beneficiaries are not partner administrators.
    expect_error(backoffice.get("/api/v1/partner/users"), 403, "forbidden")
    expect_error(put(backoffice, "/api/v1/partner/structure", PROFILE), 403, "forbidden")
