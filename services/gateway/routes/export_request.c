/* export_request.c - the body of POST /partner/exports (see export_request.h). */
#include "export_request.h"
#include "json_limits.h"

#include <assert.h>
#include "validate.h"

int sp_gw_export_request_parse(const char *body, size_t len, sp_export_request *out,
                               sp_error *err) {
    assert(body != NULL);
    assert(out != NULL);
    static const sp_gw_field fields[] = {{"kind", SP_GW_FIELD_STRING, true, 1, 32}};
    static const sp_gw_schema kind_only = {fields, 1};
    if (sp_gw_json_depth_check(body, len, SP_GW_JSON_DEPTH_MAX, err) != 0) return -1;
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(root)) {
        json_decref(root);
        return sp_error_set(err, 400, "malformed_json", "", "the body must be one JSON object");
    }
    /* filters is an object, which the schemas do not describe: checked apart. */
    json_t *filters = json_incref(json_object_get(root, "filters"));
    json_object_del(root, "filters");
    int rc = sp_gw_object_check(root, &kind_only, "", err);
    sp_export_kind kind = SP_EXPORT_OPERATIONS;
    if (rc == 0 && !sp_export_kind_parse(json_string_value(json_object_get(root, "kind")), &kind)) {
        rc = sp_error_set(err, 400, "invalid_value", "kind",
                          "kind must be operations or refund_requests");
    }
    if (rc == 0) rc = sp_export_filters_parse(kind, filters, out, err);
    json_decref(filters);
    json_decref(root);
    return rc;
}
