/* sim_internal.h - the simulation's world, shared by sim_world.c (the log,
 * the writers, the checks), sim_fold.c (the projection's stand-in) and
 * sim_driver.c (the refunds driver). Every table has a fixed bound: a run
 * that reaches one stops with an error (the plan is too long), never
 * writes past it. */
#ifndef SP_SIM_INTERNAL_H
#define SP_SIM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sim.h"
#include "sp_id.h"
#include "transactions/ledger.h"
#include "refunds/refunds.h"

#define SIM_PARTITIONS 3
#define SIM_PASSES 6
#define SIM_PARTNERS 3
/* "general" (no end), "sport" (ends), "lecture" (opened by a credit) */
#define SIM_CATEGORIES 3
#define SIM_OPENED_CATEGORIES 2 /* what a pass opens with: general and sport */
#define SIM_LOG_MAX 2048        /* commands, and events, per partition */
#define SIM_OPS_MAX 1024        /* operations the log names */
#define SIM_VOUCHERS_MAX 256
#define SIM_REQUESTS_MAX 128
#define SIM_PARTS_MAX SIM_PASSES /* passes in one refund request */
#define SIM_PART_OPS_MAX 128     /* operations of one pass in one request */
#define SIM_SENT_MAX 4096        /* client commands kept to be sent again */
#define SIM_KEYS_MAX 8192        /* command keys (open addressing, power of 2) */
#define SIM_FOLD_PARTS_MAX 512
#define SIM_FOLD_BALANCES_MAX 512
#define SIM_ID_SIZE (SP_ID_LEN + 1)

/* ------------------------------------------------------------ commands */

/* A command as the log holds it: owned strings, operations named by their
 * index in the world's registry. Zeroed before it is filled, so that its
 * bytes are its body (hashed to tell a retry from a conflict). */
typedef struct sim_cmd {
    sp_ledger_command_kind kind;
    char aggregate[SIM_ID_SIZE];
    char actor[SIM_ID_SIZE];
    char command_id[SP_LEDGER_COMMAND_ID_MAX + 1];
    char beneficiary[SIM_ID_SIZE];
    char end_date[SP_LEDGER_DATE_LEN + 1]; /* open: the sport envelope's; credit:
                                            * the one asked ("" = keep) */
    char category[SP_LEDGER_CATEGORY_LEN_MAX + 1];
    char partner_code[SP_PARTNER_CODE_LEN + 1];
    int64_t amount_cents;
    char voucher_id[SIM_ID_SIZE];
    char voucher_number[SP_VOUCHER_NUMBER_LEN + 1];
    char operation_id[SIM_ID_SIZE];
    char partner_id[SIM_ID_SIZE];
    char request_id[SIM_ID_SIZE];
    char refund_kind[SP_LEDGER_REFUND_KIND_MAX + 1];
    char period[SP_LEDGER_REFUND_PERIOD_LEN + 1];
    size_t part_count;
    uint16_t part_pass[SIM_PARTS_MAX]; /* pass index */
    uint16_t part_op_count[SIM_PARTS_MAX];
    uint16_t part_ops[SIM_PARTS_MAX][SIM_PART_OPS_MAX]; /* registry index; reserve: part 0 */
    int64_t expected_total_cents;
    int64_t total_cents;
    int64_t operation_count;
    char code[SP_ERROR_CODE_MAX];
    char message[SP_ERROR_MESSAGE_MAX];
    char transfer_reference[SP_LEDGER_TRANSFER_REFERENCE_MAX + 1];
    char paid_on[SP_LEDGER_DATE_LEN + 1];
    bool skip_unavailable;
    char reason[32];     /* close */
    bool conflict_probe; /* last: not part of the body */
} sim_cmd;

/* The ledger's view of a logged command (strings borrowed from it and
 * from the world). */
typedef struct sim_cmd_view {
    sp_ledger_command c;
    sp_ledger_refund_part parts[SIM_PARTS_MAX];
    const char *ops[SIM_PARTS_MAX][SIM_PART_OPS_MAX];
} sim_cmd_view;

/* ------------------------------------------------------------ the fold's input */

/* What the fold reads of one ledger event: the decoded event's fields the
 * projection's SQL uses (operations by registry index). */
