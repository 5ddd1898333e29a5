"""Client of the udata API v1 (data.gouv.fr), for the data.gouv.fr sync. Part of the CKAN-free core.

Transport. Requests go through the address checks of ``core.net.fetch`` (one DNS
resolution, every address checked, the socket opened to a checked address, so
loopback and private networks are refused unless ``allow_private``), with a
connect/read timeout, an overall time budget and a cap on response bodies.

API key. Sent as ``X-API-KEY`` (the swagger's ``securityDefinitions``) and
only to the origin (scheme, host, port) of ``base_url``: a redirect elsewhere
is followed without it for reads and refused for writes. It never appears in
logs, errors or ``repr``.

Paths. The API answers 308 to paths without their trailing slash, so
``request`` always adds it. 307/308 are followed with the same method and
body; 301/302/303 only for reads.

Retries. 429 (``Retry-After`` honoured, in seconds or as an HTTP date), 5xx,
timeouts and dropped connections are retried with exponential backoff and
jitter, at most ``max_attempts`` attempts in all; other 4xx never are. A
``Retry-After`` longer than ``backoff_max`` is not waited for: the error is
raised at once (``retryable`` true, ``retry_after`` set) so a job can be
rescheduled instead of holding a worker.

Ambiguous writes. A create (``POST`` of a new dataset, resource or upload) is
not idempotent: if the server may have applied it (5xx, timeout or connection
lost after the request was sent), it is NOT retried and
``AmbiguousWriteError`` is raised. The caller then looks for the object (the
sync searches its extras) before creating it again, so a create never silently
produces a duplicate. 429 and failures before the request was sent are retried
for every method. PUT, DELETE and the replacement of a resource's file give
the same result when repeated, so they are retried on every retryable failure;
``delete_*`` take "already gone" (404/410) as success.

Deleted datasets. udata soft-deletes: a deleted dataset answers 410 to anyone
who cannot edit it, and 200 with ``deleted`` set to its editors.
``get_dataset`` returns None in both cases, as for a 404; ``lookup_dataset``
tells the three states apart (``DatasetState``). A PUT carrying
``"deleted": null`` undeletes: ``update_dataset`` never sends ``deleted``,
``restore_dataset`` does it on purpose.
"""
from __future__ import annotations

import enum
import http.client
import json as jsonlib
import logging
import mimetypes
import os
import random
import secrets
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urljoin

