"""``zip`` sources: archives checked before they are opened (bombs, traversal, entry and directory caps), and
the bounded on-disk cache that lets the gather and fetch stages download an archive once."""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ckanext.budgetod.core.errors import BudgetodError
from ckanext.budgetod.core.messages import Message
from ckanext.budgetod.core.net.fetch import HttpResponse, NotFound, http_get
from ckanext.budgetod.core.net.urls import normalise_url
from ckanext.budgetod.core.settings import Settings
from ckanext.budgetod.core.sources.common import CHUNK_SIZE, Collected, DocumentRef, require_ok

log = logging.getLogger(__name__)


# Entries that decompress to less than this cannot hurt, whatever their ratio.
RATIO_FLOOR_BYTES = 2**20


# Central directory bytes allowed per accepted entry (46 fixed, then name, extra fields and comment:
# real archives use well under 200): zipfile reads and parses the whole directory when it opens an
# archive, so its declared size is checked first.
CENTRAL_DIRECTORY_BYTES_PER_ENTRY = 1024


ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")


class UnsafeArchive(BudgetodError):
    """A ZIP archive is refused: not an archive, or a bomb, a path traversal or too many entries."""


class OpenArchive:
    """A downloaded archive, checked, open for reading; close it (context manager) when done."""

    def __init__(self, url: str, handle: BinaryIO, final_url: str, etag: str | None,
                 last_modified: str | None, settings: Settings):
        self.url = url
        self.final_url = final_url
        self.etag = etag
        self.last_modified = last_modified
        self._handle = handle
        try:
            _check_central_directory(url, handle, settings)
        except BaseException:
            handle.close()
            raise
        try:
            self._zip = zipfile.ZipFile(handle)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
            handle.close()
            raise UnsafeArchive(url, Message("archive_not_readable_zip_archive", exc=exc)) from None
        try:
            self.members = _checked_members(url, self._zip, settings)
        except BaseException:
            self.close()
            raise

    def documents(self) -> list[DocumentRef]:
        archive_url = normalise_url(self.url)
        return [DocumentRef(guid=f"{archive_url}#{member}", url=archive_url, member=member)
                for member in self.members]

    def extract(self, member: str, destination: str, max_bytes: int) -> tuple[str, int]:
        """Stream ``member`` to ``destination`` (atomically); return its sha256 and size."""
        where = f"{self.url}#{member}"
        if member not in self.members:
            raise NotFound(where, Message("archive_entry_missing_from_archive_refused"))
        target = Path(destination)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        partial = tempfile.NamedTemporaryFile(dir=target.parent, prefix=".budgetod-", suffix=".part", delete=False)
        try:
            with partial, self._zip.open(member) as entry:
                while chunk := entry.read(CHUNK_SIZE):
                    size += len(chunk)
                    # zipfile stops at the declared size; this guards the cap should it not.
                    if size > max_bytes:
                        raise UnsafeArchive(where, Message("archive_entry_larger_than_byte_limit", max_bytes=max_bytes))
                    digest.update(chunk)
                    partial.write(chunk)
            os.replace(partial.name, target)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
            _remove_quietly(partial.name)
            raise UnsafeArchive(where, Message("archive_corrupt_unreadable_archive_entry", exc=exc)
            ) from None
        except BaseException:
            _remove_quietly(partial.name)
            raise
        return digest.hexdigest(), size

    def close(self) -> None:
        self._zip.close()
        self._handle.close()

    def __enter__(self) -> OpenArchive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


_END_OF_CENTRAL_DIRECTORY = struct.Struct("<4s4H2LH")


_ZIP64_LOCATOR = struct.Struct("<4sLQL")


_ZIP64_END_OF_CENTRAL_DIRECTORY = struct.Struct("<4sQ2H2L4Q")


