/* sp_link.h - the token of an activation or password-reset link.
 *
 * The accounts service issues a link as an ActivationIssued event naming a
 * random activation id; the log never holds anything that opens it. The
 * token mailed to the user is "<activation id>.<MAC>", where MAC is keyed
 * BLAKE2b-256 (libsodium crypto_generichash) of the purpose and the
 * activation id under a secret only the notifications service and the
 * gateway know (SP_LINK_SECRET), base64url without padding. The gateway
 * checks the MAC before anything reaches the log; the accounts service then
 * decides whether the link is known, unused and not expired.
 *
 * Pure functions over caller buffers; nothing is allocated. */
#ifndef SP_LINK_H
#define SP_LINK_H

#include <stdbool.h>
#include "sp_error.h"
#include "sp_id.h"

#define SP_LINK_MAC_TEXT_LEN 43 /* 32 bytes, base64url */
#define SP_LINK_TOKEN_LEN (SP_ID_LEN + 1 + SP_LINK_MAC_TEXT_LEN)
#define SP_LINK_SECRET_LEN_MIN 32 /* bytes of SP_LINK_SECRET */
#define SP_LINK_SECRET_LEN_MAX 1024

/* Whether secret is usable: SP_LINK_SECRET_LEN_MIN..MAX bytes. */
bool sp_link_secret_valid(const char *secret);

/* token (SP_LINK_TOKEN_LEN + 1 bytes) of activation_id for purpose
 * ("activation" | "reset"). activation_id must be a canonical id. */
void sp_link_token_make(const char *secret, const char *activation_id, const char *purpose,
                        char *token);

/* Checks token's shape and MAC for purpose and writes its activation id
 * (SP_ID_LEN + 1 bytes). 400 "invalid_token" (field "token") otherwise; the
 * comparison takes the same time wherever the MAC differs. */
int sp_link_token_check(const char *secret, const char *token, const char *purpose,
                        char *activation_id, sp_error *err);

#endif
