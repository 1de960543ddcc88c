/* service_batch.c - one polled batch of ledger commands: read the accounts
 * topic to its end (the partner directory a decision reads), decode (poison
 * goes to the dead-letter topic), decide and apply, produce the events, flush them,
 * then reply with where they landed, flush the replies, and only then commit
 * the command offsets. A failed flush is fatal: nothing of the batch was
 * answered or committed, and a restart rebuilds from what did land. */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ledger_codec.h"
#include "service_internal.h"

static const char *text_or_empty(const char *text) {
    return text != NULL ? text : "";
}

static int dead_letter(tx_service *svc, const sp_kafka_msg *msg, const sp_error *why,
                       sp_error *err) {
    char reason[SP_ERROR_MESSAGE_MAX + SP_ERROR_CODE_MAX + 4];
    snprintf(reason, sizeof reason, "%s: %s", why->code, why->message);
    char partition[16], offset[24];
    snprintf(partition, sizeof partition, "%" PRId32, msg->partition);
    snprintf(offset, sizeof offset, "%" PRId64, msg->offset);
    sp_log_warn(svc->log, "dead letter", "topic", msg->topic, "partition", partition, "offset",
                offset, "reason", reason, NULL);
    svc->counters.dead_letters++;
    return sp_deadletter_send(svc->producer, msg, SP_TRANSACTIONS_SERVICE_NAME, reason,
                              sp_clock_now_ms(svc->clock), err);
}

/* Where and how to answer; -1 (a dead letter) when the envelope cannot say. */
static int take_reply_fields(tx_pending *p, const Solipass__Envelope *envelope, sp_error *why) {
    const char *id = text_or_empty(envelope->id);
    const char *reply_to = text_or_empty(envelope->reply_to);
    if (strnlen(reply_to, TX_REPLY_TO_MAX + 1) > TX_REPLY_TO_MAX ||
        strnlen(id, TX_REF_MAX + 1) > TX_REF_MAX) {
        return sp_error_set(why, 400, "malformed_message", "reply_to",
                            "reply_to longer than %d or envelope id longer than %d",
                            TX_REPLY_TO_MAX, TX_REF_MAX);
    }
    snprintf(p->reply_to, sizeof p->reply_to, "%s", reply_to);
    snprintf(p->causation_id, sizeof p->causation_id, "%s", id);
    snprintf(p->command_id, sizeof p->command_id, "%s", text_or_empty(envelope->command_id));
    snprintf(p->actor_id, sizeof p->actor_id, "%s", text_or_empty(envelope->actor_id));
    return 0;
}

static int apply_and_produce(tx_service *svc, sp_ledger_state *state, int32_t partition,
                             const sp_ledger_event *event, tx_pending *p, sp_error *err) {
    sp_ledger_applied applied;
    /* Decided from this very state: failing to apply it is a broken invariant. */
    if (sp_ledger_apply(state, event, &applied, err) != 0) return -1;
    if (applied.skipped || applied.record == NULL) {
        return sp_error_set(err, 500, "ledger_invariant", NULL,
                            "a decided %s event was not recorded",
                            sp_ledger_event_type(event->kind));
    }
    p->kind = TX_REPLY_RECORD;
    p->fresh = applied.record;
    p->record = applied.record;
    if (event->kind == SP_LEDGER_EVENT_COMMAND_REJECTED) {
        svc->counters.rejected++;
    } else {
        svc->counters.accepted++;
    }
    return tx_produce_event(svc, partition, event, p->causation_id, &p->delivery, err);
}

/* A command its actor could not have asked for: refused, nothing recorded,
 * logged (a gateway bug or a forged command: someone should look). */
static int refuse_actor(tx_service *svc, const sp_ledger_command *command, tx_pending *p,
                        const sp_error *why) {
    sp_log_warn(svc->log, "command refused: its actor may not ask for it", "pass_id",
                command->pass_id, "actor_id", command->actor_id, "actor_role", command->actor_role,
                "detail", why->message, NULL);
    p->kind = TX_REPLY_ERROR;
    p->error = *why;
    svc->counters.rejected++;
    return 0;
}

/* Signed at decision time and carried in the event: a rebuild reproduces
 * the receipt without the key (Ed25519 signing is deterministic anyway). */
static int sign_receipt(tx_service *svc, sp_ledger_event *event, sp_error *err) {
    if (!svc->receipts || event->kind != SP_LEDGER_EVENT_PAYMENT_ACCEPTED) return 0;
    sp_receipt receipt = {.amount_cents = event->amount_cents,
                          .occurred_at_ms = event->occurred_at_ms};
    snprintf(receipt.operation_id, sizeof receipt.operation_id, "%s", event->operation_id);
    snprintf(receipt.partner_id, sizeof receipt.partner_id, "%s", event->partner_id);
    sp_receipt_pass_ref(event->pass_id, receipt.pass_ref);
    if (sp_receipt_sign(&svc->receipt_signer, &receipt, event->receipt_signature, err) != 0) {
        return -1;
    }
    event->has_receipt = true;
    event->receipt_key_id = receipt.key_id;
    return 0;
}

