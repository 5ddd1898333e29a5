"""Run the hostile corpus (bench/hostile_cases.py) through real harvests inside a real CKAN.

    make bench-hostile      # the test database and index of the local stack
    CKAN_SQLALCHEMY_URL=postgresql://…/ckan_test_x CKAN_SOLR_URL=… CKAN_REDIS_URL=… \\
        CKAN_STORAGE_PATH=… .local/venv/bin/python bench/hostile.py

It loads `test.ini` (connection settings from the CKAN_* environment variables) and **resets that
database at start** (CKAN's reset_db, then the harvest, activity and budgetod migrations) and
clears the search index: it refuses to run unless the database name ends in `_test` or
`_test_<something>`. Every server it talks to listens on 127.0.0.1; a guard refuses, and counts,
any connection to another address.

Phase A (allow_private_urls = true, http_timeout = 2 s): a source listing the good samples of
../shared/data/totem (served by path, read-only) is harvested; then every document-level case is
added to it and it is harvested again; each source-level case (archives, index pages) is the URL
of a source of its own. Phase B (allow_private_urls = false): the SSRF targets, which must all be
refused before any connection. Phase A.4 (round 2, part B): each source of
hostile_cases.round2_source_cases, with the peak RSS it reaches (sampled every 20 ms) above the RSS it
started from. Phase C (round 2, part B): SCDL CSV files uploaded to the portal and summarised by
budgetod_budget_summary as anonymous visitors may ask. Round 2, part A (run_round_two_a: across
organisations and what is stored or rendered): a source of another organisation serves copies and
forgeries of the published samples (each import refused naming the owner, nothing of the owner
changed); documents whose collectivité name is hostile Markdown or a spreadsheet formula (imported:
no link or image rendered, the report warns); catalogues listing addresses PostgreSQL cannot store
(one gather error each); malformed data.gouv.fr sections (refused when saved); site-local IPv6
targets. Printed: one row per case, counts, timings, peak RSS, and a PASS/FAIL line per criterion;
CKAN's log goes to .local/log/bench-hostile.log.

Two deviations from production settings. To keep the run short, the overall time budget of one
download (fetch.http_get's total_timeout, 600 s, not configurable) is lowered to 20 s; the
"dribble-60s" case (one byte every 0.5 s for a minute) checks that the budget is enforced. For the
two catalogue listings of a 32 MB page, the page cap (NetworkLimits.max_page_bytes, 16 MB, not
configurable) is raised to 64 MB, so that such a page is read rather than refused by its size.
"""
from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import re
import resource
import socket
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hostile_cases
from hostile_cases import Case
from locations import REPOSITORY
from portal_reset import reset_portal

GOOD_SAMPLES = sorted(path.name for path in hostile_cases.SHARED_TOTEM.glob("*.xml"))
HTTP_TIMEOUT_SECONDS = 2
TOTAL_DOWNLOAD_BUDGET_SECONDS = 20.0
PEAK_RSS_LIMIT_MB = 1024
PROBE_PATH = "/probe/xxe"
LOG_FILE = REPOSITORY / ".local" / "log" / "bench-hostile.log"


# --- safety ------------------------------------------------------------------------------------


def refuse_unless_test_database() -> None:
    url = os.environ.get("CKAN_SQLALCHEMY_URL", "")
    name = urlsplit(url).path.lstrip("/")
    if not re.fullmatch(r".+_test(_[A-Za-z0-9_]+)?", name):
        sys.exit(f"refused: CKAN_SQLALCHEMY_URL must name a test database (…_test or …_test_<x>), got {name!r}; "
                 "this script resets it")


class ConnectionGuard:
    """Refuses and counts connections to anything but loopback: the bench never talks to the outside,
    even if a case slipped through the extension's own checks."""

    def __init__(self):
        self.refused: list[str] = []
        self.to_bench_server: list[str] = []
        self.bench_port = 0
        self._connect = socket.socket.connect

    def install(self) -> None:
        guard = self

        def connect(sock, address):
            host = address[0] if isinstance(address, tuple) else None
            if host is not None:
                try:
                    loopback = ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
                except ValueError:
                    loopback = False
                if not loopback:
                    guard.refused.append(str(address))
                    raise ConnectionRefusedError(f"bench guard: no connection to {host}")
                if address[1] == guard.bench_port:
                    guard.to_bench_server.append(str(address))
            return guard._connect(sock, address)

        socket.socket.connect = connect


# --- the hostile server ------------------------------------------------------------------------


class HostileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, routes: dict[str, hostile_cases.Respond]):
        super().__init__(("127.0.0.1", 0), HostileHandler)
        self.routes = routes
        self.stopping = threading.Event()
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def total_hits(self) -> int:
        with self.lock:
            return sum(self.hits.values())

    def start(self) -> None:
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()


class HostileHandler(BaseHTTPRequestHandler):
    server: HostileServer

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        with self.server.lock:
            self.server.hits[path] += 1
        respond = self.server.routes.get(path)
        if respond is None:
            hostile_cases.body(b"not found", "text/plain", status=404)(self)
        else:
            respond(self)


def sample_route(name: str) -> hostile_cases.Respond:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        hostile_cases.body((hostile_cases.SHARED_TOTEM / name).read_bytes())(handler)
    return respond


# --- CKAN --------------------------------------------------------------------------------------


def start_ckan():
    from ckan.cli import load_config
    from ckan.config.middleware import make_app

    config = load_config(str(REPOSITORY / "test.ini"))
    config["ckanext.budgetod.http_timeout"] = HTTP_TIMEOUT_SECONDS
    config["ckanext.budgetod.allow_private_urls"] = True
    app = make_app(config)
    LOG_FILE.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for name in ("ckan", "ckanext"):
        for handler in list(logging.getLogger(name).handlers):
            logging.getLogger(name).removeHandler(handler)
    file_handler = logging.FileHandler(LOG_FILE, mode="w")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(name)s] %(message)s"))
    root.addHandler(file_handler)
    return app


