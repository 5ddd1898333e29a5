"""Budget datasets on the test portal, made as the harvester publishes them, and its users' API tokens."""
from __future__ import annotations

import io
from dataclasses import dataclass

from ckan.tests import helpers
from ckan.tests.pytest_ckan.fixtures import FakeFileStorage


@dataclass(frozen=True)
class Converted:
    """One sample document, converted and validated once for the whole session."""

    header: object
    key: str
    csv: bytes
    report: dict
    valid: bool


def file_storage(content: bytes, filename: str) -> FakeFileStorage:
    return FakeFileStorage(io.BytesIO(content), filename)


def upload(user: dict, dataset_id: str, content: bytes, filename: str, **fields) -> dict:
    return helpers.call_action("resource_create", context={"user": user["name"]}, package_id=dataset_id,
                               upload=file_storage(content, filename), url=filename, **fields)


def resource_of(dataset: dict, role: str) -> dict:
    return next(resource for resource in dataset["resources"] if resource.get("budgetod_role") == role)


def token_of(user: dict) -> str:
    return helpers.call_action("api_token_create", context={"user": user["name"]}, user=user["name"],
                               name="dashboard")["token"]
