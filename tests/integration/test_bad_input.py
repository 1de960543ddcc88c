"""Refused requests: each answers its documented status, code and field, and
changes nothing (balance, operations, partner owed)."""

import json

import pytest

from solipass_api import PASSWORD, Api, expect_error, luhn_check_digit, new_key, unique_email


@pytest.fixture(scope="module")
def payer(world, partners):
    """A beneficiary with 1000 cents in its general envelope, logged in."""
    bo = world.backoffice()
    beneficiary = world.create_beneficiary(bo, [("general", None)], {"general": 1000})
    bo.close()
    api = world.login(beneficiary["email"], beneficiary["password"])
    beneficiary["api"] = api
    return beneficiary


def snapshot(world, payer, partners):
    """What a refused request must not change."""
    bo = world.backoffice()
    owed = {p["partner_id"]: p["owed_cents"] for p in bo.get("/api/v1/partners").json()["partners"]}
    bo.close()
    view = world.pass_of(payer["api"])
    return (view["balance_cents"], len(world.operations(payer["api"])),
            owed[partners["sport"]["partner_id"]], owed[partners["culture"]["partner_id"]])


def mistype(code):
    """The same code with one digit changed (a Luhn check catches every such typo)."""
    digit = str((int(code[3]) + 1) % 10)
    return code[:3] + digit + code[4:]


def unknown_code(known):
    """A well-formed code (Luhn-valid) that no partner has."""
    for n in range(1000000, 9999999):
        code = str(n) + luhn_check_digit(str(n))
        if code not in known:
            return code
    raise AssertionError("no free code")


SPORT = "@sport"  # replaced by the sport partner's code

BAD_PAYMENTS = [
    # (test id, raw body, status, code, field)
    ("malformed_json", '{"partner_code": "@sport", "amount_cents": 100', 400, "malformed_json", ""),
    ("not_an_object", '[1, 2]', 400, "malformed_json", ""),
    ("empty_body", '', 400, "malformed_json", ""),
    ("duplicate_member", '{"partner_code": "@sport", "amount_cents": 100, "amount_cents": 200}',
     400, "malformed_json", ""),
    ("unknown_field", '{"partner_code": "@sport", "amount_cents": 100, "tip_cents": 5}',
     400, "unknown_field", "tip_cents"),
    ("missing_amount", '{"partner_code": "@sport"}', 400, "missing_field", "amount_cents"),
    ("missing_code", '{"amount_cents": 100}', 400, "missing_field", "partner_code"),
    ("negative_amount", '{"partner_code": "@sport", "amount_cents": -100}',
     422, "invalid_amount", "amount_cents"),
    ("zero_amount", '{"partner_code": "@sport", "amount_cents": 0}', 422, "invalid_amount", "amount_cents"),
    ("fractional_amount", '{"partner_code": "@sport", "amount_cents": 10.5}',
     400, "invalid_type", "amount_cents"),
    ("exponent_amount", '{"partner_code": "@sport", "amount_cents": 1e2}', 400, "invalid_type", "amount_cents"),
    ("amount_above_ceiling", '{"partner_code": "@sport", "amount_cents": 100001}',
     422, "invalid_amount", "amount_cents"),
    ("amount_beyond_64_bits", '{"partner_code": "@sport", "amount_cents": 123456789012345678901234567890}',
     422, "invalid_amount", "amount_cents"),
    ("string_amount", '{"partner_code": "@sport", "amount_cents": "100"}', 400, "invalid_type", "amount_cents"),
    ("null_amount", '{"partner_code": "@sport", "amount_cents": null}', 400, "invalid_type", "amount_cents"),
    ("numeric_code", '{"partner_code": 12345678, "amount_cents": 100}', 400, "invalid_type", "partner_code"),
    ("short_code", '{"partner_code": "1234567", "amount_cents": 100}', 422, "invalid_partner_code", "partner_code"),
    ("letters_in_code", '{"partner_code": "1234567a", "amount_cents": 100}',
     422, "invalid_partner_code", "partner_code"),
]


@pytest.mark.parametrize("body,status,code,field", [c[1:] for c in BAD_PAYMENTS],
                         ids=[c[0] for c in BAD_PAYMENTS])
