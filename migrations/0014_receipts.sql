-- Signed payment receipts (docs/api.md, Receipts): the receipt text the
-- ledger signed, kept with its payment so that the pass's operations list
-- shows it and a verification can say what became of that payment. NULL for
-- other operations and for payments made before receipts existed.
ALTER TABLE operations ADD COLUMN receipt text
  CHECK (receipt IS NULL OR (kind = 'payment' AND length(receipt) <= 200));
