/* accounts_codec.c - accounts commands and events between protobuf and the
 * domain structs. Pure: no I/O. Events read from the log are checked as
 * untrusted input (sizes, UTF-8), commands are checked later by decide. */
#include "accounts_codec.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ types */

typedef struct type_entry {
    const char *type;
    int kind;
    const ProtobufCMessageDescriptor *descriptor;
} type_entry;

static const type_entry command_types[] = {
    {"accounts.CreatePartner.v1", SP_ACCOUNTS_CMD_CREATE_PARTNER,
     &solipass__accounts__create_partner__descriptor},
    {"accounts.CreateBeneficiary.v1", SP_ACCOUNTS_CMD_CREATE_BENEFICIARY,
     &solipass__accounts__create_beneficiary__descriptor},
    {"accounts.RegisterUser.v1", SP_ACCOUNTS_CMD_REGISTER_USER,
     &solipass__accounts__register_user__descriptor},
    {"accounts.StartSession.v1", SP_ACCOUNTS_CMD_START_SESSION,
     &solipass__accounts__start_session__descriptor},
    {"accounts.EndSession.v1", SP_ACCOUNTS_CMD_END_SESSION,
     &solipass__accounts__end_session__descriptor},
    {"accounts.SetPassword.v1", SP_ACCOUNTS_CMD_SET_PASSWORD,
     &solipass__accounts__set_password__descriptor},
    {"accounts.RequestPasswordReset.v1", SP_ACCOUNTS_CMD_REQUEST_RESET,
     &solipass__accounts__request_password_reset__descriptor},
};

static const type_entry event_types[] = {
    {"accounts.PartnerCreated.v1", SP_ACCOUNTS_EV_PARTNER_CREATED,
     &solipass__accounts__partner_created__descriptor},
    {"accounts.UserRegistered.v1", SP_ACCOUNTS_EV_USER_REGISTERED,
     &solipass__accounts__user_registered__descriptor},
    {"accounts.SessionStarted.v1", SP_ACCOUNTS_EV_SESSION_STARTED,
     &solipass__accounts__session_started__descriptor},
    {"accounts.SessionEnded.v1", SP_ACCOUNTS_EV_SESSION_ENDED,
     &solipass__accounts__session_ended__descriptor},
    {"accounts.CommandRejected.v1", SP_ACCOUNTS_EV_COMMAND_REJECTED,
     &solipass__accounts__command_rejected__descriptor},
    {"accounts.ActivationIssued.v1", SP_ACCOUNTS_EV_ACTIVATION_ISSUED,
     &solipass__accounts__activation_issued__descriptor},
    {"accounts.PasswordSet.v1", SP_ACCOUNTS_EV_PASSWORD_SET,
     &solipass__accounts__password_set__descriptor},
};

#define COMMAND_TYPE_COUNT (sizeof command_types / sizeof command_types[0])
#define EVENT_TYPE_COUNT (sizeof event_types / sizeof event_types[0])

static const type_entry *find_type(const type_entry *table, size_t count, const char *type) {
    if (type == NULL) return NULL;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(table[i].type, type) == 0) return &table[i];
    }
    return NULL;
}

bool sp_accounts_is_command_type(const char *type) {
    return find_type(command_types, COMMAND_TYPE_COUNT, type) != NULL;
}
bool sp_accounts_is_event_type(const char *type) {
    return find_type(event_types, EVENT_TYPE_COUNT, type) != NULL;
}

static ProtobufCMessage *unpack_payload(const Solipass__Envelope *envelope, const type_entry *entry,
                                        sp_error *err) {
    ProtobufCMessage *payload = protobuf_c_message_unpack(entry->descriptor, NULL,
                                                          envelope->payload.len,
                                                          envelope->payload.data);
    if (payload == NULL)
        sp_error_set(err, 400, "malformed", "payload", "the %s payload does not decode", entry->type);
    return payload;
}

/* ------------------------------------------------------------------ commands */

