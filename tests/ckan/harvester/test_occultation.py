"""What the portal serves holds no personal data (CRPA art. L311-7): harvested and uploaded TOTEM
documents are published occulted, their reports count what was occulted, and `ckan budgetod occult
--all` republishes what was published before."""
from __future__ import annotations

import json

import pytest
from ckan.cli.cli import ckan as ckan_command
from ckan.tests import helpers

from ckanext.budgetod.core.scdl.conversion import convert_document
from ckanext.budgetod.core.totem.occultation import occult_document
from ckanext.budgetod.core.totem.reader import read_header
from tests.support.ckan_harvest import SAMPLE_DATASETS, by_role, create_source, dataset, harvest, stored_file
from tests.support.ckan_uploads import run_background_jobs, siblings, upload
from tests.support.occultation_oracle import assert_occulted, leftover_personal_values, named_persons
from tests.support.servers import LocalServer
from tests.support.settings import offline_settings
from tests.support.shared import SHARED_TOTEM
from tests.support.totem_factory import personal_document

pytestmark = pytest.mark.usefixtures("harvest_db", "with_test_worker", "clean_queues")



def harvest_corpus(sysadmin: dict, organization: dict) -> None:
    with LocalServer(directory=SHARED_TOTEM) as server:
        run = harvest(create_source(sysadmin, organization, server.url("/"), {"kind": "index"}))
    assert run.errors() == []


def published(filename: str) -> dict[str, dict]:
    key = read_header(SHARED_TOTEM / filename).document_key
    return by_role(dataset(SAMPLE_DATASETS[filename])["resources"], key)


def test_the_harvested_corpus_is_published_occulted(app, sysadmin, organization, tmp_path):
    harvest_corpus(sysadmin, organization)

    for filename, name in SAMPLE_DATASETS.items():
        source = SHARED_TOTEM / filename
        original = source.read_bytes()
        resources = published(filename)
        served = app.get(resources["totem"]["url"]).get_data()
        assert served == stored_file(resources["totem"]).read_bytes()
        expected = occult_document(source, None)
        assert assert_occulted(original, served) == expected.total
        report_text = stored_file(resources["report"]).read_text(encoding="utf-8")
        assert json.loads(report_text)["occultation"] == expected.to_dict()
        # The SCDL CSV bytes are those of the original document's conversion.
        convert_document(source, tmp_path / "expected.csv", offline_settings())
        csv_bytes = stored_file(resources["scdl"]).read_bytes()
        assert csv_bytes == (tmp_path / "expected.csv").read_bytes()
        everything_shown = "\n".join([json.dumps(dataset(name), ensure_ascii=False), report_text,
                                      csv_bytes.decode("utf-8"), app.get(f"/dataset/{name}").get_data(as_text=True)])
        for person in named_persons(original):
            assert person not in everything_shown, (filename, person)
    mohon = published("mohon-cfu-2023.xml")
    assert "PRESSARD TITOUAN" not in stored_file(mohon["totem"]).read_text(encoding="utf-8")
    page = app.get(f"/budgets/report/{mohon['report']['id']}").get_data(as_text=True)  # French, the default
    assert "Données personnelles occultées" in page and "a 112 valeurs remplacées" in page
    assert "<code>concours</code></td><td>37</td>" in page


def test_an_uploaded_document_is_replaced_by_its_occulted_version(editor_dataset):
    editor, target = editor_dataset
    original = (SHARED_TOTEM / "mohon-cfu-2023.xml").read_bytes()
    totem = upload(editor, target["id"], original, "cfu-2023.xml")

    run_background_jobs()

    totem = helpers.call_action("resource_show", id=totem["id"])
    stored = stored_file(totem).read_bytes()
    assert assert_occulted(original, stored) == 112
    assert totem["url"].endswith("/cfu-2023.xml")
    made = siblings(target["id"], totem["id"])
    report_text = stored_file(made["report"]).read_text(encoding="utf-8")
    report = json.loads(report_text)
    assert report["occultation"]["rules"]["concours"] == 37 and report["occultation"]["total"] == 112
    assert report["validation"]["valid"] is True
    for person in named_persons(original):
        assert person not in report_text
    # Nothing more to do the next time the job runs.
    modified = helpers.call_action("package_show", id=target["id"])["metadata_modified"]
    helpers.call_action("resource_patch", context={"user": editor["name"]}, id=totem["id"], description="CFU")
    run_background_jobs()
    assert stored_file(totem).read_bytes() == stored
    assert siblings(target["id"], totem["id"])["report"]["id"] == made["report"]["id"]
    assert helpers.call_action("package_show", id=target["id"])["metadata_modified"] >= modified