def test_bad_payment_body_is_refused_and_changes_nothing(world, payer, partners, body, status, code, field):
    before = snapshot(world, payer, partners)
    answer = payer["api"].request("POST", "/api/v1/pass/payments", key=new_key(),
                                  raw=body.replace(SPORT, partners["sport"]["partner_code"]))
    expect_error(answer, status, code, field)
    assert snapshot(world, payer, partners) == before


def test_mistyped_partner_code_is_caught_by_the_check_digit(world, payer, partners):
    before = snapshot(world, payer, partners)
    answer = world.pay(payer["api"], mistype(partners["sport"]["partner_code"]), 100)
    expect_error(answer, 422, "invalid_partner_code", "partner_code")
    assert snapshot(world, payer, partners) == before


def test_unknown_partner_code_is_not_found(world, payer, partners):
    before = snapshot(world, payer, partners)
    code = unknown_code({p["partner_code"] for p in partners.values()})
    answer = world.pay(payer["api"], code, 100)
    expect_error(answer, 404, "partner_not_found", "partner_code")
    assert snapshot(world, payer, partners) == before


def test_amount_above_balance_is_insufficient_funds(world, payer, partners):
    before = snapshot(world, payer, partners)
    answer = world.pay(payer["api"], partners["sport"]["partner_code"], before[0] + 1)
    expect_error(answer, 422, "insufficient_funds", "amount_cents")
    assert snapshot(world, payer, partners) == before


def test_payment_without_idempotency_key_is_refused(world, payer, partners):
    before = snapshot(world, payer, partners)
    answer = payer["api"].post("/api/v1/pass/payments",
                               {"partner_code": partners["sport"]["partner_code"], "amount_cents": 100})
    expect_error(answer, 428, "idempotency_key_required", "Idempotency-Key")
    assert snapshot(world, payer, partners) == before


@pytest.mark.parametrize("key", ["has space", "x" * 65, "é-accent"], ids=["space", "too_long", "non_ascii"])
def test_malformed_idempotency_key_is_refused(world, payer, partners, key):
    before = snapshot(world, payer, partners)
    answer = payer["api"].post("/api/v1/pass/payments",
                               {"partner_code": partners["sport"]["partner_code"], "amount_cents": 100},
                               headers={"Idempotency-Key": key.encode("utf-8")})
    expect_error(answer, 400, "invalid_value", "Idempotency-Key")
    assert snapshot(world, payer, partners) == before


def test_body_over_16_kib_is_refused(world, payer, partners):
    before = snapshot(world, payer, partners)
    raw = json.dumps({"partner_code": partners["sport"]["partner_code"], "amount_cents": 100,
                      "padding": "x" * (17 * 1024)})
    answer = payer["api"].request("POST", "/api/v1/pass/payments", raw=raw, key=new_key())
    expect_error(answer, 413, "body_too_large", "")
    assert snapshot(world, payer, partners) == before


def nested(member, depth):
    """A body whose member holds depth nested arrays: about 2 bytes a level."""
    return '{"%s": %s%s, "amount_cents": 100}' % (member, "[" * depth, "]" * depth)


def gateway_answers(world):
    answer = world.anonymous().request("GET", "/healthz")
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("depth", [100, 700, 5000])
def test_deeply_nested_body_is_too_deep_and_the_gateway_lives(world, payer, partners, depth):
    """700 nested arrays used to overflow a civetweb worker's stack inside
    jansson and kill the gateway (SIGSEGV)."""
    before = snapshot(world, payer, partners)
    anonymous = world.anonymous()
    answer = anonymous.request("POST", "/api/v1/auth/login", raw=nested("email", depth))
    expect_error(answer, 400, "too_deep", "")
    gateway_answers(world)
    # Anonymous, a payment is refused before its body is parsed...
    answer = anonymous.request("POST", "/api/v1/pass/payments", raw=nested("partner_code", depth),
                               key=new_key())
    expect_error(answer, 401, "unauthenticated")
    gateway_answers(world)
    # ...and with a session its body is bounded the same way.
    answer = payer["api"].request("POST", "/api/v1/pass/payments",
                                  raw=nested("partner_code", depth), key=new_key())
    expect_error(answer, 400, "too_deep", "")
    gateway_answers(world)
    # Unbalanced, as an attacker would send it: the same answer.
    answer = anonymous.request("POST", "/api/v1/auth/login",
                               raw='{"email": ' + "[" * depth)
    expect_error(answer, 400, "too_deep", "")
    gateway_answers(world)
    assert snapshot(world, payer, partners) == before


