/* routes_ops.c - what operators poll on the API port: /healthz (the
 * metrics are on SP_METRICS_PORT, main.c); and the API description,
 * /api/v1/openapi.json. */
#include "routes.h"

#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "openapi.h"
#include "pgpool.h"
#include "sp_kafka.h"

#define SP_GW_HEALTH_KAFKA_TIMEOUT_MS 2000

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
