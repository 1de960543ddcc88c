/* accounts_codec.c - accounts commands and events between protobuf and the
 * domain structs. Pure: no I/O. Events read from the log are checked as
 * untrusted input (sizes, UTF-8), commands are checked later by decide. */
#include "accounts_codec.h"
#include "accounts_internal.h"

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
    {"accounts.UpdatePartnerProfile.v1", SP_ACCOUNTS_CMD_UPDATE_PROFILE,
     &solipass__accounts__update_partner_profile__descriptor},
    {"accounts.SetPartnerImage.v1", SP_ACCOUNTS_CMD_SET_IMAGE,
     &solipass__accounts__set_partner_image__descriptor},
    {"accounts.AddPartnerUser.v1", SP_ACCOUNTS_CMD_ADD_PARTNER_USER,
     &solipass__accounts__add_partner_user__descriptor},
    {"accounts.ChangeUserRole.v1", SP_ACCOUNTS_CMD_CHANGE_ROLE,
     &solipass__accounts__change_user_role__descriptor},
    {"accounts.RemoveUser.v1", SP_ACCOUNTS_CMD_REMOVE_USER,
     &solipass__accounts__remove_user__descriptor},
    {"accounts.PublishConvention.v1", SP_ACCOUNTS_CMD_PUBLISH_CONVENTION,
     &solipass__accounts__publish_convention__descriptor},
    {"accounts.AcceptConvention.v1", SP_ACCOUNTS_CMD_ACCEPT_CONVENTION,
     &solipass__accounts__accept_convention__descriptor},
    {"accounts.IssueActivation.v1", SP_ACCOUNTS_CMD_ISSUE_ACTIVATION,
     &solipass__accounts__issue_activation__descriptor},
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
    {"accounts.PartnerProfileUpdated.v1", SP_ACCOUNTS_EV_PROFILE_UPDATED,
     &solipass__accounts__partner_profile_updated__descriptor},
    {"accounts.PartnerImageSet.v1", SP_ACCOUNTS_EV_IMAGE_SET,
     &solipass__accounts__partner_image_set__descriptor},
    {"accounts.UserRoleChanged.v1", SP_ACCOUNTS_EV_ROLE_CHANGED,
     &solipass__accounts__user_role_changed__descriptor},
    {"accounts.UserRemoved.v1", SP_ACCOUNTS_EV_USER_REMOVED,
     &solipass__accounts__user_removed__descriptor},
    {"accounts.ConventionPublished.v1", SP_ACCOUNTS_EV_CONVENTION_PUBLISHED,
     &solipass__accounts__convention_published__descriptor},
    {"accounts.ConventionAccepted.v1", SP_ACCOUNTS_EV_CONVENTION_ACCEPTED,
     &solipass__accounts__convention_accepted__descriptor},
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
    assert(envelope != NULL);
    assert(entry != NULL);
    ProtobufCMessage *payload = protobuf_c_message_unpack(entry->descriptor, NULL,
                                                          envelope->payload.len,
                                                          envelope->payload.data);
    if (payload == NULL)
        sp_error_set(err, 400, "malformed", "payload", "the %s payload does not decode",
                     entry->type);
    return payload;
}

/* ------------------------------------------------------------------ profiles */

/* A profile from the wire into fixed fields; the first member that does not
 * fit is named in overflow (a command is then refused, an event is poison). */
static void profile_from_pb(const Solipass__Accounts__PartnerProfile *m, sp_accounts_profile *p,
                            char *overflow, size_t overflow_size) {
    memset(p, 0, sizeof *p);
    overflow[0] = '\0';
    if (m == NULL) return;
    struct {
        char *dst;
        size_t size;
        const char *src;
        const char *name;
    } items[] = {
        {p->legal_name, sizeof p->legal_name, m->legal_name, "legal_name"},
        {p->public_name, sizeof p->public_name, m->public_name, "public_name"},
        {p->description, sizeof p->description, m->description, "description"},
        {p->website, sizeof p->website, m->website, "website"},
        {p->hq_address, sizeof p->hq_address, m->hq_address, "hq_address"},
        {p->activity_address, sizeof p->activity_address, m->activity_address, "activity_address"},
        {p->contact_phone, sizeof p->contact_phone, m->contact_phone, "contact_phone"},
        {p->contact_email, sizeof p->contact_email, m->contact_email, "contact_email"},
        {p->iban, sizeof p->iban, m->iban, "iban"},
        {p->bic, sizeof p->bic, m->bic, "bic"},
        {p->bank_holder, sizeof p->bank_holder, m->bank_holder, "bank_holder"},
    };
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        const char *src = items[i].src != NULL ? items[i].src : "";
        if (strlen(src) >= items[i].size) {
            if (overflow[0] == '\0') snprintf(overflow, overflow_size, "%s", items[i].name);
            continue;
        }
        memcpy(items[i].dst, src, strlen(src) + 1);
    }
    if (m->n_social_links > SP_PROFILE_SOCIAL_LINKS_MAX) {
        if (overflow[0] == '\0') snprintf(overflow, overflow_size, "social_links");
        return;
    }
    for (size_t i = 0; i < m->n_social_links; i++) {
        const char *src = m->social_links[i] != NULL ? m->social_links[i] : "";
        if (strlen(src) >= sizeof p->social_links[i]) {
            if (overflow[0] == '\0') snprintf(overflow, overflow_size, "social_links");
            return;
        }
        memcpy(p->social_links[i], src, strlen(src) + 1);
    }
    p->social_link_count = m->n_social_links;
}

