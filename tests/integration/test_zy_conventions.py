"""P21 (and the proof of issue 3, items 5 to 8): the back-office publishes
conventions; a partner administrator sees the accepted and the waiting ones
and accepts one (who and when are recorded); a partner that has not
accepted a mandatory convention in force cannot be paid, by code or by
voucher, and the beneficiary is told why.

This file runs last but one (before test_zz_shutdown) on purpose: a
mandatory convention in force concerns every partner of the stack, and the
tests before it create partners and pay them at once. Conventions cannot be
withdrawn, so nothing after this file may pay a partner that did not accept
them."""

import json
import time

from solipass_api import expect_error, new_key
from test_partner_space import EventStream, paying_beneficiary, partner_admin
from test_vouchers import decode_png

CONVENTION = {"title": "Convention de partenariat 2027", "version": "2027-1",
              "text": "Article 1. Le partenaire accepte le Pass solidarité.\n"
                      "Article 2. Le remboursement a lieu chaque mois.",
              "mandatory": True}


def publish(api, key=None, **changes):
    body = dict(CONVENTION, **changes)
    return api.post("/api/v1/conventions", body, key=key or new_key())


def day(world, days_from_today):
    import datetime
    return (world.paris_today() + datetime.timedelta(days=days_from_today)).isoformat()


def partner_lists(admin):
    answer = admin.get("/api/v1/partner/conventions")
    assert answer.status_code == 200, answer.text
    lists = answer.json()
    return ({c["convention_id"]: c for c in lists["accepted"]},
            {c["convention_id"]: c for c in lists["waiting"]})


def test_publishing_is_validated_and_for_the_back_office(world, backoffice, partners):
    today = day(world, 0)
    expect_error(backoffice.post("/api/v1/conventions", dict(CONVENTION, effective_date=today)),
                 428, "idempotency_key_required")
    expect_error(publish(backoffice, effective_date=today, extra=1), 400, "unknown_field", "extra")
    body = dict(CONVENTION, effective_date=today)
    del body["mandatory"]
    expect_error(backoffice.post("/api/v1/conventions", body, key=new_key()), 400,
                 "missing_field", "mandatory")
    expect_error(publish(backoffice, effective_date=today, mandatory="yes"), 400, "invalid_type",
                 "mandatory")
    expect_error(publish(backoffice, effective_date="2027-02-30"), 422, "invalid_date",
                 "effective_date")
    expect_error(publish(backoffice, effective_date=today, version="v 1"), 400, "invalid_value",
                 "version")
    expect_error(publish(backoffice, effective_date=today, text="x\u0001y"), 400,
                 "invalid_value", "text")
    admin = partner_admin(world, partners["sport"])
    expect_error(publish(admin, effective_date=today), 403, "forbidden")
    expect_error(admin.get("/api/v1/conventions"), 403, "forbidden")
    admin.close()


def test_optional_and_future_conventions_do_not_block_payments(world, backoffice):
    key = new_key()
    optional = publish(backoffice, key=key, title="Charte de qualité", mandatory=False,
                       effective_date=day(world, 0))
    assert optional.status_code == 201, optional.text
    again = publish(backoffice, key=key, title="Charte de qualité", mandatory=False,
                    effective_date=day(world, 0))
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["convention_id"] == optional.json()["convention_id"]
    expect_error(publish(backoffice, key=key, title="Autre charte", mandatory=False,
                         effective_date=day(world, 0)), 409, "idempotency_conflict")
    future = publish(backoffice, title="Avenant 2028", version="2028-1",
                     effective_date=day(world, 60))
    assert future.status_code == 201, future.text

    partner = world.create_partner(backoffice, "culture", "Cinéma Le Méliès")
    ben = paying_beneficiary(world, backoffice)
    assert world.pay(ben, partner["partner_code"], 500).status_code == 201
    admin = partner_admin(world, partner)
    accepted, waiting = partner_lists(admin)
    assert not accepted
    charte = waiting[optional.json()["convention_id"]]
    assert charte["mandatory"] is False and charte["in_force"] is True
    avenant = waiting[future.json()["convention_id"]]
    assert avenant["mandatory"] is True and avenant["in_force"] is False
    assert avenant["text"] == CONVENTION["text"] and "acceptance" not in avenant
    listed = backoffice.get("/api/v1/conventions")
    assert listed.status_code == 200
    assert {optional.json()["convention_id"], future.json()["convention_id"]} <= {
        c["convention_id"] for c in listed.json()["conventions"]}
    ben.close()
    admin.close()


