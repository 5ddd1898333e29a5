"""Budget datasets on the running local portal (devstack/stack.sh up), for the browser tests and the
view bench.

    .local/venv/bin/python tests/browser/portal_fixtures.py setup [document stem ...]
    .local/venv/bin/python tests/browser/portal_fixtures.py teardown

`setup` converts sample documents of ../shared/data/totem (or the five years of a made-up commune
made from them, "demoville-…", see bench/collectivite_series.py) and publishes each one as the harvester
does (a dataset per budget and year, with the SCDL CSV, the TOTEM XML and the validation report in
the filestore; "<sample>-invalid" is that sample with errors, in a dataset of its own), through the
portal's action API as a dedicated sysadmin whose token lives only for
the run; it prints what it made as JSON. `teardown` purges those datasets and their organisation.
Every name starts with "budgetod-browser-", so the portal's own datasets are never touched.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import requests

if TYPE_CHECKING:
    from ckanext.budgetod.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CKAN_INI = ROOT / ".local" / "ckan.ini"
SHARED_TOTEM = ROOT.parent / "shared" / "data" / "totem"
SITE_URL = f"http://127.0.0.1:{os.environ.get('BUDGETOD_CKAN_PORT', '5000')}"
PREFIX = "budgetod-browser-"
USER = "budgetod-browser-tests"
ORGANIZATION = {"name": f"{PREFIX}collectivites", "title": "Collectivités (tests navigateur / browser tests)"}
INVALID_SUFFIX = "-invalid"
SERIES_PREFIX = "demoville-"
DEFAULT_DOCUMENTS = ("montreuil-ca-2018", "crach-principal-ca-2021", "crach-principal-dm2-2021",
                     "mohon-cfu-2023", "transport-m43-bp-2022", "crach-principal-ca-2021-invalid")


def load_portal():
    from ckan.cli import load_config
    from ckan.config.middleware import make_app

    logging.disable(logging.WARNING)
    return make_app(load_config(str(CKAN_INI)))


@contextlib.contextmanager
def sysadmin_token(app):
    """A sysadmin's API token, revoked on exit; the user is disabled again on exit."""
    import ckan.plugins.toolkit as tk

    with app._wsgi_app.test_request_context():
        site_user = tk.get_action("get_site_user")({"ignore_auth": True}, {})["name"]

        def call(action: str, data: dict) -> dict:
            return tk.get_action(action)({"user": site_user, "ignore_auth": True}, data)

        try:
            call("user_show", {"id": USER})
        except tk.ObjectNotFound:
            call("user_create", {"name": USER, "email": f"{USER}@example.org",
                                 "password": secrets.token_urlsafe(24)})
        call("user_patch", {"id": USER, "sysadmin": True, "state": "active"})
        token = call("api_token_create", {"user": USER, "name": "browser-tests"})
    try:
        yield token["token"]
    finally:
        with app._wsgi_app.test_request_context():
            for listed in call("api_token_list", {"user_id": USER}):
                call("api_token_revoke", {"jti": listed["id"]})
            call("user_patch", {"id": USER, "sysadmin": False})
            call("user_delete", {"id": USER})


class Portal:
    """The portal's action API, as the sysadmin."""

    def __init__(self, token: str):
        self.session = requests.Session()
        self.session.headers["Authorization"] = token

    def call(self, action: str, data: dict | None = None, files: dict | None = None) -> dict:
        url = f"{SITE_URL}/api/3/action/{action}"
        response = (self.session.post(url, data=data, files=files, timeout=120) if files
                    else self.session.post(url, json=data or {}, timeout=120))
        body = response.json()
        if not body.get("success"):
            raise RuntimeError(f"{action}: {response.status_code} {body.get('error')}")
        return body["result"]

    def exists(self, action: str, name: str) -> bool:
        response = self.session.get(f"{SITE_URL}/api/3/action/{action}", params={"id": name}, timeout=60)
        return response.status_code == 200


def spoil(csv_path: str, portal_settings: Settings) -> dict:
    """Give the CSV two SIRETs that fail their check (rows 3 and 5) and an amount written with a
    decimal comma (row 4); return its validation as the harvester publishes it."""
    import csv
    import io

    from ckanext.budgetod.core.pipeline import validation_part
    from ckanext.budgetod.core.scdl import validation

    with open(csv_path, encoding="utf-8", newline="") as stream:
        rows = list(csv.reader(stream))
    header = rows[0]
    rows[2][header.index("BGT_SIRET")] = "21560046100011"
    rows[4][header.index("BGT_SIRET")] = "12345678901234"
    rows[3][header.index("BGT_MTREAL")] = "12,50"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    Path(csv_path).write_text(buffer.getvalue(), encoding="utf-8")
    return validation_part(validation.validate_csv(csv_path, portal_settings), "0.8.3")


def sample_path(stem: str, workdir: Path) -> Path:
    """A sample document of ../shared/data/totem, or one of the five years of the made-up commune
    of bench/collectivite_series.py (stems "demoville-…"), written into ``workdir``."""
    if stem.startswith(SERIES_PREFIX):
        sys.path.insert(0, str(ROOT / "bench"))
        from collectivite_series import write_series

        return write_series(workdir / "series")[stem]
    return SHARED_TOTEM / f"{stem}.xml"


def publish_document(app, portal: Portal, stem: str, organization_id: str) -> dict:
    """Publish a sample document; the stem "<sample>-invalid" publishes that sample spoiled (see spoil)."""
    from ckanext.budgetod import settings
    from ckanext.budgetod.core import source_config
    from ckanext.budgetod.core.net.fetch import file_digest
    from ckanext.budgetod.core.pipeline import Pipeline
    from ckanext.budgetod.portal import publish

    invalid = stem.endswith(INVALID_SUFFIX)
    with tempfile.TemporaryDirectory() as workdir, app._wsgi_app.test_request_context():
        totem = sample_path(stem.removesuffix(INVALID_SUFFIX), Path(workdir))
        doc = Pipeline(settings.current()).run(
            str(totem), os.path.join(workdir, "scdl.csv"), source=f"https://example.org/{stem}.xml",
            sha256=file_digest(str(totem)), occult_to=os.path.join(workdir, "occulted.xml"))
        report = dict(doc.report)
        if invalid:
            report["validation"] = spoil(doc.csv_path, settings.current())
        valid = report["validation"]["valid"]
        header = doc.header
        name = PREFIX + ("invalid-" if invalid else "") + publish.dataset_name(
            header, source_config.GROUPING_BUDGET).removeprefix("budget-")
        if not portal.exists("package_show", name):
            facts = {
                "budgetod_siret": header.siret, "budgetod_exercice": str(header.exercice),
                "budgetod_budget": header.budget_name,
                "budgetod_collectivite": header.collectivite or header.budget_name,
                "budgetod_nomenclature": header.nomenclature, "budgetod_insee": header.insee,
            }
            portal.call("package_create", {
                "name": name, "title": f"Budget {header.exercice} — {header.budget_name}",
                "owner_org": organization_id,
                "extras": [{"key": key, "value": value} for key, value in facts.items() if value]})
        # budgetod_source marks them harvested: the portal converts only XML files people upload.
        common = {"package_id": name, "budgetod_document": doc.key, "budgetod_source": doc.source,
                  "budgetod_etape": header.natdec, "budgetod_decision": header.decision_number,
                  "budgetod_valid": "true" if valid else "false"}
        made = {"name": name}
        for role, filename, content, file_format in (
                ("scdl", f"{stem}.csv", Path(doc.csv_path).read_bytes(), "CSV"),
                ("totem", f"{stem}.xml", totem.read_bytes(), "XML"),
                ("report", f"{stem}-rapport.json", json.dumps(report, ensure_ascii=False).encode(), "JSON")):
            resource = portal.call("resource_create", {
                **common, "name": f"{publish.etape_title(header.natdec, header.decision_number).capitalize()} "
                                  f"{header.exercice} ({role})",
                "url": filename, "format": file_format, "budgetod_role": role,
            }, files={"upload": (filename, content)})
            made[role] = resource["id"]
        return made


def setup(stems: list[str]) -> dict:
    app = load_portal()
    with sysadmin_token(app) as token:
        portal = Portal(token)
        if portal.exists("organization_show", ORGANIZATION["name"]):
            organization = portal.call("organization_show", {"id": ORGANIZATION["name"]})
        else:
            organization = portal.call("organization_create", ORGANIZATION)
        documents = {stem: publish_document(app, portal, stem, organization["id"]) for stem in stems}
    return {"site_url": SITE_URL, "documents": documents}


def teardown() -> dict:
    app = load_portal()
    with sysadmin_token(app) as token:
        portal = Portal(token)
        found = portal.call("package_search", {"q": f"name:{PREFIX}*", "rows": 1000, "include_private": True})
        purged = [dataset["name"] for dataset in found["results"] if dataset["name"].startswith(PREFIX)]
        for name in purged:
            portal.call("dataset_purge", {"id": name})
        if portal.exists("organization_show", ORGANIZATION["name"]):
            portal.call("organization_purge", {"id": ORGANIZATION["name"]})
    return {"purged": purged}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("setup", "teardown"):
        print(__doc__, file=sys.stderr)
        return 2
    result = setup(argv[1:] or list(DEFAULT_DOCUMENTS)) if argv[0] == "setup" else teardown()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
