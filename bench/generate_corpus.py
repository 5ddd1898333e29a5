"""Write the harvest benchmark's corpus: 200 collectivités of a region × 5 exercices = 1,000 TOTEM documents.

The collectivités are shaped on a region like Grand Est: 1 région (M71, then M57), 10 départements
(M52, some moving to M57), 24 intercommunalités and 135 communes of three sizes (M14, some moving
to M57), and 30 budgets annexes with their own SIRET (water M49, transport M43, other M4). Each
collectivité has 5 documents. Three in four have one per exercice 2019–2023: a budget primitif, a
décision modificative or a compte administratif, in turn (a CA without its year's BP compares with
its own opened credits; a year with only a DM has no figures). Every fourth collectivité publishes
the whole of one year instead, so that execution against the voted budget (BP + BS + DMs) is
exercised: half of them the year's BP, budget supplémentaire, a DM and its account, after the
previous year's account; the other half the year's BP, BS, two DMs and its account. That account is
a compte financier unique (CFU) when the collectivité is under M57 from 2023, else a CA. Each
document opens with
its general information: the population (``PopTot``, following the collectivité's size and growing or
shrinking a little from year to year) and three legal ratios with their national averages (DGF and
outstanding debt per inhabitant, staff expenditure in %), so that per-inhabitant figures and peers
(same norme, same population band) are exercised; the collectivités that move to M57 in 2022 or 2023
give breaks of nomenclature. Line counts and sizes follow the collectivité's size and the
stage (a DM is short, a CA the longest); the annex loans of the large ones take documents to tens of
MB, as real large documents are. Half of the documents are written in ISO-8859-1, as many producers
do. Codes come from each year's real plan de comptes (see generate_totem.py). Deterministic.

    python bench/generate_corpus.py OUT_DIR [--plans ../shared/data/plans-de-comptes] [--collectivites 200]
                                    [--no-annex-padding]

Writes OUT_DIR/*.xml and OUT_DIR/corpus.json (the specifications, the total size); an existing
corpus with the same specifications is kept as it is. ``--no-annex-padding`` writes the same
documents without their annex loans (the tests' way to read the whole corpus quickly: the loans enter
no figure, see generate_totem.write_document).
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_totem import (
    BUDGET_PRIMITIF,
    BUDGET_SUPPLEMENTAIRE,
    COMPTE_ADMINISTRATIF,
    COMPTE_FINANCIER_UNIQUE,
    DECISION_MODIFICATIVE,
    DEFAULT_PLANS,
    DocumentSpec,
    write_document,
)

YEARS = range(2019, 2024)
DEPARTEMENTS = ("08", "10", "51", "52", "54", "55", "57", "67", "68", "88")
# Written into the manifest's fingerprint: a corpus of an earlier generator is written again.
GENERATOR_VERSION = 2
# Stage of each exercice, in turn from a per-collectivité offset: 40 % BP, 20 % DM, 40 % CA.
STAGES = (BUDGET_PRIMITIF, COMPTE_ADMINISTRATIF, DECISION_MODIFICATIVE, BUDGET_PRIMITIF, COMPTE_ADMINISTRATIF)
# Every WHOLE_YEAR-th collectivité publishes the whole of one year (see the module docstring).
WHOLE_YEAR = 4
# Lines of the other stages relative to the account's.
STAGE_SHARE = {COMPTE_ADMINISTRATIF: 1.0, COMPTE_FINANCIER_UNIQUE: 1.0, BUDGET_PRIMITIF: 0.8,
               BUDGET_SUPPLEMENTAIRE: 0.2, DECISION_MODIFICATIVE: 0.12}
STAGE_NAMES = {BUDGET_PRIMITIF: "bp", BUDGET_SUPPLEMENTAIRE: "bs", DECISION_MODIFICATIVE: "dm",
               COMPTE_ADMINISTRATIF: "ca", COMPTE_FINANCIER_UNIQUE: "cfu"}
ANNEX_LOAN_BYTES = 170  # one generated EMPRUNT entry


@dataclasses.dataclass(frozen=True)
class Kind:
    """A kind of collectivité: how many, its nomenclature before and after moving to M57, and the
    size of its compte administratif (lines, then megabytes of annexes)."""
    name: str
    count: int
    nat_cepl: str
    nomenclature: tuple[str, str]
    m57: tuple[str, str] | None  # what it moves to, by 2023 declinaison
    moves_to_m57: float  # share of them that move, in 2022 or 2023
    lines: tuple[int, int]
    annex_mb: tuple[float, float]
    population: tuple[int, int]  # an annex budget's is its commune's


KINDS = (
    Kind("region", 1, "Region", ("M71", "M71"), ("M57", "M57_D"), 1.0, (4_000, 6_000), (25.0, 40.0),
         (5_500_000, 5_600_000)),
    Kind("departement", 10, "Departement", ("M52", "M52"), ("M57", "M57_D"), 0.4, (2_500, 5_000), (5.0, 20.0),
         (150_000, 1_150_000)),
    Kind("epci", 24, "Groupement a fiscalite propre", ("M14", "M14_COM_SUP3500"), ("M57", "M57_D"), 0.3,
         (600, 2_000), (0.5, 5.0), (10_000, 150_000)),
    Kind("commune-sup3500", 30, "Commune", ("M14", "M14_COM_SUP3500"), ("M57", "M57_D"), 0.3,
         (400, 1_500), (0.3, 3.0), (3_500, 60_000)),
    Kind("commune-500-3500", 70, "Commune", ("M14", "M14_COM_500_3500"), ("M57", "M57_A"), 0.15,
         (150, 400), (0.05, 0.3), (500, 3_499)),
    Kind("commune-inf500", 35, "Commune", ("M14", "M14_COM_INF500"), ("M57", "M57_A"), 0.1,
         (60, 150), (0.02, 0.08), (60, 499)),
    Kind("regie-eau", 15, "Commune", ("M4", "M49_A"), None, 0, (60, 300), (0.03, 0.3), (500, 20_000)),
    Kind("regie-transport", 5, "Commune", ("M4", "M43_D"), None, 0, (100, 400), (0.05, 0.5), (5_000, 60_000)),
    Kind("regie-m4", 10, "Commune", ("M4", "M4"), None, 0, (60, 250), (0.03, 0.2), (500, 5_000)),
)
NAME_STARTS = ("Saint-", "Sainte-", "Haut-", "Bas-", "Neuf-", "Vieux-", "", "", "", "")
NAME_ROOTS = ("Dié", "Épinal", "Brûlon", "Étain", "Château", "Moûtiers", "Rémy", "Thionville", "Sélestat",
              "Colmar", "Forbach", "Haguenau", "Lunéville", "Vitry", "Sézanne", "Chaumont", "Bar", "Toul",
              "Verdun", "Sedan", "Rethel", "Troyes", "Langres", "Mulhouse", "Obernai", "Saverne")
NAME_ENDS = ("", "", "-sur-Meuse", "-sur-Marne", "-le-Château", "-les-Bains", "-en-Argonne", "-la-Forêt")


def luhn_completed(digits: str) -> str:
    """``digits`` followed by the digit that makes the whole pass the Luhn check."""
    for last in "0123456789":
        candidate = digits + last
        total = 0
        for position, digit in enumerate(reversed(candidate)):
            value = int(digit) * (2 if position % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable: one digit always completes a Luhn number")


def siret(siren_head: str, establishment: int = 1) -> str:
    """A SIRET whose SIREN and whole number both pass Luhn, as the SCDL check requires."""
    siren = luhn_completed(siren_head)
    return luhn_completed(f"{siren}{establishment:04d}")


def french_decimal(value: float) -> str:
    return f"{value:.2f}".replace(".", ",")


def yearly_information(kind: Kind, population: int, year: int, growth: float,
                       dgf: float, debt: float, staff: float) -> tuple[int, tuple[tuple[str, str, str], ...]]:
    """The population of ``year`` and the year's ratios (DGF and debt per inhabitant, staff %)
    beside the national averages of the kind's stratum that year, drifting from the collectivité's
    2019 values."""
    drift = year - YEARS[0]
    averages = random.Random(f"{kind.name}-{year}")
    ratios = (("DGFPop", french_decimal(dgf * (1 - 0.01 * drift)), french_decimal(averages.uniform(150, 250))),
              ("EncDettePop", french_decimal(debt * (1 + 0.03 * drift)), french_decimal(averages.uniform(600, 900))),
              ("DepPers", french_decimal(staff + drift * 0.4) + " %", french_decimal(averages.uniform(45, 60)) + " %"))
    return max(1, round(population * (1 + growth) ** drift)), ratios


def nomenclature(kind: Kind, moving_year: int | None, year: int) -> tuple[str, str]:
    """(norme, declinaison) of a collectivité's documents of ``year``."""
    norme, declinaison = kind.nomenclature
    if moving_year and year >= moving_year:
        # The M57 plan has one declinaison until 2022, then abridged and developed ones.
        norme, declinaison = "M57", "M57" if year <= 2022 else kind.m57[1]
    if (norme, declinaison) == ("M4", "M43_D") and year >= 2023:
        declinaison = "M43"  # the M43 plan has a single declinaison from 2023
    return norme, declinaison


