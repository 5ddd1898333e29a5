"""Occult, convert, validate and report one TOTEM document: the one pipeline of the command line
(``budgetod convert --report``), the harvester and hand-uploaded documents.

``Pipeline(settings)`` serves a run (a harvest object, an upload, a command): it loads the SCDL
schema once, on the first validation. ``Pipeline.run`` converts a document (occulted first when the
caller asks) into a CSV, validates it and builds its report; ``Pipeline.failure`` builds the report
of a document that could not be converted.

The report's shape, its versions and its reading back: ``core/report.py``.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from ckanext.budgetod.core import contract
from ckanext.budgetod.core.errors import BudgetodError
from ckanext.budgetod.core.report import REPORT_VERSION, ConversionPart, ErrorPart, Report, ValidationPart
from ckanext.budgetod.core.scdl import conversion as scdl_conversion
from ckanext.budgetod.core.scdl.conversion import ConversionResult
from ckanext.budgetod.core.settings import Settings
from ckanext.budgetod.core.totem.reader import DocumentHeader

# Validation and occultation are imported where they are used: `budgetod convert` without
# --report needs neither, and would start 0.06 s slower and 7 MB larger with them.
if TYPE_CHECKING:
    from ckanext.budgetod.core.scdl.validation import ValidationReport
    from ckanext.budgetod.core.totem.occultation import OccultationResult, Rules


@dataclass
class Processed:
    """A document converted (or not) and validated, with its report.

    ``source`` names where it comes from (its URL, or the path given); ``totem_path`` is the document
    converted — the occulted one when the pipeline occulted it, the only one ever published;
    ``csv_path`` is None when the CSV went to a stream, or when the conversion failed (``report``
    then says why)."""

    header: DocumentHeader | None
    source: str
    sha256: str | None
    totem_path: str
    csv_path: str | None
    schema_version: str = ""
    conversion: ConversionResult | None = None
    validation: ValidationReport | None = None
    occultation: OccultationResult | None = None
    report: Report = field(init=False)  # built by the pipeline with the rest

    @property
    def valid(self) -> bool:
        return self.validation is not None and self.validation.valid

    @property
    def key(self) -> str:
        assert self.header is not None, "a document that could not be read has no key"
        return self.header.document_key

    def summary(self, lang: str) -> str:
        """The validation verdict and its first errors, on one line."""
        assert self.validation is not None, "not validated"
        from ckanext.budgetod.core.scdl import validation

        text = validation.format_summary(self.validation, lang, listed_errors=1)
        return " ".join(line.strip() for line in text.splitlines())


class Pipeline:
    """The conversion pipeline under one settings object. ``local_paths``: the report may name files
    of this machine (the command line's, not the portal's)."""

    def __init__(self, settings: Settings, *, local_paths: bool = False):
        self.settings = settings
        self.local_paths = local_paths
        self._schema: dict[str, Any] | None = None
        self._rules: Rules | None = None

    # ------------------------------------------------------------ steps

    def schema(self) -> dict[str, Any]:
        """The SCDL Table Schema descriptor, loaded on first use and kept for the run."""
        if self._schema is None:
            from ckanext.budgetod.core.scdl import validation

            self._schema = validation.load_schema(self.settings)
        return self._schema

    def occult(self, totem_path: str, destination: str | BinaryIO) -> OccultationResult:
        """Write the document with its personal data occulted by the settings' rules (loaded once).
        Raises BudgetodError when the document cannot be read or the rules are unusable."""
        from ckanext.budgetod.core.totem import occultation

        if self._rules is None:
            self._rules = occultation.load_rules(self.settings.occultation_rules or None)
        return occultation.occult_document(totem_path, destination, rules=self._rules,
                                           max_bytes=self.settings.max_document_size)

    def run(self, totem_path: str, csv_output: str | BinaryIO, *, source: str | None = None,
            sha256: str | None = None, occult_to: str | None = None,
            occulted: OccultationResult | None = None, validate: bool = True) -> Processed:
        """Convert ``totem_path`` into ``csv_output`` (a path, or a binary stream) and, when
        ``validate``, validate the CSV (see ``validated``).

        ``occult_to``: occult the document into this path first and convert the occulted one, so
        that nothing the CSV or the metadata say can come from an occulted value; ``occulted``: the
        document was occulted already, this is what was done. Raises BudgetodError when the
        document cannot be read or converted, or the schema is unusable.
        """
        if occult_to is not None:
            occulted = self.occult(totem_path, occult_to)
            totem_path = occult_to
        conversion = scdl_conversion.convert_document(totem_path, csv_output, self.settings)
        processed = Processed(conversion.info.header, source or totem_path, sha256, totem_path, conversion.output,
                              conversion=conversion, occultation=occulted)
        return self.validated(processed) if validate else self._reported(processed)

    def validated(self, processed: Processed, csv_path: str | None = None) -> Processed:
        """``processed`` with its CSV (``csv_path`` when it was written to a stream) validated and
        its report rebuilt. Raises BudgetodError when the schema or the CSV is unusable."""
        checked = csv_path or processed.csv_path
        assert checked is not None, "a CSV written to a stream is validated from the copy saved"
        from ckanext.budgetod.core.scdl import validation

        processed.validation = validation.validate_csv(checked, self.settings, descriptor=self.schema())
        processed.schema_version = str(self.schema().get("version") or "")
        return self._reported(processed)

    def failure(self, totem_path: str, error: BudgetodError, *, source: str | None = None,
                sha256: str | None = None, converted: Processed | None = None,
                occulted: OccultationResult | None = None) -> Processed:
        """A document that could not be converted (or, given what was ``converted``, validated):
        no CSV, and a report that says why."""
        if converted is not None:
            converted.csv_path, converted.validation = None, None
            return self._reported(converted, error)
        return self._reported(Processed(None, source or totem_path, sha256, totem_path, None,
                                        occultation=occulted), error)

    # ------------------------------------------------------------ the report

    def _reported(self, processed: Processed, error: BudgetodError | None = None) -> Processed:
        conversion, checked, occulted = processed.conversion, processed.validation, processed.occultation
        document = None
        if conversion is not None:
            document = conversion.info.to_dict()
            document.pop("source", None)  # at the top: the document's URL, or the path given
        processed.report = {
            "report_version": REPORT_VERSION,
            "source": processed.source,
            "sha256": processed.sha256,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "document_key": processed.header.document_key if processed.header is not None else None,
            "document": document,
            "conversion": self._conversion_part(conversion) if conversion is not None else None,
            "validation": validation_part(checked, processed.schema_version) if checked is not None else None,
            "occultation": occulted.to_dict() if occulted is not None else None,
            "error": self._error_part(error, processed.source) if error is not None else None,
        }
        return processed

    def _error_part(self, error: BudgetodError, source: str) -> ErrorPart:
        # A cause about another file (a plan de comptes, the schema) names it, unless that is a
        # path of the server.
        about_another = self.local_paths and error.source not in ("", source)
        describe = error.describe if about_another else error.localized_cause
        return {"message_fr": describe("fr"), "message_en": describe("en")}

    def _conversion_part(self, conversion: ConversionResult) -> ConversionPart:
        plan = conversion.plan.to_dict()
        if not self.local_paths:
            plan["location"] = None
        return {
            "output": conversion.output if self.local_paths else None,
            "rows": conversion.rows,
            "plan": plan,
            "warnings": [{"code": warning.code, "count": warning.count, "details": warning.params,
                          "message_fr": warning.message("fr"), "message_en": warning.message("en")}
                         for warning in conversion.warnings],
        }


def validation_part(report: ValidationReport, schema_version: str) -> ValidationPart:
    """The report's "validation" part: the validation's verdict, without the server's file paths
    and frictionless' raw descriptor."""
    return {
        "valid": report.valid,
        "schema": {"name": contract.SCDL_SCHEMA_NAME, "version": schema_version},
        "rows": report.rows,
        "error_count": report.error_count,
        "error_limit_reached": report.error_limit_reached,
        "errors_by_type": report.counts_by_type(),
        "errors_by_field": report.counts_by_field(),
        "errors_by_type_and_field": report.counts_by_type_and_field(),
        "first_errors": report.first_errors(),
        "warnings": report.localized_warnings(),
        "seconds": round(report.seconds, 3),
    }
