"""E-mails and links (P1, P11): the notifications service mails over real
SMTP - the stack's sink on loopback, which keeps every message it accepts as
a file - and these tests read what arrived and follow its links as a person
would. Also: password reset, link refusals, an SMTP server that is down or
refuses a recipient, and login rate limits."""

import socket
import threading
import time
import uuid

from solipass_api import (TOPIC_ACCOUNTS_EVENTS, TOPIC_DEADLETTER, expect_error, new_key,
                          unique_email, wait_until)

NEW_PASSWORD = "a-brand-new-password"
WINDOW_MS = 900 * 1000
ACTIVATION_TTL_MS = 600 * 1000


def create_partner_without_password(backoffice, email=None, category="sport"):
    email = email or unique_email("admin")
    body = {"name": "Club %s" % uuid.uuid4().hex[:6], "category": category,
            "admin_email": email, "admin_full_name": "Léa Coach"}
    answer = backoffice.post("/api/v1/partners", body, key=new_key())
    assert answer.status_code == 201, answer.text
    partner = answer.json()
    assert partner["admin_email"] == email
    return partner


def activation_token(world, email):
    mails = world.wait_for_mails(email)
    assert len(mails) == 1, mails
    assert mails[0]["kind"] == "activation"
    return world.link_token(mails[0], "/activate")


def accounts_events_end(world):
    return world.high_watermark(TOPIC_ACCOUNTS_EVENTS, 0)


# ---------------------------------------------------------------- activation (P1)

def test_partner_admin_activates_by_mail_then_logs_in(world, backoffice):
    partner = create_partner_without_password(backoffice)
    email = partner["admin_email"]
    expect_error(world.anonymous().post("/api/v1/auth/login",
                                        {"email": email, "password": NEW_PASSWORD}),
                 401, "invalid_credentials")
    mail = world.wait_for_mails(email)[0]
    assert mail["subject"] == "Activez votre compte du Pass solidarité"
    assert "pass-solidarite@solipass.example" in mail["from"]
    assert "Bonjour" in mail["text"] and "expire le" in mail["text"]
    assert world.url + "/activate?token=" in mail["text"]
    token = world.link_token(mail, "/activate")
    assert ('href="%s/activate?token=%s"' % (world.url, token)) in mail["html"]
    # The log holds the link's id, never what opens it.
    log = world.kcat(["-C", "-t", TOPIC_ACCOUNTS_EVENTS, "-p", "0", "-o", "beginning", "-e"])
    assert token.split(".")[0].encode() in log
    assert token.split(".")[1].encode() not in log

    answer = world.anonymous().post("/api/v1/auth/activate",
                                    {"token": token, "password": NEW_PASSWORD})
    assert answer.status_code == 200, answer.text
    assert answer.json()["email"] == email
    admin = world.login(email, NEW_PASSWORD)
    me = admin.get("/api/v1/me").json()
    assert me["role"] == "partner_admin" and me["partner_id"] == partner["partner_id"]
    assert admin.get("/api/v1/partner").json()["partner_code"] == partner["partner_code"]


def test_a_used_link_is_gone(world, backoffice):
    email = create_partner_without_password(backoffice)["admin_email"]
    token = activation_token(world, email)
    first = world.anonymous().post("/api/v1/auth/activate", {"token": token, "password": NEW_PASSWORD})
    assert first.status_code == 200, first.text
    end = accounts_events_end(world)
    for password in (NEW_PASSWORD, "another-password-42"):
        again = world.anonymous().post("/api/v1/auth/activate",
                                       {"token": token, "password": password})
        expect_error(again, 410, "token_used", "token")
    assert accounts_events_end(world) == end
    world.login(email, NEW_PASSWORD).close()


def test_an_expired_link_is_refused_and_writes_nothing(world, backoffice):
    email = create_partner_without_password(backoffice)["admin_email"]
    token = activation_token(world, email)
    world.advance_clock_ms(ACTIVATION_TTL_MS + 60 * 1000)
    end = accounts_events_end(world)
    answer = world.anonymous().post("/api/v1/auth/activate", {"token": token, "password": NEW_PASSWORD})
    expect_error(answer, 410, "token_expired", "token")
    assert accounts_events_end(world) == end
    assert world.sql("SELECT password_hash FROM users WHERE email = '%s'" % email) == ""


