"""Plans de comptes: reading, lookups, locating by year (nearest year), caching, remote mirrors."""
from __future__ import annotations

import http.server
import threading
from functools import partial

import pytest

from ckanext.budgetod.core.errors import NomenclatureError
from ckanext.budgetod.core.net.fetch import FetchError
from ckanext.budgetod.core.totem import nomenclature
from ckanext.budgetod.core.totem.nomenclature import candidate_years, find_plan, load_plan
from tests.support.settings import offline_settings
from tests.support.shared import PLANS_DIR
from tests.support.totem_factory import write_plan

pytestmark = pytest.mark.usefixtures("offline_environment")

M14_2022 = PLANS_DIR / "2022" / "M14" / "M14_COM_500_3500" / "planDeCompte.xml"


def test_a_real_plan_gives_chapters_accounts_and_functions():
    plan = load_plan(str(M14_2022))
    assert (plan.norme, plan.declinaison) == ("M14", "M14_COM_500_3500")
    assert plan.chapter("011").label == "Charges à caractère général"
    assert plan.chapter("011").section == "F"
    assert plan.chapter("21").section == "I"
    nested = plan.accounts["10222"]  # three levels deep
    assert nested.label == "FCTVA" and nested.chapters == {"DR": "10", "RR": "10"}
    assert plan.accounts["021"].chapters == {"ROES": "021"}


def test_function_chapters_and_references_are_read():
    plan = load_plan(str(PLANS_DIR / "2018" / "M14" / "M14_COM_SUP3500" / "planDeCompte.xml"))
    assert plan.chapter("908").label == "Aménagement et services urbains, environnement"
    assert plan.chapter("908").section == "I"
    assert plan.functions["12"] == "Hygiène et salubrité publique"
    assert plan.functions["421"] == "Centres de loisirs"


def test_prefix_lookups(plans_dir):
    plan = load_plan(str(write_plan(plans_dir)))
    assert plan.chapter_by_prefix("2313").code == "23"
    assert plan.chapter_by_prefix("4581001").code == "4581"
    assert plan.chapter_by_prefix("23") is None  # a proper prefix only
    assert plan.parent_account("6518").code == "651"
    assert plan.parent_account("6") is None
    assert plan.parent_function("8221") == ("822", "Voirie")


def test_candidate_years_go_outwards_earlier_first():
    assert candidate_years(2020)[:5] == [2020, 2019, 2021, 2018, 2022]
    assert len(candidate_years(2020)) == 1 + 2 * nomenclature.MAX_YEAR_DISTANCE


def test_exact_year_is_used(plans_dir):
    write_plan(plans_dir, 2021)
    write_plan(plans_dir, 2022)
    lookup = find_plan("M14", "M14_COM_500_3500", 2022, offline_settings(plans_dir))
    assert (lookup.used_year, lookup.year_fallback) == (2022, False)
    assert lookup.plan.location.endswith("2022/M14/M14_COM_500_3500/planDeCompte.xml")


def test_nearest_year_is_used_when_the_exact_one_is_missing(plans_dir):
    write_plan(plans_dir, 2019)
    write_plan(plans_dir, 2024)
    lookup = find_plan("M14", "M14_COM_500_3500", 2022, offline_settings(plans_dir))
    assert (lookup.used_year, lookup.year_fallback) == (2024, True)
    assert lookup.to_dict()["requested_year"] == 2022


def test_no_plan_within_reach_gives_none(plans_dir):
    write_plan(plans_dir, 2022 - nomenclature.MAX_YEAR_DISTANCE - 1)
    lookup = find_plan("M14", "M14_COM_500_3500", 2022, offline_settings(plans_dir))
    assert lookup.plan is None and lookup.used_year is None


def test_a_plans_location_that_is_no_directory_is_an_error(tmp_path):
    with pytest.raises(FetchError):
        find_plan("M14", "M14_COM_500_3500", 2022, offline_settings(tmp_path / "absent"))


def test_each_plan_is_parsed_once_per_process(plans_dir):
    write_plan(plans_dir)
    first = find_plan("M14", "M14_COM_500_3500", 2022, offline_settings(plans_dir)).plan
    second = find_plan("M14", "M14_COM_500_3500", 2022, offline_settings(plans_dir)).plan
    again = load_plan(first.location)
    assert first is second is again
    assert nomenclature._load_plan.cache_info().misses == 1


def test_a_plan_with_a_doctype_is_refused(tmp_path):
    path = tmp_path / "planDeCompte.xml"
    path.write_text('<?xml version="1.0"?><!DOCTYPE Nomenclature [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                    "<Nomenclature>&x;</Nomenclature>")
    with pytest.raises(NomenclatureError) as caught:
        load_plan(str(path))
    assert caught.value.message_id == "plan_unreadable"
    assert "DOCTYPE" in caught.value.describe("en")
    assert "root:" not in caught.value.describe("en")  # /etc/passwd was never read


@pytest.mark.parametrize("content, message_id", [
    (b"<Other/>", "plan_not_a_plan"),
    (b"<Nomenclature><Nature>", "plan_unreadable"),
    (b"not xml", "plan_unreadable"),
])
def test_an_unusable_plan_is_an_error(tmp_path, content, message_id):
    path = tmp_path / "planDeCompte.xml"
    path.write_bytes(content)
    with pytest.raises(NomenclatureError) as caught:
        load_plan(str(path))
    assert caught.value.message_id == message_id


class _PlanServer:
    """A loopback HTTP mirror of a plans directory that records the paths asked for."""

    def __init__(self, directory):
        self.requests: list[str] = []
        recorder = self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                recorder.append(self.path)
                super().do_GET()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(directory)))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/normes"

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def plan_server(plans_dir):
    root = plans_dir.parent / "site"
    (root / "normes").mkdir(parents=True)
    server = _PlanServer(root)
    server.mirror = root / "normes"
    yield server
    server.close()


def test_plans_from_a_base_url_are_downloaded_once_into_the_cache(plan_server, tmp_path):
    write_plan(plan_server.mirror, 2021)
    cache = tmp_path / "cache"
    served = offline_settings(plan_server.url, cache_dir=str(cache), network={"allow_private": True})
    lookup = find_plan("M14", "M14_COM_500_3500", 2022, served)
    assert lookup.used_year == 2021
    assert lookup.plan.location.startswith(str(cache))
    assert plan_server.requests == ["/normes/2022/M14/M14_COM_500_3500/planDeCompte.xml",
                                    "/normes/2021/M14/M14_COM_500_3500/planDeCompte.xml"]
    nomenclature.clear_caches()  # a new process: the download is reused from the cache
    again = find_plan("M14", "M14_COM_500_3500", 2021, served)
    assert again.plan.chapter("011") is not None
    assert len(plan_server.requests) == 2


def test_a_loopback_base_url_is_refused_unless_allowed(plan_server, tmp_path):
    write_plan(plan_server.mirror, 2022)
    with pytest.raises(FetchError):
        find_plan("M14", "M14_COM_500_3500", 2022, offline_settings(plan_server.url, cache_dir=str(tmp_path / "cache")))
    assert plan_server.requests == []
