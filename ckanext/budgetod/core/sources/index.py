"""``index`` sources: the links to ``.xml`` and ``.zip`` files of an HTML page on the same host."""
from __future__ import annotations

import io
import logging
import re
from urllib.parse import urlsplit

from lxml import etree

from ckanext.budgetod.core.messages import Message
from ckanext.budgetod.core.net.fetch import HttpResponse, http_get
from ckanext.budgetod.core.net.urls import absolute_web_url, normalise_url
from ckanext.budgetod.core.settings import Settings
from ckanext.budgetod.core.sources.archive import list_zip
from ckanext.budgetod.core.sources.common import (
    CHUNK_SIZE,
    Collected,
    SourceError,
    extension_of,
    plain_document,
    require_ok,
    too_many_documents,
)

log = logging.getLogger(__name__)


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

    def __init__(self) -> None:
        self.base_href: str | None = None
        self.hrefs: list[str] = []

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        href = attrib.get("href")
        if not href:
            return
        if tag == "a":
            self.hrefs.append(href.strip())
        elif tag == "base" and self.base_href is None:
            self.base_href = href.strip()

    def end(self, tag: str) -> None:
        pass

    def data(self, data: str) -> None:
        pass

    def close(self) -> _LinkCollector:
        return self


def page_encoding(content_type: str) -> str:
    """The page's encoding: the Content-Type's charset when it is an accepted one, else UTF-8."""
    match = re.search(r"charset=[\"']?([A-Za-z0-9._-]+)", content_type)
    return _PAGE_ENCODINGS.get(match.group(1).lower(), "UTF-8") if match else "UTF-8"


def _collect_links(response: HttpResponse) -> _LinkCollector:
    collector = _LinkCollector()
    parser = etree.HTMLParser(target=collector, encoding=page_encoding(response.headers.get("content-type", "")),
                              no_network=True, remove_comments=True, remove_pis=True)
    with open(response.body_path, "rb") if response.body_path else io.BytesIO(response.body or b"") as body:
        try:
            while chunk := body.read(CHUNK_SIZE):
                parser.feed(chunk)
            parser.close()
        except etree.LxmlError:
            pass  # nothing parseable (an empty page): no link
    return collector


def list_index(url: str, settings: Settings, collected: Collected) -> None:
    """The documents an ``index`` page links to (read here)."""
    with http_get(url, timeout=settings.network.timeout, max_bytes=settings.network.max_page_bytes,
                  allow_private=settings.network.allow_private, memory_limit=0,
                  spool_dir=settings.archive_cache_dir) as response:
        require_ok(response)
        list_index_page(url, response, settings, collected)


def list_index_page(url: str, response: HttpResponse, settings: Settings, collected: Collected) -> None:
    """The documents an index page already fetched (``response``, answered 200) links to."""
    if response.size > settings.network.max_page_bytes:
        raise SourceError(url, Message("index_index_page_too_large_bytes",
            size=response.size, max_page_bytes=settings.network.max_page_bytes))
    final_url = response.final_url
    collector = _collect_links(response)
    base = (absolute_web_url(final_url, collector.base_href) if collector.base_href else None) or final_url
    # The page may have been redirected (www., https): both hosts count as "the same host".
    hosts = {urlsplit(url).hostname, urlsplit(final_url).hostname}
    archives: dict[str, None] = {}
    for href in collector.hrefs:
        link = absolute_web_url(base, href)
        if link is None:
            continue
        extension = extension_of(link)
        if extension not in ("xml", "zip"):
            continue
        if urlsplit(link).hostname not in hosts:
            log.info("%s: link to another host ignored: %s", url, link)
            continue
        if extension == "xml":
            collected.add([plain_document(link)])
        else:
            archives.setdefault(normalise_url(link))
            if len(archives) > settings.network.max_documents:
                raise too_many_documents(url, settings)
    for archive_url in archives:
        list_zip(archive_url, settings, collected)
