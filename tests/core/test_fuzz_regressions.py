"""What fuzzing the reader and the conversion found (bench/fuzz_reader.py), one test per finding.

The contract: any bad input (document or plan de comptes) gives a BudgetodError whose cause is
one clear line naming the file, in French and English; never another exception, never a hang.
"""
from __future__ import annotations

import csv
import time

import pytest

from ckanext.budgetod.core.errors import DocumentError, NomenclatureError
from ckanext.budgetod.core.scdl.conversion import convert_document
from ckanext.budgetod.core.scdl.validation import validate_csv
from ckanext.budgetod.core.totem import nomenclature
from ckanext.budgetod.core.totem.nomenclature import Account, PlanDeComptes, load_plan
from ckanext.budgetod.core.totem.reader import MAX_VALUE_LENGTH, TotemReader, inspect_document, read_header, shown
from tests.support.settings import offline_settings
from tests.support.totem_factory import Line, plan_de_comptes, totem_document, write_plan, write_totem

pytestmark = pytest.mark.usefixtures("offline_environment")


@pytest.fixture
def plan(plans_dir):
    write_plan(plans_dir, 2022)
    return plans_dir


def refusal(path, **options) -> DocumentError:
    with pytest.raises(DocumentError) as caught:
        inspect_document(path, **options)
    return caught.value


def assert_one_line(error) -> None:
    for lang in ("fr", "en"):
        line = error.describe(lang)
        assert line.startswith(error.source + ": ")
        assert not any(character in line for character in "\r\n\x85\u2028\u2029"), line


# --- a cause is one line -------------------------------------------------------------------------


def test_a_parser_message_quoting_the_document_stays_on_one_line(tmp_path):
    # libxml2 quotes the unterminated comment (here, as it holds a non-ASCII character), newlines included.
    path = tmp_path / "doc.xml"
    path.write_bytes(b"<?xml version='1.0' encoding='ISO-8859-1'?><!-- unterminated\n"
                     b'    <bl:ProduitGF V="e.gf \xe9volution - 16.51.00.03"/>\n')
    error = refusal(path)
    assert error.message_id == "malformed_xml"
    assert "Comment not terminated" in error.describe("en")
    assert_one_line(error)


def test_control_characters_of_a_value_are_escaped_in_the_error(tmp_path):
    path = write_totem(tmp_path / "doc.xml", lines=[Line(artspe="0\x850")])
    error = refusal(path)
    assert error.message_id == "invalid_line_value"
    assert '"0\\x850"' in error.describe("en")  # shown, escaped
    assert_one_line(error)


def test_shown_escapes_controls_and_marks_a_cut():
    assert shown("a\nb\tc\u2028d") == "a\\nb\\tc\\u2028d"
    assert shown("é" * 41) == "é" * 40 + "…"
    assert shown("é" * 40) == "é" * 40


def test_warnings_show_codes_on_one_line(tmp_path, plan):
    # &#10; in an attribute is a newline in the value: the CLI prints each warning as one line.
    source = write_totem(tmp_path / "doc.xml", lines=[Line(nature="60\n64")])
    result = convert_document(source, tmp_path / "doc.csv", offline_settings(plan))
    warning = next(warning for warning in result.warnings if warning.code == "nature_label_from_parent")
    assert warning.params["nature"] == "60\n64"  # the report's details keep the value
    for lang in ("fr", "en"):
        assert "60\\n64" in warning.message(lang) and "\n" not in warning.message(lang)


# --- never another exception -------------------------------------------------------------------------


@pytest.mark.parametrize("content, prefix", [
    (b"<a:b/>", "a"),
    (b"<?xml version='1.0'?>\n<db:DocumentBudgetaire><x/></db:DocumentBudgetaire>", "db"),
])
def test_a_root_with_an_undeclared_prefix_is_malformed_xml(tmp_path, content, prefix):
    # It was a ValueError from lxml's QName ("Invalid tag name 'a:b'").
    path = tmp_path / "doc.xml"
    path.write_bytes(content)
    error = refusal(path)
    assert error.message_id == "malformed_xml"
    assert f"Namespace prefix {prefix} on" in error.describe("en")


