"""Login limits hold across several gateways: the failed logins of an
account and of a client address are counted in the database that every
gateway shares (services/gateway/http/login_limits.c), so two gateways allow
the limit, not twice it (each used to count on its own in memory). A
second gateway runs beside the stack's; wrong passwords alternate between
the two, then race on both at once."""

import threading

import pytest

import second_gateway
from solipass_api import Api, expect_error, unique_email

WINDOW_MS = 900 * 1000          # SP_LOGIN_WINDOW_S
ACCOUNT_FAILURES_MAX = 5        # SP_LOGIN_FAILURES_PER_ACCOUNT_MAX
ADDRESS_FAILURES_MAX = 20       # SP_LOGIN_FAILURES_PER_ADDRESS_MAX
TRIES_PER_GATEWAY = 8


@pytest.fixture(scope="module")
def other_url(stack, tmp_path_factory):
    with second_gateway.running(stack, str(tmp_path_factory.mktemp("login"))) as port:
        yield "http://127.0.0.1:%d" % port


def login(url, email, password):
    api = Api(url)
    try:
        return api.post("/api/v1/auth/login", {"email": email, "password": password})
    finally:
        api.close()


def test_wrong_passwords_on_two_gateways_share_one_account_limit(world, backoffice, other_url):
    world.advance_clock_ms(WINDOW_MS + 1000)       # a fresh window for this address
    beneficiary = world.create_beneficiary(backoffice)
    urls = [world.url, other_url]
    for attempt in range(ACCOUNT_FAILURES_MAX):
        answer = login(urls[attempt % 2], beneficiary["email"], "wrong-password")
        expect_error(answer, 401, "invalid_credentials", "")
    for url in urls:
        answer = login(url, beneficiary["email"], beneficiary["password"])
        expect_error(answer, 429, "too_many_attempts", "")
        assert 0 < int(answer.headers["Retry-After"]) <= WINDOW_MS // 1000
    world.advance_clock_ms(WINDOW_MS + 1000)
    assert login(other_url, beneficiary["email"], beneficiary["password"]).status_code == 200
    # A success clears the account's count on every gateway.
    for attempt in range(ACCOUNT_FAILURES_MAX):
        answer = login(urls[attempt % 2], beneficiary["email"], "wrong-password")
        expect_error(answer, 401, "invalid_credentials", "")


def test_concurrent_guesses_on_both_gateways_get_at_most_the_limit(world, backoffice, other_url):
    world.advance_clock_ms(WINDOW_MS + 1000)
    beneficiary = world.create_beneficiary(backoffice)
    urls = [world.url, other_url] * TRIES_PER_GATEWAY
    start = threading.Barrier(len(urls))
    statuses = []
    lock = threading.Lock()

    def guess(url):
        start.wait()
        answer = login(url, beneficiary["email"], "wrong-password")
        with lock:
            statuses.append((answer.status_code, answer.json()["code"]))

    threads = [threading.Thread(target=guess, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wrong = [s for s in statuses if s == (401, "invalid_credentials")]
    refused = [s for s in statuses if s == (429, "too_many_attempts")]
    assert len(wrong) + len(refused) == len(urls), statuses
    assert 1 <= len(wrong) <= ACCOUNT_FAILURES_MAX, statuses


def test_one_address_has_one_limit_across_gateways(world, other_url):
    world.advance_clock_ms(WINDOW_MS + 1000)
    urls = [world.url, other_url]
    for attempt in range(ADDRESS_FAILURES_MAX):
        answer = login(urls[attempt % 2], unique_email("nobody"), "wrong-password")
        expect_error(answer, 401, "invalid_credentials", "")
    for url in urls:
        answer = login(url, world.stack.bootstrap_email, world.stack.bootstrap_password)
        expect_error(answer, 429, "too_many_attempts", "")
    world.advance_clock_ms(WINDOW_MS + 1000)
    assert login(other_url, world.stack.bootstrap_email,
                 world.stack.bootstrap_password).status_code == 200
