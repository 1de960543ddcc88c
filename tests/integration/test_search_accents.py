"""The back office's searches ignore accents and case: "eloise" finds
"Éloïse", "Lefèvre" finds "Lefevre", "cafe oeuvre" finds "Café Œuvre", in
the beneficiaries' and the partners' lists, and the unaccented names keep
their trigram index (migration 0023)."""
import uuid

from solipass_api import PASSWORD, new_key, unique_email, wait_until
from test_backoffice_lists import quoted


def enrol(backoffice, full_name):
    answer = backoffice.post("/api/v1/beneficiaries", {
        "email": unique_email("accent"), "password": PASSWORD, "full_name": full_name,
        "envelopes": [{"category": "general"}]}, key=new_key())
    assert answer.status_code == 201, answer.text
    return answer.json()


def found(backoffice, path, member, q, key):
    answer = backoffice.get("%s?q=%s" % (path, quoted(q)))
    assert answer.status_code == 200, answer.text
    return [row[key] for row in answer.json()[member]]


def test_beneficiaries_are_found_with_or_without_accents(world, backoffice):
    tag = "zq" + uuid.uuid4().hex[:6]
    accented = enrol(backoffice, "Éloïse Bérénice %s" % tag)
    plain = enrol(backoffice, "Eloise Lefevre %s" % tag)

    def search(q):
        return found(backoffice, "/api/v1/beneficiaries", "beneficiaries", q, "user_id")

    wait_until(lambda: len(search(tag)) == 2, "both beneficiaries in the list")
    assert search("eloise berenice " + tag) == [accented["user_id"]]
    assert search("ÉLOÏSE BÉRÉNICE " + tag.upper()) == [accented["user_id"]]
    assert search("Lefèvre " + tag) == [plain["user_id"]]
    both = set(search("eloïse"))
    assert {accented["user_id"], plain["user_id"]} <= both
    assert search("eloisa " + tag) == []
    # A wildcard typed is still a character, not a pattern.
    assert search("elo%se " + tag) == []


def test_partners_are_found_with_or_without_accents(world, backoffice):
    tag = "zq" + uuid.uuid4().hex[:6]
    cafe = world.create_partner(backoffice, "culture", "Café Œuvre %s" % tag)
    theatre = world.create_partner(backoffice, "culture", "Theatre des Halles %s" % tag)

    def search(q):
        return found(backoffice, "/api/v1/partners", "partners", q, "partner_id")

    wait_until(lambda: len(search(tag)) == 2, "both partners in the list")
    assert search("cafe oeuvre " + tag) == [cafe["partner_id"]]
    assert search("CAFÉ ŒUVRE " + tag.upper()) == [cafe["partner_id"]]
    assert search("Théâtre des Hallés " + tag) == [theatre["partner_id"]]
    assert search("theatre du " + tag) == []


def test_the_unaccented_names_keep_their_index(world):
    defs = dict(world.sql_rows(
        "SELECT indexname, indexdef FROM pg_indexes WHERE indexname IN "
        "('users_beneficiaries_name_unaccent_trgm', 'partners_name_unaccent_trgm')"))
    assert "gin (sp_unaccent(full_name) gin_trgm_ops)" in defs["users_beneficiaries_name_unaccent_trgm"]
    assert "gin (sp_unaccent(name) gin_trgm_ops)" in defs["partners_name_unaccent_trgm"]
    # The partners' search takes its index (no sequential scan allowed).
    plan = world.sql("SET enable_seqscan = off; EXPLAIN SELECT partner_id FROM partners "
                     "WHERE sp_unaccent(name) ILIKE '%' || sp_unaccent('Café') || '%'")
    assert "partners_name_unaccent_trgm" in plan, plan
    # The beneficiaries' too, where nothing cheaper competes: the test's users
    # are few, so their name-order index wins; a probe table holds only the
    # trigram one.
    plan = world.sql(
        "CREATE TEMP TABLE probe (LIKE users); "
        "CREATE INDEX probe_trgm ON probe USING gin (sp_unaccent(full_name) gin_trgm_ops) "
        "WHERE role = 'beneficiary'; SET enable_seqscan = off; "
        "EXPLAIN SELECT user_id FROM probe WHERE role = 'beneficiary' "
        "AND sp_unaccent(full_name) ILIKE '%' || sp_unaccent('Éloïse') || '%'")
    assert "probe_trgm" in plan, plan
    assert world.sql("SELECT sp_unaccent('Éloïse Œuvre Ça')") == "Eloise OEuvre Ca"
