"""Tests for the harvest source kinds: configuration, listing (gather) and retrieval (fetch).

Every request goes to local servers on 127.0.0.1 (tests/support/servers.py), so the
success paths pass ``allow_private=True``; the refusal of loopback addresses
is checked without it. Real TOTEM documents are read from ../shared/data;
archives are built in tmp_path.
"""
from __future__ import annotations

import hashlib
import io
import json
import socket
import struct
import time
import tracemalloc
import zipfile
from dataclasses import replace

import pytest

from ckanext.budgetod.core.errors import BudgetodError
from ckanext.budgetod.core.net.fetch import NotFound, RefusedLocation, http_get
from ckanext.budgetod.core.net.urls import normalise_url
from ckanext.budgetod.core.settings import NetworkLimits, Settings
from ckanext.budgetod.core.source_config import SourceConfigError, parse_source_config
from ckanext.budgetod.core.sources import (
    DocumentRef,
    SourceError,
    UnsafeArchive,
    list_documents,
    retrieve_document,
    streamed_json,
)
from ckanext.budgetod.core.sources import archive as archive_module
from tests.support.servers import CkanStandIn, LocalServer, Reply, UdataStandIn
from tests.support.shared import SHARED_DATA

TOTEM = SHARED_DATA / "totem"
BP = (TOTEM / "crach-lotissement-bp-2022.xml").read_bytes()
DM = (TOTEM / "crach-principal-dm2-2021.xml").read_bytes()
M43 = (TOTEM / "transport-m43-bp-2022.xml").read_bytes()

