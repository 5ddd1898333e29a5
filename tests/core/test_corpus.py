"""End to end on the real documents of ../shared/data/totem: valid SCDL, exact rows and sums,
deterministic bytes; and each broken document gives its own error."""
from __future__ import annotations

import csv
from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from lxml import etree

from ckanext.budgetod.core.errors import DocumentError
from ckanext.budgetod.core.scdl.conversion import convert_document
from ckanext.budgetod.core.scdl.validation import validate_csv
from ckanext.budgetod.core.totem.reader import AMOUNT_ELEMENTS, inspect_document
from tests.support.settings import offline_settings
from tests.support.shared import BROKEN_DIR, CORPUS

pytestmark = pytest.mark.usefixtures("offline_environment")

TOTEM = "{http://www.minefi.gouv.fr/cp/demat/docbudgetaire}"
AMOUNT_COLUMNS = dict(zip(AMOUNT_ELEMENTS, ("BGT_MTREAL", "BGT_MTBUDGPREC", "BGT_MTRARPREC", "BGT_MTPROPNOUV",
                                            "BGT_MTPREV", "BGT_CREDOUV", "BGT_MTRAR3112"), strict=True))
CODRD = {"D": "dépense", "R": "recette"}


def test_the_corpus_is_there():
    assert [path.name for path in CORPUS] == [
        "crach-lotissement-bp-2022.xml", "crach-principal-ca-2021.xml", "crach-principal-dm2-2021.xml",
        "mohon-cfu-2023.xml", "montreuil-ca-2018.xml", "transport-m43-bp-2022.xml"]


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """Each corpus document converted once with the local plans: {name: (csv path, result)}."""
    directory = tmp_path_factory.mktemp("corpus")
    outcome = {}
    for source in CORPUS:
        output = directory / f"{source.stem}.csv"
        outcome[source.name] = (output, convert_document(source, output, offline_settings()))
    return outcome


def xml_lines(source):
    """The document's non-calculated lines, read independently of the converter (whole tree)."""
    tree = etree.parse(str(source), etree.XMLParser(resolve_entities=False, no_network=True))
    return [line for line in tree.iter(f"{TOTEM}LigneBudget") if line.get("calculated") != "true"]


