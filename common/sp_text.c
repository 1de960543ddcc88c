/* sp_text.c - the bounded text builder (see sp_text.h). */
#include "sp_text.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void sp_text_init(sp_text *text, char *buf, size_t size) {
    assert(text != NULL && buf != NULL && size >= 1);
    text->buf = buf;
    text->size = size;
    text->len = 0;
    text->overflow = false;
    buf[0] = '\0';
}

void sp_text_put_n(sp_text *text, const char *bytes, size_t n) {
    assert(text->len < text->size);
    if (text->overflow || n >= text->size - text->len) {
        text->overflow = true;
        return;
    }
    memcpy(text->buf + text->len, bytes, n);
    text->len += n;
    text->buf[text->len] = '\0';
}

void sp_text_put(sp_text *text, const char *s) {
    sp_text_put_n(text, s, strlen(s));
}

void sp_text_putf(sp_text *text, const char *fmt, ...) {
    if (text->overflow) return;
    assert(text->len < text->size);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text->buf + text->len, text->size - text->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= text->size - text->len) {
        /* vsnprintf wrote a cut copy: take it back. */
        text->overflow = true;
        text->buf[text->len] = '\0';
        return;
    }
    text->len += (size_t)n;
}

void sp_text_put_markup(sp_text *text, const char *s) {
    for (const char *p = s; *p != '\0' && !text->overflow; p++) {
        switch (*p) {
        case '&': sp_text_put(text, "&amp;"); break;
        case '<': sp_text_put(text, "&lt;"); break;
        case '>': sp_text_put(text, "&gt;"); break;
        case '"': sp_text_put(text, "&quot;"); break;
        case '\'': sp_text_put(text, "&#39;"); break;
        default: sp_text_put_n(text, p, 1);
        }
    }
}
