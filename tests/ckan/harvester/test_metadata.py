"""The metadata template: shipped default, portal-wide file, per-source overrides, configuration
errors in the visitor's language, and the Licence Ouverte 2.0 in the portal's licence list."""
from __future__ import annotations

import re

import pytest
import yaml
from ckan.tests import factories, helpers

from ckanext.budgetod.portal import metadata
from tests.support.ckan_harvest import create_source, dataset, harvest
from tests.support.servers import LocalServer
from tests.support.shared import SHARED_TOTEM

pytestmark = pytest.mark.usefixtures("harvest_db")

CRACH_CA = "crach-principal-ca-2021.xml"


@pytest.fixture
def document_url():
    with LocalServer(files={f"/{CRACH_CA}": (SHARED_TOTEM / CRACH_CA).read_bytes()}) as server:
        yield server.url(f"/{CRACH_CA}")


def test_the_licence_ouverte_2_is_in_the_portal_licence_list():
    licences = {licence["id"]: licence for licence in helpers.call_action("license_list")}
    assert licences["lov2"]["title"] == "Licence Ouverte / Open Licence version 2.0"
    assert licences["lov2"]["od_conformance"] == "approved"


def test_a_source_metadata_object_is_merged_over_the_template(sysadmin, organization, document_url):
    overrides = {
        "maintainer_email": "finances@crach.fr",
        "tags": ["budget", "Crach"],
        "extras": {"frequency": "irregular", "theme": "Économie"},
    }
    run = harvest(create_source(sysadmin, organization, document_url, {"metadata": overrides}))

    assert run.errors() == []
    published = dataset("budget-21560046100010-2021")
    assert published["maintainer_email"] == "finances@crach.fr"
    assert published["maintainer"] == organization["title"]  # from the template
    assert published["title"] == "Budget 2021 — CRACH"
    assert {tag["name"] for tag in published["tags"]} == {"budget", "Crach"}
    extras = {extra["key"]: extra["value"] for extra in published["extras"]}
    assert extras["frequency"] == "irregular" and extras["theme"] == "Économie"
    assert extras["temporal_end"] == "2021-12-31"  # the template's other extras stay


def test_the_portal_template_file_replaces_the_shipped_one(
        sysadmin, organization, document_url, tmp_path, ckan_config, monkeypatch):
    template = yaml.safe_load(metadata.DEFAULT_TEMPLATE.read_text(encoding="utf-8"))
    template["title"] = "Budget {exercice} de {collectivite} (SIRET {siret})"
    template["license_id"] = "cc-by"
    path = tmp_path / "fiche.yaml"
    path.write_text(yaml.safe_dump(template, allow_unicode=True), encoding="utf-8")
    monkeypatch.setitem(ckan_config, "ckanext.budgetod.metadata_template", str(path))

    harvest(create_source(sysadmin, organization, document_url))

    published = dataset("budget-21560046100010-2021")
    assert published["title"] == "Budget 2021 de CRACH (SIRET 21560046100010)"
    assert published["license_id"] == "cc-by"


def test_an_edited_template_file_is_read_again_and_republishes(
        sysadmin, organization, document_url, tmp_path, ckan_config, monkeypatch):
    template = yaml.safe_load(metadata.DEFAULT_TEMPLATE.read_text(encoding="utf-8"))
    path = tmp_path / "fiche.yaml"
    path.write_text(yaml.safe_dump({**template, "title": "Budget {exercice}"}, allow_unicode=True), encoding="utf-8")
    monkeypatch.setitem(ckan_config, "ckanext.budgetod.metadata_template", str(path))
    source = create_source(sysadmin, organization, document_url)
    harvest(source)
    assert dataset("budget-21560046100010-2021")["title"] == "Budget 2021"
    path.write_text(yaml.safe_dump({**template, "title": "Budget {exercice} de {collectivite}"}, allow_unicode=True),
                    encoding="utf-8")

    harvest(source)

    assert dataset("budget-21560046100010-2021")["title"] == "Budget 2021 de CRACH"


