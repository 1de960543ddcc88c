"""Poison messages never stop a consumer: undecodable bytes on a command
topic go to solipass.deadletter.v1 (keyed by their source topic) and the
service goes on serving."""

from solipass_api import (LEDGER_PARTITIONS, TOPIC_ACCOUNTS_COMMANDS, TOPIC_DEADLETTER,
                          TOPIC_LEDGER_COMMANDS, wait_until)

GARBAGE = b"\x00\xff\x13this is not an envelope\x80\x81"


def dead_letters_from(world, topic):
    return [k for k in world.message_keys(TOPIC_DEADLETTER) if k == topic]


def test_garbage_on_every_ledger_command_partition_is_dead_lettered(world, backoffice, partners):
    before = len(dead_letters_from(world, TOPIC_LEDGER_COMMANDS))
    for partition in range(LEDGER_PARTITIONS):
        world.produce_raw(TOPIC_LEDGER_COMMANDS, partition, GARBAGE)
    wait_until(lambda: len(dead_letters_from(world, TOPIC_LEDGER_COMMANDS)) >= before + LEDGER_PARTITIONS,
               "one dead letter per poisoned partition", timeout_s=60)
    assert len(dead_letters_from(world, TOPIC_LEDGER_COMMANDS)) == before + LEDGER_PARTITIONS

    # Every partition's writer goes on: payments on several passes succeed.
    for _ in range(4):
        beneficiary = world.create_beneficiary(backoffice, [("general", None)], {"general": 500})
        api = world.login(beneficiary["email"], beneficiary["password"])
        paid = world.pay(api, partners["sport"]["partner_code"], 120)
        assert paid.status_code == 201, paid.text
        assert world.pass_of(api)["balance_cents"] == 380


def test_garbage_on_the_accounts_commands_is_dead_lettered(world, backoffice):
    before = len(dead_letters_from(world, TOPIC_ACCOUNTS_COMMANDS))
    world.produce_raw(TOPIC_ACCOUNTS_COMMANDS, 0, GARBAGE)
    wait_until(lambda: len(dead_letters_from(world, TOPIC_ACCOUNTS_COMMANDS)) >= before + 1,
               "the accounts dead letter", timeout_s=60)
    assert len(dead_letters_from(world, TOPIC_ACCOUNTS_COMMANDS)) == before + 1
    partner = world.create_partner(backoffice, "leisure")
    assert len(partner["partner_code"]) == 8

