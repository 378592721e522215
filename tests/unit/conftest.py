"""The unit tests: the pure core, no store. A module that still imports baas.store is marked
``store`` (test_unit_imports.py lists them), and `make test-fast` leaves it out."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.imports import imports_the_store


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    importers: dict[Path, bool] = {}
    for item in items:
        path = item.path
        if path not in importers:
            importers[path] = imports_the_store(path)
        if importers[path]:
            item.add_marker(pytest.mark.store)
