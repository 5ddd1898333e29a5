"""What every kind of source shares: the references and limits of the gather and fetch stages, their errors, URL
normalisation, and the per-source document cap."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

from ckanext.budgetod.core.errors import BudgetodError
from ckanext.budgetod.core.messages import Bilingual
from ckanext.budgetod.core.net.fetch import FetchError

_DEFAULT_PORTS = {"http": 80, "https": 443}


_CHUNK_SIZE = 64 * 1024


class SourceError(BudgetodError):
    """A source (page, archive, catalogue) could not be read completely; nothing may be concluded from it."""


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


class _Collected(list):
    """The documents listed from one location, refusing the source past ``max_documents``:
    a page or catalogue is not read further once the cap is passed."""

    def __init__(self, url: str, options: FetchOptions):
        super().__init__()
        self.url, self.options = url, options

    def add(self, documents: list[DocumentRef]) -> None:
        self.extend(documents)
        self.check_pending(0)

    def check_pending(self, pending: int) -> None:
        """Refuses the source as soon as the documents listed plus ``pending`` ones still being read
        pass the cap: what a page holds is not all kept before it is counted."""
        if len(self) + pending > self.options.max_documents:
            raise _too_many_documents(self.url, self.options)


def _too_many_documents(url: str, options: FetchOptions) -> SourceError:
    return SourceError(url, Bilingual(
        f"plus de {options.max_documents} documents : source refusée (limite "
        "ckanext.budgetod.max_documents_per_source)",
        f"more than {options.max_documents} documents: source refused "
        "(limit ckanext.budgetod.max_documents_per_source)"))


def _plain_document(url: str) -> DocumentRef:
    guid = normalise_url(url)
    return DocumentRef(guid=guid, url=guid)


def _require_ok(response) -> None:
    response.raise_for_status()
    if response.status != 200:
        raise FetchError(response.final_url, Bilingual(
            f"réponse inattendue (HTTP {response.status})", f"unexpected response (HTTP {response.status})"))