def test_wrong_password_is_invalid_credentials(world, payer):
    answer = world.anonymous().post("/api/v1/auth/login",
                                    {"email": payer["email"], "password": "not-the-password"})
    expect_error(answer, 401, "invalid_credentials", "")


def test_unknown_email_is_the_same_invalid_credentials(world):
    answer = world.anonymous().post("/api/v1/auth/login",
                                    {"email": unique_email("nobody"), "password": PASSWORD})
    expect_error(answer, 401, "invalid_credentials", "")


def test_login_with_malformed_email_is_invalid_email(world):
    answer = world.anonymous().post("/api/v1/auth/login", {"email": "not-an-email", "password": PASSWORD})
    expect_error(answer, 400, "invalid_email", "email")


@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer short", "Basic dXNlcjpwYXNz",
                                           "Bearer " + "A" * 43],
                         ids=["missing", "empty", "short", "basic", "forged"])
def test_missing_or_forged_token_is_unauthenticated(world, payer, partners, authorization):
    before = snapshot(world, payer, partners)
    api = Api(world.url)
    headers = {"Authorization": authorization} if authorization else {}
    expect_error(api.get("/api/v1/pass", headers=headers), 401, "unauthenticated", "")
    paid = api.post("/api/v1/pass/payments", {"partner_code": partners["sport"]["partner_code"],
                                              "amount_cents": 100},
                    key=new_key(), headers=headers)
    expect_error(paid, 401, "unauthenticated", "")
    assert snapshot(world, payer, partners) == before


BACKOFFICE_ROUTES = [
    ("GET", "/api/v1/partners", None),
    ("POST", "/api/v1/partners", {"name": "X", "category": "sport", "admin_email": "x@example.org",
                                  "admin_password": PASSWORD, "admin_full_name": "X"}),
    ("POST", "/api/v1/beneficiaries", {"email": "y@example.org", "password": PASSWORD,
                                       "full_name": "Y", "envelopes": [{"category": "general"}]}),
    ("GET", "/api/v1/passes/{pass_id}", None),
    ("POST", "/api/v1/passes/{pass_id}/credits", {"category": "general", "amount_cents": 100000}),
]


@pytest.mark.parametrize("method,path,body", BACKOFFICE_ROUTES,
                         ids=["list_partners", "create_partner", "create_beneficiary", "read_pass", "credit"])
def test_beneficiary_cannot_use_backoffice_routes(world, payer, partners, method, path, body):
    before = snapshot(world, payer, partners)
    answer = payer["api"].request(method, path.format(pass_id=payer["pass_id"]), body=body,
                                  key=new_key() if method == "POST" else None)
    expect_error(answer, 403, "forbidden", "")
    assert snapshot(world, payer, partners) == before


def test_beneficiary_cannot_read_partner_routes(payer):
    for path in ("/api/v1/partner", "/api/v1/partner/operations"):
        expect_error(payer["api"].get(path), 403, "forbidden", "")


def test_partner_cannot_read_a_pass(world, payer, partners):
    sport = partners["sport"]
    admin = world.login(sport["admin_email"], sport["admin_password"])
    expect_error(admin.get("/api/v1/passes/%s" % payer["pass_id"]), 403, "forbidden", "")
    expect_error(admin.get("/api/v1/pass"), 403, "forbidden", "")
    expect_error(admin.get("/api/v1/pass/operations"), 403, "forbidden", "")


def test_partner_cannot_pay_or_credit(world, payer, partners):
    before = snapshot(world, payer, partners)
    sport = partners["sport"]
    admin = world.login(sport["admin_email"], sport["admin_password"])
    expect_error(world.pay(admin, partners["culture"]["partner_code"], 100), 403, "forbidden", "")
    expect_error(world.credit(admin, payer["pass_id"], "general", 100), 403, "forbidden", "")
    assert snapshot(world, payer, partners) == before


def test_unknown_pass_is_not_found(backoffice):
    missing = "00000000-0000-4000-8000-000000000000"
    expect_error(backoffice.get("/api/v1/passes/%s" % missing), 404, "pass_not_found", "pass_id")
    expect_error(backoffice.get("/api/v1/passes/not-a-uuid"), 404, "pass_not_found", "pass_id")


def test_unknown_route_is_not_found(backoffice):
    expect_error(backoffice.get("/api/v1/nothing-here"), 404, "not_found", "")


@pytest.mark.parametrize("category", ["general", "Sport", "s", "sport-club", "a" * 33],
                         ids=["general", "upper_case", "too_short", "dash", "too_long"])
def test_partner_with_invalid_category_is_refused(backoffice, category):
    answer = backoffice.post("/api/v1/partners", {
        "name": "Club", "category": category, "admin_email": unique_email("p"),
        "admin_password": PASSWORD, "admin_full_name": "A"}, key=new_key())
    status, code = (400, "invalid_value") if len(category) > 32 else (422, "invalid_category")
    expect_error(answer, status, code, "category")


def test_partner_admin_email_already_taken_is_a_conflict(world, backoffice, partners):
    answer = backoffice.post("/api/v1/partners", {
        "name": "Another", "category": "sport", "admin_email": partners["sport"]["admin_email"],
        "admin_password": PASSWORD, "admin_full_name": "A"}, key=new_key())
    expect_error(answer, 409, "email_taken", "admin_email")


def test_beneficiary_email_already_taken_is_a_conflict(backoffice, payer):
    answer = backoffice.post("/api/v1/beneficiaries", {
        "email": payer["email"], "password": PASSWORD, "full_name": "Twin",
        "envelopes": [{"category": "general"}]}, key=new_key())
    expect_error(answer, 409, "email_taken", "email")


@pytest.mark.parametrize("body,status,code,field", [
    ({"email": "nope", "password": PASSWORD, "full_name": "N", "envelopes": [{"category": "general"}]},
     400, "invalid_email", "email"),
    ({"email": "@e.org", "password": "short", "full_name": "N", "envelopes": [{"category": "general"}]},
     400, "invalid_value", "password"),
    ({"email": "@e.org", "password": PASSWORD, "full_name": "N", "envelopes": []},
     400, "invalid_value", "envelopes"),
    ({"email": "@e.org", "password": PASSWORD, "full_name": "N",
      "envelopes": [{"category": "general", "end_date": "2030-02-30"}]},
     422, "invalid_date", "envelopes[0].end_date"),
    ({"email": "@e.org", "password": PASSWORD, "full_name": "N",
      "envelopes": [{"category": "general", "end_date": "2001-01-01"}]},
     422, "invalid_date", "envelopes[0].end_date"),
    ({"email": "@e.org", "password": PASSWORD, "full_name": "N",
      "envelopes": [{"category": "sport"}, {"category": "sport"}]},
     422, "invalid_category", "envelopes[1].category"),
    ({"email": "@e.org", "password": PASSWORD, "full_name": "N",
      "envelopes": [{"category": "sport", "limit": 3}]},
     400, "unknown_field", "envelopes[0].limit"),
], ids=["bad_email", "short_password", "no_envelope", "impossible_date", "past_date", "twice_same_category",
        "unknown_envelope_field"])
def test_bad_beneficiary_is_refused(backoffice, body, status, code, field):
    body = dict(body)
    if body["email"] == "@e.org":
        body["email"] = unique_email("b")
    expect_error(backoffice.post("/api/v1/beneficiaries", body, key=new_key()), status, code, field)


def test_credit_above_ceiling_or_with_a_bad_category_or_end_date_is_refused(world, backoffice, payer,
                                                                           partners):
    before = snapshot(world, payer, partners)
    expect_error(world.credit(backoffice, payer["pass_id"], "general", 1000001),
                 422, "invalid_amount", "amount_cents")
    expect_error(world.credit(backoffice, payer["pass_id"], "general", -5),
                 422, "invalid_amount", "amount_cents")
    # A category the pass lacks would open its envelope: a malformed one, or
    # an end date in the past, opens nothing.
    expect_error(world.credit(backoffice, payer["pass_id"], "Leisure!", 100),
                 422, "invalid_category", "category")
    expect_error(backoffice.post("/api/v1/passes/%s/credits" % payer["pass_id"],
                                 {"category": "leisure", "amount_cents": 100,
                                  "end_date": "2020-01-01"}, key=new_key()),
                 422, "invalid_date", "end_date")
    expect_error(world.credit(backoffice, "00000000-0000-4000-8000-000000000000", "general", 100),
                 404, "pass_not_found", "pass_id")
    assert snapshot(world, payer, partners) == before


# A query parameter the endpoint table does not list for the route is refused
# by name, whatever the endpoint (one check in the gateway, the table's query
# lists the source); the listed ones still work.
@pytest.mark.parametrize("who,path,field", [
    ("partner", "/api/v1/partner/structure?partner_id=0b6f3c1e-8d2a-4f4b-9a51-3c7d2e1f0a99",
     "partner_id"),
    ("partner", "/api/v1/partner?partner_id=x", "partner_id"),
    ("partner", "/api/v1/partner/refund-requests?status=pending&colour=red", "colour"),
    ("backoffice", "/api/v1/partners?colour=red", "colour"),
    ("backoffice", "/api/v1/me?debug", "debug"),
    ("anyone", "/api/v1/contact?x=1", "x"),
    ("anyone", "/healthz?verbose=1", "verbose"),
], ids=["structure", "partner", "refunds_list", "partners_list", "me", "contact", "healthz"])
def test_unknown_query_parameter_is_refused_by_name(world, partners, who, path, field):
    if who == "partner":
        api = world.login(partners["sport"]["admin_email"], partners["sport"]["admin_password"])
    elif who == "backoffice":
        api = world.backoffice()
    else:
        api = Api(world.url)
    expect_error(api.get(path), 400, "unknown_field", field)
    listed = path.split("?")[0]
    answer = api.get(listed)
    assert answer.status_code == 200, answer.text
    api.close()


def test_listed_query_parameters_still_work(world, partners):
    api = world.login(partners["sport"]["admin_email"], partners["sport"]["admin_password"])
    for path in ("/api/v1/partner/refund-requests?status=pending&limit=5",
                 "/api/v1/partner/operations?limit=5&channel=code",
                 "/api/v1/partner/exports?limit=5"):
        answer = api.get(path)
        assert answer.status_code == 200, (path, answer.text)
    api.close()


def raw_exchange(url, request):
    """Sends request bytes as is and returns (status, headers, body) of the
    answer, read until the server closes."""
    import socket
    import urllib.parse
    where = urllib.parse.urlsplit(url)
    with socket.create_connection((where.hostname, where.port), timeout=30) as sock:
        sock.sendall(request)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    return int(lines[0].split()[1]), headers, body


# civetweb answers these itself, before any handler: the answer is still the
# JSON problem every client reads, not civetweb's plain text.
@pytest.mark.parametrize("request_bytes,status,code", [
    (b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 40000 + b"\r\n\r\n",
     400, "malformed_request"),
    (b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nX-H: " + b"b" * 9000 + b"\r\nX-I: "
     + b"c" * 9000 + b"\r\n\r\n", 400, "malformed_request"),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400, "malformed_request"),
    (b"GET /api/v1/me HTTP/9.9\r\nHost: x\r\n\r\n", 505, "http_version_not_supported"),
], ids=["oversized_header", "oversized_headers", "tls_hello", "bad_version"])
def test_requests_civetweb_refuses_get_the_json_problem(world, request_bytes, status, code):
    got, headers, body = raw_exchange(world.url, request_bytes)
    assert got == status, (got, body[:300])
    assert headers["content-type"] == "application/problem+json", (headers, body[:300])
    problem = json.loads(body)
    assert problem["status"] == got and problem["type"] == "about:blank", problem
    assert problem["code"] == code, problem
    assert problem["message"] and problem["detail"] == problem["message"], problem
    if status == 400:
        assert "16384 bytes" in problem["message"], problem
    # The gateway still serves.
    assert Api(world.url).get("/healthz").status_code == 200
