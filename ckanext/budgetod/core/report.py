"""The report of one TOTEM document's conversion and validation: its shape, its JSON, and the
reading of a stored report of any version.

The report is published beside the CSV (the ``report`` resource) and written by ``budgetod convert
--report``; ``core/pipeline.py`` builds it. The types below are its documentation: every key is
always present, None where its part does not apply.

Versions:

- 2 (``REPORT_VERSION``): ``Report``.
- 1 (no ``report_version``), two shapes. The portal's: the same keys less ``report_version`` and
  ``conversion.output``, ``error`` only on failures. The command line's: ``output``, ``rows``,
  ``plan`` and ``warnings`` (each with one ``message``) at the top, ``error`` a line of text.

A stored report may be uploaded by any editor: ``from_untrusted`` reads any decoded JSON, of any
version and any types, into a ``Report`` whose every value has its declared type, or None when it
is no report; it never fails.
"""
from __future__ import annotations

import itertools
import json
from typing import Any, TypedDict

REPORT_VERSION = 2

# Bounds of an occultation part read from a stored report: more rules, or longer names, are no
# report the pipeline writes.
MAX_OCCULTATION_RULES = 100
MAX_RULE_NAME_LENGTH = 100
MAX_REPLACEMENT_LENGTH = 200


class LocalizedText(TypedDict):
    """One message in French and English."""

    message_fr: str
    message_en: str


# Why the document could not be converted or validated.
ErrorPart = LocalizedText

# What the reader found: ``reader.DocumentInfo.to_dict()`` less its "source" (the report's own).
# Carried as the reader gives it: nothing reads it back.
DocumentPart = dict[str, Any]


class ConversionWarningEntry(TypedDict):
    """A condition met while converting (``conversion.ConversionWarning``)."""

    code: str  # its catalogue id less "warn_"
    count: int  # the lines it affects
    details: dict[str, str]  # the message's parameters, uncut
    message_fr: str
    message_en: str


class PlanPart(TypedDict):
    """The plan de comptes that served (``nomenclature.PlanLookup.to_dict()``)."""

    nomenclature: str
    requested_year: int
    used_year: int | None  # None: no plan found
    location: str | None  # None on the portal: a path of the server


class ConversionPart(TypedDict):
    output: str | None  # the CSV written (command line only)
    rows: int
    plan: PlanPart | None  # None only in a stored report without one
    warnings: list[ConversionWarningEntry]


class SchemaPart(TypedDict):
    name: str  # "scdl/budget"
    version: str


class ValidationErrorEntry(TypedDict):
    """One error (``validation.ValidationIssue.to_dict()``); ``row`` is frictionless' (header: 1)."""

    type: str
    row: int | None
    field: str | None
    cell: str | None
    message_fr: str
    message_en: str


class TypeAndFieldCount(TypedDict):
    type: str
    field: str | None
    count: int


class ValidationPart(TypedDict):
    """The CSV against the SCDL schema (``validation.ValidationReport``, less what names files of
    the server or repeats frictionless' own report)."""

    valid: bool
    schema: SchemaPart
    rows: int
    error_count: int
    error_limit_reached: bool
    errors_by_type: dict[str, int]
    errors_by_field: dict[str, int]
    errors_by_type_and_field: list[TypeAndFieldCount]
    first_errors: list[ValidationErrorEntry]  # at most validation.FIRST_ERRORS_IN_REPORT
    warnings: list[LocalizedText]
    seconds: float


class OccultationPart(TypedDict):
    """What the occultation did (``occultation.OccultationResult.to_dict()``): counts, never values."""

    total: int
    rules: dict[str, int]  # values occulted, by rule id
    replacement: str


class Report(TypedDict):
    report_version: int
    source: str | None  # the document's URL (portal) or the path given (command line)
    sha256: str | None  # of the original document (None on the command line)
    created: str | None  # ISO 8601, UTC, to the second
    document_key: str | None  # None when the document could not be read
    document: DocumentPart | None  # None when the document could not be read
    conversion: ConversionPart | None  # None when not converted
    validation: ValidationPart | None  # None when not validated or not converted
    occultation: OccultationPart | None  # None when not occulted
    error: ErrorPart | None  # why the document could not be converted or validated


def to_json(report: Report) -> str:
    """The report as it is published: UTF-8 text, indented, keys in the order the types give."""
    return json.dumps(report, ensure_ascii=False, indent=2)


# ---------------------------------------------------------------- reading a stored report

