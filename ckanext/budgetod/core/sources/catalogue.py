"""``ckan`` and ``udata`` sources: the XML resources of a dataset or of an organisation's datasets, read
through the catalogue's API, page after page."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from ckanext.budgetod.core.messages import Message
from ckanext.budgetod.core.net.fetch import http_get
from ckanext.budgetod.core.net.urls import KIND_PAGE_SHAPES, CataloguePage, absolute_web_url, catalogue_page
from ckanext.budgetod.core.settings import Settings
from ckanext.budgetod.core.sources import streamed_json
from ckanext.budgetod.core.sources.common import (
    Collected,
    DocumentRef,
    SourceError,
    extension_of,
    plain_document,
)
from ckanext.budgetod.core.sources.streamed_json import VALUE, Array, Fields, Items

log = logging.getLogger(__name__)


# Bounds the pages walked through a catalogue API, whatever the server claims.
MAX_LISTING_PAGES = 1_000


_XML_FORMATS = frozenset({"xml", "text/xml", "application/xml"})


# What of an API response says why it failed: CKAN's error.message, udata's message.
_ERROR_FIELDS = {"error": Fields(message=VALUE), "message": VALUE}
_RESOURCE = Fields(url=VALUE, format=VALUE)


def _get_json(url: str, settings: Settings, api: str, shape: Callable[[str], Fields]) -> tuple[dict[str, Any], str]:
    """GET a JSON object from a catalogue API; returns what ``shape(final URL)`` keeps of it, and the final URL.

    The body is parsed as a stream (``streamed_json``): however large or deeply nested a page, only
    what the shape names is built. An error response keeps only the server's message.
    """
    with http_get(url, timeout=settings.network.timeout, max_bytes=settings.network.max_page_bytes,
                  allow_private=settings.network.allow_private, headers={"Accept": "application/json"},
                  spool_dir=settings.archive_cache_dir) as response:
        status, final_url = response.status, response.final_url
        try:
            document = streamed_json.read(response.body, response.body_path,
                                          shape(final_url) if status == 200 else Fields(_ERROR_FIELDS))
        except streamed_json.NotJson:
            document = None
    if status != 200:
        detail = _api_error_detail(document)
        what = Message("udata_not_found") if status in (404, 410) else Message("catalogue_error")
        raise SourceError(final_url, Message("catalogue_api_http", api=api, what=what, status=status, detail=detail))
    if not isinstance(document, dict):
        raise SourceError(final_url, Message("catalogue_api_response_not_json_object", api=api))
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
    return declared in _XML_FORMATS or extension_of(resource["url"]) == "xml"


class _ResponseDocuments:
    """The documents of one API response, taken from its resources as they are read: resolved against
    the response's URL and counted against the source's cap at once."""

    def __init__(self, documents: Collected, listing_url: str):
        self.documents, self.listing_url = documents, listing_url
        self.pending = 0

    def resource(self, resource: object) -> list[DocumentRef]:
        if not isinstance(resource, dict) or not _is_xml_resource(resource):
            return []
        # Catalogues may store relative upload paths; they are relative to the API response.
        url = absolute_web_url(self.listing_url, resource["url"])
        if url is None:
            log.info("%s: resource URL ignored: %r", self.listing_url, resource["url"])
            return []
        self.pending += 1
        self.documents.check_pending(self.pending)
        return [plain_document(url)]

    def resources(self) -> Items:
        """The shape of a dataset's "resources": only each one's url and format are read."""
        return Items(_RESOURCE, keep=self.resource)

    def datasets(self) -> Items:
        """The shape of a page's datasets: only their resources are read."""
        return Items(Fields(resources=self.resources()), keep=_dataset_documents)


def _dataset_documents(dataset: object) -> list[DocumentRef]:
    resources = dataset.get("resources") if isinstance(dataset, dict) else None
    return resources.kept if isinstance(resources, Array) else []


def _page_of(kind: str, url: str) -> CataloguePage:
    """The catalogue page ``url`` names; a SourceError when it has no shape of a ``kind`` page."""
    page = catalogue_page(kind, url)
    if page is None:
        raise SourceError(url, Message("catalogue_not_address", kind_page_shape=KIND_PAGE_SHAPES[kind]))
    return page


