/* routes.h - one function per endpoint of docs/api.md. Each is called by
 * http.c after the route, the body size, the session and the role were
 * checked (see the endpoint table, endpoints.c); it checks the tenant, validates
 * the body, reads or sends commands, and answers (0) or fails (-1, err).
 * Ownership: nothing outlives the call. */
#ifndef SP_GW_ROUTES_H
#define SP_GW_ROUTES_H

#include <libpq-fe.h>
#include "http.h"
#include "sp_envelope.h"

typedef int (*sp_gw_route_fn)(sp_gw_request *req, sp_error *err);

/* routes_auth.c */
int sp_gw_route_login(sp_gw_request *req, sp_error *err);
int sp_gw_route_logout(sp_gw_request *req, sp_error *err);
int sp_gw_route_me(sp_gw_request *req, sp_error *err);
/* routes_links.c (activation and password reset, no session) */
int sp_gw_route_activate(sp_gw_request *req, sp_error *err);
int sp_gw_route_reset_request(sp_gw_request *req, sp_error *err);
int sp_gw_route_reset_confirm(sp_gw_request *req, sp_error *err);
/* routes_pass.c (beneficiary) */
int sp_gw_route_pass_get(sp_gw_request *req, sp_error *err);
int sp_gw_route_pass_pay(sp_gw_request *req, sp_error *err);
int sp_gw_route_pass_operations(sp_gw_request *req, sp_error *err);
/* routes_backoffice.c */
int sp_gw_route_partners_create(sp_gw_request *req, sp_error *err);
int sp_gw_route_beneficiaries_create(sp_gw_request *req, sp_error *err);
int sp_gw_route_passes_get(sp_gw_request *req, sp_error *err);
int sp_gw_route_passes_credit(sp_gw_request *req, sp_error *err);
/* closing a pass (routes_backoffice.c) */
int sp_gw_route_passes_close(sp_gw_request *req, sp_error *err);
/* routes_partner.c */
int sp_gw_route_partner_get(sp_gw_request *req, sp_error *err);
int sp_gw_route_partner_operations(sp_gw_request *req, sp_error *err);
int sp_gw_route_partner_operation_reference(sp_gw_request *req, sp_error *err);
int sp_gw_route_partner_operation_cancel(sp_gw_request *req, sp_error *err);
/* routes_vouchers.c (exchange vouchers) */
int sp_gw_route_pass_vouchers_issue(sp_gw_request *req, sp_error *err);
int sp_gw_route_pass_vouchers_list(sp_gw_request *req, sp_error *err);
int sp_gw_route_passes_vouchers_issue(sp_gw_request *req, sp_error *err);
int sp_gw_route_passes_vouchers_list(sp_gw_request *req, sp_error *err);
int sp_gw_route_voucher_get(sp_gw_request *req, sp_error *err);
int sp_gw_route_voucher_print(sp_gw_request *req, sp_error *err);
int sp_gw_route_voucher_qr_png(sp_gw_request *req, sp_error *err);
int sp_gw_route_voucher_qr_svg(sp_gw_request *req, sp_error *err);
int sp_gw_route_voucher_cancel(sp_gw_request *req, sp_error *err);
int sp_gw_route_partner_vouchers_redeem(sp_gw_request *req, sp_error *err);
/* routes_partner_space.c (the partner's QR code, poster, contact, live operations) */
int sp_gw_route_partner_qr_png(sp_gw_request *req, sp_error *err);
int sp_gw_route_partner_qr_svg(sp_gw_request *req, sp_error *err);
int sp_gw_route_partner_poster(sp_gw_request *req, sp_error *err);
int sp_gw_route_contact(sp_gw_request *req, sp_error *err);
int sp_gw_route_partner_operations_stream(sp_gw_request *req, sp_error *err);
/* routes_conventions.c (published by the back-office, accepted by a partner administrator) */
int sp_gw_route_conventions_publish(sp_gw_request *req, sp_error *err);
int sp_gw_route_conventions_list(sp_gw_request *req, sp_error *err);
int sp_gw_route_partner_conventions(sp_gw_request *req, sp_error *err);
int sp_gw_route_partner_convention_accept(sp_gw_request *req, sp_error *err);
/* routes_structure.c (the partner's structure, its images, the public directory) */
int sp_gw_route_structure_get(sp_gw_request *req, sp_error *err);
int sp_gw_route_structure_put(sp_gw_request *req, sp_error *err);
int sp_gw_route_structure_logo(sp_gw_request *req, sp_error *err);
int sp_gw_route_structure_cover(sp_gw_request *req, sp_error *err);
int sp_gw_route_media_get(sp_gw_request *req, sp_error *err);
int sp_gw_route_directory_partners(sp_gw_request *req, sp_error *err);
int sp_gw_route_directory_partner(sp_gw_request *req, sp_error *err);
/* routes_receipts.c */
int sp_gw_route_receipt_keys(sp_gw_request *req, sp_error *err);
int sp_gw_route_receipt_verify(sp_gw_request *req, sp_error *err);
int sp_gw_route_receipt_qr_svg(sp_gw_request *req, sp_error *err);
/* routes_users.c (a partner administrator's users) */
int sp_gw_route_partner_users_list(sp_gw_request *req, sp_error *err);
int sp_gw_route_partner_users_add(sp_gw_request *req, sp_error *err);
int sp_gw_route_partner_users_patch(sp_gw_request *req, sp_error *err);
int sp_gw_route_partner_users_delete(sp_gw_request *req, sp_error *err);
/* routes_exports.c (a partner's CSV exports) */
int sp_gw_route_partner_exports_create(sp_gw_request *req, sp_error *err);
int sp_gw_route_partner_exports_list(sp_gw_request *req, sp_error *err);
int sp_gw_route_partner_export_download(sp_gw_request *req, sp_error *err);
int sp_gw_route_partner_export_delete(sp_gw_request *req, sp_error *err);
/* routes_refunds.c (refund requests: a partner administrator's, and finance's) */
int sp_gw_route_partner_refunds_create(sp_gw_request *req, sp_error *err);
int sp_gw_route_partner_refunds_list(sp_gw_request *req, sp_error *err);
int sp_gw_route_partner_refund_get(sp_gw_request *req, sp_error *err);
int sp_gw_route_partner_refund_cancel(sp_gw_request *req, sp_error *err);
int sp_gw_route_finance_refunds_list(sp_gw_request *req, sp_error *err);
int sp_gw_route_finance_refund_get(sp_gw_request *req, sp_error *err);
int sp_gw_route_finance_refund_paid(sp_gw_request *req, sp_error *err);
/* routes_finance.c (finance staff: the SEPA transfer file of pending refund requests) */
#define SP_GW_ROLES_FINANCE (SP_GW_ROLE_FINANCE | SP_GW_ROLE_BACKOFFICE)
int sp_gw_route_finance_sepa(sp_gw_request *req, sp_error *err);
/* routes_users.c: the back-office's staff users, and new activation links
 * for a partner's users (staff users and activation resend) */