@dataclass
class CaseResult:
    case: Case
    errors: list[str] = field(default_factory=list)
    imported: bool = False
    seconds: float = 0.0
    crashed: str = ""
    rss_growth_mb: float | None = None  # round 2: peak RSS during the case above the RSS before it

    @property
    def outcome(self) -> str:
        if self.crashed:
            return "CRASH"
        if len(self.errors) == 1:
            return "refused"
        if not self.errors and self.imported and self.case.may_import:
            return "imported"
        if not self.errors and not self.imported and self.case.may_list_nothing:
            return "skipped"
        return f"{len(self.errors)} errors" + (" +imported" if self.imported else "")

    @property
    def clear(self) -> bool:
        return all(is_clear(message) for message in self.errors)

    @property
    def ok(self) -> bool:
        return self.outcome in ACCEPTED_OUTCOMES and self.clear and not any(map(has_traceback, self.errors))


ACCEPTED_OUTCOMES = ("refused", "imported", "skipped")


def has_traceback(message: str) -> bool:
    return "Traceback" in message or bool(re.search(r'File "[^"]+", line \d+', message))


def is_clear(message: str) -> bool:
    """Says what failed, in French then English, and is no catch-all for an unexpected exception."""
    return " — " in message and " / " in message and "unexpected error" not in message


class Harvester:
    """Runs harvest jobs in-process like tests/support/ckan_harvest.py, timing each object."""

    def __init__(self, sysadmin: dict, organization: dict):
        import ckan.plugins as plugins
        self.plugin = plugins.get_plugin("budgetod_harvester")
        self.sysadmin, self.organization = sysadmin, organization
        self.seconds_by_guid: Counter[str] = Counter()
        for stage in ("fetch_stage", "import_stage"):
            self._time(stage)

    def _time(self, stage: str) -> None:
        original = getattr(self.plugin, stage)

        def timed(harvest_object):
            started = time.monotonic()
            try:
                return original(harvest_object)
            finally:
                self.seconds_by_guid[harvest_object.guid] += time.monotonic() - started

        setattr(self.plugin, stage, timed)

    def create_source(self, name: str, url: str, config: dict | None, organization: dict | None = None) -> dict:
        from ckan.tests import helpers
        return helpers.call_action(
            "harvest_source_create", context={"user": self.sysadmin["name"]}, name=name, title=name, url=url,
            source_type="budgetod_totem", config=json.dumps(config) if config else "",
            owner_org=(organization or self.organization)["id"], frequency="MANUAL")

    def set_config(self, source: dict, config: dict) -> None:
        from ckan.tests import helpers
        helpers.call_action("harvest_source_patch", context={"user": self.sysadmin["name"]},
                            id=source["id"], config=json.dumps(config))

    def harvest(self, source: dict) -> JobOutcome:
        import ckan.model as model
        from ckan.tests import helpers

        from ckanext.harvest.model import HarvestGatherError, HarvestJob, HarvestObject
        from ckanext.harvest.tests.lib import run_harvest_job

        job = helpers.call_action("harvest_job_create", source_id=source["id"], run=False)
        started = time.monotonic()
        crash = ""
        try:
            run_harvest_job(HarvestJob.get(job["id"]), self.plugin)
        except Exception as error:  # noqa: BLE001 - a crash is what this bench looks for
            model.Session.rollback()
            crash = f"{type(error).__name__}: {str(error)[:200]}"
        seconds = time.monotonic() - started
        shown = helpers.call_action("harvest_job_show", id=job["id"])
        gather_errors = [error.message for error in
                         model.Session.query(HarvestGatherError).filter_by(harvest_job_id=job["id"])]
        objects = model.Session.query(HarvestObject).filter_by(harvest_job_id=job["id"]).all()
        if not crash and shown["status"] != "Finished":
            crash = f"job status {shown['status']}"
        stuck = [obj.guid for obj in objects if obj.state not in ("COMPLETE", "ERROR")]
        if not crash and stuck:
            crash = f"objects left in progress: {stuck[:3]}"
        return JobOutcome(seconds, crash, gather_errors, {
            obj.guid: ObjectOutcome([error.message for error in obj.errors], obj.state, obj.report_status,
                                    self.seconds_by_guid.pop(obj.guid, 0.0))
            for obj in objects})


@dataclass
class ObjectOutcome:
    errors: list[str]
    state: str
    report_status: str | None
    seconds: float


@dataclass
class JobOutcome:
    seconds: float
    crash: str
    gather_errors: list[str]
    objects: dict[str, ObjectOutcome]

    def all_errors(self) -> list[str]:
        return self.gather_errors + [message for obj in self.objects.values() for message in obj.errors]


def good_datasets_state(organization: dict) -> dict[str, tuple]:
    """name → (state, sorted resource ids with their sha256): what must survive hostile harvests."""
    from ckan.tests import helpers
    result = helpers.call_action("package_search", fq=f"owner_org:{organization['id']}", rows=1000,
                                 include_private=True)
    state = {}
    for dataset in result["results"]:
        shown = helpers.call_action("package_show", context={"use_cache": False}, id=dataset["id"])
        state[shown["name"]] = (shown["state"], tuple(sorted(
            (res["id"], res.get("budgetod_sha256") or "") for res in shown["resources"])))
    return state


@contextlib.contextmanager
def page_cap(max_page_bytes: int | None):
    """A case's own cap on catalogue pages (NetworkLimits.max_page_bytes: 16 MB in production, not
    configurable), so that a page of tens of MB is read rather than refused by its size."""
    if max_page_bytes is None:
        yield
        return
    from ckanext.budgetod import settings
    production = settings.current
    settings.current = lambda: production().replace(network={"max_page_bytes": max_page_bytes})
    try:
        yield
    finally:
        settings.current = production


# --- round 2: per-case memory, summaries ------------------------------------------------------------


class RssSampler:
    """The process's resident set size, sampled every 20 ms: the peak reached during one case."""

    def __init__(self):
        self._peak = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._run, daemon=True).start()

    @staticmethod
    def current_kb() -> int:
        with open("/proc/self/status", encoding="ascii") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

    def _run(self) -> None:
        while True:
            rss = self.current_kb()
            with self._lock:
                self._peak = max(self._peak, rss)
            time.sleep(0.02)

    def measure(self, run):
        """``run()``'s result and the peak RSS it reached above the RSS before it, in MB."""
        before = self.current_kb()
        with self._lock:
            self._peak = before
        result = run()
        with self._lock:
            peak = max(self._peak, self.current_kb())
        return result, max(peak - before, 0) / 1024


