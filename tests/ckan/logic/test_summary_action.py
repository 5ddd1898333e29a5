"""The action budgetod_budget_summary: server-side aggregation of an SCDL CSV in the filestore,
cached per file content, visible to whoever may see the resource."""
from __future__ import annotations

import json
from decimal import Decimal

import ckan.plugins.toolkit as tk
import pytest
from ckan.tests import factories, helpers

from ckanext.budgetod.core import contract
from ckanext.budgetod.core.scdl import summary
from tests.support.ckan_portal import file_storage, resource_of, upload


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


def scdl_csv(rows: list[dict]) -> bytes:
    lines = [",".join(contract.SCDL_COLUMNS)]
    lines += [",".join(row.get(field, "") for field in contract.SCDL_COLUMNS) for row in rows]
    return "\n".join(lines).encode()


def test_amounts_of_a_million_digits_give_a_small_summary_over_http(app, publish_budget, sysadmin):
    """Anyone may ask: 1E+999999 was written out in full in every aggregate (1E+9999999: HTTP 500)."""
    dataset = publish_budget("crach-lotissement-bp-2022")
    rows = [{"BGT_NATDEC": "budget primitif", "BGT_CONTNAT": f"{index:03d}", "BGT_CODRD": "dépense",
             "BGT_SECTION": "fonctionnement", "BGT_OPBUDG": "réel", "BGT_NATURE": f"6{index:03d}",
             "BGT_MTPREV": amount} for index, amount in enumerate(["1E+999999", "1E+9999999", "12.50"])]
    hostile = upload(sysadmin, dataset["id"], scdl_csv(rows), "hostile.csv", format="CSV")
    response = app.get("/api/3/action/budgetod_budget_summary", query_string={"resource_id": hostile["id"]})
    assert response.status_code == 200
    assert len(response.body) < 10_000
    assert response.json["result"]["unreadable_amounts"] == 2
    assert response.json["result"]["column_totals"]["BGT_MTPREV"] == "12.50"


def test_a_file_beyond_the_summary_bounds_is_refused_clearly(app, publish_budget, sysadmin, monkeypatch):
    monkeypatch.setattr(summary, "MAX_GROUPS", 3)
    dataset = publish_budget("crach-lotissement-bp-2022")
    rows = [{"BGT_CONTNAT": f"{index:03d}", "BGT_MTPREV": "1"} for index in range(4)]
    hostile = upload(sysadmin, dataset["id"], scdl_csv(rows), "chapters.csv", format="CSV")
    response = app.get("/api/3/action/budgetod_budget_summary", query_string={"resource_id": hostile["id"]})
    assert response.status_code == 409
    assert response.json["error"]["resource_id"] == [
        ("Ce tableau budgétaire ne peut pas être résumé : plus de 3 chapitres distincts : "
         "ce n'est pas un budget qu'une visualisation peut montrer")]
    with pytest.raises(tk.ValidationError) as raised:
        helpers.call_action("budgetod_budget_summary", resource_id=hostile["id"])
    assert raised.value.error_dict["resource_id"] == [
        "This budget table cannot be summarised: more than 3 distinct chapters: not a budget a visualisation can show"]


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
