"""conftest.py files hold fixtures (and pytest's hooks) only; the helpers test modules share live in
tests/support/, so no module imports a conftest."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.repo import REPO

TESTS = [*(REPO / "tests").rglob("*.py"), *(REPO / "bench").rglob("*.py")]


def _imports_a_conftest(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or "", *(f"{node.module}.{a.name}" for a in node.names)]
        else:
            continue
        if any(name.split(".")[-1] == "conftest" for name in names):
            return True
    return False


def _is_fixture(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if ast.unparse(target) == "pytest.fixture":
            return True
    return node.name.startswith("pytest_")


def _not_fixtures(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in tree.body:
        if (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not _is_fixture(node)
        ) or isinstance(node, ast.ClassDef):
            found.append(node.name)
    return [f"{path.relative_to(REPO)}: {name}" for name in found]


def test_no_module_imports_a_conftest() -> None:
    importers = sorted(str(p.relative_to(REPO)) for p in TESTS if _imports_a_conftest(p))
    assert not importers, f"import these helpers from tests/support/ instead: {importers}"


def test_conftest_files_hold_only_fixtures() -> None:
    found = [name for p in sorted(TESTS) if p.name == "conftest.py" for name in _not_fixtures(p)]
    assert not found, f"move these helpers to tests/support/: {found}"
