"""The page of one budget across the years (/budgets/<siret>[/annexe[-<code>]]), its embeddable
version (…/embed) and the CSV of each of its tables (…/<table>.csv).

Every figure of the page is built here from the action budgetod_collectivite_summary: a table (the
page shows it, the CSV route serves it) and the data of its chart (drawn by the
budgetod-collectivite module from those same rows), so chart, table and CSV cannot disagree.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn, cast

import ckan.plugins.toolkit as tk
from flask import Response
from markupsafe import Markup, escape

from ckanext.budgetod.core import contract
from ckanext.budgetod.core.spreadsheet import neutralised
from ckanext.budgetod.view import helpers

# The line charts of chapters and functions draw the largest ones only; their tables list them all.
LARGEST_SERIES = 10
PAIRS = (("fonctionnement", "recette"), ("fonctionnement", "dépense"),
         ("investissement", "recette"), ("investissement", "dépense"))

# Column kinds: how a cell is shown (the CSV keeps the value as the action gives it).
HEADING, TEXT, AMOUNT, RATE, PERCENT, NUMBER = "heading", "text", "amount", "rate", "percent", "number"


@dataclass
class Table:
    name: str  # also its CSV's name: <name>.csv
    caption: str
    columns: list[tuple[str, str]]  # (heading, kind)
    rows: list[list[str | None]] = field(default_factory=list)  # cells: text, or a decimal string, or None


@dataclass
class Figure:
    table: Table
    title: str
    note: str = ""
    chart: dict[str, Any] | None = None  # what budgetod-collectivite draws (see assets/js/collectivite.js)


def ratio_labels() -> dict[str, str]:
    """The legal ratios (CGCT R.2313-1) by their TOTEM code."""
    return {
        "DepRFonc": tk._("Real operating expenditure per inhabitant"),
        "ProdImpo": tk._("Direct tax revenue per inhabitant"),
        "RecRFonc": tk._("Real operating revenue per inhabitant"),
        "DepEq": tk._("Gross capital expenditure per inhabitant"),
        "EncDettePop": tk._("Outstanding debt per inhabitant"),
        "DGFPop": tk._("Global operating grant (DGF) per inhabitant"),
        "DepPers": tk._("Staff expenditure / real operating expenditure"),
        "CoefMobPotFisc": tk._("Tax potential mobilisation coefficient"),
        "DepFoncRemDette": tk._("(Real operating expenditure + debt repayment) / real operating revenue"),
        "DepEqB": tk._("Gross capital expenditure / real operating revenue"),
        "EncDetteRecFonc": tk._("Outstanding debt / real operating revenue"),
    }


def measure_text(measure: str | None) -> str:
    return cast(str, {contract.MEASURE_REALISED: tk._("realised"),
                      contract.MEASURE_VOTED: tk._("voted")}.get(measure or "", ""))


def collectivite_url(siret: str, document_key: str = "", organization: str = "") -> str:
    """The page of the budget a document belongs to (its key names its annex, if any), as
    ``organization`` (its name) publishes it: two organisations may publish the same SIRET."""
    query = {"organization": organization} if organization else {}
    key = contract.parse_document_key(document_key or "")
    if key is not None and key.is_annex:
        return cast(str, tk.h.url_for("budgetod_budgets.collectivite_annex", siret=siret, code=key.annex_code, **query))
    return cast(str, tk.h.url_for("budgetod_budgets.collectivite", siret=siret, **query))


def series_rows(years: list[dict[str, Any]], kind: str, names: tuple[str, ...]) -> list[dict[str, Any]]:
    """One row per key of ``kind`` (totals, chapters, functions) over the years with figures, with
    its amount by year (None where the year has none)."""
    rows: dict[tuple[str, ...], dict[str, Any]] = {}
    for year in years:
        for item in year.get(kind) or []:
            key = tuple(item[name] for name in names)
            row = rows.setdefault(key, {**{name: item[name] for name in names}, "label": item.get("label", ""),
                                        "amounts": {}})
            row["amounts"][year["exercice"]] = item["amount"]
            row["label"] = row["label"] or item.get("label", "")
    return [rows[key] for key in sorted(rows)]


def per_inhabitant(year: dict[str, Any]) -> list[dict[str, Any]]:
    """A year's per-inhabitant rows, each with its peers' figures (``peer``, None without peers)."""
    peers = {(item["section"], item["codrd"]): item for item in (year.get("peers") or {}).get("per_inhabitant", [])}
    return [{**row, "peer": peers.get((row["section"], row["codrd"]))} for row in year.get("per_inhabitant") or []]


# ---------------------------------------------------------------- figures

def _pair_label(section: str, codrd: str) -> str:
    return f"{helpers.section_label(section)} · {helpers.direction_label(codrd)}"


def _opbudg_label(opbudg: str) -> str:
    return cast(str, tk._("real") if opbudg == "réel" else tk._("ordre"))


def _year_columns(years: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(f"{year['exercice']} ({measure_text(year['measure'])})", AMOUNT) for year in years]


def _breaks(summary: dict[str, Any], categories: list[str]) -> list[dict[str, Any]]:
    """The nomenclature changes among a chart's years: where they are and what they say."""
    breaks = []
    for item in summary.get("breaks") or []:
        if str(item["exercice"]) in categories:
            change = f"{helpers.norme_of(item['from']) or item['from']} → {helpers.norme_of(item['to']) or item['to']}"
            breaks.append({"category": str(item["exercice"]), "short": change,
                           "label": tk._("Nomenclature {change}").format(change=change)})
    return breaks


