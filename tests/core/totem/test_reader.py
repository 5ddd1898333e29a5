"""The TOTEM reader: header, lines, encodings, CFU, and refusal of unsafe or foreign input."""
from __future__ import annotations

import subprocess
import sys

import pytest

from ckanext.budgetod.core.errors import DocumentError
from ckanext.budgetod.core.totem.reader import TotemReader, check_prolog, inspect_document, read_header
from tests.support.hostile_xml import SECRET, UNSAFE_PROLOGS, billion_laughs, xxe_document
from tests.support.totem_factory import Line, totem_document, write_totem

pytestmark = pytest.mark.usefixtures("offline_environment")


def read_lines(path, **options):
    with TotemReader(path, **options) as reader:
        return reader.header, list(reader.lines()), reader


def error_of(path, **options) -> DocumentError:
    with pytest.raises(DocumentError) as caught:
        inspect_document(path, **options)
    return caught.value


# --- header ------------------------------------------------------------------------------


def test_header_values_are_read(tmp_path):
    path = write_totem(tmp_path / "bp.xml", decision_number="2", natdec="02", year="2021")
    header = read_header(path)
    assert (header.siret, header.exercice, header.natdec, header.natdec_label) == (
        "21560046100010", 2021, "02", "décision modificative")
    assert (header.norme, header.declinaison) == ("M14", "M14_COM_500_3500")
    assert (header.collectivite, header.etablissement, header.insee) == ("CRACH", "BUDGET PRINCIPAL", "56046")
    assert header.decision_date == "2022-04-04"
    assert header.document_key == "21560046100010-2021-02-2"
    assert header.seal.md5 == "C2AD100CFDB19AE28D5BF4454461F5E7"
    assert header.seal.date == "2022-04-07T10:16:21.216+02:00"
    assert header.root == "DocumentBudgetaire"


def test_document_key_without_decision_number(tmp_path):
    assert read_header(write_totem(tmp_path / "ca.xml", natdec="09")).document_key == "21560046100010-2022-09"


@pytest.mark.parametrize("options, key", [
    # One budget primitif a year: a corrected one with another number or date replaces it.
    ({"natdec": "01", "decision_number": "7", "decision_date": "2022-05-01"}, "21560046100010-2022-01"),
    # Several DM or BS a year: the number tells them apart, else the date.
    ({"natdec": "02", "decision_number": None, "decision_date": "2022-06-30"}, "21560046100010-2022-02-2022-06-30"),
    ({"natdec": "03", "decision_number": "1", "decision_date": "2022-06-30"}, "21560046100010-2022-03-1"),
    # An annex that carries its main budget's SIRET stays apart from it.
    ({"natdec": "01", "budget_type": "A", "main_siret": "21560046100028"}, "21560046100010-2022-01-annexe-00"),
])
def test_document_key_tells_budget_acts_apart(tmp_path, options, key):
    assert read_header(write_totem(tmp_path / "doc.xml", **options)).document_key == key


@pytest.mark.parametrize("natdec, label", [
    ("01", "budget primitif"), ("02", "décision modificative"), ("03", "budget supplémentaire"),
    ("09", "compte administratif"), ("10", "compte administratif"),
])
def test_every_budget_stage_is_known(tmp_path, natdec, label):
    assert read_header(write_totem(tmp_path / "doc.xml", natdec=natdec)).natdec_label == label


