/* fuzz_sepa_text.c - libFuzzer target: the transliteration of any text (a
 * partner's name, a remittance) into the SEPA character set
 * (sp_sepa_transliterate). Whatever the bytes (invalid UTF-8 included), the
 * result holds only a-z A-Z 0-9 / - ? : ( ) . , ' + and space, no space at
 * either end, and at most the length asked.
 *
 * Input: first byte is the length asked (0..255), the rest the text
 * (NUL-terminated). Built and run by tests/fuzz/run. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sp_sepa.h"

#define TEXT_BYTES_MAX 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sepa_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("/-?:().,'+ ", c) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > TEXT_BYTES_MAX) return 0;
    size_t out_max = data[0];
    char *text = malloc(size);
    char *out = malloc(out_max + 1);
    if (text == NULL || out == NULL) abort();
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    sp_sepa_transliterate(text, out, out_max);
    size_t len = strlen(out);
    if (len > out_max) abort();
    for (size_t i = 0; i < len; i++) {
        if (!sepa_char(out[i])) abort();
    }
    if (len > 0 && (out[0] == ' ' || out[len - 1] == ' ')) abort();
    free(out);
    free(text);
    return 0;
}