static void command_fields(sp_accounts_command *c, const ProtobufCMessage *payload) {
    switch (c->kind) {
    case SP_ACCOUNTS_CMD_CREATE_PARTNER: {
        const Solipass__Accounts__CreatePartner *m = (const void *)payload;
        c->name = m->name;
        c->category = m->category;
        c->email = m->admin_email;
        c->password_hash = m->admin_password_hash;
        c->full_name = m->admin_full_name;
        return;
    }
    case SP_ACCOUNTS_CMD_CREATE_BENEFICIARY: {
        const Solipass__Accounts__CreateBeneficiary *m = (const void *)payload;
        c->email = m->email;
        c->password_hash = m->password_hash;
        c->full_name = m->full_name;
        return;
    }
    case SP_ACCOUNTS_CMD_REGISTER_USER: {
        const Solipass__Accounts__RegisterUser *m = (const void *)payload;
        c->email = m->email;
        c->password_hash = m->password_hash;
        c->full_name = m->full_name;
        c->role = (sp_accounts_role)m->role;
        return;
    }
    case SP_ACCOUNTS_CMD_START_SESSION: {
        const Solipass__Accounts__StartSession *m = (const void *)payload;
        c->user_id = m->user_id;
        c->token_hash = m->token_hash.data;
        c->token_hash_len = m->token_hash.len;
        c->expires_at_ms = m->expires_at_ms;
        return;
    }
    case SP_ACCOUNTS_CMD_END_SESSION: {
        const Solipass__Accounts__EndSession *m = (const void *)payload;
        c->token_hash = m->token_hash.data;
        c->token_hash_len = m->token_hash.len;
        return;
    }
    case SP_ACCOUNTS_CMD_SET_PASSWORD: {
        const Solipass__Accounts__SetPassword *m = (const void *)payload;
        c->activation_id = m->activation_id;
        c->password_hash = m->password_hash;
        c->purpose = m->purpose;
        return;
    }
    case SP_ACCOUNTS_CMD_REQUEST_RESET: {
        const Solipass__Accounts__RequestPasswordReset *m = (const void *)payload;
        c->email = m->email;
        return;
    }
    }
}

int sp_accounts_command_decode(const Solipass__Envelope *envelope, sp_accounts_command_msg *out,
                               sp_error *err) {
    assert(envelope != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    const type_entry *entry = find_type(command_types, COMMAND_TYPE_COUNT, envelope->type);
    if (entry == NULL)
        return sp_error_set(err, 400, "malformed", "type", "not an accounts command type");
    out->payload = unpack_payload(envelope, entry, err);
    if (out->payload == NULL) return -1;
    sp_accounts_command *c = &out->command;
    c->kind = (sp_accounts_command_kind)entry->kind;
    c->actor_id = envelope->actor_id != NULL ? envelope->actor_id : "";
    c->command_id = envelope->command_id != NULL ? envelope->command_id : "";
    c->name = c->category = c->email = c->password_hash = c->full_name = c->user_id = "";
    c->activation_id = c->purpose = "";
    command_fields(c, out->payload);
    return 0;
}

void sp_accounts_command_msg_free(sp_accounts_command_msg *msg) {
    if (msg == NULL || msg->payload == NULL) return;
    protobuf_c_message_free_unpacked(msg->payload, NULL);
    msg->payload = NULL;
}

/* ------------------------------------------------------------------ events in */

/* A string from the log into a fixed field: must fit and be UTF-8 text. */
static int copy_text(char *dst, size_t dst_size, const char *src, const char *field, sp_error *err) {
    if (src == NULL) src = "";
    if (strlen(src) >= dst_size || !sp_accounts_text_valid(src, 0, SIZE_MAX))
        return sp_error_set(err, 400, "malformed", field, "%s is too long or not UTF-8 text", field);
    memcpy(dst, src, strlen(src) + 1);
    return 0;
}

static int copy_bytes(uint8_t *dst, size_t dst_size, ProtobufCBinaryData src, const char *field,
                      sp_error *err) {
    if (src.len != dst_size)
        return sp_error_set(err, 400, "malformed", field, "%s must be %zu bytes", field, dst_size);
    memcpy(dst, src.data, dst_size);
    return 0;
}

#define COPY(dst, src, field) do { \
    if (copy_text((dst), sizeof(dst), (src), (field), err) != 0) return -1; } while (0)

static int event_fields_partner(sp_accounts_event *e, const ProtobufCMessage *payload,
                                sp_error *err) {
    const Solipass__Accounts__PartnerCreated *m = (const void *)payload;
    COPY(e->partner_id, m->partner_id, "partner_id");
    COPY(e->partner_code, m->partner_code, "partner_code");
    COPY(e->name, m->name, "name");
    COPY(e->category, m->category, "category");
    return 0;
}

