/* solipass-audit - proves the ledger from its log, then compares the read
 * models with it.
 *
 * Reads every partition of solipass.ledger.events.v1 from offset 0 to the
 * high watermark seen at start, decodes each event as the services do
 * (sp_envelope_unpack, then the payload by its type) and feeds it to the
 * pure checks of audit.h. With SP_PG_DSN set, compares the six read models
 * of audit_pg.c (ledger_balances, passes, envelopes, partners' owed amounts,
 * operations' states, refund requests' totals) with what the log gives.
 *
 * Prints one line per check on stdout ("ok <check>" or "FAIL <check>: ..."),
 * then a summary line. Exit status: 0 all checks hold, 1 a check failed,
 * 2 the audit could not be made (truncated log, broker or database error). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "audit_pg.h"
#include "ledger.pb-c.h"
#include "sp_config.h"
#include "sp_envelope.h"
#include "sp_error.h"
#include "sp_kafka.h"
#include "sp_kafka_security.h"
#include "sp_log.h"

/* legs of one event; the ledger writes one, a PassClosed one per envelope
 * and open voucher (8 + 120) */
#define AUDIT_POSTINGS_MAX 128
#define AUDIT_ACCOUNTS_MAX 8000000
#define AUDIT_PASSES_MAX 2000000
#define AUDIT_OPERATIONS_MAX 16000000

typedef struct audit_settings {
    const char *brokers;
    const char *log_level;
    const char *pg_dsn;
    int64_t timeout_ms;
} audit_settings;

/* What the reader found besides the ledger's own checks. */
typedef struct audit_reader {
    sp_audit *audit;
    bool undecodable;
    char undecodable_why[SP_AUDIT_WHY_MAX];
} audit_reader;

typedef struct audit_event_type {
    const char *type;
    const ProtobufCMessageDescriptor *descriptor;
    bool creates_operation; /* its operation_id names a new operation */
} audit_event_type;

/* Every ledger event type. Postings are found by field name, so a type that
 * has them is covered without code of its own; a type missing here fails
 * the "events decodable" check rather than being skipped. */
static const audit_event_type audit_event_types[] = {
    {"ledger.PassOpened.v1", &solipass__ledger__pass_opened__descriptor, false},
    {"ledger.PassCredited.v1", &solipass__ledger__pass_credited__descriptor, true},
    {"ledger.PaymentAccepted.v1", &solipass__ledger__payment_accepted__descriptor, true},
    {"ledger.EnvelopeExpired.v1", &solipass__ledger__envelope_expired__descriptor, true},
    {"ledger.CommandRejected.v1", &solipass__ledger__command_rejected__descriptor, false},
    {"ledger.VoucherIssued.v1", &solipass__ledger__voucher_issued__descriptor, false},
    {"ledger.VoucherRedeemed.v1", &solipass__ledger__voucher_redeemed__descriptor, true},
    {"ledger.VoucherCancelled.v1", &solipass__ledger__voucher_released__descriptor, false},
    {"ledger.VoucherExpired.v1", &solipass__ledger__voucher_released__descriptor, false},
    /* Both name an existing payment operation: they create none. */
    {"ledger.OperationCancelled.v1", &solipass__ledger__operation_cancelled__descriptor, false},
    {"ledger.OperationReferenceSet.v1", &solipass__ledger__operation_reference_set__descriptor,
     false},
    /* Refund requests: the request's own events move no money; each pass's
     * reserve, release and settle post between partner, refund:<id> and bank. */
    {"ledger.RefundRequestOpened.v1", &solipass__ledger__refund_request_opened__descriptor, false},
    {"ledger.RefundRequestConfirmed.v1", &solipass__ledger__refund_request_confirmed__descriptor,
     false},
    {"ledger.RefundRequestCancelled.v1", &solipass__ledger__refund_request_cancelled__descriptor,
     false},
    {"ledger.RefundRequestPaid.v1", &solipass__ledger__refund_request_paid__descriptor, false},
    {"ledger.OperationsReserved.v1", &solipass__ledger__refund_part_changed__descriptor, false},
    {"ledger.OperationsReleased.v1", &solipass__ledger__refund_part_changed__descriptor, false},
    /* A close returns the pass's envelopes and open vouchers to the budget. */
    {"ledger.PassClosed.v1", &solipass__ledger__pass_closed__descriptor, false},
    {"ledger.OperationsSettled.v1", &solipass__ledger__refund_part_changed__descriptor, false},
};

