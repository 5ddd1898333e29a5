"""The gather stage: every document of a source, whatever its kind (``list_documents``)."""
from __future__ import annotations

import io
from collections.abc import Callable

import re2

from ckanext.budgetod.core.messages import Message
from ckanext.budgetod.core.net.fetch import FetchError, HttpResponse, http_get
from ckanext.budgetod.core.net.urls import catalogue_page, normalise_url
from ckanext.budgetod.core.settings import Settings
from ckanext.budgetod.core.source_config import SourceConfig, compile_pattern, invalid_pattern
from ckanext.budgetod.core.sources.archive import ZIP_MAGIC, UnsafeArchive, list_zip, list_zip_response
from ckanext.budgetod.core.sources.catalogue import list_ckan, list_udata
from ckanext.budgetod.core.sources.common import (
    Collected,
    DocumentRef,
    SourceError,
    extension_of,
    list_file,
    require_ok,
    too_many_documents,
)
from ckanext.budgetod.core.sources.index import list_index, list_index_page


def list_documents(source_url: str, config: SourceConfig, *, settings: Settings) -> list[DocumentRef]:
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
        raise SourceError(source_url, invalid_pattern(exc)) from None
    found: dict[str, DocumentRef] = {}
    for location in locations:
        try:
            documents = _list_location(location, config.kind, settings)
        except (FetchError, UnsafeArchive) as exc:
            raise SourceError(exc.source or location, Message("listing_unreadable_source", cause=exc.cause)) from exc
        for document in documents:
            if pattern is None or pattern.search(document.guid):
                found.setdefault(document.guid, document)
        if len(found) > settings.network.max_documents:
            raise too_many_documents(source_url, settings)
    return list(found.values())


# Each kind's lister: the documents of one location of that kind, added to ``collected``.
LISTERS: dict[str, Callable[[str, Settings, Collected], None]] = {
    "file": list_file, "index": list_index, "zip": list_zip, "ckan": list_ckan, "udata": list_udata}


def _list_location(url: str, kind: str | None, settings: Settings) -> list[DocumentRef]:
    collected = Collected(url, settings)
    kind = kind or _kind_from_url(url)
    if kind is not None:
        LISTERS[kind](url, settings, collected)
        return collected
    # The content decides: one request, its response handed to the kind's reader.
    with http_get(url, timeout=settings.network.timeout, max_bytes=settings.max_document_size,
                  allow_private=settings.network.allow_private, memory_limit=0,
                  spool_dir=settings.archive_cache_dir) as response:
        require_ok(response)
        kind = _kind_from_content(url, response)
        if kind == "file":
            list_file(url, settings, collected)
        elif kind == "zip":
            list_zip_response(url, response, settings, collected)
        else:
            list_index_page(url, response, settings, collected)
    return collected


def _kind_from_url(url: str) -> str | None:
    extension = extension_of(url)
    if extension == "xml":
        return "file"
    if extension == "zip":
        return "zip"
    for kind in ("udata", "ckan"):
        if catalogue_page(kind, url) is not None:
            return kind
    return None


def _kind_from_content(url: str, response: HttpResponse) -> str:
    with open(response.body_path, "rb") if response.body_path else io.BytesIO(response.body or b"") as body:
        head = body.read(2048)
    if head.startswith(ZIP_MAGIC):
        return "zip"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    content_type = response.headers.get("content-type", "").lower()
    if text.startswith((b"<!doctype html", b"<html")) or b"<html" in text[:1024] or "html" in content_type:
        return "index"
    if text.startswith(b"<"):
        return "file"
    raise SourceError(url, Message("listing_unrecognised_content_type_neither_xml",
        content_type=content_type or Message("type_unknown")))
