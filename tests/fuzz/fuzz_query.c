/* fuzz_query.c - libFuzzer target: the gateway's query-string parsers (the
 * paging limit and cursor, the operations' filters, the refund requests'
 * filters for partners and for finance) and the cursor decoder alone.
 *
 * Input: first byte picks the parser, the rest is the raw query string as
 * civetweb hands it over (undecoded, NUL-terminated). Built and run by
 * tests/fuzz/run (clang, libFuzzer, ASan and UBSan). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/routes/refund_request.h"
#include "gateway/endpoints/validate.h"

#define QUERY_BYTES_MAX 8192 /* civetweb's whole request head is 16 KiB */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > QUERY_BYTES_MAX) return 0;
    char *query = malloc(size);
    if (query == NULL) return 0;
    memcpy(query, data + 1, size - 1);
    query[size - 1] = '\0';
    sp_error err;
    switch (data[0] % 5) {
    case 0: {
        sp_gw_page page;
        (void)sp_gw_page_parse(query, &page, &err);
        break;
    }
    case 1: {
        sp_gw_operations_filter filter;
        (void)sp_gw_operations_filter_parse(query, &filter, &err);
        break;
    }
    case 2:
    case 3: {
        sp_gw_refunds_filter filter;
        (void)sp_gw_refunds_filter_parse(query, data[0] % 5 == 3, &filter, &err);
        break;
    }
    default: {
        int64_t at_ms = 0;
        char operation_id[SP_ID_LEN + 1];
        (void)sp_gw_cursor_decode(query, &at_ms, operation_id, &err);
        break;
    }
    }
    free(query);
    return 0;
}
