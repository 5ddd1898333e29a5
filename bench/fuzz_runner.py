"""One fuzz case run as a harvest runs a document: the pipeline under a time limit and bounded
memory, and the contract its outcome must keep."""
from __future__ import annotations

import csv
import faulthandler
import io
import json
import os
import re
import resource
import shutil
import signal
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from fuzz_cases import Case
from fuzz_documents import PLANS_DIR, SCHEMA_PATH

from ckanext.budgetod.core import messages
from ckanext.budgetod.core.contract import COLUMN_MTRAR3112, COLUMN_MTREAL, NATDEC_SCDL_LABELS, SCDL_COLUMNS
from ckanext.budgetod.core.errors import BudgetodError, DocumentError
from ckanext.budgetod.core.pipeline import Pipeline
from ckanext.budgetod.core.scdl.conversion import CODRD, OPBUDG, SECTIONS
from ckanext.budgetod.core.settings import Settings
from ckanext.budgetod.core.totem import nomenclature
from ckanext.budgetod.core.totem.reader import inspect_document

ASCII_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
# Fixed parts of the French messages that their English versions lack: none may show in an English cause.
FRENCH_ONLY = sorted({
    fragment.strip(" :«»()")
    for texts in messages.MESSAGES.values()
    for fragment in re.split(r"\{[^}]*\}", texts["fr"])
    if len(fragment.strip(" :«»()")) >= 12 and fragment.strip(" :«»()") not in texts["en"]
})




# --- running one case ---------------------------------------------------------------------------


class ExampleTimeout(BaseException):
    """Raised by SIGALRM in the example: a BaseException, so that no ``except Exception`` hides it."""


def _alarm(_signum, _frame):
    raise ExampleTimeout()


