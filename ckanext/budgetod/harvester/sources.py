"""Where budget documents live: harvest source kinds, their configuration, listing and retrieval.

A harvest source is a URL plus an optional JSON configuration. Five kinds of
location are understood:

``file``
    one TOTEM document;
``index``
    an HTML page or directory listing whose links to ``.xml`` / ``.zip`` files
    on the same host are the documents (depth 1: a linked archive is expanded
    into its entries, other pages are not followed);
``zip``
    an archive whose ``.xml`` entries are the documents;
``ckan``
    a dataset (``…/dataset/<name>``) or organisation (``…/organization/<name>``)
    of a remote CKAN portal, read through its action API;
``udata``
    a dataset (``…/datasets/<slug-or-id>/``) or organisation
    (``…/organizations/<slug-or-id>/``) of data.gouv.fr or another udata
    portal, read through its API v1.

The kind comes from the configuration (``"kind"``), else from the URL (its
extension, or the CKAN / udata page shapes), else from the content the URL
serves (archive, XML document or HTML page).

``list_documents`` is the gather stage: it names every document of a source
as a ``DocumentRef`` and raises ``SourceError`` when the source cannot be read
completely, so that a harvester never mistakes an unreadable source for one
whose documents were withdrawn. ``retrieve_document`` is the fetch stage: it
writes one document to a file, with conditional requests.

This module imports nothing from CKAN: the harvester plugin wraps it. All
network access goes through ``ckanext.budgetod.core.net.fetch.http_get``, which
enforces timeouts, size caps and the refusal of private addresses; every
message is given in French and English (``Bilingual``).
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator
from urllib.parse import quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

import re2
from lxml import etree

from ckanext.budgetod.core.errors import BudgetodError
from ckanext.budgetod.core.net.fetch import FetchError, NotFound, http_get
from ckanext.budgetod.core.messages import Bilingual

log = logging.getLogger(__name__)

KINDS = ("file", "index", "zip", "ckan", "udata")
GROUPINGS = ("budget", "document")
DEFAULT_GROUPING = "budget"
CONFIG_KEYS = ("kind", "urls", "pattern", "grouping", "metadata", "datagouv")
DATAGOUV_KEYS = ("organization",)

# A configuration is a short JSON text typed by an administrator; anything
# bigger is a mistake, and the pattern is matched against every candidate URL.
MAX_CONFIG_CHARS = 100_000
MAX_PATTERN_CHARS = 1_000
# RE2 matches in time linear in the URL whatever the pattern (no backtracking: "(a+)+$" is
# harmless); a pattern whose compiled automaton needs more memory than this is refused.
PATTERN_MAX_MEMORY = 8 * 2**20
# Entries that decompress to less than this cannot hurt, whatever their ratio.
RATIO_FLOOR_BYTES = 2**20
# Central directory bytes allowed per accepted entry (46 fixed, then name, extra fields and comment:
# real archives use well under 200): zipfile reads and parses the whole directory when it opens an
# archive, so its declared size is checked first.
CENTRAL_DIRECTORY_BYTES_PER_ENTRY = 1024
# Bounds the pages walked through a catalogue API, whatever the server claims.
MAX_LISTING_PAGES = 1_000

_DEFAULT_PORTS = {"http": 80, "https": 443}
_CHUNK_SIZE = 64 * 1024
_XML_FORMATS = frozenset({"xml", "text/xml", "application/xml"})
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# The prefix is CKAN's mount point and/or locale ("/data", "/fr"): CKAN strips a
# locale from any path, its API included, so the API is under the same prefix.
_CKAN_PAGE = re.compile(r"^(?P<prefix>.*?)/(?P<what>dataset|organization)/(?P<name>[^/]+)/?$")
# udata pages may carry a language segment; "/datasets/r/<id>" is a resource
# permalink (a file), which the one-segment rule below already excludes.
_UDATA_PAGE = re.compile(r"^(?:/[a-z]{2})?/(?P<what>datasets|organizations)/(?P<ident>[^/]+)/?$")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")
# Compared after lower-casing and removing everything but letters and digits,
# so "api_key", "X-Api-Key" and "apiKey" all read "apikey". A bare "key" is
# allowed: CKAN extras are {"key": …, "value": …}; "author" is not "auth".
_SECRET_KEY_PARTS = ("apikey", "token", "password", "passwd", "secret", "authorization",
                     "credential", "privatekey", "accesskey", "cookie")
_SECRET_KEY_NAMES = frozenset({"pwd", "pass", "auth", "bearer"})


class SourceConfigError(BudgetodError):
    """The configuration of a harvest source is invalid; ``field`` names the offending field."""

    def __init__(self, source: object, field: str, cause: Bilingual):
        super().__init__(source, cause)
        self.field = field


class SourceError(BudgetodError):
    """A source (page, archive, catalogue) could not be read completely; nothing may be concluded from it."""


class UnsafeArchive(BudgetodError):
    """A ZIP archive is refused: not an archive, or a bomb, a path traversal or too many entries."""


@dataclass(frozen=True)
class SourceConfig:
    """A validated source configuration.

    ``urls``: when not empty, the locations harvested instead of the source URL
    (which then only names the source); each is handled like a source URL.
    ``pattern``: regular expression searched in each document's guid; documents
    whose guid does not match are left out.
    ``grouping``: "budget" (the documents of one budget form one dataset) or
    "document" (one dataset per document); used by the harvester.
    ``metadata`` / ``datagouv``: passed on to the harvester as given.
    ``raw``: the parsed JSON object.
    """

    kind: str | None
    urls: tuple[str, ...]
    pattern: str | None
    grouping: str
    metadata: dict
    datagouv: dict
    raw: dict


@dataclass(frozen=True)
class FetchOptions:
    """Limits and permissions of the outbound requests made for a source.

    ``max_bytes`` caps every download and every archive entry (the largest
    document accepted); ``max_page_bytes`` caps index pages and API responses;
    ``listing_page_size`` is the page size asked of catalogue APIs; the
    ``max_archive_*`` and ``max_compression_ratio`` limits refuse hostile
    archives as a whole. ``archive_cache_dir``, when set, keeps each downloaded
    archive with its validators so that listing an archive and retrieving its
    entries one by one download it once (later requests are conditional).
    """

    timeout: float
    max_bytes: int
    allow_private: bool
    max_page_bytes: int = 16 * 2**20
    listing_page_size: int = 100
    max_archive_entries: int = 1_000
    max_archive_total_bytes: int = 2**30
    max_compression_ratio: float = 200.0
    archive_cache_dir: str | None = None
    archive_cache_bytes: int = 2**30
    max_documents: int = 5_000


@dataclass(frozen=True)
class DocumentRef:
    """One document of a source: ``url`` to download, ``member`` inside it when ``url`` is an archive."""

    guid: str
    url: str
    member: str | None = None


@dataclass(frozen=True)
class Retrieved:
    """Outcome of ``retrieve_document``; when ``not_modified``, nothing was written."""

    not_modified: bool
    sha256: str | None
    size: int
    etag: str | None
    last_modified: str | None
    final_url: str


# --- URLs -------------------------------------------------------------------------------------


def normalise_url(url: str) -> str:
    """The URL in the form used for guids: lower-case scheme and host, no default port, no fragment.

    The path and query are kept as they are. Raises ValueError for a URL with an invalid port.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at:
        netloc = f"{userinfo}@{netloc}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def _is_web_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError when the port is not a number in range
    except ValueError:
        return False
    return parts.scheme.lower() in _DEFAULT_PORTS and bool(parts.hostname)


