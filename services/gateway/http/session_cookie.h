/* session_cookie.h - the browser session's rules, pure: which credential a
 * request carries (an Authorization header wins over the sp_session cookie),
 * the cookie's token among the other cookies of a Cookie header, the Origin
 * check that keeps another site from using the cookie (CSRF), the
 * SP_PUBLIC_URL setting's form, and the Set-Cookie text.
 *
 * A cookie-authenticated request that may change something (any method but
 * GET and HEAD) must carry Origin equal to SP_PUBLIC_URL. Browsers send
 * Origin on every such request; SameSite=Strict is a second wall.
 * Ownership: every output is a caller's buffer of the size named here;
 * nothing allocates. */
#ifndef SP_GW_SESSION_COOKIE_H
#define SP_GW_SESSION_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sp_error.h"
#include "sp_id.h"

#define SP_GW_COOKIE_NAME "sp_session"
#define SP_GW_COOKIE_HEADER_LEN_MAX 8192 /* a longer Cookie header is not read */
#define SP_GW_COOKIES_MAX 64             /* cookies looked at in one header */
#define SP_GW_PUBLIC_URL_LEN_MAX 255
#define SP_GW_SET_COOKIE_LEN_MAX 160 /* the longest Set-Cookie value built here */

typedef enum {
    SP_GW_CREDENTIAL_NONE,   /* neither: a route that needs a session answers 401 */
    SP_GW_CREDENTIAL_BEARER, /* Authorization header (checked by sp_gw_bearer_token) */
    SP_GW_CREDENTIAL_COOKIE, /* Cookie: sp_session=<token> */
} sp_gw_credential;

/* Which credential the request carries. The Authorization header, when
 * present, is the credential even if a cookie is there too (API clients
 * never depend on a browser's cookies). For COOKIE, token receives the
 * cookie's value when it has a token's form, else "" (it then fails like a
 * wrong token: 401). token: SP_TOKEN_LEN + 1 bytes. */
sp_gw_credential sp_gw_credential_of(const char *authorization, const char *cookie_header,
                                     char token[SP_TOKEN_LEN + 1]);

/* The first sp_session cookie of a Cookie header ("a=1; sp_session=...; b=2"):
 * true and its value in token when it is there with a token's form
 * (SP_TOKEN_LEN characters of A-Z a-z 0-9 - _). *present tells whether the
 * cookie was there at all. Headers longer than SP_GW_COOKIE_HEADER_LEN_MAX
 * and cookies past SP_GW_COOKIES_MAX are not read. */
bool sp_gw_cookie_token(const char *cookie_header, char token[SP_TOKEN_LEN + 1], bool *present);

/* The method may change something: everything but GET and HEAD. */
bool sp_gw_method_unsafe(const char *method);

/* 403 bad_origin (field Origin) unless origin (the header, NULL when
 * absent) is exactly public_url. */
int sp_gw_origin_check(const char *origin, const char *public_url, sp_error *err);

/* 500 invalid_config (field SP_PUBLIC_URL) unless url is
 * http(s)://host[:port]: lower case, no path, query or final '/', no
 * user info, the port 1..65535 and not the scheme's default (a browser's
 * Origin leaves the default port out, so it would never match). */
int sp_gw_public_url_check(const char *url, sp_error *err);
/* The URL is https: the cookie gets Secure. */
bool sp_gw_public_url_secure(const char *public_url);

/* "sp_session=<token>; Path=/; HttpOnly; SameSite=Strict; Max-Age=<s>[; Secure]"
 * into out (SP_GW_SET_COOKIE_LEN_MAX + 1 bytes). token "" with max_age_s 0
 * is the cookie that clears it. */
void sp_gw_set_cookie_format(const char *token, int64_t max_age_s, bool secure,
                             char out[SP_GW_SET_COOKIE_LEN_MAX + 1]);

#endif
