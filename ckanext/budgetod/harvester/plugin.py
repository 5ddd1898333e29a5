"""The `budgetod_harvester` plugin: harvest sources of type `budgetod_totem` (the three stages below,
thin over ``core/sources``, ``core/pipeline`` and ``portal/publish``) and the licence Licence
Ouverte 2.0. A source's configuration is read once per job (``_publication``); every stage's
failure becomes a report line in one place (``_reported_failures``).

Stages (ckanext-harvest contract):

- gather lists the source's documents (``sources.list_documents``; guid = normalised document URL).
  A document that a previous harvest published and that the source no longer lists gets a harvest
  object with the extra ``status`` = ``delete``. When the source cannot be read, gather records the
  error and creates nothing: a source that cannot be read never deletes anything.
- fetch downloads the document into a spool file, with the validators (ETag, Last-Modified) of the
  object currently published for that guid. "unchanged" — no import work, reported "not modified" —
  when the server answers 304, or when the content (sha256) and the publication settings
  (grouping, metadata template, schema) are those of the current object.
- import converts, validates, and publishes (``publish.upsert_document``); a failure is an object
  error naming the URL and the cause in French and English, and what was published stays. The
  document work (reading, occultation, conversion, validation) has ``object_time_budget`` seconds:
  past it the object fails and the consumer goes on with the next one.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any, NoReturn, cast

import ckan.model as model
import ckan.plugins as plugins
import ckan.plugins.toolkit as tk
from ckan.common import CKANConfig
from ckan.lib import search
from ckan.model.license import License

from ckanext.harvest.harvesters.base import HarvesterBase
from ckanext.harvest.model import HarvestJob, HarvestObject, HarvestObjectExtra

from ckanext.budgetod import settings
from ckanext.budgetod.core import contract, source_config, sources
from ckanext.budgetod.core.errors import BudgetodError
from ckanext.budgetod.core.messages import Decimals, Message, PerLanguage, both_languages
from ckanext.budgetod.core.net import fetch
from ckanext.budgetod.core.pipeline import Pipeline, Processed
from ckanext.budgetod.portal import metadata, publish

log = logging.getLogger(__name__)

STATUS_DELETE = "delete"
LICENCE_OUVERTE_2 = {
    "id": "lov2",
    "title": "Licence Ouverte / Open Licence version 2.0",
    "url": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
    "od_conformance": "approved",
    "osd_conformance": "not reviewed",
    "status": "active",
    "domain_data": True,
    "domain_content": True,
}


# ---------------------------------------------------------------- messages

def _reported(url: str, message: Message) -> str:
    """One stored line for both audiences, naming the document: harvest reports are read in either language."""
    return f"{url} — {both_languages(message)}"


def _failure(url: str, error: BaseException, local_dir: str = "") -> str:
    """A harvest report message naming the document URL and the cause, never a traceback."""
    if isinstance(error, BudgetodError):
        # A cause about a spool file says nothing more than the URL; one about another location
        # (a plan de comptes, the schema) names it.
        if not error.source or error.source == url or (local_dir and error.source.startswith(local_dir)):
            return _reported(url, error.cause)
        return _reported(url, error.description)
    if isinstance(error, _OverBudget):
        return _over_budget(url, error.seconds)
    if isinstance(error, tk.ValidationError):
        details = "; ".join(f"{field}: {messages}" for field, messages in (error.error_dict or {}).items())
        return _reported(url, Message("plugin_ckan_refused_publication", details=details))
    log.error("Unexpected error on %s", url, exc_info=error)
    detail = str(error).splitlines()[0][:300] if str(error) else ""
    return _reported(url, Message("unexpected_error_see_server_log", kind=type(error).__name__, detail=detail))


class _OverBudget(Exception):
    """The time budget of one harvest object is spent."""

    def __init__(self, seconds: int):
        super().__init__(seconds)
        self.seconds = seconds


@contextlib.contextmanager
def _time_budget(seconds: int) -> Iterator[None]:
    """Bound the work of the block to ``seconds`` (0: no bound) with SIGALRM, which only the main
    thread receives: the harvest consumers run there. An alarm already armed (the timeout of an RQ
    job running a harvest stage) bounds the work instead, and is left alone."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread() \
            or signal.getitimer(signal.ITIMER_REAL)[0]:
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> NoReturn:
        raise _OverBudget(seconds)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _over_budget(url: str, seconds: int) -> str:
    return _reported(
        url, Message("plugin_document_abandoned_processing_took_over", seconds=seconds))


def _too_large_for_portal(url: str, size: int, limit_mb: int) -> str:
    return _reported(url, Message("plugin_mb_document_not_published_portal", megabytes=Decimals(size / 2**20, 1),
                                  limit_mb=limit_mb))