def _absolute_web_url(base: str, reference: str) -> str | None:
    """``reference`` resolved against ``base`` if that gives a valid http(s) URL; pages hold any junk.

    An empty reference is None, not ``base``: it names no document.
    """
    if not reference.strip():
        return None
    try:
        url = urljoin(base, reference.strip())
    except ValueError:
        return None
    return url if _is_web_url(url) else None


def _extension(url: str) -> str:
    path = urlsplit(url).path.lower()
    return path.rpartition(".")[2] if "." in path.rpartition("/")[2] else ""


# --- configuration ----------------------------------------------------------------------------


_KIND_PAGE_SHAPES = {
    "ckan": Bilingual("jeu de données ou d'organisation CKAN (…/dataset/<nom> ou …/organization/<nom>)",
                      "a CKAN dataset or organization (…/dataset/<name> or …/organization/<name>)"),
    "udata": Bilingual("jeu de données ou d'organisation udata (…/datasets/<id>/ ou …/organizations/<id>/)",
                       "a udata dataset or organization (…/datasets/<id>/ or …/organizations/<id>/)"),
}


def parse_source_config(source_url: str, config_text: str | None) -> SourceConfig:
    """Validate a source URL and its JSON configuration.

    Unknown keys, wrong types, invalid regular expressions and anything that
    looks like a secret (keys such as ``api_key`` or ``token`` at any depth,
    credentials or such parameters in a URL) raise ``SourceConfigError``:
    a harvest source is public, secrets belong in the CKAN ini file. An empty
    ``source_url`` skips the checks that need it (the configuration alone is
    validated).
    """
    source_url = (source_url or "").strip()
    if source_url:
        _check_location(source_url, "url", source_url)
    raw = _parse_json_object(source_url, config_text)
    _refuse_secret_keys(source_url, raw, "")
    unknown = sorted(set(raw) - set(CONFIG_KEYS))
    if unknown:
        raise SourceConfigError(source_url, unknown[0], Bilingual(
            f"clé « {unknown[0]} » inconnue dans la configuration (clés admises : {', '.join(CONFIG_KEYS)})",
            f"unknown configuration key '{unknown[0]}' (allowed keys: {', '.join(CONFIG_KEYS)})"))

    kind = raw.get("kind")
    if kind is not None and kind not in KINDS:
        raise SourceConfigError(source_url, "kind", Bilingual(
            f"« kind » doit valoir l'un de {', '.join(KINDS)} (reçu : {kind!r})",
            f"'kind' must be one of {', '.join(KINDS)} (got {kind!r})"))

    urls = _parse_urls(source_url, raw.get("urls", []))
    if kind in ("ckan", "udata"):
        locations = [(url, "urls") for url in urls] or [(source_url, "url")]
        for location, field in locations:
            if location and _catalogue_page(kind, location) is None:
                raise SourceConfigError(source_url, field, Bilingual(
                    f"{location} n'est pas une adresse de {_KIND_PAGE_SHAPES[kind].fr}",
                    f"{location} is not the address of {_KIND_PAGE_SHAPES[kind].en}"))

    pattern = raw.get("pattern")
    if pattern is not None:
        _check_pattern(source_url, pattern)

    grouping = raw.get("grouping", DEFAULT_GROUPING)
    if grouping not in GROUPINGS:
        raise SourceConfigError(source_url, "grouping", Bilingual(
            f"« grouping » doit valoir « budget » ou « document » (reçu : {grouping!r})",
            f"'grouping' must be 'budget' or 'document' (got {grouping!r})"))

    sections = {}
    for field in ("metadata", "datagouv"):
        value = raw.get(field, {})
        if not isinstance(value, dict):
            raise SourceConfigError(source_url, field, Bilingual(
                f"« {field} » doit être un objet JSON", f"'{field}' must be a JSON object"))
        sections[field] = value
    _check_datagouv_section(source_url, sections["datagouv"])
    return SourceConfig(kind=kind, urls=urls, pattern=pattern, grouping=grouping,
                        metadata=sections["metadata"], datagouv=sections["datagouv"], raw=raw)


def _check_datagouv_section(source_url: str, section: dict) -> None:
    """Like the top level: unknown keys (a misspelt "organisation") and wrong types are refused.
    (The "metadata" section is checked against the metadata template's keys by the harvester.)"""
    unknown = sorted(set(section) - set(DATAGOUV_KEYS))
    if unknown:
        raise SourceConfigError(source_url, f"datagouv.{unknown[0]}", Bilingual(
            f"clé « datagouv.{unknown[0]} » inconnue dans la configuration (clés admises dans « datagouv » : "
            f"{', '.join(DATAGOUV_KEYS)})",
            f"unknown configuration key 'datagouv.{unknown[0]}' (allowed keys in 'datagouv': "
            f"{', '.join(DATAGOUV_KEYS)})"))
    organization = section.get("organization")
    if organization is not None and not (isinstance(organization, str) and organization.strip()):
        raise SourceConfigError(source_url, "datagouv.organization", Bilingual(
            "« datagouv.organization » doit être l'identifiant ou le slug d'une organisation data.gouv.fr",
            "'datagouv.organization' must be the id or slug of a data.gouv.fr organisation"))