static int event_fields_user(sp_accounts_event *e, const ProtobufCMessage *payload, sp_error *err) {
    const Solipass__Accounts__UserRegistered *m = (const void *)payload;
    COPY(e->user_id, m->user_id, "user_id");
    COPY(e->email, m->email, "email");
    COPY(e->password_hash, m->password_hash, "password_hash");
    COPY(e->full_name, m->full_name, "full_name");
    COPY(e->partner_id, m->partner_id, "partner_id");
    COPY(e->pass_id, m->pass_id, "pass_id");
    e->role = (sp_accounts_role)m->role;
    if (sp_accounts_role_name(e->role)[0] == '\0')
        return sp_error_set(err, 400, "malformed", "role", "unknown role %d", (int)m->role);
    return 0;
}

static int event_fields_session(sp_accounts_event *e, const ProtobufCMessage *payload,
                                sp_error *err) {
    ProtobufCBinaryData token_hash;
    if (e->kind == SP_ACCOUNTS_EV_SESSION_STARTED) {
        const Solipass__Accounts__SessionStarted *m = (const void *)payload;
        COPY(e->user_id, m->user_id, "user_id");
        e->expires_at_ms = m->expires_at_ms;
        token_hash = m->token_hash;
    } else {
        const Solipass__Accounts__SessionEnded *m = (const void *)payload;
        COPY(e->user_id, m->user_id, "user_id");
        token_hash = m->token_hash;
    }
    return copy_bytes(e->token_hash, SP_TOKEN_HASH_LEN, token_hash, "token_hash", err);
}

static int event_fields_rejected(sp_accounts_event *e, const ProtobufCMessage *payload,
                                 sp_error *err) {
    const Solipass__Accounts__CommandRejected *m = (const void *)payload;
    COPY(e->command_type, m->command_type, "command_type");
    COPY(e->code, m->code, "code");
    COPY(e->message, m->message, "message");
    COPY(e->field, m->field, "field");
    return copy_bytes(e->request_hash, SP_KEY_LEN, m->request_hash, "request_hash", err);
}

static int event_fields_activation(sp_accounts_event *e, const ProtobufCMessage *payload,
                                   sp_error *err) {
    if (e->kind == SP_ACCOUNTS_EV_ACTIVATION_ISSUED) {
        const Solipass__Accounts__ActivationIssued *m = (const void *)payload;
        COPY(e->activation_id, m->activation_id, "activation_id");
        COPY(e->user_id, m->user_id, "user_id");
        COPY(e->email, m->email, "email");
        COPY(e->purpose, m->purpose, "purpose");
        e->expires_at_ms = m->expires_at_ms;
        return 0;
    }
    const Solipass__Accounts__PasswordSet *m = (const void *)payload;
    COPY(e->user_id, m->user_id, "user_id");
    COPY(e->activation_id, m->activation_id, "activation_id");
    COPY(e->password_hash, m->password_hash, "password_hash");
    COPY(e->purpose, m->purpose, "purpose");
    return 0;
}

static int event_envelope(sp_accounts_event *e, const Solipass__Envelope *envelope, sp_error *err) {
    COPY(e->aggregate_id, envelope->aggregate_id, "aggregate_id");
    COPY(e->command_id, envelope->command_id, "command_id");
    COPY(e->actor_id, envelope->actor_id, "actor_id");
    e->aggregate_version = envelope->aggregate_version;
    e->occurred_at_ms = envelope->occurred_at_ms;
    return 0;
}

