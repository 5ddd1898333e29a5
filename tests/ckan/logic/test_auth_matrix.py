"""The authorisation matrix: who may call each action, see each page and reach each path the
extension adds, for every kind of user of a budget dataset's organisation ("A") and beyond.

The expected matrix is EXPECTED below (docs/authorisation.md shows the same
table). Each test observes real outcomes — HTTP status codes, what a page shows, what a harvest
source became, what got queued — for every role, and compares the whole rows with EXPECTED.

The data.gouv.fr sync runs in two ways only: the background job queued when a dataset changes
(so whoever may change the dataset queues it), and the server command `ckan budgetod datagouv
sync`, which needs shell access to the portal. No action, page or API call runs a sync.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ckan.model as model
import pytest
from ckan.tests import factories, helpers

from ckanext.harvest.model import HarvestJob

from ckanext.budgetod.datagouv import jobs as datagouv_jobs
from ckanext.budgetod.datagouv.sync import state
from ckanext.budgetod.logic import action
from tests.support.ckan_harvest import harvest
from tests.support.ckan_portal import resource_of, token_of
from tests.support.servers import LocalServer
from tests.support.shared import SHARED_TOTEM

YES, NO = "allowed", "refused"
# "A" is the organisation of the budget datasets and of the harvest sources; "other" users are an
# editor and an admin of another organisation.
ROLES = ("anonymous", "member", "editor", "admin", "other_editor", "other_admin", "sysadmin")
EVERYONE = (YES,) * 7
ORGANISATION_READERS = (NO, YES, YES, YES, NO, NO, YES)
ORGANISATION_EDITORS = (NO, NO, YES, YES, NO, NO, YES)
ORGANISATION_ADMINS = (NO, NO, NO, YES, NO, NO, YES)

EXPECTED = {
    # columns: anonymous, member, editor, admin, other_editor, other_admin, sysadmin
    "action budgetod_config_show":                        (NO, NO, NO, NO, NO, NO, YES),
    "action budgetod_budget_summary, public dataset":     EVERYONE,
    "action budgetod_budget_summary, private dataset":    ORGANISATION_READERS,
    "action budgetod_collectivite_summary, public budget": EVERYONE,
    "action budgetod_collectivite_summary, private budget (else 404)": ORGANISATION_READERS,
    "action budgetod_datagouv_status":                    ORGANISATION_EDITORS,
    "page /budgets, public coverage":                     EVERYONE,
    "page /budgets, a private budget listed":             ORGANISATION_READERS,
    "page /budgets, last harvest of A's source":          ORGANISATION_ADMINS,
    "page /budgets, data.gouv.fr sync state":             ORGANISATION_ADMINS,
    "page /budgets/report/<id>, public dataset":          EVERYONE,
    "page /budgets/report/<id>, private dataset":         ORGANISATION_READERS,
    "dataset page, data.gouv.fr sync state box":          ORGANISATION_EDITORS,
    "resource view, public dataset":                      EVERYONE,
    "resource view, private dataset":                     ORGANISATION_READERS,
    "harvest_source_update, source of A":                 ORGANISATION_EDITORS,
    "harvest_job_create, source of A":                    ORGANISATION_EDITORS,
    "harvest_source_delete, source of A":                 ORGANISATION_EDITORS,
    # By changing the dataset (package_update): the sync job is queued on commit.
    "queue a data.gouv.fr sync, web or API":              ORGANISATION_EDITORS,
    # `ckan budgetod datagouv sync` is a server command: shell access only.
    "run a data.gouv.fr sync, web or API":                (NO,) * 7,
    # Across organisations. A dataset's organisation changes by the sysadmins' hand only (CKAN lets a
    # user move a dataset between two organisations they edit both; none of these roles does).
    "move a budget dataset of A to another organisation": (NO, NO, NO, NO, NO, NO, YES),
    # The names budget-<SIRET>-<year>… are the extension's: taken by hand first, they would block the
    # collectivité's harvest (a source never writes another organisation's dataset).
    "create a dataset named budget-<SIRET>-<year>, or rename one so": (NO, NO, NO, NO, NO, NO, YES),
    # A copy (or forgery) of A's document served by a source of another organisation: its import is
    # an object error naming A, whoever created the source.
    "change A's budget through another organisation's source": (NO,) * 7,
    # The udata organisation of A's datasets is tied in the ini file (shell access), not from the web.
    "tie A to a data.gouv.fr organisation, web or API":   (NO,) * 7,
}

PUBLIC_STEM, PRIVATE_STEM = "crach-lotissement-bp-2022", "transport-m43-bp-2022"
ADMIN_SECTION = 'class="budgetod-admin"'
SYNC_COUNTS = 'class="budgetod-datagouv-counts"'
SYNC_BOX = 'class="module module-narrow module-shallow budgetod-datagouv"'
VIEW_SUMMARY = '-summary">{'  # the summary JSON the budget view embeds


@dataclass
class Cast:
    """A user of each role (none for "anonymous"), with an API token to act over HTTP."""

    users: dict[str, dict]
    tokens: dict[str, str]

    def headers(self, role: str) -> dict:
        return {"Authorization": self.tokens[role]} if role in self.tokens else {}


@pytest.fixture
def cast(clean_db, sysadmin, organization) -> Cast:
    users = {role: factories.User() for role in ROLES if role not in ("anonymous", "sysadmin")}
    for role in ("member", "editor", "admin"):
        helpers.call_action("organization_member_create", context={"user": sysadmin["name"]},
                            id=organization["id"], username=users[role]["name"], role=role)
    factories.Organization(name="autre-collectivite", users=[
        {"name": users["other_editor"]["name"], "capacity": "editor"},
        {"name": users["other_admin"]["name"], "capacity": "admin"}])
    users["sysadmin"] = sysadmin
    return Cast(users, {role: token_of(user) for role, user in users.items()})


@dataclass
class Budgets:
    public: dict
    private: dict


@pytest.fixture
def budgets(publish_budget) -> Budgets:
    return Budgets(publish_budget(PUBLIC_STEM), publish_budget(PRIVATE_STEM, private=True))


def harvest_source(sysadmin: dict, organization: dict, name: str) -> dict:
    return helpers.call_action(
        "harvest_source_create", context={"user": sysadmin["name"]}, name=name, title=f"Budgets {name}",
        url=f"https://example.org/{name}/", source_type="budgetod_totem", owner_org=organization["id"],
        frequency="MANUAL")


def mark_sync_pending(*datasets: dict) -> None:
    """A sync state row, as a change with the sync enabled leaves it: the dataset page's box and
    the dashboard's sync section then have something to show."""
    for dataset in datasets:
        state.mark_pending(dataset["id"], dataset["name"])
    model.Session.commit()