@pytest.mark.parametrize("options, message_id, fragment", [
    ({"siret": "2156004610008"}, "invalid_siret", "2156004610008"),
    ({"siret": "2156004610008A"}, "invalid_siret", "2156004610008A"),
    ({"year": "2022 en erreur"}, "invalid_year", "2022 en erreur"),
    ({"year": "1899"}, "invalid_year", "1899"),
    ({"year": "3022"}, "invalid_year", "3022"),
    ({"natdec": "99999"}, "unknown_natdec", "99999"),
    ({"natdec": "04"}, "unknown_natdec", "04"),
    ({"nomenclature": "M14-M14_COM_500_3500_en_erreur"}, "invalid_nomenclature", "en_erreur"),
    ({"nomenclature": "M14_COM_500_3500"}, "invalid_nomenclature", "M14_COM_500_3500"),
    ({"nomenclature": "M14-M57_A"}, "invalid_nomenclature", "M14-M57_A"),
    ({"nomenclature": "M14-../../etc"}, "invalid_nomenclature", "../../etc"),
    ({"siret": None}, "missing_header_element", "IdEtab"),
    ({"year": None}, "missing_header_element", "Exer"),
    ({"natdec": None}, "missing_header_element", "NatDec"),
    ({"nomenclature": None}, "missing_header_element", "Nomenclature"),
])
def test_invalid_header_gives_its_specific_error(tmp_path, options, message_id, fragment):
    error = error_of(write_totem(tmp_path / "doc.xml", **options))
    assert error.message_id == message_id
    assert fragment in str(error)
    assert str(error).startswith(str(tmp_path / "doc.xml") + ": ")


def test_header_errors_exist_in_french_and_english(tmp_path):
    error = error_of(write_totem(tmp_path / "doc.xml", siret="123"))
    assert error.describe("fr").endswith("SIRET « 123 » invalide (IdEtab) : 14 chiffres attendus")
    assert error.describe("en").endswith('invalid SIRET "123" (IdEtab): 14 digits expected')


def test_header_of_a_document_without_lines_is_still_validated(tmp_path):
    assert error_of(write_totem(tmp_path / "doc.xml", lines=[], natdec="7")).message_id == "unknown_natdec"
    assert read_header(write_totem(tmp_path / "empty.xml", lines=[])).siret == "21560046100010"


@pytest.mark.parametrize("options, annex, name", [
    ({}, False, "CRACH"),
    ({"budget_type": "A", "etablissement": "LOTISSEMENT LE BOCENO"}, True, "CRACH - LOTISSEMENT LE BOCENO"),
    ({"budget_type": None, "main_siret": "21560046100085", "etablissement": "EAU"}, True, "CRACH - EAU"),
    ({"budget_type": None, "main_siret": "21560046100010", "etablissement": "EAU"}, False, "CRACH"),
    ({"budget_type": "A", "collectivite": "", "etablissement": "EAU"}, True, "EAU"),
])
def test_annex_budgets_are_named_after_the_collectivite_and_the_annex(tmp_path, options, annex, name):
    header = read_header(write_totem(tmp_path / "doc.xml", **options))
    assert header.is_annex is annex
    assert header.budget_name == name


# --- lines -------------------------------------------------------------------------------


def test_lines_keep_codes_and_amounts_as_written(tmp_path):
    line = Line(nature="2313", contnat="23", fonction="822", operation="OP 12", codrd="D", opbudg="1",
                typopbudg="2", artspe="true", section="I",
                amounts={"MtReal": "-0012.50", "MtBudgPrec": "1.", "MtRARPrec": ".5", "MtPropNouv": "+3",
                         "MtPrev": "0", "CredOuv": "123456789012.34", "MtRAR3112": " 7.10 "})
    _header, lines, _reader = read_lines(write_totem(tmp_path / "doc.xml", lines=[line]))
    (read,) = lines
    assert (read.nature, read.contnat, read.fonction, read.operation) == ("2313", "23", "822", "OP 12")
    assert (read.codrd, read.opbudg, read.typopbudg, read.artspe, read.section) == ("D", "1", "2", "true", "I")
    assert read.amounts == ("-0012.50", "1.", ".5", "+3", "0", "123456789012.34", "7.10")


def test_absent_elements_read_as_empty(tmp_path):
    line = Line(contnat=None, artspe=None, opbudg=None, amounts={})
    _header, (read,), _reader = read_lines(write_totem(tmp_path / "doc.xml", lines=[line]))
    assert (read.contnat, read.artspe, read.opbudg, read.fonction, read.section) == ("", "", "", "", "")
    assert read.amounts == (None,) * 7


