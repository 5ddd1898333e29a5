"""Five years of one commune's main budget, made from two real documents of the sample corpus, for
the page bench (bench/collectivite_page.mjs) and the browser tests of the page across the years.

Crach's compte administratif 2021 (M14) becomes the accounts of 2020, 2021 and 2022 and Mohon's
CFU 2023 (M57 abrégée) those of 2023 and 2024, all under one made-up commune (its own SIRET, so
the real Crach 2021 may be its peer): a change of nomenclature M14 → M57 in 2023. Amounts
(MtReal, MtPrev, CredOuv) are scaled per year, exactly (decimals), so that the years differ; the
population (PopTot) is the commune's. Nothing else of the documents changes.

    python bench/collectivite_series.py OUT_DIR     # writes the five documents, prints their paths
"""
from __future__ import annotations

import re
import sys
from decimal import Decimal
from pathlib import Path

from locations import REPOSITORY, SHARED_DATA

SAMPLES = SHARED_DATA / "totem"
sys.path.insert(0, str(REPOSITORY / "bench"))
from generate_corpus import siret  # noqa: E402

SERIES_SIRET = siret("21569999")
SERIES_NAME = "COMMUNE DE DEMOVILLE"
# (file stem, sample, its SIRET, its exercice, new exercice, amount scale, population)
YEARS = (
    ("demoville-ca-2020", "crach-principal-ca-2021.xml", "21560046100010", 2021, 2020, "0.94", "3 402"),
    ("demoville-ca-2021", "crach-principal-ca-2021.xml", "21560046100010", 2021, 2021, "1.03", "3 446"),
    ("demoville-ca-2022", "crach-principal-ca-2021.xml", "21560046100010", 2021, 2022, "1.08", "3 471"),
    ("demoville-cfu-2023", "mohon-cfu-2023.xml", "21560134500014", 2023, 2023, "3.60", "3 488"),
    ("demoville-cfu-2024", "mohon-cfu-2023.xml", "21560134500014", 2023, 2024, "3.75", "3 495"),
)
_AMOUNT = re.compile(rb'<(MtReal|MtPrev|CredOuv) V="([^"]*)"')
_CENTS = Decimal("0.01")


def _scaled(scale: Decimal):
    def replace(match: re.Match) -> bytes:
        amount = (Decimal(match.group(2).decode()) * scale).quantize(_CENTS)
        return b'<%s V="%s"' % (match.group(1), format(amount, "f").encode())
    return replace


def rewrite(sample: bytes, old_siret: str, old_year: int, year: int, scale: str, population: str) -> bytes:
    """The sample as the made-up commune's document of ``year``."""
    text = sample.replace(old_siret.encode(), SERIES_SIRET.encode())
    text = re.sub(rb'<(Exer|Exercice) V="%d"' % old_year, rb'<\1 V="%d"' % year, text)
    text = re.sub(rb'<LibelleColl V="[^"]*"', b'<LibelleColl V="%s"' % SERIES_NAME.encode(), text)
    text = re.sub(rb'<Information Code="PopTot" V="[^"]*"', b'<Information Code="PopTot" V="%s"' % population.encode(),
                  text)
    return _AMOUNT.sub(_scaled(Decimal(scale)), text)


def write_series(directory: Path, samples: Path = SAMPLES) -> dict[str, Path]:
    """Write the five documents into ``directory``; returns their paths by stem."""
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for stem, sample, old_siret, old_year, year, scale, population in YEARS:
        path = directory / f"{stem}.xml"
        path.write_bytes(rewrite((samples / sample).read_bytes(), old_siret, old_year, year, scale, population))
        written[stem] = path
    return written


if __name__ == "__main__":
    for written in write_series(Path(sys.argv[1])).values():
        print(written)
