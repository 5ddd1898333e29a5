"""Acceptance: harvesting the sample TOTEM documents, harvesting again, changes, removals, failures."""
from __future__ import annotations

import json
import shutil
import signal
import threading

import pytest
from ckan.cli.cli import ckan as ckan_command
from ckan.tests import helpers

from ckanext.budgetod.core import contract
from ckanext.budgetod.core.pipeline import Pipeline
from ckanext.budgetod.core.scdl import validation
from ckanext.budgetod.core.settings import Settings
from tests.support.ckan_harvest import (
    BROKEN,
    SAMPLE_DATASETS,
    by_role,
    create_source,
    dataset,
    harvest,
    occulted,
    stored_file,
)
from tests.support.servers import CkanStandIn, LocalServer, Reply
from tests.support.shared import SCHEMA_PATH, SHARED_TOTEM

pytestmark = pytest.mark.usefixtures("harvest_db")

CRACH_2021 = "budget-21560046100010-2021"
CRACH_CA_KEY = "21560046100010-2021-09"
CRACH_DM2_KEY = "21560046100010-2021-02-2"


@pytest.fixture
def shared_server():
    """The sample documents served in place, read-only, by path."""
    with LocalServer(directory=SHARED_TOTEM) as server:
        yield server


@pytest.fixture
def copied_server(tmp_path):
    """Copies of the good samples in a temporary directory, to change and remove files."""
    for name in SAMPLE_DATASETS:
        shutil.copyfile(SHARED_TOTEM / name, tmp_path / name)
        (tmp_path / name).chmod(0o644)
    with LocalServer(directory=tmp_path) as server:
        yield server, tmp_path


def test_the_samples_become_one_dataset_per_budget_and_year_with_three_resources_per_document(
        sysadmin, organization, shared_server):
    run = harvest(create_source(sysadmin, organization, shared_server.url("/"), {"kind": "index"}))

    assert run.errors() == []
    # ckanext-harvest counts datasets: five new ones, and the second Crach 2021 document updated its dataset.
    assert run.stats["added"] == 5 and run.stats["updated"] == 1
    assert run.stats["errored"] == 0 and run.stats["deleted"] == 0
    assert len(run.results) == 6
    documents_by_dataset: dict[str, int] = {}
    for name in SAMPLE_DATASETS.values():
        documents_by_dataset[name] = documents_by_dataset.get(name, 0) + 1
    for name, documents in documents_by_dataset.items():
        published = dataset(name)
        assert published["owner_org"] == organization["id"]
        assert published["license_id"] == "lov2"
        assert len(published["resources"]) == 3 * documents
        extras = {extra["key"]: extra["value"] for extra in published["extras"]}
        assert name.startswith(f"budget-{extras['budgetod_siret']}-{extras['budgetod_exercice']}")
        assert extras["budgetod_nomenclature"] and extras["budgetod_insee"]
        for resource in published["resources"]:
            assert stored_file(resource).is_file()
            assert resource["budgetod_valid"] == "true"
            if resource["budgetod_role"] == contract.ROLE_SCDL:
                assert resource["format"] == "CSV"
                assert json.loads(resource["schema"]) == {"name": "scdl/budget", "version": "0.8.3"}
                assert validation.validate_csv(str(stored_file(resource)), Settings(scdl_schema=str(SCHEMA_PATH))).valid
        assert {resource["format"] for resource in published["resources"]} == {"CSV", "XML", "JSON"}

    crach = dataset(CRACH_2021)
    assert crach["title"] == "Budget 2021 — CRACH"
    extras = {extra["key"]: extra["value"] for extra in crach["extras"]}
    assert extras["budgetod_etapes"] == "décision modificative n° 2, compte administratif"
    assert "décision modificative n° 2, compte administratif" in crach["notes"]
    assert "scdl/budget" in crach["notes"] and "0.8.3" in crach["notes"]
    assert extras["temporal_start"] == "2021-01-01" and extras["spatial_text"] == "56046"
    assert {tag["name"] for tag in crach["tags"]} >= {"budget", "SCDL", "2021"}
    assert set(by_role(crach["resources"], CRACH_CA_KEY)) == {"scdl", "totem", "report"}
    assert set(by_role(crach["resources"], CRACH_DM2_KEY)) == {"scdl", "totem", "report"}
    # Resource names and descriptions are in the metadata's language, French.
    dm2 = by_role(crach["resources"], CRACH_DM2_KEY)
    assert dm2["scdl"]["name"] == "Décision modificative n° 2, exercice 2021 — données au format SCDL (CSV)"
    assert dm2["totem"]["description"].startswith(
        "Décision modificative n° 2, exercice 2021, CRACH : document budgétaire TOTEM d'origine (M14")
    assert dm2["report"]["description"] == ("Rapport de validation du CSV contre le schéma SCDL, avec les "
                                            "contrôles de Validata : valide.")
    # The annex budget shares nothing with the main budget's datasets.
    lotissement = dataset("budget-21560046100085-2022-annexe-06")
    assert lotissement["title"] == "Budget 2022 — CRACH - LOTISSEMENT LE BOCENO"
    assert {resource["budgetod_document"] for resource in lotissement["resources"]} == {
        "21560046100085-2022-01-annexe-06"}

    found = helpers.call_action("package_search", q="budgetod_siret:21560046100010")
    assert [result["name"] for result in found["results"]] == [CRACH_2021]
    # The index links every dataset to its source (the source page and its dataset count use it).
    by_source = helpers.call_action("package_search", fq=f'harvest_source_id:"{run.job["source_id"]}"', rows=100)
    assert sorted(result["name"] for result in by_source["results"]) == sorted(set(SAMPLE_DATASETS.values()))


