"""The ``budgetod`` command line: convert, validate, inspect, occult — without CKAN.

``build_cli(settings)`` builds the click group, so that CKAN can expose the same
commands (``ckan budgetod ...``) with defaults taken from its ini file.
Exit status: 0 success, 1 converted or read but invalid, 2 unusable input;
errors are one line on stderr, ``error: <file>: <cause>``, no traceback unless
``--debug``.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

import click

from ckanext.budgetod.core import messages
from ckanext.budgetod.core.errors import BudgetodError
from ckanext.budgetod.core.settings import DEFAULT_MAX_DOCUMENT_SIZE, DEFAULT_PLANS_BASE, Settings

if TYPE_CHECKING:  # imported where used: the help texts need neither
    from ckanext.budgetod.core.pipeline import Pipeline
    from ckanext.budgetod.core.report import Report
    from ckanext.budgetod.core.totem.occultation import Rules

_Command = TypeVar("_Command", bound=Callable[..., Any])  # a command function being decorated

EXIT_OK, EXIT_INVALID, EXIT_UNUSABLE = 0, 1, 2
_LANG_META_KEY = "budgetod.lang"


class _Failure(Exception):
    """Ends a command with an error line already chosen."""

    def __init__(self, line: str):
        super().__init__(line)
        self.line = line


def _fail(source: str, message_id: str, lang: str, **params: object) -> _Failure:
    return _Failure(f"{source}: {messages.text(message_id, lang, **params)}")


def _error_line(error: BaseException, source: str, lang: str) -> str:
    if isinstance(error, _Failure):
        return error.line
    if isinstance(error, BudgetodError):
        return error.describe(lang)
    if isinstance(error, OSError):
        return f"{error.filename or source}: {error.strerror or error}"
    detail = str(error).splitlines()[0][:200] if str(error) else ""
    return f"{source}: {messages.text('cli_unexpected_error', lang, kind=type(error).__name__, detail=detail)}"


def _report_error(error: BaseException, source: str, lang: str, debug: bool) -> None:
    if debug:
        import traceback

        traceback.print_exception(error, file=sys.stderr)
    click.echo(f"error: {_error_line(error, source, lang)}", err=True)


def _language(value: str | None) -> str:
    """The command's --lang, else the group's, else $BUDGETOD_LANG, else French."""
    if value not in messages.LANGUAGES:
        context = click.get_current_context(silent=True)
        value = context.meta.get(_LANG_META_KEY) if context is not None else None
    return value if value in messages.LANGUAGES else messages.current_language()


def _common_options(lang: str) -> Callable[[_Command], _Command]:
    def decorate(command: _Command) -> _Command:
        command = click.help_option(help=messages.text("cli_opt_help", lang))(command)
        command = click.option("--debug", is_flag=True, help=messages.text("cli_opt_debug", lang))(command)
        return click.option("--lang", type=click.Choice(messages.LANGUAGES), default=None,
                            help=messages.text("cli_opt_lang", lang))(command)
    return decorate


def _documents(inputs: tuple[str, ...]) -> list[str]:
    """Files as given; directories contribute their *.xml files, sorted."""
    documents = []
    for given in inputs:
        if os.path.isdir(given):
            documents += sorted(str(path) for path in Path(given).iterdir()
                                if path.suffix.lower() == ".xml" and path.is_file())
        else:
            documents.append(given)
    return documents


def _output_names(documents: list[str], directory: str, suffix: str = ".csv") -> list[str]:
    """<stem><suffix> in the output directory, made unique when two inputs share a stem."""
    names, taken = [], set()
    for document in documents:
        stem = Path(document).stem
        candidate, number = f"{stem}{suffix}", 2
        while candidate in taken:
            candidate, number = f"{stem}-{number}{suffix}", number + 1
        taken.add(candidate)
        names.append(os.path.join(directory, candidate))
    return names


def _write_json(data: object, path: str | None) -> None:
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if path is None or path == "-":
        click.echo(text, nl=False)
    else:
        Path(path).write_text(text, encoding="utf-8")


def build_cli(settings: Settings | None = None, *, lang: str | None = None, name: str = "budgetod",
              republish_all: Callable[[str, bool], int] | None = None) -> click.Group:
    """The command group; ``settings`` gives the defaults (CKAN gives its ini's), else
    ``Settings.from_environment()``; each command's flags override them.

    ``republish_all(lang, debug)``, given by CKAN, gives ``occult`` the option ``--all``: every
    TOTEM document the portal stores is republished occulted; it returns the exit status.
    """
    help_lang = _language(lang)

    def current_settings(**flags: Any) -> Settings:
        """The settings, with the command's flags given (not None nor empty) over them."""
        base = settings if settings is not None else Settings.from_environment()
        return base.replace(**{name: value for name, value in flags.items() if value not in (None, "")})

    @click.group(name=name, help=messages.text("cli_help", help_lang))
    @click.help_option(help=messages.text("cli_opt_help", help_lang))
    @click.option("--lang", type=click.Choice(messages.LANGUAGES), default=None,
                  help=messages.text("cli_opt_lang", help_lang))
    @click.pass_context
    def group(context: click.Context, lang: str | None) -> None:
        # meta is shared by the whole context chain, whoever owns ``obj`` (CKAN's own root group).
        context.meta[_LANG_META_KEY] = lang

    @group.command("convert", help=messages.text("cli_convert_help", help_lang))
    @click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=str))
    @click.option("-o", "--output", type=click.Path(path_type=str), default=None,
                  help=messages.text("cli_opt_output", help_lang))
    @click.option("--plans-de-comptes", "plans", default=None,
                  help=messages.text("cli_opt_plans", help_lang, default=DEFAULT_PLANS_BASE))
    @click.option("--report", type=click.Path(path_type=str), default=None,
                  help=messages.text("cli_opt_report", help_lang))
    @click.option("--schema", default=None, help=messages.text("cli_opt_schema", help_lang))
    @click.option("--max-bytes", type=click.IntRange(min=1), default=None,
                  help=messages.text("cli_opt_max_bytes", help_lang, default=DEFAULT_MAX_DOCUMENT_SIZE))
    @_common_options(help_lang)
    def convert(inputs: tuple[str, ...], output: str | None, plans: str | None, report: str | None,
                schema: str | None, max_bytes: int | None, lang: str | None, debug: bool) -> None:
        lang = _language(lang)
        settings = current_settings(plans_de_comptes=plans, scdl_schema=schema, max_document_size=max_bytes)
        documents = _documents(inputs)
        several = len(inputs) > 1 or os.path.isdir(inputs[0])
        to_directory = several or (output is not None and os.path.isdir(output))
        try:
            if not documents:
                raise _fail(", ".join(inputs), "cli_no_documents", lang)
            if to_directory:
                if output is None or os.path.isfile(output):
                    raise _fail(output or "-o", "cli_several_inputs_need_directory", lang)
                os.makedirs(output, exist_ok=True)
                outputs: Sequence[str | None] = _output_names(documents, output)
            else:
                outputs = [None if output in (None, "-") else output]
        except (BudgetodError, OSError, _Failure) as error:
            _report_error(error, output or "-o", lang, debug)
            sys.exit(EXIT_UNUSABLE)

        from ckanext.budgetod.core.pipeline import Pipeline  # the converter's modules: not for the help texts

        entries: list[Report] = []
        status = EXIT_OK
        pipeline = Pipeline(settings, local_paths=True)
        pairs = list(zip(documents, outputs, strict=True))
        show_progress = several and sys.stderr.isatty()
        with click.progressbar(pairs, label=messages.text("cli_progress", lang), file=sys.stderr) \
                if show_progress else contextlib.nullcontext(pairs) as progress:
            for document, target in progress:
                entry, outcome = _convert_one(document, target, pipeline, validate=report is not None,
                                              lang=lang, debug=debug, announce=not show_progress)
                entries.append(entry)
                status = max(status, outcome)
        if report is not None:
            try:
                _write_json(entries if several else entries[0], report)
            except OSError as error:
                _report_error(error, report, lang, debug)
                status = EXIT_UNUSABLE
        sys.exit(status)

    @group.command("validate", help=messages.text("cli_validate_help", help_lang))
    @click.argument("csv_file", type=click.Path(path_type=str))
    @click.option("--schema", default=None, help=messages.text("cli_opt_schema", help_lang))
    @click.option("--json", "as_json", is_flag=True, help=messages.text("cli_opt_json", help_lang))
    @_common_options(help_lang)
    def validate(csv_file: str, schema: str | None, as_json: bool, lang: str | None, debug: bool) -> None:
        lang = _language(lang)
        try:
            from ckanext.budgetod.core.scdl.validation import format_summary, validate_csv

            report = validate_csv(csv_file, current_settings(scdl_schema=schema))
            if as_json:
                _write_json(report.to_dict(), None)
            else:
                click.echo(format_summary(report, lang))
        except Exception as error:  # noqa: BLE001 - any failure is one line and exit 2
            _report_error(error, csv_file, lang, debug)
            sys.exit(EXIT_UNUSABLE)
        sys.exit(EXIT_OK if report.valid else EXIT_INVALID)

    @group.command("inspect", help=messages.text("cli_inspect_help", help_lang))
    @click.argument("totem_file", type=click.Path(path_type=str))
    @click.option("--max-bytes", type=click.IntRange(min=1), default=None,
                  help=messages.text("cli_opt_max_bytes", help_lang, default=DEFAULT_MAX_DOCUMENT_SIZE))
    @click.option("--rules", default=None, help=messages.text("cli_opt_rules", help_lang))
    @_common_options(help_lang)
    def inspect(totem_file: str, max_bytes: int | None, rules: str | None, lang: str | None, debug: bool) -> None:
        lang = _language(lang)
        settings = current_settings(max_document_size=max_bytes, occultation_rules=rules)
        try:
            from ckanext.budgetod.core.totem.occultation import load_rules, occult_document
            from ckanext.budgetod.core.totem.reader import inspect_document

            limit = settings.max_document_size
            info = inspect_document(totem_file, max_bytes=limit).to_dict()
            occultation = occult_document(totem_file, None, rules=load_rules(settings.occultation_rules or None),
                                          max_bytes=limit)
            info["occultation"] = occultation.to_dict()
            _write_json(info, None)
        except Exception as error:  # noqa: BLE001 - any failure is one line and exit 2
            _report_error(error, totem_file, lang, debug)
            sys.exit(EXIT_UNUSABLE)

    @click.argument("inputs", nargs=-1, type=click.Path(path_type=str))
    @click.option("-o", "--output", type=click.Path(path_type=str), default=None,
                  help=messages.text("cli_opt_occult_output", help_lang))
    @click.option("--rules", default=None, help=messages.text("cli_opt_rules", help_lang))
    @click.option("--max-bytes", type=click.IntRange(min=1), default=None,
                  help=messages.text("cli_opt_max_bytes", help_lang, default=DEFAULT_MAX_DOCUMENT_SIZE))
    @_common_options(help_lang)
    def occult(inputs: tuple[str, ...], output: str | None, rules: str | None, max_bytes: int | None,
               lang: str | None, debug: bool, all_stored: bool = False) -> None:
        lang = _language(lang)
        if all_stored and republish_all is not None:  # the option exists only with republish_all
            if inputs or output or rules or max_bytes:
                raise click.UsageError(messages.text("cli_occult_all_alone", lang))
            sys.exit(republish_all(lang, debug))
        if not inputs:
            raise click.UsageError(messages.text("cli_occult_needs_inputs", lang))
        settings = current_settings(max_document_size=max_bytes, occultation_rules=rules)
        documents = _documents(inputs)
        several = len(inputs) > 1 or os.path.isdir(inputs[0])
        try:
            from ckanext.budgetod.core.totem.occultation import load_rules

            loaded_rules = load_rules(settings.occultation_rules or None)
            if not documents:
                raise _fail(", ".join(inputs), "cli_no_documents", lang)
            if several or (output is not None and os.path.isdir(output)):
                if output is None or os.path.isfile(output):
                    raise _fail(output or "-o", "cli_several_inputs_need_directory", lang)
                os.makedirs(output, exist_ok=True)
                outputs: Sequence[str | None] = _output_names(documents, output, ".xml")
            else:
                outputs = [None if output in (None, "-") else output]
        except (BudgetodError, OSError, _Failure) as error:
            _report_error(error, output or rules or "-o", lang, debug)
            sys.exit(EXIT_UNUSABLE)
        status = EXIT_OK
        for document, target in zip(documents, outputs, strict=True):
            status = max(status, _occult_one(document, target, loaded_rules, max_bytes=settings.max_document_size,
                                             lang=lang, debug=debug))
        sys.exit(status)

    if republish_all is not None:
        occult = click.option("--all", "all_stored", is_flag=True,
                              help=messages.text("cli_opt_occult_all", help_lang))(occult)
    group.command("occult", help=messages.text("cli_occult_help", help_lang))(occult)

    return group


