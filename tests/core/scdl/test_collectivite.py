"""A collectivité's summary across years: its figures are recomputed here from the CSVs
(and the population and ratios from the XML), independently of the module, on the sample
corpus converted by the real converter and on small budgets whose every stage is written here."""
from __future__ import annotations

import csv
import decimal
import json
import os
import re
from collections import defaultdict
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest
from lxml import etree

from ckanext.budgetod.core import contract
from ckanext.budgetod.core.errors import DocumentError
from ckanext.budgetod.core.scdl import amounts, collectivite, conversion
from ckanext.budgetod.core.scdl.summary import NotScdlBudget
from ckanext.budgetod.core.settings import Settings
from ckanext.budgetod.core.totem import nomenclature
from tests.support.settings import offline_settings
from tests.support.shared import PLANS_DIR, SHARED_TOTEM
from tests.support.totem_factory import Line, totem_document

pytestmark = pytest.mark.usefixtures("offline_environment")


# ---------------------------------------------------------------- independent recomputation

def read_rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def sums(paths: list[Path], column: str) -> dict[str, dict]:
    """Amounts of ``column`` by total, chapter and (real operations) function, over the CSVs."""
    result = {"totals": defaultdict(Decimal), "chapters": defaultdict(Decimal), "functions": defaultdict(Decimal)}
    for path in paths:
        for row in read_rows(path):
            if not row[column]:
                continue
            amount = Decimal(row[column])
            result["totals"][(row["BGT_SECTION"], row["BGT_CODRD"], row["BGT_OPBUDG"])] += amount
            result["chapters"][(row["BGT_SECTION"], row["BGT_CODRD"], row["BGT_CONTNAT"])] += amount
            if row["BGT_OPBUDG"] == "réel" and row["BGT_FONCTION"]:
                result["functions"][(row["BGT_CODRD"], row["BGT_FONCTION"])] += amount
    return result


def keyed(rows: list[dict], kind: str, field: str) -> dict:
    names = {"totals": ("section", "codrd", "opbudg"), "chapters": ("section", "codrd", "code"),
             "functions": ("codrd", "code")}[kind]
    return {tuple(row[name] for name in names): Decimal(row[field]) for row in rows}


def nonzero_equal(computed: dict, expected: dict) -> None:
    """Equal sums; a key the module lists with zero may be absent from a recomputation without the
    column (a CA line with no opened credit)."""
    assert {key: value for key, value in computed.items() if value} == {
        key: value for key, value in expected.items() if value}


