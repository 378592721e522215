"""Which ``baas`` modules a test module imports, read from its source (nothing is imported)."""

from __future__ import annotations

import ast
from pathlib import Path


def imported_modules(path: Path) -> set[str]:
    """The modules ``path`` imports, at any depth of its code (``from a import b``: a and a.b)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def imports_the_store(path: Path) -> bool:
    return any(
        name == "baas.store" or name.startswith("baas.store.") for name in imported_modules(path)
    )
