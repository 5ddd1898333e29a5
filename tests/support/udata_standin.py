"""A local stand-in for the data.gouv.fr API v1 (udata), checked against the real API's swagger.

A threaded stdlib HTTP server on 127.0.0.1 (port 0) with in-memory state::

    with UdataStandIn() as udata:
        org = udata.add_organization("Ville de Metz", members={"alice-key": "editor"})
        client = UdataClient(udata.base_url, "alice-key", allow_private=True)
        ...
        assert udata.violations == []

Contract. Every request under ``/api/1`` is checked against
``shared/data/udata/swagger-v1.json`` (never copied here): the path template and
method must exist, a JSON body must be sent as ``application/json`` and hold
only properties of the operation's body schema (``$ref`` and ``allOf``
followed, types and enums checked; a reference may be given as an id string,
as the API accepts), a multipart body only the operation's ``formData``
fields. Anything else is recorded in ``violations`` and answered 400. An
operation of the swagger that the stand-in does not implement answers 501 and
is recorded in ``unsupported``.

Behaviour modelled on udata: 201 on create, 200, 204 on delete; 400 as
``{"errors": {field: [...]}}`` (title and description required, known
licence ids, tags slugified and 3 to 96 characters long, known spatial zones,
an organisation the user belongs to) or ``{"message": ...}``; 401 with
``WWW-Authenticate`` for a write without key or any request with an unknown
key; 403 when the key's user is not a member (admin or editor) of the
dataset's organisation; 404; soft delete: a deleted dataset answers 410 to
those who cannot edit it and 200 with ``deleted`` set to its editors, a PUT
on it answers 410 unless it sends ``"deleted": null`` (which restores it);
308 to the trailing-slash path, and from a dataset's former slug (the slug
follows the title); uploads as multipart field ``file`` (sha1 checksum,
filesize, format from the extension, mime; the file is then served at its
``url``); pages ``{data, page, page_size, total, next_page, previous_page}``
with absolute URLs, a page past the end being a 404; ``/datasets/?organization=``
takes an organisation id only (400 otherwise). A PUT replaces the whole
object: writable fields left out go back to their defaults (resources
included), except the file facts (url, checksum, size, mime, format) of
uploaded resources, which the server owns.

A broken spatial API (``fail_spatial_zones``): every zone answers 404, 501 or a 5xx.

Fault injection (``Fault``): answer 500 (or another 5xx), 429 with
``Retry-After``, stall past the client's timeout (until ``stall_timeout`` or
``close``), or reset the connection without answering; before the request is
handled or after (``after_write``: the write is applied, then the answer is
lost). Scripted with ``script`` (consumed in order by the requests they match)
or drawn for a share of requests with a seeded generator (``fail_randomly``).
``requests`` logs every API request; ``write_calls`` counts the write requests
received, ``applied_writes`` those that changed the state.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import itertools
import json
import mimetypes
import random
import re
import socket
import struct
import sys
import threading
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from tests.support.shared import SWAGGER_PATH

# The API keys of the stand-in users the tests create.
ALICE = "alice-key"  # editor of Metz
BOB = "bob-key"  # admin of Nancy only

FAULT_KINDS = ("error", "throttle", "stall", "reset")
LICENSES = ("cc-by", "cc-by-sa", "cc-zero", "fr-lo", "lov2", "notspecified", "odc-by", "odc-odbl", "odc-pddl",
            "other-at", "other-open", "other-pd")
GRANULARITIES = ("country-group", "country", "country-subset", "fr:region", "fr:departement",
                 "fr:arrondissement", "fr:commune", "fr:iris", "fr:canton", "fr:collectivite", "fr:epci", "poi",
                 "other")
ROLES_THAT_EDIT = ("admin", "editor")
DEFAULT_PAGE_SIZE = 20
_REQUIRED = "This field is required."
_OBJECT_ID = re.compile(r"[0-9a-f]{24}")
# Writable dataset fields the stand-in keeps, with the value a PUT that leaves them out resets them to.
_DATASET_DEFAULTS = {
    "title": None, "acronym": None, "description": None, "description_short": None, "tags": list,
    "frequency": "unknown", "frequency_date": None, "extras": dict, "private": False, "license": "notspecified",
    "temporal_coverage": None, "spatial": None, "schema": None, "archived": None, "access_type": "open",
    "contact_points": list,
}
_RESOURCE_DEFAULTS = {
    "title": None, "description": None, "filetype": "file", "type": "main", "url": None, "format": None,
    "mime": None, "filesize": None, "checksum": None, "schema": None, "extras": dict,
}
# What the server computes for an uploaded file; a PUT cannot change the url, and leaving the rest out keeps it.
_FILE_FACTS = ("url", "checksum", "filesize", "mime", "format")


def _default(spec):
    return spec() if callable(spec) else spec


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


# --- the swagger ---------------------------------------------------------------------------------


class Swagger:
    """The udata swagger: which paths and methods exist, and what their bodies may hold."""

    def __init__(self, document: dict):
        self.document = document
        self.base_path = document["basePath"]
        self.api_key_header = document["securityDefinitions"]["apikey"]["name"]
        routes = []
        for template, operations in document["paths"].items():
            pattern = "".join(f"(?P<{piece[1:-1]}>[^/]+)" if piece.startswith("{") else re.escape(piece)
                              for piece in re.split(r"(\{[^}]+\})", template))
            routes.append((re.compile(pattern), template, operations))
        # Literal segments win over parameters, as in the real routing: /datasets/licenses/ is not a dataset.
        routes.sort(key=lambda route: (route[1].count("{"), -len(route[1])))
        self._routes = routes

    @classmethod
    @functools.cache
    def load(cls, path: Path = SWAGGER_PATH) -> Swagger:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def route(self, path: str) -> tuple[str, dict, dict[str, str]] | None:
        """(template, operations by method, decoded path parameters) of the most specific matching path."""
        for pattern, template, operations in self._routes:
            match = pattern.fullmatch(path)
            if match:
                return template, operations, {name: unquote(value) for name, value in match.groupdict().items()}
        return None

    def parameters(self, template: str, method: str) -> list[dict]:
        operations = self.document["paths"][template]
        return operations.get("parameters", []) + operations[method].get("parameters", [])

    def resolve(self, schema: dict) -> dict:
        """The schema with ``$ref`` followed and ``allOf`` merged (properties united)."""
        while "$ref" in schema:
            name = unquote(schema["$ref"].rsplit("/", 1)[-1])
            schema = {**self.document["definitions"][name], **{k: v for k, v in schema.items() if k != "$ref"}}
        if "allOf" not in schema:
            return schema
        merged = {key: value for key, value in schema.items() if key != "allOf"}
        for part in schema["allOf"]:
            part = self.resolve(part)
            merged.setdefault("properties", {}).update(part.get("properties", {}))
            for key in ("type", "enum", "items"):
                if key in part:
                    merged.setdefault(key, part[key])
        return merged

    def problems(self, schema: dict, value: object, where: str) -> list[str]:
        """Why ``value`` does not fit ``schema`` (empty when it does). null is accepted for any field."""
        schema = self.resolve(schema)
        if value is None:
            return []
        kind = schema.get("type")
        properties = schema.get("properties")
        if "enum" in schema and value not in schema["enum"]:
            return [f"{where}: {value!r} is not one of {schema['enum']}"]
        expected = {"string": str, "boolean": bool, "array": list}.get(kind)
        if expected is not None and not isinstance(value, expected):
            return [f"{where}: {kind} expected, got {type(value).__name__}"]
        if kind in ("integer", "number") and (isinstance(value, bool) or not isinstance(
                value, int if kind == "integer" else (int, float))):
            return [f"{where}: {kind} expected, got {type(value).__name__}"]
        if kind == "array":
            return [problem for index, item in enumerate(value)
                    for problem in self.problems(schema.get("items", {}), item, f"{where}[{index}]")]
        if properties is None:
            return []  # a free-form object ("extras", "metrics"...)
        if isinstance(value, str) and "class" in properties:
            return []  # a reference (organisation, user...) given by its id, as the API accepts
        if not isinstance(value, dict):
            return [f"{where}: object expected, got {type(value).__name__}"]
        found = []
        for key, item in value.items():
            if key not in properties:
                found.append(f"{where}: unknown field {key!r}")
            else:
                found.extend(self.problems(properties[key], item, f"{where}.{key}"))
        return found


# --- faults and the request log ------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """A failure to play on one request. ``path`` is a regular expression on the API path ("/datasets/")."""

    kind: str
    after_write: bool = False
    status: int = 500
    retry_after: str | None = "1"
    method: str | None = None
    path: str | None = None

    def __post_init__(self):
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind {self.kind!r} not in {FAULT_KINDS}")

    def applies_to(self, method: str, api_path: str) -> bool:
        return ((self.method is None or self.method == method)
                and (self.path is None or re.fullmatch(self.path, api_path) is not None))


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str  # the full path, /api/1 included, without the query
    query: dict[str, str]
    api_key: str | None
    body: str  # a summary: JSON keys, multipart fields and file sizes
    status: int | None  # None when no answer was sent (stall, reset)
    fault: str | None = None


@dataclass
class _Call:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    user: dict | None = None
    document: object = None
    form: dict[str, tuple[str | None, bytes]] | None = None


@dataclass
class _Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] | None = None

    @classmethod
    def json(cls, document: object, status: int = 200, **headers: str) -> _Reply:
        return cls(status, json.dumps(document).encode("utf-8"), {"Content-Type": "application/json", **headers})


def _message(status: int, text: str, **headers: str) -> _Reply:
    return _Reply.json({"message": text, "status": status}, status, **headers)


def _field_errors(errors: dict) -> _Reply:
    return _Reply.json({"errors": errors, "message": "Validation error"}, 400)


# --- the server ----------------------------------------------------------------------------------


class UdataStandIn:
    """The udata API v1 on 127.0.0.1; ``base_url`` ends with ``/api/1``. See the module docstring."""

    def __init__(self, *, stall_timeout: float = 10.0, swagger: Swagger | None = None):
        self.swagger = swagger or Swagger.load()
        self.stall_timeout = stall_timeout
        self._lock = threading.RLock()
        self._release_stalls = threading.Event()
        self._ids = itertools.count(1)
        self._users: dict[str, dict] = {}  # by API key
        self._organizations: dict[str, dict] = {}
        self._datasets: dict[str, dict] = {}
        self._former_slugs: dict[str, str] = {}  # former slug → dataset id
        self._zones: dict[str, dict] = {}
        self._zones_failing: int | None = None  # the status every spatial zone answers, when set
        self._files: dict[str, tuple[bytes, str]] = {}  # served path → (content, mime)
        self._redirects: dict[str, tuple[int, str]] = {}
        self._scripted: list[Fault] = []
        self._random_faults: tuple[random.Random, float, tuple[str, ...], bool, str | None] | None = None
        self._log: list[LoggedRequest] = []
        self._violations: list[str] = []
        self.unsupported: list[str] = []
        self.internal_errors: list[str] = []
        self.write_calls = 0
        self.applied_writes = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---

    def start(self) -> UdataStandIn:
        owner = self

        class Handler(_Handler):
            standin = owner

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                # Clients that gave up (stalls, resets) make the answer fail: expected. Anything else is a bug here.
                error = sys.exc_info()[1]
                if not isinstance(error, (OSError, ValueError)):
                    owner.internal_errors.append(repr(error))

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="udata-standin", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._release_stalls.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join()
            self._httpd = self._thread = None

    def __enter__(self) -> UdataStandIn:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("stand-in not started")
        return self._httpd.server_address[1]

    def origin(self, host: str = "127.0.0.1") -> str:
        """``host`` may be "localhost": same server, another host name for the client."""
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.origin() + self.swagger.base_path

    # --- state set up by tests (no API call, no check) ---

    def add_user(self, api_key: str, first_name: str = "Test", last_name: str = "User") -> dict:
        with self._lock:
            user = {"id": self._object_id(), "slug": _slugify(f"{first_name} {last_name}"),
                    "first_name": first_name, "last_name": last_name}
            self._users[api_key] = user
            return dict(user)

    def add_organization(self, name: str, *, members: dict[str, str] | None = None,
                         business_number_id: str | None = None) -> dict:
        """``members``: API key → role ("admin", "editor" or anything else: cannot edit); users made as needed."""
        with self._lock:
            member_roles = {}
            for api_key, role in (members or {}).items():
                user = self._users.get(api_key) or self.add_user(api_key, last_name=api_key)
                member_roles[user["id"]] = role
            organization = {"id": self._object_id(), "name": name, "slug": _slugify(name), "acronym": None,
                            "description": f"{name}.", "business_number_id": business_number_id,
                            "members": member_roles, "created_at": _now(), "last_modified": _now()}
            self._organizations[organization["id"]] = organization
            return self._organization_out(organization)

    def add_zone(self, zone_id: str, name: str) -> dict:
        """``zone_id`` as udata writes it: "fr:commune:57463", "fr:departement:57", "country:fr"."""
        level, _, code = zone_id.rpartition(":")
        zone = {"id": zone_id, "type": "Feature", "geometry": None,
                "properties": {"name": name, "code": code, "level": level, "slug": _slugify(name),
                               "uri": None}}
        with self._lock:
            self._zones[zone_id] = zone
        return copy.deepcopy(zone)

    def add_dataset(self, organization_id: str | None, title: str, *, private: bool = False,
                    deleted: bool = False, extras: dict | None = None, resources: list[dict] = (),
                    **fields) -> dict:
        """A dataset as if created earlier; ``resources``: remote resources (title, url, format...)."""
        with self._lock:
            dataset = {name: _default(spec) for name, spec in _DATASET_DEFAULTS.items()}
            dataset.update(title=title, description=f"{title}.", private=private, extras=dict(extras or {}),
                           **fields)
            dataset.update(id=self._object_id(), slug=self._free_slug(title), organization=organization_id,
                           owner=None, created_at=_now(), last_modified=_now(), last_update=_now(),
                           deleted=_now() if deleted else None, resources=[])
            for resource in resources:
                record = {name: _default(spec) for name, spec in _RESOURCE_DEFAULTS.items()}
                record.update(filetype="remote", **resource)
                dataset["resources"].append(self._new_resource(record))
            self._datasets[dataset["id"]] = dataset
            return self._dataset_out(dataset)

    def redirect(self, path: str, location: str, status: int = 308) -> None:
        """Answer requests for ``path`` (full path, /api/1 included) with a redirect, before anything else."""
        with self._lock:
            self._redirects[path] = (status, location)

    # --- faults ---

    def script(self, *faults: Fault) -> None:
        """Queue faults; each request takes the first queued fault that applies to it."""
        with self._lock:
            self._scripted.extend(faults)

    def fail_randomly(self, share: float, *, seed: int, kinds: tuple[str, ...] = FAULT_KINDS,
                      after_write: bool = False, method: str | None = None) -> None:
        """Fail about ``share`` of the requests (of ``method`` if given), deterministically for a seed."""
        with self._lock:
            self._random_faults = (random.Random(seed), share, tuple(kinds), after_write, method)

    def fail_spatial_zones(self, status: int | None) -> None:
        """Every ``/spatial/zone/<id>/`` answers ``status`` (None: normal again), as real instances
        do: 404 for every zone when the geozones were never loaded, 501 where the spatial API is not
        implemented, 5xx when it breaks."""
        with self._lock:
            self._zones_failing = status

    def clear_faults(self) -> None:
        with self._lock:
            self._scripted.clear()
            self._random_faults = None
            self._zones_failing = None

    # --- what happened ---

    @property
    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._log)

    @property
    def violations(self) -> list[str]:
        with self._lock:
            return list(self._violations)

    def take_violations(self) -> list[str]:
        """The violations so far, forgotten afterwards (for tests that provoke them)."""
        with self._lock:
            taken, self._violations = self._violations, []
            return taken

    def dataset(self, id_or_slug: str) -> dict | None:
        """The dataset as its editors see it (deleted ones included), or None."""
        with self._lock:
            dataset = self._find_dataset(id_or_slug)
            return self._dataset_out(dataset) if dataset else None

    def datasets(self) -> list[dict]:
        with self._lock:
            return [self._dataset_out(dataset) for dataset in self._datasets.values()]

    def uploaded_files(self) -> list[bytes]:
        """The content of every file ever uploaded, replaced ones included."""
        with self._lock:
            return [content for content, _mime in self._files.values()]

    def file_content(self, url: str) -> bytes:
        with self._lock:
            return self._files[urlsplit(url).path][0]

    # --- answering (handler threads) ---

    def _serve(self, handler: _Handler) -> None:
        parts = urlsplit(handler.path)
        call = _Call(handler.command, parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)),
                     {name.lower(): value for name, value in handler.headers.items()}, handler.read_body())
        if not call.path.startswith(self.swagger.base_path + "/"):
            handler.answer(self._static(call))
            return
        api_path = call.path[len(self.swagger.base_path):]
        fault = None
        with self._lock:
            if call.method != "GET":
                self.write_calls += 1
            reply, operation = self._checked(call, api_path, parts.query)
            if reply is None:
                fault = self._fault_for(call.method, api_path)
                if fault is None or (fault.after_write and call.method != "GET"):
                    reply = self._dispatch(call, *operation)
        if fault is not None:
            self._play(handler, call, fault)
            return
        self._record(call, reply.status, None)
        handler.answer(reply)

    def _play(self, handler: _Handler, call: _Call, fault: Fault) -> None:
        """Answer with the fault instead of the real answer (which, after a write, is lost)."""
        if fault.kind in ("stall", "reset"):
            self._record(call, None, fault.kind)
            if fault.kind == "stall":
                self._release_stalls.wait(self.stall_timeout)
            handler.drop_connection()
            return
        if fault.kind == "throttle":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            reply = _message(429, "Too many requests", **headers)
        else:
            reply = _message(fault.status, "Internal Server Error")
        self._record(call, reply.status, fault.kind)
        handler.answer(reply)

    def _checked(self, call: _Call, api_path: str, raw_query: str) -> tuple[_Reply | None, tuple]:
        """Redirects, then the swagger contract: (early reply or None, (template, operation, path params))."""
        redirect = self._redirects.get(call.path)
        if redirect:
            return _Reply(redirect[0], b"", {"Location": redirect[1]}), ()
        route = self.swagger.route(api_path)
        if route is None and not api_path.endswith("/") and self.swagger.route(api_path + "/"):
            location = call.path + "/" + (f"?{raw_query}" if raw_query else "")
            return _Reply(308, b"", {"Location": location}), ()
        method = call.method.lower()
        if route is None or method not in route[1]:
            return self._violation(call, "no such operation in the swagger"), ()
        template, operations, params = route
        problems = self._body_problems(call, template, method)
        if problems:
            return self._violation(call, "; ".join(problems)), ()
        former = params.get("dataset") in self._former_slugs
        if former and params["dataset"] not in {d["slug"] for d in self._datasets.values()}:
            current = self._datasets[self._former_slugs[params["dataset"]]]["slug"]
            location = call.path.replace(f"/{quote(params['dataset'])}/", f"/{current}/", 1)
            return _Reply(308, b"", {"Location": location + (f"?{raw_query}" if raw_query else "")}), ()
        return None, (template, operations[method], params)

    def _body_problems(self, call: _Call, template: str, method: str) -> list[str]:
        parameters = self.swagger.parameters(template, method)
        body_schema = next((p["schema"] for p in parameters if p["in"] == "body"), None)
        form_fields = {p["name"] for p in parameters if p["in"] == "formData"}
        content_type = call.headers.get("content-type", "")
        if body_schema is not None:
            if "application/json" not in content_type:
                return [f"JSON body expected, Content-Type is {content_type or 'missing'}"]
            try:
                call.document = json.loads(call.body)
            except ValueError as exc:
                return [f"body is not JSON ({exc})"]
            if call.document is None:
                return ["a JSON body is required"]
            return self.swagger.problems(body_schema, call.document, "body")
        if form_fields:
            call.form = _parse_multipart(content_type, call.body)
            if call.form is None:
                return [f"multipart/form-data body expected, Content-Type is {content_type or 'missing'}"]
            return [f"form field {name!r} not in the swagger" for name in call.form if name not in form_fields]
        return []

    def _violation(self, call: _Call, reason: str) -> _Reply:
        self._violations.append(f"{call.method} {call.path}: {reason}")
        return _message(400, f"udata stand-in: request the real API would refuse: {reason}")

    def _fault_for(self, method: str, api_path: str) -> Fault | None:
        for index, fault in enumerate(self._scripted):
            if fault.applies_to(method, api_path):
                return self._scripted.pop(index)
        if self._random_faults is not None:
            generator, share, kinds, after_write, only_method = self._random_faults
            if (only_method is None or only_method == method) and generator.random() < share:
                return Fault(generator.choice(kinds), after_write=after_write)
        return None

    def _record(self, call: _Call, status: int | None, fault: str | None) -> None:
        with self._lock:
            self._log.append(LoggedRequest(call.method, call.path, call.query,
                                           call.headers.get(self.swagger.api_key_header.lower()),
                                           _summary(call), status, fault))

    def _dispatch(self, call: _Call, template: str, operation: dict, params: dict[str, str]) -> _Reply:
        api_key = call.headers.get(self.swagger.api_key_header.lower())
        if api_key is not None:
            call.user = self._users.get(api_key)
            if call.user is None:
                return _message(401, "Invalid API Key", **{"WWW-Authenticate": 'Bearer realm="udata"'})
        if call.method != "GET" and call.user is None:
            return _message(401, "Unauthorized", **{"WWW-Authenticate": 'Bearer realm="udata"'})
        handler = getattr(self, f"_op_{operation['operationId']}", None)
        if handler is None:
            self.unsupported.append(f"{call.method} {template}")
            return _message(501, f"udata stand-in: {operation['operationId']} not implemented")
        try:
            return handler(call, **params)
        except Exception as exc:  # noqa: BLE001 - a bug here must show up in the test, not as a hang
            self.internal_errors.append(repr(exc))
            return _message(500, repr(exc))

    def _static(self, call: _Call) -> _Reply:
        with self._lock:
            stored = self._files.get(call.path)
        if call.method != "GET" or stored is None:
            return _message(404, "Not Found")
        return _Reply(200, stored[0], {"Content-Type": stored[1]})

    # --- operations (named after the swagger's operationId; called under the lock) ---

    def _op_get_dataset(self, call: _Call, dataset: str) -> _Reply:
        record = self._find_dataset(dataset)
        if record is None:
            return _message(404, "Not Found")
        if not self._can_edit(call.user, record):
            if record["private"]:
                return _message(404, "Not Found")
            if record["deleted"]:
                return _message(410, "Dataset has been deleted")
        return _Reply.json(self._dataset_out(record))

    def _op_create_dataset(self, call: _Call) -> _Reply:
        values, errors = self._dataset_values(call.document, call.user, None)
        if errors:
            return _field_errors(errors)
        record = {**values, "id": self._object_id(), "slug": self._free_slug(values["title"]),
                  "created_at": _now(), "last_modified": _now(), "last_update": _now(), "deleted": None}
        self._datasets[record["id"]] = record
        self.applied_writes += 1
        return _Reply.json(self._dataset_out(record), 201)

    def _op_update_dataset(self, call: _Call, dataset: str) -> _Reply:
        record = self._find_dataset(dataset)
        if record is None:
            return _message(404, "Not Found")
        restoring = "deleted" in call.document and call.document["deleted"] is None
        if record["deleted"] and not restoring:
            return _message(410, "Dataset has been deleted")
        if not self._can_edit(call.user, record):
            return _message(403, "You do not have the permission to modify that object.")
        values, errors = self._dataset_values(call.document, call.user, record)
        if errors:
            return _field_errors(errors)
        if _slugify(values["title"]) != _slugify(record["title"]):  # the slug follows the title
            self._former_slugs[record["slug"]] = record["id"]
            record["slug"] = self._free_slug(values["title"])
        record.update(values, last_modified=_now(), deleted=None if restoring else record["deleted"])
        self.applied_writes += 1
        return _Reply.json(self._dataset_out(record))

    def _op_delete_dataset(self, call: _Call, dataset: str) -> _Reply:
        record = self._find_dataset(dataset)
        if record is None:
            return _message(404, "Not Found")
        if record["deleted"]:
            return _message(410, "Dataset has been deleted")
        if not self._can_edit(call.user, record):
            return _message(403, "You do not have the permission to modify that object.")
        record["deleted"] = record["last_modified"] = _now()
        self.applied_writes += 1
        return _Reply(204)

    def _op_list_datasets(self, call: _Call) -> _Reply:
        organization = call.query.get("organization")
        if organization and not _OBJECT_ID.fullmatch(organization):
            return _message(400, "Organization arg must be an identifier")
        listed = [record for record in self._datasets.values()
                  if not record["deleted"] and not record["archived"]
                  and (not record["private"] or self._can_edit(call.user, record))
                  and (not organization or record["organization"] == organization)]
        return self._page(call, listed)

    def _op_list_organization_datasets(self, call: _Call, org: str) -> _Reply:
        organization = self._find_organization(org)
        if organization is None:
            return _message(404, "Not Found")
        listed = [record for record in self._datasets.values()
                  if record["organization"] == organization["id"] and not record["deleted"]
                  and (not record["private"] or self._can_edit(call.user, record))]
        return self._page(call, listed)

    def _op_get_organization(self, call: _Call, org: str) -> _Reply:
        organization = self._find_organization(org)
        return _Reply.json(self._organization_out(organization)) if organization else _message(404, "Not Found")

    def _op_get_resource(self, call: _Call, dataset: str, rid: str) -> _Reply:
        reply = self._op_get_dataset(call, dataset)
        if reply.status != 200:
            return reply
        resource = self._find_resource(self._find_dataset(dataset), rid)
        return _Reply.json(self._resource_out(resource)) if resource else _message(404, "Resource does not exist")

    def _op_create_resource(self, call: _Call, dataset: str) -> _Reply:
        record, refusal = self._editable_dataset(call, dataset)
        if refusal:
            return refusal
        values, errors = self._resource_values(call.document, None)
        if errors:
            return _field_errors(errors)
        if values["filetype"] != "remote":
            return _message(400, "This endpoint only supports remote resources")
        resource = self._new_resource(values)
        record["resources"].append(resource)
        self._touch(record)
        return _Reply.json(self._resource_out(resource), 201)

    def _op_update_resource(self, call: _Call, dataset: str, rid: str) -> _Reply:
        record, refusal = self._editable_dataset(call, dataset)
        if refusal:
            return refusal
        resource = self._find_resource(record, rid)
        if resource is None:
            return _message(404, "Resource does not exist")
        values, errors = self._resource_values(call.document, resource)
        if errors:
            return _field_errors(errors)
        if call.document.get("filetype") and call.document["filetype"] != resource["filetype"]:
            return _message(400, "Cannot modify filetype after creation")
        resource.update(values, last_modified=_now())
        self._touch(record)
        return _Reply.json(self._resource_out(resource))

    def _op_delete_resource(self, call: _Call, dataset: str, rid: str) -> _Reply:
        record, refusal = self._editable_dataset(call, dataset)
        if refusal:
            return refusal
        resource = self._find_resource(record, rid)
        if resource is None:
            return _message(404, "Resource does not exist")
        record["resources"].remove(resource)
        self._touch(record)
        return _Reply(204)

    def _op_upload_new_dataset_resource(self, call: _Call, dataset: str) -> _Reply:
        record, refusal = self._editable_dataset(call, dataset)
        if refusal:
            return refusal
        facts, refusal = self._stored_upload(call, record)
        if refusal:
            return refusal
        values = {name: _default(spec) for name, spec in _RESOURCE_DEFAULTS.items()}
        values.update(facts)
        resource = self._new_resource(values)
        record["resources"].append(resource)
        self._touch(record)
        return _Reply.json({**self._resource_out(resource), "success": True}, 201)

    def _op_upload_dataset_resource(self, call: _Call, dataset: str, rid: str) -> _Reply:
        record, refusal = self._editable_dataset(call, dataset)
        if refusal:
            return refusal
        resource = self._find_resource(record, rid)
        if resource is None:
            return _message(404, "Resource does not exist")
        facts, refusal = self._stored_upload(call, record)
        if refusal:
            return refusal
        resource.update(facts, last_modified=_now())
        self._touch(record)
        return _Reply.json({**self._resource_out(resource), "success": True})

    def _op_spatial_zone(self, call: _Call, id: str) -> _Reply:
        if self._zones_failing is not None:
            return _message(self._zones_failing, HTTPStatus(self._zones_failing).phrase)
        zone = self._zones.get(id)
        return _Reply.json(zone) if zone else _message(404, "Not Found")

    def _op_list_licenses(self, call: _Call) -> _Reply:
        return _Reply.json([{"id": license_id, "title": license_id, "url": None, "maintainer": None,
                             "flags": [], "alternate_urls": [], "alternate_titles": []}
                            for license_id in LICENSES])

    # --- validation, as udata's forms do it ---

    def _dataset_values(self, payload: dict, user: dict, current: dict | None) -> tuple[dict, dict]:
        values = {name: payload.get(name) for name in _DATASET_DEFAULTS}
        for name, spec in _DATASET_DEFAULTS.items():
            if values[name] is None:
                values[name] = _default(spec)
        errors: dict = {}
        for name in ("title", "description"):
            if not (isinstance(values[name], str) and values[name].strip()):
                errors[name] = [_REQUIRED]
        if values["license"] in ("", None):
            values["license"] = "notspecified"
        elif values["license"] not in LICENSES:
            errors["license"] = ["Not a valid choice"]
        tags = [_slugify(tag) for tag in values["tags"]]
        bad_tags = [tag for tag in tags if not 3 <= len(tag) <= 96]
        if bad_tags:
            errors["tags"] = [f"Tag {tag!r} must be between 3 and 96 characters long." for tag in bad_tags]
        values["tags"] = list(dict.fromkeys(tags))
        spatial_errors = self._spatial_problems(values["spatial"])
        if spatial_errors:
            errors["spatial"] = spatial_errors
        if isinstance(values["temporal_coverage"], dict) and not values["temporal_coverage"].get("start"):
            errors["temporal_coverage"] = ["A start date is required"]
        values["organization"], values["owner"] = self._publisher(payload.get("organization"), user, current,
                                                                 errors)
        values["resources"], resource_errors = self._nested_resources(payload.get("resources") or [], current)
        if any(resource_errors):
            errors["resources"] = resource_errors
        return values, errors

    def _publisher(self, reference: object, user: dict, current: dict | None,
                   errors: dict) -> tuple[str | None, str | None]:
        """(organization id, owner id): publishing as an organisation needs its membership."""
        if reference is None:
            return None, user["id"]
        organization_id = reference.get("id") if isinstance(reference, dict) else reference
        organization = self._organizations.get(organization_id)
        if organization is None:
            errors["organization"] = ["Unknown organization"]
        elif organization["members"].get(user["id"]) not in ROLES_THAT_EDIT and not (
                current and current["organization"] == organization_id):
            errors["organization"] = ["Permission denied for this organization"]
        return organization_id, None

    def _nested_resources(self, items: list, current: dict | None) -> tuple[list[dict], list[dict]]:
        existing = {resource["id"]: resource for resource in (current or {}).get("resources", [])}
        resources, errors = [], []
        for item in items:
            known = existing.get(item.get("id")) if isinstance(item, dict) else None
            values, item_errors = self._resource_values(item, known)
            errors.append(item_errors)
            if known is not None:
                resources.append({**known, **values, "last_modified": _now()})
            else:
                resources.append(self._new_resource(values))
        return resources, errors

    def _resource_values(self, payload: dict, current: dict | None) -> tuple[dict, dict]:
        values = {name: payload.get(name) for name in _RESOURCE_DEFAULTS}
        for name, spec in _RESOURCE_DEFAULTS.items():
            if values[name] is None:
                values[name] = _default(spec)
        if current is not None and current["filetype"] == "file":
            values["filetype"] = "file"
            for name in _FILE_FACTS:
                if name == "url" or payload.get(name) is None:
                    values[name] = current[name]
        errors = {name: [_REQUIRED] for name in ("title", "url")
                  if not (isinstance(values[name], str) and values[name].strip())}
        if isinstance(values["format"], str):
            values["format"] = values["format"].strip().lower()
        schema = values["schema"]
        if isinstance(schema, dict) and not (isinstance(schema.get("name"), str) and schema["name"]):
            errors["schema"] = ["A schema name is required"]
        return values, errors

    def _spatial_problems(self, spatial: object) -> list[str]:
        if not isinstance(spatial, dict):
            return []
        problems = [f"Unknown zone {zone!r}" for zone in spatial.get("zones") or [] if zone not in self._zones]
        if spatial.get("granularity") not in (None, *GRANULARITIES):
            problems.append(f"Unknown granularity {spatial['granularity']!r}")
        return problems

    def _stored_upload(self, call: _Call, record: dict) -> tuple[dict, _Reply | None]:
        """Keep an uploaded file, served at its url, and return what udata computes about it."""
        if int(call.form.get("totalparts", (None, b"1"))[1] or 1) > 1:
            self.unsupported.append(f"{call.method} {call.path}: chunked upload")
            return {}, _message(501, "udata stand-in: chunked uploads not implemented")
        filename, content = call.form.get("file", (None, b""))
        if filename is None:
            return {}, _Reply.json({"success": False, "error": "Missing file parameter"}, 400)
        mime = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        if "html" in mime:
            return {}, _message(415, "Incorrect file content type: HTML")
        stored_name = _stored_filename(filename)
        path = f"/static/resources/{record['slug']}/{next(self._ids):06d}/{stored_name}"
        self._files[path] = (content, mime)
        return {"title": stored_name, "filetype": "file", "url": self.origin() + path,
                "format": Path(stored_name).suffix.lstrip(".").lower(), "mime": mime, "filesize": len(content),
                "checksum": {"type": "sha1", "value": hashlib.sha1(content).hexdigest()}}, None

    # --- look-ups and documents ---

    def _object_id(self) -> str:
        return f"65{next(self._ids):022x}"  # the shape of a MongoDB ObjectId, as udata ids are

    def _free_slug(self, title: str) -> str:
        base = _slugify(title) or "dataset"
        taken = {record["slug"] for record in self._datasets.values()} | set(self._former_slugs)
        return next(slug for slug in itertools.chain([base], (f"{base}-{n}" for n in itertools.count(1)))
                    if slug not in taken)

    def _find_dataset(self, id_or_slug: str) -> dict | None:
        return self._datasets.get(id_or_slug) or next(
            (record for record in self._datasets.values() if record["slug"] == id_or_slug), None)

    def _find_organization(self, id_or_slug: str) -> dict | None:
        return self._organizations.get(id_or_slug) or next(
            (record for record in self._organizations.values() if record["slug"] == id_or_slug), None)

    @staticmethod
    def _find_resource(record: dict, rid: str) -> dict | None:
        return next((resource for resource in record["resources"] if resource["id"] == rid), None)

    def _can_edit(self, user: dict | None, record: dict) -> bool:
        if user is None:
            return False
        if record["organization"]:
            return self._organizations[record["organization"]]["members"].get(user["id"]) in ROLES_THAT_EDIT
        return record["owner"] == user["id"]

    def _editable_dataset(self, call: _Call, dataset: str) -> tuple[dict | None, _Reply | None]:
        record = self._find_dataset(dataset)
        if record is None:
            return None, _message(404, "Not Found")
        if not self._can_edit(call.user, record):
            return None, _message(403, "You do not have the permission to modify that object.")
        return record, None

    def _touch(self, record: dict) -> None:
        record["last_modified"] = record["last_update"] = _now()
        self.applied_writes += 1

    def _new_resource(self, values: dict) -> dict:
        resource_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"udata-standin/resource/{next(self._ids)}"))
        return {**values, "id": resource_id, "created_at": _now(), "last_modified": _now()}

    def _page(self, call: _Call, records: list[dict]) -> _Reply:
        try:
            page = int(call.query.get("page", 1))
            page_size = int(call.query.get("page_size", DEFAULT_PAGE_SIZE))
        except ValueError:
            return _Reply.json({"errors": {"page": "an integer is expected"}, "message": "Input payload validation "
                                "failed"}, 400)
        if page < 1 or page_size < 1:
            return _message(400, "page and page_size must be positive")
        sort = call.query.get("sort") or "-created"
        key = {"created": "created_at", "title": "title", "last_update": "last_update"}.get(sort.lstrip("-"),
                                                                                            "created_at")
        records = sorted(records, key=lambda record: (record[key], record["id"]), reverse=sort.startswith("-"))
        start = (page - 1) * page_size
        if page > 1 and start >= len(records):
            return _message(404, "Not Found")

        def page_url(number: int) -> str:
            host = call.headers.get("host") or f"127.0.0.1:{self.port}"
            return f"http://{host}{call.path}?" + urlencode({**call.query, "page": number, "page_size": page_size})

        return _Reply.json({
            "data": [self._dataset_out(record) for record in records[start:start + page_size]],
            "page": page, "page_size": page_size, "total": len(records),
            "next_page": page_url(page + 1) if start + page_size < len(records) else None,
            "previous_page": page_url(page - 1) if page > 1 else None,
        })

    def _organization_out(self, organization: dict) -> dict:
        document = {key: value for key, value in organization.items() if key != "members"}
        document.update(url=None, logo=None, logo_thumbnail=None, badges=[], metrics={}, extras={},
                        deleted=None, uri=f"{self.base_url}/organizations/{organization['id']}/",
                        page=f"{self.origin()}/organizations/{organization['slug']}/")
        return document

    def _reference(self, organization_id: str | None) -> dict | None:
        if organization_id is None:
            return None
        organization = self._organizations[organization_id]
        return {"class": "Organization", "id": organization["id"], "name": organization["name"],
                "slug": organization["slug"], "acronym": organization["acronym"], "logo": None,
                "logo_thumbnail": None, "badges": [], "uri": f"{self.base_url}/organizations/{organization['id']}/",
                "page": f"{self.origin()}/organizations/{organization['slug']}/"}

    def _owner(self, user_id: str | None) -> dict | None:
        user = next((user for user in self._users.values() if user["id"] == user_id), None)
        return None if user is None else {"class": "User", **user}

    def _dataset_out(self, record: dict) -> dict:
        document = {name: copy.deepcopy(record[name]) for name in _DATASET_DEFAULTS}
        document.update(
            id=record["id"], slug=record["slug"], created_at=record["created_at"],
            last_modified=record["last_modified"], last_update=record["last_update"], deleted=record["deleted"],
            organization=self._reference(record["organization"]), owner=self._owner(record["owner"]),
            resources=[self._resource_out(resource) for resource in record["resources"]],
            featured=False, badges=[], community_resources=[], harvest=None, quality={},
            metrics={"views": 0, "followers": 0, "reuses": 0},
            uri=f"{self.base_url}/datasets/{record['id']}/", page=f"{self.origin()}/datasets/{record['slug']}/")
        return document

    def _resource_out(self, resource: dict) -> dict:
        document = {name: copy.deepcopy(resource[name]) for name in _RESOURCE_DEFAULTS}
        document.update(id=resource["id"], created_at=resource["created_at"],
                        last_modified=resource["last_modified"], metrics={}, harvest=None, preview_url=None,
                        latest=f"{self.base_url}/datasets/r/{resource['id']}")
        return document


def _stored_filename(filename: str) -> str:
    """What a storage keeps of a client's file name: ASCII letters, digits, ".", "-" and "_"."""
    ascii_name = unicodedata.normalize("NFKD", Path(filename.replace("\\", "/")).name)
    ascii_name = ascii_name.encode("ascii", "ignore").decode("ascii").replace(" ", "_")
    return re.sub(r"[^A-Za-z0-9._-]", "", ascii_name).lstrip(".") or "file"


