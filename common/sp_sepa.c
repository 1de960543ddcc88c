/* sp_sepa.c - SEPA credit transfer files, pain.001.001.03 (see sp_sepa.h). Pure. */
#include "sp_sepa.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "sp_id.h"
#include "sp_money.h"
#include "sp_text.h"

#define SEPA_NS "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"
#define SEPA_DATETIME_LEN 19 /* "2026-11-27T11:00:00" */
#define SEPA_AMOUNT_TEXT_MAX 24

/* <tag>escaped text</tag> */
static void put_element(sp_text *w, const char *indent, const char *tag, const char *text) {
    assert(w != NULL);
    assert(tag != NULL);
    assert(text != NULL);
    sp_text_putf(w, "%s<%s>", indent, tag);
    sp_text_put_markup(w, text);
    sp_text_putf(w, "</%s>\n", tag);
}

/* ------------------------------------------------------------------ text */

static bool sepa_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("/-?:().,'+ ", c) != NULL);
}

/* U+00A0..U+00FF in the SEPA set ("" = not a letter: becomes '.'). */
static const char *const latin1[96] = {
    " ", "",  "",  "",  "",  "",  "",   "",  "",  "",  "",  "",  "",  "-", "",   "",   /* A0 */
    "",  "",  "",  "",  "",  "",  "",   ".", "",  "",  "",  "",  "",  "",  "",   "",   /* B0 */
    "A", "A", "A", "A", "A", "A", "AE", "C", "E", "E", "E", "E", "I", "I", "I",  "I",  /* C0 */
    "D", "N", "O", "O", "O", "O", "O",  "x", "O", "U", "U", "U", "U", "Y", "TH", "ss", /* D0 */
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",  /* E0 */
    "d", "n", "o", "o", "o", "o", "o",  ".", "o", "u", "u", "u", "u", "y", "th", "y",  /* F0 */
};

/* The code point at *p (advanced past it); 0xFFFD for a broken sequence. */
static uint32_t next_code_point(const unsigned char **p) {
    assert(p != NULL);
    assert(**p != '\0');
    const unsigned char *s = *p;
    uint32_t c = s[0];
    size_t len = c < 0x80             ? 1
                 : (c & 0xE0) == 0xC0 ? 2
                 : (c & 0xF0) == 0xE0 ? 3
                 : (c & 0xF8) == 0xF0 ? 4
                                      : 0;
    if (len == 0) {
        *p = s + 1;
        return 0xFFFD;
    }
    if (len > 1) c &= 0x3Fu >> (len - 1);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *p = s + i;
            return 0xFFFD;
        }
        c = (c << 6) | (s[i] & 0x3F);
    }
    *p = s + len;
    assert(c <= 0x1FFFFF); /* at most 21 bits from 4 bytes */
    return c;
}

/* What one code point becomes in the SEPA set. */
static const char *sepa_form(uint32_t c, char ascii[2]) {
    assert(ascii != NULL);
    if (c < 0x80) {
        ascii[0] = (char)c;
        ascii[1] = '\0';
        if (sepa_char((char)c)) return ascii;
        if (c == '&') return "+";
        if (c == '"' || c == '`') return "'";
        if (c == '_') return "-";
        return c < 0x20 || c == 0x7F ? " " : ".";
    }
    if (c >= 0xA0 && c <= 0xFF) return latin1[c - 0xA0][0] != '\0' ? latin1[c - 0xA0] : ".";
    if (c == 0x152) return "OE";
    if (c == 0x153) return "oe";
    if (c == 0x2019 || c == 0x2018) return "'";
    if (c == 0x2013 || c == 0x2014) return "-";
    return ".";
}

void sp_sepa_transliterate(const char *text, char *out, size_t out_max) {
    assert(text != NULL);
    assert(out != NULL);
    size_t len = 0;
    const unsigned char *p = (const unsigned char *)text;
    while (*p != '\0' && len < out_max) {
        char ascii[2];
        const char *form = sepa_form(next_code_point(&p), ascii);
        for (const char *f = form; *f != '\0' && len < out_max; f++) {
            if (*f == ' ' && len == 0) continue; /* leading spaces */
            out[len++] = *f;
        }
    }
    while (len > 0 && out[len - 1] == ' ') len--;
    out[len] = '\0';
}

void sp_sepa_amount_text(int64_t cents, char out[SEPA_AMOUNT_TEXT_MAX]) {
    assert(cents >= 0);
    snprintf(out, SEPA_AMOUNT_TEXT_MAX, "%" PRId64 ".%02" PRId64, cents / 100, cents % 100);
}

