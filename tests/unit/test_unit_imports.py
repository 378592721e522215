"""tests/unit is the pure core's: its modules do not import baas.store, except those below, being
moved (the list may only shrink)."""

from __future__ import annotations

from tests.conftest import REPO
from tests.support.imports import imports_the_store

UNIT = REPO / "tests" / "unit"
STILL_IMPORTING_THE_STORE = {"tests/unit/ledger/test_ledger_nav_checkpoint.py"}


def test_no_unit_test_imports_the_store_but_the_listed() -> None:
    importers = {
        str(path.relative_to(REPO)) for path in UNIT.rglob("*.py") if imports_the_store(path)
    }
    assert importers == STILL_IMPORTING_THE_STORE, (
        "a module under tests/unit imports baas.store (move it out), or a listed one no longer "
        "does (take it off the list)"
    )