SETTINGS = Settings(max_document_size=10 * 2**20, network=NetworkLimits(timeout=5.0, allow_private=True))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def zip_bytes(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def listed(source_url: str, config_text: str | None = None, settings: Settings = SETTINGS) -> list[DocumentRef]:
    return list_documents(source_url, parse_source_config(source_url, config_text), settings=settings)


@pytest.fixture
def server():
    with LocalServer() as local:
        yield local


# --- configuration ----------------------------------------------------------------------------


def test_empty_configuration_gives_defaults():
    for text in (None, "", "  \n"):
        config = parse_source_config("https://example.org/budgets/", text)
        assert (config.kind, config.urls, config.pattern, config.grouping) == (None, (), None, "budget")
        assert (config.metadata, config.datagouv, config.raw) == ({}, {}, {})


def test_full_configuration_is_parsed_and_urls_normalised():
    raw = {
        "kind": "file",
        "urls": ["HTTPS://Example.ORG:443/a.xml#top", "https://example.org/a.xml", "http://example.org:8080/b.xml?v=2"],
        "pattern": r"\.xml$",
        "grouping": "document",
        "metadata": {"license_id": "lov2", "tags": ["budget"]},
        "datagouv": {"organization": "5f0c0c0c0c0c0c0c0c0c0c0c"},
    }
    config = parse_source_config("https://example.org/", json.dumps(raw))
    assert config.kind == "file"
    assert config.urls == ("https://example.org/a.xml", "http://example.org:8080/b.xml?v=2")
    assert config.pattern == r"\.xml$" and config.grouping == "document"
    assert config.metadata == raw["metadata"] and config.datagouv == raw["datagouv"]
    assert config.raw == raw


@pytest.mark.parametrize("text, field, french, english", [
    ("{kind: file}", "config", "JSON invalide, ligne 1", "invalid JSON configuration, line 1"),
    ('["file"]', "config", "objet JSON", "must be a JSON object"),
    ('{"kind": "ftp"}', "kind", "« kind » doit valoir", "'kind' must be one of"),
    ('{"grouping": "year"}', "grouping", "« grouping »", "'grouping' must be"),
    ('{"pattern": "budget(["}', "pattern", "expression régulière « pattern » invalide", "invalid 'pattern'"),
    ('{"pattern": 3}', "pattern", "« pattern » doit être", "'pattern' must be"),
    # RE2 syntax: neither backreferences nor lookarounds, whose matching may backtrack.
    ('{"pattern": "(bp)-\\\\1"}', "pattern", "ni référence arrière", "no backreferences"),
    ('{"pattern": "(?!ca)\\\\.xml$"}', "pattern", "invalide", "invalid 'pattern'"),
    ('{"pattern": "((a{100}){100}){100}"}', "pattern", "invalide", "invalid 'pattern'"),
    ('{"urls": "https://example.org/a.xml"}', "urls", "liste d'URL", "list of URLs"),
    ('{"urls": ["a.xml"]}', "urls", "URL http ou https absolue", "absolute http or https URL"),
    ('{"urls": ["ftp://example.org/a.xml"]}', "urls", "URL http ou https", "http or https URL"),
    ('{"metadata": []}', "metadata", "« metadata » doit être un objet JSON", "'metadata' must be a JSON object"),
    ('{"kind": "file", "kind": "zip"}', "kind", "clé « kind » répétée", "key 'kind' repeated"),
])
def test_invalid_configuration_is_refused_naming_the_field(text, field, french, english):
    with pytest.raises(SourceConfigError) as caught:
        parse_source_config("https://example.org/", text)
    error = caught.value
    assert isinstance(error, BudgetodError)
    assert error.field == field
    assert french in error.describe("fr")
    assert english in error.describe("en")


def test_unknown_key_is_refused_and_the_allowed_keys_listed():
    with pytest.raises(SourceConfigError) as caught:
        parse_source_config("https://example.org/", '{"kind": "index", "recursive": true}')
    assert caught.value.field == "recursive"
    assert "clé « recursive » inconnue" in caught.value.describe("fr")
    assert "unknown configuration key 'recursive' (allowed keys: kind, urls, pattern" in caught.value.describe("en")


@pytest.mark.parametrize("text, field, french, english", [
    ('{"datagouv": {"organisation": "commune-de-crach"}}', "datagouv.organisation",
     "clé « datagouv.organisation » inconnue dans la configuration (clés admises dans « datagouv » : organization)",
     "unknown configuration key 'datagouv.organisation' (allowed keys in 'datagouv': organization)"),
    ('{"datagouv": {"organization": ["commune-de-crach"]}}', "datagouv.organization",
     "« datagouv.organization » doit être l'identifiant ou le slug", "'datagouv.organization' must be the id or slug"),
    ('{"datagouv": {"organization": " "}}', "datagouv.organization", "doit être", "must be"),
])
def test_the_datagouv_section_is_validated_like_the_top_level(text, field, french, english):
    with pytest.raises(SourceConfigError) as caught:
        parse_source_config("https://example.org/", text)
    assert caught.value.field == field
    assert french in caught.value.describe("fr")
    assert english in caught.value.describe("en")


@pytest.mark.parametrize("text, field", [
    ('{"api_key": "abc"}', "api_key"),
    ('{"datagouv": {"X-API-KEY": "abc"}}', "datagouv.X-API-KEY"),
    ('{"datagouv": {"apiKey": "abc"}}', "datagouv.apiKey"),
    ('{"metadata": {"extras": [{"access_token": "abc"}]}}', "metadata.extras[0].access_token"),
    ('{"metadata": {"password": "abc"}}', "metadata.password"),
    ('{"Authorization": "Bearer abc"}', "Authorization"),
    ('{"client_secret": "abc"}', "client_secret"),
])
def test_secret_keys_are_refused_with_a_clear_message(text, field):
    with pytest.raises(SourceConfigError) as caught:
        parse_source_config("https://example.org/", text)
    assert caught.value.field == field
    assert "ressemble à un secret" in caught.value.describe("fr")
    assert "fichier ini de CKAN" in caught.value.describe("fr")
    assert "looks like a secret: a harvest source's configuration is public" in caught.value.describe("en")
    assert "belong in CKAN's ini file" in caught.value.describe("en")


def test_ordinary_metadata_keys_that_contain_auth_are_accepted():
    config = parse_source_config("https://example.org/", '{"metadata": {"author": "Ville", "author_email": ""}}')
    assert config.metadata["author"] == "Ville"


@pytest.mark.parametrize("source_url, text, field", [
    ("https://user:pass@example.org/budgets/", None, "url"),
    ("https://example.org/budgets/?api_key=abc", None, "url"),
    ("https://example.org/", '{"urls": ["https://example.org/a.xml?token=abc"]}', "urls"),
])
def test_secrets_in_urls_are_refused(source_url, text, field):
    with pytest.raises(SourceConfigError) as caught:
        parse_source_config(source_url, text)
    assert caught.value.field == field
    assert "looks like a secret" in caught.value.describe("en")


def test_source_url_must_be_web_url_and_match_a_forced_catalogue_kind():
    with pytest.raises(SourceConfigError) as caught:
        parse_source_config("file:///etc/passwd", None)
    assert caught.value.field == "url"
    with pytest.raises(SourceConfigError) as caught:
        parse_source_config("https://example.org/budgets/", '{"kind": "ckan"}')
    assert "…/dataset/<name>" in caught.value.describe("en")
    with pytest.raises(SourceConfigError) as caught:
        parse_source_config("https://example.org/budgets/", '{"kind": "udata"}')
    assert "…/datasets/<id>/" in caught.value.describe("en")
    assert parse_source_config("https://portal.example/dataset/budgets", '{"kind": "ckan"}').kind == "ckan"
    # Without a URL (a harvester validating the configuration alone), only the configuration is checked.
    assert parse_source_config("", '{"kind": "ckan"}').kind == "ckan"


def test_configuration_errors_default_to_french(monkeypatch):
    monkeypatch.delenv("BUDGETOD_LANG", raising=False)
    with pytest.raises(SourceConfigError) as caught:
        parse_source_config("https://example.org/", '{"token": "abc"}')
    assert "ressemble à un secret" in str(caught.value)
    monkeypatch.setenv("BUDGETOD_LANG", "en")
    assert "looks like a secret" in caught.value.describe()


@pytest.mark.parametrize("url, expected", [
    ("HTTP://Example.ORG:80/Budget.XML#p2", "http://example.org/Budget.XML"),
    ("https://example.org:443", "https://example.org/"),
    ("https://example.org:8443/a.xml?b=1&a=2", "https://example.org:8443/a.xml?b=1&a=2"),
    ("http://[::1]:80/x.xml", "http://[::1]/x.xml"),
])
def test_urls_are_normalised_for_guids(url, expected):
    assert normalise_url(url) == expected


# --- file ---------------------------------------------------------------------------------------


def test_file_source_is_listed_without_any_request_and_retrieved(server, tmp_path):
    server.put("/budgets/bp-2022.xml", BP)
    documents = listed(server.url("/budgets/bp-2022.xml#latest"))
    assert documents == [DocumentRef(guid=server.url("/budgets/bp-2022.xml"), url=server.url("/budgets/bp-2022.xml"))]
    assert server.exchanges == []

    destination = tmp_path / "out" / "doc.xml"
    retrieved = retrieve_document(documents[0], str(destination), settings=SETTINGS)
    assert destination.read_bytes() == BP
    assert (retrieved.not_modified, retrieved.sha256, retrieved.size) == (False, sha256(BP), len(BP))
    assert retrieved.etag and retrieved.last_modified
    assert retrieved.final_url == server.url("/budgets/bp-2022.xml")


def test_a_304_to_an_unconditional_request_is_a_clear_error(server, tmp_path):
    server.route(r"/odd\.xml", lambda request, match: Reply(304))
    document = listed(server.url("/odd.xml"))[0]
    with pytest.raises(BudgetodError) as raised:
        retrieve_document(document, str(tmp_path / "doc.xml"), settings=SETTINGS)
    assert "304" in raised.value.describe("en") and "unconditional" in raised.value.describe("en")
    assert not (tmp_path / "doc.xml").exists()


def test_several_files_from_urls_are_deduplicated(server):
    server.put("/a.xml", BP)
    server.put("/b.xml", DM)
    config = json.dumps({"kind": "file", "urls": [server.url("/a.xml"), server.url("/b.xml"),
                                                  server.url("/a.xml#again")]})
    documents = listed(server.url("/"), config)
    assert [document.url for document in documents] == [server.url("/a.xml"), server.url("/b.xml")]


def test_conditional_retrieval_reports_not_modified_and_writes_nothing(server, tmp_path):
    server.put("/bp.xml", BP)
    document = listed(server.url("/bp.xml"))[0]
    destination = tmp_path / "doc.xml"
    first = retrieve_document(document, str(destination), settings=SETTINGS)

    destination.write_bytes(b"previous copy")
    by_etag = retrieve_document(document, str(destination), settings=SETTINGS, etag=first.etag)
    by_date = retrieve_document(document, str(destination), settings=SETTINGS, last_modified=first.last_modified)
    for outcome in (by_etag, by_date):
        assert (outcome.not_modified, outcome.sha256, outcome.size) == (True, None, 0)
        assert outcome.etag == first.etag
    assert destination.read_bytes() == b"previous copy"
    assert server.statuses("/bp.xml") == [200, 304, 304]

    server.put("/bp.xml", DM)
    changed = retrieve_document(document, str(destination), settings=SETTINGS, etag=first.etag)
    assert (changed.not_modified, changed.sha256) == (False, sha256(DM))
    assert changed.etag != first.etag
    assert destination.read_bytes() == DM


def test_missing_document_raises_not_found(server, tmp_path):
    document = listed(server.url("/gone.xml"))[0]
    with pytest.raises(NotFound) as caught:
        retrieve_document(document, str(tmp_path / "doc.xml"), settings=SETTINGS)
    assert "HTTP 404" in caught.value.describe("en")
    assert not (tmp_path / "doc.xml").exists()


def test_loopback_document_is_refused_without_allow_private(server, tmp_path):
    server.put("/bp.xml", BP)
    document = listed(server.url("/bp.xml"))[0]
    with pytest.raises(RefusedLocation) as caught:
        retrieve_document(document, str(tmp_path / "doc.xml"),
                          settings=SETTINGS.replace(network={"allow_private": False}))
    assert "loopback" in caught.value.describe("en")
    assert server.exchanges == []


def test_kind_is_detected_from_content_when_the_url_does_not_tell(server, tmp_path):
    server.put("/download", BP, content_type="application/octet-stream")
    server.put("/archive", zip_bytes({"bp.xml": BP}), content_type="application/octet-stream")
    server.put("/page", f'<a href="{server.url("/bp.xml")}">BP</a>'.encode(), content_type="text/html")
    server.put("/bp.xml", BP)
    assert [d.guid for d in listed(server.url("/download"))] == [server.url("/download")]
    assert [(d.guid, d.member) for d in listed(server.url("/archive"))] == [
        (server.url("/archive") + "#bp.xml", "bp.xml")]
    assert [d.guid for d in listed(server.url("/page"))] == [server.url("/bp.xml")]


def test_unrecognised_content_is_a_source_error(server):
    server.put("/data", b'{"not": "a document"}', content_type="application/json")
    with pytest.raises(SourceError) as caught:
        listed(server.url("/data"))
    assert "unrecognised content (type 'application/json')" in caught.value.describe("en")


# --- index --------------------------------------------------------------------------------------


def index_page(base_url: str) -> bytes:
    other_host = base_url.replace("127.0.0.1", "localhost")
    return f"""<!DOCTYPE html><html><head><title>Budgets</title></head><body>
    <h1>Budgets de la commune</h1>
    <ul>
      <li><a href="bp-2022.xml">BP 2022</a></li>
      <li><a href="/budgets/DM-2021.XML">DM 2021</a></li>
      <li><a href="bp-2022.xml#telecharger">BP 2022 again</a></li>
      <li><a href="{base_url}/budgets/archive.zip">Archive</a></li>
      <li><a href="{other_host}/budgets/elsewhere.xml">On another host</a></li>
      <li><a href="https://www.example.org/budget.xml">Off-site</a></li>
      <li><a href="annexes/">Annexes</a> <a href="rapport.pdf">Rapport</a> <a href="page2.html">Suite</a></li>
      <li><a href="mailto:finances@example.org">Contact</a> <a href="javascript:void(0)">JS</a> <a>nothing</a>
      <li><a href="http://[invalid/x.xml">broken</a>
    </ul>
    <p>junk <<< >>> <a href="unterminated
    </body></html>""".encode() + b"\x00\xff\xfe binary tail"


def test_index_lists_same_host_documents_and_expands_linked_archives(server):
    server.put("/budgets/", index_page(server.base_url), content_type="text/html; charset=utf-8")
    server.put("/budgets/bp-2022.xml", BP)
    server.put("/budgets/DM-2021.XML", DM)
    server.put("/budgets/archive.zip", zip_bytes({"transport/m43-bp-2022.xml": M43, "notes.txt": b"x"}))
    documents = listed(server.url("/budgets/"))
    assert [(d.guid, d.member) for d in documents] == [
        (server.url("/budgets/bp-2022.xml"), None),
        (server.url("/budgets/DM-2021.XML"), None),
        (server.url("/budgets/archive.zip") + "#transport/m43-bp-2022.xml", "transport/m43-bp-2022.xml"),
    ]
    # Depth 1: documents are not fetched while listing, other pages are not followed.
    assert {exchange.path for exchange in server.exchanges} == {"/budgets/", "/budgets/archive.zip"}


def test_index_pattern_filters_on_the_absolute_url(server):
    server.put("/budgets/", index_page(server.base_url), content_type="text/html")
    server.put("/budgets/archive.zip", zip_bytes({"transport/m43-bp-2022.xml": M43}))
    config = json.dumps({"kind": "index", "pattern": r"/budgets/[^/#]*bp-\d{4}\.xml$"})
    documents = listed(server.url("/budgets/"), config)
    assert [d.guid for d in documents] == [server.url("/budgets/bp-2022.xml")]
    config = json.dumps({"pattern": r"#transport/"})
    assert [d.member for d in listed(server.url("/budgets/"), config)] == ["transport/m43-bp-2022.xml"]


def test_a_catastrophic_backtracking_pattern_is_matched_in_linear_time():
    """Python's re takes seconds (doubling with each "a") on "(a+)+$" against such a URL: RE2 does not."""
    urls = [f"https://example.org/{'a' * 28}!{index}.xml" for index in range(3)]
    started = time.monotonic()
    documents = listed("https://example.org/", json.dumps({"kind": "file", "urls": urls, "pattern": "(a+)+$"}))
    assert documents == []
    assert time.monotonic() - started < 1


def test_a_pattern_saved_before_it_was_refused_makes_a_clear_source_error():
    config = replace(parse_source_config("https://example.org/", '{"kind": "file"}'), pattern=r"(bp)-\1")
    with pytest.raises(SourceError) as caught:
        list_documents("https://example.org/a.xml", config, settings=SETTINGS)
    assert "invalid 'pattern'" in caught.value.describe("en")


def test_malformed_markup_is_parsed_in_linear_time(server):
    """html.parser took 22 s on 48 kB of "<a " (Python 3.11): libxml2's HTML parser is linear."""
    server.put("/budgets/", b'<a href="bp-2022.xml">BP</a>' + b"<a " * 16_000, content_type="text/html")
    started = time.monotonic()
    listed_guids = [document.guid for document in listed(server.url("/budgets/"), '{"kind": "index"}')]
    assert listed_guids == [server.url("/budgets/bp-2022.xml")]
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("charset", ["idna", "punycode", "utf-7", "x-unknown"])
def test_a_charset_outside_the_accepted_ones_is_read_as_utf8(server, charset):
    # UTF-7 would turn "+ADw-a href=+ACI-…" into a link the bytes do not show.
    page = b'<a href="bp-2022.xml">BP</a> +ADw-a href=+ACI-ca-2021.xml+ACI-+AD4- \xe9'
    server.put("/budgets/", page, content_type=f"text/html; charset={charset}")
    listed_guids = [document.guid for document in listed(server.url("/budgets/"), '{"kind": "index"}')]
    assert listed_guids == [server.url("/budgets/bp-2022.xml")]


def test_an_empty_index_page_lists_nothing(server):
    server.put("/budgets/", b"", content_type="text/html; charset=iso-8859-1")
    assert listed(server.url("/budgets/"), '{"kind": "index"}') == []


def test_index_honours_base_href_and_stays_on_the_page_host_after_a_redirect(server):
    server.put("/new/index.html", b'<base href="/files/"><a href="ca.xml">CA</a>', content_type="text/html")
    server.redirect("/old/", server.url("/new/index.html"), status=301)
    documents = listed(server.url("/old/"), '{"kind": "index"}')
    assert [d.guid for d in documents] == [server.url("/files/ca.xml")]


def test_directory_listing_is_an_index(tmp_path):
    site = tmp_path / "site"
    (site / "2022").mkdir(parents=True)
    (site / "2022" / "bp.xml").write_bytes(BP)
    (site / "2022" / "dm.xml").write_bytes(DM)
    (site / "2022" / "readme.txt").write_text("budgets")
    (site / "2022" / "older").mkdir()
    (site / "2022" / "older" / "ca.xml").write_bytes(M43)
    with LocalServer(directory=site) as server:
        documents = listed(server.url("/2022/"))
        assert [d.guid for d in documents] == [server.url("/2022/bp.xml"), server.url("/2022/dm.xml")]
        retrieved = retrieve_document(documents[1], str(tmp_path / "dm.xml"), settings=SETTINGS)
        assert retrieved.sha256 == sha256(DM)


def test_oversized_index_page_is_a_source_error(server):
    server.put("/big/", b"<html>" + b"<p>filler</p>" * 10_000, content_type="text/html")
    small_pages = SETTINGS.replace(network={"max_page_bytes": 50_000})
    with pytest.raises(SourceError) as caught:
        listed(server.url("/big/"), settings=small_pages)
    assert "index page too large" in caught.value.describe("en")
    with pytest.raises(SourceError) as caught:
        listed(server.url("/big/"), '{"kind": "index"}', settings=small_pages)
    assert "50000-byte limit" in caught.value.describe("en")


def test_index_with_an_unreadable_linked_archive_is_a_source_error(server):
    server.put("/budgets/", b'<a href="bp.xml">BP</a> <a href="missing.zip">Archive</a>', content_type="text/html")
    with pytest.raises(SourceError) as caught:
        listed(server.url("/budgets/"))
    assert caught.value.source == server.url("/budgets/missing.zip")
    assert "source illisible : introuvable (HTTP 404)" in caught.value.describe("fr")


# --- zip ----------------------------------------------------------------------------------------


def test_zip_lists_only_xml_documents(server, tmp_path):
    archive = zip_bytes({
        "2022/": b"",
        "2022/bp.xml": BP,
        "2022/DM.XML": DM,
        "2022/nested.zip": zip_bytes({"inner.xml": M43}),
        "2022/readme.txt": b"budgets",
        "__MACOSX/2022/._bp.xml": b"\x00\x05\x16\x07",
        "2022/._dm.xml": b"\x00\x05\x16\x07",
    })
    server.put("/budgets.zip", archive)
    documents = listed(server.url("/budgets.zip"))
    assert [(d.guid, d.url, d.member) for d in documents] == [
        (server.url("/budgets.zip") + "#2022/bp.xml", server.url("/budgets.zip"), "2022/bp.xml"),
        (server.url("/budgets.zip") + "#2022/DM.XML", server.url("/budgets.zip"), "2022/DM.XML"),
    ]
    destination = tmp_path / "dm.xml"
    retrieved = retrieve_document(documents[1], str(destination), settings=SETTINGS)
    assert destination.read_bytes() == DM
    assert (retrieved.sha256, retrieved.size) == (sha256(DM), len(DM))
    assert retrieved.final_url == server.url("/budgets.zip") and retrieved.etag


def test_zip_entry_not_modified_when_the_archive_is_unchanged(server, tmp_path):
    server.put("/budgets.zip", zip_bytes({"bp.xml": BP}))
    document = listed(server.url("/budgets.zip"))[0]
    first = retrieve_document(document, str(tmp_path / "bp.xml"), settings=SETTINGS)
    again = retrieve_document(document, str(tmp_path / "bp-again.xml"), settings=SETTINGS, etag=first.etag)
    assert again.not_modified and not (tmp_path / "bp-again.xml").exists()


def test_archive_cache_downloads_an_archive_once_for_all_its_entries(server, tmp_path):
    server.put("/budgets.zip", zip_bytes({"bp.xml": BP, "dm.xml": DM, "m43.xml": M43}))
    cached = SETTINGS.replace(cache_dir=str(tmp_path))
    documents = listed(server.url("/budgets.zip"), settings=cached)
    for number, document in enumerate(documents):
        retrieve_document(document, str(tmp_path / f"{number}.xml"), settings=cached)
    assert [(tmp_path / f"{n}.xml").read_bytes() for n in range(3)] == [BP, DM, M43]
    assert server.statuses("/budgets.zip") == [200, 304, 304, 304]

    # A damaged cached copy is not trusted: the archive is downloaded again, unconditionally.
    cached_archive = next((tmp_path / "archives").glob("*.zip"))
    cached_archive.write_bytes(cached_archive.read_bytes()[:-10])
    retrieve_document(documents[0], str(tmp_path / "again.xml"), settings=cached)
    assert server.statuses("/budgets.zip")[-1] == 200
    assert "if-none-match" not in server.exchanges[-1].headers
    assert (tmp_path / "again.xml").read_bytes() == BP
    assert not list((tmp_path / "archives").glob("*.part"))


def test_the_archive_cache_keeps_within_its_size_evicting_the_least_recently_used(server, tmp_path):
    """One archive URL with many query strings used to fill the disk: every copy was kept forever."""
    archive = zip_bytes({"bp.xml": BP})
    server.put("/budgets.zip", archive)
    cache = tmp_path / "archives"
    bounded = SETTINGS.replace(cache_dir=str(tmp_path), network={"archive_cache_bytes": 3 * len(archive) + 1000})
    for number in range(10):
        listed(server.url(f"/budgets.zip?v={number}"), '{"kind": "zip"}', settings=bounded)
        assert sum(path.stat().st_size for path in cache.iterdir()) <= bounded.network.archive_cache_bytes
    # The most recently used copies are those kept, each with its record.
    assert len(list(cache.glob("*.zip"))) == len(list(cache.glob("*.json"))) == 3
    listed(server.url("/budgets.zip?v=9"), '{"kind": "zip"}', settings=bounded)
    assert server.statuses("/budgets.zip")[-1] == 304


def test_a_source_listing_more_documents_than_allowed_is_refused_without_reading_further(server):
    links = "".join(f'<a href="bp-{number}.xml">BP</a>' for number in range(50))
    server.put("/budgets/", links.encode(), content_type="text/html")
    with pytest.raises(SourceError) as caught:
        listed(server.url("/budgets/"), '{"kind": "index"}', settings=SETTINGS.replace(network={"max_documents": 20}))
    assert "more than 20 documents" in caught.value.describe("en")
    assert "plus de 20 documents" in caught.value.describe("fr")


def test_a_catalogue_is_not_walked_past_the_document_cap(server):
    ckan = CkanStandIn(server)
    ckan.add_organization("ville")
    for number in range(10):
        ckan.add_dataset(f"budget-{number}", [{"url": server.url(f"/b{number}-{i}.xml"), "format": "XML"}
                                              for i in range(3)], organization="ville")
    settings = SETTINGS.replace(network={"max_documents": 5, "listing_page_size": 2})
    with pytest.raises(SourceError) as caught:
        listed(ckan.organization_url("ville"), settings=settings)
    assert "more than 5 documents" in caught.value.describe("en")
    assert len([e for e in server.exchanges if "package_search" in e.path]) == 1


def test_without_cache_each_entry_downloads_the_archive(server, tmp_path):
    server.put("/budgets.zip", zip_bytes({"bp.xml": BP, "dm.xml": DM}))
    for number, document in enumerate(listed(server.url("/budgets.zip"))):
        retrieve_document(document, str(tmp_path / f"{number}.xml"), settings=SETTINGS)
    assert server.statuses("/budgets.zip") == [200, 200, 200]


@pytest.mark.parametrize("name", ["../evil.xml", "budgets/../../evil.xml", "/etc/evil.xml", "a\\..\\evil.xml",
                                  "C:/evil.xml"])
def test_zip_with_path_traversal_is_refused(server, tmp_path, name):
    server.put("/hostile.zip", zip_bytes({"bp.xml": BP, name: DM}))
    with pytest.raises(SourceError) as caught:
        listed(server.url("/hostile.zip"))
    assert caught.value.source == server.url("/hostile.zip")
    assert f"unsafe entry name '{name}'" in caught.value.describe("en")
    assert "nom d'entrée dangereux" in caught.value.describe("fr")


def test_forged_member_is_never_extracted(server, tmp_path):
    server.put("/budgets.zip", zip_bytes({"bp.xml": BP, "readme.txt": b"x"}))
    for member in ("../bp.xml", "readme.txt", "absent.xml"):
        forged = DocumentRef(guid=server.url("/budgets.zip") + "#" + member, url=server.url("/budgets.zip"),
                             member=member)
        with pytest.raises(NotFound):
            retrieve_document(forged, str(tmp_path / "out" / "doc.xml"), settings=SETTINGS)
    assert list(tmp_path.rglob("*")) == []


def test_zip_bomb_by_compression_ratio_is_refused(server):
    server.put("/bomb.zip", zip_bytes({"bp.xml": BP, "zeros.xml": bytes(5 * 2**20)}))
    with pytest.raises(SourceError) as caught:
        listed(server.url("/bomb.zip"))
    assert "suspicious compression ratio for 'zeros.xml'" in caught.value.describe("en")
    assert "bombe de décompression" in caught.value.describe("fr")


def test_zip_entry_over_the_document_cap_is_refused(server):
    server.put("/big.zip", zip_bytes({"bp.xml": BP, "dm.xml": DM}))
    with pytest.raises(SourceError) as caught:
        listed(server.url("/big.zip"), settings=SETTINGS.replace(max_document_size=100_000))
    assert f"entry 'dm.xml' would decompress to {len(DM)} bytes, at most 100000" in caught.value.describe("en")


def test_zip_over_the_total_uncompressed_cap_is_refused(server):
    server.put("/budgets.zip", zip_bytes({"bp.xml": BP, "dm.xml": DM, "m43.xml": M43}))
    with pytest.raises(SourceError) as caught:
        listed(server.url("/budgets.zip"), settings=SETTINGS.replace(network={"max_archive_total_bytes": 200_000}))
    assert "more than 200000 bytes once decompressed" in caught.value.describe("en")


def test_zip_with_too_many_entries_is_refused(server):
    server.put("/many.zip", zip_bytes({f"doc-{number}.txt": b"x" for number in range(30)} | {"bp.xml": BP}))
    with pytest.raises(SourceError) as caught:
        listed(server.url("/many.zip"), settings=SETTINGS.replace(network={"max_archive_entries": 25}))
    assert "31 entries, at most 25" in caught.value.describe("en")


def forbid_zipfile(monkeypatch):
    """Fails the test if zipfile parses an archive from now on: the refusal must come from the end record alone."""
    def refuse(*args, **kwargs):
        raise AssertionError("zipfile parsed the central directory")
    monkeypatch.setattr(archive_module.zipfile, "ZipFile", refuse)


def test_entries_declared_beyond_the_cap_are_refused_before_the_directory_is_parsed(server, monkeypatch):
    server.put("/many.zip", zip_bytes({f"doc-{number}.xml": b"x" for number in range(30)}))
    forbid_zipfile(monkeypatch)
    with pytest.raises(SourceError) as caught:
        listed(server.url("/many.zip"), settings=SETTINGS.replace(network={"max_archive_entries": 25}))
    assert "30 entries, at most 25" in caught.value.describe("en")


def test_a_zip64_end_record_is_read_too(server, monkeypatch):
    # 70,000 entries need ZIP64: only its end record tells their number. Made by hand (no data,
    # no local headers): zipfile would parse the whole directory before any cap.
    directory = b"".join(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0)
                         + b"%05d" % number for number in range(70_000))
    end64 = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 70_000, 70_000, len(directory), 0)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, len(directory), 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    server.put("/huge.zip", directory + end64 + locator + end)
    forbid_zipfile(monkeypatch)
    with pytest.raises(SourceError) as caught:
        listed(server.url("/huge.zip"))
    assert "70000 entries, at most 1000" in caught.value.describe("en")