def observed(checks: dict[str, Callable[[str], bool]]) -> dict[str, tuple]:
    return {row: tuple(YES if check(role) else NO for role in ROLES) for row, check in checks.items()}


def expected(checks: dict) -> dict[str, tuple]:
    return {row: EXPECTED[row] for row in checks}


def granted(status: int, refusals: tuple[int, ...]) -> bool:
    """200 is a grant; a refusal status a refusal; anything else is a failure of the test, not a cell."""
    assert status == 200 or status in refusals, status
    return status == 200


# ---------------------------------------------------------------- actions

def test_actions(app, cast, budgets):
    def call(role: str, name: str, refusals: tuple[int, ...] = (403,), **params) -> bool:
        response = app.get(f"/api/3/action/{name}", query_string=params, headers=cast.headers(role))
        return granted(response.status_code, refusals)

    checks = {
        "action budgetod_config_show": lambda role: call(role, "budgetod_config_show"),
        "action budgetod_budget_summary, public dataset": lambda role: call(
            role, "budgetod_budget_summary", resource_id=resource_of(budgets.public, "scdl")["id"]),
        "action budgetod_budget_summary, private dataset": lambda role: call(
            role, "budgetod_budget_summary", resource_id=resource_of(budgets.private, "scdl")["id"]),
        # A budget is found among the datasets the user may see: a private one is not found.
        "action budgetod_collectivite_summary, public budget": lambda role: call(
            role, "budgetod_collectivite_summary", id="21560046100085", annexe="06"),
        "action budgetod_collectivite_summary, private budget (else 404)": lambda role: call(
            role, "budgetod_collectivite_summary", (404,), id="24350078200095", annexe="06"),
        "action budgetod_datagouv_status": lambda role: call(
            role, "budgetod_datagouv_status", id=budgets.public["name"]),
    }
    assert observed(checks) == expected(checks)