def test_calculated_lines_are_counted_not_returned(tmp_path):
    lines = [Line(nature="6064"), Line(nature=None, calculated=True), Line(nature="7067", codrd="R"),
             Line(nature=None, calculated=True)]
    _header, read, reader = read_lines(write_totem(tmp_path / "doc.xml", lines=lines))
    assert [line.nature for line in read] == ["6064", "7067"]
    assert [line.number for line in read] == [1, 3]
    assert (reader.lines_total, reader.lines_calculated) == (4, 2)


# The last two: Arabic-Indic and full-width digits, which Python's int() and Decimal() accept.
@pytest.mark.parametrize("amount", ["1,5", "12 000.00", "1e3", "NaN", "Infinity", "0x10", "", "--1", "1.2.3",
                                    "\u0661\u0662\u0663", "\uff11\uff12\uff13"])
def test_an_amount_that_is_no_decimal_is_an_error(tmp_path, amount):
    lines = [Line(), Line(amounts={"MtReal": amount})]
    error = error_of(write_totem(tmp_path / "doc.xml", lines=lines))
    assert error.message_id == "invalid_amount"
    assert error.params["index"] == 2 and error.params["element"] == "MtReal"


@pytest.mark.parametrize("line, element", [
    (Line(codrd="X"), "CodRD"),
    (Line(opbudg="T"), "OpBudg"),
    (Line(typopbudg="3"), "TypOpBudg"),
    (Line(artspe="oui"), "ArtSpe"),
])
def test_a_line_code_outside_the_xsd_enumeration_is_an_error(tmp_path, line, element):
    error = error_of(write_totem(tmp_path / "doc.xml", lines=[line]))
    assert (error.message_id, error.params["element"]) == ("invalid_line_value", element)


def test_a_line_without_codrd_is_an_error(tmp_path):
    error = error_of(write_totem(tmp_path / "doc.xml", lines=[Line(codrd=None)]))
    assert (error.message_id, error.params["element"]) == ("missing_line_element", "CodRD")


# --- encodings and wrappers ----------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["ISO-8859-1", "UTF-8", "iso-8859-1", "windows-1252"])
def test_latin1_and_utf8_documents_give_the_same_text(tmp_path, encoding):
    path = write_totem(tmp_path / "doc.xml", encoding=encoding, collectivite="SAINT-ÉTIENNE-EN-CÔTE",
                       lines=[Line(operation="Réfection église")])
    header, (line,), _reader = read_lines(path)
    assert header.collectivite == "SAINT-ÉTIENNE-EN-CÔTE"
    assert line.operation == "Réfection église"
    assert header.encoding.lower().replace("_", "-") in (encoding.lower(), "windows-1252")


def test_utf8_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.xml"
    path.write_bytes(b"\xef\xbb\xbf" + totem_document())
    assert read_header(path).siret == "21560046100010"


def test_cfu_reads_the_budget_document_and_skips_the_accounting_one(tmp_path):
    lines = [Line(nature="6064"), Line(calculated=True)]
    header, read, reader = read_lines(write_totem(tmp_path / "cfu.xml", cfu=True, natdec="10", lines=lines))
    assert header.root == "CompteFinancierUnique"
    assert header.natdec_label == "compte administratif"
    assert [line.nature for line in read] == ["6064"]  # not the DocumentComptable's "999"
    assert (reader.lines_total, reader.lines_calculated) == (2, 1)


def test_annexes_are_skipped(tmp_path):
    annexes = "<DATA_EMPRUNT><EMPRUNT><MtEmprOrig V=\"10\"/></EMPRUNT></DATA_EMPRUNT>" * 3
    _header, read, _reader = read_lines(write_totem(tmp_path / "doc.xml", annexes=annexes))
    assert len(read) == 1


