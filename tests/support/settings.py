"""Settings for tests that never reach the network: the shared plans de comptes and schema."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ckanext.budgetod.core.settings import Settings
from tests.support.shared import PLANS_DIR, SCHEMA_PATH


def offline_settings(plans: Path | str = PLANS_DIR, **changes: Any) -> Settings:
    """Settings reading the plans de comptes under ``plans`` (the shared ones by default) and the
    shared schema, with ``changes`` (``Settings.replace``) over them."""
    return Settings(plans_de_comptes=str(plans), scdl_schema=str(SCHEMA_PATH)).replace(**changes)
