"""Every figure of the collectivité summaries — series, execution rates and gaps, per-inhabitant
values, ratios, peer medians and ranges — equals a recomputation written here with csv and
Decimal only (no helper of the module), from the CSVs the real converter writes in the test and the
documents' own InformationsGenerales, on two corpora:

- the sample documents of ../shared/data/totem;
- the 1,000 documents of the bench corpus (bench/generate_corpus.py, as make bench-harvest and make
  bench-collectivite write them: 200 collectivités, every budget with its peers; BP, BS, DMs, CAs and
  CFUs over 2019–2023, years with the whole BP + BS + DMs + account, breaks of nomenclature),
  written here without their annex loans, which enter no figure (a test below converts one
  collectivité's documents both ways to the same CSV bytes and general information): a
  minute to write and convert instead of several."""
from __future__ import annotations

import csv
import re
import sys
from collections import defaultdict
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest
from lxml import etree

from ckanext.budgetod.core.scdl import collectivite, conversion
from tests.support.repository import REPOSITORY
from tests.support.settings import offline_settings
from tests.support.shared import CORPUS, PLANS_DIR

sys.path.insert(0, str(REPOSITORY / "bench"))
from generate_corpus import corpus_specs
from generate_totem import BUDGET_SUPPLEMENTAIRE, COMPTE_FINANCIER_UNIQUE, write_document

pytestmark = pytest.mark.usefixtures("offline_environment")

NAMESPACE = "{http://www.minefi.gouv.fr/cp/demat/docbudgetaire}"
CENTS, RATE = Decimal("0.01"), Decimal("0.0001")
STRATA = [0, 500, 2000, 3500, 5000, 10000, 20000, 50000, 100000]
RATIOS = {"DepRFonc", "ProdImpo", "RecRFonc", "DepEq", "EncDettePop", "DGFPop", "DepPers", "CoefMobPotFisc",
          "DepFoncRemDette", "DepEqB", "EncDetteRecFonc"}


# ---------------------------------------------------------------- the corpora, converted here

def convert_all(xml_paths: list[Path], directory: Path) -> list[dict]:
    """Each document converted, with what the recomputation needs read from its XML and CSV."""
    documents = []
    for xml in xml_paths:
        csv_path = directory / f"{xml.stem}.csv"
        conversion.convert_document(xml, csv_path, offline_settings(cache_dir=str(directory / "cache")))
        documents.append({"xml": xml, "csv": csv_path, **read_document(xml)})
    return documents


def read_document(xml: Path) -> dict:
    root = etree.parse(str(xml), etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)).getroot()
    budget = root.find(f".//{NAMESPACE}Budget")

    def value(path: str) -> str:
        element = budget.find("/".join(NAMESPACE + part for part in path.split("/")))
        return element.get("V") if element is not None else ""

    information = {element.get("Code"): element.get("V")
                   for element in budget.iterfind(f"{NAMESPACE}InformationsGenerales/{NAMESPACE}Information")}
    population = french(information.get("PopTot", ""))
    nomenclature = value("EnTeteBudget/Nomenclature")
    code = value("EnTeteBudget/CodBud")
    return {"siret": value("EnTeteBudget/IdEtab"), "annex": value("BlocBudget/CodTypBud") != "P" and code,
            "year": int(value("BlocBudget/Exer")), "natdec": value("BlocBudget/NatDec"),
            "decision": value("BlocBudget/NumDec"), "norme": nomenclature.split("-")[0],
            "population": int(population) if population and population >= 1 else None,
            "ratios": {code: (french(information[f"Val{code}"]), french(information.get(f"MoyNat{code}", "")) or None)
                       for code in RATIOS if french(information.get(f"Val{code}", "")) is not None}}


def french(text: str) -> Decimal | None:
    cleaned = re.sub(r"\s", "", text).removesuffix("%").replace(",", ".")
    return Decimal(cleaned) if re.fullmatch(r"[+-]?\d+(\.\d*)?", cleaned) else None


