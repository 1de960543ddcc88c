/* sp_error.c - filling the error struct every fallible function takes. */
#include "sp_error.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

int sp_error_set(sp_error *err, int http_status, const char *code, const char *field,
                 const char *fmt, ...) {
    assert(fmt != NULL);
    /* An error answers 4xx (the request's) or 5xx (ours): never a success. */
    assert(http_status >= 400);
    assert(http_status <= 599);
    if (err == NULL) return -1;
    err->http_status = http_status;
    snprintf(err->code, sizeof err->code, "%s", code ? code : "error");
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

void sp_error_clear(sp_error *err) {
    if (err == NULL) return;
    memset(err, 0, sizeof *err);
}