@dataclass
class Outcome:
    label: str  # grouped outcome: "ok", "ok, invalid: ...", "DocumentError: malformed_xml"...
    finding: str | None = None  # a signature when the contract is broken
    detail: str = ""
    csv: bytes | None = None
    message_id: str | None = None
    seconds: float = 0.0


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def exception_signature(stage: str, error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    ours = [frame for frame in frames if "ckanext" in frame.filename] or frames
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
    return f"exception {stage} {type(error).__name__} at {where}"


class Runner:
    """Runs a case through the harvest's path and checks the contract."""

    def __init__(self, work: Path, timeout: float, hard_timeout: float):
        self.work = work
        self.timeout = timeout
        self.hard_timeout = hard_timeout
        self.document = work / "document.xml"
        self.output = work / "scdl.csv"
        self.cache = work / "cache"
        self.plans = work / "plans"
        self.hang_log = open(work / "hang-traceback.txt", "w")  # noqa: SIM115 - open for the whole run
        signal.signal(signal.SIGALRM, _alarm)

    def run(self, case: Case) -> Outcome:
        self.document.write_bytes(case.document)
        if self.output.exists():
            self.output.unlink()
        plans = str(PLANS_DIR)
        if case.plan is not None:
            shutil.rmtree(self.plans, ignore_errors=True)
            plan_path = self.plans / case.plan_relative / "planDeCompte.xml"
            plan_path.parent.mkdir(parents=True)
            plan_path.write_bytes(case.plan)
            nomenclature.clear_caches()
            plans = str(self.plans)
        stage = ["start"]
        faulthandler.dump_traceback_later(self.hard_timeout, exit=True, file=self.hang_log)
        signal.setitimer(signal.ITIMER_REAL, self.timeout)
        started = time.perf_counter()
        try:
            outcome = self._pipeline(case, plans, stage)
        except ExampleTimeout:
            outcome = Outcome("timeout", f"timeout in {stage[0]}", f"more than {self.timeout} s in {stage[0]}")
        except MemoryError as error:
            outcome = Outcome("MemoryError", f"memory in {stage[0]}", "".join(traceback.format_exception(error)))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            faulthandler.cancel_dump_traceback_later()
            if case.plan is not None:
                nomenclature.clear_caches()
        outcome.seconds = time.perf_counter() - started
        if outcome.finding is None and outcome.seconds > self.timeout:
            outcome.finding = "slow example"
            outcome.detail = f"{outcome.seconds:.1f} s"
        return outcome

    def _pipeline(self, case: Case, plans: str, stage: list[str]) -> Outcome:
        document = str(self.document)
        options = {} if case.max_bytes is None else {"max_bytes": case.max_bytes}
        try:
            settings = Settings(plans_de_comptes=plans, scdl_schema=str(SCHEMA_PATH), cache_dir=str(self.cache))
            if case.max_bytes is not None:
                settings = settings.replace(max_document_size=case.max_bytes)
            pipeline = Pipeline(settings)
            stage[0] = "convert"
            processed = pipeline.run(document, str(self.output), validate=False)
            result = processed.conversion
            stage[0] = "validate"
            processed = pipeline.validated(processed)
            report = processed.validation
            stage[0] = "report"
            json.dumps(processed.report, ensure_ascii=False)
        except BudgetodError as error:
            return self._failure(case, error, stage[0], document, options)
        except Exception as error:  # noqa: BLE001 - exactly what the fuzzer looks for
            return Outcome(f"{type(error).__name__} (unexpected)", exception_signature(stage[0], error),
                           "".join(traceback.format_exception(error)))
        stage[0] = "check output"
        for warning in result.warnings:
            for lang in ("fr", "en"):
                text = warning.message(lang)
                if re.search(r"[\x00-\x1f\x7f\u2028\u2029\x85]", text) or len(text) > 600:
                    return Outcome("ok, but a warning is not one short line",
                                   f"warning not one short line ({warning.code})", repr(text[:600]))
        csv_bytes = self.output.read_bytes()
        problem = self._check_csv(csv_bytes, result)
        if problem:
            return Outcome("ok, but wrong output", f"output: {problem.split(':')[0]}", problem, csv_bytes)
        stage[0] = "inspect"
        try:
            info = inspect_document(document, **options)
        except Exception as error:  # noqa: BLE001
            return Outcome("inspect fails on a converted document", exception_signature("inspect", error),
                           "".join(traceback.format_exception(error)), csv_bytes)
        if (info.lines_total, info.lines_calculated) != (result.info.lines_total, result.info.lines_calculated):
            return Outcome("inspect disagrees", "inspect disagrees with convert",
                           f"{info.lines_total}/{info.lines_calculated} vs "
                           f"{result.info.lines_total}/{result.info.lines_calculated}", csv_bytes)
        if report.valid:
            label = "ok, valid"
        else:
            kinds = sorted({error.type for error in report.errors})
            label = "ok, invalid: " + ", ".join(kinds)
        return Outcome(label, csv=csv_bytes)

    def _failure(self, case: Case, error: BudgetodError, stage: str, document: str, options: dict) -> Outcome:
        kind = type(error).__name__
        label = f"{kind}: {error.message_id}"
        problems: list[tuple[str, str]] = []  # (stable kind, detail)
        try:
            lines = {lang: error.describe(lang) for lang in ("fr", "en")}
            causes = {lang: error.localized_cause(lang) for lang in ("fr", "en")}
            str(error)
        except Exception as exception:  # noqa: BLE001
            return Outcome(label, exception_signature(f"{stage}/error message", exception),
                           "".join(traceback.format_exception(exception)))
        if not error.source:
            problems.append(("error names no file", ""))
        elif isinstance(error, DocumentError) and error.source != document:
            problems.append(("DocumentError names another file", error.source))
        for lang in ("fr", "en"):
            if not causes[lang].strip():
                problems.append((f"empty cause ({lang})", ""))
            if re.search(r"[\x00-\x1f\x7f\u2028\u2029\x85]", lines[lang]):
                problems.append(("cause not on one line", repr(lines[lang][:300])))
            if len(causes[lang]) > 600:
                problems.append(("cause too long", f"{len(causes[lang])} characters ({lang})"))
        french = next((fragment for fragment in FRENCH_ONLY if fragment in causes["en"]), None)
        if french is not None:
            problems.append(("French in the English cause", f"{french!r} in {causes['en'][:300]!r}"))
        if error.message_id not in messages.MESSAGES:
            problems.append(("unknown message id", error.message_id))
        if stage == "validate" and type(error).__name__ == "UnusableInput":
            problems.append(("validation cannot read the converted CSV", lines["en"]))
        if not problems and stage == "convert" and isinstance(error, DocumentError):
            # budgetod inspect must refuse the document for the same reason.
            try:
                inspect_document(document, **options)
                problems.append(("inspect accepts what convert refused", str(error.message_id)))
            except DocumentError as inspected:
                if inspected.message_id != error.message_id:
                    problems.append(("inspect and convert refuse for different reasons",
                                     f"{inspected.message_id} / {error.message_id}"))
            except Exception as exception:  # noqa: BLE001
                return Outcome(label, exception_signature("inspect", exception),
                               "".join(traceback.format_exception(exception)))
        if problems:
            kind = problems[0][0]
            return Outcome(label, f"error contract: {kind} [{label}]",
                           "\n".join(f"{name}: {detail}" for name, detail in problems) + "\n\n" + lines["en"],
                           message_id=error.message_id)
        return Outcome(label, message_id=error.message_id or label, detail=lines["en"])

    @staticmethod
    def _check_csv(data: bytes, result) -> str | None:
        if data.startswith(b"\xef\xbb\xbf") or data.split(b"\n", 1)[0].endswith(b"\r"):
            return "csv: BOM or CRLF"
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            return f"csv not UTF-8: {error}"
        rows = list(csv.reader(io.StringIO(text, newline="")))
        if not rows or tuple(rows[0]) != SCDL_COLUMNS:
            return "header: not the SCDL header"
        if len(rows) - 1 != result.rows:
            return f"rows: {len(rows) - 1} in the CSV, {result.rows} reported"
        amounts = range(SCDL_COLUMNS.index(COLUMN_MTREAL), SCDL_COLUMNS.index(COLUMN_MTRAR3112) + 1)
        natdecs = set(NATDEC_SCDL_LABELS.values())
        for number, row in enumerate(rows[1:], 1):
            if len(row) != len(SCDL_COLUMNS):
                return f"row width: row {number} has {len(row)} cells"
            cells = dict(zip(SCDL_COLUMNS, row, strict=True))
            if not re.fullmatch(r"[0-9]{14}", cells["BGT_SIRET"]):
                return f"siret: {cells['BGT_SIRET'][:40]!r}"
            if not re.fullmatch(r"[0-9]{4}", cells["BGT_ANNEE"]):
                return f"year: {cells['BGT_ANNEE'][:40]!r}"
            if cells["BGT_NATDEC"] not in natdecs or cells["BGT_CODRD"] not in CODRD.values() \
                    or cells["BGT_OPBUDG"] not in OPBUDG.values():
                return f"enumerations: {cells['BGT_NATDEC']!r} {cells['BGT_CODRD']!r} {cells['BGT_OPBUDG']!r}"
            if cells["BGT_SECTION"] not in ("", *SECTIONS.values()):
                return f"section: {cells['BGT_SECTION'][:40]!r}"
            for index in amounts:
                if row[index] and not ASCII_DECIMAL.fullmatch(row[index]):
                    return f"amount: {SCDL_COLUMNS[index]} {row[index][:40]!r}"
        return None


