"""The page of one budget across the years, /budgets/<siret>[/annexe-<code>]: its tables show the
figures of the CSVs (recomputed here), in French and English, for whoever may see the datasets."""
from __future__ import annotations

import csv
import html
import io
import re
from collections import defaultdict
from decimal import Decimal

from babel.numbers import format_currency
from ckan.tests import factories, helpers

CRACH = "21560046100010"


def page(app, path: str, lang: str = "", headers: dict | None = None):
    return app.get(f"{'/' + lang if lang else ''}{path}", headers=headers or {})


def real_totals(csv_bytes: bytes, column: str) -> dict[tuple[str, str], Decimal]:
    totals: dict = defaultdict(Decimal)
    for row in csv.DictReader(io.StringIO(csv_bytes.decode("utf-8"))):
        if row["BGT_OPBUDG"] == "réel" and row[column]:
            totals[(row["BGT_SECTION"], row["BGT_CODRD"])] += Decimal(row[column])
    return totals


def text_of(markup: str) -> str:
    """The page's text, every run of blanks (no-break spaces included) as one space."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", markup)))


def euros(amount: Decimal) -> str:
    return text_of(format_currency(amount, "EUR", locale="fr_FR"))


def test_the_page_shows_the_years_figures_per_inhabitant_ratios_and_execution(app, publish_budget,
                                                                               converted_documents):
    publish_budget("crach-principal-dm2-2021")
    publish_budget("crach-principal-ca-2021")

    response = page(app, f"/budgets/{CRACH}")

    assert response.status_code == 200
    markup = response.body
    text = text_of(markup)
    realised = real_totals(converted_documents("crach-principal-ca-2021").csv, "BGT_MTREAL")
    operating = realised[("fonctionnement", "dépense")]
    assert euros(operating) in text
    per_inhabitant = (operating / 3446).quantize(Decimal("0.01"))
    assert euros(per_inhabitant) in text
    assert "Encours de la dette par habitant" in text and "689,00" in text
    assert "Exécution du budget 2021" in text
    # Every table is labelled and its headers scoped, for screen readers.
    assert markup.count("<caption>") == markup.count("<table")
    assert "<th scope=\"col\">" in markup


def test_the_page_in_english(app, publish_budget):
    publish_budget("montreuil-ca-2018")
    text = text_of(page(app, "/budgets/21930048000015", lang="en").body)
    assert "Revenue and expenditure by year" in text
    assert "Outstanding debt per inhabitant" in text
    assert "107564" in text


def test_an_annex_budget_has_its_own_page(app, publish_budget):
    publish_budget("crach-lotissement-bp-2022")
    response = page(app, "/budgets/21560046100085/annexe-06")
    assert response.status_code == 200
    assert "Budget annexe 06" in text_of(response.body)
    assert page(app, "/budgets/21560046100085").status_code == 404


def test_an_annex_budget_without_a_code_has_its_own_page(app, publish_budget, sysadmin, organization):
    # An annex whose document gives no budget code: its key ends with a bare "annexe".
    dataset = publish_budget("crach-lotissement-bp-2022")
    for resource in dataset["resources"]:
        helpers.call_action("resource_patch", context={"user": sysadmin["name"]}, id=resource["id"],
                            budgetod_document="21560046100085-2022-01-annexe")
    publisher = f"?organization={organization['name']}"
    assert f'href="/budgets/21560046100085/annexe{publisher}"' in page(app, f"/dataset/{dataset['name']}").body
    assert f'href="/budgets/21560046100085/annexe{publisher}"' in page(app, "/budgets").body
    response = page(app, "/budgets/21560046100085/annexe")
    assert response.status_code == 200
    assert "SIRET 21560046100085 · Budget annexe" in text_of(response.body)
    assert 'href="/budgets/21560046100085/annexe/series.csv"' in response.body
    assert page(app, "/budgets/21560046100085/annexe/embed").status_code == 200
    download = page(app, "/budgets/21560046100085/annexe/series.csv")
    assert download.headers["Content-Disposition"] == 'attachment; filename="21560046100085-annexe-series.csv"'
    for elsewhere in ("/budgets/21560046100085", "/budgets/21560046100085/annexe-06"):
        assert page(app, elsewhere).status_code == 404


def test_a_private_budget_is_not_found_outside_its_organisation(app, publish_budget, organization):
    publish_budget("crach-principal-ca-2021", private=True)
    member = factories.UserWithToken()
    helpers.call_action("organization_member_create", id=organization["id"], username=member["name"],
                        role="member")
    assert page(app, f"/budgets/{CRACH}").status_code == 404
    assert page(app, f"/budgets/{CRACH}", headers={"Authorization": member["token"]}).status_code == 200


def test_unknown_budgets_are_not_found(app, clean_db, storage):
    for path in (f"/budgets/{CRACH}", "/budgets/not-a-siret", f"/budgets/{CRACH}/annexe-06"):
        assert page(app, path).status_code == 404


def test_the_dashboard_and_the_dataset_pages_link_to_the_budgets_page(app, publish_budget, organization):
    main = publish_budget("crach-principal-ca-2021")
    annex = publish_budget("crach-lotissement-bp-2022")
    publisher = f"?organization={organization['name']}"
    dashboard = page(app, "/budgets").body
    assert f'href="/budgets/{CRACH}{publisher}"' in dashboard
    assert f'href="/budgets/21560046100085/annexe-06{publisher}"' in dashboard
    assert f'href="/budgets/{CRACH}{publisher}"' in page(app, f"/dataset/{main['name']}").body
    annex_page = page(app, f"/dataset/{annex['name']}", lang="en").body
    assert f'href="/en/budgets/21560046100085/annexe-06{publisher}"' in annex_page
    assert "This budget across the years" in annex_page


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.body)))


def test_each_table_is_a_csv_of_the_same_figures(app, publish_budget, converted_documents):
    publish_budget("crach-principal-ca-2021")

    response = page(app, f"/budgets/{CRACH}/series.csv")

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["Content-Disposition"] == f'attachment; filename="{CRACH}-series.csv"'
    rows = csv_rows(response)
    assert rows[0] == ["Section", "Sens", "Opérations", "2021 (réalisé)"]
    realised = real_totals(converted_documents("crach-principal-ca-2021").csv, "BGT_MTREAL")
    assert ["Fonctionnement", "Dépenses", "réelles", str(realised[("fonctionnement", "dépense")])] in rows
    # Every table of the page has its CSV link, and every link answers.
    markup = page(app, f"/budgets/{CRACH}").body
    links = re.findall(rf'href="(/budgets/{CRACH}/[a-z0-9-]+\.csv)"', markup)
    assert len(links) == markup.count("<table") and len(links) >= 5
    for link in links:
        assert page(app, link).status_code == 200
    execution = csv_rows(page(app, f"/budgets/{CRACH}/execution-2021-chapters.csv", lang="en"))
    assert execution[0] == ["Section", "Direction", "Chapter", "Label", "Voted", "Realised", "Gap", "Execution rate"]
    assert any(row[2] == "012" and re.fullmatch(r"[01]\.[0-9]{4}", row[7]) for row in execution[1:])


def test_a_csv_guards_text_a_spreadsheet_would_run_but_keeps_numbers():
    from ckanext.budgetod.view.collectivite_page import AMOUNT, HEADING, TEXT, Table, table_csv

    table = Table("chapters", "", [("Code", HEADING), ("Label", TEXT), ("2021", AMOUNT)],
                  [["65", '=HYPERLINK("http://example.org"), "x"', "-12.50"], ["+1", "@SUM(A1)", None]])
    assert list(csv.reader(io.StringIO(table_csv(table)))) == [
        ["Code", "Label", "2021"],
        ["65", '\'=HYPERLINK("http://example.org"), "x"', "-12.50"],
        ["'+1", "'@SUM(A1)", ""],
    ]


def test_no_csv_cell_can_become_a_formula_whatever_the_separator_and_empty_stays_empty():
    from ckanext.budgetod.view.collectivite_page import AMOUNT, HEADING, RATE, TEXT, Table, table_csv

    table = Table("chapters", "", [("Code", HEADING), ("Label", TEXT), ("2021", AMOUNT), ("Rate", RATE)],
                  [["011", 'Achats;=HYPERLINK("http://evil.example/")', "-12.50", "0.9000"],
                   ["012", "", None, "=1+1"], ["013", "Charges,\n@SUM(A1)", "3", None]])
    exported = table_csv(table)
    assert list(csv.reader(io.StringIO(exported))) == [
        ["Code", "Label", "2021", "Rate"],
        ["011", "Achats;'=HYPERLINK(\"http://evil.example/\")", "-12.50", "0.9000"],
        ["012", "", "", "'=1+1"],
        ["013", "Charges,\n'@SUM(A1)", "3", ""],
    ]
    # Text is always quoted, numbers bare, and an empty cell is empty, not an apostrophe.
    assert exported.splitlines()[2] == '"012",,,"\'=1+1"'
    # As French Excel (";"), English Excel (",") or an import on tabs or lines would cut it: no
    # piece starts like a formula, but for the bare numbers.
    for separator in (";", ",", "\t", "\n"):
        for piece in exported.split(separator):
            first = piece.lstrip(' "')
            if first[:1] and first[:1] in "=+-@":
                assert re.fullmatch(r"-[0-9.]+\n?", first), (separator, piece)


def test_csv_of_unknown_tables_and_budgets_is_not_found(app, publish_budget, organization):
    publish_budget("crach-principal-ca-2021", private=True)
    assert page(app, f"/budgets/{CRACH}/series.csv").status_code == 404  # private: not for anonymous users
    sysadmin = factories.SysadminWithToken()
    headers = {"Authorization": sysadmin["token"]}
    assert page(app, f"/budgets/{CRACH}/series.csv", headers=headers).status_code == 200
    assert page(app, f"/budgets/{CRACH}/nothing.csv", headers=headers).status_code == 404
    assert page(app, "/budgets/21930048000015/series.csv", headers=headers).status_code == 404


def test_the_embeddable_page_has_no_portal_chrome_and_only_it_may_be_framed(app, publish_budget):
    publish_budget("crach-lotissement-bp-2022")
    annex = "/budgets/21560046100085/annexe-06"

    embedded = page(app, f"{annex}/embed")

    assert embedded.status_code == 200
    assert "X-Frame-Options" not in embedded.headers
    assert embedded.headers["Content-Security-Policy"] == "frame-ancestors *"
    for chrome in ('class="masthead"', 'class="site-footer"', 'class="breadcrumb"', "budgetod-embed-code"):
        assert chrome not in embedded.body
    assert 'data-module="budgetod-collectivite"' in embedded.body
    assert re.search(rf'<a href="https?://[^"/]+{annex}" target="_blank" rel="noopener">', embedded.body)
    full = page(app, annex)
    assert full.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert full.headers["Content-Security-Policy"] == "frame-ancestors 'self'"
    # The page gives the code that frames the embeddable page.
    assert re.search(rf'&lt;iframe src="[^"]*{annex}/embed" title="Budgets de [^"]+"', full.body)
    assert page(app, f"{annex}/series.csv").headers["X-Frame-Options"] == "SAMEORIGIN"


def test_a_chapters_line_goes_on_across_a_change_only_where_the_crosswalk_compares_it(app):
    from ckanext.budgetod.view.collectivite_page import chapters_figures

    def year(exercice: int, amounts: dict[str, str]) -> dict:
        return {"exercice": exercice, "measure": "realised", "chapters": [
            {"section": "fonctionnement", "codrd": "dépense", "code": code, "label": f"Chapitre {code}",
             "amount": amount} for code, amount in amounts.items()]}

    years = [year(2021, {"011": "90.00", "65": "40.00"}), year(2022, {"011": "100.00", "65": "50.00"}),
             year(2023, {"011": "110.00", "65": "60.00", "930": "5.00"}), year(2024, {"011": "120.00", "65": "70.00"})]
    summary = {"exercices": years, "breaks": [
        {"exercice": 2023, "from": "M14-M14_COM_500_3500", "to": "M57-M57_A", "comparable_chapters": ["011"],
         "not_comparable_chapters": ["65", "930"]}]}
    with app.flask_app.test_request_context("/budgets"):  # in French, the default language
        [figure] = chapters_figures(summary, years)

    lines = [(series["name"], series["values"]) for series in figure.chart["series"]]
    assert lines == [
        ("011 Chapitre 011", ["90.00", "100.00", "110.00", "120.00"]),  # compared: one line over the change
        ("65 Chapitre 65", ["40.00", "50.00", None, None]),  # not compared: stopped at the change
        ("65 Chapitre 65", [None, None, "60.00", "70.00"]),
        ("930 Chapitre 930", [None, None, "5.00", None]),
    ]
    assert figure.table.columns[-1] == ("Au passage M14 → M57 (2023)", "text")
    assert [(row[0], row[-1]) for row in figure.table.rows] == [
        ("011", "comparable"), ("65", "non comparable"), ("930", "non comparable")]
