"""Harvests run in-process in the integration tests: the harvest source, the run and what it made."""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import ckan.plugins as plugins
from ckan.lib import uploader
from ckan.tests import helpers

from ckanext.harvest.model import HarvestJob
from ckanext.harvest.tests.lib import run_harvest_job

from ckanext.budgetod.core.totem.occultation import occult_document

# The six sample documents (read-only, third-party): what each becomes with the default grouping.
SAMPLE_DATASETS = {
    "crach-lotissement-bp-2022.xml": "budget-21560046100085-2022-annexe-06",
    "crach-principal-ca-2021.xml": "budget-21560046100010-2021",
    "crach-principal-dm2-2021.xml": "budget-21560046100010-2021",
    "mohon-cfu-2023.xml": "budget-21560134500014-2023",
    "montreuil-ca-2018.xml": "budget-21930048000015-2018",
    "transport-m43-bp-2022.xml": "budget-24350078200095-2022-annexe-06",
}
BROKEN = ("mauvais_siret.xml", "mauvaise_annee.xml", "mauvaise_etape.xml", "mauvaise_nomenclature.xml",
          "not-a-totem.xml")


@dataclass
class HarvestRun:
    job: dict
    results: dict  # by guid: state, report_status, errors

    @property
    def stats(self) -> dict:
        return self.job["stats"]

    def errors(self) -> list[str]:
        return [error["message"] for result in self.results.values() for error in result["errors_dicts"]]


def create_source(sysadmin: dict, organization: dict, url: str, config: dict | None = None,
                  name: str = "budgets") -> dict:
    return helpers.call_action(
        "harvest_source_create", context={"user": sysadmin["name"]}, name=name, title=name, url=url,
        source_type="budgetod_totem", config=json.dumps(config) if config else "",
        owner_org=organization["id"], frequency="MANUAL")


def harvest(source: dict) -> HarvestRun:
    """One harvest, in-process: gather, then fetch and import each object, then the job is closed."""
    job = helpers.call_action("harvest_job_create", source_id=source["id"], run=False)
    results = run_harvest_job(HarvestJob.get(job["id"]), plugins.get_plugin("budgetod_harvester"))
    for result in results.values():
        result["errors_dicts"] = [{"message": error.message, "stage": error.stage} for error in result["errors"]]
    return HarvestRun(helpers.call_action("harvest_job_show", id=job["id"]), results)


def dataset(name: str) -> dict:
    return helpers.call_action("package_show", context={"use_cache": False}, id=name)


def stored_file(resource: dict) -> Path:
    assert resource["url_type"] == "upload", resource
    return Path(uploader.get_resource_uploader(resource).get_path(resource["id"]))


def occulted(path: Path) -> bytes:
    """What the portal publishes of a TOTEM document: its occulted version."""
    output = io.BytesIO()
    occult_document(path, output)
    return output.getvalue()


def by_role(resources: list[dict], document: str) -> dict[str, dict]:
    return {resource["budgetod_role"]: resource for resource in resources
            if resource.get("budgetod_document") == document}
