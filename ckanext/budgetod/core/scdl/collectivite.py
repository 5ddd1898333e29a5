"""A collectivité's budget across its exercices, computed from its stored documents (no CKAN here).

The input is every published document of one budget (a SIRET, plus the annex code for a budget
annexe): its SCDL CSV and the facts read from its TOTEM document (``describe_document``). The
output (``collectivite_summary``) is a JSON-ready dict, amounts as decimal strings:

- ``exercices``: one entry per year, with the year's figures taken from
  - the compte administratif (CA, or CFU) when the year has one: realised amounts (BGT_MTREAL);
  - else the budget voted for the year when its budget primitif is published: the sum of the
    amounts voted (BGT_MTPREV) by the BP, the budgets supplémentaires and every décision
    modificative (a DM's BGT_MTPREV is what that decision changes, BGT_MTBUDGPREC what was voted
    before it);
  - else no figures (``measure`` null): a DM alone gives changes, not a budget.
  Figures are ``totals`` by section × sens × real/ordre, ``chapters`` by section × sens × chapter
  (BGT_CONTNAT), ``functions`` by sens × function of real operations (BGT_FONCTION, when voted by
  function).
- ``execution`` of a year with a CA: realised against voted, per total, chapter and function,
  with the gap (realised − voted) and the rate (realised / voted, 4 decimals, null when nothing
  was voted). Voted is BP + BS + DMs when the year's BP is published (``voted_source``
  ``budget``), else the credits the CA itself says were opened (BGT_CREDOUV, ``voted_source``
  ``credits_ouverts``: they also include the previous year's carried-over credits), which the CA
  gives per chapter only: functions are then left out.
- ``population`` (``PopTot`` of the document the figures come from, in its
  ``InformationsGenerales``), ``per_inhabitant`` real totals by section × sens divided by it
  (2 decimals), and the document's own ``ratios`` (the legal ratios R1–R11, ``Val…``) beside
  their national average (``MoyNat…``) when the document gives one (a zero average is a
  placeholder some producers write, read as absent).
- ``breaks``: where the norme changes from one year with figures to the next (M14, M52, M71 →
  M57). The later year has ``chapters_comparable`` false (true on every other year with figures),
  and each of its ``chapters`` rows a ``comparable`` flag: whether that chapter's figures compare
  with the previous year's, by the crosswalk of the two years' plans de comptes
  (``nomenclature.comparable_chapters``: the same code in the same section and of the same sens in
  both plans; 011, 012, 65, 66 … from M14 to M57, not M57's functional chapters). The break gives
  the ``plans`` compared (``from``, ``to``: ``nomenclature``, ``requested_year``, ``used_year``, the
  nearest year with a published plan, and ``message_fr``/``message_en``, null when the plan was
  read) and the chapter codes of the two years, split into ``comparable_chapters`` and
  ``not_comparable_chapters``. A plan that cannot be read (not published, unreachable mirror)
  makes every chapter of the break not comparable, and says why in its message; such a summary
  is not cached, so that the plan is tried again.
- ``skipped``: the documents whose CSV broke past its header (``document``, ``message_fr``,
  ``message_en``): left out of every figure, the others' figures kept.

``peer_comparison`` adds to each year the same per-inhabitant figures among the budgets of the
same nomenclature family (the norme: M14, M57, M52, M71, M4 for M41–M49) and the same population
band (the INSEE strata: under 500, 500–1 999, 2 000–3 499, 3 500–4 999, 5 000–9 999,
10 000–19 999, 20 000–49 999, 50 000–99 999, 100 000 and more) with figures of the same measure
that year: their median (the mean of the two middle values for an even count, 2 decimals) and
range, over the peers' own rounded per-inhabitant figures.

Amounts are read by ``amounts.read_amount``: a cell that is not a plausible amount (not a number,
10^16 or more: a forged 35-digit figure, "9E+999998") is left out and counted in
``unreadable_amounts``, never raised. Sums are exact (Decimal, ``amounts.EXACT``); quotients (per
inhabitant, rates, medians) are rounded by ``amounts.quotient``, which those bounds keep from failing.
"""
from __future__ import annotations

