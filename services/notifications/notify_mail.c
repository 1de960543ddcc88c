/* notify_mail.c - the French e-mails, their MIME form, the retry schedule
 * (see notify_mail.h). Pure: no I/O, no clock. */
#include "notify_mail.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>
#include "sp_clock.h"
#include "sp_money.h"
#include "sp_text.h"

#define B64_LINE_BYTES 57     /* 57 bytes give a 76-character base64 line */
#define ENCODED_WORD_BYTES 39 /* text per RFC 2047 word: 52 base64 chars, a line < 78 */
#define SERVICE_NAME "Pass solidarité"

static void put_base64_lines(sp_text *w, const char *data, size_t len) {
    assert(w != NULL);
    assert(data != NULL || len == 0);
    char line[sodium_base64_ENCODED_LEN(B64_LINE_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    for (size_t at = 0; at < len && !w->overflow; at += B64_LINE_BYTES) {
        size_t n = len - at < B64_LINE_BYTES ? len - at : B64_LINE_BYTES;
        sodium_bin2base64(line, sizeof line, (const unsigned char *)data + at, n,
                          sodium_base64_VARIANT_ORIGINAL);
        sp_text_put(w, line);
        sp_text_put(w, "\r\n");
    }
}

static bool plain_ascii(const char *text) {
    assert(text != NULL);
    for (const char *p = text; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) return false;
    }
    return strstr(text, "=?") == NULL;
}

/* RFC 2047 encoded words, folded, each cut on a UTF-8 character boundary. */
static void put_header_text(sp_text *w, const char *text) {
    assert(w != NULL);
    assert(text != NULL);
    if (plain_ascii(text)) {
        sp_text_put(w, text);
        return;
    }
    size_t len = strlen(text);
    char word[sodium_base64_ENCODED_LEN(ENCODED_WORD_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    for (size_t at = 0; at < len && !w->overflow;) {
        size_t n = len - at < ENCODED_WORD_BYTES ? len - at : ENCODED_WORD_BYTES;
        while (n > 1 && at + n < len && ((unsigned char)text[at + n] & 0xC0) == 0x80) n--;
        sodium_bin2base64(word, sizeof word, (const unsigned char *)text + at, n,
                          sodium_base64_VARIANT_ORIGINAL);
        sp_text_putf(w, "%s=?UTF-8?B?%s?=", at > 0 ? "\r\n " : "", word);
        at += n;
    }
}

/* ------------------------------------------------------------------ values */

const char *sp_notify_kind_name(sp_notify_kind kind) {
    switch (kind) {
    case SP_NOTIFY_ACTIVATION: return "activation";
    case SP_NOTIFY_PASSWORD_RESET: return "password_reset";
    case SP_NOTIFY_PAYMENT_RECEIVED: return "payment_received";
    case SP_NOTIFY_VOUCHER_REDEEMED: return "voucher_redeemed";
    case SP_NOTIFY_REFUND_REQUESTED: return "refund_requested";
    case SP_NOTIFY_REFUND_PAID: return "refund_paid";
    case SP_NOTIFY_OPERATION_CANCELLED: return "operation_cancelled";
    case SP_NOTIFY_PASS_CLOSED: return "pass_closed";
    }
    return "";
}

sp_notify_kind sp_notify_kind_parse(const char *name) {
    static const sp_notify_kind kinds[] = {
        SP_NOTIFY_ACTIVATION,          SP_NOTIFY_PASSWORD_RESET,   SP_NOTIFY_PAYMENT_RECEIVED,
        SP_NOTIFY_VOUCHER_REDEEMED,    SP_NOTIFY_REFUND_REQUESTED, SP_NOTIFY_REFUND_PAID,
        SP_NOTIFY_OPERATION_CANCELLED, SP_NOTIFY_PASS_CLOSED};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (name != NULL && strcmp(name, sp_notify_kind_name(kinds[i])) == 0) return kinds[i];
    }
    return 0;
}

bool sp_notify_address_valid(const char *address) {
    assert(address != NULL);
    size_t len = strlen(address);
    if (len < 3 || len > SP_NOTIFY_ADDRESS_MAX) return false;
    const char *at = strchr(address, '@');
    if (at == NULL || at == address || at[1] == '\0' || strchr(at + 1, '@') != NULL) return false;
    for (const char *p = address; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c >= 0x7f || strchr("<>\",;", c) != NULL) return false;
    }
    return true;
}

static void utc_parts(int64_t utc_ms, struct tm *tm) {
    assert(tm != NULL);
    int64_t seconds = utc_ms / 1000 - (utc_ms % 1000 < 0 ? 1 : 0);
    time_t t = (time_t)seconds;
    gmtime_r(&t, tm);
}

void sp_notify_paris_time(int64_t utc_ms, char out[SP_NOTIFY_PARIS_TIME_MAX]) {
    assert(out != NULL);
    struct tm tm;
    utc_parts(utc_ms + sp_paris_utc_offset_ms(utc_ms), &tm);
    snprintf(out, SP_NOTIFY_PARIS_TIME_MAX, "%02d/%02d/%04d à %02d:%02d", tm.tm_mday, tm.tm_mon + 1,
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min);
}

static void rfc5322_date(int64_t utc_ms, char out[64]) {
    assert(out != NULL);
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    utc_parts(utc_ms, &tm);
    snprintf(out, 64, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7], tm.tm_mday,
             months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int64_t sp_notify_backoff_ms(int64_t attempts, int64_t base_ms, int64_t delay_ms_max) {
    assert(attempts >= 1);
    assert(base_ms > 0);
    assert(delay_ms_max >= base_ms);
    int64_t delay_ms = base_ms;
    for (int64_t i = 1; i < attempts && delay_ms < delay_ms_max; i++) delay_ms *= 2;
    assert(delay_ms >= base_ms);
    return delay_ms < delay_ms_max ? delay_ms : delay_ms_max;
}

bool sp_notify_smtp_permanent(long smtp_code) {
    return smtp_code >= 500 && smtp_code <= 599 && smtp_code != 530 && smtp_code != 535;
}

/* ------------------------------------------------------------------ templates */

static const char *subject_of(const sp_notify_mail *m, char *buf, size_t size) {
    assert(buf != NULL);
    assert(size > 0);
    char amount[SP_MONEY_FORMAT_MAX];
    switch (m->kind) {
    case SP_NOTIFY_ACTIVATION: return "Activez votre compte du " SERVICE_NAME;
    case SP_NOTIFY_PASSWORD_RESET: return "Nouveau mot de passe pour le " SERVICE_NAME;
    case SP_NOTIFY_PAYMENT_RECEIVED:
        sp_money_format_eur(m->amount_cents, amount, sizeof amount);
        snprintf(buf, size, "Paiement reçu : %s (%s)", amount, m->partner_name);
        return buf;
    case SP_NOTIFY_VOUCHER_REDEEMED: return "Votre bon d'échange a été utilisé";
    case SP_NOTIFY_REFUND_REQUESTED:
        sp_money_format_eur(m->amount_cents, amount, sizeof amount);
        snprintf(buf, size, "Demande de remboursement enregistrée : %s", amount);
        return buf;
    case SP_NOTIFY_REFUND_PAID:
        sp_money_format_eur(m->amount_cents, amount, sizeof amount);
        snprintf(buf, size, "Remboursement payé : %s", amount);
        return buf;
    case SP_NOTIFY_OPERATION_CANCELLED:
        sp_money_format_eur(m->amount_cents, amount, sizeof amount);
        snprintf(buf, size, "Paiement annulé : %s", amount);
        return buf;
    case SP_NOTIFY_PASS_CLOSED: return "Votre " SERVICE_NAME " est fermé";
    }
    return SERVICE_NAME;
}

static void text_link(const sp_notify_mail *m, sp_text *w) {
    assert(m->kind == SP_NOTIFY_ACTIVATION || m->kind == SP_NOTIFY_PASSWORD_RESET);
    assert(m->link != NULL);
    char until[SP_NOTIFY_PARIS_TIME_MAX];
    sp_notify_paris_time(m->expires_at_ms, until);
    sp_text_put(w, "Bonjour,\r\n\r\n");
    if (m->kind == SP_NOTIFY_ACTIVATION) {
        sp_text_put(w, "Un compte vous a été ouvert sur le " SERVICE_NAME
                       ".\r\nPour l'activer, choisissez votre mot de passe en suivant ce "
                       "lien :\r\n\r\n");
    } else {
        sp_text_putf(w,
                     "Un nouveau mot de passe a été demandé pour votre compte (%s).\r\nPour le "
                     "choisir, suivez ce lien :\r\n\r\n",
                     m->to_address);
    }
    sp_text_putf(w, "%s\r\n\r\nCe lien ne sert qu'une fois et expire le %s (heure de Paris).\r\n",
                 m->link, until);
    if (m->kind == SP_NOTIFY_ACTIVATION) {
        sp_text_putf(w,
                     "Ensuite, connectez-vous avec votre adresse e-mail (%s) et ce mot de passe."
                     "\r\n\r\nSi vous n'attendiez pas ce message, ignorez-le.\r\n",
                     m->to_address);
    } else {
        sp_text_put(w, "\r\nSi vous n'avez rien demandé, ignorez ce message : votre mot de passe "
                       "actuel reste valable.\r\n");
    }
    sp_text_put(w, "\r\n-- \r\n" SERVICE_NAME "\r\n");
}

static void html_link(const sp_notify_mail *m, sp_text *w) {
    assert(m->kind == SP_NOTIFY_ACTIVATION || m->kind == SP_NOTIFY_PASSWORD_RESET);
    assert(m->link != NULL);
    char until[SP_NOTIFY_PARIS_TIME_MAX];
    sp_notify_paris_time(m->expires_at_ms, until);
    bool activation = m->kind == SP_NOTIFY_ACTIVATION;
    sp_text_put(
        w, "<!DOCTYPE html>\r\n<html lang=\"fr\"><head><meta charset=\"utf-8\"></head><body>\r\n"
           "<p>Bonjour,</p>\r\n<p>");
    if (activation) {
        sp_text_put(w, "Un compte vous a été ouvert sur le " SERVICE_NAME ".");
    } else {
        sp_text_put(w, "Un nouveau mot de passe a été demandé pour votre compte (");
        sp_text_put_markup(w, m->to_address);
        sp_text_put(w, ").");
    }
    sp_text_put(w, "</p>\r\n<p><a href=\"");
    sp_text_put_markup(w, m->link);
    sp_text_put(w, activation ? "\">Activer mon compte</a></p>\r\n"
                              : "\">Choisir un mot de passe</a></p>\r\n");
    sp_text_putf(w, "<p>Ce lien ne sert qu'une fois et expire le %s (heure de Paris).</p>\r\n",
                 until);
    sp_text_put(w,
                "<p>Si vous n'attendiez pas ce message, ignorez-le.</p>\r\n<p>-- <br>" SERVICE_NAME
                "</p>\r\n</body></html>\r\n");
}

/* What a payment's or a cancellation's e-mail shows: its amount, a second
 * sum (what the city owes the partner, the pass's balance) and its instant. */
typedef struct figures {
    char amount[SP_MONEY_FORMAT_MAX];
    char sum[SP_MONEY_FORMAT_MAX];
    char when[SP_NOTIFY_PARIS_TIME_MAX];
} figures;

static void figures_of(const sp_notify_mail *m, int64_t sum_cents, figures *f) {
    assert(m != NULL);
    assert(f != NULL);
    sp_money_format_eur(m->amount_cents, f->amount, sizeof f->amount);
    sp_money_format_eur(sum_cents, f->sum, sizeof f->sum);
    sp_notify_paris_time(m->occurred_at_ms, f->when);
}

#define HTML_START \
    "<!DOCTYPE html>\r\n<html lang=\"fr\"><head><meta charset=\"utf-8\"></head>" \
    "<body>\r\n<p>Bonjour,</p>\r\n<p>"

static void text_payment(const sp_notify_mail *m, sp_text *w) {
    assert(m->kind == SP_NOTIFY_PAYMENT_RECEIVED);
    figures f;
    figures_of(m, m->owed_cents, &f);
    sp_text_putf(w,
                 "Bonjour,\r\n\r\n%s a reçu un paiement par " SERVICE_NAME ".\r\n\r\n"
                 "  Montant :      %s\r\n  Date :         %s\r\n  Bénéficiaire : pass n° …%s\r\n"
                 "  Opération :    %s\r\n\r\n"
                 "Montant que la ville vous doit à ce jour : %s.\r\n"
                 "L'opération est visible dans votre espace partenaire.\r\n\r\n"
                 "-- \r\n" SERVICE_NAME "\r\n",
                 m->partner_name, f.amount, f.when, m->pass_ref, m->operation_id, f.sum);
}

static void html_payment(const sp_notify_mail *m, sp_text *w) {
    assert(m->kind == SP_NOTIFY_PAYMENT_RECEIVED);
    figures f;
    figures_of(m, m->owed_cents, &f);
    sp_text_put(w, HTML_START);
    sp_text_put_markup(w, m->partner_name);
    sp_text_put(w, " a reçu un paiement par " SERVICE_NAME ".</p>\r\n<table>\r\n");
    sp_text_putf(w,
                 "<tr><th align=\"left\">Montant</th><td>%s</td></tr>\r\n"
                 "<tr><th align=\"left\">Date</th><td>%s</td></tr>\r\n"
                 "<tr><th align=\"left\">Bénéficiaire</th><td>pass n° …%s</td></tr>\r\n"
                 "<tr><th align=\"left\">Opération</th><td>%s</td></tr>\r\n</table>\r\n"
                 "<p>Montant que la ville vous doit à ce jour : <strong>%s</strong>.</p>\r\n"
                 "<p>-- <br>" SERVICE_NAME "</p>\r\n</body></html>\r\n",
                 f.amount, f.when, m->pass_ref, m->operation_id, f.sum);
}

/* The beneficiary sees only the end of the number, in its printed groups:
 * the mail may be read by someone else, the full number pays. */
static void text_voucher(const sp_notify_mail *m, sp_text *w) {
    assert(m->kind == SP_NOTIFY_VOUCHER_REDEEMED);
    char amount[SP_MONEY_FORMAT_MAX], balance[SP_MONEY_FORMAT_MAX], when[SP_NOTIFY_PARIS_TIME_MAX];
    sp_money_format_eur(m->amount_cents, amount, sizeof amount);
    sp_notify_paris_time(m->occurred_at_ms, when);
    sp_text_putf(w,
                 "Bonjour,\r\n\r\nVotre bon d'échange a été utilisé chez %s.\r\n\r\n"
                 "  Bon :       **** **** **** %s\r\n  Montant :   %s\r\n  Date :      %s\r\n",
                 m->partner_name, m->voucher_ref, amount, when);
    if (m->has_balance) {
        sp_money_format_eur(m->balance_cents, balance, sizeof balance);
        sp_text_putf(w, "\r\nSolde restant sur votre pass : %s.\r\n", balance);
    }
    sp_text_put(w, "\r\nSi vous n'avez pas utilisé ce bon, signalez-le au " SERVICE_NAME ".\r\n"
                   "\r\n-- \r\n" SERVICE_NAME "\r\n");
}

static void html_voucher(const sp_notify_mail *m, sp_text *w) {
    assert(m->kind == SP_NOTIFY_VOUCHER_REDEEMED);
    char amount[SP_MONEY_FORMAT_MAX], balance[SP_MONEY_FORMAT_MAX], when[SP_NOTIFY_PARIS_TIME_MAX];
    sp_money_format_eur(m->amount_cents, amount, sizeof amount);
    sp_notify_paris_time(m->occurred_at_ms, when);
    sp_text_put(
        w, "<!DOCTYPE html>\r\n<html lang=\"fr\"><head><meta charset=\"utf-8\"></head><body>\r\n"
           "<p>Bonjour,</p>\r\n<p>Votre bon d'échange a été utilisé chez ");
    sp_text_put_markup(w, m->partner_name);
    sp_text_putf(w,
                 ".</p>\r\n<table>\r\n"
                 "<tr><th align=\"left\">Bon</th><td>**** **** **** %s</td></tr>\r\n"
                 "<tr><th align=\"left\">Montant</th><td>%s</td></tr>\r\n"
                 "<tr><th align=\"left\">Date</th><td>%s</td></tr>\r\n</table>\r\n",
                 m->voucher_ref, amount, when);
    if (m->has_balance) {
        sp_money_format_eur(m->balance_cents, balance, sizeof balance);
        sp_text_putf(w, "<p>Solde restant sur votre pass : <strong>%s</strong>.</p>\r\n", balance);
    }
    sp_text_put(w, "<p>Si vous n'avez pas utilisé ce bon, signalez-le au " SERVICE_NAME ".</p>\r\n"
                   "<p>-- <br>" SERVICE_NAME "</p>\r\n</body></html>\r\n");
}

/* Where the amount of a cancelled payment went: the pass, or the budget when
 * its envelope had expired or the pass was closed (the beneficiary must not
 * look for it). */
static const char *cancel_outcome(const sp_notify_mail *m) {
    assert(m->kind == SP_NOTIFY_OPERATION_CANCELLED);
    return m->returned_to_budget
               ? "Ce montant n'a pas pu revenir sur votre pass : l'enveloppe dont il venait a "
                 "expiré entre-temps, ou votre pass a été fermé."
               : "Ce montant est de nouveau disponible sur votre pass.";
}

static void text_cancelled(const sp_notify_mail *m, sp_text *w) {
    assert(m->amount_cents > 0); /* checked by mail_valid */
    assert(m->balance_cents >= 0);
    figures f;
    figures_of(m, m->balance_cents, &f);
    sp_text_putf(w,
                 "Bonjour,\r\n\r\n%s a annulé un de vos paiements.\r\n\r\n"
                 "  Montant :     %s\r\n  Annulé le :   %s\r\n\r\n%s\r\n"
                 "Solde de votre pass : %s.\r\n\r\n-- \r\n" SERVICE_NAME "\r\n",
                 m->partner_name, f.amount, f.when, cancel_outcome(m), f.sum);
}

static void html_cancelled(const sp_notify_mail *m, sp_text *w) {
    assert(m->amount_cents > 0);
    assert(m->balance_cents >= 0);
    figures f;
    figures_of(m, m->balance_cents, &f);
    sp_text_put(w, HTML_START);
    sp_text_put_markup(w, m->partner_name);
    sp_text_putf(w,
                 " a annulé un de vos paiements.</p>\r\n<table>\r\n"
                 "<tr><th align=\"left\">Montant</th><td>%s</td></tr>\r\n"
                 "<tr><th align=\"left\">Annulé le</th><td>%s</td></tr>\r\n</table>\r\n"
                 "<p>%s</p>\r\n<p>Solde de votre pass : <strong>%s</strong>.</p>\r\n"
                 "<p>-- <br>" SERVICE_NAME "</p>\r\n</body></html>\r\n",
                 f.amount, f.when, cancel_outcome(m), f.sum);
}

/* A closed pass: when, what went back to the city, what it no longer does. */
#define CLOSED_AFTER \
    "Votre pass ne permet plus de payer un partenaire ni de créer de bon " \
    "d'échange."
#define CLOSED_CONTACT \
    "Pour toute question, adressez-vous au service du " SERVICE_NAME " de votre mairie."

static void closed_vouchers(const sp_notify_mail *m, char *out, size_t size) {
    assert(size > 0);
    assert(m->vouchers_cancelled >= 0);
    if (m->vouchers_cancelled == 0) {
        out[0] = '\0';
        return;
    }
    snprintf(out, size,
             m->vouchers_cancelled == 1 ? " Votre bon d'échange en cours a été annulé."
                                        : " Vos %lld bons d'échange en cours ont été annulés.",
             (long long)m->vouchers_cancelled);
}

static void text_closed(const sp_notify_mail *m, sp_text *w) {
    assert(m->kind == SP_NOTIFY_PASS_CLOSED);
    assert(m->amount_cents >= 0);
    figures f;
    figures_of(m, 0, &f);
    char vouchers[96];
    closed_vouchers(m, vouchers, sizeof vouchers);
    sp_text_putf(w,
                 "Bonjour,\r\n\r\n"
                 "Votre pass a été fermé le %s par le service du " SERVICE_NAME ".\r\n\r\n"
                 "Son solde, %s, a été rendu au budget de la ville.%s\r\n" CLOSED_AFTER
                 "\r\n\r\n" CLOSED_CONTACT "\r\n\r\n"
                 "-- \r\n" SERVICE_NAME "\r\n",
                 f.when, f.amount, vouchers);
}

static void html_closed(const sp_notify_mail *m, sp_text *w) {
    assert(m->kind == SP_NOTIFY_PASS_CLOSED);
    assert(m->amount_cents >= 0);
    figures f;
    figures_of(m, 0, &f);
    char vouchers[96];
    closed_vouchers(m, vouchers, sizeof vouchers);
    sp_text_put(w, HTML_START);
    sp_text_putf(w,
                 "Votre pass a été fermé le %s par le service du " SERVICE_NAME ".</p>\r\n"
                 "<p>Son solde, <strong>%s</strong>, a été rendu au budget de la ville.%s</p>\r\n"
                 "<p>" CLOSED_AFTER "</p>\r\n<p>" CLOSED_CONTACT "</p>\r\n"
                 "<p>-- <br>" SERVICE_NAME "</p>\r\n</body></html>\r\n",
                 f.when, f.amount, vouchers);
}

static const char *const month_names[12] = {"janvier",   "février", "mars",     "avril",
                                            "mai",       "juin",    "juillet",  "août",
                                            "septembre", "octobre", "novembre", "décembre"};

void sp_notify_period_text(const char *period, char out[SP_NOTIFY_PERIOD_TEXT_MAX]) {
    assert(out != NULL);
    out[0] = '\0';
    if (period == NULL || strlen(period) != 7 || period[4] != '-') return;
    for (size_t i = 0; i < 7; i++)
        if (i != 4 && (period[i] < '0' || period[i] > '9')) return;
    int year = atoi(period);
    int month = (period[5] - '0') * 10 + (period[6] - '0');
    if (month < 1 || month > 12) return;
    snprintf(out, SP_NOTIFY_PERIOD_TEXT_MAX, "%s %04d", month_names[month - 1], year % 10000);
}

/* "30/11/2026" from "2026-11-30" (checked by mail_valid). */
static void french_date(const char *iso, char out[11]) {
    assert(iso != NULL);
    assert(strlen(iso) == 10); /* "YYYY-MM-DD" */
    snprintf(out, 11, "%.2s/%.2s/%.4s", iso + 8, iso + 5, iso);
}

static const char bank_details_text[] =
    "Attention : votre structure n'a pas encore de coordonnées bancaires complètes (IBAN et "
    "BIC). Renseignez-les dans l'onglet Structure de votre espace partenaire : la ville ne "
    "peut pas vous payer sans elles.";

static void text_refund_requested(const sp_notify_mail *m, sp_text *w) {
    assert(m->kind == SP_NOTIFY_REFUND_REQUESTED);
    assert(m->amount_cents >= 0);
    char amount[SP_MONEY_FORMAT_MAX], period[SP_NOTIFY_PERIOD_TEXT_MAX];
    sp_money_format_eur(m->amount_cents, amount, sizeof amount);
    sp_notify_period_text(m->period, period);
    sp_text_putf(w,
                 "Bonjour,\r\n\r\nUne demande de remboursement a été enregistrée pour %s.\r\n\r\n"
                 "  Demande :     %s\r\n  Montant :     %s\r\n  Opérations :  %" PRId64 "\r\n",
                 m->partner_name, m->request_id, amount, m->operation_count);
    if (period[0] != '\0')
        sp_text_putf(w, "  Période :     %s (remboursement automatique)\r\n", period);
    sp_text_put(w,
                "\r\nLa ville vous versera ce montant par virement sur le compte bancaire de votre "
                "structure.\r\n");
    if (m->bank_details_missing) sp_text_putf(w, "\r\n%s\r\n", bank_details_text);
    sp_text_put(w, "\r\n-- \r\n" SERVICE_NAME "\r\n");
}

static void html_refund_requested(const sp_notify_mail *m, sp_text *w) {
    assert(m->kind == SP_NOTIFY_REFUND_REQUESTED);
    assert(m->amount_cents >= 0);
    char amount[SP_MONEY_FORMAT_MAX], period[SP_NOTIFY_PERIOD_TEXT_MAX];
    sp_money_format_eur(m->amount_cents, amount, sizeof amount);
    sp_notify_period_text(m->period, period);
    sp_text_put(
        w, "<!DOCTYPE html>\r\n<html lang=\"fr\"><head><meta charset=\"utf-8\"></head><body>\r\n"
           "<p>Bonjour,</p>\r\n<p>Une demande de remboursement a été enregistrée pour ");
    sp_text_put_markup(w, m->partner_name);
    sp_text_putf(w,
                 ".</p>\r\n<table>\r\n"
                 "<tr><th align=\"left\">Demande</th><td>%s</td></tr>\r\n"
                 "<tr><th align=\"left\">Montant</th><td>%s</td></tr>\r\n"
                 "<tr><th align=\"left\">Opérations</th><td>%" PRId64 "</td></tr>\r\n",
                 m->request_id, amount, m->operation_count);
    if (period[0] != '\0')
        sp_text_putf(
            w,
            "<tr><th align=\"left\">Période</th><td>%s (remboursement automatique)</td></tr>"
            "\r\n",
            period);
    sp_text_put(
        w, "</table>\r\n<p>La ville vous versera ce montant par virement sur le compte bancaire "
           "de votre structure.</p>\r\n");
    if (m->bank_details_missing)
        sp_text_putf(w, "<p><strong>%s</strong></p>\r\n", bank_details_text);
    sp_text_put(w, "<p>-- <br>" SERVICE_NAME "</p>\r\n</body></html>\r\n");
}

static void text_refund_paid(const sp_notify_mail *m, sp_text *w) {
    assert(m->kind == SP_NOTIFY_REFUND_PAID);
    assert(m->amount_cents >= 0);
    char amount[SP_MONEY_FORMAT_MAX], paid_on[11];
    sp_money_format_eur(m->amount_cents, amount, sizeof amount);
    french_date(m->paid_on, paid_on);
    sp_text_putf(w,
                 "Bonjour,\r\n\r\nLa demande de remboursement %s de %s a été payée par virement."
                 "\r\n\r\n  Montant :                %s\r\n  Référence du virement :  %s\r\n"
                 "  Date du virement :       %s\r\n\r\n"
                 "Le montant arrive sur votre compte dans les délais de votre banque.\r\n"
                 "\r\n-- \r\n" SERVICE_NAME "\r\n",
                 m->request_id, m->partner_name, amount, m->transfer_reference, paid_on);
}

static void html_refund_paid(const sp_notify_mail *m, sp_text *w) {
    assert(m->kind == SP_NOTIFY_REFUND_PAID);
    assert(m->amount_cents >= 0);
    char amount[SP_MONEY_FORMAT_MAX], paid_on[11];
    sp_money_format_eur(m->amount_cents, amount, sizeof amount);
    french_date(m->paid_on, paid_on);
    sp_text_putf(
        w,
        "<!DOCTYPE html>\r\n<html lang=\"fr\"><head><meta charset=\"utf-8\"></head><body>\r\n"
        "<p>Bonjour,</p>\r\n<p>La demande de remboursement %s de ",
        m->request_id);
    sp_text_put_markup(w, m->partner_name);
    sp_text_put(w, " a été payée par virement.</p>\r\n<table>\r\n");
    sp_text_putf(w,
                 "<tr><th align=\"left\">Montant</th><td>%s</td></tr>\r\n"
                 "<tr><th align=\"left\">Référence du virement</th><td>",
                 amount);
    sp_text_put_markup(w, m->transfer_reference);
    sp_text_putf(w,
                 "</td></tr>\r\n<tr><th align=\"left\">Date du virement</th><td>%s</td></tr>\r\n"
                 "</table>\r\n<p>-- <br>" SERVICE_NAME "</p>\r\n</body></html>\r\n",
                 paid_on);
}

static bool digits_prefix(const char *text, size_t len) {
    assert(text != NULL);
    for (size_t i = 0; i < len; i++)
        if (text[i] < '0' || text[i] > '9') return false;
    return true;
}

static bool digits(const char *text, size_t len) {
    return text != NULL && strlen(text) == len && digits_prefix(text, len);
}

/* ------------------------------------------------------------------ message */

/* "YYYY-MM-DD" by its shape: what french_date() rearranges. */
static bool iso_date_shaped(const char *text) {
    return text != NULL && strlen(text) == 10 && digits_prefix(text, 4) && text[4] == '-' &&
           digits_prefix(text + 5, 2) && text[7] == '-' && digits_prefix(text + 8, 2);
}

static bool refund_valid(const sp_notify_mail *m) {
    assert(m != NULL);
    return m->partner_name != NULL && m->request_id != NULL && plain_ascii(m->request_id) &&
           m->request_id[0] != '\0' && m->amount_cents >= 0;
}

static bool mail_valid(const sp_notify_mail *m) {
    assert(m != NULL);
    if (!sp_notify_address_valid(m->from_address) || !sp_notify_address_valid(m->to_address))
        return false;
    if (m->cc_count > SP_NOTIFY_CC_MAX || (m->cc_count > 0 && m->cc_addresses == NULL))
        return false;
    for (size_t i = 0; i < m->cc_count; i++)
        if (!sp_notify_address_valid(m->cc_addresses[i])) return false;
    if (m->kind == SP_NOTIFY_PAYMENT_RECEIVED)
        return m->partner_name != NULL && m->pass_ref != NULL && m->operation_id != NULL &&
               strlen(m->pass_ref) == SP_NOTIFY_PASS_REF_LEN && plain_ascii(m->operation_id);
    if (m->kind == SP_NOTIFY_VOUCHER_REDEEMED)
        return m->partner_name != NULL && digits(m->voucher_ref, SP_NOTIFY_VOUCHER_REF_LEN);
    if (m->kind == SP_NOTIFY_REFUND_REQUESTED) return refund_valid(m) && m->operation_count >= 0;
    if (m->kind == SP_NOTIFY_OPERATION_CANCELLED)
        return m->partner_name != NULL && m->amount_cents > 0 && m->balance_cents >= 0;
    if (m->kind == SP_NOTIFY_PASS_CLOSED) return m->amount_cents >= 0 && m->vouchers_cancelled >= 0;
    if (m->kind == SP_NOTIFY_REFUND_PAID)
        return refund_valid(m) && iso_date_shaped(m->paid_on) && m->transfer_reference != NULL &&
               m->transfer_reference[0] != '\0' && plain_ascii(m->transfer_reference) &&
               strlen(m->transfer_reference) <= SP_NOTIFY_TRANSFER_REFERENCE_MAX;
    return m->link != NULL && plain_ascii(m->link) && strlen(m->link) <= SP_NOTIFY_LINK_MAX;
}

static void put_headers(const sp_notify_mail *m, sp_text *w) {
    assert(w != NULL);
    assert(m->event_id != NULL);
    char date[64], subject_buf[512];
    rfc5322_date(m->date_ms, date);
    sp_text_put(w, "From: ");
    put_header_text(w,
                    m->from_name != NULL && m->from_name[0] != '\0' ? m->from_name : SERVICE_NAME);
    sp_text_putf(w, " <%s>\r\nTo: <%s>\r\n", m->from_address, m->to_address);
    for (size_t i = 0; i < m->cc_count; i++)
        sp_text_putf(w, "%s<%s>%s", i == 0 ? "Cc: " : " ", m->cc_addresses[i],
                     i + 1 < m->cc_count ? ",\r\n" : "\r\n");
    sp_text_put(w, "Subject: ");
    put_header_text(w, subject_of(m, subject_buf, sizeof subject_buf));
    bool voucher = m->kind == SP_NOTIFY_VOUCHER_REDEEMED;
    sp_text_putf(w,
                 "\r\nDate: %s\r\nMessage-ID: <%s%s@solipass>\r\nMIME-Version: 1.0\r\n"
                 "Content-Type: multipart/alternative;\r\n boundary=\"sp-%s\"\r\n"
                 "X-Solipass-Kind: %s\r\n\r\n",
                 date, m->event_id, voucher ? ".voucher_redeemed" : "", m->event_id,
                 sp_notify_kind_name(m->kind));
}

static void put_part(sp_text *w, const char *event_id, const char *type, const char *body,
                     size_t len) {
    assert(event_id != NULL);
    assert(type != NULL);
    assert(body != NULL);
    sp_text_putf(w,
                 "--sp-%s\r\nContent-Type: %s; charset=utf-8\r\n"
                 "Content-Transfer-Encoding: base64\r\n\r\n",
                 event_id, type);
    put_base64_lines(w, body, len);
}

int sp_notify_render(const sp_notify_mail *m, char *out, size_t out_size, size_t *out_len,
                     sp_error *err) {
    assert(m != NULL);
    assert(out != NULL);
    assert(out_size > 0);
    assert(out_len != NULL);
    assert(m->event_id != NULL);
    *out_len = 0;
    out[0] = '\0';
    if (sp_notify_kind_name(m->kind)[0] == '\0' || !mail_valid(m) || !plain_ascii(m->event_id))
        return sp_error_set(err, 400, "invalid_mail", "",
                            "a %s e-mail with an invalid address "
                            "or field",
                            sp_notify_kind_name(m->kind));
    char text_buf[SP_NOTIFY_BODY_BYTES_MAX], html_buf[SP_NOTIFY_BODY_BYTES_MAX];
    sp_text text;
    sp_text_init(&text, text_buf, sizeof text_buf);
    sp_text html;
    sp_text_init(&html, html_buf, sizeof html_buf);
    if (m->kind == SP_NOTIFY_PAYMENT_RECEIVED) {
        text_payment(m, &text);
        html_payment(m, &html);
    } else if (m->kind == SP_NOTIFY_VOUCHER_REDEEMED) {
        text_voucher(m, &text);
        html_voucher(m, &html);
    } else if (m->kind == SP_NOTIFY_REFUND_REQUESTED) {
        text_refund_requested(m, &text);
        html_refund_requested(m, &html);
    } else if (m->kind == SP_NOTIFY_REFUND_PAID) {
        text_refund_paid(m, &text);
        html_refund_paid(m, &html);
    } else if (m->kind == SP_NOTIFY_OPERATION_CANCELLED) {
        text_cancelled(m, &text);
        html_cancelled(m, &html);
    } else if (m->kind == SP_NOTIFY_PASS_CLOSED) {
        text_closed(m, &text);
        html_closed(m, &html);
    } else {
        text_link(m, &text);
        html_link(m, &html);
    }
    sp_text w;
    sp_text_init(&w, out, out_size);
    put_headers(m, &w);
    sp_text_put(&w, "This is a MIME message.\r\n\r\n");
    put_part(&w, m->event_id, "text/plain", text.buf, text.len);
    put_part(&w, m->event_id, "text/html", html.buf, html.len);
    sp_text_putf(&w, "--sp-%s--\r\n", m->event_id);
    if (text.overflow || html.overflow || w.overflow) {
        out[0] = '\0';
        return sp_error_set(err, 500, "too_large", "", "the %s e-mail exceeds its buffer",
                            sp_notify_kind_name(m->kind));
    }
    *out_len = w.len;
    return 0;
}
