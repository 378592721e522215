"""Reading the command schemas from their folder: ``<dir>/<name>/<version>.json``."""

from __future__ import annotations

from pathlib import Path

import orjson

from baas.core.catalog import SchemaCatalog


def load_catalog(folder: Path) -> SchemaCatalog:
    documents = {}
    for path in sorted(folder.glob("*/*.json")):
        documents[(path.parent.name, path.stem)] = orjson.loads(path.read_bytes())
    if not documents:
        raise FileNotFoundError(f"no command schemas under {folder}")
    return SchemaCatalog(documents)
