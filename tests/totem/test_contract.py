"""The contract the layers share: the stages' tables agree, and the source configuration's
"datagouv" section reads the same for the harvester and the data.gouv.fr sync."""
from __future__ import annotations

import pytest

from ckanext.budgetod.core import contract
from ckanext.budgetod.core.contract import SourceConfigError, parse_source_config


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
    assert parse_source_config("", None).grouping == contract.DEFAULT_GROUPING == contract.GROUPING_BUDGET


@pytest.mark.parametrize("text", ['{"datagouv": {"organisation": "x"}}', '{"datagouv": {"organization": ""}}',
                                  '{"datagouv": "x"}', '{"datagouv": {"api_key": "x"}}'])
def test_a_wrong_datagouv_section_is_refused(text):
    with pytest.raises(SourceConfigError) as caught:
        parse_source_config("", text)
    assert caught.value.field.startswith("datagouv")