def test_a_source_configuration_is_read_once_per_job_whatever_its_documents(sysadmin, organization, shared_server,
                                                                           monkeypatch):
    """Gather, then fetch and import of each of the 6 documents, read one parsing of the configuration
    (and of the metadata template); the next job reads it again."""
    from ckanext.budgetod.core import source_config

    parsings = []
    parse = source_config.parse_source_config
    monkeypatch.setattr(source_config, "parse_source_config",
                        lambda url, text: parsings.append(url) or parse(url, text))
    source = create_source(sysadmin, organization, shared_server.url("/"), {"kind": "index"})
    parsings.clear()  # the configuration checked when the source is saved

    assert harvest(source).errors() == [] and len(parsings) == 1
    assert harvest(source).errors() == [] and len(parsings) == 2


def test_a_second_harvest_with_nothing_changed_converts_nothing_and_modifies_no_dataset(
        sysadmin, organization, shared_server, monkeypatch):
    source = create_source(sysadmin, organization, shared_server.url("/"), {"kind": "index"})
    harvest(source)
    before = {name: dataset(name) for name in set(SAMPLE_DATASETS.values())}
    conversions = []
    monkeypatch.setattr(Pipeline, "run", lambda self, *args, **kwargs: conversions.append(args))

    run = harvest(source)

    assert run.errors() == [] and conversions == []
    assert {result["report_status"] for result in run.results.values()} == {"not modified"}
    assert run.stats["not modified"] == 6
    for name, published in before.items():
        after = dataset(name)
        assert after["metadata_modified"] == published["metadata_modified"]
        assert after["resources"] == published["resources"]
    # The documents were asked for conditionally, and the server said they had not changed.
    for name in SAMPLE_DATASETS:
        assert shared_server.statuses(f"/{name}") == [200, 304]


