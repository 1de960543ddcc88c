-- Read models built by the projection service from the log. The gateway
-- only reads them. Every table can be dropped and rebuilt from offset zero.

CREATE TABLE projection_offsets (
  consumer     text    NOT NULL,            -- 'projection'
  topic        text    NOT NULL,
  partition    integer NOT NULL CHECK (partition >= 0),
  next_offset  bigint  NOT NULL CHECK (next_offset >= 0),
  PRIMARY KEY (consumer, topic, partition)
);

CREATE TABLE partners (
  partner_id    uuid PRIMARY KEY,
  partner_code  text   NOT NULL UNIQUE CHECK (partner_code ~ '^[1-9][0-9]{7}$'),
  name          text   NOT NULL,
  category      text   NOT NULL,
  owed_cents    bigint NOT NULL DEFAULT 0 CHECK (owed_cents >= 0),
  created_at    timestamptz NOT NULL
);

CREATE TABLE users (
  user_id        uuid PRIMARY KEY,
  email          text NOT NULL UNIQUE,
  password_hash  text NOT NULL,
  full_name      text NOT NULL,
  role           text NOT NULL CHECK (role IN ('backoffice','partner_admin','partner_user','beneficiary','finance')),
  partner_id     uuid REFERENCES partners,
  pass_id        uuid,
  created_at     timestamptz NOT NULL
);

CREATE TABLE sessions (
  token_hash  bytea PRIMARY KEY,
  user_id     uuid NOT NULL REFERENCES users,
  expires_at  timestamptz NOT NULL,
  ended_at    timestamptz
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE passes (
  pass_id         uuid PRIMARY KEY,
  beneficiary_id  uuid NOT NULL,
  balance_cents   bigint NOT NULL CHECK (balance_cents >= 0),
  version         bigint NOT NULL CHECK (version >= 1),   -- aggregate version of the last applied event
  opened_at       timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL
);

CREATE TABLE envelopes (
  pass_id        uuid   NOT NULL REFERENCES passes,
  category       text   NOT NULL,
  balance_cents  bigint NOT NULL CHECK (balance_cents >= 0),
  end_date       date,
  expired        boolean NOT NULL DEFAULT false,
  PRIMARY KEY (pass_id, category)
);

-- Every movement a person sees: payments, credits, envelope expiries.
CREATE TABLE operations (
  operation_id               uuid PRIMARY KEY,
  kind                       text   NOT NULL CHECK (kind IN ('payment','credit','expiry')),
  status                     text   NOT NULL DEFAULT 'accepted',
  pass_id                    uuid   NOT NULL,
  partner_id                 uuid,
  category                   text   NOT NULL,
  amount_cents               bigint NOT NULL CHECK (amount_cents >= 0),
  pass_balance_after_cents   bigint NOT NULL CHECK (pass_balance_after_cents >= 0),
  command_id                 text   NOT NULL,
  occurred_at                timestamptz NOT NULL,
  event_topic                text   NOT NULL,
  event_partition            integer NOT NULL,
  event_offset               bigint NOT NULL
);
CREATE INDEX operations_pass ON operations (pass_id, occurred_at DESC, operation_id);
CREATE INDEX operations_partner ON operations (partner_id, occurred_at DESC, operation_id) WHERE partner_id IS NOT NULL;

-- Balance of every ledger account, from the postings of the events: the audit
-- checks that they sum to zero and match passes/envelopes/partners.
CREATE TABLE ledger_balances (
  account        text PRIMARY KEY,
  balance_cents  bigint NOT NULL
);
