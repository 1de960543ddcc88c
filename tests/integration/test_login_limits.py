"""The per-account login limit holds under concurrency: every attempt is
counted before the password hash is checked (it used to be checked before
and counted after, so 15 wrong passwords sent at once all got 401)."""

import threading

from solipass_api import expect_error

WINDOW_MS = 900 * 1000          # SP_LOGIN_WINDOW_S
ACCOUNT_FAILURES_MAX = 5        # SP_LOGIN_FAILURES_PER_ACCOUNT_MAX
TRIES = 15


def test_concurrent_wrong_passwords_get_at_most_the_limit(world, backoffice):
    world.advance_clock_ms(WINDOW_MS + 1000)       # a fresh window for this address
    beneficiary = world.create_beneficiary(backoffice)
    start = threading.Barrier(TRIES)
    statuses = []
    lock = threading.Lock()

    def guess():
        api = world.anonymous()
        start.wait()
        answer = api.post("/api/v1/auth/login", {"email": beneficiary["email"],
                                                 "password": "wrong-password"})
        with lock:
            statuses.append((answer.status_code, answer.json()["code"]))
        api.close()

    threads = [threading.Thread(target=guess) for _ in range(TRIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    refused = [s for s in statuses if s == (429, "too_many_attempts")]
    wrong = [s for s in statuses if s == (401, "invalid_credentials")]
    assert len(refused) + len(wrong) == TRIES, statuses
    assert len(wrong) <= ACCOUNT_FAILURES_MAX, statuses
    assert len(wrong) >= 1, statuses
    # Locked: the right password waits for the window too.
    answer = world.anonymous().post("/api/v1/auth/login", {"email": beneficiary["email"],
                                                           "password": beneficiary["password"]})
    expect_error(answer, 429, "too_many_attempts", "")
    # A right password from the same address is not counted against it.
    for _ in range(3):
        world.login(world.stack.bootstrap_email, world.stack.bootstrap_password).close()
    world.advance_clock_ms(WINDOW_MS + 1000)
    world.login(beneficiary["email"], beneficiary["password"]).close()
