-- The e-mails of refund requests (P18-P20): the notifications service mails
-- a partner's administrators when one of its refund requests is confirmed
-- (refund_requested, from ledger.RefundRequestConfirmed.v1) and when it is
-- paid (refund_paid, from ledger.RefundRequestPaid.v1). Still one row per
-- (event, kind): each e-mail once, whatever the restarts and replays.
ALTER TABLE notification_mails DROP CONSTRAINT notification_mails_kind_check;
ALTER TABLE notification_mails ADD CONSTRAINT notification_mails_kind_check
  CHECK (kind IN ('activation','password_reset','payment_received','voucher_redeemed',
                  'refund_requested','refund_paid'));