def from_untrusted(content: object) -> Report | None:
    """A stored report (decoded JSON) of any version as a version 2 ``Report``; None when it is not
    shaped like a report at all (not an object, or an error or validation part that is not one).

    Every value of an unexpected type becomes its type's empty value (None, "", 0, False, an empty
    list or object); a part that is empty or not an object is None; unknown keys are left out. A
    report the pipeline wrote comes back equal to itself."""
    if not isinstance(content, dict):
        return None
    if content.get("report_version") != REPORT_VERSION:
        content = _version_1_upgraded(content)
    error, validation = content.get("error"), content.get("validation")
    if not isinstance(error, (dict, type(None))) or not isinstance(validation, (dict, type(None))):
        return None
    return {
        "report_version": REPORT_VERSION,
        "source": _text_or_none(content.get("source")),
        "sha256": _text_or_none(content.get("sha256")),
        "created": _text_or_none(content.get("created")),
        "document_key": _text_or_none(content.get("document_key")),
        "document": _document(content.get("document")),
        "conversion": _conversion(content.get("conversion")),
        "validation": _validation(validation) if validation else None,
        "occultation": _occultation(content.get("occultation")),
        "error": _localized(error) if error else None,
    }


def _version_1_upgraded(content: dict[Any, Any]) -> dict[Any, Any]:
    """A copy of a version 1 report with its parts where version 2 has them (values unchecked)."""
    upgraded = dict(content)
    if "conversion" not in upgraded and ("rows" in upgraded or "warnings" in upgraded):
        # The command line's version 1: the conversion at the top, each warning with one message.
        warnings = upgraded.pop("warnings", None)
        upgraded["conversion"] = {
            "output": upgraded.pop("output", None), "rows": upgraded.pop("rows", 0), "plan": upgraded.pop("plan", None),
            "warnings": [{**warning, "message_fr": warning.get("message"), "message_en": warning.get("message")}
                         for warning in (warnings if isinstance(warnings, list) else []) if isinstance(warning, dict)]}
    if isinstance(upgraded.get("error"), str):
        upgraded["error"] = {"message_fr": upgraded["error"], "message_en": upgraded["error"]}
    return upgraded


def _document(value: object) -> DocumentPart | None:
    if not isinstance(value, dict) or not value:
        return None
    return {key: item for key, item in value.items() if isinstance(key, str)}


def _conversion(value: object) -> ConversionPart | None:
    if not isinstance(value, dict) or not value:
        return None
    plan = value.get("plan")
    return {
        "output": _text_or_none(value.get("output")),
        "rows": _count(value.get("rows")),
        "plan": {
            "nomenclature": _text(plan.get("nomenclature")),
            "requested_year": _count(plan.get("requested_year")),
            "used_year": _count(plan["used_year"]) if isinstance(plan.get("used_year"), int) else None,
            "location": _text_or_none(plan.get("location")),
        } if isinstance(plan, dict) and plan else None,
        "warnings": [{
            "code": _text(warning.get("code")),
            "count": _count(warning.get("count")),
            "details": {name: detail for name, detail in _object(warning.get("details")).items()
                        if isinstance(name, str) and isinstance(detail, str)},
            **_localized(warning),
        } for warning in _objects(value.get("warnings"))],
    }


def _validation(value: dict[Any, Any]) -> ValidationPart:
    schema = _object(value.get("schema"))
    return {
        "valid": value.get("valid") is True,
        "schema": {"name": _text(schema.get("name")), "version": _text(schema.get("version"))},
        "rows": _count(value.get("rows")),
        "error_count": _count(value.get("error_count")),
        "error_limit_reached": value.get("error_limit_reached") is True,
        "errors_by_type": _counts(value.get("errors_by_type")),
        "errors_by_field": _counts(value.get("errors_by_field")),
        "errors_by_type_and_field": [{
            "type": _text(count.get("type")),
            "field": _text_or_none(count.get("field")),
            "count": _count(count.get("count")),
        } for count in _objects(value.get("errors_by_type_and_field"))],
        "first_errors": [{
            "type": _text(issue.get("type")),
            "row": _count(issue["row"]) if isinstance(issue.get("row"), int) else None,
            "field": _text_or_none(issue.get("field")),
            "cell": str(issue["cell"]) if isinstance(issue.get("cell"), (str, int, float)) else None,
            **_localized(issue),
        } for issue in _objects(value.get("first_errors"))],
        "warnings": [_localized(warning) for warning in _objects(value.get("warnings"))],
        "seconds": _number(value.get("seconds")),
    }


def _occultation(value: object) -> OccultationPart | None:
    if not isinstance(value, dict) or not value:
        return None
    rules = _object(value.get("rules"))
    return {
        "total": _count(value.get("total")),
        "rules": {rule[:MAX_RULE_NAME_LENGTH]: _count(count)
                  for rule, count in itertools.islice(rules.items(), MAX_OCCULTATION_RULES) if isinstance(rule, str)},
        "replacement": _text(value.get("replacement"))[:MAX_REPLACEMENT_LENGTH],
    }


def _localized(value: dict[Any, Any]) -> LocalizedText:
    return {"message_fr": _text(value.get("message_fr")), "message_en": _text(value.get("message_en"))}


def _counts(value: object) -> dict[str, int]:
    return {name: _count(count) for name, count in _object(value).items() if isinstance(name, str)}


def _object(value: object) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _objects(value: object) -> list[dict[Any, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: object) -> float:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
