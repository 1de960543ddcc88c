/* fuzz_cursors.c - libFuzzer target: the paging cursors a client sends back
 * (the operations' cursor, and the back office's lists, whose cursor holds
 * the list's tag). A cursor that decodes must encode back to itself, so
 * that no two texts name the same page; the lists' query parsers take the
 * text as their cursor parameter.
 *
 * Input: first byte picks the decoder, the rest is the cursor text
 * (NUL-terminated). Built and run by tests/fuzz/run. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/routes/backoffice_lists.h"
#include "gateway/endpoints/validate.h"

#define CURSOR_BYTES_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void operations_cursor(const char *text) {
    int64_t at_ms = 0;
    char operation_id[SP_ID_LEN + 1];
    sp_error err;
    if (sp_gw_cursor_decode(text, &at_ms, operation_id, &err) != 0) return;
    char again[SP_GW_CURSOR_LEN_MAX + 1];
    sp_gw_cursor_encode(at_ms, operation_id, again);
    if (strcmp(again, text) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > CURSOR_BYTES_MAX) return 0;
    char *text = malloc(size);
    char *query = malloc(size + 16);
    if (text == NULL || query == NULL) abort();
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    snprintf(query, size + 16, "cursor=%s", text);
    sp_error err;
    switch (data[0] % 3) {
    case 0: operations_cursor(text); break;
    case 1: {
        sp_gw_beneficiaries_query q;
        (void)sp_gw_beneficiaries_query_parse(query, &q, &err);
        break;
    }
    default: {
        sp_gw_partners_query q;
        (void)sp_gw_partners_query_parse(query, &q, &err);
        break;
    }
    }
    free(query);
    free(text);
    return 0;
}
