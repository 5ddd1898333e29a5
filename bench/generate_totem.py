"""Write realistic TOTEM budget documents for benchmarks.

Codes come from the real plan de comptes of the document's year and nomenclature: each line draws
an account that the plan allows for its kind of operation (real, ordre between sections, ordre
within a section), with the matching chapter in ContNat (or no ContNat, as producers often do), a
function from the plan's RefFonctionnelles when the plan has a functional presentation, amounts
with two decimals as the budget stage carries them (BP, BS, DM, CA, CFU: a CA inside the CFU's
wrapper, after a short accounting part), a few calculated total lines and an annex block (loans),
which makes most of a large real document's size, and the general
information a real document opens with when the specification gives it (``InformationsGenerales``:
the population ``PopTot`` and legal ratios beside their national averages, written the French way,
"3 446", "145,53"). Output is deterministic for a given specification. The annex block draws from
its own random stream: written without it (``annex_padding=False``), a document keeps the same
budget lines and general information, only smaller.

    python bench/generate_totem.py OUT.xml [--size-mb 30] [--plans ../shared/data/plans-de-comptes]

writes one compte administratif (M14, 2022) of about the given size; `bench/generate_corpus.py`
writes the 1,000-document corpus of the harvest benchmark through `write_document`.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import random
from pathlib import Path
from xml.sax.saxutils import quoteattr

from locations import SHARED_DATA
from lxml import etree

DEFAULT_PLANS = SHARED_DATA / "plans-de-comptes"
NAMESPACE = "http://www.minefi.gouv.fr/cp/demat/docbudgetaire"

# (CodRD, OpBudg, TypOpBudg, plan column giving the chapter), with their usual weights.
LINE_KINDS = [
    (("D", "0", "", "DR"), 60),
    (("R", "0", "", "RR"), 25),
    (("D", "1", "2", "DOES"), 6),
    (("R", "1", "2", "ROES"), 6),
    (("D", "1", "1", "DOIS"), 2),
    (("R", "1", "1", "ROIS"), 1),
]
BUDGET_PRIMITIF, DECISION_MODIFICATIVE, BUDGET_SUPPLEMENTAIRE = "01", "02", "03"
COMPTE_ADMINISTRATIF, COMPTE_FINANCIER_UNIQUE = "09", "10"
ACCOUNTS = (COMPTE_ADMINISTRATIF, COMPTE_FINANCIER_UNIQUE)
CFU_NAMESPACE = "http://www.minefi.gouv.fr/cp/demat/doccfu"


@dataclasses.dataclass(frozen=True)
class DocumentSpec:
    """What one generated document says: who, which budget, which year, stage and size."""
    siret: str
    collectivite: str  # LibelleColl
    nat_cepl: str
    departement: str
    insee: str
    year: int
    norme: str
    declinaison: str
    natdec: str
    lines: int
    loans: int  # annex entries: the bulk of a large document
    etablissement: str = "BUDGET PRINCIPAL"
    budget_code: str = "00"
    budget_type: str = "P"
    main_siret: str = ""  # IdEtabPal of an annex budget
    decision_number: int = 1
    encoding: str = "UTF-8"
    seed: int = 0
    population: int = 0  # PopTot; 0 writes no general information
    # (code, Val…, MoyNat…) as written, e.g. ("DGFPop", "145,53", "150,00")
    ratios: tuple[tuple[str, str, str], ...] = ()


@functools.cache
def plan_codes(plans: Path, year: int, norme: str, declinaison: str):
    """Accounts usable per plan column, and the plan's function codes (none for plans by nature only)."""
    root = etree.parse(str(plans / str(year) / norme / declinaison / "planDeCompte.xml")).getroot()
    by_column: dict[str, list[tuple[str, str]]] = {}
    for account in root.iterfind("Nature/Comptes//Compte"):
        for column in ("DR", "RR", "DOES", "ROES", "DOIS", "ROIS"):
            chapter = account.get(column)
            if chapter:
                by_column.setdefault(column, []).append((account.get("Code"), chapter))
    functions = [element.get("Code") for element in root.iterfind("Fonction/RefFonctionnelles//RefFonc")]
    return by_column, functions