import csv
import decimal
import operator
import os
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from lxml import etree

from ckanext.budgetod.core.contract import (
    ACCOUNT_NATDECS,
    COLUMN_CODRD,
    COLUMN_CONTNAT,
    COLUMN_CONTNAT_LABEL,
    COLUMN_FONCTION,
    COLUMN_FONCTION_LABEL,
    COLUMN_OPBUDG,
    COLUMN_SECTION,
    MEASURE_COLUMNS,
    MEASURE_OPENED_CREDITS,
    MEASURE_REALISED,
    MEASURE_VOTED,
    NATDEC_BUDGET_PRIMITIF,
    VOTED_NATDECS,
)
from ckanext.budgetod.core.errors import BudgetodError, DocumentError
from ckanext.budgetod.core.messages import Message
from ckanext.budgetod.core.scdl import amounts
from ckanext.budgetod.core.scdl.summary import NotScdlBudget, cached_json, has_scdl_header
from ckanext.budgetod.core.scdl.summary import read_header as read_csv_header
from ckanext.budgetod.core.settings import Settings
from ckanext.budgetod.core.totem.nomenclature import PlanLookup, comparable_chapters, find_plan
from ckanext.budgetod.core.totem.reader import (
    DEFAULT_MAX_BYTES,
    MAX_VALUE_LENGTH,
    SAFE_PARSER_OPTIONS,
    TOTEM_NAMESPACE,
    read_header,
    shown,
)

# Bumped whenever the shape or the rules change: cached summaries of an older version are rebuilt.
COLLECTIVITE_SUMMARY_VERSION = 3
# Lower bounds of the population bands (INSEE strata of communes).
POPULATION_BANDS = (0, 500, 2_000, 3_500, 5_000, 10_000, 20_000, 50_000, 100_000)

# A summary and its parts, as JSON; a figure's key (section, sens, operation or code…).
Json = dict[str, Any]
Key = tuple[str, ...]


VOTED_FROM_BUDGET = "budget"
VOTED_FROM_CREDITS_OUVERTS = "credits_ouverts"

REAL = "réel"
POPULATION_CODE = "PopTot"
# The legal ratios (CGCT R.2313-1) as TOTEM codes them: the document's value is Val{code}, the
# national average of its stratum MoyNat{code}. Per inhabitant (€) or a percentage.
RATIO_CODES = {
    "DepRFonc": "per_inhabitant", "ProdImpo": "per_inhabitant", "RecRFonc": "per_inhabitant",
    "DepEq": "per_inhabitant", "EncDettePop": "per_inhabitant", "DGFPop": "per_inhabitant",
    "DepPers": "percent", "CoefMobPotFisc": "percent", "DepFoncRemDette": "percent",
    "DepEqB": "percent", "EncDetteRecFonc": "percent",
}

