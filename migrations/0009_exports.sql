-- Partner exports (P22): one row per export a partner asked for, written
-- only by the exports service (solipass-exports) from the commands of
-- solipass.exports.commands.v1, and read by the gateway (the Exports tab,
-- downloads). Not a read model of the log: --rebuild leaves it alone, and
-- its files live in SP_EXPORTS_DIR.
CREATE TABLE exports (
  export_id     uuid PRIMARY KEY,
  partner_id    uuid   NOT NULL,
  requested_by  uuid   NOT NULL,                     -- the user who asked
  command_id    text   NOT NULL,
  kind          text   NOT NULL CHECK (kind IN ('operations', 'refund_requests')),
  filters       jsonb  NOT NULL,                     -- canonical: only the filters set
  status        text   NOT NULL CHECK (status IN ('pending', 'ready', 'failed', 'deleted', 'expired')),
  reason        text   NOT NULL DEFAULT '',          -- why it failed
  row_count     bigint CHECK (row_count >= 0),       -- data rows, header not counted
  size_bytes    bigint CHECK (size_bytes >= 0),
  file_name     text   NOT NULL CHECK (file_name ~ '^[0-9a-f-]{36}\.csv$'),
  requested_at  timestamptz NOT NULL,
  ready_at      timestamptz,
  expires_at    timestamptz NOT NULL,
  deleted_at    timestamptz,
  expired_at    timestamptz,
  CHECK ((status = 'ready') = (ready_at IS NOT NULL AND deleted_at IS NULL AND expired_at IS NULL)),
  CHECK ((status = 'deleted') = (deleted_at IS NOT NULL)),
  CHECK ((status = 'expired') = (expired_at IS NOT NULL)),
  CHECK (status <> 'failed' OR reason <> '')
);
-- The Exports tab: a partner's exports, newest first.
CREATE INDEX exports_partner ON exports (partner_id, requested_at DESC, export_id);
-- The work: pending exports oldest first; exports to purge by expiry.
CREATE INDEX exports_pending ON exports (requested_at, export_id) WHERE status = 'pending';
CREATE INDEX exports_expiry ON exports (expires_at) WHERE status IN ('pending', 'ready', 'failed');
