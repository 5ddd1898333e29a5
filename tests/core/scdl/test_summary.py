"""The budget summary behind the visualisation: its sums are the CSV's sums, computed here
independently of the module, for every sample document converted by the real converter."""
from __future__ import annotations

import csv
import json
import os
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from ckanext.budgetod.core import contract
from ckanext.budgetod.core.scdl import summary
from tests.support.shared import CORPUS

AMOUNTS = contract.AMOUNT_COLUMNS


def read_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def decimal(cell: str) -> Decimal:
    return Decimal(cell) if cell else Decimal(0)


def sums(rows: list[dict], key, column: str) -> dict:
    totals: dict = defaultdict(Decimal)
    for row in rows:
        totals[key(row)] += decimal(row[column])
    return dict(totals)


def as_decimals(items: list[dict], key, field: str = "amount") -> dict:
    return {key(item): Decimal(item[field]) for item in items}


def test_the_corpus_is_there():
    assert len(CORPUS) >= 6


@pytest.mark.parametrize("document", [path.stem for path in CORPUS])
def test_every_total_equals_the_sum_computed_from_the_csv(converted, document):
    path = converted[document][1]
    rows = read_rows(path)
    result = summary.summarise(path)
    natdec = rows[0]["BGT_NATDEC"]
    measure = "BGT_MTREAL" if natdec == "compte administratif" else "BGT_MTPREV"

    assert result["rows"] == len(rows)
    assert result["natdec"] == natdec
    assert result["exercice"] == rows[0]["BGT_ANNEE"]
    assert result["siret"] == rows[0]["BGT_SIRET"]
    assert result["measure"] == measure
    assert result["unreadable_amounts"] == 0
    for column in AMOUNTS:
        assert Decimal(result["column_totals"][column]) == sum(decimal(row[column]) for row in rows), column

    by_operation = sums(rows, lambda row: (row["BGT_SECTION"], row["BGT_CODRD"], row["BGT_OPBUDG"]), measure)
    assert as_decimals(result["totals"], lambda item: (item["section"], item["codrd"], item["opbudg"])) == by_operation
    by_chapter = sums(rows, lambda row: (row["BGT_SECTION"], row["BGT_CODRD"], row["BGT_CONTNAT"]), measure)
    assert as_decimals(result["chapters"], lambda item: (item["section"], item["codrd"], item["code"])) == by_chapter
    # Every line counts once in each breakdown.
    measure_total = Decimal(result["column_totals"][measure])
    assert sum(Decimal(item["amount"]) for item in result["totals"]) == measure_total
    assert sum(Decimal(item["amount"]) for item in result["chapters"]) == measure_total

    real = [row for row in rows if row["BGT_OPBUDG"] == "réel"]
    with_function = [row for row in real if row["BGT_FONCTION"]]
    by_function = sums(with_function, lambda row: (row["BGT_CODRD"], row["BGT_FONCTION"]), measure)
    assert as_decimals(result["functions"], lambda item: (item["codrd"], item["code"])) == by_function

    by_nature = sums(real, lambda row: (row["BGT_CODRD"], row["BGT_NATURE"]), measure)
    for codrd, largest in result["natures"].items():
        expected = sorted(((amount, code) for (sens, code), amount in by_nature.items() if sens == codrd),
                          key=lambda pair: (-pair[0], pair[1]))[:summary.LARGEST_NATURES]
        assert [(Decimal(item["amount"]), item["code"]) for item in largest] == expected
    assert set(result["natures"]) == {sens for sens, _code in by_nature}


@pytest.mark.parametrize("document", [path.stem for path in CORPUS])
def test_labels_come_from_the_csv(converted, document):
    rows = read_rows(converted[document][1])
    result = summary.summarise(converted[document][1])
    chapter_labels = {(row["BGT_SECTION"], row["BGT_CODRD"], row["BGT_CONTNAT"]): row["BGT_CONTNAT_LABEL"]
                      for row in reversed(rows) if row["BGT_CONTNAT_LABEL"]}
    for chapter in result["chapters"]:
        key = (chapter["section"], chapter["codrd"], chapter["code"])
        assert chapter["label"] == chapter_labels.get(key, "")
    nature_labels = {row["BGT_NATURE"]: row["BGT_NATURE_LABEL"] for row in rows}
    for largest in result["natures"].values():
        for nature in largest:
            assert nature["label"] == nature_labels[nature["code"]]