void sp_sepa_end_to_end_id(const char *request_id, char out[SP_SEPA_ID_MAX + 1]) {
    assert(sp_id_valid(request_id));
    size_t len = 0;
    for (const char *p = request_id; *p != '\0' && len < SP_SEPA_ID_MAX; p++)
        if (*p != '-') out[len++] = *p;
    out[len] = '\0';
}

size_t sp_sepa_bytes_max(size_t transfer_count) {
    assert(transfer_count <= SP_SEPA_TRANSFERS_MAX);
    return SP_SEPA_HEADER_BYTES_MAX + transfer_count * SP_SEPA_TRANSFER_BYTES_MAX;
}

/* ------------------------------------------------------------------ checks */

/* BICIdentifier of the schema: 4+2 letters, the location's first character
 * not 0 or 1, its second not O. */
static bool bic_schema_valid(const char *bic) {
    assert(bic != NULL);
    return strlen(bic) >= 8 &&
           ((bic[6] >= 'A' && bic[6] <= 'Z') || (bic[6] >= '2' && bic[6] <= '9')) && bic[7] != 'O';
}

static bool identifier_valid(const char *id) {
    assert(id != NULL);
    size_t len = strlen(id);
    if (len == 0 || len > SP_SEPA_ID_MAX || id[0] == '/' || id[len - 1] == '/' ||
        strstr(id, "//") != NULL)
        return false;
    for (const char *p = id; *p != '\0'; p++)
        if (!sepa_char(*p) || *p == ' ') return false;
    return true;
}

int sp_sepa_debtor_parse(const char *name, const char *iban, const char *bic, sp_sepa_debtor *out,
                         sp_error *err) {
    assert(name != NULL);
    assert(iban != NULL);
    assert(bic != NULL);
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    sp_sepa_transliterate(name, out->name, SP_SEPA_NAME_MAX);
    if (out->name[0] == '\0')
        return sp_error_set(err, 500, "invalid_config", "SP_SEPA_DEBTOR_NAME",
                            "SP_SEPA_DEBTOR_NAME must name the city's account holder");
    if (sp_profile_iban_normalize(iban, out->iban) != SP_PROFILE_IBAN_OK)
        return sp_error_set(err, 500, "invalid_config", "SP_SEPA_DEBTOR_IBAN",
                            "SP_SEPA_DEBTOR_IBAN is not a valid IBAN (country length, mod-97)");
    if (!sp_profile_bic_normalize(bic, out->bic) || !bic_schema_valid(out->bic))
        return sp_error_set(err, 500, "invalid_config", "SP_SEPA_DEBTOR_BIC",
                            "SP_SEPA_DEBTOR_BIC is not a valid BIC (8 or 11 characters)");
    return 0;
}

/* The creditor's account, checked; the refusal names the request. */
static int creditor_account(const sp_sepa_transfer *t, char iban[SP_PROFILE_IBAN_MAX + 1],
                            char bic[SP_PROFILE_BIC_MAX + 1], sp_error *err) {
    assert(t != NULL);
    assert(iban != NULL);
    assert(bic != NULL);
    if (t->iban == NULL || t->iban[0] == '\0' || t->bic == NULL || t->bic[0] == '\0')
        return sp_error_set(err, 409, "bank_account_missing", "request_ids",
                            "refund request %s cannot be paid: its partner has no %s in its "
                            "bank details",
                            t->request_id, t->iban == NULL || t->iban[0] == '\0' ? "IBAN" : "BIC");
    if (sp_profile_iban_normalize(t->iban, iban) != SP_PROFILE_IBAN_OK)
        return sp_error_set(err, 409, "invalid_iban", "request_ids",
                            "refund request %s cannot be paid: its partner's IBAN is not valid",
                            t->request_id);
    if (!sp_profile_bic_normalize(t->bic, bic) || !bic_schema_valid(bic))
        return sp_error_set(err, 409, "invalid_bic", "request_ids",
                            "refund request %s cannot be paid: its partner's BIC is not valid",
                            t->request_id);
    return 0;
}

