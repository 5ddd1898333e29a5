"""Harvest 1,000 generated TOTEM documents through the production path, then again unchanged.

    make bench-harvest                     # 200 collectivités × 5 exercices = 1,000 documents
    make bench-harvest BENCH_ARGS="--collectivites 20"   # a quick 100-document run

What runs, as in production: a local web server publishes the corpus (bench/generate_corpus.py,
written once into .local/bench/) as a directory listing; one harvest source of kind "index" points
at it; `ckan harvester gather-consumer` and two `ckan harvester fetch-consumer` processes take the
job from the Redis queues; this script plays cron (`harvest_jobs_run` once a second, as
`ckan harvester run` does) until the job is finished. Then a second job harvests the same,
unchanged documents.

Everything is its own: the database `ckan_bench` (reset at start; `devstack/stack.sh services`
creates it), Redis database 3, an Apache Solr of its own (`devstack/stack.sh solr`, its core in
.local/bench/solr, on a free port) and .local/bench/storage.
The settings are test.ini's, with those connection settings in CKAN_* environment variables.

Printed per run: wall time (the job's, from its creation to its last object done, and when this
script saw it finished, polling once a second), documents per minute, the job's counts, CPU seconds and peak memory
(VmHWM, reset between runs) of every process (consumers, corpus server, the Solr JVM, the
PostgreSQL backends of the bench database: CPU only, their memory is mostly shared buffers), the
whole machine's CPU use, and the database and filestore sizes. Goals: first run under 10 minutes
on 2 cores, the unchanged run at most 5 % of it.
"""
from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from locations import REPOSITORY, SHARED_DATA

sys.path.insert(0, str(REPOSITORY / "bench"))
from generate_corpus import write_corpus
from portal_reset import reset_portal

BENCH = REPOSITORY / ".local" / "bench"
LOG_DIRECTORY = REPOSITORY / ".local" / "log"
PLANS = SHARED_DATA / "plans-de-comptes"
DATABASE = "ckan_bench"
REDIS_DATABASE = 3
FETCH_CONSUMERS = 2
FIRST_RUN_GOAL_SECONDS = 600
UNCHANGED_GOAL_SHARE = 0.05
JOB_TIMEOUT_SECONDS = 3600
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


