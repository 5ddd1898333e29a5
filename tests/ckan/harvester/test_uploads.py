"""A TOTEM document uploaded by hand as an XML resource gets its CSV and report from a background job;
the readable report page."""
from __future__ import annotations

import json

import pytest
from ckan.tests import helpers

from ckanext.budgetod.core.scdl import validation
from ckanext.budgetod.core.settings import Settings
from tests.support.ckan_harvest import stored_file
from tests.support.ckan_uploads import run_background_jobs, siblings, upload
from tests.support.shared import SCHEMA_PATH, SHARED_TOTEM

pytestmark = pytest.mark.usefixtures("harvest_db", "with_test_worker", "clean_queues")


def test_an_uploaded_totem_document_gets_its_csv_and_report(editor_dataset):
    editor, dataset = editor_dataset
    totem = upload(editor, dataset["id"], (SHARED_TOTEM / "crach-principal-ca-2021.xml").read_bytes(), "ca-2021.xml")

    run_background_jobs()

    made = siblings(dataset["id"], totem["id"])
    assert set(made) == {"scdl", "report"}
    assert made["scdl"]["format"] == "CSV" and made["report"]["format"] == "JSON"
    assert [view["view_type"] for view in helpers.call_action("resource_view_list", id=made["scdl"]["id"])
            ] == ["budgetod_view"]
    assert made["scdl"]["budgetod_valid"] == "true"
    assert json.loads(made["scdl"]["schema"])["name"] == "scdl/budget"
    assert validation.validate_csv(str(stored_file(made["scdl"])), Settings(scdl_schema=str(SCHEMA_PATH))).valid
    report = json.loads(stored_file(made["report"]).read_text(encoding="utf-8"))
    assert report["validation"]["valid"] is True and report["document_key"] == "21560046100010-2021-09"
    totem = helpers.call_action("resource_show", id=totem["id"])
    assert totem["budgetod_role"] == "totem" and totem["budgetod_document"] == "21560046100010-2021-09"


def test_editing_the_resource_without_changing_the_file_converts_nothing(editor_dataset):
    editor, dataset = editor_dataset
    totem = upload(editor, dataset["id"], (SHARED_TOTEM / "crach-principal-ca-2021.xml").read_bytes(), "ca-2021.xml")
    run_background_jobs()
    before = siblings(dataset["id"], totem["id"])

    helpers.call_action("resource_patch", context={"user": editor["name"]}, id=totem["id"],
                        description="Compte administratif voté le 1er mars 2022")
    run_background_jobs()

    assert siblings(dataset["id"], totem["id"]) == before


def test_a_new_upload_on_the_resource_replaces_its_siblings_in_place(editor_dataset):
    editor, dataset = editor_dataset
    totem = upload(editor, dataset["id"], (SHARED_TOTEM / "crach-principal-ca-2021.xml").read_bytes(), "budget.xml")
    run_background_jobs()
    before = siblings(dataset["id"], totem["id"])

    upload(editor, dataset["id"], (SHARED_TOTEM / "crach-principal-dm2-2021.xml").read_bytes(), "budget.xml",
           resource_id=totem["id"])
    run_background_jobs()

    after = siblings(dataset["id"], totem["id"])
    assert {role: resource["id"] for role, resource in after.items()} == {
        role: resource["id"] for role, resource in before.items()}
    assert after["scdl"]["budgetod_document"] == "21560046100010-2021-02-2"


def test_a_broken_totem_document_gets_a_report_saying_why_and_no_csv(editor_dataset):
    editor, dataset = editor_dataset
    totem = upload(editor, dataset["id"], (SHARED_TOTEM / "broken" / "mauvaise_annee.xml").read_bytes(), "ca.xml")

    run_background_jobs()

    made = siblings(dataset["id"], totem["id"])
    assert set(made) == {"report"} and made["report"]["budgetod_valid"] == "false"
    report = json.loads(stored_file(made["report"]).read_text(encoding="utf-8"))
    assert "2022 en erreur" in report["error"]["message_fr"] and "financial year" in report["error"]["message_en"]


def test_other_xml_files_are_left_alone(editor_dataset):
    editor, dataset = editor_dataset
    other = upload(editor, dataset["id"], b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>', "feed.xml")

    run_background_jobs()

    assert siblings(dataset["id"], other["id"]) == {}
    assert len(helpers.call_action("package_show", id=dataset["id"])["resources"]) == 1


@pytest.mark.parametrize("prefix, verdict", [("", "Valide."), ("/en", "Valid.")])
def test_the_report_of_an_uploaded_document_links_to_its_readable_page(app, editor_dataset, prefix, verdict):
    # The page itself is the visualisation plugin's (tests/ckan/view/test_report_page.py).
    editor, dataset = editor_dataset
    totem = upload(editor, dataset["id"], (SHARED_TOTEM / "crach-principal-ca-2021.xml").read_bytes(), "ca-2021.xml")
    run_background_jobs()
    report = siblings(dataset["id"], totem["id"])["report"]

    page = app.get(f"{prefix}/budgets/report/{report['id']}")
    resource_page = app.get(f"{prefix}/dataset/{dataset['name']}/resource/{report['id']}")

    assert page.status_code == 200 and f"<strong>{verdict}</strong>" in page.body
    assert f"/budgets/report/{report['id']}" in resource_page.body
    assert app.get(f"/budgets/report/{totem['id']}", status=404)
