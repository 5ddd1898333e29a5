"""Local HTTP servers for harvester tests: 127.0.0.1, port 0, one thread per request.

``LocalServer`` serves files given as a dict and/or a directory (with an
autoindex page for sub-directories, as nginx does), answers conditional
requests (ETag / Last-Modified → 304), records every exchange with the status
it got, and takes extra routes. On top of it:

- ``CkanStandIn`` answers like a CKAN 2.11 action API (``package_show``,
  ``package_search``, ``organization_show``, with CKAN's success/error envelope);
- ``UdataStandIn`` answers like the data.gouv.fr API v1 (``/api/1/datasets/<id>/``,
  ``/api/1/organizations/<id>/`` and ``…/datasets/`` paginated as
  ``{data, page, page_size, total, next_page, previous_page}``, and 308 to the
  trailing-slash path as the real API does).

Example::

    with LocalServer(files={"/budget.xml": data}) as server:
        ckan = CkanStandIn(server)
        ckan.add_dataset("budgets", [{"url": server.url("/budget.xml"), "format": "XML"}])
        ...  # fetch ckan.dataset_url("budgets")
        assert server.hits("/budget.xml") == 0
"""
from __future__ import annotations

import hashlib
import html
import json
import mimetypes
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

LAST_MODIFIED = "Tue, 01 Mar 2022 10:00:00 GMT"
_CONTENT_TYPES = {".xml": "application/xml", ".zip": "application/zip", ".html": "text/html; charset=utf-8"}
_TIMESTAMP = "2024-01-15T10:00:00.000000"


@dataclass(frozen=True)
class Request:
    """What a route handler sees: the decoded path, the query (last value wins) and lower-cased headers."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, document: object, status: int = 200) -> Reply:
        return cls(status, json.dumps(document).encode("utf-8"), {"Content-Type": "application/json"})


@dataclass(frozen=True)
class Exchange:
    """One request the server answered, with the status it answered."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int


Handler = Callable[[Request, "re.Match[str]"], Reply]


@dataclass
class _File:
    body: bytes
    content_type: str
    last_modified: str

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


class LocalServer:
    """A threaded stdlib HTTP server on 127.0.0.1; use it as a context manager (or start/close).

    ``files`` maps absolute paths ("/a/b.xml") to bodies; ``directory`` is
    served from "/" for paths no file or route claims.
    """

    def __init__(self, files: Mapping[str, bytes] | None = None, directory: str | Path | None = None):
        self._files: dict[str, _File] = {}
        self._routes: list[tuple[re.Pattern[str], Handler]] = []
        self._directory = Path(directory).resolve() if directory is not None else None
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        for path, body in (files or {}).items():
            self.put(path, body)

    # --- lifecycle ---

    def start(self) -> LocalServer:
        server = self

        class _RequestHandler(_Handler):
            owner = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _RequestHandler)
        self._httpd.daemon_threads = True
        # A short poll interval only makes close() (shutdown) return quickly.
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="local-http", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._httpd is not None and self._thread is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join()
            self._httpd = self._thread = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + path

    # --- content ---

    def put(self, path: str, body: bytes, *, content_type: str | None = None,
            last_modified: str = LAST_MODIFIED) -> None:
        """Add or replace a file; its ETag follows its content."""
        suffix = Path(path).suffix.lower()
        content_type = content_type or _CONTENT_TYPES.get(suffix) or "application/octet-stream"
        with self._lock:
            self._files[path] = _File(body, content_type, last_modified)

    def remove(self, path: str) -> None:
        with self._lock:
            del self._files[path]

    def route(self, pattern: str, handler: Handler) -> None:
        """Answer paths fully matching ``pattern`` with ``handler(request, match)``; routes win over files."""
        with self._lock:
            self._routes.append((re.compile(pattern), handler))

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.route(re.escape(path), lambda _request, _match: Reply(status, b"", {"Location": location}))

    # --- what happened ---

    @property
    def exchanges(self) -> list[Exchange]:
        with self._lock:
            return list(self._exchanges)

    def hits(self, path: str) -> int:
        return sum(exchange.path == path for exchange in self.exchanges)

    def statuses(self, path: str) -> list[int]:
        return [exchange.status for exchange in self.exchanges if exchange.path == path]

    # --- answering (called from handler threads) ---

    def _answer(self, request: Request) -> Reply:
        with self._lock:
            routes = list(self._routes)
            file = self._files.get(request.path)
        for pattern, handler in routes:
            match = pattern.fullmatch(request.path)
            if match:
                return handler(request, match)
        if file is not None:
            return _conditional(request, file)
        if self._directory is not None:
            return _from_directory(self._directory, request)
        return Reply(404, b"not found", {"Content-Type": "text/plain"})

    def _record(self, request: Request, status: int) -> None:
        with self._lock:
            self._exchanges.append(Exchange(request.path, request.query, request.headers, status))


