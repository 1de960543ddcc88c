/* web_serve.h - the file side of the web apps: answers the paths that are
 * not the API from SP_WEB_DIR (web_files.h decides which file), the
 * gateway's print stylesheets, and the security headers of HTML answers.
 * Files are opened one path component at a time with O_NOFOLLOW beneath the
 * folder (no symbolic link is followed), must be regular files of at most
 * SP_GW_WEB_FILE_BYTES_MAX, and are sent in 16 KiB pieces (a worker
 * thread holds no more than that of a file).
 * Ownership: nothing outlives a call. */
#ifndef SP_GW_WEB_SERVE_H
#define SP_GW_WEB_SERVE_H

#include <stdbool.h>
#include "http.h"

/* Answers req when it is a page, an asset or a print stylesheet and
 * returns true; false (nothing sent) when it is for the API. path is the
 * decoded path before civetweb's clean-up of "..", request_uri the target
 * as civetweb hands it (the query is ignored), which must pass the same
 * checks. civetweb 1.15 decodes both in place before the gateway sees
 * them: an encoded '/' or '.' then reaches the checks as a real one (and
 * is refused wherever it would matter: "..", "//", a name under assets/),
 * and an encoded NUL ends the path there, leaving a prefix that is checked
 * like any path. Inside an app's client route ("/partenaire/a%2Fb") it is
 * only the app's page: nothing after the app's name is a file name. */
bool sp_gw_web_serve(sp_gw_request *req, const char *path, const char *request_uri);

/* Adds the security headers of an HTML answer (between
 * mg_response_header_start and _send). */
void sp_gw_web_add_security_headers(struct mg_connection *conn);

#endif
