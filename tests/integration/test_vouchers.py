"""P12, P13: exchange vouchers (bons d'échange). A beneficiary issues a
voucher, which reserves its amount on the pass at once; prints it (a page
with the number and a QR code that decodes to it); a partner redeems it by
number, once, and is credited; cancelled or expired, the amount returns to
the pass. The ledger sums to zero after every step."""

import re
import subprocess
import tempfile
import time

from solipass_api import DAY_MS, expect_error, new_key, run_parallel, wait_until

SVG_RUN = re.compile(r"M(\d+) (\d+)h(\d+)v1h-\3z")
DAMM = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2], [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9], [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8], [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4], [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5], [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
]


def damm_valid(digits):
    interim = 0
    for ch in digits:
        interim = DAMM[interim][int(ch)]
    return interim == 0


def damm_complete(prefix):
    interim = 0
    for ch in prefix:
        interim = DAMM[interim][int(ch)]
    return prefix + str(interim)


def ledger_sum(world):
    return int(world.sql("SELECT coalesce(sum(balance_cents), 0) FROM ledger_balances"))


def zbar(path):
    done = subprocess.run(["zbarimg", "-q", "--raw", path], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=60)
    assert done.returncode == 0, "zbarimg found no code in %s: %s" % (path, done.stderr)
    return done.stdout.decode().strip()


def decode_png(data):
    with tempfile.NamedTemporaryFile(suffix=".png") as f:
        f.write(data)
        f.flush()
        return zbar(f.name)


def decode_svg(svg, scale=6):
    """Draws the SVG's module runs (the form the gateway writes) into a PGM
    image and lets zbarimg read it."""
    size = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg).group(1))
    pixels = bytearray([255]) * (size * scale) ** 2
    runs = SVG_RUN.findall(svg)
    assert runs, svg[:200]
    for x, y, n in runs:
        x, y, n = int(x), int(y), int(n)
        for py in range(y * scale, (y + 1) * scale):
            start = py * size * scale + x * scale
            pixels[start:start + n * scale] = bytes(n * scale)
    with tempfile.NamedTemporaryFile(suffix=".pgm") as f:
        f.write(b"P5 %d %d 255\n" % (size * scale, size * scale) + bytes(pixels))
        f.flush()
        return zbar(f.name)


def issue(api, amount_cents, key=None, **extra):
    return api.post("/api/v1/pass/vouchers", dict({"amount_cents": amount_cents}, **extra),
                    key=key or new_key())


def redeem(api, number, key=None):
    return api.post("/api/v1/partner/vouchers/redeem", {"number": number}, key=key or new_key())


def vouchers_of(api):
    answer = api.get("/api/v1/pass/vouchers")
    assert answer.status_code == 200, answer.text
    return {v["voucher_id"]: v for v in answer.json()["vouchers"]}


def beneficiary_with(world, backoffice, envelopes=(("general", None),), credits=None):
    beneficiary = world.create_beneficiary(backoffice, envelopes, credits or {"general": 5000})
    return beneficiary, world.login(beneficiary["email"], beneficiary["password"])