# --- processes and their figures ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and of its children it has waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / CLOCK_TICKS


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak_rss(pid: int) -> None:
    # Writing 5 to clear_refs resets VmHWM (Linux ≥ 4.0): each run gets its own peak.
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / CLOCK_TICKS, sum(values) / CLOCK_TICKS


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    cpu_at_start: float = 0.0

    @property
    def pid(self) -> int:
        return self.popen.pid

    def start_run(self) -> None:
        self.cpu_at_start = cpu_seconds(self.pid)
        reset_peak_rss(self.pid)

    def figures(self) -> tuple[float, float]:
        return cpu_seconds(self.pid) - self.cpu_at_start, peak_rss_mb(self.pid)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT if self.name.endswith("consumer") else signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def start(name: str, command: list[str], environment: dict[str, str]) -> Process:
    log = open(LOG_DIRECTORY / f"bench-harvest-{name}.log", "wb")  # noqa: SIM115 - the process outlives this function
    popen = subprocess.Popen(command, cwd=REPOSITORY, env=environment, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
    return Process(name, popen)


def wait_for_url(url: str, process: Process, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise SystemExit(f"{process.name} stopped at start (see .local/log/bench-harvest-{process.name}.log)")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{process.name} did not answer at {url}")


@dataclass
class DatabaseBackends:
    """CPU of the PostgreSQL backends serving the bench database, sampled while the run goes on:
    a backend's CPU is lost to /proc when it exits, so the last sample of each is kept."""
    database: str
    last_seen: dict[int, float] = field(default_factory=dict)
    at_start: dict[int, float] = field(default_factory=dict)

    def sample(self) -> None:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                if title.startswith("postgres: ") and f" {self.database} " in title:
                    self.last_seen[int(entry.name)] = cpu_seconds(int(entry.name))
            except OSError:
                continue  # exited meanwhile

    def start_run(self) -> None:
        self.sample()
        self.at_start = dict(self.last_seen)

    def cpu(self) -> float:
        self.sample()
        return sum(value - self.at_start.get(pid, 0.0) for pid, value in self.last_seen.items())


# --- CKAN --------------------------------------------------------------------------------------


def bench_environment(solr_port: int) -> dict[str, str]:
    """The stack's test connection settings (devstack/stack.sh env), pointed at the bench's own."""
    database_url = urlsplit(os.environ["CKAN_SQLALCHEMY_URL"])
    redis_url = urlsplit(os.environ["CKAN_REDIS_URL"])
    return {
        **os.environ,
        "CKAN_SQLALCHEMY_URL": urlunsplit(database_url._replace(path=f"/{DATABASE}")),
        "CKAN_REDIS_URL": urlunsplit(redis_url._replace(path=f"/{REDIS_DATABASE}")),
        "CKAN_SOLR_URL": f"http://127.0.0.1:{solr_port}/solr/ckan",
        "CKAN_STORAGE_PATH": str(BENCH / "storage"),
    }


def load_ckan():
    from ckan.cli import load_config
    from ckan.config.middleware import make_app

    app = make_app(load_config(str(REPOSITORY / "test.ini")))
    logging.disable(logging.WARNING)  # the consumers log to files; this process prints figures
    return app


@functools.cache
def site_user() -> str:
    import ckan.plugins.toolkit as tk
    return tk.get_action("get_site_user")({"ignore_auth": True}, {})["name"]


def call(action: str, **data):
    import ckan.plugins.toolkit as tk
    # A fresh context each call: CKAN keeps per-call state in it.
    return tk.get_action(action)({"user": site_user(), "ignore_auth": True}, data)


def create_source(corpus_url: str) -> dict:
    organization = call("organization_create", name="region-bench", title="Collectivités du benchmark")
    return call("harvest_source_create", name="budgets-bench", title="Budgets du benchmark", url=corpus_url,
                source_type="budgetod_totem", owner_org=organization["id"], frequency="MANUAL",
                config=json.dumps({"kind": "index"}))


def harvest(source: dict, poll: callable) -> tuple[dict, float]:
    """One job through the queues, driven as cron drives it; returns the job and the wall time
    until this script saw it finished (its own duration is in the job's timestamps)."""
    import ckan.model as model

    started = time.monotonic()
    job = call("harvest_job_create", source_id=source["id"])
    deadline = started + JOB_TIMEOUT_SECONDS
    while True:
        call("harvest_jobs_run", source_id=source["id"])
        model.Session.remove()  # read what the consumers wrote
        job = call("harvest_job_show", id=job["id"])
        if job["status"] == "Finished":
            return job, time.monotonic() - started
        if time.monotonic() > deadline:
            raise SystemExit(f"the job did not finish in {JOB_TIMEOUT_SECONDS} s (see .local/log/bench-harvest-*.log)")
        poll()
        time.sleep(1)


def object_errors(job: dict) -> list[str]:
    import ckan.model as model

    from ckanext.harvest.model import HarvestGatherError, HarvestObject, HarvestObjectError

    gather = [error.message for error in model.Session.query(HarvestGatherError).filter_by(harvest_job_id=job["id"])]
    objects = [error.message for error in model.Session.query(HarvestObjectError).join(HarvestObject)
               .filter(HarvestObject.harvest_job_id == job["id"])]
    return gather + objects


def database_size_mb() -> float:
    import ckan.model as model
    from sqlalchemy import text
    return model.Session.execute(text("select pg_database_size(current_database())")).scalar() / 2**20


def directory_size_mb(path: Path) -> float:
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file()) / 2**20


# --- the run -----------------------------------------------------------------------------------


def job_seconds(job: dict) -> float:
    """From the job's creation to its last object done: the harvest's own wall time, without the
    up-to-a-second delay of this script's polling. (The job's own "finished" is its last import's
    end, and an unchanged document has no import.)"""
    import ckan.model as model
    from sqlalchemy import func

    from ckanext.harvest.model import HarvestJob, HarvestObject

    last_done = model.Session.query(func.max(func.coalesce(HarvestObject.import_finished,
                                                           HarvestObject.fetch_finished))) \
        .filter(HarvestObject.harvest_job_id == job["id"]).scalar()
    created = model.Session.query(HarvestJob.created).filter(HarvestJob.id == job["id"]).scalar()
    return (last_done - created).total_seconds()


@dataclass
class RunFigures:
    label: str
    seconds: float
    seen_seconds: float
    job: dict
    errors: list[str]
    processes: list[tuple[str, float, float]]  # name, CPU seconds, peak MB
    database_cpu: float
    machine_busy: float  # share of all CPUs
    datasets: int
    published: int  # documents published: SCDL CSVs (a dataset holds a collectivité's year, every stage)
    database_mb: float
    storage_mb: float


def run(label: str, source: dict, processes: list[Process], backends: DatabaseBackends) -> RunFigures:
    for process in processes:
        process.start_run()
    backends.start_run()
    busy_before, total_before = machine_cpu()
    job, seen_seconds = harvest(source, backends.sample)
    busy_after, total_after = machine_cpu()
    figures = [(process.name, *process.figures()) for process in processes]
    datasets, published = published_documents(source)
    return RunFigures(label, job_seconds(job), seen_seconds, job, object_errors(job), figures, backends.cpu(),
                      (busy_after - busy_before) / (total_after - total_before), datasets, published,
                      database_size_mb(), directory_size_mb(BENCH / "storage"))


def published_documents(source: dict) -> tuple[int, int]:
    """The source's datasets, and the documents they publish (one SCDL CSV each)."""
    datasets = published = 0
    while True:
        page = call("package_search", fq=f'harvest_source_id:"{source["id"]}"', rows=1000, start=datasets)
        datasets += len(page["results"])
        published += sum(resource.get("budgetod_role") == "scdl"
                         for dataset in page["results"] for resource in dataset["resources"])
        if not page["results"] or datasets >= page["count"]:
            return datasets, published


def report(manifest: dict, runs: list[RunFigures]) -> bool:
    documents = manifest["documents"]
    print(f"\ncorpus: {documents} documents of {manifest['collectivites']} collectivités, "
          f"{manifest['lines']} budget lines, {manifest['bytes'] / 2**20:.0f} MB "
          f"(largest {manifest['largest_bytes'] / 2**20:.1f} MB, median {manifest['median_bytes'] / 2**10:.0f} KB)")
    print(f"machine: {os.cpu_count()} CPU; python {sys.version.split()[0]}; {FETCH_CONSUMERS} fetch consumers\n")
    for figures in runs:
        stats = figures.job.get("stats", {})
        print(f"{figures.label}: {figures.seconds:.1f} s (job created → last object done; seen finished after "
              f"{figures.seen_seconds:.1f} s), {documents / figures.seconds * 60:.0f} documents/min, "
              f"machine CPU {figures.machine_busy:.0%} of {os.cpu_count()} CPU")
        print(f"  job: {json.dumps(stats, sort_keys=True)}; {len(figures.errors)} error message(s); "
              f"{figures.datasets} datasets indexed, {figures.published} documents published")
        for message in figures.errors[:5]:
            print(f"    {message[:200]}")
        print(f"  {'process':<26} {'CPU s':>8} {'peak MB':>8}")
        for name, cpu, peak in figures.processes:
            print(f"  {name:<26} {cpu:>8.1f} {peak:>8.0f}")
        print(f"  {'postgresql (bench backends)':<26} {figures.database_cpu:>8.1f} {'-':>8}")
        print(f"  database {figures.database_mb:.0f} MB, filestore {figures.storage_mb:.0f} MB\n")
    first, unchanged = runs
    share = unchanged.seconds / first.seconds
    checks = [
        (f"first run under {FIRST_RUN_GOAL_SECONDS / 60:.0f} min", first.seconds < FIRST_RUN_GOAL_SECONDS,
         f"{first.seconds / 60:.1f} min"),
        (f"unchanged run ≤ {UNCHANGED_GOAL_SHARE:.0%} of the first", share <= UNCHANGED_GOAL_SHARE, f"{share:.1%}"),
        ("every document published, no error", not first.errors and first.published == documents
         and first.job.get("stats", {}).get("errored", 0) == 0, f"{first.published}/{documents} documents"),
        ("unchanged run: nothing published again", not unchanged.errors
         and unchanged.job.get("stats", {}).get("not modified", 0) == documents,
         f"{unchanged.job.get('stats', {}).get('not modified', 0)} not modified"),
    ]
    for name, passed, measured in checks:
        print(f"{'PASS' if passed else 'FAIL'}  {name}: {measured}")
    return all(passed for _, passed, _ in checks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collectivites", type=int, default=200, help="5 documents each (default 200)")
    arguments = parser.parse_args()
    if "CKAN_SQLALCHEMY_URL" not in os.environ:
        raise SystemExit('run through `make bench-harvest`, or after eval "$(devstack/stack.sh env)"')
    LOG_DIRECTORY.mkdir(parents=True, exist_ok=True)
    corpus = BENCH / f"corpus-{arguments.collectivites}"
    print(f"corpus: {corpus.relative_to(REPOSITORY)} (written once, then reused)", flush=True)
    manifest = write_corpus(corpus, PLANS, arguments.collectivites)
    shutil.rmtree(BENCH / "storage", ignore_errors=True)
    shutil.rmtree(BENCH / "solr", ignore_errors=True)

    solr_port, corpus_port = free_port(), free_port()
    environment = bench_environment(solr_port)
    python, ckan = sys.executable, str(Path(sys.executable).with_name("ckan"))
    services = [
        start("solr", ["devstack/stack.sh", "solr", str(BENCH / "solr"), str(solr_port)], environment),
        start("corpus-server", [python, "-m", "http.server", str(corpus_port), "--bind", "127.0.0.1",
                                "--directory", str(corpus)], environment),
    ]
    consumers: list[Process] = []
    try:
        # A JVM starting on a busy 2-core machine takes up to a minute or two.
        wait_for_url(f"http://127.0.0.1:{solr_port}/solr/ckan/admin/ping", services[0], seconds=180)
        wait_for_url(f"http://127.0.0.1:{corpus_port}/", services[1])
        os.environ.update(environment)  # this process's CKAN too
        app = load_ckan()
        with app._wsgi_app.test_request_context():
            reset_portal()
            source = create_source(f"http://127.0.0.1:{corpus_port}/")
            consumers = [start("gather-consumer", [ckan, "-c", "test.ini", "harvester", "gather-consumer"],
                               environment)]
            consumers += [start(f"fetch-consumer-{number}", [ckan, "-c", "test.ini", "harvester", "fetch-consumer"],
                                environment) for number in range(1, FETCH_CONSUMERS + 1)]
            processes = consumers + services
            backends = DatabaseBackends(DATABASE)
            runs = []
            for label in ("first run", "unchanged run"):
                print(f"{label}…", flush=True)
                runs.append(run(label, source, processes, backends))
        return 0 if report(manifest, runs) else 1
    finally:
        for process in consumers + services:
            process.stop()


if __name__ == "__main__":
    sys.exit(main())
