"""The ```sh blocks of the docs, read the way a user reads them: in order, each with the answers
its comments promise (``# 202 {"id": "my-first-alert"}`` after a curl) or the reason it cannot
run here (``<!-- not run: needs Docker -->`` on the line before it)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DOCS_BASE_URL = "http://127.0.0.1:8000"

_NOT_RUN = re.compile(r"^<!--\s*not run:\s*(.*?)\s*-->$")
_ANSWER = re.compile(r"^#\s+(\d{3})(?:\s+(.*))?$")
# a curl that starts a command: at the line's start, in $( … ) or after a pipe
_CURL = re.compile(r"(?:^|\$\(|\|\s*)curl\s")


@dataclass(frozen=True)
class Answer:
    """What the doc promises for the curl call of index ``call`` within its block."""

    call: int
    status: int
    body: Any | None  # a JSON value to find in the answer, or None: the status alone is checked


@dataclass(frozen=True)
class Block:
    document: Path
    line: int  # of the opening fence, 1-based
    text: str
    not_run: str | None  # the reason it does not run here
    answers: tuple[Answer, ...]

    @property
    def where(self) -> str:
        return f"{self.document.relative_to(ROOT)}:{self.line}"


def blocks(document: Path) -> list[Block]:
    """Every ```sh block of ``document``, in document order."""
    lines = document.read_text().split("\n")
    found = []
    index = 0
    while index < len(lines):
        if lines[index].strip() != "```sh":
            index += 1
            continue
        start = index
        index += 1
        body = []
        while lines[index].strip() != "```":
            body.append(lines[index])
            index += 1
        before = lines[start - 1].strip() if start else ""
        reason = _NOT_RUN.match(before)
        text = "\n".join(body)
        found.append(
            Block(document, start + 1, text, reason.group(1) if reason else None, answers(text))
        )
        index += 1
    return found


def answers(text: str) -> tuple[Answer, ...]:
    """The ``# <status> [<json>]`` comment lines of a block, each tied to the curl before it."""
    promised = []
    calls = 0
    for line in text.split("\n"):
        stripped = line.strip()
        match = _ANSWER.match(stripped)
        if match and calls:
            promised.append(Answer(calls - 1, int(match.group(1)), _json_or_none(match.group(2))))
        elif not stripped.startswith("#"):
            calls += len(_CURL.findall(stripped))
    return tuple(promised)


def _json_or_none(text: str | None) -> Any | None:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None  # an outline such as {"id", "name", …}: the status alone is checked


def contains(actual: Any, expected: Any) -> bool:
    """``expected`` is found in ``actual``: an object's fields, recursively, a list's items in
    order at its start, a string ending in … as a prefix, anything else equal."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and contains(actual[key], value) for key, value in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) >= len(expected)
            and all(contains(a, e) for a, e in zip(actual, expected, strict=False))
        )
    if isinstance(expected, str) and expected.endswith("…"):
        return isinstance(actual, str) and actual.startswith(expected[:-1])
    return actual == expected
