/* sp_sepa.h - SEPA credit transfer files (ISO 20022 pain.001.001.03, with the
 * rules of the EPC implementation guidelines) that pay pending refund
 * requests: one payment information block from the city's account, one
 * CdtTrfTxInf per request. Finance logic: the gateway answers
 * POST /api/v1/finance/sepa with it, and any service may write one.
 *
 * Pure: no I/O, no clock (the creation instant is given). Every text is
 * transliterated to the SEPA character set (a-z A-Z 0-9 / - ? : ( ) . , ' +
 * and space) before it is cut to its length, then XML-escaped.
 *
 * Memory: every struct borrows its strings; the file is written into the
 * caller's buffer, which must hold sp_sepa_bytes_max(transfer_count) bytes. */
#ifndef SP_SEPA_H
#define SP_SEPA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sp_clock.h"
#include "sp_error.h"
#include "sp_profile.h"

/* CdtTrfTxInf per file: the ids of that many requests fit in one request body. */
#define SP_SEPA_TRANSFERS_MAX 300
#define SP_SEPA_ID_MAX 35          /* MsgId, PmtInfId, EndToEndId (Max35Text) */
#define SP_SEPA_NAME_MAX 70        /* Nm (Max70Text) */
#define SP_SEPA_REMITTANCE_MAX 140 /* Ustrd (Max140Text) */
/* The EPC's largest amount of one transfer: 999 999 999.99 euros. */
#define SP_SEPA_AMOUNT_CENTS_MAX INT64_C(99999999999)
#define SP_SEPA_HEADER_BYTES_MAX 4096
#define SP_SEPA_TRANSFER_BYTES_MAX 1536

/* The city's account every transfer is paid from. */
typedef struct sp_sepa_debtor {
    char name[SP_SEPA_NAME_MAX + 1];    /* transliterated, cut */
    char iban[SP_PROFILE_IBAN_MAX + 1]; /* normalized, checked */
    char bic[SP_PROFILE_BIC_MAX + 1];
} sp_sepa_debtor;

/* One refund request to pay. */
typedef struct sp_sepa_transfer {
    const char *request_id;   /* a canonical uuid */
    const char *partner_name; /* UTF-8, any length */
    const char *iban;         /* as stored in the partner's record; "" = none */
    const char *bic;          /* idem */
    int64_t amount_cents;     /* 1 .. SP_SEPA_AMOUNT_CENTS_MAX */
    const char *kind;         /* "manual" | "automatic" */
    const char *period;       /* automatic: "YYYY-MM"; manual: "" */
} sp_sepa_transfer;

typedef struct sp_sepa_file {
    const char *message_id;      /* 1..35 of the SEPA characters, unique per file */
    const char *payment_info_id; /* idem */
    int64_t created_at_ms;       /* CreDtTm, written as Europe/Paris local time */
    sp_date execution_date;      /* ReqdExctnDt */
    const sp_sepa_debtor *debtor;
    const sp_sepa_transfer *transfers;
    size_t transfer_count; /* 1 .. SP_SEPA_TRANSFERS_MAX */
} sp_sepa_file;

/* The debtor from the settings SP_SEPA_DEBTOR_NAME, _IBAN and _BIC: 500
 * "invalid_config" naming the variable when one is empty or invalid. */
int sp_sepa_debtor_parse(const char *name, const char *iban, const char *bic, sp_sepa_debtor *out,
                         sp_error *err);

/* UTF-8 text in the SEPA character set, cut to out_max characters (out
 * holds out_max + 1 bytes), spaces trimmed at both ends: letters lose their
 * accents (é -> e, œ -> oe, ß -> ss), '&' becomes '+', other characters '.'. */
void sp_sepa_transliterate(const char *text, char *out, size_t out_max);

/* "12.34" from 1234: out holds at least 24 bytes. */
void sp_sepa_amount_text(int64_t cents, char out[24]);

/* The EndToEndId of a request: its id without the dashes (32 characters). */
void sp_sepa_end_to_end_id(const char *request_id, char out[SP_SEPA_ID_MAX + 1]);

size_t sp_sepa_bytes_max(size_t transfer_count);

/* Writes the whole XML document. Refusals name the request at fault:
 * 409 "bank_account_missing" (no IBAN or no BIC in its partner's record),
 * 409 "invalid_iban" / "invalid_bic" (the record's does not pass the
 * checks), 422 "invalid_amount", 422 "too_many_requests", 422
 * "no_requests", 400 "invalid_value" (an identifier). *out_len excludes
 * the NUL. */
int sp_sepa_build(const sp_sepa_file *file, char *out, size_t out_size, size_t *out_len,
                  sp_error *err);

#endif
