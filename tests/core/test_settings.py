"""The one settings object: its defaults are the ini's, secrets stay out of sight, the command line
builds it from the environment and its flags, and every download follows its network limits."""
from __future__ import annotations

import json
import os
import time

import pytest
import yaml

from ckanext.budgetod.core.net.fetch import FetchTimeout
from ckanext.budgetod.core.pipeline import Pipeline
from ckanext.budgetod.core.settings import (
    INI_KEYS,
    DatagouvSettings,
    NetworkLimits,
    OrganizationsError,
    Settings,
    described,
    field_value,
    parse_organizations,
)
from tests.support.repository import REPOSITORY
from tests.support.shared import SCHEMA_PATH
from tests.support.totem_factory import write_plan, write_totem

DECLARATION = REPOSITORY / "ckanext" / "budgetod" / "config_declaration.yaml"
SECRET = "udata-api-key-5f0c2b1e"


def declared_options() -> dict[str, dict]:
    content = yaml.safe_load(DECLARATION.read_text(encoding="utf-8"))
    return {option["key"]: option for group in content["groups"] for option in group["options"]}


def test_every_declared_key_sets_one_field():
    assert set(INI_KEYS) == set(declared_options())
    assert len(set(INI_KEYS.values())) == len(INI_KEYS)


@pytest.mark.parametrize("key", sorted(INI_KEYS))
def test_the_core_default_is_the_declared_default(key):
    option = declared_options()[key]
    declared = option.get("default", "")
    converters = {"int": int, "bool": lambda value: str(value).lower() == "true"}
    declared = converters.get(option.get("type"), str)(declared)
    default = field_value(Settings(), INI_KEYS[key])
    # An empty text in the ini and None in the core both mean "not set".
    assert (default if default is not None else "") == declared


def test_the_ini_gives_every_field():
    ini = {key: option.get("default", "") for key, option in declared_options().items()}
    ini.update({"ckanext.budgetod.http_timeout": 7, "ckanext.budgetod.max_document_size": 1234,
                "ckanext.budgetod.allow_private_urls": True,
                "ckanext.budgetod.datagouv.url": "https://demo.data.gouv.fr/",
                "ckanext.budgetod.datagouv.organizations": ["a=b", "c=d"]})
    settings = Settings.from_ini(ini.get, default_cache_dir="/var/cache/budgetod")
    assert settings.network.timeout == 7.0 and settings.max_document_size == 1234
    assert settings.network.allow_private is True
    assert settings.cache_dir == "/var/cache/budgetod"
    assert settings.archive_cache_dir == "/var/cache/budgetod/archives"
    assert settings.datagouv.api_url == "https://demo.data.gouv.fr/api/1"
    assert settings.datagouv.organization_pairs() == (("a", "b"), ("c", "d"))


def test_the_api_key_comes_from_the_environment_when_the_ini_has_none(monkeypatch):
    monkeypatch.setenv("BUDGETOD_DATAGOUV_API_KEY", SECRET)
    ini = {key: option.get("default", "") for key, option in declared_options().items()}
    assert Settings.from_ini(ini.get).datagouv.api_key == SECRET


def test_the_api_key_never_shows():
    settings = Settings(datagouv=DatagouvSettings(api_key=SECRET))
    assert settings.datagouv.api_key == SECRET
    assert SECRET not in repr(settings) and SECRET not in str(settings.datagouv)
    shown = described(settings)
    assert "datagouv.api_key" not in shown and SECRET not in json.dumps(shown)
    assert shown["http_timeout"] == 30 and shown["allow_private_urls"] is False


def test_the_command_line_reads_the_environment_then_its_flags(monkeypatch):
    monkeypatch.setenv("BUDGETOD_PLANS_DE_COMPTES", "/srv/plans")
    monkeypatch.setenv("BUDGETOD_SCDL_SCHEMA", "/srv/schema.json")
    monkeypatch.setenv("BUDGETOD_CACHE_DIR", "/srv/cache")
    monkeypatch.setenv("BUDGETOD_OCCULTATION_RULES", "/srv/rules.yaml")
    settings = Settings.from_environment(max_document_size=5000, scdl_schema=None)
    assert (settings.plans_de_comptes, settings.scdl_schema, settings.cache_dir, settings.occultation_rules) == (
        "/srv/plans", "/srv/schema.json", "/srv/cache", "/srv/rules.yaml")
    assert settings.max_document_size == 5000
    assert Settings.from_environment({}) == Settings()


def test_the_command_lines_cache_dir_is_the_users_one():
    assert Settings.from_environment({"XDG_CACHE_HOME": "/xdg"}).cache_dir == "/xdg/budgetod"
    assert Settings.from_environment({"XDG_CACHE_HOME": "/xdg", "BUDGETOD_CACHE_DIR": "/c"}).cache_dir == "/c"
    assert Settings().download_cache_dir == os.path.expanduser("~/.cache/budgetod")
    assert Settings(cache_dir="/c").download_cache_dir == "/c"


def test_the_environment_reaches_the_conversion_and_the_validation_through_the_settings(tmp_path, plans_dir,
                                                                                       monkeypatch):
    """The core functions read no environment variable: the command line's settings carry them."""
    write_plan(plans_dir, 2022)
    monkeypatch.setenv("BUDGETOD_PLANS_DE_COMPTES", str(plans_dir))
    monkeypatch.setenv("BUDGETOD_SCDL_SCHEMA", str(SCHEMA_PATH))
    monkeypatch.setenv("BUDGETOD_CACHE_DIR", str(tmp_path / "cache"))
    settings = Settings.from_environment()
    processed = Pipeline(settings, local_paths=True).run(str(write_totem(tmp_path / "doc.xml")),
                                                         str(tmp_path / "doc.csv"))
    assert processed.report["conversion"]["plan"]["location"].startswith(str(plans_dir))
    assert processed.valid and processed.validation.schema_source == str(SCHEMA_PATH)
    monkeypatch.setenv("BUDGETOD_PLANS_DE_COMPTES", str(tmp_path / "nowhere"))
    again = Pipeline(settings, local_paths=True).run(str(tmp_path / "doc.xml"), str(tmp_path / "again.csv"))
    assert again.report["conversion"]["plan"] == processed.report["conversion"]["plan"]


def test_replace_changes_one_group_field_and_keeps_the_others():
    settings = Settings(network=NetworkLimits(timeout=5, allow_private=True))
    changed = settings.replace(network={"max_documents": 3}, max_document_size=10)
    assert changed.network == NetworkLimits(timeout=5, allow_private=True, max_documents=3)
    assert changed.max_document_size == 10 and settings.network.max_documents == 5_000


@pytest.mark.parametrize("value", ["bretagne", "bretagne= ", "=udata", "a=b a=c"])
def test_a_malformed_organisation_mapping_names_the_item(value):
    with pytest.raises(OrganizationsError):
        parse_organizations(value)


def test_the_schema_download_follows_the_http_timeout(site, tmp_path):
    """It used to ignore ckanext.budgetod.http_timeout: a stalled schema server held a harvest 30 s."""
    settings = Settings(scdl_schema=site.url("/stall"), cache_dir=str(tmp_path),
                        network=NetworkLimits(timeout=0.3, allow_private=True))
    started = time.monotonic()
    with pytest.raises(FetchTimeout):
        Pipeline(settings).schema()
    assert time.monotonic() - started < 5
