/* html_page.c - bounded HTML page building (see html_page.h). */
#include "html_page.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>

void sp_gw_html_add(sp_gw_html *page, const char *format, ...) {
    assert(page != NULL);
    assert(page->data != NULL);
    assert(page->len < page->size);
    if (page->overflow) return;
    va_list args;
    va_start(args, format);
    int n = vsnprintf(page->data + page->len, page->size - page->len, format, args);
    va_end(args);
    if (n < 0 || (size_t)n >= page->size - page->len) {
        page->overflow = true;
        return;
    }
    page->len += (size_t)n;
}

void sp_gw_html_add_escaped(sp_gw_html *page, const char *text) {
    assert(page != NULL);
    assert(text != NULL);
    for (const char *c = text; *c != '\0' && !page->overflow; c++) {
        switch (*c) {
        case '&': sp_gw_html_add(page, "&amp;"); break;
        case '<': sp_gw_html_add(page, "&lt;"); break;
        case '>': sp_gw_html_add(page, "&gt;"); break;
        case '"': sp_gw_html_add(page, "&quot;"); break;
        case '\'': sp_gw_html_add(page, "&#39;"); break;
        default: sp_gw_html_add(page, "%c", *c); break;
        }
    }
}
