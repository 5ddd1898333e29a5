"""Whole-process speed and peak memory of ``budgetod occult`` against ``budgetod convert``.

Goal (issue: occultation of personal data): a 30 MB document is occulted in less time than its
conversion, with a peak under 100 MB. Two generated documents of about the given size:

- "loans": bench/generate_totem.py's compte administratif, whose annex is a loan table (no row the
  rules designate: the scanner's fast path);
- "personal": budget lines, then annex rows the rules designate for ``--personal-share`` of the size
  (subsidies to persons with the code after the names, staff pay, loans granted, software fields):
  the rewriting path. 10 % by default, about 40,000 values in 30 MB, a hundred times the density of
  Montreuil's CA; a share of 0.5 is a worst case far from any real document.

Each command runs as its own process; time is the best of the runs, memory the child's peak RSS
(``os.wait4``). The occulted document must convert to the same CSV bytes as the original.

    python bench/occult.py [--runs 3] [--size-mb 30] [--personal-share 0.1]
"""
from __future__ import annotations

import argparse
import filecmp
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import processes
from locations import REPOSITORY, SHARED_DATA

PLANS = SHARED_DATA / "plans-de-comptes"
BUDGETOD = REPOSITORY / ".local" / "venv" / "bin" / "budgetod"
PEAK_MB_TARGET = 100


def personal_rows(index: int) -> str:
    return (
        f'<CONCOURS><LibOrgaBenef V="BENEFICIAIRE {index}"/><ObjSubv V="Aide individuelle {index}"/>'
        f'<MtSubv V="{index % 997}.50"/><CodNatJurBenefCA V="{"P3" if index % 2 else "P1"}"/></CONCOURS>\n'
        f'<PERSONNEL><EmploiGradeAgent V="ADJOINT {index}"/><RemunAgent V="{1500 + index % 1000}.00"/></PERSONNEL>\n'
        f'<PRET><NomBenefPret V="EMPRUNTEUR {index}"/><MtPret V="{index}.00"/></PRET>\n'
        f'<Champ_Editeur V="note {index}"/>\n'
    )


def with_personal_annexes(base: Path, output: Path, size_bytes: int) -> None:
    """``base`` with annex rows the rules designate inserted before ``</Annexes>``, up to the size."""
    content = base.read_bytes()
    marker = content.rindex(b"</Annexes>")
    with open(output, "wb") as stream:
        stream.write(content[:marker])
        index = 0
        while stream.tell() < size_bytes - (len(content) - marker):
            stream.write("".join(personal_rows(index + offset) for offset in range(100)).encode("utf-8"))
            index += 100
        stream.write(content[marker:])


def generate_documents(work: Path, size: int, personal_share: float) -> None:
    sys.path.insert(0, str(REPOSITORY / "bench"))
    from generate_totem import generate

    generate(work / "loans.xml", size, PLANS)
    generate(work / "budget.xml", int(size * (1 - personal_share)), PLANS)
    with_personal_annexes(work / "budget.xml", work / "personal.xml", size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per command and document (best time kept)")
    parser.add_argument("--size-mb", type=float, default=30)
    parser.add_argument("--personal-share", type=float, default=0.1)
    parser.add_argument("--generate-into", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    size = int(arguments.size_mb * 2**20)
    if arguments.generate_into:
        generate_documents(arguments.generate_into, size, arguments.personal_share)
        return
    with tempfile.TemporaryDirectory(prefix="budgetod-bench-occult-") as directory:
        work = Path(directory)
        # In a child process: a child's peak RSS counts the parent's memory it was forked from.
        subprocess.run([sys.executable, __file__, "--generate-into", str(work), "--size-mb", str(arguments.size_mb),
                        "--personal-share", str(arguments.personal_share)], check=True)
        loans, personal = work / "loans.xml", work / "personal.xml"
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPU; best of {arguments.runs} runs\n")
        print(f"{'document':<10} {'MB':>6} {'command':<8} {'seconds':>8} {'CPU s':>8} {'peak MB':>8}")
        verdicts = []
        for name, document in (("loans", loans), ("personal", personal)):
            occulted, original_csv, occulted_csv = (work / f"{name}-occulted.xml", work / f"{name}.csv",
                                                    work / f"{name}-occulted.csv")
            occult = processes.best_of(arguments.runs, [str(BUDGETOD), "occult", str(document), "-o", str(occulted)])
            convert = processes.best_of(arguments.runs, [str(BUDGETOD), "convert", str(document),
                                                         "-o", str(original_csv), "--plans-de-comptes", str(PLANS)])
            processes.measure([str(BUDGETOD), "convert", str(occulted), "-o", str(occulted_csv),
                               "--plans-de-comptes", str(PLANS)])
            megabytes = document.stat().st_size / 2**20
            for label, (seconds, cpu, peak) in (("occult", occult), ("convert", convert)):
                print(f"{name:<10} {megabytes:>6.1f} {label:<8} {seconds:>8.3f} {cpu:>8.3f} {peak:>8.1f}")
            # Compared in chunks: a parent grown by reading them would inflate its next children's peaks.
            same_csv = filecmp.cmp(original_csv, occulted_csv, shallow=False)
            met = occult.wall < convert.wall and occult.peak < PEAK_MB_TARGET and same_csv
            verdicts.append(f"{name}: occulted in {occult.wall / convert.wall:.0%} of the conversion's time, peak "
                            f"{occult.peak:.0f} MB (target < {PEAK_MB_TARGET} MB), same CSV bytes: {same_csv}"
                            + (" — met" if met else " — NOT MET"))
        print()
        print("\n".join(verdicts))


if __name__ == "__main__":
    main()
