"""The ``budgetod`` command line: convert, validate, inspect, errors and languages.

Most tests drive the click group in-process; the unsafe-input tests run the real
process, since what matters there is the whole process: exit status, one line
on stderr, time, and no leaked content.
"""
from __future__ import annotations

import csv
import json
import os
import pty
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from ckanext.budgetod.core import cli
from ckanext.budgetod.core.cli import build_cli
from ckanext.budgetod.core.scdl import conversion
from ckanext.budgetod.core.settings import Settings
from tests.support.hostile_xml import SECRET, UNSAFE_PROLOGS, billion_laughs, xxe_document
from tests.support.repository import REPOSITORY
from tests.support.shared import CORPUS, PLANS_DIR, SCHEMA_PATH
from tests.support.totem_factory import Line, totem_document, write_plan, write_totem

pytestmark = pytest.mark.usefixtures("offline_environment")

CRACH = next(path for path in CORPUS if path.name == "crach-lotissement-bp-2022.xml")
TRANSPORT = next(path for path in CORPUS if path.name == "transport-m43-bp-2022.xml")


def run(*arguments, settings=None, lang=None):
    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:  # click >= 8.2 always keeps stderr apart
        runner = CliRunner()
    return runner.invoke(build_cli(settings, lang=lang), [str(argument) for argument in arguments])


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


# --- convert ------------------------------------------------------------------------------


def test_convert_one_document_to_standard_output():
    result = run("convert", CRACH)
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(result.stdout.splitlines()))
    assert len(rows) == 21 and rows[0]["BGT_SIRET"] == "21560046100085"


def test_convert_to_a_file_says_what_it_wrote(tmp_path):
    output = tmp_path / "out.csv"
    result = run("convert", CRACH, "-o", output)
    assert result.exit_code == 0
    assert output.read_bytes().startswith(b"BGT_NATDEC,BGT_ANNEE,")
    assert result.stdout == ""
    assert f"{CRACH} → {output} : 21 ligne(s)" in result.stderr


def test_convert_with_report_validates_and_describes(tmp_path):
    output, report = tmp_path / "out.csv", tmp_path / "report.json"
    result = run("convert", TRANSPORT, "-o", output, "--report", report)
    assert result.exit_code == 0, result.stderr
    content = json.loads(report.read_text(encoding="utf-8"))
    assert content["report_version"] == 2 and content["source"] == str(TRANSPORT)
    assert content["conversion"]["rows"] == 123 and content["conversion"]["output"] == str(output)
    assert content["document"]["siret"] == "24350078200095"
    assert content["document"]["budget"]["annex"] is True
    assert content["conversion"]["plan"]["used_year"] == 2022
    assert ({warning["code"] for warning in content["conversion"]["warnings"]}
            == {"chapter_from_prefix", "nature_from_other_year"})
    assert all(warning["message_fr"] and warning["message_en"] for warning in content["conversion"]["warnings"])
    assert content["validation"]["valid"] is True and content["validation"]["error_count"] == 0
    assert content["validation"]["schema"] == {"name": "scdl/budget", "version": "0.8.3"}
    assert content["error"] is None and content["occultation"] is None
    assert "warning: " in result.stderr and "6518" in result.stderr


def test_convert_to_standard_output_with_report(tmp_path):
    report = tmp_path / "report.json"
    result = run("convert", CRACH, "--report", report)
    assert result.exit_code == 0
    assert result.stdout.startswith("BGT_NATDEC,")
    content = json.loads(report.read_text(encoding="utf-8"))
    assert content["conversion"]["output"] is None and content["validation"]["valid"] is True


def test_convert_reports_an_invalid_csv_with_status_1(tmp_path, plans_dir):
    source = write_totem(tmp_path / "doc.xml", lines=[Line(nature="9999")])  # no plan: labels missing
    report = tmp_path / "report.json"
    result = run("convert", source, "-o", tmp_path / "out.csv", "--report", report,
                 "--plans-de-comptes", plans_dir)
    assert result.exit_code == 1
    content = json.loads(report.read_text(encoding="utf-8"))
    assert content["validation"]["valid"] is False
    assert next(warning["code"] for warning in content["conversion"]["warnings"]) == "plan_missing"


