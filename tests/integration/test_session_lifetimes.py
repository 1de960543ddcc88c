"""Sessions and remembered outcomes are freed: with room for one user
(SP_USERS_MAX=1: 8 sessions, 16 outcomes) the back-office account logs in and
out far more times than that, a login beyond 8 live sessions ends the oldest,
and the accounts service rebuilt from the log after a restart agrees.

Runs its own small stack (its own var folder): the shared one has room for
a million users."""

import os

import pytest

import conftest
import stack as stack_module
from solipass_api import Api, expect_error

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SESSIONS_PER_USER = 8


@pytest.fixture(scope="module")
def small_stack():
    build_dir = os.environ.get("SOLIPASS_BUILD_DIR", "build")
    var_dir = os.environ.get("SOLIPASS_VAR_DIR", os.path.join(REPO, "var", "pytest"))
    the_stack = stack_module.Stack(
        build_dir=build_dir, var_dir=var_dir + "-one-user", fast_pg=True,
        extra_env=conftest.SANITIZER_ENV, notifications=False,
        service_env={"accounts": {"SP_USERS_MAX": "1"},
                     "gateway": {"SP_COMMAND_TIMEOUT_MS": "5000"},
                     "refunds": {"SP_REFUNDS_MONTHLY_RUN": "false"}},
        quiet=True)
    try:
        the_stack.start()
    except stack_module.StackError as e:
        pytest.fail("the small stack did not start: %s" % e)
    yield the_stack
    dead = the_stack.exited()
    the_stack.stop()
    assert not dead, conftest.describe_dead(the_stack, dead)


def login(the_stack):
    anonymous = Api(the_stack.gateway_url)
    answer = anonymous.post("/api/v1/auth/login", {"email": the_stack.bootstrap_email,
                                                    "password": the_stack.bootstrap_password})
    anonymous.close()
    assert answer.status_code == 200, answer.text
    return Api(the_stack.gateway_url, answer.json()["token"])


def works(api):
    return api.get("/api/v1/me").status_code == 200


def test_logins_after_logouts_never_run_out(small_stack):
    # Before, the 9th login was 503 for ever: 8 sessions and 16 outcomes, never freed.
    for _ in range(3 * SESSIONS_PER_USER):
        api = login(small_stack)
        assert works(api)
        answer = api.post("/api/v1/auth/logout")
        assert answer.status_code == 204, answer.text
        expect_error(api.get("/api/v1/me"), 401, "unauthenticated")
        api.close()


def test_a_login_beyond_the_bound_ends_the_oldest_session(small_stack):
    apis = [login(small_stack) for _ in range(SESSIONS_PER_USER + 4)]
    assert [works(api) for api in apis] == [False] * 4 + [True] * SESSIONS_PER_USER
    for api in apis[4:]:
        assert api.post("/api/v1/auth/logout").status_code == 204
        api.close()


def test_the_rebuilt_state_frees_the_same_sessions(small_stack):
    kept = [login(small_stack) for _ in range(SESSIONS_PER_USER)]
    small_stack.stop_service("accounts")
    small_stack.start_service("accounts")
    # Rebuilt from the log: still room for the next logins, and the 8 live
    # sessions are the ones a 9th login ends first.
    newer = login(small_stack)
    assert not works(kept[0])
    assert all(works(api) for api in kept[1:]) and works(newer)
    for api in kept[1:] + [newer]:
        assert api.post("/api/v1/auth/logout").status_code == 204
        api.close()
    for _ in range(SESSIONS_PER_USER + 2):
        api = login(small_stack)
        assert api.post("/api/v1/auth/logout").status_code == 204
        api.close()