def test_a_compte_administratif_compares_voted_and_realised(converted):
    rows = read_rows(converted["montreuil-ca-2018"][1])
    result = summary.summarise(converted["montreuil-ca-2018"][1])

    assert result["measure"] == "BGT_MTREAL"
    assert result["voted_measure"] == "BGT_CREDOUV"
    voted = sums(rows, lambda row: (row["BGT_SECTION"], row["BGT_CODRD"], row["BGT_OPBUDG"]), "BGT_CREDOUV")
    assert as_decimals(result["totals"], lambda item: (item["section"], item["codrd"], item["opbudg"]),
                       "voted") == voted
    assert sum(Decimal(item["voted"]) for item in result["chapters"]) == Decimal("628870764.00")
    # Montreuil votes by function: its budget has functions, and its largest expense is its staff.
    assert result["functions"]
    assert result["natures"]["dépense"][0] == {"code": "64111", "label": "Rémunération principale",
                                              "chapter": "012", "amount": "38204850.03"}


def test_a_budget_primitif_has_no_voted_column(converted):
    result = summary.summarise(converted["transport-m43-bp-2022"][1])
    assert result["measure"] == "BGT_MTPREV"
    assert result["voted_measure"] is None
    assert all("voted" not in item for item in result["totals"] + result["chapters"])
    assert result["functions"] == []  # voted by nature only


def test_a_budget_without_functions_has_an_empty_function_breakdown(converted):
    assert summary.summarise(converted["crach-principal-ca-2021"][1])["functions"] == []


HEADER = ",".join(contract.SCDL_COLUMNS)


def line(**cells: str) -> str:
    base = {"BGT_NATDEC": "budget primitif", "BGT_ANNEE": "2024", "BGT_SIRET": "21930048000015",
            "BGT_NOM": "TEST", "BGT_CONTNAT": "011", "BGT_CONTNAT_LABEL": "Charges à caractère général",
            "BGT_NATURE": "6064", "BGT_NATURE_LABEL": "Fournitures", "BGT_SECTION": "fonctionnement",
            "BGT_OPBUDG": "réel", "BGT_CODRD": "dépense", "BGT_ARTSPE": "non spécialisé"}
    base.update(cells)
    return ",".join(base.get(field, "") for field in contract.SCDL_COLUMNS)


