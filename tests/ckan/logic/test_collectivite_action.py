"""The action budgetod_collectivite_summary: a budget across the years published on the portal,
computed from the CSVs and TOTEM documents in the filestore, cached until a file changes, made of
the datasets the user may see."""
from __future__ import annotations

import json
from decimal import Decimal

import ckan.plugins.toolkit as tk
import pytest
from ckan.tests import factories, helpers

from ckanext.budgetod import settings
from ckanext.budgetod.core.scdl import collectivite
from tests.support.ckan_portal import file_storage, resource_of, upload
from tests.support.shared import SHARED_TOTEM
from tests.support.totem_factory import Line, totem_document

CRACH = "21560046100010"
CRACH_LOTISSEMENT = "21560046100085"


def expected_summary(tmp_path, converted_documents, *stems: str) -> dict:
    """The core's summary of the sample documents, from files written here, under the portal's settings."""
    documents = []
    for stem in stems:
        csv_path = tmp_path / f"{stem}.csv"
        csv_path.write_bytes(converted_documents(stem).csv)
        documents.append(collectivite.describe_document(SHARED_TOTEM / f"{stem}.xml", csv_path))
    return collectivite.collectivite_summary(documents, settings.current())


def test_the_summary_of_a_budget_is_made_of_its_published_documents(publish_budget, converted_documents, tmp_path,
                                                                     organization):
    publish_budget("crach-principal-dm2-2021")
    publish_budget("crach-principal-ca-2021")
    publish_budget("crach-lotissement-bp-2022")  # an annex budget: not the main one's

    result = helpers.call_action("budgetod_collectivite_summary", id=CRACH)

    expected = expected_summary(tmp_path, converted_documents, "crach-principal-dm2-2021", "crach-principal-ca-2021")
    # No other main budget on the portal: no peer.
    assert result == {"siret": CRACH, "annexe": None, "name": "CRACH",
                      "organization": {"id": organization["id"], "name": "collectivites", "title": "Collectivités"},
                      "other_organizations": [],
                      **collectivite.peer_comparison({**expected, "skipped": []}, []), "unreadable_peers": 0}
    assert result["exercices"][0]["peers"]["count"] == 0
    (year,) = result["exercices"]
    assert year["documents"] == ["21560046100010-2021-02-2", "21560046100010-2021-09"]
    assert year["population"] == 3446
    realised = sum(Decimal(row["amount"]) for row in year["totals"])
    assert realised == sum(Decimal(row["realised"]) for row in year["execution"]["totals"])


def test_an_annex_budget_is_asked_for_by_its_code(publish_budget):
    publish_budget("crach-lotissement-bp-2022")
    result = helpers.call_action("budgetod_collectivite_summary", id=CRACH_LOTISSEMENT, annexe="06")
    assert result["annexe"] == "06"
    assert [year["figures_documents"] for year in result["exercices"]] == [["21560046100085-2022-01-annexe-06"]]
    with pytest.raises(tk.ObjectNotFound):
        helpers.call_action("budgetod_collectivite_summary", id=CRACH_LOTISSEMENT)  # no main budget


def test_an_annex_budget_without_a_code_is_asked_for_as_true(publish_budget, sysadmin):
    dataset = publish_budget("crach-lotissement-bp-2022")
    for resource in dataset["resources"]:
        helpers.call_action("resource_patch", context={"user": sysadmin["name"]}, id=resource["id"],
                            budgetod_document="21560046100085-2022-01-annexe")
    result = helpers.call_action("budgetod_collectivite_summary", id=CRACH_LOTISSEMENT, annexe=True)
    assert result["annexe"] == ""
    assert [year["measure"] for year in result["exercices"]] == ["voted"]
    for other in ("06", None):
        with pytest.raises(tk.ObjectNotFound):
            helpers.call_action("budgetod_collectivite_summary", id=CRACH_LOTISSEMENT, annexe=other)


