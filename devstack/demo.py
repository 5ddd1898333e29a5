"""`make demo`, after the stack is up: a sysadmin, a demo organisation, and a real harvest of
sample documents served by a local web server. Idempotent: what exists already is kept, and a
re-run harvests again (nothing changed: nothing converted)."""
from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import ckan.plugins.toolkit as tk
from ckan.cli import load_config
from ckan.config.middleware import make_app

ROOT = Path(__file__).resolve().parents[1]
LOCAL = ROOT / ".local"
CKAN_INI = LOCAL / "ckan.ini"
CREDENTIALS = LOCAL / "demo-credentials"
SHARED_TOTEM = ROOT.parent / "shared" / "data" / "totem"
ADMIN_NAME = "admin"
HARVEST_SOURCE = "budgets-demo"
HARVEST_TIMEOUT = 300
SAMPLES_PORT = int(os.environ.get("BUDGETOD_SAMPLES_PORT", "8765"))
ORGANIZATION = {
    "name": "collectivites-demo",
    "title": "Collectivités de démonstration",
    "description": "Organisation de démonstration de ckanext-budgetod / ckanext-budgetod demo organisation.",
}


def admin_password() -> str:
    if CREDENTIALS.exists():
        return CREDENTIALS.read_text().split(":", 1)[1].strip()
    password = secrets.token_urlsafe(12)
    CREDENTIALS.write_text(f"{ADMIN_NAME}:{password}\n")
    CREDENTIALS.chmod(0o600)
    return password


def ensure_portal_content(call, password: str) -> None:
    try:
        call("user_show", {"id": ADMIN_NAME})
    except tk.ObjectNotFound:
        call("user_create", {"name": ADMIN_NAME, "email": "admin@example.org", "password": password})
    call("user_patch", {"id": ADMIN_NAME, "sysadmin": True})
    try:
        call("organization_show", {"id": ORGANIZATION["name"]})
    except tk.ObjectNotFound:
        call("organization_create", {**ORGANIZATION, "users": [{"name": ADMIN_NAME, "capacity": "admin"}]})


def sample_directory() -> Path:
    """The shared real documents when present, else documents generated here."""
    if SHARED_TOTEM.is_dir():
        return SHARED_TOTEM
    generated = LOCAL / "demo" / "samples"
    if not any(generated.glob("*.xml")):
        sys.path.insert(0, str(ROOT / "bench"))
        from generate_totem import generate

        plans = ROOT.parent / "shared" / "data" / "plans-de-comptes"
        generated.mkdir(parents=True, exist_ok=True)
        generate(generated / "budget-genere-2022.xml", 200_000, plans)
    return generated


def serve_samples(directory: Path) -> str:
    """A static web server publishing the samples, as a community's site would; `make down` stops it."""
    pidfile = LOCAL / "run" / "samples.pid"
    url = f"http://127.0.0.1:{SAMPLES_PORT}/"
    if pidfile.exists():
        try:
            os.kill(int(pidfile.read_text()), 0)
            return url
        except (OSError, ValueError):
            pass
    log = open(LOCAL / "log" / "samples.log", "ab")
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(SAMPLES_PORT), "--bind", "127.0.0.1",
         "--directory", str(directory)],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    pidfile.write_text(str(server.pid))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return url
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the sample server did not start (see .local/log/samples.log)")


def harvest_samples(call, samples_url: str) -> list[dict]:
    """Harvest the samples through the production path (Redis queues, the stack's consumers)."""
    try:
        source = call("harvest_source_show", {"id": HARVEST_SOURCE})
    except tk.ObjectNotFound:
        source = call("harvest_source_create", {
            "name": HARVEST_SOURCE, "title": "Budgets de démonstration", "url": samples_url,
            "source_type": "budgetod_totem", "owner_org": ORGANIZATION["name"],
            "config": json.dumps({"kind": "index"}), "frequency": "MANUAL",
        })
    job = call("harvest_job_create", {"source_id": source["id"]})
    deadline = time.monotonic() + HARVEST_TIMEOUT
    while True:
        call("harvest_jobs_run", {"source_id": source["id"]})  # what cron's `ckan harvester run` does
        job = call("harvest_job_show", {"id": job["id"]})
        if job["status"] == "Finished":
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"the demo harvest did not finish in {HARVEST_TIMEOUT} s "
                             "(see .local/log/gather-consumer.log and fetch-consumer.log)")
        time.sleep(0.5)
    datasets = call("package_search", {"fq": f'harvest_source_id:"{source["id"]}"', "rows": 1000,
                                       "sort": "name asc"})["results"]
    return [job, datasets]


def main() -> int:
    app = make_app(load_config(str(CKAN_INI)))
    logging.disable(logging.INFO)  # the demo prints its own summary
    password = admin_password()
    samples = sample_directory()
    samples_url = serve_samples(samples)
    with app._wsgi_app.test_request_context():
        site_user = tk.get_action("get_site_user")({"ignore_auth": True}, {})["name"]

        def call(action: str, data: dict) -> dict:
            # A fresh context each call: CKAN keeps per-call state in it.
            return tk.get_action(action)({"user": site_user, "ignore_auth": True}, data)

        ensure_portal_content(call, password)
        job, datasets = harvest_samples(call, samples_url)
    stats = job.get("stats", {})
    site_url = f"http://127.0.0.1:{os.environ.get('BUDGETOD_CKAN_PORT', '5000')}"
    print(f"""
Portail / Portal:       {site_url}
Administrateur / Admin: {ADMIN_NAME} / {password}   (.local/demo-credentials)
Organisation:           {site_url}/organization/{ORGANIZATION['name']}
Moissonnage / Harvest:  {site_url}/harvest/{HARVEST_SOURCE}  ({samples} served at {samples_url})
                        {json.dumps(stats, sort_keys=True)}
Jeux de données / Datasets:""")
    for dataset in datasets:
        print(f"  {site_url}/dataset/{dataset['name']}  ({dataset['num_resources']} ressources / resources)")
    print("Arrêt / Stop:           make down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