def test_an_overlong_nomenclature_is_invalid_not_an_oserror(tmp_path, plan):
    # Its déclinaison became a mirror directory name of 300 bytes: OSError "File name too long".
    source = write_totem(tmp_path / "doc.xml", nomenclature="M14-M14_" + "A" * 300)
    with pytest.raises(DocumentError) as caught:
        convert_document(source, tmp_path / "doc.csv", offline_settings(plan))
    assert caught.value.message_id == "invalid_nomenclature"
    assert_one_line(caught.value)


@pytest.mark.parametrize("declared", ["latin-1", "LATIN-1", "latin1", "l1", "iso_8859-1", "utf8", "cp1252"])
def test_every_encoding_name_the_prolog_accepts_reads_the_document(tmp_path, declared):
    # "latin-1" passed the prolog check, then libxml2 failed: "Unsupported encoding: latin-1".
    codec = "utf-8" if declared == "utf8" else "latin-1"
    data = totem_document(collectivite="SAINT-ÉTIENNE", encoding="UTF-8")
    data = data.decode("utf-8").replace('encoding="UTF-8"', f'encoding="{declared}"').encode(codec)
    path = tmp_path / "doc.xml"
    path.write_bytes(data)
    assert read_header(path).collectivite == "SAINT-ÉTIENNE"