def _parse_json_object(source_url: str, config_text: str | None) -> dict:
    if config_text is None or not config_text.strip():
        return {}
    if len(config_text) > MAX_CONFIG_CHARS:
        raise SourceConfigError(source_url, "config", Bilingual(
            f"configuration trop longue ({len(config_text)} caractères, {MAX_CONFIG_CHARS} au plus)",
            f"configuration too long ({len(config_text)} characters, at most {MAX_CONFIG_CHARS})"))
    try:
        parsed = json.loads(config_text, object_pairs_hook=_refuse_duplicate_keys)
    except _DuplicateKey as exc:
        raise SourceConfigError(source_url, exc.key, Bilingual(
            f"clé « {exc.key} » répétée dans la configuration", f"key '{exc.key}' repeated in the configuration")
        ) from None
    except json.JSONDecodeError as exc:
        raise SourceConfigError(source_url, "config", Bilingual(
            f"configuration JSON invalide, ligne {exc.lineno} colonne {exc.colno} : {exc.msg}",
            f"invalid JSON configuration, line {exc.lineno} column {exc.colno}: {exc.msg}")) from None
    if not isinstance(parsed, dict):
        raise SourceConfigError(source_url, "config", Bilingual(
            "la configuration doit être un objet JSON ({…})", "the configuration must be a JSON object ({…})"))
    return parsed


class _DuplicateKey(Exception):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _refuse_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    result = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _looks_like_secret(name: str) -> bool:
    compact = re.sub(r"[^a-z0-9]", "", name.lower())
    return compact in _SECRET_KEY_NAMES or any(part in compact for part in _SECRET_KEY_PARTS)


def _secret_refused(source_url: str, field: str, what: Bilingual) -> SourceConfigError:
    return SourceConfigError(source_url, field, Bilingual(
        f"{what.fr} ressemble à un secret : la configuration d'une source de moissonnage est publique, "
        "les secrets (clés d'API, jetons, mots de passe) se placent dans le fichier ini de CKAN",
        f"{what.en} looks like a secret: a harvest source's configuration is public, "
        "secrets (API keys, tokens, passwords) belong in CKAN's ini file"))


