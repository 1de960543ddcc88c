"""P16, P18, P19, P20: refund requests. A partner administrator requests the
refund of one, several or all (filtered) accepted payments: the request is
pending with their total, the payments are requested and cannot be
cancelled, what the city owes the partner does not change. Cancelling the
request gives the payments back; finance marks a request paid, which
settles its payments and lowers what is owed. A request and a cancellation
racing for one payment: exactly one wins, and the ledger still sums to zero.
The monthly run (the 30th, or February's last day) opens one automatic
request per partner and period - a batch of as many as needed when one
request cannot hold the month - across a restart of the refunds service
and a rebuild of the projection.

The last test moves every service's clock forward by months (as
test_vouchers.py does): later files log in again and only make new payments."""

import datetime
import time
import zoneinfo

from solipass_api import expect_error, new_key, unique_email, run_parallel, wait_until
from test_invariants import checksum, projection_caught_up
from test_operations import cancel, fresh_partner_and_pass, ledger_sum, listing, owed_cents, pay
from test_structure_users import PROFILE, activate, add_user

REQUESTS = "/api/v1/partner/refund-requests"
FINANCE = "/api/v1/finance/refund-requests"
PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def request_refund(admin, body, key=None):
    return admin.post(REQUESTS, body, key=key or new_key())


def requested(admin, operation_ids):
    answer = request_refund(admin, {"operation_ids": operation_ids})
    assert answer.status_code == 201, answer.text
    return answer.json()


def operation_of(admin, operation_id):
    found = [o for o in listing(admin, "?limit=200")["operations"]
             if o["operation_id"] == operation_id]
    assert len(found) == 1, operation_id
    return found[0]


def with_bank_account(admin):
    answer = admin.request("PUT", "/api/v1/partner/structure", body=PROFILE)
    assert answer.status_code == 200, answer.text


def test_request_one_then_cancel_it_gives_the_payment_back(world, backoffice):
    partner, admin, beneficiary, api = fresh_partner_and_pass(world, backoffice)
    operation_id = pay(world, api, partner, 1200)
    owed_before = owed_cents(admin)
    request = requested(admin, [operation_id])
    assert request["status"] == "pending" and request["kind"] == "manual"
    assert request["total_cents"] == 1200 and request["operation_count"] == 1
    assert request["bank_account_missing"] is True          # no IBAN given yet
    assert [o["operation_id"] for o in request["operations"]] == [operation_id]
    listed = operation_of(admin, operation_id)
    assert listed["status"] == "requested" and listed["refund_request_id"] == request["request_id"]
    assert listed["cancellable"] is False
    assert listed["cancellable_reason"] == "operation_in_refund_request"
    assert owed_cents(admin) == owed_before                 # still owed until paid
    refused = expect_error(cancel(admin, operation_id), 409, "operation_in_refund_request")
    assert request["request_id"] in refused["message"]
    assert ledger_sum(world) == 0

    cancelled = admin.post("%s/%s/cancel" % (REQUESTS, request["request_id"]), key=new_key())
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancel_reason"] == "partner"
    listed = operation_of(admin, operation_id)
    assert listed["status"] == "accepted" and listed["refund_request_id"] is None
    assert listed["cancellable"] is True
    assert owed_cents(admin) == owed_before
    # The payment can be cancelled again, and the money goes back to the pass.
    assert cancel(admin, operation_id).status_code == 200
    assert world.pass_of(api)["balance_cents"] == 5000
    assert owed_cents(admin) == owed_before - 1200
    assert ledger_sum(world) == 0


