-- A refund request and the passes it covers are different aggregates on
-- different partitions of solipass.ledger.events.v1. Live, a pass's
-- OperationsReserved always follows its request's RefundRequestOpened (the
-- refunds service sends the reservation only once the request shows), but a
-- replay from offset zero (--rebuild) reads the partitions in any
-- interleaving: a part's outcome may then arrive before its request row.
-- Each side therefore upserts the part row (the request fills what was
-- asked, the pass what it did), which the foreign key would refuse.
ALTER TABLE refund_request_parts DROP CONSTRAINT refund_request_parts_request_id_fkey;

-- What the refunds service looks for every poll: the reserved parts of the
-- requests that were cancelled (to release) or paid (to settle). The request
-- events copy its status onto its parts, so that this is one small partial
-- index, whatever the history of requests. NULL until the request is seen.
ALTER TABLE refund_request_parts ADD COLUMN request_status text
  CHECK (request_status IN ('opening', 'pending', 'paid', 'cancelled'));
CREATE INDEX refund_request_parts_to_finish ON refund_request_parts (request_status, request_id, pass_id)
  WHERE status = 'reserved' AND request_status IN ('cancelled', 'paid');