def test_convert_a_directory_into_a_directory(tmp_path):
    output, report = tmp_path / "csv", tmp_path / "report.json"
    result = run("convert", CRACH.parent, "-o", output, "--report", report)
    assert result.exit_code == 0, result.stderr
    assert sorted(path.name for path in output.iterdir()) == sorted(f"{path.stem}.csv" for path in CORPUS)
    entries = json.loads(report.read_text(encoding="utf-8"))
    assert [entry["conversion"]["rows"] for entry in entries] == [21, 196, 185, 163, 1431, 123]
    assert all(entry["validation"]["valid"] for entry in entries)
    assert "Conversion" not in result.stderr  # no progress bar when stderr is no terminal


def test_convert_several_files_goes_on_after_a_failure(tmp_path):
    broken = write_totem(tmp_path / "broken.xml", siret="123")
    output, report = tmp_path / "csv", tmp_path / "report.json"
    result = run("convert", CRACH, broken, TRANSPORT, "-o", output, "--report", report)
    assert result.exit_code == 2
    assert error_lines(result) == [f"error: {broken}: SIRET « 123 » invalide (IdEtab) : 14 chiffres attendus"]
    assert sorted(path.name for path in output.iterdir()) == [f"{CRACH.stem}.csv", f"{TRANSPORT.stem}.csv"]
    entries = json.loads(report.read_text(encoding="utf-8"))
    assert entries[1]["source"] == str(broken) and entries[1]["conversion"] is None
    assert entries[1]["error"] == {"message_fr": "SIRET « 123 » invalide (IdEtab) : 14 chiffres attendus",
                                   "message_en": 'invalid SIRET "123" (IdEtab): 14 digits expected'}


def test_one_document_into_an_existing_directory(tmp_path):
    report = tmp_path / "report.json"
    result = run("convert", CRACH, "-o", tmp_path, "--report", report)
    assert result.exit_code == 0
    assert (tmp_path / f"{CRACH.stem}.csv").is_file()
    assert json.loads(report.read_text(encoding="utf-8"))["conversion"]["rows"] == 21  # one document: one object


def test_output_names_stay_unique(tmp_path):
    first, second = tmp_path / "a" / "doc.xml", tmp_path / "b" / "doc.xml"
    for path in (first, second):
        path.parent.mkdir()
        path.write_bytes(CRACH.read_bytes())
    result = run("convert", first, second, "-o", tmp_path / "out")
    assert result.exit_code == 0
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["doc-2.csv", "doc.csv"]


def test_several_documents_need_an_output_directory(tmp_path):
    result = run("convert", CRACH, TRANSPORT)
    assert result.exit_code == 2
    assert error_lines(result) == ["error: -o: plusieurs documents : -o doit désigner un répertoire"]
    existing = tmp_path / "file.csv"
    existing.write_text("")
    assert run("convert", CRACH, TRANSPORT, "-o", existing).exit_code == 2