def test_forged_or_malformed_links_are_refused(world, backoffice):
    email = create_partner_without_password(backoffice)["admin_email"]
    token = activation_token(world, email)
    anonymous = world.anonymous()
    end = accounts_events_end(world)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in ("nope", tampered, token + "x", str(uuid.uuid4()) + token[36:]):
        expect_error(anonymous.post("/api/v1/auth/activate", {"token": bad, "password": NEW_PASSWORD}),
                     400, "invalid_token", "token")
    # An activation link is not a reset link.
    expect_error(anonymous.post("/api/v1/auth/password-reset/confirm",
                                {"token": token, "password": NEW_PASSWORD}),
                 400, "invalid_token", "token")
    expect_error(anonymous.post("/api/v1/auth/activate", {"token": token, "password": "short"}),
                 400, "invalid_value", "password")
    expect_error(anonymous.post("/api/v1/auth/activate", {"token": token}),
                 400, "missing_field", "password")
    expect_error(anonymous.post("/api/v1/auth/activate",
                                {"token": token, "password": NEW_PASSWORD, "admin": True}),
                 400, "unknown_field", "admin")
    assert accounts_events_end(world) == end
    # The link still works after all that.
    answer = anonymous.post("/api/v1/auth/activate", {"token": token, "password": NEW_PASSWORD})
    assert answer.status_code == 200, answer.text


def test_invalid_admin_email_writes_nothing(world, backoffice):
    end = accounts_events_end(world)
    answer = backoffice.post("/api/v1/partners", {"name": "Club", "category": "sport",
                                                  "admin_email": "not-an-email",
                                                  "admin_full_name": "Léa"}, key=new_key())
    expect_error(answer, 400, "invalid_email", "admin_email")
    assert accounts_events_end(world) == end


# ---------------------------------------------------------------- password reset

def test_password_reset_by_mail(world, backoffice):
    beneficiary = world.create_beneficiary(backoffice)
    email = beneficiary["email"]
    unknown = unique_email("nobody")
    anonymous = world.anonymous()
    known_answer = anonymous.post("/api/v1/auth/password-reset", {"email": email.upper()})
    unknown_answer = anonymous.post("/api/v1/auth/password-reset", {"email": unknown})
    assert known_answer.status_code == 202, known_answer.text
    assert unknown_answer.status_code == 202, unknown_answer.text
    assert known_answer.json() == unknown_answer.json() == {"status": "accepted"}
    expect_error(anonymous.post("/api/v1/auth/password-reset", {"email": "nope"}),
                 400, "invalid_email", "email")

    mail = world.wait_for_mails(email)[0]
    assert mail["kind"] == "password_reset"
    token = world.link_token(mail, "/reset-password")
    expect_error(anonymous.post("/api/v1/auth/activate", {"token": token, "password": NEW_PASSWORD}),
                 400, "invalid_token", "token")
    answer = anonymous.post("/api/v1/auth/password-reset/confirm",
                            {"token": token, "password": NEW_PASSWORD})
    assert answer.status_code == 200, answer.text
    world.login(email, NEW_PASSWORD).close()
    expect_error(anonymous.post("/api/v1/auth/login", {"email": email, "password": beneficiary["password"]}),
                 401, "invalid_credentials")
    expect_error(anonymous.post("/api/v1/auth/password-reset/confirm",
                                {"token": token, "password": "yet-another-one"}),
                 410, "token_used", "token")
    assert world.mails(unknown) == []



def test_password_reset_ends_every_session(world, backoffice):
    """A stolen token stops working when the password is reset (it used to
    keep working up to SP_SESSION_TTL_S)."""
    beneficiary = world.create_beneficiary(backoffice)
    email = beneficiary["email"]
    sessions = [world.login(email, beneficiary["password"]) for _ in range(2)]
    assert all(api.get("/api/v1/me").status_code == 200 for api in sessions)
    anonymous = world.anonymous()
    assert anonymous.post("/api/v1/auth/password-reset", {"email": email}).status_code == 202
    token = world.link_token(world.wait_for_mails(email)[0], "/reset-password")
    answer = anonymous.post("/api/v1/auth/password-reset/confirm",
                            {"token": token, "password": NEW_PASSWORD})
    assert answer.status_code == 200, answer.text
    # The answer waited for the sessions to end: no request gets through after it.
    for api in sessions:
        expect_error(api.get("/api/v1/me"), 401, "unauthenticated", "")
        expect_error(api.get("/api/v1/pass"), 401, "unauthenticated", "")
    fresh = world.login(email, NEW_PASSWORD)
    assert fresh.get("/api/v1/me").status_code == 200

# ---------------------------------------------------------------- payments (P11)