def general_information(xml: Path) -> dict[str, str]:
    """The InformationsGenerales of the budget document, read with a whole-tree parse."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.parse(str(xml), parser).getroot()
    block = root.find(".//{http://www.minefi.gouv.fr/cp/demat/docbudgetaire}InformationsGenerales")
    if block is None:
        return {}
    return {element.get("Code"): element.get("V") for element in block}


def french_number(text: str) -> Decimal:
    return Decimal(re.sub(r"\s", "", text).rstrip("%").replace(",", "."))


# ---------------------------------------------------------------- the sample corpus

def test_population_and_ratios_are_the_documents_own(converted):
    for name, (xml, csv_path) in converted.items():
        document = collectivite.describe_document(xml, csv_path)
        information = general_information(xml)
        population = french_number(information["PopTot"]) if "PopTot" in information else None
        assert document.population == (int(population) if population else None), name
        expected = {}
        for code in collectivite.RATIO_CODES:
            if f"Val{code}" in information:
                average = information.get(f"MoyNat{code}")
                average = french_number(average) if average else None
                expected[code] = (french_number(information[f"Val{code}"]), average or None)
        assert {ratio.code: (ratio.value, ratio.national_average) for ratio in document.ratios} == expected, name


def test_sample_figures_documents():
    # What the tests below rely on, read from the files themselves.
    assert general_information(SHARED_TOTEM / "montreuil-ca-2018.xml")["PopTot"] == "107564"
    assert general_information(SHARED_TOTEM / "crach-principal-ca-2021.xml")["PopTot"] == "3 446"
    assert general_information(SHARED_TOTEM / "transport-m43-bp-2022.xml")["PopTot"] == "0"


def test_each_sample_budget_equals_its_csvs(converted):
    for name, (xml, csv_path) in converted.items():
        document = collectivite.describe_document(xml, csv_path)
        result = collectivite.collectivite_summary([document], offline_settings())
        (year,) = result["exercices"]
        assert year["exercice"] == document.exercice
        if document.natdec in collectivite.ACCOUNT_NATDECS:
            column, measure = "BGT_MTREAL", "realised"
        elif document.natdec == "01":
            column, measure = "BGT_MTPREV", "voted"
        else:
            assert year["measure"] is None, name  # a DM alone is no budget
            continue
        assert year["measure"] == measure
        expected = sums([csv_path], column)
        for kind in ("totals", "chapters", "functions"):
            nonzero_equal(keyed(year[kind], kind, "amount"), expected[kind])
        real = defaultdict(Decimal)
        for (section, codrd, opbudg), amount in expected["totals"].items():
            if opbudg == "réel":
                real[(section, codrd)] += amount
        if document.population:
            assert {(row["section"], row["codrd"]): Decimal(row["amount"]) for row in year["per_inhabitant"]} == {
                key: (amount / document.population).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
                for key, amount in real.items()}, name
        else:
            assert year["per_inhabitant"] == []
        if measure == "realised":
            # No BP of that year on the portal: the CA's own opened credits are what was voted.
            execution = year["execution"]
            assert execution["voted_source"] == "credits_ouverts"
            voted = sums([csv_path], "BGT_CREDOUV")
            for kind in ("totals", "chapters"):
                nonzero_equal(keyed(execution[kind], kind, "voted"), voted[kind])
                nonzero_equal(keyed(execution[kind], kind, "realised"), expected[kind])
                for row in execution[kind]:
                    planned, done = Decimal(row["voted"]), Decimal(row["realised"])
                    assert Decimal(row["gap"]) == done - planned
                    assert row["rate"] == (None if not planned else str(
                        (done / planned).quantize(Decimal("0.0001"), ROUND_HALF_EVEN)))
            assert execution["functions"] == []
        else:
            assert year["execution"] is None


def test_crach_2021_ca_with_its_dm(converted):
    documents = [collectivite.describe_document(*converted[name])
                 for name in ("crach-principal-dm2-2021", "crach-principal-ca-2021")]
    (year,) = collectivite.collectivite_summary(documents, offline_settings())["exercices"]
    assert year["measure"] == "realised"
    assert year["figures_documents"] == ["21560046100010-2021-09"]
    assert year["population"] == 3446  # the CA's, not the DM's 3 431
    assert year["documents"] == ["21560046100010-2021-02-2", "21560046100010-2021-09"]
    # No BP: the DM's changes alone are not what was voted.
    assert year["execution"]["voted_source"] == "credits_ouverts"
    ratios = {ratio["code"]: ratio for ratio in year["ratios"]}
    assert ratios["EncDettePop"] == {"code": "EncDettePop", "unit": "per_inhabitant", "value": "643.93",
                                     "national_average": "689.00"}
    assert ratios["DepPers"]["unit"] == "percent" and ratios["DepPers"]["value"] == "50.62"


# ---------------------------------------------------------------- budgets written here

HEADER = ",".join(contract.SCDL_COLUMNS)


def write_csv(path: Path, natdec: str, year: int, rows: list[tuple]) -> Path:
    """rows: (section, codrd, opbudg, chapter, function, MTREAL, MTPREV, CREDOUV)."""
    lines = [HEADER]
    for section, codrd, opbudg, chapter, function, realised, voted, opened in rows:
        cells = dict.fromkeys(contract.SCDL_COLUMNS, "")
        cells.update({"BGT_NATDEC": natdec, "BGT_ANNEE": str(year), "BGT_SIRET": "21560046100010",
                      "BGT_NOM": "CRACH", "BGT_CONTNAT": chapter, "BGT_CONTNAT_LABEL": f"Chapitre {chapter}",
                      "BGT_NATURE": chapter + "1", "BGT_FONCTION": function,
                      "BGT_FONCTION_LABEL": f"Fonction {function}" if function else "",
                      "BGT_SECTION": section, "BGT_OPBUDG": opbudg, "BGT_CODRD": codrd,
                      "BGT_MTREAL": realised, "BGT_MTPREV": voted, "BGT_CREDOUV": opened})
        lines.append(",".join(cells[name] for name in contract.SCDL_COLUMNS))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


F, INV, D, R = "fonctionnement", "investissement", "dépense", "recette"


NOMENCLATURES = {"M14": "M14-M14_COM_500_3500", "M57": "M57-M57_P", "M57_A": "M57-M57_A", "M52": "M52-M52"}


def document(tmp_path: Path, natdec: str, year: int, rows: list[tuple], *, norme: str = "M14",
             decision: str = "", population: int | None = 3000) -> collectivite.BudgetDocument:
    key = f"21560046100010-{year}-{natdec}" + (f"-{decision}" if decision else "")
    nomenclature = NOMENCLATURES[norme]
    norme = nomenclature.partition("-")[0]
    return collectivite.BudgetDocument(key=key, exercice=year, natdec=natdec, nomenclature=nomenclature,
                                       norme=norme, csv_path=str(write_csv(tmp_path / f"{key}.csv", natdec,
                                                                           year, rows)),
                                       population=population, decision=decision)


@pytest.fixture
def five_years(tmp_path) -> list[collectivite.BudgetDocument]:
    """2019–2023: BP, BS and two DMs then the CA of 2021, M57 from 2022, a lone DM in 2020."""
    return [
        document(tmp_path, "09", 2019, [(F, D, "réel", "011", "020", "900.00", "", "1000.00"),
                                        (F, R, "réel", "70", "", "1500.50", "", "1400.00")]),
        document(tmp_path, "02", 2020, [(F, D, "réel", "011", "", "", "50.00", "")], decision="1"),
        document(tmp_path, "01", 2021, [(F, D, "réel", "011", "020", "", "1000.00", ""),
                                        (F, D, "réel", "65", "", "", "200.00", ""),
                                        (F, D, "ordre", "042", "", "", "30.00", ""),
                                        (INV, D, "réel", "21", "822", "", "400.00", ""),
                                        (F, R, "réel", "70", "", "", "1630.00", "")]),
        document(tmp_path, "03", 2021, [(F, D, "réel", "011", "020", "", "100.00", "")]),
        document(tmp_path, "02", 2021, [(F, D, "réel", "011", "020", "", "-30.00", ""),
                                        (INV, D, "réel", "21", "822", "", "25.50", "")], decision="1"),
        document(tmp_path, "02", 2021, [(F, D, "réel", "65", "", "", "10.00", "")], decision="2"),
        document(tmp_path, "09", 2021, [(F, D, "réel", "011", "020", "1000.00", "", "1070.00"),
                                        (F, D, "réel", "65", "", "105.00", "", "210.00"),
                                        (F, D, "ordre", "042", "", "30.00", "", "30.00"),
                                        (INV, D, "réel", "21", "822", "0", "", "425.50"),
                                        (F, R, "réel", "70", "", "1700.00", "", "1630.00"),
                                        (F, R, "réel", "74", "", "12.34", "", "")], population=3001),
        document(tmp_path, "01", 2022, [(F, D, "réel", "011", "", "", "1200.00", "")], norme="M57"),
        document(tmp_path, "01", 2023, [(F, D, "réel", "011", "", "", "1300.00", "")], norme="M57",
                 population=None),
    ]


def by_year(result: dict) -> dict[int, dict]:
    return {year["exercice"]: year for year in result["exercices"]}


def test_execution_against_bp_bs_and_dms(five_years):
    years = by_year(collectivite.collectivite_summary(five_years, offline_settings()))
    execution = years[2021]["execution"]
    assert execution["voted_source"] == "budget"
    assert execution["voted_documents"] == ["21560046100010-2021-01", "21560046100010-2021-03",
                                            "21560046100010-2021-02-1", "21560046100010-2021-02-2"]
    chapters = {(row["section"], row["codrd"], row["code"]): row for row in execution["chapters"]}
    # 011: BP 1000 + BS 100 + DM1 −30 = 1070 voted, 1000 realised.
    assert chapters[(F, D, "011")] == {"section": F, "codrd": D, "code": "011", "label": "Chapitre 011",
                                       "voted": "1070.00", "realised": "1000.00", "gap": "-70.00",
                                       "rate": "0.9346"}
    assert chapters[(F, D, "65")]["voted"] == "210.00" and chapters[(F, D, "65")]["rate"] == "0.5000"
    assert chapters[(INV, D, "21")]["realised"] == "0" and chapters[(INV, D, "21")]["rate"] == "0.0000"
    # Realised without any vote: no rate.
    assert chapters[(F, R, "74")]["voted"] == "0" and chapters[(F, R, "74")]["rate"] is None
    functions = {(row["codrd"], row["code"]): row for row in execution["functions"]}
    assert functions[(D, "020")]["voted"] == "1070.00" and functions[(D, "020")]["realised"] == "1000.00"
    assert functions[(D, "822")]["voted"] == "425.50"
    totals = {(row["section"], row["codrd"], row["opbudg"]): row for row in execution["totals"]}
    assert totals[(F, D, "réel")]["voted"] == "1280.00" and totals[(F, D, "réel")]["realised"] == "1105.00"


def test_execution_equals_a_recomputation(five_years):
    years = by_year(collectivite.collectivite_summary(five_years, offline_settings()))
    voted = sums([Path(d.csv_path) for d in five_years if d.exercice == 2021 and d.natdec != "09"], "BGT_MTPREV")
    account = next(Path(d.csv_path) for d in five_years if d.exercice == 2021 and d.natdec == "09")
    realised = sums([account], "BGT_MTREAL")
    execution = years[2021]["execution"]
    for kind in ("totals", "chapters", "functions"):
        nonzero_equal(keyed(execution[kind], kind, "voted"), voted[kind])
        nonzero_equal(keyed(execution[kind], kind, "realised"), realised[kind])


def test_series_measures_population_and_breaks(five_years):
    result = collectivite.collectivite_summary(five_years, offline_settings())
    years = by_year(result)
    assert [year["exercice"] for year in result["exercices"]] == [2019, 2020, 2021, 2022, 2023]
    assert [years[year]["measure"] for year in years] == ["realised", None, "realised", "voted", "voted"]
    assert years[2020]["documents"] == ["21560046100010-2020-02-1"] and "totals" not in years[2020]
    assert years[2019]["execution"]["voted_source"] == "credits_ouverts"
    assert years[2022]["execution"] is None
    # The CA's population, then none when the document gives none.
    assert years[2021]["population"] == 3001
    per_inhabitant = {(row["section"], row["codrd"]): row["amount"] for row in years[2021]["per_inhabitant"]}
    assert per_inhabitant == {(F, D): "0.37", (F, R): "0.57", (INV, D): "0.00"}  # 1105/3001, 1712.34/3001
    assert years[2023]["population"] is None and years[2023]["per_inhabitant"] == []
    # M57_P is published from 2023: the nearest plan stands for 2022's.
    assert result["breaks"] == [{
        "exercice": 2022, "from": "M14-M14_COM_500_3500", "to": "M57-M57_P",
        "plans": {"from": {"nomenclature": "M14-M14_COM_500_3500", "requested_year": 2021, "used_year": 2021,
                           "message_fr": None, "message_en": None},
                  "to": {"nomenclature": "M57-M57_P", "requested_year": 2022, "used_year": 2023,
                         "message_fr": None, "message_en": None}},
        "comparable_chapters": ["011", "042", "21", "65", "70", "74"], "not_comparable_chapters": []}]
    assert [years[year].get("chapters_comparable") for year in years] == [True, None, True, False, True]
    assert years[2022]["chapters"][0]["comparable"] is True
    assert all("comparable" not in row for year in (2019, 2021, 2023) for row in years[year]["chapters"])


# ---------------------------------------------------------------- the crosswalk between nomenclatures

def plan(year: int, norme: str, declinaison: str) -> nomenclature.PlanDeComptes:
    return nomenclature.load_plan(str(PLANS_DIR / str(year) / norme / declinaison / "planDeCompte.xml"))


def test_the_crosswalk_of_the_real_m14_and_m57_plans():
    comparable = nomenclature.comparable_chapters(plan(2022, "M14", "M14_COM_500_3500"), plan(2023, "M57", "M57_A"))
    # The same code, section and sens in both plans: general, financial, real and ordre chapters.
    assert {"011", "012", "014", "65", "66", "67", "68", "70", "73", "74", "75", "76", "77", "013", "022",
            "023", "042", "10", "16", "20", "21", "23", "040", "041", "024"} <= comparable
    # M14's 656 (members' costs) became 6586 in M57; M57's functional chapters, its 016/017 have no M14 chapter.
    assert not {"656", "6586", "930", "900", "016", "017", "010", "45611"} & comparable


def test_the_crosswalk_of_the_real_m52_and_m57_plans():
    comparable = nomenclature.comparable_chapters(plan(2022, "M52", "M52"), plan(2023, "M57", "M57_D"))
    assert {"011", "012", "65", "66", "016", "017", "70", "73", "74"} & comparable == {
        code for code in ("011", "012", "65", "66", "016", "017", "70", "73", "74")
        if code in plan(2022, "M52", "M52").chapters}


def test_a_chapter_of_the_year_after_a_break_is_comparable_where_the_crosswalk_holds(tmp_path):
    documents = [
        document(tmp_path, "09", 2022, [(F, D, "réel", "011", "", "10.00", "", ""),
                                        (F, D, "réel", "656", "", "2.00", "", "")]),
        document(tmp_path, "09", 2023, [(F, D, "réel", "011", "", "11.00", "", ""),
                                        (F, D, "réel", "6586", "", "2.50", "", ""),
                                        (F, D, "réel", "930", "", "3.00", "", "")], norme="M57_A"),
    ]
    result = collectivite.collectivite_summary(documents, offline_settings())
    (crosswalk,) = result["breaks"]
    assert (crosswalk["comparable_chapters"], crosswalk["not_comparable_chapters"]) == (["011"], ["656", "6586", "930"])
    assert {row["code"]: row["comparable"] for row in by_year(result)[2023]["chapters"]} == {
        "011": True, "6586": False, "930": False}


def test_a_plan_that_cannot_be_read_makes_no_chapter_comparable(tmp_path, plans_dir):
    documents = [document(tmp_path, "09", 2022, [(F, D, "réel", "011", "", "10.00", "", "")]),
                 document(tmp_path, "09", 2023, [(F, D, "réel", "011", "", "11.00", "", "")], norme="M57_A")]
    missing_plans = collectivite.collectivite_summary(documents, Settings(plans_de_comptes=str(plans_dir)))
    (crosswalk,) = missing_plans["breaks"]
    assert crosswalk["comparable_chapters"] == [] and crosswalk["not_comparable_chapters"] == ["011"]
    assert crosswalk["plans"]["to"]["used_year"] is None
    assert crosswalk["plans"]["to"]["message_en"] == (
        "no plan de comptes M57-M57_A is published for 2023 or the years around it")
    assert by_year(missing_plans)[2023]["chapters"][0]["comparable"] is False
    # A mirror that is not there at all: the summary says why instead of failing.
    unreachable = collectivite.collectivite_summary(
        documents, Settings(plans_de_comptes=str(tmp_path / "no-such-mirror")))
    plans = unreachable["breaks"][0]["plans"]["from"]
    assert plans["message_en"] == "the mirror is not an existing directory" and plans["message_fr"]
    assert unreachable["breaks"][0]["comparable_chapters"] == []
    assert str(tmp_path) not in json.dumps(unreachable)  # no path of the server
    # Not cached: the plans are tried again on the next request.
    cache = tmp_path / "cache"
    collectivite.cached_summary(cache, "budget", ["a"], lambda: missing_plans)
    assert not (cache / "budget.json").exists()
    collectivite.cached_summary(cache, "budget", ["a"],
                                lambda: collectivite.collectivite_summary(documents, offline_settings()))
    assert (cache / "budget.json").exists()


def test_a_summary_is_json_with_decimal_strings(five_years):
    text = json.dumps(collectivite.collectivite_summary(five_years, offline_settings()))
    assert "e-" not in text and "E+" not in text
    assert json.loads(text)["version"] == collectivite.COLLECTIVITE_SUMMARY_VERSION


def test_the_cache_follows_the_files_identity(five_years, tmp_path):
    cache = tmp_path / "cache"

    def build() -> dict:
        return collectivite.collectivite_summary(five_years, offline_settings())

    first = collectivite.cached_summary(cache, "budget", ["a", "sha-1"], build)
    # Same identity: the stored summary, even though the file changed behind it.
    write_csv(Path(five_years[0].csv_path), "compte administratif", 2019,
              [(F, D, "réel", "011", "", "1.00", "", "")])
    assert collectivite.cached_summary(cache, "budget", ["a", "sha-1"], build) == first
    rebuilt = collectivite.cached_summary(cache, "budget", ["a", "sha-2"], build)
    assert by_year(rebuilt)[2019]["totals"] == [{"section": F, "codrd": D, "opbudg": "réel", "amount": "1.00"}]
    (cache / "budget.json").write_text("{not json", encoding="utf-8")
    assert collectivite.cached_summary(cache, "budget", ["a", "sha-2"], build) == rebuilt


def test_a_file_that_is_no_scdl_table_is_named(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    budget = collectivite.BudgetDocument(key="k", exercice=2021, natdec="01", nomenclature="M14-M14_COM_500_3500",
                                         norme="M14", csv_path=str(path))
    with pytest.raises(NotScdlBudget) as raised:
        collectivite.collectivite_summary([budget], offline_settings())
    assert str(path) in str(raised.value)


def test_an_unreadable_amount_is_counted(tmp_path):
    path = write_csv(tmp_path / "bp.csv", "budget primitif", 2021, [(F, D, "réel", "011", "", "", "12.50", ""),
                                                                     (F, D, "réel", "011", "", "", "n/a", "")])
    budget = collectivite.BudgetDocument(key="k", exercice=2021, natdec="01", nomenclature="M14-M14_COM_500_3500",
                                         norme="M14", csv_path=str(path))
    (year,) = collectivite.collectivite_summary([budget], offline_settings())["exercices"]
    assert year["unreadable_amounts"] == 1
    assert year["chapters"][0]["amount"] == "12.50"


@pytest.mark.parametrize("forged", ["1" * 35, "9E+999998", "-9E+999998", "1E-999999", "NaN", "Infinity", "1" * 41,
                                    "12345678901234567", "0." + "0" * 20 + "1"])
def test_an_amount_out_of_bounds_is_counted_never_raised(tmp_path, forged):
    """A forged amount took every page down: per inhabitant it could not be quantized to cents."""
    budget = document(tmp_path, "09", 2021, [(F, D, "réel", "011", "020", forged, "", forged),
                                            (F, D, "réel", "011", "020", "12.50", "", "10.00"),
                                            (F, R, "réel", "70", "", "7.00", "", forged)], population=1)
    (year,) = collectivite.collectivite_summary([budget], offline_settings())["exercices"]
    assert year["unreadable_amounts"] == 3
    assert year["totals"] == [{"section": F, "codrd": D, "opbudg": "réel", "amount": "12.50"},
                              {"section": F, "codrd": R, "opbudg": "réel", "amount": "7.00"}]
    assert [row["amount"] for row in year["per_inhabitant"]] == ["12.50", "7.00"]
    assert [row["rate"] for row in year["execution"]["chapters"]] == ["1.2500", None]


def test_a_converted_ca_with_a_35_digit_amount_is_summarised(tmp_path):
    """The forged document as another organisation's source served it: converted, then summarised."""
    xml, csv_path = tmp_path / "ca.xml", tmp_path / "ca.csv"
    xml.write_bytes(totem_document([Line(nature="6064", amounts={"MtReal": "1" * 35}),
                                    Line(nature="6068", amounts={"MtReal": "300.00"})], year="2021", natdec="09"))
    conversion.convert_document(xml, csv_path, offline_settings(cache_dir=str(tmp_path / "cache")))
    described = collectivite.describe_document(xml, csv_path)
    (year,) = collectivite.collectivite_summary([described], offline_settings())["exercices"]
    assert year["unreadable_amounts"] == 1
    assert year["per_inhabitant"] == [{"section": F, "codrd": D, "amount": "0.10"}]  # 300 / 3000


