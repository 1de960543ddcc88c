/* test_notify_mail.c - the e-mails as a recipient reads them: headers, the
 * French text and HTML of each kind (decoded from base64), what a partner
 * may see of a beneficiary, refused header injection, and the retry
 * schedule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "notifications/notify_mail.h"

#define NOW_MS INT64_C(1795766400000) /* 2026-11-27T08:00:00.000Z = 09:00 in Paris */
#define EVENT_ID "5b0f7c1e-2d3a-4e5f-8a9b-0c1d2e3f4a5b"
#define BUF_MAX SP_NOTIFY_MESSAGE_BYTES_MAX

static char message[BUF_MAX];

/* The decoded body of the part of that content type. */
static void part_of(const char *msg, const char *type, char *out, size_t out_size) {
    char marker[64];
    snprintf(marker, sizeof marker, "Content-Type: %s; charset=utf-8", type);
    const char *start = strstr(msg, marker);
    assert_non_null(start);
    start = strstr(start, "\r\n\r\n");
    assert_non_null(start);
    start += 4;
    const char *end = strstr(start, "\r\n--sp-");
    assert_non_null(end);
    char b64[BUF_MAX];
    size_t n = 0;
    for (const char *p = start; p < end; p++) {
        if (*p != '\r' && *p != '\n') b64[n++] = *p;
    }
    size_t len = 0;
    assert_int_equal(sodium_base642bin((unsigned char *)out, out_size - 1, b64, n, NULL, &len, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    out[len] = '\0';
}

static sp_notify_mail link_mail(sp_notify_kind kind) {
    sp_notify_mail m = {.kind = kind,
                        .event_id = EVENT_ID,
                        .from_address = "pass@ville.example",
                        .from_name = "Pass solidarité",
                        .to_address = "coach@club.example",
                        .date_ms = NOW_MS,
                        .link = "https://pass.ville.example/activate?token=abc.def",
                        .expires_at_ms = NOW_MS + 3 * 24 * 3600 * INT64_C(1000)};
    return m;
}

static void test_activation_mail(void **state) {
    (void)state;
    sp_notify_mail m = link_mail(SP_NOTIFY_ACTIVATION);
    size_t len = 0;
    sp_error err;
    assert_int_equal(sp_notify_render(&m, message, sizeof message, &len, &err), 0);
    assert_int_equal(strlen(message), len);
    assert_non_null(strstr(message, "To: <coach@club.example>\r\n"));
    assert_non_null(strstr(message, "Message-ID: <" EVENT_ID "@solipass>\r\n"));
    assert_non_null(strstr(message, "Date: Fri, 27 Nov 2026 08:00:00 +0000\r\n"));
    assert_non_null(strstr(message, "Subject: =?UTF-8?B?"));
    char text[SP_NOTIFY_BODY_BYTES_MAX], html[SP_NOTIFY_BODY_BYTES_MAX];
    part_of(message, "text/plain", text, sizeof text);
    part_of(message, "text/html", html, sizeof html);
    assert_non_null(strstr(text, "Bonjour,"));
    assert_non_null(strstr(text, "\r\nhttps://pass.ville.example/activate?token=abc.def\r\n"));
    assert_non_null(strstr(text, "expire le 30/11/2026 à 09:00"));
    assert_non_null(strstr(text, "coach@club.example"));
    assert_non_null(strstr(html, "<a href=\"https://pass.ville.example/activate?token=abc.def\">"));
    /* every line fits any SMTP server */
    for (const char *line = message; *line != '\0';) {
        const char *eol = strstr(line, "\r\n");
        assert_non_null(eol);
        assert_true(eol - line <= 78);
        line = eol + 2;
    }
}

static void test_payment_mail_shows_no_beneficiary(void **state) {
    (void)state;
    sp_notify_mail m = {.kind = SP_NOTIFY_PAYMENT_RECEIVED,
                        .event_id = EVENT_ID,
                        .from_address = "pass@ville.example",
                        .from_name = "",
                        .to_address = "coach@club.example",
                        .date_ms = NOW_MS,
                        .partner_name = "Club <Foot> & Co",
                        .amount_cents = 2500,
                        .occurred_at_ms = NOW_MS,
                        .pass_ref = "154d",
                        .operation_id = "6d929103-f39c-4cf2-85ee-7a397f088cf4",
                        .owed_cents = 12550};
    size_t len = 0;
    sp_error err;
    assert_int_equal(sp_notify_render(&m, message, sizeof message, &len, &err), 0);
    char text[SP_NOTIFY_BODY_BYTES_MAX], html[SP_NOTIFY_BODY_BYTES_MAX];
    part_of(message, "text/plain", text, sizeof text);
    part_of(message, "text/html", html, sizeof html);
    assert_non_null(strstr(text, "Club <Foot> & Co a reçu un paiement"));
    assert_non_null(strstr(text, "25,00 €"));
    assert_non_null(strstr(text, "27/11/2026 à 09:00"));
    assert_non_null(strstr(text, "pass n° …154d"));
    assert_non_null(strstr(text, "125,50 €"));
    assert_non_null(strstr(html, "Club &lt;Foot&gt; &amp; Co"));
    assert_null(strstr(html, "<Foot>"));
}

static void test_header_injection_refused(void **state) {
    (void)state;
    sp_notify_mail m = link_mail(SP_NOTIFY_PASSWORD_RESET);
    m.to_address = "a@b.example\r\nBcc: victim@example.org";
    size_t len = 0;
    sp_error err;
    assert_int_equal(sp_notify_render(&m, message, sizeof message, &len, &err), -1);
    assert_string_equal(err.code, "invalid_mail");
    m = link_mail(SP_NOTIFY_PASSWORD_RESET);
    m.link = "https://x.example/\r\nX-Evil: 1";
    assert_int_equal(sp_notify_render(&m, message, sizeof message, &len, &err), -1);
    assert_false(sp_notify_address_valid("<a@b.example>"));
    assert_false(sp_notify_address_valid("ab.example"));
    assert_true(sp_notify_address_valid("a.b+c@d.example"));
}

static sp_notify_mail voucher_mail(void) {
    sp_notify_mail m = {.kind = SP_NOTIFY_VOUCHER_REDEEMED,
                        .event_id = EVENT_ID,
                        .from_address = "pass@ville.example",
                        .from_name = "Pass solidarité",
                        .to_address = "lea@exemple.example",
                        .date_ms = NOW_MS,
                        .partner_name = "Club <Sport>",
                        .amount_cents = 1250,
                        .occurred_at_ms = NOW_MS,
                        .voucher_ref = "4821",
                        .has_balance = true,
                        .balance_cents = 3775};
    return m;
}

static void test_voucher_mail_to_the_beneficiary(void **state) {
    (void)state;
    sp_notify_mail m = voucher_mail();
    size_t len = 0;
    sp_error err;
    assert_int_equal(sp_notify_render(&m, message, sizeof message, &len, &err), 0);
    assert_non_null(strstr(message, "To: <lea@exemple.example>\r\n"));
    assert_non_null(strstr(message, "Message-ID: <" EVENT_ID ".voucher_redeemed@solipass>"));
    assert_non_null(strstr(message, "X-Solipass-Kind: voucher_redeemed\r\n"));
    char text[SP_NOTIFY_BODY_BYTES_MAX], html[SP_NOTIFY_BODY_BYTES_MAX];
    part_of(message, "text/plain", text, sizeof text);
    part_of(message, "text/html", html, sizeof html);
    assert_non_null(strstr(text, "Votre bon d'échange a été utilisé chez Club <Sport>."));
    assert_non_null(strstr(text, "**** **** **** 4821"));
    assert_non_null(strstr(text, "12,50"));
    assert_non_null(strstr(text, "27/11/2026 à 09:00"));
    assert_non_null(strstr(text, "Solde restant sur votre pass : 37,75"));
    assert_non_null(strstr(html, "Club &lt;Sport&gt;"));
    assert_null(strstr(html, "<Sport>"));
    m.has_balance = false;
    assert_int_equal(sp_notify_render(&m, message, sizeof message, &len, &err), 0);
    part_of(message, "text/plain", text, sizeof text);
    assert_null(strstr(text, "Solde"));
    m.voucher_ref = "48x1"; /* only digits of the number */
    assert_int_equal(sp_notify_render(&m, message, sizeof message, &len, &err), -1);
    assert_string_equal(err.code, "invalid_mail");
}

#define REQUEST_ID "9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"
static const char *const other_admins[] = {"second@club.example", "third@club.example"};

static sp_notify_mail refund_mail(sp_notify_kind kind) {
    sp_notify_mail m = {.kind = kind,
                        .event_id = EVENT_ID,
                        .from_address = "pass@ville.example",
                        .from_name = "Pass solidarité",
                        .to_address = "coach@club.example",
                        .cc_addresses = other_admins,
                        .cc_count = 2,
                        .date_ms = NOW_MS,
                        .partner_name = "Club <Judo>",
                        .request_id = REQUEST_ID,
                        .amount_cents = 123456,
                        .operation_count = 7,
                        .period = "",
                        .transfer_reference = "VIR 2026/11-42",
                        .paid_on = "2026-11-30"};
    return m;
}

static void test_refund_requested_mail(void **state) {
    (void)state;
    sp_notify_mail m = refund_mail(SP_NOTIFY_REFUND_REQUESTED);
    size_t len = 0;
    sp_error err;
    assert_int_equal(sp_notify_render(&m, message, sizeof message, &len, &err), 0);
    assert_non_null(strstr(message, "To: <coach@club.example>\r\n"
                                    "Cc: <second@club.example>,\r\n <third@club.example>\r\n"));
    assert_non_null(strstr(message, "X-Solipass-Kind: refund_requested\r\n"));
    char text[SP_NOTIFY_BODY_BYTES_MAX], html[SP_NOTIFY_BODY_BYTES_MAX];
    part_of(message, "text/plain", text, sizeof text);
    part_of(message, "text/html", html, sizeof html);
    assert_non_null(
        strstr(text, "Une demande de remboursement a été enregistrée pour Club <Judo>."));
    assert_non_null(strstr(text, "Demande :     " REQUEST_ID "\r\n"));
    assert_non_null(strstr(text, "Montant :     1234,56 €\r\n")); /* a decimal comma */
    assert_non_null(strstr(text, "Opérations :  7\r\n"));
    assert_null(strstr(text, "Période")); /* a manual request has none */
    assert_null(strstr(text, "coordonnées bancaires"));
    assert_non_null(strstr(html, "Club &lt;Judo&gt;"));

    m.period = "2026-10";
    m.bank_details_missing = true;
    assert_int_equal(sp_notify_render(&m, message, sizeof message, &len, &err), 0);
    part_of(message, "text/plain", text, sizeof text);
    part_of(message, "text/html", html, sizeof html);
    assert_non_null(strstr(text, "Période :     octobre 2026 (remboursement automatique)"));
    assert_non_null(strstr(text, "pas encore de coordonnées bancaires complètes (IBAN et BIC)"));
    assert_non_null(strstr(text, "onglet Structure"));
    assert_non_null(strstr(html, "octobre 2026"));
    assert_non_null(strstr(html, "coordonnées bancaires"));

    m.cc_count = SP_NOTIFY_CC_MAX + 1; /* beyond the bound */
    assert_int_equal(sp_notify_render(&m, message, sizeof message, &len, &err), -1);
    static const char *const injected[] = {"x@y.example>\r\nBcc: <victim@example.org"};
    m.cc_addresses = injected;
    m.cc_count = 1;
    assert_int_equal(sp_notify_render(&m, message, sizeof message, &len, &err), -1);
    assert_string_equal(err.code, "invalid_mail");
}

static void test_refund_paid_mail(void **state) {
    (void)state;
    sp_notify_mail m = refund_mail(SP_NOTIFY_REFUND_PAID);
    m.cc_count = 0;
    size_t len = 0;
    sp_error err;
    assert_int_equal(sp_notify_render(&m, message, sizeof message, &len, &err), 0);
    assert_null(strstr(message, "Cc:"));
    char text[SP_NOTIFY_BODY_BYTES_MAX], html[SP_NOTIFY_BODY_BYTES_MAX];
    part_of(message, "text/plain", text, sizeof text);
    part_of(message, "text/html", html, sizeof html);
    assert_non_null(strstr(text, "La demande de remboursement " REQUEST_ID " de Club <Judo> a été "
                                 "payée par virement."));
    assert_non_null(strstr(text, "Montant :                1234,56 €\r\n"));
    assert_non_null(strstr(text, "Référence du virement :  VIR 2026/11-42\r\n"));
    assert_non_null(strstr(text, "Date du virement :       30/11/2026\r\n"));
    assert_non_null(strstr(html, "<td>30/11/2026</td>"));
    m.transfer_reference = "VIR\r\nBcc: x@y.example";
    assert_int_equal(sp_notify_render(&m, message, sizeof message, &len, &err), -1);
    m.transfer_reference = "VIR-1";
    m.paid_on = "30/11/2026";
    assert_int_equal(sp_notify_render(&m, message, sizeof message, &len, &err), -1);
    assert_int_equal(sp_notify_kind_parse("refund_paid"), SP_NOTIFY_REFUND_PAID);
    assert_string_equal(sp_notify_kind_name(SP_NOTIFY_REFUND_REQUESTED), "refund_requested");
}

/* The voucher's beneficiary, amount and instant; another partner. */
/* Renders m into message, which must succeed; its two parts decoded. */
static void render_parts(const sp_notify_mail *m, char *text, char *html) {
    size_t len = 0;
    sp_error err;
    assert_int_equal(sp_notify_render(m, message, sizeof message, &len, &err), 0);
    part_of(message, "text/plain", text, SP_NOTIFY_BODY_BYTES_MAX);
    part_of(message, "text/html", html, SP_NOTIFY_BODY_BYTES_MAX);
}

static sp_notify_mail cancelled_mail(void) {
    sp_notify_mail m = voucher_mail();
    m.kind = SP_NOTIFY_OPERATION_CANCELLED;
    m.voucher_ref = NULL;
    m.has_balance = false;
    m.partner_name = "Café \"Chez <Léa>\" & fils";
    m.balance_cents = 4205;
    return m;
}

static void test_cancelled_payment_mail_to_the_beneficiary(void **state) {
    (void)state;
    sp_notify_mail m = cancelled_mail();
    char text[SP_NOTIFY_BODY_BYTES_MAX], html[SP_NOTIFY_BODY_BYTES_MAX];
    render_parts(&m, text, html);
    assert_non_null(strstr(message, "To: <lea@exemple.example>\r\n"));
    assert_non_null(strstr(message, "Message-ID: <" EVENT_ID "@solipass>\r\n"));
    assert_non_null(strstr(message, "X-Solipass-Kind: operation_cancelled\r\n"));
    assert_non_null(strstr(text, "Café \"Chez <Léa>\" & fils a annulé un de vos paiements."));
    assert_non_null(strstr(text, "Montant :     12,50 €\r\n")); /* a decimal comma */
    assert_non_null(strstr(text, "Annulé le :   27/11/2026 à 09:00\r\n"));
    assert_non_null(strstr(text, "de nouveau disponible sur votre pass"));
    assert_non_null(strstr(text, "Solde de votre pass : 42,05 €."));
    assert_null(strstr(text, "expiré"));
    assert_non_null(strstr(html, "Café &quot;Chez &lt;Léa&gt;&quot; &amp; fils a annulé"));
    assert_null(strstr(html, "<Léa>"));
    assert_non_null(strstr(html, "<td>12,50 €</td>"));
    assert_non_null(strstr(html, "<strong>42,05 €</strong>"));

    /* Less than a euro, and whole euros, keep two decimals after the comma. */
    m.amount_cents = 5;
    m.balance_cents = 300;
    render_parts(&m, text, html);
    assert_non_null(strstr(text, "Montant :     0,05 €\r\n"));
    assert_non_null(strstr(text, "Solde de votre pass : 3,00 €."));

    m.amount_cents = 0; /* a cancelled payment moved money */
    size_t len = 0;
    sp_error err;
    assert_int_equal(sp_notify_render(&m, message, sizeof message, &len, &err), -1);
    assert_string_equal(err.code, "invalid_mail");
    assert_int_equal(sp_notify_kind_parse("operation_cancelled"), SP_NOTIFY_OPERATION_CANCELLED);
}

static void test_cancelled_payment_to_an_expired_envelope(void **state) {
    (void)state;
    sp_notify_mail m = cancelled_mail();
    m.returned_to_budget = true;
    m.balance_cents = 0;
    char text[SP_NOTIFY_BODY_BYTES_MAX], html[SP_NOTIFY_BODY_BYTES_MAX];
    render_parts(&m, text, html);
    assert_non_null(strstr(text, "n'a pas pu revenir sur votre pass"));
    assert_non_null(strstr(text, "a expiré entre-temps"));
    assert_null(strstr(text, "de nouveau disponible"));
    assert_non_null(strstr(text, "Solde de votre pass : 0,00 €."));
    assert_non_null(strstr(html, "<p>Ce montant n'a pas pu revenir sur votre pass"));
    assert_null(strstr(html, "de nouveau disponible"));
}

static void test_closed_pass_mail_to_the_beneficiary(void **state) {
    (void)state;
    sp_notify_mail m = {.kind = SP_NOTIFY_PASS_CLOSED,
                        .event_id = EVENT_ID,
                        .from_address = "pass@ville.example",
                        .from_name = "Pass solidarité",
                        .to_address = "lea@exemple.example",
                        .date_ms = NOW_MS,
                        .amount_cents = 4400,
                        .occurred_at_ms = NOW_MS,
                        .vouchers_cancelled = 2};
    char text[SP_NOTIFY_BODY_BYTES_MAX], html[SP_NOTIFY_BODY_BYTES_MAX];
    render_parts(&m, text, html);
    assert_non_null(strstr(message, "To: <lea@exemple.example>\r\n"));
    assert_non_null(strstr(message, "X-Solipass-Kind: pass_closed\r\n"));
    assert_non_null(strstr(message, "Subject: =?UTF-8?")); /* "é": an encoded word */
    assert_non_null(strstr(text, "Votre pass a été fermé le 27/11/2026 à 09:00"));
    assert_non_null(strstr(text, "Son solde, 44,00 €, a été rendu au budget de la ville."));
    assert_non_null(strstr(text, "Vos 2 bons d'échange en cours ont été annulés."));
    assert_non_null(strstr(text, "ne permet plus de payer un partenaire"));
    assert_non_null(strstr(html, "<strong>44,00 €</strong>"));
    m.vouchers_cancelled = 1;
    render_parts(&m, text, html);
    assert_non_null(strstr(text, "Votre bon d'échange en cours a été annulé."));
    m.vouchers_cancelled = 0;
    m.amount_cents = 0;
    render_parts(&m, text, html);
    assert_non_null(strstr(text, "Son solde, 0,00 €, a été rendu"));
    assert_null(strstr(text, "bon d'échange en cours"));
    m.amount_cents = -1;
    size_t len = 0;
    sp_error err;
    assert_int_equal(sp_notify_render(&m, message, sizeof message, &len, &err), -1);
    assert_int_equal(sp_notify_kind_parse("pass_closed"), SP_NOTIFY_PASS_CLOSED);
}

static void test_period_text(void **state) {
    (void)state;
    char text[SP_NOTIFY_PERIOD_TEXT_MAX];
    sp_notify_period_text("2027-02", text);
    assert_string_equal(text, "février 2027");
    sp_notify_period_text("2026-13", text);
    assert_string_equal(text, "");
    sp_notify_period_text("2026-1x", text);
    assert_string_equal(text, "");
    sp_notify_period_text("", text);
    assert_string_equal(text, "");
}

static void test_too_small_buffer(void **state) {
    (void)state;
    sp_notify_mail m = link_mail(SP_NOTIFY_ACTIVATION);
    char small[256];
    size_t len = 0;
    sp_error err;
    assert_int_equal(sp_notify_render(&m, small, sizeof small, &len, &err), -1);
    assert_string_equal(err.code, "too_large");
    assert_int_equal(len, 0);
}

static void test_retry_schedule_and_final_replies(void **state) {
    (void)state;
    assert_int_equal(sp_notify_backoff_ms(1, 2000, 600000), 2000);
    assert_int_equal(sp_notify_backoff_ms(2, 2000, 600000), 4000);
    assert_int_equal(sp_notify_backoff_ms(5, 2000, 600000), 32000);
    assert_int_equal(sp_notify_backoff_ms(40, 2000, 600000), 600000);
    assert_true(sp_notify_smtp_permanent(550));
    assert_true(sp_notify_smtp_permanent(554));
    assert_false(sp_notify_smtp_permanent(535));
    assert_false(sp_notify_smtp_permanent(451));
    assert_false(sp_notify_smtp_permanent(0));
    assert_int_equal(sp_notify_kind_parse("payment_received"), SP_NOTIFY_PAYMENT_RECEIVED);
    assert_int_equal(sp_notify_kind_parse("voucher_redeemed"), SP_NOTIFY_VOUCHER_REDEEMED);
    assert_int_equal(sp_notify_kind_parse("nope"), 0);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_activation_mail),
        cmocka_unit_test(test_payment_mail_shows_no_beneficiary),
        cmocka_unit_test(test_voucher_mail_to_the_beneficiary),
        cmocka_unit_test(test_header_injection_refused),
        cmocka_unit_test(test_refund_requested_mail),
        cmocka_unit_test(test_refund_paid_mail),
        cmocka_unit_test(test_cancelled_payment_mail_to_the_beneficiary),
        cmocka_unit_test(test_cancelled_payment_to_an_expired_envelope),
        cmocka_unit_test(test_closed_pass_mail_to_the_beneficiary),
        cmocka_unit_test(test_period_text),
        cmocka_unit_test(test_too_small_buffer),
        cmocka_unit_test(test_retry_schedule_and_final_replies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
