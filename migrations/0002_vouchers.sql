-- Exchange vouchers (bons d'échange) and the channel of a payment.
-- Built by the projection from the ledger's Voucher* events; the gateway
-- finds a voucher's pass by its number here before sending RedeemVoucher to
-- that pass's ledger partition.

CREATE TABLE vouchers (
  voucher_id           uuid PRIMARY KEY,
  pass_id              uuid   NOT NULL REFERENCES passes,
  number               text   NOT NULL CHECK (number ~ '^[1-9][0-9]{15}$'),
  category             text   NOT NULL,                -- the envelope it was reserved from
  amount_cents         bigint NOT NULL CHECK (amount_cents > 0),
  partner_id           uuid,                           -- the only partner allowed; NULL = any
  status               text   NOT NULL CHECK (status IN ('active','redeemed','cancelled','expired')),
  valid_until          date   NOT NULL,                -- last day (Europe/Paris) it can be redeemed
  issued_at            timestamptz NOT NULL,
  closed_at            timestamptz,                    -- redeemed, cancelled or expired at
  redeemed_partner_id  uuid,
  operation_id         uuid                            -- the payment it became
);
-- Not unique: numbers are random (about 2^49.7 of them), and a collision
-- must not stop the projection; the gateway prefers the active voucher.
CREATE INDEX vouchers_number ON vouchers (number);
CREATE INDEX vouchers_pass ON vouchers (pass_id, issued_at DESC, voucher_id);

-- How a payment was made: 'code' (the beneficiary typed or scanned the
-- partner's code) or 'voucher' (the partner redeemed a voucher). NULL for
-- credits and expiries.
ALTER TABLE operations ADD COLUMN channel text;
UPDATE operations SET channel = 'code' WHERE kind = 'payment';
ALTER TABLE operations ADD CONSTRAINT operations_channel
  CHECK (channel IN ('code', 'voucher') AND (kind = 'payment') = (channel IS NOT NULL));
