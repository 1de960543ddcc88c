-- The monthly run's batch (P19): every accepted operation of the month goes
-- into the automatic refund batch, and one request holds at most
-- SP_REFUND_REQUEST_OPERATIONS_MAX operations (one envelope), so a partner
-- may have several automatic requests for one period, each with its own
-- derived id (request k of (partner, period)). Once per partner and period
-- is kept by those ids (the primary key), no longer by (partner_id, period):
-- the unique index becomes a plain one, which the monthly run still reads.
DROP INDEX refund_requests_period;
CREATE INDEX refund_requests_period ON refund_requests (partner_id, period) WHERE kind = 'automatic';
