"""The project's only outbound HTTP client, and mirror/cache resolution.

``http_get`` fetches one URL with the safeguards a server-side fetcher needs:
http/https only, connect and read timeouts, an overall time budget (connecting to
every address in turn, the request, the headers and the body all within it), a size cap,
redirects followed by hand (bounded), and a refusal to reach loopback, private,
link-local, multicast, reserved or unspecified addresses unless
``allow_private`` is set. ``open_location`` turns "base + relative path" into a
local file: the base is a mirror directory or an http(s) base URL whose files
are downloaded once into a cache.

Why the standard library (``http.client``) rather than ``requests``: the
address check is only meaningful if the connection goes to the very address
that was checked. ``requests`` resolves the host name again when it connects,
so a DNS answer that changes between check and connection (DNS rebinding) would
slip through; pinning the address there needs adapter internals. Here the host
name is resolved once, every address is checked, and the socket is opened to a
checked address while TLS still verifies the certificate against the host
name. Consequence: proxy environment variables are not used (a proxy would
resolve names itself and defeat the check).
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import ipaddress
import os
import re
import shutil
import socket
import ssl
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast
from urllib.parse import quote, urljoin, urlsplit
from urllib.request import url2pathname

from ckanext.budgetod.core.errors import BudgetodError
from ckanext.budgetod.core.messages import Message
from ckanext.budgetod.core.settings import DEFAULT_HTTP_TIMEOUT, DEFAULT_MAX_DOCUMENT_SIZE, Settings

DEFAULT_TIMEOUT = DEFAULT_HTTP_TIMEOUT
DEFAULT_MAX_BYTES = DEFAULT_MAX_DOCUMENT_SIZE
DEFAULT_MAX_REDIRECTS = 5
# A server dribbling one byte per read timeout (headers or body) must not hold a worker forever.
DEFAULT_TOTAL_TIMEOUT = 600.0
# Bodies above this size go to a temporary file instead of memory.
DEFAULT_MEMORY_LIMIT = 4 * 2**20
USER_AGENT = "ckanext-budgetod"

_CHUNK_SIZE = 64 * 1024
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_GONE_STATUSES = frozenset({404, 410})
# Headers that must not follow a redirect to another origin.
_CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
# One path segment of a relative location: no "." / "..", no hidden files, no
# separators, no percent-escapes; enough for "2018/M14/M14_COM_SUP3500/planDeCompte.xml".
_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")
# Special-purpose blocks that IANA's registries mark "not globally reachable" and that Python's
# ipaddress (3.10-3.12) still calls global; judged here so that every Python version agrees.
_SPECIAL_PURPOSE = tuple(ipaddress.ip_network(block) for block in (
    "192.0.0.0/29", "192.0.0.8/32", "192.0.0.170/31",  # IETF protocol assignments (192.0.0.9, .10 are global)
    "64:ff9b:1::/48",  # local-use IPv4/IPv6 translation (RFC 8215)
    "100:0:0:1::/64",  # dummy IPv6 prefix (RFC 9780)
    "3fff::/20",  # documentation (RFC 9637)
    "5f00::/16",  # segment routing SIDs (RFC 9602)
))
_URL_PATH_SAFE = "/%:@!$&'()*+,;=~"


class FetchError(BudgetodError):
    """A location could not be fetched; ``source`` is the URL or path, ``cause`` says why."""


class NotFound(FetchError):
    """The location does not exist (missing file, HTTP 404 or 410)."""


class RefusedLocation(FetchError):
    """The location is refused before any connection: scheme, address or unsafe path."""


class FetchTimeout(FetchError):
    """Connecting, reading or the whole transfer took longer than allowed."""


class BodyTooLarge(FetchError):
    """The response body is larger than the allowed size."""


@dataclass
class HttpResponse:
    """Outcome of ``http_get``: status, final URL, headers and body (memory or temporary file).

    Header names are lower-cased. A body larger than the memory limit is in
    ``body_path`` (a temporary file the caller moves with ``save_to`` or drops
    with ``discard``; using the response as a context manager discards it).
    """

    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    size: int
    sha256: str
    body: bytes | None = None
    body_path: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    def content(self) -> bytes:
        if self.body_path is not None:
            return Path(self.body_path).read_bytes()
        return self.body or b""

    def raise_for_status(self) -> None:
        """Raise NotFound for 404/410 and FetchError for any other status >= 400."""
        if self.status in _GONE_STATUSES:
            raise NotFound(self.final_url, Message("fetch_not_found_http", status=self.status))
        if self.status >= 400:
            raise FetchError(self.final_url, Message("fetch_server_answered_http", status=self.status))

    def save_to(self, destination: str | os.PathLike[str]) -> None:
        """Write the body to ``destination`` atomically (temporary file in the same directory + os.replace)."""
        destination = Path(destination)
        destination.parent.mkdir(parents=True, exist_ok=True)
        if self.body_path is not None:
            try:
                os.replace(self.body_path, destination)
                self.body_path = None
                return
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                # The spool file is on another file system: copy below, then drop it.
        partial = _temporary_file(destination.parent)
        try:
            with partial:
                if self.body_path is not None:
                    with open(self.body_path, "rb") as spooled:
                        shutil.copyfileobj(spooled, partial)
                else:
                    partial.write(self.body or b"")
            os.replace(partial.name, destination)
        except BaseException:
            _remove_quietly(partial.name)
            raise
        self.discard()

    def discard(self) -> None:
        if self.body_path is not None:
            _remove_quietly(self.body_path)
            self.body_path = None

    def __enter__(self) -> HttpResponse:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.discard()


def address_refusal_reason(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> Message | None:
    """Why ``address`` is not a public destination, or None if it is public.

    IPv6 forms that carry an IPv4 address (IPv4-mapped, NAT64, 6to4) are judged
    by that IPv4 address, so ``::ffff:127.0.0.1`` is loopback.
    """
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return address_refusal_reason(embedded)
    if address.is_unspecified:
        return Message("fetch_unspecified_address")
    if address.is_loopback:
        return Message("fetch_loopback_address")
    if address.is_link_local:
        return Message("fetch_link_local_address")
    # fec0::/10 is deprecated (RFC 3879) but still routed inside some sites; Python counts it global.
    if address.version == 6 and address.is_site_local:
        return Message("fetch_site_local_address_ipv6_fec0")
    if address.is_multicast:
        return Message("fetch_multicast_address")
    if address.is_reserved:
        return Message("fetch_reserved_address")
    if address.is_private:
        return Message("fetch_private_address")
    if any(address in block for block in _SPECIAL_PURPOSE if block.version == address.version):
        return Message("fetch_special_purpose_address_not_globally")
    if not address.is_global:
        return Message("fetch_address_not_globally_routable")
    return None


def _embedded_ipv4(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):  # version 4: nothing embedded
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int
    request_path: str

    @classmethod
    def parse(cls, url: str) -> Target:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise RefusedLocation(url, Message("fetch_invalid_url", exc=exc)) from None
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise RefusedLocation(url, Message("fetch_scheme_refused_only_http_https",
                scheme=scheme or Message("none_given")))
        if not parts.hostname:
            raise RefusedLocation(url, Message("fetch_url_without_host_name"))
        # Percent-encode what a redirect may carry raw (non-ASCII, spaces); keep existing escapes.
        request_path = quote(parts.path or "/", safe=_URL_PATH_SAFE)
        if parts.query:
            request_path += "?" + quote(parts.query, safe=_URL_PATH_SAFE + "?")
        return cls(url, scheme, parts.hostname, port or (443 if scheme == "https" else 80), request_path)

    @property
    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port


# A socket address as getaddrinfo gives it: (host, port) for IPv4, (host, port, flowinfo, scope_id) for IPv6.
_SocketAddress = tuple[str, int] | tuple[str, int, int, int] | tuple[int, bytes]
CheckedAddress = tuple[int, _SocketAddress]  # (address family, socket address)


def checked_addresses(target: Target, allow_private: bool) -> list[CheckedAddress]:
    """Resolve the host once and check every address; the connection will use only these."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(target.url, Message("fetch_host_name_could_not_resolved", host=target.host, exc=exc)) from None
    checked: list[CheckedAddress] = []
    for family, _type, _proto, _canonname, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])  # drop an IPv6 zone index
        if not allow_private:
            reason = address_refusal_reason(address)
            if reason is not None:
                raise RefusedLocation(target.url, Message("fetch_refused", reason=reason, address=address))
        if (family, sockaddr) not in checked:
            checked.append((family, sockaddr))
    return checked


