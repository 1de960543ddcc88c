/* log_json.h - any solipass protobuf message as JSON, by walking its
 * protobuf-c descriptor (every field, every type, no code per message), and
 * the payload type of each envelope type.
 *
 * Memory: the json_t values returned are new references the caller
 * json_decref()s. Descriptors are static. */
#ifndef SP_LOG_JSON_H
#define SP_LOG_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#define SP_LOG_JSON_DEPTH_MAX 16 /* nesting of sub-messages */
#define SP_LOG_JSON_BYTES_MAX (64 * 1024)

/* The payload message of an envelope type such as "ledger.PaymentAccepted.v1"
 * (package "solipass." + type without its version), or NULL when unknown. */
const ProtobufCMessageDescriptor *sp_log_json_descriptor_of(const char *envelope_type);

/* Every field of message, bytes as lowercase hex, enums by name, 64-bit
 * integers as JSON integers (uint64 above INT64_MAX as a string). NULL only
 * when out of memory. */
json_t *sp_log_json_message(const ProtobufCMessage *message);

/* Lowercase hex of at most SP_LOG_JSON_BYTES_MAX bytes (longer input is cut,
 * and the string ends with "..."). */
json_t *sp_log_json_hex(const uint8_t *data, size_t len);

/* A string as JSON; when it is not valid UTF-8, its bytes as {"hex": ...}. */
json_t *sp_log_json_text(const char *text, size_t len);

#endif
