-- Conventions (agreements between the city and its partners) and their
-- acceptances: read models built by the projection from
-- accounts.ConventionPublished and accounts.ConventionAccepted. The
-- transactions service keeps its own copy (its partner directory) to refuse
-- payments to a partner that has not accepted a mandatory convention in force.

CREATE TABLE conventions (
  convention_id   uuid PRIMARY KEY,
  title           text    NOT NULL CHECK (title <> ''),
  version         text    NOT NULL CHECK (version <> ''),
  body            text    NOT NULL,                 -- the text, at most 32 KiB
  effective_date  date    NOT NULL,                 -- Europe/Paris: in force from that day
  mandatory       boolean NOT NULL,
  published_by    uuid    NOT NULL,
  published_at    timestamptz NOT NULL
);
CREATE INDEX conventions_published ON conventions (published_at DESC, convention_id);

CREATE TABLE convention_acceptances (
  partner_id      uuid NOT NULL,
  convention_id   uuid NOT NULL REFERENCES conventions (convention_id),
  version         text NOT NULL,                    -- the version accepted
  accepted_by     uuid NOT NULL,                    -- the partner administrator
  accepted_at     timestamptz NOT NULL,
  PRIMARY KEY (partner_id, convention_id)
);
