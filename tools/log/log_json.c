/* log_json.c - protobuf-c messages to JSON over their descriptors (see log_json.h). */
#include "log_json.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.pb-c.h"
#include "envelope.pb-c.h"
#include "finance.pb-c.h"
#include "ledger.pb-c.h"
#include "reply.pb-c.h"

#define LOG_JSON_NAME_MAX 128

static const ProtobufCMessageDescriptor *const log_json_descriptors[] = {
    &solipass__envelope__descriptor,
    &solipass__dead_letter__descriptor,
    &solipass__reply__descriptor,
    &solipass__event_ref__descriptor,
    &solipass__ledger__open_pass__descriptor,
    &solipass__ledger__credit_pass__descriptor,
    &solipass__ledger__pay__descriptor,
    &solipass__ledger__issue_voucher__descriptor,
    &solipass__ledger__redeem_voucher__descriptor,
    &solipass__ledger__cancel_voucher__descriptor,
    &solipass__ledger__pass_opened__descriptor,
    &solipass__ledger__pass_credited__descriptor,
    &solipass__ledger__payment_accepted__descriptor,
    &solipass__ledger__envelope_expired__descriptor,
    &solipass__ledger__command_rejected__descriptor,
    &solipass__ledger__voucher_issued__descriptor,
    &solipass__ledger__voucher_redeemed__descriptor,
    &solipass__ledger__voucher_released__descriptor,
    &solipass__ledger__cancel_operation__descriptor,
    &solipass__ledger__set_operation_reference__descriptor,
    &solipass__ledger__operation_cancelled__descriptor,
    &solipass__ledger__operation_reference_set__descriptor,
    &solipass__accounts__create_partner__descriptor,
    &solipass__accounts__create_beneficiary__descriptor,
    &solipass__accounts__register_user__descriptor,
    &solipass__accounts__start_session__descriptor,
    &solipass__accounts__end_session__descriptor,
    &solipass__accounts__set_password__descriptor,
    &solipass__accounts__request_password_reset__descriptor,
    &solipass__accounts__partner_created__descriptor,
    &solipass__accounts__user_registered__descriptor,
    &solipass__accounts__session_started__descriptor,
    &solipass__accounts__session_ended__descriptor,
    &solipass__accounts__activation_issued__descriptor,
    &solipass__accounts__password_set__descriptor,
    &solipass__accounts__command_rejected__descriptor,
    &solipass__accounts__update_partner_profile__descriptor,
    &solipass__accounts__set_partner_image__descriptor,
    &solipass__accounts__add_partner_user__descriptor,
    &solipass__accounts__change_user_role__descriptor,
    &solipass__accounts__remove_user__descriptor,
    &solipass__accounts__partner_profile_updated__descriptor,
    &solipass__accounts__partner_image_set__descriptor,
    &solipass__accounts__user_role_changed__descriptor,
    &solipass__accounts__user_removed__descriptor,
    &solipass__accounts__publish_convention__descriptor,
    &solipass__accounts__accept_convention__descriptor,
    &solipass__accounts__convention_published__descriptor,
    &solipass__accounts__convention_accepted__descriptor,
    &solipass__finance__finance_event__descriptor,
    &solipass__ledger__close_pass__descriptor,
    &solipass__ledger__pass_closed__descriptor,
};

/* Envelope types whose message is not named after them. */
static const struct {
    const char *type;
    const ProtobufCMessageDescriptor *descriptor;
} log_json_aliases[] = {
    {"ledger.VoucherCancelled.v1", &solipass__ledger__voucher_released__descriptor},
    {"ledger.VoucherExpired.v1", &solipass__ledger__voucher_released__descriptor},
};

const ProtobufCMessageDescriptor *sp_log_json_descriptor_of(const char *envelope_type) {
    for (size_t i = 0; i < sizeof log_json_aliases / sizeof log_json_aliases[0]; i++)
        if (strcmp(log_json_aliases[i].type, envelope_type) == 0)
            return log_json_aliases[i].descriptor;
    /* "ledger.Pay.v1" -> "solipass.ledger.Pay" */
    const char *version = strrchr(envelope_type, '.');
    if (version == NULL || version[1] != 'v') return NULL;
    char name[LOG_JSON_NAME_MAX];
    int n = snprintf(name, sizeof name, "solipass.%.*s", (int)(version - envelope_type),
                     envelope_type);
    if (n < 0 || (size_t)n >= sizeof name) return NULL;
    for (size_t i = 0; i < sizeof log_json_descriptors / sizeof log_json_descriptors[0]; i++)
        if (strcmp(log_json_descriptors[i]->name, name) == 0) return log_json_descriptors[i];
    return NULL;
}

