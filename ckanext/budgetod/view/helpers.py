"""Template helpers of the budget pages: labels in the page's language, amounts in its format,
and the per-document facts of a budget dataset."""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, cast

import ckan.plugins.toolkit as tk
from babel import Locale
from babel.numbers import (
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
    parse_pattern,
)

from ckanext.budgetod.core import contract
from ckanext.budgetod.core.contract import ROLE_REPORT, ROLE_SCDL

log = logging.getLogger(__name__)

SECTIONS = ("fonctionnement", "investissement")
DIRECTIONS = ("recette", "dépense")
_INSEE_COMMUNE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$")
_CENT = Decimal("0.01")


def user_context() -> dict[str, Any]:
    """A fresh action context for the current user (anonymous visitors included)."""
    return {"user": tk.current_user.name if tk.current_user else ""}


def _is(value: object) -> bool:
    return str(value).lower() == "true"


# ---------------------------------------------------------------- labels

def stage_label(code: str, decision_number: str = "") -> str:
    labels = {
        contract.NATDEC_BUDGET_PRIMITIF: tk._("Initial budget"),
        contract.NATDEC_DECISION_MODIFICATIVE: tk._("Amending decision"),
        contract.NATDEC_BUDGET_SUPPLEMENTAIRE: tk._("Supplementary budget"),
        contract.NATDEC_COMPTE_ADMINISTRATIF: tk._("Administrative account"),
        contract.NATDEC_CFU: tk._("Single financial account"),
    }
    if code == contract.NATDEC_DECISION_MODIFICATIVE and decision_number:
        return cast(str, tk._("Amending decision no. {number}").format(number=decision_number))
    return cast(str, labels.get(code, code))


def natdec_label(natdec: str) -> str:
    """The stage named by an SCDL file's BGT_NATDEC (a CFU is written "compte administratif")."""
    code = contract.natdec_of_scdl_label(natdec)
    return stage_label(code) if code is not None else natdec


def stage_abbreviation(code: str, decision_number: str = "") -> str:
    # The French abbreviations are the names people use, in French public finance, in both languages.
    abbreviation = contract.NATDEC_ABBREVIATIONS.get(code, code)
    return (f"{abbreviation} {decision_number}" if code == contract.NATDEC_DECISION_MODIFICATIVE and decision_number
            else abbreviation)


# These two run for every row of a page's tables: each translates only the label it returns.
def section_label(section: str) -> str:
    if section == "fonctionnement":
        return cast(str, tk._("Operating"))
    if section == "investissement":
        return cast(str, tk._("Investment"))
    return section


def direction_label(codrd: str) -> str:
    if codrd == "recette":
        return cast(str, tk._("Revenue"))
    if codrd == "dépense":
        return cast(str, tk._("Expenditure"))
    return codrd


def measure_label(column: str | None) -> str:
    """The label of a budget summary's ``measure`` or ``voted_measure``: the column of a measure."""
    return cast(str, {
        contract.MEASURE_COLUMNS[contract.MEASURE_REALISED]: tk._("Realised"),
        contract.MEASURE_COLUMNS[contract.MEASURE_VOTED]: tk._("Voted at this stage"),
        contract.MEASURE_COLUMNS[contract.MEASURE_OPENED_CREDITS]: tk._("Voted (opened credits)"),
    }.get(column or "", column or ""))


def departement_of(insee: str) -> str:
    """The département of a commune's INSEE code ("93048" → "93", "97411" → "974", "2A004" → "2A");
    "" for other codes (an EPCI's SIREN says nothing of its département)."""
    insee = (insee or "").strip().upper()
    if not _INSEE_COMMUNE.match(insee):
        return ""
    return insee[:3] if insee.startswith("97") else insee[:2]


def norme_of(nomenclature: str) -> str:
    """The accounting norm of a nomenclature code ("M14-M14_COM_SUP3500" → "M14")."""
    return (nomenclature or "").split("-", 1)[0].strip()


# ---------------------------------------------------------------- numbers

def _locale() -> str:
    return "en_GB" if tk.h.lang() == "en" else "fr_FR"


def format_amount(value: object) -> str:
    """A decimal amount as the page's language writes euros: "1 234 567,89 €", "€1,234,567.89"."""
    return amount_formatter()(value)


