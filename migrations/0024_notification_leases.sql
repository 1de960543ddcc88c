-- A mail row taken for sending names the PostgreSQL session that took it
-- (its backend's pid and start). When that session is gone - the sender was
-- killed and its connection closed - the row is due again at once, instead
-- of when its two-minute lease ends. A row whose outcome is recorded drops
-- its lease, so the leased rows stay the few being sent (the index below).
ALTER TABLE notification_mails
  ADD COLUMN leased_by_pid integer,
  ADD COLUMN leased_by_start timestamptz;
CREATE INDEX notification_mails_leased ON notification_mails (leased_by_pid)
  WHERE status = 'pending' AND leased_by_pid IS NOT NULL;