_INFORMATIONS = f"{{{TOTEM_NAMESPACE}}}InformationsGenerales"
_INFORMATION = f"{{{TOTEM_NAMESPACE}}}Information"
_FIRST_LINE = f"{{{TOTEM_NAMESPACE}}}LigneBudget"
# A CFU's accounting part precedes the budget document: read past, and freed as it goes.
_ACCOUNTING_DOCUMENT = "{*}DocumentComptable"
# Producers write figures the French way: "3 446", "0,00", "55.73 %".
_SPACES = re.compile(r"[\s\u00a0\u202f]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
# The columns of the measures a summary reads: realised, voted, opened credits.
_AMOUNT_COLUMNS = tuple(MEASURE_COLUMNS.values())
_READ_COLUMNS = (COLUMN_SECTION, COLUMN_CODRD, COLUMN_OPBUDG, COLUMN_CONTNAT, COLUMN_FONCTION, COLUMN_CONTNAT_LABEL,
                 COLUMN_FONCTION_LABEL) + _AMOUNT_COLUMNS


# ---------------------------------------------------------------- documents

@dataclass(frozen=True)
class Ratio:
    code: str
    value: Decimal
    national_average: Decimal | None

    def to_dict(self) -> Json:
        return {"code": self.code, "unit": RATIO_CODES[self.code], "value": amounts.text(self.value),
                "national_average": None if self.national_average is None else amounts.text(self.national_average)}


@dataclass(frozen=True)
class BudgetDocument:
    """One published document of a budget: what its header says, its CSV, its general information."""

    key: str
    exercice: int
    natdec: str
    nomenclature: str
    norme: str
    csv_path: str
    declinaison: str = ""
    population: int | None = None
    ratios: tuple[Ratio, ...] = ()
    decision: str = ""


def describe_document(xml_path: str | os.PathLike[str], csv_path: str | os.PathLike[str], *,
                      max_bytes: int = DEFAULT_MAX_BYTES) -> BudgetDocument:
    """The facts of one TOTEM document and its converted CSV. Raises DocumentError."""
    header = read_header(xml_path, max_bytes=max_bytes)  # size, prolog and header checks
    population, ratios = read_general_information(xml_path, header.encoding)
    return BudgetDocument(
        key=header.document_key, exercice=header.exercice, natdec=header.natdec,
        nomenclature=header.nomenclature, norme=header.norme, csv_path=os.fspath(csv_path),
        declinaison=header.declinaison, population=population, ratios=ratios,
        decision=header.decision_number or header.decision_date)


def read_general_information(xml_path: str | os.PathLike[str], encoding: str) -> tuple[int | None, tuple[Ratio, ...]]:
    """The population (``PopTot``, None when absent or zero) and the legal ratios of a document
    whose header ``read_header`` already accepted; reads no further than the first budget line."""
    values: dict[str, str] = {}
    source = os.fspath(xml_path)
    try:
        with open(source, "rb") as stream:
            events = etree.iterparse(stream, events=("end",), encoding=encoding, collect_ids=False,
                                     tag=(_INFORMATIONS, _FIRST_LINE, _ACCOUNTING_DOCUMENT), **SAFE_PARSER_OPTIONS)
            for _event, element in events:
                if element.tag == _INFORMATIONS:
                    for information in element.iterchildren(_INFORMATION):
                        code, value = information.get("Code") or "", information.get("V") or ""
                        if len(value) <= MAX_VALUE_LENGTH:
                            values.setdefault(code, value)
                    break
                if element.tag == _FIRST_LINE:
                    break  # the general information precedes the lines: there is none
                element.clear()
    except etree.XMLSyntaxError as error:
        line = error.position[0] if error.position else 0
        raise DocumentError.from_message(source, "malformed_xml", line=line,
                                         detail=shown(error.msg or "", 200)) from None
    except OSError as error:
        raise DocumentError.from_message(source, "file_unreadable", reason=error.strerror or str(error)) from None
    figure = _number(values.get(POPULATION_CODE, ""))
    population = int(figure) if figure is not None and figure >= 1 else None
    ratios = []
    for code in RATIO_CODES:
        value = _number(values.get(f"Val{code}", ""))
        if value is None:
            continue
        average = _number(values.get(f"MoyNat{code}", ""))
        ratios.append(Ratio(code, value, average or None))
    return population, tuple(ratios)


def _number(text: str) -> Decimal | None:
    """A figure as producers write it ("3 446", "0,00", "55.73 %"), or None."""
    cleaned = _SPACES.sub("", text).removesuffix("%").replace(",", ".")
    if not _NUMBER.fullmatch(cleaned):
        return None
    return Decimal(cleaned)


# ---------------------------------------------------------------- one CSV

@dataclass
class _Sums:
    """The sums of one CSV by the column of each measure (BGT_MTREAL, BGT_MTPREV, BGT_CREDOUV)."""

    totals: dict[Key, dict[str, Decimal]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(Decimal)))
    chapters: dict[Key, dict[str, Decimal]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(Decimal)))
    functions: dict[Key, dict[str, Decimal]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(Decimal)))
    labels: dict[Key, str] = field(default_factory=dict)
    unreadable: int = 0


