/* commands.h - sending commands to the log and waiting for their replies.
 *
 * One idempotent producer sends every command with reply_to = this
 * process's "gateway-<uuid>". A thread reads solipass.replies.v1 from the
 * offset that was its end when the gateway started (so no reply produced
 * after start is missed), keeps the replies whose key is ours, and hands
 * each to the request waiting for it (matched by causation_id = the command
 * envelope's id) through a bounded table of waiters. The same thread serves
 * the producer's delivery reports, so that a command the broker refused
 * fails its request at once instead of at the timeout.
 *
 * Ownership: the module owns the producer, the consumer, the thread and
 * the table. A reply handed out is the caller's to free with
 * solipass__reply__free_unpacked(reply, NULL). */
#ifndef SP_GW_COMMANDS_H
#define SP_GW_COMMANDS_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
#include "gateway.h"
#include "metrics.h"
#include "reply.pb-c.h"
#include "sp_envelope.h"
#include "sp_error.h"

#define SP_GW_WAITERS_MAX 1024 /* commands in flight at once */
#define SP_GW_REPLIES_POLL_MS 10
#define SP_GW_REPLIES_BATCH_MAX 64
#define SP_GW_KAFKA_START_WAIT_MS 30000 /* for the broker at start */

sp_gw_commands *sp_gw_commands_new(const char *brokers, sp_gw_metrics *metrics, sp_log *log,
                                   sp_error *err);
/* Stops and joins the thread, then flushes and closes the producer. */
void sp_gw_commands_free(sp_gw_commands *commands);

const char *sp_gw_commands_reply_to(const sp_gw_commands *commands);
size_t sp_gw_commands_pending(sp_gw_commands *commands);

/* Produces meta + payload to topic (keyed by meta->aggregate_id; reply_to
 * and causation_id are set here) and waits until deadline_ms (monotonic)
 * for the reply. 503 "unavailable" when the table is full or the log
 * refused the command; 503 "timeout" when no reply came in time. */
int sp_gw_commands_send(sp_gw_commands *commands, const char *topic, const sp_envelope_meta *meta,
                        const ProtobufCMessage *payload, int64_t deadline_ms,
                        Solipass__Reply **reply, sp_error *err);

/* Send, then, for an ok reply, wait until the projection shows its events:
 * the caller's next read sees what it just did. A refused command's reply
 * is handed out as is (ok = false). */
int sp_gw_commands_run(sp_gw_commands *commands, sp_gw_projwait *projwait, const char *topic,
                       const sp_envelope_meta *meta, const ProtobufCMessage *payload,
                       int64_t deadline_ms, Solipass__Reply **reply, sp_error *err);

#endif