def _from_directory(directory: Path, request: Request) -> Reply:
    target = (directory / request.path.lstrip("/")).resolve()
    if not target.is_relative_to(directory) or not target.exists():
        return Reply(404, b"not found", {"Content-Type": "text/plain"})
    if target.is_dir():
        if not request.path.endswith("/"):
            return Reply(301, b"", {"Location": request.path + "/"})
        return Reply(200, _autoindex(request.path, target), {"Content-Type": "text/html; charset=utf-8"})
    content_type = _CONTENT_TYPES.get(target.suffix.lower()) or mimetypes.guess_type(target.name)[0]
    return _conditional(request, _File(target.read_bytes(), content_type or "application/octet-stream",
                                       LAST_MODIFIED))


def _conditional(request: Request, file: _File) -> Reply:
    headers = {"Content-Type": file.content_type, "ETag": file.etag, "Last-Modified": file.last_modified}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        if "*" in candidates or file.etag in candidates:
            return Reply(304, b"", headers)
    elif "if-modified-since" in request.headers:
        try:
            unchanged = parsedate_to_datetime(request.headers["if-modified-since"]) >= parsedate_to_datetime(
                file.last_modified)
        except (TypeError, ValueError):
            unchanged = False
        if unchanged:
            return Reply(304, b"", headers)
    return Reply(200, file.body, headers)


def _autoindex(path: str, directory: Path) -> bytes:
    title = html.escape(f"Index of {path}")
    lines = [f"<html><head><title>{title}</title></head><body><h1>{title}</h1><hr><pre>",
             '<a href="../">../</a>']
    for entry in sorted(directory.iterdir()):
        name = entry.name + ("/" if entry.is_dir() else "")
        lines.append(f'<a href="{quote(name)}">{html.escape(name)}</a>')
    lines.append("</pre><hr></body></html>")
    return "\n".join(lines).encode("utf-8")


class _Handler(BaseHTTPRequestHandler):
    owner: LocalServer

    def log_message(self, format, *args):  # keep test output clean
        pass

    def do_GET(self):
        parts = urlsplit(self.path)
        request = Request(unquote(parts.path), dict(parse_qsl(parts.query, keep_blank_values=True)),
                          {name.lower(): value for name, value in self.headers.items()})
        try:
            reply = self.owner._answer(request)
        except Exception as exc:  # noqa: BLE001 - a broken stand-in must show up as a 500, not hang the client
            reply = Reply(500, repr(exc).encode("utf-8"), {"Content-Type": "text/plain"})
        self.owner._record(request, reply.status)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)


def _stable_uuid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


# --- CKAN action API --------------------------------------------------------------------------


