/* html_page.h - building a bounded HTML page (voucher print page, partner
 * poster): formatted appends that stop, and flag the overflow, at the
 * buffer's size, and text escaped for HTML. Pure.
 * Ownership: the caller owns data (size bytes); nothing here allocates. */
#ifndef SP_GW_HTML_PAGE_H
#define SP_GW_HTML_PAGE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct sp_gw_html {
    char *data;
    size_t len;    /* bytes written, without the terminating NUL */
    size_t size;   /* capacity of data */
    bool overflow; /* an append did not fit: the page is incomplete */
} sp_gw_html;

void sp_gw_html_add(sp_gw_html *page, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
/* Text from the database or the configuration: & < > " ' escaped. */
void sp_gw_html_add_escaped(sp_gw_html *page, const char *text);

#endif
