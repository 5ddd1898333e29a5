"""The udata client against the udata stand-in: CRUD, pages, redirects, retries, key safety."""
from __future__ import annotations

import hashlib
import logging
import random
import socket
import threading
import time
from email.utils import formatdate

import pytest

from ckanext.budgetod.core.net.udata import (
    AmbiguousWriteError,
    DatasetState,
    UdataClient,
    UdataError,
)
from tests.support.udata_standin import ALICE, BOB, Fault, UdataStandIn


@pytest.fixture
def metz(udata):
    return udata.add_organization("Ville de Metz", members={ALICE: "editor"}, business_number_id="21570463200019")


@pytest.fixture
def nancy(udata):
    return udata.add_organization("Ville de Nancy", members={BOB: "admin"})


class SleepRecorder(list):
    """Stands for time.sleep: remembers the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps():
    return SleepRecorder()


@pytest.fixture
def client_for(udata, sleeps):
    def make(api_key: str | None = ALICE, **options) -> UdataClient:
        options = {"allow_private": True, "sleep": sleeps, "rng": random.Random(7), "timeout": 5, **options}
        return UdataClient(udata.base_url, api_key, **options)
    return make


@pytest.fixture
def client(client_for):
    return client_for()


def new_dataset(organization: dict, title: str = "Budget primitif 2024 de Metz", **fields) -> dict:
    return {"title": title, "description": "Budget primitif au format SCDL.", "organization": organization["id"],
            "license": "lov2", "frequency": "annual", "tags": ["budget", "finances-locales"],
            "extras": {"budgetod:document": "bp-2024"}, **fields}


def api_requests(udata, method: str | None = None) -> list:
    return [request for request in udata.requests if method is None or request.method == method]


# --- round trips ---------------------------------------------------------------------------------


def test_dataset_created_read_by_id_and_slug_then_updated_by_read_merge_write(udata, client, metz):
    created = client.create_dataset(new_dataset(metz))
    assert created["organization"]["id"] == metz["id"]
    assert created["extras"] == {"budgetod:document": "bp-2024"}
    assert client.get_dataset(created["slug"]) == client.get_dataset(created["id"])

    merged = {**client.get_dataset(created["id"]), "description": "Budget primitif voté."}
    updated = client.update_dataset(created["id"], merged)

    assert updated["description"] == "Budget primitif voté."
    assert updated["tags"] == ["budget", "finances-locales"]  # kept because sent back
    assert updated["extras"] == {"budgetod:document": "bp-2024"}
    assert client.writes == udata.write_calls == udata.applied_writes == 2


def test_reads_count_no_writes(udata, client, metz):
    udata.add_dataset(metz["id"], "Budget 2023")
    list(client.iter_organization_datasets(metz["id"]))
    client.get_organization(metz["slug"])
    assert client.writes == 0 == udata.write_calls


def test_resources_uploaded_replaced_linked_updated_and_deleted(udata, client, metz, tmp_path):
    dataset = client.create_dataset(new_dataset(metz))
    csv_file = tmp_path / "budget.csv"
    csv_file.write_bytes(b"BGT_NATDEC,BGT_ANNEE\r\n01,2024\r\n")

    uploaded = client.upload_resource(dataset["id"], csv_file, "BP 2024 Metz.csv")

    assert uploaded["filetype"] == "file"
    assert uploaded["checksum"] == {"type": "sha1", "value": hashlib.sha1(csv_file.read_bytes()).hexdigest()}
    assert uploaded["filesize"] == csv_file.stat().st_size
    assert (uploaded["format"], uploaded["mime"]) == ("csv", "text/csv")
    assert udata.file_content(uploaded["url"]) == csv_file.read_bytes()

    csv_file.write_bytes(b"BGT_NATDEC,BGT_ANNEE\r\n09,2024\r\n")
    replaced = client.upload_resource_file(dataset["id"], uploaded["id"], csv_file, "BP 2024 Metz.csv")
    assert replaced["id"] == uploaded["id"]
    assert replaced["checksum"]["value"] == hashlib.sha1(csv_file.read_bytes()).hexdigest()
    assert udata.file_content(replaced["url"]) == csv_file.read_bytes()

    linked = client.create_resource(dataset["id"], {
        "title": "Document TOTEM", "url": "https://portail.example/bp-2024.xml", "format": "xml", "type": "main",
        "schema": {"name": "scdl/budget", "version": "0.8.3"}, "extras": {"budgetod:role": "source"}})
    assert linked["filetype"] == "remote"
    assert linked["schema"] == {"name": "scdl/budget", "version": "0.8.3"}
    assert linked["extras"] == {"budgetod:role": "source"}

    renamed = client.update_resource(dataset["id"], linked["id"], {**linked, "title": "Document TOTEM (XML)"})
    assert renamed["title"] == "Document TOTEM (XML)"
    assert renamed["schema"] == linked["schema"]

    client.delete_resource(dataset["id"], linked["id"])
    client.delete_resource(dataset["id"], linked["id"])  # already gone: nothing to do
    assert [resource["id"] for resource in client.get_dataset(dataset["id"])["resources"]] == [uploaded["id"]]


def test_deleted_dataset_is_none_and_lookup_tells_why(udata, client, client_for, metz):
    dataset = client.create_dataset(new_dataset(metz))
    client.delete_dataset(dataset["id"])
    client.delete_dataset(dataset["id"])  # already deleted: done

    assert client.get_dataset(dataset["id"]) is None
    as_editor = client.lookup_dataset(dataset["id"])  # editors still read it, with "deleted" set
    assert as_editor.state is DatasetState.DELETED and as_editor.dataset["id"] == dataset["id"]
    anonymous = client_for(None).lookup_dataset(dataset["id"])  # others get a 410
    assert (anonymous.state, anonymous.dataset) == (DatasetState.DELETED, None)
    assert client.lookup_dataset("650000000000000000009999").state is DatasetState.MISSING
    assert client.get_dataset("650000000000000000009999") is None
    assert [request.status for request in api_requests(udata, "DELETE")] == [204, 410]


def test_update_never_undeletes_but_restore_does(udata, client, metz):
    dataset = client.create_dataset(new_dataset(metz))  # carries "deleted": null
    client.delete_dataset(dataset["id"])

    with pytest.raises(UdataError) as raised:
        client.update_dataset(dataset["id"], dataset)
    assert (raised.value.status, raised.value.retryable) == (410, False)
    assert udata.dataset(dataset["id"])["deleted"]

    restored = client.restore_dataset(dataset["id"], dataset)
    assert restored["deleted"] is None
    assert client.lookup_dataset(dataset["id"]).state is DatasetState.PRESENT


def test_organization_and_spatial_zone_lookups(udata, client, metz):
    udata.add_zone("fr:commune:57463", "Metz")
    udata.add_zone("fr:departement:57", "Moselle")

    assert client.get_organization(metz["slug"])["business_number_id"] == "21570463200019"
    assert client.get_organization("nowhere") is None
    assert client.spatial_zone("57463", "commune")["id"] == "fr:commune:57463"
    assert client.spatial_zone("57", "fr:departement")["properties"]["name"] == "Moselle"
    assert client.spatial_zone("99999", "commune") is None


@pytest.mark.parametrize("status", [404, 501, 503])
def test_a_broken_spatial_api_answers_every_zone_with_its_status(udata, client, metz, status):
    udata.add_zone("fr:commune:57463", "Metz")
    udata.fail_spatial_zones(status)
    if status == 404:
        assert client.spatial_zone("57463", "commune") is None
    else:
        with pytest.raises(UdataError) as caught:
            client.spatial_zone("57463", "commune")
        assert caught.value.status == status
    udata.fail_spatial_zones(None)
    assert client.spatial_zone("57463", "commune")["id"] == "fr:commune:57463"


def test_organization_datasets_walked_over_every_page(udata, client, client_for, metz, nancy):
    expected = [udata.add_dataset(metz["id"], f"Budget {year}", private=year == 2020)["id"]
                for year in range(2017, 2024)]
    udata.add_dataset(metz["id"], "Budget supprimé", deleted=True)
    udata.add_dataset(nancy["id"], "Budget de Nancy")

    walked = [dataset["id"] for dataset in client.iter_organization_datasets(metz["slug"], page_size=3)]

    assert walked == expected  # oldest first, the private one included for a member
    pages = [request.query["page"] for request in api_requests(udata, "GET")]
    assert pages == ["1", "2", "3"]  # and no request past the end
    anonymous = [dataset["title"] for dataset in client_for(None).iter_organization_datasets(metz["id"], 3)]
    assert "Budget 2020" not in anonymous and len(anonymous) == 6


# --- redirects -----------------------------------------------------------------------------------


def test_trailing_slash_always_sent(udata, client, metz):
    dataset = udata.add_dataset(metz["id"], "Budget 2024")
    client.request("GET", f"/datasets/{dataset['id']}")
    assert [(request.path, request.status) for request in udata.requests] == [
        (f"/api/1/datasets/{dataset['id']}/", 200)]


def test_permanent_redirect_followed_with_method_body_and_key(udata, client, metz):
    created = client.create_dataset(new_dataset(metz, title="Budget 2024"))
    renamed = client.update_dataset(created["id"], {**created, "title": "Budget primitif 2024"})
    assert renamed["slug"] != created["slug"]

    updated = client.update_dataset(created["slug"], {**renamed, "description": "Voté le 12 avril."})

    assert updated["description"] == "Voté le 12 avril."
    last_two = udata.requests[-2:]
    assert [(request.method, request.status) for request in last_two] == [("PUT", 308), ("PUT", 200)]
    assert last_two[1].path == f"/api/1/datasets/{renamed['slug']}/"
    assert last_two[0].body == last_two[1].body
    assert {request.api_key for request in last_two} == {ALICE}


def test_temporary_redirect_keeps_delete(udata, client, metz):
    dataset = udata.add_dataset(metz["id"], "Budget 2024")
    udata.redirect("/api/1/datasets/ancien/", f"/api/1/datasets/{dataset['id']}/", status=307)
    client.delete_dataset("ancien")
    assert [(request.method, request.status) for request in udata.requests] == [("DELETE", 307), ("DELETE", 204)]
    assert udata.dataset(dataset["id"])["deleted"]


def test_key_not_sent_after_a_redirect_to_another_host(udata, client, metz):
    with UdataStandIn() as elsewhere:
        other = elsewhere.add_dataset(None, "Budget ailleurs")
        # 127.0.0.1 and localhost are different hosts for the client, as are two ports.
        udata.redirect("/api/1/datasets/moved/", f"{elsewhere.origin('localhost')}/api/1/datasets/{other['id']}/")

        assert client.get_dataset("moved")["title"] == "Budget ailleurs"

        assert [request.api_key for request in udata.requests] == [ALICE]
        assert [request.api_key for request in elsewhere.requests] == [None]
        assert elsewhere.violations == []


def test_same_server_under_another_host_name_gets_no_key(udata, client, metz):
    dataset = udata.add_dataset(metz["id"], "Budget 2024")
    udata.redirect("/api/1/datasets/moved/", f"{udata.origin('localhost')}/api/1/datasets/{dataset['id']}/")
    assert client.get_dataset("moved")["id"] == dataset["id"]
    assert [request.api_key for request in udata.requests] == [ALICE, None]


def test_write_not_redirected_to_another_host(udata, client, metz):
    with UdataStandIn() as elsewhere:
        udata.redirect("/api/1/datasets/moved/", f"{elsewhere.origin('localhost')}/api/1/datasets/moved/")
        with pytest.raises(UdataError) as raised:
            client.update_dataset("moved", new_dataset(metz))
        assert not raised.value.retryable
        assert "another host" in raised.value.describe("en")
        assert elsewhere.requests == []


# --- retries -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["error", "throttle", "stall", "reset"])
def test_reads_retried_after_each_fault_kind(udata, client_for, sleeps, metz, kind):
    dataset = udata.add_dataset(metz["id"], "Budget 2024")
    udata.script(Fault(kind, retry_after="3"))
    client = client_for(timeout=0.3)  # the stall outlasts it

    assert client.get_dataset(dataset["id"])["id"] == dataset["id"]

    assert [request.fault for request in udata.requests] == [kind, None]
    if kind == "throttle":
        assert sleeps == [3.0]
    else:
        assert len(sleeps) == 1 and 0.25 <= sleeps[0] <= 0.5  # first backoff: half to all of backoff_base


def test_retry_after_as_an_http_date(udata, client, sleeps, metz):
    dataset = udata.add_dataset(metz["id"], "Budget 2024")
    udata.script(Fault("throttle", retry_after=formatdate(time.time() + 20, usegmt=True)))
    client.get_dataset(dataset["id"])
    assert len(sleeps) == 1 and 18 <= sleeps[0] <= 20


def test_retry_after_beyond_backoff_max_is_left_to_the_caller(udata, client, sleeps, metz):
    dataset = udata.add_dataset(metz["id"], "Budget 2024")
    udata.script(Fault("throttle", retry_after="120"))
    with pytest.raises(UdataError) as raised:
        client.get_dataset(dataset["id"])
    assert (raised.value.status, raised.value.retryable, raised.value.retry_after) == (429, True, 120.0)
    assert sleeps == [] and len(udata.requests) == 1


def test_backoff_exponential_bounded_jittered_and_attempts_capped(udata, client_for, sleeps, metz):
    dataset = udata.add_dataset(metz["id"], "Budget 2024")
    udata.script(*[Fault("error", status=503)] * 6)
    client = client_for(max_attempts=6, backoff_base=1, backoff_max=4, rng=random.Random(1))

    with pytest.raises(UdataError) as raised:
        client.get_dataset(dataset["id"])

    assert (raised.value.status, raised.value.retryable) == (503, True)
    assert len(udata.requests) == 6
    ceilings = [1, 2, 4, 4, 4]
    assert len(sleeps) == 5
    assert all(ceiling / 2 <= wait <= ceiling for wait, ceiling in zip(sleeps, ceilings, strict=True))
    assert len({wait / ceiling for wait, ceiling in zip(sleeps, ceilings, strict=True)}) == 5  # jitter: no two alike

    other_waits = SleepRecorder()
    udata.script(*[Fault("error")] * 2)
    with pytest.raises(UdataError):
        client_for(max_attempts=2, backoff_base=1, rng=random.Random(2), sleep=other_waits).get_dataset(
            dataset["id"])
    assert other_waits[0] != sleeps[0]  # another generator, another wait


def test_update_retried_after_the_answer_was_lost(udata, client, metz):
    dataset = client.create_dataset(new_dataset(metz))
    udata.script(Fault("reset", after_write=True, method="PUT"))

    updated = client.update_dataset(dataset["id"], {**dataset, "description": "Voté."})

    assert updated["description"] == "Voté."
    assert [request.fault for request in api_requests(udata, "PUT")] == ["reset", None]
    assert udata.applied_writes == 3  # create, then the same update twice


def test_delete_retried_after_an_ambiguous_error_ends_deleted(udata, client, metz):
    dataset = udata.add_dataset(metz["id"], "Budget 2024")
    udata.script(Fault("error", after_write=True, method="DELETE"))
    client.delete_dataset(dataset["id"])
    assert [request.status for request in api_requests(udata, "DELETE")] == [500, 410]
    assert udata.dataset(dataset["id"])["deleted"]


def test_file_replacement_retried_after_an_ambiguous_error(udata, client, metz, tmp_path):
    dataset = client.create_dataset(new_dataset(metz))
    document = tmp_path / "bp.csv"
    document.write_bytes(b"a\n")
    resource = client.upload_resource(dataset["id"], document, "bp.csv")
    document.write_bytes(b"b\n")
    udata.script(Fault("error", after_write=True, path=r"/datasets/[^/]+/resources/[^/]+/upload/"))

    replaced = client.upload_resource_file(dataset["id"], resource["id"], document, "bp.csv")

    assert udata.file_content(replaced["url"]) == b"b\n"
    assert [request.status for request in api_requests(udata, "POST")][-2:] == [500, 200]


@pytest.mark.parametrize("kind", ["error", "stall", "reset"])
def test_create_not_retried_when_it_may_have_been_applied(udata, client_for, sleeps, metz, kind):
    client = client_for(timeout=0.3)
    udata.script(Fault(kind, after_write=True, method="POST"))

    with pytest.raises(AmbiguousWriteError) as raised:
        client.create_dataset(new_dataset(metz))

    assert raised.value.ambiguous and raised.value.retryable
    assert len(api_requests(udata, "POST")) == 1 and sleeps == []
    # The caller finds what the server did through the extras it set, instead of creating a duplicate.
    found = [dataset for dataset in client.iter_organization_datasets(metz["id"])
             if dataset["extras"].get("budgetod:document") == "bp-2024"]
    assert len(found) == 1 == len(udata.datasets())


def test_create_retried_when_the_server_refused_to_act(udata, client, sleeps, metz):
    udata.script(Fault("throttle", retry_after="2", method="POST"))
    created = client.create_dataset(new_dataset(metz))
    assert [request.status for request in api_requests(udata, "POST")] == [429, 201]
    assert sleeps == [2.0]
    assert [dataset["id"] for dataset in udata.datasets()] == [created["id"]]


def test_seeded_random_faults_absorbed_by_retries(udata, client_for, metz):
    datasets = [udata.add_dataset(metz["id"], f"Budget {year}") for year in range(2015, 2025)]
    udata.fail_randomly(0.4, seed=11, kinds=("error", "throttle", "reset"))
    client = client_for(max_attempts=10)

    assert [client.get_dataset(dataset["id"])["id"] for dataset in datasets] == [d["id"] for d in datasets]
    assert any(request.fault for request in udata.requests)


# --- refusals ------------------------------------------------------------------------------------


def test_validation_error_not_retried_and_readable(udata, client, sleeps, metz):
    with pytest.raises(UdataError) as raised:
        client.create_dataset({**new_dataset(metz), "description": ""})
    error = raised.value
    assert (error.status, error.retryable, error.ambiguous) == (400, False, False)
    assert error.errors == {"description": ["This field is required."]}
    assert "données refusées (HTTP 400) : description: This field is required." in error.describe("fr")
    assert "data refused (HTTP 400): description: This field is required." in error.describe("en")
    assert len(udata.requests) == 1 and sleeps == []


def test_nested_field_errors_named_by_their_path(udata, client, metz):
    dataset = client.create_dataset(new_dataset(metz))
    broken = {**dataset, "resources": [{"title": "", "url": "https://portail.example/a.csv", "filetype": "remote"}]}
    with pytest.raises(UdataError) as raised:
        client.update_dataset(dataset["id"], broken)
    assert "resources.0.title: This field is required." in raised.value.describe("en")


@pytest.mark.parametrize("api_key, status", [("wrong-key", 401), (None, 401), (BOB, 403)])
def test_refused_writes_not_retried(udata, client_for, sleeps, metz, nancy, api_key, status):
    dataset = udata.add_dataset(metz["id"], "Budget 2024")
    with pytest.raises(UdataError) as raised:
        client_for(api_key).update_dataset(dataset["id"], new_dataset(metz))
    assert (raised.value.status, raised.value.retryable) == (status, False)
    assert len(udata.requests) == 1 and sleeps == []


def test_private_addresses_refused_unless_allowed(udata, metz):
    client = UdataClient(udata.base_url, ALICE)
    with pytest.raises(UdataError) as raised:
        client.get_organization(metz["id"])
    assert not raised.value.retryable
    assert "loopback" in raised.value.describe("en")
    assert udata.requests == []


def test_response_size_capped(udata, client_for, metz):
    dataset = udata.add_dataset(metz["id"], "Budget 2024")
    with pytest.raises(UdataError) as raised:
        client_for(max_bytes=300).get_dataset(dataset["id"])
    assert not raised.value.retryable
    assert "300-byte limit" in raised.value.describe("en")


def test_api_key_never_in_logs_errors_or_repr(udata, client_for, metz, caplog):
    secret = "s3cr3t-key-do-not-leak"
    udata.add_organization("Ville de Thionville", members={secret: "editor"})
    dataset = udata.add_dataset(metz["id"], "Budget 2024")
    udata.script(Fault("error"), Fault("reset"))
    client = client_for(secret)
    caplog.set_level(logging.DEBUG)

    client.get_dataset(dataset["id"])
    with pytest.raises(UdataError) as raised:
        client.update_dataset(dataset["id"], new_dataset(metz))  # 403: not an editor of Metz

    assert len(caplog.records) == 2
    texts = [caplog.text, str(raised.value), raised.value.describe("en"), repr(client)]
    assert not any(secret in text for text in texts)


def test_redirect_without_location_is_an_error_not_a_success(udata, client, metz):
    udata.redirect("/api/1/datasets/moved/", "", status=308)  # a 308 with an empty Location
    with pytest.raises(UdataError) as raised:
        client.get_dataset("moved")
    assert (raised.value.status, raised.value.retryable) == (308, False)


def test_headers_sent_byte_by_byte_are_cut_at_the_total_time_budget(sleeps):
    """Each byte arrives well within the read timeout: only the exchange's budget stops the wait."""
    listener = socket.create_server(("127.0.0.1", 0))
    released = threading.Event()

    def dribble():
        connection, _address = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            ends = time.monotonic() + 10
            while not released.wait(0.02) and time.monotonic() < ends:
                try:
                    connection.sendall(b"x")
                except OSError:  # the client gave up: that is the point
                    return

    server = threading.Thread(target=dribble, daemon=True)
    server.start()
    client = UdataClient(f"http://127.0.0.1:{listener.getsockname()[1]}/api/1", None, allow_private=True,
                         timeout=5, total_timeout=0.3, max_attempts=1, sleep=sleeps)
    started = time.monotonic()
    try:
        with pytest.raises(UdataError) as raised:
            client.get_dataset("budget")
    finally:
        released.set()
        server.join()
        listener.close()
    assert time.monotonic() - started < 3
    assert raised.value.retryable