static int transfer_check(const sp_sepa_transfer *t, sp_error *err) {
    assert(t != NULL);
    if (!sp_id_valid(t->request_id))
        return sp_error_set(err, 400, "invalid_value", "request_ids",
                            "a refund request id is not a canonical uuid");
    if (t->amount_cents <= 0 || t->amount_cents > SP_SEPA_AMOUNT_CENTS_MAX)
        return sp_error_set(err, 422, "invalid_amount", "request_ids",
                            "refund request %s cannot be paid by transfer: its total is %s",
                            t->request_id, t->amount_cents <= 0 ? "zero" : "too large");
    char iban[SP_PROFILE_IBAN_MAX + 1], bic[SP_PROFILE_BIC_MAX + 1];
    assert(t->amount_cents > 0);
    return creditor_account(t, iban, bic, err);
}

/* Every transfer checked and summed before a byte is written. */
static int file_check(const sp_sepa_file *f, int64_t *control_sum_cents, sp_error *err) {
    assert(f != NULL);
    assert(control_sum_cents != NULL);
    if (f->transfer_count == 0)
        return sp_error_set(err, 422, "no_requests", "request_ids", "no refund request to pay");
    if (f->transfer_count > SP_SEPA_TRANSFERS_MAX)
        return sp_error_set(err, 422, "too_many_requests", "request_ids",
                            "at most %d refund requests per transfer file, %zu given",
                            SP_SEPA_TRANSFERS_MAX, f->transfer_count);
    if (!identifier_valid(f->message_id) || !identifier_valid(f->payment_info_id))
        return sp_error_set(err, 400, "invalid_value", "message_id",
                            "a message or payment id of 1 to 35 SEPA characters is needed");
    *control_sum_cents = 0;
    for (size_t i = 0; i < f->transfer_count; i++) {
        if (transfer_check(&f->transfers[i], err) != 0) return -1;
        if (!sp_money_add(*control_sum_cents, f->transfers[i].amount_cents, control_sum_cents))
            return sp_error_set(err, 422, "invalid_amount", "request_ids",
                                "the transfers' sum overflows");
    }
    assert(*control_sum_cents >= (int64_t)f->transfer_count); /* each transfer >= 1 cent */
    return 0;
}

/* ------------------------------------------------------------------ XML */

static void local_time(int64_t utc_ms, char out[SEPA_DATETIME_LEN + 1]) {
    assert(out != NULL);
    int64_t local_ms = utc_ms + sp_paris_utc_offset_ms(utc_ms);
    time_t t = (time_t)(local_ms / 1000 - (local_ms % 1000 < 0 ? 1 : 0));
    struct tm tm;
    gmtime_r(&t, &tm);
    char text[64]; /* what the compiler cannot bound of int fields */
    snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d", (tm.tm_year + 1900) % 10000,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    snprintf(out, SEPA_DATETIME_LEN + 1, "%.*s", SEPA_DATETIME_LEN, text);
}

static void remittance(const sp_sepa_transfer *t, char out[SP_SEPA_REMITTANCE_MAX + 1]) {
    assert(t != NULL);
    assert(sp_id_valid(t->request_id));
    bool automatic = t->period != NULL && t->period[0] != '\0';
    char text[SP_SEPA_REMITTANCE_MAX * 2];
    snprintf(text, sizeof text, "Pass solidarite remboursement %s %s%s", t->request_id,
             automatic ? "periode " : "demande manuelle", automatic ? t->period : "");
    sp_sepa_transliterate(text, out, SP_SEPA_REMITTANCE_MAX);
}

static void put_transfer(sp_text *w, const sp_sepa_transfer *t) {
    char iban[SP_PROFILE_IBAN_MAX + 1], bic[SP_PROFILE_BIC_MAX + 1];
    char end_to_end[SP_SEPA_ID_MAX + 1], amount[SEPA_AMOUNT_TEXT_MAX];
    char name[SP_SEPA_NAME_MAX + 1], ustrd[SP_SEPA_REMITTANCE_MAX + 1];
    sp_error ignored;
    int checked = creditor_account(t, iban, bic, &ignored);
    assert(checked == 0); /* file_check passed */
    (void)checked;
    sp_sepa_end_to_end_id(t->request_id, end_to_end);
    sp_sepa_amount_text(t->amount_cents, amount);
    sp_sepa_transliterate(t->partner_name != NULL ? t->partner_name : "", name, SP_SEPA_NAME_MAX);
    if (name[0] == '\0') snprintf(name, sizeof name, "Partenaire");
    remittance(t, ustrd);
    sp_text_put(w, "      <CdtTrfTxInf>\n        <PmtId>\n");
    put_element(w, "          ", "EndToEndId", end_to_end);
    sp_text_putf(w,
                 "        </PmtId>\n        <Amt>\n          <InstdAmt Ccy=\"EUR\">%s</InstdAmt>\n"
                 "        </Amt>\n        <CdtrAgt>\n          <FinInstnId>\n",
                 amount);
    put_element(w, "            ", "BIC", bic);
    sp_text_put(w, "          </FinInstnId>\n        </CdtrAgt>\n        <Cdtr>\n");
    put_element(w, "          ", "Nm", name);
    sp_text_put(w, "        </Cdtr>\n        <CdtrAcct>\n          <Id>\n");
    put_element(w, "            ", "IBAN", iban);
    sp_text_put(w, "          </Id>\n        </CdtrAcct>\n        <RmtInf>\n");
    put_element(w, "          ", "Ustrd", ustrd);
    sp_text_put(w, "        </RmtInf>\n      </CdtTrfTxInf>\n");
}

