/* smtp.h - sending one message over SMTP with libcurl.
 *
 * One sp_notify_smtp per process (one thread uses it): it keeps one curl
 * handle so that consecutive messages reuse the server connection. TLS:
 * "off" (smtp:// in clear, only for a server on this machine), "starttls"
 * (smtp://, STARTTLS required) or "tls" (smtps://, TLS from the start);
 * certificates are verified. Credentials are optional.
 *
 * The outcome of a send keeps the server's last reply line: that is the
 * reason a dead letter carries.
 * Ownership: the config strings are borrowed for the handle's life. */
#ifndef SP_NOTIFY_SMTP_H
#define SP_NOTIFY_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sp_error.h"

#define SP_NOTIFY_SMTP_REASON_MAX 384

typedef struct sp_notify_smtp_config {
    const char *url;  /* smtp://host:port or smtps://host:port */
    const char *tls;  /* "off" | "starttls" | "tls" */
    const char *user; /* "" = no authentication */
    const char *password;
    const char *from_address; /* MAIL FROM */
    int64_t timeout_ms;       /* a whole send, connection included */
} sp_notify_smtp_config;

typedef struct sp_notify_smtp_result {
    bool sent;
    bool permanent; /* the server refused for good (5xx) */
    long smtp_code; /* the server's last reply code, 0 when none */
    char reason[SP_NOTIFY_SMTP_REASON_MAX];
} sp_notify_smtp_result;

typedef struct sp_notify_smtp sp_notify_smtp;

/* Checks the settings (URL scheme against the TLS mode). NULL + err. */
sp_notify_smtp *sp_notify_smtp_new(const sp_notify_smtp_config *config, sp_error *err);
void sp_notify_smtp_free(sp_notify_smtp *smtp);

/* Sends message (message_len bytes, CRLF lines) to to_address and the
 * cc_count addresses of cc (may be NULL when 0): one SMTP transaction, so a
 * recipient the server refuses fails the whole send. The outcome is in
 * *result; the call itself does not fail. */
void sp_notify_smtp_send(sp_notify_smtp *smtp, const char *to_address, const char *const *cc,
                         size_t cc_count, const char *message, size_t message_len,
                         sp_notify_smtp_result *result);

#endif