class _BudgetExceeded(TimeoutError):
    """The transfer's overall time budget ran out (connect, headers and body together)."""


# The mixin's methods call the socket's: type checkers see it as the socket it is mixed into.
if TYPE_CHECKING:
    _SocketBase = socket.socket
else:
    _SocketBase = object


class _Budgeted(_SocketBase):
    """Socket I/O bounded both per operation and by the whole transfer's deadline.

    http.client reads the status line and headers through many small reads: a per-read timeout
    alone lets a server sending one byte per timeout hold a worker forever. Each read and write
    here waits at most the time left before the deadline.
    """

    _deadline = float("inf")
    _io_timeout: float | None = DEFAULT_TIMEOUT

    def budget(self, deadline: float, io_timeout: float | None) -> None:
        self._deadline, self._io_timeout = deadline, io_timeout
        self._bound()

    def _bound(self) -> None:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise _BudgetExceeded("total time budget exceeded")
        self.settimeout(remaining if self._io_timeout is None else min(self._io_timeout, remaining))

    def recv(self, *args: Any, **kwargs: Any) -> bytes:
        self._bound()
        return super().recv(*args, **kwargs)

    def recv_into(self, *args: Any, **kwargs: Any) -> int:
        self._bound()
        return super().recv_into(*args, **kwargs)

    def send(self, *args: Any, **kwargs: Any) -> int:
        self._bound()
        return super().send(*args, **kwargs)

    def sendall(self, *args: Any, **kwargs: Any) -> None:
        self._bound()
        return super().sendall(*args, **kwargs)