static void put_group_header(sp_text *w, const sp_sepa_file *f, const char *count,
                             const char *sum) {
    assert(w != NULL);
    assert(f->debtor != NULL);
    char created[SEPA_DATETIME_LEN + 1];
    local_time(f->created_at_ms, created);
    sp_text_put(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"" SEPA_NS "\">\n"
                   "  <CstmrCdtTrfInitn>\n    <GrpHdr>\n");
    put_element(w, "      ", "MsgId", f->message_id);
    put_element(w, "      ", "CreDtTm", created);
    put_element(w, "      ", "NbOfTxs", count);
    put_element(w, "      ", "CtrlSum", sum);
    sp_text_put(w, "      <InitgPty>\n");
    put_element(w, "        ", "Nm", f->debtor->name);
    sp_text_put(w, "      </InitgPty>\n    </GrpHdr>\n");
}

static void put_payment_info(sp_text *w, const sp_sepa_file *f, const char *count,
                             const char *sum) {
    assert(w != NULL);
    assert(f->debtor != NULL);
    char execution[11];
    sp_date_format(f->execution_date, execution);
    sp_text_put(w, "    <PmtInf>\n");
    put_element(w, "      ", "PmtInfId", f->payment_info_id);
    sp_text_put(w, "      <PmtMtd>TRF</PmtMtd>\n");
    put_element(w, "      ", "NbOfTxs", count);
    put_element(w, "      ", "CtrlSum", sum);
    sp_text_put(w,
                "      <PmtTpInf>\n        <SvcLvl>\n          <Cd>SEPA</Cd>\n        </SvcLvl>\n"
                "      </PmtTpInf>\n");
    put_element(w, "      ", "ReqdExctnDt", execution);
    sp_text_put(w, "      <Dbtr>\n");
    put_element(w, "        ", "Nm", f->debtor->name);
    sp_text_put(w, "      </Dbtr>\n      <DbtrAcct>\n        <Id>\n");
    put_element(w, "          ", "IBAN", f->debtor->iban);
    sp_text_put(w, "        </Id>\n      </DbtrAcct>\n      <DbtrAgt>\n        <FinInstnId>\n");
    put_element(w, "          ", "BIC", f->debtor->bic);
    sp_text_put(w, "        </FinInstnId>\n      </DbtrAgt>\n      <ChrgBr>SLEV</ChrgBr>\n");
}

int sp_sepa_build(const sp_sepa_file *file, char *out, size_t out_size, size_t *out_len,
                  sp_error *err) {
    assert(file != NULL);
    assert(file->debtor != NULL);
    assert(out != NULL);
    assert(out_size > 0);
    assert(out_len != NULL);
    assert(file->transfers != NULL || file->transfer_count == 0);
    *out_len = 0;
    out[0] = '\0';
    int64_t control_sum_cents = 0;
    if (file_check(file, &control_sum_cents, err) != 0) return -1;
    char count[24], sum[SEPA_AMOUNT_TEXT_MAX];
    snprintf(count, sizeof count, "%zu", file->transfer_count);
    sp_sepa_amount_text(control_sum_cents, sum);
    sp_text w;
    sp_text_init(&w, out, out_size);
    put_group_header(&w, file, count, sum);
    put_payment_info(&w, file, count, sum);
    for (size_t i = 0; i < file->transfer_count && !w.overflow; i++)
        put_transfer(&w, &file->transfers[i]);
    sp_text_put(&w, "    </PmtInf>\n  </CstmrCdtTrfInitn>\n</Document>\n");
    if (w.overflow) {
        out[0] = '\0';
        return sp_error_set(err, 500, "too_large", "", "the transfer file exceeds its buffer");
    }
    *out_len = w.len;
    return 0;
}