def test_issue_print_and_redeem_by_number(world, backoffice, partners):
    culture = partners["culture"]
    beneficiary, api = beneficiary_with(world, backoffice)
    issued = issue(api, 1500)
    assert issued.status_code == 201, issued.text
    voucher = issued.json()
    number = voucher["number"]
    assert len(number) == 16 and number.isdigit() and number[0] != "0" and damm_valid(number)
    assert voucher["status"] == "active" and voucher["amount_cents"] == 1500
    assert voucher["category"] == "general" and voucher["pass_balance_after_cents"] == 3500
    # Reserved at once: the balance shown dropped, the ledger still sums to zero.
    assert world.pass_of(api)["balance_cents"] == 3500
    assert ledger_sum(world) == 0
    listed = vouchers_of(api)[voucher["voucher_id"]]
    assert listed["number"] == number and listed["status"] == "active"

    grouped = " ".join(number[i:i + 4] for i in range(0, 16, 4))
    page = api.get("/api/v1/vouchers/%s/print" % voucher["voucher_id"])
    assert page.status_code == 200, page.text
    assert page.headers["Content-Type"].startswith("text/html")
    html = page.text
    assert grouped in html and "15,00 €" in html and beneficiary["full_name"] in html
    assert "Bon d'échange" in html and "<style" not in html and "style=" not in html
    assert "style-src 'self'" in page.headers["Content-Security-Policy"]
    sheet = api.get(html.split('<link rel="stylesheet" href="', 1)[1].split('"', 1)[0])
    assert sheet.status_code == 200 and "size: A4" in sheet.text
    inline_svg = html[html.index("<svg"):html.index("</svg>") + 6]
    assert decode_svg(inline_svg) == number
    svg = api.get("/api/v1/vouchers/%s/qr.svg" % voucher["voucher_id"])
    assert svg.status_code == 200 and svg.headers["Content-Type"] == "image/svg+xml"
    assert svg.text == inline_svg
    png = api.get("/api/v1/vouchers/%s/qr.png" % voucher["voucher_id"])
    assert png.status_code == 200 and png.headers["Content-Type"] == "image/png"
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert decode_png(png.content) == number
    a6 = api.get("/api/v1/vouchers/%s/print?format=a6" % voucher["voucher_id"])
    assert a6.status_code == 200 and grouped in a6.text
    a6_sheet = api.get(a6.text.split('<link rel="stylesheet" href="', 1)[1].split('"', 1)[0])
    assert "size: A6" in a6_sheet.text

    admin = world.login(culture["admin_email"], culture["admin_password"])
    owed_before = admin.get("/api/v1/partner").json()["owed_cents"]
    redeem_key = new_key()
    redeemed = redeem(admin, grouped, key=redeem_key)
    assert redeemed.status_code == 201, redeemed.text
    operation = redeemed.json()
    assert operation["kind"] == "payment" and operation["channel"] == "voucher"
    assert operation["amount_cents"] == 1500 and operation["partner_id"] == culture["partner_id"]
    assert operation["pass_ref"] == beneficiary["pass_id"][-4:] and "pass_id" not in operation
    assert admin.get("/api/v1/partner").json()["owed_cents"] == owed_before + 1500
    theirs = [o for o in world.operations(admin, "/api/v1/partner/operations")
              if o["operation_id"] == operation["operation_id"]]
    assert len(theirs) == 1 and theirs[0]["channel"] == "voucher"
    # The beneficiary sees it redeemed; the balance does not move again.
    assert vouchers_of(api)[voucher["voucher_id"]]["status"] == "redeemed"
    assert vouchers_of(api)[voucher["voucher_id"]]["redeemed_partner_id"] == culture["partner_id"]
    assert world.pass_of(api)["balance_cents"] == 3500
    mine = [o for o in world.operations(api) if o["operation_id"] == operation["operation_id"]]
    assert len(mine) == 1 and mine[0]["channel"] == "voucher"
    assert ledger_sum(world) == 0
    # Once only. The desk whose answer was lost retries with the same key and
    # gets the first answer again, not a refusal; another key is refused.
    retried = redeem(admin, grouped, key=redeem_key)
    assert retried.status_code == 201, retried.text
    assert retried.headers.get("Idempotent-Replayed") == "true"
    assert retried.json()["operation_id"] == operation["operation_id"]
    expect_error(redeem(admin, number), 409, "voucher_used", "number")
    assert admin.get("/api/v1/partner").json()["owed_cents"] == owed_before + 1500
    assert world.pass_of(api)["balance_cents"] == 3500
    assert ledger_sum(world) == 0


def test_the_beneficiary_is_mailed_once_when_a_voucher_is_used(world, backoffice, partners):
    sport = partners["sport"]
    beneficiary, api = beneficiary_with(world, backoffice)
    voucher = issue(api, 1250).json()
    number = voucher["number"]
    admin = world.login(sport["admin_email"], sport["admin_password"])
    assert redeem(admin, number).status_code == 201
    mine = world.wait_for_mails(beneficiary["email"])
    # The partner's payment mail of the same event is sent too.
    wait_until(lambda: [m for m in world.mails(sport["admin_email"]) if "12,50" in m["subject"]],
               "the partner's payment mail", timeout_s=60)
    time.sleep(2)
    mine = world.mails(beneficiary["email"])
    assert len(mine) == 1, [m["subject"] for m in mine]
    mail = mine[0]
    assert mail["kind"] == "voucher_redeemed"
    assert mail["subject"] == "Votre bon d'échange a été utilisé"
    text = mail["text"]
    assert "**** **** **** %s" % number[-4:] in text and number[:12] not in text
    assert "12,50" in text and "Club de football de Fontenay" in text and "37,50" in text
    assert number[:12] not in mail["html"]


def test_payments_by_code_say_so(world, backoffice, partners):
    _, api = beneficiary_with(world, backoffice)
    paid = world.pay(api, partners["culture"]["partner_code"], 100)
    assert paid.status_code == 201, paid.text
    listed = [o for o in world.operations(api) if o["operation_id"] == paid.json()["operation_id"]]
    assert listed[0]["channel"] == "code"
    assert [o["channel"] for o in world.operations(api) if o["kind"] == "credit"] == [None]


