-- The partner space: a structure's profile and images, and its users'
-- roles and removal. The partners and users columns are read models built by
-- the projection from PartnerProfileUpdated, PartnerImageSet,
-- UserRoleChanged and UserRemoved.

ALTER TABLE partners
  ADD COLUMN legal_name        text   NOT NULL DEFAULT '',
  ADD COLUMN description       text   NOT NULL DEFAULT '',
  ADD COLUMN website           text   NOT NULL DEFAULT '',
  ADD COLUMN social_links      text[] NOT NULL DEFAULT '{}',
  ADD COLUMN hq_address        text   NOT NULL DEFAULT '',
  ADD COLUMN activity_address  text   NOT NULL DEFAULT '',   -- '': beneficiaries see hq_address
  ADD COLUMN contact_phone     text   NOT NULL DEFAULT '',
  ADD COLUMN contact_email     text   NOT NULL DEFAULT '',
  ADD COLUMN iban              text   NOT NULL DEFAULT '',
  ADD COLUMN bic               text   NOT NULL DEFAULT '',
  ADD COLUMN bank_holder       text   NOT NULL DEFAULT '',
  ADD COLUMN logo_sha256       text,                         -- a media row
  ADD COLUMN logo_type         text,
  ADD COLUMN cover_sha256      text,
  ADD COLUMN cover_type        text,
  -- the partner aggregate's version of the last profile or image event applied
  ADD COLUMN profile_version   bigint NOT NULL DEFAULT 1 CHECK (profile_version >= 1);

-- A removed user cannot log in; its sessions were ended with it.
ALTER TABLE users ADD COLUMN removed_at timestamptz;
CREATE INDEX users_partner ON users (partner_id, created_at) WHERE partner_id IS NOT NULL;

-- Uploaded images (logos, cover photos), content-addressed: written by the
-- gateway before the command that names them, never changed (same bytes,
-- same key) and never business state, so not a read model: --rebuild leaves
-- it alone and the log carries only the SHA-256.
CREATE TABLE media (
  sha256        text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  content_type  text NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg')),
  bytes         bytea NOT NULL CHECK (octet_length(bytes) > 0),
  width         integer NOT NULL CHECK (width > 0),
  height        integer NOT NULL CHECK (height > 0),
  created_at    timestamptz NOT NULL DEFAULT now()
);