def write(tmp_path: Path, text: str, name: str = "budget.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def test_semicolons_and_a_bom_are_accepted(tmp_path):
    text = "\n".join([HEADER, line(BGT_MTPREV="10.50"), line(BGT_MTPREV="0.25")]).replace(",", ";")
    result = summary.summarise(write(tmp_path, text, encoding="utf-8-sig"))
    assert result["column_totals"]["BGT_MTPREV"] == "10.75"
    assert result["totals"] == [{"section": "fonctionnement", "codrd": "dépense", "opbudg": "réel",
                                 "amount": "10.75"}]


def test_a_cell_that_is_not_a_number_is_left_out_and_counted(tmp_path):
    text = "\n".join([HEADER, line(BGT_MTPREV="1 000,00"), line(BGT_MTPREV="NaN"), line(BGT_MTPREV="7")])
    result = summary.summarise(write(tmp_path, text))
    assert result["unreadable_amounts"] == 2
    assert result["column_totals"]["BGT_MTPREV"] == "7"


def test_amounts_are_exact_and_never_in_exponent_notation(tmp_path):
    text = "\n".join([HEADER, line(BGT_MTPREV="0.1"), line(BGT_MTPREV="0.2"), line(BGT_MTPREV="1E+3")])
    result = summary.summarise(write(tmp_path, text))
    assert result["column_totals"]["BGT_MTPREV"] == "1000.3"


def test_a_header_alone_gives_empty_aggregates(tmp_path):
    result = summary.summarise(write(tmp_path, HEADER + "\n"))
    assert result["rows"] == 0
    assert result["totals"] == result["chapters"] == result["functions"] == []
    assert result["natures"] == {}


@pytest.mark.parametrize("text, encoding", [
    ("name,amount\nx,1\n", "utf-8"),
    (HEADER.replace("BGT_CODRD", "SENS") + "\n", "utf-8"),
    (HEADER + "\n" + line(BGT_NOM="Ville d'Évreux", BGT_MTPREV="1"), "latin-1"),
])
def test_a_file_that_is_not_an_scdl_budget_is_refused(tmp_path, text, encoding):
    path = write(tmp_path, text, encoding=encoding)
    with pytest.raises(summary.NotScdlBudget) as raised:
        summary.summarise(path)
    assert raised.value.localized_cause("en")
    assert raised.value.localized_cause("fr") != raised.value.localized_cause("en")


def test_the_header_probe_reads_only_the_first_line(tmp_path):
    assert summary.has_scdl_header(write(tmp_path, HEADER + "\n" + "garbage\x00" * 10))
    assert not summary.has_scdl_header(write(tmp_path, "a,b\n", name="other.csv"))
    assert not summary.has_scdl_header(tmp_path / "missing.csv")


def test_the_cache_is_used_until_the_file_changes(tmp_path, monkeypatch):
    path = write(tmp_path, "\n".join([HEADER, line(BGT_MTPREV="5")]))
    cache = tmp_path / "cache"
    first = summary.cached_summary(path, cache, "resource-1")
    assert (cache / "resource-1.json").is_file()

    calls = []
    monkeypatch.setattr(summary, "summarise", lambda target: calls.append(target) or {"rebuilt": True})
    assert summary.cached_summary(path, cache, "resource-1") == first
    assert calls == []

    path.write_text("\n".join([HEADER, line(BGT_MTPREV="5"), line(BGT_MTPREV="6")]), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert summary.cached_summary(path, cache, "resource-1") == {"rebuilt": True}
    assert calls == [path]


def test_a_damaged_cache_file_is_rebuilt(tmp_path):
    path = write(tmp_path, "\n".join([HEADER, line(BGT_MTPREV="5")]))
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "resource-1.json").write_text("{not json", encoding="utf-8")
    assert summary.cached_summary(path, cache, "resource-1")["column_totals"]["BGT_MTPREV"] == "5"


# --- bounds: anyone may ask for a summary ----------------------------------------------------


@pytest.mark.parametrize("amount", ["1E+999999", "1E+9999999", "-1e999999", "0E-999999", "1" * 41,
                                    "12345678901234567", "0." + "0" * 20 + "1"])
def test_an_implausible_amount_is_left_out_and_the_summary_stays_small(tmp_path, amount):
    """1E+999999 was summed and written out as a million digits (1E+9999999: decimal.Overflow)."""
    rows = [line(BGT_MTPREV=amount, BGT_CONTNAT=f"0{index}") for index in range(3)] + [line(BGT_MTPREV="2.50")]
    result = summary.summarise(write(tmp_path, "\n".join([HEADER, *rows])))
    assert result["unreadable_amounts"] == 3
    assert result["column_totals"]["BGT_MTPREV"] == "2.50"
    assert len(json.dumps(result)) < 10_000


def test_plausible_amounts_at_the_bounds_are_summed_exactly(tmp_path):
    amounts = ["9" * 16, "0." + "0" * 19 + "1", "-" + "9" * 16, "1E+15"]
    result = summary.summarise(write(tmp_path, "\n".join([HEADER, *(line(BGT_MTPREV=a) for a in amounts)])))
    assert result["unreadable_amounts"] == 0
    assert result["column_totals"]["BGT_MTPREV"] == "1000000000000000.00000000000000000001"


def test_too_many_distinct_chapters_make_an_unusable_file(tmp_path):
    rows = [line(BGT_CONTNAT=str(index), BGT_MTPREV="1") for index in range(summary.MAX_GROUPS + 1)]
    with pytest.raises(summary.UnusableBudget) as raised:
        summary.summarise(write(tmp_path, "\n".join([HEADER, *rows])))
    assert f"more than {summary.MAX_GROUPS} distinct chapters" in raised.value.localized_cause("en")
    assert f"plus de {summary.MAX_GROUPS} chapitres distincts" in raised.value.localized_cause("fr")


def test_codes_and_labels_are_cut(tmp_path):
    text = "\n".join([HEADER, line(BGT_CONTNAT="1" * 10_000, BGT_CONTNAT_LABEL="L" * 100_000, BGT_MTPREV="1")])
    result = summary.summarise(write(tmp_path, text))
    chapter = result["chapters"][0]
    assert len(chapter["code"]) == len(chapter["label"]) == summary.MAX_TEXT_CHARS


def test_a_summary_larger_than_the_bound_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(summary, "MAX_SUMMARY_BYTES", 2_000)
    rows = [line(BGT_CONTNAT=f"{index:03d}", BGT_MTPREV="1") for index in range(30)]
    with pytest.raises(summary.UnusableBudget) as raised:
        summary.summarise(write(tmp_path, "\n".join([HEADER, *rows])))
    assert "at most 2000" in raised.value.localized_cause("en")
