/* ledger_actor.c - who may ask the ledger for what (defence in depth).
 *
 * The gateway checks each request's role before it writes a command, and
 * the brokers' ACLs let only the gateway and the refunds service write the
 * command topic. Should either fail (a gateway route given the wrong roles,
 * a leaked Kafka credential of another service), the ledger still refuses
 * a command its actor could not have asked for: a credit by anyone but the
 * back office, a payment by anyone but the pass's own beneficiary, a
 * refund request's confirmation by anyone but the system. Pure: the role is
 * the envelope's actor_role, the pass's beneficiary the ledger's own state. */
#include "ledger.h"
#include "ledger_internal.h"

#include <assert.h>
#include <stdbool.h>
#include <string.h>

enum {
    ROLE_SYSTEM = 1u << 0, /* actor_id "" and actor_role "": a solipass service */
    ROLE_BACKOFFICE = 1u << 1,
    ROLE_PARTNER_ADMIN = 1u << 2,
    ROLE_PARTNER_USER = 1u << 3,
    ROLE_BENEFICIARY = 1u << 4,
    ROLE_FINANCE = 1u << 5,
};
#define ROLES_PARTNER (ROLE_PARTNER_ADMIN | ROLE_PARTNER_USER)

/* The actor's role as a bit; 0 when unknown or inconsistent with actor_id. */
static unsigned role_of(const sp_ledger_command *c) {
    assert(c != NULL);
    static const struct {
        const char *name;
        unsigned bit;
    } roles[] = {{"backoffice", ROLE_BACKOFFICE},
                 {"partner_admin", ROLE_PARTNER_ADMIN},
                 {"partner_user", ROLE_PARTNER_USER},
                 {"beneficiary", ROLE_BENEFICIARY},
                 {"finance", ROLE_FINANCE}};
    const char *actor = c->actor_id != NULL ? c->actor_id : "";
    const char *role = c->actor_role != NULL ? c->actor_role : "";
    if (actor[0] == '\0') return role[0] == '\0' ? ROLE_SYSTEM : 0;
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        if (strcmp(role, roles[i].name) == 0) return roles[i].bit;
    }
    return 0;
}

/* The roles that may ask for each kind (the gateway's endpoint table and
 * the refunds service, docs/events.md). */
static unsigned roles_allowed(sp_ledger_command_kind kind) {
    switch (kind) {
    case SP_LEDGER_COMMAND_OPEN_PASS:
    case SP_LEDGER_COMMAND_CREDIT_PASS:
    case SP_LEDGER_COMMAND_CLOSE_PASS: return ROLE_BACKOFFICE;
    case SP_LEDGER_COMMAND_PAY: return ROLE_BENEFICIARY;
    case SP_LEDGER_COMMAND_ISSUE_VOUCHER:
    case SP_LEDGER_COMMAND_CANCEL_VOUCHER: return ROLE_BENEFICIARY | ROLE_BACKOFFICE;
    case SP_LEDGER_COMMAND_REDEEM_VOUCHER:
    case SP_LEDGER_COMMAND_CANCEL_OPERATION:
    case SP_LEDGER_COMMAND_SET_OPERATION_REFERENCE: return ROLES_PARTNER;
    /* A partner administrator asks for a refund by hand; the refunds
     * service, monthly. */
    case SP_LEDGER_COMMAND_OPEN_REFUND_REQUEST: return ROLE_PARTNER_ADMIN | ROLE_SYSTEM;
    case SP_LEDGER_COMMAND_CANCEL_REFUND_REQUEST: return ROLE_PARTNER_ADMIN;
    case SP_LEDGER_COMMAND_MARK_REFUND_REQUEST_PAID: return ROLE_FINANCE | ROLE_BACKOFFICE;
    case SP_LEDGER_COMMAND_CONFIRM_REFUND_REQUEST:
    case SP_LEDGER_COMMAND_ABORT_REFUND_REQUEST:
    case SP_LEDGER_COMMAND_RESERVE_OPERATIONS:
    case SP_LEDGER_COMMAND_RELEASE_OPERATIONS:
    case SP_LEDGER_COMMAND_SETTLE_OPERATIONS: return ROLE_SYSTEM;
    }
    return 0;
}

static const char *who(const sp_ledger_command *c) {
    if (c->actor_id == NULL || c->actor_id[0] == '\0') return "the system";
    return c->actor_role != NULL && c->actor_role[0] != '\0' ? c->actor_role
                                                             : "an actor without role";
}

int sp_ledger_actor_check(const sp_ledger_state *state, const sp_ledger_command *c, sp_error *err) {
    assert(state != NULL);
    assert(c != NULL);
    unsigned role = role_of(c);
    assert((role & (role - 1)) == 0); /* one role at most */
    unsigned allowed = roles_allowed(c->kind);
    assert(allowed != 0); /* every kind of command has actors who may ask for it */
    if ((role & allowed) == 0)
        return sp_error_set(err, 403, "forbidden", "", "%.32s may not ask for %s", who(c),
                            sp_ledger_command_type(c->kind));
    /* A beneficiary acts on its own pass only (an unknown pass is the
     * decider's 404). */
    if (role == ROLE_BENEFICIARY && !sp_ledger_command_is_refund_request(c->kind)) {
        const sp_ledger_pass *pass = sp_ledger_pass_find(state, c->pass_id);
        if (pass != NULL && strcmp(pass->beneficiary_id, c->actor_id) != 0)
            return sp_error_set(err, 403, "forbidden", "",
                                "a beneficiary may only %s on its own pass",
                                sp_ledger_command_type(c->kind));
    }
    return 0;
}
