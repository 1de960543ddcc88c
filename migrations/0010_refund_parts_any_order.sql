-- A refund request and the passes it covers are different aggregates on
-- different partitions of solipass.ledger.events.v1. Live, a pass's
-- OperationsReserved always follows its request's RefundRequestOpened (the
-- refunds service sends the reservation only once the request shows), but a
-- replay from offset zero (--rebuild) reads the partitions in any
-- interleaving: a part's outcome may then arrive before its request row.
-- Each side therefore upserts the part row (the request fills what was
-- asked, the pass what it did), which the foreign key would refuse.
ALTER TABLE refund_request_parts DROP CONSTRAINT refund_request_parts_request_id_fkey;