def _convert_one(document: str, target: str | None, pipeline: Pipeline, *, validate: bool, lang: str, debug: bool,
                 announce: bool = True) -> tuple[Report, int]:
    """Convert (and validate) one document; returns its report (``core/report.py``) and exit status.

    ``target`` None means standard output; validating then goes through a
    temporary file, since a stream cannot be read back. ``announce`` prints a
    line per converted file (not under a progress bar, which it would break).
    """
    import shutil
    import tempfile

    status = EXIT_OK
    stdout = sys.stdout.buffer
    converted_path = None  # validating to standard output: the CSV validated, then copied
    with contextlib.ExitStack() as stack:
        if target is not None:
            destination: str | BinaryIO = target
        elif validate:
            directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="budgetod-"))
            destination = converted_path = os.path.join(directory, "converted.csv")
        else:
            destination = stdout
        try:
            processed = pipeline.run(document, destination, validate=False)
        except BrokenPipeError:
            raise  # the reader of standard output went away: click ends quietly
        except Exception as error:  # noqa: BLE001 - one document's failure must not stop the others
            _report_error(error, document, lang, debug)
            return pipeline.failure(document, _as_budgetod_error(error, document)).report, EXIT_UNUSABLE
        result = processed.conversion
        assert result is not None, "a document the pipeline ran is converted"
        for warning in result.warnings:
            click.echo(f"warning: {document}: {warning.message(lang)}", err=True)
        if target is not None and announce:
            click.echo(messages.text("cli_converted", lang, source=document, output=target, rows=result.rows),
                       err=True)
        if validate:
            try:
                processed = pipeline.validated(processed)
                status = EXIT_OK if processed.valid else EXIT_INVALID
            except Exception as error:  # noqa: BLE001 - reported like a conversion failure
                _report_error(error, document, lang, debug)
                processed = pipeline.failure(document, _as_budgetod_error(error, document), converted=processed)
                status = EXIT_UNUSABLE
            if converted_path is not None:
                with open(converted_path, "rb") as converted:
                    shutil.copyfileobj(converted, stdout)
                # The CSV went to standard output, not to the temporary file the report names.
                conversion = processed.report["conversion"]
                if conversion is not None:
                    conversion["output"] = None
        stdout.flush()
    return processed.report, status


