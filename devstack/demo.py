"""`make demo`, after the stack is up: a sysadmin, a demo organisation, and the extension run on
sample documents. Idempotent: what exists already is kept."""
from __future__ import annotations

import logging
import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCAL = ROOT / ".local"
CKAN_INI = LOCAL / "ckan.ini"
CREDENTIALS = LOCAL / "demo-credentials"
SHARED_TOTEM = ROOT.parent / "shared" / "data" / "totem"
ADMIN_NAME = "admin"
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


def ensure_portal_content(app, password: str) -> None:
    import ckan.plugins.toolkit as tk

    with app._wsgi_app.test_request_context():
        site_user = tk.get_action("get_site_user")({"ignore_auth": True}, {})["name"]

        def call(action: str, data: dict) -> dict:
            # A fresh context each call: CKAN keeps per-call state in it.
            return tk.get_action(action)({"user": site_user, "ignore_auth": True}, data)

        try:
            call("user_show", {"id": ADMIN_NAME})
        except tk.ObjectNotFound:
            call("user_create", {"name": ADMIN_NAME, "email": "admin@example.org", "password": password})
        call("user_patch", {"id": ADMIN_NAME, "sysadmin": True})
        try:
            call("organization_show", {"id": ORGANIZATION["name"]})
        except tk.ObjectNotFound:
            call("organization_create", {**ORGANIZATION, "users": [{"name": ADMIN_NAME, "capacity": "admin"}]})


def convert_samples() -> list[str]:
    """Run the converter and validator on the sample documents, as the portal would."""
    import ckanext.budgetod.settings as budgetod_settings
    from ckanext.budgetod.totem.errors import BudgetodError
    from ckanext.budgetod.totem.scdl import convert_document, validate_output

    options = budgetod_settings.current().for_domain()
    output_dir = LOCAL / "demo" / "scdl"
    output_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    for document in sorted(SHARED_TOTEM.glob("*.xml")):
        target = output_dir / f"{document.stem}.csv"
        try:
            result = convert_document(document, target, plans=options.plans_de_comptes,
                                      cache_dir=options.cache_dir, allow_private=options.allow_private)
            report = validate_output(result, options.schema, cache_dir=options.cache_dir,
                                     allow_private=options.allow_private)
        except BudgetodError as error:
            lines.append(f"  {document.name}: {error.describe()}")
            continue
        verdict = "valide / valid" if report.valid else "invalide / invalid"
        lines.append(f"  {target.relative_to(ROOT)}: {result.rows} lignes / rows, {verdict}")
    return lines


def main() -> int:
    from ckan.cli import load_config
    from ckan.config.middleware import make_app

    app = make_app(load_config(str(CKAN_INI)))
    logging.disable(logging.INFO)  # the demo prints its own summary
    password = admin_password()
    ensure_portal_content(app, password)
    conversions = convert_samples()
    site_url = f"http://127.0.0.1:{os.environ.get('BUDGETOD_CKAN_PORT', '5000')}"
    print(f"""
Portail / Portal:       {site_url}
Administrateur / Admin: {ADMIN_NAME} / {password}   (.local/demo-credentials)
Organisation:           {site_url}/organization/{ORGANIZATION['name']}
Arrêt / Stop:           make down

Documents convertis / Converted documents ({SHARED_TOTEM}):
""" + "\n".join(conversions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