def _segments(categories: list[str], starts: set[str]) -> list[set[int]]:
    """The runs of years between the nomenclature changes in ``starts``: values of two runs are not joined."""
    segments: list[set[int]] = []
    for index, category in enumerate(categories):
        if not segments or category in starts:
            segments.append(set())
        segments[-1].add(index)
    return segments


def _crosswalk(summary: dict[str, Any]) -> dict[str, dict[str, bool]]:
    """Year of each nomenclature change → chapter code of the two years around it → whether its
    figures compare across it."""
    return {str(item["exercice"]): {**dict.fromkeys(item.get("not_comparable_chapters") or [], False),
                                    **dict.fromkeys(item.get("comparable_chapters") or [], True)}
            for item in summary.get("breaks") or []}


def _largest(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def size(row: dict[str, Any]) -> float:
        return max((abs(float(amount)) for amount in row["amounts"].values()), default=0.0)
    return sorted(rows, key=size, reverse=True)[:LARGEST_SERIES]


def series_figure(summary: dict[str, Any], years: list[dict[str, Any]]) -> Figure:
    rows = series_rows(years, "totals", ("section", "codrd", "opbudg"))
    table = Table("series", tk._("Revenue and expenditure by section and kind of operation, by year"),
                  [(tk._("Section"), HEADING), (tk._("Direction"), TEXT), (tk._("Operations"), TEXT),
                   *_year_columns(years)],
                  [[helpers.section_label(row["section"]), helpers.direction_label(row["codrd"]),
                    _opbudg_label(row["opbudg"]), *(row["amounts"].get(year["exercice"]) for year in years)]
                   for row in rows])
    categories = [str(year["exercice"]) for year in years]
    chart = {"type": "years", "bars": True, "categories": categories, "breaks": _breaks(summary, categories),
             "series": [{"name": f"{_pair_label(row['section'], row['codrd'])} · {_opbudg_label(row['opbudg'])}",
                         "stack": row["codrd"], "tone": f"{row['section']}-{row['codrd']}-{row['opbudg']}",
                         "values": [row["amounts"].get(year["exercice"]) for year in years]} for row in rows]}
    return Figure(table, tk._("Revenue and expenditure by year"), chart=chart,
                  note=tk._("Each year’s bar stacks its sections; real operations move money, ordre operations are "
                            "accounting entries between sections."))


def _lines_chart(summary: dict[str, Any], years: list[dict[str, Any]], rows: list[dict[str, Any]],
                 crosswalk: dict[str, dict[str, bool]]) -> dict[str, Any]:
    """One line per row over the years. At a nomenclature change the line goes on when the
    crosswalk (see ``_crosswalk``) compares the row's code across it, and stops otherwise: it is
    drawn as separate series then."""
    categories = [str(year["exercice"]) for year in years]
    breaks = _breaks(summary, categories)
    series = []
    for row in _largest(rows):
        values = [row["amounts"].get(year["exercice"]) for year in years]
        starts = {item["category"] for item in breaks if not crosswalk.get(item["category"], {}).get(row["code"])}
        for segment in _segments(categories, starts):
            part = [value if index in segment else None for index, value in enumerate(values)]
            if any(value is not None for value in part):
                series.append({"name": f"{row['code']} {row['label']}".strip(), "values": part})
    return {"type": "years", "bars": False, "categories": categories, "breaks": breaks, "series": series}


def chapters_figures(summary: dict[str, Any], years: list[dict[str, Any]]) -> list[Figure]:
    figures = []
    rows = series_rows(years, "chapters", ("section", "codrd", "code"))
    crosswalk = _crosswalk(summary)
    breaks = _breaks(summary, [str(year["exercice"]) for year in years])
    # One column per change of nomenclature: whether the chapter's line goes on across it (blank
    # for a chapter of neither year around it).
    comparability = {True: tk._("comparable"), False: tk._("not comparable"), None: None}
    break_columns = [(tk._("Across {change} ({year})").format(change=item["short"], year=item["category"]), TEXT)
                     for item in breaks]
    for codrd, name, title in (("dépense", "chapters-expenditure", tk._("Expenditure by chapter")),
                               ("recette", "chapters-revenue", tk._("Revenue by chapter"))):
        mine = [row for row in rows if row["codrd"] == codrd]
        if not mine:
            continue
        table = Table(name, tk._("{title}, by year").format(title=title),
                      [(tk._("Chapter"), HEADING), (tk._("Label"), TEXT), (tk._("Section"), TEXT),
                       *_year_columns(years), *break_columns],
                      [[row["code"], row["label"], helpers.section_label(row["section"]),
                        *(row["amounts"].get(year["exercice"]) for year in years),
                        *(comparability[crosswalk[item["category"]].get(row["code"])] for item in breaks)]
                       for row in mine])
        note = tk._("At a change of nomenclature, a chapter’s line goes on where the two plans de comptes give it the "
                    "same code, section and direction, and stops otherwise; the table says which.")
        figures.append(Figure(table, title, chart=_lines_chart(summary, years, mine, crosswalk),
                              note=_largest_note(mine, note)))
    return figures


def functions_figures(summary: dict[str, Any], years: list[dict[str, Any]]) -> list[Figure]:
    figures = []
    rows = series_rows(years, "functions", ("codrd", "code"))
    for codrd, name, title in (("dépense", "functions-expenditure", tk._("Real expenditure by function")),
                               ("recette", "functions-revenue", tk._("Real revenue by function"))):
        mine = [row for row in rows if row["codrd"] == codrd]
        if not mine:
            continue
        table = Table(name, tk._("{title}, by year").format(title=title),
                      [(tk._("Function"), HEADING), (tk._("Label"), TEXT), *_year_columns(years)],
                      [[row["code"], row["label"], *(row["amounts"].get(year["exercice"]) for year in years)]
                       for row in mine])
        # Functions are not crosswalked: their lines stop at every change of nomenclature.
        figures.append(Figure(table, title, chart=_lines_chart(summary, years, mine, {}), note=_largest_note(
            mine, tk._("A change of nomenclature breaks the lines: codes of two nomenclatures are not compared."))))
    return figures


def _largest_note(rows: list[dict[str, Any]], note: str) -> str:
    if len(rows) > LARGEST_SERIES:
        largest = tk._("The chart shows the {count} largest; the table lists them all.").format(count=LARGEST_SERIES)
        note = f"{largest} {note}"
    return note


def per_inhabitant_figure(summary: dict[str, Any], years: list[dict[str, Any]]) -> Figure:
    table = Table("per-inhabitant", tk._("Real operations per inhabitant, with the peers’ median and range"),
                  [(tk._("Year"), HEADING), (tk._("Population"), NUMBER), (tk._("Section"), TEXT),
                   (tk._("Direction"), TEXT), (tk._("Per inhabitant"), AMOUNT), (tk._("Peers’ median"), AMOUNT),
                   (tk._("Peers’ lowest"), AMOUNT), (tk._("Peers’ highest"), AMOUNT), (tk._("Peers"), NUMBER)])
    by_pair: dict[tuple[str, str], dict[str, Any]] = {}
    for year in years:
        if not year.get("per_inhabitant"):  # the document gives no population
            table.rows.append([str(year["exercice"]), *[None] * (len(table.columns) - 1)])
        for row in per_inhabitant(year):
            peer = row["peer"] or {}
            table.rows.append([str(year["exercice"]), str(year["population"]), helpers.section_label(row["section"]),
                               helpers.direction_label(row["codrd"]), row["amount"], peer.get("median"),
                               peer.get("min"), peer.get("max"), str(peer.get("count", 0))])
            by_pair.setdefault((row["section"], row["codrd"]), {})[year["exercice"]] = row
    categories = [str(year["exercice"]) for year in years]
    groups = []
    for pair in PAIRS:
        if pair not in by_pair:
            continue
        found = [by_pair[pair].get(year["exercice"]) for year in years]
        groups.append({"title": _pair_label(*pair),
                       "own": [row["amount"] if row else None for row in found],
                       **{key: [(row["peer"] or {}).get(key) if row else None for row in found]
                          for key in ("median", "min", "max")}})
    chart = {"type": "peers", "categories": categories, "breaks": _breaks(summary, categories), "groups": groups,
             "names": {"own": tk._("This budget"), "median": tk._("Peers’ median"),
                       "range": tk._("Peers’ range")}} if groups else None
    return Figure(table, tk._("Per inhabitant, and compared with peers"), chart=chart,
                  note=tk._("Real operations divided by the population the document gives. Peers: the other main "
                            "budgets on this portal with the same nomenclature and population band, the same year."))


def ratio_figures(years: list[dict[str, Any]]) -> list[Figure]:
    labels = ratio_labels()
    figures = []
    for unit, name, title, kind in (
            ("per_inhabitant", "ratios-per-inhabitant",
             tk._("The document’s ratios per inhabitant and their national averages"), AMOUNT),
            ("percent", "ratios-percent",
             tk._("The document’s ratios in percent and their national averages"), PERCENT)):
        with_ratios = [(year, [ratio for ratio in year.get("ratios") or [] if ratio["unit"] == unit])
                       for year in years]
        with_ratios = [(year, ratios) for year, ratios in with_ratios if ratios]
        if not with_ratios:
            continue
        table = Table(name, tk._("Legal ratios as each year’s document gives them, beside the national average of "
                                 "its stratum"),
                      [(tk._("Year"), HEADING), (tk._("Ratio"), TEXT), (tk._("Value"), kind),
                       (tk._("National average"), kind)],
                      [[str(year["exercice"]), labels.get(ratio["code"], ratio["code"]), ratio["value"],
                        ratio["national_average"]] for year, ratios in with_ratios for ratio in ratios])
        # The latest year whose document gives national averages (some write none), else the latest.
        latest, ratios = next(((year, ratios) for year, ratios in reversed(with_ratios)
                               if any(ratio["national_average"] for ratio in ratios)), with_ratios[-1])
        categories = [labels.get(ratio["code"], ratio["code"]) for ratio in ratios]
        chart = {"type": "bars", "unit": unit, "categories": categories, "series": [
            {"name": tk._("{year}: this budget").format(year=latest["exercice"]), "tone": "own",
             "values": [ratio["value"] for ratio in ratios]},
            {"name": tk._("National average"), "tone": "reference",
             "values": [ratio["national_average"] for ratio in ratios]}]}
        note = tk._("The chart shows {year}; the table gives every year.").format(year=latest["exercice"])
        figures.append(Figure(table, title, chart=chart, note=note if len(with_ratios) > 1 else ""))
    return figures


def execution_figures(year: dict[str, Any]) -> list[Figure]:
    execution = year["execution"]
    exercice = year["exercice"]
    from_budget = execution["voted_source"] == "budget"
    note = (tk._("Voted: budget primitif, supplementary budgets and amending decisions published for the year.")
            if from_budget else
            tk._("Voted: the credits opened according to the compte administratif (no budget primitif of the year "
                 "is published); they include the credits carried over from the previous year."))
    figures = []
    for kind, noun, caption, title in (
            ("chapters", tk._("Chapter"), tk._("Realised against voted by chapter, {year}"),
             tk._("Execution of the {year} budget by chapter")),
            ("functions", tk._("Function"), tk._("Realised against voted by function (real operations), {year}"),
             tk._("Execution of the {year} budget by function"))):
        rows = execution.get(kind) or []
        if not rows:
            continue
        with_section = kind == "chapters"
        table = Table(f"execution-{exercice}-{kind}", caption.format(year=exercice),
                      [*([(tk._("Section"), TEXT)] if with_section else []), (tk._("Direction"), TEXT),
                       (noun, HEADING), (tk._("Label"), TEXT), (tk._("Voted"), AMOUNT), (tk._("Realised"), AMOUNT),
                       (tk._("Gap"), AMOUNT), (tk._("Execution rate"), RATE)],
                      [[*([helpers.section_label(row["section"])] if with_section else []),
                        helpers.direction_label(row["codrd"]), row["code"], row["label"], row["voted"],
                        row["realised"], row["gap"], row["rate"]] for row in rows])
        categories = [f"{row['code']} {row['label']} ({helpers.direction_label(row['codrd']).lower()})"
                      for row in rows]
        chart = {"type": "bars", "unit": "amount", "categories": categories, "series": [
            {"name": tk._("Voted"), "tone": "reference", "values": [row["voted"] for row in rows]},
            {"name": tk._("Realised"), "tone": "own", "values": [row["realised"] for row in rows],
             "rates": [row["rate"] for row in rows]}]}
        figures.append(Figure(table, title.format(year=exercice), note=note, chart=chart))
    return figures


def figures(summary: dict[str, Any]) -> dict[str, Any]:
    """The page's figures by part: series, per_inhabitant (with ratios), execution, chapters, functions."""
    years = [year for year in summary["exercices"] if year["measure"]]
    if not years:
        return {}
    return {
        "series": [series_figure(summary, years)],
        "per_inhabitant": [per_inhabitant_figure(summary, years), *ratio_figures(years)],
        "execution": [figure for year in years if year.get("execution") for figure in execution_figures(year)],
        "chapters": chapters_figures(summary, years),
        "functions": functions_figures(summary, years),
    }


# ---------------------------------------------------------------- HTML

def cells_renderer() -> Callable[[list[str | None], list[tuple[str, str]]], Markup]:
    """The cells of a table row as HTML, in the page's language, each with its raw value in
    data-value (what the CSV holds). Built here rather than by a template macro, and with plain
    strings of escaped values rather than Markup.format: a page of five years has thousands of cells."""
    amount = helpers.amount_formatter()
    rate = helpers.rate_formatter()

    def render(row: list[str | None], columns: list[tuple[str, str]]) -> Markup:
        cells = []
        for value, (_heading, kind) in zip(row, columns, strict=True):
            raw = escape("" if value is None else value)
            if kind == HEADING:
                cells.append(f'<th scope="row" data-value="{raw}">{raw}</th>')
                continue
            if value is None:
                shown = "" if kind == TEXT else "—"
            elif kind == AMOUNT:
                shown = amount(value)
            elif kind == RATE:
                shown = rate(value, 1)
            elif kind == PERCENT:
                shown = f"{value} %"
            else:
                shown = value
            number = ' class="budgetod-amount"' if kind != TEXT else ""
            cells.append(f'<td{number} data-value="{raw}">{escape(shown)}</td>')
        return Markup("\n".join(cells))
    return render


# ---------------------------------------------------------------- CSV

# An amount, a rate or a count as the action gives it: written bare, a spreadsheet reads a number.
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def _csv_cell(value: str | None, kind: str) -> str:
    """One cell: empty stays empty, a number of a number column stays a bare number ("-12.50"), and
    any other text is quoted with an apostrophe before each piece a spreadsheet could run as a
    formula, whatever separator it splits on (``core.spreadsheet``)."""
    text = "" if value is None else str(value)
    if not text or (kind not in (HEADING, TEXT) and _PLAIN_NUMBER.fullmatch(text)):
        return text
    return '"' + neutralised(text).replace('"', '""') + '"'


def table_csv(table: Table) -> str:
    """The table as CSV (comma, text always quoted, RFC 4180 doubling of quotes, one line per row)."""
    lines = [[_csv_cell(heading, TEXT) for heading, _kind in table.columns]]
    lines += [[_csv_cell(value, kind) for value, (_heading, kind) in zip(row, table.columns, strict=True)]
              for row in table.rows]
    return "".join(",".join(line) + "\n" for line in lines)


# ---------------------------------------------------------------- routes

def _summary(siret: str, code: str | None) -> dict[str, Any]:
    """The budget's summary; ``code`` is None for a main budget, "" for an annex without a code
    (/budgets/<siret>/annexe), which the action is asked for as ``annexe: true``."""
    try:
        return cast("dict[str, Any]", tk.get_action("budgetod_collectivite_summary")(
            helpers.user_context(), {"id": siret, "annexe": True if code == "" else code or "",
                                     # ?organization=<name>: whose budget when two organisations publish the SIRET
                                     "organization": tk.request.args.get("organization", "")}))
    except tk.ObjectNotFound:
        return cast(NoReturn, tk.abort(404, tk._("No budget is published for this SIRET.")))


def _render(siret: str, code: str | None, template: str) -> str:
    summary = _summary(siret, code)
    endpoint, arguments = (("budgetod_budgets.collectivite_annex", {"siret": siret, "code": code})
                           if code is not None else ("budgetod_budgets.collectivite", {"siret": siret}))
    # The embed code and the CSV links show the same organisation's budget as the page.
    if tk.request.args.get("organization"):
        arguments["organization"] = summary["organization"]["name"]
    return cast(str, tk.render(template, {
        "summary": summary,
        "parts": figures(summary),
        "page_url": tk.h.url_for(endpoint, **arguments, qualified=True),
        "embed_url": tk.h.url_for(f"{endpoint}_embed", **arguments, qualified=True),
        "csv_url": lambda table: tk.h.url_for(f"{endpoint}_csv", **arguments, table=table),
        "row_cells": cells_renderer(),
        "measure_text": measure_text,
    }))


def page(siret: str, code: str | None = None) -> str:
    return _render(siret, code, "budgetod/collectivite.html")


def embed(siret: str, code: str | None = None) -> str:
    return _render(siret, code, "budgetod/collectivite_embed.html")


def table_download(siret: str, table: str, code: str | None = None) -> Response:
    summary = _summary(siret, code)
    found = next((figure.table for part in figures(summary).values() for figure in part
                  if figure.table.name == table), None)
    if found is None:
        return cast(NoReturn, tk.abort(404, tk._("This budget has no such table.")))
    filename = "-".join((siret, contract.annex_suffix(code), table) if code is not None else (siret, table)) + ".csv"
    return Response(table_csv(found), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})
