"""The resource view budgetod_view and the summary card of budget datasets, in French and English."""
from __future__ import annotations

import json
import re
from decimal import Decimal

import ckan.plugins as plugins
import pytest
from babel.numbers import format_currency
from ckan.tests import factories, helpers

from tests.support.ckan_portal import file_storage, resource_of, upload

NBSP, NNBSP = "\u00a0", "\u202f"


def view_types(resource: dict) -> list[str]:
    return [view["view_type"] for view in helpers.call_action("resource_view_list", id=resource["id"])]


def test_the_plugin_is_loaded_with_its_view(with_plugins):
    assert plugins.plugin_loaded("budgetod_view")
    assert plugins.get_plugin("budgetod_view").info()["name"] == "budgetod_view"


def test_every_scdl_csv_gets_the_budget_view_by_default(publish_budget):
    dataset = publish_budget("crach-principal-ca-2021")
    assert "budgetod_view" in view_types(resource_of(dataset, "scdl"))
    assert "budgetod_view" not in view_types(resource_of(dataset, "totem"))
    assert "budgetod_view" not in view_types(resource_of(dataset, "report"))


def test_any_uploaded_csv_with_the_scdl_header_gets_it_too(publish_budget, sysadmin, converted_documents):
    dataset = publish_budget("crach-lotissement-bp-2022")
    scdl_csv = upload(sysadmin, dataset["id"], converted_documents("crach-principal-ca-2021").csv, "budget.csv",
                      format="CSV")
    other_csv = upload(sysadmin, dataset["id"], b"name,amount\nx,1\n", "other.csv", format="CSV")
    assert "budgetod_view" in view_types(scdl_csv)
    assert "budgetod_view" not in view_types(other_csv)


def page(app, dataset: dict, resource: dict, lang: str = "") -> str:
    prefix = f"/{lang}" if lang else ""
    response = app.get(f"{prefix}/dataset/{dataset['name']}/resource/{resource['id']}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def embedded_summary(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="budgetod-[^"]+-summary">(.*?)</script>', html, re.DOTALL)
    return json.loads(match.group(1))


def test_the_view_shows_the_budget_in_french_by_default(app, publish_budget):
    dataset = publish_budget("montreuil-ca-2018")
    html = page(app, dataset, resource_of(dataset, "scdl"))

    assert 'data-module="budgetod-budget-view"' in html
    assert "/vendor/echarts.min.js" in html
    assert "Recettes et dépenses par section" in html
    assert "Voté et réalisé" in html
    assert "Dépenses réelles par fonction" in html
    assert "Principales dépenses par nature" in html
    # Real operating expenditure of Montreuil in 2018, in French format.
    assert f"191{NNBSP}602{NNBSP}651,45{NBSP}€" in html
    # The charts' data is the action's result, embedded once.
    summary = embedded_summary(html)
    assert summary == helpers.call_action("budgetod_budget_summary", resource_id=resource_of(dataset, "scdl")["id"])
    # Every figure drawn as a chart keeps its table, and the tables carry the amounts.
    for kind in ("sections", "voted", "chapters-expenditure", "chapters-revenue", "functions"):
        assert f'data-budgetod-chart="{kind}"' in html
        assert f'-{kind}-table"' in html


def test_the_view_speaks_english_on_english_pages(app, publish_budget):
    dataset = publish_budget("montreuil-ca-2018")
    html = page(app, dataset, resource_of(dataset, "scdl"), lang="en")
    assert "Revenue and expenditure by section" in html
    assert "Voted and realised" in html
    assert "€191,602,651.45" in html
    assert '<html lang="en"' in html


def test_a_budget_primitif_voted_by_nature_has_neither_voted_nor_function_figure(app, publish_budget):
    dataset = publish_budget("transport-m43-bp-2022")
    html = page(app, dataset, resource_of(dataset, "scdl"))
    assert 'data-budgetod-chart="sections"' in html
    assert 'data-budgetod-chart="voted"' not in html
    assert 'data-budgetod-chart="functions"' not in html
    assert "Voté à cette étape" in html


def test_a_csv_that_cannot_be_summarised_says_so(app, publish_budget, sysadmin):
    dataset = publish_budget("crach-lotissement-bp-2022")
    resource = resource_of(dataset, "scdl")
    helpers.call_action("resource_patch", context={"user": sysadmin["name"]}, id=resource["id"],
                        upload=file_storage(b"not,a,budget\n", "broken.csv"))
    html = page(app, dataset, resource)
    assert "ne peut pas être présenté comme un budget" in html
    assert "data-budgetod-chart" not in html


def dataset_page(app, dataset: dict, lang: str = "") -> str:
    response = app.get(f"{'/' + lang if lang else ''}/dataset/{dataset['name']}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_dataset_page_opens_with_the_budget_card(app, publish_budget):
    dataset = publish_budget("crach-principal-ca-2021")
    html = dataset_page(app, dataset)
    card = html[html.index('class="budgetod-card"'):]
    card = card[:card.index("</section>")]

    assert "Le budget en bref" in card
    assert "Compte administratif" in card
    assert "CRACH" in card and "21560046100010" in card
    assert 'class="badge bg-success">Valide<' in card
    assert f"/budgets/report/{resource_of(dataset, 'report')['id']}" in card
    # No data.gouv.fr link until the sync publishes the dataset there.
    assert "data.gouv.fr" not in card


def test_the_card_links_to_data_gouv_fr_when_the_dataset_is_there(app, publish_budget):
    url = "https://www.data.gouv.fr/fr/datasets/budget-21930048000015-2018/"
    dataset = publish_budget("montreuil-ca-2018", extras={"budgetod_datagouv_url": url})
    html = dataset_page(app, dataset, lang="en")
    card = html[html.index('class="budgetod-card"'):]
    assert f'href="{url}"' in card
    assert "Budget at a glance" in card
    assert "Administrative account" in card


@pytest.mark.parametrize("stem", ["crach-principal-dm2-2021", "mohon-cfu-2023", "montreuil-ca-2018"])
def test_the_card_totals_are_the_summary_totals(app, publish_budget, stem):
    dataset = publish_budget(stem)
    summary = helpers.call_action("budgetod_budget_summary", resource_id=resource_of(dataset, "scdl")["id"])
    html = dataset_page(app, dataset, lang="en")
    card = html[html.index('class="budgetod-card"'):]
    for codrd in ("recette", "dépense"):
        total = sum(Decimal(item["amount"]) for item in summary["totals"] if item["codrd"] == codrd)
        assert format_currency(total, "EUR", locale="en_GB") in card


def test_a_dataset_that_is_not_a_budget_has_no_card(app, clean_db):
    dataset = factories.Dataset()
    assert 'class="budgetod-card"' not in dataset_page(app, dataset)
