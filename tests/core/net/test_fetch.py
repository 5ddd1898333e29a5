"""Tests for the outbound HTTP client and mirror/cache resolution.

Everything runs against a local server on 127.0.0.1 (port 0): no other network
access. Success paths pass ``allow_private=True``; refusals are checked without it.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ckanext.budgetod.core import messages
from ckanext.budgetod.core.errors import BudgetodError
from ckanext.budgetod.core.net import fetch
from ckanext.budgetod.core.net.fetch import (
    BodyTooLarge,
    FetchError,
    FetchTimeout,
    NotFound,
    RefusedLocation,
    http_get,
    open_location,
)
from ckanext.budgetod.core.settings import CACHE_DIR_ENV, NetworkLimits, Settings
from tests.support.http_site import start_site, stop_site
from tests.support.shared import PLANS_DIR

PLAN_RELATIVE = "2018/M14/M14_COM_SUP3500/planDeCompte.xml"
# Local mirrors use no cache nor network.
LOCAL = Settings()


@pytest.fixture(autouse=True)
def english_messages(monkeypatch):
    """Error texts follow $BUDGETOD_LANG: pin it so ``match=`` sees the English text."""
    monkeypatch.setenv(messages.LANGUAGE_ENV, "en")


@pytest.fixture
def never_connect(monkeypatch):
    """Fail the test if any connection is attempted (refusals must come first)."""

    def refuse(self):
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(fetch.PinnedHTTPConnection, "connect", refuse)


# --- http_get: success paths -------------------------------------------------


def test_get_returns_status_body_headers_and_sha256(site):
    site.files["a.txt"] = b"bonjour"
    response = http_get(site.url("/files/a.txt"), allow_private=True)
    assert response.status == 200 and response.ok
    assert response.content() == b"bonjour"
    assert response.size == 7
    assert response.sha256 == hashlib.sha256(b"bonjour").hexdigest()
    assert response.final_url == response.url == site.url("/files/a.txt")
    assert response.etag and response.last_modified
    assert site.seen_headers[-1]["user-agent"] == fetch.USER_AGENT


def test_conditional_request_reports_not_modified(site):
    site.files["a.txt"] = b"bonjour"
    first = http_get(site.url("/files/a.txt"), allow_private=True)
    again = http_get(site.url("/files/a.txt"), allow_private=True,
                     if_none_match=first.etag, if_modified_since=first.last_modified)
    assert again.status == 304 and again.not_modified
    assert again.content() == b""
    assert site.seen_headers[-1]["if-modified-since"] == first.last_modified


def test_large_body_is_spooled_to_a_temporary_file(site, tmp_path):
    site.files["big.bin"] = bytes(range(256)) * 40
    with http_get(site.url("/files/big.bin"), allow_private=True,
                  memory_limit=1000, spool_dir=tmp_path) as response:
        assert response.body is None
        assert Path(response.body_path).parent == tmp_path
        assert response.content() == site.files["big.bin"]
        assert response.sha256 == hashlib.sha256(site.files["big.bin"]).hexdigest()
    assert list(tmp_path.iterdir()) == []  # leaving the context discards the spool file


def test_save_to_writes_atomically_and_moves_the_spool_file(site, tmp_path):
    site.files["big.bin"] = b"y" * 5000
    response = http_get(site.url("/files/big.bin"), allow_private=True, memory_limit=10, spool_dir=tmp_path)
    destination = tmp_path / "out" / "big.bin"
    response.save_to(destination)
    assert destination.read_bytes() == b"y" * 5000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_body_exactly_at_the_size_cap_is_accepted(site):
    response = http_get(site.url("/stream?size=3000"), allow_private=True, max_bytes=3000)
    assert response.size == 3000


# --- http_get: redirects -----------------------------------------------------


def test_redirects_are_followed_and_final_url_reported(site):
    site.files["b.txt"] = b"here"
    response = http_get(site.url("/redirect?to=/files/b.txt&status=301"), allow_private=True)
    assert response.content() == b"here"
    assert response.final_url == site.url("/files/b.txt")
    assert response.url == site.url("/redirect?to=/files/b.txt&status=301")


def test_redirect_to_a_non_ascii_path_is_percent_encoded(site):
    site.files["caf%C3%A9%20au%20lait.txt"] = b"coffee"  # as the server sees the request path
    response = http_get(site.url("/redirect?to=/files/caf%C3%A9%20au%20lait.txt"), allow_private=True)
    assert response.content() == b"coffee"


def test_redirect_loop_is_bounded(site):
    with pytest.raises(FetchError, match="redirect"):
        http_get(site.url("/loop"), allow_private=True, max_redirects=3)
    assert site.hits["/loop"] == 4


def test_redirect_to_another_scheme_is_refused(site):
    with pytest.raises(RefusedLocation, match="file"):
        http_get(site.url("/redirect?to=file:///etc/passwd"), allow_private=True)


def test_redirect_to_loopback_is_refused_even_after_a_public_hop(site, monkeypatch):
    # Pretend 127.0.0.1 is a public server: the redirect to another loopback
    # address must be checked again and refused before connecting.
    real_policy = fetch.address_refusal_reason
    monkeypatch.setattr(fetch, "address_refusal_reason",
                        lambda address: None if str(address) == "127.0.0.1" else real_policy(address))
    port = urlsplit(site.base_url).port
    with pytest.raises(RefusedLocation, match=r"127\.0\.0\.2") as caught:
        http_get(site.url(f"/redirect?to=http://127.0.0.2:{port}/files/a"))
    assert "loopback" in str(caught.value)
    assert site.hits["/redirect"] == 1 and site.hits["/files/a"] == 0


def test_credentials_do_not_follow_a_cross_origin_redirect(site):
    port = urlsplit(site.base_url).port
    same_origin = http_get(site.url("/redirect?to=/echo-headers"), allow_private=True,
                           headers={"Authorization": "Bearer secret"})
    assert json.loads(same_origin.content())["authorization"] == "Bearer secret"
    other_origin = http_get(site.url(f"/redirect?to=http://localhost:{port}/echo-headers"),
                            allow_private=True, headers={"Authorization": "Bearer secret"})
    assert "authorization" not in json.loads(other_origin.content())


# --- http_get: refusals before connecting ---------------------------------------


@pytest.mark.parametrize("url, reason", [
    ("http://127.0.0.1/x", "loopback"),
    ("http://127.8.9.10/x", "loopback"),
    ("http://localhost/x", "loopback"),
    ("http://2130706433/x", "loopback"),  # 127.0.0.1 written as one integer
    ("http://[::1]/x", "loopback"),
    ("http://[::ffff:127.0.0.1]/x", "loopback"),  # IPv4-mapped IPv6
    ("http://[::ffff:10.0.0.1]/x", "private"),
    ("http://[64:ff9b::7f00:1]/x", "loopback"),  # NAT64 form of 127.0.0.1
    ("http://[2002:a00:1::]/x", "private"),  # 6to4 form of 10.0.0.1
    ("http://10.1.2.3/x", "private"),
    ("http://172.16.0.1/x", "private"),
    ("http://192.168.1.1/x", "private"),
    ("http://[fc00::1]/x", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[fe80::1]/x", "link-local"),
    ("http://[fec0::1]/x", "site-local"),  # deprecated, yet Python's ipaddress calls it global
    ("http://224.0.0.1/x", "multicast"),
    ("http://[ff02::1]/x", "multicast"),
    ("http://0.0.0.0/x", "unspecified"),
    ("http://[::]/x", "unspecified"),
    ("http://240.0.0.1/x", "reserved"),
    ("http://100.64.0.1/x", "not globally routable"),
    # IANA special-purpose blocks that Python's ipaddress calls global (3.11)
    ("http://192.0.0.8/x", "special-purpose"),
    ("http://[3fff::1]/x", "special-purpose"),
    ("http://[3fff:fff:ffff::1]/x", "special-purpose"),
    ("http://[5f00::1]/x", "special-purpose|reserved"),
    ("http://[64:ff9b:1::a00:1]/x", "special-purpose|reserved"),
])
def test_non_public_addresses_are_refused_before_connecting(url, reason, never_connect):
    with pytest.raises(RefusedLocation, match=reason) as caught:
        http_get(url)
    assert str(caught.value).startswith(url)


def test_loopback_server_gets_no_request_without_allow_private(site):
    with pytest.raises(RefusedLocation):
        http_get(site.url("/files/a.txt"))
    assert sum(site.hits.values()) == 0


@pytest.mark.parametrize("address", ["8.8.8.8", "2001:4860:4860::8888", "::ffff:8.8.8.8", "2002:808:808::",
                                     "192.0.0.9", "192.0.0.10"])
def test_public_addresses_are_accepted(address):
    assert fetch.address_refusal_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://127.0.0.1/", "//127.0.0.1/x",
                                 "http:///no-host"])
def test_only_http_and_https_urls_with_a_host_are_accepted(url, never_connect):
    with pytest.raises(RefusedLocation):
        http_get(url, allow_private=True)


# --- http_get: failures ---------------------------------------------------------


def test_declared_content_length_over_the_cap_is_refused_early(site):
    with pytest.raises(BodyTooLarge, match="1000"):
        http_get(site.url("/declared-huge"), allow_private=True, max_bytes=1000)


def test_streamed_body_over_the_cap_is_aborted_and_leaves_no_file(site, tmp_path):
    with pytest.raises(BodyTooLarge) as caught:
        http_get(site.url("/stream?size=50000"), allow_private=True,
                 max_bytes=20000, memory_limit=100, spool_dir=tmp_path)
    assert str(caught.value).startswith(site.url("/stream"))
    assert list(tmp_path.iterdir()) == []


def test_a_stalled_server_times_out(site):
    with pytest.raises(FetchTimeout, match="timed out") as caught:
        http_get(site.url("/stall"), allow_private=True, timeout=0.2)
    assert str(caught.value).startswith(site.url("/stall"))


def test_total_time_budget_is_enforced(site):
    site.files["a.txt"] = b"bonjour"
    with pytest.raises(FetchTimeout, match="total"):
        http_get(site.url("/files/a.txt"), allow_private=True, total_timeout=0)


def test_a_dribbling_server_is_cut_at_the_total_time_budget(site):
    started = time.monotonic()
    with pytest.raises(FetchTimeout, match="total"):
        http_get(site.url("/dribble"), allow_private=True, timeout=5, total_timeout=0.3)
    # Bounded by the budget, not by the (endless) body or a 64 KiB chunk at one byte per read.
    assert time.monotonic() - started < 3


def test_a_server_sending_its_headers_byte_by_byte_is_cut_at_the_total_time_budget(site):
    started = time.monotonic()
    with pytest.raises(FetchTimeout, match="total"):
        http_get(site.url("/slow-headers"), allow_private=True, timeout=5, total_timeout=0.3)
    assert time.monotonic() - started < 3


def test_connecting_to_every_address_in_turn_stays_within_the_total_time_budget(monkeypatch):
    """Each unanswered address would take the whole connect timeout: the budget covers them all."""
    attempts = []

    def unanswered(sock, address):
        attempts.append(sock.gettimeout())
        time.sleep(sock.gettimeout())
        raise TimeoutError("timed out")

    monkeypatch.setattr(fetch, "checked_addresses", lambda target, allow_private: [
        (socket.AF_INET, (f"192.0.2.{index}", 80)) for index in range(1, 6)])
    monkeypatch.setattr(socket.socket, "connect", unanswered)
    started = time.monotonic()
    with pytest.raises(FetchTimeout, match="total"):
        http_get("http://budget.example/x", timeout=(1, 1), total_timeout=0.4)
    assert time.monotonic() - started < 1
    assert all(timeout <= 0.4 for timeout in attempts)


def test_a_body_shorter_than_its_content_length_is_refused(site):
    with pytest.raises(FetchError, match="truncated") as caught:
        http_get(site.url("/truncated"), allow_private=True)
    assert str(caught.value).startswith(site.url("/truncated"))


def test_connection_refused_is_a_clear_fetch_error():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/x"
    with pytest.raises(FetchError, match="could not connect") as caught:
        http_get(url, allow_private=True)
    assert str(caught.value).startswith(url)
    assert isinstance(caught.value, BudgetodError)


def test_unresolvable_host_is_a_clear_fetch_error(monkeypatch):
    def no_such_host(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(fetch.socket, "getaddrinfo", no_such_host)
    with pytest.raises(FetchError, match="could not be resolved"):
        http_get("http://budget.example/x")


def test_error_causes_are_rendered_in_french_or_english(monkeypatch, never_connect):
    with pytest.raises(RefusedLocation) as caught:
        http_get("http://127.0.0.1/x")
    error = caught.value
    assert error.describe("fr") == "http://127.0.0.1/x: adresse de bouclage (loopback) 127.0.0.1 refusée"
    assert error.describe("en") == "http://127.0.0.1/x: loopback address 127.0.0.1 refused"
    monkeypatch.delenv(messages.LANGUAGE_ENV)
    assert str(error) == error.describe("fr")  # French by default


def test_http_errors_are_statuses_until_raise_for_status(site):
    response = http_get(site.url("/error"), allow_private=True)
    assert response.status == 500 and not response.ok
    with pytest.raises(FetchError, match="HTTP 500"):
        response.raise_for_status()
    with pytest.raises(NotFound):
        http_get(site.url("/nothing"), allow_private=True).raise_for_status()


# --- https ----------------------------------------------------------------------


@pytest.fixture
def tls_site(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl command not available to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server, site, thread = start_site(context)
    site.certificate = cert
    yield site
    stop_site(server, site, thread)


def test_https_verifies_the_certificate_against_the_host_name(tls_site, monkeypatch):
    tls_site.files["a.txt"] = b"secure"
    with pytest.raises(FetchError, match="TLS") as caught:
        http_get(tls_site.url("/files/a.txt"), allow_private=True)
    assert str(caught.value).startswith(tls_site.url("/files/a.txt"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_site.certificate))  # now trusted
    assert http_get(tls_site.url("/files/a.txt"), allow_private=True).content() == b"secure"


# --- open_location ------------------------------------------------------------


def cached_in(directory: Path, *, allow_private: bool = True) -> Settings:
    """Settings downloading into ``directory``, allowed to reach the loopback test site."""
    return Settings(cache_dir=str(directory), network=NetworkLimits(allow_private=allow_private))


def test_url_base_is_downloaded_once_into_the_cache(site, tmp_path):
    site.files["2018/M14/M14_COM_SUP3500/planDeCompte.xml"] = b"<plan/>"
    cache = tmp_path / "cache"
    first = open_location(site.url("/files"), PLAN_RELATIVE, cached_in(cache))
    second = open_location(site.url("/files/"), PLAN_RELATIVE, cached_in(cache))
    assert first == second
    assert Path(first).read_bytes() == b"<plan/>"
    assert Path(first).is_relative_to(cache)
    assert site.hits["/files/" + PLAN_RELATIVE] == 1  # the second call made no request
    assert not [p for p in cache.rglob("*") if p.name.endswith(".part")]


def test_the_command_lines_cache_dir_comes_from_the_environment(site, tmp_path, monkeypatch):
    site.files["schema.json"] = b"{}"
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "env-cache"))
    settings = Settings.from_environment().replace(network={"allow_private": True})
    path = open_location(site.url("/files"), "schema.json", settings)
    assert Path(path).is_relative_to(tmp_path / "env-cache")


def test_missing_remote_file_is_not_found_and_not_cached(site, tmp_path):
    with pytest.raises(NotFound) as caught:
        open_location(site.url("/files"), "2018/M14/NOPE/planDeCompte.xml", cached_in(tmp_path))
    assert "2018/M14/NOPE/planDeCompte.xml" in str(caught.value)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_server_error_is_a_fetch_error(site, tmp_path):
    with pytest.raises(FetchError, match="HTTP 500"):
        open_location(site.base_url, "error", cached_in(tmp_path))


def test_url_base_is_refused_on_loopback_without_allow_private(site, tmp_path):
    with pytest.raises(RefusedLocation):
        open_location(site.url("/files"), "schema.json", cached_in(tmp_path, allow_private=False))
    assert sum(site.hits.values()) == 0


def test_local_directory_mirror():
    path = open_location(str(PLANS_DIR), PLAN_RELATIVE, LOCAL)
    assert Path(path) == PLANS_DIR / PLAN_RELATIVE
    assert open_location(PLANS_DIR.as_uri(), PLAN_RELATIVE, LOCAL) == path
    with pytest.raises(NotFound, match="missing from the mirror"):
        open_location(str(PLANS_DIR), "2018/M14/NOPE/planDeCompte.xml", LOCAL)


def test_a_path_longer_than_the_system_allows_is_missing_from_the_mirror(tmp_path):
    with pytest.raises(NotFound, match="missing from the mirror"):
        open_location(str(tmp_path), "/".join(["M" * 200] * 30), LOCAL)


def test_mirror_that_is_not_a_directory_is_a_fetch_error(tmp_path):
    with pytest.raises(FetchError, match="not an existing directory"):
        open_location(str(tmp_path / "absent"), "x.xml", LOCAL)


@pytest.mark.parametrize("relative", [
    "../secret", "2018/../../etc/passwd", "/etc/passwd", "", "a//b", "a/", ".hidden", "a/./b",
    "a\\..\\b", "%2e%2e/x", "a/b?c", "a/b#c", "~root",
])
def test_unsafe_relative_paths_are_refused(relative, site, tmp_path):
    with pytest.raises(RefusedLocation, match="relative path refused"):
        open_location(str(tmp_path), relative, LOCAL)
    with pytest.raises(RefusedLocation, match="relative path refused"):
        open_location(site.url("/files"), relative, cached_in(tmp_path))
    assert sum(site.hits.values()) == 0


@pytest.mark.parametrize("base", ["ftp://127.0.0.1/mirror", "s3://bucket/plans"])
def test_unsupported_base_schemes_are_refused(base, tmp_path):
    with pytest.raises(RefusedLocation, match="unsupported scheme"):
        open_location(base, "x.xml", cached_in(tmp_path, allow_private=False))
