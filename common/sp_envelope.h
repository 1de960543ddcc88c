/* sp_envelope.h - packing and unpacking the Envelope (proto/envelope.proto),
 * and sending what cannot be processed to the dead-letter topic. */
#ifndef SP_ENVELOPE_H
#define SP_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
#include "envelope.pb-c.h"
#include "sp_error.h"
#include "sp_kafka.h"

#define SP_ENVELOPE_BYTES_MAX (64 * 1024) /* larger messages are refused / dead-lettered */
/* Field lengths in bytes that unpack accepts. Client Idempotency-Keys are at
 * most 64; internal command ids such as "expiry:<pass>:<category>:<end date>" need more. */
#define SP_ENVELOPE_TYPE_MAX 64
#define SP_ENVELOPE_AGGREGATE_ID_MAX 64
#define SP_ENVELOPE_COMMAND_ID_MAX 96
#define SP_ENVELOPE_REF_MAX 128 /* causation_id, reply_to, actor_id */
#define SP_ENVELOPE_ROLE_MAX 32 /* actor_role */
/* Operations one refund request may cover: its OpenRefundRequest (and the
 * RefundRequestOpened that repeats its parts) must fit in one envelope, and
 * at worst each operation is on its own pass (~80 bytes of ids each). */
#define SP_REFUND_REQUEST_OPERATIONS_MAX 600

typedef struct sp_envelope_meta {
    const char *type;           /* required */
    const char *aggregate_id;   /* required */
    uint64_t aggregate_version; /* 0 for commands and replies */
    int64_t occurred_at_ms;
    const char *command_id;   /* may be "" */
    const char *causation_id; /* may be "" */
    const char *reply_to;     /* may be "" */
    const char *actor_id;     /* may be "" */
    const char *actor_role;   /* may be "" or NULL: the actor's role ("beneficiary") */
} sp_envelope_meta;

/* Packs meta + payload into a new envelope with a fresh random id, written to
 * *out (malloc'd, caller frees) and its id to id_out (SP_ID_LEN + 1) when not NULL. */
int sp_envelope_pack(const sp_envelope_meta *meta, const ProtobufCMessage *payload, uint8_t **out,
                     size_t *out_len, char *id_out, sp_error *err);

/* Unpack and check the envelope's required fields. Free the result with
 * solipass__envelope__free_unpacked(env, NULL). NULL + err when invalid. */
Solipass__Envelope *sp_envelope_unpack(const void *buf, size_t len, sp_error *err);

/* Pack and produce in one call (keyed by meta->aggregate_id). */
int sp_envelope_produce(sp_kafka_producer *producer, const char *topic, int32_t partition,
                        const sp_envelope_meta *meta, const ProtobufCMessage *payload,
                        sp_kafka_delivery *delivery, char *id_out, sp_error *err);

/* Wrap msg in a DeadLetter and produce it to SP_TOPIC_DEADLETTER. The caller
 * counts it in its metrics and carries on. */
int sp_deadletter_send(sp_kafka_producer *producer, const sp_kafka_msg *msg, const char *service,
                       const char *reason, int64_t now_ms, sp_error *err);

#endif
