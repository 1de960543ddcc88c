"""A replay of a log that holds every kind of event the projection applies
(partners and users, sessions, a convention, a structure's profile; passes
opened and credited, payments, references, cancellations, vouchers issued,
redeemed, cancelled and expired, an envelope's expiry, refund requests
confirmed, paid and cancelled, a pass closed) rebuilds read models equal,
table by table, to the ones the live projection built event by event; the
audit holds before and after.

Named to run last but one (before test_zz_shutdown): it moves every
service's clock 92 days forward so that a voucher expires."""

import uuid

from solipass_api import new_key, wait_until
from test_operations import cancel, fresh_partner_and_pass, ledger_sum, pay, set_reference
from test_ops_tools import audit
from test_pass_close import CLOSE, issue
from test_refunds import FINANCE, REQUESTS, requested, with_bank_account
from test_replay import quiet_checksums, replay, replay_lines
from test_staff_users import disable, new_staff, patch_role
from test_vouchers import redeem, vouchers_of
from test_zy_conventions import day, partner_lists, publish

DAY_MS = 24 * 3600 * 1000

# Every history action (one per event type the read models show).
EVERY_ACTION = {
    "partner_created", "user_added", "password_set", "role_changed", "user_removed",
    "convention_published", "convention_accepted", "bank_details_changed", "pass_opened",
    "credit", "payment_accepted", "envelope_expired", "voucher_issued", "voucher_redeemed",
    "voucher_cancelled", "voucher_expired", "payment_cancelled", "operation_reference_set",
    "refund_requested", "refund_confirmed", "refund_cancelled", "refund_paid", "pass_closed"}


def accounts_events(world, backoffice, admin):
    """Staff added, activated, moved to another role, removed; a profile
    with bank details; an optional convention published and accepted; a
    session ended."""
    user, staff_api = new_staff(world, backoffice, "finance")
    assert patch_role(backoffice, user["user_id"], "backoffice").status_code == 200
    assert staff_api.post("/api/v1/auth/logout").status_code == 204
    assert disable(backoffice, user["user_id"]).status_code in (200, 204)
    with_bank_account(admin)
    convention = publish(backoffice, title="Charte %s" % uuid.uuid4().hex[:6], mandatory=False,
                         version="replay-%s" % uuid.uuid4().hex[:6], effective_date=day(world, 0))
    assert convention.status_code == 201, convention.text
    accepted = admin.post("/api/v1/partner/conventions/%s/accept"
                          % convention.json()["convention_id"], key=new_key())
    assert accepted.status_code == 201, accepted.text


def ledger_events(world, backoffice, partner, admin, api):
    """Payments (one referenced, one cancelled), vouchers redeemed and
    cancelled, refund requests cancelled and paid; a second pass closed with
    an open voucher. Returns the voucher left to expire."""
    paid = [pay(world, api, partner, amount) for amount in (700, 300, 200, 100)]
    assert set_reference(admin, paid[0], "FACT-1").status_code == 200
    assert cancel(admin, paid[1]).status_code == 200
    redeemed = issue(api, 400)
    assert redeem(admin, redeemed["number"]).status_code == 201
    cancelled = issue(api, 250)
    assert api.post("/api/v1/vouchers/%s/cancel" % cancelled["voucher_id"],
                    key=new_key()).status_code == 201
    withdrawn = requested(admin, [paid[2]])
    assert admin.post("%s/%s/cancel" % (REQUESTS, withdrawn["request_id"]),
                      key=new_key()).status_code == 200
    settled = requested(admin, [paid[0], paid[3]])
    marked = backoffice.post("%s/%s/paid" % (FINANCE, settled["request_id"]),
                             {"transfer_reference": "VIR-REPLAY-1",
                              "paid_on": world.paris_today().isoformat()}, key=new_key())
    assert marked.status_code == 200, marked.text
    closing = world.create_beneficiary(backoffice, (("general", None),), {"general": 900})
    closing_api = world.login(closing["email"], closing["password"])
    issue(closing_api, 300)
    assert backoffice.post(CLOSE % closing["pass_id"], {"reason": "départ"},
                           key=new_key()).status_code == 200
    return issue(api, 500)


def accept_conventions_in_force(admin):
    """A mandatory convention an earlier test left in force blocks payments:
    the fresh partner accepts it first, as it would in its space."""
    _, waiting = partner_lists(admin)
    for convention_id, convention in waiting.items():
        if convention["mandatory"] and convention["in_force"]:
            answer = admin.post("/api/v1/partner/conventions/%s/accept" % convention_id,
                                key=new_key())
            assert answer.status_code == 201, answer.text


def test_replay_of_every_event_type_equals_the_live_projection(world, backoffice):
    today = str(world.paris_today())
    partner, admin, beneficiary, api = fresh_partner_and_pass(
        world, backoffice, {"general": 6000, "culture": 1500},
        (("general", None), ("culture", today)))
    accept_conventions_in_force(admin)
    accounts_events(world, backoffice, admin)
    expiring = ledger_events(world, backoffice, partner, admin, api)

    world.advance_clock_ms(92 * DAY_MS)
    api = world.login(beneficiary["email"], beneficiary["password"])  # the old session expired
    wait_until(lambda: vouchers_of(api)[expiring["voucher_id"]]["status"] == "expired",
               "the voucher's expiry", timeout_s=30)
    wait_until(lambda: world.envelope(world.pass_of(api), "culture")["expired"],
               "the envelope's expiry", timeout_s=30)
    actions = {row[0] for row in world.sql_rows("SELECT DISTINCT action FROM history")}
    assert EVERY_ACTION <= actions, sorted(EVERY_ACTION - actions)
    wait_until(lambda: audit(world.stack).returncode == 0, "the audit passes", timeout_s=60)
    assert ledger_sum(world) == 0

    live = quiet_checksums(world.stack)
    rebuilt = replay(world.stack)
    assert rebuilt.returncode == 0, rebuilt.stderr
    tables, everything = replay_lines(rebuilt)
    assert set(tables) == set(live) - {"all"}, rebuilt.stdout
    for name, (shadow, before, verdict) in tables.items():
        assert shadow == live[name] and before == live[name] and verdict == "same", \
            rebuilt.stdout
    assert everything == live["all"]
    assert audit(world.stack).returncode == 0

    # In chunks of 10 events (the least): each chunk's new rows copied on
    # their own connections beside its statements, later chunks updating
    # what earlier ones wrote; the same rows.
    chunked = replay(world.stack, extra_env={"SP_REPLAY_CHUNK_EVENTS": "10"})
    assert chunked.returncode == 0, chunked.stderr
    batches = [line for line in chunked.stderr.splitlines() if '"replay shadow phases"' in line]
    events = int(chunked.stdout.split(" events=")[1].split()[0])
    assert batches and int(batches[0].split('"batches":"')[1].split('"')[0]) >= events // 10, \
        batches
    assert replay_lines(chunked) == (tables, everything)
    assert audit(world.stack).returncode == 0
