/* proxies.c - the client's address behind trusted proxies (see proxies.h). */
#include "proxies.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENTRY_TEXT_MAX 64 /* an address with a /prefix */

/* An IP address (IPv4-mapped IPv6 read as IPv4) into net->bytes. */
static bool parse_ip(const char *text, sp_gw_proxy_net *net) {
    assert(text != NULL);
    assert(net != NULL);
    memset(net, 0, sizeof *net);
    if (inet_pton(AF_INET, text, net->bytes) == 1) return true;
    uint8_t v6[16];
    if (inet_pton(AF_INET6, text, v6) != 1) return false;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(v6, mapped, sizeof mapped) == 0) {
        memcpy(net->bytes, v6 + 12, 4);
        return true;
    }
    net->v6 = true;
    memcpy(net->bytes, v6, sizeof v6);
    return true;
}

static bool in_net(const sp_gw_proxy_net *net, const sp_gw_proxy_net *ip) {
    assert(net->prefix_bits <= (net->v6 ? 128 : 32));
    if (net->v6 != ip->v6) return false;
    unsigned full = net->prefix_bits / 8, rest = net->prefix_bits % 8;
    if (memcmp(net->bytes, ip->bytes, full) != 0) return false;
    if (rest == 0) return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (net->bytes[full] & mask) == (ip->bytes[full] & mask);
}

/* "a.b.c.d", "a.b.c.d/n", "x::y", "x::y/n": the network with host bits cleared. */
static bool parse_net(const char *entry, sp_gw_proxy_net *net) {
    assert(entry != NULL);
    assert(net != NULL);
    char text[ENTRY_TEXT_MAX];
    if (strlen(entry) >= sizeof text) return false;
    snprintf(text, sizeof text, "%s", entry);
    char *slash = strchr(text, '/');
    long prefix = -1;
    if (slash != NULL) {
        *slash = '\0';
        char *end = NULL;
        prefix = strtol(slash + 1, &end, 10);
        if (slash[1] == '\0' || *end != '\0' || prefix < 0) return false;
    }
    if (!parse_ip(text, net)) return false;
    long bits_max = net->v6 ? 128 : 32;
    if (prefix > bits_max) return false;
    net->prefix_bits = (unsigned)(prefix < 0 ? bits_max : prefix);
    for (unsigned bit = net->prefix_bits; bit < (unsigned)bits_max; bit++)
        net->bytes[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
    return true;
}

int sp_gw_proxies_parse(const char *list, sp_gw_proxies *out, sp_error *err) {
    assert(list != NULL);
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    const char *p = list;
    /* Each turn consumes at least one byte. */
    for (size_t turns = 0; *p != '\0' && turns <= strlen(list); turns++) {
        size_t skip = strspn(p, ", \t");
        p += skip;
        size_t len = strcspn(p, ", \t");
        if (len == 0) continue;
        char entry[ENTRY_TEXT_MAX];
        if (len >= sizeof entry || out->count >= SP_GW_PROXIES_MAX) {
            return sp_error_set(err, 500, "invalid_config", "SP_TRUSTED_PROXIES",
                                "SP_TRUSTED_PROXIES: at most %d addresses or networks",
                                SP_GW_PROXIES_MAX);
        }
        memcpy(entry, p, len);
        entry[len] = '\0';
        if (!parse_net(entry, &out->nets[out->count])) {
            return sp_error_set(err, 500, "invalid_config", "SP_TRUSTED_PROXIES",
                                "SP_TRUSTED_PROXIES: '%s' is not an IP address or network", entry);
        }
        out->count++;
        p += len;
    }
    return 0;
}

static bool trusts_ip(const sp_gw_proxies *proxies, const sp_gw_proxy_net *ip) {
    assert(proxies != NULL);
    assert(ip != NULL);
    for (size_t i = 0; i < proxies->count; i++) {
        if (in_net(&proxies->nets[i], ip)) return true;
    }
    return false;
}

bool sp_gw_proxies_trusts(const sp_gw_proxies *proxies, const char *address) {
    assert(proxies != NULL);
    sp_gw_proxy_net ip;
    return address != NULL && parse_ip(address, &ip) && trusts_ip(proxies, &ip);
}

/* The canonical text of an address (so one client is one key whatever its spelling). */
static void ip_text(const sp_gw_proxy_net *ip, char out[SP_GW_CLIENT_ADDRESS_MAX]) {
    assert(ip != NULL);
    assert(out != NULL);
    if (inet_ntop(ip->v6 ? AF_INET6 : AF_INET, ip->bytes, out, SP_GW_CLIENT_ADDRESS_MAX) == NULL)
        out[0] = '\0';
}

/* The entry of header ending just before *end (trimmed), moving *end to its
 * start; false when there is none left. */
static bool previous_entry(const char *header, const char **end, char *entry, size_t entry_size) {
    const char *stop = *end;
    while (stop > header && (stop[-1] == ' ' || stop[-1] == '\t' || stop[-1] == ',')) stop--;
    if (stop == header) return false;
    const char *start = stop;
    while (start > header && start[-1] != ',' && start[-1] != ' ' && start[-1] != '\t') start--;
    size_t len = (size_t)(stop - start);
    *end = start;
    if (len >= entry_size) len = 0; /* too long to be an address: unreadable */
    memcpy(entry, start, len);
    entry[len] = '\0';
    return true;
}

void sp_gw_client_address(const sp_gw_proxies *proxies, const char *peer, const char *forwarded_for,
                          char out[SP_GW_CLIENT_ADDRESS_MAX]) {
    assert(proxies != NULL);
    assert(out != NULL);
    sp_gw_proxy_net ip;
    if (peer == NULL || !parse_ip(peer, &ip)) {
        snprintf(out, SP_GW_CLIENT_ADDRESS_MAX, "%s", peer != NULL ? peer : "");
        return;
    }
    ip_text(&ip, out);
    if (!trusts_ip(proxies, &ip) || forwarded_for == NULL) return;
    const char *end = forwarded_for + strlen(forwarded_for);
    char entry[ENTRY_TEXT_MAX];
    for (size_t hop = 0; hop < SP_GW_FORWARDED_HOPS_MAX; hop++) {
        if (!previous_entry(forwarded_for, &end, entry, sizeof entry)) return;
        sp_gw_proxy_net hop_ip;
        if (!parse_ip(entry, &hop_ip)) return; /* unreadable: keep the last trusted one */
        ip_text(&hop_ip, out);
        if (!trusts_ip(proxies, &hop_ip)) return; /* the client the proxies saw */
    }
}