int sp_gw_route_staff_users_list(sp_gw_request *req, sp_error *err);
int sp_gw_route_staff_users_add(sp_gw_request *req, sp_error *err);
int sp_gw_route_staff_users_patch(sp_gw_request *req, sp_error *err);
int sp_gw_route_staff_users_delete(sp_gw_request *req, sp_error *err);
int sp_gw_route_partner_activation_email(sp_gw_request *req, sp_error *err);
/* routes_backoffice_lists.c (back-office lists and details of the read models) */
int sp_gw_route_partners_list(sp_gw_request *req, sp_error *err);
int sp_gw_route_beneficiaries_list(sp_gw_request *req, sp_error *err);
int sp_gw_route_beneficiary_get(sp_gw_request *req, sp_error *err);
int sp_gw_route_partner_detail(sp_gw_request *req, sp_error *err);
int sp_gw_route_convention_acceptances(sp_gw_request *req, sp_error *err);
/* What the back-office's details show of a partner or a pass, each as the
 * endpoint that owns it shows it: a new array or object the caller
 * json_decref()s, NULL with err. */
json_t *sp_gw_pass_vouchers_of(sp_gw_request *req, const char *pass_id, sp_error *err);
json_t *sp_gw_partner_users_of(sp_gw_request *req, const char *partner_id, sp_error *err);
json_t *sp_gw_structure_of(sp_gw_request *req, const char *partner_id, sp_error *err);
json_t *sp_gw_refund_requests_latest(sp_gw_request *req, const char *partner_id, int limit,
                                     sp_error *err);
/* routes_imports.c (enrolling beneficiaries from a CSV file) */
int sp_gw_route_beneficiaries_imports(sp_gw_request *req, sp_error *err);
int sp_gw_route_beneficiaries_import_get(sp_gw_request *req, sp_error *err);
/* routes_ops.c */
int sp_gw_route_healthz(sp_gw_request *req, sp_error *err);
int sp_gw_route_openapi(sp_gw_request *req, sp_error *err);
/* routes_figures.c (the dashboard and the history) */
int sp_gw_route_dashboard(sp_gw_request *req, sp_error *err);
int sp_gw_route_partners_history(sp_gw_request *req, sp_error *err);
int sp_gw_route_passes_history(sp_gw_request *req, sp_error *err);
int sp_gw_route_partner_history(sp_gw_request *req, sp_error *err);
int sp_gw_route_finance_owed(sp_gw_request *req, sp_error *err);