def test_a_changed_file_updates_its_own_resources_and_a_removed_file_takes_its_own_away(
        sysadmin, organization, copied_server):
    server, directory = copied_server
    source = create_source(sysadmin, organization, server.url("/"), {"kind": "index"})
    harvest(source)
    before = {name: dataset(name) for name in set(SAMPLE_DATASETS.values())}
    crach_before = by_role(before[CRACH_2021]["resources"], CRACH_CA_KEY)

    changed = directory / "crach-principal-ca-2021.xml"
    changed.write_bytes(changed.read_bytes().replace(b'<MtReal V="13615.55"/>', b'<MtReal V="13615.56"/>', 1))
    (directory / "crach-principal-dm2-2021.xml").unlink()  # its dataset keeps the other document
    (directory / "mohon-cfu-2023.xml").unlink()  # the dataset's only document

    run = harvest(source)

    assert run.errors() == []
    assert run.stats["updated"] == 1 and run.stats["deleted"] == 2 and run.stats["not modified"] == 3
    crach = dataset(CRACH_2021)
    crach_after = by_role(crach["resources"], CRACH_CA_KEY)
    assert {role: resource["id"] for role, resource in crach_after.items()} == {
        role: resource["id"] for role, resource in crach_before.items()}
    assert crach_after["totem"]["budgetod_sha256"] != crach_before["totem"]["budgetod_sha256"]
    assert stored_file(crach_after["totem"]).read_bytes() == occulted(changed)
    assert b"13615.56" in stored_file(crach_after["scdl"]).read_bytes()
    assert by_role(crach["resources"], CRACH_DM2_KEY) == {}
    assert len(crach["resources"]) == 3
    assert {extra["key"]: extra["value"] for extra in crach["extras"]}["budgetod_etapes"] == "compte administratif"
    assert "décision modificative" not in crach["notes"]

    assert dataset("budget-21560134500014-2023")["state"] == "deleted"
    for name in ("budget-21560046100085-2022-annexe-06", "budget-21930048000015-2018",
                 "budget-24350078200095-2022-annexe-06"):
        assert dataset(name)["metadata_modified"] == before[name]["metadata_modified"]


def test_a_moved_file_updates_its_resources_instead_of_duplicating_them(sysadmin, organization, copied_server):
    server, directory = copied_server
    source = create_source(sysadmin, organization, server.url("/"), {"kind": "index"})
    harvest(source)
    name = "budget-21560046100085-2022-annexe-06"
    before = dataset(name)["resources"]
    (directory / "crach-lotissement-bp-2022.xml").rename(directory / "lotissement-le-boceno-bp-2022.xml")

    run = harvest(source)

    assert run.errors() == []
    after = dataset(name)
    assert [resource["id"] for resource in after["resources"]] == [resource["id"] for resource in before]
    assert {resource["budgetod_source"] for resource in after["resources"]} == {
        server.url("/lotissement-le-boceno-bp-2022.xml")}
    assert after["state"] == "active"


def test_each_broken_file_is_one_object_error_naming_its_url_while_the_others_import(
        sysadmin, organization, shared_server):
    source = create_source(sysadmin, organization, shared_server.url("/"),
                           {"kind": "index", "urls": [shared_server.url("/"), shared_server.url("/broken/")]})

    run = harvest(source)

    assert run.stats["errored"] == len(BROKEN)
    assert run.stats["added"] + run.stats["updated"] == len(SAMPLE_DATASETS)
    for name in BROKEN:
        url = shared_server.url(f"/broken/{name}")
        result = run.results[url]
        assert result["report_status"] == "errored"
        [error] = result["errors_dicts"]
        assert error["message"].startswith(f"{url} — ")
        assert " / " in error["message"] and "Traceback" not in error["message"]
    assert "SIRET" in run.results[shared_server.url("/broken/mauvais_siret.xml")]["errors_dicts"][0]["message"]
    report = helpers.call_action("harvest_job_report", id=run.job["id"])
    assert len(report["object_errors"]) == len(BROKEN)
    for name in set(SAMPLE_DATASETS.values()):
        assert dataset(name)["state"] == "active"


def test_a_failing_document_keeps_what_was_published_before(sysadmin, organization, copied_server):
    server, directory = copied_server
    source = create_source(sysadmin, organization, server.url("/"), {"kind": "index"})
    harvest(source)
    before = dataset(CRACH_2021)
    shutil.copyfile(SHARED_TOTEM / "broken" / "mauvaise_annee.xml", directory / "crach-principal-ca-2021.xml")

    run = harvest(source)

    url = server.url("/crach-principal-ca-2021.xml")
    assert run.results[url]["report_status"] == "errored"
    assert "2022 en erreur" in run.results[url]["errors_dicts"][0]["message"]
    assert dataset(CRACH_2021)["resources"] == before["resources"]


