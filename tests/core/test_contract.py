"""The contract the layers share: the stages' tables agree, and the source configuration's
"datagouv" section reads the same for the harvester and the data.gouv.fr sync; a document key reads
back into the parts it was written from; SCDL column names, index fields and document key parsers
are spelt in the contract alone."""
from __future__ import annotations

import ast
import dataclasses
import re

import pytest

from ckanext.budgetod.core import contract, source_config
from ckanext.budgetod.core.source_config import SourceConfigError, parse_source_config
from ckanext.budgetod.core.totem.reader import read_header
from tests.support.repository import REPOSITORY
from tests.support.totem_factory import write_totem


def test_every_stage_has_its_scdl_value_title_abbreviation_and_place_in_the_year():
    stages = set(contract.NATDEC_SCDL_LABELS)
    assert stages == set(contract.NATDEC_TITLES) == set(contract.NATDEC_ABBREVIATIONS) == set(contract.NATDEC_ORDER)
    assert set(contract.VOTED_NATDECS) | set(contract.ACCOUNT_NATDECS) == stages


def test_a_cfu_reads_as_a_compte_administratif_in_scdl_but_keeps_its_title():
    assert contract.NATDEC_SCDL_LABELS[contract.NATDEC_CFU] == "compte administratif"
    assert contract.natdec_of_scdl_label("compte administratif") == contract.NATDEC_COMPTE_ADMINISTRATIF
    assert contract.NATDEC_TITLES[contract.NATDEC_CFU] == "compte financier unique"
    assert contract.natdec_of_scdl_label("budget") is None


def test_the_datagouv_organization_of_a_source():
    assert parse_source_config("", '{"datagouv": {"organization": " region-bretagne "}}').datagouv_organization == (
        "region-bretagne")
    assert parse_source_config("", '{"kind": "index"}').datagouv_organization is None
    assert parse_source_config("", None).grouping == source_config.DEFAULT_GROUPING == source_config.GROUPING_BUDGET


@pytest.mark.parametrize("text", ['{"datagouv": {"organisation": "x"}}', '{"datagouv": {"organization": ""}}',
                                  '{"datagouv": "x"}', '{"datagouv": {"api_key": "x"}}'])
def test_a_wrong_datagouv_section_is_refused(text):
    with pytest.raises(SourceConfigError) as caught:
        parse_source_config("", text)
    assert caught.value.field.startswith("datagouv")


def _declared(options, prefix=""):
    for option in options:
        yield prefix + option.key, option
        yield from _declared(option.options, f"{prefix}{option.key}.")


def test_the_documentation_shows_every_declared_source_option_with_its_help():
    text = (REPOSITORY / "docs" / "harvesting.md").read_text(encoding="utf-8")
    table = text.split("| key / clé | value / valeur | meaning / sens |")[1].split("\n\n")[0]
    documented = {row.split("|")[1].strip().strip("`"): row.split("|")[3].strip()
                  for row in table.strip().splitlines()[1:]}
    declared = dict(_declared(source_config.OPTIONS))
    assert list(documented) == list(declared)
    for key, option in declared.items():
        assert documented[key] == f"FR : {option.help.render('fr')} EN: {option.help.render('en')}", key
    assert source_config.CONFIG_KEYS == ("kind", "urls", "pattern", "grouping", "metadata", "datagouv")


@pytest.mark.parametrize("text, field, expected", [
    ('{"kind": 3}', "kind", "'kind' must be a string"),
    ('{"metadata": "x"}', "metadata", "'metadata' must be a JSON object"),
    ('{"datagouv": {"organization": 3}}', "datagouv.organization", "must be the id or slug"),
    ('{"urls": ["https://example.org/a.xml", 3]}', "urls", "'urls' must be a list of URLs"),
])
def test_each_declared_option_is_checked_generically(text, field, expected):
    with pytest.raises(SourceConfigError) as caught:
        parse_source_config("", text)
    assert caught.value.field == field and expected in caught.value.describe("en")


# ---------------------------------------------------------------- document keys

@pytest.mark.parametrize("parts, key", [
    (("21560046100010", 2022, "01", "7", ""), "21560046100010-2022-01"),  # one BP a year: no decision
    (("21560046100010", 2021, "02", "2", ""), "21560046100010-2021-02-2"),
    (("21560046100010", 2022, "02", "2022-06-30", ""), "21560046100010-2022-02-2022-06-30"),
    (("21560046100010", 2022, "03", "", "annexe-06"), "21560046100010-2022-03-annexe-06"),
    (("21560046100085", 2022, "01", "", "annexe"), "21560046100085-2022-01-annexe"),
    (("21560046100085", 2022, "02", "2022-06-30", "annexe"), "21560046100085-2022-02-2022-06-30-annexe"),
    (("21560046100085", 2022, "09", "", "annexe-eau-potable"), "21560046100085-2022-09-annexe-eau-potable"),
])
def test_a_document_key_is_written_and_read_back_by_the_contract(parts, key):
    siret, exercice, natdec, decision, annex = parts
    assert contract.document_key(siret, exercice, natdec, decision, annex) == key
    kept = decision if natdec in contract.REPEATABLE_NATDECS else ""
    assert contract.parse_document_key(key) == contract.DocumentKey(siret, exercice, natdec, kept, annex)


