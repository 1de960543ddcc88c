/* accounts_snapshot.h - the accounts state as bytes, and back: what lets a
 * restart of the accounts service apply only the events after its snapshot
 * instead of the whole of solipass.accounts.events.v1. Pure (no I/O): the
 * file that holds the bytes is common/sp_snapshot_file.c's; the fields and
 * the checksum are common/sp_snapshot_codec.c's.
 *
 * What a snapshot holds is everything sp_accounts_apply and
 * sp_accounts_decide read: every user (with its sessions in start order and
 * its password links in issue order), every partner (with its
 * administrator counts), every convention and acceptance, every command
 * outcome kept for idempotency (in the two lists of their storing order,
 * which decide which is freed first), the back-office count - the limits
 * the state was built with, and the log position it stands at (the offset
 * of the next event and the identity of the event just before it, so the
 * loader can check the log still holds that event).
 *
 * Layout: a header (magic, format, the writing binary's version, the
 * partition, the limits, the position), the body (users, partners,
 * conventions and acceptances sorted by key, records in their lists'
 * order), then the checksum. Refused, with the reason: another format or
 * binary version, another partition, other limits (a rebuild under other
 * limits frees other outcomes), a checksum that does not match, and a body
 * whose parts disagree with one another (a session of an unknown user, an
 * administrator count that is not its users', an entry twice).
 *
 * Memory: sp_accounts_snapshot_encode returns a malloc'd buffer the caller
 * frees; sp_accounts_snapshot_decode initialises *state (destroyed with
 * sp_accounts_state_destroy) or leaves it zeroed on failure. */
#ifndef SP_ACCOUNTS_SNAPSHOT_H
#define SP_ACCOUNTS_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "accounts_state.h"
#include "sp_error.h"
#include "sp_snapshot_codec.h"

#define SP_ACCOUNTS_SNAPSHOT_FORMAT 1u
#define SP_ACCOUNTS_SNAPSHOT_VERSION_MAX 64 /* bytes of the binary's version */
#define SP_ACCOUNTS_SNAPSHOT_BYTES_MAX SP_SNAPSHOT_BYTES_MAX

/* Where the snapshot stands on the events (sp_snapshot_codec.h). */
_Static_assert(SP_ACCOUNTS_COMMAND_ID_MAX <= SP_SNAPSHOT_COMMAND_ID_MAX,
               "a command id fits a snapshot position");
typedef sp_snapshot_position sp_accounts_snapshot_position;

/* The identity of an event, as a position's last event. */
void sp_accounts_snapshot_note(sp_accounts_snapshot_position *position,
                               const sp_accounts_event *event, int64_t offset);
/* Whether event is the one position names as its last. */
bool sp_accounts_snapshot_names(const sp_accounts_snapshot_position *position,
                                const sp_accounts_event *event);

/* The state's bytes (*out, *out_len), stamped with build_version and
 * partition. -1: 503 out of memory, 500 past SP_ACCOUNTS_SNAPSHOT_BYTES_MAX. */
int sp_accounts_snapshot_encode(const sp_accounts_state *state, int32_t partition,
                                const sp_accounts_snapshot_position *position,
                                const char *build_version, uint8_t **out, size_t *out_len,
                                sp_error *err);

/* *state from the bytes, built with limits. -1 (state zeroed): 422
 * "snapshot_refused" with the reason, 503 out of memory. */
int sp_accounts_snapshot_decode(const uint8_t *bytes, size_t len, int32_t partition,
                                const sp_accounts_limits *limits, const char *build_version,
                                sp_accounts_state *state, sp_accounts_snapshot_position *position,
                                sp_error *err);

/* Whether two states hold the same accounts (their canonical bytes are
 * equal); for the tests. -1 when one cannot be encoded. */
int sp_accounts_snapshot_equal(const sp_accounts_state *a, const sp_accounts_state *b, bool *equal,
                               sp_error *err);

#endif
