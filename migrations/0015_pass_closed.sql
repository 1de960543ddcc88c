-- A pass closed when its beneficiary left the program: its envelopes went
-- back to the budget and it can no longer pay.
ALTER TABLE passes ADD COLUMN closed_at timestamptz;