static const audit_event_type *event_type_of(const char *type) {
    for (size_t i = 0; i < sizeof audit_event_types / sizeof audit_event_types[0]; i++)
        if (strcmp(audit_event_types[i].type, type) == 0) return &audit_event_types[i];
    return NULL;
}

static void note_undecodable(audit_reader *reader, const sp_kafka_msg *msg, const char *type,
                             const char *why) {
    if (reader->undecodable) return;
    reader->undecodable = true;
    snprintf(reader->undecodable_why, sizeof reader->undecodable_why,
             "%s[%" PRId32 "] offset %" PRId64 " %s: %s", msg->topic, msg->partition, msg->offset,
             type, why);
}

/* The message's string field `name`, or NULL when it has none. */
static const char *string_field(const ProtobufCMessage *message, const char *name) {
    const ProtobufCFieldDescriptor *field = protobuf_c_message_descriptor_get_field_by_name(
        message->descriptor, name);
    if (field == NULL || field->type != PROTOBUF_C_TYPE_STRING ||
        field->label == PROTOBUF_C_LABEL_REPEATED)
        return NULL;
    return *(const char *const *)((const char *)message + field->offset);
}

static const ProtobufCFieldDescriptor *field_of(const ProtobufCMessage *message, const char *name,
                                                ProtobufCType type, bool repeated) {
    const ProtobufCFieldDescriptor *field = protobuf_c_message_descriptor_get_field_by_name(
        message->descriptor, name);
    if (field == NULL || field->type != type ||
        (field->label == PROTOBUF_C_LABEL_REPEATED) != repeated)
        return NULL;
    return field;
}

/* The message's int64 field `name`, or 0 when it has none. */
static int64_t int64_field(const ProtobufCMessage *message, const char *name) {
    const ProtobufCFieldDescriptor *field = field_of(message, name, PROTOBUF_C_TYPE_INT64, false);
    return field ? *(const int64_t *)((const char *)message + field->offset) : 0;
}

/* The refund life's fields (audit.h), found by name like the postings. */
static void refund_fields_of(const ProtobufCMessage *payload, const char *type,
                             sp_audit_event *event, const char **single) {
    event->request_id = string_field(payload, "request_id");
    event->amount_cents = int64_field(payload, "amount_cents");
    if (strncmp(type, "ledger.RefundRequest", 20) == 0)
        event->amount_cents = int64_field(payload, "total_cents");
    event->operation_count = int64_field(payload, "operation_count");
    const ProtobufCFieldDescriptor *ids = field_of(payload, "operation_ids", PROTOBUF_C_TYPE_STRING,
                                                   true);
    if (ids != NULL) {
        event->operation_id_count = *(const size_t *)((const char *)payload +
                                                      ids->quantifier_offset);
        event->operation_ids = *(const char *const *const *)((const char *)payload + ids->offset);
    } else if (strcmp(type, "ledger.OperationCancelled.v1") == 0) {
        *single = string_field(payload, "operation_id");
        event->operation_ids = single;
        event->operation_id_count = *single != NULL ? 1 : 0;
    }
}

/* Copies the message's repeated Posting field "postings" into out. */
static int postings_of(const ProtobufCMessage *message, sp_audit_posting *out, size_t out_max,
                       size_t *count) {
    *count = 0;
    const ProtobufCFieldDescriptor *field = protobuf_c_message_descriptor_get_field_by_name(
        message->descriptor, "postings");
    if (field == NULL) return 0;
    if (field->label != PROTOBUF_C_LABEL_REPEATED ||
        field->descriptor != &solipass__ledger__posting__descriptor)
        return -1;
    size_t n = *(const size_t *)((const char *)message + field->quantifier_offset);
    if (n > out_max) return -1;
    Solipass__Ledger__Posting *const *postings = *(
        Solipass__Ledger__Posting *const *const *)((const char *)message + field->offset);
    for (size_t i = 0; i < n; i++) {
        out[i].debit_account = postings[i]->debit_account;
        out[i].credit_account = postings[i]->credit_account;
        out[i].amount_cents = postings[i]->amount_cents;
    }
    *count = n;
    return 0;
}

