/* ledger_codec.c - protobuf <-> ledger structs, with every field from the log
 * checked before the ledger sees it. Pure: no I/O. */
#include "ledger_codec.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_internal.h"
#include "sp_kafka.h"

#define ACCOUNTS_TYPE_PARTNER_CREATED "accounts.PartnerCreated.v1"
#define ACCOUNTS_TYPE_CONVENTION_PUBLISHED "accounts.ConventionPublished.v1"
#define ACCOUNTS_TYPE_CONVENTION_ACCEPTED "accounts.ConventionAccepted.v1"

/* protobuf-c messages take char *; what we hand them is only read by pack. */
static char *borrow(const char *text) {
    return (char *)text;
}

static const char *text_or_empty(const char *text) {
    return text != NULL ? text : "";
}

static int malformed(sp_error *err, const char *what) {
    return sp_error_set(err, 400, "malformed_message", NULL, "%s", what);
}

/* Copies a string field of the log into a fixed buffer; -1 when too long. */
static int take(char *dst, size_t dst_size, const char *src, const char *what, sp_error *err) {
    if (!sp_ledger_copy(dst, dst_size, text_or_empty(src))) {
        return sp_error_set(err, 400, "malformed_message", NULL, "%s is too long", what);
    }
    return 0;
}

/* ------------------------------------------------------------ commands */

void sp_ledger_command_pb_free(sp_ledger_command_pb *holder) {
    if (holder == NULL) return;
    free(holder->parts);
    holder->parts = NULL;
    if (holder->payload == NULL) return;
    protobuf_c_message_free_unpacked(holder->payload, NULL);
    holder->payload = NULL;
}

static const ProtobufCMessageDescriptor *command_descriptor(const char *type,
                                                            sp_ledger_command_kind *kind) {
    static const struct {
        const char *type;
        sp_ledger_command_kind kind;
        const ProtobufCMessageDescriptor *descriptor;
    } table[] = {
        {SP_LEDGER_TYPE_OPEN_PASS, SP_LEDGER_COMMAND_OPEN_PASS,
         &solipass__ledger__open_pass__descriptor},
        {SP_LEDGER_TYPE_CREDIT_PASS, SP_LEDGER_COMMAND_CREDIT_PASS,
         &solipass__ledger__credit_pass__descriptor},
        {SP_LEDGER_TYPE_PAY, SP_LEDGER_COMMAND_PAY, &solipass__ledger__pay__descriptor},
        {SP_LEDGER_TYPE_ISSUE_VOUCHER, SP_LEDGER_COMMAND_ISSUE_VOUCHER,
         &solipass__ledger__issue_voucher__descriptor},
        {SP_LEDGER_TYPE_REDEEM_VOUCHER, SP_LEDGER_COMMAND_REDEEM_VOUCHER,
         &solipass__ledger__redeem_voucher__descriptor},
        {SP_LEDGER_TYPE_CANCEL_VOUCHER, SP_LEDGER_COMMAND_CANCEL_VOUCHER,
         &solipass__ledger__cancel_voucher__descriptor},
        {SP_LEDGER_TYPE_CANCEL_OPERATION, SP_LEDGER_COMMAND_CANCEL_OPERATION,
         &solipass__ledger__cancel_operation__descriptor},
        {SP_LEDGER_TYPE_SET_OPERATION_REFERENCE, SP_LEDGER_COMMAND_SET_OPERATION_REFERENCE,
         &solipass__ledger__set_operation_reference__descriptor},
        {SP_LEDGER_TYPE_OPEN_REFUND_REQUEST, SP_LEDGER_COMMAND_OPEN_REFUND_REQUEST,
         &solipass__ledger__open_refund_request__descriptor},
        {SP_LEDGER_TYPE_CONFIRM_REFUND_REQUEST, SP_LEDGER_COMMAND_CONFIRM_REFUND_REQUEST,
         &solipass__ledger__confirm_refund_request__descriptor},
        {SP_LEDGER_TYPE_ABORT_REFUND_REQUEST, SP_LEDGER_COMMAND_ABORT_REFUND_REQUEST,
         &solipass__ledger__abort_refund_request__descriptor},
        {SP_LEDGER_TYPE_CANCEL_REFUND_REQUEST, SP_LEDGER_COMMAND_CANCEL_REFUND_REQUEST,
         &solipass__ledger__cancel_refund_request__descriptor},
        {SP_LEDGER_TYPE_MARK_REFUND_REQUEST_PAID, SP_LEDGER_COMMAND_MARK_REFUND_REQUEST_PAID,
         &solipass__ledger__mark_refund_request_paid__descriptor},
        {SP_LEDGER_TYPE_RESERVE_OPERATIONS, SP_LEDGER_COMMAND_RESERVE_OPERATIONS,
         &solipass__ledger__reserve_operations__descriptor},
        {SP_LEDGER_TYPE_RELEASE_OPERATIONS, SP_LEDGER_COMMAND_RELEASE_OPERATIONS,
         &solipass__ledger__release_operations__descriptor},
        {SP_LEDGER_TYPE_SETTLE_OPERATIONS, SP_LEDGER_COMMAND_SETTLE_OPERATIONS,
         &solipass__ledger__settle_operations__descriptor},
        {SP_LEDGER_TYPE_CLOSE_PASS, SP_LEDGER_COMMAND_CLOSE_PASS,
         &solipass__ledger__close_pass__descriptor},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(type, table[i].type) == 0) {
            *kind = table[i].kind;
            return table[i].descriptor;
        }
    }
    return NULL;
}

static void voucher_command_fields(sp_ledger_command *command, const ProtobufCMessage *payload) {
    if (command->kind == SP_LEDGER_COMMAND_ISSUE_VOUCHER) {
        const Solipass__Ledger__IssueVoucher *m = (const Solipass__Ledger__IssueVoucher *)payload;
        command->pass_id = m->pass_id;
        command->amount_cents = m->amount_cents;
        command->category = m->category;
        command->partner_code = m->partner_code;
    } else if (command->kind == SP_LEDGER_COMMAND_REDEEM_VOUCHER) {
        const Solipass__Ledger__RedeemVoucher *m = (const Solipass__Ledger__RedeemVoucher *)payload;
        command->pass_id = m->pass_id;
        command->voucher_id = m->voucher_id;
        command->voucher_number = m->voucher_number;
        command->partner_code = m->partner_code;
    } else {
        const Solipass__Ledger__CancelVoucher *m = (const Solipass__Ledger__CancelVoucher *)payload;
        command->pass_id = m->pass_id;
        command->voucher_id = m->voucher_id;
    }
}

/* protobuf-c gives char **; the ledger only reads them. */
static const char *const *ids_of(char **ids) {
    return (const char *const *)ids;
}

/* The parts of an OpenRefundRequest, as the ledger reads them (holder owns
 * the array; the strings stay the payload's). */
static int open_refund_fields(sp_ledger_command *command, const ProtobufCMessage *payload,
                              sp_ledger_command_pb *holder, sp_error *err) {
    assert(command != NULL);
    const Solipass__Ledger__OpenRefundRequest *m = (const Solipass__Ledger__OpenRefundRequest *)
        payload;
    command->pass_id = m->request_id;
    command->request_id = m->request_id;
    command->partner_id = m->partner_id;
    command->refund_kind = m->kind;
    command->period = m->period;
    command->expected_total_cents = m->expected_total_cents;
    command->bank_account_missing = m->bank_account_missing;
    command->part_count = m->n_parts;
    if (m->n_parts == 0) return 0;
    /* n_parts is bounded by the message size; the rules bound it further. */
    holder->parts = calloc(m->n_parts, sizeof *holder->parts);
    if (holder->parts == NULL) return sp_error_set(err, 503, "unavailable", NULL, "out of memory");
    for (size_t i = 0; i < m->n_parts; i++) {
        holder->parts[i].pass_id = m->parts[i]->pass_id;
        holder->parts[i].operation_ids = ids_of(m->parts[i]->operation_ids);
        holder->parts[i].operation_id_count = m->parts[i]->n_operation_ids;
    }
    command->parts = holder->parts;
    return 0;
}

static void request_command_fields(sp_ledger_command *command, const ProtobufCMessage *payload) {
    if (command->kind == SP_LEDGER_COMMAND_CONFIRM_REFUND_REQUEST) {
        const Solipass__Ledger__ConfirmRefundRequest *m =
            (const Solipass__Ledger__ConfirmRefundRequest *)payload;
        command->request_id = m->request_id;
        command->total_cents = m->total_cents;
        command->operation_count = m->operation_count;
    } else if (command->kind == SP_LEDGER_COMMAND_ABORT_REFUND_REQUEST) {
        const Solipass__Ledger__AbortRefundRequest *m =
            (const Solipass__Ledger__AbortRefundRequest *)payload;
        command->request_id = m->request_id;
        command->code = m->code;
        command->message = m->message;
        command->operation_id = m->operation_id;
    } else if (command->kind == SP_LEDGER_COMMAND_CANCEL_REFUND_REQUEST) {
        const Solipass__Ledger__CancelRefundRequest *m =
            (const Solipass__Ledger__CancelRefundRequest *)payload;
        command->request_id = m->request_id;
        command->partner_id = m->partner_id;
    } else {
        const Solipass__Ledger__MarkRefundRequestPaid *m =
            (const Solipass__Ledger__MarkRefundRequestPaid *)payload;
        command->request_id = m->request_id;
        command->transfer_reference = m->transfer_reference;
        command->paid_on = m->paid_on;
    }
    command->pass_id = command->request_id; /* the request is the aggregate */
}

