/* routes_ops.c - what operators poll: /healthz and /metrics; and the API
 * description, /api/v1/openapi.json. */
#include "routes.h"

#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "commands.h"
#include "metrics.h"
#include "openapi.h"
#include "pgpool.h"
#include "projwait.h"
#include "sp_kafka.h"
#include "sp_metrics.h"

#define SP_GW_HEALTH_KAFKA_TIMEOUT_MS 2000
#define SP_GW_PROMETHEUS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

int sp_gw_route_healthz(sp_gw_request *req, sp_error *err) {
    sp_error pg_err, kafka_err;
    PGresult *res = NULL;
    bool pg_ok = sp_gw_pgpool_query(req->app->pool, "SELECT 1", 0, NULL, &res, &pg_err) == 0;
    PQclear(res);
    bool kafka_ok = sp_kafka_partition_count(req->app->config->kafka_brokers, SP_TOPIC_REPLIES,
                                             SP_GW_HEALTH_KAFKA_TIMEOUT_MS, &kafka_err) > 0;
    if (!pg_ok || !kafka_ok) {
        return sp_error_set(err, 503, "unavailable", "", "postgresql: %s, kafka: %s",
                            pg_ok ? "ok" : "not answering", kafka_ok ? "ok" : "not answering");
    }
    static const char ok[] = "{\"status\":\"ok\"}";
    return sp_gw_answer_text(req, 200, NULL, ok, strlen(ok), false);
}

int sp_gw_route_metrics(sp_gw_request *req, sp_error *err) {
    sp_gw_gauges gauges = {.pending_commands = sp_gw_commands_pending(req->app->commands),
                           .pending_commands_max = SP_GW_WAITERS_MAX,
                           .projection_waiters = sp_gw_projwait_waiters(req->app->projwait)};
    /* The gateway's Kafka handles count into the logger's registry. */
    size_t common_len = 0;
    char *common = req->app->log->metrics != NULL
                       ? sp_metrics_render(req->app->log->metrics, &common_len)
                       : NULL;
    char *text = sp_gw_metrics_render(req->app->metrics, &gauges, common);
    free(common);
    if (text == NULL) return sp_error_set(err, 503, "unavailable", "", "out of memory");
    int rc = sp_gw_answer_text(req, 200, SP_GW_PROMETHEUS_CONTENT_TYPE, text, strlen(text), false);
    free(text);
    return rc;
}

/* Built at each request from the table and the embedded components (a few
 * milliseconds): no state to keep. The ETag lets a client revalidate. */
int sp_gw_route_openapi(sp_gw_request *req, sp_error *err) {
    if (req->query != NULL && req->query[0] != '\0')
        return sp_error_set(err, 400, "unknown_field", "", "this endpoint takes no parameter");
    char *text = sp_gw_openapi_text(err);
    if (text == NULL) return -1;
    size_t len = strlen(text);
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)text, len);
    char etag[crypto_hash_sha256_BYTES * 2 + 1];
    sodium_bin2hex(etag, sizeof etag, digest, sizeof digest);
    int rc = sp_gw_answer_revalidated(req, "application/json", text, len, etag);
    free(text);
    return rc;
}
