"""TOTEM → SCDL budget conversion (schema 0.8.3).

One CSV row per non-calculated ``LigneBudget``:

- BGT_CONTNAT is the chapter the credits are voted at: the line's ContNat when it
  is a chapter, its longest chapter prefix when it is an account or a sub-chapter
  (2313 → 23, 45411 → 4541), else the chapter the plan gives the account (Nature)
  for the line's kind of operation: DR/RR for real operations, DOES/ROES for
  ordre operations between sections (TypOpBudg 2), DOIS/ROIS within a section
  (TypOpBudg 1). BGT_CONTNAT_LABEL is that chapter's label.
- BGT_NATURE is the account, labelled from the plan (nearest parent account when
  the account is missing, with a warning).
- BGT_FONCTION is the plan's function: a Fonction prefixed with the digits of its
  functional chapter (M57 functional presentation: 93024 under 930) is function 024;
  a Fonction that is a non-ventilated functional chapter (922) keeps that chapter's label.
- A code missing from the plan used is looked for in the other years' plans of the
  nomenclature, nearest first, before any parent code (with a warning naming the year).
- BGT_SECTION: the line's ``CaracSup Code="Section"``, else the chapter's
  section, else the account's class (balance-sheet classes 1-5 and 001/020/021/024
  are investissement, classes 6-7 and 002/022/023 fonctionnement).
- Amounts are copied as written (decimal strings, never floats).

The CSV is UTF-8 without BOM, comma-separated, LF line ends, header in schema
order (``contract.SCDL_COLUMNS``); the same document and plan always give the same bytes.
"""
from __future__ import annotations

import csv
import io
import itertools
import os
import tempfile
from dataclasses import dataclass, field
from typing import BinaryIO

from ckanext.budgetod.core import contract, messages
from ckanext.budgetod.core.settings import Settings
from ckanext.budgetod.core.totem.nomenclature import (
    Account,
    Chapter,
    OtherYears,
    PlanDeComptes,
    PlanLookup,
    find_plan,
    plan_of_year,
)
from ckanext.budgetod.core.totem.reader import (
    BudgetLine,
    DocumentHeader,
    DocumentInfo,
    TotemReader,
    shown,
)

SECTIONS = {"I": "investissement", "F": "fonctionnement"}
OPBUDG = {"0": "réel", "1": "ordre"}
CODRD = {"R": "recette", "D": "dépense"}
ARTSPE = {"true": "spécialisé", "1": "spécialisé", "false": "non spécialisé", "0": "non spécialisé"}

# Plan columns giving an account's chapter, by (CodRD, OpBudg, TypOpBudg). An ordre
# operation without TypOpBudg tries between-sections first, the most common case.
_CHAPTER_COLUMNS = {
    ("D", "0"): ("DR",), ("R", "0"): ("RR",),
    ("D", "1", "1"): ("DOIS",), ("R", "1", "1"): ("ROIS",),
    ("D", "1", "2"): ("DOES",), ("R", "1", "2"): ("ROES",),
    ("D", "1", ""): ("DOES", "DOIS"), ("R", "1", ""): ("ROES", "ROIS"),
}
# Accounts of class 0 are budget-only codes, each in a fixed section.
_CLASS_ZERO_SECTIONS = {"001": "I", "020": "I", "021": "I", "024": "I", "002": "F", "022": "F", "023": "F"}


@dataclass
class ConversionWarning:
    """A condition met while converting, counted over the lines it affects."""

    message_id: str
    params: dict[str, str]
    count: int = 1

    @property
    def code(self) -> str:
        return self.message_id.removeprefix("warn_")

    def message(self, lang: str | None = None) -> str:
        # Codes come from the document: shown on one line and cut (``params`` keeps them whole).
        shown_params = {name: shown(value) for name, value in self.params.items()}
        return messages.text(self.message_id, lang, count=self.count, **shown_params)


# A warning's identity: (message id, its parameters as (name, value) pairs).
_WarningKey = tuple[str, tuple[tuple[str, str], ...]]
# A code combination resolved: (chapter code, chapter label, nature label, section, warnings).
_Classified = tuple[str, str, str, str, tuple[_WarningKey, ...]]
# A function described: (BGT_FONCTION, its label, a warning or None).
_Described = tuple[str, str, _WarningKey | None]


class _Warnings:
    def __init__(self) -> None:
        self._by_key: dict[_WarningKey, ConversionWarning] = {}

    @staticmethod
    def key(message_id: str, **params: str) -> _WarningKey:
        return (message_id, tuple(params.items()))

    def add(self, key: _WarningKey) -> None:
        warning = self._by_key.get(key)
        if warning is None:
            self._by_key[key] = ConversionWarning(key[0], dict(key[1]))
        else:
            warning.count += 1

    def as_list(self) -> list[ConversionWarning]:
        return list(self._by_key.values())  # first-occurrence order: deterministic


@dataclass
class ConversionResult:
    """What ``convert_document`` did: the material of the report (``core/pipeline.py``)."""

    source: str
    output: str | None
    info: DocumentInfo
    rows: int
    plan: PlanLookup
    warnings: list[ConversionWarning] = field(default_factory=list)


class RowBuilder:
    """Turns lines into SCDL rows; remembers each distinct code combination it resolved."""

    def __init__(self, header: DocumentHeader, lookup: PlanLookup, other_years: OtherYears, warnings: _Warnings):
        self._plan = lookup.plan
        self._plan_year = str(lookup.used_year)
        self._other_years = other_years
        self._warnings = warnings
        self._document_cells = (header.natdec_label, str(header.exercice), header.siret, header.budget_name)
        self._classified: dict[tuple[str, str, str, str, str, str], _Classified] = {}
        self._functions: dict[str, _Described] = {}

    def row(self, line: BudgetLine) -> list[str]:
        key = (line.nature, line.contnat, line.codrd, line.opbudg or "0", line.typopbudg, line.section)
        classified = self._classified.get(key)
        if classified is None:
            classified = self._classified[key] = self._classify(*key)
        contnat, contnat_label, nature_label, section, warnings = classified
        for warning in warnings:
            self._warnings.add(warning)
        fonction, fonction_label = "", ""
        if line.fonction:
            described = self._functions.get(line.fonction)
            if described is None:
                described = self._functions[line.fonction] = self._describe_function(line.fonction)
            fonction, fonction_label, fonction_warning = described
            if fonction_warning is not None:
                self._warnings.add(fonction_warning)
        return [
            *self._document_cells,
            contnat, contnat_label, line.nature, nature_label,
            fonction, fonction_label, line.operation, section,
            OPBUDG[line.opbudg or "0"], CODRD[line.codrd],
            *[amount or "" for amount in line.amounts],
            ARTSPE.get(line.artspe, ""),
        ]

    def _classify(self, nature: str, contnat: str, codrd: str, opbudg: str, typopbudg: str,
                  section_code: str) -> _Classified:
        warnings: list[_WarningKey] = []
        plan = self._plan
        chapter = None
        nature_label = ""
        if plan is not None:
            if contnat:
                chapter = plan.chapter(contnat)
                if chapter is None and contnat not in plan.accounts:
                    found = self._other_years.first(lambda other: other.chapter(contnat))
                    if found is not None:
                        chapter = found[1]
                        warnings.append(self._other_year_warning("warn_chapter_from_other_year", found[0],
                                                                 contnat=contnat))
                if chapter is None:
                    chapter = plan.chapter_by_prefix(contnat)
                    if chapter is not None:
                        warnings.append(_Warnings.key("warn_chapter_from_prefix", contnat=contnat,
                                                      chapter=chapter.code))
            account = plan.accounts.get(nature)
            found_account = None
            if account is None and nature:
                found_account = self._other_years.first(lambda other: other.accounts.get(nature))
            if chapter is None:
                chapter = self._chapter_of_account(plan, nature, codrd, opbudg, typopbudg,
                                                   found_account and found_account[1])
            if chapter is None:
                warnings.append(_Warnings.key("warn_chapter_unknown", nature=nature, contnat=contnat))
            if account is not None:
                nature_label = account.label
            elif found_account is not None:
                nature_label = found_account[1].label
                warnings.append(self._other_year_warning("warn_nature_from_other_year", found_account[0],
                                                         nature=nature))
            else:
                parent = plan.parent_account(nature)
                if parent is not None:
                    nature_label = parent.label
                    warnings.append(_Warnings.key("warn_nature_label_from_parent", nature=nature,
                                                  parent=parent.code))
                else:
                    warnings.append(_Warnings.key("warn_nature_unknown", nature=nature))
        section = (SECTIONS.get(section_code)
                   or (chapter is not None and SECTIONS.get(chapter.section))
                   or _section_of_account_class(nature))
        if not section:
            warnings.append(_Warnings.key("warn_section_unknown", nature=nature))
        if chapter is None:
            return contnat, "", nature_label, section, tuple(warnings)
        return chapter.code, chapter.label, nature_label, section, tuple(warnings)

    def _other_year_warning(self, message_id: str, used_year: int, **codes: str) -> _WarningKey:
        return _Warnings.key(message_id, **codes, plan_year=self._plan_year, used_year=str(used_year))

    def _chapter_of_account(self, plan: PlanDeComptes, nature: str, codrd: str, opbudg: str, typopbudg: str,
                            other_year_account: Account | None = None) -> Chapter | None:
        """The chapter the plan assigns to the account (the account of another year's plan when
        this one lacks it), or to its nearest described parent."""
        columns = _CHAPTER_COLUMNS[(codrd, opbudg) if opbudg == "0" else (codrd, opbudg, typopbudg)]
        accounts = plan.accounts_by_prefix(nature)
        if other_year_account is not None:
            accounts = itertools.chain((other_year_account,), accounts)
        for account in accounts:
            for column in columns:
                chapter = plan.chapter(account.chapters.get(column, ""))
                if chapter is not None:
                    return chapter
        # Accounts missing from the plan: class 6/7 chapters are often the account's prefix (6518 → 65).
        return plan.chapter_by_prefix(nature)

    def _describe_function(self, fonction: str) -> _Described:
        """(BGT_FONCTION, its label, a warning or None) of a line's Fonction."""
        plan = self._plan
        if plan is None:
            return fonction, "", None
        chapter = plan.function_chapter(fonction)
        if chapter is not None:
            return fonction, chapter.label, None
        code = plan.function_code(fonction)
        label = plan.functions.get(code)
        if label is None and code != fonction and fonction in plan.functional_accounts:
            # Functions some declinaisons define among the functional accounts only (M57_P: 901011).
            label = plan.functional_accounts[fonction].label
        if label is not None:
            return code, label, None
        found = self._other_years.first(lambda other: other.functions.get(code))
        if found is not None:
            return code, found[1], self._other_year_warning("warn_fonction_from_other_year", found[0], fonction=code)
        parent = plan.parent_function(code)
        if parent is not None:
            return code, parent[1], _Warnings.key("warn_fonction_label_from_parent", fonction=code, parent=parent[0])
        return code, "", _Warnings.key("warn_fonction_unknown", fonction=code)


