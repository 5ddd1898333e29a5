"""Validate an SCDL budget CSV the way Validata does, in-process.

Same verdicts as Validata: frictionless 5 against the official Table Schema,
plus the schema's ``custom_checks`` (here ``french-siret-value``) run as a
frictionless row check, so its errors sit in the frictionless report with the
others. frictionless' defaults apply: header labels are compared with the
schema's fields in order, and the CSV dialect (delimiter…) is detected.
On top of the frictionless report we give a summary: error counts by type and
by field, and the first errors with French and English messages.

frictionless is imported inside functions: it is slow to import and the
converter's command line must start fast.
"""
from __future__ import annotations

import csv
import functools
import io
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ckanext.budgetod.core.errors import BudgetodError
from ckanext.budgetod.core.messages import Message, QuotedList
from ckanext.budgetod.core.net import fetch
from ckanext.budgetod.core.report import LocalizedText, TypeAndFieldCount, ValidationErrorEntry
from ckanext.budgetod.core.settings import Settings
from ckanext.budgetod.core.spreadsheet import formula_risk

if TYPE_CHECKING:  # frictionless is imported where it is used
    from frictionless import Check, Error, Row

# frictionless' own default: past this many errors it stops reading the file.
DEFAULT_ERROR_LIMIT = 1000
FIRST_ERRORS_IN_REPORT = 100
SIRET_CHECK = "french-siret-value"
LA_POSTE_SIREN = "356000000"
LA_POSTE_HEAD_OFFICE_SIRET = "35600000000048"  # the one La Poste SIRET that follows Luhn

# Frictionless errors meaning the file could not be read as a table at all.
_UNREADABLE_SOURCE_ERRORS = frozenset({"source-error", "scheme-error", "format-error", "encoding-error",
                                       "compression-error"})
_BINARY_PROBE_BYTES = 8192


class UnusableInput(BudgetodError):
    """The file cannot be validated at all: missing, empty, not UTF-8, not a CSV."""


class UnusableSchema(BudgetodError):
    """The Table Schema cannot be read or used."""


def is_valid_siret(value: str) -> bool:
    """SIRET check as the ``french-siret-value`` check does it (python-stdnum's rules).

    Spaces and dots are ignored; 14 digits; Luhn on the 14 digits, except La Poste's
    establishments (SIREN 356000000, head office excepted) whose digits must add up
    to a multiple of 5; and the SIREN (first 9 digits) must pass Luhn too.
    """
    digits = re.sub(r"[ .]", "", value).strip()
    if len(digits) != 14 or not digits.isascii() or not digits.isdigit():
        return False
    if digits.startswith(LA_POSTE_SIREN) and digits != LA_POSTE_HEAD_OFFICE_SIRET:
        checksum_ok = sum(map(int, digits)) % 5 == 0
    else:
        checksum_ok = _passes_luhn(digits)
    return checksum_ok and _passes_luhn(digits[:9])


def _passes_luhn(digits: str) -> bool:
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


@dataclass
class ValidationIssue:
    """One error of the report, located and explained in French and English.

    ``row`` is frictionless' row number: the header is row 1, so it is the file's line
    number as long as no cell spans several lines.
    """

    type: str
    row: int | None
    field: str | None
    cell: str | None
    message_fr: str
    message_en: str

    def to_dict(self) -> ValidationErrorEntry:
        return {"type": self.type, "row": self.row, "field": self.field, "cell": self.cell,
                "message_fr": self.message_fr, "message_en": self.message_en}