def test_quotients_at_the_bounds_never_fail():
    """The largest sums a file can give, divided by the smallest amount or population: no InvalidOperation."""
    smallest = Decimal("1E-20")
    with decimal.localcontext(amounts.EXACT):
        largest_sum = Decimal("9" * 16 + "." + "9" * 20) * 10**12  # 10^12 rows of the largest amount
        assert amounts.quotient(largest_sum, smallest, amounts.RATE_PLACES) == largest_sum * 10**20
        assert amounts.quotient(largest_sum, 1, amounts.CENTS) == 10**28  # 9…9.99999999 rounded up
        assert amounts.quotient(Decimal("0.005"), 1, amounts.CENTS) == Decimal("0.00")  # half-even
        assert amounts.quotient(Decimal("0.015"), 1, amounts.CENTS) == Decimal("0.02")


def test_a_peer_card_beyond_the_bounds_is_left_out_and_counted(tmp_path):
    own = budget_of(tmp_path, "own", population=3446)
    peer = budget_of(tmp_path, "peer", population=3000, spent="3000.00")
    forged = collectivite.peer_card(budget_of(tmp_path, "forged", population=3000))
    forged["exercices"][0]["per_inhabitant"][0]["amount"] = "9E+999998"
    (year,) = collectivite.peer_comparison(own, [peer, forged])["exercices"]
    assert (year["peers"]["count"], year["peers"]["unreadable"]) == (1, 1)
    assert year["peers"]["per_inhabitant"][0]["median"] == "1.00"