int sp_accounts_event_decode(const Solipass__Envelope *envelope, sp_accounts_event *out,
                             sp_error *err) {
    assert(envelope != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    const type_entry *entry = find_type(event_types, EVENT_TYPE_COUNT, envelope->type);
    if (entry == NULL) return sp_error_set(err, 400, "malformed", "type", "not an accounts event type");
    out->kind = (sp_accounts_event_kind)entry->kind;
    if (event_envelope(out, envelope, err) != 0) return -1;
    ProtobufCMessage *payload = unpack_payload(envelope, entry, err);
    if (payload == NULL) return -1;
    int rc = -1;
    switch (out->kind) {
    case SP_ACCOUNTS_EV_PARTNER_CREATED: rc = event_fields_partner(out, payload, err); break;
    case SP_ACCOUNTS_EV_USER_REGISTERED: rc = event_fields_user(out, payload, err); break;
    case SP_ACCOUNTS_EV_SESSION_STARTED:
    case SP_ACCOUNTS_EV_SESSION_ENDED: rc = event_fields_session(out, payload, err); break;
    case SP_ACCOUNTS_EV_COMMAND_REJECTED: rc = event_fields_rejected(out, payload, err); break;
    case SP_ACCOUNTS_EV_ACTIVATION_ISSUED:
    case SP_ACCOUNTS_EV_PASSWORD_SET: rc = event_fields_activation(out, payload, err); break;
    }
    protobuf_c_message_free_unpacked(payload, NULL);
    return rc;
}

/* ------------------------------------------------------------------ events out */

/* protobuf-c declares message strings `char *` although packing only reads them. */
#define BORROW(s) ((char *)(s))
#define BORROW_BYTES(b) ((ProtobufCBinaryData){.len = sizeof(b), .data = (uint8_t *)(b)})

const ProtobufCMessage *sp_accounts_event_to_pb(const sp_accounts_event *e, sp_accounts_event_pb *pb) {
    memset(pb, 0, sizeof *pb);
    pb->meta.type = sp_accounts_event_type(e->kind);
    assert(pb->meta.type != NULL);
    pb->meta.aggregate_id = e->aggregate_id;
    pb->meta.aggregate_version = e->aggregate_version;
    pb->meta.occurred_at_ms = e->occurred_at_ms;
    pb->meta.command_id = e->command_id;
    pb->meta.causation_id = "";
    pb->meta.reply_to = "";
    pb->meta.actor_id = e->actor_id;
    switch (e->kind) {
    case SP_ACCOUNTS_EV_PARTNER_CREATED: {
        Solipass__Accounts__PartnerCreated *m = &pb->u.partner_created;
        solipass__accounts__partner_created__init(m);
        m->partner_id = BORROW(e->partner_id);
        m->partner_code = BORROW(e->partner_code);
        m->name = BORROW(e->name);
        m->category = BORROW(e->category);
        return &m->base;
    }
    case SP_ACCOUNTS_EV_USER_REGISTERED: {
        Solipass__Accounts__UserRegistered *m = &pb->u.user_registered;
        solipass__accounts__user_registered__init(m);
        m->user_id = BORROW(e->user_id);
        m->email = BORROW(e->email);
        m->password_hash = BORROW(e->password_hash);
        m->full_name = BORROW(e->full_name);
        m->role = (Solipass__Accounts__Role)e->role;
        m->partner_id = BORROW(e->partner_id);
        m->pass_id = BORROW(e->pass_id);
        return &m->base;
    }
    case SP_ACCOUNTS_EV_SESSION_STARTED: {
        Solipass__Accounts__SessionStarted *m = &pb->u.session_started;
        solipass__accounts__session_started__init(m);
        m->user_id = BORROW(e->user_id);
        m->token_hash = BORROW_BYTES(e->token_hash);
        m->expires_at_ms = e->expires_at_ms;
        return &m->base;
    }
    case SP_ACCOUNTS_EV_SESSION_ENDED: {
        Solipass__Accounts__SessionEnded *m = &pb->u.session_ended;
        solipass__accounts__session_ended__init(m);
        m->user_id = BORROW(e->user_id);
        m->token_hash = BORROW_BYTES(e->token_hash);
        return &m->base;
    }
    case SP_ACCOUNTS_EV_ACTIVATION_ISSUED: {
        Solipass__Accounts__ActivationIssued *m = &pb->u.activation_issued;
        solipass__accounts__activation_issued__init(m);
        m->activation_id = BORROW(e->activation_id);
        m->user_id = BORROW(e->user_id);
        m->email = BORROW(e->email);
        m->purpose = BORROW(e->purpose);
        m->expires_at_ms = e->expires_at_ms;
        return &m->base;
    }
    case SP_ACCOUNTS_EV_PASSWORD_SET: {
        Solipass__Accounts__PasswordSet *m = &pb->u.password_set;
        solipass__accounts__password_set__init(m);
        m->user_id = BORROW(e->user_id);
        m->activation_id = BORROW(e->activation_id);
        m->password_hash = BORROW(e->password_hash);
        m->purpose = BORROW(e->purpose);
        return &m->base;
    }
    case SP_ACCOUNTS_EV_COMMAND_REJECTED: break;
    }
    Solipass__Accounts__CommandRejected *m = &pb->u.command_rejected;
    solipass__accounts__command_rejected__init(m);
    m->command_type = BORROW(e->command_type);
    m->code = BORROW(e->code);
    m->message = BORROW(e->message);
    m->field = BORROW(e->field);
    m->request_hash = BORROW_BYTES(e->request_hash);
    return &m->base;
}