def _refuse_secret_keys(source_url: str, value: object, path: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            field = f"{path}.{key}" if path else str(key)
            if _looks_like_secret(str(key)):
                raise _secret_refused(source_url, field, Bilingual(f"la clé « {field} »", f"key '{field}'"))
            _refuse_secret_keys(source_url, item, field)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_secret_keys(source_url, item, f"{path}[{index}]")


def _check_location(source_url: str, field: str, url: str) -> None:
    """A location must be an absolute http(s) URL carrying no credentials."""
    if not _is_web_url(url):
        raise SourceConfigError(source_url, field, Bilingual(
            f"« {url} » n'est pas une URL http ou https absolue valide",
            f"'{url}' is not a valid absolute http or https URL"))
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise _secret_refused(source_url, field, Bilingual(
            f"l'identifiant inclus dans l'URL {parts.hostname}",
            f"the user information in the URL of {parts.hostname}"))
    for name in _query_names(parts.query):
        if _looks_like_secret(name):
            raise _secret_refused(source_url, field, Bilingual(
                f"le paramètre d'URL « {name} »", f"URL parameter '{name}'"))


def _query_names(query: str) -> Iterator[str]:
    for pair in query.split("&"):
        name = pair.partition("=")[0]
        if name:
            yield unquote(name)


def _parse_urls(source_url: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(url, str) and url.strip() for url in value):
        raise SourceConfigError(source_url, "urls", Bilingual(
            "« urls » doit être une liste d'URL (chaînes non vides)",
            "'urls' must be a list of URLs (non-empty strings)"))
    normalised: dict[str, None] = {}
    for url in value:
        _check_location(source_url, "urls", url.strip())
        normalised.setdefault(normalise_url(url))
    return tuple(normalised)


def _check_pattern(source_url: str, pattern: object) -> None:
    if not isinstance(pattern, str) or not pattern:
        raise SourceConfigError(source_url, "pattern", Bilingual(
            "« pattern » doit être une expression régulière (chaîne non vide)",
            "'pattern' must be a regular expression (non-empty string)"))
    if len(pattern) > MAX_PATTERN_CHARS:
        raise SourceConfigError(source_url, "pattern", Bilingual(
            f"« pattern » dépasse {MAX_PATTERN_CHARS} caractères",
            f"'pattern' exceeds {MAX_PATTERN_CHARS} characters"))
    try:
        compile_pattern(pattern)
    except re2.error as exc:
        raise SourceConfigError(source_url, "pattern", _invalid_pattern(exc)) from None


def compile_pattern(pattern: str):
    """The source's pattern compiled by RE2. Raises ``re2.error`` for what RE2 refuses:
    backreferences, lookarounds, patterns too large (``PATTERN_MAX_MEMORY``)."""
    options = re2.Options()
    options.log_errors = False
    options.max_mem = PATTERN_MAX_MEMORY
    return re2.compile(pattern, options)


def _invalid_pattern(exc: Exception) -> Bilingual:
    detail = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
    return Bilingual(
        f"expression régulière « pattern » invalide : {detail} (syntaxe RE2 : ni référence arrière "
        "ni assertion avant/arrière, taille bornée)",
        f"invalid 'pattern' regular expression: {detail} (RE2 syntax: no backreferences nor lookarounds, "
        "bounded size)")


# --- gather stage -----------------------------------------------------------------------------


def list_documents(source_url: str, config: SourceConfig, *, options: FetchOptions) -> list[DocumentRef]:
    """Every document of the source, deduplicated by guid, in discovery order.

    A ``file`` location is listed without any request (it is read at the fetch
    stage). Raises ``SourceError`` naming the location and the cause when a
    location, a page of a catalogue or a linked archive cannot be read or is
    refused: the list would be incomplete.
    """
    locations = config.urls or (normalise_url(source_url),)
    try:
        pattern = compile_pattern(config.pattern) if config.pattern else None
    except re2.error as exc:  # a configuration saved before patterns were RE2's
        raise SourceError(source_url, _invalid_pattern(exc)) from None
    found: dict[str, DocumentRef] = {}
    for location in locations:
        try:
            documents = _list_location(location, config.kind, options)
        except (FetchError, UnsafeArchive) as exc:
            raise SourceError(exc.source or location, Bilingual(
                f"source illisible : {exc.localized_cause('fr')}",
                f"unreadable source: {exc.localized_cause('en')}")) from exc
        for document in documents:
            if pattern is None or pattern.search(document.guid):
                found.setdefault(document.guid, document)
        if len(found) > options.max_documents:
            raise _too_many_documents(source_url, options)
    return list(found.values())


class _Collected(list):
    """The documents listed from one location, refusing the source past ``max_documents``:
    a page or catalogue is not read further once the cap is passed."""

    def __init__(self, url: str, options: FetchOptions):
        super().__init__()
        self.url, self.options = url, options

    def add(self, documents: list[DocumentRef]) -> None:
        self.extend(documents)
        if len(self) > self.options.max_documents:
            raise _too_many_documents(self.url, self.options)


def _too_many_documents(url: str, options: FetchOptions) -> SourceError:
    return SourceError(url, Bilingual(
        f"plus de {options.max_documents} documents : source refusée (limite "
        "ckanext.budgetod.max_documents_per_source)",
        f"more than {options.max_documents} documents: source refused "
        "(limit ckanext.budgetod.max_documents_per_source)"))


def _list_location(url: str, kind: str | None, options: FetchOptions) -> list[DocumentRef]:
    kind = kind or _kind_from_url(url)
    if kind == "file":
        return [_plain_document(url)]
    if kind == "ckan":
        return _list_ckan(url, options)
    if kind == "udata":
        return _list_udata(url, options)
    if kind == "zip":
        with _fetch_archive(url, options) as archive:
            return archive.documents()
    # An index page, or a URL whose content decides.
    response = http_get(url, timeout=options.timeout,
                        max_bytes=options.max_page_bytes if kind == "index" else options.max_bytes,
                        allow_private=options.allow_private, memory_limit=0,
                        spool_dir=options.archive_cache_dir)
    with response:
        _require_ok(response)
        if kind is None:
            kind = _kind_from_content(url, response)
            if kind == "file":
                return [_plain_document(url)]
            if kind == "zip":
                with _archive_from_response(url, response, options) as archive:
                    return archive.documents()
        if response.size > options.max_page_bytes:
            raise SourceError(url, Bilingual(
                f"page d'index trop grosse ({response.size} octets, {options.max_page_bytes} au plus)",
                f"index page too large ({response.size} bytes, at most {options.max_page_bytes})"))
        return _list_index(url, response.final_url, _collect_links(response), options)


def _kind_from_url(url: str) -> str | None:
    extension = _extension(url)
    if extension == "xml":
        return "file"
    if extension == "zip":
        return "zip"
    for kind in ("udata", "ckan"):
        if _catalogue_page(kind, url) is not None:
            return kind
    return None


def _kind_from_content(url: str, response) -> str:
    with open(response.body_path, "rb") if response.body_path else io.BytesIO(response.body or b"") as body:
        head = body.read(2048)
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    content_type = response.headers.get("content-type", "").lower()
    if text.startswith((b"<!doctype html", b"<html")) or b"<html" in text[:1024] or "html" in content_type:
        return "index"
    if text.startswith(b"<"):
        return "file"
    raise SourceError(url, Bilingual(
        f"contenu non reconnu (type « {content_type or 'inconnu'} ») : ni document XML, ni archive ZIP, ni page HTML",
        f"unrecognised content (type '{content_type or 'unknown'}'): neither an XML document, "
        "a ZIP archive nor an HTML page"))


def _plain_document(url: str) -> DocumentRef:
    guid = normalise_url(url)
    return DocumentRef(guid=guid, url=guid)


def _require_ok(response) -> None:
    response.raise_for_status()
    if response.status != 200:
        raise FetchError(response.final_url, Bilingual(
            f"réponse inattendue (HTTP {response.status})", f"unexpected response (HTTP {response.status})"))


# --- index pages ------------------------------------------------------------------------------


# The charsets an index page may declare in its Content-Type, by libxml2's name. Any other
# ("punycode", "idna", "utf-7"… which Python decodes slowly, with exceptions or into markup
# the bytes do not show) is ignored: the page is read as UTF-8, as when none is declared.
_PAGE_ENCODINGS = {
    "utf-8": "UTF-8", "utf8": "UTF-8", "us-ascii": "UTF-8", "ascii": "UTF-8",
    "iso-8859-1": "ISO-8859-1", "iso8859-1": "ISO-8859-1", "latin1": "ISO-8859-1", "latin-1": "ISO-8859-1",
    "iso-8859-15": "ISO-8859-15", "windows-1252": "WINDOWS-1252", "cp1252": "WINDOWS-1252",
}


class _LinkCollector:
    """Parser target collecting ``<a href>`` targets and the first ``<base href>``.

    It is fed by libxml2's HTML parser (lxml), which tolerates broken markup in linear time
    (``html.parser`` is super-linear on some malformed pages) and builds no tree.
    """

    def __init__(self):
        self.base_href: str | None = None
        self.hrefs: list[str] = []

    def start(self, tag, attrib):
        href = attrib.get("href")
        if not href:
            return
        if tag == "a":
            self.hrefs.append(href.strip())
        elif tag == "base" and self.base_href is None:
            self.base_href = href.strip()

    def end(self, tag):
        pass

    def data(self, data):
        pass

    def close(self):
        return self


def page_encoding(content_type: str) -> str:
    """The page's encoding: the Content-Type's charset when it is an accepted one, else UTF-8."""
    match = re.search(r"charset=[\"']?([A-Za-z0-9._-]+)", content_type)
    return _PAGE_ENCODINGS.get(match.group(1).lower(), "UTF-8") if match else "UTF-8"


def _collect_links(response) -> _LinkCollector:
    collector = _LinkCollector()
    parser = etree.HTMLParser(target=collector, encoding=page_encoding(response.headers.get("content-type", "")),
                              no_network=True, remove_comments=True, remove_pis=True)
    with open(response.body_path, "rb") if response.body_path else io.BytesIO(response.body or b"") as body:
        try:
            while chunk := body.read(_CHUNK_SIZE):
                parser.feed(chunk)
            parser.close()
        except etree.LxmlError:
            pass  # nothing parseable (an empty page): no link
    return collector


def _list_index(url: str, final_url: str, collector: _LinkCollector, options: FetchOptions) -> list[DocumentRef]:
    base = (_absolute_web_url(final_url, collector.base_href) if collector.base_href else None) or final_url
    # The page may have been redirected (www., https): both hosts count as "the same host".
    hosts = {urlsplit(url).hostname, urlsplit(final_url).hostname}
    documents = _Collected(url, options)
    archives: dict[str, None] = {}
    for href in collector.hrefs:
        link = _absolute_web_url(base, href)
        if link is None:
            continue
        extension = _extension(link)
        if extension not in ("xml", "zip"):
            continue
        if urlsplit(link).hostname not in hosts:
            log.info("%s: link to another host ignored: %s", url, link)
            continue
        if extension == "xml":
            documents.add([_plain_document(link)])
        else:
            archives.setdefault(normalise_url(link))
            if len(archives) > options.max_documents:
                raise _too_many_documents(url, options)
    for archive_url in archives:
        with _fetch_archive(archive_url, options) as archive:
            documents.add(archive.documents())
    return documents


# --- ZIP archives -----------------------------------------------------------------------------


class _OpenArchive:
    """A downloaded archive, checked, open for reading; close it (context manager) when done."""

    def __init__(self, url: str, handle: BinaryIO, final_url: str, etag: str | None,
                 last_modified: str | None, options: FetchOptions):
        self.url = url
        self.final_url = final_url
        self.etag = etag
        self.last_modified = last_modified
        self._handle = handle
        try:
            _check_central_directory(url, handle, options)
        except BaseException:
            handle.close()
            raise
        try:
            self._zip = zipfile.ZipFile(handle)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
            handle.close()
            raise UnsafeArchive(url, Bilingual(
                f"ce n'est pas une archive ZIP lisible ({exc})", f"not a readable ZIP archive ({exc})")) from None
        try:
            self.members = _checked_members(url, self._zip, options)
        except BaseException:
            self.close()
            raise

    def documents(self) -> list[DocumentRef]:
        archive_url = normalise_url(self.url)
        return [DocumentRef(guid=f"{archive_url}#{member}", url=archive_url, member=member)
                for member in self.members]

    def extract(self, member: str, destination: str, max_bytes: int) -> tuple[str, int]:
        """Stream ``member`` to ``destination`` (atomically); return its sha256 and size."""
        where = f"{self.url}#{member}"
        if member not in self.members:
            raise NotFound(where, Bilingual(
                "entrée absente de l'archive (ou refusée : pas un document .xml, nom dangereux)",
                "entry missing from the archive (or refused: not an .xml document, unsafe name)"))
        target = Path(destination)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        partial = tempfile.NamedTemporaryFile(dir=target.parent, prefix=".budgetod-", suffix=".part", delete=False)
        try:
            with partial, self._zip.open(member) as entry:
                while chunk := entry.read(_CHUNK_SIZE):
                    size += len(chunk)
                    # zipfile stops at the declared size; this guards the cap should it not.
                    if size > max_bytes:
                        raise UnsafeArchive(where, Bilingual(
                            f"entrée plus grosse que la limite de {max_bytes} octets",
                            f"entry larger than the {max_bytes}-byte limit"))
                    digest.update(chunk)
                    partial.write(chunk)
            os.replace(partial.name, target)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
            _remove_quietly(partial.name)
            raise UnsafeArchive(where, Bilingual(
                f"entrée d'archive corrompue ou illisible ({exc})", f"corrupt or unreadable archive entry ({exc})")
            ) from None
        except BaseException:
            _remove_quietly(partial.name)
            raise
        return digest.hexdigest(), size

    def close(self) -> None:
        self._zip.close()
        self._handle.close()

    def __enter__(self) -> "_OpenArchive":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


_END_OF_CENTRAL_DIRECTORY = struct.Struct("<4s4H2LH")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_END_OF_CENTRAL_DIRECTORY = struct.Struct("<4sQ2H2L4Q")


def _check_central_directory(url: str, handle: BinaryIO, options: FetchOptions) -> None:
    """Refuse an archive whose central directory declares more entries, or more bytes, than the
    limits allow, before zipfile reads it (millions of entries would be parsed before the cap).

    The end records are found as zipfile finds them (at the very end, else within the last
    64 KiB of comment); an archive without them is left to zipfile, which refuses it.
    """
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    tail_size = min(size, _END_OF_CENTRAL_DIRECTORY.size + 0xFFFF)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    handle.seek(0)
    position = tail.rfind(b"PK\x05\x06")
    if position < 0 or len(tail) - position < _END_OF_CENTRAL_DIRECTORY.size:
        return
    record = _END_OF_CENTRAL_DIRECTORY.unpack_from(tail, position)
    entries, directory_bytes = record[4], record[5]
    locator_position = position - _ZIP64_LOCATOR.size
    if locator_position >= 0 and tail[locator_position:locator_position + 4] == b"PK\x06\x07":
        zip64_offset = _ZIP64_LOCATOR.unpack_from(tail, locator_position)[2]
        handle.seek(min(zip64_offset, size))
        zip64 = handle.read(_ZIP64_END_OF_CENTRAL_DIRECTORY.size)
        handle.seek(0)
        if len(zip64) == _ZIP64_END_OF_CENTRAL_DIRECTORY.size and zip64.startswith(b"PK\x06\x06"):
            fields = _ZIP64_END_OF_CENTRAL_DIRECTORY.unpack(zip64)
            entries, directory_bytes = fields[7], fields[8]
    if entries > options.max_archive_entries:
        raise _too_many_entries(url, entries, options)
    limit = options.max_archive_entries * CENTRAL_DIRECTORY_BYTES_PER_ENTRY
    if directory_bytes > limit:
        raise UnsafeArchive(url, Bilingual(
            f"archive refusée : répertoire central de {directory_bytes} octets, {limit} au plus",
            f"archive refused: central directory of {directory_bytes} bytes, at most {limit}"))


def _too_many_entries(url: str, entries: int, options: FetchOptions) -> UnsafeArchive:
    return UnsafeArchive(url, Bilingual(
        f"archive refusée : {entries} entrées, {options.max_archive_entries} au plus",
        f"archive refused: {entries} entries, at most {options.max_archive_entries}"))


def _checked_members(url: str, archive: zipfile.ZipFile, options: FetchOptions) -> list[str]:
    """The names of the archive's documents, after refusing the whole archive if anything is hostile."""
    entries = archive.infolist()
    if len(entries) > options.max_archive_entries:  # the end record may have understated them
        raise _too_many_entries(url, len(entries), options)
    members: dict[str, None] = {}
    total = 0
    for entry in entries:
        name = entry.filename
        if _unsafe_entry_name(name):
            raise UnsafeArchive(url, Bilingual(
                f"archive refusée : nom d'entrée dangereux « {name} » "
                "(chemin absolu, « .. » ou barre oblique inverse)",
                f"archive refused: unsafe entry name '{name}' (absolute path, '..' or backslash)"))
        if entry.is_dir() or not name.lower().endswith(".xml") or _is_platform_debris(name):
            continue  # nested archives and other files are not documents
        if entry.flag_bits & 0x1:
            log.warning("%s: encrypted entry %s ignored", url, name)
            continue
        if entry.file_size > options.max_bytes:
            raise UnsafeArchive(url, Bilingual(
                f"archive refusée : l'entrée « {name} » décompressée ferait {entry.file_size} octets, "
                f"{options.max_bytes} au plus",
                f"archive refused: entry '{name}' would decompress to {entry.file_size} bytes, "
                f"at most {options.max_bytes}"))
        if (entry.file_size > RATIO_FLOOR_BYTES
                and entry.file_size > options.max_compression_ratio * max(entry.compress_size, 1)):
            raise UnsafeArchive(url, Bilingual(
                f"archive refusée : taux de compression suspect pour « {name} » "
                f"({entry.file_size} octets pour {entry.compress_size} compressés, bombe de décompression ?)",
                f"archive refused: suspicious compression ratio for '{name}' "
                f"({entry.file_size} bytes from {entry.compress_size} compressed; decompression bomb?)"))
        total += entry.file_size
        if total > options.max_archive_total_bytes:
            raise UnsafeArchive(url, Bilingual(
                f"archive refusée : plus de {options.max_archive_total_bytes} octets une fois décompressée",
                f"archive refused: more than {options.max_archive_total_bytes} bytes once decompressed"))
        members.setdefault(name)
    return list(members)


def _unsafe_entry_name(name: str) -> bool:
    # zipfile already cuts names at a NUL byte; what remains must be a plain relative path.
    return "\\" in name or name.startswith("/") or bool(_WINDOWS_DRIVE.match(name)) or ".." in name.split("/")


def _is_platform_debris(name: str) -> bool:
    """macOS resource forks ("__MACOSX/", "._x.xml") carry the .xml name but are not documents."""
    return name.startswith("__MACOSX/") or name.rpartition("/")[2].startswith("._")


class _ArchiveNotModified(Exception):
    """The server confirmed the caller's validators: the archive has not changed."""


def _fetch_archive(url: str, options: FetchOptions, *, etag: str | None = None,
                   last_modified: str | None = None) -> _OpenArchive:
    """Download (or revalidate the cached copy of) an archive and open it.

    With ``etag`` / ``last_modified`` from the caller, a 304 Not Modified
    raises ``_ArchiveNotModified``. Without them, a cached copy's validators
    are used and a 304 means "use the cached copy".
    """
    cache = _ArchiveCache(options.archive_cache_dir) if options.archive_cache_dir else None
    caller_validators = bool(etag or last_modified)
    cached = cache.lookup(url) if cache else None
    if not caller_validators and cached is not None:
        etag, last_modified = cached.etag, cached.last_modified
    try:
        response = http_get(url, timeout=options.timeout, max_bytes=options.max_bytes,
                            allow_private=options.allow_private, if_none_match=etag,
                            if_modified_since=last_modified, memory_limit=0,
                            spool_dir=options.archive_cache_dir)
        with response:
            if response.not_modified:
                if caller_validators:
                    raise _ArchiveNotModified
                if cached is not None:
                    cache.touch(url)
                    opened = cached.open(url, options)
                    cached = None  # now owned by the returned archive
                    return opened
            _require_ok(response)
            return _archive_from_response(url, response, options)
    finally:
        if cached is not None:
            cached.handle.close()


def _archive_from_response(url: str, response, options: FetchOptions) -> _OpenArchive:
    # The handle is opened before the spooled file is moved into the cache or
    # deleted: it keeps reading exactly these bytes whatever happens to the path.
    handle = open(response.body_path, "rb") if response.body_path else io.BytesIO(response.body or b"")
    try:
        if options.archive_cache_dir and response.body_path:
            cache = _ArchiveCache(options.archive_cache_dir)
            cache.store(url, response)
            cache.evict(options.archive_cache_bytes, keep=url)
        response.discard()
        return _OpenArchive(url, handle, response.final_url, response.etag, response.last_modified, options)
    except BaseException:
        handle.close()
        raise


@dataclass
class _CachedArchive:
    handle: BinaryIO
    final_url: str
    etag: str | None
    last_modified: str | None

    def open(self, url: str, options: FetchOptions) -> _OpenArchive:
        self.handle.seek(0)
        return _OpenArchive(url, self.handle, self.final_url, self.etag, self.last_modified, options)


class _ArchiveCache:
    """Downloaded archives kept with their validators, one pair of files per URL.

    Several fetch processes may share the directory: files are replaced
    atomically, and a copy is used only if its sha256 matches the one recorded
    with its validators (checked on the open handle that will be read).
    """

    def __init__(self, directory: str):
        self.directory = Path(directory)

    def _paths(self, url: str) -> tuple[Path, Path]:
        key = hashlib.sha256(normalise_url(url).encode("utf-8")).hexdigest()[:32]
        return self.directory / f"{key}.zip", self.directory / f"{key}.json"

    def lookup(self, url: str) -> _CachedArchive | None:
        archive_path, record_path = self._paths(url)
        try:
            record = json.loads(record_path.read_text("utf-8"))
            handle = open(archive_path, "rb")
        except (OSError, ValueError):
            return None
        digest = hashlib.sha256()
        while chunk := handle.read(_CHUNK_SIZE):
            digest.update(chunk)
        if not isinstance(record, dict) or digest.hexdigest() != record.get("sha256") or not (
                record.get("etag") or record.get("last_modified")):
            handle.close()
            return None
        return _CachedArchive(handle, record.get("final_url") or url, record.get("etag"), record.get("last_modified"))

    def touch(self, url: str) -> None:
        """Mark a copy as just used: eviction takes the least recently used first."""
        for path in self._paths(url):
            try:
                os.utime(path)
            except OSError:
                pass

    def evict(self, max_bytes: int, keep: str) -> None:
        """Remove the least recently used archives until those kept take at most ``max_bytes``;
        ``keep`` (the URL just stored) stays. Partial downloads in progress are not counted."""
        kept = self._paths(keep)[0].stem
        copies: dict[str, list] = {}
        for entry in os.scandir(self.directory):
            stem, dot, suffix = entry.name.rpartition(".")
            if not dot or suffix not in ("zip", "json"):
                continue
            try:
                stat = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            copy = copies.setdefault(stem, [0.0, 0])
            copy[0] = max(copy[0], stat.st_mtime)
            copy[1] += stat.st_size
        total = sum(size for _used, size in copies.values())
        for stem, (_used, size) in sorted(copies.items(), key=lambda item: item[1][0]):
            if total <= max_bytes:
                break
            if stem == kept:
                continue
            for suffix in ("json", "zip"):  # the record first: a copy without it is never used
                _remove_quietly(str(self.directory / f"{stem}.{suffix}"))
            total -= size

    def store(self, url: str, response) -> None:
        archive_path, record_path = self._paths(url)
        response.save_to(archive_path)
        record = {"url": normalise_url(url), "final_url": response.final_url, "sha256": response.sha256,
                  "etag": response.etag, "last_modified": response.last_modified}
        partial = tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=self.directory, prefix=".budgetod-",
                                              suffix=".part", delete=False)
        try:
            with partial:
                json.dump(record, partial)
            os.replace(partial.name, record_path)
        except BaseException:
            _remove_quietly(partial.name)
            raise


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# --- catalogues -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CataloguePage:
    api_base: str   # without trailing slash
    what: str       # "dataset" or "organization"
    ident: str      # name, slug or id, percent-decoded


