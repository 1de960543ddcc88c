"""Runs last (file order): after the whole session, nothing valid was
dead-lettered, the ledger sums to zero, and every service stops cleanly on
SIGTERM (exit 0: no sanitizer report, no leak) with no sanitizer report in
its log for the whole run."""

import re

import pytest

from solipass_api import (TOPIC_ACCOUNTS_COMMANDS, TOPIC_ACCOUNTS_EVENTS, TOPIC_DEADLETTER,
                          TOPIC_LEDGER_COMMANDS, TOPIC_LEDGER_EVENTS)

SANITIZER_REPORT = re.compile(rb"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error: |SUMMARY: UndefinedBehaviorSanitizer")


def test_only_poison_was_dead_lettered(world):
    """Poison commands, and the e-mails the SMTP server refused on purpose
    (each an event dead-lettered by the notifications service, and nothing else)."""
    keys = world.message_keys(TOPIC_DEADLETTER)
    events = [k for k in keys if k in (TOPIC_ACCOUNTS_EVENTS, TOPIC_LEDGER_EVENTS)]
    assert set(keys) - set(events) <= {TOPIC_LEDGER_COMMANDS, TOPIC_ACCOUNTS_COMMANDS}, keys
    refused = int(world.sql("SELECT count(*) FROM notification_mails WHERE status = 'dead_lettered'"))
    assert len(events) == refused


def test_the_ledger_sums_to_zero(world):
    assert int(world.sql("SELECT coalesce(sum(balance_cents), 0) FROM ledger_balances")) == 0
    assert int(world.sql("SELECT count(*) FROM ledger_balances WHERE account <> 'budget' "
                         "AND balance_cents < 0")) == 0


def test_read_models_agree_with_the_ledger_accounts(world):
    """Each envelope's balance is its ledger account's; each partner's owed too."""
    mismatched = world.sql(
        "SELECT count(*) FROM envelopes e LEFT JOIN ledger_balances l "
        "ON l.account = 'pass:' || e.pass_id || ':' || e.category "
        "WHERE coalesce(l.balance_cents, 0) <> e.balance_cents")
    assert mismatched == "0"
    # What a partner is owed is its owed account plus what its refund requests
    # reserved and have not paid yet.
    mismatched = world.sql(
        "SELECT count(*) FROM partners p LEFT JOIN ledger_balances l "
        "ON l.account = 'partner:' || p.partner_id || ':owed' "
        "WHERE coalesce(l.balance_cents, 0) + (SELECT coalesce(sum(b.balance_cents), 0) "
        "FROM refund_requests r JOIN ledger_balances b ON b.account = 'refund:' || r.request_id "
        "WHERE r.partner_id = p.partner_id) <> p.owed_cents")
    assert mismatched == "0"
    # A request's account holds exactly its payments still requested.
    mismatched = world.sql(
        "SELECT count(*) FROM refund_requests r LEFT JOIN ledger_balances b "
        "ON b.account = 'refund:' || r.request_id WHERE coalesce(b.balance_cents, 0) <> "
        "(SELECT coalesce(sum(o.amount_cents), 0) FROM operations o "
        "WHERE o.refund_request_id = r.request_id AND o.status = 'requested')")
    assert mismatched == "0"
    mismatched = world.sql(
        "SELECT count(*) FROM passes p WHERE balance_cents <> "
        "(SELECT coalesce(sum(balance_cents), 0) FROM envelopes e WHERE e.pass_id = p.pass_id)")
    assert mismatched == "0"


@pytest.mark.parametrize("name", ["gateway", "notifications", "transactions", "accounts",
                                  "projection", "devbroker"])
def test_service_stops_cleanly(world, name):
    stack = world.stack
    if not stack.is_running(name):
        pytest.fail("%s is not running at the end of the session" % name)
    code = stack.stop_service(name)
    with open(stack.log_path(name), "rb") as f:
        log = f.read()
    report = SANITIZER_REPORT.search(log)
    assert report is None, log[max(0, report.start() - 200):report.start() + 3000].decode(errors="replace")
    assert code == 0, "%s exited with %d on SIGTERM; log tail:\n%s" % (
        name, code, log[-3000:].decode(errors="replace"))
