/* inflight.h - requests in progress per client address, bounded.
 *
 * civetweb 1.15 gives the gateway a request only once its headers are read
 * (no hook when a connection is accepted), so a client trickling headers
 * holds a thread for SP_HTTP_REQUEST_TIMEOUT_MS where nothing here sees it:
 * the reverse proxy bounds those (docs/operations.md). From the headers on,
 * a client address (the peer, or the proxy's X-Forwarded-For entry) may
 * have at most max_per_address requests in progress: slow bodies, live
 * streams and slow readers of one address cannot take every thread. One
 * more is refused (429) before its body is read.
 *
 * The table has room for 2 * threads addresses: at most `threads` requests
 * are in progress at once, so it never fills (asserted). Thread-safe.
 *
 * Ownership: sp_gw_inflight_new() allocates, sp_gw_inflight_free() frees;
 * addresses are copied (at most SP_GW_INFLIGHT_ADDRESS_LEN_MAX bytes). */
#ifndef SP_GW_INFLIGHT_H
#define SP_GW_INFLIGHT_H

#include <stdbool.h>
#include <stddef.h>

#define SP_GW_INFLIGHT_ADDRESS_LEN_MAX 63

typedef struct sp_gw_inflight sp_gw_inflight;

/* NULL when out of memory. threads_max: the server's threads (>= 1). */
sp_gw_inflight *sp_gw_inflight_new(size_t threads_max, size_t max_per_address);
void sp_gw_inflight_free(sp_gw_inflight *inflight);

/* Counts one request of address in progress and returns true, or returns
 * false (nothing counted) when address already has max_per_address. */
bool sp_gw_inflight_enter(sp_gw_inflight *inflight, const char *address);
/* The end of a request that entered. */
void sp_gw_inflight_leave(sp_gw_inflight *inflight, const char *address);
/* Requests of address in progress (tests, metrics). */
size_t sp_gw_inflight_count(sp_gw_inflight *inflight, const char *address);

#endif
