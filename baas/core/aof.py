"""The commands of an append-only file (RESP, as Valkey writes its ``.aof`` parts), read the way
Valkey loads them but stricter: each value must be followed by CRLF (Valkey skips those two bytes
without looking).

``find_damage`` says where the whole commands end and what follows them: a command cut short
(the file ends inside it: a write interrupted by a crash) or bytes that are no command.
``find_bad_event`` finds an event of the log that is not JSON: garbage written over a value keeps
the file's shape, so only the value's own format shows it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import orjson

CRLF = b"\r\n"
COUNT = re.compile(rb"[*$](0|[1-9][0-9]*)")
# What an unfinished header line can look like when the file ends inside it.
HEADER_PREFIX = re.compile(rb"([*$][0-9]*\r?|#[^\n]*)?")
SHOWN = 60


@dataclass(frozen=True)
class Damage:
    """Where a run of whole commands ends, and what follows."""

    truncated: bool  # the data ends inside a command; otherwise bytes that are no command follow
    offset: int  # the whole commands end here (the length to cut the data to)
    command: str  # the damaged command as far as it reads, e.g. "SET token" ("" if unreadable)


@dataclass(frozen=True)
class BadEvent:
    offset: int  # where the XADD command starts
    command: str  # e.g. "XADD baas:log:t1 1796678742035-0"


class _Broken(Exception):
    def __init__(self, truncated: bool, args: list[bytes]) -> None:
        self.truncated = truncated
        self.args_read = args
        self.at = 0  # where the broken command starts


def commands(data: bytes) -> Iterator[tuple[int, int, list[bytes]]]:
    """Each whole command: where it starts and ends, and its arguments. Raises ``_Broken``
    where the whole commands end."""
    pos = 0
    while pos < len(data):
        start = pos
        try:
            if data[pos : pos + 1] == b"#":  # an annotation line (aof-timestamp-enabled)
                pos = _annotation(data, pos)
                continue
            args, pos = _command(data, pos)
        except _Broken as broken:
            broken.at = start
            raise
        yield start, pos, args


def _annotation(data: bytes, pos: int) -> int:
    end = data.find(CRLF, pos)
    if end < 0:
        raise _Broken(True, [])
    return end + 2


def find_damage(data: bytes) -> Damage | None:
    """None if ``data`` is a sequence of whole commands (and ``#`` annotation lines)."""
    try:
        for _ in commands(data):
            pass
    except _Broken as broken:
        return Damage(broken.truncated, broken.at, describe(broken.args_read))
    return None


def find_bad_event(data: bytes) -> BadEvent | None:
    """The first ``XADD <key> <id> event <value> …`` whose value is not a JSON object (the data
    is whole commands: see ``find_damage``)."""
    for start, _, args in commands(data):
        if args[0].upper() != b"XADD":
            continue
        fields = dict(zip(args[3::2], args[4::2], strict=False))
        if b"event" in fields and not _json_object(fields[b"event"]):
            return BadEvent(start, f"{describe(args)} {args[2].decode('ascii', 'replace')}")
    return None


def _json_object(value: bytes) -> bool:
    try:
        return isinstance(orjson.loads(value), dict)
    except orjson.JSONDecodeError:
        return False


def _command(data: bytes, pos: int) -> tuple[list[bytes], int]:
    args: list[bytes] = []
    count, pos = _header(data, pos, b"*", args)
    if count < 1:
        raise _Broken(False, args)
    for _ in range(count):
        length, pos = _header(data, pos, b"$", args)
        end = pos + length
        if end + 2 > len(data):
            raise _Broken(CRLF.startswith(data[end:]), [*args, data[pos:end]])
        if data[end : end + 2] != CRLF:
            raise _Broken(False, [*args, data[pos:end]])
        args.append(data[pos:end])
        pos = end + 2
    return args, pos


def _header(data: bytes, pos: int, kind: bytes, args: list[bytes]) -> tuple[int, int]:
    end = data.find(CRLF, pos)
    if end < 0:
        raise _Broken(HEADER_PREFIX.fullmatch(data[pos:]) is not None, args)
    line = data[pos:end]
    if not line.startswith(kind) or not COUNT.fullmatch(line):
        raise _Broken(False, args)
    return int(line[1:]), end + 2


def describe(args: list[bytes]) -> str:
    """A command's name and key, printable and short: ``SET token`` (never a value: values
    hold secrets)."""
    words = [a.decode("utf-8", "replace") for a in args[:2]]
    if words:
        words[0] = words[0].upper()
    text = " ".join(words).strip()
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"