from ckanext.budgetod.core.errors import BudgetodError
from ckanext.budgetod.core.messages import Message
from ckanext.budgetod.core.net.fetch import (
    USER_AGENT,
    FetchError,
    FetchTimeout,
    PinnedHTTPConnection,
    PinnedHTTPSConnection,
    RefusedLocation,
    Target,
    # The connection helpers of the project's HTTP client: the address checks and the
    # pinned connections exist once.
    checked_addresses,
    read_body,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://www.data.gouv.fr/api/1"
API_KEY_HEADER = "X-API-KEY"
MAX_REDIRECTS = 5
DEFAULT_TOTAL_TIMEOUT = 600.0

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_REDIRECTS_KEEPING_METHOD = frozenset({307, 308})
_REDIRECTS_FOR_READS = frozenset({301, 302, 303})
_UPLOAD_CHUNK = 256 * 1024
_DETAIL_LIMIT = 400


class UdataError(BudgetodError):
    """A udata API call failed. ``source`` is "METHOD URL"; ``cause`` a Message.

    ``status``: the HTTP status, None when no answer came. ``retryable``: trying
    again later may succeed. ``ambiguous``: the write may have been applied.
    ``errors``: the field errors of a 400 (``{"field": [...]}``), else None.
    ``retry_after``: seconds the server asked to wait, if it said so.
    """

    def __init__(self, source: object, cause: Message, *, status: int | None = None,
                 retryable: bool = False, ambiguous: bool = False, errors: dict[str, Any] | None = None,
                 retry_after: float | None = None):
        super().__init__(source, cause)
        self.status = status
        self.retryable = retryable
        self.ambiguous = ambiguous
        self.errors = errors
        self.retry_after = retry_after


class AmbiguousWriteError(UdataError):
    """A non-idempotent write failed in a way that does not say whether the server applied it."""


class DatasetState(enum.Enum):
    PRESENT = "present"
    MISSING = "missing"  # 404: never existed, or private and invisible to this key
    DELETED = "deleted"  # 410, or 200 with ``deleted`` set (the key can edit it)


@dataclass(frozen=True)
class DatasetLookup:
    state: DatasetState
    dataset: dict[str, Any] | None  # the document when the server returned one (present, or deleted seen by an editor)


@dataclass
class _Reply:
    status: int
    headers: dict[str, str]
    content: bytes
    url: str


# A multipart file: (filename, local path) or (filename, local path, content type).
_FileSpec = tuple[str, str | os.PathLike[str]] | tuple[str, str | os.PathLike[str], str]


@dataclass(frozen=True)
class _Body:
    """A request body that can be sent again (retries, redirects): ``chunks()`` restarts it."""

    content_type: str | None
    length: int
    chunks: Callable[[], Iterator[bytes]]

    @classmethod
    def empty(cls) -> _Body:
        return cls(None, 0, lambda: iter(()))

    @classmethod
    def of_json(cls, document: object) -> _Body:
        data = jsonlib.dumps(document, ensure_ascii=False).encode("utf-8")
        return cls("application/json", len(data), lambda: iter((data,)))

    @classmethod
    def multipart(cls, source: str, files: Mapping[str, _FileSpec]) -> _Body:
        """``files``: field name → (filename, local path[, content type]), streamed from disk."""
        boundary = "budgetod-" + secrets.token_hex(16)
        parts = []
        for field, spec in files.items():
            filename, path, *content_type = spec
            try:
                size = os.stat(path).st_size
            except OSError as exc:
                raise UdataError(source, Message("udata_file_upload_unreadable",
                    path=path, strerror=exc.strerror)) from None
            kind = content_type[0] if content_type else (mimetypes.guess_type(filename)[0]
                                                         or "application/octet-stream")
            head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{_form_quote(field)}\"; "
                    f"filename=\"{_form_quote(filename)}\"\r\nContent-Type: {kind}\r\n\r\n").encode()
            parts.append((head, Path(path), size))
        tail = f"--{boundary}--\r\n".encode("ascii")

        def chunks() -> Iterator[bytes]:
            for head, path, _size in parts:
                yield head
                with open(path, "rb") as handle:
                    while chunk := handle.read(_UPLOAD_CHUNK):
                        yield chunk
                yield b"\r\n"
            yield tail

        length = sum(len(head) + size + 2 for head, _path, size in parts) + len(tail)
        return cls(f"multipart/form-data; boundary={boundary}", length, chunks)


def _form_quote(value: str) -> str:
    # What browsers do in multipart names: no line breaks, double quotes escaped.
    return value.replace("\r", " ").replace("\n", " ").replace('"', "%22")


