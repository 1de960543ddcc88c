-- The e-mail of a closed pass: the notifications service tells the
-- beneficiary that the city closed their pass (pass_closed, from
-- ledger.PassClosed.v1) and that its balance went back to the budget. Still
-- one row per (event, kind): each e-mail once, whatever the restarts and
-- replays.
ALTER TABLE notification_mails DROP CONSTRAINT notification_mails_kind_check;
ALTER TABLE notification_mails ADD CONSTRAINT notification_mails_kind_check
  CHECK (kind IN ('activation','password_reset','payment_received','voucher_redeemed',
                  'refund_requested','refund_paid','operation_cancelled','pass_closed'));