static void part_command_fields(sp_ledger_command *command, const ProtobufCMessage *payload) {
    if (command->kind == SP_LEDGER_COMMAND_RESERVE_OPERATIONS) {
        const Solipass__Ledger__ReserveOperations *m = (const Solipass__Ledger__ReserveOperations *)
            payload;
        command->pass_id = m->pass_id;
        command->request_id = m->request_id;
        command->partner_id = m->partner_id;
        command->operation_ids = ids_of(m->operation_ids);
        command->operation_id_count = m->n_operation_ids;
        command->skip_unavailable = m->skip_unavailable;
    } else if (command->kind == SP_LEDGER_COMMAND_RELEASE_OPERATIONS) {
        const Solipass__Ledger__ReleaseOperations *m = (const Solipass__Ledger__ReleaseOperations *)
            payload;
        command->pass_id = m->pass_id;
        command->request_id = m->request_id;
    } else {
        const Solipass__Ledger__SettleOperations *m = (const Solipass__Ledger__SettleOperations *)
            payload;
        command->pass_id = m->pass_id;
        command->request_id = m->request_id;
    }
}

static int refund_command_fields(sp_ledger_command *command, const ProtobufCMessage *payload,
                                 sp_ledger_command_pb *holder, sp_error *err) {
    if (command->kind == SP_LEDGER_COMMAND_OPEN_REFUND_REQUEST) {
        return open_refund_fields(command, payload, holder, err);
    }
    if (sp_ledger_command_is_refund_request(command->kind)) {
        request_command_fields(command, payload);
    } else {
        part_command_fields(command, payload);
    }
    return 0;
}

static bool is_refund_command(sp_ledger_command_kind kind) {
    return sp_ledger_command_is_refund_request(kind) ||
           kind == SP_LEDGER_COMMAND_RESERVE_OPERATIONS ||
           kind == SP_LEDGER_COMMAND_RELEASE_OPERATIONS ||
           kind == SP_LEDGER_COMMAND_SETTLE_OPERATIONS;
}

static void command_fields(sp_ledger_command *command, const ProtobufCMessage *payload) {
    if (command->kind == SP_LEDGER_COMMAND_OPEN_PASS) {
        const Solipass__Ledger__OpenPass *open = (const Solipass__Ledger__OpenPass *)payload;
        command->pass_id = open->pass_id;
        command->beneficiary_id = open->beneficiary_id;
        command->envelope_count = open->n_envelopes;
        for (size_t i = 0; i < open->n_envelopes && i < SP_LEDGER_ENVELOPES_MAX; i++) {
            command->envelope_categories[i] = text_or_empty(open->envelopes[i]->category);
            command->envelope_end_dates[i] = text_or_empty(open->envelopes[i]->end_date);
        }
    } else if (command->kind == SP_LEDGER_COMMAND_CREDIT_PASS) {
        const Solipass__Ledger__CreditPass *credit = (const Solipass__Ledger__CreditPass *)payload;
        command->pass_id = credit->pass_id;
        command->category = credit->category;
        command->amount_cents = credit->amount_cents;
        command->end_date = text_or_empty(credit->end_date);
    } else if (command->kind == SP_LEDGER_COMMAND_PAY) {
        const Solipass__Ledger__Pay *pay = (const Solipass__Ledger__Pay *)payload;
        command->pass_id = pay->pass_id;
        command->partner_code = pay->partner_code;
        command->amount_cents = pay->amount_cents;
    } else if (command->kind == SP_LEDGER_COMMAND_CANCEL_OPERATION) {
        const Solipass__Ledger__CancelOperation *m = (const Solipass__Ledger__CancelOperation *)
            payload;
        command->pass_id = m->pass_id;
        command->operation_id = m->operation_id;
        command->partner_id = m->partner_id;
    } else if (command->kind == SP_LEDGER_COMMAND_SET_OPERATION_REFERENCE) {
        const Solipass__Ledger__SetOperationReference *m =
            (const Solipass__Ledger__SetOperationReference *)payload;
        command->pass_id = m->pass_id;
        command->operation_id = m->operation_id;
        command->partner_id = m->partner_id;
        command->reference = m->reference;
    } else if (command->kind == SP_LEDGER_COMMAND_CLOSE_PASS) {
        const Solipass__Ledger__ClosePass *m = (const Solipass__Ledger__ClosePass *)payload;
        command->pass_id = m->pass_id;
        command->reason = text_or_empty(m->reason);
    } else {
        voucher_command_fields(command, payload);
    }
}

int sp_ledger_command_from_envelope(const Solipass__Envelope *envelope, sp_ledger_command *command,
                                    sp_ledger_command_pb *holder, sp_error *err) {
    assert(envelope != NULL);
    assert(command != NULL);
    assert(holder != NULL);
    memset(command, 0, sizeof *command);
    holder->payload = NULL;
    holder->parts = NULL;
    const ProtobufCMessageDescriptor *descriptor = command_descriptor(text_or_empty(envelope->type),
                                                                      &command->kind);
    if (descriptor == NULL) {
        return sp_error_set(err, 400, "unknown_type", NULL, "not a ledger command type: '%.64s'",
                            text_or_empty(envelope->type));
    }
    holder->payload = protobuf_c_message_unpack(descriptor, NULL, envelope->payload.len,
                                                envelope->payload.data);
    if (holder->payload == NULL) return malformed(err, "undecodable command payload");
    if (!is_refund_command(command->kind)) {
        command_fields(command, holder->payload);
    } else if (refund_command_fields(command, holder->payload, holder, err) != 0) {
        sp_ledger_command_pb_free(holder);
        return -1;
    }
    command->actor_id = text_or_empty(envelope->actor_id);
    command->actor_role = text_or_empty(envelope->actor_role);
    command->command_id = text_or_empty(envelope->command_id);
    int rc = sp_ledger_command_identity_valid(command->pass_id, command->actor_id,
                                              command->command_id, err);
    if (rc == 0 && strcmp(text_or_empty(envelope->aggregate_id), command->pass_id) != 0) {
        rc = malformed(err, "the envelope's aggregate id is not the command's pass id (or, "
                            "for a refund request's commands, its request id)");
    }
    if (rc != 0) sp_ledger_command_pb_free(holder);
    return rc;
}

/* ------------------------------------------------------------ events in */

static int take_posting(sp_ledger_event *event, size_t n_postings,
                        Solipass__Ledger__Posting *const *postings, sp_error *err) {
    if (n_postings > 1) return malformed(err, "more than one posting in a ledger event");
    event->posting_count = n_postings;
    for (size_t i = 0; i < n_postings; i++) {
        sp_ledger_posting *posting = &event->postings[i];
        if (take(posting->debit_account, sizeof posting->debit_account, postings[i]->debit_account,
                 "debit account", err) != 0 ||
            take(posting->credit_account, sizeof posting->credit_account,
                 postings[i]->credit_account, "credit account", err) != 0) {
            return -1;
        }
        posting->amount_cents = postings[i]->amount_cents;
    }
    return 0;
}

static int take_opened(sp_ledger_event *event, const Solipass__Ledger__PassOpened *m,
                       sp_error *err) {
    if (m->n_envelopes > SP_LEDGER_ENVELOPES_MAX) return malformed(err, "too many envelopes");
    event->envelope_count = m->n_envelopes;
    for (size_t i = 0; i < m->n_envelopes; i++) {
        sp_ledger_envelope_spec *spec = &event->envelopes[i];
        if (take(spec->category, sizeof spec->category, m->envelopes[i]->category, "category",
                 err) != 0 ||
            take(spec->end_date, sizeof spec->end_date, m->envelopes[i]->end_date, "end date",
                 err) != 0) {
            return -1;
        }
    }
    return take(event->beneficiary_id, sizeof event->beneficiary_id, m->beneficiary_id,
                "beneficiary id", err);
}

static int take_credited(sp_ledger_event *event, const Solipass__Ledger__PassCredited *m,
                         sp_error *err) {
    assert(event != NULL);
    assert(m != NULL);
    event->amount_cents = m->amount_cents;
    event->envelope_balance_after_cents = m->envelope_balance_after_cents;
    event->pass_balance_after_cents = m->pass_balance_after_cents;
    if (take(event->operation_id, sizeof event->operation_id, m->operation_id, "operation id",
             err) != 0 ||
        take(event->category, sizeof event->category, m->category, "category", err) != 0 ||
        take(event->end_date, sizeof event->end_date, m->end_date, "end date", err) != 0 ||
        take(event->requested_end_date, sizeof event->requested_end_date, m->requested_end_date,
             "requested end date", err) != 0) {
        return -1;
    }
    event->envelope_opened = m->envelope_opened;
    return take_posting(event, m->n_postings, m->postings, err);
}