typedef struct sim_fev {
    sp_ledger_event_kind kind;
    char aggregate[SIM_ID_SIZE];
    uint64_t version;
    int64_t at_ms;
    int32_t partition;
    int pass;    /* aggregate as a pass index, -1 none */
    int op;      /* registry index, -1 none */
    int voucher; /* registry index, -1 none */
    int request; /* registry index, -1 none */
    char category[SP_LEDGER_CATEGORY_LEN_MAX + 1];
    int64_t amount_cents;
    int64_t envelope_after_cents;
    int64_t pass_after_cents;
    char partner_id[SIM_ID_SIZE];
    bool to_envelope;      /* released/cancelled: back to the pass */
    size_t envelope_count; /* opened */
    char envelope_categories[SIM_CATEGORIES][SP_LEDGER_CATEGORY_LEN_MAX + 1];
    char envelope_end_dates[SIM_CATEGORIES][SP_LEDGER_DATE_LEN + 1]; /* opened */
    char end_date[SP_LEDGER_DATE_LEN + 1]; /* credited: the envelope's after it */
    size_t posting_count;
    char debit[SP_LEDGER_ACCOUNT_MAX + 1];
    char credit[SP_LEDGER_ACCOUNT_MAX + 1];
    int64_t posting_cents;
    /* refunds */
    char refund_kind[SP_LEDGER_REFUND_KIND_MAX + 1];
    char period[SP_LEDGER_REFUND_PERIOD_LEN + 1];
    int64_t expected_total_cents;
    int64_t total_cents;
    int64_t operation_count;
    size_t part_count;
    int part_pass[SIM_PARTS_MAX];
    size_t part_op_count[SIM_PARTS_MAX];
    uint16_t part_ops[SIM_PARTS_MAX][SIM_PART_OPS_MAX];
    size_t changed_count; /* operations events */
    uint16_t changed[SIM_PART_OPS_MAX];
    char code[SP_ERROR_CODE_MAX]; /* rejected reserve; cancelled request */
    int refusal_op;               /* registry index, -1 none */
    char reason[SP_LEDGER_REFUND_REASON_MAX + 1];
    /* closed: envelope_count returns (envelope_categories), their cents;
     * changed_count vouchers (registry indices in changed[]), their cents */
    int64_t close_envelope_cents[SIM_CATEGORIES];
    int64_t close_voucher_cents[SIM_PART_OPS_MAX];
} sim_fev;

/* ------------------------------------------------------------ the fold */

typedef enum { OP_ACCEPTED = 1, OP_CANCELLED, OP_REQUESTED, OP_PAID } sim_op_status;
typedef enum { OPK_CREDIT = 1, OPK_PAYMENT, OPK_EXPIRY } sim_op_kind;
typedef enum { RQ_OPENING = 1, RQ_PENDING, RQ_PAID, RQ_CANCELLED } sim_request_status;
typedef enum { PT_ASKED = 1, PT_RESERVED, PT_REFUSED, PT_RELEASED, PT_SETTLED } sim_part_status;
typedef enum { VO_ACTIVE = 1, VO_REDEEMED, VO_CANCELLED, VO_EXPIRED } sim_voucher_status;

typedef struct sim_fold_pass {
    bool exists;
    uint64_t version;
    int64_t balance_cents;
    int64_t updated_at_ms;
    size_t envelope_count;
    char categories[SIM_CATEGORIES][SP_LEDGER_CATEGORY_LEN_MAX + 1];
    int64_t envelope_cents[SIM_CATEGORIES];
    bool expired[SIM_CATEGORIES];
    char end_dates[SIM_CATEGORIES][SP_LEDGER_DATE_LEN + 1]; /* "" = NULL */
    int64_t closed_at_ms;                                   /* 0 = NULL: open */
} sim_fold_pass;

typedef struct sim_fold_op {
    bool exists;
    sim_op_kind kind;
    int pass;
    char partner_id[SIM_ID_SIZE]; /* "" = NULL */
    char category[SP_LEDGER_CATEGORY_LEN_MAX + 1];
    int64_t amount_cents;
    int64_t occurred_at_ms;
    sim_op_status status;
    int request; /* -1 = NULL */
} sim_fold_op;

typedef struct sim_fold_voucher {
    bool exists;
    int pass;
    int64_t amount_cents;
    sim_voucher_status status;
} sim_fold_voucher;

