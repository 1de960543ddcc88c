"""conftest.py - one fresh solipass stack for the whole integration session.

The stack (PostgreSQL, devbroker, SMTP sink, projection, accounts,
transactions, gateway, notifications, refunds, exports)
is started from the build folder named by SOLIPASS_BUILD_DIR (default
"build"; tests/run uses the sanitizer build "build-asan") in the folder named
by SOLIPASS_VAR_DIR (default var/pytest), on free loopback ports, and stopped
at the end of the session."""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "deploy", "local"))
sys.path.insert(0, HERE)

import api_schema  # noqa: E402
import stack as stack_module  # noqa: E402
from solipass_api import World  # noqa: E402

SANITIZER_ENV = {
    # Services stopped with SIGTERM report leaks and exit non-zero; the last
    # test (test_zz_shutdown.py) checks that they do not.
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:halt_on_error=1:exitcode=86",
    "LSAN_OPTIONS": "exitcode=87",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:exitcode=88",
}
# Short enough for the tests to move past it, long enough for a test to run.
SESSION_TTL_S = 3600
TRUSTED_PROXIES = "127.0.0.1, ::1"
ACTIVATION_TTL_S = 600
# E-mail retries fast enough for a test to see an SMTP outage end (about a
# minute of attempts before a mail is dead-lettered).
MAIL_RETRY_ENV = {"SP_MAIL_RETRY_BASE_MS": "200", "SP_MAIL_RETRY_MAX_MS": "1000",
                  "SP_MAIL_RETRIES_MAX": "60"}


@pytest.fixture(scope="session")
def stack():
    build_dir = os.environ.get("SOLIPASS_BUILD_DIR", "build")
    var_dir = os.environ.get("SOLIPASS_VAR_DIR", os.path.join(REPO, "var", "pytest"))
    the_stack = stack_module.Stack(
        build_dir=build_dir, var_dir=var_dir, fast_pg=True, extra_env=SANITIZER_ENV,
        # The tests' client is the gateway's only peer: trusting it as a proxy
        # lets test_trusted_proxies.py speak for several clients (a request
        # without X-Forwarded-For is still counted under 127.0.0.1).
        service_env={"gateway": {"SP_SESSION_TTL_S": str(SESSION_TTL_S),
                                 "SP_COMMAND_TIMEOUT_MS": "5000",
                                 "SP_TRUSTED_PROXIES": TRUSTED_PROXIES,
                                 # Every test client is 127.0.0.1, and the
                                 # concurrency tests send 64+ requests at once:
                                 # the bound per address is tested on its own
                                 # gateway (test_slow_clients.py).
                                 "SP_HTTP_REQUESTS_PER_ADDRESS_MAX": "1024"},
                     "transactions": {"SP_EXPIRY_CHECK_MS": "500"},
                     "accounts": {"SP_ACTIVATION_TTL_S": str(ACTIVATION_TTL_S)},
                     "notifications": MAIL_RETRY_ENV,
                     # Tests that move the clock past a 30th would see their payments
                     # requested by the monthly run: test_refunds.py turns it on.
                     "refunds": {"SP_REFUNDS_MONTHLY_RUN": "false"}},
        quiet=False)
    try:
        the_stack.start()
    except stack_module.StackError as e:
        pytest.exit("the stack did not start: %s" % e, returncode=3)
    yield the_stack
    the_stack.stop()


@pytest.fixture(autouse=True)
def stack_alive(request):
    """Each test starts and ends with every started program running: one that
    died on its own (crash, sanitizer abort, a signal from outside) is named
    with the end of its log."""
    if "stack" not in request.fixturenames:
        yield
        return
    the_stack = request.getfixturevalue("stack")
    dead = the_stack.exited()
    if dead:
        pytest.fail("not running before the test: " + describe_dead(the_stack, dead))
    api_schema.take_mismatches()
    yield
    dead = the_stack.exited()
    if dead:
        pytest.fail("died during the test: " + describe_dead(the_stack, dead))
    mismatches = api_schema.take_mismatches()
    if mismatches:
        pytest.fail("answers that docs/openapi.json does not accept:\n" + "\n".join(mismatches))


def describe_dead(the_stack, dead):
    return "; ".join("%s exited with status %s, its log ends with:\n%s"
                     % (name, code, stack_module.tail(the_stack.log_path(name), 15))
                     for name, code in dead.items())


@pytest.fixture(scope="session")
def world(stack):
    return World(stack)


@pytest.fixture
def backoffice(world):
    api = world.backoffice()
    yield api
    api.close()


@pytest.fixture(scope="session")
def partners(world):
    """Two partners shared by the read-mostly tests: sport and culture."""
    bo = world.backoffice()
    sport = world.create_partner(bo, "sport", "Club de football de Fontenay")
    culture = world.create_partner(bo, "culture", "Médiathèque Louis-Aragon")
    bo.close()
    return {"sport": sport, "culture": culture}