static int feed_payload(audit_reader *reader, const sp_kafka_msg *msg,
                        const Solipass__Envelope *envelope, const audit_event_type *event_type,
                        const ProtobufCMessage *payload, sp_error *err) {
    sp_audit_posting postings[AUDIT_POSTINGS_MAX];
    sp_audit_event event = {
        .topic = msg->topic,
        .partition = msg->partition,
        .offset = msg->offset,
        .type = envelope->type,
        .aggregate_id = envelope->aggregate_id,
        .aggregate_version = envelope->aggregate_version,
        .operation_id = event_type->creates_operation ? string_field(payload, "operation_id")
                                                      : NULL,
        .postings = postings,
    };
    const char *single_operation = NULL;
    refund_fields_of(payload, envelope->type, &event, &single_operation);
    if (postings_of(payload, postings, AUDIT_POSTINGS_MAX, &event.posting_count) != 0) {
        note_undecodable(reader, msg, envelope->type, "too many postings");
        return 0;
    }
    return sp_audit_feed(reader->audit, &event, err);
}

static int on_message(void *ctx, const sp_kafka_msg *msg, sp_error *err) {
    audit_reader *reader = ctx;
    sp_error decode_err;
    Solipass__Envelope *envelope = sp_envelope_unpack(msg->value, msg->value_len, &decode_err);
    if (envelope == NULL) {
        note_undecodable(reader, msg, "?", decode_err.message);
        return 0;
    }
    int rc = 0;
    const audit_event_type *event_type = event_type_of(envelope->type);
    ProtobufCMessage *payload = event_type == NULL
                                    ? NULL
                                    : protobuf_c_message_unpack(event_type->descriptor, NULL,
                                                                envelope->payload.len,
                                                                envelope->payload.data);
    if (event_type == NULL) note_undecodable(reader, msg, envelope->type, "unknown event type");
    else if (payload == NULL)
        note_undecodable(reader, msg, envelope->type, "payload does not decode");
    else rc = feed_payload(reader, msg, envelope, event_type, payload, err);
    if (payload != NULL) protobuf_c_message_free_unpacked(payload, NULL);
    solipass__envelope__free_unpacked(envelope, NULL);
    return rc;
}

/* 0 read, 1 truncated (reported), -1 error. */
static int read_ledger(const audit_settings *settings, audit_reader *reader, sp_log *log,
                       sp_error *err) {
    int partition_count = sp_kafka_partition_count(settings->brokers, SP_TOPIC_LEDGER_EVENTS,
                                                   (int)settings->timeout_ms, err);
    if (partition_count <= 0) return -1;
    for (int32_t p = 0; p < partition_count; p++) {
        if (sp_kafka_replay_partition(settings->brokers, SP_TOPIC_LEDGER_EVENTS, p, on_message,
                                      reader, (int)settings->timeout_ms, log, err) == 0)
            continue;
        if (strcmp(err->code, "log_truncated") != 0) return -1;
        /* err says where the log starts now: the low watermark. */
        printf("log truncated at %s[%" PRId32 "]: the audit cannot prove the ledger (%s)\n",
               SP_TOPIC_LEDGER_EVENTS, p, err->message);
        return 1;
    }
    return 0;
}

static bool print_log_checks(const audit_reader *reader) {
    bool all_ok = true;
    if (reader->undecodable) printf("FAIL events decodable: %s\n", reader->undecodable_why);
    else printf("ok events decodable\n");
    all_ok = !reader->undecodable;
    for (int c = 0; c < SP_AUDIT_CHECK_COUNT; c++) {
        const sp_audit_verdict *verdict = sp_audit_verdict_of(reader->audit, (sp_audit_check)c);
        if (verdict->failed)
            printf("FAIL %s: %s\n", sp_audit_check_name((sp_audit_check)c), verdict->why);
        else printf("ok %s\n", sp_audit_check_name((sp_audit_check)c));
    }
    return all_ok && sp_audit_all_ok(reader->audit);
}

