"""What a budget visualisation shows, aggregated from an SCDL budget CSV (no CKAN here).

The amounts of a stage are read from the column of one measure (``contract.MEASURE_COLUMNS``;
the summary's ``measure`` and ``voted_measure`` name those columns): the realised amounts
(BGT_MTREAL) for a compte administratif or a CFU (the SCDL calls both "compte administratif"),
the amounts voted at that stage (BGT_MTPREV) for a budget primitif, a budget supplémentaire or a
décision modificative. A compte administratif also carries what was voted for the year, its
opened credits (BGT_CREDOUV), so that voted and realised can be compared.

Aggregates:

- ``totals``: by section × sens (BGT_CODRD) × real or ordre operation (BGT_OPBUDG);
- ``chapters``: by section × sens × chapter (BGT_CONTNAT), with the chapter's label;
- ``functions``: by sens × function (BGT_FONCTION), real operations only, when the file has
  functions (a budget voted by nature alone has none);
- ``natures``: the largest accounts (BGT_NATURE) of real operations, by sens.

Sums are exact (Decimal) and serialised as plain decimal strings ("1234.50"). A cell that is
not a plausible amount (``amounts.read_amount``: "1E+999999" would be written out as a million
digits) is left out and counted in ``unreadable_amounts``. The CSV is UTF-8 (a BOM is allowed),
delimited by commas as the schema wants, or by semicolons or tabs.

Anyone may ask for a summary, so its cost is bounded whatever the file: codes and labels are
cut at ``MAX_TEXT_CHARS``, each breakdown has at most ``MAX_GROUPS`` entries and the whole
summary at most ``MAX_SUMMARY_BYTES`` of JSON; a file beyond is refused (``UnusableBudget``).
"""
from __future__ import annotations

import csv
import decimal
import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from ckanext.budgetod.core.contract import (
    AMOUNT_COLUMNS,
    COLUMN_ANNEE,
    COLUMN_CODRD,
    COLUMN_CONTNAT,
    COLUMN_CONTNAT_LABEL,
    COLUMN_FONCTION,
    COLUMN_FONCTION_LABEL,
    COLUMN_NATDEC,
    COLUMN_NATURE,
    COLUMN_NATURE_LABEL,
    COLUMN_NOM,
    COLUMN_OPBUDG,
    COLUMN_SECTION,
    COLUMN_SIRET,
    MEASURE_COLUMNS,
    MEASURE_OPENED_CREDITS,
    MEASURE_REALISED,
    MEASURE_VOTED,
    SCDL_COLUMNS,
)
from ckanext.budgetod.core.errors import BudgetodError
from ckanext.budgetod.core.messages import Message
from ckanext.budgetod.core.scdl.amounts import EXACT, UnreadableAmount, read_amount, text

# Bumped whenever the shape or the rules change: cached summaries of an older version are rebuilt.
SUMMARY_VERSION = 2
LARGEST_NATURES = 15

ACCOUNT_STAGE = "compte administratif"
REAL = "réel"
_DELIMITERS = (",", ";", "\t")
_HEADER_PROBE_BYTES = 4096
# Bounds of what a summary takes from a file (see the module docstring). A real budget has
# a few dozen chapters and a few thousand accounts.
MAX_TEXT_CHARS = 200
MAX_GROUPS = 5_000
MAX_SUMMARY_BYTES = 4 * 2**20


class NotScdlBudget(BudgetodError):
    """The file is not an SCDL budget table: its header lacks the schema's columns."""


class UnusableBudget(NotScdlBudget):
    """The file has the SCDL header but a summary of it would exceed the bounds (module docstring)."""


def read_header(first_line: str) -> tuple[list[str], str] | None:
    """The columns and delimiter of an SCDL budget header line, or None when the line is not one."""
    for delimiter in _DELIMITERS:
        columns = [column.strip() for column in next(csv.reader([first_line.strip("\r\n")], delimiter=delimiter), [])]
        if set(SCDL_COLUMNS) <= set(columns):
            return columns, delimiter
    return None


def has_scdl_header(path: str | os.PathLike[str]) -> bool:
    """Whether the file starts with an SCDL budget header (reads only its first bytes)."""
    try:
        with open(path, "rb") as stream:
            probe = stream.read(_HEADER_PROBE_BYTES)
    except OSError:
        return False
    first_line = probe.decode("utf-8-sig", errors="replace").split("\n", 1)[0]
    return read_header(first_line) is not None


