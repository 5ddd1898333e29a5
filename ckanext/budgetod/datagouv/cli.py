"""``ckan budgetod datagouv sync|status``: the data.gouv.fr sync by hand, and its state.

Messages are in the portal's default language (``ckan.locale_default``).
"""
from __future__ import annotations

import contextlib
import sys
from typing import NoReturn

import ckan.model as model
import ckan.plugins.toolkit as tk
import click

from ckanext.budgetod import settings
from ckanext.budgetod.core import messages
from ckanext.budgetod.datagouv import sync
from ckanext.budgetod.datagouv.sync import state


def _in_portal_language() -> contextlib.AbstractContextManager[object]:
    """A request context, so that messages are translated as in the web interface."""
    context = click.get_current_context(silent=True)
    flask_app = context.meta.get("flask_app") if context is not None else None
    return flask_app.test_request_context() if flask_app is not None else contextlib.nullcontext()


def _results() -> dict[str, str]:
    return {
        "unchanged": tk._("unchanged"),
        "created": tk._("created"),
        "updated": tk._("updated"),
        "deleted": tk._("deleted"),
        "archived": tk._("archived"),
        "skipped": tk._("not synced (no data.gouv.fr organisation)"),
        "error": tk._("error"),
    }


def _statuses() -> dict[str, str]:
    return {state.STATUS_PENDING: tk._("pending"), state.STATUS_OK: tk._("in sync"),
            state.STATUS_ERROR: tk._("error")}


def _fail(message: str) -> NoReturn:
    click.echo(tk._("error: {message}").format(message=message), err=True)
    sys.exit(2)


# Help is written before any request: in the command line's language, as `ckan budgetod`'s own.
@click.group(name="datagouv", help=messages.text("datagouv_cli_help"),
             short_help=messages.text("datagouv_cli_short_help"))
def datagouv() -> None:
    pass


@datagouv.command("sync", help=messages.text("datagouv_cli_sync_help"),
                  short_help=messages.text("datagouv_cli_sync_short_help"))
@click.argument("dataset", required=False)
@click.option("--all", "every", is_flag=True, help=messages.text("datagouv_cli_opt_all"))
@click.option("--dry-run", is_flag=True, help=messages.text("datagouv_cli_opt_dry_run"))
def sync_command(dataset: str | None, every: bool, dry_run: bool) -> None:
    with _in_portal_language():
        if bool(dataset) == every:
            _fail(tk._("give one dataset or --all"))
        try:
            portal_settings = sync.checked(settings.current())
        except sync.SyncError as error:
            _fail(error.describe())
        if not portal_settings.datagouv.enabled and not dry_run:
            _fail(tk._("the data.gouv.fr sync is disabled (ckanext.budgetod.datagouv.enabled)"))
        if every:
            package_ids = sync.candidate_ids()
        else:
            package = model.Package.get(dataset)
            if package is None:
                _fail(tk._("no dataset {dataset}").format(dataset=dataset))
            package_ids = [package.id]
        synchroniser = sync.Synchroniser(sync.client(portal_settings), portal_settings, dry_run=dry_run)
        results, failed = _results(), False
        if dry_run:
            click.echo(tk._("Dry run: nothing is written; these writes would be made."))
        for package_id in package_ids:
            outcome = synchroniser.sync(package_id)
            failed = failed or outcome.result == "error"
            line = f"{outcome.package_name}: {results[outcome.result]}"
            if outcome.udata_id:
                line += f" ({sync.dataset_page(outcome.udata_id)})"
            click.echo(line)
            for operation in outcome.operations:
                click.echo(f"  - {operation}")
            if outcome.message:
                click.echo(f"  {outcome.message}")
        sys.exit(1 if failed else 0)


@datagouv.command("status", help=messages.text("datagouv_cli_status_help"),
                  short_help=messages.text("datagouv_cli_status_short_help"))
def status_command() -> None:
    with _in_portal_language():
        try:
            portal_settings = sync.checked(settings.current())
        except sync.SyncError as error:
            _fail(error.describe())
        rows = state.all_rows()
        statuses = _statuses()
        click.echo(tk._("data.gouv.fr sync: {state}, {url}").format(
            state=tk._("enabled") if portal_settings.datagouv.enabled else tk._("disabled"),
            url=portal_settings.datagouv.url))
        for row in rows:
            click.echo(f"{row.package_name}: {statuses.get(row.status, row.status)}")
            details = [tk._("attempts: {count}").format(count=row.attempts),
                       tk._("last success: {moment}").format(
                           moment=row.last_success.isoformat(timespec="seconds") + "Z" if row.last_success
                           else tk._("never"))]
            if row.udata_dataset_id:
                details.append(sync.dataset_page(row.udata_dataset_id))
            click.echo("  " + "; ".join(details))
            if row.message:
                click.echo(f"  {row.message}")
        counts = {status: sum(1 for row in rows if row.status == status) for status in statuses}
        click.echo(tk._("{ok} in sync, {pending} pending, {error} in error").format(
            ok=counts[state.STATUS_OK], pending=counts[state.STATUS_PENDING], error=counts[state.STATUS_ERROR]))
