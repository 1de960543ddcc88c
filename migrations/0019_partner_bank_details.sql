-- Every set of bank details a partner has given, from the time of the change
-- (the PartnerProfileUpdated event's time): a refund request is paid to the
-- details its partner had when the request was made, not to details changed
-- afterwards (a stolen partner account cannot redirect money already asked
-- for). Partners whose details were set before this table existed have no
-- row until their next change (or a replay, which builds every row from the
-- log); their requests are paid to their current details, as before.
CREATE TABLE partner_bank_details (
  partner_id       uuid   NOT NULL REFERENCES partners,
  profile_version  bigint NOT NULL CHECK (profile_version >= 1),
  valid_from       timestamptz NOT NULL,
  iban             text   NOT NULL,
  bic              text   NOT NULL,
  bank_holder      text   NOT NULL,
  PRIMARY KEY (partner_id, profile_version)
);
CREATE INDEX partner_bank_details_time ON partner_bank_details (partner_id, valid_from DESC);