def _read_sums(path: str) -> _Sums:
    sums = _Sums()
    # Amounts by kind of line (section, sens, operation, chapter, function), then added to the totals,
    # chapters and functions once per kind: a region's summary spent most of its time per row.
    lines: dict[Key, list[Decimal | None]] = {}
    try:
        with open(path, encoding="utf-8-sig", newline="") as stream:
            header = read_csv_header(stream.readline())
            if header is None:
                raise NotScdlBudget(path, Message("summary_header_not_scdl_budget_schema"))
            columns, delimiter = header
            width, pick = len(columns), operator.itemgetter(*(columns.index(name) for name in _READ_COLUMNS))
            for row in csv.reader(stream, delimiter=delimiter):
                if len(row) < width:
                    row += [""] * (width - len(row))
                _add_row(sums, lines, [cell.strip() for cell in pick(row)])
    except UnicodeDecodeError:
        raise NotScdlBudget(path, Message("summary_not_utf_8_encoded")) from None
    except csv.Error as error:
        raise NotScdlBudget(path, Message("summary_unreadable_csv", error=error)) from None
    for (section, codrd, opbudg, chapter, function), line_amounts in lines.items():
        with_function = opbudg == REAL and function
        for column, amount in zip(_AMOUNT_COLUMNS, line_amounts, strict=True):
            if amount is None:
                continue
            sums.totals[(section, codrd, opbudg)][column] += amount
            sums.chapters[(section, codrd, chapter)][column] += amount
            if with_function:
                sums.functions[(codrd, function)][column] += amount
    return sums


def _add_row(sums: _Sums, lines: dict[Key, list[Decimal | None]], cells: list[str]) -> None:
    """One row's ``_READ_COLUMNS`` (stripped) added to the amounts of its kind of line; None stands
    for a column without any amount, whose key a summary leaves out."""
    section, codrd, opbudg, chapter, function, chapter_label, function_label = cells[:7]
    # The first label met wins.
    if chapter_label:
        sums.labels.setdefault(("chapter", section, codrd, chapter), chapter_label)
    if function_label and function and opbudg == REAL:
        sums.labels.setdefault(("function", codrd, function), function_label)
    line_amounts = None
    for index, cell in enumerate(cells[7:]):
        if not cell:
            continue
        try:
            amount = amounts.read_amount(cell)
        except amounts.UnreadableAmount:
            sums.unreadable += 1
            continue
        if amount is None:  # blank once stripped
            continue
        if line_amounts is None:
            line_amounts = lines.setdefault((section, codrd, opbudg, chapter, function),
                                          [None] * len(_AMOUNT_COLUMNS))
        previous = line_amounts[index]
        line_amounts[index] = amount if previous is None else previous + amount


# ---------------------------------------------------------------- a year

def _figures(sums_list: list[_Sums], measure: str) -> dict[str, dict[Key, Decimal]]:
    """Per kind (totals, chapters, functions): key → amount of ``measure`` summed over the CSVs."""
    column = MEASURE_COLUMNS[measure]
    figures: dict[str, dict[Key, Decimal]] = {"totals": defaultdict(Decimal), "chapters": defaultdict(Decimal),
                                "functions": defaultdict(Decimal)}
    for sums in sums_list:
        for kind in figures:
            for key, by_column in getattr(sums, kind).items():
                figures[kind][key] += by_column.get(column, Decimal(0))
    return figures


def _rows(kind: str, key: Key, labels: dict[Key, str]) -> Json:
    if kind == "totals":
        return dict(zip(("section", "codrd", "opbudg"), key, strict=True))
    if kind == "chapters":
        return {**dict(zip(("section", "codrd", "code"), key, strict=True)),
                "label": labels.get(("chapter",) + key, "")}
    return {**dict(zip(("codrd", "code"), key, strict=True)), "label": labels.get(("function",) + key, "")}


def _labels(sums_list: list[_Sums]) -> dict[Key, str]:
    labels: dict[Key, str] = {}
    for sums in reversed(sums_list):  # the figures' own document (first) wins
        labels.update({key: label for key, label in sums.labels.items() if label})
    return labels