def _storable(text: str | None) -> bool:
    """Whether PostgreSQL can store the text: encodable in UTF-8 (no lone surrogate, which a JSON
    listing or configuration may carry as an escape) and without NUL."""
    try:
        (text or "").encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in (text or "")


def _unstorable_address(url: str) -> str:
    shown = url.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    return _reported(shown, Message("plugin_invalid_document_address_character_that"))


def _ui_language() -> str:
    try:
        return "en" if tk.h.lang() == "en" else "fr"
    except RuntimeError:  # outside a request
        return "fr"


# ---------------------------------------------------------------- harvest objects

def _extras(harvest_object: HarvestObject | None) -> dict[str, str]:
    return {extra.key: extra.value for extra in harvest_object.extras} if harvest_object else {}


def _set_extras(harvest_object: HarvestObject, **values: str | None) -> bool:
    """Set the given extras (None: leave as is); returns whether anything changed."""
    existing = {extra.key: extra for extra in harvest_object.extras}
    changed = False
    for key, value in values.items():
        if value is None or (key in existing and existing[key].value == value):
            continue
        changed = True
        if key in existing:
            existing[key].value = value
        else:
            harvest_object.extras.append(HarvestObjectExtra(key=key, value=value))
    return changed


def _current_objects(source_id: str, guid: str | None = None, exclude: str | None = None) -> list[HarvestObject]:
    """The objects currently published for a source (one per guid), newest first."""
    query = model.Session.query(HarvestObject).filter(
        HarvestObject.harvest_source_id == source_id, HarvestObject.current == True)  # noqa: E712
    if guid is not None:
        query = query.filter(HarvestObject.guid == guid)
    if exclude is not None:
        query = query.filter(HarvestObject.id != exclude)
    return cast("list[HarvestObject]", query.order_by(HarvestObject.import_finished.desc().nullslast()).all())


def _spool_dir() -> str:
    return settings.cache_dir("harvest")


def _spool_path(harvest_object: HarvestObject) -> str:
    return os.path.join(_spool_dir(), f"{harvest_object.id}.xml")


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _source_owner(source_id: str) -> str | None:
    source_dataset = model.Package.get(source_id)
    return source_dataset.owner_org if source_dataset else None


@dataclass(frozen=True)
class _Publication:
    """What a source's configuration says of its documents, read once per harvest job: the parsed
    configuration, the metadata template, and the fingerprint of what besides a document decides
    what is published (a change re-imports unchanged documents)."""

    config: source_config.SourceConfig
    template: dict[str, Any]
    fingerprint: str


@functools.lru_cache(maxsize=32)
def _publication(job_id: str, source_url: str, config_text: str | None) -> _Publication:
    """Keyed by the job too: the fetch and import stages of every object of a job share one reading,
    and the next job reads the template file and the settings again."""
    config = source_config.parse_source_config(source_url, config_text)
    template = metadata.effective_template(config.metadata)
    decisive = {"grouping": config.grouping, "template": template, "schema": settings.current().scdl_schema}
    fingerprint = hashlib.sha256(json.dumps(decisive, sort_keys=True, default=str).encode()).hexdigest()
    return _Publication(config, template, fingerprint)


class _Outcome:
    """Whether the block of ``_reported_failures`` failed (its error is then in the harvest report)."""

    failed = False


def _invalid(url: str, doc: Processed) -> str:
    return _reported(url, Message("plugin_scdl_csv_not_valid_nothing", summary=PerLanguage(doc.summary)))


# ---------------------------------------------------------------- the plugin