def test_fifty_parallel_redemptions_one_success(world, backoffice, partners):
    culture = partners["culture"]
    beneficiary, api = beneficiary_with(world, backoffice)
    number = issue(api, 2000).json()["number"]
    admin = world.login(culture["admin_email"], culture["admin_password"])
    owed_before = admin.get("/api/v1/partner").json()["owed_cents"]
    sessions = [world.login(culture["admin_email"], culture["admin_password"]) for _ in range(5)]
    answers = run_parallel(50, lambda i: redeem(sessions[i % 5], number))
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(201) == 1, [a.text for a in answers if a.status_code != 409]
    for answer in answers:
        if answer.status_code != 201:
            expect_error(answer, 409, "voucher_used")
    assert admin.get("/api/v1/partner").json()["owed_cents"] == owed_before + 2000
    assert world.pass_of(api)["balance_cents"] == 3000
    assert ledger_sum(world) == 0


def test_cancel_returns_the_amount_and_is_final(world, backoffice, partners):
    beneficiary, api = beneficiary_with(world, backoffice)
    voucher = issue(api, 1200).json()
    assert world.pass_of(api)["balance_cents"] == 3800
    cancelled = api.post("/api/v1/vouchers/%s/cancel" % voucher["voucher_id"], key=new_key())
    assert cancelled.status_code == 201, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert world.pass_of(api)["balance_cents"] == 5000
    assert vouchers_of(api)[voucher["voucher_id"]]["status"] == "cancelled"
    assert ledger_sum(world) == 0
    expect_error(api.post("/api/v1/vouchers/%s/cancel" % voucher["voucher_id"], key=new_key()),
                 409, "voucher_cancelled")
    admin = world.login(partners["culture"]["admin_email"], partners["culture"]["admin_password"])
    expect_error(redeem(admin, voucher["number"]), 409, "voucher_cancelled")
    assert world.pass_of(api)["balance_cents"] == 5000

    # The back-office issues one at the desk for this pass, and cancels it.
    at_desk = backoffice.post("/api/v1/passes/%s/vouchers" % beneficiary["pass_id"],
                              {"amount_cents": 700}, key=new_key())
    assert at_desk.status_code == 201, at_desk.text
    assert world.pass_of(api)["balance_cents"] == 4300
    listed = backoffice.get("/api/v1/passes/%s/vouchers" % beneficiary["pass_id"])
    assert at_desk.json()["voucher_id"] in {v["voucher_id"] for v in listed.json()["vouchers"]}
    undone = backoffice.post("/api/v1/vouchers/%s/cancel" % at_desk.json()["voucher_id"],
                             key=new_key())
    assert undone.status_code == 201, undone.text
    assert world.pass_of(api)["balance_cents"] == 5000


def test_bad_input_is_refused_precisely_and_writes_nothing(world, backoffice, partners):
    sport, culture = partners["sport"], partners["culture"]
    beneficiary, api = beneficiary_with(world, backoffice, [("general", None), ("sport", None)],
                                        {"general": 3000, "sport": 1000})
    expect_error(issue(api, 3001), 422, "insufficient_funds", "amount_cents")
    expect_error(issue(api, 0), 422, "invalid_amount", "amount_cents")
    expect_error(issue(api, 100, category="culture"), 422, "no_envelope_for_category", "category")
    expect_error(issue(api, 100, partner_code="12345678"), 422, "invalid_partner_code")
    expect_error(issue(api, 100, extra=1), 400, "unknown_field")
    expect_error(api.post("/api/v1/pass/vouchers", {"amount_cents": 100}), 428,
                 "idempotency_key_required")
    assert world.pass_of(api)["balance_cents"] == 4000 and vouchers_of(api) == {}

    only_sport = issue(api, 300, partner_code=sport["partner_code"]).json()
    assert only_sport["category"] == "sport" and only_sport["partner_id"] == sport["partner_id"]
    general = issue(api, 200).json()
    admin = world.login(culture["admin_email"], culture["admin_password"])
    expect_error(redeem(admin, only_sport["number"]), 422, "voucher_restricted", "number")
    sport_admin = world.login(sport["admin_email"], sport["admin_password"])
    # This pass has a sport envelope: a general voucher does not pay a sport partner.
    expect_error(redeem(sport_admin, general["number"]), 422, "voucher_restricted", "number")
    assert world.pass_of(api)["balance_cents"] == 3500

    # Another beneficiary cannot see nor cancel it; roles are checked.
    _, other = beneficiary_with(world, backoffice)
    expect_error(other.get("/api/v1/vouchers/%s" % general["voucher_id"]), 404, "voucher_not_found")
    expect_error(other.post("/api/v1/vouchers/%s/cancel" % general["voucher_id"], key=new_key()),
                 404, "voucher_not_found")
    expect_error(other.get("/api/v1/vouchers/not-an-id/print"), 404, "voucher_not_found")
    expect_error(admin.get("/api/v1/vouchers/%s/print" % general["voucher_id"]), 403, "forbidden")
    expect_error(api.post("/api/v1/partner/vouchers/redeem", {"number": general["number"]},
                          key=new_key()), 403, "forbidden")
    expect_error(api.get("/api/v1/vouchers/%s/print?format=a5" % general["voucher_id"]), 400,
                 "invalid_value", "format")

    # Mistyped (one digit, or two neighbours swapped) and unknown numbers.
    number = general["number"]
    typo = number[:5] + str((int(number[5]) + 1) % 10) + number[6:]
    swapped = next(number[:i] + number[i + 1] + number[i] + number[i + 2:]
                   for i in range(1, 14) if number[i] != number[i + 1])
    expect_error(redeem(admin, typo), 422, "invalid_voucher_number", "number")
    expect_error(redeem(admin, swapped), 422, "invalid_voucher_number", "number")
    expect_error(redeem(admin, "1234 5678"), 422, "invalid_voucher_number", "number")
    unknown = damm_complete("9" + number[1:15]) if number[0] != "9" else damm_complete("8" + number[1:15])
    expect_error(redeem(admin, unknown), 404, "voucher_not_found", "number")
    assert world.pass_of(api)["balance_cents"] == 3500
    assert ledger_sum(world) == 0


