"""`ckan budgetod convert|validate|inspect|occult`: the kit's commands with defaults from the CKAN ini,
`occult --all` republishing the portal's documents occulted; `ckan budgetod datagouv sync|status`:
the data.gouv.fr sync."""
from __future__ import annotations

import click

from ckanext.budgetod import settings
from ckanext.budgetod.core.cli import build_cli
from ckanext.budgetod.datagouv.cli import datagouv
from ckanext.budgetod.portal.republish import republish_all


def get_commands() -> list[click.Group]:
    group = build_cli(settings.current(), name="budgetod", republish_all=republish_all)
    group.add_command(datagouv)
    return [group]