class CkanStandIn:
    """A CKAN 2.11 portal's read-only action API on a LocalServer, mounted under ``prefix``.

    Shapes follow ``ckan/logic/action/get.py`` and ``ckan/views/api.py``:
    ``{"help", "success": true, "result"}``, errors with HTTP 404 / 400 and
    ``{"success": false, "error": {"__type", "message"}}``; ``package_search``
    returns ``{count, facets, results, sort, search_facets}``, honours
    ``fq=organization:<name>``, ``rows`` (capped at 1000 like ``ckan.search.rows_max``),
    ``start`` and ``sort=name asc``. Paths may start with a locale (``/fr/api/3/…``).
    """

    ROWS_MAX = 1000
    # CKAN strips a leading locale segment from every path, the API's included.
    LOCALES = ("fr", "en", "de")

    def __init__(self, server: LocalServer, prefix: str = ""):
        self.server = server
        self.prefix = prefix
        self.organizations: dict[str, dict] = {}
        self.datasets: dict[str, dict] = {}
        locale = "(?:/(?:" + "|".join(self.LOCALES) + "))?"
        server.route(re.escape(prefix) + locale + r"/api/3/action/(?P<action>[A-Za-z_]+)", self._action)

    def dataset_url(self, name: str, locale: str = "") -> str:
        return self.server.url(f"{self.prefix}{'/' + locale if locale else ''}/dataset/{name}")

    def organization_url(self, name: str) -> str:
        return self.server.url(f"{self.prefix}/organization/{name}")

    def add_organization(self, name: str, title: str | None = None) -> dict:
        organization: dict = {
            "id": _stable_uuid("ckan-organization", name), "name": name, "title": title or name.title(),
            "type": "organization", "is_organization": True, "state": "active", "approval_status": "approved",
            "description": "", "image_url": "", "created": _TIMESTAMP,
        }
        self.organizations[name] = organization
        return organization

    def add_dataset(self, name: str, resources: list[dict], organization: str | None = None) -> dict:
        """``resources``: dicts with at least ``url``; ``format`` and ``name`` optional."""
        package_id = _stable_uuid("ckan-dataset", name)
        owner = self.organizations[organization] if organization else None
        dataset = {
            "id": package_id, "name": name, "title": name.replace("-", " ").title(), "type": "dataset",
            "state": "active", "private": False, "owner_org": owner["id"] if owner else None,
            "organization": dict(owner) if owner else None, "license_id": "etalab-2.0", "notes": "",
            "metadata_created": _TIMESTAMP, "metadata_modified": _TIMESTAMP, "tags": [], "groups": [],
            "extras": [], "num_tags": 0, "num_resources": len(resources),
            "resources": [
                {
                    "id": _stable_uuid("ckan-resource", name, str(position)), "package_id": package_id,
                    "position": position, "name": resource.get("name", f"resource {position}"),
                    "url": resource["url"], "format": resource.get("format", ""), "mimetype": None,
                    "description": "", "state": "active", "url_type": resource.get("url_type"),
                    "created": _TIMESTAMP, "last_modified": None,
                }
                for position, resource in enumerate(resources)
            ],
        }
        self.datasets[name] = dataset
        return dataset

    def _envelope(self, action: str, **content) -> dict:
        return {"help": self.server.url(f"{self.prefix}/api/3/action/help_show?name={action}"), **content}

    def _not_found(self, action: str) -> Reply:
        return Reply.json(self._envelope(action, success=False, error={
            "__type": "Not Found Error", "message": "Not found"}), 404)

    def _action(self, request: Request, match: re.Match) -> Reply:
        action = match["action"]
        if action == "package_show":
            dataset = self._find(self.datasets, request.query.get("id", ""))
            return self._ok(action, dataset) if dataset else self._not_found(action)
        if action == "organization_show":
            organization = self._find(self.organizations, request.query.get("id", ""))
            if organization is None:
                return self._not_found(action)
            count = sum(d["owner_org"] == organization["id"] for d in self.datasets.values())
            return self._ok(action, {**organization, "package_count": count, "users": [], "extras": []})
        if action == "package_search":
            return self._package_search(request)
        return Reply.json(self._envelope(action, success=False, error={
            "__type": "Bad Request", "message": f"Bad request - Action name not known: {action}"}), 400)

    def _ok(self, action: str, result: object) -> Reply:
        return Reply.json(self._envelope(action, success=True, result=result))

    @staticmethod
    def _find(collection: dict[str, dict], ident: str) -> dict | None:
        return collection.get(ident) or next((item for item in collection.values() if item["id"] == ident), None)

    def _package_search(self, request: Request) -> Reply:
        query = request.query
        try:
            rows = min(int(query.get("rows", 10)), self.ROWS_MAX)
            start = int(query.get("start", 0))
        except ValueError:
            return Reply.json(self._envelope("package_search", success=False, error={
                "__type": "Validation Error", "rows": ["Invalid integer"]}), 409)
        datasets = list(self.datasets.values())
        organization = re.fullmatch(r'organization:"?([^"]+)"?', query.get("fq", "").strip())
        if organization:
            datasets = [d for d in datasets if d["organization"] and d["organization"]["name"] == organization[1]]
        sort = query.get("sort", "score desc, metadata_modified desc")
        if sort == "name asc":
            datasets.sort(key=lambda dataset: dataset["name"])
        return self._ok("package_search", {
            "count": len(datasets), "facets": {}, "results": datasets[start:start + rows], "sort": sort,
            "search_facets": {},
        })


