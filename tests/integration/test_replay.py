"""solipass-projection --replay against the shared stack: the read models
rebuilt from offset zero into shadow tables while the gateway serves
payments, compared with the live tables and swapped in; a second replay
gives the same checksums; an unknown read model changes nothing; a
corrupted row named by the audit is repaired by a replay."""

import threading

import psycopg
import pytest

from solipass_api import new_key, wait_until
from test_ops_tools import audit, some_activity

SHADOW_SCHEMA = "solipass_replay"


def replay(stack, *args, extra_env=None):
    return stack.run_tool("projection", ["--replay"] + list(args), timeout_s=600,
                          extra_env=extra_env)


def checksums(stack):
    done = stack.run_tool("projection", ["--checksum"])
    assert done.returncode == 0, done.stderr
    return dict(line.split("=", 1) for line in done.stdout.splitlines())


def replay_lines(done):
    """{table: (shadow md5, live md5, same|differs)} and the all= line."""
    tables, everything = {}, None
    for line in done.stdout.splitlines():
        if line.startswith("all="):
            everything = line[4:]
        elif not line.startswith("swapped "):
            name, rest = line.split("=", 1)
            shadow, live, verdict = rest.split(" ")
            tables[name] = (shadow, live.split("=", 1)[1], verdict)
    return tables, everything


def quiet_checksums(stack):
    """The live checksums once the projection has applied everything."""
    last = {}

    def stable():
        nonlocal last
        now = checksums(stack)
        same = now == last
        last = now
        return same
    wait_until(stable, "the read models at rest", timeout_s=60, interval_s=1.0)
    return last


def shadow_schema_exists(world):
    return world.sql_rows("SELECT count(*) FROM pg_namespace WHERE nspname = '%s'"
                          % SHADOW_SCHEMA)[0][0] != "0"


def test_replay_while_serving_swaps_in_the_same_rows(world, backoffice, partners):
    some_activity(world, backoffice, partners)
    beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 100000})
    api = world.login(beneficiary["email"], beneficiary["password"])
    stop = threading.Event()
    paid = []

    def pay_on():
        while not stop.is_set():
            answer = world.pay(api, partners["sport"]["partner_code"], 10)
            paid.append(answer.status_code)

    payer = threading.Thread(target=pay_on)
    payer.start()
    try:
        wait_until(lambda: len(paid) >= 3, "payments flowing")
        done = replay(world.stack)
        during = len(paid)
        wait_until(lambda: len(paid) >= during + 3, "payments after the swap")
    finally:
        stop.set()
        payer.join()
    api.close()
    assert done.returncode == 0, done.stderr
    assert all(status == 201 for status in paid), paid
    tables, _ = replay_lines(done)
    assert set(tables) >= {"partners", "users", "passes", "envelopes", "operations",
                           "ledger_balances", "vouchers"}, done.stdout
    # At the swap the shadow stood at the live projection's offsets: same rows.
    assert all(verdict == "same" for _, _, verdict in tables.values()), done.stdout
    assert '"msg":"replay progress"' in done.stderr and '"eta_s"' in done.stderr
    assert not shadow_schema_exists(world)

    live = quiet_checksums(world.stack)
    again = replay(world.stack)
    assert again.returncode == 0, again.stderr
    tables, everything = replay_lines(again)
    for name, (shadow, before, verdict) in tables.items():
        assert shadow == live[name] and before == live[name] and verdict == "same", again.stdout
    assert everything == live["all"]
    assert checksums(world.stack) == live
    # The live projection carries on from the swapped offsets.
    assert world.pay(world.login(beneficiary["email"], beneficiary["password"]),
                     partners["sport"]["partner_code"], 10).status_code == 201


READ_MODELS = ("partners", "users", "sessions", "passes", "envelopes", "operations",
               "ledger_balances", "vouchers", "conventions", "convention_acceptances",
               "refund_requests", "refund_request_parts", "partner_bank_details",
               "figures_daily", "figures_budget", "history")


def schema_shape(world):
    """What the migrations made of the read models: each index and
    constraint, by name and definition, and whether the table is logged."""
    names = ", ".join("'%s'" % name for name in READ_MODELS)
    indexes = world.sql_rows(
        "SELECT c.relname, x.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indrelid JOIN pg_class x ON x.oid = i.indexrelid "
        "WHERE c.relnamespace = current_schema()::regnamespace AND c.relname IN (%s) "
        "ORDER BY 1, 2" % names)
    constraints = world.sql_rows(
        "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k "
        "JOIN pg_class c ON c.oid = k.conrelid WHERE c.relnamespace = "
        "current_schema()::regnamespace AND c.relname IN (%s) ORDER BY 1, 2" % names)
    persistence = world.sql_rows(
        "SELECT relname, relpersistence, coalesce(array_to_string(reloptions, ','), '') "
        "FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relname IN (%s) "
        "ORDER BY 1" % names)
    return indexes, constraints, persistence


