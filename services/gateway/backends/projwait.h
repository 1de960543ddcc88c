/* projwait.h - read-your-writes: waiting until the projection has applied
 * the events a reply names. One thread learns the next_offset of every
 * partition from the notices the projection sends as each batch commits
 * (sp_offsets_notice.h; before, it read projection_offsets every 2 ms
 * while somebody waited: a statement per poll, whatever the rate), reads
 * the table itself at its start, after a reconnection and every 100 ms in
 * any case, and publishes them; each waiter sleeps on its own condition
 * variable and is woken once, when the offsets it waits for are reached
 * (not at every read: under load that woke every request thread 500 times
 * a second).
 * Ownership: the module owns its thread and its own PostgreSQL connection
 * (not the pool's: a busy pool must not delay the wake-ups). */
#ifndef SP_GW_PROJWAIT_H
#define SP_GW_PROJWAIT_H

#include <stddef.h>
#include <stdint.h>
#include "gateway.h"
#include "metrics.h"
#include "reply.pb-c.h"
#include "sp_error.h"

#define SP_GW_PROJWAIT_PARTITIONS_MAX 64 /* (topic, partition) pairs followed */
#define SP_GW_PROJWAIT_IDLE_POLL_MS 100  /* the table read even while notices come */

sp_gw_projwait *sp_gw_projwait_new(const char *dsn, sp_gw_metrics *metrics, sp_log *log,
                                   sp_error *err);
/* Stops and joins the thread, closes the connection. */
void sp_gw_projwait_free(sp_gw_projwait *projwait);

/* Returns 0 once next_offset > ref.offset for every ref, or 503 "timeout"
 * at deadline_ms (monotonic). */
int sp_gw_projwait_until(sp_gw_projwait *projwait, Solipass__EventRef *const *refs,
                         size_t ref_count, int64_t deadline_ms, sp_error *err);

size_t sp_gw_projwait_waiters(sp_gw_projwait *projwait);

/* From now on, an event of the accounts events topic is waited for in the
 * gateway's own directory too (directory_feed.h: the session check and the
 * partner codes), once the projection shows it: a logout or a removal is
 * answered only when this gateway refuses the session. Borrowed; set
 * before the gateway serves, cleared (NULL) before the feed is freed. */
struct sp_gw_directory_feed;
void sp_gw_projwait_set_directory(sp_gw_projwait *projwait, struct sp_gw_directory_feed *feed);

#endif
