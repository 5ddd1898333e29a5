"""The contract the layers share: the stages' tables agree, and the source configuration's
"datagouv" section reads the same for the harvester and the data.gouv.fr sync."""
from __future__ import annotations

import pytest

from ckanext.budgetod.core import contract, source_config
from ckanext.budgetod.core.source_config import SourceConfigError, parse_source_config
from tests.support.repository import REPOSITORY


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
