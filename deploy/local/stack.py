#!/usr/bin/python3
"""stack.py - the whole solipass product on one machine, for the quick start,
the integration tests and the benchmarks.

A Stack owns one folder (var/ under the repository by default) and everything
it starts: a PostgreSQL 15 cluster created there, the devbroker (an in-memory
Kafka-protocol broker), an SMTP sink (smtp_sink.py: every e-mail becomes a file
in <folder>/mail/), and the services projection, accounts, transactions,
gateway, notifications, refunds, finance and exports, each in its own process
group, each logging to <folder>/logs/<name>.log. The exports service writes its
files to <folder>/exports/, which the gateway serves. It stops what it started
and nothing else.

Because the devbroker keeps the log in memory, every start() is a fresh
product: the PostgreSQL read models are created anew to match the empty log.

Standard library only; run with /usr/bin/python3.

    stack = Stack(build_dir="build-asan", var_dir="var/pytest", fast_pg=True)
    stack.start()
    ... stack.gateway_url, stack.kill("transactions"), stack.start_service("transactions") ...
    stack.stop()

Command line (what deploy/local/up runs):
    stack.py up [--build-dir DIR] [--var-dir DIR] [--gateway-port N] [--no-demo]
    stack.py restart SERVICE [--var-dir DIR]     (one service of a running up)
    stack.py clean [--var-dir DIR]

`up` supervises (Supervisor): a service that dies is started again after a
back-off (0.5 s doubling to 10 s, from 0.5 s again once it stayed up 60 s),
said on its output and in <folder>/logs/supervisor.log. A Stack used from
Python (the tests) supervises only after stack.supervise(). Every start
writes <folder>/env, the tools' settings for a shell (`. var/env`).
"""

import argparse
import atexit
import json
import os
import re
import secrets
import shutil
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import demo_data  # noqa: E402  (beside this file)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PG_BIN = "/usr/lib/postgresql/15/bin"
PG_DATABASE = "solipass"
PG_USER = "postgres"
SERVICES = ("projection", "accounts", "transactions", "gateway", "notifications", "refunds",
            "finance", "exports")
BINARIES = {
    "projection": "services/projection/solipass-projection",
    "accounts": "services/accounts/solipass-accounts",
    "transactions": "services/transactions/solipass-transactions",
    "gateway": "services/gateway/solipass-gateway",
    "notifications": "services/notifications/solipass-notifications",
    "exports": "services/exports/solipass-exports",
    "refunds": "services/refunds/solipass-refunds",
    "finance": "services/finance/solipass-finance",
    "devbroker": "tools/devbroker/solipass-devbroker",
    "receipt-key": "tools/receiptkey/solipass-receipt-key",
}
# The longest a Unix socket path may be (sun_path is 108 bytes with the NUL).
SOCKET_PATH_MAX = 107
LOG_TAIL_LINES = 40
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 20.0
PG_START_TIMEOUT_S = 60
# Supervision (stack.py up): a service that died is started again after a
# back-off that doubles from the first to the last, and starts over once the
# service stayed up long enough to count as healthy.
RESTART_BACKOFF_FIRST_S = 0.5
RESTART_BACKOFF_MAX_S = 10.0
RESTART_HEALTHY_AFTER_S = 60.0
SUPERVISE_INTERVAL_S = 0.2
RESTART_REQUEST_TIMEOUT_S = READY_TIMEOUT_S + STOP_TIMEOUT_S + 10
SMTP_SINK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "smtp_sink.py")
SMTP_FROM = "pass-solidarite@solipass.example"
# A demonstration debtor (a valid test IBAN, not a real account).
SEPA_DEBTOR_NAME = "Ville de Solipass - CCAS"
SEPA_DEBTOR_IBAN = "FR7630006000011234567890189"
SEPA_DEBTOR_BIC = "AGRIFRPPXXX"


class StackError(Exception):
    """A part of the stack could not be started or stopped; the message says
    which, and carries the tail of its log."""


LISTEN_PORT_LOW = 10000
FREE_PORT_TRIES_MAX = 200