def test_anyone_may_read_a_public_budget_over_http_and_only_its_organisation_a_private_one(
        app, publish_budget, organization):
    publish_budget("montreuil-ca-2018")
    publish_budget("crach-principal-ca-2021", private=True)
    member = factories.UserWithToken()
    helpers.call_action("organization_member_create", id=organization["id"], username=member["name"],
                        role="member")

    public = app.get("/api/3/action/budgetod_collectivite_summary", query_string={"id": "21930048000015"})
    assert public.status_code == 200
    (year,) = public.json["result"]["exercices"]
    assert year["population"] == 107564 and all(isinstance(row["amount"], str) for row in year["totals"])

    anonymous = app.get("/api/3/action/budgetod_collectivite_summary", query_string={"id": CRACH})
    insider = app.get("/api/3/action/budgetod_collectivite_summary", query_string={"id": CRACH},
                      headers={"Authorization": member["token"]})
    assert anonymous.status_code == 404
    assert "Aucun budget n'est publié pour ce SIRET." in anonymous.json["error"]["message"]
    assert insider.status_code == 200 and insider.json["result"]["exercices"][0]["exercice"] == 2021


def test_the_summary_is_cached_until_a_file_is_replaced(publish_budget, sysadmin, converted_documents, monkeypatch):
    dataset = publish_budget("crach-principal-ca-2021")
    first = helpers.call_action("budgetod_collectivite_summary", id=CRACH)

    def fails(documents):
        raise AssertionError("the cached summary should have been used")

    with monkeypatch.context() as patched:
        patched.setattr(collectivite, "collectivite_summary", fails)
        assert helpers.call_action("budgetod_collectivite_summary", id=CRACH) == first

    # The DM's CSV uploaded in place of the CA's: what was realised is gone from the figures.
    helpers.call_action("resource_patch", context={"user": sysadmin["name"]}, id=resource_of(dataset, "scdl")["id"],
                        upload=file_storage(converted_documents("crach-principal-dm2-2021").csv, "dm.csv"))
    second = helpers.call_action("budgetod_collectivite_summary", id=CRACH)
    assert second["exercices"][0]["totals"] != first["exercices"][0]["totals"]


def test_an_unreadable_document_is_named_and_the_others_kept(publish_budget, sysadmin):
    publish_budget("crach-principal-ca-2021")
    dataset = publish_budget("crach-principal-dm2-2021")
    dm_totem = next(resource for resource in dataset["resources"] if resource.get("budgetod_role") == "totem"
                    and resource["budgetod_document"] == "21560046100010-2021-02-2")
    helpers.call_action("resource_patch", context={"user": sysadmin["name"]}, id=dm_totem["id"],
                        upload=file_storage(b"<html>not a budget</html>", "dm.xml"))

    result = helpers.call_action("budgetod_collectivite_summary", id=CRACH)

    assert result["exercices"][0]["documents"] == ["21560046100010-2021-09"]
    (skipped,) = result["skipped"]
    assert skipped["document"] == "21560046100010-2021-02-2"
    assert "html" in skipped["message_en"] and "html" in skipped["message_fr"]


def test_unknown_malformed_or_missing_siret(clean_db, storage):
    for siret in ("21560046100010", "not-a-siret", "2156004610001"):
        with pytest.raises(tk.ObjectNotFound):
            helpers.call_action("budgetod_collectivite_summary", id=siret)
    with pytest.raises(tk.ObjectNotFound):
        helpers.call_action("budgetod_collectivite_summary", id=CRACH, annexe="../x")
    with pytest.raises(tk.ValidationError):
        helpers.call_action("budgetod_collectivite_summary")


def test_the_summary_serialises_to_json(publish_budget):
    publish_budget("mohon-cfu-2023")
    result = helpers.call_action("budgetod_collectivite_summary", id="21560134500014")
    assert json.loads(json.dumps(result)) == result
    assert result["exercices"][0]["measure"] == "realised" and result["exercices"][0]["population"] == 990


def publish_peer(sysadmin: dict, organization: dict, siret: str, population: int, spent: str, *,
                 private: bool = False, year: int = 2021) -> dict:
    """A commune's CA in M14 with one line of real operating expenditure."""
    dataset = helpers.call_action("package_create", context={"user": sysadmin["name"]},
                                  name=f"budget-{siret}-{year}-{organization['name']}",
                                  owner_org=organization["id"], private=private,
                                  extras=[{"key": "budgetod_siret", "value": siret},
                                          {"key": "budgetod_exercice", "value": str(year)}])
    key = f"{siret}-{year}-09"
    totem = totem_document([Line(nature="6064", amounts={"MtReal": spent})], siret=siret, year=str(year),
                           natdec="09").replace(b'V="3000"', f'V="{population}"'.encode())
    common = {"budgetod_document": key, "budgetod_etape": "09"}
    upload(sysadmin, dataset["id"], peer_csv(siret, year, spent), f"{key}-scdl.csv", format="CSV",
           budgetod_role="scdl", **common)
    upload(sysadmin, dataset["id"], totem, f"{key}-totem.xml", format="XML", budgetod_role="totem", **common)
    return helpers.call_action("package_show", id=dataset["id"])