class _BudgetedSocket(_Budgeted, socket.socket):
    pass


class _BudgetedSSLSocket(_Budgeted, ssl.SSLSocket):
    pass


def total_time_exceeded(url: str) -> FetchTimeout:
    return FetchTimeout(url, Message("fetch_total_time_exchange_exceeded_connection"))


class PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP connection opened to already checked addresses instead of resolving the host again.

    ``deadline`` (``time.monotonic()`` value) bounds the whole exchange: connecting to every
    address in turn, sending the request, reading the headers and the body.
    """

    def __init__(self, target: Target, addresses: list[CheckedAddress], connect_timeout: float, read_timeout: float, *,
                 deadline: float):
        super().__init__(target.host, target.port)
        self._target = target
        self._addresses = addresses
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._deadline = deadline

    def connect(self) -> None:
        failures, timeouts = [], 0
        for family, sockaddr in self._addresses:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise total_time_exceeded(self._target.url)
            sock = _BudgetedSocket(family, socket.SOCK_STREAM)
            sock.settimeout(min(self._connect_timeout, remaining))
            try:
                sock.connect(sockaddr)
            except OSError as exc:
                sock.close()
                timed_out = isinstance(exc, TimeoutError)
                timeouts += timed_out
                failures.append(f"{sockaddr[0]}: {'timeout' if timed_out else exc.strerror or exc}")
                continue
            try:
                sock.budget(self._deadline, self._read_timeout)
            except _BudgetExceeded:
                sock.close()
                raise total_time_exceeded(self._target.url) from None
            self.sock = sock
            return
        if time.monotonic() >= self._deadline:
            raise total_time_exceeded(self._target.url)
        if timeouts == len(failures):
            raise FetchTimeout(self._target.url, Message("fetch_connection_timed_out_s",
                _connect_timeout=self._connect_timeout))
        detail = "; ".join(failures)
        raise FetchError(self._target.url, Message("fetch_could_not_connect", detail=detail))


class PinnedHTTPSConnection(PinnedHTTPConnection):
    default_port = 443

    def connect(self) -> None:
        super().connect()
        # A fresh default context per connection: system trust store, certificate
        # and host name verification against the URL's host, not the pinned address.
        context = ssl.create_default_context()
        # The TLS socket keeps the deadline; the handshake is bounded by the time left.
        context.sslsocket_class = _BudgetedSSLSocket
        sock = cast(_BudgetedSSLSocket, context.wrap_socket(self.sock, server_hostname=self.host))
        sock.budget(self._deadline, self._read_timeout)
        self.sock = sock


def http_get(
    url: str,
    *,
    timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
    allow_private: bool = False,
    headers: Mapping[str, str] | None = None,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    if_none_match: str | None = None,
    if_modified_since: str | None = None,
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
    spool_dir: str | os.PathLike[str] | None = None,
) -> HttpResponse:
    """GET ``url`` safely and return the final response, whatever its status.

    ``timeout`` is one number for connect and each read, or ``(connect, read)``.
    ``if_none_match`` / ``if_modified_since`` make a conditional request; a 304
    comes back as a response with ``not_modified`` true. Bodies larger than
    ``memory_limit`` are spooled to a temporary file in ``spool_dir`` (default:
    the system temporary directory); put it on the destination's file system
    so ``save_to`` is a rename. Raises FetchError (or a subclass) naming the URL.
    """
    connect_timeout, read_timeout = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    deadline = time.monotonic() + total_timeout
    request_headers = {"User-Agent": USER_AGENT, "Accept": "*/*"}
    if if_none_match:
        request_headers["If-None-Match"] = if_none_match
    if if_modified_since:
        request_headers["If-Modified-Since"] = if_modified_since
    overridden = {name.lower() for name in headers or {}}  # the caller's headers win, whatever their case
    request_headers = {name: value for name, value in request_headers.items() if name.lower() not in overridden}
    request_headers.update(headers or {})
    request_headers["Connection"] = "close"

    target = Target.parse(url)
    for _hop in range(max_redirects + 1):
        addresses = checked_addresses(target, allow_private)
        connection_class = PinnedHTTPSConnection if target.scheme == "https" else PinnedHTTPConnection
        connection = None
        try:
            connection = connection_class(target, addresses, connect_timeout, read_timeout, deadline=deadline)
            connection.request("GET", target.request_path, headers=request_headers)
            response = connection.getresponse()
            location = response.getheader("Location")
            if response.status in _REDIRECT_STATUSES and location:
                next_target = Target.parse(urljoin(target.url, location.strip()))
                if next_target.origin != target.origin:
                    request_headers = {name: value for name, value in request_headers.items()
                                       if name.lower() not in _CREDENTIAL_HEADERS}
                target = next_target
                continue
            size, digest, body, body_path = read_body(response, target.url, max_bytes, memory_limit, spool_dir)
            return HttpResponse(
                url=url,
                final_url=target.url,
                status=response.status,
                headers={name.lower(): value for name, value in response.getheaders()},
                size=size,
                sha256=digest,
                body=body,
                body_path=body_path,
            )
        except TimeoutError:
            if time.monotonic() >= deadline:
                raise total_time_exceeded(target.url) from None
            raise FetchTimeout(target.url, Message("fetch_read_timed_out_s", read_timeout=read_timeout)) from None
        except ssl.SSLError as exc:
            detail = getattr(exc, "verify_message", None) or exc.reason or exc
            raise FetchError(target.url, Message("fetch_tls_failure", detail=detail)) from None
        except (OSError, ValueError, http.client.HTTPException) as exc:
            raise FetchError(target.url, Message("fetch_http_exchange_failed", exc=exc)) from None
        finally:
            if connection is not None:
                connection.close()
    raise FetchError(url, Message("fetch_more_than_redirects", max_redirects=max_redirects))


def read_body(response: http.client.HTTPResponse, url: str, max_bytes: int, memory_limit: int,
              spool_dir: str | os.PathLike[str] | None) -> tuple[int, str, bytes | None, str | None]:
    """Stream the body: size cap (declared and actual), sha256, spooling. The connection's socket
    enforces the time budget (see ``PinnedHTTPConnection``). Returns (size, sha256 hex digest,
    body in memory or None, spooled file path or None)."""
    declared = (response.getheader("Content-Length") or "").strip()
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(url, max_bytes)
    # The body length HTTP promises: http.client's reading of Content-Length, 0 for a 204, a 304
    # or a HEAD, None when unknown (chunked, or read to the connection's end).
    promised = response.length
    digest = hashlib.sha256()
    size = 0
    in_memory = bytearray()
    spool = None
    try:
        while True:
            # read1 returns what has arrived: read() would wait for a whole chunk, so a server
            # dribbling one byte per read timeout could hold the worker far past the deadline.
            chunk = response.read1(_CHUNK_SIZE)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise _too_large(url, max_bytes)
            digest.update(chunk)
            if spool is None and size > memory_limit:
                spool = _temporary_file(spool_dir)
                spool.write(in_memory)
                in_memory = bytearray()
            if spool is not None:
                spool.write(chunk)
            else:
                in_memory += chunk
    except BaseException:
        if spool is not None:
            spool.close()
            _remove_quietly(spool.name)
        raise
    if spool is not None:
        spool.close()
    if promised is not None and size != promised:
        # The connection closed early: a shortened body must not pass for the document.
        if spool is not None:
            _remove_quietly(spool.name)
        raise FetchError(url, Message("fetch_truncated_response_bytes_received_announced",
            size=size, promised=promised))
    if spool is not None:
        return size, digest.hexdigest(), None, spool.name
    return size, digest.hexdigest(), bytes(in_memory), None


def file_digest(path: str, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks (documents may be large)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(_CHUNK_SIZE), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _too_large(url: str, max_bytes: int) -> BodyTooLarge:
    return BodyTooLarge(url, Message("fetch_response_larger_than_byte_limit", max_bytes=max_bytes))


def _temporary_file(directory: str | os.PathLike[str] | None) -> IO[bytes]:
    if directory is not None:
        os.makedirs(directory, exist_ok=True)
    return tempfile.NamedTemporaryFile(dir=directory, prefix=".budgetod-", suffix=".part", delete=False)


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def open_location(base: str, relative: str, settings: Settings, *, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Local file path for ``relative`` under ``base``.

    ``base`` is a local directory (a mirror; ``file://`` accepted) or an http(s)
    base URL (a mirror or the official site). URLs are downloaded, under the
    settings' network limits and with at most ``max_bytes``, once into
    ``settings.download_cache_dir`` and served from there
    afterwards, without revalidation: the files are versioned by their path
    (year, norm, schema version); delete the cache to refresh it. ``relative``
    must be plain "/"-separated names, so it can neither leave ``base`` nor the
    cache. Raises NotFound when the file does not exist, RefusedLocation for an
    unsafe path, scheme or address, FetchError otherwise.
    """
    segments = _safe_segments(base, relative)
    parts = urlsplit(base)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return _cached_download(base, segments, settings, max_bytes)
    if scheme == "file":
        return _local_file(url2pathname(parts.path), segments)
    if len(scheme) > 1:  # one letter would be a Windows drive, i.e. a local path
        raise RefusedLocation(base, Message("fetch_unsupported_scheme_local_directory_http", scheme=scheme))
    return _local_file(base, segments)


