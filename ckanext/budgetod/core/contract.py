"""What the layers agree on: names and values written to CKAN, read by the views, the sync and the
collectivité pages, and the harvest source configuration. CKAN-free; every layer imports it.

Datasets and resources. A budget dataset carries the extras of ``FACT_EXTRAS`` (from its
documents) and ``EXTRA_ETAPES``; each published document adds resources of the roles ``ROLES``,
marked with the ``RESOURCE_*`` fields below. A hand-uploaded TOTEM resource's siblings name it in
``RESOURCE_TOTEM_RESOURCE``.

Budget stages. TOTEM's NatDec codes, with the SCDL value written to BGT_NATDEC (a CFU is a
"compte administratif" there), the title people read on the portal, and the abbreviation.

Harvest sources. Their type is ``SOURCE_TYPE``; ``parse_source_config`` (``SourceConfig``) reads
and checks their JSON configuration, ``datagouv`` section included, for the harvester and the sync.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from ckanext.budgetod.core.errors import BudgetodError
from ckanext.budgetod.core.messages import Bilingual
from ckanext.budgetod.core.net.urls import KIND_PAGE_SHAPES, catalogue_page, is_web_url, normalise_url

SOURCE_TYPE = "budgetod_totem"
SCDL_SCHEMA_NAME = "scdl/budget"

# ---------------------------------------------------------------- resources

ROLE_SCDL, ROLE_TOTEM, ROLE_REPORT = "scdl", "totem", "report"
ROLES = (ROLE_SCDL, ROLE_TOTEM, ROLE_REPORT)

RESOURCE_ROLE = "budgetod_role"
RESOURCE_DOCUMENT = "budgetod_document"  # the document key: its resources are replaced together
RESOURCE_SOURCE = "budgetod_source"  # the harvested document's URL (its harvest guid)
RESOURCE_HARVEST_SOURCE = "budgetod_harvest_source"  # the id of the harvest source that published it
RESOURCE_TOTEM_RESOURCE = "budgetod_totem_resource"  # the hand-uploaded TOTEM resource it was made from
RESOURCE_ETAPE = "budgetod_etape"  # the NatDec code
RESOURCE_DECISION = "budgetod_decision"  # a modifying decision's number
RESOURCE_VALID = "budgetod_valid"  # "true" / "false"
RESOURCE_SHA256 = "budgetod_sha256"  # of the original document
# A hand-added XML resource (uploaded or linked): where its occultation stands, and why it failed
# (one extra per language). Set by the portal only; nothing of it is served before it is released.
RESOURCE_OCCULTATION = "budgetod_occultation"
RESOURCE_OCCULTATION_ERROR_FR = "budgetod_occultation_error_fr"
RESOURCE_OCCULTATION_ERROR_EN = "budgetod_occultation_error_en"
RESOURCE_SOURCE_URL = "budgetod_source_url"  # a linked document's original URL, kept as provenance
OCCULTATION_PENDING = "pending"  # the file is new: its job has not classified it yet
OCCULTATION_DONE = "done"  # the portal stores the occulted document
OCCULTATION_FAILED = "failed"  # unreadable: never served
OCCULTATION_NOT_TOTEM = "not_totem"  # a well-formed XML file of another kind: served as it is
OCCULTATION_FIELDS = (RESOURCE_OCCULTATION, RESOURCE_OCCULTATION_ERROR_FR, RESOURCE_OCCULTATION_ERROR_EN,
                      RESOURCE_SOURCE_URL)

# ---------------------------------------------------------------- datasets

EXTRA_SIRET = "budgetod_siret"
EXTRA_EXERCICE = "budgetod_exercice"
EXTRA_BUDGET = "budgetod_budget"
EXTRA_COLLECTIVITE = "budgetod_collectivite"
EXTRA_NOMENCLATURE = "budgetod_nomenclature"
EXTRA_INSEE = "budgetod_insee"
FACT_EXTRAS = (EXTRA_SIRET, EXTRA_EXERCICE, EXTRA_BUDGET, EXTRA_COLLECTIVITE, EXTRA_NOMENCLATURE, EXTRA_INSEE)
EXTRA_ETAPES = "budgetod_etapes"  # the titles of the stages published, for people
# The udata organisation of a dataset no harvest source publishes.
EXTRA_DATAGOUV_ORGANIZATION = "budgetod_datagouv_organization"

# What every name ``portal/publish.dataset_name`` gives begins with: "budget-", the SIRET, the year.
_BUDGET_DATASET_NAME = re.compile(r"budget-[0-9]{14}-[0-9]{4}(?:-.*)?", re.DOTALL)


def is_budget_dataset_name(name: str) -> bool:
    """Whether ``name`` is one the extension gives a budget dataset: such names are reserved to it,
    so that nobody takes beforehand the name a collectivité's harvest will need."""
    return bool(_BUDGET_DATASET_NAME.fullmatch(name))

