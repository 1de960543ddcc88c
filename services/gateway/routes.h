/* routes.h - one function per endpoint of docs/api.md. Each is called by
 * http.c after the route, the body size, the session and the role were
 * checked (see the dispatch table there); it checks the tenant, validates
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
int sp_gw_route_partners_list(sp_gw_request *req, sp_error *err);
int sp_gw_route_beneficiaries_create(sp_gw_request *req, sp_error *err);
int sp_gw_route_passes_get(sp_gw_request *req, sp_error *err);
int sp_gw_route_passes_credit(sp_gw_request *req, sp_error *err);
/* routes_partner.c */
int sp_gw_route_partner_get(sp_gw_request *req, sp_error *err);
int sp_gw_route_partner_operations(sp_gw_request *req, sp_error *err);
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
/* routes_ops.c */
int sp_gw_route_healthz(sp_gw_request *req, sp_error *err);
int sp_gw_route_metrics(sp_gw_request *req, sp_error *err);

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
int sp_gw_answer_operations(sp_gw_request *req, sp_gw_operations_scope scope, const char *id,
                            sp_error *err);

#endif
