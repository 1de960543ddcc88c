-- The e-mail of a cancelled payment (P15): the notifications service tells
-- the beneficiary when a partner cancels one of their payments
-- (operation_cancelled, from ledger.OperationCancelled.v1): the amount and
-- whether it is back on the pass. Still one row per (event, kind): each
-- e-mail once, whatever the restarts and replays.
ALTER TABLE notification_mails DROP CONSTRAINT notification_mails_kind_check;
ALTER TABLE notification_mails ADD CONSTRAINT notification_mails_kind_check
  CHECK (kind IN ('activation','password_reset','payment_received','voucher_redeemed',
                  'refund_requested','refund_paid','operation_cancelled'));