# ---------------------------------------------------------------- budget stages (NatDec)

NATDEC_BUDGET_PRIMITIF = "01"
NATDEC_DECISION_MODIFICATIVE = "02"
NATDEC_BUDGET_SUPPLEMENTAIRE = "03"
NATDEC_COMPTE_ADMINISTRATIF = "09"
NATDEC_CFU = "10"
# In the order of the budget year.
NATDEC_ORDER = (NATDEC_BUDGET_PRIMITIF, NATDEC_BUDGET_SUPPLEMENTAIRE, NATDEC_DECISION_MODIFICATIVE,
                NATDEC_COMPTE_ADMINISTRATIF, NATDEC_CFU)
VOTED_NATDECS = (NATDEC_BUDGET_PRIMITIF, NATDEC_BUDGET_SUPPLEMENTAIRE, NATDEC_DECISION_MODIFICATIVE)
ACCOUNT_NATDECS = (NATDEC_COMPTE_ADMINISTRATIF, NATDEC_CFU)
# The SCDL values of BGT_NATDEC.
NATDEC_SCDL_LABELS = {
    NATDEC_BUDGET_PRIMITIF: "budget primitif",
    NATDEC_DECISION_MODIFICATIVE: "décision modificative",
    NATDEC_BUDGET_SUPPLEMENTAIRE: "budget supplémentaire",
    NATDEC_COMPTE_ADMINISTRATIF: "compte administratif",
    NATDEC_CFU: "compte administratif",
}
# The titles of the stages in the portal's French metadata.
NATDEC_TITLES = {**NATDEC_SCDL_LABELS, NATDEC_CFU: "compte financier unique"}
# The names people use in French public finance, in both languages.
NATDEC_ABBREVIATIONS = {
    NATDEC_BUDGET_PRIMITIF: "BP",
    NATDEC_DECISION_MODIFICATIVE: "DM",
    NATDEC_BUDGET_SUPPLEMENTAIRE: "BS",
    NATDEC_COMPTE_ADMINISTRATIF: "CA",
    NATDEC_CFU: "CFU",
}


def natdec_of_scdl_label(label: str) -> str | None:
    """The NatDec code of a BGT_NATDEC value (a CFU reads as a compte administratif)."""
    return next((code for code, known in NATDEC_SCDL_LABELS.items() if known == label), None)


# ---------------------------------------------------------------- harvest sources' configuration
# A harvest source is a URL and a JSON configuration; public: what looks like a secret is refused.

KINDS = ("file", "index", "zip", "ckan", "udata")
GROUPING_BUDGET, GROUPING_DOCUMENT = "budget", "document"
GROUPINGS = (GROUPING_BUDGET, GROUPING_DOCUMENT)


DEFAULT_GROUPING = GROUPING_BUDGET


CONFIG_KEYS = ("kind", "urls", "pattern", "grouping", "metadata", "datagouv")


DATAGOUV_KEYS = ("organization",)


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


