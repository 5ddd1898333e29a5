from __future__ import annotations

import ckan.plugins.toolkit as tk


def budgetod_config_show(context: dict, data_dict: dict) -> dict:
    # Sysadmins pass every auth check before this function is called.
    return {
        "success": False,
        "msg": tk._("Only system administrators may see the budgets extension's configuration."),
    }


def get_auth_functions() -> dict:
    return {"budgetod_config_show": budgetod_config_show}