def amount(rng: random.Random, maximum: int = 5_000_000_00, signed: bool = False) -> str:
    cents = rng.randint(-maximum if signed else 0, maximum)
    return f"{'-' if cents < 0 else ''}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def stage_amounts(rng: random.Random, natdec: str) -> list[str]:
    """The amount elements a line carries at each budget stage, as producers write them."""
    if natdec == BUDGET_PRIMITIF:
        proposed = amount(rng)
        return [f'<MtBudgPrec V="{amount(rng)}"/>', f'<MtPropNouv V="{proposed}"/>',
                f'<MtPrev V="{proposed}"/>', f'<CredOuv V="{proposed}"/>']
    if natdec in (DECISION_MODIFICATIVE, BUDGET_SUPPLEMENTAIRE):  # changes: often reductions
        change = amount(rng, 50_000_000, signed=True)
        return [f'<MtPropNouv V="{change}"/>', f'<MtPrev V="{change}"/>']
    prevision = amount(rng)
    amounts = [f'<MtPrev V="{prevision}"/>', f'<CredOuv V="{prevision}"/>', f'<MtReal V="{amount(rng)}"/>']
    if rng.random() < 0.1:
        amounts.append(f'<MtRAR3112 V="{amount(rng)}"/>')
    return amounts


def line_xml(rng: random.Random, natdec: str, by_column, functions) -> str:
    (codrd, opbudg, typopbudg, column), = rng.choices([kind for kind, _ in LINE_KINDS],
                                                      weights=[weight for _, weight in LINE_KINDS])
    nature, chapter = rng.choice(by_column[column])
    parts = [f'<Nature V="{nature}"/>']
    if functions:
        parts.append(f'<Fonction V="{rng.choice(functions)}"/>')
    if rng.random() < 0.75:  # a quarter of real documents' lines carry no ContNat
        parts.append(f'<ContNat V="{chapter}"/>')
    parts += ['<ArtSpe V="false"/>', f'<CodRD V="{codrd}"/>']
    parts += stage_amounts(rng, natdec)
    parts.append(f'<OpBudg V="{opbudg}"/>')
    if typopbudg:
        parts.append(f'<TypOpBudg V="{typopbudg}"/>')
    return "      <LigneBudget>\n         " + "\n         ".join(parts) + "\n      </LigneBudget>\n"


def calculated_line_xml(rng: random.Random) -> str:
    return ('      <LigneBudget calculated="true">\n'
            f'         <CodRD V="{rng.choice("DR")}"/>\n'
            f'         <MtPrev V="{amount(rng)}"/>\n'
            '         <OpBudg V="0"/>\n'
            '      </LigneBudget>\n')


def header_xml(spec: DocumentSpec) -> str:
    decided = f"{spec.year + 1}-04-15" if spec.natdec in ACCOUNTS else (
        f"{spec.year - 1}-12-14" if spec.natdec == BUDGET_PRIMITIF else
        f"{spec.year}-06-10" if spec.natdec == BUDGET_SUPPLEMENTAIRE
        else f"{spec.year}-{5 + 2 * spec.decision_number:02d}-20")
    main_budget = (f'         <IdEtabPal V="{spec.main_siret}"/>\n         <LibelleEtabPal V="BUDGET PRINCIPAL"/>\n'
                   if spec.main_siret else "")
    insee = f'         <CodInseeColl V="{spec.insee}"/>\n' if spec.insee else ""  # none for départements, régions
    number = f'         <NumDec V="{spec.decision_number}"/>\n' if spec.natdec == DECISION_MODIFICATIVE else ""
    # A CFU wraps the budget document after the accounting one (which the conversion reads past).
    cfu = (f"""<doccfu:CompteFinancierUnique xmlns:doccfu="{CFU_NAMESPACE}">
<DocumentComptable xmlns="http://www.minefi.gouv.fr/cp/demat/doccomptable">
   <EnteteComptable><Infos><Nomenclature V="{spec.declinaison}"/><Exercice V="{spec.year}"/></Infos></EnteteComptable>
</DocumentComptable>
""" if spec.natdec == COMPTE_FINANCIER_UNIQUE else "")
    return f"""<?xml version="1.0" encoding="{spec.encoding}"?>
{cfu}<DocumentBudgetaire xmlns="{NAMESPACE}">
   <VersionSchema V="100"/>
   <BlocEditeur><CodeEditeur V="budgetod bench generator"/></BlocEditeur>
   <Scellement md5="{'0' * 32}" sha1="{'0' * 40}" date="{decided}T10:00:00"/>
   <EnTeteDocBudgetaire>
      <DteStr V="{decided}"/>
      <LibellePoste V="TRESORERIE GENERATED"/>
      <IdPost V="000000"/>
      <LibelleColl V={quoteattr(spec.collectivite)}/>
      <IdColl V="{spec.main_siret or spec.siret}"/>
      <NatCEPL V={quoteattr(spec.nat_cepl)}/>
      <Departement V="{spec.departement}"/>
   </EnTeteDocBudgetaire>
   <Budget>
      <EnTeteBudget>
         <LibelleEtab V={quoteattr(spec.etablissement)}/>
         <IdEtab V="{spec.siret}"/>
{main_budget}         <CodColl V="101"/>
{insee}         <CodBud V="{spec.budget_code}"/>
         <Nomenclature V="{spec.norme}-{spec.declinaison}"/>
      </EnTeteBudget>
      <BlocBudget>
         <NatDec V="{spec.natdec}"/>
{number}         <Exer V="{spec.year}"/>
         <DteDec V="{decided}"/>
         <NatVote V="FcIc"/>
         <CodTypBud V="{spec.budget_type}"/>
      </BlocBudget>
"""