ROUND2_RSS_GROWTH_LIMIT_MB = 200
# Catalogue pages are read as a stream: what a page adds is read buffers, not the page's objects
# (built whole, a 32 MB page added 190 MB, 3,000,000 empty objects 225 MB).
LISTING_RSS_GROWTH_LIMIT_MB = 50


def run_summary_cases(sampler: RssSampler, sysadmin: dict, organization: dict) -> list[CaseResult]:
    """Phase C: each CSV uploaded to a dataset, then summarised through the action, anonymously."""
    import io

    import ckan.plugins.toolkit as tk
    from ckan.tests import helpers
    from ckan.tests.pytest_ckan.fixtures import FakeFileStorage

    from ckanext.budgetod.core import contract

    dataset = helpers.call_action("package_create", context={"user": sysadmin["name"]}, name="summaries-hostiles",
                                  owner_org=organization["id"])
    results = []
    for case in hostile_cases.summary_cases(list(contract.SCDL_COLUMNS)):
        resource = helpers.call_action("resource_create", context={"user": sysadmin["name"]},
                                       package_id=dataset["id"], format="CSV", url=f"{case.name}.csv",
                                       upload=FakeFileStorage(io.BytesIO(case.csv()), f"{case.name}.csv"))
        result = CaseResult(Case(f"summary-{case.name}", "summary", "summary", may_import=not case.refused))

        def summarise(resource_id=resource["id"]):
            return helpers.call_action("budgetod_budget_summary", context={"user": "", "ignore_auth": False},
                                       resource_id=resource_id)
        started = time.monotonic()
        try:
            summary, result.rss_growth_mb = sampler.measure(summarise)
            size = len(json.dumps(summary))
            result.imported = size < 1_000_000
            if not result.imported:
                result.errors = [f"{case.name} — résumé de {size} octets / summary of {size} bytes"]
        except tk.ValidationError as error:
            result.errors = [f"{case.name} — {error.error_dict['resource_id'][0]} / (ValidationError)"]
        except Exception as error:  # noqa: BLE001 - a crash (decimal.Overflow…) is what this looks for
            result.crashed = f"{type(error).__name__}: {str(error)[:200]}"
        result.seconds = time.monotonic() - started
        results.append(result)
    return results


# --- the run -----------------------------------------------------------------------------------


def main() -> int:
    refuse_unless_test_database()
    started = time.monotonic()
    guard = ConnectionGuard()
    guard.install()

    from ckanext.budgetod.core.net import fetch
    from ckanext.budgetod.core.net.urls import normalise_url

    print("building cases…", flush=True)
    documents = hostile_cases.document_cases(PROBE_PATH)
    base_document = hostile_cases.latin1(hostile_cases.own_budget(hostile_cases.base_text(), "archived"))
    source_level = hostile_cases.source_cases(base_document)
    round2 = hostile_cases.round2_source_cases(base_document)
    routes: dict[str, hostile_cases.Respond] = {f"/good/{name}": sample_route(name) for name in GOOD_SAMPLES}
    routes.update({case.path: case.respond for case in documents + source_level + round2 if case.respond})
    for case in round2:
        routes.update(case.routes)
    server = HostileServer(routes)
    server.start()
    guard.bench_port = server.server_address[1]
    ssrf = hostile_cases.ssrf_cases(guard.bench_port)
    fetch.http_get.__kwdefaults__["total_timeout"] = TOTAL_DOWNLOAD_BUDGET_SECONDS

    app = start_ckan()
    results: list[CaseResult] = []
    checks: list[tuple[str, bool, str]] = []
    with app._wsgi_app.test_request_context():
        import ckan.plugins.toolkit as tk
        from ckan.tests import factories

        print("resetting the test database and index…", flush=True)
        reset_portal()
        harvester = Harvester(factories.Sysadmin(), factories.Organization(name="collectivites"))
        good_urls = [f"{server.base_url}/good/{name}" for name in GOOD_SAMPLES]

        # Phase A.1: the good samples alone.
        print(f"phase A: {len(GOOD_SAMPLES)} good samples…", flush=True)
        documents_source = harvester.create_source("documents", f"{server.base_url}/documents",
                                                   {"urls": good_urls})
        first = harvester.harvest(documents_source)
        published = good_datasets_state(harvester.organization)
        checks.append(("good samples imported (first harvest)", not first.all_errors() and not first.crash
                       and len(published) == len(set(SAMPLE_DATASET_NAMES)),
                       f"{len(published)} datasets, errors: {first.all_errors()[:2]}"))

        # Phase A.2: the same source with every document-level case added.
        print(f"phase A: {len(documents)} hostile documents in the same source…", flush=True)
        harvester.set_config(documents_source, {"urls": good_urls + [server.base_url + c.path for c in documents]})
        second = harvester.harvest(documents_source)
        by_guid = {normalise_url(server.base_url + case.path): case for case in documents}
        for guid, case in by_guid.items():
            outcome = second.objects.get(guid)
            result = CaseResult(case, crashed=second.crash)
            if outcome is None:
                result.errors = ["(no harvest object)"]
            else:
                result.errors, result.seconds = outcome.errors, outcome.seconds
                result.imported = outcome.state == "COMPLETE" and not outcome.errors
            results.append(result)
        good_guids = {normalise_url(url) for url in good_urls}
        good_second = [second.objects[guid] for guid in good_guids if guid in second.objects]
        checks.append(("good samples unchanged on the hostile harvest", len(good_second) == len(good_guids)
                       and all(not obj.errors and obj.report_status == "not modified" for obj in good_second),
                       ", ".join(sorted({str(obj.report_status) for obj in good_second}))))
        checks.append(("hostile harvest: no gather error", not second.gather_errors,
                       "; ".join(second.gather_errors)[:200]))

        # Phase A.3: one source per source-level case.
        print(f"phase A: {len(source_level)} hostile sources…", flush=True)
        for case in source_level:
            results.append(harvest_own_source(harvester, case, server.base_url + case.path))

        # Phase A.4 (round 2): one source per case, with the peak memory each adds.
        print(f"phase A: {len(round2)} round-2 sources…", flush=True)
        sampler = RssSampler()
        for case in round2:
            with page_cap(case.max_page_bytes):
                result, growth = sampler.measure(lambda case=case: harvest_own_source(
                    harvester, case, server.base_url + case.path))
            result.rss_growth_mb = growth
            results.append(result)

        # Phase C (round 2): budget summaries any visitor may ask for.
        print("phase C: summaries of hostile CSV files…", flush=True)
        results.extend(run_summary_cases(sampler, harvester.sysadmin, harvester.organization))

        after_phase_a = good_datasets_state(harvester.organization)
        survived = all(after_phase_a.get(name) == state for name, state in published.items())
        checks.append(("previously published datasets intact after hostile harvests", survived,
                       f"{sum(after_phase_a.get(n) == s for n, s in published.items())}/{len(published)} unchanged"))
        checks.append(("no XXE/DTD probe request", server.hits[PROBE_PATH] == 0, f"{server.hits[PROBE_PATH]} hits"))

        # Phase B: private addresses refused before any connection.
        print(f"phase B: {len(ssrf)} SSRF targets, allow_private_urls = false…", flush=True)
        tk.config["ckanext.budgetod.allow_private_urls"] = False
        hits_before, bench_connections_before = server.total_hits, len(guard.to_bench_server)
        for case in ssrf:
            results.append(harvest_own_source(harvester, case, case.url))
        checks.append(("SSRF: no request reached the local server", server.total_hits == hits_before
                       and len(guard.to_bench_server) == bench_connections_before,
                       (f"{server.total_hits - hits_before} requests, "
                        f"{len(guard.to_bench_server) - bench_connections_before} connections")))
        checks.append(("no connection attempted to a non-loopback address", not guard.refused,
                       "; ".join(guard.refused[:5])))
        tk.config["ckanext.budgetod.allow_private_urls"] = True
        run_round_two_a(harvester, server, guard, results, checks)
        run_round_three_occult(harvester, server, results, checks)
        run_round_three_names(harvester, server, checks)
        run_round_three_uploads(app, harvester, server, results, checks)
        run_round_three_amounts(app, harvester, server, results, checks)
        final = good_datasets_state(harvester.organization)
        checks.append(("previously published datasets intact at the end",
                       all(final.get(name) == state for name, state in published.items()), ""))

    server.stop()
    total_seconds = time.monotonic() - started
    report(results, checks, total_seconds)
    return 0 if all(passed for _name, passed, _detail in checks) else 1


