/* fuzz_proto.c - libFuzzer target: what a service reads from Kafka. The
 * envelope as the services unpack it (sp_envelope_unpack: size bound and
 * meta checks), and the payload of every message type protoc-c generated
 * (every command and event, and their nested messages: the table is made at
 * build time from the headers, proto_descriptors.py). A message that
 * unpacks (with no unknown field) must pack again, and unpack and pack to
 * the same bytes.
 *
 * Input: first byte 0 is an envelope (the rest); n > 0 is the payload of
 * message type n - 1 (modulo the count). Built and run by tests/fuzz/run. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto_descriptors.h"
#include "sp_envelope.h"

#define PROTO_TYPE_COUNT (sizeof proto_descriptors / sizeof proto_descriptors[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether message or one inside it kept fields its type does not know:
 * protobuf-c packs them again as read, a field number 0 in a two-byte key
 * included, which it then refuses in a one-byte key. The services ignore
 * unknown fields, so only messages without any must survive a round trip. */
static bool has_unknown_fields(const ProtobufCMessage *message, int depth) {
    if (message == NULL) return false;
    if (message->n_unknown_fields > 0 || depth > 64) return true;
    const ProtobufCMessageDescriptor *d = message->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE) continue;
        const char *at = (const char *)message + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t count = *(const size_t *)((const char *)message + f->quantifier_offset);
            ProtobufCMessage *const *items = *(ProtobufCMessage *const *const *)at;
            for (size_t k = 0; k < count; k++) {
                if (has_unknown_fields(items[k], depth + 1)) return true;
            }
        } else if (has_unknown_fields(*(ProtobufCMessage *const *)at, depth + 1)) {
            return true;
        }
    }
    return false;
}

/* Unpacks, packs again, and requires the second unpack to pack the same. */
static void round_trip(const ProtobufCMessageDescriptor *descriptor, const uint8_t *bytes,
                       size_t len) {
    ProtobufCMessage *message = protobuf_c_message_unpack(descriptor, NULL, len, bytes);
    if (message == NULL) return;
    if (has_unknown_fields(message, 0)) {
        protobuf_c_message_free_unpacked(message, NULL);
        return;
    }
    size_t packed_len = protobuf_c_message_get_packed_size(message);
    uint8_t *packed = malloc(packed_len + 1);
    if (packed == NULL) abort();
    if (protobuf_c_message_pack(message, packed) != packed_len) abort();
    ProtobufCMessage *again = protobuf_c_message_unpack(descriptor, NULL, packed_len, packed);
    if (again == NULL) abort();
    uint8_t *repacked = malloc(packed_len + 1);
    if (repacked == NULL) abort();
    if (protobuf_c_message_get_packed_size(again) != packed_len ||
        protobuf_c_message_pack(again, repacked) != packed_len ||
        memcmp(packed, repacked, packed_len) != 0) {
        abort();
    }
    free(repacked);
    protobuf_c_message_free_unpacked(again, NULL);
    free(packed);
    protobuf_c_message_free_unpacked(message, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > SP_ENVELOPE_BYTES_MAX + 1) return 0;
    if (data[0] == 0) {
        sp_error err;
        Solipass__Envelope *env = sp_envelope_unpack(data + 1, size - 1, &err);
        if (env == NULL) return 0;
        /* What a service does next: the payload as the type it names. */
        size_t pick = strlen(env->type) % PROTO_TYPE_COUNT;
        round_trip(proto_descriptors[pick], env->payload.data, env->payload.len);
        solipass__envelope__free_unpacked(env, NULL);
        return 0;
    }
    round_trip(proto_descriptors[(size_t)(data[0] - 1) % PROTO_TYPE_COUNT], data + 1, size - 1);
    return 0;
}