# ---------------------------------------------------------------- general information of a document

def with_information(document: bytes, information: str) -> bytes:
    return document.replace(b'<InformationsGenerales><Information Code="PopTot" V="3000"/></InformationsGenerales>',
                            information.encode("utf-8"))


@pytest.mark.parametrize("cfu", [False, True])
def test_general_information_as_producers_write_it(tmp_path, cfu):
    xml = tmp_path / "doc.xml"
    xml.write_bytes(with_information(totem_document([Line()], cfu=cfu), (
        "<InformationsGenerales>"
        '<Information Code="PopTot" V="12\u00a0345"/>'
        '<Information Code="ValDGFPop" V="145,53"/><Information Code="MoyNatDGFPop" V="150,00"/>'
        '<Information Code="ValDepPers" V="50,62 %"/><Information Code="MoyNatDepPers" V="0,00 %"/>'
        '<Information Code="ValEncDettePop" V="non communiqué"/>'
        '<Information Code="ValInconnu" V="1"/>'
        "</InformationsGenerales>")))
    described = collectivite.describe_document(xml, tmp_path / "doc.csv")
    assert described.population == 12345
    assert described.key == "21560046100010-2022-01"
    assert [ratio.to_dict() for ratio in described.ratios] == [
        {"code": "DGFPop", "unit": "per_inhabitant", "value": "145.53", "national_average": "150.00"},
        {"code": "DepPers", "unit": "percent", "value": "50.62", "national_average": None},
    ]


