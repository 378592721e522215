"""The published API descriptions and how the examples the suite runs are read out of them.

The documents live in ``../shared/spec/`` beside the repository (or at $BAAS_SPEC_FILE and
$LEDGER_SPEC_FILE) and are not part of it. The suite runs the examples stored in
``tests/support/spec_examples/``, so a clone without the documents runs every test;
``tests/unit/test_spec_documents.py`` checks those files against the documents when they are
present. After an edit of a document, ``python -m tests.support.spec_documents`` rewrites them.
"""

from __future__ import annotations

import ast
import contextlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

SHARED_SPECS = Path(__file__).resolve().parents[2].parent / "shared" / "spec"
EXAMPLES_DIR = Path(__file__).resolve().parent / "spec_examples"


def curl_commands(text: str) -> list[str]:
    """Every command that starts a line with ``curl``, continuation lines and the multi-line
    ``-d '...'`` body included, exactly as printed."""
    lines = text.splitlines()
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


def json_after(text: str, *anchors: str) -> Any:
    """The first JSON object printed after ``anchors``, each found after the one before."""
    at = 0
    for anchor in anchors:
        at = text.index(anchor, at) + len(anchor)
    start = text.index("{", at)
    depth = 0
    for end in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[end], 0)
        if depth == 0:
            return orjson.loads(text[start : end + 1])
    raise ValueError(f"no JSON after {anchors!r}")


def baas_examples(text: str) -> dict[str, Any]:
    """The examples of the BaaS API description that the suite runs."""
    return {
        "curl_commands": curl_commands(text),
        "python_example": _baas_python_example(text),
        "retry_after_snippet": _retry_after_snippet(text),
        "schema_listing": _schema_listing(text),
        "trade_example": _trade_example(text),
    }


def _trade_example(text: str) -> dict[str, Any]:
    """The JSON event of the "Submitting a Trade" section, with its ``<placeholders>``."""
    start = text.index("{", text.index("To submit a trade signal:"))
    end = text.index("\nField notes:", start)
    return orjson.loads(text[start:end])


def _baas_python_example(text: str) -> str:
    """The "Example — Python" program, from its ``import`` line to the end of the call."""
    start = text.index("import requests", text.index("Example — Python:"))
    source = text[start:]
    # The program ends where the requests.post(...) call closes: the longest prefix that parses.
    for end in range(len(source), 0, -1):
        if source[end - 1] == ")":
            with contextlib.suppress(SyntaxError):
                ast.parse(source[:end])
                return source[:end]
    raise AssertionError("no Python program found after 'Example — Python:' in the spec")


def _retry_after_snippet(text: str) -> str:
    """The bash lines of "Handling 429 responses", from ``RESPONSE=`` to ``fi``."""
    match = re.search(r"^RESPONSE=.*?^fi$", text, re.MULTILINE | re.DOTALL)
    assert match, "no 429 snippet in the spec"
    return match.group(0)


def _schema_listing(text: str) -> list[dict[str, Any]]:
    """The answer the spec shows for ``GET .../api/trading/schemas``."""
    start = text.index("[", text.index("List all schemas:"))
    end = text.index("]\n", text.index("}", start)) + 1
    return orjson.loads(text[start:end])


def ledger_examples(text: str) -> dict[str, Any]:
    """The examples of the ledger API description that the suite runs."""
    snapshot = "POST/strategies/{id}/positions/snapshot"
    performance = text.split("Response (abridged)")[1].split("Data Types")[0]
    return {
        "quick_start_curl": next(c for c in curl_commands(text) if c.startswith("curl -X POST")),
        "python_example": _ledger_python_example(text),
        "idempotency_bodies": [
            re.sub(r"\s*\n\s*", "", body)
            for body in re.findall(r"^curl … -d '(.*?)'", text, re.M | re.S)
        ],
        "key_request": json_after(text, "Generating a key", "api-keys"),
        "key_response": json_after(text, "Generating a key", "never retrievable again"),
        "snapshot_request": json_after(text, snapshot, "Request body"),
        "snapshot_response": json_after(text, snapshot, "Response"),
        "performance_keys": sorted(set(re.findall(r'"([a-z_]+)":', performance))),
        "details": [
            orjson.loads(m)["detail"] for m in re.findall(r'\{ "detail": "[^"]*" \}', text)
        ],
    }


def _ledger_python_example(text: str) -> str:
    """The Quick Start's Python program, from its import to its print."""
    start = text.index("import os, requests")
    end = text.index("print(resp.json())", start) + len("print(resp.json())")
    return text[start:end]


@dataclass(frozen=True)
class SpecDocument:
    """One published description: where it is, and the file its examples are stored in."""

    name: str
    variable: str
    extract: Callable[[str], dict[str, Any]]

    @property
    def path(self) -> Path:
        return Path(os.environ.get(self.variable) or SHARED_SPECS / f"{self.name}.txt")

    @property
    def examples_file(self) -> Path:
        return EXAMPLES_DIR / f"{self.name}.json"

    def stored_examples(self) -> dict[str, Any]:
        return orjson.loads(self.examples_file.read_bytes())


BAAS_API = SpecDocument("baas-api", "BAAS_SPEC_FILE", baas_examples)
LEDGER_API = SpecDocument("ledger-api", "LEDGER_SPEC_FILE", ledger_examples)
DOCUMENTS = (BAAS_API, LEDGER_API)


def write_examples() -> None:
    """Store the examples of every document present."""
    for document in DOCUMENTS:
        examples = document.extract(document.path.read_text())
        document.examples_file.write_bytes(
            orjson.dumps(examples, option=orjson.OPT_INDENT_2) + b"\n"
        )
        print(f"{document.examples_file}: from {document.path}")


if __name__ == "__main__":
    write_examples()
