"""A harvest source's configuration: its options declared as data (``OPTIONS``: key, JSON type,
allowed values, default, help in French and English), checked generically by
``parse_source_config`` into a ``SourceConfig`` that the harvester and the data.gouv.fr sync read.

A source is public: what looks like a secret, at any depth or in a URL, is refused (secrets
belong in CKAN's ini file). RE2 compiles the ``pattern``: no backtracking, bounded memory.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from ckanext.budgetod.core.errors import BudgetodError
from ckanext.budgetod.core.messages import Message
from ckanext.budgetod.core.net.urls import KIND_PAGE_SHAPES, catalogue_page, is_web_url, normalise_url

KINDS = ("file", "index", "zip", "ckan", "udata")
GROUPING_BUDGET, GROUPING_DOCUMENT = "budget", "document"
GROUPINGS = (GROUPING_BUDGET, GROUPING_DOCUMENT)
DEFAULT_GROUPING = GROUPING_BUDGET

# A configuration is a short JSON text typed by an administrator; anything
# bigger is a mistake, and the pattern is matched against every candidate URL.
MAX_CONFIG_CHARS = 100_000
MAX_PATTERN_CHARS = 1_000
# RE2 matches in time linear in the URL whatever the pattern (no backtracking: "(a+)+$" is
# harmless); a pattern whose compiled automaton needs more memory than this is refused.
PATTERN_MAX_MEMORY = 8 * 2**20

# Compared after lower-casing and removing everything but letters and digits,
# so "api_key", "X-Api-Key" and "apiKey" all read "apikey". A bare "key" is
# allowed: CKAN extras are {"key": …, "value": …}; "author" is not "auth".
_SECRET_KEY_PARTS = ("apikey", "token", "password", "passwd", "secret", "authorization",
                     "credential", "privatekey", "accesskey", "cookie")
_SECRET_KEY_NAMES = frozenset({"pwd", "pass", "auth", "bearer"})


class SourceConfigError(BudgetodError):
    """The configuration of a harvest source is invalid; ``field`` names the offending field."""

    def __init__(self, source: object, field: str, cause: Message):
        super().__init__(source, cause)
        self.field = field


# ---------------------------------------------------------------- the options, as data

# A value's check: (source URL, field, value) → the value kept; raises SourceConfigError.
Check = Callable[[str, str, object], object]


@dataclass(frozen=True)
class Option:
    """One key of the configuration. ``type``: the JSON type its value must have, ``expected`` what
    an error calls it (default: the type's name); ``choices``: the values allowed (none: any);
    ``options``: for an object, the keys it may hold, checked likewise (none declared: any key,
    checked elsewhere); ``check``: what else its value must satisfy."""

    key: str
    type: type
    help: Message
    expected: Message | None = None
    default: object = None
    choices: tuple[str, ...] = ()
    options: tuple[Option, ...] = ()
    check: Check | None = None


_TYPE_NAMES: dict[type, Message] = {str: Message("source_config_string"), list: Message("source_config_list"),
               dict: Message("source_config_json_object")}
_URLS = Message("source_config_list_urls_non_empty_strings")
_PATTERN = Message("source_config_regular_expression_non_empty_string")
_ORGANIZATION = Message("source_config_id_slug_data_gouv_fr")


def _must_be(source_url: str, field: str, expected: Message) -> SourceConfigError:
    return SourceConfigError(source_url, field, Message("source_config_must", field=field, expected=expected))


def _parse_urls(source_url: str, field: str, value: object) -> tuple[str, ...]:
    urls = value if isinstance(value, list) else []
    if not all(isinstance(url, str) and url.strip() for url in urls):
        raise _must_be(source_url, field, _URLS)
    normalised: dict[str, None] = {}
    for url in urls:
        _check_location(source_url, field, url.strip())
        normalised.setdefault(normalise_url(url))
    return tuple(normalised)


def _check_pattern(source_url: str, field: str, pattern: object) -> object:
    if not isinstance(pattern, str) or not pattern:
        raise _must_be(source_url, field, _PATTERN)
    if len(pattern) > MAX_PATTERN_CHARS:
        raise SourceConfigError(source_url, field, Message("source_config_pattern_exceeds_characters",
            max_pattern_chars=MAX_PATTERN_CHARS))
    import re2

    try:
        compile_pattern(pattern)
    except re2.error as exc:
        raise SourceConfigError(source_url, field, invalid_pattern(exc)) from None
    return pattern


def _check_organization(source_url: str, field: str, organization: object) -> object:
    if not (isinstance(organization, str) and organization.strip()):
        raise _must_be(source_url, field, _ORGANIZATION)
    return organization


# docs/harvesting.md shows this table (a test compares them).
OPTIONS: tuple[Option, ...] = (
    Option("kind", str, Message("source_option_kind"),
        choices=KINDS),
    Option("urls", list, Message("source_option_urls"),
        expected=_URLS, default=(), check=_parse_urls),
    Option("pattern", str, Message("source_option_pattern"),
        expected=_PATTERN, check=_check_pattern),
    Option("grouping", str, Message("source_option_grouping"),
        default=DEFAULT_GROUPING, choices=GROUPINGS),
    Option("metadata", dict, Message("source_option_metadata"),
        default={}),
    Option("datagouv", dict, Message("source_option_datagouv"),
        default={}, options=(
            Option("organization", str, Message("source_option_datagouv_organization"),
                expected=_ORGANIZATION, check=_check_organization),
        )),
)
CONFIG_KEYS = tuple(option.key for option in OPTIONS)


@dataclass(frozen=True)
class SourceConfig:
    """A validated source configuration (the meaning of each field: ``OPTIONS``); ``raw``: the
    parsed JSON object."""

    kind: str | None
    urls: tuple[str, ...]
    pattern: str | None
    grouping: str
    metadata: dict[str, Any]
    datagouv: dict[str, Any]
    raw: dict[str, Any]

    @property
    def datagouv_organization(self) -> str | None:
        """The udata organisation (id or slug) its datasets go to, None when the source names none."""
        organization = self.datagouv.get("organization")
        return organization.strip() if organization else None


def parse_source_config(source_url: str, config_text: str | None) -> SourceConfig:
    """Validate a source URL and its JSON configuration against ``OPTIONS``.

    Unknown keys, wrong types or values, invalid regular expressions and anything that looks like
    a secret (keys such as ``api_key`` or ``token`` at any depth, credentials or such parameters in
    a URL) raise ``SourceConfigError``. An empty ``source_url`` skips the checks that need it (the
    configuration alone is validated).
    """
    source_url = (source_url or "").strip()
    if source_url:
        _check_location(source_url, "url", source_url)
    raw = _parse_json_object(source_url, config_text)
    _refuse_secret_keys(source_url, raw, "")
    values = _checked(source_url, raw, OPTIONS, "")
    kind, urls = values["kind"], values["urls"]
    if kind in ("ckan", "udata"):
        for location, field in [(url, "urls") for url in urls] or [(source_url, "url")]:
            if location and catalogue_page(kind, location) is None:
                raise SourceConfigError(source_url, field, Message("source_config_not_address",
                    location=location, kind_page_shape=KIND_PAGE_SHAPES[kind]))
    return SourceConfig(kind=kind, urls=urls, pattern=values["pattern"], grouping=values["grouping"],
                        metadata=raw.get("metadata", {}), datagouv=raw.get("datagouv", {}), raw=raw)


def _checked(source_url: str, section: dict[str, Any], options: tuple[Option, ...], prefix: str) -> dict[str, Any]:
    """Each option's value in ``section`` (its default when absent), checked as declared."""
    declared = {option.key: option for option in options}
    unknown = sorted(set(section) - set(declared))
    if unknown:
        allowed, key = ", ".join(declared), prefix + unknown[0]
        raise SourceConfigError(source_url, key, Message("source_config_unknown_key_in_section", key=key,
                                                         section=prefix[:-1], allowed=allowed) if prefix else
                                Message("source_config_unknown_key", key=key, allowed=allowed))
    values = {}
    for option in options:
        field = prefix + option.key
        if option.key not in section:
            values[option.key] = option.default
            continue
        value = section[option.key]
        if not isinstance(value, option.type):
            raise _must_be(source_url, field, option.expected or _TYPE_NAMES[option.type])
        if option.choices and value not in option.choices:
            raise SourceConfigError(source_url, field, Message("source_config_must_one_got",
                field=field, choices=', '.join(option.choices), value=value))
        if option.options and isinstance(value, dict):
            _checked(source_url, value, option.options, field + ".")
        values[option.key] = option.check(source_url, field, value) if option.check else value
    return values


def _parse_json_object(source_url: str, config_text: str | None) -> dict[str, Any]:
    if config_text is None or not config_text.strip():
        return {}
    if len(config_text) > MAX_CONFIG_CHARS:
        raise SourceConfigError(source_url, "config", Message("source_config_configuration_too_long_characters_most",
            config_text_count=len(config_text), max_config_chars=MAX_CONFIG_CHARS))
    try:
        parsed = json.loads(config_text, object_pairs_hook=_refuse_duplicate_keys)
    except _DuplicateKey as exc:
        raise SourceConfigError(source_url, exc.key, Message("source_config_key_repeated_configuration", key=exc.key)
        ) from None
    except json.JSONDecodeError as exc:
        raise SourceConfigError(source_url, "config", Message("source_config_invalid_json_configuration_line_column",
            lineno=exc.lineno, colno=exc.colno, msg=exc.msg)) from None
    if not isinstance(parsed, dict):
        raise SourceConfigError(source_url, "config", Message("source_config_configuration_must_json_object"))
    return parsed


class _DuplicateKey(Exception):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _refuse_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


# ---------------------------------------------------------------- secrets and locations

def _looks_like_secret(name: str) -> bool:
    compact = re.sub(r"[^a-z0-9]", "", name.lower())
    return compact in _SECRET_KEY_NAMES or any(part in compact for part in _SECRET_KEY_PARTS)


def _secret_refused(source_url: str, field: str, what: Message) -> SourceConfigError:
    return SourceConfigError(source_url, field, Message("source_config_looks_like_secret_harvest_source", what=what))


def _refuse_secret_keys(source_url: str, value: object, path: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            field = f"{path}.{key}" if path else str(key)
            if _looks_like_secret(str(key)):
                raise _secret_refused(source_url, field, Message("source_config_key", field=field))
            _refuse_secret_keys(source_url, item, field)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_secret_keys(source_url, item, f"{path}[{index}]")


def _check_location(source_url: str, field: str, url: str) -> None:
    """A location must be an absolute http(s) URL carrying no credentials."""
    if not is_web_url(url):
        raise SourceConfigError(source_url, field, Message("source_config_not_valid_absolute_http_https", url=url))
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise _secret_refused(source_url, field, Message("source_config_user_information_url", hostname=parts.hostname))
    for name in _query_names(parts.query):
        if _looks_like_secret(name):
            raise _secret_refused(source_url, field, Message("source_config_url_parameter", name=name))


def _query_names(query: str) -> Iterator[str]:
    for pair in query.split("&"):
        name = pair.partition("=")[0]
        if name:
            yield unquote(name)


# ---------------------------------------------------------------- the pattern

def compile_pattern(pattern: str) -> Any:  # an re2 pattern object: re2 has no type information
    """The source's pattern compiled by RE2. Raises ``re2.error`` for what RE2 refuses:
    backreferences, lookarounds, patterns too large (``PATTERN_MAX_MEMORY``)."""
    # Imported here: the converter, which reads the contract, has no pattern to compile.
    import re2

    options = re2.Options()
    options.log_errors = False
    options.max_mem = PATTERN_MAX_MEMORY
    return re2.compile(pattern, options)


def invalid_pattern(exc: Exception) -> Message:
    detail = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
    return Message("source_config_invalid_pattern_regular_expression_re2", detail=detail)
