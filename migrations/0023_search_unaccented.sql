-- The back-office's searches ignore accents: "eloise" finds "Éloïse" and the
-- reverse. Both sides of the ILIKE go through sp_unaccent (PostgreSQL's
-- unaccent dictionary: é, è, ï, ç, œ ... to their letters), then ILIKE folds
-- the case. unaccent is a trusted extension of PostgreSQL's contrib modules
-- (in Debian's postgresql-NN package): the database's owner may create it.
--
-- unaccent() itself is only STABLE (its dictionary could change), so an
-- index cannot use it: sp_unaccent is the IMMUTABLE wrapper with the
-- dictionary named in full, written with the extension's own schema so that
-- it resolves whatever the search_path of its caller (a replay's swap runs
-- with the live schema only).
CREATE EXTENSION IF NOT EXISTS unaccent;
DO $$
DECLARE
  home text;
BEGIN
  SELECT n.nspname INTO STRICT home FROM pg_extension e
    JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'unaccent';
  EXECUTE format('CREATE FUNCTION sp_unaccent(text) RETURNS text LANGUAGE sql IMMUTABLE STRICT '
                 'PARALLEL SAFE AS %L',
                 format('SELECT %I.unaccent(%L::regdictionary, $1)', home,
                        quote_ident(home) || '.unaccent'));
END
$$;

-- The trigram indexes of 0018 on the names, now on their unaccented form
-- (the e-mail stays as it is: an address has no accents to ignore).
DROP INDEX users_beneficiaries_name_trgm;
CREATE INDEX users_beneficiaries_name_unaccent_trgm ON users
  USING gin (sp_unaccent(full_name) gin_trgm_ops)
  WITH (fastupdate = off) WHERE role = 'beneficiary';
CREATE INDEX partners_name_unaccent_trgm ON partners
  USING gin (sp_unaccent(name) gin_trgm_ops) WITH (fastupdate = off);