def test_partner_is_mailed_each_payment_without_who_paid(world, backoffice):
    partner = world.create_partner(backoffice, "culture")
    beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 5000})
    api = world.login(beneficiary["email"], beneficiary["password"])
    for amount in (2500, 1000):
        answer = world.pay(api, partner["partner_code"], amount)
        assert answer.status_code == 201, answer.text
    mails = world.wait_for_mails(partner["admin_email"], count=2)
    assert len(mails) == 2
    assert all(m["kind"] == "payment_received" for m in mails)
    by_subject = {m["subject"]: m for m in mails}
    first = by_subject["Paiement reçu : 25,00 € (%s)" % partner["name"]]
    assert "Montant :      25,00 €" in first["text"]
    assert "pass n° …%s" % beneficiary["pass_id"][-4:] in first["text"]
    second = by_subject["Paiement reçu : 10,00 € (%s)" % partner["name"]]
    assert "à ce jour : 35,00 €" in second["text"]
    for mail in mails:
        assert beneficiary["email"] not in mail["text"] + mail["html"]
        assert beneficiary["pass_id"] not in mail["text"] + mail["html"]
        assert beneficiary["full_name"] not in mail["text"] + mail["html"]


# ---------------------------------------------------------------- SMTP trouble

def test_smtp_down_then_up_delivers_every_mail_exactly_once(world, backoffice):
    stack = world.stack
    partner = world.create_partner(backoffice, "sport")
    beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 5000})
    api = world.login(beneficiary["email"], beneficiary["password"])
    stack.stop_service("smtp")
    try:
        for amount in (100, 200, 300):
            assert world.pay(api, partner["partner_code"], amount).status_code == 201
        admin_email = create_partner_without_password(backoffice)["admin_email"]
        wait_until(lambda: int(world.sql(
            "SELECT count(*) FROM notification_mails WHERE status = 'pending' AND attempts >= 2"
            " AND (params->>'partner_id' = '%s' OR params->>'email' = '%s')"
            % (partner["partner_id"], admin_email))) == 4,
            "4 mails tried at least twice while SMTP is down", timeout_s=60)
        assert world.mails(partner["admin_email"]) == [] and world.mails(admin_email) == []
    finally:
        stack.start_service("smtp")
    payments = world.wait_for_mails(partner["admin_email"], count=3)
    activation = world.wait_for_mails(admin_email)
    time.sleep(3)
    assert len(world.mails(partner["admin_email"])) == 3
    assert len(world.mails(admin_email)) == 1
    assert sorted(m["subject"].split(" : ")[1].split(" ")[0] for m in payments) == ["1,00", "2,00", "3,00"]
    assert activation[0]["kind"] == "activation"


def test_a_refused_recipient_is_dead_lettered_and_holds_nothing_up(world, backoffice):
    before = world.message_keys(TOPIC_DEADLETTER).count(TOPIC_ACCOUNTS_EVENTS)
    refused = "rejected-%s@example.org" % uuid.uuid4().hex[:10]
    create_partner_without_password(backoffice, refused)
    other = create_partner_without_password(backoffice)["admin_email"]
    world.wait_for_mails(other)
    row = wait_until(lambda: world.sql_rows(
        "SELECT status, attempts, last_error FROM notification_mails WHERE recipient = '%s'"
        " AND status = 'dead_lettered'" % refused), "the refused mail dead-lettered", timeout_s=60)
    status, attempts, last_error = row[0]
    assert attempts == "1"                      # a 5xx is final: no retry
    assert "550" in last_error and "Recipient address rejected" in last_error
    wait_until(lambda: world.message_keys(TOPIC_DEADLETTER).count(TOPIC_ACCOUNTS_EVENTS) == before + 1,
               "its dead letter", timeout_s=30)
    assert world.mails(refused) == []


def test_a_restarted_service_sends_nothing_twice(world, backoffice):
    stack = world.stack
    stack.stop_service("notifications")
    stack.start_service("notifications")
    partner = world.create_partner(backoffice, "sport")
    beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 900})
    api = world.login(beneficiary["email"], beneficiary["password"])
    assert world.pay(api, partner["partner_code"], 900).status_code == 201
    world.wait_for_mails(partner["admin_email"])
    time.sleep(2)
    ids = [m["message_id"] for m in world.mails()]
    assert len(ids) == len(set(ids)), "an e-mail was sent twice"
    assert int(world.sql("SELECT count(*) FROM notification_mails WHERE status = 'sent'")) == len(ids)


