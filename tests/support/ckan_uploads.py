"""TOTEM documents uploaded by hand as XML resources, and the background jobs that convert them."""
from __future__ import annotations

import io

import ckan.lib.jobs as jobs
from ckan.tests import helpers
from ckan.tests.pytest_ckan.fixtures import FakeFileStorage


def upload(user: dict, dataset_id: str, content: bytes, filename: str, resource_id: str | None = None) -> dict:
    fields = {"upload": FakeFileStorage(io.BytesIO(content), filename), "url": filename, "format": "XML"}
    if resource_id:
        return helpers.call_action("resource_patch", context={"user": user["name"]}, id=resource_id, **fields)
    return helpers.call_action("resource_create", context={"user": user["name"]}, package_id=dataset_id,
                               name=filename, **fields)


def run_background_jobs() -> None:
    jobs.Worker().work(burst=True)


def siblings(dataset_id: str, totem_id: str) -> dict[str, dict]:
    resources = helpers.call_action("package_show", id=dataset_id)["resources"]
    return {resource["budgetod_role"]: resource for resource in resources
            if resource.get("budgetod_totem_resource") == totem_id}