def _check_central_directory(url: str, handle: BinaryIO, settings: Settings) -> None:
    """Refuse an archive whose central directory declares more entries, or more bytes, than the
    limits allow, before zipfile reads it (millions of entries would be parsed before the cap).

    The end records are found as zipfile finds them (at the very end, else within the last
    64 KiB of comment); an archive without them is left to zipfile, which refuses it.
    """
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    tail_size = min(size, _END_OF_CENTRAL_DIRECTORY.size + 0xFFFF)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    handle.seek(0)
    position = tail.rfind(b"PK\x05\x06")
    if position < 0 or len(tail) - position < _END_OF_CENTRAL_DIRECTORY.size:
        return
    record = _END_OF_CENTRAL_DIRECTORY.unpack_from(tail, position)
    entries, directory_bytes = record[4], record[5]
    locator_position = position - _ZIP64_LOCATOR.size
    if locator_position >= 0 and tail[locator_position:locator_position + 4] == b"PK\x06\x07":
        zip64_offset = _ZIP64_LOCATOR.unpack_from(tail, locator_position)[2]
        handle.seek(min(zip64_offset, size))
        zip64 = handle.read(_ZIP64_END_OF_CENTRAL_DIRECTORY.size)
        handle.seek(0)
        if len(zip64) == _ZIP64_END_OF_CENTRAL_DIRECTORY.size and zip64.startswith(b"PK\x06\x06"):
            fields = _ZIP64_END_OF_CENTRAL_DIRECTORY.unpack(zip64)
            entries, directory_bytes = fields[7], fields[8]
    if entries > settings.network.max_archive_entries:
        raise _too_many_entries(url, entries, settings)
    limit = settings.network.max_archive_entries * CENTRAL_DIRECTORY_BYTES_PER_ENTRY
    if directory_bytes > limit:
        raise UnsafeArchive(url, Message("archive_archive_refused_central_directory_bytes",
            directory_bytes=directory_bytes, limit=limit))


def _too_many_entries(url: str, entries: int, settings: Settings) -> UnsafeArchive:
    return UnsafeArchive(url, Message("archive_archive_refused_entries_most",
        entries=entries, max_archive_entries=settings.network.max_archive_entries))


def _checked_members(url: str, archive: zipfile.ZipFile, settings: Settings) -> list[str]:
    """The names of the archive's documents, after refusing the whole archive if anything is hostile."""
    entries = archive.infolist()
    if len(entries) > settings.network.max_archive_entries:  # the end record may have understated them
        raise _too_many_entries(url, len(entries), settings)
    members: dict[str, None] = {}
    total = 0
    for entry in entries:
        name = entry.filename
        if _unsafe_entry_name(name):
            raise UnsafeArchive(url, Message("archive_archive_refused_unsafe_entry_name", name=name))
        if entry.is_dir() or not name.lower().endswith(".xml") or _is_platform_debris(name):
            continue  # nested archives and other files are not documents
        if entry.flag_bits & 0x1:
            log.warning("%s: encrypted entry %s ignored", url, name)
            continue
        if entry.file_size > settings.max_document_size:
            raise UnsafeArchive(url, Message("archive_archive_refused_entry_would_decompress",
                name=name, file_size=entry.file_size, max_document_size=settings.max_document_size))
        if (entry.file_size > RATIO_FLOOR_BYTES
                and entry.file_size > settings.network.max_compression_ratio * max(entry.compress_size, 1)):
            raise UnsafeArchive(url, Message("archive_archive_refused_suspicious_compression_ratio",
                name=name, file_size=entry.file_size, compress_size=entry.compress_size))
        total += entry.file_size
        if total > settings.network.max_archive_total_bytes:
            raise UnsafeArchive(url, Message("archive_archive_refused_more_than_bytes",
                max_archive_total_bytes=settings.network.max_archive_total_bytes))
        members.setdefault(name)
    return list(members)


def _unsafe_entry_name(name: str) -> bool:
    # zipfile already cuts names at a NUL byte; what remains must be a plain relative path.
    return "\\" in name or name.startswith("/") or bool(_WINDOWS_DRIVE.match(name)) or ".." in name.split("/")


def _is_platform_debris(name: str) -> bool:
    """macOS resource forks ("__MACOSX/", "._x.xml") carry the .xml name but are not documents."""
    return name.startswith("__MACOSX/") or name.rpartition("/")[2].startswith("._")


class ArchiveNotModified(Exception):
    """The server confirmed the caller's validators: the archive has not changed."""


def fetch_archive(url: str, settings: Settings, *, etag: str | None = None,
                   last_modified: str | None = None) -> OpenArchive:
    """Download (or revalidate the cached copy of) an archive and open it.

    With ``etag`` / ``last_modified`` from the caller, a 304 Not Modified
    raises ``ArchiveNotModified``. Without them, a cached copy's validators
    are used and a 304 means "use the cached copy".
    """
    cache = _ArchiveCache(settings.archive_cache_dir) if settings.archive_cache_dir else None
    caller_validators = bool(etag or last_modified)
    cached = cache.lookup(url) if cache else None
    if not caller_validators and cached is not None:
        etag, last_modified = cached.etag, cached.last_modified
    try:
        response = http_get(url, timeout=settings.network.timeout, max_bytes=settings.max_document_size,
                            allow_private=settings.network.allow_private, if_none_match=etag,
                            if_modified_since=last_modified, memory_limit=0,
                            spool_dir=settings.archive_cache_dir)
        with response:
            if response.not_modified:
                if caller_validators:
                    raise ArchiveNotModified
                if cache is not None and cached is not None:
                    cache.touch(url)
                    opened = cached.open(url, settings)
                    cached = None  # now owned by the returned archive
                    return opened
            require_ok(response)
            return archive_from_response(url, response, settings)
    finally:
        if cached is not None:
            cached.handle.close()