def test_a_document_without_general_information(tmp_path):
    xml = tmp_path / "doc.xml"
    xml.write_bytes(with_information(totem_document([Line()]), ""))
    described = collectivite.describe_document(xml, tmp_path / "doc.csv")
    assert (described.population, described.ratios) == (None, ())


def test_a_hostile_document_is_refused_with_its_name(tmp_path):
    xml = tmp_path / "doc.xml"
    document = totem_document([Line()]).replace(b"<DocumentBudgetaire", b'<!DOCTYPE d [<!ENTITY e "x">]>\n'
                                                 b"<DocumentBudgetaire", 1)
    xml.write_bytes(document)
    with pytest.raises(DocumentError) as raised:
        collectivite.describe_document(xml, tmp_path / "doc.csv")
    assert str(xml) in str(raised.value)
    assert os.path.basename(xml) in raised.value.describe("en")


# ---------------------------------------------------------------- peers

def budget_of(tmp_path: Path, name: str, *, population: int | None, norme: str = "M14", natdec: str = "09",
              spent: str = "1000.00", received: str = "1200.00", year: int = 2021) -> dict:
    directory = tmp_path / name
    directory.mkdir()
    column = 5 if natdec == "09" else 6
    rows = []
    for section, codrd, chapter, amount in ((F, D, "011", spent), (F, R, "70", received)):
        cells = [section, codrd, "réel", chapter, "", "", "", ""]
        cells[column] = amount
        rows.append(tuple(cells))
    return collectivite.collectivite_summary(
        [document(directory, natdec, year, rows, norme=norme, population=population)], offline_settings())


