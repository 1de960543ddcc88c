/* json_limits.h - bounds checked on JSON text from outside before jansson
 * parses it.
 *
 * jansson parses recursively, one stack frame per nesting level, and accepts
 * up to JSON_PARSER_MAX_DEPTH (2048) levels; json_decref() frees recursively
 * too. The gateway parses on civetweb's worker threads, whose stack Debian's
 * civetweb build sets to 100 KiB (CIVETWEB_THREAD_STACK_SIZE): about 700
 * nested arrays exhaust it and the process dies with SIGSEGV. No request of
 * the API nests more than 3 levels, so every JSON text the gateway parses is
 * first scanned here, without recursion, and refused beyond
 * SP_GW_JSON_DEPTH_MAX levels: jansson then never goes deeper than that.
 *
 * Pure: no I/O, no allocation, no global state. The text is borrowed. */
#ifndef SP_GW_JSON_LIMITS_H
#define SP_GW_JSON_LIMITS_H

#include <stddef.h>

#include <jansson.h>

#include "sp_error.h"

/* The deepest nesting of arrays and objects accepted, the outer object
 * counting as 1. The API's bodies need 3; 32 leaves room and keeps jansson's
 * recursion under ~5 KiB of stack. */
#define SP_GW_JSON_DEPTH_MAX 32

/* 0 when the len bytes of text never nest arrays and objects deeper than
 * depth_max (brackets inside strings, escaped quotes included, do not count);
 * else 400 "too_deep", field "". Malformed text (unbalanced brackets, an
 * unterminated string) is left for the parser to report: this only bounds
 * its depth. One pass over the bytes, no recursion. */
int sp_gw_json_depth_check(const char *text, size_t len, size_t depth_max, sp_error *err);

/* json_loadb() of a text the gateway did not write itself (a request body,
 * a service's reply, a read-model column), after sp_gw_json_depth_check()
 * with SP_GW_JSON_DEPTH_MAX. NULL when the text is too deep (jerr->text says
 * so, line and column -1) or jansson refuses it (jerr as jansson fills it).
 * The caller owns the returned reference. */
json_t *sp_gw_json_load(const char *text, size_t len, size_t flags, json_error_t *jerr);
/* The same for a NUL-terminated text; NULL text counts as "". */
json_t *sp_gw_json_loads(const char *text, size_t flags, json_error_t *jerr);

#endif
