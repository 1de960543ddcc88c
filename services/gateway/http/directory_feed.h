/* directory_feed.h - keeps the gateway's directory (directory.h) true from
 * the log: reads solipass.accounts.events.v1 [0] from its first offset
 * before the gateway answers anything, then follows it in a thread of its
 * own, applying each polled batch under a write lock. Lookups take the read
 * lock. An answer that waits for its own accounts events (a logout, a
 * removal, a role change, a new password) waits for this directory too, so
 * the gateway that served it refuses the old session at once; every other
 * gateway applies the same events as soon as its poll returns them (well
 * under a second: docs/architecture.md, "Sessions and roles").
 *
 * When the directory cannot go on (a table full, the log truncated), every
 * lookup answers 503 rather than trusting a directory that stopped.
 * Ownership: the feed owns its thread, its consumer and the directory. */
#ifndef SP_GW_DIRECTORY_FEED_H
#define SP_GW_DIRECTORY_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "auth.h"
#include "sp_error.h"
#include "sp_log.h"

#define SP_GW_DIRECTORY_POLL_MS 100 /* a poll's wait when the log is quiet */

typedef struct sp_gw_directory_feed sp_gw_directory_feed;

/* Returns once every event the log held when it was called is applied
 * (bounded by start_timeout_ms: 503 past it), the thread following. */
sp_gw_directory_feed *sp_gw_directory_feed_new(const char *brokers, size_t users_max,
                                               size_t sessions_per_user_max,
                                               int64_t start_timeout_ms, sp_log *log,
                                               sp_error *err);
/* Stops and joins the thread, frees the directory. */
void sp_gw_directory_feed_free(sp_gw_directory_feed *feed);

/* *found and *user as sp_gw_directory_session(); 503 when the directory stopped. */
int sp_gw_directory_feed_session(sp_gw_directory_feed *feed,
                                 const uint8_t token_hash[SP_TOKEN_HASH_LEN], int64_t now_ms,
                                 sp_gw_user *user, bool *found, sp_error *err);
int sp_gw_directory_feed_partner_code(sp_gw_directory_feed *feed, const char *partner_code,
                                      bool *known, sp_error *err);

/* Returns 0 once the event at `offset` of the accounts events partition is
 * applied, or 503 "timeout" at deadline_ms (monotonic). */
int sp_gw_directory_feed_until(sp_gw_directory_feed *feed, int64_t offset, int64_t deadline_ms,
                               sp_error *err);

/* Entries held, for the start's log line and the metrics. */
void sp_gw_directory_feed_counts(sp_gw_directory_feed *feed, size_t *users, size_t *sessions,
                                 int64_t *next_offset);

#endif
