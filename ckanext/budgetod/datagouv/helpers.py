"""Template helpers of the data.gouv.fr sync."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ckan.plugins.toolkit as tk


def datagouv_status(package_id: str) -> dict[str, Any] | None:
    """The dataset's sync state for the dataset page; None for who may not see it, or when there is
    nothing to show (sync disabled and never run)."""
    try:
        described = tk.get_action("budgetod_datagouv_status")({}, {"id": package_id})
    except (tk.NotAuthorized, tk.ObjectNotFound):
        return None
    return described if described["enabled"] or described["status"] else None


def get_helpers() -> dict[str, Callable[..., Any]]:
    return {"budgetod_datagouv_status": datagouv_status}
