-- The city's figures and the history (docs/architecture.md, "Figures and
-- history"): kept by the projection in the same transaction as its offsets,
-- one statement per applied event, so the dashboard never scans operations
-- and a replay rebuilds them row for row.

-- Payments per day (Europe/Paris) and category, net of their cancellations:
-- a cancelled payment leaves the day it was made (not the day it was
-- cancelled), so a day shows what its payments still are.
CREATE TABLE figures_daily (
  day             date   NOT NULL,
  category        text   NOT NULL,
  payment_count   bigint NOT NULL CHECK (payment_count >= 0),
  amount_cents    bigint NOT NULL CHECK (amount_cents >= 0),
  PRIMARY KEY (day, category)
);

-- Per category, where the credited money is: credited = spent + expired +
-- reserved + available at every offset (the audit checks available against
-- the envelopes' ledger accounts). spent: payments net of cancellations;
-- expired: back to the budget (an envelope's end, or a payment or voucher
-- returned after its envelope ended); reserved: active vouchers. No CHECK:
-- a row's columns move by deltas, each kept non-negative by the ledger.
CREATE TABLE figures_budget (
  category         text   PRIMARY KEY,
  credited_cents   bigint NOT NULL DEFAULT 0,
  spent_cents      bigint NOT NULL DEFAULT 0,
  expired_cents    bigint NOT NULL DEFAULT 0,
  reserved_cents   bigint NOT NULL DEFAULT 0,
  available_cents  bigint NOT NULL DEFAULT 0
);

-- Who did what: one row per applied event of the accounts and ledger topics
-- (the event's envelope id), with the actor the envelope names ("" = the
-- system: NULL), a stable action code and what a person needs to read it.
CREATE TABLE history (
  event_id     uuid PRIMARY KEY,
  occurred_at  timestamptz NOT NULL,
  action       text NOT NULL,
  actor_id     uuid,
  actor_role   text,
  partner_id   uuid,
  pass_id      uuid,
  details      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX history_partner ON history (partner_id, occurred_at DESC, event_id DESC)
  WHERE partner_id IS NOT NULL;
CREATE INDEX history_pass ON history (pass_id, occurred_at DESC, event_id DESC)
  WHERE pass_id IS NOT NULL;
