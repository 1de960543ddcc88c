"""The gateway's side of the web apps (issue 10): the built files of
SP_WEB_DIR with their cache and security headers, precompressed assets,
refused paths; browser sessions in an HttpOnly cookie with the Origin check
that keeps other sites from using it; the partner's QR code as a payment link.

The stack's gateway serves <repo>/web/dist, which the web apps' build makes
(and which may not exist yet). The file tests therefore start a second
gateway of their own, on the same event log and database, whose SP_WEB_DIR
is a temporary folder they fill with known files; the session and QR tests
use the stack's gateway, as the web apps do."""

import gzip
import http.client
import os
import re
import subprocess
import urllib.parse

import pytest
import requests

import stack as stack_module
from second_gateway import second_gateway
from solipass_api import PASSWORD, expect_error, new_key
from test_vouchers import decode_png

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'; manifest-src 'self'; worker-src 'self'")
ASSET = "app-3F2A1B9C.js"
ASSET_TEXT = b"console.log('the identity asset');\n" * 40
ASSET_BR = b"pretend-brotli-bytes"   # never decoded: only which file was sent matters
HOME = b"<!DOCTYPE html><title>Accueil</title><p>home page</p>"
PARTNER_HOME = b"<!DOCTYPE html><title>Espace partenaire</title><p>partner app</p>"
BIG = bytes(range(256)) * 1000 + b"end"   # many 16 KiB pieces, not a multiple of one
FILE_BYTES_MAX = 8 * 1024 * 1024


# ------------------------------------------------------------------ the file gateway


def fill_web_folder(root):
    os.makedirs(os.path.join(root, "assets"))
    os.makedirs(os.path.join(root, "partenaire"))
    with open(os.path.join(root, "index.html"), "wb") as f:
        f.write(HOME)
    with open(os.path.join(root, "partenaire", "index.html"), "wb") as f:
        f.write(PARTNER_HOME)
    with open(os.path.join(root, "assets", ASSET), "wb") as f:
        f.write(ASSET_TEXT)
    with open(os.path.join(root, "assets", ASSET + ".gz"), "wb") as f:
        f.write(gzip.compress(ASSET_TEXT))
    with open(os.path.join(root, "assets", ASSET + ".br"), "wb") as f:
        f.write(ASSET_BR)
    with open(os.path.join(root, "assets", "big-7E7E.png"), "wb") as f:
        f.write(BIG)
    with open(os.path.join(root, "assets", "huge-7E7E.png"), "wb") as f:
        f.truncate(FILE_BYTES_MAX + 1)
    with open(os.path.join(root, "robots.txt"), "wb") as f:
        f.write(b"User-agent: *\nDisallow: /api/\n")
    # Outside the folder: what a traversal would be after.
    with open(os.path.join(os.path.dirname(root), "secret.txt"), "wb") as f:
        f.write(b"not for the web\n")
    os.symlink(os.path.join(os.path.dirname(root), "secret.txt"),
               os.path.join(root, "assets", "link-1A2B.txt"))


@pytest.fixture(scope="module")
def web(stack, tmp_path_factory):
    """A second gateway serving a known web folder; yields its URL."""
    base = str(tmp_path_factory.mktemp("web"))
    root = os.path.join(base, "dist")
    fill_web_folder(root)
    with second_gateway(stack, base, {"SP_WEB_DIR": root}, "web gateway") as url:
        yield url


def raw_get(url, path, method="GET"):
    """Sends path exactly as written (requests would remove dot segments)."""
    parsed = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        conn.endheaders()
        answer = conn.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        conn.close()


def assert_html_security(headers):
    assert headers["Content-Security-Policy"] == CSP
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"


