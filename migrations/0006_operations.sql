-- Partner operations: the partner's internal reference on a payment
-- (ledger.OperationReferenceSet.v1, '' = none) and the cancellation of a
-- payment (ledger.OperationCancelled.v1: status 'cancelled', never changed
-- again). Refund states come later and will widen the status check.
ALTER TABLE operations ADD COLUMN reference text NOT NULL DEFAULT ''
  CHECK (char_length(reference) <= 100);
ALTER TABLE operations ADD COLUMN cancelled_at timestamptz;
ALTER TABLE operations ADD CONSTRAINT operations_status
  CHECK (status IN ('accepted', 'cancelled')
         AND (status = 'cancelled') = (cancelled_at IS NOT NULL));

-- The partner listing filters by status and by exact reference within a
-- partner, newest first (the keyset order of the paging).
CREATE INDEX operations_partner_status ON operations (partner_id, status, occurred_at DESC, operation_id)
  WHERE partner_id IS NOT NULL;
CREATE INDEX operations_partner_reference ON operations (partner_id, reference)
  WHERE partner_id IS NOT NULL AND reference <> '';