def test_request_several_and_all_by_filter(world, backoffice):
    partner, admin, _, api = fresh_partner_and_pass(world, backoffice, {"general": 9000})
    other = world.create_beneficiary(backoffice, credits={"general": 9000})
    other_api = world.login(other["email"], other["password"])
    with_bank_account(admin)
    first = [pay(world, api, partner, 300), pay(world, other_api, partner, 450)]
    several = requested(admin, first)
    assert several["total_cents"] == 750 and several["part_count"] == 2
    assert several["bank_account_missing"] is False
    assert sorted(o["operation_id"] for o in several["operations"]) == sorted(first)

    small = [pay(world, api, partner, 100), pay(world, other_api, partner, 200)]
    big = pay(world, api, partner, 5000)
    # "all" takes the operations listing's filters: here the small ones.
    answer = request_refund(admin, {"all": True, "amount_max_cents": 1000})
    assert answer.status_code == 201, answer.text
    by_filter = answer.json()
    assert sorted(o["operation_id"] for o in by_filter["operations"]) == sorted(small)
    assert by_filter["total_cents"] == 300
    assert operation_of(admin, big)["status"] == "accepted"
    # Listing and totals, newest first, filtered by status.
    page = admin.get(REQUESTS + "?status=pending").json()
    assert [r["request_id"] for r in page["refund_requests"]] == [
        by_filter["request_id"], several["request_id"]]
    assert page["totals"] == {"count": 2, "total_cents": 1050}
    first_page = admin.get(REQUESTS + "?limit=1").json()
    assert first_page["next_cursor"] is not None
    second_page = admin.get(REQUESTS + "?limit=1&cursor=" + first_page["next_cursor"]).json()
    assert second_page["refund_requests"][0]["request_id"] == several["request_id"]
    requested_ops = listing(admin, "?status=requested")
    assert requested_ops["totals"] == {"count": 4, "amount_cents": 1050}
    detail = admin.get("%s/%s" % (REQUESTS, several["request_id"]))
    assert detail.status_code == 200 and detail.json()["total_cents"] == 750
    # Nothing accepted is left under the filter: an empty selection.
    expect_error(request_refund(admin, {"all": True, "amount_max_cents": 1000}), 422,
                 "empty_selection")
    assert ledger_sum(world) == 0


def test_selection_errors_send_nothing(world, backoffice):
    partner, admin, _, api = fresh_partner_and_pass(world, backoffice)
    mine = pay(world, api, partner, 500)
    stranger, stranger_admin, _, stranger_api = fresh_partner_and_pass(world, backoffice)
    theirs = pay(world, stranger_api, stranger, 700)
    expect_error(request_refund(admin, {"operation_ids": []}), 422, "empty_selection")
    missing = request_refund(admin, {"operation_ids": [mine, theirs]})
    assert missing.status_code == 404, missing.text
    assert missing.json()["code"] == "operation_not_found"
    assert missing.json()["operation_id"] == theirs and theirs in missing.json()["message"]
    expect_error(request_refund(admin, {"operation_ids": ["nope"]}), 400, "invalid_value",
                 "operation_ids")
    expect_error(request_refund(admin, {"operation_ids": [mine], "all": True}), 400,
                 "missing_field")
    expect_error(request_refund(admin, {"all": True, "colour": "red"}), 400, "unknown_field")
    expect_error(admin.post(REQUESTS, {"operation_ids": [mine]}), 428, "idempotency_key_required")
    cancelled = pay(world, api, partner, 200)
    assert cancel(admin, cancelled).status_code == 200
    refused = request_refund(admin, {"operation_ids": [mine, cancelled]})
    assert refused.status_code == 409 and refused.json()["code"] == "operation_cancelled"
    assert refused.json()["operation_id"] == cancelled
    # Nothing was sent: no request, the payment is still accepted.
    assert admin.get(REQUESTS).json()["refund_requests"] == []
    assert operation_of(admin, mine)["status"] == "accepted"
    # Another partner's request is not found, to it nor for a cancel.
    theirs_request = requested(stranger_admin, [theirs])
    expect_error(admin.get("%s/%s" % (REQUESTS, theirs_request["request_id"])), 404,
                 "refund_request_not_found")
    expect_error(admin.post("%s/%s/cancel" % (REQUESTS, theirs_request["request_id"]),
                            key=new_key()), 404, "refund_request_not_found")


