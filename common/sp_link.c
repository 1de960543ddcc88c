/* sp_link.c - activation and reset link tokens (see sp_link.h). */
#include "sp_link.h"

#include <assert.h>
#include <string.h>
#include <sodium.h>

#define SP_LINK_MAC_BYTES 32
#define SP_LINK_CONTEXT "solipass-link-v1"

bool sp_link_secret_valid(const char *secret) {
    if (secret == NULL) return false;
    size_t len = strlen(secret);
    return len >= SP_LINK_SECRET_LEN_MIN && len <= SP_LINK_SECRET_LEN_MAX;
}

/* The secret of any length is first reduced to a BLAKE2b-256 key. */
static void link_mac(const char *secret, const char *activation_id, const char *purpose,
                     unsigned char mac[SP_LINK_MAC_BYTES]) {
    assert(sp_link_secret_valid(secret));
    assert(activation_id != NULL);
    assert(purpose != NULL);
    unsigned char key[crypto_generichash_KEYBYTES];
    crypto_generichash(key, sizeof key, (const unsigned char *)secret, strlen(secret), NULL, 0);
    crypto_generichash_state state;
    crypto_generichash_init(&state, key, sizeof key, SP_LINK_MAC_BYTES);
    /* Each part ends with a NUL so that no two (purpose, id) pairs collide. */
    crypto_generichash_update(&state, (const unsigned char *)SP_LINK_CONTEXT,
                              sizeof SP_LINK_CONTEXT);
    crypto_generichash_update(&state, (const unsigned char *)purpose, strlen(purpose) + 1);
    crypto_generichash_update(&state, (const unsigned char *)activation_id,
                              strlen(activation_id) + 1);
    crypto_generichash_final(&state, mac, SP_LINK_MAC_BYTES);
    sodium_memzero(key, sizeof key);
}

void sp_link_token_make(const char *secret, const char *activation_id, const char *purpose,
                        char *token) {
    assert(sp_link_secret_valid(secret));
    assert(sp_id_valid(activation_id));
    assert(purpose != NULL);
    unsigned char mac[SP_LINK_MAC_BYTES];
    link_mac(secret, activation_id, purpose, mac);
    memcpy(token, activation_id, SP_ID_LEN);
    token[SP_ID_LEN] = '.';
    sodium_bin2base64(token + SP_ID_LEN + 1, SP_LINK_MAC_TEXT_LEN + 1, mac, sizeof mac,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    assert(strlen(token) == SP_LINK_TOKEN_LEN);
}

int sp_link_token_check(const char *secret, const char *token, const char *purpose,
                        char *activation_id, sp_error *err) {
    assert(sp_link_secret_valid(secret));
    assert(token != NULL);
    assert(purpose != NULL);
    activation_id[0] = '\0';
    char id[SP_ID_LEN + 1];
    bool ok = strlen(token) == SP_LINK_TOKEN_LEN && token[SP_ID_LEN] == '.';
    if (ok) {
        memcpy(id, token, SP_ID_LEN);
        id[SP_ID_LEN] = '\0';
        ok = sp_id_valid(id);
    }
    if (ok) {
        char expected[SP_LINK_TOKEN_LEN + 1];
        sp_link_token_make(secret, id, purpose, expected);
        ok = sodium_memcmp(expected, token, SP_LINK_TOKEN_LEN) == 0;
    }
    if (!ok)
        return sp_error_set(err, 400, "invalid_token", "token",
                            "this link is not valid: copy the whole link from the e-mail");
    memcpy(activation_id, id, SP_ID_LEN + 1);
    return 0;
}
