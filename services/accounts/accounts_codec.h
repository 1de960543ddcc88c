/* accounts_codec.h - accounts commands and events between their wire form
 * (a proto/accounts.proto message inside a solipass.Envelope) and the domain
 * structs of accounts_state.h. Pure: no I/O.
 *
 * Memory: a decoded command borrows its strings from the envelope (actor and
 * command ids) and from the payload message it owns; free it with
 * sp_accounts_command_msg_free() before freeing the envelope. A decoded event
 * is a copy. An encoded event (sp_accounts_event_pb) borrows every string
 * from the event it was made from. */
#ifndef SP_ACCOUNTS_CODEC_H
#define SP_ACCOUNTS_CODEC_H

#include <stdbool.h>

#include "accounts.pb-c.h"
#include "envelope.pb-c.h"
#include "sp_envelope.h"
#include "sp_error.h"

#include "accounts_state.h"

typedef struct sp_accounts_command_msg {
    sp_accounts_command command;
    ProtobufCMessage *payload;   /* owned */
    sp_accounts_profile profile; /* UpdatePartnerProfile: command.profile points here */
    char profile_overflow[32];   /* the member that did not fit, "" if none */
} sp_accounts_command_msg;

/* "accounts.CreatePartner.v1" ... "accounts.RequestPasswordReset.v1". */
bool sp_accounts_is_command_type(const char *type);
bool sp_accounts_is_event_type(const char *type);

/* Decodes the payload of a command envelope. Field values are not checked
 * here (sp_accounts_decide does, with precise errors). -1 (400 "malformed")
 * when the type is not an accounts command or the payload does not decode. */
int sp_accounts_command_decode(const Solipass__Envelope *envelope, sp_accounts_command_msg *out,
                               sp_error *err);
void sp_accounts_command_msg_free(sp_accounts_command_msg *msg);

/* Decodes an event envelope into a copy. -1 (400 "malformed") when the type
 * is not an accounts event, the payload does not decode, a string is too long
 * or not UTF-8 text, or a hash has the wrong size. */
int sp_accounts_event_decode(const Solipass__Envelope *envelope, sp_accounts_event *out,
                             sp_error *err);

/* An event ready for sp_envelope_pack / sp_envelope_produce: meta (causation
 * id "", set it to the command envelope's id) and the payload message. */
typedef struct sp_accounts_event_pb {
    sp_envelope_meta meta;
    union {
        Solipass__Accounts__PartnerCreated partner_created;
        Solipass__Accounts__UserRegistered user_registered;
        Solipass__Accounts__SessionStarted session_started;
        Solipass__Accounts__SessionEnded session_ended;
        Solipass__Accounts__CommandRejected command_rejected;
        Solipass__Accounts__ActivationIssued activation_issued;
        Solipass__Accounts__PasswordSet password_set;
        Solipass__Accounts__PartnerProfileUpdated profile_updated;
        Solipass__Accounts__PartnerImageSet image_set;
        Solipass__Accounts__UserRoleChanged role_changed;
        Solipass__Accounts__UserRemoved user_removed;
        Solipass__Accounts__ConventionPublished convention_published;
        Solipass__Accounts__ConventionAccepted convention_accepted;
    } u;
    Solipass__Accounts__PartnerProfile profile;
    char *social_links[SP_PROFILE_SOCIAL_LINKS_MAX];
} sp_accounts_event_pb;

/* Fills pb from event and returns its payload message (points into pb). */
const ProtobufCMessage *sp_accounts_event_to_pb(const sp_accounts_event *event,
                                                sp_accounts_event_pb *pb);

#endif
