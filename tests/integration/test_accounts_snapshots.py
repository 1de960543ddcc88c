"""test_accounts_snapshots.py - the accounts service comes back from its
snapshot: stopped cleanly or SIGKILLed after users, logins and logouts, it
restarts from accounts-0.snap and the events after it (its log says from
which offset); every user still logs in, every session still open is still
valid and can log out, every one logged out stays invalid, and a command
re-sent with its key gets its first answer. A corrupt snapshot is refused
with a clear line, the whole log is replayed, and the answers are the same."""

import os
import re

from solipass_api import PASSWORD, expect_error, new_key, unique_email

SNAPSHOT_EVERY_EVENTS = 10


def log_since(stack, offset):
    with open(stack.log_path("accounts"), "rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", "replace")


def log_size(stack):
    return os.path.getsize(stack.log_path("accounts"))


def rebuilt_from(text):
    """The offsets the accounts state was rebuilt from, in order."""
    found = []
    for line in text.splitlines():
        if '"state rebuilt"' in line:
            start = re.search(r'"from_offset":\s*"?(\d+)', line)
            if start:
                found.append(int(start.group(1)))
    return found


def restart_accounts(stack, every_events, kill=False):
    """Restarts the accounts service; its log from the restart on."""
    stack.service_env.setdefault("accounts", {})["SP_SNAPSHOT_EVERY_EVENTS"] = str(every_events)
    if kill:
        stack.kill("accounts")
    else:
        stack.stop_service("accounts")
    offset = log_size(stack)
    stack.start_service("accounts")
    return log_since(stack, offset)


def snapshot_path(stack):
    return os.path.join(stack.snapshot_dir, "accounts-0.snap")


def people(world, backoffice, count):
    """count beneficiaries, each with two sessions; the first of each logged out."""
    made = []
    for _ in range(count):
        beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 100})
        gone = world.login(beneficiary["email"], beneficiary["password"])
        kept = world.login(beneficiary["email"], beneficiary["password"])
        assert gone.post("/api/v1/auth/logout").status_code == 204
        made.append({"email": beneficiary["email"], "gone": gone, "kept": kept})
    return made


def check_people(world, made):
    for person in made:
        expect_error(person["gone"].get("/api/v1/me"), 401, "unauthenticated", "")
        assert person["kept"].get("/api/v1/me").status_code == 200, person["email"]
        fresh = world.login(person["email"], PASSWORD)
        assert fresh.get("/api/v1/me").status_code == 200


def create_staff_again(backoffice, key, email):
    body = {"email": email, "full_name": "Agent du CCAS", "role": "finance"}
    return backoffice.post("/api/v1/staff-users", body, key=key)


def test_accounts_restart_from_its_snapshot(world, backoffice):
    stack = world.stack
    restart_accounts(stack, SNAPSHOT_EVERY_EVENTS)
    try:
        run_restarts(world, backoffice)
    finally:
        restart_accounts(stack, 10000)


def run_restarts(world, backoffice):
    stack = world.stack
    made = people(world, backoffice, 4)
    assert os.path.exists(snapshot_path(stack)), "no snapshot after %d events" % SNAPSHOT_EVERY_EVENTS
    key, email = new_key(), unique_email("finance")
    first = create_staff_again(backoffice, key, email)
    assert first.status_code == 201, first.text

    # A clean stop writes the snapshot at the log's end: nothing to replay.
    text = restart_accounts(stack, SNAPSHOT_EVERY_EVENTS)
    assert "accounts snapshot taken" in log_since(stack, 0)
    assert rebuilt_from(text) and rebuilt_from(text)[-1] > 0, text[-3000:]
    assert "snapshot refused" not in text and "snapshot discarded" not in text
    check_people(world, made)
    again = create_staff_again(backoffice, key, email)
    assert again.status_code == 201, again.text
    assert again.json()["user_id"] == first.json()["user_id"], again.text

    # SIGKILL after more events than the snapshot holds: it and the rest.
    made += people(world, backoffice, 2)
    for person in made[:2]:      # a session kept before the snapshot ends after it
        assert person["kept"].post("/api/v1/auth/logout").status_code == 204
        person["gone"], person["kept"] = person["kept"], world.login(person["email"], PASSWORD)
    text = restart_accounts(stack, SNAPSHOT_EVERY_EVENTS, kill=True)
    assert rebuilt_from(text) and rebuilt_from(text)[-1] > 0, text[-3000:]
    assert "snapshot refused" not in text and "snapshot discarded" not in text
    check_people(world, made)

    # A corrupt snapshot: refused with its reason, the whole log replayed.
    stack.kill("accounts")
    path = snapshot_path(stack)
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    offset = log_size(stack)
    stack.start_service("accounts")
    text = log_since(stack, offset)
    assert "accounts snapshot refused: rebuilding from the whole log" in text, text[-3000:]
    assert "checksum mismatch" in text
    assert rebuilt_from(text) == [0], text[-3000:]
    check_people(world, made)
    again = create_staff_again(backoffice, key, email)
    assert again.status_code == 201, again.text
    assert again.json()["user_id"] == first.json()["user_id"], again.text