def test_a_byte_order_mark_wins_over_the_declared_encoding(tmp_path):
    # As in libxml2, which reads the text as UTF-8 whatever the declaration says.
    data = totem_document(collectivite="SAINT-ÉTIENNE", encoding="UTF-8")
    path = tmp_path / "doc.xml"
    path.write_bytes(b"\xef\xbb\xbf" + data.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"'))
    header = read_header(path)
    assert (header.collectivite, header.encoding) == ("SAINT-ÉTIENNE", "UTF-8")


# --- bounded values: no hang, a CSV that can be read back ----------------------------------------


def test_prefix_lookups_do_not_depend_on_the_length_of_the_code():
    # 1 MB of digits took minutes: every prefix of the code was sliced and looked up.
    plan = PlanDeComptes("plan.xml", "M14", "M14_COM_500_3500", {}, {
        "65": Account("65", "Autres charges", {}), "651": Account("651", "Redevances", {"DR": "65"}),
    }, {"8": "Aménagement"})
    code = "651" + "8" * 1_000_000
    started = time.perf_counter()
    assert plan.parent_account(code).code == "651"
    assert [account.code for account in plan.accounts_by_prefix(code)] == ["651", "65"]
    assert plan.chapter_by_prefix(code) is None
    assert plan.parent_function("8" * 1_000_000) == ("8", "Aménagement")
    assert time.perf_counter() - started < 1


def test_accounts_by_prefix_includes_the_code_itself_longest_first(plans_dir):
    plan = load_plan(str(write_plan(plans_dir, 2022)))
    assert [account.code for account in plan.accounts_by_prefix("65118")] == ["6511", "651", "65"]
    assert [account.code for account in plan.accounts_by_prefix("6511")] == ["6511", "651", "65"]
    assert plan.parent_account("6511").code == "651"


@pytest.mark.parametrize("line, element", [
    (Line(nature="6" * (MAX_VALUE_LENGTH + 1)), "Nature"),
    (Line(contnat="0" * (MAX_VALUE_LENGTH + 1)), "ContNat"),
    (Line(operation="x" * (MAX_VALUE_LENGTH + 1)), "Operation"),
    (Line(section="I" * (MAX_VALUE_LENGTH + 1)), "CaracSup Section"),
    (Line(amounts={"MtPrev": "9" * (MAX_VALUE_LENGTH + 1)}), "MtPrev"),
    (Line(amounts={"MtReal": " " + "9" * (MAX_VALUE_LENGTH + 1)}), "MtReal"),
])
def test_a_line_value_beyond_the_bound_is_refused(tmp_path, line, element):
    path = write_totem(tmp_path / "doc.xml", lines=[Line(), line])
    error = refusal(path)
    assert error.message_id == "line_value_too_long"
    assert error.params == {"index": 2, "element": element, "length": MAX_VALUE_LENGTH + 1, "limit": MAX_VALUE_LENGTH}
    assert error.describe("en").endswith(f"LigneBudget #2: {element} value too long "
                                         f"({MAX_VALUE_LENGTH + 1} characters, at most {MAX_VALUE_LENGTH})")
    assert error.describe("fr").endswith(f"LigneBudget n° 2 : valeur de {element} trop longue "
                                         f"({MAX_VALUE_LENGTH + 1} caractères, {MAX_VALUE_LENGTH} au plus)")


def test_a_header_value_beyond_the_bound_is_refused(tmp_path):
    path = write_totem(tmp_path / "doc.xml", collectivite="C" * (MAX_VALUE_LENGTH + 1))
    error = refusal(path)
    assert error.message_id == "header_value_too_long"
    assert error.params["element"] == "LibelleColl"
    assert_one_line(error)


def test_values_within_the_bound_give_a_csv_that_validation_can_read(tmp_path, plan):
    # 200,000 digits went into the CSV, which the validation could not read back (csv's field limit).
    long_code = "6" * MAX_VALUE_LENGTH
    source = write_totem(tmp_path / "doc.xml", collectivite="C" * MAX_VALUE_LENGTH,
                         lines=[Line(nature=long_code, amounts={"MtPrev": "9" * MAX_VALUE_LENGTH})])
    output = tmp_path / "doc.csv"
    convert_document(source, output, offline_settings(plan))
    report = validate_csv(str(output), offline_settings())
    assert not report.valid  # BGT_NATURE has 9 characters at most: invalid, but read
    with open(output, encoding="utf-8", newline="") as stream:
        assert next(csv.DictReader(stream))["BGT_NATURE"] == long_code


# --- plans de comptes ------------------------------------------------------------------------------


def test_a_plan_label_beyond_the_bound_is_refused(tmp_path, plans_dir):
    path = write_plan(plans_dir, 2022, accounts=[
        ("60", "Achats", {}, [("6064", "é" * (MAX_VALUE_LENGTH + 1), {"DR": "011"}, [])])])
    source = write_totem(tmp_path / "doc.xml")
    with pytest.raises(NomenclatureError) as caught:
        convert_document(source, tmp_path / "doc.csv", offline_settings(plans_dir))
    error = caught.value
    assert (error.source, error.message_id) == (str(path), "plan_value_too_long")
    assert "Libelle attribute of a Compte element too long" in error.describe("en")
    assert "attribut Libelle d'un élément Compte trop long" in error.describe("fr")


def test_a_plan_refused_by_its_prolog_gives_its_cause_in_each_language(tmp_path):
    path = tmp_path / "planDeCompte.xml"
    path.write_bytes(plan_de_comptes().replace(b"?>", b'?><!DOCTYPE r [<!ENTITY a "b">]>', 1))
    with pytest.raises(NomenclatureError) as caught:
        load_plan(str(path))
    error = caught.value
    assert error.message_id == "plan_unreadable"
    assert error.describe("en").endswith("unusable plan de comptes: DOCTYPE declaration refused: TOTEM documents "
                                         "have none, and DTDs and entities are refused for safety")
    assert "plan de comptes inutilisable : déclaration DOCTYPE refusée" in error.describe("fr")


def test_a_plan_parser_message_stays_on_one_line(tmp_path):
    path = tmp_path / "planDeCompte.xml"
    path.write_bytes(plan_de_comptes().replace(b"<!-- test plan -->", b"<!-- a\n b -- c -->"))
    with pytest.raises(NomenclatureError) as caught:
        load_plan(str(path))
    assert caught.value.message_id == "plan_unreadable"
    assert_one_line(caught.value)


def test_a_plan_declared_latin_1_is_read(tmp_path):
    path = tmp_path / "planDeCompte.xml"
    data = plan_de_comptes().decode("utf-8").replace("encoding='UTF-8'", "encoding='latin-1'")
    path.write_bytes(data.encode("latin-1"))
    nomenclature.clear_caches()
    assert load_plan(str(path)).chapter("011").label == "Charges à caractère général"


def test_an_undeclared_prefix_inside_the_document_is_malformed_xml(tmp_path):
    # Inside the document (not at the root) the full read reports it: malformed, never dropped lines.
    data = totem_document().replace(b"<LigneBudget>", b"<db:LigneBudget>", 1).replace(
        b"</LigneBudget>", b"</db:LigneBudget>", 1)
    path = tmp_path / "doc.xml"
    path.write_bytes(data)
    with pytest.raises(DocumentError) as caught, TotemReader(path) as reader:
        list(reader.lines())
    assert caught.value.message_id == "malformed_xml"
    assert refusal(path).message_id == "malformed_xml"
