"""No byte of a TOTEM document added by hand is served before its occulted version exists: uploaded
or linked, it is pending (403 on the download route, for everyone) until its job stored the
occulted document; unreadable, it stays unreachable and its editors see why (issue 20, items 2 and 9)."""
from __future__ import annotations

import io

import ckan.lib.jobs as jobs
import pytest
from ckan.cli.cli import ckan as ckan_command
from ckan.tests import factories, helpers
from ckan.tests.pytest_ckan.fixtures import FakeFileStorage
from rq.timeouts import JobTimeoutException

from ckanext.budgetod.core.pipeline import Pipeline
from tests.support.ckan_harvest import stored_file
from tests.support.ckan_uploads import run_background_jobs, siblings, upload
from tests.support.occultation_oracle import assert_occulted, named_persons
from tests.support.servers import LocalServer
from tests.support.shared import SHARED_TOTEM

pytestmark = pytest.mark.usefixtures("harvest_db", "with_test_worker", "clean_queues")

MOHON = (SHARED_TOTEM / "mohon-cfu-2023.xml").read_bytes()  # 112 personal values, 1.75 MB
MOHON_OCCULTED_VALUES = 112


def utf16(document: bytes) -> bytes:
    return document.decode("iso-8859-1").replace("ISO-8859-1", "UTF-16", 1).encode("utf-16")