def _parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]] | None:
    """name → (filename or None, bytes), exact bytes kept; None if not a well-formed multipart body."""
    boundary = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/form-data") or boundary is None:
        return None
    delimiter = b"\r\n--" + boundary[1].encode("ascii")
    sections = (b"\r\n" + body).split(delimiter)
    if len(sections) < 2 or sections[0] != b"" or not sections[-1].startswith(b"--"):
        return None
    fields = {}
    for section in sections[1:-1]:
        head, separator, content = section.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        disposition = re.search(rb'name="([^"]*)"(?:; filename="([^"]*)")?', head)
        if not separator or disposition is None:
            return None
        filename = disposition[2].decode("utf-8") if disposition[2] is not None else None
        fields[disposition[1].decode("utf-8")] = (filename, content)
    return fields


def _summary(call: _Call) -> str:
    if isinstance(call.document, dict):
        return "json: " + ", ".join(sorted(call.document))
    if call.form is not None:
        return "multipart: " + ", ".join(
            f"{name}={filename!r} ({len(content)} bytes)" if filename is not None else name
            for name, (filename, content) in call.form.items())
    return f"{len(call.body)} bytes" if call.body else ""


class _Handler(BaseHTTPRequestHandler):
    standin: UdataStandIn

    def log_message(self, format, *args):  # keep test output clean
        pass

    def do_GET(self):
        self.standin._serve(self)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        return self.rfile.read(int(length)) if length and length.isdigit() else b""

    def answer(self, reply: _Reply) -> None:
        self.send_response(reply.status)
        for name, value in (reply.headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def drop_connection(self) -> None:
        """Close without answering; linger 0 makes it a reset (RST) rather than a clean end."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass
