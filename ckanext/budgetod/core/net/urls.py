"""Web addresses as the harvest sources name them: http(s) only, the normalised form used as harvest
guids, and the page shapes of the catalogues (a CKAN or udata dataset or organisation) whose API
lists documents. CKAN-free: the source configuration (``core/contract.py``) and the harvester use it."""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from ckanext.budgetod.core.messages import Message

DEFAULT_PORTS = {"http": 80, "https": 443}


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
    netloc = host if port is None or port == DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at:
        netloc = f"{userinfo}@{netloc}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def is_web_url(url: str) -> bool:
    """An absolute http(s) URL with a host and a valid port."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError when the port is not a number in range
    except ValueError:
        return False
    return parts.scheme.lower() in DEFAULT_PORTS and bool(parts.hostname)


def absolute_web_url(base: str, reference: str) -> str | None:
    """``reference`` resolved against ``base`` if that gives a valid http(s) URL; pages hold any junk.

    An empty reference is None, not ``base``: it names no document.
    """
    if not reference.strip():
        return None
    try:
        url = urljoin(base, reference.strip())
    except ValueError:
        return None
    return url if is_web_url(url) else None


# The prefix is CKAN's mount point and/or locale ("/data", "/fr"): CKAN strips a
# locale from any path, its API included, so the API is under the same prefix.
CKAN_PAGE = re.compile(r"^(?P<prefix>.*?)/(?P<what>dataset|organization)/(?P<name>[^/]+)/?$")


# udata pages may carry a language segment; "/datasets/r/<id>" is a resource
# permalink (a file), which the one-segment rule below already excludes.
UDATA_PAGE = re.compile(r"^(?:/[a-z]{2})?/(?P<what>datasets|organizations)/(?P<ident>[^/]+)/?$")


KIND_PAGE_SHAPES = {
    "ckan": Message("urls_ckan_dataset_organization_dataset_name"),
    "udata": Message("urls_udata_dataset_organization_datasets_id"),
}


@dataclass(frozen=True)
class CataloguePage:
    """Where a catalogue page's API is, and what the page shows."""

    api_base: str   # without trailing slash
    what: str       # "dataset" or "organization"
    ident: str      # name, slug or id, percent-decoded


def catalogue_page(kind: str, url: str) -> CataloguePage | None:
    """The API of a ``kind`` ("ckan" or "udata") page, None when ``url`` has no such shape."""
    parts = urlsplit(url)
    origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
    if kind == "ckan":
        match = CKAN_PAGE.match(parts.path)
        if not match:
            return None
        return CataloguePage(f"{origin}{match['prefix']}/api/3/action", match["what"], unquote(match["name"]))
    match = UDATA_PAGE.match(parts.path)
    if not match:
        return None
    return CataloguePage(f"{origin}/api/1", match["what"].rstrip("s"), unquote(match["ident"]))
