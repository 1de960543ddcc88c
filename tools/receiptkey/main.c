/* main.c - solipass-receipt-key: makes a new key that signs payment receipts
 * (docs/api.md, Receipts), or gives the public key of an existing one.
 *
 *   solipass-receipt-key            prints SP_RECEIPT_SECRET_KEY=<base64 seed>
 *                                   and SP_RECEIPT_PUBLIC_KEY=<base64 key>
 *   solipass-receipt-key --public   reads SP_RECEIPT_SECRET_KEY from the
 *                                   environment, prints its public key
 * The secret goes to the transactions service only; the public key is put
 * first in the gateway's SP_RECEIPT_PUBLIC_KEYS (older keys after it). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sp_receipt.h"

#define B64 sodium_base64_VARIANT_ORIGINAL

int main(int argc, char **argv) {
    if (sodium_init() < 0) return 1;
    int rc = 0;
    sp_receipt_signer signer;
    sp_error err;
    sp_error_clear(&err);
    char seed_text[sodium_base64_ENCODED_LEN(crypto_sign_SEEDBYTES, B64)];
    char public_text[sodium_base64_ENCODED_LEN(SP_RECEIPT_PUBLIC_KEY_LEN, B64)];
    bool public_only = argc == 2 && strcmp(argv[1], "--public") == 0;
    if (argc > 1 && !public_only) {
        fprintf(stderr, "usage: solipass-receipt-key [--public]\n");
        return 2;
    }
    if (public_only) {
        const char *secret = getenv("SP_RECEIPT_SECRET_KEY");
        if (sp_receipt_signer_load(secret != NULL ? secret : "", &signer, &err) != 0) {
            fprintf(stderr, "SP_RECEIPT_SECRET_KEY: %s\n", err.message);
            return 1;
        }
    } else {
        uint8_t seed[crypto_sign_SEEDBYTES];
        randombytes_buf(seed, sizeof seed);
        sodium_bin2base64(seed_text, sizeof seed_text, seed, sizeof seed, B64);
        sodium_memzero(seed, sizeof seed);
        rc = sp_receipt_signer_load(seed_text, &signer, &err);
        if (rc == 0) printf("SP_RECEIPT_SECRET_KEY=%s\n", seed_text);
        sodium_memzero(seed_text, sizeof seed_text);
    }
    if (rc == 0) {
        char key_id[SP_RECEIPT_KEY_ID_TEXT_LEN + 1];
        sp_receipt_key_id_text(signer.key_id, key_id);
        sodium_bin2base64(public_text, sizeof public_text, signer.public_key,
                          sizeof signer.public_key, B64);
        printf("SP_RECEIPT_PUBLIC_KEY=%s\nSP_RECEIPT_KEY_ID=%s\n", public_text, key_id);
    } else {
        fprintf(stderr, "%s\n", err.message);
    }
    sodium_memzero(&signer, sizeof signer);
    return rc == 0 ? 0 : 1;
}