def _catalogue_page(kind: str, url: str) -> _CataloguePage | None:
    parts = urlsplit(url)
    origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
    if kind == "ckan":
        match = _CKAN_PAGE.match(parts.path)
        if not match:
            return None
        return _CataloguePage(f"{origin}{match['prefix']}/api/3/action", match["what"], unquote(match["name"]))
    match = _UDATA_PAGE.match(parts.path)
    if not match:
        return None
    return _CataloguePage(f"{origin}/api/1", match["what"].rstrip("s"), unquote(match["ident"]))


def _get_json(url: str, options: FetchOptions, api: str) -> tuple[dict, str]:
    """GET a JSON object from a catalogue API; returns it and the final URL."""
    with http_get(url, timeout=options.timeout, max_bytes=options.max_page_bytes,
                  allow_private=options.allow_private, headers={"Accept": "application/json"}) as response:
        body = response.content()
        status, final_url = response.status, response.final_url
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        document = None
    if status != 200:
        detail = _api_error_detail(document)
        what = Bilingual("introuvable", "not found") if status in (404, 410) else Bilingual("erreur", "error")
        raise SourceError(final_url, Bilingual(
            f"API {api} : {what.fr} (HTTP {status}){detail}", f"{api} API: {what.en} (HTTP {status}){detail}"))
    if not isinstance(document, dict):
        raise SourceError(final_url, Bilingual(
            f"API {api} : la réponse n'est pas un objet JSON", f"{api} API: the response is not a JSON object"))
    return document, final_url