def test_a_partner_user_cannot_request_a_refund(world, backoffice):
    partner, admin, _, api = fresh_partner_and_pass(world, backoffice)
    operation_id = pay(world, api, partner, 500)
    email = unique_email("cashier")
    assert add_user(admin, email).status_code == 201
    cashier = activate(world, email)
    expect_error(request_refund(cashier, {"operation_ids": [operation_id]}), 403, "forbidden")
    expect_error(cashier.get(REQUESTS), 403, "forbidden")
    expect_error(request_refund(backoffice, {"operation_ids": [operation_id]}), 403, "forbidden")
    assert operation_of(admin, operation_id)["status"] == "accepted"


def test_finance_marks_a_request_paid(world, backoffice):
    partner, admin, _, api = fresh_partner_and_pass(world, backoffice)
    ops = [pay(world, api, partner, 800), pay(world, api, partner, 400)]
    owed_before = owed_cents(admin)
    request = requested(admin, ops)
    request_id = request["request_id"]
    listed = backoffice.get(FINANCE + "?status=pending&partner_id=" + partner["partner_id"]).json()
    assert [r["request_id"] for r in listed["refund_requests"]] == [request_id]
    path = "%s/%s/paid" % (FINANCE, request_id)
    expect_error(admin.post(path, {"transfer_reference": "VIR 1", "paid_on": "2026-01-05"},
                            key=new_key()), 403, "forbidden")
    expect_error(backoffice.post(path, {"transfer_reference": "VIR_1", "paid_on": "2026-01-05"},
                                 key=new_key()), 422, "invalid_transfer_reference")
    today = world.paris_today().isoformat()
    paid = backoffice.post(path, {"transfer_reference": "VIR-2026-0042", "paid_on": today},
                           key=new_key())
    assert paid.status_code == 200, paid.text
    body = paid.json()
    assert body["status"] == "paid" and body["transfer_reference"] == "VIR-2026-0042"
    assert body["paid_on"] == today and body["paid_at"] is not None
    assert {o["status"] for o in body["operations"]} == {"paid"}
    listed = operation_of(admin, ops[0])
    assert listed["status"] == "paid" and listed["cancellable_reason"] == "operation_paid"
    assert owed_cents(admin) == owed_before - 1200
    expect_error(cancel(admin, ops[0]), 409, "operation_paid")
    expect_error(backoffice.post(path, {"transfer_reference": "VIR-2026-0043", "paid_on": today},
                                 key=new_key()), 409, "refund_request_paid")
    expect_error(admin.post("%s/%s/cancel" % (REQUESTS, request_id), key=new_key()), 409,
                 "refund_request_paid")
    assert listing(admin, "?status=paid")["totals"] == {"count": 2, "amount_cents": 1200}
    balances = dict(world.sql_rows("SELECT account, balance_cents FROM ledger_balances"
                                   " WHERE account = 'refund:%s'" % request_id))
    assert balances == {"refund:" + request_id: "0"}
    assert ledger_sum(world) == 0


def test_request_and_cancel_racing_for_one_payment(world, backoffice):
    partner, admin, _, api = fresh_partner_and_pass(world, backoffice, {"general": 9000})
    for _ in range(3):
        operation_id = pay(world, api, partner, 250)

        def act(i):
            if i == 0:
                return request_refund(admin, {"operation_ids": [operation_id]})
            return cancel(admin, operation_id)

        asked, cancelled = run_parallel(2, act)
        assert asked.status_code in (201, 409), asked.text
        assert cancelled.status_code in (200, 409), cancelled.text
        if asked.status_code == 201:
            assert cancelled.json()["code"] == "operation_in_refund_request"
            assert operation_of(admin, operation_id)["status"] == "requested"
        else:
            assert asked.json()["code"] == "operation_cancelled"
            assert cancelled.status_code == 200
            assert operation_of(admin, operation_id)["status"] == "cancelled"
        assert ledger_sum(world) == 0