def test_a_central_directory_too_large_for_its_entries_is_refused_before_it_is_parsed(server, monkeypatch):
    server.put("/names.zip", zip_bytes({f"{'n' * 5000}-{number}.xml": b"x" for number in range(30)}))
    forbid_zipfile(monkeypatch)
    with pytest.raises(SourceError) as caught:
        listed(server.url("/names.zip"), settings=SETTINGS.replace(network={"max_archive_entries": 100}))
    assert "central directory of" in caught.value.describe("en")


def test_entry_lying_about_its_size_fails_cleanly(server, tmp_path):
    """Declared sizes are what the checks see; extraction stops there and the CRC check fails."""
    archive = bytearray(zip_bytes({"liar.xml": b"<a>" + b"x" * 2**21 + b"</a>"}))
    declared = 1_000
    local_header = archive.index(b"PK\x03\x04")
    struct.pack_into("<I", archive, local_header + 22, declared)
    central_header = archive.index(b"PK\x01\x02")
    struct.pack_into("<I", archive, central_header + 24, declared)
    server.put("/liar.zip", bytes(archive))
    document = listed(server.url("/liar.zip"))[0]
    with pytest.raises(UnsafeArchive) as caught:
        retrieve_document(document, str(tmp_path / "liar.xml"), settings=SETTINGS)
    assert "corrupt or unreadable archive entry" in caught.value.describe("en")
    assert list(tmp_path.iterdir()) == []