/* ------------------------------------------------------------------ commands */

static void command_fields_partner_space(sp_accounts_command_msg *msg,
                                         const ProtobufCMessage *payload) {
    assert(msg != NULL);
    sp_accounts_command *c = &msg->command;
    switch (c->kind) {
    case SP_ACCOUNTS_CMD_UPDATE_PROFILE: {
        const Solipass__Accounts__UpdatePartnerProfile *m = (const void *)payload;
        c->partner_id = m->partner_id;
        profile_from_pb(m->profile, &msg->profile, msg->profile_overflow,
                        sizeof msg->profile_overflow);
        c->profile = m->profile != NULL ? &msg->profile : NULL;
        return;
    }
    case SP_ACCOUNTS_CMD_SET_IMAGE: {
        const Solipass__Accounts__SetPartnerImage *m = (const void *)payload;
        c->partner_id = m->partner_id;
        c->slot = m->slot;
        c->sha256 = m->sha256;
        c->content_type = m->content_type;
        return;
    }
    case SP_ACCOUNTS_CMD_ADD_PARTNER_USER: {
        const Solipass__Accounts__AddPartnerUser *m = (const void *)payload;
        c->partner_id = m->partner_id;
        c->email = m->email;
        c->full_name = m->full_name;
        c->role = (sp_accounts_role)m->role;
        return;
    }
    case SP_ACCOUNTS_CMD_CHANGE_ROLE: {
        const Solipass__Accounts__ChangeUserRole *m = (const void *)payload;
        c->user_id = m->user_id;
        c->role = (sp_accounts_role)m->role;
        return;
    }
    case SP_ACCOUNTS_CMD_REMOVE_USER: {
        const Solipass__Accounts__RemoveUser *m = (const void *)payload;
        c->user_id = m->user_id;
        return;
    }
    default: return;
    }
}

static void command_fields_convention(sp_accounts_command *c, const ProtobufCMessage *payload) {
    switch (c->kind) {
    case SP_ACCOUNTS_CMD_PUBLISH_CONVENTION: {
        const Solipass__Accounts__PublishConvention *m = (const void *)payload;
        c->title = m->title;
        c->version = m->version;
        c->text = m->text;
        c->effective_date = m->effective_date;
        c->mandatory = m->mandatory;
        return;
    }
    case SP_ACCOUNTS_CMD_ACCEPT_CONVENTION: {
        const Solipass__Accounts__AcceptConvention *m = (const void *)payload;
        c->convention_id = m->convention_id;
        return;
    }
    default: return;
    }
}

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
    case SP_ACCOUNTS_CMD_ISSUE_ACTIVATION: {
        const Solipass__Accounts__IssueActivation *m = (const void *)payload;
        c->user_id = m->user_id;
        return;
    }
    case SP_ACCOUNTS_CMD_PUBLISH_CONVENTION:
    case SP_ACCOUNTS_CMD_ACCEPT_CONVENTION: command_fields_convention(c, payload); return;
    default: return;
    }
}

