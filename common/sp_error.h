/* sp_error.h - the error every fallible solipass function fills.
 *
 * Convention: a function that can fail returns int (0 = ok, -1 = failed) and
 * takes a `sp_error *err` as last argument, which it fills on failure with an
 * HTTP status, a stable machine code, a human message and the offending field.
 * The caller owns the struct (usually on its stack); nothing in it is heap. */
#ifndef SP_ERROR_H
#define SP_ERROR_H

#include <stdarg.h>

#define SP_ERROR_CODE_MAX 48
#define SP_ERROR_MESSAGE_MAX 256
#define SP_ERROR_FIELD_MAX 64

typedef struct sp_error {
    int http_status;                    /* 4xx for the caller's fault, 5xx for ours */
    char code[SP_ERROR_CODE_MAX];       /* e.g. "insufficient_funds" */
    char message[SP_ERROR_MESSAGE_MAX]; /* for people */
    char field[SP_ERROR_FIELD_MAX];     /* JSON field at fault, "" if none */
} sp_error;

/* Fill err (when not NULL) and return -1, so that `return sp_error_set(...)` reads well. */
int sp_error_set(sp_error *err, int http_status, const char *code, const char *field,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

void sp_error_clear(sp_error *err);

#endif
