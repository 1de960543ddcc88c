/* routes_partner.c - a partner's own space: its record and the payments
 * made at its place. The partner is always the session's. */
#include "routes.h"

#include <assert.h>
#include "pgpool.h"

static const char partner_sql[] =
    "SELECT partner_id, partner_code, name, category, owed_cents FROM partners"
    " WHERE partner_id = $1::uuid";

static int own_partner(const sp_gw_request *req, sp_error *err) {
    if (sp_id_valid(req->user.partner_id)) return 0;
    return sp_error_set(err, 403, "forbidden", "", "this account belongs to no partner");
}

int sp_gw_route_partner_get(sp_gw_request *req, sp_error *err) {
    if (own_partner(req, err) != 0) return -1;
    const char *params[1] = {req->user.partner_id};
    PGresult *res = NULL;
    if (sp_gw_pgpool_query(req->app->pool, partner_sql, 1, params, &res, err) != 0) return -1;
    json_t *partner = NULL;
    if (PQntuples(res) == 1) {
        partner = sp_gw_partner_json(res, 0, 0, err);
    } else {
        sp_error_set(err, 404, "partner_not_found", "", "this account's partner is not known yet");
    }
    PQclear(res);
    if (partner == NULL) return -1;
    return sp_gw_answer_json(req, 200, partner, false);
}

int sp_gw_route_partner_operations(sp_gw_request *req, sp_error *err) {
    if (own_partner(req, err) != 0) return -1;
    return sp_gw_answer_operations(req, SP_GW_OPERATIONS_OF_PARTNER, req->user.partner_id, err);
}