int sp_accounts_command_decode(const Solipass__Envelope *envelope, sp_accounts_command_msg *out,
                               sp_error *err) {
    assert(envelope != NULL);
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    const type_entry *entry = find_type(command_types, COMMAND_TYPE_COUNT, envelope->type);
    if (entry == NULL)
        return sp_error_set(err, 400, "malformed", "type", "not an accounts command type");
    out->payload = unpack_payload(envelope, entry, err);
    if (out->payload == NULL) return -1;
    sp_accounts_command *c = &out->command;
    c->kind = (sp_accounts_command_kind)entry->kind;
    c->actor_id = envelope->actor_id != NULL ? envelope->actor_id : "";
    c->actor_role = envelope->actor_role != NULL ? envelope->actor_role : "";
    c->command_id = envelope->command_id != NULL ? envelope->command_id : "";
    c->name = c->category = c->email = c->password_hash = c->full_name = c->user_id = "";
    c->activation_id = c->purpose = "";
    c->partner_id = c->slot = c->sha256 = c->content_type = "";
    c->convention_id = c->title = c->version = c->text = c->effective_date = "";
    c->profile_overflow = out->profile_overflow;
    command_fields(c, out->payload);
    command_fields_partner_space(out, out->payload);
    return 0;
}

void sp_accounts_command_msg_free(sp_accounts_command_msg *msg) {
    if (msg == NULL || msg->payload == NULL) return;
    protobuf_c_message_free_unpacked(msg->payload, NULL);
    msg->payload = NULL;
}

/* ------------------------------------------------------------------ events in */

