"""The tests' search index (CKAN_SOLR_URL, from `devstack/stack.sh env`) is Apache Solr 9 serving the
installed CKAN's own schema.xml, as production does."""
from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import ckan
import pytest


@pytest.fixture(scope="module")
def core_url() -> str:
    url = os.environ.get("CKAN_SOLR_URL")
    if not url:
        pytest.fail('CKAN_SOLR_URL is not set: run `make test`, or eval "$(devstack/stack.sh env)" first')
    return url.rstrip("/")


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def test_the_core_answers_ping(core_url):
    assert json.loads(fetch(f"{core_url}/admin/ping?wt=json"))["status"] == "OK"


def test_the_server_is_apache_solr_9_in_standalone_mode(core_url):
    solr_url = core_url.rsplit("/", 1)[0]
    system = json.loads(fetch(f"{solr_url}/admin/info/system?wt=json"))
    assert system["lucene"]["solr-spec-version"].startswith("9.")
    assert system["mode"] == "std"


def test_the_core_serves_the_schema_of_the_installed_ckan(core_url):
    installed = Path(ckan.__file__).parent / "config" / "solr" / "schema.xml"
    assert fetch(f"{core_url}/admin/file?file=schema.xml") == installed.read_bytes()
    assert json.loads(fetch(f"{core_url}/schema/uniquekey?wt=json"))["uniqueKey"] == "index_id"
