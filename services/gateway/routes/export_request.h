/* export_request.h - the body of POST /partner/exports, {"kind": ...,
 * "filters": {...}?}, checked into the export request the gateway and the
 * exports service share (sp_export_request.h). Pure: no I/O.
 *
 * Memory: the request is filled by value, in the caller's struct. */
#ifndef SP_GW_EXPORT_REQUEST_H
#define SP_GW_EXPORT_REQUEST_H

#include <stddef.h>
#include "sp_error.h"
#include "sp_export_request.h"

/* 400 malformed_json | unknown_field | missing_field | invalid_type |
 * invalid_value (kind), 422 invalid_filter naming "filters.<name>". */
int sp_gw_export_request_parse(const char *body, size_t len, sp_export_request *out, sp_error *err);

#endif
