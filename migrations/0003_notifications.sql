-- The notifications service's outbox and record of sent e-mails. Not a read
-- model: the projection's --rebuild leaves it alone, so that replaying the
-- log never mails anyone twice. One row per event that asks for an e-mail,
-- keyed by the event's envelope id; written when the event is consumed
-- (before its offset is committed), updated by every delivery attempt.

CREATE TABLE notification_mails (
  event_id          text PRIMARY KEY,                 -- envelope id of the event
  kind              text NOT NULL CHECK (kind IN ('activation','password_reset','payment_received')),
  params            jsonb NOT NULL,                   -- what the template needs, from the event
  source_topic      text NOT NULL,
  source_partition  integer NOT NULL CHECK (source_partition >= 0),
  source_offset     bigint NOT NULL CHECK (source_offset >= 0),
  original          bytea NOT NULL,                   -- the event's bytes, for a dead letter
  status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','sent','dead_lettered')),
  attempts          integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at   timestamptz NOT NULL,
  recipient         text,                             -- where it went (or was refused)
  last_error        text,                             -- the SMTP server's or libcurl's words
  created_at        timestamptz NOT NULL,
  done_at           timestamptz                       -- sent or dead-lettered
);
CREATE INDEX notification_mails_due ON notification_mails (next_attempt_at) WHERE status = 'pending';