static int take_payment(sp_ledger_event *event, const Solipass__Ledger__PaymentAccepted *m,
                        sp_error *err) {
    assert(event != NULL);
    assert(m != NULL);
    event->amount_cents = m->amount_cents;
    event->envelope_balance_after_cents = m->envelope_balance_after_cents;
    event->pass_balance_after_cents = m->pass_balance_after_cents;
    if (take(event->operation_id, sizeof event->operation_id, m->operation_id, "operation id",
             err) != 0 ||
        take(event->category, sizeof event->category, m->category, "category", err) != 0 ||
        take(event->partner_id, sizeof event->partner_id, m->partner_id, "partner id", err) != 0 ||
        take(event->partner_code, sizeof event->partner_code, m->partner_code, "partner code",
             err) != 0 ||
        take(event->beneficiary_id, sizeof event->beneficiary_id, m->beneficiary_id,
             "beneficiary id", err) != 0) {
        return -1;
    }
    if (m->receipt_signature.len != 0) {
        if (m->receipt_signature.len != sizeof event->receipt_signature) {
            return malformed(err, "receipt signature of the wrong length");
        }
        event->has_receipt = true;
        event->receipt_key_id = m->receipt_key_id;
        memcpy(event->receipt_signature, m->receipt_signature.data,
               sizeof event->receipt_signature);
    }
    return take_posting(event, m->n_postings, m->postings, err);
}

static int take_expired(sp_ledger_event *event, const Solipass__Ledger__EnvelopeExpired *m,
                        sp_error *err) {
    assert(event != NULL);
    assert(m != NULL);
    event->amount_cents = m->returned_cents;
    event->pass_balance_after_cents = m->pass_balance_after_cents;
    if (take(event->operation_id, sizeof event->operation_id, m->operation_id, "operation id",
             err) != 0 ||
        take(event->category, sizeof event->category, m->category, "category", err) != 0 ||
        take(event->end_date, sizeof event->end_date, m->end_date, "end date", err) != 0) {
        return -1;
    }
    return take_posting(event, m->n_postings, m->postings, err);
}

static int take_rejected(sp_ledger_event *event, const Solipass__Ledger__CommandRejected *m,
                         sp_error *err) {
    if (m->request_hash.len != SP_KEY_LEN) return malformed(err, "request hash is not 16 bytes");
    memcpy(event->request_hash, m->request_hash.data, SP_KEY_LEN);
    if (take(event->command_type, sizeof event->command_type, m->command_type, "command type",
             err) != 0 ||
        take(event->code, sizeof event->code, m->code, "code", err) != 0 ||
        take(event->message, sizeof event->message, m->message, "message", err) != 0 ||
        take(event->field, sizeof event->field, m->field, "field", err) != 0 ||
        take(event->request_id, sizeof event->request_id, m->request_id, "request id", err) != 0 ||
        take(event->operation_id, sizeof event->operation_id, m->operation_id, "operation id",
             err) != 0) {
        return -1;
    }
    return 0;
}

static int take_hash(sp_ledger_event *event, const ProtobufCBinaryData *hash, bool required,
                     sp_error *err) {
    if (hash->len == 0 && !required) return 0;
    if (hash->len != SP_KEY_LEN) return malformed(err, "request hash is not 16 bytes");
    memcpy(event->request_hash, hash->data, SP_KEY_LEN);
    return 0;
}

static int take_issued(sp_ledger_event *event, const Solipass__Ledger__VoucherIssued *m,
                       sp_error *err) {
    assert(event != NULL);
    assert(m != NULL);
    event->amount_cents = m->amount_cents;
    event->envelope_balance_after_cents = m->envelope_balance_after_cents;
    event->pass_balance_after_cents = m->pass_balance_after_cents;
    if (take(event->voucher_id, sizeof event->voucher_id, m->voucher_id, "voucher id", err) != 0 ||
        take(event->voucher_number, sizeof event->voucher_number, m->voucher_number,
             "voucher number", err) != 0 ||
        take(event->category, sizeof event->category, m->category, "category", err) != 0 ||
        take(event->valid_until, sizeof event->valid_until, m->valid_until, "valid until", err) !=
            0 ||
        take(event->partner_id, sizeof event->partner_id, m->partner_id, "partner id", err) != 0 ||
        take(event->partner_code, sizeof event->partner_code, m->partner_code, "partner code",
             err) != 0 ||
        take(event->beneficiary_id, sizeof event->beneficiary_id, m->beneficiary_id,
             "beneficiary id", err) != 0 ||
        take_hash(event, &m->request_hash, true, err) != 0) {
        return -1;
    }
    return take_posting(event, m->n_postings, m->postings, err);
}

static int take_redeemed(sp_ledger_event *event, const Solipass__Ledger__VoucherRedeemed *m,
                         sp_error *err) {
    assert(event != NULL);
    assert(m != NULL);
    event->amount_cents = m->amount_cents;
    event->pass_balance_after_cents = m->pass_balance_after_cents;
    if (take(event->operation_id, sizeof event->operation_id, m->operation_id, "operation id",
             err) != 0 ||
        take(event->voucher_id, sizeof event->voucher_id, m->voucher_id, "voucher id", err) != 0 ||
        take(event->partner_id, sizeof event->partner_id, m->partner_id, "partner id", err) != 0 ||
        take(event->partner_code, sizeof event->partner_code, m->partner_code, "partner code",
             err) != 0 ||
        take(event->category, sizeof event->category, m->category, "category", err) != 0 ||
        take(event->beneficiary_id, sizeof event->beneficiary_id, m->beneficiary_id,
             "beneficiary id", err) != 0 ||
        take_hash(event, &m->request_hash, true, err) != 0) {
        return -1;
    }
    return take_posting(event, m->n_postings, m->postings, err);
}

static int take_released(sp_ledger_event *event, const Solipass__Ledger__VoucherReleased *m,
                         sp_error *err) {
    assert(event != NULL);
    assert(m != NULL);
    event->amount_cents = m->amount_cents;
    event->envelope_balance_after_cents = m->envelope_balance_after_cents;
    event->pass_balance_after_cents = m->pass_balance_after_cents;
    bool cancelled = event->kind == SP_LEDGER_EVENT_VOUCHER_CANCELLED;
    if (take(event->voucher_id, sizeof event->voucher_id, m->voucher_id, "voucher id", err) != 0 ||
        take(event->category, sizeof event->category, m->category, "category", err) != 0 ||
        take_hash(event, &m->request_hash, cancelled, err) != 0) {
        return -1;
    }
    return take_posting(event, m->n_postings, m->postings, err);
}

static int take_cancelled(sp_ledger_event *event, const Solipass__Ledger__OperationCancelled *m,
                          sp_error *err) {
    assert(event != NULL);
    assert(m != NULL);
    event->amount_cents = m->amount_cents;
    event->envelope_balance_after_cents = m->envelope_balance_after_cents;
    event->pass_balance_after_cents = m->pass_balance_after_cents;
    if (take(event->operation_id, sizeof event->operation_id, m->operation_id, "operation id",
             err) != 0 ||
        take(event->partner_id, sizeof event->partner_id, m->partner_id, "partner id", err) != 0 ||
        take(event->category, sizeof event->category, m->category, "category", err) != 0 ||
        take(event->voucher_id, sizeof event->voucher_id, m->voucher_id, "voucher id", err) != 0 ||
        take(event->beneficiary_id, sizeof event->beneficiary_id, m->beneficiary_id,
             "beneficiary id", err) != 0 ||
        take_hash(event, &m->request_hash, true, err) != 0) {
        return -1;
    }
    return take_posting(event, m->n_postings, m->postings, err);
}

static int take_reference_set(sp_ledger_event *event,
                              const Solipass__Ledger__OperationReferenceSet *m, sp_error *err) {
    if (take(event->operation_id, sizeof event->operation_id, m->operation_id, "operation id",
             err) != 0 ||
        take(event->partner_id, sizeof event->partner_id, m->partner_id, "partner id", err) != 0 ||
        take(event->reference, sizeof event->reference, m->reference, "reference", err) != 0) {
        return -1;
    }
    return take_hash(event, &m->request_hash, true, err);
}

/* ---- refund events ---- */

static int take_refund_opened(sp_ledger_event *event,
                              const Solipass__Ledger__RefundRequestOpened *m, sp_error *err) {
    if (m->n_parts > SP_LEDGER_REFUND_PARTS_MAX) return malformed(err, "too many refund parts");
    int64_t operation_count = 0;
    for (size_t i = 0; i < m->n_parts; i++) {
        if (m->parts[i]->n_operation_ids > SP_LEDGER_REFUND_PART_OPERATIONS_MAX) {
            return malformed(err, "too many operations in a refund part");
        }
        operation_count += (int64_t)m->parts[i]->n_operation_ids;
    }
    if (operation_count != m->operation_count) {
        return malformed(err, "operation_count is not the parts' operations");
    }
    event->parts = NULL; /* the ledger keeps only the counts */
    event->part_count = m->n_parts;
    event->operation_count = m->operation_count;
    event->expected_total_cents = m->expected_total_cents;
    event->bank_account_missing = m->bank_account_missing;
    if (take(event->request_id, sizeof event->request_id, m->request_id, "request id", err) != 0 ||
        take(event->partner_id, sizeof event->partner_id, m->partner_id, "partner id", err) != 0 ||
        take(event->refund_kind, sizeof event->refund_kind, m->kind, "kind", err) != 0 ||
        take(event->period, sizeof event->period, m->period, "period", err) != 0) {
        return -1;
    }
    return take_hash(event, &m->request_hash, true, err);
}