# Each unreadable document names persons, and what the editors read of the cause.
UNREADABLE = {
    "truncated": (MOHON[:len(MOHON) // 2], "malformed or truncated XML"),
    "doctype": (MOHON.replace(b"?>", b"?><!DOCTYPE CompteFinancierUnique>", 1), "DOCTYPE declaration refused"),
    "utf-16": (utf16(MOHON), 'unsupported encoding "UTF-16/UTF-32"'),
    "over-max-document-size": (MOHON, "file too large: 1754474 bytes, the limit is 1000000"),
}


@pytest.fixture
def people(organization):
    """An editor of the organisation, a sysadmin and an anonymous visitor, as request headers."""
    editor = factories.UserWithToken()
    helpers.call_action("organization_member_create", id=organization["id"], username=editor["name"],
                        role="editor")
    sysadmin = factories.SysadminWithToken()
    return {"editor": editor, "sysadmin": sysadmin,
            "headers": {"anonymous": {}, "editor": {"Authorization": editor["token"]},
                        "sysadmin": {"Authorization": sysadmin["token"]}}}


@pytest.fixture
def target(organization):
    return factories.Dataset(owner_org=organization["id"], name="budgets-deposes")


def download_paths(dataset: dict, resource: dict) -> list[str]:
    base = f"/dataset/{dataset['name']}/resource/{resource['id']}/download"
    return [base, f"{base}/budget.xml", f"/dataset/{dataset['id']}/resource/{resource['id']}/download"]


def assert_nobody_downloads(app, people: dict, dataset: dict, resource: dict) -> None:
    for who, headers in people["headers"].items():
        for path in download_paths(dataset, resource):
            response = app.get(path, headers=headers, status=403, follow_redirects=False)
            assert "personal data are occulted" in app.get("/en" + path, headers=headers, status=403).body, who
            for person in named_persons(MOHON):
                assert person not in response.body


def show(resource: dict) -> dict:
    return helpers.call_action("resource_show", id=resource["id"])


@pytest.mark.parametrize("case", UNREADABLE)
def test_an_unreadable_upload_is_never_served_and_its_editors_see_why(app, people, target, ckan_config,
                                                                    monkeypatch, case):
    if case == "over-max-document-size":
        monkeypatch.setitem(ckan_config, "ckanext.budgetod.max_document_size", 1_000_000)
    content, reason = UNREADABLE[case]
    totem = upload(people["editor"], target["id"], content, "budget.xml")

    assert totem["budgetod_occultation"] == "pending"
    assert_nobody_downloads(app, people, target, totem)
    run_background_jobs()

    totem = show(totem)
    assert totem["budgetod_occultation"] == "failed" and reason in totem["budgetod_occultation_error_en"]
    assert totem["budgetod_occultation_error_en"].startswith("budget.xml: ")
    assert_nobody_downloads(app, people, target, totem)
    page = f"/en/dataset/{target['name']}/resource/{totem['id']}"
    editor_page = app.get(page, headers=people["headers"]["editor"]).body
    assert "could not be read" in editor_page and reason in editor_page.replace("&#34;", '"')
    assert "Upload a corrected document" in editor_page
    french_page = app.get(page[3:], headers=people["headers"]["editor"]).body
    assert "n'a pas pu être lu" in french_page.replace("&#39;", "'")
    assert "Upload a corrected document" not in app.get(page).body  # what to do is for its editors


def test_an_upload_naming_persons_is_served_only_occulted(app, people, target):
    totem = upload(people["editor"], target["id"], MOHON, "cfu-2023.xml")
    assert_nobody_downloads(app, people, target, totem)

    run_background_jobs()

    totem = show(totem)
    assert totem["budgetod_occultation"] == "done"
    for headers in people["headers"].values():
        for path in download_paths(target, totem):
            served = app.get(path, headers=headers).get_data()
            assert served == stored_file(totem).read_bytes()
            assert assert_occulted(MOHON, served) == MOHON_OCCULTED_VALUES
    assert "being occulted" not in app.get(f"/en/dataset/{target['name']}/resource/{totem['id']}").body


def test_a_job_killed_at_its_timeout_leaves_the_upload_pending_and_unreachable(app, people, target, monkeypatch):
    def killed(*args, **kwargs):
        raise JobTimeoutException("Task exceeded maximum timeout value (180 seconds)")

    monkeypatch.setattr(Pipeline, "occult", killed)
    totem = upload(people["editor"], target["id"], MOHON, "cfu-2023.xml")

    run_background_jobs()

    assert show(totem)["budgetod_occultation"] == "pending"
    assert_nobody_downloads(app, people, target, totem)
    editor_page = app.get(f"/en/dataset/{target['name']}/resource/{totem['id']}",
                          headers=people["headers"]["editor"]).body
    assert "are being occulted" in editor_page and "ckan.jobs.timeout" in editor_page


def test_an_xml_file_of_another_kind_is_served_once_the_job_found_no_totem_document(app, people, target):
    feed = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Budgets</title></channel></rss>'
    other = upload(people["editor"], target["id"], feed, "feed.xml")
    assert_nobody_downloads(app, people, target, other)

    run_background_jobs()

    assert show(other)["budgetod_occultation"] == "not_totem"
    assert app.get(download_paths(target, other)[0]).get_data() == feed
    assert siblings(target["id"], other["id"]) == {}


def test_the_occultation_state_is_the_portals_not_the_editors(app, people, target):
    editor = people["editor"]["name"]
    totem = helpers.call_action("resource_create", context={"user": editor}, package_id=target["id"],
                                name="cfu", url="cfu-2023.xml", format="", budgetod_occultation="done",
                                budgetod_source_url="javascript:alert(1)",
                                upload=FakeFileStorage(io.BytesIO(MOHON), "cfu-2023.xml"))
    assert totem["budgetod_occultation"] == "pending" and "budgetod_source_url" not in totem
    helpers.call_action("resource_patch", context={"user": editor}, id=totem["id"],
                        budgetod_occultation="not_totem", format="CSV", description="relabelled")
    assert show(totem)["budgetod_occultation"] == "pending"
    assert_nobody_downloads(app, people, target, totem)
    helpers.call_action("resource_patch", context={"user": editor}, id=totem["id"], format="XML")
    run_background_jobs()
    assert show(totem)["budgetod_occultation"] == "done"

    # Metadata edited: still done, nothing queued. A new file: pending again until its own job ran.
    helpers.call_action("resource_update", context={"user": editor}, id=totem["id"], name="CFU 2023",
                        url=show(totem)["url"], url_type="upload", format="XML")
    assert show(totem)["budgetod_occultation"] == "done" and jobs.get_queue().count == 0
    upload(people["editor"], target["id"], MOHON, "cfu-2023.xml", resource_id=totem["id"])
    assert show(totem)["budgetod_occultation"] == "pending"
    assert_nobody_downloads(app, people, target, totem)


def test_a_linked_document_becomes_an_upload_of_its_occulted_copy_keeping_its_url(app, people, target):
    with LocalServer(files={"/docs/cfu-2023.xml": MOHON}) as server:
        original_url = server.url("/docs/cfu-2023.xml")
        linked = helpers.call_action("resource_create", context={"user": people["editor"]["name"]},
                                     package_id=target["id"], name="CFU 2023", url=original_url, format="XML")
        assert linked["budgetod_occultation"] == "pending"
        assert_nobody_downloads(app, people, target, linked)  # not even a redirection to the original

        run_background_jobs()

    linked = show(linked)
    assert linked["url_type"] == "upload" and linked["budgetod_occultation"] == "done"
    assert linked["budgetod_source_url"] == original_url and linked["url"].endswith("/download/cfu-2023.xml")
    stored = stored_file(linked).read_bytes()
    assert assert_occulted(MOHON, stored) == MOHON_OCCULTED_VALUES
    assert app.get(linked["url"]).get_data() == stored
    page = app.get(f"/en/dataset/{target['name']}/resource/{linked['id']}").body
    assert f'Occulted copy of the document published at\n      <a href="{original_url}"' in page
    made = siblings(target["id"], linked["id"])
    assert set(made) == {"scdl", "report"} and made["scdl"]["budgetod_valid"] == "true"


def test_a_linked_document_that_cannot_be_fetched_stays_unreachable_with_the_reason(app, people, target):
    with LocalServer(files={}) as server:
        missing = server.url("/docs/absent.xml")
        linked = helpers.call_action("resource_create", context={"user": people["editor"]["name"]},
                                     package_id=target["id"], name="CA", url=missing, format="XML")
        run_background_jobs()

    linked = show(linked)
    assert linked["budgetod_occultation"] == "failed" and linked["url"] == missing
    assert "404" in linked["budgetod_occultation_error_en"]
    assert_nobody_downloads(app, people, target, linked)


def test_occult_all_releases_the_documents_added_before_the_portal_recorded_their_state(app, cli, people,
                                                                                          target):
    with LocalServer(files={"/docs/cfu-2023.xml": MOHON}) as server:
        uploaded = upload(people["editor"], target["id"], MOHON, "cfu-2023.xml")
        original_url = server.url("/docs/cfu-2023.xml")
        linked = helpers.call_action("resource_create", context={"user": people["editor"]["name"]},
                                     package_id=target["id"], name="CFU 2023", url=original_url, format="XML")
        jobs.get_queue().empty()
        # As stored before the state existed (package_update runs no resource hook): not released.
        stored_before = helpers.call_action("package_show", id=target["id"])
        for resource in stored_before["resources"]:
            del resource["budgetod_occultation"]
        helpers.call_action("package_update", context={"user": people["sysadmin"]["name"]}, **stored_before)
        assert_nobody_downloads(app, people, target, uploaded)

        result = cli.invoke(ckan_command, ["budgetod", "occult", "--all", "--lang", "en"])
        assert result.exit_code == 0, result.output
        run_background_jobs()

    uploaded, linked = show(uploaded), show(linked)
    assert uploaded["budgetod_occultation"] == linked["budgetod_occultation"] == "done"
    assert linked["url_type"] == "upload" and linked["budgetod_source_url"] == original_url
    for resource in (uploaded, linked):
        assert assert_occulted(MOHON, stored_file(resource).read_bytes()) == MOHON_OCCULTED_VALUES
        assert app.get(download_paths(target, resource)[0]).get_data() == stored_file(resource).read_bytes()