# ---------------------------------------------------------------- pages

def test_budgets_dashboard(app, cast, budgets, sysadmin, organization):
    source = harvest_source(sysadmin, organization, "budgets-morbihan")
    helpers.call_action("harvest_job_create", context={"user": sysadmin["name"]}, source_id=source["id"],
                        run=False)
    mark_sync_pending(budgets.public, budgets.private)
    pages = {}

    def dashboard(role: str) -> str:
        if role not in pages:
            response = app.get("/budgets", headers=cast.headers(role))
            assert response.status_code == 200
            pages[role] = response.get_data(as_text=True)
        return pages[role]

    def administrators_part(role: str) -> str:
        html = dashboard(role)
        return html.split(ADMIN_SECTION, 1)[1] if ADMIN_SECTION in html else ""

    checks = {
        "page /budgets, public coverage":
            lambda role: f'href="/dataset/{budgets.public["name"]}"' in dashboard(role),
        "page /budgets, a private budget listed":
            lambda role: f'href="/dataset/{budgets.private["name"]}"' in dashboard(role),
        "page /budgets, last harvest of A's source": lambda role: source["title"] in administrators_part(role),
        "page /budgets, data.gouv.fr sync state": lambda role: SYNC_COUNTS in administrators_part(role),
    }
    assert observed(checks) == expected(checks)
    # An admin of another organisation gets the administrators' part, with nothing of A in it.
    assert administrators_part("other_admin") and budgets.public["name"] not in administrators_part("other_admin")


def test_validation_report_pages(app, cast, budgets):
    def report(role: str, dataset: dict) -> bool:
        response = app.get(f"/budgets/report/{resource_of(dataset, 'report')['id']}", headers=cast.headers(role))
        return granted(response.status_code, (404,))

    checks = {
        "page /budgets/report/<id>, public dataset": lambda role: report(role, budgets.public),
        "page /budgets/report/<id>, private dataset": lambda role: report(role, budgets.private),
    }
    assert observed(checks) == expected(checks)


def test_dataset_page_sync_state_box(app, cast, budgets):
    mark_sync_pending(budgets.public)

    def box(role: str) -> bool:
        response = app.get(f"/dataset/{budgets.public['name']}", headers=cast.headers(role))
        assert response.status_code == 200
        return SYNC_BOX in response.get_data(as_text=True)

    checks = {"dataset page, data.gouv.fr sync state box": box}
    assert observed(checks) == expected(checks)


def test_resource_view(app, cast, budgets, sysadmin):
    def budget_view(role: str, dataset: dict) -> bool:
        """The resource page and the view's own address both show the budget, or neither does."""
        csv = resource_of(dataset, "scdl")
        view = next(view for view in helpers.call_action("resource_view_list", context={"user": sysadmin["name"]},
                                                         id=csv["id"]) if view["view_type"] == "budgetod_view")
        shown = []
        for url in (f"/dataset/{dataset['name']}/resource/{csv['id']}",
                    f"/dataset/{dataset['name']}/resource/{csv['id']}/view/{view['id']}"):
            response = app.get(url, headers=cast.headers(role))
            shown.append(granted(response.status_code, (403, 404))
                         and VIEW_SUMMARY in response.get_data(as_text=True))
        assert shown[0] == shown[1], (role, url)
        return shown[0]

    checks = {
        "resource view, public dataset": lambda role: budget_view(role, budgets.public),
        "resource view, private dataset": lambda role: budget_view(role, budgets.private),
    }
    assert observed(checks) == expected(checks)