def test_peers_are_the_same_family_band_year_and_measure(tmp_path):
    own = budget_of(tmp_path, "own", population=3446)
    others = [
        budget_of(tmp_path, "peer-1", population=2000, spent="2500.00"),
        budget_of(tmp_path, "peer-2", population=3499, spent="3499.00", received="7000.00"),
        budget_of(tmp_path, "peer-3", population=2600, spent="1300.00"),
        budget_of(tmp_path, "peer-4", population=3000, spent="2999.99"),
        budget_of(tmp_path, "other-band", population=3500),
        budget_of(tmp_path, "other-family", population=3000, norme="M57"),
        budget_of(tmp_path, "voted-only", population=3000, natdec="01"),
        budget_of(tmp_path, "other-year", population=3000, year=2020),
        budget_of(tmp_path, "no-population", population=None),
    ]
    (year,) = collectivite.peer_comparison(own, others)["exercices"]
    peers = year["peers"]
    assert (peers["family"], peers["band"], peers["measure"], peers["count"]) == (
        "M14", {"min": 2000, "max": 3499}, "realised", 4)
    # Recomputed from the peers' CSV figures: spent per inhabitant 1.25, 1.00, 0.50, 1.00 (rounded).
    spent = {"median": "1.00", "min": "0.50", "max": "1.25", "count": 4}
    received = [Decimal("1200.00") / 2000, Decimal("7000.00") / 3499, Decimal("1200.00") / 2600,
                Decimal("1200.00") / 3000]
    rounded = sorted(value.quantize(Decimal("0.01"), ROUND_HALF_EVEN) for value in received)
    median = ((rounded[1] + rounded[2]) / 2).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
    assert peers["per_inhabitant"] == [
        {"section": F, "codrd": D, **spent},
        {"section": F, "codrd": R, "count": 4, "median": str(median), "min": str(rounded[0]), "max": str(rounded[-1])},
    ]