def peer_csv(siret: str, year: int, spent: str) -> bytes:
    header = ("BGT_NATDEC,BGT_ANNEE,BGT_SIRET,BGT_NOM,BGT_CONTNAT,BGT_CONTNAT_LABEL,BGT_NATURE,BGT_NATURE_LABEL,"
              "BGT_FONCTION,BGT_FONCTION_LABEL,BGT_OPERATION,BGT_SECTION,BGT_OPBUDG,BGT_CODRD,BGT_MTREAL,"
              "BGT_MTBUDGPREC,BGT_MTRARPREC,BGT_MTPROPNOUV,BGT_MTPREV,BGT_CREDOUV,BGT_MTRAR3112,BGT_ARTSPE")
    row = (f"compte administratif,{year},{siret},PAIR,011,Charges,6064,Fournitures,,,,fonctionnement,réel,dépense,"
           f"{spent},,,,,,,non spécialisé")
    return f"{header}\n{row}\n".encode()


def test_peers_are_the_visible_main_budgets_of_the_same_norme_band_and_year(
        app, publish_budget, sysadmin, organization):
    publish_budget("crach-principal-ca-2021")  # M14, 3 446 inhabitants
    publish_budget("crach-lotissement-bp-2022")  # an annex: never a peer
    publish_peer(sysadmin, organization, "21000000000011", 2000, "3000.00")
    publish_peer(sysadmin, organization, "21000000000012", 3000, "3000.00")
    publish_peer(sysadmin, organization, "21000000000013", 3499, "6998.00")
    publish_peer(sysadmin, organization, "21000000000014", 3500, "1.00")  # the next band
    publish_peer(sysadmin, organization, "21000000000015", 2500, "1.00", private=True)

    def peers(headers: dict) -> dict:
        response = app.get("/api/3/action/budgetod_collectivite_summary", query_string={"id": CRACH},
                           headers=headers)
        assert response.status_code == 200
        return response.json["result"]["exercices"][0]["peers"]

    public = peers({})
    assert (public["family"], public["band"], public["count"]) == ("M14", {"min": 2000, "max": 3499}, 3)
    # 3000/2000, 3000/3000, 6998/3499 per inhabitant: 1.50, 1.00, 2.00.
    assert public["per_inhabitant"] == [{"section": "fonctionnement", "codrd": "dépense", "count": 3,
                                         "median": "1.50", "min": "1.00", "max": "2.00"}]
    # The organisation's own users see its private budget among the peers too.
    insider = peers({"Authorization": factories.APIToken(user=sysadmin["name"])["token"]})
    assert insider["count"] == 4 and insider["per_inhabitant"][0]["min"] == "0.00"


def test_peers_follow_the_portal_from_one_view_to_the_next(app, publish_budget, sysadmin, organization):
    """The list of the portal's budgets and what is compared of each are kept between two views:
    a budget published, hidden, deleted or whose file is replaced in between counts at the next."""
    publish_budget("crach-principal-ca-2021")
    first = publish_peer(sysadmin, organization, "21000000000011", 2000, "3000.00")
    as_editor = {"user": sysadmin["name"]}

    def peers() -> dict:
        response = app.get("/api/3/action/budgetod_collectivite_summary", query_string={"id": CRACH})
        assert response.status_code == 200
        return response.json["result"]["exercices"][0]["peers"]

    assert peers()["count"] == 1
    second = publish_peer(sysadmin, organization, "21000000000012", 3000, "6000.00")
    assert (peers()["count"], peers()["per_inhabitant"][0]["median"]) == (2, "1.75")
    helpers.call_action("package_patch", context=as_editor, id=second["id"], private=True)
    assert peers()["count"] == 1
    helpers.call_action("package_patch", context=as_editor, id=second["id"], private=False)
    assert peers()["count"] == 2
    helpers.call_action("package_delete", context=as_editor, id=second["id"])
    assert peers()["per_inhabitant"][0] == {"section": "fonctionnement", "codrd": "dépense", "count": 1,
                                            "median": "1.50", "min": "1.50", "max": "1.50"}
    # The peer's CSV replaced: 5,000.00 spent by 2,000 inhabitants.
    helpers.call_action("resource_patch", context=as_editor, id=resource_of(first, "scdl")["id"],
                        upload=file_storage(peer_csv("21000000000011", 2021, "5000.00"), "ca.csv"))
    assert peers()["per_inhabitant"][0]["median"] == "2.50"


