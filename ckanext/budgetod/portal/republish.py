"""`ckan budgetod occult --all`: every TOTEM document the portal stores, republished occulted.

For portals that published documents before occultation existed, or after the rules changed. Each
dataset is updated at most once, under its lock; the update queues its data.gouv.fr sync like any
change, and an uploaded document's CSV and report are rebuilt by its background job.
"""
from __future__ import annotations

import contextlib
import sys
import tempfile

import ckan.model as model
import ckan.plugins.toolkit as tk
import click

from ckanext.budgetod import settings
from ckanext.budgetod.core import messages
from ckanext.budgetod.core.errors import BudgetodError
from ckanext.budgetod.core.totem import occultation
from ckanext.budgetod.portal import publish, uploads

EXIT_OK, EXIT_ERRORS = 0, 1


def _dataset_ids() -> list[tuple[str, str]]:
    query = model.Session.query(model.Package.id, model.Package.name).filter(
        model.Package.state == "active", model.Package.type == "dataset").order_by(model.Package.name)
    return [(row.id, row.name) for row in query]


def republish_all(lang: str, debug: bool) -> int:
    """Republish every stored TOTEM document occulted; returns the exit status."""
    portal_settings = settings.current()
    try:
        rules = occultation.load_rules(portal_settings.occultation_rules or None)
    except BudgetodError as error:
        click.echo(f"error: {error.describe(lang)}", err=True)
        return 2
    user = tk.get_action("get_site_user")({"ignore_auth": True}, {})["name"]
    datasets = _dataset_ids()
    totals = {"documents": 0, "datasets": 0, "replaced": 0, "unchanged": 0, "errors": 0, "values": 0}
    cache_dir = settings.cache_dir()
    show_progress = sys.stderr.isatty()
    with click.progressbar(datasets, label=messages.text("cli_occult_all_progress", lang), file=sys.stderr) \
            if show_progress else contextlib.nullcontext(datasets) as progress:
        for dataset_id, name in progress:
            with tempfile.TemporaryDirectory(dir=cache_dir, prefix="occult-") as workdir:
                outcomes = publish.republish_occulted(dataset_id, rules, user=user, workdir=workdir,
                                                      max_bytes=portal_settings.max_document_size)
            _queue_pending_jobs(dataset_id, user)
            if not outcomes:
                continue
            totals["datasets"] += 1
            replaced = [outcome for outcome in outcomes if outcome.replaced]
            for outcome in outcomes:
                totals["documents"] += 1
                if outcome.error is not None:
                    totals["errors"] += 1
                    click.echo(f"error: {name}/{outcome.resource_id}: {outcome.error.localized_cause(lang)}",
                               err=True)
                    continue
                totals["replaced" if outcome.replaced else "unchanged"] += 1
                assert outcome.occulted is not None, "an outcome without error says what was occulted"
                totals["values"] += outcome.occulted.total
            if replaced and not show_progress:
                values = sum(outcome.occulted.total for outcome in replaced if outcome.occulted)
                click.echo(messages.text("cli_occult_all_dataset", lang, dataset=name, replaced=len(replaced),
                                         total=values), err=True)
    click.echo(messages.text("cli_occult_all_summary", lang, **totals))
    return EXIT_ERRORS if totals["errors"] else EXIT_OK


def _queue_pending_jobs(dataset_id: str, user: str) -> None:
    """The jobs of the hand-added documents left pending: uploads replaced (their CSV and report are
    rebuilt) and links added before the portal stored their occulted copy."""
    dataset = tk.get_action("package_show")({"user": user, "ignore_auth": True, "use_cache": False},
                                            {"id": dataset_id})
    for resource in dataset["resources"]:
        uploads.enqueue_if_pending(resource)