static int take_refund_confirmed(sp_ledger_event *event,
                                 const Solipass__Ledger__RefundRequestConfirmed *m, sp_error *err) {
    assert(event != NULL);
    assert(m != NULL);
    event->total_cents = m->total_cents;
    event->operation_count = m->operation_count;
    if (take(event->request_id, sizeof event->request_id, m->request_id, "request id", err) != 0 ||
        take(event->partner_id, sizeof event->partner_id, m->partner_id, "partner id", err) != 0) {
        return -1;
    }
    return take_hash(event, &m->request_hash, true, err);
}

static int take_refund_cancelled(sp_ledger_event *event,
                                 const Solipass__Ledger__RefundRequestCancelled *m, sp_error *err) {
    if (take(event->request_id, sizeof event->request_id, m->request_id, "request id", err) != 0 ||
        take(event->partner_id, sizeof event->partner_id, m->partner_id, "partner id", err) != 0 ||
        take(event->reason, sizeof event->reason, m->reason, "reason", err) != 0 ||
        take(event->code, sizeof event->code, m->code, "code", err) != 0 ||
        take(event->message, sizeof event->message, m->message, "message", err) != 0 ||
        take(event->operation_id, sizeof event->operation_id, m->operation_id, "operation id",
             err) != 0) {
        return -1;
    }
    return take_hash(event, &m->request_hash, true, err);
}

static int take_refund_paid(sp_ledger_event *event, const Solipass__Ledger__RefundRequestPaid *m,
                            sp_error *err) {
    assert(event != NULL);
    assert(m != NULL);
    event->total_cents = m->total_cents;
    if (take(event->request_id, sizeof event->request_id, m->request_id, "request id", err) != 0 ||
        take(event->partner_id, sizeof event->partner_id, m->partner_id, "partner id", err) != 0 ||
        take(event->transfer_reference, sizeof event->transfer_reference, m->transfer_reference,
             "transfer reference", err) != 0 ||
        take(event->paid_on, sizeof event->paid_on, m->paid_on, "paid on", err) != 0) {
        return -1;
    }
    return take_hash(event, &m->request_hash, true, err);
}

static int take_part_changed(sp_ledger_event *event, const Solipass__Ledger__RefundPartChanged *m,
                             sp_error *err) {
    if (m->n_operation_ids > SP_LEDGER_REFUND_PART_OPERATIONS_MAX ||
        m->n_skipped_operation_ids > SP_LEDGER_REFUND_PART_OPERATIONS_MAX - m->n_operation_ids) {
        return malformed(err, "too many operations in a refund part");
    }
    event->amount_cents = m->amount_cents;
    event->changed_count = m->n_operation_ids;
    event->skipped_count = m->n_skipped_operation_ids;
    for (size_t i = 0; i < m->n_operation_ids + m->n_skipped_operation_ids; i++) {
        const char *id = i < m->n_operation_ids ? m->operation_ids[i]
                                                : m->skipped_operation_ids[i - m->n_operation_ids];
        if (take(event->operation_ids[i], sizeof event->operation_ids[i], id, "operation id",
                 err) != 0) {
            return -1;
        }
    }
    if (take(event->request_id, sizeof event->request_id, m->request_id, "request id", err) != 0 ||
        take(event->partner_id, sizeof event->partner_id, m->partner_id, "partner id", err) != 0 ||
        take_hash(event, &m->request_hash, true, err) != 0) {
        return -1;
    }
    return take_posting(event, m->n_postings, m->postings, err);
}

/* A PassClosed's postings back into its returns: every one credits the
 * budget; from an envelope of this pass, or from a voucher (ledger.proto). */
static int take_close_posting(sp_ledger_event *event, const Solipass__Ledger__Posting *p,
                              sp_error *err) {
    assert(event != NULL);
    assert(p != NULL);
    char prefix[SP_LEDGER_ACCOUNT_MAX + 1];
    sp_ledger_envelope_account(prefix, event->pass_id, "");
    const char *debit = text_or_empty(p->debit_account);
    if (strcmp(text_or_empty(p->credit_account), SP_LEDGER_BUDGET_ACCOUNT) != 0)
        return malformed(err, "a close posting does not credit the budget");
    if (strncmp(debit, prefix, strlen(prefix)) == 0) {
        if (event->envelope_count >= SP_LEDGER_ENVELOPES_MAX)
            return malformed(err, "too many envelope returns");
        size_t k = event->envelope_count++;
        event->close_envelope_cents[k] = p->amount_cents;
        return take(event->envelopes[k].category, sizeof event->envelopes[k].category,
                    debit + strlen(prefix), "category", err);
    }
    if (strncmp(debit, "voucher:", 8) == 0) {
        if (event->changed_count >= SP_LEDGER_CLOSE_VOUCHERS_MAX)
            return malformed(err, "too many voucher returns");
        size_t k = event->changed_count++;
        event->close_voucher_cents[k] = p->amount_cents;
        return take(event->operation_ids[k], SP_ID_LEN + 1, debit + 8, "voucher id", err);
    }
    return malformed(err, "a close posting from neither an envelope of the pass nor a voucher");
}

static int take_closed(sp_ledger_event *event, const Solipass__Ledger__PassClosed *m,
                       sp_error *err) {
    assert(event != NULL);
    assert(m != NULL);
    event->amount_cents = m->returned_cents;
    if (take(event->beneficiary_id, sizeof event->beneficiary_id, m->beneficiary_id,
             "beneficiary id", err) != 0 ||
        take(event->close_reason, sizeof event->close_reason, m->reason, "reason", err) != 0 ||
        take_hash(event, &m->request_hash, true, err) != 0) {
        return -1;
    }
    if (m->n_postings > SP_LEDGER_CLOSE_POSTINGS_MAX) return malformed(err, "too many postings");
    for (size_t i = 0; i < m->n_postings; i++) {
        if (take_close_posting(event, m->postings[i], err) != 0) return -1;
    }
    if (m->vouchers_cancelled != (int64_t)event->changed_count)
        return malformed(err, "vouchers_cancelled is not the count of voucher postings");
    return 0;
}

static const ProtobufCMessageDescriptor *event_descriptor(const char *type,
                                                          sp_ledger_event_kind *kind) {
    static const struct {
        const char *type;
        sp_ledger_event_kind kind;
        const ProtobufCMessageDescriptor *descriptor;
    } table[] = {
        {SP_LEDGER_TYPE_PASS_OPENED, SP_LEDGER_EVENT_PASS_OPENED,
         &solipass__ledger__pass_opened__descriptor},
        {SP_LEDGER_TYPE_PASS_CREDITED, SP_LEDGER_EVENT_PASS_CREDITED,
         &solipass__ledger__pass_credited__descriptor},
        {SP_LEDGER_TYPE_PAYMENT_ACCEPTED, SP_LEDGER_EVENT_PAYMENT_ACCEPTED,
         &solipass__ledger__payment_accepted__descriptor},
        {SP_LEDGER_TYPE_ENVELOPE_EXPIRED, SP_LEDGER_EVENT_ENVELOPE_EXPIRED,
         &solipass__ledger__envelope_expired__descriptor},
        {SP_LEDGER_TYPE_COMMAND_REJECTED, SP_LEDGER_EVENT_COMMAND_REJECTED,
         &solipass__ledger__command_rejected__descriptor},
        {SP_LEDGER_TYPE_VOUCHER_ISSUED, SP_LEDGER_EVENT_VOUCHER_ISSUED,
         &solipass__ledger__voucher_issued__descriptor},
        {SP_LEDGER_TYPE_VOUCHER_REDEEMED, SP_LEDGER_EVENT_VOUCHER_REDEEMED,
         &solipass__ledger__voucher_redeemed__descriptor},
        {SP_LEDGER_TYPE_VOUCHER_CANCELLED, SP_LEDGER_EVENT_VOUCHER_CANCELLED,
         &solipass__ledger__voucher_released__descriptor},
        {SP_LEDGER_TYPE_VOUCHER_EXPIRED, SP_LEDGER_EVENT_VOUCHER_EXPIRED,
         &solipass__ledger__voucher_released__descriptor},
        {SP_LEDGER_TYPE_OPERATION_CANCELLED, SP_LEDGER_EVENT_OPERATION_CANCELLED,
         &solipass__ledger__operation_cancelled__descriptor},
        {SP_LEDGER_TYPE_OPERATION_REFERENCE_SET, SP_LEDGER_EVENT_OPERATION_REFERENCE_SET,
         &solipass__ledger__operation_reference_set__descriptor},
        {SP_LEDGER_TYPE_REFUND_REQUEST_OPENED, SP_LEDGER_EVENT_REFUND_REQUEST_OPENED,
         &solipass__ledger__refund_request_opened__descriptor},
        {SP_LEDGER_TYPE_REFUND_REQUEST_CONFIRMED, SP_LEDGER_EVENT_REFUND_REQUEST_CONFIRMED,
         &solipass__ledger__refund_request_confirmed__descriptor},
        {SP_LEDGER_TYPE_REFUND_REQUEST_CANCELLED, SP_LEDGER_EVENT_REFUND_REQUEST_CANCELLED,
         &solipass__ledger__refund_request_cancelled__descriptor},
        {SP_LEDGER_TYPE_REFUND_REQUEST_PAID, SP_LEDGER_EVENT_REFUND_REQUEST_PAID,
         &solipass__ledger__refund_request_paid__descriptor},
        {SP_LEDGER_TYPE_OPERATIONS_RESERVED, SP_LEDGER_EVENT_OPERATIONS_RESERVED,
         &solipass__ledger__refund_part_changed__descriptor},
        {SP_LEDGER_TYPE_OPERATIONS_RELEASED, SP_LEDGER_EVENT_OPERATIONS_RELEASED,
         &solipass__ledger__refund_part_changed__descriptor},
        {SP_LEDGER_TYPE_OPERATIONS_SETTLED, SP_LEDGER_EVENT_OPERATIONS_SETTLED,
         &solipass__ledger__refund_part_changed__descriptor},
        {SP_LEDGER_TYPE_PASS_CLOSED, SP_LEDGER_EVENT_PASS_CLOSED,
         &solipass__ledger__pass_closed__descriptor},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(type, table[i].type) == 0) {
            *kind = table[i].kind;
            return table[i].descriptor;
        }
    }
    return NULL;
}

