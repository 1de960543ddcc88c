"""`solipass-refunds --monthly-run-now YYYY-MM`: an operator's recovery after
an outage over a run instant. Run twice, then the automatic monthly run of
the same period: one automatic request per partner and period, holding the
partner's payments accepted before the run instant; a period not due yet
and a bad period are refused (exit 2) and open nothing.

Moves every service's clock forward past a run instant (as test_refunds.py
does): later files log in again and only make new payments."""

import datetime
import time

from test_operations import fresh_partner_and_pass, pay
from test_refunds import (automatic_requests, move_clock_to, next_run_after, set_monthly_run,
                          with_bank_account)

RUN_NOW_TIMEOUT_S = 120


def run_now(stack, period):
    return stack.run_tool("refunds", ["--monthly-run-now", period], timeout_s=RUN_NOW_TIMEOUT_S)


def test_zz_monthly_run_now_twice_then_automatic_opens_one_request(world, backoffice):
    stack = world.stack
    partner, admin, beneficiary, api = fresh_partner_and_pass(world, backoffice, {"general": 5000})
    with_bank_account(admin)
    paid = [pay(world, api, partner, 300), pay(world, api, partner, 120)]
    no_iban, _, _, no_iban_api = fresh_partner_and_pass(world, backoffice)
    pay(world, no_iban_api, no_iban, 650)
    instant, period = next_run_after(world.now())

    early = run_now(stack, period)
    assert early.returncode == 2, early.stderr
    assert '"code":"period_not_due"' in early.stderr
    bad = run_now(stack, "2026-13")
    assert bad.returncode == 2 and '"code":"invalid_period"' in bad.stderr
    assert automatic_requests(world, partner["partner_id"], period) == []

    move_clock_to(world, instant + datetime.timedelta(seconds=2))
    api = world.login(beneficiary["email"], beneficiary["password"])   # sessions expired
    pay(world, api, partner, 40)            # after the run instant: not this period's
    first = run_now(stack, period)
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stdout.startswith("monthly run %s: " % period), first.stdout
    opened_now = int(first.stdout.split("(")[1].split()[0])
    assert opened_now >= 2, first.stdout        # our two partners, maybe others'
    rows = automatic_requests(world, partner["partner_id"], period)
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [(period, "pending", "420", "f")], rows
    rows_no_iban = automatic_requests(world, no_iban["partner_id"], period)
    assert [(r[2], r[3], r[4]) for r in rows_no_iban] == [("pending", "650", "t")]

    second = run_now(stack, period)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stdout.strip().endswith("(0 opened now)"), second.stdout

    # The automatic run of the same period, by the service: nothing more.
    set_monthly_run(stack, True)            # started: it logged "ready"
    try:
        time.sleep(3)                       # three looks at the monthly run
    finally:
        set_monthly_run(stack, False)
    per_partner = world.sql_rows(
        "SELECT partner_id, count(*) FROM refund_requests WHERE kind = 'automatic'"
        " AND period = '%s' AND partner_id IN ('%s', '%s') GROUP BY partner_id ORDER BY 1"
        % (period, partner["partner_id"], no_iban["partner_id"]))
    assert sorted(r[1] for r in per_partner) == ["1", "1"], per_partner
    assert automatic_requests(world, partner["partner_id"], period) == rows
    statuses = world.sql_rows("SELECT status FROM operations WHERE operation_id IN (%s)"
                              % ",".join("'%s'" % op for op in paid))
    assert sorted(r[0] for r in statuses) == ["requested", "requested"]