def test_a_source_that_cannot_be_read_reports_a_gather_error_and_deletes_nothing(
        sysadmin, organization, shared_server):
    source = create_source(sysadmin, organization, shared_server.url("/"), {"kind": "index"})
    harvest(source)
    shared_server.route("/", lambda request, match: Reply(503, b"maintenance"))

    run = harvest(source)

    assert run.results == {}
    assert run.stats["errored"] == 1 and run.stats["deleted"] == 0
    [gather_error] = helpers.call_action("harvest_job_report", id=run.job["id"])["gather_errors"]
    assert gather_error["message"].startswith(shared_server.url("/"))
    assert "503" in gather_error["message"]
    for name in set(SAMPLE_DATASETS.values()):
        assert dataset(name)["state"] == "active"


@pytest.mark.ckan_config("ckanext.budgetod.max_documents_per_source", 2)
def test_a_source_listing_more_documents_than_the_ini_allows_is_refused(sysadmin, organization, shared_server):
    source = create_source(sysadmin, organization, shared_server.url("/"), {"kind": "index"})

    run = harvest(source)

    assert run.results == {}
    [gather_error] = helpers.call_action("harvest_job_report", id=run.job["id"])["gather_errors"]
    assert "plus de 2 documents" in gather_error["message"]
    assert "more than 2 documents" in gather_error["message"]


def test_grouping_by_document_gives_each_document_its_own_dataset(sysadmin, organization, shared_server):
    source = create_source(sysadmin, organization, shared_server.url("/"),
                           {"kind": "index", "grouping": "document", "pattern": r"crach-principal"})

    run = harvest(source)

    assert run.errors() == [] and run.stats["added"] == 2
    for name, key in (("budget-21560046100010-2021-09", CRACH_CA_KEY),
                      ("budget-21560046100010-2021-02-2", CRACH_DM2_KEY)):
        published = dataset(name)
        assert set(by_role(published["resources"], key)) == {"scdl", "totem", "report"}
        assert len(published["resources"]) == 3


def test_a_document_whose_csv_is_not_valid_is_an_error_and_is_not_published(sysadmin, organization):
    document = (SHARED_TOTEM / "crach-principal-ca-2021.xml").read_bytes()
    # Fourteen digits, so the document reads; a wrong check digit, so the SCDL CSV is not valid.
    wrong_siret = document.replace(b'<IdEtab V="21560046100010"/>', b'<IdEtab V="21560046100011"/>')
    with LocalServer(files={"/ca-2021.xml": wrong_siret}) as server:
        url = server.url("/ca-2021.xml")
        run = harvest(create_source(sysadmin, organization, url))

    [message] = run.errors()
    assert message.startswith(f"{url} — CSV SCDL non conforme")
    assert "french-siret-value" in message and "SCDL CSV not valid" in message
    assert helpers.call_action("package_search", q="budgetod_siret:21560046100011")["count"] == 0


@pytest.mark.ckan_config("ckan.max_resource_size", 1)
def test_a_document_larger_than_the_portal_accepts_is_refused_before_conversion_naming_the_setting(
        sysadmin, organization, shared_server):
    url = shared_server.url("/montreuil-ca-2018.xml")  # 3.4 MB

    run = harvest(create_source(sysadmin, organization, url))

    [error] = run.results[url]["errors_dicts"]
    assert error["stage"] == "Fetch"
    assert error["message"] == (
        f"{url} — document de 3,4 Mo non publié : le portail refuse les fichiers de plus de 1 Mo "
        "(réglage ckan.max_resource_size) / 3.4 MB document not published: the portal refuses files over 1 MB "
        "(setting ckan.max_resource_size)")
    assert helpers.call_action("package_search", q="budgetod_siret:21930048000015")["count"] == 0


def budget_views(resource: dict) -> list[dict]:
    return [view for view in helpers.call_action("resource_view_list", id=resource["id"])
            if view["view_type"] == "budgetod_view"]


