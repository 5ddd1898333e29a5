"""The fetch stage: one document written to a file, with conditional requests (``retrieve_document``)."""
from __future__ import annotations

import os

from ckanext.budgetod.core.messages import Message
from ckanext.budgetod.core.net.fetch import FetchError, http_get
from ckanext.budgetod.core.settings import Settings
from ckanext.budgetod.core.sources.archive import ArchiveNotModified, fetch_archive
from ckanext.budgetod.core.sources.common import DocumentRef, Retrieved, require_ok


def retrieve_document(ref: DocumentRef, destination: str, *, settings: Settings,
                      etag: str | None = None, last_modified: str | None = None) -> Retrieved:
    """Write the document to ``destination`` (atomically) unless the server says it is unchanged.

    ``etag`` / ``last_modified`` are the validators of the previous retrieval
    (for an archive entry, the archive's). Raises ``FetchError`` (``NotFound``
    when the document or entry is gone, ``RefusedLocation`` for a refused
    address) or ``UnsafeArchive``.
    """
    if ref.member is None:
        return _retrieve_plain(ref.url, destination, settings, etag, last_modified)
    try:
        archive = fetch_archive(ref.url, settings, etag=etag, last_modified=last_modified)
    except ArchiveNotModified:
        return Retrieved(True, None, 0, etag, last_modified, ref.url)
    with archive:
        sha256, size = archive.extract(ref.member, destination, settings.max_document_size)
        return Retrieved(False, sha256, size, archive.etag, archive.last_modified, archive.final_url)


def _retrieve_plain(url: str, destination: str, settings: Settings, etag: str | None,
                    last_modified: str | None) -> Retrieved:
    with http_get(url, timeout=settings.network.timeout, max_bytes=settings.max_document_size,
                  allow_private=settings.network.allow_private, if_none_match=etag, if_modified_since=last_modified,
                  spool_dir=os.path.dirname(os.path.abspath(destination))) as response:
        if response.not_modified:
            if not (etag or last_modified):
                # Nothing to compare with: "unchanged" would leave the caller without a document.
                raise FetchError(response.final_url, Message("retrieval_server_answered_http_304_not"))
            return Retrieved(True, None, 0, response.etag or etag, response.last_modified or last_modified,
                             response.final_url)
        require_ok(response)
        response.save_to(destination)
        return Retrieved(False, response.sha256, response.size, response.etag, response.last_modified,
                         response.final_url)
