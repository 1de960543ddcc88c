/* openapi.h - the API description (OpenAPI 3.1), built from the endpoint
 * table (endpoints.h) and the component schemas of
 * services/gateway/endpoints/api/components.json, which the build embeds in the
 * binary. Served at GET /api/v1/openapi.json and committed as
 * docs/openapi.json (solipass-openapi writes it).
 *
 * Memory: sp_gw_openapi_build() returns a new jansson reference the caller
 * json_decref()s; sp_gw_openapi_text() a malloc'd string the caller
 * free()s. */
#ifndef SP_GW_OPENAPI_H
#define SP_GW_OPENAPI_H

#include <jansson.h>
#include "endpoints.h"
#include "sp_error.h"

#define SP_GW_OPENAPI_STATUSES_MAX 16 /* distinct statuses one operation may answer */
#define SP_GW_OPENAPI_CODE_LEN_MAX 48

/* The whole document; NULL + err (500) when the components do not parse or
 * an entry of the table is malformed. */
json_t *sp_gw_openapi_build(sp_error *err);
/* For every route (names[route], SP_GW_ROUTE_COUNT rows), the names of its
 * query parameters, space-separated: its table entry's query list with each
 * component resolved to its "name", header parameters left out. 500 when a
 * listed component is missing or the names do not fit. */
int sp_gw_openapi_query_names(char names[][SP_GW_QUERY_NAMES_LEN_MAX + 1], size_t count,
                              sp_error *err);
/* The document as text, 2-space indented, ending with a line break. */
char *sp_gw_openapi_text(sp_error *err);

#endif
