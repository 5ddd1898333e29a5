"""The data.gouv.fr sync in the integration tests: budget datasets shaped as the harvester publishes
them (made with CKAN's actions, so that the sync tests do not depend on harvesting), what the udata
stand-in holds, and ckan commands run in processes of their own."""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.tests import helpers
from werkzeug.datastructures import FileStorage

from ckanext.harvest.model import HarvestJob, HarvestObject, HarvestSource

from ckanext.budgetod.datagouv import sync
from tests.support.repository import REPOSITORY
from tests.support.udata_standin import UdataStandIn

API_KEY = "budgetod-test-key"
PORTAL_ORGANIZATION = "bretagne"
# The communes and EPCI of the sample documents, as udata names their zones.
ZONES = {"fr:commune:56046": "Crach", "fr:commune:56134": "Mohon",
         "fr:epci:243500782": "Saint-Malo Agglomération"}


@dataclass(frozen=True)
class Document:
    """One budget document: the three resources the harvester publishes for it."""

    key: str
    etape: str
    title: str

    def files(self, version: int = 1) -> dict[str, tuple[str, bytes]]:
        """File name and content by role; a new ``version`` changes every content. Only the bytes
        matter to the sync: the CSV has a few SCDL-like lines, the XML is no real TOTEM document."""
        siret, year = self.key.split("-")[:2]
        csv = "BGT_NATDEC;BGT_ANNEE;BGT_SIRET;BGT_MTREAL\n" + "".join(
            f"{self.etape};{year};{siret};{amount}.{version:02d}\n" for amount in range(1, 40))
        return {
            "scdl": (f"{self.key}-scdl.csv", csv.encode()),
            "totem": (f"{self.key}-totem.xml", f"<DocumentBudgetaire v='{version}'/>".encode()),
            "report": (f"{self.key}-report.json", json.dumps({"valid": True, "v": version}).encode()),
        }


FORMATS = {"scdl": "CSV", "totem": "XML", "report": "JSON"}


def resources_of(document: Document, version: int = 1, existing: list[dict] = ()) -> list[dict]:
    """The document's resources (the ids of ``existing`` ones kept), each with its file to upload."""
    by_role = {resource["budgetod_role"]: resource for resource in existing
               if resource.get("budgetod_document") == document.key}
    resources = []
    for role, (filename, content) in document.files(version).items():
        resource = {**by_role.get(role, {}),
                    "name": f"{document.title} ({FORMATS[role]})", "format": FORMATS[role],
                    "description": f"{document.title}, {role}.",
                    "budgetod_role": role, "budgetod_document": document.key, "budgetod_valid": "true",
                    "budgetod_source": f"https://budgets.example.org/{document.key}.xml",
                    "upload": FileStorage(stream=io.BytesIO(content), filename=filename)}
        if role == "scdl":
            resource["schema"] = json.dumps({"name": "scdl/budget", "version": "0.8.3"})
        resources.append(resource)
    return resources


@dataclass
class Portal:
    """The CKAN side: a sysadmin, an organisation and a harvest source targeting udata."""

    sysadmin: dict
    organization: dict
    source: dict
    job: dict  # the harvest job that "imported" the datasets

    def context(self) -> dict:
        return {"user": self.sysadmin["name"], "ignore_auth": True, "use_cache": False}

    def budget(self, siret: str, exercice: int, name: str, insee: str, documents: list[Document],
               **fields) -> dict:
        """A harvested budget dataset, linked to the harvest source like an import links it."""
        dataset = helpers.call_action(
            "package_create", context=self.context(), name=f"budget-{siret}-{exercice}",
            title=f"Budget {exercice} — {name}", owner_org=self.organization["id"], license_id="lov2",
            notes=f"Budget {exercice} de {name}.",
            tags=[{"name": tag} for tag in ("budget", "finances publiques", "SCDL", str(exercice))],
            extras=[{"key": key, "value": value} for key, value in (
                ("budgetod_siret", siret), ("budgetod_exercice", str(exercice)), ("budgetod_insee", insee),
                ("budgetod_nomenclature", "M14-M14_COM_500_3500"), ("frequency", "annual"))],
            **fields)
        model.Session.add(HarvestObject(
            guid=f"https://budgets.example.org/{siret}-{exercice}", job=HarvestJob.get(self.job["id"]),
            source=HarvestSource.get(self.source["id"]), package_id=dataset["id"], current=True))
        model.Session.commit()
        return self.publish(dataset["id"], documents)

    def publish(self, dataset_id: str, documents: list[Document], version: int = 1) -> dict:
        """Add or replace the documents' resources (new files when ``version`` changes)."""
        dataset = self.show(dataset_id)
        keys = {document.key for document in documents}
        kept = [resource for resource in dataset["resources"] if resource.get("budgetod_document") not in keys]
        dataset["resources"] = kept + [resource for document in documents
                                       for resource in resources_of(document, version, dataset["resources"])]
        return helpers.call_action("package_update", context=self.context(), **dataset)

    def remove(self, dataset_id: str, key: str) -> dict:
        dataset = self.show(dataset_id)
        dataset["resources"] = [resource for resource in dataset["resources"]
                                if resource.get("budgetod_document") != key]
        return helpers.call_action("package_update", context=self.context(), **dataset)

    def show(self, dataset_id: str) -> dict:
        return helpers.call_action("package_show", context=self.context(), id=dataset_id)


