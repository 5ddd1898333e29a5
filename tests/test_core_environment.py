"""The core reads the environment in one place: the settings are built from it (the offline command
line's ``Settings.from_environment``) or from the portal's ini, then passed whole; no core function
falls back on an environment variable, nor builds settings of its own.

Read from the source (every ``os.environ``, ``os.getenv`` … and every ``Settings.from_*`` call of
every core module, by the function it is written in), so that a fallback added anywhere, even in a
branch no test runs, fails here.
"""
from __future__ import annotations

import ast

from tests.support.repository import REPOSITORY

CORE = REPOSITORY / "ckanext" / "budgetod" / "core"

ENVIRONMENT_READERS = frozenset({"environ", "environb", "getenv", "getenvb"})
# (module file under core/, function) that may read the environment, and why.
ENVIRONMENT_READ_IN = {
    ("settings.py", "Settings.from_environment"),  # the offline command line's settings
    ("settings.py", "Settings.from_ini"),  # the data.gouv.fr API key, a secret kept out of the ini
    ("messages.py", "current_language"),  # BUDGETOD_LANG: the language of messages, not a setting
}
SETTINGS_BUILDERS = frozenset({"from_environment", "from_ini"})
# Where settings are built: the command line, when CKAN has given none.
SETTINGS_BUILT_IN = {("cli.py", "build_cli.current_settings")}


def _uses(names: frozenset[str], is_call: bool) -> list[tuple[str, str, int]]:
    """(file under core/, enclosing function's dotted name, line) of each use of one of ``names``
    as an attribute (``os.environ``; a call of it when ``is_call``) or imported (``from os import getenv``)."""
    found: list[tuple[str, str, int]] = []
    for path in sorted(CORE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        _visit(tree, (), path.relative_to(CORE).as_posix(), names, is_call, found)
    return found


def _visit(node: ast.AST, scope: tuple[str, ...], relative: str, names: frozenset[str], is_call: bool,
           found: list[tuple[str, str, int]]) -> None:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        scope = (*scope, node.name)
    used = node.func if isinstance(node, ast.Call) else node
    if (isinstance(node, ast.Call) or not is_call) and isinstance(used, ast.Attribute) and used.attr in names:
        found.append((relative, ".".join(scope), node.lineno))
    if isinstance(node, ast.ImportFrom) and any(alias.name in names for alias in node.names):
        found.append((relative, ".".join(scope), node.lineno))
    for child in ast.iter_child_nodes(node):
        _visit(child, scope, relative, names, is_call, found)


def test_the_core_reads_the_environment_only_where_settings_are_built():
    reads = _uses(ENVIRONMENT_READERS, is_call=False)
    assert reads, "the scan finds nothing: it no longer sees the core"
    assert [read for read in reads if read[:2] not in ENVIRONMENT_READ_IN] == []


def test_no_core_function_builds_settings_of_its_own():
    builds = _uses(SETTINGS_BUILDERS, is_call=True)
    assert builds, "the scan finds nothing: it no longer sees the core"
    assert [build for build in builds if build[:2] not in SETTINGS_BUILT_IN] == []