def _year(exercice: int, documents: list[BudgetDocument],
          sums_of: Callable[[BudgetDocument], _Sums]) -> tuple[Json, BudgetDocument]:
    """The year's summary and the document whose nomenclature its figures follow."""
    accounts = sorted((d for d in documents if d.natdec in ACCOUNT_NATDECS), key=lambda d: d.key)
    # The latest CA when a year has two (a CA and the CFU that replaced it): the last by key.
    account = accounts[-1] if accounts else None
    primitive = [d for d in documents if d.natdec == NATDEC_BUDGET_PRIMITIF]
    voted_documents = sorted((d for d in documents if d.natdec in VOTED_NATDECS),
                             key=lambda d: (VOTED_NATDECS.index(d.natdec), d.decision.zfill(8), d.key))
    voted_sums = [sums_of(d) for d in voted_documents] if primitive else []
    year: Json = {"exercice": exercice, "documents": sorted(d.key for d in documents)}
    if account is not None:
        source, measure, figure_sums = account, MEASURE_REALISED, [sums_of(account)]
    elif primitive:
        source, measure, figure_sums = primitive[-1], MEASURE_VOTED, voted_sums
    else:
        year.update({"measure": None, "nomenclature": documents[-1].nomenclature, "norme": documents[-1].norme})
        return year, documents[-1]
    labels = _labels(figure_sums + voted_sums)
    figures = _figures(figure_sums, measure)
    year.update({
        "measure": measure,
        "figures_documents": [account.key] if account is not None else [d.key for d in voted_documents],
        "nomenclature": source.nomenclature,
        "norme": source.norme,
        "unreadable_amounts": sum(sums.unreadable for sums in figure_sums),
    })
    for kind in ("totals", "chapters", "functions"):
        year[kind] = [{**_rows(kind, key, labels), "amount": amounts.text(amount)}
                      for key, amount in sorted(figures[kind].items())]
    population_document = account if account is not None and account.population else next(
        (d for d in reversed(voted_documents) if d.population), None)
    if population_document is None and source.population:
        population_document = source
    year["population"] = population_document.population if population_document else None
    year["ratios"] = [ratio.to_dict() for ratio in (population_document.ratios if population_document else ())]
    year["per_inhabitant"] = [] if not year["population"] else [
        {"section": section, "codrd": codrd,
         "amount": amounts.text(amounts.quotient(amount, year["population"], amounts.CENTS))}
        for (section, codrd), amount in sorted(_real_totals(figures["totals"]).items())]
    year["execution"] = None if account is None else _execution(
        figures, voted_sums, _figures([sums_of(account)], MEASURE_OPENED_CREDITS), labels,
        [d.key for d in voted_documents] if voted_sums else [account.key])
    return year, source


def _real_totals(totals: dict[Key, Decimal]) -> dict[Key, Decimal]:
    real: dict[Key, Decimal] = defaultdict(Decimal)
    for (section, codrd, opbudg), amount in totals.items():
        if opbudg == REAL:
            real[(section, codrd)] += amount
    return real


def _execution(realised: dict[str, dict[Key, Decimal]], voted_sums: list[_Sums],
               credits_ouverts: dict[str, dict[Key, Decimal]], labels: dict[Key, str],
               voted_documents: list[str]) -> Json:
    from_budget = bool(voted_sums)
    voted = _figures(voted_sums, MEASURE_VOTED) if from_budget else credits_ouverts
    execution: Json = {"voted_source": VOTED_FROM_BUDGET if from_budget else VOTED_FROM_CREDITS_OUVERTS,
                       "voted_documents": voted_documents}
    # The CA gives opened credits per chapter, not per function.
    for kind in ("totals", "chapters", "functions") if from_budget else ("totals", "chapters"):
        rows = []
        for key in sorted(set(realised[kind]) | set(voted[kind])):
            done, planned = realised[kind].get(key, Decimal(0)), voted[kind].get(key, Decimal(0))
            rows.append({**_rows(kind, key, labels), "voted": amounts.text(planned), "realised": amounts.text(done),
                         "gap": amounts.text(done - planned), "rate": _rate(done, planned)})
        execution[kind] = rows
    if not from_budget:
        execution["functions"] = []
    return execution