def test_encrypted_entry_is_left_out(server):
    archive = bytearray(zip_bytes({"bp.xml": BP, "secret.xml": DM}))
    second_local_header = archive.index(b"PK\x03\x04", 1)
    second_central_header = archive.index(b"PK\x01\x02", archive.index(b"PK\x01\x02") + 1)
    for offset in (second_local_header + 6, second_central_header + 8):  # general purpose flags: bit 0
        struct.pack_into("<H", archive, offset, struct.unpack_from("<H", archive, offset)[0] | 0x1)
    server.put("/budgets.zip", bytes(archive))
    assert [d.member for d in listed(server.url("/budgets.zip"))] == ["bp.xml"]


def test_not_a_zip_is_a_source_error(server):
    server.put("/fake.zip", b"PK\x03\x04 but nothing else")
    with pytest.raises(SourceError) as caught:
        listed(server.url("/fake.zip"))
    assert "not a readable ZIP archive" in caught.value.describe("en")


# --- CKAN ---------------------------------------------------------------------------------------


def test_ckan_dataset_resources_in_xml(server):
    ckan = CkanStandIn(server)
    ckan.add_dataset("budgets-crach", [
        {"url": server.url("/download/bp-2022"), "format": "XML"},
        {"url": server.url("/files/dm-2021.xml"), "format": ""},
        {"url": server.url("/files/ca-2021"), "format": "xml"},
        {"url": "/dataset/budgets-crach/resource/1/download/upload.xml", "format": "", "url_type": "upload"},
        {"url": server.url("/files/budget.csv"), "format": "CSV"},
        {"url": server.url("/files/rapport.pdf"), "format": "PDF"},
        {"url": "", "format": "XML"},
    ])
    for page_url in (ckan.dataset_url("budgets-crach"), ckan.dataset_url("budgets-crach", locale="fr") + "/"):
        documents = listed(page_url)
        assert [d.guid for d in documents] == [
            server.url("/download/bp-2022"), server.url("/files/dm-2021.xml"), server.url("/files/ca-2021"),
            server.url("/dataset/budgets-crach/resource/1/download/upload.xml"),
        ]
    assert {(e.path, e.status) for e in server.exchanges} == {
        ("/api/3/action/package_show", 200), ("/fr/api/3/action/package_show", 200)}


