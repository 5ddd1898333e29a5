"""Write a large, realistic TOTEM compte administratif for benchmarks.

Codes come from a real plan de comptes: each line draws an account that the
plan allows for its kind of operation (real, ordre between sections, ordre
within a section), with the matching chapter in ContNat (or no ContNat, as
producers often do), a function from the plan's RefFonctionnelles, amounts with
two decimals, a few calculated total lines and an annex block. Output is
deterministic for a given seed and size.

    python bench/generate_totem.py OUT.xml [--size-mb 30] [--plans ../shared/data/plans-de-comptes]
"""
from __future__ import annotations

import argparse
import random
from pathlib import Path
from xml.sax.saxutils import quoteattr

from lxml import etree

REPOSITORY = Path(__file__).resolve().parents[1]
DEFAULT_PLANS = REPOSITORY / ".." / "shared" / "data" / "plans-de-comptes"
NAMESPACE = "http://www.minefi.gouv.fr/cp/demat/docbudgetaire"
YEAR, NORME, DECLINAISON = 2022, "M14", "M14_COM_SUP3500"

# (CodRD, OpBudg, TypOpBudg, plan column giving the chapter), with their usual weights.
LINE_KINDS = [
    (("D", "0", "", "DR"), 60),
    (("R", "0", "", "RR"), 25),
    (("D", "1", "2", "DOES"), 6),
    (("R", "1", "2", "ROES"), 6),
    (("D", "1", "1", "DOIS"), 2),
    (("R", "1", "1", "ROIS"), 1),
]


def plan_codes(plans: Path):
    """Accounts usable per plan column, and the plan's function codes."""
    root = etree.parse(str(plans / str(YEAR) / NORME / DECLINAISON / "planDeCompte.xml")).getroot()
    by_column: dict[str, list[tuple[str, str]]] = {}
    for account in root.iterfind("Nature/Comptes//Compte"):
        for column in ("DR", "RR", "DOES", "ROES", "DOIS", "ROIS"):
            chapter = account.get(column)
            if chapter:
                by_column.setdefault(column, []).append((account.get("Code"), chapter))
    functions = [element.get("Code") for element in root.iterfind("Fonction/RefFonctionnelles//RefFonc")]
    return by_column, functions


def amount(rng: random.Random) -> str:
    return f"{rng.randint(0, 5_000_000_00) / 100:.2f}"


def line_xml(rng: random.Random, by_column, functions) -> str:
    (codrd, opbudg, typopbudg, column), = rng.choices([kind for kind, _ in LINE_KINDS],
                                                      weights=[weight for _, weight in LINE_KINDS])
    nature, chapter = rng.choice(by_column[column])
    parts = [f'<Nature V="{nature}"/>', f'<Fonction V="{rng.choice(functions)}"/>']
    if rng.random() < 0.75:  # a quarter of real documents' lines carry no ContNat
        parts.append(f'<ContNat V="{chapter}"/>')
    parts += ['<ArtSpe V="false"/>', f'<CodRD V="{codrd}"/>']
    prevision = amount(rng)
    parts += [f'<MtPrev V="{prevision}"/>', f'<CredOuv V="{prevision}"/>', f'<MtReal V="{amount(rng)}"/>']
    if rng.random() < 0.1:
        parts.append(f'<MtRAR3112 V="{amount(rng)}"/>')
    parts.append(f'<OpBudg V="{opbudg}"/>')
    if typopbudg:
        parts.append(f'<TypOpBudg V="{typopbudg}"/>')
    parts.append(f'<MtSup Code="BudgetHorsRAR" V="{prevision}"/>')
    return "      <LigneBudget>\n         " + "\n         ".join(parts) + "\n      </LigneBudget>\n"


def calculated_line_xml(rng: random.Random) -> str:
    return ('      <LigneBudget calculated="true">\n'
            f'         <CodRD V="{rng.choice("DR")}"/>\n'
            f'         <MtReal V="{amount(rng)}"/>\n'
            '         <OpBudg V="0"/>\n'
            '      </LigneBudget>\n')


HEADER = f"""<?xml version="1.0" encoding="UTF-8"?>
<DocumentBudgetaire xmlns="{NAMESPACE}">
   <VersionSchema V="100"/>
   <BlocEditeur><CodeEditeur V="budgetod bench generator"/></BlocEditeur>
   <Scellement md5="00000000000000000000000000000000" sha1="0000000000000000000000000000000000000000" date="{YEAR + 1}-03-01T10:00:00"/>
   <EnTeteDocBudgetaire>
      <DteStr V="{YEAR + 1}-03-01"/>
      <LibellePoste V="TRESORERIE GENERATED"/>
      <IdPost V="000000"/>
      <LibelleColl V="VILLE GENEREE"/>
      <IdColl V="21930048000015"/>
      <NatCEPL V="Commune"/>
      <Departement V="93"/>
   </EnTeteDocBudgetaire>
   <Budget>
      <EnTeteBudget>
         <LibelleEtab V="BUDGET PRINCIPAL"/>
         <IdEtab V="21930048000015"/>
         <CodColl V="101"/>
         <CodInseeColl V="93048"/>
         <CodBud V="00"/>
         <Nomenclature V="{NORME}-{DECLINAISON}"/>
      </EnTeteBudget>
      <BlocBudget>
         <NatDec V="09"/>
         <Exer V="{YEAR}"/>
         <DteDec V="{YEAR + 1}-02-27"/>
         <NatVote V="FcIc"/>
         <CodTypBud V="P"/>
      </BlocBudget>
"""
FOOTER = "   </Budget>\n</DocumentBudgetaire>\n"


def annexes_xml(rng: random.Random, count: int) -> str:
    loans = "".join(
        "         <EMPRUNT>\n"
        f"            <CodTypEmpr V=\"01\"/><LibOrgaPret V={quoteattr(f'PRETEUR {index}')}/>"
        f"<MtEmprOrig V=\"{amount(rng)}\"/><MtCapitalRestDu_01_01 V=\"{amount(rng)}\"/>\n"
        "         </EMPRUNT>\n"
        for index in range(count))
    return f"      <Annexes>\n         <DATA_EMPRUNT>\n{loans}         </DATA_EMPRUNT>\n      </Annexes>\n"


def generate(output: Path, size_bytes: int, plans: Path, seed: int = 2022) -> int:
    """Write the document; returns the number of non-calculated lines."""
    rng = random.Random(seed)
    by_column, functions = plan_codes(plans)
    annexes = annexes_xml(rng, 200)
    lines = 0
    with open(output, "w", encoding="utf-8", newline="\n") as stream:
        stream.write(HEADER)
        written = len(HEADER) + len(annexes) + len(FOOTER)
        while written < size_bytes:
            chunk = line_xml(rng, by_column, functions)
            lines += 1
            if lines % 50 == 0:
                chunk += calculated_line_xml(rng)
            stream.write(chunk)
            written += len(chunk)
        stream.write(annexes)
        stream.write(FOOTER)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--size-mb", type=float, default=30)
    parser.add_argument("--plans", type=Path, default=DEFAULT_PLANS)
    parser.add_argument("--seed", type=int, default=2022)
    arguments = parser.parse_args()
    lines = generate(arguments.output, int(arguments.size_mb * 2**20), arguments.plans, arguments.seed)
    print(f"{arguments.output}: {arguments.output.stat().st_size} bytes, {lines} lines")


if __name__ == "__main__":
    main()
