/* openapi_main.c - solipass-openapi: prints the API description the gateway
 * serves at /api/v1/openapi.json, to regenerate docs/openapi.json:
 *     build/services/gateway/solipass-openapi > docs/openapi.json
 * (or `ninja -C build openapi`). No configuration, no connection. */
#include <stdio.h>
#include <stdlib.h>
#include "openapi.h"

int main(int argc, char **argv) {
    (void)argv;
    if (argc != 1) {
        fputs("usage: solipass-openapi > docs/openapi.json\n", stderr);
        return 2;
    }
    sp_error err;
    sp_error_clear(&err);
    char *text = sp_gw_openapi_text(&err);
    if (text == NULL) {
        fprintf(stderr, "solipass-openapi: %s\n", err.message);
        return 1;
    }
    int rc = fputs(text, stdout) >= 0 && fflush(stdout) == 0 ? 0 : 1;
    free(text);
    return rc;
}
