"""M57, every collectivité's nomenclature: functions in both forms, on generated documents and the
real plans (M57, M57_A, M57_D, M57_P), and documents of years the mirror has no plan for yet."""
from __future__ import annotations

import csv

import pytest

from ckanext.budgetod.core.scdl.conversion import convert_document
from tests.support.settings import offline_settings
from tests.support.shared import PLANS_DIR
from tests.support.totem_factory import Line, m57_function_lines, write_totem

pytestmark = pytest.mark.usefixtures("offline_environment")

# Each declinaison at the latest year the mirror has its plan for.
M57_PLANS = [("M57", 2022), ("M57_A", 2024), ("M57_D", 2024), ("M57_P", 2024)]


def convert(tmp_path, lines, *, declinaison: str, year: int):
    source = write_totem(tmp_path / "doc.xml", lines=lines, nomenclature=f"M57-{declinaison}", year=str(year))
    output = tmp_path / "doc.csv"
    result = convert_document(source, output, offline_settings())
    with open(output, encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream)), result


@pytest.mark.parametrize("form", ["plain", "prefixed"])
@pytest.mark.parametrize("declinaison, year", M57_PLANS)
def test_every_function_gets_the_plans_code_and_label(tmp_path, declinaison, year, form):
    plan_path = PLANS_DIR / str(year) / "M57" / declinaison / "planDeCompte.xml"
    expected = m57_function_lines(plan_path, form)
    assert len(expected) > 200  # the whole functional reference of the plan
    rows, result = convert(tmp_path, [item.line for item in expected] + [Line(nature="6064")],
                           declinaison=declinaison, year=year)
    written = [(row["BGT_FONCTION"], row["BGT_FONCTION_LABEL"]) for row in rows]
    assert written[:-1] == [(item.code, item.label) for item in expected]  # 100 % of the labels
    assert written[-1] == ("", "")  # a line without Fonction
    assert not [warning for warning in result.warnings if "fonction" in warning.code]


@pytest.mark.parametrize("fonction, code, label", [
    ("93024", "024", "Aide aux associations (non classées ailleurs)"),
    ("904221", "4221", "Crèches et garderies"),
    ("930", "0", "Services généraux"),
    ("922", "922", "Dotations et participations"),
    ("940", "940", "Impositions directes"),
    ("024", "024", "Aide aux associations (non classées ailleurs)"),
])
def test_the_cases_of_the_issue(tmp_path, fonction, code, label):
    rows, _result = convert(tmp_path, [Line(fonction=fonction, contfon=fonction[:3])], declinaison="M57_A", year=2024)
    assert (rows[0]["BGT_FONCTION"], rows[0]["BGT_FONCTION_LABEL"]) == (code, label)


def test_functions_only_among_the_functional_accounts_are_labelled_from_them(tmp_path):
    # M57_P (Paris) has functions such as 1011 under 901 that its functional reference lacks.
    rows, result = convert(tmp_path, [Line(nature="2128", fonction="901011", contfon="901")],
                           declinaison="M57_P", year=2024)
    assert (rows[0]["BGT_FONCTION"], rows[0]["BGT_FONCTION_LABEL"]) == ("1011", "Information, communication, publicité")
    assert not result.warnings


def test_a_document_of_a_year_without_plan_uses_the_latest_one(tmp_path):
    rows, result = convert(tmp_path, [Line(nature="6064", fonction="93024", contfon="930")],
                           declinaison="M57_A", year=2026)
    assert (rows[0]["BGT_NATURE_LABEL"], rows[0]["BGT_FONCTION"], rows[0]["BGT_FONCTION_LABEL"]) == (
        "Fournitures administratives", "024", "Aide aux associations (non classées ailleurs)")
    assert [(warning.code, warning.params["used_year"]) for warning in result.warnings] == [
        ("plan_year_fallback", "2024")]