typedef struct sim_fold_request {
    bool exists;
    uint64_t version;
    int partner;
    char kind[SP_LEDGER_REFUND_KIND_MAX + 1];
    char period[SP_LEDGER_REFUND_PERIOD_LEN + 1];
    sim_request_status status;
    int64_t expected_total_cents;
    int64_t part_count;
    int64_t total_cents;
    int64_t operation_count;
    int64_t created_at_ms;
    char reason[SP_LEDGER_REFUND_REASON_MAX + 1];
} sim_fold_request;

typedef struct sim_fold_part {
    int request;
    int pass;
    size_t asked_count;
    uint16_t asked[SIM_PART_OPS_MAX];
    sim_part_status status;
    int64_t amount_cents;
    int64_t operation_count;
    int64_t updated_at_ms;
    int request_status; /* 0 = NULL */
    char refusal_code[SP_ERROR_CODE_MAX];
    int refusal_op;
} sim_fold_part;

typedef struct sim_fold_balance {
    char account[SP_LEDGER_ACCOUNT_MAX + 1];
    int64_t balance_cents;
} sim_fold_balance;

/* The read models as the projection would write them. */
typedef struct sim_fold {
    sim_fold_pass passes[SIM_PASSES];
    sim_fold_op ops[SIM_OPS_MAX];
    sim_fold_voucher vouchers[SIM_VOUCHERS_MAX];
    sim_fold_request requests[SIM_REQUESTS_MAX];
    int64_t owed_cents[SIM_PARTNERS];
    size_t part_count;
    sim_fold_part parts[SIM_FOLD_PARTS_MAX];
    size_t balance_count;
    sim_fold_balance balances[SIM_FOLD_BALANCES_MAX];
    size_t next[SIM_PARTITIONS];                   /* next event of each partition */
    size_t read[SIM_PARTITIONS];                   /* the furthest it ever read */
    size_t ops_used, vouchers_used, requests_used; /* high-water marks: what a reset clears */
} sim_fold;

/* ------------------------------------------------------------ the world */

typedef struct sim_event_entry {
    uint8_t *bytes; /* the packed envelope, owned */
    size_t len;
    sim_fev fev;
} sim_event_entry;

typedef struct sim_partition {
    sp_ledger_state *state;  /* the writer's, live */
    sp_ledger_state *shadow; /* every logged event applied, decoded */
    size_t command_count;
    sim_cmd *commands; /* SIM_LOG_MAX */
    size_t committed;  /* next command to read */
    size_t event_count;
    sim_event_entry *events; /* SIM_LOG_MAX */
    size_t lag_steps;        /* steps its writer and fold sit still */
    uint8_t *snapshot;       /* the writer's last snapshot, or NULL */
    size_t snapshot_len;
} sim_partition;

typedef struct sim_op_entry {
    char id[SIM_ID_SIZE];
    int pass;
    int partner;
    int64_t amount_cents;
    sp_ledger_operation_status last_status; /* as last seen at the writer; 0 unseen */
} sim_op_entry;

typedef struct sim_voucher_entry {
    char id[SIM_ID_SIZE];
    char number[SP_VOUCHER_NUMBER_LEN + 1];
    int pass;
} sim_voucher_entry;

typedef struct sim_key_slot {
    uint64_t hash; /* 0 = free */
    uint64_t body_hash;
    bool has_outcome;
    int http_status;
    uint64_t outcome_hash;
    bool applied; /* an event of it is on the log */
} sim_key_slot;