def amount_formatter(locale_code: str | None = None) -> Callable[[object], str]:
    """``format_amount`` for the thousands of amounts of a page: babel's currency pattern of the
    locale (default: the page's) read once, then applied here, since babel's own ``apply`` costs
    tens of microseconds a number. Same text as babel (tests compare them); values it is not made
    for (not finite) go to babel."""
    locale = Locale.parse(locale_code or _locale())
    pattern = locale.currency_formats["standard"]
    symbol = get_currency_symbol("EUR", locale)
    prefixes = [text.replace("¤", symbol) for text in pattern.prefix]
    suffixes = [text.replace("¤", symbol) for text in pattern.suffix]
    group, decimal_sign = get_group_symbol(locale), get_decimal_symbol(locale)
    plain = pattern.grouping == (3, 3) and pattern.frac_prec == (2, 2) and "'" not in pattern.pattern

    def format_one(value: object) -> str:
        try:
            number = Decimal(str(value))
            if not (plain and number.is_finite()):
                return cast(str, pattern.apply(number, locale, currency="EUR"))
            whole, _, cents = f"{abs(number).quantize(_CENT):f}".partition(".")
        except (InvalidOperation, ValueError):
            return ""
        sign = int(number.is_signed())
        return cast(str, prefixes[sign] + f"{int(whole):,}".replace(",", group) + decimal_sign + cents + suffixes[sign])
    return format_one


def format_rate(part: object, whole: object) -> str:
    """``part`` as a percentage of ``whole``, or "" when ``whole`` is zero."""
    return rate_formatter()(part, whole)


def rate_formatter(locale_code: str | None = None) -> Callable[[object, object], str]:
    """``format_rate`` for many rates: the locale and the percent pattern looked up once."""
    locale = Locale.parse(locale_code or _locale())
    pattern = parse_pattern("#,##0.0 %")

    def format_one(part: object, whole: object) -> str:
        try:
            whole = Decimal(str(whole))
            return pattern.apply(Decimal(str(part)) / whole, locale) if whole else ""
        except (InvalidOperation, ValueError):
            return ""
    return format_one


# ---------------------------------------------------------------- budget datasets

def is_budget_dataset(pkg: dict[str, Any]) -> bool:
    return any(extra.get("key") == contract.EXTRA_SIRET for extra in pkg.get("extras") or []) or any(
        resource.get(contract.RESOURCE_ROLE) == ROLE_SCDL for resource in pkg.get("resources") or [])


def extra(pkg: dict[str, Any], key: str) -> str:
    return next((item.get("value") or "" for item in pkg.get("extras") or [] if item.get("key") == key), "")


def resource_summary(resource: dict[str, Any]) -> dict[str, Any] | None:
    """The ``budgetod_budget_summary`` of a CSV resource for the current user, or None when it
    cannot be made (file missing, not an SCDL budget, not visible)."""
    try:
        return cast("dict[str, Any] | None", tk.get_action("budgetod_budget_summary")(
            user_context(), {"resource_id": resource["id"]}))
    except (tk.ObjectNotFound, tk.NotAuthorized, tk.ValidationError):
        return None
    except OSError:
        log.exception("The summary of resource %s could not be made", resource.get("id"))
        return None


def direction_totals(summary: dict[str, Any]) -> dict[str, Any]:
    """Totals of the stage's amounts by sens (and the voted ones for an account), all operations."""
    totals: dict[str, dict[str, Decimal]] = {}
    for item in summary.get("totals", []):
        entry = totals.setdefault(item["codrd"], {"amount": Decimal(0), "voted": Decimal(0)})
        entry["amount"] += Decimal(item["amount"])
        entry["voted"] += Decimal(item.get("voted") or 0)
    return totals


def _sibling(resources: list[dict[str, Any]], resource: dict[str, Any], role: str) -> dict[str, Any] | None:
    """The resource of ``role`` made from the same document as ``resource``: harvested documents
    share a document key, the siblings of an uploaded TOTEM file share its id."""
    for key in (contract.RESOURCE_TOTEM_RESOURCE, contract.RESOURCE_DOCUMENT):
        if resource.get(key):
            found = next((candidate for candidate in resources if candidate.get(contract.RESOURCE_ROLE) == role
                          and candidate.get(key) == resource[key]), None)
            if found:
                return found
    return None


