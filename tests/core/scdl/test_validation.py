"""Tests for SCDL budget CSV validation (frictionless + french-siret-value, like Validata)."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ckanext.budgetod.core import messages
from ckanext.budgetod.core.errors import BudgetodError
from ckanext.budgetod.core.net.fetch import RefusedLocation
from ckanext.budgetod.core.scdl.validation import (
    UnusableInput,
    UnusableSchema,
    format_summary,
    is_valid_siret,
    validate_csv,
)
from ckanext.budgetod.core.settings import DEFAULT_SCHEMA_URL, SCHEMA_ENV, Settings
from tests.support.repository import REPOSITORY
from tests.support.settings import offline_settings
from tests.support.shared import SCHEMA_PATH

HEADER = [
    "BGT_NATDEC", "BGT_ANNEE", "BGT_SIRET", "BGT_NOM", "BGT_CONTNAT", "BGT_CONTNAT_LABEL", "BGT_NATURE",
    "BGT_NATURE_LABEL", "BGT_FONCTION", "BGT_FONCTION_LABEL", "BGT_OPERATION", "BGT_SECTION", "BGT_OPBUDG",
    "BGT_CODRD", "BGT_MTREAL", "BGT_MTBUDGPREC", "BGT_MTRARPREC", "BGT_MTPROPNOUV", "BGT_MTPREV", "BGT_CREDOUV",
    "BGT_MTRAR3112", "BGT_ARTSPE",
]
MONTREUIL_SIRET = "21930048000015"


@pytest.fixture(autouse=True)
def english_messages(monkeypatch):
    """Error texts follow $BUDGETOD_LANG: pin it so ``match=`` sees the English text."""
    monkeypatch.setenv(messages.LANGUAGE_ENV, "en")


def budget_row(**overrides) -> dict[str, str]:
    row = {
        "BGT_NATDEC": "compte administratif", "BGT_ANNEE": "2018", "BGT_SIRET": MONTREUIL_SIRET,
        "BGT_NOM": "MONTREUIL", "BGT_CONTNAT": "6042", "BGT_CONTNAT_LABEL": "Achats de prestations de services",
        "BGT_NATURE": "011", "BGT_NATURE_LABEL": "Charges à caractère général", "BGT_FONCTION": "020",
        "BGT_FONCTION_LABEL": "Administration générale", "BGT_OPERATION": "", "BGT_SECTION": "fonctionnement",
        "BGT_OPBUDG": "réel", "BGT_CODRD": "dépense", "BGT_MTREAL": "12345.67", "BGT_MTBUDGPREC": "",
        "BGT_MTRARPREC": "", "BGT_MTPROPNOUV": "", "BGT_MTPREV": "", "BGT_CREDOUV": "15000",
        "BGT_MTRAR3112": "0", "BGT_ARTSPE": "non spécialisé",
    }
    row.update(overrides)
    return row


def write_csv(path: Path, rows: list[dict], header: list[str] = HEADER, encoding: str = "utf-8") -> str:
    with path.open("w", encoding=encoding, newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(name, "") for name in header])
    return str(path)


def validate(path: str, **kwargs):
    return validate_csv(path, offline_settings(), **kwargs)


# --- verdicts -----------------------------------------------------------------


def test_valid_budget(tmp_path):
    path = write_csv(tmp_path / "budget.csv", [budget_row(), budget_row(BGT_CODRD="recette"), budget_row()])
    report = validate(path)
    assert report.valid and report.rows == 3 and report.errors == []
    assert format_summary(report) == "Valide : 3 lignes, aucune erreur."
    assert format_summary(report, "en") == "Valid: 3 rows, no errors."


def test_text_cells_a_spreadsheet_would_run_as_formulas_are_kept_and_warned_about(tmp_path):
    formula = '=HYPERLINK("http://evil.example/","MONTREUIL")'
    rows = [budget_row(), budget_row(BGT_NOM=formula, BGT_MTREAL="-12.5"), budget_row(BGT_NOM="@SUM(A1)"),
            budget_row(BGT_CONTNAT_LABEL="+ Achats"),
            # French Excel splits a line at ";": this cell's second piece would be a formula there.
            budget_row(BGT_CONTNAT_LABEL='Achats;=HYPERLINK("http://evil.example/")')]
    report = validate(write_csv(tmp_path / "budget.csv", rows))

    assert report.valid  # SCDL allows such text: the CSV stays as the document wrote it
    assert [warning.render('fr') for warning in report.warnings] == [
        ("colonne BGT_NOM : 2 cellule(s) de texte ont =, +, - ou @ au début ou après une virgule, un "
         "point-virgule, une tabulation ou un saut de ligne (la première ligne 3) ; un tableur pourrait les "
         "exécuter comme des formules. Le schéma SCDL les admet et le CSV garde le texte du document tel quel : "
         "l'ouvrir par une importation en texte."),
        ("colonne BGT_CONTNAT_LABEL : 2 cellule(s) de texte ont =, +, - ou @ au début ou après une virgule, un "
         "point-virgule, une tabulation ou un saut de ligne (la première ligne 5) ; un tableur pourrait les "
         "exécuter comme des formules. Le schéma SCDL les admet et le CSV garde le texte du document tel quel : "
         "l'ouvrir par une importation en texte.")]
    assert report.warnings[0].render('en').startswith(
        "column BGT_NOM: 2 text cell(s) have =, +, - or @ at their start or after a comma, semicolon, tab or "
        "line break (the first on row 3); a spreadsheet could run them as formulas.")
    assert report.to_dict()["warnings"][0]["message_en"] == report.warnings[0].render('en')
    assert "Warning: column BGT_NOM: 2 text cell(s)" in format_summary(report, "en")


def test_negative_amounts_are_no_formulas(tmp_path):
    report = validate(write_csv(tmp_path / "budget.csv", [budget_row(BGT_MTREAL="-12.5", BGT_CREDOUV="-3")]))
    assert report.valid and report.warnings == []


def test_thousands_are_grouped_in_the_summary(tmp_path):
    path = write_csv(tmp_path / "budget.csv", [budget_row()] * 1234)
    report = validate(path)
    assert format_summary(report) == "Valide : 1 234 lignes, aucune erreur."
    assert format_summary(report, "en") == "Valid: 1,234 rows, no errors."


def test_utf8_bom_is_accepted(tmp_path):
    path = write_csv(tmp_path / "bom.csv", [budget_row()], encoding="utf-8-sig")
    assert validate(path).valid


def test_enum_violation(tmp_path):
    path = write_csv(tmp_path / "enum.csv", [budget_row(), budget_row(BGT_NATDEC="budget prévisionnel")])
    report = validate(path)
    assert not report.valid
    [issue] = report.errors
    assert (issue.type, issue.row, issue.field) == ("constraint-error", 3, "BGT_NATDEC")
    assert issue.cell == "budget prévisionnel"
    assert "« budget primitif »" in issue.message_fr and "valeurs possibles" in issue.message_fr
    assert '"budget primitif"' in issue.message_en and "possible values" in issue.message_en


def test_required_value_missing(tmp_path):
    report = validate(write_csv(tmp_path / "required.csv", [budget_row(BGT_NOM="")]))
    [issue] = report.errors
    assert (issue.type, issue.field) == ("constraint-error", "BGT_NOM")
    assert issue.message_fr == "valeur obligatoire manquante."
    assert issue.message_en == "required value is missing."


def test_bad_siret_checksum_is_a_french_siret_value_error(tmp_path):
    report = validate(write_csv(tmp_path / "siret.csv", [budget_row(BGT_SIRET="21930048000016")]))
    assert not report.valid
    [issue] = report.errors
    assert (issue.type, issue.field, issue.row) == ("french-siret-value", "BGT_SIRET", 2)
    assert "SIRET" in issue.message_fr and "SIRET" in issue.message_en
    # The custom check's error is part of the frictionless report itself, as in Validata.
    frictionless_errors = report.to_dict()["frictionless"]["tasks"][0]["errors"]
    assert [error["type"] for error in frictionless_errors] == ["french-siret-value"]


def test_la_poste_siret_follows_its_own_rule(tmp_path):
    la_poste_office = "35600000000001"  # digits add up to 15: valid although Luhn fails
    assert validate(write_csv(tmp_path / "poste.csv", [budget_row(BGT_SIRET=la_poste_office)])).valid
    report = validate(write_csv(tmp_path / "poste-bad.csv", [budget_row(BGT_SIRET="35600000000014")]))
    assert [issue.type for issue in report.errors] == ["french-siret-value"]


@pytest.mark.parametrize("siret, expected", [
    ("73282932000074", True),
    ("73282932000079", False),
    (MONTREUIL_SIRET, True),
    ("35600000000048", True),   # La Poste head office: plain Luhn
    ("35600000000001", True),   # La Poste establishment: digit sum multiple of 5
    ("35600000000002", False),
    ("35600000000014", False),  # passes Luhn, but La Poste's rule applies
    ("10000000000008", False),  # passes Luhn on 14 digits, but not on the SIREN
    ("732 829 320 00074", True),  # separators ignored, like the reference check
    ("7328293200007", False),
    ("7328293200007A", False),
    ("", False),
])
def test_siret_rule(siret, expected):
    assert is_valid_siret(siret) is expected


def test_siret_not_matching_the_pattern_gets_both_errors(tmp_path):
    report = validate(write_csv(tmp_path / "short.csv", [budget_row(BGT_SIRET="1234")]))
    assert sorted(issue.type for issue in report.errors) == ["constraint-error", "french-siret-value"]


def test_bad_decimal(tmp_path):
    report = validate(write_csv(tmp_path / "decimal.csv", [budget_row(BGT_MTREAL="12345,67")]))
    [issue] = report.errors
    assert (issue.type, issue.field, issue.cell) == ("type-error", "BGT_MTREAL", "12345,67")
    assert "point" in issue.message_fr and "point" in issue.message_en


def test_missing_column(tmp_path):
    header = [name for name in HEADER if name != "BGT_ARTSPE"]
    report = validate(write_csv(tmp_path / "missing.csv", [budget_row()], header=header))
    assert not report.valid
    [issue] = report.errors
    assert (issue.type, issue.field) == ("missing-label", "BGT_ARTSPE")
    assert "absente" in issue.message_fr and "missing" in issue.message_en


def test_extra_column(tmp_path):
    report = validate(write_csv(tmp_path / "extra.csv", [budget_row(EXTRA="x")], header=HEADER + ["EXTRA"]))
    assert not report.valid
    assert report.counts_by_type()["extra-label"] == 1
    label_issue = next(issue for issue in report.errors if issue.type == "extra-label")
    assert label_issue.field == "EXTRA"
    assert "« EXTRA »" in label_issue.message_fr and '"EXTRA"' in label_issue.message_en


def test_blank_row(tmp_path):
    path = tmp_path / "blank.csv"
    write_csv(path, [budget_row()])
    with path.open("a", encoding="utf-8") as out:
        out.write("," * (len(HEADER) - 1) + "\n")
    report = validate(str(path))
    assert [issue.type for issue in report.errors] == ["blank-row"]
    assert report.errors[0].message_fr == "ligne vide."


# --- report -------------------------------------------------------------------


def test_report_counts_and_first_errors(tmp_path):
    rows = [budget_row(BGT_SECTION="exploitation") for _ in range(120)] + [budget_row(BGT_MTREAL="1 000")] * 5
    report = validate(write_csv(tmp_path / "many.csv", rows))
    summary = report.to_dict()
    json.dumps(summary)  # must be JSON-serialisable as is
    assert summary["valid"] is False and summary["rows"] == 125
    assert summary["error_count"] == 125 and summary["error_limit_reached"] is False
    assert summary["errors_by_type"] == {"constraint-error": 120, "type-error": 5}
    assert summary["errors_by_field"] == {"BGT_SECTION": 120, "BGT_MTREAL": 5}
    assert summary["errors_by_type_and_field"][0] == {"type": "constraint-error", "field": "BGT_SECTION",
                                                      "count": 120}
    assert len(summary["first_errors"]) == 100
    first = summary["first_errors"][0]
    assert set(first) >= {"row", "field", "type", "message_fr", "message_en"} and first["row"] == 2
    assert summary["frictionless"]["valid"] is False
    assert summary["frictionless"]["tasks"][0]["stats"]["rows"] == 125


def test_summary_lists_first_errors_in_french_and_english(tmp_path):
    rows = [budget_row(BGT_NATDEC="budget prévisionnel"), budget_row(BGT_NATDEC="budget prévisionnel"),
            budget_row(BGT_SIRET="21930048000016")]
    report = validate(write_csv(tmp_path / "three.csv", rows))
    french = format_summary(report)
    assert french.startswith("Invalide : 3 erreurs sur 3 lignes "
                             "(2 × constraint-error sur BGT_NATDEC, 1 × french-siret-value sur BGT_SIRET).")
    assert "ligne 2, BGT_NATDEC : « budget prévisionnel »" in french
    english = format_summary(report, "en")
    assert english.startswith("Invalid: 3 errors in 3 rows "
                              "(2 × constraint-error on BGT_NATDEC, 1 × french-siret-value on BGT_SIRET).")
    assert "row 4, BGT_SIRET: " in english


def test_error_limit_keeps_the_full_row_count(tmp_path):
    rows = [budget_row(BGT_CODRD="charge")] * 30
    report = validate(write_csv(tmp_path / "limit.csv", rows), limit_errors=10)
    assert report.error_limit_reached and report.error_count == 10 and report.rows == 30
    assert format_summary(report).startswith("Invalide : au moins 10 erreurs sur 30 lignes")
    assert format_summary(report, "en").startswith("Invalid: at least 10 errors in 30 rows")


# --- unusable input -------------------------------------------------------------


def _unusable(path: Path, match: str):
    with pytest.raises(UnusableInput, match=match) as caught:
        validate(str(path))
    assert str(caught.value).startswith(str(path))
    assert isinstance(caught.value, BudgetodError)


def test_missing_file_is_unusable(tmp_path):
    path = tmp_path / "absent.csv"
    _unusable(path, "file not found")
    with pytest.raises(UnusableInput) as caught:
        validate(str(path))
    assert caught.value.describe("fr") == f"{path}: fichier introuvable"


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"\xef\xbb\xbf"])
def test_empty_file_is_unusable(tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    _unusable(path, "empty file")


def test_non_utf8_file_is_unusable(tmp_path):
    path = Path(write_csv(tmp_path / "latin1.csv", [budget_row()], encoding="latin-1"))
    _unusable(path, "UTF-8.*line 2")


@pytest.mark.parametrize("content", [
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    b"<?xml version='1.0'?><DocumentBudgetaire/>",
    b"\n<!DOCTYPE html><html></html>",
])
def test_not_a_csv_is_unusable(tmp_path, content):
    path = tmp_path / "budget.csv"
    path.write_bytes(content)
    _unusable(path, "not a")


# --- schema -------------------------------------------------------------------


def test_the_command_lines_schema_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(SCHEMA_ENV, str(SCHEMA_PATH))
    report = validate_csv(write_csv(tmp_path / "budget.csv", [budget_row()]), Settings.from_environment())
    assert report.valid and report.schema_source == str(SCHEMA_PATH)


def test_default_schema_is_the_official_url():
    assert DEFAULT_SCHEMA_URL == "https://schema.data.gouv.fr/schemas/scdl/budget/0.8.3/schema.json"


@pytest.fixture
def schema_server():
    handler = partial(SimpleHTTPRequestHandler, directory=str(SCHEMA_PATH.parent))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_schema_url_is_fetched_into_the_cache(tmp_path, schema_server):
    csv_path = write_csv(tmp_path / "budget.csv", [budget_row()])
    schema_url = f"{schema_server}/{SCHEMA_PATH.name}"
    report = validate_csv(csv_path, offline_settings(scdl_schema=schema_url, cache_dir=str(tmp_path / "cache"),
                                                     network={"allow_private": True}))
    assert report.valid
    assert [p.name for p in (tmp_path / "cache").rglob("*.json")] == [SCHEMA_PATH.name]
    with pytest.raises(RefusedLocation):  # the fetch safeguards apply to the schema too
        validate_csv(csv_path, offline_settings(scdl_schema=schema_url, cache_dir=str(tmp_path / "other-cache")))


def test_unreadable_schema(tmp_path):
    csv_path = write_csv(tmp_path / "budget.csv", [budget_row()])
    with pytest.raises(UnusableSchema, match="schema not found"):
        validate_csv(csv_path, offline_settings(scdl_schema=str(tmp_path / "absent.json")))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(UnusableSchema, match="unreadable schema"):
        validate_csv(csv_path, offline_settings(scdl_schema=str(broken)))


def test_unknown_custom_check_is_reported_as_a_warning(tmp_path):
    descriptor = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    descriptor["custom_checks"].append({"name": "french-gps-coordinates", "params": {}})
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(descriptor), encoding="utf-8")
    report = validate_csv(write_csv(tmp_path / "budget.csv", [budget_row()]), offline_settings(scdl_schema=str(schema)))
    assert report.valid
    [warning] = report.to_dict()["warnings"]
    assert "french-gps-coordinates" in warning["message_fr"] and "not supported" in warning["message_en"]
    assert "Avertissement : contrôle personnalisé « french-gps-coordinates »" in format_summary(report)


def test_import_does_not_load_frictionless():
    code = ("import sys, ckanext.budgetod.core.scdl.validation, ckanext.budgetod.core.net.fetch; "
            "assert 'frictionless' not in sys.modules and 'requests' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPOSITORY)
