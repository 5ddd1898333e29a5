"""The readable validation report /budgets/report/<resource id>: the verdict, then the errors
grouped by column with their row numbers, in French and English."""
from __future__ import annotations

import csv
import html as html_text
import io
import json
import re

import pytest
from ckan.tests import factories, helpers

from ckanext.budgetod import settings
from ckanext.budgetod.core.pipeline import validation_part
from ckanext.budgetod.core.scdl import validation
from tests.support.ckan_portal import resource_of, upload


def report_page(app, resource_id: str, lang: str = "", headers: dict | None = None):
    return app.get(f"{'/' + lang if lang else ''}/budgets/report/{resource_id}", headers=headers or {})


def text_of(response) -> str:
    """The page with its entities decoded: messages hold quotes and apostrophes."""
    assert response.status_code == 200
    return html_text.unescape(response.get_data(as_text=True))


@pytest.fixture
def invalid_budget(publish_budget, converted_documents, tmp_path):
    """Crach's 2021 account with two wrong SIRETs (rows 3 and 5) and an amount that is not a
    number (row 4), and its report as the harvester would publish it."""
    doc = converted_documents("crach-principal-ca-2021")
    rows = list(csv.reader(io.StringIO(doc.csv.decode())))
    header = rows[0]
    rows[2][header.index("BGT_SIRET")] = "21560046100011"
    rows[4][header.index("BGT_SIRET")] = "12345678901234"
    rows[3][header.index("BGT_MTREAL")] = "12,50"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    content = buffer.getvalue().encode()
    path = tmp_path / "invalid.csv"
    path.write_bytes(content)
    checked = validation.validate_csv(str(path), settings.current())
    report = dict(doc.report)
    report["validation"] = validation_part(checked, "0.8.3")
    return publish_budget("crach-principal-ca-2021", csv=content, report=report)


def test_errors_are_grouped_by_column_with_their_rows_in_french(app, invalid_budget):
    html = text_of(report_page(app, resource_of(invalid_budget, "report")["id"]))

    assert "Non valide." in html
    assert "3 erreurs" in html
    groups = re.findall(r'<h3 id="budgetod-field-\d+">\s*(\w+)\s*<span class="badge bg-danger">([^<]+)</span>', html)
    assert groups == [("BGT_SIRET", "2 erreurs"), ("BGT_MTREAL", "1 erreur")]
    assert "<strong>Lignes :</strong> 3, 5" in html
    assert "<strong>Lignes :</strong> 4" in html
    assert "« 12345678901234 » n'est pas un numéro SIRET valide" in html
    assert "« 12,50 » n'est pas un nombre" in html


def test_the_same_report_in_english(app, invalid_budget):
    html = text_of(report_page(app, resource_of(invalid_budget, "report")["id"], lang="en"))
    assert "Not valid." in html
    assert "Errors by column" in html
    assert "2 errors" in html and "1 error<" in html
    assert "<strong>Rows:</strong> 3, 5" in html
    assert '"12345678901234" is not a valid SIRET number' in html
    assert "n'est pas" not in html


def test_a_valid_report(app, publish_budget):
    dataset = publish_budget("montreuil-ca-2018")
    html = text_of(report_page(app, resource_of(dataset, "report")["id"]))
    assert "Valide." in html
    assert "1431 lignes, aucune erreur" in html
    # The report links to its CSV and to the JSON file.
    assert f"/dataset/{dataset['name']}/resource/{resource_of(dataset, 'scdl')['id']}" in html
    assert f"/dataset/{dataset['name']}/resource/{resource_of(dataset, 'report')['id']}/download" in html