def test_an_empty_directory_is_an_error(tmp_path):
    result = run("convert", tmp_path, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert error_lines(result) == [f"error: {tmp_path}: aucun fichier .xml à convertir"]


def test_settings_give_the_defaults(tmp_path, plans_dir, monkeypatch):
    monkeypatch.setenv("BUDGETOD_PLANS_DE_COMPTES", str(tmp_path / "nowhere"))
    write_plan(plans_dir, 2022)
    source = write_totem(tmp_path / "doc.xml")
    report = tmp_path / "report.json"
    result = run("convert", source, "-o", tmp_path / "out.csv", "--report", report,
                 settings=Settings(plans_de_comptes=str(plans_dir), scdl_schema=str(SCHEMA_PATH)))
    assert result.exit_code == 0, result.stderr
    assert json.loads(report.read_text(encoding="utf-8"))["conversion"]["plan"]["location"].startswith(str(plans_dir))


def test_environment_gives_the_defaults(tmp_path, plans_dir, monkeypatch):
    write_plan(plans_dir, 2022)
    monkeypatch.setenv("BUDGETOD_PLANS_DE_COMPTES", str(plans_dir))
    source = write_totem(tmp_path / "doc.xml")
    report = tmp_path / "report.json"
    assert run("convert", source, "-o", tmp_path / "out.csv", "--report", report).exit_code == 0
    assert json.loads(report.read_text(encoding="utf-8"))["conversion"]["plan"]["location"].startswith(str(plans_dir))


def test_errors_are_one_line_in_the_chosen_language(tmp_path, monkeypatch):
    source = write_totem(tmp_path / "doc.xml", natdec="99")
    english = run("convert", source, "--lang", "en")
    assert english.exit_code == 2
    assert english.stderr == f'error: {source}: unknown budget stage "99" (NatDec): 01, 02, 03, 09, 10 expected\n'
    monkeypatch.setenv("BUDGETOD_LANG", "en")
    assert run("convert", source).stderr == english.stderr
    french = run("convert", source, "--lang", "fr")
    assert french.stderr == f"error: {source}: étape budgétaire « 99 » inconnue (NatDec) : 01, 02, 03, 09, 10 attendu\n"


def test_debug_shows_the_traceback(tmp_path):
    source = write_totem(tmp_path / "doc.xml", siret="1")
    result = run("convert", source, "--debug")
    assert result.exit_code == 2
    assert "Traceback" in result.stderr and result.stderr.rstrip().endswith("14 chiffres attendus")


def test_an_unexpected_failure_is_still_one_line(tmp_path, monkeypatch):
    def broken_conversion(*args, **kwargs):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(conversion, "convert_document", broken_conversion)
    result = run("convert", CRACH, "-o", tmp_path / "out.csv")
    assert result.exit_code == 2
    assert result.stderr == (f"error: {CRACH}: erreur inattendue (RuntimeError) : boom — "
                             "relancer avec --debug pour la trace\n")


def test_help_in_both_languages():
    assert "Convertit un ou plusieurs documents TOTEM" in run("convert", "--help").stdout
    english = run("convert", "--help", lang="en").stdout
    assert "Convert one or more TOTEM documents" in english and "Show this message and exit." in english


def test_main_reads_the_language_before_building_the_help(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--lang", "en", "inspect", "--help"])
    assert exited.value.code == 0
    assert "Describe a TOTEM document as JSON" in capsys.readouterr().out


# --- validate -----------------------------------------------------------------------------


@pytest.fixture
def valid_csv(tmp_path):
    output = tmp_path / "valid.csv"
    assert run("convert", CRACH, "-o", output).exit_code == 0
    return output


def test_validate_a_valid_file(valid_csv):
    result = run("validate", valid_csv)
    assert result.exit_code == 0
    assert result.stdout.strip()
    as_json = run("validate", valid_csv, "--json", "--schema", SCHEMA_PATH)
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout)["valid"] is True


def test_validate_an_invalid_file_in_both_languages(valid_csv, tmp_path):
    invalid = tmp_path / "invalid.csv"
    invalid.write_text(valid_csv.read_text(encoding="utf-8").replace("budget primitif", "Budget primitif"),
                       encoding="utf-8")
    french, english = run("validate", invalid), run("validate", invalid, "--lang", "en")
    assert french.exit_code == english.exit_code == 1
    assert french.stdout != english.stdout
    report = json.loads(run("validate", invalid, "--json").stdout)
    assert report["valid"] is False and report["error_count"] == 21


def test_validate_an_unusable_input(tmp_path):
    result = run("validate", tmp_path / "absent.csv")
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(f"error: {tmp_path / 'absent.csv'}")


# --- inspect ------------------------------------------------------------------------------


def test_inspect_prints_json():
    result = run("inspect", next(path for path in CORPUS if path.name == "mohon-cfu-2023.xml"))
    assert result.exit_code == 0
    info = json.loads(result.stdout)
    assert (info["siret"], info["root"], info["etape"]["code"]) == ("21560134500014", "CompteFinancierUnique", "10")
    assert info["lines"] == {"total": 796, "calculated": 633, "detail": 163}
    assert info["collectivite"] == "COMMUNE DE MOHON (M57)" and info["etablissement"] == "COMMUNE DE MOHON 260"
    assert info["code_insee"] == "56134" and info["nomenclature"]["code"] == "M57-M57_A"
    assert info["decision"]["date"] == "2023-01-01" and info["document_key"] == "21560134500014-2023-10"


def test_inspect_error_is_one_line(tmp_path):
    result = run("inspect", tmp_path / "absent.xml")
    assert (result.exit_code, result.stderr) == (2, f"error: {tmp_path / 'absent.xml'}: fichier introuvable\n")


# --- the real process on unsafe or unusable input ---------------------------------------------


def unsafe_inputs(tmp_path):
    cases = {}

    def case(name, content):
        path = tmp_path / f"{name}.xml"
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        cases[name] = path

    case("xxe_local_file", xxe_document(tmp_path))
    case("billion_laughs", billion_laughs())
    for name, prolog in UNSAFE_PROLOGS.items():
        case(name, totem_document(before_root=prolog))
    document = totem_document(lines=[Line()] * 30)
    case("truncated", document[: len(document) // 2])
    case("empty", b"")
    case("binary", bytes(range(256)) * 64)
    case("not_totem", '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><text>x</text></svg>')
    case("over_the_limit", totem_document(lines=[Line()] * 200))
    return cases


def test_unsafe_input_ends_the_process_with_one_line_quickly(tmp_path):
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    for name, path in unsafe_inputs(tmp_path).items():
        output = tmp_path / f"{name}.csv"
        for command in (["convert", str(path), "-o", str(output)], ["inspect", str(path)]):
            started = time.monotonic()
            process = subprocess.run(
                [sys.executable, "-m", "ckanext.budgetod.core", *command, "--max-bytes", "20000"],
                capture_output=True, text=True, env=environment, timeout=30)
            elapsed = time.monotonic() - started
            assert process.returncode == 2, (name, command[0], process.stderr)
            assert process.stderr.count("\n") == 1 and process.stderr.startswith(f"error: {path}: "), process.stderr
            assert "Traceback" not in process.stderr
            assert SECRET not in process.stderr + process.stdout
            assert elapsed < 5, (name, elapsed)
            assert not output.exists()


def test_progress_bar_on_a_terminal(tmp_path):
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "ckanext.budgetod.core", "convert", str(CRACH), str(TRANSPORT),
         "-o", str(tmp_path / "out"), "--plans-de-comptes", str(PLANS_DIR)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=secondary,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)})
    os.close(secondary)
    shown = b""
    try:
        while True:  # read while it runs, so that a full terminal buffer never blocks it
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the process is gone and the terminal closed
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(primary)
    assert process.wait(timeout=60) == 0
    assert b"Conversion" in shown and b"100%" in shown