def test_run_test_gives_every_scdl_resource_one_budget_view_and_republishing_keeps_one(
        cli, app, sysadmin, organization, shared_server):
    # The documented path (docs/harvesting.md): `ckan harvester run-test` (gather, fetch and import through the plugin).
    create_source(sysadmin, organization, shared_server.url("/"), {"kind": "index"}, name="budgets-vues")
    harvested = cli.invoke(ckan_command, ["harvester", "run-test", "budgets-vues"])
    assert harvested.exit_code == 0, harvested.output

    scdl = []
    for name in set(SAMPLE_DATASETS.values()):
        for resource in dataset(name)["resources"]:
            if resource["budgetod_role"] == contract.ROLE_SCDL:
                scdl.append((name, resource))
                assert len(budget_views(resource)) == 1, (name, resource["name"])
            else:
                assert budget_views(resource) == []
    assert len(scdl) == len(SAMPLE_DATASETS)
    name, resource = scdl[0]
    html = app.get(f"/dataset/{name}/resource/{resource['id']}").get_data(as_text=True)
    assert 'data-module="budgetod-budget-view"' in html

    # Published again (a GUID after the source forces it): still one view, the same one.
    # For CKAN 2.12 (docs/development.md, Tests).
    rebuilt = cli.invoke(ckan_command, ["search-index", "rebuild", "budgets-vues"])
    assert rebuilt.exit_code == 0, rebuilt.output
    mohon = next(resource for name, resource in scdl if name == SAMPLE_DATASETS["mohon-cfu-2023.xml"])
    before = budget_views(mohon)
    again = cli.invoke(ckan_command, ["harvester", "run-test", "budgets-vues",
                                      shared_server.url("/mohon-cfu-2023.xml")])
    assert again.exit_code == 0, again.output
    assert shared_server.statuses("/mohon-cfu-2023.xml") == [200, 200]
    assert budget_views(mohon) == before


def test_a_document_address_with_a_lone_surrogate_is_one_gather_error_and_the_others_import(
        sysadmin, organization, shared_server):
    good = shared_server.url("/crach-lotissement-bp-2022.xml")
    bad = shared_server.url("/budget-\ud800.xml")
    # A catalogue's JSON may escape a lone surrogate, which PostgreSQL cannot store: the gather died on it.
    catalogue = CkanStandIn(shared_server)
    catalogue.add_dataset("budgets", [{"url": good, "format": "XML"}, {"url": bad, "format": "XML"}])

    run = harvest(create_source(sysadmin, organization, catalogue.dataset_url("budgets"), {"kind": "ckan"}))

    assert run.job["status"] == "Finished"
    [gather_error] = helpers.call_action("harvest_job_report", id=run.job["id"])["gather_errors"]
    assert gather_error["message"] == (
        shared_server.url("/budget-\\ud800.xml") + " — adresse de document invalide (caractère impossible à "
        "enregistrer), document ignoré / invalid document address (a character that cannot be stored), "
        "document skipped")
    assert list(run.results) == [good] and run.errors() == []
    assert dataset(SAMPLE_DATASETS["crach-lotissement-bp-2022.xml"])["state"] == "active"


def test_a_document_over_its_time_budget_fails_and_the_harvest_goes_on(sysadmin, organization, tmp_path,
                                                                        monkeypatch, ckan_config):
    """An object whose document work outlasts ckanext.budgetod.object_time_budget fails with a message
    saying so, in French and English; the next object is published. The slow occulter waits until the
    budget's alarm interrupts it; its own 60 s bound is a guard against a hang, not a synchronisation."""
    for name in ("crach-lotissement-bp-2022.xml", "crach-principal-dm2-2021.xml"):
        shutil.copyfile(SHARED_TOTEM / name, tmp_path / name)
    monkeypatch.setitem(ckan_config, "ckanext.budgetod.object_time_budget", 10)
    occult = Pipeline.occult

    def slow_for_2022(self, totem_path, destination):
        with open(totem_path, "rb") as document:
            if b'<Exer V="2022"/>' in document.read():
                threading.Event().wait(60)
        return occult(self, totem_path, destination)

    monkeypatch.setattr(Pipeline, "occult", slow_for_2022)
    with LocalServer(directory=tmp_path) as server:
        run = harvest(create_source(sysadmin, organization, server.url("/"), {"kind": "index"}))
        url = server.url("/crach-lotissement-bp-2022.xml")
    assert run.errors() == [
        (f"{url} — document abandonné : son traitement a dépassé 10 s (réglage ckanext.budgetod.object_time_budget)"
         " / document abandoned: its processing took over 10 s (setting ckanext.budgetod.object_time_budget)")]
    assert run.stats["added"] == 1
    assert dataset(CRACH_2021)["state"] == "active"
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL
