"""The page of one budget across the years (/budgets/<siret>[/annexe-<code>]): the tables of the
action budgetod_collectivite_summary."""
from __future__ import annotations

import re

import ckan.plugins.toolkit as tk

from ckanext.budgetod.view import helpers

_ANNEX_SUFFIX = re.compile(r"-annexe-([a-z0-9-]+)$")


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
    return {"realised": tk._("realised"), "voted": tk._("voted")}.get(measure or "", "")


def collectivite_url(siret: str, document_key: str = "") -> str:
    """The page of the budget a document belongs to (its key ends with its annex code, if any)."""
    annex = _ANNEX_SUFFIX.search(document_key or "")
    if annex:
        return tk.h.url_for("budgetod_budgets.collectivite_annex", siret=siret, code=annex.group(1))
    return tk.h.url_for("budgetod_budgets.collectivite", siret=siret)


def series_rows(years: list[dict], kind: str, names: tuple[str, ...]) -> list[dict]:
    """One row per key of ``kind`` (totals, chapters, functions) over the years with figures, with
    its amount by year (None where the year has none)."""
    rows: dict[tuple, dict] = {}
    for year in years:
        for item in year.get(kind) or []:
            key = tuple(item[name] for name in names)
            row = rows.setdefault(key, {**{name: item[name] for name in names}, "label": item.get("label", ""),
                                        "amounts": {}})
            row["amounts"][year["exercice"]] = item["amount"]
            row["label"] = row["label"] or item.get("label", "")
    return [rows[key] for key in sorted(rows)]


def per_inhabitant(year: dict) -> list[dict]:
    """A year's per-inhabitant rows, each with its peers' figures (``peer``, None without peers)."""
    peers = {(item["section"], item["codrd"]): item for item in (year.get("peers") or {}).get("per_inhabitant", [])}
    return [{**row, "peer": peers.get((row["section"], row["codrd"]))} for row in year.get("per_inhabitant") or []]


def page(siret: str, code: str | None = None):
    try:
        summary = tk.get_action("budgetod_collectivite_summary")(
            helpers.user_context(), {"id": siret, "annexe": code or "",
                                     # ?organization=<name>: whose budget when two organisations publish the SIRET
                                     "organization": tk.request.args.get("organization", "")})
    except tk.ObjectNotFound:
        return tk.abort(404, tk._("No budget is published for this SIRET."))
    with_figures = [year for year in summary["exercices"] if year["measure"]]
    return tk.render("budgetod/collectivite.html", {
        "summary": summary,
        "years": with_figures,
        "totals": series_rows(with_figures, "totals", ("section", "codrd", "opbudg")),
        "chapters": series_rows(with_figures, "chapters", ("section", "codrd", "code")),
        "functions": series_rows(with_figures, "functions", ("codrd", "code")),
        "ratio_labels": ratio_labels(),
        "measure_text": measure_text,
        "per_inhabitant": per_inhabitant,
    })
