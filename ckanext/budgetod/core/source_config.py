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
from urllib.parse import unquote, urlsplit

from ckanext.budgetod.core.errors import BudgetodError
from ckanext.budgetod.core.messages import Bilingual
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

    def __init__(self, source: object, field: str, cause: Bilingual):
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
    help: Bilingual
    expected: Bilingual | None = None
    default: object = None
    choices: tuple[str, ...] = ()
    options: tuple[Option, ...] = ()
    check: Check | None = None


_TYPE_NAMES: dict[type, Bilingual] = {str: Bilingual("une chaîne", "a string"), list: Bilingual("une liste", "a list"),
               dict: Bilingual("un objet JSON", "a JSON object")}
_URLS = Bilingual("une liste d'URL (chaînes non vides)", "a list of URLs (non-empty strings)")
_PATTERN = Bilingual("une expression régulière (chaîne non vide)", "a regular expression (non-empty string)")
_ORGANIZATION = Bilingual("l'identifiant ou le slug d'une organisation data.gouv.fr",
                          "the id or slug of a data.gouv.fr organisation")


def _must_be(source_url: str, field: str, expected: Bilingual) -> SourceConfigError:
    return SourceConfigError(source_url, field, Bilingual(
        f"« {field} » doit être {expected.fr}", f"'{field}' must be {expected.en}"))


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
        raise SourceConfigError(source_url, field, Bilingual(
            f"« pattern » dépasse {MAX_PATTERN_CHARS} caractères",
            f"'pattern' exceeds {MAX_PATTERN_CHARS} characters"))
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
    Option("kind", str, Bilingual(
        "la nature de l'URL ; par défaut devinée (extension, forme de page CKAN ou udata, sinon le contenu servi).",
        "what the URL is; guessed when absent (extension, CKAN or udata page shape, else the content served)."),
        choices=KINDS),
    Option("urls", list, Bilingual(
        "adresses moissonnées à la place de l'URL de la source (qui ne sert alors que de nom), chacune traitée "
        "comme une URL de source.",
        "locations harvested instead of the source URL (which then only names the source), each handled like a "
        "source URL."),
        expected=_URLS, default=(), check=_parse_urls),
    Option("pattern", str, Bilingual(
        "ne garder que les documents dont l'URL contient une correspondance ; syntaxe RE2 (temps linéaire), sans "
        "référence arrière ni assertion avant/arrière.",
        "keep only the documents whose URL matches; RE2 syntax (linear time), no backreferences nor lookarounds."),
        expected=_PATTERN, check=_check_pattern),
    Option("grouping", str, Bilingual(
        "un jeu de données par budget et exercice, ou un par document.",
        "one dataset per budget and year, or one per document."),
        default=DEFAULT_GROUPING, choices=GROUPINGS),
    Option("metadata", dict, Bilingual(
        "champs de la fiche de métadonnées remplacés pour cette source (voir plus bas).",
        "metadata template fields replaced for this source (see below)."),
        default={}),
    Option("datagouv", dict, Bilingual(
        "synchronisation data.gouv.fr de cette source ; toute clé non déclarée (`organisation`…) est refusée.",
        "data.gouv.fr synchronisation of this source; any key not declared (`organisation`…) is refused."),
        default={}, options=(
            Option("organization", str, Bilingual(
                "l'organisation data.gouv.fr (identifiant ou slug) où vont ses jeux de données.",
                "the data.gouv.fr organisation (id or slug) its datasets go to."),
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
    metadata: dict
    datagouv: dict
    raw: dict

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
                raise SourceConfigError(source_url, field, Bilingual(
                    f"{location} n'est pas une adresse de {KIND_PAGE_SHAPES[kind].fr}",
                    f"{location} is not the address of {KIND_PAGE_SHAPES[kind].en}"))
    return SourceConfig(kind=kind, urls=urls, pattern=values["pattern"], grouping=values["grouping"],
                        metadata=raw.get("metadata", {}), datagouv=raw.get("datagouv", {}), raw=raw)


def _checked(source_url: str, section: dict, options: tuple[Option, ...], prefix: str) -> dict:
    """Each option's value in ``section`` (its default when absent), checked as declared."""
    declared = {option.key: option for option in options}
    unknown = sorted(set(section) - set(declared))
    if unknown:
        allowed = ", ".join(declared)
        where_fr, where_en = (f" dans « {prefix[:-1]} »", f" in '{prefix[:-1]}'") if prefix else ("", "")
        raise SourceConfigError(source_url, prefix + unknown[0], Bilingual(
            f"clé « {prefix}{unknown[0]} » inconnue dans la configuration (clés admises{where_fr} : {allowed})",
            f"unknown configuration key '{prefix}{unknown[0]}' (allowed keys{where_en}: {allowed})"))
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
            raise SourceConfigError(source_url, field, Bilingual(
                f"« {field} » doit valoir l'un de {', '.join(option.choices)} (reçu : {value!r})",
                f"'{field}' must be one of {', '.join(option.choices)} (got {value!r})"))
        if option.options and isinstance(value, dict):
            _checked(source_url, value, option.options, field + ".")
        values[option.key] = option.check(source_url, field, value) if option.check else value
    return values


def _parse_json_object(source_url: str, config_text: str | None) -> dict:
    if config_text is None or not config_text.strip():
        return {}
    if len(config_text) > MAX_CONFIG_CHARS:
        raise SourceConfigError(source_url, "config", Bilingual(
            f"configuration trop longue ({len(config_text)} caractères, {MAX_CONFIG_CHARS} au plus)",
            f"configuration too long ({len(config_text)} characters, at most {MAX_CONFIG_CHARS})"))
    try:
        parsed = json.loads(config_text, object_pairs_hook=_refuse_duplicate_keys)
    except _DuplicateKey as exc:
        raise SourceConfigError(source_url, exc.key, Bilingual(
            f"clé « {exc.key} » répétée dans la configuration", f"key '{exc.key}' repeated in the configuration")
        ) from None
    except json.JSONDecodeError as exc:
        raise SourceConfigError(source_url, "config", Bilingual(
            f"configuration JSON invalide, ligne {exc.lineno} colonne {exc.colno} : {exc.msg}",
            f"invalid JSON configuration, line {exc.lineno} column {exc.colno}: {exc.msg}")) from None
    if not isinstance(parsed, dict):
        raise SourceConfigError(source_url, "config", Bilingual(
            "la configuration doit être un objet JSON ({…})", "the configuration must be a JSON object ({…})"))
    return parsed


class _DuplicateKey(Exception):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _refuse_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    result = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


# ---------------------------------------------------------------- secrets and locations

def _looks_like_secret(name: str) -> bool:
    compact = re.sub(r"[^a-z0-9]", "", name.lower())
    return compact in _SECRET_KEY_NAMES or any(part in compact for part in _SECRET_KEY_PARTS)


def _secret_refused(source_url: str, field: str, what: Bilingual) -> SourceConfigError:
    return SourceConfigError(source_url, field, Bilingual(
        f"{what.fr} ressemble à un secret : la configuration d'une source de moissonnage est publique, "
        "les secrets (clés d'API, jetons, mots de passe) se placent dans le fichier ini de CKAN",
        f"{what.en} looks like a secret: a harvest source's configuration is public, "
        "secrets (API keys, tokens, passwords) belong in CKAN's ini file"))


def _refuse_secret_keys(source_url: str, value: object, path: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            field = f"{path}.{key}" if path else str(key)
            if _looks_like_secret(str(key)):
                raise _secret_refused(source_url, field, Bilingual(f"la clé « {field} »", f"key '{field}'"))
            _refuse_secret_keys(source_url, item, field)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_secret_keys(source_url, item, f"{path}[{index}]")


def _check_location(source_url: str, field: str, url: str) -> None:
    """A location must be an absolute http(s) URL carrying no credentials."""
    if not is_web_url(url):
        raise SourceConfigError(source_url, field, Bilingual(
            f"« {url} » n'est pas une URL http ou https absolue valide",
            f"'{url}' is not a valid absolute http or https URL"))
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise _secret_refused(source_url, field, Bilingual(
            f"l'identifiant inclus dans l'URL {parts.hostname}",
            f"the user information in the URL of {parts.hostname}"))
    for name in _query_names(parts.query):
        if _looks_like_secret(name):
            raise _secret_refused(source_url, field, Bilingual(
                f"le paramètre d'URL « {name} »", f"URL parameter '{name}'"))


def _query_names(query: str) -> Iterator[str]:
    for pair in query.split("&"):
        name = pair.partition("=")[0]
        if name:
            yield unquote(name)


# ---------------------------------------------------------------- the pattern

def compile_pattern(pattern: str):
    """The source's pattern compiled by RE2. Raises ``re2.error`` for what RE2 refuses:
    backreferences, lookarounds, patterns too large (``PATTERN_MAX_MEMORY``)."""
    # Imported here: the converter, which reads the contract, has no pattern to compile.
    import re2

    options = re2.Options()
    options.log_errors = False
    options.max_mem = PATTERN_MAX_MEMORY
    return re2.compile(pattern, options)


def invalid_pattern(exc: Exception) -> Bilingual:
    detail = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
    return Bilingual(
        f"expression régulière « pattern » invalide : {detail} (syntaxe RE2 : ni référence arrière "
        "ni assertion avant/arrière, taille bornée)",
        f"invalid 'pattern' regular expression: {detail} (RE2 syntax: no backreferences nor lookarounds, "
        "bounded size)")
