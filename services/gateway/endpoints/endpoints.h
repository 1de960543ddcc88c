/* endpoints.h - the gateway's one table of endpoints: for each route its
 * method and path pattern, its name (the OpenAPI operationId, the label of
 * logs and metrics), whether a session is needed and which roles it serves,
 * its handler, and what the API description says of it (summary, query
 * parameters, body, answers and the error codes it may answer). Routing,
 * the role check (http.c) and the OpenAPI description (openapi.c) all read
 * it: adding an endpoint is one entry here plus its handler.
 *
 * Memory: the table is static and read-only; nothing here allocates. */
#ifndef SP_GW_ENDPOINTS_H
#define SP_GW_ENDPOINTS_H

#include <stdbool.h>
#include <stddef.h>
#include "routes.h"
#include "sp_error.h"
#include "validate.h"

#define SP_GW_ANSWERS_MAX 3 /* success answers of one endpoint (200, 202, ...) */
#define SP_GW_PATH_SEGMENT_LEN_MAX 64
#define SP_GW_ENDPOINT_QUERY_PARAMS_MAX 16 /* parameters of one query string */
#define SP_GW_QUERY_NAMES_LEN_MAX 255      /* an entry's query parameter names, joined */

/* What a body or an answer is; JSON ones name a schema of
 * services/gateway/endpoints/api/components.json. */
typedef enum {
    SP_GW_MEDIA_NONE = 0, /* no body (204, or an endpoint without body) */
    SP_GW_MEDIA_JSON,     /* application/json */
    SP_GW_MEDIA_IMAGE,    /* image/png or image/jpeg */
    SP_GW_MEDIA_PNG,
    SP_GW_MEDIA_SVG,
    SP_GW_MEDIA_HTML,       /* text/html; charset=utf-8 */
    SP_GW_MEDIA_CSV,        /* text/csv; charset=utf-8, an attachment */
    SP_GW_MEDIA_XML,        /* application/xml; charset=utf-8, an attachment */
    SP_GW_MEDIA_EVENTS,     /* text/event-stream */
    SP_GW_MEDIA_PROMETHEUS, /* text/plain; version=0.0.4 */
} sp_gw_media;

typedef enum {
    SP_GW_KEY_NONE = 0, /* no Idempotency-Key */
    SP_GW_KEY_OPTIONAL,
    SP_GW_KEY_REQUIRED, /* 428 idempotency_key_required without it */
} sp_gw_key_rule;

typedef struct sp_gw_answer_spec {
    int status; /* 0 ends the list */
    sp_gw_media media;
    const char *schema; /* JSON: a schema name; NULL otherwise */
    const char *description;
} sp_gw_answer_spec;

typedef struct sp_gw_endpoint {
    sp_gw_route route;
    const char *method;
    /* "{name}" stands for one path segment: a canonical id, except for
     * /api/v1/media/{sha256} (64 lower-case hex digits). */
    const char *path;
    const char *name; /* operationId, log and metric label */
    sp_gw_route_fn handler;
    bool session;   /* a session (bearer token or cookie) is needed */
    unsigned roles; /* roles served, with a session */
    const char *summary;
    const char *query; /* names of components.parameters, space-separated */
    sp_gw_media body_media;
    const char *body_schema; /* JSON body: a schema name */
    bool body_required;
    sp_gw_key_rule key;
    sp_gw_answer_spec answers[SP_GW_ANSWERS_MAX];
    /* The {id} segment that is not an id: this 404 code and message. */
    const char *id_not_found_code;
    const char *id_not_found_message;
    /* Error codes it may answer beyond the common ones (see openapi.c),
     * "<status>:<code>[,<code>...]" groups separated by spaces. */
    const char *errors;
} sp_gw_endpoint;

/* The entry of a route (SP_GW_ROUTE_NONE < route < SP_GW_ROUTE_COUNT). */
const sp_gw_endpoint *sp_gw_endpoint_of(sp_gw_route route);

/* Refuses a raw query string (may be NULL) naming a parameter that is not
 * one of names (space-separated query parameter names, "" for none): 400
 * "unknown_field" with the parameter as field; at most
 * SP_GW_ENDPOINT_QUERY_PARAMS_MAX parameters (400 invalid_value). names are
 * an entry's query list resolved by sp_gw_openapi_query_names() (the
 * table lists components, whose "name" is the parameter's): the table is the
 * one source, http.c checks every request before its handler runs, the
 * handler then checks the values. */
int sp_gw_endpoint_query_check(const char *names, const char *query, sp_error *err);

/* Finds the route of (method, path). 404 "not_found" for an unknown path,
 * 405 "method_not_allowed" for a known path with another method, 404 with
 * the entry's id_not_found_code when the {id} segment is not a canonical
 * id (or not a SHA-256 for media). */
int sp_gw_route_find(const char *method, const char *path, sp_gw_route_match *out, sp_error *err);
/* The methods a known path accepts, as an Allow header value ("GET, POST"). */
void sp_gw_route_allowed(const char *path, char *out, size_t out_size);
/* Stable label of a route for logs and metrics ("pass_pay", "unknown"). */
const char *sp_gw_route_name(sp_gw_route route);
/* Content-Type of a media ("application/json"); NULL for SP_GW_MEDIA_NONE. */
const char *sp_gw_media_type(sp_gw_media media);

#endif
