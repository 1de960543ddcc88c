"""P22: a partner's exports. A partner administrator or user asks for an
export of its operations (with the listing's filters) or of its refund
requests; the answer comes at once (202, pending); the exports service
builds the file from the read models; the Exports tab lists it, downloads it
as a CSV that French spreadsheet software opens as is, and deletes it (the
file goes too). Another partner neither sees nor downloads it. An export
that fails midway leaves no file and says why; an expired one is purged."""

import csv
import datetime
import io
import json
import os
import uuid

from solipass_api import PARIS, expect_error, new_key, wait_until
from test_operations import fresh_partner_and_pass, listing, pay, set_reference
from test_operations import cancel

EXPORTS = "/api/v1/partner/exports"
BOM = b"\xef\xbb\xbf"
OPERATION_COLUMNS = ["Date", "Référence interne", "Canal", "Montant (€)", "Statut",
                     "Bénéficiaire", "Catégorie", "Opération", "Demande de remboursement"]
REFUND_COLUMNS = ["Date de la demande", "Demande de remboursement", "Type", "Période", "Statut",
                  "Montant (€)", "Nombre d'opérations", "Date de paiement",
                  "Référence du virement", "Motif d'annulation"]
CHANNELS = {"code": "Code partenaire", "voucher": "Bon d'échange"}
OPERATION_STATUSES = {"accepted": "Acceptée", "cancelled": "Annulée",
                      "requested": "Remboursement demandé", "paid": "Remboursée"}
REFUND_STATUSES = {"opening": "En préparation", "pending": "Demandée", "paid": "Payée",
                   "cancelled": "Annulée"}
HYPERLINK = '=HYPERLINK("x")'


# ---------------------------------------------------------------- helpers

def ask(api, kind, filters=None, key=None):
    body = {"kind": kind}
    if filters is not None:
        body["filters"] = filters
    return api.post(EXPORTS, body, key=key)


def ask_ok(api, kind, filters=None, key=None):
    answer = ask(api, kind, filters, key)
    assert answer.status_code == 202, answer.text
    export = answer.json()
    assert export["status"] in ("pending", "ready"), export
    return export


def exports_of(api):
    answer = api.get(EXPORTS)
    assert answer.status_code == 200, answer.text
    return answer.json()["exports"]


def export_of(api, export_id):
    found = [e for e in exports_of(api) if e["export_id"] == export_id]
    return found[0] if found else None


def wait_status(api, export_id, status, timeout_s=60):
    def reached():
        export = export_of(api, export_id)
        return export if export is not None and export["status"] == status else None
    return wait_until(reached, "export %s %s" % (export_id, status), timeout_s=timeout_s)


def download(api, export_id):
    return api.get("%s/%s/download" % (EXPORTS, export_id))


def parse_csv(content, columns):
    """The rows of an export, after checking the dialect: BOM, ';', CRLF,
    the header row."""
    assert content.startswith(BOM), content[:16]
    text = content[len(BOM):].decode("utf-8")
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert rows[0] == columns
    for row in rows[1:]:
        assert len(row) == len(columns), row
    return rows[1:]


def paris_minute(instant):
    at = datetime.datetime.fromisoformat(instant.replace("Z", "+00:00"))
    return at.astimezone(PARIS).strftime("%d/%m/%Y %H:%M")