def csv_rows(path):
    with open(path, encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.mark.parametrize("source", CORPUS, ids=lambda path: path.stem)
def test_every_document_converts_to_a_valid_scdl_csv(converted, source):
    output, _result = converted[source.name]
    report = validate_csv(str(output), offline_settings())
    assert report.errors == []
    assert report.valid


@pytest.mark.parametrize("source", CORPUS, ids=lambda path: path.stem)
def test_rows_are_the_non_calculated_lines(converted, source):
    output, result = converted[source.name]
    expected = len(xml_lines(source))
    assert result.rows == len(csv_rows(output)) == expected
    assert result.info.lines_total - result.info.lines_calculated == expected


@pytest.mark.parametrize("source", CORPUS, ids=lambda path: path.stem)
def test_amount_sums_per_codrd_are_exactly_the_documents(converted, source):
    output, _result = converted[source.name]
    expected = defaultdict(Decimal)
    for line in xml_lines(source):
        codrd = CODRD[line.find(f"{TOTEM}CodRD").get("V")]
        for element, column in AMOUNT_COLUMNS.items():
            amount = line.find(f"{TOTEM}{element}")
            if amount is not None:
                expected[column, codrd] += Decimal(amount.get("V"))
    actual = defaultdict(Decimal)
    for row in csv_rows(output):
        for column in AMOUNT_COLUMNS.values():
            if row[column]:
                actual[column, row["BGT_CODRD"]] += Decimal(row[column])
    assert actual == expected
    assert expected  # the documents do carry amounts


@pytest.mark.parametrize("source", CORPUS, ids=lambda path: path.stem)
def test_every_row_has_a_chapter_a_section_and_labels(converted, source):
    output, _result = converted[source.name]
    for row in csv_rows(output):
        assert row["BGT_CONTNAT"] and row["BGT_CONTNAT_LABEL"], row
        assert row["BGT_SECTION"] in ("investissement", "fonctionnement"), row
        assert row["BGT_NATURE_LABEL"], row


@pytest.mark.parametrize("source", CORPUS, ids=lambda path: path.stem)
def test_same_document_gives_the_same_bytes(converted, source, tmp_path):
    output, _result = converted[source.name]
    again = tmp_path / "again.csv"
    convert_document(source, again, offline_settings())
    assert again.read_bytes() == output.read_bytes()


def test_annex_budget_is_named_after_the_collectivite_and_the_annex(converted):
    output, result = converted["crach-lotissement-bp-2022.xml"]
    assert result.info.header.is_annex
    assert {row["BGT_NOM"] for row in csv_rows(output)} == {"CRACH - LOTISSEMENT LE BOCENO"}
    principal, _result = converted["crach-principal-ca-2021.xml"]
    assert {row["BGT_NOM"] for row in csv_rows(principal)} == {"CRACH"}


def test_cfu_skips_its_totals_and_its_accounting_document(converted):
    output, result = converted["mohon-cfu-2023.xml"]
    assert (result.info.lines_total, result.info.lines_calculated, result.rows) == (796, 633, 163)
    assert {row["BGT_NATDEC"] for row in csv_rows(output)} == {"compte administratif"}


def test_corpus_warnings_are_the_expected_ones(converted):
    codes = {name: Counter(warning.code for warning in result.warnings)
             for name, (_output, result) in converted.items()}
    # 6518 left the M43_D plan in 2022: its label and chapter come from the 2021 plan.
    assert codes["transport-m43-bp-2022.xml"] == {"chapter_from_prefix": 2, "nature_from_other_year": 1}
    assert set(codes["montreuil-ca-2018.xml"]) == {"chapter_from_prefix"}
    assert not codes["crach-principal-ca-2021.xml"]


def test_montreuil_functions_are_labelled(converted):
    output, _result = converted["montreuil-ca-2018.xml"]
    rows = csv_rows(output)
    assert all(row["BGT_FONCTION"] and row["BGT_FONCTION_LABEL"] for row in rows)
    assert rows[0]["BGT_FONCTION_LABEL"] == "Hygiène et salubrité publique"


def test_inspect_on_the_corpus():
    info = inspect_document(CORPUS[4]).to_dict()  # Montreuil, UTF-8
    assert (info["siret"], info["exercice"], info["encoding"]) == ("21930048000015", 2018, "UTF-8")
    assert info["seal"] == {"md5": "FB717192CAC5DB3FB3062BD3BDA41AA4",
                            "sha1": "64FDC9B59F9EE1C7726EA2C6EEA3B730082A5570", "date": "2019-03-28T11:08:07"}
    assert inspect_document(CORPUS[0]).to_dict()["encoding"] == "ISO-8859-1"


@pytest.mark.parametrize("name, message_id, english", [
    ("mauvais_siret.xml", "invalid_siret", 'invalid SIRET "2156004610008" (IdEtab): 14 digits expected'),
    ("mauvaise_annee.xml", "invalid_year", 'invalid financial year "2022 en erreur" (Exer)'),
    ("mauvaise_etape.xml", "unknown_natdec", 'unknown budget stage "99999" (NatDec)'),
    ("mauvaise_nomenclature.xml", "invalid_nomenclature",
     'invalid nomenclature "M14-M14_COM_500_3500_en_erreur": NORME-DECLINAISON expected'),
    ("not-a-totem.xml", "no_budget", "no Budget element: not a usable TOTEM budget document"),
])
def test_each_broken_document_gives_its_specific_error(name, message_id, english, tmp_path):
    output = tmp_path / "out.csv"
    with pytest.raises(DocumentError) as caught:
        convert_document(BROKEN_DIR / name, output, offline_settings())
    assert caught.value.message_id == message_id
    assert english in caught.value.describe("en")
    assert caught.value.source == str(BROKEN_DIR / name)
    assert not output.exists()


def test_the_broken_directory_holds_exactly_those_documents():
    assert sorted(path.name for path in BROKEN_DIR.glob("*.xml")) == [
        "mauvais_siret.xml", "mauvaise_annee.xml", "mauvaise_etape.xml", "mauvaise_nomenclature.xml",
        "not-a-totem.xml"]
