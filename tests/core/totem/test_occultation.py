"""Occultation of personal data (CRPA art. L311-7): checked against an independent oracle.

The oracle (tests/support/occultation_oracle.py) reads both documents as trees and applies the rules by their
meaning: every element the rules designate must hold only the replacement, and every other element,
attribute and text must be unchanged.
"""
from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from lxml import etree

from ckanext.budgetod.core.errors import BudgetodError, DocumentError
from ckanext.budgetod.core.scdl.conversion import convert_document
from ckanext.budgetod.core.totem import occultation
from ckanext.budgetod.core.totem.occultation import RulesError, load_rules, occult_document
from tests.support.occultation_oracle import REPLACEMENT, assert_occulted, codes
from tests.support.settings import offline_settings
from tests.support.shared import BROKEN_DIR, CORPUS
from tests.support.totem_factory import personal_document as generated
from tests.support.totem_factory import totem_document, write_plan

pytestmark = pytest.mark.usefixtures("offline_environment")

def occulted_bytes(source, **options) -> tuple[bytes, occultation.OccultationResult]:
    output = io.BytesIO()
    result = occult_document(source, output, **options)
    return output.getvalue(), result


# ---------------------------------------------------------------- the real corpus

@pytest.mark.parametrize("source", CORPUS, ids=lambda path: path.name)
def test_every_designated_value_of_the_corpus_is_occulted_and_nothing_else(source):
    occulted, result = occulted_bytes(source)
    assert assert_occulted(source.read_bytes(), occulted) == result.total


def test_the_named_persons_of_the_corpus_are_gone():
    crach, result = occulted_bytes(next(path for path in CORPUS if path.name == "crach-principal-ca-2021.xml"))
    assert "BERTIN Adélie".encode("iso-8859-1") not in crach and result.counts["concours"] == 1
    mohon, result = occulted_bytes(next(path for path in CORPUS if path.name == "mohon-cfu-2023.xml"))
    beneficiaries = etree.parse(str(next(path for path in CORPUS if path.name == "mohon-cfu-2023.xml")))
    # No row of Mohon's says its beneficiary's legal nature: all of them are occulted (36 are persons).
    rows = list(beneficiaries.iter("{*}CONCOURS"))
    assert len(rows) == 37 and not any(codes(row, "CodNatJurBenefCA") for row in rows)
    assert result.counts["concours"] == 37
    for row in rows:
        name = next(row.iter("{*}LibOrgaBenef")).get("V")
        assert name.encode("utf-8") not in mohon


@pytest.mark.parametrize("source", CORPUS, ids=lambda path: path.name)
def test_the_occulted_document_converts_to_the_same_csv_bytes(source, tmp_path):
    occulted = tmp_path / source.name
    occult_document(source, occulted)
    convert_document(source, tmp_path / "original.csv", offline_settings())
    convert_document(occulted, tmp_path / "occulted.csv", offline_settings())
    assert (tmp_path / "original.csv").read_bytes() == (tmp_path / "occulted.csv").read_bytes()


@pytest.mark.parametrize("source", CORPUS, ids=lambda path: path.name)
def test_occultation_is_idempotent_and_keeps_the_prolog(source, tmp_path):
    once, _ = occulted_bytes(source)
    (tmp_path / "once.xml").write_bytes(once)
    twice, _ = occulted_bytes(tmp_path / "once.xml")
    assert twice == once
    original = source.read_bytes()
    assert once[:once.index(b"?>")] == original[:original.index(b"?>")]


# ---------------------------------------------------------------- every rule, generated

GENERATED_PERSONS = ["Jean Provision", "4321.09", "Jeanne Organisme", "Pierre Apres-Code", "Paul Sans-Code",
                     "Marie Reference", "Luc Code-Vide", "Emile Emprunteur", "Hugo Garanti", "Ines Sans-Type",
                     "Mme Kim", "M. Leo", "M-Noe", "Olga Proprietaire", "Remi Editeur", "Sarah", "Theo Espaces"]
