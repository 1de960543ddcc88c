/* service.h - the notifications service at its edges.
 *
 * A consumer group (solipass-notifications) reads the accounts and ledger
 * events; each event that asks for an e-mail (ActivationIssued,
 * PaymentAccepted, VoucherRedeemed) becomes a row of notification_mails in
 * PostgreSQL, in one transaction per polled batch, and only then are the
 * batch's offsets committed: a consumed event is never lost, and its row
 * (keyed by the event's envelope id) is written once however often it is
 * read again.
 * Between polls, the rows that are due are mailed over SMTP one by one;
 * each failure only reschedules its own row (exponential backoff), so a
 * down server delays mail and holds nothing else up; a final refusal (5xx)
 * or the last allowed attempt sends the event to the dead-letter topic with
 * the SMTP reason. A row marked sent is never mailed again, across restarts
 * (at least once: a crash between the server's acceptance and that mark
 * sends the mail again after the restart).
 *
 * Memory: the config strings are borrowed for the whole run; the service
 * owns its handles and buffers and frees them on return. */
#ifndef SP_NOTIFY_SERVICE_H
#define SP_NOTIFY_SERVICE_H

#include <signal.h>
#include <stdint.h>
#include "sp_clock.h"
#include "sp_error.h"
#include "sp_log.h"
#include "smtp.h"

#define SP_NOTIFY_SERVICE_NAME "notifications"
#define SP_NOTIFY_GROUP_ID "solipass-notifications"

typedef struct sp_notify_config {
    const char *brokers;
    const char *pg_dsn;
    const char *migrations_dir;
    sp_notify_smtp_config smtp;
    const char *from_name;
    /* links: <base>/activate?token=..., <base>/reset-password?token=... */
    const char *public_base_url;
    const char *link_secret;
    int64_t retries_max; /* attempts before a mail is dead-lettered */
    int64_t retry_base_ms;
    int64_t retry_ms_max;
    int64_t max_age_s; /* older events are not mailed (a first start on an old log) */
} sp_notify_config;

/* Runs until *stop becomes non-zero (0) or a fatal error (-1, err). */
int sp_notify_service_run(const sp_notify_config *config, sp_log *log, sp_clock *clock,
                          volatile sig_atomic_t *stop, sp_error *err);

#endif