def list_ckan(url: str, settings: Settings, collected: Collected) -> None:
    page = _page_of("ckan", url)
    if page.what == "dataset":
        dataset, _ = _ckan_action(page.api_base, "package_show", {"id": page.ident}, settings,
                                  lambda listing_url: Fields(
                                      resources=_ResponseDocuments(collected, listing_url).resources()))
        collected.add(_dataset_documents(dataset))
        return
    # The organisation page may name it by id; the search filter needs its name.
    organization, _ = _ckan_action(page.api_base, "organization_show", {
        "id": page.ident, "include_datasets": "false", "include_users": "false",
        "include_extras": "false", "include_followers": "false"}, settings, lambda _listing_url: Fields(name=VALUE))
    name = organization.get("name")
    if not isinstance(name, str) or not name:
        raise SourceError(url, Message("catalogue_ckan_api_organization_without_name"))
    start = 0
    first_count = None
    for _page in range(MAX_LISTING_PAGES):
        result, final_url = _ckan_action(page.api_base, "package_search", {
            "fq": f'organization:"{name}"', "rows": settings.network.listing_page_size, "start": start,
            "sort": "name asc"}, settings, lambda listing_url: Fields(
                results=_ResponseDocuments(collected, listing_url).datasets(), count=VALUE))
        datasets = result.get("results")
        count = result.get("count")
        if not isinstance(datasets, Array) or not isinstance(count, int):
            raise SourceError(final_url, Message("catalogue_ckan_api_package_search_response"))
        first_count = _same_total(final_url, first_count, count)
        collected.add(datasets.kept)
        start += datasets.length
        if not datasets.length or start >= count:
            return
    raise _too_many_pages(url)


def _ckan_action(api_base: str, action: str, params: dict[str, object], settings: Settings,
                 result: Callable[[str], Fields]) -> tuple[dict[str, Any], str]:
    """The ``result`` of a CKAN action, as much of it as the shape ``result(final URL)`` keeps."""
    document, final_url = _get_json(f"{api_base}/{action}?{urlencode(params)}", settings, "CKAN",
                                    lambda listing_url: Fields(success=VALUE, result=result(listing_url),
                                                               **_ERROR_FIELDS))
    kept = document.get("result")
    if document.get("success") is not True or not isinstance(kept, dict):
        raise SourceError(final_url, Message("catalogue_ckan_api_failed",
            action=action, _api_error_detail=_api_error_detail(document)))
    return kept, final_url


def list_udata(url: str, settings: Settings, collected: Collected) -> None:
    page = _page_of("udata", url)
    ident = quote(page.ident, safe="")
    # The API's canonical paths end with "/": asking for them directly avoids a 308 per request.
    if page.what == "dataset":
        dataset, _ = _get_json(f"{page.api_base}/datasets/{ident}/", settings, "udata", lambda listing_url: Fields(
            resources=_ResponseDocuments(collected, listing_url).resources(), **_ERROR_FIELDS))
        collected.add(_dataset_documents(dataset))
        return
    next_url = (f"{page.api_base}/organizations/{ident}/datasets/?"
                + urlencode({"page": 1, "page_size": settings.network.listing_page_size}))
    visited: set[str] = set()
    first_total = None
    for _page in range(MAX_LISTING_PAGES):
        visited.add(next_url)
        listing, final_url = _get_json(next_url, settings, "udata", lambda listing_url: Fields(
            data=_ResponseDocuments(collected, listing_url).datasets(), total=VALUE, next_page=VALUE,
            **_ERROR_FIELDS))
        datasets = listing.get("data")
        if not isinstance(datasets, Array) or not isinstance(listing.get("total"), int):
            raise SourceError(final_url, Message("catalogue_udata_api_result_page_without"))
        first_total = _same_total(final_url, first_total, listing["total"])
        collected.add(datasets.kept)
        next_page = listing.get("next_page")
        if next_page is None or next_page == "":
            return
        following = absolute_web_url(final_url, next_page) if isinstance(next_page, str) else None
        # The next page is followed only on the API's own host, and never twice.
        if (following is None or following in visited
                or urlsplit(following).hostname != urlsplit(final_url).hostname):
            raise SourceError(final_url, Message("catalogue_udata_api_unexpected_next_page", next_page=next_page))
        next_url = following
    raise _too_many_pages(url)


def _same_total(url: str, first: int | None, current: int) -> int:
    """Offset paging skips a dataset when one before it disappears mid-listing; a changed total reveals it."""
    if first is not None and current != first:
        raise SourceError(url, Message("catalogue_catalogue_changed_while_being_listed", first=first, current=current))
    return current


def _too_many_pages(url: str) -> SourceError:
    return SourceError(url, Message("catalogue_more_than_result_pages_listing", max_listing_pages=MAX_LISTING_PAGES))
