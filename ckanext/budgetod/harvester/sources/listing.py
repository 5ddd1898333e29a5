"""The gather stage: every document of a source, whatever its kind (``list_documents``)."""
from __future__ import annotations

import io

import re2

from ckanext.budgetod.core.messages import Bilingual
from ckanext.budgetod.core.net.fetch import FetchError, http_get

from .archive import _ZIP_MAGIC, UnsafeArchive, _archive_from_response, _fetch_archive
from .catalogue import _catalogue_page, _list_ckan, _list_udata
from .common import (
    DocumentRef,
    FetchOptions,
    SourceError,
    _extension,
    _plain_document,
    _require_ok,
    _too_many_documents,
    normalise_url,
)
from .config import SourceConfig, _invalid_pattern, compile_pattern
from .index import _collect_links, _list_index


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