@dataclass
class ValidationReport:
    """Verdict on one CSV. ``errors`` holds every error frictionless recorded
    (at most the error limit; ``error_limit_reached`` says when it stopped early)."""

    valid: bool
    rows: int
    errors: list[ValidationIssue]
    csv_path: str
    schema_source: str
    seconds: float
    error_limit_reached: bool = False
    warnings: list[Message] = field(default_factory=list)
    frictionless: dict[str, Any] = field(default_factory=dict)

    @property
    def error_count(self) -> int:
        return len(self.errors)

    def counts_by_type(self) -> dict[str, int]:
        return dict(Counter(issue.type for issue in self.errors).most_common())

    def counts_by_field(self) -> dict[str, int]:
        return dict(Counter(issue.field for issue in self.errors if issue.field).most_common())

    def counts_by_type_and_field(self) -> list[TypeAndFieldCount]:
        counts = Counter((issue.type, issue.field) for issue in self.errors)
        return [{"type": error_type, "field": field_name, "count": count}
                for (error_type, field_name), count in counts.most_common()]

    def first_errors(self) -> list[ValidationErrorEntry]:
        """The errors a report lists (the first ``FIRST_ERRORS_IN_REPORT``)."""
        return [issue.to_dict() for issue in self.errors[:FIRST_ERRORS_IN_REPORT]]

    def localized_warnings(self) -> list[LocalizedText]:
        return [{"message_fr": warning.render("fr"), "message_en": warning.render("en")} for warning in self.warnings]

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "file": self.csv_path,
            "schema": self.schema_source,
            "rows": self.rows,
            "error_count": self.error_count,
            "error_limit_reached": self.error_limit_reached,
            "errors_by_type": self.counts_by_type(),
            "errors_by_field": self.counts_by_field(),
            "errors_by_type_and_field": self.counts_by_type_and_field(),
            "first_errors": self.first_errors(),
            "warnings": self.localized_warnings(),
            "seconds": round(self.seconds, 3),
            "frictionless": self.frictionless,
        }


def validate_csv(
    csv_path: str,
    settings: Settings,
    *,
    descriptor: dict[str, Any] | None = None,
    limit_errors: int = DEFAULT_ERROR_LIMIT,
) -> ValidationReport:
    """Validate ``csv_path`` against the SCDL budget schema ``settings.scdl_schema`` (path or URL).

    Schema URLs go through ``fetch.open_location`` and its cache. ``descriptor``: the schema
    already loaded (``load_schema``), ``settings.scdl_schema`` then only names it. Raises
    UnusableInput when the file cannot be validated at all, UnusableSchema /
    FetchError for the schema.
    """
    started = time.monotonic()
    # Imported first: frictionless raises the csv module's field size limit on import,
    # and the pre-check below must parse exactly as frictionless will.
    from frictionless import Checklist, FrictionlessException, Resource, Schema

    path = Path(csv_path)
    row_count, header, formula_like = _check_usable_csv(path)
    schema_source = settings.scdl_schema
    if descriptor is None:
        descriptor = load_schema(settings)
    checks, warnings = _custom_checks(descriptor)
    warnings += _formula_warnings(header, formula_like, descriptor)

    try:
        table_schema = Schema.from_descriptor(descriptor)
    except FrictionlessException as exc:
        raise UnusableSchema(schema_source, Message("validation_invalid_table_schema",
            message=exc.error.message)) from None
    with path.open("rb") as stream:
        # An open stream rather than a path: frictionless 5 refuses absolute paths.
        resource = Resource(stream, format="csv", encoding="utf-8-sig", schema=table_schema)
        try:
            frictionless_report = resource.validate(Checklist(checks=checks), limit_errors=limit_errors)
        except FrictionlessException as exc:
            raise UnusableInput(csv_path, Message("validation_unreadable_as_csv_table",
                message=exc.error.message)) from None

    task = frictionless_report.tasks[0] if frictionless_report.tasks else None
    raw_errors = list(frictionless_report.errors) + (list(task.errors) if task else [])
    for error in raw_errors:
        if error.type in _UNREADABLE_SOURCE_ERRORS:
            raise UnusableInput(csv_path, Message("validation_unreadable_as_csv_table", message=error.message))
    limit_reached = task is not None and any(warning.startswith("reached error limit") for warning in task.warnings)
    fields_by_name = {item.get("name"): item for item in descriptor.get("fields", [])}
    return ValidationReport(
        valid=frictionless_report.valid,
        # Once the error limit stops frictionless its row count is partial: use ours.
        rows=row_count if limit_reached or task is None else task.stats.get("rows", row_count),
        errors=[_issue(error, fields_by_name) for error in raw_errors],
        csv_path=csv_path,
        schema_source=schema_source,
        seconds=time.monotonic() - started,
        error_limit_reached=limit_reached,
        warnings=warnings,
        frictionless=frictionless_report.to_descriptor(),
    )