class BudgetodHarvester(HarvesterBase):  # type: ignore[misc]
    plugins.implements(plugins.IConfigurable)

    # IConfigurable

    def configure(self, config: CKANConfig) -> None:
        if not plugins.plugin_loaded("budgetod"):
            raise RuntimeError("budgetod_harvester needs the budgetod plugin: add both to ckan.plugins")
        # CKAN 2.11 has no licence plugin interface: its register is built once, from
        # licenses_group_url or the defaults, so the licence is added to it when missing.
        register = model.Package.get_license_register()
        if LICENCE_OUVERTE_2["id"] not in register.keys():  # noqa: SIM118 - a CKAN LicenseRegister, not a dict
            register.licenses.append(License(dict(LICENCE_OUVERTE_2)))

    # IHarvester

    def info(self) -> dict[str, str]:
        return {
            "name": contract.SOURCE_TYPE,
            "title": "Budgets TOTEM (SCDL)",
            "description": both_languages(
                Message("harvester_description", keys=", ".join(source_config.CONFIG_KEYS))),
        }

    def validate_config(self, config: str | None) -> str | None:
        # ckanext-harvest passes the configuration alone: the URL-dependent checks run at gather time.
        try:
            parsed = source_config.parse_source_config("", config)
            metadata.effective_template(parsed.metadata)
        except BudgetodError as error:
            raise ValueError(error.describe(_ui_language())) from None
        return config

    def get_original_url(self, harvest_object_id: str) -> str | None:
        return _extras(HarvestObject.get(harvest_object_id)).get("url")

    @contextlib.contextmanager
    def _reported_failures(self, url: str, *, job: HarvestJob | None = None,
                           harvest_object: HarvestObject | None = None,
                           stage: str = "") -> Iterator[_Outcome]:
        """The one place where a stage's failure becomes a harvest report line (naming ``url`` and the
        cause, FR and EN, never a traceback): a gather error of ``job``, or an object error of
        ``harvest_object`` at ``stage``. The block is left, the transaction rolled back, the stage
        goes on (``failed`` is set): one bad source or document never stops a consumer."""
        outcome = _Outcome()
        try:
            yield outcome
        except Exception as error:  # noqa: BLE001 - whatever happens, the report gets a message
            model.Session.rollback()
            outcome.failed = True
            message = _failure(url, error, _spool_dir())
            if harvest_object is not None:
                self._save_object_error(message, harvest_object, stage)
            else:
                self._save_gather_error(message, job)

    def gather_stage(self, harvest_job: HarvestJob) -> list[str] | None:
        source = harvest_job.source
        with self._reported_failures(source.url, job=harvest_job) as listing:
            config = _publication(harvest_job.id, source.url, source.config).config
            listed = sources.list_documents(source.url, config, settings=settings.current())
        if listing.failed:
            return None
        objects = []
        for ref in listed:
            if not all(map(_storable, (ref.guid, ref.url, ref.member))):
                self._save_gather_error(_unstorable_address(ref.url), harvest_job)
                continue
            extras = [HarvestObjectExtra(key="url", value=ref.url)]
            if ref.member:
                extras.append(HarvestObjectExtra(key="member", value=ref.member))
            objects.append(HarvestObject(guid=ref.guid, job=harvest_job, extras=extras))
        listed_guids = {ref.guid for ref in listed}
        for published in _current_objects(source.id):
            if published.guid in listed_guids:
                continue
            listed_guids.add(published.guid)
            kept = _extras(published)
            objects.append(HarvestObject(
                guid=published.guid, job=harvest_job, package_id=published.package_id,
                extras=[HarvestObjectExtra(key=key, value=value) for key, value in (
                    ("status", STATUS_DELETE), ("url", kept.get("url", published.guid)),
                    ("document_key", kept.get("document_key")), ("dataset", kept.get("dataset")))
                    if value]))
        with self._reported_failures(source.url, job=harvest_job) as saving:
            model.Session.add_all(objects)
            model.Session.commit()
        return None if saving.failed else [harvest_object.id for harvest_object in objects]

    def fetch_stage(self, harvest_object: HarvestObject) -> bool | str:
        extras = _extras(harvest_object)
        if extras.get("status") == STATUS_DELETE:
            return True
        url = extras["url"]
        published = next(iter(_current_objects(harvest_object.harvest_source_id, harvest_object.guid,
                                               exclude=harvest_object.id)), None)
        if published is not None and (published.package is None or published.package.state != "active"):
            published = None  # its dataset was deleted: publish again whatever the content
        before = _extras(published)
        spool = _spool_path(harvest_object)
        with self._reported_failures(url, harvest_object=harvest_object, stage="Fetch") as fetching:
            source = harvest_object.source
            fingerprint = _publication(harvest_object.harvest_job_id, source.url, source.config).fingerprint
            # `ckan harvester run-test --force-import=GUID` flags the object: publish it again anyway.
            if before.get("fingerprint") != fingerprint or getattr(harvest_object, "force_import", False):
                before = {}  # no conditional request, no comparison
            retrieved = sources.retrieve_document(
                sources.DocumentRef(harvest_object.guid, url, extras.get("member")), spool,
                settings=settings.current(), etag=before.get("etag"), last_modified=before.get("last_modified"))
        if fetching.failed:
            _remove_quietly(spool)
            return False
        if published is not None and before and (retrieved.not_modified or retrieved.sha256 == before.get("sha256")):
            _remove_quietly(spool)
            # Same content under new validators: remember them for the next conditional request.
            if _set_extras(published, etag=retrieved.etag, last_modified=retrieved.last_modified):
                published.save()
            return "unchanged"
        portal_limit_mb = tk.config.get("ckan.max_resource_size")
        if retrieved.size > portal_limit_mb * 2**20:
            # The original XML is published as a file: refused now rather than after converting it.
            _remove_quietly(spool)
            self._save_object_error(_too_large_for_portal(url, retrieved.size, portal_limit_mb), harvest_object,
                                    "Fetch")
            return False
        _set_extras(harvest_object, etag=retrieved.etag, last_modified=retrieved.last_modified,
                    sha256=retrieved.sha256, fingerprint=fingerprint)
        harvest_object.save()
        return True

    def import_stage(self, harvest_object: HarvestObject) -> bool:
        extras = _extras(harvest_object)
        url = extras.get("url", harvest_object.guid)
        source = harvest_object.source
        owner_org = _source_owner(source.id)
        spool = _spool_path(harvest_object)
        with self._reported_failures(url, harvest_object=harvest_object, stage="Import") as importing:
            publication = _publication(harvest_object.harvest_job_id, source.url, source.config)
            config, template = publication.config, publication.template
            if extras.get("status") == STATUS_DELETE:
                return self._import_deletion(harvest_object, extras, owner_org, template)
            with tempfile.TemporaryDirectory(dir=_spool_dir()) as workdir:
                with _time_budget(settings.current().object_time_budget):
                    sha256 = extras.get("sha256")
                    if not os.path.exists(spool):
                        # `ckan harvester import` runs this stage alone, long after fetch.
                        retrieved = sources.retrieve_document(
                            sources.DocumentRef(harvest_object.guid, url, extras.get("member")), spool,
                            settings=settings.current())
                        sha256 = retrieved.sha256
                    if sha256 is None:  # no digest recorded with the document: computed from it
                        sha256 = fetch.file_digest(spool)
                    doc = Pipeline(settings.current()).run(
                        spool, os.path.join(workdir, "scdl.csv"), source=harvest_object.guid, sha256=sha256,
                        occult_to=os.path.join(workdir, "occulted.xml"))
                if not doc.valid:
                    _remove_quietly(spool)
                    self._save_object_error(_invalid(url, doc), harvest_object, "Import")
                    return False
                assert doc.header is not None, "convert raises rather than return a document without header"
                target = publish.DatasetTarget(publish.dataset_name(doc.header, config.grouping), owner_org,
                                               template, source.id)
                dataset = publish.upsert_document(doc, target, user=self._get_user_name(), workdir=workdir)
        _remove_quietly(spool)
        if importing.failed:
            return False
        self._retire_previous(harvest_object, doc.key, target, url)
        harvest_object.current = True
        harvest_object.package_id = dataset["id"]
        _set_extras(harvest_object, document_key=doc.key, dataset=target.name, fingerprint=publication.fingerprint)
        harvest_object.save()
        # ckanext-harvest adds the harvest source to a dataset's index entry from its current
        # object, which only now exists: without this, searches by source miss new datasets.
        search.rebuild(dataset["id"])
        return True

    def _retire_previous(self, harvest_object: HarvestObject, key: str, target: publish.DatasetTarget,
                         url: str) -> None:
        """The objects this one replaces stop being current; what they published elsewhere (their
        document key or dataset changed since) is taken down."""
        previous_objects = _current_objects(harvest_object.harvest_source_id, harvest_object.guid,
                                            exclude=harvest_object.id)
        for previous in previous_objects:
            before = _extras(previous)
            if before.get("dataset") and (before["dataset"], before.get("document_key")) != (target.name, key):
                with self._reported_failures(url, harvest_object=harvest_object, stage="Import"):
                    publish.remove_document(
                        publish.DatasetTarget(before["dataset"], target.owner_org, target.template,
                                              target.harvest_source),
                        before["document_key"], harvest_object.guid, user=self._get_user_name())
        # Flagged after the removals: taking a dataset's lock discards unsaved changes of the session.
        for previous in previous_objects:
            previous.current = False

    def _import_deletion(self, harvest_object: HarvestObject, extras: dict[str, str], owner_org: str | None,
                         template: dict[str, Any]) -> bool:
        key, name = extras.get("document_key"), extras.get("dataset")
        if key and name:
            dataset_id = publish.remove_document(publish.DatasetTarget(name, owner_org, template,
                                                                       harvest_object.harvest_source_id), key,
                                                 harvest_object.guid, user=self._get_user_name())
            harvest_object.package_id = dataset_id or harvest_object.package_id
        for previous in _current_objects(harvest_object.harvest_source_id, harvest_object.guid,
                                         exclude=harvest_object.id):
            previous.current = False
        harvest_object.current = False  # reported as "deleted"
        harvest_object.save()
        return True
