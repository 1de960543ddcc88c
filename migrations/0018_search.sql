-- The back-office's beneficiaries list: paged by name (keyset on full_name,
-- user_id) and searched with q on the name or the e-mail (ILIKE '%q%',
-- served by trigram indexes). Measured with 20,000 beneficiaries: a search
-- goes from a scan of every user to an index lookup (tests/bench/backoffice_search).
-- pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it.
-- fastupdate off: an enrolment is rare and a search is what must stay quick, so
-- new rows go straight into the trigram indexes rather than into a pending list
-- that every search would read until the next vacuum.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX users_beneficiaries_by_name ON users (full_name, user_id)
  WHERE role = 'beneficiary';
CREATE INDEX users_beneficiaries_name_trgm ON users USING gin (full_name gin_trgm_ops)
  WITH (fastupdate = off) WHERE role = 'beneficiary';
CREATE INDEX users_beneficiaries_email_trgm ON users USING gin (email gin_trgm_ops)
  WITH (fastupdate = off) WHERE role = 'beneficiary';
