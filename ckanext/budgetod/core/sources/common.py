"""What every kind of source shares: the references of the gather and fetch stages, their errors, URL
normalisation, and the per-source document cap (the limits are the settings' ``network`` group)."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from ckanext.budgetod.core.errors import BudgetodError
from ckanext.budgetod.core.messages import Message
from ckanext.budgetod.core.net.fetch import FetchError, HttpResponse
from ckanext.budgetod.core.net.urls import normalise_url
from ckanext.budgetod.core.settings import Settings

CHUNK_SIZE = 64 * 1024


class SourceError(BudgetodError):
    """A source (page, archive, catalogue) could not be read completely; nothing may be concluded from it."""


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


def extension_of(url: str) -> str:
    path = urlsplit(url).path.lower()
    return path.rpartition(".")[2] if "." in path.rpartition("/")[2] else ""


class Collected(list[DocumentRef]):
    """The documents listed from one location, refusing the source past ``max_documents``:
    a page or catalogue is not read further once the cap is passed."""

    def __init__(self, url: str, settings: Settings):
        super().__init__()
        self.url, self.settings = url, settings

    def add(self, documents: list[DocumentRef]) -> None:
        self.extend(documents)
        self.check_pending(0)

    def check_pending(self, pending: int) -> None:
        """Refuses the source as soon as the documents listed plus ``pending`` ones still being read
        pass the cap: what a page holds is not all kept before it is counted."""
        if len(self) + pending > self.settings.network.max_documents:
            raise too_many_documents(self.url, self.settings)


def too_many_documents(url: str, settings: Settings) -> SourceError:
    return SourceError(url, Message("common_more_than_documents_source_refused",
        max_documents=settings.network.max_documents))


def plain_document(url: str) -> DocumentRef:
    guid = normalise_url(url)
    return DocumentRef(guid=guid, url=guid)


def list_file(url: str, settings: Settings, collected: Collected) -> None:
    """A ``file`` location is its own one document, listed without a request (read at the fetch stage)."""
    collected.add([plain_document(url)])


def require_ok(response: HttpResponse) -> None:
    response.raise_for_status()
    if response.status != 200:
        raise FetchError(response.final_url, Message("fetch_unexpected_response_http", status=response.status))
