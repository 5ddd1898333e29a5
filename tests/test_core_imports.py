"""The CKAN-free core (ckanext/budgetod/core/) imports neither CKAN nor Flask nor SQLAlchemy, directly
or through another package, at import time or in a function's own import.

A fresh interpreter refuses those packages (an import hook that records every attempt, even one a
library catches), imports every core module, then runs every import statement written anywhere in
the core (those inside functions too, e.g. frictionless for validation), and finally looks at
sys.modules.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys

from tests.support.repository import REPOSITORY

CORE = REPOSITORY / "ckanext" / "budgetod" / "core"
FORBIDDEN = ("ckan", "flask", "sqlalchemy")

# Run in a fresh interpreter: argv[1] is the JSON list of (module, package, file, [(line, import statement)]).
_PROBE = r"""
import importlib, importlib.abc, json, sys, traceback

FORBIDDEN = set(sys.argv[2].split(","))
attempts = []


def importer():
    # The innermost frame outside importlib and this probe: who asked for the module.
    frame = sys._getframe(2)
    while frame is not None and (frame.f_code.co_filename.startswith("<") or "importlib" in frame.f_code.co_filename):
        frame = frame.f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame is not None else "?"


class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in FORBIDDEN:
            attempts.append({"module": name, "by": importer()})
            raise ImportError(f"{name} is refused in the CKAN-free core")
        return None


sys.meta_path.insert(0, Refuse())
failures = []
for module, package, path, statements in json.loads(sys.argv[1]):
    try:
        importlib.import_module(module)
    except Exception:
        failures.append({"module": module, "error": traceback.format_exc(limit=3)})
    for line, statement in statements:
        try:
            # Compiled at its own line of its own file, so that an attempt names where it is written.
            exec(compile("\n" * (line - 1) + statement, path, "exec"), {"__name__": module, "__package__": package})
        except Exception:
            failures.append({"module": module, "statement": statement, "error": traceback.format_exc(limit=3)})
loaded = sorted(name for name in sys.modules if name.split(".")[0] in FORBIDDEN)
print(json.dumps({"attempts": attempts, "failures": failures, "loaded": loaded}))
"""


def _core_modules() -> list[tuple[str, str, str, list[tuple[int, str]]]]:
    """(module name, its package, its file, the import statements written in it) of every core file."""
    modules = []
    for path in sorted(CORE.rglob("*.py")):
        parts = path.relative_to(REPOSITORY).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        package = name if is_package else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        statements = [(node.lineno, ast.unparse(node)) for node in ast.walk(tree)
                      if isinstance(node, (ast.Import, ast.ImportFrom))
                      and not (isinstance(node, ast.ImportFrom) and node.module == "__future__")]
        if not name.endswith("__main__"):  # running the command line is not importing it
            modules.append((name, package, str(path), statements))
    return modules


def _probe(modules) -> dict:
    completed = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(modules), ",".join(FORBIDDEN)],
                               cwd=REPOSITORY, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_the_core_is_every_module_under_core():
    names = {name for name, _package, _path, _statements in _core_modules()}
    # The walk finds the core's parts, and their lazily imported libraries.
    assert {"ckanext.budgetod.core.totem.reader", "ckanext.budgetod.core.scdl.validation",
            "ckanext.budgetod.core.net.fetch", "ckanext.budgetod.core.cli"} <= names
    statements = [statement for _name, _package, _path, found in _core_modules() for _line, statement in found]
    assert any("frictionless" in statement for statement in statements)


def test_the_core_imports_no_ckan_flask_or_sqlalchemy():
    outcome = _probe(_core_modules())
    assert outcome["attempts"] == [], "the CKAN-free core imports a CKAN-side package: " + json.dumps(
        outcome["attempts"], indent=1)
    assert outcome["failures"] == [], json.dumps(outcome["failures"], indent=1)
    assert outcome["loaded"] == []


def test_the_probe_catches_forbidden_imports():
    # Without this, a probe that saw nothing would pass the test above.
    statements = [(1, "import sqlalchemy.orm"), (2, "from flask import Flask"), (3, "import ckan.plugins")]
    outcome = _probe([("json", "", "<probe>", statements)])
    assert sorted(attempt["module"] for attempt in outcome["attempts"]) == ["ckan", "flask", "sqlalchemy"]
    assert len(outcome["failures"]) == 3


def test_converting_loads_neither_validation_nor_occultation():
    # `budgetod convert` without --report: start-up time and memory (docs/performance.md, issue 15).
    probe = ("import sys, ckanext.budgetod.core.cli, ckanext.budgetod.core.pipeline; "
             "print(' '.join(name for name in ('ckanext.budgetod.core.scdl.validation', "
             "'ckanext.budgetod.core.totem.occultation', 'frictionless', 're2') if name in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPOSITORY)
    assert loaded.stdout.split() == []