def test_two_organisations_publishing_one_siret_are_never_merged(app, publish_budget, sysadmin, organization,
                                                                converted_documents, tmp_path):
    publish_budget("crach-principal-ca-2021")
    publish_peer(sysadmin, organization, "21000000000012", 3000, "3000.00")
    # Another organisation's editor later publishes datasets under the same SIRETs, with more documents
    # (one with the same document key, other amounts) than the first organisation has of CRACH.
    other = factories.Organization(name="intrus", title="Intrus",
                                   users=[{"name": sysadmin["name"], "capacity": "admin"}])
    publish_peer(sysadmin, other, CRACH, 3446, "999999.00")
    publish_peer(sysadmin, other, CRACH, 3446, "5.00", year=2020)
    publish_peer(sysadmin, other, "21000000000012", 3000, "90000.00")
    first = {"id": organization["id"], "name": "collectivites", "title": "Collectivités"}
    second = {"id": other["id"], "name": "intrus", "title": "Intrus"}

    # By default the organisation that published the budget first, alone.
    result = helpers.call_action("budgetod_collectivite_summary", id=CRACH)
    assert (result["organization"], result["other_organizations"]) == (first, [second])
    expected = expected_summary(tmp_path, converted_documents, "crach-principal-ca-2021")
    assert [{name: value for name, value in year.items() if name != "peers"}
            for year in result["exercices"]] == expected["exercices"]
    # The peer SIRET both organisations publish counts once, as its first publisher's: 3000/3000.
    assert result["exercices"][0]["peers"]["count"] == 1
    assert result["exercices"][0]["peers"]["per_inhabitant"][0]["median"] == "1.00"

    # The other organisation's, asked for by name or id: its documents only.
    for selector in ("intrus", other["id"]):
        theirs = helpers.call_action("budgetod_collectivite_summary", id=CRACH, organization=selector)
        assert (theirs["organization"], theirs["other_organizations"]) == (second, [first])
        assert [year["exercice"] for year in theirs["exercices"]] == [2020, 2021]
        assert [row["amount"] for year in theirs["exercices"] for row in year["totals"]] == ["5.00", "999999.00"]
    with pytest.raises(tk.ObjectNotFound):
        helpers.call_action("budgetod_collectivite_summary", id=CRACH, organization="nobody")

    # The page's URL selects the organisation with ?organization=<name>.
    assert "2020" not in app.get(f"/budgets/{CRACH}").body
    response = app.get(f"/budgets/{CRACH}", query_string={"organization": "intrus"})
    assert response.status_code == 200 and "2020" in response.body

    # Every link keeps the organisation: the dashboard's rows, and the page's CSV exports and embed code.
    dashboard = app.get("/budgets").body
    assert f'href="/budgets/{CRACH}?organization=collectivites"' in dashboard
    assert f'href="/budgets/{CRACH}?organization=intrus"' in dashboard
    assert f"/budgets/{CRACH}/series.csv?organization=intrus" in response.body
    assert f"/budgets/{CRACH}/embed?organization=intrus" in response.body
    exported = app.get(f"/budgets/{CRACH}/series.csv", query_string={"organization": "intrus"}).body
    assert "2020" in exported and "2020" not in app.get(f"/budgets/{CRACH}/series.csv").body


FORGED_AMOUNT = "1" * 35  # a CA's MtReal of 35 digits: its per-inhabitant figure cannot be quantized to cents