def report_of(resources: list[dict[str, Any]], csv_resource: dict[str, Any]) -> dict[str, Any] | None:
    return _sibling(resources, csv_resource, ROLE_REPORT)


def csv_of(resources: list[dict[str, Any]], report: dict[str, Any]) -> dict[str, Any] | None:
    return _sibling(resources, report, ROLE_SCDL)


def budget_documents(pkg: dict[str, Any], with_totals: bool = True) -> list[dict[str, Any]]:
    """One entry per SCDL CSV of the dataset, in budget-year order: stage, validity, resources and,
    when ``with_totals``, revenue and expenditure totals."""
    resources = pkg.get("resources") or []
    documents = []
    for resource in resources:
        if resource.get(contract.RESOURCE_ROLE) != ROLE_SCDL:
            continue
        code, number = resource.get(contract.RESOURCE_ETAPE) or "", resource.get(contract.RESOURCE_DECISION) or ""
        document = {
            "resource": resource,
            "report": report_of(resources, resource),
            "stage": code,
            "label": stage_label(code, number),
            "abbreviation": stage_abbreviation(code, number),
            "valid": _is(resource.get(contract.RESOURCE_VALID)),
            "totals": None,
            "voted_measure": None,
        }
        if with_totals:
            summary = resource_summary(resource)
            if summary is not None:
                document["totals"] = direction_totals(summary)
                document["voted_measure"] = summary["voted_measure"]
        documents.append(document)
    order = {code: position for position, code in enumerate(contract.NATDEC_ORDER)}
    return sorted(documents, key=lambda document: (
        order.get(document["stage"], len(order)),
        (document["resource"].get(contract.RESOURCE_DECISION) or "").zfill(8)))


def datagouv_url(pkg: dict[str, Any]) -> str:
    url = extra(pkg, "budgetod_datagouv_url")
    return url if url.startswith(("https://", "http://")) else ""


def budget_tables(summary: dict[str, Any]) -> dict[str, Any]:
    """The rows of the view's tables, from a budget summary (amounts stay decimal strings)."""
    totals = {(item["section"], item["codrd"], item["opbudg"]): item for item in summary["totals"]}

    def amount(section: str, codrd: str, opbudg: str, field: str = "amount") -> Decimal:
        return Decimal(totals.get((section, codrd, opbudg), {}).get(field) or 0)

    sections = []
    for section in SECTIONS:
        for codrd in DIRECTIONS:
            real, ordre = amount(section, codrd, "réel"), amount(section, codrd, "ordre")
            sections.append({"section": section, "codrd": codrd, "real": real, "ordre": ordre,
                             "total": real + ordre})
    voted = []
    if summary.get("voted_measure"):
        for section in SECTIONS:
            for codrd in DIRECTIONS:
                voted.append({"section": section, "codrd": codrd,
                              "voted": amount(section, codrd, "réel", "voted"),
                              "realised": amount(section, codrd, "réel")})
    chapters = {codrd: sorted((item for item in summary["chapters"] if item["codrd"] == codrd),
                              key=lambda item: -Decimal(item["amount"]))
                for codrd in DIRECTIONS}
    return {
        "sections": sections,
        "voted": voted,
        "chapters": chapters,
        "functions": [item for item in summary["functions"] if item["codrd"] == "dépense"],
        "natures": {codrd: summary["natures"].get(codrd, []) for codrd in DIRECTIONS},
    }


def get_helpers() -> dict[str, Callable[..., Any]]:
    return {
        "budgetod_is_budget_dataset": is_budget_dataset,
        "budgetod_extra": extra,
        "budgetod_budget_documents": budget_documents,
        "budgetod_datagouv_url": datagouv_url,
        "budgetod_format_amount": format_amount,
        "budgetod_format_rate": format_rate,
        "budgetod_stage_label": stage_label,
        "budgetod_natdec_label": natdec_label,
        "budgetod_section_label": section_label,
        "budgetod_direction_label": direction_label,
        "budgetod_measure_label": measure_label,
        "budgetod_budget_tables": budget_tables,
    }

