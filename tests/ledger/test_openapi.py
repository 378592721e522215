"""The ledger's OpenAPI operations describe its routes exactly, and fit the gateway's document."""

from __future__ import annotations

import re

from gateway import openapi
from gateway.app import create_app
from gateway.ledger import LEDGER_OPERATIONS, LEDGER_ROUTES, LEDGER_SECURITY_SCHEMES
from gateway.openapi import route_operations


def test_ledger_operations_describe_every_ledger_route_and_nothing_else():
    assert route_operations(LEDGER_ROUTES) == set(LEDGER_OPERATIONS)


def test_ledger_operations_fit_beside_the_gateway_s():
    """Once merged into OPERATIONS they must be the same objects; otherwise nothing overlaps and
    operation ids stay unique."""
    merged = {**openapi.OPERATIONS, **LEDGER_OPERATIONS}
    for key, operation in LEDGER_OPERATIONS.items():
        assert openapi.OPERATIONS.get(key, operation) == operation
    ids = [op["operationId"] for op in merged.values() if "operationId" in op]
    assert len(ids) == len(set(ids))


def test_the_merged_document(monkeypatch):
    for key, operation in LEDGER_OPERATIONS.items():
        monkeypatch.setitem(openapi.OPERATIONS, key, operation)
    schemes = {**openapi.COMPONENTS["securitySchemes"], **LEDGER_SECURITY_SCHEMES}
    monkeypatch.setitem(openapi.COMPONENTS, "securitySchemes", schemes)
    app = create_app()
    document = openapi.document(app.routes)
    for path, method in LEDGER_OPERATIONS:
        operation = document["paths"][path][method]
        for requirement in operation.get("security", []):
            assert set(requirement) <= set(document["components"]["securitySchemes"])
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert declared == set(openapi_path_params(path)), path
        assert all(code.isdigit() for code in operation["responses"])


def openapi_path_params(path: str) -> list[str]:
    return re.findall(r"{(\w+)}", path)