/* The aggregate id every ledger event payload names: its pass id, or its
 * request id for a refund request's own events. */
static const char *payload_pass_id(sp_ledger_event_kind kind, const ProtobufCMessage *payload) {
    switch (kind) {
    case SP_LEDGER_EVENT_REFUND_REQUEST_OPENED:
        return ((const Solipass__Ledger__RefundRequestOpened *)payload)->request_id;
    case SP_LEDGER_EVENT_REFUND_REQUEST_CONFIRMED:
        return ((const Solipass__Ledger__RefundRequestConfirmed *)payload)->request_id;
    case SP_LEDGER_EVENT_REFUND_REQUEST_CANCELLED:
        return ((const Solipass__Ledger__RefundRequestCancelled *)payload)->request_id;
    case SP_LEDGER_EVENT_REFUND_REQUEST_PAID:
        return ((const Solipass__Ledger__RefundRequestPaid *)payload)->request_id;
    case SP_LEDGER_EVENT_OPERATIONS_RESERVED:
    case SP_LEDGER_EVENT_OPERATIONS_RELEASED:
    case SP_LEDGER_EVENT_OPERATIONS_SETTLED:
        return ((const Solipass__Ledger__RefundPartChanged *)payload)->pass_id;
    case SP_LEDGER_EVENT_PASS_OPENED:
        return ((const Solipass__Ledger__PassOpened *)payload)->pass_id;
    case SP_LEDGER_EVENT_PASS_CREDITED:
        return ((const Solipass__Ledger__PassCredited *)payload)->pass_id;
    case SP_LEDGER_EVENT_PAYMENT_ACCEPTED:
        return ((const Solipass__Ledger__PaymentAccepted *)payload)->pass_id;
    case SP_LEDGER_EVENT_ENVELOPE_EXPIRED:
        return ((const Solipass__Ledger__EnvelopeExpired *)payload)->pass_id;
    case SP_LEDGER_EVENT_COMMAND_REJECTED:
        return ((const Solipass__Ledger__CommandRejected *)payload)->pass_id;
    case SP_LEDGER_EVENT_VOUCHER_ISSUED:
        return ((const Solipass__Ledger__VoucherIssued *)payload)->pass_id;
    case SP_LEDGER_EVENT_VOUCHER_REDEEMED:
        return ((const Solipass__Ledger__VoucherRedeemed *)payload)->pass_id;
    case SP_LEDGER_EVENT_VOUCHER_CANCELLED:
    case SP_LEDGER_EVENT_VOUCHER_EXPIRED:
        return ((const Solipass__Ledger__VoucherReleased *)payload)->pass_id;
    case SP_LEDGER_EVENT_OPERATION_CANCELLED:
        return ((const Solipass__Ledger__OperationCancelled *)payload)->pass_id;
    case SP_LEDGER_EVENT_OPERATION_REFERENCE_SET:
        return ((const Solipass__Ledger__OperationReferenceSet *)payload)->pass_id;
    case SP_LEDGER_EVENT_PASS_CLOSED:
        return ((const Solipass__Ledger__PassClosed *)payload)->pass_id;
    }
    return "";
}

static int take_payload(sp_ledger_event *event, const ProtobufCMessage *payload, sp_error *err) {
    switch (event->kind) {
    case SP_LEDGER_EVENT_PASS_OPENED:
        return take_opened(event, (const Solipass__Ledger__PassOpened *)payload, err);
    case SP_LEDGER_EVENT_PASS_CREDITED:
        return take_credited(event, (const Solipass__Ledger__PassCredited *)payload, err);
    case SP_LEDGER_EVENT_PAYMENT_ACCEPTED:
        return take_payment(event, (const Solipass__Ledger__PaymentAccepted *)payload, err);
    case SP_LEDGER_EVENT_ENVELOPE_EXPIRED:
        return take_expired(event, (const Solipass__Ledger__EnvelopeExpired *)payload, err);
    case SP_LEDGER_EVENT_COMMAND_REJECTED:
        return take_rejected(event, (const Solipass__Ledger__CommandRejected *)payload, err);
    case SP_LEDGER_EVENT_VOUCHER_ISSUED:
        return take_issued(event, (const Solipass__Ledger__VoucherIssued *)payload, err);
    case SP_LEDGER_EVENT_VOUCHER_REDEEMED:
        return take_redeemed(event, (const Solipass__Ledger__VoucherRedeemed *)payload, err);
    case SP_LEDGER_EVENT_VOUCHER_CANCELLED:
    case SP_LEDGER_EVENT_VOUCHER_EXPIRED:
        return take_released(event, (const Solipass__Ledger__VoucherReleased *)payload, err);
    case SP_LEDGER_EVENT_OPERATION_CANCELLED:
        return take_cancelled(event, (const Solipass__Ledger__OperationCancelled *)payload, err);
    case SP_LEDGER_EVENT_OPERATION_REFERENCE_SET:
        return take_reference_set(event, (const Solipass__Ledger__OperationReferenceSet *)payload,
                                  err);
    case SP_LEDGER_EVENT_REFUND_REQUEST_OPENED:
        return take_refund_opened(event, (const Solipass__Ledger__RefundRequestOpened *)payload,
                                  err);
    case SP_LEDGER_EVENT_REFUND_REQUEST_CONFIRMED:
        return take_refund_confirmed(event,
                                     (const Solipass__Ledger__RefundRequestConfirmed *)payload,
                                     err);
    case SP_LEDGER_EVENT_REFUND_REQUEST_CANCELLED:
        return take_refund_cancelled(event,
                                     (const Solipass__Ledger__RefundRequestCancelled *)payload,
                                     err);
    case SP_LEDGER_EVENT_REFUND_REQUEST_PAID:
        return take_refund_paid(event, (const Solipass__Ledger__RefundRequestPaid *)payload, err);
    case SP_LEDGER_EVENT_OPERATIONS_RESERVED:
    case SP_LEDGER_EVENT_OPERATIONS_RELEASED:
    case SP_LEDGER_EVENT_OPERATIONS_SETTLED:
        return take_part_changed(event, (const Solipass__Ledger__RefundPartChanged *)payload, err);
    case SP_LEDGER_EVENT_PASS_CLOSED:
        return take_closed(event, (const Solipass__Ledger__PassClosed *)payload, err);
    }
    return malformed(err, "unknown event kind");
}

static int take_envelope_fields(sp_ledger_event *event, const Solipass__Envelope *envelope,
                                sp_error *err) {
    assert(event != NULL);
    assert(envelope != NULL);
    event->version = envelope->aggregate_version;
    event->occurred_at_ms = envelope->occurred_at_ms;
    if (take(event->pass_id, sizeof event->pass_id, envelope->aggregate_id, "aggregate id", err) !=
            0 ||
        take(event->command_id, sizeof event->command_id, envelope->command_id, "command id",
             err) != 0 ||
        take(event->actor_id, sizeof event->actor_id, envelope->actor_id, "actor id", err) != 0 ||
        take(event->actor_role, sizeof event->actor_role, envelope->actor_role, "actor role",
             err) != 0) {
        return -1;
    }
    if (!sp_id_valid(event->pass_id)) return malformed(err, "aggregate id is not a uuid");
    if (event->actor_id[0] != '\0' && !sp_id_valid(event->actor_id)) {
        return malformed(err, "actor id is not a uuid");
    }
    if (event->occurred_at_ms < 0) return malformed(err, "negative occurred_at_ms");
    return 0;
}

