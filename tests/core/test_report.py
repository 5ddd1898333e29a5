"""The report's one shape (core/report.py): what the pipeline writes has exactly the types' keys,
in the order they declare, and any stored report, of any version and any content, reads back as a
well-typed one or as no report."""
from __future__ import annotations

import copy
import json
import types
import typing

import pytest

from ckanext.budgetod.core.errors import DocumentError
from ckanext.budgetod.core.pipeline import Pipeline
from ckanext.budgetod.core.report import (
    MAX_OCCULTATION_RULES,
    MAX_REPLACEMENT_LENGTH,
    MAX_RULE_NAME_LENGTH,
    REPORT_VERSION,
    Report,
    from_untrusted,
    to_json,
)
from ckanext.budgetod.core.settings import Settings
from tests.support.shared import CORPUS
from tests.support.totem_factory import write_totem

pytestmark = pytest.mark.usefixtures("offline_environment")

CRACH = next(path for path in CORPUS if path.name == "crach-lotissement-bp-2022.xml")
# Values of every JSON type but the expected one, somewhere.
WRONG_VALUES = (None, True, -3, 2.5, "x", [], [1, "x"], {}, {"a": 1})


def check_shape(value: object, declared: object, path: str = "report") -> None:
    """``value`` has the type ``declared``: a TypedDict's keys exactly, in their order, each of its
    type; a list's items and a dict's values of theirs; no bool where a number is declared."""
    origin, arguments = typing.get_origin(declared), typing.get_args(declared)
    if typing.is_typeddict(declared):
        hints = typing.get_type_hints(declared)
        assert isinstance(value, dict) and list(value) == list(hints), f"{path}: {value!r}"
        for key, hint in hints.items():
            check_shape(value[key], hint, f"{path}.{key}")
    elif origin in (typing.Union, types.UnionType):
        failures = []
        for option in arguments:
            try:
                check_shape(value, option, path)
                return
            except AssertionError as failure:
                failures.append(str(failure))
        raise AssertionError(f"{path}: {value!r} is none of {arguments}: {failures}")
    elif origin is list:
        assert isinstance(value, list), f"{path}: {value!r}"
        for number, item in enumerate(value):
            check_shape(item, arguments[0], f"{path}[{number}]")
    elif origin is dict:
        assert isinstance(value, dict), f"{path}: {value!r}"
        for key, item in value.items():
            check_shape(key, arguments[0], f"{path} key")
            check_shape(item, arguments[1], f"{path}[{key!r}]")
    elif declared is typing.Any:
        return
    elif declared is type(None):
        assert value is None, f"{path}: {value!r}"
    elif declared is float:
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{path}: {value!r}"
    else:
        assert isinstance(declared, type), f"{path}: {declared!r} is not checked here"
        assert isinstance(value, declared) and (declared is bool or not isinstance(value, bool)), f"{path}: {value!r}"


@pytest.fixture
def published(tmp_path):
    """Reports as the portal and the command line write them (occulted, converted and validated),
    and one of a document that could not be read."""
    portal = Pipeline(Settings.from_environment())
    command_line = Pipeline(Settings.from_environment(), local_paths=True)
    converted = portal.run(str(CRACH), str(tmp_path / "out.csv"), source="https://example.org/bp.xml",
                           sha256="0" * 64, occult_to=str(tmp_path / "occulted.xml"))
    local = command_line.run(str(CRACH), str(tmp_path / "local.csv"))
    broken = write_totem(tmp_path / "broken.xml", siret="123")
    with pytest.raises(DocumentError) as caught:
        portal.run(str(broken), str(tmp_path / "broken.csv"))
    failed = portal.failure(str(broken), caught.value, source="https://example.org/broken.xml", sha256="f")
    return {"converted": converted.report, "command line": local.report, "failed": failed.report}


# ---------------------------------------------------------------- the types are the documentation

@pytest.mark.parametrize("kind", ["converted", "command line", "failed"])
def test_the_pipeline_writes_exactly_the_declared_keys_and_types(published, kind):
    check_shape(published[kind], Report)


def test_what_is_published_keeps_its_keys_and_their_order(published):
    converted = published["converted"]
    text = to_json(converted)
    assert text == json.dumps(converted, ensure_ascii=False, indent=2)
    assert list(json.loads(text)) == ["report_version", "source", "sha256", "created", "document_key", "document",
                                      "conversion", "validation", "occultation", "error"]
    assert list(converted["conversion"]) == ["output", "rows", "plan", "warnings"]
    assert list(converted["validation"]) == [
        "valid", "schema", "rows", "error_count", "error_limit_reached", "errors_by_type", "errors_by_field",
        "errors_by_type_and_field", "first_errors", "warnings", "seconds"]
    assert list(converted["occultation"]) == ["total", "rules", "replacement"]
    assert converted["report_version"] == REPORT_VERSION == 2
    assert "SIRET « 123 »" in to_json(published["failed"])  # not escaped


# ---------------------------------------------------------------- reading back

@pytest.mark.parametrize("kind", ["converted", "command line", "failed"])
def test_a_report_the_pipeline_wrote_reads_back_equal(published, kind):
    written = to_json(published[kind])
    assert from_untrusted(json.loads(written)) == published[kind]
    assert to_json(from_untrusted(json.loads(written))) == written