def euros(cents):
    return "%d,%02d" % (cents // 100, cents % 100)


def unescaped(cell):
    """A cell as typed: the apostrophe before a formula-like text removed."""
    if cell[:1] == "'" and cell[1:2] in ("=", "+", "-", "@", "\t", "\r"):
        return cell[1:]
    return cell


def file_path(stack, export_id):
    return os.path.join(stack.exports_dir, export_id + ".csv")


def restart_exports(stack, env=None):
    """Restarts the exports service, with extra variables (or none)."""
    assert stack.stop_service("exports") == 0
    stack.service_env["exports"] = dict(env or {})
    stack.start_service("exports")


def partner_with_payments(world, backoffice):
    """A fresh partner with five payments: one with a formula-like
    reference, one with ';' and quotes, one cancelled."""
    partner, admin, beneficiary, api = fresh_partner_and_pass(world, backoffice,
                                                              {"general": 20000})
    ids = [pay(world, api, partner, cents) for cents in (1250, 5, 123456 % 10000, 2500, 99)]
    for operation_id, reference in ((ids[0], HYPERLINK), (ids[1], 'a;b "c"'),
                                    (ids[3], "-5 remise"), (ids[4], "Facture 12")):
        answer = set_reference(admin, operation_id, reference)
        assert answer.status_code == 200, answer.text
    assert cancel(admin, ids[2]).status_code == 200
    return partner, admin, ids


def compare_operations(rows, operations):
    assert len(rows) == len(operations)
    for row, op in zip(rows, operations):
        assert row[0] == paris_minute(op["occurred_at"])
        assert unescaped(row[1]) == op["reference"]
        assert row[2] == CHANNELS[op["channel"]]
        assert row[3] == euros(op["amount_cents"])
        assert row[4] == OPERATION_STATUSES[op["status"]]
        assert row[5] == op["pass_ref"]
        assert row[6] == op["category"]
        assert row[7] == op["operation_id"]
        assert row[8] == (op.get("refund_request_id") or "")


# ---------------------------------------------------------------- operations

def test_operations_export_equals_the_listing(world, backoffice):
    partner, admin, ids = partner_with_payments(world, backoffice)
    filters = {"amount_min_cents": 5, "amount_max_cents": 5000}
    export = ask_ok(admin, "operations", filters)
    assert export["kind"] == "operations" and export["filters"] == filters
    assert export["requested_by"]["email"] == partner["admin_email"]
    ready = wait_status(admin, export["export_id"], "ready")
    answer = download(admin, export["export_id"])
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert answer.headers["Content-Disposition"].startswith('attachment; filename="solipass-')
    content = answer.content
    assert ready["size_bytes"] == len(content)
    rows = parse_csv(content, OPERATION_COLUMNS)
    expected = listing(admin, "?amount_min_cents=5&amount_max_cents=5000&limit=200")["operations"]
    assert ready["row_count"] == len(rows) == len(expected) == 5
    compare_operations(rows, expected)
    # What a spreadsheet sees: the formula is text, the quotes doubled, ';' quoted.
    assert b"\"'=HYPERLINK(\"\"x\"\")\"" in content
    assert b'"a;b ""c"""' in content
    assert b"'-5 remise" in content
    assert content.count(b"\r\n") == 6 and b"\n" not in content.replace(b"\r\n", b"")
    assert [r for r in rows if r[7] == ids[1]][0][3] == "0,05"


def test_operations_export_with_status_and_text_filters(world, backoffice):
    partner, user_admin, ids = partner_with_payments(world, backoffice)
    export = ask_ok(user_admin, "operations", {"status": "accepted", "q": "facture"})
    wait_status(user_admin, export["export_id"], "ready")
    rows = parse_csv(download(user_admin, export["export_id"]).content, OPERATION_COLUMNS)
    expected = listing(user_admin, "?status=accepted&q=facture")["operations"]
    assert len(expected) == 1
    compare_operations(rows, expected)
    cancelled = ask_ok(user_admin, "operations", {"status": "cancelled"})
    wait_status(user_admin, cancelled["export_id"], "ready")
    rows = parse_csv(download(user_admin, cancelled["export_id"]).content, OPERATION_COLUMNS)
    assert [r[7] for r in rows] == [ids[2]] and rows[0][4] == "Annulée"


def test_bad_requests_are_refused_naming_the_field(world, backoffice):
    partner, admin, _ = partner_with_payments(world, backoffice)
    for filters, field in (({"status": "refunded"}, "filters.status"),
                           ({"from": "2026-02-30"}, "filters.from"),
                           ({"amount_min_cents": -1}, "filters.amount_min_cents"),
                           ({"amount_min_cents": "5"}, "filters.amount_min_cents"),
                           ({"from": "2026-03-02", "to": "2026-03-01"}, "filters.from"),
                           ({"limit": 5}, "filters.limit"),
                           ({"colour": "red"}, "filters.colour")):
        expect_error(ask(admin, "operations", filters), 422, "invalid_filter", field)
    expect_error(ask(admin, "refund_requests", {"channel": "code"}), 422, "invalid_filter",
                 "filters.channel")
    expect_error(ask(admin, "vouchers"), 400, "invalid_value", "kind")
    expect_error(admin.post(EXPORTS, {"kind": "operations", "format": "xlsx"}), 400,
                 "unknown_field")
    expect_error(admin.post(EXPORTS, raw="{"), 400, "malformed_json")
    expect_error(backoffice.post(EXPORTS, {"kind": "operations"}), 403, "forbidden")
    assert exports_of(admin) == []


def test_the_same_key_asks_once(world, backoffice):
    partner, admin, _ = partner_with_payments(world, backoffice)
    key = new_key()
    first = ask_ok(admin, "operations", {"channel": "code"}, key=key)
    again = ask(admin, "operations", {"channel": "code"}, key=key)
    assert again.status_code == 202 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["export_id"] == first["export_id"]
    expect_error(ask(admin, "operations", {"channel": "voucher"}, key=key), 409,
                 "idempotency_conflict")
    assert [e["export_id"] for e in exports_of(admin)] == [first["export_id"]]


def test_delete_removes_the_file_and_another_partner_sees_nothing(world, backoffice):
    partner, admin, _ = partner_with_payments(world, backoffice)
    other, other_admin, _, _ = fresh_partner_and_pass(world, backoffice)
    export = ask_ok(admin, "operations")
    wait_status(admin, export["export_id"], "ready")
    path = file_path(world.stack, export["export_id"])
    assert os.path.exists(path)
    # Another partner: not in its list, not downloadable, not deletable.
    assert exports_of(other_admin) == []
    expect_error(download(other_admin, export["export_id"]), 404, "export_not_found")
    expect_error(other_admin.request("DELETE", "%s/%s" % (EXPORTS, export["export_id"])), 404,
                 "export_not_found")
    assert download(admin, export["export_id"]).status_code == 200
    # Deleted: the file is gone, the list forgets it, downloads say why.
    answer = admin.request("DELETE", "%s/%s" % (EXPORTS, export["export_id"]))
    assert answer.status_code == 204, answer.text
    assert not os.path.exists(path)
    assert export_of(admin, export["export_id"]) is None
    expect_error(download(admin, export["export_id"]), 410, "export_deleted")
    assert admin.request("DELETE", "%s/%s" % (EXPORTS, export["export_id"])).status_code == 204
    expect_error(download(admin, str(uuid.uuid4())), 404, "export_not_found")
    expect_error(download(admin, "not-an-id"), 404, "export_not_found")


def test_a_partner_keeps_at_most_ten_exports(world, backoffice):
    """The 11th export pending or kept is 429 too_many_exports; the same
    request sent again is still its first answer; a deletion makes room;
    another partner has its own ten."""
    partner, admin, _, _ = fresh_partner_and_pass(world, backoffice)
    keys = [new_key() for _ in range(10)]
    exports = [ask_ok(admin, "operations", key=key) for key in keys]
    body = expect_error(ask(admin, "operations"), 429, "too_many_exports")
    assert "10" in body["message"], body
    again = ask(admin, "operations", key=keys[3])
    assert again.status_code == 202 and again.headers.get("Idempotent-Replayed") == "true"
    assert len(exports_of(admin)) == 10
    other, other_admin, _, _ = fresh_partner_and_pass(world, backoffice)
    ask_ok(other_admin, "operations")
    deleted = admin.request("DELETE", "%s/%s" % (EXPORTS, exports[0]["export_id"]))
    assert deleted.status_code == 204, deleted.text
    ask_ok(admin, "refund_requests")
    expect_error(ask(admin, "refund_requests"), 429, "too_many_exports")


# ---------------------------------------------------------------- refund requests

def insert_refund_request(world, partner_id, status, created_at, total_cents, count, **extra):
    request_id = str(uuid.uuid4())
    paid_at = extra.get("paid_at")
    cancelled_at = created_at if status == "cancelled" else None
    world.sql(
        "INSERT INTO refund_requests (request_id, partner_id, kind, period, status,"
        " expected_total_cents, total_cents, operation_count, part_count, cancel_reason,"
        " cancel_message, transfer_reference, created_at, cancelled_at, paid_at, version)"
        " VALUES ('%s', '%s', '%s', '%s', '%s', %d, %d, %d, 1, '%s', '%s', '%s', '%s', %s, %s, 1)"
        % (request_id, partner_id, extra.get("kind", "manual"), extra.get("period", ""), status,
           total_cents, total_cents if status != "opening" else 0, count,
           extra.get("cancel_reason", ""), extra.get("cancel_message", "").replace("'", "''"),
           extra.get("transfer_reference", ""), created_at,
           "'%s'" % cancelled_at if cancelled_at else "NULL",
           "'%s'" % paid_at if paid_at else "NULL"))
    return request_id


def test_refund_requests_export_of_every_kind_of_row(world, backoffice):
    """Rows of each kind and state written straight into the read model (an
    automatic paid request, a pending one, an aborted one), then removed:
    the log does not hold them, so nothing else may see them."""
    partner, admin, _, _ = fresh_partner_and_pass(world, backoffice)
    try:
        check_refund_rows(world, admin, partner["partner_id"])
    finally:
        world.sql("DELETE FROM refund_requests WHERE partner_id = '%s'" % partner["partner_id"])


def check_refund_rows(world, admin, pid):
    paid = insert_refund_request(world, pid, "paid", "2026-10-30T23:30:00Z", 123456, 12,
                                 kind="automatic", period="2026-10",
                                 paid_at="2026-11-04T09:15:00Z", transfer_reference="VIR-77")
    pending = insert_refund_request(world, pid, "pending", "2026-11-10T08:00:00Z", 2500, 1)
    aborted = insert_refund_request(world, pid, "cancelled", "2026-11-12T08:00:00Z", 0, 0,
                                    cancel_reason="aborted",
                                    cancel_message="=operation_cancelled; déjà annulée")
    export = ask_ok(admin, "refund_requests")
    ready = wait_status(admin, export["export_id"], "ready")
    rows = parse_csv(download(admin, export["export_id"]).content, REFUND_COLUMNS)
    assert ready["row_count"] == 3
    assert [r[1] for r in rows] == [aborted, pending, paid]   # newest first
    assert rows[2] == ["31/10/2026 00:30", paid, "Automatique", "2026-10", "Payée", "1234,56",
                       "12", "04/11/2026 10:15", "VIR-77", ""]
    assert rows[1] == ["10/11/2026 09:00", pending, "Manuelle", "", "Demandée", "25,00", "1",
                       "", "", ""]
    assert rows[0][4] == "Annulée" and rows[0][9] == "'=operation_cancelled; déjà annulée"
    # Filters: by status, by the request's Paris day.
    export = ask_ok(admin, "refund_requests", {"status": "paid"})
    wait_status(admin, export["export_id"], "ready")
    rows = parse_csv(download(admin, export["export_id"]).content, REFUND_COLUMNS)
    assert [r[1] for r in rows] == [paid]
    export = ask_ok(admin, "refund_requests", {"from": "2026-10-31", "to": "2026-11-10"})
    wait_status(admin, export["export_id"], "ready")
    rows = parse_csv(download(admin, export["export_id"]).content, REFUND_COLUMNS)
    assert [r[1] for r in rows] == [pending, paid]   # 23:30 UTC on the 30th is the 31st in Paris


def refund_listing(admin, query=""):
    answer = admin.get("/api/v1/partner/refund-requests" + query)
    assert answer.status_code == 200, answer.text
    return answer.json()["refund_requests"]


def request_refund(admin, operation_ids):
    answer = admin.post("/api/v1/partner/refund-requests", {"operation_ids": operation_ids},
                        key=new_key())
    assert answer.status_code in (201, 202), answer.text
    request_id = answer.json()["request_id"]
    wait_until(lambda: [r for r in refund_listing(admin) if r["request_id"] == request_id
                        and r["status"] == "pending"], "request %s pending" % request_id)
    return request_id


def compare_refunds(rows, requests):
    assert len(rows) == len(requests)
    for row, r in zip(rows, requests):
        total = r["expected_total_cents"] if r["status"] == "opening" else r["total_cents"]
        assert row[0] == paris_minute(r["created_at"])
        assert row[1] == r["request_id"]
        assert row[2] == {"manual": "Manuelle", "automatic": "Automatique"}[r["kind"]]
        assert row[3] == (r["period"] or "")
        assert row[4] == REFUND_STATUSES[r["status"]]
        assert row[5] == euros(total)
        assert row[6] == str(r["operation_count"])
        assert row[7] == (paris_minute(r["paid_at"]) if r["paid_at"] else "")
        assert unescaped(row[8]) == (r["transfer_reference"] or "")
        if r["cancel_reason"] == "partner":
            assert row[9] == "Annulée par le partenaire"
        elif r["cancel_reason"] == "aborted":
            assert unescaped(row[9]) == (r["cancel_message"] or "Refusée")
        else:
            assert row[9] == ""


def test_refund_requests_export_equals_the_listing(world, backoffice):
    """Requests made, paid and cancelled through the API; the operations
    export then shows each payment's refund state and request."""
    partner, admin, ids = partner_with_payments(world, backoffice)
    paid = request_refund(admin, [ids[0], ids[1]])
    pending = request_refund(admin, [ids[3]])
    answer = backoffice.post("/api/v1/finance/refund-requests/%s/paid" % paid,
                             {"transfer_reference": "+VIR 2026-118", "paid_on":
                              str(world.paris_today())}, key=new_key())
    assert answer.status_code == 200, answer.text
    wait_until(lambda: [r for r in refund_listing(admin, "?status=paid")
                        if r["request_id"] == paid], "request %s paid" % paid)
    export = ask_ok(admin, "refund_requests")
    wait_status(admin, export["export_id"], "ready")
    content = download(admin, export["export_id"]).content
    rows = parse_csv(content, REFUND_COLUMNS)
    compare_refunds(rows, refund_listing(admin))
    assert [r[1] for r in rows] == [pending, paid]
    assert b"'+VIR 2026-118" in content
    export = ask_ok(admin, "refund_requests", {"status": "paid"})
    wait_status(admin, export["export_id"], "ready")
    rows = parse_csv(download(admin, export["export_id"]).content, REFUND_COLUMNS)
    compare_refunds(rows, refund_listing(admin, "?status=paid"))
    # The operations export says which request each payment is in, and its state.
    export = ask_ok(admin, "operations", {"status": "paid"})
    wait_status(admin, export["export_id"], "ready")
    rows = parse_csv(download(admin, export["export_id"]).content, OPERATION_COLUMNS)
    compare_operations(rows, listing(admin, "?status=paid")["operations"])
    assert sorted(r[7] for r in rows) == sorted([ids[0], ids[1]])
    assert {r[8] for r in rows} == {paid} and {r[4] for r in rows} == {"Remboursée"}
    export = ask_ok(admin, "operations")
    wait_status(admin, export["export_id"], "ready")
    rows = parse_csv(download(admin, export["export_id"]).content, OPERATION_COLUMNS)
    compare_operations(rows, listing(admin)["operations"])
    assert [r[4] for r in rows if r[7] == ids[3]] == ["Remboursement demandé"]


# ---------------------------------------------------------------- failure, pending, expiry

def test_pending_then_failed_midway_leaves_no_file(world, backoffice, stack):
    partner, admin, _ = partner_with_payments(world, backoffice)
    assert stack.stop_service("exports") == 0
    try:
        export_id = str(uuid.uuid4())
        # The services' clock (other tests move it), not the database's.
        now = world.now().isoformat()
        world.sql("INSERT INTO exports (export_id, partner_id, requested_by, command_id, kind,"
                  " filters, status, file_name, requested_at, expires_at) VALUES ('%s', '%s',"
                  " (SELECT user_id FROM users WHERE email = '%s'), 'k', 'operations', '{}',"
                  " 'pending', '%s.csv', '%s', timestamptz '%s' + interval '1 day')"
                  % (export_id, partner["partner_id"], partner["admin_email"], export_id, now,
                     now))
        expect_error(download(admin, export_id), 409, "export_pending")
        # Four rows are more than the limit: the build stops after two.
        stack.service_env["exports"] = {"SP_EXPORTS_ROWS_MAX": "2", "SP_EXPORTS_BATCH_ROWS": "1"}
        stack.start_service("exports")
        failed = wait_status(admin, export_id, "failed")
        assert "more than 2 rows" in failed["reason"]
        assert failed["row_count"] is None and failed["size_bytes"] is None
        body = expect_error(download(admin, export_id), 409, "export_failed")
        assert "more than 2 rows" in body["message"]
        assert not os.path.exists(file_path(stack, export_id))
        assert not os.path.exists(file_path(stack, export_id) + ".tmp")
    finally:
        if not stack.is_running("exports"):
            stack.service_env["exports"] = {}
            stack.start_service("exports")
        else:
            restart_exports(stack)


def test_expired_exports_are_purged(world, backoffice, stack):
    partner, admin, _ = partner_with_payments(world, backoffice)
    restart_exports(stack, {"SP_EXPORTS_RETENTION_S": "60", "SP_EXPORTS_PURGE_MS": "100"})
    try:
        export = ask_ok(admin, "operations")
        ready = wait_status(admin, export["export_id"], "ready")
        requested = datetime.datetime.fromisoformat(ready["requested_at"].replace("Z", "+00:00"))
        expires = datetime.datetime.fromisoformat(ready["expires_at"].replace("Z", "+00:00"))
        assert expires - requested == datetime.timedelta(seconds=60)
        assert os.path.exists(file_path(stack, export["export_id"]))
        world.advance_clock_ms(61 * 1000)
        wait_status(admin, export["export_id"], "expired")
        assert not os.path.exists(file_path(stack, export["export_id"]))
        expect_error(download(admin, export["export_id"]), 410, "export_expired")
        expect_error(admin.request("DELETE", "%s/%s" % (EXPORTS, export["export_id"])), 410,
                     "export_expired")
    finally:
        restart_exports(stack)
