"""Behind a trusted reverse proxy (SP_TRUSTED_PROXIES, here the tests' own
loopback address) the limits per client address count each client the proxy
forwarded for, not the proxy: 20 bad logins by one client no longer lock
everyone out. What a client writes into X-Forwarded-For itself does not
change the address it is counted under."""

from solipass_api import expect_error, unique_email

WINDOW_MS = 900 * 1000          # SP_LOGIN_WINDOW_S
ADDRESS_FAILURES_MAX = 20       # SP_LOGIN_FAILURES_PER_ADDRESS_MAX
ATTACKER = "198.51.100.23"
NEIGHBOUR = "203.0.113.40"


def from_client(address, forged=None):
    """Headers as the proxy sends them: it appends the address it was reached from."""
    value = address if forged is None else forged + ", " + address
    return {"X-Forwarded-For": value}


def bad_login(world, headers):
    return world.anonymous().post("/api/v1/auth/login", {"email": unique_email("guess"),
                                                        "password": "wrong-password"},
                                  headers=headers)


def test_each_client_behind_the_proxy_has_its_own_limit(world):
    world.advance_clock_ms(WINDOW_MS + 1000)       # fresh windows
    for i in range(ADDRESS_FAILURES_MAX):
        # The attacker varies what it writes itself: it is still one client.
        expect_error(bad_login(world, from_client(ATTACKER, forged="10.0.0.%d" % i)),
                     401, "invalid_credentials")
    expect_error(bad_login(world, from_client(ATTACKER)), 429, "too_many_attempts", "")
    expect_error(bad_login(world, from_client(ATTACKER, forged=NEIGHBOUR)),
                 429, "too_many_attempts", "")
    # Another client of the same proxy, and the proxy's own address, log in.
    neighbour = world.anonymous().post(
        "/api/v1/auth/login", {"email": world.stack.bootstrap_email,
                               "password": world.stack.bootstrap_password},
        headers=from_client(NEIGHBOUR))
    assert neighbour.status_code == 200, neighbour.text
    world.login(world.stack.bootstrap_email, world.stack.bootstrap_password).close()
    reset = world.anonymous().post("/api/v1/auth/password-reset", {"email": unique_email("x")},
                                   headers=from_client(ATTACKER))
    expect_error(reset, 429, "too_many_attempts", "")
    world.advance_clock_ms(WINDOW_MS + 1000)
