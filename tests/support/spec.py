"""The published API description (``../shared/spec/baas-api.txt`` beside the repository, or $BAAS_SPEC_FILE), read the
way a client would: its curl commands, its JSON example and its Python example, as written."""

from __future__ import annotations

import ast
import contextlib
import os
import re
from pathlib import Path
from typing import Any

import orjson

SHARED_SPECS = Path(__file__).resolve().parents[2].parent / "shared" / "spec"


def spec_path(variable: str, name: str) -> Path:
    """A spec in shared/spec beside the repository (as in CI), unless ``$variable`` names
    another file."""
    return Path(os.environ.get(variable) or SHARED_SPECS / name)


SPEC_FILE = spec_path("BAAS_SPEC_FILE", "baas-api.txt")
SPEC_BASE_URL = "https://baas.dotquant.io"


def spec_text() -> str:
    return SPEC_FILE.read_text()


def curl_commands(text: str | None = None) -> list[str]:
    """Every command of the spec that starts a line with ``curl``, continuation lines and the
    multi-line ``-d '...'`` body included, exactly as printed."""
    lines = (text if text is not None else spec_text()).splitlines()
    commands = []
    i = 0
    while i < len(lines):
        if not lines[i].startswith("curl "):
            i += 1
            continue
        block = [lines[i]]
        while _open(block) and i + 1 < len(lines):
            i += 1
            block.append(lines[i])
        commands.append("\n".join(block))
        i += 1
    return commands


def _open(block: list[str]) -> bool:
    """Does the command go on: a trailing backslash, or a single quote not yet closed?"""
    text = "\n".join(block)
    return block[-1].rstrip().endswith("\\") or text.count("'") % 2 == 1


def trade_example(text: str | None = None) -> dict[str, Any]:
    """The JSON event of the "Submitting a Trade" section, with its ``<placeholders>``."""
    text = text if text is not None else spec_text()
    start = text.index("{", text.index("To submit a trade signal:"))
    end = text.index("\nField notes:", start)
    return orjson.loads(text[start:end])


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


def python_example(text: str | None = None) -> str:
    """The "Example — Python" program, from its ``import`` line to the end of the call."""
    text = text if text is not None else spec_text()
    start = text.index("import requests", text.index("Example — Python:"))
    source = text[start:]
    # The program ends where the requests.post(...) call closes: the longest prefix that parses.
    for end in range(len(source), 0, -1):
        if source[end - 1] == ")":
            with contextlib.suppress(SyntaxError):
                ast.parse(source[:end])
                return source[:end]
    raise AssertionError("no Python program found after 'Example — Python:' in the spec")


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


def retry_after_snippet(text: str | None = None) -> str:
    """The bash lines of "Handling 429 responses", from ``RESPONSE=`` to ``fi``."""
    text = text if text is not None else spec_text()
    match = re.search(r"^RESPONSE=.*?^fi$", text, re.MULTILINE | re.DOTALL)
    assert match, "no 429 snippet in the spec"
    return match.group(0)


def schema_listing(text: str | None = None) -> list[dict[str, Any]]:
    """The answer the spec shows for ``GET .../api/trading/schemas``."""
    text = text if text is not None else spec_text()
    start = text.index("[", text.index("List all schemas:"))
    end = text.index("]\n", text.index("}", start)) + 1
    return orjson.loads(text[start:end])
