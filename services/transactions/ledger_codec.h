/* ledger_codec.h - between the ledger's plain structs (ledger.h) and the
 * protobuf messages on the log (proto/ledger.proto, reply.proto,
 * accounts.proto). Pure: no I/O; every field read from the log is checked
 * (lengths, forms) before it reaches the ledger.
 *
 * Memory: the *_pb holders are caller-owned (usually on the stack) and give
 * protobuf messages whose strings borrow from the struct they were built
 * from: keep both alive until the message is packed. A sp_ledger_command
 * borrows its strings from the unpacked payload its holder owns; free it
 * with sp_ledger_command_pb_free. */
#ifndef SP_LEDGER_CODEC_H
#define SP_LEDGER_CODEC_H

#include <stdbool.h>
#include <protobuf-c/protobuf-c.h>
#include "accounts.pb-c.h"
#include "envelope.pb-c.h"
#include "ledger.h"
#include "ledger.pb-c.h"
#include "reply.pb-c.h"
#include "sp_envelope.h"
#include "sp_error.h"

/* ------------------------------------------------------------ commands */

typedef struct sp_ledger_command_pb {
    ProtobufCMessage *payload;    /* owned, unpacked */
    sp_ledger_refund_part *parts; /* owned: an OpenRefundRequest's parts (borrowing from payload) */
} sp_ledger_command_pb;

/* Decodes the payload of a ledger command envelope and checks its identity
 * (aggregate id = pass id, or the request id for a refund request's own
 * commands, a uuid; actor ""/uuid; command id). -1 with a reason when the
 * type is unknown or the message malformed: a dead letter. */
int sp_ledger_command_from_envelope(const Solipass__Envelope *envelope, sp_ledger_command *command,
                                    sp_ledger_command_pb *holder, sp_error *err);
void sp_ledger_command_pb_free(sp_ledger_command_pb *holder);

/* ------------------------------------------------------------ events */

/* Decodes a ledger event envelope. -1 when not a ledger event or malformed. */
int sp_ledger_event_from_envelope(const Solipass__Envelope *envelope, sp_ledger_event *event,
                                  sp_error *err);

typedef struct sp_ledger_event_pb {
    Solipass__Ledger__PassOpened opened;
    Solipass__Ledger__PassCredited credited;
    Solipass__Ledger__PaymentAccepted payment;
    Solipass__Ledger__EnvelopeExpired expired;
    Solipass__Ledger__CommandRejected rejected;
    Solipass__Ledger__VoucherIssued issued;
    Solipass__Ledger__VoucherRedeemed redeemed;
    Solipass__Ledger__VoucherReleased released;
    Solipass__Ledger__OperationCancelled cancelled;
    Solipass__Ledger__OperationReferenceSet reference_set;
    Solipass__Ledger__RefundRequestOpened refund_opened;
    Solipass__Ledger__RefundRequestConfirmed refund_confirmed;
    Solipass__Ledger__RefundRequestCancelled refund_cancelled;
    Solipass__Ledger__RefundRequestPaid refund_paid;
    Solipass__Ledger__RefundPartChanged part_changed;
    Solipass__Ledger__PassClosed closed;
    sp_ledger_posting *close_postings;               /* owned: a PassClosed's postings */
    Solipass__Ledger__Posting *close_pb;             /* owned, borrowing close_postings */
    Solipass__Ledger__Posting **close_pb_ptrs;       /* owned */
    Solipass__Ledger__RefundPart *refund_parts;      /* owned: sp_ledger_event_pb_release */
    Solipass__Ledger__RefundPart **refund_part_ptrs; /* owned */
    char *operation_id_ptrs[SP_LEDGER_REFUND_PART_OPERATIONS_MAX];
    Solipass__Ledger__EnvelopeSpec specs[SP_LEDGER_ENVELOPES_MAX];
    Solipass__Ledger__EnvelopeSpec *spec_ptrs[SP_LEDGER_ENVELOPES_MAX];
    Solipass__Ledger__Posting postings[1];
    Solipass__Ledger__Posting *posting_ptrs[1];
} sp_ledger_event_pb;

/* The payload message of the event (borrowing from event and holder). A
 * RefundRequestOpened allocates its parts, a PassClosed its postings, in the holder: call
 * sp_ledger_event_pb_release once packed (harmless for any event). NULL
 * when out of memory, or for a RefundRequestOpened without its parts (one
 * decoded from the log). */
const ProtobufCMessage *sp_ledger_event_to_pb(const sp_ledger_event *event,
                                              sp_ledger_event_pb *holder);
void sp_ledger_event_pb_release(sp_ledger_event_pb *holder);
/* The envelope fields of the event; causation_id may be "" (borrowed). */
void sp_ledger_event_meta(const sp_ledger_event *event, const char *causation_id,
                          sp_envelope_meta *meta);

/* ------------------------------------------------------------ replies */

typedef struct sp_ledger_reply_pb {
    Solipass__Reply reply;
    Solipass__EventRef ref;
    Solipass__EventRef *ref_ptrs[1];
} sp_ledger_reply_pb;

/* The reply for a recorded outcome (replayed: it was answered before). */
const ProtobufCMessage *sp_ledger_reply_of_record(const sp_ledger_record *record, bool replayed,
                                                  sp_ledger_reply_pb *holder);
/* The reply for a refusal that records nothing. */
const ProtobufCMessage *sp_ledger_reply_of_error(const sp_error *error, sp_ledger_reply_pb *holder);

/* ------------------------------------------------------------ partners */

/* Feeds the directory from one accounts event: PartnerCreated adds a
 * partner, ConventionPublished a convention, ConventionAccepted an
 * acceptance (*added = true); other types are ignored. -1 when malformed. */
int sp_ledger_directory_apply_envelope(sp_ledger_directory *dir, const Solipass__Envelope *envelope,
                                       bool *added, sp_error *err);

#endif