def _api_error_detail(document: object) -> str:
    """The server's own error message (CKAN: error.message; udata: message), shortened."""
    if not isinstance(document, dict):
        return ""
    error = document.get("error")
    message = error.get("message") if isinstance(error, dict) else document.get("message")
    return f" — {str(message)[:200]}" if message else ""


def _is_xml_resource(resource: object) -> bool:
    if not isinstance(resource, dict) or not isinstance(resource.get("url"), str):
        return False
    declared = str(resource.get("format") or "").strip().lower().lstrip(".")
    return declared in _XML_FORMATS or _extension(resource["url"]) == "xml"


def _resource_documents(resources: object, listing_url: str) -> list[DocumentRef]:
    documents = []
    for resource in resources if isinstance(resources, list) else []:
        if not _is_xml_resource(resource):
            continue
        # Catalogues may store relative upload paths; they are relative to the API response.
        url = _absolute_web_url(listing_url, resource["url"])
        if url is not None:
            documents.append(_plain_document(url))
        else:
            log.info("%s: resource URL ignored: %r", listing_url, resource["url"])
    return documents


def _list_ckan(url: str, options: FetchOptions) -> list[DocumentRef]:
    page = _catalogue_page("ckan", url)
    if page is None:
        raise SourceError(url, Bilingual(
            f"ce n'est pas une adresse de {_KIND_PAGE_SHAPES['ckan'].fr}",
            f"not the address of {_KIND_PAGE_SHAPES['ckan'].en}"))
    if page.what == "dataset":
        dataset, final_url = _ckan_action(page.api_base, "package_show", {"id": page.ident}, options)
        return _resource_documents(dataset.get("resources"), final_url)
    # The organisation page may name it by id; the search filter needs its name.
    organization, _ = _ckan_action(page.api_base, "organization_show", {
        "id": page.ident, "include_datasets": "false", "include_users": "false",
        "include_extras": "false", "include_followers": "false"}, options)
    name = organization.get("name")
    if not isinstance(name, str) or not name:
        raise SourceError(url, Bilingual("API CKAN : organisation sans nom", "CKAN API: organization without a name"))
    documents = _Collected(url, options)
    start = 0
    first_count = None
    for _page in range(MAX_LISTING_PAGES):
        result, final_url = _ckan_action(page.api_base, "package_search", {
            "fq": f'organization:"{name}"', "rows": options.listing_page_size, "start": start,
            "sort": "name asc"}, options)
        datasets = result.get("results")
        count = result.get("count")
        if not isinstance(datasets, list) or not isinstance(count, int):
            raise SourceError(final_url, Bilingual(
                "API CKAN : réponse de package_search sans « results » ni « count »",
                "CKAN API: package_search response without 'results' and 'count'"))
        first_count = _same_total(final_url, first_count, count)
        for dataset in datasets:
            if isinstance(dataset, dict):
                documents.add(_resource_documents(dataset.get("resources"), final_url))
        start += len(datasets)
        if not datasets or start >= count:
            return documents
    raise _too_many_pages(url)