def _section_of_account_class(nature: str) -> str:
    if not nature:
        return ""
    if nature[0] == "0":
        return SECTIONS.get(_CLASS_ZERO_SECTIONS.get(nature[:3], ""), "")
    if nature[0] in "12345":
        return SECTIONS["I"]
    if nature[0] in "67":
        return SECTIONS["F"]
    return ""


def convert_document(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str] | BinaryIO,
    settings: Settings,
) -> ConversionResult:
    """Convert one TOTEM document to an SCDL budget CSV.

    ``output`` is a file path (written atomically: nothing is left behind on
    failure) or a binary stream. ``settings`` give the plans de comptes (directory
    or base URL), the largest document read and the network limits.
    Raises BudgetodError (DocumentError, FetchError, NomenclatureError).
    """
    warnings = _Warnings()
    with TotemReader(source, max_bytes=settings.max_document_size) as reader:
        header = reader.header
        lookup = find_plan(header.norme, header.declinaison, header.exercice, settings)
        if lookup.plan is None:
            warnings.add(_Warnings.key("warn_plan_missing", nomenclature=header.nomenclature,
                                       year=str(header.exercice)))
        elif lookup.year_fallback:
            warnings.add(_Warnings.key("warn_plan_year_fallback", nomenclature=header.nomenclature,
                                       year=str(header.exercice), used_year=str(lookup.used_year)))
        other_years = OtherYears(
            lambda year: plan_of_year(header.norme, header.declinaison, year, settings),
            lookup)
        builder = RowBuilder(header, lookup, other_years, warnings)
        if isinstance(output, (str, os.PathLike)):
            output_path = os.fspath(output)
            rows = _write_atomically(output_path, builder, reader)
        else:
            output_path = None
            rows = _write_csv(output, builder, reader)
        info = DocumentInfo(reader.source, reader.size, header, reader.lines_total, reader.lines_calculated)
    return ConversionResult(reader.source, output_path, info, rows, lookup, warnings.as_list())


def _write_atomically(path: str, builder: RowBuilder, reader: TotemReader) -> int:
    directory = os.path.dirname(os.path.abspath(path))
    handle, partial = tempfile.mkstemp(dir=directory, prefix=".budgetod-", suffix=".csv.part")
    try:
        with os.fdopen(handle, "wb") as stream:
            rows = _write_csv(stream, builder, reader)
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise
    return rows


def _write_csv(stream: BinaryIO, builder: RowBuilder, reader: TotemReader) -> int:
    text = io.TextIOWrapper(stream, encoding="utf-8", newline="", write_through=False)
    try:
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(contract.SCDL_COLUMNS)
        rows = 0
        for line in reader.lines():
            writer.writerow(builder.row(line))
            rows += 1
        text.flush()
    finally:
        text.detach()  # the caller owns the stream
    return rows
