"""The extension's settings read from the CKAN ini: the one place that turns the ini into the core's
``Settings`` (ckanext/budgetod/core/settings.py), passed whole to every layer."""
from __future__ import annotations

import os

import ckan.plugins.toolkit as tk

from ckanext.budgetod.core.settings import DATAGOUV_API_KEY_ENV, DEFAULT_CACHE_DIR, INI_KEYS, Settings

# The settings built last, and the configuration values they were built from: rebuilt only when one
# of those values changes (config_option_update, a test's ckan_config), not at every call.
_built: tuple[tuple[tuple[object, ...], object, str | None], Settings] | None = None


def current() -> Settings:
    """The settings of the running portal (``ckanext.budgetod.*`` keys, declared in
    config_declaration.yaml with their defaults). An empty cache_dir means a "budgetod" directory
    under ckan.storage_path (else ~/.cache/budgetod)."""
    global _built
    source = (tuple(tk.config.get(key) for key in INI_KEYS), tk.config.get("ckan.storage_path"),
              os.environ.get(DATAGOUV_API_KEY_ENV))
    if _built is None or _built[0] != source:
        storage_path = source[1]
        default_cache_dir = (os.path.join(storage_path, "budgetod") if storage_path
                             else os.path.expanduser(DEFAULT_CACHE_DIR))
        _built = (source, Settings.from_ini(tk.config.get, default_cache_dir=default_cache_dir))
    return _built[1]


def cache_dir(*parts: str) -> str:
    """A directory of the portal's cache (``current()`` always sets one), created when missing."""
    root = current().cache_dir
    assert root is not None, "current() always sets the cache directory"
    directory = os.path.join(root, *parts)
    os.makedirs(directory, exist_ok=True)
    return directory
