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


def test_the_dashboard_and_the_dataset_pages_link_to_the_budgets_page(app, publish_budget):
    main = publish_budget("crach-principal-ca-2021")
    annex = publish_budget("crach-lotissement-bp-2022")
    dashboard = page(app, "/budgets").body
    assert f'href="/budgets/{CRACH}"' in dashboard
    assert 'href="/budgets/21560046100085/annexe-06"' in dashboard
    assert f'href="/budgets/{CRACH}"' in page(app, f"/dataset/{main['name']}").body
    annex_page = page(app, f"/dataset/{annex['name']}", lang="en").body
    assert 'href="/en/budgets/21560046100085/annexe-06"' in annex_page
    assert "This budget across the years" in annex_page