# ---------------------------------------------------------------- harvest sources

def test_harvest_sources_of_organisation_a(app, cast, sysadmin, organization):
    # A source per role, so that each role's update, job and deletion is its own.
    sources = {role: harvest_source(sysadmin, organization, f"source-{role.replace('_', '-')}") for role in ROLES}

    def post(role: str, action_name: str, **params) -> int:
        return app.post(f"/api/3/action/{action_name}", json=params, headers=cast.headers(role)).status_code

    def outcome(role: str, status: int, happened: bool) -> bool:
        # A grant does it, a refusal leaves no trace.
        assert granted(status, (403,)) == happened, (role, status)
        return happened

    def updated(role: str) -> bool:
        source = sources[role]
        status = post(role, "harvest_source_update", id=source["id"], name=source["name"], url=source["url"],
                      source_type=source["source_type"], owner_org=organization["id"], frequency="MANUAL",
                      title=f"Renamed by {role}")
        return outcome(role, status, model.Package.get(source["id"]).title == f"Renamed by {role}")

    def job_created(role: str) -> bool:
        status = post(role, "harvest_job_create", source_id=sources[role]["id"], run=False)
        jobs = model.Session.query(HarvestJob).filter_by(source_id=sources[role]["id"]).count()
        return outcome(role, status, jobs == 1)

    def deleted(role: str) -> bool:
        status = post(role, "harvest_source_delete", id=sources[role]["id"])
        return outcome(role, status, model.Package.get(sources[role]["id"]).state == "deleted")

    # In this order: a job is only created for an active source.
    checks = {
        "harvest_source_update, source of A": updated,
        "harvest_job_create, source of A": job_created,
        "harvest_source_delete, source of A": deleted,
    }
    assert observed(checks) == expected(checks)


# ---------------------------------------------------------------- the data.gouv.fr sync

def test_only_who_may_change_a_dataset_can_queue_its_sync_and_no_request_runs_one(
        app, cast, budgets, ckan_config, monkeypatch, empty_jobs_queue):
    # The sync enabled towards a closed port: a sync run by a request would record a failed attempt.
    for option, value in (("enabled", True), ("url", "http://127.0.0.1:9"), ("api_key", "not-used"),
                          ("http_timeout", 1)):
        monkeypatch.setitem(ckan_config, f"ckanext.budgetod.datagouv.{option}", value)
    dataset = budgets.public
    csv = resource_of(dataset, "scdl")

    def every_request(role: str) -> list[tuple[str, str, dict]]:
        return [
            ("get", "/budgets", {}), ("get", f"/budgets/report/{resource_of(dataset, 'report')['id']}", {}),
            ("get", f"/dataset/{dataset['name']}", {}),
            ("get", f"/dataset/{dataset['name']}/resource/{csv['id']}", {}),
            *(("get", f"/api/3/action/{name}", {"id": dataset["id"], "resource_id": csv["id"]})
              for name in action.get_actions()),
            *(("post", f"/api/3/action/{name}", {"id": dataset["id"], "resource_id": csv["id"]})
              for name in action.get_actions()),
            # What changes the dataset, and so queues its sync. Each role writes its own values: an
            # update that changes nothing is no change (CKAN 2.12 skips it, dataset hooks included).
            ("post", "/api/3/action/package_patch", {"id": dataset["id"], "notes": f"Changed by {role}."}),
            ("post", "/api/3/action/resource_patch", {"id": csv["id"], "description": f"Changed by {role}."}),
        ]

    sync_attempted: dict[str, bool] = {}

    def queued(role: str) -> bool:
        empty_jobs_queue.empty()
        for method, url, params in every_request(role):
            if method == "get":
                response = app.get(url, query_string=params, headers=cast.headers(role))
            else:
                response = app.post(url, json=params, headers=cast.headers(role))
            assert response.status_code in (200, 403, 404), (role, method, url, response.status_code)
        model.Session.expire_all()
        row = state.get(dataset["id"])
        sync_attempted[role] = bool(row and row.last_attempt)
        return any(job.func == datagouv_jobs.sync_dataset and job.args == [dataset["id"]]
                   for job in empty_jobs_queue.jobs)

    # The rows are observed in order: every role's requests are made (queued) before ran is read.
    checks = {"queue a data.gouv.fr sync, web or API": queued,
              "run a data.gouv.fr sync, web or API": lambda role: sync_attempted[role]}
    assert observed(checks) == expected(checks)
    # What the web offers: read-only actions and GET pages, nothing that writes or syncs.
    assert all(getattr(function, "side_effect_free", False) for function in action.get_actions().values())
    routes = [rule for rule in app.flask_app.url_map.iter_rules() if rule.endpoint.startswith("budgetod_")]
    assert routes and all(rule.methods <= {"GET", "HEAD", "OPTIONS"} for rule in routes)


