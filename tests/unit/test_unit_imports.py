"""tests/unit is the pure core's: no module of it imports baas.store, so `make test-fast` needs no
store."""

from __future__ import annotations

from tests.support.imports import imports_the_store
from tests.support.repo import REPO

UNIT = REPO / "tests" / "unit"


def test_no_unit_test_imports_the_store() -> None:
    importers = sorted(
        str(path.relative_to(REPO)) for path in UNIT.rglob("*.py") if imports_the_store(path)
    )
    assert not importers, (
        f"these unit tests import baas.store: move them out of tests/unit: {importers}"
    )