def test_ckan_mounted_under_a_path_prefix(server):
    ckan = CkanStandIn(server, prefix="/data")
    ckan.add_dataset("budgets", [{"url": server.url("/bp.xml"), "format": "XML"}])
    assert [d.guid for d in listed(ckan.dataset_url("budgets"))] == [server.url("/bp.xml")]
    assert server.statuses("/data/api/3/action/package_show") == [200]


def test_ckan_organization_pages_through_every_dataset(server):
    ckan = CkanStandIn(server)
    organization = ckan.add_organization("commune-de-crach")
    ckan.add_organization("autre")
    for number in range(5):
        ckan.add_dataset(f"budget-{number}", [{"url": server.url(f"/{number}.xml"), "format": "XML"},
                                              {"url": server.url(f"/{number}.csv"), "format": "CSV"}],
                         organization="commune-de-crach")
    ckan.add_dataset("other-budget", [{"url": server.url("/other.xml"), "format": "XML"}], organization="autre")
    paged = SETTINGS.replace(network={"listing_page_size": 2})

    for page_url in (ckan.organization_url("commune-de-crach"), ckan.organization_url(organization["id"])):
        documents = listed(page_url, settings=paged)
        assert [d.guid for d in documents] == [server.url(f"/{number}.xml") for number in range(5)]
    searches = [e.query for e in server.exchanges if e.path == "/api/3/action/package_search"]
    assert [(q["start"], q["rows"]) for q in searches] == [("0", "2"), ("2", "2"), ("4", "2")] * 2
    assert {q["fq"] for q in searches} == {'organization:"commune-de-crach"'}