def _rate(realised: Decimal, voted: Decimal) -> str | None:
    if not voted:
        return None
    return amounts.text(amounts.quotient(realised, voted, amounts.RATE_PLACES))


# ---------------------------------------------------------------- the budget

def collectivite_summary(documents: list[BudgetDocument], settings: Settings) -> Json:
    """The summary of one budget's documents (see the module docstring), with ``skipped``: the
    documents whose CSV broke past its header, each left out of the figures and named with why.

    ``settings`` say where the plans de comptes of the crosswalk come from, as for a conversion."""
    cache: dict[str, _Sums] = {}

    def sums_of(document: BudgetDocument) -> _Sums:
        if document.csv_path not in cache:
            cache[document.csv_path] = _read_sums(document.csv_path)
        return cache[document.csv_path]

    readable, skipped = list(documents), list[Json]()
    with decimal.localcontext(amounts.EXACT):
        # A CSV is read in full only here, when a figure needs it: one that breaks is left out and
        # the others' sums, kept in ``cache``, are not read again.
        while True:
            try:
                return {**_collectivite_summary(readable, sums_of, settings), "skipped": skipped}
            except NotScdlBudget as error:
                broken = next((document for document in readable if document.csv_path == error.source), None)
                if broken is None or not has_scdl_header(broken.csv_path):
                    raise  # no SCDL table at all: the caller gave a wrong file
                readable.remove(broken)
                skipped.append({"document": broken.key, "message_fr": error.localized_cause("fr"),
                                "message_en": error.localized_cause("en")})


def _collectivite_summary(documents: list[BudgetDocument], sums_of: Callable[[BudgetDocument], _Sums],
                          settings: Settings) -> Json:
    by_year: dict[int, list[BudgetDocument]] = defaultdict(list)
    for document in documents:
        by_year[document.exercice].append(document)
    years, sources = [], {}
    for exercice in sorted(by_year):
        year, sources[exercice] = _year(exercice, by_year[exercice], sums_of)
        years.append(year)
    breaks = []
    previous: Json | None = None
    for year in years:
        if year["measure"] is None:
            continue
        comparable = previous is None or previous["norme"] == year["norme"]
        year["chapters_comparable"] = comparable
        if previous is not None and not comparable:
            breaks.append(_break(previous, year, sources[previous["exercice"]], sources[year["exercice"]], settings))
        previous = year
    return {"version": COLLECTIVITE_SUMMARY_VERSION, "exercices": years, "breaks": breaks}


def _break(previous: Json, year: Json, before: BudgetDocument, after: BudgetDocument, settings: Settings) -> Json:
    """The break from ``previous`` to ``year``; flags ``year``'s chapter rows (module docstring)."""
    before_lookup, before_described = _plan(before, previous["exercice"], settings)
    after_lookup, after_described = _plan(after, year["exercice"], settings)
    comparable = (comparable_chapters(before_lookup.plan, after_lookup.plan)
                  if before_lookup.plan is not None and after_lookup.plan is not None else frozenset())
    for row in year["chapters"]:
        row["comparable"] = row["code"] in comparable
    codes = sorted({row["code"] for row in previous["chapters"] + year["chapters"] if row["code"]})
    return {"exercice": year["exercice"], "from": previous["nomenclature"], "to": year["nomenclature"],
            "plans": {"from": before_described, "to": after_described},
            "comparable_chapters": [code for code in codes if code in comparable],
            "not_comparable_chapters": [code for code in codes if code not in comparable]}


def _plan(document: BudgetDocument, exercice: int, settings: Settings) -> tuple[PlanLookup, Json]:
    """The plan of a year's figures and how the summary describes it (never its location: a
    path on the server)."""
    declinaison = document.declinaison or document.nomenclature.partition("-")[2]
    try:
        lookup = find_plan(document.norme, declinaison, exercice, settings)
        message = None if lookup.plan is not None else Message("collectivite_no_plan_de_comptes_published",
            nomenclature=document.nomenclature, exercice=exercice)
    except BudgetodError as error:
        lookup = PlanLookup(document.nomenclature, exercice, None, None)
        message = error.cause
    return lookup, {"nomenclature": document.nomenclature, "requested_year": exercice,
                    "used_year": lookup.used_year, "message_fr": message and message.render("fr"),
                    "message_en": message and message.render("en")}