def french_integer(value: int) -> str:
    """An integer as producers write it, thousands apart: "3 446"."""
    return f"{value:,}".replace(",", " ")


def information_xml(spec: DocumentSpec) -> str:
    if not spec.population:
        return ""
    items = [("PopTot", french_integer(spec.population))]
    for code, value, average in spec.ratios:
        items += [(f"Val{code}", value), (f"MoyNat{code}", average)]
    return ("      <InformationsGenerales>\n"
            + "".join(f'         <Information Code="{code}" V="{value}"/>\n' for code, value in items)
            + "      </InformationsGenerales>\n")


def footer_xml(spec: DocumentSpec) -> str:
    return "   </Budget>\n</DocumentBudgetaire>\n" + (
        "</doccfu:CompteFinancierUnique>\n" if spec.natdec == COMPTE_FINANCIER_UNIQUE else "")


def annexes_xml(rng: random.Random, count: int) -> str:
    loans = "".join(
        "         <EMPRUNT>\n"
        f"            <CodTypEmpr V=\"01\"/><LibOrgaPret V={quoteattr(f'PRETEUR {index}')}/>"
        f"<MtEmprOrig V=\"{amount(rng)}\"/><MtCapitalRestDu_01_01 V=\"{amount(rng)}\"/>\n"
        "         </EMPRUNT>\n"
        for index in range(count))
    return f"      <Annexes>\n         <DATA_EMPRUNT>\n{loans}         </DATA_EMPRUNT>\n      </Annexes>\n"


def write_document(output: Path, spec: DocumentSpec, plans: Path, *, size_bytes: int | None = None,
                   annex_padding: bool = True) -> int:
    """Write the document: ``spec.lines`` lines, or as many as reach ``size_bytes`` when given;
    its ``spec.loans`` annex entries unless ``annex_padding`` is false (they enter no SCDL column
    nor general information: the same budget without them is the same CSV, only faster to write
    and read). Returns the number of non-calculated lines."""
    rng = random.Random(spec.seed)
    by_column, functions = plan_codes(plans, spec.year, spec.norme, spec.declinaison)
    header = header_xml(spec) + information_xml(spec)
    annexes = annexes_xml(random.Random(f"{spec.seed}-annexes"), spec.loans) if annex_padding else ""
    footer = footer_xml(spec)
    lines = 0
    with open(output, "w", encoding=spec.encoding, newline="\n") as stream:
        stream.write(header)
        written = len(header) + len(annexes) + len(footer)
        while (written < size_bytes) if size_bytes is not None else (lines < spec.lines):
            chunk = line_xml(rng, spec.natdec, by_column, functions)
            lines += 1
            if lines % 50 == 0:
                chunk += calculated_line_xml(rng)
            stream.write(chunk)
            written += len(chunk)
        stream.write(annexes)
        stream.write(footer)
    return lines


LARGE_CITY_CA_2022 = DocumentSpec(
    siret="21930048000015", collectivite="VILLE GENEREE", nat_cepl="Commune", departement="93",
    insee="93048", year=2022, norme="M14", declinaison="M14_COM_SUP3500", natdec=COMPTE_ADMINISTRATIF,
    lines=0, loans=200, seed=2022)


def generate(output: Path, size_bytes: int, plans: Path, seed: int = 2022) -> int:
    """A large city's compte administratif 2022 of about ``size_bytes``; returns its line count."""
    return write_document(output, dataclasses.replace(LARGE_CITY_CA_2022, seed=seed), plans, size_bytes=size_bytes)


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