# The datasets the six samples become (tests/support/ckan_harvest.py SAMPLE_DATASETS).
SAMPLE_DATASET_NAMES = ("budget-21560046100085-2022-annexe-06", "budget-21560046100010-2021",
                        "budget-21560134500014-2023", "budget-21930048000015-2018",
                        "budget-24350078200095-2022-annexe-06")


# === Round 2, part A (issue 12: items 1, 2 and 9; cases in hostile_cases.py) =====================

def _document_results(cases: list[Case], outcome: JobOutcome, base_url: str) -> list[CaseResult]:
    from ckanext.budgetod.core.net.urls import normalise_url
    results = []
    for case in cases:
        found = outcome.objects.get(normalise_url(base_url + case.path))
        result = CaseResult(case, crashed=outcome.crash)
        if found is None:
            result.errors = ["(no harvest object)"]
        else:
            result.errors, result.seconds = found.errors, found.seconds
            result.imported = found.state == "COMPLETE" and not found.errors
        results.append(result)
    return results


def _published_dataset(base_url: str, case: Case) -> dict | None:
    import ckan.model as model
    from ckan.tests import helpers

    from ckanext.harvest.model import HarvestObject

    from ckanext.budgetod.core.net.urls import normalise_url
    found = model.Session.query(HarvestObject).filter_by(
        guid=normalise_url(base_url + case.path), current=True).first()
    if found is None or not found.package_id:
        return None
    return helpers.call_action("package_show", context={"use_cache": False}, id=found.package_id)


INJECTED = re.compile(r"""<(?:a\b[^>]*\bhref|img\b[^>]*\bsrc)=["']?(?:[^"'>]*evil\.example|javascript:)""",
                      re.IGNORECASE)


