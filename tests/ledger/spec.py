"""The ledger spec (``../shared/spec/ledger-api.txt`` beside the repository, or $LEDGER_SPEC_FILE) read the way a client
reads it: its curl commands, its Python example and its JSON examples, as printed."""

from __future__ import annotations

import re
from typing import Any

import orjson

from tests.support.spec import curl_commands, spec_path

SPEC_FILE = spec_path("LEDGER_SPEC_FILE", "ledger-api.txt")
SPEC_HOST = "https://botranks.ai"


def spec_text() -> str:
    return SPEC_FILE.read_text()


def quick_start_curl() -> str:
    """The Quick Start's curl command, continuation lines and -d body included."""
    return next(c for c in curl_commands(spec_text()) if c.startswith("curl -X POST"))


def python_example() -> str:
    """The Quick Start's Python program, from its import to its print."""
    text = spec_text()
    start = text.index("import os, requests")
    end = text.index("print(resp.json())", start) + len("print(resp.json())")
    return text[start:end]


def idempotency_bodies() -> list[str]:
    """The -d bodies of the Idempotency section's two curl calls (``curl … -d '…'``)."""
    return [
        re.sub(r"\s*\n\s*", "", body)
        for body in re.findall(r"^curl … -d '(.*?)'", spec_text(), re.M | re.S)
    ]


def json_after(*anchors: str) -> Any:
    """The first JSON object printed after ``anchors``, each found after the one before."""
    text = spec_text()
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


def detail_examples() -> list[str]:
    """Every ``{ "detail": "…" }`` the spec prints."""
    return [orjson.loads(m)["detail"] for m in re.findall(r'\{ "detail": "[^"]*" \}', spec_text())]