@pytest.fixture(scope="module")
def sample_corpus(tmp_path_factory) -> list[dict]:
    return convert_all(CORPUS, tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="module")
def bench_corpus(tmp_path_factory) -> list[dict]:
    directory = tmp_path_factory.mktemp("bench")
    paths = []
    for name, spec in corpus_specs():
        write_document(directory / name, spec, PLANS_DIR, annex_padding=False)
        paths.append(directory / name)
    return convert_all(paths, directory)


# ---------------------------------------------------------------- the recomputation

def rows_of(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def amount(row: dict, column: str) -> Decimal:
    return Decimal(row[column]) if row[column] else Decimal(0)


def sums(paths: list[Path], column: str) -> dict[str, dict]:
    """Sums of ``column`` by total, chapter and (real) function, over every line with an amount."""
    result = {"totals": defaultdict(Decimal), "chapters": defaultdict(Decimal), "functions": defaultdict(Decimal)}
    for path in paths:
        for row in rows_of(path):
            if not any(row[name] for name in ("BGT_MTREAL", "BGT_MTPREV", "BGT_CREDOUV")):
                continue
            result["totals"][(row["BGT_SECTION"], row["BGT_CODRD"], row["BGT_OPBUDG"])] += amount(row, column)
            result["chapters"][(row["BGT_SECTION"], row["BGT_CODRD"], row["BGT_CONTNAT"])] += amount(row, column)
            if row["BGT_OPBUDG"] == "réel" and row["BGT_FONCTION"]:
                result["functions"][(row["BGT_CODRD"], row["BGT_FONCTION"])] += amount(row, column)
    return result


def recompute_budget(documents: list[dict]) -> dict[int, dict]:
    """Year → what the summary of one budget should say."""
    years = {}
    for year in sorted({document["year"] for document in documents}):
        of_year = [document for document in documents if document["year"] == year]
        accounts = [document for document in of_year if document["natdec"] in ("09", "10")]
        # BP, then BS, then DMs by number: the last one's population is the latest.
        voted = sorted((document for document in of_year if document["natdec"] in ("01", "02", "03")),
                       key=lambda document: (("01", "03", "02").index(document["natdec"]),
                                             document["decision"].zfill(8)))
        has_bp = any(document["natdec"] == "01" for document in voted)
        accounts.sort(key=lambda document: document["csv"].name)
        if accounts:
            source = accounts[-1]
            figures, measure = sums([source["csv"]], "BGT_MTREAL"), "realised"
        elif has_bp:
            source = [document for document in voted if document["natdec"] == "01"][-1]
            figures, measure = sums([document["csv"] for document in voted], "BGT_MTPREV"), "voted"
        else:
            years[year] = {"measure": None}
            continue
        population_from = next((document for document in [*accounts[-1:], *reversed(voted), source]
                                if document["population"]), None)
        population = population_from["population"] if population_from else None
        real = defaultdict(Decimal)
        for (section, codrd, opbudg), total in figures["totals"].items():
            if opbudg == "réel":
                real[(section, codrd)] += total
        expected = {"measure": measure, "norme": source["norme"], "population": population, "figures": figures,
                    "ratios": population_from["ratios"] if population_from else {},
                    "per_inhabitant": {key: (total / population).quantize(CENTS, ROUND_HALF_EVEN)
                                       for key, total in real.items()} if population else {},
                    "execution": None}
        if accounts:
            planned = (sums([document["csv"] for document in voted], "BGT_MTPREV") if has_bp
                       else sums([source["csv"]], "BGT_CREDOUV"))
            execution = {}
            for kind in ("totals", "chapters", "functions") if has_bp else ("totals", "chapters"):
                execution[kind] = {}
                for key in set(figures[kind]) | set(planned[kind]):
                    done, plan = figures[kind].get(key, Decimal(0)), planned[kind].get(key, Decimal(0))
                    execution[kind][key] = (plan, done, done - plan,
                                            (done / plan).quantize(RATE, ROUND_HALF_EVEN) if plan else None)
            expected["execution"] = ("budget" if has_bp else "credits_ouverts", execution)
        years[year] = expected
    return years


def stratum(population: int) -> int:
    return [bound for bound in STRATA if bound <= population][-1]


def median(values: list[Decimal]) -> Decimal:
    ordered, middle = sorted(values), len(values) // 2
    return ordered[middle] if len(ordered) % 2 else ((ordered[middle - 1] + ordered[middle]) / 2).quantize(
        CENTS, ROUND_HALF_EVEN)


# ---------------------------------------------------------------- the comparison

def by_key(rows: list[dict], names: tuple[str, ...], *fields: str) -> dict:
    return {tuple(row[name] for name in names): tuple(row[field] for field in fields) for row in rows}


NAMES = {"totals": ("section", "codrd", "opbudg"), "chapters": ("section", "codrd", "code"),
         "functions": ("codrd", "code")}


def text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def check_corpus(documents: list[dict]) -> dict:
    """Compares every budget's summary with the recomputation; returns how many figures matched
    (``figures``), the most peers a year had (``peers``), the number of breaks (``breaks``) and of
    executions by where their voted figures come from (``executions``)."""
    budgets = defaultdict(list)
    for document in documents:
        budgets[(document["siret"], document["annex"])].append(document)
    summaries, expected = {}, {}
    for identity, budget_documents in budgets.items():
        described = [collectivite.describe_document(document["xml"], document["csv"]) for document in budget_documents]
        summaries[identity] = collectivite.collectivite_summary(described, offline_settings())
        expected[identity] = recompute_budget(budget_documents)
    mains = [identity for identity in budgets if not identity[1]]
    compared = most_peers = breaks = 0
    executions: dict[str, int] = defaultdict(int)
    for identity, summary in summaries.items():
        breaks += len(summary["breaks"])
        if not identity[1]:
            summary = collectivite.peer_comparison(summary, [summaries[other] for other in mains if other != identity])
        assert [year["exercice"] for year in summary["exercices"]] == sorted(expected[identity]), identity
        for year in summary["exercices"]:
            wanted = expected[identity][year["exercice"]]
            assert year["measure"] == wanted["measure"], (identity, year["exercice"])
            if wanted["measure"] is None:
                continue
            for kind, names in NAMES.items():
                assert by_key(year[kind], names, "amount") == {
                    key: (text(total),) for key, total in wanted["figures"][kind].items()}, (identity, kind)
                compared += len(year[kind])
            assert year["population"] == wanted["population"]
            assert by_key(year["per_inhabitant"], ("section", "codrd"), "amount") == {
                key: (text(value),) for key, value in wanted["per_inhabitant"].items()}
            assert {ratio["code"]: (ratio["value"], ratio["national_average"]) for ratio in year["ratios"]} == {
                code: (text(value), text(average or None)) for code, (value, average) in wanted["ratios"].items()}
            compared += len(year["per_inhabitant"]) + len(year["ratios"])
            if wanted["execution"] is None:
                assert year["execution"] is None
            else:
                source, execution = wanted["execution"]
                assert year["execution"]["voted_source"] == source
                executions[source] += 1
                for kind, names in NAMES.items():
                    assert by_key(year["execution"][kind], names, "voted", "realised", "gap", "rate") == {
                        key: tuple(text(value) for value in figures)
                        for key, figures in execution.get(kind, {}).items()}, (identity, year["exercice"], kind)
                    compared += 4 * len(year["execution"][kind])
            if identity[1]:
                continue
            if not wanted["population"]:
                assert year["peers"] is None
                continue
            peers = [expected[other][year["exercice"]] for other in mains if other != identity
                     and year["exercice"] in expected[other]]
            peers = [peer for peer in peers if peer["measure"] == wanted["measure"] and peer["population"]
                     and peer["norme"] == wanted["norme"]
                     and stratum(peer["population"]) == stratum(wanted["population"])]
            values = defaultdict(list)
            for peer in peers:
                for key, value in peer["per_inhabitant"].items():
                    values[key].append(value)
            assert year["peers"]["count"] == len(peers)
            most_peers = max(most_peers, len(peers))
            assert by_key(year["peers"]["per_inhabitant"], ("section", "codrd"), "count", "median", "min", "max") == {
                key: (len(found), text(median(found)), text(min(found)), text(max(found)))
                for key, found in values.items()}, (identity, year["exercice"])
            compared += 4 * len(values)
    return {"figures": compared, "peers": most_peers, "breaks": breaks, "executions": dict(executions)}


def test_the_sample_corpus_summaries_equal_a_recomputation(sample_corpus):
    assert check_corpus(sample_corpus)["figures"] > 500


def test_the_bench_corpus_summaries_equal_a_recomputation(bench_corpus):
    # What the corpus is meant to exercise is there: populations, ratios, changes of norme, years
    # whose account executes a BP + BS + DMs, CFUs, peers.
    assert len(bench_corpus) == 1000
    assert len({(document["siret"], document["annex"]) for document in bench_corpus}) == 200
    assert all(document["population"] and len(document["ratios"]) == 3 for document in bench_corpus)
    normes = defaultdict(set)
    for document in bench_corpus:
        normes[document["siret"]].add(document["norme"])
    assert sum(1 for found in normes.values() if found == {"M14", "M57"}) >= 10
    assert sum(1 for found in normes.values() if found == {"M52", "M57"}) >= 2
    stages = defaultdict(list)
    for document in bench_corpus:
        stages[(document["siret"], document["year"])].append(document["natdec"])
    whole_years = [found for found in stages.values() if {"01", "02", "03"} <= set(found) and {"09", "10"} & set(found)]
    assert len(whole_years) >= 40 and sum(1 for found in whole_years if found.count("02") == 2) >= 20
    assert sum(1 for found in whole_years if "10" in found) >= 2
    checked = check_corpus(bench_corpus)
    assert checked["figures"] > 200_000 and checked["breaks"] >= 30 and checked["peers"] >= 20
    # Every whole year's account is executed against its BP + BS + DMs, the others against their opened credits.
    assert checked["executions"]["budget"] == len(whole_years) and checked["executions"]["credits_ouverts"] >= 300


def test_the_bench_corpus_annex_padding_enters_no_figure(tmp_path):
    """The annex loans the bench corpus is padded with change neither the CSV nor the general
    information: a collectivité's previous year's CA, then its whole year (BP, BS, a DM and the
    CFU), written with and without them."""
    specs = [(name, spec) for name, spec in corpus_specs() if name.startswith("commune-500-3500-088-")]
    assert {spec.natdec for _name, spec in specs} == {"09", "01", BUDGET_SUPPLEMENTAIRE, "02", COMPTE_FINANCIER_UNIQUE}
    for name, spec in specs:
        padded, unpadded = tmp_path / f"padded-{name}", tmp_path / f"unpadded-{name}"
        write_document(padded, spec, PLANS_DIR)
        write_document(unpadded, spec, PLANS_DIR, annex_padding=False)
        assert padded.stat().st_size > unpadded.stat().st_size + spec.loans * 100, name
        described = []
        for xml in (padded, unpadded):
            conversion.convert_document(xml, xml.with_suffix(".csv"),
                                        offline_settings(cache_dir=str(tmp_path / "cache")))
            facts = collectivite.describe_document(xml, xml.with_suffix(".csv"))
            described.append((facts.population, facts.ratios, facts.natdec, facts.exercice, facts.nomenclature,
                              facts.decision, read_document(xml)))
        assert padded.with_suffix(".csv").read_bytes() == unpadded.with_suffix(".csv").read_bytes(), name
        assert described[0] == described[1] and described[0][0] == spec.population, name