int sp_ledger_event_from_envelope(const Solipass__Envelope *envelope, sp_ledger_event *event,
                                  sp_error *err) {
    assert(envelope != NULL);
    assert(event != NULL);
    sp_ledger_event_clear(event);
    const ProtobufCMessageDescriptor *descriptor = event_descriptor(text_or_empty(envelope->type),
                                                                    &event->kind);
    if (descriptor == NULL) {
        return sp_error_set(err, 400, "unknown_type", NULL, "not a ledger event type: '%.64s'",
                            text_or_empty(envelope->type));
    }
    if (take_envelope_fields(event, envelope, err) != 0) return -1;
    ProtobufCMessage *payload = protobuf_c_message_unpack(descriptor, NULL, envelope->payload.len,
                                                          envelope->payload.data);
    if (payload == NULL) return malformed(err, "undecodable event payload");
    int rc = take_payload(event, payload, err);
    if (rc == 0 &&
        strcmp(text_or_empty(payload_pass_id(event->kind, payload)), event->pass_id) != 0) {
        rc = malformed(err, "the envelope's aggregate id is not the event's pass id");
    }
    protobuf_c_message_free_unpacked(payload, NULL);
    return rc;
}

/* ------------------------------------------------------------ events out */

static void postings_to_pb(const sp_ledger_event *event, sp_ledger_event_pb *holder,
                           size_t *n_postings, Solipass__Ledger__Posting ***postings) {
    assert(event != NULL);
    assert(event->posting_count <= 1);
    for (size_t i = 0; i < event->posting_count; i++) {
        solipass__ledger__posting__init(&holder->postings[i]);
        holder->postings[i].debit_account = borrow(event->postings[i].debit_account);
        holder->postings[i].credit_account = borrow(event->postings[i].credit_account);
        holder->postings[i].amount_cents = event->postings[i].amount_cents;
        holder->posting_ptrs[i] = &holder->postings[i];
    }
    *n_postings = event->posting_count;
    *postings = event->posting_count > 0 ? holder->posting_ptrs : NULL;
}

static const ProtobufCMessage *opened_to_pb(const sp_ledger_event *event,
                                            sp_ledger_event_pb *holder) {
    assert(event != NULL);
    assert(holder != NULL);
    assert(event->kind == SP_LEDGER_EVENT_PASS_OPENED);
    Solipass__Ledger__PassOpened *m = &holder->opened;
    solipass__ledger__pass_opened__init(m);
    m->pass_id = borrow(event->pass_id);
    m->beneficiary_id = borrow(event->beneficiary_id);
    assert(event->envelope_count <= SP_LEDGER_ENVELOPES_MAX);
    for (size_t i = 0; i < event->envelope_count; i++) {
        solipass__ledger__envelope_spec__init(&holder->specs[i]);
        holder->specs[i].category = borrow(event->envelopes[i].category);
        holder->specs[i].end_date = borrow(event->envelopes[i].end_date);
        holder->spec_ptrs[i] = &holder->specs[i];
    }
    m->n_envelopes = event->envelope_count;
    m->envelopes = holder->spec_ptrs;
    return &m->base;
}

static const ProtobufCMessage *credited_to_pb(const sp_ledger_event *event,
                                              sp_ledger_event_pb *holder) {
    assert(event != NULL);
    assert(holder != NULL);
    assert(event->kind == SP_LEDGER_EVENT_PASS_CREDITED);
    Solipass__Ledger__PassCredited *m = &holder->credited;
    solipass__ledger__pass_credited__init(m);
    m->operation_id = borrow(event->operation_id);
    m->pass_id = borrow(event->pass_id);
    m->category = borrow(event->category);
    m->amount_cents = event->amount_cents;
    m->envelope_balance_after_cents = event->envelope_balance_after_cents;
    m->pass_balance_after_cents = event->pass_balance_after_cents;
    m->end_date = borrow(event->end_date);
    m->envelope_opened = event->envelope_opened;
    m->requested_end_date = borrow(event->requested_end_date);
    postings_to_pb(event, holder, &m->n_postings, &m->postings);
    return &m->base;
}

static const ProtobufCMessage *payment_to_pb(const sp_ledger_event *event,
                                             sp_ledger_event_pb *holder) {
    assert(event != NULL);
    assert(holder != NULL);
    assert(event->kind == SP_LEDGER_EVENT_PAYMENT_ACCEPTED);
    Solipass__Ledger__PaymentAccepted *m = &holder->payment;
    solipass__ledger__payment_accepted__init(m);
    m->operation_id = borrow(event->operation_id);
    m->pass_id = borrow(event->pass_id);
    m->partner_id = borrow(event->partner_id);
    m->partner_code = borrow(event->partner_code);
    m->category = borrow(event->category);
    m->amount_cents = event->amount_cents;
    m->envelope_balance_after_cents = event->envelope_balance_after_cents;
    m->pass_balance_after_cents = event->pass_balance_after_cents;
    m->beneficiary_id = borrow(event->beneficiary_id);
    if (event->has_receipt) {
        m->receipt_key_id = event->receipt_key_id;
        m->receipt_signature.len = sizeof event->receipt_signature;
        m->receipt_signature.data = (uint8_t *)event->receipt_signature;
    }
    postings_to_pb(event, holder, &m->n_postings, &m->postings);
    return &m->base;
}

static const ProtobufCMessage *expired_to_pb(const sp_ledger_event *event,
                                             sp_ledger_event_pb *holder) {
    assert(event != NULL);
    assert(holder != NULL);
    assert(event->kind == SP_LEDGER_EVENT_ENVELOPE_EXPIRED);
    Solipass__Ledger__EnvelopeExpired *m = &holder->expired;
    solipass__ledger__envelope_expired__init(m);
    m->operation_id = borrow(event->operation_id);
    m->pass_id = borrow(event->pass_id);
    m->category = borrow(event->category);
    m->end_date = borrow(event->end_date);
    m->returned_cents = event->amount_cents;
    m->pass_balance_after_cents = event->pass_balance_after_cents;
    postings_to_pb(event, holder, &m->n_postings, &m->postings);
    return &m->base;
}

static const ProtobufCMessage *rejected_to_pb(const sp_ledger_event *event,
                                              sp_ledger_event_pb *holder) {
    assert(event != NULL);
    assert(holder != NULL);
    assert(event->kind == SP_LEDGER_EVENT_COMMAND_REJECTED);
    Solipass__Ledger__CommandRejected *m = &holder->rejected;
    solipass__ledger__command_rejected__init(m);
    m->pass_id = borrow(event->pass_id);
    m->command_type = borrow(event->command_type);
    m->code = borrow(event->code);
    m->message = borrow(event->message);
    m->field = borrow(event->field);
    m->request_hash.len = SP_KEY_LEN;
    m->request_hash.data = (uint8_t *)event->request_hash;
    m->request_id = borrow(event->request_id);
    m->operation_id = borrow(event->operation_id);
    return &m->base;
}

static ProtobufCBinaryData hash_of(const sp_ledger_event *event, bool set) {
    assert(event != NULL);
    ProtobufCBinaryData hash = {.len = set ? SP_KEY_LEN : 0,
                                .data = set ? (uint8_t *)event->request_hash : NULL};
    return hash;
}

static const ProtobufCMessage *issued_to_pb(const sp_ledger_event *event,
                                            sp_ledger_event_pb *holder) {
    assert(event != NULL);
    assert(holder != NULL);
    assert(event->kind == SP_LEDGER_EVENT_VOUCHER_ISSUED);
    Solipass__Ledger__VoucherIssued *m = &holder->issued;
    solipass__ledger__voucher_issued__init(m);
    m->voucher_id = borrow(event->voucher_id);
    m->pass_id = borrow(event->pass_id);
    m->voucher_number = borrow(event->voucher_number);
    m->category = borrow(event->category);
    m->amount_cents = event->amount_cents;
    m->valid_until = borrow(event->valid_until);
    m->partner_id = borrow(event->partner_id);
    m->partner_code = borrow(event->partner_code);
    m->envelope_balance_after_cents = event->envelope_balance_after_cents;
    m->pass_balance_after_cents = event->pass_balance_after_cents;
    m->beneficiary_id = borrow(event->beneficiary_id);
    m->request_hash = hash_of(event, true);
    postings_to_pb(event, holder, &m->n_postings, &m->postings);
    return &m->base;
}

static const ProtobufCMessage *redeemed_to_pb(const sp_ledger_event *event,
                                              sp_ledger_event_pb *holder) {
    assert(event != NULL);
    assert(holder != NULL);
    assert(event->kind == SP_LEDGER_EVENT_VOUCHER_REDEEMED);
    Solipass__Ledger__VoucherRedeemed *m = &holder->redeemed;
    solipass__ledger__voucher_redeemed__init(m);
    m->operation_id = borrow(event->operation_id);
    m->voucher_id = borrow(event->voucher_id);
    m->pass_id = borrow(event->pass_id);
    m->partner_id = borrow(event->partner_id);
    m->partner_code = borrow(event->partner_code);
    m->category = borrow(event->category);
    m->amount_cents = event->amount_cents;
    m->pass_balance_after_cents = event->pass_balance_after_cents;
    m->beneficiary_id = borrow(event->beneficiary_id);
    m->request_hash = hash_of(event, true);
    postings_to_pb(event, holder, &m->n_postings, &m->postings);
    return &m->base;
}

