/* export_rows.c - the exports' columns and rows (see export_rows.h). */
#include "export_rows.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

typedef struct label {
    const char *value;
    const char *text;
} label;

static const char *label_of(const label *labels, size_t count, const char *value) {
    assert(labels != NULL);
    assert(value != NULL);
    for (size_t i = 0; i < count; i++) {
        if (strcmp(labels[i].value, value) == 0) return labels[i].text;
    }
    return value;
}

#define LABEL_OF(table, value) label_of((table), sizeof(table) / sizeof((table)[0]), (value))

const char *sp_export_channel_label(const char *channel) {
    assert(channel != NULL);
    static const label labels[] = {{"code", "Code partenaire"}, {"voucher", "Bon d'échange"}};
    return LABEL_OF(labels, channel);
}

const char *sp_export_operation_status_label(const char *status) {
    assert(status != NULL);
    static const label labels[] = {{"accepted", "Acceptée"},
                                   {"cancelled", "Annulée"},
                                   {"requested", "Remboursement demandé"},
                                   {"paid", "Remboursée"}};
    return LABEL_OF(labels, status);
}

const char *sp_export_refund_status_label(const char *status) {
    assert(status != NULL);
    static const label labels[] = {{"opening", "En préparation"},
                                   {"pending", "Demandée"},
                                   {"paid", "Payée"},
                                   {"cancelled", "Annulée"}};
    return LABEL_OF(labels, status);
}

const char *sp_export_refund_kind_label(const char *kind) {
    assert(kind != NULL);
    static const label labels[] = {{"manual", "Manuelle"}, {"automatic", "Automatique"}};
    return LABEL_OF(labels, kind);
}

static void text(sp_csv *csv, const char *value) {
    sp_csv_text(csv, value, strlen(value));
}

static int header(sp_csv *csv, const char *const *names, size_t count, sp_error *err) {
    assert(csv != NULL);
    assert(count > 0);
    for (size_t i = 0; i < count; i++) text(csv, names[i]);
    return sp_csv_end_row(csv, err);
}

int sp_export_operations_header(sp_csv *csv, sp_error *err) {
    assert(csv != NULL);
    static const char *const names[] = {"Date",
                                        "Référence interne",
                                        "Canal",
                                        "Montant (€)",
                                        "Statut",
                                        "Bénéficiaire",
                                        "Catégorie",
                                        "Opération",
                                        "Demande de remboursement"};
    return header(csv, names, sizeof names / sizeof names[0], err);
}

int sp_export_operation_write(sp_csv *csv, const sp_export_operation_row *row, sp_error *err) {
    assert(csv != NULL);
    assert(row != NULL);
    assert(row->pass_id != NULL);
    size_t pass_len = strlen(row->pass_id);
    assert(pass_len >= SP_EXPORT_PASS_REF_LEN);
    sp_csv_date(csv, row->occurred_at_ms);
    text(csv, row->reference);
    text(csv, sp_export_channel_label(row->channel));
    if (sp_csv_amount(csv, row->amount_cents, err) != 0) return -1;
    text(csv, sp_export_operation_status_label(row->status));
    /* A partner learns no more of the beneficiary than the app shows it. */
    sp_csv_text(csv, row->pass_id + pass_len - SP_EXPORT_PASS_REF_LEN, SP_EXPORT_PASS_REF_LEN);
    text(csv, row->category);
    text(csv, row->operation_id);
    text(csv, row->refund_request_id);
    return sp_csv_end_row(csv, err);
}

int sp_export_refunds_header(sp_csv *csv, sp_error *err) {
    assert(csv != NULL);
    static const char *const names[] = {"Date de la demande",
                                        "Demande de remboursement",
                                        "Type",
                                        "Période",
                                        "Statut",
                                        "Montant (€)",
                                        "Nombre d'opérations",
                                        "Date de paiement",
                                        "Référence du virement",
                                        "Motif d'annulation"};
    return header(csv, names, sizeof names / sizeof names[0], err);
}

static void cancel_cell(sp_csv *csv, const sp_export_refund_row *row) {
    assert(row->cancel_reason != NULL);
    if (strcmp(row->cancel_reason, "partner") == 0) {
        text(csv, "Annulée par le partenaire");
    } else if (strcmp(row->cancel_reason, "aborted") == 0) {
        text(csv, row->cancel_message[0] != '\0' ? row->cancel_message : "Refusée");
    } else {
        sp_csv_empty(csv);
    }
}

int sp_export_refund_write(sp_csv *csv, const sp_export_refund_row *row, sp_error *err) {
    assert(csv != NULL);
    assert(row != NULL);
    sp_csv_date(csv, row->created_at_ms);
    text(csv, row->request_id);
    text(csv, sp_export_refund_kind_label(row->kind));
    text(csv, row->period);
    text(csv, sp_export_refund_status_label(row->status));
    if (sp_csv_amount(csv, row->amount_cents, err) != 0) return -1;
    if (row->operation_count < 0) {
        return sp_error_set(err, 500, "csv_negative_count", "", "a negative operation count");
    }
    char count[SP_CSV_AMOUNT_LEN_MAX + 1];
    int n = snprintf(count, sizeof count, "%lld", (long long)row->operation_count);
    sp_csv_text(csv, count, (size_t)n);
    if (row->paid) {
        sp_csv_date(csv, row->paid_at_ms);
    } else {
        sp_csv_empty(csv);
    }
    text(csv, row->transfer_reference);
    cancel_cell(csv, row);
    return sp_csv_end_row(csv, err);
}
