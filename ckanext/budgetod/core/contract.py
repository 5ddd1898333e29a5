"""What the layers agree on: names and values written to CKAN, read by the views, the sync and the
collectivité pages. CKAN-free; every layer imports it.

Datasets and resources. A budget dataset carries the extras of ``FACT_EXTRAS`` (from its
documents) and ``EXTRA_ETAPES``; each published document adds resources of the roles ``ROLES``,
marked with the ``RESOURCE_*`` fields below. A hand-uploaded TOTEM resource's siblings name it in
``RESOURCE_TOTEM_RESOURCE``.

Budget stages. TOTEM's NatDec codes, with the SCDL value written to BGT_NATDEC (a CFU is a
"compte administratif" there), the title people read on the portal, and the abbreviation.

Document keys. Every resource of a document carries its key (``RESOURCE_DOCUMENT``): SIRET, year,
stage, the decision of a stage a year may hold several of, the annex. ``document_key`` writes it,
``parse_document_key`` reads it back; the budget dataset names are made of the same parts.

Index fields. The dataset extras are indexed under their own names; the view plugin adds the
``INDEX_*`` fields, which the /budgets dashboard filters on.

SCDL columns and measures. The columns of the SCDL budget CSV (``SCDL_COLUMNS``, in the schema's
order), and the measures: the kinds of figure a budget's amounts are (realised, voted, opened
credits), each read from one column (``MEASURE_COLUMNS``).

Harvest sources. Their type is ``SOURCE_TYPE``; their configuration is ``core/source_config.py``'s.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

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


# ---------------------------------------------------------------- index fields

# Added to a budget dataset's index entry by the view plugin (exact-match fields, not stored).
INDEX_DEPARTEMENT = "budgetod_departement"
INDEX_NORME = "budgetod_norme"
# The budget datasets, as a search filter: those with a SIRET.
BUDGET_DATASETS_QUERY = f"{EXTRA_SIRET}:[* TO *]"

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


# Stages a year may hold several of: their document key names the decision.
REPEATABLE_NATDECS = (NATDEC_DECISION_MODIFICATIVE, NATDEC_BUDGET_SUPPLEMENTAIRE)


def natdec_of_scdl_label(label: str) -> str | None:
    """The NatDec code of a BGT_NATDEC value (a CFU reads as a compte administratif)."""
    return next((code for code, known in NATDEC_SCDL_LABELS.items() if known == label), None)

# ---------------------------------------------------------------- document keys and dataset names

ANNEX = "annexe"
_SIRET = "[0-9]{14}"
_ANNEX_CODE = "[a-z0-9]+(?:-[a-z0-9]+)*"  # a budget code as ``annex_suffix`` writes it
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
# The decision is optional and as short as leaves a well-formed annex suffix: none when the key ends
# with one (a BS without number nor date).
_DOCUMENT_KEY = re.compile(rf"(?P<siret>{_SIRET})-(?P<exercice>[0-9]{{4}})-(?P<natdec>[0-9]{{2}})"
                           rf"(?:-(?P<decision>.+?))??(?:-(?P<annex>{ANNEX}(?:-{_ANNEX_CODE})?))?", re.DOTALL)
# What every name ``budget_dataset_name`` and ``document_dataset_name`` give begins with.
_BUDGET_DATASET_NAME = re.compile(rf"budget-{_SIRET}-[0-9]{{4}}(?:-.*)?", re.DOTALL)


def is_siret(text: str) -> bool:
    return re.fullmatch(_SIRET, text) is not None


def is_annex_code(text: str) -> bool:
    """Whether ``text`` is an annex's budget code as its document key and its page's address write it."""
    return re.fullmatch(_ANNEX_CODE, text) is not None


def annex_suffix(budget_code: str) -> str:
    """The part of an annex budget's document key that names it: ``annexe-{budget code}``, or
    ``annexe`` alone for an annex without a code (a main budget's key has none)."""
    code = _NOT_SLUG.sub("-", budget_code.lower()).strip("-")
    return f"{ANNEX}-{code}" if code else ANNEX


@dataclass(frozen=True)
class DocumentKey:
    """The parts of a document key: what a newer version of the same budget act replaces."""

    siret: str
    exercice: int
    natdec: str
    decision: str = ""  # a repeatable stage's decision number, else its date; "" for other stages
    annex_suffix: str = ""  # "" for a main budget, else ``annex_suffix(budget code)``

    @property
    def is_annex(self) -> bool:
        return bool(self.annex_suffix)

    @property
    def annex_code(self) -> str:
        """The annex's budget code as its key writes it: "" for a main budget or an annex without one."""
        return self.annex_suffix.removeprefix(ANNEX).removeprefix("-")


def document_key(siret: str, exercice: int, natdec: str, decision: str = "", annex: str = "") -> str:
    """The document key: SIRET, year, stage; for the stages a year may hold several of, the decision
    (its number, else its date); the annex suffix. Parts are joined by "-", empty ones left out."""
    parts = [siret, str(exercice), natdec, decision if natdec in REPEATABLE_NATDECS else "", annex]
    return "-".join(part for part in parts if part)


def parse_document_key(key: str) -> DocumentKey | None:
    """The parts of a key ``document_key`` wrote, or None when ``key`` is not one."""
    match = _DOCUMENT_KEY.fullmatch(key)
    if match is None or (match["decision"] and match["natdec"] not in REPEATABLE_NATDECS):
        return None
    return DocumentKey(match["siret"], int(match["exercice"]), match["natdec"], match["decision"] or "",
                       match["annex"] or "")


def budget_dataset_name(siret: str, exercice: int, annex: str = "") -> str:
    """The dataset of a budget's year (grouping ``budget``): every document of that budget and year."""
    return f"budget-{siret}-{exercice}" + (f"-{annex}" if annex else "")


def document_dataset_name(key: str) -> str:
    """The dataset of one document (grouping ``document``), named after its key."""
    return _NOT_SLUG.sub("-", f"budget-{key}".lower()).strip("-")[:100]


def is_budget_dataset_name(name: str) -> bool:
    """Whether ``name`` is one the extension gives a budget dataset: such names are reserved to it,
    so that nobody takes beforehand the name a collectivité's harvest will need."""
    return bool(_BUDGET_DATASET_NAME.fullmatch(name))

# ---------------------------------------------------------------- SCDL budget columns (schema 0.8.3)

COLUMN_NATDEC = "BGT_NATDEC"
COLUMN_ANNEE = "BGT_ANNEE"
COLUMN_SIRET = "BGT_SIRET"
COLUMN_NOM = "BGT_NOM"
COLUMN_CONTNAT = "BGT_CONTNAT"
COLUMN_CONTNAT_LABEL = "BGT_CONTNAT_LABEL"
COLUMN_NATURE = "BGT_NATURE"
COLUMN_NATURE_LABEL = "BGT_NATURE_LABEL"
COLUMN_FONCTION = "BGT_FONCTION"
COLUMN_FONCTION_LABEL = "BGT_FONCTION_LABEL"
COLUMN_OPERATION = "BGT_OPERATION"
COLUMN_SECTION = "BGT_SECTION"
COLUMN_OPBUDG = "BGT_OPBUDG"
COLUMN_CODRD = "BGT_CODRD"
COLUMN_MTREAL = "BGT_MTREAL"
COLUMN_MTBUDGPREC = "BGT_MTBUDGPREC"
COLUMN_MTRARPREC = "BGT_MTRARPREC"
COLUMN_MTPROPNOUV = "BGT_MTPROPNOUV"
COLUMN_MTPREV = "BGT_MTPREV"
COLUMN_CREDOUV = "BGT_CREDOUV"
COLUMN_MTRAR3112 = "BGT_MTRAR3112"
COLUMN_ARTSPE = "BGT_ARTSPE"
# The amount columns, in the schema's order.
AMOUNT_COLUMNS = (COLUMN_MTREAL, COLUMN_MTBUDGPREC, COLUMN_MTRARPREC, COLUMN_MTPROPNOUV, COLUMN_MTPREV,
                  COLUMN_CREDOUV, COLUMN_MTRAR3112)
# The CSV's header, in the schema's order.
SCDL_COLUMNS = (
    COLUMN_NATDEC, COLUMN_ANNEE, COLUMN_SIRET, COLUMN_NOM,
    COLUMN_CONTNAT, COLUMN_CONTNAT_LABEL, COLUMN_NATURE, COLUMN_NATURE_LABEL,
    COLUMN_FONCTION, COLUMN_FONCTION_LABEL, COLUMN_OPERATION, COLUMN_SECTION,
    COLUMN_OPBUDG, COLUMN_CODRD,
    *AMOUNT_COLUMNS,
    COLUMN_ARTSPE,
)

# ---------------------------------------------------------------- measures

# The kind of figure amounts are; the collectivité summary's ``measure`` is one of them.
MEASURE_REALISED = "realised"  # what a compte administratif (or a CFU) says was spent or received
MEASURE_VOTED = "voted"  # what a budget act voted
MEASURE_OPENED_CREDITS = "opened_credits"  # what a compte administratif says was voted for its year
# The column each measure is read from (a budget summary's ``measure`` is that column).
MEASURE_COLUMNS = {
    MEASURE_REALISED: COLUMN_MTREAL,
    MEASURE_VOTED: COLUMN_MTPREV,
    MEASURE_OPENED_CREDITS: COLUMN_CREDOUV,
}