/* A string from the log into a fixed field: must fit and be UTF-8 text. */
static int copy_text(char *dst, size_t dst_size, const char *src, const char *field,
                     sp_error *err) {
    if (src == NULL) src = "";
    if (strlen(src) >= dst_size || !sp_accounts_text_valid(src, 0, SIZE_MAX))
        return sp_error_set(err, 400, "malformed", field, "%s is too long or not UTF-8 text",
                            field);
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

#define COPY(dst, src, field) \
    do { \
        if (copy_text((dst), sizeof(dst), (src), (field), err) != 0) return -1; \
    } while (0)

static int event_fields_partner(sp_accounts_event *e, const ProtobufCMessage *payload,
                                sp_error *err) {
    assert(e != NULL);
    const Solipass__Accounts__PartnerCreated *m = (const void *)payload;
    COPY(e->partner_id, m->partner_id, "partner_id");
    COPY(e->partner_code, m->partner_code, "partner_code");
    COPY(e->name, m->name, "name");
    COPY(e->category, m->category, "category");
    return 0;
}

static int event_fields_user(sp_accounts_event *e, const ProtobufCMessage *payload, sp_error *err) {
    assert(e != NULL);
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
    assert(e != NULL);
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

static int event_fields_partner_space(sp_accounts_event *e, const ProtobufCMessage *payload,
                                      sp_error *err) {
    char overflow[32];
    switch (e->kind) {
    case SP_ACCOUNTS_EV_PROFILE_UPDATED: {
        const Solipass__Accounts__PartnerProfileUpdated *m = (const void *)payload;
        COPY(e->partner_id, m->partner_id, "partner_id");
        profile_from_pb(m->profile, &e->profile, overflow, sizeof overflow);
        if (m->profile == NULL || overflow[0] != '\0')
            return sp_error_set(err, 400, "malformed", "profile",
                                "the profile is missing or "
                                "its %s is too long",
                                overflow[0] ? overflow : "whole");
        return 0;
    }
    case SP_ACCOUNTS_EV_IMAGE_SET: {
        const Solipass__Accounts__PartnerImageSet *m = (const void *)payload;
        COPY(e->partner_id, m->partner_id, "partner_id");
        COPY(e->slot, m->slot, "slot");
        COPY(e->sha256, m->sha256, "sha256");
        COPY(e->content_type, m->content_type, "content_type");
        return 0;
    }
    case SP_ACCOUNTS_EV_ROLE_CHANGED: {
        const Solipass__Accounts__UserRoleChanged *m = (const void *)payload;
        COPY(e->user_id, m->user_id, "user_id");
        COPY(e->partner_id, m->partner_id, "partner_id");
        e->role = (sp_accounts_role)m->role;
        return 0;
    }
    default: {
        const Solipass__Accounts__UserRemoved *m = (const void *)payload;
        COPY(e->user_id, m->user_id, "user_id");
        COPY(e->partner_id, m->partner_id, "partner_id");
        return 0;
    }
    }
}

/* The text is not kept: its digest stands for it (request hashes). */
static int event_fields_convention(sp_accounts_event *e, const ProtobufCMessage *payload,
                                   sp_error *err) {
    if (e->kind == SP_ACCOUNTS_EV_CONVENTION_PUBLISHED) {
        const Solipass__Accounts__ConventionPublished *m = (const void *)payload;
        COPY(e->convention_id, m->convention_id, "convention_id");
        COPY(e->title, m->title, "title");
        COPY(e->version, m->version, "version");
        COPY(e->effective_date, m->effective_date, "effective_date");
        COPY(e->user_id, m->published_by, "published_by");
        e->mandatory = m->mandatory;
        sp_accounts_text_sha256(m->text != NULL ? m->text : "", e->text_sha256);
        return 0;
    }
    const Solipass__Accounts__ConventionAccepted *m = (const void *)payload;
    COPY(e->partner_id, m->partner_id, "partner_id");
    COPY(e->convention_id, m->convention_id, "convention_id");
    COPY(e->version, m->version, "version");
    COPY(e->user_id, m->user_id, "user_id");
    return 0;
}

static int event_envelope(sp_accounts_event *e, const Solipass__Envelope *envelope, sp_error *err) {
    assert(e != NULL);
    assert(envelope != NULL);
    COPY(e->aggregate_id, envelope->aggregate_id, "aggregate_id");
    COPY(e->command_id, envelope->command_id, "command_id");
    COPY(e->actor_id, envelope->actor_id, "actor_id");
    COPY(e->actor_role, envelope->actor_role, "actor_role");
    e->aggregate_version = envelope->aggregate_version;
    e->occurred_at_ms = envelope->occurred_at_ms;
    return 0;
}

int sp_accounts_event_decode(const Solipass__Envelope *envelope, sp_accounts_event *out,
                             sp_error *err) {
    assert(envelope != NULL);
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    const type_entry *entry = find_type(event_types, EVENT_TYPE_COUNT, envelope->type);
    if (entry == NULL)
        return sp_error_set(err, 400, "malformed", "type", "not an accounts event type");
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
    case SP_ACCOUNTS_EV_PROFILE_UPDATED:
    case SP_ACCOUNTS_EV_IMAGE_SET:
    case SP_ACCOUNTS_EV_ROLE_CHANGED:
    case SP_ACCOUNTS_EV_USER_REMOVED: rc = event_fields_partner_space(out, payload, err); break;
    case SP_ACCOUNTS_EV_CONVENTION_PUBLISHED:
    case SP_ACCOUNTS_EV_CONVENTION_ACCEPTED: rc = event_fields_convention(out, payload, err); break;
    }
    protobuf_c_message_free_unpacked(payload, NULL);
    return rc;
}

/* ------------------------------------------------------------------ events out */

/* protobuf-c declares message strings `char *` although packing only reads them. */
#define BORROW(s) ((char *)(s))
#define BORROW_BYTES(b) ((ProtobufCBinaryData){.len = sizeof(b), .data = (uint8_t *)(b)})

/* The profile's strings, borrowed into pb->profile. */
static Solipass__Accounts__PartnerProfile *profile_to_pb(const sp_accounts_profile *p,
                                                         sp_accounts_event_pb *pb) {
    assert(p != NULL);
    assert(pb != NULL);
    Solipass__Accounts__PartnerProfile *m = &pb->profile;
    solipass__accounts__partner_profile__init(m);
    m->legal_name = BORROW(p->legal_name);
    m->public_name = BORROW(p->public_name);
    m->description = BORROW(p->description);
    m->website = BORROW(p->website);
    m->hq_address = BORROW(p->hq_address);
    m->activity_address = BORROW(p->activity_address);
    m->contact_phone = BORROW(p->contact_phone);
    m->contact_email = BORROW(p->contact_email);
    m->iban = BORROW(p->iban);
    m->bic = BORROW(p->bic);
    m->bank_holder = BORROW(p->bank_holder);
    assert(p->social_link_count <= SP_PROFILE_SOCIAL_LINKS_MAX);
    for (size_t i = 0; i < p->social_link_count; i++)
        pb->social_links[i] = BORROW(p->social_links[i]);
    m->n_social_links = p->social_link_count;
    m->social_links = p->social_link_count > 0 ? pb->social_links : NULL;
    return m;
}

static const ProtobufCMessage *partner_space_to_pb(const sp_accounts_event *e,
                                                   sp_accounts_event_pb *pb) {
    switch (e->kind) {
    case SP_ACCOUNTS_EV_PROFILE_UPDATED: {
        Solipass__Accounts__PartnerProfileUpdated *m = &pb->u.profile_updated;
        solipass__accounts__partner_profile_updated__init(m);
        m->partner_id = BORROW(e->partner_id);
        m->profile = profile_to_pb(&e->profile, pb);
        return &m->base;
    }
    case SP_ACCOUNTS_EV_IMAGE_SET: {
        Solipass__Accounts__PartnerImageSet *m = &pb->u.image_set;
        solipass__accounts__partner_image_set__init(m);
        m->partner_id = BORROW(e->partner_id);
        m->slot = BORROW(e->slot);
        m->sha256 = BORROW(e->sha256);
        m->content_type = BORROW(e->content_type);
        return &m->base;
    }
    case SP_ACCOUNTS_EV_ROLE_CHANGED: {
        Solipass__Accounts__UserRoleChanged *m = &pb->u.role_changed;
        solipass__accounts__user_role_changed__init(m);
        m->user_id = BORROW(e->user_id);
        m->partner_id = BORROW(e->partner_id);
        m->role = (Solipass__Accounts__Role)e->role;
        return &m->base;
    }
    case SP_ACCOUNTS_EV_USER_REMOVED: {
        Solipass__Accounts__UserRemoved *m = &pb->u.user_removed;
        solipass__accounts__user_removed__init(m);
        m->user_id = BORROW(e->user_id);
        m->partner_id = BORROW(e->partner_id);
        return &m->base;
    }
    default: return NULL;
    }
}

/* A user's sessions, activation links and passwords. */
static const ProtobufCMessage *credentials_to_pb(const sp_accounts_event *e,
                                                 sp_accounts_event_pb *pb) {
    switch (e->kind) {
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
    default: return NULL;
    }
}

/* The conventions' events, and a refusal (every kind left). */
static const ProtobufCMessage *convention_or_rejection_to_pb(const sp_accounts_event *e,
                                                             sp_accounts_event_pb *pb) {
    switch (e->kind) {
    case SP_ACCOUNTS_EV_CONVENTION_PUBLISHED: {
        Solipass__Accounts__ConventionPublished *m = &pb->u.convention_published;
        solipass__accounts__convention_published__init(m);
        assert(e->text != NULL); /* only a decided event is encoded */
        m->convention_id = BORROW(e->convention_id);
        m->title = BORROW(e->title);
        m->version = BORROW(e->version);
        m->text = BORROW(e->text);
        m->effective_date = BORROW(e->effective_date);
        m->mandatory = e->mandatory;
        m->published_by = BORROW(e->user_id);
        return &m->base;
    }
    case SP_ACCOUNTS_EV_CONVENTION_ACCEPTED: {
        Solipass__Accounts__ConventionAccepted *m = &pb->u.convention_accepted;
        solipass__accounts__convention_accepted__init(m);
        m->partner_id = BORROW(e->partner_id);
        m->convention_id = BORROW(e->convention_id);
        m->version = BORROW(e->version);
        m->user_id = BORROW(e->user_id);
        m->accepted_at_ms = e->occurred_at_ms;
        return &m->base;
    }
    default: break;
    }
    assert(e->kind == SP_ACCOUNTS_EV_COMMAND_REJECTED);
    Solipass__Accounts__CommandRejected *m = &pb->u.command_rejected;
    solipass__accounts__command_rejected__init(m);
    m->command_type = BORROW(e->command_type);
    m->code = BORROW(e->code);
    m->message = BORROW(e->message);
    m->field = BORROW(e->field);
    m->request_hash = BORROW_BYTES(e->request_hash);
    return &m->base;
}

const ProtobufCMessage *sp_accounts_event_to_pb(const sp_accounts_event *e,
                                                sp_accounts_event_pb *pb) {
    assert(e != NULL);
    assert(pb != NULL);
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
    pb->meta.actor_role = e->actor_role;
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
    case SP_ACCOUNTS_EV_SESSION_STARTED:
    case SP_ACCOUNTS_EV_SESSION_ENDED:
    case SP_ACCOUNTS_EV_ACTIVATION_ISSUED:
    case SP_ACCOUNTS_EV_PASSWORD_SET: return credentials_to_pb(e, pb);
    case SP_ACCOUNTS_EV_PROFILE_UPDATED:
    case SP_ACCOUNTS_EV_IMAGE_SET:
    case SP_ACCOUNTS_EV_ROLE_CHANGED:
    case SP_ACCOUNTS_EV_USER_REMOVED: return partner_space_to_pb(e, pb);
    case SP_ACCOUNTS_EV_CONVENTION_PUBLISHED:
    case SP_ACCOUNTS_EV_CONVENTION_ACCEPTED:
    case SP_ACCOUNTS_EV_COMMAND_REJECTED: break;
    }
    return convention_or_rejection_to_pb(e, pb);
}
