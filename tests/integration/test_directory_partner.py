"""test_directory_partner.py - GET /api/v1/directory/partners/{partner_code}:
whom the beneficiary is about to pay, looked up by the code its QR code
carries, with the public information only and the code checked as a payment
checks it (a mistyped code is said before any lookup)."""

from solipass_api import expect_error, new_key


def luhn_fixed(code):
    """The same 7 digits with the last one changed: a wrong check digit."""
    return code[:7] + str((int(code[7]) + 1) % 10)


def test_a_partner_is_found_by_its_code_with_its_public_information(world, backoffice):
    partner = world.create_partner(backoffice, category="culture", name="Médiathèque du Centre")
    admin = world.login(partner["admin_email"], partner["admin_password"])
    changed = {"legal_name": "Association de la médiathèque", "public_name": "Médiathèque",
               "description": "Livres et films.", "hq_address": "2 place de la Mairie, 94120 Fontenay"}
    updated = admin.request("PUT", "/api/v1/partner/structure", body=changed, key=new_key())
    assert updated.status_code == 200, updated.text

    anonymous = world.anonymous()
    code = partner["partner_code"]
    answer = anonymous.get("/api/v1/directory/partners/" + code)
    assert answer.status_code == 200, answer.text
    entry = answer.json()
    assert entry["partner_code"] == code
    assert entry["public_name"] == "Médiathèque"
    assert entry["category"] == "culture"
    assert entry["address"] == "2 place de la Mairie, 94120 Fontenay"
    assert entry["logo_url"] is None
    # Exactly what the whole directory says of it: public information only.
    listed = [p for p in anonymous.get("/api/v1/directory/partners").json()["partners"]
              if p["partner_code"] == code]
    assert listed == [entry]
    assert "iban" not in entry and "partner_id" not in entry

    # Spaces as printed on the poster are accepted (%20), as payments accept them.
    spaced = anonymous.get("/api/v1/directory/partners/%s%%20%s" % (code[:4], code[4:]))
    assert spaced.status_code == 200, spaced.text
    assert spaced.json() == entry


def test_a_mistyped_or_unknown_code_is_said_precisely(world, backoffice):
    partner = world.create_partner(backoffice)
    anonymous = world.anonymous()
    expect_error(anonymous.get("/api/v1/directory/partners/" + luhn_fixed(partner["partner_code"])),
                 422, "invalid_partner_code", "partner_code")
    expect_error(anonymous.get("/api/v1/directory/partners/1234"), 422, "invalid_partner_code",
                 "partner_code")
    expect_error(anonymous.get("/api/v1/directory/partners/abcdefgh"), 422,
                 "invalid_partner_code", "partner_code")
    expect_error(anonymous.get("/api/v1/directory/partners/" + "9" * 80), 404, "partner_not_found")
    # A well-formed code that no partner has: 10000008 has a valid check digit
    # but partners' codes are random, so take one that is not in the directory.
    taken = {p["partner_code"] for p in anonymous.get("/api/v1/directory/partners").json()["partners"]}
    free = next(c for c in (str(n) + str(luhn_digit(str(n))) for n in range(1000000, 1000100))
                if c not in taken)
    expect_error(anonymous.get("/api/v1/directory/partners/" + free), 404, "partner_not_found",
                 "partner_code")
    expect_error(anonymous.get("/api/v1/directory/partners/" + partner["partner_code"] + "?x=1"),
                 400, "unknown_field")


def luhn_digit(seven):
    total = 0
    for i, ch in enumerate(reversed(seven)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10