def measure_column(natdec: str) -> str:
    """The column a stage's amounts are read from, by its BGT_NATDEC: realised for an account, else voted."""
    return MEASURE_COLUMNS[MEASURE_REALISED if natdec == ACCOUNT_STAGE else MEASURE_VOTED]


def summarise(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The aggregates of one SCDL budget CSV (see the module docstring). Raises NotScdlBudget."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as stream:
            header = read_header(stream.readline())
            if header is None:
                raise NotScdlBudget(str(path), Message("summary_header_not_scdl_budget_schema"))
            columns, delimiter = header
            with decimal.localcontext(EXACT):
                result = _aggregate(str(path), csv.DictReader(stream, fieldnames=columns, delimiter=delimiter))
    except UnicodeDecodeError:
        raise NotScdlBudget(str(path), Message("summary_not_utf_8_encoded")) from None
    except csv.Error as error:
        raise NotScdlBudget(str(path), Message("summary_unreadable_csv", error=error)) from None
    size = len(json.dumps(result, ensure_ascii=False).encode("utf-8"))
    if size > MAX_SUMMARY_BYTES:
        raise UnusableBudget(str(path), Message("summary_summary_would_take_bytes_most",
            size=size, max_summary_bytes=MAX_SUMMARY_BYTES))
    return result


class _Groups(dict[tuple[str, ...], Any]):
    """A breakdown's sums by key, refusing the file past ``MAX_GROUPS`` keys."""

    def __init__(self, source: str, what: Message, start: Callable[[], Any]):
        super().__init__()
        self.source, self.what, self.start = source, what, start

    def __missing__(self, key: tuple[str, ...]) -> Any:
        if len(self) >= MAX_GROUPS:
            raise UnusableBudget(self.source, Message("summary_more_than_distinct_not_budget",
                max_groups=MAX_GROUPS, what=self.what))
        value = self[key] = self.start()
        return value


def _aggregate(source: str, rows: Iterable[dict[str, str]]) -> dict[str, Any]:
    column_totals = {column: Decimal(0) for column in AMOUNT_COLUMNS}
    totals = _Groups(source, Message("summary_sections_directions_operations"),
                     lambda: [Decimal(0), Decimal(0)])
    chapters = _Groups(source, Message("summary_chapters"), lambda: [Decimal(0), Decimal(0)])
    functions = _Groups(source, Message("summary_functions"), Decimal)
    natures = _Groups(source, Message("summary_nature_accounts"), Decimal)
    labels: dict[tuple[str, ...], str] = {}
    first: dict[str, str] = {}
    # The columns of the stage's amounts and of what was voted for the year, by the first row's stage.
    measure = MEASURE_COLUMNS[MEASURE_VOTED]
    voted_measure: str | None = None
    count = unreadable = 0
    for row in rows:
        if not first:
            first = row
            natdec = (row[COLUMN_NATDEC] or "").strip()
            measure = measure_column(natdec)
            voted_measure = MEASURE_COLUMNS[MEASURE_OPENED_CREDITS] if natdec == ACCOUNT_STAGE else None
        count += 1
        amounts = {}
        for column in AMOUNT_COLUMNS:
            try:
                value = read_amount(row[column] or "")
            except UnreadableAmount:
                value = None
                unreadable += 1
            amounts[column] = value
            if value is not None:
                column_totals[column] += value
        amount = amounts[measure] or Decimal(0)
        voted = (amounts[voted_measure] or Decimal(0)) if voted_measure else Decimal(0)
        section, codrd, opbudg = (_cell(row, name) for name in (COLUMN_SECTION, COLUMN_CODRD, COLUMN_OPBUDG))

        total = totals[(section, codrd, opbudg)]
        total[0] += amount
        total[1] += voted

        chapter_key = (section, codrd, _cell(row, COLUMN_CONTNAT))
        chapter = chapters[chapter_key]
        chapter[0] += amount
        chapter[1] += voted
        _remember_label(labels, ("chapter",) + chapter_key, row, COLUMN_CONTNAT_LABEL)

        if opbudg != REAL:
            continue
        function = _cell(row, COLUMN_FONCTION)
        if function:
            functions[(codrd, function)] += amount
            _remember_label(labels, ("function", codrd, function), row, COLUMN_FONCTION_LABEL)
        nature_key = (codrd, _cell(row, COLUMN_NATURE))
        natures[nature_key] += amount
        _remember_label(labels, ("nature",) + nature_key, row, COLUMN_NATURE_LABEL)
        labels.setdefault(("nature-chapter",) + nature_key, _cell(row, COLUMN_CONTNAT))

    with_voted = voted_measure is not None

    def amounts_of(pair: list[Decimal]) -> dict[str, str]:
        return {"amount": text(pair[0]), **({"voted": text(pair[1])} if with_voted else {})}

    return {
        "version": SUMMARY_VERSION,
        "natdec": _cell(first, COLUMN_NATDEC) if first else "",
        "exercice": _cell(first, COLUMN_ANNEE) if first else "",
        "siret": _cell(first, COLUMN_SIRET) if first else "",
        "nom": _cell(first, COLUMN_NOM) if first else "",
        "rows": count,
        "measure": measure or MEASURE_COLUMNS[MEASURE_VOTED],
        "voted_measure": voted_measure,
        "unreadable_amounts": unreadable,
        "column_totals": {column: text(value) for column, value in column_totals.items()},
        "totals": [{"section": section, "codrd": codrd, "opbudg": opbudg, **amounts_of(pair)}
                   for (section, codrd, opbudg), pair in sorted(totals.items())],
        "chapters": [{"section": section, "codrd": codrd, "code": code,
                      "label": labels.get(("chapter", section, codrd, code), ""), **amounts_of(pair)}
                     for (section, codrd, code), pair in sorted(
                         chapters.items(), key=lambda item: (item[0][0], item[0][1], -item[1][0], item[0][2]))],
        "functions": [{"codrd": codrd, "code": code, "label": labels.get(("function", codrd, code), ""),
                       "amount": text(amount)}
                      for (codrd, code), amount in sorted(
                          functions.items(), key=lambda item: (item[0][0], -item[1], item[0][1]))],
        "natures": {codrd: [{"code": code, "label": labels.get(("nature", codrd, code), ""),
                             "chapter": labels.get(("nature-chapter", codrd, code), ""),
                             "amount": text(amount)}
                            for (_sens, code), amount in ranked[:LARGEST_NATURES]]
                    for codrd, ranked in _ranked_by_sens(natures).items()},
    }


def _cell(row: dict[str, str], name: str) -> str:
    return (row.get(name) or "").strip()[:MAX_TEXT_CHARS]


def _remember_label(labels: dict[tuple[str, ...], str], key: tuple[str, ...], row: dict[str, str],
                    column: str) -> None:
    # The first non-empty label wins: a code keeps one label within a document.
    if not labels.get(key):
        labels[key] = _cell(row, column)


def _ranked_by_sens(natures: dict[tuple[str, ...], Decimal]) -> dict[str, list[tuple[tuple[str, ...], Decimal]]]:
    ranked: dict[str, list[tuple[tuple[str, ...], Decimal]]] = defaultdict(list)
    for item in sorted(natures.items(), key=lambda item: (-item[1], item[0][1])):
        ranked[item[0][0]].append(item)
    return dict(sorted(ranked.items()))


# ---------------------------------------------------------------- cache

def cached_summary(path: str | os.PathLike[str], cache_dir: str | os.PathLike[str], key: str) -> dict[str, Any]:
    """``summarise(path)``, kept in ``cache_dir/{key}.json`` until the file changes.

    The file's size and modification time identify its content: the filestore replaces a
    resource's file on every upload. Raises NotScdlBudget, and OSError when the file is missing.
    """
    stat = os.stat(path)
    stamp = {"version": SUMMARY_VERSION, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    return cached_json(cache_dir, key, stamp, lambda: summarise(path))


def cached_json(cache_dir: str | os.PathLike[str], key: str, stamp: dict[str, Any],
                build: Callable[[], dict[str, Any]],
                keep: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any]:
    """``build()``, kept in ``cache_dir/{key}.json`` with ``stamp`` and returned while the stamp
    (what identifies the inputs) is the same; a result ``keep`` refuses is returned, not kept."""
    cache_file = Path(cache_dir) / f"{key}.json"
    try:
        cached = json.loads(cache_file.read_text(encoding="utf-8"))
        if cached.get("stamp") == stamp:
            summary: dict[str, Any] = cached["summary"]
            return summary
    except (OSError, ValueError, AttributeError):
        pass  # no cache yet, or an unreadable one: rebuilt below
    result = build()
    if keep is not None and not keep(result):
        return result
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target then renamed: concurrent readers never see half a file.
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=cache_file.parent, suffix=".tmp",
                                     delete=False) as stream:
        # One string: json.dump encodes in Python, chunk by chunk, several times slower.
        stream.write(json.dumps({"stamp": stamp, "summary": result}, ensure_ascii=False))
    os.replace(stream.name, cache_file)
    return result