KEPT = ["Association des amis", "CCAS de Crach", "Office HLM", "Garantie HLM", "5 &gt; 4", "EmploiGradeAgent"]
# Comments and processing instructions are dropped, whatever they hold.
DROPPED = ["comment text", "pi text"]


VARIANTS = {
    "utf-8": {},
    "iso-8859-1": {"encoding": "ISO-8859-1"},
    "prefixed": {"prefixed": True},
    "prefixed-iso-8859-1": {"encoding": "ISO-8859-1", "prefixed": True},
    "cfu": {"cfu": True},
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_rule_on_generated_documents(variant, tmp_path):
    source = tmp_path / "document.xml"
    source.write_bytes(generated(**VARIANTS[variant]))
    occulted, result = occulted_bytes(source)
    encoding = VARIANTS[variant].get("encoding", "UTF-8")
    text = occulted.decode(encoding)
    assert assert_occulted(source.read_bytes(), occulted) == result.total
    for person in GENERATED_PERSONS:
        assert person not in text, person
    for kept in KEPT:
        assert kept in text, kept
    for dropped in DROPPED:
        assert dropped not in text, dropped
    assert result.counts == {"provision": 2, "personnel": 1, "organisme_eng": 2, "concours": 8, "pret": 1,
                             "autre_engagement": 3, "credit_bail": 1, "dette": 1, "piece_jointe": 1,
                             "champ_editeur": 2, "membre_asa": 1}
    assert text.count(REPLACEMENT) == 24  # 23 elements, one of them with two attributes
    assert "CRACH Élysée" in text  # the collectivité's name is no personal data


@pytest.mark.parametrize("variant", ["utf-8", "prefixed-iso-8859-1"])
def test_generated_documents_convert_to_the_same_csv(variant, tmp_path):
    plans = tmp_path / "plans"
    write_plan(plans)
    source = tmp_path / "document.xml"
    source.write_bytes(generated(**VARIANTS[variant]))
    occult_document(source, tmp_path / "occulted.xml")
    convert_document(source, tmp_path / "original.csv", offline_settings(plans))
    convert_document(tmp_path / "occulted.xml", tmp_path / "occulted.csv", offline_settings(plans))
    assert (tmp_path / "original.csv").read_bytes() == (tmp_path / "occulted.csv").read_bytes()


@pytest.mark.parametrize("chunk_size", [1, 2, 7, 64, 4096])
def test_chunk_boundaries_change_nothing(chunk_size, monkeypatch, tmp_path):
    source = tmp_path / "document.xml"
    source.write_bytes(generated(prefixed=True))
    expected, expected_result = occulted_bytes(source)
    monkeypatch.setattr(occultation, "CHUNK_SIZE", chunk_size)
    occulted, result = occulted_bytes(source)
    assert occulted == expected and result.counts == expected_result.counts


def test_a_row_too_long_to_hold_is_occulted_whatever_its_code(monkeypatch, tmp_path):
    source = tmp_path / "document.xml"
    row = '<CONCOURS><LibOrgaBenef V="Association Longue"/>' + "<MtSubv V=\"1.00\"/>" * 200 + \
          '<CodNatJurBenefCA V="P1"/></CONCOURS>'
    source.write_bytes(totem_document(annexes=f"<DATA_CONCOURS>{row}</DATA_CONCOURS>"))
    occulted, result = occulted_bytes(source)
    assert b"Association Longue" in occulted and result.total == 0
    monkeypatch.setattr(occultation, "ROW_HOLD_LIMIT", 100)
    monkeypatch.setattr(occultation, "CHUNK_SIZE", 64)
    occulted, result = occulted_bytes(source)
    assert b"Association Longue" not in occulted and result.counts["concours"] == 1


def test_a_path_destination_is_written_whole_or_not_at_all(tmp_path):
    source = tmp_path / "document.xml"
    good = generated()
    source.write_bytes(good[:-40])  # truncated: malformed at the end
    destination = tmp_path / "out.xml"
    destination.write_bytes(b"published before")
    with pytest.raises(DocumentError):
        occult_document(source, destination)
    assert destination.read_bytes() == b"published before"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["document.xml", "out.xml"]


# ---------------------------------------------------------------- errors

def _bad_inputs(tmp_path):
    good = generated()
    cases = {
        "missing": tmp_path / "missing.xml",
        "empty": b"",
        "binary": b"\x89PNG\r\n\x1a\n\x00\x00",
        "doctype": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><DocumentBudgetaire/>',
        "truncated": good[: len(good) // 2],
        "foreign root": b"<html><body/></html>",
        "wrong namespace": b'<DocumentBudgetaire xmlns="urn:other"><Budget/></DocumentBudgetaire>',
        "encoding": b'<?xml version="1.0" encoding="UTF-7"?><DocumentBudgetaire/>',
        "entity": good.replace(b"CRACH", b"&unknown;", 1),
    }
    for name, content in cases.items():
        if isinstance(content, bytes):
            path = tmp_path / f"{name.replace(' ', '-')}.xml"
            path.write_bytes(content)
            cases[name] = path
    return cases


def test_bad_input_gets_the_conversions_one_line_errors(tmp_path):
    for name, path in _bad_inputs(tmp_path).items():
        with pytest.raises(BudgetodError) as conversion:
            convert_document(path, tmp_path / "out.csv", offline_settings())
        with pytest.raises(BudgetodError) as occulting:
            occult_document(path, tmp_path / "out.xml")
        for lang in ("fr", "en"):
            assert occulting.value.describe(lang) == conversion.value.describe(lang), name
            assert "\n" not in occulting.value.describe(lang)
        assert not (tmp_path / "out.xml").exists()


@pytest.mark.parametrize("broken", sorted(BROKEN_DIR.glob("*.xml")), ids=lambda path: path.name)
def test_documents_the_conversion_refuses_for_their_content_are_occulted_all_the_same(broken):
    """A wrong SIRET or year does not make annexes less personal: a hand upload is occulted anyway."""
    with pytest.raises(DocumentError):
        convert_document(broken, io.StringIO(), offline_settings())
    occulted, result = occulted_bytes(broken)
    assert assert_occulted(broken.read_bytes(), occulted) == result.total


def test_a_document_over_the_size_limit_is_refused_like_the_conversion(tmp_path):
    source = tmp_path / "document.xml"
    source.write_bytes(generated())
    with pytest.raises(DocumentError) as caught:
        occult_document(source, None, max_bytes=100)
    assert caught.value.message_id == "file_too_large"


# ---------------------------------------------------------------- rules as data

def test_custom_rules_extend_the_default(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "replacement: 'Donnée occultée <L311-7> & co'\n"
        "rules:\n"
        "  - id: emploi\n    row: PERSONNEL\n    occult: [EmploiGradeAgent]\n"
        "  - id: subvention_personne\n    row: CONCOURS\n    occult: [LibOrgaBenef]\n"
        "    when: {element: CodNatJurBenefCA, not_in: [U4, P1]}\n", encoding="utf-8")
    source = tmp_path / "document.xml"
    source.write_bytes(generated(encoding="ISO-8859-1"))
    occulted, result = occulted_bytes(source, rules=load_rules(str(rules)))
    text = occulted.decode("iso-8859-1")
    assert "Donnée occultée &lt;L311-7&gt; &amp; co" in text
    assert "DGS" not in text and "4321.09" in text  # only what these rules say
    # Without or_absent, a missing or empty code leaves the row alone.
    assert "Paul Sans-Code" in text and "Luc Code-Vide" in text
    assert "Pierre Apres-Code" not in text and "Marie Reference" not in text and "Association des amis" in text
    assert result.counts == {"emploi": 1, "subvention_personne": 3}
    etree.fromstring(occulted)  # still well-formed


@pytest.mark.parametrize("content, fragment", [
    ("rules: []\nreplacement: x\n", "rules"),
    ("replacement: x\nrules:\n  - id: a\n    row: PRET\n    ocult: [NomBenefPret]\n", "id, row, occult, when"),
    ("replacement: x\nrules:\n  - id: a\n    occult: ['Nom Benef']\n", "Nom Benef"),
    (("replacement: x\nrules:\n  - id: a\n    row: PRET\n    occult: [A]\n"
      "    when: {element: B, in: [1], not_in: [2]}\n"), "in | not_in"),
    ("replacement: x\nrules:\n  - id: a\n    occult: [A]\n    when: {element: B, in: [1]}\n", "a.when: row"),
    ("replacement: ''\nrules:\n  - id: a\n    occult: [A]\n", "replacement"),
    ("rules: [\n", "YAML"),
    ("replacement: x\nrules:\n  - id: a\n    occult: [A]\n  - id: a\n    occult: [B]\n", "id: a"),
])
def test_unusable_rules_name_the_file_and_the_cause(content, fragment, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(content, encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(str(rules))
    line = caught.value.describe("en")
    assert line.startswith(f"{rules}: unusable occultation rules") and "\n" not in line
    if fragment != "YAML":
        assert fragment in line


def test_missing_rules_file_is_a_clear_error(tmp_path):
    with pytest.raises(RulesError) as caught:
        load_rules(str(tmp_path / "none.yaml"))
    assert caught.value.describe("fr").startswith(f"{tmp_path / 'none.yaml'}: règles d'occultation inutilisables")


# ---------------------------------------------------------------- the offline kit

def _budgetod(*arguments, **options):
    return subprocess.run([sys.executable, "-m", "ckanext.budgetod.core", *map(str, arguments)],
                          capture_output=True, **options)


def test_budgetod_occult_a_file_and_a_directory(tmp_path):
    source = tmp_path / "in" / "document.xml"
    source.parent.mkdir()
    source.write_bytes(generated())
    done = _budgetod("--lang", "en", "occult", source, "-o", tmp_path / "one.xml")
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode().strip() == f"{source} → {tmp_path / 'one.xml'}: 23 value(s) occulted"
    assert b"Pierre Apres-Code" not in (tmp_path / "one.xml").read_bytes()
    (source.parent / "broken.xml").write_bytes(b"<html/>")
    done = _budgetod("occult", source.parent, "-o", tmp_path / "out")
    assert done.returncode == 2
    assert (tmp_path / "out" / "document.xml").read_bytes() == (tmp_path / "one.xml").read_bytes()
    assert not (tmp_path / "out" / "broken.xml").exists()
    assert f"error: {source.parent / 'broken.xml'}: élément racine « html »" in done.stderr.decode()
    refused = _budgetod("--lang", "en", "occult", source, "-o", source)
    assert refused.returncode == 2 and b"would replace the original" in refused.stderr
    assert b"Pierre Apres-Code" in source.read_bytes()


def test_budgetod_inspect_shows_the_counts(tmp_path):
    source = tmp_path / "document.xml"
    source.write_bytes(generated())
    done = _budgetod("inspect", source)
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout)["occultation"]
    assert counts["total"] == 23 and counts["rules"]["concours"] == 8
    assert counts["replacement"] == REPLACEMENT


# ---------------------------------------------------------------- round 3: a tag cut at a chunk boundary

def test_a_tag_with_many_blanks_across_a_chunk_boundary_is_scanned_in_linear_time(tmp_path):
    """The tag pattern of before backtracked exponentially on a tag cut at the end of a chunk (26 blanks
    took 2.7 s, 2 more four times as long): 10,000 blanks would never end, holding the GIL. So the
    occulter runs in a child process, whose timeout is a guard against a hang, not a synchronisation:
    the work itself takes milliseconds."""
    document = generated()
    # The row's start tag begins before the first chunk boundary and ends 10,000 blanks later.
    row = document.index(b"<PRET>")
    document = document[:row] + b"\n" * (4096 - 100 - row) + document[row:]
    cut = document.index(b"<PRET>") + len(b"<PRET")
    blanks = b" " * 10_000
    assert cut < 4096 < cut + len(blanks)
    source = tmp_path / "document.xml"
    source.write_bytes(document[:cut] + blanks + document[cut:])
    script = ("import json, sys\n"
              "from ckanext.budgetod.core.totem import occultation\n"
              "occultation.CHUNK_SIZE = 4096\n"
              "result = occultation.occult_document(sys.argv[1], sys.argv[2])\n"
              "print(json.dumps(result.counts))\n")
    done = subprocess.run([sys.executable, "-c", script, str(source), str(tmp_path / "out.xml")],
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["pret"] == 1
    occulted = (tmp_path / "out.xml").read_bytes()
    assert b"Emile Emprunteur" not in occulted
    assert assert_occulted(source.read_bytes(), occulted) == sum(json.loads(done.stdout).values())


@pytest.mark.parametrize("chunk_size", [1, 3, 64])
def test_quoted_values_holding_tag_ends_across_chunks(chunk_size, monkeypatch, tmp_path):
    source = tmp_path / "document.xml"
    row = ('<PRET><NomBenefPret Note=\'a > "b" <\' V="Emile > Emprunteur"  \n />'
           '<MtPret V="1000"/></PRET>').replace("<'", "&lt;'")
    source.write_bytes(totem_document(annexes=f"<DATA_PRET>{row}</DATA_PRET>"))
    monkeypatch.setattr(occultation, "CHUNK_SIZE", chunk_size)
    occulted, result = occulted_bytes(source)
    assert b"Emprunteur" not in occulted and result.counts["pret"] == 1
    assert assert_occulted(source.read_bytes(), occulted) == result.total


# ---------------------------------------------------------------- round 3: individual pay

def test_no_pay_of_an_agent_is_left_in_montreuil():
    """Montreuil's CA 2018 shows 469 contract agents' IndiceAgent beside grade, sector and FTE: with the
    index point's value, each one's gross pay."""
    source = next(path for path in CORPUS if path.name == "montreuil-ca-2018.xml")
    occulted, result = occulted_bytes(source)
    rows = list(etree.fromstring(occulted).iter("{*}PERSONNEL"))
    pay = [element.get("V") for row in rows for element in row.iter("{*}IndiceAgent", "{*}RemunAgent", "{*}MtPrev6215")]
    assert len(pay) == 469 + 56 and set(pay) == {REPLACEMENT}
    assert result.counts["personnel"] == 469 + 56


# ---------------------------------------------------------------- round 3: crafted bypasses

_ROW_P1 = '<CONCOURS><CodNatJurBenefCA V="P1"/><LibOrgaBenef V="Association des amis"/></CONCOURS>'
BYPASSES = {
    # Comments and processing instructions are dropped wherever they are, the XML declaration stays.
    "comment": {"annexes": f"<!-- Jean Commentaire --><DATA_CONCOURS>{_ROW_P1}</DATA_CONCOURS>"},
    "comment in a row": {"annexes": '<DATA_PRET><PRET><!-- Jean Commentaire --><MtPret V="1"/></PRET></DATA_PRET>'},
    "comment before the root": {"before_root": "<!-- Jean Commentaire -->\n"},
    "processing instruction": {"annexes": "<?note Jean Commentaire?>"},
    "comments and PIs in a row": {"annexes": "<!-- Jean --><!----><?note Jean?><!-- Jean -->\n<!-- Jean -->"},
    "stylesheet before the root": {"before_root": '<?xml-stylesheet href="Jean-Commentaire.xsl"?>\n'},
    # An element a rule names, outside a row of a rule naming it.
    "personal element outside its row": {"annexes": '<NomBenefPret V="Jean Egare"/>'},
    "personal element in another row": {
        "annexes": '<DATA_CONCOURS><CONCOURS><CodNatJurBenefCA V="P1"/><NomBenefPret V="Jean Egare"/>'
                '<LibOrgaBenef V="Association des amis"/></CONCOURS></DATA_CONCOURS>'},
    "personal element with content outside its row": {
        "annexes": "<DATA_PRET><NomBenefPret>Jean <![CDATA[Egare]]></NomBenefPret></DATA_PRET>"},
    # A code a reader cannot classify, or does not see: the row is personal.
    "code in lower case": {
        "annexes": '<DATA_CONCOURS><CONCOURS><CodNatJurBenefCA V="p3"/><LibOrgaBenef V="Jean Minuscule"/>'
                "</CONCOURS></DATA_CONCOURS>"},
    "code in a foreign namespace": {
        "annexes": '<DATA_CONCOURS><CONCOURS><bl:CodNatJurBenefCA xmlns:bl="http://www.berger-levrault.fr/demat/outils"'
                ' V="P1"/><LibOrgaBenef V="Jean Etranger"/></CONCOURS></DATA_CONCOURS>'},
    "code in a foreign default namespace": {
        "annexes": '<DATA_CONCOURS><CONCOURS><LibOrgaBenef V="Jean Etranger"/><CodNatJurBenefCA V="P1"'
                ' xmlns="http://www.berger-levrault.fr/demat/outils"/></CONCOURS></DATA_CONCOURS>'},
    "code under a foreign default namespace": {
        "annexes": '<DATA_CONCOURS><CONCOURS><LibOrgaBenef V="Jean Etranger"/>'
                '<Groupe xmlns="http://www.berger-levrault.fr/demat/outils"><CodNatJurBenefCA V="P1"/></Groupe>'
                "</CONCOURS></DATA_CONCOURS>"},
}


@pytest.mark.parametrize("bypass", BYPASSES)
def test_crafted_bypasses_are_occulted(bypass, tmp_path):
    source = tmp_path / "document.xml"
    source.write_bytes(totem_document(**BYPASSES[bypass]))
    for chunk_size in (occultation.CHUNK_SIZE, 5):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(occultation, "CHUNK_SIZE", chunk_size)
            occulted, result = occulted_bytes(source)
        assert b"Jean" not in occulted, bypass
        assert occulted.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
        assert assert_occulted(source.read_bytes(), occulted) == result.total
    assert b"Association des amis" in occulted or b"Association" not in source.read_bytes()


def test_the_xml_declaration_after_a_byte_order_mark_stays(tmp_path):
    source = tmp_path / "document.xml"
    source.write_bytes(b"\xef\xbb\xbf" + totem_document(annexes="<!-- Jean Commentaire -->"))
    occulted, _ = occulted_bytes(source)
    assert occulted.startswith(b'\xef\xbb\xbf<?xml version="1.0" encoding="UTF-8"?>') and b"Jean" not in occulted


@pytest.mark.parametrize("declaration", [
    'xmlns:jean="urn:Jean-Dupont-12-rue-des-Lilas"',
    'xmlns="http://example.org/Jean-Dupont"',
])
def test_a_namespace_declaration_holding_free_text_refuses_the_document(declaration, tmp_path):
    source = tmp_path / "document.xml"
    source.write_bytes(totem_document(annexes=f"<DATA_PRET {declaration}/>"))
    destination = tmp_path / "out.xml"
    with pytest.raises(DocumentError) as caught:
        occult_document(source, destination)
    assert caught.value.message_id == "occultation_unknown_namespace"
    for lang in ("fr", "en"):
        line = caught.value.describe(lang)
        assert line.startswith(f"{source}: ") and "Jean" not in line and "\n" not in line
    assert not destination.exists()
