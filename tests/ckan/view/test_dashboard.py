"""The public coverage dashboard /budgets: budgets × years × stages, filters, and what
administrators see besides (last harvests, data.gouv.fr sync)."""
from __future__ import annotations

import re

import ckan.logic
import pytest
from ckan.tests import factories, helpers

from tests.support.ckan_portal import token_of

ALL_SAMPLES = ("crach-lotissement-bp-2022", "crach-principal-ca-2021", "crach-principal-dm2-2021",
               "mohon-cfu-2023", "montreuil-ca-2018", "transport-m43-bp-2022")


@pytest.fixture
def every_sample(publish_budget):
    return {stem: publish_budget(stem) for stem in ALL_SAMPLES}


def dashboard(app, lang: str = "", headers: dict | None = None, **filters) -> str:
    response = app.get(f"{'/' + lang if lang else ''}/budgets", query_string=filters, headers=headers or {})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def coverage_rows(html: str) -> list[str]:
    """The budget names of the coverage table, in order."""
    body = html[html.index('class="table table-bordered table-sm budgetod-coverage"'):]
    body = body[body.index("<tbody>"):body.index("</tbody>")]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", name)).strip()  # the name links to the budget's page
            for name in re.findall(r'<th scope="row">(.*?)<small>', body, re.DOTALL)]


def test_every_published_budget_is_listed_with_its_stages(app, every_sample):
    html = dashboard(app)
    assert "Budgets publiés" in html
    assert "5 jeux de données budgétaires" in html
    # By collectivité, then SIRET.
    assert coverage_rows(html) == [
        "COMMUNE DE MOHON (M57)", "CRACH", "CRACH - LOTISSEMENT LE BOCENO",
        "SAINT MALO AGGLOMERATION - TRANSPORT ET MOBILITE SMA", "VILLE DE MONTREUIL"]
    for year in ("2018", "2021", "2022", "2023"):
        assert f'<th scope="col">{year}</th>' in html
    # Crach's 2021 budget has its account and its second amending decision.
    assert '<abbr title="Compte administratif">CA</abbr>' in html
    assert '<abbr title="Décision modificative n° 2">DM 2</abbr>' in html
    assert '<abbr title="Compte financier unique">CFU</abbr>' in html
    assert html.count('class="badge bg-success"') == 6
    # Every dataset is linked.
    for dataset in every_sample.values():
        assert f'href="/dataset/{dataset["name"]}"' in html


def test_filters_by_departement_nomenclature_and_year(app, every_sample):
    assert coverage_rows(dashboard(app, departement="93")) == ["VILLE DE MONTREUIL"]
    assert coverage_rows(dashboard(app, departement="56")) == [
        "COMMUNE DE MOHON (M57)", "CRACH", "CRACH - LOTISSEMENT LE BOCENO"]
    assert coverage_rows(dashboard(app, norme="M57")) == ["COMMUNE DE MOHON (M57)"]
    assert coverage_rows(dashboard(app, norme="M4")) == ["SAINT MALO AGGLOMERATION - TRANSPORT ET MOBILITE SMA"]
    assert coverage_rows(dashboard(app, exercice="2022")) == [
        "CRACH - LOTISSEMENT LE BOCENO", "SAINT MALO AGGLOMERATION - TRANSPORT ET MOBILITE SMA"]
    html = dashboard(app, departement="56", norme="M14", exercice="2021")
    assert coverage_rows(html) == ["CRACH"]
    assert "1 jeu de données budgétaire" in html


def test_the_filters_offer_every_value_and_keep_the_chosen_one(app, every_sample):
    html = dashboard(app, exercice="2018")
    years = re.findall(r'<option value="(\d{4})"', html)
    assert years == ["2023", "2022", "2021", "2018"]
    assert '<option value="2018" selected>2018</option>' in html
    assert re.findall(r'<option value="(\w+)"', html[html.index('id="budgetod-filter-departement"'):
                                                   html.index('id="budgetod-filter-norme"')]) == ["56", "93"]
    assert re.findall(r'<option value="(M\d+)"', html) == ["M14", "M4", "M57"]


def test_a_malformed_filter_is_ignored(app, every_sample):
    html = dashboard(app, departement='93" OR *:*', exercice="20180")
    assert len(coverage_rows(html)) == 5


def test_the_budgets_are_paged(app, every_sample, ckan_config, monkeypatch):
    monkeypatch.setitem(ckan_config, "ckanext.budgetod.dashboard_page_size", 2)
    first = dashboard(app)
    second = dashboard(app, page="2")
    assert coverage_rows(first) == ["COMMUNE DE MOHON (M57)", "CRACH"]
    assert coverage_rows(second) == ["CRACH - LOTISSEMENT LE BOCENO",
                                     "SAINT MALO AGGLOMERATION - TRANSPORT ET MOBILITE SMA"]
    assert 'href="/budgets?page=3"' in first
    # The filters stay in the pager's links.
    assert 'href="/budgets?page=2&amp;departement=56"' in dashboard(app, departement="56")


def test_no_budget_matches(app, every_sample):
    html = dashboard(app, departement="75")
    assert "Aucun budget ne correspond à ces filtres." in html


def test_the_dashboard_in_english(app, every_sample):
    html = dashboard(app, lang="en", departement="93")
    assert "Published budgets" in html
    assert "1 budget dataset" in html
    assert '<abbr title="Administrative account">CA</abbr>' in html


