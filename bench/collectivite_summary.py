"""Time and peak memory of the summaries of a whole region's budgets across the years.

Goal (issue 16): the summary of the 1,000 documents' region builds in under a minute. The corpus is
the harvest benchmark's (bench/generate_corpus.py, written once into .local/bench/corpus-200): 200
collectivités × 5 documents over 2019–2023, BP, BS, DM, CA and CFU (one year in four collectivités
with its whole budget, whose account executes BP + BS + DMs), M14, M52, M71, M4x and M57 with
changes of norme, each document with its population and ratios. Its documents are converted once to SCDL CSVs (into
.local/bench/collectivite-csv, reused while the CSV is newer than its document; the time is printed,
not part of the goal). Then, as the action ``budgetod_collectivite_summary`` does for every budget
of the portal:

- each budget's summary (``collectivite.collectivite_summary`` over its documents: the TOTEM
  document's general information and the CSV's sums, the crosswalk of its breaks), kept by
  ``collectivite.cached_summary`` until one of its files changes;
- each main budget compared with all the others (``collectivite.peer_comparison``).

Cold: an empty summary cache; warm: the same again with the cache the cold run left. Each run is
its own process: its time is the wall time of the whole process, start-up included, its memory the
process's peak RSS (``os.wait4``). A budget is what a collectivité's file names share (the
portal's metadata groups them by SIRET: one budget per collectivité here).

    python bench/collectivite_summary.py [--collectivites 200] [--runs 1]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import processes
from generate_corpus import write_corpus
from locations import REPOSITORY, SHARED_DATA

BENCH = REPOSITORY / ".local" / "bench"
PLANS = SHARED_DATA / "plans-de-comptes"
GOAL_SECONDS = 60


def budget_files(corpus: Path, csv_directory: Path) -> dict[str, list[tuple[Path, Path]]]:
    """Budget (the collectivité's slug, before its stage and year) → its (XML, CSV) pairs."""
    budgets: dict[str, list[tuple[Path, Path]]] = defaultdict(list)
    for xml in sorted(corpus.glob("*.xml")):
        budgets[xml.stem.rsplit("-", 2)[0]].append((xml, csv_directory / f"{xml.stem}.csv"))
    return budgets


def convert(corpus: Path, csv_directory: Path) -> int:
    """Every document without an up-to-date CSV converted; returns how many were."""
    from ckanext.budgetod.core.scdl import conversion
    from ckanext.budgetod.core.settings import Settings

    settings = Settings(plans_de_comptes=str(PLANS), cache_dir=str(BENCH / "plans-cache"))
    csv_directory.mkdir(parents=True, exist_ok=True)
    converted = 0
    for xml in sorted(corpus.glob("*.xml")):
        target = csv_directory / f"{xml.stem}.csv"
        if target.exists() and target.stat().st_mtime_ns >= xml.stat().st_mtime_ns:
            continue
        conversion.convert_document(xml, target, settings)
        converted += 1
    return converted


def build(corpus: Path, csv_directory: Path, cache_directory: Path) -> dict:
    """Every budget's summary (from the cache when its files are unchanged), then every main budget
    with its peers; returns counts of what was built."""
    from ckanext.budgetod.core.scdl import collectivite
    from ckanext.budgetod.core.settings import Settings

    settings = Settings(plans_de_comptes=str(PLANS), cache_dir=str(BENCH / "plans-cache"))
    summaries = {}
    for budget, files in budget_files(corpus, csv_directory).items():
        identity = [[path.name, path.stat().st_size, path.stat().st_mtime_ns] for pair in files for path in pair]

        def summarise(files=files) -> dict:
            return collectivite.collectivite_summary(
                [collectivite.describe_document(xml, csv_path) for xml, csv_path in files], settings)

        summaries[budget] = collectivite.cached_summary(cache_directory, budget, identity, summarise)
    # Annex budgets (the régies: their own SIRET, an IdEtabPal) have no peers and are none.
    mains = [budget for budget in summaries if not budget.startswith("regie-")]
    compared = [collectivite.peer_comparison(summaries[budget],
                                             [summaries[other] for other in mains if other != budget])
                for budget in mains]
    years = [year for summary in summaries.values() for year in summary["exercices"]]
    peered = [year["peers"]["count"] for summary in compared for year in summary["exercices"] if year["peers"]]
    return {"budgets": len(summaries), "documents": sum(len(year["documents"]) for year in years),
            "years_with_figures": sum(1 for year in years if year["measure"]),
            "executions": sum(1 for year in years if year.get("execution")),
            "executions_of_the_budget": sum(1 for year in years if (year.get("execution") or {}).get("voted_source")
                                            == "budget"),
            "breaks": sum(len(summary["breaks"]) for summary in summaries.values()),
            "years_with_peers": len(peered), "median_peer_count": sorted(peered)[len(peered) // 2] if peered else 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collectivites", type=int, default=200)
    parser.add_argument("--runs", type=int, default=1, help="warm runs (best time, highest peak)")
    # The child processes' own steps.
    parser.add_argument("--convert", nargs=2, type=Path, metavar=("CORPUS", "CSV_DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--build", nargs=3, type=Path, metavar=("CORPUS", "CSV_DIR", "CACHE"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.convert:
        print(json.dumps({"converted": convert(*arguments.convert)}))
        return
    if arguments.build:
        print(json.dumps(build(*arguments.build)))
        return

    corpus = BENCH / f"corpus-{arguments.collectivites}"
    csv_directory = BENCH / f"collectivite-csv-{arguments.collectivites}"
    cache = BENCH / f"collectivite-cache-{arguments.collectivites}"
    print(f"corpus: {corpus.relative_to(REPOSITORY)} (written once, then reused)", flush=True)
    started = time.perf_counter()
    manifest = write_corpus(corpus, PLANS, arguments.collectivites)
    print(f"  {manifest['documents']} documents, {manifest['bytes'] / 2**20:.0f} MB "
          f"({time.perf_counter() - started:.0f} s)", flush=True)
    output = BENCH / "collectivite-run.json"
    python = sys.executable
    converting = processes.measure([python, __file__, "--convert", str(corpus), str(csv_directory)], output)
    converted = json.loads(output.read_text())["converted"]
    print(f"conversion to CSV: {converted} documents converted in {converting.wall:.1f} s "
          f"(the others' CSVs reused), peak {converting.peak:.0f} MB", flush=True)

    shutil.rmtree(cache, ignore_errors=True)
    command = [python, __file__, "--build", str(corpus), str(csv_directory), str(cache)]
    cold = processes.measure(command, output)
    counts = json.loads(output.read_text())
    warm = processes.best_of(arguments.runs, command, output)
    print(f"\n{counts['budgets']} budgets, {counts['documents']} documents, {counts['years_with_figures']} years "
          f"with figures, {counts['executions']} executions ({counts['executions_of_the_budget']} against the "
          f"year's BP + BS + DMs), {counts['breaks']} breaks of nomenclature, "
          f"{counts['years_with_peers']} years compared with peers (median {counts['median_peer_count']} peers)")
    print(f"{'':<28}{'wall s':>8}{'cpu s':>8}{'peak MB':>9}")
    for name, run in (("cold (no summary cached)", cold), ("warm (every summary cached)", warm)):
        print(f"{name:<28}{run.wall:>8.1f}{run.cpu:>8.1f}{run.peak:>9.0f}")
    verdict = "met" if cold.wall < GOAL_SECONDS else "MISSED"
    print(f"goal: the region's summaries in under {GOAL_SECONDS} s cold: {verdict}")


if __name__ == "__main__":
    main()