def test_the_annex_of_a_key_main_coded_or_bare():
    main, coded, bare = (contract.parse_document_key(key) for key in (
        "21560046100010-2022-01", "21560046100085-2022-01-annexe-06", "21560046100085-2022-01-annexe"))
    assert (main.is_annex, main.annex_code) == (False, "")
    assert (coded.is_annex, coded.annex_code, coded.annex_suffix) == (True, "06", "annexe-06")
    assert (bare.is_annex, bare.annex_code, bare.annex_suffix) == (True, "", "annexe")
    assert contract.annex_suffix("Eau potable") == "annexe-eau-potable" and contract.annex_suffix(" - ") == "annexe"


@pytest.mark.parametrize("key", ["", "budget", "2156004610001-2022-01", "21560046100010-22-01",
                                 "21560046100010-2022-01-7",  # a BP's key names no decision
                                 "21560046100010-2022-01-annexe-"])
def test_what_is_no_document_key_is_not_read_as_one(key):
    assert contract.parse_document_key(key) is None


def test_the_reader_writes_the_contracts_key_a_bare_annex_included(tmp_path):
    header = read_header(write_totem(tmp_path / "annex.xml", natdec="02", decision_number="3", budget_type="A",
                                     main_siret="21560046100028"))
    assert header.document_key == "21560046100010-2022-02-3-annexe-00"
    bare = dataclasses.replace(header, budget_code="")
    assert bare.document_key == "21560046100010-2022-02-3-annexe"
    assert contract.parse_document_key(bare.document_key) == contract.DocumentKey(
        "21560046100010", 2022, "02", "3", "annexe")


def test_budget_dataset_names_are_made_of_the_keys_parts_and_reserved():
    names = [contract.budget_dataset_name("21560046100010", 2022),
             contract.budget_dataset_name("21560046100085", 2022, "annexe"),
             contract.document_dataset_name("21560046100010-2022-02-2022-06-30-annexe-06")]
    assert names == ["budget-21560046100010-2022", "budget-21560046100085-2022-annexe",
                     "budget-21560046100010-2022-02-2022-06-30-annexe-06"]
    assert all(contract.is_budget_dataset_name(name) for name in names)
    assert not contract.is_budget_dataset_name("budget-2156004610001-2022")


# ---------------------------------------------------------------- columns and measures

def test_each_measure_reads_one_amount_column():
    # The columns are the schema's (tests/core/scdl/test_conversion.py checks them and their order).
    assert set(contract.AMOUNT_COLUMNS) < set(contract.SCDL_COLUMNS)
    assert set(contract.MEASURE_COLUMNS.values()) <= set(contract.AMOUNT_COLUMNS)
    # A measure is a kind of figure, never a column: one name, one meaning.
    assert not set(contract.MEASURE_COLUMNS) & set(contract.SCDL_COLUMNS)


# ---------------------------------------------------------------- the contract is the one place

PACKAGE = REPOSITORY / "ckanext" / "budgetod"
_COLUMN = re.compile(r"BGT_[A-Z0-9_]+")
# A search on a field the extension indexes: a filter ("budgetod_x:") or a sort ("budgetod_x asc").
_INDEX_FIELD_USE = re.compile(r"budgetod_[a-z_]+(?::| (?:asc|desc)\b)")
_REGEX_CALLS = {"compile", "match", "fullmatch", "search", "sub", "findall", "finditer", "split"}


def _outside_the_contract():
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name != "contract.py" or path.parent.name != "core":
            yield path.relative_to(PACKAGE), ast.parse(path.read_text(encoding="utf-8"))


def _strings(tree):
    """The string constants of a module, docstrings left out (they may name a column)."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)}
    return [node for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_column_names_index_fields_and_document_keys_are_spelt_only_in_the_contract():
    found = []
    for path, tree in _outside_the_contract():
        for node in _strings(tree):
            if _COLUMN.fullmatch(node.value) or _INDEX_FIELD_USE.search(node.value) or node.value in {
                    contract.INDEX_DEPARTEMENT, contract.INDEX_NORME}:
                found.append(f"{path}:{node.lineno}: {node.value!r}")
        for node in ast.walk(tree):
            # A regular expression that mentions the annex is a parser of document keys.
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _REGEX_CALLS
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "re" and node.args
                    and isinstance(node.args[0], ast.Constant) and contract.ANNEX in str(node.args[0].value)):
                found.append(f"{path}:{node.lineno}: a document key parsed by {node.args[0].value!r}")
    assert found == []