static const ProtobufCMessage *released_to_pb(const sp_ledger_event *event,
                                              sp_ledger_event_pb *holder) {
    assert(event != NULL);
    assert(holder != NULL);
    assert(event->kind == SP_LEDGER_EVENT_VOUCHER_CANCELLED ||
           event->kind == SP_LEDGER_EVENT_VOUCHER_EXPIRED);
    Solipass__Ledger__VoucherReleased *m = &holder->released;
    solipass__ledger__voucher_released__init(m);
    m->voucher_id = borrow(event->voucher_id);
    m->pass_id = borrow(event->pass_id);
    m->category = borrow(event->category);
    m->amount_cents = event->amount_cents;
    m->envelope_balance_after_cents = event->envelope_balance_after_cents;
    m->pass_balance_after_cents = event->pass_balance_after_cents;
    m->request_hash = hash_of(event, event->kind == SP_LEDGER_EVENT_VOUCHER_CANCELLED);
    postings_to_pb(event, holder, &m->n_postings, &m->postings);
    return &m->base;
}

static const ProtobufCMessage *cancelled_to_pb(const sp_ledger_event *event,
                                               sp_ledger_event_pb *holder) {
    assert(event != NULL);
    assert(holder != NULL);
    assert(event->kind == SP_LEDGER_EVENT_OPERATION_CANCELLED);
    Solipass__Ledger__OperationCancelled *m = &holder->cancelled;
    solipass__ledger__operation_cancelled__init(m);
    m->operation_id = borrow(event->operation_id);
    m->pass_id = borrow(event->pass_id);
    m->partner_id = borrow(event->partner_id);
    m->category = borrow(event->category);
    m->amount_cents = event->amount_cents;
    m->envelope_balance_after_cents = event->envelope_balance_after_cents;
    m->pass_balance_after_cents = event->pass_balance_after_cents;
    m->voucher_id = borrow(event->voucher_id);
    m->beneficiary_id = borrow(event->beneficiary_id);
    m->request_hash = hash_of(event, true);
    postings_to_pb(event, holder, &m->n_postings, &m->postings);
    return &m->base;
}

static const ProtobufCMessage *reference_set_to_pb(const sp_ledger_event *event,
                                                   sp_ledger_event_pb *holder) {
    assert(event != NULL);
    assert(holder != NULL);
    assert(event->kind == SP_LEDGER_EVENT_OPERATION_REFERENCE_SET);
    Solipass__Ledger__OperationReferenceSet *m = &holder->reference_set;
    solipass__ledger__operation_reference_set__init(m);
    m->operation_id = borrow(event->operation_id);
    m->pass_id = borrow(event->pass_id);
    m->partner_id = borrow(event->partner_id);
    m->reference = borrow(event->reference);
    m->request_hash = hash_of(event, true);
    return &m->base;
}

/* ---- refund events ---- */

/* NULL when out of memory, or for an event decoded from the log (its parts
 * are not kept: it is never produced again). */
static const ProtobufCMessage *refund_opened_to_pb(const sp_ledger_event *event,
                                                   sp_ledger_event_pb *holder) {
    assert(event->kind == SP_LEDGER_EVENT_REFUND_REQUEST_OPENED);
    if (event->parts == NULL || event->part_count == 0) return NULL;
    holder->refund_parts = calloc(event->part_count, sizeof *holder->refund_parts);
    holder->refund_part_ptrs = calloc(event->part_count, sizeof *holder->refund_part_ptrs);
    if (holder->refund_parts == NULL || holder->refund_part_ptrs == NULL) return NULL;
    for (size_t i = 0; i < event->part_count; i++) {
        Solipass__Ledger__RefundPart *part = &holder->refund_parts[i];
        solipass__ledger__refund_part__init(part);
        part->pass_id = borrow(event->parts[i].pass_id);
        part->n_operation_ids = event->parts[i].operation_id_count;
        part->operation_ids = (char **)event->parts[i].operation_ids;
        holder->refund_part_ptrs[i] = part;
    }
    Solipass__Ledger__RefundRequestOpened *m = &holder->refund_opened;
    solipass__ledger__refund_request_opened__init(m);
    m->request_id = borrow(event->request_id);
    m->partner_id = borrow(event->partner_id);
    m->kind = borrow(event->refund_kind);
    m->period = borrow(event->period);
    m->n_parts = event->part_count;
    m->parts = holder->refund_part_ptrs;
    m->expected_total_cents = event->expected_total_cents;
    m->operation_count = event->operation_count;
    m->bank_account_missing = event->bank_account_missing;
    m->request_hash = hash_of(event, true);
    return &m->base;
}

static const ProtobufCMessage *refund_request_to_pb(const sp_ledger_event *event,
                                                    sp_ledger_event_pb *holder) {
    assert(event->kind == SP_LEDGER_EVENT_REFUND_REQUEST_CONFIRMED ||
           event->kind == SP_LEDGER_EVENT_REFUND_REQUEST_CANCELLED ||
           event->kind == SP_LEDGER_EVENT_REFUND_REQUEST_PAID);
    if (event->kind == SP_LEDGER_EVENT_REFUND_REQUEST_CONFIRMED) {
        Solipass__Ledger__RefundRequestConfirmed *m = &holder->refund_confirmed;
        solipass__ledger__refund_request_confirmed__init(m);
        m->request_id = borrow(event->request_id);
        m->partner_id = borrow(event->partner_id);
        m->total_cents = event->total_cents;
        m->operation_count = event->operation_count;
        m->request_hash = hash_of(event, true);
        return &m->base;
    }
    if (event->kind == SP_LEDGER_EVENT_REFUND_REQUEST_CANCELLED) {
        Solipass__Ledger__RefundRequestCancelled *m = &holder->refund_cancelled;
        solipass__ledger__refund_request_cancelled__init(m);
        m->request_id = borrow(event->request_id);
        m->partner_id = borrow(event->partner_id);
        m->reason = borrow(event->reason);
        m->code = borrow(event->code);
        m->message = borrow(event->message);
        m->operation_id = borrow(event->operation_id);
        m->request_hash = hash_of(event, true);
        return &m->base;
    }
    Solipass__Ledger__RefundRequestPaid *m = &holder->refund_paid;
    solipass__ledger__refund_request_paid__init(m);
    m->request_id = borrow(event->request_id);
    m->partner_id = borrow(event->partner_id);
    m->total_cents = event->total_cents;
    m->transfer_reference = borrow(event->transfer_reference);
    m->paid_on = borrow(event->paid_on);
    m->request_hash = hash_of(event, true);
    return &m->base;
}

static const ProtobufCMessage *part_changed_to_pb(const sp_ledger_event *event,
                                                  sp_ledger_event_pb *holder) {
    assert(event != NULL);
    assert(holder != NULL);
    assert(event->changed_count + event->skipped_count <= SP_LEDGER_REFUND_PART_OPERATIONS_MAX);
    assert(event->kind == SP_LEDGER_EVENT_OPERATIONS_RESERVED ||
           event->kind == SP_LEDGER_EVENT_OPERATIONS_RELEASED ||
           event->kind == SP_LEDGER_EVENT_OPERATIONS_SETTLED);
    Solipass__Ledger__RefundPartChanged *m = &holder->part_changed;
    solipass__ledger__refund_part_changed__init(m);
    for (size_t i = 0; i < event->changed_count + event->skipped_count; i++) {
        holder->operation_id_ptrs[i] = borrow(event->operation_ids[i]);
    }
    m->pass_id = borrow(event->pass_id);
    m->request_id = borrow(event->request_id);
    m->partner_id = borrow(event->partner_id);
    m->n_operation_ids = event->changed_count;
    m->operation_ids = event->changed_count > 0 ? holder->operation_id_ptrs : NULL;
    m->amount_cents = event->amount_cents;
    m->n_skipped_operation_ids = event->skipped_count;
    m->skipped_operation_ids = event->skipped_count > 0
                                   ? holder->operation_id_ptrs + event->changed_count
                                   : NULL;
    m->request_hash = hash_of(event, true);
    postings_to_pb(event, holder, &m->n_postings, &m->postings);
    return &m->base;
}