def test_changing_the_metadata_publishes_unchanged_documents_again(sysadmin, organization, document_url):
    source = create_source(sysadmin, organization, document_url)
    harvest(source)
    # Every field, as the source's edit form sends them: on CKAN 2.12, ckanext-harvest 1.6.3's
    # harvest_source_patch fails once a job has finished (docs/development.md, Tests).
    helpers.call_action("harvest_source_update", context={"user": sysadmin["name"]}, id=source["id"],
                        name=source["name"], title=source["title"], url=source["url"],
                        source_type=source["source_type"], owner_org=organization["id"], frequency="MANUAL",
                        config='{"metadata": {"maintainer_email": "finances@crach.fr"}}')

    run = harvest(source)

    assert run.stats["updated"] == 1
    assert dataset("budget-21560046100010-2021")["maintainer_email"] == "finances@crach.fr"


@pytest.mark.parametrize("config, french, english", [
    ('{"grouping": "collectivite"}', "« grouping » doit valoir", "'grouping' must be"),
    ('{"metadata": {"title": "Budget {annee}"}}', "variable {annee} inconnue", "unknown placeholder {annee}"),
    ('{"metadata": {"auteur": "x"}}', "clé(s) inconnue(s) : auteur", "unknown key(s): auteur"),
    ('{"metadata": {"extras": {"api_key": "x"}}}', "fichier ini de CKAN", "CKAN's ini file"),
])
def test_configuration_errors_are_explained_in_the_visitor_language(app, organization, config, french, english):
    sysadmin = factories.SysadminWithToken()
    for prefix, expected in (("", french), ("/en", english)):
        response = app.post(f"{prefix}/api/3/action/harvest_source_create", json={
            "name": "budgets", "url": "https://www.crach.fr/budgets/", "source_type": "budgetod_totem",
            "config": config, "owner_org": organization["id"]}, headers={"Authorization": sysadmin["token"]},
            status=409)
        [message] = response.json["error"]["config"]
        assert expected in message, message


@pytest.mark.parametrize("template, error", [
    ({"title": "{exercice!r}"}, "{exercice}"),
    ({"title": "{budget.__class__}"}, "{budget.__class__}"),
    ({"title": "Budget {"}, "accolades"),
    ({"extras": {"budgetod_siret": "1"}}, "budgetod_siret"),
    ({"tags": "budget"}, "tags"),
])
def test_templates_allow_plain_placeholders_only(template, error):
    with pytest.raises(metadata.MetadataTemplateError) as raised:
        metadata.checked(template, "metadata")
    assert error in raised.value.describe("fr")


def test_a_collectivite_name_cannot_inject_links_images_or_html_into_the_pages(app, sysadmin, organization):
    hostile = ('CRACH [gagnez](http://evil.example/a) ![x](https://evil.example/x.png) '
               '&lt;img src=https://evil.example/y.png&gt; *vite* http://evil.example/b')
    document = (SHARED_TOTEM / CRACH_CA).read_bytes().replace(
        b'<LibelleColl V="CRACH"/>', f'<LibelleColl V="{hostile}"/>'.encode(), 1)
    with LocalServer(files={"/ca.xml": document}) as server:
        run = harvest(create_source(sysadmin, organization, server.url("/ca.xml")))
    assert run.errors() == []
    published = dataset("budget-21560046100010-2021")
    pages = [app.get(f"/dataset/{published['name']}").get_data(as_text=True)] + [
        app.get(f"/dataset/{published['name']}/resource/{resource['id']}").get_data(as_text=True)
        for resource in published["resources"]]

    for html in pages:
        assert "evil.example" in html  # shown as text…
        # …never as a link or an image
        assert not re.search(r"""<(a\b[^>]*\bhref|img\b[^>]*\bsrc)=["']?[^"'>]*evil\.example""", html)
        assert "<em>vite</em>" not in html
    assert "[gagnez](http" in pages[0]
