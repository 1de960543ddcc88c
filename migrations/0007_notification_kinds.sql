-- One event may ask for several e-mails: a redeemed exchange voucher mails
-- the partner (payment_received) and the beneficiary (voucher_redeemed).
-- The outbox is therefore keyed by (event, kind): still exactly one e-mail
-- of each kind per event, whatever the restarts and replays.
ALTER TABLE notification_mails DROP CONSTRAINT notification_mails_pkey;
ALTER TABLE notification_mails ADD PRIMARY KEY (event_id, kind);
ALTER TABLE notification_mails DROP CONSTRAINT notification_mails_kind_check;
ALTER TABLE notification_mails ADD CONSTRAINT notification_mails_kind_check
  CHECK (kind IN ('activation','password_reset','payment_received','voucher_redeemed'));
