"""`ckan budgetod convert|validate|inspect`: the kit's commands with defaults from the CKAN ini."""
from __future__ import annotations

from ckanext.budgetod import settings
from ckanext.budgetod.totem.cli import build_cli


def get_commands() -> list:
    return [build_cli(settings.current().for_domain(), name="budgetod")]
