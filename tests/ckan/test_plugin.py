"""The extension loaded in a real CKAN: configuration, the action API, search through Solr."""
import json
from pathlib import Path

import ckan.plugins as plugins
import ckan.plugins.toolkit as tk
import pytest
import yaml
from ckan.cli.cli import ckan as ckan_command
from ckan.tests import factories, helpers

import ckanext.budgetod
from tests.support.shared import SHARED_TOTEM

pytestmark = pytest.mark.usefixtures("clean_db")


def test_status_show_lists_the_extension(app):
    status = app.get("/api/3/action/status_show").json["result"]
    assert "budgetod" in status["extensions"]
    assert plugins.plugin_loaded("budgetod")


def test_a_dataset_created_through_the_action_api_is_found_by_search(app):
    sysadmin = factories.SysadminWithToken()
    organization = factories.Organization()
    response = app.post(
        "/api/3/action/package_create",
        json={
            "name": "budget-21560046100085-2022",
            "title": "Budget 2022 — Crach",
            "owner_org": organization["id"],
            "resources": [{"url": "http://example.org/budget.csv", "format": "CSV"}],
        },
        headers={"Authorization": sysadmin["token"]},
    )
    assert response.status_code == 200, response.body
    created = response.json["result"]

    found = app.get("/api/3/action/package_search", query_string={"q": "Crach"}).json["result"]
    assert found["count"] == 1
    assert found["results"][0]["id"] == created["id"]
    assert found["results"][0]["num_resources"] == 1


def test_config_declaration_prints_every_option_with_its_description(cli):
    declared = yaml.safe_load(
        (Path(ckanext.budgetod.__file__).parent / "config_declaration.yaml").read_text()
    )
    options = [option for group in declared["groups"] for option in group["options"]]
    assert len(options) >= 6

    keys_only = cli.invoke(ckan_command, ["config", "declaration", "budgetod"])
    # CKAN prints the descriptions with --include-docs.
    documented = cli.invoke(ckan_command, ["config", "declaration", "budgetod", "--include-docs"])

    assert keys_only.exit_code == 0, keys_only.output
    assert documented.exit_code == 0, documented.output
    for option in options:
        assert option["key"].startswith("ckanext.budgetod.")
        assert f"\n{option['key']} = " in keys_only.output
        for line in option["description"].strip().splitlines():
            assert f"## {line}\n" in documented.output, option["key"]


def test_config_show_is_for_sysadmins_only():
    sysadmin = factories.Sysadmin()
    user = factories.User()
    shown = helpers.call_action("budgetod_config_show", context={"user": sysadmin["name"]})
    assert shown["allow_private_urls"] is True
    assert shown["plans_de_comptes"].endswith("plans-de-comptes")
    with pytest.raises(tk.NotAuthorized):
        helpers.call_action(
            "budgetod_config_show", context={"user": user["name"], "ignore_auth": False}
        )


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/api/3/action/budgetod_config_show", "Seuls les administrateurs du système"),
        ("/en/api/3/action/budgetod_config_show", "Only system administrators"),
    ],
)
def test_messages_follow_the_language_french_by_default(app, path, expected):
    user = factories.UserWithToken()
    response = app.get(path, headers={"Authorization": user["token"]}, status=403)
    assert expected in response.json["error"]["message"]


def test_ckan_budgetod_convert_uses_the_ini_nomenclatures_and_schema(cli, tmp_path):
    output, report = tmp_path / "crach.csv", tmp_path / "crach.json"

    result = cli.invoke(ckan_command, [
        "budgetod", "convert", str(SHARED_TOTEM / "crach-principal-ca-2021.xml"),
        "-o", str(output), "--report", str(report),
    ])

    assert result.exit_code == 0, result.output
    assert output.read_text(encoding="utf-8").count("\n") == 1 + 196
    details = json.loads(report.read_text(encoding="utf-8"))
    assert details["validation"]["valid"] is True
    assert details["report_version"] == 2
    assert details["conversion"]["plan"]["location"].endswith("2021/M14/M14_COM_500_3500/planDeCompte.xml")


def test_ckan_budgetod_reports_bad_input_in_one_line(cli, tmp_path):
    broken = SHARED_TOTEM / "broken" / "mauvais_siret.xml"

    result = cli.invoke(ckan_command, ["budgetod", "inspect", str(broken)])

    assert result.exit_code == 2
    assert result.output.strip().startswith(f"error: {broken}:")
    assert "Traceback" not in result.output


def test_the_datagouv_commands_help_comes_from_the_catalogue(cli):
    from ckanext.budgetod.core import messages

    group_help = cli.invoke(ckan_command, ["budgetod", "datagouv", "--help"])
    sync_help = cli.invoke(ckan_command, ["budgetod", "datagouv", "sync", "--help"])

    assert group_help.exit_code == 0 and sync_help.exit_code == 0
    language = messages.current_language()
    assert messages.text("datagouv_cli_help", language) in group_help.output
    assert messages.text("datagouv_cli_sync_short_help", language) in group_help.output
    assert messages.text("datagouv_cli_opt_dry_run", language) in " ".join(sync_help.output.split())


def test_the_harvester_describes_itself_in_both_languages():
    description = plugins.get_plugin("budgetod_harvester").info()["description"]

    assert description.startswith("Documents budgétaires TOTEM (fichier, page d'index")
    assert " / TOTEM budget documents (file, index page" in description
    assert "metadata" in description  # the source configuration's keys