def test_catalogue_changing_while_paged_is_a_source_error(server):
    """A dataset removed between two pages would shift the offsets and go unseen: the listing is refused."""
    totals = iter([5, 4])

    def package_search(request, match):
        return Reply.json({"success": True, "result": {
            "count": next(totals), "results": [{"name": "a", "resources": []}] * 2, "facets": {}}})

    server.route(r"/api/3/action/organization_show", lambda request, match: Reply.json(
        {"success": True, "result": {"id": "1", "name": "commune"}}))
    server.route(r"/api/3/action/package_search", package_search)
    with pytest.raises(SourceError) as caught:
        listed(server.url("/organization/commune"), settings=SETTINGS.replace(network={"listing_page_size": 2}))
    assert "the catalogue changed while being listed (5 then 4 datasets)" in caught.value.describe("en")

    pages = iter([(1, 5), (2, 6)])

    def organization_datasets(request, match):
        page, total = next(pages)
        return Reply.json({"data": [], "page": page, "page_size": 2, "total": total,
                           "next_page": server.url(f"/api/1/organizations/commune/datasets/?page={page + 1}")})

    server.route(r"/api/1/organizations/commune/datasets/", organization_datasets)
    with pytest.raises(SourceError) as caught:
        listed(server.url("/organizations/commune/"))
    assert "le catalogue a changé pendant la lecture (5 puis 6 jeux de données)" in caught.value.describe("fr")


def test_ckan_missing_dataset_or_organization_is_a_source_error(server):
    ckan = CkanStandIn(server)
    for page_url in (ckan.dataset_url("nope"), ckan.organization_url("nope")):
        with pytest.raises(SourceError) as caught:
            listed(page_url)
        assert "CKAN API: not found (HTTP 404) — Not found" in caught.value.describe("en")
        assert "API CKAN : introuvable (HTTP 404)" in caught.value.describe("fr")


def test_ckan_api_that_is_not_ckan_is_a_source_error(server):
    server.route(r"/api/3/action/package_show", lambda request, match: Reply(200, b"<html>maintenance</html>"))
    with pytest.raises(SourceError) as caught:
        listed(server.url("/dataset/budgets"))
    assert "the response is not a JSON object" in caught.value.describe("en")


# --- udata (data.gouv.fr) -----------------------------------------------------------------------