# --- messages -----------------------------------------------------------------------------


def test_every_message_exists_in_french_and_english_with_the_same_parameters():
    import string

    from ckanext.budgetod.core.messages import MESSAGES

    def parameters(text):
        return {name for _literal, name, _spec, _conversion in string.Formatter().parse(text) if name}

    for message_id, translations in MESSAGES.items():
        assert set(translations) == {"fr", "en"}, message_id
        assert parameters(translations["fr"]) == parameters(translations["en"]), message_id


def test_every_message_the_code_names_is_in_the_catalogue_with_the_parameters_it_gets():
    """Read statically, so that a message on a path no test takes is checked too."""
    import ast
    import string

    from ckanext.budgetod.core.messages import MESSAGES

    package = REPOSITORY / "ckanext" / "budgetod"
    named = 0
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
                    and (getattr(node.func, "id", None) == "Message"
                         or ast.unparse(node.func) in ("Message", "messages.Message", "messages.text"))):
                continue
            named += 1
            message_id = node.args[0].value
            assert message_id in MESSAGES, f"{path.name}:{node.lineno}: {message_id}"
            wanted = {name for _literal, name, _spec, _conversion
                      in string.Formatter().parse(MESSAGES[message_id]["en"]) if name}
            given = {keyword.arg for keyword in node.keywords}
            if len(node.args) == 1 and None not in given:
                assert given == wanted, f"{path.name}:{node.lineno}: {message_id} gets {given}, needs {wanted}"
    assert named > 150


def test_no_module_writes_user_text_outside_the_catalogues():
    """French text lives in the catalogues (core/messages.py, the gettext .po files), never in code:
    a string literal (docstrings aside) with a French letter and a space is a sentence written in a
    module. The SCDL vocabulary (the schema's enumerations) is data, not text."""
    import ast
    import re

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    vocabulary = {value for field in schema["fields"] for value in field.get("constraints", {}).get("enum", [])}
    french = re.compile(r"[àâçéèêëîïôûùüÿœ]", re.IGNORECASE)
    package = REPOSITORY / "ckanext" / "budgetod"
    written = []
    for path in package.rglob("*.py"):
        if path.relative_to(package).as_posix() == "core/messages.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)
                      and isinstance(node.body[0].value, ast.Constant)}
        written += [f"{path.relative_to(package)}:{node.lineno}: {node.value[:60]!r}" for node in ast.walk(tree)
                    if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                    and " " in node.value and french.search(node.value) and node.value not in vocabulary]
    assert written == []
