"""B4: the city sees its money. The dashboard's figures are read from tables
the projection keeps; they must equal what the other endpoints show: the
envelopes' balances, the payments and their cancellations, an expiry, the
vouchers' reservations, what partners are owed, the refund requests. A
category of its own makes this test's budget row exact whatever else ran."""

import collections
import datetime
import uuid
import zoneinfo

from solipass_api import DAY_MS, expect_error, new_key, wait_until
from test_operations import cancel, pay
from test_ops_tools import audit

DASHBOARD = "/api/v1/dashboard"
PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def dashboard(api, query=""):
    answer = api.get(DASHBOARD + query)
    assert answer.status_code == 200, answer.text
    return answer.json()


def budget_of(board, category):
    rows = [b for b in board["budget"] if b["category"] == category]
    assert len(rows) <= 1
    return rows[0] if rows else None


def day_of(board, day, category):
    rows = [(d["count"], d["amount_cents"]) for d in board["payments_by_day"]
            if d["day"] == day.isoformat() and d["category"] == category]
    return rows[0] if rows else (0, 0)


def envelope_balance(backoffice, pass_id, category):
    answer = backoffice.get("/api/v1/passes/%s" % pass_id)
    assert answer.status_code == 200, answer.text
    return [e for e in answer.json()["envelopes"] if e["category"] == category][0]["balance_cents"]


def settled(world, api, expected, what):
    """The dashboard once the projection applied what the test did."""
    found = {}

    def check():
        found["board"] = dashboard(api, "?days=7")
        return expected(found["board"])
    wait_until(check, what, timeout_s=30)
    return found["board"]


def test_budget_and_days_follow_credits_payments_cancellations_and_expiry(world, backoffice):
    category = "fig" + uuid.uuid4().hex[:8]
    partner = world.create_partner(backoffice, category)
    admin = world.login(partner["admin_email"], partner["admin_password"])
    ends = world.paris_today() + datetime.timedelta(days=1)
    short = world.create_beneficiary(backoffice, [(category, ends.isoformat())], {category: 9000})
    long = world.create_beneficiary(backoffice, [(category, None)], {category: 5000})
    assert world.credit(backoffice, long["pass_id"], category, 1000).status_code == 201
    short_api = world.login(short["email"], short["password"])
    long_api = world.login(long["email"], long["password"])
    day_one = world.paris_today()

    pay(world, short_api, partner, 2000)
    pay(world, long_api, partner, 1500)
    cancel_today = pay(world, long_api, partner, 700)
    assert cancel(admin, cancel_today).status_code == 200
    cancel_tomorrow = pay(world, long_api, partner, 300)
    voucher = long_api.post("/api/v1/pass/vouchers", {"amount_cents": 400, "category": category},
                            key=new_key())
    assert voucher.status_code == 201, voucher.text

    board = settled(world, backoffice, lambda b: (budget_of(b, category) or {}).get(
        "reserved_cents") == 400, "the voucher on the dashboard")
    assert budget_of(board, category) == {
        "category": category, "credited_cents": 15000, "spent_cents": 3800, "expired_cents": 0,
        "reserved_cents": 400, "available_cents": 15000 - 3800 - 400}
    # The payment cancelled the same day left it: 2000 + 1500 + 300.
    assert day_of(board, day_one, category) == (3, 3800)
    available = (envelope_balance(backoffice, short["pass_id"], category) +
                 envelope_balance(backoffice, long["pass_id"], category))
    assert budget_of(board, category)["available_cents"] == available

    # A payment cancelled the next day leaves the day it was made.
    world.advance_clock_ms(DAY_MS + 60 * 1000)
    admin = world.login(partner["admin_email"], partner["admin_password"])
    backoffice = world.backoffice()
    assert cancel(admin, cancel_tomorrow).status_code == 200
    board = settled(world, backoffice, lambda b: day_of(b, day_one, category) == (2, 3500),
                    "the cancellation on the day of its payment")
    assert day_of(board, world.paris_today(), category) == (0, 0)
    assert budget_of(board, category)["spent_cents"] == 3500

    # The short envelope ends: its remainder is expired, not available.
    world.advance_clock_ms(DAY_MS + 60 * 1000)
    backoffice = world.backoffice()
    board = settled(world, backoffice, lambda b: budget_of(b, category)["expired_cents"] == 7000,
                    "the expiry on the dashboard")
    figures = budget_of(board, category)
    assert figures["available_cents"] == envelope_balance(backoffice, long["pass_id"], category)
    assert figures["available_cents"] == 6000 - 1500 - 400
    assert figures["credited_cents"] == (figures["spent_cents"] + figures["expired_cents"] +
                                         figures["reserved_cents"] + figures["available_cents"])
    # The window: days=1 is today only, where nothing was paid in this category.
    assert day_of(dashboard(backoffice, "?days=1"), day_one, category) == (0, 0)
    assert day_of(dashboard(backoffice, "?days=3"), day_one, category) == (2, 3500)


