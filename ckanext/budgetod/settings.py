"""The extension's settings read from the CKAN ini, in the shape the pure domain expects."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import ckan.plugins.toolkit as tk

from ckanext.budgetod.core.cli import Settings as DomainSettings
from ckanext.budgetod.core.totem.occultation import Rules, load_rules


@dataclass(frozen=True)
class Settings:
    plans_de_comptes: str
    scdl_schema: str
    cache_dir: str
    max_document_size: int
    max_documents_per_source: int
    archive_cache_size: int
    http_timeout: int
    allow_private_urls: bool
    occultation_rules: str

    def as_dict(self) -> dict:
        return asdict(self)

    def for_domain(self) -> DomainSettings:
        return DomainSettings(
            plans_de_comptes=self.plans_de_comptes,
            schema=self.scdl_schema,
            cache_dir=self.cache_dir,
            max_bytes=self.max_document_size,
            allow_private=self.allow_private_urls,
            timeout=self.http_timeout,
            occultation_rules=self.occultation_rules or None,
        )

    def rules(self) -> Rules:
        """The occultation rules in force (ckanext.budgetod.occultation_rules, else the shipped ones)."""
        return load_rules(self.occultation_rules or None)


def current() -> Settings:
    cache_dir = tk.config.get("ckanext.budgetod.cache_dir")
    if not cache_dir:
        storage_path = tk.config.get("ckan.storage_path")
        cache_dir = (
            os.path.join(storage_path, "budgetod")
            if storage_path
            else os.path.join(os.path.expanduser("~"), ".cache", "budgetod")
        )
    return Settings(
        plans_de_comptes=tk.config.get("ckanext.budgetod.plans_de_comptes"),
        scdl_schema=tk.config.get("ckanext.budgetod.scdl_schema"),
        cache_dir=cache_dir,
        max_document_size=tk.config.get("ckanext.budgetod.max_document_size"),
        max_documents_per_source=tk.config.get("ckanext.budgetod.max_documents_per_source"),
        archive_cache_size=tk.config.get("ckanext.budgetod.archive_cache_size"),
        http_timeout=tk.config.get("ckanext.budgetod.http_timeout"),
        allow_private_urls=tk.config.get("ckanext.budgetod.allow_private_urls"),
        occultation_rules=tk.config.get("ckanext.budgetod.occultation_rules") or "",
    )