def run_round_two_a(harvester: Harvester, server: HostileServer, guard: ConnectionGuard,
                    results: list[CaseResult], checks: list[tuple[str, bool, str]]) -> None:
    """Phase C: a source of another organisation serving copies and forgeries of the published
    samples; documents whose names are hostile Markdown or spreadsheet formulas; catalogues listing
    addresses PostgreSQL cannot store; malformed data.gouv.fr sections; site-local IPv6 targets."""
    import ckan.plugins.toolkit as tk
    from ckan.lib import uploader
    from ckan.tests import factories

    samples = {name: (hostile_cases.SHARED_TOTEM / name).read_bytes() for name in GOOD_SAMPLES}
    takeover = hostile_cases.takeover_cases(samples)
    rendered = hostile_cases.rendered_cases()
    address = hostile_cases.address_cases()
    datagouv = hostile_cases.datagouv_config_cases(samples[GOOD_SAMPLES[0]])
    ssrf = hostile_cases.round_two_ssrf_cases()
    server.routes.update({case.path: case.respond for case in takeover + rendered + datagouv})
    server.routes.update(hostile_cases.address_routes(address))
    base = server.base_url
    before = good_datasets_state(harvester.organization)

    print(f"phase C: {len(rendered)} Markdown and formula names…", flush=True)
    source = harvester.create_source("round-two", f"{base}/round-two", {"urls": [base + c.path for c in rendered]})
    results.extend(_document_results(rendered, harvester.harvest(source), base))
    injected, unwarned = [], []
    for case in rendered:
        dataset = _published_dataset(base, case)
        if dataset is None:
            (injected if case.category == "markdown" else unwarned).append(f"{case.name}: not published")
            continue
        texts = [dataset.get("notes") or ""] + [resource.get("description") or "" for resource in dataset["resources"]]
        if case.category == "markdown" and any(INJECTED.search(tk.h.render_markdown(text)) for text in texts):
            injected.append(case.name)
        if case.category == "formula":
            report = next(resource for resource in dataset["resources"] if resource.get("budgetod_role") == "report")
            with open(uploader.get_resource_uploader(report).get_path(report["id"]), encoding="utf-8") as stream:
                warnings = json.load(stream)["validation"]["warnings"]
            if not any("formula" in warning["message_en"] for warning in warnings):
                unwarned.append(case.name)
    checks.append(("Markdown names: no link or image injected in notes or descriptions", not injected,
                   ", ".join(injected)))
    checks.append(("formula-like names: every validation report warns", not unwarned, ", ".join(unwarned)))

    print(f"phase C: {len(takeover)} copies and forgeries served by another organisation…", flush=True)
    other = factories.Organization(name="autre-collectivite", title="Autre collectivité")
    source = harvester.create_source("takeover", f"{base}/takeover", {"urls": [base + c.path for c in takeover]},
                                     organization=other)
    takeover_results = _document_results(takeover, harvester.harvest(source), base)
    results.extend(takeover_results)
    unnamed = [result.case.name for result in takeover_results
               if not any("belongs to the organisation" in error for error in result.errors)]
    after = good_datasets_state(harvester.organization)
    checks.append(("takeover: every import refused naming the owner", not unnamed, ", ".join(unnamed)))
    checks.append(("takeover: the owner's datasets unchanged (organisation, resources, files)",
                   all(after.get(name) == state for name, state in before.items()), ""))

    print(f"phase C: {len(address) + len(datagouv)} catalogues and configurations…", flush=True)
    for case in address:
        results.append(harvest_own_source(harvester, case, hostile_cases.address_url(base, case)))
    for case in datagouv:
        results.append(harvest_own_source(harvester, case, base + case.path))

    print(f"phase C: {len(ssrf)} site-local IPv6 targets, allow_private_urls = false…", flush=True)
    refused_before = len(guard.refused)
    tk.config["ckanext.budgetod.allow_private_urls"] = False
    for case in ssrf:
        results.append(harvest_own_source(harvester, case, case.url))
    tk.config["ckanext.budgetod.allow_private_urls"] = True
    checks.append(("site-local IPv6: refused before any connection", len(guard.refused) == refused_before,
                   "; ".join(guard.refused[refused_before:])))

# === end of round 2, part A ======================================================================


def harvest_own_source(harvester: Harvester, case: Case, url: str) -> CaseResult:
    """A case as the URL of a source of its own; a refused configuration is its one clear error."""
    import ckan.plugins.toolkit as tk
    config = case.source_config if case.level == "source" else {"kind": "file"}
    try:
        source = harvester.create_source(case.name[:100], url, config)
    except tk.ValidationError as error:
        details = "; ".join(f"{key}: {value}" for key, value in error.error_dict.items())
        return CaseResult(case, errors=[f"{url} — (configuration) / {details}"])
    outcome = harvester.harvest(source)
    return CaseResult(case, errors=outcome.all_errors(), seconds=outcome.seconds, crashed=outcome.crash,
                      imported=any(obj.state == "COMPLETE" and not obj.errors for obj in outcome.objects.values()))


def short_message(message: str) -> str:
    """The message without its leading URL, on one line, 100 characters."""
    _url, separator, rest = message.partition(" — ")
    return " ".join((rest if separator else message).split())[:100]


# === Round 3, occultation (issue 20: items 3, 4 and 6; cases in hostile_cases.py) ================

ROUND3_CASE_SECONDS = 60


def run_round_three_occult(harvester: Harvester, server: HostileServer, results: list[CaseResult],
                           checks: list[tuple[str, bool, str]]) -> None:
    """A tag of 100,000 blanks across the occulter's chunk boundary (it hung the fetch consumer), and
    the crafted bypasses: each imported into a dataset of its own, whose published XML must name
    nobody; a namespace URI holding a name refused without quoting it."""
    from ckan.lib import uploader

    cases = hostile_cases.round3_occultation_cases()
    server.routes.update({case.path: case.respond for case in cases})
    base = server.base_url
    print(f"round 3: {len(cases)} occultation cases…", flush=True)
    source = harvester.create_source("round-three-occult", f"{base}/round-three-occult",
                                     {"urls": [base + case.path for case in cases]})
    outcome = harvester.harvest(source)
    case_results = _document_results(cases, outcome, base)
    results.extend(case_results)
    leaks, slow = [], []
    for result in case_results:
        if result.seconds > ROUND3_CASE_SECONDS:
            slow.append(f"{result.case.name}: {result.seconds:.1f} s")
        if not result.case.may_import:
            continue
        dataset = _published_dataset(base, result.case)
        if dataset is None:
            leaks.append(f"{result.case.name}: not published")
            continue
        totem = next(resource for resource in dataset["resources"] if resource.get("budgetod_role") == "totem")
        with open(uploader.get_resource_uploader(totem).get_path(totem["id"]), "rb") as stream:
            published = stream.read()
        if hostile_cases.ROUND3_PERSON.encode("ascii") in published or b'IndiceAgent V="807"' in published \
                or b"<!--" in published or b"<?note" in published:
            leaks.append(result.case.name)
    refused = next(result for result in case_results if result.case.name == "r3-namespace-uri")
    blanks = next(result for result in case_results if result.case.name == "r3-blanks-across-chunk")
    checks.append(((f"round 3: a tag of {hostile_cases.ROUND3_BLANKS:,} blanks across the chunk boundary "
                    f"harvested in {blanks.seconds:.1f} s"), blanks.imported and blanks.seconds < ROUND3_CASE_SECONDS,
                   ", ".join(blanks.errors)[:200]))
    checks.append((("round 3: every crafted bypass published with nobody named (comments, PIs, stray elements, "
                    "codes, agents' index)"), not leaks, ", ".join(leaks)))
    checks.append(("round 3: a namespace URI holding a name refused, unquoted",
                   not refused.imported and len(refused.errors) == 1
                   and "Jeanne" not in refused.errors[0] and "namespace" in refused.errors[0],
                   ", ".join(refused.errors)[:200]))
    checks.append((f"round 3: every occultation case within {ROUND3_CASE_SECONDS} s", not slow, ", ".join(slow)))