def list_zip(url: str, settings: Settings, collected: Collected) -> None:
    """The documents of a ``zip`` archive (downloaded, or revalidated in the cache)."""
    with fetch_archive(url, settings) as archive:
        collected.add(archive.documents())


def list_zip_response(url: str, response: HttpResponse, settings: Settings, collected: Collected) -> None:
    """The documents of an archive already fetched (``response``, answered 200)."""
    with archive_from_response(url, response, settings) as archive:
        collected.add(archive.documents())


def archive_from_response(url: str, response: HttpResponse, settings: Settings) -> OpenArchive:
    # The handle is opened before the spooled file is moved into the cache or
    # deleted: it keeps reading exactly these bytes whatever happens to the path.
    handle = open(response.body_path, "rb") if response.body_path else io.BytesIO(response.body or b"")
    try:
        if settings.archive_cache_dir and response.body_path:
            cache = _ArchiveCache(settings.archive_cache_dir)
            cache.store(url, response)
            cache.evict(settings.network.archive_cache_bytes, keep=url)
        response.discard()
        return OpenArchive(url, handle, response.final_url, response.etag, response.last_modified, settings)
    except BaseException:
        handle.close()
        raise


@dataclass
class _CachedArchive:
    handle: BinaryIO
    final_url: str
    etag: str | None
    last_modified: str | None

    def open(self, url: str, settings: Settings) -> OpenArchive:
        self.handle.seek(0)
        return OpenArchive(url, self.handle, self.final_url, self.etag, self.last_modified, settings)


class _ArchiveCache:
    """Downloaded archives kept with their validators, one pair of files per URL.

    Several fetch processes may share the directory: files are replaced
    atomically, and a copy is used only if its sha256 matches the one recorded
    with its validators (checked on the open handle that will be read).
    """

    def __init__(self, directory: str):
        self.directory = Path(directory)

    def _paths(self, url: str) -> tuple[Path, Path]:
        key = hashlib.sha256(normalise_url(url).encode("utf-8")).hexdigest()[:32]
        return self.directory / f"{key}.zip", self.directory / f"{key}.json"

    def lookup(self, url: str) -> _CachedArchive | None:
        archive_path, record_path = self._paths(url)
        try:
            record = json.loads(record_path.read_text("utf-8"))
            handle = open(archive_path, "rb")
        except (OSError, ValueError):
            return None
        digest = hashlib.sha256()
        while chunk := handle.read(CHUNK_SIZE):
            digest.update(chunk)
        if not isinstance(record, dict) or digest.hexdigest() != record.get("sha256") or not (
                record.get("etag") or record.get("last_modified")):
            handle.close()
            return None
        return _CachedArchive(handle, record.get("final_url") or url, record.get("etag"), record.get("last_modified"))

    def touch(self, url: str) -> None:
        """Mark a copy as just used: eviction takes the least recently used first."""
        for path in self._paths(url):
            with contextlib.suppress(OSError):
                os.utime(path)

    def evict(self, max_bytes: int, keep: str) -> None:
        """Remove the least recently used archives until those kept take at most ``max_bytes``;
        ``keep`` (the URL just stored) stays. Partial downloads in progress are not counted."""
        kept = self._paths(keep)[0].stem
        copies: dict[str, list[float]] = {}  # stem -> [last used, size]
        for entry in os.scandir(self.directory):
            stem, dot, suffix = entry.name.rpartition(".")
            if not dot or suffix not in ("zip", "json"):
                continue
            try:
                stat = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            copy = copies.setdefault(stem, [0.0, 0])
            copy[0] = max(copy[0], stat.st_mtime)
            copy[1] += stat.st_size
        total = sum(size for _used, size in copies.values())
        for stem, (_used, size) in sorted(copies.items(), key=lambda item: item[1][0]):
            if total <= max_bytes:
                break
            if stem == kept:
                continue
            for suffix in ("json", "zip"):  # the record first: a copy without it is never used
                _remove_quietly(str(self.directory / f"{stem}.{suffix}"))
            total -= size

    def store(self, url: str, response: HttpResponse) -> None:
        archive_path, record_path = self._paths(url)
        response.save_to(archive_path)
        record = {"url": normalise_url(url), "final_url": response.final_url, "sha256": response.sha256,
                  "etag": response.etag, "last_modified": response.last_modified}
        partial = tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=self.directory, prefix=".budgetod-",
                                              suffix=".part", delete=False)
        try:
            with partial:
                json.dump(record, partial)
            os.replace(partial.name, record_path)
        except BaseException:
            _remove_quietly(partial.name)
            raise


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
