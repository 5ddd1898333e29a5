"""The udata stand-in itself: it refuses what the swagger does not allow and answers as udata does."""
from __future__ import annotations

import http.client
import json
import socket

import pytest

from tests.support.udata_standin import ALICE, BOB, Fault, Swagger, UdataStandIn


@pytest.fixture
def metz(udata):
    return udata.add_organization("Ville de Metz", members={ALICE: "editor"})


@pytest.fixture
def nancy(udata):
    return udata.add_organization("Ville de Nancy", members={BOB: "admin"})


def call(udata, method: str, path: str, document: object = None, *, api_key: str | None = ALICE,
         body: bytes | None = None, content_type: str = "application/json", timeout: float = 5):
    """One raw request, outside the client: (status, lower-cased headers, decoded JSON or None)."""
    headers = {"X-API-KEY": api_key} if api_key else {}
    if document is not None:
        body = json.dumps(document).encode("utf-8")
    if body is not None:
        headers["Content-Type"] = content_type
    connection = http.client.HTTPConnection("127.0.0.1", udata.port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        content = response.read()
        answer = json.loads(content) if content and "json" in response.getheader("Content-Type", "") else None
        return response.status, {name.lower(): value for name, value in response.getheaders()}, answer
    finally:
        connection.close()


def new_dataset(organization: dict, title: str = "Budget 2024", **fields) -> dict:
    return {"title": title, "description": "Budget.", "organization": organization["id"], **fields}


def multipart(fields: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = "standin-test-boundary"
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n\r\n'.encode()
        + content + b"\r\n" for name, (filename, content) in fields.items()) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


# --- the swagger contract ------------------------------------------------------------------------


@pytest.mark.parametrize("method, path, document, reason", [
    ("GET", "/api/1/nowhere/", None, "no such operation"),
    ("PATCH", "/api/1/datasets/x/", {"title": "t"}, "no such operation"),
    ("POST", "/api/1/datasets/", {"title": "t", "description": "d", "colour": "blue"}, "unknown field 'colour'"),
    ("POST", "/api/1/datasets/", {"title": "t", "description": "d", "resources": [{"title": "r", "bogus": 1}]},
     "body.resources[0]: unknown field 'bogus'"),
    ("POST", "/api/1/datasets/", {"title": "t", "description": "d", "frequency": "sometimes"}, "is not one of"),
    ("POST", "/api/1/datasets/", {"title": "t", "description": "d", "private": "yes"}, "boolean expected"),
    ("POST", "/api/1/datasets/", {"title": "t", "description": "d", "temporal_coverage": {"from": "2024"}},
     "unknown field 'from'"),
])
def test_requests_outside_the_swagger_are_violations(udata, metz, method, path, document, reason):
    assert call(udata, method, path, document)[0] == 400
    violations = udata.take_violations()
    assert len(violations) == 1 and reason in violations[0]
    assert udata.datasets() == []


def test_json_body_must_be_sent_as_json(udata, metz):
    status, _headers, _answer = call(udata, "POST", "/api/1/datasets/", body=b"title=t", content_type="text/plain")
    assert status == 400
    assert "JSON body expected" in udata.take_violations()[0]


def test_upload_fields_must_be_in_the_swagger(udata, metz):
    dataset = udata.add_dataset(metz["id"], "Budget 2024")
    body, content_type = multipart({"document": ("a.csv", b"a\n")})
    status, _headers, _answer = call(udata, "POST", f"/api/1/datasets/{dataset['id']}/upload/", body=body,
                                     content_type=content_type)
    assert status == 400
    assert "form field 'document'" in udata.take_violations()[0]


def test_references_by_id_and_full_documents_sent_back_are_accepted(udata, metz):
    status, _headers, created = call(udata, "POST", "/api/1/datasets/", new_dataset(metz))
    assert status == 201
    status, _headers, _answer = call(udata, "PUT", f"/api/1/datasets/{created['id']}/", created)
    assert status == 200


def test_every_document_served_fits_the_swagger(udata, metz, tmp_path):
    udata.add_zone("fr:commune:57463", "Metz")
    _status, _headers, dataset = call(udata, "POST", "/api/1/datasets/", new_dataset(
        metz, spatial={"zones": ["fr:commune:57463"], "granularity": "fr:commune"},
        temporal_coverage={"start": "2024-01-01", "end": "2024-12-31"}, extras={"k": "v"}))
    body, content_type = multipart({"file": ("bp.csv", b"a,b\n")})
    call(udata, "POST", f"/api/1/datasets/{dataset['id']}/upload/", body=body, content_type=content_type)
    _status, _headers, dataset = call(udata, "GET", f"/api/1/datasets/{dataset['id']}/")
    _status, _headers, organization = call(udata, "GET", f"/api/1/organizations/{metz['id']}/")

    swagger = Swagger.load()
    definitions = swagger.document["definitions"]
    assert swagger.problems(definitions["Dataset"], dataset, "dataset") == []
    assert set(dataset) <= set(definitions["Dataset"]["properties"])
    assert set(dataset["resources"][0]) <= set(definitions["Resource"]["properties"])
    assert set(organization) <= set(definitions["Organization (read)"]["properties"])


# --- udata's answers -----------------------------------------------------------------------------


def test_dataset_life_cycle_status_codes(udata, metz, nancy):
    status, _headers, created = call(udata, "POST", "/api/1/datasets/", new_dataset(metz))
    assert status == 201
    path = f"/api/1/datasets/{created['id']}/"
    assert call(udata, "GET", path)[0] == 200
    assert call(udata, "GET", "/api/1/datasets/650000000000000000009999/")[0] == 404

    status, headers, _answer = call(udata, "PUT", path, created, api_key=None)
    assert status == 401 and headers["www-authenticate"]
    status, headers, answer = call(udata, "GET", path, api_key="unknown-key")
    assert (status, answer["message"]) == (401, "Invalid API Key") and headers["www-authenticate"]
    assert call(udata, "PUT", path, created, api_key=BOB)[0] == 403
    assert call(udata, "DELETE", path, api_key=BOB)[0] == 403

    assert call(udata, "DELETE", path)[0] == 204
    assert call(udata, "GET", path, api_key=None)[0] == 410
    status, _headers, seen_by_editor = call(udata, "GET", path)
    assert status == 200 and seen_by_editor["deleted"]
    without_deleted = {key: value for key, value in created.items() if key != "deleted"}
    assert call(udata, "PUT", path, without_deleted)[0] == 410
    assert call(udata, "DELETE", path)[0] == 410
    # A body that carries "deleted": null, as the document read before the deletion does, undeletes.
    status, _headers, restored = call(udata, "PUT", path, created)
    assert status == 200 and restored["deleted"] is None


def test_validation_errors_come_by_field(udata, metz, nancy):
    status, _headers, answer = call(udata, "POST", "/api/1/datasets/", {
        "title": "", "description": "d", "license": "etalab-2.0", "tags": ["ok-tag", "x"],
        "organization": nancy["id"], "spatial": {"zones": ["fr:commune:00000"]}})
    assert status == 400
    assert set(answer["errors"]) == {"title", "license", "tags", "organization", "spatial"}
    assert answer["errors"]["title"] == ["This field is required."]


def test_put_resets_the_fields_it_leaves_out(udata, metz):
    _status, _headers, created = call(udata, "POST", "/api/1/datasets/", new_dataset(
        metz, tags=["Finances Locales"], extras={"k": "v"}, private=True,
        resources=[{"title": "r", "url": "https://portail.example/r.csv", "filetype": "remote"}]))
    assert created["tags"] == ["finances-locales"]  # tags are slugified

    _status, _headers, updated = call(udata, "PUT", f"/api/1/datasets/{created['id']}/",
                                      {"title": "Budget 2024", "description": "Budget.", "organization": metz["id"]})

    assert (updated["tags"], updated["extras"], updated["private"], updated["resources"]) == ([], {}, False, [])


def test_uploaded_file_facts_owned_by_the_server(udata, metz):
    dataset = udata.add_dataset(metz["id"], "Budget 2024")
    body, content_type = multipart({"file": ("Budget primitif 2024.CSV", b"a,b\n1,2\n")})
    status, _headers, uploaded = call(udata, "POST", f"/api/1/datasets/{dataset['id']}/upload/", body=body,
                                      content_type=content_type)
    assert status == 201 and uploaded["success"]
    assert (uploaded["title"], uploaded["format"], uploaded["filesize"]) == ("Budget_primitif_2024.CSV", "csv", 8)

    resource_path = f"/api/1/datasets/{dataset['id']}/resources/{uploaded['id']}/"
    status, _headers, updated = call(udata, "PUT", resource_path, {"title": "Budget primitif 2024",
                                                                   "url": "https://elsewhere.example/x.csv"})
    assert status == 200
    assert (updated["title"], updated["url"], updated["checksum"]) == (
        "Budget primitif 2024", uploaded["url"], uploaded["checksum"])
    status, _headers, answer = call(udata, "PUT", resource_path, {"title": "t", "filetype": "remote", "url": "u"})
    assert (status, answer["message"]) == (400, "Cannot modify filetype after creation")
    assert call(udata, "DELETE", resource_path)[0] == 204
    assert call(udata, "DELETE", resource_path)[0] == 404


def test_upload_refusals(udata, metz):
    dataset = udata.add_dataset(metz["id"], "Budget 2024")
    body, content_type = multipart({"filename": ("", b"x")})
    status, _headers, answer = call(udata, "POST", f"/api/1/datasets/{dataset['id']}/upload/", body=body,
                                    content_type=content_type)
    assert (status, answer) == (400, {"success": False, "error": "Missing file parameter"})
    body, content_type = multipart({"file": ("page.html", b"<html></html>")})
    assert call(udata, "POST", f"/api/1/datasets/{dataset['id']}/upload/", body=body,
                content_type=content_type)[0] == 415
    status, _headers, answer = call(udata, "POST", f"/api/1/datasets/{dataset['id']}/resources/",
                                    {"title": "t", "url": "https://a.example/f.csv", "filetype": "file"})
    assert (status, answer["message"]) == (400, "This endpoint only supports remote resources")


def test_missing_trailing_slash_and_former_slugs_redirect(udata, metz):
    status, headers, _answer = call(udata, "GET", "/api/1/datasets/budget-2024?lang=fr")
    assert (status, headers["location"]) == (308, "/api/1/datasets/budget-2024/?lang=fr")

    _status, _headers, created = call(udata, "POST", "/api/1/datasets/", new_dataset(metz))
    call(udata, "PUT", f"/api/1/datasets/{created['id']}/", {**created, "title": "Budget primitif 2024"})
    status, headers, _answer = call(udata, "GET", f"/api/1/datasets/{created['slug']}/")
    assert (status, headers["location"]) == (308, "/api/1/datasets/budget-primitif-2024/")


def test_pages_and_organisation_filters(udata, metz, nancy):
    for year in range(2019, 2024):
        udata.add_dataset(metz["id"], f"Budget {year}")
    udata.add_dataset(nancy["id"], "Budget de Nancy")
    udata.add_dataset(metz["id"], "Budget privé", private=True)

    status, _headers, first = call(udata, "GET", f"/api/1/organizations/{metz['slug']}/datasets/?page_size=2",
                                   api_key=None)
    assert status == 200
    assert (first["page"], first["page_size"], first["total"], first["previous_page"]) == (1, 2, 5, None)
    assert first["next_page"].startswith(f"http://127.0.0.1:{udata.port}/api/1/organizations/")
    _status, _headers, last = call(udata, "GET", first["next_page"].replace("page=2", "page=3"), api_key=None)
    assert (len(last["data"]), last["next_page"]) == (1, None) and last["previous_page"]
    assert call(udata, "GET", f"/api/1/organizations/{metz['id']}/datasets/?page=4&page_size=2")[0] == 404
    _status, _headers, as_member = call(udata, "GET", f"/api/1/organizations/{metz['id']}/datasets/")
    assert as_member["total"] == 6

    _status, _headers, filtered = call(udata, "GET", f"/api/1/datasets/?organization={nancy['id']}")
    assert [dataset["title"] for dataset in filtered["data"]] == ["Budget de Nancy"]
    status, _headers, answer = call(udata, "GET", f"/api/1/datasets/?organization={nancy['slug']}")
    assert (status, answer["message"]) == (400, "Organization arg must be an identifier")


# --- faults --------------------------------------------------------------------------------------


def test_scripted_faults_taken_in_order_by_the_requests_they_match(udata, metz):
    udata.script(Fault("error", status=502, method="PUT"), Fault("throttle", retry_after="7"))
    status, headers, _answer = call(udata, "GET", f"/api/1/organizations/{metz['id']}/")
    assert (status, headers["retry-after"]) == (429, "7")
    assert call(udata, "GET", f"/api/1/organizations/{metz['id']}/")[0] == 200
    _status, _headers, created = call(udata, "POST", "/api/1/datasets/", new_dataset(metz))
    assert call(udata, "PUT", f"/api/1/datasets/{created['id']}/", created)[0] == 502


def test_fault_after_write_applies_it_then_loses_the_answer(udata, metz):
    udata.script(Fault("error", after_write=True))
    assert call(udata, "POST", "/api/1/datasets/", new_dataset(metz))[0] == 500
    assert [dataset["title"] for dataset in udata.datasets()] == ["Budget 2024"]
    assert (udata.write_calls, udata.applied_writes) == (1, 1)

    udata.script(Fault("error"))
    assert call(udata, "POST", "/api/1/datasets/", new_dataset(metz))[0] == 500
    assert len(udata.datasets()) == 1
    assert (udata.write_calls, udata.applied_writes) == (2, 1)


def test_reset_and_stall_send_no_answer(udata, metz):
    udata.script(Fault("reset"), Fault("stall"))
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
        call(udata, "GET", f"/api/1/organizations/{metz['id']}/")
    with pytest.raises(socket.timeout):
        call(udata, "GET", f"/api/1/organizations/{metz['id']}/", timeout=0.2)
    assert [(request.fault, request.status) for request in udata.requests] == [("reset", None), ("stall", None)]


def test_random_faults_repeat_for_a_seed():
    def faults_seen(seed: int) -> list:
        with UdataStandIn() as standin:
            organization = standin.add_organization("Ville de Metz")
            standin.fail_randomly(0.5, seed=seed, kinds=("error", "throttle"))
            for _ in range(12):
                call(standin, "GET", f"/api/1/organizations/{organization['id']}/")
            return [request.fault for request in standin.requests]

    first = faults_seen(5)
    assert first == faults_seen(5)
    assert {"error", "throttle", None} == set(first)