def schedule(kind: Kind, number: int, offset: int, moving_year: int | None) -> list[tuple[int, str, int]]:
    """(exercice, NatDec, decision number) of a collectivité's 5 documents (module docstring)."""
    if number % WHOLE_YEAR:
        return [(year, STAGES[(offset + year) % len(STAGES)], 1) for year in YEARS]
    # The year it moves to M57 (a break between the previous year's account and this year's), or one of 2020–2023.
    year = moving_year or YEARS[1 + number // WHOLE_YEAR % 4]
    account = (COMPTE_FINANCIER_UNIQUE if nomenclature(kind, moving_year, year)[0] == "M57" and year >= 2023
               else COMPTE_ADMINISTRATIF)
    if number % (2 * WHOLE_YEAR) == 0:
        return [(year - 1, COMPTE_ADMINISTRATIF, 1), (year, BUDGET_PRIMITIF, 1), (year, BUDGET_SUPPLEMENTAIRE, 1),
                (year, DECISION_MODIFICATIVE, 1), (year, account, 1)]
    return [(year, BUDGET_PRIMITIF, 1), (year, BUDGET_SUPPLEMENTAIRE, 1), (year, DECISION_MODIFICATIVE, 1),
            (year, DECISION_MODIFICATIVE, 2), (year, account, 1)]


def collectivite_name(rng: random.Random) -> str:
    return f"{rng.choice(NAME_STARTS)}{rng.choice(NAME_ROOTS)}{rng.choice(NAME_ENDS)}".upper()


def corpus_specs(collectivites: int = 200) -> list[tuple[str, DocumentSpec]]:
    """(file name, specification) of every document, 5 per collectivité."""
    rng = random.Random(2026)
    documents: list[tuple[str, DocumentSpec]] = []
    number = 0
    for kind in KINDS:
        for _ in range(kind.count):
            if number >= collectivites:
                return documents
            number += 1
            departement = DEPARTEMENTS[number % len(DEPARTEMENTS)]
            commune = f"{number:03d}"
            name = collectivite_name(rng)
            identity = {"departement": departement, "insee": f"{departement}{commune}", "nat_cepl": kind.nat_cepl}
            if kind.name == "region":
                identity |= {"siret": siret("20005226"), "collectivite": "REGION GENEREE", "insee": ""}
            elif kind.name == "departement":
                identity |= {"siret": siret(f"22{departement}0001"), "collectivite": f"DEPARTEMENT {departement}",
                             "insee": ""}
            elif kind.name == "epci":
                identity |= {"siret": siret(f"2000{number:04d}"), "collectivite": f"CC DU PAYS DE {name}"}
            elif kind.name.startswith("regie"):
                main = siret(f"21{departement}{commune}0")
                identity |= {"siret": siret(f"21{departement}{commune}0", 2), "main_siret": main,
                             "collectivite": f"COMMUNE DE {name}", "budget_type": "A", "budget_code": "01",
                             "etablissement": {"regie-eau": "REGIE DES EAUX", "regie-transport": "TRANSPORTS URBAINS",
                                               "regie-m4": "REGIE DU CAMPING"}[kind.name]}
            else:
                identity |= {"siret": siret(f"21{departement}{commune}0"), "collectivite": f"COMMUNE DE {name}"}
            ca_lines = rng.randint(*kind.lines)
            annex_mb = rng.uniform(*kind.annex_mb)
            moving_year = rng.choice((2022, 2023)) if rng.random() < kind.moves_to_m57 else None
            offset = rng.randrange(len(STAGES))
            population, growth = rng.randint(*kind.population), rng.uniform(-0.005, 0.012)
            dgf, debt, staff = rng.uniform(80, 400), rng.uniform(0, 2_000), rng.uniform(30, 65)
            slug = f"{kind.name}-{number:03d}"
            of_year: Counter[int] = Counter()
            for year, natdec, decision in schedule(kind, number, offset, moving_year):
                norme, declinaison = nomenclature(kind, moving_year, year)
                share = STAGE_SHARE[natdec]
                year_population, ratios = yearly_information(kind, population, year, growth, dgf, debt, staff)
                spec = DocumentSpec(
                    **identity, year=year, norme=norme, declinaison=declinaison, natdec=natdec,
                    lines=max(10, int(ca_lines * share * rng.uniform(0.9, 1.1))),
                    loans=int(annex_mb * share * 2**20 / ANNEX_LOAN_BYTES),
                    encoding="ISO-8859-1" if number % 2 else "UTF-8", decision_number=decision,
                    # The first document of a year keeps the seed it had when each year had one.
                    seed=number * 10_000 + year + 1_000 * of_year[year],
                    population=year_population, ratios=ratios)
                stage = STAGE_NAMES[natdec] + (str(decision) if decision > 1 else "")
                documents.append((f"{slug}-{stage}-{year}.xml", spec))
                of_year[year] += 1
    return documents


def fingerprint(documents: list[tuple[str, DocumentSpec]], annex_padding: bool = True) -> str:
    specs = [[name, dataclasses.asdict(spec)] for name, spec in documents]
    text = json.dumps([GENERATOR_VERSION, annex_padding, specs], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def write_corpus(directory: Path, plans: Path, collectivites: int = 200, annex_padding: bool = True) -> dict:
    """Write the corpus unless the same one is there already; returns its manifest."""
    documents = corpus_specs(collectivites)
    manifest_path = directory / "corpus.json"
    wanted = fingerprint(documents, annex_padding)
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("fingerprint") == wanted and all((directory / name).exists() for name, _ in documents):
            return manifest
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.xml"):
        stale.unlink()
    started = time.monotonic()
    lines = 0
    for name, spec in documents:
        lines += write_document(directory / name, spec, plans, annex_padding=annex_padding)
    sizes = sorted((directory / name).stat().st_size for name, _ in documents)
    manifest = {
        "fingerprint": wanted, "documents": len(documents), "collectivites": collectivites,
        "annex_padding": annex_padding, "lines": lines,
        "bytes": sum(sizes), "largest_bytes": sizes[-1], "median_bytes": sizes[len(sizes) // 2],
        "nomenclatures": sorted({f"{spec.norme}-{spec.declinaison}" for _, spec in documents}),
        "seconds_to_write": round(time.monotonic() - started, 1),
    }
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--plans", type=Path, default=DEFAULT_PLANS)
    parser.add_argument("--collectivites", type=int, default=200)
    parser.add_argument("--no-annex-padding", dest="annex_padding", action="store_false",
                        help="the same documents without their annex loans (which enter no figure)")
    arguments = parser.parse_args()
    manifest = write_corpus(arguments.output, arguments.plans, arguments.collectivites, arguments.annex_padding)
    print(f"{arguments.output}: {manifest['documents']} documents, {manifest['lines']} lines, "
          f"{manifest['bytes'] / 2**20:.0f} MB (largest {manifest['largest_bytes'] / 2**20:.1f} MB, "
          f"median {manifest['median_bytes'] / 2**10:.0f} KB); nomenclatures: {', '.join(manifest['nomenclatures'])}")


if __name__ == "__main__":
    main()
