"""`ckan budgetod convert|validate|inspect`: the kit's commands with defaults from the CKAN ini;
`ckan budgetod datagouv sync|status`: the data.gouv.fr sync."""
from __future__ import annotations

from ckanext.budgetod import settings
from ckanext.budgetod.datagouv.cli import datagouv
from ckanext.budgetod.totem.cli import build_cli


def get_commands() -> list:
    group = build_cli(settings.current().for_domain(), name="budgetod")
    group.add_command(datagouv)
    return [group]