def test_peers_compared_from_their_cards_as_from_their_summaries(tmp_path):
    own = budget_of(tmp_path, "own", population=3446)
    others = [budget_of(tmp_path, f"peer-{population}", population=population, spent=spent, norme=norme)
              for population, spent, norme in ((2000, "2500.00", "M14"), (3499, "3499.00", "M14"),
                                               (3000, "10.00", "M57"), (2600, "1300.00", "M14"))]
    cards = [collectivite.peer_card(other) for other in others]
    assert len(json.dumps(cards)) < len(json.dumps(others)) / 2
    assert collectivite.peer_comparison(own, cards) == collectivite.peer_comparison(own, others)


def test_an_odd_number_of_peers_and_none(tmp_path):
    own = budget_of(tmp_path, "own", population=120_000)
    others = [budget_of(tmp_path, f"peer-{population}", population=population, spent=spent)
              for population, spent in ((100_000, "100000.00"), (2_000_000, "6000000.00"), (150_000, "300000.00"))]
    (year,) = collectivite.peer_comparison(own, others)["exercices"]
    assert year["peers"]["band"] == {"min": 100_000, "max": None}
    assert year["peers"]["per_inhabitant"][0] == {"section": F, "codrd": D, "count": 3, "median": "2.00",
                                                  "min": "1.00", "max": "3.00"}
    (alone,) = collectivite.peer_comparison(own, [])["exercices"]
    assert alone["peers"] == {"family": "M14", "band": {"min": 100_000, "max": None}, "measure": "realised",
                              "count": 0, "unreadable": 0, "per_inhabitant": []}
    (unknown,) = collectivite.peer_comparison(budget_of(tmp_path, "nobody", population=None), others)["exercices"]
    assert unknown["peers"] is None


@pytest.mark.parametrize("population, band", [(1, (0, 499)), (499, (0, 499)), (500, (500, 1999)),
                                              (9_999, (5_000, 9_999)), (10_000, (10_000, 19_999))])
def test_population_bands(population, band):
    assert collectivite.population_band(population) == {"min": band[0], "max": band[1]}