# === end of round 3, occultation =================================================================


def run_round_three_names(harvester: Harvester, server: HostileServer,
                          checks: list[tuple[str, bool, str]]) -> None:
    """Round 3, item 5: an editor of another organisation creates by hand, first, the dataset a
    collectivité's harvest will need (its name is predictable); it must be refused, and the harvest
    must then publish the document into its own organisation."""
    import tempfile

    import ckan.plugins.toolkit as tk
    from ckan.tests import factories, helpers

    from ckanext.budgetod.core.totem.reader import TotemReader
    from ckanext.budgetod.portal import publish

    document = hostile_cases.latin1(hostile_cases.own_budget(hostile_cases.base_text(), "squatted"))
    with tempfile.NamedTemporaryFile(suffix=".xml") as spooled:
        spooled.write(document)
        spooled.flush()
        with TotemReader(spooled.name) as reader:
            name = publish.dataset_name(reader.header, "budget")
    other = factories.Organization(name="round-three-squatter")
    squatter = factories.User()
    helpers.call_action("organization_member_create", context={"user": harvester.sysadmin["name"]},
                        id=other["id"], username=squatter["name"], role="editor")
    try:
        tk.get_action("package_create")({"user": squatter["name"]}, {"name": name, "owner_org": other["id"]})
        refusal = ""
    except tk.NotAuthorized as error:
        refusal = str(error)
    server.routes["/round-three/squatted.xml"] = hostile_cases.body(document)
    source = harvester.create_source("round-three-names", f"{server.base_url}/round-three/squatted.xml", None)
    outcome = harvester.harvest(source)
    published = helpers.call_action("package_show", context={"use_cache": False}, id=name)
    checks.append(("round 3: a budget name taken by hand first is refused and the harvest publishes it",
                   (name in refusal and not outcome.all_errors()
                    and published["owner_org"] == harvester.organization["id"]),
                   f"{name}: refusal {refusal[:80]!r}, harvest errors {outcome.all_errors()[:1]}"))


# === Round 3, uploads (issue 20: items 2 and 9; cases in hostile_cases.py) ======================

def run_round_three_uploads(app, harvester: Harvester, server: HostileServer, results: list[CaseResult],
                            checks: list[tuple[str, bool, str]]) -> None:
    """TOTEM documents added by hand to a dataset, uploaded or linked: before its job ran, and after
    (unless killed), each download route must answer 403 to anonymous visitors, an editor of the
    organisation and a sysadmin — except, once occulted, the readable ones, then serving only the
    occulted bytes; a failure's cause is on the resource page for the editors."""
    import io
    import tempfile

    import ckan.plugins.toolkit as tk
    import flask
    from ckan.lib import uploader
    from ckan.tests import factories, helpers
    from ckan.tests.pytest_ckan.fixtures import FakeFileStorage

    from ckanext.budgetod.core.totem.occultation import occult_document
    from ckanext.budgetod.portal import uploads

    cases = hostile_cases.hand_added_cases()
    server.routes.update({case.path: hostile_cases.body(case.content()) for case in cases if case.linked})
    editor = factories.UserWithToken()
    helpers.call_action("organization_member_create", id=harvester.organization["id"], username=editor["name"],
                        role="editor")
    who = {"anonymous": {}, "editor": {"Authorization": editor["token"]},
           "sysadmin": {"Authorization": factories.SysadminWithToken()["token"]}}
    dataset = helpers.call_action("package_create", context={"user": editor["name"]}, name="depots-a-la-main",
                                  owner_org=harvester.organization["id"])
    test_app = helpers.CKANTestApp(app)  # the whole middleware stack, languages included

    class client:
        @staticmethod
        def get(path: str, headers: dict):
            # The bench runs inside one application context, which every request shares: forget the
            # user the previous request logged in.
            flask.g.pop("_login_user", None)
            return test_app.get(path, headers=headers)
    leaked, unexplained, wrong_copy = [], [], []

    def served(resource: dict) -> dict[str, tuple[int, bytes]]:
        base = f"/dataset/{dataset['name']}/resource/{resource['id']}/download"
        return {f"{name} {path}": (answer.status_code, answer.get_data())
                for name, headers in who.items() for path in (base, f"{base}/document.xml")
                for answer in [client.get(path, headers=headers)]}

    print(f"phase D (round 3): {len(cases)} TOTEM documents added by hand…", flush=True)
    for case in cases:
        original = case.content()
        fields = ({"url": server.base_url + case.path} if case.linked else
                  {"url": "document.xml", "upload": FakeFileStorage(io.BytesIO(original), "document.xml")})
        resource = helpers.call_action("resource_create", context={"user": editor["name"]}, package_id=dataset["id"],
                                       name=case.name, format="XML", **fields)
        leaked += [f"{case.name} (pending): {where} {status}"
                   for where, (status, _body) in served(resource).items() if status != 403]
        started = time.monotonic()
        if not case.job_killed:
            limit = tk.config.get("ckanext.budgetod.max_document_size")
            if case.max_document_size:
                tk.config["ckanext.budgetod.max_document_size"] = case.max_document_size
            try:
                uploads.build_siblings(resource["id"])
            finally:
                tk.config["ckanext.budgetod.max_document_size"] = limit
        result = CaseResult(hostile_cases.Case(case.name, "hand-added", "upload", may_import=case.released),
                            seconds=time.monotonic() - started)
        resource = helpers.call_action("resource_show", id=resource["id"])
        state = resource.get("budgetod_occultation")
        answers = served(resource)
        if case.released:
            stored = Path(uploader.get_resource_uploader(resource).get_path(resource["id"])).read_bytes()
            with tempfile.NamedTemporaryFile(suffix=".xml") as copy:
                copy.write(original)
                copy.flush()
                expected = io.BytesIO()
                occult_document(copy.name, expected)
            result.imported = state == "done" and stored == expected.getvalue() != original
            if not result.imported or any(answer != (200, stored) for answer in answers.values()):
                wrong_copy.append(f"{case.name}: {state}")
            if case.linked and resource.get("budgetod_source_url") != server.base_url + case.path:
                wrong_copy.append(f"{case.name}: provenance {resource.get('budgetod_source_url')!r}")
        else:
            leaked += [f"{case.name} ({state}): {where} {status}"
                       for where, (status, body) in answers.items() if status != 403 or original[:4096] in body]
            page = client.get(f"/en/dataset/{dataset['name']}/resource/{resource['id']}",
                              headers=who["editor"]).get_data(as_text=True)
            if case.job_killed:
                result.errors = [f"{case.name} — occultation en attente / pending occultation"]
                if state != "pending" or "ckan.jobs.timeout" not in page:
                    unexplained.append(f"{case.name}: {state}")
            else:
                reason = resource.get("budgetod_occultation_error_en") or ""
                result.errors = [f"{case.name} — {resource.get('budgetod_occultation_error_fr')} / {reason}"]
                if state != "failed" or not reason or reason.split(": ", 1)[-1][:40] not in page.replace("&#34;", '"'):
                    unexplained.append(f"{case.name}: {state}")
        results.append(result)
    checks.append((("round 3: no byte of a pending or unreadable hand-added TOTEM document downloadable "
                    "(anonymous, editor, sysadmin)"), not leaked, "; ".join(leaked[:5])))
    checks.append(("round 3: each unreadable or pending one says why to its editors", not unexplained,
                   "; ".join(unexplained)))
    checks.append((("round 3: uploaded and linked documents served only as the stored occulted copy, "
                    "the link's URL kept as provenance"), not wrong_copy, "; ".join(wrong_copy)))