def test_a_replay_renames_the_rebuilt_tables_in_with_every_index_and_key(world, backoffice,
                                                                          partners):
    """The swap puts the shadow tables in place of the live ones: the tables
    that serve afterwards have the migrations' indexes, keys, checks and
    foreign keys under their names, are logged, and have their sizes."""
    some_activity(world, backoffice, partners)
    before = schema_shape(world)
    assert len(before[0]) >= len(READ_MODELS) and any(
        row[1] == "partners_name_unaccent_trgm" for row in before[0]), before[0]
    assert {(row[1], row[2]) for row in before[2]} == {("p", "")}   # logged, autovacuumed
    done = replay(world.stack)
    assert done.returncode == 0, done.stderr
    assert '"rename_ms"' in done.stderr and "copying the rows in" not in done.stderr
    assert schema_shape(world) == before
    sized = world.sql_rows("SELECT reltuples > 0 FROM pg_class WHERE oid = 'operations'::regclass")
    assert sized[0][0] == "t"             # the planner knows its size
    # A foreign key still holds: an envelope of no pass is refused.
    with pytest.raises(Exception) as refused:
        world.sql("INSERT INTO envelopes (pass_id, category, balance_cents) VALUES "
                  "('00000000-0000-4000-8000-000000000000', 'general', 0)")
    assert "envelopes_pass_id_fkey" in str(refused.value)
    assert audit(world.stack).returncode == 0


def test_a_swap_that_deadlocks_with_a_reader_is_rolled_back_and_tried_again(world, backoffice,
                                                                          partners):
    """A reader that holds one live table and then wants another the swap
    already dropped deadlocks with it; PostgreSQL ends the swap's
    transaction, and the replay swaps again instead of failing."""
    some_activity(world, backoffice, partners)
    reader = psycopg.connect(world.stack.pg_dsn)
    try:
        reader.execute("SELECT 1 FROM history LIMIT 1")  # its lock lasts the transaction
        result = {}
        thread = threading.Thread(target=lambda: result.update(done=replay(world.stack)))
        thread.start()
        wait_until(lambda: world.sql_rows(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND mode = 'AccessExclusiveLock'"
            " AND relation = 'history'::regclass")[0][0] == "1",
            "the swap waiting for the reader's table", timeout_s=300, interval_s=0.05)
        reader.execute("SELECT 1 FROM partners LIMIT 1")  # the swap holds it: a deadlock
        reader.rollback()
        thread.join(timeout=300)
    finally:
        reader.close()
    done = result["done"]
    assert done.returncode == 0, done.stderr
    assert "replay swap rolled back, trying again" in done.stderr and "40P01" in done.stderr
    assert "swapped tables=" in done.stdout
    assert audit(world.stack).returncode == 0


def test_a_table_with_grants_is_copied_in_and_keeps_them(world, backoffice, partners):
    """A table the swap could not recreate whole (here: a grant a deployment
    added) keeps its identity: the rebuilt rows are copied into it."""
    some_activity(world, backoffice, partners)
    world.sql("GRANT SELECT ON passes TO PUBLIC")
    try:
        before = schema_shape(world)
        done = replay(world.stack)
        assert done.returncode == 0, done.stderr
        assert "copying the rows in" in done.stderr and "passes has grants" in done.stderr
        assert '"copy_in_ms"' in done.stderr
        assert schema_shape(world) == before
        granted = world.sql_rows("SELECT has_table_privilege('public', 'passes', 'SELECT')")
        assert granted[0][0] == "t"
        assert audit(world.stack).returncode == 0
    finally:
        world.sql("REVOKE SELECT ON passes FROM PUBLIC")


def test_replay_of_an_unknown_read_model_changes_nothing(world):
    before = quiet_checksums(world.stack)
    done = replay(world.stack, "--tables", "passes,balances")
    assert done.returncode == 2, done.stdout + done.stderr
    assert '"code":"unknown_table"' in done.stderr and '\\"balances\\"' in done.stderr, done.stderr
    assert "ledger_balances" in done.stderr          # the known ones are listed
    assert done.stdout == ""
    assert not shadow_schema_exists(world)
    assert checksums(world.stack) == before


def test_audit_names_a_corrupted_row_and_a_replay_repairs_it(world, backoffice, partners):
    pass_id = some_activity(world, backoffice, partners)
    wait_until(lambda: audit(world.stack).returncode == 0, "the audit passes", timeout_s=60)
    world.sql("UPDATE envelopes SET balance_cents = balance_cents + 5 WHERE pass_id = '%s' "
              "AND category = 'general'" % pass_id)
    corrupt = audit(world.stack)
    assert corrupt.returncode == 1, corrupt.stdout + corrupt.stderr
    failed = [line for line in corrupt.stdout.splitlines() if line.startswith("FAIL")]
    assert len(failed) == 1 and failed[0].startswith("FAIL envelopes match the ledger: "), \
        corrupt.stdout
    assert "pass:%s:general" % pass_id in failed[0], failed[0]

    done = replay(world.stack, "--tables", "envelopes")
    assert done.returncode == 0, done.stderr
    tables, _ = replay_lines(done)
    assert list(tables) == ["envelopes"], done.stdout
    assert tables["envelopes"][2] == "differs", done.stdout
    assert audit(world.stack).returncode == 0


