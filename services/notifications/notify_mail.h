/* notify_mail.h - the pure half of the notifications service: the French
 * e-mail of each kind (plain text and HTML, as one MIME message ready for
 * SMTP), the retry schedule, and which SMTP replies are final.
 *
 * No I/O, no clock: every instant is given. Messages are written into the
 * caller's buffer with CRLF line ends; both bodies are base64 (lines of 76)
 * so that no line is too long for any server, and every header that may
 * hold non-ASCII text is an RFC 2047 encoded word.
 *
 * Memory: sp_notify_mail borrows every string; nothing is allocated. */
#ifndef SP_NOTIFY_MAIL_H
#define SP_NOTIFY_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sp_error.h"

#define SP_NOTIFY_MESSAGE_BYTES_MAX (64 * 1024)
#define SP_NOTIFY_BODY_BYTES_MAX (12 * 1024) /* one part before base64 */
#define SP_NOTIFY_ADDRESS_MAX 254
#define SP_NOTIFY_LINK_MAX 1024
#define SP_NOTIFY_PARIS_TIME_MAX 40 /* "27/11/2026 à 11:40" */
#define SP_NOTIFY_PASS_REF_LEN 4    /* what a partner sees of a pass id */
#define SP_NOTIFY_VOUCHER_REF_LEN 4 /* what a mail shows of a voucher number */
#define SP_NOTIFY_CC_MAX 15         /* copies: a partner's other administrators */
#define SP_NOTIFY_TRANSFER_REFERENCE_MAX 35

typedef enum {
    SP_NOTIFY_ACTIVATION = 1,
    SP_NOTIFY_PASSWORD_RESET,
    SP_NOTIFY_PAYMENT_RECEIVED,
    SP_NOTIFY_VOUCHER_REDEEMED,    /* to the beneficiary whose exchange voucher was used */
    SP_NOTIFY_REFUND_REQUESTED,    /* to a partner's administrators: a refund request is pending */
    SP_NOTIFY_REFUND_PAID,         /* to a partner's administrators: a refund request was paid */
    SP_NOTIFY_OPERATION_CANCELLED, /* to the beneficiary whose payment a partner cancelled */
    SP_NOTIFY_PASS_CLOSED,         /* to the beneficiary whose pass the city closed */
} sp_notify_kind;

/* "activation" | "password_reset" | "payment_received" | "voucher_redeemed" |
 * "refund_requested" | "refund_paid" | "operation_cancelled" | "pass_closed"
 * (the table's kind column). */
const char *sp_notify_kind_name(sp_notify_kind kind);
/* 0 when name is not a kind. */
sp_notify_kind sp_notify_kind_parse(const char *name);

typedef struct sp_notify_mail {
    sp_notify_kind kind;
    const char *event_id;            /* Message-ID and MIME boundary: a canonical id */
    const char *from_address;        /* bare address */
    const char *from_name;           /* display name, UTF-8 */
    const char *to_address;          /* bare address */
    const char *const *cc_addresses; /* bare addresses, each also a recipient; may be NULL */
    size_t cc_count;                 /* 0..SP_NOTIFY_CC_MAX */
    int64_t date_ms;                 /* the Date header */
    /* activation, password reset */
    const char *link; /* the whole URL */
    int64_t expires_at_ms;
    /* payment received */
    const char *partner_name;
    int64_t amount_cents;
    int64_t occurred_at_ms;
    const char *pass_ref; /* SP_NOTIFY_PASS_REF_LEN characters */
    const char *operation_id;
    int64_t owed_cents; /* what the city owes the partner now */
    /* voucher redeemed (also partner_name, amount_cents, occurred_at_ms) */
    const char *voucher_ref; /* the number's last SP_NOTIFY_VOUCHER_REF_LEN digits */
    bool has_balance;
    int64_t balance_cents; /* the pass's balance after the redemption */
    /* refund requested, refund paid (also partner_name; amount_cents is the request's total) */
    const char *request_id;
    int64_t operation_count;
    const char *period;             /* automatic: "YYYY-MM"; manual: "" */
    bool bank_details_missing;      /* asks the administrators to fill their bank details */
    const char *transfer_reference; /* paid: the bank transfer's reference */
    const char *paid_on;            /* paid: "YYYY-MM-DD" */
    /* operation cancelled (also partner_name, amount_cents, occurred_at_ms: the
     * cancellation's instant, balance_cents: the pass's balance after it) */
    bool returned_to_budget; /* its envelope had expired: the amount left the pass */
    /* pass closed (amount_cents: what went back to the budget, occurred_at_ms:
     * when it closed) */
    int64_t vouchers_cancelled;
} sp_notify_mail;

/* "octobre 2026" from "2026-10"; "" when period is not such a month. */
#define SP_NOTIFY_PERIOD_TEXT_MAX 24
void sp_notify_period_text(const char *period, char out[SP_NOTIFY_PERIOD_TEXT_MAX]);

/* The whole message (headers and body) into out. The Message-ID is the
 * event id, followed by ".voucher_redeemed" for that kind (the same event
 * also mails the partner). 400 "invalid_mail" when an address holds a
 * character that could break a header, 500 "too_large" when out is too
 * small. *out_len excludes the NUL. */
int sp_notify_render(const sp_notify_mail *mail, char *out, size_t out_size, size_t *out_len,
                     sp_error *err);

/* An address a header can carry: 3..254 bytes of printable ASCII without
 * spaces, '<', '>', '"', ',' or ';', one '@' that is neither first nor last. */
bool sp_notify_address_valid(const char *address);

/* "27/11/2026 à 11:40", Europe/Paris. */
void sp_notify_paris_time(int64_t utc_ms, char out[SP_NOTIFY_PARIS_TIME_MAX]);

/* The delay before attempt number attempts + 1, after `attempts` failed
 * ones (>= 1): base_ms doubled each time, at most delay_ms_max. */
int64_t sp_notify_backoff_ms(int64_t attempts, int64_t base_ms, int64_t delay_ms_max);

/* A reply of the SMTP server that retrying cannot change: 5xx, except the
 * authentication ones (530, 535), which a corrected configuration fixes. */
bool sp_notify_smtp_permanent(long smtp_code);

#endif