def _safe_segments(base: str, relative: str) -> list[str]:
    segments = relative.split("/")
    if not relative or not all(_SAFE_SEGMENT.fullmatch(segment) for segment in segments):
        raise RefusedLocation(f"{base} + {relative!r}", Message("fetch_relative_path_refused_plain_names"))
    return segments


def _local_file(directory: str, segments: list[str]) -> str:
    root = Path(directory).expanduser()
    if not root.is_dir():
        raise FetchError(directory, Message("fetch_mirror_not_existing_directory"))
    path = root.joinpath(*segments)
    try:
        present = path.is_file()
    except OSError:  # a path longer than the system allows: no such file either
        present = False
    if not present:
        raise NotFound(str(path), Message("fetch_file_missing_from_mirror"))
    return str(path)


def _cached_download(base: str, segments: list[str], settings: Settings, max_bytes: int) -> str:
    parts = urlsplit(base)
    if parts.query or parts.fragment:
        raise RefusedLocation(base, Message("fetch_base_url_cannot_have_query"))
    base_url = base.rstrip("/")
    url = base_url + "/" + "/".join(segments)
    # One directory per base URL: readable host name plus a hash of the whole base,
    # so two mirrors never share files and nothing from the URL becomes a path.
    host_label = re.sub(r"[^A-Za-z0-9.-]", "_", parts.hostname or "host")
    base_key = hashlib.sha256(base_url.encode("utf-8")).hexdigest()[:16]
    cached = Path(settings.download_cache_dir).joinpath(f"{host_label}-{base_key}", *segments)
    if cached.is_file():
        return str(cached)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FetchError(str(cached.parent), Message("fetch_unusable_cache_directory", strerror=exc.strerror)) from None
    with http_get(url, timeout=settings.network.timeout, max_bytes=max_bytes,
                  allow_private=settings.network.allow_private, memory_limit=0, spool_dir=cached.parent) as response:
        response.raise_for_status()
        if response.status != 200:
            raise FetchError(response.final_url, Message("fetch_unexpected_response_http", status=response.status))
        response.save_to(cached)
    return str(cached)