def load_schema(settings: Settings) -> dict[str, Any]:
    """The Table Schema descriptor ``settings.scdl_schema``, a local path or a URL (http(s) ones are
    cached)."""
    source = settings.scdl_schema
    if "://" in source:  # fetch accepts http, https and file URLs and refuses the others
        base, _, name = source.rpartition("/")
        local_path = fetch.open_location(base, name, settings)
    else:
        local_path = source
    try:
        with open(local_path, encoding="utf-8") as schema_file:
            descriptor = json.load(schema_file)
    except FileNotFoundError:
        raise UnusableSchema(source, Message("validation_schema_not_found")) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnusableSchema(source, Message("validation_unreadable_schema", exc=exc)) from None
    if not isinstance(descriptor, dict) or not isinstance(descriptor.get("fields"), list):
        raise UnusableSchema(source, Message("validation_not_table_schema_no_fields"))
    return descriptor


def _check_usable_csv(path: Path) -> tuple[int, list[str], dict[int, list[int]]]:
    """Refuse files that cannot be validated at all; return the number of data rows, the header
    and, by column index, how many cells start like a spreadsheet formula and the first one's row.

    Reads the whole file (an SCDL budget is a few megabytes) to decode it strictly
    as UTF-8 (a BOM is allowed) and to parse it as CSV.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UnusableInput(str(path), Message("file_not_found")) from None
    except OSError as exc:
        raise UnusableInput(str(path), Message("validation_unreadable_file", strerror=exc.strerror)) from None
    if b"\x00" in data[:_BINARY_PROBE_BYTES]:
        raise UnusableInput(str(path), Message("validation_binary_file_not_csv"))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UnusableInput(str(path), Message("validation_not_utf_8_encoded_invalid", line=line)) from None
    if not text.strip():
        raise UnusableInput(str(path), Message("file_empty"))
    if text.lstrip().startswith("<"):
        raise UnusableInput(str(path), Message("validation_xml_html_content_not_csv"))
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] = []
    formula_like: dict[int, list[int]] = {}
    records = 0
    try:
        for record in reader:
            records += 1  # frictionless' row number: the header is row 1
            if records == 1:
                header = record
                continue
            for index, cell in enumerate(record):
                # The SCDL schema allows such text and the CSV keeps the document's text as written: the report warns.
                if formula_risk(cell):
                    formula_like.setdefault(index, [0, records])[0] += 1
    except csv.Error as exc:
        raise UnusableInput(str(path), Message("validation_not_readable_csv_line",
            line_num=reader.line_num, exc=exc)) from None
    return records - 1, header, formula_like


def _formula_warnings(header: list[str], formula_like: dict[int, list[int]],
                      descriptor: dict[str, Any]) -> list[Message]:
    """One warning per text column holding cells a spreadsheet could run as formulas (numbers
    such as -12.5 are no formulas: only the schema's string columns count)."""
    types = {item.get("name"): item.get("type", "string") for item in descriptor.get("fields", [])}
    warnings = []
    for index, (count, row) in sorted(formula_like.items()):
        name = header[index] if index < len(header) else str(index + 1)
        if types.get(name, "string") != "string":
            continue
        warnings.append(Message("validation_formula_like_cells", name=name, count=count, row=row))
    return warnings


def _custom_checks(descriptor: dict[str, Any]) -> tuple[list[Check], list[Message]]:
    """frictionless checks for the schema's ``custom_checks``; warnings for those we do not know."""
    checks: list[Check] = []
    warnings: list[Message] = []
    for declared in descriptor.get("custom_checks") or []:
        name = declared.get("name")
        params = declared.get("params") or {}
        if name == SIRET_CHECK and params.get("column"):
            checks.append(_siret_check_class()(column=params["column"]))
        else:
            warnings.append(Message("validation_custom_check_not_supported_skipped", name=name))
    return checks, warnings


@functools.cache
def _siret_check_class() -> Callable[..., Check]:
    """Build the frictionless check class on first use (frictionless is imported lazily)."""
    import attrs
    from frictionless import Check, errors

    @attrs.define(kw_only=True, repr=False)
    class FrenchSiretValueError(errors.CellError):
        type = SIRET_CHECK
        title = "French SIRET Value"
        description = "The value is not a valid French SIRET number (INSEE establishment identifier)."
        template = ('The cell "{cell}" in row "{rowNumber}" and field "{fieldName}" '
                    "is not a valid SIRET number: {note}")
        tags = ["#table", "#row", "#cell"]  # noqa: RUF012 - frictionless' class attribute

    @attrs.define(kw_only=True, repr=False)
    class FrenchSiretValue(Check):
        type = SIRET_CHECK
        Errors = [FrenchSiretValueError]  # noqa: RUF012 - frictionless' class attribute

        column: str

        def validate_start(self) -> Iterator[Error]:
            if self.column not in self.resource.schema.field_names:
                yield errors.CheckError(note=f'{SIRET_CHECK} check requires field "{self.column}"')

        def validate_row(self, row: Row) -> Iterator[Error]:
            value = row[self.column] if self.column in row.field_names else None
            if value in (None, "") or is_valid_siret(str(value)):
                return
            yield FrenchSiretValueError.from_row(
                row, note="14 digits with a correct check digit expected", field_name=self.column)

    return FrenchSiretValue


# --- messages -------------------------------------------------------------------

# The SCDL types a cell may fail to be, and the hint given for some.
_TYPE_MESSAGES = {"number": "validation_type_number", "integer": "validation_type_integer",
                  "year": "validation_type_year", "date": "validation_type_date", "boolean": "validation_type_boolean"}
_TYPE_HINTS = {"number": "validation_hint_number"}
# The frictionless error types explained in the catalogue, by the parameters each takes.
_ERROR_MESSAGES = {
    SIRET_CHECK: "validation_siret_check", "missing-label": "validation_missing_label",
    "extra-label": "validation_extra_label", "incorrect-label": "validation_incorrect_label",
    "duplicate-label": "validation_duplicate_label", "blank-label": "validation_blank_label",
    "blank-header": "validation_blank_header", "blank-row": "validation_blank_row",
    "missing-cell": "validation_missing_cell", "extra-cell": "validation_extra_cell",
    "unique-error": "validation_unique_error",
}
_CONSTRAINT_MESSAGES = {
    "required": "validation_constraint_required", "enum": "validation_constraint_enum",
    "pattern": "validation_constraint_pattern", "minLength": "validation_constraint_min_length",
    "maxLength": "validation_constraint_max_length", "minimum": "validation_constraint_minimum",
    "maximum": "validation_constraint_maximum",
}
_CONSTRAINT_NOTE = re.compile(r'constraint "(?P<name>\w+)" is "(?P<value>.*)"$', re.DOTALL)
_TYPE_NOTE = re.compile(r'type is "(?P<type>\w+)')


def _issue(error: Error, fields_by_name: dict[str | None, dict[str, Any]]) -> ValidationIssue:
    row = getattr(error, "row_number", None)
    if row is None:
        row_numbers = getattr(error, "row_numbers", None)
        row = row_numbers[0] if row_numbers else None
    field_name = getattr(error, "field_name", None) or getattr(error, "label", None) or None
    cell = getattr(error, "cell", None)
    message = _message(error, fields_by_name.get(field_name, {}))
    return ValidationIssue(type=error.type, row=row, field=field_name, cell=cell,
                           message_fr=message.render("fr"), message_en=message.render("en"))


def _message(error: Error, field_descriptor: dict[str, Any]) -> Message:
    """The explanation of one frictionless error (its location is given separately)."""
    cell = getattr(error, "cell", "")
    kind = error.type
    if kind == "type-error":
        match = _TYPE_NOTE.search(error.note or "")
        type_name = match["type"] if match else field_descriptor.get("type", "?")
        wanted = (Message(_TYPE_MESSAGES[type_name]) if type_name in _TYPE_MESSAGES
                  else Message("validation_type_other", type=type_name))
        hint = Message(_TYPE_HINTS[type_name]) if type_name in _TYPE_HINTS else ""
        return Message("validation_type_error", cell=cell, type=wanted, hint=hint)
    if kind == "constraint-error":
        return _constraint_message(error, cell, field_descriptor)
    if kind in _ERROR_MESSAGES:
        return Message(_ERROR_MESSAGES[kind], cell=cell, label=getattr(error, "label", ""),
                       field=getattr(error, "field_name", ""), position=getattr(error, "field_number", ""))
    return Message("validation_other_error", kind=kind, detail=error.message)


def _constraint_message(error: Error, cell: str, field_descriptor: dict[str, Any]) -> Message:
    match = _CONSTRAINT_NOTE.search(error.note or "")
    name = match["name"] if match else "?"
    # The constraint's value from the schema itself reads better than the note's repr.
    value: Any = (field_descriptor.get("constraints") or {}).get(name, match["value"] if match else "")
    if name == "enum":
        value = QuotedList(value)
    return Message(_CONSTRAINT_MESSAGES.get(name, "validation_constraint_other"), cell=cell, name=name, value=value)


# --- summary --------------------------------------------------------------------


def format_summary(report: ValidationReport, lang: str = "fr", *, listed_errors: int = 10) -> str:
    """Readable verdict in French (default) or English, with the first errors listed."""
    lang = "en" if lang.lower().startswith("en") else "fr"
    rows = _count(report.rows, "row", lang)
    if report.valid:
        lines = [Message("validation_summary_valid", rows=rows).render(lang)]
    else:
        errors = _count(report.error_count, "error", lang)
        if report.error_limit_reached:
            errors = Message("validation_at_least", count=errors)
        groups = report.counts_by_type_and_field()
        breakdown = ", ".join(
            Message("validation_group_on_field", count=group["count"], type=group["type"], field=group["field"])
            .render(lang) if group["field"] else f"{group['count']} × {group['type']}"
            for group in groups[:5]) + (", …" if len(groups) > 5 else "")
        lines = [Message("validation_summary_invalid", errors=errors, rows=rows, breakdown=breakdown).render(lang)]
        for issue in report.errors[:listed_errors]:
            place = [Message("validation_at_row", row=issue.row).render(lang)] if issue.row is not None else []
            place += [issue.field] if issue.field else []
            message = issue.message_en if lang == "en" else issue.message_fr
            lines.append(Message("validation_issue_at", place=", ".join(place), message=message).render(lang)
                         if place else f"  - {message}")
        if report.error_count > listed_errors:
            lines.append(Message("validation_more_errors", more=report.error_count - listed_errors).render(lang))
    for warning in report.warnings:
        lines.append(Message("validation_warning", warning=warning).render(lang))
    return "\n".join(lines)


def _count(number: int, noun: str, lang: str) -> Message:
    """``number`` rows or errors, grouped and agreed as the language does (in French 0 and 1 take
    the singular, and a space groups thousands)."""
    plural = number > 1 if lang == "fr" else number != 1
    grouped = f"{number:,}".replace(",", " ") if lang == "fr" else f"{number:,}"
    return Message(f"validation_count_{noun}s" if plural else f"validation_count_{noun}", count=grouped)