CRACH_CA = Document("21560046100010-2021-09", "09", "Compte administratif 2021")
CRACH_DM = Document("21560046100010-2021-02-2", "02", "Décision modificative n° 2 2021")
MOHON_CFU = Document("21560134500014-2023-10", "10", "Compte financier unique 2023")
SAINT_MALO_BP = Document("24350078200095-2022-01-annexe-06", "01", "Budget primitif 2022")
CRACH_BP_2022 = Document("21560046100010-2022-01", "01", "Budget primitif 2022")
MOHON_BP_2022 = Document("21560134500014-2022-01", "01", "Budget primitif 2022")


def publish_samples(portal: Portal) -> list[dict]:
    return [
        portal.budget("21560046100010", 2021, "CRACH", "56046", [CRACH_CA, CRACH_DM]),
        portal.budget("21560134500014", 2023, "COMMUNE DE MOHON", "56134", [MOHON_CFU]),
        portal.budget("24350078200095", 2022, "SAINT MALO AGGLOMERATION", "243500782", [SAINT_MALO_BP]),
        portal.budget("21560046100010", 2022, "CRACH", "56046", [CRACH_BP_2022]),
        portal.budget("21560134500014", 2022, "COMMUNE DE MOHON", "56134", [MOHON_BP_2022]),
    ]


def sync_all(synchroniser: sync.Synchroniser) -> list[sync.Outcome]:
    return [synchroniser.sync(package_id) for package_id in sync.candidate_ids()]


def file_digest(udata: UdataStandIn, resource: dict) -> str:
    return hashlib.sha256(udata.file_content(resource["url"])).hexdigest()


def udata_state(udata: UdataStandIn) -> dict:
    """udata's datasets and resources without what differs between two runs (ids, dates, storage
    paths): what a fault-free and a faulty sync must agree on. Duplicates would show as lists > 1."""
    datasets: dict[str, list] = {}
    for dataset in udata.datasets():
        if dataset["deleted"]:
            continue
        resources: dict[str, list] = {}
        for resource in dataset["resources"]:
            key = resource["extras"].get(sync.KEY_RESOURCE, "(none)")
            resources.setdefault(key, []).append({
                "title": resource["title"], "description": resource["description"], "type": resource["type"],
                "format": resource["format"], "schema": resource["schema"], "filetype": resource["filetype"],
                "extras": resource["extras"],
                "content": file_digest(udata, resource) if resource["filetype"] == "file" else resource["url"],
            })
        datasets.setdefault(dataset["extras"].get(sync.KEY_DATASET, "(none)"), []).append({
            field: dataset[field] for field in ("title", "description", "tags", "license", "frequency",
                                                "temporal_coverage", "spatial", "private", "archived", "extras")
        } | {"organization": dataset["organization"]["slug"], "resources": resources})
    return datasets


def only_copies(udata_state_: dict) -> bool:
    """Every udata dataset and resource is there once."""
    return all(len(copies) == 1 and all(len(resources) == 1 for resources in copies[0]["resources"].values())
               for copies in udata_state_.values())


def ckan_script() -> str:
    return str(Path(sys.executable).with_name("ckan"))


def ckan_process(ini: Path, *args: str, **popen) -> subprocess.Popen:
    """``ckan -c ini ARGS`` in a session of its own, sharing this test's database, Redis and filestore."""
    environment = {**os.environ, "CKAN_STORAGE_PATH": tk.config["ckan.storage_path"]}
    return subprocess.Popen([ckan_script(), "-c", str(ini), *args], cwd=REPOSITORY, env=environment,
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, **popen)


def kill_with_descendants(pid: int) -> None:
    """SIGKILL a process and everything it forked. A worker's job runs in a forked "work horse" that
    rq puts in a session of its own: killing the worker's process group would spare it."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # The command name may hold spaces: the fields after its closing parenthesis are fixed.
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
    doomed, added = {pid}, True
    while added:
        children = {child for child, parent in parents.items() if parent in doomed} - doomed
        doomed |= children
        added = bool(children)
    for victim in doomed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)


@contextlib.contextmanager
def ended(process: subprocess.Popen):
    try:
        yield process
    finally:
        if process.poll() is None:
            kill_with_descendants(process.pid)
        process.wait()
