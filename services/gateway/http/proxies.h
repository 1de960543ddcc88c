/* proxies.h - the client's address behind trusted reverse proxies
 * (SP_TRUSTED_PROXIES).
 *
 * Behind a reverse proxy every request comes from the proxy's address, so a
 * limit per client address would be shared by everyone. X-Forwarded-For
 * says who the proxy served, but anyone can send that header: it is read
 * only when the peer is a trusted proxy, and then from the right, skipping
 * the addresses of trusted proxies (each appends the address it was reached
 * from), so the right-most untrusted address is what the last trusted proxy
 * saw - the part a client cannot forge. Entries a client put further left
 * are never used.
 *
 * Pure: no I/O, no allocation, no global state. Strings are borrowed. */
#ifndef SP_GW_PROXIES_H
#define SP_GW_PROXIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sp_error.h"

#define SP_GW_PROXIES_MAX 32        /* networks in SP_TRUSTED_PROXIES */
#define SP_GW_FORWARDED_HOPS_MAX 32 /* X-Forwarded-For entries looked at, from the right */
#define SP_GW_CLIENT_ADDRESS_MAX 46 /* INET6_ADDRSTRLEN, NUL included */

typedef struct sp_gw_proxy_net {
    bool v6;
    uint8_t bytes[16];    /* the network, host bits zero; IPv4: first 4 */
    unsigned prefix_bits; /* 0..32 (IPv4), 0..128 (IPv6) */
} sp_gw_proxy_net;

typedef struct sp_gw_proxies {
    size_t count; /* 0: no proxy is trusted */
    sp_gw_proxy_net nets[SP_GW_PROXIES_MAX];
} sp_gw_proxies;

/* Parses "10.0.0.5, 192.168.0.0/16 ::1 fd00::/8" (commas or spaces between
 * addresses and CIDR networks; "" for none). 500 invalid_config naming
 * SP_TRUSTED_PROXIES with the entry at fault. */
int sp_gw_proxies_parse(const char *list, sp_gw_proxies *out, sp_error *err);

/* address (IPv4, IPv6, or IPv4-mapped IPv6 text) is in a trusted network. */
bool sp_gw_proxies_trusts(const sp_gw_proxies *proxies, const char *address);

/* The client's address into out: peer itself unless peer is trusted; then
 * the right-most X-Forwarded-For entry (forwarded_for, NULL when absent)
 * that is not a trusted proxy. When the header is absent, an entry is not
 * an IP address, or more than SP_GW_FORWARDED_HOPS_MAX entries are all
 * trusted, the result is the nearest trustworthy one: the peer, or the
 * left-most of the trusted entries read. Never longer than
 * SP_GW_CLIENT_ADDRESS_MAX - 1 bytes. */
void sp_gw_client_address(const sp_gw_proxies *proxies, const char *peer, const char *forwarded_for,
                          char out[SP_GW_CLIENT_ADDRESS_MAX]);

#endif
