/* projection_fold.h - a batch's common pass events folded in memory into the
 * final state of every row they touch, then written set-wise.
 *
 * The events folded are the ones nearly every batch is made of: PassOpened,
 * PassCredited, PaymentAccepted and EnvelopeExpired, of the passes whose
 * every event in the batch is one of these. Per batch: a pass's row once (its
 * last version, balance and time), each envelope's last balance, the new
 * operations and history rows, one delta per ledger account and per partner
 * (owed), the figures' deltas per category and per Europe/Paris day and
 * category (a day's payments counted and summed here). The other events
 * (vouchers, cancellations, closes, refusals, refunds, accounts) keep their
 * own statement (projection_rows.h): they are rare and read the rows they
 * change, and a pass that has one in the batch is not folded at all, so no
 * row is written by both paths in one batch.
 *
 * The version check is exactly the per-event one, done in memory: the
 * caller tells the fold each pass's version in the database at the start of
 * the batch (sp_projection_fold_pass_known), and an event applies only when
 * it is the next version (a PassOpened only when the pass does not exist).
 * The written statements check it again: the passes' update applies only
 * where the version is still the one read, and each statement that writes
 * passes returns its count, which must be the one expected
 * (sp_projection_fold_statement.expected_count).
 *
 * Pure: no I/O. Memory: sp_projection_fold_new() allocates everything, bounded
 * by SP_PROJECTION_FOLD_EVENTS_MAX events a batch (a replay's fold by the size
 * given to sp_projection_fold_new_sized()); the rendered parameters
 * belong to the fold and stay valid until the next reset or free. */
#ifndef SP_PROJECTION_FOLD_H
#define SP_PROJECTION_FOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "projection_rows.h"
#include "sp_error.h"

#define SP_PROJECTION_FOLD_EVENTS_MAX 5000
#define SP_PROJECTION_FOLD_PARAMS_MAX 14

typedef struct sp_projection_fold sp_projection_fold;

sp_projection_fold *sp_projection_fold_new(void);
/* A fold of up to events_max events a batch (1..SP_PROJECTION_FOLD_EVENTS_LIMIT)
 * instead of SP_PROJECTION_FOLD_EVENTS_MAX: a replay's chunk of the log. Its
 * memory grows with what is folded. */
#define SP_PROJECTION_FOLD_EVENTS_LIMIT 4000000
sp_projection_fold *sp_projection_fold_new_sized(size_t events_max);
void sp_projection_fold_free(sp_projection_fold *fold);
/* Forgets the batch (passes, events, rendered statements). */
void sp_projection_fold_reset(sp_projection_fold *fold);

/* Whether the event kind is one the fold takes. */
bool sp_projection_fold_kind(sp_projection_event_kind kind);

/* The aggregate a ledger row moves, when it is a pass's event (NULL for the
 * accounts topic and for a refund request's own events). */
const char *sp_projection_fold_pass_of(const sp_projection_row *row);

/* Planning, before the batch's events are folded: every pass event of the
 * batch is noted; a pass with any event the fold does not take is left to
 * the per-event statements (sp_projection_fold_wants() false). -1 when the
 * batch has more passes than the fold holds. */
int sp_projection_fold_plan(sp_projection_fold *fold, const sp_projection_row *row, sp_error *err);
/* The same for an event of a kind the fold takes (sp_projection_fold_kind)
 * known only by its pass (sp_projection_row_peek): it keeps the pass
 * foldable. */
int sp_projection_fold_plan_foldable(sp_projection_fold *fold, const char *pass_id, sp_error *err);
/* The passes to look up (foldable ones), for the caller's one query: the
 * i-th id for i < sp_projection_fold_pass_count(). */
size_t sp_projection_fold_pass_count(const sp_projection_fold *fold);
const char *sp_projection_fold_pass_id(const sp_projection_fold *fold, size_t index);
/* What the database holds for that pass (not called: no such pass). */
void sp_projection_fold_pass_known(sp_projection_fold *fold, const char *pass_id, int64_t version);

/* Whether row goes to the fold (a foldable event of a foldable pass). */
bool sp_projection_fold_wants(const sp_projection_fold *fold, const sp_projection_row *row);

/* Folds one row the fold wants, in log order: 1 when it applies, 0 when it
 * is skipped (not the pass's next version, or a pass opened again); -1 with
 * err when the batch holds more than the fold can. */
int sp_projection_fold_add(sp_projection_fold *fold, const sp_projection_row *row, sp_error *err);

/* The set-wise statements of the folded batch, in the order to send them
 * (every parameter is text, mostly PostgreSQL array literals). A statement
 * with expected_count >= 0 returns one row, one bigint: the rows it wrote,
 * which must equal expected_count (else a pass changed since it was read). */
typedef struct sp_projection_fold_statement {
    const char *name; /* prepared under this name (sp_projection_fold_statements) */
    int param_count;
    const char *params[SP_PROJECTION_FOLD_PARAMS_MAX];
    int64_t expected_count; /* -1: nothing to check */
} sp_projection_fold_statement;

extern const sp_projection_statement sp_projection_fold_statements[];
extern const size_t sp_projection_fold_statement_count;

/* The operations and history rows folded since the batch's start or the
 * last take, handed over before the batch ends so that a replay can copy
 * them while it folds the rest (they are new rows, which nothing later in
 * the batch changes): their statements (the inserts' own, with those rows)
 * and the texts their parameters point into, which the caller now owns
 * (sp_projection_fold_taken_free). The batch's render no longer holds them.
 * -1 when out of memory (nothing taken then). */
#define SP_PROJECTION_FOLD_TAKEN_TEXTS_MAX 32
typedef struct sp_projection_fold_taken {
    sp_projection_fold_statement statements[2];
    size_t count;
    char *texts[SP_PROJECTION_FOLD_TAKEN_TEXTS_MAX];
    size_t text_count;
} sp_projection_fold_taken;
int sp_projection_fold_take_new_rows(sp_projection_fold *fold, sp_projection_fold_taken *out,
                                     sp_error *err);
void sp_projection_fold_taken_free(sp_projection_fold_taken *taken);

/* Renders the statements into out (room for sp_projection_fold_statement_count),
 * leaving out those with no row; returns how many. -1 when out of memory or
 * when a sum overflowed (each delta is added to its account's, partner's,
 * category's or day's sum as it is folded). The batch ends there: nothing
 * more folds before sp_projection_fold_reset(). */
int sp_projection_fold_render(sp_projection_fold *fold, sp_projection_fold_statement *out,
                              size_t *count, sp_error *err);

#endif
