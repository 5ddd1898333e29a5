"""The metadata template ("fiche de métadonnées modèle") of the harvested budget datasets.

The template shipped beside this module (``fiche_metadonnees.yaml``, documented in French) is the
default; the ini option ``ckanext.budgetod.metadata_template`` names another file to use instead,
and a harvest source's ``"metadata"`` object is merged over either. Texts hold ``{placeholders}``
filled for each dataset.
"""
from __future__ import annotations

import copy
import functools
import re
import string
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from ckanext.budgetod import settings
from ckanext.budgetod.core.errors import BudgetodError
from ckanext.budgetod.core.messages import Message

DEFAULT_TEMPLATE = Path(__file__).with_name("fiche_metadonnees.yaml")
# The language of the published metadata: the shipped template's, and the resources' names.
LANGUAGE = "fr"
# Dataset fields of CKAN's core schema a template may set; anything else goes under "extras".
CORE_FIELDS = ("title", "notes", "tags", "license_id", "author", "author_email", "maintainer",
               "maintainer_email", "url", "version")
PLACEHOLDERS = ("exercice", "budget", "collectivite", "siret", "insee", "nomenclature", "etapes",
                "organisation", "schema_version")
# Extras the harvester computes itself: a template must not override them.
RESERVED_EXTRA_PREFIX = "budgetod_"
# Fields CKAN renders as Markdown: the values put into them are escaped.
MARKDOWN_FIELDS = ("notes",)
# What can open a link, an image, emphasis, code or a heading in (Python-)Markdown, escaped by a
# backslash; "<" and "&" (HTML, autolinks) become entities; "://" loses its colon so that CKAN's
# auto-linker makes no link of a bare URL.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#!])")


class MetadataTemplateError(BudgetodError):
    """A metadata template (file or a source's "metadata" object) that cannot be used."""


def load_template(path: str | Path | None = None) -> dict[str, Any]:
    """The template of the portal: ``path``, else the settings' file, else the shipped one."""
    location = Path(path or settings.current().metadata_template or DEFAULT_TEMPLATE)
    try:
        status = location.stat()
    except OSError as error:
        raise _unreadable(location, error) from None
    # Parsed once per version of the file: every harvested document needs it.
    return copy.deepcopy(_parsed_template(str(location), status.st_mtime_ns, status.st_size))


@functools.lru_cache(maxsize=8)
def _parsed_template(location: str, _mtime_ns: int, _size: int) -> dict[str, Any]:
    try:
        content = yaml.safe_load(Path(location).read_text(encoding="utf-8"))
    except OSError as error:
        raise _unreadable(location, error) from None
    except yaml.YAMLError as error:
        raise MetadataTemplateError(location, Message("metadata_metadata_template_not_valid_yaml",
            error=error)) from None
    return checked(content, location)


def _unreadable(location: str | Path, error: OSError) -> MetadataTemplateError:
    return MetadataTemplateError(location, Message("metadata_unreadable_metadata_template", strerror=error.strerror))


def effective_template(source_metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """The portal's template with a harvest source's overrides merged over it."""
    return merged(load_template(), checked(source_metadata or {}, "metadata"))


def merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override``'s keys replace ``base``'s, except "extras", merged key by key."""
    result = {**base, **override}
    result["extras"] = {**base.get("extras", {}), **override.get("extras", {})}
    return result


def checked(template: Any, origin: object) -> dict[str, Any]:
    """The template itself once its shape and placeholders are known good."""

    def fail(cause: Message) -> MetadataTemplateError:
        return MetadataTemplateError(origin, cause)

    if not isinstance(template, dict):
        raise fail(Message("metadata_metadata_template_must_mapping_key"))
    unknown = sorted(set(template) - set(CORE_FIELDS) - {"extras"})
    if unknown:
        raise fail(Message("metadata_unknown_key_s_possible_keys",
            unknown=', '.join(map(str, unknown)), possible=', '.join(CORE_FIELDS)))
    extras = template.get("extras", {})
    if not isinstance(extras, dict):
        raise fail(Message("metadata_extras_must_mapping_key_value"))
    reserved = sorted(key for key in extras if str(key).startswith(RESERVED_EXTRA_PREFIX))
    if reserved:
        raise fail(Message("metadata_fields_are_computed_harvester", fields=', '.join(reserved)))
    tags = template.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(tag, (str, int)) for tag in tags):
        raise fail(Message("metadata_tags_must_list_keywords"))
    texts = [(key, value) for key, value in template.items() if key not in ("extras", "tags")]
    texts += [(f"extras.{key}", value) for key, value in extras.items()]
    texts += [("tags", tag) for tag in tags]
    for key, value in texts:
        if not isinstance(value, (str, int, float)) and value is not None:
            raise fail(Message("metadata_must_text", key=key))
        _check_placeholders(str(value or ""), key, fail)
    return template


def _check_placeholders(text: str, key: str, fail: Callable[[Message], MetadataTemplateError]) -> None:
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as error:
        raise fail(Message("metadata_malformed_braces_write_literal_braces", key=key, error=error)) from None
    for _literal, field, spec, conversion in parsed:
        # Plain names only: attribute, index, conversion and format syntax are refused.
        if field is not None and (field not in PLACEHOLDERS or spec or conversion):
            raise fail(Message("metadata_unknown_placeholder", key=key, field=field,
                               possible=", ".join(f"{{{name}}}" for name in PLACEHOLDERS)))


def escape_markdown(text: str) -> str:
    """``text`` shown as written once rendered as Markdown: no link, image, HTML, heading or list of
    its own (a collectivité name comes from the document, which anyone may write)."""
    text = " ".join(str(text).split())  # one line: no block (heading, list, quote) can start
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    # A zero-width space after the scheme: no linkifier (CKAN 2.12 autolinks rendered text) sees a URL.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("://", "&#58;&#8203;//")


def dataset_fields(template: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, Any]:
    """The dataset fields the template gives for these placeholder values.

    Returns the core fields (tags as CKAN tag dicts) and an "extras" dict; empty values are left out.
    """

    escaped = {name: escape_markdown(value) for name, value in values.items()}

    def fill(value: Any, markdown: bool = False) -> str:
        return str(value or "").format_map(escaped if markdown else values).strip()

    fields: dict[str, Any] = {}
    for key in CORE_FIELDS:
        if key == "tags" or key not in template:
            continue
        text = fill(template[key], key in MARKDOWN_FIELDS)
        if text:
            fields[key] = text
    tags = dict.fromkeys(fill(tag) for tag in template.get("tags", []))
    fields["tags"] = [{"name": tag} for tag in tags if tag]
    extras = {key: fill(value) for key, value in template.get("extras", {}).items()}
    fields["extras"] = {key: value for key, value in extras.items() if value}
    return fields