def test_udata_dataset_by_slug_or_id_with_or_without_trailing_slash(server):
    udata = UdataStandIn(server)
    dataset = udata.add_dataset("budgets-de-crach", [
        {"url": server.url("/files/bp-2022.xml"), "format": "xml"},
        {"url": server.url("/files/dm-2021"), "format": "XML"},
        {"url": server.url("/files/ca-2021.xml"), "format": ""},
        {"url": server.url("/files/budget.csv"), "format": "csv"},
    ])
    expected = [server.url("/files/bp-2022.xml"), server.url("/files/dm-2021"), server.url("/files/ca-2021.xml")]
    for page_url in (udata.dataset_url("budgets-de-crach"),
                     udata.dataset_url("budgets-de-crach", trailing_slash=False, language=""),
                     udata.dataset_url(dataset["id"], trailing_slash=False)):
        assert [d.guid for d in listed(page_url)] == expected
    # The canonical trailing-slash API path is asked for directly: never a 308 round trip.
    assert {(e.path, e.status) for e in server.exchanges} == {
        ("/api/1/datasets/budgets-de-crach/", 200), (f"/api/1/datasets/{dataset['id']}/", 200)}


def test_udata_stand_in_redirects_like_the_real_api(server):
    udata = UdataStandIn(server)
    udata.add_organization("commune")
    with http_get(server.url("/api/1/organizations/commune/datasets?page_size=5"), allow_private=True) as response:
        listing = json.loads(response.content())
    assert response.final_url == server.url("/api/1/organizations/commune/datasets/?page_size=5")
    assert server.statuses("/api/1/organizations/commune/datasets") == [308]
    assert (listing["page"], listing["page_size"], listing["total"], listing["next_page"]) == (1, 5, 0, None)


def test_udata_organization_follows_next_page_until_null(server):
    udata = UdataStandIn(server)
    organization = udata.add_organization("commune-de-crach")
    udata.add_organization("autre")
    for number in range(5):
        udata.add_dataset(f"budget-{number}", [{"url": server.url(f"/{number}.xml"), "format": "xml"}],
                          organization="commune-de-crach")
    udata.add_dataset("other", [{"url": server.url("/other.xml"), "format": "xml"}], organization="autre")
    paged = SETTINGS.replace(network={"listing_page_size": 2})
    for page_url in (udata.organization_url("commune-de-crach"),
                     udata.organization_url(organization["id"], trailing_slash=False)):
        documents = listed(page_url, settings=paged)
        assert [d.guid for d in documents] == [server.url(f"/{number}.xml") for number in range(5)]
    pages = [(e.query["page"], e.query["page_size"], e.status) for e in server.exchanges]
    assert pages == [("1", "2", 200), ("2", "2", 200), ("3", "2", 200)] * 2


def test_udata_next_page_to_another_host_is_refused(server):
    other_host = server.base_url.replace("127.0.0.1", "localhost")
    server.route(r"/api/1/organizations/commune/datasets/", lambda request, match: Reply.json({
        "data": [], "page": 1, "page_size": 20, "total": 40,
        "next_page": f"{other_host}/api/1/organizations/commune/datasets/?page=2"}))
    with pytest.raises(SourceError) as caught:
        listed(server.url("/organizations/commune/"))
    assert "udata API: unexpected 'next_page'" in caught.value.describe("en")
    assert len(server.exchanges) == 1


def test_udata_missing_dataset_is_a_source_error(server):
    udata = UdataStandIn(server)
    with pytest.raises(SourceError) as caught:
        listed(udata.dataset_url("nope"))
    assert caught.value.source == server.url("/api/1/datasets/nope/")
    assert "udata API: not found (HTTP 404) — Dataset not found" in caught.value.describe("en")


def test_udata_resource_permalink_is_a_file_not_a_dataset():
    config = parse_source_config("https://www.data.gouv.fr/fr/datasets/r/0b7d1d6e-1ad5-4d6a-9a43-3c1e2f5f0f6a", None)
    assert config.kind is None
    with pytest.raises(SourceConfigError):
        parse_source_config("https://www.data.gouv.fr/fr/datasets/r/0b7d1d6e", '{"kind": "udata"}')


# --- catalogue pages, read as a stream -------------------------------------------------------------


def serve_catalogue_page(server: LocalServer, kind: str, datasets: bytes, count: int) -> str:
    """One page of an organisation's datasets (``datasets``: the JSON items, comma-separated) served as
    the whole listing by a CKAN or udata API; returns the source URL. The body is built once: the
    server only sends it."""
    if kind == "ckan":
        server.route(r"/api/3/action/organization_show", lambda request, match: Reply.json(
            {"success": True, "result": {"id": "1", "name": "ville"}}))
        page = Reply(200, b'{"help": "h", "success": true, "result": {"count": %d, "results": [%s], "facets": {}}}'
                     % (count, datasets), {"Content-Type": "application/json"})
        server.route(r"/api/3/action/package_search", lambda request, match: page)
        return server.url("/organization/ville")
    page = Reply(200, b'{"data": [%s], "page": 1, "page_size": 20, "total": %d, "next_page": null}'
                 % (datasets, count), {"Content-Type": "application/json"})
    server.route(r"/api/1/organizations/ville/datasets/", lambda request, match: page)
    return server.url("/organizations/ville/")


def catalogue_datasets(server: LocalServer, count: int, xml_every: int) -> bytes:
    """``count`` datasets as catalogues describe them, eight CSV resources each, and an XML one in
    every ``xml_every``-th: about 1.5 kB of JSON per dataset."""
    items = []
    for number in range(count):
        resources = [b'{"id": "r-%d-%d", "name": "Budget %d", "url": "https://files.example/%d-%d.csv", '
                     b'"format": "CSV", "position": %d, "size": null, "extras": {}}' % (number, i, i, number, i, i)
                     for i in range(8)]
        if number % xml_every == 0:
            resources.append(b'{"url": "%s", "format": "XML"}' % server.url(f"/{number}.xml").encode())
        items.append(b'{"id": "d-%d", "name": "budget-%d", "title": "Budget %d", "notes": "", "private": false, '
                     b'"tags": [{"name": "budget"}, {"name": "m14"}], "extras": [{"key": "k", "value": "v"}], '
                     b'"resources": [%s]}' % (number, number, number, b", ".join(resources)))
    return b", ".join(items)


@pytest.mark.parametrize("kind", ["ckan", "udata"])
def test_a_catalogue_page_is_read_in_memory_bounded_by_what_is_kept(server, kind):
    """Built whole, a page cost about 6.5 times its size in Python objects (this 7.7 MB page: 50 MB
    traced; one at the 16 MB page cap, about 100 MB); streamed, the peak is the read buffers."""
    datasets = catalogue_datasets(server, 6_000, xml_every=1_000)
    url = serve_catalogue_page(server, kind, datasets, 6_000)
    assert len(datasets) > 7 * 2**20
    tracemalloc.start()
    try:
        documents = listed(url)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [d.guid for d in documents] == [server.url(f"/{number}.xml") for number in range(0, 6_000, 1_000)]
    assert peak < 24 * 2**20, f"peak {peak / 2**20:.0f} MB"