static int decide(tx_service *svc, sp_ledger_state *state, int32_t partition,
                  const sp_ledger_command *command, tx_pending *p, sp_error *err) {
    sp_error refusal;
    sp_error_clear(&refusal);
    if (sp_ledger_actor_check(state, command, &refusal) != 0)
        return refuse_actor(svc, command, p, &refusal);
    sp_ledger_decision *decision = &svc->decision;
    sp_ledger_decide(state, command, sp_clock_now_ms(svc->clock), decision);
    switch (decision->kind) {
    case SP_LEDGER_DECIDED_REPLAY:
        p->kind = TX_REPLY_RECORD;
        p->record = decision->record;
        p->replayed = true;
        svc->counters.replayed++;
        return 0;
    case SP_LEDGER_DECIDED_REFUSED:
        p->kind = TX_REPLY_ERROR;
        p->error = decision->error;
        svc->counters.rejected++;
        return 0;
    case SP_LEDGER_DECIDED_EVENT:
        /* The role the actor asked in goes on the event: the history shows it. */
        snprintf(decision->event.actor_role, sizeof decision->event.actor_role, "%s",
                 command->actor_role != NULL ? command->actor_role : "");
        if (sign_receipt(svc, &decision->event, err) != 0) return -1;
        return apply_and_produce(svc, state, partition, &decision->event, p, err);
    }
    return sp_error_set(err, 500, "ledger_invariant", NULL, "unknown decision");
}

static int handle_command(tx_service *svc, const sp_kafka_msg *msg, tx_pending *p, sp_error *err) {
    memset(p, 0, sizeof *p);
    svc->counters.commands++;
    sp_ledger_state *state = (msg->partition >= 0 && msg->partition < svc->partition_count)
                                 ? svc->partitions[msg->partition].state
                                 : NULL;
    if (state == NULL) {
        return sp_error_set(err, 500, "partition_not_assigned", NULL,
                            "a command of partition %" PRId32 " without its state", msg->partition);
    }
    sp_error why;
    sp_error_clear(&why);
    Solipass__Envelope *envelope = sp_envelope_unpack(msg->value, msg->value_len, &why);
    if (envelope == NULL) return dead_letter(svc, msg, &why, err);
    sp_ledger_command command;
    sp_ledger_command_pb holder = {.payload = NULL};
    int rc;
    if (sp_ledger_command_from_envelope(envelope, &command, &holder, &why) != 0 ||
        take_reply_fields(p, envelope, &why) != 0) {
        rc = dead_letter(svc, msg, &why, err);
    } else {
        rc = decide(svc, state, msg->partition, &command, p, err);
    }
    sp_ledger_command_pb_free(&holder);
    solipass__envelope__free_unpacked(envelope, NULL);
    return rc;
}

static int fill_event_refs(tx_service *svc, size_t count, sp_error *err) {
    for (size_t i = 0; i < count; i++) {
        tx_pending *p = &svc->pending[i];
        if (p->fresh == NULL) continue;
        if (!p->delivery.done || p->delivery.error != RD_KAFKA_RESP_ERR_NO_ERROR ||
            p->delivery.offset < 0) {
            return sp_error_set(err, 503, "kafka_unavailable", NULL,
                                "an event of the batch has no delivery report after the flush");
        }
        sp_ledger_record_set_event_ref(p->fresh, p->delivery.partition, p->delivery.offset);
    }
    return 0;
}

static int send_reply(tx_service *svc, const tx_pending *p, int64_t now_ms, sp_error *err) {
    if (p->kind == TX_NO_REPLY || p->reply_to[0] == '\0') return 0;
    sp_ledger_reply_pb holder;
    const ProtobufCMessage *payload = p->kind == TX_REPLY_RECORD
                                          ? sp_ledger_reply_of_record(p->record, p->replayed,
                                                                      &holder)
                                          : sp_ledger_reply_of_error(&p->error, &holder);
    sp_envelope_meta meta = {.type = TX_REPLY_TYPE,
                             .aggregate_id = p->reply_to,
                             .aggregate_version = 0,
                             .occurred_at_ms = now_ms,
                             .command_id = p->command_id,
                             .causation_id = p->causation_id,
                             .reply_to = "",
                             .actor_id = p->actor_id};
    return sp_envelope_produce(svc->producer, SP_TOPIC_REPLIES, RD_KAFKA_PARTITION_UA, &meta,
                               payload, NULL, NULL, err);
}

static void log_flush_failure(tx_service *svc, const char *what, const sp_error *err) {
    sp_log_error(svc->log, what, "code", err->code, "detail", err->message, NULL);
}

int tx_process_batch(tx_service *svc, size_t count, sp_error *err) {
    assert(count > 0 && count <= SP_KAFKA_BATCH_MAX);
    tx_partners_barrier(svc);
    for (size_t i = 0; i < count; i++) {
        if (handle_command(svc, &svc->batch[i], &svc->pending[i], err) != 0) return -1;
    }
    if (sp_kafka_producer_flush(svc->producer, TX_FLUSH_TIMEOUT_MS, err) != 0) {
        log_flush_failure(svc, "events not flushed: nothing answered nor committed", err);
        return -1;
    }
    if (fill_event_refs(svc, count, err) != 0) return -1;
    int64_t now_ms = sp_clock_now_ms(svc->clock);
    for (size_t i = 0; i < count; i++) {
        if (send_reply(svc, &svc->pending[i], now_ms, err) != 0) return -1;
    }
    if (sp_kafka_producer_flush(svc->producer, TX_FLUSH_TIMEOUT_MS, err) != 0) {
        log_flush_failure(svc, "replies not flushed: commands not committed", err);
        return -1;
    }
    sp_error why;
    sp_error_clear(&why);
    if (sp_kafka_consumer_commit(svc->commands, svc->batch, count, &why) != 0) {
        /* The effects are durable: a redelivery is answered from the records. */
        sp_log_warn(svc->log, "command offsets not committed", "code", why.code, "detail",
                    why.message, NULL);
    }
    for (size_t i = 0; i < count; i++) {
        tx_partition *part = &svc->partitions[svc->batch[i].partition];
        part->next_offset = svc->batch[i].offset + 1;
    }
    return 0;
}
