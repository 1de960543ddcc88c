/* ledger_snapshot.h - one ledger partition's state as bytes, and back: what
 * lets a restart apply only the events after the snapshot instead of the
 * whole log. Pure (no I/O): the file that holds the bytes is
 * common/sp_snapshot_file.c's.
 *
 * What a snapshot holds is everything sp_ledger_apply and sp_ledger_decide
 * read: every pass (envelopes, remembered operations, the opening record,
 * its vouchers still active, closed or not), every partner's owed account,
 * every command outcome kept for idempotency (with where its event landed),
 * every voucher, refund request and refund account, the budget, the bank
 * and the apply counters - and the log position it stands at (the offset
 * of the next event, and the identity of the event just before it, so the
 * loader can check the log still holds that event). The partner directory
 * is not in it: it is rebuilt from the accounts events as before.
 *
 * Layout: a header (magic, format, the writing binary's version, the
 * partition, the log position), the body (every map's entries sorted by
 * key, so the same state always gives the same bytes), then a BLAKE2b-256
 * of everything before it. A snapshot of another format or binary version,
 * of another partition, or whose checksum does not match is refused with
 * the reason: the caller falls back to the whole log.
 *
 * Memory: sp_ledger_snapshot_encode returns a malloc'd buffer the caller
 * frees; sp_ledger_snapshot_decode returns a new state (freed with
 * sp_ledger_state_free) that borrows the directory like any state. */
#ifndef SP_LEDGER_SNAPSHOT_H
#define SP_LEDGER_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "ledger.h"
#include "sp_error.h"
#include "sp_snapshot_codec.h"

#define SP_LEDGER_SNAPSHOT_FORMAT 1u
#define SP_LEDGER_SNAPSHOT_VERSION_MAX 64                  /* bytes of the binary's version */
#define SP_LEDGER_SNAPSHOT_BYTES_MAX SP_SNAPSHOT_BYTES_MAX /* 4 GiB: far above 10^6 passes */
#define SP_LEDGER_SNAPSHOT_CHECKSUM_LEN SP_SNAPSHOT_CHECKSUM_LEN

/* Where the snapshot stands on the events (sp_snapshot_codec.h). */
_Static_assert(SP_LEDGER_COMMAND_ID_MAX <= SP_SNAPSHOT_COMMAND_ID_MAX,
               "a command id fits a snapshot position");
typedef sp_snapshot_position sp_ledger_snapshot_position;

/* The state's bytes (*out, *out_len), stamped with build_version. -1: 503
 * out of memory, 500 past SP_LEDGER_SNAPSHOT_BYTES_MAX. */
int sp_ledger_snapshot_encode(const sp_ledger_state *state,
                              const sp_ledger_snapshot_position *position,
                              const char *build_version, uint8_t **out, size_t *out_len,
                              sp_error *err);

/* A new state from the bytes, with limits and directory as given. -1 and
 * NULL: 422 "snapshot_refused" with the reason (corrupt, checksum, another
 * format, binary version or partition, more entries than the limits allow),
 * 503 out of memory. */
sp_ledger_state *sp_ledger_snapshot_decode(const uint8_t *bytes, size_t len, int32_t partition,
                                           const sp_ledger_limits *limits,
                                           const sp_ledger_directory *directory,
                                           const char *build_version,
                                           sp_ledger_snapshot_position *position, sp_error *err);

/* Whether two states hold the same ledger (their canonical bytes are
 * equal); for the tests and the simulation. -1 when one cannot be encoded. */
int sp_ledger_snapshot_equal(const sp_ledger_state *a, const sp_ledger_state *b, bool *equal,
                             sp_error *err);

#endif