# --- data.gouv.fr (udata) API v1 --------------------------------------------------------------


class UdataStandIn:
    """The data.gouv.fr API v1 on a LocalServer, with the shapes of ``swagger-v1.json``.

    Canonical paths end with "/"; a path without it gets a 308 to the path
    with it, query kept, as the real API does. Organisation datasets are
    paginated (``page``, ``page_size``, default 20) with absolute
    ``next_page`` / ``previous_page`` URLs, null at the ends; a page past the
    end is a 404. Errors are ``{"message", "status"}``.
    """

    DEFAULT_PAGE_SIZE = 20

    def __init__(self, server: LocalServer):
        self.server = server
        self.organizations: dict[str, dict] = {}
        self.datasets: dict[str, dict] = {}
        server.route(r"/api/1/organizations/(?P<ident>[^/]+)/datasets(?P<slash>/?)", self._organization_datasets)
        server.route(r"/api/1/organizations/(?P<ident>[^/]+)(?P<slash>/?)", self._organization)
        server.route(r"/api/1/datasets/(?P<ident>[^/]+)(?P<slash>/?)", self._dataset)

    def dataset_url(self, slug: str, *, trailing_slash: bool = True, language: str = "fr") -> str:
        return self.server.url(f"{'/' + language if language else ''}/datasets/{slug}{'/' if trailing_slash else ''}")

    def organization_url(self, slug: str, *, trailing_slash: bool = True, language: str = "fr") -> str:
        return self.server.url(
            f"{'/' + language if language else ''}/organizations/{slug}{'/' if trailing_slash else ''}")

    def add_organization(self, slug: str, name: str | None = None) -> dict:
        organization_id = hashlib.sha256(f"udata-organization/{slug}".encode()).hexdigest()[:24]
        organization: dict = {
            "id": organization_id, "slug": slug, "name": name or slug.replace("-", " ").title(), "acronym": None,
            "page": self.server.url(f"/fr/organizations/{slug}/"),
            "uri": self.server.url(f"/api/1/organizations/{slug}/"),
            "logo": "", "logo_thumbnail": "", "badges": [],
        }
        self.organizations[slug] = organization
        return organization

    def add_dataset(self, slug: str, resources: list[dict], organization: str | None = None) -> dict:
        """``resources``: dicts with at least ``url``; ``format``, ``title`` and ``filetype`` optional."""
        dataset_id = hashlib.sha256(f"udata-dataset/{slug}".encode()).hexdigest()[:24]
        dataset = {
            "id": dataset_id, "slug": slug, "title": slug.replace("-", " ").title(), "acronym": None,
            "description": "", "description_short": None, "created_at": _TIMESTAMP, "last_modified": _TIMESTAMP,
            "last_update": _TIMESTAMP, "deleted": None, "archived": None, "private": False, "featured": False,
            "page": self.server.url(f"/fr/datasets/{slug}/"), "uri": self.server.url(f"/api/1/datasets/{slug}/"),
            "organization": self.organizations[organization] if organization else None, "owner": None,
            "license": "lov2", "frequency": "annual", "tags": [], "extras": {}, "badges": [],
            "metrics": {"views": 0, "followers": 0, "reuses": 0},
            "resources": [self._resource(dataset_id, position, resource)
                          for position, resource in enumerate(resources)],
        }
        self.datasets[slug] = dataset
        return dataset

    def _resource(self, dataset_id: str, position: int, resource: dict) -> dict:
        resource_id = _stable_uuid("udata-resource", dataset_id, str(position))
        return {
            "id": resource_id, "title": resource.get("title", f"resource {position}"), "url": resource["url"],
            "format": resource.get("format", ""), "filetype": resource.get("filetype", "remote"), "type": "main",
            "mime": None, "filesize": None, "checksum": None, "description": "", "extras": {},
            "created_at": _TIMESTAMP, "last_modified": _TIMESTAMP,
            "latest": self.server.url(f"/fr/datasets/r/{resource_id}"), "preview_url": None, "schema": {},
        }

    @staticmethod
    def _find(collection: dict[str, dict], ident: str) -> dict | None:
        return collection.get(ident) or next((item for item in collection.values() if item["id"] == ident), None)

    def _to_trailing_slash(self, request: Request) -> Reply:
        location = self.server.url(request.path + "/") + (f"?{urlencode(request.query)}" if request.query else "")
        return Reply(308, b"", {"Location": location})

    @staticmethod
    def _missing(what: str) -> Reply:
        return Reply.json({"message": f"{what} not found", "status": 404}, 404)

    def _dataset(self, request: Request, match: re.Match) -> Reply:
        if not match["slash"]:
            return self._to_trailing_slash(request)
        dataset = self._find(self.datasets, match["ident"])
        return Reply.json(dataset) if dataset else self._missing("Dataset")

    def _organization(self, request: Request, match: re.Match) -> Reply:
        if not match["slash"]:
            return self._to_trailing_slash(request)
        organization = self._find(self.organizations, match["ident"])
        return Reply.json(organization) if organization else self._missing("Organization")

    def _organization_datasets(self, request: Request, match: re.Match) -> Reply:
        if not match["slash"]:
            return self._to_trailing_slash(request)
        organization = self._find(self.organizations, match["ident"])
        if organization is None:
            return self._missing("Organization")
        try:
            page = int(request.query.get("page", 1))
            page_size = int(request.query.get("page_size", self.DEFAULT_PAGE_SIZE))
        except ValueError:
            return Reply.json({"message": "Input payload validation failed", "status": 400}, 400)
        if page < 1 or page_size < 1:
            return Reply.json({"message": "Input payload validation failed", "status": 400}, 400)
        owned = [d for d in self.datasets.values()
                 if d["organization"] and d["organization"]["id"] == organization["id"]]
        start = (page - 1) * page_size
        if page > 1 and start >= len(owned):
            return self._missing("Page")

        def page_url(number: int) -> str:
            return self.server.url(request.path) + "?" + urlencode({**request.query, "page": number,
                                                                      "page_size": page_size})

        return Reply.json({
            "data": owned[start:start + page_size], "page": page, "page_size": page_size, "total": len(owned),
            "next_page": page_url(page + 1) if start + page_size < len(owned) else None,
            "previous_page": page_url(page - 1) if page > 1 else None,
        })