# ---------------------------------------------------------------- the monthly run

def run_instant(year, month):
    """00:00 Europe/Paris on the 30th, or on a shorter month's last day."""
    days = (datetime.date(year + month // 12, month % 12 + 1, 1) - datetime.date(year, month, 1)).days
    return datetime.datetime(year, month, min(30, days), tzinfo=PARIS)


def next_run_after(now, months=None):
    """The first run instant after now (in a month of `months` when given)."""
    year, month = now.astimezone(PARIS).year, now.astimezone(PARIS).month
    for _ in range(24):
        instant = run_instant(year, month)
        if instant > now and (months is None or month in months):
            return instant, "%04d-%02d" % (year, month)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    raise AssertionError("no run instant within two years")


def move_clock_to(world, instant):
    delta_ms = int((instant - world.now()).total_seconds() * 1000)
    world.advance_clock_ms(delta_ms)


def automatic_requests(world, partner_id, period=None):
    return world.sql_rows(
        "SELECT request_id, period, status, total_cents, bank_account_missing FROM refund_requests"
        " WHERE kind = 'automatic' AND partner_id = '%s'%s ORDER BY period" % (
            partner_id, " AND period = '%s'" % period if period else ""))


def pending_automatic(world, partner_id, period):
    rows = automatic_requests(world, partner_id, period)
    return rows if rows and all(r[2] == "pending" for r in rows) else None


def set_monthly_run(stack, on):
    """The stack starts the refunds service without the monthly run (other
    files move the clock past a 30th and then cancel payments): restart it
    with or without."""
    stack.service_env.setdefault("refunds", {})["SP_REFUNDS_MONTHLY_RUN"] = "true" if on else "false"
    if stack.is_running("refunds"):
        stack.stop_service("refunds")
    stack.start_service("refunds")


def many_payments(world, backoffice, partner, count, passes=8, amount_cents=10):
    """count payments to partner from `passes` passes paying in parallel."""
    apis = []
    for _ in range(passes):
        beneficiary = world.create_beneficiary(backoffice, credits={"general": 5000})
        apis.append(world.login(beneficiary["email"], beneficiary["password"]))

    def pay_share(i):
        return [pay(world, apis[i], partner, amount_cents) for _ in range(i, count, passes)]

    return [op for share in run_parallel(passes, pay_share) for op in share]


def batch_of(world, partner_id, period):
    """The automatic requests of (partner, period) once two are pending."""
    rows = automatic_requests(world, partner_id, period)
    return rows if len(rows) == 2 and all(r[2] == "pending" for r in rows) else None


def test_zz_monthly_run_once_per_partner_and_period(world, backoffice):
    """Last in this file: it moves every service's clock forward by months."""
    stack = world.stack
    set_monthly_run(stack, True)
    try:
        monthly_run(world, backoffice)
    finally:
        set_monthly_run(stack, False)


def monthly_run(world, backoffice):
    stack = world.stack
    with_iban, admin, beneficiary, api = fresh_partner_and_pass(world, backoffice,
                                                                {"general": 9000})
    with_bank_account(admin)
    auto_ops = [pay(world, api, with_iban, 300), pay(world, api, with_iban, 200)]
    manual = requested(admin, [pay(world, api, with_iban, 100)])
    no_iban, _, _, no_iban_api = fresh_partner_and_pass(world, backoffice)
    pay(world, no_iban_api, no_iban, 650)
    nothing, nothing_admin, _, nothing_api = fresh_partner_and_pass(world, backoffice)
    assert cancel(nothing_admin, pay(world, nothing_api, nothing, 50)).status_code == 200
    # More accepted payments than one request holds (600): a batch of two.
    big = world.create_partner(backoffice, "sport")
    big_ops = many_payments(world, backoffice, big, 620)

    instant, period = next_run_after(world.now())
    move_clock_to(world, instant - datetime.timedelta(seconds=30))
    assert automatic_requests(world, with_iban["partner_id"], period) == []   # not yet due
    move_clock_to(world, instant + datetime.timedelta(seconds=2))
    rows = wait_until(lambda: pending_automatic(world, with_iban["partner_id"], period),
                      "the automatic request of " + period, timeout_s=60)
    assert len(rows) == 1 and int(rows[0][3]) == 500 and rows[0][4] == "f"
    admin = world.login(with_iban["admin_email"], with_iban["admin_password"])
    for operation_id in auto_ops:
        assert operation_of(admin, operation_id)["refund_request_id"] == rows[0][0]
    assert world.sql_rows("SELECT status FROM refund_requests WHERE request_id = '%s'"
                          % manual["request_id"]) == [["pending"]]
    rows = wait_until(lambda: pending_automatic(world, no_iban["partner_id"], period),
                      "the automatic request of the partner without a bank account")
    assert rows[0][4] == "t" and int(rows[0][3]) == 650
    assert automatic_requests(world, nothing["partner_id"]) == []
    batch = wait_until(lambda: batch_of(world, big["partner_id"], period),
                       "the batch of two automatic requests of " + period, timeout_s=60)
    assert sum(int(r[3]) for r in batch) == 10 * len(big_ops)
    held = dict(world.sql_rows(
        "SELECT refund_request_id, count(*) FROM operations WHERE partner_id = '%s'"
        " AND status = 'requested' GROUP BY refund_request_id" % big["partner_id"]))
    assert sorted(held.values()) == sorted([str(len(big_ops) - 600), "600"])
    assert sorted(held) == sorted(r[0] for r in batch)
    assert world.sql_rows("SELECT count(*) FROM operations WHERE partner_id = '%s'"
                          " AND status = 'accepted'" % big["partner_id"]) == [["0"]]

    # Restarted, and later in the same period: still one request per partner.
    set_monthly_run(stack, True)
    world.advance_clock_ms(3600 * 1000)
    time.sleep(3)   # three looks at the monthly run
    wait_until(lambda: projection_caught_up(world), "the projection to catch up")
    assert len(automatic_requests(world, with_iban["partner_id"], period)) == 1
    assert len(automatic_requests(world, no_iban["partner_id"], period)) == 1
    assert len(automatic_requests(world, big["partner_id"], period)) == 2

    # February has no 30th: its run is on its last day.
    february, february_period = next_run_after(world.now(), months=(2,))
    move_clock_to(world, february - datetime.timedelta(seconds=60))
    api = world.login(beneficiary["email"], beneficiary["password"])
    late = pay(world, api, with_iban, 150)
    move_clock_to(world, february + datetime.timedelta(seconds=2))
    rows = wait_until(lambda: pending_automatic(world, with_iban["partner_id"], february_period),
                      "the automatic request of " + february_period, timeout_s=60)
    admin = world.login(with_iban["admin_email"], with_iban["admin_password"])
    assert operation_of(admin, late)["refund_request_id"] == rows[0][0]

    # A rebuilt projection equals the live one: one request per partner and
    # period, two for the partner whose month did not fit in one.
    per_period = "SELECT partner_id, period, count(*) FROM refund_requests WHERE kind = 'automatic'" \
                 " GROUP BY partner_id, period HAVING count(*) > 1"
    batches = [[big["partner_id"], period, "2"]]
    writers = ["refunds", "accounts", "transactions"]
    for name in writers:
        stack.stop_service(name)
    try:
        wait_until(lambda: projection_caught_up(world), "the projection to catch up", timeout_s=60)
        stack.stop_service("projection")
        live = checksum(world)
        rebuild = stack.run_tool("projection", ["--rebuild", "--exit-when-caught-up"], timeout_s=600)
        assert rebuild.returncode == 0, rebuild.stderr[-3000:]
        assert checksum(world) == live
        assert world.sql_rows(per_period) == batches
    finally:
        for name in ["projection"] + writers:
            if not stack.is_running(name):
                stack.start_service(name)
    assert ledger_sum(world) == 0
