"""SCDL rules, one by one, on small documents and a small plan; then the CSV format itself."""
from __future__ import annotations

import csv
import io
import json

import pytest

from ckanext.budgetod.core.contract import SCDL_COLUMNS
from ckanext.budgetod.core.errors import DocumentError
from ckanext.budgetod.core.scdl.conversion import convert_document
from tests.support.settings import offline_settings
from tests.support.shared import SCHEMA_PATH
from tests.support.totem_factory import DEFAULT_ACCOUNTS, DEFAULT_CHAPTERS, Line, write_plan, write_totem

pytestmark = pytest.mark.usefixtures("offline_environment")


@pytest.fixture
def plan(plans_dir):
    write_plan(plans_dir, 2022)
    return plans_dir


def convert(tmp_path, plans, lines=None, **document):
    source = write_totem(tmp_path / "doc.xml", lines=lines, **document)
    output = tmp_path / "doc.csv"
    result = convert_document(source, output, offline_settings(plans))
    with open(output, encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    return rows, result


def warning_codes(result) -> dict[str, int]:
    return {warning.code: warning.count for warning in result.warnings}


# --- document-level columns ----------------------------------------------------------------


@pytest.mark.parametrize("natdec, expected", [
    ("01", "budget primitif"), ("02", "décision modificative"), ("03", "budget supplémentaire"),
    ("09", "compte administratif"), ("10", "compte administratif"),
])
def test_natdec_is_the_schema_value(tmp_path, plan, natdec, expected):
    rows, _result = convert(tmp_path, plan, natdec=natdec)
    assert rows[0]["BGT_NATDEC"] == expected


def test_natdec_values_are_exactly_the_schema_enum():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    enum = next(field for field in schema["fields"] if field["name"] == "BGT_NATDEC")["constraints"]["enum"]
    from ckanext.budgetod.core.contract import NATDEC_SCDL_LABELS

    assert set(NATDEC_SCDL_LABELS.values()) == set(enum)


def test_year_siret_and_name(tmp_path, plan):
    rows, _result = convert(tmp_path, plan, year="2022", siret="21560046100085", collectivite="CRACH",
                            budget_type="A", etablissement="LOTISSEMENT LE BOCENO")
    row = rows[0]
    assert (row["BGT_ANNEE"], row["BGT_SIRET"], row["BGT_NOM"]) == (
        "2022", "21560046100085", "CRACH - LOTISSEMENT LE BOCENO")


def test_principal_budget_is_named_after_the_collectivite(tmp_path, plan):
    rows, _result = convert(tmp_path, plan, collectivite="CRACH", etablissement="BUDGET PRINCIPAL")
    assert rows[0]["BGT_NOM"] == "CRACH"


# --- chapter (BGT_CONTNAT) -------------------------------------------------------------------


def test_contnat_that_is_a_chapter_is_kept_with_its_label(tmp_path, plan):
    rows, result = convert(tmp_path, plan, [Line(nature="6064", contnat="011")])
    assert (rows[0]["BGT_CONTNAT"], rows[0]["BGT_CONTNAT_LABEL"]) == ("011", "Charges à caractère général")
    assert result.warnings == []


def test_contnat_that_is_a_function_chapter_gets_its_label(tmp_path, plan):
    rows, _result = convert(tmp_path, plan, [Line(nature="2313", contnat="908")])
    assert (rows[0]["BGT_CONTNAT"], rows[0]["BGT_CONTNAT_LABEL"]) == (
        "908", "Aménagement et services urbains, environnement")
    assert rows[0]["BGT_SECTION"] == "investissement"


@pytest.mark.parametrize("contnat, chapter", [("2313", "23"), ("4581001", "4581"), ("21318", "21")])
def test_contnat_that_is_no_chapter_takes_its_longest_chapter_prefix(tmp_path, plan, contnat, chapter):
    rows, result = convert(tmp_path, plan, [Line(nature="2313", contnat=contnat), Line(nature="2313", contnat=contnat)])
    assert {row["BGT_CONTNAT"] for row in rows} == {chapter}
    assert warning_codes(result) == {"chapter_from_prefix": 2}
    assert result.warnings[0].params == {"contnat": contnat, "chapter": chapter}


@pytest.mark.parametrize("line, chapter", [
    (Line(nature="6064", codrd="D", opbudg="0"), "011"),  # DR
    (Line(nature="7067", codrd="R", opbudg="0"), "70"),  # RR
    (Line(nature="6811", codrd="D", opbudg="1", typopbudg="2"), "042"),  # DOES
    (Line(nature="28128", codrd="R", opbudg="1", typopbudg="2"), "040"),  # ROES
    (Line(nature="2128", codrd="D", opbudg="1", typopbudg="1"), "041"),  # DOIS
    (Line(nature="2128", codrd="R", opbudg="1", typopbudg="1"), "041"),  # ROIS
    (Line(nature="2128", codrd="D", opbudg="1"), "040"),  # ordre without TypOpBudg: between sections first
    (Line(nature="2313", codrd="D", opbudg="1"), "041"),  # ... then within a section
    (Line(nature="6064", codrd="D", opbudg=None), "011"),  # OpBudg absent: real operation
])
def test_without_contnat_the_chapter_comes_from_the_account(tmp_path, plan, line, chapter):
    rows, result = convert(tmp_path, plan, [line])
    assert rows[0]["BGT_CONTNAT"] == chapter
    assert rows[0]["BGT_CONTNAT_LABEL"]
    assert result.warnings == []


def test_account_missing_from_the_plan_takes_a_parent_chapter(tmp_path, plan):
    rows, result = convert(tmp_path, plan, [Line(nature="6518")])
    assert (rows[0]["BGT_CONTNAT"], rows[0]["BGT_CONTNAT_LABEL"]) == ("65", "Autres charges de gestion courante")
    assert warning_codes(result) == {"nature_label_from_parent": 1}


def test_no_chapter_at_all_leaves_contnat_as_written_and_warns(tmp_path, plan):
    rows, result = convert(tmp_path, plan, [Line(nature="9999", contnat="X1")])
    assert (rows[0]["BGT_CONTNAT"], rows[0]["BGT_CONTNAT_LABEL"]) == ("X1", "")
    assert warning_codes(result)["chapter_unknown"] == 1


# --- section ----------------------------------------------------------------------------------


def test_section_from_the_line_wins(tmp_path, plan):
    rows, _result = convert(tmp_path, plan, [Line(nature="6064", contnat="011", section="I")])
    assert rows[0]["BGT_SECTION"] == "investissement"


def test_section_from_the_chapter(tmp_path, plan):
    rows, _result = convert(tmp_path, plan, [Line(nature="6064", contnat="011"), Line(nature="1641")])
    assert [row["BGT_SECTION"] for row in rows] == ["fonctionnement", "investissement"]


@pytest.mark.parametrize("nature, section", [
    ("2313", "investissement"), ("1641", "investissement"), ("001", "investissement"), ("024", "investissement"),
    ("3555", "investissement"), ("4581", "investissement"),
    ("6064", "fonctionnement"), ("7067", "fonctionnement"), ("002", "fonctionnement"), ("023", "fonctionnement"),
])
def test_section_from_the_account_class_when_no_chapter_says(tmp_path, plans_dir, nature, section):
    write_plan(plans_dir, 2022, chapters=[], function_chapters=[], accounts=[])
    rows, _result = convert(tmp_path, plans_dir, [Line(nature=nature)])
    assert rows[0]["BGT_SECTION"] == section


def test_unknown_section_is_left_empty_with_a_warning(tmp_path, plans_dir):
    write_plan(plans_dir, 2022, chapters=[], function_chapters=[], accounts=[])
    rows, result = convert(tmp_path, plans_dir, [Line(nature="9999")])
    assert rows[0]["BGT_SECTION"] == ""
    assert warning_codes(result)["section_unknown"] == 1


# --- nature, function, operation and codes ----------------------------------------------------


def test_nature_label_from_the_account(tmp_path, plan):
    rows, _result = convert(tmp_path, plan, [Line(nature="6064")])
    assert (rows[0]["BGT_NATURE"], rows[0]["BGT_NATURE_LABEL"]) == ("6064", "Fournitures administratives")


def test_nature_label_from_the_nearest_parent_account_with_a_warning(tmp_path, plan):
    rows, result = convert(tmp_path, plan, [Line(nature="6518", contnat="65")] * 3)
    assert rows[0]["BGT_NATURE_LABEL"] == "Redevances pour concessions"
    (warning,) = result.warnings
    assert (warning.code, warning.count, warning.params) == ("nature_label_from_parent", 3,
                                                             {"nature": "6518", "parent": "651"})
    assert "6518" in warning.message("fr") and "651" in warning.message("en")


def test_nature_without_parent_is_left_unlabelled_with_a_warning(tmp_path, plan):
    rows, result = convert(tmp_path, plan, [Line(nature="9999", contnat="011")])
    assert rows[0]["BGT_NATURE_LABEL"] == ""
    assert warning_codes(result) == {"nature_unknown": 1}


def test_function_and_its_label(tmp_path, plan):
    rows, result = convert(tmp_path, plan, [Line(fonction="822"), Line(fonction="8229"), Line(fonction="5"),
                                            Line()])
    assert [(row["BGT_FONCTION"], row["BGT_FONCTION_LABEL"]) for row in rows] == [
        ("822", "Voirie"), ("8229", "Voirie"), ("5", ""), ("", "")]
    assert warning_codes(result) == {"fonction_label_from_parent": 1, "fonction_unknown": 1}


def test_operation_opbudg_codrd_and_artspe(tmp_path, plan):
    lines = [Line(operation="2009005", opbudg="0", codrd="D", artspe="false"),
             Line(nature="28128", opbudg="1", typopbudg="2", codrd="R", artspe="true"),
             Line(artspe=None)]
    rows, _result = convert(tmp_path, plan, lines)
    assert [(row["BGT_OPERATION"], row["BGT_OPBUDG"], row["BGT_CODRD"], row["BGT_ARTSPE"]) for row in rows] == [
        ("2009005", "réel", "dépense", "non spécialisé"), ("", "ordre", "recette", "spécialisé"),
        ("", "réel", "dépense", "")]


def test_amounts_are_copied_exactly_as_written(tmp_path, plan):
    amounts = {"MtReal": "-0012.50", "MtBudgPrec": "1.", "MtRARPrec": ".5", "MtPropNouv": "+3",
               "MtPrev": "0", "CredOuv": "123456789012.34", "MtRAR3112": "0.10"}
    rows, _result = convert(tmp_path, plan, [Line(amounts=amounts), Line(amounts={})])
    assert [rows[0][column] for column in ("BGT_MTREAL", "BGT_MTBUDGPREC", "BGT_MTRARPREC", "BGT_MTPROPNOUV",
                                           "BGT_MTPREV", "BGT_CREDOUV", "BGT_MTRAR3112")] == list(amounts.values())
    assert all(rows[1][column] == "" for column in SCDL_COLUMNS if column.startswith(("BGT_MT", "BGT_CRED")))


# --- plans ------------------------------------------------------------------------------------


def test_without_any_plan_the_document_is_still_converted(tmp_path, plans_dir):
    rows, result = convert(tmp_path, plans_dir, [Line(nature="6064", contnat="011"), Line(nature="1641")])
    assert len(rows) == 2
    assert [row["BGT_CONTNAT"] for row in rows] == ["011", ""]
    assert {row["BGT_CONTNAT_LABEL"] for row in rows} == {""}
    assert {row["BGT_NATURE_LABEL"] for row in rows} == {""}
    assert [row["BGT_SECTION"] for row in rows] == ["fonctionnement", "investissement"]  # account class
    assert warning_codes(result) == {"plan_missing": 1}
    assert result.plan.to_dict()["location"] is None


def test_plan_of_the_nearest_year_is_used_with_a_warning(tmp_path, plans_dir):
    write_plan(plans_dir, 2020)
    rows, result = convert(tmp_path, plans_dir, [Line(nature="6064")], year="2022")
    assert rows[0]["BGT_CONTNAT"] == "011"
    (warning,) = result.warnings
    assert (warning.code, warning.params) == ("plan_year_fallback", {
        "nomenclature": "M14-M14_COM_500_3500", "year": "2022", "used_year": "2020"})


# --- the CSV itself ---------------------------------------------------------------------------


def test_header_is_in_schema_order():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert list(SCDL_COLUMNS) == [field["name"] for field in schema["fields"]]


def test_csv_is_utf8_without_bom_comma_separated_with_lf(tmp_path, plan):
    _rows, _result = convert(tmp_path, plan, [Line(operation='Rue "Haute", église')], collectivite="SAINT-ÉTIENNE")
    content = (tmp_path / "doc.csv").read_bytes()
    assert not content.startswith(b"\xef\xbb\xbf")
    assert b"\r" not in content
    assert content.startswith(",".join(SCDL_COLUMNS).encode() + b"\n")
    assert content.endswith(b"\n")
    assert '"Rue ""Haute"", église"'.encode() in content
    assert "SAINT-ÉTIENNE".encode() in content


def test_same_input_gives_the_same_bytes(tmp_path, plan):
    lines = [Line(nature="6518"), Line(nature="2313", contnat="2313"), Line(fonction="8229"), Line()]
    source = write_totem(tmp_path / "doc.xml", lines=lines)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    convert_document(source, first, offline_settings(plan))
    convert_document(source, second, offline_settings(plan))
    assert first.read_bytes() == second.read_bytes()


def test_output_to_a_binary_stream(tmp_path, plan):
    source = write_totem(tmp_path / "doc.xml")
    stream = io.BytesIO()
    result = convert_document(source, stream, offline_settings(plan))
    assert result.output is None and result.rows == 1
    assert stream.getvalue().startswith(b"BGT_NATDEC,")
    assert not stream.closed  # the caller owns it


def test_a_failed_conversion_leaves_no_file_behind(tmp_path, plan):
    source = write_totem(tmp_path / "doc.xml", lines=[Line()] * 5 + [Line(amounts={"MtReal": "abc"})])
    output = tmp_path / "out" / "doc.csv"
    output.parent.mkdir()
    output.write_text("previous content")
    with pytest.raises(DocumentError):
        convert_document(source, output, offline_settings(plan))
    assert output.read_text() == "previous content"
    assert [path.name for path in output.parent.iterdir()] == ["doc.csv"]


# --- codes missing from the year's plan --------------------------------------------------------

OLD_ACCOUNT = ("6237", "Publications", {"DR": "011"}, [])
OLD_FUNCTION = ("823", "Espaces verts urbains", [])
OLD_CHAPTER = ("017", "RSA", "F")


def write_older_plan(plans_dir, year, label_suffix=""):
    """A plan with a few codes the default (current) plan no longer has."""
    accounts = [*DEFAULT_ACCOUNTS, (OLD_ACCOUNT[0], OLD_ACCOUNT[1] + label_suffix, *OLD_ACCOUNT[2:])]
    old_function = (OLD_FUNCTION[0], OLD_FUNCTION[1] + label_suffix, [])
    functions = [("8", "Aménagement", [("82", "Aménagement urbain", [("822", "Voirie", []), old_function])])]
    write_plan(plans_dir, year, accounts=accounts, functions=functions,
               chapters=[*DEFAULT_CHAPTERS, (OLD_CHAPTER[0], OLD_CHAPTER[1] + label_suffix, OLD_CHAPTER[2])])


def test_a_code_missing_from_the_years_plan_is_taken_from_the_nearest_other_year(tmp_path, plans_dir):
    write_plan(plans_dir, 2022)
    write_older_plan(plans_dir, 2019, " (2019)")
    write_older_plan(plans_dir, 2021)  # nearer than 2019
    rows, result = convert(tmp_path, plans_dir,
                           [Line(nature="6237", fonction="823"), Line(nature="6064", contnat="017")])
    assert [(row["BGT_CONTNAT"], row["BGT_CONTNAT_LABEL"], row["BGT_NATURE_LABEL"], row["BGT_FONCTION_LABEL"])
            for row in rows] == [("011", "Charges à caractère général", "Publications", "Espaces verts urbains"),
                                 ("017", "RSA", "Fournitures administratives", "")]
    assert [(warning.code, warning.params) for warning in result.warnings] == [
        ("nature_from_other_year", {"nature": "6237", "plan_year": "2022", "used_year": "2021"}),
        ("fonction_from_other_year", {"fonction": "823", "plan_year": "2022", "used_year": "2021"}),
        ("chapter_from_other_year", {"contnat": "017", "plan_year": "2022", "used_year": "2021"}),
    ]
    assert "2021" in result.warnings[0].message("fr") and "2022" in result.warnings[0].message("en")


def test_the_parent_code_is_the_last_resort(tmp_path, plans_dir):
    write_plan(plans_dir, 2022)
    write_older_plan(plans_dir, 2021)
    rows, result = convert(tmp_path, plans_dir, [Line(nature="65189", fonction="8229")])
    assert (rows[0]["BGT_NATURE_LABEL"], rows[0]["BGT_FONCTION_LABEL"]) == ("Redevances pour concessions", "Voirie")
    assert warning_codes(result) == {"nature_label_from_parent": 1, "fonction_label_from_parent": 1}


def test_a_document_of_a_year_without_plan_looks_further_back(tmp_path, plans_dir):
    write_plan(plans_dir, 2024)
    write_older_plan(plans_dir, 2023)
    rows, result = convert(tmp_path, plans_dir, [Line(nature="6237")], year="2025")
    assert rows[0]["BGT_NATURE_LABEL"] == "Publications"
    assert [(warning.code, warning.params.get("used_year")) for warning in result.warnings] == [
        ("plan_year_fallback", "2024"), ("nature_from_other_year", "2023")]


def test_other_years_are_read_only_when_a_code_is_missing(tmp_path, plans_dir):
    from ckanext.budgetod.core.totem import nomenclature

    write_plan(plans_dir, 2022)
    write_older_plan(plans_dir, 2021)
    convert(tmp_path, plans_dir, [Line(nature="6064", fonction="822")])
    assert nomenclature._load_plan.cache_info().currsize == 1