class UdataClient:
    """A udata API v1 client; see the module docstring for transport, retries and ambiguous writes.

    ``base_url`` is the API root, e.g. ``https://www.data.gouv.fr/api/1``.
    ``sleep`` and ``rng`` are injectable so tests observe the waits without waiting.
    ``writes`` counts the write requests sent (each attempt and redirect hop).
    """

    def __init__(self, base_url: str, api_key: str | None, *, timeout: float = 30, max_attempts: int = 6,
                 backoff_base: float = 0.5, backoff_max: float = 30, sleep: Callable[[float], None] = time.sleep,
                 allow_private: bool = False, max_bytes: int = 64 * 2**20,
                 total_timeout: float = DEFAULT_TOTAL_TIMEOUT, rng: random.Random | None = None):
        self.base_url = base_url.rstrip("/")
        self._base = _parse_target(self.base_url, self.base_url + "/")
        if api_key is not None and (not api_key or not api_key.isascii() or not api_key.isprintable()):
            raise UdataError(self.base_url, Message("udata_invalid_api_key_printable_ascii"))
        self._api_key = api_key
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.allow_private = allow_private
        self.max_bytes = max_bytes
        self.total_timeout = total_timeout
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.writes = 0

    def __repr__(self) -> str:
        return f"UdataClient({self.base_url!r}, api_key={'set' if self._api_key else 'none'})"

    # --- low level -------------------------------------------------------------------------

    def request(self, method: str, path: str, *, json: object = None, files: Mapping[str, _FileSpec] | None = None,
                params: Mapping[str, object] | None = None, idempotent: bool | None = None) -> object:
        """Call ``path`` (relative to ``base_url``, trailing slash added) and return the decoded JSON, None if empty.

        ``json`` is sent as the JSON body; ``files`` as multipart (field → (filename, path[, type])).
        ``idempotent`` defaults to true for every method but POST; it decides whether an
        ambiguous failure is retried (see the module docstring). Raises UdataError.
        """
        method = method.upper()
        url = self._url(path, params)
        source = f"{method} {url}"
        if files is not None:
            body = _Body.multipart(source, files)
        elif json is not None:
            body = _Body.of_json(json)
        else:
            body = _Body.empty()
        if idempotent is None:
            idempotent = method != "POST"
        attempt = 0
        while True:
            attempt += 1
            try:
                reply = self._exchange(method, url, body)
            except UdataError as failure:
                error = failure
            else:
                if 200 <= reply.status < 300:
                    return _decoded(source, reply)
                error = _status_error(f"{method} {reply.url}", reply)
                if not error.retryable:
                    raise error
            if error.ambiguous and not idempotent:
                raise AmbiguousWriteError(error.source, error.cause, status=error.status, retryable=True,
                                          ambiguous=True, errors=error.errors) from None
            if not error.retryable or attempt >= self.max_attempts:
                raise error
            if error.retry_after is not None and error.retry_after > self.backoff_max:
                raise error
            delay = error.retry_after if error.retry_after is not None else self._backoff(attempt)
            log.warning("udata: %s; attempt %d/%d, next in %.2f s",
                        error.describe("en"), attempt, self.max_attempts, delay)
            self._sleep(delay)

    def _url(self, path: str, params: Mapping[str, object] | None) -> str:
        if not path.startswith("/") or "?" in path or "#" in path:
            raise ValueError(f"API path expected, without query: {path!r}")
        if not path.endswith("/"):
            path += "/"
        url = self.base_url + path
        query = [(name, _query_value(value)) for name, value in (params or {}).items() if value is not None]
        return url + "?" + urlencode(query) if query else url

    def _backoff(self, attempt: int) -> float:
        """Exponential, capped, with jitter over the upper half so that waits never collapse to zero."""
        ceiling: float = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def _exchange(self, method: str, url: str, body: _Body) -> _Reply:
        """One attempt: send, follow redirects, read the answer. Transport failures raise UdataError."""
        target = _parse_target(f"{method} {url}", url)
        for _hop in range(MAX_REDIRECTS + 1):
            reply = self._send(method, target, body)
            location = reply.headers.get("location", "").strip()
            if not location or reply.status not in _REDIRECTS_KEEPING_METHOD | _REDIRECTS_FOR_READS:
                return reply
            source = f"{method} {target.url}"
            if reply.status in _REDIRECTS_FOR_READS and method != "GET":
                raise UdataError(source, Message("udata_unexpected_http_redirect_write",
                    status=reply.status), status=reply.status)
            next_target = _parse_target(source, urljoin(target.url, location))
            if next_target.origin != self._base.origin and method != "GET":
                raise UdataError(source, Message("udata_redirect_another_host_refused_write",
                    host=next_target.host), status=reply.status)
            target = next_target
        raise UdataError(f"{method} {url}", Message("fetch_more_than_redirects", max_redirects=MAX_REDIRECTS))

    def _send(self, method: str, target: Target, body: _Body) -> _Reply:
        source = f"{method} {target.url}"
        try:
            addresses = checked_addresses(target, self.allow_private)
        except RefusedLocation as exc:
            raise UdataError(source, exc.cause) from None
        except FetchError as exc:  # name resolution: may be transient
            raise UdataError(source, exc.cause, retryable=True) from None
        connection_class = PinnedHTTPSConnection if target.scheme == "https" else PinnedHTTPConnection
        # One budget for the whole exchange: connect (every address), request, headers and body.
        connection = connection_class(target, addresses, self.timeout, self.timeout,
                                      deadline=time.monotonic() + self.total_timeout)
        try:
            try:
                connection.connect()
            except ssl.SSLCertVerificationError as exc:
                raise UdataError(source, Message("udata_certificate_refused",
                    verify_message=exc.verify_message)) from None
            except FetchError as exc:
                raise UdataError(source, exc.cause, retryable=True) from None
            except OSError as exc:
                raise _transport_error(source, exc, ambiguous=False) from None
            headers = {"User-Agent": USER_AGENT, "Accept": "application/json", "Connection": "close",
                       "Content-Length": str(body.length)}
            if body.content_type:
                headers["Content-Type"] = body.content_type
            # The key goes to the API's own origin only, whatever redirects say.
            if self._api_key is not None and target.origin == self._base.origin:
                headers[API_KEY_HEADER] = self._api_key
            if method in _WRITE_METHODS:
                self.writes += 1
            try:
                connection.request(method, target.request_path, body=body.chunks(), headers=headers)
            except (OSError, http.client.HTTPException) as exc:
                # The request did not go out whole: the server cannot have acted on it.
                raise _transport_error(source, exc, ambiguous=False) from None
            try:
                response = connection.getresponse()
                _size, _digest, content, _path = read_body(response, target.url, self.max_bytes, self.max_bytes, None)
            except FetchTimeout as exc:
                raise UdataError(source, exc.cause, retryable=True, ambiguous=True) from None
            except FetchError as exc:  # body too large
                raise UdataError(source, exc.cause, status=response.status) from None
            except (OSError, http.client.HTTPException) as exc:
                raise _transport_error(source, exc, ambiguous=True) from None
            return _Reply(response.status, {name.lower(): value for name, value in response.getheaders()},
                          content or b"", target.url)
        finally:
            connection.close()

    def _request_object(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        """``request`` for an endpoint that answers a JSON object (a dataset, a resource, a zone)."""
        reply = self.request(method, path, **options)
        if not isinstance(reply, dict):
            raise UdataError(f"{method.upper()} {self._url(path, options.get('params'))}",
                             Message("udata_reply_not_json_object"))
        return reply

    # --- datasets --------------------------------------------------------------------------

    def lookup_dataset(self, id_or_slug: str) -> DatasetLookup:
        try:
            dataset = self._request_object("GET", f"/datasets/{_segment(id_or_slug)}/")
        except UdataError as error:
            if error.status == 404:
                return DatasetLookup(DatasetState.MISSING, None)
            if error.status == 410:
                return DatasetLookup(DatasetState.DELETED, None)
            raise
        if dataset.get("deleted"):
            return DatasetLookup(DatasetState.DELETED, dataset)
        return DatasetLookup(DatasetState.PRESENT, dataset)

    def get_dataset(self, id_or_slug: str) -> dict[str, Any] | None:
        """The dataset, or None when it does not exist or is deleted (``lookup_dataset`` tells which)."""
        lookup = self.lookup_dataset(id_or_slug)
        return lookup.dataset if lookup.state is DatasetState.PRESENT else None

    def create_dataset(self, payload: dict[str, Any]) -> dict[str, Any]:
        """POST /datasets/ (201). May raise AmbiguousWriteError: look for the dataset before retrying."""
        return self._request_object("POST", "/datasets/", json=payload)

    def update_dataset(self, dataset_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """PUT of the whole dataset: udata resets the fields left out, so send what was read, merged.

        ``deleted`` is left out of the body: udata restores a deleted dataset when a PUT
        carries ``"deleted": null``, which any document read earlier does. A dataset
        deleted meanwhile thus answers 410 (UdataError) instead of coming back.
        """
        body = {key: value for key, value in payload.items() if key != "deleted"}
        return self._request_object("PUT", f"/datasets/{_segment(dataset_id)}/", json=body)

    def restore_dataset(self, dataset_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Undelete a soft-deleted dataset (a PUT with ``"deleted": null``), writing ``payload`` as its content."""
        return self._request_object("PUT", f"/datasets/{_segment(dataset_id)}/", json={**payload, "deleted": None})

    def delete_dataset(self, dataset_id: str) -> None:
        """Soft-delete the dataset; one already deleted or missing counts as done."""
        self._delete(f"/datasets/{_segment(dataset_id)}/")

    def iter_organization_datasets(self, org_id_or_slug: str, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Every dataset of the organisation (private ones too if the key's user is a member), page by page.

        Pages are asked by number, oldest first, on ``base_url`` (``next_page`` only
        says whether there is more: its host is not trusted with the key). A dataset
        seen on an earlier page is not yielded twice when the listing shifts.
        """
        path = f"/organizations/{_segment(org_id_or_slug)}/datasets/"
        seen: set[str] = set()
        page = 1
        while True:
            listing = self.request("GET", path, params={"page": page, "page_size": page_size, "sort": "created"})
            if not isinstance(listing, dict) or not isinstance(listing.get("data"), list):
                raise UdataError(f"GET {self._url(path, None)}", Message("udata_result_page_without_data_list"))
            for dataset in listing["data"]:
                if dataset.get("id") not in seen:
                    seen.add(dataset.get("id"))
                    yield dataset
            if not listing.get("next_page") or not listing["data"]:
                return
            page += 1

    # --- resources -------------------------------------------------------------------------

    def upload_resource(self, dataset_id: str, file_path: str | os.PathLike[str], filename: str) -> dict[str, Any]:
        """Upload a file as a new resource (multipart field ``file``); the server names it after ``filename``.

        May raise AmbiguousWriteError, like every create.
        """
        return self._request_object("POST", f"/datasets/{_segment(dataset_id)}/upload/",
                            files={"file": (filename, file_path)})

    def upload_resource_file(self, dataset_id: str, resource_id: str, file_path: str | os.PathLike[str],
                             filename: str) -> dict[str, Any]:
        """Replace the file of an existing resource; repeating it gives the same result, so it is retried."""
        return self._request_object("POST",
                                    f"/datasets/{_segment(dataset_id)}/resources/{_segment(resource_id)}/upload/",
                            files={"file": (filename, file_path)}, idempotent=True)

    def create_resource(self, dataset_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A remote resource (the endpoint accepts ``filetype`` "remote" only; set when absent)."""
        return self._request_object("POST", f"/datasets/{_segment(dataset_id)}/resources/",
                            json={"filetype": "remote", **payload})

    def update_resource(self, dataset_id: str, resource_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        return self._request_object("PUT", f"/datasets/{_segment(dataset_id)}/resources/{_segment(resource_id)}/",
                            json=payload)

    def delete_resource(self, dataset_id: str, resource_id: str) -> None:
        """Delete the resource; one already missing counts as done."""
        self._delete(f"/datasets/{_segment(dataset_id)}/resources/{_segment(resource_id)}/")

    # --- reference data --------------------------------------------------------------------

    def get_organization(self, id_or_slug: str) -> dict[str, Any] | None:
        return self._get_or_none(f"/organizations/{_segment(id_or_slug)}/")

    def spatial_zone(self, insee_code: str, level: str) -> dict[str, Any] | None:
        """The udata zone of a French INSEE code, as a GeoJSON feature (its ``id`` goes in ``spatial.zones``).

        ``level``: "commune", "departement", "region", "epci" or a full udata level
        ("fr:commune"); the zone id is ``fr:<level>:<code>``. None when udata has no such zone.
        """
        level = level if level.startswith(("fr:", "country")) else f"fr:{level}"
        return self._get_or_none(f"/spatial/zone/{_segment(f'{level}:{insee_code.strip()}')}/")

    def _get_or_none(self, path: str) -> dict[str, Any] | None:
        try:
            return self._request_object("GET", path)
        except UdataError as error:
            if error.status in (404, 410):
                return None
            raise

    def _delete(self, path: str) -> None:
        try:
            self.request("DELETE", path)
        except UdataError as error:
            if error.status not in (404, 410):
                raise


def _parse_target(source: str, url: str) -> Target:
    try:
        return Target.parse(url)
    except RefusedLocation as exc:
        raise UdataError(source, exc.cause) from None


def _segment(value: object) -> str:
    text = str(value)
    if not text or text in (".", ".."):
        raise ValueError(f"empty or relative path segment: {text!r}")
    return quote(text, safe=":@")  # ":" stays readable in zone ids such as fr:commune:57463


def _query_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _decoded(source: str, reply: _Reply) -> object:
    if not reply.content.strip():
        return None
    try:
        return jsonlib.loads(reply.content)
    except ValueError:
        raise UdataError(source, Message("udata_http_answer_that_not_json", status=reply.status),
                         status=reply.status) from None


def _transport_error(source: str, exc: BaseException, *, ambiguous: bool) -> UdataError:
    if isinstance(exc, (socket.timeout, TimeoutError)):
        cause = Message("udata_timed_out")
    elif isinstance(exc, (ConnectionError, http.client.RemoteDisconnected)):
        cause = Message("udata_connection_closed_server")
    else:
        cause = Message("fetch_http_exchange_failed", exc=exc)
    return UdataError(source, cause, retryable=True, ambiguous=ambiguous)


_STATUS_TEXTS = {
    400: Message("udata_data_refused"),
    401: Message("udata_api_key_missing_refused"),
    403: Message("udata_permission_denied_api_key_does"),
    404: Message("udata_not_found"),
    410: Message("udata_deleted"),
    413: Message("udata_upload_too_large_server"),
    415: Message("udata_file_type_refused"),
    429: Message("udata_too_many_requests_server_asks"),
}


def _status_error(source: str, reply: _Reply) -> UdataError:
    status = reply.status
    document = _json_or_none(reply)
    errors = document.get("errors") if isinstance(document, dict) and isinstance(
        document.get("errors"), dict) else None
    detail = _server_detail(document)
    text = _STATUS_TEXTS.get(status) or (
        Message("udata_server_error") if status >= 500
        else Message("udata_unexpected_answer"))
    cause = (Message("udata_status_error_detail", text=text, status=status, detail=detail) if detail
             else Message("udata_status_error", text=text, status=status))
    retryable = status == 429 or status >= 500
    return UdataError(source, cause, status=status, retryable=retryable,
                      ambiguous=status >= 500,  # a 5xx may come after the work was done
                      errors=errors, retry_after=_retry_after(reply) if retryable else None)


def _json_or_none(reply: _Reply) -> object:
    if "json" not in reply.headers.get("content-type", ""):
        return None
    try:
        return jsonlib.loads(reply.content)
    except ValueError:
        return None


def _server_detail(document: object) -> str:
    """The server's explanation, one line: field errors first, else its message."""
    if not isinstance(document, dict):
        return ""
    if isinstance(document.get("errors"), dict):
        detail = "; ".join(f"{field}: {message}" for field, message in _flatten(document["errors"]))
    else:
        detail = str(document.get("message") or document.get("error") or "")
    detail = " ".join(detail.split())
    return detail if len(detail) <= _DETAIL_LIMIT else detail[:_DETAIL_LIMIT - 1] + "…"


def _flatten(errors: object, prefix: str = "") -> Iterable[tuple[str, str]]:
    """``{"resources": [{"url": ["x"]}]}`` → ("resources.0.url", "x"): nested form errors made readable."""
    if isinstance(errors, dict):
        for key, value in errors.items():
            yield from _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(errors, list) and all(isinstance(item, str) for item in errors):
        yield prefix, " ".join(errors)
    elif isinstance(errors, list):
        for index, item in enumerate(errors):
            yield from _flatten(item, f"{prefix}.{index}")
    elif errors:
        yield prefix, str(errors)


def _retry_after(reply: _Reply) -> float | None:
    value = reply.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # HTTP dates are GMT
        return None
    return max(0.0, moment.timestamp() - time.time())