def ephemeral_port_low():
    """The lowest port the kernel hands to outgoing connections."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(preferred=None):
    """A TCP port on 127.0.0.1 that nothing listens on right now, below the
    ephemeral range: a port the kernel picked there (bind to port 0) can be
    given to one of the stack's own outgoing connections (Kafka, PostgreSQL)
    before the service that was meant to listen on it binds it."""
    if preferred is not None and port_is_free(preferred):
        return preferred
    high = ephemeral_port_low()
    if high - LISTEN_PORT_LOW >= 1000:
        for _ in range(FREE_PORT_TRIES_MAX):
            port = LISTEN_PORT_LOW + secrets.randbelow(high - LISTEN_PORT_LOW)
            if port_is_free(port):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def tail(path, lines=LOG_TAIL_LINES):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode("utf-8", "replace")
    except OSError as e:
        return "(no log: %s)" % e
    return "\n".join(data.splitlines()[-lines:])


class Process:
    """One started program: its Popen, its log file and where this start's
    lines begin in it."""

    def __init__(self, name, popen, log_path, log_offset):
        self.name = name
        self.popen = popen
        self.log_path = log_path
        self.log_offset = log_offset
        self.started_at = time.monotonic()


def restart_request_path(run_dir, name):
    return os.path.join(run_dir, "restart." + name)


def describe_exit(status):
    """'exit status 3' or 'signal SIGKILL' for a Popen returncode."""
    if status is not None and status < 0:
        try:
            return "signal %s" % signal.Signals(-status).name
        except ValueError:
            return "signal %d" % -status
    return "exit status %s" % status


class Supervisor:
    """Starts again the services of a Stack that died on their own (a crash,
    a sanitizer abort, a SIGKILL from outside), as systemd's Restart=on-failure
    does in production. A service stopped through the Stack (stop_service,
    kill) is no longer in Stack.processes and is left alone. Each death is
    said on the Stack's output and in <var>/logs/supervisor.log with the
    service, its exit status or signal and the end of its log.

    step() does one round without blocking on a start: a restarted service is
    spawned and followed until it logs "ready"; one that dies before that
    counts as another death (the back-off doubles). It also serves restart
    requests that `stack.py restart <service>` leaves in <var>/run/."""

    def __init__(self, stack):
        self.stack = stack
        self.backoff_s = {}        # name -> the wait before its next restart
        self.due_at = {}           # name -> monotonic time of its pending restart
        self.starting = {}         # name -> Process restarted, not ready yet
        self.restarts = {}         # name -> restarts done (figures for tests)
        self.log_path = os.path.join(stack.logs_dir, "supervisor.log")

    def say(self, text):
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.stack._say(text)
        try:
            with open(self.log_path, "a") as f:
                f.write("%s %s\n" % (stamp, text))
        except OSError:
            pass

    def step(self):
        stack = self.stack
        with stack._lock:
            if not stack.supervising:
                return
            now = time.monotonic()
            for name, proc in list(stack.processes.items()):
                if name in SERVICES or name == "smtp":
                    if proc.popen.poll() is not None:
                        self._died(name, proc, now)
                    elif name in self.starting and stack._logged_ready(proc):
                        del self.starting[name]
                        self.say("%s is back (pid %d)" % (name, proc.popen.pid))
            for name, due in list(self.due_at.items()):
                if now >= due:
                    del self.due_at[name]
                    self._restart(name)
            self._serve_requests()

    def _died(self, name, proc, now):
        stack = self.stack
        del stack.processes[name]
        stack.exit_codes[name] = proc.popen.returncode
        stack._forget_pid(name)
        self.starting.pop(name, None)
        healthy = now - proc.started_at >= RESTART_HEALTHY_AFTER_S
        previous = self.backoff_s.get(name)
        if previous is None or healthy:
            delay = RESTART_BACKOFF_FIRST_S
        else:
            delay = min(previous * 2, RESTART_BACKOFF_MAX_S)
        self.backoff_s[name] = delay
        self.due_at[name] = now + delay
        self.say("%s died (%s, pid %d); restarting it in %.1f s; its log ends with:\n%s"
                 % (name, describe_exit(proc.popen.returncode), proc.popen.pid, delay,
                    tail(proc.log_path, 15)))

    def _restart(self, name):
        stack = self.stack
        proc = stack._spawn(name, stack._argv(name), stack.service_environment(name))
        self.starting[name] = proc
        self.restarts[name] = self.restarts.get(name, 0) + 1
        self.say("%s restarted (pid %d, restart %d)" % (name, proc.popen.pid,
                                                       self.restarts[name]))

    def _serve_requests(self):
        """`stack.py restart <service>`: stop it cleanly, start it at once
        (a deliberate restart has no back-off), answer when it is ready."""
        stack = self.stack
        for name in SERVICES:
            request = restart_request_path(stack.run_dir, name)
            if not os.path.exists(request) or name in self.starting:
                continue
            if name in stack.processes:
                code = stack.stop_service(name)
                self.say("%s stopped on request (%s)" % (name, describe_exit(code)))
            self.due_at.pop(name, None)
            self.backoff_s.pop(name, None)
            self._restart(name)
            os.unlink(request)


class Stack:
    def __init__(self, build_dir="build", var_dir=None, gateway_port=None, fast_pg=False,
                 bootstrap_email="backoffice@example.org", bootstrap_password="backoffice-pass-1",
                 bootstrap_full_name="Administrateur", log_level="info", service_env=None,
                 extra_env=None, ready_timeout_s=READY_TIMEOUT_S, quiet=True, notifications=True):
        """build_dir: meson build folder (relative to the repository or absolute).
        var_dir: the folder this stack owns (default <repo>/var).
        gateway_port: wanted port (a free one is used when it is taken or None).
        fast_pg: fsync=off etc. - for tests and benchmarks only, never the product.
        service_env: {"gateway": {"SP_SESSION_TTL_S": "60"}, ...} extra variables per service.
        extra_env: variables for every started program (e.g. ASAN_OPTIONS).
        notifications: False starts neither the notifications service nor the
        SMTP sink (e.g. a benchmark of the payment path alone)."""
        self.repo = REPO
        self.build_dir = build_dir if os.path.isabs(build_dir) else os.path.join(REPO, build_dir)
        self.var_dir = os.path.abspath(var_dir) if var_dir else os.path.join(REPO, "var")
        self.wanted_gateway_port = gateway_port
        self.fast_pg = fast_pg
        self.bootstrap_email = bootstrap_email
        self.bootstrap_password = bootstrap_password
        self.bootstrap_full_name = bootstrap_full_name
        self.log_level = log_level
        self.service_env = {k: dict(v) for k, v in (service_env or {}).items()}
        self.extra_env = dict(extra_env or {})
        self.ready_timeout_s = ready_timeout_s
        self.notifications = notifications
        self.quiet = quiet
        self.logs_dir = os.path.join(self.var_dir, "logs")
        self.run_dir = os.path.join(self.var_dir, "run")
        self.clock_offset_file = os.path.join(self.var_dir, "clock_offset_ms")
        self.address_file = os.path.join(self.run_dir, "devbroker.address")
        self.mail_dir = os.path.join(self.var_dir, "mail")
        self.exports_dir = os.path.join(self.var_dir, "exports")
        # The transactions service's snapshots of its ledger partitions and
        # the accounts service's of its state.
        self.snapshot_dir = os.path.join(self.var_dir, "snapshots")
        self.smtp_port = None
        # Authenticates activation links between the gateway and notifications.
        self.link_secret = secrets.token_urlsafe(48)
        self.pg_home = None            # folder holding data/ and the socket folder
        self.pg_home_is_temp = False
        self.pg_port = None
        self.gateway_port = None
        self.kafka_brokers = None
        self.metrics_ports = {}        # service -> its SP_METRICS_PORT (the gateway's too)
        self.processes = {}            # name -> Process, for what runs now
        self.exit_codes = {}           # name -> exit status of its last stop/kill
        self.pg_started = False
        self.supervising = False       # Supervisor.step restarts what died while True
        self.supervisor = None
        self._supervisor_thread = None
        self._lock = threading.RLock()
        self._atexit_registered = False

    # ------------------------------------------------------------ properties

    @property
    def pg_socket_dir(self):
        return os.path.join(self.pg_home, "run")

    @property
    def pg_data_dir(self):
        return os.path.join(self.pg_home, "data")

    @property
    def pg_dsn(self):
        return "host=%s port=%d dbname=%s user=%s" % (self.pg_socket_dir, self.pg_port,
                                                      PG_DATABASE, PG_USER)

    @property
    def gateway_url(self):
        return "http://127.0.0.1:%d" % self.gateway_port

    def metrics_url(self, name):
        """Where a service answers GET /metrics (Prometheus text): its own
        loopback port, the gateway's too (not its public HTTP port)."""
        return "http://127.0.0.1:%d/metrics" % self.metrics_port(name)

    def metrics_port(self, name):
        """The service's metrics port, chosen once per Stack and kept across
        restarts so that a scraper keeps finding it."""
        if name not in self.metrics_ports:
            self.metrics_ports[name] = free_port()
        return self.metrics_ports[name]

    def receipt_key(self):
        """The stack's receipt signing key, made once per stack start (kept in
        its run folder so that a restarted service signs with the same key)."""
        path = os.path.join(self.run_dir, "receipt-key.env")
        if not os.path.exists(path):
            made = subprocess.run([self.binary("receipt-key")], check=True, capture_output=True,
                                  text=True).stdout
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(made)
        with open(path) as f:
            return dict(line.strip().split("=", 1) for line in f if "=" in line)

    def binary(self, name):
        return os.path.join(self.build_dir, BINARIES[name])

    def log_path(self, name):
        return os.path.join(self.logs_dir, name + ".log")

    def _say(self, text):
        if not self.quiet:
            print(text, flush=True)

    # ------------------------------------------------------------ whole stack

    def start(self):
        """Start everything, fresh. Raises StackError (after stopping what was
        started) when a part does not become ready in time."""
        self._register_cleanup()
        for name in SERVICES + ("devbroker",):
            if name == "notifications" and not self.notifications:
                continue
            if not os.access(self.binary(name), os.X_OK):
                raise StackError("%s is not built: %s is missing (run meson/ninja in %s)"
                                 % (name, self.binary(name), self.build_dir))
        try:
            self._reset_folder()
            self.set_clock_offset_ms(0)
            self.start_postgres()
            self.start_devbroker()
            self.gateway_port = free_port(self.wanted_gateway_port)
            self.smtp_port = free_port()
            if self.notifications:
                self.start_service("smtp")
            self.start_service("projection")
            self.start_services(["accounts", "transactions", "gateway", "refunds", "finance",
                                 "exports"]
                                + (["notifications"] if self.notifications else []))
            self.write_env_file()
            if self.bootstrap_email:
                self.wait_for_sql("SELECT count(*) FROM users WHERE email = '%s'"
                                  % self.bootstrap_email.replace("'", "''"), "1",
                                  "the bootstrap user in the read model", self.ready_timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        """Stop every started program (SIGTERM, then SIGKILL after a bound),
        services first, PostgreSQL last. Returns {name: exit status}."""
        self.supervising = False
        thread = self._supervisor_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=STOP_TIMEOUT_S)
        self._supervisor_thread = None
        with self._lock:
            for name in ("gateway", "exports", "refunds", "notifications", "finance",
                         "transactions", "accounts", "projection", "smtp", "devbroker"):
                if name in self.processes:
                    self.stop_service(name)
            self.stop_postgres()
        return dict(self.exit_codes)

    def supervise(self, background=True):
        """Restart the services that die from now on (see Supervisor). With
        background, a thread does it until stop(); without, the caller calls
        self.supervisor.step() in its own loop (stack.py up). The test
        fixtures do not call it: they want a death seen, not repaired."""
        with self._lock:
            if self.supervisor is None:
                self.supervisor = Supervisor(self)
            self.supervising = True
        if background and self._supervisor_thread is None:
            self._supervisor_thread = threading.Thread(target=self._supervise_loop,
                                                       name="supervisor", daemon=True)
            self._supervisor_thread.start()
        return self.supervisor

    def _supervise_loop(self):
        while self.supervising:
            self.supervisor.step()
            time.sleep(SUPERVISE_INTERVAL_S)

    def write_env_file(self):
        """<var>/env: the settings the command-line tools need, for a shell:
        `. var/env` then solipass-audit, solipass-log, solipass-projection
        --replay run against this stack (the build's tools first on PATH)."""
        env = self.tool_environment("projection")
        values = {key: env[key] for key in ("SP_KAFKA_BROKERS", "SP_PG_DSN",
                                            "SP_MIGRATIONS_DIR", "SP_CLOCK_OFFSET_FILE",
                                            "SP_METRICS_PORT")}
        values["SP_EXPORTS_DIR"] = self.exports_dir
        tools = [os.path.join(self.build_dir, d) for d in ("tools/audit", "tools/log")]
        tools += [os.path.join(self.build_dir, os.path.dirname(BINARIES[name]))
                  for name in SERVICES]
        path = os.path.join(self.var_dir, "env")
        with open(path + ".tmp", "w") as f:
            f.write("# Written by deploy/local/stack.py at each start: `. %s` in a shell,\n"
                    "# then solipass-audit, solipass-log, solipass-projection --replay.\n"
                    % path)
            for key, value in values.items():
                f.write("export %s=%s\n" % (key, shlex.quote(value)))
            f.write("export PGHOST=%s PGPORT=%d PGDATABASE=%s PGUSER=%s\n"
                    % (shlex.quote(self.pg_socket_dir), self.pg_port, PG_DATABASE, PG_USER))
            f.write("export PATH=%s:\"$PATH\"\n" % shlex.quote(":".join(tools)))
        os.replace(path + ".tmp", path)
        return path

    def _register_cleanup(self):
        if self._atexit_registered:
            return
        atexit.register(self.stop)
        self._atexit_registered = True
        if threading.current_thread() is not threading.main_thread():
            return
        # SIGTERM/SIGHUP unwind as SIGINT does (KeyboardInterrupt), so that
        # whoever started the stack stops it.
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                signal.signal(sig, _exit_on_signal)

    def _reset_folder(self):
        os.makedirs(self.var_dir, exist_ok=True)
        self.kill_leftovers()
        for sub in ("logs", "run", "pg", "mail", "exports", "snapshots"):
            shutil.rmtree(os.path.join(self.var_dir, sub), ignore_errors=True)
        try:
            os.unlink(os.path.join(self.var_dir, "env"))
        except OSError:
            pass
        os.makedirs(self.logs_dir)
        os.makedirs(self.run_dir)
        os.makedirs(self.mail_dir)
        os.makedirs(self.exports_dir)
        os.makedirs(self.snapshot_dir, exist_ok=True)

    def kill_leftovers(self):
        """A previous Stack on this folder that was killed with -9 may have left
        PostgreSQL (pg_ctl detaches it) or a service running: stop exactly those."""
        pid_dir = os.path.join(self.var_dir, "run")
        if os.path.isdir(pid_dir):
            for entry in os.listdir(pid_dir):
                if entry.endswith(".pid"):
                    self._kill_recorded(os.path.join(pid_dir, entry))
        location = os.path.join(self.var_dir, "pg.location")
        homes = [os.path.join(self.var_dir, "pg")]
        try:
            with open(location) as f:
                homes.append(f.read().strip())
        except OSError:
            pass
        for home in homes:
            if home and os.path.isfile(os.path.join(home, "data", "postmaster.pid")):
                self._pg_ctl(home, ["stop", "-m", "immediate", "-w", "-t", "30"], check=False)
            if home and home != os.path.join(self.var_dir, "pg") and os.path.isdir(home):
                shutil.rmtree(home, ignore_errors=True)

    def _kill_recorded(self, pid_file):
        try:
            with open(pid_file) as f:
                pid_text, exe = f.read().split("\n", 1)
            pid = int(pid_text)
            if os.path.realpath("/proc/%d/exe" % pid) == os.path.realpath(exe.strip()):
                os.killpg(pid, signal.SIGKILL)
        except (OSError, ValueError):
            pass

    # ------------------------------------------------------------ PostgreSQL

    def _choose_pg_home(self):
        home = os.path.join(self.var_dir, "pg")
        os.makedirs(home, exist_ok=True)
        too_long = len(os.path.join(home, "run", ".s.PGSQL.65535")) > SOCKET_PATH_MAX
        if os.geteuid() == 0:
            shutil.chown(home, PG_USER, PG_USER)
            reachable = subprocess.run(["runuser", "-u", PG_USER, "--", "test", "-w", home],
                                       cwd="/", stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL).returncode == 0
        else:
            reachable = True
        if reachable and not too_long:
            return home, False
        # The repository is not reachable by the postgres user (e.g. under a
        # 0700 home) or too deep for a socket path: use a private temp folder.
        home = tempfile.mkdtemp(prefix="solipass-pg-")
        if os.geteuid() == 0:
            shutil.chown(home, PG_USER, PG_USER)
        with open(os.path.join(self.var_dir, "pg.location"), "w") as f:
            f.write(home + "\n")
        return home, True

    def _as_pg_user(self, argv):
        if os.geteuid() == 0:
            return ["runuser", "-u", PG_USER, "--"] + argv
        return argv

    def _pg_ctl(self, home, args, check=True, options=None):
        argv = [os.path.join(PG_BIN, "pg_ctl"), "-D", os.path.join(home, "data")]
        if options:
            argv += ["-o", options]
        argv += args
        done = subprocess.run(self._as_pg_user(argv), cwd=home, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=120)
        if check and done.returncode != 0:
            raise StackError("pg_ctl %s failed:\n%s\n%s" % (" ".join(args), done.stdout,
                                                          tail(self.log_path("postgresql"))))
        return done

    def _pg_settings(self):
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.pg_port),
            "unix_socket_directories": self.pg_socket_dir,
            "max_connections": "200",
            "shared_buffers": "256MB",
            "log_min_messages": "warning",
            "log_line_prefix": "%m [%p] ",
        }
        if self.fast_pg:
            # Tests and benchmarks only: the product start keeps durability.
            settings.update({"fsync": "off", "synchronous_commit": "off",
                             "full_page_writes": "off"})
        return settings

    def start_postgres(self):
        self.pg_home, self.pg_home_is_temp = self._choose_pg_home()
        self.pg_port = free_port()
        os.makedirs(self.pg_socket_dir, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.pg_socket_dir, PG_USER, PG_USER)
        initdb = [os.path.join(PG_BIN, "initdb"), "-D", self.pg_data_dir, "-A", "trust",
                  "-U", PG_USER, "-E", "UTF8", "--locale=C"]
        if self.fast_pg:
            initdb.append("--no-sync")
        self._say("starting PostgreSQL on 127.0.0.1:%d (%s)" % (self.pg_port, self.pg_home))
        done = subprocess.run(self._as_pg_user(initdb), cwd=self.pg_home, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=300)
        if done.returncode != 0:
            raise StackError("initdb failed:\n" + done.stdout)
        with open(os.path.join(self.pg_data_dir, "postgresql.conf"), "a") as conf:
            conf.write("\n# solipass stack\n")
            for key, value in self._pg_settings().items():
                conf.write("%s = '%s'\n" % (key, value))
        # The server writes its log where the postgres user can (its home),
        # seen from logs/ through a link.
        log = os.path.join(self.pg_home, "postgresql.log")
        open(log, "w").close()
        if os.geteuid() == 0:
            shutil.chown(log, PG_USER, PG_USER)
        os.symlink(log, self.log_path("postgresql"))
        self._pg_ctl(self.pg_home, ["-l", log, "-w", "-t", str(PG_START_TIMEOUT_S), "start"])
        self.pg_started = True
        self.psql("CREATE DATABASE %s" % PG_DATABASE, database="postgres")

    def restart_postgres(self):
        """Restart the server on the same data (a fast shutdown: every
        connection is cut), as a database failover would; returns when it
        accepts connections again."""
        log = os.path.join(self.pg_home, "postgresql.log")
        self._pg_ctl(self.pg_home, ["restart", "-m", "fast", "-l", log, "-w", "-t",
                                    str(PG_START_TIMEOUT_S)])

    def stop_postgres(self):
        if not self.pg_started:
            return
        done = self._pg_ctl(self.pg_home, ["stop", "-m", "fast", "-w", "-t", "30"], check=False)
        if done.returncode != 0:
            self._pg_ctl(self.pg_home, ["stop", "-m", "immediate", "-w", "-t", "30"], check=False)
        self.pg_started = False
        if self.pg_home_is_temp:
            link = self.log_path("postgresql")
            try:
                os.unlink(link)
                shutil.copyfile(os.path.join(self.pg_home, "postgresql.log"), link)
            except OSError:
                pass
            shutil.rmtree(self.pg_home, ignore_errors=True)
            try:
                os.unlink(os.path.join(self.var_dir, "pg.location"))
            except OSError:
                pass

    def psql(self, sql, database=PG_DATABASE, timeout_s=60):
        """Run SQL with psql; returns its unaligned, tuples-only output."""
        argv = ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", self.pg_socket_dir,
                "-p", str(self.pg_port), "-U", PG_USER, "-d", database, "-c", sql]
        done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=timeout_s)
        if done.returncode != 0:
            raise StackError("psql failed on %r: %s" % (sql, done.stderr.strip()))
        return done.stdout.strip()

    def wait_for_sql(self, sql, expected, what, timeout_s):
        deadline = time.monotonic() + timeout_s
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.psql(sql)
                if last == expected:
                    return
            except StackError as e:
                last = str(e)
            time.sleep(0.2)
        raise StackError("timed out after %.0f s waiting for %s (last: %s)\nprojection log:\n%s"
                         % (timeout_s, what, last, tail(self.log_path("projection"))))

    # ------------------------------------------------------------ devbroker

    def start_devbroker(self):
        try:
            os.unlink(self.address_file)
        except OSError:
            pass
        env = self._base_env()
        env["SP_DEVBROKER_ADDRESS_FILE"] = self.address_file
        env["SP_LOG_LEVEL"] = self.log_level
        proc = self._spawn("devbroker", [self.binary("devbroker")], env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                raise StackError("the devbroker exited with status %d:\n%s"
                                 % (proc.popen.returncode, tail(proc.log_path)))
            try:
                with open(self.address_file) as f:
                    text = f.read().strip()
            except OSError:
                text = ""
            if re.fullmatch(r"127\.0\.0\.1:\d{1,5}", text):
                self.kafka_brokers = text
                self._say("devbroker at %s" % text)
                return
            time.sleep(0.05)
        raise StackError("the devbroker wrote no address to %s within 30 s:\n%s"
                         % (self.address_file, tail(proc.log_path)))

    # ------------------------------------------------------------ services

    def _base_env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SP_")}
        env.update(self.extra_env)
        return env

    def service_environment(self, name):
        """The environment a service runs with (also for its command-line tools)."""
        env = self._base_env()
        env.update({
            "SP_KAFKA_BROKERS": self.kafka_brokers,
            "SP_LOG_LEVEL": self.log_level,
            "SP_CLOCK_OFFSET_FILE": self.clock_offset_file,
        })
        if name in ("projection", "gateway", "refunds", "exports"):
            env["SP_PG_DSN"] = self.pg_dsn
        if name in ("gateway", "exports"):
            env["SP_EXPORTS_DIR"] = self.exports_dir
        if name in ("projection", "exports"):
            env["SP_MIGRATIONS_DIR"] = os.path.join(self.repo, "migrations")
        if name == "accounts" and self.bootstrap_email:
            env["SP_BOOTSTRAP_EMAIL"] = self.bootstrap_email
            env["SP_BOOTSTRAP_PASSWORD"] = self.bootstrap_password
            env["SP_BOOTSTRAP_FULL_NAME"] = self.bootstrap_full_name
        env["SP_METRICS_ADDRESS"] = "127.0.0.1"
        env["SP_METRICS_PORT"] = str(self.metrics_port(name))
        if name == "gateway":
            env["SP_HTTP_ADDRESS"] = "127.0.0.1"
            env["SP_HTTP_PORT"] = str(self.gateway_port)
            env["SP_LINK_SECRET"] = self.link_secret
            env["SP_RECEIPT_PUBLIC_KEYS"] = self.receipt_key()["SP_RECEIPT_PUBLIC_KEY"]
            # The web apps as built by web/ (the folder may not be there yet:
            # the gateway then answers pages with 404), served at the
            # gateway's own address, which cookie sessions' Origin must be.
            env["SP_WEB_DIR"] = os.path.join(self.repo, "web", "dist")
            env["SP_PUBLIC_URL"] = self.gateway_url
            # The city's account that SEPA credit transfer files pay from.
            env["SP_SEPA_DEBTOR_NAME"] = SEPA_DEBTOR_NAME
            env["SP_SEPA_DEBTOR_IBAN"] = SEPA_DEBTOR_IBAN
            env["SP_SEPA_DEBTOR_BIC"] = SEPA_DEBTOR_BIC
        if name == "transactions":
            env["SP_RECEIPT_SECRET_KEY"] = self.receipt_key()["SP_RECEIPT_SECRET_KEY"]
        if name in ("transactions", "accounts"):
            # One folder: ledger-<p>.snap and accounts-0.snap.
            env["SP_SNAPSHOT_DIR"] = self.snapshot_dir
        if name == "notifications":
            env["SP_PG_DSN"] = self.pg_dsn
            env["SP_MIGRATIONS_DIR"] = os.path.join(self.repo, "migrations")
            env["SP_SMTP_URL"] = "smtp://127.0.0.1:%d" % self.smtp_port
            env["SP_SMTP_TLS"] = "off"      # the sink is on this machine
            env["SP_SMTP_FROM"] = SMTP_FROM
            env["SP_PUBLIC_BASE_URL"] = self.gateway_url
            env["SP_LINK_SECRET"] = self.link_secret
        env.update(self.service_env.get(name, {}))
        return env

    def _spawn(self, name, argv, env):
        log_path = self.log_path(name)
        log = open(log_path, "ab")
        offset = log.tell()
        if offset:
            log.write(b"\n")
            offset = log.tell()
        # Its own session: a Ctrl-C at the terminal reaches only the Stack,
        # which then stops everything in order. No preexec_fn: tests start
        # services while other threads run, where forking Python code is unsafe.
        popen = subprocess.Popen(argv, env=env, cwd=self.var_dir, stdin=subprocess.DEVNULL,
                                 stdout=log, stderr=log, start_new_session=True)
        log.close()
        with open(os.path.join(self.run_dir, name + ".pid"), "w") as f:
            f.write("%d\n%s\n" % (popen.pid, argv[0]))
        proc = Process(name, popen, log_path, offset)
        self.processes[name] = proc
        self.exit_codes.pop(name, None)
        return proc

    def _argv(self, name):
        if name == "smtp":
            return ["/usr/bin/python3", SMTP_SINK, "--port", str(self.smtp_port),
                    "--dir", self.mail_dir]
        return [self.binary(name)]

    def start_service(self, name):
        """Start (or restart) one service and wait until it is ready."""
        self.start_services([name])

    def start_services(self, names):
        with self._lock:
            started = []
            for name in names:
                if name in self.processes:
                    raise StackError("%s is already running" % name)
                started.append(self._spawn(name, self._argv(name),
                                           self.service_environment(name)))
        for proc in started:
            self._wait_ready(proc)

    def _wait_ready(self, proc):
        deadline = time.monotonic() + self.ready_timeout_s
        while not self._logged_ready(proc):
            if proc.popen.poll() is not None:
                raise StackError("%s exited with status %d before it was ready; its log ends with:\n%s"
                                 % (proc.name, proc.popen.returncode, tail(proc.log_path)))
            if time.monotonic() > deadline:
                raise StackError("%s logged no \"ready\" line within %.0f s; its log ends with:\n%s"
                                 % (proc.name, self.ready_timeout_s, tail(proc.log_path)))
            time.sleep(0.05)
        if proc.name == "gateway":
            self._wait_healthz(proc, deadline)
        self._say("%s ready (pid %d)" % (proc.name, proc.popen.pid))

    def _logged_ready(self, proc):
        try:
            with open(proc.log_path, "rb") as f:
                f.seek(proc.log_offset)
                data = f.read()
        except OSError:
            return False
        for line in data.splitlines():
            line = line.strip()
            if not line.startswith(b"{"):
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("msg") == "ready":
                return True
        return False

    def _wait_healthz(self, proc, deadline):
        url = self.gateway_url + "/healthz"
        last = None
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                raise StackError("gateway exited with status %d; its log ends with:\n%s"
                                 % (proc.popen.returncode, tail(proc.log_path)))
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    if answer.status == 200:
                        return
                    last = answer.status
            except urllib.error.HTTPError as e:
                last = e.code
            except (urllib.error.URLError, OSError) as e:
                last = e
            time.sleep(0.1)
        raise StackError("GET %s did not answer 200 in time (last: %s); gateway log:\n%s"
                         % (url, last, tail(proc.log_path)))

    def exited(self):
        """{name: exit status} of every started program that ended by itself."""
        return {name: proc.popen.returncode for name, proc in list(self.processes.items())
                if proc.popen.poll() is not None}

    def is_running(self, name):
        proc = self.processes.get(name)
        return proc is not None and proc.popen.poll() is None

    def pid(self, name):
        return self.processes[name].popen.pid

    def kill(self, name):
        """SIGKILL a service (its whole process group), as a crash would."""
        with self._lock:
            proc = self.processes.pop(name)
            try:
                os.killpg(proc.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.exit_codes[name] = proc.popen.wait(timeout=STOP_TIMEOUT_S)
            self._forget_pid(name)
            return self.exit_codes[name]

    def stop_service(self, name, timeout_s=STOP_TIMEOUT_S):
        """SIGTERM, then SIGKILL after timeout_s. Returns the exit status
        (negative: the signal that ended it)."""
        with self._lock:
            proc = self.processes.pop(name)
            try:
                os.killpg(proc.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                code = proc.popen.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                code = proc.popen.wait(timeout=timeout_s)
                self._say("%s did not stop within %.0f s: killed" % (name, timeout_s))
            self.exit_codes[name] = code
            self._forget_pid(name)
            return code

    def _forget_pid(self, name):
        try:
            os.unlink(os.path.join(self.run_dir, name + ".pid"))
        except OSError:
            pass

    def tool_environment(self, name):
        """A service's environment for a one-off run of its binary (e.g.
        projection --replay): the same, but serving no metrics, since the
        running service holds its port."""
        env = self.service_environment(name)
        env["SP_METRICS_PORT"] = "0"
        return env

    def run_tool(self, name, args, timeout_s=300, extra_env=None):
        """Run a service binary once with its environment (and extra_env) and
        extra arguments (e.g. projection --checksum); returns the
        CompletedProcess."""
        env = self.tool_environment(name)
        env.update(extra_env or {})
        return subprocess.run([self.binary(name)] + list(args), env=env,
                              cwd=self.var_dir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=timeout_s)

    # ------------------------------------------------------------ time

    def set_clock_offset_ms(self, offset_ms):
        """Move every service's clock: system time + offset_ms. Services re-read
        the file at most every 200 ms."""
        os.makedirs(self.var_dir, exist_ok=True)
        tmp = self.clock_offset_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % int(offset_ms))
        os.replace(tmp, self.clock_offset_file)

    def clock_offset_ms(self):
        try:
            with open(self.clock_offset_file) as f:
                return int(f.read().strip() or "0")
        except (OSError, ValueError):
            return 0


def _exit_on_signal(signum, frame):
    # Unwinds like Ctrl-C: pytest ends the session and runs its teardowns,
    # `stack.py up` stops the stack; atexit covers the rest.
    raise KeyboardInterrupt("signal %d" % signum)


# ---------------------------------------------------------------- command line

def _print_banner(stack, demo):
    print("")
    print("solipass is running.")
    print("  gateway:      %s   (GET %s/healthz)" % (stack.gateway_url, stack.gateway_url))
    print("  PostgreSQL:   psql -h %s -p %d -U %s %s" % (stack.pg_socket_dir, stack.pg_port,
                                                       PG_USER, PG_DATABASE))
    print("  Kafka:        %s (devbroker, in memory)" % stack.kafka_brokers)
    print("  e-mail:       SMTP sink on 127.0.0.1:%d; every message is a file in %s"
          % (stack.smtp_port, stack.mail_dir))
    print("  logs:         %s" % stack.logs_dir)
    print("")
    print("Logins (POST %s/api/v1/auth/login with {\"email\", \"password\"}):" % stack.gateway_url)
    print("  %-12s %-40s %s" % ("back-office", stack.bootstrap_email, stack.bootstrap_password))
    for login in (demo or {}).get("logins", []):
        print("  %-12s %-40s %s" % (login["role"], login["email"], login["password"]))
    for partner in (demo or {}).get("partners", []):
        print("  partner %s: code %s (%s)" % (partner["name"], partner["partner_code"],
                                             partner["category"]))
    print("")
    print("Ctrl-C stops everything.", flush=True)


def request_restart(stack, name):
    """Asks the `up` running on stack's folder to restart one service, through
    a file in <var>/run/ that its supervisor serves; waits for its answer."""
    try:
        with open(os.path.join(stack.run_dir, "up.owner")) as f:
            up_pid = int(f.read().strip())
        os.kill(up_pid, 0)
    except (OSError, ValueError):
        print("error: no `stack.py up` runs on %s" % stack.var_dir, file=sys.stderr)
        return 2
    request = restart_request_path(stack.run_dir, name)
    with open(request, "w") as f:
        f.write("%d\n" % os.getpid())
    deadline = time.monotonic() + RESTART_REQUEST_TIMEOUT_S
    while os.path.exists(request):
        if time.monotonic() > deadline:
            print("error: %s was not restarted within %.0f s; see %s"
                  % (name, RESTART_REQUEST_TIMEOUT_S, stack.log_path(name)), file=sys.stderr)
            return 1
        time.sleep(0.1)
    # The supervisor spawned it: wait for this start's "ready".
    with open(os.path.join(stack.run_dir, name + ".pid")) as f:
        pid = int(f.read().split("\n", 1)[0])
    offset = _start_offset(stack.log_path(name))
    proc = Process(name, None, stack.log_path(name), offset)
    while not stack._logged_ready(proc):
        if time.monotonic() > deadline or not os.path.exists("/proc/%d" % pid):
            print("error: %s (pid %d) did not log \"ready\"; its log ends with:\n%s"
                  % (name, pid, tail(proc.log_path)), file=sys.stderr)
            return 1
        time.sleep(0.1)
    print("%s restarted (pid %d)" % (name, pid))
    return 0


def _start_offset(log_path):
    """Where the last start's lines begin in a service log: _spawn separates
    starts with an empty line."""
    with open(log_path, "rb") as f:
        data = f.read()
    cut = data.rfind(b"\n\n")
    return 0 if cut < 0 else cut + 2


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run the whole solipass product on this machine.")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start everything, load demo data, wait for Ctrl-C")
    up.add_argument("--build-dir", default="build")
    up.add_argument("--var-dir", default=None, help="folder the stack owns (default <repo>/var)")
    up.add_argument("--gateway-port", type=int, default=8080,
                    help="wanted gateway port (a free one when it is taken)")
    up.add_argument("--no-demo", action="store_true", help="do not load the demo data")
    restart = sub.add_parser("restart", help="restart one service of a running `up` "
                             "(stops it cleanly, starts it, waits until it is ready)")
    restart.add_argument("service", choices=SERVICES)
    restart.add_argument("--var-dir", default=None, help="folder the stack owns (default <repo>/var)")
    clean = sub.add_parser("clean", help="stop whatever a stack on that folder left running")
    clean.add_argument("--var-dir", default=None, help="folder the stack owns (default <repo>/var)")
    args = parser.parse_args(argv)
    if args.command == "clean":
        Stack(var_dir=args.var_dir).kill_leftovers()
        return 0
    if args.command == "restart":
        return request_restart(Stack(var_dir=args.var_dir), args.service)

    # Ctrl-C must stop the stack even when started from a shell that ignores SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    stack = Stack(build_dir=args.build_dir, var_dir=args.var_dir, gateway_port=args.gateway_port,
                  quiet=False)
    try:
        stack.start()
        demo = None
        if not args.no_demo:
            demo = demo_data.load(stack.gateway_url, stack.bootstrap_email,
                                  stack.bootstrap_password)
        _print_banner(stack, demo)
        supervisor = stack.supervise(background=False)
        up_pid = os.path.join(stack.run_dir, "up.owner")
        with open(up_pid, "w") as f:
            f.write("%d\n" % os.getpid())
        while True:
            supervisor.step()
            if not stack.is_running("devbroker"):
                # The log lived in its memory: nothing can be restarted on it.
                print("the devbroker exited with status %s (the log is gone); its log ends "
                      "with:\n%s" % (stack.exit_codes.get("devbroker", "?"),
                                      tail(stack.log_path("devbroker"))), flush=True)
                return 1
            time.sleep(SUPERVISE_INTERVAL_S)
    except (StackError, demo_data.DemoError) as e:
        print("error: %s" % e, file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