class MuteSmtpServer:
    """Accepts connections on the SMTP port and never greets: a sender that
    connects waits there, holding the rows it took."""

    def __init__(self, port):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(8)
        self.accepted = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                self.accepted.append(self.listener.accept()[0])
            except OSError:
                return

    def close(self):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self.listener.close()
        self.thread.join(timeout=5)
        for connection in self.accepted:
            connection.close()


def test_a_killed_sender_holds_no_mail_for_its_lease(world, backoffice):
    """A sender killed in the middle of sending leaves its rows leased for two
    minutes; the next sender sees that the session which took them is gone
    and mails them at once."""
    stack = world.stack
    partner = world.create_partner(backoffice, "sport")
    beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 700})
    api = world.login(beneficiary["email"], beneficiary["password"])
    stack.stop_service("smtp")
    mute = MuteSmtpServer(stack.smtp_port)
    try:
        assert world.pay(api, partner["partner_code"], 700).status_code == 201
        leased = "SELECT count(*) FROM notification_mails WHERE status = 'pending'" \
                 " AND leased_by_pid IS NOT NULL AND params->>'partner_id' = '%s'" \
                 % partner["partner_id"]
        wait_until(lambda: int(world.sql(leased)) == 1 and mute.accepted,
                   "the payment's mail taken by a sender stuck on a silent server", timeout_s=10)
        stack.kill("notifications")
    finally:
        mute.close()
        stack.start_service("smtp")
    killed_at = time.monotonic()
    stack.start_service("notifications")
    mails = world.wait_for_mails(partner["admin_email"], timeout_s=60)
    assert time.monotonic() - killed_at < 30, "the mail waited for the lease of the killed sender"
    assert len(mails) == 1 and "7,00" in mails[0]["subject"]


# ---------------------------------------------------------------- login rate limits

def test_failed_logins_are_limited_per_account(world, backoffice):
    beneficiary = world.create_beneficiary(backoffice)
    anonymous = world.anonymous()
    for _ in range(5):
        expect_error(anonymous.post("/api/v1/auth/login", {"email": beneficiary["email"],
                                                           "password": "wrong-password"}),
                     401, "invalid_credentials")
    answer = anonymous.post("/api/v1/auth/login", {"email": beneficiary["email"],
                                                   "password": beneficiary["password"]})
    expect_error(answer, 429, "too_many_attempts", "")
    assert 0 < int(answer.headers["Retry-After"]) <= 900
    # Another account from the same address is not affected.
    world.login(world.stack.bootstrap_email, world.stack.bootstrap_password).close()
    world.advance_clock_ms(WINDOW_MS + 1000)
    world.login(beneficiary["email"], beneficiary["password"]).close()


def test_failed_logins_are_limited_per_address(world):
    world.advance_clock_ms(WINDOW_MS + 1000)       # a fresh window for this address
    anonymous = world.anonymous()
    for _ in range(20):
        expect_error(anonymous.post("/api/v1/auth/login", {"email": unique_email("guess"),
                                                           "password": "wrong-password"}),
                     401, "invalid_credentials")
    answer = anonymous.post("/api/v1/auth/login", {"email": world.stack.bootstrap_email,
                                                   "password": world.stack.bootstrap_password})
    expect_error(answer, 429, "too_many_attempts", "")
    assert int(answer.headers["Retry-After"]) > 0
    expect_error(anonymous.post("/api/v1/auth/password-reset", {"email": unique_email("x")}),
                 429, "too_many_attempts", "")
    world.advance_clock_ms(WINDOW_MS + 1000)
    world.login(world.stack.bootstrap_email, world.stack.bootstrap_password).close()


def test_partner_is_mailed_a_redeemed_voucher(world, backoffice):
    partner = world.create_partner(backoffice, "sport")
    beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 3000})
    api = world.login(beneficiary["email"], beneficiary["password"])
    voucher = api.post("/api/v1/pass/vouchers", {"amount_cents": 700}, key=new_key())
    assert voucher.status_code == 201, voucher.text
    admin = world.login(partner["admin_email"], partner["admin_password"])
    redeemed = admin.post("/api/v1/partner/vouchers/redeem", {"number": voucher.json()["number"]},
                          key=new_key())
    assert redeemed.status_code == 201, redeemed.text
    mail = world.wait_for_mails(partner["admin_email"])[0]
    assert mail["subject"] == "Paiement reçu : 7,00 € (%s)" % partner["name"]
    assert "pass n° …%s" % beneficiary["pass_id"][-4:] in mail["text"]
