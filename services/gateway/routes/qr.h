/* qr.h - a short text (a voucher number, a partner's payment link) as a QR code
 * (libqrencode, error correction level M, 4-module quiet zone): an SVG drawn
 * from the module matrix (for the print pages and the downloads) and a PNG
 * (libpng, 8 pixels per module, 8-bit grey). No I/O.
 *
 * Ownership: each function returns a malloc'd buffer in *out that the
 * caller free()s; nothing else outlives the call. */
#ifndef SP_GW_QR_H
#define SP_GW_QR_H

#include <stddef.h>
#include "sp_error.h"

#define SP_GW_QR_QUIET_MODULES 4
#define SP_GW_QR_PNG_PIXELS_PER_MODULE 8
/* Bytes encoded: a voucher number is 16, a partner's payment link
 * "<SP_PUBLIC_URL>/payer/<code>" at most 255 + 15. */
#define SP_GW_QR_TEXT_MAX 288
#define SP_GW_QR_SVG_BYTES_MAX (64 * 1024)
#define SP_GW_QR_PNG_BYTES_MAX (1024 * 1024)

/* A standalone SVG document (NUL-terminated; *len without the NUL). */
int sp_gw_qr_svg(const char *text, char **out, size_t *len, sp_error *err);
/* A PNG image. */
int sp_gw_qr_png(const char *text, unsigned char **out, size_t *len, sp_error *err);

#endif
