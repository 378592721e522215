"""The BaaS API description's examples, as a client copies them: its curl commands, its JSON
example and its Python example (stored in ``spec_examples/baas-api.json``; see
``tests.support.spec_documents``)."""

from __future__ import annotations

import ast
from typing import Any

import orjson

from tests.support.spec_documents import BAAS_API

SPEC_BASE_URL = "https://baas.dotquant.io"
EXAMPLES = BAAS_API.stored_examples()


def curl_commands() -> list[str]:
    """Every curl command of the description, continuation lines and ``-d '...'`` bodies
    included, exactly as printed."""
    return list(EXAMPLES["curl_commands"])


def trade_example() -> dict[str, Any]:
    """The JSON event of the "Submitting a Trade" section, with its ``<placeholders>``."""
    return orjson.loads(orjson.dumps(EXAMPLES["trade_example"]))


def fill_trade_example(
    tenant_id: str, alert_id: str, broker_id: str, signal_id: str, event_id: str | None = None
) -> dict[str, Any]:
    """The trade example with its placeholders replaced (and a fresh event id if given)."""
    raw = orjson.dumps(trade_example()).decode()
    for placeholder, value in {
        "<your-alert-id>": alert_id,
        "<your-tenant-id>": tenant_id,
        "<unique-signal-id>": signal_id,
        "<your-broker-id>": broker_id,
    }.items():
        raw = raw.replace(placeholder, value)
    event = orjson.loads(raw)
    if event_id is not None:
        event["id"] = event_id
    return event


def python_example() -> str:
    """The "Example — Python" program, from its ``import`` line to the end of the call."""
    return EXAMPLES["python_example"]


def capture_post_response(program: str, name: str = "resp") -> str:
    """The program with its bare ``requests.post(...)`` statement made ``<name> = ...``."""
    tree = ast.parse(program)
    for i, node in enumerate(tree.body):
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Attribute)
            and node.value.func.attr == "post"
        ):
            assign = ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=node.value)
            tree.body[i] = ast.copy_location(assign, node)
            return ast.unparse(ast.fix_missing_locations(tree))
    raise AssertionError("the spec's Python example has no requests.post(...) statement")


def retry_after_snippet() -> str:
    """The bash lines of "Handling 429 responses", from ``RESPONSE=`` to ``fi``."""
    return EXAMPLES["retry_after_snippet"]


def schema_listing() -> list[dict[str, Any]]:
    """The answer the description shows for ``GET .../api/trading/schemas``."""
    return EXAMPLES["schema_listing"]