def test_a_document_that_could_not_be_converted(app, publish_budget, sysadmin):
    dataset = publish_budget("crach-lotissement-bp-2022")
    failure = {"document_key": None, "source": "upload", "validation": None,
               "error": {"message_fr": "année d'exercice invalide", "message_en": "invalid financial year"}}
    report = upload(sysadmin, dataset["id"], json.dumps(failure).encode(), "failure.json",
                    format="JSON", budgetod_role="report", budgetod_totem_resource="some-upload")
    french = text_of(report_page(app, report["id"]))
    english = text_of(report_page(app, report["id"], lang="en"))
    assert "année d'exercice invalide" in french
    assert "invalid financial year" in english


def test_a_report_written_before_report_versions_by_the_command_line_still_reads(app, publish_budget, sysadmin):
    dataset = publish_budget("crach-lotissement-bp-2022")
    before = {"source": "bp.xml", "output": None, "document": {}, "rows": 21, "plan": {},
              "warnings": [{"code": "nature_unknown", "message": "compte 6999 inconnu du plan", "count": 1,
                            "details": {}}],
              "validation": {"valid": True, "rows": 21, "error_count": 0, "schema": {"name": "scdl/budget"}}}
    report = upload(sysadmin, dataset["id"], json.dumps(before).encode(), "old.json", format="JSON",
                    budgetod_role="report", budgetod_document="old")
    html = text_of(report_page(app, report["id"]))
    assert "Valide." in html and "compte 6999 inconnu du plan" in html
    assert UNREADABLE_FR not in html


def test_only_report_resources_have_a_report_page(app, publish_budget):
    dataset = publish_budget("crach-lotissement-bp-2022")
    assert report_page(app, resource_of(dataset, "scdl")["id"]).status_code == 404
    assert report_page(app, "no-such-resource").status_code == 404


def test_the_report_of_a_private_dataset_is_for_its_organisation(app, publish_budget, sysadmin):
    dataset = publish_budget("crach-lotissement-bp-2022", private=True)
    report_id = resource_of(dataset, "report")["id"]
    token = helpers.call_action("api_token_create", context={"user": sysadmin["name"]}, user=sysadmin["name"],
                                name="report")["token"]
    assert report_page(app, report_id).status_code == 404
    assert report_page(app, report_id, headers={"Authorization": factories.UserWithToken()["token"]}).status_code == 404
    assert report_page(app, report_id, headers={"Authorization": token}).status_code == 200


UNREADABLE_FR = "Ce rapport est illisible."
UNREADABLE_EN = "This report cannot be read."


@pytest.mark.parametrize("content, readable", [
    (b"[]", False),
    (b'"a report"', False),
    (b'{"validation": "valid"}', False),
    (b'{"error": ["no"]}', False),
    (b"[" * 100_000 + b"]" * 100_000, False),
    ((b'{"validation": {"valid": "yes", "rows": "many", "error_count": -3, "schema": [],'
      b' "errors_by_field": ["BGT_SIRET"], "first_errors": ["x", 3, {"row": "4", "field": ["BGT_NOM"],'
      b' "cell": {"a": 1}, "message_fr": {"x": 1}}, {"row": 7, "field": "BGT_NOM", "message_fr": "mauvais"}],'
      b' "warnings": [1, {"message_fr": 2}]}, "conversion": {"warnings": "none"}}'), True),
    (b'{"error": {"message_fr": ["x"], "message_en": null}, "validation": null}', True),
])
def test_a_crafted_report_gives_a_clear_page_never_an_error(app, publish_budget, sysadmin, content, readable):
    # Any editor may upload a "report" resource: the page reads what it is given.
    dataset = publish_budget("crach-lotissement-bp-2022")
    report = upload(sysadmin, dataset["id"], content, "crafted.json", format="JSON", budgetod_role="report",
                    budgetod_document="crafted")

    french = text_of(report_page(app, report["id"]))
    english = text_of(report_page(app, report["id"], lang="en"))

    assert (UNREADABLE_FR in french) != readable
    assert (UNREADABLE_EN in english) != readable
    if content.startswith(b'{"validation": {"valid": "yes"'):
        assert "Non valide." in french and "mauvais" in french and "<strong>Lignes :</strong> 7" in french
