"""The real-Kafka deployment files (deploy/compose.yaml, deploy/containers/
Containerfile, deploy/systemd/) agree with the code, checked without running
them (no container engine here): the YAML parses; every service has a
compose entry, a container target and a systemd unit, and nothing else does;
every variable they set is one the binary lists in --help, with an integer
inside its bounds, and every variable the binary requires is set; the topic
job creates exactly the topics and partition counts the devbroker creates,
kept for ever except the replies, with replication 3 and min.insync.replicas
2; the three KRaft nodes form one quorum; the units pass systemd-analyze
verify and carry the restart and hardening settings; the units' Kafka
security settings are compose's; the Kafka scripts parse. Compose with
SASL_SSL has never been started by these tests: only read.

Pure file checks: no stack is started. The binaries come from the build
folder the tests use (SOLIPASS_BUILD_DIR)."""

import os
import re
import shutil
import subprocess
import tempfile

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEPLOY = os.path.join(REPO, "deploy")
COMPOSE = os.path.join(DEPLOY, "compose.yaml")
CONTAINERFILE = os.path.join(DEPLOY, "containers", "Containerfile")
SYSTEMD = os.path.join(DEPLOY, "systemd")
ENV_EXAMPLES = os.path.join(SYSTEMD, "env")
BUILD_DIR = os.environ.get("SOLIPASS_BUILD_DIR", "build")
if not os.path.isabs(BUILD_DIR):
    BUILD_DIR = os.path.join(REPO, BUILD_DIR)

SERVICES = {"projection", "accounts", "transactions", "notifications", "gateway", "refunds",
            "finance", "exports"}
# Container targets that are not services.
STAGES = {"build", "runtime", "tools"}
KEPT_FOR_A_DAY = {"solipass.replies.v1"}
HELP_LINE = re.compile(r"^  (SP_[A-Z0-9_]+) \((.*)\)$")
INTEGER_BOUNDS = re.compile(r", integer (-?\d+)\.\.(-?\d+)$")


def binary(name):
    return os.path.join(BUILD_DIR, "services", name, "solipass-" + name)