def test_a_forged_budget_never_fails_another_budgets_page(app, publish_budget, sysadmin, organization):
    """Another organisation publishes a CA with a 35-digit amount, a CSV with 9E+999998 and a CSV
    that stops being UTF-8: every page answers, the forged amounts are counted, the unreadable
    budget is left out of the peers and counted."""
    publish_budget("crach-principal-ca-2021")  # M14, 3 446 inhabitants: the unrelated collectivité
    forger = factories.Organization(name="faussaire", users=[{"name": sysadmin["name"], "capacity": "admin"}])
    publish_peer(sysadmin, forger, "21000000000021", 3000, FORGED_AMOUNT)
    # Their own CSVs uploaded in place of the converted ones: one with 9E+999998, one not UTF-8 past its first row.
    for siret, content in (("21000000000022", peer_csv("21000000000022", 2021, "9E+999998")),
                           ("21000000000023", peer_csv("21000000000023", 2021, "10.00") + b"\xff\xfe\n")):
        dataset = publish_peer(sysadmin, forger, siret, 3000, "10.00")
        helpers.call_action("resource_patch", context={"user": sysadmin["name"]},
                            id=resource_of(dataset, "scdl")["id"], upload=file_storage(content, "ca.csv"))
    publish_peer(sysadmin, organization, "21000000000011", 2000, "3000.00")

    for path in (f"/budgets/{CRACH}", f"/budgets/{CRACH}/embed", f"/budgets/{CRACH}/series.csv",
                 f"/budgets/{CRACH}/per-inhabitant.csv", "/budgets/21000000000021", "/budgets/21000000000022",
                 "/budgets/21000000000021/embed", "/budgets/21000000000021/series.csv", "/budgets"):
        assert app.get(path).status_code == 200, path

    result = helpers.call_action("budgetod_collectivite_summary", id=CRACH)
    (year,) = result["exercices"]
    # The two forged budgets compare with nothing (their one amount is out); the broken one's document
    # is left out of its own summary, so it compares with nothing either.
    assert result["unreadable_peers"] == 0
    (broken,) = helpers.call_action("budgetod_collectivite_summary", id="21000000000023")["skipped"]
    assert "UTF-8" in broken["message_en"]
    assert year["peers"]["count"] == 3 and year["peers"]["per_inhabitant"][0]["median"] == "1.50"
    for siret in ("21000000000021", "21000000000022"):
        forged = helpers.call_action("budgetod_collectivite_summary", id=siret)["exercices"][0]
        assert (forged["unreadable_amounts"], forged["totals"], forged["per_inhabitant"]) == (1, [], [])
    page = app.get("/en/budgets/21000000000021").body
    assert "1 amounts are not plausible numbers and are left out of the figures." in page


def test_requests_for_budgets_nobody_publishes_never_evict_the_portals_list(app, publish_budget, monkeypatch):
    """Anyone may ask for annex pages of SIRETs nobody publishes: those answers are not kept, and
    the next view of a real page reads the portal's list from the cache, not by a new search."""
    from ckanext.budgetod.logic import action

    publish_budget("crach-principal-ca-2021")
    listings: list[str] = []
    list_budgets = action._list_budgets
    monkeypatch.setattr(action, "_list_budgets", lambda context, fq: listings.append(fq) or list_budgets(context, fq))
    assert app.get(f"/budgets/{CRACH}").status_code == 200
    assert listings == ["+budgetod_siret:[* TO *]"]

    for number in range(20):
        assert app.get(f"/budgets/219900000{number:05d}/annexe-01").status_code == 404
        assert app.get("/api/3/action/budgetod_collectivite_summary",
                       query_string={"id": f"219900000{number:05d}", "annexe": "02"}).status_code == 404
    assert app.get(f"/budgets/{CRACH}").status_code == 200
    assert listings == ["+budgetod_siret:[* TO *]"]


def test_a_budget_whose_own_csv_breaks_past_its_header_still_has_its_page(app, publish_budget, sysadmin,
                                                                           organization):
    """Its own data never fail a budget's page either: the broken document is left out, named."""
    publish_budget("crach-principal-ca-2021")
    dataset = publish_peer(sysadmin, organization, "21000000000023", 3000, "10.00")
    helpers.call_action("resource_patch", context={"user": sysadmin["name"]}, id=resource_of(dataset, "scdl")["id"],
                        upload=file_storage(peer_csv("21000000000023", 2021, "10.00") + b"\xff\xfe\n", "ca.csv"))

    # Its one document is left out: the page says so (no series to export then).
    for path in ("/budgets/21000000000023", "/budgets/21000000000023/embed", f"/budgets/{CRACH}"):
        assert app.get(path).status_code == 200, path
    (skipped,) = helpers.call_action("budgetod_collectivite_summary", id="21000000000023")["skipped"]
    assert skipped["message_en"] and skipped["message_fr"]
