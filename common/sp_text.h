/* sp_text.h - a bounded text builder over a caller's buffer, the one
 * escape of text put into XML or HTML, and the UTF-8 checks of text that
 * comes from outside.
 *
 * Appending never writes past the buffer: the first append that does not fit
 * sets `overflow`, and every later append does nothing, so a caller checks
 * once at the end. The buffer stays NUL-terminated.
 *
 * Memory: an sp_text borrows buf (size bytes, size >= 1), which must outlive it. */
#ifndef SP_TEXT_H
#define SP_TEXT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct sp_text {
    char *buf;     /* borrowed */
    size_t size;   /* bytes of buf, the NUL included */
    size_t len;    /* bytes written, the NUL excluded */
    bool overflow; /* an append did not fit: the text is incomplete */
} sp_text;

/* Empty text over buf. */
void sp_text_init(sp_text *text, char *buf, size_t size);
void sp_text_put_n(sp_text *text, const char *bytes, size_t n);
void sp_text_put(sp_text *text, const char *s);
void sp_text_putf(sp_text *text, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s with & < > " ' as entities (&amp; &lt; &gt; &quot; &#39;), valid in
 * both XML and HTML text and attribute values. */
void sp_text_put_markup(sp_text *text, const char *s);

/* --- UTF-8 text from outside; byte_len bytes of s, NUL not needed --- */

/* Strict UTF-8: no overlong form, no surrogate, nothing past U+10FFFF. */
bool sp_text_utf8_valid(const char *s, size_t byte_len);
/* Characters of valid UTF-8: every byte that is not a continuation byte
 * starts one. */
size_t sp_text_utf8_char_count(const char *s, size_t byte_len);
/* A C0 control character or DEL. */
bool sp_text_has_control_char(const char *s, size_t byte_len);

#endif
