"""`ckan budgetod …`: the kit's commands with their defaults taken from the CKAN ini."""
from __future__ import annotations

import click


@click.group(name="budgetod", short_help="Budgets TOTEM → SCDL")
def budgetod():
    """Budgets TOTEM → SCDL (ckanext-budgetod)."""


def get_commands() -> list:
    return [budgetod]
