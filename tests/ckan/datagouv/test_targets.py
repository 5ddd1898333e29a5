"""Which udata organisation a dataset may go to: the one the sysadmins tied to its portal
organisation (ckanext.budgetod.datagouv.organizations). A source's or a dataset's choice of any other
organisation the portal's API key can edit is refused, with the cause in the sync state."""
from __future__ import annotations

import json

import pytest
from ckan.tests import factories, helpers

from ckanext.budgetod import settings
from ckanext.budgetod.core import contract
from ckanext.budgetod.core.settings import described
from ckanext.budgetod.datagouv import sync
from ckanext.budgetod.datagouv.sync import state
from tests.support.ckan_datagouv import API_KEY, MOHON_CFU, SAINT_MALO_BP

pytestmark = pytest.mark.usefixtures("portal")


@pytest.fixture
def other_udata_organization(udata) -> dict:
    """Another udata organisation the portal's API key may edit too."""
    return udata.add_organization("Département du Morbihan", members={API_KEY: "admin"})


def test_a_source_naming_another_udata_organisation_than_the_tied_one_is_refused(
        portal, udata, other_udata_organization, synchroniser):
    helpers.call_action("harvest_source_patch", context=portal.context(), id=portal.source["id"],
                        config=json.dumps({"datagouv": {"organization": other_udata_organization["slug"]}}))
    mohon = portal.budget("21560134500014", 2023, "COMMUNE DE MOHON", "56134", [MOHON_CFU])

    outcome = synchroniser().sync(mohon["id"])

    assert outcome.result == "error"
    row = state.get(mohon["id"])
    assert row.status == state.STATUS_ERROR
    assert (f"l'organisation data.gouv.fr « {other_udata_organization['slug']} » demandée n'est pas celle de "
            "l'organisation « Région Bretagne » du portail") in row.message
    assert (f"the data.gouv.fr organisation '{other_udata_organization['slug']}' asked for is not the one of "
            "the portal organisation 'Région Bretagne'") in row.message
    assert udata.write_calls == 0 and udata.datasets() == []


def test_a_dataset_extra_naming_another_udata_organisation_is_refused(
        portal, udata, other_udata_organization, synchroniser):
    dataset = helpers.call_action(
        "package_create", context=portal.context(), name="budget-annexe-saisi-a-la-main",
        title="Budget annexe 2022", owner_org=portal.organization["id"],
        extras=[{"key": contract.EXTRA_DATAGOUV_ORGANIZATION, "value": other_udata_organization["id"]}])
    dataset = portal.publish(dataset["id"], [SAINT_MALO_BP])

    outcome = synchroniser().sync(dataset["id"])

    assert outcome.result == "error" and "refusé, rien n'est envoyé" in outcome.message
    assert udata.write_calls == 0 and udata.datasets() == []


def test_the_tied_organisation_may_be_named_by_id_where_the_setting_has_its_slug(
        portal, udata, udata_organization, synchroniser):
    dataset = helpers.call_action(
        "package_create", context=portal.context(), name="budget-annexe-saisi-a-la-main",
        title="Budget annexe 2022", owner_org=portal.organization["id"],
        extras=[{"key": contract.EXTRA_DATAGOUV_ORGANIZATION, "value": udata_organization["id"]}])
    dataset = portal.publish(dataset["id"], [SAINT_MALO_BP])

    outcome = synchroniser().sync(dataset["id"])

    assert outcome.result == "created"
    assert udata.dataset(outcome.udata_id)["organization"]["id"] == udata_organization["id"]


def test_an_organisation_without_a_tied_udata_organisation_sends_nothing(
        portal, udata, udata_organization, synchroniser):
    # An editor of another portal organisation names the udata organisation of Région Bretagne.
    other = factories.Organization(name="autre-collectivite", title="Autre collectivité")
    dataset = helpers.call_action(
        "package_create", context=portal.context(), name="budget-21560046100010-2021",
        title="Budget 2021", owner_org=other["id"],
        extras=[{"key": contract.EXTRA_DATAGOUV_ORGANIZATION, "value": udata_organization["slug"]},
                {"key": "budgetod_siret", "value": "21560046100010"}])

    outcome = synchroniser().sync(dataset["id"])

    assert outcome.result == "error"
    assert ("aucune organisation data.gouv.fr n'est attribuée à l'organisation « Autre collectivité » du portail"
            in outcome.message)
    assert "no data.gouv.fr organisation is tied to the portal organisation 'Autre collectivité'" in outcome.message
    assert "ckanext.budgetod.datagouv.organizations" in state.get(dataset["id"]).message
    assert udata.write_calls == 0 and udata.datasets() == []


@pytest.mark.parametrize("value", ["bretagne", "bretagne= ", "=udata", "a=b a=c"])
def test_a_malformed_organisation_mapping_is_a_clear_error(value):
    with pytest.raises(sync.SyncError) as caught:
        sync.parse_organizations(value)
    assert caught.value.source == sync.ORGANIZATIONS_OPTION
    assert "organisation-du-portail=organisation-udata" in caught.value.describe("fr")
    assert "portal-organisation=udata-organisation" in caught.value.describe("en")


def test_the_settings_never_show_the_api_key():
    options = settings.current()

    assert options.datagouv.api_key == API_KEY
    assert API_KEY not in repr(options) and API_KEY not in str(options)
    assert API_KEY not in repr(options.datagouv) and API_KEY not in json.dumps(described(options))