static const ProtobufCMessage *closed_to_pb(const sp_ledger_event *event,
                                            sp_ledger_event_pb *holder) {
    assert(event != NULL);
    assert(holder != NULL);
    assert(event->kind == SP_LEDGER_EVENT_PASS_CLOSED);
    Solipass__Ledger__PassClosed *m = &holder->closed;
    solipass__ledger__pass_closed__init(m);
    m->pass_id = borrow(event->pass_id);
    m->beneficiary_id = borrow(event->beneficiary_id);
    m->reason = borrow(event->close_reason);
    m->returned_cents = event->amount_cents;
    m->vouchers_cancelled = (int64_t)event->changed_count;
    m->request_hash = hash_of(event, true);
    size_t count = event->envelope_count + event->changed_count;
    if (count == 0) return &m->base;
    holder->close_postings = calloc(SP_LEDGER_CLOSE_POSTINGS_MAX, sizeof *holder->close_postings);
    holder->close_pb = calloc(count, sizeof *holder->close_pb);
    holder->close_pb_ptrs = calloc(count, sizeof *holder->close_pb_ptrs);
    if (holder->close_postings == NULL || holder->close_pb == NULL || holder->close_pb_ptrs == NULL)
        return NULL;
    size_t n = sp_ledger_close_postings(event, holder->close_postings);
    assert(n == count);
    for (size_t i = 0; i < n; i++) {
        solipass__ledger__posting__init(&holder->close_pb[i]);
        holder->close_pb[i].debit_account = borrow(holder->close_postings[i].debit_account);
        holder->close_pb[i].credit_account = borrow(holder->close_postings[i].credit_account);
        holder->close_pb[i].amount_cents = holder->close_postings[i].amount_cents;
        holder->close_pb_ptrs[i] = &holder->close_pb[i];
    }
    m->n_postings = n;
    m->postings = holder->close_pb_ptrs;
    return &m->base;
}

void sp_ledger_event_pb_release(sp_ledger_event_pb *holder) {
    if (holder == NULL) return;
    free(holder->close_postings);
    free(holder->close_pb);
    free(holder->close_pb_ptrs);
    holder->close_postings = NULL;
    holder->close_pb = NULL;
    holder->close_pb_ptrs = NULL;
    free(holder->refund_parts);
    free(holder->refund_part_ptrs);
    holder->refund_parts = NULL;
    holder->refund_part_ptrs = NULL;
}

const ProtobufCMessage *sp_ledger_event_to_pb(const sp_ledger_event *event,
                                              sp_ledger_event_pb *holder) {
    assert(event != NULL);
    assert(holder != NULL);
    holder->refund_parts = NULL;
    holder->refund_part_ptrs = NULL;
    holder->close_postings = NULL;
    holder->close_pb = NULL;
    holder->close_pb_ptrs = NULL;
    switch (event->kind) {
    case SP_LEDGER_EVENT_PASS_OPENED: return opened_to_pb(event, holder);
    case SP_LEDGER_EVENT_PASS_CREDITED: return credited_to_pb(event, holder);
    case SP_LEDGER_EVENT_PAYMENT_ACCEPTED: return payment_to_pb(event, holder);
    case SP_LEDGER_EVENT_ENVELOPE_EXPIRED: return expired_to_pb(event, holder);
    case SP_LEDGER_EVENT_COMMAND_REJECTED: return rejected_to_pb(event, holder);
    case SP_LEDGER_EVENT_VOUCHER_ISSUED: return issued_to_pb(event, holder);
    case SP_LEDGER_EVENT_VOUCHER_REDEEMED: return redeemed_to_pb(event, holder);
    case SP_LEDGER_EVENT_VOUCHER_CANCELLED:
    case SP_LEDGER_EVENT_VOUCHER_EXPIRED: return released_to_pb(event, holder);
    case SP_LEDGER_EVENT_OPERATION_CANCELLED: return cancelled_to_pb(event, holder);
    case SP_LEDGER_EVENT_OPERATION_REFERENCE_SET: return reference_set_to_pb(event, holder);
    case SP_LEDGER_EVENT_REFUND_REQUEST_OPENED: return refund_opened_to_pb(event, holder);
    case SP_LEDGER_EVENT_REFUND_REQUEST_CONFIRMED:
    case SP_LEDGER_EVENT_REFUND_REQUEST_CANCELLED:
    case SP_LEDGER_EVENT_REFUND_REQUEST_PAID: return refund_request_to_pb(event, holder);
    case SP_LEDGER_EVENT_OPERATIONS_RESERVED:
    case SP_LEDGER_EVENT_OPERATIONS_RELEASED:
    case SP_LEDGER_EVENT_OPERATIONS_SETTLED: return part_changed_to_pb(event, holder);
    case SP_LEDGER_EVENT_PASS_CLOSED: return closed_to_pb(event, holder);
    }
    assert(!"unknown ledger event kind");
    return NULL;
}

void sp_ledger_event_meta(const sp_ledger_event *event, const char *causation_id,
                          sp_envelope_meta *meta) {
    assert(event != NULL);
    assert(meta != NULL);
    memset(meta, 0, sizeof *meta);
    meta->type = sp_ledger_event_type(event->kind);
    meta->aggregate_id = event->pass_id;
    meta->aggregate_version = event->version;
    meta->occurred_at_ms = event->occurred_at_ms;
    meta->command_id = event->command_id;
    meta->causation_id = text_or_empty(causation_id);
    meta->reply_to = "";
    meta->actor_id = event->actor_id;
    meta->actor_role = event->actor_role;
}

/* ------------------------------------------------------------ replies */

const ProtobufCMessage *sp_ledger_reply_of_record(const sp_ledger_record *record, bool replayed,
                                                  sp_ledger_reply_pb *holder) {
    assert(record != NULL);
    assert(holder != NULL);
    solipass__reply__init(&holder->reply);
    Solipass__Reply *reply = &holder->reply;
    reply->ok = record->ok;
    reply->code = record->code;
    reply->message = record->message;
    reply->field = record->field;
    reply->result_json = record->result_json;
    reply->replayed = replayed;
    reply->http_status = record->http_status;
    if (record->has_event_ref) {
        solipass__event_ref__init(&holder->ref);
        holder->ref.topic = borrow(SP_TOPIC_LEDGER_EVENTS);
        holder->ref.partition = record->event_partition;
        holder->ref.offset = record->event_offset;
        holder->ref_ptrs[0] = &holder->ref;
        reply->n_events = 1;
        reply->events = holder->ref_ptrs;
    }
    return &reply->base;
}

const ProtobufCMessage *sp_ledger_reply_of_error(const sp_error *error,
                                                 sp_ledger_reply_pb *holder) {
    assert(error != NULL);
    assert(holder != NULL);
    solipass__reply__init(&holder->reply);
    Solipass__Reply *reply = &holder->reply;
    reply->ok = false;
    reply->code = borrow(error->code);
    reply->message = borrow(error->message);
    reply->field = borrow(error->field);
    reply->http_status = error->http_status;
    return &reply->base;
}

/* ------------------------------------------------------------ partners */

static int directory_apply_convention(sp_ledger_directory *dir, const Solipass__Envelope *envelope,
                                      bool *added, sp_error *err) {
    assert(envelope != NULL);
    Solipass__Accounts__ConventionPublished *m = solipass__accounts__convention_published__unpack(
        NULL, envelope->payload.len, envelope->payload.data);
    if (m == NULL) return malformed(err, "undecodable ConventionPublished payload");
    int rc = sp_ledger_directory_add_convention(dir, m->convention_id, m->title, m->version,
                                                m->effective_date, m->mandatory, err);
    solipass__accounts__convention_published__free_unpacked(m, NULL);
    if (rc == 0) *added = true;
    return rc;
}

static int directory_apply_acceptance(sp_ledger_directory *dir, const Solipass__Envelope *envelope,
                                      bool *added, sp_error *err) {
    assert(envelope != NULL);
    Solipass__Accounts__ConventionAccepted *m = solipass__accounts__convention_accepted__unpack(
        NULL, envelope->payload.len, envelope->payload.data);
    if (m == NULL) return malformed(err, "undecodable ConventionAccepted payload");
    int rc = sp_ledger_directory_accept(dir, m->partner_id, m->convention_id, err);
    solipass__accounts__convention_accepted__free_unpacked(m, NULL);
    if (rc == 0) *added = true;
    return rc;
}

int sp_ledger_directory_apply_envelope(sp_ledger_directory *dir, const Solipass__Envelope *envelope,
                                       bool *added, sp_error *err) {
    assert(dir != NULL);
    assert(envelope != NULL);
    assert(added != NULL);
    *added = false;
    const char *type = text_or_empty(envelope->type);
    if (strcmp(type, ACCOUNTS_TYPE_CONVENTION_PUBLISHED) == 0) {
        return directory_apply_convention(dir, envelope, added, err);
    }
    if (strcmp(type, ACCOUNTS_TYPE_CONVENTION_ACCEPTED) == 0) {
        return directory_apply_acceptance(dir, envelope, added, err);
    }
    if (strcmp(type, ACCOUNTS_TYPE_PARTNER_CREATED) != 0) return 0;
    Solipass__Accounts__PartnerCreated *m = solipass__accounts__partner_created__unpack(
        NULL, envelope->payload.len, envelope->payload.data);
    if (m == NULL) return malformed(err, "undecodable PartnerCreated payload");
    int rc = sp_ledger_directory_add(dir, m->partner_id, m->partner_code, m->name, m->category,
                                     err);
    solipass__accounts__partner_created__free_unpacked(m, NULL);
    if (rc == 0) *added = true;
    return rc;
}
