/* smtp.c - one message over SMTP with libcurl (see smtp.h). */
#include "smtp.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "notify_mail.h"

#define SP_NOTIFY_SMTP_CONNECT_TIMEOUT_MS 5000
#define SP_NOTIFY_SMTP_LINE_MAX 256 /* the server reply line kept */
#define SP_NOTIFY_SMTP_ADDRESS_ARG_MAX (SP_NOTIFY_ADDRESS_MAX + 3)

struct sp_notify_smtp {
    const sp_notify_smtp_config *config;
    CURL *curl;
    char from_arg[SP_NOTIFY_SMTP_ADDRESS_ARG_MAX];
};

typedef struct upload {
    const char *data;
    size_t len;
    size_t sent;
    char last_line[SP_NOTIFY_SMTP_LINE_MAX]; /* the server's last refusal (4xx, 5xx) */
    bool refusal_seen;
} upload;

static size_t read_message(char *buffer, size_t size, size_t count, void *ctx) {
    upload *u = ctx;
    size_t room = size * count;
    size_t n = u->len - u->sent < room ? u->len - u->sent : room;
    memcpy(buffer, u->data + u->sent, n);
    u->sent += n;
    return n;
}

/* Keeps the server's last refusal, or else its last line (libcurl calls
 * them "header in"): after a refusal the server still says "221 Bye". */
static int on_debug(CURL *curl, curl_infotype type, char *data, size_t size, void *ctx) {
    (void)curl;
    upload *u = ctx;
    if (type != CURLINFO_HEADER_IN || size == 0) return 0;
    bool refusal = data[0] == '4' || data[0] == '5';
    if (u->refusal_seen && !refusal) return 0;
    u->refusal_seen = u->refusal_seen || refusal;
    size_t n = size < sizeof u->last_line - 1 ? size : sizeof u->last_line - 1;
    memcpy(u->last_line, data, n);
    while (n > 0 && (u->last_line[n - 1] == '\n' || u->last_line[n - 1] == '\r')) n--;
    u->last_line[n] = '\0';
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)u->last_line[i] < 0x20 || (unsigned char)u->last_line[i] >= 0x7f)
            u->last_line[i] = '?';
    }
    return 0;
}

sp_notify_smtp *sp_notify_smtp_new(const sp_notify_smtp_config *config, sp_error *err) {
    assert(config != NULL);
    bool smtps = strncmp(config->url, "smtps://", 8) == 0;
    bool smtp = strncmp(config->url, "smtp://", 7) == 0;
    bool tls_ok = (smtps && strcmp(config->tls, "tls") == 0) ||
                  (smtp &&
                   (strcmp(config->tls, "off") == 0 || strcmp(config->tls, "starttls") == 0));
    if (!smtp && !smtps) {
        sp_error_set(err, 500, "invalid_config", "SP_SMTP_URL",
                     "SP_SMTP_URL must start with smtp:// or smtps://");
        return NULL;
    }
    if (!tls_ok) {
        sp_error_set(err, 500, "invalid_config", "SP_SMTP_TLS",
                     "SP_SMTP_TLS must be tls with smtps://, off or starttls with smtp://");
        return NULL;
    }
    if (!sp_notify_address_valid(config->from_address)) {
        sp_error_set(err, 500, "invalid_config", "SP_SMTP_FROM",
                     "SP_SMTP_FROM must be a bare e-mail address");
        return NULL;
    }
    sp_notify_smtp *s = calloc(1, sizeof *s);
    if (s == NULL || (s->curl = curl_easy_init()) == NULL) {
        free(s);
        sp_error_set(err, 500, "out_of_memory", "", "curl handle");
        return NULL;
    }
    s->config = config;
    snprintf(s->from_arg, sizeof s->from_arg, "<%s>", config->from_address);
    return s;
}

void sp_notify_smtp_free(sp_notify_smtp *smtp) {
    if (smtp == NULL) return;
    curl_easy_cleanup(smtp->curl);
    free(smtp);
}

static void set_options(sp_notify_smtp *s, upload *u, struct curl_slist *rcpt, char *errbuf) {
    const sp_notify_smtp_config *c = s->config;
    CURL *curl = s->curl;
    /* reset keeps the connection cache: the next message reuses the session. */
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, c->url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(c->timeout_ms < SP_NOTIFY_SMTP_CONNECT_TIMEOUT_MS
                                ? c->timeout_ms
                                : SP_NOTIFY_SMTP_CONNECT_TIMEOUT_MS));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    if (strcmp(c->tls, "off") != 0) curl_easy_setopt(curl, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    if (c->user[0] != '\0') {
        curl_easy_setopt(curl, CURLOPT_USERNAME, c->user);
        curl_easy_setopt(curl, CURLOPT_PASSWORD, c->password);
    }
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, s->from_arg);
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_message);
    curl_easy_setopt(curl, CURLOPT_READDATA, u);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)u->len);
    curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L);
    curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, on_debug);
    curl_easy_setopt(curl, CURLOPT_DEBUGDATA, u);
}

/* <to>, then <cc...>, as libcurl's recipient list; NULL when out of memory. */
static struct curl_slist *recipients_of(const char *to_address, const char *const *cc,
                                        size_t cc_count) {
    char rcpt_arg[SP_NOTIFY_SMTP_ADDRESS_ARG_MAX];
    snprintf(rcpt_arg, sizeof rcpt_arg, "<%s>", to_address);
    struct curl_slist *rcpt = curl_slist_append(NULL, rcpt_arg);
    for (size_t i = 0; i < cc_count && rcpt != NULL; i++) {
        snprintf(rcpt_arg, sizeof rcpt_arg, "<%s>", cc[i]);
        struct curl_slist *more = curl_slist_append(rcpt, rcpt_arg);
        if (more == NULL) {
            curl_slist_free_all(rcpt);
            return NULL;
        }
        rcpt = more;
    }
    return rcpt;
}

void sp_notify_smtp_send(sp_notify_smtp *smtp, const char *to_address, const char *const *cc,
                         size_t cc_count, const char *message, size_t message_len,
                         sp_notify_smtp_result *result) {
    assert(smtp != NULL && to_address != NULL && message != NULL && result != NULL);
    assert(cc_count <= SP_NOTIFY_CC_MAX && (cc != NULL || cc_count == 0));
    memset(result, 0, sizeof *result);
    struct curl_slist *rcpt = recipients_of(to_address, cc, cc_count);
    if (rcpt == NULL) {
        snprintf(result->reason, sizeof result->reason, "out of memory");
        return;
    }
    upload u = {.data = message, .len = message_len};
    char errbuf[CURL_ERROR_SIZE] = "";
    set_options(smtp, &u, rcpt, errbuf);
    CURLcode rc = curl_easy_perform(smtp->curl);
    long code = 0;
    curl_easy_getinfo(smtp->curl, CURLINFO_RESPONSE_CODE, &code);
    /* The handle points to these stack buffers: forget them (the connection
     * stays cached for the next message). */
    curl_easy_reset(smtp->curl);
    curl_slist_free_all(rcpt);
    result->smtp_code = code;
    result->sent = rc == CURLE_OK;
    if (result->sent) return;
    result->permanent = sp_notify_smtp_permanent(code);
    snprintf(result->reason, sizeof result->reason, "smtp %ld: %s%s%s", code,
             errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc),
             u.last_line[0] != '\0' ? "; server said: " : "", u.last_line);
}