def _as_budgetod_error(error: BaseException, source: str) -> BudgetodError:
    """Any failure as an error the report can say in both languages."""
    if isinstance(error, BudgetodError):
        return error
    if isinstance(error, _Failure):  # said in the command's language already
        return BudgetodError(source, messages.Message("plain_text", text=error.line.removeprefix(f"{source}: ")))
    if isinstance(error, OSError):
        return BudgetodError(error.filename or source, messages.Message("plain_text", text=error.strerror or error))
    detail = str(error).splitlines()[0][:200] if str(error) else ""
    return BudgetodError(source, messages.Message("cli_unexpected_error", kind=type(error).__name__, detail=detail))


def _occult_one(document: str, target: str | None, rules: Rules, *, max_bytes: int, lang: str, debug: bool) -> int:
    """Occult one document into ``target`` (None: standard output); returns its exit status."""
    from ckanext.budgetod.core.totem.occultation import occult_document

    try:
        if target is not None and os.path.exists(target) and os.path.samefile(document, target):
            raise _fail(document, "cli_occult_same_file", lang)
        destination = target if target is not None else sys.stdout.buffer
        result = occult_document(document, destination, rules=rules, max_bytes=max_bytes)
    except BrokenPipeError:
        raise
    except Exception as error:  # noqa: BLE001 - one document's failure must not stop the others
        _report_error(error, document, lang, debug)
        return EXIT_UNUSABLE
    click.echo(messages.text("cli_occulted", lang, source=document, output=target or "-", total=result.total),
               err=True)
    return EXIT_OK


def _language_from_arguments(arguments: list[str]) -> str | None:
    """--lang must be known before click parses, since help texts are built first."""
    for index, argument in enumerate(arguments):
        if argument == "--lang" and index + 1 < len(arguments):
            return arguments[index + 1]
        if argument.startswith("--lang="):
            return argument.split("=", 1)[1]
    return None


def main(argv: list[str] | None = None) -> None:
    arguments = list(sys.argv[1:] if argv is None else argv)
    build_cli(lang=_language_from_arguments(arguments)).main(args=arguments, prog_name="budgetod")


if __name__ == "__main__":
    main()
