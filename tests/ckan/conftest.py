"""Integration tests: CKAN 2.11 with the extension, against the real local stack. The fixtures of every
directory here: a clean database, and budget datasets published as the harvester publishes them."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import ckan.plugins.toolkit as tk
import pytest
from ckan.lib import jobs as ckan_jobs
from ckan.tests import factories, helpers

from ckanext.budgetod import settings
from ckanext.budgetod.core import source_config
from ckanext.budgetod.core.net.fetch import file_digest
from ckanext.budgetod.core.pipeline import Pipeline
from ckanext.budgetod.portal import publish
from tests.support.ckan_portal import Converted, upload
from tests.support.shared import SHARED_TOTEM


@pytest.fixture
def clean_db(with_plugins, reset_db, reset_index, migrate_db_for):
    # Plugins first: the harvest and activity migrations belong to plugins that must be loaded.
    reset_db()
    migrate_db_for("harvest")
    migrate_db_for("activity")
    migrate_db_for("budgetod")
    # The index of the previous test's datasets would outlive them.
    reset_index()


@pytest.fixture(scope="session")
def converted_documents(tmp_path_factory) -> dict[str, Converted]:
    cache: dict[str, Converted] = {}

    def convert(stem: str) -> Converted:
        if stem not in cache:
            workdir = tmp_path_factory.mktemp(stem)
            totem = SHARED_TOTEM / f"{stem}.xml"
            doc = Pipeline(settings.current()).run(
                str(totem), str(workdir / "scdl.csv"), source=f"https://example.org/{stem}.xml",
                sha256=file_digest(str(totem)), occult_to=str(workdir / "occulted.xml"))
            cache[stem] = Converted(doc.header, doc.key, Path(doc.csv_path).read_bytes(), doc.report, doc.valid)
        return cache[stem]

    return convert


@pytest.fixture
def storage(ckan_config, monkeypatch, tmp_path):
    """A private filestore: uploads and the summary cache of one test."""
    monkeypatch.setitem(ckan_config, "ckan.storage_path", str(tmp_path / "storage"))
    yield tmp_path / "storage"
    shutil.rmtree(tmp_path / "storage", ignore_errors=True)


@pytest.fixture
def sysadmin(clean_db):
    return factories.Sysadmin()


@pytest.fixture
def organization(clean_db, sysadmin):
    return factories.Organization(name="collectivites", title="Collectivités",
                                  users=[{"name": sysadmin["name"], "capacity": "admin"}])


@pytest.fixture
def publish_budget(clean_db, storage, sysadmin, organization, converted_documents):
    """publish_budget(stem, private=False, extras=None) → the dataset of that sample document,
    with its SCDL CSV, TOTEM XML and report resources in the filestore."""

    def make(stem: str, *, private: bool = False, extras: dict | None = None, csv: bytes | None = None,
             report: dict | None = None) -> dict:
        doc = converted_documents(stem)
        header = doc.header
        key = doc.key
        facts = {
            **publish.dataset_facts(header),
            "budgetod_etapes": publish.etape_title(header.natdec, header.decision_number),
            **(extras or {}),
        }
        name = publish.dataset_name(header, source_config.GROUPING_BUDGET)
        # Several stages of one budget year share a dataset, as the harvester groups them.
        try:
            dataset = helpers.call_action("package_show", id=name)
        except tk.ObjectNotFound:
            dataset = helpers.call_action(
                "package_create", context={"user": sysadmin["name"]}, name=name,
                title=f"Budget {header.exercice} — {header.budget_name}", owner_org=organization["id"],
                private=private, extras=[{"key": k, "value": v} for k, v in facts.items() if v])
        valid = doc.valid if report is None else report["validation"]["valid"]
        # budgetod_source marks them harvested (uploaded XML files get converted in the background).
        common = {"budgetod_document": key, "budgetod_source": f"https://example.org/{stem}.xml",
                  "budgetod_etape": header.natdec,
                  "budgetod_decision": header.decision_number, "budgetod_valid": "true" if valid else "false"}
        upload(sysadmin, dataset["id"], csv if csv is not None else doc.csv, f"{key}-scdl.csv",
               name=f"{stem} SCDL", format="CSV", budgetod_role="scdl", **common)
        upload(sysadmin, dataset["id"], (SHARED_TOTEM / f"{stem}.xml").read_bytes(), f"{key}-totem.xml",
               name=f"{stem} TOTEM", format="XML", budgetod_role="totem", **common)
        upload(sysadmin, dataset["id"], json.dumps(report or doc.report, ensure_ascii=False).encode(),
               f"{key}-report.json", name=f"{stem} report", format="JSON", budgetod_role="report", **common)
        return helpers.call_action("package_show", id=dataset["id"])

    return make


@pytest.fixture
def empty_jobs_queue():
    """Jobs queued by earlier tests (each dataset change queues one) must not run in this one."""
    queue = ckan_jobs.get_queue()
    queue.empty()
    yield queue
    queue.empty()