def test_home_and_client_routes_are_index_pages_revalidated_each_time(web):
    home = requests.get(web + "/")
    assert home.status_code == 200 and home.content == HOME
    assert home.headers["Content-Type"] == "text/html; charset=utf-8"
    assert home.headers["Cache-Control"] == "no-cache"
    assert_html_security(home.headers)
    again = requests.get(web + "/", headers={"If-None-Match": home.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""

    for path in ("/partenaire", "/partenaire/", "/partenaire/operations/12",
                 "/activate?token=abc", "/reset-password?token=abc"):
        page = requests.get(web + path)
        assert page.status_code == 200 and page.content == PARTNER_HOME, path
        assert page.headers["Cache-Control"] == "no-cache", path
        assert_html_security(page.headers)
    # No beneficiary app in this folder: the QR code's link opens the home page.
    payer = requests.get(web + "/payer/12345678")
    assert payer.status_code == 200 and payer.content == HOME
    head = requests.head(web + "/partenaire/x")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == str(len(PARTNER_HOME))
    robots = requests.get(web + "/robots.txt")
    assert robots.status_code == 200 and robots.text.startswith("User-agent")
    assert robots.headers["Cache-Control"] == "no-cache"


def test_assets_are_immutable_and_precompressed_siblings_follow_accept_encoding(web):
    url = web + "/assets/" + ASSET

    def fetch(accept):
        answer = requests.get(url, headers={"Accept-Encoding": accept}, stream=True)
        return answer, answer.raw.read(decode_content=False)

    plain, body = fetch("identity")
    assert plain.status_code == 200 and body == ASSET_TEXT
    assert plain.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert plain.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert plain.headers["Vary"] == "Accept-Encoding"
    assert "Content-Encoding" not in plain.headers

    gz, body = fetch("gzip, deflate")
    assert gz.headers["Content-Encoding"] == "gzip" and gzip.decompress(body) == ASSET_TEXT
    br, body = fetch("gzip;q=0.5, br;q=1.0")
    assert br.headers["Content-Encoding"] == "br" and body == ASSET_BR
    refused, body = fetch("gzip;q=0, br;q=0")
    assert "Content-Encoding" not in refused.headers and body == ASSET_TEXT
    star, body = fetch("br;q=0, *")
    assert star.headers["Content-Encoding"] == "gzip"

    big = requests.get(web + "/assets/big-7E7E.png")
    assert big.status_code == 200 and big.content == BIG
    assert big.headers["Content-Type"] == "image/png"

    head = requests.head(url, headers={"Accept-Encoding": "identity"})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == str(len(ASSET_TEXT))


@pytest.mark.parametrize("path", [
    "/../secret.txt", "/assets/../../secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt",
    "/assets/..%2f..%2fsecret.txt", "/assets/%2E%2E%2Fsecret.txt", "//secret.txt",
    "/assets//" + ASSET, "/assets/.." "\\secret.txt",
    "/assets/link-1A2B.txt", "/assets/" + ASSET + ".gz", "/assets/missing-1234.js",
    "/assets/huge-7E7E.png",
    "/beneficiaire/", "/nowhere", "/index.html/x", "/" + "a" * 2000, "/assets/a%2Fb.js",
])
def test_paths_outside_the_files_answer_404_before_any_file_is_read(web, path):
    # civetweb decodes the path in place before the gateway sees it: a %00
    # ends the string there, so it can only cut the path short, and what is
    # left gets the same checks.
    status, headers, body = raw_get(web, path)
    assert status == 404, (path, status, body[:200])
    assert b"not for the web" not in body and b"console.log" not in body
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Page introuvable".encode() in body


def test_pages_take_only_get_and_head_and_the_api_stays_the_api(web):
    refused = requests.post(web + "/partenaire", data=b"x")
    assert refused.status_code == 405 and refused.headers["Allow"] == "GET, HEAD"
    expect_error(requests.get(web + "/api/v1/nowhere"), 404, "not_found")
    assert requests.get(web + "/healthz").status_code == 200


def test_the_stack_gateway_starts_without_the_built_apps(world):
    built = os.path.isdir(os.path.join(world.stack.repo, "web", "dist"))
    home = requests.get(world.url + "/")
    if built:
        assert home.status_code in (200, 404)
    else:
        assert home.status_code == 404 and "Page introuvable" in home.text
        assert_html_security(home.headers)


# ------------------------------------------------------------------ browser sessions


def cookie_login(url, email, password, origin):
    headers = {"Origin": origin} if origin is not None else {}
    return requests.post(url + "/api/v1/auth/login", json={
        "email": email, "password": password, "session": "cookie"}, headers=headers)


def session_cookie(answer):
    match = re.fullmatch(r"sp_session=([A-Za-z0-9_-]{43}); Path=/; HttpOnly; "
                         r"SameSite=Strict; Max-Age=(\d+)", answer.headers["Set-Cookie"])
    assert match, answer.headers["Set-Cookie"]
    return match.group(1), int(match.group(2))


def voucher_by_cookie(world, cookie, cents, origin):
    """Issues an exchange voucher, which takes its amount off the pass at once
    (and, unlike a payment, needs no partner's convention)."""
    headers = {"Cookie": "theme=dark; sp_session=%s; lang=fr" % cookie,
               "Idempotency-Key": new_key()}
    if origin is not None:
        headers["Origin"] = origin
    return requests.post(world.url + "/api/v1/pass/vouchers", headers=headers,
                         json={"amount_cents": cents})


def test_cookie_session_login_use_origin_check_and_logout(world, backoffice):
    ben = world.create_beneficiary(backoffice, (("general", None),), {"general": 5000})
    expect_error(cookie_login(world.url, ben["email"], ben["password"], None), 403,
                 "bad_origin", "Origin")
    expect_error(cookie_login(world.url, ben["email"], ben["password"], "https://evil.example"),
                 403, "bad_origin", "Origin")
    expect_error(requests.post(world.url + "/api/v1/auth/login", json={
        "email": ben["email"], "password": ben["password"], "session": "jar"}),
        400, "invalid_value", "session")

    login = cookie_login(world.url, ben["email"], ben["password"], world.url)
    assert login.status_code == 200, login.text
    assert set(login.json()) == {"expires_at", "user"} and "token" not in login.text
    cookie, max_age_s = session_cookie(login)
    assert max_age_s > 0 and cookie not in login.text
    jar = {"Cookie": "sp_session=" + cookie}

    me = requests.get(world.url + "/api/v1/me", headers=jar)
    assert me.status_code == 200 and me.json()["email"] == ben["email"]

    before = requests.get(world.url + "/api/v1/pass", headers=jar).json()["balance_cents"]
    for origin in (None, "https://evil.example", world.url + "/", "null"):
        expect_error(voucher_by_cookie(world, cookie, 700, origin), 403, "bad_origin", "Origin")
    # Refused before the body is read: a body that is not even JSON gets the same 403.
    garbage = requests.post(world.url + "/api/v1/pass/vouchers", data=b"{not json",
                            headers=dict(jar, **{"Content-Type": "application/json"}))
    expect_error(garbage, 403, "bad_origin", "Origin")
    assert requests.get(world.url + "/api/v1/pass", headers=jar).json()["balance_cents"] == before
    issued = voucher_by_cookie(world, cookie, 700, world.url)
    assert issued.status_code == 201, issued.text
    assert requests.get(world.url + "/api/v1/pass",
                        headers=jar).json()["balance_cents"] == before - 700

    expect_error(requests.post(world.url + "/api/v1/auth/logout", headers=jar), 403,
                 "bad_origin", "Origin")
    assert requests.get(world.url + "/api/v1/me", headers=jar).status_code == 200
    out = requests.post(world.url + "/api/v1/auth/logout", headers=dict(jar, Origin=world.url))
    assert out.status_code == 204
    assert out.headers["Set-Cookie"] == "sp_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
    expect_error(requests.get(world.url + "/api/v1/me", headers=jar), 401, "unauthenticated")
    expect_error(requests.get(world.url + "/api/v1/me",
                              headers={"Cookie": "sp_session=not-a-token"}), 401,
                 "unauthenticated")


def test_bearer_clients_are_unchanged(world, backoffice):
    ben = world.create_beneficiary(backoffice, (("general", None),), {"general": 3000})
    api = world.login(ben["email"], ben["password"])   # asserts a token in the body
    issued = api.post("/api/v1/pass/vouchers", {"amount_cents": 300}, key=new_key())
    assert issued.status_code == 201, issued.text       # no Origin: a bearer needs none
    # With both, the Authorization header is the credential: no Origin needed.
    both = api.post("/api/v1/pass/vouchers", {"amount_cents": 100}, key=new_key(),
                    headers={"Cookie": "sp_session=" + "x" * 43})
    assert both.status_code == 201, both.text
    assert world.pass_of(api)["balance_cents"] == 2600
    login = requests.post(world.url + "/api/v1/auth/login", json={
        "email": ben["email"], "password": ben["password"], "session": "bearer"})
    assert login.status_code == 200 and "Set-Cookie" not in login.headers
    assert len(login.json()["token"]) == 43
    api.close()


def test_partner_qr_code_is_the_payment_link_and_pages_carry_the_csp(world, backoffice):
    partner = world.create_partner(backoffice, "sport", "Piscine des Dunes")
    login = cookie_login(world.url, partner["admin_email"], PASSWORD, world.url)
    cookie, _ = session_cookie(login)
    jar = {"Cookie": "sp_session=" + cookie}
    png = requests.get(world.url + "/api/v1/partner/qr.png", headers=jar)
    assert png.status_code == 200
    assert decode_png(png.content) == "%s/payer/%s" % (world.url, partner["partner_code"])
    poster = requests.get(world.url + "/api/v1/partner/poster", headers=jar)
    assert poster.status_code == 200
    assert_html_security(poster.headers)
    assert "<style" not in poster.text and "<script" not in poster.text
    sheet = requests.get(world.url + "/api/v1/styles/poster.css")
    assert sheet.status_code == 200 and sheet.headers["Content-Type"].startswith("text/css")


@pytest.mark.parametrize("setting, value, field", [
    ("SP_WEB_DIR", "FILE", "SP_WEB_DIR"),
    ("SP_PUBLIC_URL", "https://pass.ville.example/", "SP_PUBLIC_URL"),
    ("SP_PUBLIC_URL", "pass.ville.example", "SP_PUBLIC_URL"),
    ("SP_PUBLIC_URL", "https://pass.ville.example:443", "SP_PUBLIC_URL"),
])
def test_bad_web_settings_stop_the_gateway_at_start(stack, tmp_path, setting, value, field):
    if value == "FILE":
        value = str(tmp_path / "not-a-folder")
        with open(value, "w") as f:
            f.write("x")
    env = stack.tool_environment("gateway")     # its own ports: no metrics
    env.update({"SP_HTTP_PORT": str(stack_module.free_port()), setting: value})
    done = subprocess.run([stack.binary("gateway")], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=60)
    assert done.returncode == 1, done.stdout[-2000:]
    assert b'"cannot start"' in done.stdout and field.encode() in done.stdout, done.stdout[-2000:]