def test_repeated_wrong_numbers_are_rate_limited(world, backoffice):
    partner = world.create_partner(backoffice, "lecture", "Bibliothèque des essais")
    beneficiary, api = beneficiary_with(world, backoffice)
    number = issue(api, 100).json()["number"]
    admin = world.login(partner["admin_email"], partner["admin_password"])
    wrong = damm_complete("1" + "0" * 14)
    for _ in range(10):
        expect_error(redeem(admin, wrong), 404, "voucher_not_found")
    limited = redeem(admin, number)
    expect_error(limited, 429, "too_many_attempts")
    assert int(limited.headers["Retry-After"]) > 0
    assert world.pass_of(api)["balance_cents"] == 4900
    assert vouchers_of(api)
    # Another user of the city is not affected.
    other = world.create_partner(backoffice, "lecture", "Bibliothèque de quartier")
    other_admin = world.login(other["admin_email"], other["admin_password"])
    assert redeem(other_admin, number).status_code == 201


def test_y_vouchers_survive_a_restart_and_a_projection_rebuild(world, backoffice, partners):
    from test_invariants import checksum, projection_caught_up
    _, api = beneficiary_with(world, backoffice)
    key = new_key()
    kept = issue(api, 600, key=key).json()
    used = issue(api, 700).json()
    cancelled = issue(api, 800).json()
    admin = world.login(partners["culture"]["admin_email"], partners["culture"]["admin_password"])
    assert redeem(admin, used["number"]).status_code == 201
    assert api.post("/api/v1/vouchers/%s/cancel" % cancelled["voucher_id"],
                    key=new_key()).status_code == 201
    stack = world.stack
    stack.stop_service("accounts")
    stack.stop_service("transactions")
    try:
        wait_until(lambda: projection_caught_up(world), "the projection to catch up", timeout_s=60)
        stack.stop_service("projection")
        live = checksum(world)
        rebuild = stack.run_tool("projection", ["--rebuild", "--exit-when-caught-up"], timeout_s=600)
        assert rebuild.returncode == 0, rebuild.stderr[-3000:]
        assert checksum(world) == live
    finally:
        for name in ("projection", "accounts", "transactions"):
            if not stack.is_running(name):
                stack.start_service(name)
    # The ledger rebuilt its vouchers from the log: the same key replays the
    # same voucher, the active one redeems once, the others stay final.
    again = issue(api, 600, key=key)
    assert again.status_code == 201 and again.json()["number"] == kept["number"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    admin = world.login(partners["culture"]["admin_email"], partners["culture"]["admin_password"])
    assert redeem(admin, kept["number"]).status_code == 201
    expect_error(redeem(admin, kept["number"]), 409, "voucher_used")
    expect_error(redeem(admin, cancelled["number"]), 409, "voucher_cancelled")
    assert world.pass_of(api)["balance_cents"] == 5000 - 600 - 700
    assert ledger_sum(world) == 0


def test_zz_expiry_returns_the_amount_to_the_pass(world, backoffice):
    """Last in this file: it moves every service's clock past the validity."""
    beneficiary, api = beneficiary_with(world, backoffice)
    voucher = issue(api, 2500).json()
    assert world.pass_of(api)["balance_cents"] == 2500
    world.advance_clock_ms(92 * DAY_MS)
    api = world.login(beneficiary["email"], beneficiary["password"])  # the old session expired

    def expired():
        return vouchers_of(api)[voucher["voucher_id"]]["status"] == "expired"

    wait_until(expired, "the voucher's expiry", timeout_s=30)
    assert world.pass_of(api)["balance_cents"] == 5000
    assert ledger_sum(world) == 0
    expect_error(api.post("/api/v1/vouchers/%s/cancel" % voucher["voucher_id"], key=new_key()),
                 409, "voucher_expired")