def test_inspect_describes_the_document(tmp_path):
    lines = [Line(), Line(calculated=True), Line(codrd="R", nature="7067")]
    info = inspect_document(write_totem(tmp_path / "doc.xml", lines=lines, encoding="ISO-8859-1")).to_dict()
    assert info["lines"] == {"total": 3, "calculated": 1, "detail": 2}
    assert info["encoding"] == "ISO-8859-1"
    assert info["etape"] == {"code": "01", "label": "budget primitif"}
    assert info["nomenclature"] == {"code": "M14-M14_COM_500_3500", "norme": "M14", "declinaison": "M14_COM_500_3500"}
    assert info["seal"]["sha1"] == "D3076262EBE7EE60086DB285A1D5D02910ECDB15"
    assert info["budget"]["annex"] is False


# --- foreign and unsafe input -------------------------------------------------------------


def test_foreign_xml_is_refused_by_its_root(tmp_path):
    path = tmp_path / "feed.xml"
    path.write_text('<?xml version="1.0"?><rss version="2.0"><channel/></rss>')
    error = error_of(path)
    assert error.message_id == "not_totem_root" and error.params["root"] == "rss"


def test_document_budgetaire_outside_the_totem_namespace_is_refused(tmp_path):
    path = tmp_path / "doc.xml"
    path.write_bytes(totem_document().replace(b"http://www.minefi.gouv.fr/cp/demat/docbudgetaire", b"urn:other"))
    assert error_of(path).message_id == "wrong_namespace"


def test_document_without_budget_is_refused(tmp_path):
    assert error_of(write_totem(tmp_path / "doc.xml", with_budget=False)).message_id == "no_budget"


def test_cfu_without_budget_document_is_refused(tmp_path):
    path = tmp_path / "cfu.xml"
    path.write_text('<CompteFinancierUnique xmlns="http://www.minefi.gouv.fr/cp/demat/doccfu">'
                    "<DocumentComptable/></CompteFinancierUnique>")
    assert error_of(path).message_id == "cfu_without_budget_document"


def test_several_budgets_are_refused(tmp_path):
    path = tmp_path / "doc.xml"
    document = totem_document().decode()
    budget = document[document.index("<Budget>"):document.index("</Budget>") + len("</Budget>")]
    path.write_text(document.replace(budget, budget + budget))
    assert error_of(path).message_id == "several_budgets"


def test_xxe_is_refused_without_reading_the_referenced_file(tmp_path):
    path = tmp_path / "xxe.xml"
    path.write_text(xxe_document(tmp_path))
    error = error_of(path)
    assert error.message_id == "doctype_forbidden"
    assert SECRET not in error.describe("fr") + error.describe("en")


def test_billion_laughs_is_refused_before_any_expansion(tmp_path):
    path = tmp_path / "lol.xml"
    path.write_text(billion_laughs())
    assert error_of(path).message_id == "doctype_forbidden"


@pytest.mark.parametrize("name", sorted(UNSAFE_PROLOGS))
def test_any_doctype_is_refused(tmp_path, name):
    path = tmp_path / f"{name}.xml"
    path.write_bytes(totem_document(before_root=UNSAFE_PROLOGS[name]))
    assert error_of(path).message_id == "doctype_forbidden"


def test_an_undeclared_entity_is_malformed_xml_not_an_expansion(tmp_path):
    path = tmp_path / "entity.xml"
    path.write_bytes(totem_document(collectivite="&xxe;").replace(b"&amp;xxe;", b"&xxe;"))
    error = error_of(path)
    assert error.message_id == "malformed_xml"