@pytest.mark.parametrize("variant", [{}, {"encoding": "ISO-8859-1", "prefixed": True}],
                         ids=["utf-8", "prefixed-latin-1"])
def test_a_document_exercising_every_rule_is_published_occulted(editor_dataset, variant):
    editor, target = editor_dataset
    original = personal_document(**variant)
    totem = upload(editor, target["id"], original, "annexes.xml")

    run_background_jobs()

    stored = stored_file(helpers.call_action("resource_show", id=totem["id"])).read_bytes()
    assert assert_occulted(original, stored) == 23
    made = siblings(target["id"], totem["id"])
    report_text = stored_file(made["report"]).read_text(encoding="utf-8")
    assert json.loads(report_text)["occultation"]["total"] == 23
    everything_shown = "\n".join([json.dumps(helpers.call_action("package_show", id=target["id"]), ensure_ascii=False),
                                  report_text, stored_file(made["scdl"]).read_text(encoding="utf-8")])
    persons = named_persons(original)
    assert "Pierre Apres-Code" in persons and "Marie Reference" in persons
    for person in persons:
        assert person not in everything_shown, person


def test_an_uploaded_document_the_conversion_refuses_is_occulted_all_the_same(editor_dataset):
    editor, target = editor_dataset
    original = (SHARED_TOTEM / "crach-principal-ca-2021.xml").read_bytes().replace(
        b'<IdEtab V="21560046100010"/>', b'<IdEtab V="123"/>')
    assert b'V="123"' in original
    totem = upload(editor, target["id"], original, "ca-2021.xml")

    run_background_jobs()

    stored = stored_file(helpers.call_action("resource_show", id=totem["id"])).read_bytes()
    assert leftover_personal_values(original) and not leftover_personal_values(stored)
    made = siblings(target["id"], totem["id"])
    assert set(made) == {"report"}
    report = json.loads(stored_file(made["report"]).read_text(encoding="utf-8"))
    assert "SIRET" in report["error"]["message_en"] and report["occultation"]["total"] == 22


def test_occult_all_republishes_what_was_published_before_occultation(cli, sysadmin, organization):
    harvest_corpus(sysadmin, organization)
    # As published before occultation existed: the original documents, reports without counts.
    for filename in SAMPLE_DATASETS:
        resources = published(filename)
        stored_file(resources["totem"]).write_bytes((SHARED_TOTEM / filename).read_bytes())
        report_path = stored_file(resources["report"])
        report = json.loads(report_path.read_text(encoding="utf-8"))
        del report["occultation"]
        report_path.write_text(json.dumps(report), encoding="utf-8")

    result = cli.invoke(ckan_command, ["budgetod", "occult", "--all", "--lang", "en"])

    assert result.exit_code == 0, result.output
    assert ("6 TOTEM document(s) in 5 dataset(s): 5 republished occulted, 1 already occulted, 0 in error; "
            "910 value(s) occulted in all") in result.output
    for filename in SAMPLE_DATASETS:
        resources = published(filename)
        expected = occult_document(SHARED_TOTEM / filename, None)
        assert_occulted((SHARED_TOTEM / filename).read_bytes(), stored_file(resources["totem"]).read_bytes())
        report = json.loads(stored_file(resources["report"]).read_text(encoding="utf-8"))
        assert report["occultation"] == expected.to_dict()
    # The lotissement's annexes name nobody: its document stays the original, and its report now counts
    # (checked above with the others).
    lotissement = published("crach-lotissement-bp-2022.xml")
    assert (stored_file(lotissement["totem"]).read_bytes()
            == (SHARED_TOTEM / "crach-lotissement-bp-2022.xml").read_bytes())

    again = cli.invoke(ckan_command, ["budgetod", "occult", "--all", "--lang", "en"])
    assert again.exit_code == 0, again.output
    assert "0 republished occulted, 6 already occulted, 0 in error" in again.output


def test_occult_all_with_files_given_is_a_usage_error(cli, tmp_path):
    result = cli.invoke(ckan_command, ["budgetod", "occult", "--all", str(tmp_path), "--lang", "en"])
    assert result.exit_code == 2 and "--all goes alone" in result.output


def test_occult_all_leaves_a_stored_report_nested_past_the_stack_as_it_is(tmp_path):
    """An editor may upload any report: one nested deeper than the stack is no report to rewrite,
    not an error that would stop ``occult --all`` on that dataset."""
    from ckanext.budgetod.portal import publish

    stored = tmp_path / "report.json"
    stored.write_text("[" * 200_000 + "]" * 200_000, encoding="utf-8")
    occulted = occult_document(SHARED_TOTEM / "crach-principal-ca-2021.xml", None)

    assert publish._with_occultation(str(stored), occulted, str(tmp_path), "resource") is None
