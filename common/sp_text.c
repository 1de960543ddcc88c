/* sp_text.c - the bounded text builder (see sp_text.h). */
#include "sp_text.h"

#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void sp_text_init(sp_text *text, char *buf, size_t size) {
    assert(text != NULL);
    assert(buf != NULL);
    assert(size >= 1);
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
    assert(s != NULL);
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
    assert(text != NULL);
    assert(s != NULL);
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

bool sp_text_utf8_valid(const char *s, size_t byte_len) {
    assert(s != NULL || byte_len == 0);
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < byte_len) {
        unsigned char c = u[i];
        size_t extra = c < 0x80             ? 0
                       : (c & 0xE0) == 0xC0 ? 1
                       : (c & 0xF0) == 0xE0 ? 2
                       : (c & 0xF8) == 0xF0 ? 3
                                            : 4;
        if (extra == 4 || (extra > 0 && i + extra >= byte_len)) return false;
        uint32_t cp = extra == 0 ? c : c & (0x3Fu >> extra);
        for (size_t k = 1; k <= extra; k++) {
            if ((u[i + k] & 0xC0) != 0x80) return false;
            cp = cp << 6 | (u[i + k] & 0x3F);
        }
        static const uint32_t min_of[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_of[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += extra + 1;
    }
    return true;
}

size_t sp_text_utf8_char_count(const char *s, size_t byte_len) {
    assert(s != NULL || byte_len == 0);
    size_t count = 0;
    for (size_t i = 0; i < byte_len; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) count++;
    }
    return count;
}

bool sp_text_has_control_char(const char *s, size_t byte_len) {
    assert(s != NULL || byte_len == 0);
    for (size_t i = 0; i < byte_len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F) return true;
    }
    return false;
}
