/* sp_metrics_http.h - a service's metrics endpoint: its two settings
 * (SP_METRICS_ADDRESS, SP_METRICS_PORT), a registry, and GET /metrics
 * served by civetweb (two threads) on that loopback address and port.
 *
 * Starting the endpoint hangs the registry on the logger (log->metrics), so
 * every Kafka handle built with that logger counts into it (sp_kafka.h).
 * With SP_METRICS_PORT=0 nothing listens and nothing is counted.
 *
 * The gateway uses it too, on its own port apart from the public API's (the
 * API port faces the Internet; this one stays on loopback or a private
 * network), and adds its own metrics with sp_metrics_http_set_extra().
 * civetweb counts its initialisations, so the gateway's and this one's
 * mg_init_library() calls live side by side.
 *
 * Ownership: main owns the endpoint; stop it after every Kafka handle that
 * counts into it is freed (it frees the registry and clears log->metrics). */
#ifndef SP_METRICS_HTTP_H
#define SP_METRICS_HTTP_H

#include <stdint.h>
#include "sp_error.h"
#include "sp_log.h"
#include "sp_metrics.h"

#define SP_METRICS_ADDRESS_LEN_MAX 64

typedef struct sp_metrics_http_config {
    const char *address; /* an IPv4 or IPv6 literal */
    int64_t port;        /* 0: no endpoint */
} sp_metrics_http_config;

/* The two entries of a binary's sp_config_item table (needs sp_config.h). */
/* clang-format off */
#define SP_METRICS_HTTP_CONFIG_ITEMS(config)                                                   \
    {"SP_METRICS_ADDRESS", SP_CONFIG_STRING, "127.0.0.1", 0, 0,                                \
     "IP address of the Prometheus endpoint (GET /metrics); keep it on loopback or a "         \
     "private network", &(config)->address},                                                   \
    {"SP_METRICS_PORT", SP_CONFIG_INT, "0", 0, 65535,                                          \
     "TCP port of the Prometheus endpoint; 0: no endpoint, nothing counted", &(config)->port}
/* clang-format on */

typedef struct sp_metrics_http sp_metrics_http;

/* Checks the settings (precise error naming the variable), creates the
 * registry and starts listening. *out is NULL when the port is 0. -1 when
 * the settings are invalid or the port cannot be bound. */
int sp_metrics_http_start(const sp_metrics_http_config *config, sp_log *log, sp_metrics_http **out,
                          sp_error *err);
/* Text put before the registry's at each scrape: fn(ctx, registry_text)
 * returns a malloc'd whole page (the caller's own metrics, then
 * registry_text) or NULL (500). fn NULL: the registry's text alone. Set it
 * once what fn reads exists, and set it back to NULL before that goes: a
 * scrape in progress finishes first. endpoint NULL is fine (no endpoint). */
typedef char *(*sp_metrics_http_extra_fn)(void *ctx, const char *registry_text);
void sp_metrics_http_set_extra(sp_metrics_http *endpoint, sp_metrics_http_extra_fn fn, void *ctx);
/* Stops listening, clears log->metrics and frees the registry. NULL is fine. */
void sp_metrics_http_stop(sp_metrics_http *endpoint, sp_log *log);

#endif