struct sim_world {
    uint64_t seed;
    sim_mutation mutation;
    int64_t now_ms;
    sp_ledger_directory directory;
    bool directory_ready;
    sp_ledger_limits limits;
    char admin[SIM_ID_SIZE];
    char partner_ids[SIM_PARTNERS][SIM_ID_SIZE];
    char partner_codes[SIM_PARTNERS][SP_PARTNER_CODE_LEN + 1];
    char partner_actors[SIM_PARTNERS][SIM_ID_SIZE];
    char pass_ids[SIM_PASSES][SIM_ID_SIZE];
    char beneficiaries[SIM_PASSES][SIM_ID_SIZE];
    sim_partition partitions[SIM_PARTITIONS];
    size_t op_count;
    sim_op_entry ops[SIM_OPS_MAX];
    size_t voucher_count;
    sim_voucher_entry vouchers[SIM_VOUCHERS_MAX];
    size_t request_count;
    char requests[SIM_REQUESTS_MAX][SIM_ID_SIZE];
    size_t sent_count;
    sim_cmd *sent;      /* SIM_SENT_MAX */
    sim_key_slot *keys; /* SIM_KEYS_MAX */
    sim_fold fold;      /* the live read models */
    sim_fold *fresh;    /* scratch: a fold from the log */
    sp_refunds_sent *driver_sent;
    sp_ledger_decision *decision; /* scratch */
    sp_ledger_event *scratch_event;
    sp_ledger_event *sweep_events; /* SIM_SWEEP_EVENTS_MAX */
    sim_cmd scratch_cmd;
    sim_cmd_view *view;         /* scratch */
    char *row_buf;              /* SP_PROJECTION_ROW_BYTES_MAX */
    bool dirty[SIM_PARTITIONS]; /* a state changed since the last check */
    bool fold_dirty;            /* the fold changed since the last check */
    sim_stats stats;
};

#define SIM_SWEEP_EVENTS_MAX 16
#define SIM_T0_MS INT64_C(1773136800000) /* 2026-03-10T10:00:00Z */
#define SIM_RESEND_MS (5 * 60 * 1000)

/* sim_world.c */
int32_t sim_partition_of(const char *aggregate_id);
int sim_find_op(const sim_world *w, const char *id);
int sim_find_request(const sim_world *w, const char *id);
int sim_find_pass(const sim_world *w, const char *id);
int sim_find_partner(const sim_world *w, const char *id);
/* Puts a command on its partition's log (and among those a client may send again). */
int sim_send(sim_world *w, const sim_cmd *cmd, bool keep, sp_error *err);

int sim_world_start(sim_world *w, uint64_t seed, sim_mutation mutation, sp_error *err);
/* Turns and faults: 0, 1 when an invariant broke (f), -1 on err. */
int sim_writer_turn(sim_world *w, int32_t p, size_t count, sim_failure *f, sp_error *err);
/* The writer snapshots its state (it stands at the partition's last event). */
int sim_writer_snapshot(sim_world *w, int32_t p, sp_error *err);
int sim_writer_crash(sim_world *w, int32_t p, size_t count, bool lose_last, bool from_snapshot,
                     sim_failure *f, sp_error *err);
int sim_sweep_turn(sim_world *w, int32_t p, sim_failure *f, sp_error *err);
int sim_fold_turn(sim_world *w, int32_t p, size_t count, sp_error *err);
/* w->fresh: the log folded from nothing up to where the live fold stands. */
void sim_fold_fresh(sim_world *w);
/* A new state with every event of partition p's log applied (*out owned). */
int sim_rebuild(sim_world *w, int32_t p, sp_ledger_state **out, sim_failure *f, sp_error *err);
/* Every state rebuilt from its log: 0, 1 when one differs from the live one. */
int sim_check_rebuild(sim_world *w, sim_failure *f, sp_error *err);
/* sim_check.c: every invariant, after a step. */
int sim_check(sim_world *w, sim_failure *f, sp_error *err);
/* sim_steps.c */
int sim_step_run(sim_world *w, const sim_step *step, sim_failure *f, sp_error *err);
/* The end of a plan: every pending request paid or cancelled. */
int sim_back_office(sim_world *w, sp_error *err);

/* sim_fold.c */
void sim_fold_reset(sim_fold *fold);
/* Applies one event as the projection's statement would: false when the
 * statement would change nothing (not the aggregate's next version). */
bool sim_fold_apply(sim_fold *fold, const sim_fev *e, bool check_version,
                    const char partner_ids[][SIM_ID_SIZE], const sim_voucher_entry *vouchers);
/* 0 when equal, else 1 and why. */
int sim_fold_compare(const sim_fold *a, const sim_fold *b, char *why, size_t why_size);
sim_fold_part *sim_fold_part_find(sim_fold *fold, int request, int pass);

/* sim_driver.c: one tick of the refunds driver, reading the live fold. */
int sim_driver_tick(sim_world *w, sp_error *err);

#endif