def help_variables(name):
    """{variable: (required, kind)} from the binary's --help; kind is
    (min, max) for an integer, "bool", or None for a string."""
    done = subprocess.run([binary(name), "--help"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=30, env={"PATH": "/usr/bin"})
    assert done.returncode == 0, done.stderr
    found = {}
    for line in done.stdout.splitlines():
        if not line.startswith("  SP_"):
            continue
        match = HELP_LINE.match(line)
        assert match, "unexpected --help line of solipass-%s: %r" % (name, line)
        variable, text = match.groups()
        bounds = INTEGER_BOUNDS.search(text)
        kind = ((int(bounds.group(1)), int(bounds.group(2))) if bounds
                else "bool" if text.endswith("true|false") else None)
        found[variable] = (text == "required", kind)
    assert "SP_KAFKA_BROKERS" in found, done.stdout
    return found


@pytest.fixture(scope="module")
def compose():
    with open(COMPOSE) as f:
        return yaml.safe_load(f)


def solipass_services(compose):
    """Compose services built from the Containerfile: {name: definition}."""
    return {name: svc for name, svc in compose["services"].items() if "build" in svc}


def container_targets():
    with open(CONTAINERFILE) as f:
        text = f.read()
    targets = {}
    for match in re.finditer(r"^FROM (\S+) AS (\S+)\n(.*?)(?=^FROM |\Z)", text, re.M | re.S):
        targets[match.group(2)] = (match.group(1), match.group(3))
    return targets


def read_unit(path):
    """[(section, key, value)] of a unit file, comments skipped."""
    entries, section = [], None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            key, _, value = line.partition("=")
            entries.append((section, key, value))
    return entries


def unit_values(entries, key):
    return [v for _, k, v in entries if k == key]


def read_env_file(path):
    values = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                key, _, value = line.partition("=")
                values[key] = value
    return values


def unit_environment(name):
    """What systemd hands the service: its EnvironmentFiles (the examples in
    deploy/systemd/env/) then its Environment= lines."""
    entries = read_unit(os.path.join(SYSTEMD, "solipass-%s.service" % name))
    env = {}
    for path in unit_values(entries, "EnvironmentFile"):
        assert path.startswith("/etc/solipass/"), path
        env.update(read_env_file(os.path.join(ENV_EXAMPLES, os.path.basename(path))))
    for assignment in unit_values(entries, "Environment"):
        key, _, value = assignment.partition("=")
        env[key] = value
    return env


def check_variables(name, where, env):
    assert os.access(binary(name), os.X_OK), "%s is not built: %s" % (name, binary(name))
    known = help_variables(name)
    unknown = sorted(set(env) - set(known))
    assert not unknown, "%s sets variables solipass-%s does not know: %s" % (where, name, unknown)
    missing = sorted(v for v, (required, _) in known.items() if required and v not in env)
    assert not missing, "%s leaves required variables of solipass-%s unset: %s" % (where, name,
                                                                                  missing)
    for variable, value in env.items():
        kind = known[variable][1]
        if kind is None or "${" in str(value):
            continue
        if kind == "bool":
            assert str(value) in ("true", "false"), (where, variable, value)
            continue
        assert re.fullmatch(r"-?\d+", str(value)), (where, variable, value)
        assert kind[0] <= int(value) <= kind[1], (where, variable, value, kind)


# ------------------------------------------------------------ one service, three files

def test_compose_parses_and_names_every_service(compose):
    assert set(solipass_services(compose)) == SERVICES
    built_here = {d for d in os.listdir(os.path.join(REPO, "services"))
                  if os.path.isfile(os.path.join(REPO, "services", d, "meson.build"))}
    assert built_here <= SERVICES, "services without deployment files: %s" % (built_here - SERVICES)


def test_every_service_has_a_container_target_and_a_unit_and_nothing_else_does(compose):
    targets = container_targets()
    assert set(targets) - STAGES == SERVICES
    units = {f[len("solipass-"):-len(".service")] for f in os.listdir(SYSTEMD)
             if f.startswith("solipass-") and f.endswith(".service")}
    assert units == SERVICES
    envs = {f[:-len(".env")] for f in os.listdir(ENV_EXAMPLES) if f.endswith(".env")}
    assert envs == SERVICES | {"common"}
    for name, svc in solipass_services(compose).items():
        build = svc["build"]
        assert build["target"] == name and build["dockerfile"] == "deploy/containers/Containerfile"
        assert os.path.normpath(os.path.join(DEPLOY, build["context"])) == REPO
        base, body = targets[name]
        assert base == "runtime", (name, base)
        path = "/build/services/%s/solipass-%s" % (name, name)
        assert "COPY --from=build %s /usr/local/bin/" % path in body, name
        assert 'ENTRYPOINT ["/usr/local/bin/solipass-%s"]' % name in body, name


def test_containers_are_debian_12_built_with_meson_and_run_unprivileged():
    targets = container_targets()
    assert targets["build"][0] == "debian:12" and targets["runtime"][0] == "debian:12-slim"
    assert "meson setup /build" in targets["build"][1] and "ninja -C /build" in targets["build"][1]
    runtime = targets["runtime"][1]
    assert re.search(r"^USER solipass:solipass$", runtime, re.M), runtime
    assert "useradd --system" in runtime
    with open(os.path.join(REPO, ".dockerignore")) as f:
        ignored = f.read().split()
    assert "build*/" in ignored and "var/" in ignored


# ------------------------------------------------------------ variables

@pytest.mark.parametrize("name", sorted(SERVICES))
def test_compose_variables_exist_and_required_ones_are_set(compose, name):
    env = {k: str(v) for k, v in solipass_services(compose)[name]["environment"].items()}
    check_variables(name, "compose.yaml", env)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_unit_variables_exist_and_required_ones_are_set(name):
    check_variables(name, "solipass-%s.service" % name, unit_environment(name))


def test_metrics_ports_are_distinct_and_the_same_in_compose_and_units(compose):
    ports = {}
    for name, svc in solipass_services(compose).items():
        env = svc["environment"]
        port = int(env["SP_METRICS_PORT"])
        # The gateway publishes its API port too; the metrics, like every
        # service's, on loopback only.
        published = [p for p in svc["ports"] if p != "127.0.0.1:8080:8080"]
        assert port > 0 and published == ["127.0.0.1:%d:%d" % (port, port)], name
        assert unit_environment(name)["SP_METRICS_PORT"] == str(port), name
        assert unit_environment(name)["SP_METRICS_ADDRESS"] == "127.0.0.1", name
        ports[name] = port
    assert len(set(ports.values())) == len(ports), ports
    assert 8080 not in ports.values()


# ------------------------------------------------------------ Kafka

def code_topics():
    """{topic: partitions} the devbroker creates, its table resolved through
    the #defines of common/."""
    defines = {}
    common = os.path.join(REPO, "common")
    for header in os.listdir(common):
        if header.endswith(".h"):
            with open(os.path.join(common, header)) as f:
                for m in re.finditer(r"^#define (SP_\w+) (\"[^\"]+\"|\d+)\s*$", f.read(), re.M):
                    defines[m.group(1)] = m.group(2).strip('"')
    with open(os.path.join(REPO, "tools", "devbroker", "main.c")) as f:
        source = f.read()
    table = re.search(r"devbroker_topics\[\] = \{(.*?)\};", source, re.S)
    assert table, "the devbroker's topic table moved: update this test"
    entries = re.findall(r"\{\s*(\w+)\s*,\s*(\w+)\s*\}", table.group(1))
    assert entries
    # A count of 0 stands for the ledger topics' configurable count, whose
    # default is SP_LEDGER_PARTITION_COUNT.
    ledger_default = int(defines["SP_LEDGER_PARTITION_COUNT"])
    return {defines.get(topic, topic): int(defines.get(count, count)) or ledger_default
            for topic, count in entries}


def compose_topics(compose):
    """{topic: (partitions, {config: value})} from the topic job's create lines."""
    script = "\n".join(compose["services"]["kafka-topics"]["command"])
    topics = {}
    for m in re.finditer(r"^\s*create (\S+) (\d+)((?: \S+=\S+)*)\s*$", script, re.M):
        configs = dict(c.split("=", 1) for c in m.group(3).split())
        assert m.group(1) not in topics, m.group(1)
        topics[m.group(1)] = (int(m.group(2)), configs)
    return script, topics


def test_topic_job_creates_the_topics_the_code_creates(compose):
    script, topics = compose_topics(compose)
    assert {t: p for t, (p, _) in topics.items()} == code_topics()
    assert "--replication-factor 3" in script
    assert "min.insync.replicas=2" in script
    for topic, (_, configs) in topics.items():
        assert configs.get("cleanup.policy") == "delete", topic     # never compacted
        assert configs.get("retention.bytes") == "-1", topic
        expected = "86400000" if topic in KEPT_FOR_A_DAY else "-1"
        assert configs.get("retention.ms") == expected, topic
    job = compose["services"]["kafka-topics"]
    assert job["restart"] == "no"
    for name, svc in solipass_services(compose).items():
        assert svc["depends_on"]["kafka-topics"]["condition"] == "service_completed_successfully"


def test_three_kraft_nodes_replicate_every_write_twice_at_least(compose):
    nodes = {n: s for n, s in compose["services"].items() if n.startswith("kafka-")
             and n != "kafka-topics"}
    assert len(nodes) == 3
    voters = set()
    for name, svc in nodes.items():
        env = svc["environment"]
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE"] == "false"
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
        assert env["KAFKA_ADVERTISED_LISTENERS"] == \
            "SASL_SSL://%s:9092,BROKER://%s:9094" % (name, name)
        voters.add("%s@%s:9093" % (env["KAFKA_NODE_ID"], name))
        assert svc["volumes"] == ["%s-data:/var/lib/kafka/data" % name,
                                  "./kafka/tls:/etc/kafka/tls:ro"]
    assert len({s["environment"]["CLUSTER_ID"] for s in nodes.values()}) == 1
    for svc in nodes.values():
        assert set(svc["environment"]["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == voters
    brokers = {",".join(sorted("%s:9092" % n for n in nodes))}
    for name, svc in solipass_services(compose).items():
        assert {",".join(sorted(svc["environment"]["SP_KAFKA_BROKERS"].split(",")))} == brokers


def test_kafka_needs_scram_over_tls_and_acls_decide_who_writes(compose):
    """No listener in clear: clients on SASL_SSL (SCRAM-SHA-512), brokers and
    controllers on TLS with client certificates, an authorizer that refuses
    what no ACL grants; every service its own user over SASL_SSL; the ACL
    script grants each topic's writers only, the ledger commands to the
    gateway and the refunds service."""
    env = compose["services"]["kafka-1"]["environment"]
    protocols = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert "PLAINTEXT" not in protocols.values() and "SASL_PLAINTEXT" not in protocols.values()
    assert env["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert env["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
    assert env["KAFKA_LISTENER_NAME_BROKER_SSL_CLIENT_AUTH"] == "required"
    for name, svc in solipass_services(compose).items():
        e = svc["environment"]
        assert e["SP_KAFKA_SECURITY_PROTOCOL"] == "sasl_ssl", name
        assert e["SP_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512", name
        assert e["SP_KAFKA_SASL_USERNAME"] == "solipass-" + name, name
        assert e["SP_KAFKA_SASL_PASSWORD"].startswith("${SP_KAFKA_PASSWORD_%s:?" % name.upper())
        assert e["SP_KAFKA_SSL_ENDPOINT_IDENTIFICATION"] == "https", name
    with open(os.path.join(DEPLOY, "kafka", "acls.sh")) as f:
        script = f.read()
    writers = dict(re.findall(r'^\s*\[(solipass\.[a-z.0-9]+)\]="([a-z ]+)"$', script, re.M))
    assert set(writers) == set(code_topics()), writers
    assert writers["solipass.ledger.commands.v1"].split() == ["gateway", "refunds"]
    assert writers["solipass.ledger.events.v1"].split() == ["transactions"]
    assert "--operation Write --topic \"$topic\"" in script


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_units_speak_to_kafka_as_compose_does(compose, name):
    """A host install uses the same Kafka security as compose: SASL_SSL with
    SCRAM-SHA-512 as solipass-<name> (the user the ACL script grants), the
    broker's host name checked, a CA file to check it with."""
    unit = unit_environment(name)
    container = solipass_services(compose)[name]["environment"]
    for variable in ("SP_KAFKA_SECURITY_PROTOCOL", "SP_KAFKA_SASL_MECHANISM",
                     "SP_KAFKA_SASL_USERNAME", "SP_KAFKA_SSL_ENDPOINT_IDENTIFICATION"):
        assert unit.get(variable) == container[variable], (name, variable)
    assert unit["SP_KAFKA_SSL_CA_FILE"].startswith("/"), name
    assert unit["SP_KAFKA_SASL_PASSWORD"], name


@pytest.mark.parametrize("script", ["acls.sh", "make-tls.sh"])
def test_kafka_scripts_parse(script):
    """The scripts compose's job and the operators run: bash reads them
    without a syntax error (they are not run here: no broker to secure)."""
    done = subprocess.run(["bash", "-n", os.path.join(DEPLOY, "kafka", script)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
    assert done.returncode == 0, done.stdout


# ------------------------------------------------------------ systemd

@pytest.mark.parametrize("name", sorted(SERVICES))
def test_unit_restarts_and_is_hardened(name):
    entries = read_unit(os.path.join(SYSTEMD, "solipass-%s.service" % name))
    settings = {(s, k): v for s, k, v in entries}
    assert settings[("Service", "ExecStart")] == "/usr/local/bin/solipass-%s" % name
    assert settings[("Service", "Restart")] == "on-failure"
    assert settings[("Service", "KillSignal")] == "SIGTERM"
    for key, value in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                       ("DynamicUser", "yes"), ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                       ("CapabilityBoundingSet", "")):
        assert settings[("Service", key)] == value, key
    assert unit_values(entries, "EnvironmentFile") == ["/etc/solipass/common.env",
                                                       "/etc/solipass/%s.env" % name]
    assert settings[("Unit", "PartOf")] == "solipass.target"
    assert settings[("Install", "WantedBy")] == "solipass.target"


def test_the_target_groups_every_unit():
    entries = read_unit(os.path.join(SYSTEMD, "solipass.target"))
    wanted = set(" ".join(unit_values(entries, "Wants")).split())
    assert wanted == {"solipass-%s.service" % n for n in SERVICES}


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
def test_systemd_analyze_verify_finds_nothing():
    """The units as systemd reads them, with each ExecStart pointed at the
    built binary (a service not built yet: /bin/true) and the example
    environment files."""
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for unit in sorted(os.listdir(SYSTEMD)):
            if not unit.endswith((".service", ".target")):
                continue
            with open(os.path.join(SYSTEMD, unit)) as f:
                text = f.read()
            if unit.endswith(".service"):
                name = unit[len("solipass-"):-len(".service")]
                exe = binary(name) if os.access(binary(name), os.X_OK) else "/bin/true"
                text = re.sub(r"^ExecStart=.*$", "ExecStart=" + exe, text, flags=re.M)
                text = text.replace("EnvironmentFile=/etc/solipass/",
                                    "EnvironmentFile=" + ENV_EXAMPLES + "/")
            path = os.path.join(folder, unit)
            with open(path, "w") as f:
                f.write(text)
            paths.append(path)
        done = subprocess.run(["systemd-analyze", "verify", "--man=no"] + paths,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "", done.stdout