def test_audit_follows_refund_requests_and_names_a_wrong_operation_state(world, backoffice):
    """A log with a paid and a cancelled refund request: every operation in
    one state, request totals equal their operations; a read-model row
    made wrong is named by the audit, and a replay of its table repairs it."""
    from test_operations import cancel, fresh_partner_and_pass, pay
    from test_refunds import FINANCE, REQUESTS, requested

    partner, admin, _, api = fresh_partner_and_pass(world, backoffice)
    paid_ops = [pay(world, api, partner, 300), pay(world, api, partner, 200)]
    returned_op = pay(world, api, partner, 100)
    cancelled_op = pay(world, api, partner, 50)
    assert cancel(admin, cancelled_op).status_code == 200
    paid_request = requested(admin, paid_ops)["request_id"]
    answer = backoffice.post("%s/%s/paid" % (FINANCE, paid_request),
                             {"transfer_reference": "VIR-REPLAY-1",
                              "paid_on": world.paris_today().isoformat()}, key=new_key())
    assert answer.status_code == 200, answer.text
    given_back = requested(admin, [returned_op])["request_id"]
    answer = admin.post("%s/%s/cancel" % (REQUESTS, given_back), key=new_key())
    assert answer.status_code == 200, answer.text
    wait_until(lambda: world.sql("SELECT status FROM operations WHERE operation_id = '%s'"
                                 % returned_op) == "accepted", "the payment given back")
    wait_until(lambda: audit(world.stack).returncode == 0, "the audit passes", timeout_s=60)
    done = audit(world.stack)
    assert "ok every operation in exactly one state" in done.stdout, done.stdout
    assert "ok refund request totals equal their operations" in done.stdout
    assert "ok refund requests match the ledger" in done.stdout

    world.sql("UPDATE operations SET status = 'accepted', paid_at = NULL, refund_request_id = NULL"
              " WHERE operation_id = '%s'" % paid_ops[0])
    world.sql("UPDATE refund_requests SET total_cents = total_cents + 1 WHERE request_id = '%s'"
              % paid_request)
    corrupt = audit(world.stack)
    assert corrupt.returncode == 1, corrupt.stdout + corrupt.stderr
    failed = sorted(line for line in corrupt.stdout.splitlines() if line.startswith("FAIL"))
    assert len(failed) == 2, corrupt.stdout
    assert failed[0] == ("FAIL operations match the ledger: operations.status of %s is accepted, "
                         "the ledger says paid" % paid_ops[0]), failed
    assert failed[1].startswith("FAIL refund requests match the ledger: ") and \
        paid_request in failed[1] and "is 501, the ledger says 500" in failed[1], failed

    done = replay(world.stack, "--tables", "operations,refund_requests")
    assert done.returncode == 0, done.stderr
    tables, _ = replay_lines(done)
    assert list(tables) == ["operations", "refund_requests"], done.stdout
    assert [tables[t][2] for t in tables] == ["differs", "differs"], done.stdout
    assert audit(world.stack).returncode == 0


def test_a_truncated_log_is_refused_by_replay_and_audit(world, tmp_path):
    """A second devbroker whose ledger partition 0 outgrew its 5 MiB: the
    replay refuses before changing anything and names the partition and its
    low watermark; so does the audit."""
    import os
    import subprocess
    import time

    address_file = tmp_path / "devbroker.address"
    env = dict(os.environ, SP_DEVBROKER_ADDRESS_FILE=str(address_file), SP_LOG_LEVEL="warn")
    env.update(world.stack.extra_env)
    broker = subprocess.Popen([world.stack.binary("devbroker")], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        brokers = wait_until(lambda: address_file.exists() and address_file.read_text().strip(),
                             "the second devbroker's address")
        line = ("x" * 60000 + "\n").encode()
        subprocess.run(["kcat", "-b", brokers, "-q", "-P", "-t", "solipass.ledger.events.v1",
                        "-p", "0"], input=line * 120, check=True, timeout=120)
        before = checksums(world.stack)
        env = world.stack.tool_environment("projection")
        env["SP_KAFKA_BROKERS"] = brokers
        done = subprocess.run([world.stack.binary("projection"), "--replay"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=120)
        assert done.returncode == 2, done.stdout + done.stderr
        assert '"code":"log_truncated"' in done.stderr, done.stderr
        low = int(done.stderr.split("solipass.ledger.events.v1[0]: low watermark ")[1].split()[0])
        assert low > 0
        assert done.stdout == "" and not shadow_schema_exists(world)
        assert checksums(world.stack) == before

        env["SP_LOG_LEVEL"] = "warn"
        audited = subprocess.run([os.path.join(world.stack.build_dir, "tools/audit/solipass-audit")],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, timeout=120)
        assert audited.returncode == 2, audited.stdout + audited.stderr
        assert audited.stdout.startswith("log truncated at solipass.ledger.events.v1[0]: ")
        assert "starts at offset %d" % low in audited.stdout, audited.stdout
    finally:
        broker.terminate()
        try:
            broker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            broker.kill()
            time.sleep(0.1)