def test_a_private_budget_is_listed_for_its_organisation_only(app, publish_budget, sysadmin):
    publish_budget("montreuil-ca-2018", private=True)
    publish_budget("mohon-cfu-2023")
    assert coverage_rows(dashboard(app)) == ["COMMUNE DE MOHON (M57)"]
    token = helpers.call_action("api_token_create", context={"user": sysadmin["name"]}, user=sysadmin["name"],
                                name="dashboard")["token"]
    assert coverage_rows(dashboard(app, headers={"Authorization": token})) == [
        "COMMUNE DE MOHON (M57)", "VILLE DE MONTREUIL"]


def test_the_main_navigation_links_to_the_dashboard(app, clean_db):
    html = app.get("/").get_data(as_text=True)
    assert re.search(r'<a href="/budgets"[^>]*>Budgets</a>', html)


# ---------------------------------------------------------------- administrators

@pytest.fixture
def harvest_source(clean_db, sysadmin, organization):
    source = helpers.call_action(
        "harvest_source_create", context={"user": sysadmin["name"]}, name="budgets-morbihan",
        title="Budgets du Morbihan", url="https://example.org/budgets/", source_type="budgetod_totem",
        owner_org=organization["id"], frequency="MANUAL")
    helpers.call_action("harvest_job_create", context={"user": sysadmin["name"]}, source_id=source["id"], run=False)
    return source


def test_administrators_see_their_harvest_sources_and_last_jobs(app, every_sample, harvest_source, sysadmin):
    html = dashboard(app, headers={"Authorization": token_of(sysadmin)})
    admin = html[html.index('class="budgetod-admin"'):]
    assert "Moissonnage" in admin
    assert "Budgets du Morbihan" in admin
    assert 'href="/harvest/budgets-morbihan"' in admin
    assert 'href="/harvest/budgets-morbihan/job/last"' in admin
    assert "<td>New</td>" in admin


def test_an_organisation_admin_sees_its_sources_too(app, every_sample, harvest_source, organization):
    admin_user = factories.User()
    helpers.call_action("organization_member_create", id=organization["id"], username=admin_user["name"],
                        role="admin")
    html = dashboard(app, lang="en", headers={"Authorization": token_of(admin_user)})
    assert "Harvesting" in html
    assert "Budgets du Morbihan" in html


def test_visitors_and_plain_users_see_no_harvest_information(app, every_sample, harvest_source):
    assert 'class="budgetod-admin"' not in dashboard(app)
    user = factories.User()
    assert 'class="budgetod-admin"' not in dashboard(app, headers={"Authorization": token_of(user)})


def admin_section(app, user: dict, lang: str = "en") -> str:
    html = dashboard(app, lang=lang, headers={"Authorization": token_of(user)})
    return html.split('class="budgetod-admin"')[1]


def test_administrators_see_the_data_gouv_fr_sync_state_of_the_listed_budgets(app, every_sample, sysadmin):
    # The sync is not enabled in test.ini: no dataset was ever synced.
    admin = admin_section(app, sysadmin)
    assert "Synchronisation with data.gouv.fr" in admin
    assert "The data.gouv.fr sync is disabled on this portal." in admin
    assert "Budget datasets of this page: Never synced 5" in re.sub(r"\s+", " ", admin)


def test_sync_failures_are_listed_with_their_message(app, every_sample, sysadmin, monkeypatch):
    montreuil = every_sample["montreuil-ca-2018"]

    def budgetod_datagouv_status(context, data_dict):
        failed = data_dict["id"] == montreuil["id"]
        return {"enabled": True, "status": "error" if failed else "ok",
                "message": "data.gouv.fr a répondu 502 / data.gouv.fr answered 502" if failed else ""}

    ckan.logic.get_action("package_show")  # the action registry is built on first use
    monkeypatch.setitem(ckan.logic._actions, "budgetod_datagouv_status", budgetod_datagouv_status)
    admin = re.sub(r"\s+", " ", admin_section(app, sysadmin))
    assert "disabled" not in admin
    assert "In sync 4 · Sync failed 1" in admin
    assert f'<a href="/en/dataset/{montreuil["name"]}">{montreuil["title"]}</a> — data.gouv.fr a répondu 502' in admin


def test_without_the_sync_there_is_no_sync_section(app, every_sample, sysadmin, monkeypatch):
    ckan.logic.get_action("package_show")
    monkeypatch.delitem(ckan.logic._actions, "budgetod_datagouv_status")
    admin = admin_section(app, sysadmin)
    assert "Harvesting" in admin
    assert "data.gouv.fr" not in admin


def test_a_dataset_of_another_organisation_with_the_same_extras_never_joins_a_row(
        app, every_sample, sysadmin, organization):
    other = factories.Organization(name="autre-collectivite", title="Autre collectivité")
    crach = every_sample["crach-principal-ca-2021"]
    extras = [extra for extra in crach["extras"] if extra["key"].startswith("budgetod_")]
    # Any editor may set extras: this one copies Crach's SIRET and name, for another year.
    helpers.call_action("package_create", context={"user": sysadmin["name"]}, name="faux-budget-crach",
                        title="Faux budget", owner_org=other["id"],
                        extras=[{**extra, "value": "2024"} if extra["key"] == "budgetod_exercice" else extra
                                for extra in extras])

    html = dashboard(app)

    assert coverage_rows(html).count("CRACH") == 2
    rows = re.findall(r'<tr>\s*<th scope="row">(.*?)</tr>', html, re.DOTALL)
    # The budget's name links to its page: the row starts with that link.
    crach_row = next(row for row in rows if "· Collectivités<" in row
                     and re.sub(r"<[^>]+>", "", row).startswith("CRACH"))
    forged_row = next(row for row in rows if "Autre collectivité" in row)
    assert 'href="/dataset/faux-budget-crach"' in forged_row and f'href="/dataset/{crach["name"]}"' in crach_row
    assert 'faux-budget-crach' not in crach_row and crach["name"] not in forged_row
