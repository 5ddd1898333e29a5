"""``ckan`` and ``udata`` sources: the XML resources of a dataset or of an organisation's datasets, read
through the catalogue's API, page after page."""
from __future__ import annotations

import json
import logging
from urllib.parse import quote, urlencode, urlsplit

from ckanext.budgetod.core.messages import Bilingual
from ckanext.budgetod.core.net.fetch import http_get
from ckanext.budgetod.core.net.urls import KIND_PAGE_SHAPES, absolute_web_url, catalogue_page
from ckanext.budgetod.core.settings import Settings

from .common import (
    DocumentRef,
    SourceError,
    _Collected,
    _extension,
    _plain_document,
)

log = logging.getLogger(__name__)


# Bounds the pages walked through a catalogue API, whatever the server claims.
MAX_LISTING_PAGES = 1_000


_XML_FORMATS = frozenset({"xml", "text/xml", "application/xml"})


def _get_json(url: str, settings: Settings, api: str) -> tuple[dict, str]:
    """GET a JSON object from a catalogue API; returns it and the final URL."""
    with http_get(url, timeout=settings.network.timeout, max_bytes=settings.network.max_page_bytes,
                  allow_private=settings.network.allow_private, headers={"Accept": "application/json"}) as response:
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
        url = absolute_web_url(listing_url, resource["url"])
        if url is not None:
            documents.append(_plain_document(url))
        else:
            log.info("%s: resource URL ignored: %r", listing_url, resource["url"])
    return documents


def _list_ckan(url: str, settings: Settings) -> list[DocumentRef]:
    page = catalogue_page("ckan", url)
    if page is None:
        raise SourceError(url, Bilingual(
            f"ce n'est pas une adresse de {KIND_PAGE_SHAPES['ckan'].fr}",
            f"not the address of {KIND_PAGE_SHAPES['ckan'].en}"))
    if page.what == "dataset":
        dataset, final_url = _ckan_action(page.api_base, "package_show", {"id": page.ident}, settings)
        return _resource_documents(dataset.get("resources"), final_url)
    # The organisation page may name it by id; the search filter needs its name.
    organization, _ = _ckan_action(page.api_base, "organization_show", {
        "id": page.ident, "include_datasets": "false", "include_users": "false",
        "include_extras": "false", "include_followers": "false"}, settings)
    name = organization.get("name")
    if not isinstance(name, str) or not name:
        raise SourceError(url, Bilingual("API CKAN : organisation sans nom", "CKAN API: organization without a name"))
    documents = _Collected(url, settings)
    start = 0
    first_count = None
    for _page in range(MAX_LISTING_PAGES):
        result, final_url = _ckan_action(page.api_base, "package_search", {
            "fq": f'organization:"{name}"', "rows": settings.network.listing_page_size, "start": start,
            "sort": "name asc"}, settings)
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


def _ckan_action(api_base: str, action: str, params: dict, settings: Settings) -> tuple[dict, str]:
    document, final_url = _get_json(f"{api_base}/{action}?{urlencode(params)}", settings, "CKAN")
    result = document.get("result")
    if document.get("success") is not True or not isinstance(result, dict):
        raise SourceError(final_url, Bilingual(
            f"API CKAN : échec de {action}{_api_error_detail(document)}",
            f"CKAN API: {action} failed{_api_error_detail(document)}"))
    return result, final_url


def _list_udata(url: str, settings: Settings) -> list[DocumentRef]:
    page = catalogue_page("udata", url)
    if page is None:
        raise SourceError(url, Bilingual(
            f"ce n'est pas une adresse de {KIND_PAGE_SHAPES['udata'].fr}",
            f"not the address of {KIND_PAGE_SHAPES['udata'].en}"))
    ident = quote(page.ident, safe="")
    # The API's canonical paths end with "/": asking for them directly avoids a 308 per request.
    if page.what == "dataset":
        dataset, final_url = _get_json(f"{page.api_base}/datasets/{ident}/", settings, "udata")
        return _resource_documents(dataset.get("resources"), final_url)
    documents = _Collected(url, settings)
    next_url = (f"{page.api_base}/organizations/{ident}/datasets/?"
                + urlencode({"page": 1, "page_size": settings.network.listing_page_size}))
    visited: set[str] = set()
    first_total = None
    for _page in range(MAX_LISTING_PAGES):
        visited.add(next_url)
        listing, final_url = _get_json(next_url, settings, "udata")
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
        following = absolute_web_url(final_url, next_page) if isinstance(next_page, str) else None
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
