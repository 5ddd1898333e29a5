"""The action budgetod_budget_summary: server-side aggregation of an SCDL CSV in the filestore,
cached per file content, visible to whoever may see the resource."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

import ckan.plugins.toolkit as tk
from ckan.tests import factories, helpers

from ckanext.budgetod.totem import summary

from .conftest import file_storage, resource_of, upload


def test_the_summary_of_a_published_csv_is_the_csv_aggregated(publish_budget, converted_documents, tmp_path):
    dataset = publish_budget("montreuil-ca-2018")
    csv_path = tmp_path / "montreuil.csv"
    csv_path.write_bytes(converted_documents("montreuil-ca-2018").csv)

    result = helpers.call_action("budgetod_budget_summary", resource_id=resource_of(dataset, "scdl")["id"])

    assert result == summary.summarise(csv_path)
    assert result["measure"] == "BGT_MTREAL"
    assert result["column_totals"]["BGT_MTREAL"] == "548755746.74"


def test_anyone_may_read_the_summary_of_a_public_dataset_over_http(app, publish_budget):
    dataset = publish_budget("crach-principal-ca-2021")
    response = app.get("/api/3/action/budgetod_budget_summary",
                       query_string={"resource_id": resource_of(dataset, "scdl")["id"]})
    assert response.status_code == 200
    result = response.json["result"]
    # Amounts travel as exact decimal strings.
    assert all(isinstance(item["amount"], str) for item in result["totals"])
    assert sum(Decimal(item["amount"]) for item in result["totals"]) == Decimal(result["column_totals"]["BGT_MTREAL"])


def test_the_summary_of_a_private_dataset_is_for_its_organisation_only(app, publish_budget, organization):
    dataset = publish_budget("crach-principal-ca-2021", private=True)
    resource_id = resource_of(dataset, "scdl")["id"]
    outsider = factories.UserWithToken()
    member = factories.UserWithToken()
    helpers.call_action("organization_member_create", id=organization["id"], username=member["name"],
                        role="member")

    anonymous = app.get("/api/3/action/budgetod_budget_summary", query_string={"resource_id": resource_id})
    stranger = app.get("/api/3/action/budgetod_budget_summary", query_string={"resource_id": resource_id},
                       headers={"Authorization": outsider["token"]})
    insider = app.get("/api/3/action/budgetod_budget_summary", query_string={"resource_id": resource_id},
                      headers={"Authorization": member["token"]})

    assert anonymous.status_code == 403
    assert stranger.status_code == 403
    assert insider.status_code == 200
    assert insider.json["result"]["natdec"] == "compte administratif"


def test_the_summary_is_cached_until_the_file_is_replaced(publish_budget, sysadmin, converted_documents, monkeypatch):
    dataset = publish_budget("crach-principal-ca-2021")
    resource = resource_of(dataset, "scdl")
    first = helpers.call_action("budgetod_budget_summary", resource_id=resource["id"])

    def fails(path):
        raise AssertionError("the cached summary should have been used")

    with monkeypatch.context() as patched:
        patched.setattr(summary, "summarise", fails)
        assert helpers.call_action("budgetod_budget_summary", resource_id=resource["id"]) == first

    # A new upload on the same resource: another document, another summary.
    helpers.call_action("resource_patch", context={"user": sysadmin["name"]}, id=resource["id"],
                        upload=file_storage(converted_documents("crach-principal-dm2-2021").csv, "dm.csv"))
    second = helpers.call_action("budgetod_budget_summary", resource_id=resource["id"])
    assert second["natdec"] == "décision modificative"
    assert second["rows"] != first["rows"]


def test_a_link_to_a_remote_file_is_not_summarised(publish_budget, sysadmin):
    dataset = publish_budget("crach-lotissement-bp-2022")
    remote = helpers.call_action("resource_create", context={"user": sysadmin["name"]}, package_id=dataset["id"],
                                 url="https://example.org/budget.csv", format="CSV")
    with pytest.raises(tk.ValidationError) as raised:
        helpers.call_action("budgetod_budget_summary", resource_id=remote["id"])
    assert "resource_id" in raised.value.error_dict


def test_a_csv_that_is_not_an_scdl_budget_is_refused(publish_budget, sysadmin):
    dataset = publish_budget("crach-lotissement-bp-2022")
    other = upload(sysadmin, dataset["id"], b"name,amount\nx,1\n", "other.csv", format="CSV")
    with pytest.raises(tk.ValidationError) as raised:
        helpers.call_action("budgetod_budget_summary", resource_id=other["id"])
    assert raised.value.error_dict["resource_id"] == ["This file is not an SCDL budget table."]


def test_the_refusal_is_in_the_language_of_the_request(app, publish_budget, sysadmin):
    dataset = publish_budget("crach-lotissement-bp-2022")
    other = upload(sysadmin, dataset["id"], b"name,amount\nx,1\n", "other.csv", format="CSV")
    response = app.get("/api/3/action/budgetod_budget_summary", query_string={"resource_id": other["id"]})
    assert response.status_code == 409
    assert response.json["error"]["resource_id"] == ["Ce fichier n'est pas une table SCDL budget."]


def test_a_missing_or_unknown_resource(clean_db):
    with pytest.raises(tk.ValidationError):
        helpers.call_action("budgetod_budget_summary")
    with pytest.raises(tk.ObjectNotFound):
        helpers.call_action("budgetod_budget_summary", resource_id="no-such-resource")


def test_the_summary_serialises_to_json(publish_budget):
    dataset = publish_budget("mohon-cfu-2023")
    result = helpers.call_action("budgetod_budget_summary", resource_id=resource_of(dataset, "scdl")["id"])
    assert json.loads(json.dumps(result)) == result
    assert result["voted_measure"] == "BGT_CREDOUV"