# === end of round 3, uploads =====================================================================


# --- round 3, amounts ----------------------------------------------------------------------------

ROUND3_UNPUBLISHED_REQUESTS = 20


def run_round_three_amounts(app, harvester: Harvester, server: HostileServer, results: list[CaseResult],
                            checks: list[tuple[str, bool, str]]) -> None:
    """Issue 20, items 1 and 8: another organisation harvests a CA with a 35-digit MtReal and one
    whose CSV it then replaces by an upload holding 9E+999998; every budget page, its /embed and a
    CSV export, the unrelated collectivités' and the forger's, must answer 200 to anonymous
    visitors. Then anonymous requests for annex pages of SIRETs nobody publishes must not make the
    next page view list the portal's budgets again."""
    import io

    from ckan.lib import uploader
    from ckan.tests import factories, helpers
    from ckan.tests.pytest_ckan.fixtures import FakeFileStorage

    from ckanext.budgetod.logic import action

    cases = hostile_cases.forged_amount_cases()
    server.routes.update({case.path: case.respond for case in cases})
    base = server.base_url
    print(f"round 3: {len(cases)} forged amounts published by another organisation…", flush=True)
    forger = factories.Organization(name="faussaire", title="Faussaire")
    source = harvester.create_source("round-three-amounts", f"{base}/round-three-amounts",
                                     {"urls": [base + case.path for case in cases]}, organization=forger)
    forged_results = _document_results(cases, harvester.harvest(source), base)
    results.extend(forged_results)
    checks.append(("round 3: forged amounts of another organisation imported (valid documents)",
                   all(result.imported for result in forged_results),
                   ", ".join(f"{r.case.name}: {r.outcome}" for r in forged_results if not r.imported)))
    forged_sirets = []
    for case in cases:
        dataset = _published_dataset(base, case)
        if dataset is None:
            continue
        forged_sirets.append(next(extra["value"] for extra in dataset["extras"] if extra["key"] == "budgetod_siret"))
        if case.name == "forged-csv-9e999998":
            scdl = next(resource for resource in dataset["resources"] if resource.get("budgetod_role") == "scdl")
            with open(uploader.get_resource_uploader(scdl).get_path(scdl["id"]), "rb") as stream:
                content = hostile_cases.with_out_of_range_amount(stream.read())
            helpers.call_action("resource_patch", context={"user": harvester.sysadmin["name"]}, id=scdl["id"],
                                upload=FakeFileStorage(io.BytesIO(content), "budget.csv"))

    client = helpers.CKANTestApp(app)
    unrelated = sorted({match.group(1) for name in SAMPLE_DATASET_NAMES
                        if (match := re.fullmatch(r"budget-([0-9]{14})-[0-9]{4}", name))})
    statuses: dict[str, int] = {}
    started = time.monotonic()
    for siret in unrelated + forged_sirets:
        for path in (f"/budgets/{siret}", f"/budgets/{siret}/embed", f"/budgets/{siret}/series.csv",
                     f"/budgets/{siret}/per-inhabitant.csv"):
            statuses[path] = client.get(path).status_code
    pages_seconds = time.monotonic() - started
    failed = {path: status for path, status in statuses.items() if status != 200}
    checks.append(((f"round 3: every budget page, /embed and CSV export answers 200 "
                    f"({len(unrelated)} unrelated collectivités, {len(forged_sirets)} forged budgets)"),
                   len(forged_sirets) == len(cases) and not failed,
                   f"{len(statuses)} requests in {pages_seconds:.1f} s" + (f"; failed: {failed}" if failed else "")))
    counted: list[int | str] = []
    for siret in forged_sirets:
        try:
            counted.append(helpers.call_action("budgetod_collectivite_summary", context={
                "user": "", "ignore_auth": False}, id=siret)["exercices"][0].get("unreadable_amounts", 0))
        except Exception as error:  # noqa: BLE001 - an amount raised (decimal.InvalidOperation…) is what this looks for
            counted.append(type(error).__name__)
    checks.append(("round 3: each forged amount counted in unreadable_amounts, never raised",
                   len(counted) == len(cases) and all(isinstance(count, int) and count >= 1 for count in counted),
                   f"counts {counted}"))

    print(f"round 3: {ROUND3_UNPUBLISHED_REQUESTS} annex pages of SIRETs nobody publishes…", flush=True)
    listings: list[str] = []
    list_budgets = action._list_budgets

    def counted_listing(context, fq):
        listings.append(fq)
        return list_budgets(context, fq)

    action._list_budgets = counted_listing
    try:
        first_view = client.get(f"/budgets/{unrelated[0]}").status_code
        before = len(listings)
        missing = [client.get(f"/budgets/{siret}/annexe-01").status_code
                   for siret in hostile_cases.unpublished_sirets(ROUND3_UNPUBLISHED_REQUESTS)]
        started = time.monotonic()
        next_view = client.get(f"/budgets/{unrelated[0]}").status_code
        next_seconds = time.monotonic() - started
    finally:
        action._list_budgets = list_budgets
    rescans = len(listings) - before
    checks.append(((f"round 3: {ROUND3_UNPUBLISHED_REQUESTS} anonymous requests for unpublished SIRETs, "
                    "then the next page view lists no budget again"),
                   first_view == next_view == 200 and set(missing) == {404} and rescans == 0,
                   f"{rescans} listings after them, next view {next_seconds:.2f} s"))


