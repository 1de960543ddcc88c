/* json_limits.c - bounds checked on JSON text before parsing (see json_limits.h). */
#include "json_limits.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int sp_gw_json_depth_check(const char *text, size_t len, size_t depth_max, sp_error *err) {
    assert(text != NULL || len == 0);
    assert(depth_max > 0);
    size_t depth = 0;
    bool in_string = false;
    bool escaped = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            depth++;
            if (depth > depth_max) {
                return sp_error_set(err, 400, "too_deep", "",
                                    "the JSON nests arrays and objects deeper than %zu levels",
                                    depth_max);
            }
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return 0;
}

json_t *sp_gw_json_load(const char *text, size_t len, size_t flags, json_error_t *jerr) {
    assert(jerr != NULL);
    if (text == NULL) text = "";
    if (sp_gw_json_depth_check(text, len, SP_GW_JSON_DEPTH_MAX, NULL) != 0) {
        memset(jerr, 0, sizeof *jerr);
        jerr->line = -1;
        jerr->column = -1;
        jerr->position = -1;
        snprintf(jerr->text, sizeof jerr->text, "nested deeper than %d levels",
                 SP_GW_JSON_DEPTH_MAX);
        return NULL;
    }
    return json_loadb(text, len, flags, jerr);
}

json_t *sp_gw_json_loads(const char *text, size_t flags, json_error_t *jerr) {
    if (text == NULL) text = "";
    return sp_gw_json_load(text, strlen(text), flags, jerr);
}
