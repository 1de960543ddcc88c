-- Refund requests (P18-P20): ledger.RefundRequest*.v1 build refund_requests,
-- ledger.OpenRefundRequest's parts and the per-pass events
-- (ledger.OperationsReserved/Released/Settled.v1, a refused
-- ledger.ReserveOperations.v1) build refund_request_parts, and move each
-- operation through accepted -> requested -> paid (or back to accepted).
-- The partner's owed_cents stays "accepted + requested, not paid": a
-- reservation moves money between two accounts that both count as owed,
-- only a settlement lowers it.

ALTER TABLE operations DROP CONSTRAINT operations_status;
ALTER TABLE operations ADD COLUMN refund_request_id uuid;
ALTER TABLE operations ADD COLUMN paid_at timestamptz;
ALTER TABLE operations ADD CONSTRAINT operations_status
  CHECK (status IN ('accepted', 'requested', 'paid', 'cancelled')
         AND (status = 'cancelled') = (cancelled_at IS NOT NULL)
         AND (status = 'paid') = (paid_at IS NOT NULL)
         AND (status IN ('requested', 'paid')) = (refund_request_id IS NOT NULL));
CREATE INDEX operations_refund_request ON operations (refund_request_id, occurred_at DESC, operation_id)
  WHERE refund_request_id IS NOT NULL;

CREATE TABLE refund_requests (
  request_id            uuid PRIMARY KEY,
  partner_id            uuid   NOT NULL,
  kind                  text   NOT NULL CHECK (kind IN ('manual', 'automatic')),
  period                text   NOT NULL DEFAULT '' CHECK (period = '' OR period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
  status                text   NOT NULL CHECK (status IN ('opening', 'pending', 'paid', 'cancelled')),
  expected_total_cents  bigint NOT NULL CHECK (expected_total_cents >= 0),
  total_cents           bigint NOT NULL DEFAULT 0 CHECK (total_cents >= 0),
  operation_count       bigint NOT NULL DEFAULT 0 CHECK (operation_count >= 0),
  part_count            integer NOT NULL CHECK (part_count >= 1),
  bank_account_missing  boolean NOT NULL DEFAULT false,
  requested_by          uuid,                          -- the actor; NULL = the monthly run
  cancel_reason         text   NOT NULL DEFAULT '' CHECK (cancel_reason IN ('', 'partner', 'aborted')),
  cancel_code           text   NOT NULL DEFAULT '',
  cancel_message        text   NOT NULL DEFAULT '',
  cancel_operation_id   uuid,
  transfer_reference    text   NOT NULL DEFAULT '',
  paid_on               date,
  created_at            timestamptz NOT NULL,
  confirmed_at          timestamptz,
  cancelled_at          timestamptz,
  paid_at               timestamptz,
  version               bigint NOT NULL CHECK (version >= 1),
  CHECK ((status = 'paid') = (paid_at IS NOT NULL)),
  CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL))
);
CREATE INDEX refund_requests_partner ON refund_requests (partner_id, created_at DESC, request_id);
CREATE INDEX refund_requests_status ON refund_requests (status, created_at);
-- The monthly run: at most one automatic request per partner and period.
CREATE UNIQUE INDEX refund_requests_period ON refund_requests (partner_id, period) WHERE kind = 'automatic';

-- One row per pass a request covers: what was asked of it and what it did.
CREATE TABLE refund_request_parts (
  request_id       uuid   NOT NULL REFERENCES refund_requests,
  pass_id          uuid   NOT NULL,
  operation_ids    uuid[] NOT NULL,                  -- as asked
  status           text   NOT NULL CHECK (status IN ('asked', 'reserved', 'refused', 'released', 'settled')),
  amount_cents     bigint NOT NULL DEFAULT 0 CHECK (amount_cents >= 0),   -- reserved
  operation_count  integer NOT NULL DEFAULT 0 CHECK (operation_count >= 0),
  refusal_code     text   NOT NULL DEFAULT '',
  refusal_message  text   NOT NULL DEFAULT '',
  refusal_operation_id uuid,
  updated_at       timestamptz NOT NULL,
  PRIMARY KEY (request_id, pass_id)
);
CREATE INDEX refund_request_parts_status ON refund_request_parts (status, request_id)
  WHERE status IN ('asked', 'reserved');
