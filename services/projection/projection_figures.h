/* projection_figures.h - the city's figures (payments per day and category,
 * the budget per category) and the history (who did what), kept by the
 * projection in the same transaction as every other read model.
 *
 * The openings, credits, payments and expiries a batch folds write their
 * history lines and figures' deltas with the fold (projection_fold.h); for
 * every other event, one more statement, sent just BEFORE the event's own
 * statement (projection_rows.h): it applies under exactly the condition
 * that statement will (the pass's or the request's next version, a partner
 * profile's newer version, an accounts event not yet seen), and it can read
 * the rows as they were before the event (the payment a cancellation takes
 * back, the IBAN a profile update replaces).
 *
 * The mapping from event type to history action is the one table
 * sp_projection_figures_entries (projection_figures.c): an event type that is
 * not listed writes no figure and no history line.
 *
 * Pure: no I/O. Memory: the built row points into the caller's row (its
 * parameters and meta) and into its own small buffer; nothing is allocated. */
#ifndef SP_PROJECTION_FIGURES_H
#define SP_PROJECTION_FIGURES_H

#include <stdbool.h>
#include <stddef.h>
#include "projection_rows.h"

/* $1 event_id $2 occurred_at $3 actor_id|NULL $4 actor_role|NULL $5 action,
 * then the event's own parameters from $6 on (its $k is $(k+5)). */
#define SP_PROJECTION_FIGURES_META_PARAMS 5
#define SP_PROJECTION_FIGURES_PARAMS_MAX \
    (SP_PROJECTION_FIGURES_META_PARAMS + SP_PROJECTION_PARAMS_MAX)

typedef struct sp_projection_figures_entry {
    const char *type;      /* the envelope type */
    const char *action;    /* the history's action code (a statement may refine it) */
    const char *statement; /* the name of its sp_projection_figures_statements entry */
} sp_projection_figures_entry;
extern const sp_projection_figures_entry sp_projection_figures_entries[];
extern const size_t sp_projection_figures_entry_count;

/* The statements, to prepare once per connection with every parameter typed
 * text (each is cast in the SQL; some statements leave a few unused). */
extern const sp_projection_statement sp_projection_figures_statements[];
extern const size_t sp_projection_figures_statement_count;
/* The statement of that name, NULL when there is none. */
const sp_projection_statement *sp_projection_figures_statement(const char *name);

typedef struct sp_projection_figures_row {
    const char *statement; /* NULL: the event writes no figure nor history */
    const char *action;
    int param_count;
    const char *params[SP_PROJECTION_FIGURES_PARAMS_MAX];
    char occurred_at[SP_PROJECTION_TIME_LEN + 1];
} sp_projection_figures_row;

/* From a built row (sp_projection_row_build) to its figures statement:
 * out->statement is NULL for an event the table does not list or that
 * changes no read model. out->params point into row and into out itself
 * (its occurred_at): both must outlive the statement's sending. */
void sp_projection_figures_build(const sp_projection_row *row, sp_projection_figures_row *out);

/* The pending deltas of a batch (temporary tables: to run on every new
 * connection before preparing the statements), and their fold into
 * figures_budget and figures_daily (prepared once per connection under
 * sp_projection_figures_fold's name), to send after the events of a batch
 * that sent any figures statement: the events append deltas, never update
 * the figures' rows. A batch that sent none must not touch the pending
 * tables: PostgreSQL empties ON COMMIT DELETE ROWS tables (truncating
 * their files) at the commit of every transaction that used a temporary
 * table, which cost a third of the live projection's commits. */
#define SP_PROJECTION_FIGURES_PENDING_TABLES 2
extern const char *const sp_projection_figures_pending_sql[SP_PROJECTION_FIGURES_PENDING_TABLES];
extern const sp_projection_statement sp_projection_figures_fold;

/* How a batch's deltas, one row per key, are added to the figures' rows
 * (the table aliased f): by the fold of the pending deltas and by the
 * fold of the batch's payments (projection_fold.c), which writes its
 * deltas straight into the figures. */
#define SP_PROJECTION_FIGURES_BUDGET_ADD \
    "ON CONFLICT (category) DO UPDATE SET " \
    "credited_cents = f.credited_cents + EXCLUDED.credited_cents, " \
    "spent_cents = f.spent_cents + EXCLUDED.spent_cents, " \
    "expired_cents = f.expired_cents + EXCLUDED.expired_cents, " \
    "reserved_cents = f.reserved_cents + EXCLUDED.reserved_cents, " \
    "available_cents = f.available_cents + EXCLUDED.available_cents"
#define SP_PROJECTION_FIGURES_DAILY_ADD \
    "ON CONFLICT (day, category) DO UPDATE SET " \
    "payment_count = f.payment_count + EXCLUDED.payment_count, " \
    "amount_cents = f.amount_cents + EXCLUDED.amount_cents"

/* The action of an event type, NULL when it has none. */
const char *sp_projection_figures_action(const char *type);

#endif