@pytest.mark.parametrize("kind", ["ckan", "udata"])
def test_a_deeply_nested_catalogue_page_is_read_past(server, kind):
    nested = b"[" * 200_000 + b"]" * 200_000
    datasets = b'{"extras": %s, "resources": [{"url": "%s", "format": "XML", "extras": {"a": %s}}]}, %s' % (
        nested, server.url("/bp.xml").encode(), nested, nested)
    url = serve_catalogue_page(server, kind, datasets, 2)
    assert [d.guid for d in listed(url)] == [server.url("/bp.xml")]


@pytest.mark.parametrize("page", [
    pytest.param(lambda page: page[:-2], id="truncated"),
    pytest.param(lambda page: page + b" {}", id="trailing-value"),
    pytest.param(lambda page: page.replace(b'"count": 1', b'"count": NaN'), id="nan"),
    pytest.param(lambda page: page.replace(b"budget", b"bud\xffget"), id="invalid-utf8"),
    # ijson's own conversion of such an integer crashes the process: yajl must refuse it.
    pytest.param(lambda page: page.replace(b'"count": 1', b'"count": 1' + b"0" * 5_000), id="5000-digit-integer"),
    pytest.param(lambda page: b"\xef\xbb\xbf" + page, id="byte-order-mark"),
    pytest.param(lambda page: b"", id="empty"),
])
def test_a_catalogue_page_that_is_not_json_is_a_source_error(server, page):
    good = (b'{"success": true, "result": {"count": 1, "results": [{"name": "budget", "resources": '
            b'[{"url": "/bp.xml", "format": "XML"}]}]}}')
    server.route(r"/api/3/action/organization_show", lambda request, match: Reply.json(
        {"success": True, "result": {"name": "ville"}}))
    server.route(r"/api/3/action/package_search", lambda request, match: Reply(200, page(good)))
    with pytest.raises(SourceError) as caught:
        listed(server.url("/organization/ville"))
    assert caught.value.describe("en").endswith("CKAN API: the response is not a JSON object")
    assert caught.value.describe("fr").endswith("API CKAN : la réponse n'est pas un objet JSON")


def test_a_catalogue_page_keeps_the_last_of_repeated_keys_like_a_json_parser(server):
    server.route(r"/api/3/action/package_show", lambda request, match: Reply(200, (
        b'{"success": false, "result": {"resources": [{"url": "/a.xml", "format": "XML"}]}, '
        b'"result": {"resources": [{"url": "/b.xml", "format": "CSV", "format": "XML"}]}, "success": true}')))
    assert [d.guid for d in listed(server.url("/dataset/budgets"))] == [server.url("/b.xml")]


def test_escapes_in_a_catalogue_page_are_decoded_as_a_json_parser_does(server, monkeypatch):
    """yajl alone turns a lone surrogate into "?" (another address) and fails on a lone low one."""
    monkeypatch.setattr(streamed_json, "CHUNK_SIZE", 3)  # escapes cut across chunks too
    # A lone high surrogate, a pair then a lone low one, escaped quote and backslash, non-ASCII.
    paths = ["/budget-\ud800.xml", "/budget-\U0010ffff-\udc00.xml", '/a"b\\c\u00e9.xml', "/\U0001f600.xml"]
    page = json.dumps({"resources": [{"url": path, "format": "XML"} for path in paths]}).encode("ascii")
    assert b"\\ud800" in page and b'\\"' in page
    server.route(r"/api/1/datasets/budgets/", lambda request, match: Reply(200, page))
    assert [d.guid for d in listed(server.url("/datasets/budgets/"))] == [
        normalise_url(server.url(path)) for path in paths]


def test_a_page_is_refused_as_soon_as_its_documents_pass_the_cap(server):
    resources = b", ".join(b'{"url": "/%d.xml", "format": "XML"}' % number for number in range(10_000))
    server.route(r"/api/1/datasets/budgets/", lambda request, match: Reply(200, b'{"resources": [%s]}' % resources))
    with pytest.raises(SourceError) as caught:
        listed(server.url("/datasets/budgets/"), settings=SETTINGS.replace(network={"max_documents": 5}))
    assert "more than 5 documents" in caught.value.describe("en")


def test_the_server_message_of_a_large_error_page_is_kept(server):
    server.route(r"/api/1/datasets/budgets/", lambda request, match: Reply(503, (
        b'{"data": [%s], "message": "Service en maintenance", "status": 503}' % b", ".join([b"{}"] * 500_000))))
    server.route(r"/api/1/datasets/other/", lambda request, match: Reply(500, b'{"message": {"nested": "object"}}'))
    with pytest.raises(SourceError) as caught:
        listed(server.url("/datasets/budgets/"))
    assert caught.value.describe("en").endswith("udata API: error (HTTP 503) — Service en maintenance")
    with pytest.raises(SourceError) as caught:
        listed(server.url("/datasets/other/"))
    assert caught.value.describe("en").endswith("udata API: error (HTTP 500) — {…}")


# --- unreadable sources -------------------------------------------------------------------------


def test_loopback_source_is_refused_without_allow_private(server):
    server.put("/budgets/", b'<a href="bp.xml">BP</a>', content_type="text/html")
    ckan = CkanStandIn(server)
    udata = UdataStandIn(server)
    public_only = SETTINGS.replace(network={"allow_private": False})
    for page_url in (server.url("/budgets/"), ckan.dataset_url("x"), udata.dataset_url("x")):
        with pytest.raises(SourceError) as caught:
            listed(page_url, settings=public_only)
        assert "unreadable source: loopback address 127.0.0.1 refused" in caught.value.describe("en")
        assert "source illisible : adresse de bouclage (loopback) 127.0.0.1 refusée" in caught.value.describe("fr")
    assert server.exchanges == []


def test_unreachable_source_is_a_source_error_naming_the_url():
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        closed_port = placeholder.getsockname()[1]
    url = f"http://127.0.0.1:{closed_port}/budgets/"
    with pytest.raises(SourceError) as caught:
        listed(url)
    assert caught.value.source == url
    assert "could not connect" in caught.value.describe("en")


def test_server_error_on_the_source_is_a_source_error(server):
    server.route(r"/budgets/", lambda request, match: Reply(503, b"maintenance"))
    with pytest.raises(SourceError) as caught:
        listed(server.url("/budgets/"))
    assert caught.value.describe("en") == f"{server.url('/budgets/')}: unreadable source: server answered HTTP 503"