static const char audit_summary[] =
    "Proves the ledger from solipass.ledger.events.v1 (balanced positive postings, no pass,\n"
    "partner, voucher, refund or bank account below zero, zero sum, contiguous versions,\n"
    "unique operation ids, every operation in one state, refund request totals equal to\n"
    "their operations) and, with SP_PG_DSN, compares the read models with it.\n"
    "Exit: 0 every check holds, 1 a check failed, 2 the audit could not be made.";

static int audit_run(const audit_settings *settings, sp_log *log) {
    int status = 2;
    sp_error err;
    sp_error_clear(&err);
    audit_reader reader = {0};
    reader.audit = sp_audit_new(AUDIT_ACCOUNTS_MAX, AUDIT_PASSES_MAX, AUDIT_OPERATIONS_MAX, &err);
    if (reader.audit == NULL) goto done;
    if (read_ledger(settings, &reader, log, &err) != 0) goto done;
    sp_audit_finish(reader.audit);
    bool all_ok = print_log_checks(&reader);
    if (settings->pg_dsn[0] != '\0') {
        int compared = sp_audit_pg_compare(reader.audit, settings->pg_dsn, log, &err);
        if (compared < 0) goto done;
        all_ok = all_ok && compared == 0;
    }
    printf("summary: %zu events (%zu duplicates ignored), %zu accounts, %zu passes: %s\n",
           sp_audit_event_count(reader.audit), sp_audit_duplicate_count(reader.audit),
           sp_audit_account_count(reader.audit), sp_audit_pass_count(reader.audit),
           all_ok ? "the ledger holds" : "FAILED");
    status = all_ok ? 0 : 1;
done:
    if (status == 2 && err.code[0] != '\0')
        sp_log_error(log, "audit not made", "code", err.code, "error", err.message, NULL);
    fflush(stdout);
    sp_audit_free(reader.audit);
    return status;
}

int main(int argc, char **argv) {
    audit_settings settings = {0};
    sp_kafka_security kafka_security = {0};
    const sp_config_item items[] = {
        {"SP_KAFKA_BROKERS", SP_CONFIG_STRING, NULL, 0, 0, "Kafka bootstrap servers",
         &settings.brokers},
        SP_KAFKA_SECURITY_CONFIG_ITEMS(&kafka_security),
        {"SP_LOG_LEVEL", SP_CONFIG_STRING, "info", 0, 0, "debug | info | warn | error",
         &settings.log_level},
        {"SP_PG_DSN", SP_CONFIG_STRING, "", 0, 0,
         "PostgreSQL of the read models to compare (\"\" = log checks only)", &settings.pg_dsn},
        {"SP_AUDIT_TIMEOUT_MS", SP_CONFIG_INT, "120000", 1000, 3600000,
         "bound on reading one partition", &settings.timeout_ms},
    };
    sp_error err;
    sp_config_result loaded = sp_config_load(items, sizeof items / sizeof items[0], argc, argv,
                                             "solipass-audit", audit_summary, &err);
    if (loaded == SP_CONFIG_HELP_SHOWN) return 0;
    if (loaded == SP_CONFIG_FAILED) {
        fprintf(stderr, "solipass-audit: %s\n", err.message);
        return 2;
    }
    if (sp_kafka_security_check(&kafka_security, &err) != 0 ||
        sp_kafka_security_files_check(&kafka_security, &err) != 0) {
        fprintf(stderr, "solipass-audit: %s\n", err.message);
        return 2;
    }
    sp_kafka_security_install(&kafka_security);
    int level = sp_log_level_parse(settings.log_level);
    if (level < 0) {
        fprintf(stderr, "solipass-audit: SP_LOG_LEVEL: unknown level \"%s\"\n", settings.log_level);
        return 2;
    }
    sp_log log;
    sp_log_init(&log, "audit", (sp_log_level)level, stderr);
    int status = audit_run(&settings, &log);
    sp_log_destroy(&log);
    return status;
}