@dataclass(frozen=True)
class SourceConfig:
    """A validated source configuration.

    ``urls``: when not empty, the locations harvested instead of the source URL
    (which then only names the source); each is handled like a source URL.
    ``pattern``: regular expression searched in each document's guid; documents
    whose guid does not match are left out.
    ``grouping``: "budget" (the documents of one budget form one dataset) or
    "document" (one dataset per document); used by the harvester.
    ``metadata`` / ``datagouv``: passed on to the harvester as given.
    ``raw``: the parsed JSON object.
    """

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
    """Validate a source URL and its JSON configuration.

    Unknown keys, wrong types, invalid regular expressions and anything that
    looks like a secret (keys such as ``api_key`` or ``token`` at any depth,
    credentials or such parameters in a URL) raise ``SourceConfigError``:
    a harvest source is public, secrets belong in the CKAN ini file. An empty
    ``source_url`` skips the checks that need it (the configuration alone is
    validated).
    """
    source_url = (source_url or "").strip()
    if source_url:
        _check_location(source_url, "url", source_url)
    raw = _parse_json_object(source_url, config_text)
    _refuse_secret_keys(source_url, raw, "")
    unknown = sorted(set(raw) - set(CONFIG_KEYS))
    if unknown:
        raise SourceConfigError(source_url, unknown[0], Bilingual(
            f"clé « {unknown[0]} » inconnue dans la configuration (clés admises : {', '.join(CONFIG_KEYS)})",
            f"unknown configuration key '{unknown[0]}' (allowed keys: {', '.join(CONFIG_KEYS)})"))

    kind = raw.get("kind")
    if kind is not None and kind not in KINDS:
        raise SourceConfigError(source_url, "kind", Bilingual(
            f"« kind » doit valoir l'un de {', '.join(KINDS)} (reçu : {kind!r})",
            f"'kind' must be one of {', '.join(KINDS)} (got {kind!r})"))

    urls = _parse_urls(source_url, raw.get("urls", []))
    if kind in ("ckan", "udata"):
        locations = [(url, "urls") for url in urls] or [(source_url, "url")]
        for location, field in locations:
            if location and catalogue_page(kind, location) is None:
                raise SourceConfigError(source_url, field, Bilingual(
                    f"{location} n'est pas une adresse de {KIND_PAGE_SHAPES[kind].fr}",
                    f"{location} is not the address of {KIND_PAGE_SHAPES[kind].en}"))

    pattern = raw.get("pattern")
    if pattern is not None:
        _check_pattern(source_url, pattern)

    grouping = raw.get("grouping", DEFAULT_GROUPING)
    if grouping not in GROUPINGS:
        raise SourceConfigError(source_url, "grouping", Bilingual(
            f"« grouping » doit valoir « budget » ou « document » (reçu : {grouping!r})",
            f"'grouping' must be 'budget' or 'document' (got {grouping!r})"))

    sections = {}
    for field in ("metadata", "datagouv"):
        value = raw.get(field, {})
        if not isinstance(value, dict):
            raise SourceConfigError(source_url, field, Bilingual(
                f"« {field} » doit être un objet JSON", f"'{field}' must be a JSON object"))
        sections[field] = value
    _check_datagouv_section(source_url, sections["datagouv"])
    return SourceConfig(kind=kind, urls=urls, pattern=pattern, grouping=grouping,
                        metadata=sections["metadata"], datagouv=sections["datagouv"], raw=raw)


def _check_datagouv_section(source_url: str, section: dict) -> None:
    """Like the top level: unknown keys (a misspelt "organisation") and wrong types are refused.
    (The "metadata" section is checked against the metadata template's keys by the harvester.)"""
    unknown = sorted(set(section) - set(DATAGOUV_KEYS))
    if unknown:
        raise SourceConfigError(source_url, f"datagouv.{unknown[0]}", Bilingual(
            f"clé « datagouv.{unknown[0]} » inconnue dans la configuration (clés admises dans « datagouv » : "
            f"{', '.join(DATAGOUV_KEYS)})",
            f"unknown configuration key 'datagouv.{unknown[0]}' (allowed keys in 'datagouv': "
            f"{', '.join(DATAGOUV_KEYS)})"))
    organization = section.get("organization")
    if organization is not None and not (isinstance(organization, str) and organization.strip()):
        raise SourceConfigError(source_url, "datagouv.organization", Bilingual(
            "« datagouv.organization » doit être l'identifiant ou le slug d'une organisation data.gouv.fr",
            "'datagouv.organization' must be the id or slug of a data.gouv.fr organisation"))


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


def _parse_urls(source_url: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(url, str) and url.strip() for url in value):
        raise SourceConfigError(source_url, "urls", Bilingual(
            "« urls » doit être une liste d'URL (chaînes non vides)",
            "'urls' must be a list of URLs (non-empty strings)"))
    normalised: dict[str, None] = {}
    for url in value:
        _check_location(source_url, "urls", url.strip())
        normalised.setdefault(normalise_url(url))
    return tuple(normalised)


def _check_pattern(source_url: str, pattern: object) -> None:
    if not isinstance(pattern, str) or not pattern:
        raise SourceConfigError(source_url, "pattern", Bilingual(
            "« pattern » doit être une expression régulière (chaîne non vide)",
            "'pattern' must be a regular expression (non-empty string)"))
    if len(pattern) > MAX_PATTERN_CHARS:
        raise SourceConfigError(source_url, "pattern", Bilingual(
            f"« pattern » dépasse {MAX_PATTERN_CHARS} caractères",
            f"'pattern' exceeds {MAX_PATTERN_CHARS} characters"))
    import re2

    try:
        compile_pattern(pattern)
    except re2.error as exc:
        raise SourceConfigError(source_url, "pattern", invalid_pattern(exc)) from None


def compile_pattern(pattern: str):
    """The source's pattern compiled by RE2. Raises ``re2.error`` for what RE2 refuses:
    backreferences, lookarounds, patterns too large (``PATTERN_MAX_MEMORY``)."""
    # Imported here: the converter, which reads this module's tables, has no pattern to compile.
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