def test_truncated_document_is_malformed(tmp_path):
    document = totem_document(lines=[Line()] * 20)
    path = tmp_path / "truncated.xml"
    path.write_bytes(document[: len(document) * 2 // 3])
    error = error_of(path)
    assert error.message_id == "malformed_xml"
    assert error.params["line"] > 1


@pytest.mark.parametrize("content, message_id", [
    (b"", "file_empty"),
    (b"   \n\t", "malformed_xml"),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "not_xml"),
    (bytes(range(256)) * 8, "not_xml"),
    (b"PK\x03\x04 not a document", "not_xml"),
    (b"<\x00D\x00o\x00", "unsupported_encoding"),
    ("<?xml version='1.0' encoding='UTF-16'?><a/>".encode("utf-16"), "unsupported_encoding"),
    (b"<?xml version='1.0' encoding='EBCDIC-US'?><a/>", "unsupported_encoding"),
    (b"<?xml version='1.0' encoding='UTF-8'?>", "malformed_xml"),
    (b"<?xml encoding='UTF-8' version='1.0'?><a/>", "malformed_xml_declaration"),
    (b"<?xml version='1.0'?>" + b"<a>" * 300 + b"</a>" * 300, "not_totem_root"),
    (b"<?xml version='1.0'?><DocumentBudgetaire xmlns='http://www.minefi.gouv.fr/cp/demat/docbudgetaire'>"
     + b"<a>" * 300 + b"</a>" * 300 + b"</DocumentBudgetaire>", "malformed_xml"),
    (b"<DocumentBudgetaire xmlns='http://www.minefi.gouv.fr/cp/demat/docbudgetaire'><Budget>", "malformed_xml"),
])
def test_unusable_content_gives_a_clear_error(tmp_path, content, message_id):
    path = tmp_path / "doc.xml"
    path.write_bytes(content)
    assert error_of(path).message_id == message_id


def test_size_limit_is_checked_before_parsing(tmp_path):
    path = write_totem(tmp_path / "doc.xml")
    error = error_of(path, max_bytes=100)
    assert error.message_id == "file_too_large"
    assert error.params == {"size": path.stat().st_size, "limit": 100}


def test_missing_file_and_directory_are_errors(tmp_path):
    assert error_of(tmp_path / "absent.xml").message_id == "file_not_found"
    assert error_of(tmp_path).message_id == "not_a_regular_file"


def test_prolog_longer_than_the_limit_is_refused():
    with pytest.raises(DocumentError) as caught:
        check_prolog("doc.xml", b"<!--" + b"-" * 70_000, complete=False)
    assert caught.value.message_id == "prolog_too_long"


# --- memory: flat whatever the content ---------------------------------------------------


def _peak_rss_mb_reading(path) -> float:
    """Peak RSS of a fresh process that reads every line of ``path`` (this process's peak is shared)."""
    code = ("import resource, sys\n"
            "from ckanext.budgetod.core.totem.reader import TotemReader\n"
            "with TotemReader(sys.argv[1], max_bytes=2**30) as reader:\n"
            "    assert sum(1 for _ in reader.lines()) == 1\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n")
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    return float(result.stdout)


@pytest.mark.parametrize("filler", ["<x/>", '<Nature V="6064"/>', "<!---->"])
def test_elements_never_reported_after_the_last_line_do_not_pile_up(tmp_path, filler):
    """20 MB of small elements after the last line took 30 times their size in memory (3.1 GB for 99 MB)."""
    document = totem_document(lines=[Line()])
    end = document.index(b"</LigneBudget>") + len(b"</LigneBudget>")
    path = tmp_path / "filled.xml"
    path.write_bytes(document[:end] + filler.encode() * (20 * 2**20 // len(filler)) + document[end:])
    baseline = _peak_rss_mb_reading(write_totem(tmp_path / "plain.xml", lines=[Line()]))
    assert _peak_rss_mb_reading(path) < baseline + 50


def test_a_line_with_too_many_children_is_refused(tmp_path):
    document = totem_document(lines=[Line()])
    end = document.index(b"</LigneBudget>")
    path = tmp_path / "children.xml"
    path.write_bytes(document[:end] + b"<x/>" * 100_000 + document[end:])
    error = error_of(path)
    assert "more than 1000 child elements" in error.localized_cause("en")
    assert "plus de 1000 éléments enfants" in error.localized_cause("fr")