# ---------------------------------------------------------------- across organisations

def test_across_organisations(app, cast, budgets, sysadmin):
    other = model.Group.get("autre-collectivite")

    def post(role: str, action_name: str, **params):
        return app.post(f"/api/3/action/{action_name}", json=params, headers=cast.headers(role))

    def moved(role: str) -> bool:
        status = post(role, "package_patch", id=budgets.public["id"], owner_org=other.id).status_code
        owner = model.Package.get(budgets.public["id"]).owner_org
        assert granted(status, (403, 409)) == (owner == other.id), (role, status)
        return owner == other.id

    def snapshot() -> tuple:
        dataset = helpers.call_action("package_show", context={"use_cache": False}, id=budgets.private["id"])
        return dataset["owner_org"], sorted((resource["id"], resource.get("budgetod_sha256"), resource["url"])
                                            for resource in dataset["resources"])

    def changed_through_other_source(role: str) -> bool:
        before = snapshot()
        with LocalServer(files={"/copy.xml": (SHARED_TOTEM / f"{PRIVATE_STEM}.xml").read_bytes()}) as server:
            response = post(role, "harvest_source_create", name=f"copie-{role.replace('_', '-')}", title="Copie",
                            url=server.url("/copy.xml"), source_type="budgetod_totem", owner_org=other.id,
                            frequency="MANUAL")
            assert response.status_code in (200, 403), (role, response.status_code)
            if response.status_code == 200:
                run = harvest(response.json["result"])
                assert "Collectivités" in run.errors()[0], run.errors()
        return snapshot() != before

    def tied(role: str) -> bool:
        response = post(role, "config_option_update", **{"ckanext.budgetod.datagouv.organizations": "x=y"})
        assert response.status_code in (400, 403, 409), (role, response.status_code)
        return bool(model.Session.query(model.SystemInfo).filter_by(
            key="ckanext.budgetod.datagouv.organizations").count())

    def took_budget_name(role: str) -> bool:
        index = ROLES.index(role)
        owner = other.id if role.startswith("other_") else budgets.public["owner_org"]
        created = post(role, "package_create", name=f"budget-21560046100010-{2030 + index}", owner_org=owner)
        own = factories.Dataset(owner_org=owner)
        renamed = post(role, "package_patch", id=own["id"], name=f"budget-21560046100010-{2040 + index}")
        assert granted(created.status_code, (403,)) == granted(renamed.status_code, (403,)), (role, created, renamed)
        if role in ("editor", "other_admin"):  # they may create datasets, not with these names
            assert "budget-21560046100010-" in created.json["error"]["message"], created.json
            assert "est réservé" in created.json["error"]["message"], created.json  # the portal speaks French
        return granted(created.status_code, (403,))

    # The private budget is the one served: the public one is moved by the sysadmin in the first row.
    checks = {
        "create a dataset named budget-<SIRET>-<year>, or rename one so": took_budget_name,
        "change A's budget through another organisation's source": changed_through_other_source,
        "tie A to a data.gouv.fr organisation, web or API": tied,
        "move a budget dataset of A to another organisation": moved,
    }
    assert observed(checks) == expected(checks)
