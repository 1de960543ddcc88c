/* web_serve.h - the file side of the web apps: answers the paths that are
 * not the API from SP_WEB_DIR (web_files.h decides which file), the
 * gateway's print stylesheets, and the security headers of HTML answers.
 * Files are opened one path component at a time with O_NOFOLLOW beneath the
 * folder (no symbolic link is followed), must be regular files of at most
 * SP_GW_WEB_FILE_BYTES_MAX, and are read whole before the answer starts.
 * Ownership: nothing outlives a call. */
#ifndef SP_GW_WEB_SERVE_H
#define SP_GW_WEB_SERVE_H

#include <stdbool.h>
#include "http.h"

/* Answers req when it is a page, an asset or a print stylesheet and
 * returns true; false (nothing sent) when it is for the API. path is the
 * decoded path before civetweb's clean-up of "..", request_uri the target
 * as the client sent it (the query is ignored). */
bool sp_gw_web_serve(sp_gw_request *req, const char *path, const char *request_uri);

/* Adds the security headers of an HTML answer (between
 * mg_response_header_start and _send). */
void sp_gw_web_add_security_headers(struct mg_connection *conn);

#endif
