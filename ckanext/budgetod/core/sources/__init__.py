"""Where budget documents live: harvest source kinds, their listing and retrieval.

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

The source's configuration is read by ``core/contract.py`` (``parse_source_config``), shared
with the data.gouv.fr sync. The kind comes from it (``"kind"``), else from the URL (its
extension, or the CKAN / udata page shapes), else from the content the URL
serves (archive, XML document or HTML page).

``list_documents`` is the gather stage: it names every document of a source
as a ``DocumentRef`` and raises ``SourceError`` when the source cannot be read
completely, so that a harvester never mistakes an unreadable source for one
whose documents were withdrawn. ``retrieve_document`` is the fetch stage: it
writes one document to a file, with conditional requests.

Part of the CKAN-free core (``tests/test_core_imports.py``); the harvester plugin wraps it.
One module per stage or kind: ``listing`` (gather), ``index``, ``archive``, ``catalogue`` (ckan,
udata; their API pages read as a stream by ``streamed_json``), ``retrieval`` (fetch), and
``common``. Each kind has one public lister, ``list_<kind>(location, settings, collected)``, that
adds the location's documents to ``collected`` (``common.Collected``, which refuses the source past
its document cap); ``listing.LISTERS`` maps kinds to them. URLs are ``core/net/urls.py``'s. All
network access goes through ``ckanext.budgetod.core.net.fetch.http_get``, which enforces timeouts,
size caps and the refusal of private addresses; every message is given in French and English
(``core/messages.py``).
"""
from ckanext.budgetod.core.sources.archive import UnsafeArchive
from ckanext.budgetod.core.sources.common import DocumentRef, Retrieved, SourceError
from ckanext.budgetod.core.sources.listing import list_documents
from ckanext.budgetod.core.sources.retrieval import retrieve_document

__all__ = [
    "DocumentRef", "Retrieved", "SourceError",
    "UnsafeArchive", "list_documents", "retrieve_document",
]
