/* fuzz_image.c - libFuzzer target: the header checks of an uploaded logo or
 * cover (sp_gw_image_check: PNG signature, IHDR and IEND; JPEG SOI, frame
 * header and EOI; 1..8000 pixels a side). Whatever the bytes, an image it
 * accepts has dimensions within the bounds and the declared type.
 *
 * Input: first byte picks the declared type (PNG or JPEG), the rest is the
 * upload. Built and run by tests/fuzz/run. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/routes/structure.h"

#define IMAGE_BYTES_MAX (1024 * 1024) /* SP_IMAGE_BYTES_MAX's default */
#define IMAGE_SIDE_PX_MAX 8000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *declared = data[0] % 2 == 0 ? "image/png" : "image/jpeg; charset=x";
    size_t len = size - 1;
    /* An exact copy: a read past the upload is caught by ASan. */
    uint8_t *bytes = malloc(len == 0 ? 1 : len);
    if (bytes == NULL) abort();
    memcpy(bytes, data + 1, len);
    sp_gw_image_info info;
    sp_error err;
    if (sp_gw_image_check(bytes, len, declared, IMAGE_BYTES_MAX, &info, &err) == 0) {
        if (info.width_px < 1 || info.width_px > IMAGE_SIDE_PX_MAX || info.height_px < 1 ||
            info.height_px > IMAGE_SIDE_PX_MAX) {
            abort();
        }
        if (strncmp(declared, info.content_type, strlen(info.content_type)) != 0) abort();
    }
    free(bytes);
    return 0;
}
