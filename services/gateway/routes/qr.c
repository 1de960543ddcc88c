/* qr.c - QR codes of voucher numbers and partner codes as SVG and PNG (see qr.h). */
#include "qr.h"

#include <assert.h>
#include <png.h>
#include <qrencode.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static QRcode *encode(const char *text, sp_error *err) {
    if (text == NULL || text[0] == '\0' || strlen(text) > SP_GW_QR_TEXT_MAX) {
        sp_error_set(err, 500, "internal", "", "QR text must be 1 to %d bytes", SP_GW_QR_TEXT_MAX);
        return NULL;
    }
    QRcode *code = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (code == NULL) sp_error_set(err, 500, "internal", "", "libqrencode could not encode");
    return code;
}

static bool dark(const QRcode *code, int x, int y) {
    return (code->data[y * code->width + x] & 1) != 0;
}

/* ------------------------------------------------------------------ SVG */

typedef struct text_buf {
    char *data;
    size_t len;
    size_t cap;
    bool overflow;
} text_buf;

static void text_append(text_buf *b, const char *format, ...) {
    if (b->overflow) return;
    va_list args;
    va_start(args, format);
    int n = vsnprintf(b->data + b->len, b->cap - b->len, format, args);
    va_end(args);
    if (n < 0 || (size_t)n >= b->cap - b->len) {
        b->overflow = true;
        return;
    }
    b->len += (size_t)n;
}

int sp_gw_qr_svg(const char *text, char **out, size_t *len, sp_error *err) {
    assert(out != NULL && len != NULL);
    *out = NULL;
    QRcode *code = encode(text, err);
    if (code == NULL) return -1;
    text_buf b = {.data = malloc(SP_GW_QR_SVG_BYTES_MAX), .cap = SP_GW_QR_SVG_BYTES_MAX};
    if (b.data == NULL) {
        QRcode_free(code);
        return sp_error_set(err, 503, "unavailable", "", "out of memory");
    }
    int size = code->width + 2 * SP_GW_QR_QUIET_MODULES;
    text_append(&b,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
                "width=\"%d\" height=\"%d\" shape-rendering=\"crispEdges\">"
                "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
                size, size, size * 4, size * 4, size, size);
    /* One rectangle per horizontal run of dark modules. */
    for (int y = 0; y < code->width; y++) {
        for (int x = 0; x < code->width;) {
            if (!dark(code, x, y)) {
                x++;
                continue;
            }
            int run = 0;
            while (x + run < code->width && dark(code, x + run, y)) run++;
            text_append(&b, "M%d %dh%dv1h-%dz", x + SP_GW_QR_QUIET_MODULES,
                        y + SP_GW_QR_QUIET_MODULES, run, run);
            x += run;
        }
    }
    text_append(&b, "\"/></svg>");
    QRcode_free(code);
    if (b.overflow) {
        free(b.data);
        return sp_error_set(err, 500, "internal", "", "the QR SVG is larger than %d bytes",
                            SP_GW_QR_SVG_BYTES_MAX);
    }
    *out = b.data;
    *len = b.len;
    return 0;
}

/* ------------------------------------------------------------------ PNG */

typedef struct byte_buf {
    unsigned char *data;
    size_t len;
    size_t cap;
    bool overflow;
} byte_buf;

static void png_write_to_buf(png_structp png, png_bytep data, png_size_t length) {
    byte_buf *b = png_get_io_ptr(png);
    if (b->overflow || length > b->cap - b->len) {
        b->overflow = true;
        png_error(png, "PNG larger than its bound");
    }
    memcpy(b->data + b->len, data, length);
    b->len += length;
}

static void png_flush_nothing(png_structp png) {
    (void)png;
}

/* Writes the rows; false when libpng failed (it longjmps back here). */
static bool png_encode(const QRcode *code, png_structp png, png_infop info, png_bytep row,
                       byte_buf *b) {
    if (setjmp(png_jmpbuf(png)) != 0) return false;
    int pixels = (code->width + 2 * SP_GW_QR_QUIET_MODULES) * SP_GW_QR_PNG_PIXELS_PER_MODULE;
    png_set_write_fn(png, b, png_write_to_buf, png_flush_nothing);
    png_set_IHDR(png, info, (png_uint_32)pixels, (png_uint_32)pixels, 8, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int py = 0; py < pixels; py++) {
        int y = py / SP_GW_QR_PNG_PIXELS_PER_MODULE - SP_GW_QR_QUIET_MODULES;
        for (int px = 0; px < pixels; px++) {
            int x = px / SP_GW_QR_PNG_PIXELS_PER_MODULE - SP_GW_QR_QUIET_MODULES;
            bool inside = x >= 0 && y >= 0 && x < code->width && y < code->width;
            row[px] = inside && dark(code, x, y) ? 0 : 255;
        }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    return true;
}

int sp_gw_qr_png(const char *text, unsigned char **out, size_t *len, sp_error *err) {
    assert(out != NULL && len != NULL);
    *out = NULL;
    QRcode *code = encode(text, err);
    if (code == NULL) return -1;
    int rc = -1;
    size_t pixels = (size_t)(code->width + 2 * SP_GW_QR_QUIET_MODULES) *
                    SP_GW_QR_PNG_PIXELS_PER_MODULE;
    byte_buf b = {.data = malloc(SP_GW_QR_PNG_BYTES_MAX), .cap = SP_GW_QR_PNG_BYTES_MAX};
    png_bytep row = malloc(pixels);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png != NULL ? png_create_info_struct(png) : NULL;
    if (b.data == NULL || row == NULL || info == NULL) {
        sp_error_set(err, 503, "unavailable", "", "out of memory");
        goto done;
    }
    if (!png_encode(code, png, info, row, &b)) {
        sp_error_set(err, 500, "internal", "", "libpng could not write the QR code");
        goto done;
    }
    *out = b.data;
    *len = b.len;
    b.data = NULL;
    rc = 0;
done:
    png_destroy_write_struct(png != NULL ? &png : NULL, info != NULL ? &info : NULL);
    free(row);
    free(b.data);
    QRcode_free(code);
    return rc;
}
