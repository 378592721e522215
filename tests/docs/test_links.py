"""Every relative link of README.md and docs/*.md leads somewhere: the file exists and, when the
link names a section, the file has a heading of that anchor (GitHub's way of making it)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.docs.snippets import DOCUMENTS, ROOT

_LINK = re.compile(r"\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^\s*```")


def prose(document: Path) -> list[str]:
    """The lines outside fenced blocks."""
    lines, fenced = [], False
    for line in document.read_text().split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def anchor(heading: str) -> str:
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(document: Path) -> set[str]:
    return {anchor(line.lstrip("#")) for line in prose(document) if re.match(r"^#{1,6} ", line)}


def test_every_relative_link_leads_to_a_file_and_a_heading():
    broken = []
    for document in DOCUMENTS:
        for line in prose(document):
            for target in _LINK.findall(line):
                if re.match(r"^[a-z]+:", target):
                    continue  # https:, mailto:
                path, _, section = target.partition("#")
                linked = (document.parent / path).resolve() if path else document
                where = f"{document.relative_to(ROOT)}: {target}"
                if not linked.exists():
                    broken.append(f"{where} (no such file)")
                elif section and section not in anchors(linked):
                    broken.append(f"{where} (no such heading)")
    assert not broken, "\n".join(broken)