json_t *sp_log_json_hex(const uint8_t *data, size_t len) {
    static const char digits[] = "0123456789abcdef";
    bool cut = len > SP_LOG_JSON_BYTES_MAX;
    size_t shown = cut ? SP_LOG_JSON_BYTES_MAX : len;
    char *text = malloc(shown * 2 + 4);
    if (text == NULL) return NULL;
    for (size_t i = 0; i < shown; i++) {
        text[2 * i] = digits[data[i] >> 4];
        text[2 * i + 1] = digits[data[i] & 0x0f];
    }
    memcpy(text + shown * 2, cut ? "..." : "", cut ? 4 : 1);
    json_t *value = json_string(text);
    free(text);
    return value;
}

json_t *sp_log_json_text(const char *text, size_t len) {
    json_t *value = json_stringn(text, len);
    if (value != NULL) return value;
    json_t *hex = sp_log_json_hex((const uint8_t *)text, len);
    return hex ? json_pack("{so}", "hex", hex) : NULL;
}

static json_t *message_at_depth(const ProtobufCMessage *message, int depth);

static size_t element_size(const ProtobufCFieldDescriptor *field) {
    /* clang-format off */
    switch (field->type) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32: return sizeof(int32_t);
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: return sizeof(int64_t);
    case PROTOBUF_C_TYPE_FLOAT: return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE: return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM: return sizeof(int);
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
    }
    /* clang-format on */
    return 0;
}

static json_t *enum_value(const ProtobufCFieldDescriptor *field, int value) {
    const ProtobufCEnumValue *found = protobuf_c_enum_descriptor_get_value(field->descriptor,
                                                                           value);
    return found ? json_string(found->name) : json_integer(value);
}

/* One scalar or sub-message stored at `at`. */
static json_t *value_at(const ProtobufCFieldDescriptor *field, const void *at, int depth) {
    switch (field->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: return json_integer(*(const int32_t *)at);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: return json_integer(*(const uint32_t *)at);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: return json_integer(*(const int64_t *)at);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
        uint64_t v = *(const uint64_t *)at;
        if (v <= (uint64_t)INT64_MAX) return json_integer((json_int_t)v);
        char text[24];
        snprintf(text, sizeof text, "%llu", (unsigned long long)v);
        return json_string(text);
    }
    case PROTOBUF_C_TYPE_FLOAT: return json_real(*(const float *)at);
    case PROTOBUF_C_TYPE_DOUBLE: return json_real(*(const double *)at);
    case PROTOBUF_C_TYPE_BOOL: return json_boolean(*(const protobuf_c_boolean *)at);
    case PROTOBUF_C_TYPE_ENUM: return enum_value(field, *(const int *)at);
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)at;
        return s ? sp_log_json_text(s, strlen(s)) : json_string("");
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = at;
        return sp_log_json_hex(b->data, b->len);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)at;
        return sub ? message_at_depth(sub, depth + 1) : json_null();
    }
    }
    return json_null();
}

static json_t *field_json(const ProtobufCMessage *message, const ProtobufCFieldDescriptor *field,
                          int depth) {
    const char *base = (const char *)message;
    if (field->label != PROTOBUF_C_LABEL_REPEATED)
        return value_at(field, base + field->offset, depth);
    size_t count = *(const size_t *)(base + field->quantifier_offset);
    const char *elements = *(const char *const *)(base + field->offset);
    json_t *array = json_array();
    for (size_t i = 0; array != NULL && i < count; i++) {
        json_t *element = value_at(field, elements + i * element_size(field), depth);
        if (element == NULL || json_array_append_new(array, element) != 0) {
            json_decref(array);
            return NULL;
        }
    }
    return array;
}

/* A oneof member that is not the chosen one is absent. */
static bool field_present(const ProtobufCMessage *message, const ProtobufCFieldDescriptor *field) {
    if ((field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) == 0) return true;
    uint32_t chosen = *(const uint32_t *)((const char *)message + field->quantifier_offset);
    return chosen == field->id;
}

static json_t *message_at_depth(const ProtobufCMessage *message, int depth) {
    if (depth > SP_LOG_JSON_DEPTH_MAX) return json_string("(nested too deep)");
    const ProtobufCMessageDescriptor *descriptor = message->descriptor;
    json_t *object = json_object();
    for (unsigned i = 0; object != NULL && i < descriptor->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = &descriptor->fields[i];
        if (!field_present(message, field)) continue;
        json_t *value = field_json(message, field, depth);
        if (value == NULL || json_object_set_new(object, field->name, value) != 0) {
            json_decref(object);
            return NULL;
        }
    }
    return object;
}

json_t *sp_log_json_message(const ProtobufCMessage *message) {
    assert(message != NULL && message->descriptor != NULL);
    return message_at_depth(message, 0);
}
