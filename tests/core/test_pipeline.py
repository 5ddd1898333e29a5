"""The one pipeline: convert, validate, report (the report's shape: test_report.py)."""
from __future__ import annotations

import json

import pytest

from ckanext.budgetod.core.errors import DocumentError
from ckanext.budgetod.core.pipeline import Pipeline
from ckanext.budgetod.core.report import REPORT_VERSION, Report
from ckanext.budgetod.core.scdl import validation
from ckanext.budgetod.core.settings import Settings
from tests.support.shared import CORPUS, SCHEMA_PATH
from tests.support.totem_factory import Line, write_plan, write_totem

pytestmark = pytest.mark.usefixtures("offline_environment")

CRACH = next(path for path in CORPUS if path.name == "crach-lotissement-bp-2022.xml")
TRANSPORT = next(path for path in CORPUS if path.name == "transport-m43-bp-2022.xml")
REPORT_KEYS = list(Report.__annotations__)


@pytest.fixture
def plan(plans_dir):
    write_plan(plans_dir, 2022)
    return plans_dir


def test_the_report_holds_document_rows_plan_and_warnings(tmp_path, plan):
    source = write_totem(tmp_path / "doc.xml", lines=[Line(nature="6518"), Line(calculated=True)])
    processed = Pipeline(Settings(plans_de_comptes=str(plan), scdl_schema=str(SCHEMA_PATH))).run(
        str(source), str(tmp_path / "doc.csv"), validate=False)
    report = processed.report
    assert list(report) == REPORT_KEYS and report["report_version"] == REPORT_VERSION
    assert report["conversion"]["rows"] == 1
    assert report["document"]["lines"] == {"total": 2, "calculated": 1, "detail": 1}
    assert "source" not in report["document"] and report["source"] == str(source)
    assert report["conversion"]["plan"]["used_year"] == 2022
    assert report["conversion"]["plan"]["location"] is None  # a path of this machine
    assert report["conversion"]["output"] is None
    warning = report["conversion"]["warnings"][0]
    assert warning["code"] == "nature_label_from_parent"
    assert warning["message_en"].startswith("account 6518 missing")
    assert warning["message_fr"] and warning["message_fr"] != warning["message_en"]
    assert report["validation"] is None and report["error"] is None and report["occultation"] is None
    json.dumps(report)  # serialisable as is


def test_a_run_validates_every_document_against_a_schema_loaded_once(tmp_path, monkeypatch):
    loads = []
    load_schema = validation.load_schema
    monkeypatch.setattr(validation, "load_schema", lambda *args, **kwargs: loads.append(args) or load_schema(
        *args, **kwargs))
    pipeline = Pipeline(Settings.from_environment())
    for number, document in enumerate((CRACH, TRANSPORT)):
        processed = pipeline.run(str(document), str(tmp_path / f"{number}.csv"), source=f"https://example.org/{number}",
                                 sha256="0" * 64)
        assert processed.valid and processed.report["validation"]["valid"] is True
        assert processed.report["validation"]["schema"] == {"name": "scdl/budget", "version": "0.8.3"}
        assert not {"file", "frictionless"} & set(processed.report["validation"])
        assert processed.report["sha256"] == "0" * 64 and processed.schema_version == "0.8.3"
    assert len(loads) == 1


def test_an_occulted_run_converts_the_occulted_document(tmp_path):
    processed = Pipeline(Settings.from_environment()).run(str(CRACH), str(tmp_path / "out.csv"),
                                                          occult_to=str(tmp_path / "occulted.xml"))
    assert processed.totem_path == str(tmp_path / "occulted.xml")
    assert processed.report["occultation"] == processed.occultation.to_dict()
    assert processed.report["document_key"] == processed.key


def test_a_document_that_cannot_be_converted_gets_a_report_saying_why(tmp_path):
    broken = write_totem(tmp_path / "broken.xml", siret="123")
    pipeline = Pipeline(Settings.from_environment())
    with pytest.raises(DocumentError) as caught:
        pipeline.run(str(broken), str(tmp_path / "out.csv"))
    processed = pipeline.failure(str(broken), caught.value, source="https://example.org/broken.xml", sha256="f")
    report = processed.report
    assert list(report) == REPORT_KEYS and processed.csv_path is None and not processed.valid
    assert report["error"] == {"message_fr": "SIRET « 123 » invalide (IdEtab) : 14 chiffres attendus",
                               "message_en": 'invalid SIRET "123" (IdEtab): 14 digits expected'}
    assert report["document_key"] is None and report["conversion"] is None and report["validation"] is None