def _ckan_action(api_base: str, action: str, params: dict, options: FetchOptions) -> tuple[dict, str]:
    document, final_url = _get_json(f"{api_base}/{action}?{urlencode(params)}", options, "CKAN")
    result = document.get("result")
    if document.get("success") is not True or not isinstance(result, dict):
        raise SourceError(final_url, Bilingual(
            f"API CKAN : échec de {action}{_api_error_detail(document)}",
            f"CKAN API: {action} failed{_api_error_detail(document)}"))
    return result, final_url


def _list_udata(url: str, options: FetchOptions) -> list[DocumentRef]:
    page = _catalogue_page("udata", url)
    if page is None:
        raise SourceError(url, Bilingual(
            f"ce n'est pas une adresse de {_KIND_PAGE_SHAPES['udata'].fr}",
            f"not the address of {_KIND_PAGE_SHAPES['udata'].en}"))
    ident = quote(page.ident, safe="")
    # The API's canonical paths end with "/": asking for them directly avoids a 308 per request.
    if page.what == "dataset":
        dataset, final_url = _get_json(f"{page.api_base}/datasets/{ident}/", options, "udata")
        return _resource_documents(dataset.get("resources"), final_url)
    documents = _Collected(url, options)
    next_url = (f"{page.api_base}/organizations/{ident}/datasets/?"
                + urlencode({"page": 1, "page_size": options.listing_page_size}))
    visited: set[str] = set()
    first_total = None
    for _page in range(MAX_LISTING_PAGES):
        visited.add(next_url)
        listing, final_url = _get_json(next_url, options, "udata")
        datasets = listing.get("data")
        if not isinstance(datasets, list) or not isinstance(listing.get("total"), int):
            raise SourceError(final_url, Bilingual(
                "API udata : page de résultats sans « data » ni « total »",
                "udata API: result page without 'data' and 'total'"))
        first_total = _same_total(final_url, first_total, listing["total"])
        for dataset in datasets:
            if isinstance(dataset, dict):
                documents.add(_resource_documents(dataset.get("resources"), final_url))
        next_page = listing.get("next_page")
        if next_page is None or next_page == "":
            return documents
        following = _absolute_web_url(final_url, next_page) if isinstance(next_page, str) else None
        # The next page is followed only on the API's own host, and never twice.
        if (following is None or following in visited
                or urlsplit(following).hostname != urlsplit(final_url).hostname):
            raise SourceError(final_url, Bilingual(
                f"API udata : « next_page » inattendu ({next_page!r})",
                f"udata API: unexpected 'next_page' ({next_page!r})"))
        next_url = following
    raise _too_many_pages(url)