def test_mandatory_convention_in_force_blocks_until_accepted_then_payments_show_live(
        world, backoffice):
    partner = world.create_partner(backoffice, "sport", "Club de tennis de table")
    admin = partner_admin(world, partner)
    link = decode_png(admin.get("/api/v1/partner/qr.png").content)
    assert link == world.url + "/payer/" + partner["partner_code"]
    scanned = link.rsplit("/", 1)[1]
    ben = paying_beneficiary(world, backoffice)
    voucher = ben.post("/api/v1/pass/vouchers", {"amount_cents": 300}, key=new_key())
    assert voucher.status_code == 201, voucher.text

    published = publish(backoffice, effective_date=day(world, 0))
    assert published.status_code == 201, published.text
    convention_id = published.json()["convention_id"]
    refused = expect_error(world.pay(ben, scanned, 800), 422, "convention_not_accepted",
                           "partner_code")
    assert CONVENTION["title"] in refused["message"]
    assert "cannot take payments yet" in refused["message"]
    expect_error(admin.post("/api/v1/partner/vouchers/redeem",
                            {"number": voucher.json()["number"]}, key=new_key()),
                 422, "convention_not_accepted")
    accepted, waiting = partner_lists(admin)
    assert waiting[convention_id]["in_force"] is True and convention_id not in accepted

    expect_error(ben.post("/api/v1/partner/conventions/%s/accept" % convention_id, key=new_key()),
                 403, "forbidden")
    expect_error(admin.post("/api/v1/partner/conventions/%s/accept" % convention_id), 428,
                 "idempotency_key_required")
    expect_error(admin.post("/api/v1/partner/conventions/not-an-id/accept", key=new_key()), 404,
                 "convention_not_found")
    expect_error(admin.post("/api/v1/partner/conventions/7d3f1e2a-5b6c-4d7e-8f90-a1b2c3d4e5f6"
                            "/accept", key=new_key()), 404, "convention_not_found")
    key = new_key()
    accept = admin.post("/api/v1/partner/conventions/%s/accept" % convention_id, key=key)
    assert accept.status_code == 201, accept.text
    me = admin.get("/api/v1/me").json()
    assert accept.json()["accepted_by"] == me["user_id"]
    assert accept.json()["version"] == CONVENTION["version"]
    replay = admin.post("/api/v1/partner/conventions/%s/accept" % convention_id, key=key)
    assert replay.status_code == 201 and replay.headers.get("Idempotent-Replayed") == "true"
    expect_error(admin.post("/api/v1/partner/conventions/%s/accept" % convention_id,
                            key=new_key()), 409, "conflict")
    accepted, waiting = partner_lists(admin)
    acceptance = accepted[convention_id]["acceptance"]
    assert acceptance["accepted_by"] == {"user_id": me["user_id"], "full_name": me["full_name"]}
    assert acceptance["accepted_at"] == accept.json()["accepted_at"]
    assert convention_id not in waiting

    stream = EventStream(world, admin.token)
    try:
        paid = world.pay(ben, scanned, 800)
        assert paid.status_code == 201, paid.text
        answered_at = time.monotonic()
        event = stream.next_event(timeout_s=1.0)
        assert time.monotonic() - answered_at <= 1.0
        assert json.loads(event["data"])["operation_id"] == paid.json()["operation_id"]
    finally:
        stream.close()
    redeemed = admin.post("/api/v1/partner/vouchers/redeem", {"number": voucher.json()["number"]},
                          key=new_key())
    assert redeemed.status_code == 201, redeemed.text
    ben.close()
    admin.close()


def accept(admin, convention_id):
    answer = admin.post("/api/v1/partner/conventions/%s/accept" % convention_id, key=new_key())
    assert answer.status_code == 201, answer.text


def test_a_publication_binds_the_payment_sent_right_after_its_answer(world, backoffice):
    """The transactions service learns conventions from the accounts topic on
    its own reader: a payment sent the moment a publication is answered must
    still be decided knowing it, and one sent the moment the acceptance is
    answered must go through. Several rounds, because a reader that is only
    late now and then would pass one."""
    partner = world.create_partner(backoffice, "sport", "Club d'aviron")
    admin = partner_admin(world, partner)
    for convention_id, convention in partner_lists(admin)[1].items():
        if convention["mandatory"] and convention["in_force"]:
            accept(admin, convention_id)
    ben = paying_beneficiary(world, backoffice)
    assert world.pay(ben, partner["partner_code"], 100).status_code == 201
    for round_index in range(8):
        published = publish(backoffice, title="Avenant %d" % round_index,
                            version="2027-a%d" % round_index, effective_date=day(world, 0))
        assert published.status_code == 201, published.text
        expect_error(world.pay(ben, partner["partner_code"], 100), 422, "convention_not_accepted",
                     "partner_code")
        accept(admin, published.json()["convention_id"])
        paid = world.pay(ben, partner["partner_code"], 100)
        assert paid.status_code == 201, (round_index, paid.text)
    ben.close()
    admin.close()