def test_a_report_of_the_portal_before_versions_reads_as_version_2():
    stored = {"document_key": "k", "source": "https://example.org/bp.xml", "sha256": "s", "created": "2025",
              "document": {"siret": "1"}, "conversion": {"rows": 3, "plan": {}, "warnings": []},
              "validation": {"valid": True}, "occultation": None}
    upgraded = from_untrusted(stored)
    check_shape(upgraded, Report)
    assert upgraded["report_version"] == REPORT_VERSION
    assert upgraded["conversion"] == {"output": None, "rows": 3, "plan": None, "warnings": []}
    assert upgraded["error"] is None and upgraded["validation"]["valid"] is True
    assert upgraded["document"] == {"siret": "1"} and upgraded["document_key"] == "k"
    assert "report_version" not in stored  # a copy


def test_a_report_of_the_command_line_before_versions_reads_as_version_2():
    stored = {"source": "bp.xml", "output": "bp.csv", "document": {}, "rows": 3, "plan": {"used_year": 2022},
              "warnings": [{"code": "plan_missing", "message": "plan absent", "count": 1, "details": {}}],
              "validation": None}
    upgraded = from_untrusted(stored)
    check_shape(upgraded, Report)
    assert upgraded["conversion"]["rows"] == 3 and upgraded["conversion"]["output"] == "bp.csv"
    assert upgraded["conversion"]["plan"] == {"nomenclature": "", "requested_year": 0, "used_year": 2022,
                                              "location": None}
    assert upgraded["conversion"]["warnings"] == [{"code": "plan_missing", "count": 1, "details": {},
                                                   "message_fr": "plan absent", "message_en": "plan absent"}]
    failed = from_untrusted({"source": "x.xml", "error": "x.xml: illisible"})
    assert failed["error"] == {"message_fr": "x.xml: illisible", "message_en": "x.xml: illisible"}
    assert failed["conversion"] is None and failed["validation"] is None


# ---------------------------------------------------------------- hostile reports

@pytest.mark.parametrize("content", [[], "a report", 3, None, True, {"validation": "valid"}, {"error": ["no"]},
                                     {"report_version": 2, "error": "no"}])
def test_what_is_no_report_reads_as_none(content):
    assert from_untrusted(content) is None


def test_a_crafted_report_reads_with_every_value_of_its_type():
    # The case the report page shows (tests/ckan/view/test_report_page.py), read directly.
    crafted = json.loads(
        b'{"validation": {"valid": "yes", "rows": "many", "error_count": -3, "schema": [],'
        b' "errors_by_field": ["BGT_SIRET"], "first_errors": ["x", 3, {"row": "4", "field": ["BGT_NOM"],'
        b' "cell": {"a": 1}, "message_fr": {"x": 1}}, {"row": 7, "field": "BGT_NOM", "message_fr": "mauvais"}],'
        b' "warnings": [1, {"message_fr": 2}]}, "conversion": {"warnings": "none"}}')
    read = from_untrusted(crafted)
    check_shape(read, Report)
    validation = read["validation"]
    assert (validation["valid"], validation["rows"], validation["error_count"]) == (False, 0, 0)
    assert validation["schema"] == {"name": "", "version": ""} and validation["errors_by_field"] == {}
    assert validation["first_errors"] == [
        {"type": "", "row": None, "field": None, "cell": None, "message_fr": "", "message_en": ""},
        {"type": "", "row": 7, "field": "BGT_NOM", "cell": None, "message_fr": "mauvais", "message_en": ""}]
    assert validation["warnings"] == [{"message_fr": "", "message_en": ""}]
    assert read["conversion"]["warnings"] == []
    error = from_untrusted({"error": {"message_fr": ["x"], "message_en": None}, "validation": None})
    assert error["error"] == {"message_fr": "", "message_en": ""} and error["validation"] is None


def every_path(value: object, path: tuple = ()):
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from every_path(item, (*path, key))
    elif isinstance(value, list):
        for number, item in enumerate(value[:2]):
            yield from every_path(item, (*path, number))


def test_a_wrong_value_anywhere_never_fails_and_reads_well_typed(published):
    for kind in ("converted", "failed"):
        original = json.loads(to_json(published[kind]))
        for path in every_path(original):
            for wrong in WRONG_VALUES:
                crafted: object = wrong
                if path:
                    crafted = copy.deepcopy(original)
                    container = crafted
                    for step in path[:-1]:
                        container = container[step]
                    container[path[-1]] = wrong
                read = from_untrusted(crafted)
                if read is not None:
                    check_shape(read, Report, f"{kind} {path} = {wrong!r}")
                else:
                    assert not path or path in {("error",), ("validation",)}, (kind, path, wrong)


def test_an_old_version_with_wrong_values_reads_well_typed_too():
    for wrong in WRONG_VALUES:
        crafted = {"rows": wrong, "plan": wrong, "output": wrong, "warnings": [wrong, {"message": wrong, "count": wrong,
                                                                                        "details": wrong}]}
        check_shape(from_untrusted(crafted), Report, f"command line version 1, {wrong!r}")


def test_long_lists_are_read_within_the_bounds_the_page_has_always_had():
    rules = {f"rule-{number}-" + "x" * 500: number for number in range(10 * MAX_OCCULTATION_RULES)}
    read = from_untrusted({"occultation": {"total": 5, "rules": rules, "replacement": "*" * 10_000}})
    occultation = read["occultation"]
    assert len(occultation["rules"]) == MAX_OCCULTATION_RULES
    assert all(len(rule) == MAX_RULE_NAME_LENGTH for rule in occultation["rules"])
    assert occultation["replacement"] == "*" * MAX_REPLACEMENT_LENGTH
    many = from_untrusted({"validation": {"first_errors": [{"row": number} for number in range(100_000)]}})
    assert len(many["validation"]["first_errors"]) == 100_000  # bounded by the file's size, as the page reads it