def test_partners_owed_and_refunds_match_their_own_endpoints(world, backoffice):
    category = "fig" + uuid.uuid4().hex[:8]
    partner = world.create_partner(backoffice, category)
    admin = world.login(partner["admin_email"], partner["admin_password"])
    beneficiary = world.create_beneficiary(backoffice, [(category, None)], {category: 900000})
    assert world.credit(backoffice, beneficiary["pass_id"], category, 900000).status_code == 201
    api = world.login(beneficiary["email"], beneficiary["password"])
    # Payments are at most 1 000 EUR each: owed enough to rank among the first.
    first = pay(world, api, partner, 100000)
    for _ in range(13):
        pay(world, api, partner, 100000)
    requested = admin.post("/api/v1/partner/refund-requests", {"operation_ids": [first]},
                           key=new_key())
    assert requested.status_code == 201, requested.text

    board = settled(world, backoffice, lambda b: any(
        p["partner_id"] == partner["partner_id"] for p in b["partners_owed_most"]),
        "the partner among those owed most")
    listed = backoffice.get("/api/v1/partners")
    assert listed.status_code == 200, listed.text
    owed = sorted(((p["owed_cents"], p["partner_id"], p["name"]) for p in listed.json()["partners"]
                   if p["owed_cents"] > 0), key=lambda t: (-t[0], t[1]))[:10]
    assert [(p["owed_cents"], p["partner_id"], p["name"])
            for p in board["partners_owed_most"]] == owed
    mine = [p for p in board["partners_owed_most"] if p["partner_id"] == partner["partner_id"]]
    assert mine[0]["owed_cents"] == 1400000

    # Refunds per month: the finance listing, grouped by the month each was made.
    expected = collections.defaultdict(lambda: [0, 0, 0, 0])
    cursor = None
    for _ in range(100):
        query = "?limit=200" + ("&cursor=" + cursor if cursor else "")
        page = backoffice.get("/api/v1/finance/refund-requests" + query)
        assert page.status_code == 200, page.text
        for r in page.json()["refund_requests"]:
            made = datetime.datetime.fromisoformat(r["created_at"].replace("Z", "+00:00"))
            month = made.astimezone(PARIS).strftime("%Y-%m")
            if r["status"] in ("opening", "pending"):
                expected[month][0] += 1
                expected[month][1] += (r["total_cents"] if r["status"] == "pending"
                                       else r["expected_total_cents"])
            elif r["status"] == "paid":
                expected[month][2] += 1
                expected[month][3] += r["total_cents"]
        cursor = page.json()["next_cursor"]
        if not cursor:
            break
    months = board["refunds_by_month"]
    assert len(months) == 12 and months[-1]["month"] == world.paris_today().strftime("%Y-%m")
    for m in months:
        assert [m["pending_count"], m["pending_cents"], m["paid_count"],
                m["paid_cents"]] == expected[m["month"]], m
    assert expected[months[-1]["month"]][0] >= 1


def test_only_staff_read_the_dashboard_and_days_is_checked(world, backoffice, partners):
    admin = world.login(partners["sport"]["admin_email"], partners["sport"]["admin_password"])
    expect_error(admin.get(DASHBOARD), 403, "forbidden")
    board = dashboard(backoffice)
    assert board["as_of"].endswith("Z")
    for query in ("?days=0", "?days=367", "?days=abc", "?days=", "?days=1&days=2"):
        expect_error(backoffice.get(DASHBOARD + query), 400, "invalid_value", "days")
    expect_error(backoffice.get(DASHBOARD + "?weeks=2"), 400, "unknown_field")
    assert len(dashboard(backoffice, "?days=366")["refunds_by_month"]) == 12


def test_audit_and_replay_agree_with_the_figures(world, backoffice, partners):
    beneficiary = world.create_beneficiary(backoffice, [("sport", None)], {"sport": 800})
    api = world.login(beneficiary["email"], beneficiary["password"])
    pay(world, api, partners["sport"], 250)
    stack = world.stack
    wait_until(lambda: audit(stack).returncode == 0, "the audit passes", timeout_s=60)
    assert "ok budget figures match the ledger" in audit(stack).stdout
    done = stack.run_tool("projection", ["--replay", "--tables",
                                         "figures_daily,figures_budget,history"], timeout_s=600)
    assert done.returncode == 0, done.stderr[-3000:]
    verdicts = {line.split("=", 1)[0]: line.rsplit(" ", 1)[-1] for line in done.stdout.splitlines()
                if not line.startswith(("all=", "swapped "))}
    assert verdicts == {"figures_daily": "same", "figures_budget": "same", "history": "same"}, \
        done.stdout
