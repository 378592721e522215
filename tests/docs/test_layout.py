"""docs/architecture.md's layout is the tree: every module of baas/, gateway/ and workers/ that git
tracks is named (or its folder's line says "every module in it"), and nothing named is gone.

An entry is a line of the layout block whose first word ends in ``/`` (a folder) or ``.py`` /
``.lua`` (a module); its indentation (two spaces a level) places it in the folder above. Other
lines continue the description before them. A folder's ``__init__.py`` goes with its folder."""

from __future__ import annotations

import subprocess

from tests.docs.snippets import ROOT

ARCHITECTURE = ROOT / "docs" / "architecture.md"
CHECKED = ("baas/", "gateway/", "workers/")
COVERS_ALL = "every module in it"


def layout_block() -> list[str]:
    text = ARCHITECTURE.read_text()
    section = text.split("\n## Layout\n", 1)[1]
    return section.split("\n```\n", 1)[1].split("\n```", 1)[0].split("\n")


def named_paths(lines: list[str]) -> tuple[set[str], set[str]]:
    """(every path named, the folders whose line covers every module in them)."""
    named: set[str] = set()
    covering: set[str] = set()
    parents: list[tuple[int, str]] = []  # (indentation, folder path)
    for line in lines:
        words = line.split()
        if not words or not words[0].endswith(("/", ".py", ".lua")):
            continue
        indent = len(line) - len(line.lstrip(" "))
        while parents and parents[-1][0] >= indent:
            parents.pop()
        path = (parents[-1][1] if parents else "") + words[0]
        named.add(path)
        if path.endswith("/"):
            parents.append((indent, path))
            if COVERS_ALL in line:
                covering.add(path)
    return named, covering


def tracked() -> list[str]:
    done = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout.split()


def test_the_layout_names_every_module():
    named, covering = named_paths(layout_block())
    modules = [p for p in tracked() if p.startswith(CHECKED) and p.endswith(".py")]
    unnamed = [
        module
        for module in modules
        if module not in named
        and not (module.endswith("/__init__.py") and module.removesuffix("__init__.py") in named)
        and not any(module.startswith(folder) for folder in covering)
    ]
    assert not unnamed, f"docs/architecture.md's layout does not name: {unnamed}"


def test_everything_the_layout_names_exists():
    named, _ = named_paths(layout_block())
    files = tracked()
    gone = sorted(
        path
        for path in named
        if not any(f == path or (path.endswith("/") and f.startswith(path)) for f in files)
    )
    assert not gone, f"docs/architecture.md's layout names what git does not track: {gone}"