def report(results: list[CaseResult], checks: list[tuple[str, bool, str]], total_seconds: float) -> None:
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print()
    print(f"{'case':<46} {'outcome':<10} {'s':>6}  message (first 100 chars, URL removed)")
    for result in sorted(results, key=lambda r: (r.case.category, r.case.name)):
        flag = "" if result.ok else "  <-- "
        message = result.crashed or (short_message(result.errors[0]) if result.errors else "")
        print(f"{result.case.name[:46]:<46} {result.outcome:<10} {result.seconds:>6.2f}  {message}{flag}")
    print()
    by_category: dict[str, list[CaseResult]] = defaultdict(list)
    for result in results:
        by_category[result.case.category].append(result)
    print(f"{'category':<12} {'cases':>5} {'refused':>7} {'imported':>8} {'skipped':>7} {'other':>5} {'max s':>6}"
          f" {'sum s':>7}")
    for category, items in sorted(by_category.items()):
        outcomes = Counter(item.outcome for item in items)
        print(f"{category:<12} {len(items):>5} {outcomes['refused']:>7} {outcomes['imported']:>8} "
              f"{outcomes['skipped']:>7} {len(items) - sum(outcomes[o] for o in ACCEPTED_OUTCOMES):>5} "
              f"{max(item.seconds for item in items):>6.2f} {sum(item.seconds for item in items):>7.1f}")
    print(f"{'total':<12} {len(results):>5}")
    print()
    round2 = [r for r in results if r.rss_growth_mb is not None]
    if round2:
        print(f"{'round 2 case':<52} {'outcome':<10} {'s':>6} {'peak RSS +MB':>12}")
        for result in sorted(round2, key=lambda r: (r.case.category, r.case.name)):
            print(f"{result.case.name[:52]:<52} {result.outcome:<10} {result.seconds:>6.2f}"
                  f" {result.rss_growth_mb:>12.0f}")
        print()
    listings = [r for r in round2 if r.case.category == "listing"]
    crashed = [r for r in results if r.crashed]
    not_one = [r for r in results if r.outcome not in ACCEPTED_OUTCOMES]
    unclear = [r for r in results if not r.clear]
    tracebacks = [r for r in results if any(map(has_traceback, r.errors))]
    slowest = max(results, key=lambda r: r.seconds)
    # One download may take the time budget plus a last read timeout; anything longer holds a worker.
    case_time_limit = TOTAL_DOWNLOAD_BUDGET_SECONDS + 2 * HTTP_TIMEOUT_SECONDS + 5
    too_slow = [r for r in results if r.seconds > case_time_limit]
    checks = [
        ("at least 200 cases", len(results) >= 200, f"{len(results)}"),
        ("0 crashed jobs (every job finished)", not crashed, ", ".join(r.case.name for r in crashed)),
        ("exactly one error per case (or a clean import / nothing listed where allowed)", not not_one,
         ", ".join(f"{r.case.name}: {r.outcome}" for r in not_one)),
        ("every error clear (URL — French / English, no 'unexpected error')", not unclear,
         ", ".join(r.case.name for r in unclear)),
        ("no traceback text in any error", not tracebacks, ", ".join(r.case.name for r in tracebacks)),
        (f"every case within {case_time_limit:g} s (download time budget enforced)", not too_slow,
         ", ".join(f"{r.case.name}: {r.seconds:.1f} s" for r in too_slow)),
        *checks,
        (f"round 2: each case adds under {ROUND2_RSS_GROWTH_LIMIT_MB} MB to the RSS",
         all(r.rss_growth_mb < ROUND2_RSS_GROWTH_LIMIT_MB for r in round2),
         ", ".join(f"{r.case.name}: {r.rss_growth_mb:.0f} MB" for r in round2
                   if r.rss_growth_mb >= ROUND2_RSS_GROWTH_LIMIT_MB)),
        (f"catalogue listings: each page read adding under {LISTING_RSS_GROWTH_LIMIT_MB} MB to the RSS",
         bool(listings) and all(r.rss_growth_mb < LISTING_RSS_GROWTH_LIMIT_MB for r in listings),
         ", ".join(f"{r.case.name}: {r.rss_growth_mb:.0f} MB, {r.seconds:.1f} s" for r in listings)),
        (f"peak RSS under {PEAK_RSS_LIMIT_MB} MB", peak_mb < PEAK_RSS_LIMIT_MB, f"{peak_mb:.0f} MB"),
    ]
    print(f"wall time: total {total_seconds:.1f} s, slowest case {slowest.case.name} {slowest.seconds:.1f} s; "
          f"peak RSS {peak_mb:.0f} MB; log {LOG_FILE}")
    print(f"note: per-download total time budget lowered to {TOTAL_DOWNLOAD_BUDGET_SECONDS:g} s for this run "
          f"(600 s in production, not configurable); http_timeout {HTTP_TIMEOUT_SECONDS} s")
    for name, passed, detail in checks:
        print(f"{'PASS' if passed else 'FAIL'}  {name}" + (f" — {detail[:300]}" if detail else ""))


if __name__ == "__main__":
    sys.exit(main())