def plans_complete(summary: Json) -> bool:
    """Whether every plan de comptes a summary's breaks compare was read."""
    return all(side["used_year"] is not None for item in summary["breaks"] for side in item["plans"].values())


def cached_summary(cache_dir: str | os.PathLike[str], key: str, identity: list[Any],
                   build: Callable[[], Json]) -> Json:
    """``build()`` (a budget's summary), kept in ``cache_dir/{key}.json`` until ``identity`` (what
    identifies the files' contents: ids and checksums, sizes and times) changes; not kept when a
    plan de comptes of its breaks could not be read."""
    return cached_json(cache_dir, key, {"version": COLLECTIVITE_SUMMARY_VERSION, "files": identity}, build,
                       keep=plans_complete)


# ---------------------------------------------------------------- peers

def population_band(population: int) -> Json:
    """The band of a population: ``min`` and ``max`` (null for the last, open band)."""
    lower = max(bound for bound in POPULATION_BANDS if bound <= population)
    upper = next((bound - 1 for bound in POPULATION_BANDS if bound > population), None)
    return {"min": lower, "max": upper}


def nomenclature_family(norme: str) -> str:
    return norme  # the reader gives M4 for every M4x déclinaison


def peer_card(summary: Json) -> Json:
    """What ``peer_comparison`` reads of another budget's summary: a small part of it, which a
    portal can keep for every budget."""
    return {"exercices": [{key: year.get(key) for key in ("exercice", "measure", "population", "norme",
                                                           "per_inhabitant")}
                          for year in summary["exercices"]]}


def peer_comparison(own: Json, others: list[Json]) -> Json:
    """``own`` (a ``collectivite_summary``) with ``peers`` added to each year with figures and a
    population; ``others`` are the other budgets' summaries, or their ``peer_card`` (see the module
    docstring)."""
    result = {**own, "exercices": []}
    with decimal.localcontext(amounts.EXACT):
        for year in own["exercices"]:
            year = dict(year)
            if year["measure"] is not None and year.get("population"):
                year["peers"] = _peers_of(year, others)
            else:
                year["peers"] = None
            result["exercices"].append(year)
    return result


def _peers_of(year: Json, others: list[Json]) -> Json:
    family, band = nomenclature_family(year["norme"]), population_band(year["population"])
    values: dict[Key, list[Decimal]] = defaultdict(list)
    count = unreadable = 0
    for other in others:
        match = next((candidate for candidate in other["exercices"] if candidate["exercice"] == year["exercice"]
                      and candidate["measure"] == year["measure"] and candidate.get("population")
                      and nomenclature_family(candidate["norme"]) == family
                      and population_band(candidate["population"]) == band), None)
        if match is None:
            continue
        try:  # a card of an older summary, or of figures beyond the bounds: that peer is left out
            figures = [((row["section"], row["codrd"]), amounts.read_amount(row["amount"]))
                       for row in match["per_inhabitant"]]
        except (amounts.UnreadableAmount, KeyError, TypeError, AttributeError):
            unreadable += 1
            continue
        count += 1
        for pair, amount in figures:
            if amount is not None:
                values[pair].append(amount)
    return {"family": family, "band": band, "measure": year["measure"], "count": count, "unreadable": unreadable,
            "per_inhabitant": [{"section": section, "codrd": codrd, "count": len(pair_values),
                                "median": amounts.text(_median(pair_values)), "min": amounts.text(min(pair_values)),
                                "max": amounts.text(max(pair_values))}
                               for (section, codrd), pair_values in sorted(values.items())]}


def _median(values: list[Decimal]) -> Decimal:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return amounts.quotient(ordered[middle - 1] + ordered[middle], 2, amounts.CENTS)