def _same_total(url: str, first: int | None, current: int) -> int:
    """Offset paging skips a dataset when one before it disappears mid-listing; a changed total reveals it."""
    if first is not None and current != first:
        raise SourceError(url, Bilingual(
            f"le catalogue a changé pendant la lecture ({first} puis {current} jeux de données) : "
            "liste abandonnée, elle sera reprise au prochain moissonnage",
            f"the catalogue changed while being listed ({first} then {current} datasets): "
            "listing abandoned, it will be retried at the next harvest"))
    return current


def _too_many_pages(url: str) -> SourceError:
    return SourceError(url, Bilingual(
        f"plus de {MAX_LISTING_PAGES} pages de résultats : liste abandonnée",
        f"more than {MAX_LISTING_PAGES} result pages: listing abandoned"))


# --- fetch stage ------------------------------------------------------------------------------


def retrieve_document(ref: DocumentRef, destination: str, *, options: FetchOptions,
                      etag: str | None = None, last_modified: str | None = None) -> Retrieved:
    """Write the document to ``destination`` (atomically) unless the server says it is unchanged.

    ``etag`` / ``last_modified`` are the validators of the previous retrieval
    (for an archive entry, the archive's). Raises ``FetchError`` (``NotFound``
    when the document or entry is gone, ``RefusedLocation`` for a refused
    address) or ``UnsafeArchive``.
    """
    if ref.member is None:
        return _retrieve_plain(ref.url, destination, options, etag, last_modified)
    try:
        archive = _fetch_archive(ref.url, options, etag=etag, last_modified=last_modified)
    except _ArchiveNotModified:
        return Retrieved(True, None, 0, etag, last_modified, ref.url)
    with archive:
        sha256, size = archive.extract(ref.member, destination, options.max_bytes)
        return Retrieved(False, sha256, size, archive.etag, archive.last_modified, archive.final_url)


def _retrieve_plain(url: str, destination: str, options: FetchOptions, etag: str | None,
                    last_modified: str | None) -> Retrieved:
    with http_get(url, timeout=options.timeout, max_bytes=options.max_bytes,
                  allow_private=options.allow_private, if_none_match=etag, if_modified_since=last_modified,
                  spool_dir=os.path.dirname(os.path.abspath(destination))) as response:
        if response.not_modified:
            if not (etag or last_modified):
                # Nothing to compare with: "unchanged" would leave the caller without a document.
                raise FetchError(response.final_url, Bilingual(
                    "le serveur a répondu HTTP 304 (non modifié) à une requête non conditionnelle",
                    "server answered HTTP 304 (not modified) to an unconditional request"))
            return Retrieved(True, None, 0, response.etag or etag, response.last_modified or last_modified,
                             response.final_url)
        _require_ok(response)
        response.save_to(destination)
        return Retrieved(False, response.sha256, response.size, response.etag, response.last_modified,
                         response.final_url)