/* ---- shared by the route files (routes_common.c) ---- */

/* The Idempotency-Key header, checked (428 / 400). */
int sp_gw_idempotency_key(const sp_gw_request *req, const char **key, sp_error *err);
/* Envelope metadata of a command sent on behalf of the request's user. */
sp_envelope_meta sp_gw_command_meta(const sp_gw_request *req, const char *type,
                                    const char *aggregate_id, const char *command_id);
/* Sends, waits for the reply and the projection, and answers the reply. */
int sp_gw_run_and_answer(sp_gw_request *req, const char *topic, const sp_envelope_meta *meta,
                         const ProtobufCMessage *payload, sp_error *err);
/* {pass_id, balance_cents, envelopes:[...]} of a pass; 404 pass_not_found. */
int sp_gw_answer_pass(sp_gw_request *req, const char *pass_id, sp_error *err);
/* The same pass as a new object (NULL: err, 404 pass_not_found). */
json_t *sp_gw_pass_of(sp_gw_request *req, const char *pass_id, sp_error *err);
/* Whether a pass is in the read model. */
int sp_gw_pass_exists(sp_gw_request *req, const char *pass_id, bool *exists, sp_error *err);

/* Columns partner_id, partner_code, name, category, owed_cents of a row,
 * from column `first` on, as {partner_id, partner_code, name, category,
 * owed_cents}; NULL (500) when a value breaks the schema. */
json_t *sp_gw_partner_json(const PGresult *res, int row, int first, sp_error *err);
/* A bigint/integer column value; 500 "internal" when it is not one. */
int sp_gw_int64_of(const char *text, int64_t *out, sp_error *err);

typedef enum { SP_GW_OPERATIONS_OF_PASS, SP_GW_OPERATIONS_OF_PARTNER } sp_gw_operations_scope;
/* One page of operations, newest first, keyset-paged by (occurred_at,
 * operation_id). A partner sees only payments at its place, with the pass
 * shown as pass_ref (its id's last 4 characters) and no balance. */
/* A page's answer (200) with its totals: takes both (body NULL: a failure
 * already in err, totals freed). */
int sp_gw_answer_page_with_totals(sp_gw_request *req, json_t *body, json_t *totals, sp_error *err);
int sp_gw_answer_operations(sp_gw_request *req, sp_gw_operations_scope scope, const char *id,
                            sp_error *err);
/* Payments at partner $1 after the position ($2 occurred_at ms, $3
 * operation id), not before $4 ms and not among the ids of the uuid[] $6,
 * oldest first, at most $5 rows; each
 * row (column 0: operation_id) is shown by sp_gw_operation_json(). */
extern const char sp_gw_partner_operations_stream_sql[];
/* The operations listing's filters as statement parameters:
 * sp_operations_filter_params() of sp_operations_filter.h. */
#define SP_GW_FILTER_PARAMS SP_OPERATIONS_FILTER_PARAMS
/* $1 partner, $2..$9 the filter (above), $10 the most rows: operation_id,
 * pass_id, amount_cents of its accepted payments, ordered by pass. */
extern const char sp_gw_partner_accepted_operations_sql[];
/* The newest limit operations of a pass or a partner as shown to scope (an
 * array the caller json_decref()s; NULL: err). */
json_t *sp_gw_operations_latest(sp_gw_request *req, sp_gw_operations_scope scope, const char *id,
                                int limit, sp_error *err);
/* One row of the operations read model as shown to scope; *at_ms its occurred_at. */
json_t *sp_gw_operation_json(const PGresult *res, int row, sp_gw_operations_scope scope,
                             int64_t *at_ms, sp_error *err);

/* The Idempotency-Key when given (checked: NULL + 400), else a fresh random
 * command id written into fresh: for PUT, PATCH and DELETE, idempotent by
 * themselves. */
const char *sp_gw_optional_key(const sp_gw_request *req, char fresh[SP_ID_LEN + 1], sp_error *err);
/* Runs an accounts command: a refusal is answered here (*ok false, 0); an
 * acceptance is left to the caller to answer (*ok true, *replayed). */
int sp_gw_run_accounts(sp_gw_request *req, const char *type, const char *aggregate_id,
                       const char *key, const ProtobufCMessage *payload, bool *ok, bool *replayed,
                       sp_error *err);

#endif
