/* gateway.h - the gateway's settings and the handles every request reaches
 * through: one sp_gw_app, built by main.c and shared read-only by the HTTP
 * worker threads (each module it points to does its own locking).
 * Ownership: main owns every handle in the app and frees them after the
 * HTTP server and the background threads have stopped. */
#ifndef SP_GW_GATEWAY_H
#define SP_GW_GATEWAY_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include "sp_clock.h"
#include "sp_log.h"

#define SP_GW_INSTANCE_REPLY_TO_MAX 64 /* "gateway-<uuid>" */
/* Wrong voucher numbers (mistyped or unknown) one user may type within the
 * window before 429 too_many_attempts: with about 2^49.7 numbers, guessing a
 * live one at this pace is hopeless. */
#define SP_GW_VOUCHER_FAILURES_MAX 10
#define SP_GW_VOUCHER_WINDOW_MS (10 * 60 * 1000)
#define SP_GW_VOUCHER_RATELIMIT_SLOTS 16384

typedef struct sp_gw_config {
    const char *kafka_brokers;
    const char *pg_dsn;
    const char *http_address;
    int64_t http_port;
    int64_t http_threads;
    int64_t http_request_timeout_ms;       /* civetweb: headers, and each read or write */
    int64_t http_requests_per_address_max; /* requests in progress of one client address */
    int64_t pg_pool_size;
    int64_t command_timeout_ms;
    int64_t session_ttl_s;
    int64_t users_max;             /* SP_USERS_MAX: the directory's users, partners */
    int64_t sessions_per_user_max; /* SP_SESSIONS_PER_USER_MAX */
    int64_t directory_start_ms;    /* SP_DIRECTORY_START_MS: reading the accounts log */
    int64_t payment_cents_max;
    int64_t credit_cents_max;
    const char *link_secret; /* SP_LINK_SECRET; "" = no activation links */
    int64_t login_failures_per_account_max;
    int64_t login_failures_per_address_max;
    int64_t login_window_s;
    int64_t image_bytes_max;   /* SP_IMAGE_BYTES_MAX: an uploaded logo or cover */
    const char *contact_hours; /* SP_CONTACT_*: the service's contact block */
    const char *contact_email;
    const char *contact_phones;
    int64_t sse_streams_max;      /* live operation streams open at once */
    int64_t sse_s_max;            /* a stream ends after this; the client reconnects */
    const char *sepa_debtor_name; /* SP_SEPA_DEBTOR_*: the city's account; "" = none */
    const char *sepa_debtor_iban;
    const char *sepa_debtor_bic;
    const char *exports_dir;         /* SP_EXPORTS_DIR: the exports service's files */
    const char *web_dir;             /* SP_WEB_DIR: the built web apps; "" = API only */
    const char *public_url;          /* SP_PUBLIC_URL, checked (session_cookie.h) */
    const char *trusted_proxies;     /* SP_TRUSTED_PROXIES: addresses and CIDR networks */
    const char *receipt_public_keys; /* SP_RECEIPT_PUBLIC_KEYS: base64 keys, current first */
} sp_gw_config;

typedef struct sp_gw_pgpool sp_gw_pgpool;
typedef struct sp_gw_commands sp_gw_commands;
typedef struct sp_gw_projwait sp_gw_projwait;
typedef struct sp_gw_directory_feed sp_gw_directory_feed;
typedef struct sp_gw_metrics sp_gw_metrics;
typedef struct sp_gw_auth sp_gw_auth;
typedef struct sp_gw_ratelimit sp_gw_ratelimit;
typedef struct sp_gw_streams sp_gw_streams;
typedef struct sp_gw_contact sp_gw_contact;
typedef struct sp_sepa_debtor sp_sepa_debtor;
typedef struct sp_gw_proxies sp_gw_proxies;
typedef struct sp_receipt_keyring sp_receipt_keyring;

typedef struct sp_gw_app {
    const sp_gw_config *config;
    sp_log *log;
    sp_clock *clock;
    sp_gw_pgpool *pool;
    sp_gw_commands *commands;
    sp_gw_projwait *projwait;
    sp_gw_directory_feed *directory; /* sessions and partner codes, from the log */
    sp_gw_metrics *metrics;
    sp_gw_auth *auth;
    sp_gw_ratelimit *login_by_account;      /* failed logins per e-mail */
    sp_gw_ratelimit *login_by_address;      /* failed logins and reset requests per client */
    sp_gw_ratelimit *voucher_by_user;       /* wrong voucher numbers typed, per partner user */
    const sp_gw_contact *contact;           /* checked SP_CONTACT_* settings */
    sp_gw_streams *streams;                 /* slots of the live operation streams */
    const sp_sepa_debtor *sepa_debtor;      /* checked SP_SEPA_DEBTOR_*; NULL: no SEPA files */
    const sp_gw_proxies *proxies;           /* checked SP_TRUSTED_PROXIES */
    struct sp_gw_inflight *inflight;        /* requests in progress per client address */
    const sp_receipt_keyring *receipt_keys; /* checked SP_RECEIPT_PUBLIC_KEYS (may be empty) */
    struct sp_gw_imports *imports;          /* CSV enrolment runs (imports.h) */
} sp_gw_app;

/* Monotonic milliseconds: every deadline inside the gateway is on this clock
 * (the injected sp_clock is business time and may jump). */
int64_t sp_gw_monotonic_ms(void);
/* A condition variable whose timed waits count on the monotonic clock. */
int sp_gw_cond_init(pthread_cond_t *cond);
/* The absolute time pthread_cond_timedwait() wants for a monotonic deadline. */
struct timespec sp_gw_deadline_timespec(int64_t deadline_ms);

#endif
