"""Whole-process speed and peak memory of ``budgetod convert`` against yatotem2scdl 0.1.5.

Each converter runs as its own process (what a user or a harvester pays: start-up,
imports, plan parsing, conversion); wall time is the best of the runs, peak memory
the child's maximum resident set size (``os.wait4``). Two documents: the Montreuil
CA 2018 of the shared corpus, and a generated ~30 MB document (bench/generate_totem.py).
The reference's output is also checked for what makes it unusable (étape values
outside the schema, rows without chapter or section).

    python bench/convert.py [--runs 3] [--size-mb 30] [--reference .local/bench-venv/bin/yatotem2scdl]

yatotem2scdl lives in its own virtualenv (pip install yatotem2scdl==0.1.5), never in the project's.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
from pathlib import Path

from locations import REPOSITORY, SHARED_DATA

PLANS = SHARED_DATA / "plans-de-comptes"
MONTREUIL = SHARED_DATA / "totem" / "montreuil-ca-2018.xml"
SCHEMA = SHARED_DATA / "scdl-budget" / "schema-0.8.3.json"
OURS = REPOSITORY / ".local" / "venv" / "bin" / "budgetod"
REFERENCE = REPOSITORY / ".local" / "bench-venv" / "bin" / "yatotem2scdl"
TARGETS = {"montreuil": (5, None), "generated": (20, 100)}  # speed-up, peak MB


def reference_defects(csv_path: Path) -> dict:
    """What the schema would reject in the reference's output, counted by row."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    natdec_values = next(field for field in schema["fields"] if field["name"] == "BGT_NATDEC")["constraints"]["enum"]
    with open(csv_path, encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    return {
        "rows": len(rows),
        "natdec_outside_schema": sum(row["BGT_NATDEC"] not in natdec_values for row in rows),
        "without_chapter": sum(not row["BGT_CONTNAT"] for row in rows),
        "without_section": sum(not row["BGT_SECTION"] for row in rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per converter and document (best time kept)")
    parser.add_argument("--reference-runs-generated", type=int, default=1,
                        help="runs of the reference on the generated document (about a minute each)")
    parser.add_argument("--size-mb", type=float, default=30)
    parser.add_argument("--reference", type=Path, default=REFERENCE)
    parser.add_argument("--ours", type=Path, default=OURS)
    arguments = parser.parse_args()
    if not arguments.reference.exists():
        raise SystemExit(f"{arguments.reference} missing: python -m venv .local/bench-venv && "
                         ".local/bench-venv/bin/pip install yatotem2scdl==0.1.5")

    sys.path.insert(0, str(REPOSITORY / "bench"))
    import processes
    from generate_totem import generate

    with tempfile.TemporaryDirectory(prefix="budgetod-bench-") as directory:
        work = Path(directory)
        generated = work / "generated.xml"
        lines = generate(generated, int(arguments.size_mb * 2**20), PLANS)
        print(f"generated document: {generated.stat().st_size / 2**20:.1f} MB, {lines} lines")
        environment_note = f"python {sys.version.split()[0]}, {os.cpu_count()} CPU"
        print(f"{environment_note}; best of {arguments.runs} runs (reference on the generated document: "
              f"{arguments.reference_runs_generated})\n")
        print(f"{'document':<12} {'MB':>6} {'converter':<14} {'seconds':>8} {'peak MB':>8}")
        verdicts = []
        for name, document, reference_runs in (("montreuil", MONTREUIL, arguments.runs),
                                               ("generated", generated, arguments.reference_runs_generated)):
            ours_csv, reference_csv = work / f"{name}-ours.csv", work / f"{name}-reference.csv"
            ours = processes.best_of(arguments.runs, [str(arguments.ours), "convert", str(document),
                                                      "-o", str(ours_csv), "--plans-de-comptes", str(PLANS)],
                                     work / "ours.stdout")
            reference = processes.best_of(reference_runs, [str(arguments.reference), "budget", str(document),
                                                 "--plans-de-comptes", str(PLANS)], reference_csv)
            size = document.stat().st_size / 2**20
            for label, run in (("budgetod", ours), ("yatotem2scdl", reference)):
                print(f"{name:<12} {size:>6.1f} {label:<14} {run.wall:>8.3f} {run.peak:>8.1f}")
            speedup, memory_ratio = reference.wall / ours.wall, reference.peak / ours.peak
            wanted_speedup, wanted_peak = TARGETS[name]
            met = (speedup >= wanted_speedup and ours.peak < reference.peak
                   and (wanted_peak is None or ours.peak < wanted_peak))
            verdicts.append(
                f"{name}: {speedup:.1f}x faster (target {wanted_speedup}x), {memory_ratio:.1f}x less memory"
                + (f", peak {ours.peak:.0f} MB (target < {wanted_peak} MB)" if wanted_peak else "")
                + (" — met" if met else " — NOT MET"))
            verdicts.append(f"   reference output: {reference_defects(reference_csv)}")
        print()
        print("\n".join(verdicts))


if __name__ == "__main__":
    main()
