"""The tests' own layout (docs/development.md, Tests): helpers live in tests/support and are imported
from there, conftest.py files hold fixtures only, and one module finds the shared data."""
from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import textwrap

import pytest

from tests.support.repository import REPOSITORY

TESTS = REPOSITORY / "tests"
PYTHON_FILES = sorted([*TESTS.rglob("*.py"), *(REPOSITORY / "bench").glob("*.py")])


def parsed(path):
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def relative(path) -> str:
    return str(path.relative_to(REPOSITORY))


def test_tests_and_benches_import_only_the_support_modules_of_the_tests():
    wrong = []
    for path in PYTHON_FILES:
        for node in ast.walk(parsed(path)):
            if isinstance(node, ast.ImportFrom) and node.level:
                wrong.append(f"{relative(path)}:{node.lineno}: relative import")
            names = ([node.module] if isinstance(node, ast.ImportFrom) and node.module
                     else [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
            wrong += [f"{relative(path)}:{node.lineno}: {name}" for name in names
                      if (name == "tests" or name.startswith("tests.")) and not name.startswith("tests.support")]
    assert wrong == []


def is_fixture(node: ast.AST) -> bool:
    return any(ast.unparse(decorator).startswith("pytest.fixture")
               for decorator in getattr(node, "decorator_list", []))


@pytest.mark.parametrize("path", sorted(TESTS.rglob("conftest.py")), ids=relative)
def test_a_conftest_holds_fixtures_only(path):
    helpers = [f"{getattr(node, 'name', type(node).__name__)} (line {node.lineno})" for node in parsed(path).body
               if not (isinstance(node, (ast.Import, ast.ImportFrom)) or is_fixture(node)
                       or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)))]
    assert helpers == []


def test_only_the_support_modules_find_the_checkout_and_the_shared_data():
    finds_a_parent = re.compile(r"__file__\)\.resolve\(\)\.parents\[")
    finders = {relative(path) for path in PYTHON_FILES if finds_a_parent.search(path.read_text(encoding="utf-8"))}
    assert finders <= {"tests/support/repository.py", "tests/browser/portal_fixtures.py", "bench/locations.py"}
    skips = [relative(path) for path in TESTS.rglob("*.py")
             if path != TESTS / "test_layout.py" and "shared" in path.read_text(encoding="utf-8")
             and "skipif(not" in path.read_text(encoding="utf-8")]
    assert skips == []


@pytest.mark.parametrize("ci, outcome", [("true", "error"), ("", "skipped")])
def test_missing_shared_data_fails_under_ci_and_skips_elsewhere(tmp_path, ci, outcome):
    """A checkout without ../shared beside it: collection fails under CI=true, else the module is skipped."""
    checkout = tmp_path / "checkout"
    (checkout / "tests").mkdir(parents=True)
    (checkout / "tests" / "__init__.py").write_text("")
    support = checkout / "tests" / "support"
    support.mkdir()
    for name in ("__init__.py", "repository.py", "shared.py"):
        (support / name).write_text((TESTS / "support" / name).read_text(encoding="utf-8"))
    (checkout / "tests" / "test_uses_shared.py").write_text(textwrap.dedent("""\
        from tests.support.shared import CORPUS

        def test_corpus():
            assert CORPUS
        """))
    environment = {**os.environ, "CI": ci}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-p", "no:ckan",
                          "-p", "no:ckan_fixtures", "tests"], cwd=checkout, env=environment, capture_output=True,
                         text=True, timeout=120)
    missing = str(tmp_path / "shared" / "data")
    assert missing in run.stdout, run.stdout
    if outcome == "error":
        assert run.returncode != 0 and "1 error" in run.stdout, run.stdout
    else:
        # Nothing left to run: pytest says so by its exit status, and the skip says why.
        assert run.returncode == pytest.ExitCode.NO_TESTS_COLLECTED and "1 skipped" in run.stdout, run.stdout


def test_the_shared_data_is_found_beside_the_checkout():
    from tests.support import shared  # here: without the data, the other tests of this module still run

    beside_the_checkout = REPOSITORY.parent / "shared" / "data"
    assert beside_the_checkout == shared.SHARED_DATA
    assert shared.CORPUS and all(path.is_file() for path in shared.CORPUS)
